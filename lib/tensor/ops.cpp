#include "tensor/ops.hpp"

#include <omp.h>

#include <algorithm>
#include <vector>

namespace pw {

__attribute__((target_clones("avx2", "default"))) void relu_forward(const float* z, float* y, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; i++) y[i] = relu_elem(z[i]);
}

__attribute__((target_clones("avx2", "default"))) void relu_backward(const float* dy, const float* y, float* dz,
                                                                    int64_t n) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; i++) dz[i] = relu_grad_elem(dy[i], y[i]);
}

float softmax_cross_entropy_forward(const float* logits, const float* labels, float* probs, int B, int C) {
  std::vector<float> row_loss(B);
#pragma omp parallel for schedule(static) if (int64_t(B) * C >= kParallelMin)
  for (int b = 0; b < B; b++) {
    row_loss[b] = softmax_ce_row(logits + int64_t(b) * C, int(labels[b]), probs + int64_t(b) * C, C);
  }
  float total = 0.0f;
  for (int b = 0; b < B; b++) total = total + row_loss[b];
  return total / float(B);
}

void softmax_cross_entropy_backward(const float* probs, const float* labels, float* dlogits, int B, int C) {
  const float inv_b = 1.0f / float(B);
#pragma omp parallel for schedule(static) if (int64_t(B) * C >= kParallelMin)
  for (int b = 0; b < B; b++) {
    const int y = int(labels[b]);
    for (int c = 0; c < C; c++)
      dlogits[int64_t(b) * C + c] = softmax_ce_grad_elem(probs[int64_t(b) * C + c], c == y, inv_b);
  }
}

void column_sums(const float* dy, float* db, int B, int O) {
  // Blocks of columns per thread; inside, rows in order, so each db[o] still sums b ascending.
  constexpr int kBlock = 256;
  const int nblocks = (O + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (int64_t(B) * O >= kParallelMin)
  for (int blk = 0; blk < nblocks; blk++) {
    const int o0 = blk * kBlock, o1 = std::min(O, o0 + kBlock);
    for (int o = o0; o < o1; o++) db[o] = 0.0f;
    for (int b = 0; b < B; b++) {
      const float* row = dy + int64_t(b) * O;
      for (int o = o0; o < o1; o++) db[o] = db[o] + row[o];
    }
  }
}

void column_sums_fast(const float* dy, float* db, int B, int O) {
  // Rows split into one contiguous chunk per thread, each summed from zero, the chunks'
  // partial sums then added in chunk order: the result depends on the thread count.
  const int T = int64_t(B) * O >= kParallelMin ? std::max(1, std::min(omp_get_max_threads(), B)) : 1;
  thread_local std::vector<float> part;
  part.assign(size_t(T) * size_t(O), 0.0f);
  float* const pp = part.data();
#pragma omp parallel for schedule(static) num_threads(T) if (T > 1)
  for (int t = 0; t < T; t++) {
    float* acc = pp + size_t(t) * size_t(O);
    for (int b = B * t / T; b < B * (t + 1) / T; b++) {
      const float* row = dy + int64_t(b) * O;
      for (int o = 0; o < O; o++) acc[o] = acc[o] + row[o];
    }
  }
  for (int o = 0; o < O; o++) db[o] = pp[o];
  for (int t = 1; t < T; t++)
    for (int o = 0; o < O; o++) db[o] = db[o] + pp[size_t(t) * size_t(O) + size_t(o)];
}

// The update loops are built for AVX2 and for baseline x86-64, picked at load time.
// Each element still gets exactly sgd_elem's operations (no contraction: -ffp-contract=off),
// so the bits do not depend on which clone runs; the branches are hoisted so the loops vectorise.
#define PW_ELEMENTWISE_CLONES __attribute__((target_clones("avx2", "default")))

PW_ELEMENTWISE_CLONES
void sgd_update(float* p, const float* g, float* buf, int64_t n, const SgdScalars& s) {
  const float lr = -s.lr, wd = s.weight_decay, mom = s.momentum;
  const bool decay = wd != 0.0f;
  if (mom == 0.0f) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; i++) {
      const float d = decay ? g[i] + wd * p[i] : g[i];
      p[i] = p[i] + lr * d;
    }
  } else if (s.first_step) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; i++) {
      const float d = decay ? g[i] + wd * p[i] : g[i];
      buf[i] = d;
      p[i] = p[i] + lr * d;
    }
  } else {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; i++) {
      const float d = decay ? g[i] + wd * p[i] : g[i];
      const float b = buf[i] * mom + d;
      buf[i] = b;
      p[i] = p[i] + lr * b;
    }
  }
}

PW_ELEMENTWISE_CLONES
void adamw_update(float* p, const float* g, float* m, float* v, int64_t n, const AdamwScalars& s) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; i++) adamw_elem(p[i], g[i], m[i], v[i], s);
}

}  // namespace pw
