// The rotation before quantizing (proofwork(7), AQ-SGD; TAH-Quant, 2025): each tile of a
// row of the value quantized is multiplied by a random-sign Walsh-Hadamard matrix, so
// that a few large values spread over the tile instead of setting its scale alone.
//
// A row of `cols` values splits into tiles: whole tiles of `tile` values (a power of two),
// then the rest split by its binary digits, largest first (cols 200, tile 64: 64, 64, 64,
// 8). For a tile x of n values at columns [p, p + n):
//   rotate:    y = H (D x)          H: the n×n Sylvester-Hadamard matrix (entries ±1),
//   unrotate:  x = D H(y) · (1/n)   D: diag of the signs of columns p .. p + n - 1,
// H computed by the in-place fast Walsh-Hadamard transform (log2 n passes of butterflies
// (a, b) → (a + b, a − b), half-width 1, 2, 4, ..., element order fixed), so HH = n·I and
// unrotate(rotate(x)) = x in exact arithmetic. 1/n is a power of two and each sign ·
// (1/n) is exact, so unrotate rounds once per butterfly and once per element: every side
// that unrotates the same values gets the same bits. The sign of column c is bit c mod 32
// of word c/32 of the Philox stream (seed, kStreamAqsgdRotation) (1: −1).
#pragma once
#include <cstdint>
#include <vector>

namespace pw::aqsgd {

constexpr uint32_t kMaxTile = 65536;

// 0 (no rotation / per-channel scales) or a power of two from 2 to kMaxTile.
inline bool valid_tile(uint64_t t) { return t == 0 || (t >= 2 && t <= kMaxTile && (t & (t - 1)) == 0); }

struct Rotation {
  uint32_t tile = 0;             // 0: none
  std::vector<float> sign;       // [cols] ±1
  std::vector<float> inv;        // [cols] sign / (size of the column's tile)
  Rotation() = default;
  Rotation(uint32_t tile, uint64_t seed, uint32_t cols);
  bool on() const { return tile != 0; }
  void rotate(float* x) const;    // one row of cols values, in place
  void unrotate(float* x) const;  // its inverse, in place
  // out = base + unrotate(y) (base null: unrotate(y) alone), and copy = out when not
  // null; y is scratch (clobbered), out may alias y or base. The same bits as unrotate
  // then the addition.
  void unrotate_add(float* y, const float* base, float* out, float* copy) const;
};

}  // namespace pw::aqsgd
