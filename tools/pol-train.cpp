// pol-train: the solver. Trains a task and writes its proof of learning.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>

#include "cli/cli.hpp"
#include "core/error.hpp"
#include "proof/proof.hpp"
#include "proof/task_file.hpp"
#include "tensor/gemm.hpp"
#include "tensor/philox.hpp"
#include "train/fault.hpp"
#include "train/trainer.hpp"

using namespace pw;

namespace {

void remove_stale_temporaries(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) return;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.find(".tmp.") != std::string::npos) ::unlink(join_path(dir, n).c_str());
  }
  closedir(d);
}

std::vector<std::vector<float>> state_tensors(const Trainer& tr) {
  std::vector<std::vector<float>> out;
  for (int id : checkpoint_tensors(tr.tape)) out.push_back(tr.ws.t[size_t(id)]);
  return out;
}

void set_state_tensors(Trainer& tr, const std::vector<std::vector<float>>& v) {
  size_t k = 0;
  for (int id : checkpoint_tensors(tr.tape)) tr.ws.t[size_t(id)] = v[k++];
}

// Dishonest "dressing": uniform noise in [-amp, amp) on every parameter, from Philox.
void add_noise(Trainer& tr, int64_t step, float amp) {
  for (size_t i = 0; i < tr.tape.params.size(); i++) {
    std::vector<float>& p = tr.ws.t[size_t(tr.tape.params[i])];
    for (size_t e = 0; e < p.size(); e++)
      p[e] = p[e] + amp * (2.0f * uniform01(philox_word(uint64_t(step), kStreamForgeNoise, uint32_t(i), e)) - 1.0f);
  }
}

