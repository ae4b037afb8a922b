#!/usr/bin/env bash
# tests/bench/part-sched.sh: sched-partition / sched-tsp on DT-FM's network scenarios
# (proofwork(7), SCHEDULING), run by `make bench` (tests/bench/run.sh). Rows on stdout, progress on stderr.
#
#   1. each of the five scenarios of tests/fixtures/sched/dtfm-scenarios.json (a copy of
#      the DT-FM scenarios file): our cost and wall time (sched-partition,
#      default effort, seed 1, all cores), beside the mean cost of 100 random partitions
#      (each ordered by the TSP), the scenarios file's random-assignment mean, and its
#      best known cost (targets: cost <= best known, <= 10 s);
#   2. scale: 1,024 devices (32 regions of 32 at synthetic distances, generated here
#      with a fixed seed) in 32 stages, scheduled by sched-tsp --from-topology (target
#      <= 60 s), beside random partitions and the two constructions alone.
#
#   BIN=build SCRATCH=$(mktemp -d) bash tests/bench/part-sched.sh
#
# Environment: BIN (build directory), SCRATCH (an empty directory), SCHED_SCENARIOS
# (default: the fixture copy), BENCH_THREADS (default: nproc).
set -euo pipefail
: "${BIN:?set BIN to the build directory}" "${SCRATCH:?set SCRATCH to an empty directory}"
HERE=$(cd "$(dirname "$0")" && pwd)
SC=${SCHED_SCENARIOS:-$HERE/../fixtures/sched/dtfm-scenarios.json}
THREADS=${BENCH_THREADS:-$(nproc 2>/dev/null || echo 2)}
P=$BIN/sched-partition
T=$BIN/sched-tsp
for p in "$P" "$T"; do [ -x "$p" ] || { echo "part-sched: $p is missing; build first" >&2; exit 4; }; done
say() { echo "part-sched: $*" >&2; }
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }
calc() { awk "BEGIN { printf \"%s\", ($1) }" </dev/null; }
now() { date +%s.%N; }
cd "$SCRATCH"

for c in $(jq -r '.cases[].name' "$SC"); do
  say "$c"
  t0=$(now)
  "$P" --scenarios "$SC" --scenario "$c" --threads "$THREADS" --json -q > "$c.json"
  secs=$(calc "$(now) - $t0")
  ours=$(jq '.cost.cost_s' "$c.json")
  best=$(jq --arg c "$c" '.best_known_cost_s[$c]' "$SC")
  file_random=$(jq --arg c "$c" '.random_assignment_mean_cost_s[$c]' "$SC")
  "$P" --scenarios "$SC" --scenario "$c" --effort 0 --starts 1 --random-baseline 100 2>rb.txt >/dev/null
  random=$(sed -n 's/.*random partitions: mean cost \([0-9.]*\) s.*/\1/p' rb.txt)
  ok=$(calc "($ours <= $best + 0.0005 && $secs <= 10) ? \"yes\" : \"NO\"")
  row "DT-FM $c: cost (s) and wall time, sched-partition, seed 1, $THREADS threads" \
      "$(printf '%.3f s in %.2f s' "$ours" "$secs")" \
      "$(printf 'best known %.3f; random mean %.2f (100 partitions, TSP-ordered; file: %s)' "$best" "$random" "$file_random")" \
      "$(printf '%.4f× best known, %.3f× random' "$(calc "$ours / $best")" "$(calc "$ours / $random")")" \
      "≤ best known, ≤ 10 s: $ok"
done

say "scale: 1024 devices, 32 stages"
python3 - <<'PY'
import json, math, random
rng = random.Random(5)
R, per = 32, 32
pts = [(rng.uniform(0, 150), rng.uniform(0, 60)) for _ in range(R)]
groups = [{"name": f"r{i}", "devices": per,
           "intra": {"latency_ms": round(rng.uniform(0.5, 5), 2), "bandwidth_gbps": rng.choice([10, 25, 40, 100])}}
          for i in range(R)]
inter = []
for i in range(R):
    for j in range(i + 1, R):
        d = math.dist(pts[i], pts[j])
        inter.append({"a": f"r{i}", "b": f"r{j}", "latency_ms": round(2 + d, 2),
                      "bandwidth_gbps": round(max(0.2, 2.0 - d / 100) * rng.uniform(0.7, 1.3), 3)})
json.dump({"name": "synthetic-1024", "groups": groups, "inter": inter, "stages": 32,
           "activation_gb": 0.25, "gradient_gb": 0.5}, open("scale.json", "w"))
PY
t0=$(now)
"$T" --from-topology scale.json --threads "$THREADS" --json -q > scale-schedule.json
secs=$(calc "$(now) - $t0")
ours=$(jq '.cost.cost_s' scale-schedule.json)
"$P" scale.json --effort 0 --starts 1 --random-baseline 20 2>rb.txt >/dev/null
random=$(sed -n 's/.*random partitions: mean cost \([0-9.]*\) s.*/\1/p' rb.txt)
tr=$("$P" scale.json --effort 0 --starts 1 --construction transposed --json -q | jq '.cost.cost_s')
ra=$("$P" scale.json --effort 0 --starts 1 --construction region-aware --json -q | jq '.cost.cost_s')
ok=$(calc "($secs <= 60) ? \"yes\" : \"NO\"")
row "Scale: 1,024 devices (32 regions × 32) in 32 stages, sched-tsp --from-topology, $THREADS threads" \
    "$(printf '%.3f s cost in %.1f s' "$ours" "$secs")" \
    "$(printf 'random mean %.2f (20); transposed alone %.3f; region-aware alone %.3f' "$random" "$tr" "$ra")" \
    "$(printf '%.3f× random' "$(calc "$ours / $random")")" \
    "≤ 60 s: $ok"
