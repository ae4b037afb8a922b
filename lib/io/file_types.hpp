// Every file type a proofwork program writes as Cap'n Proto, one row each: its kind
// (io/version.hpp), the name pol-show's --type takes, its extension and its root struct
// (proofwork-files(5)). Every FileKind has at least one row (a unit test holds it to
// that), so a kind added to FileKind and left out here fails the tests, not a user.
#pragma once
#include <capnp/schema.h>

#include <string>
#include <string_view>
#include <vector>

#include "io/file.hpp"
#include "io/version.hpp"

namespace pw {

struct FileType {
  const char* name;        // "task": pol-show --type
  FileKind kind;
  const char* extension;   // ".pwt"; "" for a type named only by --type
  capnp::StructSchema root;
  // One message (binary or JSON) to the other form of the same content; null for a
  // stream of messages (the AQ-SGD streams: aqsgd-pack --inspect prints those).
  Bytes (*reencode)(Bytes in, bool to_binary, const std::string& what);
};

const std::vector<FileType>& file_types();
const FileType* file_type_named(std::string_view name);     // nullptr if none
const FileType* file_type_of_path(std::string_view path);   // by extension; nullptr if none

}  // namespace pw
