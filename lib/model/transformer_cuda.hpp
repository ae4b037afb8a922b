// The transformer kernels on the GPU from host buffers, for tests and benchmarks
// (proofwork(7), TRANSFORMER KERNELS). Pure C++: each call copies its inputs to device 0,
// runs cuda/transformer.cu's kernels, waits, and copies its outputs back. The signatures
// are lib/tensor/transformer.hpp's and so are the bits. Without CUDA, or without a device,
// each throws exit 4 (lib/model/transformer_cuda.cpp).
#pragma once
#include <cstdint>

namespace pw::cuda_host {

void gelu_forward(const float* x, float* y, int64_t n);
void gelu_backward(const float* dy, const float* x, float* dx, int64_t n);
void add_forward(const float* a, const float* b, float* out, int64_t n);
void scale_inplace(float* g, int64_t n, float s);
void embedding_forward(const float* tokens, const float* wte, const float* wpe, float* out, int B, int T, int C);
void embedding_backward(const float* tokens, const float* dout, float* dwte, float* dwpe, int B, int T, int C, int V,
                        int Tmax);
void layernorm_forward(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd,
                       int64_t N, int C, float eps);
void layernorm_backward(const float* dy, const float* x, const float* w, const float* mean, const float* rstd,
                        float* dx, float* dw, float* db, int64_t N, int C);
void attention_forward(const float* qkv, float* out, float* att, int B, int T, int C, int H);
void attention_backward(const float* dout, const float* qkv, const float* att, float* dqkv, int B, int T, int C,
                        int H);
float sum_squares(const float* g, int64_t n);

}  // namespace pw::cuda_host
