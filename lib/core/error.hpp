// Errors that carry the exit status up to main() (proofwork(7), EXIT STATUS).
#pragma once
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace pw {

enum Exit : int {
  kExitOk = 0,
  kExitNo = 1,        // the check ran and the answer is "no"
  kExitUsage = 2,
  kExitBadInput = 3,  // bad or unreadable input
  kExitInternal = 4,  // internal or environment error
};

struct Error : std::runtime_error {
  int code;
  Error(int c, const std::string& what) : std::runtime_error(what), code(c) {}
};

[[noreturn]] inline void bad_input(const std::string& what) { throw Error(kExitBadInput, what); }
[[noreturn]] inline void internal_error(const std::string& what) { throw Error(kExitInternal, what); }
[[noreturn]] inline void usage_error(const std::string& what) { throw Error(kExitUsage, what); }

inline void check_input(bool ok, const std::string& what) {
  if (!ok) bad_input(what);
}

// strerror(errno), for messages after a failed system call.
inline std::string errstr() { return std::strerror(errno); }

}  // namespace pw
