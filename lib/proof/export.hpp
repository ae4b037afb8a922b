// What pol-export takes out of a proof directory (proofwork-files(5), EXPORT): a
// checkpoint's tensors as safetensors, chosen by their role on the tape, and the batch
// order as text.
#pragma once
#include <cstdint>
#include <string>

#include "io/file.hpp"
#include "model/tape.hpp"
#include "proof/proof.hpp"
#include "schema/proofwork.capnp.h"

namespace pw {

// The MLP tape whose checkpoint `c` is: the one model (widths, optimizer, cut) whose
// checkpoint_tensors list has exactly `c`'s tensor names and shapes, in order. The
// checkpoint names no task, so its tensor list is all there is to go by. Batch 1 (a
// checkpoint holds no batch); the cut's bits are left 0 (a checkpoint does not record
// them). Bad input (exit 3) about `what` when no MLP checkpoint has these tensors.
Tape checkpoint_tape(schema::Checkpoint::Reader c, const std::string& what);

struct CheckpointExport {
  Bytes file;                        // safetensors
  size_t tensors = 0;                // exported
  uint64_t data_bytes = 0;           // of tensor data
  bool cut_state_left_out = false;   // the model trains through a cut whose buffer is not exported
};

// The checkpoint `ci` of the proof in `dir` (its manifest `man`) as safetensors with
// PyTorch's names and layouts: the parameters (Role::Param), and with `with_state` the
// optimizer's and a cut's training state too (Role::OptState, Role::CutState), in
// checkpoint order. The file must hash to the manifest's entry and belong to its task
// and step; every exported tensor's content hash is checked. The header's metadata:
// format "pt", producer and command line (core/program.hpp), step, state hash.
CheckpointExport export_checkpoint(const std::string& dir, const Manifest& man, const CheckpointInfo& ci,
                                   bool with_state);

// The batch order as text: "# " and the provenance line, a line naming the columns,
// then one line a step: the step, then its sample indices. Bad input when `man` (the
// manifest of `dir`) records no batch order.
std::string export_batch_order(const std::string& dir, const Manifest& man);

}  // namespace pw
