#include "verify/verdict.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

#include "core/error.hpp"
#include "io/provenance.hpp"
#include "io/version.hpp"
#include "verify/profile.hpp"

namespace pw {

namespace {

schema::Selection selection(SegmentWhy w) {
  switch (w) {
    case SegmentWhy::All: return schema::Selection::ALL;
    case SegmentWhy::Beacon: return schema::Selection::BEACON;
    case SegmentWhy::TopQ: return schema::Selection::TOP_Q;
    case SegmentWhy::Structure: return schema::Selection::STRUCTURE;
  }
  return schema::Selection::ALL;
}

void set_detection(schema::Detection::Builder b, const Detection& d) {
  b.setTotal(uint32_t(d.total));
  b.setReplayed(uint32_t(d.replayed));
  b.setForgedFraction(d.f);
  b.setPDetectBound(d.p_bound);
  b.setPDetect(d.p_exact);
  b.setReplayedFor99(uint32_t(d.replayed_for_99));
}

}  // namespace

Detection read_detection(schema::Detection::Reader d) {
  Detection det;
  det.total = int(d.getTotal()), det.replayed = int(d.getReplayed()), det.f = d.getForgedFraction();
  det.p_bound = d.getPDetectBound(), det.p_exact = d.getPDetect(), det.replayed_for_99 = int(d.getReplayedFor99());
  return det;
}

namespace {

bool same_list(capnp::List<uint32_t>::Reader a, capnp::List<uint32_t>::Reader b) {
  if (a.size() != b.size()) return false;
  for (unsigned i = 0; i < a.size(); i++)
    if (a[i] != b[i]) return false;
  return true;
}

// Shard verdicts of one verification agree on everything but their own segments.
bool same_verification(schema::Verdict::Reader a, schema::Verdict::Reader b) {
  return a.getShards() == b.getShards() && a.getTaskHash() == b.getTaskHash() &&
         a.getProofRoot() == b.getProofRoot() && a.getBeacon() == b.getBeacon() && a.getMode() == b.getMode() &&
         a.getProfileHash() == b.getProfileHash() && same_list(a.getSelected(), b.getSelected());
}

}  // namespace

Message<schema::Verdict> read_verdict(const std::string& path) {
  return parse_verdict(read_file(path, kSmallFileLimit, "verdict"), "verdict '" + path + "'");
}

Message<schema::Verdict> parse_verdict(Bytes bytes, const std::string& what) {
  check_input(bytes.size() <= kSmallFileLimit, what + " is too large");
  auto msg = Message<schema::Verdict>::parse(std::move(bytes), what);
  check_version(FileKind::Verdict, msg.root().getFormatVersion(), what);
  return msg;
}

void make_verdict(const LoadedTask& task, const VerifyOptions& opt, const VerifyResult& r,
                  capnp::MallocMessageBuilder& mb) {
  auto v = mb.initRoot<schema::Verdict>();
  v.setFormatVersion(current_version(FileKind::Verdict));
  v.setTaskHash(as_data(task.hash));
  v.setProofRoot(as_data(r.proof_root));
  v.setAccepted(r.accepted);
  v.setReason(r.reason);
  v.setFirstBadSegment(r.first_bad);
  v.setBeacon(opt.beacon);
  v.setReplaySeconds(r.replay_seconds);
  v.setCheckSeconds(r.check_seconds);
  v.setMode(task.cfg.exact ? schema::Mode::EXACT : schema::Mode::FAST);
  if (opt.profile) v.setProfileHash(as_data(opt.profile->hash));
  v.setShard(uint32_t(opt.shard));
  v.setShards(uint32_t(opt.shards));
  auto sel = v.initSelected(unsigned(r.selected.size()));
  for (size_t i = 0; i < r.selected.size(); i++) sel.set(unsigned(i), uint32_t(r.selected[i]));
  set_detection(v.initDetection(), r.detect);
  set_provenance(v.initProvenance());
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
    if (s.thresholds.size()) write_distances(b.initThresholds(), s.thresholds);
    b.setFlagged(uint64_t(s.flagged));
    b.setFlipSpan(s.flip_span);
    b.setFlipSpanBound(s.flip_span_bound);
  }
  v.setResidualSum(r.residual_sum);
  v.setResidualBound(r.residual_bound);
  v.setAlignment(r.alignment);
}

