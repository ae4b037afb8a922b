// pol-verify: the verifier. Checks a proof against its task and replays segments.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "cli/cli.hpp"
#include "core/error.hpp"
#include "dist/verify_ranks.hpp"
#include "io/message.hpp"
#include "verify/profile.hpp"
#include "verify/verdict.hpp"

using namespace pw;

namespace {

std::string random_beacon() {
  uint8_t b[16];
  randombytes_buf(b, sizeof b);
  return hex(b, sizeof b);
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

// The shard of a Slurm array task, "I/N", or "" outside an array (or in an array of one).
// An array may start anywhere and step: --array=1-8:2 has ids 1, 3, 5, 7, shards 0-3 of 4.
std::string slurm_shard() {
  const char* id = std::getenv("SLURM_ARRAY_TASK_ID");
  const char* n = std::getenv("SLURM_ARRAY_TASK_COUNT");
  if (!id || !n || !*id || !*n || std::string(n) == "1") return "";
  auto num = [](const char* v, long dflt) { return v && *v ? std::strtol(v, nullptr, 10) : dflt; };
  const long lo = num(std::getenv("SLURM_ARRAY_TASK_MIN"), 0);
  const long step = std::max(1L, num(std::getenv("SLURM_ARRAY_TASK_STEP"), 1));
  return std::to_string((num(id, 0) - lo) / step) + "/" + n;
}

void emit(const std::string& out, capnp::MallocMessageBuilder& mb, bool json) {
  if (!out.empty())
    write_message<schema::Verdict>(out, mb, json);
  else if (json)
    write_message<schema::Verdict>("-", mb, true);
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
  const std::map<std::string, VerifyOptions::ReadAhead> read_ahead{
      {"auto", VerifyOptions::ReadAhead::Auto}, {"on", VerifyOptions::ReadAhead::On}, {"off", VerifyOptions::ReadAhead::Off}};
  app.add_option("--read-ahead", opt.read_ahead,
                 "Read the next segment's first checkpoint while one replays: auto (where a core is spare), on, off")
      ->transform(CLI::CheckedTransformer(read_ahead))
      ->default_str("auto");
  add_common_options(app, common, kOptAll | kOptForce);

  Ranks ranks;  // under mpirun or srun --mpi=pmix: the ranks share the replay
  const int rc = run_tool("pol-verify", argc, argv, app, [&]() -> int {
    apply_common_options(common, true);
    opt.device = common.device;
    if (!merge_inputs.empty()) {
      if (!task_path.empty() || !dir.empty()) usage_error("--merge takes verdict files only, no TASK or PROOF_DIR");
      check_output_path(out, merge_inputs, common.force);
      capnp::MallocMessageBuilder mb;
      const VerdictSummary m = merge_verdicts(merge_inputs, mb);
      emit(out, mb, common.json);
      if (m.detect.total > 0) note(common, detection_line(m.detect));
      note(common, (m.accepted ? "ACCEPT: " : "REJECT: ") + m.reason);
      return m.accepted ? kExitOk : kExitNo;
    }
    if (task_path.empty() || dir.empty()) usage_error("TASK and PROOF_DIR are required");
    if (launched_ranks() > 1) {
      if (!shard.empty()) usage_error("--shard with several ranks: the ranks are the shards");
      ranks = start_ranks("pol-verify as " + std::to_string(launched_ranks()) + " ranks");
      if (ranks.rank != 0) common.quiet = true;  // rank 0 reports, and writes the verdict
    }
    if (ranks.size == 1 && shard.empty() && !(shard = slurm_shard()).empty())
      note(common, "shard " + shard + " (from SLURM_ARRAY_TASK_ID " + std::getenv("SLURM_ARRAY_TASK_ID") +
                       ", SLURM_ARRAY_TASK_COUNT)");
    if (!shard.empty()) std::tie(opt.shard, opt.shards) = parse_shard(shard, "--shard");
    if (segments != "all") {
      if (segments.empty() || segments.find_first_not_of("0123456789") != std::string::npos || segments.size() > 9)
        usage_error("--segments '" + segments + "': expected 'all' or a positive number");
      opt.segments = std::stoll(segments);
      if (opt.segments < 1) usage_error("--segments must be at least 1");
      if (opt.beacon.empty()) {
        if (opt.shards > 1) usage_error("--segments N with --shard: pass the same --beacon to every shard");
        if (ranks.rank == 0) opt.beacon = random_beacon();  // the others take rank 0's
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
      if (!prof.observed)
        note(common, "warning: profile '" + profile + "' has the sampleShare rule (format 1): every threshold allows " +
                         "a share of each update in any direction, which an adversary can steer with; make a new one " +
                         "with pol-profile");
    } else if (!task.cfg.exact) {
      usage_error("this task is in fast mode: its proofs are verified against a profile (--profile, from pol-profile)");
    }
    Progress progress(common, 0, "segment");
    auto on_segment = [&](const SegmentOutcome& s, size_t done, size_t total) {
      progress.set_total(int64_t(total));
      progress.update(int64_t(done), s.ok ? "ok" : "FAILED");
      if (!s.ok) {
        progress.finish();
        note(common, "segment " + std::to_string(s.index) + " (" + why_name(s.why) + "): " + s.reason);
      }
    };
    if (ranks.size > 1) {
      capnp::MallocMessageBuilder mb;
      const VerdictSummary m = verify_across_ranks(ranks, task, dir, opt, mb, on_segment);
      progress.finish();
      if (ranks.rank == 0) {
        emit(out, mb, common.json);
        if (m.detect.total > 0) note(common, detection_line(m.detect));
        note(common, (m.accepted ? "ACCEPT: " : "REJECT: ") + m.reason + " (" + std::to_string(ranks.size) + " ranks)");
      }
      return m.accepted ? kExitOk : kExitNo;
    }
    VerifyResult r = verify_proof(task, dir, opt, on_segment);
    progress.finish();

    capnp::MallocMessageBuilder mb;
    make_verdict(task, opt, r, mb);
    emit(out, mb, common.json);
    if (r.detect.total > 0) note(common, detection_line(r.detect));
    if (prof.observed && opt.profile && r.residual_bound > 0) {
      char line[200];
      std::snprintf(line, sizeof line, "directional test: |sum of residuals|_2 %.3g of at most %.3g, mean alignment %.3f",
                    r.residual_sum, r.residual_bound, r.alignment);
      note(common, line);
    }
    if (prof.span && opt.profile) {  // rule flipSpan: how much of the flips' room the residuals used
      int flagged = 0;
      double worst = 0;
      for (const SegmentOutcome& s : r.segments)
        if (s.flagged > 0) flagged++, worst = std::max(worst, s.flip_span_bound > 0 ? s.flip_span / s.flip_span_bound : 0.0);
      char line[200];
      std::snprintf(line, sizeof line, "flip span: %d of %zu replayed segments flagged; largest projection %.3g of its bound",
                    flagged, r.segments.size(), worst);
      note(common, line);
    }
    char timing[160];
    std::snprintf(timing, sizeof timing, " (replay %.2f s for %lld steps, checks and I/O %.2f s)", r.replay_seconds,
                  static_cast<long long>(r.replayed_steps), r.check_seconds);
    note(common, (r.accepted ? std::string("ACCEPT: ") + r.reason : "REJECT: " + r.reason) + timing);
    return r.accepted ? kExitOk : kExitNo;
  });
  finish_ranks(ranks);
  return rc;
}