// The classic Proof-of-Learning spoof: the state at `step` claimed as the straight line
// from the initial state to the final one (tr holds the final state).
CheckpointInfo write_interpolated(const std::string& dir, Trainer& tr, const std::vector<std::vector<float>>& initial,
                                  int64_t step, const Hash& task_hash) {
  const std::vector<std::vector<float>> final_state = state_tensors(tr);
  if (step == tr.cfg.steps) return write_checkpoint(dir, tr.tape, tr.ws, step, task_hash);
  const float t = float(double(step) / double(tr.cfg.steps));
  std::vector<std::vector<float>> mid = initial;
  for (size_t k = 0; k < mid.size(); k++)
    for (size_t e = 0; e < mid[k].size(); e++) mid[k][e] = initial[k][e] + t * (final_state[k][e] - initial[k][e]);
  set_state_tensors(tr, mid);
  CheckpointInfo info = write_checkpoint(dir, tr.tape, tr.ws, step, task_hash);
  set_state_tensors(tr, final_state);
  return info;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train a proofwork task and write its proof of learning: checkpoints every k steps, a manifest with "
               "their hashes and Merkle root, and the seed-derived batch order. Run again on an unfinished "
               "PROOF_DIR, it resumes from the last complete checkpoint and ends with the same bits.",
               "pol-train"};
  CommonOptions common;
  std::string task_path, dir, data_dir, fault_spec, dishonest_data;
  int64_t skip_step = -1, stop_after = -1, shortcut = 1;
  uint64_t init_seed = 0, order_seed = 0;
  std::vector<int64_t> skip_segments, perturb_segments;
  bool interpolate = false;
  double lr_scale = 1, dress_noise = 0;
  Compute compute;
  app.add_option("TASK", task_path, "Task file (binary or JSON; '-': stdin)")->required();
  app.add_option("-o,--output", dir, "Proof directory (created, or resumed when unfinished)")->required();
  app.add_option("--data-dir", data_dir, "Find the dataset files in this directory (by base name)");
  add_common_options(app, common);
  app.add_option("--fast-panel", compute.fast_panel,
                 "Fast mode: GEMM panel length (terms summed before adding to the output; stands in for another "
                 "machine's kernel)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  const std::string dishonest = "Dishonest proofs (for testing verifiers and bisection)";
  app.add_option("--inject-fault", fault_spec,
                 "Perturb element ELEMENT of the first output of op OP (tape index) in step STEP: STEP:OP:ELEMENT")
      ->group(dishonest);
  app.add_option("--skip-step", skip_step, "Do not apply step S (its update is discarded)")->group(dishonest);
  app.add_option("--init-seed", init_seed, "Draw the initial weights from this seed instead of the task's")->group(dishonest);
  app.add_option("--order-seed", order_seed, "Take (and record) the batch order of this seed instead of the task's")
      ->group(dishonest);
  app.add_option("--dishonest-data-dir", dishonest_data, "Train on the IDX files of this directory, unchecked")
      ->group(dishonest);
  app.add_option("--skip-segment", skip_segments,
                 "Skip every step of segment I (checkpoint I copied forward as I+1); repeatable")
      ->group(dishonest);
  app.add_option("--perturb-segment", perturb_segments,
                 "After the first step of segment I, add --dress-noise (default 1e-3) to every parameter; "
                 "repeatable (forges exactly those segments)")
      ->group(dishonest);
  app.add_flag("--interpolate", interpolate,
               "Write checkpoints 1..C-1 as linear interpolations between the initial and the final state")
      ->group(dishonest);
  app.add_option("--lr-scale", lr_scale, "Train with the task's learning rate times X (other hyperparameters)")
      ->group(dishonest);
  app.add_option("--shortcut", shortcut, "Apply only every M-th step, with M times the learning rate")
      ->check(CLI::PositiveNumber)
      ->group(dishonest);
  app.add_option("--dress-noise", dress_noise,
                 "Add uniform noise of this amplitude to every parameter on each step not applied (--shortcut, --skip-step, "
                 "--skip-segment), and at --perturb-segment (default there 1e-3)")
      ->group(dishonest);
  app.add_option("--kill-after", stop_after, "SIGKILL itself after this many steps (resume tests)")->group("");

  return run_tool("pol-train", argc, argv, app, [&]() -> int {
    apply_common_options(common, true);
    if (common.device == DeviceKind::Cuda &&
        (skip_step >= 0 || !skip_segments.empty() || interpolate || shortcut != 1 || dress_noise > 0))
      usage_error("--device cuda: of the dishonest options only --inject-fault runs on the GPU; use --device cpu");
    LoadedTask task = load_task(task_path);
    const TaskConfig& cfg = task.cfg;
    check_cut_device(cfg.cut, common.device);  // before anything is written
    const Fault fault = fault_spec.empty() ? Fault{} : parse_fault(fault_spec, "--inject-fault");

    Dataset data;
    if (dishonest_data.empty()) {
      data = load_task_dataset(cfg, data_dir);
    } else {
      auto at = [&](const std::string& p) { return p.empty() ? p : join_path(dishonest_data, base_name(p)); };
      data = load_dataset(at(cfg.train_images), at(cfg.train_labels), at(cfg.test_images), at(cfg.test_labels), cfg.classes);
      check_input(data.count == cfg.count && data.features() == cfg.widths[0], "--dishonest-data-dir: another shape");
    }
    const int64_t nseg = (cfg.steps + cfg.checkpoint_every - 1) / cfg.checkpoint_every;
    for (int64_t i : skip_segments)
      if (i < 0 || i >= nseg) usage_error("--skip-segment " + std::to_string(i) + ": the task has segments 0-" + std::to_string(nseg - 1));
    for (int64_t i : perturb_segments)
      if (i < 0 || i >= nseg) usage_error("--perturb-segment " + std::to_string(i) + ": the task has segments 0-" + std::to_string(nseg - 1));
    if (skip_step >= cfg.steps) usage_error("--skip-step " + std::to_string(skip_step) + ": the task has steps 0-" + std::to_string(cfg.steps - 1));
    TaskConfig train_cfg = cfg;  // differs from the task only in a dishonest run
    train_cfg.lr *= lr_scale * double(shortcut);
    Trainer tr(train_cfg, data);
    tr.compute.fast_panel = compute.fast_panel;
    if (app.count("--init-seed")) {
      TaskConfig other = cfg;
      other.seed = init_seed;
      init_state(other, tr.tape, tr.ws);
    }
    if (app.count("--order-seed")) tr.order = BatchOrder(order_seed, data.count, cfg.batch);
    check_fault(fault, tr.tape, cfg.steps, "--inject-fault");

    make_directory(dir);
    remove_stale_temporaries(dir);
    const std::vector<int64_t> ckpt_steps = checkpoint_steps(cfg);
    Manifest man;
    const std::string manifest_path = join_path(dir, kManifestName);
    if (file_exists(manifest_path)) {
      man = read_manifest(dir, int64_t(cfg.steps) * cfg.batch, &task.hash);
      if (man.task != task.hash)
        bad_input("'" + dir + "' holds a proof of another task (" + hex(man.task) + "); choose another directory");
      for (size_t i = 0; i < man.checkpoints.size(); i++)
        check_input(i < ckpt_steps.size() && man.checkpoints[i].step == ckpt_steps[i],
                    "'" + dir + "': the manifest's checkpoints do not follow the task's interval");
      if (man.complete) {
        note(common, "'" + dir + "' is already complete (" + std::to_string(cfg.steps) + " steps); nothing to do");
        return kExitOk;
      }
      const CheckpointInfo& last = man.checkpoints.back();
      try {
        read_checkpoint(dir, last, tr.tape, task.hash, tr.ws);
      } catch (const Error& e) {  // damaged on disk: bad input here, not a verdict
        bad_input(std::string(e.what()) + "; cannot resume");
      }
      tr.step = last.step;
      note(common, "resuming '" + dir + "' from step " + std::to_string(last.step));
    } else {
      man.task = task.hash;
      man.batch = uint32_t(cfg.batch);
      man.batch_order.resize(size_t(cfg.steps) * size_t(cfg.batch));
      for (int64_t s = 0; s < cfg.steps; s++) tr.order.indices(s, man.batch_order.data() + size_t(s) * size_t(cfg.batch));
      man.checkpoints.push_back(write_checkpoint(dir, tr.tape, tr.ws, 0, task.hash));
    }
    man.program = "pol-train";
    man.command_line = command_line();
    man.host = host_name();
    man.device = device_name(common.device);
    man.threads = uint32_t(get_threads());
    if (man.started_at.empty()) man.started_at = utc_now();
    write_manifest(dir, man);

    if (common.device == DeviceKind::Cuda) {  // the tape runs on the GPU; checkpoints are copied back (issue 8)
      tr.use_device(make_cuda_executor(tr.tape, tr.compute.fast));
      note(common, "training on " + tr.device->describe());
    }
    Progress progress(common, cfg.steps, "step");
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t first_step = tr.step;
    std::vector<std::vector<float>> saved;
    const std::vector<std::vector<float>> initial = interpolate ? state_tensors(tr) : std::vector<std::vector<float>>{};
    auto skipped = [&](int64_t s) {
      return s == skip_step || s % shortcut != 0 ||
             std::find(skip_segments.begin(), skip_segments.end(), s / cfg.checkpoint_every) != skip_segments.end();
    };
    while (tr.step < cfg.steps) {
      const int64_t s = tr.step;
      const OpHook hook = fault_hook(tr.tape, fault, s);
      if (skipped(s)) saved = state_tensors(tr);
      tr.run_step(hook);
      if (skipped(s)) {
        set_state_tensors(tr, saved);
        if (dress_noise > 0) add_noise(tr, s, float(dress_noise));
      }
      if (s % cfg.checkpoint_every == 0 &&
          std::find(perturb_segments.begin(), perturb_segments.end(), s / cfg.checkpoint_every) != perturb_segments.end())
        add_noise(tr, s, dress_noise > 0 ? float(dress_noise) : 1e-3f);
      if (interpolate && tr.step < cfg.steps) {
        // checkpoints are written at the end, from the initial and final states
      } else if (interpolate) {
        for (size_t i = 1; i < ckpt_steps.size(); i++)
          man.checkpoints.push_back(write_interpolated(dir, tr, initial, ckpt_steps[i], task.hash));
        man.final_loss = tr.loss;
        write_manifest(dir, man);
      } else if (tr.step % cfg.checkpoint_every == 0 || tr.step == cfg.steps) {
        tr.to_host();
        man.checkpoints.push_back(write_checkpoint(dir, tr.tape, tr.ws, tr.step, task.hash));
        man.final_loss = tr.loss;
        write_manifest(dir, man);
      }
      char extra[64];
      std::snprintf(extra, sizeof extra, "loss %.4f", double(tr.loss));
      progress.update(tr.step, extra);
      if (stop_after >= 0 && tr.step - first_step >= stop_after) std::raise(SIGKILL);
    }
    progress.finish();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double acc = test_accuracy(tr);
    man.test_accuracy = float(acc);
    man.final_loss = tr.loss;
    man.complete = true;
    write_manifest(dir, man);
    const int64_t ran = cfg.steps - first_step;
    char line[256];
    std::snprintf(line, sizeof line, "%lld steps in %.2f s (%.2f steps/s), final loss %.4f", static_cast<long long>(ran),
                  secs, secs > 0 ? double(ran) / secs : 0.0, double(tr.loss));
    std::string msg = line;
    if (acc >= 0) {
      std::snprintf(line, sizeof line, ", test accuracy %.2f%%", 100 * acc);
      msg += line;
    }
    note(common, msg + "; root " + hex(man.root()));
    if (common.json)
      std::printf("{\"proof\": \"%s\", \"steps\": %lld, \"seconds\": %.6f, \"steps_per_second\": %.4f, "
                  "\"final_loss\": %.6f, \"test_accuracy\": %.6f, \"threads\": %d, \"root\": \"%s\"}\n",
                  dir.c_str(), static_cast<long long>(ran), secs, secs > 0 ? double(ran) / secs : 0.0, double(tr.loss),
                  acc, get_threads(), hex(man.root()).c_str());
    return kExitOk;
  });
}
