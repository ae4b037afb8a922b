// The ledger: encoding and signatures, the failure paths of validation and append
// (forged signature, broken chain, an event from another ledger, a ruling that disagrees
// with the recomputation, a torn or corrupt record: each refused with its exit code and
// nothing appended), and a property test over a random market of honest and dishonest
// actors (≥ 10,000 accepted events): supply conserved, no balance below zero, every task
// settled at most once, and the same state whether the log is appended in one run or in
// random chunks.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "io/message.hpp"
#include "io/version.hpp"
#include "ledger/ledger.hpp"
#include "ledger/market.hpp"
#include "schema/ledger.capnp.h"
#include "unit_helpers.hpp"

using namespace pw;
using namespace pw::ledger;

namespace {

Hash h_of(const std::string& s) { return blake2b(s.data(), s.size()); }

size_t file_size(const std::string& p) { return size_t(std::filesystem::file_size(p)); }

// A small world: an operator and actors with precomputed keys.
struct World {
  KeyPair op;
  std::vector<KeyPair> actors;
  explicit World(int n) : op(generate_key()) {
    for (int i = 0; i < n; i++) actors.push_back(generate_key());
  }
};

// Signs `e` as the next event of `st` and applies it; returns the record or nullopt when
// the rules refuse it (the state is then unchanged).
std::optional<Record> try_event(State& st, Event e, const KeyPair& k) {
  e.seq = st.next_seq();
  e.chain = st.chain();
  e.prev = st.head();
  Record r = sign_event(e, k);
  try {
    st.apply(r.event, r.hash);
  } catch (const Error& x) {
    REQUIRE((x.code == kExitNo || x.code == kExitBadInput));  // bad input: a dispute the referee refuses
    return std::nullopt;
  }
  return r;
}

Event deposit(const PublicKey& to, uint64_t amount) { return deposit_event(to, amount); }

// A post with the default fee and stakes (a tenth of the bounty, the bounty, the fee).
Event post(const Hash& task, uint64_t bounty, uint32_t cw, uint32_t vw, uint32_t chw) {
  PostTerms t;
  t.bounty = bounty;
  t.claim_window = cw;
  t.verify_window = vw;
  t.challenge_window = chw;
  return post_event(task, t);
}

// Compares what a user sees: balances, jackpot, supply, tasks' outcomes and payments.
void require_same(const State& a, const State& b) {
  REQUIRE(a.next_seq() == b.next_seq());
  REQUIRE(a.head() == b.head());
  REQUIRE(a.supply() == b.supply());
  REQUIRE(a.jackpot() == b.jackpot());
  REQUIRE(a.accounts().size() == b.accounts().size());
  for (const auto& [k, x] : a.accounts()) {
    const Account& y = b.accounts().at(k);
    REQUIRE(x.free == y.free);
    REQUIRE(x.locked == y.locked);
  }
  REQUIRE(a.tasks().size() == b.tasks().size());
  for (const auto& [id, t] : a.tasks()) {
    const Task& u = b.tasks().at(id);
    REQUIRE(t.settled == u.settled);
    REQUIRE(t.outcome == u.outcome);
    REQUIRE(t.payments.size() == u.payments.size());
  }
}

// A ledger on disk with an operator-funded account, for the failure tests.
struct SmallLedger {
  pwtest::ScratchDir dir;
  World w{3};
  std::string path = dir.file("led");
  SmallLedger() {
    create_ledger(path, w.op, "test");
    append_events(path, w.op, nullptr, [&](const State&) { return std::vector<Event>{deposit(w.actors[0].pk, 1000)}; });
  }
  Record next(Event e, const KeyPair& k) {
    const State st = validate_ledger(path, nullptr);
    e.seq = st.next_seq();
    e.chain = st.chain();
    e.prev = st.head();
    return sign_event(e, k);
  }
};

}  // namespace

