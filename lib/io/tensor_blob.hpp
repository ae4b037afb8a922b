// Bulk tensors inside Cap'n Proto messages: chunked Data, dtype and shape, each
// chunk byte-shuffled (all first bytes of the elements, then all second bytes, ...)
// and zstd-compressed. Shuffling puts the slowly varying sign/exponent bytes of
// fp32 weights together, which zstd then squeezes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/hash.hpp"
#include "schema/proofwork.capnp.h"

namespace pw {

struct TensorShape {
  std::vector<uint64_t> dims;
  uint64_t elements() const;
};

// A tensor's compressed chunks and content hash: the thread-safe half of encoding, so
// several tensors can be compressed at once before going into one message.
struct EncodedTensor {
  std::vector<std::vector<uint8_t>> chunks;
  uint64_t chunk_elems = 0;
  Hash hash{};
};
EncodedTensor compress_tensor(const void* data, uint64_t n, int zstd_level = 1);
void store_tensor(schema::Tensor::Builder t, const std::string& name, schema::DType dtype, const TensorShape& shape,
                  const EncodedTensor& e);

// Encodes 4-byte elements (f32 or u32, little-endian) into `t`: both halves above.
void encode_tensor(schema::Tensor::Builder t, const std::string& name, schema::DType dtype,
                   const TensorShape& shape, const void* data, int zstd_level = 1);

// Decodes `t` into `out` (4-byte elements), checking codec, chunk sizes, the element
// count against `max_elements`, and the content hash. Throws bad input on any mismatch.
void decode_tensor(schema::Tensor::Reader t, schema::DType dtype, uint64_t max_elements,
                   std::vector<uint32_t>& out, const std::string& what);
void decode_tensor(schema::Tensor::Reader t, uint64_t max_elements, std::vector<float>& out,
                   const std::string& what);

Hash tensor_content_hash(const void* data, size_t bytes);

}  // namespace pw
