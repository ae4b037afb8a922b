#include "io/message.hpp"

#include <capnp/schema.h>

#include <cctype>
#include <map>
#include <mutex>
#include <set>
#include <string_view>

namespace pw {

bool looks_like_json(const Bytes& b) {
  for (uint8_t c : b) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    return c == '{';
  }
  return false;
}

namespace {

// The JSON names of every field of `s`, and of the structs it holds, that the schema
// marks $Json.hex: walked from the type itself, so a field added later is checked with
// no list to keep up to date.
void collect_hex_fields(capnp::StructSchema s, std::set<std::string>& names, std::set<uint64_t>& seen) {
  if (!seen.insert(s.getProto().getId()).second) return;
  constexpr uint64_t kJsonHex = 0xf061e22f0ae5c7b5ull;   // json.capnp's `hex` annotation
  constexpr uint64_t kJsonName = 0xfa5b1fd61c2e7c3dull;  // json.capnp's `name` annotation
  for (auto f : s.getFields()) {
    std::string name = f.getProto().getName();
    bool is_hex = false;
    for (auto a : f.getProto().getAnnotations()) {
      if (a.getId() == kJsonHex) is_hex = true;
      if (a.getId() == kJsonName && a.getValue().isText()) name = a.getValue().getText();
    }
    if (is_hex) names.insert(name);
    capnp::Type t = f.getType();
    while (t.isList()) t = t.asList().getElementType();
    if (t.isStruct()) collect_hex_fields(t.asStruct(), names, seen);
  }
}

// The names of `type`'s hex fields, at any depth, found once a type.
const std::set<std::string, std::less<>>& hex_fields_of(capnp::StructSchema type) {
  static std::mutex mu;
  static std::map<uint64_t, std::set<std::string, std::less<>>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto [it, made] = cache.try_emplace(type.getProto().getId());
  if (made) {
    std::set<std::string> names;
    std::set<uint64_t> seen;
    collect_hex_fields(type, names, seen);
    it->second.insert(names.begin(), names.end());
  }
  return it->second;
}

}  // namespace

// One pass over the text: each quoted string that names a hex field and is followed by
// ':' is a key, and its value, when a string, must be an even count of hex digits. (Field
// names hold no '"', so every `"name"` in the text is the string that starts at its quote.)
void check_json_hex_fields(const Bytes& b, capnp::StructSchema type, const std::string& what) {
  const std::set<std::string, std::less<>>& hex_fields = hex_fields_of(type);
  if (hex_fields.empty()) return;
  const std::string_view text(reinterpret_cast<const char*>(b.data()), b.size());
  for (size_t pos = text.find('"'); pos != std::string_view::npos; pos = text.find('"', pos + 1)) {
    const size_t close = text.find('"', pos + 1);
    if (close == std::string_view::npos) break;
    const std::string_view k = text.substr(pos + 1, close - pos - 1);
    if (hex_fields.find(k) == hex_fields.end()) continue;
    size_t i = close + 1;
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) i++;
    if (i >= text.size() || text[i] != ':') continue;  // the word inside some other string
    i++;
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) i++;
    if (i >= text.size() || text[i] != '"') continue;  // null or another type: the codec decides
    const size_t end = text.find('"', i + 1);
    check_input(end != std::string_view::npos, what + ": unterminated string for \"" + std::string(k) + "\"");
    const std::string_view v = text.substr(i + 1, end - i - 1);
    bool ok = v.size() % 2 == 0;
    for (char c : v) ok = ok && std::isxdigit(static_cast<unsigned char>(c));
    check_input(ok, what + ": \"" + std::string(k) + "\" is not an even number of hexadecimal digits");
  }
}

void configure_json(capnp::JsonCodec& codec, capnp::StructSchema type) {
  codec.handleByAnnotation(type);  // the type and every type it holds
  codec.setPrettyPrint(true);
}

Bytes to_binary(capnp::MessageBuilder& mb) {
  auto words = capnp::messageToFlatArray(mb);
  auto bytes = words.asBytes();
  return Bytes(bytes.begin(), bytes.end());
}

Bytes to_json_bytes(capnp::DynamicStruct::Reader r) {
  capnp::JsonCodec codec;
  configure_json(codec, r.getSchema());
  kj::String s = codec.encode(r);
  Bytes out(s.begin(), s.end());
  out.push_back('\n');
  return out;
}

}  // namespace pw
