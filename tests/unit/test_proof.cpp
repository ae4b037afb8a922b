// lib/proof: checkpoints (round trip, tampering = exit 1, malformed = exit 3), the
// state hash's sensitivity to every bit of state, and the manifest.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <utility>
#include <string>
#include <vector>

#include "core/program.hpp"
#include "io/message.hpp"
#include "io/version.hpp"
#include "proof/proof.hpp"
#include "tensor/philox.hpp"
#include "train/trainer.hpp"
#include "unit_helpers.hpp"

using pwtest::error_code_of;

namespace {

// Every checkpoint tensor filled with distinct, nonzero values.
void fill_state(const pw::Tape& tape, pw::Workspace& ws, uint64_t seed) {
  const auto ids = pw::checkpoint_tensors(tape);
  for (size_t i = 0; i < ids.size(); i++) {
    auto& v = ws.t[size_t(ids[i])];
    for (size_t e = 0; e < v.size(); e++) v[e] = 2.0f * pw::uniform01(pw::philox_word(seed, 9, uint32_t(i), e)) - 1.0f;
  }
}

bool same_state(const pw::Tape& tape, const pw::Workspace& a, const pw::Workspace& b) {
  for (int id : pw::checkpoint_tensors(tape))
    if (std::memcmp(a.t[size_t(id)].data(), b.t[size_t(id)].data(), a.t[size_t(id)].size() * 4) != 0) return false;
  return true;
}

void flip_file_byte(const std::string& path, size_t pos) {
  pw::Bytes b = pw::read_file(path, size_t(1) << 30, "f");
  REQUIRE(pos < b.size());
  b[pos] ^= 0x10;
  pw::write_file_atomic(path, b);
}

}  // namespace

TEST_CASE("checkpoint names and contents") {
  CHECK(pw::checkpoint_file_name(10) == "ckpt-00000010.pwc");
  CHECK(pw::checkpoint_file_name(0) == "ckpt-00000000.pwc");
  CHECK(pw::checkpoint_file_name(123456789) == "ckpt-123456789.pwc");
  CHECK(pw::is_safe_name(pw::checkpoint_file_name(10)));
  const pw::Tape sgd = pw::build_mlp_tape({6, 5, 3}, 4, pw::OptimizerType::Sgd);
  std::vector<int> want = sgd.params;
  want.insert(want.end(), sgd.opt_state.begin(), sgd.opt_state.end());
  CHECK(pw::checkpoint_tensors(sgd) == want);
  const pw::Tape adamw = pw::build_mlp_tape({6, 5, 3}, 4, pw::OptimizerType::Adamw);
  CHECK(pw::checkpoint_tensors(adamw).size() == 4 + 8);
}

TEST_CASE("write_checkpoint / read_checkpoint round trip") {
  for (auto opt : {pw::OptimizerType::Sgd, pw::OptimizerType::Adamw}) {
    pwtest::ScratchDir dir;
    const pw::Tape tape = pw::build_mlp_tape({6, 5, 3}, 4, opt);
    pw::Workspace ws(tape);
    fill_state(tape, ws, 1);
    ws.t[size_t(tape.params[0])][0] = -0.0f;
    ws.t[size_t(tape.params[1])][0] = 1e-45f;
    const pw::Hash task = pwtest::filled_hash(7);
    const pw::CheckpointInfo info = pw::write_checkpoint(dir.path, tape, ws, 10, task);
    CHECK(info.step == 10);
    CHECK(info.file == "ckpt-00000010.pwc");
    CHECK(info.state == pw::state_hash(tape, ws, 10));
    CHECK(dir.entries() == std::vector<std::string>{"ckpt-00000010.pwc"});  // no temporary left
    const pw::Bytes bytes = pw::read_file(dir.file(info.file), size_t(1) << 30, "ckpt");
    CHECK(info.bytes == bytes.size());
    CHECK(info.file_hash == pw::blake2b(bytes.data(), bytes.size()));
    // The file is a Checkpoint message with what the header promises.
    auto msg = pw::Message<pw::schema::Checkpoint>::parse(bytes, "ckpt");
    CHECK(msg.root().getStep() == 10);
    CHECK(pw::hash_field(msg.root().getTaskHash()) == task);
    CHECK(pw::hash_field(msg.root().getStateHash()) == info.state);
    CHECK(msg.root().getTensors().size() == pw::checkpoint_tensors(tape).size());
    CHECK(std::string(msg.root().getTensors()[0].getName().cStr()) == "0.weight");
    // Read back into a fresh workspace: the same bits.
    pw::Workspace back(tape);
    pw::read_checkpoint(dir.path, info, tape, task, back);
    CHECK(same_state(tape, ws, back));
    CHECK(pw::state_hash(tape, back, 10) == info.state);
  }
}

