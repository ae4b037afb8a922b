// lib/train: task validation, the learning-rate schedules and optimizer scalars, the
// seed-derived batch order and initial weights, datasets, and a short training run.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "io/message.hpp"
#include "tensor/gemm.hpp"
#include "tensor/philox.hpp"
#include "train/dataset.hpp"
#include "train/task.hpp"
#include "train/trainer.hpp"
#include "unit_helpers.hpp"

using pwtest::error_code_of;

namespace {

const std::string kTiny = std::string(PW_FIXTURES) + "/tiny";

// task_config of the valid task after `mutate`; the exit code of any failure in *code.
pw::TaskConfig config_after(const std::function<void(pw::schema::Task::Builder)>& mutate, int* code = nullptr) {
  capnp::MallocMessageBuilder mb;
  auto t = mb.initRoot<pw::schema::Task>();
  pwtest::fill_task(t);
  mutate(t);
  pw::TaskConfig c;
  const int got = error_code_of([&] { c = pw::task_config(t.asReader()); });
  if (code) *code = got;
  return c;
}

int config_code(const std::function<void(pw::schema::Task::Builder)>& mutate) {
  int code = 0;
  config_after(mutate, &code);
  return code;
}

pw::TaskConfig base_config() {
  return config_after([](pw::schema::Task::Builder) {});
}

}  // namespace

// ---------------------------------------------------------------- task

TEST_CASE("task_config reads a valid task") {
  int code = 0;
  const pw::TaskConfig c = config_after([](pw::schema::Task::Builder) {}, &code);
  REQUIRE(code == -1);
  CHECK(c.widths == std::vector<int>{784, 32, 10});
  CHECK(c.batch == 10);
  CHECK(c.steps == 20);
  CHECK(c.checkpoint_every == 5);
  CHECK(c.seed == 0x1234567890abcdefull);
  CHECK(c.exact);
  CHECK(c.optimizer == pw::OptimizerType::Sgd);
  CHECK(c.lr == 0.1);
  CHECK(c.momentum == 0.9);
  CHECK(c.weight_decay == 5e-4);
  CHECK(c.schedule == pw::ScheduleType::Constant);
  CHECK(c.count == 1000);
  CHECK(c.rows == 28);
  CHECK(c.cols == 28);
  CHECK(c.classes == 10);
  CHECK(c.train_images == "train-images-idx3-ubyte.gz");
  CHECK(c.content_hash == pwtest::filled_hash(3));
  CHECK(c.sample_root == pwtest::filled_hash(4));
  CHECK(c.test_images.empty());
  CHECK(c.input_scale == float(0.00392156862745098));  // the schema's default, 1/255
  CHECK(c.budget_flops == 30489600);
  // Adamw and fast mode.
  const pw::TaskConfig a = config_after([](pw::schema::Task::Builder t) {
    t.getOptimizer().setKind(pw::schema::OptimizerKind::ADAMW);
    t.setMode(pw::schema::Mode::FAST);
  });
  CHECK(a.optimizer == pw::OptimizerType::Adamw);
  CHECK_FALSE(a.exact);
  CHECK(a.beta1 == 0.9);
  CHECK(a.beta2 == 0.999);
  CHECK(a.eps == 1e-8);
}

