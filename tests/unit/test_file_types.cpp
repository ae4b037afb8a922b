// lib/io/file_types: one row for every file kind, and every Cap'n Proto file type
// through the JSON codec and back. The messages are filled field by field from the
// schema, so a field or a type added later is covered without touching this test.
#include <doctest/doctest.h>

#include <capnp/any.h>
#include <capnp/dynamic.h>
#include <capnp/serialize.h>

#include <set>
#include <string>

#include "io/file_types.hpp"
#include "io/message.hpp"
#include "schema/proofwork.capnp.h"
#include "unit_helpers.hpp"

using namespace pw;

namespace {

constexpr uint64_t kJsonHex = 0xf061e22f0ae5c7b5ull;  // json.capnp's `hex`
const Bytes kOther = {0xaa, 0xbb, 0xcc};              // any Data field that is not a hash

bool is_hex(capnp::StructSchema::Field f) {
  for (auto a : f.getProto().getAnnotations())
    if (a.getId() == kJsonHex) return true;
  return false;
}

Hash sample_hash() { return pwtest::filled_hash(0); }  // 00 01 02 ... 1f

// A value of every scalar type that survives JSON (no NaN, exact in decimal).
capnp::DynamicValue::Reader scalar(capnp::Type t) {
  switch (t.which()) {
    case capnp::schema::Type::BOOL: return true;
    case capnp::schema::Type::INT8: case capnp::schema::Type::INT16: case capnp::schema::Type::INT32:
    case capnp::schema::Type::INT64: return int64_t(-7);
    case capnp::schema::Type::UINT8: case capnp::schema::Type::UINT16: case capnp::schema::Type::UINT32:
    case capnp::schema::Type::UINT64: return uint64_t(7);
    case capnp::schema::Type::FLOAT32: case capnp::schema::Type::FLOAT64: return 1.5;
    case capnp::schema::Type::TEXT: return capnp::Text::Reader("t");
    case capnp::schema::Type::DATA: return capnp::Data::Reader(kOther.data(), kOther.size());
    case capnp::schema::Type::ENUM: {
      auto e = t.asEnum().getEnumerants();
      return capnp::DynamicEnum(e[e.size() - 1]);
    }
    default: FAIL("not a scalar type"); return capnp::VOID;
  }
}

void fill_struct(capnp::DynamicStruct::Builder b, int depth, int& hashes);

void fill_list(capnp::DynamicList::Builder l, int depth, int& hashes) {
  const capnp::Type e = l.getSchema().getElementType();
  for (unsigned i = 0; i < l.size(); i++) {
    if (e.isStruct())
      fill_struct(l[i].as<capnp::DynamicStruct>(), depth + 1, hashes);
    else if (e.isList())
      fill_list(l.init(i, 2).as<capnp::DynamicList>(), depth + 1, hashes);
    else
      l.set(i, scalar(e));
  }
}

// Sets every field of `b` (of a union, its last member) and counts the hashes set.
void fill_struct(capnp::DynamicStruct::Builder b, int depth, int& hashes) {
  REQUIRE(depth < 8);  // no proofwork type nests deeper
  auto fields = b.getSchema().getNonUnionFields();
  std::vector<capnp::StructSchema::Field> todo;
  for (auto f : fields) todo.push_back(f);
  auto members = b.getSchema().getUnionFields();
  if (members.size()) todo.push_back(members[members.size() - 1]);
  for (auto f : todo) {
    if (f.getProto().isGroup()) {
      fill_struct(b.get(f).as<capnp::DynamicStruct>(), depth, hashes);
      continue;
    }
    const capnp::Type t = f.getType();
    if (t.isVoid()) {
      b.set(f, capnp::VOID);
    } else if (t.isStruct()) {
      fill_struct(b.init(f).as<capnp::DynamicStruct>(), depth + 1, hashes);
    } else if (t.isList()) {
      fill_list(b.init(f, 2).as<capnp::DynamicList>(), depth, hashes);
    } else if (t.isData() && is_hex(f)) {
      const Hash h = sample_hash();
      b.set(f, capnp::Data::Reader(h.data(), h.size()));
      hashes++;
    } else if (!t.isAnyPointer() && !t.isInterface()) {
      b.set(f, scalar(t));
    }
  }
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) n++;
  return n;
}

