// The ledger's Ed25519 verification (lib/ledger/ed25519_batch.*) against libsodium as
// the oracle: the field and the curve (inversion, square roots, encoding round trips,
// [L]B = 0, scalar multiples and sums equal to libsodium's), honest signatures accepted
// one by one and in batches, corrupted ones given libsodium's verdict (a flipped bit in
// R, S, A or M; S ≥ L; small-order and non-canonical encodings of A and R), a bad
// signature among many named exactly, and the documented difference of the cofactored
// rule: a signature whose R is off by a point of order 8.
#include <doctest/doctest.h>

#include <array>
#include <cstring>
#include <random>
#include <vector>

#include "ledger/ed25519_batch.hpp"
#include "ledger/ledger.hpp"

using namespace pw::ledger;
using namespace pw::ledger::ed25519::internal;
namespace ed = pw::ledger::ed25519;

namespace {

using Bytes32 = std::array<uint8_t, 32>;

Fe random_fe(std::mt19937_64& rng) {
  uint8_t s[32];
  for (auto& b : s) b = uint8_t(rng());
  return fe_from_bytes(s);
}

Bytes32 encode(const Point& p) {
  Bytes32 s;
  point_encode(s.data(), p);
  return s;
}

// libsodium's verdict.
bool sodium_ok(const uint8_t* sig, const std::vector<uint8_t>& m, const uint8_t* pk) {
  return crypto_sign_verify_detached(sig, m.data(), m.size(), pk) == 0;
}

struct Signed {
  KeyPair key;
  std::vector<uint8_t> msg;
  Signature sig{};
};

Signed make_signed(const KeyPair& k, std::mt19937_64& rng) {
  Signed s;
  s.key = k;
  s.msg.resize(rng() % 300);
  for (auto& b : s.msg) b = uint8_t(rng());
  crypto_sign_detached(s.sig.data(), nullptr, s.msg.data(), s.msg.size(), k.sk.data());
  return s;
}

// Batch verdicts for items, checked against verify() one by one; returns them.
std::vector<uint8_t> batch_verdicts(const std::vector<Signed>& v) {
  std::vector<ed::SignedMessage> items;
  for (const Signed& s : v) items.push_back({s.sig.data(), s.msg.data(), s.msg.size(), s.key.pk.data()});
  std::vector<uint8_t> ok(v.size());
  const bool all = ed::verify_batch(items.data(), items.size(), ok.data());
  bool every = true;
  for (size_t i = 0; i < v.size(); i++) {
    CHECK(bool(ok[i]) == ed::verify(v[i].sig.data(), v[i].msg.data(), v[i].msg.size(), v[i].key.pk.data()));
    every = every && ok[i];
  }
  CHECK(all == every);
  return ok;
}

// A point of order 8: one of libsodium's small-order encodings.
Point order8_point() {
  const Bytes32 t8 = {0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
                      0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05};
  Point t;
  REQUIRE(point_decode(t, t8.data()));
  return t;
}

// S = r + H(R ‖ A ‖ M)·a mod L: signing with secret scalar a and nonce r, R given.
void sign_with_nonce(uint8_t s[32], const uint8_t r[32], const uint8_t a[32], const Bytes32& big_r,
                     const PublicKey& pk, const std::vector<uint8_t>& msg) {
  uint8_t h[64], k[32], ka[32];
  crypto_hash_sha512_state st;
  crypto_hash_sha512_init(&st);
  crypto_hash_sha512_update(&st, big_r.data(), 32);
  crypto_hash_sha512_update(&st, pk.data(), 32);
  crypto_hash_sha512_update(&st, msg.data(), msg.size());
  crypto_hash_sha512_final(&st, h);
  crypto_core_ed25519_scalar_reduce(k, h);
  crypto_core_ed25519_scalar_mul(ka, k, a);
  crypto_core_ed25519_scalar_add(s, r, ka);
}

}  // namespace

