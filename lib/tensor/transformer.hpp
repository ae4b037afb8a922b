// The transformer's ops (GPT-2's layers), forward and backward, on row-major fp32
// (proofwork(7), EXACT MODE and TRANSFORMER KERNELS). N = rows = B·T.
//
// Every reduction has ONE fixed order that no thread count changes: a chain from zero in
// the order stated below; OpenMP splits only independent outputs. A product accumulated
// into a chain is one fma (acc = fma(a, b, acc)), as in a dot product or GEMM; a plain sum
// is acc = acc + a. The element arithmetic is in the PW_HD functions below, which the CUDA
// kernels (cuda/transformer.cu) share, so the GPU gives the same bits.
// Token ids and targets are held in floats (byte values, exact in fp32).
#pragma once
#include <cmath>
#include <cstdint>

#include "tensor/mathfn.hpp"

// A loop of independent elements that the CPU build vectorises (OpenMP simd); nothing on the GPU.
#if defined(_OPENMP) && !defined(__CUDACC__)
#define PW_SIMD _Pragma("omp simd")
#else
#define PW_SIMD
#endif

namespace pw {

// GELU, tanh approximation (GPT-2; torch's approximate='tanh'):
// y = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
constexpr float kGeluBeta = 0.7978845608028654f;  // √(2/π)
constexpr float kGeluKappa = 0.044715f;
PW_HD PW_INLINE float gelu_elem(float x) {
  const float cube = x * x * x;
  const float inner = kGeluBeta * (x + kGeluKappa * cube);
  return (0.5f * x) * (1.0f + tanh_f32(inner));
}
// dy · dGELU/dx at x, as torch computes it: with u = tanh(inner),
// dGELU/dx = 0.5·(1 + u) + 0.5·x·(1 − u²)·√(2/π)·(1 + 3·0.044715·x²).
PW_HD PW_INLINE float gelu_grad_elem(float x, float dy) {
  const float sq = x * x;
  const float inner = kGeluBeta * (x + kGeluKappa * (sq * x));
  const float u = tanh_f32(inner);
  const float left = 0.5f * x;
  const float left_derivative = 0.5f * (1.0f + u);
  const float tanh_derivative = 1.0f - u * u;
  const float inner_derivative = kGeluBeta * (1.0f + (3.0f * kGeluKappa) * sq);
  const float right_derivative = (left * tanh_derivative) * inner_derivative;
  return dy * (left_derivative + right_derivative);
}

// LayerNorm's element arithmetic. mean = Σx / C; var = Σ(x − mean)² / C (biased);
// rstd = 1/sqrtf(var + eps); xhat = (x − mean)·rstd; y = xhat·w + b.
PW_HD PW_INLINE float layernorm_rstd(float sq_sum, int C, float eps) {
  return 1.0f / sqrtf(sq_sum / float(C) + eps);
}
PW_HD PW_INLINE float layernorm_xhat(float x, float mean, float rstd) { return (x - mean) * rstd; }
PW_HD PW_INLINE float layernorm_out_elem(float x, float mean, float rstd, float w, float b) {
  return layernorm_xhat(x, mean, rstd) * w + b;
}
// dx = rstd·((dnorm − m1) − xhat·m2), dnorm = dy·w, m1 = mean_c(dnorm), m2 = mean_c(dnorm·xhat).
PW_HD PW_INLINE float layernorm_dx_elem(float dnorm, float xhat, float m1, float m2, float rstd) {
  return rstd * ((dnorm - m1) - xhat * m2);
}

// R rows' statistics (x: R rows of C): each row's chains over c ascending; the R rows'
// chains are independent, so the CPU runs them side by side (R = 8) and a GPU thread
// runs one row (R = 1) -- the same bits.
template <int R>
PW_HD PW_INLINE void layernorm_stats(const float* x, int C, float eps, float* mean, float* rstd) {
  float s[R], q[R], m[R];
  for (int j = 0; j < R; j++) s[j] = 0.0f, q[j] = 0.0f;
  for (int c = 0; c < C; c++)
    for (int j = 0; j < R; j++) s[j] = s[j] + x[int64_t(j) * C + c];
  for (int j = 0; j < R; j++) m[j] = s[j] / float(C);
  for (int c = 0; c < C; c++)
    for (int j = 0; j < R; j++) {
      const float d = x[int64_t(j) * C + c] - m[j];
      q[j] = fmaf_exact(d, d, q[j]);
    }
  for (int j = 0; j < R; j++) mean[j] = m[j], rstd[j] = layernorm_rstd(q[j], C, eps);
}

// R rows' backward means m1 = (Σ_c dnorm)/C and m2 = (Σ_c dnorm·xhat)/C, dnorm = dy·w,
// chains over c ascending (the second of fma), rows side by side as in layernorm_stats.
template <int R>
PW_HD PW_INLINE void layernorm_dsums(const float* dy, const float* x, const float* w, const float* mean,
                                     const float* rstd, int C, float* m1, float* m2) {
  float a[R], b[R];
  for (int j = 0; j < R; j++) a[j] = 0.0f, b[j] = 0.0f;
  for (int c = 0; c < C; c++)
    for (int j = 0; j < R; j++) {
      const float dnorm = dy[int64_t(j) * C + c] * w[c];
      a[j] = a[j] + dnorm;
      b[j] = fmaf_exact(dnorm, layernorm_xhat(x[int64_t(j) * C + c], mean[j], rstd[j]), b[j]);
    }
  for (int j = 0; j < R; j++) m1[j] = a[j] / float(C), m2[j] = b[j] / float(C);
}

// Softmax backward through one attention row: ds = p·(dp − Σ_t3 p·dp).
PW_HD PW_INLINE float attention_ds_elem(float p, float dp, float pdp_sum) { return p * (dp - pdp_sum); }

// One causal attention row's softmax in place: s (n = t + 1) holds the scaled scores and
// receives p = e/Σe, e = exp_f32(s − max), the sum over t2 ascending from zero.
PW_HD PW_INLINE void attention_softmax_row(float* s, int n) {
  float mx = s[0];
  for (int t2 = 1; t2 < n; t2++) mx = s[t2] > mx ? s[t2] : mx;
  PW_SIMD
  for (int t2 = 0; t2 < n; t2++) s[t2] = exp_f32(s[t2] - mx);
  float sum = 0.0f;
  for (int t2 = 0; t2 < n; t2++) sum = sum + s[t2];
  PW_SIMD
  for (int t2 = 0; t2 < n; t2++) s[t2] = s[t2] / sum;
}
// Its backward in place: dp (n) receives ds·scale, ds = attention_ds_elem(p, dp, Σ p·dp),
// the sum an fma chain over t3 ascending from zero.
PW_HD PW_INLINE void attention_softmax_backward_row(const float* p, float* dp, int n, float scale) {
  float pdp = 0.0f;
  for (int t3 = 0; t3 < n; t3++) pdp = fmaf_exact(p[t3], dp[t3], pdp);
  PW_SIMD
  for (int t2 = 0; t2 < n; t2++) dp[t2] = attention_ds_elem(p[t2], dp[t2], pdp) * scale;
}
// The score scale 1/√d, computed in double and rounded once (as torch's
// `att * (1.0 / math.sqrt(d))` with a Python float).
inline float attention_scale(int d) { return float(1.0 / std::sqrt(double(d))); }

void gelu_forward(const float* x, float* y, int64_t n);
void gelu_backward(const float* dy, const float* x, float* dx, int64_t n);

// out = a + b (the residual).
void add_forward(const float* a, const float* b, float* out, int64_t n);

// Token + position embedding: out[(b,t),c] = wte[tok[b,t],c] + wpe[t,c].
// tokens: B·T ids (floats); wte (V,C); wpe (Tmax,C) with T <= Tmax; out (B·T, C).
// The ids are the caller's to check (0 <= id < V, integral).
void embedding_forward(const float* tokens, const float* wte, const float* wpe, float* out, int B, int T, int C);
// dwpe[t,c] = Σ_b dout[(b,t),c], b ascending (written, not accumulated; rows t >= T of a
// (Tmax,C) dwpe are zeroed).
// dwte[v,c] = dwte[v,c] + S[v,c] where S[v,c] = Σ dout[r,c] over rows r = b·T+t ascending
// with tokens[r] == v, a chain from zero: the embedding's contribution is summed first and
// added once to what dwte already holds (the tied LM head's gradient). Rows of dwte with no
// occurrence are left unchanged.
void embedding_backward(const float* tokens, const float* dout, float* dwte, float* dwpe, int B, int T, int C, int V,
                        int Tmax);

// LayerNorm over the last dimension (C), with weight w and bias b (x, y: (N,C)):
// mean = (Σ_c x)/C (c ascending), var = (Σ_c (x − mean)²)/C (fma chain, c ascending),
// rstd = 1/sqrtf(var + eps); y = ((x − mean)·rstd)·w + b. mean and rstd saved (N each).
void layernorm_forward(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd,
                       int64_t N, int C, float eps);
// dx (N,C) written; dw[c] = Σ_r dy[r,c]·xhat[r,c] (fma chain), db[c] = Σ_r dy[r,c], r
// ascending (written, not accumulated). dx = rstd·(dy·w − mean_c(dy·w) − xhat·mean_c(dy·w·xhat)),
// the two row sums as chains over c ascending (the second an fma chain), then one division by C.
// chunk_rows > 0 (the chunked batch reduction, proofwork(7), EXACT MODE: c samples = c·T
// rows): dw and db are the pairwise tree (tree_combine) over N/chunk_rows chunks, each
// chunk's chains from zero over its rows ascending; dx is the same either way.
// continue_chains (no chunk; a pipeline stage's later micro-batch: proofwork(7),
// PIPELINE STAGES): dw and db's chains continue from the values they hold, so
// micro-batches in order give the whole batch's chains.
void layernorm_backward(const float* dy, const float* x, const float* w, const float* mean, const float* rstd,
                        float* dx, float* dw, float* db, int64_t N, int C, int64_t chunk_rows = 0,
                        bool continue_chains = false);

// Causal self-attention after the fused projection. qkv (B,T,3C): q = [..., 0:C),
// k = [C:2C), v = [2C:3C); head h uses channels [h·d, (h+1)·d), d = C/H.
// att (B,H,T,T) saves the softmax probabilities (entries t2 > t are 0).
// s[t,t2] = (Σ_i q[t,i]·k[t2,i], i ascending, fma chain) · attention_scale(d) for t2 <= t;
// p = softmax over t2 = 0..t (max, then exp_f32(s − max), sum t2 ascending, then p = e/sum);
// out[t, h·d+i] = Σ_{t2<=t} p[t,t2]·v[t2,i], t2 ascending (fma chain). out (B,T,C).
void attention_forward(const float* qkv, float* out, float* att, int B, int T, int C, int H);
// dqkv (B,T,3C) written. For each (b,h), every sum an fma chain:
// dp[t,t2] = Σ_i dout[t,i]·v[t2,i] (i ascending); ds[t,t2] = p·(dp − Σ_{t3<=t} p[t,t3]·dp[t,t3])
// (t3 ascending); dq[t,i] = Σ_{t2<=t} (ds[t,t2]·scale)·k[t2,i] (t2 ascending),
// dk[t2,i] = Σ_{t>=t2} (ds[t,t2]·scale)·q[t,i] (t ascending),
// dv[t2,i] = Σ_{t>=t2} p[t,t2]·dout[t,i] (t ascending).
void attention_backward(const float* dout, const float* qkv, const float* att, float* dqkv, int B, int T, int C,
                        int H);

// Σ g² (fma chains), for gradient-norm clipping, in one order that no thread count
// changes: blocks of kSumSquaresBlock elements, each a chain from zero ascending, the
// block partials added ascending from zero.
constexpr int64_t kSumSquaresBlock = 4096;
float sum_squares(const float* g, int64_t n);
// R consecutive blocks' chains (block j at g + j·kSumSquaresBlock, len elements each),
// side by side on the CPU (R = 8), one per GPU thread (R = 1).
template <int R>
PW_HD PW_INLINE void sum_squares_blocks(const float* g, int64_t len, float* out) {
  float acc[R];
  for (int j = 0; j < R; j++) acc[j] = 0.0f;
  for (int64_t i = 0; i < len; i++)
    for (int j = 0; j < R; j++) {
      const float v = g[j * kSumSquaresBlock + i];
      acc[j] = fmaf_exact(v, v, acc[j]);
    }
  for (int j = 0; j < R; j++) out[j] = acc[j];
}
// The block partials added ascending from zero.
PW_HD PW_INLINE float sum_squares_total(const float* part, int64_t nblocks) {
  float total = 0.0f;
  for (int64_t blk = 0; blk < nblocks; blk++) total = total + part[blk];
  return total;
}
// g = g · s, n elements.
void scale_inplace(float* g, int64_t n, float s);

}  // namespace pw
