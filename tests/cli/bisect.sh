# pol-bisect: for 50 random injected faults (random checkpoint interval, step and op) the
# bisection names exactly the injected op within the round bound, and the referee's
# replay rules for the honest side; malformed disputes exit 3. A fault that leaves the
# proof unchanged (a gradient entry behind a dead ReLU) is no dispute and is not counted.
RANDOM=20261128   # a fixed sequence: reproducible test
pol-task --model mlp:784-16-10 \
  --train-images "$FIXTURES/tiny/train-images-idx3-ubyte.gz" --train-labels "$FIXTURES/tiny/train-labels-idx1-ubyte.gz" \
  --lr 0.05 --momentum 0.9 --batch 16 --steps 24 --checkpoint-every 4 --seed 5 -q -o base.pwt
ops=16   # the tape of a 2-layer MLP with SGD: see pol-train(1)
masked=0; disputes=0
while [ "$disputes" -lt 50 ]; do
  test "$masked" -le 10   # most faults must make a real dispute
  every=$(( 1 + RANDOM % 8 ))
  pol-task --from base.pwt --checkpoint-every $every -q -f -o task.pwt
  step=$(( RANDOM % 24 )); op=$(( RANDOM % ops )); el=$(( RANDOM % 200 ))
  rm -rf A B; pol-train task.pwt -o A -q; pol-forge task.pwt -o B -q --inject-fault $step:$op:$el
  expect_exit 0 pol-bisect task.pwt A B --fault-b $step:$op:$el -o d.json --json -f -q
  if cmp -s A/manifest.pwm B/manifest.pwm || [ "$(pol-show A/manifest.pwm | grep -A0 '"root"')" = "$(pol-show B/manifest.pwm | grep -A0 '"root"')" ]; then
    # The perturbation died out (e.g. a gradient entry behind a dead ReLU): no dispute.
    grep -q '"winner": "neither"' d.json
    masked=$((masked + 1))
    continue
  fi
  /usr/bin/env python3 - "$step" "$op" <<'PY'
import json, sys
d = json.load(open("d.json"))
step, op = int(sys.argv[1]), int(sys.argv[2])
assert d["step"] == step and d["opIndex"] == op, (d["step"], d["opIndex"], step, op)
assert d["winner"] == "a", d["winner"]
assert len(d["rounds"]) <= d["roundBound"], (len(d["rounds"]), d["roundBound"])
PY
  expect_exit 0 pol-bisect replay d.json -q
  # The dishonest side as A: B wins, exit 1.
  expect_exit 1 pol-bisect task.pwt B A --fault-a $step:$op:$el -q
  disputes=$((disputes + 1))
done
echo "50 disputes pinned to the injected op; $masked more faults had no effect on the proof"

# The same fault against an honest re-execution, and with no simulation of the faulty side
# (its checkpoint is then simply not its own computation).
pol-task --from base.pwt -q -f -o task.pwt
rm -rf A B; pol-train task.pwt -o A -q; pol-forge task.pwt -o B -q --inject-fault 9:3:1
expect_exit 1 pol-bisect task.pwt B --against-replay --fault-a 9:3:1 -o r.pwd -q
expect_exit 1 pol-bisect replay r.pwd -q
expect_exit 0 pol-bisect task.pwt A B -q
grep -q "is not its side's computation" out
expect_exit 0 pol-bisect task.pwt A A -q
grep -q "nothing to dispute" out

# Malformed disputes: exit 3 with a message.
pol-bisect task.pwt A B --fault-b 9:3:1 -o d.json --json -q -f
head -c 500 d.json > trunc.json
expect_exit 3 pol-bisect replay trunc.json
/usr/bin/env python3 - <<'PY'
import json
d = json.load(open("d.json"))
h = d["inputHashes"][0]; d["inputHashes"][0] = [0] * 32
json.dump(d, open("badhash.json", "w"))
d["inputHashes"][0] = h; d["opKind"] = "relu_forward"
json.dump(d, open("badkind.json", "w"))
d = json.load(open("d.json")); d["opIndex"] = 999
json.dump(d, open("badindex.json", "w"))
d = json.load(open("d.json")); d["task"]["seed"] = "6"
json.dump(d, open("badtask.json", "w"))
d = json.load(open("d.json")); assert d["formatVersion"] == 2, d["formatVersion"]
d["formatVersion"] = 4
json.dump(d, open("newer.json", "w"))
PY
# A dispute of a newer version than this build reads: refused, and said so.
expect_exit 3 pol-bisect replay newer.json
expect_err "dispute format version 4 is newer than this build reads \(1 to 3\); upgrade proofwork"
expect_exit 3 pol-bisect replay badhash.json
expect_err "does not match its agreed hash"
expect_exit 3 pol-bisect replay badkind.json
expect_err "not relu_forward"
expect_exit 3 pol-bisect replay badindex.json
expect_err "op index out of range"
expect_exit 3 pol-bisect replay badtask.json
expect_err "embedded task does not match its hash"
head -c 1000 /dev/urandom > garbage.pwd
expect_exit 3 pol-bisect replay garbage.pwd
expect_exit 2 pol-bisect task.pwt A
expect_exit 2 pol-bisect task.pwt A B --fault-b 1:2
expect_exit 0 pol-bisect --help

