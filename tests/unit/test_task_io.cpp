// Tasks written and read by one set of rules (train/task.hpp, proof/task_file.hpp),
// the FLOP budget's one rule, the task's format version, and pol-export's library
// side: tensors chosen by their role on the tape, the safetensors layout, JSON quoting.
#include <doctest/doctest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/program.hpp"
#include "io/json.hpp"
#include "io/message.hpp"
#include "io/safetensors.hpp"
#include "io/version.hpp"
#include "proof/export.hpp"
#include "proof/proof.hpp"
#include "proof/task_file.hpp"
#include "train/task.hpp"
#include "train/trainer.hpp"
#include "unit_helpers.hpp"

using pwtest::error_code_of;

namespace {

struct TaskMessage {
  capnp::MallocMessageBuilder mb;
  pw::schema::Task::Builder t = mb.initRoot<pw::schema::Task>();
  explicit TaskMessage(const std::function<void(pw::schema::Task::Builder)>& mutate = nullptr) {
    pwtest::fill_task(t);
    if (mutate) mutate(t);
  }
};

pw::TaskConfig base_config() {
  TaskMessage m;
  return pw::task_config(m.t.asReader());
}

// build_task's message read back by the reader.
pw::TaskConfig round_trip(const pw::TaskConfig& c) {
  capnp::MallocMessageBuilder mb;
  pw::build_task(c, mb.initRoot<pw::schema::Task>());
  return pw::task_config(mb.getRoot<pw::schema::Task>().asReader());
}

std::vector<std::string> names_of(const pw::Tape& t, const std::vector<int>& ids) {
  std::vector<std::string> n;
  for (int id : ids) n.push_back(t.tensors[size_t(id)].name);
  return n;
}

// Every checkpoint tensor filled with its index and position, so a mix-up shows.
void number_state(const pw::Tape& tape, pw::Workspace& ws) {
  const auto ids = pw::checkpoint_tensors(tape);
  for (size_t i = 0; i < ids.size(); i++) {
    auto& v = ws.t[size_t(ids[i])];
    for (size_t e = 0; e < v.size(); e++) v[e] = float(i) * 1000.0f + float(e) * 0.5f;
  }
}

struct Safetensors {
  uint64_t header_length = 0;
  std::string header;
  pw::Bytes data;
};

Safetensors split(const pw::Bytes& b) {
  Safetensors s;
  REQUIRE(b.size() >= 8);
  for (int i = 0; i < 8; i++) s.header_length |= uint64_t(b[size_t(i)]) << (8 * i);
  REQUIRE(8 + s.header_length <= b.size());
  s.header.assign(b.begin() + 8, b.begin() + 8 + long(s.header_length));
  s.data.assign(b.begin() + 8 + long(s.header_length), b.end());
  return s;
}

}  // namespace

// ---------------------------------------------------------------- FLOP budget

TEST_CASE("one FLOP count: the tape's, the task's budget and the reader's rule agree") {
  const std::vector<int> w = {784, 32, 10};
  CHECK(pw::mlp_flops_per_step(w, 10) == 6LL * 10 * (784 * 32 + 32 * 10));
  CHECK(pw::build_mlp_tape(w, 10, pw::OptimizerType::Adamw).flops_per_step() == pw::mlp_flops_per_step(w, 10));
  const pw::TaskConfig c = base_config();
  CHECK(pw::task_budget_flops(c) == 30489600.0);  // fill_task's batch 10, 20 steps
  CHECK(c.budget_flops == pw::task_budget_flops(c));
  // 0 means "derive": the reader fills it in, so no reader ever sees a 0 budget.
  TaskMessage zero([](pw::schema::Task::Builder t) { t.setBudgetFlops(0); });
  CHECK(pw::task_config(zero.t.asReader()).budget_flops == 30489600.0);
  // Any other value must be the derived one, to the last bit.
  for (double wrong : {30489601.0, 30489600.0 * 2, -30489600.0, 1e300}) {
    TaskMessage m([&](pw::schema::Task::Builder t) { t.setBudgetFlops(wrong); });
    CHECK(error_code_of([&] { pw::task_config(m.t.asReader()); }) == pw::kExitBadInput);
    CHECK(pwtest::error_message_of([&] { pw::task_config(m.t.asReader()); }).find("budgetFlops") != std::string::npos);
  }
  // The largest task the reader accepts has a budget that int64 and double both hold
  // exactly per step: 6 · 2^20 · 2^31 < 2^63.
  pw::TaskConfig big = c;
  big.batch = 1 << 20;
  big.widths = {1 << 20, 2047, 2};
  CHECK(pw::mlp_flops_per_step(big.widths, big.batch) > 0);
}

