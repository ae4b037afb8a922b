#include "dist/ranks.hpp"

#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "core/error.hpp"

#ifdef PW_HAVE_MPI
#define OMPI_SKIP_MPICXX 1  // the C API only: MPI's C++ bindings are deprecated and not linked
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace pw {

namespace {
int64_t g_bytes_sent = 0;

int env_int(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : 0;
}

#ifdef PW_HAVE_MPI
void check_mpi(int rc, const char* what) {
  if (rc != MPI_SUCCESS) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    internal_error(std::string(what) + ": " + std::string(msg, size_t(len)));
  }
}
std::vector<MPI_Comm> g_groups;  // split_ranks's communicators: Ranks::group − 1
MPI_Comm comm(const Ranks& r) { return r.group == 0 ? MPI_COMM_WORLD : g_groups[size_t(r.group - 1)]; }
struct PendingSend {
  std::vector<uint8_t> bytes;
  MPI_Request request;
};
std::vector<std::unique_ptr<PendingSend>> g_sends;
int count_of(int64_t n, const char* what) {
  if (n < 0 || n > INT_MAX) internal_error(std::string(what) + ": a message of " + std::to_string(n) + " elements is over MPI's int count");
  return int(n);
}
#endif
}  // namespace

bool mpi_built() {
#ifdef PW_HAVE_MPI
  return true;
#else
  return false;
#endif
}

int launched_ranks() {
  // mpirun's, a PMI launcher's, and srun's for the tasks of this step (not the job's
  // SLURM_NTASKS: a batch script's own shell is one process).
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"}) {
    const int n = env_int(v);
    if (n > 0) return n;
  }
  return 1;
}

Ranks start_ranks(const std::string& flag) {
  Ranks r;
#ifdef PW_HAVE_MPI
  int provided = 0;
  check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  // Errors come back as codes (check_mpi) rather than ending the job unexplained; a rank
  // that dies still ends the job, by the launcher.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &r.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &r.size);
  r.mpi = true;
#else
  usage_error(flag + ": built without MPI (install libopenmpi-dev and rebuild with -DPW_MPI=ON)");
#endif
  return r;
}

void finish_ranks(Ranks& r) {
#ifdef PW_HAVE_MPI
  if (r.mpi) MPI_Finalize();
#endif
  r.mpi = false;
}

void abort_ranks(const Ranks& r, int code) {
#ifdef PW_HAVE_MPI
  if (r.mpi) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

Ranks split_ranks(const Ranks& world, int color, int key) {
  Ranks g = world;
  if (!world.mpi) return g;  // one process: the group is itself
#ifdef PW_HAVE_MPI
  MPI_Comm c;
  check_mpi(MPI_Comm_split(comm(world), color, key, &c), "MPI_Comm_split");
  MPI_Comm_set_errhandler(c, MPI_ERRORS_RETURN);
  g_groups.push_back(c);
  g.group = int(g_groups.size());
  MPI_Comm_rank(c, &g.rank);
  MPI_Comm_size(c, &g.size);
#endif
  return g;
}

void send_bytes(const Ranks& r, int to, int tag, std::vector<uint8_t> bytes) {
#ifdef PW_HAVE_MPI
  auto s = std::make_unique<PendingSend>();
  s->bytes = std::move(bytes);
  check_mpi(MPI_Isend(s->bytes.data(), count_of(int64_t(s->bytes.size()), "send"), MPI_BYTE, to, tag, comm(r),
                      &s->request),
            "MPI_Isend");
  g_bytes_sent += int64_t(s->bytes.size());
  g_sends.push_back(std::move(s));
#else
  (void)r, (void)to, (void)tag, (void)bytes;
  internal_error("send_bytes without MPI");
#endif
}

std::vector<uint8_t> receive_bytes(const Ranks& r, int from, int tag) {
  std::vector<uint8_t> out;
#ifdef PW_HAVE_MPI
  MPI_Status st;
  check_mpi(MPI_Probe(from, tag, comm(r), &st), "MPI_Probe");
  int n = 0;
  check_mpi(MPI_Get_count(&st, MPI_BYTE, &n), "MPI_Get_count");
  out.resize(size_t(n));
  check_mpi(MPI_Recv(out.data(), n, MPI_BYTE, from, tag, comm(r), MPI_STATUS_IGNORE), "MPI_Recv");
#else
  (void)r, (void)from, (void)tag;
  internal_error("receive_bytes without MPI");
#endif
  return out;
}

void finish_sends() {
#ifdef PW_HAVE_MPI
  for (auto& s : g_sends) check_mpi(MPI_Wait(&s->request, MPI_STATUS_IGNORE), "MPI_Wait");
  g_sends.clear();
#endif
}

void broadcast(const Ranks& r, void* data, int64_t bytes, int root) {
  if (r.size == 1) return;
#ifdef PW_HAVE_MPI
  constexpr int64_t kPiece = int64_t(1) << 30;  // MPI counts are ints
  for (int64_t off = 0; off < bytes; off += kPiece) {
    const int n = int(std::min(kPiece, bytes - off));
    check_mpi(MPI_Bcast(static_cast<char*>(data) + off, n, MPI_BYTE, root, comm(r)), "MPI_Bcast");
    if (r.rank == root) g_bytes_sent += n;
  }
#endif
}

int agree_max(const Ranks& r, int code) {
  if (r.size == 1) return code;
  int out = code;
#ifdef PW_HAVE_MPI
  check_mpi(MPI_Allreduce(&code, &out, 1, MPI_INT, MPI_MAX, comm(r)), "MPI_Allreduce");  // integers: exact
#endif
  return out;
}

void max_floats(const Ranks& r, float* values, int64_t n) {
  if (r.size == 1) return;
#ifdef PW_HAVE_MPI
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, values, count_of(n, "maximum"), MPI_FLOAT, MPI_MAX, comm(r)),
            "MPI_Allreduce");
  g_bytes_sent += n * int64_t(sizeof(float));
