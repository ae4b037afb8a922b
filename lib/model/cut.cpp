#include "model/cut.hpp"

#include <cstring>
#include <vector>

namespace pw {

namespace {

// Rows worth a parallel loop (each row is independent: encode, decode, copy).
bool parallel_rows(int64_t B, int64_t w) { return B * w >= (int64_t(1) << 15); }

}  // namespace

void cut_forward(const float* a, const uint32_t* idx, int64_t B, int64_t w, const aqsgd::Codec& codec, float* buffer,
                 float* seen, float* out, const BatchMax& batch_max) {
  const size_t row = size_t(w) * sizeof(float);
  const bool finite = aqsgd::all_finite(a, B * w);
  // Pass 1, in batch order: the change of every coded row (k-th coded row at delta[k]).
  aqsgd::RowCoder q(codec, uint32_t(w));
  std::vector<float> delta(size_t(B * w)), unused(static_cast<size_t>(w));
  std::vector<int64_t> coded(size_t(B), -1);
  int64_t k = 0;
  if (finite) {
    for (int64_t b = 0; b < B; b++)
      if (seen[idx[b]] != 0.0f) {
        aqsgd::subtract_update_maxabs(a + b * w, buffer + int64_t(idx[b]) * w, w, delta.data() + k * w, unused.data());
        coded[size_t(b)] = k++;
      }
    q.rotate_rows(delta.data(), size_t(k));
  }
  // A non-finite input, or a − m (or its rotation) overflowed, here or on another rank.
  if (!q.analyse(delta.data(), size_t(k), batch_max, !finite)) {
    if (out != a) std::memcpy(out, a, size_t(B) * row);
    return;
  }
  // Pass 2, row by row: code, and decode with the receiver's arithmetic into m.
  const size_t rb = q.code_bytes();
  std::vector<uint8_t> codes(size_t(B) * rb);
#pragma omp parallel for schedule(static) if (parallel_rows(B, w))
  for (int64_t b = 0; b < B; b++) {
    float* m = buffer + int64_t(idx[b]) * w;
    const int64_t kb = coded[size_t(b)];
    if (kb < 0) {
      std::memcpy(m, a + b * w, row);
      seen[idx[b]] = 1.0f;
    } else {
      uint8_t* c = codes.data() + size_t(b) * rb;
      q.encode(delta.data() + kb * w, size_t(kb), idx[b], 0, c);
      q.decode(c, size_t(kb), m, m, nullptr);
    }
    std::memcpy(out + b * w, m, row);
  }
}

void cut_backward(const float* da, int64_t B, int64_t w, const aqsgd::Codec& codec, float* out,
                  const BatchMax& batch_max) {
  const bool finite = aqsgd::all_finite(da, B * w);
  aqsgd::RowCoder q(codec, uint32_t(w));
  std::vector<float> rotated;
  const float* y = da;
  if (finite && q.rotates()) {
    rotated.assign(da, da + B * w);
    q.rotate_rows(rotated.data(), size_t(B));
    y = rotated.data();
  }
  // A non-finite gradient, or a rotation's sums overflowed, here or on another rank.
  if (!q.analyse(y, size_t(B), batch_max, !finite)) {
    if (out != da) std::memcpy(out, da, size_t(B * w) * sizeof(float));
    return;
  }
  const size_t rb = q.code_bytes();
  std::vector<uint8_t> codes(size_t(B) * rb);
#pragma omp parallel for schedule(static) if (parallel_rows(B, w))
  for (int64_t b = 0; b < B; b++) {
    uint8_t* c = codes.data() + size_t(b) * rb;
    q.encode(y + b * w, size_t(b), 0, 0, c);
    q.decode(c, size_t(b), nullptr, out + b * w, nullptr);
  }
}

}  // namespace pw
