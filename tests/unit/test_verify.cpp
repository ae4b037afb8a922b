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
#include "io/version.hpp"
#include "verify/profile.hpp"
#include "verify/verdict.hpp"
#include "verify/verify.hpp"

using namespace pw;

namespace {

// An AdamW task (mlp:784-16-10) over the tiny fixture set, written and loaded back like
// the programs do.
LoadedTask make_task(const pwtest::ScratchDir& dir) {
  return pwtest::tiny_task(dir, "task.pwt", [](TaskConfig& c) {
    c.widths = {784, 16, 10};
    c.optimizer = OptimizerType::Adamw;
    c.lr = 1e-3, c.momentum = 0, c.weight_decay = 0.01, c.beta1 = 0.9, c.beta2 = 0.999, c.eps = 1e-8;
    c.batch = 16, c.steps = 12, c.checkpoint_every = 4, c.seed = 3;
  });
}

void train(const LoadedTask& task, const std::string& dir) {
  Session s(task, load_task_dataset(task.cfg, ""));
  s.open(dir);
  s.run();
}

// The message of the pw::Error that `f` throws with exit status `code` ("" if none).
template <typename F>
std::string error_message(int code, F&& f) {
  try {
    f();
  } catch (const Error& e) {
    if (e.code == code) return e.what();
  }
  return "";
}

// One shard's verification of `proof`, written as a verdict file.
std::string shard_verdict(const pwtest::ScratchDir& scratch, const LoadedTask& task, const std::string& proof,
                          int shard, int shards, const std::string& name, bool drop_last = false) {
  VerifyOptions opt;
  opt.shard = shard, opt.shards = shards;
  VerifyResult r = verify_proof(task, proof, opt);
  if (drop_last) r.segments.pop_back();
  capnp::MallocMessageBuilder mb;
  make_verdict(task, opt, r, mb);
  write_message<schema::Verdict>(scratch.file(name), mb, false);
  return scratch.file(name);
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
  pwtest::forge_checkpoint(proof, task, 2, [](const Tape& tape, Workspace& ws) {
    float& x = ws.t[size_t(tape.params[0])][5];
    x = std::nextafter(x, 1.0f);
  });

  VerifyResult bad = verify_proof(task, proof, all);
  CHECK_FALSE(bad.accepted);
  CHECK(bad.first_bad == 1);
  CHECK(bad.reason.find("segment 1 (steps 4-8)") != std::string::npos);

  // Segment 2 starts from the forged weights and replays "correctly" from them: only
  // with --keep-going do we see that it alone would have passed. Alike whether its start
  // was read ahead, during segment 1's replay, or in turn (proofwork(7), VERIFICATION).
  std::vector<Hash> replayed;  // segment 2's, with the read-ahead on then off
  for (auto mode : {VerifyOptions::ReadAhead::On, VerifyOptions::ReadAhead::Off}) {
    VerifyOptions keep;
    keep.keep_going = true;
    keep.read_ahead = mode;
    VerifyResult every = verify_proof(task, proof, keep);
    REQUIRE(every.segments.size() == 3);
    CHECK(every.segments[0].ok);
    CHECK_FALSE(every.segments[1].ok);
    CHECK_FALSE(every.segments[2].ok);  // its end checkpoint is honest, its start is not
    replayed.push_back(every.segments[2].replayed);
  }
  CHECK(replayed[0] == replayed[1]);

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

TEST_CASE("verdict: shard verdicts merge into one, and repeats, strangers and newer versions are refused") {
  pwtest::ScratchDir scratch;
  LoadedTask task = make_task(scratch);
  const std::string proof = scratch.file("proof");
  train(task, proof);
  const std::string v0 = shard_verdict(scratch, task, proof, 0, 2, "v0.pwv");
  const std::string v1 = shard_verdict(scratch, task, proof, 1, 2, "v1.pwv");

  auto one = read_verdict(v0);
  CHECK(one.root().getFormatVersion() == current_version(FileKind::Verdict));
  CHECK(one.root().getShards() == 2);
  CHECK(one.root().getSegments().size() == 2);  // segments 0 and 2 of 0, 1, 2
  CHECK(one.root().getProvenance().getProgram().size() > 0);

  capnp::MallocMessageBuilder mb;
  VerdictSummary m = merge_verdicts({v1, v0}, mb);
  CHECK(m.accepted);
  CHECK(m.reason == "3 of 3 segments replayed by 2 shards, all equal");
  auto merged = mb.getRoot<schema::Verdict>().asReader();
  CHECK(merged.getMerged() == 2);
  CHECK(merged.getShards() == 1);
  CHECK(merged.getFirstBadSegment() == -1);
  REQUIRE(merged.getSegments().size() == 3);
  for (unsigned i = 0; i < 3; i++) CHECK(merged.getSegments()[i].getIndex() == i);
  CHECK(m.detect.total == 3);

  auto refused = [&](const std::vector<std::string>& paths) {
    capnp::MallocMessageBuilder out;
    return error_message(kExitBadInput, [&] { merge_verdicts(paths, out); });
  };
  CHECK(refused({v0, v0}).find("given twice") != std::string::npos);
  CHECK(refused({v0}).find("the verdicts say 2 shards, 1 were given") != std::string::npos);
  const std::string whole = shard_verdict(scratch, task, proof, 0, 1, "whole.pwv");
  CHECK(refused({v0, whole}).find("another verification") != std::string::npos);
  capnp::MallocMessageBuilder again;
  merge_verdicts({v0, v1}, again);
  write_message<schema::Verdict>(scratch.file("m.pwv"), again, false);
  CHECK(refused({scratch.file("m.pwv")}).find("is already a merge") != std::string::npos);

  // Versions: one rule, "newer" and "not a proofwork verdict" as io/version.hpp says.
  auto with_version = [&](uint32_t v, const std::string& name) {
    auto msg = read_verdict(v0);
    capnp::MallocMessageBuilder b;
    b.setRoot(msg.root());
    b.getRoot<schema::Verdict>().setFormatVersion(v);
    write_message<schema::Verdict>(scratch.file(name), b, true);
    return scratch.file(name);
  };
  const std::string newer = with_version(current_version(FileKind::Verdict) + 1, "newer.json");
  CHECK(refused({newer, v1}).find("verdict format version " +
                                  std::to_string(current_version(FileKind::Verdict) + 1) +
                                  " is newer than this build reads") != std::string::npos);
  CHECK(refused({with_version(0, "zero.json"), v1}).find("not a proofwork verdict") != std::string::npos);

  // A shard that reports fewer segments than its share: the merge rejects, it does not accept.
  const std::string short1 = shard_verdict(scratch, task, proof, 1, 2, "short1.pwv", true);
  capnp::MallocMessageBuilder partial;
  VerdictSummary p = merge_verdicts({v0, short1}, partial);
  CHECK_FALSE(p.accepted);
  CHECK(p.reason == "the shards replayed 2 of the 3 selected segments");
}

TEST_CASE("profile: a newer or unversioned profile is refused with the version rule's message") {
  pwtest::ScratchDir scratch;
  auto write = [&](uint32_t v) {
    capnp::MallocMessageBuilder mb;
    auto p = mb.initRoot<schema::Profile>();
    p.setFormatVersion(v);
    p.setTaskClass(as_data(pwtest::filled_hash(1)));
    write_message<schema::Profile>(scratch.file("p.pwp"), mb, false);
    return scratch.file("p.pwp");
  };
  const uint32_t next = current_version(FileKind::Profile) + 1;
  const std::string newer = error_message(kExitBadInput, [&] { load_profile(write(next)); });
  CHECK(newer.find("profile format version " + std::to_string(next) + " is newer than this build reads") !=
        std::string::npos);
  CHECK(error_message(kExitBadInput, [&] { load_profile(write(0)); }).find("not a proofwork profile") !=
        std::string::npos);
}
