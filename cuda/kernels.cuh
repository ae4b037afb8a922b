// The CUDA kernels of the tape, one launcher per op, on device pointers and a stream.
// Each mirrors its CPU twin in lib/tensor/ and keeps its contract (proofwork(7), EXACT MODE); the
// per-element arithmetic is the same PW_HD function (lib/tensor/ops.hpp, mathfn.hpp).
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "tensor/ops.hpp"

namespace pw::cuda {

// A strided device matrix view, as pw::MatView: element (r, c) is p[r*rs + c*cs].
struct DevMat {
  const float* p;
  ptrdiff_t rs, cs;
};

// C (M×N, row stride ldc) = bias[j] (or 0) + Σ_k A(i,k)·B(k,j), one __fmaf_rn per k,
// k ascending: the bits of pw::gemm_exact. Register-blocked: 128×128 tiles, 8×8 per thread,
// K in slabs of `slab` (8 or 16; 0: kGemmSlabDefault), which changes the speed, not the bits.
constexpr int kGemmSlabDefault = 16;
void gemm_exact(int M, int N, int K, DevMat A, DevMat B, const float* bias, float* C, ptrdiff_t ldc,
                cudaStream_t s, int slab = 0);

// x (B,F) = images[idx[b]] · scale; y (B) = labels[idx[b]] as floats. images (n,F) bytes.
void load_batch(const uint8_t* images, const uint8_t* labels, const uint32_t* idx, int B, int F, float scale,
                float* x, float* y, cudaStream_t s);
// Rows r0.. of images without an index (evaluation): x (rows,F).
void load_rows(const uint8_t* images, int rows, int F, float scale, float* x, cudaStream_t s);

void relu_forward(const float* z, float* y, int64_t n, cudaStream_t s);
void relu_backward(const float* dy, const float* y, float* dz, int64_t n, cudaStream_t s);
// z (rows,N) += bias (N), then a = relu(z) when `a` is not null (fast mode's fused epilogue).
void bias_relu(float* z, const float* bias, float* a, int rows, int N, cudaStream_t s);

// probs (B,C) and loss (1) = mean over rows, b ascending, then one division; row_loss (B) scratch.
void softmax_ce_forward(const float* logits, const float* labels, float* probs, float* row_loss, float* loss,
                        int B, int C, cudaStream_t s);
void softmax_ce_backward(const float* probs, const float* labels, float* dlogits, int B, int C, cudaStream_t s);
// Fast mode: forward and backward in one pass (probs, loss, dlogits).
void softmax_ce_fused(const float* logits, const float* labels, float* probs, float* dlogits, float* row_loss,
                      float* loss, int B, int C, cudaStream_t s);

// db[o] = Σ_b dy[b,o], b ascending; dy (B,O).
void column_sums(const float* dy, float* db, int B, int O, cudaStream_t s);

void sgd_update(float* p, const float* g, float* buf, int64_t n, const SgdScalars& sc, cudaStream_t s);
void adamw_update(float* p, const float* g, float* m, float* v, int64_t n, const AdamwScalars& sc, cudaStream_t s);

// Every parameter's update in one launch (fast mode): tensor t is p[t], g[t], m[t], v[t]
// (v unused for SGD), n[t] elements.
constexpr int kMaxFusedTensors = 16;
struct UpdateList {
  float* p[kMaxFusedTensors];
  const float* g[kMaxFusedTensors];
  float* m[kMaxFusedTensors];
  float* v[kMaxFusedTensors];
  int64_t n[kMaxFusedTensors];
  int count;
};
// The scalars are read from device memory (sc points there), so a CUDA graph that holds
// these launches serves every step: the host copies each step's scalars before it runs.
void sgd_update_fused(const UpdateList& l, const SgdScalars* sc, cudaStream_t s);
void adamw_update_fused(const UpdateList& l, const AdamwScalars* sc, cudaStream_t s);

}  // namespace pw::cuda
