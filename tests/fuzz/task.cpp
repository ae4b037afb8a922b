// pol-train, pol-verify, pol-show...: load_task; pol-task --from: task_fields.
#include "fuzz.hpp"
#include "proof/task_file.hpp"
#include "train/trainer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > pw::kSmallFileLimit) return 0;
  return pwfuzz::answer([&] {
    const pw::LoadedTask t = pw::parse_task(pwfuzz::bytes(data, size), "fuzz");
    (void)pw::tape_for(t.cfg);
    (void)pw::guard_input("fuzz", [&] { return pw::task_fields(t.msg.root()); });
  });
}
