#include "proof/generate.hpp"

#include <cmath>

#include "core/error.hpp"
#include "model/gpt.hpp"
#include "model/tape.hpp"
#include "proof/proof.hpp"
#include "tensor/mathfn.hpp"
#include "tensor/philox.hpp"
#include "train/trainer.hpp"

namespace pw {

int sample_byte(const float* logits, int V, float temperature, float u) {
  int best = 0;
  for (int v = 1; v < V; v++)
    if (logits[v] > logits[best]) best = v;
  if (temperature == 0.0f) return best;
  std::vector<float> e(size_t(V), 0.0f);
  float sum = 0.0f;
  for (int v = 0; v < V; v++) {
    e[size_t(v)] = exp_f32((logits[v] - logits[best]) / temperature);
    sum = sum + e[size_t(v)];
  }
  const float target = u * sum;
  float acc = 0.0f;
  for (int v = 0; v < V; v++) {
    acc = acc + e[size_t(v)];
    if (acc > target) return v;
  }
  return best;  // rounding left the target at the very end
}

Generated generate_text(const LoadedTask& task, const std::string& dir, const GenerateOptions& o) {
  const TaskConfig& c = task.cfg;
  check_input(c.is_gpt(), "pol-generate: the task's model is " + model_spec(c) + ", not a GPT");
  check_input(std::isfinite(o.temperature) && o.temperature >= 0, "pol-generate: temperature must be 0 or more");
  const Manifest man = read_manifest(dir, int64_t(c.steps) * c.batch, &task.hash);
  check_input(man.task == task.hash, "'" + dir + "' holds a proof of another task");
  check_input(!man.root_mismatch, "manifest of '" + dir + "': Merkle root does not match its checkpoints");
  const CheckpointInfo* ci = o.step < 0 ? &man.checkpoints.back() : nullptr;
  for (const auto& k : man.checkpoints)
    if (k.step == o.step) ci = &k;
  check_input(ci != nullptr, "'" + dir + "' has no checkpoint at step " + std::to_string(o.step));
  // One row (batch 1) of the task's tape: the training tape's tensors, so the
  // checkpoint reads into it as into a trainer's.
  TaskConfig one = c;
  one.batch = 1;
  const Tape tape = tape_for(one);
  Workspace ws(tape);
  read_checkpoint(dir, *ci, tape, task.hash, ws);
  const int T = c.gpt.context, V = c.gpt.vocab;
  std::vector<uint8_t> seq(o.prompt.begin(), o.prompt.end());
  Generated g;
  g.step = ci->step;
  const StepContext ctx;  // exact compute
  for (int64_t i = 0; i < o.bytes; i++) {
    const size_t n = std::min(seq.size(), size_t(T));
    float* idx = ws[tape.input];
    for (int t = 0; t < T; t++) idx[t] = size_t(t) < n ? float(seq[seq.size() - n + size_t(t)]) : 0.0f;
    run_gpt_forward(tape, ws, ctx);
    // With no byte yet, the first is predicted from a 0 byte at position 0.
    const size_t pos = n == 0 ? 0 : n - 1;
    const float u = uniform01(philox_word(o.seed, kStreamSample, 0, uint64_t(i)));
    const int b = sample_byte(ws[tape.logits] + pos * size_t(V), V, float(o.temperature), u);
    seq.push_back(uint8_t(b));
    g.text.push_back(uint8_t(b));
  }
  return g;
}

}  // namespace pw
