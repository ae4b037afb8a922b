// The append-only log: framing, validation of a whole ledger (mmapped; parsing and
// signatures in parallel, rules in order), and crash-safe appends.
#include <fcntl.h>
#include <omp.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <vector>

#include "core/error.hpp"
#include "io/file.hpp"
#include "io/version.hpp"
#include "ledger/ed25519_batch.hpp"
#include "ledger/ledger.hpp"

namespace pw::ledger {

namespace {

constexpr uint32_t kMagic = 0x31454c50;    // "PLE1"
constexpr uint32_t kTrailer = 0x21444e45;  // "END!"
constexpr size_t kFrame = 8 + 64 + 8;      // header, signature, crc + trailer


uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
void store_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

uint32_t frame_crc(const uint8_t* rec, size_t body) {
  return uint32_t(crc32(0, rec + 4, uInt(4 + body + 64)));
}

void frame(const Record& r, Bytes& out) {
  const size_t at = out.size(), n = r.body.size();
  out.resize(at + kFrame + n);
  uint8_t* p = out.data() + at;
  store_u32(p, kMagic);
  store_u32(p + 4, uint32_t(n));
  std::memcpy(p + 8, r.body.data(), n);
  std::memcpy(p + 8 + n, r.sig.data(), 64);
  store_u32(p + 72 + n, frame_crc(p, n));
  store_u32(p + 76 + n, kTrailer);
}

// A log's bytes: mmapped from the file, or given (validate_log_bytes).
struct LogBytes {
  const uint8_t* map = nullptr;
  size_t size = 0;
};

// An open, locked, mmapped log.
struct LogFile : LogBytes {
  int fd = -1;
  LogFile() = default;
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;
  ~LogFile() {
    if (map) munmap(const_cast<uint8_t*>(map), size);
    if (fd >= 0) ::close(fd);
  }
};

void open_log(const std::string& dir, LogFile& f, bool for_append) {
  const std::string path = log_path(dir);
  if (!is_directory(dir)) bad_input("ledger '" + dir + "': not a directory (create one with 'ledger-settle init')");
  f.fd = open_regular(path, "ledger '" + dir + "': log", for_append ? O_RDWR | O_APPEND : O_RDONLY);
  // One appender at a time; readers share.
  if (flock(f.fd, for_append ? LOCK_EX : LOCK_SH) != 0) internal_error("lock '" + path + "': " + errstr());
  if (for_append) {  // what a killed appender or challenger left (proofwork-files(5), ENCODING)
    remove_stale_temporaries(dir);
    remove_stale_temporaries(join_path(dir, "disputes"));
  }
  struct stat st;
  if (fstat(f.fd, &st) != 0) internal_error("stat '" + path + "': " + errstr());
  f.size = size_t(st.st_size);
  if (f.size == 0) bad_input("ledger '" + dir + "': the log is empty (no genesis)");
  void* m = mmap(nullptr, f.size, PROT_READ, MAP_PRIVATE, f.fd, 0);
  if (m == MAP_FAILED) internal_error("mmap '" + path + "': " + errstr());
  f.map = static_cast<const uint8_t*>(m);
  madvise(m, f.size, MADV_SEQUENTIAL);
}

// One record located in the map: its offset and body length.
struct Span {
  size_t at, n;
};

// Parsed and checked off the main thread.
struct Checked {
  Event event;
  Hash hash{};
  std::string error;  // empty: fine
  int code = 0;
};

// Decodes the records spans[0, n) and checks their signatures as one batch
// (ed25519_batch.hpp: the verdicts are those of one-by-one verification).
void check_batch(const uint8_t* map, const Span* spans, size_t n, Checked* out) {
  std::vector<ed25519::SignedMessage> items;
  std::vector<size_t> which;
  for (size_t i = 0; i < n; i++) {
    Checked& c = out[i];
    c.error.clear();
    try {
      const uint8_t* body = map + spans[i].at + 8;
      c.event = decode_event(body, spans[i].n);
      items.push_back({body + spans[i].n, body, spans[i].n, c.event.actor.data()});
      which.push_back(i);
    } catch (const Error& e) {
      c.error = e.what();
      c.code = e.code;
    }
  }
  std::vector<uint8_t> ok(items.size());
  ed25519::verify_batch(items.data(), items.size(), ok.data());
  for (size_t j = 0; j < items.size(); j++) {
    Checked& c = out[which[j]];
    if (!ok[j]) {
      c.error = "bad signature (forged or altered event)";
      c.code = kExitNo;
      continue;
    }
    Signature sig;
    std::memcpy(sig.data(), items[j].sig, 64);
    c.hash = record_hash(items[j].msg, items[j].len, sig);
  }
}

std::string at_record(const std::string& dir, uint64_t index, size_t offset) {
  return "ledger '" + dir + "': record " + std::to_string(index) + " (byte " + std::to_string(offset) + ")";
}

// Finds the next record's frame at `off`; throws bad input for a torn or corrupt one.
Span next_span(const std::string& dir, const LogBytes& f, size_t off, uint64_t index) {
  const size_t left = f.size - off;
  const std::string torn = "the last record is torn (an interrupted append?); the " + std::to_string(index) +
                           " records before it are intact: 'ledger-settle repair' truncates it";
  if (left < kFrame) bad_input(at_record(dir, index, off) + ": " + torn);
  const uint8_t* p = f.map + off;
  if (load_u32(p) != kMagic) bad_input(at_record(dir, index, off) + ": not a record (bad magic): the log is corrupt");
  const size_t n = load_u32(p + 4);
  if (n % 8 || n < 8 || n > kMaxBody) bad_input(at_record(dir, index, off) + ": impossible length " + std::to_string(n) + ": the log is corrupt");
  if (left < kFrame + n) bad_input(at_record(dir, index, off) + ": " + torn);
  if (frame_crc(p, n) != load_u32(p + 72 + n) || load_u32(p + 76 + n) != kTrailer) {
    if (left == kFrame + n) bad_input(at_record(dir, index, off) + ": checksum mismatch: " + torn);
    bad_input(at_record(dir, index, off) + ": checksum mismatch: the log is corrupt");
  }
  return {off, n};
}

// The frame at `off` runs past the end of the file, or is the last one and fails its
// checksum: what an interrupted append leaves.
bool torn_tail(const LogBytes& f, size_t off) {
  const size_t left = f.size - off;
  if (left < kFrame) return true;
  const size_t n = load_u32(f.map + off + 4);
  if (load_u32(f.map + off) != kMagic || n % 8 || n < 8 || n > kMaxBody) return false;
  return left <= kFrame + n;
}

// The state after a validated prefix of the log, as a snapshot holds it.
struct Prefix {
  State state;
  size_t bytes = 0;    // the prefix's length in the log
  size_t last_at = 0;  // the offset of its last record
};

// A snapshot's claim checked by a whole validation: the state at its prefix.
struct Audit {
  size_t bytes = 0;
  Bytes state;           // State::encode of the snapshot's state
  bool checked = false, matched = false;
};

State validate_open(const std::string& dir, const LogBytes& f, DisputeOracle oracle, ValidateStats* stats,
                    const std::function<void(uint64_t, uint64_t)>& progress, size_t* torn_at = nullptr,
                    std::optional<Prefix> start = std::nullopt, size_t* last_at = nullptr, Audit* audit = nullptr) {
  const auto t0 = std::chrono::steady_clock::now();
  State st = start ? std::move(start->state) : State(std::move(oracle));
  constexpr size_t kBlock = 4096;  // records framed, then checked in parallel
  constexpr size_t kBatch = 128;   // signatures verified together (tests/bench/part-ledger.sh)
  std::vector<Span> spans;
  size_t off = start ? start->bytes : 0;
  std::vector<Checked> checked(std::min(kBlock, (f.size - off) / (kFrame + 8) + 1));  // an append's few: few
  uint64_t index = st.next_seq();
  if (last_at && start) *last_at = start->last_at;
  while (off < f.size) {
    spans.clear();
    try {
      while (off < f.size && spans.size() < kBlock) {
        spans.push_back(next_span(dir, f, off, index + spans.size()));
        off += kFrame + spans.back().n;
      }
    } catch (const Error&) {
      if (!torn_at || !torn_tail(f, off)) throw;
      // repair: stop at the first bad frame, after checking the records before it
      *torn_at = off;
      off = f.size;
    }
    // Each thread checks whole batches of signatures.
    const int64_t batches = int64_t((spans.size() + kBatch - 1) / kBatch);
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t b = 0; b < batches; b++) {
      const size_t from = size_t(b) * kBatch;
      check_batch(f.map, &spans[from], std::min(kBatch, spans.size() - from), &checked[from]);
    }
    for (size_t i = 0; i < spans.size(); i++) {
      const Checked& c = checked[i];
      const std::string where = at_record(dir, index, spans[i].at);
      if (!c.error.empty()) throw Error(c.code, where + ": " + c.error);
      try {
        st.apply(c.event, c.hash);
      } catch (const Error& e) {
        throw Error(e.code, where + ": " + e.what());
      }
      if (last_at) *last_at = spans[i].at;
      if (audit && spans[i].at + kFrame + spans[i].n == audit->bytes) {
        audit->checked = true;
        audit->matched = st.encode() == audit->state;
      }
      index++;
    }
    if (progress) progress(off, f.size);
  }
  if (stats) {
    stats->records = index;
    stats->bytes = f.size;
    stats->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return st;
}

// Appends the records; returns the log's new length and the offset of the last record.
// An append that fails part-way (a full disk, the file-size limit, an I/O error) is cut
// back to the log's size before it, under the lock, so the log stays as it was: no
// torn record for the next run to repair.
std::pair<size_t, size_t> write_records(const std::string& dir, const LogFile& f, const std::vector<Record>& rs) {
  Bytes out;
  size_t last = 0;
  for (const Record& r : rs) {
    last = out.size();
    frame(r, out);
  }
  try {
    write_all(f.fd, out.data(), out.size(), "append to '" + log_path(dir) + "'");
    if (fsync(f.fd) != 0) internal_error("fsync '" + log_path(dir) + "': " + errstr());
  } catch (const Error& e) {
    if (ftruncate(f.fd, off_t(f.size)) != 0 || fsync(f.fd) != 0)
      internal_error(std::string(e.what()) + "; and cutting the log back to " + std::to_string(f.size) + " bytes failed: " +
                     errstr() + " ('ledger-settle repair' removes the torn record)");
    throw;
  }
  return {f.size + out.size(), f.size + last};
}

// ---- the snapshot (proofwork-files(5), LEDGER) ----------------------------------------
// LEDGER/snapshot: "PWLSNAP1" | u64 log bytes covered | u64 records | u64 offset of the last
// record | head (32) | u64 state length | state (State::encode) | BLAKE2b-256 of all before.
constexpr char kSnapMagic[8] = {'P', 'W', 'L', 'S', 'N', 'A', 'P', '1'};
constexpr size_t kSnapHead = 8 + 8 * 3 + 32 + 8;
constexpr size_t kSnapLimit = size_t(1) << 32;

uint64_t load_u64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// The snapshot's prefix, when it is one of this log; otherwise nullopt and why.
std::optional<Prefix> load_snapshot(const std::string& dir, const LogFile& f, const DisputeOracle& oracle, std::string& why) {
  const std::string path = snapshot_path(dir);
  if (!file_exists(path)) {
    why = "absent";
    return std::nullopt;
  }
  try {
    const Bytes b = read_file(path, kSnapLimit, "ledger snapshot");
    check_input(b.size() >= kSnapHead + 32 && std::memcmp(b.data(), kSnapMagic, 8) == 0, "not a ledger snapshot");
    check_input(blake2b(b.data(), b.size() - 32) == to_hash(b.data() + b.size() - 32, 32), "its checksum does not match");
    const uint64_t bytes = load_u64(b.data() + 8), records = load_u64(b.data() + 16), last = load_u64(b.data() + 24);
    const Hash head = to_hash(b.data() + 32, 32);
    const uint64_t n = load_u64(b.data() + 64);
    check_input(n == b.size() - kSnapHead - 32, "its state has the wrong length");
    // The record that ends the prefix must be in the log where the snapshot says, whole,
    // with the head it names: that record's hash chains back over the whole prefix.
    check_input(bytes <= f.size && last < bytes, "it covers " + std::to_string(bytes) + " bytes, the log has " + std::to_string(f.size));
    const Span sp = next_span(dir, f, size_t(last), records - 1);
    check_input(sp.at + kFrame + sp.n == bytes, "its last record does not end its prefix");
    Signature sig;
    std::memcpy(sig.data(), f.map + last + 8 + sp.n, 64);
    check_input(record_hash(f.map + last + 8, sp.n, sig) == head, "its head is not the log's record at byte " + std::to_string(last));
    check_input(decode_event(f.map + last + 8, sp.n).seq + 1 == records, "its record count is not the log's");
    Prefix p{State::decode(b.data() + kSnapHead, size_t(n), oracle), size_t(bytes), size_t(last)};
    check_input(p.state.head() == head && p.state.next_seq() == records, "its state is not at its head");
    return p;
  } catch (const Error& e) {
    why = e.what();
    return std::nullopt;
  }
}

// Replaces the snapshot with `st` after the first `bytes` of the log; a cache that cannot
// be written is no error (the next append validates more).
void save_snapshot(const std::string& dir, size_t bytes, size_t last_at, const State& st) {
  try {
    const Bytes state = st.encode();
    Bytes b(kSnapHead);
    std::memcpy(b.data(), kSnapMagic, 8);
    const uint64_t head[3] = {bytes, st.next_seq(), last_at};
    std::memcpy(b.data() + 8, head, 24);
    std::memcpy(b.data() + 32, st.head().data(), 32);
    const uint64_t n = state.size();
    std::memcpy(b.data() + 64, &n, 8);
    b.insert(b.end(), state.begin(), state.end());
    const Hash sum = blake2b(b.data(), b.size());
    b.insert(b.end(), sum.begin(), sum.end());
    write_file_atomic(snapshot_path(dir), b);
  } catch (const Error&) {
  }
}

// The state after every record of the log: from the snapshot when it is usable.
State validate_from_snapshot(const std::string& dir, const LogFile& f, const DisputeOracle& oracle, size_t* last_at) {
  std::string why;
  std::optional<Prefix> from = load_snapshot(dir, f, oracle, why);
  return validate_open(dir, f, oracle, nullptr, nullptr, nullptr, std::move(from), last_at);
}

// Checks the records as the next ones of `st`, in order: signature and rules.
void check_new(State& st, const std::vector<Record>& rs) {
  for (const Record& r : rs) {
    if (!verify_record(r)) throw Error(kExitNo, std::string("new event (") + kind_name(r.event.kind) + "): bad signature (forged or altered event)");
    try {
      st.apply(r.event, r.hash);
    } catch (const Error& e) {
      throw Error(e.code, std::string("new ") + e.what());
    }
  }
}

// Signs `e` as the next event of `st` (seq, chain id and prev filled in) and applies it.
Record sign_next(State& st, Event e, const KeyPair& k) {
  e.seq = st.next_seq();
  e.chain = st.chain();
  e.prev = st.head();
  Record r = sign_event(e, k);
  check_new(st, {r});
  return r;
}

}  // namespace

std::string log_path(const std::string& dir) { return join_path(dir, "events.log"); }

Bytes frame_records(const std::vector<Record>& rs) {
  Bytes out;
  for (const Record& r : rs) frame(r, out);
  return out;
}

std::string dispute_path(const std::string& dir, const Hash& dispute) {
  return join_path(join_path(dir, "disputes"), hex(dispute) + ".pwd");
}

std::string snapshot_path(const std::string& dir) { return join_path(dir, "snapshot"); }

std::string snapshot_problem(const std::string& dir) {
  LogFile f;
  open_log(dir, f, false);
  std::string why;
  return load_snapshot(dir, f, nullptr, why) ? "" : why;
}

State validate_ledger(const std::string& dir, DisputeOracle oracle, ValidateStats* stats,
                      const std::function<void(uint64_t, uint64_t)>& progress) {
  LogFile f;
  open_log(dir, f, false);
  std::string why;
  const std::optional<Prefix> snap = load_snapshot(dir, f, nullptr, why);
  Audit audit;
  if (snap) audit = {snap->bytes, snap->state.encode()};
  size_t last_at = 0;
  State st = validate_open(dir, f, std::move(oracle), stats, progress, nullptr, std::nullopt, &last_at, &audit);
  if (stats) {
    stats->snapshot = !snap ? (why == "absent" ? "none" : "ignored: " + why)
                      : audit.matched ? "matches the log's state after " + std::to_string(snap->state.next_seq()) + " records"
                                      : "forged: its state is not the log's after its " + std::to_string(snap->state.next_seq()) +
                                            " records (ignored)";
  }
  save_snapshot(dir, f.size, last_at, st);  // the whole log, checked: the snapshot is rebuilt from it
  return st;
}

State validate_log_bytes(const uint8_t* data, size_t n, const std::string& dir, DisputeOracle oracle) {
  if (n == 0) bad_input("ledger '" + dir + "': the log is empty (no genesis)");
  LogBytes b;
  b.map = data;
  b.size = n;
  return validate_open(dir, b, std::move(oracle), nullptr, nullptr);
}

uint64_t repair_ledger(const std::string& dir, DisputeOracle oracle, uint64_t* removed_bytes) {
  LogFile f;
  open_log(dir, f, true);
  size_t torn = f.size, last_at = 0;
  State st = validate_open(dir, f, std::move(oracle), nullptr, nullptr, &torn, std::nullopt, &last_at);
  if (removed_bytes) *removed_bytes = f.size - torn;
  if (torn < f.size) {
    if (ftruncate(f.fd, off_t(torn)) != 0 || fsync(f.fd) != 0) internal_error("truncate '" + log_path(dir) + "': " + errstr());
  }
  save_snapshot(dir, torn, last_at, st);
  return st.next_seq();
}

Record create_ledger(const std::string& dir, const KeyPair& op, const std::string& note) {
  if (note.size() > kMaxNote) usage_error("--note: over " + std::to_string(kMaxNote) + " bytes");
  Event g;
  g.kind = Kind::Genesis;
  g.version = current_version(FileKind::Ledger);
  randombytes_buf(g.h1.data(), g.h1.size());
  g.note = note;
  const Record r = sign_event(g, op);
  init_ledger(dir, r);
  return r;
}

void init_ledger(const std::string& dir, const Record& r) {
  if (r.event.kind != Kind::Genesis || r.event.seq != 0) usage_error("a ledger starts with a genesis event");
  if (!verify_record(r)) throw Error(kExitNo, "the genesis record's signature does not verify");
  make_directory(dir);
  make_directory(join_path(dir, "disputes"));
  Bytes out;
  frame(r, out);
  // The genesis appears whole or not at all; link(2) refuses an existing log atomically.
  AtomicFile log(log_path(dir));
  log.write(out.data(), out.size());
  if (!log.commit(false)) usage_error("ledger '" + dir + "' already has a log; refusing to start another");
}

State append_records(const std::string& dir, const std::vector<Record>& records, DisputeOracle oracle) {
  LogFile f;
  open_log(dir, f, true);
  size_t last_at = 0;
  State st = validate_from_snapshot(dir, f, oracle, &last_at);
  check_new(st, records);
  if (records.empty()) return st;
  const auto [bytes, last] = write_records(dir, f, records);
  save_snapshot(dir, bytes, last, st);
  return st;
}

State append_events(const std::string& dir, const KeyPair& k, DisputeOracle oracle, const MakeEvents& make,
                    std::vector<Record>* appended, bool whole) {
  LogFile f;
  open_log(dir, f, true);
  size_t last_at = 0;
  State st = whole ? validate_open(dir, f, oracle, nullptr, nullptr, nullptr, std::nullopt, &last_at)
                   : validate_from_snapshot(dir, f, oracle, &last_at);
  std::vector<Record> rs;
  for (const Event& e : make(st)) rs.push_back(sign_next(st, e, k));
  if (!rs.empty()) {
    const auto [bytes, last] = write_records(dir, f, rs);
    save_snapshot(dir, bytes, last, st);
  } else if (whole) {
    save_snapshot(dir, f.size, last_at, st);
  }
  if (appended) *appended = std::move(rs);
  return st;
}

Record prepare_event(const std::string& dir, const KeyPair& k, DisputeOracle oracle, const MakeEvents& make) {
  LogFile f;
  open_log(dir, f, false);
  State st = validate_from_snapshot(dir, f, oracle, nullptr);
  const std::vector<Event> es = make(st);
  if (es.size() != 1) usage_error("an event file holds one event; this command makes " + std::to_string(es.size()));
  return sign_next(st, es[0], k);  // it would be accepted now
}

}  // namespace pw::ledger
