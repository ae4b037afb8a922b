# sched-tsp --tsplib: output format, closed and open, JSON, -o/-f, determinism, an
# outside check of tour and length (Python, TSPLIB's nint), bad TSPLIB files, and the
# shapes of linhp318 (FIXED_EDGES_SECTION) and si535 (a comment after the type); the
# same tour on one thread and on two.
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
# two kick chains whatever the thread count: one thread and two give the same tour
sched-tsp --tsplib r60.tsp --closed --threads 1 -o t1.txt
sched-tsp --tsplib r60.tsp --closed --threads 2 -o t2.txt
cmp t1.txt t2.txt
cmp a.txt t1.txt
sched-tsp --tsplib r60.tsp --closed --kicks 300 --json | jq -e '.kicks == 600 and .time_capped == false' >/dev/null
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

# The shape of linhp318.tsp: a FIXED_EDGES_SECTION (edges every tour must use), here the
# diagonal 1-4 of a row of two squares, which no shortest tour takes by itself.
cat >hp.tsp <<'TSP'
NAME : linhp6
COMMENT : 6-city problem with a fixed edge
TYPE : TSP
DIMENSION : 6
EDGE_WEIGHT_TYPE : EUC_2D
NODE_COORD_SECTION
1 0 0
2 10 0
3 20 0
4 20 10
5 10 10
6 0 10
FIXED_EDGES_SECTION
     1    4
    -1
EOF
TSP
sched-tsp --tsplib hp.tsp --closed --json | jq -e '.length == 72 and (.tour[1] == 4 or .tour[-1] == 4)' >/dev/null
sched-tsp --tsplib hp.tsp --json | jq -e '.length == 62 and ((.tour | index([1, 4])) != null or (.tour | index([4, 1])) != null)' >/dev/null
# ... and beyond Held-Karp: 200 nodes, ten long fixed edges i-(201-i); the tour keeps each
python3 - <<'PY'
import random
r = random.Random(3)
with open("hp200.tsp", "w") as f:
    f.write("NAME: hp200\nTYPE: TSP\nDIMENSION: 200\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n")
    for i in range(200):
        f.write("%d %d %d\n" % (i + 1, r.randint(0, 5000), r.randint(0, 5000)))
    f.write("FIXED_EDGES_SECTION\n" + "".join("%d %d\n" % (i, 201 - i) for i in range(1, 11)) + "-1\nEOF\n")
PY
for mode in --closed --open; do
  sched-tsp --tsplib hp200.tsp $([ $mode = --closed ] && echo --closed) --json >hp200.json
  jq -e --arg m "$mode" '.tour as $t | ($t | length) as $n | [range(1; 11) as $i |
      (($t | index([$i])) - ($t | index([201 - $i]))) | fabs |
      (. == 1 or ($m == "--closed" and . == $n - 1))] | all' hp200.json >/dev/null
done
# Inconsistent fixed edges: exit 3, the line named, nothing written
fixed_bad() {  # fixed_bad EDGES PATTERN
  { head -12 hp.tsp; printf 'FIXED_EDGES_SECTION\n%s-1\nEOF\n' "$1"; } >fx.tsp
  expect_exit 3 sched-tsp --tsplib fx.tsp --closed -o never.txt
  expect_err "^sched-tsp: fx.tsp: line [0-9]+: FIXED_EDGES_SECTION: $2"
  test ! -e never.txt
}
fixed_bad $'1 2\n1 3\n1 6\n' "node 1 is on three fixed edges"
fixed_bad $'1 2\n2 3\n3 1\n' "edge 3-1 closes a subtour of 3 of the 6 nodes"
fixed_bad $'1 7\n' "node id 7 out of 1..6"
{ head -12 hp.tsp; printf 'FIXED_EDGES_SECTION\n1 2\nEOF\n'; } >fx.tsp
expect_exit 3 sched-tsp --tsplib fx.tsp
expect_err "missing the -1 that ends it"
# All six rim edges fixed: the closed tour is the rim; an open path cannot hold a cycle
{ head -12 hp.tsp; printf 'FIXED_EDGES_SECTION\n1 2\n2 3\n3 4\n4 5\n5 6\n6 1\n-1\n'; } >rim.tsp
test "$(sched-tsp --tsplib rim.tsp --closed | head -1)" = "length 60"
expect_exit 3 sched-tsp --tsplib rim.tsp -o never.txt
expect_err "^sched-tsp: rim.tsp: fixed edges: they form a closed tour, which an open path cannot hold"
test ! -e never.txt

# The shape of si535.tsp: a comment after the type, EXPLICIT UPPER_DIAG_ROW weights
printf 'NAME: si4\nTYPE: TSP (M.~Hofmeister)\nCOMMENT: Symmetric TSP\nDIMENSION: 4\nEDGE_WEIGHT_TYPE: EXPLICIT\nEDGE_WEIGHT_FORMAT: UPPER_DIAG_ROW\nEDGE_WEIGHT_SECTION\n0 1 9 1\n0 1 9\n0 1\n0\nEOF\n' >si.tsp
sched-tsp --tsplib si.tsp --closed --json | jq -e '.length == 4 and .name == "si4"' >/dev/null
printf 'NAME: x\nTYPE: ATSP (M.~Hofmeister)\nDIMENSION: 3\n' >atspc.tsp
bad atspc.tsp "unsupported TYPE 'ATSP"

# The published optima of the shared TSPLIB folder (Held-Karp: 16 nodes; the heuristic:
# 17 and 29 nodes). Without the folder the test fails, saying so.
T=$(shared_data tsplib)
sched-tsp --tsplib "$T/ulysses16.tsp" --closed --json | jq -e '.length == 6859 and .optimal_known' >/dev/null
test "$(sched-tsp --tsplib "$T/gr17.tsp" --closed | head -1)" = "length 2085"
test "$(sched-tsp --tsplib "$T/bayg29.tsp" --closed | head -1)" = "length 1610"
