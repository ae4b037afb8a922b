#include "model/cut.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace pw {

namespace {

// Rows worth a parallel loop (each row is independent: encode, decode, copy).
bool parallel_rows(int64_t B, int64_t w) { return B * w >= (int64_t(1) << 15); }

// A message being written or read, front to back.
struct Writer {
  std::vector<uint8_t> bytes;
  uint8_t* take(size_t n) {
    bytes.resize(bytes.size() + n);
    return bytes.data() + bytes.size() - n;
  }
  void put(const void* p, size_t n) {  // n may be 0 with p null (no scales yet): no memcpy then
    if (n > 0) std::memcpy(take(n), p, n);
  }
};
struct Reader {
  const std::vector<uint8_t>& bytes;
  size_t at = 0;
  const uint8_t* take(size_t n, const char* what) {
    if (n > bytes.size() - at)
      internal_error(std::string("pipeline cut: a ") + what + " message of " + std::to_string(bytes.size()) +
                     " bytes is too short");
    at += n;
    return bytes.data() + at - n;
  }
  void done(const char* what) const {
    if (at != bytes.size())
      internal_error(std::string("pipeline cut: a ") + what + " message has " + std::to_string(bytes.size() - at) +
                     " bytes too many");
  }
};
std::vector<uint8_t> pass_through(const float* x, int64_t n) {
  Writer m;
  m.take(1)[0] = 1;
  m.put(x, size_t(n) * sizeof(float));
  return std::move(m.bytes);
}
// A sample repeated in a batch (a text task draws its windows with replacement) crosses
// once (proofwork(7), AQ-SGD): its first occurrence is coded or sent whole and updates
// the buffer; the repeats, the same input, take the buffer row it leaves. true at b:
// idx[b] is not in idx[0, b). An IDX task's batch (a permutation's run) has no repeat.
std::vector<char> first_occurrences(const uint32_t* idx, int64_t B) {
  std::vector<std::pair<uint32_t, int64_t>> order(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; b++) order[size_t(b)] = {idx[b], b};
  std::sort(order.begin(), order.end());
  std::vector<char> first(size_t(B), 0);
  for (size_t i = 0; i < order.size(); i++)
    if (i == 0 || order[i].first != order[i - 1].first) first[size_t(order[i].second)] = 1;
  return first;
}

std::vector<float> read_scales(Reader& in, size_t n, const char* what) {
  std::vector<float> s(n);
  const uint8_t* src = in.take(n * sizeof(float), what);
  if (n > 0) std::memcpy(s.data(), src, n * sizeof(float));
  return s;
}

}  // namespace

aqsgd::Codec cut_forward_codec(const CutSpec& cut) {
  return aqsgd::Codec{cut.forward_bits, false, cut.seed, cut.rotate_tile, cut.scale_tile};
}
aqsgd::Codec cut_backward_codec(const CutSpec& cut) { return aqsgd::Codec{cut.backward_bits}; }

std::vector<uint8_t> cut_forward_send(const float* a, const uint32_t* idx, int64_t B, int64_t w,
                                      const aqsgd::Codec& codec, float* buffer, float* seen,
                                      const BatchMax& batch_max) {
  const size_t row = size_t(w) * sizeof(float);
  const bool finite = aqsgd::all_finite(a, B * w);
  // Pass 1, in batch order: the change of every coded row (k-th coded row at delta[k]).
  aqsgd::RowCoder q(codec, uint32_t(w));
  std::vector<float> delta(size_t(B * w)), unused(static_cast<size_t>(w));
  std::vector<int64_t> coded(size_t(B), -1);
  const std::vector<char> first = first_occurrences(idx, B);
  int64_t k = 0, full = 0;
  for (int64_t b = 0; b < B; b++) full += first[size_t(b)] && seen[idx[b]] == 0.0f;
  if (finite) {
    for (int64_t b = 0; b < B; b++)
      if (first[size_t(b)] && seen[idx[b]] != 0.0f) {
        aqsgd::subtract_update_maxabs(a + b * w, buffer + int64_t(idx[b]) * w, w, delta.data() + k * w, unused.data());
        coded[size_t(b)] = k++;
      }
    q.rotate_rows(delta.data(), size_t(k));
  }
  // A non-finite input, or a − m (or its rotation) overflowed, here or on another rank.
  if (!q.analyse(delta.data(), size_t(k), batch_max, !finite)) return pass_through(a, B * w);
  // Pass 2, row by row: code, and decode with the receiver's arithmetic into m.
  const size_t rb = q.code_bytes();
  Writer msg;
  msg.take(1)[0] = 0;
  msg.put(q.scales().data(), q.scales().size() * sizeof(float));
  const size_t full_at = msg.bytes.size();
  msg.take(size_t(full) * row);
  uint8_t* codes = msg.take(size_t(k) * rb);
#pragma omp parallel for schedule(static) if (parallel_rows(B, w))
  for (int64_t b = 0; b < B; b++) {
    if (!first[size_t(b)]) continue;
    float* m = buffer + int64_t(idx[b]) * w;
    const int64_t kb = coded[size_t(b)];
    if (kb < 0) {
      std::memcpy(m, a + b * w, row);
      seen[idx[b]] = 1.0f;
    } else {
      uint8_t* c = codes + size_t(kb) * rb;
      q.encode(delta.data() + kb * w, size_t(kb), idx[b], 0, c);
      q.decode(c, size_t(kb), m, m, nullptr);
    }
  }
  // The first sights' rows, in batch order (first occurrences only).
  uint8_t* f = msg.bytes.data() + full_at;
  for (int64_t b = 0; b < B; b++)
    if (first[size_t(b)] && coded[size_t(b)] < 0) std::memcpy(f, a + b * w, row), f += row;
  return std::move(msg.bytes);
}

