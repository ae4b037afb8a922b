#include "sched/partition.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/error.hpp"
#include "sched/tsp.hpp"

namespace pw::sched {

namespace {

// Deterministic on every platform: mt19937_64's output is fixed by the standard, and
// the helpers below avoid the library's (implementation-defined) distributions.
struct Rng {
  std::mt19937_64 g;
  explicit Rng(uint64_t seed) : g(seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull) {}
  int below(int n) { return int(g() % uint64_t(n)); }
  double unit() { return double(g() >> 11) * 0x1.0p-53; }
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; i--) std::swap(v[i - 1], v[size_t(below(int(i)))]);
  }
};

uint64_t mix(uint64_t seed, uint64_t k) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (k + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The stage groups in a pipeline order, with each group's terms and each edge's
// bottleneck matching kept up to date under moves.
class Annealer {
 public:
  Annealer(const CostModel& m, std::vector<Group> g, bool with_compute, uint64_t seed)
      : m_(m), g_(std::move(g)), with_compute_(with_compute), rng_(seed) {
    const size_t S = g_.size();
    data_.resize(S);
    comp_.resize(S);
    edge_.resize(S > 0 ? S - 1 : 0);
    for (size_t k = 0; k < S; k++) refresh_group(k);
    for (size_t k = 0; k + 1 < S; k++) edge_[k] = bottleneck_matching(m_, g_[k], g_[k + 1]);
    obj_ = objective();
    best_ = g_;
    best_obj_ = obj_;
  }

  // Simulated annealing, `moves` moves, temperature falling geometrically t0 -> t1
  // (seconds of objective).
  void anneal(int64_t moves, double t0, double t1) {
    const int S = int(g_.size());
    if (S < 2 || m_.D < 1 || moves <= 0) return;
    double soft = surrogate();
    const double ratio = std::pow(t1 / t0, 1.0 / double(moves));
    double t = t0;
    for (int64_t it = 0; it < moves; it++, t *= ratio) {
      save_.clear();
      propose();
      const double new_soft = surrogate();
      const double delta = new_soft - soft;
      if (delta <= 0 || rng_.unit() < std::exp(-delta / t)) {
        soft = new_soft;
        if (obj_ < best_obj_ - 1e-12) {
          best_obj_ = obj_;
          best_ = g_;
        }
      } else {
        undo();
      }
    }
  }

  // Reorders the groups by the open-loop TSP over the coarsened graph when that
  // shortens the pipeline path; returns whether it did.
  bool reorder(uint64_t seed) {
    g_ = best_;
    const int S = int(g_.size());
    if (S < 3) return false;
    DistanceMatrix d{S, coarsened_graph(m_, g_)};
    TspOptions o;
    o.closed = false;
    o.seed = seed;
    o.kicks = std::min<int64_t>(kicks_for(S), 2000);  // inside the loop; the final order gets the full budget
    TspResult r = solve_tsp(d, o);
    const double current = tour_length(d, identity(S), false);
    bool changed = false;
    if (r.length < current - 1e-12) {
      std::vector<Group> next;
      for (int k : r.tour) next.push_back(g_[size_t(k)]);
      g_ = std::move(next);
      changed = true;
    }
    for (int k = 0; k < S; k++) refresh_group(size_t(k));
    for (int k = 0; k + 1 < S; k++) edge_[size_t(k)] = bottleneck_matching(m_, g_[size_t(k)], g_[size_t(k) + 1]);
    obj_ = objective();
    if (obj_ < best_obj_ - 1e-12) best_obj_ = obj_;
    best_ = g_;
    return changed;
  }

  const std::vector<Group>& best() const { return best_; }
  double best_objective() const { return best_obj_; }

 private:
  struct Saved {
    size_t k;
    Group members;
    double data, comp;
  };

  static std::vector<int> identity(int n) {
    std::vector<int> v(static_cast<size_t>(n));
    std::iota(v.begin(), v.end(), 0);
    return v;
  }

  void refresh_group(size_t k) {
    data_[k] = data_cost(m_, g_[k]);
    comp_[k] = with_compute_ ? compute_cost(m_, g_[k]) : 0.0;
  }

  double objective() const {
    double worst = 0, path = 0, comp = 0;
    for (double v : data_) worst = std::max(worst, v);
    for (double v : edge_) path += v;
    for (double v : comp_) comp += v;
    return worst + 2.0 * path + comp;
  }

  // The objective plus a small pull on the mean group term, so that moves improving a
  // group other than the worst are not invisible (the plateaus of a max).
  double surrogate() const {
    double sum = 0;
    for (double v : data_) sum += v;
    return obj_ + 0.05 * sum / double(data_.size());
  }

  void touch(size_t k) {
    for (const Saved& s : save_)
      if (s.k == k) return;
    save_.push_back({k, g_[k], data_[k], comp_[k]});
  }

  // Recomputes the terms of the touched groups and their edges.
  void settle() {
    const size_t S = g_.size();
    saved_edges_.clear();
    for (const Saved& s : save_) {
      refresh_group(s.k);
      for (size_t e : {s.k - 1, s.k}) {
        if (e >= S - 1) continue;  // s.k - 1 wraps for k = 0
        bool done = false;
        for (auto& [idx, v] : saved_edges_) done = done || idx == e;
        if (done) continue;
        saved_edges_.push_back({e, edge_[e]});
        edge_[e] = bottleneck_matching(m_, g_[e], g_[e + 1]);
      }
    }
    obj_ = objective();
  }

  void undo() {
    for (const Saved& s : save_) {
      g_[s.k] = s.members;
      data_[s.k] = s.data;
      comp_[s.k] = s.comp;
    }
    for (auto& [e, v] : saved_edges_) edge_[e] = v;
    obj_ = objective();
  }

  int other_group(int a) {
    const int S = int(g_.size());
    int b = rng_.below(S - 1);
    return b >= a ? b + 1 : b;
  }

  void swap_devices(int a, int i, int b, int j) {
    touch(size_t(a));
    touch(size_t(b));
    std::swap(g_[size_t(a)][size_t(i)], g_[size_t(b)][size_t(j)]);
  }

  void propose() {
    const int S = int(g_.size()), D = m_.D;
    const double r = rng_.unit();
    if (r < 0.35 || D < 2) {  // one swap
      const int a = rng_.below(S), b = other_group(a);
      swap_devices(a, rng_.below(D), b, rng_.below(D));
    } else if (r < 0.55) {  // the bottleneck: the worst group's worst device, or an end of the heaviest edge
      int a = 0, i = 0;
      if (rng_.unit() < 0.5 || edge_.empty()) {
        a = int(std::max_element(data_.begin(), data_.end()) - data_.begin());
        i = data_bottleneck(m_, g_[size_t(a)]);
      } else {
        const int e = int(std::max_element(edge_.begin(), edge_.end()) - edge_.begin());
        a = e + rng_.below(2);
        i = rng_.below(D);
      }
      const int b = other_group(a);
      swap_devices(a, i, b, rng_.below(D));
    } else if (r < 0.85) {  // block swap: k devices, preferring one region on each side
      const int a = rng_.below(S), b = other_group(a);
      const int k = 2 + rng_.below(std::max(1, D / 2 - 1));
      auto pick = [&](int grp) {
        std::vector<int> idx(static_cast<size_t>(D));
        std::iota(idx.begin(), idx.end(), 0);
        rng_.shuffle(idx);
        const int seed_dev = g_[size_t(grp)][size_t(idx[0])];
        const int region = region_of(seed_dev);
        std::stable_partition(idx.begin(), idx.end(), [&](int x) { return region_of(g_[size_t(grp)][size_t(x)]) == region; });
        idx.resize(size_t(std::min(k, D)));
        return idx;
      };
      const std::vector<int> ia = pick(a), ib = pick(b);
      for (size_t t = 0; t < ia.size(); t++) swap_devices(a, ia[t], b, ib[t]);
    } else {  // 3-cycle a -> b -> c -> a
      if (S < 3) return propose_swap_fallback();
      const int a = rng_.below(S), b = other_group(a);
      int c = rng_.below(S);
      while (c == a || c == b) c = rng_.below(S);
      const int i = rng_.below(D), j = rng_.below(D), l = rng_.below(D);
      touch(size_t(a)), touch(size_t(b)), touch(size_t(c));
      const int x = g_[size_t(a)][size_t(i)];
      g_[size_t(a)][size_t(i)] = g_[size_t(c)][size_t(l)];
      g_[size_t(c)][size_t(l)] = g_[size_t(b)][size_t(j)];
      g_[size_t(b)][size_t(j)] = x;
    }
    settle();
  }

  void propose_swap_fallback() {
    const int a = rng_.below(int(g_.size())), b = other_group(a);
    swap_devices(a, rng_.below(m_.D), b, rng_.below(m_.D));
  }

  // The device's group (region) from the topology, for block moves.
  int region_of(int d) const { return region_ ? (*region_)[size_t(d)] : 0; }

 public:
  const std::vector<int>* region_ = nullptr;

 private:
  const CostModel& m_;
  std::vector<Group> g_, best_;
  std::vector<double> data_, comp_, edge_;
  bool with_compute_;
  Rng rng_;
  double obj_ = 0, best_obj_ = 0;
  std::vector<Saved> save_;
  std::vector<std::pair<size_t, double>> saved_edges_;
};

std::vector<int> device_order(const Problem& p) {
  std::vector<int> order(static_cast<size_t>(p.n()));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p.group_of[size_t(a)] < p.group_of[size_t(b)]; });
  return order;
}