TEST_CASE("ledger: an event's canonical encoding round-trips and signatures bind every byte") {
  const KeyPair k = generate_key();
  Event e = post(h_of("task"), 500, 10, 4, 3);
  e.seq = 7;
  e.chain = h_of("chain");
  e.prev = h_of("prev");
  const Record r = sign_event(e, k);
  CHECK(verify_record(r));
  const Event d = decode_event(r.body.data(), r.body.size());
  CHECK(encode_event(d) == r.body);
  CHECK(d.amount == 500);
  CHECK(d.verify_window == 4);
  Record forged = r;
  forged.body[forged.body.size() - 9] ^= 1;
  CHECK_FALSE(verify_record(forged));
  // Through an event file, binary and JSON.
  for (bool json : {false, true}) {
    const Record back = record_from_file(record_to_file(r, json), "event");
    CHECK(back.body == r.body);
    CHECK(back.hash == r.hash);
    CHECK(verify_record(back));
  }
  CHECK(pwtest::error_code_of([&] { decode_event(r.body.data(), r.body.size() - 8); }) == kExitBadInput);
}

TEST_CASE("ledger: event files go through the one parse path: its limits and hex check, the signed bytes kept") {
  const KeyPair k = generate_key();
  Event e = post(h_of("task"), 500, 10, 4, 3);
  e.seq = 7, e.chain = h_of("chain"), e.prev = h_of("prev");
  const Record r = sign_event(e, k);
  const auto code_of = [](const Bytes& b) { return pwtest::error_code_of([&] { record_from_file(b, "event"); }); };
  const auto message_of = [](const Bytes& b) { return pwtest::error_message_of([&] { record_from_file(b, "event"); }); };
  // The JSON form names the schema's fields and spells hashes in hex.
  const Bytes json = record_to_file(r, true);
  const std::string text(json.begin(), json.end());
  CHECK(text.find("\"signature\": \"" + hex(r.sig.data(), r.sig.size()) + "\"") != std::string::npos);
  CHECK(text.find("\"formatVersion\": 1") != std::string::npos);
  CHECK(json.back() == '\n');
  // A hash that is not an even number of hex digits: bad input naming the field (the
  // codec alone would decode it leniently).
  for (const std::string& bad_digits : {std::string("0"), std::string("zz")}) {
    std::string t = text;
    const std::string sig = "\"signature\": \"";
    t.insert(t.find(sig) + sig.size(), bad_digits);
    CHECK(code_of(Bytes(t.begin(), t.end())) == kExitBadInput);
    CHECK(message_of(Bytes(t.begin(), t.end())).find("event: \"signature\" is not an even number of hexadecimal digits") == 0);
  }
  // Binary: trailing bytes, a partial word, no bytes, garbage: bad input naming the file.
  const Bytes bin = record_to_file(r, false);
  CHECK(record_from_file(bin, "event").body == r.body);
  Bytes longer = bin;
  longer.insert(longer.end(), 8, 0);
  CHECK(code_of(longer) == kExitBadInput);
  CHECK(message_of(longer).find("event: trailing bytes") == 0);
  CHECK(code_of(Bytes(bin.begin(), bin.end() - 3)) == kExitBadInput);
  CHECK(code_of(Bytes{}) == kExitBadInput);
  CHECK(code_of(Bytes(64, 0xff)) == kExitBadInput);
  CHECK(message_of(Bytes(64, 0xff)).find("event: ") == 0);
  // A field of the event out of its rules: the reader's message, prefixed with the file.
  std::string short_actor = text;
  const std::string actor = "\"actor\": \"";
  short_actor.erase(short_actor.find(actor) + actor.size(), 2);
  CHECK(message_of(Bytes(short_actor.begin(), short_actor.end())) == "event: event field actor: 31 bytes, expected 32");
  // The event file written before versions were recorded still reads, to the same bytes
  // as its binary form.
  const Record old = read_event_file(std::string(PW_FIXTURES) + "/ledger-v0/deposit.json");
  CHECK(old.event.kind == Kind::Deposit);
  CHECK(old.event.amount == 5);
  CHECK(record_from_file(record_to_file(old, false), "event").hash == old.hash);
}

