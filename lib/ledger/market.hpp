// The market's moves (man ledger-settle, SUBCOMMANDS; proofwork(7), THE MARKET): the
// event each participant makes from the validated state, settlement, and the ledger as
// people read it. ledger-settle's subcommands are these functions behind flags.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ledger/ledger.hpp"

namespace pw::ledger {

// Messages for the user (ledger-settle prints them on stderr unless --quiet).
using Notes = std::function<void(const std::string&)>;

// A post's terms; a negative amount takes its default: the fee a tenth of the bounty,
// the solver's stake the bounty, the verifier's and the challenger's the fee.
struct PostTerms {
  uint64_t bounty = 0;
  int64_t fee = -1, solver_stake = -1, verifier_stake = -1, challenge_stake = -1;
  uint32_t claim_window = 100, verify_window = 20, challenge_window = 20;
};

// What a verdict event needs of pol-verify's verdict file.
struct VerdictSummary {
  Hash task{}, root{}, file{};  // the verdict's task and proof root; BLAKE2b of the file
  bool accepted = false;
  std::string what;             // "verdict 'PATH'", for messages
};

Event deposit_event(const PublicKey& to, uint64_t amount);
// `count` beacons; the value `hex` (64 digits) or the BLAKE2b-256 of `text` (for one
// beacon, one of the two at most), else random.
std::vector<Event> beacon_events(const std::string& hex, const std::string& text, uint64_t count);
Event post_event(const Hash& task_hash, const PostTerms& terms);

// The task posted at event `id`; usage error when there is none.
const Task& find_task(const State& st, uint64_t id);
// A proof directory's Merkle root for a claim or a decoy: its manifest complete and
// consistent (bad input otherwise).
Hash claimed_root(const std::string& proof_dir);
// A stake of -1 takes the task's required one.
Event claim_event(const State& st, const KeyPair& k, uint64_t task, const Hash& root, int64_t stake);
// Opens the claim's forced-error draw. When it forces an error, `decoy` must name the
// deliberately wrong proof (else Error(kExitNo)); when it does not, `decoy` must be empty.
Event reveal_event(const State& st, const KeyPair& k, uint64_t task, const std::string& decoy, const Notes& note);
VerdictSummary read_verdict_summary(const std::string& path);
Event verdict_event(const State& st, uint64_t task, const VerdictSummary& v, int64_t stake);
Event challenge_event(const State& st, uint64_t task, const Hash& dispute, int64_t stake);
// A ruling for every challenge still waiting for one (only challenge `only` when ≥ 0,
// which must be waiting), each derived by the referee.
std::vector<Event> ruling_events(const State& st, const DisputeOracle& referee, int64_t only, const Notes& note);
// A settle event for every task that is due.
std::vector<Event> settle_events(const State& st);

struct Settlement {
  State state;
  std::vector<uint64_t> settled;  // the tasks settled now
};
// Appends the pending rulings (a task waiting for one is due only after it), then a
// settle event for every due task, signed with `k`.
Settlement settle_ledger(const std::string& dir, const KeyPair& k, const std::string& data_dir, const Notes& note);

// ---- the ledger as people read it ---------------------------------------------------
using Names = std::map<PublicKey, std::string>;
// NAME for every NAME.pub in `dir` ("" : none); usage error for an unreadable directory.
Names load_names(const std::string& dir);
std::string account_label(const Names& names, const PublicKey& k);  // "alice (0a1b2c…)"
// A settled task: its outcome, then one line per payment.
std::string task_report(const Task& t, const Names& names);
// The ledger's head, its supply and every balance.
std::string state_report(const std::string& dir, const State& st, const Names& names);
// What settle prints (the tasks settled now, then the state) and what validate prints
// (the state, then every settled task).
std::string settle_report(const std::string& dir, const Settlement& s, const Names& names);
std::string validate_report(const std::string& dir, const State& st, const Names& names);

}  // namespace pw::ledger