TEST_CASE("task_config rejects invalid tasks with exit status 3") {
  using T = pw::schema::Task::Builder;
  const int bad = pw::kExitBadInput;
  CHECK(config_code([](T) {}) == -1);
  // Format and model.
  CHECK(config_code([](T t) { t.setFormatVersion(2); }) == bad);
  CHECK(config_code([](T t) { t.setFormatVersion(0); }) == bad);
  CHECK(config_code([](T t) { t.getModel().setKind("cnn"); }) == bad);
  CHECK(config_code([](T t) { t.getModel().setActivation("tanh"); }) == bad);
  CHECK(config_code([](T t) { t.getModel().initWidths(1).set(0, 784); }) == bad);
  CHECK(config_code([](T t) { t.getModel().initWidths(0); }) == bad);
  CHECK(config_code([](T t) { t.getModel().getWidths().set(1, 0); }) == bad);
  CHECK(config_code([](T t) { t.getModel().getWidths().set(1, (1u << 20) + 1); }) == bad);
  CHECK(config_code([](T t) { t.getModel().initWidths(65); }) == bad);
  CHECK(config_code([](T t) {  // 784·2^20 + … parameters: too large
    auto w = t.getModel().initWidths(4);
    w.set(0, 784);
    w.set(1, 1u << 20);
    w.set(2, 1u << 20);
    w.set(3, 10);
  }) == bad);
  // Widths against the data.
  CHECK(config_code([](T t) { t.getModel().getWidths().set(0, 100); }) == bad);
  CHECK(config_code([](T t) { t.getDataset().setRows(27); }) == bad);
  CHECK(config_code([](T t) { t.getModel().getWidths().set(2, 9); }) == bad);
  CHECK(config_code([](T t) { t.getDataset().setClasses(9); }) == bad);
  CHECK(config_code([](T t) { t.getDataset().setClasses(1); }) == bad);
  // Run length.
  CHECK(config_code([](T t) { t.setSteps(0); }) == bad);
  CHECK(config_code([](T t) { t.setBatch(0); }) == bad);
  CHECK(config_code([](T t) { t.setBatch(1001); }) == bad);  // more than the dataset
  CHECK(config_code([](T t) { t.setBatch((1u << 20) + 1); }) == bad);
  CHECK(config_code([](T t) { t.setCheckpointEvery(0); }) == bad);
  // Optimizer.
  CHECK(config_code([](T t) { t.getOptimizer().setLr(0); }) == bad);
  CHECK(config_code([](T t) { t.getOptimizer().setLr(-0.1); }) == bad);
  CHECK(config_code([](T t) { t.setBudgetFlops(1e9); }) == bad);  // not the budget the model implies
  CHECK(config_code([](T t) { t.setBudgetFlops(0); }) == -1);      // 0: derive
  CHECK(config_code([](T t) { t.getOptimizer().setLr(NAN); }) == bad);
  CHECK(config_code([](T t) { t.getOptimizer().setLr(INFINITY); }) == bad);
  CHECK(config_code([](T t) { t.getOptimizer().setMomentum(1.0); }) == bad);
  CHECK(config_code([](T t) { t.getOptimizer().setMomentum(-0.5); }) == bad);
  CHECK(config_code([](T t) { t.getOptimizer().setWeightDecay(-1e-4); }) == bad);
  CHECK(config_code([](T t) { t.getOptimizer().setBeta1(1.0); }) == bad);
  CHECK(config_code([](T t) { t.getOptimizer().setBeta2(NAN); }) == bad);
  CHECK(config_code([](T t) { t.getOptimizer().setEps(0); }) == bad);
  // Schedule.
  CHECK(config_code([](T t) { t.getSchedule().setKind(pw::schema::ScheduleKind::STEP); }) == bad);  // stepSize 0
  CHECK(config_code([](T t) { t.getSchedule().setKind(static_cast<pw::schema::ScheduleKind>(9)); }) == bad);
  CHECK(config_code([](T t) { t.getSchedule().setGamma(-0.5); }) == bad);
  CHECK(config_code([](T t) { t.getSchedule().setMinLr(NAN); }) == bad);
  // Dataset reference.
  CHECK(config_code([](T t) { t.getDataset().setFormat("csv"); }) == bad);
  CHECK(config_code([](T t) { t.getDataset().getTrainImages().setPath(""); }) == bad);
  CHECK(config_code([](T t) { t.getDataset().getTrainLabels().setPath(""); }) == bad);
  CHECK(config_code([](T t) { t.getDataset().initTestImages().setPath("t10k-images"); }) == bad);  // no labels
  CHECK(config_code([](T t) { t.getDataset().setCount(0); }) == bad);
  CHECK(config_code([](T t) {
    const pw::Hash h = pwtest::filled_hash(9);
    t.getDataset().setContentHash(capnp::Data::Reader(h.data(), 31));
  }) == bad);
  CHECK(config_code([](T t) {
    uint8_t h[33] = {};
    t.getDataset().getTrainImages().setHash(capnp::Data::Reader(h, 33));
  }) == bad);
  CHECK(config_code([](T t) { t.getDataset().setInputScale(NAN); }) == bad);
}

