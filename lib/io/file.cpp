#include "io/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include "core/error.hpp"

namespace pw {

namespace {

void write_all(int fd, const void* p, size_t n, const std::string& what) {
  const uint8_t* b = static_cast<const uint8_t*>(p);
  while (n > 0) {
    ssize_t w = ::write(fd, b, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      internal_error(what + ": " + errstr());
    }
    b += w;
    n -= size_t(w);
  }
}
}  // namespace

Bytes read_file(const std::string& path, size_t limit, const std::string& what) {
  int fd = path == "-" ? 0 : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) bad_input(what + " '" + path + "': " + errstr());
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    if (fd) ::close(fd);
    bad_input(what + " '" + path + "': is a directory");
  }
  Bytes out;
  if (S_ISREG(st.st_mode)) {
    if (size_t(st.st_size) > limit) {
      if (fd) ::close(fd);
      bad_input(what + " '" + path + "': " + std::to_string(st.st_size) + " bytes, over the limit of " +
                std::to_string(limit));
    }
    out.reserve(size_t(st.st_size));
  }
  uint8_t buf[1 << 16];
  for (;;) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      std::string e = errstr();
      if (fd) ::close(fd);
      bad_input(what + " '" + path + "': " + e);
    }
    if (r == 0) break;
    if (out.size() + size_t(r) > limit) {
      if (fd) ::close(fd);
      bad_input(what + " '" + path + "': over the limit of " + std::to_string(limit) + " bytes");
    }
    out.insert(out.end(), buf, buf + r);
  }
  if (fd) ::close(fd);
  return out;
}

void write_file_atomic(const std::string& path, const void* p, size_t n, bool text) {
  if (path == "-") {
    if (!text && isatty(1)) usage_error("refusing to write binary output to a terminal (use -o FILE or --json)");
    write_all(1, p, n, "stdout");
    return;
  }
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) internal_error("cannot create '" + tmp + "': " + errstr());
  try {
    write_all(fd, p, n, tmp);
    if (fsync(fd) != 0) internal_error("fsync '" + tmp + "': " + errstr());
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    internal_error("close '" + tmp + "': " + errstr());
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string e = errstr();
    ::unlink(tmp.c_str());
    internal_error("rename '" + tmp + "' to '" + path + "': " + e);
  }
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/') + 1);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    ::close(dfd);
  }
}

Bytes maybe_gunzip(Bytes in, size_t limit, const std::string& what) {
  if (in.size() < 2 || in[0] != 0x1f || in[1] != 0x8b) return in;
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) internal_error("zlib inflateInit2 failed");
  Bytes out;
  uint8_t buf[1 << 16];
  zs.next_in = in.data();
  zs.avail_in = uInt(in.size());
  int rc;
  do {
    zs.next_out = buf;
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      bad_input(what + ": corrupt gzip data" + (zs.msg ? std::string(" (") + zs.msg + ")" : std::string()));
    }
    size_t got = sizeof buf - zs.avail_out;
    if (out.size() + got > limit) {
      inflateEnd(&zs);
      bad_input(what + ": inflates to over " + std::to_string(limit) + " bytes");
    }
    out.insert(out.end(), buf, buf + got);
    if (rc != Z_STREAM_END && zs.avail_in == 0 && got == 0) {
      inflateEnd(&zs);
      bad_input(what + ": truncated gzip data");
    }
  } while (rc != Z_STREAM_END);
  inflateEnd(&zs);
  return out;
}

bool is_safe_name(const std::string& name) {
  if (name.empty() || name.size() > 255 || name[0] == '.') return false;
  for (char c : name)
    if (c == '/' || c == '\\' || c < 0x21 || c > 0x7e) return false;
  return true;
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void make_directory(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) internal_error("mkdir '" + path + "': " + errstr());
  if (!is_directory(path)) usage_error("'" + path + "' exists and is not a directory");
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

std::string base_name(const std::string& path) {
  size_t s = path.rfind('/');
  return s == std::string::npos ? path : path.substr(s + 1);
}

}  // namespace pw
