// pol-verify's core on a tiny proof: honest accepted; a checkpoint rewritten
// consistently (file and manifest hashes updated, so only replay can see it) rejected
// at the segment that produces it; beacon selection reproducible.
#include <doctest/doctest.h>

#include "io/message.hpp"
#include "proof/proof.hpp"
#include "proof/session.hpp"
#include "proof/task_file.hpp"
#include "train/trainer.hpp"
#include "unit_helpers.hpp"
#include "verify/verify.hpp"

using namespace pw;

namespace {

std::string tiny(const char* name) { return std::string(PW_FIXTURES) + "/tiny/" + name; }

// Writes a task over the tiny fixture dataset and loads it back like the programs do.
LoadedTask make_task(const pwtest::ScratchDir& dir) {
  Dataset d = load_dataset(tiny("train-images-idx3-ubyte.gz"), tiny("train-labels-idx1-ubyte.gz"), "", "", 10);
  capnp::MallocMessageBuilder mb;
  auto t = mb.initRoot<schema::Task>();
  t.setFormatVersion(1);
  auto m = t.initModel();
  m.setKind("mlp");
  m.setActivation("relu");
  auto w = m.initWidths(3);
  w.set(0, 784), w.set(1, 16), w.set(2, 10);
  auto ds = t.initDataset();
  ds.setFormat("idx");
  ds.initTrainImages().setPath(tiny("train-images-idx3-ubyte.gz"));
  ds.getTrainImages().setHash(as_data(d.images_hash));
  ds.initTrainLabels().setPath(tiny("train-labels-idx1-ubyte.gz"));
  ds.getTrainLabels().setHash(as_data(d.labels_hash));
  ds.setCount(d.count), ds.setRows(28), ds.setCols(28), ds.setClasses(10);
  ds.setContentHash(as_data(d.content_hash));
  ds.setSampleRoot(as_data(d.sample_root));
  auto o = t.initOptimizer();
  o.setKind(schema::OptimizerKind::ADAMW);
  o.setLr(1e-3), o.setWeightDecay(0.01), o.setBeta1(0.9), o.setBeta2(0.999), o.setEps(1e-8);
  t.setBatch(16), t.setSteps(12), t.setCheckpointEvery(4), t.setSeed(3);
  write_message<schema::Task>(dir.file("task.pwt"), mb, false);
  return load_task(dir.file("task.pwt"));
}

void train(const LoadedTask& task, const std::string& dir) {
  Session s(task, load_task_dataset(task.cfg, ""));
  s.open(dir);
  s.run();
}

}  // namespace

TEST_CASE("verify: honest proof accepted, consistent forgery rejected at its segment") {
  pwtest::ScratchDir scratch;
  LoadedTask task = make_task(scratch);
  const std::string proof = scratch.file("proof");
  train(task, proof);

  VerifyOptions all;
  VerifyResult ok = verify_proof(task, proof, all);
  CHECK(ok.accepted);
  CHECK(ok.segments.size() == 3);
  CHECK(ok.first_bad == -1);

  // Forge checkpoint 2 (step 8): one weight moved by one ulp, file and manifest rewritten
  // so every hash is consistent. Only replay of segment 1 (steps 4-8) can notice.
  Manifest man = read_manifest(proof, 1 << 20);
  Tape tape = tape_for(task.cfg);
  Workspace ws(tape);
  read_checkpoint(proof, man.checkpoints[2], tape, task.hash, ws);
  float& x = ws.t[size_t(tape.params[0])][5];
  x = std::nextafter(x, 1.0f);
  man.checkpoints[2] = write_checkpoint(proof, tape, ws, 8, task.hash);
  write_manifest(proof, man);

  VerifyResult bad = verify_proof(task, proof, all);
  CHECK_FALSE(bad.accepted);
  CHECK(bad.first_bad == 1);
  CHECK(bad.reason.find("segment 1 (steps 4-8)") != std::string::npos);

  // Segment 2 starts from the forged weights and replays "correctly" from them: only
  // with --keep-going do we see that it alone would have passed.
  VerifyOptions keep;
  keep.keep_going = true;
  VerifyResult every = verify_proof(task, proof, keep);
  REQUIRE(every.segments.size() == 3);
  CHECK(every.segments[0].ok);
  CHECK_FALSE(every.segments[1].ok);
  CHECK_FALSE(every.segments[2].ok);  // its end checkpoint is honest, its start is not

  // Top-Q sees the update norms; the forged segment's is recorded.
  VerifyOptions topq;
  topq.segments = 1;
  topq.beacon = "b";
  topq.top_q = 3;
  VerifyResult q = verify_proof(task, proof, topq);
  CHECK_FALSE(q.accepted);
  for (const auto& s : q.segments) CHECK(s.update_norm > 0);
}

TEST_CASE("verify: beacon selection is reproducible, distinct and depends on the root") {
  const Hash r1 = pwtest::filled_hash(1), r2 = pwtest::filled_hash(2);
  const auto a = beacon_segments("beacon", r1, 100, 10);
  CHECK(a == beacon_segments("beacon", r1, 100, 10));
  CHECK(a.size() == 10);
  for (size_t i = 1; i < a.size(); i++) CHECK(a[i - 1] < a[i]);
  CHECK(a.back() < 100);
  CHECK(a != beacon_segments("beacon", r2, 100, 10));
  CHECK(a != beacon_segments("other", r1, 100, 10));
  CHECK(beacon_segments("x", r1, 5, 50).size() == 5);
  // Every segment is drawn about equally often over many beacons.
  std::vector<int> count(20);
  for (int b = 0; b < 2000; b++)
    for (int i : beacon_segments(std::to_string(b), r1, 20, 3)) count[size_t(i)]++;
  for (int c : count) CHECK(c > 200);  // expectation 300
}
