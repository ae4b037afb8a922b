// All Cap'n Proto file I/O in one place (STYLE: explicit ReaderOptions limits,
// canonicalize before hashing). A file is binary (unpacked, one segment table) or
// the JSON form of the same struct; readers tell them apart by the first non-blank
// byte being '{'.
#pragma once
#include <capnp/compat/json.h>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>

#include <cstring>
#include <memory>
#include <string>

#include "core/error.hpp"
#include "io/file.hpp"
#include "io/hash.hpp"

namespace pw {

// Size limits on files read from untrusted parties.
constexpr size_t kSmallFileLimit = size_t(64) << 20;    // task, verdict, profile
constexpr size_t kTensorFileLimit = size_t(2) << 30;    // checkpoints

bool looks_like_json(const Bytes& b);
// Cap'n Proto's JSON codec decodes "$Json.hex" fields leniently; this rejects (bad
// input) any hash field of `type` (or of a struct it holds) whose string is not an even
// number of hexadecimal digits.
void check_json_hex_fields(const Bytes& b, capnp::StructSchema type, const std::string& what);
// The JSON form of `type` and of every struct it holds, as its schema's annotations say
// (hex hashes, snake_case names): configured from the type being coded, so no file kind
// can be left out (proofwork-files(5), ENCODING).
void configure_json(capnp::JsonCodec& codec, capnp::StructSchema type);

// What a reader does with a JSON field its schema does not name: ignores it, as Cap'n
// Proto's codec does, or refuses it (bad input), for files people write by hand, where a
// misspelt field would otherwise be dropped without a word (proofwork-files(5), TOPOLOGY).
enum class UnknownFields { Ignore, Refuse };

// An owned, decoded message.
template <typename T>
class Message {
 public:
  typename T::Reader root() const { return root_; }
  const Bytes& bytes() const { return bytes_; }  // as read from the file

  static Message parse(Bytes bytes, const std::string& what, UnknownFields unknown = UnknownFields::Ignore) {
    Message m;
    m.bytes_ = std::move(bytes);
    try {
      if (looks_like_json(m.bytes_)) {
        check_json_hex_fields(m.bytes_, capnp::Schema::from<T>(), what);
        capnp::JsonCodec codec;
        configure_json(codec, capnp::Schema::from<T>());
        codec.setMaxNestingDepth(64);
        codec.setRejectUnknownFields(unknown == UnknownFields::Refuse);
        m.builder_ = std::make_unique<capnp::MallocMessageBuilder>();
        auto b = m.builder_->template initRoot<T>();
        codec.decode(kj::ArrayPtr<const char>(reinterpret_cast<const char*>(m.bytes_.data()), m.bytes_.size()), b);
        m.root_ = b.asReader();
      } else {
        check_input(m.bytes_.size() % sizeof(capnp::word) == 0 && !m.bytes_.empty(),
                    what + ": not a Cap'n Proto message (size " + std::to_string(m.bytes_.size()) +
                        " is not a whole number of words)");
        m.words_ = kj::heapArray<capnp::word>(m.bytes_.size() / sizeof(capnp::word));
        std::memcpy(m.words_.begin(), m.bytes_.data(), m.bytes_.size());
        capnp::ReaderOptions opt;
        // Bounded amplification: the check below, one full pass (e.g. hashing) and reading.
        opt.traversalLimitInWords = m.words_.size() * 4 + 1024;
        opt.nestingLimit = 64;
        m.reader_ = std::make_unique<capnp::FlatArrayMessageReader>(m.words_.asPtr(), opt);
        check_input(m.reader_->getEnd() == m.words_.end(), what + ": trailing bytes after the message");
        m.root_ = m.reader_->template getRoot<T>();
        // Touch the whole structure once so truncated or garbage pointers fail here,
        // not in the middle of a computation.
        (void)capnp::canonicalize(m.root_);
      }
    } catch (const kj::Exception& e) {
      bad_input(what + ": malformed (" + std::string(e.getDescription().cStr()) + ")");
    }
    return m;
  }

  static Message read(const std::string& path, size_t limit, const std::string& what,
                      UnknownFields unknown = UnknownFields::Ignore) {
    return parse(read_file(path, limit, what), what + " '" + path + "'", unknown);
  }

 private:
  Bytes bytes_;
  kj::Array<capnp::word> words_;
  std::unique_ptr<capnp::FlatArrayMessageReader> reader_;
  std::unique_ptr<capnp::MallocMessageBuilder> builder_;
  typename T::Reader root_;
};

Bytes to_binary(capnp::MessageBuilder& mb);
Bytes to_json_bytes(capnp::DynamicStruct::Reader r);

template <typename R>
Bytes to_json(R r) {
  return to_json_bytes(capnp::toDynamic(r));
}

// A file's bytes: `mb` (its root a T) as binary, or as JSON when `json`
// (proofwork-files(5), ENCODING).
template <typename T>
Bytes message_bytes(capnp::MessageBuilder& mb, bool json) {
  return json ? to_json(mb.getRoot<T>().asReader()) : to_binary(mb);
}

// Writes `mb` atomically as binary, or as JSON when `json`.
template <typename T>
void write_message(const std::string& path, capnp::MallocMessageBuilder& mb, bool json) {
  write_file_atomic(path, message_bytes<T>(mb, json), json);
}

// BLAKE2b-256 of the canonical encoding (the same for the binary and JSON forms).
template <typename R>
Hash canonical_hash(R r) {
  auto words = capnp::canonicalize(r);
  return blake2b(words.begin(), words.size() * sizeof(capnp::word));
}

// Runs `f`, turning Cap'n Proto's exceptions (a file of another type, a pointer of the
// wrong kind met while reading fields) into bad input (exit 3) about `what`.
template <typename F>
auto guard_input(const std::string& what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const kj::Exception& e) {
    bad_input(what + ": malformed (" + std::string(e.getDescription().cStr()) + ")");
  }
}

template <typename R>
Hash hash_field(R data) {  // a Data field that must hold a 32-byte hash
  return to_hash(data.begin(), data.size());
}

// A Data field in hex, whatever its length.
inline std::string hex_of(capnp::Data::Reader d) { return hex(d.begin(), d.size()); }

inline capnp::Data::Reader as_data(const Hash& h) { return capnp::Data::Reader(h.data(), h.size()); }

}  // namespace pw
