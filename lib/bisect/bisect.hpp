// pol-bisect's core (DESIGN §5): multi-granularity bisection of a training dispute
// -- over the checkpoint list, then the steps of the first disputed interval, then the
// ops of the first disputed step -- down to one op whose inputs both sides agree on and
// whose outputs differ; and the referee, who executes that op alone.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/hash.hpp"
#include "proof/proof.hpp"
#include "proof/task_file.hpp"
#include "train/dataset.hpp"
#include "train/fault.hpp"
#include "train/trainer.hpp"

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
StepTrace trace_step(Trainer& tr, Workspace& ws, int64_t step, const OpHook& fault, int capture_op = -1,
                     std::vector<std::vector<float>>* captured = nullptr);

// Hash over an op's outputs: BLAKE2b of their content hashes in order.
Hash outputs_hash(const std::vector<Hash>& outputs);

// A side of the dispute: a proof (its manifest's checkpoint hashes are its claims) and the
// computation it answers queries with -- honest, or with the fault it trained with (for
// disputes simulated on one machine). `replay`: no proof, the claims are honest
// re-execution (pol-bisect --against-replay).
struct Party {
  std::string dir;
  Manifest man;
  Fault fault;
  bool replay = false;
};

enum class Level : uint8_t { Checkpoint, Step, Op };
enum class Ruling : uint8_t { A, B, Neither };

struct BisectRound {
  Level level;
  int64_t lo, hi, probe;
  Hash a{}, b{};
  bool agree;
};

struct BisectResult {
  bool disputed = false;       // false: the two sides agree everywhere
  std::vector<BisectRound> rounds;
  int64_t round_bound = 0;
  int64_t step = -1;           // the disputed step
  int op = -1;                 // its op (tape index)
  std::vector<Hash> input_hashes;
  std::vector<std::vector<float>> inputs;     // as supplied by side A
  Hash out_a{}, out_b{};
  std::vector<std::vector<float>> outs_a, outs_b;
  Hash referee{};
  Ruling winner = Ruling::Neither;
  std::string summary;
};

// Bisects between a and b; `data` is the task's dataset.
BisectResult bisect(const LoadedTask& task, const Dataset& data, Party& a, Party& b);

// The referee: op `op` of step `step` on the given inputs alone; returns the hash over its
// outputs (and the outputs in `outs`). `data` is needed only for the load_batch op.
Hash referee_op(const TaskConfig& cfg, const Dataset* data, int64_t step, int op,
                const std::vector<std::vector<float>>& inputs, std::vector<std::vector<float>>* outs = nullptr);

int64_t ceil_log2(int64_t n);
const char* level_name(Level l);

}  // namespace pw