// ---------------------------------------------------------------- task writer

TEST_CASE("build_task writes what task_config reads back, field for field") {
  pw::TaskConfig c = base_config();
  c.budget_flops = 0;  // derive
  c.optimizer = pw::OptimizerType::Adamw;
  c.beta1 = 0.8;
  c.beta2 = 0.99;
  c.eps = 1e-6;
  c.schedule = pw::ScheduleType::Cosine;
  c.warmup_steps = 3;
  c.min_lr = 1e-4;
  c.exact = false;
  c.seed = 99;
  c.input_scale = 0.5f;
  c.test_images = "t10k-images";
  c.test_labels = "t10k-labels";
  c.test_images_hash = pwtest::filled_hash(5);
  c.test_labels_hash = pwtest::filled_hash(6);
  c.cut.layer = 1;
  c.cut.forward_bits = 2;
  c.cut.backward_bits = 4;
  c.cut.samples = c.count;
  const pw::TaskConfig r = round_trip(c);
  CHECK(r.widths == c.widths);
  CHECK(r.batch == c.batch);
  CHECK(r.steps == c.steps);
  CHECK(r.checkpoint_every == c.checkpoint_every);
  CHECK(r.seed == 99);
  CHECK_FALSE(r.exact);
  CHECK(r.optimizer == pw::OptimizerType::Adamw);
  CHECK(r.lr == c.lr);
  CHECK(r.momentum == c.momentum);
  CHECK(r.weight_decay == c.weight_decay);
  CHECK(r.beta1 == 0.8);
  CHECK(r.beta2 == 0.99);
  CHECK(r.eps == 1e-6);
  CHECK(r.schedule == pw::ScheduleType::Cosine);
  CHECK(r.warmup_steps == 3);
  CHECK(r.min_lr == 1e-4);
  CHECK(r.input_scale == 0.5f);
  CHECK(r.budget_flops == pw::task_budget_flops(c));
  CHECK(r.train_images == c.train_images);
  CHECK(r.test_labels == "t10k-labels");
  CHECK(r.train_images_hash == c.train_images_hash);
  CHECK(r.test_images_hash == pwtest::filled_hash(5));
  CHECK(r.test_labels_hash == pwtest::filled_hash(6));
  CHECK(r.content_hash == c.content_hash);
  CHECK(r.sample_root == c.sample_root);
  CHECK(r.count == c.count);
  CHECK(r.rows == c.rows);
  CHECK(r.cols == c.cols);
  CHECK(r.classes == c.classes);
  CHECK(r.cut.layer == 1);
  CHECK(r.cut.forward_bits == 2);
  CHECK(r.cut.backward_bits == 4);
  CHECK(r.cut.samples == c.count);
  // A step schedule's size and gamma.
  pw::TaskConfig s = base_config();
  s.schedule = pw::ScheduleType::Step;
  s.step_size = 7;
  s.gamma = 0.5;
  const pw::TaskConfig rs = round_trip(s);
  CHECK(rs.schedule == pw::ScheduleType::Step);
  CHECK(rs.step_size == 7);
  CHECK(rs.gamma == 0.5);
}

