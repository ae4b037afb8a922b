// aqsgd-pack: AQ-SGD activation compression with per-sample state (man aqsgd-pack).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "aqsgd/stream.hpp"
#include "cli/cli.hpp"
#include "core/error.hpp"
#include "io/file.hpp"

using namespace pw;

namespace {

struct Options {
  bool decompress = false, inspect = false, raw = false, direct = false, stochastic = false, sync = false, zstd = false;
  int bits = 0, level = 1;
  uint64_t seed = 0, capacity = aqsgd::kDefaultCapacity, first_id = 0;
  uint32_t wrap = 0, rotate = 0, scale_tile = 0;
  size_t batch_rows = 128;
  std::string ids_file, state, input = "-", output = "-", when_full = "evict";
};

int open_input(const std::string& path) {
  if (path == "-") return 0;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) bad_input("input '" + path + "': " + std::strerror(errno));
  return fd;
}

std::vector<uint64_t> read_ids_file(const std::string& path) {
  const Bytes b = read_file(path, size_t(1) << 30, "ids file");
  std::vector<uint64_t> ids;
  size_t line = 1, i = 0;
  while (i < b.size()) {
    while (i < b.size() && (b[i] == ' ' || b[i] == '\t')) i++;
    if (i < b.size() && b[i] == '\n') {
      i++, line++;
      continue;
    }
    uint64_t v = 0;
    size_t digits = 0;
    while (i < b.size() && b[i] >= '0' && b[i] <= '9') {
      const uint64_t d = b[i++] - '0';
      if (v > (UINT64_MAX - d) / 10) bad_input("ids file '" + path + "': line " + std::to_string(line) + ": id too large");
      v = v * 10 + d;
      digits++;
    }
    while (i < b.size() && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r')) i++;
    if (!digits || (i < b.size() && b[i] != '\n'))
      bad_input("ids file '" + path + "': line " + std::to_string(line) + ": not a sample id (decimal integer)");
    ids.push_back(v);
  }
  return ids;
}

std::string mb(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f MB", double(bytes) / 1e6);
  return buf;
}

void summary(const CommonOptions& common, const aqsgd::StreamStats& st, bool packing, bool stateful) {
  const uint64_t packed = packing ? st.output_bytes : 0;
  std::string msg = std::to_string(st.batches) + " batches, " + std::to_string(st.rows) + " rows";
  if (stateful) msg += " (" + std::to_string(st.full_rows) + " at full precision)";
  msg += ", " + mb(st.input_bytes) + " of fp32";
  if (packing && packed)
    msg += " -> " + mb(packed) + " (" + std::to_string(double(st.input_bytes) / double(packed)).substr(0, 5) + "x)";
  if (stateful)
    msg += ", state generation " + std::to_string(st.first_generation) + " -> " + std::to_string(st.last_generation);
  note(common, msg);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"AQ-SGD activation compression (Wang et al., NeurIPS 2022). Reads a stream of fp32 activation rows "
               "tagged with sample ids and writes a packed stream: a sample seen for the first time travels at full "
               "precision and is stored as m(sample); afterwards the B-bit quantized change Q(a - m) travels and both "
               "sides update m += Q(a - m), so their states stay bit-identical. -d restores the activations on the "
               "receiving side, with its own state. --direct quantizes the rows themselves, without state (for "
               "backward gradients).",
               "aqsgd-pack"};
  Options o;
  CommonOptions common;
  app.add_option("INPUT", o.input, "Input stream ('-': stdin, the default)");
  app.add_option("-o,--output", o.output, "Output stream ('-': stdout, the default)");
  app.add_flag("-d,--decompress", o.decompress, "Unpack a packed stream (bits, rounding and layout come from its header)");
  app.add_flag("--inspect", o.inspect, "Print a summary of a stream (activations or packed) instead; --json for JSON");
  app.add_option("-b,--bits", o.bits, "Bits per value: 2, 3, 4 or 8")->check(CLI::IsMember({2, 3, 4, 8}));
  app.add_option("--state", o.state, "State directory (created when absent; one per side of the link)");
  app.add_flag("--direct", o.direct, "Direct quantization of each batch, no state (backward gradients)");
  app.add_flag("--stochastic", o.stochastic, "Stochastic rounding (Philox keyed by seed, sample id, round, element)");
  app.add_option("--seed", o.seed, "Seed of the stochastic rounding and of the rotation's signs (default 0)");
  const auto tile = [](const std::string& v) {
    return aqsgd::valid_tile(std::strtoull(v.c_str(), nullptr, 10)) ? std::string()
                                                                    : "must be a power of two from 2 to 65536";
  };
  app.add_option("--rotate", o.rotate,
                 "Rotate each coded row by random-sign Walsh-Hadamard tiles of T values (a power of two) before "
                 "quantizing, and back after decoding: outliers spread over their tile")
      ->type_name("T")
      ->check(tile);
  app.add_option("--scale-tile", o.scale_tile,
                 "A scale per S channels of each coded row (a power of two) instead of one per channel over the batch")
      ->type_name("S")
      ->check(tile);
  app.add_flag("--zstd", o.zstd, "Compress each batch's codes with zstd");
  app.add_option("--level", o.level, "zstd level with --zstd (default 1)")->check(CLI::Range(1, 19));
  app.add_option("--capacity", o.capacity, "Samples a new state holds (default 65536); fixed at creation")
      ->check(CLI::Range(uint64_t(1), uint64_t(1) << 32));
  app.add_option("--when-full", o.when_full, "A new state's policy when full: evict (least recently updated) or refuse")
      ->check(CLI::IsMember({"evict", "refuse"}));
  app.add_option("--wrap", o.wrap, "Turn bare little-endian fp32 rows of COLS values into an activation stream")
      ->check(CLI::Range(1, 1 << 24));
  app.add_option("--batch-rows", o.batch_rows, "With --wrap: rows per batch (default 128)")->check(CLI::Range(1, 1 << 20));
  app.add_option("--first-id", o.first_id, "With --wrap: sample id of the first row, counting up (default 0)");
  app.add_option("--ids", o.ids_file, "With --wrap: a text file of sample ids, one per row");
  app.add_flag("--raw", o.raw, "With -d: write the bare fp32 rows instead of an activation stream");
  app.add_flag("--sync", o.sync, "msync the state at every batch (survives power loss, not only a crash)");
  add_common_options(app, common, kOptJson | kOptQuiet | kOptForce);
  return run_tool("aqsgd-pack", argc, argv, app, [&]() -> int {
    if (o.inspect) {
      const int fd = open_input(o.input);
      const std::string text = aqsgd::inspect_stream(fd, o.input == "-" ? "stdin" : o.input, common.json);
      check_output_path(o.output, {o.input}, common.force);
      write_file_atomic(o.output, text.data(), text.size(), true);
      return kExitOk;
    }
    if (o.wrap) {
      if (o.decompress || o.bits || o.direct || !o.state.empty() || o.rotate || o.scale_tile)
        usage_error("--wrap only converts bare fp32 rows into an activation stream; pack that in a second step");
      std::vector<uint64_t> ids;
      if (!o.ids_file.empty()) ids = read_ids_file(o.ids_file);
      check_output_path(o.output, {o.input, o.ids_file}, common.force);
      const int fd = open_input(o.input);
      aqsgd::OutputFile out(o.output);
      const aqsgd::StreamStats st = aqsgd::wrap_raw(fd, o.input == "-" ? "stdin" : o.input, out, o.wrap, o.batch_rows,
                                                    o.first_id, o.ids_file.empty() ? nullptr : &ids);
      note(common, std::to_string(st.batches) + " batches, " + std::to_string(st.rows) + " rows of " +
                       std::to_string(o.wrap) + " channels");
      return kExitOk;
    }
    if (o.raw && !o.decompress) usage_error("--raw goes with -d");
    const bool explicit_capacity = app.count("--capacity") > 0;
    if (o.decompress) {
      if (o.bits || o.direct || o.stochastic || o.zstd || explicit_capacity || app.count("--when-full") ||
          app.count("--rotate") || app.count("--scale-tile") || app.count("--seed"))
        usage_error("-d takes its settings from the stream's header; drop --bits, --direct, --stochastic, --seed, "
                    "--zstd, --rotate, --scale-tile, --capacity and --when-full");
    } else {
      if (!o.bits) usage_error("--bits is required (2, 3, 4 or 8)");
      if (o.direct == !o.state.empty()) usage_error("give either --state DIR (AQ-SGD) or --direct");
    }
    check_output_path(o.output, {o.input}, common.force);
    const int fd = open_input(o.input);
    const std::string in_name = o.input == "-" ? "stdin" : o.input;
    aqsgd::OutputFile out(o.output);
    if (o.decompress) {
      const aqsgd::StreamStats st = aqsgd::unpack_stream(fd, in_name, out, o.state, o.sync, o.raw);
      summary(common, st, false, !o.state.empty());
      return kExitOk;
    }
    aqsgd::PackSettings s;
    s.codec.bits = o.bits;
    s.codec.stochastic = o.stochastic;
    s.codec.seed = o.seed;
    s.codec.rotate_tile = o.rotate;
    s.codec.scale_tile = o.scale_tile;
    s.direct = o.direct;
    s.state_dir = o.state;
    s.state_params.capacity = explicit_capacity ? o.capacity : 0;  // 0: the default, or an existing state's
    s.state_params.policy = o.when_full == "refuse" ? aqsgd::FullPolicy::kRefuse : aqsgd::FullPolicy::kEvict;
    s.sync = o.sync;
    s.zstd_level = o.zstd ? o.level : 0;
    const aqsgd::StreamStats st = aqsgd::pack_stream(fd, in_name, out, s);
    summary(common, st, true, !o.direct);
    return kExitOk;
  });
}
