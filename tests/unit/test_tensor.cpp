// lib/tensor: the exact-mode GEMM against its plain-loop reference (bitwise), Philox
// known answers, the library's own transcendentals against libm in double, and the
// element-wise ops and fixed-order reductions of the tape.
#include <doctest/doctest.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "tensor/gemm.hpp"
#include "tensor/mathfn.hpp"
#include "tensor/ops.hpp"
#include "tensor/philox.hpp"
#include "unit_helpers.hpp"

namespace {

using pwtest::TestRng;

// A (M×K) or its transpose, stored with a padded leading dimension.
struct Operand {
  std::vector<float> buf;
  pw::MatView view;
};

Operand make_operand(int rows, int cols, bool trans, TestRng& rng) {
  Operand o;
  const int pad = 3;
  if (!trans) {
    const int ld = cols + pad;
    o.buf.resize(size_t(rows) * ld + 1);
    for (auto& x : o.buf) x = rng.awkward();
    o.view = pw::row_major(o.buf.data(), ld);
  } else {  // stored as cols × rows
    const int ld = rows + pad;
    o.buf.resize(size_t(cols) * ld + 1);
    for (auto& x : o.buf) x = rng.awkward();
    o.view = pw::transposed(o.buf.data(), ld);
  }
  return o;
}

struct GemmCase {
  int M, N, K;
};

// Settings of gemm_exact that must all give the reference's bits.
constexpr unsigned kAvx1 = 1;       // the default (AVX2 where the CPU has it) kernel, 1 thread
constexpr unsigned kAvx2 = 2;       // … 2 threads
constexpr unsigned kPortable1 = 4;  // gemm_force_portable(true), 1 thread
constexpr unsigned kPortable2 = 8;  // … 2 threads

// Runs one shape with transposes (ta, tb), with or without a bias, under each setting
// in `settings`; each must equal the reference bit for bit, and the padding columns
// of C must stay untouched. (Two-thread runs are rationed: on a loaded machine every
// OpenMP barrier of an oversubscribed team can cost a scheduler time slice.)
void check_gemm(const GemmCase& gc, int ta, int tb, int with_bias, unsigned settings, TestRng& rng) {
  const int M = gc.M, N = gc.N, K = gc.K;
  const int ldc = N + 5;
  const float sentinel = -12345.5f;
  Operand A = make_operand(M, K, ta, rng), B = make_operand(K, N, tb, rng);
  std::vector<float> bias(static_cast<size_t>(N));
  for (auto& x : bias) x = rng.awkward();
  const float* bp = with_bias ? bias.data() : nullptr;
  std::vector<float> ref(size_t(M) * ldc, sentinel);
  pw::gemm_reference(M, N, K, A.view, B.view, bp, ref.data(), ldc);
  for (int portable = 0; portable < 2; portable++)
    for (int threads = 1; threads <= 2; threads++) {
      if (!(settings & (1u << (2 * portable + threads - 1)))) continue;
      pw::gemm_force_portable(portable);
      pw::set_threads(threads);
      std::vector<float> got(size_t(M) * ldc, sentinel);
      pw::gemm_exact(M, N, K, A.view, B.view, bp, got.data(), ldc);
      const bool same = std::memcmp(got.data(), ref.data(), got.size() * sizeof(float)) == 0;
      if (!same) {
        size_t first = 0;
        while (first < got.size() && std::memcmp(&got[first], &ref[first], 4) == 0) first++;
        INFO("first mismatch at row " << first / ldc << " col " << first % ldc << ": got " << got[first]
                                      << " want " << ref[first]);
        INFO("M=" << M << " N=" << N << " K=" << K << " transA=" << ta << " transB=" << tb << " bias=" << with_bias
                  << " kernel=" << pw::gemm_kernel_name() << " threads=" << threads);
        CHECK(same);
      }
    }
  pw::gemm_force_portable(false);
}

using pwtest::ulp_error;

float next_up(float x) { return std::nextafter(x, INFINITY); }
float next_down(float x) { return std::nextafter(x, -INFINITY); }

}  // namespace

// ---------------------------------------------------------------- GEMM

