#include "bisect/dispute.hpp"

#include <cstdio>

#include "core/error.hpp"
#include "io/message.hpp"
#include "io/provenance.hpp"
#include "io/tensor_blob.hpp"
#include "io/version.hpp"

namespace pw {

namespace {

schema::BisectLevel to_schema(Level l) {
  return l == Level::Checkpoint ? schema::BisectLevel::CHECKPOINT
                                : l == Level::Step ? schema::BisectLevel::STEP : schema::BisectLevel::OP;
}

void store(capnp::List<schema::Tensor>::Builder list, const Tape& tape, const std::vector<int>& ids,
           const std::vector<std::vector<float>>& values) {
  for (size_t i = 0; i < values.size(); i++) {
    const TensorSpec& s = tape.tensors[size_t(ids[i])];
    encode_tensor(list[unsigned(i)], s.name, schema::DType::F32, shape_of(s), values[i].data());
  }
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

void set_hashes(capnp::List<capnp::Data>::Builder list, const std::vector<Hash>& hashes) {
  for (size_t i = 0; i < hashes.size(); i++) list.set(unsigned(i), as_data(hashes[i]));
}

}  // namespace

DisputeRecord dispute_record(const BisectResult& r, const Hash& root_a, const Hash& root_b) {
  DisputeRecord rec;
  rec.root_a = root_a;
  rec.root_b = root_b;
  rec.rounds = r.rounds;
  rec.step = r.step;
  rec.op = r.op;
  if (r.op >= 0) rec.claim_a = r.claim_a, rec.claim_b = r.claim_b;
  rec.result = &r;
  return rec;
}

void write_dispute(schema::Dispute::Builder d, const LoadedTask& task, const DisputeRecord& r) {
  const Tape tape = tape_for(task.cfg);
  d.setFormatVersion(current_version(FileKind::Dispute));
  d.setTask(task.msg.root());
  d.setTaskHash(as_data(task.hash));
  if (r.root_a != Hash{}) d.setRootA(as_data(r.root_a));
  if (r.root_b != Hash{}) d.setRootB(as_data(r.root_b));
  auto rs = d.initRounds(unsigned(r.rounds.size()));
  for (size_t i = 0; i < r.rounds.size(); i++) set_round(rs[unsigned(i)], r.rounds[i]);
  d.setRoundBound(uint32_t(round_bound(task.cfg)));
  d.setStep(uint32_t(r.step < 0 ? 0 : r.step));
  d.setComplete(r.result != nullptr);
  if (r.op >= 0) {
    const Op& o = tape.ops[size_t(r.op)];
    d.setOpIndex(uint32_t(r.op));
    d.setOpKind(op_name(o.kind));
    d.setOpLayer(o.layer);
    auto names = d.initInputNames(unsigned(o.in.size()));
    for (size_t i = 0; i < o.in.size(); i++) names.set(unsigned(i), tape.tensors[size_t(o.in[i])].name);
    if (const auto& ca = r.claim_a) {
      set_hashes(d.initInputHashes(unsigned(ca->in_hashes.size())), ca->in_hashes);
      store(d.initInputs(unsigned(ca->inputs.size())), tape, o.in, ca->inputs);
      d.setOutputHashA(as_data(ca->out));
      store(d.initOutputsA(unsigned(ca->outputs.size())), tape, o.out, ca->outputs);
    }
    if (const auto& cb = r.claim_b) {
      set_hashes(d.initInputHashesB(unsigned(cb->in_hashes.size())), cb->in_hashes);
      d.setOutputHashB(as_data(cb->out));
      store(d.initOutputsB(unsigned(cb->outputs.size())), tape, o.out, cb->outputs);
    }
  }
  if (const BisectResult* res = r.result) {
    if (res->ruled) d.setRefereeHash(as_data(res->referee));
    d.setWinner(!res->ruled                   ? schema::Winner::NEITHER
                : res->winner == Ruling::A ? schema::Winner::A
                : res->winner == Ruling::B ? schema::Winner::B
                                           : schema::Winner::NEITHER);
  }
  set_provenance(d.initProvenance());
}

Level level_of(schema::BisectLevel l) {
  return l == schema::BisectLevel::CHECKPOINT ? Level::Checkpoint : l == schema::BisectLevel::STEP ? Level::Step : Level::Op;
}

const char* winner_name(schema::Winner w) {
  return w == schema::Winner::A ? "A" : w == schema::Winner::B ? "B" : "neither";
}

std::string dispute_text(schema::Dispute::Reader d) {
  std::string t;
  char line[512];
  const std::string rb = d.getRootB().size() ? "proof root " + hex_of(d.getRootB()).substr(0, 16) + "…"
                                             : std::string("honest re-execution");
  std::snprintf(line, sizeof line, "dispute over task %s\n  A: proof root %.16s…\n  B: %s\n", hex_of(d.getTaskHash()).c_str(),
                hex_of(d.getRootA()).c_str(), rb.c_str());
  t += line;
  int n = 0;
  for (auto r : d.getRounds()) {
    const char* lvl = r.getLevel() == schema::BisectLevel::CHECKPOINT ? "checkpoint"
                      : r.getLevel() == schema::BisectLevel::STEP     ? "step"
                                                                      : "op";
    std::snprintf(line, sizeof line, "  round %2d  %-10s [%u, %u] probe %-6u A %.12s  B %.12s  %s\n", ++n, lvl, r.getLo(),
                  r.getHi(), r.getProbe(), hex_of(r.getHashA()).c_str(), hex_of(r.getHashB()).c_str(),
                  r.getAgree() ? "agree" : "DIFFER");
    t += line;
  }
  std::snprintf(line, sizeof line, "  %d rounds (bound %u)\n", n, d.getRoundBound());
  t += line;
  if (d.getOpKind().size()) {
    std::snprintf(line, sizeof line, "pinpointed: step %u, op %u (%s, layer %d)\n  outputs A %.16s…  B %.16s…  referee %.16s…\n",
                  d.getStep(), d.getOpIndex(), d.getOpKind().cStr(), d.getOpLayer(), hex_of(d.getOutputHashA()).c_str(),
                  hex_of(d.getOutputHashB()).c_str(), hex_of(d.getRefereeHash()).c_str());
    t += line;
  }
  t += std::string("winner: ") + winner_name(d.getWinner()) + "\n";
  return t;
}

Refereed referee_dispute(schema::Dispute::Reader d, const std::string& what, const std::string& data_dir) {
  check_version(FileKind::Dispute, d.getFormatVersion(), what);
  check_input(d.getComplete(), what + ": the bisection is not complete (a 'pol-bisect play' transcript in progress)");
  TaskConfig cfg;
  try {
    cfg = task_config(d.getTask());
  } catch (const Error& e) {
    bad_input(what + ": embedded " + e.what());
  }
  Refereed r;
  r.task = task_hash(d.getTask());
  check_input(r.task == hash_field(d.getTaskHash()), what + ": the embedded task does not match its hash");
  check_input(d.getOpKind().size() > 0, what + ": no op was pinpointed (the dispute ended at a checkpoint or a step); "
                                               "the referee recomputes only an op");
  r.root_a = hash_field(d.getRootA());
  r.has_b = d.getRootB().size() > 0;
  if (r.has_b) r.root_b = hash_field(d.getRootB());
  const Tape tape = tape_for(cfg);
  check_input(d.getStep() < cfg.steps, what + ": step out of range");
  check_input(d.getOpIndex() < tape.ops.size(), what + ": op index out of range");
  const Op& op = tape.ops[d.getOpIndex()];
  check_input(std::string(d.getOpKind().cStr()) == op_name(op.kind),
              what + ": op " + std::to_string(d.getOpIndex()) + " is " + op_name(op.kind) + ", not " + d.getOpKind().cStr());
  r.step = d.getStep();
  r.op = d.getOpIndex();
  r.op_kind = op_name(op.kind);
  auto hashes = d.getInputHashes();
  auto inputs = d.getInputs();
  check_input(hashes.size() == op.in.size() && inputs.size() == op.in.size(),
              what + ": " + std::to_string(inputs.size()) + " inputs, " + op_name(op.kind) + " takes " + std::to_string(op.in.size()));
  std::vector<std::vector<float>> in(op.in.size());
  for (unsigned i = 0; i < inputs.size(); i++) {
    const int64_t size = tape.tensors[size_t(op.in[i])].size();
    decode_tensor(inputs[i], uint64_t(size), in[i], what);
    check_input(int64_t(in[i].size()) == size, what + ": input " + std::to_string(i) + " has the wrong shape");
    check_input(tensor_content_hash(in[i].data(), in[i].size() * 4) == hash_field(hashes[i]),
                what + ": input " + std::to_string(i) + " ('" + inputs[i].getName().cStr() + "') does not match its agreed hash");
  }
  Dataset data;
  const bool need_data = op.kind == OpKind::LoadBatch || op.kind == OpKind::LoadWindows;
  if (need_data) data = load_task_dataset(cfg, data_dir);
  r.referee = referee_op(cfg, need_data ? &data : nullptr, r.step, int(r.op), in);
  r.out_a = hash_field(d.getOutputHashA());
  r.out_b = hash_field(d.getOutputHashB());
  r.right = r.referee == r.out_a ? Ruling::A : r.referee == r.out_b ? Ruling::B : Ruling::Neither;
  return r;
}

}  // namespace pw
