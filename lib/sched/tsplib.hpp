// TSPLIB95 reader (Reinelt 1991, "TSPLIB 95" documentation) and the `sched-tsp --tsplib`
// mode: read an instance, solve it, print `length L` then one TSPLIB node id a line.
//
// Supported: TYPE TSP (symmetric); EDGE_WEIGHT_TYPE EUC_2D, CEIL_2D, ATT, GEO, MAN_2D,
// MAX_2D, and EXPLICIT with EDGE_WEIGHT_FORMAT FULL_MATRIX (must be symmetric), UPPER_ROW,
// LOWER_ROW, UPPER_DIAG_ROW, LOWER_DIAG_ROW and the four *_COL forms; header lines
// `KEY: value` and `KEY : value`, and text after the type as a comment
// (`TYPE: TSP (M.~Hofmeister)`); NODE_COORD_SECTION, EDGE_WEIGHT_SECTION,
// FIXED_EDGES_SECTION (edges every tour must use, as node id pairs ended by -1),
// DISPLAY_DATA_SECTION (read and ignored), EOF (optional).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "sched/tsp.hpp"

namespace pw::sched {

inline constexpr int kTsplibMaxDimension = 20000;         // coordinate instances
inline constexpr int kTsplibMaxExplicitDimension = 5000;  // EXPLICIT: an n×n matrix in memory
inline constexpr size_t kTsplibFileLimit = size_t(256) << 20;

struct TsplibInstance {
  std::string name, comment;
  std::string edge_weight_type;    // as written, upper case: EUC_2D, EXPLICIT, ...
  std::string edge_weight_format;  // EXPLICIT only
  int dimension = 0;
  bool explicit_weights = false;
  Coordinates coords;              // when !explicit_weights
  DistanceMatrix matrix;           // when explicit_weights
  std::vector<std::pair<int, int>> fixed_edges;  // 0-based; consistent (fixed_edges_problem)
  double distance(int i, int j) const {
    return explicit_weights ? matrix(i, j) : tsplib_distance(coords, i, j);
  }
};

// Parses the text of a .tsp file; `what` (the file name) prefixes error messages.
// Any violation is bad input (exit 3) naming the line.
TsplibInstance parse_tsplib(const std::string& text, const std::string& what);
TsplibInstance read_tsplib(const std::string& path);  // "-": stdin

struct TsplibRun {
  std::string name;
  int dimension = 0;
  bool closed = false;
  uint64_t seed = 1;
  TspResult result;  // tour in 0-based node indices; printed 1-based
  double seconds = 0;
};

// Reads, solves and checks (the tour is a permutation; its length is recomputed).
// kicks: TspOptions::kicks (-1: the default budget).
TsplibRun run_tsplib(const std::string& path, bool closed, uint64_t seed, double time_limit_s, int64_t kicks = -1);

// `length L` and one 1-based node id a line; or with json
// {"name":..,"dimension":..,"closed":..,"length":..,"tour":[..],"optimal_known":..,
//  "seconds":..,"seed":..,"kicks":..,"time_capped":..}.
std::string format_tsplib_run(const TsplibRun& r, bool json);

}  // namespace pw::sched