TEST_CASE("task_hash is the canonical hash, the same for binary and JSON") {
  capnp::MallocMessageBuilder mb;
  auto t = mb.initRoot<pw::schema::Task>();
  pwtest::fill_task(t);
  const pw::Hash h = pw::task_hash(t.asReader());
  CHECK(h == pw::canonical_hash(t.asReader()));
  auto json = pw::Message<pw::schema::Task>::parse(pw::to_json(t.asReader()), "task");
  CHECK(pw::task_hash(json.root()) == h);
  t.setSteps(21);
  CHECK(pw::task_hash(t.asReader()) != h);
}

TEST_CASE("checkpoint_steps") {
  pw::TaskConfig c = base_config();
  CHECK(pw::checkpoint_steps(c) == std::vector<int64_t>{0, 5, 10, 15, 20});
  c.steps = 22;
  CHECK(pw::checkpoint_steps(c) == std::vector<int64_t>{0, 5, 10, 15, 20, 22});
  c.checkpoint_every = 100;
  CHECK(pw::checkpoint_steps(c) == std::vector<int64_t>{0, 22});
  c.steps = 1;
  c.checkpoint_every = 1;
  CHECK(pw::checkpoint_steps(c) == std::vector<int64_t>{0, 1});
}

TEST_CASE("mlp_spec and parse_mlp_spec") {
  CHECK(pw::mlp_spec({784, 1024, 1024, 10}) == "mlp:784-1024-1024-10");
  CHECK(pw::parse_mlp_spec("mlp:784-1024-1024-10") == std::vector<int>{784, 1024, 1024, 10});
  CHECK(pw::parse_mlp_spec("mlp:5-3") == std::vector<int>{5, 3});
  CHECK(pw::parse_mlp_spec(pw::mlp_spec({1, 2, 3})) == std::vector<int>{1, 2, 3});
  for (const char* bad : {"", "mlp:", "mlp:784", "cnn:784-10", "mlp:784--10", "mlp:784-10-", "mlp:-784-10",
                          "mlp:78a-10", "mlp:12345678-10", "mlp: 784-10", "MLP:784-10"}) {
    INFO("spec '" << bad << "'");
    CHECK(error_code_of([&] { pw::parse_mlp_spec(bad); }) == pw::kExitUsage);
  }
}

// ---------------------------------------------------------------- schedules and scalars

TEST_CASE("lr_at: constant schedule") {
  pw::TaskConfig c = base_config();
  for (int64_t s : {0, 1, 7, 19, 1000}) CHECK(pw::lr_at(c, s) == 0.1f);
}

TEST_CASE("lr_at: step schedule") {
  pw::TaskConfig c = base_config();
  c.schedule = pw::ScheduleType::Step;
  c.step_size = 3;
  c.gamma = 0.5;
  const float want[] = {0.1f, 0.1f, 0.1f, 0.05f, 0.05f, 0.05f, 0.025f, 0.025f, 0.025f, 0.0125f};
  for (int s = 0; s < 10; s++) {
    INFO("step " << s);
    CHECK(pw::lr_at(c, s) == want[s]);
  }
  c.gamma = 0.1;
  CHECK(pw::lr_at(c, 6) == doctest::Approx(0.001).epsilon(1e-7));
  CHECK(pw::lr_at(c, 3 * 40) == doctest::Approx(1e-41).epsilon(1e-2));
}

