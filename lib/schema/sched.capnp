# Scheduler file formats (proofwork-files(5), TOPOLOGY, PARTITION, SCHEDULE): topology,
# partition (.pwg) and schedule (.pws).
#
# JSON names are snake_case ($Json.name) so that one case of the DT-FM scenarios file
# (dtfm-scenarios.json; a copy in tests/fixtures/sched) is itself a valid Topology in
# JSON form: groups with a device count and "intra" figures, "inter" group pairs,
# "inter_default". Readers reject unknown JSON fields (exit 3). Units: latency in
# milliseconds, bandwidth in Gbit/s, sizes in GB, times in seconds.
#
# Versions (proofwork-files(5), VERSIONS): each kind has a `version` field; writers stamp
# the current one, readers apply io/version.hpp's rule. A file without one (0: written
# before versions were recorded, or a topology written by hand) is read as version 1,
# the layout it was written in.

@0xd1b0c3a2e6f4a871;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("pw::sched::schema");  # its own namespace: names like Schedule and Stage are taken in pw::schema
using Json = import "/capnp/compat/json.capnp";
using PW = import "proofwork.capnp";

struct Link {
  latencyMs @0 :Float64 $Json.name("latency_ms");
  bandwidthGbps @1 :Float64 $Json.name("bandwidth_gbps");   # > 0
}

# A region, a node or any set of devices that share link figures.
struct Group {
  name @0 :Text;
  devices @1 :UInt32;          # how many devices (named NAME-0, NAME-1, ...) when the topology
                               # has no explicit device list; else 0 or the list's count
  intra @2 :Link;              # between two devices of this group
  speed @3 :Float64 = 1.0;     # relative compute speed of its devices (1: reference device)
  memoryGb @4 :Float64 $Json.name("memory_gb");   # device memory; 0: not limited
}

struct GroupLink {
  a @0 :Text;
  b @1 :Text;
  latencyMs @2 :Float64 $Json.name("latency_ms");
  bandwidthGbps @3 :Float64 $Json.name("bandwidth_gbps");
}

struct Device {
  name @0 :Text;
  group @1 :Text;              # a Group's name (its figures apply unless full matrices are given)
  speed @2 :Float64;           # 0: the group's speed
  memoryGb @3 :Float64 $Json.name("memory_gb");   # 0: the group's memory
}

# Devices, their links, and the workload to place on them.
struct Topology {
  name @0 :Text;
  groups @1 :List(Group);
  interDefault @2 :Link $Json.name("inter_default");   # any pair of groups not in `inter`
  inter @3 :List(GroupLink);
  devices @4 :List(Device);    # optional: explicit devices (else from the groups' counts)
  # Optional full n x n matrices over the devices (row i, column j), replacing the group
  # figures; the diagonal is ignored.
  latencyMs @5 :List(List(Float64)) $Json.name("latency_ms");
  bandwidthGbps @6 :List(List(Float64)) $Json.name("bandwidth_gbps");
  # The workload (each may also be given on the command line).
  stages @7 :UInt32;
  dataParallel @8 :UInt32 $Json.name("data_parallel");
  activationGb @9 :Float64 $Json.name("activation_gb");   # one stage to the next, per iteration
  gradientGb @10 :Float64 $Json.name("gradient_gb");       # one stage's all-reduce, per iteration
  computeS @11 :Float64 $Json.name("compute_s");          # one stage's compute per iteration at speed 1
  stageMemoryGb @12 :Float64 $Json.name("stage_memory_gb"); # memory one stage needs on a device
  bestKnownCostS @13 :Float64 $Json.name("best_known_cost_s");  # informative (scenarios file)
  version @14 :UInt32;         # topology format version; 0 (absent): 1
}

# DT-FM's cost of one iteration, seconds (see sched-partition(1) for the formulas).
struct Cost {
  dataP @0 :Float64 $Json.name("data_p_cost_s");
  pipelineP @1 :Float64 $Json.name("pipeline_p_cost_s");
  total @2 :Float64 $Json.name("cost_s");                 # dataP + 2 * pipelineP
  compute @3 :Float64 $Json.name("compute_s");            # sum over stages of compute_s / slowest speed
  iteration @4 :Float64 $Json.name("iteration_s");        # total + compute
}

struct Stage {
  devices @0 :List(UInt32);    # device indices, replica order
}

struct Partition {
  provenance @0 :PW.Provenance;
  topology @1 :Topology;
  stages @2 :List(Stage);      # in pipeline order
  cost @3 :Cost;
  seed @4 :UInt64;
  version @5 :UInt32;          # partition format version; 0 (absent): 1
}

struct Replica {
  devices @0 :List(UInt32);    # device per stage, pipeline order
  names @1 :List(Text);
}

struct Slowdown {
  factor @0 :Float64;          # latencies x factor, bandwidths / factor
  iteration @1 :Float64 $Json.name("iteration_s");
  ratio @2 :Float64;           # iteration time / iteration time at factor 1
}

struct Schedule {
  provenance @0 :PW.Provenance;
  topology @1 :Topology;
  stages @2 :List(Stage);          # pipeline order; stage k's i-th device serves replica i
  replicas @3 :List(Replica);
  matchingS @4 :List(Float64) $Json.name("matching_s");  # bottleneck matching, stage k to k+1
  cost @5 :Cost;
  slowdown @6 :List(Slowdown);
  seed @7 :UInt64;
  version @8 :UInt32;              # schedule format version; 0 (absent): 1
}
