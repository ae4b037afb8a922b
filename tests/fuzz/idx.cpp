// The dataset files (pol-task, pol-train): IDX, plain or gzip-compressed (read_idx).
#include "fuzz.hpp"
#include "io/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return pwfuzz::answer([&] { (void)pw::parse_idx_file(pwfuzz::bytes(data, size), "fuzz"); });
}
