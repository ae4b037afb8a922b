// The verdict file (proofwork-files(5), VERDICT): written from one verification or
// shard of one, combined from shard verdicts (pol-verify --merge), and read back under
// the one version rule (io/version.hpp).
#pragma once
#include <string>
#include <vector>

#include "io/message.hpp"
#include "verify/verify.hpp"

namespace pw {

// Reads a verdict and refuses (exit 3) one that is malformed or of a format version this
// build does not read.
Message<schema::Verdict> read_verdict(const std::string& path);
// The same rules on a verdict held in memory (read from a file, or one that a rank sent;
// at most kSmallFileLimit bytes); `what` names it.
Message<schema::Verdict> parse_verdict(Bytes bytes, const std::string& what);

// The verdict of `r`, the result of verify_proof(task, ..., opt), into `mb`, with
// provenance and the current format version.
void make_verdict(const LoadedTask& task, const VerifyOptions& opt, const VerifyResult& r,
                  capnp::MallocMessageBuilder& mb);

// What a verdict says, for the report on stderr.
struct VerdictSummary {
  bool accepted = false;
  std::string reason;
  Detection detect;
};

// pol-verify --merge (proofwork(7), VERIFICATION): the shard verdicts at `paths`
// combined into one in `mb`. Every shard 0..N-1 exactly once, all of one task, proof,
// beacon, mode, profile and selection (else bad input, exit 3); the merge accepts only if
// every shard accepted and together they replayed every selected segment (a shard that
// rejected may have stopped early). A rejection keeps the reason of the lowest failed
// segment.
VerdictSummary merge_verdicts(const std::vector<std::string>& paths, capnp::MallocMessageBuilder& mb);
// The same on verdicts already read; names[k] names vs[k] in messages.
VerdictSummary merge_verdicts(const std::vector<Message<schema::Verdict>>& vs, const std::vector<std::string>& names,
                              capnp::MallocMessageBuilder& mb);

// A verdict's detection figures, as stored.
Detection read_detection(schema::Detection::Reader d);

// "detection: 4 of 40 segments chosen; if 10% of the segments were forged, P(detect) >= ..."
std::string detection_line(const Detection& d);

}  // namespace pw