TEST_CASE("ledger: the forced-error draw is deterministic and near its documented rate") {
  int forced = 0;
  const int n = 20000;
  for (int i = 0; i < n; i++) forced += forced_error(h_of("beacon"), h_of(std::to_string(i)));
  CHECK(forced_error(h_of("b"), h_of("s")) == forced_error(h_of("b"), h_of("s")));
  const double rate = double(forced) / n, want = double(kForcedErrorRateBp) / kBasisPoints;
  CHECK(rate > want * 0.9);  // 20,000 draws: the standard error is 0.2 %
  CHECK(rate < want * 1.1);
}

TEST_CASE("ledger: a forged signature, a broken chain and an event from another ledger are refused, nothing appended") {
  SmallLedger L;
  const std::string log = log_path(L.path);
  const size_t before = file_size(log);
  // forged: the signature of another event
  Record r = L.next(deposit(L.w.actors[1].pk, 5), L.w.op);
  Record other = L.next(deposit(L.w.actors[1].pk, 6), L.w.op);
  r.sig = other.sig;
  CHECK(pwtest::error_code_of([&] { append_records(L.path, {r}, nullptr); }) == kExitNo);
  // signed by someone who is not the operator: a valid signature, refused by the rules
  Record by_actor = L.next(deposit(L.w.actors[1].pk, 5), L.w.actors[0]);
  CHECK(pwtest::error_code_of([&] { append_records(L.path, {by_actor}, nullptr); }) == kExitNo);
  // broken chain: prev is not the head
  Event e = deposit(L.w.actors[1].pk, 5);
  const State st = validate_ledger(L.path, nullptr);
  e.seq = st.next_seq();
  e.chain = st.chain();
  e.prev = h_of("elsewhere");
  CHECK(pwtest::error_code_of([&] { append_records(L.path, {sign_event(e, L.w.op)}, nullptr); }) == kExitNo);
  // from another ledger with the same operator: same seq, chain id differs
  pwtest::ScratchDir d2;
  const std::string p2 = d2.file("led2");
  create_ledger(p2, L.w.op, "test");
  Record foreign;
  append_events(p2, L.w.op, nullptr, [&](const State& s2) {
    Event x = deposit(L.w.actors[0].pk, 1000);
    x.seq = s2.next_seq();
    x.chain = s2.chain();
    x.prev = s2.head();
    foreign = sign_event(x, L.w.op);
    return std::vector<Event>{};
  });
  try {
    append_records(L.path, {foreign}, nullptr);
    FAIL("a foreign event was appended");
  } catch (const Error& x) {
    CHECK(x.code == kExitNo);
    CHECK(std::string(x.what()).find("another ledger") != std::string::npos);
  }
  // a good event followed by a bad one: all or none
  Record good = L.next(deposit(L.w.actors[1].pk, 5), L.w.op);
  Event bad = good.event;
  bad.seq++;
  bad.prev = good.hash;
  bad.amount = 0;  // refused by the rules
  CHECK(pwtest::error_code_of([&] { append_records(L.path, {good, sign_event(bad, L.w.op)}, nullptr); }) == kExitNo);
  CHECK(file_size(log) == before);
  CHECK(validate_ledger(L.path, nullptr).next_seq() == 2);
  append_records(L.path, {good}, nullptr);
  CHECK(validate_ledger(L.path, nullptr).next_seq() == 3);
}

