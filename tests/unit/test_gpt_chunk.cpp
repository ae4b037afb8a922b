// The GPT's chunked batch reduction (proofwork(7), EXACT MODE): a chunk of c samples is
// c·T rows. Layer norm's weight and bias gradients and the tied embedding's (the LM head's
// chain plus the embedding's, per chunk, then one tree) against plain references built
// from per-chunk chains and tree_combine; an aligned block of chunks gives its subtree;
// layer norm's chains continued over row ranges (a pipeline's micro-batches) are the
// whole rows' chains;
// a chunked GPT trains to the same bits on 1 and 2 threads, a whole-batch chunk gives the
// bits of a GPT without the field, and data-parallel ranks simulated in one process
// (lib/dist's step, clipping after the combination) give one process's bits.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "dist/data_parallel.hpp"
#include "model/tape.hpp"
#include "tensor/ops.hpp"
#include "tensor/transformer.hpp"
#include "train/task.hpp"
#include "train/trainer.hpp"
#include "unit_helpers.hpp"

using pwtest::awkward_values;
using pwtest::same_bits;

namespace {

// A GPT of 2 blocks, 2 heads, 16 channels, context 8; batch 8 in chunks of `chunk`;
// AdamW with clipping (so the combination must come before the norm).
pw::TaskConfig gpt_config(int chunk) {
  pw::TaskConfig c;
  c.model = pw::ModelKind::Gpt;
  c.gpt.layers = 2, c.gpt.heads = 2, c.gpt.channels = 16, c.gpt.context = 8, c.gpt.vocab = 256;
  c.batch = 8;
  c.steps = 4;
  c.checkpoint_every = 2;
  c.seed = 5;
  c.optimizer = pw::OptimizerType::Adamw;
  c.lr = 1e-3;
  c.weight_decay = 0.1;
  c.clip = 1.0;
  c.reduce_chunk = chunk;
  return c;
}

pw::Dataset gpt_dataset(const pw::TaskConfig& c) {
  pw::Dataset d;
  uint64_t s = 7;
  d.text.resize(3000);
  for (auto& b : d.text) {  // a skewed alphabet, so tokens repeat within a chunk
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    b = uint8_t("etaoin shrdlu\n"[(s >> 33) % 14]);
  }
  d.count = uint32_t(d.text.size()) - uint32_t(c.gpt.context);
  return d;
}

std::vector<float> state_of(const pw::Trainer& tr) {
  std::vector<float> v;
  for (int id : pw::checkpoint_tensors(tr.tape)) v.insert(v.end(), tr.ws.t[size_t(id)].begin(), tr.ws.t[size_t(id)].end());
  return v;
}

std::vector<float> train(int chunk, int threads, float* loss) {
  pwtest::SettingsGuard guard;
  pw::set_threads(threads);
  const pw::TaskConfig c = gpt_config(chunk);
  const pw::Dataset d = gpt_dataset(c);
  pw::Trainer tr(c, d);
  for (int s = 0; s < c.steps; s++) tr.run_step();
  *loss = tr.loss;
  return state_of(tr);
}

}  // namespace

