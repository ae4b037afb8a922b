#include "train/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.hpp"
#include "model/gpt.hpp"
#include "tensor/philox.hpp"
#include "train/models.hpp"

namespace pw {

BatchOrder::BatchOrder(uint64_t seed, uint32_t count, int batch, bool windows)
    : seed_(seed), count_(count), batch_(batch), steps_per_epoch_(windows ? 1 : int64_t(count) / batch), windows_(windows) {
  if (steps_per_epoch_ < 1 || count < 1) internal_error("batch larger than the dataset");
}

void BatchOrder::indices(int64_t step, uint32_t* out) {
  if (windows_) {
    for (int b = 0; b < batch_; b++)
      out[b] = uint32_t((uint64_t(philox_word(seed_, kStreamWindows, uint32_t(step), uint64_t(b))) * count_) >> 32);
    return;
  }
  const int64_t epoch = step / steps_per_epoch_;
  if (epoch != epoch_) {
    perm_.resize(count_);
    std::iota(perm_.begin(), perm_.end(), 0u);
    for (uint32_t i = count_ - 1; i > 0; i--) {
      const uint32_t r = philox_word(seed_, kStreamShuffle, uint32_t(epoch), i);
      const uint32_t j = uint32_t((uint64_t(r) * (uint64_t(i) + 1)) >> 32);  // uniform in [0, i]
      std::swap(perm_[i], perm_[j]);
    }
    epoch_ = epoch;
  }
  const int64_t off = (step % steps_per_epoch_) * batch_;
  for (int b = 0; b < batch_; b++) out[b] = perm_[size_t(off + b)];
}

std::vector<uint32_t> BatchOrder::sequence(int64_t steps) const {
  BatchOrder order = *this;  // indices() caches the epoch's permutation
  std::vector<uint32_t> out(size_t(steps) * size_t(batch_));
  for (int64_t s = 0; s < steps; s++) order.indices(s, out.data() + size_t(s) * size_t(batch_));
  return out;
}

BatchOrder order_for(const TaskConfig& c, uint64_t seed, uint32_t count) {
  return BatchOrder(seed, count, c.batch, c.is_gpt());
}

std::vector<uint32_t> batch_order(const TaskConfig& c, uint32_t count) {
  return order_for(c, c.seed, count).sequence(c.steps);
}

void init_state(const TaskConfig& c, const Tape& tape, Workspace& ws) {
  model_kind(c.model).init(c, tape, ws);
  for (int id : tape.opt_state) std::fill(ws.t[size_t(id)].begin(), ws.t[size_t(id)].end(), 0.0f);
  for (int id : tape.cut_state) std::fill(ws.t[size_t(id)].begin(), ws.t[size_t(id)].end(), 0.0f);  // nothing seen
}

Tape tape_for(const TaskConfig& c) { return model_kind(c.model).tape(c); }

Trainer::Trainer(const TaskConfig& c, const Dataset& d)
    : cfg(c), data(d), tape(tape_for(c)), ws(tape), order(order_for(c, c.seed, d.count)), batch_idx(size_t(c.batch)) {
  init_state(cfg, tape, ws);
  compute.fast = !cfg.exact;
  compute.reduce_chunk = cfg.reduce_chunk;
}

StepContext Trainer::context(int64_t s) {
  order.indices(s, batch_idx.data());
  StepContext ctx;
  ctx.compute = compute;
  ctx.images = data.images.data();
  ctx.labels = data.labels.data();
  ctx.text = data.text.data();
  ctx.batch_indices = batch_idx.data();
  ctx.input_scale = cfg.input_scale;
  if (cfg.optimizer == OptimizerType::Sgd)
    ctx.sgd = sgd_scalars(cfg, s);
  else
    ctx.adamw = adamw_scalars(cfg, s);
  return ctx;
}

void check_cut_device(const CutSpec& cut, DeviceKind device) {
  if (cut.enabled() && device != DeviceKind::Cpu)  // cuda/ has no cut_forward/cut_backward kernels
    bad_input(std::string("--device ") + device_name(device) + ": the CUDA executor does not run a pipeline cut (this task cuts after layer " +
              std::to_string(cut.layer) + "); use --device cpu");
}

void check_reduce_chunk_device(int reduce_chunk, DeviceKind device) {
  if (reduce_chunk > 0 && device != DeviceKind::Cpu)  // cuda/ has no chunked reduction kernels
    bad_input(std::string("--device ") + device_name(device) +
              ": the CUDA executor does not run the chunked batch reduction (this task has reduceChunk " +
              std::to_string(reduce_chunk) + "); use --device cpu");
}

void check_model_device(const TaskConfig& c, DeviceKind device) {
  check_cut_device(c.cut, device);
  check_reduce_chunk_device(c.reduce_chunk, device);
  if (device != DeviceKind::Cpu) check_cuda_model(c.is_gpt() ? ModelKind::Gpt : ModelKind::Mlp, !c.exact);
}

void Trainer::use_device(std::shared_ptr<Executor> e) {
  if (e) check_model_device(cfg, DeviceKind::Cuda);
  device = std::move(e);
  if (!device) return;
  if (cfg.is_gpt())
    device->set_text(data.text.data(), int64_t(data.text.size()));
  else
    device->set_dataset(data.images.data(), data.labels.data(), data.count, data.features());
  device->upload(ws, checkpoint_tensors(tape));
  device_ahead = false;
}

void Trainer::to_host() {
  if (!device || !device_ahead) return;
  device->download(ws, checkpoint_tensors(tape));
  device_ahead = false;
}

void Trainer::to_device() {
  if (device) device->upload(ws, checkpoint_tensors(tape));
  device_ahead = false;
}

void Trainer::run_step(const OpHook& hook) {
  if (device) {
    device->run_step(context(step), ws, hook);
    loss = device->loss();
    device_ahead = true;
  } else {
    pw::run_step(tape, ws, context(step), hook);
    loss = ws[tape.loss][0];
  }
  step++;
}

double test_accuracy(const Trainer& t) {
  if (t.data.test_count == 0 || t.cfg.is_gpt()) return -1;
  std::vector<float> logits;
  if (t.device)
    t.device->forward_logits(t.data.test_images.data(), t.data.test_count, t.cfg.input_scale, logits);
  else
    forward_logits(t.tape, t.ws, t.data.test_images.data(), t.data.test_count, t.cfg.input_scale, logits);
  const int C = t.tape.widths.back();
  int64_t right = 0;
  for (uint32_t i = 0; i < t.data.test_count; i++) {
    const float* z = logits.data() + size_t(i) * C;
    int best = 0;
    for (int c = 1; c < C; c++)
      if (z[c] > z[best]) best = c;
    right += best == t.data.test_labels[i];
  }
  return double(right) / t.data.test_count;
}

double validation_bits_per_byte(Trainer& t) {
  if (!t.cfg.is_gpt() || t.data.val_text.empty()) return -1;
  t.to_host();
  const Tape& tape = t.tape;
  const int64_t T = t.cfg.gpt.context, V = t.cfg.gpt.vocab, B = t.cfg.batch;
  const std::vector<uint8_t>& text = t.data.val_text;
  const int64_t windows = std::min<int64_t>(kValidationWindows, int64_t(text.size() - 1) / T);
  const StepContext ctx;  // exact compute
  double bits = 0;
  for (int64_t w0 = 0; w0 < windows; w0 += B) {
    const int64_t n = std::min(B, windows - w0);
    float* idx = t.ws[tape.input];
    for (int64_t b = 0; b < B; b++)  // rows past the last window repeat the first; not counted
      for (int64_t j = 0; j < T; j++) idx[b * T + j] = float(text[size_t((w0 + (b < n ? b : 0)) * T + j)]);
    run_gpt_forward(tape, t.ws, ctx);
    const float* logits = t.ws[tape.logits];
    for (int64_t r = 0; r < n * T; r++) {
      const float* z = logits + r * V;
      double m = z[0], sum = 0;
      for (int64_t v = 1; v < V; v++) m = std::max(m, double(z[v]));
      for (int64_t v = 0; v < V; v++) sum += std::exp(double(z[v]) - m);
      const uint8_t next = text[size_t((w0 + r / T) * T + r % T + 1)];
      bits += (std::log(sum) - (double(z[next]) - m)) / std::log(2.0);
    }
  }
  return bits / double(windows * T);
}

}  // namespace pw
