// Who wrote a file (samtools' @PG line): the running program, its version and its
// command line, from core/program.hpp. Every writer fills provenance through here
// (proofwork-files(5), ENCODING).
#pragma once
#include <string>

#include "schema/proofwork.capnp.h"

namespace pw {

void set_provenance(schema::Provenance::Builder b);
// "pol-task 0.1.0: pol-task --model ... -o task.pwt", for files that keep one line.
std::string provenance_line();

}  // namespace pw
