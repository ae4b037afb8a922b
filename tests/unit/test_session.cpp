// lib/proof/session and forge: a run stopped and resumed ends as one run did; a
// directory of another task is refused; a complete proof is not retrained; a driver
// that runs the steps itself writes the same proof; forgeries change what they name
// and resume like honest runs.
#include <doctest/doctest.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "io/file.hpp"
#include "proof/forge.hpp"
#include "proof/session.hpp"
#include "unit_helpers.hpp"

using namespace pw;
using pwtest::error_code_of;

namespace {

// task_description's task on the tiny set: 20 steps, a checkpoint every 5.
LoadedTask task_of(const pwtest::ScratchDir& dir, const std::string& name, uint64_t seed = 0x1234567890abcdefull) {
  return pwtest::tiny_task(dir, name, [seed](TaskConfig& c) { c.seed = seed; });
}

Dataset data_of(const LoadedTask& t) { return load_task_dataset(t.cfg, ""); }

SessionSummary train(const LoadedTask& task, const std::string& dir, SessionHooks hooks = {}) {
  Session s(task, data_of(task), {}, std::move(hooks));
  REQUIRE(s.open(dir) == SessionStart::Fresh);
  return s.run();
}

Bytes file_bytes(const std::string& path) { return read_file(path, size_t(1) << 30, "file"); }

// Every checkpoint file of `a` has the same bytes in `b`, and they list the same ones.
void check_same_files(const std::string& a, const std::string& b) {
  const Manifest ma = read_manifest(a, 1 << 20), mb = read_manifest(b, 1 << 20);
  REQUIRE(ma.checkpoints.size() == mb.checkpoints.size());
  for (size_t i = 0; i < ma.checkpoints.size(); i++) {
    INFO("checkpoint " << ma.checkpoints[i].file);
    CHECK(ma.checkpoints[i].file == mb.checkpoints[i].file);
    CHECK(file_bytes(join_path(a, ma.checkpoints[i].file)) == file_bytes(join_path(b, mb.checkpoints[i].file)));
  }
  CHECK(ma.batch_order == mb.batch_order);
  CHECK(ma.losses == mb.losses);
}

}  // namespace

TEST_CASE("session: one run writes a complete proof with the task's checkpoints and batch order") {
  pwtest::ScratchDir scratch;
  const LoadedTask task = task_of(scratch, "task.pwt");
  std::vector<int64_t> seen;
  SessionOptions o;
  o.on_step = [&](const Trainer& tr) { seen.push_back(tr.step); };
  Session s(task, data_of(task), o);
  CHECK(scratch.entries() == std::vector<std::string>{"task.pwt"});  // nothing written before open
  const std::string dir = scratch.file("proof");
  REQUIRE(s.open(dir) == SessionStart::Fresh);
  CHECK(s.first_step() == 0);
  CHECK(s.manifest().checkpoints.size() == 1);
  CHECK_FALSE(read_manifest(dir, 1 << 20).complete);
  const SessionSummary sum = s.run();
  CHECK(sum.steps == 20);
  CHECK(seen.size() == 20);
  CHECK(seen.front() == 1);
  CHECK(seen.back() == 20);
  const Manifest m = read_manifest(dir, 1 << 20);
  CHECK(m.complete);
  CHECK(m.task == task.hash);
  CHECK(m.root() == sum.root);
  CHECK(m.final_loss == sum.final_loss);
  CHECK(sum.test_accuracy == -1);  // the tiny task has no test set
  std::vector<int64_t> steps;
  for (const CheckpointInfo& c : m.checkpoints) steps.push_back(c.step);
  CHECK(steps == checkpoint_steps(task.cfg));
  CHECK(m.batch_order == batch_order(task.cfg, task.cfg.count));
  CHECK(m.batch == uint32_t(task.cfg.batch));
  CHECK(m.program == program_name());
  CHECK_FALSE(m.root_mismatch);
}

