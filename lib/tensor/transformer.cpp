// The transformer's CPU kernels (proofwork(7), TRANSFORMER KERNELS). Each output's chain
// runs in the order transformer.hpp states; OpenMP shares out whole outputs (rows, heads,
// column blocks), so the bits are the same on any thread count. Loops vectorise across
// independent chains (several rows, several keys), never along one chain.
#include "tensor/transformer.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "tensor/ops.hpp"

namespace pw {

// AVX2+FMA and baseline x86-64 builds of a loop, picked at load time: the same operations
// per element (fma written out, no contraction), so the same bits whichever runs.
#define PW_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))

namespace {

// A per-thread buffer of at least n floats, reused across calls.
float* scratch(std::vector<float>& buf, size_t n) {
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

}  // namespace

// ---------------------------------------------------------------- element-wise

PW_VECTOR_CLONES void gelu_forward(const float* x, float* y, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; i++) y[i] = gelu_elem(x[i]);
}

PW_VECTOR_CLONES void gelu_backward(const float* dy, const float* x, float* dx, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; i++) dx[i] = gelu_grad_elem(x[i], dy[i]);
}

PW_VECTOR_CLONES void add_forward(const float* a, const float* b, float* out, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

PW_VECTOR_CLONES void scale_inplace(float* g, int64_t n, float s) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; i++) g[i] = g[i] * s;
}

// ---------------------------------------------------------------- sum of squares

PW_VECTOR_CLONES float sum_squares(const float* g, int64_t n) {
  const int64_t nblocks = (n + kSumSquaresBlock - 1) / kSumSquaresBlock;
  const int64_t full = n / kSumSquaresBlock;  // blocks of exactly kSumSquaresBlock
  constexpr int R = 8;
  const int64_t groups = full / R;
  thread_local std::vector<float> part_buf;
  float* part = scratch(part_buf, size_t(nblocks));
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t grp = 0; grp < groups; grp++)
    sum_squares_blocks<R>(g + grp * R * kSumSquaresBlock, kSumSquaresBlock, part + grp * R);
  for (int64_t blk = groups * R; blk < nblocks; blk++)
    sum_squares_blocks<1>(g + blk * kSumSquaresBlock, std::min(kSumSquaresBlock, n - blk * kSumSquaresBlock),
                          part + blk);
  return sum_squares_total(part, nblocks);
}

// ---------------------------------------------------------------- embedding

PW_VECTOR_CLONES void embedding_forward(const float* tokens, const float* wte, const float* wpe, float* out, int B,
                                        int T, int C) {
  const int64_t rows = int64_t(B) * T;
#pragma omp parallel for schedule(static) if (rows * C >= kParallelMin)
  for (int64_t r = 0; r < rows; r++) {
    const float* we = wte + int64_t(tokens[r]) * C;
    const float* pe = wpe + (r % T) * C;
    float* o = out + r * C;
#pragma omp simd
    for (int c = 0; c < C; c++) o[c] = we[c] + pe[c];
  }
}

