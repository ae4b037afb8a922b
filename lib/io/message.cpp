#include "io/message.hpp"

#include <capnp/schema.h>

#include <cctype>
#include <set>

#include "schema/proofwork.capnp.h"

namespace pw {

bool looks_like_json(const Bytes& b) {
  for (uint8_t c : b) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    return c == '{';
  }
  return false;
}

namespace {

// The names of every field the schema marks $Json.hex, found by walking the file types'
// struct schemas, so a field added later is checked without a list to keep up to date.
void collect_hex_fields(capnp::StructSchema s, std::set<std::string>& names, std::set<uint64_t>& seen) {
  if (!seen.insert(s.getProto().getId()).second) return;
  constexpr uint64_t kJsonHex = 0xf061e22f0ae5c7b5ull;  // json.capnp's `hex` annotation
  for (auto f : s.getFields()) {
    for (auto a : f.getProto().getAnnotations())
      if (a.getId() == kJsonHex) names.insert(f.getProto().getName());
    capnp::Type t = f.getType();
    while (t.isList()) t = t.asList().getElementType();
    if (t.isStruct()) collect_hex_fields(t.asStruct(), names, seen);
  }
}

const std::set<std::string>& hex_fields() {
  static const std::set<std::string> names = [] {
    std::set<std::string> n;
    std::set<uint64_t> seen;
    for (capnp::StructSchema s : {capnp::Schema::from<schema::Task>(), capnp::Schema::from<schema::Manifest>(),
                                  capnp::Schema::from<schema::Checkpoint>(), capnp::Schema::from<schema::Verdict>(),
                                  capnp::Schema::from<schema::Dispute>()})
      collect_hex_fields(s, n, seen);
    return n;
  }();
  return names;
}

}  // namespace

void check_json_hex_fields(const Bytes& b, const std::string& what) {
  const std::string text(b.begin(), b.end());
  for (const std::string& k : hex_fields()) {
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

void configure_json(capnp::JsonCodec& codec) {
  codec.handleByAnnotation<schema::Task>();
  codec.handleByAnnotation<schema::Checkpoint>();
  codec.handleByAnnotation<schema::Manifest>();
  codec.handleByAnnotation<schema::Verdict>();
  codec.handleByAnnotation<schema::Dispute>();
  codec.setPrettyPrint(true);
}

Bytes to_binary(capnp::MessageBuilder& mb) {
  auto words = capnp::messageToFlatArray(mb);
  auto bytes = words.asBytes();
  return Bytes(bytes.begin(), bytes.end());
}

Bytes to_json_bytes(capnp::DynamicStruct::Reader r) {
  capnp::JsonCodec codec;
  configure_json(codec);
  kj::String s = codec.encode(r);
  Bytes out(s.begin(), s.end());
  out.push_back('\n');
  return out;
}

}  // namespace pw
