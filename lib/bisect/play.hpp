// Two parties on two machines (proofwork(7), DISPUTES): each side holds only its own
// proof and answers the bisection's questions with its own computation; the two
// exchange nothing but the transcript, a dispute file that is `complete` once both
// have answered everything. A move replays the whole bisection: the other side's
// answers come from the transcript, this side's are computed, and the first question
// the other side has not answered yet ends the move (Pending).
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bisect/bisect.hpp"
#include "bisect/dispute.hpp"

namespace pw {

// The other side, answering from its transcript; an unanswered question is Pending.
class TranscriptOracle : public Oracle {
 public:
  using State = std::vector<std::vector<float>>;
  TranscriptOracle(int side, std::map<Query, Hash> answers, std::optional<OpClaim> claim, std::optional<State> claimed = {})
      : side_(side), answers_(std::move(answers)), claim_(std::move(claim)), claimed_(std::move(claimed)) {}
  Hash answer(const Query& q) override;
  OpClaim op_claim(int64_t anchor, int64_t step, int op, bool with_inputs) override;
  std::optional<State> claimed_state(int64_t anchor, int64_t index) override;

 private:
  int side_;
  std::map<Query, Hash> answers_;
  std::optional<OpClaim> claim_;
  std::optional<State> claimed_;
};

// This side: computes with `inner` and remembers what it answered, in order.
class RecordingOracle : public Oracle {
 public:
  explicit RecordingOracle(Oracle& inner) : inner_(inner) {}
  Hash answer(const Query& q) override;
  OpClaim op_claim(int64_t anchor, int64_t step, int op, bool with_inputs) override;
  // The move that finds both sides computing the step alike recomputes it here.
  std::optional<StepEvidence> recompute_step(int64_t anchor, int64_t step) override {
    return inner_.recompute_step(anchor, step);
  }
  // Fast mode, a step-level ruling: the state this side claims goes with the transcript.
  std::optional<std::vector<std::vector<float>>> claimed_state(int64_t anchor, int64_t index) override {
    return claimed = inner_.claimed_state(anchor, index);
  }

  std::vector<Query> order;
  std::map<Query, Hash> answers;
  std::optional<OpClaim> claim;
  std::optional<std::vector<std::vector<float>>> claimed;

 private:
  Oracle& inner_;
};

// What a transcript holds of one side: its answers, its op claim, its commitment (root
// and manifest); the rounds as received; and the first checkpoint answer that its Merkle
// proof does not bind to its root (-1: none), which loses the dispute by itself.
struct SideTranscript {
  std::map<Query, Hash> answers;
  std::optional<OpClaim> claim;
  std::optional<std::vector<std::vector<float>>> claimed;  // fast mode: its claimed state at a step-level ruling
  Commitment commitment;
  std::vector<BisectRound> rounds;
  int64_t forfeit_at = -1;
};

// Reads side A's (`side_a`) or B's part of a transcript of `task`: checks its version,
// that it is about this task, and the side's manifest against its root, and for a
// fast-mode task that it carries `profile` (the same profile, by hash); malformed: bad
// input (exit 3) naming `what`.
SideTranscript read_side(schema::Dispute::Reader d, const LoadedTask& task, bool side_a, const std::string& what,
                         const LoadedProfile* profile = nullptr);

struct Move {
  bool complete = false;  // the transcript written is the finished dispute
  BisectResult result;    // when complete
  int waiting_for = -1;   // otherwise: the side (0: a, 1: b) that answers next
};

// One move of side A (`side_a`) or B: `local` computes this side's answers from its proof
// (commitment `mine`), `theirs` is what the other side sent (empty on the first move). The
// transcript to send back is written into `out`. When the other side's answers fail their
// Merkle proofs, the move ends the dispute: this side wins. A fast-mode task is ruled by
// `profile`, this side computing under `kernel`, the other under the kernel its manifest
// declares (bisect/fast.hpp); the profile and both kernels travel in every transcript.
Move play_move(const LoadedTask& task, const Dataset& data, Oracle& local, const Commitment& mine, bool side_a,
               const SideTranscript& theirs, schema::Dispute::Builder out, const LoadedProfile* profile = nullptr,
               const Kernel& kernel = {});

}  // namespace pw
