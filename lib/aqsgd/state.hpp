// The AQ-SGD state directory: m(sample) for every sample seen, in one fixed-layout,
// memory-mapped file DIR/state.aqs keyed by sample id (man aqsgd-pack, FILES).
//
// Layout (little-endian):
//   [0, 4096)            header: magic "PWAQSTA1", version, cols, capacity, policy,
//                        generation (the number of batches committed), state id
//   [4096, data)         slot metadata: capacity x 2 records of 32 bytes
//                        {u64 generation, u64 sample id, u32 round, u32 valid, u64 0}
//   [data, end)          slot rows: capacity x 2 x cols fp32 (data is 4096-aligned)
//   size = 4096 + roundup(64·capacity, 4096) + 8·cols·capacity bytes (sparse until used)
//
// Crash safety between batches (shadow slots): each slot has two buffers. A batch
// that expects generation G writes every row it touches into the buffer of that slot
// which is not current, tagged G+1, and only then sets the header's generation to
// G+1 (the commit). A buffer is valid iff its tag ≤ the header's generation, and the
// current one is the valid buffer with the larger tag; opening the file erases tags
// above the header's generation. A crash (or error) mid-batch therefore leaves the
// state exactly at G. With `sync`, the rows are msync'ed before the commit and the
// header after it, which extends this to power loss.
//
// Bounded size: `capacity` samples, fixed when the state is created. Policy when a
// new sample arrives and every slot is taken: `evict` (default) frees the least
// recently updated slot (ties: lowest sample id), so that sample is sent at full
// precision again when it comes back; `refuse` fails the batch (exit 3). Both sides
// decide identically because they see the same sample ids in the same order.
#pragma once
#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace pw::aqsgd {

enum class FullPolicy : uint32_t { kEvict = 0, kRefuse = 1 };

constexpr uint64_t kDefaultCapacity = 65536;
// The most samples a state holds. Opening a state costs time and memory in its capacity
// (a slot index of a byte a sample, every slot's record scanned), so a receiver that
// creates its state from a stream header is not made to spend more than this.
constexpr uint64_t kMaxCapacity = uint64_t(1) << 24;

struct StateParams {
  uint32_t cols = 0;
  uint64_t capacity = 0;  // 0: kDefaultCapacity for a new state, the file's for an existing one
  FullPolicy policy = FullPolicy::kEvict;
};

using StateId = std::array<uint8_t, 16>;
StateId state_id(const StateParams& p);  // BLAKE2b over the layout: equal on both sides
size_t state_file_size(const StateParams& p);

// One row of a batch, as planned against the state.
struct RowSlot {
  uint32_t slot;
  bool full;          // first sight (or again after eviction): travels at full precision
  uint32_t round;     // update count of m(sample) after this batch (1 on first sight)
  const float* cur;   // m(sample) before the batch; null when full
  float* next;        // where m(sample) after the batch goes (cols floats)
};

class State {
 public:
  // Opens DIR/state.aqs, creating DIR and the file when absent and `create` is set.
  // A state that exists must match `expect` where its fields are non-zero. Locks the
  // file (a second process fails with exit 4). Bad or damaged files: exit 3.
  State(const std::string& dir, const StateParams& expect, bool create, bool sync);
  ~State();
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  const StateParams& params() const { return p_; }
  uint64_t generation() const;
  StateId id() const { return state_id(p_); }
  uint64_t samples() const { return index_.size(); }
  const std::string& path() const { return path_; }

  // Assigns a slot to each row (evicting when full) and tags the shadow buffers with
  // generation()+1. Fails (exit 3) on a repeated sample id in the batch, a batch with
  // more rows than the capacity, or a full state under `refuse`. After plan, write
  // every row's `next`, then commit(); on any error before commit, call abort().
  std::vector<RowSlot> plan(const uint64_t* ids, size_t rows);
  void commit();
  void abort();  // back to the last committed generation (re-reads the file)

  // m(sample) as committed, or null when the sample has no slot.
  const float* find(uint64_t sample) const;

 private:
  struct Meta;
  Meta* meta(uint32_t slot, int buf) const;
  float* row(uint32_t slot, int buf) const;
  void map_and_check(bool created);
  void reserve(uint64_t from, uint64_t to);
  void prefault(uint64_t from, uint64_t to);
  // `created`: the file was made just now, every slot empty (nothing to scan).
  void rebuild(bool created = false);

  std::string dir_, path_;
  StateParams p_;
  bool sync_;
  int fd_ = -1;
  uint8_t* base_ = nullptr;
  size_t size_ = 0, data_off_ = 0;
  // Per slot: 1 + its current buffer (0 or 1), or 0 when free. Zero-filled by calloc, so
  // the pages of slots never used are never touched: a state of 2^24 slots costs nothing
  // until they fill.
  std::unique_ptr<uint8_t[], decltype(&std::free)> cur_{nullptr, &std::free};
  int cur(uint32_t slot) const { return int(cur_[slot]) - 1; }
  void set_cur(uint32_t slot, int buffer) { cur_[slot] = uint8_t(buffer + 1); }
  std::unordered_map<uint64_t, uint32_t> index_;  // sample id -> slot
  std::set<std::pair<uint64_t, uint64_t>> lru_;   // (generation of last update, sample id) of taken slots
  std::vector<uint32_t> holes_;                   // free slots below fresh_
  uint64_t fresh_ = 0;                            // slots from here on were never used
  std::vector<uint32_t> planned_;                 // slots touched by the open plan
  bool planning_ = false;
};

}  // namespace pw::aqsgd
