#include "train/task.hpp"

#include <algorithm>
#include <cmath>

#include "aqsgd/quantize.hpp"
#include "aqsgd/rotate.hpp"
#include "core/error.hpp"
#include "io/message.hpp"
#include "io/provenance.hpp"
#include "io/version.hpp"
#include "tensor/mathfn.hpp"
#include "train/models.hpp"

namespace pw {

namespace {
Hash opt_hash(capnp::Data::Reader d, const std::string& what) {
  if (d.size() == 0) return Hash{};
  check_input(d.size() == 32, "task: " + what + " is not a 32-byte hash");
  return to_hash(d.begin(), d.size());
}
bool finite_nonneg(double x) { return std::isfinite(x) && x >= 0; }
// x^n by binary powering: exact-mode host scalars use no pow().
double pow_int(double x, int64_t n) {
  double r = 1.0;
  while (n > 0) {
    if (n & 1) r *= x;
    x *= x;
    n >>= 1;
  }
  return r;
}
// The task's cut, if any; `samples`: the training set's (an IDX set's count, a text's windows).
void read_cut(schema::Task::Reader t, TaskConfig& c, uint32_t samples) {
  if (!t.hasCut()) return;
  auto k = t.getCut();
  c.cut.layer = int(std::min<uint32_t>(k.getLayer(), 1u << 20));
  c.cut.forward_bits = int(std::min<uint32_t>(k.getForwardBits(), 1u << 20));
  c.cut.backward_bits = int(std::min<uint32_t>(k.getBackwardBits(), 1u << 20));
  c.cut.rotate_tile = k.getRotateTile();
  c.cut.scale_tile = k.getScaleTile();
  c.cut.samples = samples;
  if (!c.cut.enabled()) check_cut(c);  // present but after layer 0: not "no cut"
}
}  // namespace

TaskConfig task_fields(schema::Task::Reader t) {
  check_version(FileKind::Task, t.getFormatVersion(), "task");
  TaskConfig c;
  auto m = t.getModel();
  const std::string kind = m.getKind().cStr();
  const std::string activation = m.getActivation().cStr();
  check_input(kind == "mlp" || kind == "gpt", "task: model kind '" + kind + "' (mlp or gpt)");
  // Out-of-range numbers are clamped just past their limit, for check_task to refuse.
  auto clamp = [](uint32_t x, int limit) { return int(std::min<uint32_t>(x, uint32_t(limit) + 1)); };
  if (kind == "mlp") {
    check_input(m.isWidths(), "task: model kind 'mlp' without widths");
    check_input(activation == "relu" || activation.empty(), "task: activation '" + activation + "' (the MLP's is relu)");
    for (uint32_t x : m.getWidths()) c.widths.push_back(clamp(x, kMaxWidth));
  } else {
    check_input(m.isGpt(), "task: model kind 'gpt' without its layers, heads, channels and context");
    check_input(activation == "gelu_tanh" || activation.empty(), "task: activation '" + activation + "' (the GPT's is gelu_tanh)");
    auto g = m.getGpt();
    c.model = ModelKind::Gpt;
    c.gpt.layers = clamp(g.getLayers(), kMaxGptLayers);
    c.gpt.heads = clamp(g.getHeads(), kMaxGptChannels);
    c.gpt.channels = clamp(g.getChannels(), kMaxGptChannels);
    c.gpt.context = clamp(g.getContext(), kMaxGptContext);
    c.gpt.vocab = clamp(g.getVocab(), 1 << 20);
  }
  c.batch = int(std::min<uint32_t>(t.getBatch(), (1u << 20) + 1));
  c.steps = t.getSteps();
  c.checkpoint_every = t.getCheckpointEvery();
  c.seed = t.getSeed();
  switch (t.getMode()) {
    case schema::Mode::EXACT: c.exact = true; break;
    case schema::Mode::FAST: c.exact = false; break;
    default: bad_input("task: unknown mode");
  }
  auto o = t.getOptimizer();
  switch (o.getKind()) {
    case schema::OptimizerKind::SGD: c.optimizer = OptimizerType::Sgd; break;
    case schema::OptimizerKind::ADAMW: c.optimizer = OptimizerType::Adamw; break;
    default: bad_input("task: unknown optimizer kind");
  }
  c.lr = o.getLr();
  c.momentum = o.getMomentum();
  c.weight_decay = o.getWeightDecay();
  c.beta1 = o.getBeta1();
  c.beta2 = o.getBeta2();
  c.eps = o.getEps();
  auto s = t.getSchedule();
  switch (s.getKind()) {
    case schema::ScheduleKind::CONSTANT: c.schedule = ScheduleType::Constant; break;
    case schema::ScheduleKind::STEP: c.schedule = ScheduleType::Step; break;
    case schema::ScheduleKind::COSINE: c.schedule = ScheduleType::Cosine; break;
    default: bad_input("task: unknown schedule kind");
  }
  c.step_size = s.getStepSize();
  c.gamma = s.getGamma();
  c.warmup_steps = s.getWarmupSteps();
  c.min_lr = s.getMinLr();
  auto d = t.getDataset();
  const std::string format = d.getFormat().cStr();
  check_input(format == (c.is_gpt() ? "text" : "idx"),
              "task: dataset format '" + format + "' (an " + kind + " trains on " + (c.is_gpt() ? "text" : "idx") + ")");
  c.reduce_chunk = int(std::min<uint32_t>(t.getReduceChunk(), (1u << 20) + 1));
  if (c.is_gpt()) {
    check_input(d.isText(), "task: dataset format 'text' without its text");
    auto x = d.getText();
    c.text = x.getTrain().getPath();
    c.text_hash = opt_hash(x.getTrain().getHash(), "text hash");
    c.text_length = x.getLength();
    c.val_text = x.getValidation().getPath();
    c.val_text_hash = opt_hash(x.getValidation().getHash(), "validation text hash");
    c.val_text_length = x.getValidationLength();
    c.clip = t.getClip();
    read_cut(t, c, uint32_t(std::min<uint64_t>(c.windows(), UINT32_MAX)));
    c.budget_flops = t.getBudgetFlops();
    return c;
  }
  check_input(t.getClip() == 0, "task: clip is for a GPT task");
  c.train_images = d.getTrainImages().getPath();
  c.train_labels = d.getTrainLabels().getPath();
  c.test_images = d.getTestImages().getPath();
  c.test_labels = d.getTestLabels().getPath();
  c.train_images_hash = opt_hash(d.getTrainImages().getHash(), "train images hash");
  c.train_labels_hash = opt_hash(d.getTrainLabels().getHash(), "train labels hash");
  c.test_images_hash = opt_hash(d.getTestImages().getHash(), "test images hash");
  c.test_labels_hash = opt_hash(d.getTestLabels().getHash(), "test labels hash");
  c.content_hash = opt_hash(d.getContentHash(), "content hash");
  c.sample_root = opt_hash(d.getSampleRoot(), "sample root");
  c.count = d.getCount();
  c.rows = d.getRows();
  c.cols = d.getCols();
  c.classes = d.getClasses();
  c.input_scale = d.getInputScale();
  read_cut(t, c, c.count);
  c.budget_flops = t.getBudgetFlops();
  return c;
}

namespace {
// The rules every task shares: steps, checkpoints, optimizer, schedule, budget.
void check_run(const TaskConfig& c);
void check_gpt_task_rest(const TaskConfig& c);
}  // namespace

void check_gpt_shape(const GptSpec& g) {
  check_input(g.layers >= 1 && g.layers <= kMaxGptLayers, "task: GPT layers must be 1 to " + std::to_string(kMaxGptLayers));
  check_input(g.channels >= 1 && g.channels <= kMaxGptChannels,
              "task: GPT channels must be 1 to " + std::to_string(kMaxGptChannels));
  check_input(g.heads >= 1 && g.heads <= g.channels && g.channels % g.heads == 0,
              "task: GPT heads " + std::to_string(g.heads) + " do not divide its " + std::to_string(g.channels) + " channels");
  check_input(g.context >= 1 && g.context <= kMaxGptContext,
              "task: GPT context must be 1 to " + std::to_string(kMaxGptContext));
  check_input(g.vocab == 256, "task: GPT vocabulary " + std::to_string(g.vocab) + " (a byte-level model's is 256)");
  const int64_t C = g.channels, L = g.layers;
  check_input(L * 12 * C * C + (g.vocab + g.context + 13 * L + 2) * C <= kMaxParameters, "task: model too large");
}

namespace {
void check_gpt_task_rest(const TaskConfig& c) {
  const GptSpec& g = c.gpt;
  const int64_t C = g.channels, L = g.layers;
  check_input(c.batch >= 1 && c.batch <= (1 << 20), "task: batch size out of range");
  const int64_t N = int64_t(c.batch) * g.context;
  const int64_t acts = N * (16 * C * L + 2 * g.vocab) + int64_t(c.batch) * g.heads * g.context * g.context * L;
  check_input(N <= (int64_t(1) << 31) && acts <= kMaxActivations,
              "task: batch " + std::to_string(c.batch) + " of context " + std::to_string(g.context) +
                  " needs too many activations for this model");
  check_input(!c.text.empty(), "task: dataset has no training text");
  check_input(c.text_length >= uint64_t(g.context) + 1 && c.text_length <= kMaxTextBytes,
              "task: text length " + std::to_string(c.text_length) + " (at least one window of context + 1 = " +
                  std::to_string(g.context + 1) + " bytes, at most 2^31)");
  check_input(c.val_text.empty() ? c.val_text_length == 0
                                 : c.val_text_length >= uint64_t(g.context) + 1 && c.val_text_length <= kMaxTextBytes,
              "task: validation text length " + std::to_string(c.val_text_length) + " (at least context + 1 = " +
                  std::to_string(g.context + 1) + " bytes, at most 2^31)");
  check_input(std::isfinite(c.clip) && c.clip >= 0, "task: clip must be non-negative");
  if (c.cut.enabled()) check_cut(c);
}
}  // namespace

void check_task(const TaskConfig& c) {
  if (c.is_gpt()) {
    check_gpt_shape(c.gpt);
    check_gpt_task_rest(c);
    return check_run(c);
  }
  check_input(c.clip == 0, "task: clip is for a GPT task");
  check_input(c.widths.size() >= 2 && c.widths.size() <= 64, "task: an MLP needs 2 to 64 widths");
  int64_t params = 0;
  for (int x : c.widths) check_input(x >= 1 && x <= kMaxWidth, "task: layer width " + std::to_string(x) + " out of range");
  for (size_t l = 0; l + 1 < c.widths.size(); l++) params += int64_t(c.widths[l]) * c.widths[l + 1] + c.widths[l + 1];
  check_input(params <= kMaxParameters, "task: model too large");
  check_input(c.batch >= 1 && c.batch <= (1 << 20), "task: batch size out of range");
  check_input(!c.train_images.empty() && !c.train_labels.empty(), "task: dataset has no training files");
  check_input(c.test_images.empty() == c.test_labels.empty(), "task: test images and labels go together");
  check_input(c.count >= 1, "task: dataset count is 0");
  check_input(uint64_t(c.rows) * c.cols == uint64_t(c.widths[0]),
              "task: input width " + std::to_string(c.widths[0]) + " does not match " + std::to_string(c.rows) + "x" +
                  std::to_string(c.cols) + " images");
  check_input(c.classes >= 2 && c.classes <= 256 && uint32_t(c.widths.back()) == c.classes,
              "task: output width must equal the number of classes");
  check_input(uint32_t(c.batch) <= c.count, "task: batch larger than the dataset");
  check_input(std::isfinite(c.input_scale), "task: inputScale is not finite");
  if (c.cut.enabled()) check_cut(c);
  check_run(c);
}

namespace {
void check_run(const TaskConfig& c) {
  check_input(c.steps >= 1 && c.steps <= int64_t(UINT32_MAX), "task: steps must be 1 to 2^32-1");
  check_input(c.checkpoint_every >= 1 && c.checkpoint_every <= int64_t(UINT32_MAX),
              "task: checkpointEvery must be 1 to 2^32-1");
  // What the task implies, before anyone allocates it (both products fit in int64).
  const int64_t draws = c.steps * c.batch;
  check_input(draws <= kMaxBatchOrder, "task: " + std::to_string(c.steps) + " steps of batch " + std::to_string(c.batch) +
                                           " make a batch order of " + std::to_string(draws) +
                                           " entries, over the limit of 2^28 (" + std::to_string(kMaxBatchOrder) + ")");
  const int64_t checkpoints = (c.steps + c.checkpoint_every - 1) / c.checkpoint_every + 1;
  check_input(checkpoints <= kMaxCheckpoints,
              "task: " + std::to_string(c.steps) + " steps with a checkpoint every " + std::to_string(c.checkpoint_every) +
                  " make " + std::to_string(checkpoints) + " checkpoints, over the limit of 2^16 (" +
                  std::to_string(kMaxCheckpoints) + ")");
  check_input(finite_nonneg(c.lr) && c.lr > 0, "task: lr must be positive");
  check_input(finite_nonneg(c.momentum) && c.momentum < 1, "task: momentum must be in [0, 1)");
  check_input(finite_nonneg(c.weight_decay), "task: weightDecay must be non-negative");
  check_input(finite_nonneg(c.beta1) && c.beta1 < 1 && finite_nonneg(c.beta2) && c.beta2 < 1,
              "task: betas must be in [0, 1)");
  check_input(std::isfinite(c.eps) && c.eps > 0, "task: eps must be positive");
  check_input(c.step_size >= 0 && c.step_size <= int64_t(UINT32_MAX) && c.warmup_steps >= 0 &&
                  c.warmup_steps <= int64_t(UINT32_MAX),
              "task: schedule stepSize and warmupSteps must be 0 to 2^32-1");
  check_input(c.schedule != ScheduleType::Step || c.step_size >= 1, "task: step schedule needs stepSize >= 1");
  check_input(finite_nonneg(c.gamma) && finite_nonneg(c.min_lr), "task: schedule gamma and minLr must be non-negative");
  if (c.reduce_chunk != 0) {
    check_input(c.exact, "task: reduceChunk applies to exact mode (a fast task has no fixed reduction order)");
    check_input(valid_reduce_chunk(c.batch, c.reduce_chunk),
                "task: reduceChunk " + std::to_string(c.reduce_chunk) + " does not divide batch " +
                    std::to_string(c.batch) + " into a power-of-two count of chunks");
  }
  const double budget = task_budget_flops(c);
  check_input(c.budget_flops == 0 || c.budget_flops == budget,
              "task: budgetFlops " + std::to_string(c.budget_flops) + " is not the " + std::to_string(budget) +
                  " that the model and step count imply");
}
}  // namespace


TaskConfig task_config(schema::Task::Reader t) {
  TaskConfig c = task_fields(t);
  check_task(c);
  c.budget_flops = task_budget_flops(c);
  return c;
}

double task_budget_flops(const TaskConfig& c) {
  return double(model_kind(c.model).flops_per_step(c)) * double(c.steps);
}

namespace {
// The fields every task shares: optimizer, schedule, batch, steps, seed, mode, budget,
// provenance (in the order the MLP's tasks always wrote them).
void build_run(const TaskConfig& c, schema::Task::Builder t);
// The pipeline cut, when there is one (after the run's fields, as the MLP's tasks wrote it).
void build_cut(const TaskConfig& c, schema::Task::Builder t);
}  // namespace

void build_task(const TaskConfig& c, schema::Task::Builder t) {
  check_task(c);
  t.setFormatVersion(current_version(FileKind::Task));
  auto m = t.initModel();
  auto d = t.initDataset();
  auto file = [](schema::DataFile::Builder f, const std::string& path, const Hash& h) {
    f.setPath(path);
    if (!path.empty()) f.setHash(as_data(h));
  };
  if (c.is_gpt()) {
    m.setKind("gpt");
    m.setActivation("gelu_tanh");
    auto g = m.initGpt();
    g.setLayers(uint32_t(c.gpt.layers));
    g.setHeads(uint32_t(c.gpt.heads));
    g.setChannels(uint32_t(c.gpt.channels));
    g.setContext(uint32_t(c.gpt.context));
    g.setVocab(uint32_t(c.gpt.vocab));
    d.setFormat("text");
    auto x = d.initText();
    file(x.initTrain(), c.text, c.text_hash);
    x.setLength(c.text_length);
    file(x.initValidation(), c.val_text, c.val_text_hash);
    x.setValidationLength(c.val_text_length);
    d.setContentHash(as_data(c.text_hash));  // the commitment to the dataset: the text's hash
    if (c.clip > 0) t.setClip(c.clip);
  } else {
    m.setKind("mlp");
    m.setActivation("relu");
    auto w = m.initWidths(unsigned(c.widths.size()));
    for (size_t i = 0; i < c.widths.size(); i++) w.set(unsigned(i), uint32_t(c.widths[i]));
  }
  if (c.is_gpt()) {
    build_run(c, t);
    build_cut(c, t);
    return;
  }
  d.setFormat("idx");
  file(d.initTrainImages(), c.train_images, c.train_images_hash);
  file(d.initTrainLabels(), c.train_labels, c.train_labels_hash);
  file(d.initTestImages(), c.test_images, c.test_images_hash);
  file(d.initTestLabels(), c.test_labels, c.test_labels_hash);
  d.setCount(c.count);
  d.setRows(c.rows);
  d.setCols(c.cols);
  d.setClasses(c.classes);
  d.setContentHash(as_data(c.content_hash));
  d.setSampleRoot(as_data(c.sample_root));
  d.setInputScale(c.input_scale);
  build_run(c, t);
  build_cut(c, t);
}

namespace {
void build_cut(const TaskConfig& c, schema::Task::Builder t) {
  if (!c.cut.enabled()) return;  // no cut: no field, so the task hashes as before the field existed
  auto k = t.initCut();
  k.setLayer(uint32_t(c.cut.layer));
  k.setForwardBits(uint32_t(c.cut.forward_bits));
  k.setBackwardBits(uint32_t(c.cut.backward_bits));
  // 0 is not written (the field absent), so a cut without them hashes as before they existed
  if (c.cut.rotate_tile) k.setRotateTile(c.cut.rotate_tile);
  if (c.cut.scale_tile) k.setScaleTile(c.cut.scale_tile);
}

void build_run(const TaskConfig& c, schema::Task::Builder t) {
  auto o = t.initOptimizer();
  o.setKind(c.optimizer == OptimizerType::Sgd ? schema::OptimizerKind::SGD : schema::OptimizerKind::ADAMW);
  o.setLr(c.lr);
  o.setMomentum(c.momentum);
  o.setWeightDecay(c.weight_decay);
  o.setBeta1(c.beta1);
  o.setBeta2(c.beta2);
  o.setEps(c.eps);
  auto s = t.initSchedule();
  switch (c.schedule) {
    case ScheduleType::Constant: s.setKind(schema::ScheduleKind::CONSTANT); break;
    case ScheduleType::Step: s.setKind(schema::ScheduleKind::STEP); break;
    case ScheduleType::Cosine: s.setKind(schema::ScheduleKind::COSINE); break;
  }
  s.setStepSize(uint32_t(c.step_size));
  s.setGamma(c.gamma);
  s.setWarmupSteps(uint32_t(c.warmup_steps));
  s.setMinLr(c.min_lr);
  t.setBatch(uint32_t(c.batch));
  t.setSteps(uint32_t(c.steps));
  t.setCheckpointEvery(uint32_t(c.checkpoint_every));
  t.setSeed(c.seed);
  t.setMode(c.exact ? schema::Mode::EXACT : schema::Mode::FAST);
  t.setBudgetFlops(task_budget_flops(c));
  set_provenance(t.initProvenance());
  t.setReduceChunk(uint32_t(c.reduce_chunk));  // 0 leaves the encoding as before the field
}
}  // namespace

void check_cut(const TaskConfig& c) {
  // The cut needs a layer on each side of it (an MLP's hidden layer, a GPT's block
  // boundary), and bits that AQ-SGD codes.
  const CutSpec& cut = c.cut;
  const int last = c.is_gpt() ? c.gpt.layers - 1 : int(c.widths.size()) - 2;
  if (c.is_gpt())
    check_input(cut.layer >= 1 && cut.layer <= last,
                "task: cut after block " + std::to_string(cut.layer) + ", but the model's " +
                    std::to_string(c.gpt.layers) + " block(s) " +
                    (last > 0 ? "can be cut after blocks 1-" + std::to_string(last) : std::string("cannot be cut")));
  check_input(cut.layer >= 1 && cut.layer <= last,
              "task: cut after layer " + std::to_string(cut.layer) + ", but the model has " +
                  (last > 0 ? "hidden layers 1-" + std::to_string(last) : std::string("no hidden layer")));
  for (int bits : {cut.forward_bits, cut.backward_bits})
    check_input(aqsgd::valid_bits(bits), "task: cut bits " + std::to_string(bits) + " (2, 3, 4 or 8)");
  for (uint32_t t : {cut.rotate_tile, cut.scale_tile})
    check_input(aqsgd::valid_tile(t), "task: cut tile " + std::to_string(t) + " (0, or a power of two from 2 to " +
                                          std::to_string(aqsgd::kMaxTile) + ")");
  const int64_t width = c.is_gpt() ? int64_t(c.gpt.context) * c.gpt.channels : c.widths[size_t(cut.layer)];
  // The buffer is allocated whole (proofwork-files(5), LIMITS): a GPT's holds T x C values
  // for every window start of its text.
  const int64_t values = int64_t(cut.samples) * width;
  check_input(values <= kMaxCutBuffer, "task: the cut's buffer would hold " + std::to_string(values) +
                                           " values (" + std::to_string(cut.samples) + " samples x " +
                                           std::to_string(width) + "), above 2^28" +
                                           (c.is_gpt() ? ": a GPT cut needs a shorter text" : ""));
}

Hash task_hash(schema::Task::Reader t) { return canonical_hash(t); }

std::vector<int64_t> checkpoint_steps(const TaskConfig& c) {
  std::vector<int64_t> s;
  for (int64_t k = 0; k < c.steps; k += c.checkpoint_every) s.push_back(k);
  s.push_back(c.steps);
  return s;
}

float lr_at(const TaskConfig& c, int64_t step) {
  double lr = c.lr;
  switch (c.schedule) {
    case ScheduleType::Constant: break;
    case ScheduleType::Step: {
      lr *= pow_int(c.gamma, step / c.step_size);
      break;
    }
    case ScheduleType::Cosine: {
      if (step < c.warmup_steps) {
        lr = c.lr * double(step + 1) / double(c.warmup_steps);
      } else {
        const int64_t span = c.steps - c.warmup_steps;
        const double t = span > 0 ? double(step - c.warmup_steps) / double(span) : 1.0;
        lr = c.min_lr + (c.lr - c.min_lr) * 0.5 * (1.0 + cos_f64(3.14159265358979323846 * t));
      }
      break;
    }
  }
  return float(lr);
}

SgdScalars sgd_scalars(const TaskConfig& c, int64_t step) {
  return {lr_at(c, step), float(c.momentum), float(c.weight_decay), step == 0};
}

AdamwScalars adamw_scalars(const TaskConfig& c, int64_t step) {
  const double lr = lr_at(c, step);
  const double b1t = pow_int(c.beta1, step + 1), b2t = pow_int(c.beta2, step + 1);  // torch counts steps from 1
  AdamwScalars s;
  s.decay = float(1.0 - lr * c.weight_decay);
  s.beta1 = float(c.beta1);
  s.one_minus_beta1 = float(1.0 - c.beta1);
  s.beta2 = float(c.beta2);
  s.one_minus_beta2 = float(1.0 - c.beta2);
  s.step_size = float(lr / (1.0 - b1t));
  s.bc2_sqrt = float(std::sqrt(1.0 - b2t));
  s.eps = float(c.eps);
  return s;
}

std::string gpt_spec(const GptSpec& g) {
  return "gpt:" + std::to_string(g.layers) + "-" + std::to_string(g.heads) + "-" + std::to_string(g.channels) + "-" +
         std::to_string(g.context);
}

std::string model_spec(const TaskConfig& c) { return c.is_gpt() ? gpt_spec(c.gpt) : mlp_spec(c.widths); }

std::string mlp_spec(const std::vector<int>& widths) {
  std::string s = "mlp:";
  for (size_t i = 0; i < widths.size(); i++) s += (i ? "-" : "") + std::to_string(widths[i]);
  return s;
}

namespace {
// The parts of "A<sep>B<sep>..." from position `from` (empty parts kept).
std::vector<std::string> split_at(const std::string& s, size_t from, char sep) {
  std::vector<std::string> parts;
  for (size_t i = from;;) {
    const size_t j = s.find(sep, i);
    parts.push_back(s.substr(i, j == std::string::npos ? std::string::npos : j - i));
    if (j == std::string::npos) return parts;
    i = j + 1;
  }
}

// A number of at most 7 digits; `bad(part)` throws on anything else.
template <typename Bad>
int parse_number(const std::string& part, Bad bad) {
  if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos || part.size() > 7) bad(part);
  return std::stoi(part);
}

// The numbers of "N<sep>N<sep>..." from position `from`.
template <typename Bad>
std::vector<int> parse_numbers(const std::string& s, size_t from, char sep, Bad bad) {
  std::vector<int> n;
  for (const std::string& part : split_at(s, from, sep)) n.push_back(parse_number(part, bad));
  return n;
}
}  // namespace

