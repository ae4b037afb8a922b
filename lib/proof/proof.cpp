#include "proof/proof.hpp"

#include <algorithm>
#include <cstdio>

#include "core/error.hpp"
#include "io/message.hpp"
#include "io/provenance.hpp"
#include "io/tensor_blob.hpp"
#include "io/version.hpp"

namespace pw {

std::string checkpoint_file_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "ckpt-%08lld.pwc", static_cast<long long>(step));
  return buf;
}

namespace {
void hash_tensor_header(Hasher& h, const TensorSpec& s, const Hash& content) {
  h.update_str(s.name);
  const std::vector<uint64_t> dims = s.shape();
  h.update_u32(uint32_t(dims.size()));
  for (uint64_t d : dims) h.update_u64(d);
  h.update(content.data(), 32);
}
}  // namespace

TensorShape shape_of(const TensorSpec& s) { return {s.shape()}; }

namespace {
Hash state_hash_of(const Tape& tape, const std::vector<int>& ids, const std::vector<Hash>& content, int64_t step) {
  Hasher h;
  h.update_u64(uint64_t(step));
  for (size_t i = 0; i < ids.size(); i++) hash_tensor_header(h, tape.tensors[size_t(ids[i])], content[i]);
  return h.final();
}
}  // namespace

Hash state_hash(const Tape& tape, const Workspace& ws, int64_t step) {
  const std::vector<int> ids = checkpoint_tensors(tape);
  std::vector<Hash> content(ids.size());
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t i = 0; i < ids.size(); i++) {
    const auto& v = ws.t[size_t(ids[i])];
    content[i] = tensor_content_hash(v.data(), v.size() * 4);
  }
  return state_hash_of(tape, ids, content, step);
}

CheckpointInfo write_checkpoint(const std::string& dir, const Tape& tape, const Workspace& ws, int64_t step,
                                const Hash& task) {
  const std::vector<int> ids = checkpoint_tensors(tape);
  // Compress and hash every tensor at once (largest first), then assemble the message.
  std::vector<EncodedTensor> enc(ids.size());
  std::vector<size_t> order(ids.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ws.t[size_t(ids[a])].size() > ws.t[size_t(ids[b])].size(); });
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t k = 0; k < order.size(); k++) {
    const auto& v = ws.t[size_t(ids[order[k]])];
    enc[order[k]] = compress_tensor(v.data(), v.size());
  }
  capnp::MallocMessageBuilder mb;
  auto c = mb.initRoot<schema::Checkpoint>();
  c.setFormatVersion(current_version(FileKind::Checkpoint));
  c.setTaskHash(as_data(task));
  c.setStep(uint32_t(step));
  c.setRngPosition(uint64_t(step));
  auto ts = c.initTensors(unsigned(ids.size()));
  std::vector<Hash> content(ids.size());
  for (size_t i = 0; i < ids.size(); i++) {
    const TensorSpec& s = tape.tensors[size_t(ids[i])];
    store_tensor(ts[unsigned(i)], s.name, schema::DType::F32, shape_of(s), enc[i]);
    content[i] = enc[i].hash;
  }
  CheckpointInfo info;
  info.step = step;
  info.file = checkpoint_file_name(step);
  info.state = state_hash_of(tape, ids, content, step);
  c.setStateHash(as_data(info.state));
  Bytes bytes = to_binary(mb);
  info.file_hash = blake2b(bytes.data(), bytes.size());
  info.bytes = bytes.size();
  write_file_atomic(join_path(dir, info.file), bytes);
  return info;
}

