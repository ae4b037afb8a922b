// Tracing and the referee: every op of a step, recomputed alone from its captured inputs,
// gives the traced outputs (so the referee's one-op replay is the computation itself);
// a fault changes the chain from its op on and not before.
#include <doctest/doctest.h>

#include "bisect/bisect.hpp"
#include "bisect/dispute.hpp"
#include "bisect/play.hpp"
#include "io/version.hpp"
#include "unit_helpers.hpp"

using namespace pw;

using pwtest::tiny_config;

TEST_CASE("bisect: each op recomputed alone equals the traced step, for sgd and adamw") {
  const Dataset d = pwtest::tiny_dataset();
  for (OptimizerType opt : {OptimizerType::Sgd, OptimizerType::Adamw}) {
    const TaskConfig c = tiny_config(opt);
    Trainer tr(c, d);
    tr.run_step();  // step 0, so the optimizer state is not zero
    const Workspace start = tr.ws;
    Workspace ws = start;
    const StepTrace t = trace_step(tr, ws, 1, nullptr);
    REQUIRE(t.chain.size() == tr.tape.ops.size());
    for (size_t j = 0; j < tr.tape.ops.size(); j++) {
      Workspace w = start;
      std::vector<std::vector<float>> inputs;
      trace_step(tr, w, 1, nullptr, int(j), &inputs);
      const Hash ref = referee_op(c, &d, 1, int(j), inputs);
      CHECK_MESSAGE(ref == outputs_hash(t.outputs[j]), "op ", j, " (", op_name(tr.tape.ops[j].kind), ")");
    }
    // The traced end state is the ordinary step's.
    Workspace plain = start;
    std::swap(tr.ws, plain);
    tr.step = 1;
    tr.run_step();
    CHECK(t.end_state == state_hash(tr.tape, tr.ws, 2));
  }
}

TEST_CASE("bisect: a fault changes the hash chain from its op on, not before") {
  const Dataset d = pwtest::tiny_dataset();
  const TaskConfig c = tiny_config(OptimizerType::Sgd);
  Trainer tr(c, d);
  const Workspace start = tr.ws;
  Workspace honest = start;
  const StepTrace a = trace_step(tr, honest, 0, nullptr);
  for (int op : {0, 3, 7, 12}) {
    Workspace w = start;
    const Fault f{0, op, 3};
    const StepTrace b = trace_step(tr, w, 0, fault_hook(tr.tape, f, 0));
    for (int j = 0; j < int(a.chain.size()); j++) CHECK((a.chain[size_t(j)] == b.chain[size_t(j)]) == (j < op));
    CHECK(a.records[size_t(op)] != b.records[size_t(op)]);
    CHECK(a.inputs[size_t(op)] == b.inputs[size_t(op)]);  // the first bad op has agreed inputs
  }
  CHECK(ceil_log2(1) == 0);
  CHECK(ceil_log2(2) == 1);
  CHECK(ceil_log2(5) == 3);
  CHECK(ceil_log2(16) == 4);
}

TEST_CASE("bisect: the referee refuses inputs of the wrong size or count") {
  const Dataset d = pwtest::tiny_dataset();
  const TaskConfig c = tiny_config(OptimizerType::Sgd);
  CHECK(pwtest::error_code_of([&] { referee_op(c, &d, 0, 1, {}); }) == kExitBadInput);
  CHECK(pwtest::error_code_of([&] { referee_op(c, &d, 0, 1, {{1.0f}, {2.0f}, {3.0f}}); }) == kExitBadInput);
  CHECK(pwtest::error_code_of([&] { referee_op(c, &d, 0, 999, {}); }) == kExitBadInput);
  CHECK(pwtest::error_code_of([&] { referee_op(c, nullptr, 0, 0, {}); }) == kExitBadInput);  // load_batch needs data
}

