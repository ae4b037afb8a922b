#include "verify/steer.hpp"

#include <cmath>
#include <cstdio>
#include <memory>

#include "core/error.hpp"
#include "tensor/philox.hpp"
#include "verify/flips.hpp"

namespace pw {

namespace {

// The noise direction's Philox key: no step of a run uses it (add_noise keys by step);
// the per-segment decoys count down from it.
constexpr uint64_t kSteerNoiseKey = ~uint64_t(0);
// Under rule observed the edit of segment j is unit(direction) + kDecoy · unit(noise_j),
// per tensor: consecutive edits then have a cosine near 1 / (1 + kDecoy²) = 0.45, under
// the directional test's alignment bound (0.5 by default), and 1 / √(1 + kDecoy²) of
// each edit still points the chosen way.
constexpr double kDecoy = 1.1;

double l2(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += double(x) * x;
  return std::sqrt(s);
}

// The direction for parameter tensor i (tape.params' order) at state `w`.
void direction(Steering::Direction d, size_t i, const std::vector<float>& w, std::vector<float>& out) {
  out.resize(w.size());
  for (size_t e = 0; e < w.size(); e++) {
    switch (d) {
      case Steering::Direction::Shrink: out[e] = -w[e]; break;
      case Steering::Direction::Grow: out[e] = w[e]; break;
      case Steering::Direction::Noise:
        out[e] = 2.0f * uniform01(philox_word(kSteerNoiseKey, kStreamForgeNoise, uint32_t(i), e)) - 1.0f;
        break;
      case Steering::Direction::Backdoor: break;  // backdoor_directions()
    }
  }
}

// `honest` with every parameter tensor k moved by scale · alpha[k] · dir[k].
void apply(const Tape& tape, const Workspace& honest, const std::vector<std::vector<float>>& dir,
           const std::vector<double>& alpha, double scale, Workspace& out) {
  out.t = honest.t;
  for (size_t i = 0; i < tape.params.size(); i++) {
    std::vector<float>& p = out.t[size_t(tape.params[i])];
    const float a = float(scale * alpha[i]);
    for (size_t e = 0; e < p.size(); e++) p[e] = p[e] + a * dir[i][e];
  }
}

// The largest edit `scale` · alpha · dir that the segment's check accepts against the
// honest end state (what the verifier's replay gives, less rounding): per tensor by the
// closed forms of l1, l2 and linf -- under rule flipSpan of the direction's part outside
// the flips' span, and of its projection against the flips' bound -- then one common
// scale bisected over the whole check (cosine, the model row and the span included).
// Returns the scale's edit times `fraction`.
Workspace largest_edit(const LoadedProfile& p, const Tape& tape, const Workspace& start, const Workspace& honest,
                       const FlipObserver* flips, const FlipSpan* span, const std::vector<std::vector<float>>& dir,
                       double fraction) {
  const std::vector<int> ids = checkpoint_tensors(tape);
  const SegmentCheck zero = check_segment(p, tape, start, honest, honest, flips, span);
  const Distances& limit = zero.thresholds;
  std::vector<std::vector<double>> r(ids.size());
  std::vector<size_t> pos(tape.params.size());
  for (size_t i = 0; i < tape.params.size(); i++) {
    pos[i] = size_t(std::find(ids.begin(), ids.end(), tape.params[i]) - ids.begin());
    r[pos[i]].assign(dir[i].begin(), dir[i].end());
  }
  for (size_t k = 0; k < ids.size(); k++)
    if (r[k].empty()) r[k].assign(honest.t[size_t(ids[k])].size(), 0.0);
  std::vector<double> proj(ids.size() + 1, 0.0), bound;
  if (p.span && flips && span && !span->overflow) proj = span->split(r), bound = span_limits(p, *span);
  std::vector<double> alpha(tape.params.size(), 0.0);
  for (size_t i = 0; i < tape.params.size(); i++) {
    const size_t k = pos[i];
    double n1 = 0, n2 = 0, ni = 0;
    for (double x : r[k]) n1 += std::fabs(x), n2 += x * x, ni = std::max(ni, std::fabs(x));
    n2 = std::sqrt(n2);
    if (n2 == 0 && proj[k] == 0) continue;
    alpha[i] = n2 == 0 ? INFINITY : std::min({limit.value[kL1][k] / n1, limit.value[kL2][k] / n2, limit.value[kLinf][k] / ni});
    if (proj[k] > 0) alpha[i] = std::min(alpha[i], (k < bound.size() ? bound[k] : 0.0) / proj[k]);
  }
  Workspace out(tape);
  auto ok = [&](double scale) {
    apply(tape, honest, dir, alpha, scale, out);
    return check_segment(p, tape, start, honest, out, flips, span).over.empty();
  };
  double lo = 0, hi = 1;
  if (!ok(hi)) {
    for (int it = 0; it < 48; it++) {
      const double mid = 0.5 * (lo + hi);
      (ok(mid) ? lo : hi) = mid;
    }
  } else {
    lo = hi;
  }
  apply(tape, honest, dir, alpha, lo * fraction, out);
  return out;
}

// The training set with the trigger in every image and every label 0.
Dataset triggered(const Dataset& d) {
  Dataset t = d;
  const uint32_t n = std::min({kTriggerSize, d.rows, d.cols});
  for (uint32_t i = 0; i < t.count; i++)
    for (uint32_t r = d.rows - n; r < d.rows; r++)
      for (uint32_t c = d.cols - n; c < d.cols; c++) t.images[size_t(i) * d.rows * d.cols + r * d.cols + c] = 255;
  std::fill(t.labels.begin(), t.labels.end(), uint8_t(0));
  return t;
}

// Minus the gradient of the triggered batch of step `s` at the state `w`, per parameter.
void backdoor_directions(Trainer& bd, const Workspace& w, int64_t s, std::vector<std::vector<float>>& dir) {
  const std::vector<int> ids = checkpoint_tensors(bd.tape);
  for (int id : ids) bd.ws.t[size_t(id)] = w.t[size_t(id)];
  bd.step = s;
  bd.run_step();
  for (size_t i = 0; i < bd.tape.params.size(); i++)
    for (const Op& op : bd.tape.ops)
      if ((op.kind == OpKind::SgdUpdate || op.kind == OpKind::AdamwUpdate) && op.in[0] == bd.tape.params[i]) {
        const std::vector<float>& g = bd.ws.t[size_t(op.in[1])];
        dir[i].resize(g.size());
        for (size_t e = 0; e < g.size(); e++) dir[i][e] = -g[e];
      }
}

}  // namespace

Steering parse_steering(const std::string& spec, const char* flag) {
  const size_t colon = spec.find(':');
  const std::string name = spec.substr(0, colon);
  Steering s;
  if (name == "shrink")
    s.direction = Steering::Direction::Shrink;
  else if (name == "grow")
    s.direction = Steering::Direction::Grow;
  else if (name == "noise")
    s.direction = Steering::Direction::Noise;
  else if (name == "backdoor")
    s.direction = Steering::Direction::Backdoor;
  else
    usage_error(std::string(flag) + " '" + spec + "': the direction is shrink, grow, noise or backdoor (DIRECTION:FRACTION)");
  char* end = nullptr;
  const std::string frac = colon == std::string::npos ? "" : spec.substr(colon + 1);
  s.fraction = std::strtod(frac.c_str(), &end);
  if (frac.empty() || *end != '\0' || !(s.fraction > 0 && s.fraction <= 1e6))
    usage_error(std::string(flag) + " '" + spec + "': FRACTION must be a number in (0, 1e6]");
  return s;
}

std::string steer_json(const SteerRecord& r) {
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "{\"segment\":%lld,\"edit_l2\":%.9g,\"update_l2\":%.9g,\"fraction\":%.9g,\"threshold_l2\":%.9g,"
                "\"flagged\":%lld}",
                (long long)r.segment, r.edit_l2, r.update_l2, r.update_l2 > 0 ? r.edit_l2 / r.update_l2 : 0.0,
                r.threshold_l2, (long long)r.flagged);
  return buf;
}

