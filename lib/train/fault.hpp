// A deliberately dishonest computation, for testing verifiers and bisection:
// element ELEMENT of the first output of op OP (tape index) in step STEP is perturbed
// right after the op runs.
#pragma once
#include <cstdint>
#include <string>

#include "model/tape.hpp"

namespace pw {

struct Fault {
  int64_t step = -1, op = -1, element = -1;
  bool active() const { return step >= 0; }
};

Fault parse_fault(const std::string& spec, const char* flag);  // "STEP:OP:ELEMENT"; usage error otherwise

// Refuses (usage error) a fault outside the task: a step ≥ steps or an op past the tape.
void check_fault(const Fault& f, const Tape& tape, int64_t steps, const char* flag);

// The perturbation itself: x ← x + (|x|/4 + 1/4), which changes every finite x.
void apply_fault(const Tape& tape, Workspace& ws, const Fault& f);

// The hook that applies `f` during step `step` (empty when the fault is elsewhere).
OpHook fault_hook(const Tape& tape, const Fault& f, int64_t step);

}  // namespace pw