TEST_CASE("build_task stamps the current version, the program's provenance and the derived budget") {
  pw::TaskConfig c = base_config();
  c.budget_flops = 0;
  capnp::MallocMessageBuilder mb;
  pw::build_task(c, mb.initRoot<pw::schema::Task>());
  auto t = mb.getRoot<pw::schema::Task>().asReader();
  CHECK(t.getFormatVersion() == pw::current_version(pw::FileKind::Task));
  CHECK(t.getBudgetFlops() == 30489600.0);
  CHECK(std::string(t.getProvenance().getProgram().cStr()) == pw::program_name());
  CHECK(std::string(t.getProvenance().getVersion().cStr()) == pw::version());
  CHECK(std::string(t.getProvenance().getCommandLine().cStr()) == pw::command_line());
  CHECK(std::string(t.getModel().getActivation().cStr()) == "relu");
  CHECK(std::string(t.getDataset().getFormat().cStr()) == "idx");
  CHECK_FALSE(t.hasCut());  // no cut: no field, so the task hashes as before the field existed
  // Absent test files: empty paths and no hashes.
  CHECK(t.getDataset().getTestImages().getPath().size() == 0);
  CHECK(t.getDataset().getTestImages().getHash().size() == 0);
}

TEST_CASE("build_task refuses a description the reader would refuse, and writes nothing") {
  auto code = [](const std::function<void(pw::TaskConfig&)>& mutate) {
    pw::TaskConfig c = base_config();
    mutate(c);
    capnp::MallocMessageBuilder mb;
    return error_code_of([&] { pw::build_task(c, mb.initRoot<pw::schema::Task>()); });
  };
  const int bad = pw::kExitBadInput;
  CHECK(code([](pw::TaskConfig&) {}) == -1);
  CHECK(code([](pw::TaskConfig& c) { c.budget_flops = 0; }) == -1);
  CHECK(code([](pw::TaskConfig& c) { c.budget_flops = 1e9; }) == bad);  // a stale budget: not silently replaced
  CHECK(code([](pw::TaskConfig& c) { c.batch = int(c.count) + 1; }) == bad);
  CHECK(code([](pw::TaskConfig& c) { c.widths = {784}; }) == bad);
  CHECK(code([](pw::TaskConfig& c) { c.widths.back() = 9; }) == bad);
  CHECK(code([](pw::TaskConfig& c) { c.lr = 0; }) == bad);
  CHECK(code([](pw::TaskConfig& c) { c.steps = int64_t(1) << 32; }) == bad);  // the file's field is 32 bits
  CHECK(code([](pw::TaskConfig& c) { c.step_size = -1; }) == bad);
  CHECK(code([](pw::TaskConfig& c) { c.test_images = "x"; }) == bad);  // without test labels
  CHECK(code([](pw::TaskConfig& c) { c.train_labels.clear(); }) == bad);
  CHECK(code([](pw::TaskConfig& c) { c.cut = {1, 5, 8, c.count}; }) == bad);    // bits
  CHECK(code([](pw::TaskConfig& c) { c.cut = {2, 2, 8, c.count}; }) == bad);    // no hidden layer 2
  CHECK(code([](pw::TaskConfig& c) { c.cut = {1, 2, 8, c.count}; }) == -1);
  // write_task writes no file when the description is refused.
  pwtest::ScratchDir dir;
  pw::TaskConfig c = base_config();
  c.lr = -1;
  CHECK(error_code_of([&] { pw::write_task(dir.file("t.pwt"), c, false); }) == bad);
  CHECK(dir.entries().empty());
}

TEST_CASE("write_task and load_task: the written task is the one read, in either form") {
  pwtest::ScratchDir dir;
  pw::TaskConfig c = base_config();
  c.budget_flops = 0;
  for (bool json : {false, true}) {
    const std::string path = dir.file(json ? "t.json" : "t.pwt");
    const pw::WrittenTask w = pw::write_task(path, c, json);
    const pw::LoadedTask l = pw::load_task(path);
    CHECK(l.hash == w.hash);
    CHECK(l.cfg.budget_flops == w.cfg.budget_flops);
    CHECK(l.cfg.widths == c.widths);
    CHECK(pw::read_task_fields(path).budget_flops == w.cfg.budget_flops);
  }
  // The same description written twice by the same program: the same task.
  CHECK(pw::write_task(dir.file("a.pwt"), c, false).hash == pw::write_task(dir.file("b.pwt"), c, false).hash);
}

