#include "io/message.hpp"

#include <capnp/schema.h>

#include <cctype>
#include <set>

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

}  // namespace

void check_json_hex_fields(const Bytes& b, capnp::StructSchema type, const std::string& what) {
  std::set<std::string> hex_fields;
  std::set<uint64_t> seen;
  collect_hex_fields(type, hex_fields, seen);
  const std::string text(b.begin(), b.end());
  for (const std::string& k : hex_fields) {
    const std::string quoted = std::string("\"") + k + "\"";
    for (size_t pos = text.find(quoted); pos != std::string::npos; pos = text.find(quoted, pos + 1)) {
      size_t i = pos + quoted.size();
      while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) i++;
      if (i >= text.size() || text[i] != ':') continue;  // the word inside some other string
      i++;
      while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) i++;
      if (i >= text.size() || text[i] != '"') continue;  // null or another type: the codec decides
      const size_t end = text.find('"', i + 1);
      check_input(end != std::string::npos, what + ": unterminated string for \"" + k + "\"");
      const std::string v = text.substr(i + 1, end - i - 1);
      bool ok = v.size() % 2 == 0;
      for (char c : v) ok = ok && std::isxdigit(static_cast<unsigned char>(c));
      check_input(ok, what + ": \"" + k + "\" is not an even number of hexadecimal digits");
    }
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