// proofwork-files(5), EXPORT: a checkpoint exports to safetensors with PyTorch's layouts, and
// pol-export takes each tensor's shape from the checkpoint. nn.Linear(4, 1).weight
// is [1, 4]; a weight with a single output row must not be recorded as a vector.
TEST_CASE("checkpoint shapes: a weight with one output row stays two-dimensional") {
  pwtest::ScratchDir dir;
  const pw::Tape tape = pw::build_mlp_tape({4, 1, 2}, 2, pw::OptimizerType::Sgd);  // task_config allows width 1
  pw::Workspace ws(tape);
  fill_state(tape, ws, 4);
  const pw::CheckpointInfo info = pw::write_checkpoint(dir.path, tape, ws, 0, pwtest::filled_hash(1));
  auto msg = pw::Message<pw::schema::Checkpoint>::read(dir.file(info.file), size_t(1) << 20, "ckpt");
  auto ts = msg.root().getTensors();
  REQUIRE(ts.size() >= 4);
  auto shape_of = [](pw::schema::Tensor::Reader t) {
    std::vector<uint64_t> d;
    for (uint64_t x : t.getShape()) d.push_back(x);
    return d;
  };
  std::string shapes;
  for (auto t : ts) {
    shapes += std::string(t.getName().cStr()) + " [";
    for (uint64_t x : t.getShape()) shapes += std::to_string(x) + " ";
    shapes += "] ";
  }
  INFO("recorded shapes: " << shapes);
  CHECK(std::string(ts[0].getName().cStr()) == "0.weight");
  CHECK(shape_of(ts[0]) == std::vector<uint64_t>{1, 4});
  CHECK(shape_of(ts[1]) == std::vector<uint64_t>{1});  // 0.bias
  CHECK(shape_of(ts[2]) == std::vector<uint64_t>{2, 1});  // 2.weight
  CHECK(shape_of(ts[3]) == std::vector<uint64_t>{2});  // 2.bias
}

TEST_CASE("read_checkpoint: a modified file is a 'no' (exit 1), a malformed one bad input") {
  pwtest::ScratchDir dir;
  const pw::Tape tape = pw::build_mlp_tape({6, 5, 3}, 4, pw::OptimizerType::Sgd);
  pw::Workspace ws(tape);
  fill_state(tape, ws, 2);
  const pw::Hash task = pwtest::filled_hash(7);
  const pw::CheckpointInfo info = pw::write_checkpoint(dir.path, tape, ws, 5, task);
  const std::string path = dir.file(info.file);
  const pw::Bytes good = pw::read_file(path, size_t(1) << 30, "ckpt");
  auto read_code = [&](const pw::CheckpointInfo& expect, const pw::Tape& t, const pw::Hash& task_hash) {
    pw::Workspace out(t);
    return error_code_of([&] { pw::read_checkpoint(dir.path, expect, t, task_hash, out); });
  };
  REQUIRE(read_code(info, tape, task) == -1);
  // A flipped byte anywhere: the file hash differs from the manifest's.
  for (size_t pos : {size_t(0), size_t(8), good.size() / 3, good.size() / 2, good.size() - 1}) {
    INFO("flipped byte " << pos);
    flip_file_byte(path, pos);
    CHECK(read_code(info, tape, task) == pw::kExitNo);
    pw::write_file_atomic(path, good);
  }
  // A truncated, lengthened or missing file: its size is not the manifest's fileBytes,
  // found before it is read (bad input, as pol-verify has always said of it).
  pw::write_file_atomic(path, pw::Bytes(good.begin(), good.begin() + long(good.size() / 2)));
  CHECK(read_code(info, tape, task) == pw::kExitBadInput);
  pw::Bytes longer = good;
  longer.push_back(0);
  pw::write_file_atomic(path, longer);
  CHECK(read_code(info, tape, task) == pw::kExitBadInput);
  pw::write_file_atomic(path, good);
  pw::CheckpointInfo missing = info;
  missing.file = "ckpt-00000099.pwc";
  CHECK(read_code(missing, tape, task) == pw::kExitBadInput);
  // A file that matches its recorded hash but belongs elsewhere.
  CHECK(read_code(info, tape, pwtest::filled_hash(8)) == pw::kExitBadInput);  // another task
  pw::CheckpointInfo other_step = info;
  other_step.step = 6;
  CHECK(read_code(other_step, tape, task) == pw::kExitBadInput);
  const pw::Tape bigger = pw::build_mlp_tape({6, 7, 3}, 4, pw::OptimizerType::Sgd);
  CHECK(read_code(info, bigger, task) == pw::kExitBadInput);  // shapes differ
  const pw::Tape adamw = pw::build_mlp_tape({6, 5, 3}, 4, pw::OptimizerType::Adamw);
  CHECK(read_code(info, adamw, task) == pw::kExitBadInput);  // tensor count differs
  // The manifest's state hash disagrees with the (self-consistent) file: a "no".
  pw::CheckpointInfo other_state = info;
  other_state.state[0] ^= 1;
  CHECK(read_code(other_state, tape, task) == pw::kExitNo);
  // A forged file whose recorded file hash matches, but whose inner state hash
  // does not match its tensors: bad input.
  {
    auto msg = pw::Message<pw::schema::Checkpoint>::parse(good, "ckpt");
    capnp::MallocMessageBuilder mb;
    mb.setRoot(msg.root());
    auto root = mb.getRoot<pw::schema::Checkpoint>();
    root.getStateHash()[3] ^= 1;
    const pw::Bytes forged = pw::to_binary(mb);
    pw::write_file_atomic(path, forged);
    pw::CheckpointInfo f = info;
    f.file_hash = pw::blake2b(forged.data(), forged.size());
    CHECK(read_code(f, tape, task) == pw::kExitBadInput);
    // A tensor renamed.
    mb.setRoot(msg.root());
    root = mb.getRoot<pw::schema::Checkpoint>();
    root.getTensors()[1].setName("0.bias2");
    const pw::Bytes renamed = pw::to_binary(mb);
    pw::write_file_atomic(path, renamed);
    f.file_hash = pw::blake2b(renamed.data(), renamed.size());
    CHECK(read_code(f, tape, task) == pw::kExitBadInput);
    pw::write_file_atomic(path, good);
  }
  CHECK(read_code(info, tape, task) == -1);
}

