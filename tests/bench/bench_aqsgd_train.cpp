// bench_aqsgd_train: the AQ-SGD paper's claim on Fashion-MNIST. An MLP 784-H-H-10
// (ReLU) trained with SGD + momentum, cut after the first hidden layer as a two-stage
// pipeline would be: the forward activation h1 [batch, H] crosses the cut as
//   fp32        (the reference),
//   AQ-SGD B    (lib/aqsgd pack against the sender's state, unpack against the
//                receiver's; the receiver's activation feeds layer 2),
//   direct B    (each batch quantized alone, no state),
// each optionally with the codec's rotation by Hadamard tiles of T (setting suffix rT)
// and a scale per S channels of a row (sS): aq2r64s64 (proofwork(7), AQ-SGD),
// and the backward gradient dL/dh1 crosses it with direct quantization at BWD bits
// (fp32 in the reference run). Prints, per setting, two losses, each with its ratio to
// the fp32 setting's: the loss of the final model evaluated at full precision (no cut
// compression) on the whole training set -- the model's objective, on which the
// "vs fp32" target is judged -- and the mean batch loss of the last epoch as trained,
// through the compressed cut; then test accuracy and the bytes sent across the cut, and
// for AQ-SGD the bytes on the wire per step and the compression ratio of the forward
// stream with and without zstd -1 on the codes. Every seed's values are printed beside the means.
//
// Protocol (aqsgd_cut.hpp, shared with bench_aqsgd_gpt), the same for every setting: the
// first W epochs (--warmup-epochs, default 1) cross the cut uncompressed both ways, as the reference implementation's training
// scripts do (DS3Lab/AQ-SGD: --warmup-epochs, default 1 of 10, which sets
// compress.flag.FLAG_DISABLE_COMPRESSION; its AQ-SGD cache is filled with the
// uncompressed activations meanwhile). --seeds S trains each setting from seeds 42 ..
// 41+S (initial weights and data order) and reports the mean and every value; --jobs J
// runs J trainings at once. --schedule cosine decays the learning rate to 0 over the run.
//
//   bench_aqsgd_train DATA_DIR SCRATCH_DIR [--epochs E] [--hidden H] [--batch N]
//                     [--lr X] [--schedule const|cosine] [--warmup-epochs W] [--seeds S]
//                     [--jobs J] [--rounding nearest|stochastic] [--bwd-bits B]
//                     [--settings fp32,aq2,...] [--threads T]
//
// Markdown rows go to stdout, progress to stderr. The GEMMs are lib/tensor's exact ones.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "aqsgd_cut.hpp"
#include "io/idx.hpp"
#include "tensor/gemm.hpp"
#include "tensor/ops.hpp"

using namespace pw;
using namespace pw::bench;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct Args {
  std::string data, scratch, settings = "fp32,aq2,aq3,aq4,direct2,direct3,direct4", schedule = "const";
  int epochs = 5, hidden = 256, batch = 64, bwd_bits = 8, threads = 0, seeds = 1, warmup = 1, jobs = 1;
  bool stochastic = false;  // stochastic rounding in every quantizer (else nearest)
  float lr = 0.05f;
};

struct Data {
  std::vector<float> x;  // [n, 784], pixel/255
  std::vector<float> y;  // [n] class ids
  int n = 0;
};

Data load(const std::string& images, const std::string& labels) {
  const IdxArray im = read_idx(images, "images"), lb = read_idx(labels, "labels");
  Data d;
  d.n = int(im.dims[0]);
  d.x.resize(size_t(d.n) * 784);
  for (size_t i = 0; i < d.x.size(); i++) d.x[i] = float(im.data[i]) / 255.0f;
  d.y.assign(lb.data.begin(), lb.data.end());
  return d;
}

