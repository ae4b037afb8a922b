// IDX files (LeCun's MNIST format; Fashion-MNIST uses it too), plain or gzip.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/file.hpp"

namespace pw {

struct IdxArray {
  std::vector<uint32_t> dims;
  std::vector<uint8_t> data;  // unsigned bytes only (type code 0x08)
  Bytes raw;                  // the decompressed file, for hashing
};

// Parses a decompressed IDX byte string; throws bad input (with `what`) on a bad
// magic, a type other than unsigned byte, or a size that disagrees with the dims.
IdxArray parse_idx(Bytes raw, const std::string& what);
// parse_idx of a file's bytes as read: gzip-compressed ones are inflated first.
IdxArray parse_idx_file(Bytes file, const std::string& what);
IdxArray read_idx(const std::string& path, const std::string& what);

}  // namespace pw
