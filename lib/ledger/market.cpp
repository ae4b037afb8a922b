#include "ledger/market.hpp"

#include <dirent.h>
#include <sodium.h>

#include <algorithm>
#include <cstdio>

#include "core/error.hpp"
#include "io/message.hpp"
#include "proof/proof.hpp"
#include "schema/proofwork.capnp.h"
#include "verify/verdict.hpp"

namespace pw::ledger {

namespace {

uint64_t or_default(int64_t v, uint64_t d) { return v < 0 ? d : uint64_t(v); }

}  // namespace

Event deposit_event(const PublicKey& to, uint64_t amount) {
  Event e;
  e.kind = Kind::Deposit;
  e.account = to;
  e.amount = amount;
  return e;
}

std::vector<Event> beacon_events(const std::string& hex, const std::string& text, uint64_t count) {
  if (!hex.empty() && !text.empty()) usage_error("give --value or --text, not both");
  if (count > 1 && (!hex.empty() || !text.empty())) usage_error("--count posts random beacons; drop --value/--text");
  std::vector<Event> es(count);
  for (Event& e : es) {
    e.kind = Kind::Beacon;
    if (!hex.empty()) {
      std::vector<uint8_t> raw;
      try {
        raw = unhex(hex);
      } catch (const Error&) {
      }
      if (raw.size() != 32) usage_error("--value '" + hex + "': not 64 hexadecimal digits");
      e.h1 = to_hash(raw.data(), raw.size());
    } else if (!text.empty()) {
      e.h1 = blake2b(text.data(), text.size());
    } else {
      randombytes_buf(e.h1.data(), e.h1.size());
    }
  }
  return es;
}

Event post_event(const Hash& task_hash, const PostTerms& t) {
  Event e;
  e.kind = Kind::Post;
  e.h1 = task_hash;
  e.amount = t.bounty;
  e.fee = or_default(t.fee, t.bounty / 10);
  e.solver_stake = or_default(t.solver_stake, t.bounty);
  e.verifier_stake = or_default(t.verifier_stake, e.fee);
  e.challenge_stake = or_default(t.challenge_stake, e.fee);
  e.claim_window = t.claim_window;
  e.verify_window = t.verify_window;
  e.challenge_window = t.challenge_window;
  return e;
}

const Task& find_task(const State& st, uint64_t id) {
  auto it = st.tasks().find(id);
  if (it == st.tasks().end() && st.archived(id)) throw Error(kExitNo, "--task-id " + std::to_string(id) + ": task " + std::to_string(id) + " is already settled");
  if (it == st.tasks().end()) usage_error("--task-id " + std::to_string(id) + ": no such task in the ledger");
  return it->second;
}

Hash claimed_root(const std::string& dir) {
  const Manifest m = read_manifest(dir, int64_t(1) << 28);
  check_input(!m.root_mismatch, "proof '" + dir + "': the manifest's stored root is not its recomputed one");
  check_input(m.complete, "proof '" + dir + "': training is not complete");
  return m.root();
}

Event claim_event(const State& st, const KeyPair& k, uint64_t task, const Hash& root, int64_t stake) {
  const Task& t = find_task(st, task);
  Event e;
  e.kind = Kind::Claim;
  e.task = task;
  e.h1 = root;
  const Hash secret = claim_secret(k, st.chain(), task, root);
  e.h2 = blake2b(secret.data(), 32);
  e.amount = or_default(stake, t.solver_stake);
  return e;
}

Event reveal_event(const State& st, const KeyPair& k, uint64_t task, const std::string& decoy, const Notes& note) {
  const Task& t = find_task(st, task);
  if (!t.claimed) usage_error("task " + std::to_string(task) + " has no claim");
  Event e;
  e.kind = Kind::Reveal;
  e.task = task;
  e.h1 = claim_secret(k, st.chain(), task, t.root);
  const auto b = st.beacon_after(t.claim_seq);
  if (!b) usage_error("no beacon since the claim yet: wait for the operator's next beacon");
  const bool forced = forced_error(*b, e.h1);
  if (forced && decoy.empty())
    throw Error(kExitNo, "the draw forces an error on task " + std::to_string(task) +
                             ": train a deliberately wrong proof (pol-forge --inject-fault) and pass it with --decoy");
  if (!forced && !decoy.empty())
    usage_error("the draw does not force an error on task " + std::to_string(task) + ": drop --decoy");
  if (forced) {
    e.has_h2 = true;
    e.h2 = claimed_root(decoy);
  }
  if (note) note("task " + std::to_string(task) + ": the forced-error draw says " + (forced ? "FORCED" : "not forced"));
  return e;
}

VerdictSummary read_verdict_summary(const std::string& path) {
  auto msg = read_verdict(path);  // version-checked
  const std::string what = "verdict '" + path + "'";
  return guard_input(what, [&] {
    auto v = msg.root();
    VerdictSummary s;
    s.what = what;
    s.task = hash_field(v.getTaskHash());
    s.root = hash_field(v.getProofRoot());
    s.accepted = v.getAccepted();
    s.file = canonical_hash(v);
    return s;
  });
}

Event verdict_event(const State& st, uint64_t task, const VerdictSummary& v, int64_t stake) {
  const Task& t = find_task(st, task);
  if (v.task != t.task_hash) bad_input(v.what + ": about another task than task " + std::to_string(task));
  Event e;
  e.kind = Kind::Verdict;
  e.task = task;
  e.h1 = v.root;
  e.flag = v.accepted;
  e.h2 = v.file;
  e.amount = or_default(stake, t.verifier_stake);
  return e;
}

Event challenge_event(const State& st, uint64_t task, const Hash& dispute, int64_t stake) {
  const Task& t = find_task(st, task);
  Event e;
  e.kind = Kind::Challenge;
  e.task = task;
  e.h1 = dispute;
  e.amount = or_default(stake, t.challenge_stake);
  return e;
}

std::vector<Event> ruling_events(const State& st, const DisputeOracle& referee, int64_t only, const Notes& note) {
  std::vector<Event> es;
  for (const auto& unruled : st.unruled()) {
    const uint64_t task = unruled.first, seq = unruled.second;  // not a structured binding: clang 14 lambdas cannot capture one
    if (only >= 0 && uint64_t(only) != seq) continue;
    const Task& t = st.tasks().at(task);
    const auto c = std::find_if(t.challenges.begin(), t.challenges.end(), [&](const ChallengeRec& x) { return x.seq == seq; });
    const DisputeRuling r = referee(c->dispute, t.task_hash, t.root);
    Event e;
    e.kind = Kind::Ruling;
    e.task = task;
    e.challenge = seq;
    e.flag = r.solver_wrong;
    e.h1 = r.referee;
    if (note)
      note("task " + std::to_string(task) + ", challenge " + std::to_string(seq) +
           ": the referee's recomputation says the solver is " + (r.solver_wrong ? "WRONG" : "right"));
    es.push_back(e);
  }
  if (only >= 0 && es.empty()) usage_error("--challenge " + std::to_string(only) + ": no such unruled challenge");
  if (es.empty() && note) note("no challenge waits for a ruling");
  return es;
}

std::vector<Event> settle_events(const State& st) {
  std::vector<Event> es;
  for (uint64_t id : st.due_tasks()) {
    Event e;
    e.kind = Kind::Settle;
    e.task = id;
    es.push_back(e);
  }
  return es;
}

Settlement settle_ledger(const std::string& dir, const KeyPair& k, const std::string& data_dir, const Notes& note) {
  const DisputeOracle referee = referee_oracle(dir, data_dir);
  append_events(dir, k, referee, [&](const State& s) { return ruling_events(s, referee, -1, note); });
  Settlement out;
  // Whole: the settlement lists every task with its payments.
  out.state = append_events(dir, k, referee, [&](const State& s) {
    std::vector<Event> es = settle_events(s);
    for (const Event& e : es) out.settled.push_back(e.task);
    return es;
  }, nullptr, true);
  return out;
}

Names load_names(const std::string& dir) {
  Names names;
  if (dir.empty()) return names;
  DIR* d = opendir(dir.c_str());
  if (!d) usage_error("--names '" + dir + "': not a readable directory");
  while (dirent* ent = readdir(d)) {
    const std::string f = ent->d_name;
    if (f.size() > 4 && f.compare(f.size() - 4, 4, ".pub") == 0) {
      try {
        names[parse_public_key(join_path(dir, f))] = f.substr(0, f.size() - 4);
      } catch (const Error&) {  // not a key: not a label
      }
    }
  }
  closedir(d);
  return names;
}

std::string account_label(const Names& names, const PublicKey& k) {
  auto it = names.find(k);
  return it == names.end() ? short_key(k) : it->second + " (" + short_key(k) + ")";
}

std::string task_report(const Task& t, const Names& names) {
  char line[512];
  std::snprintf(line, sizeof line, "task %llu (settled at event %llu): %s%s\n", (unsigned long long)t.id,
                (unsigned long long)t.settled_at, t.outcome.c_str(), t.forced ? ", forced error" : "");
  std::string out = line;
  for (const Payment& p : t.payments) {
    char amount[96];
    if (p.slashed)
      std::snprintf(amount, sizeof amount, "SLASHED %llu", (unsigned long long)p.slashed);
    else
      std::snprintf(amount, sizeof amount, "paid %llu", (unsigned long long)p.paid);
    std::snprintf(line, sizeof line, "  %-13s %-28s %-14s %s\n", p.role.c_str(), account_label(names, p.account).c_str(), amount,
                  p.reason.c_str());
    out += line;
  }
  return out;
}

std::string state_report(const std::string& dir, const State& st, const Names& names) {
  size_t settled = 0;
  for (const auto& [id, t] : st.tasks()) settled += t.settled;
  std::string out = "ledger " + dir + ": " + std::to_string(st.next_seq()) + " events, chain " + hex(st.chain()).substr(0, 16) +
                    "…, head " + hex(st.head()).substr(0, 16) + "…: valid\n";
  char line[512];
  std::snprintf(line, sizeof line, "%zu tasks, %zu settled; supply %llu = free + locked + jackpot %llu\nbalances (free, locked):\n",
                st.tasks().size(), settled, (unsigned long long)st.supply(), (unsigned long long)st.jackpot());
  out += line;
  for (const auto& [k, a] : st.accounts()) {
    std::snprintf(line, sizeof line, "  %-28s %12llu %12llu\n", account_label(names, k).c_str(), (unsigned long long)a.free,
                  (unsigned long long)a.locked);
    out += line;
  }
  return out;
}

std::string settle_report(const std::string& dir, const Settlement& s, const Names& names) {
  std::string out = s.settled.empty() ? "nothing to settle: every due task is settled already\n" : "";
  for (uint64_t id : s.settled) out += task_report(s.state.tasks().at(id), names);
  return out + state_report(dir, s.state, names);
}

std::string validate_report(const std::string& dir, const State& st, const Names& names) {
  std::string out = state_report(dir, st, names);
  for (const auto& [id, t] : st.tasks())
    if (t.settled) out += task_report(t, names);
  return out;
}

}  // namespace pw::ledger