// One Linear layer: W [out, in], b [out], their gradients and momentum buffers.
struct Linear {
  int in, out;
  std::vector<float> w, b, gw, gb, mw, mb;
  Linear(int i, int o, std::mt19937_64& rng) : in(i), out(o) {
    const float bound = 1.0f / std::sqrt(float(i));  // PyTorch's default initialisation
    std::uniform_real_distribution<float> u(-bound, bound);
    w.resize(size_t(i) * o);
    b.resize(size_t(o));
    for (float& v : w) v = u(rng);
    for (float& v : b) v = u(rng);
    gw.resize(w.size());
    gb.resize(b.size());
    mw.resize(w.size());
    mb.resize(b.size());
  }
  // y [B, out] = x [B, in] · Wᵀ + b
  void forward(const float* x, int B, float* y) const {
    gemm_exact(B, out, in, row_major(x, in), transposed(w.data(), in), b.data(), y, out);
  }
  // gw = dyᵀ·x, gb = Σ_b dy; dx [B, in] = dy·W when dx is not null
  void backward(const float* x, const float* dy, int B, float* dx) {
    gemm_exact(out, in, B, transposed(dy, out), row_major(x, in), nullptr, gw.data(), in);
    column_sums(dy, gb.data(), B, out);
    if (dx) gemm_exact(B, in, out, row_major(dy, out), row_major(w.data(), in), nullptr, dx, in);
  }
  void step(float lr, bool first) {
    const SgdScalars s{lr, 0.9f, 0.0f, first};
    sgd_update(w.data(), gw.data(), mw.data(), int64_t(w.size()), s);
    sgd_update(b.data(), gb.data(), mb.data(), int64_t(b.size()), s);
  }
};

struct Result {
  Setting setting;
  uint64_t seed = 0;
  double final_loss = 0, last_epoch_loss = 0, test_acc = 0, seconds = 0;
  CutBytes bytes;  // what crossed the cut
};

// The full-precision loss and accuracy of the model over a data set (no cut).
void evaluate(const Linear& l1, const Linear& l2, const Linear& l3, const Data& d, double& loss, double& acc) {
  const int B = 1000, H = l1.out;
  std::vector<float> h1(size_t(B) * H), h2(size_t(B) * H), z(size_t(B) * 10), p(size_t(B) * 10);
  double sum = 0;
  int correct = 0, seen = 0;
  for (int s = 0; s + B <= d.n; s += B) {
    const float* x = d.x.data() + size_t(s) * 784;
    l1.forward(x, B, h1.data());
    relu_forward(h1.data(), h1.data(), int64_t(h1.size()));
    l2.forward(h1.data(), B, h2.data());
    relu_forward(h2.data(), h2.data(), int64_t(h2.size()));
    l3.forward(h2.data(), B, z.data());
    sum += double(softmax_cross_entropy_forward(z.data(), d.y.data() + s, p.data(), B, 10)) * B;
    for (int b = 0; b < B; b++) {
      int best = 0;
      for (int c = 1; c < 10; c++)
        if (z[size_t(b) * 10 + c] > z[size_t(b) * 10 + best]) best = c;
      correct += best == int(d.y[size_t(s + b)]);
    }
    seen += B;
  }
  loss = sum / seen;
  acc = double(correct) / seen;
}

