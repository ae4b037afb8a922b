#include "proof/session.hpp"

#include <cstdio>

#include "core/error.hpp"
#include "core/program.hpp"
#include "io/json.hpp"

namespace pw {

namespace {

// The configuration the trainer runs. A cut on a GPU is refused here, before anything
// is built or written.
TaskConfig trained_config(const TaskConfig& task, const SessionHooks& hooks, DeviceKind device) {
  check_model_device(task, device);
  TaskConfig c = task;
  if (hooks.train_config) hooks.train_config(c);
  return c;
}

}  // namespace

Session::Session(const LoadedTask& task, Dataset data, SessionOptions options, SessionHooks hooks)
    : task_(task.cfg),
      train_(trained_config(task.cfg, hooks, options.device)),
      task_hash_(task.hash),
      data_(std::move(data)),
      options_(std::move(options)),
      hooks_(std::move(hooks)),
      trainer_(train_, data_),
      checkpoint_steps_(checkpoint_steps(task.cfg)) {
  trainer_.compute.fast_panel = options_.fast_panel;
  if (hooks_.setup) hooks_.setup(trainer_);
}

SessionStart Session::open(const std::string& dir) {
  dir_ = dir;
  make_directory(dir);
  remove_stale_temporaries(dir);
  SessionStart start = SessionStart::Fresh;
  if (file_exists(join_path(dir, kManifestName))) {
    manifest_ = read_manifest(dir, int64_t(task_.steps) * task_.batch, &task_hash_);
    if (manifest_.task != task_hash_)
      bad_input("'" + dir + "' holds a proof of another task (" + hex(manifest_.task) + "); choose another directory");
    for (size_t i = 0; i < manifest_.checkpoints.size(); i++)
      check_input(i < checkpoint_steps_.size() && manifest_.checkpoints[i].step == checkpoint_steps_[i],
                  "'" + dir + "': the manifest's checkpoints do not follow the task's interval");
    // The last checkpoint is read whole, and checked against the manifest, before the
    // proof is called complete or resumed from it: a missing or damaged one is bad
    // input, never "already complete".
    const CheckpointInfo& last = manifest_.checkpoints.back();
    try {
      read_checkpoint(dir, last, trainer_.tape, task_hash_, trainer_.ws);
    } catch (const Error& e) {  // damaged on disk: bad input here, not a verdict
      bad_input(std::string(e.what()) + (manifest_.complete ? "; the proof is damaged" : "; cannot resume"));
    }
    if (manifest_.complete) {
      check_input(last.step == task_.steps, "'" + dir + "': the manifest is marked complete, its last checkpoint is of step " +
                                                std::to_string(last.step) + " of " + std::to_string(task_.steps));
      trainer_.step = task_.steps;
      first_step_ = task_.steps;
      return SessionStart::Complete;
    }
    trainer_.step = last.step;
    // The losses of the steps after the last checkpoint are run again; a list that does
    // not reach it (a proof from before manifests recorded losses) stays as it was and
    // records no more (record_loss), so no list has a hole.
    if (int64_t(manifest_.losses.size()) > last.step) manifest_.losses.resize(size_t(last.step));
    start = SessionStart::Resumed;
  } else {
    manifest_ = Manifest{};
    manifest_.task = task_hash_;
    manifest_.batch = uint32_t(task_.batch);
    manifest_.batch_order = trainer_.order.sequence(task_.steps);  // the order trained, recorded
    manifest_.checkpoints.push_back(pw::write_checkpoint(dir, trainer_.tape, trainer_.ws, 0, task_hash_));
  }
  first_step_ = trainer_.step;
  manifest_.host = host_name();
  manifest_.device = device_name(options_.device);
  manifest_.threads = uint32_t(get_threads());
  if (!task_.exact) manifest_.fast_panel = uint32_t(options_.fast_panel);
  if (manifest_.started_at.empty()) manifest_.started_at = utc_now();
  write_manifest(dir, manifest_);
  if (options_.device == DeviceKind::Cuda)  // checkpoints are copied back (proofwork(7), THE TAPE)
    trainer_.use_device(make_cuda_executor(trainer_.tape, trainer_.compute.fast));
  started_ = std::chrono::steady_clock::now();
  checkpoint_seconds_ = 0;
  return start;
}

void Session::step() {
  if (dir_.empty()) internal_error("Session::step before open");
  if (done()) internal_error("Session::step after the last step");
  const int64_t s = trainer_.step;
  const OpHook hook = hooks_.before_step ? hooks_.before_step(trainer_, s) : nullptr;
  trainer_.run_step(hook);
  if (hooks_.after_step) hooks_.after_step(trainer_, s);
  checkpoint();
  if (options_.on_step) options_.on_step(trainer_);
}

void Session::record_loss() {
  if (int64_t(manifest_.losses.size()) == trainer_.step - 1) manifest_.losses.push_back(trainer_.loss);
}

void Session::checkpoint() {
  record_loss();
  if (hooks_.checkpoint) return hooks_.checkpoint(*this);
  const int64_t s = trainer_.step;
  if (!checkpoint_due(s)) return;
  if (manifest_.checkpoints.back().step == s) return;  // written already
  write_checkpoint(s);
}

void Session::write_checkpoint(int64_t step) {
  if (step <= manifest_.checkpoints.back().step)  // the manifest lists checkpoints in step order
    internal_error("checkpoint of step " + std::to_string(step) + " after step " +
                   std::to_string(manifest_.checkpoints.back().step));
  const auto t0 = std::chrono::steady_clock::now();
  trainer_.to_host();
  manifest_.checkpoints.push_back(pw::write_checkpoint(dir_, trainer_.tape, trainer_.ws, step, task_hash_));
  manifest_.final_loss = trainer_.loss;
  write_manifest(dir_, manifest_);
  checkpoint_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

SessionSummary Session::finish() {
  SessionSummary sum;
  if (!manifest_.complete) {
    if (!done()) internal_error("Session::finish before the last step");
    sum.steps = trainer_.step - first_step_;
    sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    sum.checkpoint_seconds = checkpoint_seconds_;
    sum.test_accuracy = test_accuracy(trainer_);
    sum.val_bits_per_byte = validation_bits_per_byte(trainer_);
    manifest_.test_accuracy = float(sum.test_accuracy);
    manifest_.final_loss = trainer_.loss;
    manifest_.complete = true;
    write_manifest(dir_, manifest_);
  } else {
    sum.test_accuracy = manifest_.test_accuracy;
  }
  sum.final_loss = manifest_.final_loss;
  sum.root = manifest_.root();
  return sum;
}

SessionSummary Session::run() {
  while (!done()) step();
  return finish();
}

std::string summary_line(const SessionSummary& s) {
  char line[256];
  std::snprintf(line, sizeof line, "%lld steps in %.2f s (%.2f steps/s), final loss %.4f", static_cast<long long>(s.steps),
                s.seconds, s.seconds > 0 ? double(s.steps) / s.seconds : 0.0, double(s.final_loss));
  std::string msg = line;
  if (s.test_accuracy >= 0) {
    std::snprintf(line, sizeof line, ", test accuracy %.2f%%", 100 * s.test_accuracy);
    msg += line;
  }
  if (s.val_bits_per_byte >= 0) {
    std::snprintf(line, sizeof line, ", validation %.4f bits/byte", s.val_bits_per_byte);
    msg += line;
  }
  return msg + "; root " + hex(s.root);
}

std::string summary_json(const SessionSummary& s, const std::string& dir) {
  char line[512];
  char v[32] = "null";
  if (s.val_bits_per_byte >= 0) std::snprintf(v, sizeof v, "%.6f", s.val_bits_per_byte);
  const std::string bpb = v;
  std::snprintf(line, sizeof line,
                "\"steps\": %lld, \"seconds\": %.6f, \"steps_per_second\": %.4f, \"final_loss\": %.6f, "
                "\"test_accuracy\": %.6f, \"val_bits_per_byte\": %s, \"threads\": %d, \"root\": \"%s\", "
                "\"checkpoint_seconds\": %.6f}",
                static_cast<long long>(s.steps), s.seconds, s.seconds > 0 ? double(s.steps) / s.seconds : 0.0,
                double(s.final_loss), s.test_accuracy, bpb.c_str(), get_threads(), hex(s.root).c_str(),
                s.checkpoint_seconds);
  return "{\"proof\": " + json_string(dir) + ", " + line;
}

}  // namespace pw
