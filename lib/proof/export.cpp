#include "proof/export.hpp"

#include <cstdio>

#include <climits>

#include "core/error.hpp"
#include "core/program.hpp"
#include "io/message.hpp"
#include "io/provenance.hpp"
#include "io/safetensors.hpp"
#include "io/tensor_blob.hpp"
#include "io/version.hpp"
#include "train/task.hpp"

namespace pw {

namespace {
bool holds_tensors_of(const Tape& tape, capnp::List<schema::Tensor>::Reader ts) {
  const std::vector<int> ids = checkpoint_tensors(tape);
  if (ids.size() != ts.size()) return false;
  for (size_t i = 0; i < ids.size(); i++) {
    const TensorSpec& s = tape.tensors[size_t(ids[i])];
    if (s.size() > kMaxParameters || std::string(ts[unsigned(i)].getName().cStr()) != s.name) return false;
    const std::vector<uint64_t> want = shape_of(s).dims;
    auto got = ts[unsigned(i)].getShape();
    if (got.size() != want.size()) return false;
    for (unsigned d = 0; d < got.size(); d++)
      if (got[d] != want[d]) return false;
  }
  return true;
}
}  // namespace

namespace {
// A GPT checkpoint starts with transformer.wte.weight (V, C), transformer.wpe.weight
// (T, C); 12 tensors a block and ln_f's two follow, then the optimizer's state, then a
// cut's buffer cut.K.buffer (samples, T·C) and seen flags. The heads are not in the
// tensors (any count that divides C gives the same list): 1.
bool gpt_checkpoint_tape(capnp::List<schema::Tensor>::Reader ts, Tape& out) {
  if (ts.size() < 4 || std::string(ts[0].getName().cStr()) != "transformer.wte.weight") return false;
  CutSpec cut;
  size_t n = ts.size();
  {
    const std::string last2 = ts[unsigned(n - 2)].getName().cStr();
    auto buffer = ts[unsigned(n - 2)].getShape();
    int k = 0;
    if (last2.rfind("cut.", 0) == 0 && std::sscanf(last2.c_str(), "cut.%d.buffer", &k) == 1 && k >= 1 &&
        buffer.size() == 2 && buffer[0] >= 1 && buffer[0] <= uint64_t(INT_MAX)) {
      cut.layer = k;
      cut.samples = uint32_t(buffer[0]);
      n -= 2;
    }
  }
  auto wte = ts[0].getShape(), wpe = ts[1].getShape();
  if (wte.size() != 2 || wpe.size() != 2 || wte[1] != wpe[1] || wte[0] != 256 || wpe[0] < 1 ||
      wpe[0] > uint64_t(kMaxGptContext) || wte[1] < 1 || wte[1] > uint64_t(kMaxGptChannels))
    return false;
  for (OptimizerType opt : {OptimizerType::Sgd, OptimizerType::Adamw}) {
    const size_t per = opt == OptimizerType::Sgd ? 2 : 3;  // a parameter and its state
    if (n % per != 0 || (n / per) < 4 || (n / per - 4) % 12 != 0) continue;
    GptSpec g;
    g.layers = int((n / per - 4) / 12);
    g.heads = 1;
    g.channels = int(wte[1]);
    g.context = int(wpe[0]);
    if (g.layers < 1 || g.layers > kMaxGptLayers || cut.layer >= g.layers) continue;
    Tape t = build_gpt_tape(g, 1, opt, 0, false, cut);
    if (holds_tensors_of(t, ts)) {
      out = std::move(t);
      return true;
    }
  }
  return false;
}
}  // namespace

Tape checkpoint_tape(schema::Checkpoint::Reader c, const std::string& what) {
  auto ts = c.getTensors();
  const size_t n = ts.size();
  Tape gpt;
  if (gpt_checkpoint_tape(ts, gpt)) return gpt;
  auto width = [](uint64_t d) { return d >= 1 && d <= uint64_t(kMaxWidth); };
  // The checkpoint starts with the parameters: Linear l's weight (out, in), then its
  // bias (out), each layer's input the previous one's output. Every run of such pairs
  // from the start is a candidate model; the optimizer's state and a cut's buffer and
  // seen flags follow, so the count of the rest says which optimizer and whether a cut.
  std::vector<int> widths;
  for (size_t l = 0; 2 * l + 1 < n && l < 63; l++) {
    auto w = ts[unsigned(2 * l)].getShape(), b = ts[unsigned(2 * l + 1)].getShape();
    if (w.size() != 2 || b.size() != 1 || w[0] != b[0] || !width(w[0]) || !width(w[1])) break;
    if (l == 0) widths.push_back(int(w[1]));
    if (uint64_t(widths.back()) != w[1]) break;
    widths.push_back(int(w[0]));
    const size_t params = 2 * (l + 1);
    for (OptimizerType opt : {OptimizerType::Sgd, OptimizerType::Adamw}) {
      const size_t state = params * (opt == OptimizerType::Sgd ? 2 : 3);
      if (n == state) {
        Tape t = build_mlp_tape(widths, 1, opt);
        if (holds_tensors_of(t, ts)) return t;
      } else if (n == state + 2) {  // a cut: its buffer (samples, w) then its seen flags
        auto buffer = ts[unsigned(state)].getShape();
        if (buffer.size() != 2 || buffer[0] < 1 || buffer[0] > uint64_t(INT_MAX)) continue;
        for (int k = 1; k <= int(l); k++) {  // after hidden layer k (Linear k reads it)
          if (uint64_t(widths[size_t(k)]) != buffer[1]) continue;
          CutSpec cut;
          cut.layer = k;
          cut.samples = uint32_t(buffer[0]);
          Tape t = build_mlp_tape(widths, 1, opt, cut);
          if (holds_tensors_of(t, ts)) return t;
        }
      }
    }
  }
  bad_input(what + ": its " + std::to_string(n) +
            " tensors are not those of an MLP or GPT checkpoint (parameters, optimizer state, a cut's state)");
}

CheckpointExport export_checkpoint(const std::string& dir, const Manifest& man, const CheckpointInfo& ci,
                                   bool with_state) {
  const std::string path = join_path(dir, ci.file);
  const std::string what = "checkpoint '" + path + "'";
  Bytes bytes = read_file_sized(path, ci.bytes, kTensorFileLimit, "checkpoint");
  check_input(blake2b(bytes.data(), bytes.size()) == ci.file_hash, what + " does not match its hash in the manifest");
  const auto msg = Message<schema::Checkpoint>::parse(std::move(bytes), what);
  return guard_input(what, [&] {
    const auto c = msg.root();
    check_version(FileKind::Checkpoint, c.getFormatVersion(), what);
    check_input(hash_field(c.getTaskHash()) == man.task, what + ": belongs to another task than its manifest");
    check_input(int64_t(c.getStep()) == ci.step, what + ": holds step " + std::to_string(c.getStep()) +
                                                     ", the manifest says " + std::to_string(ci.step));
    const Tape tape = checkpoint_tape(c, what);
    const std::vector<int> ids = checkpoint_tensors(tape);
    auto ts = c.getTensors();
    CheckpointExport e;
    std::vector<SafetensorsTensor> out;
    SafetensorsTensor lm_head;
    for (size_t i = 0; i < ids.size(); i++) {
      const TensorSpec& s = tape.tensors[size_t(ids[i])];
      const bool state = s.role == Role::OptState || s.role == Role::CutState;
      e.cut_state_left_out |= !with_state && s.role == Role::CutState;
      if (s.role != Role::Param && !(with_state && state)) continue;
      SafetensorsTensor t{s.name, shape_of(s).dims, {}};
      decode_tensor(ts[unsigned(i)], uint64_t(s.size()), t.data, what);
      check_input(int64_t(t.data.size()) == s.size(), what + ": tensor '" + s.name + "' has the wrong size");
      e.data_bytes += t.data.size() * 4;
      out.push_back(std::move(t));
      // The GPT's LM head is tied to wte: written as its own entry, equal to wte, after
      // the parameters (safetensors has no aliases), so load_state_dict finds every key.
      if (tape.kind == ModelKind::Gpt && s.name == "transformer.wte.weight") lm_head = out.back();
    }
    if (tape.kind == ModelKind::Gpt) {
      lm_head.name = "lm_head.weight";
      e.data_bytes += lm_head.data.size() * 4;
      out.push_back(std::move(lm_head));
    }
    e.tensors = out.size();
    e.file = safetensors_bytes({{"format", "pt"},
                                {"producer", std::string(program_name()) + " " + version()},
                                {"command_line", command_line()},
                                {"step", std::to_string(ci.step)},
                                {"state_hash", hex(ci.state)}},
                               out);
    return e;
  });
}

std::string export_batch_order(const std::string& dir, const Manifest& man) {
  check_input(man.batch > 0, "manifest of '" + dir + "' records no batch order");
  const size_t B = man.batch;
  const size_t steps = man.batch_order.size() / B;
  std::string text = "# " + provenance_line() + "\n# step, then the " + std::to_string(B) + " sample indices of its batch\n";
  for (size_t s = 0; s < steps; s++) {
    text += std::to_string(s);
    for (size_t b = 0; b < B; b++) text += ' ' + std::to_string(man.batch_order[s * B + b]);
    text += '\n';
  }
  return text;
}

}  // namespace pw
