#include "verify/profile.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

#include "core/error.hpp"
#include "io/file.hpp"
#include "io/provenance.hpp"
#include "io/version.hpp"
#include "proof/proof.hpp"
#include "train/trainer.hpp"
#include "verify/flips.hpp"
#include "verify/verify.hpp"

namespace pw {

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kRuleObserved =
    "threshold[m][i] = factor * max(measured d[m][i]) + floor[m][i]; floor = floorRel * norm of the claimed end "
    "state (l1, l2, linf), floorRel^2 for cosine; at verification plus 2 * the bound on what the ReLU flips the "
    "replay observes can change (pre-activations with |z| <= flipMargin * (|x_b|_2 |W_u|_2 + |bias_u|), "
    "flipMargin = factor * flipMeasured + 2^-24), nothing else; the replayed segments' residuals (claimed - "
    "replayed) must satisfy |sum|_2 <= sqrt(sum of model l2 thresholds^2) and mean consecutive cosine <= "
    "alignmentMax; update plausibility: updateRatioMin/factor <= |dw|_2 / sum(lr) <= updateRatioMax*factor";
constexpr const char* kRuleSpan =
    "threshold[m][i] = factor * max(measured d[m][i]) + floor[m][i]; floor = floorRel * norm of the claimed end "
    "state (l1, l2, linf), floorRel^2 for cosine; pre-activations with |z| <= flipMargin * (|x_b|_2 |W_u|_2 + "
    "|bias_u|) may flip (flipMargin = factor * flipMeasured + 2^-24): the residual (claimed - replayed) of each "
    "tensor is split into its projection on the span of those flips' vectors, held to 2 * the flips' first-order "
    "bound (l2), and the rest, held to the thresholds plus the later steps' feedback; the replayed segments' rests "
    "must satisfy |sum|_2 <= sqrt(sum of model l2 thresholds^2) and mean consecutive cosine <= alignmentMax; "
    "update plausibility: updateRatioMin/factor <= |dw|_2 / sum(lr) <= updateRatioMax*factor";
constexpr const char* kRuleShare =
    "threshold[m][i] = factor * max(measured d[m][i]) + floor[m][i]; floor = floorRel * norm of the claimed end "
    "state (l1, l2, linf), floorRel^2 for cosine; at verification plus sampleShare * (replayed update of the tensor "
    "over the segment, same metric) / batch (cosine: (sampleShare * |update|_2 / batch / |w|_2)^2 / 2); update "
    "plausibility: updateRatioMin/factor <= |dw|_2 / sum(lr) <= updateRatioMax*factor";
// Relative rounding distance flagged even when the sources agree to the bit: float's unit roundoff.
constexpr double kFlipMarginFloor = 1.0 / (1 << 24);
// Pre-activations kept per source for comparing the sources (the last steps of a segment).
constexpr size_t kFlipRecordFloats = size_t(1) << 25;

}  // namespace

std::string Source::name() const {
  if (cuda) return fast ? "cuda fast" : "cuda exact";
  if (!fast) return "exact";
  return "fast threads=" + std::to_string(threads) + " panel=" + std::to_string(panel);
}

std::optional<Source> parse_source(const std::string& name) {
  Source s;
  if (name == "exact" || name == "cuda exact" || name == "cuda fast") {
    s.fast = name != "exact" && name != "cuda exact";
    s.cuda = name != "exact";
    return s;
  }
  int threads = 0, panel = 0, used = 0;
  if (std::sscanf(name.c_str(), "fast threads=%d panel=%d%n", &threads, &panel, &used) == 2 && size_t(used) == name.size() &&
      threads > 0 && threads <= 4096 && panel > 0 && panel <= (1 << 20)) {
    s.threads = threads, s.panel = panel;
    return s;
  }
  return std::nullopt;
}

Hash task_class(schema::Task::Reader t) {
  capnp::MallocMessageBuilder mb;
  mb.setRoot(t);
  auto b = mb.getRoot<schema::Task>();
  b.setSeed(0);
  b.disownProvenance();
  return canonical_hash(b.asReader());
}

double lr_sum(const TaskConfig& c, int64_t start, int64_t end) {
  double lr = 0;
  for (int64_t s = start; s < end; s++) lr += double(lr_at(c, s));
  return lr;
}

double update_ratio(const TaskConfig& c, const Tape& tape, const Workspace& a, const Workspace& b, int64_t start,
                    int64_t end) {
  const double lr = lr_sum(c, start, end);
  return lr > 0 ? param_update_norm(tape, a, b) / lr : 0.0;
}

