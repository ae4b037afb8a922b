// lib/model: the MLP tape's structure (op order, tensor names and shapes, wiring), and
// one executed step against a plain double-precision forward/backward/update.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "model/tape.hpp"
#include "tensor/gemm.hpp"
#include "tensor/philox.hpp"
#include "unit_helpers.hpp"

namespace {

int tensor_id(const pw::Tape& t, const std::string& name) {
  for (size_t i = 0; i < t.tensors.size(); i++)
    if (t.tensors[i].name == name) return int(i);
  FAIL("no tensor named " << name);
  return -1;
}

// A tiny dataset and parameters drawn from Philox, so every run sees the same numbers.
struct TinyProblem {
  std::vector<int> widths;
  int batch;
  int n = 16;  // samples
  std::vector<uint8_t> images, labels;
  std::vector<uint32_t> idx;

  TinyProblem(std::vector<int> w, int b) : widths(std::move(w)), batch(b) {
    const int F = widths[0], C = widths.back();
    images.resize(size_t(n) * F);
    for (size_t i = 0; i < images.size(); i++) images[i] = uint8_t(pw::philox_word(99, 7, 0, i));
    labels.resize(size_t(n));
    for (int i = 0; i < n; i++) labels[size_t(i)] = uint8_t(pw::philox_word(99, 7, 1, uint64_t(i)) % uint32_t(C));
    for (int b2 = 0; b2 < batch; b2++) idx.push_back(uint32_t((5 * b2 + 3) % n));
  }

  void init(const pw::Tape& tape, pw::Workspace& ws, float opt_fill = 0.0f) const {
    for (size_t i = 0; i < tape.params.size(); i++) {
      const int id = tape.params[i];
      const float bound = 1.0f / std::sqrt(float(widths[i / 2]));
      for (size_t e = 0; e < ws.t[size_t(id)].size(); e++)
        ws.t[size_t(id)][e] = bound * (2.0f * pw::uniform01(pw::philox_word(17, 1, uint32_t(i), e)) - 1.0f);
    }
    for (int id : tape.opt_state)
      for (auto& x : ws.t[size_t(id)]) x = opt_fill;
  }

  pw::StepContext context() const {
    pw::StepContext ctx;
    ctx.images = images.data();
    ctx.labels = labels.data();
    ctx.batch_indices = idx.data();
    ctx.input_scale = 1.0f / 255.0f;
    return ctx;
  }
};

bool same_bits(const pw::Workspace& a, const pw::Workspace& b) {
  if (a.t.size() != b.t.size()) return false;
  for (size_t i = 0; i < a.t.size(); i++)
    if (a.t[i].size() != b.t[i].size() || std::memcmp(a.t[i].data(), b.t[i].data(), a.t[i].size() * 4) != 0)
      return false;
  return true;
}

// The small SGD problem two tests step: widths 12-7-5-3, batch 6, drawn parameters.
struct SmallSgd {
  const std::vector<int> widths = {12, 7, 5, 3};
  const int B = 6;
  TinyProblem pb{widths, B};
  const pw::Tape tape = pw::build_mlp_tape(widths, B, pw::OptimizerType::Sgd);
  pw::Workspace ws{tape};
  SmallSgd() { pb.init(tape, ws); }
};

}  // namespace

