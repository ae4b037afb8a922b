// The CUDA backend (proofwork(7), EXACT MODE and FAST MODE).
//
// Suite "device" runs everywhere: device selection and its errors, and the PW_HD
// per-element functions that the CPU loops and the CUDA kernels share (so the CPU
// exercises the very arithmetic the GPU runs).
//
// Suite "gpu" needs a CUDA device (tests/gpu/run.sh; `make test` excludes the label):
// every op on the GPU equals the CPU bit for bit (memcmp) over odd shapes and every
// GEMM transpose, a whole step and 20 steps of the tiny task equal the CPU's, and fast
// mode stays within tolerance of exact. Without a device each test of the suite fails,
// saying so: `make test` (ctest -LE gpu) leaves the suite out, tests/gpu/run.sh runs it
// where there is a GPU, and a bare `unit-tests` run there wants -tse=gpu.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>

#include "cli/cli.hpp"
#include "model/device.hpp"
#include "model/gpt.hpp"
#include "model/transformer_cuda.hpp"
#include "proof/proof.hpp"
#include "tensor/gemm.hpp"
#include "tensor/transformer.hpp"
#include "train/fault.hpp"
#include "train/trainer.hpp"
#include "unit_helpers.hpp"

using namespace pw;

namespace {

std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(g);
  return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// The first differing element, for the failure message.
std::string first_difference(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return "sizes " + std::to_string(a.size()) + " and " + std::to_string(b.size());
  for (size_t i = 0; i < a.size(); i++)
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) {
      char buf[128];
      std::snprintf(buf, sizeof buf, "element %zu: %.9g vs %.9g", i, double(a[i]), double(b[i]));
      return buf;
    }
  return "none";
}

bool gpu_present() {
  static const bool present = cuda_probe().devices > 0;
  return present;
}

// A test of suite gpu without a usable device fails: a check that cannot run is not a pass.
#define PW_REQUIRE_GPU()                                                                             \
  REQUIRE_MESSAGE(gpu_present(), "suite gpu needs a CUDA device: " << cuda_probe().error            \
                                     << " (make test leaves the suite out; tests/gpu/run.sh runs it)")

using pwtest::tiny_config;
using pwtest::tiny_dataset;

// Op by op: `gpu` runs each op of `cpu`'s tape from the CPU's state just before it, and
// every output must have the CPU's bits. Returns the op kinds it ran.
std::set<std::string> compare_ops(Trainer& cpu, Executor& gpu, const StepContext& ctx) {
  std::vector<int> all(cpu.tape.tensors.size());
  for (size_t i = 0; i < all.size(); i++) all[i] = int(i);
  std::set<std::string> kinds;
  for (size_t i = 0; i < cpu.tape.ops.size(); i++) {
    const Op& op = cpu.tape.ops[i];
    const std::string kind = op_name(op.kind);
    kinds.insert(kind);
    CAPTURE(kind);
    CAPTURE(i);
    gpu.upload(cpu.ws, all);
    gpu.run_op(int(i), ctx);
    run_op(cpu.tape, op, cpu.ws, ctx);
    Workspace back(cpu.tape);
    gpu.download(back, op.out);
    for (int id : op.out) {
      INFO("tensor ", cpu.tape.tensors[size_t(id)].name, ", first difference: ",
           first_difference(cpu.ws.t[size_t(id)], back.t[size_t(id)]));
      CHECK(same_bits(cpu.ws.t[size_t(id)], back.t[size_t(id)]));
    }
  }
  return kinds;
}

// One step on each trainer (the CPU's, one on a device): the losses have the same bits.
void step_both(Trainer& cpu, Trainer& gpu) {
  cpu.run_step();
  gpu.run_step();
  CHECK(std::memcmp(&cpu.loss, &gpu.loss, 4) == 0);
}

// A tiny GPT (gpt:2-2-32-16, batch 4) on a text of `bytes` pseudo-random letters and
// spaces; AdamW with clipping at `clip` (0: none), or SGD with momentum.
TaskConfig tiny_gpt_config(OptimizerType opt, double clip, uint64_t bytes = 3000) {
  TaskConfig c;
  c.model = ModelKind::Gpt;
  c.gpt.layers = 2, c.gpt.heads = 2, c.gpt.channels = 32, c.gpt.context = 16;
  c.batch = 4;
  c.steps = 6;
  c.checkpoint_every = 3;
  c.seed = 3;
  c.optimizer = opt;
  c.lr = opt == OptimizerType::Sgd ? 0.05 : 1e-3;
  c.momentum = 0.9;
  c.weight_decay = 0.1;
  c.beta1 = 0.85, c.beta2 = 0.98;
  c.clip = clip;
  c.text_length = bytes;
  return c;
}

