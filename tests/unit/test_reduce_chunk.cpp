// The chunked batch reduction (proofwork(7), EXACT MODE): gemm_chunked against its
// plain-loop reference bit for bit, on both kernels and thread counts; a block of chunks
// gives its subtree, so two halves combined give the whole; one chunk is today's chain;
// column_sums_chunked and sum_chunked likewise; the task field's rules; training with a
// reduce chunk gives the same bits on 1 and 2 threads, and a chunk of the whole batch
// gives the bits of a task without the field; data-parallel ranks simulated in one process
// (lib/dist's step, the tree over the ranks in place of MPI) give one process's bits.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "dist/data_parallel.hpp"
#include "model/tape.hpp"
#include "tensor/gemm.hpp"
#include "tensor/ops.hpp"
#include "train/task.hpp"
#include "train/trainer.hpp"
#include "unit_helpers.hpp"

using pwtest::awkward_values;
using pwtest::same_bits;

TEST_CASE("valid_reduce_chunk wants a power-of-two count of whole chunks") {
  CHECK(pw::valid_reduce_chunk(32, 8));
  CHECK(pw::valid_reduce_chunk(32, 32));
  CHECK(pw::valid_reduce_chunk(32, 1));
  CHECK(pw::valid_reduce_chunk(24, 3));   // 8 chunks
  CHECK_FALSE(pw::valid_reduce_chunk(24, 8));  // 3 chunks
  CHECK_FALSE(pw::valid_reduce_chunk(32, 5));
  CHECK_FALSE(pw::valid_reduce_chunk(32, 0));
  CHECK_FALSE(pw::valid_reduce_chunk(32, 64));
}

TEST_CASE("gemm_chunked equals its reference bit for bit on both kernels and thread counts") {
  pwtest::SettingsGuard guard;
  struct Case {
    int M, N, K, chunk;
  };
  // Edge tiles in M (6-row tiles, 96-row blocks) and N (16-column panels, 256-column
  // blocks); chunk counts 1 to 128 (one chunk: the plain kernel, K past its panel); the
  // unrolled chunk sizes 8, 16 and 32 and others.
  const Case cases[] = {{7, 17, 8, 1}, {6, 16, 32, 8}, {97, 300, 64, 4}, {10, 784, 32, 16}, {33, 40, 256, 64},
                        {5, 9, 64, 64}, {128, 33, 96, 3}, {13, 35, 128, 32}, {50, 70, 128, 8}, {12, 32, 512, 16},
                        {9, 20, 128, 1}, {12, 48, 512, 512}};
  for (const Case& c : cases) {
    const std::vector<float> dz = awkward_values(size_t(c.K) * c.M, uint64_t(c.M * 31 + c.K));  // (K, M): Aᵀ
    const std::vector<float> x = awkward_values(size_t(c.K) * c.N, uint64_t(c.N * 17 + c.chunk));
    const pw::MatView A = pw::transposed(dz.data(), c.M), B = pw::row_major(x.data(), c.N);
    std::vector<float> want(size_t(c.M) * c.N);
    pw::gemm_chunked_reference(c.M, c.N, c.K, A, B, want.data(), c.N, c.chunk);
    for (int portable = 0; portable < 2; portable++)
      for (int threads = 1; threads <= 2; threads++) {
        pw::gemm_force_portable(portable);
        pw::set_threads(threads);
        std::vector<float> got(want.size(), -7.0f);
        pw::gemm_chunked(c.M, c.N, c.K, A, B, got.data(), c.N, c.chunk);
        INFO("M=" << c.M << " N=" << c.N << " K=" << c.K << " chunk=" << c.chunk << " portable=" << portable
                  << " threads=" << threads);
        CHECK(same_bits(got, want));
      }
    pw::gemm_force_portable(false);
  }
}

TEST_CASE("gemm_chunked over two aligned halves, combined, gives the whole: a rank's subtree") {
  const int M = 20, N = 50, K = 64, chunk = 8;
  const std::vector<float> dz = awkward_values(size_t(K) * M, 3), x = awkward_values(size_t(K) * N, 4);
  std::vector<float> whole(size_t(M) * N), halves(2 * size_t(M) * N);
  pw::gemm_chunked(M, N, K, pw::transposed(dz.data(), M), pw::row_major(x.data(), N), whole.data(), N, chunk);
  for (int r = 0; r < 2; r++)  // rows [r·K/2, (r+1)·K/2) of dz and x
    pw::gemm_chunked(M, N, K / 2, pw::transposed(dz.data() + size_t(r) * (K / 2) * M, M),
                     pw::row_major(x.data() + size_t(r) * (K / 2) * N, N), halves.data() + size_t(r) * M * N, N, chunk);
  pw::tree_combine(halves.data(), 2, int64_t(M) * N);
  halves.resize(size_t(M) * N);
  CHECK(same_bits(halves, whole));
}

