#include "aqsgd/stream.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "core/error.hpp"
#include "core/program.hpp"
#include "io/file.hpp"
#include "io/message.hpp"

namespace pw::aqsgd {

namespace {
constexpr uint64_t kMaxRows = uint64_t(1) << 26;
constexpr uint32_t kMaxCols = uint32_t(1) << 24;

// The header's version by io/version.hpp's rule, with one exception: an activation
// stream of version 1 (plain fp32 rows, which version 2 did not change) is read.
void check_stream_version(uint32_t v, bool activations, const std::string& in_name) {
  if (activations && v == 1) return;
  if (v == 1)
    bad_input(in_name + ": packed stream version 1, coded on the old quantization grid (2^(B-1) - 1 levels each side "
                        "of zero, step s/(2^(B-1) - 1)); this program reads version " +
              std::to_string(current_version(FileKind::AqsgdStream)) +
              " (2^B levels, step s/2^(B-1)) and would decode other values: unpack it with the aqsgd-pack that "
              "packed it");
  check_version(FileKind::AqsgdStream, v, in_name);
}
}  // namespace

// ---- reading and writing records ----

RecordReader::RecordReader(int fd, std::string what) : in_(fd), buf_(in_), what_(std::move(what)), fd_(fd) {}

void RecordReader::check_declared_size() {
  const kj::ArrayPtr<const kj::byte> b = buf_.tryGetReadBuffer();  // buffered, not yet read
  const auto le32 = [&](size_t at) {
    uint32_t v;
    std::memcpy(&v, b.begin() + at, 4);
    return v;
  };
  if (b.size() < 4) return;
  const uint64_t segments = uint64_t(le32(0)) + 1;
  if (segments > 512 || b.size() < 4 + 4 * segments) return;  // Cap'n Proto's own limits apply
  uint64_t bytes = (4 + 4 * segments + 7) / 8 * 8;
  for (uint64_t i = 0; i < segments; i++) bytes += uint64_t(le32(size_t(4 + 4 * i))) * 8;
  struct stat st;
  const off_t pos = ::lseek(fd_, 0, SEEK_CUR);
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode) || pos < 0 || st.st_size < pos) return;  // a pipe: no size to hold it to
  const uint64_t left = uint64_t(st.st_size - pos) + b.size();
  check_input(bytes <= left, what_ + ": record " + std::to_string(count_ + 1) + " is truncated or malformed (it declares " +
                                 std::to_string(bytes) + " bytes, the stream holds " + std::to_string(left) + " more)");
}

RecordReader::~RecordReader() { drop(true); }

void RecordReader::drop(bool quiet) {
  capnp::InputStreamMessageReader* r = reader_.release();
  try {
    delete r;  // noexcept(false): it skips the rest of the record
  } catch (const kj::Exception& e) {
    if (!quiet)
      bad_input(what_ + ": record " + std::to_string(count_) + " is truncated or malformed (" +
                e.getDescription().cStr() + ")");
  }
}

bool RecordReader::next() {
  drop(false);  // one reader alive at a time: it must finish before the next starts
  try {
    if (buf_.tryGetReadBuffer().size() == 0) return false;
    check_declared_size();
    capnp::ReaderOptions opt;
    opt.traversalLimitInWords = kMaxRecordBytes / sizeof(capnp::word);
    opt.nestingLimit = 16;
    reader_ = std::make_unique<capnp::InputStreamMessageReader>(buf_, opt);
    // Reads every segment now and checks every pointer, so a truncated or damaged
    // record fails here and not half-way through a batch.
    (void)reader_->getRoot<schema::AqsgdRecord>().totalSize();
    uint64_t words = 0, segments = 0;
    for (; segments < 512; segments++) {
      auto seg = reader_->getSegment(uint32_t(segments));
      if (seg == nullptr) break;
      words += seg.size();
    }
    bytes_ += words * 8 + (segments / 2 + 1) * 8;
  } catch (const kj::Exception& e) {
    drop(true);
    bad_input(what_ + ": record " + std::to_string(count_ + 1) + " is truncated or malformed (" +
              e.getDescription().cStr() + ")");
  }
  count_++;
  return true;
}

