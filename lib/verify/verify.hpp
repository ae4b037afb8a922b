// pol-verify's core: structural checks of a proof against its task, then replay of
// selected segments (segment i runs checkpoint i → checkpoint i+1). Exact mode requires
// equal state hashes; fast mode requires every distance between the replayed and the
// claimed state within the profile's thresholds, and every segment's update size within
// the profile's plausibility band.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/hash.hpp"
#include "proof/task_file.hpp"
#include "model/device.hpp"
#include "verify/distance.hpp"

namespace pw {

enum class SegmentWhy : uint8_t { All, Beacon, TopQ, Structure };

struct SegmentOutcome {
  int index = -1;
  int64_t start_step = 0, end_step = 0;
  SegmentWhy why = SegmentWhy::All;
  Hash expected{}, replayed{};
  bool ok = false;
  std::string reason;
  double update_norm = -1;
  double seconds = 0;
  Distances distances;       // fast mode: replayed vs claimed
  Distances thresholds;      // fast mode: what they were held to (the profile's, plus the observed flips' bound)
  int64_t flagged = 0;       // fast mode: pre-activations within the profile's flip margin of zero
  double flip_span = 0, flip_span_bound = 0;  // rule flipSpan: the residual's projection on the flips' span (l2), its bound
};

struct LoadedProfile;

struct VerifyOptions {
  int64_t segments = -1;     // -1: all; else this many drawn from the beacon
  int64_t top_q = 0;         // plus the Q segments with the largest weight updates
  std::string beacon;        // hex or any text; hashed with the proof's root
  std::string data_dir;
  bool keep_going = false;   // replay every chosen segment even after a failure
  const LoadedProfile* profile = nullptr;  // required for fast-mode tasks
  Compute compute;           // fast mode: this verifier's kernel setting
  DeviceKind device = DeviceKind::Cpu;  // Cuda: replay on the GPU (same bits in exact mode)
  int shard = 0, shards = 1; // replay the chosen segments at positions ≡ shard (mod shards)
  double assume_forged = 0.1;  // f for the detection figures
  // Read the next segment's first checkpoint while one replays (proofwork(7),
  // VERIFICATION): Auto where a core is spare (threads below the cores) or the replay
  // runs on a device. The verdict is the same either way.
  enum class ReadAhead { Auto, On, Off } read_ahead = ReadAhead::Auto;
};

// What replaying q of C segments catches when a fraction f of them is forged.
struct Detection {
  int total = 0, replayed = 0;
  double f = 0, p_bound = 0, p_exact = 0;
  int replayed_for_99 = 0;
};
// p_bound = 1 − (1 − f)^q (independent draws); p_exact without replacement with
// ⌈f·C⌉ forged segments (hypergeometric); replayed_for_99 the least q with p_exact ≥ 0.99.
Detection detection(int total, int replayed, double f);

struct VerifyResult {
  bool accepted = false;
  std::string reason;
  int first_bad = -1;
  std::vector<SegmentOutcome> segments;
  Hash proof_root{};
  double replay_seconds = 0, check_seconds = 0;
  int64_t replayed_steps = 0;
  std::vector<int> selected;  // every chosen segment, all shards together
  int total_segments = 0;
  Detection detect;
  // Fast mode, rule observed: the directional test over the replayed segments, model-wide.
  double residual_sum = 0, residual_bound = 0, alignment = 0;
};

// The directional test (proofwork(7), FAST MODE): honest rounding has no direction and
// does not add up, steering does. Over the replayed segments j, with residual
// r_j = claimed_j − replayed_j per checkpoint tensor i, ‖Σ_j r_j,i‖₂ must stay within
// √(Σ_j T_j,i²) (T: the segment's l2 threshold; "model" likewise), and with at least
// kAlignmentPairs pairs the mean cosine between consecutive residuals within the
// profile's alignmentMax.
constexpr int kAlignmentPairs = 4;
class ResidualTest {
 public:
  explicit ResidualTest(const Tape& tape);
  // Adds segment j's residual (claimed − replayed per checkpoint tensor, or what of it
  // the rule tests); "" or why the residuals so far fail.
  std::string add(const std::vector<std::vector<double>>& residual, const Distances& thresholds);
  // "" or why the alignment fails (after the last add).
  std::string alignment_check(double alignment_max) const;
  double sum_norm() const { return sum_norm_; }
  double bound() const { return bound_; }
  double alignment() const { return pairs_ ? align_ / pairs_ : 0.0; }

 private:
  const Tape& tape_;
  std::vector<int> ids_;
  std::vector<std::vector<double>> sum_, prev_;
  std::vector<double> bound_sq_;  // per tensor, then the model
  double sum_norm_ = 0, bound_ = 0, align_ = 0;
  int pairs_ = 0;
  bool have_prev_ = false;
};

using SegmentCallback = std::function<void(const SegmentOutcome&, size_t done, size_t total)>;

// Throws Error(kExitBadInput) for unreadable or malformed input; returns a result
// with accepted = false when the proof is rejected.
VerifyResult verify_proof(const LoadedTask& task, const std::string& dir, const VerifyOptions& opt,
                          const SegmentCallback& on_segment = nullptr);

// Which segments a beacon selects: `n` distinct indices of `total`, ascending, drawn with
// Philox keyed by BLAKE2b(beacon || root).
std::vector<int> beacon_segments(const std::string& beacon, const Hash& root, int total, int64_t n);

const char* why_name(SegmentWhy w);

}  // namespace pw
