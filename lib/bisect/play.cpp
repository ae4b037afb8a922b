#include "bisect/play.hpp"

#include "core/error.hpp"
#include "io/message.hpp"
#include "io/tensor_blob.hpp"
#include "io/version.hpp"

namespace pw {

Hash TranscriptOracle::answer(const Query& q) {
  auto it = answers_.find(q);
  if (it == answers_.end()) throw Pending{side_, q};
  return it->second;
}

OpClaim TranscriptOracle::op_claim(int64_t anchor, int64_t step, int op, bool) {
  if (!claim_) throw Pending{side_, {Level::Op, anchor, step, op}};
  return *claim_;
}

Hash RecordingOracle::answer(const Query& q) {
  const Hash h = inner_.answer(q);
  if (!answers.count(q)) order.push_back(q);
  answers[q] = h;
  return h;
}

OpClaim RecordingOracle::op_claim(int64_t anchor, int64_t step, int op, bool with_inputs) {
  claim = inner_.op_claim(anchor, step, op, with_inputs);
  return *claim;
}

namespace {

std::vector<float> decoded(schema::Tensor::Reader t, const TensorSpec& spec, const std::string& what) {
  std::vector<float> v;
  decode_tensor(t, uint64_t(spec.size()), v, what);
  return v;
}

// A side's op claim, if that side has made it (side A's carries the op's inputs).
std::optional<OpClaim> read_claim(schema::Dispute::Reader d, bool side_a, const Tape& tape, const std::string& what) {
  if (!(side_a ? d.hasOutputHashA() : d.hasOutputHashB())) return std::nullopt;
  check_input(d.getOpIndex() < tape.ops.size(), what + ": op index out of range");
  const Op& o = tape.ops[d.getOpIndex()];
  OpClaim c;
  c.out = hash_field(side_a ? d.getOutputHashA() : d.getOutputHashB());
  for (auto h : (side_a ? d.getInputHashes() : d.getInputHashesB())) c.in_hashes.push_back(hash_field(h));
  if (side_a) {
    check_input(d.getInputs().size() == o.in.size(), what + ": wrong number of inputs");
    for (unsigned i = 0; i < d.getInputs().size(); i++)
      c.inputs.push_back(decoded(d.getInputs()[i], tape.tensors[size_t(o.in[i])], what));
  }
  auto outs = side_a ? d.getOutputsA() : d.getOutputsB();
  check_input(outs.size() == o.out.size(), what + ": wrong number of outputs");
  for (unsigned i = 0; i < outs.size(); i++) c.outputs.push_back(decoded(outs[i], tape.tensors[size_t(o.out[i])], what));
  return c;
}

}  // namespace

SideTranscript read_side(schema::Dispute::Reader d, const LoadedTask& task, bool side_a, const std::string& what) {
  check_version(FileKind::Dispute, d.getFormatVersion(), what);
  check_input(hash_field(d.getTaskHash()) == task.hash, what + " is about another task");
  SideTranscript s;
  for (auto x : d.getRounds()) {
    auto h = side_a ? x.getHashA() : x.getHashB();
    if (h.size() == 0) continue;
    s.answers[{level_of(x.getLevel()), int64_t(x.getAnchor()), int64_t(x.getStep()), int64_t(x.getProbe())}] = hash_field(h);
  }
  s.claim = read_claim(d, side_a, tape_for(task.cfg), what);
  auto root = side_a ? d.getRootA() : d.getRootB();
  if (root.size()) s.root = hash_field(root);
  return s;
}

Move play_move(const LoadedTask& task, const Dataset& data, Oracle& local, const Hash& my_root, bool side_a,
               const SideTranscript& theirs, schema::Dispute::Builder out) {
  RecordingOracle mine(local);
  TranscriptOracle other(side_a ? 1 : 0, theirs.answers, theirs.claim);
  Oracle& a = side_a ? static_cast<Oracle&>(mine) : other;
  Oracle& b = side_a ? static_cast<Oracle&>(other) : mine;
  const Hash root_a = side_a ? my_root : theirs.root, root_b = side_a ? theirs.root : my_root;
  Move m;
  try {
    m.result = bisect(task, &data, a, b);
    m.complete = true;
    write_dispute(out, task, dispute_record(m.result, root_a, root_b));
  } catch (const Pending& p) {
    // Send back every answer known so far: ours (just computed) and theirs.
    DisputeRecord rec;
    rec.root_a = root_a;
    rec.root_b = root_b;
    for (const Query& q : mine.order) {
      BisectRound x{q.level, 0, 0, q.probe, {}, {}, false, q.anchor, q.step};
      (side_a ? x.a : x.b) = mine.answers.at(q);
      auto t = theirs.answers.find(q);
      if (t != theirs.answers.end()) (side_a ? x.b : x.a) = t->second;
      x.agree = x.a == x.b;
      rec.rounds.push_back(x);
    }
    // At the op stage our claim goes with the questions it answers.
    if (p.q.level == Level::Op && mine.claim) {
      rec.op = int(p.q.probe);
      (side_a ? rec.claim_a : rec.claim_b) = mine.claim;
    }
    rec.step = p.q.step;
    write_dispute(out, task, rec);
    m.waiting_for = p.side;
  }
  return m;
}

}  // namespace pw
