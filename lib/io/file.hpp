// Whole-file reads with an explicit size limit, atomic writes (DESIGN §6: never
// half-written), and path checks for names found inside untrusted files.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pw {

using Bytes = std::vector<uint8_t>;

// Reads `path` ("-" is stdin) whole. Fails with bad input (exit 3) if it cannot be
// read or exceeds `limit` bytes; `what` names the file in messages.
Bytes read_file(const std::string& path, size_t limit, const std::string& what);

// Writes to `path.tmp.PID`, fsyncs, renames over `path` and fsyncs the directory.
// "-" writes to stdout, refusing a terminal unless `text`.
void write_file_atomic(const std::string& path, const void* p, size_t n, bool text = false);
inline void write_file_atomic(const std::string& path, const Bytes& b, bool text = false) {
  write_file_atomic(path, b.data(), b.size(), text);
}

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
