#include "bisect/dispute.hpp"

#include <cstdio>

#include "core/error.hpp"
#include "core/program.hpp"
#include "io/message.hpp"
#include "io/provenance.hpp"
#include "io/tensor_blob.hpp"
#include "io/version.hpp"
#include "proof/proof.hpp"

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

void set_hashes(capnp::List<capnp::Data>::Builder list, const std::vector<Hash>& hashes) {
  for (size_t i = 0; i < hashes.size(); i++) list.set(unsigned(i), as_data(hashes[i]));
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
  if (!y.proof_a.empty()) set_hashes(x.initProofA(unsigned(y.proof_a.size())), y.proof_a);
  if (!y.proof_b.empty()) set_hashes(x.initProofB(unsigned(y.proof_b.size())), y.proof_b);
}

// The tensors the step's load_batch ops write, in op order (StepEvidence::batch).
std::vector<int> batch_tensors(const Tape& tape) {
  std::vector<int> ids;
  for (const Op& op : tape.ops)
    if (op.kind == OpKind::LoadBatch) ids.insert(ids.end(), op.out.begin(), op.out.end());
  return ids;
}

std::vector<std::vector<float>> decoded(capnp::List<schema::Tensor>::Reader list, const Tape& tape,
                                        const std::vector<int>& ids, const std::string& what, const char* field) {
  check_input(list.size() == ids.size(), what + ": " + field + " holds " + std::to_string(list.size()) +
                                             " tensors, the task's " + std::to_string(ids.size()));
  std::vector<std::vector<float>> out(ids.size());
  for (unsigned i = 0; i < list.size(); i++) {
    const int64_t size = tape.tensors[size_t(ids[i])].size();
    decode_tensor(list[i], uint64_t(size), out[i], what);
    check_input(int64_t(out[i].size()) == size, what + ": " + field + " tensor " + std::to_string(i) + " has the wrong shape");
  }
  return out;
}

// What the rounds say about a step-level dispute at `step`: the state hash both sides
// gave for it, the two claims after it, and the op chain both agreed on for it.
struct StepRounds {
  std::optional<Hash> before, chain;
  std::optional<std::pair<Hash, Hash>> claims;
};

StepRounds step_rounds(schema::Dispute::Reader d, const std::vector<int64_t>& ckpt, int64_t nops, int64_t step,
                       const std::string& what) {
  StepRounds s;
  auto at = [&](schema::Round::Reader x, int64_t t) {
    return (x.getLevel() == schema::BisectLevel::STEP && x.getProbe() == t) ||
           (x.getLevel() == schema::BisectLevel::CHECKPOINT && x.getProbe() < ckpt.size() && ckpt[x.getProbe()] == t);
  };
  auto once = [&](auto& slot, auto value, const char* name) {
    check_input(!slot || *slot == value, what + ": the rounds give two different " + std::string(name));
    slot = value;
  };
  for (auto x : d.getRounds()) {
    if (x.getHashA().size() != 32 || x.getHashB().size() != 32) continue;
    const Hash a = hash_field(x.getHashA()), b = hash_field(x.getHashB());
    if (at(x, step) && a == b) once(s.before, a, "agreed states before the step");
    if (at(x, step + 1) && a != b) once(s.claims, std::make_pair(a, b), "claims after the step");
    if (x.getLevel() == schema::BisectLevel::OP && x.getStep() == step && x.getProbe() == nops - 1 && a == b)
      once(s.chain, a, "agreed op chains of the step");
  }
  return s;
}

