#include "verify/verify.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <numeric>
#include <cstdio>
#include <functional>
#include <future>
#include <optional>

#include "core/error.hpp"
#include "core/program.hpp"
#include "io/file.hpp"
#include "proof/proof.hpp"
#include "tensor/philox.hpp"
#include "train/trainer.hpp"
#include "verify/flips.hpp"
#include "verify/profile.hpp"

namespace pw {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Segment whose replay produces checkpoint i (checkpoint 0 belongs to segment 0).
int segment_of_checkpoint(size_t i) { return i == 0 ? 0 : int(i) - 1; }

// Reads checkpoint i into a workspace: "" when it loaded, the reason when the file is not
// what the manifest commits to (a verdict); other errors are thrown.
using CheckpointLoader = std::function<std::string(size_t i, Workspace& ws)>;

// The next segment's starting checkpoint, read, hashed and decoded by a thread of its own
// while the current segment replays (proofwork(7), VERIFICATION). Used only with a core to
// spare: where every core runs the replay's threads, a loader would stall them at each
// barrier for longer than the load it hides. Its outcome is the same as loading in turn:
// take() returns the same message or rethrows the same error, at the same segment.
class Prefetch {
 public:
  explicit Prefetch(const Tape& tape) : ids_(checkpoint_tensors(tape)), state_(tape, ids_) {}
  ~Prefetch() {
    if (job_.valid()) job_.wait();
  }
  Prefetch(const Prefetch&) = delete;
  Prefetch& operator=(const Prefetch&) = delete;

  void start(size_t index, const CheckpointLoader& load) {
    index_ = index;
    job_ = std::async(std::launch::async, [this, index, load] {
      set_threads(1);  // this thread's parallel regions (the state hash): the spare core only
      return load(index, state_);
    });
  }
  bool holds(size_t index) const { return job_.valid() && index_ == index; }
  // Waits for the load; on success copies the state into ws (its other tensors untouched).
  std::string take(Workspace& ws) {
    std::string err = job_.get();  // rethrows what the load threw
    if (err.empty())
      for (int id : ids_) std::copy(state_.t[size_t(id)].begin(), state_.t[size_t(id)].end(), ws.t[size_t(id)].begin());
    return err;
  }

 private:
  std::vector<int> ids_;
  Workspace state_;
  size_t index_ = 0;
  std::future<std::string> job_;
};

}  // namespace

ResidualTest::ResidualTest(const Tape& tape) : tape_(tape), ids_(checkpoint_tensors(tape)) {
  for (int id : ids_) {
    sum_.emplace_back(size_t(tape.tensors[size_t(id)].size()), 0.0);
    prev_.emplace_back(size_t(tape.tensors[size_t(id)].size()), 0.0);
  }
  bound_sq_.assign(ids_.size() + 1, 0.0);
}

std::string ResidualTest::add(const std::vector<std::vector<double>>& res, const Distances& t) {
  if (t.size() != ids_.size() + 1 || res.size() != ids_.size()) return "";  // exceeds() has reported the mismatch
  double all = 0, dot = 0, rr = 0, pp = 0;
  std::string why;
  for (size_t k = 0; k < ids_.size(); k++) {
    const std::vector<double>& r = res[k];
    std::vector<double>& sum = sum_[k];
    std::vector<double>& prev = prev_[k];
    if (r.size() != sum.size()) return "";
    double sq = 0;
    for (size_t e = 0; e < sum.size(); e++) {
      const double d = r[e];
      sum[e] += d;
      sq += sum[e] * sum[e];
      dot += d * prev[e], rr += d * d, pp += prev[e] * prev[e];
      prev[e] = d;
    }
    all += sq;
    bound_sq_[k] += t.value[kL2][k] * t.value[kL2][k];
    if (why.empty() && !(std::sqrt(sq) <= std::sqrt(bound_sq_[k]))) {
      char buf[300];
      std::snprintf(buf, sizeof buf,
                    "the residuals (claimed - replayed) of the segments replayed so far add up in one direction: "
                    "%s |sum|_2 %.3g > %.3g",
                    t.names[k].c_str(), std::sqrt(sq), std::sqrt(bound_sq_[k]));
      why = buf;
    }
  }
  bound_sq_.back() += t.value[kL2].back() * t.value[kL2].back();
  sum_norm_ = std::sqrt(all), bound_ = std::sqrt(bound_sq_.back());
  if (have_prev_ && rr > 0 && pp > 0) align_ += dot / std::sqrt(rr * pp), pairs_++;
  have_prev_ = true;
  if (why.empty() && !(sum_norm_ <= bound_)) {
    char buf[300];
    std::snprintf(buf, sizeof buf,
                  "the residuals (claimed - replayed) of the segments replayed so far add up in one direction: "
                  "model |sum|_2 %.3g > %.3g",
                  sum_norm_, bound_);
    why = buf;
  }
  return why;
}

