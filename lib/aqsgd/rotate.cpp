#include "aqsgd/rotate.hpp"

#include <cstring>

#include "tensor/philox.hpp"

namespace pw::aqsgd {

namespace {

// The tiles of a row: calls f(start, size) for each, in order.
template <typename F>
void for_tiles(uint32_t cols, uint32_t tile, F f) {
  uint32_t p = 0;
  for (; p + tile <= cols; p += tile) f(p, tile);
  for (uint32_t n = tile >> 1; n > 0; n >>= 1)
    if (p + n <= cols) {
      f(p, n);
      p += n;
    }
}

// x[0, n) ← H x, n a power of two: the unnormalised fast Walsh-Hadamard transform.
// Stages of half-width 1, 2 and 4 touch only blocks of 8, so they run block by block in
// registers; the butterflies and their order within each stage are the same as stage
// by stage over the whole tile, so are the bits.
__attribute__((target_clones("avx2", "default"))) void fwht(float* x, uint32_t n) {
  uint32_t h = 1;
  if (n >= 8) {
    for (uint32_t i = 0; i < n; i += 8) {
      float a[8];
      std::memcpy(a, x + i, sizeof a);
      for (int k = 0; k < 8; k += 2) {
        const float u = a[k], v = a[k + 1];
        a[k] = u + v, a[k + 1] = u - v;
      }
      for (int k = 0; k < 8; k += 4)
        for (int j = k; j < k + 2; j++) {
          const float u = a[j], v = a[j + 2];
          a[j] = u + v, a[j + 2] = u - v;
        }
      for (int j = 0; j < 4; j++) {
        const float u = a[j], v = a[j + 4];
        a[j] = u + v, a[j + 4] = u - v;
      }
      std::memcpy(x + i, a, sizeof a);
    }
    h = 8;
  }
  for (; h < n; h *= 2)
    for (uint32_t i = 0; i < n; i += 2 * h) {
      float* lo = x + i;
      float* hi = x + i + h;
#pragma omp simd
      for (int64_t j = 0; j < int64_t(h); j++) {
        const float a = lo[j], b = hi[j];
        lo[j] = a + b;
        hi[j] = a - b;
      }
    }
}

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
  const float* sg = sign.data();
#pragma omp simd
  for (int64_t c = 0; c < int64_t(cols); c++) x[c] *= sg[c];
  for_tiles(cols, tile, [&](uint32_t p, uint32_t n) { fwht(x + p, n); });
}

void Rotation::unrotate(float* x) const {
  const uint32_t cols = uint32_t(sign.size());
  for_tiles(cols, tile, [&](uint32_t p, uint32_t n) { fwht(x + p, n); });
  const float* iv = inv.data();
#pragma omp simd
  for (int64_t c = 0; c < int64_t(cols); c++) x[c] *= iv[c];
}

}  // namespace pw::aqsgd
