// Correctness against an outside reference (proofwork(7), TESTS AND BENCHMARKS): for a small MLP the loss, every
// gradient and five optimizer steps of SGD (momentum, weight decay) and of AdamW match
// PyTorch 1.13 within 1e-5 relative. The reference values are fixture files written by
// tests/torch/make_fixtures.py (format described there and in read_fixture below); this
// test reads them and needs no Python.
//
// The tape runs exactly as pol-train runs it, except op 0 (LoadBatch): the fixture's
// inputs are real numbers in [0, 1), not pixels, so they and the labels are written into
// the workspace directly.
//
// PW_TORCH_REPORT=1 in the environment prints the largest error of every quantity.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "model/tape.hpp"
#include "torch_fixture.hpp"
#include "train/task.hpp"

namespace {

using namespace torchfx;

int find_tensor(const pw::Tape& tape, const std::string& name) {
  for (size_t i = 0; i < tape.tensors.size(); i++)
    if (tape.tensors[i].name == name) return int(i);
  return -1;
}

bool report_wanted() {
  const char* e = std::getenv("PW_TORCH_REPORT");
  return e && *e && std::strcmp(e, "0") != 0;
}

// Runs the tape against one fixture file and checks everything in it.
void check_against_torch(const std::string& file, pw::OptimizerType opt) {
  const Fixture fx = load_fixture(file);
  INFO("fixture " << file << ": " << fx.hint);
  auto need = [&](const std::string& name, uint32_t dtype, int64_t count) -> const Record& {
    return torchfx::need(fx, name, dtype, count);
  };

  // Model and hyperparameters come from the fixture.
  const Record& widths_rec = need("widths", kI32, -1);
  REQUIRE(widths_rec.dims.size() == 1);
  REQUIRE(widths_rec.i32.size() >= 2);
  std::vector<int> widths;
  for (int32_t w : widths_rec.i32) {
    REQUIRE_MESSAGE((w >= 1 && w <= 4096), "bad width " << w);
    widths.push_back(w);
  }
  const int batch = need("batch", kI32, 1).i32[0];
  const int steps = need("steps", kI32, 1).i32[0];
  REQUIRE((batch >= 1 && batch <= 4096));
  REQUIRE((steps >= 1 && steps <= 100));
  CHECK_MESSAGE(steps >= 5, "the fixture has only " << steps << " steps; the reference needs at least five (proofwork(7), TESTS AND BENCHMARKS)");

  pw::TaskConfig cfg;
  cfg.widths = widths;
  cfg.batch = batch;
  cfg.steps = steps;
  cfg.schedule = pw::ScheduleType::Constant;
  read_hyperparameters(fx, opt, cfg);

  const pw::Tape tape = pw::build_mlp_tape(widths, batch, opt);
  REQUIRE(!tape.ops.empty());
  REQUIRE(tape.ops[0].kind == pw::OpKind::LoadBatch);
  pw::Workspace ws(tape);

  std::vector<std::string> pnames;
  std::vector<int> grad_ids;
  for (int p : tape.params) {
    const pw::TensorSpec& spec = tape.tensors[size_t(p)];
    pnames.push_back(spec.name);
    const Record& init = need("init." + spec.name, kF32, spec.size());
    std::copy(init.f32.begin(), init.f32.end(), ws.t[size_t(p)].begin());
    const int g = find_tensor(tape, spec.name + ".grad");
    REQUIRE_MESSAGE(g >= 0, "the tape has no tensor " << spec.name << ".grad");
    REQUIRE(tape.tensors[size_t(g)].size() == spec.size());
    grad_ids.push_back(g);
  }

  const int classes = widths.back();
  const int64_t in_size = int64_t(batch) * widths[0];
  Stats loss_s, grad0_s, grad_s;
  std::vector<Stats> param_step(static_cast<size_t>(steps));
  for (int s = 0; s < steps; s++) {
    const std::string st = "step" + std::to_string(s);
    const Record& x = need(st + ".x", kF32, in_size);
    std::copy(x.f32.begin(), x.f32.end(), ws.t[size_t(tape.input)].begin());
    const Record& y = need(st + ".labels", kI32, batch);
    for (int b = 0; b < batch; b++) {
      REQUIRE_MESSAGE((y.i32[size_t(b)] >= 0 && y.i32[size_t(b)] < classes), st << ".labels: class out of range");
      ws[tape.labels][b] = float(y.i32[size_t(b)]);
    }

    pw::StepContext ctx;
    if (opt == pw::OptimizerType::Sgd)
      ctx.sgd = pw::sgd_scalars(cfg, s);
    else
      ctx.adamw = pw::adamw_scalars(cfg, s);
    for (size_t i = 1; i < tape.ops.size(); i++) pw::run_op(tape, tape.ops[i], ws, ctx);

    // Loss and gradients (computed before the update; the update does not touch them).
    loss_s.merge(compare(st + ".loss", ws[tape.loss], need(st + ".loss", kF32, 1).f32.data(), 1));
    for (size_t i = 0; i < pnames.size(); i++) {
      const std::string name = st + ".grad." + pnames[i];
      const Record& g = need(name, kF32, tape.tensors[size_t(grad_ids[i])].size());
      const Stats cs = compare(name, ws[grad_ids[i]], g.f32.data(), int64_t(g.f32.size()));
      (s == 0 ? grad0_s : grad_s).merge(cs);
    }
    // Parameters after the update.
    for (size_t i = 0; i < pnames.size(); i++) {
      const std::string name = st + ".param." + pnames[i];
      const Record& p = need(name, kF32, tape.tensors[size_t(tape.params[i])].size());
      param_step[size_t(s)].merge(compare(name, ws[tape.params[i]], p.f32.data(), int64_t(p.f32.size())));
    }
  }

  struct Row {
    std::string what;
    const Stats* s;
  };
  std::vector<Row> rows = {{"loss (all steps)", &loss_s}, {"gradients, step 0", &grad0_s},
                           {"gradients, steps 1..", &grad_s}};
  std::vector<std::string> step_names;
  for (int s = 0; s < steps; s++) step_names.push_back("parameters after step " + std::to_string(s));
  for (int s = 0; s < steps; s++) rows.push_back({step_names[size_t(s)], &param_step[size_t(s)]});

  std::ostringstream summary;
  int64_t total = 0, bad = 0;
  for (const Row& row : rows) {
    char line[256];
    std::snprintf(line, sizeof line, "  %-26s %5lld values, max rel %.2e, max abs %.2e, max err/tol %.3f, %lld out of tol\n",
                  row.what.c_str(), (long long)row.s->n, row.s->max_rel, row.s->max_abs, row.s->max_ratio,
                  (long long)row.s->bad);
    summary << line;
    total += row.s->n;
    bad += row.s->bad;
  }
  if (report_wanted()) std::printf("%s vs torch (tol %.0e rel + %.0e abs):\n%s", file.c_str(), kRelTol, kAbsTol,
                                   summary.str().c_str());

  // Something must actually have been compared: one loss, every gradient and every
  // parameter, every step.
  const int64_t per_step = 1 + 2 * tape.parameter_count();
  CHECK(total == per_step * steps);
  REQUIRE(total > 0);

  std::ostringstream failures;
  if (bad > 0) {
    failures << bad << " of " << total << " values differ from torch by more than " << kRelTol << " relative + "
             << kAbsTol << " absolute\n"
             << summary.str() << "first mismatches:\n";
    Stats all;
    for (const Row& row : rows) all.merge(*row.s);
    for (const auto& l : all.first_bad) failures << "  " << l << "\n";
  }
  CHECK_MESSAGE(bad == 0, failures.str());
}

}  // namespace

