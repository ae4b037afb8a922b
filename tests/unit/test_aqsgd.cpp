// lib/aqsgd: the quantizer's error bounds, sender and receiver states staying
// bit-identical over many rounds, the state's generation check, crash safety and
// policy when full, and the stream reader's refusal of damaged streams.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "aqsgd/codec.hpp"
#include "aqsgd/quantize.hpp"
#include "aqsgd/rotate.hpp"
#include "aqsgd/state.hpp"
#include "aqsgd/stream.hpp"
#include "unit_helpers.hpp"

using namespace pw::aqsgd;
using pwtest::error_code_of;
using pwtest::ScratchDir;

namespace {

std::vector<float> random_rows(std::mt19937_64& rng, size_t n, float spread) {
  std::normal_distribution<float> nd(0.0f, spread);
  std::vector<float> v(n);
  for (float& x : v) x = nd(rng);
  return v;
}

bool same_bits(const float* a, const float* b, size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

// Codes decoded as integers q ∈ [-H, H - 1], H = 2^(B-1) (for checking the packing itself).
std::vector<int> decode_ints(const std::vector<uint8_t>& codes, int64_t cols, int bits) {
  std::vector<float> step(size_t(cols), 1.0f), out(static_cast<size_t>(cols));
  decode_add_row(codes.data(), step.data(), nullptr, cols, bits, out.data());
  return std::vector<int>(out.begin(), out.end());
}

StateParams params(uint32_t cols, uint64_t capacity, FullPolicy policy = FullPolicy::kEvict) {
  return StateParams{cols, capacity, policy};
}

}  // namespace

TEST_SUITE("aqsgd") {

TEST_CASE("nearest rounding: within step/2 inside the grid, scale/2^(B-1) everywhere, all 2^B codes, any width") {
  std::mt19937_64 rng(1);
  for (int bits : {2, 3, 4, 8}) {
    const int H = grid_half(bits);
    CHECK(H == 1 << (bits - 1));
    bool top_seen = false;
    for (int64_t cols : {1, 7, 8, 13, 64, 1000}) {
      // two rows: the scale is the larger |x| of each channel, so row 0 holds the
      // channel's max (±s) in about half the channels and inner values in the others
      std::vector<float> x = random_rows(rng, 2 * size_t(cols), 3.0f);
      std::vector<float> s(size_t(cols), 0.0f), step(static_cast<size_t>(cols)), y(static_cast<size_t>(cols));
      update_maxabs(x.data(), cols, s.data());
      update_maxabs(x.data() + cols, cols, s.data());
      scale_steps(s.data(), cols, bits, step.data());
      std::vector<uint8_t> codes(row_code_bytes(cols, bits));
      encode_row(x.data(), step.data(), cols, bits, codes.data());
      decode_add_row(codes.data(), step.data(), nullptr, cols, bits, y.data());
      const std::vector<int> q = decode_ints(codes, cols, bits);
      for (int64_t c = 0; c < cols; c++) {
        CAPTURE(bits);
        CAPTURE(cols);
        CAPTURE(c);
        const float xc = x[size_t(c)], st = step[size_t(c)], err = std::fabs(xc - y[size_t(c)]);
        CHECK(st == s[size_t(c)] / float(H));
        // the plain definition: round half to even of x/step, clamped to [-H, H - 1]
        const int want = int(std::min(float(H - 1), std::max(float(-H), std::nearbyint(xc / st))));
        CHECK(q[size_t(c)] == want);
        CHECK(y[size_t(c)] == float(want) * st);
        // the bound, everywhere; slack for the one rounding of q·step (≤ 2^-24 |x|,
        // and x - y is exact), which matters at the top where q·step ≈ x
        const float slack = 1e-7f * std::fabs(xc);
        CHECK(err <= s[size_t(c)] / float(1 << (bits - 1)) * (1.0f + 1e-6f) + slack);
        if (xc / st <= float(H) - 0.5f) {
          CHECK(err <= st * 0.5f * (1.0f + 1e-6f));  // inside the grid: half a step
        } else {
          top_seen = true;  // the clamped top: q = H - 1, error up to one step
          CHECK(q[size_t(c)] == H - 1);
          CHECK(err >= st * 0.5f * (1.0f - 1e-6f));
          CHECK(err <= st * (1.0f + 1e-6f) + slack);
        }
      }
      // a channel's max maps to the top code H - 1 (one step below s), its min to -H (on the grid)
      if (cols == 1) CHECK((x[0] == s[0] ? q[0] == H - 1 : x[0] == -s[0] ? q[0] == -H : std::abs(x[0]) < s[0]));
    }
    CHECK(top_seen);
    // x = +s and x = -s: the two ends of the grid, codes 2^B - 1 and 0
    const float ends[2] = {5.0f, -5.0f};
    float es[2] = {5.0f, 5.0f}, est[2], ey[2];
    scale_steps(es, 2, bits, est);
    std::vector<uint8_t> ec(row_code_bytes(2, bits));
    encode_row(ends, est, 2, bits, ec.data());
    decode_add_row(ec.data(), est, nullptr, 2, bits, ey);
    CHECK(decode_ints(ec, 2, bits) == std::vector<int>{H - 1, -H});
    CHECK(ey[0] == 5.0f - 5.0f / float(H));  // error exactly one step = s/2^(B-1): the bound is tight
    CHECK(ey[1] == -5.0f);
    const uint64_t top = (uint64_t(1) << bits) - 1;
    uint64_t word = 0;
    std::memcpy(&word, ec.data(), std::min<size_t>(ec.size(), 8));
    CHECK((word & top) == top);              // code of q = H - 1: 2^B - 1
    CHECK(((word >> bits) & top) == 0);      // code of q = -H: 0
  }
}

TEST_CASE("nearest rounding is round half to even on the grid, clamped to [-2^(B-1), 2^(B-1) - 1]") {
  const float xs[8] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 3.5f, -3.5f, -5.0f};
  const float step[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  std::vector<uint8_t> codes(row_code_bytes(8, 3));
  encode_row(xs, step, 8, 3, codes.data());  // 3 bits: q ∈ [-4, 3]
  float y[8];
  decode_add_row(codes.data(), step, nullptr, 8, 3, y);
  const float want[8] = {0, 2, 2, -0, -2, 3, -4, -4};
  for (int j = 0; j < 8; j++) CHECK(y[j] == want[j]);
}

TEST_CASE("a zero channel stays zero and a zero scale does not divide by zero") {
  const float x[3] = {0.0f, 0.0f, 0.0f}, s[3] = {0, 0, 0};
  float step[3], y[3] = {9, 9, 9};
  scale_steps(s, 3, 2, step);
  CHECK(step[0] == 0.0f);
  std::vector<uint8_t> codes(row_code_bytes(3, 2));
  encode_row(x, step, 3, 2, codes.data());
  CHECK(codes[0] == 0x2a);  // three codes of q = 0, stored as q + 2 = 0b10; padding 0
  decode_add_row(codes.data(), step, nullptr, 3, 2, y);
  for (float v : y) CHECK(v == 0.0f);
  encode_row_stochastic(x, step, 3, 2, codes.data(), 1, 2, 3);
  CHECK(codes[0] == 0x2a);
}

TEST_CASE("stochastic rounding: within one step, unbiased inside the grid, reproducible from its key") {
  const int64_t cols = 37;
  const int bits = 2;  // 4 levels: the coarsest grid shows bias best
  std::mt19937_64 rng(2);
  std::vector<float> x = random_rows(rng, size_t(cols), 1.0f);
  // scales of 2.5 |x| + 0.01: |x/step| < 0.8, every value strictly inside the grid
  std::vector<float> s(static_cast<size_t>(cols)), step(static_cast<size_t>(cols)), y(static_cast<size_t>(cols)), mean(size_t(cols), 0.0f);
  for (int64_t c = 0; c < cols; c++) s[size_t(c)] = 2.5f * std::fabs(x[size_t(c)]) + 0.01f;
  scale_steps(s.data(), cols, bits, step.data());
  std::vector<uint8_t> codes(row_code_bytes(cols, bits)), again(codes.size());
  const int rounds = 4000;
  std::vector<int> distinct(size_t(cols), 0);
  for (int r = 0; r < rounds; r++) {
    encode_row_stochastic(x.data(), step.data(), cols, bits, codes.data(), 42, 7, uint32_t(r));
    encode_row_stochastic(x.data(), step.data(), cols, bits, again.data(), 42, 7, uint32_t(r));
    REQUIRE(codes == again);
    decode_add_row(codes.data(), step.data(), nullptr, cols, bits, y.data());
    for (int64_t c = 0; c < cols; c++) {
      REQUIRE(std::fabs(x[size_t(c)] - y[size_t(c)]) < step[size_t(c)] * (1.0f + 1e-6f));
      mean[size_t(c)] += y[size_t(c)] / float(rounds);
      if (y[size_t(c)] > x[size_t(c)]) distinct[size_t(c)] |= 1;
      if (y[size_t(c)] < x[size_t(c)]) distinct[size_t(c)] |= 2;
    }
  }
  // E[Q(x)] = x: the standard error of a mean of 4000 draws of spread ≤ step/2 is < step/120.
  for (int64_t c = 0; c < cols; c++) {
    CHECK(std::fabs(mean[size_t(c)] - x[size_t(c)]) <= step[size_t(c)] * 0.04f);
    CHECK(distinct[size_t(c)] == 3);  // really random: rounded up and down
  }
  // At the clamped top (x = +s) the code is always 2^(B-1) - 1: within one step, biased.
  const float top[1] = {s[0]};
  for (int r = 0; r < 50; r++) {
    encode_row_stochastic(top, step.data(), 1, bits, codes.data(), 42, 7, uint32_t(r));
    decode_add_row(codes.data(), step.data(), nullptr, 1, bits, y.data());
    CHECK(y[0] == step[0]);
    CHECK(s[0] - y[0] <= step[0]);
  }
  // another sample id or round draws other numbers
  CHECK(stochastic_uniform(42, 7, 0, 5) != stochastic_uniform(42, 8, 0, 5));
  CHECK(stochastic_uniform(42, 7, 0, 5) != stochastic_uniform(42, 7, 1, 5));
  CHECK(stochastic_uniform(42, 7, 0, 5) != stochastic_uniform(43, 7, 0, 5));
}

TEST_CASE("sender and receiver states stay bit-identical over many rounds of random data") {
  for (const Codec codec : {Codec{2, false, 0}, Codec{3, false, 0}, Codec{4, true, 99}, Codec{8, false, 0}}) {
    CAPTURE(codec.bits);
    ScratchDir dir;
    const uint32_t cols = 29;
    State tx(dir.file("tx"), params(cols, 40), true, false), rx(dir.file("rx"), params(cols, 40), true, false);
    std::mt19937_64 rng(codec.bits);
    // a drifting "true" activation per sample, as training moves the weights
    std::vector<std::vector<float>> truth(60);
    for (auto& t : truth) t = random_rows(rng, cols, 2.0f);
    size_t full_rows = 0;
    for (int round = 0; round < 120; round++) {
      const size_t rows = 1 + rng() % 16;
      std::vector<uint64_t> ids;
      while (ids.size() < rows) {  // distinct ids from a pool larger than the capacity: evictions happen
        const uint64_t id = rng() % 60;
        if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
      }
      std::vector<float> a(rows * cols), view(rows * cols), got(rows * cols);
      for (size_t r = 0; r < rows; r++) {
        std::vector<float> drift = random_rows(rng, cols, 0.05f);
        for (uint32_t c = 0; c < cols; c++) {
          truth[ids[r]][c] += drift[c];
          a[r * cols + c] = truth[ids[r]][c];
        }
      }
      Packed p;
      pack(a.data(), ids.data(), rows, cols, codec, &tx, uint64_t(round), p, view.data());
      unpack(p, codec, &rx, got.data());
      REQUIRE(same_bits(view.data(), got.data(), got.size()));
      for (uint8_t f : p.full) full_rows += f;
      // the error bound holds for the reconstruction itself
      for (size_t r = 0; r < rows; r++) {
        if (p.full[r]) {
          REQUIRE(same_bits(a.data() + r * cols, got.data() + r * cols, cols));
          continue;
        }
        for (uint32_t c = 0; c < cols; c++) {
          const float err = std::fabs(a[r * cols + c] - got[r * cols + c]);
          const float bound = p.scales[c] / float(1 << (codec.bits - 1));  // both roundings
          REQUIRE(err <= bound * (1.0f + 1e-5f) + 1e-6f * std::fabs(a[r * cols + c]));
        }
      }
    }
    CHECK(tx.generation() == 120);
    CHECK(rx.generation() == 120);
    CHECK(full_rows > 60);  // evictions brought samples back at full precision
    CHECK(tx.samples() == 40);
    for (uint64_t id = 0; id < 60; id++) {
      const float* m1 = tx.find(id);
      const float* m2 = rx.find(id);
      REQUIRE((m1 == nullptr) == (m2 == nullptr));
      if (m1) REQUIRE(same_bits(m1, m2, cols));
    }
  }
}

TEST_CASE("AQ-SGD sends fewer bits of error than direct quantization on slowly changing rows") {
  ScratchDir dir;
  const uint32_t cols = 64;
  State tx(dir.file("tx"), params(cols, 8), true, false);
  std::mt19937_64 rng(5);
  std::vector<float> a = random_rows(rng, 4 * cols, 1.0f), view(4 * cols), direct(4 * cols);
  const uint64_t ids[4] = {10, 11, 12, 13};
  Packed p;
  double err_aq = 0, err_direct = 0;
  for (int round = 0; round < 10; round++) {
    std::vector<float> drift = random_rows(rng, 4 * cols, 0.01f);
    for (size_t i = 0; i < a.size(); i++) a[i] += drift[i];
    pack(a.data(), ids, 4, cols, Codec{2, false, 0}, &tx, 0, p, view.data());
    pack(a.data(), ids, 4, cols, Codec{2, false, 0}, nullptr, 0, p, direct.data());
    if (round == 0) continue;
    for (size_t i = 0; i < a.size(); i++) {
      err_aq += std::fabs(a[i] - view[i]);
      err_direct += std::fabs(a[i] - direct[i]);
    }
  }
  CHECK(err_aq * 10 < err_direct);
}

TEST_CASE("a batch for another generation is refused and leaves the state as it was") {
  ScratchDir dir;
  const uint32_t cols = 8;
  State tx(dir.file("tx"), params(cols, 16), true, false), rx(dir.file("rx"), params(cols, 16), true, false);
  std::mt19937_64 rng(3);
  const uint64_t ids[2] = {1, 2};
  std::vector<float> a = random_rows(rng, 2 * cols, 1.0f), out(2 * cols);
  Packed p0, p1;
  pack(a.data(), ids, 2, cols, Codec{4, false, 0}, &tx, 0, p0);
  a = random_rows(rng, 2 * cols, 1.0f);
  pack(a.data(), ids, 2, cols, Codec{4, false, 0}, &tx, 1, p1);
  // p1 before p0: the receiver is at generation 0, p1 expects 1
  CHECK(error_code_of([&] { unpack(p1, Codec{4, false, 0}, &rx, out.data()); }) == pw::kExitBadInput);
  CHECK(rx.generation() == 0);
  CHECK(rx.find(1) == nullptr);
  unpack(p0, Codec{4, false, 0}, &rx, out.data());
  // p0 again: a repeated batch
  CHECK(error_code_of([&] { unpack(p0, Codec{4, false, 0}, &rx, out.data()); }) == pw::kExitBadInput);
  unpack(p1, Codec{4, false, 0}, &rx, out.data());
  CHECK(same_bits(tx.find(2), rx.find(2), cols));
  // wrong bits: the code bytes do not match the shape
  CHECK(error_code_of([&] { unpack(p1, Codec{2, false, 0}, &rx, out.data()); }) == pw::kExitBadInput);
  // a damaged batch: flags that disagree with the receiver's state
  Packed bad = p1;
  bad.generation = rx.generation();
  bad.full[0] = 1;
  CHECK(error_code_of([&] { unpack(bad, Codec{4, false, 0}, &rx, out.data()); }) == pw::kExitBadInput);
  CHECK(rx.generation() == 2);
}

TEST_CASE("bad batches: non-finite values and repeated ids leave the state unchanged") {
  ScratchDir dir;
  const uint32_t cols = 4;
  State tx(dir.file("tx"), params(cols, 16), true, false);
  std::vector<float> a(2 * cols, 1.0f);
  Packed p;
  const uint64_t ids[2] = {5, 6};
  pack(a.data(), ids, 2, cols, Codec{4, false, 0}, &tx, 0, p);
  a[5] = NAN;
  CHECK(error_code_of([&] { pack(a.data(), ids, 2, cols, Codec{4, false, 0}, &tx, 0, p); }) == pw::kExitBadInput);
  a[5] = 1.0f;
  const uint64_t twice[2] = {7, 7};
  CHECK(error_code_of([&] { pack(a.data(), twice, 2, cols, Codec{4, false, 0}, &tx, 0, p); }) == pw::kExitBadInput);
  CHECK(tx.generation() == 1);
  CHECK(tx.find(7) == nullptr);
  CHECK(tx.samples() == 2);
}

TEST_CASE("a crash between plan and commit leaves the state at its last generation") {
  ScratchDir dir;
  const uint32_t cols = 16;
  std::vector<float> before(cols);
  {
    State st(dir.file("s"), params(cols, 4), true, false);
    std::vector<float> a(3 * cols, 0.25f);
    const uint64_t ids[3] = {1, 2, 3};
    Packed p;
    pack(a.data(), ids, 3, cols, Codec{4, false, 0}, &st, 0, p);
    std::memcpy(before.data(), st.find(2), cols * 4);
    // an interrupted batch: slots planned and half written, never committed
    const uint64_t next[3] = {2, 4, 5};  // 5 evicts one of the first three
    std::vector<RowSlot> plan = st.plan(next, 3);
    for (const RowSlot& rs : plan)
      for (uint32_t c = 0; c < cols; c++) rs.next[c] = 99.0f;
  }  // the process "dies" here: the mapping is dropped without commit
  State st(dir.file("s"), params(cols, 4), false, false);
  CHECK(st.generation() == 1);
  CHECK(st.samples() == 3);
  REQUIRE(st.find(2) != nullptr);
  CHECK(same_bits(st.find(2), before.data(), cols));
  CHECK(st.find(4) == nullptr);
  CHECK(st.find(5) == nullptr);
}

TEST_CASE("when full: evict drops the least recently updated sample, refuse fails the batch") {
  ScratchDir dir;
  const uint32_t cols = 8;
  std::vector<float> a(2 * cols, 1.0f);
  Packed p;
  {
    State st(dir.file("e"), params(cols, 3), true, false);
    const uint64_t b1[2] = {1, 2}, b2[1] = {3}, b3[1] = {1}, b4[1] = {4};
    pack(a.data(), b1, 2, cols, Codec{4, false, 0}, &st, 0, p);
    pack(a.data(), b2, 1, cols, Codec{4, false, 0}, &st, 0, p);
    pack(a.data(), b3, 1, cols, Codec{4, false, 0}, &st, 0, p);  // 1 is fresh again; 2 is the oldest
    pack(a.data(), b4, 1, cols, Codec{4, false, 0}, &st, 0, p);
    CHECK(p.full[0] == 1);
    CHECK(st.find(2) == nullptr);
    CHECK(st.find(1) != nullptr);
    CHECK(st.find(3) != nullptr);
    CHECK(st.find(4) != nullptr);
    // a batch larger than the capacity cannot be held at all
    const uint64_t big[4] = {10, 11, 12, 13};
    std::vector<float> a4(4 * cols, 1.0f);
    CHECK(error_code_of([&] { pack(a4.data(), big, 4, cols, Codec{4, false, 0}, &st, 0, p); }) == pw::kExitBadInput);
  }
  State st(dir.file("r"), params(cols, 2, FullPolicy::kRefuse), true, false);
  const uint64_t b1[2] = {1, 2}, b2[1] = {3};
  pack(a.data(), b1, 2, cols, Codec{4, false, 0}, &st, 0, p);
  CHECK(error_code_of([&] { pack(a.data(), b2, 1, cols, Codec{4, false, 0}, &st, 0, p); }) == pw::kExitBadInput);
  CHECK(st.generation() == 1);
}

TEST_CASE("a state file is checked when opened: layout, size, magic, lock") {
  ScratchDir dir;
  { State st(dir.file("s"), params(8, 4), true, false); }
  CHECK(error_code_of([&] { State st(dir.file("s"), params(9, 0), false, false); }) == pw::kExitBadInput);
  CHECK(error_code_of([&] { State st(dir.file("missing"), params(8, 4), false, false); }) == pw::kExitBadInput);
  {
    State st(dir.file("s"), params(8, 4), false, false);
    CHECK(error_code_of([&] { State again(dir.file("s"), params(8, 4), false, false); }) == pw::kExitInternal);
  }
  CHECK(truncate(dir.file("s/state.aqs").c_str(), 4096) == 0);
  CHECK(error_code_of([&] { State st(dir.file("s"), params(8, 4), false, false); }) == pw::kExitBadInput);
  CHECK(state_id(params(8, 4)) != state_id(params(8, 5)));
}

TEST_CASE("stream reader: clean end, truncation inside a record") {
  ScratchDir dir;
  // an activation stream of two batches written by the stream writer
  {
    OutputFile out(dir.file("acts"));
    capnp::MallocMessageBuilder mb;
    auto a = mb.initRoot<pw::schema::AqsgdRecord>().initActivations();
    a.initSampleIds(1).set(0, 3);
    a.setCols(2);
    auto d = a.initData(8);
    std::memset(d.begin(), 0, 8);
    out.write(mb);
    out.write(mb);
    out.finish();
  }
  const int fd = ::open(dir.file("acts").c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  RecordReader rd(fd, "acts");
  CHECK(rd.next());
  CHECK(rd.record().isActivations());
  CHECK(rd.next());
  CHECK(!rd.next());
  ::close(fd);
  // cut 5 bytes off the end: the second record is now partial
  CHECK(truncate(dir.file("acts").c_str(), off_t(rd.bytes_read()) - 5) == 0);
  const int fd2 = ::open(dir.file("acts").c_str(), O_RDONLY);
  RecordReader rd2(fd2, "acts");
  CHECK(rd2.next());
  CHECK(error_code_of([&] { rd2.next(); }) == pw::kExitBadInput);
  ::close(fd2);
}

TEST_CASE("a packed stream of version 1 (the old grid) is refused, an activation stream of version 1 is read") {
  ScratchDir dir;
  const auto write_stream = [&](const std::string& name, uint32_t version, pw::schema::AqsgdKind kind) {
    OutputFile out(dir.file(name));
    capnp::MallocMessageBuilder mb;
    auto h = mb.initRoot<pw::schema::AqsgdRecord>().initHeader();
    h.setMagic(kMagic);
    h.setVersion(version);
    h.setKind(kind);
    h.setBits(4);
    h.setCols(2);
    out.write(mb);
    capnp::MallocMessageBuilder tb;
    tb.initRoot<pw::schema::AqsgdRecord>().initTrailer();
    out.write(tb);
    out.finish();
  };
  const auto run = [&](const std::string& name, bool unpack) -> std::string {
    const int fd = ::open(dir.file(name).c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    OutputFile out(dir.file(name + ".out"));
    std::string msg = "ok";
    try {
      if (unpack) {
        unpack_stream(fd, name, out, "", false);
      } else {
        PackSettings ps;
        ps.codec = Codec{4, false, 0};
        ps.direct = true;
        pack_stream(fd, name, out, ps);
      }
    } catch (const pw::Error& e) {
      msg = std::to_string(e.code) + ": " + e.what();
    }
    ::close(fd);
    return msg;
  };
  CHECK(pw::current_version(pw::FileKind::AqsgdStream) == 3);
  CHECK(pw::file_version(pw::FileKind::AqsgdStream).oldest == 2);
  write_stream("old", 1, pw::schema::AqsgdKind::DIRECT);
  const std::string old = run("old", true);
  CHECK(old.rfind(std::to_string(pw::kExitBadInput) + ": old: packed stream version 1", 0) == 0);
  CHECK(old.find("old quantization grid") != std::string::npos);
  write_stream("new", 3, pw::schema::AqsgdKind::DIRECT);
  CHECK(run("new", true) == "ok");
  // Version 2 (before rotation and scale tiles) reads as no rotation, per-channel scales.
  write_stream("v2", 2, pw::schema::AqsgdKind::DIRECT);
  CHECK(run("v2", true) == "ok");
  // Any other version by the house rule (io/version.hpp), for both kinds and --inspect.
  const std::string bad = std::to_string(pw::kExitBadInput) + ": ";
  write_stream("v3", 4, pw::schema::AqsgdKind::DIRECT);
  CHECK(run("v3", true) == bad + "v3: AQ-SGD stream format version 4 is newer than this build reads (2 to 3); upgrade proofwork");
  write_stream("acts3", 4, pw::schema::AqsgdKind::ACTIVATIONS);
  CHECK(run("acts3", false).rfind(bad + "acts3: AQ-SGD stream format version 4 is newer", 0) == 0);
  write_stream("v0", 0, pw::schema::AqsgdKind::DIRECT);
  CHECK(run("v0", true).rfind(bad + "v0: AQ-SGD stream format version 0: not a proofwork AQ-SGD stream", 0) == 0);
  const int fd = ::open(dir.file("v3").c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  CHECK(error_code_of([&] { inspect_stream(fd, "v3", false); }) == pw::kExitBadInput);
  ::close(fd);
  write_stream("acts1", 1, pw::schema::AqsgdKind::ACTIVATIONS);
  CHECK(run("acts1", false) == "ok");
}


namespace {

// splitmix64: a fixed, portable stream (std::normal_distribution is not specified
// bit for bit across standard libraries).
uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// BLAKE2b of everything the codec produces for fixed inputs at `bits`: the codes of
// encode_row and encode_row_stochastic, decode_add_row with and without a base, and
// four AQ-SGD batches (with their state) plus a direct one through pack(). Rows of
// 1000 and 13 channels (whole groups of 8 and a tail); every fourth channel holds
// exact halves of its step (step = 1), so round half to even and the clamp at the top
// are exercised.
// 5 rows of `cols` values: every fourth channel k/2 for k in [-2H, 2H] (one row at H, so
// the scale is H), the others uniform in ±3·(1 + c mod 3).
std::vector<float> digest_rows(int64_t cols, int H, uint64_t& seed) {
  const size_t n = 5 * size_t(cols);
  std::vector<float> x(n);
  for (size_t i = 0; i < n; i++) {
    const int64_t c = int64_t(i % size_t(cols));
    const uint64_t r = splitmix(seed);
    if (c % 4 == 0)
      x[i] = i / size_t(cols) == 0 ? float(H) : float(int64_t(r % uint64_t(4 * H + 1)) - 2 * H) / 2.0f;
    else
      x[i] = float(double(r >> 11) * 0x1.0p-53 * 6.0 - 3.0) * float(1 + c % 3);
  }
  return x;
}

// Four AQ-SGD batches of 6 samples (with their state) drifting from x, then a direct
// batch, all through pack() with `codec`: codes, scales, full rows and the views.
void digest_packs(pw::Hasher& h, const std::vector<float>& x, int64_t cols, const Codec& codec, uint64_t& seed) {
  const size_t n = x.size();
  ScratchDir dir;
  State st(dir.file("s"), params(uint32_t(cols), 8), true, false);
  const uint64_t ids[6] = {3, 1, 4, 15, 9, 2};
  std::vector<float> a(6 * size_t(cols)), view(a.size());
  for (int round = 0; round < 4; round++) {
    for (size_t i = 0; i < a.size(); i++)
      a[i] = x[i % n] + float(round) * float(double(splitmix(seed) >> 11) * 0x1.0p-53 - 0.5) * 0.25f;
    Packed p;
    pack(a.data(), ids, 6, uint32_t(cols), codec, &st, uint64_t(round), p, view.data());
    h.update(p.codes.data(), p.codes.size()).update(p.scales.data(), p.scales.size() * 4);
    h.update(p.full_rows.data(), p.full_rows.size() * 4).update(view.data(), view.size() * 4);
  }
  Packed p;
  pack(a.data(), ids, 6, uint32_t(cols), codec, nullptr, 0, p, view.data());
  h.update(p.codes.data(), p.codes.size()).update(view.data(), view.size() * 4);
}

std::string codec_digest(int bits) {
  const int H = grid_half(bits);
  uint64_t seed = 0x5eed0000ull + uint64_t(bits);
  pw::Hasher h;
  for (int64_t cols : {1000, 13}) {
    const std::vector<float> x = digest_rows(cols, H, seed);
    const size_t w = size_t(cols);
    std::vector<float> s(w, 0.0f), step(w), y(w);
    for (size_t r = 0; r < 5; r++) update_maxabs(x.data() + r * size_t(cols), cols, s.data());
    scale_steps(s.data(), cols, bits, step.data());
    std::vector<uint8_t> codes(row_code_bytes(cols, bits));
    for (size_t r = 0; r < 5; r++) {
      const float* row = x.data() + r * size_t(cols);
      encode_row(row, step.data(), cols, bits, codes.data());
      h.update(codes.data(), codes.size());
      decode_add_row(codes.data(), step.data(), nullptr, cols, bits, y.data());
      h.update(y.data(), y.size() * 4);
      decode_add_row(codes.data(), step.data(), row, cols, bits, y.data());
      h.update(y.data(), y.size() * 4);
      encode_row_stochastic(row, step.data(), cols, bits, codes.data(), 99, r, 3);
      h.update(codes.data(), codes.size());
    }
    // AQ-SGD through pack(): 6 samples, 4 rounds, each drifting; then a direct batch.
    digest_packs(h, x, cols, Codec{bits, false, 0}, seed);
  }
  return pw::hex(h.final()).substr(0, 32);
}

// The rotation's bits: rotate and unrotate of the digest rows, then digest_packs with the
// rotated codec, at widths with whole tiles and with a tail of smaller tiles.
std::string rotated_digest(const Codec& codec) {
  uint64_t seed = 0x707a7e00ull + uint64_t(codec.bits) * 131 + codec.rotate_tile + codec.scale_tile;
  pw::Hasher h;
  for (int64_t cols : {1024, 1000, 200, 13}) {
    const std::vector<float> x = digest_rows(cols, grid_half(codec.bits), seed);
    const Rotation rot(codec.rotate_tile, codec.seed, uint32_t(cols));
    std::vector<float> y = x;
    for (size_t r = 0; r < 5; r++) rot.rotate(y.data() + r * size_t(cols));
    h.update(y.data(), y.size() * 4);
    for (size_t r = 0; r < 5; r++) rot.unrotate(y.data() + r * size_t(cols));
    h.update(y.data(), y.size() * 4);
    digest_packs(h, x, cols, codec, seed);
  }
  return pw::hex(h.final()).substr(0, 32);
}

}  // namespace

TEST_CASE("the codec's output bits are pinned (any rewrite of the kernels must reproduce them)") {
  // Digests of the reference implementation's grid (stream version 2: codes q + 2^(B-1),
  // q ∈ [-2^(B-1), 2^(B-1) - 1], step s/2^(B-1)); they replaced those of the first grid
  // (q + L, q ∈ [-L, L], step s/L, L = 2^(B-1) - 1). A change here changes the wire
  // format or the state, and with it every stream and state written before. Both the
  // AVX2 kernels and the baseline ones must give these bits.
  const char* want[9] = {};
  want[2] = "8265147d8974d8c21c3970a3c09308d8";
  want[3] = "881141025e1cfef45766a9d089bfd82a";
  want[4] = "052d8ec96d3b19c8d02f3be6f80014c2";
  want[8] = "ae9dfc248cdc7f35e10c2187d01239eb";
  const bool avx2 = avx2_kernels();
  if (!avx2) MESSAGE("no AVX2 on this CPU: only the baseline kernels are checked");
  for (bool baseline : {true, false}) {
    if (!baseline && !avx2) continue;
    force_baseline_kernels(baseline);
    CHECK(avx2_kernels() == !baseline);
    for (int bits : {2, 3, 4, 8}) {
      CAPTURE(bits);
      CAPTURE(baseline);
      const std::string got = codec_digest(bits);
      CHECK(got == want[bits]);
    }
  }
  force_baseline_kernels(false);
}

TEST_CASE("the rotated codec's output bits are pinned (any rewrite of the transform must reproduce them)") {
  // Rotation tiles from 2 to 4096 (whole tiles, tails split into smaller ones, a tile
  // larger than the row), with per-channel and per-tile scales, nearest and stochastic
  // rounding. A change here changes what a rotated stream decodes to (stream format 3).
  struct Pin {
    Codec codec;
    const char* want;
  };
  const Pin pins[] = {
      {Codec{2, false, 7, 64, 0}, "c83e3f851982143e19d0728c7ed5b8b8"},
      {Codec{2, false, 7, 64, 64}, "a40067ab12f7559cbd7c6c52de980e9a"},
      {Codec{3, true, 9, 8, 16}, "a1597fc8fbc01e31dfdf231665c7512c"},
      {Codec{4, false, 11, 4096, 0}, "86ce92a0b1c7918764ea293269822c57"},
      {Codec{8, false, 3, 2, 0}, "8e4c77b3fb814eb5cd5586aea48537d8"},
      {Codec{2, false, 5, 16, 32}, "3be84cf7aace8291bf47a6b52412c1dc"},
      {Codec{4, false, 1, 256, 0}, "3884145858249830f4f9da53fd0c941a"},
  };
  const bool avx2 = avx2_kernels();
  for (bool baseline : {true, false}) {
    if (!baseline && !avx2) continue;
    force_baseline_kernels(baseline);
    for (const Pin& p : pins) {
      CAPTURE(codec_name(p.codec));
      CAPTURE(baseline);
      CHECK(rotated_digest(p.codec) == std::string(p.want));
    }
  }
  force_baseline_kernels(false);
}

TEST_CASE("per-tile maxima, tile expansion and the finiteness scan agree with their definitions") {
  std::mt19937_64 rng(17);
  for (int64_t cols : {1, 7, 8, 29, 64, 200, 1000}) {
    for (uint32_t tile : {2u, 8u, 16u, 64u, 4096u}) {
      CAPTURE(cols);
      CAPTURE(tile);
      std::vector<float> x = random_rows(rng, size_t(cols), 4.0f);
      x[rng() % size_t(cols)] = std::nanf("");  // skipped, as update_maxabs skips it
      const size_t tiles = size_t((cols + tile - 1) / tile);
      std::vector<float> got(tiles), want(tiles, 0.0f), steps(tiles), wide(static_cast<size_t>(cols));
      tile_maxabs(x.data(), cols, tile, got.data());
      for (int64_t c = 0; c < cols; c++) {
        const float a = std::fabs(x[size_t(c)]);
        float& m = want[size_t(c) / tile];
        m = a > m ? a : m;
      }
      REQUIRE(same_bits(got.data(), want.data(), tiles));
      for (size_t t = 0; t < tiles; t++) steps[t] = float(t) + 0.5f;
      expand_tiles(steps.data(), cols, tile, wide.data());
      for (int64_t c = 0; c < cols; c++) REQUIRE(wide[size_t(c)] == steps[size_t(c) / tile]);
    }
    std::vector<float> y = random_rows(rng, size_t(cols), 1.0f);
    CHECK(all_finite(y.data(), cols));
    for (float bad : {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(), std::nanf("")})
      for (int64_t at : {int64_t(0), cols / 2, cols - 1}) {
        std::vector<float> z = y;
        z[size_t(at)] = bad;
        CHECK_FALSE(all_finite(z.data(), cols));
      }
  }
}

TEST_CASE("rotation: its inverse is exact on integers, tiles split any width, signs follow the seed") {
  for (uint32_t cols : {1u, 7u, 64u, 200u, 1000u}) {
    for (uint32_t tile : {2u, 8u, 64u, 4096u}) {
      CAPTURE(cols);
      CAPTURE(tile);
      const Rotation rot(tile, 5, cols);
      std::mt19937_64 rng(cols * 31 + tile);
      // small integers: every butterfly sum is exact, so unrotate(rotate(x)) = x (a zero
      // may come back as -0)
      std::vector<float> x(cols), y;
      for (float& v : x) v = float(int(rng() % 201) - 100);
      y = x;
      rot.rotate(y.data());
      rot.unrotate(y.data());
      REQUIRE(x == y);
      // real values: equal to rounding
      x = random_rows(rng, cols, 3.0f);
      y = x;
      rot.rotate(y.data());
      double energy_x = 0, energy_y = 0;
      for (uint32_t c = 0; c < cols; c++) energy_x += double(x[c]) * x[c], energy_y += double(y[c]) * y[c];
      CHECK(energy_y >= energy_x);  // unnormalised: ‖H x‖² = n ‖x‖² per tile
      rot.unrotate(y.data());
      for (uint32_t c = 0; c < cols; c++) REQUIRE(std::fabs(y[c] - x[c]) <= 1e-5f * (1.0f + std::fabs(x[c])));
    }
  }
  // cols 200, tile 64: tiles 64, 64, 64, 8: an impulse at column 195 spreads over [192, 200) only
  const Rotation rot(64, 5, 200);
  std::vector<float> e(200, 0.0f);
  e[195] = 1.0f;
  rot.rotate(e.data());
  for (uint32_t c = 0; c < 200; c++) CHECK((std::fabs(e[c]) == 1.0f) == (c >= 192));
  // an outlier spreads over its whole tile
  const Rotation r2(64, 5, 64);
  std::vector<float> o(64, 0.0f);
  o[10] = 100.0f;
  r2.rotate(o.data());
  for (float v : o) CHECK(std::fabs(v) == 100.0f);
  // the signs are the seed's: another seed, other signs; the same seed, the same
  const Rotation a(64, 1, 1000), b(64, 2, 1000), c(64, 1, 1000);
  CHECK(a.sign != b.sign);
  CHECK(a.sign == c.sign);
  CHECK(valid_tile(0));
  CHECK(valid_tile(65536));
  CHECK_FALSE(valid_tile(1));
  CHECK_FALSE(valid_tile(24));
  CHECK_FALSE(valid_tile(131072));
}

TEST_CASE("rotation and per-tile scales: sender and receiver bit-identical over 100 rounds") {
  // AQ-SGD and direct, nearest and stochastic, widths with a tail, tiles larger than a row.
  const Codec codecs[] = {Codec{2, false, 7, 8, 0},   Codec{2, false, 7, 0, 8},   Codec{2, false, 7, 16, 16},
                          Codec{3, true, 9, 32, 8},   Codec{4, false, 11, 64, 64}, Codec{8, false, 3, 4, 2},
                          Codec{2, false, 0, 128, 0}};
  for (const Codec& codec : codecs) {
    CAPTURE(codec_name(codec));
    for (uint32_t cols : {29u, 64u}) {
      CAPTURE(cols);
      ScratchDir dir;
      State tx(dir.file("tx"), params(cols, 40), true, false), rx(dir.file("rx"), params(cols, 40), true, false);
      std::mt19937_64 rng(codec.bits * 100 + cols);
      std::vector<std::vector<float>> truth(60);
      for (auto& t : truth) {
        t = random_rows(rng, cols, 2.0f);
        t[rng() % cols] *= 50.0f;  // an outlier channel per sample
      }
      for (int round = 0; round < 100; round++) {
        const size_t rows = 1 + rng() % 16;
        std::vector<uint64_t> ids;
        while (ids.size() < rows) {
          const uint64_t id = rng() % 60;
          if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
        }
        std::vector<float> a(rows * cols), view(rows * cols), got(rows * cols), dview(rows * cols),
            dgot(rows * cols);
        for (size_t r = 0; r < rows; r++) {
          std::vector<float> drift = random_rows(rng, cols, 0.05f);
          for (uint32_t c = 0; c < cols; c++) a[r * cols + c] = truth[ids[r]][c] += drift[c];
        }
        Packed p, d;
        pack(a.data(), ids.data(), rows, cols, codec, &tx, uint64_t(round), p, view.data());
        size_t coded = 0;
        for (uint8_t f : p.full) coded += f ? 0 : 1;
        REQUIRE(p.scales.size() == (coded == 0 ? 0 : codec.scale_tile ? coded * ((cols + codec.scale_tile - 1) / codec.scale_tile) : cols));
        unpack(p, codec, &rx, got.data());
        REQUIRE(same_bits(view.data(), got.data(), got.size()));
        pack(a.data(), ids.data(), rows, cols, codec, nullptr, uint64_t(round), d, dview.data());
        unpack(d, codec, nullptr, dgot.data());
        REQUIRE(same_bits(dview.data(), dgot.data(), dgot.size()));
        // the reconstruction is close: within the coarsest step of the batch, spread by the rotation
        float smax = 0;
        for (float sc : p.scales) smax = std::max(smax, sc);
        for (size_t r = 0; r < rows; r++)
          for (uint32_t c = 0; c < cols; c++)
            REQUIRE(std::fabs(a[r * cols + c] - got[r * cols + c]) <= smax * 1.01f + 1e-4f);
      }
      CHECK(tx.generation() == 100);
      for (uint64_t id = 0; id < 60; id++) {
        const float* m1 = tx.find(id);
        const float* m2 = rx.find(id);
        REQUIRE((m1 == nullptr) == (m2 == nullptr));
        if (m1) REQUIRE(same_bits(m1, m2, cols));
      }
    }
  }
}

TEST_CASE("per-row scales help rows of unequal size, the rotation rows with an outlier") {
  // Direct quantization of 128 rows of 64 channels; the error of each row relative to
  // its own size. Per-channel scales are set by the largest rows, so smaller rows round
  // to zero; a scale per row (tile 64) is set by the row itself. An outlier sets its
  // channel's (or its row's) scale; the rotation spreads it over the tile.
  const uint32_t cols = 64;
  const size_t rows = 128;
  std::vector<uint64_t> ids(rows);
  for (size_t r = 0; r < rows; r++) ids[r] = r;
  const auto rel_error = [&](const std::vector<float>& a, const Codec& codec) {
    Packed p;
    std::vector<float> got(a.size());
    pack(a.data(), ids.data(), rows, cols, codec, nullptr, 0, p);
    unpack(p, codec, nullptr, got.data());
    double e = 0;
    for (size_t r = 0; r < rows; r++) {
      double num = 0, den = 0;
      for (size_t c = 0; c < cols; c++) {
        const double x = a[r * cols + c], d = x - got[r * cols + c];
        num += d * d, den += x * x;
      }
      e += num / den;
    }
    return e / double(rows);
  };
  std::mt19937_64 rng(3);
  std::vector<float> sized = random_rows(rng, rows * cols, 1.0f);
  for (size_t r = 0; r < rows; r++)
    for (size_t c = 0; c < cols; c++) sized[r * cols + c] *= std::pow(10.0f, float(int(r % 4) - 2));
  for (int bits : {2, 4}) {
    CAPTURE(bits);
    const double plain = rel_error(sized, Codec{bits, false, 1}), per_row = rel_error(sized, Codec{bits, false, 1, 0, 64});
    MESSAGE(bits << " bits, rows of 4 sizes: relative error per channel " << plain << ", per row " << per_row);
    CHECK(per_row < plain / 2);
  }
  std::vector<float> outliers = random_rows(rng, rows * cols, 1.0f);
  for (size_t r = 0; r < rows; r++) outliers[r * cols + rng() % cols] = r % 2 ? 30.0f : -30.0f;
  for (int bits : {2, 4}) {
    CAPTURE(bits);
    const double plain = rel_error(outliers, Codec{bits, false, 1}), rotated = rel_error(outliers, Codec{bits, false, 1, 64, 0});
    const double per_row = rel_error(outliers, Codec{bits, false, 1, 0, 64}), both = rel_error(outliers, Codec{bits, false, 1, 64, 64});
    MESSAGE(bits << " bits, an outlier a row: relative error per channel " << plain << ", rotated " << rotated
                 << ", per row " << per_row << ", both " << both);
    CHECK(rotated < plain);
    CHECK(both < per_row);
  }
}

TEST_CASE("a batch with the wrong number of tile scales, or bad tiles, is refused and leaves the state alone") {
  ScratchDir dir;
  const uint32_t cols = 20;
  const Codec codec{2, false, 1, 8, 8};
  State tx(dir.file("tx"), params(cols, 8), true, false), rx(dir.file("rx"), params(cols, 8), true, false);
  std::mt19937_64 rng(1);
  const uint64_t ids[3] = {1, 2, 3};
  std::vector<float> a = random_rows(rng, 3 * cols, 1.0f), got(a.size());
  Packed p;
  for (int round = 0; round < 2; round++) {
    pack(a.data(), ids, 3, cols, codec, &tx, 0, p);
    unpack(p, codec, &rx, got.data());
  }
  pack(a.data(), ids, 3, cols, codec, &tx, 0, p);
  CHECK(p.scales.size() == 3 * 3);  // 3 coded rows × ceil(20 / 8)
  Packed bad = p;
  bad.scales.pop_back();
  CHECK(error_code_of([&] { unpack(bad, codec, &rx, got.data()); }) == pw::kExitBadInput);
  bad = p;
  bad.scales[4] = -1.0f;
  CHECK(error_code_of([&] { unpack(bad, codec, &rx, got.data()); }) == pw::kExitBadInput);
  CHECK(error_code_of([&] { unpack(p, Codec{2, false, 1, 12, 8}, &rx, got.data()); }) == pw::kExitBadInput);
  CHECK(error_code_of([&] { pack(a.data(), ids, 3, cols, Codec{2, false, 1, 3, 0}, &tx, 0, bad); }) ==
        pw::kExitUsage);
  CHECK(rx.generation() == 2);
  unpack(p, codec, &rx, got.data());  // the good batch still fits
  CHECK(rx.generation() == 3);
  // the receiver's codec must be the sender's: another tile decodes other values, another
  // seed other signs (both sides' states then differ; the stream header carries both)
  CHECK(std::string(codec_name(codec)) == "2 bits, rotated by tiles of 8, scales per 8 channels of a row");
}


TEST_CASE("a version 2 packed stream (before rotation) decodes as it did, and a header with a bad tile is refused") {
  // An AQ-SGD stream written now without rotation, its header rewritten to version 2
  // (which has no tile fields): the receiver decodes the same bits.
  ScratchDir dir;
  const uint32_t cols = 12;
  std::mt19937_64 rng(4);
  {
    OutputFile out(dir.file("acts"));
    capnp::MallocMessageBuilder hb;
    auto h = hb.initRoot<pw::schema::AqsgdRecord>().initHeader();
    h.setMagic(kMagic);
    h.setVersion(3);
    h.setKind(pw::schema::AqsgdKind::ACTIVATIONS);
    h.setCols(cols);
    out.write(hb);
    for (int round = 0; round < 3; round++) {
      capnp::MallocMessageBuilder mb;
      auto a = mb.initRoot<pw::schema::AqsgdRecord>().initActivations();
      auto l = a.initSampleIds(4);
      for (uint32_t r = 0; r < 4; r++) l.set(r, r);
      a.setCols(cols);
      const std::vector<float> x = random_rows(rng, 4 * cols, 1.0f);
      auto d = a.initData(x.size() * 4);
      std::memcpy(d.begin(), x.data(), d.size());
      out.write(mb);
    }
    capnp::MallocMessageBuilder tb;
    auto t = tb.initRoot<pw::schema::AqsgdRecord>().initTrailer();
    t.setBatches(3);
    t.setRows(12);
    out.write(tb);
    out.finish();
  }
  const auto filter = [&](const std::string& in, const std::string& out_name, const std::string& state, bool pack,
                          const Codec& codec) {
    const int fd = ::open(dir.file(in).c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    OutputFile out(dir.file(out_name));
    int code = 0;
    try {
      if (pack) {
        PackSettings ps;
        ps.codec = codec;
        ps.state_dir = dir.file(state);
        pack_stream(fd, in, out, ps);
      } else {
        unpack_stream(fd, in, out, dir.file(state), false, true);
      }
    } catch (const pw::Error& e) {
      code = e.code;
    }
    ::close(fd);
    return code;
  };
  // The stream with its header's version and tile set to `version` and `tile`.
  const auto rewrite = [&](const std::string& in, const std::string& out_name, uint32_t version, uint32_t tile) {
    const int fd = ::open(dir.file(in).c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    RecordReader rd(fd, in);
    REQUIRE(rd.next());
    capnp::MallocMessageBuilder mb;
    mb.setRoot(rd.record());
    auto h = mb.getRoot<pw::schema::AqsgdRecord>().getHeader();
    h.setVersion(version);
    h.setRotateTile(tile);
    OutputFile out(dir.file(out_name));
    out.write(mb);
    while (rd.next()) {
      capnp::MallocMessageBuilder rb;
      rb.setRoot(rd.record());
      out.write(rb);
    }
    out.finish();
    ::close(fd);
  };
  REQUIRE(filter("acts", "p3", "tx", true, Codec{2}) == 0);
  rewrite("p3", "p2", 2, 0);
  REQUIRE(filter("p3", "raw3", "rx3", false, Codec{}) == 0);
  REQUIRE(filter("p2", "raw2", "rx2", false, Codec{}) == 0);
  const pw::Bytes a = pw::read_file(dir.file("raw3"), 1 << 20, "raw3"), b = pw::read_file(dir.file("raw2"), 1 << 20, "raw2");
  CHECK(a.size() == 3 * 4 * cols * 4);
  CHECK(a == b);
  // a damaged header: a tile that is not a power of two (exit 3, nothing written)
  rewrite("p3", "bad", 3, 12);
  CHECK(filter("bad", "raw-bad", "rxbad", false, Codec{}) == pw::kExitBadInput);
  CHECK_FALSE(pw::file_exists(dir.file("raw-bad")));
  // a rotated stream unpacked with its header's tile changed decodes other values: the
  // tile is part of what the bytes mean
  REQUIRE(filter("acts", "r16", "txr", true, Codec{2, false, 3, 16, 0}) == 0);
  rewrite("r16", "r8", 3, 4);  // 12 channels: tiles 8, 4 become 4, 4, 4
  REQUIRE(filter("r16", "raw16", "rx16", false, Codec{}) == 0);
  REQUIRE(filter("r8", "raw8", "rx8", false, Codec{}) == 0);
  CHECK(pw::read_file(dir.file("raw16"), 1 << 20, "") != pw::read_file(dir.file("raw8"), 1 << 20, ""));
}


TEST_CASE("the rotated and tiled codec's output bits are pinned") {
  // pack() with its state over 4 rounds and a direct batch, under the codec's options:
  // codes, scales and the receiver's view. A change here changes what a version 3
  // stream means, and the proof roots of tasks whose cut uses these options.
  const auto digest = [](const Codec& codec) {
    uint64_t seed = 0xabcdef;
    pw::Hasher h;
    for (uint32_t cols : {100u, 13u}) {
      ScratchDir dir;
      State st(dir.file("s"), params(cols, 8), true, false);
      const uint64_t ids[6] = {3, 1, 4, 15, 9, 2};
      std::vector<float> a(6 * size_t(cols)), view(a.size());
      for (float& x : a) x = float(double(splitmix(seed) >> 11) * 0x1.0p-53 * 6.0 - 3.0);
      for (int round = 0; round < 4; round++) {
        for (size_t i = 0; i < a.size(); i++)
          a[i] += float(double(splitmix(seed) >> 11) * 0x1.0p-53 - 0.5) * (i % 17 == 0 ? 4.0f : 0.25f);
        Packed p;
        pack(a.data(), ids, 6, cols, codec, &st, uint64_t(round), p, view.data());
        h.update(p.codes.data(), p.codes.size()).update(p.scales.data(), p.scales.size() * 4);
        h.update(p.full_rows.data(), p.full_rows.size() * 4).update(view.data(), view.size() * 4);
      }
      Packed p;
      pack(a.data(), ids, 6, cols, codec, nullptr, 0, p, view.data());
      h.update(p.codes.data(), p.codes.size()).update(p.scales.data(), p.scales.size() * 4);
      h.update(view.data(), view.size() * 4);
    }
    return pw::hex(h.final()).substr(0, 32);
  };
  const bool avx2 = avx2_kernels();
  for (bool baseline : {true, false}) {
    if (!baseline && !avx2) continue;
    force_baseline_kernels(baseline);
    CAPTURE(baseline);
    CHECK(digest(Codec{2, false, 5, 64, 0}) == "b0b82eb834ad18a334dc5c84d0d320af");
    CHECK(digest(Codec{2, false, 5, 0, 16}) == "8216b54ee82f7e759f749ba5bf160509");
    CHECK(digest(Codec{3, true, 5, 32, 32}) == "640b91397f3778e5d97c51ecf7557636");
    CHECK(digest(Codec{8, false, 5, 8, 64}) == "cd11ad5af8bb0f91f56279cc66007fc1");
  }
  force_baseline_kernels(false);
}

}  // TEST_SUITE
