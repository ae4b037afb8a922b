#include "cli/train_cli.hpp"

#include <csignal>
#include <cstdio>

#include "core/error.hpp"
#include "dist/data_parallel.hpp"

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

void add_distributed_options(CLI::App& app, TrainOptions& o) {
  app.add_option("--data-parallel", o.data_parallel,
                 "Train as D data-parallel ranks of an MPI job (mpirun -np D, srun --mpi=pmix -n D): each rank "
                 "computes an aligned block of the batch's chunks; the proof is bit for bit one process's. Needs a "
                 "task with a reduce chunk (pol-task --reduce-chunk)")
      ->check(CLI::Range(1, 1 << 16));
  app.add_option("--kill-rank", o.kill_rank, "With --kill-after: the rank that kills itself")->group("");
}

Ranks start_training_ranks(const TrainOptions& o, const TaskConfig& task) {
  const int launched = launched_ranks();
  if (o.data_parallel == 0) {
    if (launched > 1)
      usage_error("started as one of " + std::to_string(launched) +
                  " ranks, which would all write the same proof; give --data-parallel " + std::to_string(launched));
    return {};
  }
  if (!mpi_built()) start_ranks("--data-parallel");  // "built without MPI" (exit 2), before anything else
  if (o.common.device != DeviceKind::Cpu) usage_error("--data-parallel trains on the CPU (--device cpu)");
  if ((o.data_parallel & (o.data_parallel - 1)) != 0)
    usage_error("--data-parallel " + std::to_string(o.data_parallel) + ": the rank count must be a power of two (1, 2, 4, ...)");
  const std::string why = data_parallel_refusal(task, o.data_parallel);
  if (!why.empty()) bad_input(why);  // every rank sees the same task: all refuse alike
  if (launched != o.data_parallel)
    usage_error("--data-parallel " + std::to_string(o.data_parallel) + ", but the job has " + std::to_string(launched) +
                " rank(s): start it with mpirun -np " + std::to_string(o.data_parallel) + " (or srun --mpi=pmix -n " +
                std::to_string(o.data_parallel) + ")");
  Ranks r = start_ranks("--data-parallel");
  if (r.size != o.data_parallel)  // a launcher this build does not know the variables of
    usage_error("--data-parallel " + std::to_string(o.data_parallel) + ", but MPI reports " + std::to_string(r.size) +
                " rank(s)");
  return r;
}

int run_training(const LoadedTask& task, Dataset data, const TrainOptions& o, SessionHooks hooks, Ranks ranks) {
  const bool distributed = o.data_parallel > 0;
  const bool root = ranks.rank == 0;
  Progress progress(o.common, task.cfg.steps, "step");
  int64_t first_step = 0;
  auto on_step = [&](const Trainer& tr) {
    if (root) {
      char extra[64];
      std::snprintf(extra, sizeof extra, "loss %.4f", double(tr.loss));
      progress.update(tr.step, extra);
    }
    if (o.kill_after >= 0 && tr.step - first_step >= o.kill_after && (!distributed || ranks.rank == o.kill_rank))
      std::raise(SIGKILL);
  };
  SessionOptions so;
  so.device = o.common.device;
  so.fast_panel = o.fast_panel;
  so.on_step = on_step;
  Session session(task, std::move(data), std::move(so), std::move(hooks));
  const SessionStart start = distributed ? open_data_parallel(ranks, session, o.dir) : session.open(o.dir);
  first_step = session.trainer().step;
  if (root) switch (start) {
      case SessionStart::Complete:
        note(o.common, "'" + o.dir + "' is already complete (" + std::to_string(task.cfg.steps) + " steps); nothing to do");
        return kExitOk;
      case SessionStart::Resumed:
        note(o.common, "resuming '" + o.dir + "' from step " + std::to_string(first_step));
        break;
      case SessionStart::Fresh:
        break;
    }
  if (start == SessionStart::Complete) return kExitOk;
  if (distributed && root) note(o.common, "training as " + std::to_string(ranks.size) + " data-parallel rank(s)");
  if (session.trainer().device) note(o.common, "training on " + session.trainer().device->describe());
  const int64_t sent_before = bytes_sent();
  const SessionSummary sum = distributed ? train_data_parallel(ranks, session, on_step) : session.run();
  if (!root) return kExitOk;
  progress.finish();
  note(o.common, summary_line(sum));
  if (distributed && sum.steps > 0)  // what the benchmarks hold against DT-FM's 2(D-1)/D of the gradients
    note(o.common, "wire: rank 0 sent " + std::to_string((bytes_sent() - sent_before) / sum.steps) +
                       " bytes per step combining the ranks' gradients");
  if (o.common.json) std::printf("%s\n", summary_json(sum, o.dir).c_str());
  return kExitOk;
}

}  // namespace pw