void make_profile(const LoadedTask& task, const std::string& dir, const ProfileOptions& opt,
                  capnp::MallocMessageBuilder& out, const ReplayCallback& progress) {
  const TaskConfig& cfg = task.cfg;
  check_input(!cfg.exact, "the task is in exact mode: its proofs are verified by equal hashes, no profile is needed");
  if (!(opt.factor >= 1 && std::isfinite(opt.factor))) usage_error("--factor must be at least 1");
  if (!(opt.floor_rel >= 0 && opt.floor_rel < 1)) usage_error("--floor must be in [0, 1)");
  if (!(opt.sample_share >= 0 && opt.sample_share <= 1e6)) usage_error("--sample-share must be in [0, 1e6]");
  if (!(opt.alignment_max > 0 && opt.alignment_max <= 1)) usage_error("--alignment-max must be in (0, 1]");
  check_input(is_directory(dir), "proof '" + dir + "' is not a directory");
  const Manifest man = read_manifest(dir, int64_t(cfg.steps) * cfg.batch, &task.hash);
  check_input(man.task == task.hash, "the proof '" + dir + "' is for another task");
  check_input(man.complete, "the proof '" + dir + "' is unfinished");
  const std::vector<int64_t> steps = checkpoint_steps(cfg);
  check_input(man.checkpoints.size() == steps.size(), "the proof's checkpoints do not follow the task's interval");
  for (size_t i = 0; i < steps.size(); i++)
    check_input(man.checkpoints[i].step == steps[i], "the proof's checkpoints do not follow the task's interval");
  check_input(!man.root_mismatch, "the manifest's Merkle root does not match its checkpoint hashes");

  // The task's FLOP budget bounds every verifier's work; task_config has checked it
  // against the model and step count, or derived it (train/task.hpp, task_budget_flops).
  const Tape tape = tape_for(cfg);
  const double flops_step = double(tape.flops_per_step());

  Dataset data = load_task_dataset(cfg, opt.data_dir);
  const int nseg = int(man.checkpoints.size()) - 1;
  std::vector<int> segs = {0};
  if (nseg > 1 && opt.segments > 1) segs.push_back(nseg - 1);
  for (int i : beacon_segments(opt.beacon, man.root(), nseg, std::max<int64_t>(opt.segments, 0)))
    if (int64_t(segs.size()) < opt.segments && std::find(segs.begin(), segs.end(), i) == segs.end()) segs.push_back(i);
  std::sort(segs.begin(), segs.end());

  std::vector<Source> sources;
  std::vector<int> threads = opt.threads;
  if (threads.empty()) {
    threads = {1};
    if (get_threads() > 1) threads.push_back(get_threads());
  }
  for (int t : threads)
    for (int p : opt.panels) sources.push_back({true, t, p});
  if (opt.exact) sources.push_back({false, 1, 0});
  if (opt.cuda) {
    sources.push_back({true, 0, 0, true});
    if (opt.exact) sources.push_back({false, 0, 0, true});
  }
  check_input(!sources.empty(), "no replay sources");

  ThreadsGuard guard;
  Trainer tr(cfg, data);
  // One trainer per GPU source: an executor is fast or exact for its whole life.
  std::vector<std::unique_ptr<Trainer>> gpu(sources.size());
  for (size_t c = 0; c < sources.size(); c++)
    if (sources[c].cuda) {
      gpu[c] = std::make_unique<Trainer>(cfg, data);
      gpu[c]->compute.fast = sources[c].fast;
      gpu[c]->use_device(make_cuda_executor(gpu[c]->tape, sources[c].fast));
    }
  Workspace claimed(tr.tape), start(tr.tape);
  std::vector<Workspace> ends(sources.size(), Workspace(tr.tape));
  Distances max_d, floor_norms;
  double ratio_min = INFINITY, ratio_max = 0, replay_secs = 0;
  int64_t replay_steps = 0, default_steps = 0;
  double default_secs = 0;
  const size_t total = segs.size() * sources.size();
  size_t done = 0;

  auto p = out.initRoot<schema::Profile>();
  struct M {
    int seg;
    std::string source, against;
    Distances d;
  };
  std::vector<M> ms;
  // How far rounding moves a pre-activation (a ReLU forward's input) between the sources,
  // relative to its scale (verify/flips.hpp): over the last record_steps steps of each
  // segment, every source against the first.
  std::vector<int> relus;
  size_t per_step = 0;
  for (size_t i = 0; i < tr.tape.ops.size(); i++)
    if (tr.tape.ops[i].kind == OpKind::ReluForward) {
      relus.push_back(int(i));
      per_step += size_t(tr.tape.tensors[size_t(tr.tape.ops[i].in[0])].size());
    }
  const int64_t record_steps =
      relus.empty() ? 0 : std::min<int64_t>(cfg.checkpoint_every, std::max<size_t>(1, kFlipRecordFloats / (2 * per_step)));
  std::vector<std::vector<float>> ref_z, ref_scale;  // [step in record * relus + relu]
  std::vector<float> scale;
  double flip_measured = 0;
  auto compare_z = [&](size_t c, size_t k, int index, Workspace& ws) {
    const Op& op = tr.tape.ops[size_t(index)];
    if (op.kind != OpKind::ReluForward) return;
    const size_t r = k * relus.size() + size_t(std::find(relus.begin(), relus.end(), index) - relus.begin());
    const std::vector<float>& z = ws.t[size_t(op.in[0])];
    if (c == 0) {
      if (ref_z.size() <= r) ref_z.resize(r + 1), ref_scale.resize(r + 1);
      ref_z[r] = z;
      relu_input_scale(tr.tape, op, ws, ref_scale[r]);
      return;
    }
    for (size_t e = 0; e < z.size(); e++)
      if (ref_scale[r][e] > 0)
        flip_measured = std::max(flip_measured, std::fabs(double(z[e]) - double(ref_z[r][e])) / double(ref_scale[r][e]));
  };
  auto read = [&](size_t i, Workspace& ws) {
    try {
      read_checkpoint(dir, man.checkpoints[i], tr.tape, task.hash, ws);
    } catch (const Error& e) {  // a file that does not match the manifest: bad input here, not a verdict
      if (e.code != kExitNo) throw;
      bad_input(e.what());
    }
  };
  for (int s : segs) {
    read(size_t(s), start);
    read(size_t(s) + 1, claimed);
    const int64_t s0 = man.checkpoints[size_t(s)].step, s1 = man.checkpoints[size_t(s) + 1].step;
    const double r = update_ratio(cfg, tr.tape, start, claimed, s0, s1);
    ratio_min = std::min(ratio_min, r), ratio_max = std::max(ratio_max, r);
    Distances norms = state_norms(tr.tape, claimed);
    max_into(floor_norms, norms);
    for (size_t c = 0; c < sources.size(); c++) {
      const Source& src = sources[c];
      Trainer& t = src.cuda ? *gpu[c] : tr;
      if (!src.cuda) {
        set_threads(src.threads);
        tr.compute = Compute{src.fast, src.fast ? src.panel : kFastPanelDefault};
      }
      t.ws.t = start.t;
      t.step = s0;
      const auto t0 = Clock::now();
      t.to_device();
      while (t.step < s1) {
        const int64_t k = t.step - (s1 - record_steps);
        t.run_step(k < 0 ? OpHook() : [&, k, c](int index, Workspace& ws) { compare_z(c, size_t(k), index, ws); });
      }
      t.to_host();
      const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
      replay_secs += secs;
      replay_steps += s1 - s0;
      if (src.fast && !src.cuda && src.panel == kFastPanelDefault &&
          src.threads == *std::max_element(threads.begin(), threads.end()))
        default_secs += secs, default_steps += s1 - s0;
      ends[c].t = t.ws.t;
      ms.push_back({s, src.name(), "claimed", state_distances(tr.tape, t.ws, claimed)});
      for (size_t o = 0; o < c; o++) ms.push_back({s, src.name(), sources[o].name(), state_distances(tr.tape, t.ws, ends[o])});
      if (progress) progress(++done, total);
    }
  }
  for (const M& m : ms) max_into(max_d, m.d);
  const double flip_margin = opt.factor * flip_measured + kFlipMarginFloor;

  Distances thr = max_d;
  for (size_t i = 0; i < thr.size(); i++) {
    for (int m : {kL1, kL2, kLinf}) thr.value[m][i] = opt.factor * max_d.value[m][i] + opt.floor_rel * floor_norms.value[m][i];
    thr.value[kCosine][i] = opt.factor * max_d.value[kCosine][i] + opt.floor_rel * opt.floor_rel;
  }

  p.setFormatVersion(current_version(FileKind::Profile));
  set_provenance(p.initProvenance());
  p.setTaskClass(as_data(task_class(task.msg.root())));
  p.setTaskHash(as_data(task.hash));
  p.setProofRoot(as_data(man.root()));
  const bool observed = opt.sample_share == 0;
  p.setRule(!observed ? kRuleShare : opt.span ? kRuleSpan : kRuleObserved);
  p.setThresholdRule(!observed  ? schema::ThresholdRule::SAMPLE_SHARE
                     : opt.span ? schema::ThresholdRule::FLIP_SPAN
                                : schema::ThresholdRule::OBSERVED);
  p.setFlipMargin(flip_margin);
  p.setFlipMeasured(flip_measured);
  p.setAlignmentMax(opt.alignment_max);
  p.setFactor(opt.factor);
  p.setFloorRel(opt.floor_rel);
  write_distances(p.initThresholds(), thr);
  auto ml = p.initMeasurements(unsigned(ms.size()));
  for (size_t i = 0; i < ms.size(); i++) {
    ml[unsigned(i)].setSegment(uint32_t(ms[i].seg));
    ml[unsigned(i)].setSource(ms[i].source);
    ml[unsigned(i)].setAgainst(ms[i].against);
    write_distances(ml[unsigned(i)].initDistances(), ms[i].d);
  }
  auto sl = p.initSources(unsigned(sources.size()));
  for (size_t i = 0; i < sources.size(); i++) sl.set(unsigned(i), sources[i].name());
  auto sg = p.initSegments(unsigned(segs.size()));
  for (size_t i = 0; i < segs.size(); i++) sg.set(unsigned(i), uint32_t(segs[i]));
  p.setSegmentSteps(uint32_t(cfg.checkpoint_every));
  p.setSecondsPerStep(default_steps > 0 ? default_secs / double(default_steps) : replay_secs / double(replay_steps));
  p.setFlopsPerStep(flops_step);
  p.setBudgetFlops(cfg.budget_flops);
  p.setProfileFlops(flops_step * double(replay_steps));
  p.setUpdateRatioMin(ratio_min);
  p.setUpdateRatioMax(ratio_max);
  p.setStochasticOps(0);
  p.setSampleShare(opt.sample_share);  // the MLP tape has no randomness inside a step: seed re-runs change nothing
}