SessionHooks steer_hooks(const Steering& st, const LoadedProfile& profile, SessionHooks inner,
                         std::function<void(const SteerRecord&)> on_edit) {
  struct State {
    const LoadedProfile* profile;
    std::unique_ptr<Workspace> start;
    std::unique_ptr<FlipObserver> flips;
    std::unique_ptr<Dataset> trigger;  // direction backdoor
    std::unique_ptr<Trainer> bd;
  };
  auto state = std::make_shared<State>();
  state->profile = &profile;
  SessionHooks h = inner;
  h.before_step = [st, state, inner](Trainer& tr, int64_t s) -> OpHook {
    OpHook hook = inner.before_step ? inner.before_step(tr, s) : OpHook();
    if (!state->flips) state->flips = std::make_unique<FlipObserver>(tr.cfg, tr.tape, state->profile->flip_margin);
    if (s % tr.cfg.checkpoint_every == 0 || !state->start) {
      tr.to_host();
      state->start = std::make_unique<Workspace>(tr.ws);
      state->flips->reset();
    }
    if (!state->profile->observed) return hook;
    OpHook watch = state->flips->hook(s);
    if (!hook) return watch;
    return [hook, watch](int index, Workspace& ws) {
      hook(index, ws);
      watch(index, ws);
    };
  };
  h.after_step = [st, state, inner, on_edit](Trainer& tr, int64_t s) {
    if (inner.after_step) inner.after_step(tr, s);
    const TaskConfig& c = tr.cfg;
    if ((s + 1) % c.checkpoint_every != 0 && s + 1 != c.steps) return;
    tr.to_host();
    const Workspace honest = tr.ws;
    const LoadedProfile& p = *state->profile;
    const FlipObserver* flips = p.observed ? state->flips.get() : nullptr;
    FlipSpan span;
    if (flips && p.span && flips->flagged() > 0) {  // the verifier's replays of each flag, on the forger's run
      const float loss = tr.loss;
      span = flips->span(tr, s + 1, honest);
      tr.ws = honest, tr.step = s + 1, tr.loss = loss;
    }
    const int64_t segments = (c.steps + c.checkpoint_every - 1) / c.checkpoint_every;
    const double f = st.fraction / (p.observed ? std::sqrt(double(segments)) : 1.0);
    std::vector<std::vector<float>> dir(tr.tape.params.size()), decoy;
    if (st.direction == Steering::Direction::Backdoor) {
      if (!state->bd) {
        state->trigger = std::make_unique<Dataset>(triggered(tr.data));
        state->bd = std::make_unique<Trainer>(tr.cfg, *state->trigger);
      }
      backdoor_directions(*state->bd, honest, s, dir);
    }
    for (size_t i = 0; i < tr.tape.params.size(); i++) {
      if (st.direction != Steering::Direction::Backdoor) direction(st.direction, i, honest.t[size_t(tr.tape.params[i])], dir[i]);
      if (!p.observed) continue;
      decoy.resize(dir.size());
      const uint64_t key = kSteerNoiseKey - 1 - uint64_t(s / c.checkpoint_every);
      decoy[i].resize(dir[i].size());
      for (size_t e = 0; e < dir[i].size(); e++)
        decoy[i][e] = 2.0f * uniform01(philox_word(key, kStreamForgeNoise, uint32_t(i), e)) - 1.0f;
      const double nd = l2(dir[i]), nn = l2(decoy[i]);
      if (nd == 0 || nn == 0) continue;
      for (size_t e = 0; e < dir[i].size(); e++) dir[i][e] = float(dir[i][e] / nd + kDecoy * decoy[i][e] / nn);
    }
    tr.ws = largest_edit(p, tr.tape, *state->start, honest, flips, &span, dir, f);
    tr.to_device();
    SteerRecord r;
    r.segment = s / c.checkpoint_every;
    r.edit_l2 = param_update_norm(tr.tape, honest, tr.ws);
    r.update_l2 = param_update_norm(tr.tape, *state->start, honest);
    r.threshold_l2 = check_segment(p, tr.tape, *state->start, honest, honest, flips, &span).thresholds.value[kL2].back();
    r.flagged = state->flips->flagged();
    if (on_edit) on_edit(r);
  };
  return h;
}

}  // namespace pw