// One training of setting `st` from seed `seed` (initial weights and data order: the same
// for every setting with that seed).
Result train(const Setting& st, const Args& a, uint64_t seed, const Data& train_set, const Data& test_set) {
  set_threads(a.threads);  // per thread: the jobs run in threads of their own
  const int H = a.hidden, B = a.batch, n = train_set.n, steps_per_epoch = n / B;
  const int64_t total_steps = int64_t(a.epochs) * steps_per_epoch;
  std::mt19937_64 rng(seed);
  Linear l1(784, H, rng), l2(H, H, rng), l3(H, 10, rng);
  std::vector<float> h1(size_t(B) * H), h1r(size_t(B) * H), h2(size_t(B) * H), z(size_t(B) * 10),
      p(size_t(B) * 10), dz(size_t(B) * 10), dh2(size_t(B) * H), dh1r(size_t(B) * H), dh1(size_t(B) * H),
      x(size_t(B) * 784), y(static_cast<size_t>(B));
  std::vector<uint64_t> ids(static_cast<size_t>(B));
  std::vector<int> order(static_cast<size_t>(n));
  for (int i = 0; i < n; i++) order[size_t(i)] = i;
  CutLink cut(st, seed, a.stochastic, a.bwd_bits, a.warmup,
              a.scratch + "/aqsgd-train-" + st.key + "-" + std::to_string(seed), uint32_t(H), uint64_t(n));
  Result r;
  r.setting = st;
  r.seed = seed;
  const double t0 = now();
  uint64_t batch_no = 0;
  for (int e = 0; e < a.epochs; e++) {
    std::shuffle(order.begin(), order.end(), rng);
    double epoch_loss = 0;
    for (int s = 0; s < steps_per_epoch; s++, batch_no++) {
      for (int b = 0; b < B; b++) {
        const int i = order[size_t(s * B + b)];
        ids[size_t(b)] = uint64_t(i);
        std::memcpy(x.data() + size_t(b) * 784, train_set.x.data() + size_t(i) * 784, 784 * 4);
        y[size_t(b)] = train_set.y[size_t(i)];
      }
      // stage 1
      l1.forward(x.data(), B, h1.data());
      relu_forward(h1.data(), h1.data(), int64_t(h1.size()));
      // the cut, forward (aqsgd_cut.hpp's protocol): the receiver's h1r feeds stage 2
      cut.forward(h1.data(), ids.data(), size_t(B), e, batch_no, h1r.data());
      // stage 2
      l2.forward(h1r.data(), B, h2.data());
      relu_forward(h2.data(), h2.data(), int64_t(h2.size()));
      l3.forward(h2.data(), B, z.data());
      epoch_loss += softmax_cross_entropy_forward(z.data(), y.data(), p.data(), B, 10);
      softmax_cross_entropy_backward(p.data(), y.data(), dz.data(), B, 10);
      l3.backward(h2.data(), dz.data(), B, dh2.data());
      relu_backward(dh2.data(), h2.data(), dh2.data(), int64_t(dh2.size()));
      l2.backward(h1r.data(), dh2.data(), B, dh1r.data());
      // the cut, backward: direct quantization of dL/dh1
      cut.backward(dh1r.data(), ids.data(), size_t(B), e, batch_no, dh1.data());
      // stage 1 backward, with its own h1 for the ReLU mask
      relu_backward(dh1.data(), h1.data(), dh1.data(), int64_t(dh1.size()));
      l1.backward(x.data(), dh1.data(), B, nullptr);
      const bool first = e == 0 && s == 0;
      const double t = double(int64_t(e) * steps_per_epoch + s) / double(total_steps);
      const float lr = a.schedule == "cosine" ? float(0.5 * a.lr * (1.0 + std::cos(M_PI * t))) : a.lr;
      l1.step(lr, first);
      l2.step(lr, first);
      l3.step(lr, first);
    }
    r.last_epoch_loss = epoch_loss / steps_per_epoch;
    double tl, ta;
    evaluate(l1, l2, l3, test_set, tl, ta);
    std::fprintf(stderr, "bench_aqsgd_train: %-16s seed %llu epoch %d/%d  mean batch loss %.4f  test acc %.2f%%  (%.0f s)\n",
                 st.name.c_str(), (unsigned long long)seed, e + 1, a.epochs, r.last_epoch_loss, 100 * ta, now() - t0);
  }
  r.seconds = now() - t0;
  double acc_train, test_loss;
  evaluate(l1, l2, l3, train_set, r.final_loss, acc_train);
  evaluate(l1, l2, l3, test_set, test_loss, r.test_acc);
  r.bytes = cut.bytes;
  return r;
}

