// aqsgd_cut.hpp: what the AQ-SGD training benches share (bench_aqsgd_train: an MLP on
// Fashion-MNIST; bench_aqsgd_gpt: a GPT on a text): the settings, a pipeline cut crossed
// through lib/aqsgd's pack and unpack with a sender's and a receiver's state, its byte
// counts, the pool that runs (setting, seed) trainings, and the per-seed summaries.
//
// The protocol of a crossing (proofwork(7), AQ-SGD), the same for every model: the first
// W epochs (warm-up) cross the cut uncompressed both ways, as the reference
// implementation's training scripts do (DS3Lab/AQ-SGD --warmup-epochs), except that
// AQ-SGD packs in the last of them: every row is a first sight, sent at full precision,
// and fills the states with m(ξ) = a(ξ). Afterwards the forward activation crosses with
// the setting's codec (AQ-SGD against the states, or each batch quantized alone) and the
// backward gradient with direct quantization at a fixed width. The receiver's result
// must be bit for bit the sender's view of it, or the bench fails.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <zstd.h>

#include "aqsgd/codec.hpp"

namespace pw::bench {

struct Setting {
  std::string key;   // as written: "aq2r64s64"
  std::string name;  // for people: "AQ-SGD 2 bits, rotated by tiles of 64, ..."
  int bits = 0;  // 0: fp32
  bool aqsgd = false;
  uint32_t rotate_tile = 0, scale_tile = 0;  // the forward codec's options (aqsgd/codec.hpp)
};

// fp32, aqB or directB, then optionally rT (rotation by tiles of T) and sS (a scale per S
// channels of a row): aq2, aq2r64, aq2s64, aq2r64s64, direct2r64. Unknown: exit 2.
inline Setting parse_setting(const std::string& s, const char* prog) {
  if (s == "fp32") return {"fp32", "fp32", 0, false};
  Setting st;
  st.key = s;
  const char* p = nullptr;
  if (s.rfind("aq", 0) == 0) st.aqsgd = true, p = s.c_str() + 2;
  else if (s.rfind("direct", 0) == 0) p = s.c_str() + 6;
  char* end = nullptr;
  if (p) st.bits = int(std::strtol(p, &end, 10));
  while (end && *end) {
    const char k = *end;
    const uint32_t v = uint32_t(std::strtoul(end + 1, &end, 10));
    if (k == 'r') st.rotate_tile = v;
    else if (k == 's') st.scale_tile = v;
    else end = nullptr;
  }
  if (!p || !end || !aqsgd::valid_bits(st.bits) || !aqsgd::valid_tile(st.rotate_tile) ||
      !aqsgd::valid_tile(st.scale_tile)) {
    std::fprintf(stderr, "%s: unknown setting '%s'\n", prog, s.c_str());
    std::exit(2);
  }
  st.name = std::string(st.aqsgd ? "AQ-SGD " : "direct ") +
            aqsgd::codec_name(aqsgd::Codec{st.bits, false, 0, st.rotate_tile, st.scale_tile});
  return st;
}

// A comma-separated list of settings.
inline std::vector<Setting> parse_settings(const std::string& list, const char* prog) {
  std::vector<Setting> out;
  std::stringstream ss(list);
  for (std::string s; std::getline(ss, s, ',');) out.push_back(parse_setting(s, prog));
  return out;
}

// Bytes of b compressed by zstd -1 (0 for nothing).
inline size_t zstd_size(const std::vector<uint8_t>& b) {
  if (b.empty()) return 0;
  thread_local std::vector<uint8_t> z;
  z.resize(ZSTD_compressBound(b.size()));
  return ZSTD_compress(z.data(), z.size(), b.data(), b.size(), 1);
}

// What crossed the cut in one training.
struct CutBytes {
  double fwd = 0, bwd = 0, fwd_zstd = 0;                     // all epochs
  double later_steps = 0;                                    // steps of the compressed epochs
  double fwd_fp32_later = 0, fwd_later = 0, fwd_zstd_later = 0;  // the compressed epochs
};

// The cut of one training: rows of `cols` channels, sample ids below `samples`.
class CutLink {
 public:
  // dir: the states' directory (made, and removed at the end); seed keys the codec's
  // rotation and rounding; warmup: the uncompressed epochs.
  CutLink(const Setting& st, uint64_t seed, bool stochastic, int bwd_bits, int warmup, const std::string& dir,
          uint32_t cols, uint64_t samples)
      : st_(st), seed_(seed), stochastic_(stochastic), bwd_bits_(bwd_bits), warmup_(warmup), dir_(dir), cols_(cols) {
    if (!st.aqsgd) return;
    std::system(("rm -rf '" + dir_ + "' && mkdir -p '" + dir_ + "'").c_str());
    const aqsgd::StateParams sp{cols, samples, aqsgd::FullPolicy::kEvict};
    tx_ = std::make_unique<aqsgd::State>(dir_ + "/tx", sp, true, false);
    rx_ = std::make_unique<aqsgd::State>(dir_ + "/rx", sp, true, false);
  }
  ~CutLink() {
    tx_.reset();
    rx_.reset();
    if (st_.aqsgd) std::system(("rm -rf '" + dir_ + "'").c_str());
  }
  CutLink(const CutLink&) = delete;
  CutLink& operator=(const CutLink&) = delete;