TEST_CASE("ed25519: field arithmetic mod 2^255 - 19") {
  REQUIRE(sodium_init() >= 0);
  std::mt19937_64 rng(1);
  const Fe one = {{1, 0, 0, 0, 0}};
  for (int i = 0; i < 200; i++) {
    const Fe a = random_fe(rng), b = random_fe(rng), c = random_fe(rng);
    CHECK(fe_equal(fe_mul(a, fe_invert(a)), one));
    CHECK(fe_equal(fe_sq(a), fe_mul(a, a)));
    CHECK(fe_equal(fe_mul(a, fe_add(b, c)), fe_add(fe_mul(a, b), fe_mul(a, c))));
    CHECK(fe_equal(fe_sub(fe_add(a, b), b), a));
    CHECK(!fe_equal(fe_add(a, one), a));
  }
  // √−1 squares to −1
  CHECK(fe_equal(fe_add(fe_sq(fe_sqrtm1()), one), Fe{{0, 0, 0, 0, 0}}));
  // encodings are canonical: p + 3 (a non-canonical input) encodes as 3
  uint8_t p3[32], out[32];
  std::memset(p3, 0xff, 32);
  p3[0] = 0xed + 3;
  p3[31] = 0x7f;
  fe_to_bytes(out, fe_from_bytes(p3));
  CHECK(out[0] == 3);
  for (int i = 1; i < 32; i++) CHECK(out[i] == 0);
}

TEST_CASE("ed25519: points agree with libsodium in encoding and scalar multiples and sums and L times B is the identity") {
  REQUIRE(sodium_init() >= 0);
  // B encodes as 0x58 0x66 … 0x66
  const Bytes32 b = encode(base_point());
  CHECK(b[0] == 0x58);
  for (int i = 1; i < 32; i++) CHECK(b[i] == 0x66);
  // [L]B is the identity, [L−1]B is −B, which is not
  uint8_t l[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14};
  l[31] = 0x10;
  CHECK(point_is_identity(scalar_mul(l, base_point())));
  l[0]--;
  CHECK(!point_is_identity(scalar_mul(l, base_point())));
  CHECK(point_is_identity(point_add(scalar_mul(l, base_point()), base_point())));
  for (int i = 0; i < 50; i++) {
    uint8_t s[32], t[32];
    crypto_core_ed25519_scalar_random(s);
    crypto_core_ed25519_scalar_random(t);
    Bytes32 sb, tb, sum;
    REQUIRE(crypto_scalarmult_ed25519_base_noclamp(sb.data(), s) == 0);
    REQUIRE(crypto_scalarmult_ed25519_base_noclamp(tb.data(), t) == 0);
    REQUIRE(crypto_core_ed25519_add(sum.data(), sb.data(), tb.data()) == 0);
    const Point sp = scalar_mul(s, base_point());
    CHECK(encode(sp) == sb);
    Point dec;
    REQUIRE(point_decode(dec, sb.data()));  // round trip
    CHECK(encode(dec) == sb);
    CHECK(encode(point_add(sp, scalar_mul(t, base_point()))) == sum);
    CHECK(!point_is_identity(point_mul8(dec)));
  }
  // the small-order encodings: each canonical one decodes to a point P with [8]P = 0
  const Point t8 = order8_point();
  CHECK(!point_is_identity(point_mul8(point_add(t8, base_point()))));
  Point q = t8;
  int order = 1;
  while (!point_is_identity(q)) q = point_add(q, t8), order++;
  CHECK(order == 8);
  for (int k = 1; k <= 8; k++) {
    Point m = t8;
    for (int j = 1; j < k; j++) m = point_add(m, t8);
    const Bytes32 e = encode(m);
    CHECK(has_small_order_encoding(e.data()));
    CHECK(point_is_identity(point_mul8(m)));
  }
}

