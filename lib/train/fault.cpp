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
