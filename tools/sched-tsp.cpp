// sched-tsp: order pipeline stages by an open-loop TSP; with --tsplib, solve a TSPLIB95
// instance so the solver can be checked against published optima.
#include "cli/cli.hpp"
#include "core/error.hpp"
#include "io/file.hpp"
#include "sched/sched_cli.hpp"
#include "sched/tsplib.hpp"

using namespace pw;

namespace {

// The schedule mode (proofwork(7), SCHEDULING): bottleneck matchings between the partition's
// groups, the open-loop TSP over them, the joint loop (unless --no-refine), the replicas
// and the cost breakdown, and what a k-times slower network does to the iteration.
struct ScheduleFlags {
  std::string partition;
  sched::InputOptions input;
  sched::SearchFlags search;
  bool no_refine = false;
  std::vector<double> slowdown = {10, 100};
};

int schedule_mode(const ScheduleFlags& f, uint64_t seed, const std::string& out, const CommonOptions& common, bool topology) {
  check_output_path(out, {f.partition, f.input.scenarios}, common.force);
  sched::SearchFlags sf = f.search;
  sf.seed = seed;
  sched::SearchOptions so = sched::search_options(sf);
  sched::Problem p;
  sched::Plan plan;
  const bool from_partition = !topology && !f.partition.empty() && f.input.scenarios.empty() && f.input.scenario.empty();
  if (from_partition) {
    sched::PartitionFile pf = sched::read_partition_file(f.partition);
    p = std::move(pf.problem);
    sched::check_memory_fits(p);
    const sched::CostModel m(p);
    plan = f.no_refine ? sched::order_pipeline(m, pf.groups, seed) : sched::refine_schedule(p, m, pf.groups, so);
    if (f.no_refine) plan.start = "given";
  } else {  // a topology or a scenario: partition and order in one run
    p = sched::load_input(f.partition, f.input);
    sched::check_memory_fits(p);
    const sched::CostModel m(p);
    Progress progress(common, so.starts, "starts");
    so.progress = [&](int done, int, double best) { progress.update(done, "best " + std::to_string(best) + " s"); };
    plan = sched::search_schedule(p, m, so);
    progress.finish();
  }
  const auto slow = sched::slowdown_report(p, plan, f.slowdown);
  const std::string text = sched::schedule_text(p, plan, slow);
  if (out == "-") {
    if (common.json) {
      const auto bytes = sched::schedule_bytes(p, plan, slow, seed, true);
      write_file_atomic("-", bytes.data(), bytes.size(), true);
    } else {
      write_file_atomic("-", text.data(), text.size(), true);
    }
    return kExitOk;
  }
  const auto bytes = sched::schedule_bytes(p, plan, slow, seed, common.json);
  write_file_atomic(out, bytes.data(), bytes.size(), common.json);
  if (!common.quiet) std::fputs(text.c_str(), stdout);
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Order pipeline stages by an open-loop TSP over the coarsened device graph. With --tsplib, solve a "
               "TSPLIB95 instance instead: print 'length L', then the tour, one TSPLIB node id a line.",
               "sched-tsp"};
  CommonOptions common;
  std::string tsplib, out = "-";
  bool closed = false;
  uint64_t seed = 1;
  double time_limit = 10.0;
  int64_t kicks = -1;
  app.add_option("--tsplib", tsplib, "Solve this TSPLIB95 .tsp file ('-': stdin)");
  app.add_flag("--closed", closed, "With --tsplib: a closed tour (default: an open path with free endpoints)");
  app.add_option("--seed", seed, "Seed of the iterated local search (same seed, same tour)");
  app.add_option("--time-limit", time_limit,
                 "Safety cap in seconds on the local search (0: none); the kick budget, not the clock, ends a "
                 "normal run, and a run stopped by the cap says so")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--kicks", kicks,
                 "Kicks of each of the two chains of the iterated local search (default: a budget derived from "
                 "the number of nodes); more kicks, better tours, longer runs")
      ->check(CLI::NonNegativeNumber);
  app.add_option("-o,--output", out, "Output file: the schedule (.pws), or with --tsplib the tour ('-': stdout)");
  ScheduleFlags sf;
  app.add_option("PARTITION", sf.partition,
                 "Partition (.pwg) from sched-partition, binary or JSON; with --from-topology a topology file");
  sched::add_input_options(app, sf.input);
  app.add_option("--effort", sf.search.effort, "Joint loop / search: scales the number of moves (default 1)")
      ->check(CLI::Range(0.0, 1000.0));
  app.add_option("--starts", sf.search.starts, "Without a partition: independent starts of the search (default 6)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--objective", sf.search.objective, "cost: DT-FM's cost (default); iteration: cost + compute")
      ->check(CLI::IsMember({"cost", "iteration"}));
  app.add_flag("--no-refine", sf.no_refine, "Only order the given partition's groups; no joint loop");
  app.add_option("--slowdown", sf.slowdown, "Report the iteration time on networks this many times slower (default 10,100)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  bool from_topology = false;
  app.add_flag("--from-topology", from_topology, "PARTITION is a topology file: partition and order in one run");
  add_common_options(app, common, kOptThreads | kOptJson | kOptQuiet | kOptForce);
  return run_tool("sched-tsp", argc, argv, app, [&]() -> int {
    apply_common_options(common);
    if (tsplib.empty()) {
      if (from_topology && sf.partition.empty()) usage_error("--from-topology needs a topology file");
      if (!from_topology && sf.partition.empty() && sf.input.scenarios.empty())
        usage_error("give a PARTITION, --from-topology TOPOLOGY, --scenarios FILE --scenario NAME, or --tsplib FILE.tsp");
      if (from_topology) {  // load_input reads the positional file as a topology
        ScheduleFlags g = sf;
        g.input.scenarios.clear();
        g.input.scenario.clear();
        return schedule_mode(g, seed, out, common, true);
      }
      return schedule_mode(sf, seed, out, common, false);
    }
    if (!sf.partition.empty() || !sf.input.scenarios.empty()) usage_error("--tsplib takes no partition or scenario");
    check_output_path(out, {tsplib}, common.force);
    const sched::TsplibRun run = sched::run_tsplib(tsplib, closed, seed, time_limit, kicks);
    if (run.result.time_capped)
      note(common, "sched-tsp: time limit of " + std::to_string(time_limit) + " s reached after " +
                       std::to_string(run.result.kicks_done) + " kicks; this tour depends on the machine's speed");
    const std::string text = sched::format_tsplib_run(run, common.json);
    write_file_atomic(out, text.data(), text.size(), true);
    return kExitOk;
  });
}