kj::Array<capnp::word> canonical(const Bytes& binary) {
  auto words = kj::heapArray<capnp::word>(binary.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), binary.data(), binary.size());
  capnp::FlatArrayMessageReader r(words);
  return r.getRoot<capnp::AnyStruct>().canonicalize();
}

}  // namespace

TEST_CASE("file types: every file kind has a row, and names and extensions are unique") {
  std::set<FileKind> kinds;
  std::set<std::string> names, extensions;
  for (const FileType& t : file_types()) {
    kinds.insert(t.kind);
    CHECK(names.insert(t.name).second);
    if (*t.extension) CHECK(extensions.insert(t.extension).second);
    CHECK(t.root.getProto().isStruct());
  }
  for (size_t k = 0; k <= size_t(FileKind::AqsgdStream); k++) CHECK(kinds.count(FileKind(k)));
  CHECK(std::string(file_type_of_path("dir/fast.pwp")->name) == "profile");
  CHECK(std::string(file_type_of_path("part.pwg")->name) == "partition");
  CHECK(std::string(file_type_of_path("s.pws")->name) == "schedule");
  CHECK(std::string(file_type_of_path("proof/manifest.pwm")->name) == "manifest");
  CHECK(file_type_of_path("topology.json") == nullptr);
  CHECK(file_type_of_path(".pwt") == nullptr);  // a bare extension is no name
  CHECK(std::string(file_type_named("settlement")->name) == "settlement");
  CHECK(file_type_named("nonsense") == nullptr);
  CHECK((file_type_named("aqsgd")->reencode == nullptr));  // a stream: aqsgd-pack --inspect prints it
}

TEST_CASE("file types: every type goes JSON -> binary -> JSON unchanged, with hashes in hex") {
  for (const FileType& t : file_types()) {
    if (!t.reencode) continue;
    const std::string name = t.name;
    CAPTURE(name);
    capnp::MallocMessageBuilder mb;
    auto root = mb.initRoot<capnp::DynamicStruct>(t.root);
    int hashes = 0;
    fill_struct(root, 0, hashes);
    const Bytes json = to_json_bytes(root.asReader());
    const std::string text(json.begin(), json.end());
    // Every hash prints as 64 hex digits, and nothing else does.
    const Hash h = sample_hash();
    CHECK(count(text, "\"" + hex(h.data(), h.size()) + "\"") == size_t(hashes));

    const Bytes binary = t.reencode(json, true, "json");
    CHECK(t.reencode(binary, false, "binary") == json);
    const auto a = canonical(binary), b = canonical(to_binary(mb));
    CHECK(a.asBytes() == b.asBytes());  // the same content, field for field
  }
}

TEST_CASE("file types: a profile's hashes print in hex, and a bad hex hash or another type is bad input") {
  capnp::MallocMessageBuilder mb;
  auto p = mb.initRoot<schema::Profile>();
  const Hash h = pwtest::filled_hash(0xa0);
  p.setTaskClass(as_data(h));
  p.setTaskHash(as_data(h));
  p.setProofRoot(as_data(h));
  const Bytes json = to_json(p.asReader());
  const std::string text(json.begin(), json.end());
  CHECK(text.find("\"taskClass\": \"" + hex(h.data(), h.size()) + "\"") != std::string::npos);
  CHECK(text.find("\"proofRoot\": \"" + hex(h.data(), h.size()) + "\"") != std::string::npos);

  const FileType* profile = file_type_named("profile");
  std::string bad = text;
  bad.replace(bad.find("\"taskClass\": \"") + 14, 1, "z");
  CHECK(pwtest::error_code_of([&] { profile->reencode(Bytes(bad.begin(), bad.end()), true, "p"); }) == kExitBadInput);
  CHECK(pwtest::error_code_of([&] { profile->reencode(Bytes{1, 2, 3}, false, "p"); }) == kExitBadInput);
  // A binary task read as a partition: bad input (3), not an internal error.
  capnp::MallocMessageBuilder tb;
  pwtest::fill_task(tb.initRoot<schema::Task>());
  CHECK(pwtest::error_code_of([&] { file_type_named("partition")->reencode(to_binary(tb), false, "t"); }) ==
        kExitBadInput);
}
