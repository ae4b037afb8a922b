#include "cli/cli.hpp"

#include <kj/exception.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <new>

#include "core/error.hpp"
#include "core/program.hpp"
#include "model/device.hpp"

namespace pw {

void add_common_options(CLI::App& app, CommonOptions& o, unsigned which) {
  if (which & kOptThreads)
    app.add_option("--threads", o.threads, "Threads (default: OMP_NUM_THREADS, else all cores); exact-mode results do not depend on it")
        ->check(CLI::Range(1, 4096));
  if (which & kOptDevice)
    app.add_option_function<std::string>("--device", [&o](const std::string& d) { o.device = parse_device(d); },
                                         "cpu or cuda")
        ->check(CLI::IsMember({"cpu", "cuda"}));
  if (which & kOptJson) app.add_flag("--json", o.json, "Write the output as JSON");
  if (which & kOptQuiet) app.add_flag("-q,--quiet", o.quiet, "No progress or notes on stderr");
  if (which & kOptForce) app.add_flag("-f,--force", o.force, "Overwrite an existing output file");
  app.add_flag("--fake-stderr-is-console", o.fake_tty)->group("");  // hidden, for tests
  app.set_version_flag("--version", std::string("proofwork ") + version());
}

void apply_common_options(const CommonOptions& o, bool cuda_capable) {
  if (o.device == DeviceKind::Cuda && !cuda_capable)
    throw Error(kExitInternal, "--device cuda: this program has no CUDA backend (it runs on the CPU only)");
  if (o.device == DeviceKind::Cuda) require_cuda("--device cuda");
  set_threads(o.threads);
}

void check_output_path(const std::string& out, const std::vector<std::string>& inputs, bool force) {
  if (out == "-" || out.empty()) return;
  struct stat so;
  if (::stat(out.c_str(), &so) != 0) return;
  for (const std::string& in : inputs) {
    struct stat si;
    if (in != "-" && ::stat(in.c_str(), &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
      usage_error("output '" + out + "' is an input; refusing to overwrite it");
  }
  if (!force) usage_error("output '" + out + "' exists; use -f to overwrite it");
}

void check_output_outside(const std::string& out, const std::string& dir) {
  if (out == "-" || out.empty()) return;
  const size_t slash = out.rfind('/');
  const std::string parent = slash == std::string::npos ? "." : (slash == 0 ? "/" : out.substr(0, slash));
  struct stat a, b;
  if (::stat(parent.c_str(), &a) == 0 && ::stat(dir.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
    usage_error("output '" + out + "' would be written inside the proof directory '" + dir + "'");
}

int run_tool(const char* program, int argc, char** argv, CLI::App& app, const std::function<int()>& body) {
  set_program(program, argc, argv);
  // A write past the file-size limit (ulimit -f) fails with EFBIG, an error the writer
  // reports (exit 4, its temporary removed), instead of killing the program with SIGXFSZ
  // half-way (proofwork(7), UNTRUSTED INPUT).
  ::signal(SIGXFSZ, SIG_IGN);
  int rc;
  try {
    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
      return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
      return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
      return app.exit(e);
    } catch (const CLI::ParseError& e) {
      std::fflush(stdout);
      std::fprintf(stderr, "%s: %s\n", program, e.what());
      std::fprintf(stderr, "Try '%s --help' for more information.\n", program);
      return kExitUsage;
    }
    rc = body();
  } catch (const Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return e.code;
  } catch (const std::bad_alloc&) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: out of memory\n", program);
    return kExitInternal;
  } catch (const kj::Exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: internal error: %s\n", program, e.getDescription().cStr());
    return kExitInternal;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: internal error: %s\n", program, e.what());
    return kExitInternal;
  }
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    std::fprintf(stderr, "%s: error writing to stdout\n", program);
    return kExitInternal;
  }
  return rc;
}

void note(const CommonOptions& o, const std::string& msg) {
  if (!o.quiet) std::fprintf(stderr, "%s: %s\n", program_name(), msg.c_str());
}

Progress::Progress(const CommonOptions& o, int64_t total, std::string unit)
    : on_(!o.quiet && (o.fake_tty || isatty(2))), total_(total), unit_(std::move(unit)),
      t0_(std::chrono::steady_clock::now()), last_(t0_ - std::chrono::seconds(1)) {}

void Progress::update(int64_t done, const std::string& extra) {
  if (!on_) return;
  auto now = std::chrono::steady_clock::now();
  if (start_done_ < 0) {
    start_done_ = done;
    t0_ = now;
  }
  if (now - last_ < std::chrono::milliseconds(250) && done < total_) return;
  last_ = now;
  const double secs = std::chrono::duration<double>(now - t0_).count();
  const double rate = secs > 0 ? double(done - start_done_) / secs : 0;
  char eta[32] = "?";
  if (rate > 0) {
    const int64_t left = int64_t(double(total_ - done) / rate);
    std::snprintf(eta, sizeof eta, "%lldm%02llds", static_cast<long long>(left / 60), static_cast<long long>(left % 60));
  }
  std::fprintf(stderr, "\r%s: %s %lld/%lld  %s  %.1f %s/s  ETA %s\033[K", program_name(), unit_.c_str(),
               static_cast<long long>(done), static_cast<long long>(total_), extra.c_str(), rate, unit_.c_str(), eta);
  std::fflush(stderr);
  printed_ = true;
}

void Progress::finish() {
  if (on_ && printed_) std::fprintf(stderr, "\n");
  printed_ = false;
}

}  // namespace pw
