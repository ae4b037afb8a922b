// A training session: the solver's side of proofwork(7), THE FLOW, as a library that
// pol-train, pol-forge, the tests and a driver of data-parallel ranks share.
//
// open() starts a proof directory for a task (checkpoint 0 and a manifest recording the
// whole batch order) or resumes an unfinished proof of the same task from its last
// checkpoint; step() runs one step and checkpoint() writes the checkpoint it completes
// and the manifest, at the task's interval; finish() adds the test accuracy and marks
// the manifest complete. A driver that computes a step its own way (across ranks) runs
// it on trainer() and then calls checkpoint(): the proof's bookkeeping stays here.
// Nothing is printed: progress goes to SessionOptions::on_step, and open() says how it
// found the directory (proofwork-files(5), PROOF DIRECTORY).
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/device.hpp"
#include "proof/proof.hpp"
#include "proof/task_file.hpp"
#include "train/dataset.hpp"
#include "train/trainer.hpp"

namespace pw {

class Session;

struct SessionOptions {
  DeviceKind device = DeviceKind::Cpu;  // cuda: the tape runs on the GPU, checkpoints are copied back
  int fast_panel = kFastPanelDefault;   // fast mode's GEMM panel on this machine (Compute::fast_panel)
  // After each step and the checkpoint it completes: progress, and tests that stop a run.
  std::function<void(const Trainer&)> on_step;
};

// How a run departs from the task while its manifest is recorded as honest: the
// forgeries of proof/forge.hpp. An honest session has none.
struct SessionHooks {
  // The configuration trained (the task's own is recorded); before the trainer is built.
  std::function<void(TaskConfig&)> train_config;
  // The trainer built, before the directory is opened: another initial state or batch order.
  std::function<void(Trainer&)> setup;
  // Before step s runs (trainer.step == s): may change the state; returns the hook of the
  // step's ops, or none.
  std::function<OpHook(Trainer&, int64_t s)> before_step;
  // After step s ran, before the checkpoint it may complete is written.
  std::function<void(Trainer&, int64_t s)> after_step;
  // Writes the checkpoints due at trainer().step instead of Session::checkpoint.
  std::function<void(Session&)> checkpoint;
};

// How open() found the directory.
enum class SessionStart : uint8_t {
  Fresh,     // no manifest: the proof starts at step 0
  Resumed,   // an unfinished proof of this task: from its last checkpoint
  Complete,  // a complete proof of this task: nothing to train
};

struct SessionSummary {
  int64_t steps = 0;           // run by this session
  double seconds = 0;          // from the end of open() to finish()
  double checkpoint_seconds = 0;  // of `seconds`, inside write_checkpoint (state, hashes, manifest)
  float final_loss = 0;        // of the last step
  double test_accuracy = -1;   // -1: the task names no test set
  double val_bits_per_byte = -1;  // a GPT's, computed when this run finished the proof; -1: none
  Hash root{};                 // the manifest's Merkle root
};

class Session {
 public:
  // Builds the trainer for `task` on `data` (the task's dataset, checked by the caller);
  // writes nothing. A task with a pipeline cut on a GPU is bad input (exit 3), here,
  // before anything is written.
  Session(const LoadedTask& task, Dataset data, SessionOptions options = {}, SessionHooks hooks = {});
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Creates `dir` if needed and removes temporaries a killed run left. A directory
  // holding a proof of another task, a manifest whose checkpoints do not follow the
  // task's interval, or a last checkpoint that is missing or damaged: bad input (exit 3).
  SessionStart open(const std::string& dir);

  bool done() const { return trainer_.step >= task_.steps; }
  // Runs step trainer().step with the hooks, then checkpoint(). Only before done().
  void step();
  // Records the loss of the step just run (the manifest's losses, the solver's claim),
  // then writes the checkpoint due at trainer().step, if one is and it is not yet
  // written, with the manifest listing it.
  void checkpoint();
  // Whether the task's interval puts a checkpoint at `step` (every k steps, and the last):
  // a driver whose state lives on several ranks gathers it then.
  bool checkpoint_due(int64_t step) const { return step % task_.checkpoint_every == 0 || step == task_.steps; }
  // Writes the trainer's state as the checkpoint of `step` and the manifest listing it
  // (a forgery's checkpoint hook writes states other than the current one through it).
  // Steps go up: one not after the last checkpoint's is an internal error.
  void write_checkpoint(int64_t step);
  // Test accuracy, manifest complete. On a proof found complete, its recorded summary.
  SessionSummary finish();
  // step() until done(), then finish().
  SessionSummary run();

  Trainer& trainer() { return trainer_; }
  const Trainer& trainer() const { return trainer_; }
  const Manifest& manifest() const { return manifest_; }
  const TaskConfig& task() const { return task_; }
  const std::string& directory() const { return dir_; }
  int64_t first_step() const { return first_step_; }  // where this session started

 private:
  TaskConfig task_, train_;  // the task as recorded; as trained (equal unless a hook changes it)
  Hash task_hash_{};
  Dataset data_;
  SessionOptions options_;
  SessionHooks hooks_;
  Trainer trainer_;  // refers to train_ and data_
  std::string dir_;
  Manifest manifest_;
  std::vector<int64_t> checkpoint_steps_;
  int64_t first_step_ = 0;
  std::chrono::steady_clock::time_point started_;
  double checkpoint_seconds_ = 0;  // write_checkpoint's time since open()

  // Appends trainer().loss as the loss of step trainer().step − 1 when the list reaches
  // that step (once per step, however often checkpoint() is called).
  void record_loss();
};

// "40 steps in 0.21 s (190.48 steps/s), final loss 0.4123, test accuracy 71.20%; root …"
std::string summary_line(const SessionSummary& s);
// One JSON object: proof, steps, seconds, steps_per_second, final_loss, test_accuracy,
// val_bits_per_byte (null when not computed), threads, root, checkpoint_seconds
// (pol-train(1), --json).
std::string summary_json(const SessionSummary& s, const std::string& dir);

}  // namespace pw