TEST_CASE("the GPT's layer norm weight and bias gradients in chunks of c x T rows are the tree of chunk chains") {
  const int C = 40, T = 6, B = 8, N = B * T;  // C > one column block of 32
  const std::vector<float> dy = awkward_values(size_t(N) * C, 1), x = awkward_values(size_t(N) * C, 2),
                           w = awkward_values(size_t(C), 3);
  std::vector<float> mean(static_cast<size_t>(N)), rstd(static_cast<size_t>(N)), y(size_t(N) * C);
  const std::vector<float> b0(size_t(C), 0.0f);
  pw::layernorm_forward(x.data(), w.data(), b0.data(), y.data(), mean.data(), rstd.data(), N, C, 1e-5f);
  std::vector<float> dx_plain(size_t(N) * C), dw_plain(static_cast<size_t>(C)), db_plain(static_cast<size_t>(C));
  pw::layernorm_backward(dy.data(), x.data(), w.data(), mean.data(), rstd.data(), dx_plain.data(), dw_plain.data(),
                         db_plain.data(), N, C);
  for (int c : {1, 2, 4, 8}) {
    INFO("chunk " << c << " samples");
    const int rows = c * T, n = B / c;
    // The reference: each chunk alone through the unchunked kernel (its chains from zero),
    // dw and db of each chunk side by side, then the tree.
    std::vector<float> parts(size_t(n) * 2 * C), dx_tmp(size_t(rows) * C);
    for (int q = 0; q < n; q++) {
      const int64_t o = int64_t(q) * rows;
      pw::layernorm_backward(dy.data() + o * C, x.data() + o * C, w.data(), mean.data() + o, rstd.data() + o,
                             dx_tmp.data(), parts.data() + size_t(q) * 2 * C, parts.data() + size_t(q) * 2 * C + C,
                             rows, C);
    }
    pw::tree_combine(parts.data(), n, 2 * C);
    std::vector<float> dx(size_t(N) * C), dw(static_cast<size_t>(C)), db(static_cast<size_t>(C));
    for (int threads : {1, 2}) {
      pwtest::SettingsGuard guard;
      pw::set_threads(threads);
      pw::layernorm_backward(dy.data(), x.data(), w.data(), mean.data(), rstd.data(), dx.data(), dw.data(), db.data(), N,
                             C, rows);
      CHECK(same_bits(dx, dx_plain));  // dx has no batch reduction
      CHECK(same_bits(dw, std::vector<float>(parts.begin(), parts.begin() + C)));
      CHECK(same_bits(db, std::vector<float>(parts.begin() + C, parts.begin() + 2 * C)));
    }
    if (c == B) CHECK((same_bits(dw, dw_plain) && same_bits(db, db_plain)));  // one chunk: the plain chain
    if (n >= 2) {  // two aligned halves (two ranks' subtrees), combined, give the whole
      std::vector<float> halves(4 * size_t(C));
      for (int h = 0; h < 2; h++) {
        const int64_t o = int64_t(h) * N / 2;
        pw::layernorm_backward(dy.data() + o * C, x.data() + o * C, w.data(), mean.data() + o, rstd.data() + o,
                               dx.data(), halves.data() + size_t(h) * 2 * C, halves.data() + size_t(h) * 2 * C + C,
                               N / 2, C, rows);
      }
      pw::tree_combine(halves.data(), 2, 2 * C);
      CHECK(same_bits(std::vector<float>(halves.begin(), halves.begin() + 2 * C),
                      std::vector<float>(parts.begin(), parts.begin() + 2 * C)));
    }
  }
  CHECK(pwtest::error_code_of([&] {
          std::vector<float> dx(size_t(N) * C), dw(static_cast<size_t>(C)), db(static_cast<size_t>(C));
          pw::layernorm_backward(dy.data(), x.data(), w.data(), mean.data(), rstd.data(), dx.data(), dw.data(),
                                 db.data(), N, C, 3 * T);  // 8/3 chunks
        }) == pw::kExitInternal);
}

