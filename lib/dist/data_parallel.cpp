#include "dist/data_parallel.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "core/error.hpp"
#include "core/program.hpp"
#include "model/cpu_ops.hpp"
#include "tensor/ops.hpp"

namespace pw {

namespace {
bool is_update(OpKind k) { return k == OpKind::SgdUpdate || k == OpKind::AdamwUpdate; }
// The ops that read the combined gradients: gradient clipping (its norm is over the
// whole batch's gradients) and the optimizer's.
bool after_reduction(OpKind k) { return is_update(k) || k == OpKind::ClipGradients; }
bool power_of_two(int64_t n) { return n >= 1 && (n & (n - 1)) == 0; }
Tape block_tape(const TaskConfig& task, int ranks) {
  TaskConfig block = task;
  block.batch = task.batch / std::max(ranks, 1);
  return tape_for(block);
}
}  // namespace

std::string data_parallel_refusal(const TaskConfig& task, int ranks) {
  const std::string d = "--data-parallel " + std::to_string(ranks);
  if (!power_of_two(ranks)) return d + ": the rank count must be a power of two (1, 2, 4, ...)";
  if (!task.exact || task.reduce_chunk <= 0)
    return d + ": the task has no reduce chunk, so its bits depend on how the batch is split; make it with "
               "pol-task --reduce-chunk C (exact mode)";
  const int64_t chunks = task.batch / task.reduce_chunk;
  if (chunks % ranks != 0)
    return d + ": batch " + std::to_string(task.batch) + " in chunks of " + std::to_string(task.reduce_chunk) +
           " makes " + std::to_string(chunks) + " chunk(s), which " + std::to_string(ranks) +
           " ranks cannot share in aligned blocks";
  return "";
}

DataParallelStep::DataParallelStep(const TaskConfig& task, int ranks, int rank)
    : ranks_(ranks), rank_(rank), global_batch_(task.batch), tape_(block_tape(task, ranks)), ws_(tape_) {
  const std::string why = data_parallel_refusal(task, ranks);
  if (!why.empty()) bad_input(why);
  first_update_ = tape_.ops.size();
  for (size_t i = 0; i < tape_.ops.size(); i++)
    if (after_reduction(tape_.ops[i].kind)) {
      if (first_update_ == tape_.ops.size()) first_update_ = i;
      if (is_update(tape_.ops[i].kind)) grads_.push_back(tape_.ops[i].in[1]);
    } else if (first_update_ < tape_.ops.size()) {
      internal_error("data-parallel: an op after the optimizer's (the reduction goes between them)");
    }
  state_ids_ = checkpoint_tensors(tape_);
  int64_t n = 1;  // the loss
  for (int g : grads_) n += tape_.tensors[size_t(g)].size();
  partials_.assign(size_t(n), 0.0f);
}

StepContext DataParallelStep::local(const StepContext& ctx) const {
  StepContext l = ctx;
  l.batch_indices = ctx.batch_indices + int64_t(rank_) * tape_.batch;  // this rank's aligned block
  l.global_batch = global_batch_;
  return l;
}

void DataParallelStep::swap_state(Workspace& state) {
  for (int id : state_ids_) std::swap(ws_.t[size_t(id)], state.t[size_t(id)]);
}

void DataParallelStep::forward_backward(Workspace& state, const StepContext& ctx) {
  const StepContext l = local(ctx);
  swap_state(state);
  for (size_t i = 0; i < first_update_; i++) run_op(tape_, tape_.ops[i], ws_, l);
  swap_state(state);
  float* p = partials_.data();
  for (int g : grads_) p = std::copy(ws_.t[size_t(g)].begin(), ws_.t[size_t(g)].end(), p);
  *p = ws_[tape_.loss][0];  // this block's loss sum, undivided
}

float DataParallelStep::update(Workspace& state, const StepContext& ctx) {
  const float* p = partials_.data();
  for (int g : grads_) {
    std::copy(p, p + tape_.tensors[size_t(g)].size(), ws_.t[size_t(g)].begin());
    p += tape_.tensors[size_t(g)].size();
  }
  // As softmax_cross_entropy_forward divides: by the rows (a GPT's B·T tokens).
  const float loss = *p / float(int64_t(global_batch_) * rows_per_sample(tape_));
  const StepContext l = local(ctx);
  swap_state(state);
  for (size_t i = first_update_; i < tape_.ops.size(); i++) run_op(tape_, tape_.ops[i], ws_, l);
  swap_state(state);
  return loss;
}

void combine_ranks(const Ranks& r, std::vector<float>& buf) {
  const int D = r.size;
  const int64_t G = int64_t(buf.size());
  std::vector<int64_t> offsets(static_cast<size_t>(D) + 1), counts(static_cast<size_t>(D));
  for (int j = 0; j <= D; j++) offsets[size_t(j)] = G * j / D;
  for (int j = 0; j < D; j++) counts[size_t(j)] = offsets[size_t(j) + 1] - offsets[size_t(j)];
  const int64_t mine = counts[size_t(r.rank)];
  std::vector<float> slices(size_t(D) * size_t(mine));
  exchange_slices(r, buf.data(), counts, slices.data(), mine);
  tree_combine(slices.data(), D, mine);  // the tree's top levels, over the ranks' subtrees in rank order
  std::copy(slices.begin(), slices.begin() + mine, buf.begin() + offsets[size_t(r.rank)]);
  offsets.pop_back();
  gather_slices(r, buf.data(), counts, offsets);
}

void share_cut_rows(const Ranks& r, const Tape& tape, Workspace& state, const uint32_t* batch, int64_t B) {
  if (!tape.cut.enabled() || r.size == 1) return;
  // B rows of (buffer row, seen flag), block j of B/size rows from rank j.
  const int64_t w = tape.tensors[size_t(tape.cut_state[0])].cols, block = B / r.size;
  float* buffer = state[tape.cut_state[0]];
  float* seen = state[tape.cut_state[1]];
  std::vector<float> rows(size_t(B * (w + 1)));
  for (int64_t b = r.rank * block; b < (r.rank + 1) * block; b++) {
    const float* m = buffer + int64_t(batch[b]) * w;
    std::copy(m, m + w, rows.data() + b * (w + 1));
    rows[size_t(b * (w + 1) + w)] = seen[batch[b]];
  }
  std::vector<int64_t> counts(size_t(r.size), block * (w + 1)), offsets(size_t(r.size));
  for (int j = 0; j < r.size; j++) offsets[size_t(j)] = j * block * (w + 1);
  gather_slices(r, rows.data(), counts, offsets);
  for (int64_t b = 0; b < B; b++) {
    const float* row = rows.data() + b * (w + 1);
    std::copy(row, row + w, buffer + int64_t(batch[b]) * w);
    seen[batch[b]] = row[w];
  }
}

void end_job(const Ranks& r, const Error& e) {
  // The others may be waiting for this rank: end the job (proofwork(7), DISTRIBUTED TRAINING).
  std::fflush(stdout);
  std::fprintf(stderr, "%s: rank %d: %s\n", program_name(), r.rank, e.what());
  abort_ranks(r, e.code);
}

void broadcast_state(const Ranks& r, Trainer& tr) {
  int64_t step = tr.step;
  broadcast(r, &step, sizeof step, 0);
  tr.step = step;
  for (int id : checkpoint_tensors(tr.tape))
    broadcast(r, tr.ws[id], tr.tape.tensors[size_t(id)].size() * int64_t(sizeof(float)), 0);
}

SessionStart open_data_parallel(const Ranks& r, Session& session, const std::string& dir) {
  SessionStart start = SessionStart::Fresh;
  int code = 0;
  std::string why;
  if (r.rank == 0) {
    try {
      start = session.open(dir);
    } catch (const Error& e) {
      code = e.code, why = e.what();
    }
  }
  const int agreed = agree_max(r, code);
  if (agreed != 0) {
    if (r.rank == 0) throw Error(code, why);
    throw Error(agreed, "rank " + std::to_string(r.rank) + ": rank 0 could not open '" + dir + "' (its message says why)");
  }
  int s = int(start);
  broadcast(r, &s, sizeof s, 0);
  broadcast_state(r, session.trainer());
  return SessionStart(s);
}

SessionSummary train_data_parallel(const Ranks& r, Session& session, const std::function<void(const Trainer&)>& on_step) {
  SessionSummary summary;
  Trainer& tr = session.trainer();
  if (tr.step >= session.task().steps) return summary;
  try {
    DataParallelStep dp(session.task(), r.size, r.rank);
    while (tr.step < session.task().steps) {
      StepContext ctx = tr.context(tr.step);
      ctx.batch_max = [&r](float* v, int64_t n) { max_floats(r, v, n); };
      dp.forward_backward(tr.ws, ctx);
      combine_ranks(r, dp.partials());
      share_cut_rows(r, tr.tape, tr.ws, ctx.batch_indices, session.task().batch);
      tr.loss = dp.update(tr.ws, ctx);
      tr.step++;
      if (r.rank == 0) session.checkpoint();
      if (on_step) on_step(tr);
    }
    if (r.rank == 0) summary = session.finish();
  } catch (const Error& e) {
    if (r.size == 1) throw;
    end_job(r, e);
  }
  return summary;
}

}  // namespace pw