PW_VECTOR_CLONES void embedding_backward(const float* tokens, const float* dout, float* dwte, float* dwpe, int B,
                                         int T, int C, int V, int Tmax) {
  const int64_t rows = int64_t(B) * T;
  const bool par = rows * C >= kParallelMin;
  // dwpe: position t's rows are b·T + t, b ascending.
#pragma omp parallel for schedule(static) if (par)
  for (int t = 0; t < Tmax; t++) {
    float* o = dwpe + int64_t(t) * C;
    for (int c = 0; c < C; c++) o[c] = 0.0f;
    if (t >= T) continue;
    for (int b = 0; b < B; b++) {
      const float* d = dout + (int64_t(b) * T + t) * C;
#pragma omp simd
      for (int c = 0; c < C; c++) o[c] = o[c] + d[c];
    }
  }
  // dwte: the rows of each token id, ascending (a stable counting sort), then one chain
  // per id from zero, added once to dwte.
  thread_local std::vector<int64_t> start_buf, order_buf;
  start_buf.assign(size_t(V) + 1, 0);
  order_buf.resize(size_t(rows));
  int64_t* start = start_buf.data();
  int64_t* order = order_buf.data();
  for (int64_t r = 0; r < rows; r++) {
    const float id = tokens[r];
    if (!(id >= 0.0f && id < float(V) && id == float(int64_t(id))))
      internal_error("embedding_backward: token id " + std::to_string(id) + " at row " + std::to_string(r) +
                     " is not in [0, " + std::to_string(V) + ")");
    start[int64_t(id) + 1]++;
  }
  for (int v = 0; v < V; v++) start[v + 1] += start[v];
  {
    thread_local std::vector<int64_t> fill_buf;
    fill_buf.assign(start, start + V);
    for (int64_t r = 0; r < rows; r++) order[fill_buf[size_t(tokens[r])]++] = r;
  }
#pragma omp parallel for schedule(dynamic, 4) if (par)
  for (int v = 0; v < V; v++) {
    if (start[v] == start[v + 1]) continue;
    thread_local std::vector<float> sum_buf;
    float* s = scratch(sum_buf, size_t(C));
    for (int c = 0; c < C; c++) s[c] = 0.0f;
    for (int64_t k = start[v]; k < start[v + 1]; k++) {
      const float* d = dout + order[k] * C;
#pragma omp simd
      for (int c = 0; c < C; c++) s[c] = s[c] + d[c];
    }
    float* o = dwte + int64_t(v) * C;
#pragma omp simd
    for (int c = 0; c < C; c++) o[c] = o[c] + s[c];
  }
}

// ---------------------------------------------------------------- LayerNorm

namespace {

constexpr int kRowGroup = 8;      // rows whose chains run side by side
constexpr int kColumnBlock = 32;  // columns of dw, db per task

}  // namespace

PW_VECTOR_CLONES void layernorm_forward(const float* x, const float* w, const float* b, float* y, float* mean,
                                        float* rstd, int64_t N, int C, float eps) {
  const int64_t groups = (N + kRowGroup - 1) / kRowGroup;
#pragma omp parallel for schedule(static) if (N * C >= kParallelMin)
  for (int64_t grp = 0; grp < groups; grp++) {
    const int64_t r0 = grp * kRowGroup, r1 = std::min(N, r0 + kRowGroup);
    if (r1 - r0 == kRowGroup)
      layernorm_stats<kRowGroup>(x + r0 * C, C, eps, mean + r0, rstd + r0);
    else
      for (int64_t r = r0; r < r1; r++) layernorm_stats<1>(x + r * C, C, eps, mean + r, rstd + r);
    for (int64_t r = r0; r < r1; r++) {
      const float* xr = x + r * C;
      float* yr = y + r * C;
      const float m = mean[r], s = rstd[r];
#pragma omp simd
      for (int c = 0; c < C; c++) yr[c] = layernorm_out_elem(xr[c], m, s, w[c], b[c]);
    }
  }
}

