// pol-profile: the verifier's noise profile. Replays sampled segments of an honest
// fast-mode proof under every source of nondeterminism this machine reaches, measures
// the distances, and writes the tolerance thresholds pol-verify --profile applies.
#include "cli/cli.hpp"
#include "core/error.hpp"
#include "io/message.hpp"
#include "verify/profile.hpp"

using namespace pw;

int main(int argc, char** argv) {
  CLI::App app{"Profile the replay noise of a fast-mode task: replay sampled segments of PROOF_DIR (an honest proof) "
               "with every thread count and fast-mode kernel variant given, and in exact mode, measure l1, l2, linf "
               "and cosine distances per tensor and for the whole model, and derive thresholds by the rule in "
               "pol-profile(1). The profile keeps every measurement, the cost per step and the FLOP budget check.",
               "pol-profile"};
  CommonOptions common;
  std::string task_path, dir, out;
  ProfileOptions opt;
  app.add_option("TASK", task_path, "Task file (binary or JSON), in fast mode")->required();
  app.add_option("PROOF_DIR", dir, "An honest proof of TASK (the profile then serves TASK under any seed)")->required();
  app.add_option("-o,--output", out, "Profile file (binary; JSON with --json)")->required();
  app.add_option("--segments", opt.segments, "Segments to replay: 0, the last, and the rest drawn from --beacon")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--beacon", opt.beacon, "Text that draws the sampled segments")->capture_default_str();
  app.add_option("--replay-threads", opt.threads, "Thread counts to replay with (default: 1 and --threads)")
      ->check(CLI::Range(1, 4096));
  app.add_option("--panels", opt.panels, "Fast-mode GEMM panel lengths to replay with")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  bool no_exact = false;
  app.add_flag("--no-exact", no_exact, "Do not replay in exact mode as one more source");
  app.add_option("--factor", opt.factor, "threshold = factor x max measured + floor")->capture_default_str();
  app.add_option("--floor", opt.floor_rel, "floor = this x the state's own norm (squared for cosine)")
      ->capture_default_str();
  app.add_option("--sample-share", opt.sample_share,
                 "Write a profile of the old sampleShare rule instead (format 1's): at verification every threshold "
                 "also allows this many samples' share (update / batch) of the replayed update, in every direction. "
                 "An adversary can steer by that much (pol-forge --steer); for comparisons only")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  std::string rule = "flipSpan";
  app.add_option("--rule", rule,
                 "flipSpan: the observed flips' bound only along their own vectors, the rest of each residual held to "
                 "the thresholds; observed: the flips' bound in every direction (format 2's rule, for comparisons)")
      ->check(CLI::IsMember({"flipSpan", "observed"}))
      ->capture_default_str();
  app.add_option("--alignment-max", opt.alignment_max,
                 "Largest mean cosine between consecutive replayed segments' residuals pol-verify accepts")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--data-dir", opt.data_dir, "Find the dataset files in this directory (by base name)");
  add_common_options(app, common, kOptAll | kOptForce);

  return run_tool("pol-profile", argc, argv, app, [&]() -> int {
    apply_common_options(common, true);
    opt.exact = !no_exact;
    opt.span = rule == "flipSpan";
    opt.cuda = common.device == DeviceKind::Cuda;
    check_output_path(out, {task_path}, common.force);
    check_output_outside(out, dir);
    LoadedTask task = load_task(task_path);
    Progress progress(common, 0, "replay");
    capnp::MallocMessageBuilder mb;
    make_profile(task, dir, opt, mb, [&](size_t done, size_t total) {
      progress.set_total(int64_t(total));
      progress.update(int64_t(done));
    });
    progress.finish();
    write_message<schema::Profile>(out, mb, common.json);
    note(common, profile_summary(mb.getRoot<schema::Profile>().asReader()));
    return kExitOk;
  });
}
