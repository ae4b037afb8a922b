#include "proof/task_file.hpp"

#include "io/version.hpp"

namespace pw {

namespace {
// The version is checked first, naming the file, so a task from a newer build is
// refused as such rather than for whichever field it changed.
Message<schema::Task> task_message(Bytes bytes, const std::string& path) {
  auto msg = Message<schema::Task>::parse(std::move(bytes), "task '" + path + "'");
  guard_input("task '" + path + "'", [&] {
    check_version(FileKind::Task, msg.root().getFormatVersion(), "'" + path + "'");
  });
  return msg;
}

template <typename F>
auto naming_file(const std::string& path, F&& f) -> decltype(f()) {
  try {
    return guard_input("task '" + path + "'", f);
  } catch (const Error& e) {
    if (e.code != kExitBadInput) throw;
    bad_input("'" + path + "': " + e.what());
  }
}

Message<schema::Task> read_task_message(const std::string& path) {
  return task_message(read_file(path, kSmallFileLimit, "task"), path);
}
}  // namespace

LoadedTask parse_task(Bytes bytes, const std::string& path) {
  LoadedTask t{task_message(std::move(bytes), path), {}, {}};
  t.cfg = naming_file(path, [&] { return task_config(t.msg.root()); });
  t.hash = task_hash(t.msg.root());
  return t;
}

LoadedTask load_task(const std::string& path) { return parse_task(read_file(path, kSmallFileLimit, "task"), path); }

TaskConfig read_task_fields(const std::string& path) {
  const auto msg = read_task_message(path);
  return naming_file(path, [&] { return task_fields(msg.root()); });
}

WrittenTask write_task(const std::string& path, const TaskConfig& c, bool json) {
  capnp::MallocMessageBuilder mb;
  build_task(c, mb.initRoot<schema::Task>());
  const schema::Task::Reader t = mb.getRoot<schema::Task>().asReader();
  WrittenTask w{task_config(t), task_hash(t)};
  write_message<schema::Task>(path, mb, json);
  return w;
}

}  // namespace pw
