// A task file read into plain values and validated, and the same values written back
// (proofwork-files(5), TASK; proofwork(7), UNTRUSTED INPUT). One set of rules serves
// both directions: task_config reads with check_task, build_task writes only what
// task_config accepts.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/hash.hpp"
#include "model/tape.hpp"
#include "schema/proofwork.capnp.h"

namespace pw {

enum class ScheduleType : uint8_t { Constant, Step, Cosine };

struct TaskConfig {
  ModelKind model = ModelKind::Mlp;
  std::vector<int> widths;  // mlp
  GptSpec gpt;              // gpt (vocab 256)
  double clip = 0;          // gradient-norm clipping's max norm; 0: none
  int batch = 0;
  int64_t steps = 0;
  int64_t checkpoint_every = 0;
  uint64_t seed = 0;
  bool exact = true;
  OptimizerType optimizer = OptimizerType::Sgd;
  double lr = 0, momentum = 0, weight_decay = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  ScheduleType schedule = ScheduleType::Constant;
  int64_t step_size = 0, warmup_steps = 0;
  double gamma = 0.1, min_lr = 0;
  float input_scale = 1.0f / 255.0f;
  double budget_flops = 0;  // task_config: always task_budget_flops; a description may hold 0 ("derive")
  CutSpec cut;  // the task's pipeline cut (layer 0: none); cut.samples = count
  // Exact mode's chunked batch reduction (Compute::reduce_chunk): samples per chunk, the
  // batch a power-of-two count of chunks; 0: one chain over the batch, as before the field.
  int reduce_chunk = 0;
  // dataset reference
  std::string train_images, train_labels, test_images, test_labels;
  Hash train_images_hash{}, train_labels_hash{}, test_images_hash{}, test_labels_hash{};
  Hash content_hash{}, sample_root{};
  uint32_t count = 0, rows = 0, cols = 0, classes = 0;
  // a text dataset (a GPT's): the training text and an optional validation text
  std::string text, val_text;
  Hash text_hash{}, val_text_hash{};
  uint64_t text_length = 0, val_text_length = 0;
  bool is_gpt() const { return model == ModelKind::Gpt; }
  // A text task's window starts, len − T (offsets 0 to len − T − 1); 0 for an IDX task.
  uint64_t windows() const { return is_gpt() && text_length > uint64_t(gpt.context) ? text_length - uint64_t(gpt.context) : 0; }
};

// Largest model and run a task may declare; anything beyond is refused as bad input.
constexpr int64_t kMaxParameters = int64_t(1) << 31;
constexpr int64_t kMaxCutBuffer = int64_t(1) << 28;  // values in a cut's buffer (1 GiB)
constexpr int kMaxWidth = 1 << 20;
// What a task implies, bounded before anything is allocated for it (proofwork-files(5),
// LIMITS): the batch order's entries (steps x batch, 4 bytes each, held whole by the
// trainer and recorded in the manifest) and the checkpoint count (steps / checkpointEvery,
// rounded up, plus checkpoint 0). A real task meets neither: 2^28 draws are over 4000
// epochs of a 60000-sample dataset.
constexpr int64_t kMaxBatchOrder = int64_t(1) << 28;
constexpr int64_t kMaxCheckpoints = int64_t(1) << 16;
// A GPT's bounds (proofwork-files(5), LIMITS): layers, heads, channels, context, and
// the texts' lengths (window offsets are 32-bit; a text is read whole). The
// activations of one step (about B·T·(16·C·L + 2·V) + B·H·T²·L floats) are bounded by
// kMaxActivations.
constexpr int kMaxGptLayers = 256;
constexpr int kMaxGptChannels = 1 << 14;
constexpr int kMaxGptContext = 1 << 14;
constexpr uint64_t kMaxTextBytes = uint64_t(1) << 31;
constexpr int64_t kMaxActivations = int64_t(1) << 32;

// The fields of a task as written, its format version checked (io/version.hpp) and
// nothing else: pol-task --from's starting point, which flags may still correct.
// Throws bad input on a version this build does not read or a field it cannot hold
// (a model other than an MLP, a hash that is not 32 bytes, an unknown optimizer,
// schedule or mode, a cut field after layer 0).
TaskConfig task_fields(schema::Task::Reader t);
// The reader's rules on every field (ranges, the model against the data, the cut, the
// budget); throws bad input naming the first violation.
void check_task(const TaskConfig& c);
// A GPT's shape: layers, channels, heads dividing channels, context, vocabulary 256,
// parameter count (proofwork-files(5), LIMITS); throws bad input.
void check_gpt_shape(const GptSpec& g);
// task_fields, then check_task; the budget comes back filled in (never 0).
TaskConfig task_config(schema::Task::Reader t);
// Encodes `c` (checked with check_task first): the current format version, the
// program's provenance and the budget task_budget_flops(c). The dataset's hashes are
// written as `c` holds them (proof/task_file.hpp's commit_dataset fills them in).
void build_task(const TaskConfig& c, schema::Task::Builder t);

// A task's FLOP budget: mlp_flops_per_step(widths, batch) x steps, the work its model
// and step count imply, declared up front so that nobody is asked to run unbounded work.
// The one rule on budgetFlops: 0 means "derive" (a reader takes this value), anything
// else must equal it (bad input); writers always write it.
double task_budget_flops(const TaskConfig& c);
// A cut's layer must have a hidden layer before it and a Linear layer after it (1 to
// widths.size()-2; a GPT's, a block on each side: 1 to layers-1), its bits be 2, 3, 4
// or 8, its buffer (samples x width; a GPT's width T·C) within kMaxParameters floats.
void check_cut(const TaskConfig& c);  // c.cut against c's model; throws bad input
Hash task_hash(schema::Task::Reader t);           // BLAKE2b-256 of the canonical encoding

// The checkpoint steps a task dictates: 0, k, 2k, …, and `steps` itself.
std::vector<int64_t> checkpoint_steps(const TaskConfig& c);

// Learning rate at `step` (0-based), computed in double with the library's own cos,
// then rounded once to float.
float lr_at(const TaskConfig& c, int64_t step);
SgdScalars sgd_scalars(const TaskConfig& c, int64_t step);
AdamwScalars adamw_scalars(const TaskConfig& c, int64_t step);

std::string mlp_spec(const std::vector<int>& widths);  // "mlp:784-1024-1024-10"
std::string gpt_spec(const GptSpec& g);                // "gpt:2-2-32-16"
std::string model_spec(const TaskConfig& c);           // mlp_spec or gpt_spec
// "gpt:LAYERS-HEADS-CHANNELS-CONTEXT" (pol-task --model): numbers only, the rules are
// check_task's (heads dividing channels, bounds).
GptSpec parse_gpt_spec(const std::string& spec);       // throws usage error
std::vector<int> parse_mlp_spec(const std::string& spec);  // throws usage error
// "LAYER:BITS[:BWDBITS][:rot=T][:tile=S]" (pol-task --cut): numbers only, range checks
// are check_cut's.
CutSpec parse_cut_spec(const std::string& spec);  // throws usage error
std::string cut_spec(const CutSpec& c);            // "1:2:8", "1:2:8:rot=64:tile=64", "" without a cut
// "constant | step:SIZE[:GAMMA] | cosine[:WARMUP[:MIN_LR]]" (pol-task --schedule) into
// c's schedule fields; the parts not given keep the schema's defaults.
void parse_schedule_spec(const std::string& spec, TaskConfig& c);  // throws usage error

}  // namespace pw
