#include "io/safetensors.hpp"

#include <bit>
#include <cstring>

#include "core/error.hpp"
#include "io/json.hpp"

namespace pw {

static_assert(std::endian::native == std::endian::little, "safetensors stores little-endian F32: copy with a byte swap here");

Bytes safetensors_bytes(const std::vector<std::pair<std::string, std::string>>& metadata,
                        const std::vector<SafetensorsTensor>& tensors) {
  std::string header = "{\"__metadata__\":{";
  for (size_t i = 0; i < metadata.size(); i++)
    header += (i ? "," : "") + json_string(metadata[i].first) + ":" + json_string(metadata[i].second);
  header += "}";
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    uint64_t n = 1;
    std::string shape;
    for (uint64_t d : t.shape) {
      n *= d;
      shape += (shape.empty() ? "" : ",") + std::to_string(d);
    }
    if (n != t.data.size()) internal_error("safetensors: tensor '" + t.name + "' does not hold its shape");
    header += "," + json_string(t.name) + ":{\"dtype\":\"F32\",\"shape\":[" + shape + "],\"data_offsets\":[" +
              std::to_string(offset) + "," + std::to_string(offset + n * 4) + "]}";
    offset += n * 4;
  }
  header += "}";
  while (header.size() % 8) header += ' ';  // 8 + header: the data starts 8-byte aligned
  Bytes file(8 + header.size() + offset);
  const uint64_t length = header.size();
  for (int i = 0; i < 8; i++) file[size_t(i)] = uint8_t(length >> (8 * i));
  std::memcpy(file.data() + 8, header.data(), header.size());
  size_t pos = 8 + header.size();
  for (const auto& t : tensors) {
    if (!t.data.empty()) std::memcpy(file.data() + pos, t.data.data(), t.data.size() * 4);
    pos += t.data.size() * 4;
  }
  return file;
}

}  // namespace pw
