// bench_transformer: each exact-mode transformer kernel (lib/tensor/transformer.hpp) at
// the shapes of one training step of gpt:6-6-384-256 (nanoGPT's character-level baby GPT)
// at batch 8: B = 8, T = 256, C = 384, H = 6, N = B·T = 2048 rows, MLP width 4C, the
// byte vocabulary V = 256, and sum_squares over the model's 10.8 M parameters.
//
//   bench_transformer [--threads N] [--reps R] [--md FILE]
//
// Prints ms/call (the median of R timed calls after a warm-up, and the spread min–max)
// and the rate: GB/s of the bytes each call must read and write once, or GFLOP/s for
// attention (2 flops per multiply-add of its dot products). --md appends Markdown rows
// (kernel | ms/call | rate | per step | —) for tests/bench/part-transformer.sh.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/program.hpp"
#include "tensor/transformer.hpp"

namespace {

double seconds_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Timing {
  double median, lo, hi;  // seconds per call
};

Timing time_calls(const std::function<void()>& fn, int reps) {
  fn();  // warm-up: page faults, thread start
  std::vector<double> t;
  for (int r = 0; r < reps; r++) {
    const double t0 = seconds_now();
    fn();
    t.push_back(seconds_now() - t0);
  }
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], t.front(), t.back()};
}

