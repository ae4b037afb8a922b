// The settlement rules (man ledger-settle, RULES): who may post what when, what is
// locked, and who is paid or slashed when a task settles. Every credit moves between
// accounts' free and locked balances and the jackpot, so Σ free + Σ locked + jackpot
// always equals the deposits (the supply).
#include <algorithm>

#include "core/error.hpp"
#include "ledger/ledger.hpp"

namespace pw::ledger {

namespace {

[[noreturn]] void refuse(const Event& e, const std::string& why, int code = kExitNo) {
  throw Error(code, "event " + std::to_string(e.seq) + " (" + kind_name(e.kind) + "): " + why);
}

uint64_t add(uint64_t a, uint64_t b, const Event& e) {
  uint64_t s;
  if (__builtin_add_overflow(a, b, &s) || s > (uint64_t(1) << 62)) refuse(e, "amount overflow");
  return s;
}

bool is_zero(const Hash& h) {
  return std::all_of(h.begin(), h.end(), [](uint8_t b) { return b == 0; });
}

// One task's settlement, computed on the side and committed at once.
struct Book {
  std::map<PublicKey, uint64_t> credit;  // free balance added
  uint64_t to_jackpot = 0;
  std::vector<Payment> payments;

  void pay(const PublicKey& who, const char* role, uint64_t paid, uint64_t slashed, std::string why) {
    if (paid) credit[who] += paid;
    payments.push_back({who, role, paid, slashed, std::move(why)});
  }
};

// Splits `amount` equally among `n` (n > 0); the remainder goes to the jackpot.
uint64_t share(uint64_t amount, size_t n, Book& b) {
  const uint64_t each = amount / n;
  b.to_jackpot += amount - each * n;
  return each;
}

}  // namespace

void State::lock(const PublicKey& who, uint64_t amount, const char* what) {
  auto it = accounts_.find(who);
  const uint64_t have = it == accounts_.end() ? 0 : it->second.free;
  if (have < amount)
    throw Error(kExitNo, std::string("insufficient balance for the ") + what + ": " + short_key(who) + " has " +
                             std::to_string(have) + ", needs " + std::to_string(amount));
  if (amount == 0) return;
  it->second.free -= amount;
  it->second.locked += amount;
}

uint64_t State::total() const {
  uint64_t t = jackpot_;
  for (const auto& [k, a] : accounts_) t += a.free + a.locked;
  return t;
}

std::optional<Hash> State::beacon_after(uint64_t claim_seq) const {
  auto it = std::upper_bound(beacons_.begin(), beacons_.end(), claim_seq,
                             [](uint64_t s, const std::pair<uint64_t, Hash>& b) { return s < b.first; });
  if (it == beacons_.end()) return std::nullopt;
  return it->second;
}

bool State::due(const Task& t, uint64_t now) const {
  if (t.settled) return false;
  if (!t.claimed) return now > t.id + t.claim_window;
  if (now <= t.challenge_deadline()) return false;
  return std::all_of(t.challenges.begin(), t.challenges.end(), [](const ChallengeRec& c) { return c.ruled; });
}

std::vector<uint64_t> State::due_tasks() const {
  std::vector<uint64_t> out;
  for (const auto& [id, t] : tasks_)
    if (due(t, next_seq_)) out.push_back(id);
  return out;
}

std::vector<std::pair<uint64_t, uint64_t>> State::unruled() const {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (const auto& [id, t] : tasks_)
    if (!t.settled)
      for (const auto& c : t.challenges)
        if (!c.ruled) out.push_back({id, c.seq});
  return out;
}

bool State::archived(uint64_t task) const { return std::binary_search(archived_.begin(), archived_.end(), task); }

Task& State::task_for(const Event& e) {
  auto it = tasks_.find(e.task);
  if (it == tasks_.end() && archived(e.task)) refuse(e, "task " + std::to_string(e.task) + " is already settled");
  if (it == tasks_.end()) refuse(e, "no task " + std::to_string(e.task));
  if (it->second.settled) refuse(e, "task " + std::to_string(e.task) + " is already settled");
  return it->second;
}

void State::apply(const Event& e, const Hash& record) {
  if (e.kind != Kind::Genesis && next_seq_ > 0 && e.chain != chain_)
    refuse(e, "signed for another ledger (chain id " + hex(e.chain).substr(0, 16) + "…, this ledger's is " +
                  hex(chain_).substr(0, 16) + "…)");
  if (e.seq != next_seq_)
    refuse(e, "sequence number " + std::to_string(e.seq) + ", expected " + std::to_string(next_seq_));
  if (e.kind == Kind::Genesis) {
    if (e.seq != 0) refuse(e, "a genesis after the first event");
    genesis(e);
  } else {
    if (e.seq == 0) refuse(e, "the first event must be the genesis");
    if (e.prev != head_) refuse(e, "does not follow the previous record (broken chain)");
    // Each handler checks everything before it writes, so a refused event leaves the
    // state as it was.
    switch (e.kind) {
      case Kind::Deposit: deposit(e); break;
      case Kind::Beacon:
        if (e.actor != operator_) refuse(e, "only the operator posts beacons");
        beacons_.push_back({e.seq, e.h1});
        break;
      case Kind::Post: post(e); break;
      case Kind::Claim: claim(e, task_for(e)); break;
      case Kind::Reveal: reveal(e, task_for(e)); break;
      case Kind::Verdict: verdict(e, task_for(e)); break;
      case Kind::Challenge: challenge(e, task_for(e)); break;
      case Kind::Ruling: ruling(e, task_for(e)); break;
      case Kind::Settle: settle(e, task_for(e)); break;
      case Kind::Genesis: break;
    }
  }
  if (e.kind == Kind::Genesis) chain_ = record;
  head_ = record;
  next_seq_++;
}

void State::genesis(const Event& e) {
  operator_ = e.actor;  // the chain id, the genesis record's hash, is set by apply()
}

void State::deposit(const Event& e) {
  if (e.actor != operator_) refuse(e, "only the operator credits deposits");
  if (e.amount == 0 || e.amount > kMaxAmount) refuse(e, "amount " + std::to_string(e.amount) + " out of range (1 to 2^50)");
  const uint64_t s = add(supply_, e.amount, e);
  Account& a = accounts_[e.account];
  add(a.free, e.amount, e);
  a.free += e.amount;
  supply_ = s;
}

void State::post(const Event& e) {
  for (uint64_t v : {e.amount, e.fee, e.solver_stake, e.verifier_stake, e.challenge_stake})
    if (v > kMaxAmount) refuse(e, "amount over 2^50");
  if (e.amount == 0) refuse(e, "a task needs a bounty");
  if (e.claim_window < 1 || e.verify_window < 2 || e.challenge_window < 1 || e.claim_window > kMaxWindow ||
      e.verify_window > kMaxWindow || e.challenge_window > kMaxWindow)
    refuse(e, "windows out of range (claim ≥ 1, verify ≥ 2, challenge ≥ 1, each ≤ 2^24 events)");
  if (is_zero(e.h1)) refuse(e, "no task hash");
  const uint64_t tax = e.amount * kJackpotTaxBp / kBasisPoints;
  try {
    lock(e.actor, e.amount + e.fee + tax, "bounty, verifier fee and jackpot tax");
  } catch (const Error& x) {
    refuse(e, x.what());
  }
  // The tax leaves the submitter's escrow for the jackpot at once.
  accounts_[e.actor].locked -= tax;
  jackpot_ += tax;
  Task t;
  t.id = e.seq;
  t.submitter = e.actor;
  t.task_hash = e.h1;
  t.bounty = e.amount;
  t.fee = e.fee;
  t.tax = tax;
  t.solver_stake = e.solver_stake;
  t.verifier_stake = e.verifier_stake;
  t.challenge_stake = e.challenge_stake;
  t.claim_window = e.claim_window;
  t.verify_window = e.verify_window;
  t.challenge_window = e.challenge_window;
  tasks_[t.id] = t;
}

void State::claim(const Event& e, Task& t) {
  if (t.claimed) refuse(e, "task " + std::to_string(t.id) + " is already claimed (first claim wins)");
  if (e.seq > t.id + t.claim_window) refuse(e, "the claim window of task " + std::to_string(t.id) + " has closed");
  if (e.actor == t.submitter) refuse(e, "a submitter may not solve its own task");
  if (e.amount < t.solver_stake) refuse(e, "stake " + std::to_string(e.amount) + " below the task's " + std::to_string(t.solver_stake));
  if (e.amount > kMaxAmount) refuse(e, "stake over 2^50");
  try {
    lock(e.actor, e.amount, "solver stake");
  } catch (const Error& x) {
    refuse(e, x.what());
  }
  t.claimed = true;
  t.claim_seq = e.seq;
  t.solver = e.actor;
  t.root = e.h1;
  t.commitment = e.h2;
  t.stake = e.amount;
}

void State::reveal(const Event& e, Task& t) {
  if (!t.claimed) refuse(e, "task " + std::to_string(t.id) + " has no claim");
  if (e.actor != t.solver) refuse(e, "only the solver reveals");
  if (t.revealed) refuse(e, "already revealed");
  if (e.seq > t.reveal_deadline()) refuse(e, "after the reveal deadline (event " + std::to_string(t.reveal_deadline()) + ")");
  const auto beacon = beacon_after(t.claim_seq);
  if (!beacon) refuse(e, "no beacon since the claim: nothing to draw from yet");
  if (blake2b(e.h1.data(), 32) != t.commitment) refuse(e, "the secret does not match the claim's commitment");
  const bool forced = forced_error(*beacon, e.h1);
  if (forced && !e.has_h2) refuse(e, "the draw forces an error: the reveal must name the decoy proof's root");
  if (!forced && e.has_h2) refuse(e, "the draw does not force an error: no decoy may be named");
  if (forced && e.h2 == t.root) refuse(e, "the decoy is the claimed proof itself");
  t.revealed = true;
  t.forced = forced;
  if (forced) t.decoy = e.h2;
}

void State::verdict(const Event& e, Task& t) {
  if (!t.claimed) refuse(e, "task " + std::to_string(t.id) + " has no claim yet");
  if (e.seq > t.verify_deadline()) refuse(e, "the verify window of task " + std::to_string(t.id) + " has closed");
  const bool on_decoy = t.forced && e.h1 == t.decoy;
  if (!on_decoy && e.h1 != t.root) refuse(e, "a verdict on a proof root that task " + std::to_string(t.id) + " does not hold");
  if (e.actor == t.solver || e.actor == t.submitter) refuse(e, "the solver and the submitter may not verify their own task");
  for (const auto& v : t.verdicts)
    if (v.verifier == e.actor && v.root == e.h1) refuse(e, "this verifier already gave a verdict on this proof");
  if (e.amount < t.verifier_stake || e.amount > kMaxAmount)
    refuse(e, "stake " + std::to_string(e.amount) + " below the task's " + std::to_string(t.verifier_stake));
  try {
    lock(e.actor, e.amount, "verifier stake");
  } catch (const Error& x) {
    refuse(e, x.what());
  }
  t.verdicts.push_back({e.seq, e.actor, e.h1, e.flag, on_decoy, e.amount});
}

void State::challenge(const Event& e, Task& t) {
  if (!t.claimed) refuse(e, "task " + std::to_string(t.id) + " has no claim to challenge");
  if (e.seq > t.challenge_deadline()) refuse(e, "the challenge window of task " + std::to_string(t.id) + " has closed");
  if (e.actor == t.solver) refuse(e, "the solver may not challenge its own claim");
  for (const auto& c : t.challenges)
    if (c.dispute == e.h1) refuse(e, "this dispute was already filed against the task");
  if (e.amount < t.challenge_stake || e.amount > kMaxAmount)
    refuse(e, "stake " + std::to_string(e.amount) + " below the task's " + std::to_string(t.challenge_stake));
  ChallengeRec c{e.seq, e.actor, e.h1, e.amount};
  // The dispute must be about this task and this claim; its ruling is computed now
  // (cached by the oracle) so a challenge that can never be ruled is refused.
  if (oracle_) {
    try {
      const DisputeRuling r = oracle_(e.h1, t.task_hash, t.root);
      c.referee = r.referee;
    } catch (const Error& x) {
      refuse(e, x.what(), x.code);
    }
  }
  try {
    lock(e.actor, e.amount, "challenge stake");
  } catch (const Error& x) {
    refuse(e, x.what());
  }
  t.challenges.push_back(c);
}

void State::ruling(const Event& e, Task& t) {
  auto it = std::find_if(t.challenges.begin(), t.challenges.end(), [&](const ChallengeRec& c) { return c.seq == e.challenge; });
  if (it == t.challenges.end()) refuse(e, "no challenge " + std::to_string(e.challenge) + " against task " + std::to_string(t.id));
  if (it->ruled) refuse(e, "challenge " + std::to_string(e.challenge) + " is already ruled");
  if (!oracle_) refuse(e, "no referee available to recompute the dispute");
  DisputeRuling r;
  try {
    r = oracle_(it->dispute, t.task_hash, t.root);
  } catch (const Error& x) {
    refuse(e, x.what(), x.code);
  }
  if (r.solver_wrong != e.flag || r.referee != e.h1)
    refuse(e, std::string("the ruling disagrees with the recomputation: recomputed ") +
                  (r.solver_wrong ? "solver wrong" : "solver right") + " (referee output " + hex(r.referee).substr(0, 16) +
                  "…), the event says " + (e.flag ? "solver wrong" : "solver right") + " (" + hex(e.h1).substr(0, 16) + "…)");
  it->ruled = true;
  it->solver_wrong = r.solver_wrong;
  it->referee = r.referee;
}

void State::settle(const Event& e, Task& t) {
  if (!due(t, e.seq)) {
    if (!t.claimed) refuse(e, "task " + std::to_string(t.id) + "'s claim window is still open");
    if (e.seq <= t.challenge_deadline())
      refuse(e, "task " + std::to_string(t.id) + "'s challenge window is open until event " + std::to_string(t.challenge_deadline()));
    refuse(e, "task " + std::to_string(t.id) + " has a challenge waiting for its ruling");
  }
  Book b;
  std::string outcome;
  if (!t.claimed) {
    outcome = "no-claim";
    b.pay(t.submitter, "submitter", t.bounty + t.fee, 0, "refund: no claim before event " + std::to_string(t.id + t.claim_window));
  } else {
    const bool wrong = std::any_of(t.challenges.begin(), t.challenges.end(), [](const ChallengeRec& c) { return c.solver_wrong; });
    // A beacon by the reveal deadline made the reveal due.
    auto beacon = std::upper_bound(beacons_.begin(), beacons_.end(), t.claim_seq,
                                   [](uint64_t s, const std::pair<uint64_t, Hash>& x) { return s < x.first; });
    const bool missed_reveal = !t.revealed && beacon != beacons_.end() && beacon->first <= t.reveal_deadline();
    outcome = wrong ? "wrong" : missed_reveal ? "missed-reveal" : "honest";
    std::vector<const ChallengeRec*> winners;
    for (const auto& c : t.challenges)
      if (c.solver_wrong) winners.push_back(&c);
    uint64_t pool = 0;  // for the whistleblowers: half of every stake their rulings slashed
    // The solver.
    if (wrong) {
      pool += t.stake / 2;
      b.to_jackpot += t.stake - t.stake / 2;
      b.pay(t.solver, "solver", 0, t.stake, "slashed: the referee ruled the proof wrong");
      b.pay(t.submitter, "submitter", t.bounty, 0, "bounty refunded: the proof was wrong");
    } else if (missed_reveal) {
      b.to_jackpot += t.stake;
      b.pay(t.solver, "solver", 0, t.stake, "slashed: no reveal of the forced-error draw by event " + std::to_string(t.reveal_deadline()));
      b.pay(t.submitter, "submitter", t.bounty, 0, "bounty refunded: the solver did not reveal");
    } else {
      b.pay(t.solver, "solver", t.stake + t.bounty, 0, "bounty " + std::to_string(t.bounty) + " + stake returned");
    }
    // Verifiers of the claim: right when they accepted an unchallenged proof or rejected a
    // proof ruled wrong. The fee is split among the right ones.
    std::vector<const VerdictRec*> right;
    for (const auto& v : t.verdicts) {
      if (v.on_decoy) continue;
      if (v.accept != wrong) {
        right.push_back(&v);
      } else if (wrong) {  // accepted a wrong proof, caught by a whistleblower
        pool += v.stake / 2;
        b.to_jackpot += v.stake - v.stake / 2;
        b.pay(v.verifier, "verifier", 0, v.stake, "slashed: accepted a proof the referee ruled wrong");
      } else {
        b.to_jackpot += v.stake;
        b.pay(v.verifier, "verifier", 0, v.stake, "slashed: rejected a proof no challenge proved wrong");
      }
    }
    const uint64_t each_fee = right.empty() ? 0 : share(t.fee, right.size(), b);
    for (const VerdictRec* v : right)
      b.pay(v->verifier, "verifier", v->stake + each_fee, 0, std::string(v->accept ? "accepted" : "rejected") + " rightly: fee share " + std::to_string(each_fee) + " + stake returned");
    if (right.empty() && t.fee) b.pay(t.submitter, "submitter", t.fee, 0, "verifier fee refunded: no verifier was right");
    // Challengers.
    const uint64_t each_pool = winners.empty() ? 0 : share(pool, winners.size(), b);
    if (winners.empty()) b.to_jackpot += pool;
    for (const auto& c : t.challenges) {
      if (c.solver_wrong) {
        b.pay(c.whistleblower, "whistleblower", c.stake + each_pool, 0, "challenge upheld by the referee: reward " + std::to_string(each_pool) + " + stake returned");
      } else {
        const uint64_t half = wrong ? 0 : c.stake / 2;  // to the solver who had to defend a right proof
        b.to_jackpot += c.stake - half;
        if (half) b.pay(t.solver, "solver", half, 0, "half the stake of a frivolous challenge");
        b.pay(c.whistleblower, "whistleblower", 0, c.stake, "slashed: frivolous challenge, the referee ruled for the solver");
      }
    }
    // The forced error's decoy: checking verifiers reject it and share at most a third of
    // the jackpot; a verifier that accepted it did not check, and is slashed.
    std::vector<const VerdictRec*> catchers;
    for (const auto& v : t.verdicts) {
      if (!v.on_decoy) continue;
      if (!v.accept) {
        catchers.push_back(&v);
      } else {
        b.to_jackpot += v.stake;
        b.pay(v.verifier, "verifier", 0, v.stake, "slashed: accepted the forced error's decoy");
      }
    }
    jackpot_ += b.to_jackpot;
    b.to_jackpot = 0;
    if (!catchers.empty()) {
      const uint64_t prize = jackpot_ / kJackpotShareDen;
      const uint64_t each = prize / catchers.size();
      jackpot_ -= each * catchers.size();
      for (const VerdictRec* v : catchers)
        b.pay(v->verifier, "verifier", v->stake + each, 0, "caught the forced error: jackpot share " + std::to_string(each) + " + stake returned");
    }
  }
  jackpot_ += b.to_jackpot;
  // Release every lock of this task, then credit.
  auto unlock = [&](const PublicKey& who, uint64_t amount) { accounts_[who].locked -= amount; };
  unlock(t.submitter, t.bounty + t.fee);
  if (t.claimed) unlock(t.solver, t.stake);
  for (const auto& v : t.verdicts) unlock(v.verifier, v.stake);
  for (const auto& c : t.challenges) unlock(c.whistleblower, c.stake);
  for (const auto& [who, amount] : b.credit) accounts_[who].free += amount;
  t.settled = true;
  t.settled_at = e.seq;
  t.outcome = outcome;
  t.payments = std::move(b.payments);
}

}  // namespace pw::ledger
