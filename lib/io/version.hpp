// Every file kind's format version, and the one rule a reader applies to it
// (proofwork-files(5), VERSIONS). A writer stamps `current`; a reader accepts
// `oldest`..`current` and refuses anything else as bad input (exit 3) with a message
// that says which side is out of date. A change that moves a stored byte or an exact
// proof root raises `current`; a reader that can still read the old form keeps
// `oldest` where it was.
#pragma once
#include <cstdint>
#include <string>

namespace pw {

enum class FileKind : uint8_t {
  Task,        // .pwt
  Manifest,    // PROOF/manifest.pwm
  Checkpoint,  // PROOF/ckpt-*.pwc
  Profile,     // .pwp
  Verdict,     // .pwv
  Dispute,     // .pwd
  Topology,    // sched-partition's input (JSON)
  Partition,   // .pwg
  Schedule,    // .pws
  Ledger,      // LEDGER/events.log records and settlement files
  AqsgdStream, // aqsgd-pack's packed and activation streams
};

struct FileVersion {
  const char* name;   // "task", as messages say it
  uint32_t oldest;    // the oldest version this build reads
  uint32_t current;   // the version this build writes
  // A file of this kind without a version (0: written before versions were recorded,
  // or by hand) reads as this version; 0: such a file is refused.
  uint32_t unversioned = 0;
};

const FileVersion& file_version(FileKind kind);
inline uint32_t current_version(FileKind kind) { return file_version(kind).current; }

// The version a file is read as: `got`, or the kind's `unversioned` for 0. Refuses
// (exit 3) one outside oldest..current: "WHAT: task format version 7 is newer than this
// build reads (1); upgrade proofwork", "... version 0: not a proofwork task file, or one
// without a version".
uint32_t check_version(FileKind kind, uint32_t got, const std::string& what);

}  // namespace pw
