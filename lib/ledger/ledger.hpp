// The market ledger (proofwork(7), THE MARKET; ledger-settle(1)): signed, hash-chained events in an
// append-only log, and the Truebit-style rules that settle them (man ledger-settle).
//
// Record framing in LEDGER/events.log (little-endian; every record a multiple of 8
// bytes, so a mmapped body is word-aligned for Cap'n Proto):
//   u32 magic "PLE1" | u32 L | body (L bytes: canonical LedgerEvent) |
//   signature (64 bytes, Ed25519 over body) | u32 crc32(L, body, signature) | u32 "END!"
// A record's hash is BLAKE2b-256(body || signature); each event names the previous
// record's hash (prev) and the genesis record's hash (chainId), both signed.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "io/file.hpp"

#include "io/hash.hpp"

namespace pw::ledger {

using PublicKey = std::array<uint8_t, 32>;
using SecretKey = std::array<uint8_t, 64>;  // libsodium's: seed || public key
using Signature = std::array<uint8_t, 64>;

struct KeyPair {
  PublicKey pk{};
  SecretKey sk{};
};

KeyPair generate_key();
// Secret key file: "proofwork-ed25519-secret-key\n" + 128 hex digits; mode 0600.
void write_secret_key(const std::string& path, const KeyPair& k);
KeyPair read_secret_key(const std::string& path);
// NAME.key (write_secret_key) and NAME.pub (the public key's 64 hex digits and a newline).
void write_key_pair(const std::string& name, const KeyPair& k);
// A public key as 64 hex digits, or a file holding them (a .pub or a .key file).
PublicKey parse_public_key(const std::string& hex_or_path);

// ---- the rules' numbers (man ledger-settle, RULES) --------------------------------
constexpr uint64_t kBasisPoints = 10000;
constexpr uint64_t kJackpotTaxBp = 500;        // 5 % of the bounty, paid on posting
constexpr uint64_t kForcedErrorRateBp = 1000;  // a claim is forced wrong with probability 10 %
constexpr uint64_t kJackpotShareDen = 3;       // a forced error pays at most 1/3 of the jackpot
constexpr uint64_t kMaxAmount = uint64_t(1) << 50;  // any amount in an event
constexpr uint32_t kMaxWindow = 1u << 24;      // events
constexpr size_t kMaxBody = 4096;              // bytes of one event's encoding
constexpr size_t kMaxNote = 256;

enum class Kind : uint8_t { Genesis, Deposit, Beacon, Post, Claim, Reveal, Verdict, Challenge, Ruling, Settle };
const char* kind_name(Kind k);

// One event, decoded (the union's fields flattened; unused ones zero).
struct Event {
  uint64_t seq = 0;
  Hash chain{}, prev{};
  PublicKey actor{};
  Kind kind = Kind::Genesis;
  uint64_t task = 0;        // claim, reveal, verdict, challenge, ruling, settle
  uint64_t amount = 0;      // deposit amount; stake of claim, verdict, challenge; post bounty
  uint64_t fee = 0, solver_stake = 0, verifier_stake = 0, challenge_stake = 0;  // post
  uint32_t claim_window = 0, verify_window = 0, challenge_window = 0;             // post
  PublicKey account{};      // deposit
  Hash h1{};  // genesis nonce, beacon value, post task hash, claim/verdict root, reveal secret,
              // challenge dispute hash, ruling referee hash
  Hash h2{};  // claim commitment, reveal decoy root, verdict file hash
  bool has_h2 = false;      // reveal: a decoy root is present
  bool flag = false;        // verdict accept, ruling solver wrong
  uint64_t challenge = 0;   // ruling: the challenge's seq
  std::string note;         // genesis
  uint32_t version = 0;     // genesis: the log's format version as signed (0: none recorded)
};

// Canonical encoding (the bytes that are signed) and back. decode() checks that the
// bytes are canonical and well-formed; throws bad input.
Bytes encode_event(const Event& e);
Event decode_event(const uint8_t* body, size_t n);

struct Record {
  Event event;
  Bytes body;
  Signature sig{};
  Hash hash{};  // BLAKE2b-256(body || sig)
};
Record sign_event(const Event& e, const KeyPair& k);
bool verify_record(const Record& r);  // the ledger's signature rule (ed25519_batch.hpp)
Hash record_hash(const uint8_t* body, size_t n, const Signature& sig);

// Event files (LedgerRecord, binary or JSON), read through io/message.hpp's one parse
// path (its limits, the JSON hex check; proofwork-files(5), LEDGER).
Bytes record_to_file(const Record& r, bool json);
Record record_from_file(const Bytes& b, const std::string& what);  // signature not checked here
Record read_event_file(const std::string& path);                    // the same, from a file

// The forced-error draw of a claim: BLAKE2b("proofwork forced error" || beacon || secret),
// its first 8 bytes as a little-endian integer, mod 10,000, below kForcedErrorRateBp.
bool forced_error(const Hash& beacon, const Hash& secret);
// The solver's secret for a claim, derived from its key so nothing else need be kept:
// BLAKE2b keyed by the secret key's seed over (chain id, task id, proof root).
Hash claim_secret(const KeyPair& k, const Hash& chain, uint64_t task, const Hash& root);

// ---- the rules ---------------------------------------------------------------------
// What the referee says about a dispute against a claim: thrown errors reject the
// event (a dispute that is not about this task and claim, a malformed one).
struct DisputeRuling {
  bool solver_wrong = false;
  Hash referee{};
};
using DisputeOracle = std::function<DisputeRuling(const Hash& dispute, const Hash& task_hash, const Hash& claim_root)>;

struct Payment {
  PublicKey account{};
  std::string role;
  uint64_t paid = 0, slashed = 0;
  std::string reason;
};

struct VerdictRec {
  uint64_t seq;
  PublicKey verifier;
  Hash root;
  bool accept, on_decoy;
  uint64_t stake;
};
struct ChallengeRec {
  uint64_t seq;
  PublicKey whistleblower;
  Hash dispute;
  uint64_t stake;
  bool ruled = false, solver_wrong = false;
  Hash referee{};
};

struct Task {
  uint64_t id = 0;  // the post's seq
  PublicKey submitter{};
  Hash task_hash{};
  uint64_t bounty = 0, fee = 0, tax = 0, solver_stake = 0, verifier_stake = 0, challenge_stake = 0;
  uint32_t claim_window = 0, verify_window = 0, challenge_window = 0;
  bool claimed = false;
  uint64_t claim_seq = 0, stake = 0;
  PublicKey solver{};
  Hash root{}, commitment{};
  bool revealed = false, forced = false;
  Hash decoy{};
  std::vector<VerdictRec> verdicts;
  std::vector<ChallengeRec> challenges;
  bool settled = false;
  uint64_t settled_at = 0;
  std::string outcome;  // no-claim, honest, wrong, missed-reveal
  std::vector<Payment> payments;

