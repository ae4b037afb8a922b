// BLAKE2b-256 (libsodium) and the Merkle tree used for commitments (proofwork-files(5), COMMITMENTS).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <optional>
#include <vector>

#include <sodium.h>

namespace pw {

using Hash = std::array<uint8_t, 32>;

// Streaming BLAKE2b-256.
class Hasher {
 public:
  Hasher();
  Hasher& update(const void* p, size_t n);
  Hasher& update_u32(uint32_t v);
  Hasher& update_u64(uint64_t v);
  Hasher& update_str(std::string_view s);  // length-prefixed
  Hash final();

 private:
  crypto_generichash_state st_;
};

Hash blake2b(const void* p, size_t n);
std::string hex(const uint8_t* p, size_t n);
inline std::string hex(const Hash& h) { return hex(h.data(), h.size()); }
// Parses 64 hex digits (or any even count when `any_length`); throws bad input otherwise.
std::vector<uint8_t> unhex(std::string_view s);
Hash to_hash(const void* p, size_t n);  // n must be 32; throws bad input otherwise

// Merkle tree over leaves, with RFC 6962's domain separation: a leaf node is
// BLAKE2b(0x00 || leaf), a parent BLAKE2b(0x01 || left || right); an odd node at the
// end of a level is promoted unchanged. The root of no leaves is BLAKE2b("").
Hash merkle_root(const std::vector<Hash>& leaves);
// The inclusion path of leaf `index` (< leaves.size()): the sibling at each level from the
// leaf up, none where the node is promoted unchanged.
std::vector<Hash> merkle_path(const std::vector<Hash>& leaves, size_t index);
// The root that `leaf` at `index` of `count` leaves and its `path` imply; nullopt when the
// path has the wrong length for that position.
std::optional<Hash> merkle_root_from_path(const Hash& leaf, size_t index, size_t count, const std::vector<Hash>& path);

}  // namespace pw