TEST_CASE("build_mlp_tape for 784-32-10 with SGD: ops in order") {
  const pw::Tape t = pw::build_mlp_tape({784, 32, 10}, 8, pw::OptimizerType::Sgd);
  using K = pw::OpKind;
  const std::vector<K> kinds = {K::LoadBatch,
                                K::LinearForward,
                                K::ReluForward,
                                K::LinearForward,
                                K::CrossEntropyForward,
                                K::CrossEntropyBackward,
                                K::LinearBackwardWeight,
                                K::LinearBackwardBias,
                                K::LinearBackwardInput,
                                K::ReluBackward,
                                K::LinearBackwardWeight,
                                K::LinearBackwardBias,
                                K::SgdUpdate,
                                K::SgdUpdate,
                                K::SgdUpdate,
                                K::SgdUpdate};
  const std::vector<int> layers = {-1, 0, 0, 1, -1, -1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1};
  REQUIRE(t.ops.size() == kinds.size());
  for (size_t i = 0; i < kinds.size(); i++) {
    INFO("op " << i << " is " << pw::op_name(t.ops[i].kind));
    CHECK(t.ops[i].kind == kinds[i]);
    CHECK(t.ops[i].layer == layers[i]);
  }
  CHECK(std::string(pw::op_name(K::LoadBatch)) == "load_batch");
  CHECK(std::string(pw::op_name(K::LinearBackwardWeight)) == "linear_backward_weight");
  CHECK(std::string(pw::op_name(K::AdamwUpdate)) == "adamw_update");
  CHECK(t.widths == std::vector<int>{784, 32, 10});
  CHECK(t.batch == 8);
}

TEST_CASE("build_mlp_tape: parameters, shapes and wiring") {
  const int B = 8;
  const pw::Tape t = pw::build_mlp_tape({784, 32, 10}, B, pw::OptimizerType::Sgd);
  REQUIRE(t.params.size() == 4);
  const char* names[] = {"0.weight", "0.bias", "2.weight", "2.bias"};
  const int rows[] = {32, 1, 10, 1}, cols[] = {784, 32, 32, 10};
  for (int i = 0; i < 4; i++) {
    const pw::TensorSpec& s = t.tensors[size_t(t.params[size_t(i)])];
    CHECK(s.name == names[i]);
    CHECK(s.role == pw::Role::Param);
    CHECK(s.rows == rows[i]);
    CHECK(s.cols == cols[i]);
  }
  CHECK(t.parameter_count() == 784 * 32 + 32 + 32 * 10 + 10);
  CHECK(t.flops_per_step() == 6LL * B * (784 * 32 + 32 * 10));
  REQUIRE(t.opt_state.size() == 4);
  for (int i = 0; i < 4; i++) {
    const pw::TensorSpec& s = t.tensors[size_t(t.opt_state[size_t(i)])];
    CHECK(s.name == std::string(names[i]) + ".momentum_buffer");
    CHECK(s.role == pw::Role::OptState);
    CHECK(s.size() == t.tensors[size_t(t.params[size_t(i)])].size());
  }
  // Batch tensors and the loss.
  CHECK(t.tensors[size_t(t.input)].rows == B);
  CHECK(t.tensors[size_t(t.input)].cols == 784);
  CHECK(t.tensors[size_t(t.labels)].size() == B);
  CHECK(t.tensors[size_t(t.logits)].rows == B);
  CHECK(t.tensors[size_t(t.logits)].cols == 10);
  CHECK(t.tensors[size_t(t.probs)].size() == B * 10);
  CHECK(t.tensors[size_t(t.loss)].size() == 1);
  CHECK(t.ops[0].out == std::vector<int>{t.input, t.labels});
  CHECK(t.ops[0].in.empty());
  // Linear forward: (x, W, b) → z with matching shapes.
  for (size_t i : {size_t(1), size_t(3)}) {
    const pw::Op& op = t.ops[i];
    REQUIRE(op.in.size() == 3);
    const auto& x = t.tensors[size_t(op.in[0])];
    const auto& w = t.tensors[size_t(op.in[1])];
    const auto& b = t.tensors[size_t(op.in[2])];
    const auto& z = t.tensors[size_t(op.out[0])];
    CHECK(x.cols == w.cols);
    CHECK(b.cols == w.rows);
    CHECK(z.rows == B);
    CHECK(z.cols == w.rows);
    CHECK(op.in[1] == t.params[size_t(2 * op.layer)]);
    CHECK(op.in[2] == t.params[size_t(2 * op.layer + 1)]);
  }
  CHECK(t.ops[1].in[0] == t.input);
  CHECK(t.ops[2].in[0] == t.ops[1].out[0]);  // relu(z0)
  CHECK(t.ops[3].in[0] == t.ops[2].out[0]);  // Linear 1 reads a0
  CHECK(t.ops[3].out[0] == t.logits);
  CHECK(t.ops[4].in == std::vector<int>{t.logits, t.labels});
  CHECK(t.ops[4].out == std::vector<int>{t.probs, t.loss});
  // Gradients land in "<param>.grad" with the parameter's shape, and the updates read them.
  for (int i = 0; i < 4; i++) {
    const int p = t.params[size_t(i)];
    const int g = tensor_id(t, t.tensors[size_t(p)].name + ".grad");
    CHECK(t.tensors[size_t(g)].rows == t.tensors[size_t(p)].rows);
    CHECK(t.tensors[size_t(g)].cols == t.tensors[size_t(p)].cols);
    const pw::Op& up = t.ops[size_t(12 + i)];
    CHECK(up.in == std::vector<int>{p, g, t.opt_state[size_t(i)]});
    CHECK(up.out == std::vector<int>{p, t.opt_state[size_t(i)]});
  }
  CHECK(t.ops[6].out[0] == tensor_id(t, "2.weight.grad"));
  CHECK(t.ops[10].out[0] == tensor_id(t, "0.weight.grad"));
  CHECK(t.ops[6].in[1] == t.ops[2].out[0]);   // dW1 = dz1ᵀ·a0
  CHECK(t.ops[10].in[1] == t.input);          // dW0 = dz0ᵀ·x0
  CHECK(t.ops[9].in[1] == t.ops[2].out[0]);   // relu backward masks by a0
  CHECK(t.ops[10].in[0] == t.ops[9].out[0]);  // dz0 comes from relu backward
  // Every tensor an op reads was written before (or is a parameter / optimizer state).
  std::vector<bool> written(t.tensors.size(), false);
  for (int p : t.params) written[size_t(p)] = true;
  for (int s : t.opt_state) written[size_t(s)] = true;
  for (size_t i = 0; i < t.ops.size(); i++) {
    for (int in : t.ops[i].in) {
      INFO("op " << i << " reads " << t.tensors[size_t(in)].name);
      CHECK(written[size_t(in)]);
    }
    for (int out : t.ops[i].out) written[size_t(out)] = true;
  }
  // The workspace holds one buffer of the right size per tensor.
  pw::Workspace ws(t);
  REQUIRE(ws.t.size() == t.tensors.size());
  for (size_t i = 0; i < t.tensors.size(); i++) CHECK(int64_t(ws.t[i].size()) == t.tensors[i].size());
}