TEST_CASE("state_hash changes when any single value changes by one ulp") {
  const pw::Tape tape = pw::build_mlp_tape({4, 3, 2}, 2, pw::OptimizerType::Adamw);
  pw::Workspace ws(tape);
  fill_state(tape, ws, 3);
  const pw::Hash base = pw::state_hash(tape, ws, 7);
  CHECK(pw::state_hash(tape, ws, 7) == base);
  CHECK(pw::state_hash(tape, ws, 8) != base);
  int checked = 0;
  for (int id : pw::checkpoint_tensors(tape)) {
    auto& v = ws.t[size_t(id)];
    for (size_t e = 0; e < v.size(); e++) {
      const float old = v[e];
      for (float changed : {std::nextafter(old, INFINITY), std::nextafter(old, -INFINITY)}) {
        v[e] = changed;
        INFO(tape.tensors[size_t(id)].name << "[" << e << "]");
        CHECK(pw::state_hash(tape, ws, 7) != base);
        checked++;
      }
      v[e] = old;
    }
  }
  CHECK(checked == 2 * (12 + 3 + 6 + 2) * 3);  // parameters, exp_avg, exp_avg_sq
  CHECK(pw::state_hash(tape, ws, 7) == base);
  // +0 and −0 are different states.
  ws.t[size_t(tape.params[0])][0] = 0.0f;
  const pw::Hash pos = pw::state_hash(tape, ws, 7);
  ws.t[size_t(tape.params[0])][0] = -0.0f;
  CHECK(pw::state_hash(tape, ws, 7) != pos);
  // Activations and gradients are not part of the state.
  fill_state(tape, ws, 3);
  ws.t[size_t(tape.logits)][0] += 1.0f;
  CHECK(pw::state_hash(tape, ws, 7) == base);
}

