#include "io/file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include "core/error.hpp"

namespace pw {

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

namespace {

const char* file_type_name(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a named pipe";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

}  // namespace

int open_regular(const std::string& path, const std::string& what, int flags) {
  const std::string name = what + " '" + path + "'";
  // Looked at before it is opened: opening a named pipe for reading waits for a writer,
  // and a device may answer without end (proofwork(7), UNTRUSTED INPUT).
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) bad_input(name + ": " + errstr());
  if (!S_ISREG(st.st_mode)) bad_input(name + ": " + file_type_name(st.st_mode) + ", not a regular file");
  // Opened without blocking, and looked at again: the name may have been replaced since.
  const int fd = ::open(path.c_str(), flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) bad_input(name + ": " + errstr());
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    bad_input(name + ": not a regular file");
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

namespace {

// read_file, and with `expect` set, read_file_sized.
Bytes read_whole(const std::string& path, std::optional<uint64_t> expect, size_t limit, const std::string& what) {
  // "-" is stdin, whatever the caller made it (a pipe included); any other name must
  // be a regular file.
  const int fd = path == "-" ? 0 : open_regular(path, what);
  const auto fail = [&](const std::string& why) {
    if (fd) ::close(fd);
    bad_input(what + " '" + path + "': " + why);
  };
  struct stat st;
  if (fstat(fd, &st) != 0) fail(errstr());
  if (S_ISDIR(st.st_mode)) fail("is a directory");
  Bytes out;
  if (S_ISREG(st.st_mode)) {
    // Sizes are checked before a byte is read.
    if (expect && uint64_t(st.st_size) != *expect)
      fail(std::to_string(st.st_size) + " bytes, the manifest says " + std::to_string(*expect) + " (truncated or damaged)");
    if (size_t(st.st_size) > limit)
      fail(std::to_string(st.st_size) + " bytes, over the limit of " + std::to_string(limit));
    out.reserve(size_t(st.st_size));
  }
  if (expect && *expect < limit) limit = size_t(*expect);  // a file that grows meanwhile
  uint8_t buf[1 << 16];
  for (;;) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      fail(errstr());
    }
    if (r == 0) break;
    if (out.size() + size_t(r) > limit) fail("over the limit of " + std::to_string(limit) + " bytes");
    out.insert(out.end(), buf, buf + r);
  }
  if (expect && out.size() != *expect)  // shrunk while it was read
    fail(std::to_string(out.size()) + " bytes, the manifest says " + std::to_string(*expect) + " (truncated or damaged)");
  if (fd) ::close(fd);
  return out;
}

}  // namespace

Bytes read_file(const std::string& path, size_t limit, const std::string& what) {
  return read_whole(path, std::nullopt, limit, what);
}

Bytes read_file_sized(const std::string& path, uint64_t bytes, size_t limit, const std::string& what) {
  return read_whole(path, bytes, limit, what);
}

namespace {

// rename(2) that refuses an existing destination atomically (false when it exists):
// renameat2's RENAME_NOREPLACE where the file system has it, else link(2) and unlink.
bool rename_noreplace(const std::string& from, const std::string& to) {
#ifdef RENAME_NOREPLACE
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return true;
  if (errno == EEXIST) return false;
  if (errno != EINVAL && errno != ENOSYS) internal_error("rename '" + from + "' to '" + to + "': " + errstr());
#endif
  if (::link(from.c_str(), to.c_str()) != 0) {
    if (errno == EEXIST) return false;
    internal_error("link '" + from + "' to '" + to + "': " + errstr());
  }
  ::unlink(from.c_str());
  return true;
}

}  // namespace

AtomicFile::AtomicFile(std::string path, bool terminal_ok, unsigned mode) : path_(std::move(path)) {
  if (path_ == "-") {
    if (!terminal_ok && isatty(1)) usage_error("refusing to write binary output to a terminal (use -o FILE or --json)");
    return;
  }
  // Created anew (O_EXCL) so that the mode is ours: a stale temporary of a crashed
  // process with this pid is removed first, never reused with its old permissions.
  tmp_ = path_ + ".tmp." + std::to_string(getpid());
  ::unlink(tmp_.c_str());
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(mode));
  if (fd_ < 0) internal_error("cannot create '" + tmp_ + "': " + errstr());
}

AtomicFile::~AtomicFile() {
  if (tmp_.empty() || done_) return;
  if (fd_ >= 0) ::close(fd_);
  ::unlink(tmp_.c_str());
}

void AtomicFile::write(const void* p, size_t n) {
  write_all(fd_, p, n, tmp_.empty() ? std::string("stdout") : "writing '" + tmp_ + "'");
  bytes_ += n;
}

bool AtomicFile::commit(bool replace) {
  if (tmp_.empty()) return true;  // stdout
  if (done_) internal_error("'" + path_ + "' committed twice");
  const int fd = fd_;
  fd_ = -1;
  if (fsync(fd) != 0) {
    const std::string e = errstr();
    ::close(fd);
    internal_error("fsync '" + tmp_ + "': " + e);
  }
  if (::close(fd) != 0) internal_error("close '" + tmp_ + "': " + errstr());
  if (replace) {
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) internal_error("rename '" + tmp_ + "' to '" + path_ + "': " + errstr());
  } else if (!rename_noreplace(tmp_, path_)) {
    return false;  // PATH exists; the destructor removes the temporary
  }
  done_ = true;
  // The rename is durable once the directory's entry is.
  const std::string dir = path_.find('/') == std::string::npos ? "." : path_.substr(0, path_.rfind('/') + 1);
  // A directory that cannot be opened for reading (mode -wx), or a file system that
  // does not sync directories (EINVAL), has nothing more to offer; an I/O error fails.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return true;
  const bool synced = fsync(dfd) == 0 || errno == EINVAL || errno == EROFS || errno == ENOTSUP;
  const std::string e = errstr();
  ::close(dfd);
  if (!synced) internal_error("fsync directory '" + dir + "': " + e);
  return true;
}

void write_file_atomic(const std::string& path, const void* p, size_t n, bool text) {
  AtomicFile f(path, text);
  f.write(p, n);
  f.commit();
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

int64_t temporary_owner(const std::string& name) {
  const size_t at = name.rfind(".tmp.");
  if (at == std::string::npos || at == 0) return -1;
  const std::string digits = name.substr(at + 5);
  if (digits.empty() || digits.size() > 9) return -1;  // a pid is below 2^22 on Linux
  int64_t pid = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return -1;
    pid = pid * 10 + (c - '0');
  }
  return pid > 0 ? pid : -1;
}

size_t remove_stale_temporaries(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) return 0;
  size_t removed = 0;
  while (dirent* e = readdir(d)) {
    const std::string n = e->d_name;
    const int64_t pid = temporary_owner(n);
    if (pid < 0 || pid == int64_t(getpid())) continue;
    // kill(pid, 0) fails with ESRCH only when no process has that pid; EPERM means one
    // does (another user's), so its file stays.
    if (::kill(pid_t(pid), 0) == 0 || errno != ESRCH) continue;
    struct stat st;
    const std::string path = join_path(dir, n);
    if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::unlink(path.c_str()) == 0) removed++;
  }
  closedir(d);
  return removed;
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
