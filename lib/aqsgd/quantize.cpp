#include "aqsgd/quantize.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "aqsgd/vec8.hpp"
#include "tensor/philox.hpp"

static_assert(std::endian::native == std::endian::little, "the code groups are stored as little-endian words");

namespace pw::aqsgd {

namespace {

// (y + 1.5·2^23) - 1.5·2^23 is y rounded to an integer, half to even, for |y| < 2^22:
// exact IEEE arithmetic (no contraction, no reassociation), and it vectorises.
constexpr float kRound = 12582912.0f;

// The kernels work on groups of 8 elements with GCC vector types: 8 floats in, 8 codes
// of B bits as one little-endian word of 8·B bits (code j at bit B·j), stored in B
// bytes. Written as vectors because GCC will not if-convert, so not vectorise, a scalar
// `y < -H ? -H : y` under -ftrapping-math; the vector form computes the same values
// element by element. Codes go into and out of the word by per-lane shifts (AVX2's
// variable shifts) and an OR across lanes (aqsgd/vec8.hpp).

// Lane j's shift: code j at bit B·j, counted within its 32-bit half of the word for B = 8.
template <int B>
constexpr u32x8 kShift = {0, B % 32, 2 * B % 32, 3 * B % 32, 4 * B % 32, 5 * B % 32, 6 * B % 32, 7 * B % 32};

// The word of the 8 codes q + H of y (round half to even, clamped to [-H, H - 1], NaN
// -- 0/0 in a channel of scale 0 -- to 0); lanes at or past `n` get code 0 (the padding
// of a row's last group). The bounds are integers, so clamping before rounding gives
// the rounded value clamped.
template <int B>
[[gnu::always_inline]] inline uint64_t code_word(const f32x8& v, int n = 8) {
  constexpr int32_t H = 1 << (B - 1);
  const f32x8 lo = f32x8{} - float(H), hi = f32x8{} + float(H - 1);
  f32x8 y = v == v ? v : f32x8{};
  y = y < lo ? lo : y;
  y = y > hi ? hi : y;
  u32x8 q = u32x8(__builtin_convertvector((y + kRound) - kRound, i32x8) + H) << kShift<B>;
  if (n < 8) q = i32x8{0, 1, 2, 3, 4, 5, 6, 7} < n ? q : u32x8{};
  q |= __builtin_shufflevector(q, q, 2, 3, 0, 1, 6, 7, 4, 5);
  q |= __builtin_shufflevector(q, q, 1, 0, 3, 2, 5, 4, 7, 6);
  return B == 8 ? uint64_t(q[0]) | uint64_t(q[4]) << 32 : uint64_t(q[0] | q[4]);
}

// The floats of the 8 codes of word w: base + q·step, or q·step.
template <int B, bool kBase>
[[gnu::always_inline]] inline f32x8 dequantize8(uint64_t w, const float* step, const float* base) {
  constexpr int32_t H = 1 << (B - 1);
  const uint32_t lo = uint32_t(w), hi = B == 8 ? uint32_t(w >> 32) : lo;
  const u32x8 c = (u32x8{lo, lo, lo, lo, hi, hi, hi, hi} >> kShift<B>) & ((1u << B) - 1);
  const f32x8 d = __builtin_convertvector(i32x8(c) - H, f32x8) * load8(step);
  return kBase ? load8(base) + d : d;
}

// A group's B bytes, as the low 8·B bits of a word (loads and stores of exactly B
// bytes, in registers: a 3-byte memcpy through the stack stalls store forwarding).
template <int B>
[[gnu::always_inline]] inline uint64_t load_group(const uint8_t* p) {
  if constexpr (B == 3) {
    uint16_t a;
    std::memcpy(&a, p, 2);
    return uint64_t(a) | uint64_t(p[2]) << 16;
  } else {
    typename std::conditional_t<B == 2, uint16_t, std::conditional_t<B == 4, uint32_t, uint64_t>> v;
    std::memcpy(&v, p, B);
    return v;
  }
}

template <int B>
[[gnu::always_inline]] inline void store_group(uint8_t* p, uint64_t w) {
  if constexpr (B == 3) {
    const uint16_t a = uint16_t(w);
    std::memcpy(p, &a, 2);
    p[2] = uint8_t(w >> 16);
  } else {
    const std::conditional_t<B == 2, uint16_t, std::conditional_t<B == 4, uint32_t, uint64_t>> v = w;
    std::memcpy(p, &v, B);
  }
}

// The row loops: whole groups in place, the tail through zero-padded copies.
// y8(at): the 8 values to code from element `at`.
template <int B, typename Y8>
[[gnu::always_inline]] inline void encode_groups(int64_t cols, uint8_t* out, Y8 y8) {
  const int64_t whole = cols / 8;
  for (int64_t g = 0; g < whole; g++) store_group<B>(out + B * g, code_word<B>(y8(8 * g)));
  if (const int64_t rest = cols - 8 * whole) store_group<B>(out + B * whole, code_word<B>(y8(8 * whole), int(rest)));
}

// The 8 values from element `at` of each array, zero past element `n`.
template <int K>
[[gnu::always_inline]] inline void tail_copy(const float* const (&src)[K], int64_t at, int64_t n, float (&dst)[K][8]) {
  for (int k = 0; k < K; k++) {
    for (int j = 0; j < 8; j++) dst[k][j] = 0.0f;
    std::memcpy(dst[k], src[k] + at, size_t(n - at) * 4);
  }
}

template <int B>
[[gnu::always_inline]] inline void encode_row_t(const float* x, const float* step, int64_t cols, uint8_t* out) {
  encode_groups<B>(cols, out, [&](int64_t at) __attribute__((always_inline)) {
    if (at + 8 <= cols) return load8(x + at) / load8(step + at);
    float t[2][8];
    tail_copy<2>({x, step}, at, cols, t);
    return load8(t[0]) / load8(t[1]);
  });
}

template <int B>
[[gnu::always_inline]] inline void encode_row_stochastic_t(const float* x, const float* step, const float* u,
                                                           int64_t cols, uint8_t* out) {
  // floor(y) from nearest rounding: one less where the nearest integer is above y. The
  // value handed to code_word is that integer, which it then only clamps.
  const auto floor8 = [](const f32x8& y) __attribute__((always_inline)) {
    const f32x8 f = (y + kRound) - kRound;
    return f > y ? f - 1.0f : f;
  };
  encode_groups<B>(cols, out, [&](int64_t at) __attribute__((always_inline)) {
    if (at + 8 <= cols) return floor8(load8(x + at) / load8(step + at) + load8(u + at));
    float t[3][8];
    tail_copy<3>({x, step, u}, at, cols, t);
    return floor8(load8(t[0]) / load8(t[1]) + load8(t[2]));
  });
}

// out (and copy, when not null) = the decoded row.
template <int B, bool kBase>
[[gnu::always_inline]] inline void decode_row_t(const uint8_t* in, const float* step, const float* base, int64_t cols,
                                                float* out, float* copy) {
  const int64_t whole = cols / 8;
  for (int64_t g = 0; g < whole; g++) {
    const f32x8 v = dequantize8<B, kBase>(load_group<B>(in + B * g), step + 8 * g, kBase ? base + 8 * g : nullptr);
    std::memcpy(out + 8 * g, &v, sizeof v);
    if (copy) std::memcpy(copy + 8 * g, &v, sizeof v);
  }
  if (const int64_t rest = cols - 8 * whole) {
    float t[2][8];
    tail_copy<2>({step, kBase ? base : step}, 8 * whole, cols, t);
    const f32x8 v = dequantize8<B, kBase>(load_group<B>(in + B * whole), t[0], t[1]);
    std::memcpy(out + 8 * whole, &v, size_t(rest) * 4);
    if (copy) std::memcpy(copy + 8 * whole, &v, size_t(rest) * 4);
  }
}

#define PW_AQ_CLONES __attribute__((target_clones("avx2", "default")))

// One non-template entry per bit width, compiled twice: for AVX2 (suffix _avx2) and for
// the baseline (_base). The row entries pick one at run time (kernels_avx2()), rather
// than by target_clones' load-time choice, so that a test can run both.
#define PW_AQ_ROW_FUNCTIONS(B, SUFFIX, ATTR)                                                                     \
  ATTR void encode_row_##B##SUFFIX(const float* x, const float* step, int64_t cols, uint8_t* out) {             \
    encode_row_t<B>(x, step, cols, out);                                                                         \
  }                                                                                                              \
  ATTR void encode_row_stochastic_##B##SUFFIX(const float* x, const float* step, const float* u, int64_t cols,   \
                                              uint8_t* out) {                                                    \
    encode_row_stochastic_t<B>(x, step, u, cols, out);                                                           \
  }                                                                                                              \
  ATTR void decode_add_row_##B##SUFFIX(const uint8_t* in, const float* step, const float* base, int64_t cols,    \
                                       float* out, float* copy) {                                                \
    decode_row_t<B, true>(in, step, base, cols, out, copy);                                                      \
  }                                                                                                              \
  ATTR void decode_row_##B##SUFFIX(const uint8_t* in, const float* step, int64_t cols, float* out, float* copy) { \
    decode_row_t<B, false>(in, step, nullptr, cols, out, copy);                                                  \
  }

