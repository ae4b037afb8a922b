// sched-tsp: order pipeline stages by an open-loop TSP; with --tsplib, solve a TSPLIB95
// instance so the solver can be checked against published optima.
#include "cli/cli.hpp"
#include "core/error.hpp"
#include "io/file.hpp"
#include "sched/tsplib.hpp"

using namespace pw;

int main(int argc, char** argv) {
  CLI::App app{"Order pipeline stages by an open-loop TSP over the coarsened device graph. With --tsplib, solve a "
               "TSPLIB95 instance instead: print 'length L', then the tour, one TSPLIB node id a line.",
               "sched-tsp"};
  CommonOptions common;
  std::string tsplib, out = "-";
  bool closed = false;
  uint64_t seed = 1;
  double time_limit = 10.0;
  app.add_option("--tsplib", tsplib, "Solve this TSPLIB95 .tsp file ('-': stdin)");
  app.add_flag("--closed", closed, "With --tsplib: a closed tour (default: an open path with free endpoints)");
  app.add_option("--seed", seed, "Seed of the iterated local search (same seed, same tour)");
  app.add_option("--time-limit", time_limit,
                 "Safety cap in seconds on the local search (0: none); the kick budget, not the clock, ends a "
                 "normal run, and a run stopped by the cap says so")
      ->check(CLI::NonNegativeNumber);
  app.add_option("-o,--output", out, "Output file ('-': stdout)");
  add_common_options(app, common, kOptJson | kOptQuiet | kOptForce);
  return run_tool("sched-tsp", argc, argv, app, [&]() -> int {
    if (tsplib.empty()) usage_error("give --tsplib FILE.tsp");
    check_output_path(out, {tsplib}, common.force);
    const sched::TsplibRun run = sched::run_tsplib(tsplib, closed, seed, time_limit);
    if (run.result.time_capped)
      note(common, "sched-tsp: time limit of " + std::to_string(time_limit) + " s reached after " +
                       std::to_string(run.result.kicks_done) + " kicks; this tour depends on the machine's speed");
    const std::string text = sched::format_tsplib_run(run, common.json);
    write_file_atomic(out, text.data(), text.size(), true);
    return kExitOk;
  });
}
