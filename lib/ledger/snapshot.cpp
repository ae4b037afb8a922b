// The state's snapshot encoding (proofwork-files(5), LEDGER): what an append needs to go on
// from a validated prefix without replaying it. Little-endian, every count before its
// items; settled tasks are kept by id only (an event about one is refused all the same),
// and only the beacons an open claim may still draw from.
#include <algorithm>
#include <cstring>

#include "core/error.hpp"
#include "ledger/ledger.hpp"

namespace pw::ledger {

namespace {

struct Writer {
  Bytes out;
  void u64(uint64_t v) {
    uint8_t b[8];
    std::memcpy(b, &v, 8);
    out.insert(out.end(), b, b + 8);
  }
  template <size_t N>
  void raw(const std::array<uint8_t, N>& a) {
    out.insert(out.end(), a.begin(), a.end());
  }
  void text(const std::string& s) {
    u64(s.size());
    out.insert(out.end(), s.begin(), s.end());
  }
};

struct Reader {
  const uint8_t* p;
  size_t n, at = 0;
  void need(size_t k) {
    if (k > n - at) bad_input("ledger snapshot: truncated state");
  }
  uint64_t u64() {
    need(8);
    uint64_t v;
    std::memcpy(&v, p + at, 8);
    at += 8;
    return v;
  }
  uint32_t u32() {
    const uint64_t v = u64();
    if (v > UINT32_MAX) bad_input("ledger snapshot: a window out of range");
    return uint32_t(v);
  }
  bool flag() { return u64() != 0; }
  template <size_t N>
  void raw(std::array<uint8_t, N>& a) {
    need(N);
    std::memcpy(a.data(), p + at, N);
    at += N;
  }
  std::string text() {
    const uint64_t k = u64();
    need(k);
    std::string s(reinterpret_cast<const char*>(p + at), k);
    at += k;
    return s;
  }
  // A count of items of at least `min_bytes` each: never more than the bytes left allow.
  uint64_t count(size_t min_bytes) {
    const uint64_t k = u64();
    if (k > (n - at) / min_bytes) bad_input("ledger snapshot: a count beyond its bytes");
    return k;
  }
};

void put_task(Writer& w, const Task& t) {
  w.u64(t.id);
  w.raw(t.submitter);
  w.raw(t.task_hash);
  for (uint64_t v : {t.bounty, t.fee, t.tax, t.solver_stake, t.verifier_stake, t.challenge_stake}) w.u64(v);
  for (uint32_t v : {t.claim_window, t.verify_window, t.challenge_window}) w.u64(v);
  w.u64(t.claimed);
  w.u64(t.claim_seq);
  w.u64(t.stake);
  w.raw(t.solver);
  w.raw(t.root);
  w.raw(t.commitment);
  w.u64(t.revealed);
  w.u64(t.forced);
  w.raw(t.decoy);
  w.u64(t.verdicts.size());
  for (const VerdictRec& v : t.verdicts) {
    w.u64(v.seq);
    w.raw(v.verifier);
    w.raw(v.root);
    w.u64(v.accept);
    w.u64(v.on_decoy);
    w.u64(v.stake);
  }
  w.u64(t.challenges.size());
  for (const ChallengeRec& c : t.challenges) {
    w.u64(c.seq);
    w.raw(c.whistleblower);
    w.raw(c.dispute);
    w.u64(c.stake);
    w.u64(c.ruled);
    w.u64(c.solver_wrong);
    w.raw(c.referee);
  }
  w.text(t.outcome);
  w.u64(t.payments.size());
  for (const Payment& p : t.payments) {
    w.raw(p.account);
    w.text(p.role);
    w.u64(p.paid);
    w.u64(p.slashed);
    w.text(p.reason);
  }
}

Task get_task(Reader& r) {
  Task t;
  t.id = r.u64();
  r.raw(t.submitter);
  r.raw(t.task_hash);
  for (uint64_t* v : {&t.bounty, &t.fee, &t.tax, &t.solver_stake, &t.verifier_stake, &t.challenge_stake}) *v = r.u64();
  for (uint32_t* v : {&t.claim_window, &t.verify_window, &t.challenge_window}) *v = r.u32();
  t.claimed = r.flag();
  t.claim_seq = r.u64();
  t.stake = r.u64();
  r.raw(t.solver);
  r.raw(t.root);
  r.raw(t.commitment);
  t.revealed = r.flag();
  t.forced = r.flag();
  r.raw(t.decoy);
  for (uint64_t k = r.count(8 * 4 + 64); k > 0; k--) {
    VerdictRec v{};
    v.seq = r.u64();
    r.raw(v.verifier);
    r.raw(v.root);
    v.accept = r.flag();
    v.on_decoy = r.flag();
    v.stake = r.u64();
    t.verdicts.push_back(v);
  }
  for (uint64_t k = r.count(8 * 4 + 96); k > 0; k--) {
    ChallengeRec c{};
    c.seq = r.u64();
    r.raw(c.whistleblower);
    r.raw(c.dispute);
    c.stake = r.u64();
    c.ruled = r.flag();
    c.solver_wrong = r.flag();
    r.raw(c.referee);
    t.challenges.push_back(c);
  }
  t.outcome = r.text();
  for (uint64_t k = r.count(32 + 8 * 4); k > 0; k--) {
    Payment p;
    r.raw(p.account);
    p.role = r.text();
    p.paid = r.u64();
    p.slashed = r.u64();
    p.reason = r.text();
    t.payments.push_back(std::move(p));
  }
  return t;
}

}  // namespace

Bytes State::encode() const {
  Writer w;
  for (uint64_t v : {next_seq_, supply_, jackpot_}) w.u64(v);
  w.raw(chain_);
  w.raw(head_);
  w.raw(operator_);
  w.u64(accounts_.size());
  for (const auto& [k, a] : accounts_) {
    w.raw(k);
    w.u64(a.free);
    w.u64(a.locked);
  }
  // Beacons after the earliest open claim (a claim draws the first beacon after it).
  uint64_t since = next_seq_;
  for (const auto& [id, t] : tasks_)
    if (!t.settled && t.claimed) since = std::min(since, t.claim_seq);
  auto from = std::upper_bound(beacons_.begin(), beacons_.end(), since,
                               [](uint64_t s, const std::pair<uint64_t, Hash>& b) { return s < b.first; });
  w.u64(uint64_t(beacons_.end() - from));
  for (auto it = from; it != beacons_.end(); ++it) {
    w.u64(it->first);
    w.raw(it->second);
  }
  std::vector<uint64_t> settled = archived_;
  size_t open = 0;
  for (const auto& [id, t] : tasks_) t.settled ? settled.push_back(id) : void(open++);
  std::sort(settled.begin(), settled.end());
  w.u64(settled.size());
  for (uint64_t id : settled) w.u64(id);
  w.u64(open);
  for (const auto& [id, t] : tasks_)
    if (!t.settled) put_task(w, t);
  return std::move(w.out);
}

State State::decode(const uint8_t* p, size_t n, DisputeOracle oracle) {
  State s(std::move(oracle));
  Reader r{p, n};
  s.next_seq_ = r.u64();
  s.supply_ = r.u64();
  s.jackpot_ = r.u64();
  r.raw(s.chain_);
  r.raw(s.head_);
  r.raw(s.operator_);
  for (uint64_t k = r.count(48); k > 0; k--) {
    PublicKey key;
    r.raw(key);
    Account& a = s.accounts_[key];
    a.free = r.u64();
    a.locked = r.u64();
  }
  for (uint64_t k = r.count(40); k > 0; k--) {
    const uint64_t seq = r.u64();
    Hash h;
    r.raw(h);
    if (!s.beacons_.empty() && seq <= s.beacons_.back().first) bad_input("ledger snapshot: beacons out of order");
    s.beacons_.push_back({seq, h});
  }
  for (uint64_t k = r.count(8); k > 0; k--) {
    const uint64_t id = r.u64();
    if (!s.archived_.empty() && id <= s.archived_.back()) bad_input("ledger snapshot: settled tasks out of order");
    s.archived_.push_back(id);
  }
  for (uint64_t k = r.count(8); k > 0; k--) {
    Task t = get_task(r);
    if (s.tasks_.count(t.id) || s.archived(t.id)) bad_input("ledger snapshot: task " + std::to_string(t.id) + " twice");
    s.tasks_[t.id] = std::move(t);
  }
  if (r.at != n) bad_input("ledger snapshot: bytes after the state");
  if (s.total() != s.supply_) bad_input("ledger snapshot: its balances do not add up to its supply");
  return s;
}

}  // namespace pw::ledger