#define PW_AQ_ROW_FUNCTIONS_BOTH(B)                                  \
  PW_AQ_ROW_FUNCTIONS(B, _avx2, __attribute__((target("avx2"))))    \
  PW_AQ_ROW_FUNCTIONS(B, _base, )

PW_AQ_ROW_FUNCTIONS_BOTH(2)
PW_AQ_ROW_FUNCTIONS_BOTH(3)
PW_AQ_ROW_FUNCTIONS_BOTH(4)
PW_AQ_ROW_FUNCTIONS_BOTH(8)

std::atomic<bool> g_force_baseline{false};

bool kernels_avx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has && !g_force_baseline.load(std::memory_order_relaxed);
}

// Calls NAME_B_avx2 or NAME_B_base for bits B ∈ {2, 3, 4, 8} (anything else: 8).
#define PW_AQ_DISPATCH(NAME, bits, ...)                                                                   \
  do {                                                                                                    \
    const bool v = kernels_avx2();                                                                        \
    switch (bits) {                                                                                       \
      case 2: return v ? NAME##_2_avx2(__VA_ARGS__) : NAME##_2_base(__VA_ARGS__);                         \
      case 3: return v ? NAME##_3_avx2(__VA_ARGS__) : NAME##_3_base(__VA_ARGS__);                         \
      case 4: return v ? NAME##_4_avx2(__VA_ARGS__) : NAME##_4_base(__VA_ARGS__);                         \
      default: return v ? NAME##_8_avx2(__VA_ARGS__) : NAME##_8_base(__VA_ARGS__);                        \
    }                                                                                                     \
  } while (0)

}  // namespace