schema::AqsgdRecord::Reader RecordReader::record() { return reader_->getRoot<schema::AqsgdRecord>(); }

OutputFile::OutputFile(const std::string& path) {
  if (path == "-" && ::isatty(1)) usage_error("refusing to write a binary stream to a terminal; redirect stdout or use -o");
  file_.emplace(path, true);
}

void OutputFile::write(capnp::MessageBuilder& mb) {
  try {
    capnp::writeMessageToFd(file_->fd(), mb);
  } catch (const kj::Exception& e) {
    internal_error("writing '" + file_->path() + "': " + e.getDescription().cStr());
  }
  bytes_ += capnp::computeSerializedSizeInWords(mb) * sizeof(capnp::word);
}

void OutputFile::write_bytes(const void* p, size_t n) {
  file_->write(p, n);
  bytes_ += n;
}

void OutputFile::finish() { file_->commit(); }

// ---- records <-> batches ----

namespace {

// Magic, version and provenance: what every header this build writes starts with.
void stamp_header(schema::AqsgdHeader::Builder h) {
  h.setMagic(kMagic);
  h.setVersion(current_version(FileKind::AqsgdStream));
  h.setProgram(program_name());
  h.setProgramVersion(version());
  h.setCommandLine(command_line());
}

// The header of an activation stream (fp32 rows of `cols` channels).
void write_activations_header(OutputFile& out, uint32_t cols) {
  capnp::MallocMessageBuilder mb;
  auto h = mb.initRoot<schema::AqsgdRecord>().initHeader();
  stamp_header(h);
  h.setKind(schema::AqsgdKind::ACTIVATIONS);
  h.setCols(cols);
  out.write(mb);
}

void write_trailer(OutputFile& out, const StreamStats& st) {
  capnp::MallocMessageBuilder mb;
  auto t = mb.initRoot<schema::AqsgdRecord>().initTrailer();
  t.setBatches(st.batches);
  t.setRows(st.rows);
  t.setLastGeneration(st.last_generation);
  out.write(mb);
}

void write_activations(OutputFile& out, const uint64_t* ids, size_t rows, uint32_t cols, const float* data) {
  capnp::MallocMessageBuilder mb;
  auto a = mb.initRoot<schema::AqsgdRecord>().initActivations();
  auto l = a.initSampleIds(uint32_t(rows));
  for (size_t r = 0; r < rows; r++) l.set(uint32_t(r), ids[r]);
  a.setCols(cols);
  auto d = a.initData(rows * cols * 4);
  std::memcpy(d.begin(), data, d.size());
  out.write(mb);
}

std::vector<uint64_t> read_ids(capnp::List<uint64_t>::Reader l) {
  std::vector<uint64_t> ids(l.size());
  for (uint32_t i = 0; i < l.size(); i++) ids[i] = l[i];
  return ids;
}

void write_packed(OutputFile& out, const Packed& p, int zstd_level) {
  capnp::MallocMessageBuilder mb;
  auto b = mb.initRoot<schema::AqsgdRecord>().initPacked();
  const uint32_t rows = uint32_t(p.rows());
  b.setGeneration(p.generation);
  b.setCols(p.cols);
  auto ids = b.initSampleIds(rows);
  for (uint32_t r = 0; r < rows; r++) ids.set(r, p.ids[r]);
  if (!p.full.empty()) {
    auto f = b.initFull(rows);
    for (uint32_t r = 0; r < rows; r++) f.set(r, p.full[r] != 0);
    auto rd = b.initRounds(rows);
    for (uint32_t r = 0; r < rows; r++) rd.set(r, p.rounds[r]);
  }
  auto sc = b.initScales(uint32_t(p.scales.size()));
  for (uint32_t c = 0; c < p.scales.size(); c++) sc.set(c, p.scales[c]);
  b.setCodesSize(p.codes.size());
  if (zstd_level > 0 && !p.codes.empty()) {
    thread_local std::vector<uint8_t> z;
    z.resize(ZSTD_compressBound(p.codes.size()));
    const size_t n = ZSTD_compress(z.data(), z.size(), p.codes.data(), p.codes.size(), zstd_level);
    if (ZSTD_isError(n)) internal_error(std::string("zstd: ") + ZSTD_getErrorName(n));
    b.setCodes(capnp::Data::Reader(z.data(), n));
  } else {
    auto c = b.initCodes(p.codes.size());
    if (!p.codes.empty()) std::memcpy(c.begin(), p.codes.data(), p.codes.size());
  }
  auto fr = b.initFullRows(p.full_rows.size() * 4);
  if (!p.full_rows.empty()) std::memcpy(fr.begin(), p.full_rows.data(), fr.size());
  out.write(mb);
}

void read_packed(schema::AqsgdPacked::Reader b, bool zstd, bool aqsgd, Packed& p, const std::string& what) {
  p = Packed{};
  p.generation = b.getGeneration();
  p.cols = b.getCols();
  check_input(p.cols > 0 && p.cols <= kMaxCols, what + ": channel count " + std::to_string(p.cols) + " out of range");
  p.ids = read_ids(b.getSampleIds());
  check_input(p.ids.size() > 0 && p.ids.size() <= kMaxRows, what + ": no rows");
  if (aqsgd) {
    auto f = b.getFull();
    p.full.resize(f.size());
    for (uint32_t r = 0; r < f.size(); r++) p.full[r] = f[r] ? 1 : 0;
    auto rd = b.getRounds();
    p.rounds.resize(rd.size());
    for (uint32_t r = 0; r < rd.size(); r++) p.rounds[r] = rd[r];
  }
  auto sc = b.getScales();
  p.scales.resize(sc.size());
  for (uint32_t c = 0; c < sc.size(); c++) p.scales[c] = sc[c];
  auto codes = b.getCodes();
  const uint64_t n = b.getCodesSize();
  check_input(n <= kMaxRecordBytes, what + ": codes of " + std::to_string(n) + " bytes");
  if (zstd && n > 0) {
    const unsigned long long declared = ZSTD_getFrameContentSize(codes.begin(), codes.size());
    check_input(declared == n, what + ": zstd frame does not hold the " + std::to_string(n) + " bytes of codes it should");
    p.codes.resize(n);
    const size_t got = ZSTD_decompress(p.codes.data(), n, codes.begin(), codes.size());
    check_input(!ZSTD_isError(got) && got == n,
                what + ": zstd: " + (ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short frame"));
  } else {
    check_input(codes.size() == n, what + ": " + std::to_string(codes.size()) + " bytes of codes, the batch says " +
                                       std::to_string(n));
    p.codes.assign(codes.begin(), codes.end());
  }
  auto fr = b.getFullRows();
  check_input(fr.size() % 4 == 0, what + ": full-precision rows are not whole floats");
  p.full_rows.resize(fr.size() / 4);
  if (fr.size()) std::memcpy(p.full_rows.data(), fr.begin(), fr.size());
}

std::string batch_name(const std::string& in, uint64_t k) { return in + ": batch " + std::to_string(k + 1); }

}  // namespace

// ---- the filters ----

namespace {
StreamStats pack_records(int in_fd, const std::string& in_name, OutputFile& out, const PackSettings& s) {
  RecordReader rd(in_fd, in_name);
  StreamStats st;
  std::unique_ptr<State> state;
  bool header_in = false, trailer_in = false, header_out = false;
  uint32_t cols = 0;
  uint64_t records = 0;
  Packed packed;

  auto write_header = [&]() {
    capnp::MallocMessageBuilder mb;
    auto h = mb.initRoot<schema::AqsgdRecord>().initHeader();
    stamp_header(h);
    h.setKind(s.direct ? schema::AqsgdKind::DIRECT : schema::AqsgdKind::AQSGD);
    h.setBits(uint8_t(s.codec.bits));
    h.setRounding(s.codec.stochastic ? schema::AqsgdRounding::STOCHASTIC : schema::AqsgdRounding::NEAREST);
    h.setSeed(s.codec.seed);
    h.setZstd(s.zstd_level > 0);
    h.setCols(cols);
    h.setRotateTile(s.codec.rotate_tile);
    h.setScaleTile(s.codec.scale_tile);
    if (state) {
      const StateId id = state->id();
      h.setStateId(capnp::Data::Reader(id.data(), id.size()));
      h.setFirstGeneration(state->generation());
      h.setCapacity(state->params().capacity);
      h.setEvict(state->params().policy == FullPolicy::kEvict);
      st.first_generation = st.last_generation = state->generation();
    }
    out.write(mb);
    header_out = true;
  };

  while (rd.next()) {
    records++;
    auto rec = rd.record();
    check_input(!trailer_in, in_name + ": records after the trailer");
    switch (rec.which()) {
      case schema::AqsgdRecord::HEADER: {
        auto h = rec.getHeader();
        check_input(records == 1, in_name + ": a header in the middle of the stream");
        check_input(h.getMagic() == kMagic, in_name + ": not an aqsgd stream (bad magic)");
        check_stream_version(h.getVersion(), h.getKind() == schema::AqsgdKind::ACTIVATIONS, in_name);
        check_input(h.getKind() == schema::AqsgdKind::ACTIVATIONS,
                    in_name + ": this is a packed stream; unpack it with -d");
        cols = h.getCols();
        header_in = true;
        break;
      }
      case schema::AqsgdRecord::ACTIVATIONS: {
        const std::string what = batch_name(in_name, st.batches);
        auto a = rec.getActivations();
        const std::vector<uint64_t> ids = read_ids(a.getSampleIds());
        const uint32_t c = a.getCols();
        check_input(c > 0 && c <= kMaxCols, what + ": channel count " + std::to_string(c) + " out of range");
        check_input(cols == 0 || c == cols, what + ": " + std::to_string(c) + " channels, the stream has " + std::to_string(cols));
        cols = c;
        check_input(!ids.empty() && ids.size() <= kMaxRows, what + ": no rows");
        auto data = a.getData();
        check_input(data.size() == ids.size() * c * 4, what + ": " + std::to_string(data.size()) + " bytes of data for " +
                                                       std::to_string(ids.size()) + " rows of " + std::to_string(c) +
                                                       " fp32 channels");
        if (!s.direct && !state) {
          StateParams p = s.state_params;
          p.cols = cols;
          state = std::make_unique<State>(s.state_dir, p, true, s.sync);
        }
        if (!header_out) write_header();
        const float* x = reinterpret_cast<const float*>(data.begin());  // Data is word-aligned
        try {
          pack(x, ids.data(), ids.size(), cols, s.codec, state.get(), st.batches, packed);
        } catch (const Error& e) {
          if (e.code == kExitBadInput) bad_input(what + ": " + e.what());
          throw;
        }
        write_packed(out, packed, s.zstd_level);
        st.batches++;
        st.rows += ids.size();
        for (uint8_t f : packed.full) st.full_rows += f;
        st.input_bytes += data.size();
        if (state) st.last_generation = state->generation();
        break;
      }
      case schema::AqsgdRecord::TRAILER: {
        auto t = rec.getTrailer();
        check_input(t.getBatches() == st.batches && t.getRows() == st.rows,
                    in_name + ": the trailer counts " + std::to_string(t.getBatches()) + " batches of " +
                        std::to_string(t.getRows()) + " rows, the stream held " + std::to_string(st.batches) +
                        " of " + std::to_string(st.rows));
        trailer_in = true;
        break;
      }
      default:
        bad_input(in_name + ": this is a packed stream (record " + std::to_string(records) + "); unpack it with -d");
    }
  }
  if (header_in && !trailer_in)
    bad_input(in_name + ": truncated: the stream ends after " + std::to_string(st.batches) + " batches without its trailer");
  if (!header_out) write_header();
  write_trailer(out, st);
  out.finish();
  st.output_bytes = out.bytes_written();
  return st;
}
}  // namespace

StreamStats pack_stream(int in_fd, const std::string& in_name, OutputFile& out, const PackSettings& s) {
  return guard_input(in_name, [&] { return pack_records(in_fd, in_name, out, s); });
}

namespace {
StreamStats unpack_records(int in_fd, const std::string& in_name, OutputFile& out, const std::string& state_dir,
                           bool sync, bool raw) {
  RecordReader rd(in_fd, in_name);
  StreamStats st;
  if (!rd.next()) bad_input(in_name + ": empty input (no stream header)");
  auto first = rd.record();
  check_input(first.isHeader(), in_name + ": not a packed aqsgd stream (no header)");
  auto h = first.getHeader();
  check_input(h.getMagic() == kMagic, in_name + ": not an aqsgd stream (bad magic)");
  check_stream_version(h.getVersion(), h.getKind() == schema::AqsgdKind::ACTIVATIONS, in_name);
  check_input(h.getKind() != schema::AqsgdKind::ACTIVATIONS, in_name + ": this is an activation stream; pack it without -d");
  const bool direct = h.getKind() == schema::AqsgdKind::DIRECT;
  Codec codec;
  codec.bits = h.getBits();
  check_input(valid_bits(codec.bits), in_name + ": header: bits must be 2, 3, 4 or 8, not " + std::to_string(codec.bits));
  codec.stochastic = h.getRounding() == schema::AqsgdRounding::STOCHASTIC;
  codec.seed = h.getSeed();
  // A version 2 header has neither field: 0, no rotation and per-channel scales, as then.
  codec.rotate_tile = h.getRotateTile();
  codec.scale_tile = h.getScaleTile();
  check_input(valid_tile(codec.rotate_tile) && valid_tile(codec.scale_tile),
              in_name + ": header: tile sizes " + std::to_string(codec.rotate_tile) + " (rotation) and " +
                  std::to_string(codec.scale_tile) + " (scales); each must be 0 or a power of two from 2 to " +
                  std::to_string(kMaxTile));
  const bool zstd = h.getZstd();
  const uint32_t cols = h.getCols();
  check_input(cols <= kMaxCols, in_name + ": header: channel count out of range");
  std::unique_ptr<State> state;
  if (!direct && cols > 0) {
    if (state_dir.empty()) usage_error("an AQ-SGD stream needs --state DIR (the receiver's state)");
    StateParams p{cols, h.getCapacity(), h.getEvict() ? FullPolicy::kEvict : FullPolicy::kRefuse};
    check_input(p.capacity > 0, in_name + ": header: no state capacity");
    check_input(p.capacity <= kMaxCapacity, in_name + ": header: a state of " + std::to_string(p.capacity) +
                                                " samples, over the limit of 2^24 (" + std::to_string(kMaxCapacity) + ")");
    // An existing state is compared by its id below (exit 3), not refused as a usage error.
    if (file_exists(join_path(state_dir, "state.aqs"))) p.capacity = 0;
    state = std::make_unique<State>(state_dir, p, true, sync);
    const StateId id = state->id();
    auto sid = h.getStateId();
    check_input(sid.size() == id.size() && std::memcmp(sid.begin(), id.data(), id.size()) == 0,
                "state '" + state_dir + "' has another layout (channels, capacity or policy) than the sender's");
    st.first_generation = st.last_generation = state->generation();
    if (state->generation() != h.getFirstGeneration())
      bad_input("state generation mismatch: the stream starts at generation " + std::to_string(h.getFirstGeneration()) +
                ", the state '" + state_dir + "' is at " + std::to_string(state->generation()));
  }
  if (!raw) write_activations_header(out, cols);
  bool trailer = false;
  Packed p;
  std::vector<float> rows_out;
  while (rd.next()) {
    auto rec = rd.record();
    check_input(!trailer, in_name + ": records after the trailer");
    if (rec.isTrailer()) {
      auto t = rec.getTrailer();
      check_input(t.getBatches() == st.batches && t.getRows() == st.rows,
                  in_name + ": the trailer counts " + std::to_string(t.getBatches()) + " batches, the stream held " +
                      std::to_string(st.batches));
      if (state && t.getLastGeneration() != state->generation())
        bad_input(in_name + ": the trailer says the sender's state ended at generation " +
                  std::to_string(t.getLastGeneration()) + ", this side's is at " + std::to_string(state->generation()));
      trailer = true;
      continue;
    }
    const std::string what = batch_name(in_name, st.batches);
    check_input(rec.isPacked(), what + ": not a packed batch");
    read_packed(rec.getPacked(), zstd, !direct, p, what);
    check_input(p.cols == cols, what + ": " + std::to_string(p.cols) + " channels, the header says " + std::to_string(cols));
    rows_out.resize(p.rows() * cols);
    try {
      unpack(p, codec, state.get(), rows_out.data());
    } catch (const Error& e) {
      if (e.code == kExitBadInput) bad_input(what + ": " + e.what());
      throw;
    }
    if (raw)
      out.write_bytes(rows_out.data(), rows_out.size() * 4);
    else
      write_activations(out, p.ids.data(), p.rows(), cols, rows_out.data());
    st.batches++;
    st.rows += p.rows();
    for (uint8_t f : p.full) st.full_rows += f;
    st.input_bytes += p.rows() * cols * 4;
    if (state) st.last_generation = state->generation();
  }
  if (!trailer)
    bad_input(in_name + ": truncated: the stream ends after " + std::to_string(st.batches) + " batches without its trailer");
  if (!raw) write_trailer(out, st);
  out.finish();
  st.output_bytes = out.bytes_written();
  return st;
}
}  // namespace

StreamStats unpack_stream(int in_fd, const std::string& in_name, OutputFile& out, const std::string& state_dir,
                          bool sync, bool raw) {
  return guard_input(in_name, [&] { return unpack_records(in_fd, in_name, out, state_dir, sync, raw); });
}

namespace {
// Fills `buf` from fd; returns the bytes read (short only at end of input).
size_t read_full(int fd, uint8_t* buf, size_t n, const std::string& what) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd, buf + got, n - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      bad_input(what + ": " + errstr());
    }
    if (r == 0) break;
    got += size_t(r);
  }
  return got;
}
}  // namespace

