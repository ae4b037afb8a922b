// The library's own transcendentals (proofwork(7), EXACT MODE): built from +, ×, fma, and correctly
// rounded division and sqrt only, so the CPU and the GPU produce the same bits.
// Never call libm's or CUDA's exp/log/cos in exact mode.
//
// expf: Cody–Waite reduction x = n·ln2 + r, |r| ≤ ln2/2, degree-7 Taylor polynomial
//       (truncation error < 2^-27), scaled by 2^n through the exponent bits.
// tanhf: a Taylor polynomial near 0, 1 − 2/(e^{2|x|} + 1) with expf beyond.
// logf: fdlibm's e_logf.c scheme: x = 2^e·m, m ∈ [√½, √2), s = f/(2+f),
//       minimax polynomial in s² (Lg1..Lg4).
// cos (double, for host-side schedules): reduction by π/2 in two parts, Taylor
//       polynomials on [-π/4, π/4]; accurate for |x| < 1e6, which is all a schedule needs.
#pragma once
#include <cstdint>

#if defined(__FAST_MATH__) || (defined(__FINITE_MATH_ONLY__) && __FINITE_MATH_ONLY__)
#error "proofwork's exact mode needs IEEE arithmetic: build without fast-math or finite-math-only"
#endif
#include <cstring>

#if defined(__CUDACC__)
#define PW_HD __host__ __device__
#define PW_INLINE __forceinline__
#else
#define PW_HD
#define PW_INLINE __attribute__((always_inline)) inline
#endif

