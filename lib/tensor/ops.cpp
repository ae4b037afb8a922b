#include "tensor/ops.hpp"

#include <omp.h>

#include <algorithm>
#include <vector>

namespace pw {

// The element-wise loops are built for AVX2 and for baseline x86-64, picked at load time.
// Each element still gets exactly its *_elem function's operations (no contraction:
// -ffp-contract=off), so the bits do not depend on which clone runs or how a loop is cut
// between threads. `ivdep`: element i reads and writes only index i (in place is fine),
// so no runtime alias checks; GCC's -O2 cost model ("very cheap") vectorises no loop
// that needs a scalar remainder, hence the dynamic model here (vectorising element-wise
// IEEE code without -ffast-math keeps every result's bits), and loops unswitched on
// their loop-invariant branches (weight decay or not).
// (clang, which builds the fuzz targets, has neither the optimize attribute nor ivdep:
// its vectoriser's defaults serve there.)
#if defined(__clang__)
#define PW_ELEMENTWISE_CLONES __attribute__((target_clones("avx2", "default")))
#define PW_IVDEP
#else
#define PW_ELEMENTWISE_CLONES \
  __attribute__((target_clones("avx2", "default"), optimize("vect-cost-model=dynamic", "unswitch-loops")))
#define PW_IVDEP _Pragma("GCC ivdep")
#endif

// Element-wise over n, cut into ranges of 16 Ki elements across the threads.
template <class F>
void elementwise_ranges(int64_t n, F&& range) {
  constexpr int64_t kRange = int64_t(1) << 14;
  const int64_t ranges = (n + kRange - 1) / kRange;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t r = 0; r < ranges; r++) range(r * kRange, std::min(kRange, n - r * kRange));
}

PW_ELEMENTWISE_CLONES void relu_forward_serial(const float* z, float* y, int64_t n) {
PW_IVDEP
  for (int64_t i = 0; i < n; i++) y[i] = relu_elem(z[i]);
}

PW_ELEMENTWISE_CLONES void relu_backward_serial(const float* dy, const float* y, float* dz, int64_t n) {
PW_IVDEP
  for (int64_t i = 0; i < n; i++) dz[i] = relu_grad_elem(dy[i], y[i]);
}

void relu_forward(const float* z, float* y, int64_t n) {
  elementwise_ranges(n, [&](int64_t i0, int64_t m) { relu_forward_serial(z + i0, y + i0, m); });
}

void relu_backward(const float* dy, const float* y, float* dz, int64_t n) {
  elementwise_ranges(n, [&](int64_t i0, int64_t m) { relu_backward_serial(dy + i0, y + i0, dz + i0, m); });
}

// Rows b0..b1 of softmax cross-entropy. The x86-64-v3 clone has the fma instruction, so
// softmax_ce_row's exp and log (inlined) run their fmas inline rather than as libm's
// fmaf calls: the same correctly rounded fma, the same bits.
__attribute__((target_clones("arch=x86-64-v3", "default"))) void softmax_ce_rows(
    const float* logits, const float* labels, float* probs, float* row_loss, int b0, int b1, int C) {
  for (int b = b0; b < b1; b++)
    row_loss[b] = softmax_ce_row(logits + int64_t(b) * C, int(labels[b]), probs + int64_t(b) * C, C);
}

float softmax_cross_entropy_forward(const float* logits, const float* labels, float* probs, int B, int C,
                                    int reduce_chunk, bool partial, float start) {
  std::vector<float> row_loss(B);
#pragma omp parallel if (int64_t(B) * C >= kParallelMin)
  {
    const int t = omp_get_thread_num(), n = omp_get_num_threads();
    softmax_ce_rows(logits, labels, probs, row_loss.data(), int(int64_t(B) * t / n), int(int64_t(B) * (t + 1) / n), C);
  }
  if (reduce_chunk > 0) {
    const float total = sum_chunked(row_loss.data(), B, reduce_chunk);
    return partial ? total : total / float(B);
  }
  float total = start;
  for (int b = 0; b < B; b++) total = total + row_loss[b];
  return partial ? total : total / float(B);
}

void softmax_cross_entropy_backward(const float* probs, const float* labels, float* dlogits, int B, int C,
                                    int mean_over) {
  const float inv_b = 1.0f / float(mean_over > 0 ? mean_over : B);
#pragma omp parallel for schedule(static) if (int64_t(B) * C >= kParallelMin)
  for (int b = 0; b < B; b++) {
    const int y = int(labels[b]);
    for (int c = 0; c < C; c++)
      dlogits[int64_t(b) * C + c] = softmax_ce_grad_elem(probs[int64_t(b) * C + c], c == y, inv_b);
  }
}

