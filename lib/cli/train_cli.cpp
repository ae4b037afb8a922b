#include "cli/train_cli.hpp"

#include <csignal>
#include <cstdio>

#include "core/error.hpp"

namespace pw {

void add_train_options(CLI::App& app, TrainOptions& o) {
  app.add_option("TASK", o.task, "Task file (binary or JSON; '-': stdin)")->required();
  app.add_option("-o,--output", o.dir, "Proof directory (created, or resumed when unfinished)")->required();
  app.add_option("--data-dir", o.data_dir, "Find the dataset files in this directory (by base name)");
  add_common_options(app, o.common);
  app.add_option("--fast-panel", o.fast_panel,
                 "Fast mode: GEMM panel length (terms summed before adding to the output; stands in for another "
                 "machine's kernel)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--kill-after", o.kill_after, "SIGKILL itself after this many steps (resume tests)")->group("");
}

int run_training(const LoadedTask& task, Dataset data, const TrainOptions& o, SessionHooks hooks) {
  Progress progress(o.common, task.cfg.steps, "step");
  int64_t first_step = 0;
  SessionOptions so;
  so.device = o.common.device;
  so.fast_panel = o.fast_panel;
  so.on_step = [&](const Trainer& tr) {
    char extra[64];
    std::snprintf(extra, sizeof extra, "loss %.4f", double(tr.loss));
    progress.update(tr.step, extra);
    if (o.kill_after >= 0 && tr.step - first_step >= o.kill_after) std::raise(SIGKILL);
  };
  Session session(task, std::move(data), std::move(so), std::move(hooks));
  switch (session.open(o.dir)) {
    case SessionStart::Complete:
      note(o.common, "'" + o.dir + "' is already complete (" + std::to_string(task.cfg.steps) + " steps); nothing to do");
      return kExitOk;
    case SessionStart::Resumed:
      note(o.common, "resuming '" + o.dir + "' from step " + std::to_string(session.first_step()));
      break;
    case SessionStart::Fresh:
      break;
  }
  first_step = session.first_step();
  if (session.trainer().device) note(o.common, "training on " + session.trainer().device->describe());
  const SessionSummary sum = session.run();
  progress.finish();
  note(o.common, summary_line(sum));
  if (o.common.json) std::printf("%s\n", summary_json(sum, o.dir).c_str());
  return kExitOk;
}

}  // namespace pw