TEST_CASE("the tied embedding's gradient in chunks: the LM head's chain plus the embedding's per chunk, then one tree") {
  pw::GptSpec g;
  g.layers = 1, g.heads = 2, g.channels = 12, g.context = 5, g.vocab = 256;
  const int B = 8, T = g.context, C = g.channels, V = g.vocab, N = B * T;
  const pw::Tape plain = pw::build_gpt_tape(g, B, pw::OptimizerType::Adamw, 0), tape =
                                                                                   pw::build_gpt_tape(g, B, pw::OptimizerType::Adamw, 0, true);
  CHECK(tape.ops.size() + 1 == plain.ops.size());  // the LM head's weight gradient moved into the embedding's op
  const auto eb = std::find_if(tape.ops.begin(), tape.ops.end(), [](const pw::Op& o) { return o.kind == pw::OpKind::EmbeddingBackward; });
  REQUIRE(eb != tape.ops.end());
  REQUIRE(eb->in.size() == 4);
  pw::Workspace ws(tape);
  const std::vector<float> dx = awkward_values(size_t(N) * C, 4), dl = awkward_values(size_t(N) * V, 5),
                           lnf = awkward_values(size_t(N) * C, 6);
  std::vector<float> idx(static_cast<size_t>(N));
  for (int r = 0; r < N; r++) idx[size_t(r)] = float((r * 7 + r / 3) % 11 + (r % 2) * 200);  // repeats, and ids unused
  std::copy(idx.begin(), idx.end(), ws.t[size_t(eb->in[0])].begin());
  std::copy(dx.begin(), dx.end(), ws.t[size_t(eb->in[1])].begin());
  std::copy(dl.begin(), dl.end(), ws.t[size_t(eb->in[2])].begin());
  std::copy(lnf.begin(), lnf.end(), ws.t[size_t(eb->in[3])].begin());
  for (int c : {1, 2, 4, 8}) {
    INFO("chunk " << c << " samples");
    const int n = B / c, rows = c * T;
    const int64_t len = int64_t(V) * C + int64_t(T) * C;
    std::vector<float> parts(size_t(n * len), 0.0f);
    for (int q = 0; q < n; q++) {  // plain loops: the chunk's chains from zero
      float* wte = parts.data() + q * len;
      float* wpe = wte + int64_t(V) * C;
      for (int v = 0; v < V; v++)
        for (int j = 0; j < C; j++) {
          float acc = 0.0f;
          for (int r = q * rows; r < (q + 1) * rows; r++) acc = pw::fmaf_exact(dl[size_t(r) * V + v], lnf[size_t(r) * C + j], acc);
          float emb = 0.0f;
          bool seen = false;
          for (int r = q * rows; r < (q + 1) * rows; r++)
            if (int(idx[size_t(r)]) == v) emb = emb + dx[size_t(r) * C + j], seen = true;
          wte[v * C + j] = seen ? acc + emb : acc;  // the embedding's chain added once
        }
      for (int t = 0; t < T; t++)
        for (int j = 0; j < C; j++) {
          float acc = 0.0f;
          for (int b = q * c; b < (q + 1) * c; b++) acc = acc + dx[(size_t(b) * T + t) * C + j];
          wpe[t * C + j] = acc;
        }
    }
    pw::tree_combine(parts.data(), n, len);
    pw::StepContext ctx;
    ctx.compute.reduce_chunk = c;
    pw::run_op(tape, *eb, ws, ctx);
    CHECK(same_bits(ws.t[size_t(eb->out[0])], std::vector<float>(parts.begin(), parts.begin() + int64_t(V) * C)));
    CHECK(same_bits(ws.t[size_t(eb->out[1])], std::vector<float>(parts.begin() + int64_t(V) * C, parts.begin() + len)));
  }
}

TEST_CASE("a chunked GPT trains to the same bits on 1 and 2 threads and a whole-batch chunk is no chunk") {
  float l1 = 0, l2 = 0, l_none = 0, l_whole = 0;
  const std::vector<float> one = train(2, 1, &l1), two = train(2, 2, &l2);
  CHECK(same_bits(one, two));
  CHECK(pw::f2u(l1) == pw::f2u(l2));
  const std::vector<float> none = train(0, 2, &l_none), whole = train(8, 2, &l_whole);
  CHECK(same_bits(none, whole));
  CHECK(pw::f2u(l_none) == pw::f2u(l_whole));
  CHECK_FALSE(same_bits(one, none));  // 4 chunks of 2 samples: another order, other bits
  CHECK(l1 > 4.0f);
  CHECK(l1 < 6.0f);  // about ln 256 at the start: a loss, not garbage
}