TEST_CASE("lr_at: cosine schedule with linear warm-up") {
  pw::TaskConfig c = base_config();
  c.schedule = pw::ScheduleType::Cosine;
  c.lr = 0.1;
  c.min_lr = 0.001;
  c.warmup_steps = 5;
  c.steps = 105;
  // Warm-up: lr·(s+1)/warmup, reaching lr at its last step.
  for (int s = 0; s < 5; s++) {
    INFO("step " << s);
    CHECK(pw::lr_at(c, s) == float(0.1 * (s + 1) / 5.0));
  }
  CHECK(pw::lr_at(c, 4) == 0.1f);
  // Cosine from lr at the end of warm-up to min_lr at `steps`.
  CHECK(pw::lr_at(c, 5) == 0.1f);
  CHECK(pw::lr_at(c, 55) == doctest::Approx(0.001 + 0.099 * 0.5).epsilon(1e-7));
  CHECK(pw::lr_at(c, 30) == doctest::Approx(0.001 + 0.099 * 0.5 * (1 + std::cos(M_PI * 0.25))).epsilon(1e-7));
  CHECK(pw::lr_at(c, 105) == 0.001f);
  CHECK(pw::lr_at(c, 104) > 0.001f);
  CHECK(pw::lr_at(c, 104) == doctest::Approx(0.001 + 0.099 * 0.5 * (1 + std::cos(M_PI * 0.99))).epsilon(1e-6));
  for (int s = 5; s < 105; s++) {
    INFO("step " << s);
    CHECK(pw::lr_at(c, s + 1) <= pw::lr_at(c, s));  // non-increasing after warm-up
    CHECK(pw::lr_at(c, s) >= 0.001f);
    CHECK(pw::lr_at(c, s) <= 0.1f);
  }
  // Without warm-up the first step has the full rate; min_lr 0 ends at 0.
  c.warmup_steps = 0;
  c.min_lr = 0;
  CHECK(pw::lr_at(c, 0) == 0.1f);
  CHECK(pw::lr_at(c, 105) == 0.0f);
}

TEST_CASE("sgd_scalars and adamw_scalars") {
  pw::TaskConfig c = base_config();
  const pw::SgdScalars s0 = pw::sgd_scalars(c, 0), s1 = pw::sgd_scalars(c, 1);
  CHECK(s0.first_step);
  CHECK_FALSE(s1.first_step);
  CHECK(s0.lr == 0.1f);
  CHECK(s0.momentum == 0.9f);
  CHECK(s0.weight_decay == float(5e-4));
  c.optimizer = pw::OptimizerType::Adamw;
  c.lr = 1e-3;
  c.weight_decay = 0.01;
  const pw::AdamwScalars a0 = pw::adamw_scalars(c, 0);
  CHECK(a0.decay == float(1.0 - 1e-5));
  CHECK(a0.beta1 == 0.9f);
  CHECK(a0.one_minus_beta1 == float(1.0 - 0.9));
  CHECK(a0.beta2 == 0.999f);
  CHECK(a0.one_minus_beta2 == float(1.0 - 0.999));
  CHECK(a0.step_size == doctest::Approx(1e-3 / 0.1).epsilon(1e-6));  // torch counts steps from 1
  CHECK(a0.bc2_sqrt == doctest::Approx(std::sqrt(0.001)).epsilon(1e-6));
  CHECK(a0.eps == 1e-8f);
  const pw::AdamwScalars a9 = pw::adamw_scalars(c, 9);  // t = 10
  CHECK(a9.step_size == doctest::Approx(1e-3 / (1 - std::pow(0.9, 10))).epsilon(1e-6));
  CHECK(a9.bc2_sqrt == doctest::Approx(std::sqrt(1 - std::pow(0.999, 10))).epsilon(1e-6));
}

// ---------------------------------------------------------------- batch order

