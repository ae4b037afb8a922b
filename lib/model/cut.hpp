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
//
// A cut at the boundary of two pipeline stages on two ranks
// (proofwork(7), PIPELINE STAGES) runs each crossing in halves: the sender's half codes
// and returns the bytes that cross (cut_forward_send, cut_backward_send), the
// receiver's half decodes them (cut_forward_receive, cut_backward_receive). Both sides of the forward crossing hold
// the buffer and seen flags and update them alike; cut_forward and cut_backward, the one-
// process ops, are the two halves run back to back, so the bits are the same.
//
// The forward message: a byte, 1 when the batch passes through (then B·w raw floats),
// else 0, the scales (RowCoder::scale_count of the coded rows), the full-precision rows
// (first sights, in batch order) and the codes of the coded rows (in batch order). The
// receiver tells coded rows from first sights by its own seen flags, which equal the
// sender's. The backward message: the byte, then the raw gradient or the scales and B
// rows of codes.
#pragma once
#include <cstdint>
#include <vector>

#include "aqsgd/codec.hpp"
#include "model/tape.hpp"

namespace pw {

// a, out: (B, w); buffer: (samples, w); seen: (samples) 0.0 or 1.0; idx: B sample
// indices. Updates buffer and seen in place. A sample repeated in idx (a GPT's windows
// are drawn with replacement; its rows are the same input) crosses once: its first
// occurrence is coded or sent whole, and every occurrence's out is the row m(sample) it
// leaves.
using BatchMax = aqsgd::BatchMax;  // in place, over the ranks

void cut_forward(const float* a, const uint32_t* idx, int64_t B, int64_t w, const aqsgd::Codec& codec, float* buffer,
                 float* seen, float* out, const BatchMax& batch_max = {});

// da, out: (B, w). out may alias da.
void cut_backward(const float* da, int64_t B, int64_t w, const aqsgd::Codec& codec, float* out,
                  const BatchMax& batch_max = {});

// The codecs of a tape's cut: the forward crossing's (AQ-SGD, with rotation and scale
// tiles) and the backward's (direct quantization).
aqsgd::Codec cut_forward_codec(const CutSpec& cut);
aqsgd::Codec cut_backward_codec(const CutSpec& cut);

// The halves (the messages above). The sender's forward half updates buffer and seen as
// cut_forward does; the receiver's, given the same buffer and seen, updates them alike
// and writes out (B, w). A message of the wrong length is an internal error (it comes
// from another rank of this job).
std::vector<uint8_t> cut_forward_send(const float* a, const uint32_t* idx, int64_t B, int64_t w,
                                      const aqsgd::Codec& codec, float* buffer, float* seen,
                                      const BatchMax& batch_max = {});
void cut_forward_receive(const std::vector<uint8_t>& msg, const uint32_t* idx, int64_t B, int64_t w,
                         const aqsgd::Codec& codec, float* buffer, float* seen, float* out);
std::vector<uint8_t> cut_backward_send(const float* da, int64_t B, int64_t w, const aqsgd::Codec& codec,
                                       const BatchMax& batch_max = {});
void cut_backward_receive(const std::vector<uint8_t>& msg, int64_t B, int64_t w, const aqsgd::Codec& codec,
                          float* out);

}  // namespace pw
