// Dishonest proofs, for testing verifiers and bisection and for a market's forced
// error (pol-forge(1); proofwork(7), DISPUTES): each forgery is a variation of the
// training session (proof/session.hpp), whose manifest is recorded as an honest run's.
// In exact mode every one makes pol-verify exit 1 where the affected segment or
// commitment is checked; in fast mode the profile's bands must catch it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/device.hpp"
#include "proof/session.hpp"
#include "train/dataset.hpp"
#include "train/fault.hpp"
#include "train/task.hpp"

namespace pw {

struct Forgery {
  Fault fault;                          // perturb one element of one op's output in one step
  int64_t skip_step = -1;               // run step S, discard its update
  std::optional<uint64_t> init_seed;    // initial weights of another seed
  std::optional<uint64_t> order_seed;   // the batch order of another seed, trained and recorded
  std::string other_data;               // train on these files instead (load_other_dataset)
  std::vector<int64_t> skip_segments;   // every step of segment I discarded
  std::vector<int64_t> perturb_segments;  // noise after the first step of segment I
  bool interpolate = false;             // checkpoints 1..C-1 on the line from the initial to the final state
  double lr_scale = 1;                  // the task's learning rate times this
  int64_t shortcut = 1;                 // apply only every M-th step, at M times the learning rate
  double dress_noise = 0;               // noise on each step not applied; perturb_segments' amplitude (default 1e-3)
  int reuse_samples = 0;                // each step's last K samples replaced by copies of its first K
  std::vector<int64_t> extrapolate_segments;  // segment I not trained: its start plus segment I-1's change
  // Whether it departs from the task at all (dress_noise alone does not).
  bool any() const;
};

// Refuses (usage error, exit 2) no forgery at all, a forgery outside the task (a segment, step or op it
// does not have, a shortcut below 1) or one that changes the state between steps on a
// GPU (only the fault, the seeds and the learning rate run there).
void check_forgery(const Forgery& f, const TaskConfig& task, DeviceKind device);

// The session hooks that make the forgery.
SessionHooks forge_hooks(const Forgery& f);

// The spoof of training on other data: the IDX files of the task's base names in `dir`,
// unchecked against the task's hashes, but of its shape (else bad input, exit 3).
Dataset load_other_dataset(const TaskConfig& task, const std::string& dir);

// Uniform noise in [-amp, amp) on every parameter, from Philox keyed by the step
// (stream kStreamForgeNoise, the parameter's index): the weights move as if trained.
void add_noise(Trainer& tr, int64_t step, float amp);

}  // namespace pw
