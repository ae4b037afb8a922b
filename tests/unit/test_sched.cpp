// lib/sched: the DT-FM cost model on hand-computed cases, the bottleneck matching and
// the stage order against brute force, the scenarios file, the search (best known
// cost, determinism), bad topologies (exit 3), and the files' versions and provenance.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/program.hpp"
#include "io/file.hpp"
#include "io/message.hpp"
#include "sched/cost.hpp"
#include "sched/partition.hpp"
#include "sched/schedule.hpp"
#include "sched/topology.hpp"
#include "unit_helpers.hpp"

using namespace pw::sched;
using pwtest::error_code_of;

namespace {

const std::string kScenarios = std::string(PW_FIXTURES) + "/sched/dtfm-scenarios.json";

Problem from_json(const std::string& text, const WorkloadOverrides& ov = {}) {
  const auto msg =
      pw::Message<schema::Topology>::parse(pw::Bytes(text.begin(), text.end()), "test topology", pw::UnknownFields::Refuse);
  return load_problem(msg.root(), ov, "test topology");
}

// Two groups of two: A (1 ms, 10 Gbit/s inside), B (same), 10 ms and 1 Gbit/s between.
const char* kTwoByTwo = R"({
  "groups": [{"name": "A", "devices": 2, "intra": {"latency_ms": 1, "bandwidth_gbps": 10}},
             {"name": "B", "devices": 2, "intra": {"latency_ms": 1, "bandwidth_gbps": 10}}],
  "inter_default": {"latency_ms": 10, "bandwidth_gbps": 1},
  "stages": 2, "activation_gb": 0.5, "gradient_gb": 2})";

// Devices with a random symmetric full matrix (latency_ms, bandwidth_gbps).
std::string random_full(int n, int stages, uint64_t seed) {
  std::mt19937_64 g(seed);
  auto u = [&] { return double(g() % 1000) / 10.0 + 0.1; };
  std::vector<double> lat(size_t(n * n)), bw(size_t(n * n));
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++) {
      lat[size_t(i * n + j)] = lat[size_t(j * n + i)] = u();
      bw[size_t(i * n + j)] = bw[size_t(j * n + i)] = u();
    }
  auto matrix = [&](const std::vector<double>& m) {
    std::string s = "[";
    for (int i = 0; i < n; i++) {
      s += i ? ",[" : "[";
      for (int j = 0; j < n; j++) s += (j ? "," : "") + std::to_string(m[size_t(i * n + j)]);
      s += "]";
    }
    return s + "]";
  };
  std::string devices = "[";
  for (int i = 0; i < n; i++) devices += std::string(i ? "," : "") + "{\"name\": \"d" + std::to_string(i) + "\", \"group\": \"r" + std::to_string(i % 3) + "\"}";
  return "{\"devices\": " + devices + "], \"latency_ms\": " + matrix(lat) + ", \"bandwidth_gbps\": " + matrix(bw) +
         ", \"stages\": " + std::to_string(stages) + ", \"activation_gb\": 0.3, \"gradient_gb\": 1.1}";
}

