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
static_assert(BM == BN, "A's and B's slabs share store_slab");

// A slab (BM×BK) of an M×K operand X, element (i,k) = p[i*rs + k*cs], into BK/2
// registers per thread, in BK/8 passes of one float4. A is such an operand; so is B seen
// transposed (N×K: rs and cs swapped), and both slabs land in shared memory as [k][i].
// KC: k is the contiguous index (cs = 1), else the fallback reads any strides (and
// float4s when i is contiguous, vec).
template <int BK, bool KC>
__device__ __forceinline__ void load_slab(const DevMat X, int M, int K, int m0, int k0, int tid, bool vec,
                                          float (&r)[BK / 2]) {
#pragma unroll
  for (int pass = 0; pass < BK / 8; pass++) {
    float* q = r + 4 * pass;
    if (KC) {  // BK/4 threads per row, 256/(BK/4) rows per pass
      const int m = m0 + pass * (kThreads * 4 / BK) + tid / (BK / 4), k = k0 + (tid % (BK / 4)) * 4;
      const float* src = X.p + ptrdiff_t(m) * X.rs + k;
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
        const float4 v = *reinterpret_cast<const float4*>(X.p + m + ptrdiff_t(k) * X.cs);
        q[0] = v.x, q[1] = v.y, q[2] = v.z, q[3] = v.w;
      } else {
#pragma unroll
        for (int i = 0; i < 4; i++)
          q[i] = (k < K && m + i < M) ? X.p[ptrdiff_t(m + i) * X.rs + ptrdiff_t(k) * X.cs] : 0.0f;
      }
    }
  }
}

template <int BK, bool KC>
__device__ __forceinline__ void store_slab(float (*Xs)[BM], int tid, const float (&r)[BK / 2]) {
#pragma unroll
  for (int pass = 0; pass < BK / 8; pass++) {
    const float* q = r + 4 * pass;
    if (KC) {
      const int m = pass * (kThreads * 4 / BK) + tid / (BK / 4), k = (tid % (BK / 4)) * 4;
#pragma unroll
      for (int i = 0; i < 4; i++) Xs[k + i][m] = q[i];
    } else {
      const int k = pass * 8 + tid / 32, m = (tid % 32) * 4;
      *reinterpret_cast<float4*>(&Xs[k][m]) = make_float4(q[0], q[1], q[2], q[3]);
    }
  }
}

// Bt: B seen transposed (N×K). KA, KB: k is the contiguous index of A, of Bt.
template <int BK, bool KA, bool KB>
__global__ void __launch_bounds__(kThreads, 2)
    gemm_exact_kernel(int M, int N, int K, DevMat A, DevMat Bt, const float* __restrict__ bias, float* __restrict__ C,
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
    load_slab<BK, KA>(A, M, K, m0, 0, tid, vec_a, ra);
    load_slab<BK, KB>(Bt, N, K, n0, 0, tid, vec_b, rb);
    store_slab<BK, KA>(As[0], tid, ra);
    store_slab<BK, KB>(Bs[0], tid, rb);
  }
  __syncthreads();
  for (int t = 0; t < tiles; t++) {
    const int cur = t & 1;
    if (t + 1 < tiles) {
      load_slab<BK, KA>(A, M, K, m0, (t + 1) * BK, tid, vec_a, ra);
      load_slab<BK, KB>(Bt, N, K, n0, (t + 1) * BK, tid, vec_b, rb);
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
      store_slab<BK, KA>(As[cur ^ 1], tid, ra);
      store_slab<BK, KB>(Bs[cur ^ 1], tid, rb);
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

// float4 loads need the contiguous index to step by 1, a 16-byte base and a leading
// stride that keeps every row (or column) start 16-byte aligned.
bool vec_ok(const DevMat& X, bool kc) {
  return aligned16(X.p) && (kc ? X.rs % 4 == 0 : (X.rs == 1 && X.cs % 4 == 0));
}

template <int BK>
void launch(int M, int N, int K, DevMat A, DevMat B, const float* bias, float* C, ptrdiff_t ldc, cudaStream_t s) {
  const DevMat Bt{B.p, B.cs, B.rs};  // element (n, k) = B(k, n)
  const bool ka = A.cs == 1, kb = Bt.cs == 1, vec_a = vec_ok(A, ka), vec_b = vec_ok(Bt, kb);
  const dim3 grid(unsigned((N + BN - 1) / BN), unsigned((M + BM - 1) / BM));
  if (ka && kb)
    gemm_exact_kernel<BK, true, true><<<grid, kThreads, 0, s>>>(M, N, K, A, Bt, bias, C, ldc, vec_a, vec_b);
  else if (ka)
    gemm_exact_kernel<BK, true, false><<<grid, kThreads, 0, s>>>(M, N, K, A, Bt, bias, C, ldc, vec_a, vec_b);
  else if (kb)
    gemm_exact_kernel<BK, false, true><<<grid, kThreads, 0, s>>>(M, N, K, A, Bt, bias, C, ldc, vec_a, vec_b);
  else
    gemm_exact_kernel<BK, false, false><<<grid, kThreads, 0, s>>>(M, N, K, A, Bt, bias, C, ldc, vec_a, vec_b);
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
