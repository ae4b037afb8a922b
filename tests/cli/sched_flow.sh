# sched-partition then sched-tsp: a topology file and a DT-FM scenario, text and JSON
# output, the cost at the best known value, the same result for a seed, -o and -f.
SC="$FIXTURES/sched/dtfm-scenarios.json"

# A scenario read directly: the best known cost, 8 stages of 8 distinct devices.
sched-partition --scenarios "$SC" --scenario case3-multi-university --effort 0.3 -q > part.txt
grep -q "^cost 12.266 s = DataPCost 2.814 + 2 x PipelinePCost 4.726  (best known 12.266)" part.txt
[ "$(grep -c '^stage ' part.txt)" = 8 ]
[ "$(grep '^stage ' part.txt | cut -d: -f2 | tr ' ' '\n' | grep -c .)" = 64 ]
[ "$(grep '^stage ' part.txt | cut -d: -f2 | tr ' ' '\n' | grep . | sort -u | wc -l)" = 64 ]

# The partition file, binary and JSON; sched-tsp reads both and gives the same schedule.
sched-partition --scenarios "$SC" --scenario case3-multi-university --effort 0.3 -q -o p.pwg
sched-partition --scenarios "$SC" --scenario case3-multi-university --effort 0.3 -q --json -o p.json
jq -e '.cost.cost_s > 12.265 and .cost.cost_s < 12.2661 and (.stages | length) == 8' p.json > /dev/null
sched-tsp p.pwg --no-refine > s1.txt
sched-tsp p.json --no-refine > s2.txt
cmp s1.txt s2.txt
grep -q "^stage order: optimal (Held-Karp)" s1.txt
[ "$(grep -c '^replica ' s1.txt)" = 8 ]
grep -q "^network 100x slower: iteration 1226.586 s (100.00x)" s1.txt

# The schedule as JSON: every replica has a device per stage, each device used once.
sched-tsp p.json --effort 0.2 --json -o sched.json -q
jq -e '(.replicas | length) == 8 and all(.replicas[]; (.devices | length) == 8)' sched.json > /dev/null
[ "$(jq '[.replicas[].devices[]] | unique | length' sched.json)" = 64 ]
jq -e '.cost.cost_s <= 12.2661 and (.matching_s | length) == 7 and (.slowdown | length) == 2' sched.json > /dev/null

# No overwrite without -f; an input is never an output.
expect_exit 2 sched-tsp p.json -o sched.json
expect_err "exists"
sched-tsp p.json --no-refine -o sched.json -f -q
expect_exit 2 sched-partition --scenarios "$SC" --scenario case1-datacenter -o "$SC" -f

# Deterministic for a seed: the same schedule twice (with 1 and 2 threads).
sched-tsp --scenarios "$SC" --scenario case5-worldwide --effort 0.2 --seed 3 --threads 1 --json | jq -c '.replicas, .cost' > a.json
sched-tsp --scenarios "$SC" --scenario case5-worldwide --effort 0.2 --seed 3 --threads 2 --json | jq -c '.replicas, .cost' > b.json
cmp a.json b.json
jq -e 'objects | .cost_s <= 58.6665' a.json > /dev/null

# Our own topology format: devices with compute speed, groups with link figures.
cat > topo.json <<'JSON'
{ "name": "two-sites",
  "groups": [{"name": "east", "devices": 4, "intra": {"latency_ms": 1, "bandwidth_gbps": 10}, "speed": 2},
             {"name": "west", "devices": 4, "intra": {"latency_ms": 1, "bandwidth_gbps": 10}, "speed": 1}],
  "inter": [{"a": "east", "b": "west", "latency_ms": 40, "bandwidth_gbps": 0.5}],
  "stages": 2, "activation_gb": 0.1, "gradient_gb": 0.5, "compute_s": 1 }
JSON
sched-partition topo.json -q > t.txt
# Each site one stage: DataPCost 3 * 2 * (0.001 + 4/40) = 0.606; hop 0.04 + 0.8/0.5 = 1.64.
grep -q "^cost 3.886 s = DataPCost 0.606 + 2 x PipelinePCost 1.640" t.txt
grep -q "^iteration 5.386 s = cost + compute 1.500" t.txt
sched-tsp --from-topology topo.json --slowdown 10 -q > t2.txt
grep -q "^network 10x slower: iteration 40.360 s (7.49x)" t2.txt
# Flags override the file's workload.
sched-partition topo.json --stages 4 -q | grep -q "4 stages x 2 data-parallel replicas"