TEST_CASE("session: a run stopped and resumed ends with the bits of one run") {
  pwtest::ScratchDir scratch;
  const LoadedTask task = task_of(scratch, "task.pwt");
  const std::string whole = scratch.file("whole"), stopped = scratch.file("stopped");
  const SessionSummary one = train(task, whole);
  for (int64_t stop : {int64_t(1), int64_t(5), int64_t(7), int64_t(19)}) {
    CAPTURE(stop);
    std::filesystem::remove_all(stopped);
    {
      Session s(task, data_of(task));
      REQUIRE(s.open(stopped) == SessionStart::Fresh);
      while (s.trainer().step < stop) s.step();
    }  // stopped: the manifest lists the checkpoints up to the last multiple of 5
    // Left by a killed writer: 2^22 + 1 is above Linux's largest pid_max, so no process has
    // it (a small pid such as 999 may belong to a live process at that moment).
    const std::string stale = join_path(stopped, "ckpt-00000010.pwc.tmp.4194305");
    write_file_atomic(stale, Bytes(3, 1));
    Session s(task, data_of(task));
    REQUIRE(s.open(stopped) == SessionStart::Resumed);
    CHECK(s.first_step() == stop / 5 * 5);
    CHECK_FALSE(file_exists(stale));
    const SessionSummary rest = s.run();
    CHECK(rest.steps == 20 - stop / 5 * 5);
    CHECK(rest.root == one.root);
    CHECK(rest.final_loss == one.final_loss);
    // The losses of the steps after the last checkpoint are recorded once, as one run's.
    CHECK(s.manifest().losses == read_manifest(whole, 1 << 20).losses);
    CHECK(s.manifest().losses.size() == 20);
    check_same_files(whole, stopped);
  }
}

TEST_CASE("session: a driver that runs the steps itself writes the same proof") {
  pwtest::ScratchDir scratch;
  const LoadedTask task = task_of(scratch, "task.pwt");
  const SessionSummary one = train(task, scratch.file("one"));
  Session s(task, data_of(task));
  REQUIRE(s.open(scratch.file("driven")) == SessionStart::Fresh);
  while (!s.done()) {
    s.trainer().run_step();  // stands in for a step computed across ranks
    s.checkpoint();
    s.checkpoint();  // a second call writes nothing more
  }
  CHECK(s.finish().root == one.root);
  CHECK(s.manifest().losses == read_manifest(scratch.file("one"), 1 << 20).losses);  // one loss per step
  check_same_files(scratch.file("one"), scratch.file("driven"));
  CHECK(error_code_of([&] { s.step(); }) == kExitInternal);  // past the last step
  CHECK(error_code_of([&] { s.write_checkpoint(15); }) == kExitInternal);  // out of step order
  check_same_files(scratch.file("one"), scratch.file("driven"));
}

TEST_CASE("session: a directory holding another task's proof is refused") {
  pwtest::ScratchDir scratch;
  const LoadedTask task = task_of(scratch, "task.pwt"), other = task_of(scratch, "other.pwt", 99);
  REQUIRE(task.hash != other.hash);
  const std::string done = scratch.file("done"), half = scratch.file("half");
  train(other, done);
  {
    Session s(other, data_of(other));
    s.open(half);
    for (int i = 0; i < 7; i++) s.step();
  }
  for (const std::string& dir : {done, half}) {
    CAPTURE(dir);
    const Bytes before = file_bytes(join_path(dir, kManifestName));
    Session s(task, data_of(task));
    CHECK(error_code_of([&] { s.open(dir); }) == kExitBadInput);
    CHECK(pwtest::error_message_of([&] { s.open(dir); }).find("holds a proof of another task") != std::string::npos);
    CHECK(file_bytes(join_path(dir, kManifestName)) == before);  // left as it was
  }
  // A manifest whose checkpoints do not follow the task's interval.
  Manifest m = read_manifest(half, 1 << 20);
  m.task = task.hash;
  m.checkpoints[1].step = 4;
  write_manifest(half, m);
  Session s(task, data_of(task));
  CHECK(pwtest::error_message_of([&] { s.open(half); }).find("do not follow the task's interval") != std::string::npos);
  // A last checkpoint that is gone: it cannot resume.
  m.checkpoints[1].step = 5;
  write_manifest(half, m);
  std::filesystem::remove(join_path(half, m.checkpoints[1].file));
  CHECK(error_code_of([&] { s.open(half); }) == kExitBadInput);
  CHECK(pwtest::error_message_of([&] { s.open(half); }).find("cannot resume") != std::string::npos);
}

