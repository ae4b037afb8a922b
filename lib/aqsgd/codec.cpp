#include "aqsgd/codec.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "core/error.hpp"

namespace pw::aqsgd {

namespace {

void check_scales(const std::vector<float>& scales, const std::string& what) {
  for (size_t c = 0; c < scales.size(); c++)
    if (!(scales[c] >= 0.0f) || !std::isfinite(scales[c]))
      bad_input(what + ": scale " + std::to_string(c) + " is " + std::to_string(scales[c]) +
                " (not a finite value ≥ 0)");
}

}  // namespace

std::string codec_name(const Codec& c) {
  std::string s = std::to_string(c.bits) + " bits";
  if (c.rotate_tile) s += ", rotated by tiles of " + std::to_string(c.rotate_tile);
  if (c.scale_tile) s += ", scales per " + std::to_string(c.scale_tile) + " channels of a row";
  return s;
}

RowCoder::RowCoder(const Codec& codec, uint32_t cols) : codec_(codec), cols_(cols) {
  if (!valid_bits(codec.bits)) usage_error("bits must be 2, 3, 4 or 8, not " + std::to_string(codec.bits));
  if (!valid_tile(codec.rotate_tile) || !valid_tile(codec.scale_tile))
    usage_error("tile sizes must be 0 or a power of two from 2 to " + std::to_string(kMaxTile) + ", not " +
                std::to_string(codec.rotate_tile) + " (rotation) and " + std::to_string(codec.scale_tile) + " (scales)");
  if (codec.scale_tile) tiles_ = (size_t(cols) + codec.scale_tile - 1) / codec.scale_tile;
  rot_ = Rotation(codec.rotate_tile, codec.seed, cols);
}

size_t RowCoder::scale_count(size_t coded) const {
  if (!coded) return 0;
  return codec_.scale_tile ? coded * tiles_ : cols_;
}

void RowCoder::rotate_rows(float* y, size_t coded) const {
  if (rot_.on())
    for (size_t r = 0; r < coded; r++) rot_.rotate(y + r * cols_);
}

bool RowCoder::analyse(const float* y, size_t coded, const BatchMax& batch_max, bool bad) {
  scales_.assign(scale_count(coded), 0.0f);
  // The maxima skip a NaN, which only the rotation's sums can make (inf − inf).
  bool ok = !bad && !(rot_.on() && !all_finite(y, int64_t(coded) * cols_));
  if (ok && !codec_.scale_tile) {
    for (size_t r = 0; r < coded; r++) update_maxabs(y + r * cols_, cols_, scales_.data());
  } else if (ok) {
    for (size_t r = 0; r < coded; r++)
      tile_maxabs(y + r * cols_, int64_t(cols_), codec_.scale_tile, scales_.data() + r * tiles_);
  }
  for (float s : scales_)
    if (!std::isfinite(s)) ok = false;
  if (batch_max) {
    // Per-channel scales: cols_ of them on every rank (a rank may code no rows), then the
    // flag. Per-tile scales belong to their own rows: only the flag is combined.
    std::vector<float> v(codec_.scale_tile ? 0 : size_t(cols_), 0.0f);
    std::copy(scales_.begin(), scales_.begin() + std::min(scales_.size(), v.size()), v.begin());
    v.push_back(ok ? 0.0f : 1.0f);
    batch_max(v.data(), int64_t(v.size()));
    ok = v.back() == 0.0f;
    if (!codec_.scale_tile && coded) std::copy(v.begin(), v.end() - 1, scales_.begin());
    for (float s : scales_)
      if (!std::isfinite(s)) ok = false;
  }
  step_.assign(scales_.size(), 0.0f);
  scale_steps(scales_.data(), int64_t(scales_.size()), codec_.bits, step_.data());
  return ok;
}

void RowCoder::use_scales(const std::vector<float>& scales, size_t coded, const std::string& what) {
  check_input(scales.size() == scale_count(coded),
              what + ": " + std::to_string(scales.size()) + " scales, expected " + std::to_string(scale_count(coded)) +
                  " for " + std::to_string(coded) + " coded rows of " + std::to_string(cols_) + " channels" +
                  (codec_.scale_tile ? " (a scale per " + std::to_string(codec_.scale_tile) + " channels of a row)"
                                     : " (a scale per channel)"));
  check_scales(scales, what);
  scales_ = scales;
  step_.resize(scales_.size());
  scale_steps(scales_.data(), int64_t(scales_.size()), codec_.bits, step_.data());
}

// Row r's step per channel: the batch's, or its tiles' expanded into buf.
const float* RowCoder::steps(size_t r, std::vector<float>& buf) const {
  if (!codec_.scale_tile) return step_.data();
  buf.resize(cols_);
  expand_tiles(step_.data() + r * tiles_, int64_t(cols_), codec_.scale_tile, buf.data());
  return buf.data();
}

void RowCoder::encode(const float* y_r, size_t r, uint64_t sample, uint32_t round, uint8_t* out) const {
  thread_local std::vector<float> buf;
  const float* st = steps(r, buf);
  if (codec_.stochastic)
    encode_row_stochastic(y_r, st, cols_, codec_.bits, out, codec_.seed, sample, round);
  else
    encode_row(y_r, st, cols_, codec_.bits, out);
}

void RowCoder::decode(const uint8_t* in, size_t r, const float* base, float* out, float* copy) const {
  thread_local std::vector<float> buf, d;
  const float* st = steps(r, buf);
  if (!rot_.on()) return decode_add_row_copy(in, st, base, cols_, codec_.bits, out, copy);
  d.resize(cols_);
  decode_add_row(in, st, nullptr, cols_, codec_.bits, d.data());
  rot_.unrotate_add(d.data(), base, out, copy);
}

namespace {

void pack_direct(const float* a, size_t rows, uint32_t cols, const Codec& codec, uint64_t batch, Packed& out,
                 float* view) {
  RowCoder q(codec, cols);
  thread_local std::vector<float> rotated;
  const float* y = a;
  if (q.rotates()) {
    rotated.assign(a, a + rows * cols);
    q.rotate_rows(rotated.data(), rows);
    y = rotated.data();
  }
  if (!q.analyse(y, rows)) bad_input("batch: the rotated values overflow fp32");  // finite input: only rotated
  out.scales = q.scales();
  const size_t rb = q.code_bytes();
  out.codes.resize(rows * rb);
  for (size_t r = 0; r < rows; r++) {
    q.encode(y + r * cols, r, out.ids[r], uint32_t(batch), out.codes.data() + r * rb);
    if (view) q.decode(out.codes.data() + r * rb, r, nullptr, view + r * cols, nullptr);
  }
}

void pack_aqsgd(const float* a, size_t rows, uint32_t cols, const Codec& codec, State& state, Packed& out,
                float* view) {
  if (state.params().cols != cols)
    bad_input("batch has " + std::to_string(cols) + " channels, the state holds " +
              std::to_string(state.params().cols));
  RowCoder q(codec, cols);
  out.generation = state.generation();
  std::vector<RowSlot> plan = state.plan(out.ids.data(), rows);
  try {
    size_t coded = 0, nfull = 0;
    for (const RowSlot& rs : plan) (rs.full ? nfull : coded)++;
    // delta: [coded, cols], the change of each coded row since its m(sample).
    thread_local std::vector<float> delta, unused;
    delta.resize(coded * cols);
    unused.assign(cols, 0.0f);
    out.full.resize(rows);
    out.rounds.resize(rows);
    out.full_rows.resize(nfull * cols);
    for (size_t r = 0, k = 0, fr = 0; r < rows; r++) {
      const RowSlot& rs = plan[r];
      out.full[r] = rs.full;
      out.rounds[r] = rs.round;
      if (rs.full) {
        std::memcpy(out.full_rows.data() + fr++ * cols, a + r * cols, size_t(cols) * 4);
        std::memcpy(rs.next, a + r * cols, size_t(cols) * 4);
        if (view) std::memcpy(view + r * cols, a + r * cols, size_t(cols) * 4);
      } else {
        subtract_update_maxabs(a + r * cols, rs.cur, cols, delta.data() + k++ * cols, unused.data());
      }
    }
    q.rotate_rows(delta.data(), coded);
    if (!q.analyse(delta.data(), coded))  // a − m, or the rotation's sums, overflow when values are huge
      bad_input("batch: the change of a row since its m(sample)" + std::string(q.rotates() ? ", rotated," : "") +
                " overflows fp32");
    out.scales = q.scales();
    const size_t rb = q.code_bytes();
    out.codes.resize(coded * rb);
    for (size_t r = 0, k = 0; r < rows; r++) {
      const RowSlot& rs = plan[r];
      if (rs.full) continue;
      uint8_t* c = out.codes.data() + k * rb;
      q.encode(delta.data() + k * cols, k, out.ids[r], rs.round, c);
      // The sender updates m with the receiver's arithmetic: decode its own codes.
      q.decode(c, k, rs.cur, rs.next, view ? view + r * cols : nullptr);
      k++;
    }
  } catch (...) {
    state.abort();
    throw;
  }
  state.commit();
}

// Sizes of a packed batch, checked before any state is touched.
void check_shape(const Packed& in, const Codec& codec, bool aqsgd, size_t& coded, size_t& nfull) {
  const size_t rows = in.rows(), cols = in.cols;
  check_input(cols > 0, "batch: no channels");
  coded = rows;
  nfull = 0;
  if (aqsgd) {
    check_input(in.full.size() == rows, "batch: " + std::to_string(in.full.size()) + " full-precision flags for " +
                                            std::to_string(rows) + " rows");
    check_input(in.rounds.empty() || in.rounds.size() == rows, "batch: wrong number of rounds");
    for (uint8_t f : in.full) nfull += f ? 1 : 0;
    coded = rows - nfull;
  }
  const size_t want = coded * row_code_bytes(int64_t(cols), codec.bits);
  check_input(in.codes.size() == want, "batch: " + std::to_string(in.codes.size()) + " bytes of " +
                                           std::to_string(codec.bits) + "-bit codes, expected " + std::to_string(want) +
                                           " for " + std::to_string(coded) + " rows of " + std::to_string(cols));
  check_input(in.full_rows.size() == nfull * cols, "batch: " + std::to_string(in.full_rows.size() / cols) +
                                                       " full-precision rows, expected " + std::to_string(nfull));
  check_finite(in.full_rows.data(), nfull, uint32_t(cols), "batch full-precision rows");
}

}  // namespace

void check_finite(const float* a, size_t rows, uint32_t cols, const std::string& what) {
  if (all_finite(a, int64_t(rows) * cols)) return;
  for (size_t i = 0; i < rows * cols; i++)
    if (!std::isfinite(a[i]))
      bad_input(what + ": row " + std::to_string(i / cols) + " channel " + std::to_string(i % cols) +
                " is not finite (" + std::to_string(a[i]) + ")");
}

void pack(const float* a, const uint64_t* ids, size_t rows, uint32_t cols, const Codec& codec, State* state,
          uint64_t batch, Packed& out, float* view) {
  if (!valid_bits(codec.bits)) usage_error("bits must be 2, 3, 4 or 8, not " + std::to_string(codec.bits));
  check_finite(a, rows, cols, "activations");
  // Every field is reset, keeping the vectors' memory: a caller packing batch after batch
  // into one Packed then allocates (and page-faults) nothing.
  out.generation = 0;
  out.cols = cols;
  out.ids.assign(ids, ids + rows);
  out.full.clear();
  out.rounds.clear();
  out.scales.clear();
  out.codes.clear();
  out.full_rows.clear();
  if (state)
    pack_aqsgd(a, rows, cols, codec, *state, out, view);
  else
    pack_direct(a, rows, cols, codec, batch, out, view);
}

void unpack(const Packed& in, const Codec& codec, State* state, float* out) {
  if (!valid_bits(codec.bits)) bad_input("bits must be 2, 3, 4 or 8, not " + std::to_string(codec.bits));
  if (!valid_tile(codec.rotate_tile) || !valid_tile(codec.scale_tile))
    bad_input("tile sizes " + std::to_string(codec.rotate_tile) + " (rotation) and " +
              std::to_string(codec.scale_tile) + " (scales): each must be 0 or a power of two from 2 to " +
              std::to_string(kMaxTile));
  size_t coded = 0, nfull = 0;
  check_shape(in, codec, state != nullptr, coded, nfull);
  const uint32_t cols = in.cols;
  const size_t rows = in.rows(), rb = row_code_bytes(cols, codec.bits);
  RowCoder q(codec, cols);
  q.use_scales(in.scales, coded, "batch");
  if (!state) {
    for (size_t r = 0; r < rows; r++) q.decode(in.codes.data() + r * rb, r, nullptr, out + r * cols, nullptr);
    return;
  }
  if (state->params().cols != cols)
    bad_input("batch has " + std::to_string(cols) + " channels, the state holds " +
              std::to_string(state->params().cols));
  if (in.generation != state->generation())
    bad_input("state generation mismatch: the batch expects generation " + std::to_string(in.generation) +
              ", the state '" + state->path() + "' is at " + std::to_string(state->generation()) +
              " (a lost, repeated or reordered batch, or another state)");
  std::vector<RowSlot> plan = state->plan(in.ids.data(), rows);
  try {
    for (size_t r = 0; r < rows; r++) {
      if (plan[r].full != bool(in.full[r]))
        bad_input("state diverged: sample " + std::to_string(in.ids[r]) + " is " +
                  (plan[r].full ? "not in" : "in") + " this side's state, but the sender " +
                  (in.full[r] ? "sent it at full precision" : "sent its change"));
      if (!in.rounds.empty() && in.rounds[r] != plan[r].round)
        bad_input("state diverged: sample " + std::to_string(in.ids[r]) + " round " + std::to_string(plan[r].round) +
                  " here, " + std::to_string(in.rounds[r]) + " at the sender");
    }
    for (size_t r = 0, k = 0, fr = 0; r < rows; r++) {
      const RowSlot& rs = plan[r];
      if (rs.full) {
        std::memcpy(rs.next, in.full_rows.data() + fr * cols, size_t(cols) * 4);
        std::memcpy(out + r * cols, in.full_rows.data() + fr++ * cols, size_t(cols) * 4);
      } else {
        q.decode(in.codes.data() + k * rb, k, rs.cur, rs.next, out + r * cols);
        k++;
      }
    }
  } catch (...) {
    state->abort();
    throw;
  }
  state->commit();
}

}  // namespace pw::aqsgd
