// Exact-mode GEMM (proofwork(7), EXACT MODE): every output element starts from its bias (or 0) and
// accumulates acc = fma(A(i,k), B(k,j), acc) over k in ascending order. Work is split
// only across output elements, so the bits do not depend on the thread count, the
// blocking, or whether the AVX2 or the portable micro-kernel ran.
#pragma once
#include <cstddef>

#include "core/program.hpp"  // set_threads: the threads of every parallel kernel

namespace pw {

// A strided view: element (r, c) is p[r*rs + c*cs]. Any transpose is a choice of strides.
struct MatView {
  const float* p;
  ptrdiff_t rs, cs;
};

inline MatView row_major(const float* p, ptrdiff_t ld) { return {p, ld, 1}; }
inline MatView transposed(const float* p, ptrdiff_t ld) { return {p, 1, ld}; }

// Element-wise work fused into a GEMM's output pass (proofwork(7), EXACT MODE): fn(ctx, i0, m,
// j0, n) runs once per band of C -- rows i0..i0+m, columns j0..j0+n (today all N), every
// element final -- on the thread that finished the band, soon after, while it is still in
// cache. The bands tile C exactly once. What fn computes per element is what the separate
// pass would: the bits are the same, one pass over memory fewer.
struct GemmEpilogue {
  void (*fn)(const void* ctx, int i0, int m, int j0, int n);
  const void* ctx;
};

// C (M×N, row stride ldc) = bias[j] (or 0) + Σ_k A(i,k)·B(k,j).
void gemm_exact(int M, int N, int K, MatView A, MatView B, const float* bias, float* C, ptrdiff_t ldc,
                const GemmEpilogue* epilogue = nullptr);

// The chains continued (proofwork(7), PIPELINE STAGES): C (M×N) = C + Σ_k A(i,k)·B(k,j),
// each element's terms fma'd onto C's value, k ascending -- where gemm_exact starts from
// the bias or 0. No bias, no epilogue. gemm_exact over the first rows of K, then this over
// the next rows, and so on in order, gives gemm_exact's bits over all of K without a bias:
// a micro-batch's weight gradient continues the earlier micro-batches' chains.
void gemm_exact_continue(int M, int N, int K, MatView A, MatView B, float* C, ptrdiff_t ldc);

// Fast mode (proofwork(7), FAST MODE): the same micro-kernel, but K is cut into panels of `kc_panel`
// terms, each panel summed from zero and then added to C, and the bias added last -- the
// order of a BLAS that accumulates with beta = 1. The bits differ from gemm_exact's for
// K > kc_panel or a bias; they depend on kc_panel (standing in for another machine's
// blocking), not on the thread count.
void gemm_fast(int M, int N, int K, MatView A, MatView B, const float* bias, float* C, ptrdiff_t ldc, int kc_panel,
               const GemmEpilogue* epilogue = nullptr);
constexpr int kFastPanelDefault = 256;  // = exact's panel: the same blocking, the same cost

// Chunked batch reduction (proofwork(7), EXACT MODE): C (M×N) = a fixed pairwise tree
// over K/chunk chunks of k, each chunk Σ_k A(i,k)·B(k,j) as an fma chain from zero (no
// bias: the weight gradients). K/chunk must be a power of two. The bits depend only on
// the chunk size, not on threads or blocking -- and a rank holding an aligned block of
// chunks computes exactly that block's subtree. An epilogue runs as gemm_exact's does.
void gemm_chunked(int M, int N, int K, MatView A, MatView B, float* C, ptrdiff_t ldc, int chunk,
                  const GemmEpilogue* epilogue = nullptr);
void gemm_chunked_reference(int M, int N, int K, MatView A, MatView B, float* C, ptrdiff_t ldc, int chunk);

// The same arithmetic with plain loops: the reference the tests compare against.
void gemm_reference(int M, int N, int K, MatView A, MatView B, const float* bias, float* C, ptrdiff_t ldc);

// Which micro-kernel gemm_exact uses: "avx2-fma" or "portable". `force_portable`
// exists for the tests that check both give the same bits.
const char* gemm_kernel_name();
void gemm_force_portable(bool on);

}  // namespace pw
