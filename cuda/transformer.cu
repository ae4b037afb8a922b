// The transformer's kernels on the GPU (proofwork(7), TRANSFORMER KERNELS): the bits of
// lib/tensor/transformer.cpp. Element work runs the shared PW_HD functions one element per
// thread; every chain (a LayerNorm row, a score, a softmax row, an output of attention, a
// column of dw) is one thread looping in the CPU's order, so parallelism is only across
// outputs, as on the CPU. Check: tests/unit/test_gpu.cpp, suite "gpu", compares each with
// the CPU kernel bitwise (memcmp) on random inputs.
#include <algorithm>

#include "common.cuh"
#include "model/device.hpp"
#include "model/transformer_cuda.hpp"
#include "transformer.cuh"

namespace pw::cuda {
namespace {

constexpr int kThreads = 256;
unsigned grid(int64_t n) { return blocks_for(n, kThreads); }

__global__ void load_windows_kernel(const uint8_t* text, const uint32_t* offsets, float* idx, float* targets, int T,
                                    int64_t n) {
  PW_GRID_STRIDE(e, n) {
    const uint8_t* w = text + offsets[e / T] + e % T;
    idx[e] = float(w[0]);
    targets[e] = float(w[1]);
  }
}
__global__ void gelu_forward_kernel(const float* x, float* y, int64_t n) {
  PW_GRID_STRIDE(i, n) y[i] = gelu_elem(x[i]);
}
__global__ void gelu_backward_kernel(const float* dy, const float* x, float* dx, int64_t n) {
  PW_GRID_STRIDE(i, n) dx[i] = gelu_grad_elem(x[i], dy[i]);
}
__global__ void add_kernel(const float* a, const float* b, float* out, int64_t n) {
  PW_GRID_STRIDE(i, n) out[i] = a[i] + b[i];
}
__global__ void scale_kernel(float* g, int64_t n, float s) {
  PW_GRID_STRIDE(i, n) g[i] = g[i] * s;
}

// out (B·T, C): one thread per element.
__global__ void embedding_forward_kernel(const float* tokens, const float* wte, const float* wpe, float* out, int T,
                                         int C, int64_t n) {
  PW_GRID_STRIDE(e, n) {
    const int64_t r = e / C, c = e % C;
    out[e] = wte[int64_t(tokens[r]) * C + c] + wpe[(r % T) * C + c];
  }
}
// dwpe (Tmax, C): one thread per element, b ascending.
__global__ void embedding_dwpe_kernel(const float* dout, float* dwpe, int B, int T, int C, int64_t n) {
  PW_GRID_STRIDE(e, n) {
    const int64_t t = e / C, c = e % C;
    float s = 0.0f;
    if (t < T)
      for (int b = 0; b < B; b++) s = s + dout[(int64_t(b) * T + t) * C + c];
    dwpe[e] = s;
  }
}
// dwte (V, C): one thread per element, the rows of its id ascending, added once.
__global__ void embedding_dwte_kernel(const float* tokens, const float* dout, float* dwte, int64_t rows, int C,
                                      int64_t n) {
  PW_GRID_STRIDE(e, n) {
    const int64_t v = e / C, c = e % C;
    float s = 0.0f;
    bool seen = false;
    for (int64_t r = 0; r < rows; r++)
      if (tokens[r] == float(v)) {
        s = s + dout[r * C + c];
        seen = true;
      }
    if (seen) dwte[e] = dwte[e] + s;
  }
}

__global__ void layernorm_stats_kernel(const float* x, float* mean, float* rstd, int64_t N, int C, float eps) {
  PW_GRID_STRIDE(r, N) layernorm_stats<1>(x + r * C, C, eps, mean + r, rstd + r);
}
__global__ void layernorm_out_kernel(const float* x, const float* w, const float* b, const float* mean,
                                     const float* rstd, float* y, int C, int64_t n) {
  PW_GRID_STRIDE(e, n) {
    const int64_t r = e / C, c = e % C;
    y[e] = layernorm_out_elem(x[e], mean[r], rstd[r], w[c], b[c]);
  }
}
__global__ void layernorm_dsums_kernel(const float* dy, const float* x, const float* w, const float* mean,
                                       const float* rstd, float* m1, float* m2, int64_t N, int C) {
  PW_GRID_STRIDE(r, N) layernorm_dsums<1>(dy + r * C, x + r * C, w, mean + r, rstd + r, C, m1 + r, m2 + r);
}
__global__ void layernorm_dx_kernel(const float* dy, const float* x, const float* w, const float* mean,
                                    const float* rstd, const float* m1, const float* m2, float* dx, int C, int64_t n) {
  PW_GRID_STRIDE(e, n) {
    const int64_t r = e / C, c = e % C;
    dx[e] = layernorm_dx_elem(dy[e] * w[c], layernorm_xhat(x[e], mean[r], rstd[r]), m1[r], m2[r], rstd[r]);
  }
}
// dw, db: one thread per column, rows ascending.
__global__ void layernorm_dwdb_kernel(const float* dy, const float* x, const float* mean, const float* rstd, float* dw,
                                      float* db, int64_t N, int C) {
  PW_GRID_STRIDE(c, C) {
    float sw = 0.0f, sb = 0.0f;
    for (int64_t r = 0; r < N; r++) {
      const float g = dy[r * C + c];
      sw = fmaf_exact(g, layernorm_xhat(x[r * C + c], mean[r], rstd[r]), sw);
      sb = sb + g;
    }
    dw[c] = sw;
    db[c] = sb;
  }
}

// Attention: (b,h,t,t2) flattened as ((b·H + h)·T + t)·T + t2, att's own layout.
// out[b,h,t,t2] = Σ_i a[b,t,h·d+i]·m[b,t2,h·d+i] (i ascending), times scale when `scaled`,
// 0 above the diagonal; a's rows are a_stride apart, m's m_stride. The scores (q·k) and
// the backward's dp (dout·v).
__global__ void head_dots_kernel(const float* a, int64_t a_stride, const float* m, int64_t m_stride, float* out, int H,
                                 int T, int d, bool scaled, float scale, int64_t n) {
  PW_GRID_STRIDE(e, n) {
    const int64_t t2 = e % T, t = (e / T) % T, bh = e / (int64_t(T) * T);
    const int64_t b = bh / H, h = bh % H;
    if (t2 > t) {
      out[e] = 0.0f;
      continue;
    }
    const float* x = a + (b * T + t) * a_stride + h * d;
    const float* y = m + (b * T + t2) * m_stride + h * d;
    float acc = 0.0f;
    for (int i = 0; i < d; i++) acc = fmaf_exact(x[i], y[i], acc);
    out[e] = scaled ? acc * scale : acc;
  }
}
// A softmax row per thread, in place.
__global__ void attention_softmax_kernel(float* att, int T, int64_t rows) {
  PW_GRID_STRIDE(row, rows) attention_softmax_row(att + row * T, int(row % T) + 1);
}
// out[b,t,h·d+i] per thread: Σ_{t2<=t} p·v[t2,i], t2 ascending.
__global__ void attention_out_kernel(const float* qkv, const float* att, float* out, int H, int T, int C, int64_t n) {
  const int d = C / H;
  const int64_t C3 = 3 * int64_t(C);
  PW_GRID_STRIDE(e, n) {  // e = (b·T + t)·C + h·d + i
    const int64_t bt = e / C, ch = e % C, b = bt / T, t = bt % T, h = ch / d, i = ch % d;
    const float* p = att + ((b * H + h) * T + t) * T;
    const float* v = qkv + b * T * C3 + 2 * C + h * d + i;
    float acc = 0.0f;
    for (int64_t t2 = 0; t2 <= t; t2++) acc = fmaf_exact(p[t2], v[t2 * C3], acc);
    out[e] = acc;
  }
}
__global__ void attention_ds_kernel(const float* att, float* ds, int T, float scale, int64_t rows) {
  PW_GRID_STRIDE(row, rows) attention_softmax_backward_row(att + row * T, ds + row * T, int(row % T) + 1, scale);
}
// dq[t,i] = Σ_{t2<=t} ds·k[t2,i] (t2 ascending); dk[t,i] = Σ_{t'>=t} ds[t',t]·q[t',i] and
// dv[t,i] = Σ_{t'>=t} p[t',t]·dout[t',i] (t' ascending). One thread per (b,t,h,i).
__global__ void attention_dqkv_kernel(const float* dout, const float* qkv, const float* att, const float* ds,
                                      float* dqkv, int H, int T, int C, int64_t n) {
  const int d = C / H;
  const int64_t C3 = 3 * int64_t(C);
  PW_GRID_STRIDE(e, n) {  // e = (b·T + t)·C + h·d + i
    const int64_t bt = e / C, ch = e % C, b = bt / T, t = bt % T, h = ch / d, i = ch % d;
    const int64_t head = (b * H + h) * T * T;
    const float* col = qkv + b * T * C3 + h * d + i;  // q of (b, t'=0), channel i
    float dq = 0.0f;
    for (int64_t t2 = 0; t2 <= t; t2++) dq = fmaf_exact(ds[head + t * T + t2], col[t2 * C3 + C], dq);
    float dk = 0.0f, dv = 0.0f;
    const float* g = dout + b * T * C + h * d + i;
    for (int64_t u = t; u < T; u++) {
      dk = fmaf_exact(ds[head + u * T + t], col[u * C3], dk);
      dv = fmaf_exact(att[head + u * T + t], g[u * C], dv);
    }
    float* o = dqkv + bt * C3 + h * d + i;
    o[0] = dq;
    o[C] = dk;
    o[2 * C] = dv;
  }
}

__global__ void sum_squares_blocks_kernel(const float* g, int64_t n, float* part, int64_t nblocks) {
  PW_GRID_STRIDE(blk, nblocks) {
    const int64_t start = blk * kSumSquaresBlock;
    const int64_t len = n - start < kSumSquaresBlock ? n - start : kSumSquaresBlock;
    sum_squares_blocks<1>(g + start, len, part + blk);
  }
}
__global__ void sum_squares_total_kernel(const float* part, int64_t nblocks, float* out) {
  if (blockIdx.x == 0 && threadIdx.x == 0) *out = sum_squares_total(part, nblocks);
}

}  // namespace

void load_windows(const uint8_t* text, const uint32_t* offsets, int B, int T, float* idx, float* targets,
                  cudaStream_t s) {
  const int64_t n = int64_t(B) * T;
  load_windows_kernel<<<grid(n), kThreads, 0, s>>>(text, offsets, idx, targets, T, n);
  PW_CU_LAUNCHED("load_windows");
}
void gelu_forward(const float* x, float* y, int64_t n, cudaStream_t s) {
  gelu_forward_kernel<<<grid(n), kThreads, 0, s>>>(x, y, n);
  PW_CU_LAUNCHED("gelu_forward");
}
void gelu_backward(const float* dy, const float* x, float* dx, int64_t n, cudaStream_t s) {
  gelu_backward_kernel<<<grid(n), kThreads, 0, s>>>(dy, x, dx, n);
  PW_CU_LAUNCHED("gelu_backward");
}
void add_forward(const float* a, const float* b, float* out, int64_t n, cudaStream_t s) {
  add_kernel<<<grid(n), kThreads, 0, s>>>(a, b, out, n);
  PW_CU_LAUNCHED("add_forward");
}
void scale_inplace(float* g, int64_t n, float scale, cudaStream_t s) {
  scale_kernel<<<grid(n), kThreads, 0, s>>>(g, n, scale);
  PW_CU_LAUNCHED("scale_inplace");
}

void embedding_forward(const float* tokens, const float* wte, const float* wpe, float* out, int B, int T, int C,
                       cudaStream_t s) {
  const int64_t n = int64_t(B) * T * C;
  embedding_forward_kernel<<<grid(n), kThreads, 0, s>>>(tokens, wte, wpe, out, T, C, n);
  PW_CU_LAUNCHED("embedding_forward");
}
void embedding_backward(const float* tokens, const float* dout, float* dwte, float* dwpe, int B, int T, int C, int V,
                        int Tmax, cudaStream_t s) {
  embedding_dwpe_kernel<<<grid(int64_t(Tmax) * C), kThreads, 0, s>>>(dout, dwpe, B, T, C, int64_t(Tmax) * C);
  PW_CU_LAUNCHED("embedding_backward (dwpe)");
  embedding_dwte_kernel<<<grid(int64_t(V) * C), kThreads, 0, s>>>(tokens, dout, dwte, int64_t(B) * T, C,
                                                                  int64_t(V) * C);
  PW_CU_LAUNCHED("embedding_backward (dwte)");
}

void layernorm_forward(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd, int64_t N,
                       int C, float eps, cudaStream_t s) {
  layernorm_stats_kernel<<<grid(N), kThreads, 0, s>>>(x, mean, rstd, N, C, eps);
  PW_CU_LAUNCHED("layernorm_forward (stats)");
  layernorm_out_kernel<<<grid(N * C), kThreads, 0, s>>>(x, w, b, mean, rstd, y, C, N * C);
  PW_CU_LAUNCHED("layernorm_forward");
}
void layernorm_backward(const float* dy, const float* x, const float* w, const float* mean, const float* rstd,
                        float* dx, float* dw, float* db, int64_t N, int C, float* scratch, cudaStream_t s) {
  float *m1 = scratch, *m2 = scratch + N;
  layernorm_dsums_kernel<<<grid(N), kThreads, 0, s>>>(dy, x, w, mean, rstd, m1, m2, N, C);
  PW_CU_LAUNCHED("layernorm_backward (sums)");
  layernorm_dx_kernel<<<grid(N * C), kThreads, 0, s>>>(dy, x, w, mean, rstd, m1, m2, dx, C, N * C);
  PW_CU_LAUNCHED("layernorm_backward (dx)");
  layernorm_dwdb_kernel<<<grid(C), kThreads, 0, s>>>(dy, x, mean, rstd, dw, db, N, C);
  PW_CU_LAUNCHED("layernorm_backward (dw, db)");
}

void attention_forward(const float* qkv, float* out, float* att, int B, int T, int C, int H, cudaStream_t s) {
  const int64_t rows = int64_t(B) * H * T, n = rows * T;
  head_dots_kernel<<<grid(n), kThreads, 0, s>>>(qkv, 3 * int64_t(C), qkv + C, 3 * int64_t(C), att, H, T, C / H, true,
                                                attention_scale(C / H), n);
  PW_CU_LAUNCHED("attention_forward (scores)");
  attention_softmax_kernel<<<grid(rows), kThreads, 0, s>>>(att, T, rows);
  PW_CU_LAUNCHED("attention_forward (softmax)");
  attention_out_kernel<<<grid(int64_t(B) * T * C), kThreads, 0, s>>>(qkv, att, out, H, T, C, int64_t(B) * T * C);
  PW_CU_LAUNCHED("attention_forward (out)");
}
void attention_backward(const float* dout, const float* qkv, const float* att, float* dqkv, int B, int T, int C,
                        int H, float* scratch, cudaStream_t s) {
  const int64_t rows = int64_t(B) * H * T, n = rows * T;
  head_dots_kernel<<<grid(n), kThreads, 0, s>>>(dout, C, qkv + 2 * C, 3 * int64_t(C), scratch, H, T, C / H, false,
                                                1.0f, n);
  PW_CU_LAUNCHED("attention_backward (dp)");
  attention_ds_kernel<<<grid(rows), kThreads, 0, s>>>(att, scratch, T, attention_scale(C / H), rows);
  PW_CU_LAUNCHED("attention_backward (ds)");
  attention_dqkv_kernel<<<grid(int64_t(B) * T * C), kThreads, 0, s>>>(dout, qkv, att, scratch, dqkv, H, T, C,
                                                                     int64_t(B) * T * C);
  PW_CU_LAUNCHED("attention_backward (dqkv)");
}

void sum_squares(const float* g, int64_t n, float* partials, float* out, cudaStream_t s) {
  const int64_t nblocks = sum_squares_partials(n);
  if (nblocks > 0) {
    sum_squares_blocks_kernel<<<grid(nblocks), kThreads, 0, s>>>(g, n, partials, nblocks);
    PW_CU_LAUNCHED("sum_squares (blocks)");
  }
  sum_squares_total_kernel<<<1, 1, 0, s>>>(partials, nblocks, out);
  PW_CU_LAUNCHED("sum_squares (total)");
}

}  // namespace pw::cuda