namespace {
void checkpoint_fields(Bytes bytes, const std::string& what, const CheckpointInfo& expect, const Tape& tape,
                       const Hash& task, Workspace& ws) {
  if (blake2b(bytes.data(), bytes.size()) != expect.file_hash)
    throw Error(kExitNo, what + ": file hash differs from the manifest's (modified or corrupt checkpoint)");
  auto msg = Message<schema::Checkpoint>::parse(std::move(bytes), what);
  auto c = msg.root();
  check_version(FileKind::Checkpoint, c.getFormatVersion(), what);
  check_input(hash_field(c.getTaskHash()) == task, what + ": belongs to another task");
  check_input(int64_t(c.getStep()) == expect.step, what + ": holds step " + std::to_string(c.getStep()) +
                                                         ", the manifest says " + std::to_string(expect.step));
  const std::vector<int> ids = checkpoint_tensors(tape);
  auto ts = c.getTensors();
  check_input(ts.size() == ids.size(), what + ": holds " + std::to_string(ts.size()) + " tensors, the model needs " +
                                           std::to_string(ids.size()));
  for (size_t i = 0; i < ids.size(); i++) {
    const TensorSpec& s = tape.tensors[size_t(ids[i])];
    auto t = ts[unsigned(i)];
    check_input(std::string(t.getName().cStr()) == s.name,
                what + ": tensor " + std::to_string(i) + " is '" + t.getName().cStr() + "', expected '" + s.name + "'");
    TensorShape want = shape_of(s);
    auto sh = t.getShape();
    bool same = sh.size() == want.dims.size();
    for (unsigned d = 0; same && d < sh.size(); d++) same = sh[d] == want.dims[d];
    check_input(same, what + ": tensor '" + s.name + "' has the wrong shape");
    decode_tensor(t, uint64_t(s.size()), ws.t[size_t(ids[i])], what);
    check_input(int64_t(ws.t[size_t(ids[i])].size()) == s.size(), what + ": tensor '" + s.name + "' has the wrong size");
  }
  const Hash got = state_hash(tape, ws, expect.step);
  check_input(got == hash_field(c.getStateHash()), what + ": state hash inside the file does not match its content");
  if (got != expect.state)
    throw Error(kExitNo, what + ": state hash " + hex(got) + " differs from the manifest's " + hex(expect.state));
}

}  // namespace

void parse_checkpoint(Bytes bytes, const std::string& path, const CheckpointInfo& expect, const Tape& tape,
                      const Hash& task, Workspace& ws) {
  const std::string what = "checkpoint '" + path + "'";
  guard_input(what, [&] { checkpoint_fields(std::move(bytes), what, expect, tape, task, ws); });
}

void read_checkpoint(const std::string& dir, const CheckpointInfo& expect, const Tape& tape, const Hash& task,
                     Workspace& ws) {
  const std::string path = join_path(dir, expect.file);
  parse_checkpoint(read_file_sized(path, expect.bytes, kTensorFileLimit, "checkpoint"), path, expect, tape, task, ws);
}

Hash Manifest::root() const {
  std::vector<Hash> leaves;
  for (const auto& c : checkpoints) leaves.push_back(c.state);
  return merkle_root(leaves);
}

void write_manifest(const std::string& dir, const Manifest& m) {
  capnp::MallocMessageBuilder mb;
  auto r = mb.initRoot<schema::Manifest>();
  r.setFormatVersion(current_version(FileKind::Manifest));
  r.setTaskHash(as_data(m.task));
  auto env = r.initEnvironment();
  set_provenance(env.initProvenance());
  env.setHost(m.host);
  env.setThreads(m.threads);
  env.setDevice(m.device);
  env.setStartedAt(m.started_at);
  env.setFastPanel(m.fast_panel);
  auto cs = r.initCheckpoints(unsigned(m.checkpoints.size()));
  for (size_t i = 0; i < m.checkpoints.size(); i++) {
    const auto& c = m.checkpoints[i];
    auto b = cs[unsigned(i)];
    b.setStep(uint32_t(c.step));
    b.setFile(c.file);
    b.setStateHash(as_data(c.state));
    b.setFileHash(as_data(c.file_hash));
    b.setFileBytes(c.bytes);
  }
  r.setRoot(as_data(m.root()));
  r.setComplete(m.complete);
  const uint64_t n = m.batch_order.size(), b = m.batch ? m.batch : 1;
  encode_tensor(r.initBatchOrder(), "batch_order", schema::DType::U32, {{n / b, b}}, m.batch_order.data());
  r.setFinalLoss(m.final_loss);
  r.setTestAccuracy(m.test_accuracy);
  if (!m.losses.empty()) {
    auto ls = r.initLosses(unsigned(m.losses.size()));
    for (size_t i = 0; i < m.losses.size(); i++) ls.set(unsigned(i), m.losses[i]);
  }
  write_file_atomic(join_path(dir, kManifestName), to_binary(mb));
}

