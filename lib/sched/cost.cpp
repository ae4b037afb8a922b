#include "sched/cost.hpp"

#include <algorithm>
#include <limits>

namespace pw::sched {

CostModel::CostModel(const Problem& p, double slowdown)
    : n(p.n()), S(p.work.stages), D(p.work.data_parallel), compute_s(p.work.compute_s) {
  allreduce.assign(size_t(n) * n, 0.0);
  hop.assign(size_t(n) * n, 0.0);
  const double grad_gbit = 8.0 * p.work.gradient_gb, act_gbit = 8.0 * p.work.activation_gb;
  for (int a = 0; a < n; a++)
    for (int b = 0; b < n; b++) {
      if (a == b) continue;
      const size_t i = size_t(a) * n + b;
      const double lat = p.latency_s[i] * slowdown, bw = p.bandwidth_gbps[i] / slowdown;
      allreduce[i] = 2.0 * (lat + grad_gbit / (bw * D));
      hop[i] = lat + act_gbit / bw;
    }
  for (const Device& d : p.devices) speed.push_back(d.speed);
}

namespace {

double row_sum(const CostModel& m, const Group& g, int d) {
  double s = 0;
  for (int e : g) s += m.ar(d, e);  // ar(d, d) = 0
  return s;
}

// Hopcroft–Karp on the D x D bipartite graph whose edges are w[i*D + j] <= t.
// Returns the size of a maximum matching; mate_a[i] is i's partner in b or -1.
struct HopcroftKarp {
  int D;
  const std::vector<double>& w;
  double t;
  std::vector<int> mate_a, mate_b, dist;

  HopcroftKarp(int D_, const std::vector<double>& w_, double t_) : D(D_), w(w_), t(t_), mate_a(D_, -1), mate_b(D_, -1), dist(D_) {}

  bool bfs() {
    std::vector<int> queue;
    queue.reserve(size_t(D));
    bool found = false;
    for (int i = 0; i < D; i++) {
      dist[i] = mate_a[i] < 0 ? 0 : -1;
      if (mate_a[i] < 0) queue.push_back(i);
    }
    for (size_t q = 0; q < queue.size(); q++) {
      const int i = queue[q];
      for (int j = 0; j < D; j++) {
        if (w[size_t(i) * D + j] > t) continue;
        const int k = mate_b[j];
        if (k < 0) found = true;
        else if (dist[k] < 0) {
          dist[k] = dist[i] + 1;
          queue.push_back(k);
        }
      }
    }
    return found;
  }

  bool dfs(int i) {
    for (int j = 0; j < D; j++) {
      if (w[size_t(i) * D + j] > t) continue;
      const int k = mate_b[j];
      if (k < 0 || (dist[k] == dist[i] + 1 && dfs(k))) {
        mate_a[i] = j;
        mate_b[j] = i;
        return true;
      }
    }
    dist[i] = -1;
    return false;
  }

  int run() {
    int size = 0;
    while (bfs())
      for (int i = 0; i < D; i++)
        if (mate_a[i] < 0 && dfs(i)) size++;
    return size;
  }
};

}  // namespace

double data_cost(const CostModel& m, const Group& g) {
  double worst = 0;
  for (int d : g) worst = std::max(worst, row_sum(m, g, d));
  return worst;
}

int data_bottleneck(const CostModel& m, const Group& g) {
  int best = 0;
  double worst = -1;
  for (size_t i = 0; i < g.size(); i++) {
    const double s = row_sum(m, g, g[i]);
    if (s > worst) worst = s, best = int(i);
  }
  return best;
}

double bottleneck_matching(const CostModel& m, const Group& a, const Group& b, std::vector<int>* match) {
  const int D = int(a.size());
  std::vector<double> w(size_t(D) * D);
  // No perfect matching can beat the worst row's or column's cheapest edge.
  double lower = 0;
  std::vector<double> col_min(size_t(D), std::numeric_limits<double>::infinity());
  for (int i = 0; i < D; i++) {
    double row_min = std::numeric_limits<double>::infinity();
    for (int j = 0; j < D; j++) {
      const double v = m.c(a[i], b[j]);
      w[size_t(i) * D + j] = v;
      row_min = std::min(row_min, v);
      col_min[j] = std::min(col_min[j], v);
    }
    lower = std::max(lower, row_min);
  }
  for (double v : col_min) lower = std::max(lower, v);

  auto feasible = [&](double t, std::vector<int>* out) {
    HopcroftKarp hk(D, w, t);
    if (hk.run() < D) return false;
    if (out) *out = hk.mate_a;
    return true;
  };
  if (feasible(lower, match)) return lower;  // the common case on grouped topologies
  std::vector<double> values;
  values.reserve(w.size());
  for (double v : w)
    if (v > lower) values.push_back(v);
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  // The largest value always admits a perfect matching (complete bipartite graph).
  size_t lo = 0, hi = values.size() - 1;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (feasible(values[mid], nullptr)) hi = mid;
    else lo = mid + 1;
  }
  if (match) feasible(values[lo], match);
  return values[lo];
}

double compute_cost(const CostModel& m, const Group& g) {
  if (m.compute_s <= 0) return 0;
  double slowest = std::numeric_limits<double>::infinity();
  for (int d : g) slowest = std::min(slowest, m.speed[size_t(d)]);
  return m.compute_s / slowest;
}

CostBreakdown path_cost(const CostModel& m, const std::vector<Group>& stages, std::vector<double>* matching) {
  CostBreakdown c;
  if (matching) matching->clear();
  for (size_t k = 0; k < stages.size(); k++) {
    c.data_p = std::max(c.data_p, data_cost(m, stages[k]));
    c.compute += compute_cost(m, stages[k]);
    if (k + 1 < stages.size()) {
      const double e = bottleneck_matching(m, stages[k], stages[k + 1]);
      c.pipeline_p += e;
      if (matching) matching->push_back(e);
    }
  }
  c.total = c.data_p + 2.0 * c.pipeline_p;
  c.iteration = c.total + c.compute;
  return c;
}

std::vector<double> coarsened_graph(const CostModel& m, const std::vector<Group>& groups) {
  const size_t S = groups.size();
  std::vector<double> d(S * S, 0.0);
  for (size_t i = 0; i < S; i++)
    for (size_t j = i + 1; j < S; j++) d[i * S + j] = d[j * S + i] = bottleneck_matching(m, groups[i], groups[j]);
  return d;
}

}  // namespace pw::sched