// ---------------------------------------------------------------- from host buffers

namespace pw::cuda_host {
namespace {

using cuda::DeviceMemory;

// A device copy of n host floats (or n zeros when host is null).
DeviceMemory to_device(const float* host, int64_t n) {
  DeviceMemory d(size_t(n) * sizeof(float));
  if (host && n > 0) PW_CU(cudaMemcpy(d.p, host, size_t(n) * sizeof(float), cudaMemcpyHostToDevice));
  return d;
}
void to_host(const DeviceMemory& d, float* host, int64_t n) {
  PW_CU(cudaDeviceSynchronize());
  if (n > 0) PW_CU(cudaMemcpy(host, d.p, size_t(n) * sizeof(float), cudaMemcpyDeviceToHost));
}
void need_device() { require_cuda("transformer kernels"); }

}  // namespace

void gelu_forward(const float* x, float* y, int64_t n) {
  need_device();
  DeviceMemory dx = to_device(x, n), dy = to_device(nullptr, n);
  cuda::gelu_forward(dx.as<float>(), dy.as<float>(), n, nullptr);
  to_host(dy, y, n);
}
void gelu_backward(const float* dy, const float* x, float* dx, int64_t n) {
  need_device();
  DeviceMemory ddy = to_device(dy, n), dxin = to_device(x, n), ddx = to_device(nullptr, n);
  cuda::gelu_backward(ddy.as<float>(), dxin.as<float>(), ddx.as<float>(), n, nullptr);
  to_host(ddx, dx, n);
}
void add_forward(const float* a, const float* b, float* out, int64_t n) {
  need_device();
  DeviceMemory da = to_device(a, n), db = to_device(b, n), dout = to_device(nullptr, n);
  cuda::add_forward(da.as<float>(), db.as<float>(), dout.as<float>(), n, nullptr);
  to_host(dout, out, n);
}
void scale_inplace(float* g, int64_t n, float s) {
  need_device();
  DeviceMemory dg = to_device(g, n);
  cuda::scale_inplace(dg.as<float>(), n, s, nullptr);
  to_host(dg, g, n);
}
void embedding_forward(const float* tokens, const float* wte, const float* wpe, float* out, int B, int T, int C) {
  need_device();
  const int64_t rows = int64_t(B) * T;
  int V = 0;  // the rows of wte the tokens reach
  for (int64_t r = 0; r < rows; r++) V = std::max(V, int(tokens[r]) + 1);
  DeviceMemory dt = to_device(tokens, rows), dwte = to_device(wte, int64_t(V) * C), dwpe = to_device(wpe, int64_t(T) * C),
               dout = to_device(nullptr, rows * C);
  cuda::embedding_forward(dt.as<float>(), dwte.as<float>(), dwpe.as<float>(), dout.as<float>(), B, T, C, nullptr);
  to_host(dout, out, rows * C);
}
void embedding_backward(const float* tokens, const float* dout, float* dwte, float* dwpe, int B, int T, int C, int V,
                        int Tmax) {
  need_device();
  const int64_t rows = int64_t(B) * T;
  DeviceMemory dt = to_device(tokens, rows), dd = to_device(dout, rows * C), dte = to_device(dwte, int64_t(V) * C),
               dpe = to_device(nullptr, int64_t(Tmax) * C);
  cuda::embedding_backward(dt.as<float>(), dd.as<float>(), dte.as<float>(), dpe.as<float>(), B, T, C, V, Tmax,
                           nullptr);
  to_host(dte, dwte, int64_t(V) * C);
  to_host(dpe, dwpe, int64_t(Tmax) * C);
}
void layernorm_forward(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd, int64_t N,
                       int C, float eps) {
  need_device();
  DeviceMemory dx = to_device(x, N * C), dw = to_device(w, C), db = to_device(b, C), dy = to_device(nullptr, N * C),
               dm = to_device(nullptr, N), dr = to_device(nullptr, N);
  cuda::layernorm_forward(dx.as<float>(), dw.as<float>(), db.as<float>(), dy.as<float>(), dm.as<float>(),
                          dr.as<float>(), N, C, eps, nullptr);
  to_host(dy, y, N * C);
  to_host(dm, mean, N);
  to_host(dr, rstd, N);
}
void layernorm_backward(const float* dy, const float* x, const float* w, const float* mean, const float* rstd,
                        float* dx, float* dw, float* db, int64_t N, int C) {
  need_device();
  DeviceMemory ddy = to_device(dy, N * C), dxin = to_device(x, N * C), dwin = to_device(w, C),
               dm = to_device(mean, N), dr = to_device(rstd, N), ddx = to_device(nullptr, N * C),
               ddw = to_device(nullptr, C), ddb = to_device(nullptr, C), scratch = to_device(nullptr, 2 * N);
  cuda::layernorm_backward(ddy.as<float>(), dxin.as<float>(), dwin.as<float>(), dm.as<float>(), dr.as<float>(),
                           ddx.as<float>(), ddw.as<float>(), ddb.as<float>(), N, C, scratch.as<float>(), nullptr);
  to_host(ddx, dx, N * C);
  to_host(ddw, dw, C);
  to_host(ddb, db, C);
}
void attention_forward(const float* qkv, float* out, float* att, int B, int T, int C, int H) {
  need_device();
  const int64_t nq = int64_t(B) * T * 3 * C, no = int64_t(B) * T * C, na = int64_t(B) * H * T * T;
  DeviceMemory dq = to_device(qkv, nq), dout = to_device(nullptr, no), datt = to_device(nullptr, na);
  cuda::attention_forward(dq.as<float>(), dout.as<float>(), datt.as<float>(), B, T, C, H, nullptr);
  to_host(dout, out, no);
  to_host(datt, att, na);
}
void attention_backward(const float* dout, const float* qkv, const float* att, float* dqkv, int B, int T, int C,
                        int H) {
  need_device();
  const int64_t nq = int64_t(B) * T * 3 * C, no = int64_t(B) * T * C, na = int64_t(B) * H * T * T;
  DeviceMemory dd = to_device(dout, no), dq = to_device(qkv, nq), datt = to_device(att, na),
               dg = to_device(nullptr, nq), scratch = to_device(nullptr, cuda::attention_backward_scratch(B, T, H));
  cuda::attention_backward(dd.as<float>(), dq.as<float>(), datt.as<float>(), dg.as<float>(), B, T, C, H,
                           scratch.as<float>(), nullptr);
  to_host(dg, dqkv, nq);
}
float sum_squares(const float* g, int64_t n) {
  need_device();
  DeviceMemory dg = to_device(g, n), part = to_device(nullptr, cuda::sum_squares_partials(n)),
               out = to_device(nullptr, 1);
  cuda::sum_squares(dg.as<float>(), n, part.as<float>(), out.as<float>(), nullptr);
  float r = 0.0f;
  to_host(out, &r, 1);
  return r;
}

}  // namespace pw::cuda_host