// The profile and the sides' kernels a fast-mode dispute carries (format version 3).
FastReferee fast_referee(schema::Dispute::Reader d, LoadedProfile& profile, const std::string& what) {
  check_input(d.getFormatVersion() >= 3 && d.hasProfile(),
              what + ": a fast-mode dispute without the profile its ruling used (format version 3 carries it)");
  capnp::MallocMessageBuilder mb;
  mb.setRoot(d.getProfile());
  profile = parse_profile(to_binary(mb), "embedded in " + what);
  check_profile_for(profile, d.getTask(), what + ": its profile");
  check_input(d.hasKernelA() && d.hasKernelB(), what + ": a fast-mode dispute without the sides' declared kernels");
  FastReferee f;
  f.profile = &profile;
  for (auto [k, x] : {std::pair{d.getKernelA(), &f.a}, std::pair{d.getKernelB(), &f.b}}) {
    check_input(k.getPanel() >= 1 && k.getPanel() <= (1u << 20) && k.getThreads() >= 1 && k.getThreads() <= 4096,
                what + ": a side's declared kernel is out of range (panel 1 to 2^20, threads 1 to 4096)");
    x->panel = int(k.getPanel());
    x->threads = int(k.getThreads());
  }
  return f;
}

// The step-level ruling (proofwork(7), DISPUTES): step `r.step` recomputed from the state the
// file carries, which must be the agreed one, with the batch it carries, bound by the chain;
// in fast mode under side A's kernel (both sides traced the step alike), the claimed states
// it carries held to the profile's thresholds.
void referee_step_dispute(schema::Dispute::Reader d, const TaskConfig& cfg, const Tape& tape, Refereed& r,
                          const std::string& what, const FastReferee* fast) {
  const std::vector<int64_t> ckpt = checkpoint_steps(cfg);
  const StepRounds s = step_rounds(d, ckpt, int64_t(tape.ops.size()), r.step, what);
  const std::string at = " step " + std::to_string(r.step);
  check_input(s.claims.has_value(), what + ": no round shows the two sides' differing claims after" + at);
  check_input(s.chain.has_value(), what + ": no round shows both sides tracing" + at + " alike");
  Hash agreed{};
  if (s.before) {
    agreed = *s.before;
  } else {
    check_input(r.step == 0, what + ": no round shows both sides agreeing on the state before" + at);
    Workspace init(tape);
    init_state(cfg, tape, init);  // both sides start from the seed-derived state
    agreed = state_hash(tape, init, 0);
  }
  const auto state = decoded(d.getStateBefore(), tape, checkpoint_tensors(tape), what, "stateBefore");
  const auto batch = decoded(d.getBatch(), tape, batch_tensors(tape), what, "batch");
  Hash before{};
  const ThreadsGuard guard;
  std::optional<Compute> compute;
  if (fast) use_kernel_threads(fast->a.threads, tape), compute = fast->a.compute(cfg);
  std::vector<std::vector<float>> after;
  const StepTrace t = referee_step(cfg, r.step, state, batch, &before, compute ? &*compute : nullptr, &after);
  check_input(before == agreed, what + ": its stateBefore is not the state both sides agreed on before" + at);
  check_input(t.chain.back() == *s.chain, what + ": recomputed from its stateBefore and batch," + at +
                                              " does not give the op chain both sides agreed on (a batch not the one they used?)");
  r.step_level = true;
  r.referee = t.end_state;
  r.out_a = s.claims->first;
  r.out_b = s.claims->second;
  r.basis = "step " + std::to_string(r.step) + " recomputed from the agreed state before it; the state hash after it "
            "must equal a side's claim bit for bit (exact mode)";
  r.right = r.referee == r.out_a ? Ruling::A : r.referee == r.out_b ? Ruling::B : Ruling::Neither;
  if (!fast) return;
  const auto ca = decoded(d.getClaimedA(), tape, checkpoint_tensors(tape), what, "claimedA");
  const auto cb = decoded(d.getClaimedB(), tape, checkpoint_tensors(tape), what, "claimedB");
  check_input(state_hash_of(tape, ca, r.step + 1) == r.out_a, what + ": claimedA is not the state side A claimed after" + at);
  check_input(state_hash_of(tape, cb, r.step + 1) == r.out_b, what + ": claimedB is not the state side B claimed after" + at);
  r.fast = rule_fast_step(tape, *fast, after, ca, cb);
  r.right = r.fast->ruling();
  r.basis = fast_basis(*r.fast, *fast, "step " + std::to_string(r.step) + ", from the agreed state before it,");
}


}  // namespace

