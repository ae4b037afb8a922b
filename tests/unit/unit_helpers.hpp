// Shared by the unit tests: a scratch directory, a valid task message, and a check
// that a call throws pw::Error with a given exit code.
#pragma once
#include <doctest/doctest.h>

#include <capnp/message.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "io/hash.hpp"
#include "io/message.hpp"
#include "proof/task_file.hpp"
#include "schema/proofwork.capnp.h"
#include "train/dataset.hpp"

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

inline pw::Hash filled_hash(uint8_t v) {
  pw::Hash h;
  for (size_t i = 0; i < h.size(); i++) h[i] = uint8_t(v + i);
  return h;
}

// A valid task: mlp:784-32-10 on 1000 28×28 images of 10 classes, SGD, 20 steps.
inline void fill_task(pw::schema::Task::Builder t) {
  t.setFormatVersion(1);
  auto m = t.initModel();
  m.setKind("mlp");
  auto w = m.initWidths(3);
  w.set(0, 784);
  w.set(1, 32);
  w.set(2, 10);
  m.setActivation("relu");
  auto d = t.initDataset();
  d.setFormat("idx");
  d.initTrainImages().setPath("train-images-idx3-ubyte.gz");
  d.getTrainImages().setHash(capnp::Data::Reader(filled_hash(1).data(), 32));
  d.initTrainLabels().setPath("train-labels-idx1-ubyte.gz");
  d.getTrainLabels().setHash(capnp::Data::Reader(filled_hash(2).data(), 32));
  d.setContentHash(capnp::Data::Reader(filled_hash(3).data(), 32));
  d.setSampleRoot(capnp::Data::Reader(filled_hash(4).data(), 32));
  d.setCount(1000);
  d.setRows(28);
  d.setCols(28);
  d.setClasses(10);
  auto o = t.initOptimizer();
  o.setKind(pw::schema::OptimizerKind::SGD);
  o.setLr(0.1);
  o.setMomentum(0.9);
  o.setWeightDecay(5e-4);
  auto s = t.initSchedule();
  s.setKind(pw::schema::ScheduleKind::CONSTANT);
  t.setBatch(10);
  t.setSteps(20);
  t.setCheckpointEvery(5);
  t.setSeed(0x1234567890abcdefull);
  t.setMode(pw::schema::Mode::EXACT);
  t.setBudgetFlops(30489600);  // 6 · batch 10 · steps 20 · (784·32 + 32·10)
  auto p = t.initProvenance();
  p.setProgram("unit-tests");
  p.setVersion("0");
  p.setCommandLine("unit-tests --x 'y z'");
}

// A file of the committed tiny dataset (1000 Fashion-MNIST samples, no test set).
inline std::string tiny(const char* name) { return std::string(PW_FIXTURES) + "/tiny/" + name; }

// fill_task's task over the tiny dataset (its paths and hashes), changed by `edit`,
// written to dir/name and loaded back as the programs do.
inline pw::LoadedTask tiny_task(const ScratchDir& dir, const std::string& name,
                                const std::function<void(pw::schema::Task::Builder)>& edit = {}) {
  const pw::Dataset d =
      pw::load_dataset(tiny("train-images-idx3-ubyte.gz"), tiny("train-labels-idx1-ubyte.gz"), "", "", 10);
  capnp::MallocMessageBuilder mb;
  auto t = mb.initRoot<pw::schema::Task>();
  fill_task(t);
  auto ds = t.getDataset();
  ds.getTrainImages().setPath(tiny("train-images-idx3-ubyte.gz"));
  ds.getTrainImages().setHash(pw::as_data(d.images_hash));
  ds.getTrainLabels().setPath(tiny("train-labels-idx1-ubyte.gz"));
  ds.getTrainLabels().setHash(pw::as_data(d.labels_hash));
  ds.setContentHash(pw::as_data(d.content_hash));
  ds.setSampleRoot(pw::as_data(d.sample_root));
  if (edit) edit(t);
  pw::write_message<pw::schema::Task>(dir.file(name), mb, false);
  return pw::load_task(dir.file(name));
}

}  // namespace pwtest
