// What pol-train and pol-forge share (pol-train(1)): the solver's options, and a
// training session (proof/session.hpp) run with its notes, progress line and summary.
#pragma once
#include <cstdint>
#include <string>

#include "cli/cli.hpp"
#include "proof/session.hpp"

namespace pw {

struct TrainOptions {
  std::string task, dir, data_dir;
  CommonOptions common;
  int fast_panel = kFastPanelDefault;
  int64_t kill_after = -1;  // hidden: SIGKILL itself after this many steps of this run (resume tests)
};

// TASK, -o/--output, --data-dir, the common options, --fast-panel and the hidden --kill-after.
void add_train_options(CLI::App& app, TrainOptions& o);

// Opens o.dir for `task`, trains on `data` with `hooks` and reports: a note when the
// proof resumes or is already complete, the progress line, the summary on stderr and,
// with --json, on stdout. Returns the exit status.
int run_training(const LoadedTask& task, Dataset data, const TrainOptions& o, SessionHooks hooks = {});

}  // namespace pw