TEST_CASE("build_mlp_tape with AdamW and deeper models") {
  const pw::Tape t = pw::build_mlp_tape({784, 64, 32, 10}, 4, pw::OptimizerType::Adamw);
  REQUIRE(t.params.size() == 6);
  CHECK(t.tensors[size_t(t.params[4])].name == "4.weight");
  CHECK(t.tensors[size_t(t.params[5])].name == "4.bias");
  REQUIRE(t.opt_state.size() == 12);
  CHECK(t.tensors[size_t(t.opt_state[0])].name == "0.weight.exp_avg");
  CHECK(t.tensors[size_t(t.opt_state[1])].name == "0.weight.exp_avg_sq");
  CHECK(t.tensors[size_t(t.opt_state[11])].name == "4.bias.exp_avg_sq");
  // 1 load + 3 linear + 2 relu + 2 loss + 3·(weight, bias) + 2·(input, relu) + 6 updates
  CHECK(t.ops.size() == 1 + 3 + 2 + 2 + 6 + 4 + 6);
  for (size_t i = t.ops.size() - 6; i < t.ops.size(); i++) {
    CHECK(t.ops[i].kind == pw::OpKind::AdamwUpdate);
    CHECK(t.ops[i].in.size() == 4);
    CHECK(t.ops[i].out.size() == 3);
  }
  // The first layer's input gradient is never computed (nothing needs it).
  for (const auto& op : t.ops)
    if (op.kind == pw::OpKind::LinearBackwardInput) CHECK(op.layer > 0);
  // A single Linear layer: no ReLU at all.
  const pw::Tape lin = pw::build_mlp_tape({5, 3}, 2, pw::OptimizerType::Sgd);
  for (const auto& op : lin.ops) CHECK(op.kind != pw::OpKind::ReluForward);
  CHECK(lin.ops.size() == 1 + 1 + 2 + 2 + 2);
}

