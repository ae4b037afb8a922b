// read_checkpoint for the fixture task's model, with a manifest entry that matches the
// input's size and file hash (what a forger controls), so decoding goes on past them.
#include "fuzz.hpp"
#include "io/hash.hpp"
#include "proof/proof.hpp"
#include "proof/task_file.hpp"
#include "train/trainer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const pw::LoadedTask task = pw::load_task(pwfuzz::fixture("task.pwt"));
  static const pw::Tape tape = pw::tape_for(task.cfg);
  if (size > pw::kTensorFileLimit) return 0;
  pw::CheckpointInfo expect;
  expect.step = 10;  // the seeds' step
  expect.file = "fuzz";
  expect.bytes = size;
  expect.file_hash = pw::blake2b(data, size);
  return pwfuzz::answer([&] {
    pw::Workspace ws(tape);
    pw::parse_checkpoint(pwfuzz::bytes(data, size), "fuzz", expect, tape, task.hash, ws);
  });
}
