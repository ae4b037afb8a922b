// TSP solver: Held–Karp up to kExactMaxNodes, else greedy start + 2-opt/Or-opt/LK local
// search + iterated local search in two chains of local double-bridge kicks (see tsp.hpp).
//
// Open paths are solved as closed tours through one extra "dummy" node at distance 0
// from every node; cutting the tour at the dummy gives the best path with free ends.
#include "sched/tsp.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <deque>
#include <limits>
#include <numeric>
#include <utility>

#include "core/error.hpp"

namespace pw::sched {

namespace {

constexpr double kTsplibPi = 3.141592;     // TSPLIB95 §2.4: PI = 3.141592, not M_PI
constexpr double kTsplibRrr = 6378.388;    // its earth radius in km
constexpr int kNeighbours = 12;            // k of the candidate lists
constexpr int kMaxSegment = 3;             // Or-opt moves segments of 1..3 nodes
constexpr int kKickSegment = 100;          // double-bridge segments: 1..100 nodes each
constexpr double kSlack = 0.1;             // a kick may lengthen the tour by 10% of a mean edge
constexpr int kAlpha = 8;                  // of them, the 8 of smallest alpha (alpha_candidates)
constexpr int kLkDepth = 10;               // the LK move's longest chain of flips
constexpr std::array<int, 2> kLkBreadth = {5, 3};  // t3 alternatives tried at depths 0 and 1
constexpr int kChains = 2;                 // independent kick chains (kChains ones, any thread count)

double nint(double v) { return std::floor(v + 0.5); }

// TSPLIB's DDD.MM (degrees, minutes) to radians; the degrees are truncated as in
// Concorde and the published optima (the text's "nint" would round 39.57 up to 40).
double geo_radians(double v) {
  const double deg = std::trunc(v);
  return kTsplibPi * (deg + 5.0 * (v - deg) / 3.0) / 180.0;
}

// Distances on coordinates, with GEO's radians converted once; the metric is a template
// parameter so the solver's inner loops inline it.
template <Metric M>
struct CoordDist {
  std::vector<double> x, y;  // GEO: latitude, longitude in radians
  explicit CoordDist(const Coordinates& c) : x(c.x), y(c.y) {
    if (M == Metric::kGeo)
      for (size_t i = 0; i < x.size(); i++) x[i] = geo_radians(c.x[i]), y[i] = geo_radians(c.y[i]);
  }
  double operator()(int i, int j) const {
    if (i == j) return 0;
    const double dx = x[size_t(i)] - x[size_t(j)], dy = y[size_t(i)] - y[size_t(j)];
    if constexpr (M == Metric::kEuc2d) return nint(std::sqrt(dx * dx + dy * dy));
    if constexpr (M == Metric::kCeil2d) return std::ceil(std::sqrt(dx * dx + dy * dy));
    if constexpr (M == Metric::kAtt) {  // pseudo-Euclidean: rounded up whenever nint rounded down
      const double r = std::sqrt((dx * dx + dy * dy) / 10.0), t = nint(r);
      return t < r ? t + 1 : t;
    }
    if constexpr (M == Metric::kGeo) {
      const double q1 = std::cos(dy), q2 = std::cos(dx), q3 = std::cos(x[size_t(i)] + x[size_t(j)]);
      const double a = std::clamp(0.5 * ((1.0 + q1) * q2 - (1.0 - q1) * q3), -1.0, 1.0);
      return std::floor(kTsplibRrr * std::acos(a) + 1.0);  // TSPLIB: (int)(RRR*acos(.)+1.0)
    }
    if constexpr (M == Metric::kMan2d) return nint(std::fabs(dx) + std::fabs(dy));
    if constexpr (M == Metric::kMax2d) return std::max(nint(std::fabs(dx)), nint(std::fabs(dy)));
    return 0;
  }
};

struct MatrixDist {
  const DistanceMatrix& m;
  double operator()(int i, int j) const { return i == j ? 0 : m(i, j); }
};

// Node `n` (one past the real ones) is the open path's dummy: distance 0 to everything.
template <class D>
struct WithDummy {
  const D& d;
  int n;
  double operator()(int i, int j) const { return (i == n || j == n) ? 0.0 : d(i, j); }
};

// splitmix64: a fixed generator, so a seed gives the same tour on every platform.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  int below(int n) { return int(next() % uint64_t(n)); }
};

// The fixed edges as up to two partners a node (-1: none); fixed(a, b): {a, b} is fixed.
struct Fixed {
  std::vector<std::array<int, 2>> partner;
  Fixed(int m, const std::vector<std::pair<int, int>>& edges) : partner(size_t(m), {-1, -1}) {
    for (const auto& [a, b] : edges) add(a, b), add(b, a);
  }
  void add(int a, int b) {
    auto& p = partner[size_t(a)];
    (p[0] < 0 ? p[0] : p[1]) = b;
  }
  bool operator()(int a, int b) const {
    const auto& p = partner[size_t(a)];
    return p[0] == b || p[1] == b;
  }
};

// Held–Karp: the optimal closed tour over m nodes, starting at node 0.
// dp[S][j]: shortest path from 0 through the set S of nodes 1..m-1, ending at j ∈ S.
// Fixed edges: a path ending at j extends to t only when every fixed partner of j that
// is not yet on it is t (a partner already on it was left towards j, so it precedes j);
// node 0's partners are the first node and, if it has two, the last one.
template <class D>
std::vector<int> held_karp(const D& dist, int m, const Fixed& fixed) {
  std::vector<int> tour(static_cast<size_t>(m));
  std::iota(tour.begin(), tour.end(), 0);
  if (m <= 3) return tour;
  const int k = m - 1;
  const size_t full = size_t(1) << k;
  std::vector<double> w(size_t(m) * size_t(m));  // m×m local copy
  for (int i = 0; i < m; i++)
    for (int j = 0; j < m; j++) w[size_t(i) * size_t(m) + size_t(j)] = dist(i, j);
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> dp(full * size_t(k), inf);   // (2^k, k)
  std::vector<int8_t> from(full * size_t(k), -1);  // (2^k, k): previous node's index, -1 = node 0
  const int first = fixed.partner[0][0], last_fixed = fixed.partner[0][1];
  for (int j = 0; j < k; j++)
    if (first < 0 || first == j + 1) dp[(size_t(1) << j) * size_t(k) + size_t(j)] = w[size_t(j + 1)];
  for (size_t s = 1; s < full; s++) {
    for (int j = 0; j < k; j++) {
      const double base = dp[s * size_t(k) + size_t(j)];
      if (!(s >> j & 1) || base == inf) continue;
      const double* row = &w[size_t(j + 1) * size_t(m) + 1];
      int must = -1;  // the one node j may go to (0-based in 1..m-1), -1: any
      bool stuck = false;
      for (const int f : fixed.partner[size_t(j + 1)]) {
        if (f <= 0 || (s >> (f - 1) & 1)) continue;
        if (must >= 0 && must != f - 1) stuck = true;
        must = f - 1;
      }
      if (stuck) continue;
      for (int t = 0; t < k; t++) {
        if ((s >> t & 1) || (must >= 0 && t != must)) continue;
        const size_t idx = (s | (size_t(1) << t)) * size_t(k) + size_t(t);
        const double v = base + row[t];
        if (v < dp[idx]) dp[idx] = v, from[idx] = int8_t(j);
      }
    }
  }
  int last = 0;
  double best = inf;
  for (int j = 0; j < k; j++) {
    if (last_fixed > 0 && last_fixed != j + 1) continue;
    const double v = dp[(full - 1) * size_t(k) + size_t(j)] + w[size_t(j + 1) * size_t(m)];
    if (v < best) best = v, last = j;
  }
  size_t s = full - 1;
  for (int p = m - 1; p >= 1; p--) {  // walk the parents back to node 0
    tour[size_t(p)] = last + 1;
    const int prev = from[s * size_t(k) + size_t(last)];
    s &= ~(size_t(1) << last);
    last = prev;
  }
  tour[0] = 0;
  return tour;
}

// Candidate lists: for every node k other nodes, nearest first (ties by index). With
// coordinates (xs, ys for nodes 0..xs->size()-1), the kQuadrant nearest in each of the
// four quadrants around the node come first, the nearest overall fill the rest: on
// drilling boards (d1291) the k nearest all lie on the node's own row of holes and the
// edges between rows would never be tried.
constexpr int kQuadrant = 2;

// Alpha-nearness candidates (Helsgaun 2000, after Held and Karp): alpha(i, j) is how much
// longer the minimum spanning tree gets when it must hold the edge {i, j}, that is d(i, j)
// minus the longest edge on the tree's path from i to j. Each node keeps the k others of
// smallest alpha (ties: nearer first, then by index), listed nearest first. O(m^2) time,
// O(m) memory: Prim's tree on the complete graph, then for every i one pass over the nodes
// in the tree's order computing the path maxima from i.
template <class D>
std::vector<int> alpha_candidates(const D& dist, int m, int k) {
  std::vector<int> dad(size_t(m), -1), order;
  order.reserve(size_t(m));
  std::vector<double> key(size_t(m), std::numeric_limits<double>::infinity()), up(size_t(m), 0);
  std::vector<char> in(size_t(m), 0);
  key[0] = 0;
  for (int it = 0; it < m; it++) {  // Prim, O(m^2)
    int u = -1;
    for (int v = 0; v < m; v++)
      if (!in[size_t(v)] && (u < 0 || key[size_t(v)] < key[size_t(u)])) u = v;
    in[size_t(u)] = 1;
    order.push_back(u);
    up[size_t(u)] = key[size_t(u)];  // the length of the edge to dad
    for (int v = 0; v < m; v++) {
      if (in[size_t(v)]) continue;
      const double w = dist(u, v);
      if (w < key[size_t(v)]) key[size_t(v)] = w, dad[size_t(v)] = u;
    }
  }
  std::vector<int> nb(size_t(m) * size_t(k)), mark(size_t(m), -1);
  std::vector<double> beta(static_cast<size_t>(m));
  struct C {
    double a, d;
    int j;
    bool operator<(const C& o) const { return a != o.a ? a < o.a : d != o.d ? d < o.d : j < o.j; }
  };
  std::vector<C> best;
  for (int i = 0; i < m; i++) {
    beta[size_t(i)] = -std::numeric_limits<double>::infinity();
    mark[size_t(i)] = i;
    for (int j = i; dad[size_t(j)] >= 0; j = dad[size_t(j)]) {  // i's ancestors: the path up
      beta[size_t(dad[size_t(j)])] = std::max(beta[size_t(j)], up[size_t(j)]);
      mark[size_t(dad[size_t(j)])] = i;
    }
    best.clear();
    for (const int j : order) {
      if (j == i) continue;
      if (mark[size_t(j)] != i) beta[size_t(j)] = std::max(beta[size_t(dad[size_t(j)])], up[size_t(j)]);
      const double d = dist(i, j);
      const C c{d - std::max(beta[size_t(j)], 0.0), d, j};
      if (int(best.size()) == k && !(c < best.back())) continue;
      if (int(best.size()) == k) best.pop_back();
      best.insert(std::upper_bound(best.begin(), best.end(), c), c);
    }
    std::sort(best.begin(), best.end(), [](const C& x, const C& y) { return x.d != y.d ? x.d < y.d : x.j < y.j; });
    for (int q = 0; q < k; q++) nb[size_t(i) * size_t(k) + size_t(q)] = best[size_t(q)].j;
  }
  return nb;
}

template <class D>
std::vector<int> candidate_lists(const D& dist, int m, int k, const std::vector<double>* xs, const std::vector<double>* ys) {
  std::vector<int> nb(size_t(m) * size_t(k));
  std::vector<std::pair<double, int>> row(size_t(m - 1)), pick;
  const int with_xy = xs ? int(xs->size()) : 0;
  for (int i = 0; i < m; i++) {
    size_t r = 0;
    for (int j = 0; j < m; j++)
      if (j != i) row[r++] = {dist(i, j), j};
    pick.clear();
    auto taken = [&](int j) {
      return std::any_of(pick.begin(), pick.end(), [&](const auto& pr) { return pr.second == j; });
    };
    if (i < with_xy) {  // the kQuadrant nearest per quadrant, by insertion into short lists
      std::pair<double, int> best[4][kQuadrant];
      int have[4] = {0, 0, 0, 0};
      for (const auto& pr : row) {
        const int j = pr.second;
        if (j >= with_xy) continue;
        const double dx = (*xs)[size_t(j)] - (*xs)[size_t(i)], dy = (*ys)[size_t(j)] - (*ys)[size_t(i)];
        const int quad = (dx > 0 || (dx == 0 && dy > 0) ? 0 : 1) + (dy > 0 || (dy == 0 && dx < 0) ? 0 : 2);
        int at = have[quad] < kQuadrant ? have[quad]++ : kQuadrant;
        if (at == kQuadrant && pr < best[quad][kQuadrant - 1]) at = kQuadrant - 1;
        if (at == kQuadrant) continue;
        for (; at > 0 && pr < best[quad][at - 1]; at--) best[quad][at] = best[quad][at - 1];
        best[quad][at] = pr;
      }
      for (int qd = 0; qd < 4; qd++)
        for (int q = 0; q < have[qd] && int(pick.size()) < k; q++) pick.push_back(best[qd][q]);
    }
    const size_t head = std::min(row.size(), size_t(2 * k));
    std::partial_sort(row.begin(), row.begin() + long(head), row.end());
    for (size_t q = 0; q < head && int(pick.size()) < k; q++)
      if (!taken(row[q].second)) pick.push_back(row[q]);
    std::sort(pick.begin(), pick.end());
    for (int q = 0; q < k; q++) nb[size_t(i) * size_t(k) + size_t(q)] = pick[size_t(q)].second;
  }
  return nb;
}

// The candidate lists the local search uses: the kAlpha nodes of smallest alpha, then
// candidate_lists' (quadrant and nearest) until k, listed nearest first. Alpha finds the
// edges between clusters (fl1577's groups of holes) that the nearest ones miss.
template <class D>
std::vector<int> merged_candidates(const D& dist, int m, int k, const std::vector<double>* xs,
                                   const std::vector<double>* ys) {
  std::vector<int> nb = candidate_lists(dist, m, k, xs, ys);
  const int ka = std::min(k, kAlpha);
  const std::vector<int> al = alpha_candidates(dist, m, ka);
  std::vector<std::pair<double, int>> u;
  for (int i = 0; i < m; i++) {
    u.clear();
    auto add = [&](int j) {
      if (int(u.size()) < k && std::none_of(u.begin(), u.end(), [&](const auto& p) { return p.second == j; }))
        u.emplace_back(dist(i, j), j);
    };
    for (int q = 0; q < ka; q++) add(al[size_t(i) * size_t(ka) + size_t(q)]);
    for (int q = 0; q < k; q++) add(nb[size_t(i) * size_t(k) + size_t(q)]);
    std::sort(u.begin(), u.end());
    for (int q = 0; q < k; q++) nb[size_t(i) * size_t(k) + size_t(q)] = u[size_t(q)].second;
  }
  return nb;
}

// Greedy edge: the shortest candidate edges that keep every degree <= 2 and close no
// cycle; the fragments left are chained nearest-endpoint first. Returns a node order.
// The fixed edges are taken before all others.
template <class D>
std::vector<int> greedy_tour(const D& dist, int m, const std::vector<int>& nb, int k, const Fixed& fixed) {
  struct Edge { double w; int a, b; };
  std::vector<Edge> edges;
  edges.reserve(size_t(m) * size_t(k));
  for (int i = 0; i < m; i++)
    for (int q = 0; q < k; q++) {
      const int j = nb[size_t(i) * size_t(k) + size_t(q)];
      edges.push_back({dist(i, j), std::min(i, j), std::max(i, j)});
    }
  std::sort(edges.begin(), edges.end(), [](const Edge& u, const Edge& v) {
    return u.w != v.w ? u.w < v.w : (u.a != v.a ? u.a < v.a : u.b < v.b);
  });
  std::vector<int> parent(static_cast<size_t>(m)), deg(static_cast<size_t>(m), 0);
  std::vector<std::array<int, 2>> adj(size_t(m), {-1, -1});
  std::iota(parent.begin(), parent.end(), 0);
  auto find = [&](int v) {
    while (parent[size_t(v)] != v) v = parent[size_t(v)] = parent[size_t(parent[size_t(v)])];
    return v;
  };
  auto join = [&](int a, int b) {
    parent[size_t(find(a))] = find(b);
    adj[size_t(a)][size_t(deg[size_t(a)]++)] = b;
    adj[size_t(b)][size_t(deg[size_t(b)]++)] = a;
  };
  for (int a = 0; a < m; a++)  // fixed edges: consistent (fixed_edges_problem), each once
    for (const int b : fixed.partner[size_t(a)])
      if (b > a) join(a, b);
  for (const Edge& e : edges) {
    if (deg[size_t(e.a)] >= 2 || deg[size_t(e.b)] >= 2) continue;
    if (find(e.a) == find(e.b)) continue;
    join(e.a, e.b);
  }
  // Chain the fragments: walk one to its other end, jump to the nearest free endpoint.
  std::vector<char> used(size_t(m), 0);
  std::vector<int> ends;  // endpoints of fragments (an isolated node is one, listed once)
  for (int i = 0; i < m; i++)
    if (deg[size_t(i)] < 2) ends.push_back(i);
  std::vector<int> order;
  order.reserve(size_t(m));
  int cur = ends.empty() ? 0 : ends[0];
  while (true) {
    int prev = -1;
    while (cur >= 0 && !used[size_t(cur)]) {  // walk the fragment from endpoint cur
      used[size_t(cur)] = 1;
      order.push_back(cur);
      int nxt = -1;
      for (int q = 0; q < deg[size_t(cur)]; q++)
        if (adj[size_t(cur)][size_t(q)] != prev && !used[size_t(adj[size_t(cur)][size_t(q)])])
          nxt = adj[size_t(cur)][size_t(q)];
      prev = cur;
      cur = nxt;
    }
    if (int(order.size()) == m) break;
    const int tail = order.back();
    int best = -1;
    double bw = 0;
    for (int e : ends) {
      if (used[size_t(e)]) continue;
      const double w = dist(tail, e);
      if (best < 0 || w < bw) best = e, bw = w;
    }
    cur = best;
  }
  return order;
}

// A tour as an array t with inverse pos. Every change is a reversal of a cyclic range
// of positions, recorded in a journal, so a rejected kick is undone exactly.
struct Tour {
  int n;
  std::vector<int> t, pos;
  std::vector<std::pair<int, int>> journal;  // (start position, length) of each reversal

