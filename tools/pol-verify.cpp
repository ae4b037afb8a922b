// pol-verify: the verifier. Checks a proof against its task and replays segments.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <set>

#include "cli/cli.hpp"
#include "core/error.hpp"
#include "io/message.hpp"
#include "verify/profile.hpp"
#include "verify/verify.hpp"

using namespace pw;

namespace {

std::string random_beacon() {
  uint8_t b[16];
  randombytes_buf(b, sizeof b);
  return hex(b, sizeof b);
}

schema::Selection selection(SegmentWhy w) {
  switch (w) {
    case SegmentWhy::All: return schema::Selection::ALL;
    case SegmentWhy::Beacon: return schema::Selection::BEACON;
    case SegmentWhy::TopQ: return schema::Selection::TOP_Q;
    case SegmentWhy::Structure: return schema::Selection::STRUCTURE;
  }
  return schema::Selection::ALL;
}

// "I/N" → (I, N), 0 ≤ I < N.
std::pair<int, int> parse_shard(const std::string& spec, const std::string& what) {
  const size_t slash = spec.find('/');
  auto num = [&](const std::string& t) {
    if (t.empty() || t.size() > 6 || t.find_first_not_of("0123456789") != std::string::npos)
      usage_error(what + " '" + spec + "': expected I/N with 0 <= I < N");
    return std::stoi(t);
  };
  if (slash == std::string::npos) usage_error(what + " '" + spec + "': expected I/N with 0 <= I < N");
  const int i = num(spec.substr(0, slash)), n = num(spec.substr(slash + 1));
  if (n < 1 || i >= n) usage_error(what + " '" + spec + "': expected I/N with 0 <= I < N");
  return {i, n};
}

bool same_list(capnp::List<uint32_t>::Reader a, capnp::List<uint32_t>::Reader b) {
  if (a.size() != b.size()) return false;
  for (unsigned i = 0; i < a.size(); i++)
    if (a[i] != b[i]) return false;
  return true;
}

void set_detection(schema::Detection::Builder b, const Detection& d) {
  b.setTotal(uint32_t(d.total));
  b.setReplayed(uint32_t(d.replayed));
  b.setForgedFraction(d.f);
  b.setPDetectBound(d.p_bound);
  b.setPDetect(d.p_exact);
  b.setReplayedFor99(uint32_t(d.replayed_for_99));
}

std::string detection_line(const Detection& d) {
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "detection: %d of %d segments chosen; if %.0f%% of the segments were forged, P(detect) >= 1-(1-f)^q = "
                "%.4f (without replacement: %.4f); 99%% needs q = %d",
                d.replayed, d.total, 100 * d.f, d.p_bound, d.p_exact, d.replayed_for_99);
  return buf;
}

void set_provenance(schema::Verdict::Builder v) {
  auto prov = v.initProvenance();
  prov.setProgram("pol-verify");
  prov.setVersion(version());
  prov.setCommandLine(command_line());
}

void emit(const std::string& out, capnp::MallocMessageBuilder& mb, bool json) {
  if (!out.empty())
    write_message<schema::Verdict>(out, mb, json);
  else if (json)
    write_message<schema::Verdict>("-", mb, true);
}

