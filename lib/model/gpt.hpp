// The GPT's ops on the tape (proofwork(7), THE GPT): their CPU functions (cpu_op_<Name>,
// model/cpu_ops.hpp) are in gpt.cpp. The
// kernels are tensor/transformer.hpp's, each with one fixed order of its reductions
// (proofwork(7), EXACT MODE).
#pragma once
#include "model/tape.hpp"

namespace pw {

// LayerNorm's epsilon, as GPT-2's.
constexpr float kLayerNormEps = 1e-5f;


// The index of the op that writes the GPT's logits (the LM head): running ops 1 .. it
// after filling the input rows is the forward pass, without the loss.
size_t lm_head_op(const Tape& tape);
// That forward pass (ops 1 .. lm_head_op) on `ws`, whose input rows are filled: the
// logits. A pipeline cut passes its input through at full precision: its buffer holds
// training samples only, so evaluation and generation take the unquantized path
// (proofwork(7), AQ-SGD).
void run_gpt_forward(const Tape& tape, Workspace& ws, const StepContext& ctx);

// The clipping rule (torch.nn.utils.clip_grad_norm_): per-tensor norms sqrt(Σ g²)
// (tensor/transformer.hpp's sum_squares, one fixed order), the total norm as the float
// chain sqrt(Σ norm²) over the gradients in state-dict order, then every gradient
// scaled by max_norm / (total + 1e-6) when that is below 1. Returns the total norm.
float clip_gradients(const std::vector<float*>& grads, const std::vector<int64_t>& sizes, float max_norm);

// The clipping coefficient from the gradients' sums of squares (state-dict order):
// max_norm / (total + 1e-6), total = sqrt(Σ sqrt(ss)²) as clip_gradients forms it;
// the gradients are scaled by it when it is below 1. The CPU and the CUDA executor
// (which sums squares on the device) both take it from here. *total_norm: the total.
float clip_coefficient(const std::vector<float>& sum_squares, float max_norm, float* total_norm = nullptr);

}  // namespace pw