// ---------------------------------------------------------------- version and fields

TEST_CASE("a task of a newer format version is refused as newer (exit 3), by every path in") {
  const uint32_t next = pw::current_version(pw::FileKind::Task) + 1;
  TaskMessage newer([&](pw::schema::Task::Builder t) { t.setFormatVersion(next); });
  CHECK(error_code_of([&] { pw::task_config(newer.t.asReader()); }) == pw::kExitBadInput);
  CHECK(error_code_of([&] { pw::task_fields(newer.t.asReader()); }) == pw::kExitBadInput);
  CHECK(pwtest::error_message_of([&] { pw::task_fields(newer.t.asReader()); }).find("is newer than this build reads") !=
        std::string::npos);
  TaskMessage none([](pw::schema::Task::Builder t) { t.setFormatVersion(0); });
  CHECK(pwtest::error_message_of([&] { pw::task_config(none.t.asReader()); }).find("not a proofwork task") != std::string::npos);
  // From a file: the message names the file and says which side is out of date.
  pwtest::ScratchDir dir;
  const std::string path = dir.file("newer.pwt");
  pw::write_file_atomic(path, pw::to_binary(newer.mb));
  for (auto read : std::vector<std::function<void()>>{[&] { pw::load_task(path); }, [&] { pw::read_task_fields(path); }}) {
    CHECK(error_code_of(read) == pw::kExitBadInput);
    const std::string msg = pwtest::error_message_of(read);
    CHECK(msg.find("'" + path + "': task format version " + std::to_string(next) + " is newer") == 0);
    CHECK(msg.find("upgrade proofwork") != std::string::npos);
  }
}

TEST_CASE("task_fields keeps what check_task refuses, so a writer can correct it") {
  TaskMessage m([](pw::schema::Task::Builder t) {
    t.setBatch(5000);           // more than the 1000 samples
    t.setBudgetFlops(12345);    // stale
  });
  pw::TaskConfig c = pw::task_fields(m.t.asReader());
  CHECK(c.batch == 5000);
  CHECK(c.budget_flops == 12345);
  CHECK(error_code_of([&] { pw::check_task(c); }) == pw::kExitBadInput);
  c.batch = 10;
  c.budget_flops = 0;
  CHECK(error_code_of([&] { pw::check_task(c); }) == -1);
  // What a description cannot hold is refused at once.
  const int bad = pw::kExitBadInput;
  auto fields_code = [](const std::function<void(pw::schema::Task::Builder)>& mutate) {
    TaskMessage t(mutate);
    return error_code_of([&] { pw::task_fields(t.t.asReader()); });
  };
  CHECK(fields_code([](pw::schema::Task::Builder t) { t.getModel().setKind("cnn"); }) == bad);
  CHECK(fields_code([](pw::schema::Task::Builder t) { t.getDataset().setFormat("csv"); }) == bad);
  CHECK(fields_code([](pw::schema::Task::Builder t) { t.getOptimizer().setKind(pw::schema::OptimizerKind(7)); }) == bad);
  CHECK(fields_code([](pw::schema::Task::Builder t) { t.setMode(pw::schema::Mode(2)); }) == bad);
  CHECK(fields_code([](pw::schema::Task::Builder t) { t.getSchedule().setKind(pw::schema::ScheduleKind(9)); }) == bad);
  CHECK(fields_code([](pw::schema::Task::Builder t) { t.getDataset().setSampleRoot(capnp::Data::Reader()); }) == -1);
  CHECK(fields_code([](pw::schema::Task::Builder t) {
          const uint8_t three[3] = {1, 2, 3};
          t.getDataset().setContentHash(capnp::Data::Reader(three, 3));
        }) == bad);
  // A cut field after layer 0 is not "no cut": refused, as before.
  CHECK(fields_code([](pw::schema::Task::Builder t) { t.initCut().setForwardBits(2); }) == bad);
  // Widths beyond the limit stay beyond it (clamped, not wrapped to a valid width).
  TaskMessage wide([](pw::schema::Task::Builder t) { t.getModel().getWidths().set(1, 0xffffffffu); });
  const pw::TaskConfig w = pw::task_fields(wide.t.asReader());
  CHECK(w.widths[1] > pw::kMaxWidth);
  CHECK(error_code_of([&] { pw::check_task(w); }) == bad);
}

