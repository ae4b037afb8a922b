// The pipeline cut inside training (proofwork(7), AQ-SGD): CutForward/CutBackward against a
// plain scalar reference and against aqsgd::pack with a State; first-sight semantics;
// the tape's layout; the buffer in the state hash; an exact proof of a cut task
// verified, and forgeries of its buffer or its bits rejected.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "aqsgd/codec.hpp"
#include "io/message.hpp"
#include "model/cut.hpp"
#include "proof/proof.hpp"
#include "proof/session.hpp"
#include "proof/task_file.hpp"
#include "tensor/philox.hpp"
#include "train/trainer.hpp"
#include "unit_helpers.hpp"
#include "verify/verify.hpp"

using namespace pw;

namespace {

// Values in [-amp, amp) from Philox, so every run sees the same numbers.
std::vector<float> noise(uint32_t stream, size_t n, float amp) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; i++) v[i] = amp * (2.0f * uniform01(philox_word(5, stream, 0, i)) - 1.0f);
  return v;
}

bool same_bits(const float* a, const float* b, size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

// The quantizer written out plainly (the reference implementation's grid): per-channel
// s = max |x| over `rows`, step = s/2^(B-1), q = round half to even of x/step clamped to
// [-2^(B-1), 2^(B-1) - 1] (0 when s is 0), value q·step (added to `base` when given).
void reference_quantize(const std::vector<const float*>& rows, int64_t w, int bits, std::vector<float*> outs,
                        std::vector<const float*> bases) {
  const float H = float(1 << (bits - 1));
  for (int64_t c = 0; c < w; c++) {
    float s = 0;
    for (const float* r : rows) s = std::max(s, std::fabs(r[c]));
    const float step = s / H;
    for (size_t k = 0; k < rows.size(); k++) {
      // An integer code: a zero is +0 (decoding gives 0·step = +0, never −0).
      const float y = s > 0 ? std::nearbyint(rows[k][c] / step) : 0.0f;
      const float q = float(int(std::min(H - 1, std::max(-H, y))));
      const float d = q * step;
      outs[k][c] = bases[k] ? bases[k][c] + d : d;
    }
  }
}

}  // namespace

TEST_CASE("cut: forward is AQ-SGD against the buffer and backward direct quantization (plain reference)") {
  const int64_t B = 6, w = 13, samples = 20;  // 13 channels: a partial group of 8 codes
  for (int bits : {2, 3, 4, 8}) {
    CAPTURE(bits);
    std::vector<float> buffer(size_t(samples * w), 0.0f), seen(size_t(samples), 0.0f), out(size_t(B * w));
    // Step 1: every sample new -- passes at full precision and becomes its m.
    const uint32_t idx1[B] = {3, 7, 0, 19, 11, 5};
    std::vector<float> a1 = noise(1, size_t(B * w), 2.0f);
    cut_forward(a1.data(), idx1, B, w, aqsgd::Codec{bits}, buffer.data(), seen.data(), out.data());
    CHECK(same_bits(out.data(), a1.data(), out.size()));
    for (int64_t b = 0; b < B; b++) {
      CHECK(seen[idx1[b]] == 1.0f);
      CHECK(same_bits(buffer.data() + idx1[b] * w, a1.data() + b * w, size_t(w)));
    }
    CHECK(seen[1] == 0.0f);
    // Step 2: four samples seen before (coded against m), two new (full precision).
    const uint32_t idx2[B] = {7, 1, 3, 11, 2, 19};
    std::vector<float> a2 = noise(2, size_t(B * w), 2.0f);
    std::vector<float> want_buffer = buffer, want_out(size_t(B * w)), delta(size_t(B * w));
    std::vector<const float*> rows, bases;
    std::vector<float*> outs;
    for (int64_t b = 0; b < B; b++) {
      float* m = want_buffer.data() + idx2[b] * w;
      if (seen[idx2[b]] == 0.0f) {
        std::memcpy(m, a2.data() + b * w, size_t(w) * 4);
        continue;
      }
      for (int64_t c = 0; c < w; c++) delta[size_t(b * w + c)] = a2[size_t(b * w + c)] - m[c];
      rows.push_back(delta.data() + b * w);
      outs.push_back(m);
      bases.push_back(m);
    }
    REQUIRE(rows.size() == 4);
    reference_quantize(rows, w, bits, outs, bases);
    for (int64_t b = 0; b < B; b++) std::memcpy(want_out.data() + b * w, want_buffer.data() + idx2[b] * w, size_t(w) * 4);
    cut_forward(a2.data(), idx2, B, w, aqsgd::Codec{bits}, buffer.data(), seen.data(), out.data());
    CHECK(same_bits(out.data(), want_out.data(), out.size()));
    CHECK(same_bits(buffer.data(), want_buffer.data(), buffer.size()));
    CHECK(seen[1] == 1.0f);
    CHECK(seen[4] == 0.0f);
    // Coded rows really are quantized (not copied): at 2 bits each value is m + q·step, q ∈ {-2, -1, 0, 1}.
    CHECK_FALSE(same_bits(out.data(), a2.data(), size_t(w)));

    // Backward: every row coded, no state.
    std::vector<float> g = noise(3, size_t(B * w), 0.01f), gq(size_t(B * w)), want(size_t(B * w));
    std::vector<const float*> grows;
    std::vector<float*> gouts;
    for (int64_t b = 0; b < B; b++) grows.push_back(g.data() + b * w), gouts.push_back(want.data() + b * w);
    reference_quantize(grows, w, bits, gouts, std::vector<const float*>(size_t(B), nullptr));
    cut_backward(g.data(), B, w, aqsgd::Codec{bits}, gq.data());
    CHECK(same_bits(gq.data(), want.data(), gq.size()));
    cut_backward(g.data(), B, w, aqsgd::Codec{bits}, g.data());  // in place
    CHECK(same_bits(g.data(), want.data(), g.size()));
  }
}

