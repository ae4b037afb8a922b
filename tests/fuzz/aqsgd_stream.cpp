// aqsgd-pack --inspect and aqsgd-pack -d (into a scratch state, emptied after each
// input; the output goes to stdout, which is /dev/null here).
#include <fcntl.h>

#include <filesystem>

#include "aqsgd/stream.hpp"
#include "fuzz.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const int null = open("/dev/null", O_WRONLY);
  if (null < 0 || dup2(null, 1) < 0) std::abort();
  close(null);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = pwfuzz::memory_fd(data, size);
  pwfuzz::answer([&] { (void)pw::aqsgd::inspect_stream(fd, "fuzz", true); });
  lseek(fd, 0, SEEK_SET);
  const std::string state = pwfuzz::scratch_dir() + "/state";
  pwfuzz::answer([&] {
    pw::aqsgd::OutputFile out("-");
    (void)pw::aqsgd::unpack_stream(fd, "fuzz", out, state, false);
    out.finish();
  });
  std::error_code ec;
  std::filesystem::remove_all(state, ec);
  close(fd);
  return 0;
}
