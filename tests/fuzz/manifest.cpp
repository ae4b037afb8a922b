// read_manifest with the largest batch-order bound a program passes (ledger-settle's);
// then the task-bound reading pol-verify and a resume do.
#include "fuzz.hpp"
#include "proof/proof.hpp"
#include "proof/task_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const pw::LoadedTask task = pw::load_task(pwfuzz::fixture("task.pwt"));
  if (size > pw::kTensorFileLimit) return 0;
  pwfuzz::answer([&] {
    const pw::Manifest m = pw::parse_manifest(pwfuzz::bytes(data, size), "fuzz", int64_t(1) << 28);
    (void)m.root();
  });
  return pwfuzz::answer([&] {
    (void)pw::parse_manifest(pwfuzz::bytes(data, size), "fuzz", int64_t(task.cfg.steps) * task.cfg.batch, &task.hash);
  });
}