std::vector<float> filled(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(g);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, reps = 9;
  std::string md;
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc)
      threads = std::atoi(argv[++i]);
    else if (a == "--reps" && i + 1 < argc)
      reps = std::atoi(argv[++i]);
    else if (a == "--md" && i + 1 < argc)
      md = argv[++i];
    else {
      std::fprintf(stderr, "usage: bench_transformer [--threads N] [--reps R] [--md FILE]\n");
      return 2;
    }
  }
  if (threads < 1 || reps < 1) {
    std::fprintf(stderr, "bench_transformer: --threads and --reps must be at least 1\n");
    return 2;
  }
  pw::set_threads(threads);
  FILE* mdf = md.empty() ? nullptr : std::fopen(md.c_str(), "a");
  if (!md.empty() && !mdf) {
    std::perror(md.c_str());
    return 4;
  }

  const int L = 6, B = 8, T = 256, C = 384, H = 6, V = 256, d = C / H;
  const int64_t N = int64_t(B) * T, NC = N * C, N4C = 4 * NC;
  // Parameters of gpt:6-6-384-256: wte, wpe, per layer 2 LayerNorms, c_attn, c_proj,
  // c_fc, c_proj (weights and biases), ln_f.
  const int64_t params = int64_t(V) * C + int64_t(T) * C +
                         L * (4 * int64_t(C) + 3 * int64_t(C) * C + 3 * C + int64_t(C) * C + C + 4 * int64_t(C) * C +
                              4 * C + 4 * int64_t(C) * C + C) +
                         2 * C;

  std::vector<float> x = filled(size_t(N4C), -3.0f, 3.0f, 1), dy = filled(size_t(N4C), -1.0f, 1.0f, 2),
                     y(size_t(N4C)), dx(size_t(N4C));
  std::vector<float> tokens = filled(size_t(N), 0.0f, float(V), 3);
  for (float& t : tokens) t = float(int(t) % V);
  std::vector<float> wte = filled(size_t(V) * C, -0.1f, 0.1f, 4), wpe = filled(size_t(T) * C, -0.1f, 0.1f, 5),
                     dwte(wte.size()), dwpe(wpe.size());
  std::vector<float> w = filled(size_t(C), 0.5f, 1.5f, 6), b = filled(size_t(C), -0.5f, 0.5f, 7), mean(size_t(N)),
                     rstd(size_t(N)), dw(size_t(C)), db(size_t(C));
  std::vector<float> qkv = filled(size_t(3 * NC), -1.0f, 1.0f, 8), att(size_t(B) * H * T * T),
                     dqkv(size_t(3 * NC));
  std::vector<float> grads = filled(size_t(params), -0.01f, 0.01f, 9);

  // Attention: Σ_t (t+1) = T(T+1)/2 score dot products of length d per (b,h), as many for
  // p·v; the backward has four such products (dp, dq, dk, dv).
  const double att_macs = double(B) * H * (double(T) * (T + 1) / 2) * d;
  struct Kernel {
    const char* name;
    int per_step;  // calls in one training step
    double amount;  // bytes (rate in GB/s) or flops (GFLOP/s)
    bool flops;
    std::function<void()> run;
  };
  const double f = sizeof(float);
  const std::vector<Kernel> kernels = {
      {"gelu_forward (2048×1536)", L, 2 * N4C * f, false, [&] { pw::gelu_forward(x.data(), y.data(), N4C); }},
      {"gelu_backward (2048×1536)", L, 3 * N4C * f, false,
       [&] { pw::gelu_backward(dy.data(), x.data(), dx.data(), N4C); }},
      {"add_forward (2048×384)", 2 * L, 3 * NC * f, false, [&] { pw::add_forward(x.data(), dy.data(), y.data(), NC); }},
      {"embedding_forward (8×256×384)", 1, 3 * NC * f, false,
       [&] { pw::embedding_forward(tokens.data(), wte.data(), wpe.data(), y.data(), B, T, C); }},
      {"embedding_backward (8×256×384)", 1, (NC + 2 * double(V) * C + double(T) * C) * f, false,
       [&] { pw::embedding_backward(tokens.data(), dy.data(), dwte.data(), dwpe.data(), B, T, C, V, T); }},
      {"layernorm_forward (2048×384)", 2 * L + 1, 2 * NC * f, false,
       [&] {
         pw::layernorm_forward(x.data(), w.data(), b.data(), y.data(), mean.data(), rstd.data(), N, C, 1e-5f);
       }},
      {"layernorm_backward (2048×384)", 2 * L + 1, 3 * NC * f, false,
       [&] {
         pw::layernorm_backward(dy.data(), x.data(), w.data(), mean.data(), rstd.data(), dx.data(), dw.data(),
                                db.data(), N, C);
       }},
      {"attention_forward (8×6×256², d 64)", L, 2 * 2 * att_macs, true,
       [&] { pw::attention_forward(qkv.data(), y.data(), att.data(), B, T, C, H); }},
      {"attention_backward (8×6×256², d 64)", L, 4 * 2 * att_macs, true,
       [&] { pw::attention_backward(dy.data(), qkv.data(), att.data(), dqkv.data(), B, T, C, H); }},
      {"sum_squares (10.8 M params)", 1, double(params) * f, false,
       [&] {
         volatile float s = pw::sum_squares(grads.data(), params);
         (void)s;
       }},
      {"scale_inplace (10.8 M params)", 1, 2 * double(params) * f, false,
       [&] { pw::scale_inplace(grads.data(), params, 1.0f); }},
  };
  // Attention's backward needs the forward's probabilities.
  pw::attention_forward(qkv.data(), y.data(), att.data(), B, T, C, H);

  std::printf("bench_transformer: gpt:%d-%d-%d-%d at batch %d, %lld parameters, %d thread(s), median of %d calls\n", L,
              H, C, T, B, static_cast<long long>(params), threads, reps);
  std::printf("%-40s %10s %19s %12s %6s %12s\n", "kernel", "ms/call", "spread (ms)", "rate", "/step", "ms/step");
  double step_ms = 0;
  for (const Kernel& k : kernels) {
    const Timing t = time_calls(k.run, reps);
    const double rate = k.amount / t.median / 1e9;
    const double per_step = t.median * 1e3 * k.per_step;
    step_ms += per_step;
    char rate_s[32], spread[40];
    std::snprintf(rate_s, sizeof rate_s, "%.2f %s", rate, k.flops ? "GFLOP/s" : "GB/s");
    std::snprintf(spread, sizeof spread, "%.3f–%.3f", t.lo * 1e3, t.hi * 1e3);
    std::printf("%-40s %10.3f %19s %12s %6d %12.2f\n", k.name, t.median * 1e3, spread, rate_s, k.per_step, per_step);
    if (mdf)
      std::fprintf(mdf, "| transformer %s, %d thr | %.3f ms/call (%s) | %s | %d per step: %.1f ms | — |\n", k.name,
                   threads, t.median * 1e3, spread, rate_s, k.per_step, per_step);
  }
  std::printf("%-40s %10s %19s %12s %6s %12.2f\n", "all of one step (these kernels only)", "", "", "", "", step_ms);
  if (mdf && std::fclose(mdf) != 0) {
    std::perror(md.c_str());
    return 4;
  }
  return 0;
}
