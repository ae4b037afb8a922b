#include "tensor/gemm.hpp"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "core/error.hpp"
#include "tensor/mathfn.hpp"

namespace pw {

namespace {

// Register tile MR×NR, panels of KC terms; an A block of MC rows per task and NC
// columns per task. Blocking changes which thread computes an element and when,
// never the order of its terms.
constexpr int MR = 6, NR = 16, KC = 256, MC = 96, NC = 256;

bool g_force_portable = false;


// The register tile's k loop, shared by the kernels below: c_i0, c_i1 (row i's 16 sums)
// += r_i[k·S]·b[k·NR + j], one fma per term, k ascending. S = MR: A packed (pack_a's
// layout, r_i = a + i); S = 1: A's rows read in place.
template <int S>
__attribute__((target("avx2,fma"), always_inline)) inline void tile_fmas(
    int kc, const float* r0, const float* r1, const float* r2, const float* r3, const float* r4, const float* r5,
    const float* b, __m256& c00, __m256& c01, __m256& c10, __m256& c11, __m256& c20, __m256& c21, __m256& c30,
    __m256& c31, __m256& c40, __m256& c41, __m256& c50, __m256& c51) {
#pragma GCC unroll 4
  for (int k = 0; k < kc; k++) {
    __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    __m256 a0 = _mm256_broadcast_ss(r0 + ptrdiff_t(k) * S);
    c00 = _mm256_fmadd_ps(a0, b0, c00);
    c01 = _mm256_fmadd_ps(a0, b1, c01);
    __m256 a1 = _mm256_broadcast_ss(r1 + ptrdiff_t(k) * S);
    c10 = _mm256_fmadd_ps(a1, b0, c10);
    c11 = _mm256_fmadd_ps(a1, b1, c11);
    __m256 a2 = _mm256_broadcast_ss(r2 + ptrdiff_t(k) * S);
    c20 = _mm256_fmadd_ps(a2, b0, c20);
    c21 = _mm256_fmadd_ps(a2, b1, c21);
    __m256 a3 = _mm256_broadcast_ss(r3 + ptrdiff_t(k) * S);
    c30 = _mm256_fmadd_ps(a3, b0, c30);
    c31 = _mm256_fmadd_ps(a3, b1, c31);
    __m256 a4 = _mm256_broadcast_ss(r4 + ptrdiff_t(k) * S);
    c40 = _mm256_fmadd_ps(a4, b0, c40);
    c41 = _mm256_fmadd_ps(a4, b1, c41);
    __m256 a5 = _mm256_broadcast_ss(r5 + ptrdiff_t(k) * S);
    c50 = _mm256_fmadd_ps(a5, b0, c50);
    c51 = _mm256_fmadd_ps(a5, b1, c51);
    b += NR;
  }
}

// c (MR×NR, row stride ldc) = init + Σ_k a[k·MR + i]·b[k·NR + j], one fma per term, k
// ascending. init is c itself (a later k-panel), or `row` (NR values: the bias, or zeros)
// broadcast down the rows on the first panel. With Add (fast mode only), the panel's sum
// starts from `row` (zeros) and is then added to c: c = c + Σ_k …, the order of a BLAS
// with beta = 1.
template <bool Add>
__attribute__((target("avx2,fma"))) void kernel_avx2(int kc, const float* a, const float* b, float* c,
                                                     ptrdiff_t ldc, const float* row) {
  __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
  if (row) {
    const __m256 r0 = _mm256_loadu_ps(row), r1 = _mm256_loadu_ps(row + 8);
    c00 = c10 = c20 = c30 = c40 = c50 = r0;
    c01 = c11 = c21 = c31 = c41 = c51 = r1;
  } else {
    c00 = _mm256_loadu_ps(c + 0 * ldc), c01 = _mm256_loadu_ps(c + 0 * ldc + 8);
    c10 = _mm256_loadu_ps(c + 1 * ldc), c11 = _mm256_loadu_ps(c + 1 * ldc + 8);
    c20 = _mm256_loadu_ps(c + 2 * ldc), c21 = _mm256_loadu_ps(c + 2 * ldc + 8);
    c30 = _mm256_loadu_ps(c + 3 * ldc), c31 = _mm256_loadu_ps(c + 3 * ldc + 8);
    c40 = _mm256_loadu_ps(c + 4 * ldc), c41 = _mm256_loadu_ps(c + 4 * ldc + 8);
    c50 = _mm256_loadu_ps(c + 5 * ldc), c51 = _mm256_loadu_ps(c + 5 * ldc + 8);
  }
  tile_fmas<MR>(kc, a, a + 1, a + 2, a + 3, a + 4, a + 5, b, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
  if (Add) {
    c00 = _mm256_add_ps(_mm256_loadu_ps(c + 0 * ldc), c00), c01 = _mm256_add_ps(_mm256_loadu_ps(c + 0 * ldc + 8), c01);
    c10 = _mm256_add_ps(_mm256_loadu_ps(c + 1 * ldc), c10), c11 = _mm256_add_ps(_mm256_loadu_ps(c + 1 * ldc + 8), c11);
    c20 = _mm256_add_ps(_mm256_loadu_ps(c + 2 * ldc), c20), c21 = _mm256_add_ps(_mm256_loadu_ps(c + 2 * ldc + 8), c21);
    c30 = _mm256_add_ps(_mm256_loadu_ps(c + 3 * ldc), c30), c31 = _mm256_add_ps(_mm256_loadu_ps(c + 3 * ldc + 8), c31);
    c40 = _mm256_add_ps(_mm256_loadu_ps(c + 4 * ldc), c40), c41 = _mm256_add_ps(_mm256_loadu_ps(c + 4 * ldc + 8), c41);
    c50 = _mm256_add_ps(_mm256_loadu_ps(c + 5 * ldc), c50), c51 = _mm256_add_ps(_mm256_loadu_ps(c + 5 * ldc + 8), c51);
  }
  _mm256_storeu_ps(c + 0 * ldc, c00), _mm256_storeu_ps(c + 0 * ldc + 8, c01);
  _mm256_storeu_ps(c + 1 * ldc, c10), _mm256_storeu_ps(c + 1 * ldc + 8, c11);
  _mm256_storeu_ps(c + 2 * ldc, c20), _mm256_storeu_ps(c + 2 * ldc + 8, c21);
  _mm256_storeu_ps(c + 3 * ldc, c30), _mm256_storeu_ps(c + 3 * ldc + 8, c31);
  _mm256_storeu_ps(c + 4 * ldc, c40), _mm256_storeu_ps(c + 4 * ldc + 8, c41);
  _mm256_storeu_ps(c + 5 * ldc, c50), _mm256_storeu_ps(c + 5 * ldc + 8, c51);
}

template <bool Add>
void kernel_portable(int kc, const float* a, const float* b, float* c, ptrdiff_t ldc, const float* row) {
  float acc[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) acc[i][j] = row ? row[j] : c[i * ldc + j];
  for (int k = 0; k < kc; k++, a += MR, b += NR)
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++) acc[i][j] = fmaf_exact(a[i], b[j], acc[i][j]);
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) c[i * ldc + j] = Add ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

using Kernel = void (*)(int, const float*, const float*, float*, ptrdiff_t, const float*);

bool has_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}

bool use_avx2() { return has_avx2() && !g_force_portable; }
Kernel pick_kernel() { return use_avx2() ? kernel_avx2<false> : kernel_portable<false>; }
Kernel pick_add_kernel() { return use_avx2() ? kernel_avx2<true> : kernel_portable<true>; }

// 16 columns of B stored as rows (B(k, j) = src_j[k], B.rs == 1: the forward pass's Wᵀ)
// into the panel layout dst[k·NR + jj]: 8×8 transposes in registers. Data movement only.
__attribute__((target("avx2"))) void pack_b_transpose_avx2(const float* src, ptrdiff_t cs, int kc, float* dst) {
  int k = 0;
  for (; k + 8 <= kc; k += 8)
    for (int half = 0; half < 2; half++) {
      const float* s = src + ptrdiff_t(half * 8) * cs + k;
      __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + cs), r2 = _mm256_loadu_ps(s + 2 * cs),
             r3 = _mm256_loadu_ps(s + 3 * cs), r4 = _mm256_loadu_ps(s + 4 * cs), r5 = _mm256_loadu_ps(s + 5 * cs),
             r6 = _mm256_loadu_ps(s + 6 * cs), r7 = _mm256_loadu_ps(s + 7 * cs);
      __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
             t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
             t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
      __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
             u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
             u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
             u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
      float* d = dst + ptrdiff_t(k) * NR + half * 8;
      _mm256_store_ps(d + 0 * NR, _mm256_permute2f128_ps(u0, u4, 0x20));
      _mm256_store_ps(d + 1 * NR, _mm256_permute2f128_ps(u1, u5, 0x20));
      _mm256_store_ps(d + 2 * NR, _mm256_permute2f128_ps(u2, u6, 0x20));
      _mm256_store_ps(d + 3 * NR, _mm256_permute2f128_ps(u3, u7, 0x20));
      _mm256_store_ps(d + 4 * NR, _mm256_permute2f128_ps(u0, u4, 0x31));
      _mm256_store_ps(d + 5 * NR, _mm256_permute2f128_ps(u1, u5, 0x31));
      _mm256_store_ps(d + 6 * NR, _mm256_permute2f128_ps(u2, u6, 0x31));
      _mm256_store_ps(d + 7 * NR, _mm256_permute2f128_ps(u3, u7, 0x31));
    }
  for (; k < kc; k++)
    for (int jj = 0; jj < NR; jj++) dst[k * NR + jj] = src[jj * cs + k];
}

