// The scheduler's inputs (proofwork(7), SCHEDULING): devices and their links, and the
// workload to place on them. Read from a Topology file (lib/schema/sched.capnp, binary or
// JSON) or from one case of the DT-FM scenarios file, and checked: the version, square
// matrices, finite non-negative latencies, positive bandwidths, group sizes that divide.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <capnp/dynamic.h>
#include <capnp/message.h>

#include "io/file.hpp"
#include "io/version.hpp"
#include "schema/sched.capnp.h"

namespace pw::sched {

struct Device {
  std::string name;
  std::string group;     // region / node name
  double speed = 1.0;    // relative compute speed
  double memory_gb = 0;  // 0: not limited
};

struct Workload {
  int stages = 0;           // S: pipeline stages
  int data_parallel = 0;    // D: replicas; S * D = number of devices
  double activation_gb = 0; // sent by one stage to the next, per iteration
  double gradient_gb = 0;   // all-reduced by one stage, per iteration
  double compute_s = 0;     // one stage's compute per iteration at speed 1 (0: not modelled)
  double stage_memory_gb = 0;  // a stage's memory need on each of its devices (0: none)
};

struct Problem {
  std::string name;
  std::vector<Device> devices;          // n devices
  std::vector<int> group_of;            // device -> index into group_names
  std::vector<std::string> group_names;
  std::vector<double> latency_s;        // n x n, row-major, seconds
  std::vector<double> bandwidth_gbps;   // n x n, row-major, Gbit/s
  Workload work;
  double best_known_cost_s = 0;         // informative, from the scenarios file
  // The topology as read (with the workload fields as resolved), to embed in outputs.
  std::shared_ptr<capnp::MallocMessageBuilder> source;

  int n() const { return int(devices.size()); }
  schema::Topology::Reader topology() const;
};

// Command-line overrides of the workload (0 / negative: keep the file's value).
struct WorkloadOverrides {
  int stages = 0, data_parallel = 0;
  double activation_gb = -1, gradient_gb = -1, compute_s = -1, stage_memory_gb = -1;
};

constexpr int kMaxDevices = 4096;


// Builds and validates a problem from a Topology struct (bad input, exit 3, on any
// inconsistency or a version this build does not read; `what` names the source in
// messages).
Problem load_problem(schema::Topology::Reader t, const WorkloadOverrides& ov, const std::string& what);

// A Topology file, binary or JSON (unknown JSON fields rejected).
Problem read_topology_file(const std::string& path, const WorkloadOverrides& ov);
// read_topology_file of bytes already read (at most 4 * kSmallFileLimit), `path` naming them.
Problem parse_topology_file(Bytes bytes, const std::string& path, const WorkloadOverrides& ov);

// One case of the DT-FM scenarios file (dtfm-scenarios.json), read directly: top-level
// stages and data_parallel, the case's groups and links, and its best_known_cost_s.
// Unknown fields anywhere are bad input.
Problem read_scenario(const std::string& path, const std::string& name, const WorkloadOverrides& ov);
std::vector<std::string> scenario_names(const std::string& path);

}  // namespace pw::sched
