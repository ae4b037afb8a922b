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

namespace {

Hash merkle_leaf(const Hash& l) {
  const uint8_t tag = 0;
  return Hasher().update(&tag, 1).update(l.data(), 32).final();
}

Hash merkle_parent(const Hash& left, const Hash& right) {
  const uint8_t tag = 1;
  return Hasher().update(&tag, 1).update(left.data(), 32).update(right.data(), 32).final();
}

// Walks the tree level by level; `visit(level, index)` sees each level before it is folded.
template <class Visit>
Hash merkle_walk(const std::vector<Hash>& leaves, Visit visit) {
  if (leaves.empty()) return blake2b(nullptr, 0);
  std::vector<Hash> level;
  level.reserve(leaves.size());
  for (const Hash& l : leaves) level.push_back(merkle_leaf(l));
  while (level.size() > 1) {
    visit(level);
    std::vector<Hash> next;
    for (size_t i = 0; i < level.size(); i += 2)
      next.push_back(i + 1 == level.size() ? level[i] : merkle_parent(level[i], level[i + 1]));
    level.swap(next);
  }
  return level[0];
}

}  // namespace

Hash merkle_root(const std::vector<Hash>& leaves) {
  return merkle_walk(leaves, [](const std::vector<Hash>&) {});
}

std::vector<Hash> merkle_path(const std::vector<Hash>& leaves, size_t index) {
  std::vector<Hash> path;
  merkle_walk(leaves, [&](const std::vector<Hash>& level) {
    const size_t sib = index ^ 1;
    if (sib < level.size()) path.push_back(level[sib]);
    index /= 2;
  });
  return path;
}

std::optional<Hash> merkle_root_from_path(const Hash& leaf, size_t index, size_t count, const std::vector<Hash>& path) {
  if (index >= count) return std::nullopt;
  Hash node = merkle_leaf(leaf);
  size_t used = 0;
  for (size_t n = count; n > 1; n = (n + 1) / 2, index /= 2) {
    if ((index ^ 1) >= n) continue;  // promoted unchanged
    if (used == path.size()) return std::nullopt;
    node = index % 2 ? merkle_parent(path[used], node) : merkle_parent(node, path[used]);
    used++;
  }
  if (used != path.size()) return std::nullopt;
  return node;
}

}  // namespace pw
