#include "verify/distance.hpp"

#include <cmath>
#include <cstdio>
#include <type_traits>

#include "core/error.hpp"
#include "proof/proof.hpp"

namespace pw {

const char* metric_name(int m) {
  static const char* names[kMetrics] = {"l1", "l2", "linf", "cosine"};
  return m >= 0 && m < kMetrics ? names[m] : "?";
}

namespace {

struct Sums {
  double l1 = 0, sq = 0, linf = 0, dot = 0, aa = 0, bb = 0;
  void add(const Sums& o) {
    l1 += o.l1, sq += o.sq, linf = std::max(linf, o.linf), dot += o.dot, aa += o.aa, bb += o.bb;
  }
};

// a against b, or (R) against a + r in double.
template <class R>
Sums sums(const std::vector<float>& a, const std::vector<R>& b) {
  constexpr bool kResidual = std::is_same_v<R, double>;
  Sums s;
  for (size_t i = 0; i < a.size() && (!kResidual || i < b.size()); i++) {
    const double x = a[i], y = kResidual ? x + double(b[i]) : double(b[i]), d = kResidual ? -double(b[i]) : x - y;
    s.l1 += std::fabs(d);
    s.sq += d * d;
    s.linf = std::max(s.linf, std::fabs(d));
    s.dot += x * y;
    s.aa += x * x;
    s.bb += y * y;
  }
  if (a.size() != b.size()) s.linf = INFINITY;
  return s;
}

void push(Distances& d, const std::string& name, const Sums& s) {
  d.names.push_back(name);
  d.value[kL1].push_back(s.l1);
  d.value[kL2].push_back(std::sqrt(s.sq));
  d.value[kLinf].push_back(s.linf);
  const double denom = std::sqrt(s.aa) * std::sqrt(s.bb);
  d.value[kCosine].push_back(denom > 0 ? std::max(0.0, 1.0 - s.dot / denom) : (s.aa == s.bb ? 0.0 : 1.0));
}

}  // namespace

Distances state_distances(const Tape& tape, const Workspace& a, const Workspace& b) {
  const std::vector<int> ids = checkpoint_tensors(tape);
  std::vector<Sums> per(ids.size());
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t i = 0; i < ids.size(); i++) per[i] = sums(a.t[size_t(ids[i])], b.t[size_t(ids[i])]);
  Distances d;
  Sums all;
  for (size_t i = 0; i < ids.size(); i++) {
    push(d, tape.tensors[size_t(ids[i])].name, per[i]);
    all.add(per[i]);
  }
  push(d, "model", all);
  return d;
}

Distances residual_distances(const Tape& tape, const Workspace& a, const std::vector<std::vector<double>>& r) {
  const std::vector<int> ids = checkpoint_tensors(tape);
  Distances d;
  Sums all;
  for (size_t i = 0; i < ids.size(); i++) {
    Sums s = i < r.size() ? sums(a.t[size_t(ids[i])], r[i]) : Sums{0, 0, INFINITY};
    if (i < r.size() && r[i].size() != a.t[size_t(ids[i])].size()) s.linf = INFINITY;
    push(d, tape.tensors[size_t(ids[i])].name, s);
    all.add(s);
  }
  push(d, "model", all);
  return d;
}

std::vector<std::vector<double>> residuals(const Tape& tape, const Workspace& replayed, const Workspace& claimed) {
  std::vector<std::vector<double>> r;
  for (int id : checkpoint_tensors(tape)) {
    const std::vector<float>& a = replayed.t[size_t(id)];
    const std::vector<float>& b = claimed.t[size_t(id)];
    r.emplace_back(std::min(a.size(), b.size()));
    for (size_t e = 0; e < r.back().size(); e++) r.back()[e] = double(b[e]) - double(a[e]);
  }
  return r;
}

