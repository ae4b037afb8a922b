#include "io/message.hpp"

#include <cctype>

#include "schema/proofwork.capnp.h"

namespace pw {

bool looks_like_json(const Bytes& b) {
  for (uint8_t c : b) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    return c == '{';
  }
  return false;
}

void check_json_hex_fields(const Bytes& b, const std::string& what) {
  static const char* const keys[] = {"hash", "contentHash", "sampleRoot", "taskHash", "stateHash", "fileHash",
                                     "root", "expected", "replayed", "proofRoot", "hashA", "hashB", "rootA", "rootB",
                                     "outputHashA", "outputHashB", "refereeHash"};
  const std::string text(b.begin(), b.end());
  for (const char* k : keys) {
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