TEST_CASE("cut: bits equal aqsgd::pack with a State (forward) and without (backward)") {
  pwtest::ScratchDir dir;
  const uint32_t w = 21;
  const int64_t B = 8, samples = 40;
  // plain, and with the rotation and scale tiles (aqsgd/codec.hpp), which the cut's forward
  // takes from the task and its backward never
  const aqsgd::Codec codecs[] = {aqsgd::Codec{2}, aqsgd::Codec{4}, aqsgd::Codec{8}, aqsgd::Codec{2, false, 77, 8, 0},
                                 aqsgd::Codec{2, false, 77, 16, 8}, aqsgd::Codec{3, false, 78, 0, 4}};
  for (const aqsgd::Codec& codec : codecs) {
    CAPTURE(aqsgd::codec_name(codec));
    aqsgd::State st(dir.file("s" + aqsgd::codec_name(codec)), aqsgd::StateParams{w, 64, aqsgd::FullPolicy::kEvict},
                    true, false);
    std::vector<float> buffer(size_t(samples) * w, 0.0f), seen(size_t(samples), 0.0f), out(size_t(B) * w),
        view(size_t(B) * w), gq(size_t(B) * w);
    for (uint32_t round = 0; round < 12; round++) {
      std::vector<uint32_t> idx(B);
      std::vector<uint64_t> ids(B);
      for (int64_t b = 0; b < B; b++)  // distinct samples; some come back often, some rarely
        ids[size_t(b)] = idx[size_t(b)] = (philox_word(9, round, 0, 0) % samples + uint32_t(b) * 5) % samples;
      std::vector<float> a = noise(100 + round, size_t(B) * w, 1.0f + float(round));
      aqsgd::Packed p;
      aqsgd::pack(a.data(), ids.data(), size_t(B), w, codec, &st, round, p, view.data());
      cut_forward(a.data(), idx.data(), B, w, codec, buffer.data(), seen.data(), out.data());
      CHECK(same_bits(out.data(), view.data(), out.size()));
      for (int64_t b = 0; b < B; b++) CHECK(same_bits(buffer.data() + idx[size_t(b)] * w, st.find(ids[size_t(b)]), w));
      aqsgd::pack(a.data(), ids.data(), size_t(B), w, codec, nullptr, round, p, view.data());
      cut_backward(a.data(), B, w, codec, gq.data());
      CHECK(same_bits(gq.data(), view.data(), gq.size()));
    }
  }
}

TEST_CASE("cut: a non-finite activation passes through and leaves the buffer alone") {
  const int64_t B = 2, w = 3;
  std::vector<float> buffer(6, 0.5f), seen = {1, 1}, out(6);
  const uint32_t idx[B] = {0, 1};
  std::vector<float> a = {1, 2, 3, 4, NAN, 6};
  cut_forward(a.data(), idx, B, w, aqsgd::Codec{2}, buffer.data(), seen.data(), out.data());
  CHECK(out[0] == 1.0f);
  CHECK(std::isnan(out[4]));
  CHECK(buffer == std::vector<float>(6, 0.5f));
  // finite, but the rotation's sums overflow fp32: the same
  a = {3e38f, 3e38f, 1, 1, 1, 1};
  cut_forward(a.data(), idx, B, w, aqsgd::Codec{2, false, 1, 2, 0}, buffer.data(), seen.data(), out.data());
  CHECK(out == a);
  CHECK(buffer == std::vector<float>(6, 0.5f));
}

