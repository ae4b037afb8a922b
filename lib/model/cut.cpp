#include "model/cut.hpp"

#include <cmath>
#include <cstring>
#include <vector>

#include "aqsgd/quantize.hpp"

namespace pw {

namespace {

// One batch's per-channel scales (max |x| over the coded rows) and their steps.
// max holds one more value past the channels' maxima: 1.0 when the rows held a
// non-finite value or a maximum overflowed (the batch passes through), combined with
// the channels' by a data-parallel rank's BatchMax.
struct Scales {
  std::vector<float> max, step;
  explicit Scales(int64_t w) : max(size_t(w) + 1, 0.0f), step(size_t(w)) {}
  float& bad() { return max.back(); }
  void combine(const BatchMax& batch_max) {
    if (!finite()) bad() = 1.0f;
    if (batch_max) batch_max(max.data(), int64_t(max.size()));
  }
  bool finite() const {
    for (size_t c = 0; c + 1 < max.size(); c++)
      if (!std::isfinite(max[c])) return false;
    return true;
  }
  bool pass_through() const { return max.back() != 0.0f || !finite(); }
  void factors(int bits) { aqsgd::scale_steps(max.data(), int64_t(step.size()), bits, step.data()); }
};

// Rows worth a parallel loop (each row is independent: encode, decode, copy).
bool parallel_rows(int64_t B, int64_t w) { return B * w >= (int64_t(1) << 15); }

}  // namespace

void cut_forward(const float* a, const uint32_t* idx, int64_t B, int64_t w, int bits, float* buffer, float* seen,
                 float* out, const BatchMax& batch_max) {
  const size_t row = size_t(w) * sizeof(float);
  // Pass 1, in batch order: the change of every coded row and the channels' max |a − m|.
  std::vector<float> delta(size_t(B * w));
  Scales s(w);
  if (!aqsgd::all_finite(a, B * w)) {
    s.bad() = 1.0f;
  } else {
    for (int64_t b = 0; b < B; b++)
      if (seen[idx[b]] != 0.0f)
        aqsgd::subtract_update_maxabs(a + b * w, buffer + int64_t(idx[b]) * w, w, delta.data() + b * w, s.max.data());
  }
  s.combine(batch_max);
  if (s.pass_through()) {  // a non-finite input, or a − m overflowed
    if (out != a) std::memcpy(out, a, size_t(B) * row);
    return;
  }
  s.factors(bits);
  // Pass 2, row by row: code, and decode with the receiver's arithmetic into m.
  const size_t rb = aqsgd::row_code_bytes(w, bits);
  std::vector<uint8_t> codes(size_t(B) * rb);
#pragma omp parallel for schedule(static) if (parallel_rows(B, w))
  for (int64_t b = 0; b < B; b++) {
    float* m = buffer + int64_t(idx[b]) * w;
    if (seen[idx[b]] == 0.0f) {
      std::memcpy(m, a + b * w, row);
      seen[idx[b]] = 1.0f;
    } else {
      uint8_t* c = codes.data() + size_t(b) * rb;
      aqsgd::encode_row(delta.data() + b * w, s.step.data(), w, bits, c);
      aqsgd::decode_add_row(c, s.step.data(), m, w, bits, m);
    }
    std::memcpy(out + b * w, m, row);
  }
}

void cut_backward(const float* da, int64_t B, int64_t w, int bits, float* out, const BatchMax& batch_max) {
  Scales s(w);
  if (!aqsgd::all_finite(da, B * w))
    s.bad() = 1.0f;
  else
    for (int64_t b = 0; b < B; b++) aqsgd::update_maxabs(da + b * w, w, s.max.data());
  s.combine(batch_max);
  if (s.pass_through()) {
    if (out != da) std::memcpy(out, da, size_t(B * w) * sizeof(float));
    return;
  }
  s.factors(bits);
  const size_t rb = aqsgd::row_code_bytes(w, bits);
  std::vector<uint8_t> codes(size_t(B) * rb);
#pragma omp parallel for schedule(static) if (parallel_rows(B, w))
  for (int64_t b = 0; b < B; b++) {
    uint8_t* c = codes.data() + size_t(b) * rb;
    aqsgd::encode_row(da + b * w, s.step.data(), w, bits, c);
    aqsgd::decode_add_row(c, s.step.data(), nullptr, w, bits, out + b * w);
  }
}

}  // namespace pw
