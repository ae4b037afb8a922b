// TSPLIB95 reader and the sched-tsp --tsplib run (see tsplib.hpp).
#include "sched/tsplib.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <set>

#include "core/error.hpp"
#include "io/file.hpp"
#include "io/json.hpp"

namespace pw::sched {

namespace {

std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) a++;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) b--;
  return s.substr(a, b - a);
}

std::string upper(std::string s) {
  for (char& ch : s) ch = char(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}

// A cursor over the file's text that knows its line number for messages.
struct Reader {
  const std::string& text;
  const std::string& what;
  size_t p = 0;
  int line = 1;

  [[noreturn]] void fail(const std::string& reason) const {
    bad_input(what + ": line " + std::to_string(line) + ": " + reason);
  }
  bool at_end() const { return p >= text.size(); }
  // The next line, without its end; false at the end of the text.
  bool next_line(std::string& out) {
    if (at_end()) return false;
    const size_t e = text.find('\n', p);
    out = text.substr(p, e == std::string::npos ? std::string::npos : e - p);
    p = e == std::string::npos ? text.size() : e + 1;
    if (e != std::string::npos) line++;
    return true;
  }
  // The next whitespace-separated token across lines; "" at the end of the text.
  std::string next_token() {
    while (!at_end() && std::isspace(static_cast<unsigned char>(text[p]))) {
      if (text[p] == '\n') line++;
      p++;
    }
    const size_t a = p;
    while (!at_end() && !std::isspace(static_cast<unsigned char>(text[p]))) p++;
    return text.substr(a, p - a);
  }
};

// A decimal number as TSPLIB writes them (integers, fixed or exponent notation);
// refuses inf, nan, hexadecimal and trailing junk.
bool parse_number(const std::string& tok, double& v) {
  if (tok.empty() || tok.size() > 64) return false;
  for (char ch : tok)
    if (!(std::isdigit(static_cast<unsigned char>(ch)) || ch == '+' || ch == '-' || ch == '.' || ch == 'e' || ch == 'E'))
      return false;
  char* end = nullptr;
  v = std::strtod(tok.c_str(), &end);
  return end == tok.c_str() + tok.size() && std::isfinite(v);
}

// EOF, NODE_COORD_SECTION, ...: the start of what follows a section that ended early.
bool looks_like_keyword(const std::string& tok) {
  return !tok.empty() && std::all_of(tok.begin(), tok.end(), [](char ch) { return (ch >= 'A' && ch <= 'Z') || ch == '_'; });
}

// Reads the next number of a section of `count` numbers (`index` of them read so far).
double section_number(Reader& r, const char* section, size_t index, size_t count) {
  const std::string tok = r.next_token();
  double v = 0;
  if (parse_number(tok, v)) return v;
  if (tok.empty() || looks_like_keyword(tok))
    r.fail(std::string("short ") + section + ": expected " + std::to_string(count) + " numbers, found " +
           std::to_string(index));
  r.fail(std::string(section) + ": not a number: '" + tok.substr(0, 40) + "'");
}

Metric metric_of(const std::string& type, Reader& r) {
  if (type == "EUC_2D") return Metric::kEuc2d;
  if (type == "CEIL_2D") return Metric::kCeil2d;
  if (type == "ATT") return Metric::kAtt;
  if (type == "GEO") return Metric::kGeo;
  if (type == "MAN_2D") return Metric::kMan2d;
  if (type == "MAX_2D") return Metric::kMax2d;
  r.fail("unsupported EDGE_WEIGHT_TYPE '" + type +
         "' (supported: EUC_2D, CEIL_2D, ATT, GEO, MAN_2D, MAX_2D, EXPLICIT)");
}

// The cells of the n×n matrix an EXPLICIT format lists, in file order. The *_COL forms
// of a symmetric matrix list the same sequence as the opposite *_ROW forms.
void for_each_cell(const std::string& format, int n, const std::function<void(int, int)>& cell) {
  const std::string f = format == "UPPER_COL"        ? "LOWER_ROW"
                        : format == "LOWER_COL"      ? "UPPER_ROW"
                        : format == "UPPER_DIAG_COL" ? "LOWER_DIAG_ROW"
                        : format == "LOWER_DIAG_COL" ? "UPPER_DIAG_ROW"
                                                     : format;
  for (int i = 0; i < n; i++) {
    const int from = (f == "UPPER_ROW") ? i + 1 : (f == "UPPER_DIAG_ROW") ? i : 0;
    const int to = (f == "LOWER_ROW") ? i : (f == "LOWER_DIAG_ROW") ? i + 1 : n;  // exclusive
    for (int j = from; j < to; j++) cell(i, j);
  }
}

size_t cells_in(const std::string& format, int n) {
  size_t c = 0;
  for_each_cell(format, n, [&](int, int) { c++; });
  return c;
}

bool known_format(const std::string& f) {
  static const std::set<std::string> formats = {"FULL_MATRIX",    "UPPER_ROW",      "LOWER_ROW",
                                                "UPPER_DIAG_ROW", "LOWER_DIAG_ROW", "UPPER_COL",
                                                "LOWER_COL",      "UPPER_DIAG_COL", "LOWER_DIAG_COL"};
  return formats.count(f) > 0;
}

struct Parser {
  Reader r;
  TsplibInstance inst;
  std::string type;
  bool have_dimension = false, have_coords = false, have_weights = false, have_display = false, have_fixed = false;

  Parser(const std::string& text, const std::string& what) : r{text, what} {}

  int dimension_limit() const {
    return inst.edge_weight_type == "EXPLICIT" ? kTsplibMaxExplicitDimension : kTsplibMaxDimension;
  }

  void header(const std::string& key, const std::string& value) {
    if (key == "NAME") inst.name = value;
    else if (key == "COMMENT") inst.comment += (inst.comment.empty() ? "" : "\n") + value;
    else if (key == "TYPE") {
      // the type is the first word; what follows is a comment (si535: `TSP (M.~Hofmeister)`)
      const size_t space = value.find_first_of(" \t");
      type = upper(value.substr(0, space));
      if (space != std::string::npos) inst.comment += (inst.comment.empty() ? "" : "\n") + trim(value.substr(space));
      if (type != "TSP")
        r.fail("unsupported TYPE '" + value + "' (only TSP, the symmetric travelling salesman problem)");
    } else if (key == "DIMENSION") {
      double v = 0;
      if (!parse_number(value, v) || v != std::floor(v) || v < 1) r.fail("DIMENSION is not a positive integer: '" + value + "'");
      if (v > kTsplibMaxDimension) r.fail("DIMENSION " + value + " exceeds the limit of " + std::to_string(kTsplibMaxDimension));
      inst.dimension = int(v);
      have_dimension = true;
    } else if (key == "EDGE_WEIGHT_TYPE") {
      inst.edge_weight_type = upper(value);
      if (inst.edge_weight_type == "EXPLICIT") inst.explicit_weights = true;
      else inst.coords.metric = metric_of(inst.edge_weight_type, r);
    } else if (key == "EDGE_WEIGHT_FORMAT") {
      inst.edge_weight_format = upper(value);
      if (inst.edge_weight_format != "FUNCTION" && !known_format(inst.edge_weight_format))
        r.fail("unsupported EDGE_WEIGHT_FORMAT '" + value + "'");
    } else if (key == "NODE_COORD_TYPE") {
      const std::string v = upper(value);
      if (v != "TWOD_COORDS" && v != "NO_COORDS") r.fail("unsupported NODE_COORD_TYPE '" + value + "' (2-D only)");
    } else if (key == "DISPLAY_DATA_TYPE") {
      const std::string v = upper(value);
      if (v != "COORD_DISPLAY" && v != "TWOD_DISPLAY" && v != "NO_DISPLAY")
        r.fail("unknown DISPLAY_DATA_TYPE '" + value + "'");
    } else if (key == "EDGE_DATA_FORMAT" || key == "CAPACITY") {
      r.fail(key + " belongs to problems other than the symmetric TSP");
    } else {
      r.fail("unknown keyword '" + key + "'");
    }
  }

  void need_dimension(const char* section) {
    if (!have_dimension) r.fail(std::string(section) + " before DIMENSION");
    if (inst.dimension > dimension_limit())
      r.fail("DIMENSION " + std::to_string(inst.dimension) + " exceeds the limit of " +
             std::to_string(dimension_limit()) + " for " + inst.edge_weight_type);
  }

  // n lines "id x y" with ids 1..n, each once, in any order. Returns (x, y) by id.
  void read_points(const char* section, std::vector<double>* xs, std::vector<double>* ys) {
    const int n = inst.dimension;
    std::vector<char> seen(size_t(n), 0);
    if (xs) xs->assign(size_t(n), 0), ys->assign(size_t(n), 0);
    for (int k = 0; k < n; k++) {
      const double id = section_number(r, section, size_t(3 * k), size_t(3 * n));
      const double x = section_number(r, section, size_t(3 * k + 1), size_t(3 * n));
      const double y = section_number(r, section, size_t(3 * k + 2), size_t(3 * n));
      if (id != std::floor(id) || id < 1 || id > n) r.fail(std::string(section) + ": node id out of 1.." + std::to_string(n));
      const size_t i = size_t(id) - 1;
      if (seen[i]) r.fail(std::string(section) + ": node " + std::to_string(i + 1) + " given twice");
      seen[i] = 1;
      if (xs) (*xs)[i] = x, (*ys)[i] = y;
    }
  }

  void read_weights() {
    const int n = inst.dimension;
    const std::string& f = inst.edge_weight_format;
    if (!known_format(f)) r.fail("EDGE_WEIGHT_SECTION needs an EDGE_WEIGHT_FORMAT (FULL_MATRIX, UPPER_ROW, ...)");
    inst.matrix.n = n;
    inst.matrix.d.assign(size_t(n) * size_t(n), 0.0);
    std::vector<char> set(f == "FULL_MATRIX" ? size_t(n) * size_t(n) : 0, 0);
    const size_t count = cells_in(f, n);
    size_t index = 0;
    for_each_cell(f, n, [&](int i, int j) {
      const double w = section_number(r, "EDGE_WEIGHT_SECTION", index++, count);
      if (w < 0) r.fail("EDGE_WEIGHT_SECTION: negative weight " + std::to_string(w));
      if (i == j) return;  // the diagonal is listed but not used
      double& a = inst.matrix.d[size_t(i) * size_t(n) + size_t(j)];
      double& b = inst.matrix.d[size_t(j) * size_t(n) + size_t(i)];
      if (f == "FULL_MATRIX" && set[size_t(j) * size_t(n) + size_t(i)] && b != w)
        r.fail("FULL_MATRIX is not symmetric: weight(" + std::to_string(i + 1) + "," + std::to_string(j + 1) +
               ") != weight(" + std::to_string(j + 1) + "," + std::to_string(i + 1) + ")");
      if (!set.empty()) set[size_t(i) * size_t(n) + size_t(j)] = 1;
      a = b = w;
    });
  }

  // Pairs of node ids, ended by -1; the edges must fit on one tour.
  void read_fixed_edges() {
    const int n = inst.dimension;
    const char* s = "FIXED_EDGES_SECTION";
    auto node = [&](const std::string& tok) {
      double v = 0;
      if (!parse_number(tok, v)) r.fail(std::string(s) + ": not a node id: '" + tok.substr(0, 40) + "'");
      if (v != std::floor(v) || v < 1 || v > n) r.fail(std::string(s) + ": node id " + tok.substr(0, 40) + " out of 1.." + std::to_string(n));
      return int(v) - 1;
    };
    while (true) {
      const std::string a = r.next_token();
      if (a == "-1") break;
      if (a.empty() || looks_like_keyword(a)) r.fail(std::string(s) + ": missing the -1 that ends it");
      const std::string b = r.next_token();
      if (b.empty() || b == "-1" || looks_like_keyword(b)) r.fail(std::string(s) + ": node " + a.substr(0, 40) + " without a second node");
      if (inst.fixed_edges.size() >= size_t(n)) r.fail(std::string(s) + ": more than " + std::to_string(n) + " edges");
      inst.fixed_edges.emplace_back(node(a), node(b));
    }
    if (const std::string why = fixed_edges_problem(n, inst.fixed_edges, true); !why.empty())
      r.fail(std::string(s) + ": " + why);
  }

  void section(const std::string& key) {
    if (key == "NODE_COORD_SECTION") {
      need_dimension("NODE_COORD_SECTION");
      if (have_coords) r.fail("NODE_COORD_SECTION given twice");
      read_points("NODE_COORD_SECTION", &inst.coords.x, &inst.coords.y);
      have_coords = true;
    } else if (key == "EDGE_WEIGHT_SECTION") {
      if (!inst.explicit_weights) r.fail("EDGE_WEIGHT_SECTION without EDGE_WEIGHT_TYPE: EXPLICIT");
      need_dimension("EDGE_WEIGHT_SECTION");
      if (have_weights) r.fail("EDGE_WEIGHT_SECTION given twice");
      read_weights();
      have_weights = true;
    } else if (key == "FIXED_EDGES_SECTION") {
      need_dimension("FIXED_EDGES_SECTION");
      if (have_fixed) r.fail("FIXED_EDGES_SECTION given twice");
      read_fixed_edges();
      have_fixed = true;
    } else if (key == "DISPLAY_DATA_SECTION") {
      need_dimension("DISPLAY_DATA_SECTION");
      if (have_display) r.fail("DISPLAY_DATA_SECTION given twice");
      read_points("DISPLAY_DATA_SECTION", nullptr, nullptr);
      have_display = true;
    } else {
      r.fail("unsupported section " + key);
    }
  }

  void check_complete() {
    if (!have_dimension) r.fail("missing DIMENSION");
    if (inst.edge_weight_type.empty()) r.fail("missing EDGE_WEIGHT_TYPE");
    if (inst.explicit_weights && !have_weights) r.fail("missing EDGE_WEIGHT_SECTION");
    if (!inst.explicit_weights && !have_coords) r.fail("missing NODE_COORD_SECTION");
  }

  TsplibInstance parse() {
    std::string line;
    while (r.next_line(line)) {
      const std::string t = trim(line);
      if (t.empty()) continue;
      const size_t colon = t.find(':');
      const std::string key = upper(trim(t.substr(0, colon)));
      const std::string value = colon == std::string::npos ? "" : trim(t.substr(colon + 1));
      if (key == "EOF") break;
      if (key.size() > 8 && key.compare(key.size() - 8, 8, "_SECTION") == 0) {
        if (!value.empty()) r.fail("unexpected text after " + key);
        section(key);
        continue;
      }
      if (colon == std::string::npos) r.fail("expected 'KEY: value', found '" + t.substr(0, 40) + "'");
      header(key, value);
    }
    check_complete();
    return std::move(inst);
  }
};

// Integral lengths (every TSPLIB metric) print as integers, others with 17 digits.
std::string number(double v) {
  char b[40];
  if (v == std::floor(v) && std::fabs(v) < 9e15) std::snprintf(b, sizeof b, "%.0f", v);
  else std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

}  // namespace

TsplibInstance parse_tsplib(const std::string& text, const std::string& what) {
  Parser p(text, what);
  return p.parse();
}

TsplibInstance read_tsplib(const std::string& path) {
  const Bytes b = read_file(path, kTsplibFileLimit, path);
  return parse_tsplib(std::string(b.begin(), b.end()), path == "-" ? "stdin" : path);
}

TsplibRun run_tsplib(const std::string& path, bool closed, uint64_t seed, double time_limit_s, int64_t kicks) {
  const auto t0 = std::chrono::steady_clock::now();
  const TsplibInstance inst = read_tsplib(path);
  TspOptions o;
  o.closed = closed;
  o.seed = seed;
  o.time_limit_s = time_limit_s;
  o.kicks = kicks;
  o.fixed_edges = inst.fixed_edges;
  if (const std::string why = fixed_edges_problem(inst.dimension, o.fixed_edges, closed); !why.empty())
    bad_input((path == "-" ? "stdin" : path) + ": fixed edges: " + why);
  TsplibRun run;
  run.name = inst.name;
  run.dimension = inst.dimension;
  run.closed = closed;
  run.seed = seed;
  run.result = inst.explicit_weights ? solve_tsp(inst.matrix, o) : solve_tsp(inst.coords, o);
  // Never print a tour that is not one: a permutation, whose length we sum again here.
  if (!is_permutation_of(run.result.tour, inst.dimension)) internal_error("solver returned a tour that is not a permutation");
  double len = 0;
  const auto& t = run.result.tour;
  for (size_t i = 1; i < t.size(); i++) len += inst.distance(t[i - 1], t[i]);
  if (closed && t.size() > 1) len += inst.distance(t.back(), t.front());
  if (len != run.result.length) internal_error("tour length mismatch: " + number(len) + " != " + number(run.result.length));
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return run;
}

std::string format_tsplib_run(const TsplibRun& r, bool json) {
  std::string o;
  if (!json) {
    o = "length " + number(r.result.length) + "\n";
    for (int v : r.result.tour) o += std::to_string(v + 1) + "\n";
    return o;
  }
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.3f", r.seconds);
  o = "{\"name\":" + json_string(r.name) + ",\"dimension\":" + std::to_string(r.dimension) +
      ",\"closed\":" + (r.closed ? "true" : "false") + ",\"length\":" + number(r.result.length) + ",\"tour\":[";
  for (size_t i = 0; i < r.result.tour.size(); i++) o += (i ? "," : "") + std::to_string(r.result.tour[i] + 1);
  o += std::string("],\"optimal_known\":") + (r.result.exact ? "true" : "false") + ",\"seconds\":" + secs +
       ",\"seed\":" + std::to_string(r.seed) + ",\"kicks\":" + std::to_string(r.result.kicks_done) +
       ",\"time_capped\":" + (r.result.time_capped ? "true" : "false") + "}\n";
  return o;
}

}  // namespace pw::sched
