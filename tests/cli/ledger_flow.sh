# ledger-settle end to end: examples/market-flow.sh on the tiny fixture (an honest task
# paid, a dishonest proof caught by a whistleblower's dispute, the solver and the lying
# verifier slashed, a forged ruling refused), then checks of the settlement file it leaves.
FASHION_MNIST="$FIXTURES/tiny" MARKET_STEPS=30 DEMO_DIR="$PWD/m" bash "$HERE/../../examples/market-flow.sh" > flow.log
grep -q "every step behaved as documented" flow.log
cd m
/usr/bin/env python3 - <<'PY'
import json
s = json.load(open("settlement.json"))
keys = {name: open(f"keys/{name}.pub").read().strip() for name in
        ["submitter", "solver", "verifier", "verifier2", "whistleblower"]}
free = {a["key"]: int(a["free"]) for a in s["accounts"]}
locked = sum(int(a["locked"]) for a in s["accounts"])
# supply conserved: five deposits of 10000
assert int(s["supply"]) == 50000, s["supply"]
assert sum(free.values()) + locked + int(s["jackpot"]) == 50000
assert locked == 0, locked
tasks = s["tasks"]
assert [t["outcome"] for t in tasks] == ["honest", "wrong"], [t["outcome"] for t in tasks]
slashed = {(p["role"], p["account"]) for p in tasks[1]["payments"] if int(p["slashed"]) > 0}
assert ("solver", keys["solver"]) in slashed and ("verifier", keys["verifier"]) in slashed, slashed
paid = {p["account"]: int(p["paid"]) for p in tasks[1]["payments"] if p["role"] == "whistleblower"}
assert paid[keys["whistleblower"]] == 100 + 550, paid
PY
# The ledger validates on its own, and a second settle appends nothing.
before=$(stat -c %s ledger/events.log)
expect_exit 0 ledger-settle settle ledger -k keys/operator.key
grep -q "nothing to settle" out
test "$(stat -c %s ledger/events.log)" = "$before"
# The referee's ruling is recomputed on validation: a dispute file swapped for another
# one no longer hashes to its name, and the ledger is refused.
d=$(ls ledger/disputes/*.pwd)
cp "$d" saved.pwd
printf 'x' >> "$d"
expect_exit 3 ledger-settle validate ledger
expect_err "dispute"
cp saved.pwd "$d"
expect_exit 0 ledger-settle validate ledger -q
# A dispute of a newer version than this build reads is refused before any event.
before=$(stat -c %s ledger/events.log)
pol-show saved.pwd > d.json
/usr/bin/env python3 - <<'PY'
import json
d = json.load(open("d.json"))
assert d["formatVersion"] == 2, d["formatVersion"]
d["formatVersion"] = 4
json.dump(d, open("newer.json", "w"))
PY
expect_exit 3 ledger-settle challenge ledger -k keys/whistleblower.key --task-id 1 --dispute newer.json
expect_err "dispute format version 4 is newer"
test "$(stat -c %s ledger/events.log)" = "$before"