TEST_CASE("BatchOrder: each epoch is a permutation, fixed by the seed") {
  const uint32_t count = 100;
  const int batch = 10;
  pw::BatchOrder order(42, count, batch);
  CHECK(order.steps_per_epoch() == 10);
  std::vector<std::vector<uint32_t>> epochs;
  std::vector<uint32_t> buf(batch);
  for (int e = 0; e < 3; e++) {
    std::vector<uint32_t> all;
    for (int s = 0; s < 10; s++) {
      order.indices(e * 10 + s, buf.data());
      all.insert(all.end(), buf.begin(), buf.end());
    }
    std::vector<uint32_t> sorted = all;
    std::sort(sorted.begin(), sorted.end());
    for (uint32_t i = 0; i < count; i++) CHECK(sorted[i] == i);  // every index exactly once
    epochs.push_back(all);
  }
  CHECK(epochs[0] != epochs[1]);
  CHECK(epochs[1] != epochs[2]);
  std::vector<uint32_t> identity(count);
  for (uint32_t i = 0; i < count; i++) identity[i] = i;
  CHECK(epochs[0] != identity);
  // Recomputed from scratch, in any order of steps: the same indices.
  pw::BatchOrder again(42, count, batch);
  for (int s : {25, 3, 29, 0, 17}) {
    again.indices(s, buf.data());
    CHECK(std::vector<uint32_t>(buf.begin(), buf.end()) ==
          std::vector<uint32_t>(epochs[size_t(s / 10)].begin() + (s % 10) * batch,
                                epochs[size_t(s / 10)].begin() + (s % 10 + 1) * batch));
  }
  // Another seed, another order; seeds differing only in the high word too.
  for (uint64_t seed : {uint64_t(43), (uint64_t(1) << 32) | 42}) {
    pw::BatchOrder other(seed, count, batch);
    std::vector<uint32_t> all;
    for (int s = 0; s < 10; s++) {
      other.indices(s, buf.data());
      all.insert(all.end(), buf.begin(), buf.end());
    }
    CHECK(all != epochs[0]);
  }
}

TEST_CASE("BatchOrder drops the last partial batch of an epoch") {
  const uint32_t count = 103;
  const int batch = 10;
  pw::BatchOrder order(7, count, batch);
  CHECK(order.steps_per_epoch() == 10);
  std::set<uint32_t> seen;
  std::vector<uint32_t> buf(batch);
  for (int s = 0; s < 10; s++) {
    order.indices(s, buf.data());
    for (uint32_t i : buf) {
      CHECK(i < count);
      CHECK(seen.insert(i).second);  // no repeats inside an epoch
    }
  }
  CHECK(seen.size() == 100);
  // Batch = count: one step per epoch, a full permutation each time.
  pw::BatchOrder whole(7, 50, 50);
  CHECK(whole.steps_per_epoch() == 1);
  std::vector<uint32_t> a(50), b(50);
  whole.indices(0, a.data());
  whole.indices(1, b.data());
  CHECK(a != b);
  std::sort(a.begin(), a.end());
  for (uint32_t i = 0; i < 50; i++) CHECK(a[i] == i);
  CHECK(error_code_of([] { pw::BatchOrder(1, 5, 6); }) != -1);
}

// ---------------------------------------------------------------- initial state

