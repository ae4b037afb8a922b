// The fast-mode referee (proofwork(7), DISPUTES): a fast-mode task has no single right
// result, only honest ones within rounding noise, so the referee recomputes the disputed
// op (or step) under each side's declared kernel (the GEMM panel and thread count its
// manifest records) and holds each side's claim to thresholds the verifier's profile
// implies. A claim within them stands; a claim beyond them loses.
//
// At an op, the profile's rule (pol-profile(1)) is applied to the op's outputs: the op is
// recomputed from the agreed inputs under every CPU source the profile replayed with, and
//   threshold[m][i] = factor · max over pairs of sources of d[m](output i) + floor[m][i],
//   floor = floorRel · the output's norm under side A's kernel (floorRel² for cosine).
// At a step (both sides compute it alike, a claimed checkpoint after it differs), the
// claimed states are held to the profile's own state thresholds.
#pragma once
#include <string>
#include <vector>

#include "bisect/bisect.hpp"
#include "verify/profile.hpp"

namespace pw {

struct FastReferee {
  const LoadedProfile* profile = nullptr;
  Kernel a, b;
};

// A profile made for another task class than `task`'s is bad input naming `what`.
void check_profile_for(const LoadedProfile& p, schema::Task::Reader task, const std::string& what);

// Op `op` of step `step` recomputed from `inputs` under each side's kernel and under the
// profile's CPU sources; each side's claimed outputs (`out_a`, `out_b`) are measured from
// the recomputation under its own kernel. `referee`: the hash over side A's recomputation.
FastRuling rule_fast_op(const TaskConfig& cfg, const Dataset* data, const FastReferee& f, int64_t step, int op,
                        const std::vector<std::vector<float>>& inputs, const std::vector<std::vector<float>>& out_a,
                        const std::vector<std::vector<float>>& out_b, Hash* referee);

// A step-level ruling: `after` is the referee's state after the step (checkpoint tensors,
// in order), `claimed_a`/`claimed_b` the sides' claimed states there.
FastRuling rule_fast_step(const Tape& tape, const FastReferee& f, const std::vector<std::vector<float>>& after,
                          const std::vector<std::vector<float>>& claimed_a, const std::vector<std::vector<float>>& claimed_b);

// The ruling's basis, for people: what was recomputed and under which kernels, which
// threshold decided for each side, the distance measured, and why.
std::string fast_basis(const FastRuling& r, const FastReferee& f, const std::string& where);

}  // namespace pw
