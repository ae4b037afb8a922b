#include "aqsgd/state.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include "core/error.hpp"
#include "io/file.hpp"
#include "io/hash.hpp"

namespace pw::aqsgd {

namespace {

constexpr char kMagic[8] = {'P', 'W', 'A', 'Q', 'S', 'T', 'A', '1'};
constexpr uint32_t kVersion = 1;
constexpr size_t kPage = 4096;
constexpr uint64_t kMaxCols = uint64_t(1) << 24;
constexpr uint64_t kMaxBytes = uint64_t(1) << 40;  // 1 TiB of (sparse) file

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t cols;
  uint64_t capacity;
  uint32_t policy;
  uint32_t reserved;
  uint64_t generation;
  uint8_t id[16];
};
static_assert(sizeof(Header) <= kPage);

size_t round_up(size_t n) { return (n + kPage - 1) / kPage * kPage; }
size_t meta_bytes(const StateParams& p) { return round_up(size_t(p.capacity) * 64); }

}  // namespace

struct State::Meta {
  uint64_t generation;
  uint64_t sample;
  uint32_t round;
  uint32_t valid;
  uint64_t reserved;
};


StateId state_id(const StateParams& p) {
  Hasher h;
  h.update_str("proofwork aqsgd state v1");
  h.update_u32(p.cols).update_u64(p.capacity).update_u32(uint32_t(p.policy));
  const Hash full = h.final();
  StateId id;
  std::memcpy(id.data(), full.data(), id.size());
  return id;
}

size_t state_file_size(const StateParams& p) {
  return kPage + meta_bytes(p) + size_t(p.capacity) * 2 * p.cols * sizeof(float);
}

State::State(const std::string& dir, const StateParams& expect, bool create, bool sync)
    : dir_(dir), path_(join_path(dir, "state.aqs")), p_(expect), sync_(sync) {
  bool created = false;
  if (!file_exists(path_)) {
    if (!create) bad_input("state '" + dir + "': no state file (" + path_ + ")");
    if (p_.capacity == 0) p_.capacity = kDefaultCapacity;
    if (p_.cols == 0 || p_.cols > kMaxCols) usage_error("state '" + dir + "': channel count " + std::to_string(p_.cols) + " out of range");
    if (p_.capacity == 0 || p_.capacity > kMaxCapacity || state_file_size(p_) > kMaxBytes)
      usage_error("state '" + dir + "': capacity " + std::to_string(p_.capacity) + " out of range (1 to 2^24 samples, file ≤ 1 TiB)");
    make_directory(dir);
    remove_stale_temporaries(dir);  // a creation a killed run left (proofwork-files(5), ENCODING)
    // Created whole (an AtomicFile), so a half-created file never exists.
    AtomicFile f(path_);
    Header h{};
    std::memcpy(h.magic, kMagic, 8);
    h.version = kVersion;
    h.cols = p_.cols;
    h.capacity = p_.capacity;
    h.policy = uint32_t(p_.policy);
    const StateId id = state_id(p_);
    std::memcpy(h.id, id.data(), id.size());
    f.write(&h, sizeof h);
    if (::ftruncate(f.fd(), off_t(state_file_size(p_))) != 0)
      internal_error("state '" + dir + "': cannot create " + path_ + ": " + errstr());
    f.commit();
    created = true;
  }
  try {
    map_and_check(created);
    rebuild(created);
  } catch (...) {  // the destructor does not run for a half-built object: release the lock here
    if (base_) ::munmap(base_, size_);
    if (fd_ >= 0) ::close(fd_);
    throw;
  }
}

State::~State() {
  if (base_) ::munmap(base_, size_);
  if (fd_ >= 0) ::close(fd_);
}

void State::map_and_check(bool created) {
  fd_ = open_regular(path_, "state '" + dir_ + "': file", O_RDWR);
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0)
    internal_error("state '" + dir_ + "': in use by another process (" + path_ + " is locked)");
  struct stat st;
  if (::fstat(fd_, &st) != 0) bad_input("state '" + dir_ + "': " + errstr());
  Header h{};
  const bool read_ok = ::pread(fd_, &h, sizeof h, 0) == ssize_t(sizeof h);
  const std::string what = "state '" + dir_ + "'";
  check_input(read_ok && std::memcmp(h.magic, kMagic, 8) == 0, what + ": not an aqsgd state file (bad magic)");
  check_input(h.version == kVersion, what + ": unsupported version " + std::to_string(h.version));
  check_input(h.cols > 0 && h.cols <= kMaxCols && h.capacity > 0 && h.capacity <= kMaxCapacity && h.policy <= 1,
              what + ": damaged header");
  StateParams found{h.cols, h.capacity, FullPolicy(h.policy)};
  check_input(state_file_size(found) <= kMaxBytes && size_t(st.st_size) == state_file_size(found),
              what + ": file size " + std::to_string(st.st_size) + " does not match its header (truncated?)");
  const StateId id = state_id(found);
  check_input(std::memcmp(h.id, id.data(), id.size()) == 0, what + ": damaged header (state id)");
  if (!created) {
    if (p_.cols && p_.cols != found.cols)
      bad_input(what + ": holds rows of " + std::to_string(found.cols) + " channels, the input has " + std::to_string(p_.cols));
    if (p_.capacity && p_.capacity != found.capacity)
      usage_error(what + ": was created with capacity " + std::to_string(found.capacity) + ", not " + std::to_string(p_.capacity));
  }
  p_ = found;
  size_ = size_t(st.st_size);
  data_off_ = kPage + meta_bytes(p_);
  void* m = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (m == MAP_FAILED) internal_error(what + ": mmap: " + errstr());
  base_ = static_cast<uint8_t*>(m);
}