Distances segment_thresholds(const LoadedProfile& p, const Tape& tape, const Workspace& start,
                             const Workspace& replayed, const Distances* flips) {
  if (p.observed) return flips ? add_tolerance(p.thresholds, *flips) : p.thresholds;
  Distances t = p.thresholds;
  if (p.sample_share == 0) return t;
  const Distances du = state_distances(tape, replayed, start);
  const Distances norms = state_norms(tape, replayed);
  if (du.names != t.names) return t;  // exceeds() reports the mismatch
  const double share = p.sample_share / double(tape.batch);
  for (size_t i = 0; i < t.size(); i++) {
    for (int m : {kL1, kL2, kLinf}) t.value[m][i] += share * du.value[m][i];
    const double n = norms.value[kL2][i];
    if (n > 0) {
      const double rel = share * du.value[kL2][i] / n;
      t.value[kCosine][i] += 0.5 * rel * rel;
    }
  }
  return t;
}

std::vector<double> span_limits(const LoadedProfile& p, const FlipSpan& span) {
  std::vector<double> l = p.thresholds.value[kL2];
  for (size_t k = 0; k < l.size() && k < span.bound.size(); k++) l[k] += span.bound[k];
  return l;
}

SegmentCheck check_segment(const LoadedProfile& p, const Tape& tape, const Workspace& start, const Workspace& replayed,
                           const Workspace& claimed, const FlipObserver* flips, const FlipSpan* span) {
  SegmentCheck c;
  c.residual = residuals(tape, replayed, claimed);
  if (p.span && flips && span && !span->overflow) {
    // Rule flipSpan: the flips' own effects in their span, the rest held to the thresholds.
    const std::vector<double> proj = span->split(c.residual);
    const std::vector<double> limit = span_limits(p, *span);
    c.span = proj.back(), c.span_bound = limit.empty() ? 0.0 : limit.back();
    c.distances = residual_distances(tape, replayed, c.residual);
    c.thresholds = p.thresholds;
    for (size_t k = 0; k < proj.size() && k < c.distances.size(); k++)
      if (!(proj[k] <= (k < limit.size() ? limit[k] : 0.0) * (1 + 1e-9))) {
        char buf[300];
        std::snprintf(buf, sizeof buf, "%s: its residual's projection on the span of the observed flips' effects, "
                      "l2 %.3g > their bound %.3g", c.distances.names[k].c_str(), proj[k], limit[k]);
        c.over = buf;
        return c;
      }
  } else {
    c.distances = residual_distances(tape, replayed, c.residual);
    Distances bound;
    if (flips) bound = flips->tolerance(start, replayed);
    c.thresholds = segment_thresholds(p, tape, start, replayed, flips ? &bound : nullptr);
  }
  c.over = exceeds(c.distances, c.thresholds);
  return c;
}