TEST_CASE_FIXTURE(SmallSgd, "one SGD step agrees with a double-precision forward, backward and update") {
  const pw::Workspace before = ws;
  pw::StepContext ctx = pb.context();
  ctx.sgd = {0.05f, 0.9f, 0.01f, true};
  std::vector<int> seen;
  pw::run_step(tape, ws, ctx, [&](int i, pw::Workspace&) { seen.push_back(i); });
  REQUIRE(seen.size() == tape.ops.size());
  for (size_t i = 0; i < seen.size(); i++) CHECK(seen[i] == int(i));

  // The reference in double: x (B,F) → z_l = x_l·W_lᵀ + b_l → relu … → softmax CE.
  const int L = int(widths.size()) - 1;
  auto P = [&](int l, bool bias) { return before.t[size_t(tape.params[size_t(2 * l + (bias ? 1 : 0))])]; };
  std::vector<std::vector<double>> xs(static_cast<size_t>(L) + 1), zs(static_cast<size_t>(L));
  xs[0].resize(size_t(B) * widths[0]);
  for (int b = 0; b < B; b++)
    for (int f = 0; f < widths[0]; f++)
      xs[0][size_t(b) * widths[0] + f] = double(float(pb.images[size_t(pb.idx[size_t(b)]) * widths[0] + f]) * (1.0f / 255.0f));
  for (int l = 0; l < L; l++) {
    const int in = widths[l], out = widths[l + 1];
    const auto& W = P(l, false);
    const auto& bb = P(l, true);
    zs[l].assign(size_t(B) * out, 0.0);
    xs[l + 1].assign(size_t(B) * out, 0.0);
    for (int b = 0; b < B; b++)
      for (int o = 0; o < out; o++) {
        double s = bb[size_t(o)];
        for (int i = 0; i < in; i++) s += xs[l][size_t(b) * in + i] * W[size_t(o) * in + i];
        zs[l][size_t(b) * out + o] = s;
        xs[l + 1][size_t(b) * out + o] = l + 1 < L ? std::max(s, 0.0) : s;
      }
  }
  const int C = widths.back();
  double loss = 0;
  std::vector<double> dz(size_t(B) * C);
  for (int b = 0; b < B; b++) {
    const double* z = &zs[size_t(L - 1)][size_t(b) * C];
    double mx = z[0];
    for (int c = 1; c < C; c++) mx = std::max(mx, z[c]);
    double s = 0;
    for (int c = 0; c < C; c++) s += std::exp(z[c] - mx);
    const int y = pb.labels[pb.idx[size_t(b)]];
    loss += std::log(s) - (z[y] - mx);
    for (int c = 0; c < C; c++) dz[size_t(b) * C + c] = (std::exp(z[c] - mx) / s - (c == y)) / B;
  }
  loss /= B;
  CHECK(ws[tape.loss][0] == doctest::Approx(loss).epsilon(1e-5));
  for (int l = L - 1; l >= 0; l--) {
    const int in = widths[l], out = widths[l + 1];
    const auto& W = P(l, false);
    std::vector<double> gW(size_t(out) * in, 0.0), gb(size_t(out), 0.0), dx(size_t(B) * in, 0.0);
    for (int b = 0; b < B; b++)
      for (int o = 0; o < out; o++) {
        const double d = dz[size_t(b) * out + o];
        gb[size_t(o)] += d;
        for (int i = 0; i < in; i++) {
          gW[size_t(o) * in + i] += d * xs[l][size_t(b) * in + i];
          dx[size_t(b) * in + i] += d * W[size_t(o) * in + i];
        }
      }
    const std::string prefix = std::to_string(2 * l);
    auto compare = [&](const std::string& name, const std::vector<double>& want) {
      const auto& got = ws.t[size_t(tensor_id(tape, name))];
      REQUIRE(got.size() == want.size());
      double scale = 0;
      for (double w : want) scale = std::max(scale, std::fabs(w));
      for (size_t e = 0; e < want.size(); e++) {
        INFO(name << "[" << e << "]: got " << got[e] << " want " << want[e]);
        CHECK(std::fabs(got[e] - want[e]) <= 1e-5 * scale + 1e-5 * std::fabs(want[e]));
      }
      return scale;
    };
    CHECK(compare(prefix + ".weight.grad", gW) > 0);
    compare(prefix + ".bias.grad", gb);
    // The update: p − lr·(g + wd·p), the buffer = that first-step direction.
    for (int which = 0; which < 2; which++) {
      const auto& g = which ? gb : gW;
      const int pi = 2 * l + which;
      const auto& p0 = before.t[size_t(tape.params[size_t(pi)])];
      const auto& p1 = ws.t[size_t(tape.params[size_t(pi)])];
      const auto& buf = ws.t[size_t(tape.opt_state[size_t(pi)])];
      double gscale = 0;
      for (double x : g) gscale = std::max(gscale, std::fabs(x));
      for (size_t e = 0; e < g.size(); e++) {
        const double d = g[e] + 0.01 * p0[e];
        const double p_want = p0[e] - 0.05 * d;
        INFO("param " << pi << "[" << e << "]");
        CHECK(std::fabs(buf[e] - d) <= 1e-5 * gscale + 1e-5 * std::fabs(d));
        CHECK(std::fabs(p1[e] - p_want) <= 1e-6 * std::fabs(p_want) + 1e-8);
      }
    }
    if (l > 0) {  // next dz: dx masked by relu
      dz.assign(size_t(B) * in, 0.0);
      for (size_t e = 0; e < dx.size(); e++) dz[e] = zs[size_t(l - 1)][e] > 0 ? dx[e] : 0.0;
    }
  }
}

