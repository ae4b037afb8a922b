// Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
// SC'11): a counter-based generator, so any element of any random stream can be
// regenerated anywhere from (key, counter) without replaying a sequence.
#pragma once
#include <array>
#include <cstdint>

#include "tensor/mathfn.hpp"

namespace pw {

using Philox4 = std::array<uint32_t, 4>;

PW_HD inline Philox4 philox4x32_10(Philox4 ctr, uint32_t k0, uint32_t k1) {
  for (int r = 0; r < 10; r++) {
    if (r > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    uint64_t p0 = uint64_t(0xD2511F53u) * ctr[0];
    uint64_t p1 = uint64_t(0xCD9E8D57u) * ctr[2];
    ctr = {uint32_t(p1 >> 32) ^ ctr[1] ^ k0, uint32_t(p1), uint32_t(p0 >> 32) ^ ctr[3] ^ k1, uint32_t(p0)};
  }
  return ctr;
}

// Streams: the third counter word says what a random number is for; every stream of
// the project is named here (proofwork(7), RANDOM STREAMS). Values are part of the
// exact-mode contract: changing one moves proof roots.
enum RandomStream : uint32_t {
  kStreamInit = 1,                   // initial weights; word 3 = parameter tensor index
  kStreamShuffle = 2,                // data order; word 3 = epoch
  kStreamSegmentSample = 3,          // verifiers' segment sample from a beacon; word 3 = 0
  kStreamForgeNoise = 0x6e6f6973u,   // "nois": pol-forge's dressing noise; word 3 = tensor
  kStreamAqsgdRounding = 0x41510001u,  // "AQ" + 1: AQ-SGD's stochastic rounding; word 3 = round
  kStreamAqsgdRotation = 0x41510002u,  // "AQ" + 2: AQ-SGD's rotation signs; word 3 = 0, bit c%32 of word c/32
  kStreamWindows = 0x77696e64u,      // "wind": a text task's window offsets; word 3 = step, word = row
  kStreamSample = 0x73616d70u,       // "samp": pol-generate's sampling; word 3 = 0, word = byte generated
};

// The 32-bit word number `index` of stream (seed, stream, sub).
PW_HD inline uint32_t philox_word(uint64_t seed, uint32_t stream, uint32_t sub, uint64_t index) {
  uint64_t block = index >> 2;
  Philox4 out = philox4x32_10({uint32_t(block), uint32_t(block >> 32), stream, sub}, uint32_t(seed),
                              uint32_t(seed >> 32));
  return out[index & 3];
}

// Uniform in [0, 1) with 24 random bits: exactly representable, no rounding.
PW_HD inline float uniform01(uint32_t w) { return float(w >> 8) * (1.0f / 16777216.0f); }

}  // namespace pw