struct StartResult {
  std::vector<Group> groups;
  double objective = 0;
};

StartResult run_joint_loop(const CostModel& m, std::vector<Group> groups, const std::vector<int>* region, const SearchOptions& o,
                           uint64_t seed) {
  Annealer an(m, std::move(groups), o.with_compute, seed);
  an.region_ = region;
  an.reorder(mix(seed, 1000));
  const int64_t moves = int64_t(double(moves_per_round(m.n, m.S)) * o.effort);
  const double scale = std::max(an.best_objective(), 1e-9);
  for (int round = 0; round < o.rounds; round++) {
    // The first round explores from hot; later rounds polish around the reordered best.
    const double t0 = (round == 0 ? 0.05 : 0.01) * scale, t1 = 1e-5 * scale;
    const double before = an.best_objective();
    an.anneal(moves, t0, t1);
    const bool reordered = an.reorder(mix(seed, 2000 + uint64_t(round)));
    if (round > 0 && !reordered && an.best_objective() >= before - 1e-12) break;
  }
  return {an.best(), an.best_objective()};
}

}  // namespace

const char* construction_name(Construction c) {
  switch (c) {
    case Construction::kTransposed: return "transposed";
    case Construction::kRegionAware: return "region-aware";
    case Construction::kRandom: return "random";
  }
  return "?";
}