double brute_force_matching(const CostModel& m, const Group& a, const Group& b) {
  std::vector<int> perm(a.size());
  std::iota(perm.begin(), perm.end(), 0);
  double best = INFINITY;
  do {
    double worst = 0;
    for (size_t i = 0; i < a.size(); i++) worst = std::max(worst, m.c(a[i], b[size_t(perm[i])]));
    best = std::min(best, worst);
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

}  // namespace

TEST_CASE("sched: the cost model by hand on two groups of two") {
  const Problem p = from_json(kTwoByTwo);
  REQUIRE(p.n() == 4);
  CHECK(p.work.data_parallel == 2);
  const CostModel m(p);
  // all-reduce term 2 (lat + 8 g / (bw |C|)): inside 2 (0.001 + 16/20) = 1.602, across 2 (0.01 + 16/2) = 16.02
  CHECK(m.ar(0, 1) == doctest::Approx(1.602));
  CHECK(m.ar(0, 2) == doctest::Approx(16.02));
  // activation hop lat + 8 a / bw: inside 0.001 + 4/10 = 0.401, across 0.01 + 4/1 = 4.01
  CHECK(m.c(0, 1) == doctest::Approx(0.401));
  CHECK(m.c(1, 3) == doctest::Approx(4.01));
  // Stages = groups: DataPCost 1.602, PipelinePCost 4.01, cost 1.602 + 2 * 4.01 = 9.622.
  CostBreakdown by_group = path_cost(m, {{0, 1}, {2, 3}});
  CHECK(by_group.data_p == doctest::Approx(1.602));
  CHECK(by_group.pipeline_p == doctest::Approx(4.01));
  CHECK(by_group.total == doctest::Approx(9.622));
  // Transposed: DataPCost 16.02, matching {0,2}-{1,3} pairs 0-1 and 2-3: 0.401; cost 16.822.
  CostBreakdown transposed = path_cost(m, {{0, 2}, {1, 3}});
  CHECK(transposed.data_p == doctest::Approx(16.02));
  CHECK(transposed.pipeline_p == doctest::Approx(0.401));
  CHECK(transposed.total == doctest::Approx(16.822));
  // The search finds the better one.
  SearchOptions o;
  o.effort = 0.05;
  const Plan plan = search_schedule(p, m, o);
  CHECK(plan.cost.total == doctest::Approx(9.622));
}

TEST_CASE("sched: three devices per group, the DataPCost sum over peers and |C|") {
  // One stage of 3 from A (2 devices) and B (1): device in B has two cross links.
  const Problem p = from_json(R"({"groups": [{"name": "A", "devices": 2, "intra": {"latency_ms": 0, "bandwidth_gbps": 8}},
    {"name": "B", "devices": 1, "intra": {"latency_ms": 0, "bandwidth_gbps": 8}}],
    "inter": [{"a": "A", "b": "B", "latency_ms": 20, "bandwidth_gbps": 2}], "stages": 1, "gradient_gb": 3})");
  const CostModel m(p);
  // across: 2 (0.02 + 24 / (2 * 3)) = 8.04; inside A: 2 (0 + 24 / 24) = 2
  // A's devices: 2 + 8.04 = 10.04; B's device: 2 * 8.04 = 16.08 -> DataPCost 16.08
  CHECK(data_cost(m, {0, 1, 2}) == doctest::Approx(16.08));
  CHECK(data_bottleneck(m, {0, 1, 2}) == 2);
  CHECK(path_cost(m, {{0, 1, 2}}).pipeline_p == 0);
}

TEST_CASE("sched: bottleneck matching equals brute force, and replicas follow it") {
  for (uint64_t seed = 1; seed <= 6; seed++) {
    const Problem p = from_json(random_full(12, 2, seed));
    const CostModel m(p);
    std::vector<int> all(12);
    std::iota(all.begin(), all.end(), 0);
    std::shuffle(all.begin(), all.end(), std::mt19937_64(seed));
    const Group a(all.begin(), all.begin() + 6), b(all.begin() + 6, all.end());
    std::vector<int> match;
    const double v = bottleneck_matching(m, a, b, &match);
    CHECK(v == brute_force_matching(m, a, b));
    std::vector<int> used = match;
    std::sort(used.begin(), used.end());
    for (int i = 0; i < 6; i++) CHECK(used[size_t(i)] == i);
    for (int i = 0; i < 6; i++) CHECK(m.c(a[size_t(i)], b[size_t(match[size_t(i)])]) <= v);
  }
}

