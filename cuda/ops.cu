// Element-wise ops and fixed-order reductions of the tape on the GPU. Each kernel runs
// the same PW_HD per-element function as its CPU twin in lib/tensor/ops.cpp; reductions
// give one thread one output and loop in the CPU's order (b ascending, c ascending), so
// the bits match. Check: tests/unit/test_gpu.cpp compares every op with the CPU (memcmp).
#include "common.cuh"
#include "kernels.cuh"

namespace pw::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void load_batch_kernel(const uint8_t* images, const uint8_t* labels, const uint32_t* idx, int B, int F,
                                  float scale, float* x, float* y) {
  PW_GRID_STRIDE(e, int64_t(B) * F) {
    const int64_t b = e / F, f = e % F;
    const int64_t row = idx ? int64_t(idx[b]) : b;
    x[e] = float(images[row * F + f]) * scale;
    if (y && f == 0) y[b] = float(labels[row]);
  }
}

__global__ void relu_forward_kernel(const float* z, float* y, int64_t n) {
  PW_GRID_STRIDE(i, n) y[i] = relu_elem(z[i]);
}

__global__ void relu_backward_kernel(const float* dy, const float* y, float* dz, int64_t n) {
  PW_GRID_STRIDE(i, n) dz[i] = relu_grad_elem(dy[i], y[i]);
}

__global__ void bias_relu_kernel(float* z, const float* bias, float* a, int rows, int N) {
  PW_GRID_STRIDE(e, int64_t(rows) * N) {
    const float v = z[e] + bias[e % N];
    z[e] = v;
    if (a) a[e] = relu_elem(v);
  }
}

// One thread per row: softmax_ce_row is sequential over c.
__global__ void ce_rows_kernel(const float* logits, const float* labels, float* probs, float* row_loss, int B, int C) {
  PW_GRID_STRIDE(b, B) row_loss[b] = softmax_ce_row(logits + b * C, int(labels[b]), probs + b * C, C);
}

// The batch mean in the CPU's order: one thread, b ascending, then one division.
__global__ void mean_kernel(const float* row_loss, float* loss, int B) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  float total = 0.0f;
  for (int b = 0; b < B; b++) total = total + row_loss[b];
  *loss = total / float(B);
}

__global__ void ce_backward_kernel(const float* probs, const float* labels, float* dlogits, int B, int C,
                                   float inv_b) {
  PW_GRID_STRIDE(e, int64_t(B) * C) {
    const int64_t b = e / C, c = e % C;
    dlogits[e] = softmax_ce_grad_elem(probs[e], c == int64_t(labels[b]), inv_b);
  }
}

__global__ void ce_fused_kernel(const float* logits, const float* labels, float* probs, float* dlogits,
                                float* row_loss, int B, int C, float inv_b) {
  PW_GRID_STRIDE(b, B) {
    const int y = int(labels[b]);
    row_loss[b] = softmax_ce_row(logits + b * C, y, probs + b * C, C);
    for (int c = 0; c < C; c++) dlogits[b * C + c] = softmax_ce_grad_elem(probs[b * C + c], c == y, inv_b);
  }
}

// One thread per column; consecutive threads read consecutive columns of a row.
__global__ void column_sums_kernel(const float* dy, float* db, int B, int O) {
  PW_GRID_STRIDE(o, O) {
    float s = 0.0f;
    for (int b = 0; b < B; b++) s = s + dy[int64_t(b) * O + o];
    db[o] = s;
  }
}

__global__ void sgd_kernel(float* p, const float* g, float* buf, int64_t n, SgdScalars sc) {
  PW_GRID_STRIDE(i, n) {
    float dummy = 0.0f;
    sgd_elem(p[i], g[i], sc.momentum != 0.0f ? buf[i] : dummy, sc);
  }
}

__global__ void adamw_kernel(float* p, const float* g, float* m, float* v, int64_t n, AdamwScalars sc) {
  PW_GRID_STRIDE(i, n) adamw_elem(p[i], g[i], m[i], v[i], sc);
}

// blockIdx.y picks the tensor.
__global__ void sgd_fused_kernel(UpdateList l, const SgdScalars* dsc) {
  const SgdScalars sc = *dsc;
  const int t = blockIdx.y;
  float *p = l.p[t], *buf = l.m[t];
  const float* g = l.g[t];
  PW_GRID_STRIDE(i, l.n[t]) {
    float dummy = 0.0f;
    sgd_elem(p[i], g[i], sc.momentum != 0.0f ? buf[i] : dummy, sc);
  }
}

__global__ void adamw_fused_kernel(UpdateList l, const AdamwScalars* dsc) {
  const AdamwScalars sc = *dsc;
  const int t = blockIdx.y;
  PW_GRID_STRIDE(i, l.n[t]) adamw_elem(l.p[t][i], l.g[t][i], l.m[t][i], l.v[t][i], sc);
}

