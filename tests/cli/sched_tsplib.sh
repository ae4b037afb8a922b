# sched-tsp --tsplib: output format, closed and open, JSON, -o/-f, determinism, an
# outside check of tour and length (Python, TSPLIB's nint), and bad TSPLIB files.
cat >sq.tsp <<'EOF'
NAME : square
TYPE : TSP
DIMENSION : 4
EDGE_WEIGHT_TYPE : EUC_2D
NODE_COORD_SECTION
1 0 0
2 0 10
3 10 10
4 10 0
EOF
sched-tsp --tsplib sq.tsp --closed >out.txt
test "$(head -1 out.txt)" = "length 40"
test "$(sed -n 2p out.txt)" = 1                       # a closed tour starts at node 1
test "$(tail -n +2 out.txt | sort -n | tr '\n' ' ')" = "1 2 3 4 "
sched-tsp --tsplib sq.tsp >open.txt                   # open path: three edges of 10
test "$(head -1 open.txt)" = "length 30"
test "$(wc -l <open.txt)" -eq 5

# JSON, and the same instance from stdin with "KEY: value" headers and EXPLICIT weights
cat >five.tsp <<'EOF'
NAME: five
TYPE: TSP
COMMENT: weights chosen so the best closed tour is 1 2 3 4 5 (length 5 + 5 + 5 + 5 + 5)
DIMENSION: 5
EDGE_WEIGHT_TYPE: EXPLICIT
EDGE_WEIGHT_FORMAT: LOWER_DIAG_ROW
EDGE_WEIGHT_SECTION
 0
 5 0
 9 5 0
 9 9 5 0
 5 9 9 5 0
EOF
sched-tsp --tsplib - --closed --json <five.tsp >five.json
jq -e '.length == 25 and .optimal_known == true and .closed == true and .name == "five" and (.tour | sort) == [1,2,3,4,5]' five.json >/dev/null
sched-tsp --tsplib five.tsp --json | jq -e '.length == 20 and .closed == false and (.tour | length) == 5' >/dev/null

# A 60-node instance: beyond Held-Karp. The tour is a permutation and its length is
# recomputed here; the same seed gives the same file, and no worse than without kicks.
python3 - <<'PY'
import random
r = random.Random(7)
with open("r60.tsp", "w") as f:
    f.write("NAME : r60\nTYPE : TSP\nDIMENSION : 60\nEDGE_WEIGHT_TYPE : EUC_2D\nNODE_COORD_SECTION\n")
    for i in range(60):
        f.write("%d %.1f %.1f\n" % (i + 1, r.uniform(0, 1000), r.uniform(0, 1000)))
    f.write("EOF\n")
PY
sched-tsp --tsplib r60.tsp --closed -o a.txt
sched-tsp --tsplib r60.tsp --closed -o b.txt --seed 1
cmp a.txt b.txt
sched-tsp --tsplib r60.tsp --closed --kicks 0 -o nokick.txt
python3 - <<'PY'
import math
pts = {}
for line in open("r60.tsp"):
    f = line.split()
    if len(f) == 3 and f[0].isdigit():
        pts[int(f[0])] = (float(f[1]), float(f[2]))
def length(path):
    lines = open(path).read().split("\n")
    assert lines[0].startswith("length "), lines[0]
    tour = [int(x) for x in lines[1:] if x]
    assert sorted(tour) == list(range(1, 61)), "not a permutation"
    d = lambda a, b: int(math.sqrt((pts[a][0] - pts[b][0]) ** 2 + (pts[a][1] - pts[b][1]) ** 2) + 0.5)
    total = sum(d(tour[i], tour[(i + 1) % 60]) for i in range(60))
    assert int(lines[0].split()[1]) == total, (lines[0], total)
    return total
assert length("a.txt") <= length("nokick.txt")
PY

# -o: no overwrite without -f; an error writes nothing
expect_exit 2 sched-tsp --tsplib sq.tsp -o a.txt
expect_err "exists"
sched-tsp --tsplib sq.tsp -o a.txt -f
test "$(head -1 a.txt)" = "length 30"
expect_exit 0 sched-tsp --help
expect_exit 0 sched-tsp --version

# Bad input: exit 3, `sched-tsp: FILE: line N: reason`, no output file
bad() {  # bad NAME PATTERN: the file NAME is refused with a message matching PATTERN
  expect_exit 3 sched-tsp --tsplib "$1" --closed -o never.txt
  expect_err "^sched-tsp: $1: line [0-9]+: $2"
  test ! -e never.txt
}
printf 'NAME: x\nTYPE: ATSP\nDIMENSION: 3\n' >atsp.tsp
bad atsp.tsp "unsupported TYPE 'ATSP'"
printf 'NAME: x\nTYPE: TSP\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n1 0 0\n' >nodim.tsp
bad nodim.tsp "NODE_COORD_SECTION before DIMENSION"
printf 'NAME: x\nTYPE: TSP\nEDGE_WEIGHT_TYPE: EUC_2D\n' >nodim2.tsp
bad nodim2.tsp "missing DIMENSION"
printf 'NAME: x\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n1 0 0\n2 1 1\nEOF\n' >short.tsp
bad short.tsp "short NODE_COORD_SECTION: expected 9 numbers, found 6"
printf 'NAME: x\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n1 0 0\n2 1 1,5\n3 0 0\n' >nan.tsp
bad nan.tsp "NODE_COORD_SECTION: not a number: '1,5'"
printf 'NAME: x\nTYPE: TSP\nDIMENSION: 1000000\n' >big.tsp
bad big.tsp "DIMENSION 1000000 exceeds the limit of 20000"
printf 'NAME: x\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EUC_3D\n' >e3d.tsp
bad e3d.tsp "unsupported EDGE_WEIGHT_TYPE 'EUC_3D'"
printf 'NAME: x\nTYPE: TSP\nDIMENSION: 2\nEDGE_WEIGHT_TYPE: EXPLICIT\nEDGE_WEIGHT_FORMAT: FULL_MATRIX\nEDGE_WEIGHT_SECTION\n0 1\n2 0\n' >asym.tsp
bad asym.tsp "FULL_MATRIX is not symmetric"
expect_exit 3 sched-tsp --tsplib missing.tsp
expect_err "^sched-tsp: .*missing.tsp"

# The published optima of the shared TSPLIB folder (Held-Karp: 16 nodes; the heuristic:
# 17 and 29 nodes). Without the folder the test fails, saying so.
T=$(shared_data tsplib)
sched-tsp --tsplib "$T/ulysses16.tsp" --closed --json | jq -e '.length == 6859 and .optimal_known' >/dev/null
test "$(sched-tsp --tsplib "$T/gr17.tsp" --closed | head -1)" = "length 2085"
test "$(sched-tsp --tsplib "$T/bayg29.tsp" --closed | head -1)" = "length 1610"