  explicit Tour(const std::vector<int>& order) : n(int(order.size())), t(order), pos(order.size()) {
    for (int i = 0; i < n; i++) pos[size_t(t[size_t(i)])] = i;
  }
  int at(int p) const { return t[size_t(p >= n ? p - n : (p < 0 ? p + n : p))]; }
  int succ(int a) const { return at(pos[size_t(a)] + 1); }
  int pred(int a) const { return at(pos[size_t(a)] - 1); }
  // Positions from a's to b's, going forward, counting both: 1..n.
  int span(int pa, int pb) const { return ((pb - pa) % n + n) % n + 1; }

  void reverse_raw(int start, int len) {
    int i = start % n, j = (start + len - 1) % n;
    for (int k = 0; k < len / 2; k++) {
      std::swap(t[size_t(i)], t[size_t(j)]);
      pos[size_t(t[size_t(i)])] = i;
      pos[size_t(t[size_t(j)])] = j;
      if (++i == n) i = 0;
      if (--j < 0) j = n - 1;
    }
  }
  void reverse(int start, int len) {
    start = ((start % n) + n) % n;
    if (len < 2) return;
    reverse_raw(start, len);
    journal.emplace_back(start, len);
  }
  void undo() { undo_to(0); }
  // Undoes the reversals recorded after the first `mark` journal entries.
  void undo_to(size_t mark) {
    for (size_t q = journal.size(); q-- > mark;) reverse_raw(journal[q].first, journal[q].second);
    journal.resize(mark);
  }
  // 2-opt: edges (a,b), (c,d) with b = succ a, d = succ c become (a,c), (b,d);
  // the shorter of the paths b..c and d..a is reversed.
  void two_opt(int b, int c, int d) {
    const int len = span(pos[size_t(b)], pos[size_t(c)]);
    if (len <= n - len) reverse(pos[size_t(b)], len);
    else reverse(pos[size_t(d)], n - len);
  }
  // Adjacent blocks [X][Y] (X from position i, lengths lx, ly) become [Y][X], with X
  // reversed in place when flip_x ([Y][X']).
  void swap_blocks(int i, int lx, int ly, bool flip_x) {
    if (flip_x) {  // [X][Y] -> [Y'][X'] -> [Y][X']
      reverse(i, lx + ly);
      reverse(i, ly);
    } else {       // [X][Y] -> [X'][Y'] -> [Y][X]
      reverse(i, lx);
      reverse(i + lx, ly);
      reverse(i, lx + ly);
    }
  }
};

template <class D>
struct LocalSearch {
  const D& dist;
  int m, k;
  const std::vector<int>& nb;  // (m, k) nearest neighbours
  std::vector<double> nbd;     // (m, k) their distances
  Tour& tour;
  const Fixed& fixed;          // no move removes a fixed edge
  double eps;                  // improvements smaller than this are rounding noise
  std::deque<int> queue;       // nodes whose don't-look bit is off
  std::vector<char> queued;
  double delta = 0;            // length change since reset

