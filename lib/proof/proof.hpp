// The proof directory (proofwork-files(5), PROOF DIRECTORY): manifest.pwm plus one checkpoint file per
// checkpoint step, each written atomically. A checkpoint's state hash commits to the
// step and every tensor's name, shape and content; the manifest lists the
// checkpoints with their state and file hashes and a Merkle root over the state hashes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/file.hpp"
#include "io/hash.hpp"
#include "io/tensor_blob.hpp"
#include "model/tape.hpp"
#include "schema/proofwork.capnp.h"
#include "train/task.hpp"

namespace pw {

constexpr const char* kManifestName = "manifest.pwm";

std::string checkpoint_file_name(int64_t step);  // "ckpt-00000100.pwc"

// A tensor's shape as stored: TensorSpec::shape ((cols) for vectors, (rows, cols) for
// matrices, the dims of a tensor of higher rank).
TensorShape shape_of(const TensorSpec& s);

// State hash = BLAKE2b-256(u64 step, then per tensor: name, u32 ndim, u64 dims, content hash).
Hash state_hash(const Tape& tape, const Workspace& ws, int64_t step);

struct CheckpointInfo {
  int64_t step = 0;
  std::string file;
  Hash state{}, file_hash{};
  uint64_t bytes = 0;
};

// Encodes the checkpoint and writes it to dir/file atomically; returns its entry.
CheckpointInfo write_checkpoint(const std::string& dir, const Tape& tape, const Workspace& ws, int64_t step,
                                const Hash& task);

// Reads a checkpoint file whose bytes must hash to `expect.file_hash`; checks the task
// hash, the step, every tensor's name, shape and content hash, and the state hash.
// A file-hash mismatch throws Error(kExitNo, …) (tampering); anything malformed throws
// bad input.
void read_checkpoint(const std::string& dir, const CheckpointInfo& expect, const Tape& tape, const Hash& task,
                     Workspace& ws);
// read_checkpoint of bytes already read (read_file_sized), `path` naming them.
void parse_checkpoint(Bytes bytes, const std::string& path, const CheckpointInfo& expect, const Tape& tape,
                      const Hash& task, Workspace& ws);

// The in-memory manifest.
struct Manifest {
  Hash task{};
  std::vector<CheckpointInfo> checkpoints;
  bool complete = false;
  std::vector<uint32_t> batch_order;  // steps × batch
  uint32_t batch = 0;                 // the batch order's second dimension
  float final_loss = 0;
  float test_accuracy = -1;
  // The loss of every step run so far, step 0 first: the solver's claim, outside the
  // Merkle root (proofwork-files(5), PROOF DIRECTORY). Empty in proofs written before
  // manifests recorded it.
  std::vector<float> losses;
  std::string program, command_line;  // as read; write_manifest stamps the running program's (io/provenance.hpp)
  std::string host, device, started_at;
  uint32_t threads = 0;
  uint32_t fast_panel = 0;  // fast mode: the GEMM panel declared (0: not recorded)
  bool root_mismatch = false;  // set by read_manifest when the stored root is not the recomputed one
  Hash root() const;
};

void write_manifest(const std::string& dir, const Manifest& m);
// Reads and validates the structure (names safe, sizes bounded); throws bad input.
// When `task` is given and the manifest belongs to another task, the batch order is
// not decoded (its size limit is this task's), so the caller can report the mismatch.
Manifest read_manifest(const std::string& dir, int64_t max_batch_entries, const Hash* task = nullptr);
// read_manifest of bytes already read (at most kTensorFileLimit), `path` naming them.
Manifest parse_manifest(Bytes bytes, const std::string& path, int64_t max_batch_entries, const Hash* task = nullptr);

}  // namespace pw
