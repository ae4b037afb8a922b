#include "bisect/fast.hpp"

#include <cstdio>
#include <set>

#include "core/error.hpp"
#include "core/program.hpp"

namespace pw {

namespace {

constexpr size_t kMaxOpSources = 256;

std::vector<std::string> output_names(const Tape& tape, const Op& op) {
  std::vector<std::string> names;
  for (int id : op.out) names.push_back(tape.tensors[size_t(id)].name);
  return names;
}

std::vector<std::string> state_names(const Tape& tape) {
  std::vector<std::string> names;
  for (int id : checkpoint_tensors(tape)) names.push_back(tape.tensors[size_t(id)].name);
  return names;
}

std::vector<std::vector<float>> zeros_like(const std::vector<std::vector<float>>& v) {
  std::vector<std::vector<float>> z;
  for (const auto& x : v) z.emplace_back(x.size(), 0.0f);
  return z;
}

// Why a distance `d` is within the thresholds (the entry nearest its threshold) or beyond
// them (the first entry over); "" when it is within.
std::string over(const Distances& d, const Distances& t) { return exceeds(d, t); }
std::string within(const Distances& d, const Distances& t) {
  return d.value[kL1].back() == 0 ? "its claim is the recomputation bit for bit" : tightest(d, t);
}

// Each side's claim held to the thresholds: within (the tightest entry named) or beyond (the first).
void judge(FastRuling& r) {
  r.why_a = over(r.dist_a, r.thresholds);
  r.why_b = over(r.dist_b, r.thresholds);
  r.stands_a = r.why_a.empty(), r.stands_b = r.why_b.empty();
  if (r.stands_a) r.why_a = within(r.dist_a, r.thresholds);
  if (r.stands_b) r.why_b = within(r.dist_b, r.thresholds);
}

}  // namespace

void check_profile_for(const LoadedProfile& p, schema::Task::Reader task, const std::string& what) {
  check_input(p.task_class == task_class(task),
              what + " was made for another task (its model, data or hyperparameters differ)");
}

FastRuling rule_fast_op(const TaskConfig& cfg, const Dataset* data, const FastReferee& f, int64_t step, int op,
                        const std::vector<std::vector<float>>& inputs, const std::vector<std::vector<float>>& out_a,
                        const std::vector<std::vector<float>>& out_b, Hash* referee) {
  const Tape tape = tape_for(cfg);
  check_input(op >= 0 && size_t(op) < tape.ops.size(), "dispute: op index out of range");
  const std::vector<std::string> names = output_names(tape, tape.ops[size_t(op)]);
  const schema::Profile::Reader p = f.profile->msg.root();
  const ThreadsGuard guard;
  auto recompute = [&](int threads, const Compute& c, Hash* h) {
    use_kernel_threads(threads, tape);
    std::vector<std::vector<float>> out;
    const Hash x = referee_op(cfg, data, step, op, inputs, &out, &c);
    if (h) *h = x;
    return out;
  };
  FastRuling r;
  const auto ref_a = recompute(f.a.threads, f.a.compute(cfg), referee);
  const auto ref_b = recompute(f.b.threads, f.b.compute(cfg), nullptr);
  // The spread of the op's outputs between the profile's CPU sources (a GPU source cannot
  // be recomputed here: its noise is in the profile's state thresholds only).
  std::vector<std::vector<std::vector<float>>> outs;
  std::set<std::string> seen;  // each setting once; a profile lists a handful, never more than kMaxOpSources
  for (auto s : p.getSources()) {
    const std::optional<Source> src = parse_source(s.cStr());
    if (!src || src->cuda || !seen.insert(src->name()).second) continue;
    check_input(seen.size() <= kMaxOpSources, "the profile lists more than " + std::to_string(kMaxOpSources) +
                                                  " CPU sources: the referee recomputes at most that many");
    const Compute c = src->fast ? Compute{true, src->panel, cfg.reduce_chunk} : Compute{false, kFastPanelDefault, cfg.reduce_chunk};
    outs.push_back(recompute(src->fast ? src->threads : 1, c, nullptr));
  }
  r.sources = int(outs.size());
  r.noise = tensor_distances(names, ref_a, ref_a);  // zero, in the layout
  for (size_t i = 0; i < outs.size(); i++)
    for (size_t j = 0; j < i; j++) max_into(r.noise, tensor_distances(names, outs[i], outs[j]));
  const Distances norm = tensor_distances(names, ref_a, zeros_like(ref_a));
  const double factor = p.getFactor(), floor_rel = p.getFloorRel();
  r.thresholds = r.noise;
  for (size_t i = 0; i < r.thresholds.size(); i++) {
    for (int m : {kL1, kL2, kLinf}) r.thresholds.value[m][i] = factor * r.noise.value[m][i] + floor_rel * norm.value[m][i];
    r.thresholds.value[kCosine][i] = factor * r.noise.value[kCosine][i] + floor_rel * floor_rel;
  }
  r.dist_a = tensor_distances(names, out_a, ref_a);
  r.dist_b = tensor_distances(names, out_b, ref_b);
  r.dist_ab = tensor_distances(names, out_a, out_b);
  judge(r);
  return r;
}

FastRuling rule_fast_step(const Tape& tape, const FastReferee& f, const std::vector<std::vector<float>>& after,
                          const std::vector<std::vector<float>>& claimed_a, const std::vector<std::vector<float>>& claimed_b) {
  const std::vector<std::string> names = state_names(tape);
  FastRuling r;
  r.step_level = true;
  r.thresholds = f.profile->thresholds;
  r.dist_a = tensor_distances(names, claimed_a, after, "model");
  r.dist_b = tensor_distances(names, claimed_b, after, "model");
  r.dist_ab = tensor_distances(names, claimed_a, claimed_b, "model");
  r.noise = tensor_distances(names, after, after, "model");
  judge(r);
  return r;
}

std::string fast_basis(const FastRuling& r, const FastReferee& f, const std::string& where) {
  std::string b = where + " recomputed under each side's declared kernel (A: " + f.a.name() + "; B: " + f.b.name() + ")";
  char line[240];
  if (r.step_level) {
    b += "; each claimed state held to the profile's state thresholds";
  } else {
    std::snprintf(line, sizeof line,
                  "; thresholds = factor %g x the op's spread over the profile's %d CPU sources + floor (floorRel x the "
                  "output's norm)",
                  f.profile->factor, r.sources);
    b += line;
  }
  auto side = [&](const char* s, bool stands, const std::string& why) {
    return std::string("; ") + s + (stands ? " stands, within the profile's replay noise (" : " loses, beyond it (") + why + ")";
  };
  b += side("A", r.stands_a, r.why_a);
  b += side("B", r.stands_b, r.why_b);
  // The two claims from each other, on the same scale (for people: the ruling is each side's own).
  const std::string ab = over(r.dist_ab, r.thresholds);
  b += r.dist_ab.value[kL1].back() == 0 ? "; A and B agree bit for bit"
       : ab.empty() ? "; A and B differ within the thresholds (" + tightest(r.dist_ab, r.thresholds) + ")"
                    : "; A and B differ beyond the thresholds (" + ab + ")";
  return b;
}

}  // namespace pw
