// Tracing and the referee: every op of a step, recomputed alone from its captured inputs,
// gives the traced outputs (so the referee's one-op replay is the computation itself);
// a fault changes the chain from its op on and not before.
#include <doctest/doctest.h>

#include "bisect/bisect.hpp"
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
