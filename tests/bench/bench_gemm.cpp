// bench_gemm: exact GEMM (pw::gemm_exact) against OpenBLAS's cblas_sgemm, side by side,
// on the shapes one training step of MLP 784-1024-1024-10 at batch 128 runs, and on
// square 1024³ and 2048³. Both get the same thread count; each figure is the best of
// several repetitions after a warm-up, in rounds that alternate the two.
//
//   bench_gemm [--threads N] [--min-seconds S] [--md FILE]
//
// Prints a table on stdout; --md appends Markdown rows (shape | ours | OpenBLAS | ratio |
// target) for tests/bench/run.sh's summary table. Exit 1 if any result differs from
// OpenBLAS's beyond rounding (a sanity check: the orders of the sums differ, so the bits
// may too).
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tensor/gemm.hpp"

// Declared here too, in case cblas.h is a non-OpenBLAS one (the library is OpenBLAS).
extern "C" void openblas_set_num_threads(int);
extern "C" char* openblas_get_config(void);

namespace {

enum Layout { NN, NT, TN };  // op(A)·op(B) with row-major storage: A is M×K or K×M, B is K×N or N×K

struct Shape {
  const char* name;
  int M, N, K;
  Layout layout;
  int per_step;  // times one MLP training step runs it (0: not part of a step)
};

const char* layout_name(Layout l) { return l == NN ? "A·B" : l == NT ? "A·Bᵀ" : "Aᵀ·B"; }

// `s` left-aligned in `width` columns, counting UTF-8 code points, not bytes.
std::string pad(const std::string& s, size_t width) {
  size_t cols = 0;
  for (unsigned char ch : s) cols += (ch & 0xC0) != 0x80;
  return s + std::string(cols < width ? width - cols : 0, ' ');
}

constexpr int kRounds = 3;

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Best seconds of fn() over repetitions, after one warm-up call: at least `min_reps`
// repetitions and at least `min_seconds` of them, at most 200.
template <class F>
double best_of(F&& fn, double min_seconds, int min_reps) {
  fn();
  double best = 1e30, total = 0;
  for (int r = 0; r < 200 && (r < min_reps || total < min_seconds); r++) {
    const double t0 = now();
    fn();
    const double dt = now() - t0;
    best = std::min(best, dt);
    total += dt;
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  double min_seconds = 0.6;
  std::string md;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc)
      threads = std::atoi(argv[++i]);
    else if (a == "--min-seconds" && i + 1 < argc)
      min_seconds = std::atof(argv[++i]);
    else if (a == "--md" && i + 1 < argc)
      md = argv[++i];
    else {
      std::fprintf(stderr, "usage: bench_gemm [--threads N] [--min-seconds S] [--md FILE]\n");
      return 2;
    }
  }
  if (threads < 1) threads = 1;
  pw::set_threads(threads);
  openblas_set_num_threads(threads);

  // One step of MLP 784-1024-1024-10 at batch 128 (lib/model/tape.cpp): forward
  // z = x·Wᵀ + b per layer, dW = dzᵀ·x per layer, dx = dz·W for layers 2 and 3.
  const Shape shapes[] = {
      {"fwd L1 x·W1ᵀ", 128, 1024, 784, NT, 1},
      {"fwd L2 x·W2ᵀ", 128, 1024, 1024, NT, 1},
      {"fwd L3 x·W3ᵀ", 128, 10, 1024, NT, 1},
      {"bwd L3 dx = dz·W3", 128, 1024, 10, NN, 1},
      {"bwd L2 dx = dz·W2", 128, 1024, 1024, NN, 1},
      {"bwd L1 dx = dz·W1 (not run)", 128, 784, 1024, NN, 0},
      {"bwd L3 dW = dzᵀ·x", 10, 1024, 128, TN, 1},
      {"bwd L2 dW = dzᵀ·x", 1024, 1024, 128, TN, 1},
      {"bwd L1 dW = dzᵀ·x", 1024, 784, 128, TN, 1},
      {"square 1024³", 1024, 1024, 1024, NN, 0},
      {"square 2048³", 2048, 2048, 2048, NN, 0},
  };

  std::printf("bench_gemm: %d thread(s); proofwork kernel %s; OpenBLAS %s\n", threads, pw::gemm_kernel_name(),
              openblas_get_config());
  std::printf("%s %5s %5s %5s %s %10s %10s %7s %10s\n", pad("shape", 28).c_str(), "M", "N", "K", pad("op", 5).c_str(), "ours GF/s",
              "BLAS GF/s", "ratio", "max|diff|");
  FILE* mdf = md.empty() ? nullptr : std::fopen(md.c_str(), "a");
  if (!md.empty() && !mdf) {
    std::perror(md.c_str());
    return 4;
  }

