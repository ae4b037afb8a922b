// Distances between two training states (Proof-of-Learning's metrics), per tensor and
// for the whole model, and the tolerance test fast-mode verification applies.
#pragma once
#include <string>
#include <vector>

#include "model/tape.hpp"
#include "schema/proofwork.capnp.h"

namespace pw {

enum Metric : int { kL1, kL2, kLinf, kCosine, kMetrics };
const char* metric_name(int m);

// names[i] with value[m][i]; the last entry is "model" (every tensor together).
struct Distances {
  std::vector<std::string> names;
  std::vector<double> value[kMetrics];
  size_t size() const { return names.size(); }
};

// Over the checkpoint tensors (parameters, then optimizer state), in double; cosine is
// 1 − a·b / (‖a‖‖b‖) (0 when both are zero). Sums run in a fixed order.
Distances state_distances(const Tape& tape, const Workspace& a, const Workspace& b);
// The same over any tensors: entry i compares a[i] with b[i] (a missing or mis-sized
// tensor is infinitely far), and a last entry `all` over every tensor together.
Distances tensor_distances(const std::vector<std::string>& names, const std::vector<std::vector<float>>& a,
                           const std::vector<std::vector<float>>& b, const std::string& all = "all");
// Residuals r = claimed − replayed per checkpoint tensor, in double; residual_distances
// is state_distances(a, a + r) computed in double (a residual of the wrong size is
// infinitely far).
std::vector<std::vector<double>> residuals(const Tape& tape, const Workspace& replayed, const Workspace& claimed);
Distances residual_distances(const Tape& tape, const Workspace& a, const std::vector<std::vector<double>>& r);
// The norms of one state in the same layout (for thresholds' floors): l1, l2, linf.
Distances state_norms(const Tape& tape, const Workspace& a);

// ‖b − a‖₂ over the parameters only (not the optimizer state), in double.
double param_update_norm(const Tape& tape, const Workspace& a, const Workspace& b);

// Element-wise max of `into` and `d` (same names).
void max_into(Distances& into, const Distances& d);

// The first entry and metric where d exceeds t, as "0.weight linf 3.1e-05 > 2.0e-06";
// empty when every distance is within its threshold. Non-finite distances exceed.
std::string exceeds(const Distances& d, const Distances& t);

// For d within t (exceeds() empty): the entry and metric closest to its threshold, as
// "h1 linf 1.2e-07 <= threshold 3.1e-06".
std::string tightest(const Distances& d, const Distances& t);

void write_distances(schema::Distances::Builder b, const Distances& d);
// Throws bad input (with `what`) on mismatched list lengths or non-finite/negative values.
Distances read_distances(schema::Distances::Reader r, const std::string& what);

}  // namespace pw
