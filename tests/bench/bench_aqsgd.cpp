// bench_aqsgd: throughput of AQ-SGD packing and unpacking on one core, in GB/s of fp32
// input, side by side in the same run with memcpy and zstd level 1 of the same bytes.
//
//   bench_aqsgd SCRATCH_DIR [--rows R] [--cols C] [--samples S] [--passes P]
//
// Activations: S samples of C channels (normal, σ 1), seen P times in batches of R
// rows; between passes each sample drifts by 1 % (as activations do between epochs).
// The first pass (every row a first sight, sent at full precision) warms the states up
// and is not timed; the timed passes are the steady state, where every row is coded.
// pack = lib/aqsgd pack() with its state (planning, delta, per-channel max-abs, encode,
// decode into the state and the receiver's view, commit); unpack = unpack() on a second
// state (checks, decode into the state and the activations out, commit). The first pass
// also faults in both buffers of every slot (State::plan does at a sample's first
// sight). Times are the thread's CPU time.
// Prints Markdown rows on stdout.
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <zstd.h>

#include "aqsgd/codec.hpp"
#include "tensor/gemm.hpp"

using namespace pw;
using namespace pw::aqsgd;

namespace {

// CPU time of this thread: "per core" throughput, and robust on a machine shared with
// other work (the wall clock there measures the other processes too).
double now() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

struct Args {
  std::string scratch;
  size_t rows = 128, cols = 1024, samples = 4096, passes = 9;
};

Args parse(int argc, char** argv) {
  Args a;
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_aqsgd SCRATCH_DIR [--rows R] [--cols C] [--samples S] [--passes P]\n");
    std::exit(2);
  }
  a.scratch = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const size_t v = size_t(std::atoll(argv[i + 1]));
    if (k == "--rows") a.rows = v;
    else if (k == "--cols") a.cols = v;
    else if (k == "--samples") a.samples = v;
    else if (k == "--passes") a.passes = v;
  }
  return a;
}

