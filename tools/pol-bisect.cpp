// pol-bisect: pin a training dispute to one op, and the referee's replay of that op.
#include <cstdio>
#include <map>
#include <optional>
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
    encode_tensor(list[unsigned(i)], s.name, schema::DType::F32, shape_of(s), values[i].data());
  }
}

// The transcript as text, for people.
std::string transcript(schema::Dispute::Reader d) {
  std::string t;
  char line[512];
  const std::string rb = d.getRootB().size() ? "proof root " + hex(d.getRootB().begin(), d.getRootB().size()).substr(0, 16) + "…"
                                               : std::string("honest re-execution");
  std::snprintf(line, sizeof line, "dispute over task %s\n  A: proof root %.16s…\n  B: %s\n",
                hex(hash_field(d.getTaskHash())).c_str(), hex(d.getRootA().begin(), d.getRootA().size()).c_str(), rb.c_str());
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

// Answers from a transcript written by the other side; a missing one is Pending.
class TranscriptOracle : public Oracle {
 public:
  TranscriptOracle(int side, const std::map<Query, Hash>& answers, std::optional<OpClaim> claim)
      : side_(side), answers_(answers), claim_(std::move(claim)) {}
  Hash answer(const Query& q) override {
    auto it = answers_.find(q);
    if (it == answers_.end()) throw Pending{side_, q};
    return it->second;
  }
  OpClaim op_claim(int64_t anchor, int64_t step, int op, bool) override {
    if (!claim_) throw Pending{side_, {Level::Op, anchor, step, op}};
    return *claim_;
  }

 private:
  int side_;
  std::map<Query, Hash> answers_;
  std::optional<OpClaim> claim_;
};

// Computes, and remembers what it answered, in order.
class RecordingOracle : public Oracle {
 public:
  explicit RecordingOracle(Oracle& inner) : inner_(inner) {}
  Hash answer(const Query& q) override {
    const Hash h = inner_.answer(q);
    if (!answers.count(q)) order.push_back(q);
    answers[q] = h;
    return h;
  }
  OpClaim op_claim(int64_t anchor, int64_t step, int op, bool with_inputs) override {
    claim = inner_.op_claim(anchor, step, op, with_inputs);
    return *claim;
  }
  std::vector<Query> order;
  std::map<Query, Hash> answers;
  std::optional<OpClaim> claim;

 private:
  Oracle& inner_;
};

Level level_from_schema(schema::BisectLevel l) {
  return l == schema::BisectLevel::CHECKPOINT ? Level::Checkpoint : l == schema::BisectLevel::STEP ? Level::Step : Level::Op;
}

void set_round(schema::Round::Builder x, const BisectRound& y) {
  x.setLevel(to_schema(y.level));
  x.setLo(uint32_t(y.lo < 0 ? 0 : y.lo));
  x.setHi(uint32_t(y.hi));
  x.setProbe(uint32_t(y.probe));
  if (y.a != Hash{}) x.setHashA(as_data(y.a));
  if (y.b != Hash{}) x.setHashB(as_data(y.b));
  x.setAgree(y.agree);
  x.setAnchor(uint32_t(y.anchor));
  x.setStep(uint32_t(y.step));
}

// The dispute file: the task, the transcript, and the op claims known so far.
void fill_dispute(schema::Dispute::Builder d, const LoadedTask& task, const Hash& root_a, const Hash& root_b,
                  const std::vector<BisectRound>& rounds, const BisectResult* r, const std::optional<OpClaim>& ca,
                  const std::optional<OpClaim>& cb, int op, int64_t step) {
  const Tape tape = tape_for(task.cfg);
  d.setFormatVersion(1);
  d.setTask(task.msg.root());
  d.setTaskHash(as_data(task.hash));
  if (root_a != Hash{}) d.setRootA(as_data(root_a));
  if (root_b != Hash{}) d.setRootB(as_data(root_b));
  auto rs = d.initRounds(unsigned(rounds.size()));
  for (size_t i = 0; i < rounds.size(); i++) set_round(rs[unsigned(i)], rounds[i]);
  d.setRoundBound(uint32_t(ceil_log2(int64_t(checkpoint_steps(task.cfg).size())) + ceil_log2(task.cfg.checkpoint_every) +
                           ceil_log2(int64_t(tape.ops.size())) + 2));
  d.setStep(uint32_t(step < 0 ? 0 : step));
  d.setComplete(r != nullptr);
  if (op >= 0) {
    const Op& o = tape.ops[size_t(op)];
    d.setOpIndex(uint32_t(op));
    d.setOpKind(op_name(o.kind));
    d.setOpLayer(o.layer);
    auto names = d.initInputNames(unsigned(o.in.size()));
    for (size_t i = 0; i < o.in.size(); i++) names.set(unsigned(i), tape.tensors[size_t(o.in[i])].name);
    if (ca) {
      auto hashes = d.initInputHashes(unsigned(ca->in_hashes.size()));
      for (size_t i = 0; i < ca->in_hashes.size(); i++) hashes.set(unsigned(i), as_data(ca->in_hashes[i]));
      store(d.initInputs(unsigned(ca->inputs.size())), tape, o.in, ca->inputs);
      d.setOutputHashA(as_data(ca->out));
      store(d.initOutputsA(unsigned(ca->outputs.size())), tape, o.out, ca->outputs);
    }
    if (cb) {
      auto hashes = d.initInputHashesB(unsigned(cb->in_hashes.size()));
      for (size_t i = 0; i < cb->in_hashes.size(); i++) hashes.set(unsigned(i), as_data(cb->in_hashes[i]));
      d.setOutputHashB(as_data(cb->out));
      store(d.initOutputsB(unsigned(cb->outputs.size())), tape, o.out, cb->outputs);
    }
  }
  if (r) {
    if (r->ruled) d.setRefereeHash(as_data(r->referee));
    d.setWinner(!r->ruled ? schema::Winner::NEITHER
                          : r->winner == Ruling::A ? schema::Winner::A
                          : r->winner == Ruling::B ? schema::Winner::B
                                                   : schema::Winner::NEITHER);
  }
  auto prov = d.initProvenance();
  prov.setProgram("pol-bisect");
  prov.setVersion(version());
  prov.setCommandLine(command_line());
}

// Reads an op claim of side A or B from a transcript, if that side has made it.
std::optional<OpClaim> read_claim(schema::Dispute::Reader d, bool side_a, const Tape& tape, const std::string& what) {
  if (!(side_a ? d.hasOutputHashA() : d.hasOutputHashB())) return std::nullopt;
  check_input(d.getOpIndex() < tape.ops.size(), what + ": op index out of range");
  const Op& o = tape.ops[d.getOpIndex()];
  OpClaim c;
  c.out = hash_field(side_a ? d.getOutputHashA() : d.getOutputHashB());
  for (auto h : (side_a ? d.getInputHashes() : d.getInputHashesB())) c.in_hashes.push_back(hash_field(h));
  if (side_a) {
    check_input(d.getInputs().size() == o.in.size(), what + ": wrong number of inputs");
    for (unsigned i = 0; i < d.getInputs().size(); i++) {
      std::vector<float> v;
      decode_tensor(d.getInputs()[i], uint64_t(tape.tensors[size_t(o.in[i])].size()), v, what);
      c.inputs.push_back(std::move(v));
    }
  }
  auto outs = side_a ? d.getOutputsA() : d.getOutputsB();
  check_input(outs.size() == o.out.size(), what + ": wrong number of outputs");
  for (unsigned i = 0; i < outs.size(); i++) {
    std::vector<float> v;
    decode_tensor(outs[i], uint64_t(tape.tensors[size_t(o.out[i])].size()), v, what);
    c.outputs.push_back(std::move(v));
  }
  return c;
}

int run_play(int argc, char** argv) {
  CLI::App app{"One move of a two-party dispute: each side runs this on its own machine with its own proof, and the "
               "two exchange only the transcript file (hashes, and at the end the one op's tensors). Each move "
               "adds this side's answers to the pending questions; when both have answered everything, the "
               "transcript is the dispute, and the referee's ruling is in it (or run 'pol-bisect replay').",
               "pol-bisect play"};
  CommonOptions common;
  std::string task_path, proof, side, transcript_in, out, data_dir, fault_spec;
  app.add_option("TASK", task_path, "Task file")->required();
  app.add_option("PROOF", proof, "This side's proof directory")->required();
  app.add_option("--side", side, "Which side this is: a or b")->required()->check(CLI::IsMember({"a", "b"}));
  app.add_option("--transcript", transcript_in, "The transcript received from the other side (none: start)");
  app.add_option("-o,--output", out, "The transcript to send back")->required();
  app.add_option("--data-dir", data_dir, "Find the dataset files in this directory (by base name)");
  app.add_option("--fault", fault_spec, "This side answers with a fault injected (STEP:OP:ELEMENT), for simulation");
  add_common_options(app, common, kOptThreads | kOptDevice | kOptJson | kOptQuiet | kOptForce);
  return run_tool("pol-bisect", argc, argv, app, [&]() -> int {
    apply_common_options(common, true);
    check_output_path(out, {task_path, transcript_in}, common.force);
    check_output_outside(out, proof);
    LoadedTask task = load_task(task_path);
    if (!task.cfg.exact) usage_error("bisection needs an exact-mode task");
    const Tape tape = tape_for(task.cfg);
    Dataset data = load_task_dataset(task.cfg, data_dir);
    Party me;
    me.dir = proof;
    me.man = read_manifest(proof, int64_t(task.cfg.steps) * task.cfg.batch, &task.hash);
    if (!fault_spec.empty()) me.fault = parse_fault(fault_spec, "--fault");
    check_fault(me.fault, tape, task.cfg.steps, "--fault");
    const bool is_a = side == "a";
    const int other_side = is_a ? 1 : 0;
    std::map<Query, Hash> theirs;
    std::optional<OpClaim> their_claim;
    Hash their_root{};
    if (!transcript_in.empty()) {
      auto msg = Message<schema::Dispute>::read(transcript_in, kTensorFileLimit, "transcript");
      guard_input("transcript '" + transcript_in + "'", [&] {
        auto d = msg.root();
        check_input(hash_field(d.getTaskHash()) == task.hash, "transcript '" + transcript_in + "' is about another task");
        for (auto x : d.getRounds()) {
          auto h = is_a ? x.getHashB() : x.getHashA();
          if (h.size() == 0) continue;
          theirs[{level_from_schema(x.getLevel()), int64_t(x.getAnchor()), int64_t(x.getStep()), int64_t(x.getProbe())}] =
              hash_field(h);
        }
        their_claim = read_claim(d, !is_a, tape, "transcript '" + transcript_in + "'");
        auto root = is_a ? d.getRootB() : d.getRootA();
        if (root.size()) their_root = hash_field(root);
      });
    }
    LocalOracle local(task, data, me);
    if (common.device == DeviceKind::Cuda) local.use_device(make_cuda_executor(tape, false));
    RecordingOracle mine(local);
    TranscriptOracle other(other_side, theirs, their_claim);
    Oracle& A = is_a ? static_cast<Oracle&>(mine) : other;
    Oracle& B = is_a ? static_cast<Oracle&>(other) : mine;
    const Hash my_root = me.man.root();
    capnp::MallocMessageBuilder mb;
    auto d = mb.initRoot<schema::Dispute>();
    try {
      const BisectResult r = bisect(task, &data, A, B);
      const auto ca = is_a ? mine.claim : their_claim;
      const auto cb = is_a ? their_claim : mine.claim;
      fill_dispute(d, task, is_a ? my_root : their_root, is_a ? their_root : my_root, r.rounds, &r,
                   r.op >= 0 ? ca : std::nullopt, r.op >= 0 ? cb : std::nullopt, r.op, r.step);
      write_message<schema::Dispute>(out, mb, common.json);
      if (!common.quiet) std::fputs((transcript(d.asReader()) + r.summary + "\n").c_str(), stderr);
      if (common.json)
        std::printf("{\"complete\": true, \"disputed\": %s, \"winner\": \"%s\"}\n", r.disputed ? "true" : "false",
                    winner_name(d.asReader().getWinner()));
      if (!r.disputed) return kExitOk;
      return r.ruled && r.winner == Ruling::A ? kExitOk : kExitNo;
    } catch (const Pending& p) {
      // Send back every answer known so far: ours (just computed) and theirs.
      std::vector<BisectRound> rounds;
      for (const Query& q : mine.order) {
        BisectRound x{q.level, 0, 0, q.probe, {}, {}, false, q.anchor, q.step};
        const Hash h = mine.answers[q];
        auto t = theirs.find(q);
        (is_a ? x.a : x.b) = h;
        if (t != theirs.end()) (is_a ? x.b : x.a) = t->second;
        x.agree = x.a == x.b;
        rounds.push_back(x);
      }
      const bool op_stage = p.q.level == Level::Op && mine.claim.has_value();
      fill_dispute(d, task, is_a ? my_root : their_root, is_a ? their_root : my_root, rounds, nullptr,
                   op_stage && is_a ? mine.claim : std::nullopt, op_stage && !is_a ? mine.claim : std::nullopt,
                   op_stage ? int(p.q.probe) : -1, p.q.step);
      write_message<schema::Dispute>(out, mb, common.json);
      note(common, "waiting for side " + std::string(p.side == 0 ? "a" : "b") + ": send it '" + out + "'");
      if (common.json) std::printf("{\"complete\": false, \"waiting_for\": \"%s\"}\n", p.side == 0 ? "a" : "b");
      return kExitOk;
    }
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "replay") == 0) return run_replay(argc - 1, argv + 1);
  if (argc > 1 && std::strcmp(argv[1], "play") == 0) return run_play(argc - 1, argv + 1);
  CLI::App app{"Pin a disagreement between two proofs of one task to a single op: bisect over the checkpoints, then "
               "the steps of the first disputed interval, then the ops of the first disputed step, until the first op "
               "whose inputs both sides agree on and whose outputs differ; the referee recomputes that op. "
               "'pol-bisect replay DISPUTE' repeats the referee's work alone; 'pol-bisect play' is one side's move "
               "when the two sides are on different machines. Exit 0 when A is right, 1 when B is.",
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
    if (!task.cfg.exact) usage_error("bisection needs an exact-mode task");
    Dataset data = load_task_dataset(task.cfg, data_dir);
    Party a, b;
    a.dir = proof_a;
    a.man = read_manifest(proof_a, int64_t(task.cfg.steps) * task.cfg.batch, &task.hash);
    if (!fault_a.empty()) a.fault = parse_fault(fault_a, "--fault-a");
    if (against_replay) {
      b.replay = true;
      b.agreed_source = &a;
    } else {
      b.dir = proof_b;
      b.man = read_manifest(proof_b, int64_t(task.cfg.steps) * task.cfg.batch, &task.hash);
    }
    if (!fault_b.empty()) b.fault = parse_fault(fault_b, "--fault-b");
    {
      const Tape tape = tape_for(task.cfg);
      check_fault(a.fault, tape, task.cfg.steps, "--fault-a");
      check_fault(b.fault, tape, task.cfg.steps, "--fault-b");
    }
    LocalOracle oa(task, data, a), ob(task, data, b);
    if (common.device == DeviceKind::Cuda) {
      oa.use_device(make_cuda_executor(tape_for(task.cfg), false));
      ob.use_device(make_cuda_executor(tape_for(task.cfg), false));
    }
    const BisectResult r = bisect(task, &data, oa, ob);

    capnp::MallocMessageBuilder mb;
    auto d = mb.initRoot<schema::Dispute>();
    fill_dispute(d, task, a.man.root(), b.replay ? Hash{} : b.man.root(), r.rounds, &r,
                 r.op >= 0 ? std::optional<OpClaim>(r.claim_a) : std::nullopt,
                 r.op >= 0 ? std::optional<OpClaim>(r.claim_b) : std::nullopt, r.op, r.step);
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