Commitment commitment_of(const Party& p) {
  Commitment c;
  if (p.replay) return c;
  c.root = p.man.root();
  for (const auto& x : p.man.checkpoints) c.leaves.push_back(x.state);
  auto msg = Message<schema::Manifest>::read(join_path(p.dir, kManifestName), kTensorFileLimit, "manifest");
  c.manifest = std::make_shared<capnp::MallocMessageBuilder>();
  c.manifest->setRoot(msg.root());
  return c;
}

Commitment received_commitment(schema::Manifest::Reader m, const Hash& root, const LoadedTask& task, const std::string& what) {
  check_version(FileKind::Manifest, m.getFormatVersion(), what + ": manifest");
  check_input(m.getTaskHash().size() == 32 && hash_field(m.getTaskHash()) == task.hash, what + ": its manifest is of another task");
  Commitment c;
  c.root = root;
  for (auto x : m.getCheckpoints()) {
    check_input(x.getStateHash().size() == 32, what + ": a checkpoint hash in its manifest is not 32 bytes");
    c.leaves.push_back(hash_field(x.getStateHash()));
  }
  check_input(c.leaves.size() == checkpoint_steps(task.cfg).size(), what + ": its manifest lists " +
                                                                       std::to_string(c.leaves.size()) + " checkpoints, the task " +
                                                                       std::to_string(checkpoint_steps(task.cfg).size()));
  check_input(merkle_root(c.leaves) == root, what + ": its manifest's Merkle root is not the side's root");
  c.manifest = std::make_shared<capnp::MallocMessageBuilder>();
  c.manifest->setRoot(m);
  return c;
}

int64_t unproven_answer(schema::Dispute::Reader d, bool side_a, size_t checkpoints) {
  auto root = side_a ? d.getRootA() : d.getRootB();
  if (root.size() == 0 || d.getFormatVersion() < 2) return -1;
  if (root.size() != 32) return 0;
  for (auto x : d.getRounds()) {
    if (x.getLevel() != schema::BisectLevel::CHECKPOINT) continue;
    auto h = side_a ? x.getHashA() : x.getHashB();
    if (h.size() == 0) continue;  // not answered yet
    if (h.size() != 32) return x.getProbe();
    std::vector<Hash> path;
    for (auto p : (side_a ? x.getProofA() : x.getProofB())) {
      if (p.size() != 32) return x.getProbe();
      path.push_back(hash_field(p));
    }
    const auto implied = merkle_root_from_path(hash_field(h), x.getProbe(), checkpoints, path);
    if (!implied || *implied != hash_field(root)) return x.getProbe();
  }
  return -1;
}

DisputeRecord dispute_record(const BisectResult& r, Commitment a, Commitment b, const FastReferee* fast) {
  DisputeRecord rec;
  rec.fast = fast;
  rec.a = std::move(a);
  rec.b = std::move(b);
  rec.rounds = r.rounds;
  rec.step = r.step;
  rec.op = r.op;
  if (r.op >= 0) rec.claim_a = r.claim_a, rec.claim_b = r.claim_b;
  rec.result = &r;
  return rec;
}

