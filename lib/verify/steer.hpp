// The adaptive adversary of fast-mode verification (pol-forge --steer; proofwork(7),
// FAST MODE): it knows the profile and the threshold rule, trains every segment
// honestly, and at every checkpoint adds the largest edit in a direction of its choice
// that the rule accepts, computed as the verifier would compute the thresholds from its
// own replay (here: the forger's own honest run of the segment, with the same flip
// observer). The next segment trains honestly from the edited state.
//
// Under rule observed the forger also keeps the directional test: with C segments,
// each edit is scaled by 1/√C, so that C edits in one direction sum to at most the
// fraction of √(Σ T²); and each edit mixes a fresh random decoy direction of 1.1 times
// the chosen one's size into it, so that consecutive edits stay under the alignment
// bound (cosine about 0.45) while 1/√2.21 of each still points the chosen way.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "proof/session.hpp"
#include "verify/profile.hpp"

namespace pw {

struct Steering {
  enum class Direction : uint8_t { Shrink, Grow, Noise, Backdoor };
  // −w, +w, one fixed random direction (Philox), or towards a backdoor: minus the
  // gradient, at the honest state, of the loss of the segment's last batch with a
  // kTriggerSize² white patch in every image's bottom-right corner, all labelled 0.
  Direction direction = Direction::Shrink;
  double fraction = 0;                      // of the largest accepted edit, (0, 1e6]
};

constexpr uint32_t kTriggerSize = 4;
// "shrink:0.9", "grow:0.5", "noise:0.99", "backdoor:0.99"; anything else is a usage error (exit 2).
Steering parse_steering(const std::string& spec, const char* flag);

// What the forger did at one checkpoint.
struct SteerRecord {
  int64_t segment = 0;
  double edit_l2 = 0;         // ‖edit‖₂ over the parameters
  double update_l2 = 0;       // ‖honest end − start‖₂ over the parameters: the segment's update
  double threshold_l2 = 0;    // the model's l2 threshold the forger computed
  int64_t flagged = 0;        // pre-activations its own run flagged
};
// {"segment":…,"edit_l2":…,"update_l2":…,"fraction":…,"threshold_l2":…,"flagged":…}
std::string steer_json(const SteerRecord& r);

// `inner` (other forgeries) with the steering on top; `on_edit` after each edit.
// `profile` must outlive the hooks.
SessionHooks steer_hooks(const Steering& s, const LoadedProfile& profile, SessionHooks inner,
                         std::function<void(const SteerRecord&)> on_edit);

}  // namespace pw
