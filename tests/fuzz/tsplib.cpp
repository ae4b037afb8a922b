// sched-tsp --tsplib: a TSPLIB95 instance (read_tsplib).
#include "fuzz.hpp"
#include "sched/tsplib.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > pw::sched::kTsplibFileLimit) return 0;
  return pwfuzz::answer([&] { (void)pw::sched::parse_tsplib(std::string(data, data + size), "fuzz"); });
}
