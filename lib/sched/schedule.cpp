#include "sched/schedule.hpp"

#include <cstdio>
#include <sstream>

#include "core/error.hpp"
#include "io/message.hpp"
#include "io/provenance.hpp"

namespace pw::sched {

namespace {

std::string num(double v, int digits = 3) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

void fill_cost(schema::Cost::Builder c, const CostBreakdown& b) {
  c.setDataP(b.data_p);
  c.setPipelineP(b.pipeline_p);
  c.setTotal(b.total);
  c.setCompute(b.compute);
  c.setIteration(b.iteration);
}

// The root of a partition or a schedule with what both hold: this build's version of
// the kind, the running program's provenance, the topology, the stage groups, the cost
// breakdown and the seed.
template <typename T>
typename T::Builder init_plan_file(capnp::MallocMessageBuilder& mb, FileKind kind, const Problem& p, const Plan& plan,
                                   uint64_t seed) {
  auto b = mb.initRoot<T>();
  b.setVersion(current_version(kind));
  set_provenance(b.initProvenance());
  b.setTopology(p.topology());
  auto stages = b.initStages(unsigned(plan.stages.size()));
  for (size_t k = 0; k < plan.stages.size(); k++) {
    auto d = stages[unsigned(k)].initDevices(unsigned(plan.stages[k].size()));
    for (size_t i = 0; i < plan.stages[k].size(); i++) d.set(unsigned(i), uint32_t(plan.stages[k][i]));
  }
  fill_cost(b.initCost(), plan.cost);
  b.setSeed(seed);
  return b;
}

std::string cost_lines(const Problem& p, const Plan& plan) {
  std::ostringstream s;
  s << "cost " << num(plan.cost.total) << " s = DataPCost " << num(plan.cost.data_p) << " + 2 x PipelinePCost "
    << num(plan.cost.pipeline_p);
  if (p.best_known_cost_s > 0) s << "  (best known " << num(p.best_known_cost_s) << ")";
  s << "\n";
  if (p.work.compute_s > 0)
    s << "iteration " << num(plan.cost.iteration) << " s = cost + compute " << num(plan.cost.compute) << "\n";
  return s.str();
}

std::string header(const Problem& p, const Plan& plan) {
  std::ostringstream s;
  s << (p.name.empty() ? std::string("topology") : p.name) << ": " << p.n() << " devices, " << p.work.stages << " stages x "
    << p.work.data_parallel << " data-parallel replicas; start: " << plan.start << "\n";
  return s.str();
}

}  // namespace

std::vector<SlowdownRow> slowdown_report(const Problem& p, const Plan& plan, const std::vector<double>& factors) {
  std::vector<SlowdownRow> rows;
  const double base = CostModel(p, 1.0).compute_s > 0 ? plan.cost.iteration : plan.cost.total;
  for (double k : factors) {
    const CostModel slow(p, k);
    const CostBreakdown c = path_cost(slow, plan.stages);
    const double it = p.work.compute_s > 0 ? c.iteration : c.total;
    rows.push_back({k, it, base > 0 ? it / base : 0});
  }
  return rows;
}

PartitionFile read_partition_file(const std::string& path) {
  return parse_partition_file(read_file(path, kSmallFileLimit * 4, "partition"), path);
}

PartitionFile parse_partition_file(Bytes bytes, const std::string& path) {
  const std::string what = "partition '" + path + "'";
  auto load = [&](schema::Partition::Reader r) {
    return guard_input(what, [&] {
      check_version(FileKind::Partition, r.getVersion(), what);
      PartitionFile f;
      check_input(r.hasTopology(), what + ": no topology");
      f.problem = load_problem(r.getTopology(), WorkloadOverrides{}, what + ": topology");
      f.seed = r.getSeed();
      const int S = f.problem.work.stages, D = f.problem.work.data_parallel, n = f.problem.n();
      check_input(int(r.getStages().size()) == S, what + ": " + std::to_string(r.getStages().size()) + " stage groups, the topology says " +
                                                      std::to_string(S));
      std::vector<int> seen(size_t(n), 0);
      for (auto st : r.getStages()) {
        check_input(int(st.getDevices().size()) == D, what + ": a stage group has " + std::to_string(st.getDevices().size()) +
                                                          " devices, not " + std::to_string(D));
        Group g;
        for (uint32_t d : st.getDevices()) {
          check_input(d < uint32_t(n), what + ": device index " + std::to_string(d) + " out of range (" + std::to_string(n) + " devices)");
          check_input(seen[d]++ == 0, what + ": device " + f.problem.devices[d].name + " is in two stage groups");
          g.push_back(int(d));
        }
        f.groups.push_back(g);
      }
      return f;
    });
  };
  auto msg = Message<schema::Partition>::parse(std::move(bytes), what, UnknownFields::Refuse);
  return load(msg.root());
}

std::vector<uint8_t> partition_bytes(const Problem& p, const Plan& plan, uint64_t seed, bool json) {
  capnp::MallocMessageBuilder mb;
  init_plan_file<schema::Partition>(mb, FileKind::Partition, p, plan, seed);
  return message_bytes<schema::Partition>(mb, json);
}

std::vector<uint8_t> schedule_bytes(const Problem& p, const Plan& plan, const std::vector<SlowdownRow>& slow, uint64_t seed,
                                    bool json) {
  capnp::MallocMessageBuilder mb;
  auto b = init_plan_file<schema::Schedule>(mb, FileKind::Schedule, p, plan, seed);
  const unsigned S = unsigned(plan.stages.size()), D = S ? unsigned(plan.stages[0].size()) : 0;
  auto reps = b.initReplicas(D);
  for (unsigned i = 0; i < D; i++) {
    auto devs = reps[i].initDevices(S);
    auto names = reps[i].initNames(S);
    for (unsigned k = 0; k < S; k++) {
      const int d = plan.stages[k][i];
      devs.set(k, uint32_t(d));
      names.set(k, p.devices[size_t(d)].name);
    }
  }
  auto m = b.initMatchingS(unsigned(plan.matching.size()));
  for (size_t k = 0; k < plan.matching.size(); k++) m.set(unsigned(k), plan.matching[k]);
  auto sl = b.initSlowdown(unsigned(slow.size()));
  for (size_t i = 0; i < slow.size(); i++) {
    sl[unsigned(i)].setFactor(slow[i].factor);
    sl[unsigned(i)].setIteration(slow[i].iteration);
    sl[unsigned(i)].setRatio(slow[i].ratio);
  }
  return message_bytes<schema::Schedule>(mb, json);
}

std::string partition_text(const Problem& p, const Plan& plan) {
  std::ostringstream s;
  s << header(p, plan) << cost_lines(p, plan);
  const CostModel m(p);
  for (size_t k = 0; k < plan.stages.size(); k++) {
    s << "stage " << k << " (DataPCost " << num(data_cost(m, plan.stages[k])) << " s):";
    for (int d : plan.stages[k]) s << " " << p.devices[size_t(d)].name;
    s << "\n";
  }
  return s.str();
}

std::string schedule_text(const Problem& p, const Plan& plan, const std::vector<SlowdownRow>& slow) {
  std::ostringstream s;
  s << header(p, plan) << cost_lines(p, plan);
  s << "stage order: " << (plan.order_exact ? "optimal (Held-Karp)" : "heuristic (2-opt/Or-opt with kicks)") << "; matchings";
  for (double e : plan.matching) s << " " << num(e);
  s << " s\n";
  const size_t S = plan.stages.size(), D = S ? plan.stages[0].size() : 0;
  for (size_t i = 0; i < D; i++) {
    s << "replica " << i << ":";
    for (size_t k = 0; k < S; k++) s << (k ? " -> " : " ") << p.devices[size_t(plan.stages[k][i])].name;
    s << "\n";
  }
  for (const SlowdownRow& r : slow)
    s << "network " << num(r.factor, 0) << "x slower: iteration " << num(r.iteration) << " s (" << num(r.ratio, 2) << "x)\n";
  return s.str();
}

}  // namespace pw::sched
