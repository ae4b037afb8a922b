// Loading a task file: the message, its hash and its validated configuration.
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

LoadedTask load_task(const std::string& path);

}  // namespace pw