TEST_CASE("one chunk of the whole batch is exact mode's single chain") {
  const int M = 13, N = 40, K = 48;
  const std::vector<float> dz = awkward_values(size_t(K) * M, 5), x = awkward_values(size_t(K) * N, 6);
  std::vector<float> chunked(size_t(M) * N), chain(size_t(M) * N);
  pw::gemm_chunked(M, N, K, pw::transposed(dz.data(), M), pw::row_major(x.data(), N), chunked.data(), N, K);
  pw::gemm_exact(M, N, K, pw::transposed(dz.data(), M), pw::row_major(x.data(), N), nullptr, chain.data(), N);
  CHECK(same_bits(chunked, chain));
  std::vector<float> db_chunked(static_cast<size_t>(N)), db_chain(static_cast<size_t>(N));
  pw::column_sums_chunked(x.data(), db_chunked.data(), K, N, K);
  pw::column_sums(x.data(), db_chain.data(), K, N);
  CHECK(same_bits(db_chunked, db_chain));
  float chain_sum = 0.0f;
  for (int k = 0; k < K; k++) chain_sum = chain_sum + x[size_t(k)];
  CHECK(pw::f2u(pw::sum_chunked(x.data(), K, K)) == pw::f2u(chain_sum));
}

TEST_CASE("column_sums_chunked and sum_chunked follow the chunks and the tree") {
  pwtest::SettingsGuard guard;
  const int B = 16, O = 600, chunk = 4;  // O crosses the 256-column blocks
  std::vector<float> dy = awkward_values(size_t(B) * O, 9);
  dy[0] = 1e8f, dy[size_t(4 * O)] = 1.0f, dy[size_t(8 * O)] = -1e8f;  // column 0's sum depends on the order
  std::vector<float> want(static_cast<size_t>(O));
  for (int o = 0; o < O; o++) {
    float q[4];
    for (int c = 0; c < 4; c++) {
      q[c] = 0.0f;
      for (int b = c * chunk; b < (c + 1) * chunk; b++) q[c] = q[c] + dy[size_t(b) * O + o];
    }
    want[size_t(o)] = (q[0] + q[1]) + (q[2] + q[3]);
  }
  for (int threads = 1; threads <= 2; threads++) {
    pw::set_threads(threads);
    std::vector<float> db(static_cast<size_t>(O), -7.0f);
    pw::column_sums_chunked(dy.data(), db.data(), B, O, chunk);
    CHECK(same_bits(db, want));
  }
  const float v[8] = {1e8f, 1.0f, -1e8f, 1.0f, 3.0f, 1e-3f, 5.0f, 7.0f};
  const float pairs = ((1e8f + 1.0f) + (-1e8f + 1.0f)) + ((3.0f + 1e-3f) + (5.0f + 7.0f));
  CHECK(pw::f2u(pw::sum_chunked(v, 8, 2)) == pw::f2u(pairs));
  float chain = 0.0f;
  for (float e : v) chain = chain + e;
  CHECK(pw::f2u(pw::sum_chunked(v, 8, 2)) != pw::f2u(chain));  // the order shows
}

TEST_CASE("column_sums_chunked is each chunk's chain then tree_combine at every chunk count") {
  pwtest::SettingsGuard guard;
  const int B = 128, O = 300;  // O crosses the column blocks and ends in a short one
  const std::vector<float> dy = awkward_values(size_t(B) * O, 21);
  for (int chunk = 1; chunk <= B; chunk *= 2) {
    const int n = B / chunk;
    std::vector<float> parts(size_t(n) * O, 0.0f);
    for (int q = 0; q < n; q++)
      for (int b = q * chunk; b < (q + 1) * chunk; b++)
        for (int o = 0; o < O; o++) parts[size_t(q) * O + o] = parts[size_t(q) * O + o] + dy[size_t(b) * O + o];
    pw::tree_combine(parts.data(), n, O);
    parts.resize(size_t(O));
    for (int threads = 1; threads <= 2; threads++) {
      pw::set_threads(threads);
      std::vector<float> db(size_t(O), -7.0f);
      pw::column_sums_chunked(dy.data(), db.data(), B, O, chunk);
      INFO("chunk=" << chunk << " threads=" << threads);
      CHECK(same_bits(db, parts));
    }
  }
}

TEST_CASE("a step with a reduce chunk gives the op-by-op bits with the SGD update fused into the weight gradient") {
  pwtest::SettingsGuard guard;
  const pw::Tape tape = pw::build_mlp_tape({20, 300, 70, 4}, 32, pw::OptimizerType::Sgd);
  pw::Workspace fused(tape), op_by_op(tape);
  for (int id : tape.params) fused.t[size_t(id)] = op_by_op.t[size_t(id)] = awkward_values(fused.t[size_t(id)].size(), uint64_t(id + 1));
  std::vector<uint8_t> images(40 * 20), labels(40);
  for (size_t i = 0; i < images.size(); i++) images[i] = uint8_t(i * 37);
  for (size_t i = 0; i < labels.size(); i++) labels[i] = uint8_t(i % 4);
  std::vector<uint32_t> idx(32);
  for (size_t i = 0; i < idx.size(); i++) idx[i] = uint32_t(i * 7 % 40);
  for (int chunk : {1, 4, 32})
    for (int threads = 1; threads <= 2; threads++) {
      pw::set_threads(threads);
      pw::StepContext ctx;
      ctx.images = images.data(), ctx.labels = labels.data(), ctx.batch_indices = idx.data();
      ctx.compute.reduce_chunk = chunk;
      for (int step = 0; step < 2; step++) {  // the first step and one with momentum
        ctx.sgd = {0.05f, 0.9f, 1e-4f, step == 0};
        pw::run_step(tape, fused, ctx);
        pw::run_step(tape, op_by_op, ctx, [](int, pw::Workspace&) {});
      }
      INFO("chunk=" << chunk << " threads=" << threads);
      for (size_t id = 0; id < tape.tensors.size(); id++) CHECK(same_bits(fused.t[id], op_by_op.t[id]));
    }
}

