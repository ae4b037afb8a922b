// Who is running: the program's name and command line (set once by its main, read by
// every file writer's provenance), the host, the time, the version, and the thread
// count of the OpenMP parts. Exact-mode results never depend on the thread count
// (proofwork(7), EXACT MODE).
#pragma once
#include <string>

namespace pw {

// Records the program's name and its command line as typed; cli's run_tool calls it.
void set_program(const char* name, int argc, char** argv);
const char* program_name();   // "proofwork" until set_program
std::string command_line();   // as typed, for provenance
std::string host_name();
std::string utc_now();        // ISO 8601, UTC
const char* version();

void set_threads(int n);      // n > 0: OpenMP's thread count; 0 leaves it as it is
int get_threads();
int available_cores();        // the processors this process may run on (its affinity)

// Restores the thread count on scope exit (a replay under another side's setting).
struct ThreadsGuard {
  int saved = get_threads();
  ~ThreadsGuard() { set_threads(saved); }
};

}  // namespace pw
