// Vectors of 8 lanes (GCC vector types) for the codec's kernels (aqsgd/quantize.cpp,
// aqsgd/rotate.cpp), which are compiled for AVX2 and for the baseline instruction set:
// element-wise IEEE arithmetic, so both compilations give the same bits. Internal to
// lib/aqsgd's .cpp files.
// (-Wpsabi warns that 32-byte vectors pass differently with and without AVX: the
// kernels inline these, within one function, so no call passes one.)
#pragma once
#include <cstdint>
#include <cstring>

#pragma GCC diagnostic ignored "-Wpsabi"

namespace pw::aqsgd {

typedef float f32x8 __attribute__((vector_size(32)));
typedef int32_t i32x8 __attribute__((vector_size(32)));
typedef uint32_t u32x8 __attribute__((vector_size(32)));

[[gnu::always_inline]] inline f32x8 load8(const float* p) {
  f32x8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

[[gnu::always_inline]] inline void store8(float* p, const f32x8& v) { std::memcpy(p, &v, sizeof v); }

}  // namespace pw::aqsgd
