// bench_aqsgd_train: the AQ-SGD paper's claim on Fashion-MNIST. An MLP 784-H-H-10
// (ReLU) trained with SGD + momentum, cut after the first hidden layer as a two-stage
// pipeline would be: the forward activation h1 [batch, H] crosses the cut as
//   fp32        (the reference),
//   AQ-SGD B    (lib/aqsgd pack against the sender's state, unpack against the
//                receiver's; the receiver's activation feeds layer 2),
//   direct B    (each batch quantized alone, no state),
// and the backward gradient dL/dh1 crosses it with direct quantization at BWD bits
// (fp32 in the reference run). Prints, per setting, the final training loss (one fp32
// pass over the training set with the final weights), test accuracy and the bytes sent
// across the cut, and for AQ-SGD the compression ratio of the forward stream with and
// without zstd -1 on the codes.
//
//   bench_aqsgd_train DATA_DIR SCRATCH_DIR [--epochs E] [--hidden H] [--batch N]
//                     [--lr X] [--bwd-bits B] [--settings fp32,aq2,...] [--threads T]
//
// Markdown rows go to stdout, progress to stderr. The GEMMs are lib/tensor's exact ones.
#include <algorithm>
#include <chrono>
#include <memory>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <zstd.h>

#include "aqsgd/codec.hpp"
#include "io/idx.hpp"
#include "tensor/gemm.hpp"
#include "tensor/ops.hpp"

