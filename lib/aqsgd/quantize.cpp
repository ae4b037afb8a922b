#include "aqsgd/quantize.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include "tensor/philox.hpp"

static_assert(std::endian::native == std::endian::little, "the code groups are stored as little-endian words");

namespace pw::aqsgd {

namespace {

// (y + 1.5·2^23) - 1.5·2^23 is y rounded to an integer, half to even, for |y| < 2^22:
// exact IEEE arithmetic (no contraction, no reassociation), and it vectorises.
constexpr float kRound = 12582912.0f;

// Philox counter word 2 for AQ-SGD's stochastic rounding ("AQ" + 1), far from the
// small stream numbers of tensor/philox.hpp.
constexpr uint32_t kStreamAqsgdRounding = 0x41510001u;

// Codes as bytes first (a loop the compiler vectorises: multiply, clamp, round, convert),
// then packed 8 codes to `B` bytes as one little-endian word.
template <int B>
[[gnu::always_inline]] inline void codes_nearest(const float* x, const float* inv, int64_t n, uint8_t* c) {
  constexpr float L = float((1 << (B - 1)) - 1);
#pragma omp simd
  for (int64_t i = 0; i < n; i++) {
    float y = x[i] * inv[i];
    y = y < -L ? -L : (y > L ? L : y);
    c[i] = uint8_t(int32_t((y + kRound) - kRound) + int32_t(L));
  }
}

template <int B>
[[gnu::always_inline]] inline void codes_stochastic(const float* x, const float* inv, const float* u, int64_t n,
                                                    uint8_t* c) {
  constexpr float L = float((1 << (B - 1)) - 1);
#pragma omp simd
  for (int64_t i = 0; i < n; i++) {
    const float y = x[i] * inv[i] + u[i];
    float f = (y + kRound) - kRound;  // nearest; floor is one less when that is above y
    f = f > y ? f - 1.0f : f;
    f = f < -L ? -L : (f > L ? L : f);
    c[i] = uint8_t(int32_t(f) + int32_t(L));
  }
}

// c: codes of a whole number of groups of 8; out: B bytes per group.
template <int B>
[[gnu::always_inline]] inline void pack_bits(const uint8_t* c, int64_t groups, uint8_t* out) {
  for (int64_t g = 0; g < groups; g++) {
    uint64_t w = 0;
    for (int j = 0; j < 8; j++) w |= uint64_t(c[8 * g + j]) << (B * j);
    std::memcpy(out + B * g, &w, B);
  }
}

template <int B, bool kBase>
[[gnu::always_inline]] inline void decode_group(const uint8_t* in, const float* step, const float* base, float* out) {
  constexpr int32_t L = (1 << (B - 1)) - 1;
  constexpr uint64_t mask = (uint64_t(1) << B) - 1;
  uint64_t w = 0;
  std::memcpy(&w, in, B);
  for (int j = 0; j < 8; j++) {
    const float q = float(int32_t((w >> (B * j)) & mask) - L);
    const float d = q * step[j];
    out[j] = kBase ? base[j] + d : d;
  }
}

// The row loops: whole groups in place, the tail through zero-padded copies.
template <int B>
[[gnu::always_inline]] inline void encode_row_t(const float* x, const float* inv, int64_t cols, uint8_t* out) {
  thread_local std::vector<uint8_t> c;
  c.assign(size_t((cols + 7) / 8 * 8), 0);
  codes_nearest<B>(x, inv, cols, c.data());
  pack_bits<B>(c.data(), (cols + 7) / 8, out);
}

template <int B>
[[gnu::always_inline]] inline void encode_row_stochastic_t(const float* x, const float* inv, const float* u,
                                                           int64_t cols, uint8_t* out) {
  thread_local std::vector<uint8_t> c;
  c.assign(size_t((cols + 7) / 8 * 8), 0);
  codes_stochastic<B>(x, inv, u, cols, c.data());
  pack_bits<B>(c.data(), (cols + 7) / 8, out);
}

template <int B, bool kBase>
[[gnu::always_inline]] inline void decode_row_t(const uint8_t* in, const float* step, const float* base, int64_t cols,
                                                float* out) {
  const int64_t whole = cols / 8;
  for (int64_t g = 0; g < whole; g++)
    decode_group<B, kBase>(in + B * g, step + 8 * g, kBase ? base + 8 * g : nullptr, out + 8 * g);
  if (const int64_t rest = cols - 8 * whole) {
    float ss[8] = {0}, bs[8] = {0}, os[8];
    std::memcpy(ss, step + 8 * whole, size_t(rest) * 4);
    if (kBase) std::memcpy(bs, base + 8 * whole, size_t(rest) * 4);
    decode_group<B, kBase>(in + B * whole, ss, bs, os);
    std::memcpy(out + 8 * whole, os, size_t(rest) * 4);
  }
}

#define PW_AQ_CLONES __attribute__((target_clones("avx2", "default")))

// One non-template entry per bit width, each compiled for AVX2 and for the baseline.
#define PW_AQ_ROW_FUNCTIONS(B)                                                                                   \
  PW_AQ_CLONES void encode_row_##B(const float* x, const float* inv, int64_t cols, uint8_t* out) {               \
    encode_row_t<B>(x, inv, cols, out);                                                                          \
  }                                                                                                              \
  PW_AQ_CLONES void encode_row_stochastic_##B(const float* x, const float* inv, const float* u, int64_t cols,    \
                                              uint8_t* out) {                                                    \
    encode_row_stochastic_t<B>(x, inv, u, cols, out);                                                            \
  }                                                                                                              \
  PW_AQ_CLONES void decode_add_row_##B(const uint8_t* in, const float* step, const float* base, int64_t cols,    \
                                       float* out) {                                                             \
    decode_row_t<B, true>(in, step, base, cols, out);                                                            \
  }                                                                                                              \
  PW_AQ_CLONES void decode_row_##B(const uint8_t* in, const float* step, int64_t cols, float* out) {             \
    decode_row_t<B, false>(in, step, nullptr, cols, out);                                                        \
  }

