// A GPT's pipeline cut (proofwork(7), AQ-SGD): the tape puts cut_forward on the residual
// stream after block K-1 and cut_backward on its gradient, the buffer a window's T·C
// values a row; a sample repeated within a batch crosses once, and the sender's and
// receiver's halves then give cut_forward's bits, buffer and output, on both sides.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "model/cut.hpp"
#include "model/tape.hpp"
#include "unit_helpers.hpp"

using pwtest::awkward_values;
using pwtest::same_bits;

TEST_CASE("the GPT's cut sits on the residual stream between two blocks and its gradient") {
  pw::GptSpec g;
  g.layers = 3, g.heads = 2, g.channels = 8, g.context = 4, g.vocab = 256;
  pw::CutSpec cut;
  cut.layer = 2, cut.forward_bits = 2, cut.backward_bits = 8, cut.samples = 50;
  const pw::Tape t = pw::build_gpt_tape(g, 2, pw::OptimizerType::Adamw, 0, false, cut);
  REQUIRE(t.cut_state.size() == 2);
  CHECK(t.tensors[size_t(t.cut_state[0])].rows == 50);
  CHECK(t.tensors[size_t(t.cut_state[0])].cols == 4 * 8);  // a window's T·C values
  const auto fwd = std::find_if(t.ops.begin(), t.ops.end(), [](const pw::Op& o) { return o.kind == pw::OpKind::CutForward; });
  const auto bwd = std::find_if(t.ops.begin(), t.ops.end(), [](const pw::Op& o) { return o.kind == pw::OpKind::CutBackward; });
  REQUIRE(fwd != t.ops.end());
  REQUIRE(bwd != t.ops.end());
  CHECK(fwd->layer == 1);  // after block 1 (the second), before block 2
  CHECK(bwd->layer == 1);
  CHECK(t.tensors[size_t(fwd->in[0])].name == "x2");
  // Block 2 reads x̂: its first layer norm and its residual.
  const int xhat = fwd->out[0];
  int readers = 0;
  for (const pw::Op& o : t.ops)
    if (o.layer == 2 && std::find(o.in.begin(), o.in.end(), xhat) != o.in.end()) readers++;
  CHECK(readers >= 3);  // layer norm forward, the residual add, layer norm backward
  // Block 1's backward reads the gradient that crossed back, not block 2's own.
  const int dhat = bwd->out[0];
  CHECK(t.tensors[size_t(bwd->in[0])].name == "dx2");
  bool read_back = false;
  for (const pw::Op& o : t.ops) read_back |= o.layer == 1 && std::find(o.in.begin(), o.in.end(), dhat) != o.in.end();
  CHECK(read_back);
  CHECK(pw::checkpoint_tensors(t).back() == t.cut_state[1]);
}

TEST_CASE("a sample repeated within a batch crosses the cut once, the same on both sides") {
  const int64_t w = 24, samples = 10, B = 6;
  for (int bits : {2, 4}) {
    INFO(bits << " bits");
    const pw::aqsgd::Codec codec{bits, false, 7, 0, 0};
    std::vector<float> buf_one(size_t(samples * w), 0.0f), seen_one(static_cast<size_t>(samples), 0.0f);
    std::vector<float> buf_s = buf_one, seen_s = seen_one, buf_r = buf_one, seen_r = seen_one;
    // Batches: a first sight twice, then the same sample coded twice and a new one.
    const std::vector<std::vector<uint32_t>> batches = {{3, 3, 5, 1, 7, 3}, {3, 5, 3, 3, 2, 1}, {9, 1, 1, 5, 2, 2}};
    int64_t step = 0;
    for (const std::vector<uint32_t>& idx : batches) {
      // Rows of a repeated sample are the same input, as a GPT's duplicate windows are.
      std::vector<float> a(size_t(B * w));
      for (int64_t b = 0; b < B; b++) {
        const std::vector<float> row = awkward_values(size_t(w), 100 * uint64_t(step) + idx[size_t(b)]);
        std::copy(row.begin(), row.end(), a.begin() + b * w);
      }
      std::vector<float> out_one(size_t(B * w)), out_r(size_t(B * w));
      pw::cut_forward(a.data(), idx.data(), B, w, codec, buf_one.data(), seen_one.data(), out_one.data());
      const std::vector<uint8_t> msg = pw::cut_forward_send(a.data(), idx.data(), B, w, codec, buf_s.data(), seen_s.data());
      pw::cut_forward_receive(msg, idx.data(), B, w, codec, buf_r.data(), seen_r.data(), out_r.data());
      CHECK(same_bits(out_one, out_r));
      CHECK(same_bits(buf_one, buf_s));
      CHECK(same_bits(buf_one, buf_r));
      CHECK(same_bits(seen_one, seen_r));
      for (int64_t b = 0; b < B; b++)  // every occurrence reads the row its sample leaves
        CHECK(std::equal(out_one.begin() + b * w, out_one.begin() + (b + 1) * w, buf_one.begin() + int64_t(idx[size_t(b)]) * w));
      step++;
    }
    // The first batch's message holds each distinct first sight's row once: as long as
    // the message of its 4 distinct samples alone.
    std::vector<float> b2(size_t(samples * w), 0.0f), s2(static_cast<size_t>(samples), 0.0f), b3 = b2, s3 = s2;
    const std::vector<uint32_t> distinct = {3, 5, 1, 7};
    std::vector<float> a(size_t(B * w), 1.0f);
    const size_t repeated = pw::cut_forward_send(a.data(), batches[0].data(), B, w, codec, b2.data(), s2.data()).size();
    CHECK(repeated == pw::cut_forward_send(a.data(), distinct.data(), 4, w, codec, b3.data(), s3.data()).size());
    CHECK(repeated < 1 + 5 * size_t(w) * sizeof(float));
  }
}