TEST_CASE("torch reference: fixture reader rejects missing and corrupt files") {
  Fixture fx;
  CHECK(read_fixture(std::string(PW_FIXTURES) + "/torch/no-such-file.bin", fx).find("cannot open") !=
        std::string::npos);
  // A good file cut short anywhere must be refused with a message.
  const std::string path = std::string(PW_FIXTURES) + "/torch/mlp_sgd.bin";
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), path << ": cannot open (regenerate: /usr/bin/python3 tests/torch/make_fixtures.py)");
  const std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(good.size() > 64);
  // Parse damaged copies through a temporary file.
  char name[] = "/tmp/pw-torch-fixture-XXXXXX";
  const int fd = mkstemp(name);
  REQUIRE(fd >= 0);
  close(fd);
  auto parse = [&](const std::string& bytes) {
    std::ofstream(name, std::ios::binary | std::ios::trunc).write(bytes.data(), std::streamsize(bytes.size()));
    Fixture f;
    return read_fixture(name, f);
  };
  CHECK(parse(good) == "");
  for (size_t cut : {size_t(0), size_t(3), size_t(8), size_t(20), good.size() / 2, good.size() - 1})
    CHECK_MESSAGE(!parse(good.substr(0, cut)).empty(), "a fixture cut to " << cut << " bytes was accepted");
  std::string bad_magic = good;
  bad_magic[0] = 'X';
  CHECK(parse(bad_magic).find("bad magic") != std::string::npos);
  std::string bad_version = good;
  bad_version[4] = 9;
  CHECK(parse(bad_version).find("version") != std::string::npos);
  CHECK(!parse(good + "x").empty());
  std::remove(name);
}

TEST_CASE("torch reference: MLP loss, gradients and 5 SGD steps match torch.optim.SGD") {
  check_against_torch("mlp_sgd.bin", pw::OptimizerType::Sgd);
}

TEST_CASE("torch reference: MLP loss, gradients and 5 AdamW steps match torch.optim.AdamW") {
  check_against_torch("mlp_adamw.bin", pw::OptimizerType::Adamw);
}
