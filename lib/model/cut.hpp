// A pipeline cut inside training (proofwork(7), AQ-SGD): the batch-level AQ-SGD and direct
// quantization that the tape's CutForward and CutBackward ops run, on top of
// aqsgd/quantize.hpp -- the same arithmetic as aqsgd::pack, so a training run's
// activations at the cut are bit for bit what aqsgd-pack would send and restore.
//
// Forward (AQ-SGD, Wang et al. 2022, Alg. 1), for row b of sample ξ = idx[b]:
//   first sight (seen[ξ] = 0): â_b = a_b, m(ξ) = a_b, seen[ξ] = 1
//   afterwards:                c = Q(a_b − m(ξ)), m(ξ) += deQ(c), â_b = m(ξ)
// Q: `bits`-bit codes on the reference implementation's grid (q ∈ [-2^(B-1), 2^(B-1) - 1],
// step = s/2^(B-1), s the per-channel max-abs scale over the batch's coded rows), round
// half to even. Backward: dâ → deQ(Q(dâ)), per-channel max-abs scales over the batch.
//
// A batch whose input holds a non-finite value (a diverged run), or whose differences
// overflow, passes through unquantized and leaves the buffer alone (aqsgd::pack refuses
// such a batch; training carries on with the NaN as it would without the cut). Every
// value is a function of the inputs alone, row by row, so threads change no bits.
//
// The codec's options (aqsgd/codec.hpp: rotate_tile, scale_tile, seed for the rotation's
// signs) apply as in aqsgd::pack; nearest rounding only. Both run through
// aqsgd::RowCoder, the quantizer aqsgd::pack and aqsgd::unpack use.
//
// A data-parallel rank (proofwork(7), DISTRIBUTED TRAINING) holds a block of the batch:
// `batch_max` then combines its per-channel maxima, and a flag that its rows hold a
// non-finite value, with the other ranks' (a maximum, exact in any order), so every
// rank codes with the whole batch's scales and passes through exactly when one process
// would.
#pragma once
#include <cstdint>

#include "aqsgd/codec.hpp"

namespace pw {

// a, out: (B, w); buffer: (samples, w); seen: (samples) 0.0 or 1.0; idx: B distinct
// sample indices. Updates buffer and seen in place.
using BatchMax = aqsgd::BatchMax;  // in place, over the ranks

void cut_forward(const float* a, const uint32_t* idx, int64_t B, int64_t w, const aqsgd::Codec& codec, float* buffer,
                 float* seen, float* out, const BatchMax& batch_max = {});

// da, out: (B, w). out may alias da.
void cut_backward(const float* da, int64_t B, int64_t w, const aqsgd::Codec& codec, float* out,
                  const BatchMax& batch_max = {});

}  // namespace pw