  LocalSearch(const D& d, int m_, int k_, const std::vector<int>& nb_, Tour& t, const Fixed& f, double e)
      : dist(d), m(m_), k(k_), nb(nb_), nbd(nb_.size()), tour(t), fixed(f), eps(e), queued(size_t(m_), 0) {
    for (size_t q = 0; q < nb.size(); q++) nbd[q] = dist(int(q / size_t(k)), nb[q]);
  }

  void push(int a) {
    if (!queued[size_t(a)]) queued[size_t(a)] = 1, queue.push_back(a);
  }
  const int* neighbours(int a) const { return &nb[size_t(a) * size_t(k)]; }
  const double* neighbour_dist(int a) const { return &nbd[size_t(a) * size_t(k)]; }

  bool try_two_opt(int a) {
    for (int dir = 0; dir < 2; dir++) {
      const int b = dir == 0 ? tour.succ(a) : tour.pred(a);
      if (fixed(a, b)) continue;
      const double dab = dist(a, b);
      for (int q = 0; q < k; q++) {
        const int c = neighbours(a)[q];
        const double dac = neighbour_dist(a)[q];
        if (dac >= dab - eps) break;  // the new edge (a,c) must be shorter than (a,b)
        const int d = dir == 0 ? tour.succ(c) : tour.pred(c);
        if (c == b || d == a || fixed(c, d)) continue;
        const double change = dac + dist(b, d) - dab - dist(c, d);
        if (change >= -eps) continue;
        if (dir == 0) tour.two_opt(b, c, d);  // (a,b),(c,d) -> (a,c),(b,d)
        else tour.two_opt(a, d, c);           // (b,a),(d,c) -> (b,d),(a,c)
        delta += change;
        push(a), push(b), push(c), push(d);
        return true;
      }
    }
    return false;
  }

