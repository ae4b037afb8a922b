#include "plot/plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>

#include "bisect/dispute.hpp"
#include "core/error.hpp"
#include "io/file_types.hpp"
#include "io/message.hpp"
#include "io/version.hpp"
#include "proof/proof.hpp"
#include "proof/task_file.hpp"
#include "train/task.hpp"
#include "train/trainer.hpp"
#include "verify/distance.hpp"
#include "verify/profile.hpp"
#include "verify/verdict.hpp"

namespace pw::plot {

namespace {

const char* kRed = "#d62728";
const char* kGreen = "#2ca02c";
const char* kBetween = "between two sources' replays";
const std::vector<std::string> kMetricColors = {"#1f77b4", "#ff7f0e", "#9467bd", "#17becf"};

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string short_hex(const Hash& h) { return hex(h).substr(0, 16) + "..."; }

// ---------------------------------------------------------------- proof

ProofSeries read_proof(const std::string& dir, const LoadedTask* task) {
  // Without the task the batch order's size is bounded only by the manifest's own.
  const int64_t max_entries = task ? int64_t(task->cfg.steps) * task->cfg.batch : int64_t(kTensorFileLimit / 4);
  const Manifest m = read_manifest(dir, max_entries, task ? &task->hash : nullptr);
  if (task && m.task != task->hash)
    bad_input("'" + dir + "' is a proof of another task (" + short_hex(m.task) + "), not of the task given (" +
              short_hex(task->hash) + ")");
  ProofSeries p;
  p.name = dir;
  p.root = hex(m.root());
  p.complete = m.complete;
  p.steps = task ? task->cfg.steps : (m.batch ? int64_t(m.batch_order.size() / m.batch) : m.checkpoints.back().step);
  p.losses = m.losses;
  p.checkpoints = int64_t(m.checkpoints.size());
  if (m.root_mismatch) p.root += " (the stored root is not this one: the proof would be rejected)";
  if (!task) return p;
  for (int64_t s = 0; s < p.steps; s++) p.lr.push_back(double(lr_at(task->cfg, s)));
  const Tape tape = tape_for(task->cfg);
  Workspace prev(tape), cur(tape);
  auto load = [&](size_t i, Workspace& ws) {
    try {
      read_checkpoint(dir, m.checkpoints[i], tape, task->hash, ws);
    } catch (const Error& e) {  // a checkpoint unlike its manifest entry: nothing to plot from it
      if (e.code != kExitNo) throw;
      bad_input(e.what());
    }
  };
  load(0, prev);
  for (size_t i = 1; i < m.checkpoints.size(); i++) {
    load(i, cur);
    p.segment_end.push_back(m.checkpoints[i].step);
    p.update_norm.push_back(param_update_norm(tape, prev, cur));
    std::swap(prev, cur);
  }
  return p;
}

// ---------------------------------------------------------------- verdicts

struct VerdictFile {
  std::string path;
  Message<schema::Verdict> msg;
};

Panel verdict_panel(const VerdictFile& f, std::vector<std::string>& caption, bool side_by_side) {
  const std::string what = "verdict '" + f.path + "'";
  auto v = f.msg.root();
  const bool exact = v.getMode() == schema::Mode::EXACT;
  auto segs = v.getSegments();
  uint32_t total = v.getDetection().getTotal();
  for (auto s : segs) total = std::max(total, s.getIndex() + 1);
  Panel p;
  p.title = base_name(f.path) + ": " + (v.getAccepted() ? "accepted" : "rejected") +
            (side_by_side && v.hasProfileHash() ? " (profile " + hex_of(v.getProfileHash()).substr(0, 8) + ")" : "");
  p.x_label = "segment (checkpoint i to i+1)";
  p.x_lo = -0.5, p.x_hi = double(std::max<uint32_t>(total, 1)) - 0.5;
  p.log_y = true;
  p.mark_label = "failed segment";
  for (auto s : segs)
    if (!s.getOk()) p.marks.push_back(double(s.getIndex()));
  size_t with_distances = 0, with_thresholds = 0;
  if (exact) {  // equal or not: which segments were chosen, and which failed
    p.log_y = false;
    Series eq{"state hash equal", kGreen, Style::Dots, {}, {}, {}};
    Series ne{"state hash differs", kRed, Style::Dots, {}, {}, {}};
    for (auto r : segs) {
      Series& s = r.getOk() ? eq : ne;
      s.x.push_back(r.getIndex()), s.y.push_back(r.getOk() ? 1 : 0);
    }
    p.y_label = "replayed end state";
    p.y_ticks = {{0, "differs"}, {1, "equal"}};
    p.y_include = {-0.25, 1.25};
    p.series = {eq, ne};
    if (segs.size() == 0) p.message = "no segment was replayed (" + std::string(v.getReason().cStr()) + ")";
  } else {
    std::vector<Series> by_metric;
    for (int m = 0; m < kMetrics; m++) by_metric.push_back({metric_name(m), kMetricColors[size_t(m)], Style::Dots, {}, {}, {}});
    for (auto r : segs) {
      if (!r.hasDistances()) continue;
      with_distances++;
      const Distances d = read_distances(r.getDistances(), what);
      std::optional<Distances> t;
      if (r.hasThresholds()) {
        t = read_distances(r.getThresholds(), what);
        check_input(t->names == d.names, what + ": segment " + std::to_string(r.getIndex()) +
                                             ": thresholds and distances name different tensors");
        with_thresholds++;
      }
      for (int m = 0; m < kMetrics; m++)
        for (size_t i = 0; i < d.size(); i++) {
          double y = d.value[m][i];
          if (t) {
            const double th = t->value[m][i];
            y = th > 0 ? y / th : (y == 0 ? 0 : NAN);  // over a zero threshold: failed, marked
          }
          by_metric[size_t(m)].x.push_back(r.getIndex() + (m - 1.5) * 0.2);  // metrics side by side
          by_metric[size_t(m)].y.push_back(y);
        }
    }
    p.series = std::move(by_metric);
    const bool ratios = with_thresholds > 0 && with_thresholds == with_distances;
    if (ratios) {
      p.y_label = "distance / threshold";
      p.hlines.push_back({1, "rejection line (= threshold)", kRed, true});
      p.y_include = {1};
    } else {
      p.y_label = "distance (replayed vs claimed)";
      if (with_distances)
        caption.push_back(base_name(f.path) +
                          ": this verdict does not record its thresholds (written before verdicts did): raw distances, "
                          "no rejection line.");
    }
    if (with_distances == 0)
      p.message = segs.size() ? "no segment reached the distance check (" + std::string(v.getReason().cStr()) + ")"
                              : "no segment was replayed (" + std::string(v.getReason().cStr()) + ")";
  }
  caption.push_back(base_name(f.path) + ": " + (v.getAccepted() ? "accepted: " : "rejected: ") + v.getReason().cStr());
  caption.push_back(base_name(f.path) + ": " + detection_line(read_detection(v.getDetection())) +
                    (v.getShards() > 1 ? "; shard " + std::to_string(v.getShard()) + " of " + std::to_string(v.getShards()) : ""));
  return p;
}

Figure verdicts_figure(const std::vector<std::string>& paths, const PlotOptions& opt) {
  std::vector<VerdictFile> vs;
  for (const auto& p : paths) vs.push_back({p, read_verdict(p)});
  Figure f;
  f.columns = int(std::min<size_t>(vs.size(), 3));
  f.width = opt.width ? opt.width : std::max(960, 480 * f.columns);
  std::vector<std::string> caption;
  guard_input("verdict '" + paths[0] + "'", [&] {
    const Hash root = hash_field(vs[0].msg.root().getProofRoot());
    for (const auto& v : vs) {
      check_input(hash_field(v.msg.root().getProofRoot()) == root,
                  "verdict '" + v.path + "' is of another proof than '" + paths[0] + "' (roots " +
                      hex_of(v.msg.root().getProofRoot()).substr(0, 16) + "... and " + short_hex(root) +
                      "); plot verdicts of one proof side by side");
      f.panels.push_back(verdict_panel(v, caption, vs.size() > 1));
    }
    auto v0 = vs[0].msg.root();
    const bool exact = v0.getMode() == schema::Mode::EXACT;
    f.title = (vs.size() > 1 ? std::to_string(vs.size()) + " verdicts" : "Verdict") + " of proof " + short_hex(root) +
              " (" + (exact ? "exact" : "fast") + " mode)";
    caption.insert(caption.begin(),
                   exact ? "Exact mode: each replayed segment's state hash is compared with the claimed one (equal or "
                           "not); each dot is a replayed segment, failed segments in red."
                         : "Fast mode: for each replayed segment, the distance between the replayed and the claimed "
                           "end state (committed under the proof's root) over its threshold, per tensor (dots) and "
                           "metric (colour); above 1 rejects. Failed segments in red.");
  });
  // Side by side on one y scale.
  if (vs[0].msg.root().getMode() == schema::Mode::EXACT) {
    f.caption = std::move(caption);
    return f;
  }
  std::vector<double> all;
  for (const auto& p : f.panels)
    for (const auto& s : p.series) all.insert(all.end(), s.y.begin(), s.y.end());
  const Scale common = fit_range(all, true, {1});
  for (auto& p : f.panels) p.y_include.insert(p.y_include.end(), {common.lo, common.hi});
  f.caption = std::move(caption);
  return f;
}

// ---------------------------------------------------------------- profile

Figure profile_figure(const std::string& path, const PlotOptions& opt) {
  const LoadedProfile lp = load_profile(path);
  const std::string what = "profile '" + path + "'";
  Figure f;
  f.width = opt.width ? opt.width : 960;
  f.columns = 2;
  guard_input(what, [&] {
    auto r = lp.msg.root();
    // One series per source and what it was compared with, model-wide distances.
    std::map<std::string, size_t> index;
    std::vector<std::string> labels;
    std::vector<std::vector<double>> xs, ys[kMetrics];
    for (auto m : r.getMeasurements()) {
      const Distances d = read_distances(m.getDistances(), what);
      check_input(d.size() >= 1, what + ": a measurement with no distances");
      // Against the claimed end, one series per source; between two sources' replays, one series.
      const bool claimed = std::string(m.getAgainst().cStr()) == "claimed";
      const std::string label = claimed ? std::string(m.getSource().cStr()) : kBetween;
      auto [it, fresh] = index.emplace(label, labels.size());
      if (fresh) {
        labels.push_back(label);
        xs.emplace_back();
        for (auto& y : ys) y.emplace_back();
      }
      xs[it->second].push_back(m.getSegment());
      for (int k = 0; k < kMetrics; k++) ys[k][it->second].push_back(d.value[k].back());
    }
    // The comparisons between sources first, under the sources' own.
    const std::string between = kBetween;
    auto b = index.find(between);
    if (b != index.end() && b->second != 0) {
      const size_t k = b->second;
      std::rotate(labels.begin(), labels.begin() + long(k), labels.begin() + long(k) + 1);
      std::rotate(xs.begin(), xs.begin() + long(k), xs.begin() + long(k) + 1);
      for (auto& y : ys) std::rotate(y.begin(), y.begin() + long(k), y.begin() + long(k) + 1);
    }
    std::vector<double> segs;
    for (uint32_t s : r.getSegments()) segs.push_back(s);
    const double lo = segs.empty() ? 0 : *std::min_element(segs.begin(), segs.end());
    const double hi = segs.empty() ? 1 : *std::max_element(segs.begin(), segs.end());
    for (int k = 0; k < kMetrics; k++) {
      Panel p;
      p.title = std::string(metric_name(k)) + " distance, whole model";
      p.x_label = "segment";
      p.y_label = k == kCosine ? "1 - cos(angle)" : std::string(metric_name(k)) + " distance";
      p.log_y = true;
      p.x_lo = lo - 0.5, p.x_hi = hi + 0.5;
      for (size_t i = 0; i < labels.size(); i++)
        p.series.push_back({k == 0 ? labels[i] : "",
                            labels[i] == between ? "#bbbbbb" : palette(i), Style::Dots, xs[i],
                            ys[k][i], {}});
      p.hlines.push_back({lp.thresholds.value[k].back(), "threshold", kRed, true});
      if (labels.empty()) p.message = "no measurements";
      f.panels.push_back(std::move(p));
    }
    f.title = "Profile " + base_name(path) + ": " + std::to_string(r.getSources().size()) + " sources, " +
              std::to_string(segs.size()) + " segments of " + std::to_string(r.getSegmentSteps()) + " steps";
    f.caption.push_back("Each dot: one replay of a segment of the proof " + hex_of(r.getProofRoot()).substr(0, 16) +
                        "... from its committed start, compared with its committed end (or another source's replay); "
                        "colours name the sources (legend in the first panel). Red line: the threshold, " +
                        fmt("%g", r.getFactor()) + " x max measured + floor (" + fmt("%g", r.getFloorRel()) +
                        " x the state's norm).");
    f.caption.push_back(std::string("Rule: ") + r.getRule().cStr() + "; at verification each threshold also allows " +
                        fmt("%g", r.getSampleShare()) + " sample's share of the segment's update. Update band: " +
                        fmt("%.3g", r.getUpdateRatioMin()) + " to " + fmt("%.3g", r.getUpdateRatioMax()) + ".");
  });
  return f;
}

// ---------------------------------------------------------------- dispute

Figure dispute_figure(const std::string& path, const PlotOptions& opt) {
  auto msg = Message<schema::Dispute>::read(path, kTensorFileLimit, "dispute");
  const std::string what = "dispute '" + path + "'";
  Figure f;
  f.width = opt.width ? opt.width : 960;
  guard_input(what, [&] {
    auto d = msg.root();
    check_version(FileKind::Dispute, d.getFormatVersion(), what);
    static const char* level_name[] = {"checkpoints", "steps", "ops"};
    static const char* level_unit[] = {"checkpoint index", "step", "op index on the tape"};
    auto rounds = d.getRounds();
    for (int level = 0; level < 3; level++) {
      Panel p;
      p.title = std::string("Bisection over ") + level_name[level];
      p.x_label = "round";
      p.y_label = level_unit[level];
      p.integer_y = true;
      Series band{"disputed interval (lo agreed, hi differs)", "#7f7f7f", Style::Ranges, {}, {}, {}};
      Series agree{"probe: the sides agree", kGreen, Style::Dots, {}, {}, {}};
      Series differ{"probe: the sides differ", kRed, Style::Dots, {}, {}, {}};
      for (unsigned i = 0; i < rounds.size(); i++) {
        auto r = rounds[i];
        if (int(level_of(r.getLevel())) != level) continue;
        check_input(r.getLo() <= r.getHi(), what + ": round " + std::to_string(i + 1) + " has lo above hi");
        band.x.push_back(i + 1), band.y.push_back(r.getLo()), band.y2.push_back(r.getHi());
        Series& s = r.getAgree() ? agree : differ;
        s.x.push_back(i + 1), s.y.push_back(r.getProbe());
      }
      if (band.x.empty()) continue;
      p.x_lo = band.x.front() - 0.5, p.x_hi = band.x.back() + 0.5;
      p.series = {band, agree, differ};
      f.panels.push_back(std::move(p));
    }
    std::string ruling;
    if (d.getComplete() && d.getOpKind().size()) {
      const Refereed r = referee_dispute(d, what, opt.data_dir);
      ruling = ruling_text(r.right);
      f.caption.push_back("Pinpointed: step " + std::to_string(r.step) + ", op " + std::to_string(r.op) + " (" +
                          r.op_kind + ", layer " + std::to_string(d.getOpLayer()) + "). Outputs: A " +
                          short_hex(r.out_a) + ", B " + (r.has_b ? short_hex(r.out_b) : "(honest re-execution)") +
                          "; the referee recomputed the op from the agreed inputs: " + short_hex(r.referee) + ", so " +
                          ruling + ".");
    } else if (!d.getComplete()) {
      ruling = "under way";
      f.caption.push_back("The bisection is under way (a 'pol-bisect play' transcript): no ruling yet.");
    } else {
      ruling = "no op pinpointed";
      f.caption.push_back("The bisection ended without pinpointing an op (the sides agree, or differ only at a "
                          "checkpoint): nothing for the referee to recompute.");
    }
    f.caption.insert(f.caption.begin(),
                     "Each round narrows the interval (lo, hi] where the two sides' hashes first differ: over the "
                     "checkpoints, then the steps of the first disputed segment, then the ops of the first disputed "
                     "step. " + std::to_string(rounds.size()) + " rounds, bound " +
                         std::to_string(d.getRoundBound()) + ". Roots: A " + hex_of(d.getRootA()).substr(0, 16) +
                         "..., B " + (d.getRootB().size() ? hex_of(d.getRootB()).substr(0, 16) + "..." : "(honest re-execution)") + ".");
    f.title = "Dispute " + base_name(path) + ": " + ruling;
    if (f.panels.empty()) {
      Panel p;
      p.title = "Bisection";
      p.x_label = "round", p.y_label = "position";
      p.message = "no rounds recorded";
      f.panels.push_back(std::move(p));
    }
  });
  return f;
}

// A panel of one line over steps [0, x_hi]; no line where `y` is empty.
Panel line_panel(std::string title, std::string x_label, std::string y_label, double x_hi, const std::string& color,
                 const std::vector<double>& x, const std::vector<double>& y) {
  Panel p;
  p.title = std::move(title), p.x_label = std::move(x_label), p.y_label = std::move(y_label);
  p.x_lo = 0, p.x_hi = x_hi;
  if (!y.empty()) p.series.push_back({"", color, Style::Line,
                          std::vector<double>(x.begin(), x.begin() + long(std::min(x.size(), y.size()))), y, {}});
  return p;
}

}  // namespace

Figure proof_figure(const ProofSeries& p) {
  Figure f;
  f.title = "Proof directory '" + p.name + "': " + std::to_string(p.steps) + " steps, " + std::to_string(p.checkpoints) +
            " checkpoints" + (p.complete ? "" : " (training under way)");
  const double x_hi = double(std::max<int64_t>(p.steps, 1));
  std::vector<double> steps, losses(p.losses.begin(), p.losses.end());
  for (size_t i = 0; i < std::max(p.losses.size(), p.lr.size()); i++) steps.push_back(double(i));
  Panel loss = line_panel("Training loss per step (the solver's claim)", "step", "cross-entropy loss (nats)", x_hi,
                          palette(0), steps, losses);
  if (p.losses.empty()) loss.message = "this proof's manifest records no losses (written before manifests recorded them)";
  f.panels.push_back(std::move(loss));
  if (!p.lr.empty())
    f.panels.push_back(line_panel("Learning rate per step (from the task's schedule)", "step", "learning rate", x_hi,
                                  palette(1), steps, p.lr));
  if (!p.update_norm.empty()) {
    std::vector<double> ends(p.segment_end.begin(), p.segment_end.end());
    Panel un = line_panel("Update norm per segment (from the committed checkpoints)", "step at the segment's end",
                          "||w(end) - w(start)||2", x_hi, palette(2), ends, p.update_norm);
    if (ends.size() <= 200) {  // few segments: each one a dot too
      Series dots = un.series[0];
      dots.style = Style::Dots;
      un.series.push_back(std::move(dots));
    }
    f.panels.push_back(std::move(un));
  }
  f.caption.push_back("Committed: the checkpoints' state hashes, under the Merkle root " + p.root.substr(0, 16) +
                      (p.root.size() > 64 ? p.root.substr(64) : "...") +
                      (p.update_norm.empty() ? "" : "; the update norms are computed here from the checkpoint files, "
                                                   "each checked against the manifest's hashes") + ".");
  f.caption.push_back(p.losses.empty()
                          ? "The solver's claims: none recorded (no losses in this manifest)."
                          : "The solver's claims, not under the root: the loss of each step (" +
                                std::to_string(p.losses.size()) + " of " + std::to_string(p.steps) +
                                " steps); only a replay checks them.");
  if (p.lr.empty()) f.caption.push_back("Give the task file too for the learning rate and the update norms.");
  return f;
}

Figure make_figure(const std::vector<std::string>& paths, const PlotOptions& opt) {
  std::vector<std::string> proofs, tasks, verdicts, profiles, disputes;
  for (const auto& p : paths) {
    if (is_directory(p)) {
      proofs.push_back(p);
      continue;
    }
    if (!file_exists(p)) bad_input("'" + p + "': no such file or directory");
    const FileType* t = file_type_of_path(p);
    const FileKind k = t ? t->kind : FileKind::Ledger;
    if (t && k == FileKind::Task) tasks.push_back(p);
    else if (t && k == FileKind::Verdict) verdicts.push_back(p);
    else if (t && k == FileKind::Profile) profiles.push_back(p);
    else if (t && k == FileKind::Dispute) disputes.push_back(p);
    else if (t && k == FileKind::Manifest) bad_input("'" + p + "': give the proof directory, not its manifest");
    else
      bad_input("'" + p + "': not a kind pol-plot draws (a proof directory, a verdict .pwv, a profile .pwp, a "
                "dispute .pwd, or a task .pwt beside its proof)");
  }
  const size_t kinds = (proofs.empty() ? 0 : 1) + (verdicts.empty() ? 0 : 1) + (profiles.empty() ? 0 : 1) +
                       (disputes.empty() ? 0 : 1);
  if (kinds != 1) usage_error("give one kind to plot: a proof directory (with its task), verdicts, a profile or a dispute");
  if (!tasks.empty() && proofs.empty()) usage_error("a task file goes with a proof directory");
  if (proofs.size() > 1 || tasks.size() > 1 || profiles.size() > 1 || disputes.size() > 1)
    usage_error("one proof, profile or dispute at a time (several verdicts go side by side)");
  Figure f;
  if (!proofs.empty()) {
    std::optional<LoadedTask> task;
    if (!tasks.empty()) task = load_task(tasks[0]);
    f = proof_figure(read_proof(proofs[0], task ? &*task : nullptr));
    if (opt.width) f.width = opt.width;
  } else if (!verdicts.empty()) {
    f = verdicts_figure(verdicts, opt);
  } else if (!profiles.empty()) {
    f = profile_figure(profiles[0], opt);
  } else {
    f = dispute_figure(disputes[0], opt);
  }
  f.height = opt.height;
  return f;
}

}  // namespace pw::plot
