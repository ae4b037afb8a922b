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
#include "verify/profile.hpp"

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

// Flips, at steps in [from, to), the pre-activations `flags` lists for that step (the
// observer's run flagged them): the honest other run the rule must accept.
pw::OpHook flip_listed(const pw::Tape& tape, const std::vector<std::vector<std::pair<int, int>>>& flags, int64_t s,
                       int64_t from, int64_t to) {
  return [&tape, &flags, s, from, to](int index, pw::Workspace& ws) {
    const pw::Op& op = tape.ops[size_t(index)];
    if (op.kind != pw::OpKind::ReluForward || s < from || s >= to) return;
    float* z = ws[op.in[0]];
    float* a = ws[op.out[0]];
    for (auto [ix, i] : flags[size_t(s)])
      if (ix == index) a[i] = a[i] > 0 ? 0.0f : std::max(std::fabs(z[i]), 1e-30f);
  };
}

// Records the flagged pre-activations of step s into flags[s].
pw::OpHook record_flags(const pw::Tape& tape, double margin, int64_t s, std::vector<std::vector<std::pair<int, int>>>& flags,
                        pw::OpHook inner) {
  return [&tape, margin, s, &flags, inner](int index, pw::Workspace& ws) {
    inner(index, ws);
    const pw::Op& op = tape.ops[size_t(index)];
    if (op.kind != pw::OpKind::ReluForward) return;
    std::vector<float> scale;
    pw::relu_input_scale(tape, op, ws, scale);
    if (flags.size() <= size_t(s)) flags.resize(size_t(s) + 1);
    for (size_t i = 0; i < scale.size(); i++)
      if (std::fabs(double(ws[op.in[0]][i])) <= margin * double(scale[i])) flags[size_t(s)].push_back({index, int(i)});
  };
}

TEST_CASE("flip span: an honest run's flips lie in the span of their replayed effects, a steering edit does not") {
  const pw::TaskConfig cfg = deep_config();
  const pw::Dataset data = tiny_dataset();
  const double margin = 2e-4;  // wider than rounding: a few flags a step
  for (int which : {0, 1, 2}) {  // the first flag only; the first of each step; the flags of the last step
    CAPTURE(which);
    pw::Trainer a(cfg, data), b(cfg, data);
    const pw::Workspace start = a.ws;
    pw::FlipObserver obs(cfg, a.tape, margin);
    obs.reset();
    std::vector<std::vector<std::pair<int, int>>> flags;
    while (a.step < 4) {
      a.run_step(record_flags(a.tape, margin, a.step, flags, obs.hook(a.step)));
      flags.resize(size_t(a.step));
      auto& f = flags[size_t(a.step) - 1];
      if (which == 0) f.resize(std::min<size_t>(f.size(), a.step == 1 ? 1 : 0));
      if (which == 1) f.resize(std::min<size_t>(f.size(), 1));
      if (which == 2 && a.step < 4) f.clear();
      b.run_step(flip_listed(b.tape, flags, b.step, 0, 4));
    }
    size_t flipped = 0;
    for (auto& f : flags) flipped += f.size();
    REQUIRE(flipped > 0);
    REQUIRE(obs.flagged() <= int64_t(pw::kFlipReplayMax));
    const pw::Workspace replayed = a.ws;
    const pw::FlipSpan span = obs.span(a, 4, replayed);
    CHECK(!span.overflow);
    CHECK(span.replays == size_t(obs.flagged()));
    std::vector<std::vector<double>> r = pw::residuals(a.tape, replayed, b.ws);
    const double whole = pw::residual_distances(a.tape, replayed, r).value[pw::kL2].back();
    const std::vector<double> proj = span.split(r);
    const double rest = pw::residual_distances(a.tape, replayed, r).value[pw::kL2].back();
    CHECK(whole > 1e-4);                      // the flips moved the state
    for (size_t k = 0; k < proj.size(); k++) CHECK(proj[k] <= span.bound[k]);
    CHECK(rest <= 1e-3 * whole);              // and nothing of it is left outside their span
    // A steering edit of the same size (shrink every parameter) stays outside the span.
    std::vector<std::vector<double>> e = pw::residuals(a.tape, replayed, replayed);
    const std::vector<int> ids = pw::checkpoint_tensors(a.tape);
    double n = 0;
    for (size_t k = 0; k < ids.size(); k++)
      if (a.tape.tensors[size_t(ids[k])].role == pw::Role::Param)
        for (size_t x = 0; x < e[k].size(); x++) e[k][x] = -replayed.t[size_t(ids[k])][x], n += e[k][x] * e[k][x];
    for (auto& v : e)
      for (double& x : v) x *= whole / std::sqrt(n);
    span.split(e);
    CHECK(pw::residual_distances(a.tape, replayed, e).value[pw::kL2].back() >= 0.9 * whole);

    // The segment's check (rule flipSpan) with thresholds of 2e-3 of the flips' effect
    // (l2, linf; l1 300 times that): the honest flipped run passes; 1.5 times the flips'
    // bound along their effect, or the steering edit at 1e-2 of their size on top, does not.
    pw::LoadedProfile lp;
    lp.observed = lp.span = true;
    lp.thresholds = pw::state_distances(a.tape, replayed, replayed);
    for (int m = 0; m < pw::kMetrics; m++)
      for (double& x : lp.thresholds.value[m]) x = m == pw::kCosine ? 1e-9 : m == pw::kL1 ? 0.6 * whole : 2e-3 * whole;
    CHECK(pw::check_segment(lp, a.tape, start, replayed, b.ws, &obs, &span).over == "");
    pw::Workspace c = b.ws;
    const double f = 1.5 * span.bound.back() / whole;
    for (int id : ids)
      for (size_t x = 0; x < c.t[size_t(id)].size(); x++)
        c.t[size_t(id)][x] = replayed.t[size_t(id)][x] + float(f) * (b.ws.t[size_t(id)][x] - replayed.t[size_t(id)][x]);
    const pw::SegmentCheck over = pw::check_segment(lp, a.tape, start, replayed, c, &obs, &span);
    CHECK(over.over.find("projection on the span") != std::string::npos);
    c = b.ws;
    for (size_t k = 0; k < ids.size(); k++)
      if (a.tape.tensors[size_t(ids[k])].role == pw::Role::Param)
        for (size_t x = 0; x < e[k].size(); x++) c.t[size_t(ids[k])][x] -= float(1e-2 * whole / std::sqrt(n) * replayed.t[size_t(ids[k])][x]);
    CHECK(pw::check_segment(lp, a.tape, start, replayed, c, &obs, &span).over != "");
  }
}