// dst[k·NR + jj] = B(k0+k, j0+jj), zero past n columns.
void pack_b(const MatView& B, int k0, int kc, int j0, int n, float* dst) {
  if (n < NR) std::memset(dst, 0, sizeof(float) * size_t(kc) * NR);
  if (B.rs == 1) {
    const float* src = B.p + ptrdiff_t(j0) * B.cs + k0;
    if (n == NR && has_avx2()) return pack_b_transpose_avx2(src, B.cs, kc, dst);
    for (int jj = 0; jj < n; jj++)
      for (int k = 0; k < kc; k++) dst[k * NR + jj] = src[jj * B.cs + k];
  } else if (B.cs == 1) {  // rows of B are contiguous: a copy per k
    const float* src = B.p + ptrdiff_t(k0) * B.rs + j0;
    if (n == NR) {  // a fixed-size copy: inlined as vector moves, no call
      for (int k = 0; k < kc; k++) std::memcpy(dst + k * NR, src + ptrdiff_t(k) * B.rs, sizeof(float) * NR);
    } else {
      for (int k = 0; k < kc; k++)
        for (int jj = 0; jj < n; jj++) dst[k * NR + jj] = src[ptrdiff_t(k) * B.rs + jj];
    }
  } else {
    for (int k = 0; k < kc; k++) {
      const float* src = B.p + ptrdiff_t(k0 + k) * B.rs + ptrdiff_t(j0) * B.cs;
      for (int jj = 0; jj < n; jj++) dst[k * NR + jj] = src[jj * B.cs];
    }
  }
}