TEST_CASE("cut: the tape routes the activation and the gradient through the cut") {
  CutSpec cut;
  cut.layer = 2, cut.forward_bits = 3, cut.backward_bits = 4, cut.samples = 50;
  const std::vector<int> widths = {12, 8, 6, 5, 3};
  const Tape plain = build_mlp_tape(widths, 4, OptimizerType::Sgd);
  const Tape t = build_mlp_tape(widths, 4, OptimizerType::Sgd, cut);
  CHECK(t.ops.size() == plain.ops.size() + 2);
  CHECK(plain.cut_state.empty());
  REQUIRE(t.cut_state.size() == 2);
  CHECK(t.tensors[size_t(t.cut_state[0])].name == "cut.2.buffer");
  CHECK(t.tensors[size_t(t.cut_state[0])].size() == 50 * 6);
  CHECK(t.tensors[size_t(t.cut_state[1])].name == "cut.2.seen");
  CHECK(checkpoint_tensors(t).back() == t.cut_state[1]);
  // Forward: relu(a1) → cut_forward → Linear 2 reads â.
  int fwd = -1, bwd = -1;
  for (size_t i = 0; i < t.ops.size(); i++) {
    if (t.ops[i].kind == OpKind::CutForward) fwd = int(i);
    if (t.ops[i].kind == OpKind::CutBackward) bwd = int(i);
  }
  REQUIRE(fwd > 0);
  REQUIRE(bwd > fwd);
  const Op& relu = t.ops[size_t(fwd - 1)];
  const Op& next = t.ops[size_t(fwd + 1)];
  CHECK(relu.kind == OpKind::ReluForward);
  CHECK(t.tensors[size_t(relu.out[0])].name == "a1");
  CHECK(t.ops[size_t(fwd)].in[0] == relu.out[0]);
  CHECK(next.kind == OpKind::LinearForward);
  CHECK(next.layer == 2);
  CHECK(next.in[0] == t.ops[size_t(fwd)].out[0]);
  // Backward: Linear 2's input gradient → cut_backward → ReLU backward masked by a1 itself.
  const Op& lin = t.ops[size_t(bwd - 1)];
  const Op& rb = t.ops[size_t(bwd + 1)];
  CHECK(lin.kind == OpKind::LinearBackwardInput);
  CHECK(lin.layer == 2);
  CHECK(rb.kind == OpKind::ReluBackward);
  CHECK(rb.in[0] == t.ops[size_t(bwd)].out[0]);
  CHECK(rb.in[1] == relu.out[0]);
  // Linear 2's weight gradient reads â, what its stage received.
  for (const Op& op : t.ops)
    if (op.kind == OpKind::LinearBackwardWeight && op.layer == 2) CHECK(op.in[1] == t.ops[size_t(fwd)].out[0]);
}

namespace {

// The unit-test task (mlp:784-32-10, SGD) on the tiny fixture set with a cut after
// hidden layer 1, written and loaded back like the programs do.
LoadedTask cut_task(const pwtest::ScratchDir& dir, const std::string& name, int bits) {
  return pwtest::tiny_task(dir, name, [bits](TaskConfig& c) {
    c.steps = 300;  // 3 epochs of 100 steps: samples come back and are coded
    c.checkpoint_every = 100;
    c.cut.layer = 1, c.cut.forward_bits = bits, c.cut.backward_bits = 8;
  });
}

// Trains `cfg` and writes its proof under the claim `task` (its hash recorded).
void write_proof(const TaskConfig& cfg, const LoadedTask& task, const std::string& dir) {
  SessionHooks claim;
  claim.train_config = [&cfg](TaskConfig& c) { c = cfg; };
  Session s(task, load_task_dataset(cfg, ""), {}, claim);
  s.open(dir);
  s.run();
}

}  // namespace