LoadedProfile load_profile(const std::string& path) {
  return parse_profile(read_file(path, kSmallFileLimit, "profile"), path);
}

LoadedProfile parse_profile(Bytes bytes, const std::string& path) {
  LoadedProfile lp;
  const std::string what = "profile '" + path + "'";
  lp.msg = Message<schema::Profile>::parse(std::move(bytes), what);
  guard_input(what, [&] {
    auto r = lp.msg.root();
    check_version(FileKind::Profile, r.getFormatVersion(), what);
    lp.task_class = hash_field(r.getTaskClass());
    lp.thresholds = read_distances(r.getThresholds(), what + ": thresholds");
    lp.factor = r.getFactor();
    lp.update_min = r.getUpdateRatioMin();
    lp.update_max = r.getUpdateRatioMax();
    lp.sample_share = r.getSampleShare();
    check_input(std::isfinite(lp.sample_share) && lp.sample_share >= 0, what + ": bad sampleShare");
    lp.span = r.getThresholdRule() == schema::ThresholdRule::FLIP_SPAN;
    lp.observed = r.getThresholdRule() == schema::ThresholdRule::OBSERVED || lp.span;
    lp.flip_margin = r.getFlipMargin();
    lp.alignment_max = r.getAlignmentMax();
    if (lp.observed) {
      check_input(std::isfinite(lp.flip_margin) && lp.flip_margin >= 0 && lp.flip_margin < 1,
                  what + ": flipMargin must be in [0, 1)");
      check_input(lp.alignment_max > 0 && lp.alignment_max <= 1, what + ": alignmentMax must be in (0, 1]");
    }
    check_input(std::isfinite(lp.factor) && lp.factor >= 1, what + ": factor must be at least 1");
    check_input(std::isfinite(lp.update_min) && std::isfinite(lp.update_max) && lp.update_min >= 0 &&
                    lp.update_max >= lp.update_min,
                what + ": bad update-ratio band");
    lp.hash = canonical_hash(r);
  });
  return lp;
}

