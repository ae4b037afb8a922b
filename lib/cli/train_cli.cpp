#include "cli/train_cli.hpp"

#include <csignal>
#include <algorithm>
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
  app.add_option("--pipeline", o.pipeline,
                 "Train as S pipeline stages (GPipe), each holding a contiguous range of the MLP's Linear layers or the "
                 "GPT's transformer blocks, "
                 "times the --data-parallel replicas: mpirun -np S*D. Activations and gradients cross as bytes (the "
                 "codec's at an AQ-SGD cut); the proof is bit for bit one process's. Replicas (--data-parallel) need a "
                 "reduce chunk")
      ->check(CLI::Range(1, 1 << 16));
  app.add_option("--micro-batches", o.micro_batches,
                 "With --pipeline: micro-batches per replica's batch, a power of two dividing its chunks; without a "
                 "reduce chunk, any count dividing the batch (default: the largest power of two up to 4*S that divides them)")
      ->check(CLI::Range(1, 1 << 16));
  app.add_option("--schedule", o.schedule,
                 "With --pipeline: place the ranks as this sched-partition partition says (device i is rank i; stage "
                 "k's j-th device serves replica j); its stages and replicas are the layout's")
      ->type_name("FILE");
  app.add_option("--kill-rank", o.kill_rank, "With --kill-after: the rank that kills itself")->group("");
}

Ranks start_training_ranks(TrainOptions& o, const TaskConfig& task) {
  const int launched = launched_ranks();
  if (!o.distributed()) {
    if (launched > 1)
      usage_error("started as one of " + std::to_string(launched) +
                  " ranks, which would all write the same proof; give --data-parallel " + std::to_string(launched));
    if (o.micro_batches > 0) usage_error("--micro-batches needs --pipeline");
    return {};
  }
  const std::string flag = o.pipelined() ? "--pipeline" : "--data-parallel";
  if (!mpi_built()) start_ranks(flag);  // "built without MPI" (exit 2), before anything else
  if (o.common.device != DeviceKind::Cpu) usage_error(flag + " trains on the CPU (--device cpu)");
  if (o.micro_batches > 0 && !o.pipelined()) usage_error("--micro-batches needs --pipeline");
  const int replicas = std::max(o.data_parallel, 1);
  int ranks = replicas;
  std::string layout = "--data-parallel " + std::to_string(o.data_parallel);
  if (!o.schedule.empty()) {  // every rank reads the same file: all refuse alike
    o.layout = schedule_layout(task, o.schedule, o.pipeline, o.data_parallel, o.micro_batches, launched);
    o.pipeline = o.layout.stages;
    ranks = o.layout.ranks();
    layout = "--schedule '" + o.schedule + "'";
  } else if (o.pipeline > 0) {  // every rank sees the same task: all refuse alike
    o.layout = pipeline_layout(task, o.pipeline, replicas, o.micro_batches);
    ranks = o.layout.ranks();
    layout = "--pipeline " + std::to_string(o.pipeline) + (o.data_parallel > 0 ? " " + layout : "");
  } else {
    if ((o.data_parallel & (o.data_parallel - 1)) != 0)
      usage_error(layout + ": the rank count must be a power of two (1, 2, 4, ...)");
    const std::string why = data_parallel_refusal(task, o.data_parallel);
    if (!why.empty()) bad_input(why);
  }
  if (launched != ranks)
    usage_error(layout + ", but the job has " + std::to_string(launched) + " rank(s): start it with mpirun -np " +
                std::to_string(ranks) + " (or srun --mpi=pmix -n " + std::to_string(ranks) + ")");
  Ranks r = start_ranks(flag);
  if (r.size != ranks)  // a launcher this build does not know the variables of
    usage_error(layout + ", but MPI reports " + std::to_string(r.size) + " rank(s)");
  return r;
}

int run_training(const LoadedTask& task, Dataset data, const TrainOptions& o, SessionHooks hooks, Ranks ranks) {
  const bool distributed = o.distributed();
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
  if (distributed && root)
    note(o.common, o.pipeline > 0 ? "training as " + std::to_string(o.layout.stages) + " pipeline stage(s) x " +
                                        std::to_string(o.layout.replicas) + " data-parallel replica(s), " +
                                        std::to_string(o.layout.micro_batches) + " micro-batch(es) a replica"
                                  : "training as " + std::to_string(ranks.size) + " data-parallel rank(s)");
  if (session.trainer().device) note(o.common, "training on " + session.trainer().device->describe());
  const int64_t sent_before = bytes_sent();
  std::vector<RankWire> wire;
  const SessionSummary sum = o.pipeline > 0 ? train_pipeline(ranks, o.layout, session, on_step, &wire)
                             : distributed   ? train_data_parallel(ranks, session, on_step)
                                             : session.run();
  if (!root) return kExitOk;
  progress.finish();
  note(o.common, summary_line(sum));
  for (size_t j = 0; j < wire.size() && sum.steps > 0; j++)  // what the benchmarks hold against DT-FM's model
    note(o.common, "wire: rank " + std::to_string(j) + " (stage " + std::to_string(wire[j].stage) + ", replica " +
                       std::to_string(wire[j].replica) + ") sent " + std::to_string(wire[j].to_stages / sum.steps) +
                       " bytes per step to the stages beside it and " +
                       std::to_string(wire[j].to_replicas / sum.steps) + " combining with its replicas");
  if (distributed && o.pipeline == 0 && sum.steps > 0)  // what the benchmarks hold against DT-FM's 2(D-1)/D of the gradients
    note(o.common, "wire: rank 0 sent " + std::to_string((bytes_sent() - sent_before) / sum.steps) +
                       " bytes per step combining the ranks' gradients");
  if (o.common.json) std::printf("%s\n", summary_json(sum, o.dir).c_str());
  return kExitOk;
}

}  // namespace pw
