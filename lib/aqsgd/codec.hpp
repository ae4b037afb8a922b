// Packing one batch of activations with AQ-SGD (against a State) or with direct
// quantization (no state), and unpacking it on the other side. In-memory form; the
// stream framing is in aqsgd/stream.hpp.
//
// AQ-SGD (Wang et al. 2022, Alg. 1): for row a of sample ξ,
//   first sight of ξ:  send a at full precision; m(ξ) := a
//   afterwards:        send c = Q(a − m(ξ)); both sides m(ξ) := m(ξ) + deQ(c)
// and the receiver's activation is the new m(ξ). Scales are per channel, the max |a − m|
// over the batch's coded rows (the reference implementation's max-abs scales).
//
// Two options change the value quantized, y = the row (direct) or a − m(ξ) (AQ-SGD):
//   rotate_tile T: y is rotated by tiles of T before quantizing and the decoded value
//                  unrotated after (aqsgd/rotate.hpp), on both sides with the same
//                  arithmetic: deQ is then R⁻¹(q·step), and m(ξ) := m(ξ) + R⁻¹(q·step);
//   scale_tile S:  scales per tile of S channels of each coded row (the max |y| over
//                  those S values of that row) instead of per channel over the batch.
// Both 0: the codec as it always was, bit for bit.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "aqsgd/quantize.hpp"
#include "aqsgd/rotate.hpp"
#include "aqsgd/state.hpp"

namespace pw::aqsgd {

struct Codec {
  int bits = 4;             // 2, 3, 4 or 8
  bool stochastic = false;  // stochastic rounding (else round half to even)
  uint64_t seed = 0;        // its Philox key, and the rotation's signs'
  uint32_t rotate_tile = 0; // 0: no rotation, else a power of two (valid_tile)
  uint32_t scale_tile = 0;  // 0: per-channel scales over the batch, else per tile of a row
};

// "2 bits", "2 bits, rotated by tiles of 64, scales per 64 channels of a row": for messages.
std::string codec_name(const Codec& codec);

// The quantizer of one batch under a codec's options: the sender calls analyse() on the
// values to quantize, then encode() row by row; the receiver calls use_scales() with the
// transmitted scales, then decode() row by row. decode() is the one function that
// dequantizes, on both sides, so their results are bit-identical. encode() and decode()
// may run on several threads at once.
// Combines values in place with the other ranks' (an element-wise maximum).
using BatchMax = std::function<void(float* values, int64_t n)>;

class RowCoder {
 public:
  RowCoder(const Codec& codec, uint32_t cols);  // usage error on bits or tiles out of range
  // Scales for `coded` rows: cols (per channel) or coded × ceil(cols / scale_tile).
  size_t scale_count(size_t coded) const;
  bool rotates() const { return rot_.on(); }
  // y: [coded, cols] ← R(y), row by row (nothing without rotation).
  void rotate_rows(float* y, size_t coded) const;
  // Sets scales() from y [coded, cols] (rotated). False when a scale is not finite (the
  // values, a − m or the rotation's sums overflowed), or `bad` (the caller's rows hold a
  // non-finite value). With `batch_max` (a data-parallel rank: proofwork(7),
  // DISTRIBUTED TRAINING), the per-channel scales and the failure flag are first combined
  // with the other ranks' (a maximum, exact in any order), so every rank codes with the
  // whole batch's scales and fails exactly when one process would; every rank calls it.
  bool analyse(const float* y, size_t coded, const BatchMax& batch_max = {}, bool bad = false);
  // The transmitted scales of `coded` rows (checked: count, finite, ≥ 0; exit 3).
  void use_scales(const std::vector<float>& scales, size_t coded, const std::string& what);
  const std::vector<float>& scales() const { return scales_; }
  size_t code_bytes() const { return row_code_bytes(cols_, codec_.bits); }
  // y_r: coded row r, rotated; out: code_bytes() bytes.
  void encode(const float* y_r, size_t r, uint64_t sample, uint32_t round, uint8_t* out) const;
  // out = base + deQ(codes of row r) (base null: deQ alone); copy, when not null, gets
  // the same. out may alias base.
  void decode(const uint8_t* in, size_t r, const float* base, float* out, float* copy) const;

 private:
  const float* steps(size_t r, std::vector<float>& buf) const;
  Codec codec_;
  uint32_t cols_;
  size_t tiles_ = 0;  // scale tiles a row
  Rotation rot_;
  std::vector<float> scales_, step_;
};

// One packed batch. Rows are in input order; `full[r]` says which list holds row r.
struct Packed {
  uint64_t generation = 0;         // aqsgd: the state generation this batch expects
  uint32_t cols = 0;
  std::vector<uint64_t> ids;       // [rows]
  std::vector<uint8_t> full;       // [rows] 1: in full_rows, 0: in codes (aqsgd only)
  std::vector<uint32_t> rounds;    // [rows] aqsgd: update count of m(sample) after the batch
  std::vector<float> scales;       // RowCoder::scale_count(coded rows) max-abs scales (empty: no coded rows)
  std::vector<uint8_t> codes;      // [coded rows, row_code_bytes(cols, bits)]
  std::vector<float> full_rows;    // [full rows, cols]
  size_t rows() const { return ids.size(); }
};

// a: [rows, cols] fp32. With a state: AQ-SGD against it (committing one generation);
// without: direct quantization, where stochastic rounding's round is `batch`.
// `view`, when not null, receives [rows, cols]: what the receiver will output (the
// dequantized activations). Non-finite input: exit 3, state unchanged.
void pack(const float* a, const uint64_t* ids, size_t rows, uint32_t cols, const Codec& codec, State* state,
          uint64_t batch, Packed& out, float* view = nullptr);

// The receiver: checks the batch against the state (generation, first sights, sizes;
// mismatches are exit 3 and leave the state unchanged), then writes [rows, cols] to out.
void unpack(const Packed& in, const Codec& codec, State* state, float* out);

// Checks that every value is finite; names the first bad one (exit 3).
void check_finite(const float* a, size_t rows, uint32_t cols, const std::string& what);

}  // namespace pw::aqsgd