std::string ResidualTest::alignment_check(double alignment_max) const {
  if (pairs_ < kAlignmentPairs || alignment() <= alignment_max) return "";
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "the residuals of consecutive replayed segments point one way: mean cosine %.3f > %.3f over %d pairs",
                alignment(), alignment_max, pairs_);
  return buf;
}

Detection detection(int total, int replayed, double f) {
  Detection d;
  d.total = total, d.replayed = replayed, d.f = f;
  d.p_bound = 1 - std::pow(1 - f, replayed);
  const int forged = int(std::ceil(f * total - 1e-9));
  auto p_catch = [&](int q) {
    if (forged <= 0) return 0.0;
    double miss = 1;
    for (int i = 0; i < q; i++) miss *= double(total - forged - i) / double(total - i);
    return 1 - std::max(miss, 0.0);
  };
  d.p_exact = p_catch(replayed);
  d.replayed_for_99 = total;
  for (int q = 0; q <= total; q++)
    if (p_catch(q) >= 0.99) {
      d.replayed_for_99 = q;
      break;
    }
  return d;
}

const char* why_name(SegmentWhy w) {
  switch (w) {
    case SegmentWhy::All: return "all";
    case SegmentWhy::Beacon: return "beacon";
    case SegmentWhy::TopQ: return "top-q";
    case SegmentWhy::Structure: return "structure";
  }
  return "?";
}

std::vector<int> beacon_segments(const std::string& beacon, const Hash& root, int total, int64_t n) {
  const Hash key = Hasher().update_str(beacon).update(root.data(), 32).final();
  uint64_t seed = 0;
  for (int i = 0; i < 8; i++) seed |= uint64_t(key[size_t(i)]) << (8 * i);
  // Partial Fisher–Yates over the segment indices.
  std::vector<int> idx(static_cast<size_t>(total));
  std::iota(idx.begin(), idx.end(), 0);
  const int take = int(std::min<int64_t>(n, total));
  for (int i = 0; i < take; i++) {
    const uint32_t r = philox_word(seed, kStreamSegmentSample, 0, uint64_t(i));
    const int j = i + int((uint64_t(r) * uint64_t(total - i)) >> 32);
    std::swap(idx[size_t(i)], idx[size_t(j)]);
  }
  idx.resize(size_t(take));
  std::sort(idx.begin(), idx.end());
  return idx;
}

