// pol-bisect play --transcript: the other side's answers (read_side), as side a and b,
// against the fixture task.
#include "bisect/play.hpp"
#include "fuzz.hpp"
#include "proof/task_file.hpp"
#include "schema/proofwork.capnp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const pw::LoadedTask task = pw::load_task(pwfuzz::fixture("task.pwt"));
  if (size > pw::kTensorFileLimit) return 0;
  for (bool side_a : {true, false})
    pwfuzz::answer([&] {
      auto msg = pw::Message<pw::schema::Dispute>::parse(pwfuzz::bytes(data, size), "fuzz");
      (void)pw::guard_input("fuzz", [&] { return pw::read_side(msg.root(), task, side_a, "fuzz"); });
    });
  return 0;
}
