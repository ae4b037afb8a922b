// The model registry: one entry per model kind, and the one place each kind's tape
// builder, initialisation and FLOP count live (proofwork(7), THE TAPE). Export names
// and per-tensor options (weight decay) are the tape's: the builder names parameters
// as PyTorch's state dict does and sets TensorSpec::decay.
#pragma once
#include <cstdint>

#include "model/tape.hpp"
#include "train/task.hpp"

namespace pw {

struct ModelKindInfo {
  const char* name;                                         // "mlp", "gpt": the task's model kind
  Tape (*tape)(const TaskConfig& c);                        // the step's tape
  void (*init)(const TaskConfig& c, const Tape& t, Workspace& ws);  // the parameters at step 0
  int64_t (*flops_per_step)(const TaskConfig& c);           // matmul FLOPs of one step
};

const ModelKindInfo& model_kind(ModelKind k);

// A standard normal draw from two Philox words (Box–Muller with the library's own log
// and cos, so the same bits everywhere): √(−2·ln(1 − u₁))·cos(2π·u₂), u = uniform01.
float normal_from(uint32_t w1, uint32_t w2);

}  // namespace pw
