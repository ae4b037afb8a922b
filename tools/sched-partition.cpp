// sched-partition: group devices into pipeline stages (a balanced partition into S
// groups of D devices) minimising DT-FM's cost; see man/sched-partition.1.
#include <chrono>

#include "cli/cli.hpp"
#include "core/error.hpp"
#include "io/file.hpp"
#include "sched/sched_cli.hpp"

using namespace pw;
using namespace pw::sched;

int main(int argc, char** argv) {
  CLI::App app{"Group the devices of a topology into pipeline stages of equal size (S groups of D devices), "
               "minimising DT-FM's cost = DataPCost + 2 x PipelinePCost. Writes a partition (binary, or JSON with "
               "--json) with -o, and prints the stages and the cost breakdown.",
               "sched-partition"};
  CommonOptions common;
  InputOptions input;
  SearchFlags flags;
  std::string topology, out;
  int baseline = 0;
  app.add_option("TOPOLOGY", topology, "Topology file, binary or JSON ('-': stdin)");
  app.add_option("-o,--output", out, "Write the partition (.pwg) here ('-': stdout)");
  add_input_options(app, input);
  add_search_options(app, flags);
  app.add_option("--random-baseline", baseline, "Also report the mean cost of N random partitions")->check(CLI::Range(0, 100000));
  add_common_options(app, common, kOptThreads | kOptJson | kOptQuiet | kOptForce);
  return run_tool("sched-partition", argc, argv, app, [&]() -> int {
    apply_common_options(common);
    if (!out.empty()) check_output_path(out, {topology, input.scenarios}, common.force);
    Problem p = load_input(topology, input);
    check_memory_fits(p);
    const CostModel m(p);
    SearchOptions so = search_options(flags);
    Progress progress(common, so.starts, "starts");
    so.progress = [&](int done, int, double best) { progress.update(done, "best " + std::to_string(best) + " s"); };
    const auto t0 = std::chrono::steady_clock::now();
    const Plan plan = search_schedule(p, m, so);
    progress.finish();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!out.empty()) {
      const auto bytes = partition_bytes(p, plan, flags.seed, common.json);
      write_file_atomic(out, bytes.data(), bytes.size(), common.json);
    }
    if (out.empty() || (out != "-" && !common.quiet)) {
      std::string text = partition_text(p, plan);
      if (out.empty() && common.json) {
        const auto bytes = partition_bytes(p, plan, flags.seed, true);
        text = std::string(bytes.begin(), bytes.end());
      }
      std::fputs(text.c_str(), stdout);
    }
    if (baseline > 0)
      note(common, "random partitions: mean cost " + std::to_string(random_assignment_mean(m, baseline, flags.seed)) + " s over " +
                       std::to_string(baseline));
    note(common, "searched in " + std::to_string(seconds) + " s");
    return kExitOk;
  });
}
