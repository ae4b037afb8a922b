// Ed25519 single and batch verification under one cofactored rule (see ed25519_batch.hpp
// and man ledger-settle, RULES). libsodium supplies SHA-512, the random batch weights
// and the scalar arithmetic mod L; the curve arithmetic is here because libsodium has
// neither a batch verification nor a multi-scalar multiplication.
#include "ledger/ed25519_batch.hpp"

#include <sodium.h>

#include <array>
#include <cstring>
#include <unordered_map>
#include <vector>

namespace pw::ledger::ed25519 {
namespace internal {

namespace {

using u64 = uint64_t;
using u128 = unsigned __int128;
constexpr u64 kMask = (u64(1) << 51) - 1;

u64 load64(const uint8_t* p) {
  u64 v;
  std::memcpy(&v, p, 8);
  return v;
}

// Limb bounds: fe_mul, fe_sq and fe_sub return limbs below 2^51 + 2^13. fe_add does not
// carry: it is only applied to such outputs, at most three deep, so its sums stay below
// 2^53. fe_mul and fe_sq take limbs below 2^54 (5·19·2^108 < 2^128); fe_sub a subtrahend
// below 4p's limbs (2^53 − 76).
Fe carry(Fe a) {
  u64 c;
  c = a.v[0] >> 51, a.v[0] &= kMask, a.v[1] += c;
  c = a.v[1] >> 51, a.v[1] &= kMask, a.v[2] += c;
  c = a.v[2] >> 51, a.v[2] &= kMask, a.v[3] += c;
  c = a.v[3] >> 51, a.v[3] &= kMask, a.v[4] += c;
  c = a.v[4] >> 51, a.v[4] &= kMask, a.v[0] += 19 * c;
  return a;
}

// t0..t4 (each below 2^115) to limbs: carries, the top one folded back times 19
// (2^255 ≡ 19).
Fe reduce(u128 t0, u128 t1, u128 t2, u128 t3, u128 t4) {
  Fe r;
  t1 += t0 >> 51, r.v[0] = u64(t0) & kMask;
  t2 += t1 >> 51, r.v[1] = u64(t1) & kMask;
  t3 += t2 >> 51, r.v[2] = u64(t2) & kMask;
  t4 += t3 >> 51, r.v[3] = u64(t3) & kMask;
  r.v[4] = u64(t4) & kMask;
  r.v[0] += 19 * u64(t4 >> 51);  // t4 < 2^111: the carry is below 2^60
  r.v[1] += r.v[0] >> 51, r.v[0] &= kMask;
  return r;
}

// The hot arithmetic, inlined into the point formulas (the fe_* wrappers are for tests).
[[gnu::always_inline]] inline Fe add(const Fe& a, const Fe& b) {
  return {{a.v[0] + b.v[0], a.v[1] + b.v[1], a.v[2] + b.v[2], a.v[3] + b.v[3], a.v[4] + b.v[4]}};
}

// a − b + 4p, carried.
[[gnu::always_inline]] inline Fe sub(const Fe& a, const Fe& b) {
  constexpr u64 p0 = 4 * ((u64(1) << 51) - 19), pi = 4 * kMask;
  return carry({{a.v[0] + p0 - b.v[0], a.v[1] + pi - b.v[1], a.v[2] + pi - b.v[2], a.v[3] + pi - b.v[3],
                 a.v[4] + pi - b.v[4]}});
}

[[gnu::always_inline]] inline Fe mul(const Fe& a, const Fe& b) {
  const u64 a0 = a.v[0], a1 = a.v[1], a2 = a.v[2], a3 = a.v[3], a4 = a.v[4];
  const u64 b0 = b.v[0], b1 = b.v[1], b2 = b.v[2], b3 = b.v[3], b4 = b.v[4];
  const u64 b1_19 = 19 * b1, b2_19 = 19 * b2, b3_19 = 19 * b3, b4_19 = 19 * b4;
  const u128 t0 = u128(a0) * b0 + u128(a1) * b4_19 + u128(a2) * b3_19 + u128(a3) * b2_19 + u128(a4) * b1_19;
  const u128 t1 = u128(a0) * b1 + u128(a1) * b0 + u128(a2) * b4_19 + u128(a3) * b3_19 + u128(a4) * b2_19;
  const u128 t2 = u128(a0) * b2 + u128(a1) * b1 + u128(a2) * b0 + u128(a3) * b4_19 + u128(a4) * b3_19;
  const u128 t3 = u128(a0) * b3 + u128(a1) * b2 + u128(a2) * b1 + u128(a3) * b0 + u128(a4) * b4_19;
  const u128 t4 = u128(a0) * b4 + u128(a1) * b3 + u128(a2) * b2 + u128(a3) * b1 + u128(a4) * b0;
  return reduce(t0, t1, t2, t3, t4);
}

[[gnu::always_inline]] inline Fe sq(const Fe& a) {
  const u64 a0 = a.v[0], a1 = a.v[1], a2 = a.v[2], a3 = a.v[3], a4 = a.v[4];
  const u64 d0 = 2 * a0, d1 = 2 * a1, d2_19 = 38 * a2, a4_19 = 19 * a4, d4_19 = 2 * a4_19;
  const u128 t0 = u128(a0) * a0 + u128(d4_19) * a1 + u128(d2_19) * a3;
  const u128 t1 = u128(d0) * a1 + u128(d4_19) * a2 + u128(a3) * (19 * a3);
  const u128 t2 = u128(d0) * a2 + u128(a1) * a1 + u128(d4_19) * a3;
  const u128 t3 = u128(d0) * a3 + u128(d1) * a2 + u128(a4) * a4_19;
  const u128 t4 = u128(d0) * a4 + u128(d1) * a3 + u128(a2) * a2;
  return reduce(t0, t1, t2, t3, t4);
}

const Fe kZero = {{0, 0, 0, 0, 0}};
const Fe kOne = {{1, 0, 0, 0, 0}};

Fe fe_neg(const Fe& a) { return sub(kZero, a); }

bool fe_is_zero(const Fe& a) {
  uint8_t s[32];
  fe_to_bytes(s, a);
  uint8_t acc = 0;
  for (uint8_t b : s) acc |= b;
  return acc == 0;
}

bool fe_is_negative(const Fe& a) {
  uint8_t s[32];
  fe_to_bytes(s, a);
  return s[0] & 1;
}

Fe fe_sq_times(Fe a, int n) {
  for (int i = 0; i < n; i++) a = sq(a);
  return a;
}

// z^(2^250 − 1) and z^11: the common start of the two exponentiations below (the
// addition chain of ref10's fe_invert).
Fe fe_pow_2_250_1(const Fe& z, Fe* z11) {
  const Fe z2 = sq(z);
  const Fe z9 = mul(z, fe_sq_times(z2, 2));
  *z11 = mul(z2, z9);
  const Fe z5_0 = mul(z9, sq(*z11));  // 2^5 − 1
  const Fe z10_0 = mul(fe_sq_times(z5_0, 5), z5_0);  // 2^10 − 1
  const Fe z20_0 = mul(fe_sq_times(z10_0, 10), z10_0);  // 2^20 − 1
  const Fe z40_0 = mul(fe_sq_times(z20_0, 20), z20_0);  // 2^40 − 1
  const Fe z50_0 = mul(fe_sq_times(z40_0, 10), z10_0);  // 2^50 − 1
  const Fe z100_0 = mul(fe_sq_times(z50_0, 50), z50_0);  // 2^100 − 1
  const Fe z200_0 = mul(fe_sq_times(z100_0, 100), z100_0);  // 2^200 − 1
  return mul(fe_sq_times(z200_0, 50), z50_0);  // 2^250 − 1
}

// z^((p − 5)/8) = z^(2^252 − 3), for square roots (p ≡ 5 mod 8).
Fe fe_pow22523(const Fe& z) {
  Fe z11;
  return mul(fe_sq_times(fe_pow_2_250_1(z, &z11), 2), z);
}

Fe fe_small(u64 v) { return Fe{{v, 0, 0, 0, 0}}; }

// The curve constants, derived rather than transcribed: d = −121665/121666, 2d, √−1 =
// 2^((p−1)/4) = (2^(2^252−3))²·2.
struct Constants {
  Fe d, d2, sqrtm1;
  Constants() {
    d = fe_neg(mul(fe_small(121665), fe_invert(fe_small(121666))));
    d2 = carry(add(d, d));
    sqrtm1 = mul(sq(fe_pow22523(fe_small(2))), fe_small(2));
  }
};
const Constants& K() {
  static const Constants k;
  return k;
}

// ---- points ------------------------------------------------------------------------

// ref10's "completed" point: x = X/Z, y = Y/T; what an addition or doubling yields.
struct Completed {
  Fe X, Y, Z, T;
};
// A point ready to be added: (Y+X, Y−X, Z, 2dT).
struct Cached {
  Fe YpX, YmX, Z, T2d;
};
// A point with Z = 1, both as coordinates and ready to be added: a term of the
// multi-scalar multiplication.
struct Affine {
  Fe x, y, t, ypx, ymx, xy2d;  // t = xy
};

Point to_point(const Completed& c) {
  return {mul(c.X, c.T), mul(c.Y, c.Z), mul(c.Z, c.T), mul(c.X, c.Y)};
}

// T left stale: for a point that is only doubled next.
Point to_projective(const Completed& c) { return {mul(c.X, c.T), mul(c.Y, c.Z), mul(c.Z, c.T), kZero}; }

const Point kIdentity = {kZero, kOne, kOne, kZero};

// 2P from X, Y, Z (dbl-2008-hwcd, a = −1).
Completed dbl(const Point& p) {
  Completed r;
  const Fe xx = sq(p.X), yy = sq(p.Y), zz = sq(p.Z);
  const Fe b = add(zz, zz), aa = sq(add(p.X, p.Y));
  r.Y = add(yy, xx);
  r.Z = sub(yy, xx);
  r.X = sub(aa, r.Y);
  r.T = sub(b, r.Z);
  return r;
}

Cached to_cached(const Point& p) { return {add(p.Y, p.X), sub(p.Y, p.X), p.Z, mul(p.T, K().d2)}; }

// P + Q (add-2008-hwcd-3; complete, as d is not a square).
Completed add(const Point& p, const Cached& q) {
  Completed r;
  const Fe a = mul(add(p.Y, p.X), q.YpX), b = mul(sub(p.Y, p.X), q.YmX);
  const Fe c = mul(q.T2d, p.T), zz = mul(p.Z, q.Z), d = add(zz, zz);
  r.X = sub(a, b);
  r.Y = add(a, b);
  r.Z = add(d, c);
  r.T = sub(d, c);
  return r;
}

// P ± A for A affine: the same formula with Z_A = 1; −A swaps Y+X and Y−X and negates 2dT.
Completed add(const Point& p, const Affine& q, bool negate) {
  Completed r;
  const Fe a = mul(add(p.Y, p.X), negate ? q.ymx : q.ypx);
  const Fe b = mul(sub(p.Y, p.X), negate ? q.ypx : q.ymx);
  const Fe c = mul(q.xy2d, p.T), d = add(p.Z, p.Z);
  r.X = sub(a, b);
  r.Y = add(a, b);
  r.Z = negate ? sub(d, c) : add(d, c);
  r.T = negate ? add(d, c) : sub(d, c);
  return r;
}

Point from_affine(const Affine& a, bool negate) {
  return negate ? Point{fe_neg(a.x), a.y, kOne, fe_neg(a.t)} : Point{a.x, a.y, kOne, a.t};
}

Affine make_affine(const Fe& x, const Fe& y) {
  Affine a;
  a.x = x;
  a.y = y;
  a.t = mul(x, y);
  a.ypx = add(y, x);
  a.ymx = sub(y, x);
  a.xy2d = mul(a.t, K().d2);
  return a;
}

Affine to_affine(const Point& p) {
  const Fe zi = fe_invert(p.Z);
  return make_affine(mul(p.X, zi), mul(p.Y, zi));
}

// [2^n]P
Point dbl_times(Point p, int n) {
  for (int i = 0; i < n; i++) p = i + 1 < n ? to_projective(dbl(p)) : to_point(dbl(p));
  return p;
}

// libsodium 1.0.18 refuses a point encoding y with y ≥ p (ge25519_is_canonical).
bool encoding_canonical(const uint8_t s[32]) {
  if ((s[31] & 0x7f) != 0x7f) return true;
  for (int i = 30; i > 0; i--)
    if (s[i] != 0xff) return true;
  return s[0] < 0xed;
}

// The group order L = 2^252 + 27742317777372353535851937790883648493, little-endian.
const uint8_t kL[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};

// S < L (libsodium's sc25519_is_canonical).
bool scalar_canonical(const uint8_t s[32]) {
  for (int i = 31; i >= 0; i--) {
    if (s[i] != kL[i]) return s[i] < kL[i];
  }
  return false;
}

// The base point B (y = 4/5, x even) and [2^128]B, affine.
struct Bases {
  Affine b, b128;
  Point b_point;
  Bases() {
    uint8_t s[32];
    fe_to_bytes(s, mul(fe_small(4), fe_invert(fe_small(5))));
    point_decode(b_point, s);
    b = make_affine(b_point.X, b_point.Y);
    b128 = to_affine(dbl_times(b_point, 128));
  }
};
const Bases& bases() {
  static const Bases b;
  return b;
}

// ---- multi-scalar multiplication ---------------------------------------------------

// ±s·P with s < 2^128 (lo + 2^64 hi). A 253-bit scalar s for P is given as two terms:
// s mod 2^128 for P and s >> 128 for [2^128]P, so that every term has 128 bits and the
// Pippenger windows above bit 128 are never run.
struct Term {
  const Affine* p;
  bool negate;
  u64 lo, hi;
};

Term term(const Affine& p, bool negate, const uint8_t* s16) { return {&p, negate, load64(s16), load64(s16 + 8)}; }

// Σ ±s_i P_i by Pippenger's bucket method with signed digits in radix 2^c: per window,
// each term adds its point into bucket |digit| (negated for a negative digit), then
// Σ_j j·bucket_j is formed by running sums (2 additions a bucket); windows are joined by
// c doublings. c minimises the count of additions: ⌈129/c⌉·(n + 2·2^(c−1)).
Point msm(const std::vector<Term>& terms) {
  const size_t n = terms.size();
  int c = 2;
  double best = 1e300;
  for (int w = 2; w <= 12; w++) {
    const double cost = double((128 + w) / w) * (7.0 * double(n) + 18.0 * double(1 << (w - 1)));
    if (cost < best) best = cost, c = w;
  }
  const int windows = (128 + c) / c, half = 1 << (c - 1);
  // digits[w·n + i]: term i's digit in window w, in [−2^(c−1), 2^(c−1)]
  std::vector<int16_t> digits(size_t(windows) * n);
  for (size_t i = 0; i < n; i++) {
    const u128 s = (u128(terms[i].hi) << 64) | terms[i].lo;
    int carry_in = 0;
    for (int w = 0; w < windows; w++) {
      const int at = w * c;
      int v = (at < 128 ? int(u64(s >> at) & u64((1 << c) - 1)) : 0) + carry_in;
      carry_in = v > half;  // never in the top window: it holds fewer than c bits
      if (carry_in) v -= 1 << c;
      digits[size_t(w) * n + i] = int16_t(v);
    }
  }
  std::vector<Point> bucket(static_cast<size_t>(half));
  std::vector<uint8_t> used(static_cast<size_t>(half));
  Point acc = kIdentity;
  bool have_acc = false;
  for (int w = windows - 1; w >= 0; w--) {
    if (have_acc) acc = dbl_times(acc, c);
    std::fill(used.begin(), used.end(), 0);
    const int16_t* d = &digits[size_t(w) * n];
    for (size_t i = 0; i < n; i++) {
      if (d[i] == 0) continue;
      const size_t j = size_t(d[i] < 0 ? -d[i] : d[i]) - 1;
      const bool negate = (d[i] < 0) != terms[i].negate;
      if (used[j]) {
        bucket[j] = to_point(add(bucket[j], *terms[i].p, negate));
      } else {
        bucket[j] = from_affine(*terms[i].p, negate);
        used[j] = 1;
      }
    }
    Point running = kIdentity, sum = kIdentity;
    bool have_running = false, have_sum = false;
    for (int j = half - 1; j >= 0; j--) {
      if (used[size_t(j)]) {
        running = have_running ? to_point(add(running, to_cached(bucket[size_t(j)]))) : bucket[size_t(j)];
        have_running = true;
      }
      if (have_running) {
        sum = have_sum ? to_point(add(sum, to_cached(running))) : running;
        have_sum = true;
      }
    }
    if (have_sum) {
      acc = have_acc ? to_point(add(acc, to_cached(sum))) : sum;
      have_acc = true;
    }
  }
  return acc;
}

}  // namespace

// ---- field -------------------------------------------------------------------------

Fe fe_from_bytes(const uint8_t s[32]) {
  const u64 w0 = load64(s), w1 = load64(s + 8), w2 = load64(s + 16), w3 = load64(s + 24);
  return {{w0 & kMask, ((w0 >> 51) | (w1 << 13)) & kMask, ((w1 >> 38) | (w2 << 26)) & kMask,
           ((w2 >> 25) | (w3 << 39)) & kMask, (w3 >> 12) & kMask}};
}

void fe_to_bytes(uint8_t s[32], const Fe& a) {
  Fe t = carry(carry(a));  // now below 2^255 + 38 < 2p
  // q = 1 when t ≥ p, i.e. when t + 19 carries out of bit 255; then t − p = t + 19 − 2^255.
  u64 q = (t.v[0] + 19) >> 51;
  q = (t.v[1] + q) >> 51;
  q = (t.v[2] + q) >> 51;
  q = (t.v[3] + q) >> 51;
  q = (t.v[4] + q) >> 51;
  t.v[0] += 19 * q;
  t.v[1] += t.v[0] >> 51, t.v[0] &= kMask;
  t.v[2] += t.v[1] >> 51, t.v[1] &= kMask;
  t.v[3] += t.v[2] >> 51, t.v[2] &= kMask;
  t.v[4] += t.v[3] >> 51, t.v[3] &= kMask;
  t.v[4] &= kMask;
  const u64 w[4] = {t.v[0] | (t.v[1] << 51), (t.v[1] >> 13) | (t.v[2] << 38), (t.v[2] >> 26) | (t.v[3] << 25),
                    (t.v[3] >> 39) | (t.v[4] << 12)};
  std::memcpy(s, w, 32);
}

Fe fe_add(const Fe& a, const Fe& b) { return add(a, b); }
Fe fe_sub(const Fe& a, const Fe& b) { return sub(a, b); }
Fe fe_mul(const Fe& a, const Fe& b) { return mul(a, b); }
Fe fe_sq(const Fe& a) { return sq(a); }

Fe fe_invert(const Fe& a) {
  Fe a11;
  return mul(fe_sq_times(fe_pow_2_250_1(a, &a11), 5), a11);  // 2^255 − 21 = p − 2
}

bool fe_equal(const Fe& a, const Fe& b) { return fe_is_zero(sub(a, b)); }

const Fe& fe_sqrtm1() { return K().sqrtm1; }

// ---- points ------------------------------------------------------------------------

bool point_decode(Point& p, const uint8_t s[32]) {
  if (!encoding_canonical(s)) return false;
  // x² = u/v with u = y² − 1, v = dy² + 1; x = uv³(uv⁷)^((p−5)/8), times √−1 if that
  // squares to −u/v (RFC 8032 §5.1.3).
  const Fe y = fe_from_bytes(s), yy = sq(y);
  const Fe u = sub(yy, kOne), v = add(mul(yy, K().d), kOne);
  const Fe v3 = mul(sq(v), v);
  Fe x = mul(mul(u, v3), fe_pow22523(mul(mul(u, sq(v3)), v)));
  const Fe vxx = mul(v, sq(x));
  if (!fe_equal(vxx, u)) {
    if (!fe_equal(vxx, fe_neg(u))) return false;
    x = mul(x, K().sqrtm1);
  }
  const bool sign = s[31] >> 7;
  if (sign && fe_is_zero(x)) return false;
  if (fe_is_negative(x) != sign) x = fe_neg(x);
  p = {x, y, kOne, mul(x, y)};
  return true;
}

void point_encode(uint8_t s[32], const Point& p) {
  const Fe zi = fe_invert(p.Z);
  fe_to_bytes(s, mul(p.Y, zi));
  s[31] |= uint8_t(fe_is_negative(mul(p.X, zi)) << 7);
}

Point point_add(const Point& p, const Point& q) { return to_point(add(p, to_cached(q))); }

bool point_is_identity(const Point& p) { return fe_is_zero(p.X) && fe_equal(p.Y, p.Z); }

Point point_mul8(const Point& p) { return dbl_times(p, 3); }

const Point& base_point() { return bases().b_point; }

Point scalar_mul(const uint8_t s[32], const Point& p) {
  const Affine a = to_affine(p), a128 = to_affine(dbl_times(p, 128));
  return msm({term(a, false, s), term(a128, false, s + 16)});
}

bool has_small_order_encoding(const uint8_t s[32]) {
  // ge25519_has_small_order's list (libsodium 1.0.18): y = 0, 1, the two y of the
  // points of order 8, p − 1, and the non-canonical p and p + 1.
  static const uint8_t kList[7][32] = {
      {0},
      {1},
      {0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
       0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
      {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
       0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
      {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
      {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
      {0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}};
  for (const auto& e : kList) {
    if (std::memcmp(s, e, 31) == 0 && (s[31] & 0x7f) == e[31]) return true;
  }
  return false;
}

}  // namespace internal

// ---- verification ------------------------------------------------------------------

namespace {

using namespace internal;

// A decoded public key: A and [2^128]A, or invalid (refused as libsodium refuses it).
struct Key {
  bool valid = false;
  Affine a, a128;
  uint64_t batch = 0;  // the batch that last used it, and its slot there
  size_t slot = 0;
};

struct KeyBytesHash {
  size_t operator()(const std::array<uint8_t, 32>& k) const { return size_t(load64(k.data())); }
};

// Per thread: the ledger has few signers and each signs many events.
struct Scratch {
  std::unordered_map<std::array<uint8_t, 32>, Key, KeyBytesHash> keys;
  uint64_t batch = 0;
};
thread_local Scratch scratch;

// Forgets the cached keys when there are many (between batches only: a batch holds
// pointers to its keys).
// Also initialises libsodium (its random generator) once.
void bound_key_cache() {
  static const bool sodium_ready = sodium_init() >= 0;
  (void)sodium_ready;
  if (scratch.keys.size() > (size_t(1) << 14)) scratch.keys.clear();  // ~8 MB
}

Key& lookup_key(const uint8_t* pk) {
  std::array<uint8_t, 32> bytes;
  std::memcpy(bytes.data(), pk, 32);
  auto [it, fresh] = scratch.keys.try_emplace(bytes);
  Key& k = it->second;
  if (!fresh) return k;
  Point p;
  k.valid = encoding_canonical(pk) && !has_small_order_encoding(pk) && point_decode(p, pk);
  if (k.valid) {
    k.a = make_affine(p.X, p.Y);
    k.a128 = to_affine(dbl_times(p, 128));
  }
  return k;
}

// One signature with its encodings checked and decoded, and k = H(R ‖ A ‖ M) mod L.
struct Prepared {
  size_t index;
  Key* key;
  Affine r;
  const uint8_t* s;
  uint8_t k[32];
};

bool prepare(const SignedMessage& m, size_t index, Prepared& p) {
  if (!scalar_canonical(m.sig + 32)) return false;
  p.key = &lookup_key(m.pk);
  if (!p.key->valid) return false;
  Point r;
  if (has_small_order_encoding(m.sig) || !point_decode(r, m.sig)) return false;
  p.index = index;
  p.r = make_affine(r.X, r.Y);
  p.s = m.sig + 32;
  crypto_hash_sha512_state st;
  uint8_t h[64];
  crypto_hash_sha512_init(&st);
  crypto_hash_sha512_update(&st, m.sig, 32);
  crypto_hash_sha512_update(&st, m.pk, 32);
  crypto_hash_sha512_update(&st, m.msg, m.len);
  crypto_hash_sha512_final(&st, h);
  crypto_core_ed25519_scalar_reduce(p.k, h);
  return true;
}

// [8]([Σ z_i S_i]B − Σ z_i R_i − Σ_A (Σ z_i k_i) A) = 0, z_i 128-bit (16 bytes each).
bool check_equation(const Prepared* ps, size_t m, const uint8_t* z) {
  const uint64_t batch = ++scratch.batch;
  std::vector<Key*> keys;
  std::vector<std::array<uint8_t, 32>> key_coef;
  std::vector<Term> terms;
  terms.reserve(m + 2);
  uint8_t s_b[32] = {0}, zi[32] = {0}, t[32];
  for (size_t i = 0; i < m; i++) {
    const Prepared& p = ps[i];
    std::memcpy(zi, z + 16 * i, 16);
    crypto_core_ed25519_scalar_mul(t, zi, p.s);
    crypto_core_ed25519_scalar_add(s_b, s_b, t);
    crypto_core_ed25519_scalar_mul(t, zi, p.k);
    if (p.key->batch != batch) {
      p.key->batch = batch;
      p.key->slot = keys.size();
      keys.push_back(p.key);
      key_coef.push_back({});
    }
    auto& c = key_coef[p.key->slot];
    crypto_core_ed25519_scalar_add(c.data(), c.data(), t);
    terms.push_back(term(p.r, true, z + 16 * i));
  }
  const Bases& b = bases();
  terms.push_back(term(b.b, false, s_b));
  terms.push_back(term(b.b128, false, s_b + 16));
  for (size_t j = 0; j < keys.size(); j++) {
    terms.push_back(term(keys[j]->a, true, key_coef[j].data()));
    terms.push_back(term(keys[j]->a128, true, key_coef[j].data() + 16));
  }
  return point_is_identity(point_mul8(msm(terms)));
}

const uint8_t kWeightOne[16] = {1};

}  // namespace

bool verify(const uint8_t* sig, const uint8_t* msg, size_t len, const uint8_t* pk) {
  bound_key_cache();
  Prepared p;
  return prepare({sig, msg, len, pk}, 0, p) && check_equation(&p, 1, kWeightOne);
}

bool verify_batch(const SignedMessage* items, size_t n, uint8_t* ok) {
  bound_key_cache();
  std::vector<Prepared> ps(n);
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    ok[i] = prepare(items[i], i, ps[m]);
    m += ok[i];
  }
  if (m == 0) return n == 0;
  // Fresh weights each batch: a forger who could predict them could make bad signatures
  // cancel in the sum.
  std::vector<uint8_t> z(16 * m);
  randombytes_buf(z.data(), z.size());
  if (check_equation(ps.data(), m, z.data())) return m == n;
  // Some signature is bad: find which, one at a time under the same rule.
  for (size_t i = 0; i < m; i++) ok[ps[i].index] = check_equation(&ps[i], 1, kWeightOne);
  return false;
}

}  // namespace pw::ledger::ed25519
