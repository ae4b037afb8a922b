// Fast mode's kernels (proofwork(7), FAST MODE) and the tolerance machinery of pol-profile and
// pol-verify: distances, the detection arithmetic.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "model/tape.hpp"
#include "unit_helpers.hpp"
#include "tensor/gemm.hpp"
#include "tensor/mathfn.hpp"
#include "tensor/ops.hpp"
#include "verify/distance.hpp"
#include "verify/verify.hpp"

namespace {

std::vector<float> random_vec(size_t n, std::mt19937& g) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(g);
  return v;
}

// gemm_fast's documented order with plain loops: panels of `kc` terms each summed from
// zero with fma, k ascending; C = panel 0, then C = C + panel i; then C = C + bias.
void gemm_fast_reference(int M, int N, int K, const float* A, const float* B, const float* bias, float* C, int kc) {
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      float c = 0.0f;
      for (int k0 = 0; k0 < K; k0 += kc) {
        float p = 0.0f;
        for (int k = k0; k < std::min(K, k0 + kc); k++) p = pw::fmaf_exact(A[i * K + k], B[k * N + j], p);
        c = k0 == 0 ? p : c + p;
      }
      C[i * N + j] = bias ? c + bias[j] : c;
    }
}

}  // namespace

TEST_CASE("gemm_fast follows its documented order bit for bit, on any thread count, and differs from exact") {
  pwtest::SettingsGuard guard;
  std::mt19937 g(5);
  struct Case {
    int M, N, K, kc;
  };
  const Case cases[] = {{7, 17, 300, 32}, {128, 64, 784, 128}, {6, 16, 256, 64}, {97, 33, 129, 128},
                        {1, 1, 1000, 256}, {130, 300, 40, 32}};
  int differs = 0;
  for (const Case& c : cases)
    for (int portable = 0; portable < 2; portable++)
      for (int threads : {1, 2}) {
        pw::gemm_force_portable(portable == 1);
        pw::set_threads(threads);
        const auto A = random_vec(size_t(c.M) * c.K, g), B = random_vec(size_t(c.K) * c.N, g),
                   bias = random_vec(size_t(c.N), g);
        std::vector<float> got(size_t(c.M) * c.N), want(got.size()), exact(got.size());
        pw::gemm_fast(c.M, c.N, c.K, pw::row_major(A.data(), c.K), pw::row_major(B.data(), c.N), bias.data(), got.data(),
                      c.N, c.kc);
        gemm_fast_reference(c.M, c.N, c.K, A.data(), B.data(), bias.data(), want.data(), c.kc);
        INFO("M=" << c.M << " N=" << c.N << " K=" << c.K << " kc=" << c.kc << " portable=" << portable
                  << " threads=" << threads);
        CHECK(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0);
        pw::gemm_exact(c.M, c.N, c.K, pw::row_major(A.data(), c.K), pw::row_major(B.data(), c.N), bias.data(),
                       exact.data(), c.N);
        differs += std::memcmp(got.data(), exact.data(), got.size() * sizeof(float)) != 0;
        // Both are accurate sums: within a few ulp·K of each other.
        double worst = 0;
        for (size_t i = 0; i < got.size(); i++) worst = std::max(worst, double(std::fabs(got[i] - exact[i])));
        CHECK(worst < 1e-4);
      }
  CHECK(differs == int(std::size(cases)) * 4);  // every case: other bits than exact
  float x = 1, y = 1, z = 0;
  CHECK(pwtest::error_code_of([&] { pw::gemm_fast(1, 1, 1, pw::row_major(&x, 1), pw::row_major(&y, 1), nullptr, &z, 1, 0); }) ==
        pw::kExitInternal);
}

TEST_CASE("column_sums_fast sums one chunk of rows per thread, then the chunks in order") {
  pwtest::SettingsGuard guard;
  std::mt19937 g(9);
  const int B = 128, O = 1024;  // above the parallel threshold
  const auto dy = random_vec(size_t(B) * O, g);
  std::vector<float> exact(O), one(O), two(O);
  pw::column_sums(dy.data(), exact.data(), B, O);
  pw::set_threads(1);
  pw::column_sums_fast(dy.data(), one.data(), B, O);
  CHECK(std::memcmp(one.data(), exact.data(), sizeof(float) * O) == 0);  // one chunk: exact's order
  pw::set_threads(2);
  pw::column_sums_fast(dy.data(), two.data(), B, O);
  int differ = 0;
  for (int o = 0; o < O; o++) {
    float a = 0, b = 0;
    for (int r = 0; r < B / 2; r++) a = a + dy[size_t(r) * O + o];
    for (int r = B / 2; r < B; r++) b = b + dy[size_t(r) * O + o];
    CHECK(two[size_t(o)] == a + b);
    differ += two[size_t(o)] != exact[size_t(o)];
  }
  CHECK(differ > 0);  // thread count changes the bits in fast mode
}

