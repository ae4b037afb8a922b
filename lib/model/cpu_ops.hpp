// The CPU's implementation of each op kind (proofwork(7), THE TAPE): one function per row
// of model/op_kinds.hpp, cpu_op_<Name>, declared here from the table and defined in
// tape.cpp (the MLP's and the shared kinds) and gpt.cpp (the GPT's). run_op calls them
// through kCpuOps, an array built from the same table: a row without its function is an
// undefined symbol at link time.
#pragma once
#include "model/tape.hpp"

namespace pw {

using CpuOp = void (*)(const Tape& tape, const Op& op, Workspace& ws, const StepContext& ctx);

#define PW_CPU_OP_DECLARE(Name, value, str) \
  void cpu_op_##Name(const Tape& tape, const Op& op, Workspace& ws, const StepContext& ctx);
PW_OP_KINDS(PW_CPU_OP_DECLARE)
#undef PW_CPU_OP_DECLARE

// The batch-dimension reduction's chunk in effect (StepContext::compute): 0 in fast mode.
inline int reduce_chunk_of(const StepContext& ctx) { return ctx.compute.fast ? 0 : ctx.compute.reduce_chunk; }

}  // namespace pw