// Panels p0..p1 of B when its rows are contiguous (B.cs == 1: dz·W's W): k outer, so each
// row of B is read as one run (panel by panel, a panel's 16 columns at every k are 64-byte
// pieces of kc rows a page apart each). Same bytes as pack_b, panel p at
// dst + p·NR·kc.
void pack_b_rows(const MatView& B, int k0, int kc, int p0, int p1, int N, float* dst) {
  for (int p = p0; p < p1; p++)
    if (N - p * NR < NR) std::memset(dst + size_t(p) * NR * kc, 0, sizeof(float) * size_t(kc) * NR);
  for (int k = 0; k < kc; k++) {
    const float* src = B.p + ptrdiff_t(k0 + k) * B.rs;
    for (int p = p0; p < p1; p++) {
      const int j0 = p * NR, n = std::min(NR, N - j0);
      float* d = dst + size_t(p) * NR * kc + size_t(k) * NR;
      if (n == NR) {  // a fixed-size copy, inlined as vector moves (the loop stayed scalar)
        std::memcpy(d, src + j0, sizeof(float) * NR);
      } else {
        for (int jj = 0; jj < n; jj++) d[jj] = src[j0 + jj];
      }
    }
  }
}
constexpr int kRowPackGroup = 8;  // panels per pack_b_rows task: 512-byte runs of each row

// dst[k·MR + ii] = A(i0+ii, k0+k), zero past m rows.
void pack_a(const MatView& A, int i0, int m, int k0, int kc, float* dst) {
  if (m < MR) std::memset(dst, 0, sizeof(float) * size_t(kc) * MR);
  if (A.cs == 1) {
    const float* src = A.p + ptrdiff_t(i0) * A.rs + k0;
    if (m == MR) {
      for (int k = 0; k < kc; k++)
        for (int ii = 0; ii < MR; ii++) dst[k * MR + ii] = src[ii * A.rs + k];
    } else {
      for (int ii = 0; ii < m; ii++)
        for (int k = 0; k < kc; k++) dst[k * MR + ii] = src[ii * A.rs + k];
    }
  } else if (A.rs == 1) {  // columns of A are contiguous (dzᵀ): a copy per k
    const float* src = A.p + ptrdiff_t(k0) * A.cs + i0;
    if (m == MR) {  // a fixed-size copy, inlined as vector moves
      for (int k = 0; k < kc; k++) std::memcpy(dst + k * MR, src + ptrdiff_t(k) * A.cs, sizeof(float) * MR);
    } else {
      for (int k = 0; k < kc; k++)
        for (int ii = 0; ii < m; ii++) dst[k * MR + ii] = src[ptrdiff_t(k) * A.cs + ii];
    }
  } else {
    for (int k = 0; k < kc; k++) {
      const float* src = A.p + ptrdiff_t(k0 + k) * A.cs + ptrdiff_t(i0) * A.rs;
      for (int ii = 0; ii < m; ii++) dst[k * MR + ii] = src[ii * A.rs];
    }
  }
}

// Below this many multiply-adds a GEMM runs on one thread.
constexpr int64_t kParallelMinMacs = int64_t(1) << 18;

// Grows-only scratch, one per thread, reused across calls (no page faults per GEMM).
float* scratch(std::vector<float>& buf, size_t n) {
  if (buf.size() < n + 16) buf.resize(n + 16);
  const uintptr_t p = reinterpret_cast<uintptr_t>(buf.data());
  return reinterpret_cast<float*>((p + 63) & ~uintptr_t(63));
}

// The calling thread's pack buffers (its team reads them), the same for every kind of GEMM
// here: one footprint in the caches, not one per kind. Slot 0: B's panels, 1: A's.
float* pack_scratch(int slot, size_t n) {
  thread_local std::vector<float> bufs[2];
  return scratch(bufs[slot], n);
}

// Blocks of equal size (in whole register tiles) so threads get equal work: M = 128
// makes two blocks of 66 and 62 rows, not 96 and 32.
int even_block(int n, int max_block, int unit) {
  const int nb = (n + max_block - 1) / max_block;
  const int per = (n + nb - 1) / nb;
  return (per + unit - 1) / unit * unit;
}

// Operand roles swapped, for a short A (the batch) against a long B (the weight): Cᵀ =
// Bᵀ·Aᵀ. Bᵀ's rows are read in place when B's columns are contiguous (B.rs == 1: the
// forward pass's Wᵀ, W stored (out, in); six rows of W at a time, each a run of K floats,
// no pass over the weight to pack it), or packed by strips, each thread its own, when B's
// rows are (dz·W); Aᵀ (the K×M activations, small) is packed as a B operand, and each
// register tile is stored transposed. Every element is still one fma chain over all of K, k
// ascending, from its bias (or zero): gemm_run's bits (proofwork(7), EXACT MODE).
// Whole K per tile (no k-panels): a strip of six rows stays in L1 for all M's panels.
// From 64 rows of A: below, the 16-wide tiles' padding would waste more than the plain
// path's 6-row tiles.
constexpr int kSwapMinM = 64, kSwapMaxM = 256, kSwapMaxK = 1024;