  // Moves the segment at positions i..i+len-1 (nodes s1..s2) between x and y = succ x,
  // as x s1..s2 y, or as x s2..s1 y when reversed.
  void move_segment(int i, int len, int x, bool reversed) {
    const int mlen = tour.span(i + len, tour.pos[size_t(x)]);  // M = succ(s2)..x
    const int rlen = m - len - mlen;                           // R = succ(x)..pred(s1)
    if (mlen <= rlen) tour.swap_blocks(i, len, mlen, false), reversed ? tour.reverse(i + mlen, len) : void();
    else tour.swap_blocks(i - rlen, rlen, len, false), reversed ? tour.reverse(i - rlen, len) : void();
  }

  bool try_or_opt(int a) {
    for (int len = 1; len <= kMaxSegment && len + 3 <= m; len++) {
      for (int side = 0; side < 2; side++) {  // a first or last in its segment
        const int i = side == 0 ? tour.pos[size_t(a)] : tour.pos[size_t(a)] - len + 1;
        const int s1 = tour.at(i), s2 = tour.at(i + len - 1);
        const int p = tour.at(i - 1), nx = tour.at(i + len);
        if (fixed(p, s1) || fixed(s2, nx)) continue;
        const double removed = dist(p, s1) + dist(s2, nx) - dist(p, nx);
        if (removed <= eps) continue;
        auto in_segment = [&](int v) { return tour.span(i < 0 ? i + m : i % m, tour.pos[size_t(v)]) <= len; };
        for (int end = 0; end < 2; end++) {  // the segment end that lands beside c
          const int e = end == 0 ? s1 : s2, o = end == 0 ? s2 : s1;
          for (int q = 0; q < k; q++) {
            const int c = neighbours(e)[q];
            const double dec = neighbour_dist(e)[q];
            if (dec >= removed - eps) break;
            if (in_segment(c)) continue;
            for (int after = 0; after < 2; after++) {  // insert on (c, succ c) or (pred c, c)
              const int x = after == 0 ? c : tour.pred(c), y = after == 0 ? tour.succ(c) : c;
              if (in_segment(x) || in_segment(y) || fixed(x, y)) continue;
              const int other = after == 0 ? y : x;  // the node beside o
              const double change = dec + dist(o, other) - dist(x, y) - removed;
              if (change >= -eps) continue;
              // x s1..s2 y when s1 is beside x; otherwise the segment goes in reversed
              const bool s1_by_x = (after == 0) == (end == 0);
              move_segment(i, len, x, !s1_by_x);
              delta += change;
              push(p), push(nx), push(s1), push(s2), push(x), push(y);
              return true;
            }
          }
        }
      }
    }
    return false;
  }