  // a [rows, cols] at the sender → out [rows, cols] at the receiver, in epoch `epoch` (0
  // based), batch number `batch` of the run. out may not alias a.
  void forward(const float* a, const uint64_t* ids, size_t rows, int epoch, uint64_t batch, float* out) {
    const size_t n = rows * cols_;
    const double fp32 = double(n) * 4;
    const bool warm = epoch < warmup_, fill = st_.aqsgd && epoch == warmup_ - 1;
    if (st_.bits == 0 || (warm && !fill)) {
      std::memcpy(out, a, n * 4);
      bytes.fwd += fp32;
      return;
    }
    const aqsgd::Codec codec{st_.bits, stochastic_, seed_, st_.rotate_tile, st_.scale_tile};
    check_.resize(n);
    aqsgd::pack(a, ids, rows, cols_, codec, tx_.get(), batch, packed_, check_.data());
    aqsgd::unpack(packed_, codec, rx_.get(), out);
    if (std::memcmp(check_.data(), out, n * 4) != 0) {
      std::fprintf(stderr, "aqsgd bench: sender and receiver disagree (%s)\n", st_.name.c_str());
      std::exit(1);
    }
    const double sent = double(packed_.codes.size() + packed_.scales.size() * 4 + packed_.full_rows.size() * 4);
    const double sent_z = double(zstd_size(packed_.codes) + packed_.scales.size() * 4 + packed_.full_rows.size() * 4);
    bytes.fwd += sent;
    bytes.fwd_zstd += sent_z;
    if (!warm && epoch > 0) {  // the epochs where AQ-SGD sends changes
      bytes.fwd_fp32_later += fp32;
      bytes.fwd_later += sent;
      bytes.fwd_zstd_later += sent_z;
      bytes.later_steps += 1;
    }
  }

  // The gradient g [rows, cols] at the receiver → out [rows, cols] at the sender: direct
  // quantization at bwd_bits after the warm-up. out may not alias g.
  void backward(const float* g, const uint64_t* ids, size_t rows, int epoch, uint64_t batch, float* out) {
    const size_t n = rows * cols_;
    if (st_.bits == 0 || epoch < warmup_) {
      std::memcpy(out, g, n * 4);
      bytes.bwd += double(n) * 4;
      return;
    }
    const aqsgd::Codec codec{bwd_bits_, stochastic_, seed_ ^ 0xbacc};
    aqsgd::pack(g, ids, rows, cols_, codec, nullptr, batch, grad_);
    aqsgd::unpack(grad_, codec, nullptr, out);
    bytes.bwd += double(grad_.codes.size() + grad_.scales.size() * 4);
  }

  CutBytes bytes;

 private:
  Setting st_;
  uint64_t seed_;
  bool stochastic_;
  int bwd_bits_, warmup_;
  std::string dir_;
  uint32_t cols_;
  std::unique_ptr<aqsgd::State> tx_, rx_;
  aqsgd::Packed packed_, grad_;
  std::vector<float> check_;
};

// Runs job(i) for i in [0, count) on `jobs` threads (this one included).
inline void run_jobs(size_t count, int jobs, const std::function<void(size_t)>& job) {
  std::atomic<size_t> next{0};
  const auto worker = [&] {
    for (size_t j; (j = next++) < count;) job(j);
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < jobs; t++) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
}

// The mean of f over one setting's results (one per seed); `each`, when not null, gets
// the values, comma-separated.
template <typename R, typename F>
double mean_of(const std::vector<const R*>& rs, F f, std::string* each = nullptr) {
  double sum = 0;
  for (const R* r : rs) {
    sum += f(*r);
    if (each) {
      char b[32];
      std::snprintf(b, sizeof b, "%s%.4f", each->empty() ? "" : ", ", f(*r));
      *each += b;
    }
  }
  return sum / double(rs.size());
}

// "m (v1, v2, v3)" with several seeds, "m" with one.
inline std::string with_seeds(double m, const std::string& each, int seeds) {
  char b[256];
  std::snprintf(b, sizeof b, "%.4f%s%s%s", m, seeds > 1 ? " (" : "", seeds > 1 ? each.c_str() : "", seeds > 1 ? ")" : "");
  return b;
}

// The results of setting i, one per seed: results hold each setting's seeds in a row.
template <typename R>
std::vector<const R*> of_setting(const std::vector<R>& results, size_t i, int seeds) {
  std::vector<const R*> rs;
  for (int k = 0; k < seeds; k++) rs.push_back(&results[i * size_t(seeds) + size_t(k)]);
  return rs;
}

// Per AQ-SGD setting, a Markdown row of the bytes on the wire per step forward in the
// compressed epochs, and the compression of the real activations with and without zstd
// -1 on the codes (R::bytes: a CutBytes). shape names a batch ("batch 128 × 64 channels").
template <typename R>
void print_wire_rows(const std::vector<Setting>& settings, const std::vector<R>& results, int seeds,
                     const std::string& shape, int warmup, int epochs) {
  for (size_t i = 0; i < settings.size(); i++) {
    const std::vector<const R*> rs = of_setting(results, i, seeds);
    if (!settings[i].aqsgd || rs[0]->bytes.fwd_later == 0) continue;
    const double fp32 = mean_of(rs, [](const R& r) { return r.bytes.fwd_fp32_later; });
    const double sent = mean_of(rs, [](const R& r) { return r.bytes.fwd_later; });
    const double z = mean_of(rs, [](const R& r) { return r.bytes.fwd_zstd_later; });
    const double steps = mean_of(rs, [](const R& r) { return r.bytes.later_steps; });
    std::printf("| Bytes on the wire per step forward (codes, scales, full-precision rows; %s), %s, "
                "epochs %d-%d; compression of the real activations without / with zstd -1 on the codes | %.0f B/step: "
                "%.2f× / %.2f× | %.0f B/step (fp32) | — | — |\n",
                shape.c_str(), settings[i].name.c_str(), std::max(warmup, 1) + 1, epochs, sent / steps, fp32 / sent,
                fp32 / z, fp32 / steps);
  }
}

}  // namespace pw::bench