// pol-verify --merge: the shard verdicts of one verification, combined. Every shard
// 0..N−1 exactly once, all of one proof, beacon and selection; together they must cover
// every selected segment (a shard that rejected may stop early).
int merge(const std::vector<std::string>& inputs, const std::string& out, const CommonOptions& common) {
  std::vector<Message<schema::Verdict>> vs;
  for (const std::string& in : inputs) vs.push_back(Message<schema::Verdict>::read(in, size_t(64) << 20, "verdict"));
  capnp::MallocMessageBuilder mb;
  auto v = mb.initRoot<schema::Verdict>();
  bool accepted = true;
  int first_bad = -1;
  std::string reason;
  double replay = 0, check = 0;
  std::set<uint32_t> shards_seen, covered;
  std::vector<std::pair<uint32_t, std::pair<size_t, unsigned>>> segs;  // (index, (verdict, position))
  guard_input("verdict", [&] {
    auto r0 = vs[0].root();
    const uint32_t n = r0.getShards();
    check_input(n == inputs.size(), "--merge: the verdicts say " + std::to_string(n) + " shards, " +
                                        std::to_string(inputs.size()) + " were given");
    for (size_t k = 0; k < vs.size(); k++) {
      auto r = vs[k].root();
      const std::string what = "verdict '" + inputs[k] + "'";
      check_input(r.getMerged() == 0, what + " is already a merge");
      check_input(r.getShards() == n && r.getTaskHash() == r0.getTaskHash() && r.getProofRoot() == r0.getProofRoot() &&
                      r.getBeacon() == r0.getBeacon() && r.getMode() == r0.getMode() &&
                      r.getProfileHash() == r0.getProfileHash() && same_list(r.getSelected(), r0.getSelected()),
                  what + " belongs to another verification (task, proof, beacon, profile or selection differ)");
      check_input(r.getShard() < n && shards_seen.insert(r.getShard()).second,
                  what + ": shard " + std::to_string(r.getShard()) + " is missing its peers or given twice");
      replay += r.getReplaySeconds(), check += r.getCheckSeconds();
      if (!r.getAccepted()) {
        accepted = false;
        if (first_bad < 0 || (r.getFirstBadSegment() >= 0 && r.getFirstBadSegment() < first_bad)) {
          first_bad = r.getFirstBadSegment();
          reason = r.getReason();
        }
        if (reason.empty()) reason = r.getReason();
      }
      auto sl = r.getSegments();
      for (unsigned j = 0; j < sl.size(); j++) {
        check_input(covered.insert(sl[j].getIndex()).second,
                    what + ": segment " + std::to_string(sl[j].getIndex()) + " was replayed by two shards");
        segs.push_back({sl[j].getIndex(), {k, j}});
      }
    }
    std::set<uint32_t> selected;
    for (uint32_t i : r0.getSelected()) selected.insert(i);
    for (uint32_t i : covered)
      check_input(selected.count(i), "--merge: segment " + std::to_string(i) + " was replayed but not selected");
    if (accepted && covered != selected) {
      accepted = false;
      reason = "the shards replayed " + std::to_string(covered.size()) + " of the " + std::to_string(selected.size()) +
               " selected segments";
    }
    std::sort(segs.begin(), segs.end());
    v.setFormatVersion(1);
    v.setTaskHash(r0.getTaskHash());
    v.setProofRoot(r0.getProofRoot());
    v.setBeacon(r0.getBeacon());
    v.setMode(r0.getMode());
    if (r0.hasProfileHash()) v.setProfileHash(r0.getProfileHash());
    v.setSelected(r0.getSelected());
    v.setDetection(r0.getDetection());
    v.setShards(1);
    v.setMerged(n);
    auto ml = v.initSegments(unsigned(segs.size()));
    for (size_t i = 0; i < segs.size(); i++)
      ml.setWithCaveats(unsigned(i), vs[segs[i].second.first].root().getSegments()[segs[i].second.second]);
    if (accepted)
      reason = std::to_string(segs.size()) + " of " + std::to_string(r0.getDetection().getTotal()) +
               " segments replayed by " + std::to_string(n) + " shards, all " +
               (r0.getMode() == schema::Mode::EXACT ? "equal" : "within the profile's thresholds");
  });
  v.setAccepted(accepted);
  v.setReason(reason);
  v.setFirstBadSegment(accepted ? -1 : first_bad);
  v.setReplaySeconds(replay);
  v.setCheckSeconds(check);
  set_provenance(v);
  emit(out, mb, common.json);
  {
    auto d = v.asReader().getDetection();
    Detection det;
    det.total = int(d.getTotal()), det.replayed = int(d.getReplayed()), det.f = d.getForgedFraction();
    det.p_bound = d.getPDetectBound(), det.p_exact = d.getPDetect(), det.replayed_for_99 = int(d.getReplayedFor99());
    if (det.total > 0) note(common, detection_line(det));
  }
  note(common, (accepted ? "ACCEPT: " : "REJECT: ") + reason);
  return accepted ? kExitOk : kExitNo;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Verify a proof of learning: check the manifest against the task (task hash, dataset, seed-derived "
               "initial weights and batch order, checkpoint hashes, Merkle root), then replay segments: exact-mode "
               "proofs must give equal state hashes, fast-mode proofs distances within a profile's thresholds "
               "(pol-profile). Shard the replay with --shard I/N and combine the verdicts with --merge. Exit 0 accept, 1 "
               "reject, 3 bad input.",
               "pol-verify"};
  CommonOptions common;
  std::string task_path, dir, out, segments = "all";
  VerifyOptions opt;
  app.add_option("TASK", task_path, "Task file (binary or JSON)");
  app.add_option("PROOF_DIR", dir, "Proof directory written by pol-train");
  app.add_option("-o,--output", out, "Write the verdict here (binary; JSON with --json)");
  app.add_option("--segments", segments, "'all', or N segments drawn from the beacon");
  app.add_option("--top-q", opt.top_q, "Also replay the Q segments with the largest weight updates")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--beacon", opt.beacon,
                 "Public randomness that exists only after the proof's root is fixed (default: fresh random, printed)");
  app.add_option("--data-dir", opt.data_dir, "Find the dataset files in this directory (by base name)");
  app.add_flag("--keep-going", opt.keep_going, "Replay every chosen segment even after one fails");
  std::string profile, shard;
  std::vector<std::string> merge_inputs;
  app.add_option("--profile", profile, "Tolerance profile for fast-mode proofs (pol-profile)");
  app.add_option("--fast-panel", opt.compute.fast_panel, "Fast mode: this verifier's GEMM panel length")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--shard", shard,
                 "Replay only the chosen segments at positions I, I+N, ... (default from SLURM_ARRAY_TASK_ID and "
                 "SLURM_ARRAY_TASK_COUNT)");
  app.add_option("--merge", merge_inputs, "Combine the shard verdicts VERDICT... into one (no TASK, PROOF_DIR)")
      ->expected(1, -1);
  app.add_option("--assume-forged", opt.assume_forged, "f for the detection figures printed")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  add_common_options(app, common, kOptAll | kOptForce);

  return run_tool("pol-verify", argc, argv, app, [&]() -> int {
    apply_common_options(common, true);
    opt.device = common.device;
    if (!merge_inputs.empty()) {
      if (!task_path.empty() || !dir.empty()) usage_error("--merge takes verdict files only, no TASK or PROOF_DIR");
      check_output_path(out, merge_inputs, common.force);
      return merge(merge_inputs, out, common);
    }
    if (task_path.empty() || dir.empty()) usage_error("TASK and PROOF_DIR are required");
    const char* array_id = std::getenv("SLURM_ARRAY_TASK_ID");
    const char* array_n = std::getenv("SLURM_ARRAY_TASK_COUNT");
    if (shard.empty() && array_id && array_n && *array_id && *array_n && std::string(array_n) != "1") {
      // An array may start anywhere and step: --array=1-8:2 has ids 1, 3, 5, 7.
      const char* array_min = std::getenv("SLURM_ARRAY_TASK_MIN");
      const char* array_step = std::getenv("SLURM_ARRAY_TASK_STEP");
      auto num = [](const char* v, long dflt) { return v && *v ? std::strtol(v, nullptr, 10) : dflt; };
      const long id = num(array_id, 0), lo = num(array_min, 0), step = std::max(1L, num(array_step, 1));
      shard = std::to_string((id - lo) / step) + "/" + array_n;
      note(common, "shard " + shard + " (from SLURM_ARRAY_TASK_ID " + array_id + ", SLURM_ARRAY_TASK_COUNT)");
    }
    if (!shard.empty()) std::tie(opt.shard, opt.shards) = parse_shard(shard, "--shard");
    if (segments != "all") {
      if (segments.empty() || segments.find_first_not_of("0123456789") != std::string::npos || segments.size() > 9)
        usage_error("--segments '" + segments + "': expected 'all' or a positive number");
      opt.segments = std::stoll(segments);
      if (opt.segments < 1) usage_error("--segments must be at least 1");
      if (opt.beacon.empty()) {
        if (opt.shards > 1) usage_error("--segments N with --shard: pass the same --beacon to every shard");
        opt.beacon = random_beacon();
        note(common, "beacon " + opt.beacon + " (pass --beacon to choose one)");
      }
    }
    check_output_path(out, {task_path}, common.force);
    check_output_outside(out, dir);
    LoadedTask task = load_task(task_path);
    LoadedProfile prof;
    if (!profile.empty()) {
      if (task.cfg.exact) usage_error("--profile is for fast-mode tasks; this task is exact (verified by equal hashes)");
      prof = load_profile(profile);
      opt.profile = &prof;
    } else if (!task.cfg.exact) {
      usage_error("this task is in fast mode: its proofs are verified against a profile (--profile, from pol-profile)");
    }
    Progress progress(common, 0, "segment");
    VerifyResult r = verify_proof(task, dir, opt, [&](const SegmentOutcome& s, size_t done, size_t total) {
      progress.set_total(int64_t(total));
      progress.update(int64_t(done), s.ok ? "ok" : "FAILED");
      if (!s.ok) {
        progress.finish();
        note(common, "segment " + std::to_string(s.index) + " (" + why_name(s.why) + "): " + s.reason);
      }
    });
    progress.finish();

    capnp::MallocMessageBuilder mb;
    auto v = mb.initRoot<schema::Verdict>();
    v.setFormatVersion(1);
    v.setTaskHash(as_data(task.hash));
    v.setProofRoot(as_data(r.proof_root));
    v.setAccepted(r.accepted);
    v.setReason(r.reason);
    v.setFirstBadSegment(r.first_bad);
    v.setBeacon(opt.beacon);
    v.setReplaySeconds(r.replay_seconds);
    v.setCheckSeconds(r.check_seconds);
    v.setMode(task.cfg.exact ? schema::Mode::EXACT : schema::Mode::FAST);
    if (opt.profile) v.setProfileHash(as_data(prof.hash));
    v.setShard(uint32_t(opt.shard));
    v.setShards(uint32_t(opt.shards));
    auto sel = v.initSelected(unsigned(r.selected.size()));
    for (size_t i = 0; i < r.selected.size(); i++) sel.set(unsigned(i), uint32_t(r.selected[i]));
    set_detection(v.initDetection(), r.detect);
    set_provenance(v);
    auto segs = v.initSegments(unsigned(r.segments.size()));
    for (size_t i = 0; i < r.segments.size(); i++) {
      const SegmentOutcome& s = r.segments[i];
      auto b = segs[unsigned(i)];
      b.setIndex(uint32_t(s.index));
      b.setStartStep(uint32_t(s.start_step));
      b.setEndStep(uint32_t(s.end_step));
      b.setWhy(selection(s.why));
      b.setExpected(as_data(s.expected));
      if (s.replayed != Hash{}) b.setReplayed(as_data(s.replayed));
      b.setOk(s.ok);
      b.setReason(s.reason);
      b.setUpdateNorm(s.update_norm);
      b.setSeconds(s.seconds);
      if (s.distances.size()) write_distances(b.initDistances(), s.distances);
    }
    emit(out, mb, common.json);
    if (r.detect.total > 0) note(common, detection_line(r.detect));
    char timing[160];
    std::snprintf(timing, sizeof timing, " (replay %.2f s for %lld steps, checks and I/O %.2f s)", r.replay_seconds,
                  static_cast<long long>(r.replayed_steps), r.check_seconds);
    note(common, (r.accepted ? std::string("ACCEPT: ") + r.reason : "REJECT: " + r.reason) + timing);
    return r.accepted ? kExitOk : kExitNo;
  });
}
