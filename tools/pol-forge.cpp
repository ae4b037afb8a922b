// pol-forge: dishonest proofs, for testing verifiers and bisection. pol-train's
// session with one or more forgeries (proof/forge.hpp); the manifest says nothing of them.
#include "cli/train_cli.hpp"
#include "proof/forge.hpp"
#include "proof/task_file.hpp"
#include "io/file.hpp"
#include "verify/steer.hpp"

using namespace pw;

int main(int argc, char** argv) {
  CLI::App app{"Write a dishonest proof of learning of a proofwork task, for testing verifiers and bisection: "
               "trained as pol-train would, with the forgeries given, and recorded as if honest.",
               "pol-forge"};
  TrainOptions o;
  add_train_options(app, o);
  Forgery f;
  std::string fault;
  uint64_t init_seed = 0, order_seed = 0;
  const std::string forge = "Forgeries (any combination; give the same again to resume)";
  app.add_option("--inject-fault", fault,
                 "Perturb element ELEMENT of the first output of op OP (tape index) in step STEP: STEP:OP:ELEMENT")
      ->group(forge);
  app.add_option("--skip-step", f.skip_step, "Run step S but discard its update")->group(forge);
  app.add_option("--init-seed", init_seed, "Draw the initial weights from this seed instead of the task's")->group(forge);
  app.add_option("--order-seed", order_seed, "Train on (and record) the batch order of this seed instead of the task's")
      ->group(forge);
  app.add_option("--dishonest-data-dir", f.other_data, "Train on the IDX files of this directory, unchecked")->group(forge);
  app.add_option("--skip-segment", f.skip_segments,
                 "Discard every step of segment I (checkpoint I copied forward as I+1); repeatable")
      ->group(forge);
  app.add_option("--perturb-segment", f.perturb_segments,
                 "After the first step of segment I, add --dress-noise (default 1e-3) to every parameter; repeatable")
      ->group(forge);
  app.add_option("--reuse-samples", f.reuse_samples,
                 "In every step, train on the batch with its last K samples replaced by copies of its first K "
                 "(their work saved, the batch order recorded as the task's)")
      ->group(forge);
  app.add_option("--extrapolate-segment", f.extrapolate_segments,
                 "Do not train segment I (I >= 1): write its end as its start plus segment I-1's change; repeatable")
      ->group(forge);
  app.add_flag("--interpolate", f.interpolate,
               "Write checkpoints 1..C-1 as linear interpolations between the initial and the final state")
      ->group(forge);
  app.add_option("--lr-scale", f.lr_scale, "Train with the task's learning rate times X")
      ->check(CLI::NonNegativeNumber)
      ->group(forge);
  app.add_option("--shortcut", f.shortcut, "Apply only every M-th step, with M times the learning rate")
      ->check(CLI::PositiveNumber)
      ->group(forge);
  app.add_option("--dress-noise", f.dress_noise,
                 "Uniform noise of this amplitude on every parameter after each step not applied (--shortcut, "
                 "--skip-step, --skip-segment), and the amplitude of --perturb-segment")
      ->check(CLI::NonNegativeNumber)
      ->group(forge);

  std::string steer, profile_path, steer_log;
  app.add_option("--steer", steer,
                 "Fast mode, the adaptive adversary: train each segment honestly, then add to the checkpoint the largest "
                 "edit in DIRECTION (shrink, grow, noise, backdoor) that --profile's rule accepts, times FRACTION: "
                 "DIRECTION:FRACTION")
      ->group(forge);
  app.add_option("--profile", profile_path, "The verifier's profile --steer reads (pol-profile)")->group(forge);
  app.add_option("--steer-log", steer_log, "Write one JSON line per --steer edit to this file")->group(forge);

  return run_tool("pol-forge", argc, argv, app, [&]() -> int {
    if (!fault.empty()) f.fault = parse_fault(fault, "--inject-fault");
    if (app.count("--init-seed")) f.init_seed = init_seed;
    if (app.count("--order-seed")) f.order_seed = order_seed;
    Steering st;
    if (!steer.empty()) st = parse_steering(steer, "--steer");
    if (steer.empty() && !(profile_path.empty() && steer_log.empty())) usage_error("--profile and --steer-log go with --steer");
    if (!steer.empty() && profile_path.empty()) usage_error("--steer needs the verifier's --profile");
    const LoadedTask task = load_task(o.task);
    if (steer.empty() || f.any()) check_forgery(f, task.cfg, o.common.device);  // usage errors before the machine's (exit 4)
    LoadedProfile profile;
    if (!steer.empty()) {
      if (task.cfg.exact) usage_error("--steer: the task is in exact mode, where any edit changes the state hash");
      profile = load_profile(profile_path);
      check_input(profile.task_class == task_class(task.msg.root()), "--profile: the profile was made for another task");
    }
    apply_common_options(o.common, true);
    Dataset data = f.other_data.empty() ? load_task_dataset(task.cfg, o.data_dir) : load_other_dataset(task.cfg, f.other_data);
    if (steer.empty()) return run_training(task, std::move(data), o, forge_hooks(f));
    std::string lines;
    const int rc = run_training(task, std::move(data), o,
                                steer_hooks(st, profile, f.any() ? forge_hooks(f) : SessionHooks{},
                                            [&](const SteerRecord& r) { lines += steer_json(r) + "\n"; }));
    if (!steer_log.empty()) write_file_atomic(steer_log, lines.data(), lines.size(), true);
    return rc;
  });
}
