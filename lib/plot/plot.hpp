// pol-plot's figures (pol-plot(1)): what each file kind shows, read through the kind's own
// reader (read_manifest, read_verdict, load_profile, the dispute's version rule and
// referee_dispute), so foreign or damaged input is refused (exit 3) as every other program
// refuses it.
//
//   proof (a directory) [with its task]: the loss per step (the solver's claim), and with
//     the task the learning rate per step and the update norm per segment (from the
//     checkpoint files, which the manifest's hashes and root commit to);
//   verdicts (one or several, side by side): distance / threshold per tensor and metric of
//     every replayed segment on a log scale, the rejection line at 1, failed segments
//     marked; exact mode: the update norm of every replayed segment, failed ones marked;
//   profile: the measured distances per source and segment, one panel per metric, with
//     the thresholds they give;
//   dispute: the disputed interval of every round, by level (checkpoints, steps, ops),
//     and the pinpointed op with the referee's ruling, recomputed.
#pragma once
#include <string>
#include <vector>

#include "plot/svg.hpp"

namespace pw::plot {

struct PlotOptions {
  int width = 0;             // 0: 960, or 480 per verdict side by side
  int height = 0;            // 0: auto_height
  std::string data_dir;      // a dispute over a load_batch op: where the dataset is
};

// The figure of `paths`: one proof directory (and optionally its task file), one or more
// verdicts of one proof, one profile, or one dispute. Kinds are told apart by the file:
// a directory is a proof, else the extension (io/file_types.hpp). A file of a kind
// pol-plot does not draw, or damaged: bad input (exit 3); kinds that do not go together:
// a usage error (exit 2).
Figure make_figure(const std::vector<std::string>& paths, const PlotOptions& opt);

// The data behind the figures, for the tests and the benchmark: a proof's figure from
// its series.
struct ProofSeries {
  std::string name;                  // the directory, as given
  std::string root;                  // hex
  int64_t steps = 0;                 // of the task (the batch order's rows)
  bool complete = false;
  std::vector<float> losses;         // empty: not recorded
  std::vector<double> lr;            // per step; empty without the task
  std::vector<int64_t> segment_end;  // checkpoint steps after 0
  std::vector<double> update_norm;   // per segment; empty without the task
  int64_t checkpoints = 0;
};
Figure proof_figure(const ProofSeries& p);

}  // namespace pw::plot
