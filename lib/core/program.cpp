#include "core/program.hpp"

#include <omp.h>
#include <unistd.h>

#include <ctime>

#ifndef PW_VERSION
#define PW_VERSION "0.0.0"
#endif

namespace pw {

namespace {
const char* g_program = "proofwork";
std::string g_command_line;
}  // namespace

void set_program(const char* name, int argc, char** argv) {
  g_program = name;
  g_command_line.clear();
  for (int i = 0; i < argc; i++) {
    if (i) g_command_line += ' ';
    g_command_line += argv[i];
  }
}

const char* program_name() { return g_program; }
std::string command_line() { return g_command_line; }
const char* version() { return PW_VERSION; }

std::string host_name() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

void set_threads(int n) {
  if (n > 0) omp_set_num_threads(n);
}
int get_threads() { return omp_get_max_threads(); }
int available_cores() { return omp_get_num_procs(); }

}  // namespace pw
