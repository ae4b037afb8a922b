// pol-export: a checkpoint as safetensors (PyTorch names and layouts), or the batch
// order as text.
#include <cstdio>
#include <cstring>

#include "cli/cli.hpp"
#include "core/error.hpp"
#include "io/message.hpp"
#include "io/tensor_blob.hpp"
#include "proof/proof.hpp"
#include "train/task.hpp"

using namespace pw;

namespace {

// Training state besides the weights: the optimizer's, and a pipeline cut's buffer and
// seen flags ("cut.K.buffer", "cut.K.seen"). The cut changes how a model was trained,
// not the model: without this state the export is an ordinary nn.Sequential MLP.
bool is_cut_state(const std::string& name) { return name.rfind("cut.", 0) == 0; }
bool is_optimizer_state(const std::string& name) {
  if (is_cut_state(name)) return true;
  for (const char* s : {".momentum_buffer", ".exp_avg", ".exp_avg_sq"})
    if (name.size() > std::strlen(s) && name.compare(name.size() - std::strlen(s), std::string::npos, s) == 0) return true;
  return false;
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    o += c;
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Export from a proof: a checkpoint's weights as safetensors that load with load_state_dict into the "
               "equivalent torch.nn.Sequential(Linear, ReLU, ..., Linear), or the batch order as text (one line per "
               "step: the step, then its sample indices).",
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
    Manifest man = read_manifest(dir, int64_t(1) << 32);
    const std::string producer = "proofwork " + std::string(version()) + ": " + command_line();
    check_input(!man.root_mismatch, "manifest of '" + dir + "': Merkle root does not match its checkpoints");
    if (batches) {
      check_input(man.batch > 0, "manifest of '" + dir + "' records no batch order");
      const size_t B = man.batch;
      const int64_t steps = int64_t(man.batch_order.size() / B);
      std::string text = "# " + producer + "\n# step, then the " + std::to_string(B) + " sample indices of its batch\n";
      for (int64_t s = 0; s < steps; s++) {
        text += std::to_string(s);
        for (size_t b = 0; b < B; b++) text += ' ' + std::to_string(man.batch_order[size_t(s) * B + b]);
        text += '\n';
      }
      write_file_atomic(out, text.data(), text.size(), true);
      return kExitOk;
    }
    const CheckpointInfo* ci = step < 0 ? &man.checkpoints.back() : nullptr;
    for (const auto& c : man.checkpoints)
      if (c.step == step) ci = &c;
    if (!ci) usage_error("'" + dir + "' has no checkpoint at step " + std::to_string(step));
    const std::string path = join_path(dir, ci->file);
    Bytes bytes = read_file(path, kTensorFileLimit, "checkpoint");
    check_input(blake2b(bytes.data(), bytes.size()) == ci->file_hash,
                "checkpoint '" + path + "' does not match its hash in the manifest");
    auto msg = Message<schema::Checkpoint>::parse(std::move(bytes), "checkpoint '" + path + "'");
    std::string header = "{\"__metadata__\":{\"format\":\"pt\",\"producer\":\"proofwork " + std::string(version()) +
                         "\",\"command_line\":\"" + json_escape(command_line()) + "\",\"step\":\"" + std::to_string(ci->step) + "\",\"state_hash\":\"" + hex(ci->state) + "\"}";
    std::vector<std::vector<float>> data;
    uint64_t offset = 0;
    bool cut_left_out = false;
    for (auto t : msg.root().getTensors()) {
      const std::string name = t.getName().cStr();
      cut_left_out |= !with_state && is_cut_state(name);
      if (!with_state && is_optimizer_state(name)) continue;
      std::vector<float> v;
      decode_tensor(t, uint64_t(kMaxParameters), v, "checkpoint '" + path + "'");
      std::string shape;
      for (uint64_t d : t.getShape()) shape += (shape.empty() ? "" : ",") + std::to_string(d);
      header += ",\"" + json_escape(name) + "\":{\"dtype\":\"F32\",\"shape\":[" + shape + "],\"data_offsets\":[" +
                std::to_string(offset) + "," + std::to_string(offset + v.size() * 4) + "]}";
      offset += v.size() * 4;
      data.push_back(std::move(v));
    }
    header += "}";
    while ((header.size() + 8) % 8) header += ' ';
    Bytes file(8 + header.size() + offset);
    const uint64_t hl = header.size();
    for (int i = 0; i < 8; i++) file[size_t(i)] = uint8_t(hl >> (8 * i));
    std::memcpy(file.data() + 8, header.data(), header.size());
    size_t pos = 8 + header.size();
    for (const auto& v : data) {
      std::memcpy(file.data() + pos, v.data(), v.size() * 4);
      pos += v.size() * 4;
    }
    write_file_atomic(out, file);
    if (cut_left_out)
      note(common, "the task trains through a pipeline cut: its buffer is training state, left out (the weights "
                   "load into the plain MLP; --optimizer-state includes it)");
    note(common, "step " + std::to_string(ci->step) + ": " + std::to_string(data.size()) + " tensors, " +
                     std::to_string(offset) + " bytes of weights");
    return kExitOk;
  });
}
