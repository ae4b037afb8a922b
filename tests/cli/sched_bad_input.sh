# Bad topologies, partitions and scenarios: exit 3 with `program: context: reason`,
# nothing written; usage errors exit 2; a stage that fits no device is a "no" (exit 1).
SC="$FIXTURES/sched/dtfm-scenarios.json"
ok='"groups": [{"name": "A", "devices": 4, "intra": {"latency_ms": 1, "bandwidth_gbps": 5}}]'

echo "{$ok, \"stages\": 3}" > divide.json
expect_exit 3 sched-partition divide.json -o out.pwg
expect_err "^sched-partition: topology 'divide.json': 4 devices do not divide into 3 stages"
[ ! -e out.pwg ]

echo '{"devices": [{"name": "a"}, {"name": "b"}], "latency_ms": [[0, 1], [1, 0], [1, 1]], "bandwidth_gbps": [[0, 1], [1, 0]], "stages": 1}' > nonsquare.json
expect_exit 3 sched-partition nonsquare.json
expect_err "latency_ms: 3 rows for 2 devices \(the matrix must be square"

echo '{"groups": [{"name": "A", "devices": 4, "intra": {"latency_ms": 1, "bandwidth_gbps": -2}}], "stages": 2}' > negbw.json
expect_exit 3 sched-tsp --from-topology negbw.json
expect_err "^sched-tsp: topology 'negbw.json': group 'A' intra: bandwidth -2 Gbit/s is not a finite positive number"

echo "{$ok, \"stages\": 2, \"colour\": \"red\"}" > unknown.json
expect_exit 3 sched-partition unknown.json
expect_err "topology 'unknown.json': malformed .*colour"

echo "{$ok, \"stages\": 2" > truncated.json
expect_exit 3 sched-partition truncated.json
head -c 100 /dev/urandom > garbage.bin
expect_exit 3 sched-partition garbage.bin --stages 2
expect_exit 3 sched-partition missing.json
expect_err "missing.json"

# The scenarios file: an unknown case, an unknown field, a case with a negative bandwidth.
expect_exit 3 sched-partition --scenarios "$SC" --scenario case9
expect_err "no case named 'case9' \(cases: case1-datacenter, "
jq '.extra = 1' "$SC" > extra.json
expect_exit 3 sched-partition --scenarios extra.json --scenario case1-datacenter
expect_err "unknown field 'extra'"
jq '.cases[0].inter_default.bandwidth_gbps = -1' "$SC" > neg.json
expect_exit 3 sched-partition --scenarios neg.json --scenario case1-datacenter
expect_err "inter_default: bandwidth -1"
jq '.cases[2].groups[0].devices = 31' "$SC" > odd.json
expect_exit 3 sched-partition --scenarios odd.json --scenario case3-multi-university
expect_err "63 devices do not divide into 8 stages"

# Partitions: a device twice, a wrong group count, an index out of range, a version
# newer than this build (of the partition or of its topology). bad_partition NAME EDIT
# PATTERN: p.json changed by the jq program EDIT is refused by sched-tsp, exit 3 with a
# message matching PATTERN, and nothing is written.
echo "{$ok, \"stages\": 2}" > topo.json
sched-partition topo.json --json -o p.json -q
bad_partition() {
  jq "$2" p.json > "$1"
  expect_exit 3 sched-tsp "$1" -o s.pws
  expect_err "$3"
  [ ! -e s.pws ]
}
bad_partition twice.json '.stages[1].devices[0] = .stages[0].devices[0]' "is in two stage groups"
bad_partition short.json '.stages |= .[0:1]' "1 stage groups, the topology says 2"
bad_partition range.json '.stages[0].devices[0] = 99' "device index 99 out of range"
[ "$(jq .version p.json)" = 1 ] && [ "$(jq .topology.version p.json)" = 1 ]
bad_partition p2.json '.version = 2' \
  "^sched-tsp: partition 'p2.json': partition format version 2 is newer than this build reads \(1\); upgrade proofwork"
bad_partition t2.json '.topology.version = 2' "partition 't2.json': topology: topology format version 2 is newer"
# Without versions (written before they were recorded): read as version 1.
jq 'del(.version) | del(.topology.version)' p.json > p0.json
sched-tsp p0.json --no-refine -q -o s0.pws
[ -s s0.pws ]

# Topologies: a version newer than this build is refused; a hand-written one needs none,
# and version 1 is accepted.
echo "{$ok, \"stages\": 2, \"version\": 9}" > v9.json
expect_exit 3 sched-partition v9.json -o never.pwg
expect_err "^sched-partition: topology 'v9.json': topology format version 9 is newer than this build reads \(1\); upgrade proofwork"
[ ! -e never.pwg ]
echo "{$ok, \"stages\": 2, \"version\": 1}" > v1.json
sched-partition v1.json -q

# Usage errors.
expect_exit 2 sched-partition
expect_err "no input"
expect_exit 2 sched-partition topo.json --scenarios "$SC" --scenario case1-datacenter
expect_exit 2 sched-partition --scenario case1-datacenter
expect_exit 2 sched-tsp
expect_exit 2 sched-partition topo.json --objective speed

# Memory: a stage needs more than a device has.
echo '{"groups": [{"name": "A", "devices": 4, "memory_gb": 8, "intra": {"latency_ms": 1, "bandwidth_gbps": 5}}], "stages": 2, "stage_memory_gb": 12}' > mem.json
expect_exit 1 sched-partition mem.json
expect_err "no schedule fits: device A-0 has 8"

# --help and --version.
sched-partition --help | grep -q -- "--scenarios"
sched-tsp --help | grep -q -- "--tsplib"
sched-tsp --version | grep -q proofwork