# Two parties on two machines: each runs its own moves with its own proof, and only the
# transcript travels. The finished transcript is the dispute; the referee agrees.
pol-bisect play task.pwt A --side a -o t1.pwd -q
i=1; side=b; proof=B; fault="--fault 9:3:1"
while :; do
  n=$((i + 1))
  set +e; pol-bisect play task.pwt $proof --side $side $fault --transcript t$i.pwd -o t$n.pwd -q --json > st.json; rc=$?; set -e
  grep -q '"waiting_for"' st.json || break
  test "$rc" -eq 0
  i=$n
  if [ $side = b ]; then side=a; proof=A; fault=; else side=b; proof=B; fault="--fault 9:3:1"; fi
  test "$i" -lt 40    # a bounded exchange
done
test "$rc" -eq 0       # A is right
# A transcript still under way is no dispute; one of a newer version is no transcript.
expect_exit 3 pol-bisect replay t1.pwd
expect_err "not complete"
expect_exit 3 pol-bisect play task.pwt B --side b --fault 9:3:1 --transcript newer.json -o zz.pwd
expect_err "newer"
test ! -e zz.pwd
expect_exit 0 pol-bisect replay t$n.pwd
expect_err "op 3 \(linear_forward\).*A is right"
# The local run gives the same pinpoint and ruling.
expect_exit 0 pol-bisect task.pwt A B --fault-b 9:3:1 -q --json
grep -q '"opIndex": 3' out
# Side b answers honestly although its proof is not (its fault not simulated): both sides
# compute the disputed step alike, and the completing move recomputes that step and rules.
pol-bisect play task.pwt A --side a -o h1.pwd -q
i=1; side=b; proof=B
while :; do
  n=$((i + 1))
  set +e; pol-bisect play task.pwt $proof --side $side --transcript h$i.pwd -o h$n.pwd -q --json > st.json; rc=$?; set -e
  grep -q '"waiting_for"' st.json || break
  test "$rc" -eq 0
  i=$n
  if [ $side = b ]; then side=a; proof=A; else side=b; proof=B; fi
  test "$i" -lt 40
done
test "$rc" -eq 0
grep -q '"winner": "A"' st.json
# A transcript of another task is refused.
pol-task --from base.pwt --seed 99 -q -f -o other.pwt
expect_exit 3 pol-bisect play other.pwt A --side a --transcript t2.pwd -o other-out.pwd
expect_err "another task"
# A proof whose initial state is not the seed's is refused as input (pol-verify rejects it).
pol-forge task.pwt -o I -q --init-seed 77
expect_exit 3 pol-bisect task.pwt A I
expect_err "not the seed-derived one"

# A side whose checkpoint breaks its own commitment: bad input (pol-verify rejects it), not a ruling.
rm -rf Bt; cp -r B Bt
f=Bt/ckpt-00000008.pwc; off=$(( $(stat -c %s $f) / 2 ))
byte=$(od -An -tu1 -j $off -N1 $f | tr -d ' ')
printf "$(printf '\\%03o' $(( byte ^ 4 )))" | dd of=$f bs=1 seek=$off conv=notrunc status=none
expect_exit 3 pol-bisect task.pwt A Bt --fault-b 9:3:1
expect_err "pol-verify rejects this proof"
# Faults outside the task are usage errors, as in pol-train.
expect_exit 2 pol-bisect task.pwt A B --fault-b 9:99:1
expect_err "the tape has 16 ops"
expect_exit 2 pol-bisect task.pwt A B --fault-b 500:3:1
expect_exit 2 pol-bisect play task.pwt B --side b --fault 9:99:1 -o zz.pwd