  uint64_t reveal_deadline() const { return claim_seq + (verify_window + 1) / 2; }
  uint64_t verify_deadline() const { return claim_seq + verify_window; }
  uint64_t challenge_deadline() const { return claim_seq + verify_window + challenge_window; }
};

struct Account {
  uint64_t free = 0, locked = 0;
};

// The ledger's state after a prefix of its events. apply() checks one event against the
// rules, its seq, prev and chain id (not its signature: see validate_ledger) and applies
// it, `record` (its record hash) becoming the head; or throws Error(kExitNo, reason)
// leaving the state unchanged.
class State {
 public:
  explicit State(DisputeOracle oracle = nullptr) : oracle_(std::move(oracle)) {}
  void apply(const Event& e, const Hash& record);

  uint64_t next_seq() const { return next_seq_; }
  const Hash& chain() const { return chain_; }
  const Hash& head() const { return head_; }
  const PublicKey& operator_key() const { return operator_; }
  uint64_t supply() const { return supply_; }
  uint64_t jackpot() const { return jackpot_; }
  const std::map<PublicKey, Account>& accounts() const { return accounts_; }
  const std::map<uint64_t, Task>& tasks() const { return tasks_; }
  // Tasks that a settle event may close now (the next event's seq is the time).
  std::vector<uint64_t> due_tasks() const;
  // Challenges still waiting for their ruling: (task, challenge seq).
  std::vector<std::pair<uint64_t, uint64_t>> unruled() const;
  // Σ free + Σ locked + jackpot; equals supply() after every event.
  uint64_t total() const;
  // The forced-error beacon of a claim made at `claim_seq`: the first beacon after it.
  std::optional<Hash> beacon_after(uint64_t claim_seq) const;
  // A settled task that this state keeps by id only (restored from a snapshot): an event
  // about it is refused as for any settled task.
  bool archived(uint64_t task) const;

  // The snapshot's encoding of this state (proofwork-files(5), LEDGER): balances, chain
  // head, open tasks in full, settled tasks by id, the beacons open claims may still need.
  Bytes encode() const;
  // The state `encode` wrote; malformed: bad input. The oracle is the caller's.
  static State decode(const uint8_t* p, size_t n, DisputeOracle oracle);

 private:
  void genesis(const Event& e);
  void deposit(const Event& e);
  void post(const Event& e);
  void claim(const Event& e, Task& t);
  void reveal(const Event& e, Task& t);
  void verdict(const Event& e, Task& t);
  void challenge(const Event& e, Task& t);
  void ruling(const Event& e, Task& t);
  void settle(const Event& e, Task& t);
  Task& task_for(const Event& e);
  bool due(const Task& t, uint64_t now) const;
  void lock(const PublicKey& who, uint64_t amount, const char* what);

