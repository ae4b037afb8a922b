// pol-verify across the ranks of an MPI job (proofwork(7), DISTRIBUTED TRAINING): the
// replayed segments spread over the ranks as the shards of one verification, their
// verdicts merged on rank 0 by the same rules as pol-verify --merge, so the decision is
// one process's.
#pragma once
#include <functional>
#include <string>

#include "dist/ranks.hpp"
#include "verify/verdict.hpp"

namespace pw {

// Rank r replays shard r of r.size (opt.shard and opt.shards are set here; the beacon
// is rank 0's); `progress` runs on every rank for its own segments. An error one rank
// meets before its verdict is bad input on every rank. On rank 0, `merged` receives the
// merged verdict and the summary says what it decided; every rank returns whether the
// proof was accepted.
VerdictSummary verify_across_ranks(const Ranks& r, const LoadedTask& task, const std::string& dir, VerifyOptions opt,
                                   capnp::MallocMessageBuilder& merged, const SegmentCallback& progress);

}  // namespace pw
