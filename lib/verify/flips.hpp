// Tolerance for what a fast-mode replay observes (proofwork(7), FAST MODE): the ReLU
// "flips" that rounding can cause, and nothing else.
//
// Two honest runs of one segment in fast mode sum in different orders, so a
// pre-activation z of one sample can land on either side of zero: the activation's
// mask differs, and that sample's gradient through that unit differs by the whole
// incoming gradient da(b,u). Rounding moves z by at most a small fraction of
// ‖x_b‖₂·‖W_u‖₂ + |bias_u| (the scale of the dot product that made it), and pol-profile
// measures how small: the profile's flipMargin. During its replay the verifier flags
// every pre-activation with |z| ≤ flipMargin · scale (a ReLU forward's input, made by a
// linear forward), and follows the flagged samples' own gradient contributions through
// the backward ops as per-sample bounds on the difference:
//   relu backward:   Δdz_b ≤ Δda_b + ‖da(b, flagged units)‖        (l1 and l2 separately)
//   linear input:    Δdx_b ≤ Δdz_b · ‖W‖_F  (l1: · max row l1 norm of W)
//   linear weight:   ΔdW  ≤ Σ_b Δdz_b · ‖x_b‖  (l1: ‖x_b‖₁, l2: ‖x_b‖₂, linf: Δdz_b,l2 · ‖x_b‖∞)
//   linear bias:     Δdb  ≤ Σ_b Δdz_b
// and through the optimizer (SGD with momentum: buf' = μ·buf + g + wd·p, p' = p − lr·buf',
// each a linear map on norm bounds). A step with no flagged pre-activation adds nothing:
// there is no allowance for what the verifier did not observe. AdamW is not linear in g;
// its tolerance is the flagged gradient mass as a share of the replayed update (an
// estimate, not a bound).
//
// Rule flipSpan (profile format 3) grants the flips only their own effect, in its own
// direction: for each flagged pre-activation the verifier replays the segment from that
// step with that one pre-activation on the other side of zero, and the difference from
// its replay -- the flip's first-order change (±da(b,u) along e_u ⊗ x_b and back through
// the earlier layers), its feedback on the later steps and its forward value -- is one
// vector per checkpoint tensor. The residual (claimed − replayed) of each tensor is split
// into its projection on the span of those vectors, held to kFlipSafety × the sum of
// their norms (l2), and the rest, held to the profile's thresholds as if nothing had been
// flagged. An honest run flips a subset of the flagged pre-activations: its residual is
// their sum (up to second-order cross terms) plus rounding. An edit in a direction of an
// adversary's choice is held to the profile's thresholds on flagged segments too, but
// for its share in that span (a few vectors).
#pragma once
#include <cstdint>
#include <vector>

#include "model/tape.hpp"
#include "train/task.hpp"
#include "train/trainer.hpp"
#include "verify/distance.hpp"

namespace pw {

// The later steps of a segment train on the changed state, which moves every tensor:
// (SGD) each checkpoint tensor's bound grows by kFlipFeedback × (‖flip bound‖₂ /
// ‖update‖₂ over the parameters) × its own change over the segment, and every bound is
// multiplied by kFlipSafety before it is added to a threshold.
constexpr double kFlipFeedback = 1;
constexpr double kFlipSafety = 2;
// Rule flipSpan: at most this many flagged pre-activations a segment are replayed; a
// segment with more falls back to rule observed's bound (FlipSpan::overflow).
constexpr size_t kFlipReplayMax = 32;

// The span of a segment's flip vectors, per checkpoint tensor (rule flipSpan).
class FlipSpan {
 public:
  // Per checkpoint tensor k (checkpoint_tensors' order): r[k] (claimed − replayed) loses
  // its orthogonal projection on the span of tensor k's flip vectors; returns the
  // projections' ‖·‖₂ per tensor, then the model's.
  std::vector<double> split(std::vector<std::vector<double>>& r) const;
  // The bound on those projections (kFlipSafety × Σ ‖vector‖₂), per tensor then the model.
  std::vector<double> bound;
  bool overflow = false;  // more than kFlipReplayMax flags: rule observed's bound applies
  size_t replays = 0;     // flags replayed

 private:
  friend class FlipObserver;
  struct Basis {
    std::vector<std::vector<double>> dirs;  // the independent vectors (pivoted Cholesky's pick)
    std::vector<double> chol;               // lower triangle of their Gram matrix's factor
  };
  std::vector<Basis> bases_;  // per checkpoint tensor
};

// The scale rounding is relative to for element (b, u) of a ReLU forward's input z,
// made by a linear forward (x (B,in), W (out,in), bias): ‖x_b‖₂·‖W_u‖₂ + |bias_u|. For
// another producer, the row's largest |z|. Into `scale` (B × out).
void relu_input_scale(const Tape& tape, const Op& relu, const Workspace& ws, std::vector<float>& scale);

class FlipObserver {
 public:
  FlipObserver(const TaskConfig& cfg, const Tape& tape, double margin);
  // Clears the bounds: a segment starts.
  void reset();
  // The op hook of step `s` (run it with the step; it reads, never writes).
  OpHook hook(int64_t s);
  // Pre-activations flagged since reset().
  int64_t flagged() const { return flagged_; }
  // The bounds over the checkpoint tensors (with kFlipSafety) for a segment whose
  // replay ran from `start` to `replayed`, in state_distances' layout: the model row's
  // l1 adds the tensors', l2 adds them in quadrature, linf takes the max; a cosine bound
  // is (l2 / ‖w‖)² / 2 with ‖w‖ the replayed state's norm.
  Distances tolerance(const Workspace& start, const Workspace& replayed) const;
  // Rule flipSpan: replays the segment once per flag (at most kFlipReplayMax) from the
  // flag's step to `end` (the replay's step count at the segment's end) with that flag
  // flipped, on `tr` (its ws is left at the last replay's end), and returns the span of
  // the differences from `replayed`.
  FlipSpan span(Trainer& tr, int64_t end, const Workspace& replayed) const;

 private:
  struct Bound {
    double l1 = 0, l2 = 0, linf = 0;
  };
  const TaskConfig& cfg_;
  const Tape& tape_;
  double margin_;
  int64_t flagged_ = 0;
  std::vector<int> producer_;                      // tensor id → the op that writes it first
  std::vector<std::vector<int>> flags_;            // relu output id → flagged b·cols + u
  std::vector<std::vector<double>> d1_, d2_;       // gradient id → per-sample bound on the difference
  std::vector<Bound> grad_;                        // gradient id → this step's bound
  std::vector<Bound> param_, state_;               // checkpoint tensor id → bound at the segment's end
  std::vector<double> grad_mass_;                  // AdamW: Σ over steps of ‖g‖₂ per parameter
  std::vector<double> flip_mass_;                  // AdamW: Σ over steps of the gradient bound (l2)
  std::vector<float> scale_;
  // Rule flipSpan: the flags (step, op, element) and each flagged step's starting
  // checkpoint tensors (the parameters do not change before the update ops).
  struct Flag {
    int64_t step;
    int op, element;
  };
  std::vector<Flag> flag_list_;
  std::vector<std::pair<int64_t, std::vector<std::vector<float>>>> snapshots_;
  bool overflow_ = false;
  void on_op(int64_t s, int index, const Workspace& ws);
};

// `thresholds` plus `extra` (same names), entry by entry and metric by metric.
Distances add_tolerance(const Distances& thresholds, const Distances& extra);

}  // namespace pw
