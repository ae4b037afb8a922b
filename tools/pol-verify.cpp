// pol-verify: the verifier. Checks a proof against its task and replays segments.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "cli/cli.hpp"
#include "core/error.hpp"
#include "io/message.hpp"
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Verify a proof of learning: check the manifest against the task (task hash, dataset, seed-derived "
               "initial weights and batch order, checkpoint hashes, Merkle root), then replay segments and require "
               "equal state hashes (exact mode). Exit 0 accept, 1 reject, 3 bad input.",
               "pol-verify"};
  CommonOptions common;
  std::string task_path, dir, out, segments = "all";
  VerifyOptions opt;
  app.add_option("TASK", task_path, "Task file (binary or JSON)")->required();
  app.add_option("PROOF_DIR", dir, "Proof directory written by pol-train")->required();
  app.add_option("-o,--output", out, "Write the verdict here (binary; JSON with --json)");
  app.add_option("--segments", segments, "'all', or N segments drawn from the beacon");
  app.add_option("--top-q", opt.top_q, "Also replay the Q segments with the largest weight updates")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--beacon", opt.beacon,
                 "Public randomness that exists only after the proof's root is fixed (default: fresh random, printed)");
  app.add_option("--data-dir", opt.data_dir, "Find the dataset files in this directory (by base name)");
  app.add_flag("--keep-going", opt.keep_going, "Replay every chosen segment even after one fails");
  std::string profile;
  app.add_option("--profile", profile, "Tolerance profile for fast-mode proofs (pol-profile)");
  add_common_options(app, common, kOptAll | kOptForce);

  return run_tool("pol-verify", argc, argv, app, [&]() -> int {
    apply_common_options(common, true);
    opt.device = common.device;
    if (segments != "all") {
      if (segments.empty() || segments.find_first_not_of("0123456789") != std::string::npos || segments.size() > 9)
        usage_error("--segments '" + segments + "': expected 'all' or a positive number");
      opt.segments = std::stoll(segments);
      if (opt.segments < 1) usage_error("--segments must be at least 1");
      if (opt.beacon.empty()) {
        opt.beacon = random_beacon();
        note(common, "beacon " + opt.beacon + " (pass --beacon to choose one)");
      }
    }
    check_output_path(out, {task_path}, common.force);
    check_output_outside(out, dir);
    LoadedTask task = load_task(task_path);
    if (!task.cfg.exact || !profile.empty())
      usage_error("fast-mode proofs and --profile are not supported yet (issue 3); this build verifies exact mode");
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
    auto prov = v.initProvenance();
    prov.setProgram("pol-verify");
    prov.setVersion(version());
    prov.setCommandLine(command_line());
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
    }
    if (!out.empty())
      write_message<schema::Verdict>(out, mb, common.json);
    else if (common.json)
      write_message<schema::Verdict>("-", mb, true);
    char timing[160];
    std::snprintf(timing, sizeof timing, " (replay %.2f s for %lld steps, checks and I/O %.2f s)", r.replay_seconds,
                  static_cast<long long>(r.replayed_steps), r.check_seconds);
    note(common, (r.accepted ? std::string("ACCEPT: ") + r.reason : "REJECT: " + r.reason) + timing);
    return r.accepted ? kExitOk : kExitNo;
  });
}