PW_AQ_CLONES void update_maxabs(const float* x, int64_t cols, float* maxabs) {
#pragma omp simd
  for (int64_t c = 0; c < cols; c++) {
    const float a = std::fabs(x[c]);
    maxabs[c] = a > maxabs[c] ? a : maxabs[c];
  }
}

PW_AQ_CLONES void subtract_update_maxabs(const float* a, const float* m, int64_t cols, float* delta, float* maxabs) {
#pragma omp simd
  for (int64_t c = 0; c < cols; c++) {
    const float d = a[c] - m[c];
    delta[c] = d;
    const float ad = std::fabs(d);
    maxabs[c] = ad > maxabs[c] ? ad : maxabs[c];
  }
}

PW_AQ_CLONES bool all_finite(const float* x, int64_t n) {
  const u32x8 exp = u32x8{} + 0x7f800000u;
  u32x8 bad{};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    u32x8 u;
    std::memcpy(&u, x + i, sizeof u);
    bad |= u32x8((u & exp) == exp);
  }
  uint32_t b = 0;
  for (int j = 0; j < 8; j++) b |= bad[j];
  for (; i < n; i++) {
    uint32_t u;
    std::memcpy(&u, x + i, 4);
    b |= uint32_t((u & 0x7f800000u) == 0x7f800000u);
  }
  return b == 0;
}

