// The transformer's kernels on the GPU (proofwork(7), TRANSFORMER KERNELS), on device
// pointers and a stream: the launchers the executor calls. Each gives the bits of its CPU
// twin in lib/tensor/transformer.hpp (same arguments, plus scratch where noted): the same
// PW_HD element and row functions, and one thread per output chain in the CPU's order.
// Check: the "gpu" suite of tests/unit/test_gpu.cpp compares each with the CPU (memcmp).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "tensor/transformer.hpp"

namespace pw::cuda {

// The GPT's batch (LoadWindows): idx (B,T) = text[offsets[b] + i], targets (B,T) =
// text[offsets[b] + i + 1], bytes as floats; offsets (B) on the device, each + T inside the text.
void load_windows(const uint8_t* text, const uint32_t* offsets, int B, int T, float* idx, float* targets,
                  cudaStream_t s);

void gelu_forward(const float* x, float* y, int64_t n, cudaStream_t s);
void gelu_backward(const float* dy, const float* x, float* dx, int64_t n, cudaStream_t s);
void add_forward(const float* a, const float* b, float* out, int64_t n, cudaStream_t s);
void scale_inplace(float* g, int64_t n, float scale, cudaStream_t s);

// tokens (B·T) ids as floats; the CPU refuses an id outside [0, V), the GPU ignores it in
// the backward (no row of dwte matches it).
void embedding_forward(const float* tokens, const float* wte, const float* wpe, float* out, int B, int T, int C,
                       cudaStream_t s);
void embedding_backward(const float* tokens, const float* dout, float* dwte, float* dwpe, int B, int T, int C, int V,
                        int Tmax, cudaStream_t s);

void layernorm_forward(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd, int64_t N,
                       int C, float eps, cudaStream_t s);
// scratch: 2·N floats (the rows' two backward means).
void layernorm_backward(const float* dy, const float* x, const float* w, const float* mean, const float* rstd,
                        float* dx, float* dw, float* db, int64_t N, int C, float* scratch, cudaStream_t s);

void attention_forward(const float* qkv, float* out, float* att, int B, int T, int C, int H, cudaStream_t s);
// scratch: attention_backward_scratch(B, T, H) floats (ds for every (b,h,t,t2)).
inline int64_t attention_backward_scratch(int B, int T, int H) { return int64_t(B) * H * T * T; }
void attention_backward(const float* dout, const float* qkv, const float* att, float* dqkv, int B, int T, int C,
                        int H, float* scratch, cudaStream_t s);

// *out (device) = sum_squares(g, n); partials: sum_squares_partials(n) floats.
inline int64_t sum_squares_partials(int64_t n) { return (n + kSumSquaresBlock - 1) / kSumSquaresBlock; }
void sum_squares(const float* g, int64_t n, float* partials, float* out, cudaStream_t s);

}  // namespace pw::cuda