TEST_CASE("parse_schedule_spec") {
  pw::TaskConfig c;
  pw::parse_schedule_spec("step:15:0.5", c);
  CHECK(c.schedule == pw::ScheduleType::Step);
  CHECK(c.step_size == 15);
  CHECK(c.gamma == 0.5);
  pw::parse_schedule_spec("step:4", c);  // parts not given go back to the defaults
  CHECK(c.step_size == 4);
  CHECK(c.gamma == 0.1);
  pw::parse_schedule_spec("cosine:5:0.0001", c);
  CHECK(c.schedule == pw::ScheduleType::Cosine);
  CHECK(c.warmup_steps == 5);
  CHECK(c.min_lr == 0.0001);
  CHECK(c.step_size == 0);
  pw::parse_schedule_spec("cosine", c);
  CHECK(c.warmup_steps == 0);
  CHECK(c.min_lr == 0);
  pw::parse_schedule_spec("constant", c);
  CHECK(c.schedule == pw::ScheduleType::Constant);
  for (const char* bad : {"", "linear", "constant:1", "step", "step:", "step:1.5", "step:-1", "step:5:x", "step:1:2:3",
                          "cosine:1:2:3", "cosine:nan", "cosine:1:inf", "step:4294967296", "step:1e3x"}) {
    INFO(bad);
    pw::TaskConfig d;
    CHECK(error_code_of([&] { pw::parse_schedule_spec(bad, d); }) == pw::kExitUsage);
  }
}

// ---------------------------------------------------------------- export

