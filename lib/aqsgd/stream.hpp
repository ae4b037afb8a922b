// AQ-SGD streams on file descriptors (schema: lib/schema/aqsgd.capnp): a reader that
// tells a clean end of stream from a truncated message, a writer, the conversion of
// Packed to and from records (with optional zstd on the codes), and the two whole-stream
// filters that aqsgd-pack runs.
#pragma once
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/io.h>

#include <memory>
#include <optional>
#include <string>

#include "aqsgd/codec.hpp"
#include "io/file.hpp"
#include "io/version.hpp"
#include "schema/aqsgd.capnp.h"

namespace pw::aqsgd {

constexpr const char* kMagic = "proofwork-aqsgd";
// The header's version is FileKind::AqsgdStream's (io/version.hpp; proofwork-files(5),
// ACTIVATION STREAMS). 2: the reference implementation's grid (codes q + 2^(B-1),
// q ∈ [-2^(B-1), 2^(B-1) - 1], step s/2^(B-1)). Version 1 coded q + L, q ∈ [-L, L], step
// s/L with L = 2^(B-1) - 1: the same bytes decode to other values, so a packed stream of
// version 1 is refused. An activation stream (plain fp32 rows) of version 1 means what
// it did and is accepted. 3: the header's rotateTile and scaleTile (aqsgd/codec.hpp);
// a version 2 stream has neither, which reads as 0 (no rotation, per-channel scales),
// its meaning then, so it is read; a build that writes 2 refuses a version 3 stream.
constexpr size_t kMaxRecordBytes = size_t(1) << 30;  // one batch record, 1 GiB

// Reads records from a file descriptor. next() is false at a clean end of stream;
// a partial record is bad input (exit 3) naming `what`.
class RecordReader {
 public:
  RecordReader(int fd, std::string what);
  ~RecordReader();
  bool next();
  schema::AqsgdRecord::Reader record();
  uint64_t bytes_read() const { return bytes_; }

 private:
  kj::FdInputStream in_;
  kj::BufferedInputStreamWrapper buf_;
  std::string what_;
  std::unique_ptr<capnp::InputStreamMessageReader> reader_;
  uint64_t count_ = 0, bytes_ = 0;
  // Ends the current record's reader. Its destructor reads what is left of the record
  // and throws on a stream that ends early: bad input then (never std::terminate, which
  // a throw inside unique_ptr's noexcept reset would be), or nothing with `quiet`.
  void drop(bool quiet);
  // Refuses a record whose segment table declares more bytes than a regular file still
  // holds: Cap'n Proto allocates the declared size before it reads, so a few bytes could
  // otherwise make the reader allocate up to kMaxRecordBytes.
  void check_declared_size();
  int fd_;
};

// Output to a file (an io/file.hpp AtomicFile: committed by finish(), removed if never
// finished) or to stdout ("-", refused when it is a terminal).
class OutputFile {
 public:
  explicit OutputFile(const std::string& path);
  void write(capnp::MessageBuilder& mb);
  void write_bytes(const void* p, size_t n);
  void finish();
  uint64_t bytes_written() const { return bytes_; }

 private:
  std::optional<AtomicFile> file_;
  uint64_t bytes_ = 0;
};

struct PackSettings {
  Codec codec;
  bool direct = false;           // no state: direct quantization
  std::string state_dir;
  StateParams state_params;      // capacity and policy for a state created now
  bool sync = false;             // msync the state at each commit
  int zstd_level = 0;            // 0: no zstd on the codes
};

struct StreamStats {
  uint64_t batches = 0, rows = 0, full_rows = 0;
  uint64_t input_bytes = 0, output_bytes = 0;
  uint64_t first_generation = 0, last_generation = 0;
};

// aqsgd-pack: activation stream in, packed stream out.
StreamStats pack_stream(int in_fd, const std::string& in_name, OutputFile& out, const PackSettings& s);
// aqsgd-pack -d: packed stream in, activation stream out (`state_dir` empty only for
// a direct stream); with `raw`, only the fp32 rows, concatenated.
StreamStats unpack_stream(int in_fd, const std::string& in_name, OutputFile& out, const std::string& state_dir,
                          bool sync, bool raw = false);

// aqsgd-pack --wrap: bare little-endian fp32 rows of `cols` values in, an activation
// stream out, `rows_per_batch` rows a batch; row i has sample id ids[i] when `ids` is
// given (it must hold one per row), else first_id + i.
StreamStats wrap_raw(int in_fd, const std::string& in_name, OutputFile& out, uint32_t cols, size_t rows_per_batch,
                     uint64_t first_id, const std::vector<uint64_t>* ids);

// One line per record, as JSON (aqsgd-pack --inspect --json), or a readable summary.
std::string inspect_stream(int in_fd, const std::string& in_name, bool json);

}  // namespace pw::aqsgd