unsigned grid(int64_t n) { return blocks_for(n, kThreads); }

int64_t largest(const UpdateList& l) {
  int64_t n = 0;
  for (int t = 0; t < l.count; t++) n = l.n[t] > n ? l.n[t] : n;
  return n;
}

}  // namespace

void load_batch(const uint8_t* images, const uint8_t* labels, const uint32_t* idx, int B, int F, float scale,
                float* x, float* y, cudaStream_t s) {
  load_batch_kernel<<<grid(int64_t(B) * F), kThreads, 0, s>>>(images, labels, idx, B, F, scale, x, y);
  PW_CU_LAUNCHED("load_batch");
}

void load_rows(const uint8_t* images, int rows, int F, float scale, float* x, cudaStream_t s) {
  load_batch_kernel<<<grid(int64_t(rows) * F), kThreads, 0, s>>>(images, nullptr, nullptr, rows, F, scale, x, nullptr);
  PW_CU_LAUNCHED("load_rows");
}

void relu_forward(const float* z, float* y, int64_t n, cudaStream_t s) {
  relu_forward_kernel<<<grid(n), kThreads, 0, s>>>(z, y, n);
  PW_CU_LAUNCHED("relu_forward");
}

void relu_backward(const float* dy, const float* y, float* dz, int64_t n, cudaStream_t s) {
  relu_backward_kernel<<<grid(n), kThreads, 0, s>>>(dy, y, dz, n);
  PW_CU_LAUNCHED("relu_backward");
}

void bias_relu(float* z, const float* bias, float* a, int rows, int N, cudaStream_t s) {
  bias_relu_kernel<<<grid(int64_t(rows) * N), kThreads, 0, s>>>(z, bias, a, rows, N);
  PW_CU_LAUNCHED("bias_relu");
}

void softmax_ce_forward(const float* logits, const float* labels, float* probs, float* row_loss, float* loss, int B,
                        int C, cudaStream_t s) {
  ce_rows_kernel<<<grid(B), kThreads, 0, s>>>(logits, labels, probs, row_loss, B, C);
  PW_CU_LAUNCHED("softmax_ce_forward");
  mean_kernel<<<1, 1, 0, s>>>(row_loss, loss, B);
  PW_CU_LAUNCHED("softmax_ce_forward (mean)");
}

void softmax_ce_backward(const float* probs, const float* labels, float* dlogits, int B, int C, cudaStream_t s) {
  ce_backward_kernel<<<grid(int64_t(B) * C), kThreads, 0, s>>>(probs, labels, dlogits, B, C, 1.0f / float(B));
  PW_CU_LAUNCHED("softmax_ce_backward");
}

void softmax_ce_fused(const float* logits, const float* labels, float* probs, float* dlogits, float* row_loss,
                      float* loss, int B, int C, cudaStream_t s) {
  ce_fused_kernel<<<grid(B), kThreads, 0, s>>>(logits, labels, probs, dlogits, row_loss, B, C, 1.0f / float(B));
  PW_CU_LAUNCHED("softmax_ce_fused");
  mean_kernel<<<1, 1, 0, s>>>(row_loss, loss, B);
  PW_CU_LAUNCHED("softmax_ce_fused (mean)");
}

void column_sums(const float* dy, float* db, int B, int O, cudaStream_t s) {
  column_sums_kernel<<<grid(O), kThreads, 0, s>>>(dy, db, B, O);
  PW_CU_LAUNCHED("column_sums");
}

void sgd_update(float* p, const float* g, float* buf, int64_t n, const SgdScalars& sc, cudaStream_t s) {
  sgd_kernel<<<grid(n), kThreads, 0, s>>>(p, g, buf, n, sc);
  PW_CU_LAUNCHED("sgd_update");
}

void adamw_update(float* p, const float* g, float* m, float* v, int64_t n, const AdamwScalars& sc, cudaStream_t s) {
  adamw_kernel<<<grid(n), kThreads, 0, s>>>(p, g, m, v, n, sc);
  PW_CU_LAUNCHED("adamw_update");
}

void sgd_update_fused(const UpdateList& l, const SgdScalars* sc, cudaStream_t s) {
  if (l.count == 0) return;
  sgd_fused_kernel<<<dim3(grid(largest(l)), unsigned(l.count)), kThreads, 0, s>>>(l, sc);
  PW_CU_LAUNCHED("sgd_update_fused");
}

void adamw_update_fused(const UpdateList& l, const AdamwScalars* sc, cudaStream_t s) {
  if (l.count == 0) return;
  adamw_fused_kernel<<<dim3(grid(largest(l)), unsigned(l.count)), kThreads, 0, s>>>(l, sc);
  PW_CU_LAUNCHED("adamw_update_fused");
}

}  // namespace pw::cuda
