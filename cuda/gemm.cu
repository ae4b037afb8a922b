// Exact GEMM on the GPU: C = bias + A·B with every output element accumulated as
// acc = __fmaf_rn(A(i,k), B(k,j), acc) over k ascending, starting from its bias (or 0):
// the contract of lib/tensor/gemm.cpp, so the result equals gemm_exact's bit for bit.
//
// Classic register-blocked SGEMM: a block computes a 128×128 tile of C with 256
// threads; each thread owns an 8×8 micro-tile (rows ty*4+{0..3} and 64+ty*4+{0..3},
// columns likewise with tx), so shared-memory reads are float4s without bank conflicts.
// K advances in slabs of BK (8 or 16) through double-buffered shared memory, the next
// slab prefetched into registers while the current one is multiplied. Splitting only
// over output elements (never over k) is what keeps the order fixed, so every slab
// length gives the same bits; 16 halves the barriers per FMA (bench_gpu times both).
//
// Check: tests/unit/test_gpu.cpp ("gpu" suite) compares it with gemm_reference by memcmp
// over odd shapes and all transposes; cuda/bench_gpu.cu times it against cublasSgemm.
#include "common.cuh"
#include "kernels.cuh"
#include "tensor/mathfn.hpp"

namespace pw::cuda {
namespace {

constexpr int BM = 128, BN = 128, kThreads = 256;

// A slab of A (BM×BK) into BK/2 registers per thread, in BK/8 passes of one float4.
// KC: k is the contiguous index (A(i,k) = p[i*rs + k]), else i is (or neither is, with
// vec false).
template <int BK, bool KC>
__device__ __forceinline__ void load_a(const DevMat A, int M, int K, int m0, int k0, int tid, bool vec,
                                       float (&r)[BK / 2]) {
#pragma unroll
  for (int pass = 0; pass < BK / 8; pass++) {
    float* q = r + 4 * pass;
    if (KC) {  // BK/4 threads per row, 256/(BK/4) rows per pass
      const int m = m0 + pass * (kThreads * 4 / BK) + tid / (BK / 4), k = k0 + (tid % (BK / 4)) * 4;
      const float* src = A.p + ptrdiff_t(m) * A.rs + k;
      if (vec && m < M && k + 3 < K) {
        const float4 v = *reinterpret_cast<const float4*>(src);
        q[0] = v.x, q[1] = v.y, q[2] = v.z, q[3] = v.w;
      } else {
#pragma unroll
        for (int i = 0; i < 4; i++) q[i] = (m < M && k + i < K) ? src[i] : 0.0f;
      }
    } else {  // 32 threads per k, 8 values of k per pass
      const int k = k0 + pass * 8 + tid / 32, m = m0 + (tid % 32) * 4;
      if (vec && k < K && m + 3 < M) {
        const float4 v = *reinterpret_cast<const float4*>(A.p + m + ptrdiff_t(k) * A.cs);
        q[0] = v.x, q[1] = v.y, q[2] = v.z, q[3] = v.w;
      } else {
#pragma unroll
        for (int i = 0; i < 4; i++)
          q[i] = (k < K && m + i < M) ? A.p[ptrdiff_t(m + i) * A.rs + ptrdiff_t(k) * A.cs] : 0.0f;
      }
    }
  }
}

template <int BK, bool KC>
__device__ __forceinline__ void store_a(float (*As)[BM], int tid, const float (&r)[BK / 2]) {
#pragma unroll
  for (int pass = 0; pass < BK / 8; pass++) {
    const float* q = r + 4 * pass;
    if (KC) {
      const int m = pass * (kThreads * 4 / BK) + tid / (BK / 4), k = (tid % (BK / 4)) * 4;
#pragma unroll
      for (int i = 0; i < 4; i++) As[k + i][m] = q[i];
    } else {
      const int k = pass * 8 + tid / 32, m = (tid % 32) * 4;
      *reinterpret_cast<float4*>(&As[k][m]) = make_float4(q[0], q[1], q[2], q[3]);
    }
  }
}

// A slab of B (BK×BN). NC: n is the contiguous index (B(k,j) = p[k*rs + j]), else k is.
template <int BK, bool NC>
__device__ __forceinline__ void load_b(const DevMat B, int N, int K, int n0, int k0, int tid, bool vec,
                                       float (&r)[BK / 2]) {
#pragma unroll
  for (int pass = 0; pass < BK / 8; pass++) {
    float* q = r + 4 * pass;
    if (NC) {
      const int k = k0 + pass * 8 + tid / 32, n = n0 + (tid % 32) * 4;
      const float* src = B.p + ptrdiff_t(k) * B.rs + n;
      if (vec && k < K && n + 3 < N) {
        const float4 v = *reinterpret_cast<const float4*>(src);
        q[0] = v.x, q[1] = v.y, q[2] = v.z, q[3] = v.w;
      } else {
#pragma unroll
        for (int i = 0; i < 4; i++) q[i] = (k < K && n + i < N) ? src[i] : 0.0f;
      }
    } else {
      const int n = n0 + pass * (kThreads * 4 / BK) + tid / (BK / 4), k = k0 + (tid % (BK / 4)) * 4;
      if (vec && n < N && k + 3 < K) {
        const float4 v = *reinterpret_cast<const float4*>(B.p + k + ptrdiff_t(n) * B.cs);
        q[0] = v.x, q[1] = v.y, q[2] = v.z, q[3] = v.w;
      } else {
#pragma unroll
        for (int i = 0; i < 4; i++)
          q[i] = (n < N && k + i < K) ? B.p[ptrdiff_t(k + i) * B.rs + ptrdiff_t(n) * B.cs] : 0.0f;
      }
    }
  }
}

template <int BK, bool NC>
__device__ __forceinline__ void store_b(float (*Bs)[BN], int tid, const float (&r)[BK / 2]) {
#pragma unroll
  for (int pass = 0; pass < BK / 8; pass++) {
    const float* q = r + 4 * pass;
    if (NC) {
      const int k = pass * 8 + tid / 32, n = (tid % 32) * 4;
      *reinterpret_cast<float4*>(&Bs[k][n]) = make_float4(q[0], q[1], q[2], q[3]);
    } else {
      const int n = pass * (kThreads * 4 / BK) + tid / (BK / 4), k = (tid % (BK / 4)) * 4;
#pragma unroll
      for (int i = 0; i < 4; i++) Bs[k + i][n] = q[i];
    }
  }
}

template <int BK, bool KC, bool NC>
__global__ void __launch_bounds__(kThreads, 2)
    gemm_exact_kernel(int M, int N, int K, DevMat A, DevMat B, const float* __restrict__ bias, float* __restrict__ C,
                      ptrdiff_t ldc, bool vec_a, bool vec_b) {
  __shared__ __align__(16) float As[2][BK][BM];
  __shared__ __align__(16) float Bs[2][BK][BN];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;

  // Rows and columns of this thread's micro-tile, relative to the block.
  int rows[8], cols[8];
#pragma unroll
  for (int i = 0; i < 4; i++) {
    rows[i] = ty * 4 + i, rows[4 + i] = 64 + ty * 4 + i;
    cols[i] = tx * 4 + i, cols[4 + i] = 64 + tx * 4 + i;
  }
  float acc[8][8];
#pragma unroll
  for (int j = 0; j < 8; j++) {
    const int n = n0 + cols[j];
    const float b0 = (bias && n < N) ? bias[n] : 0.0f;
#pragma unroll
    for (int i = 0; i < 8; i++) acc[i][j] = b0;
  }

  const int tiles = (K + BK - 1) / BK;
  float ra[BK / 2], rb[BK / 2];
  if (tiles > 0) {
    load_a<BK, KC>(A, M, K, m0, 0, tid, vec_a, ra);
    load_b<BK, NC>(B, N, K, n0, 0, tid, vec_b, rb);
    store_a<BK, KC>(As[0], tid, ra);
    store_b<BK, NC>(Bs[0], tid, rb);
  }
  __syncthreads();
  for (int t = 0; t < tiles; t++) {
    const int cur = t & 1;
    if (t + 1 < tiles) {
      load_a<BK, KC>(A, M, K, m0, (t + 1) * BK, tid, vec_a, ra);
      load_b<BK, NC>(B, N, K, n0, (t + 1) * BK, tid, vec_b, rb);
    }
    const int kmax = min(BK, K - t * BK);  // no padded fma on the last slab: it would turn -0 into +0
#pragma unroll
    for (int kk = 0; kk < BK; kk++) {
      if (kk < kmax) {
        float a[8], b[8];
        const float4 a0 = *reinterpret_cast<const float4*>(&As[cur][kk][ty * 4]);
        const float4 a1 = *reinterpret_cast<const float4*>(&As[cur][kk][64 + ty * 4]);
        const float4 b0 = *reinterpret_cast<const float4*>(&Bs[cur][kk][tx * 4]);
        const float4 b1 = *reinterpret_cast<const float4*>(&Bs[cur][kk][64 + tx * 4]);
        a[0] = a0.x, a[1] = a0.y, a[2] = a0.z, a[3] = a0.w, a[4] = a1.x, a[5] = a1.y, a[6] = a1.z, a[7] = a1.w;
        b[0] = b0.x, b[1] = b0.y, b[2] = b0.z, b[3] = b0.w, b[4] = b1.x, b[5] = b1.y, b[6] = b1.z, b[7] = b1.w;
#pragma unroll
        for (int i = 0; i < 8; i++)
#pragma unroll
          for (int j = 0; j < 8; j++) acc[i][j] = __fmaf_rn(a[i], b[j], acc[i][j]);
      }
    }
    if (t + 1 < tiles) {
      store_a<BK, KC>(As[cur ^ 1], tid, ra);
      store_b<BK, NC>(Bs[cur ^ 1], tid, rb);
    }
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < 8; i++) {
    const int m = m0 + rows[i];
    if (m >= M) continue;
    float* crow = C + ptrdiff_t(m) * ldc;
#pragma unroll
    for (int j = 0; j < 8; j++) {
      const int n = n0 + cols[j];
      if (n < N) crow[n] = acc[i][j];
    }
  }
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

template <int BK>
void launch(int M, int N, int K, DevMat A, DevMat B, const float* bias, float* C, ptrdiff_t ldc, cudaStream_t s) {
  const bool kc = A.cs == 1, nc = B.cs == 1;
  // float4 loads need the contiguous index to step by 1, a 16-byte base and a leading
  // stride that keeps every row (or column) start 16-byte aligned.
  const bool vec_a = aligned16(A.p) && (kc ? A.rs % 4 == 0 : (A.rs == 1 && A.cs % 4 == 0));
  const bool vec_b = aligned16(B.p) && (nc ? B.rs % 4 == 0 : (B.rs == 1 && B.cs % 4 == 0));
  const dim3 grid(unsigned((N + BN - 1) / BN), unsigned((M + BM - 1) / BM));
  if (kc && nc)
    gemm_exact_kernel<BK, true, true><<<grid, kThreads, 0, s>>>(M, N, K, A, B, bias, C, ldc, vec_a, vec_b);
  else if (kc)
    gemm_exact_kernel<BK, true, false><<<grid, kThreads, 0, s>>>(M, N, K, A, B, bias, C, ldc, vec_a, vec_b);
  else if (nc)
    gemm_exact_kernel<BK, false, true><<<grid, kThreads, 0, s>>>(M, N, K, A, B, bias, C, ldc, vec_a, vec_b);
  else
    gemm_exact_kernel<BK, false, false><<<grid, kThreads, 0, s>>>(M, N, K, A, B, bias, C, ldc, vec_a, vec_b);
  PW_CU_LAUNCHED("gemm_exact");
}

}  // namespace

void gemm_exact(int M, int N, int K, DevMat A, DevMat B, const float* bias, float* C, ptrdiff_t ldc, cudaStream_t s,
                int slab) {
  if (M <= 0 || N <= 0) return;
  if (slab == 0) slab = kGemmSlabDefault;
  if (slab == 8)
    launch<8>(M, N, K, A, B, bias, C, ldc, s);
  else if (slab == 16)
    launch<16>(M, N, K, A, B, bias, C, ldc, s);
  else
    internal_error("gemm_exact: slab " + std::to_string(slab) + " is not 8 or 16");
}

}  // namespace pw::cuda