TEST_CASE("manifest round trip, unsafe names and a wrong Merkle root") {
  pwtest::ScratchDir dir;
  pw::Manifest m;
  m.task = pwtest::filled_hash(1);
  for (int i = 0; i < 3; i++) {
    pw::CheckpointInfo c;
    c.step = 5 * i;
    c.file = pw::checkpoint_file_name(c.step);
    c.state = pwtest::filled_hash(uint8_t(10 + i));
    c.file_hash = pwtest::filled_hash(uint8_t(20 + i));
    c.bytes = 1000 + uint64_t(i);
    m.checkpoints.push_back(c);
  }
  m.complete = true;
  for (uint32_t i = 0; i < 40; i++) m.batch_order.push_back((i * 37) % 100);
  m.final_loss = 0.25f;
  m.test_accuracy = 0.75f;
  m.losses = {2.5f, 2.25f, 2.0f};
  m.host = "host";
  m.device = "cpu";
  m.started_at = "2024-01-01T00:00:00Z";
  m.threads = 2;
  CHECK(m.root() == pw::merkle_root({m.checkpoints[0].state, m.checkpoints[1].state, m.checkpoints[2].state}));
  pw::write_manifest(dir.path, m);
  CHECK(dir.entries() == std::vector<std::string>{pw::kManifestName});
  const pw::Manifest r = pw::read_manifest(dir.path, 1000);
  CHECK(r.task == m.task);
  REQUIRE(r.checkpoints.size() == 3);
  for (size_t i = 0; i < 3; i++) {
    CHECK(r.checkpoints[i].step == m.checkpoints[i].step);
    CHECK(r.checkpoints[i].file == m.checkpoints[i].file);
    CHECK(r.checkpoints[i].state == m.checkpoints[i].state);
    CHECK(r.checkpoints[i].file_hash == m.checkpoints[i].file_hash);
    CHECK(r.checkpoints[i].bytes == m.checkpoints[i].bytes);
  }
  CHECK(r.complete);
  CHECK(r.batch_order == m.batch_order);
  CHECK(r.final_loss == 0.25f);
  CHECK(r.test_accuracy == 0.75f);
  CHECK(r.losses == m.losses);
  {  // A manifest from before losses were recorded reads, with none; more losses than steps do not.
    pwtest::ScratchDir old_dir, long_dir;
    pw::Manifest o = m, l = m;
    o.losses.clear();
    pw::write_manifest(old_dir.path, o);
    CHECK(pw::read_manifest(old_dir.path, 1000).losses.empty());
    l.losses.assign(41, 1.0f);  // the batch order holds 40 steps
    pw::write_manifest(long_dir.path, l);
    CHECK(error_code_of([&] { pw::read_manifest(long_dir.path, 1000); }) == pw::kExitBadInput);
  }
  CHECK(r.program == pw::program_name());  // the writer's provenance, not a field to fill
  CHECK(r.command_line == pw::command_line());
  CHECK(r.threads == 2);
  CHECK_FALSE(r.root_mismatch);
  CHECK(r.root() == m.root());
  // More batch entries than the caller allows.
  CHECK(error_code_of([&] { pw::read_manifest(dir.path, 39); }) == pw::kExitBadInput);
  // A checkpoint file name that escapes the proof directory.
  for (const char* bad : {"../ckpt-00000000.pwc", "/etc/passwd", "sub/ckpt.pwc", ".hidden", ""}) {
    pw::Manifest evil = m;
    evil.checkpoints[1].file = bad;
    pw::write_manifest(dir.path, evil);
    INFO("file name '" << bad << "'");
    CHECK(error_code_of([&] { pw::read_manifest(dir.path, 1000); }) == pw::kExitBadInput);
  }
  // No checkpoints at all.
  pw::Manifest empty = m;
  empty.checkpoints.clear();
  pw::write_manifest(dir.path, empty);
  CHECK(error_code_of([&] { pw::read_manifest(dir.path, 1000); }) == pw::kExitBadInput);
  // A stored root that is not the recomputed one is flagged.
  pw::write_manifest(dir.path, m);
  const std::string path = dir.file(pw::kManifestName);
  auto msg = pw::Message<pw::schema::Manifest>::read(path, size_t(1) << 20, "manifest");
  capnp::MallocMessageBuilder mb;
  mb.setRoot(msg.root());
  mb.getRoot<pw::schema::Manifest>().getRoot()[0] ^= 1;
  pw::write_file_atomic(path, pw::to_binary(mb));
  CHECK(pw::read_manifest(dir.path, 1000).root_mismatch);
  // Garbage in place of the manifest; no manifest.
  pw::write_file_atomic(path, pw::Bytes(64, 0xee));
  CHECK(error_code_of([&] { pw::read_manifest(dir.path, 1000); }) == pw::kExitBadInput);
  std::filesystem::remove(path);
  CHECK(error_code_of([&] { pw::read_manifest(dir.path, 1000); }) == pw::kExitBadInput);
}

