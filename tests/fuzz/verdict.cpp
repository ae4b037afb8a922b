// read_verdict (ledger-settle verdict, pol-plot), then what the ledger takes from it
// (read_verdict_summary) and its detection line (pol-plot).
#include "fuzz.hpp"
#include "verify/verdict.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > pw::kSmallFileLimit) return 0;
  return pwfuzz::answer([&] {
    const auto msg = pw::parse_verdict(pwfuzz::bytes(data, size), "fuzz");
    pw::guard_input("fuzz", [&] {
      const auto v = msg.root();
      (void)pw::hash_field(v.getTaskHash());
      (void)pw::hash_field(v.getProofRoot());
      (void)pw::canonical_hash(v);
      (void)pw::detection_line(pw::read_detection(v.getDetection()));
    });
  });
}
