// Shared by the unit tests: a scratch directory, a check that a call throws pw::Error
// with a given exit code, a guard of the thread count and GEMM kernel, the tiny fixture
// set, the tests' small task (as a TaskConfig, and as a task message and file written by
// the library's task writer), a consistent forgery of a checkpoint, and the data folder
// beside the repository; deterministic test numbers (TestRng) and ulp errors.
#pragma once
#include <doctest/doctest.h>

#include <capnp/message.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/program.hpp"
#include "dist/data_parallel.hpp"
#include "io/hash.hpp"
#include "io/message.hpp"
#include "proof/proof.hpp"
#include "proof/task_file.hpp"
#include "schema/proofwork.capnp.h"
#include "tensor/gemm.hpp"
#include "tensor/ops.hpp"
#include "train/dataset.hpp"
#include "train/task.hpp"
#include "train/trainer.hpp"

namespace pwtest {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
struct ScratchDir {
  std::string path;
  ScratchDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/pw-unit-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    REQUIRE(mkdtemp(buf.data()) != nullptr);
    path = buf.data();
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return path + "/" + name; }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path)) names.push_back(e.path().filename().string());
    return names;
  }
};

// The exit code of the pw::Error that `f` throws; -1 when it throws nothing, -2 when
// it throws anything else.
template <typename F>
int error_code_of(F&& f) {
  try {
    f();
  } catch (const pw::Error& e) {
    return e.code;
  } catch (...) {
    return -2;
  }
  return -1;
}

// The message of the pw::Error that `f` throws; "" when it throws none.
template <typename F>
std::string error_message_of(F&& f) {
  try {
    f();
  } catch (const pw::Error& e) {
    return e.what();
  }
  return "";
}

inline pw::Hash filled_hash(uint8_t v) {
  pw::Hash h;
  for (size_t i = 0; i < h.size(); i++) h[i] = uint8_t(v + i);
  return h;
}

// A valid task's description: mlp:784-32-10 on 1000 28×28 images of 10 classes (stand-in
// paths and commitments: filled_hash 1 to 4), SGD (lr 0.1, momentum 0.9, weight decay
// 5e-4), batch 10, 20 steps, a checkpoint every 5, exact mode.
inline pw::TaskConfig task_description() {
  pw::TaskConfig c;
  c.widths = {784, 32, 10};
  c.train_images = "train-images-idx3-ubyte.gz";
  c.train_labels = "train-labels-idx1-ubyte.gz";
  c.train_images_hash = filled_hash(1);
  c.train_labels_hash = filled_hash(2);
  c.content_hash = filled_hash(3);
  c.sample_root = filled_hash(4);
  c.count = 1000, c.rows = 28, c.cols = 28, c.classes = 10;
  c.optimizer = pw::OptimizerType::Sgd;
  c.lr = 0.1;
  c.momentum = 0.9;
  c.weight_decay = 5e-4;
  c.batch = 10;
  c.steps = 20;
  c.checkpoint_every = 5;
  c.seed = 0x1234567890abcdefull;
  c.exact = true;
  return c;
}

// task_description's task as the task writer encodes it (build_task; its FLOP budget
// 30489600 = 6 · batch 10 · steps 20 · (784·32 + 32·10)), for tests to change field by
// field.
inline void fill_task(pw::schema::Task::Builder t) { pw::build_task(task_description(), t); }

// Restores the thread count and the GEMM kernel choice however a test ends.
struct SettingsGuard {
  int threads = pw::get_threads();
  ~SettingsGuard() {
    pw::gemm_force_portable(false);
    pw::set_threads(threads);
  }
};

// The committed tiny fixture set: 1000 Fashion-MNIST training samples of 10 classes
// and 200 test samples. A file's path, and the set loaded (the training files;
// with `with_test`, the test files too).
inline std::string tiny(const std::string& name) { return std::string(PW_FIXTURES) + "/tiny/" + name; }

inline pw::Dataset tiny_dataset(bool with_test = false) {
  return pw::load_dataset(tiny("train-images-idx3-ubyte.gz"), tiny("train-labels-idx1-ubyte.gz"),
                          with_test ? tiny("t10k-images-idx3-ubyte.gz") : "",
                          with_test ? tiny("t10k-labels-idx1-ubyte.gz") : "", 10);
}

// The tests' small task over the tiny set, as the trainer takes it: mlp:784-32-10,
// batch 32, 20 steps, a checkpoint every 10, seed 11; SGD (lr 0.05, momentum 0.9) or
// AdamW (lr 1e-3), weight decay 1e-4; exact mode unless `exact` is false. The CLI tests'
// make_tiny_task is the same task with 40 steps.
inline pw::TaskConfig tiny_config(pw::OptimizerType opt = pw::OptimizerType::Sgd, bool exact = true) {
  pw::TaskConfig c;
  c.widths = {784, 32, 10};
  c.batch = 32;
  c.steps = 20;
  c.checkpoint_every = 10;
  c.seed = 11;
  c.exact = exact;
  c.optimizer = opt;
  c.lr = opt == pw::OptimizerType::Sgd ? 0.05 : 1e-3;
  c.momentum = 0.9;
  c.weight_decay = 1e-4;
  c.count = 1000, c.rows = 28, c.cols = 28, c.classes = 10;
  return c;
}

