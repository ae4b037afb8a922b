// bench_checkpoint: what a proof checkpoint costs, against the plain alternative of
// dumping the raw fp32 weights and optimizer state to a file.
//
//   bench_checkpoint TASK PROOF_DIR SCRATCH_DIR [--reps N] [--md FILE]
//
// Loads the last checkpoint of PROOF_DIR (a real, trained state: its compressibility is
// what matters), then times, best of N each:
//   - pw::write_checkpoint: content hashes, state hash, byte-shuffle + zstd, Cap'n Proto
//     encoding, file hash, write + fsync + rename;
//   - a raw dump of the same tensors (4 bytes × elements) written the same safe way
//     (write_file_atomic: fsync + rename), the baseline;
//   - pw::read_checkpoint of what was written (file hash, decode, per-tensor and state
//     hashes), i.e. what pol-verify pays per segment start;
//   - pw::state_hash alone.
// --md appends Markdown rows for tests/bench/run.sh's summary table.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "proof/proof.hpp"
#include "proof/task_file.hpp"
#include "train/trainer.hpp"

using namespace pw;

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

template <class F>
std::pair<double, double> best_median(int reps, F&& fn) {
  std::vector<double> t;
  for (int r = 0; r < reps; r++) {
    const double t0 = now();
    fn();
    t.push_back(now() - t0);
  }
  std::sort(t.begin(), t.end());
  return {t.front(), t[t.size() / 2]};
}
}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> pos;
  int reps = 7;
  std::string md;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--reps" && i + 1 < argc)
      reps = std::max(1, std::atoi(argv[++i]));
    else if (a == "--md" && i + 1 < argc)
      md = argv[++i];
    else
      pos.push_back(a);
  }
  if (pos.size() != 3) {
    std::fprintf(stderr, "usage: bench_checkpoint TASK PROOF_DIR SCRATCH_DIR [--reps N] [--md FILE]\n");
    return 2;
  }
  try {
    const std::string task_path = pos[0], proof = pos[1], scratch = pos[2];
    LoadedTask task = load_task(task_path);
    const TaskConfig& cfg = task.cfg;
    Tape tape = tape_for(cfg);
    Workspace ws(tape);
    Manifest man = read_manifest(proof, int64_t(cfg.steps) * cfg.batch);
    check_input(!man.checkpoints.empty(), "no checkpoints in '" + proof + "'");
    const CheckpointInfo& last = man.checkpoints.back();
    read_checkpoint(proof, last, tape, task.hash, ws);

    const std::vector<int> ids = checkpoint_tensors(tape);
    int64_t elements = 0, params = 0;
    for (int id : ids) {
      elements += tape.tensors[size_t(id)].size();
      if (tape.tensors[size_t(id)].role == Role::Param) params += tape.tensors[size_t(id)].size();
    }
    const double raw_bytes = 4.0 * double(elements);
    make_directory(scratch);

    CheckpointInfo info;
    write_checkpoint(scratch, tape, ws, last.step, task.hash);  // warm-up
    auto [w_best, w_med] = best_median(reps, [&] { info = write_checkpoint(scratch, tape, ws, last.step, task.hash); });

    Bytes raw(static_cast<size_t>(raw_bytes));
    auto [d_best, d_med] = best_median(reps, [&] {
      size_t off = 0;
      for (int id : ids) {
        const auto& v = ws.t[size_t(id)];
        std::copy_n(reinterpret_cast<const uint8_t*>(v.data()), v.size() * 4, raw.data() + off);
        off += v.size() * 4;
      }
      write_file_atomic(join_path(scratch, "raw.bin"), raw);
    });

    Workspace back(tape);
    auto [r_best, r_med] = best_median(reps, [&] { read_checkpoint(scratch, info, tape, task.hash, back); });
    bool same = true;
    for (int id : ids) same = same && back.t[size_t(id)] == ws.t[size_t(id)];
    check_input(same, "the checkpoint read back differs from what was written");

    Hash sink{};
    auto [h_best, h_med] = best_median(reps, [&] { sink = state_hash(tape, ws, last.step); });
    (void)sink;

    std::printf("bench_checkpoint: %s, step %lld: %lld parameters + %lld optimizer-state values\n",
                mlp_spec(cfg.widths).c_str(), static_cast<long long>(last.step), static_cast<long long>(params),
                static_cast<long long>(elements - params));
    std::printf("  raw fp32 (4 B × %lld)      %12.0f bytes\n", static_cast<long long>(elements), raw_bytes);
    std::printf("  checkpoint file            %12llu bytes (%.3f × raw)\n", static_cast<unsigned long long>(info.bytes),
                double(info.bytes) / raw_bytes);
    std::printf("  write_checkpoint           best %8.1f ms  median %8.1f ms\n", w_best * 1e3, w_med * 1e3);
    std::printf("  raw dump (fsync + rename)  best %8.1f ms  median %8.1f ms\n", d_best * 1e3, d_med * 1e3);
    std::printf("  read_checkpoint (checked)  best %8.1f ms  median %8.1f ms\n", r_best * 1e3, r_med * 1e3);
    std::printf("  state_hash alone           best %8.1f ms  median %8.1f ms\n", h_best * 1e3, h_med * 1e3);
    std::printf("  write throughput           %.0f MB/s of raw state (raw dump: %.0f MB/s)\n", raw_bytes / w_best * 1e-6,
                raw_bytes / d_best * 1e-6);
    if (!md.empty()) {
      FILE* f = std::fopen(md.c_str(), "a");
      if (!f) {
        std::perror(md.c_str());
        return 4;
      }
      std::fprintf(f, "| Checkpoint file size (params + momentum, step %lld) | %.2f MB | %.2f MB raw fp32 | %.3f× | — |\n",
                   static_cast<long long>(last.step), double(info.bytes) * 1e-6, raw_bytes * 1e-6,
                   double(info.bytes) / raw_bytes);
      std::fprintf(f, "| Checkpoint write (hash + zstd + fsync), best of %d | %.1f ms | %.1f ms raw dump + fsync | %.2f× | — |\n",
                   reps, w_best * 1e3, d_best * 1e3, w_best / d_best);
      std::fprintf(f, "| Checkpoint read + verify (hashes, decode), best of %d | %.1f ms | — | — | — |\n", reps, r_best * 1e3);
      std::fprintf(f, "| State hash alone (BLAKE2b over all tensors) | %.1f ms | — | — | — |\n", h_best * 1e3);
      std::fclose(f);
    }
    std::remove(join_path(scratch, "raw.bin").c_str());
    std::remove(join_path(scratch, info.file).c_str());
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_checkpoint: %s\n", e.what());
    return e.code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_checkpoint: %s\n", e.what());
    return 4;
  }
}
