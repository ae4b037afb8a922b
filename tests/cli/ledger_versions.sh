# Ledger versions (man ledger-settle, FILES): a ledger and an event file written before
# versions were recorded (tests/fixtures/ledger-v0) read as version 1, validate and stay
# appendable with their records' bytes untouched; what this build writes carries version
# 1; an event file of a newer version is refused (exit 3, "newer"), nothing appended.
cp -r "$FIXTURES/ledger-v0" v0
cd v0
chmod 600 op.key
old=$(stat -c %s L/events.log)
expect_exit 0 ledger-settle validate L -q
grep -q "2 events" out
expect_exit 0 ledger-settle append L deposit.json -q          # an old event file
expect_exit 0 ledger-settle deposit L -k op.key --to alice.pub --amount 7 --json -q
/usr/bin/env python3 - <<'PY'
import json
e = json.loads(open("out").read())
assert e["seq"] == 3 and e["kind"] == "deposit" and len(e["hash"]) == 64, e
PY
expect_exit 0 ledger-settle validate L --json -q
/usr/bin/env python3 - <<'PY'
import json
s = json.load(open("out"))
assert s["events"] == "4", s["events"]
assert s["supply"] == "1012", s["supply"]
assert s["formatVersion"] == 1, s.get("formatVersion")
assert s["provenance"].startswith("ledger-settle "), s["provenance"]
PY
# The old records are the same bytes: appending only added to them.
head -c "$old" L/events.log | cmp - "$FIXTURES/ledger-v0/L/events.log"

# A new ledger's genesis and event files carry version 1.
expect_exit 0 ledger-settle init N -k op.key -q
expect_exit 0 ledger-settle deposit N -k op.key --to alice.pub --amount 3 --json -o ev.json -q
/usr/bin/env python3 - <<'PY'
import json
e = json.load(open("ev.json"))
assert e["formatVersion"] == 1, e
e["formatVersion"] = 2
json.dump(e, open("ev2.json", "w"))
PY
n=$(stat -c %s N/events.log)
expect_exit 3 ledger-settle append N ev2.json
expect_err "ledger format version 2 is newer than this build reads \(1\); upgrade proofwork"
test "$(stat -c %s N/events.log)" = "$n"
expect_exit 0 ledger-settle append N ev.json -q
expect_exit 0 ledger-settle validate N -q
grep -q "2 events" out
