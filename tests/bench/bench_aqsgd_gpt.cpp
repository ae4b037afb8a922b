// bench_aqsgd_gpt: AQ-SGD on a transformer (proofwork(7), AQ-SGD; the paper's claim is
// about transformer fine-tuning). A byte-level GPT (lib/model/gpt's tape, exact mode)
// gpt:L-H-C-T, cut between blocks k-1 and k as a two-stage pipeline would be: the
// residual stream after block k-1, x_k [B·T, C], crosses the cut as
//   fp32        (the reference),
//   AQ-SGD B    (lib/aqsgd pack against the sender's state, unpack against the
//                receiver's; stage 2 -- blocks k.. and the head -- sees the receiver's),
//   direct B    (each batch quantized alone, no state),
// each optionally rotated by Hadamard tiles (rT) and with a scale per S channels of a row
// (sS; s64 at C = 64 is a scale per row), and the gradient dL/dx_k crosses back with
// direct quantization at --bwd-bits (aqsgd_cut.hpp's protocol: warm-up epochs
// uncompressed, AQ-SGD filling its states in the last of them).
//
// AQ-SGD needs repeated samples: the training set is a FIXED set of --windows windows of
// T+1 bytes spread evenly over the text's first part, shuffled each epoch; a sample of
// the cut is one position of one window (id = window·T + t: a row of C channels). The
// last --val-bytes bytes of the text are the validation text, read in consecutive windows
// of T predictions. Per setting: validation bits per byte (the mean cross-entropy in
// nats / ln 2) of the final model at full precision (no cut compression), its ratio to
// fp32's, the mean training loss of the last epoch through the cut, and the bytes that
// crossed the cut, then per AQ-SGD setting the bytes on the wire per step.
//
//   bench_aqsgd_gpt TEXT SCRATCH_DIR [--layers L] [--heads H] [--channels C]
//       [--context T] [--cut K] [--batch B] [--windows W] [--epochs E]
//       [--warmup-epochs W0] [--lr X] [--val-bytes N] [--seeds S] [--jobs J]
//       [--threads N] [--bwd-bits B] [--rounding nearest|stochastic]
//       [--settings fp32,aq3,...]
//
// AdamW (β 0.9, 0.99, weight decay 0.1), --lr with a linear warm-up over the first
// epoch's steps and a cosine decay to lr/10, gradient clipping at 1 (nanoGPT's small
// character-level recipe). Markdown rows on stdout, progress on stderr.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "aqsgd_cut.hpp"
#include "model/tape.hpp"
#include "train/models.hpp"
#include "train/task.hpp"

using namespace pw;
using namespace pw::bench;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct Args {
  std::string text, scratch, settings = "fp32,aq2,aq3,aq4,aq2r64s64,aq3r64s64,aq4r64s64,direct2,direct3";
  int layers = 2, heads = 4, channels = 64, context = 64, cut = 1, batch = 16, windows = 1024, epochs = 12,
      warmup = 1, seeds = 1, jobs = 2, threads = 1, bwd_bits = 8;
  bool stochastic = false;  // stochastic rounding in every quantizer (else nearest)
  int64_t val_bytes = 32768;
  double lr = 4e-3;
};

struct Result {
  Setting setting;
  uint64_t seed = 0;
  double val_bpb = 0, last_epoch_loss = 0, seconds = 0;
  CutBytes bytes;
};

// The tape's op that writes tensor `name` (the last one, when several do).
int op_writing(const Tape& t, const std::string& name) {
  int found = -1;
  for (size_t i = 0; i < t.ops.size(); i++)
    for (int o : t.ops[i].out)
      if (t.tensors[size_t(o)].name == name) found = int(i);
  if (found < 0) {
    std::fprintf(stderr, "bench_aqsgd_gpt: the tape has no tensor '%s'\n", name.c_str());
    std::exit(4);
  }
  return found;
}