StreamStats wrap_raw(int in_fd, const std::string& in_name, OutputFile& out, uint32_t cols, size_t rows_per_batch,
                     uint64_t first_id, const std::vector<uint64_t>* ids) {
  StreamStats st;
  write_activations_header(out, cols);
  const size_t row_bytes = size_t(cols) * 4;
  std::vector<float> buf(rows_per_batch * cols);
  std::vector<uint64_t> batch_ids(rows_per_batch);
  for (;;) {
    const size_t got = read_full(in_fd, reinterpret_cast<uint8_t*>(buf.data()), buf.size() * 4, in_name);
    if (got % row_bytes)
      bad_input(in_name + ": ends in the middle of a row (" + std::to_string(st.input_bytes + got) +
                " bytes is not a whole number of rows of " + std::to_string(cols) + " fp32 values)");
    const size_t rows = got / row_bytes;
    if (rows == 0) break;
    for (size_t r = 0; r < rows; r++) {
      const uint64_t i = st.rows + r;
      if (ids && i >= ids->size())
        bad_input(in_name + ": more rows than sample ids (" + std::to_string(ids->size()) + ")");
      batch_ids[r] = ids ? (*ids)[i] : first_id + i;
    }
    check_finite(buf.data(), rows, cols, in_name + ": batch " + std::to_string(st.batches + 1));
    write_activations(out, batch_ids.data(), rows, cols, buf.data());
    st.batches++;
    st.rows += rows;
    st.input_bytes += got;
    if (rows < rows_per_batch) break;
  }
  if (ids && st.rows != ids->size())
    bad_input(in_name + ": " + std::to_string(st.rows) + " rows for " + std::to_string(ids->size()) + " sample ids");
  write_trailer(out, st);
  out.finish();
  st.output_bytes = out.bytes_written();
  return st;
}