void write_dispute(schema::Dispute::Builder d, const LoadedTask& task, const DisputeRecord& r) {
  const Tape tape = tape_for(task.cfg);
  // An exact-mode dispute keeps version 2's layout, and says so, so that builds reading 1
  // to 2 still read it; the fast-mode fields are version 3's.
  d.setFormatVersion(r.fast ? current_version(FileKind::Dispute) : 2);
  if (const FastReferee* f = r.fast) {
    d.setProfile(f->profile->msg.root());
    for (auto [k, x] : {std::pair{d.initKernelA(), f->a}, std::pair{d.initKernelB(), f->b}}) {
      k.setPanel(uint32_t(x.panel));
      k.setThreads(uint32_t(x.threads));
    }
  }
  d.setTask(task.msg.root());
  d.setTaskHash(as_data(task.hash));
  if (r.a.root != Hash{}) d.setRootA(as_data(r.a.root));
  if (r.b.root != Hash{}) d.setRootB(as_data(r.b.root));
  if (r.a.manifest) d.setManifestA(r.a.manifest->getRoot<schema::Manifest>().asReader());
  if (r.b.manifest) d.setManifestB(r.b.manifest->getRoot<schema::Manifest>().asReader());
  auto rs = d.initRounds(unsigned(r.rounds.size()));
  for (size_t i = 0; i < r.rounds.size(); i++) {
    BisectRound x = r.rounds[i];
    if (x.level == Level::Checkpoint) {  // each answer with its inclusion path under its side's root
      if (x.proof_a.empty() && x.a != Hash{} && size_t(x.probe) < r.a.leaves.size()) x.proof_a = merkle_path(r.a.leaves, size_t(x.probe));
      if (x.proof_b.empty() && x.b != Hash{} && size_t(x.probe) < r.b.leaves.size()) x.proof_b = merkle_path(r.b.leaves, size_t(x.probe));
    }
    set_round(rs[unsigned(i)], x);
  }
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
  for (auto [claimed, side_a] : {std::pair{&r.claimed_a, true}, std::pair{&r.claimed_b, false}})
    if (*claimed && !r.result)
      store(side_a ? d.initClaimedA(unsigned((*claimed)->size())) : d.initClaimedB(unsigned((*claimed)->size())), tape,
            checkpoint_tensors(tape), **claimed);
  if (const BisectResult* res = r.result) {
    if (const auto& e = res->evidence) {
      store(d.initStateBefore(unsigned(e->state.size())), tape, checkpoint_tensors(tape), e->state);
      store(d.initBatch(unsigned(e->batch.size())), tape, batch_tensors(tape), e->batch);
    }
    if (const auto& f = res->fast) {
      auto x = d.initFastRuling();
      if (!f->step_level) write_distances(x.initNoise(), f->noise);
      write_distances(x.initThresholds(), f->thresholds);
      write_distances(x.initDistanceA(), f->dist_a);
      write_distances(x.initDistanceB(), f->dist_b);
      write_distances(x.initDistanceAB(), f->dist_ab);
      x.setSources(uint32_t(f->sources));
      x.setStandsA(f->stands_a);
      x.setStandsB(f->stands_b);
      if (f->step_level) {
        store(d.initClaimedA(unsigned(res->claimed_a.size())), tape, checkpoint_tensors(tape), res->claimed_a);
        store(d.initClaimedB(unsigned(res->claimed_b.size())), tape, checkpoint_tensors(tape), res->claimed_b);
      }
    }
    d.setBasis(res->basis);
    if (res->ruled) d.setRefereeHash(as_data(res->referee));
    d.setWinner(!res->ruled                   ? schema::Winner::NEITHER
                : res->winner == Ruling::A ? schema::Winner::A
                : res->winner == Ruling::B ? schema::Winner::B
                : res->winner == Ruling::Both ? schema::Winner::BOTH
                                           : schema::Winner::NEITHER);
  }
  set_provenance(d.initProvenance());
}

Level level_of(schema::BisectLevel l) {
  return l == schema::BisectLevel::CHECKPOINT ? Level::Checkpoint : l == schema::BisectLevel::STEP ? Level::Step : Level::Op;
}

