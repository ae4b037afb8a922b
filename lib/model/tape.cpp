#include "model/tape.hpp"

#include "core/error.hpp"
#include "model/cut.hpp"
#include "model/gpt.hpp"
#include "tensor/gemm.hpp"

namespace pw {

const char* op_name(OpKind k) {
  switch (k) {
    case OpKind::LoadBatch: return "load_batch";
    case OpKind::LinearForward: return "linear_forward";
    case OpKind::ReluForward: return "relu_forward";
    case OpKind::CrossEntropyForward: return "cross_entropy_forward";
    case OpKind::CrossEntropyBackward: return "cross_entropy_backward";
    case OpKind::LinearBackwardWeight: return "linear_backward_weight";
    case OpKind::LinearBackwardBias: return "linear_backward_bias";
    case OpKind::LinearBackwardInput: return "linear_backward_input";
    case OpKind::ReluBackward: return "relu_backward";
    case OpKind::SgdUpdate: return "sgd_update";
    case OpKind::AdamwUpdate: return "adamw_update";
    case OpKind::CutForward: return "cut_forward";
    case OpKind::CutBackward: return "cut_backward";
    case OpKind::LoadWindows: return "load_windows";
    case OpKind::EmbeddingForward: return "embedding_forward";
    case OpKind::LayerNormForward: return "layernorm_forward";
    case OpKind::AttentionForward: return "attention_forward";
    case OpKind::GeluForward: return "gelu_forward";
    case OpKind::Add: return "add";
    case OpKind::GeluBackward: return "gelu_backward";
    case OpKind::AttentionBackward: return "attention_backward";
    case OpKind::LayerNormBackward: return "layernorm_backward";
    case OpKind::EmbeddingBackward: return "embedding_backward";
    case OpKind::ClipGradients: return "clip_gradients";
  }
  return "?";
}

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

namespace {
void load_rows(const uint8_t* images, const uint32_t* idx, int64_t B, int F, float scale, float* x) {
#pragma omp parallel for schedule(static) if (B * F >= (int64_t(1) << 15))
  for (int64_t b = 0; b < B; b++) {
    const uint8_t* src = images + int64_t(idx ? idx[b] : b) * F;
    for (int f = 0; f < F; f++) x[b * F + f] = float(src[f]) * scale;
  }
}
}  // namespace

void run_op(const Tape& tape, const Op& op, Workspace& ws, const StepContext& ctx) {
  auto spec = [&](int id) -> const TensorSpec& { return tape.tensors[size_t(id)]; };
  auto gemm = [&](int M, int N, int K, MatView A, MatView Bm, const float* bias, float* C, ptrdiff_t ldc) {
    if (ctx.compute.fast)
      gemm_fast(M, N, K, A, Bm, bias, C, ldc, ctx.compute.fast_panel);
    else
      gemm_exact(M, N, K, A, Bm, bias, C, ldc);
  };
  const int B = tape.batch;
  const int chunk = ctx.compute.fast ? 0 : ctx.compute.reduce_chunk;
  if (chunk > 0 && !valid_reduce_chunk(B, chunk))
    internal_error("reduce chunk " + std::to_string(chunk) + " does not divide batch " + std::to_string(B) +
                   " into a power-of-two count");
  if (ctx.global_batch > 0 && chunk == 0) internal_error("a data-parallel rank without the chunked reduction");
  switch (op.kind) {
    case OpKind::LoadBatch: {
      const int F = tape.widths[0];
      load_rows(ctx.images, ctx.batch_indices, B, F, ctx.input_scale, ws[op.out[0]]);
      float* y = ws[op.out[1]];
      for (int b = 0; b < B; b++) y[b] = float(ctx.labels[ctx.batch_indices[b]]);
      break;
    }
    case OpKind::LinearForward: {  // rows: the batch (MLP) or B·T (GPT); no bias: the tied LM head
      const TensorSpec& w = spec(op.in[1]);  // (out, in)
      const int R = spec(op.in[0]).rows;
      gemm(R, w.rows, w.cols, row_major(ws[op.in[0]], w.cols), transposed(ws[op.in[1]], w.cols),
                 op.in.size() > 2 ? ws[op.in[2]] : nullptr, ws[op.out[0]], w.rows);
      break;
    }
    case OpKind::ReluForward:
      relu_forward(ws[op.in[0]], ws[op.out[0]], spec(op.in[0]).size());
      break;
    case OpKind::CrossEntropyForward: {
      const int C = spec(op.in[0]).cols, R = spec(op.in[0]).rows;
      ws[op.out[1]][0] = softmax_cross_entropy_forward(ws[op.in[0]], ws[op.in[1]], ws[op.out[0]], R, C, chunk,
                                                       ctx.global_batch > 0);
      break;
    }
    case OpKind::CrossEntropyBackward:
      softmax_cross_entropy_backward(ws[op.in[0]], ws[op.in[1]], ws[op.out[0]], spec(op.in[0]).rows,
                                     spec(op.in[0]).cols, ctx.global_batch);
      break;
    case OpKind::LinearBackwardWeight: {
      const int O = spec(op.in[0]).cols, I = spec(op.in[1]).cols, R = spec(op.in[0]).rows;
      // dW(o,i) = Σ_b dz(b,o)·x(b,i): A = dzᵀ, B = x, k = batch ascending (in chunks).
      if (chunk > 0)
        gemm_chunked(O, I, R, transposed(ws[op.in[0]], O), row_major(ws[op.in[1]], I), ws[op.out[0]], I, chunk);
      else
        gemm(O, I, R, transposed(ws[op.in[0]], O), row_major(ws[op.in[1]], I), nullptr, ws[op.out[0]], I);
      break;
    }
    case OpKind::LinearBackwardBias:
      if (chunk > 0)
        column_sums_chunked(ws[op.in[0]], ws[op.out[0]], spec(op.in[0]).rows, spec(op.in[0]).cols, chunk);
      else
        (ctx.compute.fast ? column_sums_fast : column_sums)(ws[op.in[0]], ws[op.out[0]], spec(op.in[0]).rows,
                                                            spec(op.in[0]).cols);
      break;
    case OpKind::LinearBackwardInput: {
      const TensorSpec& w = spec(op.in[1]);  // (out, in)
      const int R = spec(op.in[0]).rows;
      gemm(R, w.cols, w.rows, row_major(ws[op.in[0]], w.rows), row_major(ws[op.in[1]], w.cols), nullptr,
                 ws[op.out[0]], w.cols);
      break;
    }
    case OpKind::ReluBackward:
      relu_backward(ws[op.in[0]], ws[op.in[1]], ws[op.out[0]], spec(op.in[0]).size());
      break;
    case OpKind::SgdUpdate: {  // a tensor without decay: weight decay 0 (TensorSpec::decay)
      SgdScalars s = ctx.sgd;
      if (!spec(op.in[0]).decay) s.weight_decay = 0.0f;
      sgd_update(ws[op.in[0]], ws[op.in[1]], ws[op.in[2]], spec(op.in[0]).size(), s);
      break;
    }
    case OpKind::AdamwUpdate: {  // without decay: p·1 (torch's p.mul_(1 − lr·0))
      AdamwScalars s = ctx.adamw;
      if (!spec(op.in[0]).decay) s.decay = 1.0f;
      adamw_update(ws[op.in[0]], ws[op.in[1]], ws[op.in[2]], ws[op.in[3]], spec(op.in[0]).size(), s);
      break;
    }
    case OpKind::CutForward:
      cut_forward(ws[op.in[0]], ctx.batch_indices, B, spec(op.in[0]).cols,
                  aqsgd::Codec{tape.cut.forward_bits, false, tape.cut.seed, tape.cut.rotate_tile, tape.cut.scale_tile},
                  ws[op.in[1]], ws[op.in[2]], ws[op.out[0]], ctx.batch_max);
      break;
    case OpKind::CutBackward:
      cut_backward(ws[op.in[0]], B, spec(op.in[0]).cols, aqsgd::Codec{tape.cut.backward_bits}, ws[op.out[0]],
                   ctx.batch_max);
      break;
    case OpKind::LoadWindows:
    case OpKind::EmbeddingForward:
    case OpKind::LayerNormForward:
    case OpKind::AttentionForward:
    case OpKind::GeluForward:
    case OpKind::Add:
    case OpKind::GeluBackward:
    case OpKind::AttentionBackward:
    case OpKind::LayerNormBackward:
    case OpKind::EmbeddingBackward:
    case OpKind::ClipGradients:
      run_gpt_op(tape, op, ws, ctx);  // model/gpt.cpp
      break;
  }
}

void run_step(const Tape& tape, Workspace& ws, const StepContext& ctx, const OpHook& hook) {
  for (size_t i = 0; i < tape.ops.size(); i++) {
    run_op(tape, tape.ops[i], ws, ctx);
    if (hook) hook(int(i), ws);
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
