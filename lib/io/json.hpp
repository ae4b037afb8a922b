// JSON text written by hand, for the few outputs that are not Cap'n Proto messages
// (the safetensors header, sched-tsp --json): one string quoting for all of them.
#pragma once
#include <string>
#include <string_view>

namespace pw {

// `s` as a JSON string literal, quotes included: '"' and '\' escaped, newline as \n,
// other control characters as \u00XX; other bytes (UTF-8 included) as they are.
std::string json_string(std::string_view s);

}  // namespace pw
