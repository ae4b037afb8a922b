// Partition (.pwg) and schedule (.pws) files (lib/schema/sched.capnp; proofwork-files(5),
// PARTITION, SCHEDULE) and their text reports. Writers stamp the current version and
// fill provenance from the running program (io/provenance.hpp).
#pragma once
#include <string>
#include <vector>

#include "sched/partition.hpp"

namespace pw::sched {

// Iteration time of a plan on a network k times slower (latencies x k, bandwidths / k).
struct SlowdownRow {
  double factor = 1, iteration = 0, ratio = 1;
};
std::vector<SlowdownRow> slowdown_report(const Problem& p, const Plan& plan, const std::vector<double>& factors);

// A partition read back: the problem it was made for and its groups (checked: the
// partition's and its topology's versions, S groups of D devices, each device once).
struct PartitionFile {
  Problem problem;
  std::vector<Group> groups;
  uint64_t seed = 0;
};
PartitionFile read_partition_file(const std::string& path);
// read_partition_file of bytes already read (at most 4 * kSmallFileLimit), `path` naming them.
PartitionFile parse_partition_file(Bytes bytes, const std::string& path);

// Serialised messages (binary, or JSON with snake_case names when `json`).
std::vector<uint8_t> partition_bytes(const Problem& p, const Plan& plan, uint64_t seed, bool json);
std::vector<uint8_t> schedule_bytes(const Problem& p, const Plan& plan, const std::vector<SlowdownRow>& slow, uint64_t seed,
                                    bool json);

// Human-readable reports: the cost breakdown, the stages (partition) and, for a
// schedule, every replica's device per stage and the slowdown table.
std::string partition_text(const Problem& p, const Plan& plan);
std::string schedule_text(const Problem& p, const Plan& plan, const std::vector<SlowdownRow>& slow);

}  // namespace pw::sched