TEST_CASE("ledger: a forged signature deep in a long log (signatures checked in batches) names its record") {
  pwtest::ScratchDir dir;
  World w(4);
  const std::string path = dir.file("led");
  std::vector<Record> rs;
  State st;
  auto add = [&](Event e, const KeyPair& k) {
    e.seq = st.next_seq();
    e.chain = st.chain();
    e.prev = st.head();
    rs.push_back(sign_event(e, k));
    st.apply(rs.back().event, rs.back().hash);
  };
  Event g;
  g.kind = Kind::Genesis;
  add(g, w.op);
  for (int i = 0; i < 700; i++) add(deposit(w.actors[size_t(i) % 4].pk, 1 + uint64_t(i)), w.op);
  make_directory(path);
  write_file_atomic(log_path(path), frame_records(rs));
  CHECK(validate_ledger(path, nullptr).next_seq() == 701);
  for (size_t bad : {size_t(300), size_t(699)}) {
    std::vector<Record> forged = rs;
    forged[bad].sig = rs[bad + 1].sig;  // a valid signature of another event
    write_file_atomic(log_path(path), frame_records(forged));
    try {
      validate_ledger(path, nullptr);
      FAIL("a forged signature validated");
    } catch (const Error& x) {
      CHECK(x.code == kExitNo);
      const std::string what = x.what();
      CHECK(what.find("record " + std::to_string(bad) + " ") != std::string::npos);
      CHECK(what.find("bad signature") != std::string::npos);
    }
  }
}

TEST_CASE("ledger: a torn last record is refused (exit 3), the records before it intact, and repair cuts it") {
  SmallLedger L;
  const std::string log = log_path(L.path);
  append_records(L.path, {L.next(deposit(L.w.actors[1].pk, 5), L.w.op)}, nullptr);
  const size_t full = file_size(log);
  for (size_t cut : {size_t(1), size_t(40), size_t(100)}) {
    std::filesystem::resize_file(log, full - cut);
    try {
      validate_ledger(L.path, nullptr);
      FAIL("a torn log validated");
    } catch (const Error& x) {
      CHECK(x.code == kExitBadInput);
      CHECK(std::string(x.what()).find("torn") != std::string::npos);
      CHECK(std::string(x.what()).find("the 2 records before it are intact") != std::string::npos);
    }
    // nothing is appended to a torn log
    const size_t torn = file_size(log);
    CHECK(pwtest::error_code_of([&] { append_events(L.path, L.w.op, nullptr, [&](const State&) { return std::vector<Event>{deposit(L.w.actors[1].pk, 1)}; }); }) == kExitBadInput);
    CHECK(file_size(log) == torn);
    uint64_t removed = 0;
    CHECK(repair_ledger(L.path, nullptr, &removed) == 2);
    CHECK(removed == torn - file_size(log));
    CHECK(file_size(log) < torn);
    CHECK(validate_ledger(L.path, nullptr).next_seq() == 2);
    append_records(L.path, {L.next(deposit(L.w.actors[1].pk, 5), L.w.op)}, nullptr);
    CHECK(file_size(log) == full);
  }
  // A damaged byte in the middle is corruption, not a torn tail: refused, and repair refuses too.
  {
    std::fstream f(log, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);
    f.put('\x7f');
  }
  CHECK(pwtest::error_code_of([&] { validate_ledger(L.path, nullptr); }) == kExitBadInput);
  CHECK(pwtest::error_code_of([&] { repair_ledger(L.path, nullptr, nullptr); }) == kExitBadInput);
  CHECK(file_size(log) == full);
}

