#include "io/message.hpp"

#include "schema/proofwork.capnp.h"

namespace pw {

bool looks_like_json(const Bytes& b) {
  for (uint8_t c : b) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    return c == '{';
  }
  return false;
}

void configure_json(capnp::JsonCodec& codec) {
  codec.handleByAnnotation<schema::Task>();
  codec.handleByAnnotation<schema::Checkpoint>();
  codec.handleByAnnotation<schema::Manifest>();
  codec.handleByAnnotation<schema::Verdict>();
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