// t (MR×NR, contiguous) = init[i] + Σ_k r_i[k·S]·b[k·NR + j]. In place (S = 1): rows
// r_i = a + i·lda, the first `rows` valid, the rest repeating the last one (their results
// dropped). Packed (S = MR): r_i = a + i, pack_a's layout.
template <int S>
__attribute__((target("avx2,fma"))) void kernel_rows_avx2(int kc, const float* a, ptrdiff_t lda, int rows,
                                                          const float* b, float* t, const float* init) {
  const float* r0 = a;
  const float* r1 = S == 1 ? a + std::min(1, rows - 1) * lda : a + 1;
  const float* r2 = S == 1 ? a + std::min(2, rows - 1) * lda : a + 2;
  const float* r3 = S == 1 ? a + std::min(3, rows - 1) * lda : a + 3;
  const float* r4 = S == 1 ? a + std::min(4, rows - 1) * lda : a + 4;
  const float* r5 = S == 1 ? a + std::min(5, rows - 1) * lda : a + 5;
  __m256 c00 = _mm256_set1_ps(init[0]), c01 = c00, c10 = _mm256_set1_ps(init[1]), c11 = c10;
  __m256 c20 = _mm256_set1_ps(init[2]), c21 = c20, c30 = _mm256_set1_ps(init[3]), c31 = c30;
  __m256 c40 = _mm256_set1_ps(init[4]), c41 = c40, c50 = _mm256_set1_ps(init[5]), c51 = c50;
  tile_fmas<S>(kc, r0, r1, r2, r3, r4, r5, b, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
  _mm256_store_ps(t + 0 * NR, c00), _mm256_store_ps(t + 0 * NR + 8, c01);
  _mm256_store_ps(t + 1 * NR, c10), _mm256_store_ps(t + 1 * NR + 8, c11);
  _mm256_store_ps(t + 2 * NR, c20), _mm256_store_ps(t + 2 * NR + 8, c21);
  _mm256_store_ps(t + 3 * NR, c30), _mm256_store_ps(t + 3 * NR + 8, c31);
  _mm256_store_ps(t + 4 * NR, c40), _mm256_store_ps(t + 4 * NR + 8, c41);
  _mm256_store_ps(t + 5 * NR, c50), _mm256_store_ps(t + 5 * NR + 8, c51);
}

// Strips of MR rows of Bᵀ (B.cs == 1: dz·W's W, its rows contiguous), n0.. for `n` rows, k
// outer: each row of B read as one run of n floats, strip t at dst + t·MR·K in pack_a's
// layout, zero past n. Data movement only.
constexpr int kPackAhead = 8;  // rows of B fetched ahead by pack_bt_strips

void pack_bt_strips(const MatView& B, int n0, int n, int K, float* dst) {
  const int strips = (n + MR - 1) / MR, full = n / MR;
  if (full < strips) std::memset(dst + size_t(full) * MR * K, 0, sizeof(float) * MR * size_t(K));
  for (int k = 0; k < K; k++) {
    const float* src = B.p + ptrdiff_t(k) * B.rs + n0;
    if (k + kPackAhead < K)  // rows a page apart: the hardware prefetcher does not follow
      for (int j = 0; j < n; j += 16) _mm_prefetch(reinterpret_cast<const char*>(src + kPackAhead * B.rs + j), _MM_HINT_T0);
    for (int t = 0; t < full; t++) std::memcpy(dst + size_t(t) * MR * K + size_t(k) * MR, src + t * MR, sizeof(float) * MR);
    for (int ii = full * MR; ii < n; ii++) dst[size_t(full) * MR * K + size_t(k) * MR + ii - full * MR] = src[ii];
  }
}

// Strips of Bᵀ packed per group: 8 strips (48 columns of B, three cache lines of each row).
constexpr int kSwapGroup = 8;

bool swap_roles(int M, int N, int K, const MatView& B) {
  return use_avx2() && (B.rs == 1 || B.cs == 1) && M >= kSwapMinM && M <= kSwapMaxM && K <= kSwapMaxK && N >= 8 * MR;
}

void gemm_swapped(int M, int N, int K, MatView A, MatView B, const float* bias, float* C, ptrdiff_t ldc,
                  const GemmEpilogue* epilogue) {
  const int mpanels = (M + NR - 1) / NR, strips = (N + MR - 1) / MR;
  const MatView At{A.p, A.cs, A.rs};
  float* const apack = pack_scratch(0, size_t(mpanels) * NR * size_t(K));
  const float zeros[MR] = {};
#pragma omp parallel if (int64_t(M) * N * K >= kParallelMinMacs)
  {
#pragma omp for schedule(static)
    for (int p = 0; p < mpanels; p++) pack_b(At, 0, K, p * NR, std::min(NR, M - p * NR), apack + size_t(p) * NR * K);
    alignas(64) float tile[MR * NR];
    // A contiguous run of strips per thread: each thread reads its own part of B, once,
    // in place (B.rs == 1) or packed by groups of strips into its own buffer (B.cs == 1):
    // no pass over all of B, no barrier between packing B and using it.
    const int nth = omp_get_num_threads(), tid = omp_get_thread_num();
    const int s_begin = int(int64_t(strips) * tid / nth), s_end = int(int64_t(strips) * (tid + 1) / nth);
    const bool in_place = B.rs == 1;
    thread_local std::vector<float> strip_buf;
    float* const spack = in_place ? nullptr : scratch(strip_buf, size_t(kSwapGroup) * MR * size_t(K));
    for (int g = s_begin; g < s_end; g += kSwapGroup) {
      const int g_end = std::min(s_end, g + kSwapGroup);
      if (!in_place) pack_bt_strips(B, g * MR, std::min(N, g_end * MR) - g * MR, K, spack);
      for (int s = g; s < g_end; s++) {
        const int n0 = s * MR, rows = std::min(MR, N - n0);
        float init[MR];
        for (int i = 0; i < MR; i++) init[i] = bias && i < rows ? bias[n0 + i] : zeros[i];
        for (int p = 0; p < mpanels; p++) {
          const int m0 = p * NR, cols = std::min(NR, M - m0);
          const float* b = apack + size_t(p) * NR * K;
          if (in_place)
            kernel_rows_avx2<1>(K, B.p + ptrdiff_t(n0) * B.cs, B.cs, rows, b, tile, init);
          else
            kernel_rows_avx2<MR>(K, spack + size_t(s - g) * MR * K, 1, MR, b, tile, init);
          for (int j = 0; j < cols; j++)
            for (int i = 0; i < rows; i++) C[ptrdiff_t(m0 + j) * ldc + n0 + i] = tile[i * NR + j];
        }
      }
    }
    if (epilogue) {
#pragma omp barrier
#pragma omp for schedule(static)
      for (int i0 = 0; i0 < M; i0 += NR) epilogue->fn(epilogue->ctx, i0, std::min(NR, M - i0), 0, N);
    }
  }
}

// Both modes. Exact: each output starts from its bias -- or, `from_c`, from C's own value,
// a chain continued -- and every k-panel continues from where the last one stopped, so
// its terms are added in one chain, k ascending. Fast (kc_panel > 0): panels of kc_panel
// terms, each summed from zero and then added to C, the bias added last.
void gemm_run(int M, int N, int K, MatView A, MatView B, const float* bias, float* C, ptrdiff_t ldc, int kc_panel,
              const GemmEpilogue* epilogue, bool from_c = false) {
  if (M <= 0 || N <= 0) return;
  const bool fast = kc_panel > 0;
  if (from_c && (fast || bias)) internal_error("gemm: a continued chain is exact and has no bias");
  const int kc_step = fast ? std::min(kc_panel, KC) : KC;
  if (K <= 0) {
    for (int i = 0; i < M && !from_c; i++)
      for (int j = 0; j < N; j++) C[ptrdiff_t(i) * ldc + j] = bias ? bias[j] : 0.0f;
    if (epilogue) epilogue->fn(epilogue->ctx, 0, M, 0, N);
    return;
  }
  if (!fast && !from_c && swap_roles(M, N, K, B)) return gemm_swapped(M, N, K, A, B, bias, C, ldc, epilogue);
  const Kernel kernel = pick_kernel(), add_kernel = pick_add_kernel();
  const int npanels = (N + NR - 1) / NR;
  // A and B are packed whole, all of K, in one pass before any product: one barrier per
  // GEMM, not two per k-panel (on a shared machine each barrier can cost a time slice).
  // K-panel q (k0 = q·kc_step, kc terms) of B starts at k0·NR·npanels, its panel p at
  // + p·NR·kc; of A at k0·MR·mtiles, row tile t at + t·MR·kc (blocks start on whole
  // tiles): within a k-panel, the layout of a pass that packs one k-panel at a time.
  // Data movement only.
  const int mtiles = (M + MR - 1) / MR;
  const int kpanels = (K + kc_step - 1) / kc_step;
  float* const bpack = pack_scratch(0, size_t(npanels) * NR * size_t(K));
  float* const apack = pack_scratch(1, size_t(mtiles) * MR * size_t(K));
  // B's pack tasks: one per panel, or per group of panels when B's rows are contiguous.
  const bool b_rows = B.cs == 1 && B.rs != 1;
  const int bunits = b_rows ? (npanels + kRowPackGroup - 1) / kRowPackGroup : npanels;
  // First-panel initial values per register tile: the bias (zero-padded), or zeros.
  thread_local std::vector<float> init_buf;
  float* const init = scratch(init_buf, size_t(npanels) * NR);
  for (int j = 0; j < npanels * NR; j++) init[j] = (bias && j < N && !fast) ? bias[j] : 0.0f;
  const int mc_blk = std::min(MC, even_block(M, MC, MR)), nc_blk = std::min(NC, even_block(N, NC, NR));
  const int mblocks = (M + mc_blk - 1) / mc_blk, nblocks = (N + nc_blk - 1) / nc_blk;
  // Column blocks of each band of rows still to finish (the epilogue's trigger).
  std::unique_ptr<std::atomic<int>[]> band_left(epilogue ? new std::atomic<int>[size_t(mblocks)] : nullptr);
  for (int ib = 0; epilogue && ib < mblocks; ib++) band_left[ib].store(nblocks, std::memory_order_relaxed);
#pragma omp parallel if (int64_t(M) * N * K >= kParallelMinMacs)
  {
    alignas(64) float tile[MR * NR];
#pragma omp for collapse(2) schedule(static)
    for (int q = 0; q < kpanels; q++)
      for (int w = 0; w < bunits + mtiles; w++) {
        const int k0 = q * kc_step, kc = std::min(kc_step, K - k0);
        float* const bq = bpack + size_t(k0) * NR * npanels;
        if (w >= bunits) {
          const int t = w - bunits;
          pack_a(A, t * MR, std::min(MR, M - t * MR), k0, kc, apack + size_t(k0) * MR * mtiles + size_t(t) * MR * kc);
        } else if (b_rows) {
          pack_b_rows(B, k0, kc, w * kRowPackGroup, std::min(npanels, (w + 1) * kRowPackGroup), N, bq);
        } else {
          pack_b(B, k0, kc, w * NR, std::min(NR, N - w * NR), bq + size_t(w) * NR * kc);
        }
      }
    // A task owns a block of C for all of K: its k-panels in order, each register tile's
    // sum continuing from where the last panel left it (exact) or added to it (fast).
#pragma omp for collapse(2) schedule(dynamic, 1)
    for (int ib = 0; ib < mblocks; ib++)
      for (int jb = 0; jb < nblocks; jb++) {
        const int i0 = ib * mc_blk, mc = std::min(mc_blk, M - i0);
        const int j_end = std::min(N, (jb + 1) * nc_blk);
        for (int k0 = 0; k0 < K; k0 += kc_step) {
          const int kc = std::min(kc_step, K - k0);
          const bool first = k0 == 0 && !from_c;  // the chain starts at the bias (or zeros) here
          // Exact: later panels continue from C. Fast: they start from zeros and add to C.
          const Kernel run = k0 == 0 || !fast ? kernel : add_kernel;
          for (int j0 = jb * nc_blk; j0 < j_end; j0 += NR) {
            const float* bp = bpack + size_t(k0) * NR * npanels + size_t(j0 / NR) * NR * kc;
            const float* row = first || fast ? init + j0 : nullptr;
            const int n = std::min(NR, N - j0);
            for (int ir = 0; ir < mc; ir += MR) {
              const int m = std::min(MR, mc - ir);
              const float* ap = apack + size_t(k0) * MR * mtiles + size_t(i0 + ir) * kc;
              float* c = C + ptrdiff_t(i0 + ir) * ldc + j0;
              // C's lines of the tile, fetched while the tile's fmas run: with ldc a
              // multiple of 1024 floats its rows share a set of L1 and evict each other.
              for (int i = 0; i < m; i++) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
              if (m == MR && n == NR) {
                run(kc, ap, bp, c, ldc, row);
              } else {  // edge tile: run on a padded copy, keep the valid part
                if (!first)
                  for (int i = 0; i < MR; i++)
                    for (int j = 0; j < NR; j++) tile[i * NR + j] = (i < m && j < n) ? c[i * ldc + j] : 0.0f;
                run(kc, ap, bp, tile, NR, row);
                for (int i = 0; i < m; i++)
                  for (int j = 0; j < n; j++) c[i * ldc + j] = tile[i * NR + j];
              }
            }
          }
        }
        // Exact: a band of rows is final when its last column block is; whichever thread
        // finishes that block runs the band's epilogue (whole rows: contiguous memory).
        // Fast: the bias comes first, below.
        if (epilogue && !fast && band_left[ib].fetch_sub(1, std::memory_order_acq_rel) == 1)
          epilogue->fn(epilogue->ctx, i0, mc, 0, N);
      }
    if (fast && bias) {
#pragma omp for schedule(static)
      for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) C[ptrdiff_t(i) * ldc + j] = C[ptrdiff_t(i) * ldc + j] + bias[j];
    }
    if (fast && epilogue) {
#pragma omp for schedule(static)
      for (int ib = 0; ib < mblocks; ib++) epilogue->fn(epilogue->ctx, ib * mc_blk, std::min(mc_blk, M - ib * mc_blk), 0, N);
    }
  }
}

