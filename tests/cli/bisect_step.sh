# pol-bisect: a step-level dispute (both sides compute the disputed step alike, but one
# side's checkpoint is not its own computation) is ruled by 'pol-bisect replay' from the
# file alone: the file carries the agreed state before the step and the step's batch,
# bound by the hashes both sides gave (proofwork(7), DISPUTES).
make_tiny_task task.pwt --steps 64 --checkpoint-every 8
pol-train task.pwt -o honest -q
pol-forge task.pwt -o faulty -q --inject-fault 57:3:5
# The reproducer: no --fault-b, so side B answers honestly although its proof is not.
expect_exit 0 pol-bisect task.pwt honest faulty -o d.pwd
# Side B computes every step honestly: the two sides differ only on the claimed checkpoint
# 64, so the disputed step is the one before it, 63.
expect_err "both sides compute step 63 alike; the state claimed at step 64 is not its side's computation"
expect_err "basis: step 63 recomputed from the agreed state"
expect_exit 0 pol-bisect replay d.pwd
expect_err "step 63 \(step level\): referee state [0-9a-f]+…; A is right"
expect_exit 0 pol-bisect replay d.pwd --json -q
/usr/bin/env python3 - <<'PY'
import json
r = json.load(open("out"))
assert r["level"] == "step" and r["step"] == 63 and r["right"] == "A" and r["op"] == -1, r
PY
# The dishonest side as A: B is right, exit 1, in the bisection and in the replay.
expect_exit 1 pol-bisect task.pwt faulty honest -o swapped.json --json -q
expect_exit 1 pol-bisect replay swapped.json
expect_err "B is right"
# The replay does not need the dataset: the batch is in the file.
mkdir -p elsewhere && cp d.pwd elsewhere/ && (cd elsewhere && expect_exit 0 pol-bisect replay d.pwd -q)

# A file whose evidence is not what both sides agreed on is bad input, not a ruling.
pol-bisect task.pwt honest faulty -o d.json --json -q
pol-forge task.pwt -o faulty2 -q --inject-fault 41:3:5
pol-bisect task.pwt honest faulty2 -o d2.json --json -q
/usr/bin/env python3 - <<'PY'
import json
d, o = json.load(open("d.json")), json.load(open("d2.json"))
assert d["step"] == 63 and o["step"] == 47 and "opKind" not in d, (d["step"], o["step"])
assert d["formatVersion"] == 2 and len(d["stateBefore"]) == 8 and len(d["batch"]) == 2
x = json.loads(json.dumps(d)); x["stateBefore"] = o["stateBefore"]; json.dump(x, open("otherstate.json", "w"))
x = json.loads(json.dumps(d)); x["batch"] = o["batch"]; json.dump(x, open("otherbatch.json", "w"))
x = json.loads(json.dumps(d)); x["stateBefore"] = x["stateBefore"][:7]; json.dump(x, open("short.json", "w"))
x = json.loads(json.dumps(d)); del x["stateBefore"]; del x["batch"]; json.dump(x, open("nostate.json", "w"))
x["formatVersion"] = 1; json.dump(x, open("v1.json", "w"))
# the claims after the step: drop the round that shows them
x = json.loads(json.dumps(d))
x["rounds"] = [r for r in x["rounds"] if r.get("agree", False) or r["level"] == "op"]
json.dump(x, open("noclaims.json", "w"))
# claim the state both sides agreed on is another: change side B's answer before the step
x = json.loads(json.dumps(d))
for r in x["rounds"]:
    if r["level"] == "step" and r["probe"] == 63: r["hashB"] = "00" * 32
json.dump(x, open("noagreed.json", "w"))
PY
expect_exit 3 pol-bisect replay otherstate.json
expect_err "stateBefore is not the state both sides agreed on before step 63"
expect_exit 3 pol-bisect replay otherbatch.json
expect_err "does not give the op chain both sides agreed on"
expect_exit 3 pol-bisect replay short.json
expect_err "stateBefore holds 7 tensors, the task's 8"
expect_exit 3 pol-bisect replay nostate.json
expect_err "carries no agreed state to recompute step 63 from"
# A version-1 step-level dispute is read by the version rule, and refused for what it lacks.
expect_exit 3 pol-bisect replay v1.json
expect_err "before format version 2"
expect_exit 3 pol-bisect replay noclaims.json
expect_err "no round shows the two sides' differing claims after step 63"
expect_exit 3 pol-bisect replay noagreed.json
expect_err "no round shows both sides agreeing on the state before step 63"