// A consistent forgery: checkpoint `index` of the proof in `dir` (of `task`) read,
// changed by edit(tape, workspace), and written back with its file hash and the
// manifest updated, so that only replay can tell.
template <typename Edit>
void forge_checkpoint(const std::string& dir, const pw::LoadedTask& task, size_t index, Edit&& edit) {
  pw::Manifest man = pw::read_manifest(dir, 1 << 20);
  REQUIRE(index < man.checkpoints.size());
  const pw::Tape tape = pw::tape_for(task.cfg);
  pw::Workspace ws(tape);
  pw::read_checkpoint(dir, man.checkpoints[index], tape, task.hash, ws);
  edit(tape, ws);
  man.checkpoints[index] = pw::write_checkpoint(dir, tape, ws, man.checkpoints[index].step, task.hash);
  pw::write_manifest(dir, man);
}

// NAME in the data folder beside the repository (../shared/data, or $PW_SHARED_DATA):
// data too large to commit, such as the TSPLIB instances, which CI provides. A test that
// needs it fails when it is missing; it never skips.
inline std::string shared_data(const std::string& name) {
  const char* env = std::getenv("PW_SHARED_DATA");
  const std::string base = env && *env ? std::string(env) : std::string(PW_FIXTURES) + "/../../../shared/data";
  const std::string path = base + "/" + name;
  REQUIRE_MESSAGE(std::filesystem::exists(path), "missing " << path
                                                  << ": this test needs the data folder beside the repository "
                                                     "(../shared/data; CI has it; PW_SHARED_DATA names another)");
  return path;
}

// task_description's task over the tiny set itself, changed by `edit`, its dataset
// committed as pol-task does (commit_dataset), written to dir/name (write_task) and
// loaded back as the programs do.
inline pw::LoadedTask tiny_task(const ScratchDir& dir, const std::string& name,
                                const std::function<void(pw::TaskConfig&)>& edit = {}) {
  pw::TaskConfig c = task_description();
  c.train_images = tiny("train-images-idx3-ubyte.gz");
  c.train_labels = tiny("train-labels-idx1-ubyte.gz");
  if (edit) edit(c);
  pw::commit_dataset(c);
  pw::write_task(dir.file(name), c, false);
  return pw::load_task(dir.file(name));
}

// Deterministic test data: a 64-bit LCG, values spread over several binades so that
// rounding differences between summation orders would show in the low bits.
struct TestRng {
  uint64_t s;
  explicit TestRng(uint64_t seed) : s(seed * 6364136223846793005ull + 1442695040888963407ull) {}
  uint32_t next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return uint32_t(s >> 33);
  }
  // next() has 31 random bits: the top 24 make a fraction in [0, 1).
  float uniform(float lo, float hi) { return lo + (hi - lo) * float(next() >> 7) * (1.0f / 16777216.0f); }
  float awkward() {  // sign × 2^[-4, 4) × [1, 2)
    float m = uniform(1.0f, 2.0f);
    int e = int(next() % 8) - 4;
    return std::ldexp(next() & 1 ? -m : m, e);
  }
};

// |y − ref| in units of the float ulp at ref (2^-149 in the subnormal range).
inline double ulp_error(float y, double ref) {
  if (std::isnan(y) || std::isnan(ref)) return std::isnan(y) && std::isnan(ref) ? 0.0 : 1e30;
  if (std::isinf(y) || std::isinf(ref)) return y == ref ? 0.0 : 1e30;
  const double a = std::fabs(ref);
  int e;
  std::frexp(a, &e);  // a in [2^(e-1), 2^e)
  const double ulp = a < double(FLT_MIN) ? std::ldexp(1.0, -149) : std::ldexp(1.0, e - 1 - 23);
  return std::fabs(double(y) - ref) / ulp;
}

// Values of mixed sign over 12 binades (seeded): every reordering of a sum changes its
// bits, so a test of an accumulation order can fail.
inline std::vector<float> awkward_values(size_t n, uint64_t seed) {
  std::vector<float> v(n);
  uint64_t s = seed * 6364136223846793005ull + 1;
  for (auto& x : v) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    const uint32_t r = uint32_t(s >> 33);
    const float m = 1.0f + float(r >> 9) / 4194304.0f;  // [1, 2)
    x = std::ldexp((r & 1) ? -m : m, int((r >> 1) % 12) - 6);
  }
  return v;
}

inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// D data-parallel ranks simulated in one process (lib/dist's step, the tree over the
// ranks' partials in place of MPI): `steps` steps of `c` on `data`. Returns every rank's
// trainer; *loss: the last step's loss.
inline std::vector<std::unique_ptr<pw::Trainer>> data_parallel_run(const pw::TaskConfig& c, const pw::Dataset& data,
                                                                   int D, int64_t steps, float* loss) {
  std::vector<std::unique_ptr<pw::Trainer>> tr;
  std::vector<std::unique_ptr<pw::DataParallelStep>> dp;
  for (int r = 0; r < D; r++) {
    tr.push_back(std::make_unique<pw::Trainer>(c, data));
    dp.push_back(std::make_unique<pw::DataParallelStep>(c, D, r));
  }
  for (int64_t s = 0; s < steps; s++) {
    std::vector<float> all;  // the ranks' partials one after another, then the tree over them
    for (int r = 0; r < D; r++) {
      dp[size_t(r)]->forward_backward(tr[size_t(r)]->ws, tr[size_t(r)]->context(s));
      all.insert(all.end(), dp[size_t(r)]->partials().begin(), dp[size_t(r)]->partials().end());
    }
    const size_t n = dp[0]->partials().size();
    pw::tree_combine(all.data(), D, int64_t(n));
    for (int r = 0; r < D; r++) {
      std::copy(all.begin(), all.begin() + int64_t(n), dp[size_t(r)]->partials().begin());
      *loss = dp[size_t(r)]->update(tr[size_t(r)]->ws, tr[size_t(r)]->context(s));
    }
  }
  return tr;
}

}  // namespace pwtest