namespace {
Manifest manifest_fields(Bytes bytes, const std::string& what, int64_t max_batch_entries, const Hash* task) {
  auto msg = Message<schema::Manifest>::parse(std::move(bytes), what);
  auto r = msg.root();
  check_version(FileKind::Manifest, r.getFormatVersion(), what);
  Manifest m;
  m.task = hash_field(r.getTaskHash());
  auto cs = r.getCheckpoints();
  check_input(cs.size() >= 1, what + ": lists no checkpoints");
  for (auto c : cs) {
    CheckpointInfo ci;
    ci.step = c.getStep();
    ci.file = c.getFile();
    check_input(is_safe_name(ci.file), what + ": checkpoint file name '" + ci.file +
                                           "' is not a plain name inside the proof directory");
    check_input(c.getStateHash().size() == 32 && c.getFileHash().size() == 32, what + ": checkpoint hash is not 32 bytes");
    ci.state = hash_field(c.getStateHash());
    ci.file_hash = hash_field(c.getFileHash());
    ci.bytes = c.getFileBytes();
    m.checkpoints.push_back(ci);
  }
  m.complete = r.getComplete();
  if (r.hasBatchOrder() && (!task || *task == m.task)) {
    auto bo = r.getBatchOrder();
    check_input(bo.getShape().size() == 2 && bo.getShape()[1] >= 1 && bo.getShape()[1] <= (1u << 20),
                what + ": batch order must be (steps, batch)");
    m.batch = uint32_t(bo.getShape()[1]);
    decode_tensor(bo, schema::DType::U32, uint64_t(max_batch_entries), m.batch_order, what);
  }
  if (!m.batch_order.empty()) {  // one loss per step at most: bounded by the batch order's steps
    auto ls = r.getLosses();
    check_input(ls.size() <= m.batch_order.size() / m.batch,
                what + ": " + std::to_string(ls.size()) + " losses for a proof of " +
                    std::to_string(m.batch_order.size() / m.batch) + " steps");
    m.losses.reserve(ls.size());
    for (float l : ls) m.losses.push_back(l);
  }
  m.final_loss = r.getFinalLoss();
  m.test_accuracy = r.getTestAccuracy();
  check_input(r.getRoot().size() == 32, what + ": Merkle root is not 32 bytes");
  // The stored root is checked by the verifier against the recomputed one.
  auto env = r.getEnvironment();
  m.program = env.getProvenance().getProgram();
  m.command_line = env.getProvenance().getCommandLine();
  m.host = env.getHost();
  m.device = env.getDevice();
  m.threads = env.getThreads();
  m.fast_panel = env.getFastPanel();
  m.started_at = env.getStartedAt();
  if (hash_field(r.getRoot()) != m.root()) m.root_mismatch = true;
  return m;
}

}  // namespace

Manifest parse_manifest(Bytes bytes, const std::string& path, int64_t max_batch_entries, const Hash* task) {
  const std::string what = "manifest '" + path + "'";
  return guard_input(what, [&] { return manifest_fields(std::move(bytes), what, max_batch_entries, task); });
}

Manifest read_manifest(const std::string& dir, int64_t max_batch_entries, const Hash* task) {
  const std::string path = join_path(dir, kManifestName);
  return parse_manifest(read_file(path, kTensorFileLimit, "manifest"), path, max_batch_entries, task);
}

}  // namespace pw