TEST_CASE("gemm_exact equals gemm_reference bit for bit on awkward shapes") {
  pwtest::SettingsGuard guard;
  TestRng rng(7);
  const int S[] = {1, 5, 6, 7, 15, 16, 17, 95, 96, 97, 255, 256, 257, 300};
  int combos_seen[8] = {};
  unsigned settings_seen = 0;
  auto run = [&](const GemmCase& c, int combo, unsigned settings) {
    check_gemm(c, combo & 1, (combo >> 1) & 1, combo >> 2, settings, rng);
    combos_seen[combo]++;
    settings_seen |= settings;
  };
  int n = 0;
  // Every edge-tile combination of M and N (6×16 register tiles, 96-row and
  // 256-column blocks), each with one of the eight transpose/bias combinations in
  // turn and a short K, K = 0 included; both kernels on 1 thread, one of them on 2.
  const int shortK[] = {0, 1, 7, 17};
  for (int M : S)
    for (int N : S) {
      run({M, N, shortK[(n / 8) % 4]}, n % 8, kAvx1 | kPortable1 | (n % 2 ? kAvx2 : kPortable2));
      n++;
    }
  // K across and beyond the 256-term panels, so that several k-panels accumulate
  // into the same outputs: all eight combinations.
  const GemmCase deep[] = {{1, 1, 257},   {5, 17, 256},  {6, 16, 255},  {7, 15, 300},
                           {17, 5, 513},  {96, 16, 300}, {97, 6, 520},  {1, 300, 769},
                           {300, 1, 300}, {16, 257, 97}, {17, 96, 513}, {257, 256, 15}};
  for (const auto& c : deep)
    for (int combo = 0; combo < 8; combo++)
      run(c, combo, kAvx1 | kPortable1 | (combo == 0 ? kAvx2 : 0) | (combo == 7 ? kPortable2 : 0));
  // Large shapes, one combination each (the scalar reference dominates the time).
  const GemmCase large[] = {{95, 97, 257}, {300, 300, 300}, {257, 96, 600}};
  for (int i = 0; i < 3; i++) run(large[i], 3 * i + 1, kAvx1 | kAvx2 | kPortable2);
  for (int c = 0; c < 8; c++) CHECK(combos_seen[c] >= 12);
  CHECK(settings_seen == (kAvx1 | kAvx2 | kPortable1 | kPortable2));
}

TEST_CASE("gemm_exact gives the reference bits however the work is shared among threads") {
  // Shapes above the size at which gemm_exact goes parallel, with several row and
  // column blocks, so that two threads really split the output (and, with dynamic
  // scheduling, split it differently from run to run); a second k-panel below that
  // size (128·300·4) runs on one thread and must continue the same sums; and the
  // two sides of the 2^18 multiply-add threshold.
  pwtest::SettingsGuard guard;
  TestRng rng(13);
  const GemmCase shapes[] = {{200, 520, 40}, {128, 300, 260}, {1000, 17, 300}, {7, 1000, 100},
                             {64, 64, 64},   {64, 64, 63},    {97, 257, 33}};
  int combo = 0;
  for (const auto& c : shapes)
    for (int rep = 0; rep < 3; rep++, combo++)
      check_gemm(c, combo & 1, (combo >> 1) & 1, (combo >> 2) & 1, kAvx2 | (rep == 0 ? kAvx1 | kPortable2 : 0u), rng);
}

TEST_CASE("gemm_exact with the operand roles swapped keeps the reference bits") {
  // A short A against a long B (M <= 256, K <= 1024) runs as Cᵀ = Bᵀ·Aᵀ: B's columns read
  // in place (transB, the forward pass's Wᵀ) or B's rows packed by strips per thread
  // (dz·W). The MLP's own shapes, one with an edge strip and panel and each thread's run
  // of strips not a whole number of groups, the largest K taken, and one just past it.
  pwtest::SettingsGuard guard;
  TestRng rng(29);
  check_gemm({128, 1024, 784}, 0, 1, 1, kAvx1 | kAvx2, rng);
  check_gemm({128, 1024, 1024}, 0, 0, 0, kAvx1 | kAvx2, rng);
  check_gemm({100, 1000, 1023}, 1, 0, 1, kAvx1 | kAvx2, rng);
  check_gemm({100, 1000, 1023}, 0, 1, 0, kAvx2, rng);
  check_gemm({256, 64, 1025}, 0, 1, 1, kAvx2, rng);
}