TEST_CASE("sched: the stage order is the shortest open path (brute force over 5 groups)") {
  const Problem p = from_json(random_full(15, 5, 42));
  const CostModel m(p);
  std::vector<Group> groups;
  for (int k = 0; k < 5; k++) groups.push_back({3 * k, 3 * k + 1, 3 * k + 2});
  const Plan plan = order_pipeline(m, groups, 1);
  CHECK(plan.order_exact);
  std::vector<int> perm = {0, 1, 2, 3, 4};
  double best = INFINITY;
  do {
    std::vector<Group> ordered;
    for (int k : perm) ordered.push_back(groups[size_t(k)]);
    best = std::min(best, path_cost(m, ordered).total);
  } while (std::next_permutation(perm.begin(), perm.end()));
  CHECK(plan.cost.total == doctest::Approx(best));
  // Each replica's hop between consecutive stages is within that edge's bottleneck matching.
  for (size_t k = 0; k + 1 < plan.stages.size(); k++)
    for (size_t i = 0; i < 3; i++) CHECK(m.c(plan.stages[k][i], plan.stages[k + 1][i]) <= plan.matching[k]);
}

TEST_CASE("sched: the scenarios file, read directly") {
  const auto names = scenario_names(kScenarios);
  REQUIRE(names.size() == 5);
  const Problem p = read_scenario(kScenarios, "case1-datacenter", {});
  CHECK(p.n() == 64);
  CHECK(p.work.stages == 8);
  CHECK(p.work.data_parallel == 8);
  CHECK(p.best_known_cost_s == doctest::Approx(4.795));
  const CostModel m(p);
  // Transposed (one GPU of every node per stage): DataPCost 7 * 2 * 8 / (3.125 * 8) = 4.48,
  // hops inside a node 8 * 0.28125 / 100 = 0.0225, 7 of them: cost 4.48 + 0.315 = 4.795.
  CHECK(order_pipeline(m, construct(p, Construction::kTransposed, 1), 1).cost.total == doctest::Approx(4.795));
  // A node per stage: DataPCost 7 * 2 * 8 / 800 = 0.14, hops 2.25 / 3.125 = 0.72: 0.14 + 2 * 5.04 = 10.22.
  CHECK(order_pipeline(m, construct(p, Construction::kRegionAware, 1), 1).cost.total == doctest::Approx(10.22));
  CHECK(error_code_of([&] { read_scenario(kScenarios, "case9", {}); }) == 3);
  // The workload can be overridden: 16 stages of 4.
  WorkloadOverrides ov;
  ov.stages = 16;
  CHECK(read_scenario(kScenarios, "case3-multi-university", ov).work.data_parallel == 4);
}

TEST_CASE("sched: the search reaches the best known cost, the same for a seed") {
  const Problem p = read_scenario(kScenarios, "case4-regional", {});
  const CostModel m(p);
  SearchOptions o;
  o.seed = 7;
  o.effort = 0.3;
  o.starts = 3;
  const Plan a = search_schedule(p, m, o);
  CHECK(a.cost.total <= p.best_known_cost_s + 5e-4);
  const Plan b = search_schedule(p, m, o);
  CHECK(a.stages == b.stages);
  // Every device exactly once, S groups of D.
  std::vector<int> seen(64, 0);
  for (const Group& g : a.stages) {
    CHECK(g.size() == 8);
    for (int d : g) seen[size_t(d)]++;
  }
  CHECK(std::all_of(seen.begin(), seen.end(), [](int c) { return c == 1; }));
  // From a random start alone the annealer still cuts the random partitions' mean cost
  // by more than a fifth (it does not reach the best known cost from there).
  o.constructions = {Construction::kRandom};
  o.starts = 1;
  const double random_mean = random_assignment_mean(m, 10, 1);
  CHECK(search_schedule(p, m, o).cost.total < 0.8 * random_mean);
}