TEST_CASE("init_state is reproducible and within nn.Linear's bound") {
  pw::TaskConfig c = base_config();
  const pw::Tape tape = pw::tape_for(c);
  pw::Workspace a(tape), b(tape);
  for (auto& v : a.t) std::fill(v.begin(), v.end(), 5.0f);
  pw::init_state(c, tape, a);
  pw::init_state(c, tape, b);
  for (int id : pw::checkpoint_tensors(tape))  // activations and gradients are not initialised
    CHECK(std::memcmp(a.t[size_t(id)].data(), b.t[size_t(id)].data(), a.t[size_t(id)].size() * 4) == 0);
  for (size_t i = 0; i < tape.params.size(); i++) {
    const int fan_in = c.widths[i / 2];
    const double bound = 1.0 / std::sqrt(double(fan_in));
    const auto& p = a.t[size_t(tape.params[i])];
    double mx = 0, mean = 0;
    for (float x : p) {
      mx = std::max(mx, std::fabs(double(x)));
      mean += x;
    }
    mean /= double(p.size());
    INFO(tape.tensors[size_t(tape.params[i])].name);
    CHECK(mx <= bound * (1 + 1e-6));
    if (p.size() >= 300) {
      CHECK(mx >= 0.95 * bound);  // spread over the whole interval
      CHECK(std::fabs(mean) < 0.1 * bound);
    }
    // Element e of parameter i is bound·(2u − 1), u from Philox(seed, init, i, e).
    for (size_t e : {size_t(0), size_t(1), p.size() - 1}) {
      const float u = pw::uniform01(pw::philox_word(c.seed, pw::kStreamInit, uint32_t(i), e));
      CHECK(p[e] == float(bound) * (2.0f * u - 1.0f));
    }
  }
  for (int id : tape.opt_state)
    for (float x : a.t[size_t(id)]) CHECK(x == 0.0f);
  // Parameters differ from each other and from another seed's.
  CHECK(a.t[size_t(tape.params[0])][0] != a.t[size_t(tape.params[2])][0]);
  pw::TaskConfig c2 = c;
  c2.seed++;
  pw::Workspace d(tape);
  pw::init_state(c2, tape, d);
  CHECK(std::memcmp(a.t[size_t(tape.params[0])].data(), d.t[size_t(tape.params[0])].data(),
                    a.t[size_t(tape.params[0])].size() * 4) != 0);
}

// ---------------------------------------------------------------- datasets and training

TEST_CASE("load_dataset reads the tiny fixture and computes its commitments") {
  const pw::Dataset d = pw::load_dataset(kTiny + "/train-images-idx3-ubyte.gz", kTiny + "/train-labels-idx1-ubyte.gz",
                                         kTiny + "/t10k-images-idx3-ubyte.gz", kTiny + "/t10k-labels-idx1-ubyte.gz", 0);
  CHECK(d.count == 1000);
  CHECK(d.rows == 28);
  CHECK(d.cols == 28);
  CHECK(d.classes == 10);
  CHECK(d.features() == 784);
  CHECK(d.images.size() == 1000u * 784);
  CHECK(d.labels.size() == 1000);
  CHECK(d.test_count == 200);
  CHECK(d.test_images.size() == 200u * 784);
  // Hashes of the decompressed IDX bytes.
  pw::Bytes raw = pw::maybe_gunzip(pw::read_file(kTiny + "/train-labels-idx1-ubyte.gz", 1 << 20, "l"), 1 << 20, "l");
  CHECK(d.labels_hash == pw::blake2b(raw.data(), raw.size()));
  pw::Hasher ch;
  ch.update(d.images_hash.data(), 32).update(d.labels_hash.data(), 32);
  CHECK(d.content_hash == ch.final());
  std::vector<pw::Hash> leaves;
  for (uint32_t i = 0; i < d.count; i++)
    leaves.push_back(pw::Hasher().update(d.images.data() + size_t(i) * 784, 784).update(&d.labels[i], 1).final());
  CHECK(d.sample_root == pw::merkle_root(leaves));
  // Explicit classes below the largest label: bad input.
  CHECK(error_code_of([] {
          pw::load_dataset(kTiny + "/train-images-idx3-ubyte.gz", kTiny + "/train-labels-idx1-ubyte.gz", "", "", 5);
        }) == pw::kExitBadInput);
  // Images and labels of different counts.
  CHECK(error_code_of([] {
          pw::load_dataset(kTiny + "/train-images-idx3-ubyte.gz", kTiny + "/t10k-labels-idx1-ubyte.gz", "", "", 0);
        }) == pw::kExitBadInput);
  // Labels given as images.
  CHECK(error_code_of([] {
          pw::load_dataset(kTiny + "/train-labels-idx1-ubyte.gz", kTiny + "/train-labels-idx1-ubyte.gz", "", "", 0);
        }) == pw::kExitBadInput);
}