TEST_CASE("ed25519: honest signatures are accepted one by one and in batches as by libsodium") {
  REQUIRE(sodium_init() >= 0);
  std::mt19937_64 rng(2);
  std::vector<KeyPair> keys;
  for (int i = 0; i < 40; i++) keys.push_back(generate_key());
  std::vector<Signed> v;
  for (int i = 0; i < 2000; i++) v.push_back(make_signed(keys[rng() % (i < 1000 ? 3 : keys.size())], rng));
  for (const Signed& s : v) {
    REQUIRE(sodium_ok(s.sig.data(), s.msg, s.key.pk.data()));
    CHECK(ed::verify(s.sig.data(), s.msg.data(), s.msg.size(), s.key.pk.data()));
  }
  // batches of several sizes, few signers and many
  for (size_t n : {1, 2, 7, 64, 128, 333}) {
    const size_t from = rng() % (v.size() - n);
    const std::vector<Signed> part(v.begin() + long(from), v.begin() + long(from + n));
    for (uint8_t ok : batch_verdicts(part)) CHECK(ok == 1);
  }
  std::vector<ed::SignedMessage> none;
  CHECK(ed::verify_batch(none.data(), 0, nullptr));
}

TEST_CASE("ed25519: corrupted signatures get libsodium's verdict") {
  REQUIRE(sodium_init() >= 0);
  std::mt19937_64 rng(3);
  const KeyPair k = generate_key();
  int refused = 0;
  std::vector<Signed> all;
  for (int i = 0; i < 1500; i++) {
    Signed s = make_signed(k, rng);
    const int what = i % 4;  // R, S, A or M
    if (what == 0) s.sig[rng() % 32] ^= uint8_t(1 << (rng() % 8));
    if (what == 1) s.sig[32 + rng() % 32] ^= uint8_t(1 << (rng() % 8));
    if (what == 2) s.key.pk[rng() % 32] ^= uint8_t(1 << (rng() % 8));
    if (what == 3) {
      if (s.msg.empty()) s.msg.push_back(0);
      s.msg[rng() % s.msg.size()] ^= uint8_t(1 << (rng() % 8));
    }
    const bool theirs = sodium_ok(s.sig.data(), s.msg, s.key.pk.data());
    const bool ours = ed::verify(s.sig.data(), s.msg.data(), s.msg.size(), s.key.pk.data());
    CHECK(ours == theirs);
    refused += !ours;
    all.push_back(s);
  }
  CHECK(refused == 1500);  // a flipped bit never leaves a valid signature
  for (uint8_t ok : batch_verdicts(all)) CHECK(ok == 0);

  Signed s = make_signed(k, rng);
  // S + L: the same S mod L, refused as non-canonical
  uint8_t l[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14};
  l[31] = 0x10;
  Signed big = s;
  unsigned carry = 0;
  for (int i = 0; i < 32; i++) {
    const unsigned v = unsigned(big.sig[32 + size_t(i)]) + l[i] + carry;
    big.sig[32 + size_t(i)] = uint8_t(v);
    carry = v >> 8;
  }
  REQUIRE(carry == 0);
  CHECK(!sodium_ok(big.sig.data(), big.msg, big.key.pk.data()));
  CHECK(!ed::verify(big.sig.data(), big.msg.data(), big.msg.size(), big.key.pk.data()));

  // small-order encodings (libsodium's list, with and without the sign bit) and the
  // non-canonical y = p … 2^255 − 1 as A and as R
  std::vector<Bytes32> odd;
  const Point t8 = order8_point();
  Point m = t8;
  for (int j = 0; j < 8; j++, m = point_add(m, t8)) odd.push_back(encode(m));
  for (int j = 0; j < 19; j++) {
    Bytes32 e;
    e.fill(0xff);
    e[0] = uint8_t(0xed + j);
    e[31] = 0x7f;
    odd.push_back(e);
  }
  const size_t n_odd = odd.size();
  for (size_t j = 0; j < n_odd; j++) {
    Bytes32 e = odd[j];
    e[31] ^= 0x80;
    odd.push_back(e);
  }
  std::vector<Signed> bad;
  for (const Bytes32& e : odd) {
    Signed as_a = s, as_r = s;
    std::memcpy(as_a.key.pk.data(), e.data(), 32);
    std::memcpy(as_r.sig.data(), e.data(), 32);
    for (const Signed* x : {&as_a, &as_r}) {
      const bool theirs = sodium_ok(x->sig.data(), x->msg, x->key.pk.data());
      CHECK(!theirs);
      CHECK(ed::verify(x->sig.data(), x->msg.data(), x->msg.size(), x->key.pk.data()) == theirs);
      bad.push_back(*x);
    }
  }
  for (uint8_t ok : batch_verdicts(bad)) CHECK(ok == 0);
}