void row(const std::string& name, double ours, const std::string& base_name, double base, const char* target) {
  std::printf("| %s | %.2f GB/s | %.2f GB/s (%s) | %.2f× | %s |\n", name.c_str(), ours, base, base_name.c_str(),
              ours / base, target);
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  set_threads(1);
  std::mt19937_64 rng(1);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> truth(a.samples * a.cols);
  for (float& x : truth) x = nd(rng);
  const size_t batches_per_pass = a.samples / a.rows;
  const size_t batch_floats = a.rows * a.cols;
  // Every batch of the timed passes, prepared beforehand: [passes-1][batches][rows, cols].
  std::vector<std::vector<float>> acts;
  std::vector<std::vector<uint64_t>> ids;
  for (size_t p = 0; p < a.passes; p++) {
    if (p > 0)
      for (float& x : truth) x += 0.01f * nd(rng);
    for (size_t b = 0; b < batches_per_pass; b++) {
      std::vector<float> x(batch_floats);
      std::vector<uint64_t> id(a.rows);
      for (size_t r = 0; r < a.rows; r++) {
        id[r] = uint64_t(b * a.rows + r);
        std::memcpy(x.data() + r * a.cols, truth.data() + id[r] * a.cols, a.cols * 4);
      }
      acts.push_back(std::move(x));
      ids.push_back(std::move(id));
    }
  }
  const size_t timed = acts.size() - batches_per_pass;
  const double gb = double(timed) * double(batch_floats) * 4.0 / 1e9;
  std::fprintf(stderr, "bench_aqsgd: %zu samples x %zu channels, batches of %zu rows, %zu timed batches (%.2f GB of fp32)\n",
               a.samples, a.cols, a.rows, timed, gb);

  // Baselines on the same bytes: memcpy, zstd -1 compress and decompress.
  std::vector<float> dst(batch_floats);
  double t0 = now();
  for (size_t i = batches_per_pass; i < acts.size(); i++) {
    std::memcpy(dst.data(), acts[i].data(), batch_floats * 4);
    asm volatile("" : : "r"(dst.data()) : "memory");
  }
  const double memcpy_gbs = gb / (now() - t0);
  std::vector<uint8_t> z(ZSTD_compressBound(batch_floats * 4));
  std::vector<std::vector<uint8_t>> zs;
  size_t zbytes = 0;
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  t0 = now();
  for (size_t i = batches_per_pass; i < acts.size(); i++) {
    const size_t n = ZSTD_compressCCtx(cctx, z.data(), z.size(), acts[i].data(), batch_floats * 4, 1);
    zs.emplace_back(z.begin(), z.begin() + long(n));
    zbytes += n;
  }
  const double zc_gbs = gb / (now() - t0);
  t0 = now();
  for (const auto& f : zs) ZSTD_decompressDCtx(dctx, dst.data(), batch_floats * 4, f.data(), f.size());
  const double zd_gbs = gb / (now() - t0);
  ZSTD_freeCCtx(cctx);
  ZSTD_freeDCtx(dctx);

  std::vector<float> view(batch_floats), out(batch_floats);
  // Direct quantization (no state): the codec alone, per-channel max-abs + encode, and
  // decode.
  for (int bits : {2, 4}) {
    const Codec codec{bits, false, 0};
    Packed p;
    double pack_s = 0, unpack_s = 0;
    for (size_t i = batches_per_pass; i < acts.size(); i++) {
      const double a0 = now();
      pack(acts[i].data(), ids[i].data(), a.rows, uint32_t(a.cols), codec, nullptr, i, p);
      const double a1 = now();
      unpack(p, codec, nullptr, out.data());
      unpack_s += now() - a1;
      pack_s += a1 - a0;
    }
    row("Direct quantization pack (no state), " + std::to_string(bits) + " bits, 1 core", gb / pack_s, "memcpy",
        memcpy_gbs, "≥ 1 GB/s");
    row("Direct quantization unpack (no state), " + std::to_string(bits) + " bits, 1 core", gb / unpack_s, "memcpy",
        memcpy_gbs, "≥ 1 GB/s");
  }
  // Plain codecs at every width, then the rotation (tiles of 64) and per-tile scales (64
  // channels of a row), alone and together (proofwork(7), AQ-SGD).
  const Codec codecs[] = {Codec{2}, Codec{3}, Codec{4}, Codec{8}, Codec{2, false, 1, 64, 0}, Codec{2, false, 1, 0, 64},
                          Codec{2, false, 1, 64, 64}, Codec{4, false, 1, 64, 64}};
  for (const Codec& codec : codecs) {
    const int bits = codec.bits;
    const bool plain = !codec.rotate_tile && !codec.scale_tile;
    const std::string name = codec_name(codec);
    const std::string dir = a.scratch + "/bench-aqsgd-" + std::to_string(bits);
    std::system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "'").c_str());
    StateParams sp{uint32_t(a.cols), a.samples, FullPolicy::kEvict};
    State tx(dir + "/tx", sp, true, false), rx(dir + "/rx", sp, true, false);
    std::vector<Packed> packed(acts.size());
    double pack_s = 0, unpack_s = 0;
    size_t packed_bytes = 0;
    bool identical = true;
    for (size_t i = 0; i < acts.size(); i++) {
      const double a0 = now();
      pack(acts[i].data(), ids[i].data(), a.rows, uint32_t(a.cols), codec, &tx, i, packed[i], view.data());
      const double a1 = now();
      unpack(packed[i], codec, &rx, out.data());
      const double a2 = now();
      if (i >= batches_per_pass) {
        pack_s += a1 - a0;
        unpack_s += a2 - a1;
        packed_bytes += packed[i].codes.size() + packed[i].scales.size() * 4 + packed[i].full_rows.size() * 4;
      }
      identical = identical && std::memcmp(view.data(), out.data(), batch_floats * 4) == 0;
    }
    if (!identical) {
      std::fprintf(stderr, "bench_aqsgd: sender and receiver disagree at %s\n", name.c_str());
      return 1;
    }
    std::fprintf(stderr, "bench_aqsgd: %s: pack %.2f GB/s, unpack %.2f GB/s, %.1fx smaller\n", name.c_str(),
                 gb / pack_s, gb / unpack_s, double(timed * batch_floats * 4) / double(packed_bytes));
    const std::string shape = std::to_string(a.rows) + "×" + std::to_string(a.cols);
    const std::string size = std::to_string(double(timed * batch_floats * 4) / double(packed_bytes)).substr(0, 5);
    row("AQ-SGD pack, " + name + ", 1 core (fp32 in, batches " + shape + ", with state; " + size + "× smaller)",
        gb / pack_s, "memcpy", memcpy_gbs, "≥ 1 GB/s");
    row("AQ-SGD unpack, " + name + ", 1 core (fp32 out, with state)", gb / unpack_s, "memcpy", memcpy_gbs,
        "≥ 1 GB/s");
    if (!plain) {
      std::system(("rm -rf '" + dir + "'").c_str());
      continue;
    }
    row("AQ-SGD pack vs zstd -1 of the raw fp32, " + std::to_string(bits) + " bits (size ratio " +
            std::to_string(double(timed * batch_floats * 4) / double(packed_bytes)).substr(0, 5) + "× vs zstd's " +
            std::to_string(double(timed * batch_floats * 4) / double(zbytes)).substr(0, 4) + "×)",
        gb / pack_s, "zstd -1", zc_gbs, "—");
    row("AQ-SGD unpack vs zstd -1 decompression, " + std::to_string(bits) + " bits", gb / unpack_s, "zstd -d",
        zd_gbs, "—");
    std::system(("rm -rf '" + dir + "'").c_str());
  }
  return 0;
}