VerifyResult verify_proof(const LoadedTask& task, const std::string& dir, const VerifyOptions& opt,
                          const SegmentCallback& on_segment) {
  const TaskConfig& cfg = task.cfg;
  VerifyResult res;
  const auto t_check = Clock::now();
  double replay_secs = 0;
  auto reject = [&](int segment, const std::string& why) {
    res.accepted = false;
    res.first_bad = segment;
    res.reason = segment >= 0 ? "segment " + std::to_string(segment) + ": " + why : why;
    res.check_seconds = since(t_check) - replay_secs;
    res.replay_seconds = replay_secs;
    return res;
  };
  check_input(is_directory(dir), "proof '" + dir + "' is not a directory");
  Manifest man = read_manifest(dir, int64_t(cfg.steps) * cfg.batch, &task.hash);
  res.proof_root = man.root();
  if (man.task != task.hash)
    return reject(-1, "the proof is for another task (" + hex(man.task) + ", this task is " + hex(task.hash) + ")");
  if (!man.complete) return reject(-1, "the proof is unfinished (its manifest is not marked complete)");
  const std::vector<int64_t> steps = checkpoint_steps(cfg);
  for (size_t i = 0; i < std::max(steps.size(), man.checkpoints.size()); i++) {
    if (i >= man.checkpoints.size())
      return reject(segment_of_checkpoint(i), "checkpoint at step " + std::to_string(steps[i]) + " is missing");
    if (i >= steps.size() || man.checkpoints[i].step != steps[i])
      return reject(segment_of_checkpoint(i), "checkpoint " + std::to_string(i) + " is at step " +
                                                  std::to_string(man.checkpoints[i].step) + ", the task says " +
                                                  (i < steps.size() ? std::to_string(steps[i]) : "none"));
  }
  if (man.root_mismatch) return reject(-1, "the manifest's Merkle root does not match its checkpoint hashes");
  const LoadedProfile* prof = opt.profile;
  if (!cfg.exact && !prof) usage_error("a fast-mode proof is verified against a profile: pass --profile (pol-profile)");
  if (prof && prof->task_class != task_class(task.msg.root()))
    bad_input("the profile was made for another task (its model, data or hyperparameters differ)");

  // The dataset the verifier holds must be the task's (bad input otherwise).
  Dataset data = load_task_dataset(cfg, opt.data_dir);

  // Batch order: recorded = seed-derived.
  const std::vector<uint32_t> order = batch_order(cfg, data.count);
  if (man.batch_order.size() != order.size() || man.batch != uint32_t(cfg.batch))
    return reject(0, "the recorded batch order has " + std::to_string(man.batch_order.size()) + " entries, the task needs " +
                         std::to_string(order.size()));
  for (size_t i = 0; i < order.size(); i++)
    if (man.batch_order[i] != order[i]) {
      const int64_t step = int64_t(i) / cfg.batch;
      return reject(int(step / cfg.checkpoint_every), "the recorded batch order differs from the seed-derived one at step " +
                                                           std::to_string(step));
    }

  // Every checkpoint file: size and hash as committed in the manifest.
  for (size_t i = 0; i < man.checkpoints.size(); i++) {
    const CheckpointInfo& c = man.checkpoints[i];
    const std::string path = join_path(dir, c.file);
    Bytes b = read_file_sized(path, c.bytes, kTensorFileLimit, "checkpoint");
    if (blake2b(b.data(), b.size()) != c.file_hash)
      return reject(segment_of_checkpoint(i), "checkpoint '" + c.file + "' does not match its hash in the manifest");
  }

  Trainer tr(cfg, data);  // its state: the initial weights derived from the task's seed
  const Hash init_hash = state_hash(tr.tape, tr.ws, 0);
  const std::vector<int> state_ids = checkpoint_tensors(tr.tape);
  const int nseg = int(man.checkpoints.size()) - 1;
  const CheckpointLoader load = [&](size_t i, Workspace& ws) {
    try {
      read_checkpoint(dir, man.checkpoints[i], tr.tape, task.hash, ws);
      return std::string();
    } catch (const Error& e) {
      if (e.code != kExitNo) throw;
      return std::string(e.what());
    }
  };
  {
    std::string err = load(0, tr.ws);
    if (!err.empty()) return reject(0, err);
    if (man.checkpoints[0].state != init_hash)
      return reject(0, "the initial weights are not the ones derived from the task's seed");
  }
  {  // the final weights are what a user takes away: their file must hold what the manifest says
    Workspace last(tr.tape, state_ids);
    std::string err = load(man.checkpoints.size() - 1, last);
    if (!err.empty()) return reject(nseg - 1, err);
  }

  // Choose segments.
  std::vector<std::pair<int, SegmentWhy>> chosen;
  if (opt.segments < 0) {
    for (int i = 0; i < nseg; i++) chosen.push_back({i, SegmentWhy::All});
  } else {
    for (int i : beacon_segments(opt.beacon, res.proof_root, nseg, opt.segments)) chosen.push_back({i, SegmentWhy::Beacon});
  }
  std::vector<double> norms(size_t(nseg), -1);
  if (!cfg.exact || opt.top_q > 0) {
    // One pass over the checkpoints: every segment's parameter update, for the update
    // plausibility band (fast mode: ‖Δw‖₂ / Σ lr within the profile's) and for top-Q.
    Workspace prev(tr.tape, state_ids), cur(tr.tape, state_ids);
    std::string err = load(0, prev);
    for (int i = 0; i < nseg; i++) {
      err = load(size_t(i) + 1, cur);
      if (!err.empty()) return reject(i, err);
      norms[size_t(i)] = param_update_norm(tr.tape, prev, cur);
      std::swap(prev, cur);
    }
  }
  if (!cfg.exact) {
    const double lo = prof->update_min / prof->factor, hi = prof->update_max * prof->factor;
    for (int i = 0; i < nseg; i++) {
      const double lr = lr_sum(cfg, man.checkpoints[size_t(i)].step, man.checkpoints[size_t(i) + 1].step);
      const double r = lr > 0 ? norms[size_t(i)] / lr : 0.0;
      if (!(r >= lo && r <= hi)) {
        char buf[200];
        std::snprintf(buf, sizeof buf,
                      "implausible update: |dw|/sum(lr) = %.4g, outside the profile's band [%.4g, %.4g]", r, lo, hi);
        return reject(i, buf);
      }
    }
  }
  if (opt.top_q > 0) {
    // Proof-of-Learning's top-Q: the segments with the largest weight updates.
    std::vector<int> by_norm(static_cast<size_t>(nseg));
    std::iota(by_norm.begin(), by_norm.end(), 0);
    std::stable_sort(by_norm.begin(), by_norm.end(), [&](int a, int b) { return norms[size_t(a)] > norms[size_t(b)]; });
    for (int64_t q = 0; q < std::min<int64_t>(opt.top_q, nseg); q++) {
      const int i = by_norm[size_t(q)];
      if (std::none_of(chosen.begin(), chosen.end(), [&](auto& p) { return p.first == i; }))
        chosen.push_back({i, SegmentWhy::TopQ});
    }
    std::sort(chosen.begin(), chosen.end());
  }

  for (auto& c : chosen) res.selected.push_back(c.first);
  res.total_segments = nseg;
  res.detect = detection(nseg, int(chosen.size()), opt.assume_forged);
  if (opt.shards > 1) {  // this shard's share: positions ≡ shard (mod shards)
    std::vector<std::pair<int, SegmentWhy>> mine;
    for (size_t n = 0; n < chosen.size(); n++)
      if (int(n % size_t(opt.shards)) == opt.shard) mine.push_back(chosen[n]);
    chosen.swap(mine);
  }

  // Replay.
  tr.compute = opt.compute;
  tr.compute.fast = !cfg.exact;
  tr.compute.reduce_chunk = cfg.reduce_chunk;  // the task's order, not the verifier's choice
  if (opt.device == DeviceKind::Cuda) tr.use_device(make_cuda_executor(tr.tape, tr.compute.fast));
  // Fast mode: the claimed end state, the start, and (rule flipSpan) the replayed end
  // state while the flips' effects are replayed.
  std::optional<Workspace> claimed, start, replayed;
  if (!cfg.exact) claimed.emplace(tr.tape, state_ids), start.emplace(tr.tape);
  // tr.ws holds checkpoint 0 as loaded above: a replay that starts there need not read it
  // again. Later starts are read in turn, or ahead on a spare core (Prefetch).
  constexpr size_t kNone = ~size_t(0);
  size_t held = 0;
  std::unique_ptr<Prefetch> ahead;
  const bool spare = opt.device != DeviceKind::Cpu || get_threads() < available_cores();
  if (chosen.size() > 1 && (opt.read_ahead == VerifyOptions::ReadAhead::On ||
                            (opt.read_ahead == VerifyOptions::ReadAhead::Auto && spare)))
    ahead = std::make_unique<Prefetch>(tr.tape);
  // Fast mode under rule observed: the flips the replay observes, the directional test.
  std::unique_ptr<FlipObserver> flips;
  std::unique_ptr<ResidualTest> residuals;
  if (!cfg.exact && prof->observed) {
    flips = std::make_unique<FlipObserver>(cfg, tr.tape, prof->flip_margin);
    residuals = std::make_unique<ResidualTest>(tr.tape);
  }
  for (size_t n = 0; n < chosen.size(); n++) {
    const int i = chosen[n].first;
    SegmentOutcome s;
    s.index = i;
    s.why = chosen[n].second;
    s.start_step = man.checkpoints[size_t(i)].step;
    s.end_step = man.checkpoints[size_t(i) + 1].step;
    s.expected = man.checkpoints[size_t(i) + 1].state;
    s.update_norm = norms[size_t(i)];
    std::string err;
    if (held != size_t(i)) err = ahead && ahead->holds(size_t(i)) ? ahead->take(tr.ws) : load(size_t(i), tr.ws);
    held = kNone;
    if (ahead && n + 1 < chosen.size()) ahead->start(size_t(chosen[n + 1].first), load);  // the next start
    if (!err.empty()) {
      s.reason = err;
    } else {
      if (!cfg.exact) start->t = tr.ws.t;  // the claimed start, for the update-share tolerance
      const auto t0 = Clock::now();
      tr.step = s.start_step;
      tr.to_device();
      if (flips) flips->reset();
      while (tr.step < s.end_step) tr.run_step(flips ? flips->hook(tr.step) : OpHook());
      tr.to_host();
      FlipSpan span;
      if (flips && prof->span && flips->flagged() > 0) {  // rule flipSpan: each flag's own effect
        if (!replayed) replayed.emplace(tr.tape);
        replayed->t = tr.ws.t;
        span = flips->span(tr, s.end_step, *replayed);
        tr.ws.t = replayed->t;
        tr.step = s.end_step;
      }
      s.seconds = since(t0);
      replay_secs += s.seconds;
      res.replayed_steps += s.end_step - s.start_step;
      s.replayed = state_hash(tr.tape, tr.ws, tr.step);
      s.ok = s.replayed == s.expected;
      if (!s.ok && cfg.exact) {
        s.reason = "replayed state " + hex(s.replayed).substr(0, 16) + "… differs from the claimed " +
                   hex(s.expected).substr(0, 16) + "… at step " + std::to_string(s.end_step);
      } else if (!cfg.exact) {
        err = load(size_t(i) + 1, *claimed);
        if (!err.empty()) {
          s.ok = false, s.reason = err;
        } else {
          const SegmentCheck c = check_segment(*prof, tr.tape, *start, tr.ws, *claimed, flips.get(), &span);
          s.distances = c.distances, s.thresholds = c.thresholds;
          s.flip_span = c.span, s.flip_span_bound = c.span_bound;
          if (flips) s.flagged = flips->flagged();
          s.ok = c.over.empty();
          if (!s.ok) s.reason = "replayed state at step " + std::to_string(s.end_step) + " is too far from the claimed one: " + c.over;
          if (s.ok && residuals) {
            s.reason = residuals->add(c.residual, s.thresholds);
            if (s.ok && n + 1 == chosen.size() && s.reason.empty()) s.reason = residuals->alignment_check(prof->alignment_max);
            s.ok = s.reason.empty();
            res.residual_sum = residuals->sum_norm(), res.residual_bound = residuals->bound();
            res.alignment = residuals->alignment();
          }
        }
      }
    }
    res.segments.push_back(s);
    if (on_segment) on_segment(s, n + 1, chosen.size());
    if (!s.ok && res.first_bad < 0) {
      res.first_bad = i;
      res.reason = "segment " + std::to_string(i) + " (steps " + std::to_string(s.start_step) + "-" +
                   std::to_string(s.end_step) + "): " + s.reason;
      if (!opt.keep_going) break;
    }
  }
  res.accepted = res.first_bad < 0;
  if (res.accepted)
    res.reason = std::to_string(res.segments.size()) + " of " + std::to_string(nseg) + " segments replayed" +
                 (opt.shards > 1 ? " (shard " + std::to_string(opt.shard) + "/" + std::to_string(opt.shards) + ")" : "") +
                 (cfg.exact ? ", all equal" : ", all within the profile's thresholds");
  res.replay_seconds = replay_secs;
  res.check_seconds = since(t_check) - replay_secs;
  return res;
}

}  // namespace pw
