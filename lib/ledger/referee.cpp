// The ledger's referee: a ruling is derived by recomputing the dispute's pinpointed op
// with pol-bisect's referee (referee_op), as 'pol-bisect replay' does; no party's word
// (not even the dispute file's own `winner`) is taken.
#include <memory>
#include <unordered_map>

#include "bisect/bisect.hpp"
#include "core/error.hpp"
#include "io/message.hpp"
#include "io/tensor_blob.hpp"
#include "ledger/ledger.hpp"
#include "schema/proofwork.capnp.h"

namespace pw::ledger {

namespace {

struct HashKey {
  size_t operator()(const Hash& h) const {
    size_t v;
    std::memcpy(&v, h.data(), sizeof v);
    return v;
  }
};

// What a dispute file says, checked and recomputed once.
struct Recomputed {
  Hash task{}, root_a{}, root_b{};
  bool has_b = false;  // false: side B is an honest re-execution
  Hash referee{}, out_a{}, out_b{};
};

Recomputed recompute(schema::Dispute::Reader d, const std::string& what, const std::string& data_dir) {
  Recomputed r;
  check_input(d.getFormatVersion() == 1, what + ": unknown format version");
  check_input(d.getComplete(), what + ": the bisection is not complete (a 'pol-bisect play' transcript in progress)");
  TaskConfig cfg;
  try {
    cfg = task_config(d.getTask());
  } catch (const Error& e) {
    bad_input(what + ": embedded " + e.what());
  }
  r.task = task_hash(d.getTask());
  check_input(r.task == hash_field(d.getTaskHash()), what + ": the embedded task does not match its hash");
  check_input(d.getOpKind().size() > 0,
              what + ": no op was pinpointed (the dispute ended at a checkpoint); the ledger rules only on a recomputed op");
  r.root_a = hash_field(d.getRootA());
  r.has_b = d.getRootB().size() > 0;
  if (r.has_b) r.root_b = hash_field(d.getRootB());
  const Tape tape = tape_for(cfg);
  check_input(d.getStep() < cfg.steps, what + ": step out of range");
  check_input(d.getOpIndex() < tape.ops.size(), what + ": op index out of range");
  const Op& op = tape.ops[d.getOpIndex()];
  check_input(std::string(d.getOpKind().cStr()) == op_name(op.kind),
              what + ": op " + std::to_string(d.getOpIndex()) + " is " + op_name(op.kind) + ", not " + d.getOpKind().cStr());
  auto hashes = d.getInputHashes();
  auto inputs = d.getInputs();
  check_input(hashes.size() == op.in.size() && inputs.size() == op.in.size(),
              what + ": " + std::to_string(inputs.size()) + " inputs, " + op_name(op.kind) + " takes " + std::to_string(op.in.size()));
  std::vector<std::vector<float>> in(op.in.size());
  for (unsigned i = 0; i < inputs.size(); i++) {
    const int64_t size = tape.tensors[size_t(op.in[i])].size();
    decode_tensor(inputs[i], uint64_t(size), in[i], what);
    check_input(int64_t(in[i].size()) == size, what + ": input " + std::to_string(i) + " has the wrong shape");
    check_input(tensor_content_hash(in[i].data(), in[i].size() * 4) == hash_field(hashes[i]),
                what + ": input " + std::to_string(i) + " does not match its agreed hash");
  }
  Dataset data;
  const bool need_data = op.kind == OpKind::LoadBatch;
  if (need_data) data = load_task_dataset(cfg, data_dir);
  r.referee = referee_op(cfg, need_data ? &data : nullptr, d.getStep(), int(d.getOpIndex()), in);
  r.out_a = hash_field(d.getOutputHashA());
  r.out_b = hash_field(d.getOutputHashB());
  return r;
}

// Cap'n Proto's traversal limit (twice the message's size) allows one walk besides the
// parse, so the hash and the recomputation each read their own parse.
Hash dispute_hash(const Bytes& bytes, const std::string& what) {
  auto msg = Message<schema::Dispute>::parse(bytes, what);
  return guard_input(what, [&] { return canonical_hash(msg.root()); });
}

Recomputed recompute_bytes(const Bytes& bytes, const std::string& what, const std::string& data_dir) {
  auto msg = Message<schema::Dispute>::parse(bytes, what);
  return guard_input(what, [&] { return recompute(msg.root(), what, data_dir); });
}

DisputeRuling rule(const Recomputed& r, const Hash& task_hash, const Hash& claim_root, const std::string& what) {
  if (r.task != task_hash) bad_input(what + ": about another task (" + hex(r.task).substr(0, 16) + "…)");
  const bool side_a = r.root_a == claim_root;
  if (!side_a && !(r.has_b && r.root_b == claim_root))
    bad_input(what + ": neither side's proof root is the claim's (" + hex(claim_root).substr(0, 16) + "…)");
  DisputeRuling out;
  out.referee = r.referee;
  // The claim's side is right only when the referee's recomputation equals its output.
  out.solver_wrong = r.referee != (side_a ? r.out_a : r.out_b);
  return out;
}

}  // namespace

DisputeOracle referee_oracle(const std::string& dir, const std::string& data_dir) {
  auto cache = std::make_shared<std::unordered_map<Hash, Recomputed, HashKey>>();
  return [dir, data_dir, cache](const Hash& dispute, const Hash& task_hash, const Hash& claim_root) {
    const std::string what = "dispute " + hex(dispute).substr(0, 16) + "…";
    auto it = cache->find(dispute);
    if (it == cache->end()) {
      const std::string path = dispute_path(dir, dispute);
      if (!file_exists(path)) bad_input(what + ": no file " + path + " (the challenge stores it)");
      const Bytes bytes = read_file(path, kTensorFileLimit, "dispute");
      check_input(dispute_hash(bytes, what) == dispute, what + ": " + path + " does not hash to its name");
      Recomputed r = recompute_bytes(bytes, what, data_dir);
      it = cache->emplace(dispute, r).first;
    }
    return rule(it->second, task_hash, claim_root, what);
  };
}

Hash store_dispute(const std::string& dir, const Bytes& dispute, const std::string& what) {
  const Hash h = dispute_hash(dispute, what);
  (void)recompute_bytes(dispute, what, "");  // a dispute the referee cannot rule is refused now
  const std::string path = dispute_path(dir, h);
  if (!file_exists(path)) {
    make_directory(join_path(dir, "disputes"));
    write_file_atomic(path, dispute);
  }
  return h;
}

}  // namespace pw::ledger
