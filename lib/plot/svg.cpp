#include "plot/svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/error.hpp"

namespace pw::plot {

namespace {

constexpr double kMargin = 12;        // around the figure, px
constexpr double kTitleHeight = 36;   // the figure's title band
constexpr double kCaptionLine = 16;   // px per caption line
constexpr double kLegendRow = 16;
constexpr double kRightMargin = 28;   // room for the last x label's overhang
constexpr double kOverhang = 26;      // how far a label may reach past its axis's end, px

double char_px(double size = kFontSize) { return size * kCharWidth; }
double text_px(const std::string& s, double size = kFontSize) { return double(s.size()) * char_px(size); }

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
    }
  }
  return o;
}

const char* kMono = "DejaVu Sans Mono,Liberation Mono,monospace";
const char* kSans = "DejaVu Sans,Liberation Sans,sans-serif";

std::string text(double x, double y, const std::string& s, const char* anchor, double size = kFontSize,
                 const char* family = kMono, const std::string& extra = "") {
  return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" font-family=\"" + family + "\" font-size=\"" + num(size) +
         "\" text-anchor=\"" + anchor + "\"" + extra + ">" + escape(s) + "</text>\n";
}

bool finite(double v) { return std::isfinite(v); }

// Ticks at `values` with their labels; empty when two labels overlap or a label reaches
// too far past the axis.
std::vector<Tick> place(const Scale& s, bool horizontal, const std::vector<double>& values, double step) {
  std::vector<Tick> out;
  const double amin = std::min(s.px0, s.px1), amax = std::max(s.px0, s.px1);
  for (double v : values) {
    Tick t{v, s.px(v), tick_label(v, step, s.log), 0, 0};
    const double half = horizontal ? text_px(t.label) / 2 : kFontSize / 2;
    t.from = t.pos - half, t.to = t.pos + half;
    if (t.from < amin - kOverhang || t.to > amax + kOverhang) continue;
    out.push_back(std::move(t));
  }
  std::sort(out.begin(), out.end(), [](const Tick& a, const Tick& b) { return a.pos < b.pos; });
  for (size_t i = 1; i < out.size(); i++)
    if (out[i].from < out[i - 1].to + kLabelGap) return {};
  return out;
}

}  // namespace

