// The partition search of sched-partition and the joint loop of sched-tsp (proofwork(7),
// SCHEDULING):
// devices into S stage groups of D, minimising DT-FM's cost (lib/sched/cost.hpp).
//
// Several starts (transposed, region-aware, random constructions), each improved by
// simulated annealing over swaps, bottleneck-targeted swaps, block swaps of several
// devices between two groups and 3-cycles among three groups (the objective is a max,
// so single swaps stall on plateaus). The annealer keeps the groups in a pipeline order
// and prices a move with the path through that order; between rounds the joint loop
// recomputes the coarsened graph (bottleneck matchings between all pairs of groups),
// orders it by the open-loop TSP (solve_tsp), and continues from the reordered groups,
// so the pipeline cost feeds back into the partition. All randomness comes from the
// seed and the move budget is a count, never the clock: a seed gives one result on any
// machine and any thread count.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sched/cost.hpp"

namespace pw::sched {

enum class Construction { kTransposed, kRegionAware, kRandom };
const char* construction_name(Construction c);
Construction parse_construction(const std::string& name);  // usage error when unknown

// Stage groups built by one construction (devices ordered by group, then index).
std::vector<Group> construct(const Problem& p, Construction c, uint64_t seed);

struct Plan {
  std::vector<Group> stages;    // pipeline order; stages[k][i] is replica i's device at stage k
  CostBreakdown cost;
  std::vector<double> matching; // S-1 bottleneck matchings along the pipeline
  bool order_exact = false;     // the stage order is a proven optimum (Held–Karp)
  std::string start;            // the construction the result came from
};

// Orders given groups by the open-loop TSP over their coarsened graph and aligns the
// replicas along the bottleneck matchings. The groups themselves are not changed.
Plan order_pipeline(const CostModel& m, const std::vector<Group>& groups, uint64_t seed);

struct SearchOptions {
  uint64_t seed = 1;
  double effort = 1.0;          // scales the move budget (time grows linearly)
  int starts = 6;               // constructions cycle transposed, region-aware, random
  std::vector<Construction> constructions;  // empty: that cycle; else only these, cycled
  int rounds = 4;               // joint-loop rounds per start (anneal, then reorder by TSP)
  bool with_compute = false;    // minimise iteration time (cost + compute), not cost alone
  // Called after each start with (starts done, total, best objective so far).
  std::function<void(int, int, double)> progress;
};

Plan search_schedule(const Problem& p, const CostModel& m, const SearchOptions& o);

// Improves given groups (a partition read from a file) by the joint loop alone.
Plan refine_schedule(const Problem& p, const CostModel& m, const std::vector<Group>& groups, const SearchOptions& o);

// Mean cost of `samples` uniformly random partitions, each ordered by the TSP: the
// baseline a scheduler must beat.
double random_assignment_mean(const CostModel& m, int samples, uint64_t seed);

// Moves per joint-loop round for n devices at effort 1.
int64_t moves_per_round(int n, int S);

}  // namespace pw::sched
