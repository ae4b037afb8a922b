// The flip bound of fast-mode verification (verify/flips.hpp; proofwork(7), FAST MODE):
// a run in which every flagged pre-activation takes the other side of zero must land
// within the bound the observer computed from the run where none did; nothing flagged,
// nothing granted.
#include <doctest/doctest.h>

#include <cmath>

#include "train/trainer.hpp"
#include "unit_helpers.hpp"
#include "verify/distance.hpp"
#include "verify/flips.hpp"

using namespace pwtest;

namespace {

// Two hidden layers, so that flips of the second one travel through an input gradient.
pw::TaskConfig deep_config() {
  pw::TaskConfig c = tiny_config(pw::OptimizerType::Sgd, false);
  c.widths = {784, 32, 16, 10};
  return c;
}

// Flips every pre-activation within `margin` of zero (relative to its scale) at the
// ReLU forward ops of steps in [from, to): the mask takes the other side, the value
// stays as small as it was.
pw::OpHook flip_hook(const pw::Tape& tape, double margin, int64_t s, int64_t from, int64_t to, int64_t& flipped) {
  return [&tape, margin, s, from, to, &flipped](int index, pw::Workspace& ws) {
    const pw::Op& op = tape.ops[size_t(index)];
    if (op.kind != pw::OpKind::ReluForward || s < from || s >= to) return;
    std::vector<float> scale;
    pw::relu_input_scale(tape, op, ws, scale);
    float* z = ws[op.in[0]];
    float* a = ws[op.out[0]];
    for (size_t i = 0; i < scale.size(); i++)
      if (std::fabs(double(z[i])) <= margin * double(scale[i])) {
        a[i] = a[i] > 0 ? 0.0f : std::max(std::fabs(z[i]), 1e-30f);
        flipped++;
      }
  };
}

}  // namespace

TEST_CASE("flip bound: every flagged pre-activation flipped lands within the bound") {
  const pw::TaskConfig cfg = deep_config();
  const pw::Dataset data = tiny_dataset();
  const double margin = 1e-3;  // far wider than rounding: many flags
  for (int64_t from : {3, 0}) {
    const int64_t to = from == 3 ? 4 : 10;  // one step, then every step of the segment
    CAPTURE(from);
    pw::Trainer a(cfg, data), b(cfg, data);
    const pw::Workspace start = a.ws;
    pw::FlipObserver obs(cfg, a.tape, margin);
    obs.reset();
    int64_t flipped = 0;
    while (a.step < 10) {
      a.run_step(obs.hook(a.step));
      b.run_step(flip_hook(b.tape, margin, b.step, from, to, flipped));
    }
    CHECK(obs.flagged() > 0);
    CHECK(flipped > 0);
    const pw::Distances d = pw::state_distances(a.tape, a.ws, b.ws);
    const pw::Distances t = obs.tolerance(start, a.ws);
    CHECK(d.value[pw::kL2][0] > 0);                   // the flips moved the first layer
    CHECK(pw::exceeds(d, t) == "");                   // and stayed within the bound
  }
}

TEST_CASE("flip bound: nothing flagged, nothing granted") {
  const pw::TaskConfig cfg = deep_config();
  const pw::Dataset data = tiny_dataset();
  pw::Trainer a(cfg, data);
  const pw::Workspace start = a.ws;
  pw::FlipObserver obs(cfg, a.tape, 0.0);
  obs.reset();
  while (a.step < 10) a.run_step(obs.hook(a.step));
  CHECK(obs.flagged() == 0);
  const pw::Distances t = obs.tolerance(start, a.ws);
  REQUIRE(t.size() == pw::checkpoint_tensors(a.tape).size() + 1);
  for (int m = 0; m < pw::kMetrics; m++)
    for (double x : t.value[m]) CHECK(x == 0);
  const pw::Distances sum = pw::add_tolerance(t, t);
  CHECK(sum.value[pw::kL1].back() == 0);
}
