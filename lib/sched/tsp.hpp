// The travelling salesman solver behind sched-tsp: closed tours and open paths
// (Hamiltonian paths with free endpoints, the "open-loop TSP" of DT-FM's coarsened graph).
//
// Up to kExactMaxNodes nodes: Held–Karp dynamic programming, exact. Beyond: a greedy-edge
// start, then 2-opt, Or-opt (segments of 1–3 nodes moved, possibly reversed) and an LK move
// (Lin–Kernighan as a depth-limited chain of 2-opt flips) over alpha-nearness and quadrant
// candidate lists with don't-look bits, then iterated local search in two independent
// chains: a double-bridge kick on two short adjacent segments at a random place,
// re-optimised locally from the kick's endpoints only,
// kept when the tour grew by less than a tenth of a mean edge (the best tour either chain
// saw is returned). sched-tsp(1), TSPLIB MODE, describes the same in full.
//
// Fixed edges (TSPLIB's FIXED_EDGES_SECTION): edges every tour must use. The greedy start
// takes them first, Held–Karp only extends paths that keep them, and every improving move
// and every kick that would remove one is not made (sched-tsp(1), TSPLIB MODE).
//
// Determinism: the number of kicks is a budget derived from n (kicks_for), never from the
// clock, and the two chains are two whatever the thread count, so a seed always gives the
// same tour. time_limit_s is only a safety cap: when it
// triggers, the result says so (time_capped) and the tour then depends on the machine.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pw::sched {

// Symmetric distances, row-major n×n: d[i*n + j] = cost of the edge {i, j}.
struct DistanceMatrix {
  int n = 0;
  std::vector<double> d;
  double operator()(int i, int j) const { return d[size_t(i) * size_t(n) + size_t(j)]; }
};

struct TspOptions {
  bool closed = true;          // false: open path, both endpoints free
  uint64_t seed = 1;
  double time_limit_s = 1.0;   // safety cap only; <= 0: no cap
  int64_t kicks = -1;          // kicks of each chain of the iterated local search; -1: kicks_for(n)
  std::vector<std::pair<int, int>> fixed_edges;  // 0-based node pairs every tour must use
};

struct TspResult {
  std::vector<int> tour;       // a permutation of 0..n-1; for an open path, in path order
  double length = 0;           // closed: n edges (back to the start); open: n-1 edges
  bool exact = false;          // true when proved optimal (Held–Karp)
  bool time_capped = false;    // the time cap stopped the kicks before the budget
  int64_t kicks_done = 0;      // both chains together
};

inline constexpr int kExactMaxNodes = 16;

// Node coordinates with one of TSPLIB95's integer distance functions, for instances
// too large for a full matrix; distances are computed on the fly.
enum class Metric { kEuc2d, kCeil2d, kAtt, kGeo, kMan2d, kMax2d };

struct Coordinates {
  Metric metric = Metric::kEuc2d;
  std::vector<double> x, y;    // one per node; GEO: TSPLIB's DDD.MM latitude (x), longitude (y)
  int size() const { return int(x.size()); }
};

// TSPLIB95's distance between nodes i and j (its nint/ceil/ATT/GEO formulas).
double tsplib_distance(const Coordinates& c, int i, int j);

// Why `edges` cannot all lie on one tour of n nodes (closed) or one path (open), or "" when
// they can: a node out of 0..n-1, an edge from a node to itself, an edge given twice, a node
// on three edges, a cycle (one through all n nodes is the closed tour itself). Names nodes
// 1-based, as TSPLIB does.
std::string fixed_edges_problem(int n, const std::vector<std::pair<int, int>>& edges, bool closed);

// True when every edge of `edges` joins two neighbours of `tour` (closed: last and first too).
bool tour_uses_edges(const std::vector<int>& tour, const std::vector<std::pair<int, int>>& edges, bool closed);

// Open (closed=false): Hamiltonian path with free endpoints minimising the sum of its edges.
// Fixed edges that fixed_edges_problem refuses are bad input (exit 3).
TspResult solve_tsp(const DistanceMatrix& d, const TspOptions& o);
TspResult solve_tsp(const Coordinates& c, const TspOptions& o);

// The local search alone, no kicks: 2-opt, Or-opt and the LK move (sched-tsp(1), TSPLIB
// MODE) from `start`, a closed tour of all d.n nodes that uses every fixed edge, until a
// pass from every node finds no improving move. Never longer than `start`; keeps the fixed edges; deterministic. A
// start that is no such tour is bad input (exit 3).
std::vector<int> improve_tour(const DistanceMatrix& d, const std::vector<int>& start,
                              const std::vector<std::pair<int, int>>& fixed_edges = {});

// The kick budget of each of the two kick chains for n nodes when TspOptions::kicks is -1.

int64_t kicks_for(int n);

// Length of `tour` under d (closed: including the edge back to the start), summed in
// tour order; independent of the solver, for checks.
double tour_length(const DistanceMatrix& d, const std::vector<int>& tour, bool closed);
double tour_length(const Coordinates& c, const std::vector<int>& tour, bool closed);

// True when `tour` holds each of 0..n-1 exactly once.
bool is_permutation_of(const std::vector<int>& tour, int n);

}  // namespace pw::sched
