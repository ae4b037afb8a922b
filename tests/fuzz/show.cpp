// pol-show: every Cap'n Proto file kind (io/file_types.hpp), each input read as each
// kind: JSON to binary, binary to JSON. This is the JSON reader of every kind, and the
// only reader of the kinds no program reads back (schedule, settlement).
#include "fuzz.hpp"
#include "io/file_types.hpp"
#include "io/message.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > pw::kTensorFileLimit) return 0;
  const bool json = pw::looks_like_json(pwfuzz::bytes(data, size));
  for (const pw::FileType& t : pw::file_types())
    if (t.reencode) pwfuzz::answer([&] { (void)t.reencode(pwfuzz::bytes(data, size), json, "fuzz"); });
  return 0;
}