TEST_CASE("fast mode in a training step: same shapes, other bits, close values") {
  const pw::Tape tape = pw::build_mlp_tape({20, 300, 4}, 8, pw::OptimizerType::Sgd);
  pw::Workspace a(tape), b(tape);
  std::mt19937 g(3);
  for (int id : tape.params) {
    auto v = random_vec(a.t[size_t(id)].size(), g);
    a.t[size_t(id)] = v, b.t[size_t(id)] = v;
  }
  std::vector<uint8_t> images(16 * 20), labels(16);
  for (size_t i = 0; i < images.size(); i++) images[i] = uint8_t(i * 37);
  for (size_t i = 0; i < labels.size(); i++) labels[i] = uint8_t(i % 4);
  std::vector<uint32_t> idx = {0, 3, 5, 7, 9, 11, 13, 15};
  pw::StepContext ctx;
  ctx.images = images.data(), ctx.labels = labels.data(), ctx.batch_indices = idx.data();
  ctx.sgd = {0.1f, 0.9f, 0.0f, true};
  pw::run_step(tape, a, ctx);
  ctx.compute.fast = true;
  ctx.compute.fast_panel = 8;  // K = 300 in the second layer: several panels
  pw::run_step(tape, b, ctx);
  const pw::Distances d = pw::state_distances(tape, a, b);
  CHECK(d.value[pw::kLinf].back() > 0);
  CHECK(d.value[pw::kLinf].back() < 1e-5);
}

TEST_CASE("state distances: l1, l2, linf, cosine per tensor and for the model") {
  const pw::Tape tape = pw::build_mlp_tape({2, 2}, 1, pw::OptimizerType::Sgd);  // 0.weight (2x2), 0.bias (2), momentum
  pw::Workspace a(tape), b(tape);
  a.t[size_t(tape.params[0])] = {1, 0, 0, 0};
  b.t[size_t(tape.params[0])] = {1, 0, 0, 2};
  a.t[size_t(tape.params[1])] = {3, 4};
  b.t[size_t(tape.params[1])] = {3, 4};
  const pw::Distances d = pw::state_distances(tape, a, b);
  REQUIRE(d.names.front() == "0.weight");
  REQUIRE(d.names.back() == "model");
  CHECK(d.value[pw::kL1][0] == 2);
  CHECK(d.value[pw::kL2][0] == 2);
  CHECK(d.value[pw::kLinf][0] == 2);
  CHECK(d.value[pw::kCosine][0] == doctest::Approx(1 - 1 / std::sqrt(5.0)));
  CHECK(d.value[pw::kL1][1] == 0);
  CHECK(d.value[pw::kCosine][1] == 0);
  CHECK(d.value[pw::kL2].back() == 2);
  // Thresholds: exceeding names the tensor and the metric; NaN always exceeds.
  pw::Distances t = d;
  CHECK(pw::exceeds(d, t).empty());
  t.value[pw::kLinf][0] = 1.5;
  CHECK(pw::exceeds(d, t).find("0.weight linf 2 > threshold 1.5") == 0);
  pw::Distances nan = d;
  nan.value[pw::kL1][1] = NAN;
  CHECK(!pw::exceeds(nan, d).empty());
}

TEST_CASE("detection arithmetic: the independent-draw bound and the exact hypergeometric figure") {
  const pw::Detection d = pw::detection(100, 10, 0.1);
  CHECK(d.p_bound == doctest::Approx(1 - std::pow(0.9, 10)));
  CHECK(d.p_exact == doctest::Approx(0.6695237889132748));  // 1 − C(90,10)/C(100,10)
  CHECK(d.p_exact >= d.p_bound);
  CHECK(d.replayed_for_99 == 36);
  CHECK(pw::detection(20, 18, 0.1).p_exact >= 0.99);
  CHECK(pw::detection(20, 17, 0.1).p_exact < 0.99);
  CHECK(pw::detection(20, 1, 0.1).replayed_for_99 == 18);
  CHECK(pw::detection(4, 4, 0.1).p_exact == 1);
  CHECK(pw::detection(10, 3, 0).p_exact == 0);
}