TEST_CASE("bisect: two parties exchanging only the transcript reach the local bisection's pinpoint and ruling") {
  const Dataset d = pwtest::tiny_dataset();
  capnp::MallocMessageBuilder tb;
  pwtest::fill_task(tb.initRoot<schema::Task>());
  LoadedTask task{Message<schema::Task>::parse(to_binary(tb), "task"), {}, {}};
  task.cfg = task_config(task.msg.root());
  task.hash = task_hash(task.msg.root());
  // Side A honest, side B with a fault at step 7, op 3 (linear_forward); both compute
  // from the seed (no proof directories needed).
  Party a, b;
  a.replay = b.replay = true;
  b.fault = Fault{7, 3, 1};
  LocalOracle la(task, d, a), lb(task, d, b);
  // Each side's commitment: the manifest of its checkpoints as it computes them.
  auto commit = [&](LocalOracle& o) {
    Commitment c;
    const size_t C = checkpoint_steps(task.cfg).size();
    for (size_t k = 0; k < C; k++) c.leaves.push_back(o.answer({Level::Checkpoint, 0, 0, int64_t(k)}));
    c.root = merkle_root(c.leaves);
    c.manifest = std::make_shared<capnp::MallocMessageBuilder>();
    auto m = c.manifest->initRoot<schema::Manifest>();
    m.setFormatVersion(1);
    m.setTaskHash(as_data(task.hash));
    auto cs = m.initCheckpoints(unsigned(C));
    for (size_t k = 0; k < C; k++) cs[unsigned(k)].setStateHash(as_data(c.leaves[k]));
    m.setRoot(as_data(c.root));
    return c;
  };
  const Commitment ca = commit(la), cb = commit(lb);
  const Hash root_a = ca.root, root_b = cb.root;
  const BisectResult local = bisect(task, &d, la, lb);
  REQUIRE(local.disputed);
  CHECK(local.step == 7);
  CHECK(local.op == 3);
  CHECK(local.winner == Ruling::A);
  CHECK(int64_t(local.rounds.size()) <= round_bound(task.cfg));

  LocalOracle pa(task, d, a), pb(task, d, b);  // each side's own machine
  Bytes transcript;
  Move m;
  int moves = 0;
  for (;; moves++) {
    REQUIRE(moves < 60);  // a bounded exchange
    const bool side_a = moves % 2 == 0;
    SideTranscript theirs;
    if (!transcript.empty()) {
      auto msg = Message<schema::Dispute>::parse(transcript, "transcript");
      CHECK_FALSE(msg.root().getComplete());
      CHECK(pwtest::error_code_of([&] { referee_dispute(msg.root(), "transcript", ""); }) == kExitBadInput);
      theirs = read_side(msg.root(), task, !side_a, "transcript");
    }
    capnp::MallocMessageBuilder out;
    m = play_move(task, d, side_a ? pa : pb, side_a ? ca : cb, side_a, theirs, out.initRoot<schema::Dispute>());
    transcript = to_binary(out);
    if (m.complete) break;
    CHECK(m.waiting_for == (side_a ? 1 : 0));
  }
  CHECK(m.result.step == local.step);
  CHECK(m.result.op == local.op);
  CHECK(m.result.winner == Ruling::A);
  CHECK(m.result.rounds.size() == local.rounds.size());

  // The finished transcript is the dispute the local run writes, and the referee agrees.
  capnp::MallocMessageBuilder lb_msg;
  write_dispute(lb_msg.initRoot<schema::Dispute>(), task, dispute_record(local, ca, cb));
  auto mine = Message<schema::Dispute>::parse(to_binary(lb_msg), "local");
  auto theirs = Message<schema::Dispute>::parse(transcript, "transcript");
  for (auto* x : {&mine, &theirs}) {
    const Refereed r = referee_dispute(x->root(), "dispute", "");
    CHECK(r.right == Ruling::A);
    CHECK(r.step == 7);
    CHECK(r.op == 3);
    CHECK(r.op_kind == "linear_forward");
    CHECK(r.root_a == root_a);
    CHECK(r.root_b == root_b);
    CHECK(r.task == task.hash);
  }
  CHECK(hash_field(mine.root().getOutputHashB()) == hash_field(theirs.root().getOutputHashB()));
  CHECK(hash_field(mine.root().getRefereeHash()) == hash_field(theirs.root().getRefereeHash()));
  CHECK(mine.root().getWinner() == schema::Winner::A);
  CHECK(dispute_text(mine.root()).find("winner: A") != std::string::npos);

  // Newer files are refused by the referee and by the next move, as bad input.
  capnp::MallocMessageBuilder newer;
  newer.setRoot(theirs.root());
  newer.getRoot<schema::Dispute>().setFormatVersion(current_version(FileKind::Dispute) + 1);
  auto n = Message<schema::Dispute>::parse(to_binary(newer), "newer");
  CHECK(pwtest::error_code_of([&] { referee_dispute(n.root(), "newer", ""); }) == kExitBadInput);
  CHECK(pwtest::error_code_of([&] { read_side(n.root(), task, true, "newer"); }) == kExitBadInput);
  // A transcript of another task is refused.
  capnp::MallocMessageBuilder other;
  other.setRoot(theirs.root());
  other.getRoot<schema::Dispute>().setTaskHash(as_data(pwtest::filled_hash(99)));
  auto o = Message<schema::Dispute>::parse(to_binary(other), "other");
  CHECK(pwtest::error_code_of([&] { read_side(o.root(), task, true, "other"); }) == kExitBadInput);
}

TEST_CASE("bisect: a Merkle inclusion path binds each leaf, and only it, to the root, for every tree size") {
  for (size_t n = 1; n <= 17; n++) {
    std::vector<Hash> leaves;
    for (size_t i = 0; i < n; i++) leaves.push_back(pwtest::filled_hash(int(i + 1)));
    const Hash root = merkle_root(leaves);
    for (size_t i = 0; i < n; i++) {
      const std::vector<Hash> path = merkle_path(leaves, i);
      CHECK(merkle_root_from_path(leaves[i], i, n, path) == root);
      CHECK(merkle_root_from_path(pwtest::filled_hash(99), i, n, path) != root);  // another answer
      if (n > 1) CHECK(merkle_root_from_path(leaves[i], (i + 1) % n, n, path) != root);  // another position
      std::vector<Hash> longer = path;
      longer.push_back(root);
      CHECK_FALSE(merkle_root_from_path(leaves[i], i, n, longer).has_value());
      if (!path.empty()) CHECK_FALSE(merkle_root_from_path(leaves[i], i, n, {}).has_value());
    }
    CHECK_FALSE(merkle_root_from_path(leaves[0], n, n, {}).has_value());
  }
}