TEST_CASE("sched: a k times slower network, compute speed") {
  const Problem p = from_json(kTwoByTwo);
  const Plan plan = order_pipeline(CostModel(p), {{0, 1}, {2, 3}}, 1);
  const auto rows = slowdown_report(p, plan, {10, 100});
  CHECK(rows[0].iteration == doctest::Approx(96.22));
  CHECK(rows[1].ratio == doctest::Approx(100));
  // With compute: a stage runs at its slowest device; 2 s at speed 1 in each stage.
  const Problem q = from_json(R"({
    "devices": [{"name": "fast0", "group": "A", "speed": 2}, {"name": "fast1", "group": "A", "speed": 2},
                {"name": "slow0", "group": "A", "speed": 0.5}, {"name": "slow1", "group": "A", "speed": 0.5}],
    "groups": [{"name": "A", "intra": {"latency_ms": 0, "bandwidth_gbps": 100}}],
    "stages": 2, "activation_gb": 0.1, "gradient_gb": 0.1, "compute_s": 2})");
  const CostModel mq(q);
  const CostBreakdown mixed = path_cost(mq, {{0, 2}, {1, 3}}), sorted = path_cost(mq, {{0, 1}, {2, 3}});
  CHECK(mixed.compute == doctest::Approx(8.0));   // 2/0.5 + 2/0.5
  CHECK(sorted.compute == doctest::Approx(5.0));  // 2/2 + 2/0.5
  CHECK(sorted.iteration == doctest::Approx(sorted.total + 5.0));
  SearchOptions o;
  o.effort = 0.05;
  o.with_compute = true;
  CHECK(search_schedule(q, mq, o).cost.compute == doctest::Approx(5.0));
  // 10x slower: communication x 10, compute unchanged.
  const Plan qp = order_pipeline(mq, {{0, 1}, {2, 3}}, 1);
  CHECK(slowdown_report(q, qp, {10})[0].iteration == doctest::Approx(10 * qp.cost.total + 5.0));
}

TEST_CASE("sched: bad topologies are bad input (exit 3)") {
  auto code = [](const std::string& json) { return error_code_of([&] { from_json(json); }); };
  // Non-square matrix.
  CHECK(code(R"({"devices": [{"name": "a"}, {"name": "b"}], "latency_ms": [[0, 1], [1]],
                 "bandwidth_gbps": [[0, 1], [1, 0]], "stages": 1})") == 3);
  CHECK(code(R"({"devices": [{"name": "a"}, {"name": "b"}], "latency_ms": [[0, 1]],
                 "bandwidth_gbps": [[0, 1], [1, 0]], "stages": 1})") == 3);
  // Negative bandwidth, negative latency, zero bandwidth.
  CHECK(code(R"({"groups": [{"name": "A", "devices": 2, "intra": {"latency_ms": 1, "bandwidth_gbps": -5}}], "stages": 1})") == 3);
  CHECK(code(R"({"groups": [{"name": "A", "devices": 2, "intra": {"latency_ms": -1, "bandwidth_gbps": 5}}], "stages": 1})") == 3);
  CHECK(code(R"({"devices": [{"name": "a"}, {"name": "b"}], "latency_ms": [[0, 1], [1, 0]],
                 "bandwidth_gbps": [[0, 0], [0, 0]], "stages": 1})") == 3);
  // Asymmetric matrix.
  CHECK(code(R"({"devices": [{"name": "a"}, {"name": "b"}], "latency_ms": [[0, 1], [2, 0]],
                 "bandwidth_gbps": [[0, 1], [1, 0]], "stages": 1})") == 3);
  // Group sizes that do not divide: 5 devices in 2 stages; 4 devices as 2 x 3.
  CHECK(code(R"({"groups": [{"name": "A", "devices": 5, "intra": {"latency_ms": 1, "bandwidth_gbps": 5}}], "stages": 2})") == 3);
  CHECK(code(R"({"groups": [{"name": "A", "devices": 4, "intra": {"latency_ms": 1, "bandwidth_gbps": 5}}], "stages": 2,
                 "data_parallel": 3})") == 3);
  // No stages; unknown fields; unknown group; missing link figures; duplicate names.
  CHECK(code(R"({"groups": [{"name": "A", "devices": 4, "intra": {"latency_ms": 1, "bandwidth_gbps": 5}}]})") == 3);
  CHECK(code(R"({"groups": [{"name": "A", "devices": 4, "intra": {"latency_ms": 1, "bandwidth_gbps": 5}}], "stages": 2,
                 "bandwith_gbps": 3})") == 3);
  CHECK(code(R"({"groups": [{"name": "A", "devices": 4, "intra": {"latency_ms": 1, "bandwidth_gbps": 5, "jitter": 1}}],
                 "stages": 2})") == 3);
  CHECK(code(R"({"groups": [{"name": "A", "devices": 2, "intra": {"latency_ms": 1, "bandwidth_gbps": 5}},
                            {"name": "B", "devices": 2, "intra": {"latency_ms": 1, "bandwidth_gbps": 5}}],
                 "inter": [{"a": "A", "b": "C", "latency_ms": 1, "bandwidth_gbps": 1}], "stages": 2})") == 3);
  CHECK(code(R"({"groups": [{"name": "A", "devices": 2, "intra": {"latency_ms": 1, "bandwidth_gbps": 5}},
                            {"name": "B", "devices": 2, "intra": {"latency_ms": 1, "bandwidth_gbps": 5}}], "stages": 2})") == 3);
  CHECK(code(R"({"devices": [{"name": "a", "group": "A"}, {"name": "a", "group": "A"}],
                 "groups": [{"name": "A", "intra": {"latency_ms": 1, "bandwidth_gbps": 5}}], "stages": 1})") == 3);
  CHECK(code(R"({"groups": [], "stages": 1})") == 3);
  CHECK(code("{\"stages\": ") == 3);
  // The same topology without the mistakes loads.
  CHECK(code(R"({"groups": [{"name": "A", "devices": 4, "intra": {"latency_ms": 1, "bandwidth_gbps": 5}}], "stages": 2})") == -1);
}

