// pol-bisect: pin a training dispute to one op, and the referee's replay of that op.
#include <cstdio>
#include <cstring>

#include "bisect/bisect.hpp"
#include "bisect/dispute.hpp"
#include "bisect/fast.hpp"
#include "bisect/play.hpp"
#include "cli/cli.hpp"
#include "core/error.hpp"
#include "io/message.hpp"

using namespace pw;

namespace {

// Writes the dispute to `out` ("": none), and prints or notes its transcript.
void report(const std::string& out, capnp::MallocMessageBuilder& mb, const CommonOptions& common, const std::string& summary) {
  if (!out.empty()) write_message<schema::Dispute>(out, mb, common.json);
  const std::string text = dispute_text(mb.getRoot<schema::Dispute>().asReader()) + summary + "\n";
  if (!common.quiet && !out.empty()) std::fputs(text.c_str(), stderr);
  if (out.empty() && common.json) write_message<schema::Dispute>("-", mb, true);
  if (out.empty() && !common.json) std::fputs(text.c_str(), stdout);
}

// A fast-mode task's profile (--profile: required there, refused for an exact-mode task),
// checked to be of the task's class.
std::optional<LoadedProfile> fast_profile(const LoadedTask& task, const std::string& path, const CommonOptions& common) {
  if (task.cfg.exact) {
    if (!path.empty()) usage_error("--profile is for fast-mode tasks; an exact-mode dispute is ruled bit for bit");
    return std::nullopt;
  }
  if (path.empty()) usage_error("a fast-mode dispute is ruled by the verifier's profile: pass --profile (pol-profile)");
  if (common.device == DeviceKind::Cuda)
    usage_error("a fast-mode dispute recomputes each side under its declared CPU kernel: --device cuda does not apply");
  LoadedProfile p = load_profile(path);
  check_profile_for(p, task.msg.root(), "profile '" + path + "'");
  return p;
}

int run_replay(int argc, char** argv) {
  CLI::App app{"Referee: recompute the dispute's pinpointed op alone from its inputs (checked against the agreed "
               "hashes), or, when no op was pinpointed, its disputed step from the agreed state the file carries, and "
               "say whose claim is right. Exit 0 when A is right (or, in fast mode, both sides stand), 1 when B is (or neither), 3 when the "
               "dispute is malformed or its inputs do not match their hashes.",
               "pol-bisect replay"};
  CommonOptions common;
  std::string path, data_dir;
  app.add_option("DISPUTE", path, "Dispute file (binary or JSON)")->required();
  app.add_option("--data-dir", data_dir, "Where the task's dataset files are (only a load_batch dispute needs it)");
  add_common_options(app, common, kOptThreads | kOptQuiet | kOptJson);
  return run_tool("pol-bisect", argc, argv, app, [&]() -> int {
    apply_common_options(common);
    auto msg = Message<schema::Dispute>::read(path, kTensorFileLimit, "dispute");
    const std::string what = "dispute '" + path + "'";
    return guard_input(what, [&]() -> int {
      const Refereed r = referee_dispute(msg.root(), what, data_dir);
      const std::string who = ruling_name(r.right);
      const std::string said = winner_name(msg.root().getWinner());
      const std::string where = r.step_level ? "step " + std::to_string(r.step) + " (step level): referee state"
                                             : "step " + std::to_string(r.step) + ", op " + std::to_string(r.op) + " (" +
                                                   r.op_kind + "): referee output";
      note(common, where + " " + hex(r.referee).substr(0, 16) + "…; " + ruling_text(r.right) +
                       (who != said ? " (the dispute file said " + said + ")" : "") + "; " + r.basis);
      if (common.json)
        std::printf("{\"step\": %u, \"op\": %d, \"kind\": \"%s\", \"referee\": \"%s\", \"right\": \"%s\", \"level\": \"%s\", "
                    "\"basis\": \"%s\"}\n",
                    r.step, r.step_level ? -1 : int(r.op), r.op_kind.c_str(), hex(r.referee).c_str(), who.c_str(),
                    r.forfeit ? "forfeit" : r.step_level ? "step" : "op", r.basis.c_str());
      return r.right == Ruling::A || r.right == Ruling::Both ? kExitOk : kExitNo;
    });
  });
}

int run_play(int argc, char** argv) {
  CLI::App app{"One move of a two-party dispute: each side runs this on its own machine with its own proof, and the "
               "two exchange only the transcript file (hashes, with each checkpoint answer's Merkle inclusion path "
               "under its side's root and both manifests, and at the end the one op's tensors); an answer its own "
               "root does not bind loses by itself. Each move "
               "adds this side's answers to the pending questions; when both have answered everything, the "
               "transcript is the dispute, and the referee's ruling is in it (or run 'pol-bisect replay'). A fast-mode "
               "task needs --profile on both sides (the same profile).",
               "pol-bisect play"};
  CommonOptions common;
  std::string task_path, proof, side, transcript_in, out, data_dir, fault, profile_path;
  app.add_option("TASK", task_path, "Task file")->required();
  app.add_option("PROOF", proof, "This side's proof directory")->required();
  app.add_option("--side", side, "Which side this is: a or b")->required()->check(CLI::IsMember({"a", "b"}));
  app.add_option("--transcript", transcript_in, "The transcript received from the other side (none: start)");
  app.add_option("-o,--output", out, "The transcript to send back")->required();
  app.add_option("--data-dir", data_dir, "Find the dataset files in this directory (by base name)");
  app.add_option("--fault", fault, "This side answers with a fault injected (STEP:OP:ELEMENT), for simulation");
  app.add_option("--profile", profile_path, "Fast-mode task: the verifier's profile (both sides name the same one)");
  add_common_options(app, common, kOptThreads | kOptDevice | kOptJson | kOptQuiet | kOptForce);
  return run_tool("pol-bisect", argc, argv, app, [&]() -> int {
    apply_common_options(common, true);
    check_output_path(out, {task_path, transcript_in}, common.force);
    check_output_outside(out, proof);
    LoadedTask task = load_task(task_path);
    const std::optional<LoadedProfile> profile = fast_profile(task, profile_path, common);
    Dataset data = load_task_dataset(task.cfg, data_dir);
    const Party me = load_party(task, proof, fault, "--fault");
    const bool side_a = side == "a";
    SideTranscript theirs;
    if (!transcript_in.empty()) {
      auto msg = Message<schema::Dispute>::read(transcript_in, kTensorFileLimit, "transcript");
      const std::string what = "transcript '" + transcript_in + "'";
      theirs = guard_input(what, [&] { return read_side(msg.root(), task, !side_a, what, profile ? &*profile : nullptr); });
    }
    LocalOracle local(task, data, me);
    if (common.device == DeviceKind::Cuda) local.use_device(make_cuda_executor(tape_for(task.cfg), false));
    capnp::MallocMessageBuilder mb;
    const Move m = play_move(task, data, local, commitment_of(me), side_a, theirs, mb.initRoot<schema::Dispute>(),
                             profile ? &*profile : nullptr, me.kernel);
    write_message<schema::Dispute>(out, mb, common.json);
    const char* other = m.waiting_for == 0 ? "a" : "b";
    if (!m.complete) {
      note(common, "waiting for side " + std::string(other) + ": send it '" + out + "'");
      if (common.json) std::printf("{\"complete\": false, \"waiting_for\": \"%s\"}\n", other);
      return kExitOk;
    }
    const BisectResult& r = m.result;
    if (!common.quiet) std::fputs((dispute_text(mb.getRoot<schema::Dispute>().asReader()) + r.summary + "\n").c_str(), stderr);
    if (common.json)
      std::printf("{\"complete\": true, \"disputed\": %s, \"winner\": \"%s\"}\n", r.disputed ? "true" : "false",
                  winner_name(mb.getRoot<schema::Dispute>().asReader().getWinner()));
    return !r.disputed || (r.ruled && (r.winner == Ruling::A || r.winner == Ruling::Both)) ? kExitOk : kExitNo;
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "replay") == 0) return run_replay(argc - 1, argv + 1);
  if (argc > 1 && std::strcmp(argv[1], "play") == 0) return run_play(argc - 1, argv + 1);
  CLI::App app{"Pin a disagreement between two proofs of one task to a single op: bisect over the checkpoints, then "
               "the steps of the first disputed interval, then the ops of the first disputed step, until the first op "
               "whose inputs both sides agree on and whose outputs differ; the referee recomputes that op (or, when "
               "both sides compute the disputed step alike, that step from the agreed state, which the dispute file "
               "carries). "
               "'pol-bisect replay DISPUTE' repeats the referee's work alone; 'pol-bisect play' is one side's move "
               "when the two sides are on different machines. A fast-mode task is ruled by the verifier's profile (--profile): "
               "the referee recomputes the op (or step) under each side's declared kernel, and a side whose value lies "
               "beyond the profile's replay noise loses. Exit 0 when A is right (or both stand), 1 when B is.",
               "pol-bisect"};
  CommonOptions common;
  std::string task_path, proof_a, proof_b, out, data_dir, fault_a, fault_b, profile_path;
  bool against_replay = false;
  app.add_option("TASK", task_path, "Task file")->required();
  app.add_option("PROOF_A", proof_a, "The first side's proof directory")->required();
  app.add_option("PROOF_B", proof_b, "The second side's proof directory (omit with --against-replay)");
  app.add_flag("--against-replay", against_replay, "Side B is an honest re-execution of the task (no second proof)");
  app.add_option("-o,--output", out, "Write the dispute here (binary; JSON with --json)");
  app.add_option("--data-dir", data_dir, "Find the dataset files in this directory (by base name)");
  app.add_option("--profile", profile_path,
                 "Fast-mode task: the verifier's profile (pol-profile), whose thresholds rule the dispute; it is "
                 "embedded in the dispute file");
  const std::string sim = "Simulating a side on this machine (how it computes when queried)";
  app.add_option("--fault-a", fault_a, "Side A answers with this fault injected: STEP:OP:ELEMENT, as pol-forge --inject-fault")->group(sim);
  app.add_option("--fault-b", fault_b, "Side B answers with this fault injected")->group(sim);
  add_common_options(app, common, kOptThreads | kOptDevice | kOptJson | kOptQuiet | kOptForce);

  return run_tool("pol-bisect", argc, argv, app, [&]() -> int {
    apply_common_options(common, true);
    if (against_replay == !proof_b.empty()) usage_error("give PROOF_B, or --against-replay, not both");
    if (!out.empty()) {
      check_output_path(out, {task_path}, common.force);
      check_output_outside(out, proof_a);
      if (!proof_b.empty()) check_output_outside(out, proof_b);
    }
    LoadedTask task = load_task(task_path);
    const std::optional<LoadedProfile> profile = fast_profile(task, profile_path, common);
    const bool fast = profile.has_value();
    Dataset data = load_task_dataset(task.cfg, data_dir);
    const Party a = load_party(task, proof_a, fault_a, "--fault-a");
    Party b = load_party(task, proof_b, fault_b, "--fault-b");
    if (b.replay) b.agreed_source = &a, b.kernel = a.kernel;  // the task re-executed as A declares it ran
    LocalOracle oa(task, data, a), ob(task, data, b);
    if (common.device == DeviceKind::Cuda) {
      oa.use_device(make_cuda_executor(tape_for(task.cfg), false));
      ob.use_device(make_cuda_executor(tape_for(task.cfg), false));
    }
    const FastReferee referee{fast ? &*profile : nullptr, a.kernel, b.kernel};
    const BisectResult r = bisect(task, &data, oa, ob, fast ? &referee : nullptr);
    capnp::MallocMessageBuilder mb;
    write_dispute(mb.initRoot<schema::Dispute>(), task,
                  dispute_record(r, commitment_of(a), commitment_of(b), fast ? &referee : nullptr));
    report(out, mb, common, r.summary);
    if (!r.disputed) return kExitOk;
    note(common, r.summary + ": " + ruling_text(r.winner));
    return r.winner == Ruling::A || r.winner == Ruling::Both ? kExitOk : kExitNo;
  });
}