TEST_CASE("one AdamW step moves each parameter by about lr against its gradient") {
  const std::vector<int> widths = {10, 6, 4};
  const int B = 5;
  TinyProblem pb(widths, B);
  const pw::Tape tape = pw::build_mlp_tape(widths, B, pw::OptimizerType::Adamw);
  pw::Workspace ws(tape);
  pb.init(tape, ws);
  const pw::Workspace before = ws;
  pw::StepContext ctx = pb.context();
  const double lr = 1e-3;
  ctx.adamw = {float(1.0 - lr * 0.0), 0.9f, 0.1f, 0.999f, 0.001f, float(lr / 0.1), float(std::sqrt(0.001)), 1e-8f};
  pw::run_step(tape, ws, ctx);
  for (size_t i = 0; i < tape.params.size(); i++) {
    const int p = tape.params[i];
    const auto& g = ws.t[size_t(tensor_id(tape, tape.tensors[size_t(p)].name + ".grad"))];
    const auto& m = ws.t[size_t(tape.opt_state[2 * i])];
    const auto& v = ws.t[size_t(tape.opt_state[2 * i + 1])];
    for (size_t e = 0; e < g.size(); e++) {
      CHECK(m[e] == doctest::Approx(0.1 * g[e]).epsilon(1e-6));
      CHECK(v[e] == doctest::Approx(0.001 * double(g[e]) * g[e]).epsilon(1e-5));
      const double step = double(before.t[size_t(p)][e]) - ws.t[size_t(p)][e];
      // m̂/√v̂ = g/|g| on the first step (up to eps).
      const double want = std::fabs(g[e]) > 1e-4 ? lr * (g[e] > 0 ? 1 : -1) : step;
      CHECK(step == doctest::Approx(want).epsilon(1e-3));
    }
  }
}