TEST_CASE("session: a complete proof is not retrained") {
  pwtest::ScratchDir scratch;
  const LoadedTask task = task_of(scratch, "task.pwt");
  const std::string dir = scratch.file("proof");
  const SessionSummary one = train(task, dir);
  std::vector<std::pair<std::string, Bytes>> before;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    before.emplace_back(e.path().string(), file_bytes(e.path().string()));
  int steps = 0;
  SessionOptions o;
  o.on_step = [&](const Trainer&) { steps++; };
  Session s(task, data_of(task), o);
  REQUIRE(s.open(dir) == SessionStart::Complete);
  CHECK(s.done());
  const SessionSummary again = s.run();
  CHECK(steps == 0);
  CHECK(again.steps == 0);
  CHECK(again.root == one.root);
  CHECK(again.final_loss == one.final_loss);
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    files++;
    bool same = false;
    for (const auto& [path, bytes] : before) same |= path == e.path().string() && bytes == file_bytes(path);
    CHECK_MESSAGE(same, e.path().string());
  }
  CHECK(files == before.size());
}

TEST_CASE("forge: each forgery changes the proof it names, and resumes like an honest run") {
  pwtest::ScratchDir scratch;
  const LoadedTask task = task_of(scratch, "task.pwt");
  const Manifest honest = [&] {
    train(task, scratch.file("honest"));
    return read_manifest(scratch.file("honest"), 1 << 20);
  }();
  // The first checkpoint whose state differs from the honest proof's (-1: none).
  auto first_forged = [&](const Forgery& f, const std::string& name) {
    const std::string dir = scratch.file(name);
    Session s(task, f.other_data.empty() ? data_of(task) : load_other_dataset(task.cfg, f.other_data), {},
              forge_hooks(f));
    REQUIRE(s.open(dir) == SessionStart::Fresh);
    s.run();
    const Manifest m = read_manifest(dir, 1 << 20);
    REQUIRE(m.checkpoints.size() == honest.checkpoints.size());
    CHECK(m.task == task.hash);  // recorded as if honest
    CHECK(m.complete);
    for (size_t i = 0; i < m.checkpoints.size(); i++)
      if (m.checkpoints[i].state != honest.checkpoints[i].state) return int(i);
    return -1;
  };
  // Each forgery, and the first checkpoint it makes wrong (segment s ends at checkpoint s+1).
  struct Case {
    const char* name;
    std::function<void(Forgery&)> make;
    int first;
  };
  const std::string other_data = std::string(PW_FIXTURES) + "/tiny-other";
  for (const Case& c : std::vector<Case>{
           {"skip", [](Forgery& f) { f.skip_step = 7; }, 2},
           {"fault", [](Forgery& f) { f.fault = parse_fault("12:3:1", "--inject-fault"); }, 3},
           {"init", [](Forgery& f) { f.init_seed = 5; }, 0},
           {"order", [](Forgery& f) { f.order_seed = 5; }, 1},
           {"segment", [](Forgery& f) { f.skip_segments = {2}; }, 3},
           {"perturb", [](Forgery& f) { f.perturb_segments = {3}; }, 4},
           {"lr", [](Forgery& f) { f.lr_scale = 1.1; }, 1},
           {"shortcut", [](Forgery& f) { f.shortcut = 2, f.dress_noise = 1e-4; }, 1},
           {"other", [&](Forgery& f) { f.other_data = other_data; }, 1},
           {"line", [](Forgery& f) { f.interpolate = true; }, 1},
       }) {
    CAPTURE(c.name);
    Forgery f;
    c.make(f);
    CHECK(first_forged(f, c.name) == c.first);
  }
  CHECK(read_manifest(scratch.file("order"), 1 << 20).batch_order != honest.batch_order);  // recorded as trained
  {  // skipped segment 2: checkpoint 3 holds checkpoint 2's tensors
    const Manifest m = read_manifest(scratch.file("segment"), 1 << 20);
    const Tape tape = tape_for(task.cfg);
    Workspace a(tape), b(tape);
    read_checkpoint(scratch.file("segment"), m.checkpoints[2], tape, task.hash, a);
    read_checkpoint(scratch.file("segment"), m.checkpoints[3], tape, task.hash, b);
    for (int id : checkpoint_tensors(tape)) CHECK(a.t[size_t(id)] == b.t[size_t(id)]);
  }
  // Interpolated: the last checkpoint is the true final state.
  CHECK(read_manifest(scratch.file("line"), 1 << 20).checkpoints.back().state == honest.checkpoints.back().state);

  // Stopped after 12 steps and resumed with the same forgery: the bits of one forged run.
  Forgery both;
  both.skip_step = 3;
  both.fault = parse_fault("16:1:0", "--inject-fault");
  train(task, scratch.file("both"), forge_hooks(both));
  {
    Session s(task, data_of(task), {}, forge_hooks(both));
    s.open(scratch.file("both-stopped"));
    while (s.trainer().step < 12) s.step();
  }
  Session s(task, data_of(task), {}, forge_hooks(both));
  REQUIRE(s.open(scratch.file("both-stopped")) == SessionStart::Resumed);
  s.run();
  check_same_files(scratch.file("both"), scratch.file("both-stopped"));
}

