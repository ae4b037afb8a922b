// pol-bisect replay and ledger-settle challenge: the referee's recomputation of the
// dispute's one op (referee_dispute), and the dispute as pol-bisect prints it.
#include "bisect/dispute.hpp"
#include "fuzz.hpp"
#include "schema/proofwork.capnp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > pw::kTensorFileLimit) return 0;
  return pwfuzz::answer([&] {
    auto msg = pw::Message<pw::schema::Dispute>::parse(pwfuzz::bytes(data, size), "fuzz");
    pw::guard_input("fuzz", [&] {
      (void)pw::dispute_text(msg.root());
      (void)pw::referee_dispute(msg.root(), "fuzz", "");
    });
  });
}
