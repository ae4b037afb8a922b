#include "core/error.hpp"

#ifndef PW_VERSION
#define PW_VERSION "0.0.0"
#endif

const char* pw::version() { return PW_VERSION; }
