// Shared by the fuzz targets (proofwork(7), UNTRUSTED INPUT; tests/fuzz/run.sh runs them):
// each target hands libFuzzer's bytes to the library entry point a program reads that
// file kind with, under the program's size limit, and calls answer() around it.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.hpp"
#include "io/file.hpp"

namespace pwfuzz {

inline pw::Bytes bytes(const uint8_t* data, size_t size) { return pw::Bytes(data, data + size); }

// A reader's answer to hostile bytes is a value or a refusal: pw::Error with exit 1
// (the check says no), 2 or 3 (bad input). An internal error (exit 4) on input is a
// finding, as is any other exception (a Cap'n Proto decode error that escaped,
// std::bad_alloc...): abort, so that libFuzzer keeps the input.
template <typename F>
int answer(F&& f) {
  try {
    f();
  } catch (const pw::Error& e) {
    if (e.code == pw::kExitInternal) {
      std::fprintf(stderr, "fuzz: internal error (exit 4) on this input: %s\n", e.what());
      std::abort();
    }
  }
  return 0;
}

// A descriptor reading `size` bytes from memory (memfd: a regular file, no disk), for
// the readers that take a descriptor (the AQ-SGD streams). The caller closes it.
inline int memory_fd(const uint8_t* data, size_t size) {
  const int fd = memfd_create("fuzz-input", 0);
  if (fd < 0 || (size && write(fd, data, size) != ssize_t(size)) || lseek(fd, 0, SEEK_SET) != 0) {
    std::perror("fuzz: memfd");
    std::abort();
  }
  return fd;
}

// A directory of this process's own under $TMPDIR, removed at exit: for the one reader
// that maps a file by name (the AQ-SGD state).
std::string scratch_dir();

// The fixture task of the targets that need one (checkpoint, manifest, transcript):
// tests/fuzz/data/task.pwt, the task the seed proof was trained on.
std::string fixture(const std::string& name);

}  // namespace pwfuzz
