// GPU benchmarks (proofwork(7), TESTS AND BENCHMARKS); they need a CUDA device and print Markdown rows
// `| Benchmark | proofwork | Baseline | Ratio | Target |` on stdout, progress on stderr.
//
//   bench_gpu gemm [N]        exact GEMM (gemm.cu) vs cublasSgemm FP32 without tensor
//                             cores (CUBLAS_PEDANTIC_MATH), N×N×N (default 4096); a few
//                             outputs are checked against the CPU's fma loop, bit for bit
//   bench_gpu step [B] [S]    MLP 784-1024-1024-10, batch B (default 1024), S steps:
//                             fast-mode executor step vs a bare loop of the same cuBLAS
//                             TF32 GEMMs; exact-mode step for reference
//
// Exit status: 0 done, 4 no device or a CUDA error, 2 usage, 1 a bitwise check failed.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common.cuh"
#include "kernels.cuh"
#include "model/device.hpp"
#include "tensor/mathfn.hpp"
#include "tensor/ops.hpp"

using namespace pw;

namespace {

struct DeviceBuffer {
  float* p = nullptr;
  explicit DeviceBuffer(size_t n) { PW_CU(cudaMalloc(&p, n * sizeof(float))); }
  ~DeviceBuffer() { cudaFree(p); }
};

// Median of `reps` timings of f() in milliseconds, after one warm-up.
template <class F>
double time_ms(int reps, F&& f) {
  cudaEvent_t a, b;
  PW_CU(cudaEventCreate(&a));
  PW_CU(cudaEventCreate(&b));
  f();
  PW_CU(cudaDeviceSynchronize());
  std::vector<double> t;
  for (int r = 0; r < reps; r++) {
    PW_CU(cudaEventRecord(a));
    f();
    PW_CU(cudaEventRecord(b));
    PW_CU(cudaEventSynchronize(b));
    float ms = 0;
    PW_CU(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

void fill(float* d, size_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> h(n);
  for (float& x : h) x = u(g);
  PW_CU(cudaMemcpy(d, h.data(), n * sizeof(float), cudaMemcpyHostToDevice));
}

int bench_gemm(int n) {
  const size_t nn = size_t(n) * n;
  DeviceBuffer A(nn), B(nn), C(nn), C2(nn), bias{size_t(n)};
  fill(A.p, nn, 1), fill(B.p, nn, 2), fill(bias.p, size_t(n), 3);
  cublasHandle_t h;
  PW_CU(cublasCreate(&h));
  PW_CU(cublasSetMathMode(h, CUBLAS_PEDANTIC_MATH));  // FP32 FMA only, no TF32 tensor cores
  const float one = 1, zero = 0;
  // The other slab length first, so C holds the default kernel's result for the check.
  const int other = cuda::kGemmSlabDefault == 16 ? 8 : 16;
  std::fprintf(stderr, "bench_gpu: GEMM %d³, exact kernel, slab %d ...\n", n, other);
  const double t_other = time_ms(10, [&] {
    cuda::gemm_exact(n, n, n, cuda::DevMat{A.p, n, 1}, cuda::DevMat{B.p, n, 1}, bias.p, C.p, n, nullptr, other);
  });
  std::fprintf(stderr, "bench_gpu: GEMM %d³, exact kernel, slab %d (default) ...\n", n, cuda::kGemmSlabDefault);
  const double t_exact = time_ms(10, [&] {
    cuda::gemm_exact(n, n, n, cuda::DevMat{A.p, n, 1}, cuda::DevMat{B.p, n, 1}, bias.p, C.p, n, nullptr);
  });
  std::fprintf(stderr, "bench_gpu: GEMM %d³, cublasSgemm ...\n", n);
  const double t_blas = time_ms(10, [&] {  // row-major C = A·B is column-major Cᵀ = Bᵀ·Aᵀ
    PW_CU(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, B.p, n, A.p, n, &zero, C2.p, n));
  });
  cublasDestroy(h);

  // Bitwise spot check: 16 outputs recomputed on the host with the contract's loop.
  std::vector<float> hA(nn), hB(nn), hC(nn), hb(size_t(n), 0.0f);
  PW_CU(cudaMemcpy(hA.data(), A.p, nn * 4, cudaMemcpyDeviceToHost));
  PW_CU(cudaMemcpy(hB.data(), B.p, nn * 4, cudaMemcpyDeviceToHost));
  PW_CU(cudaMemcpy(hC.data(), C.p, nn * 4, cudaMemcpyDeviceToHost));
  PW_CU(cudaMemcpy(hb.data(), bias.p, size_t(n) * 4, cudaMemcpyDeviceToHost));
  int bad = 0;
  for (int s = 0; s < 16; s++) {
    const int i = (s * 2654435761u) % unsigned(n), j = (s * 40503u + 7) % unsigned(n);
    float acc = hb[size_t(j)];
    for (int k = 0; k < n; k++) acc = fmaf_exact(hA[size_t(i) * n + k], hB[size_t(k) * n + j], acc);
    bad += std::memcmp(&acc, &hC[size_t(i) * n + j], 4) != 0;
  }
  const double flop = 2.0 * n * n * double(n);
  const double g_exact = flop / (t_exact * 1e6), g_blas = flop / (t_blas * 1e6);
  std::fprintf(stderr, "bench_gpu: exact %.2f ms (%.0f GFLOP/s), cuBLAS FP32 %.2f ms (%.0f GFLOP/s), spot check %s\n",
               t_exact, g_exact, t_blas, g_blas, bad ? "FAILED" : "bitwise equal");
  std::printf("| GPU exact GEMM %d³ (GFLOP/s) | %.0f | %.0f (cublasSgemm FP32, no tensor cores) | %.2f× | ≥ 0.70× |\n", n,
              g_exact, g_blas, g_exact / g_blas);
  const double g_other = flop / (t_other * 1e6);
  std::printf("| GPU exact GEMM %d³, slab %d instead of %d (GFLOP/s) | %.0f | %.0f (cublasSgemm FP32) | %.2f× | — |\n", n,
              other, cuda::kGemmSlabDefault, g_other, g_blas, g_other / g_blas);
  return bad ? 1 : 0;
}

int bench_step(int batch, int steps) {
  const std::vector<int> widths = {784, 1024, 1024, 10};
  const Tape tape = build_mlp_tape(widths, batch, OptimizerType::Sgd);
  // Synthetic data of Fashion-MNIST's shape: the speed does not depend on the pixels.
  const int count = std::max(batch * 4, 4096), F = widths[0];
  std::vector<uint8_t> images(size_t(count) * F), labels(size_t(count), uint8_t(0));
  std::mt19937 g(5);
  for (auto& x : images) x = uint8_t(g());
  for (auto& y : labels) y = uint8_t(g() % 10);
  std::vector<uint32_t> idx(size_t(batch), 0u);
  Workspace host(tape);
  for (int id : tape.params) {
    std::mt19937 r{uint32_t(id)};
    std::uniform_real_distribution<float> u(-0.03f, 0.03f);
    for (float& x : host.t[size_t(id)]) x = u(r);
  }
  const std::vector<int> state = checkpoint_tensors(tape);

  auto run = [&](bool fast, bool graphs) {
    setenv("PW_CUDA_GRAPHS", graphs ? "1" : "0", 1);
    std::shared_ptr<Executor> e = make_cuda_executor(tape, fast);
    e->set_dataset(images.data(), labels.data(), count, F);
    e->upload(host, state);
    StepContext ctx;
    ctx.batch_indices = idx.data();
    ctx.sgd = SgdScalars{0.01f, 0.9f, 1e-4f, false};
    auto step = [&](int s) {
      for (int b = 0; b < batch; b++) idx[size_t(b)] = uint32_t((s * batch + b) % count);
      e->run_step(ctx, host);
    };
    for (int s = 0; s < 5; s++) step(s);  // warm-up (cuBLAS heuristics, first launches)
    e->synchronize();
    const auto t0 = std::chrono::steady_clock::now();
    for (int s = 0; s < steps; s++) step(s);
    const float loss = e->loss();  // waits for the last step
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / steps;
    std::fprintf(stderr, "bench_gpu: %s step%s, batch %d: %.3f ms (loss %.4f)\n", fast ? "fast" : "exact",
                 fast && !graphs ? " without graphs" : "", batch, ms, double(loss));
    return ms;
  };
  const double t_fast = run(true, true), t_eager = run(true, false), t_exact = run(false, true);

  // The bare loop: the same GEMMs (forward, dW, dx except for the first layer), TF32.
  cublasHandle_t h;
  PW_CU(cublasCreate(&h));
  PW_CU(cublasSetMathMode(h, CUBLAS_TF32_TENSOR_OP_MATH));
  const int L = int(widths.size()) - 1;
  std::vector<DeviceBuffer*> W, X, Z, dZ, dW, dX;
  for (int l = 0; l < L; l++) {
    const size_t in = size_t(widths[size_t(l)]), out = size_t(widths[size_t(l) + 1]);
    W.push_back(new DeviceBuffer(in * out)), dW.push_back(new DeviceBuffer(in * out));
    X.push_back(new DeviceBuffer(in * batch)), dX.push_back(new DeviceBuffer(in * batch));
    Z.push_back(new DeviceBuffer(out * batch)), dZ.push_back(new DeviceBuffer(out * batch));
    fill(W.back()->p, in * out, 10 + l), fill(X.back()->p, in * batch, 20 + l), fill(dZ.back()->p, out * batch, 30 + l);
  }
  const float one = 1, zero = 0;
  auto blas_step = [&] {
    for (int l = 0; l < L; l++) {
      const int in = widths[size_t(l)], out = widths[size_t(l) + 1];
      PW_CU(cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, out, batch, in, &one, W[l]->p, in, X[l]->p, in, &zero, Z[l]->p, out));
    }
    for (int l = L - 1; l >= 0; l--) {
      const int in = widths[size_t(l)], out = widths[size_t(l) + 1];
      PW_CU(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_T, in, out, batch, &one, X[l]->p, in, dZ[l]->p, out, &zero, dW[l]->p, in));
      if (l > 0)
        PW_CU(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, in, batch, out, &one, W[l]->p, in, dZ[l]->p, out, &zero, dX[l]->p, in));
    }
  };
  // On its own stream with a workspace of its own, so that it can be captured too.
  cudaStream_t bs;
  PW_CU(cudaStreamCreate(&bs));
  PW_CU(cublasSetStream(h, bs));
  DeviceBuffer ws((size_t(32) << 20) / sizeof(float));
  PW_CU(cublasSetWorkspace(h, ws.p, size_t(32) << 20));
  auto timed = [&](auto&& one_step) {
    for (int s = 0; s < 5; s++) one_step();
    PW_CU(cudaStreamSynchronize(bs));
    const auto t0 = std::chrono::steady_clock::now();
    for (int s = 0; s < steps; s++) one_step();
    PW_CU(cudaStreamSynchronize(bs));
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / steps;
  };
  const double t_blas = timed(blas_step);
  // The same loop captured once into a CUDA graph and replayed: the stricter baseline.
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  PW_CU(cudaStreamBeginCapture(bs, cudaStreamCaptureModeThreadLocal));
  blas_step();
  PW_CU(cudaStreamEndCapture(bs, &graph));
  PW_CU(cudaGraphInstantiate(&exec, graph, 0));
  const double t_blas_graph = timed([&] { PW_CU(cudaGraphLaunch(exec, bs)); });
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cublasDestroy(h);
  cudaStreamDestroy(bs);
  for (auto* v : {&W, &X, &Z, &dZ, &dW, &dX})
    for (DeviceBuffer* b : *v) delete b;
  std::fprintf(stderr, "bench_gpu: bare cuBLAS GEMM loop, batch %d: %.3f ms (in a graph: %.3f ms)\n", batch, t_blas,
               t_blas_graph);
  std::printf("| GPU fast step, MLP 784-1024-1024-10 batch %d (ms) | %.3f | %.3f (bare cuBLAS TF32 loop of its GEMMs) | "
              "%.2f× | ≤ 1.2× |\n",
              batch, t_fast, t_blas, t_fast / t_blas);
  std::printf("| GPU fast step, batch %d, vs the bare loop captured in a CUDA graph too (ms) | %.3f | %.3f | %.2f× | — |\n",
              batch, t_fast, t_blas_graph, t_fast / t_blas_graph);
  std::printf("| GPU fast step, batch %d, without CUDA graphs (PW_CUDA_GRAPHS=0) vs the bare loop (ms) | %.3f | %.3f | "
              "%.2f× | — |\n",
              batch, t_eager, t_blas, t_eager / t_blas);
  std::printf("| GPU exact step, MLP 784-1024-1024-10 batch %d (ms) | %.3f | %.3f (fast mode, same GPU) | %.2f× | — |\n",
              batch, t_exact, t_fast, t_exact / t_fast);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string what = argc > 1 ? argv[1] : "";
    const int a = argc > 2 ? std::atoi(argv[2]) : 0, b = argc > 3 ? std::atoi(argv[3]) : 0;
    if ((what != "gemm" && what != "step") || (argc > 2 && a < 1) || (argc > 3 && b < 1) || argc > 4) {
      std::fprintf(stderr, "usage: bench_gpu gemm [N] | step [BATCH] [STEPS]\n");
      return 2;
    }
    require_cuda("cuda");
    if (what == "gemm") return bench_gemm(a ? a : 4096);
    return bench_step(a ? a : 1024, b ? b : 200);
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_gpu: %s\n", e.what());
    return e.code;
  }
}