// One register tile of the chunked batch reduction (proofwork(7), EXACT MODE): c (MR×NR,
// row stride ldc) = the pairwise tree over `nchunks` chunks of `chunk` terms, each chunk an
// fma chain from zero, k ascending, each node left + right: gemm_chunked_reference's
// order, whatever the blocking or threads.
// The chunks go two at a time, each pair in two halves of MR/2 rows: chunks 2p and 2p+1
// side by side in registers (their fmas interleaved), added (left + right) in registers,
// the pair's sum then a level-1 node: added to the left siblings it completes (on the
// half's own stack, one half tile a level) or pushed, the root stored to c. Storing every
// chunk's partial (a tile of 12 vectors a chunk) cost more than the arithmetic at small
// chunks; pairs halve those stores. Both halves of a pair run back to back, so the
// second reads the pair's A and B lines while the first has just brought them into L1
// (one half over all the pairs and then the other read each line twice, far apart). One
// chunk (the whole batch) is the plain kernel's chain from zeros.
// Chunk is a template argument for the common sizes (Chunk > 0: the k loop unrolled,
// so a pair's boundary work overlaps the next pair's fmas), 0 for any other.
template <int Chunk>
__attribute__((target("avx2,fma"))) void chunked_tile_avx2(int nchunks, int chunk_any, const float* a, const float* b,
                                                           float* c, ptrdiff_t ldc, float* stack) {
  if (nchunks == 1) {
    alignas(32) static const float zeros[NR] = {};
    return kernel_avx2<false>(chunk_any, a, b, c, ldc, zeros);
  }
  constexpr int H = MR / 2;
  const int chunk = Chunk > 0 ? Chunk : chunk_any;
  int levels = 0;  // of the pairs' tree: each half's stack holds at most that many nodes
  while ((2 << levels) < nchunks) levels++;
  // C's lines of the tile, fetched now: a store that misses holds up the stores behind it
  // (the partials), and the store queue fills.
  for (int i = 0; i < MR; i++) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
  int tops[2] = {0, 0};
  for (int p = 0; p < nchunks / 2; p++) {
    for (int h = 0; h < 2; h++) {
      int& top = tops[h];
      float* const half_stack = stack + size_t(h) * levels * H * NR;
      const float* al = a + size_t(2 * p) * chunk * MR + h * H;  // rows h·H.. of chunk 2p's a
      const float* ar = al + size_t(chunk) * MR;
      const float* bl = b + size_t(2 * p) * chunk * NR;
      const float* br = bl + size_t(chunk) * NR;
      __m256 l[H][2], r[H][2];
#pragma GCC unroll 3
      for (int i = 0; i < H; i++) l[i][0] = l[i][1] = r[i][0] = r[i][1] = _mm256_setzero_ps();
#pragma GCC unroll 4
      for (int k = 0; k < chunk; k++) {
        __m256 b0 = _mm256_load_ps(bl), b1 = _mm256_load_ps(bl + 8);
#pragma GCC unroll 3
        for (int i = 0; i < H; i++) {
          const __m256 ai = _mm256_broadcast_ss(al + i);
          l[i][0] = _mm256_fmadd_ps(ai, b0, l[i][0]);
          l[i][1] = _mm256_fmadd_ps(ai, b1, l[i][1]);
        }
        b0 = _mm256_load_ps(br), b1 = _mm256_load_ps(br + 8);
#pragma GCC unroll 3
        for (int i = 0; i < H; i++) {
          const __m256 ai = _mm256_broadcast_ss(ar + i);
          r[i][0] = _mm256_fmadd_ps(ai, b0, r[i][0]);
          r[i][1] = _mm256_fmadd_ps(ai, b1, r[i][1]);
        }
        al += MR, ar += MR, bl += NR, br += NR;
      }
#pragma GCC unroll 3
      for (int i = 0; i < H; i++) l[i][0] = _mm256_add_ps(l[i][0], r[i][0]), l[i][1] = _mm256_add_ps(l[i][1], r[i][1]);
      for (int node = p; node & 1; node >>= 1) {  // a right child: left + right, a level up
        const float* left = half_stack + size_t(--top) * H * NR;
#pragma GCC unroll 3
        for (int i = 0; i < H; i++) {
          l[i][0] = _mm256_add_ps(_mm256_load_ps(left + i * NR), l[i][0]);
          l[i][1] = _mm256_add_ps(_mm256_load_ps(left + i * NR + 8), l[i][1]);
        }
      }
      const bool root = p == nchunks / 2 - 1;
      float* const dst = root ? c + h * H * ldc : half_stack + size_t(top++) * H * NR;
      const ptrdiff_t ld = root ? ldc : NR;
#pragma GCC unroll 3
      for (int i = 0; i < H; i++) {
        _mm256_storeu_ps(dst + i * ld, l[i][0]);
        _mm256_storeu_ps(dst + i * ld + 8, l[i][1]);
      }
    }
  }
}

