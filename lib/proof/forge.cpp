#include "proof/forge.hpp"

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/error.hpp"
#include "tensor/philox.hpp"

namespace pw {

namespace {

using State = std::vector<std::vector<float>>;

// The training state on the host (checkpoint_tensors' order), and back onto the device.
State state_of(Trainer& tr) {
  tr.to_host();
  State out;
  for (int id : checkpoint_tensors(tr.tape)) out.push_back(tr.ws.t[size_t(id)]);
  return out;
}

void set_state(Trainer& tr, const State& v) {
  size_t k = 0;
  for (int id : checkpoint_tensors(tr.tape)) tr.ws.t[size_t(id)] = v[k++];
  tr.to_device();
}

bool contains(const std::vector<int64_t>& v, int64_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

void check_segments(const std::vector<int64_t>& segments, int64_t count, const char* flag) {
  for (int64_t i : segments)
    if (i < 0 || i >= count)
      usage_error(std::string(flag) + " " + std::to_string(i) + ": the task has segments 0-" + std::to_string(count - 1));
}

// The classic Proof-of-Learning spoof: every checkpoint but the first and the last on the
// straight line from the initial state to the final one, written when training ends.
void write_interpolated(Session& s, const State& initial) {
  Trainer& tr = s.trainer();
  const int64_t steps = s.task().steps;
  if (tr.step < steps || s.manifest().checkpoints.back().step == steps) return;
  const State final_state = state_of(tr);
  const std::vector<int64_t> at = checkpoint_steps(s.task());
  for (size_t i = 1; i < at.size(); i++) {
    if (at[i] == steps) {
      s.write_checkpoint(steps);
      continue;
    }
    const float t = float(double(at[i]) / double(steps));
    State mid = initial;
    for (size_t k = 0; k < mid.size(); k++)
      for (size_t e = 0; e < mid[k].size(); e++) mid[k][e] = initial[k][e] + t * (final_state[k][e] - initial[k][e]);
    set_state(tr, mid);
    s.write_checkpoint(at[i]);
    set_state(tr, final_state);
  }
}

}  // namespace

void add_noise(Trainer& tr, int64_t step, float amp) {
  tr.to_host();
  for (size_t i = 0; i < tr.tape.params.size(); i++) {
    std::vector<float>& p = tr.ws.t[size_t(tr.tape.params[i])];
    for (size_t e = 0; e < p.size(); e++)
      p[e] = p[e] + amp * (2.0f * uniform01(philox_word(uint64_t(step), kStreamForgeNoise, uint32_t(i), e)) - 1.0f);
  }
  tr.to_device();
}

bool Forgery::any() const {
  return fault.active() || skip_step >= 0 || init_seed || order_seed || !other_data.empty() || !skip_segments.empty() ||
         !perturb_segments.empty() || interpolate || lr_scale != 1 || shortcut != 1 || reuse_samples > 0 ||
         !extrapolate_segments.empty();
}

void check_forgery(const Forgery& f, const TaskConfig& task, DeviceKind device) {
  if (!f.any()) usage_error("no forgery given: that would be an honest proof (pol-train writes those)");
  if (device == DeviceKind::Cuda && (f.skip_step >= 0 || !f.skip_segments.empty() || !f.perturb_segments.empty() ||
                                     f.interpolate || f.shortcut != 1 || f.dress_noise > 0 || f.reuse_samples > 0 ||
                                     !f.extrapolate_segments.empty()))
    usage_error("--device cuda: of the forgeries only --inject-fault, --init-seed, --order-seed, --dishonest-data-dir and "
                "--lr-scale run on the GPU; use --device cpu");
  const int64_t segments = (task.steps + task.checkpoint_every - 1) / task.checkpoint_every;
  check_segments(f.skip_segments, segments, "--skip-segment");
  check_segments(f.perturb_segments, segments, "--perturb-segment");
  check_segments(f.extrapolate_segments, segments, "--extrapolate-segment");
  for (int64_t i : f.extrapolate_segments)
    if (i == 0) usage_error("--extrapolate-segment 0: segment 0 has no segment before it to extrapolate from");
  if (f.reuse_samples < 0 || f.reuse_samples > task.batch / 2)
    usage_error("--reuse-samples " + std::to_string(f.reuse_samples) + ": must be 0 to half the batch (" +
                std::to_string(task.batch / 2) + ")");
  if (f.reuse_samples > 0 && task.is_gpt()) usage_error("--reuse-samples: the MLP's batches only");
  if (f.skip_step >= task.steps)
    usage_error("--skip-step " + std::to_string(f.skip_step) + ": the task has steps 0-" + std::to_string(task.steps - 1));
  if (f.shortcut < 1) usage_error("--shortcut " + std::to_string(f.shortcut) + ": must be 1 or more");
  if (!std::isfinite(f.lr_scale) || f.lr_scale < 0) usage_error("--lr-scale: must be a finite number, 0 or more");
  if (!std::isfinite(f.dress_noise) || f.dress_noise < 0) usage_error("--dress-noise: must be a finite number, 0 or more");
  check_fault(f.fault, tape_for(task), task.steps, "--inject-fault");
}

SessionHooks forge_hooks(const Forgery& f) {
  struct Scratch {
    State saved, initial;  // the state before a step not applied; at the first step (interpolate)
    State start, previous;  // the states at this segment's start and the one before (extrapolate)
  };
  auto scratch = std::make_shared<Scratch>();
  auto extrapolated = [f](const TaskConfig& c, int64_t s) { return contains(f.extrapolate_segments, s / c.checkpoint_every); };
  auto skipped = [f, extrapolated](const TaskConfig& c, int64_t s) {
    return s == f.skip_step || s % f.shortcut != 0 || contains(f.skip_segments, s / c.checkpoint_every) ||
           extrapolated(c, s);
  };
  SessionHooks h;
  if (f.lr_scale != 1 || f.shortcut != 1)
    h.train_config = [f](TaskConfig& c) { c.lr *= f.lr_scale * double(f.shortcut); };
  h.setup = [f](Trainer& tr) {
    if (f.init_seed) {
      TaskConfig other = tr.cfg;
      other.seed = *f.init_seed;
      init_state(other, tr.tape, tr.ws);
    }
    if (f.order_seed) tr.order = order_for(tr.cfg, *f.order_seed, tr.data.count);
  };
  h.before_step = [f, scratch, skipped](Trainer& tr, int64_t s) -> OpHook {
    if (f.interpolate && scratch->initial.empty()) scratch->initial = state_of(tr);
    if (!f.extrapolate_segments.empty() && s % tr.cfg.checkpoint_every == 0) {
      scratch->previous = std::move(scratch->start);
      scratch->start = state_of(tr);
    }
    if (skipped(tr.cfg, s)) scratch->saved = state_of(tr);
    OpHook fault = fault_hook(tr.tape, f.fault, s);
    if (f.reuse_samples == 0) return fault;
    // After the batch is loaded (op 0): its last K rows and labels are copies of its first K.
    return [f, fault, &tr](int op, Workspace& ws) {
      if (op == 0) {
        const Op& load = tr.tape.ops[0];
        const int B = tr.tape.batch, F = tr.tape.tensors[size_t(load.out[0])].cols, K = f.reuse_samples;
        float* x = ws[load.out[0]];
        float* y = ws[load.out[1]];
        std::copy(x, x + size_t(K) * F, x + size_t(B - K) * F);
        std::copy(y, y + K, y + (B - K));
      }
      if (fault) fault(op, ws);
    };
  };
  h.after_step = [f, scratch, skipped, extrapolated](Trainer& tr, int64_t s) {
    if (skipped(tr.cfg, s)) {
      set_state(tr, scratch->saved);
      if (f.dress_noise > 0) add_noise(tr, s, float(f.dress_noise));
    }
    const int64_t every = tr.cfg.checkpoint_every;
    if (extrapolated(tr.cfg, s) && (s + 1 == std::min(tr.cfg.steps, (s / every + 1) * every))) {
      // The segment's last step: its end state is its start plus the last segment's change.
      if (scratch->previous.empty())
        usage_error("--extrapolate-segment " + std::to_string(s / every) + ": this run must train segment " +
                    std::to_string(s / every - 1) + " itself (resume from before it)");
      State end = scratch->start;
      for (size_t k = 0; k < end.size(); k++)
        for (size_t e = 0; e < end[k].size(); e++) end[k][e] = end[k][e] + (end[k][e] - scratch->previous[k][e]);
      set_state(tr, end);
    }
    if (s % tr.cfg.checkpoint_every == 0 && contains(f.perturb_segments, s / tr.cfg.checkpoint_every))
      add_noise(tr, s, f.dress_noise > 0 ? float(f.dress_noise) : 1e-3f);
  };
  if (f.interpolate) h.checkpoint = [scratch](Session& s) { write_interpolated(s, scratch->initial); };
  return h;
}

Dataset load_other_dataset(const TaskConfig& task, const std::string& dir) {
  Dataset d = load_task_files(task, dir);
  if (task.is_gpt()) {  // another text: at least one window (read_text), any length
    check_input(d.count >= 1, "other data in '" + dir + "': no window of the task's context");
    return d;
  }
  check_input(d.count == task.count && d.features() == task.widths[0],
              "other data in '" + dir + "': not of the task's shape (" + std::to_string(task.count) + " samples of " +
                  std::to_string(task.widths[0]) + " features)");
  return d;
}

}  // namespace pw