  // The LK move (Lin–Kernighan as a chain of 2-opt flips, depth-limited): remove (t1,t2),
  // add (t2,t3) from t2's candidates, remove (t3,t4) with t4 the neighbour of t3 that
  // closing with (t4,t1) makes a tour again, and do that flip; t4 is the next t2. The chain
  // goes on while the partial gain stays positive, trying the kLkBreadth best t3 (by
  // d(t3,t4) - d(t2,t3)) at the first levels and the best one deeper; the best closed tour
  // along it is kept, the rest undone. An edge added in the chain is not removed in it, a
  // removed one not added, and no fixed edge is removed. Sequential 3-opt moves (segment
  // insertion with or without reversal) are its depth 2 and 3.
  struct Lk {
    int t1 = 0;
    double best = 0;               // best closed gain so far
    size_t best_mark = 0;          // journal length at the best closed tour
    size_t best_touched = 0;
    std::vector<int> touched;      // t1, t2, then t3, t4 of each flip
    std::vector<std::pair<int, int>> added, removed;
  } lk;

  static bool has_edge(const std::vector<std::pair<int, int>>& es, int a, int b) {
    for (const auto& [u, v] : es)
      if ((u == a && v == b) || (u == b && v == a)) return true;
    return false;
  }

  bool lk_search(int t2, double g, int depth) {
    const int t1 = lk.t1;
    const bool fwd = tour.succ(t1) == t2;  // t2 follows t1 in the array's direction
    struct Choice { double v; int t3, t4; };
    std::array<Choice, kNeighbours> ch;
    int nc = 0;
    for (int q = 0; q < k; q++) {
      const int t3 = neighbours(t2)[q];
      const double g1 = g - neighbour_dist(t2)[q];
      if (g1 <= eps) break;
      if (t3 == t1 || t3 == (fwd ? tour.succ(t2) : tour.pred(t2))) continue;
      const int t4 = fwd ? tour.pred(t3) : tour.succ(t3);
      if (fixed(t3, t4) || has_edge(lk.added, t3, t4) || has_edge(lk.removed, t2, t3)) continue;
      const Choice c{dist(t3, t4) - neighbour_dist(t2)[q], t3, t4};
      int at = nc++;
      for (; at > 0 && ch[size_t(at - 1)].v < c.v; at--) ch[size_t(at)] = ch[size_t(at - 1)];
      ch[size_t(at)] = c;
    }
    const int breadth = std::min(nc, depth < int(kLkBreadth.size()) ? kLkBreadth[size_t(depth)] : 1);
    for (int b = 0; b < breadth; b++) {
      const auto [v, t3, t4] = ch[size_t(b)];
      const double gn = g + v, closed = gn - dist(t4, t1);
      // The chain can go on from t4 only if t4's nearest candidate leaves a positive gain;
      // when it cannot, the flip is made only if closing here is the best so far.
      const bool deeper = depth + 1 < kLkDepth && gn - neighbour_dist(t4)[0] > eps;
      if (!deeper && closed <= lk.best) continue;
      const size_t mark = tour.journal.size(), touched = lk.touched.size();
      if (fwd) tour.two_opt(t2, t4, t3);  // (t1,t2),(t4,t3) -> (t1,t4),(t2,t3)
      else tour.two_opt(t1, t3, t4);      // (t2,t1),(t3,t4) -> (t2,t3),(t1,t4)
      lk.added.emplace_back(t2, t3), lk.removed.emplace_back(t3, t4);
      lk.touched.push_back(t3), lk.touched.push_back(t4);
      if (closed > lk.best) lk.best = closed, lk.best_mark = tour.journal.size(), lk.best_touched = lk.touched.size();
      if (deeper && lk_search(t4, gn, depth + 1)) return true;
      if (lk.best > eps) return true;  // an improvement on this chain: keep its best
      tour.undo_to(mark);
      lk.added.pop_back(), lk.removed.pop_back();
      lk.touched.resize(touched);
    }
    return false;
  }