VerdictSummary merge_verdicts(const std::vector<std::string>& paths, capnp::MallocMessageBuilder& mb) {
  check_input(!paths.empty(), "--merge: no verdicts");
  std::vector<Message<schema::Verdict>> vs;
  for (const std::string& p : paths) vs.push_back(read_verdict(p));
  return merge_verdicts(vs, paths, mb);
}

VerdictSummary merge_verdicts(const std::vector<Message<schema::Verdict>>& vs, const std::vector<std::string>& paths,
                              capnp::MallocMessageBuilder& mb) {
  check_input(!vs.empty() && vs.size() == paths.size(), "--merge: no verdicts");
  auto v = mb.initRoot<schema::Verdict>();
  VerdictSummary out;
  out.accepted = true;
  int first_bad = -1;
  double replay = 0, check = 0;
  std::set<uint32_t> shards_seen, covered;
  std::vector<std::pair<uint32_t, std::pair<size_t, unsigned>>> segs;  // (index, (verdict, position))
  guard_input("verdict", [&] {
    auto r0 = vs[0].root();
    const uint32_t n = r0.getShards();
    check_input(n == paths.size(), "--merge: the verdicts say " + std::to_string(n) + " shards, " +
                                       std::to_string(paths.size()) + " were given");
    for (size_t k = 0; k < vs.size(); k++) {
      auto r = vs[k].root();
      const std::string what = "verdict '" + paths[k] + "'";
      check_input(r.getMerged() == 0, what + " is already a merge");
      check_input(same_verification(r, r0),
                  what + " belongs to another verification (task, proof, beacon, profile or selection differ)");
      check_input(r.getShard() < n && shards_seen.insert(r.getShard()).second,
                  what + ": shard " + std::to_string(r.getShard()) + " is missing its peers or given twice");
      replay += r.getReplaySeconds(), check += r.getCheckSeconds();
      if (!r.getAccepted()) {
        out.accepted = false;
        if (first_bad < 0 || (r.getFirstBadSegment() >= 0 && r.getFirstBadSegment() < first_bad)) {
          first_bad = r.getFirstBadSegment();
          out.reason = r.getReason();
        }
        if (out.reason.empty()) out.reason = r.getReason();
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
    if (out.accepted && covered != selected) {
      out.accepted = false;
      out.reason = "the shards replayed " + std::to_string(covered.size()) + " of the " +
                   std::to_string(selected.size()) + " selected segments";
    }
    std::sort(segs.begin(), segs.end());
    v.setFormatVersion(current_version(FileKind::Verdict));
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
    if (out.accepted)
      out.reason = std::to_string(segs.size()) + " of " + std::to_string(r0.getDetection().getTotal()) +
                   " segments replayed by " + std::to_string(n) + " shards, all " +
                   (r0.getMode() == schema::Mode::EXACT ? "equal" : "within the profile's thresholds");
    out.detect = read_detection(r0.getDetection());
  });
  v.setAccepted(out.accepted);
  v.setReason(out.reason);
  v.setFirstBadSegment(out.accepted ? -1 : first_bad);
  v.setReplaySeconds(replay);
  v.setCheckSeconds(check);
  set_provenance(v.initProvenance());
  return out;
}

std::string detection_line(const Detection& d) {
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "detection: %d of %d segments chosen; if %.0f%% of the segments were forged, P(detect) >= 1-(1-f)^q = "
                "%.4f (without replacement: %.4f); 99%% needs q = %d",
                d.replayed, d.total, 100 * d.f, d.p_bound, d.p_exact, d.replayed_for_99);
  return buf;
}

}  // namespace pw
