#include "train/fault.hpp"

#include <cmath>
#include <cstdio>

#include "core/error.hpp"

namespace pw {

Fault parse_fault(const std::string& spec, const char* flag) {
  long long a, b, c;
  char tail;
  if (std::sscanf(spec.c_str(), "%lld:%lld:%lld%c", &a, &b, &c, &tail) != 3 || a < 0 || b < 0 || c < 0)
    usage_error(std::string(flag) + " '" + spec + "': expected STEP:OP:ELEMENT (non-negative integers)");
  return {a, b, c};
}

void check_fault(const Fault& f, const Tape& tape, int64_t steps, const char* flag) {
  if (!f.active()) return;
  if (f.op >= int64_t(tape.ops.size()))
    usage_error(std::string(flag) + ": op " + std::to_string(f.op) + " but the tape has " + std::to_string(tape.ops.size()) + " ops");
  if (f.step >= steps)
    usage_error(std::string(flag) + ": step " + std::to_string(f.step) + " but the task has " + std::to_string(steps) + " steps");
}

void apply_fault(const Tape& tape, Workspace& ws, const Fault& f) {
  auto& v = ws.t[size_t(tape.ops[size_t(f.op)].out[0])];
  float& x = v[size_t(f.element % int64_t(v.size()))];
  x = x + (std::fabs(x) * 0.25f + 0.25f);
}

OpHook fault_hook(const Tape& tape, const Fault& f, int64_t step) {
  if (!f.active() || f.step != step) return nullptr;
  return [&tape, f](int op_index, Workspace& ws) {
    if (op_index == f.op) apply_fault(tape, ws, f);
  };
}

}  // namespace pw