#endif
}

void exchange_slices(const Ranks& r, const float* send, const std::vector<int64_t>& send_counts, float* recv,
                     int64_t recv_count) {
  if (r.size == 1) {
    std::memcpy(recv, send, size_t(recv_count) * sizeof(float));
    return;
  }
#ifdef PW_HAVE_MPI
  std::vector<int> sc(size_t(r.size)), sd(size_t(r.size)), rc(size_t(r.size)), rd(size_t(r.size));
  int64_t off = 0;
  for (int j = 0; j < r.size; j++) {
    sc[size_t(j)] = count_of(send_counts[size_t(j)], "reduce-scatter");
    sd[size_t(j)] = count_of(off, "reduce-scatter");
    off += send_counts[size_t(j)];
    rc[size_t(j)] = count_of(recv_count, "reduce-scatter");
    rd[size_t(j)] = count_of(recv_count * j, "reduce-scatter");
    if (j != r.rank) g_bytes_sent += send_counts[size_t(j)] * int64_t(sizeof(float));
  }
  check_mpi(MPI_Alltoallv(send, sc.data(), sd.data(), MPI_FLOAT, recv, rc.data(), rd.data(), MPI_FLOAT, comm(r)),
            "MPI_Alltoallv");
#endif
}

void gather_slices(const Ranks& r, float* buf, const std::vector<int64_t>& counts, const std::vector<int64_t>& offsets) {
  if (r.size == 1) return;
#ifdef PW_HAVE_MPI
  std::vector<int> c(size_t(r.size)), d(size_t(r.size));
  for (int j = 0; j < r.size; j++) {
    c[size_t(j)] = count_of(counts[size_t(j)], "all-gather");
    d[size_t(j)] = count_of(offsets[size_t(j)], "all-gather");
  }
  g_bytes_sent += counts[size_t(r.rank)] * int64_t(sizeof(float)) * (r.size - 1);
  check_mpi(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, c.data(), d.data(), MPI_FLOAT, comm(r)),
            "MPI_Allgatherv");
#endif
}

std::vector<std::vector<uint8_t>> gather_bytes(const Ranks& r, const std::vector<uint8_t>& mine, int root) {
  std::vector<std::vector<uint8_t>> all;
  if (r.size == 1) {
    all.push_back(mine);
    return all;
  }
#ifdef PW_HAVE_MPI
  const int n = count_of(int64_t(mine.size()), "gather");
  std::vector<int> sizes(size_t(r.size)), displs(size_t(r.size));
  check_mpi(MPI_Gather(&n, 1, MPI_INT, sizes.data(), 1, MPI_INT, root, comm(r)), "MPI_Gather");
  std::vector<uint8_t> buf;
  if (r.rank == root) {
    int64_t total = 0;
    for (int j = 0; j < r.size; j++) displs[size_t(j)] = count_of(total, "gather"), total += sizes[size_t(j)];
    buf.resize(size_t(total));
  } else {
    g_bytes_sent += n;
  }
  check_mpi(MPI_Gatherv(mine.data(), n, MPI_BYTE, buf.data(), sizes.data(), displs.data(), MPI_BYTE, root, comm(r)),
            "MPI_Gatherv");
  if (r.rank == root)
    for (int j = 0; j < r.size; j++)
      all.emplace_back(buf.begin() + displs[size_t(j)], buf.begin() + displs[size_t(j)] + sizes[size_t(j)]);
#endif
  return all;
}

void broadcast_string(const Ranks& r, std::string& s, int root) {
  int64_t n = int64_t(s.size());
  broadcast(r, &n, sizeof n, root);
  s.resize(size_t(n));
  broadcast(r, s.data(), n, root);
}

int64_t bytes_sent() { return g_bytes_sent; }

}  // namespace pw