  bool try_lk(int t1) {
    for (int side = 0; side < 2; side++) {
      const int t2 = side == 0 ? tour.succ(t1) : tour.pred(t1);
      if (fixed(t1, t2)) continue;
      lk.t1 = t1, lk.best = eps, lk.best_mark = tour.journal.size(), lk.best_touched = 0;
      lk.touched.assign({t1, t2});
      lk.added.clear(), lk.removed.assign({{t1, t2}});
      if (!lk_search(t2, dist(t1, t2), 0)) continue;
      tour.undo_to(lk.best_mark);
      delta -= lk.best;
      for (size_t q = 0; q < lk.best_touched; q++) push(lk.touched[q]);
      return true;
    }
    return false;
  }

  void run() {
    while (!queue.empty()) {
      const int a = queue.front();
      queue.pop_front();
      queued[size_t(a)] = 0;
      if (try_two_opt(a) || try_or_opt(a) || try_lk(a)) push(a);
    }
  }

  // Double bridge z0 X Y z1 -> z0 Y X z1 (three edges change) on the blocks X, Y that
  // start at position i. Cyclically, swapping X,Y is swapping Y,R or R,X (R: the rest),
  // so the cheapest of the three is done.
  void double_bridge(int i, int lx, int ly) {
    const int lr = m - lx - ly;
    const int z0 = tour.at(i - 1), x1 = tour.at(i), xe = tour.at(i + lx - 1);
    const int y1 = tour.at(i + lx), ye = tour.at(i + lx + ly - 1), z1 = tour.at(i + lx + ly);
    delta += dist(z0, y1) + dist(ye, x1) + dist(xe, z1) - dist(z0, x1) - dist(xe, y1) - dist(ye, z1);
    if (lx + ly <= ly + lr && lx + ly <= lr + lx) tour.swap_blocks(i, lx, ly, false);
    else if (ly + lr <= lr + lx) tour.swap_blocks(i + lx, ly, lr, false);
    else tour.swap_blocks(i + lx + ly, lr, lx, false);
    push(z0), push(x1), push(xe), push(y1), push(ye), push(z1);
  }

  // True when the double bridge at i, lx, ly removes no fixed edge.
  bool bridge_free(int i, int lx, int ly) const {
    return !fixed(tour.at(i - 1), tour.at(i)) && !fixed(tour.at(i + lx - 1), tour.at(i + lx)) &&
           !fixed(tour.at(i + lx + ly - 1), tour.at(i + lx + ly));
  }

  // Segment kick: X and Y are short (1..kKickSegment nodes) and adjacent in the tour.
  // A kick that would remove a fixed edge is drawn again (a few times, then not made).
  void segment_kick(Rng& rng) {
    const int most = std::max(1, std::min(kKickSegment, (m - 2) / 2));
    for (int tries = 0; tries < 8; tries++) {
      // drawn last to first: the order GCC gave the arguments of the call this was before
      const int ly = 1 + rng.below(most), lx = 1 + rng.below(most), i = rng.below(m);
      if (bridge_free(i, lx, ly)) return double_bridge(i, lx, ly);
    }
  }

