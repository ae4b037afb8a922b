// pol-bisect: pin a training dispute to one op, and the referee's replay of that op.
#include <cstdio>
#include <cstring>
#include <unistd.h>

#include "bisect/bisect.hpp"
#include "cli/cli.hpp"
#include "core/error.hpp"
#include "io/message.hpp"
#include "io/tensor_blob.hpp"

using namespace pw;

namespace {

schema::BisectLevel to_schema(Level l) {
  return l == Level::Checkpoint ? schema::BisectLevel::CHECKPOINT
                                : l == Level::Step ? schema::BisectLevel::STEP : schema::BisectLevel::OP;
}

const char* winner_name(schema::Winner w) {
  return w == schema::Winner::A ? "A" : w == schema::Winner::B ? "B" : "neither";
}

void store(capnp::List<schema::Tensor>::Builder list, const Tape& tape, const std::vector<int>& ids,
           const std::vector<std::vector<float>>& values) {
  for (size_t i = 0; i < values.size(); i++) {
    const TensorSpec& s = tape.tensors[size_t(ids[i])];
    TensorShape shape = s.ndim == 1 ? TensorShape{{uint64_t(s.cols)}} : TensorShape{{uint64_t(s.rows), uint64_t(s.cols)}};
    encode_tensor(list[unsigned(i)], s.name, schema::DType::F32, shape, values[i].data());
  }
}

// The transcript as text, for people.
std::string transcript(schema::Dispute::Reader d) {
  std::string t;
  char line[512];
  std::snprintf(line, sizeof line, "dispute over task %s\n  A: proof root %.16s…\n  B: proof root %.16s…\n",
                hex(hash_field(d.getTaskHash())).c_str(), hex(d.getRootA().begin(), d.getRootA().size()).c_str(),
                hex(d.getRootB().begin(), d.getRootB().size()).c_str());
  t += line;
  int n = 0;
  for (auto r : d.getRounds()) {
    const char* lvl = r.getLevel() == schema::BisectLevel::CHECKPOINT ? "checkpoint"
                      : r.getLevel() == schema::BisectLevel::STEP     ? "step"
                                                                      : "op";
    std::snprintf(line, sizeof line, "  round %2d  %-10s [%u, %u] probe %-6u A %.12s  B %.12s  %s\n", ++n, lvl,
                  r.getLo(), r.getHi(), r.getProbe(), hex(r.getHashA().begin(), r.getHashA().size()).c_str(),
                  hex(r.getHashB().begin(), r.getHashB().size()).c_str(), r.getAgree() ? "agree" : "DIFFER");
    t += line;
  }
  std::snprintf(line, sizeof line, "  %d rounds (bound %u)\n", n, d.getRoundBound());
  t += line;
  if (d.getOpKind().size()) {
    std::snprintf(line, sizeof line, "pinpointed: step %u, op %u (%s, layer %d)\n  outputs A %.16s…  B %.16s…  referee %.16s…\n",
                  d.getStep(), d.getOpIndex(), d.getOpKind().cStr(), d.getOpLayer(),
                  hex(d.getOutputHashA().begin(), d.getOutputHashA().size()).c_str(),
                  hex(d.getOutputHashB().begin(), d.getOutputHashB().size()).c_str(),
                  hex(d.getRefereeHash().begin(), d.getRefereeHash().size()).c_str());
    t += line;
  }
  t += std::string("winner: ") + winner_name(d.getWinner()) + "\n";
  return t;
}

int run_replay(int argc, char** argv) {
  CLI::App app{"Referee: recompute the dispute's pinpointed op alone from its inputs (checked against the agreed "
               "hashes) and say whose output is right. Exit 0 when A is right, 1 when B is (or neither), 3 when the "
               "dispute is malformed or its inputs do not match their hashes.",
               "pol-bisect replay"};
  CommonOptions common;
  std::string path, data_dir;
  app.add_option("DISPUTE", path, "Dispute file (binary or JSON)")->required();
  app.add_option("--data-dir", data_dir, "Where the task's dataset files are (only a load_batch dispute needs them)");
  add_common_options(app, common, kOptThreads | kOptQuiet | kOptJson);
  return run_tool("pol-bisect", argc, argv, app, [&]() -> int {
    apply_common_options(common);
    auto msg = Message<schema::Dispute>::read(path, kTensorFileLimit, "dispute");
    return guard_input("dispute '" + path + "'", [&]() -> int {
      auto d = msg.root();
      check_input(d.getFormatVersion() == 1, "dispute '" + path + "': unknown format version");
      TaskConfig cfg;
      try {
        cfg = task_config(d.getTask());
      } catch (const Error& e) {
        bad_input("dispute '" + path + "': embedded " + e.what());
      }
      check_input(task_hash(d.getTask()) == hash_field(d.getTaskHash()), "dispute '" + path + "': the embedded task does not match its hash");
      check_input(d.getOpKind().size() > 0, "dispute '" + path + "': no op was pinpointed; nothing to replay");
      const Tape tape = tape_for(cfg);
      check_input(d.getStep() < cfg.steps, "dispute '" + path + "': step out of range");
      check_input(d.getOpIndex() < tape.ops.size(), "dispute '" + path + "': op index out of range");
      const Op& op = tape.ops[d.getOpIndex()];
      check_input(std::string(d.getOpKind().cStr()) == op_name(op.kind),
                  "dispute '" + path + "': op " + std::to_string(d.getOpIndex()) + " is " + op_name(op.kind) + ", not " +
                      d.getOpKind().cStr());
      auto hashes = d.getInputHashes();
      auto inputs = d.getInputs();
      check_input(hashes.size() == op.in.size() && inputs.size() == op.in.size(),
                  "dispute '" + path + "': " + std::to_string(inputs.size()) + " inputs, " + op_name(op.kind) + " takes " +
                      std::to_string(op.in.size()));
      std::vector<std::vector<float>> in(op.in.size());
      for (unsigned i = 0; i < inputs.size(); i++) {
        decode_tensor(inputs[i], uint64_t(tape.tensors[size_t(op.in[i])].size()), in[i], "dispute '" + path + "'");
        check_input(int64_t(in[i].size()) == tape.tensors[size_t(op.in[i])].size(),
                    "dispute '" + path + "': input " + std::to_string(i) + " has the wrong shape");
        check_input(tensor_content_hash(in[i].data(), in[i].size() * 4) == hash_field(hashes[i]),
                    "dispute '" + path + "': input " + std::to_string(i) + " ('" + inputs[i].getName().cStr() +
                        "') does not match its agreed hash");
      }
      Dataset data;
      const bool need_data = op.kind == OpKind::LoadBatch;
      if (need_data) data = load_task_dataset(cfg, data_dir);
      const Hash ref = referee_op(cfg, need_data ? &data : nullptr, d.getStep(), int(d.getOpIndex()), in);
      const Hash ha = hash_field(d.getOutputHashA()), hb = hash_field(d.getOutputHashB());
      const char* who = ref == ha ? "A" : ref == hb ? "B" : "neither";
      note(common, std::string("step ") + std::to_string(d.getStep()) + ", op " + std::to_string(d.getOpIndex()) + " (" +
                       op_name(op.kind) + "): referee output " + hex(ref).substr(0, 16) + "…; " + who + " is right" +
                       (std::string(who) != winner_name(d.getWinner()) ? " (the dispute file said " +
                                                                             std::string(winner_name(d.getWinner())) + ")"
                                                                       : ""));
      if (common.json)
        std::printf("{\"step\": %u, \"op\": %u, \"kind\": \"%s\", \"referee\": \"%s\", \"right\": \"%s\"}\n", d.getStep(),
                    d.getOpIndex(), op_name(op.kind), hex(ref).c_str(), who);
      return ref == ha ? kExitOk : kExitNo;
    });
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "replay") == 0) return run_replay(argc - 1, argv + 1);
  CLI::App app{"Pin a disagreement between two proofs of one task to a single op: bisect over the checkpoints, then "
               "the steps of the first disputed interval, then the ops of the first disputed step, until the first op "
               "whose inputs both sides agree on and whose outputs differ; the referee recomputes that op. "
               "'pol-bisect replay DISPUTE' repeats the referee's work alone. Exit 0 when A is right, 1 when B is.",
               "pol-bisect"};
  CommonOptions common;
  std::string task_path, proof_a, proof_b, out, data_dir, fault_a, fault_b;
  bool against_replay = false;
  app.add_option("TASK", task_path, "Task file")->required();
  app.add_option("PROOF_A", proof_a, "The first side's proof directory")->required();
  app.add_option("PROOF_B", proof_b, "The second side's proof directory (omit with --against-replay)");
  app.add_flag("--against-replay", against_replay, "Side B is an honest re-execution of the task (no second proof)");
  app.add_option("-o,--output", out, "Write the dispute here (binary; JSON with --json)");
  app.add_option("--data-dir", data_dir, "Find the dataset files in this directory (by base name)");
  const std::string sim = "Simulating a side on this machine (how it computes when queried)";
  app.add_option("--fault-a", fault_a, "Side A answers with this fault injected: STEP:OP:ELEMENT, as pol-train --inject-fault")->group(sim);
  app.add_option("--fault-b", fault_b, "Side B answers with this fault injected")->group(sim);
  add_common_options(app, common, kOptThreads | kOptJson | kOptQuiet | kOptForce);

  return run_tool("pol-bisect", argc, argv, app, [&]() -> int {
    apply_common_options(common);
    if (against_replay == !proof_b.empty()) usage_error("give PROOF_B, or --against-replay, not both");
    if (!out.empty()) {
      check_output_path(out, {task_path}, common.force);
      check_output_outside(out, proof_a);
      if (!proof_b.empty()) check_output_outside(out, proof_b);
    }
    LoadedTask task = load_task(task_path);
    if (!task.cfg.exact) usage_error("bisection needs an exact-mode task");
    Dataset data = load_task_dataset(task.cfg, data_dir);
    Party a, b;
    a.dir = proof_a;
    a.man = read_manifest(proof_a, int64_t(task.cfg.steps) * task.cfg.batch, &task.hash);
    if (!fault_a.empty()) a.fault = parse_fault(fault_a, "--fault-a");
    if (against_replay) {
      b.replay = true;
    } else {
      b.dir = proof_b;
      b.man = read_manifest(proof_b, int64_t(task.cfg.steps) * task.cfg.batch, &task.hash);
    }
    if (!fault_b.empty()) b.fault = parse_fault(fault_b, "--fault-b");
    const BisectResult r = bisect(task, data, a, b);

    const Tape tape = tape_for(task.cfg);
    capnp::MallocMessageBuilder mb;
    auto d = mb.initRoot<schema::Dispute>();
    d.setFormatVersion(1);
    d.setTask(task.msg.root());
    d.setTaskHash(as_data(task.hash));
    d.setRootA(as_data(a.man.root()));
    if (!b.replay) d.setRootB(as_data(b.man.root()));
    auto rounds = d.initRounds(unsigned(r.rounds.size()));
    for (size_t i = 0; i < r.rounds.size(); i++) {
      auto x = rounds[unsigned(i)];
      const BisectRound& y = r.rounds[i];
      x.setLevel(to_schema(y.level));
      x.setLo(uint32_t(y.lo < 0 ? 0 : y.lo));
      x.setHi(uint32_t(y.hi));
      x.setProbe(uint32_t(y.probe));
      x.setHashA(as_data(y.a));
      x.setHashB(as_data(y.b));
      x.setAgree(y.agree);
    }
    d.setRoundBound(uint32_t(r.round_bound));
    d.setStep(uint32_t(r.step < 0 ? 0 : r.step));
    d.setOutputHashA(as_data(r.out_a));
    d.setOutputHashB(as_data(r.out_b));
    d.setRefereeHash(as_data(r.referee));
    if (r.op >= 0) {
      const Op& op = tape.ops[size_t(r.op)];
      d.setOpIndex(uint32_t(r.op));
      d.setOpKind(op_name(op.kind));
      d.setOpLayer(op.layer);
      auto names = d.initInputNames(unsigned(op.in.size()));
      auto hashes = d.initInputHashes(unsigned(op.in.size()));
      for (size_t i = 0; i < op.in.size(); i++) {
        names.set(unsigned(i), tape.tensors[size_t(op.in[i])].name);
        hashes.set(unsigned(i), as_data(r.input_hashes[i]));
      }
      store(d.initInputs(unsigned(r.inputs.size())), tape, op.in, r.inputs);
      store(d.initOutputsA(unsigned(r.outs_a.size())), tape, op.out, r.outs_a);
      store(d.initOutputsB(unsigned(r.outs_b.size())), tape, op.out, r.outs_b);
    }
    d.setWinner(r.winner == Ruling::A ? schema::Winner::A : r.winner == Ruling::B ? schema::Winner::B : schema::Winner::NEITHER);
    auto prov = d.initProvenance();
    prov.setProgram("pol-bisect");
    prov.setVersion(version());
    prov.setCommandLine(command_line());

    const std::string text = transcript(d.asReader()) + r.summary + "\n";
    if (!out.empty())
      write_message<schema::Dispute>(out, mb, common.json);
    else if (common.json)
      write_message<schema::Dispute>("-", mb, true);
    else
      std::fputs(text.c_str(), stdout);
    if (!out.empty() && !common.quiet) std::fputs(text.c_str(), stderr);
    if (!r.disputed) return kExitOk;
    note(common, r.summary + ": " + (r.winner == Ruling::A ? "A is right" : r.winner == Ruling::B ? "B is right" : "neither side is right"));
    return r.winner == Ruling::A ? kExitOk : kExitNo;
  });
}
