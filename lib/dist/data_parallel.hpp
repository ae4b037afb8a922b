// Data-parallel training (proofwork(7), DISTRIBUTED TRAINING): D ranks, each running the
// tape on an aligned block of B/D samples of every step, with the bits of one process.
//
// The task's chunked batch reduction (reduceChunk c: B/c chunks, a power of two) makes
// this possible: rank r holds chunks [r·n/D, (r+1)·n/D), a whole subtree of the fixed
// pairwise tree, and pre-reduces it locally (the tape's reductions on its block). The
// ranks then reduce-scatter their subtree partials (each rank receives every rank's part
// of its slice), combine each slice by the tree's top levels in rank order, and
// all-gather the slices: 2(D-1)/D of the gradient bytes per rank, as a ring all-reduce,
// and the same bits as one process. Every rank then applies the same optimizer update.
//
// Written against the tape, not a model: the reduced tensors are the gradients the
// optimizer ops read and the loss; the ops before the first op that reads the combined
// gradients (gradient clipping, whose norm is the whole batch's, or the optimizer's) run
// on the block, the rest after the reduction. A GPT's loss is a mean over B·T tokens. A pipeline cut's per-channel scales are the whole
// batch's (StepContext::batch_max, a maximum over the ranks), and the rows of its
// per-sample buffer that a step changed go to every rank after the step (share_cut_rows), so
// every rank holds one process's buffer.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "dist/ranks.hpp"
#include "model/tape.hpp"
#include "proof/session.hpp"
#include "train/task.hpp"
#include "train/trainer.hpp"

namespace pw {

// Why `task` cannot train on `ranks` data-parallel ranks, or "" when it can: a task
// without a reduce chunk, a rank count that is not a power of two or does not divide
// the batch's chunks.
std::string data_parallel_refusal(const TaskConfig& task, int ranks);

// One rank's step: the tape at batch B/D, its workspace, and the reduction buffer.
class DataParallelStep {
 public:
  DataParallelStep(const TaskConfig& task, int ranks, int rank);
  // Runs the ops before the optimizer on this rank's block of step `ctx` (as
  // Trainer::context gives it, for the whole batch) with the state in `state` (the
  // trainer's workspace: its checkpoint tensors are used in place, swapped in and out),
  // and packs the gradients' and the loss's subtree partials into partials().
  void forward_backward(Workspace& state, const StepContext& ctx);
  std::vector<float>& partials() { return partials_; }
  // After the ranks' combination: unpacks the combined gradients from partials() and
  // runs the optimizer ops on `state`; returns the step's loss (the combined sum / B).
  float update(Workspace& state, const StepContext& ctx);
  const Tape& tape() const { return tape_; }

 private:
  int ranks_, rank_, global_batch_;
  Tape tape_;
  Workspace ws_;
  size_t first_update_ = 0;      // index of the first op after the reduction (clipping, the optimizer)
  std::vector<int> grads_;       // the tensors the optimizer ops read, in op order
  std::vector<int> state_ids_;   // checkpoint tensors
  std::vector<float> partials_;  // grads then the loss
  StepContext local(const StepContext& ctx) const;
  void swap_state(Workspace& state);
};

// The ranks' combination of equal-length buffers in the tree's order: reduce-scatter,
// tree_combine of each slice over the ranks in rank order, all-gather. Afterwards every
// rank's buffer holds the combined values.
void combine_ranks(const Ranks& r, std::vector<float>& buf);

// A pipeline cut's buffer after a step on the ranks `r`, each of which ran an aligned
// block of `batch` (B sample indices, block j on rank j): every rank sends the buffer
// rows and seen flags of its block's samples to all, so every rank holds one process's
// buffer. Nothing without a cut.
void share_cut_rows(const Ranks& r, const Tape& tape, Workspace& state, const uint32_t* batch, int64_t B);

// An error this rank met after training began, when the others may be waiting for it:
// says so on stderr with the rank, and ends the whole job (abort_ranks) with its code.
[[noreturn]] void end_job(const Ranks& r, const Error& e);

// The state (checkpoint tensors) and the step, from rank 0 to all.
void broadcast_state(const Ranks& r, Trainer& tr);

// pol-train --data-parallel on the ranks `r` (every rank runs both). Rank 0 opens the
// proof directory (fresh, resumed or complete: Session::open); when that fails, every
// rank throws with its code. Then the state and step go from rank 0 to all.
SessionStart open_data_parallel(const Ranks& r, Session& session, const std::string& dir);
// Trains to the last step; rank 0 writes the checkpoints through the Session and
// returns its summary (the others an empty one). `on_step` runs on every rank after each
// step. An error after training began ends the whole job (abort_ranks) with its code.
SessionSummary train_data_parallel(const Ranks& r, Session& session, const std::function<void(const Trainer&)>& on_step);

}  // namespace pw