  // Only segment kicks: on the TSPLIB instances, a double bridge on three cut points close
  // in space but far apart in the tour bought less than its cost (reversals of up to half
  // the tour); the local search mostly undid it.
  void kick(Rng& rng) { segment_kick(rng); }
};

// Closed tour over m nodes (m > kExactMaxNodes + 0 or so): the heuristic.
template <class D>
std::vector<int> heuristic_tour(const D& dist, int m, const TspOptions& o, TspResult& res,
                                const std::vector<double>* xs, const std::vector<double>* ys) {
  const auto t0 = std::chrono::steady_clock::now();
  const int k = std::min(kNeighbours, m - 1);
  const std::vector<int> nb = merged_candidates(dist, m, k, xs, ys);
  const Fixed fixed(m, o.fixed_edges);
  Tour tour(greedy_tour(dist, m, nb, k, fixed));
  double total = 0;
  for (int i = 0; i < m; i++) total += dist(tour.t[size_t(i)], tour.at(i + 1));
  const double eps = 1e-9 * std::max(total / m, 1e-300);
  LocalSearch<D> ls(dist, m, k, nb, tour, fixed, eps);
  for (int i = 0; i < m; i++) ls.push(tour.t[size_t(i)]);
  ls.run();
  tour.journal.clear();
  const int64_t budget = o.kicks >= 0 ? o.kicks : kicks_for(m);
  // A kick that makes the tour at most `slack` longer is kept too (a random walk over
  // near-optimal tours escapes the traps where only equal tours are accepted); the best
  // tour seen is what a chain returns.
  const double slack = std::max(eps, kSlack * total / m);
  const int chains = budget > 0 ? kChains : 1;
  std::vector<std::vector<int>> best(static_cast<size_t>(chains));
  std::vector<double> best_len(size_t(chains), 0);
  std::vector<int64_t> done(size_t(chains), 0);
  std::vector<char> capped(size_t(chains), 0);
  // Independent chains from the same local optimum, chain c with its own stream of kicks;
  // their number does not depend on the thread count, so neither does the tour.
#pragma omp parallel for schedule(static, 1)
  for (int c = 0; c < chains; c++) {
    Tour tc = tour;
    LocalSearch<D> lc(dist, m, k, nb, tc, fixed, eps);
    Rng rng{o.seed + uint64_t(c) * 0xd1b54a32d192ed03ull};
    double cur = 0;
    best[size_t(c)] = tc.t;
    for (int64_t it = 0; it < budget; it++) {
      if ((it & 63) == 0 && o.time_limit_s > 0 &&
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > o.time_limit_s) {
        capped[size_t(c)] = 1;
        break;
      }
      lc.delta = 0;
      lc.kick(rng);
      lc.run();
      done[size_t(c)] = it + 1;
      if (lc.delta >= slack) {
        tc.undo();
        continue;
      }
      tc.journal.clear();
      cur += lc.delta;
      if (cur < best_len[size_t(c)] - eps) best_len[size_t(c)] = cur, best[size_t(c)] = tc.t;
    }
  }
  size_t pick = 0;
  for (size_t c = 0; c < size_t(chains); c++) {
    res.kicks_done += done[c];
    res.time_capped = res.time_capped || capped[c];
    if (best_len[c] < best_len[pick] - eps) pick = c;
  }
  return best[pick];
}

// Rotates a closed tour to start at `first`, the smaller neighbour of it second.
std::vector<int> canonical_cycle(const std::vector<int>& t, int first) {
  const size_t n = t.size(), p = size_t(std::find(t.begin(), t.end(), first) - t.begin());
  std::vector<int> out(n);
  for (size_t i = 0; i < n; i++) out[i] = t[(p + i) % n];
  if (n > 2 && out[n - 1] < out[1]) std::reverse(out.begin() + 1, out.end());
  return out;
}

// xs, ys: the nodes' coordinates when there are any (for the candidate lists).
template <class D>
TspResult solve(const D& dist, int n, const TspOptions& o, const std::vector<double>* xs = nullptr,
                const std::vector<double>* ys = nullptr) {
  TspResult res;
  if (const std::string why = fixed_edges_problem(n, o.fixed_edges, o.closed); !why.empty())
    bad_input("fixed edges: " + why);
  if (n <= 0) return res;
  const bool dummy = !o.closed && n > 1;
  const int m = n + (dummy ? 1 : 0);
  WithDummy<D> dd{dist, dummy ? n : -1};
  std::vector<int> cycle;
  if (n <= kExactMaxNodes) {
    cycle = held_karp(dd, m, Fixed(m, o.fixed_edges));
    res.exact = true;
  } else {
    cycle = heuristic_tour(dd, m, o, res, xs, ys);
  }
  if (dummy) {  // cut at the dummy; the smaller endpoint first
    std::vector<int> c = canonical_cycle(cycle, n);
    res.tour.assign(c.begin() + 1, c.end());
    if (res.tour.back() < res.tour.front()) std::reverse(res.tour.begin(), res.tour.end());
  } else {
    res.tour = canonical_cycle(cycle, 0);
  }
  if (!tour_uses_edges(res.tour, o.fixed_edges, o.closed)) internal_error("the tour lost a fixed edge");
  return res;
}

template <class D>
double length_of(const D& dist, const std::vector<int>& tour, bool closed) {
  double s = 0;
  for (size_t i = 1; i < tour.size(); i++) s += dist(tour[i - 1], tour[i]);
  if (closed && tour.size() > 1) s += dist(tour.back(), tour.front());
  return s;
}

}  // namespace

// Calls f with the CoordDist of c's metric.
template <class F>
auto with_metric(const Coordinates& c, F&& f) {
  switch (c.metric) {
    case Metric::kEuc2d: return f(CoordDist<Metric::kEuc2d>(c));
    case Metric::kCeil2d: return f(CoordDist<Metric::kCeil2d>(c));
    case Metric::kAtt: return f(CoordDist<Metric::kAtt>(c));
    case Metric::kGeo: return f(CoordDist<Metric::kGeo>(c));
    case Metric::kMan2d: return f(CoordDist<Metric::kMan2d>(c));
    case Metric::kMax2d: break;
  }
  return f(CoordDist<Metric::kMax2d>(c));
}

double tsplib_distance(const Coordinates& c, int i, int j) {
  const Coordinates two{c.metric, {c.x[size_t(i)], c.x[size_t(j)]}, {c.y[size_t(i)], c.y[size_t(j)]}};
  return with_metric(two, [](const auto& d) { return d(0, 1); });
}