namespace {

// A partition of kTwoByTwo as sched-partition writes it, decoded for editing.
struct PartitionMessage {
  capnp::MallocMessageBuilder mb;
  schema::Partition::Builder root;
  PartitionMessage() : root(mb.initRoot<schema::Partition>()) {
    const Problem p = from_json(kTwoByTwo);
    const Plan plan = order_pipeline(CostModel(p), {{0, 1}, {2, 3}}, 1);
    const std::vector<uint8_t> json = partition_bytes(p, plan, 5, true);
    mb.setRoot(pw::Message<schema::Partition>::parse(pw::Bytes(json), "partition", pw::UnknownFields::Refuse).root());
    root = mb.getRoot<schema::Partition>();
  }
  // Written in binary; the message of read_partition_file's failure, "" when it reads.
  std::string read_back(const pwtest::ScratchDir& dir) {
    const std::string path = dir.file("p.pwg");
    pw::write_file_atomic(path, pw::to_binary(mb));
    try {
      read_partition_file(path);
    } catch (const pw::Error& e) {
      return std::to_string(e.code) + ": " + e.what();
    }
    return "";
  }
};

}  // namespace

TEST_CASE("sched: a JSON partition reads back through the one parse path, unknown fields refused") {
  pwtest::ScratchDir dir;
  const Problem p = from_json(kTwoByTwo);
  const Plan plan = order_pipeline(CostModel(p), {{0, 1}, {2, 3}}, 1);
  const std::vector<uint8_t> json = partition_bytes(p, plan, 5, true);
  const std::string text(json.begin(), json.end());
  // The schema's snake_case names, hand-written files' spelling.
  CHECK(text.find("\"data_p_cost_s\": ") != std::string::npos);
  CHECK(text.find("\"inter_default\": ") != std::string::npos);
  CHECK(text.find("dataP") == std::string::npos);
  pw::write_file_atomic(dir.file("p.json"), json);
  const PartitionFile f = read_partition_file(dir.file("p.json"));
  CHECK(f.groups == std::vector<Group>{{0, 1}, {2, 3}});
  CHECK(f.seed == 5);
  CHECK(f.problem.n() == 4);
  // A field the schema does not name (a misspelling) is bad input naming it, in the
  // partition and in its topology; without it the same file reads.
  for (const std::string& before : {std::string("\"seed\""), std::string("\"inter_default\"")}) {
    std::string bad = text;
    bad.insert(bad.find(before), "\"colour\": \"red\", ");
    pw::write_file_atomic(dir.file("bad.json"), pw::Bytes(bad.begin(), bad.end()));
    try {
      read_partition_file(dir.file("bad.json"));
      FAIL("a partition with an unknown field was read");
    } catch (const pw::Error& e) {
      CHECK(e.code == pw::kExitBadInput);
      CHECK(std::string(e.what()).find("partition '" + dir.file("bad.json") + "': malformed") == 0);
      CHECK(std::string(e.what()).find("colour") != std::string::npos);
    }
  }
}

