// What every proofwork program shares (proofwork(7), COMMAND-LINE CONVENTIONS): the common options, one place
// that maps errors to exit statuses and prints `program: context: reason`, and the
// progress line.
#pragma once
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "core/program.hpp"
#include "model/device.hpp"

namespace pw {

struct CommonOptions {
  int threads = 0;             // 0: OMP_NUM_THREADS, else all cores
  DeviceKind device = DeviceKind::Cpu;
  bool json = false;
  bool quiet = false;
  bool fake_tty = false;       // hidden: progress as if stderr were a terminal (tests)
  bool force = false;          // -f: overwrite an existing output file
};

enum CommonFlags : unsigned {
  kOptThreads = 1,
  kOptDevice = 2,
  kOptJson = 4,
  kOptQuiet = 8,
  kOptAll = 15,
  kOptForce = 16,
};

void add_common_options(CLI::App& app, CommonOptions& o, unsigned which = kOptAll);
// Applies --threads; refuses devices this build cannot drive (exit 4). A program that
// runs the tape on a GPU passes cuda_capable; then --device cuda needs a usable CUDA
// device ("no CUDA device: ...", or "built without CUDA"), else it is refused.
void apply_common_options(const CommonOptions& o, bool cuda_capable = false);

// An output file may not be one of the inputs, nor an existing file without -f
// (usage error, exit 2). "-" (stdout) always passes.
void check_output_path(const std::string& out, const std::vector<std::string>& inputs, bool force);
// Refuses (exit 2) an output file that would land inside directory `dir` (a proof).
void check_output_outside(const std::string& out, const std::string& dir);

// Runs `body` (which parses with CLI11 and does the work) and turns every error into
// the documented exit status with a one-line message on stderr.
int run_tool(const char* program, int argc, char** argv, CLI::App& app, const std::function<int()>& body);

// Prints messages to stderr unless quiet.
void note(const CommonOptions& o, const std::string& msg);

// "step 120/4680  loss 0.4123  35.2 steps/s  ETA 2m13s" on stderr, only when stderr
// is a terminal (or faked), at most 4 updates a second, never with --quiet.
class Progress {
 public:
  Progress(const CommonOptions& o, int64_t total, std::string unit);
  void update(int64_t done, const std::string& extra = "");
  void set_total(int64_t total) { total_ = total; }
  void finish();

 private:
  bool on_;
  int64_t total_, start_done_ = -1;
  std::string unit_;
  std::chrono::steady_clock::time_point t0_, last_;
  bool printed_ = false;
};

}  // namespace pw
