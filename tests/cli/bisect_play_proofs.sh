# pol-bisect play: each side's checkpoint answers travel with Merkle inclusion paths under
# its published root, and its manifest travels with them; an answer that its own root
# does not bind loses the dispute by itself, in the next move and in the replay
# (proofwork(7), DISPUTES).
make_tiny_task task.pwt
pol-train task.pwt -o A -q
pol-forge task.pwt -o B -q --inject-fault 25:3:1
pol-bisect play task.pwt A --side a -o t1.json --json -q
pol-bisect play task.pwt B --side b --fault 25:3:1 --transcript t1.json -o t2.json --json -q
/usr/bin/env python3 - <<'PY'
import json
t1, t2 = json.load(open("t1.json")), json.load(open("t2.json"))
assert "manifestA" in t1 and "manifestB" not in t1, sorted(t1)
assert "manifestA" in t2 and "manifestB" in t2
ck = [r for r in t2["rounds"] if r["level"] == "checkpoint"]
assert len(ck) == 2 and all(r.get("proofB") for r in ck), ck
assert ck[0]["probe"] == 4 and ck[0]["hashA"] != ck[0]["hashB"]
# Side B pretends to agree on the final checkpoint: its answer is side A's.
f = json.loads(json.dumps(t2))
f["rounds"][0]["hashB"] = f["rounds"][0]["hashA"]
json.dump(f, open("forged.json", "w"))
# ... and sends side A's path with it: that binds the answer to A's root, not B's.
f["rounds"][0]["proofB"] = f["rounds"][0]["proofA"]
json.dump(f, open("forged-path.json", "w"))
# A manifest that its root is not: bad input, not a ruling.
g = json.loads(json.dumps(t2))
g["manifestB"]["checkpoints"][1]["stateHash"] = "00" * 32
json.dump(g, open("badmanifest.json", "w"))
g = json.loads(json.dumps(t2)); del g["manifestB"]
json.dump(g, open("nomanifest.json", "w"))
PY
for f in forged forged-path; do
  expect_exit 0 pol-bisect play task.pwt A --side a --transcript $f.json -o end-$f.json --json
  grep -q '"complete": true' out
  grep -q '"winner": "A"' out
  expect_err "side B's answer at checkpoint 4 does not match its own root \(its Merkle inclusion proof fails\): it loses by itself"
  # The referee finds the same in the file alone.
  expect_exit 0 pol-bisect replay end-$f.json
  expect_err "A is right.*loses by itself"
done
expect_exit 3 pol-bisect play task.pwt A --side a --transcript badmanifest.json -o x.json
expect_err "its manifest's Merkle root is not the side's root"
expect_exit 3 pol-bisect play task.pwt A --side a --transcript nomanifest.json -o x.json
expect_err "side B's manifest is missing"
test ! -e x.json

# The honest exchange to its end; then side B's answer in the finished dispute is forged
# after the fact: the referee rules against B without recomputing anything.
cp t2.json t2.pwd
i=2; side=a; proof=A; fault=
while :; do
  n=$((i + 1))
  set +e; pol-bisect play task.pwt $proof --side $side $fault --transcript t$i.json -o t$n.json --json -q > st.json; rc=$?; set -e
  grep -q '"waiting_for"' st.json || break
  i=$n
  if [ $side = b ]; then side=a; proof=A; fault=; else side=b; proof=B; fault="--fault 25:3:1"; fi
  test "$i" -lt 40
done
test "$rc" -eq 0
expect_exit 0 pol-bisect replay t$n.json
expect_err "op 3 \(linear_forward\).*A is right"
/usr/bin/env python3 - "t$n.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ck = [r for r in d["rounds"] if r["level"] == "checkpoint"]
assert ck and all(r.get("proofA") and r.get("proofB") for r in ck)
ck[-1]["hashA"] = "11" * 32   # side A's last checkpoint answer, forged
json.dump(d, open("late.json", "w"))
PY
expect_exit 1 pol-bisect replay late.json
expect_err "B is right.*side A's answer at checkpoint [0-9]+ does not match its own root"