TEST_CASE("a step gives the same bits on 1 and 2 threads and with either GEMM kernel") {
  pwtest::SettingsGuard guard;
  const std::vector<int> widths = {40, 33, 17, 7};
  const int B = 13;
  TinyProblem pb(widths, B);
  for (auto opt : {pw::OptimizerType::Sgd, pw::OptimizerType::Adamw}) {
    const pw::Tape tape = pw::build_mlp_tape(widths, B, opt);
    pw::StepContext ctx = pb.context();
    ctx.sgd = {0.1f, 0.9f, 1e-4f, false};
    ctx.adamw = {0.9999f, 0.9f, 0.1f, 0.999f, 0.001f, 0.01f, 0.0316f, 1e-8f};
    std::vector<pw::Workspace> results;
    for (int portable = 0; portable < 2; portable++)
      for (int threads = 1; threads <= 2; threads++) {
        pw::gemm_force_portable(portable);
        pw::set_threads(threads);
        pw::Workspace ws(tape);
        pb.init(tape, ws, 0.01f);
        for (int s = 0; s < 3; s++) pw::run_step(tape, ws, ctx);
        results.push_back(ws);
      }
    pw::gemm_force_portable(false);
    for (size_t i = 1; i < results.size(); i++) CHECK(same_bits(results[0], results[i]));
    CHECK(std::isfinite(results[0][tape.loss][0]));
  }
}

// run_step without a hook folds element-wise ops into the GEMMs' output passes (ReLU
// after the forward product, ReLU backward after the input gradient, the SGD update after
// the weight gradient); with a hook it runs the ops one by one. Every tensor must come
// out with the same bits, in exact and fast mode, on 1 and 2 threads, with and without
// momentum and weight decay, on the first step and later, and through a pipeline cut.
TEST_CASE("the fused step gives every tensor the bits of the ops run one by one") {
  pwtest::SettingsGuard guard;
  const std::vector<int> widths = {300, 130, 70, 7};  // dW 130x300: two bands of rows, two column blocks
  const int B = 40;
  TinyProblem pb(widths, B);
  pw::CutSpec cut;
  cut.layer = 1, cut.forward_bits = 4, cut.backward_bits = 8, cut.samples = uint32_t(pb.n);
  for (int with_cut = 0; with_cut < 2; with_cut++)
    for (int fast = 0; fast < 2; fast++)
      for (int threads = 1; threads <= 2; threads++)
        for (const pw::SgdScalars sgd : {pw::SgdScalars{0.1f, 0.9f, 1e-4f, false}, pw::SgdScalars{0.05f, 0.0f, 0.0f, false}}) {
          CAPTURE(with_cut);
          CAPTURE(fast);
          CAPTURE(threads);
          CAPTURE(sgd.momentum);
          pw::set_threads(threads);
          const pw::Tape tape = pw::build_mlp_tape(widths, B, pw::OptimizerType::Sgd, with_cut ? cut : pw::CutSpec{});
          pw::StepContext ctx = pb.context();
          ctx.compute.fast = fast;
          ctx.compute.fast_panel = 64;
          pw::Workspace one_by_one(tape), fused(tape);
          pb.init(tape, one_by_one), pb.init(tape, fused);
          int ops_seen = 0;
          for (int s = 0; s < 3; s++) {
            ctx.sgd = sgd;
            ctx.sgd.first_step = s == 0;
            pw::run_step(tape, one_by_one, ctx, [&](int, pw::Workspace&) { ops_seen++; });
            pw::run_step(tape, fused, ctx);
            REQUIRE(same_bits(one_by_one, fused));
          }
          CHECK(ops_seen == 3 * int(tape.ops.size()));
          CHECK(std::isfinite(fused[tape.loss][0]));
        }
}

