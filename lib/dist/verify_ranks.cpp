#include "dist/verify_ranks.hpp"

#include "core/error.hpp"

namespace pw {

VerdictSummary verify_across_ranks(const Ranks& r, const LoadedTask& task, const std::string& dir, VerifyOptions opt,
                                   capnp::MallocMessageBuilder& merged, const SegmentCallback& progress) {
  broadcast_string(r, opt.beacon, 0);  // every shard draws the same segments
  opt.shard = r.rank, opt.shards = r.size;
  Bytes mine;
  int code = 0;
  std::string why;
  try {
    const VerifyResult res = verify_proof(task, dir, opt, progress);
    capnp::MallocMessageBuilder mb;
    make_verdict(task, opt, res, mb);
    mine = message_bytes<schema::Verdict>(mb, false);
  } catch (const Error& e) {
    code = e.code, why = e.what();
  }
  const int agreed = agree_max(r, code);
  if (agreed != 0) {
    if (code != 0) throw Error(code, why);
    throw Error(agreed, "rank " + std::to_string(r.rank) + ": another rank could not verify (its message says why)");
  }
  const std::vector<Bytes> all = gather_bytes(r, mine, 0);
  VerdictSummary sum;
  int status[2] = {0, 0};  // accepted, error code
  if (r.rank == 0) {
    try {
      std::vector<Message<schema::Verdict>> vs;
      std::vector<std::string> names;
      for (size_t j = 0; j < all.size(); j++) {
        names.push_back("rank " + std::to_string(j) + "'s verdict");
        vs.push_back(parse_verdict(all[j], names.back()));
      }
      sum = merge_verdicts(vs, names, merged);
      status[0] = sum.accepted;
    } catch (const Error& e) {
      status[1] = e.code, why = e.what();
    }
  }
  broadcast(r, status, sizeof status, 0);
  if (status[1] != 0)
    throw Error(status[1], r.rank == 0 ? why : "rank 0 could not merge the verdicts (its message says why)");
  sum.accepted = status[0] != 0;
  return sum;
}

}  // namespace pw
