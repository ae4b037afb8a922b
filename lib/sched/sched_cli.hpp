// Options shared by sched-partition and sched-tsp: where the problem comes from (a
// topology file or a case of the DT-FM scenarios file), the workload overrides, and
// the search settings.
#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "sched/schedule.hpp"

namespace pw::sched {

struct InputOptions {
  std::string scenarios, scenario;
  WorkloadOverrides ov;
};

struct SearchFlags {
  uint64_t seed = 1;
  double effort = 1.0;
  int starts = 6;
  std::string objective = "cost";
  std::vector<std::string> constructions;
};

void add_input_options(CLI::App& app, InputOptions& o);
void add_search_options(CLI::App& app, SearchFlags& f);
SearchOptions search_options(const SearchFlags& f);

// The problem from `topology` (a file) or --scenarios/--scenario; usage error when
// neither or both are given.
Problem load_input(const std::string& topology, const InputOptions& o);

// With a stage memory need, every device must hold a stage (each device serves one):
// otherwise no schedule exists, and the answer is "no" (exit 1).
void check_memory_fits(const Problem& p);

}  // namespace pw::sched
