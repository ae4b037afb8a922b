#include "io/version.hpp"

#include "core/error.hpp"

namespace pw {

const FileVersion& file_version(FileKind kind) {
  // One row a kind, in FileKind's order; proofwork-files(5) lists the same table.
  static const FileVersion kVersions[] = {
      {"task", 1, 1},        {"manifest", 1, 1},  {"checkpoint", 1, 1}, {"profile", 1, 3},
      {"verdict", 1, 3},     {"dispute", 1, 3},   {"topology", 1, 1, 1},   {"partition", 1, 1, 1},
      {"schedule", 1, 1, 1}, {"ledger", 1, 1, 1}, {"AQ-SGD stream", 2, 3},
  };
  static_assert(sizeof kVersions / sizeof kVersions[0] == size_t(FileKind::AqsgdStream) + 1);
  return kVersions[size_t(kind)];
}

uint32_t check_version(FileKind kind, uint32_t got, const std::string& what) {
  const FileVersion& v = file_version(kind);
  if (got == 0 && v.unversioned != 0) got = v.unversioned;
  if (got >= v.oldest && got <= v.current) return got;
  const std::string reads = v.oldest == v.current ? std::to_string(v.current)
                                                  : std::to_string(v.oldest) + " to " + std::to_string(v.current);
  const std::string head = what + ": " + v.name + " format version " + std::to_string(got);
  if (got == 0) bad_input(head + ": not a proofwork " + v.name + " file, or one without a version");
  if (got > v.current) bad_input(head + " is newer than this build reads (" + reads + "); upgrade proofwork");
  bad_input(head + " is older than this build reads (" + reads + "); no longer supported");
}

}  // namespace pw
