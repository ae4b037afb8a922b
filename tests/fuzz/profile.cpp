// pol-verify --profile, pol-show: load_profile, profile_summary.
#include "fuzz.hpp"
#include "verify/profile.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > pw::kSmallFileLimit) return 0;
  return pwfuzz::answer([&] {
    const pw::LoadedProfile p = pw::parse_profile(pwfuzz::bytes(data, size), "fuzz");
    (void)pw::profile_summary(p.msg.root());
  });
}