  std::mt19937 rng(12345);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  double step_flops = 0, step_ours = 0, step_blas = 0;
  bool bad = false;
  for (const Shape& s : shapes) {
    const int M = s.M, N = s.N, K = s.K;
    // Storage: NN: A M×K, B K×N. NT: A M×K, B N×K. TN: A K×M, B K×N.
    std::vector<float> a(size_t(M) * K), b(size_t(K) * N), c1(size_t(M) * N), c2(size_t(M) * N);
    for (float& v : a) v = dist(rng);
    for (float& v : b) v = dist(rng);
    pw::MatView A = s.layout == TN ? pw::transposed(a.data(), M) : pw::row_major(a.data(), K);
    pw::MatView B = s.layout == NT ? pw::transposed(b.data(), K) : pw::row_major(b.data(), N);
    const CBLAS_TRANSPOSE ta = s.layout == TN ? CblasTrans : CblasNoTrans;
    const CBLAS_TRANSPOSE tb = s.layout == NT ? CblasTrans : CblasNoTrans;
    const int lda = s.layout == TN ? M : K, ldb = s.layout == NT ? K : N;

    const double flops = 2.0 * M * N * K;
    // Small shapes repeat many times; big ones at least 3 times.
    const int min_reps = flops > 4e9 ? 2 : 5;
    // Rounds alternate the two, so that a burst of load from elsewhere does not fall
    // on one side only; each side keeps its best time over all rounds.
    double t_ours = 1e30, t_blas = 1e30;
    for (int round = 0; round < kRounds; round++) {
      t_ours = std::min(t_ours, best_of([&] { pw::gemm_exact(M, N, K, A, B, nullptr, c1.data(), N); },
                                        min_seconds / kRounds, min_reps));
      t_blas = std::min(t_blas, best_of(
                                    [&] {
                                      cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, 1.0f, a.data(), lda, b.data(), ldb,
                                                  0.0f, c2.data(), N);
                                    },
                                    min_seconds / kRounds, min_reps));
    }

    double maxdiff = 0;
    for (size_t i = 0; i < c1.size(); i++) maxdiff = std::max(maxdiff, double(std::fabs(c1[i] - c2[i])));
    // |a|,|b| ≤ 1: each sum's rounding error is far below K·2⁻²⁰; anything bigger is a bug.
    if (!(maxdiff <= K * std::ldexp(1.0, -20))) bad = true;

    const double g_ours = flops / t_ours * 1e-9, g_blas = flops / t_blas * 1e-9, ratio = t_blas / t_ours;
    std::printf("%s %5d %5d %5d %s %10.1f %10.1f %6.2fx %10.2e\n", pad(s.name, 28).c_str(), M, N, K,
                pad(layout_name(s.layout), 5).c_str(), g_ours,
                g_blas, ratio, maxdiff);
    if (s.per_step) {
      step_flops += s.per_step * flops;
      step_ours += s.per_step * t_ours;
      step_blas += s.per_step * t_blas;
    }
    if (mdf)
      std::fprintf(mdf, "| GEMM %s (%d×%d×%d, %s) | %.1f GFLOP/s | %.1f GFLOP/s | %.2f× | ≥ 0.7× |\n", s.name, M, N, K,
                   layout_name(s.layout), g_ours, g_blas, ratio);
  }
  const double g_ours = step_flops / step_ours * 1e-9, g_blas = step_flops / step_blas * 1e-9;
  std::printf("%s %5s %5s %5s %s %10.1f %10.1f %6.2fx\n", pad("one MLP step's 8 GEMMs", 28).c_str(), "", "", "",
              pad("", 5).c_str(), g_ours, g_blas,
              step_blas / step_ours);
  std::printf("step GEMM time: ours %.2f ms, OpenBLAS %.2f ms\n", step_ours * 1e3, step_blas * 1e3);
  if (mdf) {
    std::fprintf(mdf, "| GEMM, one MLP step's 8 GEMMs together (%.2f GFLOP) | %.1f GFLOP/s | %.1f GFLOP/s | %.2f× | ≥ 0.7× |\n",
                 step_flops * 1e-9, g_ours, g_blas, step_blas / step_ours);
    std::fclose(mdf);
  }
  if (bad) {
    std::fprintf(stderr, "bench_gemm: results differ from OpenBLAS's beyond rounding\n");
    return 1;
  }
  return 0;
}
