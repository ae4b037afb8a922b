// bench_ledger: the ledger's validation speed against a bare Ed25519 verification loop,
// in the same run (tests/bench/part-ledger.sh prints the rows).
//
//   bench_ledger verify N                 bare crypto_sign_verify_detached on N distinct
//                                         signed 200-byte messages, one thread: prints
//                                         "verify N SECONDS"
//   bench_ledger batch N SIZE SIGNERS     the ledger's batch verification (ed25519_batch.hpp)
//                                         in batches of SIZE, then libsodium's single
//                                         verification, on the same N 200-byte messages
//                                         signed by SIGNERS keys, one thread: prints
//                                         "batch N SECONDS_BATCH SECONDS_LIBSODIUM"
//   bench_ledger generate DIR N [ACTORS]  writes a valid ledger of N events: a market of
//                                         ACTORS (default 1000) accounts posting, claiming,
//                                         revealing, verifying and settling tasks, the
//                                         operator's deposits and beacons; prints
//                                         "generate N SECONDS BYTES"; the operator's keys
//                                         go to DIR.op.key and DIR.op.pub
//   bench_ledger validate DIR THREADS     validate_ledger on THREADS threads: prints
//                                         "validate N SECONDS"
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "io/file.hpp"
#include "ledger/ed25519_batch.hpp"
#include "ledger/ledger.hpp"

using namespace pw;
using namespace pw::ledger;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

int bench_verify(int64_t n) {
  const KeyPair k = generate_key();
  std::vector<std::array<uint8_t, 200>> msgs(size_t(std::min<int64_t>(n, 4096)));
  std::vector<Signature> sigs(msgs.size());
  for (size_t i = 0; i < msgs.size(); i++) {
    randombytes_buf(msgs[i].data(), msgs[i].size());
    crypto_sign_detached(sigs[i].data(), nullptr, msgs[i].data(), msgs[i].size(), k.sk.data());
  }
  int64_t ok = 0;
  const double t0 = now();
  for (int64_t i = 0; i < n; i++) {
    const size_t j = size_t(i) % msgs.size();
    ok += crypto_sign_verify_detached(sigs[j].data(), msgs[j].data(), msgs[j].size(), k.pk.data()) == 0;
  }
  const double t = now() - t0;
  if (ok != n) {
    std::fprintf(stderr, "bench_ledger: %lld signatures failed\n", (long long)(n - ok));
    return 4;
  }
  std::printf("verify %lld %.6f\n", (long long)n, t);
  return 0;
}

int bench_batch(int64_t n, int64_t size, int signers) {
  if (n < 1 || size < 1 || signers < 1) return 2;
  std::vector<KeyPair> keys;
  for (int i = 0; i < signers; i++) keys.push_back(generate_key());
  std::vector<std::array<uint8_t, 200>> msgs(static_cast<size_t>(n));
  std::vector<Signature> sigs(msgs.size());
  std::vector<ed25519::SignedMessage> items(msgs.size());
  std::mt19937_64 rng(11);
  for (size_t i = 0; i < msgs.size(); i++) {
    const KeyPair& k = keys[rng() % keys.size()];
    randombytes_buf(msgs[i].data(), msgs[i].size());
    crypto_sign_detached(sigs[i].data(), nullptr, msgs[i].data(), msgs[i].size(), k.sk.data());
    items[i] = {sigs[i].data(), msgs[i].data(), msgs[i].size(), k.pk.data()};
  }
  std::vector<uint8_t> ok(items.size());
  int64_t good = 0;
  const double t0 = now();
  for (int64_t i = 0; i < n; i += size) {
    const size_t m = size_t(std::min(size, n - i));
    ed25519::verify_batch(&items[size_t(i)], m, &ok[size_t(i)]);
  }
  const double t1 = now();
  for (const ed25519::SignedMessage& it : items) good += crypto_sign_verify_detached(it.sig, it.msg, it.len, it.pk) == 0;
  const double t2 = now();
  for (uint8_t o : ok) good += o;
  if (good != 2 * n) {
    std::fprintf(stderr, "bench_ledger: %lld verdicts were not 'valid'\n", (long long)(2 * n - good));
    return 4;
  }
  std::printf("batch %lld %.6f %.6f\n", (long long)n, t1 - t0, t2 - t1);
  return 0;
}

