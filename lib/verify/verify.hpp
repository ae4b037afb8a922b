// pol-verify's core: structural checks of a proof against its task, then replay of
// selected segments (segment i runs checkpoint i → checkpoint i+1) in exact mode,
// requiring equal state hashes.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/hash.hpp"
#include "proof/task_file.hpp"

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
};

struct VerifyOptions {
  int64_t segments = -1;     // -1: all; else this many drawn from the beacon
  int64_t top_q = 0;         // plus the Q segments with the largest weight updates
  std::string beacon;        // hex or any text; hashed with the proof's root
  std::string data_dir;
  bool keep_going = false;   // replay every chosen segment even after a failure
  std::string device = "cpu";  // "cuda": replay on the GPU (same bits in exact mode)
};

struct VerifyResult {
  bool accepted = false;
  std::string reason;
  int first_bad = -1;
  std::vector<SegmentOutcome> segments;
  Hash proof_root{};
  double replay_seconds = 0, check_seconds = 0;
  int64_t replayed_steps = 0;
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