// Vectorised across columns: each db[o] is still its own chain over b ascending, from
// zero or (`from_db`) from db[o].
PW_ELEMENTWISE_CLONES void column_sums_chain(const float* dy, float* db, int B, int O, bool from_db) {
  // Blocks of columns per thread; inside, rows in order, so each db[o] still sums b ascending.
  constexpr int kBlock = 256;
  const int nblocks = (O + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (int64_t(B) * O >= kParallelMin)
  for (int blk = 0; blk < nblocks; blk++) {
    const int o0 = blk * kBlock, o1 = std::min(O, o0 + kBlock);
    for (int o = o0; o < o1 && !from_db; o++) db[o] = 0.0f;
    for (int b = 0; b < B; b++) {
      const float* row = dy + int64_t(b) * O;
PW_IVDEP
      for (int o = o0; o < o1; o++) db[o] = db[o] + row[o];
    }
  }
}

void column_sums(const float* dy, float* db, int B, int O) { column_sums_chain(dy, db, B, O, false); }
void column_sums_continue(const float* dy, float* db, int B, int O) { column_sums_chain(dy, db, B, O, true); }

bool valid_reduce_chunk(int64_t B, int64_t chunk) {
  if (chunk < 1 || B < 1 || B % chunk != 0) return false;
  const int64_t n = B / chunk;
  return (n & (n - 1)) == 0;
}

void tree_combine(float* parts, int64_t n, int64_t len) {
  for (int64_t width = 1; width < n; width *= 2)
    for (int64_t q = 0; q + width < n; q += 2 * width) {
      float* left = parts + q * len;
      const float* right = parts + (q + width) * len;
#pragma omp parallel for schedule(static) if (len >= kParallelMin)
      for (int64_t e = 0; e < len; e++) left[e] = left[e] + right[e];
    }
}

// Columns o0..o0+w of column_sums_chunked in one pass over dy: the chunks in order, each
// chain from zero in the slot it would be pushed to, a right child added to its left
// siblings (left + right) as soon as it is done: tree_combine's perfect binary tree over
// the chunks, the pairs the same, in one pass and `levels + 1` rows of scratch.
PW_ELEMENTWISE_CLONES void column_sums_chunked_block(const float* dy, float* db, int B, int O, int chunk, int w,
                                                     float* stack) {
  int top = 0;
  for (int q = 0; q < B / chunk; q++) {
    float* cur = stack + size_t(top) * size_t(w);
    for (int o = 0; o < w; o++) cur[o] = 0.0f;
    for (int b = q * chunk; b < (q + 1) * chunk; b++) {
      const float* row = dy + int64_t(b) * O;
PW_IVDEP
      for (int o = 0; o < w; o++) cur[o] = cur[o] + row[o];
    }
    for (int node = q; node & 1; node >>= 1) {
      float* left = cur - w;
PW_IVDEP
      for (int o = 0; o < w; o++) left[o] = left[o] + cur[o];
      cur = left;
      top--;
    }
    top++;
  }
  for (int o = 0; o < w; o++) db[o] = stack[o];
}

void column_sums_chunked(const float* dy, float* db, int B, int O, int chunk) {
  int levels = 0;
  while ((1 << levels) < B / chunk) levels++;
  constexpr int kBlock = 128;
  const int nblocks = (O + kBlock - 1) / kBlock;
#pragma omp parallel if (int64_t(B) * O >= kParallelMin)
  {
    thread_local std::vector<float> stack;
    stack.resize(size_t(levels + 1) * kBlock);
#pragma omp for schedule(static)
    for (int blk = 0; blk < nblocks; blk++) {
      const int o0 = blk * kBlock, w = std::min(kBlock, O - o0);
      column_sums_chunked_block(dy + o0, db + o0, B, O, chunk, w, stack.data());
    }
  }
}

float sum_chunked(const float* v, int B, int chunk) {
  const int n = B / chunk;
  std::vector<float> part(size_t(n), 0.0f);
  for (int q = 0; q < n; q++)
    for (int b = q * chunk; b < (q + 1) * chunk; b++) part[size_t(q)] = part[size_t(q)] + v[b];
  tree_combine(part.data(), n, 1);
  return part[0];
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

PW_ELEMENTWISE_CLONES
void sgd_update_serial(float* p, const float* g, float* buf, int64_t n, const SgdScalars& s) {
  const float lr = -s.lr, wd = s.weight_decay, mom = s.momentum;
  const bool decay = wd != 0.0f;
  if (mom == 0.0f) {
PW_IVDEP
    for (int64_t i = 0; i < n; i++) {
      const float d = decay ? g[i] + wd * p[i] : g[i];
      p[i] = p[i] + lr * d;
    }
  } else if (s.first_step) {
PW_IVDEP
    for (int64_t i = 0; i < n; i++) {
      const float d = decay ? g[i] + wd * p[i] : g[i];
      buf[i] = d;
      p[i] = p[i] + lr * d;
    }
  } else {
PW_IVDEP
    for (int64_t i = 0; i < n; i++) {
      const float d = decay ? g[i] + wd * p[i] : g[i];
      const float b = buf[i] * mom + d;
      buf[i] = b;
      p[i] = p[i] + lr * b;
    }
  }
}

void sgd_update(float* p, const float* g, float* buf, int64_t n, const SgdScalars& s) {
  elementwise_ranges(n, [&](int64_t i0, int64_t m) { sgd_update_serial(p + i0, g + i0, buf + i0, m, s); });
}

PW_ELEMENTWISE_CLONES
void adamw_update(float* p, const float* g, float* m, float* v, int64_t n, const AdamwScalars& s) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; i++) adamw_elem(p[i], g[i], m[i], v[i], s);
}

}  // namespace pw