TEST_CASE("batch_order of a task is BatchOrder's sequence") {
  capnp::MallocMessageBuilder mb;
  auto t = mb.initRoot<pw::schema::Task>();
  pwtest::fill_task(t);
  const pw::TaskConfig c = pw::task_config(t.asReader());
  const std::vector<uint32_t> all = pw::batch_order(c, 1000);
  REQUIRE(all.size() == size_t(c.steps) * size_t(c.batch));
  pw::BatchOrder order(c.seed, 1000, c.batch);
  std::vector<uint32_t> buf(size_t(c.batch));
  for (int64_t s = 0; s < c.steps; s++) {
    order.indices(s, buf.data());
    CHECK(std::memcmp(buf.data(), all.data() + size_t(s) * size_t(c.batch), buf.size() * 4) == 0);
  }
}

namespace {
// The exit status and message `f` throws (-1 and "" when it throws nothing); `f` only reads.
template <typename F>
std::pair<int, std::string> refusal(F&& f) {
  return {pwtest::error_code_of(f), pwtest::error_message_of(f)};
}
}  // namespace

TEST_CASE("manifest and checkpoint versions follow io/version.hpp's rule") {
  pwtest::ScratchDir dir;
  const pw::Tape tape = pw::build_mlp_tape({6, 5, 3}, 4, pw::OptimizerType::Sgd);
  pw::Manifest m;  // a checkpoint of zeros: the versions are what is tested
  m.task = pwtest::filled_hash(7);
  m.checkpoints.push_back(pw::write_checkpoint(dir.path, tape, pw::Workspace(tape), 0, m.task));
  pw::write_manifest(dir.path, m);
  const pw::Hash& task = m.task;
  const uint32_t manifest_v = pw::current_version(pw::FileKind::Manifest);
  const uint32_t checkpoint_v = pw::current_version(pw::FileKind::Checkpoint);
  {
    auto msg = pw::Message<pw::schema::Manifest>::read(dir.file(pw::kManifestName), size_t(1) << 20, "manifest");
    CHECK(msg.root().getFormatVersion() == manifest_v);
    auto ck = pw::Message<pw::schema::Checkpoint>::read(dir.file(m.checkpoints[0].file), size_t(1) << 20, "ckpt");
    CHECK(ck.root().getFormatVersion() == checkpoint_v);
  }
  // The manifest with another version: newer, older (0: none) refused as bad input.
  auto manifest_with = [&](uint32_t v) {
    auto msg = pw::Message<pw::schema::Manifest>::read(dir.file(pw::kManifestName), size_t(1) << 20, "manifest");
    capnp::MallocMessageBuilder mb;
    mb.setRoot(msg.root());
    mb.getRoot<pw::schema::Manifest>().setFormatVersion(v);
    pw::write_file_atomic(dir.file(pw::kManifestName), pw::to_binary(mb));
    return refusal([&] { pw::read_manifest(dir.path, 1000); });
  };
  const auto newer = manifest_with(manifest_v + 1);
  CHECK(newer.first == pw::kExitBadInput);
  CHECK(newer.second.find("manifest format version " + std::to_string(manifest_v + 1) + " is newer than this build reads") !=
        std::string::npos);
  const auto none = manifest_with(0);
  CHECK(none.first == pw::kExitBadInput);
  CHECK(none.second.find("not a proofwork manifest file") != std::string::npos);
  CHECK(manifest_with(manifest_v).first == -1);
  // A newer checkpoint listed with its own file hash: refused for its version, not as tampering.
  auto ck = pw::Message<pw::schema::Checkpoint>::read(dir.file(m.checkpoints[0].file), size_t(1) << 20, "ckpt");
  capnp::MallocMessageBuilder mb;
  mb.setRoot(ck.root());
  mb.getRoot<pw::schema::Checkpoint>().setFormatVersion(checkpoint_v + 1);
  const pw::Bytes bytes = pw::to_binary(mb);
  pw::write_file_atomic(dir.file(m.checkpoints[0].file), bytes);
  pw::CheckpointInfo info = m.checkpoints[0];
  info.file_hash = pw::blake2b(bytes.data(), bytes.size());
  pw::Workspace back(tape);
  const auto ck_newer = refusal([&] { pw::read_checkpoint(dir.path, info, tape, task, back); });
  CHECK(ck_newer.first == pw::kExitBadInput);
  CHECK(ck_newer.second.find("checkpoint format version " + std::to_string(checkpoint_v + 1) + " is newer") != std::string::npos);
}