std::string profile_summary(schema::Profile::Reader r) {
  return guard_input("profile", [&] {
    const Distances t = read_distances(r.getThresholds(), "thresholds");
    check_input(t.size() > 0, "profile: no thresholds");
    char line[512], rule[160];
    if (r.getThresholdRule() == schema::ThresholdRule::OBSERVED || r.getThresholdRule() == schema::ThresholdRule::FLIP_SPAN)
      std::snprintf(rule, sizeof rule, "rule %s: flip margin %.3g (measured %.3g)",
                    r.getThresholdRule() == schema::ThresholdRule::FLIP_SPAN ? "flipSpan" : "observed",
                    r.getFlipMargin(), r.getFlipMeasured());
    else
      std::snprintf(rule, sizeof rule, "rule sampleShare %.3g", r.getSampleShare());
    std::snprintf(line, sizeof line,
                  "%u segments x %u sources replayed; model thresholds: l1 %.3g, l2 %.3g, linf %.3g, cosine %.3g; "
                  "%s; update band [%.4g, %.4g]; %.4f s/step, %.3g FLOP/step (budget %.3g FLOP, profile used %.3g)",
                  r.getSegments().size(), r.getSources().size(), t.value[kL1].back(), t.value[kL2].back(),
                  t.value[kLinf].back(), t.value[kCosine].back(), rule, r.getUpdateRatioMin() / r.getFactor(),
                  r.getUpdateRatioMax() * r.getFactor(), r.getSecondsPerStep(), r.getFlopsPerStep(),
                  r.getBudgetFlops(), r.getProfileFlops());
    return std::string(line);
  });
}

}  // namespace pw