TEST_CASE("forge: forgeries outside the task, none at all, or state changes on a GPU are usage errors") {
  pwtest::ScratchDir scratch;
  const LoadedTask task = task_of(scratch, "task.pwt");  // 20 steps, 4 segments, 16 ops
  auto code = [&](const Forgery& f, DeviceKind d = DeviceKind::Cpu) {
    return error_code_of([&] { check_forgery(f, task.cfg, d); });
  };
  CHECK(code(Forgery{}) == kExitUsage);
  Forgery noise_only;
  noise_only.dress_noise = 0.1;
  CHECK(code(noise_only) == kExitUsage);
  Forgery f;
  f.skip_step = 19;
  CHECK(code(f) == -1);
  f.skip_step = 20;
  CHECK(code(f) == kExitUsage);
  f = {};
  f.skip_segments = {3};
  CHECK(code(f) == -1);
  f.skip_segments = {4};
  CHECK(code(f) == kExitUsage);
  f.skip_segments = {-1};
  CHECK(code(f) == kExitUsage);
  f = {};
  f.perturb_segments = {0, 4};
  CHECK(code(f) == kExitUsage);
  f = {};
  f.shortcut = 0;
  CHECK(code(f) == kExitUsage);
  f = {};
  f.lr_scale = -1;
  CHECK(code(f) == kExitUsage);
  f = {};
  f.fault = parse_fault("19:15:0", "--inject-fault");
  CHECK(code(f) == -1);
  CHECK(code(f, DeviceKind::Cuda) == -1);  // the fault runs on the GPU
  f.fault = parse_fault("19:16:0", "--inject-fault");  // past the tape
  CHECK(code(f) == kExitUsage);
  f.fault = parse_fault("20:1:0", "--inject-fault");  // past the task
  CHECK(code(f) == kExitUsage);
  CHECK(error_code_of([] { parse_fault("1:2", "--inject-fault"); }) == kExitUsage);
  for (auto make : std::vector<std::function<void(Forgery&)>>{
           [](Forgery& g) { g.skip_step = 1; }, [](Forgery& g) { g.skip_segments = {1}; },
           [](Forgery& g) { g.perturb_segments = {1}; }, [](Forgery& g) { g.interpolate = true; },
           [](Forgery& g) { g.shortcut = 2; }}) {
    Forgery g;
    make(g);
    CHECK(code(g) == -1);
    CHECK(code(g, DeviceKind::Cuda) == kExitUsage);
  }
  // Other data of another shape is bad input.
  TaskConfig wide = task.cfg;
  wide.count = 999;
  CHECK(error_code_of([&] { load_other_dataset(wide, std::string(PW_FIXTURES) + "/tiny-other"); }) == kExitBadInput);
  CHECK(error_code_of([&] { load_other_dataset(task.cfg, scratch.file("nowhere")); }) == kExitBadInput);
}
