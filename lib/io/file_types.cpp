#include "io/file_types.hpp"

#include "io/message.hpp"
#include "schema/aqsgd.capnp.h"
#include "schema/ledger.capnp.h"
#include "schema/proofwork.capnp.h"
#include "schema/sched.capnp.h"

namespace pw {

namespace {

template <typename T>
Bytes reencode(Bytes in, bool binary, const std::string& what) {
  auto msg = Message<T>::parse(std::move(in), what);
  try {  // a file of another type read as this one fails here: bad input, not an internal error
    capnp::MallocMessageBuilder mb;
    mb.setRoot(msg.root());
    return message_bytes<T>(mb, !binary);
  } catch (const kj::Exception& e) {
    bad_input(what + ": not a valid " + capnp::Schema::from<T>().getShortDisplayName().cStr() + " (" +
              e.getDescription().cStr() + ")");
  }
}

template <typename T>
FileType row(const char* name, FileKind kind, const char* extension, bool stream = false) {
  return {name, kind, extension, capnp::Schema::from<T>(), stream ? nullptr : &reencode<T>};
}

}  // namespace

const std::vector<FileType>& file_types() {
  static const std::vector<FileType> types = {
      row<schema::Task>("task", FileKind::Task, ".pwt"),
      row<schema::Manifest>("manifest", FileKind::Manifest, ".pwm"),
      row<schema::Checkpoint>("checkpoint", FileKind::Checkpoint, ".pwc"),
      row<schema::Profile>("profile", FileKind::Profile, ".pwp"),
      row<schema::Verdict>("verdict", FileKind::Verdict, ".pwv"),
      row<schema::Dispute>("dispute", FileKind::Dispute, ".pwd"),
      row<sched::schema::Topology>("topology", FileKind::Topology, ""),
      row<sched::schema::Partition>("partition", FileKind::Partition, ".pwg"),
      row<sched::schema::Schedule>("schedule", FileKind::Schedule, ".pws"),
      row<schema::LedgerRecord>("event", FileKind::Ledger, ""),
      row<schema::LedgerSettlement>("settlement", FileKind::Ledger, ""),
      row<schema::AqsgdRecord>("aqsgd", FileKind::AqsgdStream, "", true),
  };
  return types;
}

const FileType* file_type_named(std::string_view name) {
  for (const FileType& t : file_types())
    if (name == t.name) return &t;
  return nullptr;
}

const FileType* file_type_of_path(std::string_view path) {
  for (const FileType& t : file_types()) {
    const std::string_view e = t.extension;
    if (!e.empty() && path.size() > e.size() && path.substr(path.size() - e.size()) == e) return &t;
  }
  return nullptr;
}

}  // namespace pw
