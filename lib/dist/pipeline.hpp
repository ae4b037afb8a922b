// Pipeline-parallel training (proofwork(7), PIPELINE STAGES): S stages, each a contiguous
// range of the MLP's Linear layers (a GPT's transformer blocks) on its own ranks, times D
// data-parallel replicas of every stage (S·D ranks), GPipe style, with the bits of one
// process. Written against the tape: an op runs on its layer's stage, the loss on the
// last, an optimizer op where its gradient is made; a parameter read on another stage
// (the GPT's tied wte and its wpe, whose gradients meet on the last stage with the
// embedding's backward) goes there after its update; gradient clipping forms its norm
// from every stage's sums of squares.
//
// A replica's block of the step's batch (B/D samples, an aligned block of the chunked
// reduction's chunks) runs as M micro-batches of B/(D·M) samples, each an aligned block
// of chunks too. A stage runs its ops of the tape (at micro-batch size) for every
// micro-batch: the forward ops for micro-batch 0, 1, ... sending each activation on as
// raw bytes, then the backward ops as the gradients come back. A weight gradient is then
// the micro-batches' subtree partials combined by the tree's levels above them, then the
// replicas' (dist/data_parallel.hpp, combine_ranks, within the stage's replicas): the
// fixed tree of the same chunk partials as one process. MPI moves bytes; it never sums
// a float.
//
// A task without a reduce chunk reduces the batch as one chain per element, b ascending
// (weight and bias gradients, the loss's sum). Its stages (one replica) continue those
// chains across the micro-batches in order: micro-batch m's reductions start from
// m-1's values (StepContext::continue_chains), so the last one holds the whole batch's
// chains, the bits of one process; the loss's gradient divides by the whole batch.
//
// A pipeline cut (model/cut.hpp) codes with the whole batch's scales, so it runs once a
// step over the replica's block: the stage before it forwards every micro-batch up to
// the cut, codes, and sends the codec's bytes (AQ-SGD's forward message, the direct
// quantization's backward one) to the stage after it, which decodes. Both hold the
// per-sample buffer; the replicas of both share its changed rows after the step.
//
// Checkpoints are gathered: at a checkpoint step the first replica of every stage sends
// the state it updates to rank 0, which writes it through the Session; the last stage
// sends every step's loss.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dist/ranks.hpp"
#include "proof/session.hpp"
#include "train/task.hpp"

namespace pw {

struct PipelineLayout {
  int stages = 1, replicas = 1, micro_batches = 1;
  std::vector<int> first_layer;  // stages + 1: stage s holds Linear layers (blocks) [first_layer[s], first_layer[s+1])
  std::vector<int> stage_of_rank, replica_of_rank;  // world rank → place
  std::vector<int> rank_at;                         // stage·D + replica → world rank
  int ranks() const { return stages * replicas; }
  int rank_of(int stage, int replica) const { return rank_at[size_t(stage * replicas + replica)]; }
};

// The default layout: stage s holds Linear layers (a GPT's blocks) [s·L/S, (s+1)·L/S), rank
// stage·D + replica; `micro_batches` 0 picks the largest power of two up to 4·S that
// the replica's chunks allow (without a reduce chunk: that divides the batch). A task the
// pipeline cannot split (fast mode), D > 1 without a reduce chunk, or D that
// does not divide the chunks: bad input (exit 3); S that does not divide the layers, M·D
// that does not divide the chunks (without a reduce chunk, M that does not divide the
// batch), a count not a power of two: usage (exit 2).
PipelineLayout pipeline_layout(const TaskConfig& task, int stages, int replicas, int micro_batches);

// The layout of a sched-partition partition (proofwork-files(5), PARTITION): device i is
// rank i, stage k's j-th device serves replica j; its stage and replica counts, and the
// default layout's checks. `stages` and `replicas` (0: the file's) must be the file's.
// A file for another layout (stages, replicas, a device count that is not the job's
// `ranks`, stages that do not split the task's layers): bad input (exit 3).
PipelineLayout schedule_layout(const TaskConfig& task, const std::string& path, int stages, int replicas,
                               int micro_batches, int ranks);

// pol-train --pipeline on the world's ranks `r` (layout.ranks() of them), after
// open_data_parallel. Rank 0 writes the checkpoints through the Session and returns its
// summary (the others an empty one); `on_step` runs on every rank after each step. An
// error after training began ends the whole job (abort_ranks) with its code.
// What one rank sent in its steps (not counting the checkpoints' state and the loss for
// rank 0): bytes to the stages beside it (activations, gradients, a cut's codec) and
// bytes combining with its replicas (gradients, a cut's scales and buffer rows).
struct RankWire {
  int stage = 0, replica = 0;
  int64_t to_stages = 0, to_replicas = 0;
};
// `wire`, when given, receives on rank 0 every rank's RankWire, in rank order.
SessionSummary train_pipeline(const Ranks& r, const PipelineLayout& layout, Session& session,
                              const std::function<void(const Trainer&)>& on_step,
                              std::vector<RankWire>* wire = nullptr);

}  // namespace pw