Construction parse_construction(const std::string& name) {
  for (Construction c : {Construction::kTransposed, Construction::kRegionAware, Construction::kRandom})
    if (name == construction_name(c)) return c;
  usage_error("unknown construction '" + name + "' (transposed, region-aware, random)");
}

std::vector<Group> construct(const Problem& p, Construction c, uint64_t seed) {
  const int S = p.work.stages, D = p.work.data_parallel;
  std::vector<int> order = device_order(p);
  if (c == Construction::kRandom) {
    Rng rng(seed);
    rng.shuffle(order);
  }
  std::vector<Group> g(static_cast<size_t>(S));
  for (int r = 0; r < S * D; r++) {
    // transposed: consecutive devices (one region) spread over all stages;
    // region-aware and random: consecutive devices fill one stage.
    const int stage = c == Construction::kTransposed ? r % S : r / D;
    g[size_t(stage)].push_back(order[size_t(r)]);
  }
  return g;
}

int64_t moves_per_round(int n, int S) {
  // About 0.4 s of moves per round on 64 devices (idle core); per move the work grows with D^2.
  // At this budget all five DT-FM scenarios reach their best known cost for every seed tried.
  const double D = double(n) / double(std::max(S, 1));
  return std::max<int64_t>(2000, int64_t(1.5e6 / (D * D + 4.0 * D)));
}

