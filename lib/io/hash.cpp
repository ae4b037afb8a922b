#include "io/hash.hpp"

#include <cstring>

#include "core/error.hpp"

namespace pw {

namespace {
struct SodiumInit {
  SodiumInit() {
    if (sodium_init() < 0) internal_error("libsodium failed to initialise");
  }
};
void ensure_sodium() { static SodiumInit once; }
}  // namespace

Hasher::Hasher() {
  ensure_sodium();
  crypto_generichash_init(&st_, nullptr, 0, 32);
}

Hasher& Hasher::update(const void* p, size_t n) {
  crypto_generichash_update(&st_, static_cast<const unsigned char*>(p), n);
  return *this;
}

Hasher& Hasher::update_u32(uint32_t v) {
  uint8_t b[4];
  for (int i = 0; i < 4; i++) b[i] = uint8_t(v >> (8 * i));
  return update(b, 4);
}

Hasher& Hasher::update_u64(uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = uint8_t(v >> (8 * i));
  return update(b, 8);
}

Hasher& Hasher::update_str(std::string_view s) {
  update_u64(s.size());
  return update(s.data(), s.size());
}

Hash Hasher::final() {
  Hash h;
  crypto_generichash_final(&st_, h.data(), h.size());
  return h;
}

Hash blake2b(const void* p, size_t n) { return Hasher().update(p, n).final(); }

std::string hex(const uint8_t* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (size_t i = 0; i < n; i++) {
    s[2 * i] = d[p[i] >> 4];
    s[2 * i + 1] = d[p[i] & 15];
  }
  return s;
}

std::vector<uint8_t> unhex(std::string_view s) {
  auto nib = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    bad_input("not a hexadecimal digit: '" + std::string(1, c) + "'");
  };
  check_input(s.size() % 2 == 0, "hexadecimal string of odd length");
  std::vector<uint8_t> out(s.size() / 2);
  for (size_t i = 0; i < out.size(); i++) out[i] = uint8_t(nib(s[2 * i]) << 4 | nib(s[2 * i + 1]));
  return out;
}

Hash to_hash(const void* p, size_t n) {
  check_input(n == 32, "hash of " + std::to_string(n) + " bytes where 32 were expected");
  Hash h;
  std::memcpy(h.data(), p, 32);
  return h;
}

Hash merkle_root(const std::vector<Hash>& leaves) {
  if (leaves.empty()) return blake2b(nullptr, 0);
  std::vector<Hash> level;
  level.reserve(leaves.size());
  const uint8_t leaf_tag = 0;
  for (const Hash& l : leaves) level.push_back(Hasher().update(&leaf_tag, 1).update(l.data(), 32).final());
  while (level.size() > 1) {
    std::vector<Hash> next;
    for (size_t i = 0; i < level.size(); i += 2) {
      if (i + 1 == level.size()) {
        next.push_back(level[i]);
        continue;
      }
      const uint8_t tag = 1;
      next.push_back(Hasher().update(&tag, 1).update(level[i].data(), 32).update(level[i + 1].data(), 32).final());
    }
    level.swap(next);
  }
  return level[0];
}

}  // namespace pw