const char* winner_name(schema::Winner w) {
  return w == schema::Winner::A ? "A" : w == schema::Winner::B ? "B" : w == schema::Winner::BOTH ? "both" : "neither";
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
  if (!d.getOpKind().size() && d.hasStateBefore()) {
    std::snprintf(line, sizeof line, "step-level: step %u computed alike by both sides; referee's state after it %.16s…\n",
                  d.getStep(), hex_of(d.getRefereeHash()).c_str());
    t += line;
  }
  if (d.hasKernelA() && d.hasKernelB()) {
    std::snprintf(line, sizeof line, "fast mode: kernels A panel %u threads %u, B panel %u threads %u; ruled by the embedded profile\n",
                  d.getKernelA().getPanel(), d.getKernelA().getThreads(), d.getKernelB().getPanel(), d.getKernelB().getThreads());
    t += line;
  }
  if (d.getBasis().size()) t += std::string("basis: ") + d.getBasis().cStr() + "\n";
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
  r.root_a = hash_field(d.getRootA());
  r.has_b = d.getRootB().size() > 0;
  if (r.has_b) r.root_b = hash_field(d.getRootB());
  const Tape tape = tape_for(cfg);
  check_input(d.getStep() < cfg.steps, what + ": step out of range");
  r.step = d.getStep();
  // An answer not bound to its own side's root loses by itself (proofwork(7), DISPUTES).
  const size_t C = checkpoint_steps(cfg).size();
  const int64_t fa = unproven_answer(d, true, C), fb = unproven_answer(d, false, C);
  if (fa >= 0 || fb >= 0) {
    r.forfeit = true;
    r.right = fa >= 0 && fb >= 0 ? Ruling::Neither : fa >= 0 ? Ruling::B : Ruling::A;
    const bool a_lost = fa >= 0;
    r.basis = std::string("side ") + (a_lost ? "A" : "B") + "'s answer at checkpoint " + std::to_string(a_lost ? fa : fb) +
              " does not match its own root (its Merkle inclusion proof fails): it loses by itself";
    return r;
  }
  // A fast-mode task's ruling is the profile's (proofwork(7), DISPUTES).
  LoadedProfile profile;
  std::optional<FastReferee> fast;
  if (!cfg.exact) fast = fast_referee(d, profile, what);
  if (d.getOpKind().size() == 0) {
    check_input(d.hasStateBefore(), what + ": no op was pinpointed and it carries no agreed state to recompute step " +
                                        std::to_string(r.step) + " from (a dispute written before format version 2: "
                                        "run pol-bisect again)");
    referee_step_dispute(d, cfg, tape, r, what, fast ? &*fast : nullptr);
    return r;
  }
  check_input(d.getOpIndex() < tape.ops.size(), what + ": op index out of range");
  const Op& op = tape.ops[d.getOpIndex()];
  check_input(std::string(d.getOpKind().cStr()) == op_name(op.kind),
              what + ": op " + std::to_string(d.getOpIndex()) + " is " + op_name(op.kind) + ", not " + d.getOpKind().cStr());
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
  r.out_a = hash_field(d.getOutputHashA());
  r.out_b = hash_field(d.getOutputHashB());
  if (fast) {  // the claimed outputs themselves, bound by the sides' output hashes
    std::vector<std::vector<float>> outs[2];
    int side = 0;
    for (auto [list, claim] : {std::pair{d.getOutputsA(), r.out_a}, std::pair{d.getOutputsB(), r.out_b}}) {
      const std::string name = side == 0 ? "outputsA" : "outputsB";
      outs[side] = decoded(list, tape, op.out, what, name.c_str());
      std::vector<Hash> h;
      for (const auto& x : outs[side]) h.push_back(tensor_content_hash(x.data(), x.size() * 4));
      check_input(outputs_hash(h) == claim, what + ": " + name + " does not match the side's output hash");
      side++;
    }
    r.fast = rule_fast_op(cfg, need_data ? &data : nullptr, *fast, r.step, int(r.op), in, outs[0], outs[1], &r.referee);
    r.right = r.fast->ruling();
    r.basis = fast_basis(*r.fast, *fast, "op " + std::to_string(r.op) + ", from the agreed inputs,");
    return r;
  }
  r.referee = referee_op(cfg, need_data ? &data : nullptr, r.step, int(r.op), in);
  r.right = r.referee == r.out_a ? Ruling::A : r.referee == r.out_b ? Ruling::B : Ruling::Neither;
  r.basis = "op " + std::to_string(r.op) + " recomputed from the agreed inputs; its outputs must equal a side's bit for bit "
            "(exact mode)";
  return r;
}

}  // namespace pw