TEST_CASE("ed25519: a batch with bad signatures among many fails and names exactly them") {
  REQUIRE(sodium_init() >= 0);
  std::mt19937_64 rng(4);
  std::vector<KeyPair> keys;
  for (int i = 0; i < 5; i++) keys.push_back(generate_key());
  std::vector<Signed> v;
  for (int i = 0; i < 200; i++) v.push_back(make_signed(keys[rng() % keys.size()], rng));
  for (size_t bad_at : {size_t(0), size_t(137), size_t(199)}) {
    std::vector<Signed> w = v;
    w[bad_at].sig[40] ^= 4;  // S still canonical: caught by the equation, not the encoding checks
    const auto ok = batch_verdicts(w);
    for (size_t i = 0; i < w.size(); i++) CHECK(bool(ok[i]) == (i != bad_at));
  }
  // two bad ones whose errors could cancel without random weights: S_1 + δ and S_2 − δ
  std::vector<Signed> w = v;
  uint8_t delta[32] = {9}, t[32];
  crypto_core_ed25519_scalar_add(t, w[10].sig.data() + 32, delta);
  std::memcpy(w[10].sig.data() + 32, t, 32);
  crypto_core_ed25519_scalar_sub(t, w[11].sig.data() + 32, delta);
  std::memcpy(w[11].sig.data() + 32, t, 32);
  const auto ok = batch_verdicts(w);
  for (size_t i = 0; i < w.size(); i++) CHECK(bool(ok[i]) == (i != 10 && i != 11));
}

TEST_CASE("ed25519: the cofactored rule's documented difference: R off by a point of order 8") {
  REQUIRE(sodium_init() >= 0);
  std::mt19937_64 rng(5);
  const KeyPair k = generate_key();
  // The secret scalar a (libsodium: SHA-512 of the seed, clamped), a nonce r, and
  // R' = [r]B + T8; S' = r + H(R' ‖ A ‖ M)·a. Then [S']B − R' − [k]A = −T8: of order 8.
  uint8_t h[64], a[64] = {0}, r[32], s[32];
  crypto_hash_sha512(h, k.sk.data(), 32);
  h[0] &= 248, h[31] &= 127, h[31] |= 64;
  std::memcpy(a, h, 32);
  crypto_core_ed25519_scalar_reduce(a, a);
  crypto_core_ed25519_scalar_random(r);
  const Bytes32 rt = encode(point_add(scalar_mul(r, base_point()), order8_point()));
  std::vector<uint8_t> msg(100);
  for (auto& x : msg) x = uint8_t(rng());
  sign_with_nonce(s, r, a, rt, k.pk, msg);
  Signed tw;
  tw.key = k;
  tw.msg = msg;
  std::memcpy(tw.sig.data(), rt.data(), 32);
  std::memcpy(tw.sig.data() + 32, s, 32);
  CHECK(!sodium_ok(tw.sig.data(), tw.msg, k.pk.data()));                        // cofactorless: refused
  CHECK(ed::verify(tw.sig.data(), tw.msg.data(), tw.msg.size(), k.pk.data()));  // cofactored: accepted
  // the same R with the torsion removed is an ordinary signature both accept
  Signed plain = tw;
  const Bytes32 r0 = encode(scalar_mul(r, base_point()));
  std::memcpy(plain.sig.data(), r0.data(), 32);
  sign_with_nonce(s, r, a, r0, k.pk, msg);
  std::memcpy(plain.sig.data() + 32, s, 32);
  CHECK(sodium_ok(plain.sig.data(), plain.msg, k.pk.data()));
  // in a batch among honest signatures the tweaked one is accepted too (same verdicts)
  std::vector<Signed> v;
  for (int i = 0; i < 50; i++) v.push_back(make_signed(k, rng));
  v[17] = tw;
  for (uint8_t ok : batch_verdicts(v)) CHECK(ok == 1);
}
