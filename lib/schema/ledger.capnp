# ledger-settle's file formats: the market ledger (man ledger-settle).
#
# A ledger is a directory holding `events.log`, an append-only sequence of records,
# each the canonical Cap'n Proto encoding of one LedgerEvent, signed by its actor
# (Ed25519) and chained to the previous record's hash (see lib/ledger/ledger.hpp for
# the record framing). An event file (`ledger-settle ... -o FILE`, read by
# `ledger-settle append`) is one LedgerRecord; the settlement file is a
# LedgerSettlement. Amounts are integer credits; time is the event sequence number.
@0x836e7760db92dfac;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("pw::schema");
using Json = import "/capnp/compat/json.capnp";

struct LedgerEvent {
  seq @0 :UInt64;                  # position in the log: the genesis is 0
  chainId @1 :Data $Json.hex;      # hash of the genesis record (empty in the genesis itself)
  prev @2 :Data $Json.hex;         # hash of the previous record (empty in the genesis)
  actor @3 :Data $Json.hex;        # the signer's Ed25519 public key
  union {
    genesis @4 :Genesis;
    deposit @5 :Deposit;
    beacon @6 :Beacon;
    post @7 :Post;
    claim @8 :Claim;
    reveal @9 :Reveal;
    verdict @10 :Verdict;
    challenge @11 :Challenge;
    ruling @12 :Ruling;
    settle @13 :Settle;
  }

  # The actor is the operator: it alone signs deposits and beacons.
  struct Genesis {
    nonce @0 :Data $Json.hex;      # 32 random bytes: no two ledgers share a chain id
    note @1 :Text;
    formatVersion @2 :UInt32;      # the log's version, signed once for the whole chain;
                                   # absent (0) in ledgers begun before it was recorded:
                                   # they read as version 1, the format they have
  }
  # Credits entering the market (the operator received them off-ledger).
  struct Deposit {
    account @0 :Data $Json.hex;
    amount @1 :UInt64;
  }
  # Public randomness (e.g. a drand round) relayed by the operator.
  struct Beacon {
    value @0 :Data $Json.hex;
  }
  # A task: its id is this event's seq. Windows are counted in events.
  struct Post {
    taskHash @0 :Data $Json.hex;   # BLAKE2b-256 of the task file's canonical encoding
    bounty @1 :UInt64;
    verifierFee @2 :UInt64;
    solverStake @3 :UInt64;
    verifierStake @4 :UInt64;
    challengeStake @5 :UInt64;
    claimWindow @6 :UInt32;
    verifyWindow @7 :UInt32;
    challengeWindow @8 :UInt32;
  }
  struct Claim {
    task @0 :UInt64;
    proofRoot @1 :Data $Json.hex;  # the proof manifest's Merkle root
    commitment @2 :Data $Json.hex; # BLAKE2b-256 of the solver's forced-error secret
    stake @3 :UInt64;
  }
  # The forced-error draw opened: the secret behind the claim's commitment, and when the
  # draw forces an error, the root of the deliberately wrong proof (the decoy).
  struct Reveal {
    task @0 :UInt64;
    secret @1 :Data $Json.hex;
    decoyRoot @2 :Data $Json.hex;  # empty unless forced
  }
  struct Verdict {
    task @0 :UInt64;
    proofRoot @1 :Data $Json.hex;  # the claim's root or its decoy's
    accept @2 :Bool;
    verdictHash @3 :Data $Json.hex;# BLAKE2b-256 of the verdict file's canonical encoding
    stake @4 :UInt64;
  }
  struct Challenge {
    task @0 :UInt64;
    disputeHash @1 :Data $Json.hex;# BLAKE2b-256 of the dispute file (kept in LEDGER/disputes/)
    stake @2 :UInt64;
  }
  # Derived by recomputing the dispute's op (pol-bisect's referee); checked on validation.
  struct Ruling {
    task @0 :UInt64;
    challenge @1 :UInt64;          # the challenge event's seq
    solverWrong @2 :Bool;
    refereeHash @3 :Data $Json.hex;# the referee's output hash
  }
  struct Settle {
    task @0 :UInt64;
  }
}

# An event with its signature: an event file, and the JSON form of a log record.
struct LedgerRecord {
  event @0 :LedgerEvent;
  signature @1 :Data $Json.hex;    # Ed25519 over the event's canonical encoding
  formatVersion @2 :UInt32;        # the event file's version, outside the signed bytes
                                   # (absent, 0: written before it was recorded; reads as 1)
}

# What `ledger-settle settle/validate -o` writes.
struct LedgerSettlement {
  chainId @0 :Data $Json.hex;
  events @1 :UInt64;               # records in the log
  head @2 :Data $Json.hex;         # hash of the last record
  supply @3 :UInt64;               # all deposits: = Σ free + Σ locked + jackpot
  jackpot @4 :UInt64;
  accounts @5 :List(Account);
  tasks @6 :List(TaskOutcome);
  provenance @7 :Text;             # "program version: command line"
  formatVersion @8 :UInt32;        # absent (0): written before it was recorded; reads as 1

  struct Account {
    key @0 :Data $Json.hex;
    free @1 :UInt64;
    locked @2 :UInt64;             # bounties, fees and stakes in escrow
  }
  struct Payment {
    account @0 :Data $Json.hex;
    role @1 :Text;                 # submitter, solver, verifier, whistleblower, ...
    paid @2 :UInt64;               # credited on settlement (stake returned included)
    slashed @3 :UInt64;            # stake lost
    reason @4 :Text;
  }
  struct TaskOutcome {
    id @0 :UInt64;
    taskHash @1 :Data $Json.hex;
    state @2 :Text;                # open, claimed, settled
    outcome @3 :Text;              # when settled: no-claim, honest, wrong, missed-reveal
    forcedError @4 :Bool;
    settledAt @5 :UInt64;
    payments @6 :List(Payment);
  }
}
