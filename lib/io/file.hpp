// Whole-file reads with an explicit size limit, atomic writes (never half-written:
// proofwork(7), UNTRUSTED INPUT), and path checks for names found inside untrusted files.
#pragma once
#include <fcntl.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pw {

using Bytes = std::vector<uint8_t>;

// Reads `path` ("-" is stdin) whole. Fails with bad input (exit 3) if it cannot be
// read or exceeds `limit` bytes; `what` names the file in messages.
// Any name but "-" must be a regular file: a named pipe, a device, a socket or a
// directory is refused (exit 3) before it is opened for a blocking read, and the size
// is checked against `limit` before a byte is read.
Bytes read_file(const std::string& path, size_t limit, const std::string& what);
// read_file of a file whose size a manifest commits to: any other size is bad input,
// found before reading (proofwork-files(5), PROOF DIRECTORY).
Bytes read_file_sized(const std::string& path, uint64_t bytes, size_t limit, const std::string& what);

// Opens `path` with `flags` (O_RDONLY, O_RDWR, O_APPEND...) after checking that it is a
// regular file, without ever blocking on a named pipe; anything else, or a name that
// cannot be opened, is bad input (exit 3) naming `what`. The descriptor is blocking.
int open_regular(const std::string& path, const std::string& what, int flags = O_RDONLY);

// A file that appears whole or not at all: bytes go to `PATH.tmp.PID` (created anew,
// with `mode`); commit() fsyncs it, renames it over PATH and fsyncs the directory, so
// after a crash PATH holds the old or the new content, never a mix. Destroyed before
// commit() (an error, an exception), the temporary is removed; one left by a crash is
// a `*.tmp.*` name that the programs which resume clean up. "-" is stdout (commit()
// has nothing to rename), refused when it is a terminal unless `terminal_ok`.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path, bool terminal_ok = false, unsigned mode = 0644);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* p, size_t n);
  // The open descriptor, for writers that size or fill the file themselves
  // (ftruncate, capnp::writeMessageToFd); what they write is committed the same way.
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  uint64_t bytes_written() const { return bytes_; }
  // Renames over PATH (replacing it). With `replace` false, PATH must not exist yet:
  // returns false, leaving it alone, when it does (tested atomically by the rename).
  bool commit(bool replace = true);

 private:
  std::string path_, tmp_;
  int fd_ = 1;
  bool done_ = false;
  uint64_t bytes_ = 0;
};

// write(2) until all `n` bytes are written (EINTR retried); fails with an internal
// error (exit 4) naming `what`.
void write_all(int fd, const void* p, size_t n, const std::string& what);

// One AtomicFile, written and committed. "-" writes to stdout, refusing a terminal
// unless `text`.
void write_file_atomic(const std::string& path, const void* p, size_t n, bool text = false);
inline void write_file_atomic(const std::string& path, const Bytes& b, bool text = false) {
  write_file_atomic(path, b.data(), b.size(), text);
}

// The pid in an AtomicFile temporary's name "NAME.tmp.PID", or -1 for any other name.
int64_t temporary_owner(const std::string& name);
// Removes from `dir` the temporaries (regular files "NAME.tmp.PID") of writers that no
// longer run: a process killed before commit() leaves one. A file whose pid is alive
// (this process, or any other, even a stranger that reused the pid) stays. Returns how
// many were removed. Programs that resume a directory call it first
// (proofwork-files(5), ENCODING).
size_t remove_stale_temporaries(const std::string& dir);

// gzip-compressed bytes (magic 1f 8b) are inflated, anything else returned as is.
// The inflated size is capped at `limit`.
Bytes maybe_gunzip(Bytes in, size_t limit, const std::string& what);

// A name found inside a proof: one path component, no '/', no "..", no leading '.',
// printable ASCII only.
bool is_safe_name(const std::string& name);

bool file_exists(const std::string& path);
bool is_directory(const std::string& path);
void make_directory(const std::string& path);  // like mkdir -p for one level; ok if it exists
std::string join_path(const std::string& dir, const std::string& name);
std::string base_name(const std::string& path);

}  // namespace pw