void chunked_tile_portable(int nchunks, int chunk, const float* a, const float* b, float* c, ptrdiff_t ldc,
                           float* stack) {
  int top = 0;
  for (int q = 0; q < nchunks; q++) {
    float acc[MR][NR] = {};
    for (int k = 0; k < chunk; k++, a += MR, b += NR)
      for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) acc[i][j] = fmaf_exact(a[i], b[j], acc[i][j]);
    for (int node = q; node & 1; node >>= 1) {
      const float* left = stack + size_t(--top) * MR * NR;
      for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) acc[i][j] = left[i * NR + j] + acc[i][j];
    }
    const bool root = q == nchunks - 1;
    float* const dst = root ? c : stack + size_t(top++) * MR * NR;
    const ptrdiff_t ld = root ? ldc : NR;
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++) dst[i * ld + j] = acc[i][j];
  }
}

// Chunked: A and B packed whole, all of K (the size of the batch's activations), in one
// pass; then each block of C, tile by tile, runs its chunks back to back (chunked_tile_*).
void gemm_chunked_run(int M, int N, int K, MatView A, MatView B, float* C, ptrdiff_t ldc, int chunk,
                      const GemmEpilogue* epilogue) {
  if (M <= 0 || N <= 0) return;
  const int nchunks = K / chunk;
  int levels = 0;
  while ((1 << levels) < nchunks) levels++;
  using TileFn = void (*)(int, int, const float*, const float*, float*, ptrdiff_t, float*);
  TileFn tile_fn = chunked_tile_portable;
  if (use_avx2()) {
    switch (chunk) {
      case 8: tile_fn = chunked_tile_avx2<8>; break;
      case 16: tile_fn = chunked_tile_avx2<16>; break;
      case 32: tile_fn = chunked_tile_avx2<32>; break;
      default: tile_fn = chunked_tile_avx2<0>; break;
    }
  }
  const int npanels = (N + NR - 1) / NR, mtiles = (M + MR - 1) / MR;
  float* const bpack = pack_scratch(0, size_t(npanels) * NR * size_t(K));
  float* const apack = pack_scratch(1, size_t(mtiles) * MR * size_t(K));
  const int mc_blk = std::min(MC, even_block(M, MC, MR)), nc_blk = std::min(NC, even_block(N, NC, NR));
  const int mblocks = (M + mc_blk - 1) / mc_blk, nblocks = (N + nc_blk - 1) / nc_blk;
  // B's pack tasks as gemm_run's (one k-panel of all K: the same layout, panel p at
  // p·NR·K): groups of panels when B's rows are contiguous (x, the weight gradient's B).
  const bool b_rows = B.cs == 1 && B.rs != 1;
  const int bunits = b_rows ? (npanels + kRowPackGroup - 1) / kRowPackGroup : npanels;
  std::unique_ptr<std::atomic<int>[]> band_left(epilogue ? new std::atomic<int>[size_t(mblocks)] : nullptr);
  for (int ib = 0; epilogue && ib < mblocks; ib++) band_left[ib].store(nblocks, std::memory_order_relaxed);
#pragma omp parallel if (int64_t(M) * N * K >= kParallelMinMacs)
  {
#pragma omp for schedule(static)
    for (int w = 0; w < bunits + mtiles; w++) {
      if (w >= bunits) {
        const int t = w - bunits;
        pack_a(A, t * MR, std::min(MR, M - t * MR), 0, K, apack + size_t(t) * MR * K);
      } else if (b_rows) {
        pack_b_rows(B, 0, K, w * kRowPackGroup, std::min(npanels, (w + 1) * kRowPackGroup), N, bpack);
      } else {
        pack_b(B, 0, K, w * NR, std::min(NR, N - w * NR), bpack + size_t(w) * NR * K);
      }
    }
    thread_local std::vector<float> stack_buf;
    float* const stack = scratch(stack_buf, size_t(levels + 1) * MR * NR);
    alignas(64) float tile[MR * NR];
#pragma omp for collapse(2) schedule(dynamic, 1)
    for (int ib = 0; ib < mblocks; ib++)
      for (int jb = 0; jb < nblocks; jb++) {
        const int i0 = ib * mc_blk, mc = std::min(mc_blk, M - i0);
        for (int j0 = jb * nc_blk; j0 < std::min(N, (jb + 1) * nc_blk); j0 += NR) {
          const int n = std::min(NR, N - j0);
          const float* bp = bpack + size_t(j0 / NR) * NR * K;
          for (int ir = 0; ir < mc; ir += MR) {
            const int m = std::min(MR, mc - ir);
            const float* ap = apack + size_t(i0 + ir) * K;
            float* const c = C + ptrdiff_t(i0 + ir) * ldc + j0;
            if (m == MR && n == NR) {
              tile_fn(nchunks, chunk, ap, bp, c, ldc, stack);
            } else {  // edge tile: computed whole on the zero padding, the valid part kept
              tile_fn(nchunks, chunk, ap, bp, tile, NR, stack);
              for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) c[i * ldc + j] = tile[i * NR + j];
            }
          }
        }
        // A band of rows is final when its last column block is (gemm_run's rule).
        if (epilogue && band_left[ib].fetch_sub(1, std::memory_order_acq_rel) == 1) epilogue->fn(epilogue->ctx, i0, mc, 0, N);
      }
  }
}

}  // namespace