TEST_CASE_FIXTURE(SmallSgd, "forward_logits reproduces the tape's logits bit for bit") {
  const pw::Workspace params = ws;
  // Batch = the first B samples in order, so that LoadBatch and forward_logits see
  // the same rows.
  std::vector<uint32_t> first(static_cast<size_t>(B));
  for (int b = 0; b < B; b++) first[size_t(b)] = uint32_t(b);
  pw::StepContext ctx = pb.context();
  ctx.batch_indices = first.data();
  ctx.sgd = {0.1f, 0.0f, 0.0f, true};
  pw::run_step(tape, ws, ctx);
  std::vector<float> logits;
  pw::forward_logits(tape, params, pb.images.data(), B, 1.0f / 255.0f, logits);
  REQUIRE(logits.size() == size_t(B) * 3);
  CHECK(std::memcmp(logits.data(), ws[tape.logits], logits.size() * 4) == 0);
}

TEST_CASE("forward_logits over more rows than one chunk matches row by row") {
  const std::vector<int> widths = {9, 8, 4};
  const pw::Tape tape = pw::build_mlp_tape(widths, 1, pw::OptimizerType::Sgd);
  pw::Workspace ws(tape);
  TinyProblem pb(widths, 1);
  pb.init(tape, ws);
  const int64_t n = 2500;  // crosses the 1024-row chunks twice
  std::vector<uint8_t> images(size_t(n) * 9);
  for (size_t i = 0; i < images.size(); i++) images[i] = uint8_t(pw::philox_word(3, 3, 3, i));
  std::vector<float> all, one;
  pw::forward_logits(tape, ws, images.data(), n, 1.0f / 255.0f, all);
  REQUIRE(all.size() == size_t(n) * 4);
  for (int64_t r : {int64_t(0), int64_t(1023), int64_t(1024), int64_t(2047), int64_t(2048), n - 1}) {
    pw::forward_logits(tape, ws, images.data() + r * 9, 1, 1.0f / 255.0f, one);
    INFO("row " << r);
    CHECK(std::memcmp(one.data(), all.data() + r * 4, 16) == 0);
  }
}

TEST_CASE("the op table: every kind keeps its number and name and has a distinct name") {
  // model/op_kinds.hpp: the numbers are in files (never renumbered), the names in disputes.
  const std::vector<std::string> names = {
      "load_batch",         "linear_forward",       "relu_forward",      "cross_entropy_forward",
      "cross_entropy_backward", "linear_backward_weight", "linear_backward_bias", "linear_backward_input",
      "relu_backward",      "sgd_update",           "adamw_update",      "cut_forward",
      "cut_backward",       "load_windows",         "embedding_forward", "layernorm_forward",
      "attention_forward",  "gelu_forward",         "add",               "gelu_backward",
      "attention_backward", "layernorm_backward",   "embedding_backward", "clip_gradients"};
  REQUIRE(pw::kOpKindCount == int(names.size()));
  std::set<std::string> seen;
  for (int k = 0; k < pw::kOpKindCount; k++) {
    CAPTURE(k);
    CHECK(std::string(pw::op_name(pw::OpKind(k))) == names[size_t(k)]);
    CHECK(seen.insert(pw::op_name(pw::OpKind(k))).second);
  }
  CHECK(int(pw::OpKind::LoadWindows) == 13);
  CHECK(int(pw::OpKind::ClipGradients) == 23);
  CHECK(std::string(pw::op_name(pw::OpKind(pw::kOpKindCount))) == "?");
}

TEST_CASE("run_op refuses an op kind outside the table as an internal error") {
  const pw::Tape t = pw::build_mlp_tape({4, 3, 2}, 2, pw::OptimizerType::Sgd);
  pw::Workspace ws(t);
  pw::Op op = t.ops[1];
  op.kind = pw::OpKind(pw::kOpKindCount);
  CHECK(pwtest::error_code_of([&] { pw::run_op(t, op, ws, pw::StepContext{}); }) == pw::kExitInternal);
}
