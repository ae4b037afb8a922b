// pol-profile's core (proofwork(7), FAST MODE; proofwork-files(5), PROFILE): replay sampled segments of an honest fast-mode
// proof under every source of nondeterminism this machine can reach, measure how far the
// replays land from the claimed states and from each other, and derive the tolerance
// thresholds pol-verify applies to fast-mode proofs.
//
// The rule (pol-profile(1)): for every tensor i and metric m,
//   threshold[m][i] = factor · max over measurements of d[m][i] + floor[m][i],
//   floor = floor_rel · ‖claimed end state‖ (l1, l2, linf in their own norm), floor_rel²
//   for the cosine distance,
// and the update-plausibility band [min/factor, max·factor] of ‖Δw‖₂ / Σ lr over a segment.
// At verification (rule "observed", format 2) each threshold grows by the bound on what
// the ReLU flips the verifier's own replay observed can change (verify/flips.hpp), and
// nothing else; the flip margin is factor · the largest |Δz| / scale measured between
// the sources. The residuals (claimed − replayed) of the replayed segments must not add
// up in one direction (verify.hpp). Format 1 profiles have rule "sampleShare": every
// threshold grows by sample_share · ‖replayed update of the tensor‖ / batch, an allowance
// in every direction that an adversary can steer with (pol-forge --steer).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "io/message.hpp"
#include "proof/task_file.hpp"
#include "verify/distance.hpp"

namespace pw {

// One replay setting: exact, or fast with a thread count and a GEMM panel length.
struct Source {
  bool fast = true;
  int threads = 1;
  int panel = kFastPanelDefault;
  bool cuda = false;  // on the GPU (fast: cuBLAS with TF32; threads and panel do not apply)
  std::string name() const;
};
// The setting a source's name describes (the inverse of Source::name); nullopt for a name
// this build does not know.
std::optional<Source> parse_source(const std::string& name);

struct ProfileOptions {
  int64_t segments = 4;           // segment 0, the last one, and the rest drawn from `beacon`
  std::string beacon = "pol-profile";
  std::vector<int> threads;       // default: 1 and all cores
  std::vector<int> panels = {32, 64, 128, 256};
  bool exact = true;              // also replay in exact mode
  double factor = 8;
  double floor_rel = 1.0 / (1 << 20);
  double sample_share = 0;         // > 0: the sampleShare rule (format 1's), for comparisons only
  double alignment_max = 0.5;
  bool span = true;                // rule flipSpan (format 3's default); false: rule observed
  std::string data_dir;
  bool cuda = false;              // --device cuda: also replay on the GPU, fast and (with `exact`) exact
};

// The task with its seed and provenance cleared: proofs of one task under any seed share it.
Hash task_class(schema::Task::Reader t);

using ReplayCallback = std::function<void(size_t done, size_t total)>;

// Writes a Profile into `out`, with provenance and the current format version. Throws bad input if the proof is not a complete, structurally
// valid fast-mode proof of `task` (its checkpoint files must match the manifest).
void make_profile(const LoadedTask& task, const std::string& dir, const ProfileOptions& opt,
                  capnp::MallocMessageBuilder& out, const ReplayCallback& progress = nullptr);

struct LoadedProfile {
  Message<schema::Profile> msg;
  Hash hash{};
  Hash task_class{};
  Distances thresholds;
  double factor = 0, update_min = 0, update_max = 0, sample_share = 0;
  bool observed = true;  // the rule: observed flips and the directional test; else sampleShare
  bool span = false;     // rule flipSpan: observed, the flips' bound only in their span
  double flip_margin = 0, alignment_max = 1;
};

// The thresholds for one replayed segment (`start` → `replayed`, both the verifier's own
// values): the profile's, plus under rule observed `flips` (FlipObserver::tolerance of
// the replay; none: nothing), under rule sampleShare one sample's share of the update.
Distances segment_thresholds(const LoadedProfile& p, const Tape& tape, const Workspace& start,
                             const Workspace& replayed, const Distances* flips);

class FlipObserver;
class FlipSpan;
// One replayed segment's test (proofwork(7), FAST MODE): the verifier's, and the one the
// adaptive adversary (pol-forge --steer) plays against.
struct SegmentCheck {
  Distances distances;   // replayed vs claimed; rule flipSpan: the residual less its projection on the flips' span
  Distances thresholds;  // what they are held to
  double span = 0, span_bound = 0;            // rule flipSpan: ‖that projection‖₂ (model) and its bound
  std::vector<std::vector<double>> residual;  // claimed − replayed as tested, per checkpoint tensor
  std::string over;      // "" when within, else the first excess
};
// `flips` and `span` (FlipObserver::span()) are the replay's (rule sampleShare: null).
// Rule flipSpan: a tensor's projection on the span is held to the flips' bound plus its
// l2 threshold (the rounding in the residual has a share in the span too).
std::vector<double> span_limits(const LoadedProfile& p, const FlipSpan& span);  // per tensor, then the model
SegmentCheck check_segment(const LoadedProfile& p, const Tape& tape, const Workspace& start, const Workspace& replayed,
                           const Workspace& claimed, const FlipObserver* flips, const FlipSpan* span);

// Reads and validates a profile (bad input on anything malformed, or of a format version
// this build does not read).
LoadedProfile load_profile(const std::string& path);
// load_profile of bytes already read (at most kSmallFileLimit), `path` naming them.
LoadedProfile parse_profile(Bytes bytes, const std::string& path);

// "4 segments x 9 sources replayed; model thresholds: l1 ..., update band [...]; s/step,
// FLOP/step (budget, profile used)": pol-profile's report.
std::string profile_summary(schema::Profile::Reader p);

// ‖w_b − w_a‖₂ over the parameters / Σ lr over steps [start, end): the effective
// gradient norm of a segment (update plausibility).
double update_ratio(const TaskConfig& c, const Tape& tape, const Workspace& a, const Workspace& b, int64_t start,
                    int64_t end);
// Σ lr over steps [start, end), in double.
double lr_sum(const TaskConfig& c, int64_t start, int64_t end);

}  // namespace pw