std::vector<int> parse_mlp_spec(const std::string& spec) {
  if (spec.rfind("mlp:", 0) != 0) usage_error("--model '" + spec + "': expected mlp:W0-W1-...-Wn");
  std::vector<int> w = parse_numbers(spec, 4, '-', [&](const std::string& part) {
    usage_error("--model '" + spec + "': '" + part + "' is not a layer width");
  });
  if (w.size() < 2) usage_error("--model '" + spec + "': needs at least an input and an output width");
  return w;
}

GptSpec parse_gpt_spec(const std::string& spec) {
  const std::string expected = "--model '" + spec + "': expected gpt:LAYERS-HEADS-CHANNELS-CONTEXT, e.g. gpt:2-2-32-16";
  if (spec.rfind("gpt:", 0) != 0) usage_error(expected);
  std::vector<int> n = parse_numbers(spec, 4, '-', [&](const std::string& part) {
    usage_error(expected + " ('" + part + "' is not a number)");
  });
  if (n.size() != 4) usage_error(expected);
  GptSpec g;
  g.layers = n[0];
  g.heads = n[1];
  g.channels = n[2];
  g.context = n[3];
  return g;
}

CutSpec parse_cut_spec(const std::string& spec) {
  const std::string expected =
      "--cut '" + spec + "': expected LAYER:BITS[:BWDBITS][:rot=T][:tile=S], e.g. 1:2:8 or 1:2:8:rot=64:tile=64";
  // The numbers, then the named options.
  const std::vector<std::string> parts = split_at(spec, 0, ':');
  const auto number = [&](const std::string& part) {
    return parse_number(part, [&](const std::string& p) { usage_error(expected + " ('" + p + "' is not a number)"); });
  };
  std::vector<int> n;
  CutSpec c;
  bool rot = false, tile = false;
  for (const std::string& part : parts) {
    if (part.rfind("rot=", 0) == 0 && !rot && n.size() >= 2) {
      c.rotate_tile = uint32_t(number(part.substr(4)));
      rot = true;
    } else if (part.rfind("tile=", 0) == 0 && !tile && n.size() >= 2) {
      c.scale_tile = uint32_t(number(part.substr(5)));
      tile = true;
    } else if (!rot && !tile && n.size() < 3) {
      n.push_back(number(part));
    } else {
      usage_error(expected + " ('" + part + "' out of place)");
    }
  }
  if (n.size() < 2) usage_error(expected);
  c.layer = n[0];
  c.forward_bits = n[1];
  c.backward_bits = n.size() == 3 ? n[2] : 8;
  return c;
}