PW_AQ_ROW_FUNCTIONS(2)
PW_AQ_ROW_FUNCTIONS(3)
PW_AQ_ROW_FUNCTIONS(4)
PW_AQ_ROW_FUNCTIONS(8)

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
  uint32_t bad = 0;
#pragma omp simd reduction(| : bad)
  for (int64_t i = 0; i < n; i++) {
    uint32_t u;
    std::memcpy(&u, x + i, 4);
    bad |= uint32_t((u & 0x7f800000u) == 0x7f800000u);
  }
  return bad == 0;
}

void scale_factors(const float* scales, int64_t cols, int bits, float* step, float* inv) {
  const float L = float(levels(bits));
  for (int64_t c = 0; c < cols; c++) {
    step[c] = scales[c] / L;
    inv[c] = scales[c] > 0.0f ? L / scales[c] : 0.0f;
  }
}

void encode_row(const float* x, const float* inv, int64_t cols, int bits, uint8_t* out) {
  switch (bits) {
    case 2: return encode_row_2(x, inv, cols, out);
    case 3: return encode_row_3(x, inv, cols, out);
    case 4: return encode_row_4(x, inv, cols, out);
    default: return encode_row_8(x, inv, cols, out);
  }
}

float stochastic_uniform(uint64_t seed, uint64_t sample, uint32_t round, uint64_t c) {
  const uint64_t block = c >> 2;
  const Philox4 w = philox4x32_10({uint32_t(block), uint32_t(sample), kStreamAqsgdRounding, round}, uint32_t(seed),
                                  uint32_t(seed >> 32) ^ uint32_t(sample >> 32) ^ uint32_t(block >> 32));
  return uniform01(w[c & 3]);
}

void encode_row_stochastic(const float* x, const float* inv, int64_t cols, int bits, uint8_t* out, uint64_t seed,
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
  switch (bits) {
    case 2: return encode_row_stochastic_2(x, inv, u.data(), cols, out);
    case 3: return encode_row_stochastic_3(x, inv, u.data(), cols, out);
    case 4: return encode_row_stochastic_4(x, inv, u.data(), cols, out);
    default: return encode_row_stochastic_8(x, inv, u.data(), cols, out);
  }
}

void decode_add_row(const uint8_t* in, const float* step, const float* base, int64_t cols, int bits, float* out) {
  if (base) {
    switch (bits) {
      case 2: return decode_add_row_2(in, step, base, cols, out);
      case 3: return decode_add_row_3(in, step, base, cols, out);
      case 4: return decode_add_row_4(in, step, base, cols, out);
      default: return decode_add_row_8(in, step, base, cols, out);
    }
  }
  switch (bits) {
    case 2: return decode_row_2(in, step, cols, out);
    case 3: return decode_row_3(in, step, cols, out);
    case 4: return decode_row_4(in, step, cols, out);
    default: return decode_row_8(in, step, cols, out);
  }
}

}  // namespace pw::aqsgd