TEST_CASE("load_task_dataset checks every hash against the task") {
  const pw::Dataset d = pwtest::tiny_dataset();
  pw::TaskConfig c = base_config();
  c.train_images = "/elsewhere/train-images-idx3-ubyte.gz";
  c.train_labels = "/elsewhere/train-labels-idx1-ubyte.gz";
  c.train_images_hash = d.images_hash;
  c.train_labels_hash = d.labels_hash;
  c.content_hash = d.content_hash;
  c.sample_root = d.sample_root;
  const pw::Dataset got = pw::load_task_dataset(c, kTiny);  // relocated by base name
  CHECK(got.sample_root == d.sample_root);
  CHECK(got.images == d.images);
  CHECK(error_code_of([&] { pw::load_task_dataset(c, ""); }) == pw::kExitBadInput);  // not at the recorded path
  auto code_with = [&](auto mutate) {
    pw::TaskConfig m = c;
    mutate(m);
    return error_code_of([&] { pw::load_task_dataset(m, kTiny); });
  };
  CHECK(code_with([](pw::TaskConfig& m) { m.train_images_hash[0] ^= 1; }) == pw::kExitBadInput);
  CHECK(code_with([](pw::TaskConfig& m) { m.train_labels_hash[31] ^= 1; }) == pw::kExitBadInput);
  CHECK(code_with([](pw::TaskConfig& m) { m.content_hash[5] ^= 1; }) == pw::kExitBadInput);
  CHECK(code_with([](pw::TaskConfig& m) { m.sample_root[9] ^= 1; }) == pw::kExitBadInput);
  CHECK(code_with([](pw::TaskConfig& m) { m.count = 999; }) == pw::kExitBadInput);
  // The other dataset under the same names.
  CHECK(error_code_of([&] { pw::load_task_dataset(c, std::string(PW_FIXTURES) + "/tiny-other"); }) ==
        pw::kExitBadInput);
}

TEST_CASE("a short training run learns and gives the same bits on 1 and 2 threads") {
  pwtest::SettingsGuard guard;
  const pw::Dataset d = pwtest::tiny_dataset(true);
  pw::TaskConfig c = base_config();
  c.widths = {784, 32, 10};
  c.batch = 20;
  c.steps = 100;
  c.lr = 0.1;
  c.momentum = 0.9;
  std::vector<pw::Workspace> finals;
  std::vector<double> accuracy;
  for (int threads = 1; threads <= 2; threads++) {
    pw::set_threads(threads);
    pw::Trainer tr(c, d);
    const double acc0 = pw::test_accuracy(tr);
    double first = 0, last = 0;
    for (int s = 0; s < c.steps; s++) {
      tr.run_step();
      CHECK(std::isfinite(tr.loss));
      if (s < 10) first += tr.loss;
      if (s >= c.steps - 10) last += tr.loss;
    }
    CHECK(tr.step == c.steps);
    CHECK(last < 0.7 * first);
    const double acc = pw::test_accuracy(tr);
    MESSAGE("threads " << threads << ": test accuracy " << acc0 << " -> " << acc << ", loss " << first / 10 << " -> "
                       << last / 10);
    CHECK(acc > acc0 + 0.2);
    accuracy.push_back(acc);
    finals.push_back(tr.ws);
  }
  CHECK(accuracy[0] == accuracy[1]);
  bool same = finals[0].t.size() == finals[1].t.size();
  for (size_t i = 0; same && i < finals[0].t.size(); i++)
    same = std::memcmp(finals[0].t[i].data(), finals[1].t[i].data(), finals[0].t[i].size() * 4) == 0;
  CHECK(same);
}