namespace pw {

PW_HD PW_INLINE float fmaf_exact(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return __builtin_fmaf(a, b, c);
#endif
}

PW_HD PW_INLINE uint32_t f2u(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
PW_HD PW_INLINE float u2f(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

// c ? a : b as bit masks: the same value, in a form the compiler keeps branch-free, so
// that a loop over exp_f32 or tanh_f32 vectorises (with ?: GCC 12 leaves jumps).
PW_HD PW_INLINE float select_f32(bool c, float a, float b) {
  const uint32_t m = 0u - uint32_t(c);
  return u2f((f2u(a) & m) | (f2u(b) & ~m));
}
PW_HD PW_INLINE int select_i32(bool c, int a, int b) {
  const int m = -int(c);
  return (a & m) | (b & ~m);
}

// Written without branches (the special cases are selected at the end, on a clamped
// argument) so that a loop over it vectorises; the bits are those of the plain form.
PW_HD PW_INLINE float exp_f32(float x) {
  float xc = select_f32(x < 89.0f, x, 89.0f);  // NaN → 89: int(n) below stays defined
  xc = select_f32(xc > -105.0f, xc, -105.0f);
  const float magic = 12582912.0f;  // 1.5·2^23: adding it rounds to an integer (nearest even)
  float t = fmaf_exact(xc, 1.44269502162933349609375f, magic);
  float n = t - magic;
  float r = fmaf_exact(-n, 0.693145751953125f, xc);     // ln2 high part, 16 significant bits
  r = fmaf_exact(-n, 1.428606765330187045e-06f, r);     // ln2 low part
  float p = 1.0f / 5040.0f;
  p = fmaf_exact(p, r, 1.0f / 720.0f);
  p = fmaf_exact(p, r, 1.0f / 120.0f);
  p = fmaf_exact(p, r, 1.0f / 24.0f);
  p = fmaf_exact(p, r, 1.0f / 6.0f);
  p = fmaf_exact(p, r, 0.5f);
  p = fmaf_exact(p, r, 1.0f);
  p = fmaf_exact(p, r, 1.0f);
  int ni = int(n);
  // 2^ni in two steps so that results in the subnormal range come out right (a first
  // factor of 1 where one step suffices: exact, so the same bits).
  const float pre = select_f32(ni > 127, u2f(uint32_t(127 + 127) << 23),
                               select_f32(ni < -125, u2f(uint32_t(127 - 100) << 23), 1.0f));
  ni = select_i32(ni > 127, ni - 127, select_i32(ni < -125, ni + 100, ni));
  float y = (p * pre) * u2f(uint32_t(ni + 127) << 23);
  y = select_f32(x > 88.72283935546875f, u2f(0x7f800000u), y);  // +inf
  y = select_f32(x < -103.97208f, 0.0f, y);
  return select_f32(x != x, x, y);
}

// tanh: odd, so computed on a = |x| and x's sign bit put back (tanh(−0) = −0).
// a < 0.55: the Taylor series through x^17 (truncation < 5e-9 relative), a + a·z·P(z), z = a²;
// a ≥ 0.55: 1 − 2/(e^{2a} + 1) with exp_f32, a clamped to 10 (tanh rounds to 1 beyond 9.01).
// Max error 1.6 ulp against tanh in double over every float in [0, 11] (1.589 at 0.554;
// tests/unit/test_transformer_ops.cpp checks <= 2 on a sweep);
// branch-free like exp_f32, both forms are computed and one selected.
PW_HD PW_INLINE float tanh_f32(float x) {
  const uint32_t sign = f2u(x) & 0x80000000u;
  const float a = u2f(f2u(x) & 0x7fffffffu);
  const float z = a * a;
  float p = 5.9002744094558598e-4f;  // x^17 down to x^3: 2^2n (2^2n − 1) B_2n / (2n)!
  p = fmaf_exact(p, z, -1.4558343870513183e-3f);
  p = fmaf_exact(p, z, 3.5921280365724810e-3f);
  p = fmaf_exact(p, z, -8.8632355299021966e-3f);
  p = fmaf_exact(p, z, 2.1869488536155203e-2f);
  p = fmaf_exact(p, z, -5.3968253968253968e-2f);
  p = fmaf_exact(p, z, 1.3333333333333333e-1f);
  p = fmaf_exact(p, z, -3.3333333333333333e-1f);
  const float small = fmaf_exact(a * z, p, a);
  const float ac = select_f32(a < 10.0f, a, 10.0f);
  const float big = 1.0f - 2.0f / (exp_f32(ac + ac) + 1.0f);
  const float r = select_f32(a < 0.55f, small, big);  // >= +0
  return select_f32(x != x, x, u2f(f2u(r) | sign));
}

PW_HD PW_INLINE float log_f32(float x) {
  if (x != x) return x;
  if (x < 0.0f) return u2f(0x7fc00000u);  // NaN
  if (x == 0.0f) return u2f(0xff800000u);  // -inf
  if (x == u2f(0x7f800000u)) return x;
  int e = 0;
  uint32_t ix = f2u(x);
  if (ix < 0x00800000u) {  // subnormal: scale by 2^25
    x *= 33554432.0f;
    e -= 25;
    ix = f2u(x);
  }
  e += int((ix >> 23) & 0xff) - 127;
  float m = u2f((ix & 0x007fffffu) | 0x3f800000u);  // [1, 2)
  if (m > 1.41421356f) {
    m *= 0.5f;
    e += 1;
  }
  const float f = m - 1.0f;
  const float s = f / (2.0f + f);
  const float z = s * s;
  const float w = z * z;
  const float t1 = w * (0.40000972152f + w * 0.24279078841f);
  const float t2 = z * (0.66666662693f + w * 0.28498786688f);
  const float R = t2 + t1;
  const float hfsq = 0.5f * f * f;
  const float fe = float(e);
  return fe * 0.693145751953125f - ((hfsq - (s * (hfsq + R) + fe * 1.428606765330187045e-06f)) - f);
}

inline double cos_f64(double x) {
  if (x != x) return x;
  if (x < 0) x = -x;
  const double magic = 6755399441055744.0;  // 1.5·2^52
  double k = (x * 0.63661977236758134308 + magic) - magic;  // round(x / (π/2))
  double r = x - k * 1.57079632673412561417;                // π/2 high part
  r = r - k * 6.07710050650619224932e-11;                    // π/2 low part
  double z = r * r;
  auto cos_poly = [](double z) {
    double p = 1.0 / 20922789888000.0;  // 1/16!
    p = p * z - 1.0 / 87178291200.0;
    p = p * z + 1.0 / 479001600.0;
    p = p * z - 1.0 / 3628800.0;
    p = p * z + 1.0 / 40320.0;
    p = p * z - 1.0 / 720.0;
    p = p * z + 1.0 / 24.0;
    p = p * z - 0.5;
    return p * z + 1.0;
  };
  auto sin_poly = [](double r, double z) {
    double p = 1.0 / 355687428096000.0;  // 1/17!
    p = p * z - 1.0 / 1307674368000.0;
    p = p * z + 1.0 / 6227020800.0;
    p = p * z - 1.0 / 39916800.0;
    p = p * z + 1.0 / 362880.0;
    p = p * z - 1.0 / 5040.0;
    p = p * z + 1.0 / 120.0;
    p = p * z - 1.0 / 6.0;
    return r + r * z * p;
  };
  switch (int64_t(k) & 3) {
    case 0: return cos_poly(z);
    case 1: return -sin_poly(r, z);
    case 2: return -cos_poly(z);
    default: return sin_poly(r, z);
  }
}

}  // namespace pw
