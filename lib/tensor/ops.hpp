// Element-wise ops and fixed-order reductions of the training tape (proofwork(7), EXACT MODE).
// The per-element arithmetic is in PW_HD inline functions so a CUDA kernel can
// share it; the loops here run it on the CPU, parallel over independent elements.
#pragma once
#include <cmath>
#include <cstdint>

#include "tensor/mathfn.hpp"

namespace pw {

// Below this much work a loop runs on one thread: forking costs more than it saves.
constexpr int64_t kParallelMin = int64_t(1) << 15;

PW_HD inline float relu_elem(float z) { return z > 0.0f ? z : 0.0f; }
PW_HD inline float relu_grad_elem(float dy, float y) { return y > 0.0f ? dy : 0.0f; }

// SGD as torch.optim.SGD (no dampening, no Nesterov): d = g + wd·p;
// buf = d on the first step, else buf = momentum·buf + d; p = p − lr·buf.
struct SgdScalars {
  float lr, momentum, weight_decay;
  bool first_step;
};
PW_HD inline void sgd_elem(float& p, float g, float& buf, const SgdScalars& s) {
  float d = g;
  if (s.weight_decay != 0.0f) d = d + s.weight_decay * p;
  if (s.momentum != 0.0f) {
    buf = s.first_step ? d : buf * s.momentum + d;
    d = buf;
  }
  p = p + (-s.lr) * d;
}

// AdamW as torch.optim.AdamW (amsgrad off), with the step's scalars computed on the host.
struct AdamwScalars {
  float decay;         // 1 − lr·wd
  float beta1, one_minus_beta1, beta2, one_minus_beta2;
  float step_size;     // lr / (1 − β1^t)
  float bc2_sqrt;      // √(1 − β2^t)
  float eps;
};
PW_HD inline void adamw_elem(float& p, float g, float& m, float& v, const AdamwScalars& s) {
  p = p * s.decay;
  m = m * s.beta1 + g * s.one_minus_beta1;
  v = v * s.beta2 + s.one_minus_beta2 * (g * g);
  float denom = sqrtf(v) / s.bc2_sqrt + s.eps;
  p = p + (-s.step_size) * (m / denom);
}

// One row of softmax cross-entropy: z (C) logits, y the label → p (C) probabilities;
// returns the row's loss log Σexp(z − max) − (z[y] − max). Sums run over c ascending.
// Shared by the CPU loop and the CUDA kernel (one thread per row), so both give these bits.
PW_HD PW_INLINE float softmax_ce_row(const float* z, int y, float* p, int C) {
  float mx = z[0];
  for (int c = 1; c < C; c++) mx = z[c] > mx ? z[c] : mx;
  for (int c = 0; c < C; c++) p[c] = exp_f32(z[c] - mx);  // independent: vectorisable
  float sum = 0.0f;
  for (int c = 0; c < C; c++) sum = sum + p[c];
  for (int c = 0; c < C; c++) p[c] = p[c] / sum;
  return log_f32(sum) - (z[y] - mx);
}
// dlogits element: (p − [c = y]) · (1/B).
PW_HD inline float softmax_ce_grad_elem(float p, bool is_label, float inv_b) {
  return (p - (is_label ? 1.0f : 0.0f)) * inv_b;
}

// y = relu(z), n elements.
void relu_forward(const float* z, float* y, int64_t n);
// dz = dy where y > 0, else 0.
void relu_backward(const float* dy, const float* y, float* dz, int64_t n);
// The same on the calling thread only (a GEMM epilogue's rows: tensor/gemm.hpp).
void relu_forward_serial(const float* z, float* y, int64_t n);
void relu_backward_serial(const float* dy, const float* y, float* dz, int64_t n);

// logits (B,C), labels (B) as class ids held in floats → per-row probabilities (B,C)
// and the mean cross-entropy. Row sums run over c ascending; the batch mean over b
// ascending, then one division.
// With reduce_chunk > 0 the batch sum is sum_chunked's; with `partial` it is returned
// undivided (a data-parallel rank's subtree, divided once the ranks' partials are combined).
// Without a reduce chunk, `partial` returns the chain's sum undivided, the chain started at
// `start` (a pipeline stage's micro-batch continues the earlier micro-batches' sum:
// proofwork(7), PIPELINE STAGES).
float softmax_cross_entropy_forward(const float* logits, const float* labels, float* probs, int B, int C,
                                    int reduce_chunk = 0, bool partial = false, float start = 0.0f);
// dlogits = (probs − onehot(labels)) / mean_over (B when 0: a rank's rows of a larger batch
// divide by the whole batch).
void softmax_cross_entropy_backward(const float* probs, const float* labels, float* dlogits, int B, int C,
                                    int mean_over = 0);

// db[o] = Σ_b dy[b,o], b ascending: dy is (B,O).
void column_sums(const float* dy, float* db, int B, int O);
// db[o] = db[o] + Σ_b dy[b,o], the same chain continued from db (proofwork(7),
// PIPELINE STAGES): column_sums over the first rows, then this over the next ones, in
// order, gives column_sums's bits over all of them.
void column_sums_continue(const float* dy, float* db, int B, int O);
// Fast mode: one chunk of rows per thread, partial sums added in chunk order (the bits
// depend on the thread count).
void column_sums_fast(const float* dy, float* db, int B, int O);

// The chunked batch reduction (proofwork(7), EXACT MODE): a batch of B rows in B/chunk
// chunks (a power of two), each chunk a chain from zero over its rows in order, the chunk
// partials then combined by a fixed pairwise tree. A rank holding an aligned block of
// chunks computes its subtree with the same functions.
bool valid_reduce_chunk(int64_t B, int64_t chunk);  // chunk >= 1 divides B into a power-of-two count
// n partials of `len` floats each, one after another (n a power of two) → the first:
// level by level, partial q = partial q + partial q+width (q a multiple of 2·width).
void tree_combine(float* parts, int64_t n, int64_t len);
// db[o] = tree over chunks of Σ_b dy[b,o] (b ascending within a chunk).
void column_sums_chunked(const float* dy, float* db, int B, int O, int chunk);
// Σ_b v[b] in chunks and the tree (the loss: then divided by the batch).
float sum_chunked(const float* v, int B, int chunk);

void sgd_update(float* p, const float* g, float* buf, int64_t n, const SgdScalars& s);
// The same on the calling thread only (a GEMM epilogue's rows: tensor/gemm.hpp).
void sgd_update_serial(float* p, const float* g, float* buf, int64_t n, const SgdScalars& s);
void adamw_update(float* p, const float* g, float* m, float* v, int64_t n, const AdamwScalars& s);

}  // namespace pw