TEST_CASE("check_task takes a reduce chunk for a GPT in samples") {
  pw::TaskConfig c = gpt_config(2);
  c.text = std::string(1, 't');  // (not = "t": GCC 12's false -Wrestrict on a one-char assign)
  c.text_length = 3000;
  CHECK(pwtest::error_code_of([&] { pw::check_task(c); }) == -1);
  c.reduce_chunk = 3;  // 8 samples do not make whole chunks of 3
  CHECK(pwtest::error_code_of([&] { pw::check_task(c); }) == 3);
}

TEST_CASE("data-parallel GPT ranks, simulated in one process, give one process's bits") {
  const pw::TaskConfig c = gpt_config(2);  // 4 chunks: 1, 2 or 4 ranks
  const pw::Dataset d = gpt_dataset(c);
  pw::Trainer one(c, d);
  for (int s = 0; s < c.steps; s++) one.run_step();
  for (int D : {1, 2, 4}) {
    float loss = 0;
    const auto tr = pwtest::data_parallel_run(c, d, D, c.steps, &loss);
    INFO("ranks " << D);
    CHECK(pw::f2u(loss) == pw::f2u(one.loss));
    for (int r = 0; r < D; r++) CHECK(same_bits(state_of(*tr[size_t(r)]), state_of(one)));
  }
  pw::TaskConfig bad = c;
  CHECK(pw::data_parallel_refusal(bad, 8).find("cannot share") != std::string::npos);  // 4 chunks, 8 ranks
  bad.reduce_chunk = 0;
  CHECK(pw::data_parallel_refusal(bad, 2).find("no reduce chunk") != std::string::npos);
}

TEST_CASE("layer norm's weight and bias gradients continued over row ranges are the whole rows' chains") {
  const int C = 40, N = 24;
  const std::vector<float> dy = awkward_values(size_t(N) * C, 7), x = awkward_values(size_t(N) * C, 8),
                           w = awkward_values(static_cast<size_t>(C), 9);
  std::vector<float> mean(static_cast<size_t>(N)), rstd(static_cast<size_t>(N)), y(size_t(N) * C);
  const std::vector<float> b0(static_cast<size_t>(C), 0.0f);
  pw::layernorm_forward(x.data(), w.data(), b0.data(), y.data(), mean.data(), rstd.data(), N, C, 1e-5f);
  std::vector<float> dx(size_t(N) * C), dw(static_cast<size_t>(C)), db(static_cast<size_t>(C));
  pw::layernorm_backward(dy.data(), x.data(), w.data(), mean.data(), rstd.data(), dx.data(), dw.data(), db.data(), N, C);
  for (int split : {1, 5, 12, 23}) {
    INFO("first " << split << " rows, then the rest");
    std::vector<float> dx2(size_t(N) * C), dw2(static_cast<size_t>(C), 99.0f), db2(static_cast<size_t>(C), 99.0f);
    pw::layernorm_backward(dy.data(), x.data(), w.data(), mean.data(), rstd.data(), dx2.data(), dw2.data(), db2.data(),
                           split, C);
    const int64_t o = split;
    pw::layernorm_backward(dy.data() + o * C, x.data() + o * C, w.data(), mean.data() + o, rstd.data() + o,
                           dx2.data() + o * C, dw2.data(), db2.data(), N - split, C, 0, true);
    CHECK(same_bits(dw2, dw));
    CHECK(same_bits(db2, db));
    CHECK(same_bits(dx2, dx));
  }
  std::vector<float> dw3(static_cast<size_t>(C)), db3(static_cast<size_t>(C));
  CHECK(pwtest::error_code_of([&] {  // a chunked reduction has no continued chains
          pw::layernorm_backward(dy.data(), x.data(), w.data(), mean.data(), rstd.data(), dx.data(), dw3.data(),
                                 db3.data(), N, C, 6, true);
        }) == pw::kExitInternal);
}
