// sched-partition, sched-tsp: a topology file (read_topology_file).
#include "fuzz.hpp"
#include "io/message.hpp"
#include "sched/topology.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > pw::kSmallFileLimit * 4) return 0;
  return pwfuzz::answer([&] { (void)pw::sched::parse_topology_file(pwfuzz::bytes(data, size), "fuzz", pw::sched::WorkloadOverrides{}); });
}
