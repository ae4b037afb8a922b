// AQ-SGD's quantizer (Wang et al., NeurIPS 2022, §3), on the grid of the reference
// implementation (DS3Lab/AQ-SGD, `_compress_nbits`): per-channel max-abs scales
// s = max |x| over the batch's rows in that channel, step = s / 2^(B-1), and B-bit codes
// q ∈ [-2^(B-1), 2^(B-1) - 1] (all 2^B of them: 4 levels at 2 bits), so x ≈ q · step.
// The code stored is q + 2^(B-1) ∈ [0, 2^B - 1].
//
// Both sides of a link compute the step from the transmitted scale with the same IEEE
// division (scale_steps) and the dequantized value with the same function
// (decode_add_row) from the same bytes, so their results are bit-identical: the sender
// encodes, then decodes its own codes to update its state.
//
// Error bound (nearest rounding): |x - q·step| ≤ step/2 inside the grid (x/step ≤
// 2^(B-1) - 1/2), and ≤ step = s/2^(B-1) at the clamped top (x near +s, which maps to
// 2^(B-1) - 1); -s is on the grid. So |x - q·step| ≤ s/2^(B-1) everywhere, plus one
// rounding of the final addition. Stochastic rounding: |x - q·step| ≤ step, and
// E[q·step] = x inside the grid (the top is clamped, so biased by up to one step).
#pragma once
#include <cstddef>
#include <cstdint>

namespace pw::aqsgd {

inline bool valid_bits(int bits) { return bits == 2 || bits == 3 || bits == 4 || bits == 8; }
// H = 2^(B-1): codes q ∈ [-H, H - 1], step = s/H, stored code q + H.
inline int grid_half(int bits) { return 1 << (bits - 1); }
// Bytes of one coded row: groups of 8 codes in `bits` bytes, the last group zero-padded.
inline size_t row_code_bytes(int64_t cols, int bits) { return size_t((cols + 7) / 8) * size_t(bits); }

// maxabs[c] = max(maxabs[c], |x[c]|) over one row of `cols` values.
void update_maxabs(const float* x, int64_t cols, float* maxabs);

// delta[c] = a[c] - m[c]; maxabs[c] = max(maxabs[c], |delta[c]|) over one row.
void subtract_update_maxabs(const float* a, const float* m, int64_t cols, float* delta, float* maxabs);

// True when every value of x[0, n) is finite.
bool all_finite(const float* x, int64_t n);

// One row by tiles of `tile` channels (the last may be shorter): out[t] = max |x| over
// tile t, NaN skipped (as update_maxabs).
void tile_maxabs(const float* x, int64_t cols, uint32_t tile, float* out);

// out[c] = per_tile[c / tile] over one row of `cols` channels.
void expand_tiles(const float* per_tile, int64_t cols, uint32_t tile, float* out);

// Per channel: step[c] = s[c] / 2^(B-1), an IEEE division, so every side derives the
// same step from the transmitted scale.
void scale_steps(const float* scales, int64_t cols, int bits, float* step);

// x: one row [cols]; step from scale_steps; out: row_code_bytes(cols, bits) bytes.
// q = round half to even of x / step (an IEEE division), clamped to [-H, H - 1]; a
// channel whose step is 0 (so x is 0) gets q = 0.
void encode_row(const float* x, const float* step, int64_t cols, int bits, uint8_t* out);

// Stochastic rounding: q = floor(x / step + u), clamped, with u ∈ [0, 1) the Philox word
// keyed by (seed, sample, round, element) (see stochastic_uniform).
void encode_row_stochastic(const float* x, const float* step, int64_t cols, int bits, uint8_t* out, uint64_t seed,
                           uint64_t sample, uint32_t round);

// out[c] = base[c] + q[c]·step[c] (base may be null: out = q·step). `out` may alias `base`.
void decode_add_row(const uint8_t* in, const float* step, const float* base, int64_t cols, int bits, float* out);

// decode_add_row that also writes its result to `copy` when not null (the state's row and
// the activations handed on, in one pass instead of a decode and a memcpy).
void decode_add_row_copy(const uint8_t* in, const float* step, const float* base, int64_t cols, int bits, float* out,
                         float* copy);

// The uniform number that stochastic rounding adds at element `c` (for tests).
float stochastic_uniform(uint64_t seed, uint64_t sample, uint32_t round, uint64_t c);

// The row kernels exist compiled for AVX2 and for the baseline instruction set, chosen
// at run time; both give the same bits. For tests: force the baseline kernels (true) or
// go back to the choice by CPU (false); avx2_kernels() says which are in use.
void force_baseline_kernels(bool on);
bool avx2_kernels();

}  // namespace pw::aqsgd