double Scale::px(double v) const {
  double t;
  if (log) {
    if (!(v > 0)) return px0;
    t = (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
  } else {
    t = (v - lo) / (hi - lo);
  }
  t = std::clamp(t, -0.01, 1.01);  // outliers sit at the edge, visible, not off the panel
  return px0 + t * (px1 - px0);
}

Scale fit_range(const std::vector<double>& values, bool log, const std::vector<double>& include) {
  Scale s;
  s.log = log;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  auto take = [&](double v) {
    if (!finite(v) || (log && !(v > 0))) return;
    lo = std::min(lo, v), hi = std::max(hi, v);
  };
  for (double v : values) take(v);
  for (double v : include) take(v);
  if (log) {
    if (!(lo <= hi)) lo = 0.1, hi = 10;
    double a = std::floor(std::log10(lo)), b = std::ceil(std::log10(hi));
    a = std::max(a, -300.0), b = std::min(b, 300.0);
    if (b <= a) b = a + 1;
    s.lo = std::pow(10.0, a), s.hi = std::pow(10.0, b);
    return s;
  }
  if (!(lo <= hi)) lo = 0, hi = 1;
  if (hi == lo) {
    const double d = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= d, hi += d;
  }
  const double m = (hi - lo) * 0.05;
  s.lo = (lo >= 0 && lo - m < 0) ? 0 : lo - m;
  s.hi = hi + m;
  return s;
}

std::string tick_label(double v, double step, bool log) {
  if (v == 0) return "0";
  char b[48];
  const double mag = std::floor(std::log10(std::fabs(v)));
  const bool sci = std::fabs(v) >= 1e6 || std::fabs(v) < 1e-3 || (log && (mag > 4 || mag < -3));
  const double st = log ? std::fabs(v) : std::fabs(step);
  const int below = int(std::floor(std::log10(st) + 1e-9));  // the step's decade
  if (sci) {
    const int digits = std::clamp(int(mag) - below, 0, 12);
    std::snprintf(b, sizeof b, "%.*e", digits, v);
    std::string s = b;
    const size_t e = s.find('e');
    std::string mant = s.substr(0, e), ex = s.substr(e + 1);
    const bool neg = ex[0] == '-';
    ex = ex.substr(1);
    while (ex.size() > 1 && ex[0] == '0') ex = ex.substr(1);
    return mant + "e" + (neg ? "-" : "") + ex;
  }
  std::snprintf(b, sizeof b, "%.*f", std::clamp(-below, 0, 12), v);
  return b;
}

std::vector<Tick> axis_ticks(const Scale& s, bool horizontal, bool integer) {
  const double len = std::fabs(s.px1 - s.px0);
  if (!(len > 0) || !(s.hi > s.lo)) return {};
  const double room = (horizontal ? char_px() * 2 : kFontSize) + kLabelGap;  // the least a label needs
  const size_t most = size_t(len / room) + 2;
  if (s.log) {
    const int a = int(std::ceil(std::log10(s.lo) - 1e-9)), b = int(std::floor(std::log10(s.hi) + 1e-9));
    if (b - a <= 3) {  // a few decades: 1, 2, 5 in each, where they fit
      std::vector<double> vs;
      for (int e = a - 1; e <= b; e++)
        for (double m : {1.0, 2.0, 5.0}) {
          const double v = m * std::pow(10.0, e);
          if (v >= s.lo * (1 - 1e-9) && v <= s.hi * (1 + 1e-9)) vs.push_back(v);
        }
      if (vs.size() <= most) {
        auto t = place(s, horizontal, vs, 0);
        if (t.size() >= 2) return t;
      }
    }
    for (int d : {1, 2, 3, 5, 10, 20, 50, 100}) {
      std::vector<double> vs;
      for (int e = a; e <= b; e++)
        if (((e % d) + d) % d == 0) vs.push_back(std::pow(10.0, e));
      if (vs.size() > most) continue;
      auto t = place(s, horizontal, vs, 0);
      if (!t.empty() || vs.empty()) return t;
    }
    return {};
  }
  const double range = s.hi - s.lo;
  const int e0 = int(std::floor(std::log10(range / double(most))));
  for (int e = e0; e <= e0 + 24; e++)
    for (double m : {1.0, 2.0, 5.0}) {
      const double step = m * std::pow(10.0, e);
      if (integer && step < 1) continue;
      const double first = std::ceil(s.lo / step - 1e-9);
      const double count = std::floor(s.hi / step + 1e-9) - first + 1;
      if (count > double(most)) continue;
      std::vector<double> vs;
      for (double k = 0; k < count; k++) {
        const double v = (first + k) * step;
        vs.push_back(std::fabs(v) < step * 1e-9 ? 0 : v);
      }
      auto t = place(s, horizontal, vs, step);
      if (!t.empty()) return t;
    }
  return {};
}

std::vector<std::vector<Point>> decimate_line(const std::vector<double>& x, const std::vector<double>& y,
                                              const Scale& sx, const Scale& sy) {
  std::vector<std::vector<Point>> runs;
  std::vector<Point> cur;
  // The column being gathered: indexes into cur of its first, lowest, highest points.
  long col = std::numeric_limits<long>::min();
  Point first{}, low{}, high{}, last{};
  size_t first_i = 0, low_i = 0, high_i = 0;
  bool open = false;
  auto flush = [&] {
    if (!open) return;
    std::vector<std::pair<size_t, Point>> keep = {{first_i, first}, {low_i, low}, {high_i, high}};
    std::sort(keep.begin(), keep.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    size_t prev = size_t(-1);
    for (const auto& k : keep)
      if (k.first != prev) cur.push_back(k.second), prev = k.first;
    if (cur.back().x != last.x || cur.back().y != last.y) cur.push_back(last);
    open = false;
  };
  const size_t n = std::min(x.size(), y.size());
  for (size_t i = 0; i < n; i++) {
    if (!finite(x[i]) || !finite(y[i]) || (sy.log && !(y[i] > 0))) {
      flush();
      if (!cur.empty()) runs.push_back(std::move(cur)), cur.clear();
      col = std::numeric_limits<long>::min();
      continue;
    }
    const Point p{sx.px(x[i]), sy.px(y[i])};
    const long c = long(std::floor(p.x));
    if (!open || c != col) {
      flush();
      col = c, open = true;
      first = low = high = last = p;
      first_i = low_i = high_i = i;
      continue;
    }
    if (p.y < low.y) low = p, low_i = i;
    if (p.y > high.y) high = p, high_i = i;
    last = p;
  }
  flush();
  if (!cur.empty()) runs.push_back(std::move(cur));
  return runs;
}

std::vector<Span> decimate_points(const std::vector<double>& x, const std::vector<double>& y, const Scale& sx,
                                  const Scale& sy) {
  std::vector<Span> cols;  // sorted by column after the pass
  const size_t n = std::min(x.size(), y.size());
  std::vector<std::pair<long, double>> pts;
  pts.reserve(n);
  for (size_t i = 0; i < n; i++) {
    if (!finite(x[i]) || !finite(y[i]) || (sy.log && !(y[i] > 0))) continue;
    pts.push_back({long(std::floor(sx.px(x[i]))), sy.px(y[i])});
  }
  std::sort(pts.begin(), pts.end());
  for (size_t i = 0; i < pts.size();) {
    size_t j = i;
    double lo = pts[i].second, hi = pts[i].second;
    while (j < pts.size() && pts[j].first == pts[i].first) lo = std::min(lo, pts[j].second), hi = std::max(hi, pts[j].second), j++;
    cols.push_back({double(pts[i].first) + 0.5, lo, hi});
    i = j;
  }
  return cols;
}

const std::string& palette(size_t i) {
  static const std::vector<std::string> colors = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b",
                                                  "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79"};
  return colors[i % colors.size()];
}

std::vector<std::string> wrap(const std::string& textv, size_t chars) {
  std::vector<std::string> lines;
  chars = std::max<size_t>(chars, 8);
  std::string rest = textv;
  while (rest.size() > chars) {
    size_t cut = rest.rfind(' ', chars);
    if (cut == std::string::npos || cut == 0) cut = chars;
    lines.push_back(rest.substr(0, cut));
    rest = rest.substr(cut);
    while (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
  }
  if (!rest.empty() || lines.empty()) lines.push_back(rest);
  return lines;
}

namespace {

size_t caption_chars(const Figure& f) { return size_t((f.width - 2 * kMargin) / char_px()); }

double caption_height(const Figure& f) {
  size_t n = 0;
  for (const auto& p : f.caption) n += wrap(p, caption_chars(f)).size();
  return n ? double(n) * kCaptionLine + 8 : 0;
}

size_t rows_of(const Figure& f) {
  const size_t cols = size_t(std::max(1, f.columns));
  return (f.panels.size() + cols - 1) / cols;
}

struct LegendItem {
  std::string label, color;
  int kind;  // 0 line, 1 dot, 2 dashed, 3 band
};

std::vector<LegendItem> legend_of(const Panel& p) {
  std::vector<LegendItem> items;
  for (const auto& s : p.series)
    if (!s.label.empty()) items.push_back({s.label, s.color, s.style == Style::Line ? 0 : 1});
  for (const auto& h : p.hlines)
    if (!h.label.empty()) items.push_back({h.label, h.color, h.dashed ? 2 : 0});
  if (!p.marks.empty() && !p.mark_label.empty()) items.push_back({p.mark_label, "#d62728", 3});
  return items;
}

// Rows of the legend within `width`: item i goes in row[i].
std::vector<int> legend_rows(const std::vector<LegendItem>& items, double width, double* item_x) {
  std::vector<int> row(items.size());
  double x = 0;
  int r = 0;
  for (size_t i = 0; i < items.size(); i++) {
    const double w = 22 + text_px(items[i].label) + 14;
    if (x > 0 && x + w > width) x = 0, r++;
    row[i] = r, item_x[i] = x;
    x += w;
  }
  return row;
}

// `legend_h`: the tallest legend in the panel's row, so the plots of a row line up.
void draw_panel(std::string& out, const Panel& p, double cx, double cy, double cw, double ch, double legend_h, int id) {
  out += text(cx + cw / 2, cy + 16, p.title, "middle", kTitleSize, kSans, " font-weight=\"bold\"");
  const auto items = legend_of(p);
  std::vector<double> ix(items.size());
  const auto rows = legend_rows(items, cw - 16, ix.data());
  const double top = cy + 24 + legend_h + 6;
  const double bottom = cy + ch - (kFontSize + 8 + kTitleSize + 10);
  if (bottom - top < 40) usage_error("the figure is too small for its panels; give a larger --height");
  for (size_t i = 0; i < items.size(); i++) {
    const double lx = cx + 8 + ix[i], ly = cy + 24 + rows[i] * kLegendRow + 8;
    const auto& it = items[i];
    if (it.kind == 3)
      out += "<rect x=\"" + num(lx) + "\" y=\"" + num(ly - 5) + "\" width=\"16\" height=\"10\" fill=\"" + it.color +
             "\" fill-opacity=\"0.25\"/>\n";
    else if (it.kind == 1)
      out += "<circle cx=\"" + num(lx + 8) + "\" cy=\"" + num(ly) + "\" r=\"3\" fill=\"" + it.color + "\"/>\n";
    else
      out += "<line x1=\"" + num(lx) + "\" y1=\"" + num(ly) + "\" x2=\"" + num(lx + 16) + "\" y2=\"" + num(ly) +
             "\" stroke=\"" + it.color + "\" stroke-width=\"2\"" + (it.kind == 2 ? " stroke-dasharray=\"4,3\"" : "") +
             "/>\n";
    out += text(lx + 22, ly + 4, it.label, "start");
  }

  // The y axis first: its labels' width sets the left margin.
  std::vector<double> ys = p.y_include;
  for (const auto& s : p.series) {
    ys.insert(ys.end(), s.y.begin(), s.y.end());
    ys.insert(ys.end(), s.y2.begin(), s.y2.end());
  }
  for (const auto& h : p.hlines) ys.push_back(h.y);
  Scale sy = fit_range(ys, p.log_y);
  sy.px0 = bottom, sy.px1 = top;
  std::vector<Tick> yt;
  if (p.y_ticks.empty()) {
    yt = axis_ticks(sy, false, p.integer_y);
  } else {
    for (const auto& [v, l] : p.y_ticks) yt.push_back({v, sy.px(v), l, sy.px(v) - kFontSize / 2, sy.px(v) + kFontSize / 2});
  }
  double label_w = 0;
  for (const auto& t : yt) label_w = std::max(label_w, text_px(t.label));
  const double left = cx + 8 + kTitleSize + 6 + label_w + 6, right = cx + cw - kRightMargin;
  if (right - left < 60) usage_error("the figure is too narrow for its panels; give a larger --width");

  Scale sx;
  if (p.x_hi > p.x_lo) {
    sx.lo = p.x_lo, sx.hi = p.x_hi;
  } else {
    std::vector<double> xs = p.marks;
    for (const auto& s : p.series) xs.insert(xs.end(), s.x.begin(), s.x.end());
    sx = fit_range(xs, false);
  }
  sx.px0 = left, sx.px1 = right;
  const auto xt = axis_ticks(sx, true, p.integer_x);

  out += "<rect x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" + num(right - left) + "\" height=\"" +
         num(bottom - top) + "\" fill=\"#fcfcfc\" stroke=\"#333\"/>\n";
  for (const auto& t : yt) {
    out += "<line x1=\"" + num(left) + "\" y1=\"" + num(t.pos) + "\" x2=\"" + num(right) + "\" y2=\"" + num(t.pos) +
           "\" stroke=\"#e4e4e4\"/>\n";
    out += text(left - 5, t.pos + kFontSize * 0.35, t.label, "end");
  }
  for (const auto& t : xt) {
    out += "<line x1=\"" + num(t.pos) + "\" y1=\"" + num(top) + "\" x2=\"" + num(t.pos) + "\" y2=\"" + num(bottom) +
           "\" stroke=\"#e4e4e4\"/>\n";
    out += text(t.pos, bottom + 4 + kFontSize, t.label, "middle");
  }
  out += text((left + right) / 2, cy + ch - 6, p.x_label, "middle", kTitleSize - 1, kSans);
  const double yl = cx + 8 + kTitleSize - 2, ym = (top + bottom) / 2;
  out += text(yl, ym, p.y_label, "middle", kTitleSize - 1, kSans,
              " transform=\"rotate(-90 " + num(yl) + " " + num(ym) + ")\"");

  const std::string clip = "c" + std::to_string(id);
  out += "<clipPath id=\"" + clip + "\"><rect x=\"" + num(left) + "\" y=\"" + num(top - 3) + "\" width=\"" +
         num(right - left) + "\" height=\"" + num(bottom - top + 6) + "\"/></clipPath>\n<g clip-path=\"url(#" + clip +
         ")\">\n";
  if (!p.marks.empty()) {  // one band per pixel column holding a mark
    const double unit = std::max(1.0, std::fabs(sx.px(sx.lo + 1) - sx.px(sx.lo)));
    std::vector<long> cols;
    for (double m : p.marks) cols.push_back(long(std::floor(sx.px(m) - unit / 2)));
    std::sort(cols.begin(), cols.end());
    cols.erase(std::unique(cols.begin(), cols.end()), cols.end());
    out += "<path fill=\"#d62728\" fill-opacity=\"0.22\" d=\"";
    for (long c : cols)
      out += "M" + num(double(c)) + " " + num(top) + "h" + num(unit) + "V" + num(bottom) + "h" + num(-unit) + "Z";
    out += "\"/>\n";
  }
  for (const auto& h : p.hlines)
    out += "<line x1=\"" + num(left) + "\" y1=\"" + num(sy.px(h.y)) + "\" x2=\"" + num(right) + "\" y2=\"" +
           num(sy.px(h.y)) + "\" stroke=\"" + h.color + "\" stroke-width=\"1.5\"" +
           (h.dashed ? " stroke-dasharray=\"6,4\"" : "") + "/>\n";
  for (const auto& s : p.series) {
    if (s.style == Style::Line) {
      for (const auto& run : decimate_line(s.x, s.y, sx, sy)) {
        if (run.size() == 1) {
          out += "<circle cx=\"" + num(run[0].x) + "\" cy=\"" + num(run[0].y) + "\" r=\"2\" fill=\"" + s.color + "\"/>\n";
          continue;
        }
        out += "<polyline fill=\"none\" stroke=\"" + s.color + "\" stroke-width=\"1.5\" stroke-linejoin=\"round\" points=\"";
        for (size_t i = 0; i < run.size(); i++) out += (i ? " " : "") + num(run[i].x) + "," + num(run[i].y);
        out += "\"/>\n";
      }
    } else if (s.style == Style::Dots) {
      // Round caps make a dot of a span; a renderer may skip a zero-length one, so none is.
      out += "<path fill=\"none\" stroke=\"" + s.color + "\" stroke-width=\"5\" stroke-linecap=\"round\" stroke-opacity=\"0.8\" d=\"";
      for (const Span& sp : decimate_points(s.x, s.y, sx, sy))
        out += "M" + num(sp.x) + " " + num(sp.y0) + "V" + num(std::max(sp.y1, sp.y0 + 0.2));
      out += "\"/>\n";
    } else {
      out += "<path fill=\"none\" stroke=\"" + s.color + "\" stroke-width=\"6\" stroke-opacity=\"0.45\" d=\"";
      for (size_t i = 0; i < std::min({s.x.size(), s.y.size(), s.y2.size()}); i++)
        out += "M" + num(sx.px(s.x[i])) + " " + num(sy.px(s.y[i])) + "V" + num(sy.px(s.y2[i]));
      out += "\"/>\n";
    }
  }
  out += "</g>\n";
  if (!p.message.empty()) {
    const auto lines = wrap(p.message, size_t(std::max(8.0, (right - left - 16) / char_px())));
    double y = (top + bottom) / 2 - double(lines.size() - 1) * kCaptionLine / 2;
    for (const auto& l : lines) out += text((left + right) / 2, y, l, "middle", kFontSize, kMono, " fill=\"#555\""), y += kCaptionLine;
  }
}

}  // namespace

namespace {

double cell_width(const Figure& f) { return (double(f.width) - 2 * kMargin) / double(std::max(1, f.columns)); }

// Each row of panels: its legends' height (the tallest in the row).
std::vector<double> legend_heights(const Figure& f) {
  std::vector<double> extra(rows_of(f), 0);
  for (size_t i = 0; i < f.panels.size(); i++) {
    const auto items = legend_of(f.panels[i]);
    if (items.empty()) continue;
    std::vector<double> ix(items.size());
    const double h = double(legend_rows(items, cell_width(f) - 16, ix.data()).back() + 1) * kLegendRow;
    double& e = extra[i / size_t(std::max(1, f.columns))];
    e = std::max(e, h);
  }
  return extra;
}

double sum(const std::vector<double>& v) {
  double t = 0;
  for (double x : v) t += x;
  return t;
}

}  // namespace

int auto_height(const Figure& f) {
  return int(2 * kMargin + kTitleHeight + double(rows_of(f)) * kPanelHeight + sum(legend_heights(f)) +
             caption_height(f));
}

std::string render_svg(const Figure& f) {
  const int h = f.height > 0 ? f.height : auto_height(f);
  const size_t cols = size_t(std::max(1, f.columns));
  const double rows = double(rows_of(f));
  const std::vector<double> legend_h = legend_heights(f);
  // What the rows share after their legends, the title and the caption.
  const double plots_h = double(h) - 2 * kMargin - kTitleHeight - caption_height(f) - sum(legend_h);
  if (rows > 0 && plots_h / rows < kMinPanelHeight)
    usage_error("a figure " + std::to_string(f.width) + "x" + std::to_string(h) + " is too small for " +
                std::to_string(f.panels.size()) + " panels, their legends and the caption (at least " +
                std::to_string(kMinPanelHeight) + " px a row); give a larger --height");
  std::string out;
  out.reserve(size_t(1) << 16);
  out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
         std::to_string(f.width) + "\" height=\"" + std::to_string(h) + "\" viewBox=\"0 0 " + std::to_string(f.width) +
         " " + std::to_string(h) + "\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  out += text(double(f.width) / 2, kMargin + 18, f.title, "middle", kTitleSize + 2, kSans, " font-weight=\"bold\"");
  const double cw = cell_width(f);
  double cy = kMargin + kTitleHeight;
  for (size_t r = 0; r < size_t(rows); r++) {
    const double ch = plots_h / rows + legend_h[r];
    for (size_t c = 0; c < cols && r * cols + c < f.panels.size(); c++)
      draw_panel(out, f.panels[r * cols + c], kMargin + double(c) * cw, cy, cw, ch, legend_h[r], int(r * cols + c));
    cy += ch;
  }
  double y = double(h) - caption_height(f) + kCaptionLine;
  for (const auto& para : f.caption)
    for (const auto& l : wrap(para, caption_chars(f))) out += text(kMargin, y, l, "start", kFontSize, kMono, " fill=\"#222\""), y += kCaptionLine;
  out += "</svg>\n";
  return out;
}

}  // namespace pw::plot
