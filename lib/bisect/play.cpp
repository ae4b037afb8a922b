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

std::optional<TranscriptOracle::State> TranscriptOracle::claimed_state(int64_t anchor, int64_t index) {
  if (!claimed_) throw Pending{side_, {Level::Checkpoint, anchor, -1, index}};
  return claimed_;
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

SideTranscript read_side(schema::Dispute::Reader d, const LoadedTask& task, bool side_a, const std::string& what,
                         const LoadedProfile* profile) {
  check_version(FileKind::Dispute, d.getFormatVersion(), what);
  check_input(hash_field(d.getTaskHash()) == task.hash, what + " is about another task");
  if (profile)
    check_input(d.hasProfile() && canonical_hash(d.getProfile()) == profile->hash,
                what + ": it is not ruled by this side's profile (the two sides must name the same --profile)");
  SideTranscript s;
  for (auto x : d.getRounds()) {
    auto h = side_a ? x.getHashA() : x.getHashB();
    if (h.size() == 0) continue;
    s.answers[{level_of(x.getLevel()), int64_t(x.getAnchor()), int64_t(x.getStep()), int64_t(x.getProbe())}] = hash_field(h);
  }
  const Tape tape = tape_for(task.cfg);
  s.claim = read_claim(d, side_a, tape, what);
  if (side_a ? d.hasClaimedA() : d.hasClaimedB()) {
    const std::vector<int> ids = checkpoint_tensors(tape);
    auto list = side_a ? d.getClaimedA() : d.getClaimedB();
    check_input(list.size() == ids.size(), what + ": a claimed state of " + std::to_string(list.size()) + " tensors");
    s.claimed.emplace();
    for (unsigned i = 0; i < list.size(); i++) s.claimed->push_back(decoded(list[i], tape.tensors[size_t(ids[i])], what));
  }
  auto root = side_a ? d.getRootA() : d.getRootB();
  check_input(root.size() == 32, what + ": side " + (side_a ? "A" : "B") + " has no proof root");
  check_input(side_a ? d.hasManifestA() : d.hasManifestB(), what + ": side " + (side_a ? "A" : "B") + "'s manifest is missing");
  s.commitment = received_commitment(side_a ? d.getManifestA() : d.getManifestB(), hash_field(root), task, what);
  for (auto x : d.getRounds()) {
    BisectRound y{level_of(x.getLevel()), x.getLo(), x.getHi(), x.getProbe(), {}, {}, x.getAgree(), x.getAnchor(), x.getStep(), {}, {}};
    if (x.getHashA().size()) y.a = hash_field(x.getHashA());
    if (x.getHashB().size()) y.b = hash_field(x.getHashB());
    for (auto p : x.getProofA()) y.proof_a.push_back(hash_field(p));
    for (auto p : x.getProofB()) y.proof_b.push_back(hash_field(p));
    s.rounds.push_back(std::move(y));
  }
  s.forfeit_at = unproven_answer(d, side_a, checkpoint_steps(task.cfg).size());
  return s;
}

Move play_move(const LoadedTask& task, const Dataset& data, Oracle& local, const Commitment& mine_c, bool side_a,
               const SideTranscript& theirs, schema::Dispute::Builder out, const LoadedProfile* profile,
               const Kernel& kernel) {
  RecordingOracle mine(local);
  TranscriptOracle other(side_a ? 1 : 0, theirs.answers, theirs.claim, theirs.claimed);
  // Fast mode: the other side's kernel is the one its manifest declares (the default until it has sent one).
  FastReferee referee{profile, kernel, kernel};
  if (theirs.commitment.manifest) {
    auto env = theirs.commitment.manifest->getRoot<schema::Manifest>().getEnvironment();
    (side_a ? referee.b : referee.a) = declared_kernel(env.getFastPanel(), env.getThreads());
  }
  const FastReferee* fast = profile ? &referee : nullptr;
  Oracle& a = side_a ? static_cast<Oracle&>(mine) : other;
  Oracle& b = side_a ? static_cast<Oracle&>(other) : mine;
  const Commitment& ca = side_a ? mine_c : theirs.commitment;
  const Commitment& cb = side_a ? theirs.commitment : mine_c;
  Move m;
  if (theirs.forfeit_at >= 0) {
    // Their answer is not bound to their own root: they lose by it, whatever the rest.
    const char* who = side_a ? "B" : "A";
    m.complete = true;
    m.result.disputed = true;
    m.result.rounds = theirs.rounds;
    m.result.ruled = true;
    m.result.winner = side_a ? Ruling::A : Ruling::B;
    m.result.summary = std::string("side ") + who + " forfeits";
    m.result.basis = std::string("side ") + who + "'s answer at checkpoint " + std::to_string(theirs.forfeit_at) +
                     " does not match its own root (its Merkle inclusion proof fails): it loses by itself";
    write_dispute(out, task, dispute_record(m.result, ca, cb, fast));
    return m;
  }
  try {
    m.result = bisect(task, &data, a, b, fast);
    m.complete = true;
    write_dispute(out, task, dispute_record(m.result, ca, cb, fast));
  } catch (const Pending& p) {
    // Send back every answer known so far: ours (just computed, with their inclusion
    // paths) and theirs (with the paths they sent).
    DisputeRecord rec;
    rec.a = ca;
    rec.b = cb;
    rec.fast = fast;
    (side_a ? rec.claimed_a : rec.claimed_b) = mine.claimed;  // fast mode: the state claimed at a step-level ruling
    std::map<Query, const BisectRound*> sent;
    for (const BisectRound& x : theirs.rounds) sent[{x.level, x.anchor, x.step, x.probe}] = &x;
    for (const Query& q : mine.order) {
      BisectRound x{q.level, 0, 0, q.probe, {}, {}, false, q.anchor, q.step, {}, {}};
      (side_a ? x.a : x.b) = mine.answers.at(q);
      auto t = theirs.answers.find(q);
      if (t != theirs.answers.end()) (side_a ? x.b : x.a) = t->second;
      auto r = sent.find(q);
      if (r != sent.end()) (side_a ? x.proof_b : x.proof_a) = side_a ? r->second->proof_b : r->second->proof_a;
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