TEST_CASE("ledger: a ruling must agree with the recomputation and settling is once per task") {
  World w(4);
  const PublicKey &sub = w.actors[0].pk, &sol = w.actors[1].pk, &ver = w.actors[2].pk, &wb = w.actors[3].pk;
  const Hash task = h_of("task"), good = h_of("honest root"), dispute = h_of("dispute");
  // The referee (a stand-in here): the claimed root is wrong.
  auto oracle = [&](const Hash& d, const Hash& t, const Hash& root) {
    if (d != dispute || t != task) bad_input("unknown dispute");
    return DisputeRuling{root == good, h_of("referee output")};
  };
  State st(oracle);
  REQUIRE(try_event(st, Event{}, w.op));  // genesis
  for (const PublicKey* k : {&sub, &sol, &ver, &wb}) REQUIRE(try_event(st, deposit(*k, 10000), w.op));
  const uint64_t id = st.next_seq();
  REQUIRE(try_event(st, post(task, 1000, 5, 4, 3), w.actors[0]));
  Event c;
  c.kind = Kind::Claim;
  c.task = id;
  c.h1 = good;
  c.h2 = h_of("commitment");
  c.amount = 1000;
  REQUIRE(try_event(st, c, w.actors[1]));
  Event v;
  v.kind = Kind::Verdict;
  v.task = id;
  v.h1 = good;
  v.flag = true;  // accepts
  v.amount = 100;
  REQUIRE(try_event(st, v, w.actors[2]));
  Event ch;
  ch.kind = Kind::Challenge;
  ch.task = id;
  ch.h1 = dispute;
  ch.amount = 100;
  const uint64_t ch_seq = st.next_seq();
  REQUIRE(try_event(st, ch, w.actors[3]));
  Event unknown = ch;
  unknown.h1 = h_of("no such dispute");
  CHECK_FALSE(try_event(st, unknown, w.actors[3]));
  Event ru;
  ru.kind = Kind::Ruling;
  ru.task = id;
  ru.challenge = ch_seq;
  ru.flag = false;  // says the solver is right: disagrees with the referee
  ru.h1 = h_of("referee output");
  CHECK_FALSE(try_event(st, ru, w.actors[0]));
  ru.flag = true;
  ru.h1 = h_of("another output");
  CHECK_FALSE(try_event(st, ru, w.actors[0]));
  ru.h1 = h_of("referee output");
  REQUIRE(try_event(st, ru, w.actors[0]));
  Event s;
  s.kind = Kind::Settle;
  s.task = id;
  CHECK_FALSE(try_event(st, s, w.op));  // the challenge window is still open
  while (st.due_tasks().empty()) REQUIRE(try_event(st, [] { Event b; b.kind = Kind::Beacon; return b; }(), w.op));
  REQUIRE(try_event(st, s, w.op));
  CHECK_FALSE(try_event(st, s, w.op));  // settled at most once
  CHECK(st.due_tasks().empty());
  const Task& t = st.tasks().at(id);
  CHECK(t.outcome == "wrong");
  // solver slashed 1000: 500 to the whistleblower's pool, 500 to the jackpot; the lazy
  // verifier slashed 100: 50 to the pool. The whistleblower gets its stake + 550.
  CHECK(st.accounts().at(sol).free == 10000 - 1000);
  CHECK(st.accounts().at(ver).free == 10000 - 100);
  CHECK(st.accounts().at(wb).free == 10000 + 550);
  CHECK(st.accounts().at(sub).free == 10000 - 50 /* tax */ - 100 /* fee: a verifier was... */ + 100);
  CHECK(st.jackpot() == 50 + 500 + 50);
  CHECK(st.total() == st.supply());
}