uint64_t State::generation() const { return reinterpret_cast<const Header*>(base_)->generation; }

State::Meta* State::meta(uint32_t slot, int buf) const {
  return reinterpret_cast<Meta*>(base_ + kPage) + (size_t(slot) * 2 + size_t(buf));
}

float* State::row(uint32_t slot, int buf) const {
  return reinterpret_cast<float*>(base_ + data_off_) + (size_t(slot) * 2 + size_t(buf)) * p_.cols;
}

// Erases buffers tagged after the committed generation (an interrupted batch), then
// indexes the current buffer of each slot.
void State::rebuild(bool created) {
  const uint64_t g = generation();
  const std::string what = "state '" + dir_ + "'";
  cur_.reset(static_cast<uint8_t*>(std::calloc(size_t(p_.capacity), 1)));
  if (!cur_) throw std::bad_alloc();
  index_.clear();
  lru_.clear();
  holes_.clear();
  fresh_ = 0;
  planned_.clear();
  planning_ = false;
  // A new file's slots are all empty (nothing to scan). An existing file's slot table is
  // read with pread(2), a chunk at a time, not through the map: the table is sparse until
  // used, and a read fault on a hole of a shared map may need a page (RSS for the whole
  // table, or SIGBUS on a full tmpfs), where read(2) of a hole allocates nothing.
  constexpr uint32_t kChunk = 4096;  // slots a read
  std::vector<Meta> chunk;
  for (uint32_t s0 = 0; !created && s0 < p_.capacity; s0 += kChunk) {
    const uint32_t n = uint32_t(std::min<uint64_t>(kChunk, p_.capacity - s0));
    chunk.resize(size_t(n) * 2);
    const size_t bytes = chunk.size() * sizeof(Meta);
    check_input(::pread(fd_, chunk.data(), bytes, off_t(kPage + size_t(s0) * 2 * sizeof(Meta))) == ssize_t(bytes),
                what + ": cannot read its slot table");
    for (uint32_t i = 0; i < n; i++) {
      const uint32_t s = s0 + i;
      const Meta* got = chunk.data() + size_t(i) * 2;  // buffers 0 and 1 of slot s, as read
      int best = -1;
      for (int b = 0; b < 2; b++) {
        const Meta& m = got[b];
        if (!m.valid) continue;
        if (m.generation > g || m.generation == 0) {
          std::memset(meta(s, b), 0, sizeof(Meta));  // an allocated page: it holds a written record
          continue;
        }
        if (best < 0 || m.generation > got[best].generation) best = b;
        else check_input(m.generation != got[best].generation, what + ": damaged slot " + std::to_string(s));
      }
      if (best < 0) continue;
      const Meta& m = got[best];
      check_input(index_.emplace(m.sample, s).second,
                  what + ": damaged: sample " + std::to_string(m.sample) + " has two slots");
      set_cur(s, best);
      lru_.emplace(m.generation, m.sample);
      fresh_ = s + 1;
    }
  }
  for (uint32_t s = 0; s < fresh_; s++)
    if (cur(s) < 0) holes_.push_back(s);
  // Lowest hole last, so pop_back() takes it.
  std::reverse(holes_.begin(), holes_.end());
}

const float* State::find(uint64_t sample) const {
  auto it = index_.find(sample);
  return it == index_.end() ? nullptr : row(it->second, cur(it->second));
}

