// ledger-settle validate (and every command, before it appends): the whole log, framed,
// decoded, signatures checked, rules applied in order. A dispute the rules would ask
// the referee about is refused here (no disputes directory): the dispute target fuzzes
// the referee.
#include "fuzz.hpp"
#include "ledger/ledger.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const pw::ledger::DisputeOracle none = [](const pw::Hash&, const pw::Hash&, const pw::Hash&) -> pw::ledger::DisputeRuling {
    pw::bad_input("fuzz: no disputes directory");
  };
  return pwfuzz::answer([&] { (void)pw::ledger::validate_log_bytes(data, size, "fuzz", none); });
}