TEST_CASE("ledger: property: a random market of 10,000+ events conserves supply, settles each task once, and "
          "validates the same in one run or in chunks") {
  std::mt19937_64 rng(20261128);
  auto pick = [&](size_t n) { return size_t(rng() % n); };
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  World w(24);
  // The referee stand-in: a dispute names a task and a claimed root; the solver is wrong
  // when that root is one of the dishonest ones.
  std::set<Hash> wrong_roots;
  std::map<Hash, std::pair<Hash, Hash>> disputes;  // hash → (task hash, claim root)
  auto oracle = [&](const Hash& d, const Hash& task, const Hash& root) {
    auto it = disputes.find(d);
    if (it == disputes.end() || it->second.first != task || it->second.second != root) bad_input("dispute not about this claim");
    return DisputeRuling{wrong_roots.count(root) > 0, blake2b(d.data(), 32)};
  };
  std::map<Hash, Hash> secrets;  // commitment → secret
  State st(oracle);
  std::vector<Record> log;
  auto add = [&](Event e, const KeyPair& k) {
    auto r = try_event(st, std::move(e), k);
    if (r) {
      log.push_back(*r);
      // invariants after every accepted event
      REQUIRE(st.total() == st.supply());
      for (const auto& [key, a] : st.accounts()) REQUIRE(a.free + a.locked <= st.supply());  // no wrap-around below zero
    }
    return r.has_value();
  };
  REQUIRE(add(Event{}, w.op));
  for (const KeyPair& a : w.actors) REQUIRE(add(deposit(a.pk, 20000 + rng() % 20000), w.op));
  std::map<uint64_t, int> settles;
  int refused = 0, honest = 0, wrong = 0, forced = 0, no_claim = 0, missed = 0;
  while (log.size() < 10500) {
    const KeyPair& a = w.actors[pick(w.actors.size())];
    const auto& tasks = st.tasks();
    std::vector<const Task*> open;
    for (const auto& [id, t] : tasks)
      if (!t.settled) open.push_back(&t);
    const Task* t = open.empty() ? nullptr : open[pick(open.size())];
    Event e;
    bool ok = true;
    switch (pick(15)) {
      case 0:
        ok = add(deposit(a.pk, 1 + rng() % 5000), chance(0.95) ? w.op : a);  // 5 %: not the operator
        break;
      case 1:
      case 2: {
        Event b;
        b.kind = Kind::Beacon;
        b.h1 = h_of(std::to_string(rng()));
        ok = add(b, chance(0.97) ? w.op : a);
        break;
      }
      case 3:
        ok = add(post(h_of("task " + std::to_string(rng())), 10 + rng() % 2000, uint32_t(1 + rng() % 30),
                      uint32_t(2 + rng() % 20), uint32_t(1 + rng() % 10)),
                 a);
        break;
      case 4:
      case 5:
        if (!t) break;
        e.kind = Kind::Claim;
        e.task = t->id;
        e.h1 = h_of("root " + std::to_string(rng()));
        if (chance(0.3)) wrong_roots.insert(e.h1);  // a dishonest solver
        {
          const Hash secret = h_of("secret " + std::to_string(rng()));
          e.h2 = blake2b(secret.data(), 32);
          secrets[e.h2] = secret;
        }
        e.amount = t->solver_stake + (chance(0.1) ? 0 : rng() % 3) - (chance(0.05) && t->solver_stake ? 1 : 0);
        ok = add(e, a);
        break;
      case 6:
      case 7: {  // the solver opens the draw (or, 10 %, forgets: slashed at settlement)
        if (!t || !t->claimed || t->revealed || chance(0.1)) break;
        const auto b = st.beacon_after(t->claim_seq);
        if (!b) break;
        e.kind = Kind::Reveal;
        e.task = t->id;
        e.h1 = secrets.at(t->commitment);
        if (forced_error(*b, e.h1) != chance(0.03)) {  // 3 %: lies about the draw
          e.has_h2 = true;
          e.h2 = h_of("decoy " + std::to_string(rng()));
        }
        const KeyPair* solver = &a;
        for (const KeyPair& k : w.actors)
          if (k.pk == t->solver) solver = &k;
        ok = add(e, *solver);
        break;
      }
      case 8:
      case 9: {  // verifiers: honest, lazy (always accept) or malicious (random)
        if (!t || !t->claimed) break;
        const bool decoy = t->forced && chance(0.5);
        e.kind = Kind::Verdict;
        e.task = t->id;
        e.h1 = decoy ? t->decoy : t->root;
        const int kind = int(pick(10));
        const bool truth = !decoy && !wrong_roots.count(t->root);
        e.flag = kind < 6 ? truth : kind < 9 ? true : chance(0.5);
        e.h2 = h_of("verdict file");
        e.amount = t->verifier_stake;
        ok = add(e, a);
        break;
      }
      case 10: {  // whistleblowers: challenge wrong claims, and some frivolous challenges
        if (!t || !t->claimed) break;
        if (!wrong_roots.count(t->root) && !chance(0.2)) break;
        const Hash d = h_of("dispute " + std::to_string(rng()));
        disputes[d] = {t->task_hash, chance(0.97) ? t->root : h_of("another root")};
        e.kind = Kind::Challenge;
        e.task = t->id;
        e.h1 = d;
        e.amount = t->challenge_stake;
        ok = add(e, a);
        break;
      }
      case 11: {  // rulings, 10 % of them claiming the wrong outcome
        const auto pending = st.unruled();
        if (pending.empty()) break;
        const auto [task, seq] = pending[pick(pending.size())];
        const Task& tt = st.tasks().at(task);
        const ChallengeRec& c = *std::find_if(tt.challenges.begin(), tt.challenges.end(), [&](const ChallengeRec& x) { return x.seq == seq; });
        e.kind = Kind::Ruling;
        e.task = task;
        e.challenge = seq;
        e.flag = wrong_roots.count(tt.root) > 0;
        if (chance(0.1)) e.flag = !e.flag;
        e.h1 = blake2b(c.dispute.data(), 32);
        ok = add(e, a);
        break;
      }
      default: {  // settle: a due task, or (20 %) any task, which may be refused
        const auto due = st.due_tasks();
        uint64_t id;
        if (!due.empty() && chance(0.8)) id = due[pick(due.size())];
        else if (!tasks.empty()) id = std::next(tasks.begin(), long(pick(tasks.size())))->first;
        else break;
        e.kind = Kind::Settle;
        e.task = id;
        const bool was_settled = st.tasks().at(id).settled;
        ok = add(e, a);
        if (ok) {
          REQUIRE_FALSE(was_settled);
          REQUIRE(++settles[id] == 1);
          const Task& done = st.tasks().at(id);
          honest += done.outcome == "honest";
          wrong += done.outcome == "wrong";
          no_claim += done.outcome == "no-claim";
          missed += done.outcome == "missed-reveal";
          forced += done.forced;
        }
        break;
      }
    }
    refused += !ok;
  }
  MESSAGE(log.size() << " events accepted, " << refused << " refused; settled: " << honest << " honest, " << wrong
                     << " wrong, " << missed << " missed reveals, " << no_claim << " without claim, " << forced
                     << " with a forced error; jackpot " << st.jackpot());
  CHECK(honest > 50);
  CHECK(wrong > 20);
  CHECK(forced > 5);
  CHECK(no_claim > 5);
  CHECK(refused > 500);
  // Settling is idempotent: once every due task is settled, none is due.
  for (uint64_t id : st.due_tasks()) {
    Event s;
    s.kind = Kind::Settle;
    s.task = id;
    REQUIRE(add(s, w.op));
  }
  CHECK(st.due_tasks().empty());

  // The same log on disk: all at once, and in random chunks (each append validating the
  // whole ledger before it), ends in the same state as the one built in memory.
  pwtest::ScratchDir dir;
  auto write_ledger = [&](const std::string& path, std::vector<size_t> cuts) {
    init_ledger(path, log.front());
    cuts.push_back(log.size());
    size_t from = 1;
    for (size_t cut : cuts) {
      if (cut <= from) continue;
      append_records(path, std::vector<Record>(log.begin() + long(from), log.begin() + long(cut)), oracle);
      from = cut;
    }
    return validate_ledger(path, oracle);
  };
  const State once = write_ledger(dir.file("once"), {});
  require_same(st, once);
  std::vector<size_t> cuts;
  for (int i = 0; i < 8; i++) cuts.push_back(1 + pick(log.size() - 1));
  std::sort(cuts.begin(), cuts.end());
  const State chunked = write_ledger(dir.file("chunked"), cuts);
  require_same(st, chunked);
  // The snapshot each chunk's append went on from (proofwork-files(5), LEDGER): its encoding
  // round-trips, and an append from it holds the state the whole validation reaches.
  const Bytes enc = st.encode();
  CHECK(State::decode(enc.data(), enc.size(), oracle).encode() == enc);
  CHECK(snapshot_problem(dir.file("chunked")).empty());
  CHECK(append_records(dir.file("chunked"), {}, oracle).encode() == enc);
  Bytes cut(enc.begin(), enc.end() - 1);
  CHECK(pwtest::error_code_of([&] { State::decode(cut.data(), cut.size(), oracle); }) == kExitBadInput);
  CHECK(std::filesystem::file_size(log_path(dir.file("once"))) == std::filesystem::file_size(log_path(dir.file("chunked"))));
}