PW_VECTOR_CLONES void layernorm_backward(const float* dy, const float* x, const float* w, const float* mean,
                                         const float* rstd, float* dx, float* dw, float* db, int64_t N, int C,
                                         int64_t chunk_rows, bool continue_chains) {
  const bool par = N * C >= kParallelMin;
  const int64_t groups = (N + kRowGroup - 1) / kRowGroup;
#pragma omp parallel for schedule(static) if (par)
  for (int64_t grp = 0; grp < groups; grp++) {
    const int64_t r0 = grp * kRowGroup, r1 = std::min(N, r0 + kRowGroup);
    float m1[kRowGroup], m2[kRowGroup];
    if (r1 - r0 == kRowGroup)
      layernorm_dsums<kRowGroup>(dy + r0 * C, x + r0 * C, w, mean + r0, rstd + r0, C, m1, m2);
    else
      for (int64_t r = r0; r < r1; r++)
        layernorm_dsums<1>(dy + r * C, x + r * C, w, mean + r, rstd + r, C, m1 + (r - r0), m2 + (r - r0));
    for (int64_t r = r0; r < r1; r++) {
      const float *dyr = dy + r * C, *xr = x + r * C;
      float* dxr = dx + r * C;
      const float m = mean[r], s = rstd[r], a = m1[r - r0], q = m2[r - r0];
#pragma omp simd
      for (int c = 0; c < C; c++) dxr[c] = layernorm_dx_elem(dyr[c] * w[c], layernorm_xhat(xr[c], m, s), a, q, s);
    }
  }
  // dw, db: blocks of columns, rows ascending inside each (a chunk's rows, with chunks:
  // each chunk's partials dw then db, then the tree over the chunks).
  const int nblocks = (C + kColumnBlock - 1) / kColumnBlock;
  const int64_t rows = chunk_rows > 0 ? chunk_rows : N, nchunks = N / rows;
  if (chunk_rows > 0 && continue_chains) internal_error("layernorm_backward: continued chains have no chunks");
  if (chunk_rows > 0 && (N % chunk_rows != 0 || (nchunks & (nchunks - 1)) != 0))
    internal_error("layernorm_backward: " + std::to_string(N) + " rows are not a power-of-two count of chunks of " +
                   std::to_string(chunk_rows));
  thread_local std::vector<float> part_buf;
  float* const part = chunk_rows > 0 ? scratch(part_buf, size_t(nchunks) * 2 * size_t(C)) : nullptr;
#pragma omp parallel for collapse(2) schedule(static) if (par)
  for (int64_t q = 0; q < nchunks; q++)
    for (int blk = 0; blk < nblocks; blk++) {
      float* const dwq = part ? part + size_t(q) * 2 * size_t(C) : dw;
      float* const dbq = part ? dwq + C : db;
      const int c0 = blk * kColumnBlock, c1 = std::min(C, c0 + kColumnBlock);
      for (int c = c0; c < c1 && !continue_chains; c++) dwq[c] = 0.0f, dbq[c] = 0.0f;
      for (int64_t r = q * rows; r < (q + 1) * rows; r++) {
        const float *dyr = dy + r * C, *xr = x + r * C;
        const float m = mean[r], s = rstd[r];
#pragma omp simd
        for (int c = c0; c < c1; c++) {
          dwq[c] = fmaf_exact(dyr[c], layernorm_xhat(xr[c], m, s), dwq[c]);
          dbq[c] = dbq[c] + dyr[c];
        }
      }
    }
  if (!part) return;
  tree_combine(part, nchunks, 2 * int64_t(C));  // dw and db side by side: element-wise, the same tree
  std::copy(part, part + C, dw);
  std::copy(part + C, part + 2 * C, db);
}

// ---------------------------------------------------------------- attention

namespace {

// dst (d,T) = the transpose of T rows of d floats at src with row stride `stride`.
PW_INLINE void transpose_head(const float* src, int64_t stride, int T, int d, float* dst) {
  for (int t = 0; t < T; t++)
    for (int i = 0; i < d; i++) dst[int64_t(i) * T + t] = src[t * stride + i];
}

// out[t2] = Σ_i a[i]·bT[i,t2] for t2 < n, each an fma chain over i ascending from zero;
// bT is (d,T). The chains of consecutive t2 run side by side (vectorised).
PW_INLINE void row_dots(const float* a, const float* bT, int n, int T, int d, float* out) {
  for (int t2 = 0; t2 < n; t2++) out[t2] = 0.0f;
  for (int i = 0; i < d; i++) {
    const float ai = a[i];
    const float* br = bT + int64_t(i) * T;
#pragma omp simd
    for (int t2 = 0; t2 < n; t2++) out[t2] = fmaf_exact(ai, br[t2], out[t2]);
  }
}

// out[i] = Σ_{t2<n} w[t2]·rows[t2·stride + i] for i < d, each an fma chain over t2
// ascending from zero (acc: d floats of scratch).
PW_INLINE void weighted_rows(const float* w, const float* rows, int64_t stride, int n, int d, float* acc, float* out) {
  for (int i = 0; i < d; i++) acc[i] = 0.0f;
  for (int t2 = 0; t2 < n; t2++) {
    const float wt = w[t2];
    const float* r = rows + t2 * stride;
#pragma omp simd
    for (int i = 0; i < d; i++) acc[i] = fmaf_exact(wt, r[i], acc[i]);
  }
  for (int i = 0; i < d; i++) out[i] = acc[i];
}

}  // namespace