std::string mb(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", bytes / 1e6);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_aqsgd_train DATA_DIR SCRATCH_DIR [--epochs E] [--hidden H] [--batch N] [--lr X] "
                         "[--schedule const|cosine] [--warmup-epochs W] [--seeds S] [--jobs J] [--rounding nearest|stochastic] "
                         "[--bwd-bits B] "
                         "[--settings fp32,aq2,...] [--threads T]\n");
    return 2;
  }
  Args a;
  a.data = argv[1];
  a.scratch = argv[2];
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--epochs") a.epochs = std::atoi(v.c_str());
    else if (k == "--hidden") a.hidden = std::atoi(v.c_str());
    else if (k == "--batch") a.batch = std::atoi(v.c_str());
    else if (k == "--lr") a.lr = std::strtof(v.c_str(), nullptr);
    else if (k == "--schedule") a.schedule = v;
    else if (k == "--warmup-epochs") a.warmup = std::atoi(v.c_str());
    else if (k == "--seeds") a.seeds = std::atoi(v.c_str());
    else if (k == "--jobs") a.jobs = std::atoi(v.c_str());
    else if (k == "--rounding") a.stochastic = v == "stochastic";
    else if (k == "--bwd-bits") a.bwd_bits = std::atoi(v.c_str());
    else if (k == "--settings") a.settings = v;
    else if (k == "--threads") a.threads = std::atoi(v.c_str());
    else {
      std::fprintf(stderr, "bench_aqsgd_train: unknown option '%s'\n", k.c_str());
      return 2;
    }
  }
  if (a.schedule != "const" && a.schedule != "cosine") {
    std::fprintf(stderr, "bench_aqsgd_train: --schedule is const or cosine, not '%s'\n", a.schedule.c_str());
    return 2;
  }
  if (a.epochs < 1 || a.seeds < 1 || a.jobs < 1 || a.warmup < 0 || a.warmup >= a.epochs) {
    std::fprintf(stderr, "bench_aqsgd_train: need epochs ≥ 1, seeds ≥ 1, jobs ≥ 1, 0 ≤ warm-up < epochs\n");
    return 2;
  }
  const Data train_set = load(a.data + "/train-images-idx3-ubyte.gz", a.data + "/train-labels-idx1-ubyte.gz");
  const Data test_set = load(a.data + "/t10k-images-idx3-ubyte.gz", a.data + "/t10k-labels-idx1-ubyte.gz");
  const std::vector<Setting> settings = parse_settings(a.settings, "bench_aqsgd_train");
  // Every (setting, seed) is one job; `jobs` threads take them in turn. Seeds 42, 43, ...
  std::vector<Result> results(settings.size() * size_t(a.seeds));
  run_jobs(results.size(), a.jobs, [&](size_t j) {
    results[j] = train(settings[j / size_t(a.seeds)], a, 42 + j % size_t(a.seeds), train_set, test_set);
  });

  const auto of = [&](size_t i) { return of_setting(results, i, a.seeds); };
  const auto final_loss = [](const Result& r) { return r.final_loss; };
  const auto last_loss = [](const Result& r) { return r.last_epoch_loss; };
  const auto test_acc = [](const Result& r) { return 100 * r.test_acc; };
  const Setting* ref = nullptr;
  size_t ref_i = 0;
  for (size_t i = 0; i < settings.size(); i++)
    if (settings[i].bits == 0) ref = &settings[i], ref_i = i;
  const double ref_loss = ref ? mean_of(of(ref_i), final_loss) : 0, ref_acc = ref ? mean_of(of(ref_i), test_acc) : 0;
  const double ref_last = ref ? mean_of(of(ref_i), last_loss) : 0;
  const std::string seeds = a.seeds == 1 ? "seed 42" : "mean of seeds 42-" + std::to_string(41 + a.seeds);
  const std::string model = "MLP 784-" + std::to_string(a.hidden) + "-" + std::to_string(a.hidden) + "-10, cut after layer 1, " +
                            std::to_string(a.epochs) + " epochs Fashion-MNIST (" + std::to_string(a.warmup) +
                            " uncompressed warm-up), batch " + std::to_string(a.batch) + ", SGD lr " +
                            std::to_string(a.lr).substr(0, 5) + (a.schedule == "cosine" ? " cosine" : "") +
                            " mom. 0.9, " + seeds;
  for (size_t i = 0; i < settings.size(); i++) {
    const Setting& st = settings[i];
    const std::vector<const Result*> rs = of(i);
    std::string each_loss, each_last, each_acc;
    const double loss = mean_of(rs, final_loss, &each_loss), acc = mean_of(rs, test_acc, &each_acc);
    const double last = mean_of(rs, last_loss, &each_last);
    const double fwd = mean_of(rs, [](const Result& r) { return r.bytes.fwd; });
    const double bwd = mean_of(rs, [](const Result& r) { return r.bytes.bwd; });
    const bool is_ref = st.bits == 0;
    char cell[1024], base[256], ratio[96];
    std::snprintf(cell, sizeof cell,
                  "final model at full precision on the %d training images: loss %s; last epoch through the cut: "
                  "mean batch loss %s; test acc %s %%; sent %s fwd + %s bwd",
                  train_set.n, with_seeds(loss, each_loss, a.seeds).c_str(), with_seeds(last, each_last, a.seeds).c_str(),
                  with_seeds(acc, each_acc, a.seeds).c_str(), mb(fwd).c_str(), mb(bwd).c_str());
    if (ref && !is_ref) {
      std::snprintf(base, sizeof base, "fp32: final-model loss %.4f, last epoch %.4f, test acc %.2f %%", ref_loss,
                    ref_last, ref_acc);
      std::snprintf(ratio, sizeof ratio, "%.3f× final-model loss (%.3f× last epoch)", loss / ref_loss,
                    last / ref_last);
    } else {
      std::snprintf(base, sizeof base, "—");
      std::snprintf(ratio, sizeof ratio, "—");
    }
    const char* target = is_ref ? "—" : st.aqsgd ? "≤ 1.02× final-model loss" : "> AQ-SGD's loss";
    const std::string bwd_name = is_ref ? "fp32" : "direct " + std::to_string(a.bwd_bits) + " bits";
    std::printf("| %s: forward %s, backward %s | %s | %s | %s | %s |\n", model.c_str(), st.name.c_str(),
                bwd_name.c_str(), cell, base, ratio, target);
  }
  print_wire_rows(settings, results, a.seeds,
                  "batch " + std::to_string(a.batch) + " × " + std::to_string(a.hidden) + " channels", a.warmup, a.epochs);
  return 0;
}