Dataset tiny_text(uint64_t bytes = 3000) {
  Dataset d;
  std::mt19937 g(5);
  const char letters[] = "etaoin shrdlu cmfwyp vbgkqjxz  ";
  d.text.resize(bytes);
  for (uint8_t& b : d.text) b = uint8_t(letters[g() % (sizeof letters - 1)]);
  d.count = uint32_t(bytes - 16);  // the window starts (len − T)
  d.val_text.assign(d.text.begin(), d.text.begin() + 600);
  return d;
}

}  // namespace

TEST_SUITE("device") {
  TEST_CASE("parse_device accepts cpu and cuda and refuses anything else as a usage error") {
    CHECK(parse_device("cpu") == DeviceKind::Cpu);
    CHECK(parse_device("cuda") == DeviceKind::Cuda);
    CHECK(pwtest::error_code_of([] { parse_device("gpu"); }) == kExitUsage);
    CHECK(pwtest::error_code_of([] { parse_device(""); }) == kExitUsage);
  }

  TEST_CASE("cuda_probe agrees with the build and says why there is no device") {
    const CudaProbe p = cuda_probe();
    CHECK(p.built == cuda_built());
#ifdef PW_HAVE_CUDA
    CHECK(p.built);
#else
    CHECK_FALSE(p.built);
    CHECK(p.devices == 0);
#endif
    if (p.devices == 0) {
      CHECK_FALSE(p.error.empty());
    } else {
      CHECK(p.error.empty());
      CHECK_FALSE(p.name.empty());
      CHECK(p.memory > 0);
    }
  }

  TEST_CASE("without a usable device --device cuda is an environment error (exit 4) that says why") {
    if (gpu_present()) {
      CHECK(pwtest::error_code_of([] { require_cuda("--device cuda"); }) == -1);
      return;
    }
    try {
      require_cuda("--device cuda");
      FAIL("require_cuda did not throw");
    } catch (const Error& e) {
      CHECK(e.code == kExitInternal);
      const std::string msg = e.what();
      CHECK(msg.rfind("--device cuda: ", 0) == 0);
      if (cuda_built())
        CHECK(msg.find("no CUDA device: ") != std::string::npos);
      else
        CHECK(msg.find("built without CUDA") != std::string::npos);
    }
    const Tape tape = build_mlp_tape({4, 3, 2}, 2, OptimizerType::Sgd);
    CHECK(pwtest::error_code_of([&] { make_cuda_executor(tape, false); }) == kExitInternal);
    float c = 0;
    CHECK(pwtest::error_code_of([&] { cuda_gemm_exact_host(1, 1, 1, &c, 1, 1, &c, 1, 1, nullptr, &c, 1); }) ==
          kExitInternal);
  }

  TEST_CASE("the CUDA executor takes a GPT in exact mode only: fast is a usage error (exit 2) before any device") {
    CHECK(pwtest::error_code_of([] { check_cuda_model(ModelKind::Gpt, false); }) == -1);
    CHECK(pwtest::error_code_of([] { check_cuda_model(ModelKind::Mlp, true); }) == -1);
    CHECK(pwtest::error_code_of([] { check_cuda_model(ModelKind::Gpt, true); }) == kExitUsage);
    TaskConfig c = tiny_gpt_config(OptimizerType::Adamw, 1.0);
    CHECK(pwtest::error_code_of([&] { check_model_device(c, DeviceKind::Cuda); }) == -1);
    c.exact = false;
    try {
      check_model_device(c, DeviceKind::Cuda);
      FAIL("a fast GPT on cuda was not refused");
    } catch (const Error& e) {
      CHECK(e.code == kExitUsage);
      CHECK(std::string(e.what()).find("exact mode only") != std::string::npos);
    }
    CHECK(pwtest::error_code_of([&] { check_model_device(c, DeviceKind::Cpu); }) == -1);
    if (!gpu_present()) {  // without a device a GPT is refused as the MLP is: exit 4
      const Tape tape = build_gpt_tape(c.gpt, c.batch, OptimizerType::Adamw, 1.0f);
      CHECK(pwtest::error_code_of([&] { make_cuda_executor(tape, false); }) == kExitInternal);
    }
  }

  TEST_CASE("apply_common_options: cuda needs a capable program and a device") {
    CommonOptions o;
    o.device = DeviceKind::Cuda;
    CHECK(pwtest::error_code_of([&] { apply_common_options(o, false); }) == kExitInternal);
    CHECK(pwtest::error_code_of([&] { apply_common_options(o, true); }) == (gpu_present() ? -1 : kExitInternal));
    o.device = DeviceKind::Cpu;
    CHECK(pwtest::error_code_of([&] { apply_common_options(o, true); }) == -1);
  }

  TEST_CASE("softmax_ce_row against double precision and as the body of the CPU op") {
    const int B = 7, C = 13;
    std::vector<float> logits = random_floats(size_t(B) * C, 5, -30.0f, 30.0f), labels(B), probs(size_t(B) * C),
                       probs_rows(size_t(B) * C);
    for (int b = 0; b < B; b++) labels[size_t(b)] = float((b * 5) % C);
    const float loss = softmax_cross_entropy_forward(logits.data(), labels.data(), probs.data(), B, C);
    float total = 0.0f;
    double total_ref = 0;
    for (int b = 0; b < B; b++) {
      const float* z = logits.data() + b * C;
      total = total + softmax_ce_row(z, int(labels[size_t(b)]), probs_rows.data() + b * C, C);
      double mx = z[0], sum = 0;
      for (int c = 1; c < C; c++) mx = std::max(mx, double(z[c]));
      for (int c = 0; c < C; c++) sum += std::exp(double(z[c]) - mx);
      for (int c = 0; c < C; c++) CHECK(probs_rows[size_t(b * C + c)] == doctest::Approx(std::exp(z[c] - mx) / sum).epsilon(1e-5));
      total_ref += std::log(sum) - (double(z[int(labels[size_t(b)])]) - mx);
    }
    const float mean = total / float(B);
    CHECK(same_bits(probs, probs_rows));
    CHECK(std::memcmp(&loss, &mean, 4) == 0);
    CHECK(loss == doctest::Approx(total_ref / B).epsilon(1e-5));
  }

  TEST_CASE("softmax_ce_grad_elem: the CPU backward is made of it") {
    const int B = 5, C = 10;
    std::vector<float> probs = random_floats(size_t(B) * C, 6, 0.0f, 1.0f), labels(B), d(size_t(B) * C);
    for (int b = 0; b < B; b++) labels[size_t(b)] = float(b % C);
    softmax_cross_entropy_backward(probs.data(), labels.data(), d.data(), B, C);
    for (int b = 0; b < B; b++)
      for (int c = 0; c < C; c++) {
        const float want = softmax_ce_grad_elem(probs[size_t(b * C + c)], c == b % C, 1.0f / B);
        CHECK(std::memcmp(&d[size_t(b * C + c)], &want, 4) == 0);
        CHECK(want == doctest::Approx((probs[size_t(b * C + c)] - (c == b % C ? 1.0 : 0.0)) / B));
      }
  }

  TEST_CASE("the vectorised CPU updates equal sgd_elem and adamw_elem (the GPU kernels' functions)") {
    const int64_t n = 1000;  // below and above the vector width, with a tail
    const std::vector<float> g = random_floats(size_t(n), 7), p0 = random_floats(size_t(n), 8),
                             m0 = random_floats(size_t(n), 9), v0 = random_floats(size_t(n), 10, 0.0f, 1.0f);
    for (float mom : {0.0f, 0.9f})
      for (float wd : {0.0f, 1e-3f})
        for (bool first : {true, false}) {
          CAPTURE(mom);
          CAPTURE(wd);
          CAPTURE(first);
          const SgdScalars s{0.05f, mom, wd, first};
          std::vector<float> p = p0, buf = m0, pe = p0, bufe = m0;
          sgd_update(p.data(), g.data(), buf.data(), n, s);
          for (int64_t i = 0; i < n; i++) sgd_elem(pe[size_t(i)], g[size_t(i)], bufe[size_t(i)], s);
          CHECK(same_bits(p, pe));
          CHECK(same_bits(buf, bufe));
          CHECK_FALSE(same_bits(p, p0));
        }
    AdamwScalars a{};
    a.decay = 1.0f - 1e-3f * 1e-2f, a.beta1 = 0.9f, a.one_minus_beta1 = 0.1f, a.beta2 = 0.999f;
    a.one_minus_beta2 = 1.0f - 0.999f, a.step_size = 1e-3f / 0.1f, a.bc2_sqrt = std::sqrt(1.0f - 0.999f), a.eps = 1e-8f;
    std::vector<float> p = p0, m = m0, v = v0, pe = p0, me = m0, ve = v0;
    adamw_update(p.data(), g.data(), m.data(), v.data(), n, a);
    for (int64_t i = 0; i < n; i++) adamw_elem(pe[size_t(i)], g[size_t(i)], me[size_t(i)], ve[size_t(i)], a);
    CHECK(same_bits(p, pe));
    CHECK(same_bits(m, me));
    CHECK(same_bits(v, ve));
    CHECK_FALSE(same_bits(p, p0));
  }

  TEST_CASE("relu_elem / relu_grad_elem: NaN and signed zeros as the CPU loops give them") {
    const float nan = std::nanf("");
    CHECK(relu_elem(nan) == 0.0f);
    CHECK(relu_elem(-0.0f) == 0.0f);
    CHECK_FALSE(std::signbit(relu_elem(-0.0f)));
    CHECK(relu_elem(2.5f) == 2.5f);
    CHECK(relu_grad_elem(3.0f, 0.0f) == 0.0f);
    CHECK(relu_grad_elem(3.0f, 1e-30f) == 3.0f);
    std::vector<float> z = {-1.0f, 0.0f, -0.0f, nan, 4.0f}, y(5);
    relu_forward(z.data(), y.data(), 5);
    for (size_t i = 0; i < 5; i++) {
      const float e = relu_elem(z[i]);
      CHECK(std::memcmp(&y[i], &e, 4) == 0);
    }
  }
}