PW_VECTOR_CLONES void attention_forward(const float* qkv, float* out, float* att, int B, int T, int C, int H) {
  const int d = C / H;
  const int64_t C3 = 3 * int64_t(C);
  const float scale = attention_scale(d);
#pragma omp parallel for schedule(static) if (int64_t(B) * H * T * T * d >= kParallelMin)
  for (int bh = 0; bh < B * H; bh++) {
    const int b = bh / H, h = bh % H;
    const float* base = qkv + int64_t(b) * T * C3 + int64_t(h) * d;  // q of (b, t=0, head h)
    thread_local std::vector<float> buf;
    float* kT = scratch(buf, size_t(d) * T + d);  // kT (d,T), then acc (d)
    float* acc = kT + size_t(d) * T;
    transpose_head(base + C, C3, T, d, kT);
    for (int t = 0; t < T; t++) {
      const int n = t + 1;
      float* p = att + (int64_t(bh) * T + t) * T;  // the scores, then the probabilities
      row_dots(base + t * C3, kT, n, T, d, p);
#pragma omp simd
      for (int t2 = 0; t2 < n; t2++) p[t2] = p[t2] * scale;
      attention_softmax_row(p, n);
      for (int t2 = n; t2 < T; t2++) p[t2] = 0.0f;
      weighted_rows(p, base + 2 * C, C3, n, d, acc, out + (int64_t(b) * T + t) * C + int64_t(h) * d);
    }
  }
}

PW_VECTOR_CLONES void attention_backward(const float* dout, const float* qkv, const float* att, float* dqkv, int B,
                                         int T, int C, int H) {
  const int d = C / H;
  const int64_t C3 = 3 * int64_t(C);
  const float scale = attention_scale(d);
#pragma omp parallel for schedule(static) if (int64_t(B) * H * T * T * d >= kParallelMin)
  for (int bh = 0; bh < B * H; bh++) {
    const int b = bh / H, h = bh % H;
    const float* base = qkv + int64_t(b) * T * C3 + int64_t(h) * d;
    const float* dbase = dout + int64_t(b) * T * C + int64_t(h) * d;
    float* gbase = dqkv + int64_t(b) * T * C3 + int64_t(h) * d;
    thread_local std::vector<float> buf;
    // vT (d,T), dk (T,d), dv (T,d), a row of dp then ds (T), acc (d)
    float* vT = scratch(buf, size_t(d) * T * 3 + T + d);
    float* dk = vT + size_t(d) * T;
    float* dv = dk + size_t(d) * T;
    float* dsrow = dv + size_t(d) * T;
    float* acc = dsrow + T;
    transpose_head(base + 2 * C, C3, T, d, vT);
    for (int64_t k = 0; k < int64_t(T) * d; k++) dk[k] = 0.0f, dv[k] = 0.0f;
    for (int t = 0; t < T; t++) {
      const int n = t + 1;
      const float* dot = dbase + int64_t(t) * C;
      const float* p = att + (int64_t(bh) * T + t) * T;
      row_dots(dot, vT, n, T, d, dsrow);  // dp
      attention_softmax_backward_row(p, dsrow, n, scale);
      weighted_rows(dsrow, base + C, C3, n, d, acc, gbase + t * C3);  // dq[t] = Σ_{t2<=t} ds·k[t2]
      // This t's terms of dk[t2] and dv[t2]: t ascending across the loop.
      const float* qt = base + t * C3;
      for (int t2 = 0; t2 < n; t2++) {
        const float s = dsrow[t2], pv = p[t2];
        float* dkr = dk + int64_t(t2) * d;
        float* dvr = dv + int64_t(t2) * d;
#pragma omp simd
        for (int i = 0; i < d; i++) {
          dkr[i] = fmaf_exact(s, qt[i], dkr[i]);
          dvr[i] = fmaf_exact(pv, dot[i], dvr[i]);
        }
      }
    }
    for (int t2 = 0; t2 < T; t2++) {
      float* g = gbase + t2 * C3;
      for (int i = 0; i < d; i++) g[C + i] = dk[int64_t(t2) * d + i], g[2 * C + i] = dv[int64_t(t2) * d + i];
    }
  }
}

}  // namespace pw
