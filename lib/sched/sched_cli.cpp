#include "sched/sched_cli.hpp"

#include "core/error.hpp"

namespace pw::sched {

void add_input_options(CLI::App& app, InputOptions& o) {
  app.add_option("--scenarios", o.scenarios, "Read the problem from a DT-FM scenarios file (with --scenario)");
  app.add_option("--scenario", o.scenario, "The case of the scenarios file, e.g. case5-worldwide");
  app.add_option("--stages", o.ov.stages, "Pipeline stages S (overrides the file)")->check(CLI::Range(1, kMaxDevices));
  app.add_option("--data-parallel", o.ov.data_parallel, "Data-parallel replicas D; S x D must be the number of devices")
      ->check(CLI::Range(1, kMaxDevices));
  app.add_option("--activation-gb", o.ov.activation_gb, "GB one stage sends the next per iteration")->check(CLI::NonNegativeNumber);
  app.add_option("--gradient-gb", o.ov.gradient_gb, "GB one stage all-reduces per iteration")->check(CLI::NonNegativeNumber);
  app.add_option("--compute-s", o.ov.compute_s, "Seconds of compute per stage per iteration at speed 1")->check(CLI::NonNegativeNumber);
  app.add_option("--stage-memory-gb", o.ov.stage_memory_gb, "Memory a stage needs on each of its devices")
      ->check(CLI::NonNegativeNumber);
}

void add_search_options(CLI::App& app, SearchFlags& f) {
  app.add_option("--seed", f.seed, "Seed of the search (the result depends only on it and the input)");
  app.add_option("--effort", f.effort, "Scales the number of moves (default 1)")->check(CLI::Range(0.0, 1000.0));
  app.add_option("--starts", f.starts, "Independent starts, cycling transposed, region-aware, random (default 6)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--objective", f.objective, "cost: DT-FM's cost (default); iteration: cost + compute")
      ->check(CLI::IsMember({"cost", "iteration"}));
  app.add_option("--construction", f.constructions, "Start only from these: transposed, region-aware, random (comma-separated)")
      ->delimiter(',')
      ->check(CLI::IsMember({"transposed", "region-aware", "random"}));
}

SearchOptions search_options(const SearchFlags& f) {
  SearchOptions o;
  o.seed = f.seed;
  o.effort = f.effort;
  o.starts = f.starts;
  o.with_compute = f.objective == "iteration";
  for (const std::string& c : f.constructions) o.constructions.push_back(parse_construction(c));
  return o;
}

Problem load_input(const std::string& topology, const InputOptions& o) {
  if (!o.scenarios.empty() || !o.scenario.empty()) {
    if (!topology.empty()) usage_error("give a topology file or --scenarios/--scenario, not both");
    if (o.scenarios.empty() || o.scenario.empty()) usage_error("--scenarios FILE and --scenario NAME go together");
    return read_scenario(o.scenarios, o.scenario, o.ov);
  }
  if (topology.empty()) usage_error("no input: give a topology file or --scenarios FILE --scenario NAME");
  return read_topology_file(topology, o.ov);
}

void check_memory_fits(const Problem& p) {
  const double need = p.work.stage_memory_gb;
  if (need <= 0) return;
  for (const Device& d : p.devices)
    if (d.memory_gb > 0 && d.memory_gb < need)
      throw Error(kExitNo, "no schedule fits: device " + d.name + " has " + std::to_string(d.memory_gb) +
                               " GB, a stage needs " + std::to_string(need) + " GB on every device");
}

}  // namespace pw::sched