TEST_CASE("cut: task fields and the buffer in the state hash") {
  pwtest::ScratchDir scratch;
  LoadedTask task = cut_task(scratch, "task.pwt", 2);
  CHECK(task.cfg.cut.layer == 1);
  CHECK(task.cfg.cut.forward_bits == 2);
  CHECK(task.cfg.cut.backward_bits == 8);
  CHECK(task.cfg.cut.samples == 1000);
  // Without the field, the task hashes as a task written before the field existed.
  {
    capnp::MallocMessageBuilder a, b;
    pwtest::fill_task(a.initRoot<schema::Task>());
    pwtest::fill_task(b.initRoot<schema::Task>());
    b.getRoot<schema::Task>().initCut().setLayer(1);
    CHECK(task_hash(a.getRoot<schema::Task>().asReader()) != task_hash(b.getRoot<schema::Task>().asReader()));
    b.getRoot<schema::Task>().disownCut();
    CHECK(task_hash(a.getRoot<schema::Task>().asReader()) == task_hash(b.getRoot<schema::Task>().asReader()));
  }
  // Bad layers and bits are bad input.
  for (auto [layer, fb, bb] : {std::tuple{0, 2, 8}, {2, 2, 8}, {1, 5, 8}, {1, 2, 1}, {1, 0, 8}}) {
    capnp::MallocMessageBuilder mb;
    auto t = mb.initRoot<schema::Task>();
    pwtest::fill_task(t);
    auto k = t.initCut();
    k.setLayer(uint32_t(layer)), k.setForwardBits(uint32_t(fb)), k.setBackwardBits(uint32_t(bb));
    CHECK(pwtest::error_code_of([&] { task_config(t.asReader()); }) == kExitBadInput);
  }
  CHECK(pwtest::error_code_of([] { parse_cut_spec("1:x"); }) == kExitUsage);
  CHECK(pwtest::error_code_of([] { parse_cut_spec("1"); }) == kExitUsage);
  CHECK(cut_spec(parse_cut_spec("1:3")) == "1:3:8");
  // The CUDA executor has no cut ops: a cut task is refused there (exit 3), not on the CPU.
  CHECK(pwtest::error_code_of([&] { check_cut_device(task.cfg.cut, DeviceKind::Cuda); }) == kExitBadInput);
  CHECK(pwtest::error_code_of([&] { check_cut_device(task.cfg.cut, DeviceKind::Cpu); }) == -1);
  CHECK(pwtest::error_code_of([&] { check_cut_device(CutSpec{}, DeviceKind::Cuda); }) == -1);

  Dataset data = load_task_dataset(task.cfg, "");
  Trainer tr(task.cfg, data);
  for (int i = 0; i < 3; i++) tr.run_step();
  const Hash h = state_hash(tr.tape, tr.ws, tr.step);
  std::vector<float>& buf = tr.ws.t[size_t(tr.tape.cut_state[0])];
  std::vector<float>& seen = tr.ws.t[size_t(tr.tape.cut_state[1])];
  CHECK(std::count(seen.begin(), seen.end(), 1.0f) == 30);  // 3 batches of 10 distinct samples
  size_t e = size_t(tr.batch_idx[0]) * 32;  // a non-zero value of a row the last step wrote
  while (buf[e] == 0.0f) e++;
  CHECK(e < size_t(tr.batch_idx[0] + 1) * 32);
  buf[e] = std::nextafter(buf[e], 1.0f);
  CHECK(state_hash(tr.tape, tr.ws, tr.step) != h);
  buf[e] = std::nextafter(buf[e], -1.0f);
  CHECK(state_hash(tr.tape, tr.ws, tr.step) == h);
  seen[0] = 1.0f - seen[0];
  CHECK(state_hash(tr.tape, tr.ws, tr.step) != h);
}

TEST_CASE("cut: an exact proof verifies and a forged buffer or other bits are rejected") {
  pwtest::ScratchDir scratch;
  LoadedTask task = cut_task(scratch, "task.pwt", 2);
  const std::string proof = scratch.file("proof");
  write_proof(task.cfg, task, proof);
  VerifyOptions all;
  VerifyResult ok = verify_proof(task, proof, all);
  CHECK(ok.accepted);
  CHECK(ok.segments.size() == 3);

  // Checkpoint 2 (step 200) with one float of m(sample) moved by one ulp, every hash
  // recomputed: only the replay of segment 1 can see it.
  pwtest::forge_checkpoint(proof, task, 2, [](const Tape& tape, Workspace& ws) {
    std::vector<float>& m = ws.t[size_t(tape.cut_state[0])];
    const auto x = std::find_if(m.begin() + 777, m.end(), [](float v) { return v != 0.0f; });
    REQUIRE(x != m.end());
    *x = std::nextafter(*x, 1.0f);
  });
  VerifyResult bad = verify_proof(task, proof, all);
  CHECK_FALSE(bad.accepted);
  CHECK(bad.first_bad == 1);

  // Trained with 4-bit activations, claimed as the 2-bit task. Segment 0 is the first
  // epoch, where every sample crosses at full precision (first sight), so the bits first
  // matter -- and the replay first differs -- in segment 1.
  LoadedTask four = cut_task(scratch, "task4.pwt", 4);
  const std::string other = scratch.file("other");
  write_proof(four.cfg, task, other);
  VerifyResult wrong = verify_proof(task, other, all);
  CHECK_FALSE(wrong.accepted);
  CHECK(wrong.first_bad == 1);
  CHECK(wrong.reason.find("replayed state") != std::string::npos);
}