std::vector<RowSlot> State::plan(const uint64_t* ids, size_t rows) {
  if (planning_) internal_error("aqsgd state: plan() called twice without commit()");
  const std::string what = "state '" + dir_ + "'";
  if (rows > p_.capacity)
    bad_input("batch of " + std::to_string(rows) + " rows exceeds the capacity of " + what + " (" +
              std::to_string(p_.capacity) + " samples)");
  reserve(fresh_, std::min<uint64_t>(p_.capacity, fresh_ + rows));
  const uint64_t next_gen = generation() + 1;
  planning_ = true;
  const uint64_t fresh_before = fresh_;
  std::vector<RowSlot> out(rows);
  for (size_t r = 0; r < rows; r++) {
    const uint64_t id = ids[r];
    auto it = index_.find(id);
    uint32_t slot;
    RowSlot& rs = out[r];
    if (it != index_.end()) {
      slot = it->second;
      const auto tagged = [&](int b) { return meta(slot, b)->valid && meta(slot, b)->generation == next_gen; };
      if (tagged(0) || tagged(1)) {
        abort();
        bad_input("sample id " + std::to_string(id) + " appears twice in one batch");
      }
      const Meta* m = meta(slot, cur(slot));
      lru_.erase({m->generation, id});
      rs.full = false;
      rs.round = m->round + 1;
      rs.cur = row(slot, cur(slot));
    } else {
      if (!holes_.empty()) {
        slot = holes_.back();
        holes_.pop_back();
      } else if (fresh_ < p_.capacity) {
        slot = uint32_t(fresh_++);
      } else {
        if (p_.policy == FullPolicy::kRefuse) {
          abort();
          bad_input(what + " is full (" + std::to_string(p_.capacity) +
                    " samples) and its policy is 'refuse': sample " + std::to_string(id) + " has no slot");
        }
        auto victim = lru_.begin();  // never one of this batch: those carry next_gen
        const uint64_t old = victim->second;
        lru_.erase(victim);
        slot = index_.at(old);
        index_.erase(old);
      }
      index_.emplace(id, slot);
      rs.full = true;
      rs.round = 1;
      rs.cur = nullptr;
    }
    const int nb = cur(slot) < 0 ? 0 : 1 - cur(slot);
    Meta* nm = meta(slot, nb);
    nm->generation = next_gen;
    nm->sample = id;
    nm->round = rs.round;
    nm->valid = 1;
    nm->reserved = 0;
    lru_.emplace(next_gen, id);
    rs.slot = slot;
    rs.next = row(slot, nb);
    planned_.push_back(slot);
  }
  if (fresh_ > fresh_before) prefault(fresh_before, fresh_);
  return out;
}

// The file is sparse until used: before a batch writes anything, the blocks of the
// slots it may take for the first time (their metadata and both buffers) are allocated,
// so that a full disk fails the batch here (exit 4, the state still at its generation)
// rather than as SIGBUS on a write through the map. File systems without fallocate(2)
// keep the sparse behaviour.
void State::reserve(uint64_t from, uint64_t to) {
  if (to <= from) return;
  const auto fallocate_range = [&](size_t lo, size_t hi) {
    lo = lo / kPage * kPage;
    hi = std::min(round_up(hi), size_);
    if (hi <= lo || ::fallocate(fd_, 0, off_t(lo), off_t(hi - lo)) == 0 || errno == EOPNOTSUPP) return;
    internal_error("state '" + dir_ + "': no room for " + std::to_string(to - from) + " new samples in " + path_ + ": " +
                   errstr());
  };
  fallocate_range(kPage + size_t(from) * 2 * sizeof(Meta), kPage + size_t(to) * 2 * sizeof(Meta));
  fallocate_range(data_off_ + size_t(from) * 2 * p_.cols * sizeof(float), data_off_ + size_t(to) * 2 * p_.cols * sizeof(float));
}

// Slots from `from` to `to` were never used: fault in both buffers of each now, in one
// call, so that the first write of a slot's second buffer (a batch later) does not take a
// page fault per row. Only a hint: kernels before 5.14 refuse it, and nothing changes.
void State::prefault(uint64_t from, uint64_t to) {
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
  const uintptr_t lo = reinterpret_cast<uintptr_t>(row(uint32_t(from), 0)) / kPage * kPage;
  const uintptr_t hi = reinterpret_cast<uintptr_t>(row(uint32_t(to - 1), 1) + p_.cols);
  (void)::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_POPULATE_WRITE);
}

void State::commit() {
  if (!planning_) internal_error("aqsgd state: commit() without plan()");
  auto* h = reinterpret_cast<Header*>(base_);
  if (sync_ && ::msync(base_, size_, MS_SYNC) != 0) internal_error("state '" + dir_ + "': msync: " + errstr());
  const uint64_t next_gen = h->generation + 1;
  h->generation = next_gen;
  if (sync_ && ::msync(base_, kPage, MS_SYNC) != 0) internal_error("state '" + dir_ + "': msync: " + errstr());
  for (uint32_t s : planned_) set_cur(s, meta(s, 0)->valid && meta(s, 0)->generation == next_gen ? 0 : 1);
  planned_.clear();
  planning_ = false;
}

void State::abort() { rebuild(); }

}  // namespace pw::aqsgd