// Validation bits per byte of the model in ws, at full precision: the forward ops up to
// the loss over consecutive windows of the validation text, whole batches.
double validation_bpb(const Tape& tape, Workspace& ws, const std::vector<uint8_t>& val, int loss_op) {
  const int T = tape.gpt.context, B = tape.batch;
  std::vector<uint32_t> offsets;
  for (uint64_t o = 0; o + uint64_t(T) + 1 <= val.size(); o += uint64_t(T)) offsets.push_back(uint32_t(o));
  StepContext ctx;
  ctx.text = val.data();
  double sum = 0;
  int batches = 0;
  for (size_t b = 0; b + size_t(B) <= offsets.size(); b += size_t(B), batches++) {
    ctx.batch_indices = offsets.data() + b;
    for (int i = 0; i <= loss_op; i++) run_op(tape, tape.ops[size_t(i)], ws, ctx);
    sum += double(ws[tape.loss][0]);
  }
  return sum / batches / std::log(2.0);
}

Result train(const Setting& st, const Args& a, uint64_t seed, const std::vector<uint8_t>& text,
             const std::vector<uint32_t>& windows, const std::vector<uint8_t>& val) {
  set_threads(a.threads);  // per thread: the jobs run in threads of their own
  TaskConfig c;
  c.model = ModelKind::Gpt;
  c.gpt = GptSpec{a.layers, a.heads, a.channels, a.context};
  c.batch = a.batch;
  c.seed = seed;
  c.optimizer = OptimizerType::Adamw;
  c.clip = 1.0;
  c.lr = a.lr;
  c.min_lr = a.lr / 10;
  c.weight_decay = 0.1;
  c.beta2 = 0.99;
  c.schedule = ScheduleType::Cosine;
  const int W = int(windows.size()), B = a.batch, T = a.context, C = a.channels, steps_per_epoch = W / B;
  c.steps = int64_t(a.epochs) * steps_per_epoch;
  c.warmup_steps = steps_per_epoch;
  const Tape tape = model_kind(ModelKind::Gpt).tape(c);
  Workspace ws(tape);
  model_kind(ModelKind::Gpt).init(c, tape, ws);
  const int fwd_op = op_writing(tape, "x" + std::to_string(a.cut));
  const int bwd_op = op_writing(tape, "dx" + std::to_string(a.cut));
  const int loss_op = op_writing(tape, "loss");
  const int xk = tape.ops[size_t(fwd_op)].out[0], dxk = tape.ops[size_t(bwd_op)].out[0];
  const size_t N = size_t(B) * size_t(T);
  CutLink cut(st, seed, a.stochastic, a.bwd_bits, a.warmup, a.scratch + "/aqsgd-gpt-" + st.key + "-" + std::to_string(seed),
              uint32_t(C), uint64_t(W) * uint64_t(T));
  std::vector<float> sent(N * size_t(C));
  std::vector<uint64_t> ids(N);
  std::vector<uint32_t> offsets(static_cast<size_t>(B));
  std::vector<int> order(static_cast<size_t>(W));
  for (int i = 0; i < W; i++) order[size_t(i)] = i;
  std::mt19937_64 rng(seed);
  Result r;
  r.setting = st;
  r.seed = seed;
  const double t0 = now();
  int64_t step = 0;
  for (int e = 0; e < a.epochs; e++) {
    std::shuffle(order.begin(), order.end(), rng);
    double epoch_loss = 0;
    for (int s = 0; s < steps_per_epoch; s++, step++) {
      for (int b = 0; b < B; b++) {
        const int w = order[size_t(s * B + b)];
        offsets[size_t(b)] = windows[size_t(w)];
        for (int t = 0; t < T; t++) ids[size_t(b) * size_t(T) + size_t(t)] = uint64_t(w) * uint64_t(T) + uint64_t(t);
      }
      StepContext ctx;
      ctx.text = text.data();
      ctx.batch_indices = offsets.data();
      ctx.adamw = adamw_scalars(c, step);
      // The cut: after the op that writes x_k, its value is the sender's and becomes the
      // receiver's; after the op that writes dL/dx_k, the gradient crosses back.
      run_step(tape, ws, ctx, [&](int op, Workspace& w) {
        if (op != fwd_op && op != bwd_op) return;
        const int id = op == fwd_op ? xk : dxk;
        std::memcpy(sent.data(), w[id], sent.size() * 4);
        if (op == fwd_op)
          cut.forward(sent.data(), ids.data(), N, e, uint64_t(step), w[id]);
        else
          cut.backward(sent.data(), ids.data(), N, e, uint64_t(step), w[id]);
      });
      epoch_loss += double(ws[tape.loss][0]);
    }
    r.last_epoch_loss = epoch_loss / steps_per_epoch;
    std::fprintf(stderr, "bench_aqsgd_gpt: %-40s seed %llu epoch %d/%d  mean loss %.4f (%.0f s)\n", st.name.c_str(),
                 (unsigned long long)seed, e + 1, a.epochs, r.last_epoch_loss, now() - t0);
  }
  r.val_bpb = validation_bpb(tape, ws, val, loss_op);
  r.seconds = now() - t0;
  r.bytes = cut.bytes;
  std::fprintf(stderr, "bench_aqsgd_gpt: %-40s seed %llu: validation %.4f bits/byte (%.0f s)\n", st.name.c_str(),
               (unsigned long long)seed, r.val_bpb, r.seconds);
  return r;
}

