// sched-partition --improve and --schedule: a partition file (read_partition_file).
#include "fuzz.hpp"
#include "io/message.hpp"
#include "sched/schedule.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > pw::kSmallFileLimit * 4) return 0;
  return pwfuzz::answer([&] { (void)pw::sched::parse_partition_file(pwfuzz::bytes(data, size), "fuzz"); });
}
