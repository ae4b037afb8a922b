// The dispute file (proofwork-files(5), DISPUTE): written from a bisection, complete or
// under way; its transcript as text; and the referee's ruling on it, the one check and
// recomputation that 'pol-bisect replay' and the ledger's challenges share
// (proofwork(7), DISPUTES).
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bisect/bisect.hpp"
#include "bisect/fast.hpp"
#include "schema/proofwork.capnp.h"

namespace pw {

// A side's published commitment (proofwork(7), DISPUTES): its proof's Merkle root and the
// manifest it is the root of, which travels with the dispute so that each checkpoint
// answer is checked against it. Empty (zero root) for an honest re-execution.
struct Commitment {
  Hash root{};
  std::vector<Hash> leaves;  // the manifest's checkpoint state hashes, in order
  std::shared_ptr<capnp::MallocMessageBuilder> manifest;
};

// The commitment of a side's proof directory (its manifest.pwm as stored).
Commitment commitment_of(const Party& p);
// A manifest received in a dispute: it must be of `task`, with the task's number of
// checkpoints, and its checkpoints' Merkle root must be `root`; otherwise bad input naming `what`.
Commitment received_commitment(schema::Manifest::Reader m, const Hash& root, const LoadedTask& task, const std::string& what);

// The first checkpoint round whose answer by side A (`side_a`) or B is not bound to that
// side's root by the inclusion path beside it (a forged answer; version 1 files carry no
// paths and are not checked); -1 when every answer is. A side without a root (an honest
// re-execution) has nothing to check.
int64_t unproven_answer(schema::Dispute::Reader d, bool side_a, size_t checkpoints);

// What a dispute file records: the two sides' commitments, the rounds asked so far, the
// pinpointed op with the claims made on it, and, once the bisection is complete, its result.
struct DisputeRecord {
  Commitment a, b;          // b's root zero: side B is an honest re-execution
  std::vector<BisectRound> rounds;
  int64_t step = -1;        // the disputed step, once known
  int op = -1;              // the pinpointed op, or -1
  std::optional<OpClaim> claim_a, claim_b;
  const BisectResult* result = nullptr;  // complete: the ruling is in it (and a step-level one's evidence)
  const FastReferee* fast = nullptr;     // fast mode: the profile and the sides' kernels (format version 3)
  std::optional<std::vector<std::vector<float>>> claimed_a, claimed_b;  // fast mode, under way: claimed states sent
};

// The record of a finished bisection between two sides (`fast`: of a fast-mode task).
DisputeRecord dispute_record(const BisectResult& r, Commitment a, Commitment b, const FastReferee* fast = nullptr);

// Fills `d` with the task, the record, this build's version and provenance.
void write_dispute(schema::Dispute::Builder d, const LoadedTask& task, const DisputeRecord& r);

Level level_of(schema::BisectLevel l);
const char* winner_name(schema::Winner w);  // "A", "B", "neither", "both"
// The transcript, for people: the sides, every round, the pinpointed op, the winner.
std::string dispute_text(schema::Dispute::Reader d);

// A dispute recomputed by the referee. Whose output is right is derived here: the
// file's own `winner` is never taken.
struct Refereed {
  Hash task{};              // the embedded task's hash (checked against the stored one)
  Hash root_a{}, root_b{};
  bool has_b = false;       // false: side B is an honest re-execution
  uint32_t step = 0, op = 0;
  bool step_level = false;  // no op pinpointed: the step recomputed from the agreed state
  std::string op_kind;      // empty for a step-level ruling
  Hash referee{};           // over the op's outputs (step level: the state after the step), recomputed
  Hash out_a{}, out_b{};    // what the sides claimed
  Ruling right = Ruling::Neither;
  bool forfeit = false;     // a side's answer failed its own Merkle proof: nothing recomputed
  std::string basis;        // how the ruling was reached, for people
  std::optional<FastRuling> fast;  // a fast-mode ruling's measurements, recomputed
};

// Checks a dispute file (its version; complete; its embedded task against its hash;
// a pinpointed op of that task's tape, by index and kind; side A's inputs against the
// hashes both sides agreed on) and recomputes the op alone (referee_op). A step-level
// dispute (no op) is recomputed from the agreed state it carries (referee_step): that
// state must hash to what both sides answered for the step, and the step's op chain to
// the chain both sides agreed on (which binds the batch it carries). Malformed or
// inconsistent: bad input (exit 3) naming `what`. `data_dir` locates the dataset, which
// only a load_batch op needs. A fast-mode dispute (format version 3) is ruled by the
// profile it embeds (checked against the task's class) under the sides' declared kernels
// (bisect/fast.hpp); the claimed outputs, or at a step the claimed states, it carries
// must hash to the sides' claims.
Refereed referee_dispute(schema::Dispute::Reader d, const std::string& what, const std::string& data_dir);

}  // namespace pw