void parse_schedule_spec(const std::string& spec, TaskConfig& c) {
  const std::vector<std::string> parts = split_at(spec, 0, ':');
  auto num = [&](size_t k, const char* what, bool whole) {
    try {
      size_t used = 0;
      const double v = std::stod(parts[k], &used);
      if (used != parts[k].size() || !std::isfinite(v) || v < 0) throw std::invalid_argument("");
      if (whole && (v != std::floor(v) || v > double(UINT32_MAX))) throw std::invalid_argument("");
      return v;
    } catch (const std::exception&) {
      usage_error("--schedule '" + spec + "': bad " + what + " '" + parts[k] + "'");
    }
  };
  const TaskConfig defaults;
  c.step_size = defaults.step_size;
  c.gamma = defaults.gamma;
  c.warmup_steps = defaults.warmup_steps;
  c.min_lr = defaults.min_lr;
  if (parts[0] == "constant" && parts.size() == 1) {
    c.schedule = ScheduleType::Constant;
  } else if (parts[0] == "step" && (parts.size() == 2 || parts.size() == 3)) {
    c.schedule = ScheduleType::Step;
    c.step_size = int64_t(num(1, "step size", true));
    if (parts.size() == 3) c.gamma = num(2, "gamma", false);
  } else if (parts[0] == "cosine" && parts.size() <= 3) {
    c.schedule = ScheduleType::Cosine;
    if (parts.size() >= 2) c.warmup_steps = int64_t(num(1, "warm-up steps", true));
    if (parts.size() == 3) c.min_lr = num(2, "minimum lr", false);
  } else {
    usage_error("--schedule '" + spec + "': expected constant, step:SIZE[:GAMMA] or cosine[:WARMUP[:MIN_LR]]");
  }
}

std::string cut_spec(const CutSpec& c) {
  if (!c.enabled()) return "";
  return std::to_string(c.layer) + ":" + std::to_string(c.forward_bits) + ":" + std::to_string(c.backward_bits) +
         (c.rotate_tile ? ":rot=" + std::to_string(c.rotate_tile) : "") +
         (c.scale_tile ? ":tile=" + std::to_string(c.scale_tile) : "");
}

}  // namespace pw