void gemm_chunked(int M, int N, int K, MatView A, MatView B, float* C, ptrdiff_t ldc, int chunk,
                  const GemmEpilogue* epilogue) {
  if (chunk <= 0 || K % chunk != 0 || ((K / chunk) & (K / chunk - 1)) != 0)
    internal_error("gemm_chunked: K = " + std::to_string(K) + " is not a power-of-two count of chunks of " +
                   std::to_string(chunk));
  gemm_chunked_run(M, N, K, A, B, C, ldc, chunk, epilogue);
}

void gemm_chunked_reference(int M, int N, int K, MatView A, MatView B, float* C, ptrdiff_t ldc, int chunk) {
  const int n = K / chunk;
  std::vector<float> part(static_cast<size_t>(n));
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      for (int q = 0; q < n; q++) {
        float acc = 0.0f;
        for (int k = q * chunk; k < (q + 1) * chunk; k++) acc = fmaf_exact(A.p[i * A.rs + k * A.cs], B.p[k * B.rs + j * B.cs], acc);
        part[size_t(q)] = acc;
      }
      for (int width = 1; width < n; width *= 2)  // the tree, level by level
        for (int q = 0; q + width < n; q += 2 * width) part[size_t(q)] = part[size_t(q)] + part[size_t(q + width)];
      C[ptrdiff_t(i) * ldc + j] = part[0];
    }
}