// A market that keeps every rule: each cycle one task goes through post, claim, beacon,
// reveal (with a decoy when forced), two verdicts, beacons until its windows close, settle.
int bench_generate(const std::string& dir, int64_t n, int actors) {
  const double t0 = now();
  const KeyPair op = generate_key();
  std::vector<KeyPair> keys;
  for (int i = 0; i < actors; i++) keys.push_back(generate_key());
  State st;
  std::vector<Record> rs;
  rs.reserve(size_t(n));
  std::mt19937_64 rng(7);
  auto add = [&](Event e, const KeyPair& k) {
    e.seq = st.next_seq();
    e.chain = st.chain();
    e.prev = st.head();
    Record r = sign_event(e, k);
    st.apply(r.event, r.hash);
    rs.push_back(std::move(r));
  };
  Event g;
  g.kind = Kind::Genesis;
  g.note = "bench_ledger";
  add(g, op);
  for (int i = 0; i < actors && int64_t(rs.size()) < n; i++) {
    Event d;
    d.kind = Kind::Deposit;
    d.account = keys[size_t(i)].pk;
    d.amount = 1000000000;
    add(d, op);
  }
  auto beacon = [&] {
    Event b;
    b.kind = Kind::Beacon;
    b.h1 = blake2b(&rs.back().hash, 32);
    add(b, op);
  };
  while (int64_t(rs.size()) < n) {
    const size_t s = rng() % size_t(actors), v = (s + 1 + rng() % size_t(actors - 3)) % size_t(actors);
    const size_t sub = (s + actors - 1) % size_t(actors), v2 = (v + 1) % size_t(actors);
    if (v == sub || v2 == s || v2 == sub) continue;
    if (int64_t(rs.size()) + 10 > n) {  // fill the end with beacons
      beacon();
      continue;
    }
    Event p;
    p.kind = Kind::Post;
    p.h1 = blake2b(&rng, sizeof rng);
    p.amount = 1000 + rng() % 1000;
    p.fee = p.amount / 10;
    p.solver_stake = p.amount;
    p.verifier_stake = p.challenge_stake = p.fee;
    p.claim_window = 2;
    p.verify_window = 4;
    p.challenge_window = 1;
    const uint64_t id = st.next_seq();
    add(p, keys[sub]);
    Event c;
    c.kind = Kind::Claim;
    c.task = id;
    c.h1 = blake2b(&id, sizeof id);
    const Hash secret = claim_secret(keys[s], st.chain(), id, c.h1);
    c.h2 = blake2b(secret.data(), 32);
    c.amount = p.amount;
    add(c, keys[s]);
    beacon();
    Event r;
    r.kind = Kind::Reveal;
    r.task = id;
    r.h1 = secret;
    if (forced_error(*st.beacon_after(st.tasks().at(id).claim_seq), secret)) {
      r.has_h2 = true;
      r.h2 = blake2b(secret.data(), 16);
    }
    add(r, keys[s]);
    Event ve;
    ve.kind = Kind::Verdict;
    ve.task = id;
    ve.h1 = c.h1;
    ve.flag = true;
    ve.h2 = blake2b(&ve.task, 8);
    ve.amount = p.fee;
    add(ve, keys[v]);
    add(ve, keys[v2]);
    while (st.next_seq() <= st.tasks().at(id).challenge_deadline()) beacon();
    Event se;
    se.kind = Kind::Settle;
    se.task = id;
    add(se, keys[s]);
  }
  const double gen = now() - t0;
  make_directory(dir);
  make_directory(join_path(dir, "disputes"));
  const Bytes log = frame_records(rs);
  write_file_atomic(log_path(dir), log);
  write_key_pair(dir + ".op", op);  // DIR.op.key, DIR.op.pub: the operator, for appends (part-ledger.sh)
  std::printf("generate %lld %.3f %zu\n", (long long)rs.size(), gen, log.size());
  return 0;
}

int bench_validate(const std::string& dir, int threads) {
  omp_set_num_threads(threads);
  ValidateStats s;
  State st = validate_ledger(dir, nullptr, &s);
  if (st.total() != st.supply()) {
    std::fprintf(stderr, "bench_ledger: supply not conserved\n");
    return 4;
  }
  std::printf("validate %llu %.6f\n", (unsigned long long)s.records, s.seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  try {
    if (mode == "verify" && argc == 3) return bench_verify(std::atoll(argv[2]));
    if (mode == "batch" && argc == 5) return bench_batch(std::atoll(argv[2]), std::atoll(argv[3]), std::atoi(argv[4]));
    if (mode == "generate" && (argc == 4 || argc == 5)) return bench_generate(argv[2], std::atoll(argv[3]), argc == 5 ? std::atoi(argv[4]) : 1000);
    if (mode == "validate" && argc == 4) return bench_validate(argv[2], std::atoi(argv[3]));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_ledger: %s\n", e.what());
    return 4;
  }
  std::fprintf(stderr, "usage: bench_ledger verify N | batch N SIZE SIGNERS | generate DIR N [ACTORS] | validate DIR THREADS\n");
  return 2;
}
