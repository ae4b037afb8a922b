#include "io/provenance.hpp"

#include "core/program.hpp"

namespace pw {

void set_provenance(schema::Provenance::Builder b) {
  b.setProgram(program_name());
  b.setVersion(version());
  b.setCommandLine(command_line());
}

std::string provenance_line() { return std::string(program_name()) + " " + version() + ": " + command_line(); }

}  // namespace pw
