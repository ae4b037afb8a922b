// AQ-SGD's quantizer (Wang et al., NeurIPS 2022, §3; the reference implementation's
// per-channel max-abs scales): symmetric B-bit codes with L = 2^(B-1) - 1 levels on each
// side of zero, so x ≈ q · s/L with q ∈ [-L, L] and s = max |x| over the batch's rows
// in that channel. The code stored is q + L ∈ [0, 2L], B bits.
//
// Both sides of a link compute the dequantized value with the same function
// (decode_add_row) from the same bytes, so their results are bit-identical: the
// sender encodes, then decodes its own codes to update its state.
//
// Error bound (nearest rounding): |x - q·step| ≤ step/2 = s/(2L) ≤ s/2^(B-1), plus one
// rounding of the final addition. Stochastic rounding: |x - q·step| < step = s/L, and
// E[q·step] = x.
#pragma once
#include <cstddef>
#include <cstdint>

namespace pw::aqsgd {

inline bool valid_bits(int bits) { return bits == 2 || bits == 3 || bits == 4 || bits == 8; }
inline int levels(int bits) { return (1 << (bits - 1)) - 1; }  // L
// Bytes of one coded row: groups of 8 codes in `bits` bytes, the last group zero-padded.
inline size_t row_code_bytes(int64_t cols, int bits) { return size_t((cols + 7) / 8) * size_t(bits); }

// maxabs[c] = max(maxabs[c], |x[c]|) over one row of `cols` values.
void update_maxabs(const float* x, int64_t cols, float* maxabs);

// delta[c] = a[c] - m[c]; maxabs[c] = max(maxabs[c], |delta[c]|) over one row.
void subtract_update_maxabs(const float* a, const float* m, int64_t cols, float* delta, float* maxabs);

// True when every value of x[0, n) is finite.
bool all_finite(const float* x, int64_t n);

// Per channel: step[c] = s[c] / L and inv[c] = L / s[c] (0 when s[c] is 0), both IEEE
// divisions, so every side derives the same step from the transmitted scale.
void scale_factors(const float* scales, int64_t cols, int bits, float* step, float* inv);

// x: one row [cols]; inv from scale_factors; out: row_code_bytes(cols, bits) bytes.
// Round half to even of x·inv, clamped to [-L, L].
void encode_row(const float* x, const float* inv, int64_t cols, int bits, uint8_t* out);

// Stochastic rounding: q = floor(x·inv + u), clamped, with u ∈ [0, 1) the Philox word
// keyed by (seed, sample, round, element) (see philox_uniform in quantize.cpp).
void encode_row_stochastic(const float* x, const float* inv, int64_t cols, int bits, uint8_t* out, uint64_t seed,
                           uint64_t sample, uint32_t round);

// out[c] = base[c] + q[c]·step[c] (base may be null: out = q·step). `out` may alias `base`.
void decode_add_row(const uint8_t* in, const float* step, const float* base, int64_t cols, int bits, float* out);

// decode_add_row that also writes its result to `copy` when not null (the state's row and
// the activations handed on, in one pass instead of a decode and a memcpy).
void decode_add_row_copy(const uint8_t* in, const float* step, const float* base, int64_t cols, int bits, float* out,
                         float* copy);

// The uniform number that stochastic rounding adds at element `c` (for tests).
float stochastic_uniform(uint64_t seed, uint64_t sample, uint32_t round, uint64_t c);

}  // namespace pw::aqsgd
