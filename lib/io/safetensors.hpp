// The safetensors format (Hugging Face): an 8-byte little-endian header length, a
// JSON header naming each tensor's dtype, shape and byte range (padded with spaces so
// that the data starts at a multiple of 8 bytes), then the tensors' bytes in the
// header's order (proofwork-files(5), EXPORT).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "io/file.hpp"

namespace pw {

struct SafetensorsTensor {
  std::string name;
  std::vector<uint64_t> shape;
  std::vector<float> data;  // F32, row-major; as many elements as the shape holds
};

// The file's bytes. `metadata` (string to string, as the format requires) goes into
// "__metadata__" in the order given.
Bytes safetensors_bytes(const std::vector<std::pair<std::string, std::string>>& metadata,
                        const std::vector<SafetensorsTensor>& tensors);

}  // namespace pw
