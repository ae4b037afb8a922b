// aqsgd-pack --state: an existing state file opened (header, sizes, slot tags), then
// one batch planned and committed on it, as the next pack would.
#include <fcntl.h>

#include <vector>

#include "aqsgd/state.hpp"
#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string dir = pwfuzz::scratch_dir();
  const std::string path = dir + "/state.aqs";
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || (size && write(fd, data, size) != ssize_t(size))) std::abort();
  close(fd);
  return pwfuzz::answer([&] {
    pw::aqsgd::State st(dir, pw::aqsgd::StateParams{}, false, false);
    const std::vector<uint64_t> ids = {1, 2, 7};
    if (st.params().capacity < ids.size()) return;
    const auto rows = st.plan(ids.data(), ids.size());
    for (const auto& r : rows)
      for (uint32_t c = 0; c < st.params().cols; c++) r.next[c] = r.cur ? r.cur[c] + 1 : 0;
    st.commit();
    (void)st.find(7);
  });
}
