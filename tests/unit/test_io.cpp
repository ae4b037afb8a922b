// lib/io: BLAKE2b and the Merkle rule, tensor blobs, Cap'n Proto messages from
// untrusted bytes (proofwork(7), UNTRUSTED INPUT: exit 3, never a crash), IDX, files and names.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "io/file.hpp"
#include "io/hash.hpp"
#include "io/idx.hpp"
#include "io/message.hpp"
#include "io/tensor_blob.hpp"
#include "tensor/mathfn.hpp"
#include "unit_helpers.hpp"

using pwtest::error_code_of;

namespace {

pw::Bytes bytes_of(const std::string& s) { return pw::Bytes(s.begin(), s.end()); }

pw::Hash node(const pw::Hash& l, const pw::Hash& r) {
  std::vector<uint8_t> buf{0x01};
  buf.insert(buf.end(), l.begin(), l.end());
  buf.insert(buf.end(), r.begin(), r.end());
  return pw::blake2b(buf.data(), buf.size());
}

pw::Bytes task_binary() {
  capnp::MallocMessageBuilder mb;
  pwtest::fill_task(mb.initRoot<pw::schema::Task>());
  return pw::to_binary(mb);
}

pw::Bytes idx_bytes(uint8_t type, const std::vector<uint32_t>& dims, size_t payload) {
  pw::Bytes b{0, 0, type, uint8_t(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(d >> s));
  for (size_t i = 0; i < payload; i++) b.push_back(uint8_t(i * 7));
  return b;
}

}  // namespace

// ---------------------------------------------------------------- hashes

TEST_CASE("blake2b is BLAKE2b-256") {
  // python3 -c "import hashlib; print(hashlib.blake2b(b'', digest_size=32).hexdigest())"
  CHECK(pw::hex(pw::blake2b("", 0)) == "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  CHECK(pw::hex(pw::blake2b("abc", 3)) == "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  CHECK(pw::hex(pw::blake2b(nullptr, 0)) == "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  // Streaming in pieces gives the one-shot hash.
  pw::Hasher h;
  h.update("a", 1).update("bc", 2);
  CHECK(h.final() == pw::blake2b("abc", 3));
  // Integers are little-endian; strings are length-prefixed (u64).
  const uint8_t le[12] = {0x04, 0x03, 0x02, 0x01, 8, 7, 6, 5, 4, 3, 2, 1};
  CHECK(pw::Hasher().update_u32(0x01020304u).update_u64(0x0102030405060708ull).final() == pw::blake2b(le, 12));
  const uint8_t str[11] = {3, 0, 0, 0, 0, 0, 0, 0, 'a', 'b', 'c'};
  CHECK(pw::Hasher().update_str("abc").final() == pw::blake2b(str, 11));
  // Length prefixing separates ("ab","c") from ("a","bc").
  CHECK(pw::Hasher().update_str("ab").update_str("c").final() != pw::Hasher().update_str("a").update_str("bc").final());
}

TEST_CASE("hex, unhex and to_hash") {
  const uint8_t b[4] = {0x00, 0x0f, 0xa5, 0xff};
  CHECK(pw::hex(b, 4) == "000fa5ff");
  CHECK(pw::unhex("000fA5Ff") == std::vector<uint8_t>{0x00, 0x0f, 0xa5, 0xff});
  CHECK(pw::unhex("").empty());
  CHECK(error_code_of([] { pw::unhex("abc"); }) == pw::kExitBadInput);
  CHECK(error_code_of([] { pw::unhex("zz"); }) == pw::kExitBadInput);
  CHECK(error_code_of([] { pw::unhex("0g"); }) == pw::kExitBadInput);
  const pw::Hash h = pw::blake2b("x", 1);
  CHECK(pw::to_hash(h.data(), 32) == h);
  CHECK(error_code_of([&] { pw::to_hash(h.data(), 31); }) == pw::kExitBadInput);
  CHECK(error_code_of([&] { pw::to_hash(h.data(), 0); }) == pw::kExitBadInput);
  auto back = pw::unhex(pw::hex(h));
  CHECK(pw::to_hash(back.data(), back.size()) == h);
}

TEST_CASE("merkle_root follows the documented rule") {
  const pw::Hash a = pw::blake2b("a", 1), b = pw::blake2b("b", 1), c = pw::blake2b("c", 1), d = pw::blake2b("d", 1),
                 e = pw::blake2b("e", 1);
  auto leaf = [](const pw::Hash& h) {
    const uint8_t tag = 0;
    return pw::Hasher().update(&tag, 1).update(h.data(), 32).final();
  };
  const pw::Hash la = leaf(a), lb = leaf(b), lc = leaf(c), ld = leaf(d), le = leaf(e);
  CHECK(pw::merkle_root({}) == pw::blake2b("", 0));
  CHECK(pw::merkle_root({a}) == la);
  CHECK(pw::merkle_root({a, b}) == node(la, lb));
  CHECK(pw::merkle_root({a, b, c}) == node(node(la, lb), lc));  // c promoted unchanged
  CHECK(pw::merkle_root({a, b, c, d}) == node(node(la, lb), node(lc, ld)));
  CHECK(pw::merkle_root({a, b, c, d, e}) == node(node(node(la, lb), node(lc, ld)), le));
  // Domain separation: a root over leaves is not the root over their parents.
  CHECK(pw::merkle_root({node(la, lb), node(lc, ld)}) != pw::merkle_root({a, b, c, d}));
  // Order matters, and no leaf can be dropped or duplicated unnoticed.
  CHECK(pw::merkle_root({b, a}) != pw::merkle_root({a, b}));
  CHECK(pw::merkle_root({a, b, c, c}) != pw::merkle_root({a, b, c}));
  // The tag byte: a parent is not the plain hash of the concatenation.
  std::vector<uint8_t> cat(a.begin(), a.end());
  cat.insert(cat.end(), b.begin(), b.end());
  CHECK(pw::merkle_root({a, b}) != pw::blake2b(cat.data(), cat.size()));
}

// ---------------------------------------------------------------- tensors

TEST_CASE("encode_tensor / decode_tensor round trip bit for bit") {
  std::vector<float> v;
  for (int i = 0; i < 1000; i++) v.push_back(std::ldexp(float(i % 97) - 48.5f, i % 40 - 20));
  // Values whose bits must survive: −0, subnormals, infinities, NaN payloads.
  v[0] = -0.0f;
  v[1] = 1e-45f;
  v[2] = -3e-40f;
  v[3] = INFINITY;
  v[4] = -INFINITY;
  v[5] = pw::u2f(0x7fc12345u);
  v[6] = pw::u2f(0xffa00001u);
  for (uint64_t n : {uint64_t(0), uint64_t(1), uint64_t(5), uint64_t(1000)}) {
    capnp::MallocMessageBuilder mb;
    auto t = mb.initRoot<pw::schema::Tensor>();
    const pw::TensorShape shape = n == 1000 ? pw::TensorShape{{25, 40}} : pw::TensorShape{{n}};
    pw::encode_tensor(t, "0.weight", pw::schema::DType::F32, shape, v.data());
    CHECK(std::string(t.getName().cStr()) == "0.weight");
    CHECK(t.getShape().size() == shape.dims.size());
    CHECK(pw::hash_field(t.getHash().asReader()) == pw::tensor_content_hash(v.data(), n * 4));
    std::vector<float> out{1.0f, 2.0f};
    pw::decode_tensor(t.asReader(), n, out, "test");
    REQUIRE(out.size() == n);
    CHECK((n == 0 || std::memcmp(out.data(), v.data(), n * 4) == 0));  // memcmp of an empty vector's null data() is UB
    // Through the binary file form as well.
    pw::Bytes bin = pw::to_binary(mb);
    auto msg = pw::Message<pw::schema::Tensor>::parse(bin, "tensor");
    std::vector<float> out2;
    pw::decode_tensor(msg.root(), n, out2, "test");
    CHECK((n == 0 || std::memcmp(out2.data(), v.data(), n * 4) == 0));
  }
  // u32 tensors.
  std::vector<uint32_t> u{0, 1, 0xffffffffu, 0x80000000u, 12345};
  capnp::MallocMessageBuilder mb;
  auto t = mb.initRoot<pw::schema::Tensor>();
  pw::encode_tensor(t, "batch_order", pw::schema::DType::U32, {{5}}, u.data());
  std::vector<uint32_t> out;
  pw::decode_tensor(t.asReader(), pw::schema::DType::U32, 5, out, "test");
  CHECK(out == u);
}

TEST_CASE("decode_tensor reads raw chunks of any size") {
  // A hand-made raw tensor of 10 elements in chunks of 3 (3, 3, 3, 1).
  std::vector<uint32_t> u{10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
  capnp::MallocMessageBuilder mb;
  auto t = mb.initRoot<pw::schema::Tensor>();
  t.setName("x");
  t.setDtype(pw::schema::DType::U32);
  t.initShape(2).set(0, 2);
  t.getShape().set(1, 5);
  t.setCodec(pw::schema::Codec::RAW);
  t.setChunkElems(3);
  auto ch = t.initChunks(4);
  for (unsigned c = 0; c < 4; c++) {
    const unsigned ne = c < 3 ? 3 : 1;
    ch.set(c, capnp::Data::Reader(reinterpret_cast<const uint8_t*>(u.data() + 3 * c), ne * 4));
  }
  const pw::Hash h = pw::tensor_content_hash(u.data(), 40);
  t.setHash(pw::as_data(h));
  std::vector<uint32_t> out;
  pw::decode_tensor(t.asReader(), pw::schema::DType::U32, 10, out, "raw");
  CHECK(out == u);
  // A chunk one element short.
  ch.set(1, capnp::Data::Reader(reinterpret_cast<const uint8_t*>(u.data() + 3), 8));
  CHECK(error_code_of([&] { pw::decode_tensor(t.asReader(), pw::schema::DType::U32, 10, out, "raw"); }) ==
        pw::kExitBadInput);
}

TEST_CASE("decode_tensor rejects corrupt, mislabelled and oversized tensors") {
  std::vector<float> v(300);
  for (size_t i = 0; i < v.size(); i++) v[i] = float(i) * 0.37f - 20.0f;
  auto decode_code = [&](auto mutate, uint64_t max = 300, pw::schema::DType dt = pw::schema::DType::F32) {
    capnp::MallocMessageBuilder mb;
    auto t = mb.initRoot<pw::schema::Tensor>();
    pw::encode_tensor(t, "w", pw::schema::DType::F32, {{300}}, v.data());
    mutate(t);
    std::vector<uint32_t> out;
    return error_code_of([&] { pw::decode_tensor(t.asReader(), dt, max, out, "test"); });
  };
  auto none = [](pw::schema::Tensor::Builder) {};
  CHECK(decode_code(none) == -1);
  // A flipped byte anywhere in the compressed chunk.
  capnp::MallocMessageBuilder probe;
  auto pt = probe.initRoot<pw::schema::Tensor>();
  pw::encode_tensor(pt, "w", pw::schema::DType::F32, {{300}}, v.data());
  const size_t chunk_bytes = pt.getChunks()[0].size();
  REQUIRE(chunk_bytes > 8);
  for (size_t pos = 0; pos < chunk_bytes; pos++) {
    INFO("flipped chunk byte " << pos);
    CHECK(decode_code([&](pw::schema::Tensor::Builder t) { t.getChunks()[0][pos] ^= 0x5a; }) == pw::kExitBadInput);
  }
  // A truncated chunk, an empty chunk.
  CHECK(decode_code([&](pw::schema::Tensor::Builder t) {
          auto c = t.getChunks()[0];
          std::vector<uint8_t> half(c.begin(), c.begin() + c.size() / 2);
          t.getChunks().set(0, capnp::Data::Reader(half.data(), half.size()));
        }) == pw::kExitBadInput);
  CHECK(decode_code([&](pw::schema::Tensor::Builder t) { t.getChunks().set(0, capnp::Data::Reader()); }) ==
        pw::kExitBadInput);
  // A wrong hash, a hash of the wrong length, no hash.
  CHECK(decode_code([&](pw::schema::Tensor::Builder t) { t.getHash()[0] ^= 1; }) == pw::kExitBadInput);
  CHECK(decode_code([&](pw::schema::Tensor::Builder t) {
          const pw::Hash h = pw::blake2b("x", 1);
          t.setHash(capnp::Data::Reader(h.data(), 31));
        }) == pw::kExitBadInput);
  CHECK(decode_code([&](pw::schema::Tensor::Builder t) { t.disownHash(); }) == pw::kExitBadInput);
  // More elements than the caller expects.
  CHECK(decode_code(none, 299) == pw::kExitBadInput);
  CHECK(decode_code(none, 0) == pw::kExitBadInput);
  // A shape whose product overflows, a shape that disagrees with the chunks.
  CHECK(decode_code([&](pw::schema::Tensor::Builder t) {
          auto s = t.initShape(3);
          s.set(0, uint64_t(1) << 32);
          s.set(1, uint64_t(1) << 32);
          s.set(2, 300);
        }, ~uint64_t(0) >> 1) == pw::kExitBadInput);
  CHECK(decode_code([&](pw::schema::Tensor::Builder t) { t.getShape().set(0, 301); }, 1000) == pw::kExitBadInput);
  CHECK(decode_code([&](pw::schema::Tensor::Builder t) { t.getShape().set(0, 299); }) == pw::kExitBadInput);
  CHECK(decode_code([&](pw::schema::Tensor::Builder t) { t.initShape(9); }) == pw::kExitBadInput);
  // The wrong dtype either way.
  CHECK(decode_code(none, 300, pw::schema::DType::U32) == pw::kExitBadInput);
  CHECK(decode_code([&](pw::schema::Tensor::Builder t) { t.setDtype(pw::schema::DType::U32); }) == pw::kExitBadInput);
  // Bad chunking: no chunk size, a different chunk count, an unknown codec, a raw
  // codec over compressed bytes.
  CHECK(decode_code([&](pw::schema::Tensor::Builder t) { t.setChunkElems(0); }) == pw::kExitBadInput);
  CHECK(decode_code([&](pw::schema::Tensor::Builder t) { t.setChunkElems(100); }) == pw::kExitBadInput);
  CHECK(decode_code([&](pw::schema::Tensor::Builder t) { t.initChunks(2); }) == pw::kExitBadInput);
  CHECK(decode_code([&](pw::schema::Tensor::Builder t) { t.initChunks(0); }) == pw::kExitBadInput);
  CHECK(decode_code([&](pw::schema::Tensor::Builder t) { t.setCodec(static_cast<pw::schema::Codec>(7)); }) ==
        pw::kExitBadInput);
  CHECK(decode_code([&](pw::schema::Tensor::Builder t) { t.setCodec(pw::schema::Codec::RAW); }) == pw::kExitBadInput);
}

// ---------------------------------------------------------------- messages

TEST_CASE("Message<T>::parse accepts a binary task and hashes it canonically") {
  capnp::MallocMessageBuilder mb;
  auto t = mb.initRoot<pw::schema::Task>();
  pwtest::fill_task(t);
  const pw::Hash want = pw::canonical_hash(t.asReader());
  pw::Bytes bin = pw::to_binary(mb);
  CHECK(bin.size() % 8 == 0);
  auto msg = pw::Message<pw::schema::Task>::parse(bin, "task");
  CHECK(msg.bytes() == bin);
  CHECK(msg.root().getBatch() == 10);
  CHECK(msg.root().getSeed() == 0x1234567890abcdefull);
  CHECK(pw::canonical_hash(msg.root()) == want);
  // A changed field changes the canonical hash.
  t.setSeed(t.getSeed() + 1);
  CHECK(pw::canonical_hash(t.asReader()) != want);
}

TEST_CASE("JSON and binary forms of a task have the same canonical hash") {
  capnp::MallocMessageBuilder mb;
  auto t = mb.initRoot<pw::schema::Task>();
  pwtest::fill_task(t);
  const pw::Hash want = pw::canonical_hash(t.asReader());
  pw::Bytes json = pw::to_json(t.asReader());
  REQUIRE(pw::looks_like_json(json));
  const std::string text(json.begin(), json.end());
  // Hash fields are written as hex strings ($Json.hex).
  CHECK(text.find(pw::hex(pwtest::filled_hash(3))) != std::string::npos);
  auto from_json = pw::Message<pw::schema::Task>::parse(json, "task.json");
  CHECK(pw::canonical_hash(from_json.root()) == want);
  CHECK(std::string(from_json.root().getModel().getKind().cStr()) == "mlp");
  CHECK(from_json.root().getModel().getWidths()[0] == 784);
  CHECK(from_json.root().getSeed() == 0x1234567890abcdefull);
  CHECK(from_json.root().getOptimizer().getLr() == 0.1);
  auto from_bin = pw::Message<pw::schema::Task>::parse(pw::to_binary(mb), "task");
  CHECK(pw::canonical_hash(from_bin.root()) == want);
  // Leading blanks still read as JSON.
  pw::Bytes padded = bytes_of(" \n\t");
  padded.insert(padded.end(), json.begin(), json.end());
  CHECK(pw::canonical_hash(pw::Message<pw::schema::Task>::parse(padded, "task").root()) == want);
  // JSON → binary → JSON is stable.
  capnp::MallocMessageBuilder mb2;
  mb2.setRoot(from_json.root());
  CHECK(pw::to_json(mb2.getRoot<pw::schema::Task>().asReader()) == json);
}

TEST_CASE("looks_like_json") {
  CHECK(pw::looks_like_json(bytes_of("{}")));
  CHECK(pw::looks_like_json(bytes_of("  \r\n\t{")));
  CHECK_FALSE(pw::looks_like_json(bytes_of("")));
  CHECK_FALSE(pw::looks_like_json(bytes_of("   ")));
  CHECK_FALSE(pw::looks_like_json(bytes_of("x{")));
  CHECK_FALSE(pw::looks_like_json(pw::Bytes{0, 0, 0, 0, '{'}));
}

TEST_CASE("Message<T>::parse rejects garbage with exit status 3, never a crash") {
  using Msg = pw::Message<pw::schema::Task>;
  auto parse_code = [](pw::Bytes b) { return error_code_of([&] { Msg::parse(std::move(b), "task"); }); };
  const pw::Bytes good = task_binary();
  REQUIRE(parse_code(good) == -1);
  CHECK(parse_code({}) == pw::kExitBadInput);
  // Sizes that are not whole words.
  for (size_t extra = 1; extra < 8; extra++) {
    pw::Bytes b = good;
    b.resize(b.size() + extra, 0);
    CHECK(parse_code(b) == pw::kExitBadInput);
    CHECK(parse_code(pw::Bytes(good.begin(), good.end() - long(extra))) == pw::kExitBadInput);
  }
  // Every truncation to whole words, and trailing words after the message.
  for (size_t n = 0; n < good.size(); n += 8) {
    INFO("truncated to " << n << " bytes");
    CHECK(parse_code(pw::Bytes(good.begin(), good.begin() + long(n))) == pw::kExitBadInput);
  }
  {
    pw::Bytes b = good;
    b.resize(b.size() + 8, 0);
    CHECK(parse_code(b) == pw::kExitBadInput);
  }
  // Garbage.
  CHECK(parse_code(pw::Bytes(64, 0xff)) == pw::kExitBadInput);
  CHECK(parse_code(pw::Bytes{0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0}) == pw::kExitBadInput);  // 2^31 segments
  CHECK(parse_code(pw::Bytes{0, 0, 0, 0, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0, 0, 0, 0, 0}) ==
        pw::kExitBadInput);  // a segment far larger than the file
  {
    // A root pointer to a far-off struct.
    pw::Bytes b{0, 0, 0, 0, 2, 0, 0, 0, 0xfc, 0xff, 0xff, 0x7f, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    CHECK(parse_code(b) == pw::kExitBadInput);
  }
  uint64_t s = 12345;
  for (int trial = 0; trial < 200; trial++) {
    pw::Bytes b(8 * (1 + trial % 40));
    for (auto& x : b) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      x = uint8_t(s >> 56);
    }
    const int code = parse_code(b);
    INFO("random trial " << trial);
    CHECK((code == -1 || code == pw::kExitBadInput));
  }
  // Bad JSON: syntax, types, nesting.
  CHECK(parse_code(bytes_of("{ not json")) == pw::kExitBadInput);
  CHECK(parse_code(bytes_of("{\"batch\": \"ten\"}")) == pw::kExitBadInput);
  CHECK(parse_code(bytes_of("{\"model\": 5}")) == pw::kExitBadInput);
  CHECK(parse_code(bytes_of("{\"batch\": 10}}}}")) == pw::kExitBadInput);
  CHECK(parse_code(bytes_of("{\"x\": " + std::string(100000, '[') + std::string(100000, ']') + "}")) ==
        pw::kExitBadInput);
}

// capnp 0.9's JSON codec decodes $Json.hex fields with kj::decodeHex and ignores its
// error flag: "zz…z" becomes zero bytes and an odd digit count is silently dropped,
// so a hash field that is not hexadecimal at all reads as a well-formed hash.
TEST_CASE("Message<T>::parse rejects JSON hash fields that are not hexadecimal") {
  using Msg = pw::Message<pw::schema::Task>;
  auto parse_code = [](const std::string& s) { return error_code_of([&] { Msg::parse(bytes_of(s), "task"); }); };
  const std::string good = "{\"dataset\": {\"contentHash\": \"" + std::string(64, 'a') + "\"}}";
  CHECK(parse_code(good) == -1);
  CHECK(parse_code("{\"dataset\": {\"contentHash\": \"" + std::string(64, 'z') + "\"}}") == pw::kExitBadInput);
  CHECK(parse_code("{\"dataset\": {\"contentHash\": \"" + std::string(63, 'a') + "\"}}") == pw::kExitBadInput);
  CHECK(parse_code("{\"dataset\": {\"sampleRoot\": \"0x" + std::string(62, '1') + "\"}}") == pw::kExitBadInput);
}

TEST_CASE("Message<T>::parse survives every single-byte corruption of a task") {
  using Msg = pw::Message<pw::schema::Task>;
  const pw::Bytes good = task_binary();
  int rejected = 0;
  for (size_t pos = 0; pos < good.size(); pos++)
    for (uint8_t flip : {uint8_t(0x01), uint8_t(0x80), uint8_t(0xff)}) {
      pw::Bytes b = good;
      b[pos] ^= flip;
      const int code = error_code_of([&] { Msg::parse(b, "task"); });
      INFO("byte " << pos << " ^ " << int(flip));
      CHECK((code == -1 || code == pw::kExitBadInput));
      rejected += code == pw::kExitBadInput;
    }
  CHECK(rejected > 0);
}

TEST_CASE("Message<T>::read enforces the size limit") {
  pwtest::ScratchDir dir;
  const pw::Bytes good = task_binary();
  pw::write_file_atomic(dir.file("task.pwt"), good);
  CHECK(pw::Message<pw::schema::Task>::read(dir.file("task.pwt"), good.size(), "task").root().getSteps() == 20);
  CHECK(error_code_of([&] { pw::Message<pw::schema::Task>::read(dir.file("task.pwt"), good.size() - 1, "task"); }) ==
        pw::kExitBadInput);
  CHECK(error_code_of([&] { pw::Message<pw::schema::Task>::read(dir.file("absent.pwt"), 1 << 20, "task"); }) ==
        pw::kExitBadInput);
}

// ---------------------------------------------------------------- names and files

TEST_CASE("is_safe_name") {
  CHECK(pw::is_safe_name("ckpt-00000010.pwc"));
  CHECK(pw::is_safe_name("manifest.pwm"));
  CHECK(pw::is_safe_name("a..b"));
  CHECK_FALSE(pw::is_safe_name("../x"));
  CHECK_FALSE(pw::is_safe_name(".."));
  CHECK_FALSE(pw::is_safe_name("."));
  CHECK_FALSE(pw::is_safe_name("/abs"));
  CHECK_FALSE(pw::is_safe_name("a/b"));
  CHECK_FALSE(pw::is_safe_name("a\\b"));
  CHECK_FALSE(pw::is_safe_name(".hidden"));
  CHECK_FALSE(pw::is_safe_name(""));
  CHECK_FALSE(pw::is_safe_name("a b"));
  CHECK_FALSE(pw::is_safe_name("a\nb"));
  CHECK_FALSE(pw::is_safe_name(std::string("a\0b", 3)));
  CHECK_FALSE(pw::is_safe_name("caf\xc3\xa9"));
  CHECK_FALSE(pw::is_safe_name(std::string(256, 'a')));
  CHECK(pw::is_safe_name(std::string(255, 'a')));
}

TEST_CASE("path helpers") {
  CHECK(pw::join_path("dir", "f") == "dir/f");
  CHECK(pw::join_path("dir/", "f") == "dir/f");
  CHECK(pw::join_path("", "f") == "f");
  CHECK(pw::base_name("/a/b/c.gz") == "c.gz");
  CHECK(pw::base_name("c.gz") == "c.gz");
  pwtest::ScratchDir dir;
  CHECK(pw::is_directory(dir.path));
  CHECK_FALSE(pw::file_exists(dir.file("sub")));
  pw::make_directory(dir.file("sub"));
  pw::make_directory(dir.file("sub"));  // exists: fine
  CHECK(pw::is_directory(dir.file("sub")));
  pw::write_file_atomic(dir.file("plain"), bytes_of("x"));
  CHECK(pw::file_exists(dir.file("plain")));
  CHECK_FALSE(pw::is_directory(dir.file("plain")));
  CHECK(error_code_of([&] { pw::make_directory(dir.file("plain")); }) != -1);
}

TEST_CASE("read_file enforces its limit and reports unreadable input as exit 3") {
  pwtest::ScratchDir dir;
  pw::Bytes data(100000);
  for (size_t i = 0; i < data.size(); i++) data[i] = uint8_t(i * 31);
  pw::write_file_atomic(dir.file("f"), data);
  CHECK(pw::read_file(dir.file("f"), data.size(), "f") == data);
  CHECK(pw::read_file(dir.file("f"), data.size() + 1, "f") == data);
  CHECK(error_code_of([&] { pw::read_file(dir.file("f"), data.size() - 1, "f"); }) == pw::kExitBadInput);
  CHECK(error_code_of([&] { pw::read_file(dir.file("f"), 0, "f"); }) == pw::kExitBadInput);
  CHECK(error_code_of([&] { pw::read_file(dir.file("missing"), 100, "f"); }) == pw::kExitBadInput);
  CHECK(error_code_of([&] { pw::read_file(dir.path, 100, "f"); }) == pw::kExitBadInput);
  pw::write_file_atomic(dir.file("empty"), pw::Bytes{});
  CHECK(pw::read_file(dir.file("empty"), 0, "f").empty());
}

TEST_CASE("write_file_atomic replaces the file and leaves no temporary behind") {
  pwtest::ScratchDir dir;
  const std::string path = dir.file("out.bin");
  pw::write_file_atomic(path, bytes_of("first version, longer"));
  CHECK(dir.entries() == std::vector<std::string>{"out.bin"});
  pw::write_file_atomic(path, bytes_of("second"));
  CHECK(dir.entries() == std::vector<std::string>{"out.bin"});
  CHECK(pw::read_file(path, 1000, "out") == bytes_of("second"));
  // A path in a missing directory fails (environment error) and leaves nothing.
  CHECK(error_code_of([&] { pw::write_file_atomic(dir.file("no/such/dir"), bytes_of("x")); }) == pw::kExitInternal);
  CHECK(dir.entries() == std::vector<std::string>{"out.bin"});
}

TEST_CASE("AtomicFile: streamed writes appear at commit, or never") {
  pwtest::ScratchDir dir;
  const std::string path = dir.file("stream.bin");
  pw::write_file_atomic(path, bytes_of("old"));
  {  // abandoned (an error before commit): the old file stays, the temporary goes
    pw::AtomicFile f(path);
    f.write("new ", 4);
    CHECK(dir.entries().size() == 2);  // the temporary beside the old file
    CHECK(pw::read_file(path, 100, "f") == bytes_of("old"));
  }
  CHECK(dir.entries() == std::vector<std::string>{"stream.bin"});
  CHECK(pw::read_file(path, 100, "f") == bytes_of("old"));
  {
    pw::AtomicFile f(path);
    f.write("new ", 4);
    f.write("content", 7);
    CHECK(f.bytes_written() == 11);
    CHECK(f.commit());
    CHECK(error_code_of([&] { f.commit(); }) == pw::kExitInternal);  // once
  }
  CHECK(pw::read_file(path, 100, "f") == bytes_of("new content"));
  CHECK(dir.entries() == std::vector<std::string>{"stream.bin"});
  // Without replace, an existing file is left alone and the temporary removed.
  {
    pw::AtomicFile f(path);
    f.write("other", 5);
    CHECK_FALSE(f.commit(false));
  }
  CHECK(pw::read_file(path, 100, "f") == bytes_of("new content"));
  CHECK(dir.entries() == std::vector<std::string>{"stream.bin"});
  {
    pw::AtomicFile f(dir.file("fresh"));
    f.write("x", 1);
    CHECK(f.commit(false));
  }
  CHECK(pw::read_file(dir.file("fresh"), 100, "f") == bytes_of("x"));
}

TEST_CASE("AtomicFile: the mode is the writer's, even over a stale temporary") {
  pwtest::ScratchDir dir;
  const std::string path = dir.file("secret");
  // A temporary left by a crashed process with our pid, readable by all.
  const std::string stale = path + ".tmp." + std::to_string(getpid());
  pw::write_file_atomic(stale, bytes_of("stale and longer"));
  REQUIRE(::chmod(stale.c_str(), 0644) == 0);
  {
    pw::AtomicFile f(path, false, 0600);
    f.write("k", 1);
    f.commit();
  }
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(pw::read_file(path, 100, "f") == bytes_of("k"));
  CHECK(dir.entries() == std::vector<std::string>{"secret"});
}

TEST_CASE("maybe_gunzip") {
  const std::string fixtures = PW_FIXTURES;
  pw::Bytes gz = pw::read_file(fixtures + "/tiny/train-labels-idx1-ubyte.gz", 1 << 20, "labels");
  REQUIRE(gz.size() > 20);
  CHECK(gz[0] == 0x1f);
  pw::Bytes raw = pw::maybe_gunzip(gz, 1 << 20, "labels");
  CHECK(raw.size() == 8 + 1000);  // IDX header + 1000 labels
  CHECK(pw::maybe_gunzip(raw, 1 << 20, "labels") == raw);  // not gzip: unchanged
  CHECK(error_code_of([&] { pw::maybe_gunzip(gz, 1000, "labels"); }) == pw::kExitBadInput);
  CHECK(error_code_of([&] { pw::maybe_gunzip(pw::Bytes(gz.begin(), gz.begin() + long(gz.size() / 2)), 1 << 20, "l"); }) ==
        pw::kExitBadInput);
  pw::Bytes bad = gz;
  bad[bad.size() / 2] ^= 0xff;
  bad[bad.size() / 2 + 1] ^= 0xff;
  CHECK(error_code_of([&] { pw::maybe_gunzip(bad, 1 << 20, "l"); }) == pw::kExitBadInput);
  CHECK(error_code_of([&] { pw::maybe_gunzip(pw::Bytes{0x1f, 0x8b}, 1 << 20, "l"); }) == pw::kExitBadInput);
}

// ---------------------------------------------------------------- IDX

TEST_CASE("parse_idx reads unsigned-byte IDX files") {
  pw::IdxArray a = pw::parse_idx(idx_bytes(0x08, {3, 2, 4}, 24), "x");
  CHECK(a.dims == std::vector<uint32_t>{3, 2, 4});
  REQUIRE(a.data.size() == 24);
  CHECK(a.data[5] == 35);
  CHECK(a.raw.size() == 4 + 12 + 24);
  pw::IdxArray l = pw::parse_idx(idx_bytes(0x08, {300}, 300), "x");
  CHECK(l.dims == std::vector<uint32_t>{300});
  // Big-endian dimensions.
  pw::IdxArray big = pw::parse_idx(idx_bytes(0x08, {0x0102}, 0x0102), "x");
  CHECK(big.dims[0] == 0x0102);
  // The fixture through read_idx (.gz).
  pw::IdxArray img = pw::read_idx(std::string(PW_FIXTURES) + "/tiny/train-images-idx3-ubyte.gz", "images");
  CHECK(img.dims == std::vector<uint32_t>{1000, 28, 28});
  CHECK(img.data.size() == 1000u * 28 * 28);
}

TEST_CASE("parse_idx rejects bad magic, types and sizes") {
  auto code = [](pw::Bytes b) { return error_code_of([&] { pw::parse_idx(std::move(b), "x"); }); };
  CHECK(code(idx_bytes(0x08, {2, 3}, 6)) == -1);
  pw::Bytes magic = idx_bytes(0x08, {2, 3}, 6);
  magic[0] = 1;
  CHECK(code(magic) == pw::kExitBadInput);
  magic = idx_bytes(0x08, {2, 3}, 6);
  magic[1] = 8;
  CHECK(code(magic) == pw::kExitBadInput);
  for (uint8_t type : {0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0x00})
    CHECK(code(idx_bytes(type, {2, 3}, 6)) == pw::kExitBadInput);
  CHECK(code(idx_bytes(0x08, {2, 3}, 5)) == pw::kExitBadInput);  // truncated payload
  CHECK(code(idx_bytes(0x08, {2, 3}, 0)) == pw::kExitBadInput);
  CHECK(code(idx_bytes(0x08, {2, 3}, 7)) == pw::kExitBadInput);  // trailing bytes
  CHECK(code(idx_bytes(0x08, {}, 0)) == pw::kExitBadInput);       // no dimensions
  CHECK(code(idx_bytes(0x08, {1, 1, 1, 1, 1}, 1)) == pw::kExitBadInput);
  CHECK(code(pw::Bytes{0, 0, 8}) == pw::kExitBadInput);
  CHECK(code(pw::Bytes{}) == pw::kExitBadInput);
  pw::Bytes hdr = idx_bytes(0x08, {2, 3}, 0);
  hdr.resize(9);  // truncated header
  CHECK(code(hdr) == pw::kExitBadInput);
  // Dimensions whose product is far beyond any file.
  CHECK(code(idx_bytes(0x08, {0xffffffffu, 0xffffffffu, 0xffffffffu}, 3)) == pw::kExitBadInput);
  CHECK(error_code_of([] { pw::read_idx("/nonexistent/idx", "x"); }) == pw::kExitBadInput);
}

TEST_CASE("read_file refuses what is not a regular file before opening it for a blocking read") {
  pwtest::ScratchDir dir;
  // A named pipe with no writer: an open for reading would wait for ever.
  REQUIRE(mkfifo(dir.file("pipe").c_str(), 0644) == 0);
  std::string msg = pwtest::error_message_of([&] { pw::read_file(dir.file("pipe"), 100, "manifest"); });
  CHECK(msg.find("manifest '") != std::string::npos);
  CHECK(msg.find("a named pipe, not a regular file") != std::string::npos);
  CHECK(error_code_of([&] { pw::read_file(dir.file("pipe"), 100, "f"); }) == pw::kExitBadInput);
  CHECK(error_code_of([&] { pw::open_regular(dir.file("pipe"), "f", O_RDWR); }) == pw::kExitBadInput);
  // A device answers without end: refused by its type, not after the limit's worth.
  REQUIRE(symlink("/dev/zero", dir.file("zero").c_str()) == 0);
  msg = pwtest::error_message_of([&] { pw::read_file(dir.file("zero"), size_t(2) << 30, "checkpoint"); });
  CHECK(msg.find("a character device") != std::string::npos);
  CHECK(error_code_of([&] { pw::read_file_sized(dir.file("zero"), 10, 100, "f"); }) == pw::kExitBadInput);
  CHECK(error_code_of([&] { pw::read_file(dir.path, 100, "f"); }) == pw::kExitBadInput);
  // A symbolic link to a regular file is read as the file.
  pw::write_file_atomic(dir.file("plain"), bytes_of("abc"));
  REQUIRE(symlink(dir.file("plain").c_str(), dir.file("link").c_str()) == 0);
  CHECK(pw::read_file(dir.file("link"), 100, "f") == bytes_of("abc"));
  const int fd = pw::open_regular(dir.file("link"), "f");
  CHECK(fd > 2);
  CHECK((fcntl(fd, F_GETFL) & O_NONBLOCK) == 0);  // blocking again once checked
  close(fd);
}

TEST_CASE("read_file_sized checks the committed size before reading") {
  pwtest::ScratchDir dir;
  pw::write_file_atomic(dir.file("f"), bytes_of("0123456789"));
  CHECK(pw::read_file_sized(dir.file("f"), 10, 100, "checkpoint") == bytes_of("0123456789"));
  std::string msg = pwtest::error_message_of([&] { pw::read_file_sized(dir.file("f"), 11, 100, "checkpoint"); });
  CHECK(msg.find("10 bytes, the manifest says 11 (truncated or damaged)") != std::string::npos);
  msg = pwtest::error_message_of([&] { pw::read_file_sized(dir.file("f"), 9, 100, "checkpoint"); });
  CHECK(msg.find("10 bytes, the manifest says 9") != std::string::npos);
  // The kind's limit still holds when the manifest promises more.
  CHECK(error_code_of([&] { pw::read_file_sized(dir.file("f"), 10, 5, "f"); }) == pw::kExitBadInput);
  CHECK(error_code_of([&] { pw::read_file_sized(dir.file("f"), ~uint64_t(0), 100, "f"); }) == pw::kExitBadInput);
}

TEST_CASE("temporary_owner and remove_stale_temporaries: a dead writer's files go, a live one's stay") {
  CHECK(pw::temporary_owner("ckpt-00000010.pwc.tmp.1234") == 1234);
  CHECK(pw::temporary_owner("manifest.pwm.tmp.7") == 7);
  CHECK(pw::temporary_owner("manifest.pwm") == -1);
  CHECK(pw::temporary_owner("notes.tmp.txt") == -1);
  CHECK(pw::temporary_owner("x.tmp.") == -1);
  CHECK(pw::temporary_owner("x.tmp.0") == -1);
  CHECK(pw::temporary_owner("x.tmp.12a") == -1);
  CHECK(pw::temporary_owner(".tmp.12") == -1);
  CHECK(pw::temporary_owner("x.tmp.99999999999") == -1);
  pwtest::ScratchDir dir;
  // A pid that belonged to a process now gone: a child that has exited and been reaped.
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) _exit(0);
  REQUIRE(waitpid(child, nullptr, 0) == child);
  const std::string dead = std::to_string(child), self = std::to_string(getpid());
  for (const char* n : {"a.pwc.tmp.", "manifest.pwm.tmp."}) pw::write_file_atomic(dir.file(n + dead), bytes_of("x"));
  pw::write_file_atomic(dir.file("b.pwc.tmp." + self), bytes_of("x"));  // this process: alive
  pw::write_file_atomic(dir.file("c.pwc.tmp.1"), bytes_of("x"));         // init: alive
  pw::write_file_atomic(dir.file("keep.tmp.txt"), bytes_of("x"));
  pw::make_directory(dir.file("d.tmp." + dead));                          // not a regular file
  CHECK(pw::remove_stale_temporaries(dir.path) == 2);
  std::vector<std::string> left = dir.entries();
  std::sort(left.begin(), left.end());
  CHECK(left == std::vector<std::string>{"b.pwc.tmp." + self, "c.pwc.tmp.1", "d.tmp." + dead, "keep.tmp.txt"});
  CHECK(pw::remove_stale_temporaries(dir.file("missing")) == 0);
}