using namespace pw;
using namespace pw::aqsgd;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct Args {
  std::string data, scratch, settings = "fp32,aq2,aq3,aq4,direct2,direct3,direct4";
  int epochs = 5, hidden = 256, batch = 64, bwd_bits = 8, threads = 0;
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

struct Setting {
  std::string name;
  int bits = 0;  // 0: fp32
  bool aqsgd = false;
};

Setting parse_setting(const std::string& s) {
  if (s == "fp32") return {"fp32", 0, false};
  if (s.rfind("aq", 0) == 0) return {"AQ-SGD " + s.substr(2) + " bits", std::atoi(s.c_str() + 2), true};
  if (s.rfind("direct", 0) == 0) return {"direct " + s.substr(6) + " bits", std::atoi(s.c_str() + 6), false};
  std::fprintf(stderr, "bench_aqsgd_train: unknown setting '%s'\n", s.c_str());
  std::exit(2);
}

struct Result {
  Setting setting;
  double final_loss = 0, last_epoch_loss = 0, test_acc = 0, seconds = 0;
  double fwd_bytes = 0, bwd_bytes = 0, fwd_bytes_zstd = 0;      // all epochs
  double fwd_fp32_later = 0, fwd_bytes_later = 0, fwd_zstd_later = 0;  // epochs 2..E
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

size_t zstd_size(const std::vector<uint8_t>& b) {
  if (b.empty()) return 0;
  thread_local std::vector<uint8_t> z;
  z.resize(ZSTD_compressBound(b.size()));
  return ZSTD_compress(z.data(), z.size(), b.data(), b.size(), 1);
}

Result train(const Setting& st, const Args& a, const Data& train_set, const Data& test_set) {
  const int H = a.hidden, B = a.batch, n = train_set.n, steps_per_epoch = n / B;
  std::mt19937_64 rng(42);  // the same initial weights and data order for every setting
  Linear l1(784, H, rng), l2(H, H, rng), l3(H, 10, rng);
  std::vector<float> h1(size_t(B) * H), h1r(size_t(B) * H), h2(size_t(B) * H), z(size_t(B) * 10),
      p(size_t(B) * 10), dz(size_t(B) * 10), dh2(size_t(B) * H), dh1r(size_t(B) * H), dh1(size_t(B) * H),
      x(size_t(B) * 784), y(static_cast<size_t>(B)), check(size_t(B) * H);
  std::vector<uint64_t> ids(static_cast<size_t>(B));
  std::vector<int> order(static_cast<size_t>(n));
  for (int i = 0; i < n; i++) order[size_t(i)] = i;
  std::unique_ptr<State> tx, rx;
  if (st.aqsgd) {
    const std::string dir = a.scratch + "/aqsgd-train-" + std::to_string(st.bits);
    std::system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "'").c_str());
    const StateParams sp{uint32_t(H), uint64_t(n), FullPolicy::kEvict};
    tx = std::make_unique<State>(dir + "/tx", sp, true, false);
    rx = std::make_unique<State>(dir + "/rx", sp, true, false);
  }
  Result r;
  r.setting = st;
  const double t0 = now();
  Packed packed, grad;
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
      // the cut, forward: the receiver's h1r feeds stage 2
      const double fp32_bytes = double(h1.size()) * 4;
      if (st.bits == 0) {
        h1r = h1;
        r.fwd_bytes += fp32_bytes;
      } else {
        const Codec codec{st.bits, false, 0};
        pack(h1.data(), ids.data(), size_t(B), uint32_t(H), codec, tx.get(), batch_no, packed, check.data());
        unpack(packed, codec, rx.get(), h1r.data());
        if (std::memcmp(check.data(), h1r.data(), h1r.size() * 4) != 0) {
          std::fprintf(stderr, "bench_aqsgd_train: sender and receiver disagree (%s)\n", st.name.c_str());
          std::exit(1);
        }
        const double sent = double(packed.codes.size() + packed.scales.size() * 4 + packed.full_rows.size() * 4);
        const double sent_z = double(zstd_size(packed.codes) + packed.scales.size() * 4 + packed.full_rows.size() * 4);
        r.fwd_bytes += sent;
        r.fwd_bytes_zstd += sent_z;
        if (e > 0) {
          r.fwd_fp32_later += fp32_bytes;
          r.fwd_bytes_later += sent;
          r.fwd_zstd_later += sent_z;
        }
      }
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
      if (st.bits == 0) {
        dh1 = dh1r;
        r.bwd_bytes += double(dh1.size()) * 4;
      } else {
        const Codec codec{a.bwd_bits, false, 0};
        pack(dh1r.data(), ids.data(), size_t(B), uint32_t(H), codec, nullptr, batch_no, grad);
        unpack(grad, codec, nullptr, dh1.data());
        r.bwd_bytes += double(grad.codes.size() + grad.scales.size() * 4);
      }
      // stage 1 backward, with its own h1 for the ReLU mask
      relu_backward(dh1.data(), h1.data(), dh1.data(), int64_t(dh1.size()));
      l1.backward(x.data(), dh1.data(), B, nullptr);
      const bool first = e == 0 && s == 0;
      l1.step(a.lr, first);
      l2.step(a.lr, first);
      l3.step(a.lr, first);
    }
    r.last_epoch_loss = epoch_loss / steps_per_epoch;
    double tl, ta;
    evaluate(l1, l2, l3, test_set, tl, ta);
    std::fprintf(stderr, "bench_aqsgd_train: %-16s epoch %d/%d  mean batch loss %.4f  test acc %.2f%%  (%.0f s)\n",
                 st.name.c_str(), e + 1, a.epochs, r.last_epoch_loss, 100 * ta, now() - t0);
  }
  r.seconds = now() - t0;
  double acc_train, test_loss;
  evaluate(l1, l2, l3, train_set, r.final_loss, acc_train);
  evaluate(l1, l2, l3, test_set, test_loss, r.test_acc);
  if (st.aqsgd) std::system(("rm -rf '" + a.scratch + "/aqsgd-train-" + std::to_string(st.bits) + "'").c_str());
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
                         "[--bwd-bits B] [--settings fp32,aq2,...] [--threads T]\n");
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
    else if (k == "--bwd-bits") a.bwd_bits = std::atoi(v.c_str());
    else if (k == "--settings") a.settings = v;
    else if (k == "--threads") a.threads = std::atoi(v.c_str());
  }
  set_threads(a.threads);
  const Data train_set = load(a.data + "/train-images-idx3-ubyte.gz", a.data + "/train-labels-idx1-ubyte.gz");
  const Data test_set = load(a.data + "/t10k-images-idx3-ubyte.gz", a.data + "/t10k-labels-idx1-ubyte.gz");
  std::vector<Result> results;
  std::stringstream ss(a.settings);
  for (std::string s; std::getline(ss, s, ',');) results.push_back(train(parse_setting(s), a, train_set, test_set));
  const Result* ref = nullptr;
  for (const Result& r : results)
    if (r.setting.bits == 0) ref = &r;
  const std::string model = "MLP 784-" + std::to_string(a.hidden) + "-" + std::to_string(a.hidden) + "-10, cut after layer 1, " +
                            std::to_string(a.epochs) + " epochs Fashion-MNIST, batch " + std::to_string(a.batch) +
                            ", SGD lr " + std::to_string(a.lr).substr(0, 5) + " mom. 0.9";
  for (const Result& r : results) {
    const bool is_ref = r.setting.bits == 0;
    char cell[256], base[128], ratio[32];
    std::snprintf(cell, sizeof cell, "train loss %.4f, test acc %.2f %%, sent %s fwd + %s bwd", r.final_loss,
                  100 * r.test_acc, mb(r.fwd_bytes).c_str(), mb(r.bwd_bytes).c_str());
    if (ref && !is_ref) {
      std::snprintf(base, sizeof base, "fp32: train loss %.4f, test acc %.2f %%", ref->final_loss, 100 * ref->test_acc);
      std::snprintf(ratio, sizeof ratio, "%.3f× loss", r.final_loss / ref->final_loss);
    } else {
      std::snprintf(base, sizeof base, "—");
      std::snprintf(ratio, sizeof ratio, "—");
    }
    const char* target = is_ref ? "—" : r.setting.aqsgd ? "≤ 1.02× loss" : "> AQ-SGD's loss";
    const std::string bwd = is_ref ? "fp32" : "direct " + std::to_string(a.bwd_bits) + " bits";
    std::printf("| %s: forward %s, backward %s | %s | %s | %s | %s |\n", model.c_str(), r.setting.name.c_str(),
                bwd.c_str(), cell, base, ratio, target);
  }
  for (const Result& r : results) {
    if (!r.setting.aqsgd || r.fwd_bytes_later == 0) continue;
    std::printf("| Compression of real activations (h1, %d channels), AQ-SGD %d bits, epochs 2-%d: fp32 bytes / bytes sent, "
                "without / with zstd -1 on the codes | %.2f× / %.2f× | 1.00× (fp32) | — | — |\n",
                a.hidden, r.setting.bits, a.epochs, r.fwd_fp32_later / r.fwd_bytes_later, r.fwd_fp32_later / r.fwd_zstd_later);
  }
  return 0;
}
