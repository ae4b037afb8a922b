#include "io/idx.hpp"

#include "core/error.hpp"

namespace pw {

namespace {
constexpr size_t kIdxLimit = size_t(4) << 30;
}

IdxArray parse_idx(Bytes raw, const std::string& what) {
  check_input(raw.size() >= 4, what + ": too short for an IDX file");
  check_input(raw[0] == 0 && raw[1] == 0, what + ": not an IDX file (bad magic)");
  check_input(raw[2] == 0x08, what + ": IDX element type " + std::to_string(raw[2]) + " (only unsigned byte, 8, is supported)");
  const int nd = raw[3];
  check_input(nd >= 1 && nd <= 4, what + ": IDX with " + std::to_string(nd) + " dimensions");
  check_input(raw.size() >= 4 + 4 * size_t(nd), what + ": truncated IDX header");
  IdxArray a;
  uint64_t n = 1;
  for (int i = 0; i < nd; i++) {
    const uint8_t* p = raw.data() + 4 + 4 * i;
    uint32_t d = uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
    a.dims.push_back(d);
    n *= d;
    check_input(n <= kIdxLimit, what + ": IDX dimensions too large");
  }
  const size_t off = 4 + 4 * size_t(nd);
  check_input(raw.size() - off == n, what + ": IDX payload is " + std::to_string(raw.size() - off) +
                                         " bytes, dimensions say " + std::to_string(n) +
                                         (raw.size() - off < n ? " (truncated)" : ""));
  a.data.assign(raw.begin() + off, raw.end());
  a.raw = std::move(raw);
  return a;
}

IdxArray parse_idx_file(Bytes file, const std::string& what) {
  return parse_idx(maybe_gunzip(std::move(file), kIdxLimit, what), what);
}

IdxArray read_idx(const std::string& path, const std::string& what) {
  Bytes b = read_file(path, kIdxLimit, what);
  return parse_idx_file(std::move(b), what + " '" + path + "'");
}

}  // namespace pw