TEST_SUITE("gpu") {
  // No commas in the names of this suite: doctest_discover_tests cannot label a test
  // named with one, which would then run under `ctest -LE gpu` (and fail without a GPU).
  TEST_CASE("gpu: exact GEMM equals gemm_reference bit for bit over odd shapes and every transpose with and "
            "without bias and both slab lengths") {
    PW_REQUIRE_GPU();
    struct Shape {
      int M, N, K;
    };
    const Shape shapes[] = {{1, 1, 1},   {7, 13, 5},   {128, 128, 8}, {130, 129, 17},
                            {257, 65, 300}, {33, 260, 1}, {5, 3, 0},    {300, 10, 1027},
                            {129, 136, 16}, {70, 520, 33}};
    uint32_t seed = 1;
    for (const int slab : {8, 16})
    for (const Shape& s : shapes)
      for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
          for (int with_bias = 0; with_bias < 2; with_bias++) {
            CAPTURE(slab);
            CAPTURE(s.M);
            CAPTURE(s.N);
            CAPTURE(s.K);
            CAPTURE(ta);
            CAPTURE(tb);
            CAPTURE(with_bias);
            const int K = s.K;
            std::vector<float> A = random_floats(size_t(s.M) * size_t(std::max(K, 1)), seed++),
                               B = random_floats(size_t(std::max(K, 1)) * size_t(s.N), seed++);
            std::vector<float> bias = random_floats(size_t(s.N), seed++);
            if (s.N > 1) bias[1] = -0.0f;  // with K = 0 the sign must survive
            // A (M×K): row-major lda = K, or stored transposed (K×M) with lda = M.
            const MatView a = ta ? transposed(A.data(), s.M) : row_major(A.data(), std::max(K, 1));
            const MatView b = tb ? transposed(B.data(), std::max(K, 1)) : row_major(B.data(), s.N);
            std::vector<float> want(size_t(s.M) * s.N, 7.0f), got(size_t(s.M) * s.N, 7.0f);
            gemm_reference(s.M, s.N, K, a, b, with_bias ? bias.data() : nullptr, want.data(), s.N);
            cuda_gemm_exact_host(s.M, s.N, K, a.p, a.rs, a.cs, b.p, b.rs, b.cs, with_bias ? bias.data() : nullptr,
                                 got.data(), s.N, slab);
            INFO("first difference: ", first_difference(want, got));
            CHECK(same_bits(want, got));
          }
  }

  TEST_CASE("gpu: every op of a step equals the CPU's bit for bit (sgd and adamw with odd widths)") {
    PW_REQUIRE_GPU();
    const Dataset d = tiny_dataset();
    for (OptimizerType opt : {OptimizerType::Sgd, OptimizerType::Adamw}) {
      TaskConfig c = tiny_config(opt);
      c.widths = {784, 37, 19, 10};
      c.batch = 29;
      Trainer cpu(c, d);
      cpu.run_step();  // step 0 first, so the optimizer state is not zero
      std::shared_ptr<Executor> gpu = make_cuda_executor(cpu.tape, false);
      gpu->set_dataset(d.images.data(), d.labels.data(), d.count, d.features());
      compare_ops(cpu, *gpu, cpu.context(1));
    }
  }

  TEST_CASE("gpu: 20 steps of the tiny task give the CPU's checkpoint hashes and test accuracy (exact)") {
    PW_REQUIRE_GPU();
    const Dataset d = tiny_dataset(true);
    for (OptimizerType opt : {OptimizerType::Sgd, OptimizerType::Adamw}) {
      const TaskConfig c = tiny_config(opt);
      Trainer cpu(c, d), gpu(c, d);
      gpu.use_device(make_cuda_executor(gpu.tape, false));
      while (cpu.step < c.steps) {
        step_both(cpu, gpu);
        if (cpu.step % c.checkpoint_every == 0) {
          gpu.to_host();
          CHECK(state_hash(cpu.tape, cpu.ws, cpu.step) == state_hash(gpu.tape, gpu.ws, gpu.step));
        }
      }
      CHECK(test_accuracy(cpu) == test_accuracy(gpu));
      CHECK(test_accuracy(cpu) > 0.3);
    }
  }

  TEST_CASE("gpu: a step with a hook (fault injection) equals the CPU's") {
    PW_REQUIRE_GPU();
    const Dataset d = tiny_dataset();
    const TaskConfig c = tiny_config(OptimizerType::Sgd);
    Trainer cpu(c, d), gpu(c, d);
    gpu.use_device(make_cuda_executor(gpu.tape, false));
    const Fault f = parse_fault("1:3:5", "test");
    for (int s = 0; s < 3; s++) {
      cpu.run_step(fault_hook(cpu.tape, f, cpu.step));
      gpu.run_step(fault_hook(gpu.tape, f, gpu.step));
    }
    gpu.to_host();
    CHECK(state_hash(cpu.tape, cpu.ws, 3) == state_hash(gpu.tape, gpu.ws, 3));
    Trainer clean(c, d);
    for (int s = 0; s < 3; s++) clean.run_step();
    CHECK(state_hash(clean.tape, clean.ws, 3) != state_hash(gpu.tape, gpu.ws, 3));  // the fault took effect
  }

  TEST_CASE("gpu: fast mode (cuBLAS with TF32) stays within tolerance of exact and differs from it") {
    PW_REQUIRE_GPU();
    const Dataset d = tiny_dataset();
    const TaskConfig c = tiny_config(OptimizerType::Sgd);
    Trainer exact(c, d), fast(c, d);
    fast.use_device(make_cuda_executor(fast.tape, true));
    for (int s = 0; s < 20; s++) {
      exact.run_step();
      fast.run_step();
      CHECK(std::isfinite(fast.loss));
      CHECK(fast.loss == doctest::Approx(exact.loss).epsilon(2e-2));
    }
    fast.to_host();
    double num = 0, den = 0;
    bool differs = false;
    for (int id : exact.tape.params) {
      const auto &a = exact.ws.t[size_t(id)], &b = fast.ws.t[size_t(id)];
      for (size_t i = 0; i < a.size(); i++) {
        num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
        den += double(a[i]) * a[i];
      }
      differs = differs || !same_bits(a, b);
    }
    CHECK(std::sqrt(num / den) < 1e-2);  // relative ℓ2 distance of the parameters
    CHECK(differs);                       // TF32 is not exact: the tolerance path is real
  }

  TEST_CASE("gpu: fast steps replayed from a CUDA graph equal op-by-op launches bit for bit (sgd and adamw with "
            "a cosine schedule)") {
    PW_REQUIRE_GPU();
    const Dataset d = tiny_dataset();
    for (OptimizerType opt : {OptimizerType::Sgd, OptimizerType::Adamw}) {
      TaskConfig c = tiny_config(opt, false);
      c.schedule = ScheduleType::Cosine;  // the scalars change every step: the graph must read them anew
      c.warmup_steps = 3;
      c.min_lr = 0.001;
      setenv("PW_CUDA_GRAPHS", "1", 1);
      Trainer graphed(c, d);
      graphed.use_device(make_cuda_executor(graphed.tape, true));
      setenv("PW_CUDA_GRAPHS", "0", 1);
      Trainer eager(c, d);
      eager.use_device(make_cuda_executor(eager.tape, true));
      unsetenv("PW_CUDA_GRAPHS");
      for (int s = 0; s < 12; s++) {
        graphed.run_step();
        eager.run_step();
        CHECK(std::memcmp(&graphed.loss, &eager.loss, 4) == 0);
      }
      graphed.to_host();
      eager.to_host();
      CHECK(state_hash(graphed.tape, graphed.ws, 12) == state_hash(eager.tape, eager.ws, 12));
      CHECK(lr_at(c, 1) != lr_at(c, 10));  // the schedule did move the scalars under the graph
    }
  }
}

