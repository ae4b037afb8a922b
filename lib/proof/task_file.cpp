#include "proof/task_file.hpp"

namespace pw {

LoadedTask load_task(const std::string& path) {
  LoadedTask t{Message<schema::Task>::read(path, kSmallFileLimit, "task"), {}, {}};
  try {
    t.cfg = guard_input("task '" + path + "'", [&] { return task_config(t.msg.root()); });
  } catch (const Error& e) {
    bad_input("'" + path + "': " + e.what());
  }
  t.hash = task_hash(t.msg.root());
  return t;
}

}  // namespace pw
