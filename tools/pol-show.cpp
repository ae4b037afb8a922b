// pol-show: print any proofwork file as JSON, or write a JSON file back as binary.
// The file types, their extensions and their structs: io/file_types.hpp.
#include "cli/cli.hpp"
#include "core/error.hpp"
#include "io/file_types.hpp"
#include "io/message.hpp"

using namespace pw;

int main(int argc, char** argv) {
  std::vector<std::string> names;
  std::string listed;  // "task .pwt, manifest .pwm, ..."
  for (const FileType& t : file_types()) {
    if (!t.reencode) continue;
    names.push_back(t.name);
    listed += std::string(listed.empty() ? "" : ", ") + t.name + (*t.extension ? std::string(" ") + t.extension : "");
  }
  CLI::App app{"Print a proofwork file (" + listed + ") as JSON, or with --binary turn its JSON form back into the "
               "binary form. The type comes from --type or the file's extension.",
               "pol-show"};
  CommonOptions common;
  std::string in, out = "-", type;
  bool binary = false;
  app.add_option("FILE", in, "Input file, binary or JSON ('-': stdin)")->required();
  app.add_option("-t,--type", type, "The file's type (default: from its extension)")->check(CLI::IsMember(names));
  app.add_flag("--binary", binary, "Write the binary form instead of JSON");
  app.add_option("-o,--output", out, "Output file ('-': stdout)");
  add_common_options(app, common, kOptQuiet | kOptForce);
  return run_tool("pol-show", argc, argv, app, [&]() -> int {
    check_output_path(out, {in}, common.force);
    const FileType* t = type.empty() ? file_type_of_path(in) : file_type_named(type);
    if (!t) usage_error("cannot tell the type of '" + in + "' from its name; pass --type");
    Bytes bytes = t->reencode(read_file(in, kTensorFileLimit, "input"), binary, "input '" + in + "'");
    write_file_atomic(out, bytes, !binary);
    return kExitOk;
  });
}