Distances tensor_distances(const std::vector<std::string>& names, const std::vector<std::vector<float>>& a,
                           const std::vector<std::vector<float>>& b, const std::string& all) {
  Distances d;
  Sums total;
  for (size_t i = 0; i < names.size(); i++) {
    const Sums s = i < a.size() && i < b.size() ? sums(a[i], b[i]) : Sums{0, 0, INFINITY};
    push(d, names[i], s);
    total.add(s);
  }
  push(d, all, total);
  return d;
}

std::string tightest(const Distances& d, const Distances& t) {
  if (d.names != t.names) return "the thresholds' tensors are not these";
  double worst = -1;
  char buf[256] = "";
  for (size_t i = 0; i < d.size(); i++)
    for (int m = 0; m < kMetrics; m++) {
      const double x = d.value[m][i], r = t.value[m][i] > 0 ? x / t.value[m][i] : x > 0 ? INFINITY : 0;
      if (r > worst) {
        worst = r;
        std::snprintf(buf, sizeof buf, "%s %s %.3g <= threshold %.3g", d.names[i].c_str(), metric_name(m), x, t.value[m][i]);
      }
    }
  return buf;
}

Distances state_norms(const Tape& tape, const Workspace& a) {
  Workspace zero(tape);
  Distances d = state_distances(tape, a, zero);
  d.value[kCosine].assign(d.size(), 0.0);
  return d;
}

double param_update_norm(const Tape& tape, const Workspace& a, const Workspace& b) {
  double sq = 0;
  for (int id : tape.params) {
    const auto& x = a.t[size_t(id)];
    const auto& y = b.t[size_t(id)];
    for (size_t i = 0; i < x.size(); i++) {
      const double d = double(y[i]) - double(x[i]);
      sq += d * d;
    }
  }
  return std::sqrt(sq);
}

void max_into(Distances& into, const Distances& d) {
  if (into.names.empty()) {
    into = d;
    return;
  }
  if (into.names != d.names) internal_error("distances over different tensors");
  for (int m = 0; m < kMetrics; m++)
    for (size_t i = 0; i < d.size(); i++) into.value[m][i] = std::max(into.value[m][i], d.value[m][i]);
}

std::string exceeds(const Distances& d, const Distances& t) {
  if (d.names != t.names) return "the profile's tensors are not this model's";
  for (size_t i = 0; i < d.size(); i++)
    for (int m = 0; m < kMetrics; m++) {
      const double x = d.value[m][i];
      if (!(x <= t.value[m][i])) {
        char buf[256];
        std::snprintf(buf, sizeof buf, "%s %s %.3g > threshold %.3g", d.names[i].c_str(), metric_name(m), x,
                      t.value[m][i]);
        return buf;
      }
    }
  return "";
}

void write_distances(schema::Distances::Builder b, const Distances& d) {
  auto names = b.initNames(unsigned(d.size()));
  for (size_t i = 0; i < d.size(); i++) names.set(unsigned(i), d.names[i]);
  auto lists = {b.initL1(unsigned(d.size())), b.initL2(unsigned(d.size())), b.initLinf(unsigned(d.size())),
                b.initCosine(unsigned(d.size()))};
  int m = 0;
  for (auto l : lists) {
    for (size_t i = 0; i < d.size(); i++) l.set(unsigned(i), d.value[m][i]);
    m++;
  }
}

Distances read_distances(schema::Distances::Reader r, const std::string& what) {
  Distances d;
  const size_t n = r.getNames().size();
  check_input(n > 0, what + ": no distances");
  for (auto s : r.getNames()) d.names.push_back(s.cStr());
  capnp::List<double>::Reader lists[kMetrics] = {r.getL1(), r.getL2(), r.getLinf(), r.getCosine()};
  for (int m = 0; m < kMetrics; m++) {
    check_input(lists[m].size() == n, what + ": " + metric_name(m) + " has " + std::to_string(lists[m].size()) +
                                          " entries for " + std::to_string(n) + " tensors");
    for (double x : lists[m]) {
      check_input(std::isfinite(x) && x >= 0, what + ": " + metric_name(m) + " holds a negative or non-finite value");
      d.value[m].push_back(x);
    }
  }
  return d;
}

}  // namespace pw
