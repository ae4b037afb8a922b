#include "model/gpt.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "model/cpu_ops.hpp"
#include "tensor/transformer.hpp"

namespace pw {

namespace {

struct GptBuilder {
  Tape& t;
  int add(std::string name, Role role, int rows, int cols, int ndim = 2, bool decay = true) {
    t.tensors.push_back({std::move(name), role, rows, cols, ndim, {}, decay});
    return int(t.tensors.size() - 1);
  }
  int param(std::string name, int rows, int cols) {  // 2-D: decayed; 1-D (rows 0): not
    const bool matrix = rows > 0;
    const int id = add(std::move(name), Role::Param, matrix ? rows : 1, cols, matrix ? 2 : 1, matrix);
    t.params.push_back(id);
    return id;
  }
  int grad_of(int p) {
    const TensorSpec s = t.tensors[size_t(p)];
    return add(s.name + ".grad", Role::Gradient, s.rows, s.cols, s.ndim);
  }
  void op(OpKind k, int layer, std::vector<int> in, std::vector<int> out) {
    t.ops.push_back({k, layer, std::move(in), std::move(out)});
  }
};

struct Block {
  int ln1w, ln1b, attnw, attnb, projw, projb, ln2w, ln2b, fcw, fcb, mprojw, mprojb;
};

}  // namespace

Tape build_gpt_tape(const GptSpec& g, int batch, OptimizerType opt, float clip, bool chunked, const CutSpec& cut) {
  if (!g.enabled() || g.heads < 1 || g.channels % g.heads != 0 || g.context < 1 || batch < 1)
    internal_error("build_gpt_tape: an invalid GPT");
  if (cut.enabled() && (cut.layer >= g.layers || cut.samples < 1))
    internal_error("build_gpt_tape: a cut needs a block on each side and a training set");
  Tape t;
  t.kind = ModelKind::Gpt;
  t.gpt = g;
  t.batch = batch;
  t.optimizer = opt;
  t.clip = clip;
  t.cut = cut;
  GptBuilder b{t};
  const int C = g.channels, T = g.context, V = g.vocab, N = batch * T, L = g.layers, H = g.heads;
  // Parameters in nanoGPT's state-dict order, nn.Linear's (out, in) layout.
  const int wte = b.param("transformer.wte.weight", V, C);
  const int wpe = b.param("transformer.wpe.weight", T, C);
  std::vector<Block> blk(static_cast<size_t>(L));
  for (int l = 0; l < L; l++) {
    const std::string h = "transformer.h." + std::to_string(l) + ".";
    Block& k = blk[size_t(l)];
    k.ln1w = b.param(h + "ln_1.weight", 0, C);
    k.ln1b = b.param(h + "ln_1.bias", 0, C);
    k.attnw = b.param(h + "attn.c_attn.weight", 3 * C, C);
    k.attnb = b.param(h + "attn.c_attn.bias", 0, 3 * C);
    k.projw = b.param(h + "attn.c_proj.weight", C, C);
    k.projb = b.param(h + "attn.c_proj.bias", 0, C);
    k.ln2w = b.param(h + "ln_2.weight", 0, C);
    k.ln2b = b.param(h + "ln_2.bias", 0, C);
    k.fcw = b.param(h + "mlp.c_fc.weight", 4 * C, C);
    k.fcb = b.param(h + "mlp.c_fc.bias", 0, 4 * C);
    k.mprojw = b.param(h + "mlp.c_proj.weight", C, 4 * C);
    k.mprojb = b.param(h + "mlp.c_proj.bias", 0, C);
  }
  const int lnfw = b.param("transformer.ln_f.weight", 0, C);
  const int lnfb = b.param("transformer.ln_f.bias", 0, C);
  for (int p : t.params) {
    const TensorSpec s = t.tensors[size_t(p)];
    auto state = [&](const char* suffix) {
      t.opt_state.push_back(b.add(s.name + suffix, Role::OptState, s.rows, s.cols, s.ndim, s.decay));
    };
    if (opt == OptimizerType::Sgd) {
      state(".momentum_buffer");
    } else {
      state(".exp_avg");
      state(".exp_avg_sq");
    }
  }
  // The cut's state: a window's T·C residual values a row, then the seen flags.
  const std::string cut_name = "cut." + std::to_string(cut.layer);
  if (cut.enabled()) {
    t.cut_state.push_back(b.add(cut_name + ".buffer", Role::CutState, int(cut.samples), T * C));
    t.cut_state.push_back(b.add(cut_name + ".seen", Role::CutState, 1, int(cut.samples), 1));
  }
  // Forward.
  t.input = b.add("idx", Role::Batch, batch, T);
  t.labels = b.add("targets", Role::Batch, batch, T);
  b.op(OpKind::LoadWindows, -1, {}, {t.input, t.labels});
  auto act = [&](const std::string& name, int cols) { return b.add(name, Role::Activation, N, cols); };
  auto stats = [&](const std::string& name) { return b.add(name, Role::Activation, 1, N, 1); };
  int x = act("x0", C);
  b.op(OpKind::EmbeddingForward, -1, {t.input, wte, wpe}, {x});
  struct Saved {
    int x, ln1, ln1m, ln1r, qkv, atty, att, xmid, ln2, ln2m, ln2r, fc, fcg;
  };
  std::vector<Saved> sv(static_cast<size_t>(L));
  for (int l = 0; l < L; l++) {
    const Block& k = blk[size_t(l)];
    Saved& s = sv[size_t(l)];
    const std::string h = "h." + std::to_string(l) + ".";
    s.x = x;
    s.ln1 = act(h + "ln_1", C);
    s.ln1m = stats(h + "ln_1.mean");
    s.ln1r = stats(h + "ln_1.rstd");
    b.op(OpKind::LayerNormForward, l, {x, k.ln1w, k.ln1b}, {s.ln1, s.ln1m, s.ln1r});
    s.qkv = act(h + "qkv", 3 * C);
    b.op(OpKind::LinearForward, l, {s.ln1, k.attnw, k.attnb}, {s.qkv});
    s.atty = act(h + "attn.y", C);
    s.att = b.add(h + "attn.att", Role::Activation, batch * H * T, T);
    t.tensors[size_t(s.att)].dims = {batch, H, T, T};
    b.op(OpKind::AttentionForward, l, {s.qkv}, {s.atty, s.att});
    const int proj = act(h + "attn.proj", C);
    b.op(OpKind::LinearForward, l, {s.atty, k.projw, k.projb}, {proj});
    s.xmid = act(h + "x.mid", C);
    b.op(OpKind::Add, l, {x, proj}, {s.xmid});
    s.ln2 = act(h + "ln_2", C);
    s.ln2m = stats(h + "ln_2.mean");
    s.ln2r = stats(h + "ln_2.rstd");
    b.op(OpKind::LayerNormForward, l, {s.xmid, k.ln2w, k.ln2b}, {s.ln2, s.ln2m, s.ln2r});
    s.fc = act(h + "mlp.fc", 4 * C);
    b.op(OpKind::LinearForward, l, {s.ln2, k.fcw, k.fcb}, {s.fc});
    s.fcg = act(h + "mlp.gelu", 4 * C);
    b.op(OpKind::GeluForward, l, {s.fc}, {s.fcg});
    const int mproj = act(h + "mlp.proj", C);
    b.op(OpKind::LinearForward, l, {s.fcg, k.mprojw, k.mprojb}, {mproj});
    const int xn = act("x" + std::to_string(l + 1), C);
    b.op(OpKind::Add, l, {s.xmid, mproj}, {xn});
    x = xn;
    if (cut.enabled() && l + 1 == cut.layer) {  // block l+1 reads x̂, what crossed the cut
      x = act("x" + std::to_string(l + 1) + ".cut", C);
      b.op(OpKind::CutForward, l, {xn, t.cut_state[0], t.cut_state[1]}, {x, t.cut_state[0], t.cut_state[1]});
    }
  }
  const int lnf = act("ln_f", C), lnfm = stats("ln_f.mean"), lnfr = stats("ln_f.rstd");
  b.op(OpKind::LayerNormForward, L, {x, lnfw, lnfb}, {lnf, lnfm, lnfr});
  t.logits = act("logits", V);
  b.op(OpKind::LinearForward, L, {lnf, wte}, {t.logits});  // the LM head, tied to wte, no bias
  t.probs = act("probs", V);
  t.loss = b.add("loss", Role::Activation, 1, 1, 1);
  b.op(OpKind::CrossEntropyForward, -1, {t.logits, t.labels}, {t.probs, t.loss});
  // Backward.
  std::vector<int> grad(t.tensors.size(), -1);
  for (int p : t.params) grad[size_t(p)] = b.grad_of(p);
  auto gr_of = [&](int p) { return grad[size_t(p)]; };
  const int dlogits = act("dlogits", V);
  b.op(OpKind::CrossEntropyBackward, -1, {t.probs, t.labels}, {dlogits});
  if (!chunked)  // the LM head's part of wte's gradient (chunked: in the embedding's backward, per chunk)
    b.op(OpKind::LinearBackwardWeight, L, {dlogits, lnf}, {gr_of(wte)});
  const int dlnf = act("dln_f", C);
  b.op(OpKind::LinearBackwardInput, L, {dlogits, wte}, {dlnf});
  int dx = act("dx" + std::to_string(L), C);
  b.op(OpKind::LayerNormBackward, L, {dlnf, x, lnfw, lnfm, lnfr}, {dx, gr_of(lnfw), gr_of(lnfb)});
  for (int l = L - 1; l >= 0; l--) {
    const Block& k = blk[size_t(l)];
    const Saved& s = sv[size_t(l)];
    const std::string h = "h." + std::to_string(l) + ".";
    // x_next = x_mid + mlp(ln_2(x_mid)): dx flows to both.
    b.op(OpKind::LinearBackwardWeight, l, {dx, s.fcg}, {gr_of(k.mprojw)});
    b.op(OpKind::LinearBackwardBias, l, {dx}, {gr_of(k.mprojb)});
    const int dfcg = act("d" + h + "mlp.gelu", 4 * C);
    b.op(OpKind::LinearBackwardInput, l, {dx, k.mprojw}, {dfcg});
    const int dfc = act("d" + h + "mlp.fc", 4 * C);
    b.op(OpKind::GeluBackward, l, {dfcg, s.fc}, {dfc});
    b.op(OpKind::LinearBackwardWeight, l, {dfc, s.ln2}, {gr_of(k.fcw)});
    b.op(OpKind::LinearBackwardBias, l, {dfc}, {gr_of(k.fcb)});
    const int dln2 = act("d" + h + "ln_2", C);
    b.op(OpKind::LinearBackwardInput, l, {dfc, k.fcw}, {dln2});
    const int dxm_ln = act("d" + h + "x.mid.ln", C);
    b.op(OpKind::LayerNormBackward, l, {dln2, s.xmid, k.ln2w, s.ln2m, s.ln2r}, {dxm_ln, gr_of(k.ln2w), gr_of(k.ln2b)});
    const int dxm = act("d" + h + "x.mid", C);
    b.op(OpKind::Add, l, {dx, dxm_ln}, {dxm});
    // x_mid = x + attn(ln_1(x)).
    b.op(OpKind::LinearBackwardWeight, l, {dxm, s.atty}, {gr_of(k.projw)});
    b.op(OpKind::LinearBackwardBias, l, {dxm}, {gr_of(k.projb)});
    const int datty = act("d" + h + "attn.y", C);
    b.op(OpKind::LinearBackwardInput, l, {dxm, k.projw}, {datty});
    const int dqkv = act("d" + h + "qkv", 3 * C);
    b.op(OpKind::AttentionBackward, l, {datty, s.qkv, s.att}, {dqkv});
    b.op(OpKind::LinearBackwardWeight, l, {dqkv, s.ln1}, {gr_of(k.attnw)});
    b.op(OpKind::LinearBackwardBias, l, {dqkv}, {gr_of(k.attnb)});
    const int dln1 = act("d" + h + "ln_1", C);
    b.op(OpKind::LinearBackwardInput, l, {dqkv, k.attnw}, {dln1});
    const int dx_ln = act("d" + h + "x.ln", C);
    b.op(OpKind::LayerNormBackward, l, {dln1, s.x, k.ln1w, s.ln1m, s.ln1r}, {dx_ln, gr_of(k.ln1w), gr_of(k.ln1b)});
    const int dxp = act("dx" + std::to_string(l), C);
    b.op(OpKind::Add, l, {dxm, dx_ln}, {dxp});
    dx = dxp;
    if (cut.enabled() && l == cut.layer) {  // the gradient crosses the cut back
      dx = act("dx" + std::to_string(l) + ".cut", C);
      b.op(OpKind::CutBackward, l - 1, {dxp}, {dx});
    }
  }
  // wte's gradient: the LM head's (above), then the embedding's added once; chunked, both
  // per chunk here, then one tree over the chunks (proofwork(7), EXACT MODE).
  if (chunked)
    b.op(OpKind::EmbeddingBackward, -1, {t.input, dx, dlogits, lnf}, {gr_of(wte), gr_of(wpe)});
  else
    b.op(OpKind::EmbeddingBackward, -1, {t.input, dx, gr_of(wte)}, {gr_of(wte), gr_of(wpe)});
  for (int p : t.params) t.grads.push_back(gr_of(p));
  if (clip > 0) b.op(OpKind::ClipGradients, -1, t.grads, t.grads);
  for (size_t i = 0; i < t.params.size(); i++) {
    const int p = t.params[i], gr = t.grads[i];
    if (opt == OptimizerType::Sgd)
      b.op(OpKind::SgdUpdate, -1, {p, gr, t.opt_state[i]}, {p, t.opt_state[i]});
    else
      b.op(OpKind::AdamwUpdate, -1, {p, gr, t.opt_state[2 * i], t.opt_state[2 * i + 1]},
           {p, t.opt_state[2 * i], t.opt_state[2 * i + 1]});
  }
  return t;
}

float clip_coefficient(const std::vector<float>& sum_squares, float max_norm, float* total_norm) {
  float total_sq = 0.0f;
  for (float ss : sum_squares) {
    const float norm = std::sqrt(ss);
    total_sq = total_sq + norm * norm;
  }
  const float total = std::sqrt(total_sq);
  if (total_norm) *total_norm = total;
  return max_norm / (total + 1e-6f);
}

float clip_gradients(const std::vector<float*>& grads, const std::vector<int64_t>& sizes, float max_norm) {
  std::vector<float> ss(grads.size());
  for (size_t i = 0; i < grads.size(); i++) ss[i] = sum_squares(grads[i], sizes[i]);
  float total = 0.0f;
  const float coef = clip_coefficient(ss, max_norm, &total);
  if (coef < 1.0f)
    for (size_t i = 0; i < grads.size(); i++) scale_inplace(grads[i], sizes[i], coef);
  return total;
}

// ---- The GPT's ops on the CPU (model/cpu_ops.hpp). N = B·T rows.
namespace {
int64_t rows_of(const Tape& tape) { return int64_t(tape.batch) * tape.gpt.context; }
int64_t size_of(const Tape& tape, int id) { return tape.tensors[size_t(id)].size(); }
}  // namespace

void cpu_op_LoadWindows(const Tape& tape, const Op& op, Workspace& ws, const StepContext& ctx) {
  const int B = tape.batch, T = tape.gpt.context;  // window b: T+1 bytes from offset batch_indices[b]
  float* idx = ws[op.out[0]];
  float* tgt = ws[op.out[1]];
  for (int b = 0; b < B; b++) {
    const uint8_t* w = ctx.text + ctx.batch_indices[b];
    for (int i = 0; i < T; i++) {
      idx[int64_t(b) * T + i] = float(w[i]);
      tgt[int64_t(b) * T + i] = float(w[i + 1]);
    }
  }
}

void cpu_op_EmbeddingForward(const Tape& tape, const Op& op, Workspace& ws, const StepContext&) {
  embedding_forward(ws[op.in[0]], ws[op.in[1]], ws[op.in[2]], ws[op.out[0]], tape.batch, tape.gpt.context,
                    tape.gpt.channels);
}

void cpu_op_LayerNormForward(const Tape& tape, const Op& op, Workspace& ws, const StepContext&) {
  layernorm_forward(ws[op.in[0]], ws[op.in[1]], ws[op.in[2]], ws[op.out[0]], ws[op.out[1]], ws[op.out[2]],
                    rows_of(tape), tape.gpt.channels, kLayerNormEps);
}

void cpu_op_AttentionForward(const Tape& tape, const Op& op, Workspace& ws, const StepContext&) {
  const GptSpec& g = tape.gpt;
  attention_forward(ws[op.in[0]], ws[op.out[0]], ws[op.out[1]], tape.batch, g.context, g.channels, g.heads);
}

void cpu_op_GeluForward(const Tape& tape, const Op& op, Workspace& ws, const StepContext&) {
  gelu_forward(ws[op.in[0]], ws[op.out[0]], size_of(tape, op.in[0]));
}

void cpu_op_Add(const Tape& tape, const Op& op, Workspace& ws, const StepContext&) {
  add_forward(ws[op.in[0]], ws[op.in[1]], ws[op.out[0]], size_of(tape, op.in[0]));
}

void cpu_op_GeluBackward(const Tape& tape, const Op& op, Workspace& ws, const StepContext&) {
  gelu_backward(ws[op.in[0]], ws[op.in[1]], ws[op.out[0]], size_of(tape, op.in[0]));
}

void cpu_op_AttentionBackward(const Tape& tape, const Op& op, Workspace& ws, const StepContext&) {
  const GptSpec& g = tape.gpt;
  attention_backward(ws[op.in[0]], ws[op.in[1]], ws[op.in[2]], ws[op.out[0]], tape.batch, g.context, g.channels,
                     g.heads);
}

void cpu_op_LayerNormBackward(const Tape& tape, const Op& op, Workspace& ws, const StepContext& ctx) {
  layernorm_backward(ws[op.in[0]], ws[op.in[1]], ws[op.in[2]], ws[op.in[3]], ws[op.in[4]], ws[op.out[0]],
                     ws[op.out[1]], ws[op.out[2]], rows_of(tape), tape.gpt.channels, reduce_chunk_rows(tape, ctx),
                     ctx.continue_chains);
}

// Two forms (build_gpt_tape). idx, dx, dwte: out[0] is in[2], the LM head's wte gradient,
// added to. idx, dx, dlogits, ln_f (a task with a reduce chunk; proofwork(7), EXACT MODE):
// per chunk of c samples (c·T rows), the LM head's chain dlogitsᵀ·ln_f from zero over the
// chunk's rows, then the embedding's chain over the same rows added once (as one process
// adds its whole-batch chains), and wpe's chain over the chunk's samples; then one pairwise
// tree over the chunks covers both tensors -- so a rank's aligned block of chunks is a
// subtree of wte's one tree. Without a chunk in effect (fast mode), one chunk: the first
// form's bits.
void cpu_op_EmbeddingBackward(const Tape& tape, const Op& op, Workspace& ws, const StepContext& ctx) {
  const GptSpec& g = tape.gpt;
  const int B = tape.batch, T = g.context, C = g.channels, V = g.vocab;
  if (ctx.continue_chains)  // its chains are per token id: a pipeline runs it once over the block
    internal_error("embedding_backward has no continued chains (the pipeline runs it over the whole block)");
  if (op.in.size() == 3) {
    embedding_backward(ws[op.in[0]], ws[op.in[1]], ws[op.out[0]], ws[op.out[1]], B, T, C, V, T);
    return;
  }
  const int chunk = reduce_chunk_of(ctx) > 0 ? reduce_chunk_of(ctx) : B;  // samples
  const int n = B / chunk, rows = chunk * T;
  const int64_t wte_len = int64_t(V) * C, len = wte_len + int64_t(T) * C;
  thread_local std::vector<float> part_buf;
  if (n > 1) part_buf.resize(size_t(n * len));
  const float *idx = ws[op.in[0]], *dx = ws[op.in[1]], *dlogits = ws[op.in[2]], *lnf = ws[op.in[3]];
  for (int q = 0; q < n; q++) {
    float* const dwte = n > 1 ? part_buf.data() + q * len : ws[op.out[0]];
    float* const dwpe = n > 1 ? dwte + wte_len : ws[op.out[1]];
    const int64_t r0 = int64_t(q) * rows;
    gemm_mode(ctx, V, C, rows, transposed(dlogits + r0 * V, V), row_major(lnf + r0 * C, C), nullptr, dwte, C);
    embedding_backward(idx + r0, dx + r0 * C, dwte, dwpe, chunk, T, C, V, T);
  }
  if (n == 1) return;
  tree_combine(part_buf.data(), n, len);
  std::copy(part_buf.data(), part_buf.data() + wte_len, ws[op.out[0]]);
  std::copy(part_buf.data() + wte_len, part_buf.data() + len, ws[op.out[1]]);
}

void cpu_op_ClipGradients(const Tape& tape, const Op& op, Workspace& ws, const StepContext&) {
  std::vector<float*> gs;
  std::vector<int64_t> ns;
  for (int id : op.out) {
    gs.push_back(ws[id]);
    ns.push_back(size_of(tape, id));
  }
  clip_gradients(gs, ns, tape.clip);
}

void run_gpt_forward(const Tape& tape, Workspace& ws, const StepContext& ctx) {
  const size_t head = lm_head_op(tape);
  for (size_t k = 1; k <= head; k++) {
    const Op& op = tape.ops[k];
    if (op.kind == OpKind::CutForward)
      std::copy(ws.t[size_t(op.in[0])].begin(), ws.t[size_t(op.in[0])].end(), ws.t[size_t(op.out[0])].begin());
    else
      run_op(tape, op, ws, ctx);
  }
}

size_t lm_head_op(const Tape& tape) {
  for (size_t k = 1; k < tape.ops.size(); k++)
    if (tape.ops[k].out.size() == 1 && tape.ops[k].out[0] == tape.logits) return k;
  internal_error("the GPT tape has no LM head");
}

}  // namespace pw
