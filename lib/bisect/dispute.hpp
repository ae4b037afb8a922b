// The dispute file (proofwork-files(5), DISPUTE): written from a bisection, complete or
// under way; its transcript as text; and the referee's ruling on it, the one check and
// recomputation that 'pol-bisect replay' and the ledger's challenges share
// (proofwork(7), DISPUTES).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "bisect/bisect.hpp"
#include "schema/proofwork.capnp.h"

namespace pw {

// What a dispute file records: the two roots, the rounds asked so far, the pinpointed op
// with the claims made on it, and, once the bisection is complete, its result.
struct DisputeRecord {
  Hash root_a{}, root_b{};  // root_b zero: side B is an honest re-execution
  std::vector<BisectRound> rounds;
  int64_t step = -1;        // the disputed step, once known
  int op = -1;              // the pinpointed op, or -1
  std::optional<OpClaim> claim_a, claim_b;
  const BisectResult* result = nullptr;  // complete: the ruling is in it
};

// The record of a finished bisection between two sides.
DisputeRecord dispute_record(const BisectResult& r, const Hash& root_a, const Hash& root_b);

// Fills `d` with the task, the record, this build's version and provenance.
void write_dispute(schema::Dispute::Builder d, const LoadedTask& task, const DisputeRecord& r);

Level level_of(schema::BisectLevel l);
const char* winner_name(schema::Winner w);  // "A", "B", "neither"
// The transcript, for people: the sides, every round, the pinpointed op, the winner.
std::string dispute_text(schema::Dispute::Reader d);

// A dispute recomputed by the referee. Whose output is right is derived here: the
// file's own `winner` is never taken.
struct Refereed {
  Hash task{};              // the embedded task's hash (checked against the stored one)
  Hash root_a{}, root_b{};
  bool has_b = false;       // false: side B is an honest re-execution
  uint32_t step = 0, op = 0;
  std::string op_kind;
  Hash referee{};           // over the op's outputs, recomputed from the agreed inputs
  Hash out_a{}, out_b{};    // what the sides claimed
  Ruling right = Ruling::Neither;
};

// Checks a dispute file (its version; complete; its embedded task against its hash;
// a pinpointed op of that task's tape, by index and kind; side A's inputs against the
// hashes both sides agreed on) and recomputes the op alone (referee_op). Malformed or
// inconsistent: bad input (exit 3) naming `what`. `data_dir` locates the dataset, which
// only a load_batch op needs.
Refereed referee_dispute(schema::Dispute::Reader d, const std::string& what, const std::string& data_dir);

}  // namespace pw
