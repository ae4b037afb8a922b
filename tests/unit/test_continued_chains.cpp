// Continued chains (proofwork(7), PIPELINE STAGES): a task without a reduce chunk sums
// the batch as one chain per element, so a pipeline stage runs its micro-batches'
// reductions as that chain continued. gemm_exact over the first rows of K, then
// gemm_exact_continue over the next ones, in order, is gemm_exact over all of K bit for
// bit -- on both kernels, thread counts, ranges that cross the 256-term panels and edge
// tiles; column_sums_continue and the loss's sum likewise; and the tape's micro-batches
// with StepContext::continue_chains give one process's gradients and loss.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "model/tape.hpp"
#include "tensor/gemm.hpp"
#include "tensor/mathfn.hpp"
#include "tensor/ops.hpp"
#include "train/trainer.hpp"
#include "unit_helpers.hpp"

namespace {

using pwtest::awkward_values;
using pwtest::same_bits;

// Ranges [cuts[i], cuts[i+1]) of K, run in order: the first from zero, the rest continued.
std::vector<float> gemm_in_ranges(int M, int N, const std::vector<int>& cuts, const std::vector<float>& dz,
                                  const std::vector<float>& x) {
  std::vector<float> c(size_t(M) * N, -7.0f);
  for (size_t r = 0; r + 1 < cuts.size(); r++) {
    const int k0 = cuts[r], kn = cuts[r + 1] - k0;
    const pw::MatView A = pw::transposed(dz.data() + size_t(k0) * M, M), B = pw::row_major(x.data() + size_t(k0) * N, N);
    if (r == 0)
      pw::gemm_exact(M, N, kn, A, B, nullptr, c.data(), N);
    else
      pw::gemm_exact_continue(M, N, kn, A, B, c.data(), N);
  }
  return c;
}

}  // namespace

TEST_CASE("gemm_exact then gemm_exact_continue over ranges of K is gemm_exact over all of K") {
  pwtest::SettingsGuard guard;
  struct Case {
    int M, N;
    std::vector<int> cuts;  // 0, ..., K
  };
  // Edge tiles in M (6-row tiles) and N (16-column panels); ranges of 1 term, of none,
  // unequal ones, ones that cross the 256-term panels; the weight gradient's shape
  // (M = out, N = in = 784) and a big one that runs on two threads.
  const std::vector<Case> cases = {{7, 17, {0, 1, 2, 3}},
                                   {6, 16, {0, 16, 32}},
                                   {13, 35, {0, 5, 5, 19, 40}},
                                   {97, 300, {0, 100, 300, 301, 600}},
                                   {10, 784, {0, 8, 16, 24, 32}},
                                   {5, 9, {0, 255, 257, 513}},
                                   {128, 200, {0, 64, 128, 192, 256}},
                                   {33, 1, {0, 3, 7}}};
  for (const Case& c : cases) {
    const int K = c.cuts.back();
    const std::vector<float> dz = awkward_values(size_t(K) * c.M, uint64_t(c.M * 31 + K));  // (K, M): Aᵀ
    const std::vector<float> x = awkward_values(size_t(K) * c.N, uint64_t(c.N * 17 + 5));
    std::vector<float> want(size_t(c.M) * c.N);
    pw::gemm_reference(c.M, c.N, K, pw::transposed(dz.data(), c.M), pw::row_major(x.data(), c.N), nullptr,
                       want.data(), c.N);
    for (int portable = 0; portable < 2; portable++)
      for (int threads = 1; threads <= 2; threads++) {
        pw::gemm_force_portable(portable);
        pw::set_threads(threads);
        std::vector<float> whole(want.size());
        pw::gemm_exact(c.M, c.N, K, pw::transposed(dz.data(), c.M), pw::row_major(x.data(), c.N), nullptr,
                       whole.data(), c.N);
        INFO("M=" << c.M << " N=" << c.N << " K=" << K << " ranges=" << c.cuts.size() - 1 << " portable=" << portable
                  << " threads=" << threads);
        CHECK(same_bits(whole, want));
        CHECK(same_bits(gemm_in_ranges(c.M, c.N, c.cuts, dz, x), want));
      }
    pw::gemm_force_portable(false);
  }
  // The ranges matter: the same terms in another order (second range first) give other bits.
  const std::vector<float> dz = awkward_values(64 * 20, 1), x = awkward_values(64 * 30, 2);
  std::vector<float> want(20 * 30), swapped(20 * 30);
  pw::gemm_exact(20, 30, 64, pw::transposed(dz.data(), 20), pw::row_major(x.data(), 30), nullptr, want.data(), 30);
  pw::gemm_exact(20, 30, 32, pw::transposed(dz.data() + 32 * 20, 20), pw::row_major(x.data() + 32 * 30, 30), nullptr,
                 swapped.data(), 30);
  pw::gemm_exact_continue(20, 30, 32, pw::transposed(dz.data(), 20), pw::row_major(x.data(), 30), swapped.data(), 30);
  CHECK_FALSE(same_bits(swapped, want));
}

TEST_CASE("gemm_exact_continue over no terms leaves C and refuses nothing") {
  std::vector<float> c = {1.5f, -0.0f, 3.0f, 4.0f};
  const std::vector<float> before = c;
  const float none = 0.0f;
  pw::gemm_exact_continue(2, 2, 0, pw::transposed(&none, 2), pw::row_major(&none, 2), c.data(), 2);
  CHECK(same_bits(c, before));
}

