// Correctness of the GPT against an outside reference (proofwork(7), THE GPT): for a tiny GPT (2 layers, 2 heads, 32 channels, context 16)
// the loss, the total gradient norm, every gradient and five optimizer steps of AdamW
// (with gradient-norm clipping) and of SGD with momentum match PyTorch 1.13 within 1e-5
// relative. The fixtures are written by tests/torch/make_gpt_fixtures.py; this test
// reads them (torch_fixture.hpp) and needs no Python.
//
// The tape runs exactly as pol-train runs it, except op 0 (LoadWindows): the fixture's
// bytes are written into the workspace directly.
//
// PW_TORCH_REPORT=1 in the environment prints the largest error of every quantity.
#include <doctest/doctest.h>

#include <cstdlib>
#include <sstream>

#include "model/gpt.hpp"
#include "model/tape.hpp"
#include "torch_fixture.hpp"
#include "train/task.hpp"

namespace {

using namespace torchfx;

void check_gpt_against_torch(const std::string& file, pw::OptimizerType opt) {
  const Fixture fx = load_fixture(file);
  INFO("fixture " << file << ": " << fx.hint);
  auto need = [&](const std::string& name, uint32_t dtype, int64_t count) -> const Record& {
    return torchfx::need(fx, name, dtype, count);
  };
  pw::GptSpec g;
  g.layers = need("config.layers", kI32, 1).i32[0];
  g.heads = need("config.heads", kI32, 1).i32[0];
  g.channels = need("config.channels", kI32, 1).i32[0];
  g.context = need("config.context", kI32, 1).i32[0];
  g.vocab = need("config.vocab", kI32, 1).i32[0];
  const int batch = need("batch", kI32, 1).i32[0];
  REQUIRE((g.layers >= 1 && g.layers <= 8 && g.heads >= 1 && g.channels % g.heads == 0 && g.channels <= 256));
  REQUIRE((g.context >= 1 && g.context <= 64 && g.vocab == 256 && batch >= 1 && batch <= 64));
  int steps = 0;
  while (fx.records.count("step" + std::to_string(steps) + ".loss")) steps++;
  CHECK_MESSAGE(steps >= 5, "the fixture has only " << steps << " steps; the reference needs at least five");
  REQUIRE(steps >= 1);

  pw::TaskConfig cfg;
  cfg.model = pw::ModelKind::Gpt;
  cfg.gpt = g;
  cfg.batch = batch;
  cfg.steps = steps;
  read_hyperparameters(fx, opt, cfg);
  cfg.clip = need("hp.clip", kF64, 1).f64[0];
  const pw::Tape tape = pw::build_gpt_tape(g, batch, opt, float(cfg.clip));
  REQUIRE(tape.ops[0].kind == pw::OpKind::LoadWindows);
  pw::Workspace ws(tape);
  for (int p : tape.params) {
    const pw::TensorSpec& s = tape.tensors[size_t(p)];
    const Record& init = need("init." + s.name, kF32, s.size());
    std::copy(init.f32.begin(), init.f32.end(), ws.t[size_t(p)].begin());
  }
  // Gradients are compared before clipping (the fixture's are), so the step stops there.
  size_t first_update = 0;
  while (first_update < tape.ops.size() && tape.ops[first_update].kind != pw::OpKind::ClipGradients &&
         tape.ops[first_update].kind != pw::OpKind::SgdUpdate && tape.ops[first_update].kind != pw::OpKind::AdamwUpdate)
    first_update++;
  REQUIRE(first_update < tape.ops.size());
  CHECK((tape.ops[first_update].kind == pw::OpKind::ClipGradients) == (cfg.clip > 0));

  const int64_t N = int64_t(batch) * g.context;
  Stats loss_s, norm_s, grad_s, param_s;
  int64_t noisy = 0, noisy_bad = 0;  // AdamW: entries whose step-0 gradient is rounding noise
  for (int s = 0; s < steps; s++) {
    const std::string st = "step" + std::to_string(s);
    const Record& idx = need(st + ".idx", kI32, N);
    const Record& tgt = need(st + ".targets", kI32, N);
    for (int64_t i = 0; i < N; i++) {
      REQUIRE((idx.i32[size_t(i)] >= 0 && idx.i32[size_t(i)] < 256 && tgt.i32[size_t(i)] >= 0 && tgt.i32[size_t(i)] < 256));
      ws[tape.input][i] = float(idx.i32[size_t(i)]);
      ws[tape.labels][i] = float(tgt.i32[size_t(i)]);
    }
    pw::StepContext ctx;
    if (opt == pw::OptimizerType::Sgd)
      ctx.sgd = pw::sgd_scalars(cfg, s);
    else
      ctx.adamw = pw::adamw_scalars(cfg, s);
    for (size_t i = 1; i < first_update; i++) pw::run_op(tape, tape.ops[i], ws, ctx);
    loss_s.merge(compare(st + ".loss", ws[tape.loss], need(st + ".loss", kF32, 1).f32.data(), 1));
    for (size_t i = 0; i < tape.params.size(); i++) {
      const pw::TensorSpec& p = tape.tensors[size_t(tape.params[i])];
      const Record& gr = need(st + ".grad." + p.name, kF32, p.size());
      grad_s.merge(compare(st + ".grad." + p.name, ws[tape.grads[i]], gr.f32.data(), p.size()));
    }
    {  // the total norm, on copies (the clip op scales in place)
      std::vector<std::vector<float>> copies;
      std::vector<float*> ptrs;
      std::vector<int64_t> sizes;
      for (int id : tape.grads) copies.push_back(ws.t[size_t(id)]);
      for (auto& c : copies) {
        ptrs.push_back(c.data());
        sizes.push_back(int64_t(c.size()));
      }
      const float norm = pw::clip_gradients(ptrs, sizes, INFINITY);
      norm_s.merge(compare(st + ".grad_norm", &norm, need(st + ".grad_norm", kF32, 1).f32.data(), 1));
    }
    for (size_t i = first_update; i < tape.ops.size(); i++) pw::run_op(tape, tape.ops[i], ws, ctx);
    for (size_t i = 0; i < tape.params.size(); i++) {
      const pw::TensorSpec& p = tape.tensors[size_t(tape.params[i])];
      const Record& pr = need(st + ".param." + p.name, kF32, p.size());
      const float* ours = ws[tape.params[i]];
      if (opt == pw::OptimizerType::Adamw) {
        // Where torch's gradient at step 0 is below the gradient noise floor (|g| <
        // kAbsTol; e.g. the key bias, channels C..2C of c_attn's bias, whose gradient
        // is zero in exact arithmetic: it adds q·b_k to every score of a row, which the
        // softmax cancels), AdamW's first step g/(|g| + eps) is decided by rounding
        // noise and moves the entry by up to lr either way. Those entries are held to
        // lr·(steps so far); every other entry to the usual tolerance.
        const Record& g0 = need("step0.grad." + p.name, kF32, p.size());
        std::vector<float> a, b;
        for (int64_t e = 0; e < p.size(); e++) {
          if (std::fabs(g0.f32[size_t(e)]) < kAbsTol) {
            noisy++;
            if (!(std::fabs(double(ours[e]) - pr.f32[size_t(e)]) <= cfg.lr * (s + 1))) noisy_bad++;
          } else {
            a.push_back(ours[e]);
            b.push_back(pr.f32[size_t(e)]);
          }
        }
        param_s.merge(compare(st + ".param." + p.name, a.data(), b.data(), int64_t(a.size())));
        continue;
      }
      param_s.merge(compare(st + ".param." + p.name, ours, pr.f32.data(), p.size()));
    }
  }
  std::ostringstream summary;
  int64_t total = 0, bad = 0;
  for (auto [what, st] : {std::pair<const char*, Stats*>{"loss", &loss_s}, {"gradient norm", &norm_s},
                          {"gradients", &grad_s}, {"parameters after each step", &param_s}}) {
    char line[256];
    std::snprintf(line, sizeof line, "  %-28s %7lld values, max rel %.2e, max abs %.2e, max err/tol %.3f, %lld out of tol\n",
                  what, (long long)st->n, st->max_rel, st->max_abs, st->max_ratio, (long long)st->bad);
    summary << line;
    total += st->n;
    bad += st->bad;
  }
  const char* rep = std::getenv("PW_TORCH_REPORT");
  if (rep && *rep && std::string(rep) != "0") std::printf("%s vs torch:\n%s", file.c_str(), summary.str().c_str());
  if (rep && *rep && std::string(rep) != "0")
    std::printf("  %lld parameter values with a noise-level step-0 gradient held to lr x steps, %lld beyond\n",
                (long long)noisy, (long long)noisy_bad);
  CHECK(total + noisy == int64_t(steps) * (2 + 2 * tape.parameter_count()));
  CHECK(noisy <= int64_t(steps) * 4 * g.channels * g.layers);  // the key biases and a few more, no more
  CHECK(noisy_bad == 0);
  std::ostringstream failures;
  failures << bad << " of " << total << " values out of tolerance\n" << summary.str();
  Stats all;
  for (const Stats* st : {&loss_s, &norm_s, &grad_s, &param_s}) all.merge(*st);
  for (const auto& l : all.first_bad) failures << "  " << l << "\n";
  CHECK_MESSAGE(bad == 0, failures.str());
}

}  // namespace

TEST_CASE("torch reference: GPT loss, gradients and 5 AdamW steps with clipping match torch") {
  check_gpt_against_torch("gpt_adamw.bin", pw::OptimizerType::Adamw);
}

TEST_CASE("torch reference: GPT loss, gradients and 5 SGD steps match torch") {
  check_gpt_against_torch("gpt_sgd.bin", pw::OptimizerType::Sgd);
}
