#include "aqsgd/rotate.hpp"

#include <cstring>
#include <type_traits>

#include "aqsgd/quantize.hpp"
#include "aqsgd/vec8.hpp"

#include "tensor/philox.hpp"

namespace pw::aqsgd {

namespace {

// The tiles of a row: calls f(start, size) for each, in order.
template <typename F>
[[gnu::always_inline]] inline void for_tiles(uint32_t cols, uint32_t tile, F f) {
  uint32_t p = 0;
  for (; p + tile <= cols; p += tile) f(p, tile);
  for (uint32_t n = tile >> 1; n > 0; n >>= 1)
    if (p + n <= cols) {
      f(p, n);
      p += n;
    }
}

// x[0, n) ← H x, n a power of two: the unnormalised fast Walsh-Hadamard transform, stage
// by stage (half-width h = 1, 2, 4, ...), each butterfly (a, b) → (a + b, a − b). The
// vector kernels below compute the same butterflies, each stage after the one before
// for every element, so the same bits; this one serves tiles under 8 values.
void fwht_scalar(float* x, uint32_t n) {
  for (uint32_t h = 1; h < n; h *= 2)
    for (uint32_t i = 0; i < n; i += 2 * h)
      for (uint32_t j = i; j < i + h; j++) {
        const float a = x[j], b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
}

// The vector kernels: 8 floats a vector (GCC vector types, compiled for AVX2 and for the
// baseline). A tile of n ≥ 8 values is n/8 vectors; stages of half-width 1, 2 and 4
// pair lanes of one vector (shuffles), wider ones pair whole vectors. Up to 64 values
// (8 vectors) every stage runs in registers; a larger tile runs in blocks of 64, then
// its wider stages over memory (aqsgd/vec8.hpp).

// One stage of half-width 1, 2 or 4 inside a vector: lane j with bit h clear gets
// x_j + x_(j+h), lane j + h gets x_j − x_(j+h).
template <int H>
[[gnu::always_inline]] inline f32x8 lanes(const f32x8& x) {
  f32x8 a, b;
  if constexpr (H == 1) {
    a = __builtin_shufflevector(x, x, 0, 0, 2, 2, 4, 4, 6, 6);
    b = __builtin_shufflevector(x, x, 1, 1, 3, 3, 5, 5, 7, 7);
  } else if constexpr (H == 2) {
    a = __builtin_shufflevector(x, x, 0, 1, 0, 1, 4, 5, 4, 5);
    b = __builtin_shufflevector(x, x, 2, 3, 2, 3, 6, 7, 6, 7);
  } else {
    a = __builtin_shufflevector(x, x, 0, 1, 2, 3, 0, 1, 2, 3);
    b = __builtin_shufflevector(x, x, 4, 5, 6, 7, 4, 5, 6, 7);
  }
  const f32x8 s = a + b, d = a - b;
  if constexpr (H == 1) return __builtin_shufflevector(s, d, 0, 9, 2, 11, 4, 13, 6, 15);
  else if constexpr (H == 2) return __builtin_shufflevector(s, d, 0, 1, 10, 11, 4, 5, 14, 15);
  else return __builtin_shufflevector(s, d, 0, 1, 2, 3, 12, 13, 14, 15);
}

// The stage pairing vectors j and j + G (j with bit G clear) of V.
template <int G, int V>
[[gnu::always_inline]] inline void pairs(f32x8 (&v)[8]) {
#pragma GCC unroll 8
  for (int k = 0; k < V / 2; k++) {
    const int j = (k / G) * 2 * G + k % G;
    const f32x8 a = v[j], b = v[j + G];
    v[j] = a + b;
    v[j + G] = a - b;
  }
}

// The stages of half-width 1 .. 8·V/2 over V vectors in registers (V = 1, 2, 4, 8).
template <int V>
[[gnu::always_inline]] inline void stages(f32x8 (&v)[8]) {
#pragma GCC unroll 8
  for (int i = 0; i < V; i++) v[i] = lanes<4>(lanes<2>(lanes<1>(v[i])));
  if constexpr (V >= 2) pairs<1, V>(v);
  if constexpr (V >= 4) pairs<2, V>(v);
  if constexpr (V >= 8) pairs<4, V>(v);
}

// Tile x[0, n), n ≥ 8: load(i) gives vector i of the input (elements 8i .. 8i + 7),
// store(i, v) takes vector i of the result; x is the scratch of tiles over 64 values
// (load may read x; store may write it).
template <typename Load, typename Store>
[[gnu::always_inline]] inline void fwht_vec(float* x, uint32_t n, Load load, Store store) {
  f32x8 v[8];
  const auto block = [&](auto kv, uint32_t at, auto out) __attribute__((always_inline)) {
    constexpr int V = decltype(kv)::value;
#pragma GCC unroll 8
    for (int i = 0; i < V; i++) v[i] = load(at / 8 + uint32_t(i));
    stages<V>(v);
#pragma GCC unroll 8
    for (int i = 0; i < V; i++) out(at / 8 + uint32_t(i), v[i]);
  };
  if (n == 8) return block(std::integral_constant<int, 1>{}, 0, store);
  if (n == 16) return block(std::integral_constant<int, 2>{}, 0, store);
  if (n == 32) return block(std::integral_constant<int, 4>{}, 0, store);
  if (n == 64) return block(std::integral_constant<int, 8>{}, 0, store);
  const auto raw = [&](uint32_t i, const f32x8& r) __attribute__((always_inline)) { store8(x + 8 * i, r); };
  for (uint32_t at = 0; at < n; at += 64) block(std::integral_constant<int, 8>{}, at, raw);
  for (uint32_t h = 64; h < n; h *= 2) {
    const bool last = 2 * h == n;
    for (uint32_t i = 0; i < n; i += 2 * h)
      for (uint32_t j = i; j < i + h; j += 8) {
        const f32x8 a = load8(x + j), b = load8(x + j + h);
        if (last) {
          store(j / 8, a + b);
          store((j + h) / 8, a - b);
        } else {
          store8(x + j, a + b);
          store8(x + j + h, a - b);
        }
      }
  }
}

// x ← H(D x) over a row's tiles.
template <typename Tiles>
[[gnu::always_inline]] inline void rotate_t(const Tiles& tiles, const float* sign, float* x) {
  tiles([&](uint32_t p, uint32_t n) __attribute__((always_inline)) {
    float* t = x + p;
    const float* sg = sign + p;
    if (n < 8) {
      for (uint32_t j = 0; j < n; j++) t[j] *= sg[j];
      return fwht_scalar(t, n);
    }
    fwht_vec(
        t, n, [&](uint32_t i) __attribute__((always_inline)) { return load8(t + 8 * i) * load8(sg + 8 * i); },
        [&](uint32_t i, const f32x8& v) __attribute__((always_inline)) { store8(t + 8 * i, v); });
  });
}

// out = base + D H(y) · (1/n) over a row's tiles (kBase false: without base); with kCopy,
// copy gets out too. y is scratch.
template <bool kBase, bool kCopy, typename Tiles>
[[gnu::always_inline]] inline void unrotate_t(const Tiles& tiles, const float* inv, float* y, const float* base,
                                               float* out, float* copy) {
  tiles([&](uint32_t p, uint32_t n) __attribute__((always_inline)) {
    float* t = y + p;
    const float* iv = inv + p;
    const float* bs = kBase ? base + p : nullptr;
    float* o = out + p;
    float* cp = kCopy ? copy + p : nullptr;
    if (n < 8) {
      fwht_scalar(t, n);
      for (uint32_t j = 0; j < n; j++) {
        const float d = t[j] * iv[j];
        o[j] = kBase ? bs[j] + d : d;
        if (kCopy) cp[j] = o[j];
      }
      return;
    }
    fwht_vec(
        t, n, [&](uint32_t i) __attribute__((always_inline)) { return load8(t + 8 * i); },
        [&](uint32_t i, const f32x8& v) __attribute__((always_inline)) {
          const f32x8 d = v * load8(iv + 8 * i);
          f32x8 r = d;
          if constexpr (kBase) r = load8(bs + 8 * i) + d;
          store8(o + 8 * i, r);
          if constexpr (kCopy) store8(cp + 8 * i, r);
        });
  });
}

template <bool kBase, bool kCopy>
[[gnu::always_inline]] inline void unrotate_row_t(uint32_t cols, uint32_t tile, const float* inv, float* y,
                                                   const float* base, float* out, float* copy) {
  unrotate_t<kBase, kCopy>([&](auto f) __attribute__((always_inline)) { for_tiles(cols, tile, f); }, inv, y, base,
                           out, copy);
}

#define PW_ROT_FUNCTIONS(SUFFIX, ATTR)                                                                            \
  ATTR void rotate_row##SUFFIX(uint32_t cols, uint32_t tile, const float* sign, float* x) {                       \
    rotate_t([&](auto f) __attribute__((always_inline)) { for_tiles(cols, tile, f); }, sign, x);                 \
  }                                                                                                               \
  ATTR void unrotate_row##SUFFIX(uint32_t cols, uint32_t tile, const float* inv, float* y, const float* base,     \
                                 float* out, float* copy) {                                                       \
    if (base && copy) unrotate_row_t<true, true>(cols, tile, inv, y, base, out, copy);                            \
    else if (base) unrotate_row_t<true, false>(cols, tile, inv, y, base, out, copy);                              \
    else if (copy) unrotate_row_t<false, true>(cols, tile, inv, y, base, out, copy);                              \
    else unrotate_row_t<false, false>(cols, tile, inv, y, base, out, copy);                                      \
  }

PW_ROT_FUNCTIONS(_avx2, __attribute__((target("avx2"))))
PW_ROT_FUNCTIONS(_base, )

}  // namespace