PW_AQ_CLONES void tile_maxabs(const float* x, int64_t cols, uint32_t tile, float* out) {
  const u32x8 abs_mask = u32x8{} + 0x7fffffffu;
  for (int64_t t = 0, at = 0; at < cols; t++, at += tile) {
    const int64_t end = std::min<int64_t>(cols, at + tile);
    float m = 0.0f;
    int64_t j = at;
    if (end - at >= 8) {
      f32x8 mv{};
      for (; j + 8 <= end; j += 8) {
        u32x8 u;
        std::memcpy(&u, x + j, sizeof u);
        u &= abs_mask;
        f32x8 a;
        std::memcpy(&a, &u, sizeof a);
        mv = a > mv ? a : mv;
      }
      for (int k = 0; k < 8; k++) m = mv[k] > m ? mv[k] : m;
    }
    for (; j < end; j++) {
      const float a = std::fabs(x[j]);
      m = a > m ? a : m;
    }
    out[t] = m;
  }
}

PW_AQ_CLONES void expand_tiles(const float* per_tile, int64_t cols, uint32_t tile, float* out) {
  for (int64_t t = 0, at = 0; at < cols; t++, at += tile) {
    const int64_t end = std::min<int64_t>(cols, at + tile);
    const f32x8 v = f32x8{} + per_tile[t];
    int64_t j = at;
    for (; j + 8 <= end; j += 8) std::memcpy(out + j, &v, sizeof v);
    for (; j < end; j++) out[j] = per_tile[t];
  }
}

void force_baseline_kernels(bool on) { g_force_baseline.store(on, std::memory_order_relaxed); }
bool avx2_kernels() { return kernels_avx2(); }

void scale_steps(const float* scales, int64_t cols, int bits, float* step) {
  const float H = float(grid_half(bits));
  for (int64_t c = 0; c < cols; c++) step[c] = scales[c] / H;
}

void encode_row(const float* x, const float* step, int64_t cols, int bits, uint8_t* out) {
  PW_AQ_DISPATCH(encode_row, bits, x, step, cols, out);
}

float stochastic_uniform(uint64_t seed, uint64_t sample, uint32_t round, uint64_t c) {
  const uint64_t block = c >> 2;
  const Philox4 w = philox4x32_10({uint32_t(block), uint32_t(sample), kStreamAqsgdRounding, round}, uint32_t(seed),
                                  uint32_t(seed >> 32) ^ uint32_t(sample >> 32) ^ uint32_t(block >> 32));
  return uniform01(w[c & 3]);
}

void encode_row_stochastic(const float* x, const float* step, int64_t cols, int bits, uint8_t* out, uint64_t seed,
                           uint64_t sample, uint32_t round) {
  // Counter (element/4, sample low word, stream, round), key (seed low, seed high ^
  // sample high ^ block high): one Philox block gives the numbers of 4 elements.
  thread_local std::vector<float> u;
  u.resize(size_t(cols));
  for (int64_t c = 0; c < cols; c += 4) {
    const uint64_t block = uint64_t(c) >> 2;
    const Philox4 w = philox4x32_10({uint32_t(block), uint32_t(sample), kStreamAqsgdRounding, round}, uint32_t(seed),
                                    uint32_t(seed >> 32) ^ uint32_t(sample >> 32) ^ uint32_t(block >> 32));
    for (int64_t j = 0; j < 4 && c + j < cols; j++) u[size_t(c + j)] = uniform01(w[size_t(j)]);
  }
  PW_AQ_DISPATCH(encode_row_stochastic, bits, x, step, u.data(), cols, out);
}

void decode_add_row(const uint8_t* in, const float* step, const float* base, int64_t cols, int bits, float* out) {
  decode_add_row_copy(in, step, base, cols, bits, out, nullptr);
}

void decode_add_row_copy(const uint8_t* in, const float* step, const float* base, int64_t cols, int bits, float* out,
                         float* copy) {
  if (base) PW_AQ_DISPATCH(decode_add_row, bits, in, step, base, cols, out, copy);
  PW_AQ_DISPATCH(decode_row, bits, in, step, cols, out, copy);
}

}  // namespace pw::aqsgd
