#include "plot/render.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <vector>

#include "core/error.hpp"
#include "io/file.hpp"

namespace pw::plot {

namespace {

const char* kRenderer = "rsvg-convert";

// A temporary file under $TMPDIR, removed when this goes out of scope.
struct TempFile {
  std::string path;
  explicit TempFile(const char* suffix) {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/pol-plot-XXXXXX" + suffix;
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    const int fd = mkstemps(buf.data(), int(std::string(suffix).size()));
    if (fd < 0) internal_error("cannot create a temporary file in '" + tmpl + "': " + errstr());
    ::close(fd);
    path = buf.data();
  }
  ~TempFile() { ::unlink(path.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
};

void write_whole(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) internal_error("cannot write '" + path + "': " + errstr());
  write_all(fd, bytes.data(), bytes.size(), "'" + path + "'");
  if (::close(fd) != 0) internal_error("cannot write '" + path + "': " + errstr());
}

// Runs argv[0] found on PATH and waits; the exec's own failure comes back through a
// close-on-exec pipe, so "not installed" is told apart from "ran and failed".
void run_child(const std::vector<std::string>& args) {
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) internal_error("pipe: " + errstr());
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) internal_error("fork: " + errstr());
  if (pid == 0) {
    ::close(report[0]);
    ::execvp(argv[0], argv.data());
    const int e = errno;
    (void)!::write(report[1], &e, sizeof e);
    ::_exit(127);
  }
  ::close(report[1]);
  int exec_errno = 0;
  ssize_t n;
  do n = ::read(report[0], &exec_errno, sizeof exec_errno);
  while (n < 0 && errno == EINTR);
  ::close(report[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) internal_error("waitpid: " + errstr());
  if (n == ssize_t(sizeof exec_errno)) {
    errno = exec_errno;
    internal_error(std::string("cannot run ") + kRenderer + ": " + errstr() +
                   (exec_errno == ENOENT ? " (install librsvg2-bin: 'make deps'; or write an .svg)" : ""));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    internal_error(std::string(kRenderer) + " failed (" +
                   (WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                      : "signal " + std::to_string(WTERMSIG(status))) +
                   ")");
}

}  // namespace

ImageFormat image_format_of(const std::string& out) {
  auto ends = [&](const char* e) {
    const std::string s = e;
    return out.size() > s.size() && out.compare(out.size() - s.size(), s.size(), s) == 0;
  };
  if (out == "-" || ends(".svg")) return ImageFormat::Svg;
  if (ends(".png")) return ImageFormat::Png;
  usage_error("-o '" + out + "': the output's name must end in .svg or .png ('-': SVG on stdout)");
}

std::string render_png(const std::string& svg) {
  TempFile in(".svg"), out(".png");
  write_whole(in.path, svg);
  run_child({kRenderer, "--format", "png", "--output", out.path, in.path});
  std::ifstream f(out.path, std::ios::binary);
  std::string png((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  unsigned w, h;
  if (!f.good() && !f.eof()) internal_error(std::string("cannot read what ") + kRenderer + " wrote");
  if (!png_size(png, w, h)) internal_error(std::string(kRenderer) + " wrote no PNG");
  return png;
}

bool png_size(const std::string& png, unsigned& width, unsigned& height) {
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (png.size() < 24 || png.compare(0, 8, std::string(reinterpret_cast<const char*>(sig), 8)) != 0 ||
      png.compare(12, 4, "IHDR") != 0)
    return false;
  auto be32 = [&](size_t at) {
    return (unsigned(uint8_t(png[at])) << 24) | (unsigned(uint8_t(png[at + 1])) << 16) |
           (unsigned(uint8_t(png[at + 2])) << 8) | unsigned(uint8_t(png[at + 3]));
  };
  width = be32(16), height = be32(20);
  return true;
}

void write_image(const std::string& out, const std::string& svg, ImageFormat format) {
  if (format == ImageFormat::Svg) {
    write_file_atomic(out, svg.data(), svg.size(), true);
    return;
  }
  const std::string png = render_png(svg);
  write_file_atomic(out, png.data(), png.size());
}

}  // namespace pw::plot