void cut_forward_receive(const std::vector<uint8_t>& msg, const uint32_t* idx, int64_t B, int64_t w,
                         const aqsgd::Codec& codec, float* buffer, float* seen, float* out) {
  const size_t row = size_t(w) * sizeof(float);
  Reader in{msg};
  if (in.take(1, "forward")[0] == 1) {  // passed through: the buffer stays
    std::memcpy(out, in.take(size_t(B) * row, "forward"), size_t(B) * row);
    return in.done("forward");
  }
  aqsgd::RowCoder q(codec, uint32_t(w));
  std::vector<int64_t> coded(size_t(B), -1);
  const std::vector<char> first = first_occurrences(idx, B);
  int64_t k = 0, nfull = 0;
  for (int64_t b = 0; b < B; b++) {
    if (!first[size_t(b)]) continue;
    if (seen[idx[b]] != 0.0f)
      coded[size_t(b)] = k++;
    else
      nfull++;
  }
  q.use_scales(read_scales(in, q.scale_count(size_t(k)), "forward"), size_t(k), "pipeline cut");
  const uint8_t* full = in.take(size_t(nfull) * row, "forward");
  const size_t rb = q.code_bytes();
  const uint8_t* codes = in.take(size_t(k) * rb, "forward");
  in.done("forward");
  for (int64_t b = 0; b < B; b++) {
    float* m = buffer + int64_t(idx[b]) * w;
    if (first[size_t(b)] && coded[size_t(b)] < 0) std::memcpy(m, full, row), full += row, seen[idx[b]] = 1.0f;
  }
#pragma omp parallel for schedule(static) if (parallel_rows(B, w))
  for (int64_t b = 0; b < B; b++) {
    const int64_t kb = coded[size_t(b)];
    if (kb >= 0) q.decode(codes + size_t(kb) * rb, size_t(kb), buffer + int64_t(idx[b]) * w, buffer + int64_t(idx[b]) * w, nullptr);
  }
  // Every row, repeats too: the updated m (as cut_forward outputs).
  for (int64_t b = 0; b < B; b++) std::memcpy(out + b * w, buffer + int64_t(idx[b]) * w, row);
}

void cut_forward(const float* a, const uint32_t* idx, int64_t B, int64_t w, const aqsgd::Codec& codec, float* buffer,
                 float* seen, float* out, const BatchMax& batch_max) {
  const std::vector<uint8_t> msg = cut_forward_send(a, idx, B, w, codec, buffer, seen, batch_max);
  const size_t row = size_t(w) * sizeof(float);
  if (msg[0] == 1) {  // passed through
    if (out != a) std::memcpy(out, a, size_t(B) * row);
    return;
  }
  // What the receiver outputs: the updated m of every row.
  for (int64_t b = 0; b < B; b++) std::memcpy(out + b * w, buffer + int64_t(idx[b]) * w, row);
}

std::vector<uint8_t> cut_backward_send(const float* da, int64_t B, int64_t w, const aqsgd::Codec& codec,
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
  if (!q.analyse(y, size_t(B), batch_max, !finite)) return pass_through(da, B * w);
  const size_t rb = q.code_bytes();
  Writer msg;
  msg.take(1)[0] = 0;
  msg.put(q.scales().data(), q.scales().size() * sizeof(float));
  uint8_t* codes = msg.take(size_t(B) * rb);
#pragma omp parallel for schedule(static) if (parallel_rows(B, w))
  for (int64_t b = 0; b < B; b++) q.encode(y + b * w, size_t(b), 0, 0, codes + size_t(b) * rb);
  return std::move(msg.bytes);
}

void cut_backward_receive(const std::vector<uint8_t>& msg, int64_t B, int64_t w, const aqsgd::Codec& codec,
                          float* out) {
  Reader in{msg};
  if (in.take(1, "backward")[0] == 1) {
    std::memcpy(out, in.take(size_t(B * w) * sizeof(float), "backward"), size_t(B * w) * sizeof(float));
    return in.done("backward");
  }
  aqsgd::RowCoder q(codec, uint32_t(w));
  q.use_scales(read_scales(in, q.scale_count(size_t(B)), "backward"), size_t(B), "pipeline cut");
  const size_t rb = q.code_bytes();
  const uint8_t* codes = in.take(size_t(B) * rb, "backward");
  in.done("backward");
#pragma omp parallel for schedule(static) if (parallel_rows(B, w))
  for (int64_t b = 0; b < B; b++) q.decode(codes + size_t(b) * rb, size_t(b), nullptr, out + b * w, nullptr);
}

void cut_backward(const float* da, int64_t B, int64_t w, const aqsgd::Codec& codec, float* out,
                  const BatchMax& batch_max) {
  cut_backward_receive(cut_backward_send(da, B, w, codec, batch_max), B, w, codec, out);
}

}  // namespace pw
