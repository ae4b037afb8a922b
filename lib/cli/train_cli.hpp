// What pol-train and pol-forge share (pol-train(1)): the solver's options, and a
// training session (proof/session.hpp) run with its notes, progress line and summary.
#pragma once
#include <cstdint>
#include <string>

#include "cli/cli.hpp"
#include "dist/pipeline.hpp"
#include "dist/ranks.hpp"
#include "proof/session.hpp"

namespace pw {

struct TrainOptions {
  std::string task, dir, data_dir;
  CommonOptions common;
  int fast_panel = kFastPanelDefault;
  int64_t kill_after = -1;  // hidden: SIGKILL itself after this many steps of this run (resume tests)
  int data_parallel = 0;    // --data-parallel D: D ranks under mpirun/srun (0: one process)
  int kill_rank = 0;        // hidden: with --data-parallel, the rank that --kill-after kills
  int pipeline = 0;         // --pipeline S: S stages (0: none)
  int micro_batches = 0;    // --micro-batches M (0: the default, pipeline_layout)
  std::string schedule;     // --schedule FILE: a partition placing the ranks
  PipelineLayout layout;    // with --pipeline: set by start_training_ranks
  bool pipelined() const { return pipeline > 0 || !schedule.empty(); }
  bool distributed() const { return data_parallel > 0 || pipelined(); }
};

// TASK, -o/--output, --data-dir, the common options, --fast-panel and the hidden --kill-after.
void add_train_options(CLI::App& app, TrainOptions& o);
// pol-train's --data-parallel, --pipeline, --micro-batches, --schedule (and the hidden
// --kill-rank).
void add_distributed_options(CLI::App& app, TrainOptions& o);

// With --data-parallel or --pipeline: MPI started (exit 2 "built without MPI" otherwise) and the
// layout checked against the ranks launched (exit 2) and the task (exit 3), before any
// training; without it, a refusal to run as several ranks of one job (each would write
// the same proof). Call after the task is loaded.
Ranks start_training_ranks(TrainOptions& o, const TaskConfig& task);

// Opens o.dir for `task`, trains on `data` with `hooks` and reports: a note when the
// proof resumes or is already complete, the progress line, the summary on stderr and,
// with --json, on stdout. Returns the exit status.
// With ranks from start_training_ranks (size > 1 or --data-parallel): every rank calls
// it; rank 0 writes the proof and reports.
int run_training(const LoadedTask& task, Dataset data, const TrainOptions& o, SessionHooks hooks = {},
                 Ranks ranks = {});

}  // namespace pw
