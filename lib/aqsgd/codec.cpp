#include "aqsgd/codec.hpp"

#include <cmath>
#include <cstring>
#include <string>

#include "core/error.hpp"

namespace pw::aqsgd {

namespace {

// The steps of one batch's scales.
struct Scales {
  std::vector<float> step;
};

Scales factors(const std::vector<float>& scales, int bits) {
  Scales f;
  f.step.resize(scales.size());
  scale_steps(scales.data(), int64_t(scales.size()), bits, f.step.data());
  return f;
}

void encode(const float* x, const Scales& f, uint32_t cols, const Codec& codec, uint64_t sample, uint32_t round,
            uint8_t* out) {
  if (codec.stochastic)
    encode_row_stochastic(x, f.step.data(), cols, codec.bits, out, codec.seed, sample, round);
  else
    encode_row(x, f.step.data(), cols, codec.bits, out);
}

void check_scales(const std::vector<float>& scales, const std::string& what) {
  for (size_t c = 0; c < scales.size(); c++)
    if (!(scales[c] >= 0.0f) || !std::isfinite(scales[c]))
      bad_input(what + ": channel " + std::to_string(c) + " has scale " + std::to_string(scales[c]) +
                " (not a finite value ≥ 0)");
}

void pack_direct(const float* a, size_t rows, uint32_t cols, const Codec& codec, uint64_t batch, Packed& out,
                 float* view) {
  out.scales.assign(cols, 0.0f);
  for (size_t r = 0; r < rows; r++) update_maxabs(a + r * cols, cols, out.scales.data());
  const Scales f = factors(out.scales, codec.bits);
  const size_t rb = row_code_bytes(cols, codec.bits);
  out.codes.resize(rows * rb);
  for (size_t r = 0; r < rows; r++) {
    encode(a + r * cols, f, cols, codec, out.ids[r], uint32_t(batch), out.codes.data() + r * rb);
    if (view) decode_add_row(out.codes.data() + r * rb, f.step.data(), nullptr, cols, codec.bits, view + r * cols);
  }
}

void pack_aqsgd(const float* a, size_t rows, uint32_t cols, const Codec& codec, State& state, Packed& out,
                float* view) {
  if (state.params().cols != cols)
    bad_input("batch has " + std::to_string(cols) + " channels, the state holds " +
              std::to_string(state.params().cols));
  out.generation = state.generation();
  std::vector<RowSlot> plan = state.plan(out.ids.data(), rows);
  try {
    size_t coded = 0, nfull = 0;
    for (const RowSlot& rs : plan) (rs.full ? nfull : coded)++;
    // delta: [coded, cols], the change of each coded row since its m(sample).
    thread_local std::vector<float> delta;
    delta.resize(coded * cols);
    out.scales.assign(coded ? cols : 0, 0.0f);
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
        subtract_update_maxabs(a + r * cols, rs.cur, cols, delta.data() + k++ * cols, out.scales.data());
      }
    }
    check_scales(out.scales, "batch");  // a - m can overflow fp32 when both are huge
    const Scales f = factors(out.scales, codec.bits);
    const size_t rb = row_code_bytes(cols, codec.bits);
    out.codes.resize(coded * rb);
    for (size_t r = 0, k = 0; r < rows; r++) {
      const RowSlot& rs = plan[r];
      if (rs.full) continue;
      uint8_t* c = out.codes.data() + k * rb;
      encode(delta.data() + k * cols, f, cols, codec, out.ids[r], rs.round, c);
      // The sender updates m with the receiver's arithmetic: decode its own codes.
      decode_add_row_copy(c, f.step.data(), rs.cur, cols, codec.bits, rs.next, view ? view + r * cols : nullptr);
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
  check_input(in.scales.size() == (coded ? cols : 0),
              "batch: " + std::to_string(in.scales.size()) + " scales for " + std::to_string(cols) + " channels");
  check_scales(in.scales, "batch");
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
  size_t coded = 0, nfull = 0;
  check_shape(in, codec, state != nullptr, coded, nfull);
  const uint32_t cols = in.cols;
  const size_t rows = in.rows(), rb = row_code_bytes(cols, codec.bits);
  const Scales f = factors(in.scales, codec.bits);
  if (!state) {
    for (size_t r = 0; r < rows; r++)
      decode_add_row(in.codes.data() + r * rb, f.step.data(), nullptr, cols, codec.bits, out + r * cols);
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
        decode_add_row_copy(in.codes.data() + k++ * rb, f.step.data(), rs.cur, cols, codec.bits, rs.next,
                            out + r * cols);
      }
    }
  } catch (...) {
    state->abort();
    throw;
  }
  state->commit();
}

}  // namespace pw::aqsgd
