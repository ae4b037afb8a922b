// ledger-settle append: an event file (record_from_file), then its signature.
#include "fuzz.hpp"
#include "ledger/ledger.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1 << 20)) return 0;  // read_event_file's limit
  return pwfuzz::answer([&] {
    const pw::ledger::Record r = pw::ledger::record_from_file(pwfuzz::bytes(data, size), "fuzz");
    (void)pw::ledger::verify_record(r);
  });
}
