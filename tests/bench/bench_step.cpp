// bench_step: where one exact-mode training step of the MLP goes, op by op, and the
// machine's FP32 FMA peak to hold it against (proofwork(7), TESTS AND BENCHMARKS).
//
//   bench_step [--threads N] [--steps S] [--widths 784-1024-1024-10] [--batch B] [--md FILE] [--json FILE]
//              [--clock wall|cpu] [--reduce-chunk C] [--versus C2]
//
// 1. FMA peak: independent chains of 256-bit fused multiply-adds (12 accumulators per
//    thread, no memory traffic), on N threads: the most FP32 FLOP/s the cores can do
//    (at the clock they run at now: turbo makes one thread's figure more than half of two's).
// 2. The step: the MLP's tape (lib/model/tape.hpp) on synthetic pixels, SGD with
//    momentum, timed op by op through run_step's hook (the hook only reads a clock, but
//    with a hook the ops run one by one, nothing fused), each hooked step followed by one
//    without a hook, timed whole: the step as pol-train runs it. S of each after 3
//    warm-up pairs; medians. No checkpoint writes, no dataset reading: the step alone.
// Prints a table on stdout; --md appends Markdown rows for tests/bench's summary table;
// --reduce-chunk C: the chunked batch reduction of a task with reduceChunk C (0: the one
// chain over the batch), the cost pol-task --reduce-chunk adds, op by op.
// --versus C2: instead, two workspaces, one with reduce chunk C and one with C2, stepped
// in turns in this one process (ABBA order), S steps each after 3 warm-up pairs; prints
// the median of the steps' time ratios C : C2 (a slow drift of a shared machine touches
// both sides of a ratio alike) and writes {"threads", "chunk", "versus", "ratio",
// "step_ms", "versus_ms", "ratios": [...]} to --json.
// --json writes {"peak_gflops", "step_ms", "step_gflops", "ops": [{"op", "kind", "shape",
// "ms", "gflops"}]}.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "core/program.hpp"
#include "model/tape.hpp"

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
// --clock cpu: the process's CPU time instead of the wall clock (with --threads 1, a
// comparison that time slices lost to other processes do not disturb).
bool g_cpu_clock = false;
double step_clock() {
  if (!g_cpu_clock) return now();
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Twelve independent 8-wide fma chains: enough in flight to cover two FMA pipes' latency.
__attribute__((target("avx2,fma"), noinline)) float fma_chains(int64_t iters, float seed) {
  // Distinct starting values: identical chains would be merged into one by the compiler.
  __m256 a0 = _mm256_set1_ps(seed), a1 = _mm256_set1_ps(seed + 0.01f), a2 = _mm256_set1_ps(seed + 0.02f),
         a3 = _mm256_set1_ps(seed + 0.03f), a4 = _mm256_set1_ps(seed + 0.04f), a5 = _mm256_set1_ps(seed + 0.05f),
         a6 = _mm256_set1_ps(seed + 0.06f), a7 = _mm256_set1_ps(seed + 0.07f), a8 = _mm256_set1_ps(seed + 0.08f),
         a9 = _mm256_set1_ps(seed + 0.09f), a10 = _mm256_set1_ps(seed + 0.10f), a11 = _mm256_set1_ps(seed + 0.11f);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < iters; i++) {
    a0 = _mm256_fmadd_ps(a0, m, c), a1 = _mm256_fmadd_ps(a1, m, c), a2 = _mm256_fmadd_ps(a2, m, c);
    a3 = _mm256_fmadd_ps(a3, m, c), a4 = _mm256_fmadd_ps(a4, m, c), a5 = _mm256_fmadd_ps(a5, m, c);
    a6 = _mm256_fmadd_ps(a6, m, c), a7 = _mm256_fmadd_ps(a7, m, c), a8 = _mm256_fmadd_ps(a8, m, c);
    a9 = _mm256_fmadd_ps(a9, m, c), a10 = _mm256_fmadd_ps(a10, m, c), a11 = _mm256_fmadd_ps(a11, m, c);
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                           _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  alignas(32) float out[8];
  _mm256_store_ps(out, s);
  return out[0];
}

// GFLOP/s of fma_chains on `threads` threads: the best of 100 rounds of a few ms each
// (short rounds, so that on a shared machine some of them run undisturbed).
double fma_peak(int threads) {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
  const int64_t iters = 1'000'000;
  double best = 1e30;
  volatile float sink = 0;
  for (int r = 0; r < 100; r++) {
    const double t0 = now();
#pragma omp parallel num_threads(threads)
    {
      const float v = fma_chains(iters, 1.0f + float(omp_get_thread_num()));
#pragma omp critical
      sink = sink + v;
    }
    best = std::min(best, now() - t0);
  }
  return double(threads) * double(iters) * 12 * 8 * 2 / best * 1e-9;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Multiply-adds of a GEMM op of the tape (0 for the others).
int64_t op_macs(const pw::Tape& t, const pw::Op& op) {
  auto sp = [&](int id) -> const pw::TensorSpec& { return t.tensors[size_t(id)]; };
  switch (op.kind) {
    case pw::OpKind::LinearForward: return int64_t(sp(op.in[0]).rows) * sp(op.in[1]).rows * sp(op.in[1]).cols;
    case pw::OpKind::LinearBackwardWeight:
    case pw::OpKind::LinearBackwardInput: return int64_t(sp(op.in[0]).rows) * sp(op.in[0]).cols * sp(op.in[1]).cols;
    default: return 0;
  }
}

std::string op_shape(const pw::Tape& t, const pw::Op& op) {
  auto sp = [&](int id) { return t.tensors[size_t(id)]; };
  const auto& a = sp(op.out.empty() ? op.in[0] : op.out[0]);
  std::string s = std::to_string(a.rows) + "x" + std::to_string(a.cols);
  if (const int64_t m = op_macs(t, op)) {
    const int64_t mn = int64_t(a.rows) * a.cols;
    s += " K=" + std::to_string(m / mn);
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, steps = 30, batch = 128, reduce_chunk = 0, versus = -1;
  std::string widths_arg = "784-1024-1024-10", md, json;
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--threads") threads = std::atoi(next().c_str());
    else if (a == "--steps") steps = std::atoi(next().c_str());
    else if (a == "--batch") batch = std::atoi(next().c_str());
    else if (a == "--widths") widths_arg = next();
    else if (a == "--md") md = next();
    else if (a == "--json") json = next();
    else if (a == "--clock") g_cpu_clock = next() == "cpu";
    else if (a == "--reduce-chunk") reduce_chunk = std::atoi(next().c_str());
    else if (a == "--versus") versus = std::atoi(next().c_str());
    else {
      std::fprintf(stderr, "usage: bench_step [--threads N] [--steps S] [--widths W-W-...] [--batch B] [--md FILE] [--json FILE] [--clock wall|cpu] [--reduce-chunk C] [--versus C2]\n");
      return 2;
    }
  }
  std::vector<int> widths;
  for (size_t p = 0; p < widths_arg.size();) {
    const size_t q = widths_arg.find('-', p);
    widths.push_back(std::atoi(widths_arg.substr(p, q - p).c_str()));
    if (q == std::string::npos) break;
    p = q + 1;
  }
  if (threads < 1 || steps < 1 || batch < 1 || widths.size() < 2 || reduce_chunk < 0 || versus < -1 ||
      std::any_of(widths.begin(), widths.end(), [](int w) { return w < 1; })) {
    std::fprintf(stderr, "bench_step: bad arguments\n");
    return 2;
  }
  pw::set_threads(threads);

  const pw::Tape tape = pw::build_mlp_tape(widths, batch, pw::OptimizerType::Sgd);
  pw::Workspace ws(tape);
  std::mt19937 rng(1);
  for (int id : tape.params) {
    const float bound = 1.0f / std::sqrt(float(tape.tensors[size_t(id)].cols));
    std::uniform_real_distribution<float> d(-bound, bound);
    for (float& v : ws.t[size_t(id)]) v = d(rng);
  }
  const int n = 4096, F = widths[0];
  std::vector<uint8_t> images(size_t(n) * F), labels(n);
  for (auto& v : images) v = uint8_t(rng() & 0xff);
  for (auto& v : labels) v = uint8_t(rng() % uint32_t(widths.back()));
  std::vector<uint32_t> idx(static_cast<size_t>(batch), 0u);
  // One step's context: the synthetic data, the batch in idx, SGD with momentum.
  auto step_context = [&](bool first_step, int chunk) {
    pw::StepContext ctx;
    ctx.images = images.data();
    ctx.labels = labels.data();
    ctx.batch_indices = idx.data();
    ctx.sgd = {0.01f, 0.9f, 0.0f, first_step};
    ctx.compute.reduce_chunk = chunk;
    return ctx;
  };

  if (versus >= 0) {  // two workspaces in turns: the ratio of their steps' times
    pw::Workspace ws2 = ws;
    pw::Workspace* sides[2] = {&ws, &ws2};
    const int chunks[2] = {reduce_chunk, versus};
    std::vector<double> ms[2], ratios;
    for (int s = -3; s < steps; s++) {
      for (int b = 0; b < batch; b++) idx[size_t(b)] = uint32_t((int64_t(s + 3) * batch + b) % n);
      double t[2];
      for (int k = 0; k < 2; k++) {
        const int side = (s & 1) ? 1 - k : k;  // ABBA: neither side always runs first
        const pw::StepContext ctx = step_context(s == -3, chunks[side]);
        const double t0 = step_clock();
        pw::run_step(tape, *sides[side], ctx);
        t[side] = (step_clock() - t0) * 1e3;
      }
      if (s < 0) continue;
      ms[0].push_back(t[0]), ms[1].push_back(t[1]), ratios.push_back(t[0] / t[1]);
    }
    const double ratio = median(ratios);
    std::printf("bench_step: MLP %s, batch %d, %d thread(s), %d steps in turns: reduce chunk %d %.3f ms, reduce chunk %d"
                " %.3f ms (medians); median ratio %.4f (%+.1f %%)\n",
                widths_arg.c_str(), batch, threads, steps, reduce_chunk, median(ms[0]), versus, median(ms[1]), ratio,
                (ratio - 1) * 100);
    if (!json.empty()) {
      FILE* f = std::fopen(json.c_str(), "w");
      if (!f) return std::perror(json.c_str()), 4;
      std::fprintf(f, "{\"threads\": %d, \"chunk\": %d, \"versus\": %d, \"ratio\": %.5f, \"step_ms\": %.4f, \"versus_ms\": %.4f, \"ratios\": [",
                   threads, reduce_chunk, versus, ratio, median(ms[0]), median(ms[1]));
      for (size_t i = 0; i < ratios.size(); i++) std::fprintf(f, "%s%.5f", i ? ", " : "", ratios[i]);
      std::fprintf(f, "]}\n");
      std::fclose(f);
    }
    return 0;
  }

  const double peak = fma_peak(threads);
  const double peak1 = threads > 1 ? fma_peak(1) : peak;
  const size_t nops = tape.ops.size();
  std::vector<std::vector<double>> op_ms(nops);
  std::vector<double> step_ms, op_step_ms;
  for (int s = -3; s < steps; s++) {
    for (int b = 0; b < batch; b++) idx[size_t(b)] = uint32_t((int64_t(s + 3) * batch + b) % n);
    pw::StepContext ctx = step_context(s == -3, reduce_chunk);
    std::vector<double> stamps(nops);
    const double t0 = step_clock();
    pw::run_step(tape, ws, ctx, [&](int i, pw::Workspace&) { stamps[size_t(i)] = step_clock(); });
    // The next step without a hook: as pol-train runs it, element-wise ops fused.
    for (int b = 0; b < batch; b++) idx[size_t(b)] = uint32_t((int64_t(s + 3) * batch + b + batch / 2) % n);
    ctx.sgd.first_step = false;
    const double t1 = step_clock();
    pw::run_step(tape, ws, ctx);
    const double t2 = step_clock();
    if (s < 0) continue;
    op_step_ms.push_back((stamps.back() - t0) * 1e3);
    step_ms.push_back((t2 - t1) * 1e3);
    for (size_t i = 0; i < nops; i++) op_ms[i].push_back((stamps[i] - (i ? stamps[i - 1] : t0)) * 1e3);
  }
  const double step = median(step_ms), op_step = median(op_step_ms);
  const double flops = double(tape.flops_per_step());
  const double step_gf = flops / (step * 1e-3) * 1e-9;

  std::printf("bench_step: MLP %s, batch %d, SGD momentum, %d thread(s), %d steps (median per op), reduce chunk %d\n",
              widths_arg.c_str(), batch, threads, steps, reduce_chunk);
  std::printf("FMA peak (AVX2, %d thread(s)): %.1f GFLOP/s; 1 thread: %.1f GFLOP/s\n", threads, peak, peak1);
  std::printf("%3s  %-24s %-18s %9s %7s %9s\n", "op", "kind", "shape", "ms", "% step", "GFLOP/s");
  double sum_ops = 0;
  std::string ops_json;
  for (size_t i = 0; i < nops; i++) {
    const double ms = median(op_ms[i]);
    sum_ops += ms;
    const int64_t macs = op_macs(tape, tape.ops[i]);
    const double gf = macs ? 2.0 * double(macs) / (ms * 1e-3) * 1e-9 : 0;
    const std::string shape = op_shape(tape, tape.ops[i]);
    std::printf("%3zu  %-24s %-18s %9.3f %6.1f%% %9s\n", i, pw::op_name(tape.ops[i].kind), shape.c_str(), ms,
                100 * ms / op_step, macs ? std::to_string(int(gf + 0.5)).c_str() : "");
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s{\"op\": %zu, \"kind\": \"%s\", \"shape\": \"%s\", \"ms\": %.4f, \"gflops\": %.2f}",
                  i ? ", " : "", i, pw::op_name(tape.ops[i].kind), shape.c_str(), ms, gf);
    ops_json += buf;
  }
  std::printf("op by op (with the timing hook, nothing fused): %.3f ms median step (the ops' medians add to %.3f ms)\n",
              op_step, sum_ops);
  std::printf("step as pol-train runs it (no hook, element-wise ops fused): %.3f ms median, %.2f GFLOP per step:"
              " %.1f GFLOP/s = %.1f %% of the FMA peak\n",
              step, flops * 1e-9, step_gf, peak > 0 ? 100 * step_gf / peak : 0.0);
  if (!md.empty()) {
    FILE* f = std::fopen(md.c_str(), "a");
    if (!f) return std::perror(md.c_str()), 4;
    std::fprintf(f, "| FP32 FMA peak of this machine (AVX2 fma chains, %d thread(s)) | %.1f GFLOP/s | — | — | — |\n",
                 threads, peak);
    std::fprintf(f, "| One exact training step alone (MLP %s, batch %d, %d thread(s); bench_step, median of %d) vs the FMA peak | %.1f GFLOP/s (%.2f ms) | %.1f GFLOP/s | %.0f %% | ≥ 70 %% |\n",
                 widths_arg.c_str(), batch, threads, steps, step_gf, step, peak, peak > 0 ? 100 * step_gf / peak : 0.0);
    std::fclose(f);
  }
  if (!json.empty()) {
    FILE* f = std::fopen(json.c_str(), "w");
    if (!f) return std::perror(json.c_str()), 4;
    std::fprintf(f, "{\"threads\": %d, \"peak_gflops\": %.3f, \"peak_gflops_1thread\": %.3f, \"step_ms\": %.4f, \"step_gflops\": %.3f, \"op_by_op_step_ms\": %.4f, \"ops\": [%s]}\n",
                 threads, peak, peak1, step, step_gf, op_step, ops_json.c_str());
    std::fclose(f);
  }
  return 0;
}
