// The training loop over the tape: seed-derived initial weights and batch order,
// the learning-rate schedule, one step at a time.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/device.hpp"
#include "model/tape.hpp"
#include "train/dataset.hpp"
#include "train/task.hpp"

namespace pw {

// Batch order: every epoch is a Fisher–Yates permutation of the samples driven by
// Philox(seed, kStreamShuffle, epoch); epochs hold ⌊count / batch⌋ steps (the last
// partial batch is dropped), and step s takes the s-th run of `batch` indices.
// A text task's order (`windows`): step s takes `batch` window offsets, offset b the
// word b of Philox(seed, kStreamWindows, step) mapped to [0, count) by
// ⌊word·count / 2³²⌋, count being the text's window starts (len − T); draws are
// independent, with replacement (proofwork(7), RANDOM STREAMS).
class BatchOrder {
 public:
  BatchOrder(uint64_t seed, uint32_t count, int batch, bool windows = false);
  void indices(int64_t step, uint32_t* out);  // `batch` indices
  // Steps 0 to steps-1 in one array, steps × batch (the manifest's batch order).
  std::vector<uint32_t> sequence(int64_t steps) const;
  int64_t steps_per_epoch() const { return steps_per_epoch_; }

 private:
  uint64_t seed_;
  uint32_t count_;
  int batch_;
  int64_t steps_per_epoch_;
  bool windows_ = false;
  int64_t epoch_ = -1;
  std::vector<uint32_t> perm_;
};

// The task's batch order, steps × batch: what the manifest records and the verifier
// regenerates (proofwork(7), RANDOM STREAMS).
std::vector<uint32_t> batch_order(const TaskConfig& c, uint32_t count);
// The order of task `c` drawn from `seed` over `count` samples (or window starts).
BatchOrder order_for(const TaskConfig& c, uint64_t seed, uint32_t count);

// The model kind's initial parameters (train/models.hpp), drawn from
// Philox(seed, kStreamInit, tensor index); optimizer state zero.
void init_state(const TaskConfig& c, const Tape& tape, Workspace& ws);

Tape tape_for(const TaskConfig& c);  // the model kind's tape builder (train/models.hpp)

// A task with a pipeline cut trains on the CPU only: the CUDA executor has no cut ops.
// Throws bad input (exit 3) for any other device; Trainer::use_device checks it too.
void check_cut_device(const CutSpec& cut, DeviceKind device);
// A task with a reduce chunk likewise (the CUDA executor has no chunked reductions).
void check_reduce_chunk_device(int reduce_chunk, DeviceKind device);
// check_cut_device, check_reduce_chunk_device, and a GPT task in fast mode on a device
// other than the CPU: check_cuda_model's usage error (exit 2; the CUDA executor runs a
// GPT in exact mode only).
void check_model_device(const TaskConfig& c, DeviceKind device);

struct Trainer {
  const TaskConfig& cfg;
  const Dataset& data;
  Tape tape;
  Workspace ws;
  BatchOrder order;
  Compute compute;     // exact unless the task says fast; fast_panel is this machine's choice
  int64_t step = 0;    // steps completed
  float loss = 0;      // loss of the last step
  std::vector<uint32_t> batch_idx;

  // With a device (use_device), steps run there and `ws` is the host copy: current
  // after to_host() (checkpoints, hooks), and to_device() sends host changes back.
  std::shared_ptr<Executor> device;
  bool device_ahead = false;  // the device holds state that ws does not

  Trainer(const TaskConfig& c, const Dataset& d);
  // Uploads the dataset, the parameters and the optimizer state to `e`.
  void use_device(std::shared_ptr<Executor> e);
  void to_host();    // parameters and optimizer state into ws (no-op without a device)
  void to_device();  // ws's parameters and optimizer state onto the device
  void run_step(const OpHook& hook = nullptr);  // runs step `step`, then step++
  // The context of step `s`: its batch (into batch_idx) and the optimizer's scalars.
  StepContext context(int64_t s);
};

// Test-set accuracy of the current parameters (argmax, first maximum on ties).
double test_accuracy(const Trainer& t);

// A GPT's validation loss in bits per byte (proofwork(7), THE GPT): the validation text
// cut into windows of CONTEXT+1 bytes at strides of CONTEXT, so that every byte after the
// first is predicted once (the first kValidationWindows windows),
// each window's first CONTEXT bytes fed through the exact forward pass, B windows a pass,
// and the mean over every predicted byte of −log2 softmax(logits)[next byte], summed in
// double in window order. −1 when the task has no validation text. Uses ws's activations
// as scratch (the parameters are untouched).
constexpr int64_t kValidationWindows = 1024;
double validation_bits_per_byte(Trainer& t);

}  // namespace pw
