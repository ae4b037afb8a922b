// pol-bisect's core (proofwork(7), DISPUTES): multi-granularity bisection of a training dispute
// -- over the checkpoint list, then the steps of the first disputed interval, then the
// ops of the first disputed step -- down to one op whose inputs both sides agree on and
// whose outputs differ; and the referee, who executes that op alone.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "core/program.hpp"
#include "io/hash.hpp"
#include "proof/proof.hpp"
#include "proof/task_file.hpp"
#include "train/dataset.hpp"
#include "train/fault.hpp"
#include "train/trainer.hpp"
#include "verify/distance.hpp"

namespace pw {

// One op's record in a step trace: BLAKE2b(u32 index, u32 kind, input hashes, output
// hashes); the trace's chain is c_j = BLAKE2b(c_{j-1} || record_j), so once two traces
// differ they differ to the end and bisection over the chain finds the first bad op.
struct StepTrace {
  std::vector<Hash> records, chain;
  std::vector<std::vector<Hash>> inputs, outputs;  // per op: the tensors' content hashes
  Hash end_state{};                                 // state hash after the step
};

// Runs step `step` on `ws` (state after step-1 → after step), applying `fault` after each
// op before hashing it. With `capture_op` ≥ 0, copies that op's inputs before it runs.
// With `batch`, the load_batch ops do not read the dataset: their outputs are taken from
// it, in op order (a referee without the dataset; see StepEvidence).
StepTrace trace_step(Trainer& tr, Workspace& ws, int64_t step, const OpHook& fault, int capture_op = -1,
                     std::vector<std::vector<float>>* captured = nullptr,
                     const std::vector<std::vector<float>>* batch = nullptr);

// What the referee needs to recompute one step alone (a step-level ruling, proofwork(7),
// DISPUTES): the agreed state before it (checkpoint_tensors order) and the outputs of its
// load_batch ops (in op order); `after`, the state hash the step leads to.
struct StepEvidence {
  std::vector<std::vector<float>> state, batch;
  Hash after{};
  std::vector<std::vector<float>> after_state;  // the state the step leads to (fast mode's distances)
};

// Hash over an op's outputs: BLAKE2b of their content hashes in order.
Hash outputs_hash(const std::vector<Hash>& outputs);

// A side's declared kernel settings (fast mode; proofwork(7), DISPUTES): the GEMM panel
// and thread count its manifest records (an unrecorded panel is the default). A side's
// computation and the referee's recomputation of its work run under them.
struct Kernel {
  int panel = kFastPanelDefault;
  int threads = 1;
  std::string name() const;  // "fast threads=2 panel=64", as a profile names its sources
  Compute compute(const TaskConfig& cfg) const;
};
// Sets OpenMP to `threads` for a computation under a kernel (the caller holds a
// ThreadsGuard): fast mode's per-thread bias sums split a tensor's rows, so no more
// threads than the tape's longest row count change the bits, and no more are started.
void use_kernel_threads(int threads, const Tape& tape);
Kernel declared_kernel(const Manifest& m);
Kernel declared_kernel(uint32_t panel, uint32_t threads);  // a manifest's environment fields

// The hash of the state `tensors` (checkpoint tensors, in order) after `step` steps.
Hash state_hash_of(const Tape& tape, const std::vector<std::vector<float>>& tensors, int64_t step);

// A side of the dispute: a proof (its manifest's checkpoint hashes are its claims) and the
// computation it answers queries with -- honest, or with the fault it trained with (for
// disputes simulated on one machine). `replay`: no proof, the claims are honest
// re-execution (pol-bisect --against-replay), starting from the seed-derived state and,
// later, from the agreed checkpoints of `agreed_source`.
struct Party {
  std::string dir;
  Manifest man;
  Fault fault;
  bool replay = false;
  const Party* agreed_source = nullptr;
  Kernel kernel;  // fast mode: how this side computes (a re-execution: its agreed source's)
};

enum class Level : uint8_t { Checkpoint, Step, Op };
// Both: a fast-mode ruling in which each side's answer is within the profile's replay noise.
enum class Ruling : uint8_t { A, B, Neither, Both };
const char* ruling_name(Ruling r);  // "A", "B", "neither", "both"
const char* ruling_text(Ruling r);  // "A is right", ..., "both stand (within the profile's replay noise)"

// A question put to one side: its hash at `probe` of `level`, computed from the agreed
// checkpoint `anchor` (op level: entry `probe` of the hash chain of step `step`).
struct Query {
  Level level;
  int64_t anchor, step, probe;
  bool operator<(const Query& o) const {
    return std::tie(level, anchor, step, probe) < std::tie(o.level, o.anchor, o.step, o.probe);
  }
};

// What a side says about the pinpointed op.
struct OpClaim {
  Hash out{};                                 // over all outputs
  std::vector<Hash> in_hashes;
  std::vector<std::vector<float>> inputs;     // side A supplies them
  std::vector<std::vector<float>> outputs;
};

// Thrown by a side that has not answered yet (a two-party exchange waits for it).
struct Pending {
  int side;
  Query q;
};

class Oracle {
 public:
  virtual ~Oracle() = default;
  virtual Hash answer(const Query& q) = 0;
  virtual OpClaim op_claim(int64_t anchor, int64_t step, int op, bool with_inputs) = 0;
  // The honest result of step `step` from the agreed state before it, with what the step
  // read; only a side that computes here can (nullopt otherwise).
  virtual std::optional<StepEvidence> recompute_step(int64_t anchor, int64_t step) { return std::nullopt; }
  // Fast mode: the state tensors this side claims at checkpoint `index` (its proof's
  // checkpoint file; a re-execution's own computation from `anchor`); nullopt where it cannot say.
  virtual std::optional<std::vector<std::vector<float>>> claimed_state(int64_t anchor, int64_t index) { return std::nullopt; }
};

// Answers by computing, on this machine, from the side's proof.
class LocalOracle : public Oracle {
 public:
  LocalOracle(const LoadedTask& task, const Dataset& data, const Party& p);
  Hash answer(const Query& q) override;
  OpClaim op_claim(int64_t anchor, int64_t step, int op, bool with_inputs) override;
  std::optional<StepEvidence> recompute_step(int64_t anchor, int64_t step) override;
  std::optional<std::vector<std::vector<float>>> claimed_state(int64_t anchor, int64_t index) override;
  // Whole steps between probes run on `e` (exact mode: the same bits); traced steps
  // and the referee stay on the CPU.
  void use_device(std::shared_ptr<Executor> e) { tr_.use_device(std::move(e)); }