TEST_CASE("ledger: versions: an old ledger reads as version 1 with its bytes unchanged and a newer one is refused") {
  // The fixture was written before versions were recorded (tests/fixtures/ledger-v0).
  const std::string old = std::string(PW_FIXTURES) + "/ledger-v0/L";
  const State st = validate_ledger(old, nullptr);
  CHECK(st.next_seq() == 2);
  const Bytes log = read_file(log_path(old), 1 << 20, "log");
  size_t at = 0;
  for (int i = 0; i < 2; i++) {  // each record's body re-encodes to the signed bytes
    uint32_t n;
    std::memcpy(&n, log.data() + at + 4, 4);
    const Event e = decode_event(log.data() + at + 8, n);
    CHECK(e.version == 0);  // none recorded: kept as none, so that the bytes stay
    CHECK(encode_event(e) == Bytes(log.begin() + long(at + 8), log.begin() + long(at + 8 + n)));
    at += 8 + n + 64 + 8;
  }
  CHECK(at == log.size());
  CHECK(pw::check_version(pw::FileKind::Ledger, 0, "old") == 1);
  CHECK(pw::check_version(pw::FileKind::Ledger, 1, "now") == 1);

  // A ledger begun now records version 1 in its signed genesis.
  pwtest::ScratchDir dir;
  const KeyPair op = generate_key();
  const Record g = create_ledger(dir.file("now"), op, "");
  CHECK(g.event.version == 1);
  CHECK(decode_event(g.body.data(), g.body.size()).version == 1);

  // A genesis of a newer version: bad input (exit 3), "newer".
  Event g2;
  g2.kind = Kind::Genesis;
  g2.version = 2;
  const Record r2 = sign_event(g2, op);
  init_ledger(dir.file("newer"), r2);
  try {
    validate_ledger(dir.file("newer"), nullptr);
    FAIL("a newer ledger validated");
  } catch (const Error& x) {
    CHECK(x.code == kExitBadInput);
    CHECK(std::string(x.what()).find("ledger format version 2 is newer") != std::string::npos);
  }
  // An event file of a newer version, binary and JSON.
  for (bool json : {false, true}) {
    Bytes b = record_to_file(g, json);
    CHECK(record_from_file(b, "event").body == g.body);
    if (json) {
      std::string t(b.begin(), b.end());
      const size_t p = t.find("\"formatVersion\": 1");
      REQUIRE(p != std::string::npos);
      t[p + 17] = '3';
      b.assign(t.begin(), t.end());
    } else {
      capnp::MallocMessageBuilder mb;
      kj::Array<capnp::word> words = kj::heapArray<capnp::word>(b.size() / 8);
      std::memcpy(words.begin(), b.data(), b.size());
      capnp::FlatArrayMessageReader reader(words.asPtr());
      mb.setRoot(reader.getRoot<schema::LedgerRecord>());
      mb.getRoot<schema::LedgerRecord>().setFormatVersion(3);
      b = to_binary(mb);
    }
    const int code = pwtest::error_code_of([&] { record_from_file(b, "event"); });
    CHECK(code == kExitBadInput);
    try {
      record_from_file(b, "event");
    } catch (const Error& x) {
      CHECK(std::string(x.what()).find("version 3 is newer") != std::string::npos);
    }
  }
}
