#include "bisect/bisect.hpp"

#include <algorithm>
#include <optional>

#include "bisect/fast.hpp"
#include "core/error.hpp"
#include "core/program.hpp"
#include "io/tensor_blob.hpp"

namespace pw {

std::string Kernel::name() const {
  return "fast threads=" + std::to_string(threads) + " panel=" + std::to_string(panel);
}

Compute Kernel::compute(const TaskConfig& cfg) const { return Compute{true, panel, cfg.reduce_chunk}; }

void use_kernel_threads(int threads, const Tape& tape) {
  int rows = 1;
  for (const TensorSpec& t : tape.tensors) rows = std::max(rows, t.rows);
  set_threads(std::clamp(threads, 1, rows));
}

Kernel declared_kernel(uint32_t panel, uint32_t threads) {
  Kernel k;
  if (panel > 0) k.panel = int(std::min<uint32_t>(panel, 1u << 20));
  k.threads = int(std::clamp<uint32_t>(threads, 1, 4096));
  return k;
}

Kernel declared_kernel(const Manifest& m) { return declared_kernel(m.fast_panel, m.threads); }

Hash state_hash_of(const Tape& tape, const std::vector<std::vector<float>>& tensors, int64_t step) {
  Workspace ws(tape);
  const std::vector<int> ids = checkpoint_tensors(tape);
  for (size_t i = 0; i < ids.size() && i < tensors.size(); i++) ws.t[size_t(ids[i])] = tensors[i];
  return state_hash(tape, ws, step);
}

const char* ruling_name(Ruling r) {
  return r == Ruling::A ? "A" : r == Ruling::B ? "B" : r == Ruling::Both ? "both" : "neither";
}

const char* ruling_text(Ruling r) {
  return r == Ruling::A   ? "A is right"
         : r == Ruling::B ? "B is right"
         : r == Ruling::Both ? "both stand (within the profile's replay noise)"
                             : "neither side is right";
}

Ruling FastRuling::ruling() const {
  return stands_a && stands_b ? Ruling::Both : stands_a ? Ruling::A : stands_b ? Ruling::B : Ruling::Neither;
}

int64_t ceil_log2(int64_t n) {
  int64_t r = 0;
  while ((int64_t(1) << r) < n) r++;
  return r;
}

int64_t round_bound(const TaskConfig& cfg) {
  return ceil_log2(int64_t(checkpoint_steps(cfg).size())) + ceil_log2(cfg.checkpoint_every) +
         ceil_log2(int64_t(tape_for(cfg).ops.size())) + 2;
}

Party load_party(const LoadedTask& task, const std::string& dir, const std::string& fault, const char* flag) {
  Party p;
  p.dir = dir;
  p.replay = dir.empty();
  if (!p.replay) {
    p.man = read_manifest(dir, int64_t(task.cfg.steps) * task.cfg.batch, &task.hash);
    p.kernel = declared_kernel(p.man);
  }
  if (!fault.empty()) p.fault = parse_fault(fault, flag);
  check_fault(p.fault, tape_for(task.cfg), task.cfg.steps, flag);
  return p;
}

namespace {

Hash content(const std::vector<float>& v) { return tensor_content_hash(v.data(), v.size() * 4); }

Hash op_record(int j, const Op& op, const std::vector<Hash>& in, const std::vector<Hash>& out) {
  Hasher h;
  h.update_u32(uint32_t(j)).update_u32(uint32_t(op.kind));
  for (const Hash& x : in) h.update(x.data(), 32);
  for (const Hash& x : out) h.update(x.data(), 32);
  return h.final();
}

}  // namespace

Hash outputs_hash(const std::vector<Hash>& outputs) {
  Hasher h;
  for (const Hash& x : outputs) h.update(x.data(), 32);
  return h.final();
}

StepTrace trace_step(Trainer& tr, Workspace& ws, int64_t step, const OpHook& fault, int capture_op,
                     std::vector<std::vector<float>>* captured, const std::vector<std::vector<float>>* batch) {
  const Tape& tape = tr.tape;
  const StepContext ctx = tr.context(step);
  std::vector<Hash> cur(tape.tensors.size());
  for (int id : checkpoint_tensors(tape)) cur[size_t(id)] = content(ws.t[size_t(id)]);
  StepTrace t;
  Hash chain{};
  size_t next_batch = 0;
  for (size_t j = 0; j < tape.ops.size(); j++) {
    const Op& op = tape.ops[j];
    std::vector<Hash> in;
    for (int id : op.in) in.push_back(cur[size_t(id)]);
    if (int(j) == capture_op && captured) {
      captured->clear();
      for (int id : op.in) captured->push_back(ws.t[size_t(id)]);
    }
    if (batch && op.kind == OpKind::LoadBatch) {
      for (int id : op.out) {
        check_input(next_batch < batch->size() && int64_t((*batch)[next_batch].size()) == tape.tensors[size_t(id)].size(),
                    "the step's batch tensors do not fit its load_batch ops");
        ws.t[size_t(id)] = (*batch)[next_batch++];
      }
    } else {
      run_op(tape, op, ws, ctx);
    }
    if (fault) fault(int(j), ws);
    std::vector<Hash> out;
    for (int id : op.out) {
      cur[size_t(id)] = content(ws.t[size_t(id)]);
      out.push_back(cur[size_t(id)]);
    }
    const Hash rec = op_record(int(j), op, in, out);
    chain = Hasher().update(chain.data(), 32).update(rec.data(), 32).final();
    t.records.push_back(rec);
    t.chain.push_back(chain);
    t.inputs.push_back(std::move(in));
    t.outputs.push_back(std::move(out));
  }
  if (batch) check_input(next_batch == batch->size(), "the step's batch tensors do not fit its load_batch ops");
  t.end_state = state_hash(tape, ws, step + 1);
  return t;
}

namespace {

// A trainer for the referee: the task's batch order without its dataset (load_batch then
// needs the dataset or the batch from the dispute).
struct RefereeTrainer {
  Dataset none;
  Trainer tr;
  RefereeTrainer(const TaskConfig& cfg, const Dataset* data, const Compute* compute = nullptr)
      : tr(cfg, data ? *data : blank(cfg)) {
    if (compute) tr.compute = *compute;
  }
  Dataset& blank(const TaskConfig& cfg) {  // a text task's count: its window starts (the order needs one)
    none.count = cfg.is_gpt() ? uint32_t(std::min<uint64_t>(std::max<uint64_t>(cfg.windows(), 1), UINT32_MAX)) : cfg.count;
    none.rows = cfg.rows;
    none.cols = cfg.cols;
    return none;
  }
};

}  // namespace

StepTrace referee_step(const TaskConfig& cfg, int64_t step, const std::vector<std::vector<float>>& state,
                       const std::vector<std::vector<float>>& batch, Hash* before, const Compute* compute,
                       std::vector<std::vector<float>>* after) {
  RefereeTrainer rt(cfg, nullptr, compute);
  Trainer& tr = rt.tr;
  const std::vector<int> ids = checkpoint_tensors(tr.tape);
  check_input(state.size() == ids.size(), "dispute: " + std::to_string(state.size()) + " state tensors, the task's state has " +
                                              std::to_string(ids.size()));
  for (size_t i = 0; i < ids.size(); i++) {
    const TensorSpec& s = tr.tape.tensors[size_t(ids[i])];
    check_input(int64_t(state[i].size()) == s.size(), "dispute: state tensor " + std::to_string(i) + " ('" + s.name +
                                                          "') has the wrong size");
    tr.ws.t[size_t(ids[i])] = state[i];
  }
  if (before) *before = state_hash(tr.tape, tr.ws, step);
  StepTrace t = trace_step(tr, tr.ws, step, nullptr, -1, nullptr, &batch);
  if (after) {
    after->clear();
    for (int id : ids) after->push_back(tr.ws.t[size_t(id)]);
  }
  return t;
}

Hash referee_op(const TaskConfig& cfg, const Dataset* data, int64_t step, int op_index,
                const std::vector<std::vector<float>>& inputs, std::vector<std::vector<float>>* outs,
                const Compute* compute) {
  RefereeTrainer rt(cfg, data, compute);
  Trainer& tr = rt.tr;
  check_input(op_index >= 0 && size_t(op_index) < tr.tape.ops.size(), "dispute: op index out of range");
  const Op& op = tr.tape.ops[size_t(op_index)];
  check_input(op.kind != OpKind::LoadBatch || (data && !data->images.empty()),
              "the disputed op is load_batch: the referee needs the task's dataset");
  check_input(op.kind != OpKind::LoadWindows || (data && !data->text.empty()),
              "the disputed op is load_windows: the referee needs the task's text");
  check_input(inputs.size() == op.in.size(), "dispute: " + std::to_string(inputs.size()) + " inputs, op " +
                                                 op_name(op.kind) + " takes " + std::to_string(op.in.size()));
  for (size_t i = 0; i < op.in.size(); i++) {
    check_input(int64_t(inputs[i].size()) == tr.tape.tensors[size_t(op.in[i])].size(),
                "dispute: input " + std::to_string(i) + " of " + op_name(op.kind) + " has the wrong size");
    tr.ws.t[size_t(op.in[i])] = inputs[i];
  }
  run_op(tr.tape, op, tr.ws, tr.context(step));
  std::vector<Hash> out;
  if (outs) outs->clear();
  for (int id : op.out) {
    out.push_back(content(tr.ws.t[size_t(id)]));
    if (outs) outs->push_back(tr.ws.t[size_t(id)]);
  }
  return outputs_hash(out);
}

namespace {

// Runs `ws` (the state after from_step steps) on to to_step with a side's fault.
void advance(Trainer& tr, Workspace& ws, int64_t from_step, int64_t to_step, const Fault& fault) {
  std::swap(tr.ws, ws);
  tr.step = from_step;
  tr.to_device();
  while (tr.step < to_step) tr.run_step(fault_hook(tr.tape, fault, tr.step));
  tr.to_host();
  std::swap(tr.ws, ws);
}

}  // namespace

LocalOracle::LocalOracle(const LoadedTask& task, const Dataset& data, const Party& p)
    : task_(task), party_(p), tr_(task.cfg, data), ckpt_(checkpoint_steps(task.cfg)) {
  if (!task.cfg.exact) tr_.compute = p.kernel.compute(task.cfg);  // this side's declared kernel
  if (!p.replay) {
    if (p.man.task != task.hash) bad_input("proof '" + p.dir + "' is for another task");
    Workspace init(tr_.tape);
    init_state(task.cfg, tr_.tape, init);
    if (p.man.checkpoints.empty() || p.man.checkpoints[0].state != state_hash(tr_.tape, init, 0))
      bad_input("proof '" + p.dir + "': its initial state is not the seed-derived one (pol-verify rejects it at segment 0)");
    if (p.man.checkpoints.size() != ckpt_.size())
      bad_input("proof '" + p.dir + "' has " + std::to_string(p.man.checkpoints.size()) + " checkpoints, the task " +
                std::to_string(ckpt_.size()));
  }
}

Workspace& LocalOracle::state_at(int64_t anchor, int64_t step) {
  const int64_t from = ckpt_[size_t(anchor)];
  if (anchor_ != anchor) {
    snapshots_.clear();
    Workspace ws(tr_.tape);
    const Party* src = party_.replay ? party_.agreed_source : &party_;
    if (anchor == 0 || !src) {
      init_state(task_.cfg, tr_.tape, ws);  // the seed-derived start
      if (anchor > 0) advance(tr_, ws, 0, from, party_.fault);
    } else {
      try {
        read_checkpoint(src->dir, src->man.checkpoints[size_t(anchor)], tr_.tape, task_.hash, ws);
      } catch (const Error& e) {  // a proof that breaks its own commitment: pol-verify rejects it
        bad_input("proof '" + src->dir + "': " + e.what() + " (pol-verify rejects this proof; nothing to bisect)");
      }
    }
    snapshots_.emplace(from, std::move(ws));
    anchor_ = anchor;
  }
  auto it = snapshots_.upper_bound(step);  // the nearest state at or before `step`
  --it;
  if (it->first == step) return it->second;
  Workspace ws = it->second;
  advance(tr_, ws, it->first, step, party_.fault);
  if (snapshots_.size() >= 12) snapshots_.erase(std::prev(snapshots_.end()));  // bounded memory (a bisection needs ~log2 k)
  return snapshots_.emplace(step, std::move(ws)).first->second;
}

const StepTrace& LocalOracle::trace_of(int64_t anchor, int64_t step) {
  if (trace_anchor_ != anchor || trace_step_ != step) {
    Workspace ws = state_at(anchor, step);
    trace_ = trace_step(tr_, ws, step, fault_hook(tr_.tape, party_.fault, step));
    trace_anchor_ = anchor;
    trace_step_ = step;
  }
  return trace_;
}

void LocalOracle::use_threads() const {
  if (!task_.cfg.exact) use_kernel_threads(party_.kernel.threads, tr_.tape);  // fast mode's bits depend on it
}

Hash LocalOracle::answer(const Query& q) {
  const ThreadsGuard guard;
  use_threads();
  switch (q.level) {
    case Level::Checkpoint:
      if (!party_.replay) return party_.man.checkpoints[size_t(q.probe)].state;
      return state_hash(tr_.tape, state_at(q.anchor, ckpt_[size_t(q.probe)]), ckpt_[size_t(q.probe)]);
    case Level::Step:
      return state_hash(tr_.tape, state_at(q.anchor, q.probe), q.probe);
    case Level::Op:
      return trace_of(q.anchor, q.step).chain[size_t(q.probe)];
  }
  return Hash{};
}

OpClaim LocalOracle::op_claim(int64_t anchor, int64_t step, int op, bool with_inputs) {
  const ThreadsGuard guard;
  use_threads();
  OpClaim c;
  const StepTrace& t = trace_of(anchor, step);
  c.out = outputs_hash(t.outputs[size_t(op)]);
  c.in_hashes = t.inputs[size_t(op)];
  // The tensors themselves: run the step up to the op, with this side's fault.
  Workspace ws = state_at(anchor, step);
  std::swap(tr_.ws, ws);
  const StepContext ctx = tr_.context(step);
  const OpHook hook = fault_hook(tr_.tape, party_.fault, step);
  const Op& o = tr_.tape.ops[size_t(op)];
  for (int j = 0; j <= op; j++) {
    if (j == op && with_inputs)
      for (int id : o.in) c.inputs.push_back(tr_.ws.t[size_t(id)]);
    run_op(tr_.tape, tr_.tape.ops[size_t(j)], tr_.ws, ctx);
    if (hook) hook(j, tr_.ws);
  }
  for (int id : o.out) c.outputs.push_back(tr_.ws.t[size_t(id)]);
  std::swap(tr_.ws, ws);
  return c;
}

std::optional<StepEvidence> LocalOracle::recompute_step(int64_t anchor, int64_t step) {
  const ThreadsGuard guard;
  use_threads();
  Workspace ws = state_at(anchor, step);
  StepEvidence e;
  for (int id : checkpoint_tensors(tr_.tape)) e.state.push_back(ws.t[size_t(id)]);
  const Tape& tape = tr_.tape;
  const OpHook keep_batch = [&](int j, Workspace& w) {
    if (tape.ops[size_t(j)].kind == OpKind::LoadBatch)
      for (int id : tape.ops[size_t(j)].out) e.batch.push_back(w.t[size_t(id)]);
  };
  e.after = trace_step(tr_, ws, step, keep_batch).end_state;
  for (int id : checkpoint_tensors(tape)) e.after_state.push_back(ws.t[size_t(id)]);
  return e;
}

std::optional<std::vector<std::vector<float>>> LocalOracle::claimed_state(int64_t anchor, int64_t index) {
  const ThreadsGuard guard;
  use_threads();
  const Workspace* ws = nullptr;
  Workspace read(tr_.tape);
  if (party_.replay) {  // a re-execution claims its own computation
    ws = &state_at(anchor, ckpt_[size_t(index)]);
  } else {
    try {
      read_checkpoint(party_.dir, party_.man.checkpoints[size_t(index)], tr_.tape, task_.hash, read);
    } catch (const Error& e) {
      bad_input("proof '" + party_.dir + "': " + e.what() + " (pol-verify rejects this proof)");
    }
    ws = &read;
  }
  std::vector<std::vector<float>> s;
  for (int id : checkpoint_tensors(tr_.tape)) s.push_back(ws->t[size_t(id)]);
  return s;
}

BisectResult bisect(const LoadedTask& task, const Dataset* data, Oracle& a, Oracle& b, const FastReferee* fast) {
  const TaskConfig& cfg = task.cfg;
  if (!cfg.exact && !(fast && fast->profile))
    usage_error("a fast-mode dispute is ruled by the verifier's profile: pass --profile (pol-profile)");
  if (cfg.exact) fast = nullptr;
  const std::vector<int64_t> ckpt = checkpoint_steps(cfg);
  const int64_t C = int64_t(ckpt.size());
  const Tape tape = tape_for(cfg);
  const int64_t nops = int64_t(tape.ops.size());
  BisectResult r;
  r.round_bound = round_bound(cfg);

  // Both sides answer each query; a side that cannot yet is reported after the other has.
  auto ask = [&](Level level, int64_t lo, int64_t hi, int64_t anchor, int64_t step, int64_t probe) {
    const Query q{level, anchor, step, probe};
    Hash ha{}, hb{};
    std::optional<Pending> wait;
    try {
      ha = a.answer(q);
    } catch (const Pending& p) {
      wait = p;
    }
    try {
      hb = b.answer(q);
    } catch (const Pending& p) {
      if (!wait) wait = p;
    }
    if (wait) throw *wait;
    r.rounds.push_back({level, lo, hi, probe, ha, hb, ha == hb, anchor, step, {}, {}});
    return ha == hb;
  };
  auto rule = [&](const Hash& truth, const Hash& ca, const Hash& cb) {
    r.winner = ca == truth ? Ruling::A : cb == truth ? Ruling::B : Ruling::Neither;
  };

  // Both sides start from the seed-derived state (each LocalOracle checks its own proof's
  // checkpoint 0; pol-verify rejects a proof that does not).
  // Level 1: checkpoints. Invariant: agree at lo, differ at hi.
  int64_t lo = 0, hi = C - 1;
  if (ask(Level::Checkpoint, lo, hi, 0, 0, hi)) {
    r.summary = "the two sides agree on the final checkpoint: nothing to dispute";
    return r;
  }
  while (hi - lo > 1) {
    const int64_t m = lo + (hi - lo) / 2;
    (ask(Level::Checkpoint, lo, hi, lo, 0, m) ? lo : hi) = m;
  }
  r.disputed = true;
  r.anchor = lo;
  // The claims at the end of the disputed interval.
  Hash claim_a{}, claim_b{};
  for (const auto& x : r.rounds)
    if (x.level == Level::Checkpoint && x.probe == hi) claim_a = x.a, claim_b = x.b;

  // Level 2: the steps of (ckpt[lo], ckpt[hi]], by each side's computation from checkpoint lo.
  int64_t slo = ckpt[size_t(lo)], shi = ckpt[size_t(hi)];
  while (shi - slo > 1) {
    const int64_t t = slo + (shi - slo) / 2;
    (ask(Level::Step, slo, shi, lo, 0, t) ? slo : shi) = t;
  }
  r.step = slo;

  // Level 3: the ops of step slo, over the hash chains of both sides' traces.
  int64_t olo = -1, ohi = nops - 1;
  if (ask(Level::Op, olo, ohi, lo, slo, ohi)) {
    // Both compute the step alike, yet their claims of the state after it differ: a claim
    // that is not its side's own computation. The referee recomputes that one step from the
    // agreed state (neither side's word is taken for it). The claims are the checkpoint's,
    // or the step-level answers when the step ends inside the interval.
    for (const auto& x : r.rounds)
      if (x.level == Level::Step && x.probe == shi) claim_a = x.a, claim_b = x.b;
    std::optional<StepEvidence> truth = a.recompute_step(lo, slo);
    if (!truth) truth = b.recompute_step(lo, slo);
    check_input(truth.has_value(), "internal: no side can recompute the disputed step");
    r.referee = truth->after;
    r.evidence = std::move(truth);
    r.claim_step_a = claim_a;
    r.claim_step_b = claim_b;
    r.ruled = true;
    rule(r.referee, claim_a, claim_b);
    r.summary = "both sides compute step " + std::to_string(slo) + " alike; the state claimed at step " +
                std::to_string(shi) + " is not its side's computation";
    r.basis = "step " + std::to_string(slo) + " recomputed from the agreed state before it (exact: the state hash after it "
              "must equal a side's claim bit for bit)";
    if (fast) {  // the claimed states themselves, held to the profile's thresholds
      check_input(shi == ckpt[size_t(hi)], "internal: a step-level dispute that does not end at a checkpoint");
      std::optional<std::vector<std::vector<float>>> ca, cb;
      std::optional<Pending> wait;  // both sides show their states before a side waits
      try {
        ca = a.claimed_state(lo, hi);
      } catch (const Pending& p) {
        wait = p;
      }
      try {
        cb = b.claimed_state(lo, hi);
      } catch (const Pending& p) {
        if (!wait) wait = p;
      }
      if (wait) throw *wait;
      check_input(ca && cb, "internal: a side cannot show the state it claims");
      check_input(state_hash_of(tape, *ca, shi) == claim_a && state_hash_of(tape, *cb, shi) == claim_b,
                  "a side's claimed state after step " + std::to_string(slo) + " is not the state it claimed");
      r.fast = rule_fast_step(tape, *fast, r.evidence->after_state, *ca, *cb);
      r.claimed_a = std::move(*ca), r.claimed_b = std::move(*cb);
      r.winner = r.fast->ruling();
      r.basis = fast_basis(*r.fast, *fast, "step " + std::to_string(slo) + ", from the agreed state before it,");
    }
    return r;
  }
  while (ohi - olo > 1) {
    const int64_t m = olo + (ohi - olo) / 2;
    (ask(Level::Op, olo, ohi, lo, slo, m) ? olo : ohi) = m;
  }
  r.op = int(ohi);
  {
    std::optional<Pending> wait;
    try {
      r.claim_a = a.op_claim(lo, slo, r.op, true);
    } catch (const Pending& p) {
      wait = p;
    }
    try {
      r.claim_b = b.op_claim(lo, slo, r.op, false);
    } catch (const Pending& p) {
      if (!wait) wait = p;
    }
    if (wait) throw *wait;
  }
  check_input(r.claim_a.in_hashes == r.claim_b.in_hashes,
              "the sides disagree on the inputs of op " + std::to_string(r.op) + " although their traces agree before it");
  for (size_t i = 0; i < r.claim_a.inputs.size(); i++)
    check_input(tensor_content_hash(r.claim_a.inputs[i].data(), r.claim_a.inputs[i].size() * 4) == r.claim_a.in_hashes[i],
                "side A's input " + std::to_string(i) + " does not match its hash");
  r.summary = std::string("step ") + std::to_string(r.step) + ", op " + std::to_string(r.op) + " (" +
              op_name(tape.ops[size_t(r.op)].kind) + ")";
  const bool needs_data = tape.ops[size_t(r.op)].kind == OpKind::LoadBatch || tape.ops[size_t(r.op)].kind == OpKind::LoadWindows;
  if (fast && (!needs_data || (data && (!data->images.empty() || !data->text.empty())))) {
    r.fast = rule_fast_op(cfg, data, *fast, r.step, r.op, r.claim_a.inputs, r.claim_a.outputs, r.claim_b.outputs, &r.referee);
    r.ruled = true;
    r.winner = r.fast->ruling();
    r.basis = fast_basis(*r.fast, *fast, "op " + std::to_string(r.op) + ", from the agreed inputs,");
    if (r.winner == Ruling::Both && fast->a.name() != fast->b.name())
      r.summary += "; the sides' kernels differ and their rounding parts here (to reach a later forgery, dispute "
                   "each proof against the task)";
  } else if (!needs_data || (data && (!data->images.empty() || !data->text.empty()))) {
    r.referee = referee_op(cfg, data, r.step, r.op, r.claim_a.inputs);
    r.ruled = true;
    r.basis = "op " + std::to_string(r.op) + " recomputed from the agreed inputs (exact: its outputs must equal a side's bit for bit)";
    rule(r.referee, r.claim_a.out, r.claim_b.out);
  }
  return r;
}

}  // namespace pw