  DisputeOracle oracle_;
  uint64_t next_seq_ = 0, supply_ = 0, jackpot_ = 0;
  Hash chain_{}, head_{};
  PublicKey operator_{};
  std::map<PublicKey, Account> accounts_;
  std::map<uint64_t, Task> tasks_;
  std::vector<std::pair<uint64_t, Hash>> beacons_;  // (seq, value), ascending
  std::vector<uint64_t> archived_;                  // settled tasks not held in tasks_, ascending
};

// ---- the log -----------------------------------------------------------------------
std::string log_path(const std::string& dir);
// The records framed as in the log (for tools that write a whole log at once).
Bytes frame_records(const std::vector<Record>& rs);
std::string dispute_path(const std::string& dir, const Hash& dispute);

struct ValidateStats {
  uint64_t records = 0, bytes = 0;
  double seconds = 0;
  std::string snapshot;  // what the whole validation found of the snapshot it replaces
};

// Reads LEDGER/events.log (mmapped) and checks every record: framing and checksum (a
// torn or corrupt record is bad input, exit 3), canonical encoding, signature, chain
// (seq, prev, chain id) and rules (Error(kExitNo), exit 1). Signatures and parsing run
// on `threads` threads (0: the current OpenMP setting); rules apply in order.
// `progress(done, total_bytes)` is called now and then.
State validate_ledger(const std::string& dir, DisputeOracle oracle, ValidateStats* stats = nullptr,
                      const std::function<void(uint64_t, uint64_t)>& progress = nullptr);
// validate_ledger of a log's `n` bytes at `data`, `dir` naming the ledger in messages.
State validate_log_bytes(const uint8_t* data, size_t n, const std::string& dir, DisputeOracle oracle);

// Truncates a torn last record (after validating every record before it); a record
// corrupt anywhere else is refused. Returns the records kept; `removed_bytes` the cut.
uint64_t repair_ledger(const std::string& dir, DisputeOracle oracle, uint64_t* removed_bytes);

// Creates LEDGER/ with events.log holding the signed genesis. Refuses an existing log.
Record create_ledger(const std::string& dir, const KeyPair& op, const std::string& note);

// Creates LEDGER/ from an existing signed genesis record (a copy of a ledger's start).
void init_ledger(const std::string& dir, const Record& genesis);

// The snapshot (proofwork-files(5), LEDGER): LEDGER/snapshot, the state after a validated
// prefix of the log, so that an append validates only the records after it. It is used
// only when its checksum holds and the record that ends its prefix is in the log where it
// says, with the head it names; otherwise it is ignored (and replaced after the next full
// validation). `validate_ledger` never reads it, and rewrites it.
std::string snapshot_path(const std::string& dir);
// Why the ledger's snapshot cannot be used now ("" when it can; "absent" when there is none).
std::string snapshot_problem(const std::string& dir);

// Validates the ledger (the records after a usable snapshot, or the whole log), then the
// new events in order against its state (each must carry the next seq, the head as prev
// and the chain id), then appends them with one O_APPEND write and fsync, under an
// exclusive lock, and refreshes the snapshot. On any error nothing is appended.
// Returns the state after them (settled tasks by id only when it came from a snapshot).
State append_records(const std::string& dir, const std::vector<Record>& records, DisputeOracle oracle);

// What builds the next events from the validated state.
using MakeEvents = std::function<std::vector<Event>(const State&)>;

// Builds, signs and appends events made by `make` from the validated state (seq, prev and
// chain id filled in), as above. `make` may return several events; each is applied to the
// state before the next is made. The records appended go to `appended` when given.
// `whole`: validate every record, not from the snapshot (the state then holds every task in full).
State append_events(const std::string& dir, const KeyPair& k, DisputeOracle oracle, const MakeEvents& make,
                    std::vector<Record>* appended = nullptr, bool whole = false);

// Signs the one event `make` builds against the ledger's current head without appending
// it (an event file); it must be accepted now. More or fewer than one: usage error.
Record prepare_event(const std::string& dir, const KeyPair& k, DisputeOracle oracle, const MakeEvents& make);

// ---- the referee -------------------------------------------------------------------
// The oracle over dispute files kept in LEDGER/disputes/: checks the dispute names the
// task and the claim's root, recomputes its pinpointed op with bisect/'s referee
// (referee_dispute, as 'pol-bisect replay') and says whether the claim's side is wrong.
// Results are cached per hash.
DisputeOracle referee_oracle(const std::string& dir, const std::string& data_dir = "");
// Checks a dispute file's bytes (as for the oracle) and stores it as LEDGER/disputes/HASH.pwd.
Hash store_dispute(const std::string& dir, const Bytes& dispute, const std::string& what);

std::string short_key(const PublicKey& k);  // first 12 hex digits

// The settlement file: every account, the jackpot and every task with its payments;
// its provenance is the running program's line (io/provenance.hpp).
Bytes settlement_file(const State& st, bool json);

}  // namespace pw::ledger
