#include "sched/topology.hpp"

#include <capnp/compat/json.h>

#include <cmath>
#include <map>
#include <set>

#include "core/error.hpp"
#include "io/file.hpp"
#include "io/message.hpp"

namespace pw::sched {

namespace {

std::string fmt(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

bool link_ok(double latency_ms, double bandwidth_gbps) {
  return std::isfinite(latency_ms) && latency_ms >= 0 && std::isfinite(bandwidth_gbps) && bandwidth_gbps > 0;
}

void check_link(double latency_ms, double bandwidth_gbps, const std::string& what) {
  check_input(std::isfinite(latency_ms) && latency_ms >= 0,
              what + ": latency " + fmt(latency_ms) + " ms is not a finite non-negative number");
  check_input(std::isfinite(bandwidth_gbps) && bandwidth_gbps > 0,
              what + ": bandwidth " + fmt(bandwidth_gbps) + " Gbit/s is not a finite positive number");
}

// Reads a full n x n matrix into `out` (row-major); the diagonal is kept but never used.
void read_matrix(capnp::List<capnp::List<double>>::Reader m, int n, std::vector<double>& out,
                 const std::string& what) {
  check_input(int(m.size()) == n, what + ": " + std::to_string(m.size()) + " rows for " + std::to_string(n) +
                                      " devices (the matrix must be square, n x n)");
  out.assign(size_t(n) * n, 0.0);
  for (int i = 0; i < n; i++) {
    auto row = m[i];
    check_input(int(row.size()) == n, what + ": row " + std::to_string(i) + " has " + std::to_string(row.size()) +
                                          " entries, not " + std::to_string(n) + " (the matrix must be square)");
    for (int j = 0; j < n; j++) out[size_t(i) * n + j] = row[j];
  }
}

void check_matrices(const Problem& p, const std::string& what) {
  const int n = p.n();
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      if (i == j) continue;
      const size_t ij = size_t(i) * n + j, ji = size_t(j) * n + i;
      const bool symmetric = p.latency_s[ij] == p.latency_s[ji] && p.bandwidth_gbps[ij] == p.bandwidth_gbps[ji];
      // The message only for a bad link: 4096 devices make 16 million pairs (a topology
      // that took seconds to accept, found by tests/fuzz).
      if (symmetric && link_ok(p.latency_s[ij] * 1000.0, p.bandwidth_gbps[ij])) continue;
      const std::string at = what + ": link " + p.devices[i].name + " - " + p.devices[j].name;
      check_link(p.latency_s[ij] * 1000.0, p.bandwidth_gbps[ij], at);
      check_input(symmetric, at + ": the matrices are not symmetric (the cost model needs one figure per link)");
    }
}

void read_devices(schema::Topology::Reader t, Problem& p, const std::string& what) {
  std::map<std::string, int> group_index;
  for (auto g : t.getGroups()) {
    const std::string name = g.getName();
    check_input(!name.empty(), what + ": a group has no name");
    check_input(group_index.emplace(name, int(p.group_names.size())).second, what + ": group '" + name + "' appears twice");
    p.group_names.push_back(name);
  }
  auto groups = t.getGroups();
  if (t.getDevices().size() == 0) {
    for (unsigned gi = 0; gi < groups.size(); gi++) {
      auto g = groups[gi];
      check_input(g.getDevices() <= unsigned(kMaxDevices), what + ": group '" + p.group_names[gi] + "' has too many devices");
      for (unsigned k = 0; k < g.getDevices(); k++) {
        p.devices.push_back({p.group_names[gi] + "-" + std::to_string(k), p.group_names[gi], g.getSpeed(), g.getMemoryGb()});
        p.group_of.push_back(int(gi));
        check_input(p.n() <= kMaxDevices, what + ": more than " + std::to_string(kMaxDevices) + " devices");
      }
    }
  } else {
    check_input(t.getDevices().size() <= unsigned(kMaxDevices), what + ": more than " + std::to_string(kMaxDevices) + " devices");
    std::set<std::string> names;
    std::vector<unsigned> count(groups.size(), 0);
    for (auto d : t.getDevices()) {
      Device dev{d.getName(), d.getGroup(), d.getSpeed(), d.getMemoryGb()};
      if (dev.name.empty()) dev.name = "dev-" + std::to_string(p.n());
      check_input(names.insert(dev.name).second, what + ": device '" + dev.name + "' appears twice");
      auto it = group_index.find(dev.group);
      if (it == group_index.end()) {
        // Without groups in the file, any group label is a region name of its own.
        check_input(groups.size() == 0, what + ": device '" + dev.name + "' names unknown group '" + dev.group + "'");
        it = group_index.emplace(dev.group, int(p.group_names.size())).first;
        p.group_names.push_back(dev.group);
      } else if (unsigned(it->second) < groups.size()) {
        auto g = groups[unsigned(it->second)];
        if (dev.speed == 0) dev.speed = g.getSpeed();
        if (dev.memory_gb == 0) dev.memory_gb = g.getMemoryGb();
        count[size_t(it->second)]++;
      }
      if (dev.speed == 0) dev.speed = 1.0;
      p.group_of.push_back(it->second);
      p.devices.push_back(dev);
    }
    for (unsigned gi = 0; gi < groups.size(); gi++)
      check_input(groups[gi].getDevices() == 0 || groups[gi].getDevices() == count[gi],
                  what + ": group '" + p.group_names[gi] + "' says " + std::to_string(groups[gi].getDevices()) +
                      " devices but the device list has " + std::to_string(count[gi]));
  }
  check_input(p.n() >= 1, what + ": no devices");
  for (const Device& d : p.devices) {
    check_input(std::isfinite(d.speed) && d.speed > 0, what + ": device '" + d.name + "': speed " + fmt(d.speed) + " is not positive");
    check_input(std::isfinite(d.memory_gb) && d.memory_gb >= 0,
                what + ": device '" + d.name + "': memory " + fmt(d.memory_gb) + " GB is negative");
  }
}

void read_links(schema::Topology::Reader t, Problem& p, const std::string& what) {
  const int n = p.n();
  if (t.hasLatencyMs() || t.hasBandwidthGbps()) {
    check_input(t.hasLatencyMs() && t.hasBandwidthGbps(), what + ": a full matrix needs both latency_ms and bandwidth_gbps");
    read_matrix(t.getLatencyMs(), n, p.latency_s, what + ": latency_ms");
    read_matrix(t.getBandwidthGbps(), n, p.bandwidth_gbps, what + ": bandwidth_gbps");
    for (double& v : p.latency_s) v /= 1000.0;
    return;
  }
  const size_t G = p.group_names.size();
  check_input(t.getGroups().size() == G, what + ": without latency/bandwidth matrices every device needs a group with link figures");
  // Group-level figures: intra on the diagonal, `inter` pairs, `inter_default` elsewhere.
  std::vector<double> lat(G * G, NAN), bw(G * G, NAN);
  std::map<std::string, size_t> index;
  for (size_t g = 0; g < G; g++) index[p.group_names[g]] = g;
  for (size_t g = 0; g < G; g++) {
    auto in = t.getGroups()[unsigned(g)].getIntra();
    check_link(in.getLatencyMs(), in.getBandwidthGbps(), what + ": group '" + p.group_names[g] + "' intra");
    lat[g * G + g] = in.getLatencyMs();
    bw[g * G + g] = in.getBandwidthGbps();
  }
  for (auto l : t.getInter()) {
    const std::string a = l.getA(), b = l.getB(), at = what + ": inter " + a + " - " + b;
    check_input(index.count(a) && index.count(b), at + ": unknown group");
    check_input(a != b, at + ": a group's own figures go in its 'intra'");
    const size_t i = index[a], j = index[b];
    check_input(std::isnan(lat[i * G + j]), at + ": given twice");
    check_link(l.getLatencyMs(), l.getBandwidthGbps(), at);
    lat[i * G + j] = lat[j * G + i] = l.getLatencyMs();
    bw[i * G + j] = bw[j * G + i] = l.getBandwidthGbps();
  }
  const bool has_default = t.hasInterDefault();
  for (size_t i = 0; i < G; i++)
    for (size_t j = 0; j < G; j++) {
      if (!std::isnan(lat[i * G + j])) continue;
      check_input(has_default, what + ": no link figures between groups '" + p.group_names[i] + "' and '" +
                                   p.group_names[j] + "' (add an 'inter' entry or 'inter_default')");
      auto d = t.getInterDefault();
      check_link(d.getLatencyMs(), d.getBandwidthGbps(), what + ": inter_default");
      lat[i * G + j] = d.getLatencyMs();
      bw[i * G + j] = d.getBandwidthGbps();
    }
  p.latency_s.assign(size_t(n) * n, 0.0);
  p.bandwidth_gbps.assign(size_t(n) * n, 0.0);
  for (int a = 0; a < n; a++)
    for (int b = 0; b < n; b++) {
      const size_t gg = size_t(p.group_of[a]) * G + size_t(p.group_of[b]);
      p.latency_s[size_t(a) * n + b] = lat[gg] / 1000.0;
      p.bandwidth_gbps[size_t(a) * n + b] = bw[gg];
    }
}

double pick(double override_value, double file_value) { return override_value >= 0 ? override_value : file_value; }

void read_workload(schema::Topology::Reader t, const WorkloadOverrides& ov, Problem& p, const std::string& what) {
  Workload& w = p.work;
  const int n = p.n();
  w.stages = ov.stages > 0 ? ov.stages : int(t.getStages());
  check_input(w.stages > 0, what + ": the number of pipeline stages is not given (use --stages)");
  check_input(n % w.stages == 0, what + ": " + std::to_string(n) + " devices do not divide into " +
                                     std::to_string(w.stages) + " stages of equal size");
  // --stages alone re-derives the replicas from the device count.
  w.data_parallel = ov.data_parallel > 0 ? ov.data_parallel : ov.stages > 0 ? 0 : int(t.getDataParallel());
  if (w.data_parallel == 0) w.data_parallel = n / w.stages;
  check_input(int64_t(w.data_parallel) * w.stages == n,
              what + ": " + std::to_string(w.stages) + " stages x " + std::to_string(w.data_parallel) +
                  " data-parallel replicas is not the number of devices, " + std::to_string(n));
  w.activation_gb = pick(ov.activation_gb, t.getActivationGb());
  w.gradient_gb = pick(ov.gradient_gb, t.getGradientGb());
  w.compute_s = pick(ov.compute_s, t.getComputeS());
  w.stage_memory_gb = pick(ov.stage_memory_gb, t.getStageMemoryGb());
  for (auto [name, v] : {std::pair<const char*, double>{"activation_gb", w.activation_gb}, {"gradient_gb", w.gradient_gb},
                         {"compute_s", w.compute_s}, {"stage_memory_gb", w.stage_memory_gb}})
    check_input(std::isfinite(v) && v >= 0, what + ": " + name + " " + fmt(v) + " is not a finite non-negative number");
  p.best_known_cost_s = t.getBestKnownCostS();
}

void record_source(schema::Topology::Reader t, Problem& p) {
  p.source = std::make_shared<capnp::MallocMessageBuilder>();
  p.source->setRoot(t);
  auto b = p.source->getRoot<schema::Topology>();
  b.setVersion(current_version(FileKind::Topology));  // embedded in outputs as this build writes it
  b.setName(p.name);
  b.setStages(uint32_t(p.work.stages));
  b.setDataParallel(uint32_t(p.work.data_parallel));
  b.setActivationGb(p.work.activation_gb);
  b.setGradientGb(p.work.gradient_gb);
  b.setComputeS(p.work.compute_s);
  b.setStageMemoryGb(p.work.stage_memory_gb);
}

// The scenarios file's codec: its cases are Topology values inside a document of
// another shape, so they are decoded from the parsed JSON value, not through
// Message<T>::parse; unknown fields refused all the same.
capnp::JsonCodec& scenario_codec() {
  static capnp::JsonCodec* codec = [] {
    auto* c = new capnp::JsonCodec;  // neither copyable nor movable; lives for the program
    configure_json(*c, capnp::Schema::from<schema::Topology>());
    c->setRejectUnknownFields(true);
    c->setMaxNestingDepth(64);
    return c;
  }();
  return *codec;
}

}  // namespace

schema::Topology::Reader Problem::topology() const { return source->getRoot<schema::Topology>().asReader(); }

Problem load_problem(schema::Topology::Reader t, const WorkloadOverrides& ov, const std::string& what) {
  return guard_input(what, [&] {
    check_version(FileKind::Topology, t.getVersion(), what);
    Problem p;
    p.name = t.getName();
    read_devices(t, p, what);
    read_links(t, p, what);
    check_matrices(p, what);
    read_workload(t, ov, p, what);
    record_source(t, p);
    return p;
  });
}

Problem read_topology_file(const std::string& path, const WorkloadOverrides& ov) {
  return parse_topology_file(read_file(path, kSmallFileLimit * 4, "topology"), path, ov);
}

Problem parse_topology_file(Bytes bytes, const std::string& path, const WorkloadOverrides& ov) {
  const std::string what = "topology '" + path + "'";
  auto msg = Message<schema::Topology>::parse(std::move(bytes), what, UnknownFields::Refuse);
  return load_problem(msg.root(), ov, what);
}

namespace {

using capnp::JsonValue;

JsonValue::Reader field(JsonValue::Reader obj, const std::string& key) {
  for (auto f : obj.getObject())
    if (std::string(f.getName().cStr()) == key) return f.getValue();
  return JsonValue::Reader();
}

// Parses the scenarios file and checks its top-level keys.
struct ScenarioFile {
  capnp::MallocMessageBuilder mb;
  JsonValue::Reader root;
  ScenarioFile(const std::string& path) {
    const std::string what = "scenarios '" + path + "'";
    Bytes bytes = read_file(path, kSmallFileLimit, "scenarios");
    auto v = mb.initRoot<JsonValue>();
    try {
      scenario_codec().decodeRaw(kj::ArrayPtr<const char>(reinterpret_cast<const char*>(bytes.data()), bytes.size()), v);
    } catch (const kj::Exception& e) {
      bad_input(what + ": malformed JSON (" + std::string(e.getDescription().cStr()) + ")");
    }
    root = v.asReader();
    check_input(root.isObject(), what + ": not a JSON object");
    static const std::set<std::string> known = {"about", "cost_model", "stages", "data_parallel", "cases",
                                                "best_known_cost_s", "random_assignment_mean_cost_s"};
    for (auto f : root.getObject())
      check_input(known.count(f.getName().cStr()), what + ": unknown field '" + std::string(f.getName().cStr()) + "'");
    check_input(field(root, "cases").isArray(), what + ": no 'cases' array");
  }
};

}  // namespace

std::vector<std::string> scenario_names(const std::string& path) {
  ScenarioFile f(path);
  std::vector<std::string> names;
  for (auto c : field(f.root, "cases").getArray())
    if (c.isObject() && field(c, "name").isString()) names.push_back(field(c, "name").getString());
  return names;
}

Problem read_scenario(const std::string& path, const std::string& name, const WorkloadOverrides& ov) {
  ScenarioFile f(path);
  const std::string what = "scenarios '" + path + "': case '" + name + "'";
  JsonValue::Reader found;
  bool ok = false;
  for (auto c : field(f.root, "cases").getArray())
    if (c.isObject() && field(c, "name").isString() && name == field(c, "name").getString().cStr()) found = c, ok = true;
  if (!ok) {
    std::string list;
    for (const auto& s : scenario_names(path)) list += (list.empty() ? "" : ", ") + s;
    bad_input("scenarios '" + path + "': no case named '" + name + "' (cases: " + list + ")");
  }
  capnp::MallocMessageBuilder mb;
  auto t = mb.initRoot<schema::Topology>();
  try {
    scenario_codec().decode(found, capnp::toDynamic(t));
  } catch (const kj::Exception& e) {
    bad_input(what + ": malformed (" + std::string(e.getDescription().cStr()) + ")");
  }
  auto number = [&](const char* key) -> double {
    auto v = field(f.root, key);
    if (!v.isNumber()) return 0;
    return v.getNumber();
  };
  const double stages = number("stages"), dp = number("data_parallel");
  check_input(stages >= 0 && stages <= kMaxDevices && dp >= 0 && dp <= kMaxDevices,
              "scenarios '" + path + "': stages or data_parallel out of range");
  if (t.getStages() == 0) t.setStages(uint32_t(stages));
  if (t.getDataParallel() == 0) t.setDataParallel(uint32_t(dp));
  auto best = field(f.root, "best_known_cost_s");
  if (best.isObject() && field(best, name).isNumber()) t.setBestKnownCostS(field(best, name).getNumber());
  return load_problem(t.asReader(), ov, what);
}

}  // namespace pw::sched
