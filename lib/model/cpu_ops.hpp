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
// Rows of the batch-dimension tensors per sample: the GPT's T positions, the MLP's one.
inline int rows_per_sample(const Tape& tape) { return tape.kind == ModelKind::Gpt ? tape.gpt.context : 1; }
// The chunk in rows (a chunk of c samples is c·T rows of a GPT: proofwork(7), EXACT MODE); 0: none.
inline int reduce_chunk_rows(const Tape& tape, const StepContext& ctx) {
  return reduce_chunk_of(ctx) * rows_per_sample(tape);
}

// A sample's row of a pipeline cut's tensor `id` (B rows of it): the MLP's activation
// row, the GPT's window of T·C residual values.
int64_t cut_width(const Tape& tape, int id);

// The step's GEMMs, in exact or fast mode, with an optional fused output pass.
void gemm_mode(const StepContext& ctx, int M, int N, int K, MatView A, MatView Bm, const float* bias, float* C,
               ptrdiff_t ldc, const GemmEpilogue* epi = nullptr);

}  // namespace pw