TEST_CASE("gemm_exact accumulates from the bias with fma, k ascending") {
  pwtest::SettingsGuard guard;
  // One output element whose value depends on the order: 1e8 + 1 − 1e8 is 0 in float
  // when summed left to right (1e8 + 1 rounds to 1e8), 1 in the other order.
  const float a[3] = {1e8f, 1.0f, -1e8f};
  const float b[3] = {1.0f, 1.0f, 1.0f};
  float c = -1.0f;
  pw::gemm_exact(1, 1, 3, pw::row_major(a, 3), pw::row_major(b, 1), nullptr, &c, 1);
  CHECK(c == 0.0f);
  // fma keeps the exact product: bias + a·b with a·b not representable in float.
  const float x = 1.0f + std::ldexp(1.0f, -12);
  const float bias = -1.0f - std::ldexp(1.0f, -11);
  pw::gemm_exact(1, 1, 1, pw::row_major(&x, 1), pw::row_major(&x, 1), &bias, &c, 1);
  CHECK(c == std::ldexp(1.0f, -24));  // x² = 1 + 2^-11 + 2^-24 exactly
  // K = 0: the output is the bias (or 0), whatever C held before.
  float out[2] = {5.0f, 5.0f};
  const float bias2[2] = {3.0f, -4.0f};
  pw::gemm_exact(1, 2, 0, pw::row_major(a, 3), pw::row_major(b, 1), bias2, out, 2);
  CHECK(out[0] == 3.0f);
  CHECK(out[1] == -4.0f);
  pw::gemm_exact(1, 2, 0, pw::row_major(a, 3), pw::row_major(b, 1), nullptr, out, 2);
  CHECK(out[0] == 0.0f);
  CHECK(out[1] == 0.0f);
}

TEST_CASE("gemm kernel selection and thread settings") {
  pwtest::SettingsGuard guard;
  pw::gemm_force_portable(true);
  CHECK(std::string(pw::gemm_kernel_name()) == "portable");
  pw::gemm_force_portable(false);
  const std::string k = pw::gemm_kernel_name();
  CHECK((k == "avx2-fma" || k == "portable"));
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) CHECK(k == "avx2-fma");
  pw::set_threads(1);
  CHECK(pw::get_threads() == 1);
  pw::set_threads(2);
  CHECK(pw::get_threads() == 2);
}

// ---------------------------------------------------------------- Philox