 private:
  void use_threads() const;  // this side's declared thread count (fast mode; the caller holds a ThreadsGuard)
  Workspace& state_at(int64_t anchor, int64_t step);  // after `step` steps, own computation
  const StepTrace& trace_of(int64_t anchor, int64_t step);
  const LoadedTask& task_;
  const Party& party_;
  Trainer tr_;
  std::vector<int64_t> ckpt_;
  // States already computed from the current anchor, by step: a probe continues from the
  // nearest earlier one, so a bisection replays each step of the interval about once.
  int64_t anchor_ = -1;
  std::map<int64_t, Workspace> snapshots_;
  int64_t trace_anchor_ = -1, trace_step_ = -1;
  StepTrace trace_;
};

struct FastReferee;

// A fast-mode ruling's measurements (proofwork(7), DISPUTES): each side's claim against
// the referee's recomputation under that side's kernel, held to the profile's thresholds.
struct FastRuling {
  bool step_level = false;
  Distances noise;           // op level: the op's outputs' spread over the profile's CPU sources
  Distances thresholds;      // op level: factor × noise + floor; step level: the profile's own
  Distances dist_a, dist_b;  // each side's claim from the referee's value under its kernel
  Distances dist_ab;         // the two claims from each other
  int sources = 0;           // op level: the profile's sources recomputed here
  bool stands_a = false, stands_b = false;
  std::string why_a, why_b;  // the deciding entry: "h1 linf 0.53 > threshold 3.1e-06", or the tightest within
  Ruling ruling() const;
};

struct BisectRound {
  Level level;
  int64_t lo, hi, probe;
  Hash a{}, b{};
  bool agree;
  int64_t anchor = 0, step = 0;
  // Checkpoint level: each answer's Merkle inclusion path under its side's root, as
  // received (empty: computed from the side's manifest when written).
  std::vector<Hash> proof_a, proof_b;
};

struct BisectResult {
  bool disputed = false;       // false: the two sides agree everywhere
  std::vector<BisectRound> rounds;
  int64_t round_bound = 0;
  int64_t anchor = 0;          // the last agreed checkpoint
  int64_t step = -1;           // the disputed step
  int op = -1;                 // its op (tape index)
  OpClaim claim_a, claim_b;
  Hash referee{};
  bool ruled = false;          // the referee has run (it needs the dataset for load_batch)
  Ruling winner = Ruling::Neither;
  std::string summary;
  std::optional<StepEvidence> evidence;  // a step-level ruling (op = -1): what it recomputed
  std::vector<std::vector<float>> claimed_a, claimed_b;  // fast mode, step level: the states claimed after it
  Hash claim_step_a{}, claim_step_b{};   // and the states the sides claimed after the step
  std::string basis;                     // how the ruling was reached
  std::optional<FastRuling> fast;        // fast mode: the measurements the ruling was made by
};

// Bisects between two sides. With `data`, the referee recomputes the pinpointed op here;
// without, the result names the op and the referee runs later (pol-bisect replay).
// A fast-mode task needs `fast` (the profile and the sides' kernels; bisect/fast.hpp).
// Throws Pending when a side cannot answer yet.
BisectResult bisect(const LoadedTask& task, const Dataset* data, Oracle& a, Oracle& b, const FastReferee* fast = nullptr);

// The referee: op `op` of step `step` on the given inputs alone; returns the hash over its
// outputs (and the outputs in `outs`). `data` is needed only for the load_batch op.
// `compute`: the kernel setting (fast mode: a side's, or a profile source's); default the task's.
Hash referee_op(const TaskConfig& cfg, const Dataset* data, int64_t step, int op,
                const std::vector<std::vector<float>>& inputs, std::vector<std::vector<float>>* outs = nullptr,
                const Compute* compute = nullptr);

// The referee of a step-level dispute: loads `state` (checked: one tensor of the right size
// per checkpoint tensor) as the state after `step` steps and runs step `step` alone, its
// load_batch ops taking `batch`. Returns the trace: its chain (which must equal the one both
// sides agreed on, binding the batch) and end state. `before`: the loaded state's hash.
StepTrace referee_step(const TaskConfig& cfg, int64_t step, const std::vector<std::vector<float>>& state,
                       const std::vector<std::vector<float>>& batch, Hash* before, const Compute* compute = nullptr,
                       std::vector<std::vector<float>>* after = nullptr);

int64_t ceil_log2(int64_t n);
// The most rounds a bisection of `cfg` takes: ⌈log2 C⌉ + ⌈log2 k⌉ + ⌈log2 ops⌉ + 2.
int64_t round_bound(const TaskConfig& cfg);

// A side from its proof directory, with the fault it answers with (`fault`, "STEP:OP:
// ELEMENT", empty for none; `flag` names the option in messages). An empty `dir` is an
// honest re-execution (replay; its caller names the agreed source).
Party load_party(const LoadedTask& task, const std::string& dir, const std::string& fault, const char* flag);

}  // namespace pw
