#include "io/tensor_blob.hpp"

#include <zstd.h>

#include <cstring>

#include "core/error.hpp"
#include "io/message.hpp"

namespace pw {

namespace {
constexpr uint64_t kChunkElems = uint64_t(1) << 24;  // 64 MiB of fp32 per chunk, far below Data's 512 MiB

static_assert(sizeof(float) == 4 && sizeof(uint32_t) == 4);
}  // namespace

uint64_t TensorShape::elements() const {
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;
  return n;
}

Hash tensor_content_hash(const void* data, size_t bytes) { return blake2b(data, bytes); }

EncodedTensor compress_tensor(const void* data, uint64_t n, int zstd_level) {
  EncodedTensor e;
  e.chunk_elems = kChunkElems;
  const uint64_t nchunks = n == 0 ? 0 : (n + kChunkElems - 1) / kChunkElems;
  const uint8_t* src = static_cast<const uint8_t*>(data);
  std::vector<uint8_t> shuf;
  for (uint64_t c = 0; c < nchunks; c++) {
    const uint64_t e0 = c * kChunkElems, ne = std::min(kChunkElems, n - e0);
    shuf.resize(ne * 4);
    for (int b = 0; b < 4; b++) {  // plane by plane: sequential writes
      uint8_t* plane = shuf.data() + size_t(b) * ne;
      const uint8_t* in = src + e0 * 4 + b;
      for (uint64_t i = 0; i < ne; i++) plane[i] = in[i * 4];
    }
    std::vector<uint8_t> comp(ZSTD_compressBound(shuf.size()));
    const size_t z = ZSTD_compress(comp.data(), comp.size(), shuf.data(), shuf.size(), zstd_level);
    if (ZSTD_isError(z)) internal_error(std::string("zstd: ") + ZSTD_getErrorName(z));
    comp.resize(z);
    e.chunks.push_back(std::move(comp));
  }
  e.hash = tensor_content_hash(data, n * 4);
  return e;
}

void store_tensor(schema::Tensor::Builder t, const std::string& name, schema::DType dtype, const TensorShape& shape,
                  const EncodedTensor& e) {
  t.setName(name);
  t.setDtype(dtype);
  auto sh = t.initShape(unsigned(shape.dims.size()));
  for (size_t i = 0; i < shape.dims.size(); i++) sh.set(unsigned(i), shape.dims[i]);
  t.setCodec(schema::Codec::ZSTD_SHUFFLE);
  t.setChunkElems(e.chunk_elems);
  auto chunks = t.initChunks(unsigned(e.chunks.size()));
  for (size_t c = 0; c < e.chunks.size(); c++) chunks.set(unsigned(c), capnp::Data::Reader(e.chunks[c].data(), e.chunks[c].size()));
  t.setHash(as_data(e.hash));
}

void encode_tensor(schema::Tensor::Builder t, const std::string& name, schema::DType dtype,
                   const TensorShape& shape, const void* data, int zstd_level) {
  store_tensor(t, name, dtype, shape, compress_tensor(data, shape.elements(), zstd_level));
}

void decode_tensor(schema::Tensor::Reader t, schema::DType dtype, uint64_t max_elements,
                   std::vector<uint32_t>& out, const std::string& what) {
  const std::string w = what + ": tensor '" + std::string(t.getName().cStr()) + "'";
  check_input(t.getDtype() == dtype, w + ": wrong dtype");
  auto shape = t.getShape();
  check_input(shape.size() <= 8, w + ": too many dimensions");
  uint64_t n = 1;
  for (uint64_t d : shape) {
    check_input(d <= max_elements && (d == 0 || n <= max_elements / d), w + ": shape too large");
    n *= d;
  }
  check_input(n <= max_elements, w + ": " + std::to_string(n) + " elements, more than the " +
                                     std::to_string(max_elements) + " expected");
  const uint64_t ce = t.getChunkElems();
  check_input(ce > 0 && ce <= (uint64_t(1) << 27), w + ": bad chunk size");
  auto chunks = t.getChunks();
  check_input(chunks.size() == (n + ce - 1) / ce, w + ": wrong number of chunks");
  out.assign(n, 0);
  uint8_t* dst = reinterpret_cast<uint8_t*>(out.data());
  std::vector<uint8_t> shuf;
  for (unsigned c = 0; c < chunks.size(); c++) {
    uint64_t e0 = uint64_t(c) * ce, ne = std::min(ce, n - e0);
    auto src = chunks[c];
    if (t.getCodec() == schema::Codec::RAW) {
      check_input(src.size() == ne * 4, w + ": raw chunk of the wrong size");
      std::memcpy(dst + e0 * 4, src.begin(), ne * 4);
      continue;
    }
    check_input(t.getCodec() == schema::Codec::ZSTD_SHUFFLE, w + ": unknown codec");
    unsigned long long fs = ZSTD_getFrameContentSize(src.begin(), src.size());
    check_input(fs == ne * 4, w + ": compressed chunk " + std::to_string(c) + " has the wrong size or is corrupt");
    shuf.resize(ne * 4);
    size_t z = ZSTD_decompress(shuf.data(), shuf.size(), src.begin(), src.size());
    check_input(!ZSTD_isError(z) && z == ne * 4, w + ": corrupt compressed chunk " + std::to_string(c));
    for (int b = 0; b < 4; b++) {
      const uint8_t* plane = shuf.data() + size_t(b) * ne;
      uint8_t* out_b = dst + e0 * 4 + b;
      for (uint64_t i = 0; i < ne; i++) out_b[i * 4] = plane[i];
    }
  }
  Hash h = tensor_content_hash(out.data(), n * 4);
  check_input(hash_field(t.getHash()) == h, w + ": content does not match its hash");
}

void decode_tensor(schema::Tensor::Reader t, uint64_t max_elements, std::vector<float>& out,
                   const std::string& what) {
  std::vector<uint32_t> u;
  decode_tensor(t, schema::DType::F32, max_elements, u, what);
  out.resize(u.size());
  if (!u.empty()) std::memcpy(out.data(), u.data(), u.size() * 4);  // an empty vector's data() may be null
}

}  // namespace pw