TEST_CASE("Philox-4x32-10 matches Random123's known-answer vectors") {
  // Random123 tests/kat_vectors, the three "philox4x32 10" lines: counter, key, result.
  CHECK(pw::philox4x32_10({0, 0, 0, 0}, 0, 0) == pw::Philox4{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u});
  CHECK(pw::philox4x32_10({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, 0xffffffffu, 0xffffffffu) ==
        pw::Philox4{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu});
  CHECK(pw::philox4x32_10({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, 0xa4093822u, 0x299f31d0u) ==
        pw::Philox4{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u});
}

TEST_CASE("philox_word addresses (seed, stream, sub, index) as documented") {
  const uint64_t seed = 0x0123456789abcdefull;
  for (uint64_t index : {uint64_t(0), uint64_t(1), uint64_t(3), uint64_t(4), uint64_t(7), (uint64_t(5) << 34) + 2}) {
    const uint64_t block = index >> 2;
    const pw::Philox4 out = pw::philox4x32_10({uint32_t(block), uint32_t(block >> 32), pw::kStreamInit, 9},
                                              uint32_t(seed), uint32_t(seed >> 32));
    CHECK(pw::philox_word(seed, pw::kStreamInit, 9, index) == out[index & 3]);
  }
  // Different streams, subs and seeds give different words.
  const uint32_t w = pw::philox_word(1, pw::kStreamInit, 0, 0);
  CHECK(w != pw::philox_word(1, pw::kStreamShuffle, 0, 0));
  CHECK(w != pw::philox_word(1, pw::kStreamInit, 1, 0));
  CHECK(w != pw::philox_word(2, pw::kStreamInit, 0, 0));
  CHECK(w != pw::philox_word(uint64_t(1) | (uint64_t(1) << 32), pw::kStreamInit, 0, 0));
}

TEST_CASE("uniform01 is exact, at least 0 and below 1") {
  CHECK(pw::uniform01(0) == 0.0f);
  CHECK(pw::uniform01(0xffu) == 0.0f);  // the low 8 bits are dropped
  CHECK(pw::uniform01(0x100u) == std::ldexp(1.0f, -24));
  CHECK(pw::uniform01(0x80000000u) == 0.5f);
  CHECK(pw::uniform01(0xffffffffu) == 1.0f - std::ldexp(1.0f, -24));
  CHECK(pw::uniform01(0xffffffffu) < 1.0f);
  // Mean of many Philox draws is near 1/2.
  double sum = 0;
  const int n = 100000;
  for (int i = 0; i < n; i++) sum += pw::uniform01(pw::philox_word(5, pw::kStreamInit, 0, uint64_t(i)));
  CHECK(std::fabs(sum / n - 0.5) < 0.01);
}

// ---------------------------------------------------------------- exp, log, cos

TEST_CASE("exp_f32 is within 2 ulp of exp in double over [-103, 88]") {
  double worst = 0;
  float worst_x = 0;
  auto probe = [&](float x) {
    const double e = ulp_error(pw::exp_f32(x), std::exp(double(x)));
    if (e > worst) worst = e, worst_x = x;
  };
  const int n = 1000000;
  for (int i = 0; i <= n; i++) probe(float(-103.0 + (88.0 + 103.0) * double(i) / n));
  // Near 0, both signs, log-spaced (where exp(x) − 1 is small and relative error shows).
  for (int i = 0; i < 20000; i++) {
    const float x = float(std::ldexp(1.0, -40 + i / 500) * (1.0 + (i % 500) / 500.0));
    probe(x);
    probe(-x);
  }
  // Every float in the subnormal-output tail and at the top end.
  for (float x = -103.97f; x < -87.0f; x = next_up(x)) probe(x);
  for (float x = 88.0f; x <= 88.72283f; x = next_up(x)) probe(x);
  MESSAGE("exp_f32: max error " << worst << " ulp at x = " << worst_x);
  CHECK(worst <= 2.0);
}

TEST_CASE("exp_f32 special values and thresholds") {
  CHECK(std::isnan(pw::exp_f32(NAN)));
  CHECK(pw::exp_f32(INFINITY) == INFINITY);
  CHECK(pw::exp_f32(-INFINITY) == 0.0f);
  CHECK(pw::exp_f32(0.0f) == 1.0f);
  CHECK(pw::exp_f32(-0.0f) == 1.0f);
  CHECK(pw::exp_f32(1.0f) == doctest::Approx(2.718281828).epsilon(1e-7));
  // Overflow: ln(FLT_MAX) = 88.7228391…; 88.72283935546875f is above it by more than
  // half an ulp of FLT_MAX, so the correctly rounded result is +inf, while the float
  // just below must give a finite value close to FLT_MAX.
  const float big = 88.72283935546875f;
  CHECK(float(std::exp(double(big))) == INFINITY);
  CHECK(pw::exp_f32(big) == INFINITY);
  CHECK(pw::exp_f32(next_up(big)) == INFINITY);
  CHECK(pw::exp_f32(89.0f) == INFINITY);
  CHECK(pw::exp_f32(FLT_MAX) == INFINITY);
  const float below = next_down(big);
  CHECK(std::isfinite(pw::exp_f32(below)));
  CHECK(ulp_error(pw::exp_f32(below), std::exp(double(below))) <= 2.0);
  // Underflow: the smallest subnormal 2^-149 is exp(−103.2789…); below exp(−103.9721)
  // (= 2^-150, the rounding midpoint) the result is 0.
  CHECK(pw::exp_f32(-103.5f) == std::ldexp(1.0f, -149));
  CHECK(pw::exp_f32(-104.0f) == 0.0f);
  CHECK(pw::exp_f32(-1000.0f) == 0.0f);
  CHECK(pw::exp_f32(-FLT_MAX) == 0.0f);
  CHECK(pw::exp_f32(-87.0f) > 0.0f);
  CHECK(pw::exp_f32(-87.5f) < FLT_MIN);  // subnormal output
  CHECK(pw::exp_f32(-87.5f) > 0.0f);
}

TEST_CASE("log_f32 is within 2 ulp of log in double over 0 < x <= FLT_MAX") {
  double worst = 0;
  float worst_x = 0;
  auto probe = [&](float x) {
    const double e = ulp_error(pw::log_f32(x), std::log(double(x)));
    if (e > worst) worst = e, worst_x = x;
  };
  // Evenly over the bit patterns of the positive finite floats: every binade,
  // subnormals included.
  const uint32_t top = 0x7f7fffffu;
  const uint32_t n = 1000000;
  for (uint32_t i = 0; i <= n; i++) {
    const uint32_t u = 1 + uint32_t(uint64_t(top - 1) * i / n);
    probe(pw::u2f(u));
  }
  // Every float near 1, where log(x) → 0 and relative accuracy is hardest.
  for (float x = 0.99f; x < 1.01f; x = next_up(x)) probe(x);
  // Around the √2 split of the mantissa.
  for (float x = 1.4140f; x < 1.4143f; x = next_up(x)) probe(x);
  for (float x = 0.70700f; x < 0.70715f; x = next_up(x)) probe(x);
  for (uint32_t u = 1; u < 4096; u++) probe(pw::u2f(u));  // smallest subnormals
  probe(FLT_MAX);
  probe(FLT_MIN);
  MESSAGE("log_f32: max error " << worst << " ulp at x = " << worst_x);
  CHECK(worst <= 2.0);
}

TEST_CASE("log_f32 special values") {
  CHECK(std::isnan(pw::log_f32(NAN)));
  CHECK(std::isnan(pw::log_f32(-1.0f)));
  CHECK(std::isnan(pw::log_f32(-FLT_MIN)));
  CHECK(std::isnan(pw::log_f32(-INFINITY)));
  CHECK(pw::log_f32(0.0f) == -INFINITY);
  CHECK(pw::log_f32(-0.0f) == -INFINITY);
  CHECK(pw::log_f32(INFINITY) == INFINITY);
  CHECK(pw::log_f32(1.0f) == 0.0f);
  CHECK(!std::signbit(pw::log_f32(1.0f)));
  CHECK(pw::log_f32(2.0f) == float(std::log(2.0)));
  CHECK(ulp_error(pw::log_f32(std::ldexp(1.0f, -149)), std::log(std::ldexp(1.0, -149))) <= 1.0);
  CHECK(ulp_error(pw::log_f32(FLT_MAX), std::log(double(FLT_MAX))) <= 1.0);
}

TEST_CASE("cos_f64 agrees with std::cos") {
  double worst = 0;
  for (int i = 0; i <= 1000000; i++) {
    const double x = 10.0 * i / 1000000;
    worst = std::max(worst, std::fabs(pw::cos_f64(x) - std::cos(x)));
  }
  MESSAGE("cos_f64 on [0, 10]: max abs error " << worst);
  CHECK(worst <= 1e-15);
  // The header promises accuracy for |x| < 1e6.
  double worst_far = 0;
  for (int i = 0; i <= 100000; i++) {
    const double x = 1e6 * i / 100000 + 0.123456789;
    worst_far = std::max(worst_far, std::fabs(pw::cos_f64(x) - std::cos(x)));
  }
  MESSAGE("cos_f64 on [0, 1e6]: max abs error " << worst_far);
  CHECK(worst_far <= 1e-14);
  CHECK(pw::cos_f64(0.0) == 1.0);
  CHECK(pw::cos_f64(-2.5) == pw::cos_f64(2.5));
  CHECK(std::isnan(pw::cos_f64(NAN)));
  CHECK(pw::cos_f64(3.14159265358979323846) == doctest::Approx(-1.0).epsilon(1e-15));
}

// ---------------------------------------------------------------- ops

TEST_CASE("relu forward and backward") {
  const float z[] = {-2.0f, -0.0f, 0.0f, 1e-40f, 3.5f, -1e-40f, INFINITY, -INFINITY};
  const float want[] = {0.0f, 0.0f, 0.0f, 1e-40f, 3.5f, 0.0f, INFINITY, 0.0f};
  const int n = 8;
  float y[n];
  pw::relu_forward(z, y, n);
  for (int i = 0; i < n; i++) CHECK(pw::f2u(y[i]) == pw::f2u(want[i]));  // +0, never −0
  const float dy[] = {1, 2, 3, 4, 5, 6, 7, 8};
  float dz[n];
  pw::relu_backward(dy, y, dz, n);
  const float want_dz[] = {0, 0, 0, 4, 5, 0, 7, 0};
  for (int i = 0; i < n; i++) CHECK(dz[i] == want_dz[i]);
  CHECK(pw::relu_elem(-3.0f) == 0.0f);
  CHECK(pw::relu_grad_elem(9.0f, 0.0f) == 0.0f);
  CHECK(pw::relu_grad_elem(9.0f, 0.5f) == 9.0f);
}

TEST_CASE("softmax cross-entropy agrees with a double-precision computation") {
  const int B = 9, C = 10;
  TestRng rng(3);
  std::vector<float> logits(size_t(B) * C), labels(B), probs(size_t(B) * C, -1.0f), dlogits(size_t(B) * C, -1.0f);
  for (auto& z : logits) z = rng.uniform(-20.0f, 20.0f);
  // A row of very large and very small logits: the max subtraction must keep it finite.
  for (int c = 0; c < C; c++) logits[size_t(C) + c] = c == 4 ? 80.0f : -80.0f + float(c);
  // A row of equal logits: uniform probabilities, loss ln C.
  for (int c = 0; c < C; c++) logits[size_t(2 * C) + c] = 1.25f;
  for (int b = 0; b < B; b++) labels[b] = float(rng.next() % C);
  labels[1] = 3.0f;  // the large row's label is not its argmax: a large loss

  const float loss = pw::softmax_cross_entropy_forward(logits.data(), labels.data(), probs.data(), B, C);
  pw::softmax_cross_entropy_backward(probs.data(), labels.data(), dlogits.data(), B, C);

  double want_loss = 0;
  for (int b = 0; b < B; b++) {
    const float* z = &logits[size_t(b) * C];
    double mx = z[0];
    for (int c = 1; c < C; c++) mx = std::max(mx, double(z[c]));
    double s = 0;
    for (int c = 0; c < C; c++) s += std::exp(double(z[c]) - mx);
    const int y = int(labels[b]);
    want_loss += std::log(s) - (double(z[y]) - mx);
    double row_sum = 0;
    for (int c = 0; c < C; c++) {
      const double p = std::exp(double(z[c]) - mx) / s;
      const float got = probs[size_t(b) * C + c];
      INFO("b=" << b << " c=" << c);
      CHECK(std::fabs(got - p) <= 1e-7 + 4e-7 * p);
      row_sum += got;
      const double d = (p - (c == y ? 1.0 : 0.0)) / B;
      CHECK(std::fabs(dlogits[size_t(b) * C + c] - d) <= 1e-8 + 4e-7 * std::fabs(d));
    }
    CHECK(row_sum == doctest::Approx(1.0).epsilon(1e-6));
  }
  want_loss /= B;
  CHECK(std::isfinite(loss));
  CHECK(std::fabs(loss - want_loss) <= 1e-6 * std::fabs(want_loss));
  CHECK(want_loss > 10.0);  // the large row dominates: 80 − (−77) = 157 / 9 > 10
  // Uniform row.
  for (int c = 0; c < C; c++) CHECK(probs[size_t(2 * C) + c] == doctest::Approx(0.1).epsilon(1e-6));

  // The same bits on 1 and 2 threads.
  pwtest::SettingsGuard guard;
  std::vector<float> probs1(probs.size()), probs2(probs.size());
  pw::set_threads(1);
  const float l1 = pw::softmax_cross_entropy_forward(logits.data(), labels.data(), probs1.data(), B, C);
  pw::set_threads(2);
  const float l2 = pw::softmax_cross_entropy_forward(logits.data(), labels.data(), probs2.data(), B, C);
  CHECK(pw::f2u(l1) == pw::f2u(l2));
  CHECK(pw::f2u(l1) == pw::f2u(loss));
  CHECK(std::memcmp(probs1.data(), probs2.data(), probs1.size() * 4) == 0);
}

TEST_CASE("column_sums adds rows in ascending order, on any thread count") {
  pwtest::SettingsGuard guard;
  const int B = 37, O = 600;  // O crosses the 256-column blocks
  TestRng rng(11);
  std::vector<float> dy(size_t(B) * O);
  for (auto& x : dy) x = rng.awkward();
  dy[0] = 1e8f;
  dy[size_t(O)] = 1.0f;
  dy[size_t(2 * O)] = -1e8f;  // column 0's sum depends on the order
  std::vector<float> want(O);
  for (int o = 0; o < O; o++) {
    float s = 0.0f;
    for (int b = 0; b < B; b++) s = s + dy[size_t(b) * O + o];
    want[o] = s;
  }
  for (int threads = 1; threads <= 2; threads++) {
    pw::set_threads(threads);
    std::vector<float> db(O, -7.0f);
    pw::column_sums(dy.data(), db.data(), B, O);
    CHECK(std::memcmp(db.data(), want.data(), size_t(O) * 4) == 0);
  }
  // Plain values.
  const float m[] = {1, 2, 3, 4, 5, 6};  // (3, 2)
  float s[2];
  pw::column_sums(m, s, 3, 2);
  CHECK(s[0] == 9.0f);
  CHECK(s[1] == 12.0f);
}

TEST_CASE("sgd_elem follows torch.optim.SGD") {
  // lr 0.1, momentum 0.9, weight decay 0.1; p = 1, g = 0.5 then 0.2.
  // step 1: d = 0.5 + 0.1·1 = 0.6; buf = 0.6; p = 1 − 0.06 = 0.94
  // step 2: d = 0.2 + 0.1·0.94 = 0.294; buf = 0.9·0.6 + 0.294 = 0.834; p = 0.94 − 0.0834 = 0.8566
  float p = 1.0f, buf = 123.0f;
  pw::sgd_elem(p, 0.5f, buf, {0.1f, 0.9f, 0.1f, true});
  CHECK(buf == doctest::Approx(0.6).epsilon(1e-6));
  CHECK(p == doctest::Approx(0.94).epsilon(1e-6));
  pw::sgd_elem(p, 0.2f, buf, {0.1f, 0.9f, 0.1f, false});
  CHECK(buf == doctest::Approx(0.834).epsilon(1e-6));
  CHECK(p == doctest::Approx(0.8566).epsilon(1e-6));
  // The float operations in their documented order, bit for bit.
  {
    float p2 = 1.0f;
    float d = 0.5f + 0.1f * p2;
    float b2 = d;
    p2 = p2 + (-0.1f) * b2;
    float q = 1.0f, bq = 0.0f;
    pw::sgd_elem(q, 0.5f, bq, {0.1f, 0.9f, 0.1f, true});
    CHECK(pw::f2u(q) == pw::f2u(p2));
  }
  // Plain SGD: momentum 0 leaves the buffer alone, no weight decay.
  float p3 = 2.0f, buf3 = 42.0f;
  pw::sgd_elem(p3, 4.0f, buf3, {0.25f, 0.0f, 0.0f, false});
  CHECK(p3 == 1.0f);
  CHECK(buf3 == 42.0f);
  // sgd_update over arrays = the element function.
  const int n = 1000;
  TestRng rng(5);
  std::vector<float> pa(n), ga(n), ba(n);
  for (int i = 0; i < n; i++) pa[i] = rng.awkward(), ga[i] = rng.awkward(), ba[i] = rng.awkward();
  std::vector<float> pb = pa, bb = ba;
  const pw::SgdScalars s{0.01f, 0.9f, 5e-4f, false};
  pw::sgd_update(pa.data(), ga.data(), ba.data(), n, s);
  for (int i = 0; i < n; i++) pw::sgd_elem(pb[i], ga[i], bb[i], s);
  CHECK(std::memcmp(pa.data(), pb.data(), n * 4) == 0);
  CHECK(std::memcmp(ba.data(), bb.data(), n * 4) == 0);
}

TEST_CASE("adamw_elem follows torch.optim.AdamW") {
  // lr 1e-3, wd 1e-2, betas (0.9, 0.999), eps 1e-8, step 1, p = 1, g = 0.5:
  // p = 1·(1 − 1e-5) = 0.99999; m = 0.05; v = 0.00025; m̂ = 0.5, √v̂ = 0.5;
  // p = 0.99999 − 1e-3 · 0.5 / (0.5 + 1e-8) = 0.99899 (the first step moves by lr·sign(g)).
  const double lr = 1e-3, wd = 1e-2, b1 = 0.9, b2 = 0.999;
  pw::AdamwScalars s;
  s.decay = float(1.0 - lr * wd);
  s.beta1 = float(b1);
  s.one_minus_beta1 = float(1.0 - b1);
  s.beta2 = float(b2);
  s.one_minus_beta2 = float(1.0 - b2);
  s.step_size = float(lr / (1.0 - b1));
  s.bc2_sqrt = float(std::sqrt(1.0 - b2));
  s.eps = 1e-8f;
  float p = 1.0f, m = 0.0f, v = 0.0f;
  pw::adamw_elem(p, 0.5f, m, v, s);
  CHECK(m == doctest::Approx(0.05).epsilon(1e-6));
  CHECK(v == doctest::Approx(0.00025).epsilon(1e-6));
  CHECK(p == doctest::Approx(0.99899).epsilon(1e-6));
  // Step 2, g = −0.5: m = 0.045 − 0.05 = −0.005; v = 0.00024975 + 0.00025 = 0.00049975;
  // m̂ = −0.005/0.19 = −0.0263158; v̂ = 0.00049975/0.001999 = 0.25000; √v̂ = 0.5;
  // p = 0.99899·(1 − 1e-5) + 1e-3 · 0.0526316 = 0.9989800101 + 0.0000526316.
  s.step_size = float(lr / (1.0 - b1 * b1));
  s.bc2_sqrt = float(std::sqrt(1.0 - b2 * b2));
  pw::adamw_elem(p, -0.5f, m, v, s);
  CHECK(m == doctest::Approx(-0.005).epsilon(1e-5));
  CHECK(v == doctest::Approx(0.00049975).epsilon(1e-6));
  const double want = 0.99899 * (1 - 1e-5) + 1e-3 * (0.005 / 0.19) / (std::sqrt(0.00049975 / (1 - 0.999 * 0.999)) + 1e-8);
  CHECK(p == doctest::Approx(want).epsilon(1e-6));
  // adamw_update over arrays = the element function.
  const int n = 777;
  TestRng rng(9);
  std::vector<float> pa(n), ga(n), ma(n), va(n);
  for (int i = 0; i < n; i++) pa[i] = rng.awkward(), ga[i] = rng.awkward(), ma[i] = rng.awkward(), va[i] = std::fabs(rng.awkward());
  std::vector<float> pb = pa, mb = ma, vb = va;
  pw::adamw_update(pa.data(), ga.data(), ma.data(), va.data(), n, s);
  for (int i = 0; i < n; i++) pw::adamw_elem(pb[i], ga[i], mb[i], vb[i], s);
  CHECK(std::memcmp(pa.data(), pb.data(), n * 4) == 0);
  CHECK(std::memcmp(ma.data(), mb.data(), n * 4) == 0);
  CHECK(std::memcmp(va.data(), vb.data(), n * 4) == 0);
}
