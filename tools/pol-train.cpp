// pol-train: the solver. Trains a task and writes its proof of learning, in one process
// or as data-parallel ranks of an MPI job (--data-parallel).
#include "cli/train_cli.hpp"
#include "proof/task_file.hpp"

using namespace pw;

int main(int argc, char** argv) {
  CLI::App app{"Train a proofwork task and write its proof of learning: checkpoints every k steps, a manifest with "
               "their hashes and Merkle root, and the seed-derived batch order. Run again on an unfinished "
               "PROOF_DIR, it resumes from the last complete checkpoint and ends with the same bits.",
               "pol-train"};
  TrainOptions o;
  add_train_options(app, o);
  add_distributed_options(app, o);
  Ranks ranks;
  const int rc = run_tool("pol-train", argc, argv, app, [&]() -> int {
    apply_common_options(o.common, true);
    const LoadedTask task = load_task(o.task);
    ranks = start_training_ranks(o, task.cfg);
    return run_training(task, load_task_dataset(task.cfg, o.data_dir), o, {}, ranks);
  });
  finish_ranks(ranks);
  return rc;
}