TEST_CASE("sched: versions of topology, partition and schedule (stamped, checked, none read as 1)") {
  using pw::FileKind;
  REQUIRE(pw::current_version(FileKind::Topology) == 1);
  REQUIRE(pw::current_version(FileKind::Partition) == 1);
  REQUIRE(pw::current_version(FileKind::Schedule) == 1);
  // A topology without a version (written by hand, or before versions) is version 1.
  const std::string body = std::string(kTwoByTwo).substr(1);
  CHECK(error_code_of([&] { from_json("{\"version\": 1," + body); }) == -1);
  CHECK(error_code_of([&] { from_json("{\"version\": 0," + body); }) == -1);
  try {
    from_json("{\"version\": 2," + body);
    FAIL("a topology of version 2 was read");
  } catch (const pw::Error& e) {
    CHECK(e.code == pw::kExitBadInput);
    CHECK(std::string(e.what()) == "test topology: topology format version 2 is newer than this build reads (1); upgrade proofwork");
  }

  // The partition carries its version, its topology's and the running program's provenance.
  pwtest::ScratchDir dir;
  PartitionMessage part;
  CHECK(part.root.getVersion() == 1);
  CHECK(part.root.getTopology().getVersion() == 1);
  CHECK(std::string(part.root.getProvenance().getProgram().cStr()) == pw::program_name());
  CHECK(std::string(part.root.getProvenance().getVersion().cStr()) == pw::version());
  CHECK(part.read_back(dir) == "");
  part.root.setVersion(0);  // written before versions were recorded
  part.root.getTopology().setVersion(0);
  CHECK(part.read_back(dir) == "");
  part.root.setVersion(2);
  CHECK(part.read_back(dir) == "3: partition '" + dir.file("p.pwg") +
                                   "': partition format version 2 is newer than this build reads (1); upgrade proofwork");
  part.root.setVersion(1);
  part.root.getTopology().setVersion(7);
  CHECK(part.read_back(dir) == "3: partition '" + dir.file("p.pwg") + "': topology: topology format version 7 is newer " +
                                   "than this build reads (1); upgrade proofwork");

  // The schedule likewise (no program reads one back; pol-show prints it).
  const Problem p = from_json(kTwoByTwo);
  const Plan plan = order_pipeline(CostModel(p), {{0, 1}, {2, 3}}, 1);
  const std::vector<uint8_t> bytes = schedule_bytes(p, plan, slowdown_report(p, plan, {10}), 5, false);
  const auto msg = pw::Message<schema::Schedule>::parse(pw::Bytes(bytes), "schedule");
  CHECK(msg.root().getVersion() == 1);
  CHECK(msg.root().getTopology().getVersion() == 1);
  CHECK(std::string(msg.root().getProvenance().getProgram().cStr()) == pw::program_name());
  CHECK(std::string(msg.root().getProvenance().getCommandLine().cStr()) == pw::command_line());
}
