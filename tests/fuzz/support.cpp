// The fuzz targets' shared helpers (fuzz.hpp).
#include <filesystem>
#include <vector>

#include "fuzz.hpp"

namespace pwfuzz {

std::string scratch_dir() {
  static const std::string dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/pw-fuzz-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) {
      std::perror("fuzz: mkdtemp");
      std::abort();
    }
    static std::string made = buf.data();
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(made, ec);
    });
    return made;
  }();
  return dir;
}

std::string fixture(const std::string& name) { return std::string(PW_FUZZ_DATA) + "/" + name; }

}  // namespace pwfuzz
