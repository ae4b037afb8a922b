// pol-export: a checkpoint as safetensors (PyTorch names and layouts), or the batch
// order as text (proofwork-files(5), EXPORT).
#include "cli/cli.hpp"
#include "core/error.hpp"
#include "proof/export.hpp"
#include "proof/proof.hpp"

using namespace pw;

int main(int argc, char** argv) {
  CLI::App app{"Export from a proof: a checkpoint's weights as safetensors that load with load_state_dict into the "
               "equivalent torch.nn.Sequential(Linear, ReLU, ..., Linear) for an MLP, or nanoGPT's GPT for a GPT "
               "(transformer.wte.weight, ..., lm_head.weight), or the batch order as text (one line per step: the "
               "step, then its sample indices, or for a text task its window offsets).",
               "pol-export"};
  CommonOptions common;
  std::string dir, out = "-";
  int64_t step = -1;
  bool batches = false, with_state = false;
  app.add_option("PROOF_DIR", dir, "Proof directory")->required();
  auto* ck = app.add_option("--checkpoint", step, "Export the checkpoint at this step (-1: the last)");
  auto* bt = app.add_flag("--batches", batches, "Print the batch order, one line per step");
  ck->excludes(bt);
  app.add_flag("--optimizer-state", with_state,
               "Include the optimizer state tensors (and a pipeline cut's buffer and seen flags)");
  app.add_option("-o,--output", out, "Output file ('-': stdout)");
  add_common_options(app, common, kOptQuiet | kOptForce);

  return run_tool("pol-export", argc, argv, app, [&]() -> int {
    if (!batches && app.count("--checkpoint") == 0) usage_error("say what to export: --checkpoint STEP or --batches");
    check_output_outside(out, dir);
    check_output_path(out, {}, common.force);
    const Manifest man = read_manifest(dir, int64_t(1) << 32);
    check_input(!man.root_mismatch, "manifest of '" + dir + "': Merkle root does not match its checkpoints");
    if (batches) {
      const std::string text = export_batch_order(dir, man);
      write_file_atomic(out, text.data(), text.size(), true);
      return kExitOk;
    }
    const CheckpointInfo* ci = step < 0 ? &man.checkpoints.back() : nullptr;
    for (const auto& c : man.checkpoints)
      if (c.step == step) ci = &c;
    if (!ci) usage_error("'" + dir + "' has no checkpoint at step " + std::to_string(step));
    const CheckpointExport e = export_checkpoint(dir, man, *ci, with_state);
    write_file_atomic(out, e.file);
    if (e.cut_state_left_out)
      note(common, "the task trains through a pipeline cut: its buffer is training state, left out (the weights "
                   "load into the plain MLP; --optimizer-state includes it)");
    note(common, "step " + std::to_string(ci->step) + ": " + std::to_string(e.tensors) + " tensors, " +
                     std::to_string(e.data_bytes) + " bytes of weights");
    return kExitOk;
  });
}
