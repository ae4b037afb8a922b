#include "model/tape.hpp"

#include <algorithm>
#include <iterator>

#include "core/error.hpp"
#include "model/cut.hpp"
#include "model/cpu_ops.hpp"
#include "tensor/gemm.hpp"

namespace pw {

namespace {
#define PW_OP_NAME(Name, value, str) str,
constexpr const char* kOpNames[] = {PW_OP_KINDS(PW_OP_NAME)};
#undef PW_OP_NAME
static_assert(std::size(kOpNames) == size_t(kOpKindCount));
}  // namespace

const char* op_name(OpKind k) { return size_t(k) < std::size(kOpNames) ? kOpNames[size_t(k)] : "?"; }

int64_t Tape::parameter_count() const {
  int64_t n = 0;
  for (int id : params) n += tensors[size_t(id)].size();
  return n;
}

int64_t mlp_flops_per_step(const std::vector<int>& widths, int batch) {
  int64_t macs = 0;
  for (size_t l = 0; l + 1 < widths.size(); l++) macs += int64_t(widths[l]) * widths[l + 1];
  return 6 * int64_t(batch) * macs;
}

int64_t gpt_flops_per_step(const GptSpec& g, int batch) {
  const int64_t C = g.channels, T = g.context, L = g.layers, V = g.vocab, B = batch;
  return 6 * B * T * (12 * L * C * C + V * C) + 12 * B * L * T * T * C;
}

int64_t Tape::flops_per_step() const {
  return kind == ModelKind::Gpt ? gpt_flops_per_step(gpt, batch) : mlp_flops_per_step(widths, batch);
}

std::vector<uint64_t> TensorSpec::shape() const {
  if (!dims.empty()) return std::vector<uint64_t>(dims.begin(), dims.end());
  if (ndim == 1) return {uint64_t(cols)};
  return {uint64_t(rows), uint64_t(cols)};
}

std::vector<int> checkpoint_tensors(const Tape& tape) {
  std::vector<int> ids = tape.params;
  ids.insert(ids.end(), tape.opt_state.begin(), tape.opt_state.end());
  ids.insert(ids.end(), tape.cut_state.begin(), tape.cut_state.end());
  return ids;
}

Tape build_mlp_tape(const std::vector<int>& widths, int batch, OptimizerType opt, const CutSpec& cut) {
  if (widths.size() < 2) internal_error("an MLP needs at least two widths");
  if (cut.enabled() && (cut.layer >= int(widths.size()) - 1 || cut.samples < 1))
    internal_error("a cut needs a hidden layer and a training set");
  Tape t;
  t.cut = cut;
  t.widths = widths;
  t.batch = batch;
  t.optimizer = opt;
  auto add = [&](std::string name, Role role, int rows, int cols, int ndim = 2) {
    t.tensors.push_back({std::move(name), role, rows, cols, ndim});
    return int(t.tensors.size() - 1);
  };
  const int L = int(widths.size()) - 1;
  std::vector<int> W(L), b(L);
  for (int l = 0; l < L; l++) {
    const std::string prefix = std::to_string(2 * l);  // index in nn.Sequential(Linear, ReLU, ...)
    W[l] = add(prefix + ".weight", Role::Param, widths[l + 1], widths[l]);
    b[l] = add(prefix + ".bias", Role::Param, 1, widths[l + 1], 1);
    t.params.push_back(W[l]);
    t.params.push_back(b[l]);
  }
  for (int p : t.params) {
    const TensorSpec s = t.tensors[p];
    if (opt == OptimizerType::Sgd) {
      t.opt_state.push_back(add(s.name + ".momentum_buffer", Role::OptState, s.rows, s.cols, s.ndim));
    } else {
      t.opt_state.push_back(add(s.name + ".exp_avg", Role::OptState, s.rows, s.cols, s.ndim));
      t.opt_state.push_back(add(s.name + ".exp_avg_sq", Role::OptState, s.rows, s.cols, s.ndim));
    }
  }
  // The cut's state: m(sample) rows, then the seen flags (after the optimizer state in
  // every checkpoint).
  const int K = cut.layer;  // Linear K reads the cut's output
  const std::string cut_name = "cut." + std::to_string(K);
  if (cut.enabled()) {
    t.cut_state.push_back(add(cut_name + ".buffer", Role::CutState, int(cut.samples), widths[size_t(K)]));
    t.cut_state.push_back(add(cut_name + ".seen", Role::CutState, 1, int(cut.samples), 1));
  }
  t.input = add("x0", Role::Batch, batch, widths[0]);
  t.labels = add("labels", Role::Batch, 1, batch, 1);
  t.ops.push_back({OpKind::LoadBatch, -1, {}, {t.input, t.labels}});
  // Forward: x[l] is the input of Linear l, z[l] its output.
  std::vector<int> x(L), z(L), relu_out(L, -1);
  x[0] = t.input;
  for (int l = 0; l < L; l++) {
    const int out = widths[l + 1];
    z[l] = add("z" + std::to_string(l), Role::Activation, batch, out);
    t.ops.push_back({OpKind::LinearForward, l, {x[l], W[l], b[l]}, {z[l]}});
    if (l + 1 < L) {
      relu_out[l + 1] = x[l + 1] = add("a" + std::to_string(l), Role::Activation, batch, out);
      t.ops.push_back({OpKind::ReluForward, l, {z[l]}, {x[l + 1]}});
      if (l + 1 == K) {  // Linear K reads â, what crossed the cut
        x[K] = add("a" + std::to_string(l) + ".cut", Role::Activation, batch, out);
        t.ops.push_back({OpKind::CutForward, l, {relu_out[K], t.cut_state[0], t.cut_state[1]},
                         {x[K], t.cut_state[0], t.cut_state[1]}});
      }
    }
  }
  t.logits = z[L - 1];
  t.probs = add("probs", Role::Activation, batch, widths.back());
  t.loss = add("loss", Role::Activation, 1, 1, 1);
  t.ops.push_back({OpKind::CrossEntropyForward, -1, {t.logits, t.labels}, {t.probs, t.loss}});
  // Backward.
  int dz = add("dz" + std::to_string(L - 1), Role::Gradient, batch, widths.back());
  t.ops.push_back({OpKind::CrossEntropyBackward, -1, {t.probs, t.labels}, {dz}});
  std::vector<int> gW(L), gb(L);
  for (int l = L - 1; l >= 0; l--) {
    gW[l] = add(t.tensors[size_t(W[l])].name + ".grad", Role::Gradient, widths[l + 1], widths[l]);
    gb[l] = add(t.tensors[size_t(b[l])].name + ".grad", Role::Gradient, 1, widths[l + 1], 1);
    t.ops.push_back({OpKind::LinearBackwardWeight, l, {dz, x[l]}, {gW[l]}});
    t.ops.push_back({OpKind::LinearBackwardBias, l, {dz}, {gb[l]}});
    if (l > 0) {
      int da = add("da" + std::to_string(l - 1), Role::Gradient, batch, widths[l]);
      t.ops.push_back({OpKind::LinearBackwardInput, l, {dz, W[l]}, {da}});
      if (l == K) {  // the gradient crosses the cut back
        int daq = add("da" + std::to_string(l - 1) + ".cut", Role::Gradient, batch, widths[l]);
        t.ops.push_back({OpKind::CutBackward, l - 1, {da}, {daq}});
        da = daq;
      }
      int dzp = add("dz" + std::to_string(l - 1), Role::Gradient, batch, widths[l]);
      t.ops.push_back({OpKind::ReluBackward, l - 1, {da, relu_out[l]}, {dzp}});
      dz = dzp;
    }
  }
  for (int l = 0; l < L; l++) {
    t.grads.push_back(gW[l]);
    t.grads.push_back(gb[l]);
  }
  // Optimizer, in state-dict order.
  for (size_t i = 0; i < t.params.size(); i++) {
    const int p = t.params[i], l = int(i / 2);
    const int g = t.grads[i];
    if (opt == OptimizerType::Sgd)
      t.ops.push_back({OpKind::SgdUpdate, l, {p, g, t.opt_state[i]}, {p, t.opt_state[i]}});
    else
      t.ops.push_back({OpKind::AdamwUpdate, l, {p, g, t.opt_state[2 * i], t.opt_state[2 * i + 1]},
                       {p, t.opt_state[2 * i], t.opt_state[2 * i + 1]}});
  }
  return t;
}

Workspace::Workspace(const Tape& tape) {
  t.resize(tape.tensors.size());
  for (size_t i = 0; i < t.size(); i++) t[i].assign(size_t(tape.tensors[i].size()), 0.0f);
}

Workspace::Workspace(const Tape& tape, const std::vector<int>& ids) {
  t.resize(tape.tensors.size());
  for (int id : ids) t[size_t(id)].assign(size_t(tape.tensors[size_t(id)].size()), 0.0f);
}

void gemm_mode(const StepContext& ctx, int M, int N, int K, MatView A, MatView Bm, const float* bias, float* C,
               ptrdiff_t ldc, const GemmEpilogue* epi) {
  if (ctx.compute.fast)
    gemm_fast(M, N, K, A, Bm, bias, C, ldc, ctx.compute.fast_panel, epi);
  else
    gemm_exact(M, N, K, A, Bm, bias, C, ldc, epi);
}

namespace {
void load_rows(const uint8_t* images, const uint32_t* idx, int64_t B, int F, float scale, float* x) {
#pragma omp parallel for schedule(static) if (B * F >= (int64_t(1) << 15))
  for (int64_t b = 0; b < B; b++) {
    const uint8_t* src = images + int64_t(idx ? idx[b] : b) * F;
    for (int f = 0; f < F; f++) x[b * F + f] = float(src[f]) * scale;
  }
}

// z (R,out) = x·Wᵀ + b: rows are the batch (MLP) or B·T (GPT); no bias: the tied LM head.
void linear_forward(const Tape& tape, const Op& op, Workspace& ws, const StepContext& ctx,
                    const GemmEpilogue* epi = nullptr) {
  const TensorSpec& w = tape.tensors[size_t(op.in[1])];  // (out, in)
  const int R = tape.tensors[size_t(op.in[0])].rows;
  gemm_mode(ctx, R, w.rows, w.cols, row_major(ws[op.in[0]], w.cols), transposed(ws[op.in[1]], w.cols),
            op.in.size() > 2 ? ws[op.in[2]] : nullptr, ws[op.out[0]], w.rows, epi);
}

// dx (R,in) = dz·W.
void linear_backward_input(const Tape& tape, const Op& op, Workspace& ws, const StepContext& ctx,
                           const GemmEpilogue* epi = nullptr) {
  const TensorSpec& w = tape.tensors[size_t(op.in[1])];  // (out, in)
  const int R = tape.tensors[size_t(op.in[0])].rows;
  gemm_mode(ctx, R, w.cols, w.rows, row_major(ws[op.in[0]], w.rows), row_major(ws[op.in[1]], w.cols), nullptr,
            ws[op.out[0]], w.cols, epi);
}

// ---- The fused step (proofwork(7), EXACT MODE): the tape's ops with their element-wise
// neighbours folded into the GEMMs' output passes. Every tensor gets the values the ops
// one by one give it, by the same float operations; only the passes over memory change.

// a = relu(z) over a block of z (the forward GEMM's output).
struct ReluForwardRows {
  const float* z;
  float* a;
  ptrdiff_t ld;
  static void run(const void* c, int i0, int m, int j0, int n) {
    const auto& e = *static_cast<const ReluForwardRows*>(c);
    for (int i = i0; i < i0 + m; i++) relu_forward_serial(e.z + ptrdiff_t(i) * e.ld + j0, e.a + ptrdiff_t(i) * e.ld + j0, n);
  }
};

// dz = relu'(da, a) over a block of da (the input-gradient GEMM's output).
struct ReluBackwardRows {
  const float* da;
  const float* a;
  float* dz;
  ptrdiff_t ld;
  static void run(const void* c, int i0, int m, int j0, int n) {
    const auto& e = *static_cast<const ReluBackwardRows*>(c);
    for (int i = i0; i < i0 + m; i++) {
      const ptrdiff_t o = ptrdiff_t(i) * e.ld + j0;
      relu_backward_serial(e.da + o, e.a + o, e.dz + o, n);
    }
  }
};

// The SGD update of a weight over a block of its gradient (the weight-gradient GEMM's output).
struct SgdRows {
  float* p;
  const float* g;
  float* buf;
  ptrdiff_t ld;
  SgdScalars s;
  static void run(const void* c, int i0, int m, int j0, int n) {
    const auto& e = *static_cast<const SgdRows*>(c);
    for (int i = i0; i < i0 + m; i++) {
      const ptrdiff_t o = ptrdiff_t(i) * e.ld + j0;
      sgd_update_serial(e.p + o, e.g + o, e.buf + o, n, e.s);
    }
  }
};

bool reads(const Op& op, int id) { return std::find(op.in.begin(), op.in.end(), id) != op.in.end(); }
bool writes(const Op& op, int id) { return std::find(op.out.begin(), op.out.end(), id) != op.out.end(); }
// Whether running b before a (or a before b) could change either's result.
bool conflict(const Op& a, const Op& b) {
  for (int id : a.out)
    if (reads(b, id) || writes(b, id)) return true;
  for (int id : b.out)
    if (reads(a, id)) return true;
  return false;
}
// Whether ops [from, to) of the tape, those not yet run, leave `op` free to run first.
bool can_run_before(const Tape& t, const std::vector<char>& done, size_t from, size_t to, const Op& op) {
  for (size_t k = from; k < to; k++)
    if (!done[k] && conflict(t.ops[k], op)) return false;
  return true;
}

// Runs ops[i] with what it can take along, marking what it ran in `done`. Returns false
// when ops[i] has nothing to fuse (the caller runs it alone).
bool run_fused(const Tape& t, size_t i, Workspace& ws, const StepContext& ctx, std::vector<char>& done) {
  const Op& op = t.ops[i];
  const size_t n = t.ops.size();
  // Linear, then the ReLU of its output: the ReLU in the GEMM's output pass.
  if (op.kind == OpKind::LinearForward && i + 1 < n && t.ops[i + 1].kind == OpKind::ReluForward &&
      t.ops[i + 1].in[0] == op.out[0]) {
    const TensorSpec& w = t.tensors[size_t(op.in[1])];
    const ReluForwardRows e{ws[op.out[0]], ws[t.ops[i + 1].out[0]], w.rows};
    const GemmEpilogue epi{ReluForwardRows::run, &e};
    linear_forward(t, op, ws, ctx, &epi);
    done[i] = done[i + 1] = 1;
    return true;
  }
  // A weight gradient whose SGD update comes later with nothing between needing the old
  // weight but this layer's input gradient: that input gradient (with the ReLU backward
  // after it, in its output pass) first, then the weight gradient with the update in its
  // output pass (gemm_chunked's with a reduce chunk). Not on a data-parallel rank or a
  // pipeline stage (gradients are combined across ranks or micro-batches before the update).
  const int chunk = reduce_chunk_of(ctx);
  if (op.kind != OpKind::LinearBackwardWeight || ctx.global_batch > 0) return false;
  const int g = op.out[0];
  size_t j = i + 1;
  while (j < n && !(t.ops[j].kind == OpKind::SgdUpdate && t.ops[j].in[1] == g)) j++;
  if (j == n) return false;
  const Op& sgd = t.ops[j];
  const int p = sgd.in[0];
  // The ops between that touch the weight: at most one, this layer's input gradient.
  size_t d = n;
  for (size_t k = i + 1; k < j; k++) {
    if (done[k]) continue;
    const Op& o = t.ops[k];
    if (!(reads(o, p) || writes(o, p) || conflict(o, sgd))) continue;
    if (d != n || o.kind != OpKind::LinearBackwardInput || o.in[1] != p || writes(o, p) || conflict(o, sgd)) return false;
    d = k;
  }
  if (d != n) {
    if (!can_run_before(t, done, i, d, t.ops[d])) return false;
    const Op& dx = t.ops[d];
    const bool relu = d + 1 < j && t.ops[d + 1].kind == OpKind::ReluBackward && t.ops[d + 1].in[0] == dx.out[0] &&
                      can_run_before(t, done, i, d, t.ops[d + 1]);
    if (relu) {
      const Op& rb = t.ops[d + 1];
      const ReluBackwardRows e{ws[dx.out[0]], ws[rb.in[1]], ws[rb.out[0]], t.tensors[size_t(dx.out[0])].cols};
      const GemmEpilogue epi{ReluBackwardRows::run, &e};
      linear_backward_input(t, dx, ws, ctx, &epi);
      done[d + 1] = 1;
    } else {
      linear_backward_input(t, dx, ws, ctx);
    }
    done[d] = 1;
  }
  // dW(o,i) = Σ_b dz(b,o)·x(b,i), as run_op computes it, then p, buf -= in the same pass.
  const int O = t.tensors[size_t(op.in[0])].cols, I = t.tensors[size_t(op.in[1])].cols,
            R = t.tensors[size_t(op.in[0])].rows;
  const SgdRows e{ws[p], ws[g], ws[sgd.in[2]], I, sgd_scalars_of(t, sgd, ctx)};
  const GemmEpilogue epi{SgdRows::run, &e};
  if (chunk > 0)
    gemm_chunked(O, I, R, transposed(ws[op.in[0]], O), row_major(ws[op.in[1]], I), ws[g], I, chunk, &epi);
  else
    gemm_mode(ctx, O, I, R, transposed(ws[op.in[0]], O), row_major(ws[op.in[1]], I), nullptr, ws[g], I, &epi);
  done[i] = done[j] = 1;
  return true;
}
}  // namespace

SgdScalars sgd_scalars_of(const Tape& tape, const Op& op, const StepContext& ctx) {
  SgdScalars s = ctx.sgd;
  if (!tape.tensors[size_t(op.in[0])].decay) s.weight_decay = 0.0f;
  return s;
}

AdamwScalars adamw_scalars_of(const Tape& tape, const Op& op, const StepContext& ctx) {
  AdamwScalars s = ctx.adamw;
  if (!tape.tensors[size_t(op.in[0])].decay) s.decay = 1.0f;  // p·1 (torch's p.mul_(1 − lr·0))
  return s;
}

// ---- The CPU's ops (model/cpu_ops.hpp): the MLP's and the shared kinds; the GPT's are in gpt.cpp.

void cpu_op_LoadBatch(const Tape& tape, const Op& op, Workspace& ws, const StepContext& ctx) {
  const int B = tape.batch, F = tape.widths[0];
  load_rows(ctx.images, ctx.batch_indices, B, F, ctx.input_scale, ws[op.out[0]]);
  float* y = ws[op.out[1]];
  for (int b = 0; b < B; b++) y[b] = float(ctx.labels[ctx.batch_indices[b]]);
}

void cpu_op_LinearForward(const Tape& tape, const Op& op, Workspace& ws, const StepContext& ctx) {
  linear_forward(tape, op, ws, ctx);
}

void cpu_op_ReluForward(const Tape& tape, const Op& op, Workspace& ws, const StepContext&) {
  relu_forward(ws[op.in[0]], ws[op.out[0]], tape.tensors[size_t(op.in[0])].size());
}

void cpu_op_CrossEntropyForward(const Tape& tape, const Op& op, Workspace& ws, const StepContext& ctx) {
  const TensorSpec& z = tape.tensors[size_t(op.in[0])];
  ws[op.out[1]][0] = softmax_cross_entropy_forward(ws[op.in[0]], ws[op.in[1]], ws[op.out[0]], z.rows, z.cols,
                                                   reduce_chunk_rows(tape, ctx), ctx.global_batch > 0,
                                                   ctx.continue_chains ? ws[op.out[1]][0] : 0.0f);
}

void cpu_op_CrossEntropyBackward(const Tape& tape, const Op& op, Workspace& ws, const StepContext& ctx) {
  const TensorSpec& p = tape.tensors[size_t(op.in[0])];
  // A rank's or micro-batch's rows divide by the whole step's: global_batch samples of
  // rows_per_sample rows (the GPT's mean is over B·T tokens).
  softmax_cross_entropy_backward(ws[op.in[0]], ws[op.in[1]], ws[op.out[0]], p.rows, p.cols,
                                 ctx.global_batch * rows_per_sample(tape));
}

void cpu_op_LinearBackwardWeight(const Tape& tape, const Op& op, Workspace& ws, const StepContext& ctx) {
  const int O = tape.tensors[size_t(op.in[0])].cols, I = tape.tensors[size_t(op.in[1])].cols,
            R = tape.tensors[size_t(op.in[0])].rows;
  // dW(o,i) = Σ_b dz(b,o)·x(b,i): A = dzᵀ, B = x, k = batch ascending (in chunks).
  const int chunk = reduce_chunk_rows(tape, ctx);
  if (chunk > 0)
    gemm_chunked(O, I, R, transposed(ws[op.in[0]], O), row_major(ws[op.in[1]], I), ws[op.out[0]], I, chunk);
  else if (ctx.continue_chains)
    gemm_exact_continue(O, I, R, transposed(ws[op.in[0]], O), row_major(ws[op.in[1]], I), ws[op.out[0]], I);
  else
    gemm_mode(ctx, O, I, R, transposed(ws[op.in[0]], O), row_major(ws[op.in[1]], I), nullptr, ws[op.out[0]], I);
}

void cpu_op_LinearBackwardBias(const Tape& tape, const Op& op, Workspace& ws, const StepContext& ctx) {
  const TensorSpec& dz = tape.tensors[size_t(op.in[0])];
  const int chunk = reduce_chunk_rows(tape, ctx);
  if (chunk > 0)
    column_sums_chunked(ws[op.in[0]], ws[op.out[0]], dz.rows, dz.cols, chunk);
  else if (ctx.continue_chains)
    column_sums_continue(ws[op.in[0]], ws[op.out[0]], dz.rows, dz.cols);
  else
    (ctx.compute.fast ? column_sums_fast : column_sums)(ws[op.in[0]], ws[op.out[0]], dz.rows, dz.cols);
}

void cpu_op_LinearBackwardInput(const Tape& tape, const Op& op, Workspace& ws, const StepContext& ctx) {
  linear_backward_input(tape, op, ws, ctx);
}

void cpu_op_ReluBackward(const Tape& tape, const Op& op, Workspace& ws, const StepContext&) {
  relu_backward(ws[op.in[0]], ws[op.in[1]], ws[op.out[0]], tape.tensors[size_t(op.in[0])].size());
}

void cpu_op_SgdUpdate(const Tape& tape, const Op& op, Workspace& ws, const StepContext& ctx) {
  sgd_update(ws[op.in[0]], ws[op.in[1]], ws[op.in[2]], tape.tensors[size_t(op.in[0])].size(),
             sgd_scalars_of(tape, op, ctx));
}

void cpu_op_AdamwUpdate(const Tape& tape, const Op& op, Workspace& ws, const StepContext& ctx) {
  adamw_update(ws[op.in[0]], ws[op.in[1]], ws[op.in[2]], ws[op.in[3]], tape.tensors[size_t(op.in[0])].size(),
               adamw_scalars_of(tape, op, ctx));
}

// A sample's row of the cut: the MLP's activation row, the GPT's T·C residual values.
int64_t cut_width(const Tape& tape, int id) { return tape.tensors[size_t(id)].size() / tape.batch; }

void cpu_op_CutForward(const Tape& tape, const Op& op, Workspace& ws, const StepContext& ctx) {
  cut_forward(ws[op.in[0]], ctx.batch_indices, tape.batch, cut_width(tape, op.in[0]), cut_forward_codec(tape.cut),
              ws[op.in[1]], ws[op.in[2]], ws[op.out[0]], ctx.batch_max);
}

void cpu_op_CutBackward(const Tape& tape, const Op& op, Workspace& ws, const StepContext& ctx) {
  cut_backward(ws[op.in[0]], tape.batch, cut_width(tape, op.in[0]), cut_backward_codec(tape.cut), ws[op.out[0]],
               ctx.batch_max);
}

namespace {
#define PW_CPU_OP_ENTRY(Name, value, str) &cpu_op_##Name,
constexpr CpuOp kCpuOps[] = {PW_OP_KINDS(PW_CPU_OP_ENTRY)};
#undef PW_CPU_OP_ENTRY
static_assert(std::size(kCpuOps) == size_t(kOpKindCount), "model/op_kinds.hpp: one CPU op per kind");
}  // namespace

void run_op(const Tape& tape, const Op& op, Workspace& ws, const StepContext& ctx) {
  const int B = tape.batch;
  const int chunk = reduce_chunk_of(ctx);
  if (chunk > 0 && !valid_reduce_chunk(B, chunk))
    internal_error("reduce chunk " + std::to_string(chunk) + " does not divide batch " + std::to_string(B) +
                   " into a power-of-two count");
  if (ctx.continue_chains && (chunk > 0 || ctx.compute.fast || ctx.global_batch == 0))
    internal_error("continued chains outside an exact-mode micro-batch without a reduce chunk");
  if (size_t(op.kind) >= std::size(kCpuOps)) internal_error("run_op: op kind " + std::to_string(int(op.kind)));
  kCpuOps[size_t(op.kind)](tape, op, ws, ctx);
}

void run_step(const Tape& tape, Workspace& ws, const StepContext& ctx, const OpHook& hook) {
  if (hook) {  // op by op: the hook sees each op's outputs as it finishes
    for (size_t i = 0; i < tape.ops.size(); i++) {
      run_op(tape, tape.ops[i], ws, ctx);
      hook(int(i), ws);
    }
    return;
  }
  std::vector<char> done(tape.ops.size(), 0);
  for (size_t i = 0; i < tape.ops.size(); i++) {
    if (done[i] || run_fused(tape, i, ws, ctx, done)) continue;
    run_op(tape, tape.ops[i], ws, ctx);
    done[i] = 1;
  }
}

void forward_logits(const Tape& tape, const Workspace& params, const uint8_t* images, int64_t n,
                    float input_scale, std::vector<float>& logits) {
  const int L = int(tape.widths.size()) - 1;
  const int chunk = 1024;
  logits.assign(size_t(n) * size_t(tape.widths.back()), 0.0f);
  std::vector<float> x, z;
  for (int64_t r0 = 0; r0 < n; r0 += chunk) {
    const int rows = int(std::min<int64_t>(chunk, n - r0));
    x.resize(size_t(rows) * size_t(tape.widths[0]));
    load_rows(images + r0 * tape.widths[0], nullptr, rows, tape.widths[0], input_scale, x.data());
    for (int l = 0; l < L; l++) {
      const int in = tape.widths[l], out = tape.widths[l + 1];
      z.resize(size_t(rows) * size_t(out));
      gemm_exact(rows, out, in, row_major(x.data(), in), transposed(params[tape.params[2 * l]], in),
                 params[tape.params[2 * l + 1]], z.data(), out);
      if (l + 1 < L) relu_forward(z.data(), z.data(), int64_t(z.size()));
      x.swap(z);
    }
    std::copy(x.begin(), x.end(), logits.begin() + r0 * tape.widths.back());
  }
}

}  // namespace pw