// 100 kicks a node, at least 20,000 and at most 120,000 (pr2392: about 1.4 s on one core).
int64_t kicks_for(int n) { return std::clamp<int64_t>(20 * int64_t(n), 5000, 27000); }

std::vector<int> improve_tour(const DistanceMatrix& d, const std::vector<int>& start,
                              const std::vector<std::pair<int, int>>& fixed_edges) {
  const int m = d.n;
  if (!is_permutation_of(start, m))
    bad_input("improve_tour: the start is not a tour of all " + std::to_string(m) + " nodes");
  if (const std::string why = fixed_edges_problem(m, fixed_edges, true); !why.empty()) bad_input("fixed edges: " + why);
  if (!tour_uses_edges(start, fixed_edges, true)) bad_input("improve_tour: the start does not use every fixed edge");
  if (m <= 3) return start;  // one tour only
  const MatrixDist dist{d};
  const int k = std::min(kNeighbours, m - 1);
  const std::vector<int> nb = merged_candidates(dist, m, k, nullptr, nullptr);
  const Fixed fixed(m, fixed_edges);
  Tour tour(start);
  double total = 0;
  for (int i = 0; i < m; i++) total += dist(tour.t[size_t(i)], tour.at(i + 1));
  LocalSearch<MatrixDist> ls(dist, m, k, nb, tour, fixed, 1e-9 * std::max(total / m, 1e-300));
  do {  // until a pass from every node finds nothing: then no node's moves improve this tour
    ls.delta = 0;
    tour.journal.clear();
    for (int i = 0; i < m; i++) ls.push(tour.t[size_t(i)]);
    ls.run();
  } while (ls.delta < 0);
  return tour.t;
}

TspResult solve_tsp(const DistanceMatrix& d, const TspOptions& o) {
  TspResult r = solve(MatrixDist{d}, d.n, o);
  r.length = tour_length(d, r.tour, o.closed);
  return r;
}

TspResult solve_tsp(const Coordinates& c, const TspOptions& o) {
  TspResult r = with_metric(c, [&](const auto& d) { return solve(d, c.size(), o, &d.x, &d.y); });
  r.length = tour_length(c, r.tour, o.closed);
  return r;
}

double tour_length(const DistanceMatrix& d, const std::vector<int>& tour, bool closed) {
  return length_of(MatrixDist{d}, tour, closed);
}

double tour_length(const Coordinates& c, const std::vector<int>& tour, bool closed) {
  return length_of([&](int i, int j) { return tsplib_distance(c, i, j); }, tour, closed);
}

std::string fixed_edges_problem(int n, const std::vector<std::pair<int, int>>& edges, bool closed) {
  auto name = [](int a, int b) { return std::to_string(a + 1) + "-" + std::to_string(b + 1); };
  std::vector<int> deg(size_t(std::max(n, 0)), 0), parent(size_t(std::max(n, 0))), size(size_t(std::max(n, 0)), 1);
  std::iota(parent.begin(), parent.end(), 0);
  auto find = [&](int v) {
    while (parent[size_t(v)] != v) v = parent[size_t(v)] = parent[size_t(parent[size_t(v)])];
    return v;
  };
  std::vector<std::pair<int, int>> seen;
  for (const auto& [a, b] : edges) {
    if (a < 0 || a >= n || b < 0 || b >= n)
      return "edge " + name(a, b) + ": node out of 1.." + std::to_string(n);
    if (a == b) return "edge " + name(a, b) + " joins a node to itself";
    seen.emplace_back(std::min(a, b), std::max(a, b));
  }
  std::sort(seen.begin(), seen.end());
  for (size_t q = 1; q < seen.size(); q++)
    if (seen[q] == seen[q - 1]) return "edge " + name(seen[q].first, seen[q].second) + " given twice";
  for (const auto& [a, b] : edges) {
    for (const int v : {a, b})
      if (++deg[size_t(v)] > 2) return "node " + std::to_string(v + 1) + " is on three fixed edges";
    const int ra = find(a), rb = find(b);
    if (ra != rb) {
      size[size_t(rb)] += size[size_t(ra)];
      parent[size_t(ra)] = rb;
      continue;
    }
    // {a, b} closes a cycle: with degrees <= 2, a's whole component is that cycle
    const int len = size[size_t(ra)];
    if (len < n) return "edge " + name(a, b) + " closes a subtour of " + std::to_string(len) + " of the " +
                        std::to_string(n) + " nodes";
    if (!closed) return "they form a closed tour, which an open path cannot hold";
  }
  return "";
}

bool tour_uses_edges(const std::vector<int>& tour, const std::vector<std::pair<int, int>>& edges, bool closed) {
  const int n = int(tour.size());
  std::vector<int> pos(size_t(n), -1);
  for (int i = 0; i < n; i++)
    if (tour[size_t(i)] >= 0 && tour[size_t(i)] < n) pos[size_t(tour[size_t(i)])] = i;
  for (const auto& [a, b] : edges) {
    if (a < 0 || a >= n || b < 0 || b >= n || pos[size_t(a)] < 0 || pos[size_t(b)] < 0) return false;
    const int gap = std::abs(pos[size_t(a)] - pos[size_t(b)]);
    if (gap != 1 && !(closed && n > 2 && gap == n - 1)) return false;
  }
  return true;
}

bool is_permutation_of(const std::vector<int>& tour, int n) {
  if (int(tour.size()) != n) return false;
  std::vector<char> seen(size_t(n), 0);
  for (int v : tour) {
    if (v < 0 || v >= n || seen[size_t(v)]) return false;
    seen[size_t(v)] = 1;
  }
  return true;
}

}  // namespace pw::sched
