#include "bisect/bisect.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "io/tensor_blob.hpp"

namespace pw {

int64_t ceil_log2(int64_t n) {
  int64_t r = 0;
  while ((int64_t(1) << r) < n) r++;
  return r;
}

const char* level_name(Level l) {
  switch (l) {
    case Level::Checkpoint: return "checkpoint";
    case Level::Step: return "step";
    case Level::Op: return "op";
  }
  return "?";
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
                     std::vector<std::vector<float>>* captured) {
  const Tape& tape = tr.tape;
  const StepContext ctx = tr.context(step);
  std::vector<Hash> cur(tape.tensors.size());
  for (int id : checkpoint_tensors(tape)) cur[size_t(id)] = content(ws.t[size_t(id)]);
  StepTrace t;
  Hash chain{};
  for (size_t j = 0; j < tape.ops.size(); j++) {
    const Op& op = tape.ops[j];
    std::vector<Hash> in;
    for (int id : op.in) in.push_back(cur[size_t(id)]);
    if (int(j) == capture_op && captured) {
      captured->clear();
      for (int id : op.in) captured->push_back(ws.t[size_t(id)]);
    }
    run_op(tape, op, ws, ctx);
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
  t.end_state = state_hash(tape, ws, step + 1);
  return t;
}

Hash referee_op(const TaskConfig& cfg, const Dataset* data, int64_t step, int op_index,
                const std::vector<std::vector<float>>& inputs, std::vector<std::vector<float>>* outs) {
  Dataset none;
  if (!data) {
    none.count = cfg.count;
    none.rows = cfg.rows;
    none.cols = cfg.cols;
  }
  Trainer tr(cfg, data ? *data : none);
  check_input(op_index >= 0 && size_t(op_index) < tr.tape.ops.size(), "dispute: op index out of range");
  const Op& op = tr.tape.ops[size_t(op_index)];
  check_input(op.kind != OpKind::LoadBatch || (data && !data->images.empty()),
              "the disputed op is load_batch: the referee needs the task's dataset");
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

// One side's computation from an agreed state: `ws` holds the state after step
// `from_step`; runs to `to_step` with the side's fault.
void advance(Trainer& tr, Workspace& ws, int64_t from_step, int64_t to_step, const Fault& fault) {
  std::swap(tr.ws, ws);
  tr.step = from_step;
  while (tr.step < to_step) tr.run_step(fault_hook(tr.tape, fault, tr.step));
  std::swap(tr.ws, ws);
}

}  // namespace

BisectResult bisect(const LoadedTask& task, const Dataset& data, Party& a, Party& b) {
  const TaskConfig& cfg = task.cfg;
  const std::vector<int64_t> ckpt = checkpoint_steps(cfg);
  const int64_t C = int64_t(ckpt.size());
  Trainer tr(cfg, data);
  const Tape& tape = tr.tape;
  BisectResult r;
  r.round_bound = ceil_log2(C) + ceil_log2(cfg.checkpoint_every) + ceil_log2(int64_t(tape.ops.size())) + 2;

  Party* sides[2] = {&a, &b};
  for (Party* p : sides)
    if (!p->replay) {
      check_input(p->man.task == task.hash, "proof '" + p->dir + "' is for another task");
      check_input(int64_t(p->man.checkpoints.size()) == C, "proof '" + p->dir + "' has " +
                                                               std::to_string(p->man.checkpoints.size()) +
                                                               " checkpoints, the task " + std::to_string(C));
    }
  // The agreed starting point: checkpoint 0 must be the seed-derived state on both sides.
  Workspace agreed(tape);
  init_state(cfg, tape, agreed);
  const Hash init = state_hash(tape, agreed, 0);
  for (Party* p : sides)
    if (!p->replay && p->man.checkpoints[0].state != init)
      bad_input("proof '" + p->dir + "': its initial state is not the seed-derived one (pol-verify rejects it at segment 0)");

  // A side's claimed state hash at checkpoint m, given the agreed state at checkpoint lo.
  auto claim = [&](Party& p, int64_t lo, int64_t m) -> Hash {
    if (!p.replay) return p.man.checkpoints[size_t(m)].state;
    Workspace ws = agreed;
    advance(tr, ws, ckpt[size_t(lo)], ckpt[size_t(m)], p.fault);
    return state_hash(tape, ws, ckpt[size_t(m)]);
  };
  // The state both sides agree on at checkpoint lo: the (first) proof's checkpoint file.
  auto load_agreed = [&](int64_t lo) {
    Party& p = a.replay ? b : a;
    read_checkpoint(p.dir, p.man.checkpoints[size_t(lo)], tape, task.hash, agreed);
  };
  check_input(!(a.replay && b.replay), "at most one side can be a replay");

  // Level 1: checkpoints. Invariant: agree at lo, differ at hi.
  int64_t lo = 0, hi = C - 1;
  {
    const Hash ha = claim(a, 0, hi), hb = claim(b, 0, hi);
    r.rounds.push_back({Level::Checkpoint, lo, hi, hi, ha, hb, ha == hb});
    if (ha == hb) {
      // Equal final states: look for an earlier difference (a proof that diverged and
      // came back is still a dispute).
      int64_t first = -1;
      for (int64_t m = 1; m < C - 1 && first < 0; m++)
        if (!a.replay && !b.replay && a.man.checkpoints[size_t(m)].state != b.man.checkpoints[size_t(m)].state) first = m;
      if (first < 0) {
        r.summary = "the two sides agree on every checkpoint: nothing to dispute";
        return r;
      }
      hi = first;
    }
  }
  while (hi - lo > 1) {
    const int64_t m = lo + (hi - lo) / 2;
    const Hash ha = claim(a, lo, m), hb = claim(b, lo, m);
    const bool agree = ha == hb;
    r.rounds.push_back({Level::Checkpoint, lo, hi, m, ha, hb, agree});
    if (agree) {
      lo = m;
      if (a.replay || b.replay) load_agreed(lo);  // a replaying side continues from here
    } else {
      hi = m;
    }
  }
  if (lo > 0) load_agreed(lo);
  r.disputed = true;

  // Level 2: steps of the interval (ckpt[lo], ckpt[hi]]. The sides' states at the end of
  // the interval are their checkpoint claims; in between, their computation.
  int64_t slo = ckpt[size_t(lo)], shi = ckpt[size_t(hi)];
  const Hash end_a = claim(a, lo, hi), end_b = claim(b, lo, hi);
  (void)end_a, (void)end_b;
  while (shi - slo > 1) {
    const int64_t t = slo + (shi - slo) / 2;
    Workspace wa = agreed, wb = agreed;
    advance(tr, wa, slo, t, a.fault);
    advance(tr, wb, slo, t, b.fault);
    const Hash ha = state_hash(tape, wa, t), hb = state_hash(tape, wb, t);
    const bool agree = ha == hb;
    r.rounds.push_back({Level::Step, slo, shi, t, ha, hb, agree});
    if (agree) {
      agreed = std::move(wa);
      slo = t;
    } else {
      shi = t;
    }
  }
  r.step = slo;  // the step that takes the agreed state at slo to the disputed one

  // Level 3: ops of step r.step, over the hash chains of both sides' traces.
  Workspace wa = agreed, wb = agreed;
  const StepTrace ta = trace_step(tr, wa, r.step, fault_hook(tape, a.fault, r.step));
  const StepTrace tb = trace_step(tr, wb, r.step, fault_hook(tape, b.fault, r.step));
  const int64_t nops = int64_t(tape.ops.size());
  int64_t olo = -1, ohi = nops - 1;
  {
    const bool agree = ta.chain.back() == tb.chain.back();
    r.rounds.push_back({Level::Op, olo, ohi, ohi, ta.chain.back(), tb.chain.back(), agree});
    if (agree) {
      // Both compute the same step from the agreed state, yet their claims at the interval's
      // end differ: a claim that is not its side's own computation. The computation is the
      // arbiter: whichever claim equals the recomputed end state wins.
      Workspace honest = agreed;
      advance(tr, honest, slo, shi, Fault{});
      const Hash truth = state_hash(tape, honest, shi);
      r.referee = truth;
      r.out_a = end_a;
      r.out_b = end_b;
      r.winner = end_a == truth ? Ruling::A : end_b == truth ? Ruling::B : Ruling::Neither;
      r.summary = "both sides compute step " + std::to_string(r.step) +
                  " alike; the checkpoint claimed at step " + std::to_string(shi) + " is not the computation's";
      return r;
    }
  }
  while (ohi - olo > 1) {
    const int64_t m = olo + (ohi - olo) / 2;
    const bool agree = ta.chain[size_t(m)] == tb.chain[size_t(m)];
    r.rounds.push_back({Level::Op, olo, ohi, m, ta.chain[size_t(m)], tb.chain[size_t(m)], agree});
    (agree ? olo : ohi) = m;
  }
  r.op = int(ohi);
  r.input_hashes = ta.inputs[size_t(r.op)];
  check_input(r.input_hashes == tb.inputs[size_t(r.op)], "internal: the disputed op's inputs differ");
  // Side A supplies the inputs: its trace up to the op, captured before the op runs.
  {
    Workspace w = agreed;
    trace_step(tr, w, r.step, fault_hook(tape, a.fault, r.step), r.op, &r.inputs);
  }
  r.out_a = outputs_hash(ta.outputs[size_t(r.op)]);
  r.out_b = outputs_hash(tb.outputs[size_t(r.op)]);
  // Both claimed outputs, recomputed by each side from the agreed inputs.
  auto outputs_of = [&](const Fault& f, std::vector<std::vector<float>>& outs) {
    Workspace w = agreed;
    std::swap(tr.ws, w);
    const StepContext ctx = tr.context(r.step);
    const OpHook hook = fault_hook(tape, f, r.step);
    for (int j = 0; j <= r.op; j++) {
      run_op(tape, tape.ops[size_t(j)], tr.ws, ctx);
      if (hook) hook(j, tr.ws);
    }
    outs.clear();
    for (int id : tape.ops[size_t(r.op)].out) outs.push_back(tr.ws.t[size_t(id)]);
    std::swap(tr.ws, w);
  };
  outputs_of(a.fault, r.outs_a);
  outputs_of(b.fault, r.outs_b);
  r.referee = referee_op(cfg, &data, r.step, r.op, r.inputs);
  r.winner = r.referee == r.out_a ? Ruling::A : r.referee == r.out_b ? Ruling::B : Ruling::Neither;
  r.summary = std::string("step ") + std::to_string(r.step) + ", op " + std::to_string(r.op) + " (" +
              op_name(tape.ops[size_t(r.op)].kind) + ")";
  return r;
}

}  // namespace pw