TEST_CASE("column_sums then column_sums_continue over row ranges is column_sums over all rows") {
  pwtest::SettingsGuard guard;
  const int B = 40, O = 600;  // O crosses the 256-column blocks
  std::vector<float> dy = awkward_values(size_t(B) * O, 9);
  dy[0] = 1e8f, dy[size_t(13 * O)] = 1.0f, dy[size_t(27 * O)] = -1e8f;  // column 0's sum depends on the order
  dy[1] = -0.0f;                                                     // a chain from zero, not from -0
  for (int threads = 1; threads <= 2; threads++) {
    pw::set_threads(threads);
    std::vector<float> want(static_cast<size_t>(O)), got(static_cast<size_t>(O), -7.0f);
    pw::column_sums(dy.data(), want.data(), B, O);
    const int cuts[] = {0, 1, 13, 14, 27, 40};
    pw::column_sums(dy.data(), got.data(), cuts[1], O);
    for (int r = 1; r + 1 < 6; r++)
      pw::column_sums_continue(dy.data() + size_t(cuts[r]) * O, got.data(), cuts[r + 1] - cuts[r], O);
    INFO("threads " << threads);
    CHECK(same_bits(got, want));
    float chain = 0.0f;
    for (int b = 0; b < B; b++) chain = chain + dy[size_t(b) * O];
    CHECK(pw::f2u(want[0]) == pw::f2u(chain));
  }
}

TEST_CASE("the loss's sum continued over micro-batches, divided once, is the whole batch's mean") {
  const int B = 24, C = 10;
  std::vector<float> logits = awkward_values(size_t(B) * C, 4), labels(static_cast<size_t>(B)), probs(size_t(B) * C);
  for (int b = 0; b < B; b++) labels[size_t(b)] = float((b * 7) % C);
  const float whole = pw::softmax_cross_entropy_forward(logits.data(), labels.data(), probs.data(), B, C);
  for (int micro : {1, 3, 8, 12}) {
    float sum = 0.0f;
    for (int b0 = 0; b0 < B; b0 += micro)
      sum = pw::softmax_cross_entropy_forward(logits.data() + size_t(b0) * C, labels.data() + b0,
                                              probs.data() + size_t(b0) * C, micro, C, 0, true, sum);
    INFO("micro-batches of " << micro);
    CHECK(pw::f2u(sum / float(B)) == pw::f2u(whole));
  }
}

TEST_CASE("a task's tape in micro-batches with continued chains gives one process's gradients and loss") {
  const pw::Dataset data = pwtest::tiny_dataset();
  for (pw::OptimizerType opt : {pw::OptimizerType::Sgd, pw::OptimizerType::Adamw}) {
    pw::TaskConfig c = pwtest::tiny_config(opt);  // batch 32, no reduce chunk
    c.widths = {784, 24, 16, 10};
    pw::Trainer one(c, data);
    one.run_step();  // step 1: the parameters and momenta moved
    const pw::StepContext ctx = one.context(1);
    pw::Workspace whole = one.ws;
    auto backward = [](const pw::Tape& t, pw::Workspace& w, const pw::StepContext& x) {
      for (const pw::Op& op : t.ops)
        if (op.kind != pw::OpKind::SgdUpdate && op.kind != pw::OpKind::AdamwUpdate) pw::run_op(t, op, w, x);
    };
    backward(one.tape, whole, ctx);
    for (int M : {1, 2, 4, 32}) {
      pw::TaskConfig mc = c;
      mc.batch = c.batch / M;
      const pw::Tape tape = pw::tape_for(mc);
      pw::Workspace w(tape);
      for (int id : pw::checkpoint_tensors(tape)) w.t[size_t(id)] = one.ws.t[size_t(id)];
      for (int m = 0; m < M; m++) {  // one workspace: its gradients and loss carry the chains on
        pw::StepContext x = ctx;
        x.batch_indices = ctx.batch_indices + m * mc.batch;
        x.global_batch = c.batch;
        x.continue_chains = m > 0;
        backward(tape, w, x);
      }
      INFO("optimizer " << int(opt) << ", " << M << " micro-batch(es)");
      for (int g : one.tape.grads) CHECK(same_bits(w.t[size_t(g)], whole.t[size_t(g)]));
      CHECK(pw::f2u(w[tape.loss][0] / float(c.batch)) == pw::f2u(whole[one.tape.loss][0]));
      if (M > 1) {  // chains restarted at each micro-batch: not the whole batch's bits
        pw::Workspace fresh(tape);
        for (int id : pw::checkpoint_tensors(tape)) fresh.t[size_t(id)] = one.ws.t[size_t(id)];
        pw::StepContext x = ctx;
        x.batch_indices = ctx.batch_indices + (M - 1) * mc.batch;
        x.global_batch = c.batch;
        backward(tape, fresh, x);
        CHECK_FALSE(same_bits(fresh.t[size_t(one.tape.grads[0])], whole.t[size_t(one.tape.grads[0])]));
      }
    }
  }
}

TEST_CASE("continued chains outside an exact micro-batch without a reduce chunk are refused") {
  const pw::Dataset data = pwtest::tiny_dataset();
  pw::TaskConfig c = pwtest::tiny_config();
  pw::Trainer tr(c, data);
  pw::StepContext x = tr.context(0);
  x.continue_chains = true;  // one process (global_batch 0)
  CHECK(pwtest::error_code_of([&] { pw::run_op(tr.tape, tr.tape.ops[0], tr.ws, x); }) == 4);
  x.global_batch = c.batch;
  x.compute.reduce_chunk = 4;  // the chunked reduction's partials are combined by the tree
  CHECK(pwtest::error_code_of([&] { pw::run_op(tr.tape, tr.tape.ops[0], tr.ws, x); }) == 4);
  x.compute.reduce_chunk = 0;
  x.compute.fast = true;
  CHECK(pwtest::error_code_of([&] { pw::run_op(tr.tape, tr.tape.ops[0], tr.ws, x); }) == 4);
}
