// The ranks of a distributed run (proofwork(7), DISTRIBUTED TRAINING): the few things
// the drivers need from Open MPI, and nothing of MPI outside lib/dist/ranks.cpp. A
// build without MPI (PW_MPI off, or no MPI found) has one rank: start_ranks says "built
// without MPI" to anything that asks for more.
//
// Only data movement comes from MPI: broadcasts, all-to-all and all-gather of bytes,
// and maxima (exact in any order). Every floating-point sum is ours,
// in the fixed order of the chunked batch reduction; MPI_Allreduce's order is
// unspecified (MPI-2.2 only advises one) and is never used on floats.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace pw {

bool mpi_built();

// The world's ranks, or a group of them (split_ranks): every function below works within
// the group `r` names, ranks numbered in it.
struct Ranks {
  int rank = 0, size = 1;
  bool mpi = false;  // MPI initialised (finish_ranks finalises it)
  int group = 0;     // 0: the world; else split_ranks's group, by its number in this process
};

// MPI_Init (thread level FUNNELED: OpenMP threads never call MPI) and the world's rank
// and size. Without MPI in the build: a usage error (exit 2) naming `flag`.
Ranks start_ranks(const std::string& flag);
// MPI_Finalize, once every rank got here.
void finish_ranks(Ranks& r);
// Ends every rank of the job now with `code` (MPI_Abort): an error that only this rank
// saw, after training began, when the others may be waiting for it.
[[noreturn]] void abort_ranks(const Ranks& r, int code);
// The launcher's word on how many ranks it started (OMPI_COMM_WORLD_SIZE, PMI_SIZE, or
// srun's SLURM_STEP_NUM_TASKS), before MPI is initialised; 1 when started alone.
int launched_ranks();

// The ranks of `world` with the same `color`, numbered by `key` (then world rank): a
// pipeline stage's data-parallel replicas. Every rank of `world` calls it.
Ranks split_ranks(const Ranks& world, int color, int key);

// Point to point (a pipeline's activations and gradients,
// proofwork(7), PIPELINE STAGES): `bytes` to rank `to` with `tag`, sent without
// waiting; the buffer is kept until finish_sends. Messages of one tag from one rank arrive in the order sent.
void send_bytes(const Ranks& r, int to, int tag, std::vector<uint8_t> bytes);
// The next message of `tag` from rank `from`, of any length (waits for it).
std::vector<uint8_t> receive_bytes(const Ranks& r, int from, int tag);
// Waits until every send_bytes of this rank has gone.
void finish_sends();

// `bytes` from rank `root` to every rank.
void broadcast(const Ranks& r, void* data, int64_t bytes, int root);
// The largest of the ranks' codes (0: all fine) on every rank.
int agree_max(const Ranks& r, int code);
// Element-wise maxima over the ranks, in place: exact in any order for non-NaN values
// (a pipeline cut's scales; its callers flag NaN and infinity apart).
void max_floats(const Ranks& r, float* values, int64_t n);
// The reduce-scatter's data movement: `send` holds size slices one after another (slice
// j: send_counts[j] floats, for rank j); afterwards `recv` holds this rank's slice as
// each rank sent it, rank 0's first (recv_count floats each).
void exchange_slices(const Ranks& r, const float* send, const std::vector<int64_t>& send_counts, float* recv,
                     int64_t recv_count);
// The all-gather: rank j's `counts[j]` floats at `buf + offsets[j]`, sent from rank j
// to all (each rank's own part already in place).
void gather_slices(const Ranks& r, float* buf, const std::vector<int64_t>& counts, const std::vector<int64_t>& offsets);
// Every rank's `mine` to rank `root`, in rank order (empty elsewhere).
std::vector<std::vector<uint8_t>> gather_bytes(const Ranks& r, const std::vector<uint8_t>& mine, int root);
// A string from rank `root` to every rank.
void broadcast_string(const Ranks& r, std::string& s, int root);
// Bytes this rank has sent through the functions above (benchmarks: wire bytes).
int64_t bytes_sent();

}  // namespace pw