void gemm_exact(int M, int N, int K, MatView A, MatView B, const float* bias, float* C, ptrdiff_t ldc,
                const GemmEpilogue* epilogue) {
  gemm_run(M, N, K, A, B, bias, C, ldc, -1, epilogue);
}

void gemm_exact_continue(int M, int N, int K, MatView A, MatView B, float* C, ptrdiff_t ldc) {
  gemm_run(M, N, K, A, B, nullptr, C, ldc, -1, nullptr, true);
}

void gemm_fast(int M, int N, int K, MatView A, MatView B, const float* bias, float* C, ptrdiff_t ldc, int kc_panel,
               const GemmEpilogue* epilogue) {
  if (kc_panel <= 0) internal_error("gemm_fast: panel size must be positive");
  gemm_run(M, N, K, A, B, bias, C, ldc, kc_panel, epilogue);
}

void gemm_reference(int M, int N, int K, MatView A, MatView B, const float* bias, float* C, ptrdiff_t ldc) {
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      float acc = bias ? bias[j] : 0.0f;
      for (int k = 0; k < K; k++) acc = fmaf_exact(A.p[i * A.rs + k * A.cs], B.p[k * B.rs + j * B.cs], acc);
      C[ptrdiff_t(i) * ldc + j] = acc;
    }
}

const char* gemm_kernel_name() { return use_avx2() ? "avx2-fma" : "portable"; }
void gemm_force_portable(bool on) { g_force_portable = on; }


}  // namespace pw
