// Task files (proofwork-files(5), TASK): reading one into its hash and validated
// configuration, and writing one from a plain description (pol-task's library side).
#pragma once
#include <string>

#include "io/message.hpp"
#include "train/task.hpp"

namespace pw {

struct LoadedTask {
  Message<schema::Task> msg;
  TaskConfig cfg;
  Hash hash{};
};

// Reads and validates a task (task_config); any fault is bad input (exit 3) naming
// the file. "-" reads stdin.
LoadedTask load_task(const std::string& path);
// load_task of bytes already read (at most kSmallFileLimit), `path` naming them.
LoadedTask parse_task(Bytes bytes, const std::string& path);

// A task's fields as written (task_fields), version checked, for a writer to start
// from and change (pol-task --from): bad input naming the file on any fault.
TaskConfig read_task_fields(const std::string& path);

// Writes the task `c` describes (build_task: the current version, the program's
// provenance, the derived FLOP budget) as binary, or as JSON when `json`, after
// reading it back with task_config, so that nothing written here is a task load_task
// refuses. `c`'s dataset commitments must be filled in (train/dataset.hpp's
// commit_dataset). Returns the written task, as load_task would see it.
struct WrittenTask {
  TaskConfig cfg;
  Hash hash{};
};
WrittenTask write_task(const std::string& path, const TaskConfig& c, bool json);

}  // namespace pw