TEST_CASE("cut: the sender's and receiver's halves give cut_forward's and cut_backward's bits on both sides") {
  const int64_t B = 6, w = 21, samples = 12;
  const uint32_t idx[B] = {3, 7, 1, 10, 0, 5};
  for (uint32_t rot : {0u, 16u}) {
    CAPTURE(rot);
    const aqsgd::Codec fwd{3, false, 9, rot, 0}, bwd{4};
    // Three sides: one process (cut_forward), the sender and the receiver, each with its
    // own buffer and seen flags; two batches, so the second codes against the first.
    std::vector<float> buf1(size_t(samples * w), 0.0f), buf_s = buf1, buf_r = buf1;
    std::vector<float> seen1(size_t(samples), 0.0f), seen_s = seen1, seen_r = seen1;
    seen1[7] = seen_s[7] = seen_r[7] = 1.0f;  // one sample seen before: coded from the start
    for (uint32_t round = 0; round < 2; round++) {
      const std::vector<float> a = noise(40 + round, size_t(B * w), 3.0f);
      std::vector<float> one(size_t(B * w)), got(size_t(B * w));
      cut_forward(a.data(), idx, B, w, fwd, buf1.data(), seen1.data(), one.data());
      const std::vector<uint8_t> msg = cut_forward_send(a.data(), idx, B, w, fwd, buf_s.data(), seen_s.data());
      cut_forward_receive(msg, idx, B, w, fwd, buf_r.data(), seen_r.data(), got.data());
      CHECK(same_bits(one.data(), got.data(), one.size()));
      CHECK(same_bits(buf1.data(), buf_s.data(), buf1.size()));
      CHECK(same_bits(buf1.data(), buf_r.data(), buf1.size()));
      CHECK(seen1 == seen_s);
      CHECK(seen1 == seen_r);
      // Once every row is coded: the flag, a scale per channel, 3 bits a value.
      if (round == 1) CHECK(msg.size() == 1 + size_t(w) * sizeof(float) + size_t(B) * aqsgd::RowCoder(fwd, w).code_bytes());
      std::vector<float> gone(size_t(B * w)), ggot(size_t(B * w));
      cut_backward(a.data(), B, w, bwd, gone.data());
      cut_backward_receive(cut_backward_send(a.data(), B, w, bwd), B, w, bwd, ggot.data());
      CHECK(same_bits(gone.data(), ggot.data(), gone.size()));
    }
    // A non-finite activation passes through raw on both sides, the buffer untouched.
    std::vector<float> bad = noise(50, size_t(B * w), 1.0f), out(size_t(B * w));
    bad[5] = std::nanf("");
    const std::vector<float> before = buf_r;
    const std::vector<uint8_t> msg = cut_forward_send(bad.data(), idx, B, w, fwd, buf_s.data(), seen_s.data());
    CHECK(msg.size() == 1 + size_t(B * w) * sizeof(float));
    cut_forward_receive(msg, idx, B, w, fwd, buf_r.data(), seen_r.data(), out.data());
    CHECK(same_bits(before.data(), buf_r.data(), before.size()));
    CHECK(std::isnan(out[5]));
    // A truncated message is this job's own fault: an internal error (exit 4).
    std::vector<uint8_t> cut = cut_forward_send(noise(51, size_t(B * w), 1.0f).data(), idx, B, w, fwd, buf_s.data(),
                                                 seen_s.data());
    cut.pop_back();
    CHECK(pwtest::error_code_of([&] { cut_forward_receive(cut, idx, B, w, fwd, buf_r.data(), seen_r.data(), out.data()); }) ==
          kExitInternal);
  }
}