std::string mb(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", bytes / 1e6);
  return buf;
}

void usage() {
  std::fprintf(stderr, "usage: bench_aqsgd_gpt TEXT SCRATCH_DIR [--layers L] [--heads H] [--channels C] [--context T] "
                       "[--cut K] [--batch B] [--windows W] [--epochs E] [--warmup-epochs W0] [--lr X] [--val-bytes N] "
                       "[--seeds S] [--jobs J] [--threads N] [--bwd-bits B] [--rounding nearest|stochastic] "
                       "[--settings fp32,aq3,...]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) usage();
  Args a;
  a.text = argv[1];
  a.scratch = argv[2];
  for (int i = 3; i < argc; i += 2) {
    if (i + 1 >= argc) usage();
    const std::string k = argv[i], v = argv[i + 1];
    const int n = std::atoi(v.c_str());
    if (k == "--layers") a.layers = n;
    else if (k == "--heads") a.heads = n;
    else if (k == "--channels") a.channels = n;
    else if (k == "--context") a.context = n;
    else if (k == "--cut") a.cut = n;
    else if (k == "--batch") a.batch = n;
    else if (k == "--windows") a.windows = n;
    else if (k == "--epochs") a.epochs = n;
    else if (k == "--warmup-epochs") a.warmup = n;
    else if (k == "--lr") a.lr = std::strtod(v.c_str(), nullptr);
    else if (k == "--val-bytes") a.val_bytes = std::atoll(v.c_str());
    else if (k == "--seeds") a.seeds = n;
    else if (k == "--jobs") a.jobs = n;
    else if (k == "--threads") a.threads = n;
    else if (k == "--bwd-bits") a.bwd_bits = n;
    else if (k == "--settings") a.settings = v;
    else if (k == "--rounding" && (v == "nearest" || v == "stochastic")) a.stochastic = v == "stochastic";
    else usage();
  }
  if (a.layers < 2 || a.cut < 1 || a.cut >= a.layers || a.heads < 1 || a.channels < 1 || a.channels % a.heads ||
      a.context < 1 || a.batch < 1 || a.windows < a.batch || a.epochs < 1 || a.warmup < 0 || a.warmup >= a.epochs ||
      a.seeds < 1 || a.jobs < 1 || a.threads < 1 || !aqsgd::valid_bits(a.bwd_bits) || !(a.lr > 0)) {
    std::fprintf(stderr, "bench_aqsgd_gpt: need 2 ≤ layers, 1 ≤ cut < layers, heads dividing channels, windows ≥ "
                         "batch, 0 ≤ warm-up < epochs, seeds, jobs, threads ≥ 1, bwd-bits 2, 3, 4 or 8, lr > 0\n");
    return 2;
  }
  std::ifstream in(a.text, std::ios::binary);
  std::vector<uint8_t> all;
  if (in) all.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  const int64_t T = a.context;
  if (!in || int64_t(all.size()) < a.val_bytes + 4 * (T + 1) || a.val_bytes < T + 1) {
    std::fprintf(stderr, "bench_aqsgd_gpt: %s: cannot read it, or it is shorter than the validation bytes (%lld) and 4 "
                         "windows\n", a.text.c_str(), (long long)a.val_bytes);
    return 3;
  }
  const std::vector<uint8_t> text(all.begin(), all.end() - a.val_bytes), val(all.end() - a.val_bytes, all.end());
  // W windows spread evenly over the training text (overlapping when it is short).
  std::vector<uint32_t> windows(static_cast<size_t>(a.windows));
  const uint64_t span = text.size() - uint64_t(T) - 1;
  for (size_t w = 0; w < windows.size(); w++) windows[w] = uint32_t(span * w / windows.size());
  const std::vector<Setting> settings = parse_settings(a.settings, "bench_aqsgd_gpt");
  std::fprintf(stderr, "bench_aqsgd_gpt: %zu training bytes (%d windows of %d), %zu validation bytes, %zu trainings\n",
               text.size(), a.windows, a.context + 1, val.size(), settings.size() * size_t(a.seeds));
  std::vector<Result> results(settings.size() * size_t(a.seeds));
  run_jobs(results.size(), a.jobs, [&](size_t j) {
    results[j] = train(settings[j / size_t(a.seeds)], a, 42 + j % size_t(a.seeds), text, windows, val);
  });

  const auto of = [&](size_t i) { return of_setting(results, i, a.seeds); };
  const auto bpb = [](const Result& r) { return r.val_bpb; };
  const auto last = [](const Result& r) { return r.last_epoch_loss; };
  size_t ref = settings.size();
  for (size_t i = 0; i < settings.size(); i++)
    if (settings[i].bits == 0) ref = i;
  const double ref_bpb = ref < settings.size() ? mean_of(of(ref), bpb) : 0;
  const std::string seeds = a.seeds == 1 ? "seed 42" : "mean of seeds 42-" + std::to_string(41 + a.seeds);
  char model[512];
  std::snprintf(model, sizeof model,
                "gpt:%d-%d-%d-%d cut after block %d, %d epochs over %d fixed windows (%d uncompressed warm-up), batch "
                "%d, AdamW lr %g cosine, %s rounding, %s",
                a.layers, a.heads, a.channels, a.context, a.cut, a.epochs, a.windows, a.warmup, a.batch, a.lr,
                a.stochastic ? "stochastic" : "nearest", seeds.c_str());
  for (size_t i = 0; i < settings.size(); i++) {
    const Setting& st = settings[i];
    const std::vector<const Result*> rs = of(i);
    std::string each_bpb, each_last;
    const double v = mean_of(rs, bpb, &each_bpb), l = mean_of(rs, last, &each_last);
    const double fwd = mean_of(rs, [](const Result& r) { return r.bytes.fwd; });
    const double bwd = mean_of(rs, [](const Result& r) { return r.bytes.bwd; });
    const bool is_ref = st.bits == 0;
    char cell[1024], base[128], ratio[64];
    std::snprintf(cell, sizeof cell,
                  "final model at full precision: validation %s bits/byte; last epoch through the cut: mean loss %s "
                  "nats; sent %s fwd + %s bwd",
                  with_seeds(v, each_bpb, a.seeds).c_str(), with_seeds(l, each_last, a.seeds).c_str(),
                  mb(fwd).c_str(), mb(bwd).c_str());
    if (ref < settings.size() && !is_ref) {
      std::snprintf(base, sizeof base, "fp32: %.4f bits/byte", ref_bpb);
      std::snprintf(ratio, sizeof ratio, "%.3f× bits/byte", v / ref_bpb);
    } else {
      std::snprintf(base, sizeof base, "—");
      std::snprintf(ratio, sizeof ratio, "—");
    }
    const char* target = is_ref || !st.aqsgd ? "—" : st.bits == 3 ? "≤ 1.02×" : st.bits == 2 ? "≤ 1.02× (stretch)" : "—";
    const std::string bwd_name = is_ref ? "fp32" : "direct " + std::to_string(a.bwd_bits) + " bits";
    std::printf("| %s: forward %s, backward %s | %s | %s | %s | %s |\n", model, st.name.c_str(), bwd_name.c_str(), cell,
                base, ratio, target);
  }
  print_wire_rows(settings, results, a.seeds,
            "batch " + std::to_string(a.batch) + "×" + std::to_string(a.context) + " positions × " +
                      std::to_string(a.channels) + " channels",
                  a.warmup, a.epochs);
  return 0;
}
