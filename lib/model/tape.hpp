// Training as a tape of operations (proofwork(7), THE TAPE). A model compiles to a fixed list of
// ops for one training step -- load batch, forward, loss, backward, optimizer update --
// each with an index, a kind and input/output tensor ids. Running a step runs the list
// in order; pol-verify replays it, and tracing/bisection walk the same list.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/op_kinds.hpp"
#include "tensor/gemm.hpp"
#include "tensor/ops.hpp"

namespace pw {

// The op kinds, from the one table (model/op_kinds.hpp; proofwork(7), THE TAPE).
enum class OpKind : uint8_t {
#define PW_OP_ENUM(Name, value, str) Name = value,
  PW_OP_KINDS(PW_OP_ENUM)
#undef PW_OP_ENUM
};
#define PW_OP_ONE(Name, value, str) +1
constexpr int kOpKindCount = 0 PW_OP_KINDS(PW_OP_ONE);
#undef PW_OP_ONE
namespace op_table {
#define PW_OP_VALUE(Name, value, str) value,
constexpr int kValues[] = {PW_OP_KINDS(PW_OP_VALUE)};
#undef PW_OP_VALUE
constexpr bool dense() {
  for (int i = 0; i < kOpKindCount; i++)
    if (kValues[i] != i) return false;
  return true;
}
}  // namespace op_table
// The dispatch tables are indexed by kind: the values run 0, 1, 2, ... in table order.
static_assert(op_table::dense(), "model/op_kinds.hpp: op kinds are numbered 0, 1, 2, ... in table order");
static_assert(int(OpKind::CutBackward) == 12 && int(OpKind::ClipGradients) == 23, "op kinds are in files: never renumber");

const char* op_name(OpKind k);  // the table's "name"; "?" outside it

// CutState: the pipeline cut's per-sample buffer and seen flags, training state that
// every checkpoint holds after the optimizer state.
enum class Role : uint8_t { Param, OptState, Batch, Activation, Gradient, CutState };

struct TensorSpec {
  std::string name;  // PyTorch state-dict names for parameters: "0.weight", "2.bias", ...
  Role role;
  int rows, cols;    // a vector has rows = 1; a tensor of rank > 2: rows = all but the last dim
  int ndim = 2;      // 1 for vectors (biases, labels): a (1, n) weight stays two-dimensional
  // The shape of a tensor of any rank (checkpoints, hashes and disputes record it);
  // empty: (cols) for ndim 1, (rows, cols) for ndim 2.
  std::vector<int> dims{};
  // The optimizer's weight decay applies (a per-tensor option of the model kind,
  // model/models: the MLP decays every parameter, the GPT 2-D weights and embeddings).
  bool decay = true;
  int64_t size() const { return int64_t(rows) * cols; }
  std::vector<uint64_t> shape() const;
};

struct Op {
  OpKind kind;
  int layer;         // Linear layer index, -1 when none (cut ops: the Linear layer before the cut)
  std::vector<int> in, out;
};

enum class OptimizerType : uint8_t { Sgd, Adamw };

// A pipeline cut after hidden layer `layer` (1: after the first Linear+ReLU), between
// Linear layers layer-1 and layer; 0: none. `samples`: the training set's size (rows of
// the per-sample buffer). A GPT's: after block layer-1, between blocks layer-1 and layer
// (the residual stream crossing it); a sample is a window, its T·C values one row of the
// buffer (proofwork(7), AQ-SGD).
struct CutSpec {
  int layer = 0;
  int forward_bits = 0, backward_bits = 8;
  uint32_t samples = 0;
  // The forward crossing's rotation and scale tiles (aqsgd/codec.hpp; 0: none) and the
  // rotation's sign key (the task's seed).
  uint32_t rotate_tile = 0, scale_tile = 0;
  uint64_t seed = 0;
  bool enabled() const { return layer > 0; }
};

// A GPT-2-style byte-level language model (proofwork(7), THE GPT).
struct GptSpec {
  int layers = 0, heads = 0, channels = 0, context = 0, vocab = 256;
  bool enabled() const { return layers > 0; }
};

enum class ModelKind : uint8_t { Mlp, Gpt };

struct Tape {
  ModelKind kind = ModelKind::Mlp;
  std::vector<int> widths;     // the MLP's
  GptSpec gpt;                 // the GPT's
  float clip = 0;              // gradient-norm clipping's max norm (ClipGradients); 0: none
  int batch = 0;
  OptimizerType optimizer = OptimizerType::Sgd;
  std::vector<TensorSpec> tensors;
  std::vector<Op> ops;
  std::vector<int> params;     // state-dict order: 0.weight, 0.bias, 2.weight, 2.bias, ...
  std::vector<int> opt_state;  // per parameter: momentum, or exp_avg then exp_avg_sq
  CutSpec cut;
  std::vector<int> cut_state;  // with a cut: its buffer (samples, w) then its seen flags (samples)
  int input = -1, labels = -1, logits = -1, probs = -1, loss = -1;
  std::vector<int> grads;      // per parameter, its gradient (state-dict order)
  int64_t parameter_count() const;
  int64_t flops_per_step() const;  // mlp_flops_per_step or gpt_flops_per_step
};

// The model's work in one training step, counted as matmul FLOPs: 6·B·Σ in·out over
// the Linear layers (2·B·in·out each for the forward product, the weight gradient and
// the input gradient). ReLU, the loss, the optimizer and a cut's quantization are
// linear-time and not counted. A task's FLOP budget is this times its steps.
int64_t mlp_flops_per_step(const std::vector<int>& widths, int batch);

// The GPT's work in one training step, counted as matmul FLOPs (proofwork(7), THE GPT):
// 6·B·T·(12·L·C² + V·C) for the Linear layers and the tied LM head, plus 12·B·L·T²·C
// for attention (scores and their product with the values, forward 4·T²·C a sequence
// and layer, backward twice that), as nanoGPT's estimate. LayerNorm, GELU, softmax,
// the loss and the optimizer are linear-time and not counted.
int64_t gpt_flops_per_step(const GptSpec& g, int batch);

// The training state, which a checkpoint holds and its state hash covers
// (proofwork-files(5), PROOF DIRECTORY) and a device keeps between steps: parameters,
// optimizer state, then a pipeline cut's buffer and seen flags, in tape order.
std::vector<int> checkpoint_tensors(const Tape& tape);

// widths: input first, e.g. {784, 1024, 1024, 10}. ReLU between Linear layers.
// With a cut after hidden layer k, the tape gains (forward) CutForward after the ReLU of
// Linear k-1, whose output â is the input of Linear k, and (backward) CutBackward
// between Linear k's input gradient and that ReLU's backward (which masks with the
// unquantized activation, the sending side's own).
Tape build_mlp_tape(const std::vector<int>& widths, int batch, OptimizerType opt, const CutSpec& cut = {});

// The GPT's tape (proofwork(7), THE GPT): nanoGPT's parameters in state-dict order
// (transformer.wte.weight, transformer.wpe.weight, transformer.h.{i}.*,
// transformer.ln_f.*; the LM head is tied to wte and has no tensor), weight decay on the
// 2-D ones; ops: load windows, embedding, per block LayerNorm, c_attn, attention,
// c_proj, residual, LayerNorm, c_fc, GELU, c_proj, residual; final LayerNorm, LM head
// (a Linear without bias on wte), loss; backward in reverse, the LM head's wte gradient
// first and the embedding's added to it; optional clipping; the optimizer.
// `chunked` (a task with a reduce chunk): the LM head's wte gradient has no op of its own;
// the embedding's backward reads dlogits and ln_f and sums both contributions per chunk
// before the one tree over the chunks (proofwork(7), EXACT MODE). Tasks without a reduce
// chunk keep the tape above, op for op.
// `cut`: a pipeline cut after block cut.layer-1 (CutForward on the residual stream there,
// viewed as (B, T·C); CutBackward on its gradient), its buffer and seen flags after the
// optimizer state, as the MLP's.
Tape build_gpt_tape(const GptSpec& g, int batch, OptimizerType opt, float clip, bool chunked = false,
                    const CutSpec& cut = {});

// How the step computes (proofwork(7), EXACT MODE and FAST MODE). Exact: the bitwise contract. Fast: GEMMs sum
// panels of `fast_panel` terms from zero and add them (gemm_fast), bias gradients sum
// one chunk of the batch per thread (column_sums_fast): bits differ from exact, and
// between panel sizes and thread counts; pol-profile measures by how much.
// reduce_chunk > 0 (exact mode, the task's reduceChunk): the batch-dimension reductions --
// weight and bias gradients, the loss -- run as the chunked batch reduction
// (gemm_chunked, column_sums_chunked, sum_chunked); 0: today's order, one chain over the batch.
struct Compute {
  bool fast = false;
  int fast_panel = kFastPanelDefault;
  int reduce_chunk = 0;
};

// What one step needs besides the tensors.
struct StepContext {
  Compute compute{};
  const uint8_t* images = nullptr;   // (n, features) pixels
  const uint8_t* labels = nullptr;   // (n)
  const uint32_t* batch_indices = nullptr;  // IDX: sample indices; text: window offsets
  const uint8_t* text = nullptr;            // a text task's training text
  float input_scale = 1.0f / 255.0f;
  SgdScalars sgd{};
  AdamwScalars adamw{};
  // A data-parallel rank (proofwork(7), DISTRIBUTED TRAINING): the tape's batch is one
  // aligned block of chunks of a step of `global_batch` samples (batch_indices point at
  // the block's). The reductions leave the block's subtree partials -- the loss
  // undivided -- for the ranks to combine; the loss gradient divides by global_batch.
  // 0: one process, the tape's batch is the step's.
  int global_batch = 0;
  // A pipeline stage's micro-batch of a task without a reduce chunk (proofwork(7),
  // PIPELINE STAGES; global_batch > 0 and the tape's batch one micro-batch): the batch
  // reductions -- weight and bias gradients, layer norm's, the loss's undivided sum --
  // continue the chains their output tensors hold, the earlier micro-batches'
  // (gemm_exact_continue, column_sums_continue, layernorm_backward's), so the last leaves
  // the whole batch's one chain. false: the first micro-batch, its chains from zero. Exact
  // mode only. The GPT's embedding backward has none: a pipeline runs it once over the block.
  bool continue_chains = false;
  // A rank's pipeline cut: its batch maxima combined with the other ranks' (model/cut.hpp).
  std::function<void(float* values, int64_t n)> batch_max;
};

struct Workspace {
  std::vector<std::vector<float>> t;  // one buffer per tensor id
  explicit Workspace(const Tape& tape);
  // Only the tensors of `ids` sized (zeros), the others empty: a checkpoint's state
  // (checkpoint_tensors) without the activations a step needs.
  Workspace(const Tape& tape, const std::vector<int>& ids);
  float* operator[](int id) { return t[size_t(id)].data(); }
  const float* operator[](int id) const { return t[size_t(id)].data(); }
};

// One op on the CPU: model/cpu_ops.hpp's function for its kind (the table's dispatch).
void run_op(const Tape& tape, const Op& op, Workspace& ws, const StepContext& ctx);

// An update op's scalars for its tensor, the CPU's and the CUDA executor's: without
// weight decay (TensorSpec::decay) SGD's weight_decay is 0 and AdamW's factor 1.
SgdScalars sgd_scalars_of(const Tape& tape, const Op& op, const StepContext& ctx);
AdamwScalars adamw_scalars_of(const Tape& tape, const Op& op, const StepContext& ctx);

// Called after each op with its index; tracing and fault injection hook in here.
using OpHook = std::function<void(int op_index, Workspace& ws)>;
void run_step(const Tape& tape, Workspace& ws, const StepContext& ctx, const OpHook& hook = nullptr);

// Forward only over `n` rows of `images` (for evaluation); writes logits (n, classes).
// A cut is not applied: m(sample) exists only for training samples, so evaluation
// takes the full-precision path through it.
void forward_logits(const Tape& tape, const Workspace& params, const uint8_t* images, int64_t n,
                    float input_scale, std::vector<float>& logits);

}  // namespace pw