TEST_CASE("json_string quotes and escapes") {
  CHECK(pw::json_string("0.weight") == "\"0.weight\"");
  CHECK(pw::json_string("") == "\"\"");
  CHECK(pw::json_string("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(pw::json_string("x\ny\tz") == "\"x\\ny\\u0009z\"");
  CHECK(pw::json_string(std::string("\x01\x1f", 2)) == "\"\\u0001\\u001f\"");
  CHECK(pw::json_string("d\xc3\xa9j\xc3\xa0") == "\"d\xc3\xa9j\xc3\xa0\"");  // UTF-8 passes through
}

TEST_CASE("safetensors_bytes: length, header, alignment, offsets, data") {
  const std::vector<pw::SafetensorsTensor> ts = {{"w", {2, 3}, {1, 2, 3, 4, 5, 6}}, {"b", {2}, {-1, 0.5f}}};
  const pw::Bytes b = pw::safetensors_bytes({{"format", "pt"}, {"note", "a \"quoted\" line\n"}}, ts);
  const Safetensors s = split(b);
  CHECK((8 + s.header_length) % 8 == 0);
  const std::string want =
      "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"a \\\"quoted\\\" line\\n\"},"
      "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]}}";
  CHECK(s.header.substr(0, want.size()) == want);
  CHECK(s.header.find_first_not_of(' ', want.size()) == std::string::npos);  // padded with spaces
  REQUIRE(s.data.size() == 32);
  float got[8];
  std::memcpy(got, s.data.data(), 32);
  CHECK(got[0] == 1);
  CHECK(got[5] == 6);
  CHECK(got[6] == -1);
  CHECK(got[7] == 0.5f);
  // A tensor that does not hold its shape is the caller's bug.
  CHECK(error_code_of([] { pw::safetensors_bytes({}, {{"x", {2, 2}, {1, 2, 3}}}); }) == pw::kExitInternal);
}

TEST_CASE("checkpoint_tape: the model a checkpoint's tensor list belongs to") {
  pw::CutSpec cut;
  cut.layer = 1;
  cut.forward_bits = 2;
  cut.samples = 7;
  struct Case {
    std::vector<int> widths;
    pw::OptimizerType opt;
    pw::CutSpec cut;
  };
  // {10, 6, 10}: the optimizer state after the parameters also chains (10 -> 6 -> 10
  // -> 6 ...), so the names must settle which prefix is the model.
  const std::vector<Case> cases = {{{6, 5, 3}, pw::OptimizerType::Sgd, {}},
                                   {{6, 5, 3}, pw::OptimizerType::Adamw, {}},
                                   {{10, 6, 10}, pw::OptimizerType::Sgd, {}},
                                   {{10, 6, 10}, pw::OptimizerType::Adamw, cut},
                                   {{4, 1, 2}, pw::OptimizerType::Sgd, {}},
                                   {{6, 4, 4, 3}, pw::OptimizerType::Sgd, {2, 4, 8, 7}},
                                   {{6, 4, 4, 3}, pw::OptimizerType::Adamw, cut},
                                   {{6, 3}, pw::OptimizerType::Sgd, {}}};
  for (const Case& k : cases) {
    pwtest::ScratchDir dir;
    const pw::Tape tape = pw::build_mlp_tape(k.widths, 4, k.opt, k.cut);
    pw::Workspace ws(tape);
    const pw::CheckpointInfo info = pw::write_checkpoint(dir.path, tape, ws, 0, pwtest::filled_hash(1));
    auto msg = pw::Message<pw::schema::Checkpoint>::read(dir.file(info.file), size_t(1) << 20, "ckpt");
    const pw::Tape got = pw::checkpoint_tape(msg.root(), "ckpt");
    CHECK(got.widths == k.widths);
    CHECK(got.optimizer == k.opt);
    CHECK(got.cut.layer == k.cut.layer);
    CHECK(names_of(got, pw::checkpoint_tensors(got)) == names_of(tape, pw::checkpoint_tensors(tape)));
    for (size_t i = 0; i < pw::checkpoint_tensors(got).size(); i++)
      CHECK(got.tensors[size_t(pw::checkpoint_tensors(got)[i])].role ==
            tape.tensors[size_t(pw::checkpoint_tensors(tape)[i])].role);
  }
}

TEST_CASE("checkpoint_tape refuses a tensor list no MLP checkpoint has") {
  const pw::Tape tape = pw::build_mlp_tape({6, 5, 3}, 4, pw::OptimizerType::Sgd);
  const auto ids = pw::checkpoint_tensors(tape);
  // rename: the tensor at `i` renamed; reshape: its shape changed; drop: the last left out.
  auto code = [&](const std::function<std::string(size_t, const pw::TensorSpec&)>& name,
                  const std::function<std::vector<uint64_t>(size_t, const pw::TensorSpec&)>& shape, size_t count) {
    capnp::MallocMessageBuilder mb;
    auto c = mb.initRoot<pw::schema::Checkpoint>();
    auto ts = c.initTensors(unsigned(count));
    for (size_t i = 0; i < count; i++) {
      const pw::TensorSpec& s = tape.tensors[size_t(ids[i])];
      ts[unsigned(i)].setName(name(i, s));
      auto sh = ts[unsigned(i)].initShape(unsigned(shape(i, s).size()));
      for (size_t d = 0; d < shape(i, s).size(); d++) sh.set(unsigned(d), shape(i, s)[d]);
    }
    return error_code_of([&] { pw::checkpoint_tape(c.asReader(), "ckpt"); });
  };
  auto same_name = [](size_t, const pw::TensorSpec& s) { return s.name; };
  auto same_shape = [](size_t, const pw::TensorSpec& s) { return pw::shape_of(s).dims; };
  CHECK(code(same_name, same_shape, ids.size()) == -1);
  CHECK(code(same_name, same_shape, ids.size() - 1) == pw::kExitBadInput);
  CHECK(code([](size_t i, const pw::TensorSpec& s) { return i == 5 ? "0.bias.exp_avg" : s.name; }, same_shape,
             ids.size()) == pw::kExitBadInput);
  CHECK(code([](size_t i, const pw::TensorSpec& s) { return i == 0 ? "layer0.weight" : s.name; }, same_shape,
             ids.size()) == pw::kExitBadInput);
  CHECK(code(same_name,
             [](size_t i, const pw::TensorSpec& s) {
               return i == 4 ? std::vector<uint64_t>{5, 7} : pw::shape_of(s).dims;  // momentum of another shape
             },
             ids.size()) == pw::kExitBadInput);
  CHECK(code(same_name,
             [](size_t i, const pw::TensorSpec& s) {
               return i == 0 ? std::vector<uint64_t>{uint64_t(1) << 40, 6} : pw::shape_of(s).dims;
             },
             ids.size()) == pw::kExitBadInput);
  CHECK(code(same_name, same_shape, 0) == pw::kExitBadInput);
}

TEST_CASE("export_checkpoint chooses tensors by role and checks the file against its manifest") {
  pwtest::ScratchDir dir;
  pw::CutSpec cut;
  cut.layer = 1;
  cut.forward_bits = 2;
  cut.samples = 9;
  const pw::Tape tape = pw::build_mlp_tape({6, 5, 3}, 4, pw::OptimizerType::Adamw, cut);
  pw::Workspace ws(tape);
  number_state(tape, ws);
  pw::Manifest man;
  man.task = pwtest::filled_hash(3);
  const pw::CheckpointInfo info = pw::write_checkpoint(dir.path, tape, ws, 20, man.task);
  man.checkpoints.push_back(info);

  const pw::CheckpointExport weights = pw::export_checkpoint(dir.path, man, info, false);
  CHECK(weights.tensors == 4);
  CHECK(weights.cut_state_left_out);
  CHECK(weights.data_bytes == 4 * (5 * 6 + 5 + 3 * 5 + 3));
  const Safetensors s = split(weights.file);
  for (const char* name : {"\"0.weight\":{\"dtype\":\"F32\",\"shape\":[5,6],\"data_offsets\":[0,120]}",
                           "\"0.bias\":", "\"2.weight\":", "\"2.bias\":{\"dtype\":\"F32\",\"shape\":[3]"})
    CHECK(s.header.find(name) != std::string::npos);
  CHECK(s.header.find("exp_avg") == std::string::npos);
  CHECK(s.header.find("cut.") == std::string::npos);
  CHECK(s.header.find("\"step\":\"20\"") != std::string::npos);
  CHECK(s.header.find("\"state_hash\":\"" + pw::hex(info.state) + "\"") != std::string::npos);
  CHECK(s.header.find("\"producer\":\"" + std::string(pw::program_name()) + " " + pw::version() + "\"") !=
        std::string::npos);
  REQUIRE(s.data.size() == weights.data_bytes);
  // The data is the parameters', in state-dict order: 0.weight first, then 0.bias.
  float first[2];
  std::memcpy(first, s.data.data(), 4);
  std::memcpy(first + 1, s.data.data() + 120, 4);
  CHECK(first[0] == ws.t[size_t(tape.params[0])][0]);
  CHECK(first[1] == ws.t[size_t(tape.params[1])][0]);

  const pw::CheckpointExport all = pw::export_checkpoint(dir.path, man, info, true);
  CHECK(all.tensors == pw::checkpoint_tensors(tape).size());
  CHECK_FALSE(all.cut_state_left_out);
  const Safetensors a = split(all.file);
  for (const char* name : {"\"0.weight.exp_avg\":", "\"2.bias.exp_avg_sq\":", "\"cut.1.buffer\":{\"dtype\":\"F32\",\"shape\":[9,5]",
                           "\"cut.1.seen\":{\"dtype\":\"F32\",\"shape\":[9]"})
    CHECK(a.header.find(name) != std::string::npos);

  // Against the manifest: another task, another step, another file.
  pw::Manifest other = man;
  other.task = pwtest::filled_hash(4);
  CHECK(pwtest::error_message_of([&] { pw::export_checkpoint(dir.path, other, info, false); }).find("another task") != std::string::npos);
  pw::CheckpointInfo moved = info;
  moved.step = 30;
  CHECK(error_code_of([&] { pw::export_checkpoint(dir.path, man, moved, false); }) == pw::kExitBadInput);
  pw::CheckpointInfo wrong = info;
  wrong.file_hash[0] ^= 1;
  CHECK(pwtest::error_message_of([&] { pw::export_checkpoint(dir.path, man, wrong, false); }).find("does not match its hash") !=
        std::string::npos);
  pw::CheckpointInfo missing = info;
  missing.file = "ckpt-99999999.pwc";
  CHECK(error_code_of([&] { pw::export_checkpoint(dir.path, man, missing, false); }) == pw::kExitBadInput);
}

TEST_CASE("export_batch_order: provenance, a column line, one line a step") {
  pw::Manifest man;
  man.batch = 3;
  man.batch_order = {4, 1, 7, 0, 2, 9};
  const std::string text = pw::export_batch_order("p", man);
  const std::string head = "# " + std::string(pw::program_name()) + " " + pw::version() + ": ";
  CHECK(text.rfind(head, 0) == 0);
  CHECK(text.find("\n# step, then the 3 sample indices of its batch\n0 4 1 7\n1 0 2 9\n") != std::string::npos);
  pw::Manifest none;
  CHECK(pwtest::error_message_of([&] { pw::export_batch_order("p", none); }) == "manifest of 'p' records no batch order");
}

TEST_CASE("check_task bounds what a task implies before anything is allocated, naming the figure") {
  pw::TaskConfig c = base_config();
  c.budget_flops = 0;
  REQUIRE(error_code_of([&] { pw::check_task(c); }) == -1);
  // 2^32 - 1 steps: a batch order of 2^32 x batch entries, refused with its size.
  c.steps = int64_t(UINT32_MAX);
  std::string msg = pwtest::error_message_of([&] { pw::check_task(c); });
  CHECK(msg.find(std::to_string(int64_t(UINT32_MAX) * c.batch) + " entries, over the limit of 2^28") != std::string::npos);
  CHECK(error_code_of([&] { pw::check_task(c); }) == pw::kExitBadInput);
  // At the bound exactly: accepted (as far as this rule goes).
  c.checkpoint_every = int64_t(UINT32_MAX);
  c.steps = pw::kMaxBatchOrder / c.batch;
  CHECK(error_code_of([&] { pw::check_task(c); }) == -1);
  c.steps += 1;
  CHECK(error_code_of([&] { pw::check_task(c); }) == pw::kExitBadInput);
  // Checkpoints: steps / checkpointEvery rounded up, plus checkpoint 0.
  c.steps = pw::kMaxCheckpoints - 1;
  c.checkpoint_every = 1;
  CHECK(error_code_of([&] { pw::check_task(c); }) == -1);
  CHECK(int64_t(pw::checkpoint_steps(c).size()) == pw::kMaxCheckpoints);
  c.steps += 1;
  msg = pwtest::error_message_of([&] { pw::check_task(c); });
  CHECK(msg.find("make 65537 checkpoints, over the limit of 2^16") != std::string::npos);
  // Through the reader: a task message with 2^32 - 1 steps and a zero budget.
  TaskMessage big([](pw::schema::Task::Builder t) {
    t.setSteps(UINT32_MAX);
    t.setBudgetFlops(0);
  });
  CHECK(error_code_of([&] { pw::task_config(big.t.asReader()); }) == pw::kExitBadInput);
}
