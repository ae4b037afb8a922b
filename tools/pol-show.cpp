// pol-show: print any proofwork file as JSON, or write a JSON file back as binary.
#include "cli/cli.hpp"
#include "core/error.hpp"
#include "io/message.hpp"
#include "schema/proofwork.capnp.h"

using namespace pw;

namespace {

template <typename T>
int convert(const std::string& in, const std::string& out, bool binary) {
  auto msg = Message<T>::read(in, kTensorFileLimit, "input");
  const char* type = capnp::Schema::from<T>().getShortDisplayName().cStr();
  Bytes bytes;
  try {  // a file of another type read as this one fails here: bad input, not an internal error
    capnp::MallocMessageBuilder mb;
    mb.setRoot(msg.root());
    bytes = binary ? to_binary(mb) : to_json(mb.getRoot<T>().asReader());
  } catch (const kj::Exception& e) {
    bad_input("'" + in + "' is not a valid " + type + " (" + e.getDescription().cStr() + ")");
  }
  write_file_atomic(out, bytes, !binary);
  return kExitOk;
}

std::string type_from_name(const std::string& path) {
  auto ends = [&](const char* s) {
    const std::string e = s;
    return path.size() >= e.size() && path.compare(path.size() - e.size(), e.size(), e) == 0;
  };
  if (ends(".pwt")) return "task";
  if (ends(".pwm")) return "manifest";
  if (ends(".pwc")) return "checkpoint";
  if (ends(".pwv")) return "verdict";
  if (ends(".pwd")) return "dispute";
  if (ends(".pwp")) return "profile";
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Print a proofwork file (task .pwt, manifest .pwm, checkpoint .pwc, verdict .pwv, dispute .pwd, profile .pwp) as JSON, or with "
               "--binary turn its JSON form back into the binary form. The type comes from --type or the file's "
               "extension.",
               "pol-show"};
  CommonOptions common;
  std::string in, out = "-", type;
  bool binary = false;
  app.add_option("FILE", in, "Input file, binary or JSON ('-': stdin)")->required();
  app.add_option("-t,--type", type, "task, manifest, checkpoint, verdict, dispute or profile")
      ->check(CLI::IsMember({"task", "manifest", "checkpoint", "verdict", "dispute", "profile"}));
  app.add_flag("--binary", binary, "Write the binary form instead of JSON");
  app.add_option("-o,--output", out, "Output file ('-': stdout)");
  add_common_options(app, common, kOptQuiet | kOptForce);
  return run_tool("pol-show", argc, argv, app, [&]() -> int {
    check_output_path(out, {in}, common.force);
    if (type.empty()) type = type_from_name(in);
    if (type.empty()) usage_error("cannot tell the type of '" + in + "' from its name; pass --type");
    if (type == "task") return convert<schema::Task>(in, out, binary);
    if (type == "manifest") return convert<schema::Manifest>(in, out, binary);
    if (type == "checkpoint") return convert<schema::Checkpoint>(in, out, binary);
    if (type == "verdict") return convert<schema::Verdict>(in, out, binary);
    if (type == "profile") return convert<schema::Profile>(in, out, binary);
    return convert<schema::Dispute>(in, out, binary);
  });
}
