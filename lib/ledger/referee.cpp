// The ledger's referee: a ruling is derived by bisect/'s referee (referee_dispute), the
// code of 'pol-bisect replay'; no party's word (not even the dispute file's own
// `winner`) is taken. Here: which dispute file, is it about this claim, and a cache.
#include <memory>
#include <unordered_map>

#include "bisect/dispute.hpp"
#include "core/error.hpp"
#include "io/message.hpp"
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

// Cap'n Proto's traversal limit (twice the message's size) allows one walk besides the
// parse, so the hash and the recomputation each read their own parse.
Hash dispute_hash(const Bytes& bytes, const std::string& what) {
  auto msg = Message<schema::Dispute>::parse(bytes, what);
  return guard_input(what, [&] { return canonical_hash(msg.root()); });
}

Refereed referee_bytes(const Bytes& bytes, const std::string& what, const std::string& data_dir) {
  auto msg = Message<schema::Dispute>::parse(bytes, what);
  return guard_input(what, [&] { return referee_dispute(msg.root(), what, data_dir); });
}

DisputeRuling rule(const Refereed& r, const Hash& task_hash, const Hash& claim_root, const std::string& what) {
  if (r.task != task_hash) bad_input(what + ": about another task (" + hex(r.task).substr(0, 16) + "…)");
  const bool side_a = r.root_a == claim_root;
  if (!side_a && !(r.has_b && r.root_b == claim_root))
    bad_input(what + ": neither side's proof root is the claim's (" + hex(claim_root).substr(0, 16) + "…)");
  DisputeRuling out;
  out.referee = r.referee;
  // The claim's side is right only when the referee rules for it: its output equals the
  // recomputation, and its answers are bound to its root.
  out.solver_wrong = r.right != (side_a ? Ruling::A : Ruling::B) && r.right != Ruling::Both;  // both stand: within the noise
  return out;
}

}  // namespace

DisputeOracle referee_oracle(const std::string& dir, const std::string& data_dir) {
  auto cache = std::make_shared<std::unordered_map<Hash, Refereed, HashKey>>();
  return [dir, data_dir, cache](const Hash& dispute, const Hash& task_hash, const Hash& claim_root) {
    const std::string what = "dispute " + hex(dispute).substr(0, 16) + "…";
    auto it = cache->find(dispute);
    if (it == cache->end()) {
      const std::string path = dispute_path(dir, dispute);
      if (!file_exists(path)) bad_input(what + ": no file " + path + " (the challenge stores it)");
      const Bytes bytes = read_file(path, kTensorFileLimit, "dispute");
      check_input(dispute_hash(bytes, what) == dispute, what + ": " + path + " does not hash to its name");
      it = cache->emplace(dispute, referee_bytes(bytes, what, data_dir)).first;
    }
    return rule(it->second, task_hash, claim_root, what);
  };
}

Hash store_dispute(const std::string& dir, const Bytes& dispute, const std::string& what) {
  const Hash h = dispute_hash(dispute, what);
  (void)referee_bytes(dispute, what, "");  // a dispute the referee cannot rule is refused now
  const std::string path = dispute_path(dir, h);
  if (!file_exists(path)) {
    make_directory(join_path(dir, "disputes"));
    write_file_atomic(path, dispute);
  }
  return h;
}

}  // namespace pw::ledger