Plan order_pipeline(const CostModel& m, const std::vector<Group>& groups, uint64_t seed) {
  const int S = int(groups.size());
  Plan plan;
  std::vector<int> tour(static_cast<size_t>(S));
  std::iota(tour.begin(), tour.end(), 0);
  plan.order_exact = S <= 2;
  if (S >= 3) {
    DistanceMatrix d{S, coarsened_graph(m, groups)};
    TspOptions o;
    o.closed = false;
    o.seed = seed;
    TspResult r = solve_tsp(d, o);
    if (!is_permutation_of(r.tour, S)) internal_error("the TSP solver returned a tour that is not a permutation");
    tour = r.tour;
    plan.order_exact = r.exact;
  }
  for (int k : tour) plan.stages.push_back(groups[size_t(k)]);
  // Align the replicas: stage k+1's i-th device is the partner of stage k's i-th.
  for (int k = 0; k + 1 < S; k++) {
    std::vector<int> match;
    bottleneck_matching(m, plan.stages[size_t(k)], plan.stages[size_t(k) + 1], &match);
    Group next(plan.stages[size_t(k) + 1].size());
    for (size_t i = 0; i < match.size(); i++) next[i] = plan.stages[size_t(k) + 1][size_t(match[i])];
    plan.stages[size_t(k) + 1] = next;
  }
  plan.cost = path_cost(m, plan.stages, &plan.matching);
  return plan;
}

namespace {

double objective_of(const Plan& p, bool with_compute) { return with_compute ? p.cost.iteration : p.cost.total; }

}  // namespace

Plan search_schedule(const Problem& p, const CostModel& m, const SearchOptions& o) {
  const int starts = std::max(1, o.starts);
  const std::vector<int>& region = p.group_of;
  std::vector<StartResult> results(static_cast<size_t>(starts));
  std::vector<Construction> kind(static_cast<size_t>(starts));
  int done = 0;
  double best_so_far = INFINITY;
#pragma omp parallel for schedule(dynamic, 1)
  for (int s = 0; s < starts; s++) {
    static const std::vector<Construction> all = {Construction::kTransposed, Construction::kRegionAware, Construction::kRandom};
    const std::vector<Construction>& cycle = o.constructions.empty() ? all : o.constructions;
    kind[size_t(s)] = cycle[size_t(s) % cycle.size()];
    const uint64_t seed = mix(o.seed, uint64_t(s));
    results[size_t(s)] = run_joint_loop(m, construct(p, kind[size_t(s)], seed), &region, o, seed);
#pragma omp critical
    {
      done++;
      best_so_far = std::min(best_so_far, results[size_t(s)].objective);
      if (o.progress) o.progress(done, starts, best_so_far);
    }
  }
  // The best start; ties go to the lowest index, so threads never change the result.
  Plan best;
  for (int s = 0; s < starts; s++) {
    Plan plan = order_pipeline(m, results[size_t(s)].groups, mix(o.seed, 3000));
    plan.start = construction_name(kind[size_t(s)]);
    if (s == 0 || objective_of(plan, o.with_compute) < objective_of(best, o.with_compute) - 1e-12) best = std::move(plan);
  }
  return best;
}

Plan refine_schedule(const Problem& p, const CostModel& m, const std::vector<Group>& groups, const SearchOptions& o) {
  const std::vector<int>& region = p.group_of;
  Plan given = order_pipeline(m, groups, mix(o.seed, 3000));
  given.start = "given";
  StartResult r = run_joint_loop(m, groups, &region, o, mix(o.seed, 77));
  Plan plan = order_pipeline(m, r.groups, mix(o.seed, 3000));
  plan.start = "given, refined";
  return objective_of(plan, o.with_compute) < objective_of(given, o.with_compute) ? plan : given;
}

double random_assignment_mean(const CostModel& m, int samples, uint64_t seed) {
  Rng rng(seed);
  double sum = 0;
  for (int s = 0; s < samples; s++) {
    std::vector<int> order(static_cast<size_t>(m.n));
    std::iota(order.begin(), order.end(), 0);
    rng.shuffle(order);
    std::vector<Group> g(static_cast<size_t>(m.S));
    for (int r = 0; r < m.n; r++) g[size_t(r / m.D)].push_back(order[size_t(r)]);
    sum += order_pipeline(m, g, mix(seed, uint64_t(s))).cost.total;
  }
  return samples > 0 ? sum / samples : 0;
}

}  // namespace pw::sched