TEST_CASE("check_task: reduceChunk divides the batch into a power-of-two count, exact mode only") {
  pw::TaskConfig c = pwtest::tiny_config();  // batch 32
  c.train_images = "a", c.train_labels = "b";
  c.reduce_chunk = 8;
  CHECK(pwtest::error_code_of([&] { pw::check_task(c); }) == -1);
  c.reduce_chunk = 12;
  CHECK(pwtest::error_code_of([&] { pw::check_task(c); }) == 3);
  c.reduce_chunk = 64;
  CHECK(pwtest::error_code_of([&] { pw::check_task(c); }) == 3);
  c.batch = 24, c.reduce_chunk = 3;
  CHECK(pwtest::error_code_of([&] { pw::check_task(c); }) == -1);
  c.exact = false;
  CHECK(pwtest::error_message_of([&] { pw::check_task(c); }).find("exact mode") != std::string::npos);
}

TEST_CASE("training with a reduce chunk: the same bits on 1 and 2 threads, and a whole-batch chunk is no chunk") {
  pwtest::SettingsGuard guard;
  const pw::Dataset data = pwtest::tiny_dataset();
  auto train = [&](int chunk, int threads, float* loss) {
    pw::set_threads(threads);
    pw::TaskConfig c = pwtest::tiny_config();
    c.reduce_chunk = chunk;
    pw::Trainer tr(c, data);
    for (int s = 0; s < 3; s++) tr.run_step();
    *loss = tr.loss;
    std::vector<float> state;
    for (int id : pw::checkpoint_tensors(tr.tape)) state.insert(state.end(), tr.ws.t[size_t(id)].begin(), tr.ws.t[size_t(id)].end());
    return state;
  };
  float l1 = 0, l2 = 0, l_none = 0, l_whole = 0;
  const std::vector<float> one = train(4, 1, &l1), two = train(4, 2, &l2);
  CHECK(same_bits(one, two));
  CHECK(pw::f2u(l1) == pw::f2u(l2));
  const std::vector<float> none = train(0, 2, &l_none), whole = train(32, 2, &l_whole);
  CHECK(same_bits(none, whole));
  CHECK(pw::f2u(l_none) == pw::f2u(l_whole));
  CHECK_FALSE(same_bits(one, none));  // 8 chunks of 4: another order, other bits
}

TEST_CASE("data-parallel ranks, simulated in one process, give one process's bits") {
  const pw::Dataset data = pwtest::tiny_dataset();
  pw::TaskConfig c = pwtest::tiny_config(pw::OptimizerType::Adamw);
  c.reduce_chunk = 4;  // 8 chunks: 1, 2, 4 or 8 ranks
  pw::Trainer one(c, data);
  for (int s = 0; s < 3; s++) one.run_step();
  for (int D : {1, 2, 4, 8}) {
    float loss = 0;
    const auto tr = pwtest::data_parallel_run(c, data, D, 3, &loss);
    INFO("ranks " << D);
    CHECK(pw::f2u(loss) == pw::f2u(one.loss));
    for (int r = 0; r < D; r++)
      for (int id : pw::checkpoint_tensors(one.tape)) CHECK(same_bits(tr[size_t(r)]->ws.t[size_t(id)], one.ws.t[size_t(id)]));
  }
}

TEST_CASE("data_parallel_refusal names bad layouts") {
  pw::TaskConfig c = pwtest::tiny_config();  // batch 32
  CHECK(pw::data_parallel_refusal(c, 2).find("no reduce chunk") != std::string::npos);
  c.reduce_chunk = 16;  // 2 chunks
  CHECK(pw::data_parallel_refusal(c, 2).empty());
  CHECK(pw::data_parallel_refusal(c, 4).find("cannot share") != std::string::npos);
  CHECK(pw::data_parallel_refusal(c, 3).find("power of two") != std::string::npos);
  c.cut = pw::CutSpec{1, 2, 8, 1000};
  CHECK(pw::data_parallel_refusal(c, 2).empty());  // the ranks share the cut's scales and buffer
  CHECK(pwtest::error_code_of([&] { pw::DataParallelStep(c, 4, 0); }) == 3);
}