namespace {
std::string inspect_records(int in_fd, const std::string& in_name, bool json) {
  RecordReader rd(in_fd, in_name);
  std::string kind = "activations", rounding = "nearest";
  uint64_t batches = 0, rows = 0, full = 0, coded_bytes = 0, full_bytes = 0, first_gen = 0, last_gen = 0;
  unsigned bits = 0, cols = 0, rotate_tile = 0, scale_tile = 0, version = 0;
  bool zstd = false, header = false, trailer = false;
  while (rd.next()) {
    auto rec = rd.record();
    switch (rec.which()) {
      case schema::AqsgdRecord::HEADER: {
        auto h = rec.getHeader();
        check_input(h.getMagic() == kMagic, in_name + ": not an aqsgd stream (bad magic)");
        check_stream_version(h.getVersion(), h.getKind() == schema::AqsgdKind::ACTIVATIONS, in_name);
        header = true;
        version = h.getVersion();
        rotate_tile = h.getRotateTile();
        scale_tile = h.getScaleTile();
        kind = h.getKind() == schema::AqsgdKind::AQSGD ? "aqsgd" : h.getKind() == schema::AqsgdKind::DIRECT ? "direct" : "activations";
        bits = h.getBits();
        cols = h.getCols();
        zstd = h.getZstd();
        rounding = h.getRounding() == schema::AqsgdRounding::STOCHASTIC ? "stochastic" : "nearest";
        first_gen = last_gen = h.getFirstGeneration();
        break;
      }
      case schema::AqsgdRecord::ACTIVATIONS:
        batches++;
        rows += rec.getActivations().getSampleIds().size();
        cols = rec.getActivations().getCols();
        break;
      case schema::AqsgdRecord::PACKED: {
        auto b = rec.getPacked();
        batches++;
        rows += b.getSampleIds().size();
        for (bool f : b.getFull()) full += f;
        coded_bytes += b.getCodes().size();
        full_bytes += b.getFullRows().size();
        last_gen = b.getGeneration() + 1;
        break;
      }
      case schema::AqsgdRecord::TRAILER:
        trailer = true;
        break;
      default:
        bad_input(in_name + ": unknown record");
    }
  }
  const uint64_t raw = rows * cols * 4, total = rd.bytes_read();
  std::ostringstream o;
  o.precision(6);
  if (json) {
    o << "{\"kind\": \"" << kind << "\", \"version\": " << version << ", \"bits\": " << bits
      << ", \"rotateTile\": " << rotate_tile << ", \"scaleTile\": " << scale_tile << ", \"rounding\": \"" << rounding
      << "\", \"zstd\": " << (zstd ? "true" : "false") << ", \"cols\": " << cols << ", \"batches\": " << batches
      << ", \"rows\": " << rows << ", \"fullRows\": " << full << ", \"codeBytes\": " << coded_bytes
      << ", \"fullRowBytes\": " << full_bytes << ", \"fp32Bytes\": " << raw << ", \"streamBytes\": " << total
      << ", \"ratio\": " << (total ? double(raw) / double(total) : 0.0) << ", \"firstGeneration\": " << first_gen
      << ", \"lastGeneration\": " << last_gen << ", \"header\": " << (header ? "true" : "false")
      << ", \"trailer\": " << (trailer ? "true" : "false") << "}\n";
  } else {
    o << kind << " stream: " << batches << " batches, " << rows << " rows of " << cols << " channels";
    if (kind != "activations") {
      o << ", " << bits << "-bit codes (" << rounding << (zstd ? ", zstd" : "");
      if (rotate_tile) o << ", rotated by tiles of " << rotate_tile;
      if (scale_tile) o << ", scales per " << scale_tile << " channels of a row";
      o << ")";
    }
    if (kind == "aqsgd") o << ", " << full << " rows at full precision, generations " << first_gen << ".." << last_gen;
    o << "\n" << total << " bytes for " << raw << " bytes of fp32 (" << (total ? double(raw) / double(total) : 0.0)
      << "x)" << (trailer ? "" : "; NO TRAILER (truncated)") << "\n";
  }
  return o.str();
}
}  // namespace

// A record pointer of the wrong kind or size (what a forger writes) surfaces as a Cap'n
// Proto exception where a field is read: bad input about the stream, never an internal
// error (proofwork(7), UNTRUSTED INPUT). The same for the two filters below.
std::string inspect_stream(int in_fd, const std::string& in_name, bool json) {
  return guard_input(in_name, [&] { return inspect_records(in_fd, in_name, json); });
}

}  // namespace pw::aqsgd