Rotation::Rotation(uint32_t t, uint64_t seed, uint32_t cols) : tile(t) {
  if (!t) return;
  sign.resize(cols);
  inv.resize(cols);
  for (uint32_t c = 0; c < cols; c += 32) {
    const uint32_t w = philox_word(seed, kStreamAqsgdRotation, 0, c / 32);
    for (uint32_t j = 0; j < 32 && c + j < cols; j++) sign[c + j] = (w >> j) & 1 ? -1.0f : 1.0f;
  }
  for_tiles(cols, tile, [&](uint32_t p, uint32_t n) {
    for (uint32_t j = 0; j < n; j++) inv[p + j] = sign[p + j] / float(n);
  });
}

void Rotation::rotate(float* x) const {
  const uint32_t cols = uint32_t(sign.size());
  if (avx2_kernels()) rotate_row_avx2(cols, tile, sign.data(), x);
  else rotate_row_base(cols, tile, sign.data(), x);
}

void Rotation::unrotate(float* x) const { unrotate_add(x, nullptr, x, nullptr); }

void Rotation::unrotate_add(float* y, const float* base, float* out, float* copy) const {
  const uint32_t cols = uint32_t(sign.size());
  if (avx2_kernels()) unrotate_row_avx2(cols, tile, inv.data(), y, base, out, copy);
  else unrotate_row_base(cols, tile, inv.data(), y, base, out, copy);
}

}  // namespace pw::aqsgd
