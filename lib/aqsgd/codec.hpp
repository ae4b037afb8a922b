// Packing one batch of activations with AQ-SGD (against a State) or with direct
// quantization (no state), and unpacking it on the other side. In-memory form; the
// stream framing is in aqsgd/stream.hpp.
//
// AQ-SGD (Wang et al. 2022, Alg. 1): for row a of sample ξ,
//   first sight of ξ:  send a at full precision; m(ξ) := a
//   afterwards:        send c = Q(a − m(ξ)); both sides m(ξ) := m(ξ) + deQ(c)
// and the receiver's activation is the new m(ξ). Scales are per channel, the max |a − m|
// over the batch's coded rows (the reference implementation's max-abs scales).
#pragma once
#include <cstdint>
#include <vector>

#include "aqsgd/quantize.hpp"
#include "aqsgd/state.hpp"

namespace pw::aqsgd {

struct Codec {
  int bits = 4;             // 2, 3, 4 or 8
  bool stochastic = false;  // stochastic rounding (else round half to even)
  uint64_t seed = 0;        // its Philox key
};

// One packed batch. Rows are in input order; `full[r]` says which list holds row r.
struct Packed {
  uint64_t generation = 0;         // aqsgd: the state generation this batch expects
  uint32_t cols = 0;
  std::vector<uint64_t> ids;       // [rows]
  std::vector<uint8_t> full;       // [rows] 1: in full_rows, 0: in codes (aqsgd only)
  std::vector<uint32_t> rounds;    // [rows] aqsgd: update count of m(sample) after the batch
  std::vector<float> scales;       // [cols] max-abs over the coded rows (empty: no coded rows)
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