// The transformer kernels (cuda/transformer.cu) against their CPU twins (lib/tensor/transformer.cpp),
// bit for bit, on random inputs with ragged shapes.
TEST_SUITE("gpu") {
  TEST_CASE("gpu: transformer element-wise kernels and sum_squares equal the CPU bit for bit") {
    PW_REQUIRE_GPU();
    const int64_t n = 3 * kSumSquaresBlock + 1001;
    const std::vector<float> x = random_floats(size_t(n), 101, -8.0f, 8.0f), dy = random_floats(size_t(n), 102);
    std::vector<float> cpu(static_cast<size_t>(n)), gpu(static_cast<size_t>(n), 7.0f);
    gelu_forward(x.data(), cpu.data(), n);
    cuda_host::gelu_forward(x.data(), gpu.data(), n);
    INFO("gelu_forward: ", first_difference(cpu, gpu));
    CHECK(same_bits(cpu, gpu));
    gelu_backward(dy.data(), x.data(), cpu.data(), n);
    cuda_host::gelu_backward(dy.data(), x.data(), gpu.data(), n);
    INFO("gelu_backward: ", first_difference(cpu, gpu));
    CHECK(same_bits(cpu, gpu));
    add_forward(x.data(), dy.data(), cpu.data(), n);
    cuda_host::add_forward(x.data(), dy.data(), gpu.data(), n);
    CHECK(same_bits(cpu, gpu));
    cpu = x;
    gpu = x;
    scale_inplace(cpu.data(), n, 0.3f);
    cuda_host::scale_inplace(gpu.data(), n, 0.3f);
    CHECK(same_bits(cpu, gpu));
    for (int64_t m : {int64_t(1), int64_t(4096), n}) {
      CAPTURE(m);
      const float a = sum_squares(x.data(), m), b = cuda_host::sum_squares(x.data(), m);
      CHECK(std::memcmp(&a, &b, 4) == 0);
    }
  }

  TEST_CASE("gpu: embedding forward and backward equal the CPU bit for bit") {
    PW_REQUIRE_GPU();
    const int B = 3, T = 37, C = 45, V = 256, Tmax = 40;
    std::vector<float> tokens = random_floats(size_t(B) * T, 103, 0.0f, 60.0f);
    for (float& t : tokens) t = std::floor(t);  // ids 0..59, many repeated
    const std::vector<float> wte = random_floats(size_t(V) * C, 104), wpe = random_floats(size_t(Tmax) * C, 105);
    std::vector<float> cpu(size_t(B) * T * C), gpu(cpu.size(), 7.0f);
    embedding_forward(tokens.data(), wte.data(), wpe.data(), cpu.data(), B, T, C);
    cuda_host::embedding_forward(tokens.data(), wte.data(), wpe.data(), gpu.data(), B, T, C);
    CHECK(same_bits(cpu, gpu));
    const std::vector<float> dout = random_floats(cpu.size(), 106);
    std::vector<float> dwte_cpu = random_floats(wte.size(), 107), dwte_gpu = dwte_cpu;  // the head's part
    std::vector<float> dwpe_cpu(wpe.size(), 7.0f), dwpe_gpu(wpe.size(), 8.0f);
    embedding_backward(tokens.data(), dout.data(), dwte_cpu.data(), dwpe_cpu.data(), B, T, C, V, Tmax);
    cuda_host::embedding_backward(tokens.data(), dout.data(), dwte_gpu.data(), dwpe_gpu.data(), B, T, C, V, Tmax);
    INFO("dwte: ", first_difference(dwte_cpu, dwte_gpu));
    CHECK(same_bits(dwte_cpu, dwte_gpu));
    INFO("dwpe: ", first_difference(dwpe_cpu, dwpe_gpu));
    CHECK(same_bits(dwpe_cpu, dwpe_gpu));
  }

  TEST_CASE("gpu: layernorm forward and backward equal the CPU bit for bit") {
    PW_REQUIRE_GPU();
    const int64_t N = 203;
    const int C = 96;
    const std::vector<float> x = random_floats(size_t(N) * C, 108, -3.0f, 3.0f), w = random_floats(C, 109, 0.5f, 1.5f),
                             b = random_floats(C, 110), dy = random_floats(size_t(N) * C, 111);
    std::vector<float> y(x.size()), mean(N), rstd(N), gy(x.size()), gmean(N), grstd(N);
    layernorm_forward(x.data(), w.data(), b.data(), y.data(), mean.data(), rstd.data(), N, C, 1e-5f);
    cuda_host::layernorm_forward(x.data(), w.data(), b.data(), gy.data(), gmean.data(), grstd.data(), N, C, 1e-5f);
    CHECK(same_bits(mean, gmean));
    CHECK(same_bits(rstd, grstd));
    INFO("y: ", first_difference(y, gy));
    CHECK(same_bits(y, gy));
    std::vector<float> dx(x.size()), dw(C), db(C), gdx(x.size()), gdw(C), gdb(C);
    layernorm_backward(dy.data(), x.data(), w.data(), mean.data(), rstd.data(), dx.data(), dw.data(), db.data(), N, C);
    cuda_host::layernorm_backward(dy.data(), x.data(), w.data(), mean.data(), rstd.data(), gdx.data(), gdw.data(),
                                  gdb.data(), N, C);
    INFO("dx: ", first_difference(dx, gdx));
    CHECK(same_bits(dx, gdx));
    CHECK(same_bits(dw, gdw));
    CHECK(same_bits(db, gdb));
  }

  TEST_CASE("gpu: attention forward and backward equal the CPU bit for bit") {
    PW_REQUIRE_GPU();
    struct Shape {
      int B, T, C, H;
    };
    for (const Shape s : {Shape{1, 1, 4, 1}, Shape{2, 33, 48, 3}, Shape{3, 64, 64, 4}}) {
      CAPTURE(s.B);
      CAPTURE(s.T);
      CAPTURE(s.C);
      CAPTURE(s.H);
      const size_t nq = size_t(s.B) * s.T * 3 * s.C, no = size_t(s.B) * s.T * s.C, na = size_t(s.B) * s.H * s.T * s.T;
      const std::vector<float> qkv = random_floats(nq, 112, -2.0f, 2.0f), dout = random_floats(no, 113);
      std::vector<float> out(no), att(na), gout(no), gatt(na, 7.0f);
      attention_forward(qkv.data(), out.data(), att.data(), s.B, s.T, s.C, s.H);
      cuda_host::attention_forward(qkv.data(), gout.data(), gatt.data(), s.B, s.T, s.C, s.H);
      INFO("att: ", first_difference(att, gatt));
      CHECK(same_bits(att, gatt));
      INFO("out: ", first_difference(out, gout));
      CHECK(same_bits(out, gout));
      std::vector<float> dqkv(nq), gdqkv(nq, 7.0f);
      attention_backward(dout.data(), qkv.data(), att.data(), dqkv.data(), s.B, s.T, s.C, s.H);
      cuda_host::attention_backward(dout.data(), qkv.data(), att.data(), gdqkv.data(), s.B, s.T, s.C, s.H);
      INFO("dqkv: ", first_difference(dqkv, gdqkv));
      CHECK(same_bits(dqkv, gdqkv));
    }
  }

  TEST_CASE("gpu: every op of a tiny GPT step equals the CPU's bit for bit (adamw with clipping and sgd)") {
    PW_REQUIRE_GPU();
    const Dataset d = tiny_text();
    for (OptimizerType opt : {OptimizerType::Adamw, OptimizerType::Sgd}) {
      const TaskConfig c = tiny_gpt_config(opt, opt == OptimizerType::Adamw ? 0.05 : 0.0);
      Trainer cpu(c, d);
      cpu.run_step();  // step 0 first, so the optimizer state is not zero
      std::shared_ptr<Executor> gpu = make_cuda_executor(cpu.tape, false);
      gpu->set_text(d.text.data(), int64_t(d.text.size()));
      const std::set<std::string> kinds = compare_ops(cpu, *gpu, cpu.context(1));
      // Every GPT kind ran (clip_gradients with AdamW only).
      CHECK(kinds.size() == (opt == OptimizerType::Adamw ? 18u : 17u));
    }
  }

  TEST_CASE("gpu: steps of a tiny GPT on the CUDA executor give the CPU's losses and state bits (exact)") {
    PW_REQUIRE_GPU();
    const Dataset d = tiny_text();
    // Clipping at 0.05 scales every step's gradients; at 1e9 it never does.
    for (const double clip : {0.05, 1e9, 0.0})
      for (OptimizerType opt : {OptimizerType::Adamw, OptimizerType::Sgd}) {
        CAPTURE(clip);
        CAPTURE(int(opt));
        const TaskConfig c = tiny_gpt_config(opt, clip);
        Trainer cpu(c, d), gpu(c, d);
        gpu.use_device(make_cuda_executor(gpu.tape, false));
        while (cpu.step < c.steps) step_both(cpu, gpu);
        gpu.to_host();
        for (int id : checkpoint_tensors(cpu.tape)) {
          INFO("tensor ", cpu.tape.tensors[size_t(id)].name, ", first difference: ",
               first_difference(cpu.ws.t[size_t(id)], gpu.ws.t[size_t(id)]));
          CHECK(same_bits(cpu.ws.t[size_t(id)], gpu.ws.t[size_t(id)]));
        }
        CHECK(state_hash(cpu.tape, cpu.ws, cpu.step) == state_hash(gpu.tape, gpu.ws, gpu.step));
        CHECK(validation_bits_per_byte(cpu) == validation_bits_per_byte(gpu));
      }
  }

  TEST_CASE("gpu: a tiny GPT step with a hook sees the CPU's outputs op by op") {
    PW_REQUIRE_GPU();
    const Dataset d = tiny_text();
    const TaskConfig c = tiny_gpt_config(OptimizerType::Adamw, 0.05);
    Trainer cpu(c, d), gpu(c, d);
    gpu.use_device(make_cuda_executor(gpu.tape, false));
    for (int s = 0; s < 2; s++) {
      std::vector<std::vector<std::vector<float>>> seen_cpu, seen_gpu;
      auto recorder = [](const Tape& tape, std::vector<std::vector<std::vector<float>>>& seen) {
        return [&tape, &seen](int i, Workspace& ws) {
          std::vector<std::vector<float>> outs;
          for (int id : tape.ops[size_t(i)].out) outs.push_back(ws.t[size_t(id)]);
          seen.push_back(std::move(outs));
        };
      };
      cpu.run_step(recorder(cpu.tape, seen_cpu));
      gpu.run_step(recorder(gpu.tape, seen_gpu));
      REQUIRE(seen_cpu.size() == cpu.tape.ops.size());
      REQUIRE(seen_gpu.size() == seen_cpu.size());
      for (size_t i = 0; i < seen_cpu.size(); i++) {
        const std::string kind = op_name(cpu.tape.ops[i].kind);
        CAPTURE(s);
        CAPTURE(i);
        CAPTURE(kind);
        REQUIRE(seen_gpu[i].size() == seen_cpu[i].size());
        for (size_t k = 0; k < seen_cpu[i].size(); k++) {
          INFO("output ", k, ", first difference: ", first_difference(seen_cpu[i][k], seen_gpu[i][k]));
          CHECK(same_bits(seen_cpu[i][k], seen_gpu[i][k]));
        }
      }
    }
    gpu.to_host();
    CHECK(state_hash(cpu.tape, cpu.ws, 2) == state_hash(gpu.tape, gpu.ws, 2));
  }
}
