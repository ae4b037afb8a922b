#include "train/models.hpp"

#include <cmath>

#include "tensor/mathfn.hpp"
#include "tensor/philox.hpp"

namespace pw {

float normal_from(uint32_t w1, uint32_t w2) {
  const float u1 = 1.0f - uniform01(w1);  // (0, 1]
  const double r = std::sqrt(-2.0 * double(log_f32(u1)));
  return float(r * cos_f64(2.0 * 3.14159265358979323846 * double(uniform01(w2))));
}

namespace {

// The MLP: parameters as PyTorch's nn.Linear default, U(−1/√in, 1/√in) for weight
// and bias.
void init_mlp(const TaskConfig& c, const Tape& tape, Workspace& ws) {
  for (size_t i = 0; i < tape.params.size(); i++) {
    const int id = tape.params[i];
    const int fan_in = c.widths[i / 2];
    const float bound = float(1.0 / std::sqrt(double(fan_in)));
    float* p = ws[id];
    const int64_t n = tape.tensors[size_t(id)].size();
#pragma omp parallel for schedule(static)
    for (int64_t e = 0; e < n; e++) {
      const float u = uniform01(philox_word(c.seed, kStreamInit, uint32_t(i), uint64_t(e)));
      p[e] = bound * (2.0f * u - 1.0f);
    }
  }
}

// The GPT, as GPT-2 (and nanoGPT) initialise it: every 2-D weight and both embeddings
// normal(0, 0.02), the two residual output projections (attn.c_proj, mlp.c_proj)
// normal(0, 0.02/√(2·layers)); biases 0, LayerNorm weights 1. Element e of parameter i
// takes words 2e and 2e+1 of Philox(seed, kStreamInit, i).
void init_gpt(const TaskConfig& c, const Tape& tape, Workspace& ws) {
  const float std_base = 0.02f;
  const float std_proj = float(0.02 / std::sqrt(2.0 * c.gpt.layers));
  auto ends_with = [](const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  for (size_t i = 0; i < tape.params.size(); i++) {
    const TensorSpec& s = tape.tensors[size_t(tape.params[i])];
    float* p = ws[tape.params[i]];
    const int64_t n = s.size();
    if (s.ndim == 1) {  // biases 0, LayerNorm weights 1
      const float v = ends_with(s.name, "ln_1.weight") || ends_with(s.name, "ln_2.weight") || ends_with(s.name, "ln_f.weight") ? 1.0f : 0.0f;
      std::fill(p, p + n, v);
      continue;
    }
    const float sd = ends_with(s.name, "c_proj.weight") ? std_proj : std_base;
#pragma omp parallel for schedule(static)
    for (int64_t e = 0; e < n; e++) {
      const uint32_t w1 = philox_word(c.seed, kStreamInit, uint32_t(i), 2 * uint64_t(e));
      const uint32_t w2 = philox_word(c.seed, kStreamInit, uint32_t(i), 2 * uint64_t(e) + 1);
      p[e] = sd * normal_from(w1, w2);
    }
  }
}

Tape mlp_tape(const TaskConfig& c) {
  CutSpec cut = c.cut;
  cut.seed = c.seed;  // the rotation's signs (proofwork(7), RANDOM STREAMS)
  return build_mlp_tape(c.widths, c.batch, c.optimizer, cut);
}
Tape gpt_tape(const TaskConfig& c) {
  CutSpec cut = c.cut;
  cut.seed = c.seed;  // the rotation's signs (proofwork(7), RANDOM STREAMS)
  return build_gpt_tape(c.gpt, c.batch, c.optimizer, float(c.clip), c.reduce_chunk > 0, cut);
}
int64_t mlp_flops(const TaskConfig& c) { return mlp_flops_per_step(c.widths, c.batch); }
int64_t gpt_flops(const TaskConfig& c) { return gpt_flops_per_step(c.gpt, c.batch); }

const ModelKindInfo kModels[] = {
    {"mlp", mlp_tape, init_mlp, mlp_flops},
    {"gpt", gpt_tape, init_gpt, gpt_flops},
};

}  // namespace

const ModelKindInfo& model_kind(ModelKind k) { return kModels[size_t(k)]; }

}  // namespace pw
