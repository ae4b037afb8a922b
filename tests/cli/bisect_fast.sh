# pol-bisect on a fast-mode task (proofwork(7), DISPUTES): the referee recomputes the
# pinpointed op (or step) under each side's declared kernel and rules by the verifier's
# profile; the dispute file embeds that profile, so 'pol-bisect replay' rules it alone.
make_tiny_task task.pwt --mode fast --steps 32 --checkpoint-every 8
pol-train task.pwt -o honest -q --threads 2 --fast-panel 64
pol-profile task.pwt honest -o prof.pwp -q
# The manifest declares the kernel it trained with.
pol-show honest/manifest.pwm | jq -e '.environment.fastPanel == 64 and .environment.threads == 2' >/dev/null

# (a) An honest proof against one trained with a fault, under the same kernel: the
# bisection reaches the faulty op, and the forger's output lies beyond the profile's
# threshold there.
pol-forge task.pwt -o faulty -q --threads 2 --fast-panel 64 --inject-fault 21:3:5
expect_exit 0 pol-bisect task.pwt honest faulty --fault-b 21:3:5 --profile prof.pwp -o d.pwd
expect_err "pinpointed: step 21, op 3 \(linear_forward"
expect_err "fast mode: kernels A panel 64 threads 2, B panel 64 threads 2"
expect_err "A stands, within the profile's replay noise \(its claim is the recomputation bit for bit\)"
expect_err "B loses, beyond it \(.* > threshold"
expect_err "step 21, op 3 \(linear_forward\): A is right"
# (c) The referee alone, from the file (its profile is in it): the same ruling.
expect_exit 0 pol-bisect replay d.pwd
expect_err "step 21, op 3 \(linear_forward\): referee output [0-9a-f]+…; A is right; op 3, from the agreed inputs, recomputed"
expect_err "B loses, beyond it"
expect_exit 0 pol-bisect replay d.pwd --json -q
jq -e '.right == "A" and .level == "op" and .step == 21 and .op == 3 and (.basis | test("B loses"))' out >/dev/null
pol-show d.pwd >d.json
jq -e '.formatVersion == 3 and .winner == "a" and .kernelA.panel == 64 and .kernelB.threads == 2' d.json >/dev/null
jq -e '.fastRuling.standsA and (.fastRuling.standsB | not) and .fastRuling.sources == 9' d.json >/dev/null
jq -e '.profile.taskClass == (input | .taskClass)' d.json <(pol-show prof.pwp) >/dev/null
jq -e '.fastRuling.distanceB.linf[-1] > .fastRuling.thresholds.linf[-1] and .fastRuling.noise.linf[-1] > 0' d.json >/dev/null
# The forger as side A: B is right.
expect_exit 1 pol-bisect task.pwt faulty honest --fault-a 21:3:5 --profile prof.pwp -q

# Without simulating the fault, the forger's side computes honestly: both trace the
# disputed step alike, and the claimed checkpoints are held to the profile's state
# thresholds (a step-level ruling), in the bisection and in the replay.
expect_exit 0 pol-bisect task.pwt honest faulty --profile prof.pwp -o s.json --json
expect_err "both sides compute step 23 alike"
expect_err "claimed state held to the profile's state thresholds; A stands, within .*; B loses, beyond it \(.* > threshold"
expect_exit 0 pol-bisect replay s.json
expect_err "step 23 \(step level\): referee state [0-9a-f]+…; A is right"
jq -e '.formatVersion == 3 and (.claimedA | length) == 8 and (.claimedB | length) == 8 and (.fastRuling | has("noise") | not)' s.json >/dev/null
# One proof against the task itself, re-executed under the proof's declared kernel.
expect_exit 0 pol-bisect task.pwt honest --against-replay --profile prof.pwp
grep -q "agree on the final checkpoint: nothing to dispute" out
expect_exit 1 pol-bisect task.pwt faulty --against-replay --profile prof.pwp -q
# So under another kernel than the profile's reference: the re-execution follows the
# forger's declared panel and threads bit for bit up to the forgery.
pol-forge task.pwt -o faulty32 -q --threads 1 --fast-panel 32 --inject-fault 13:3:5
expect_exit 1 pol-bisect task.pwt faulty32 --against-replay --profile prof.pwp -o r32.pwd
expect_err "both sides compute step 15 alike"
expect_err "fast mode: kernels A panel 32 threads 1, B panel 32 threads 1"
expect_err "A loses, beyond it"

# (b) Two honest proofs under other thread counts and panels differ in their bits: the
# bisection stops at the first op their rounding separates, and the ruling says both
# stand, within the profile's replay noise.
pol-train task.pwt -o other -q --threads 1 --fast-panel 32
expect_exit 0 pol-bisect task.pwt honest other --profile prof.pwp -o n.pwd
expect_err "pinpointed: step 0, op [0-9]+ \(linear_"
expect_err "A stands, within the profile's replay noise \(its claim is the recomputation bit for bit\); B stands, within the profile's replay noise \(its claim is the recomputation bit for bit\); A and B differ within the thresholds \(z0 [a-z0-9]+ [0-9.e-]+ <= threshold"
expect_err "both stand \(within the profile's replay noise\)"
expect_err "the sides' kernels differ and their rounding parts here \(to reach a later forgery, dispute each proof against the task\)"
expect_exit 0 pol-bisect replay n.pwd
expect_err "both stand"
pol-show n.pwd | jq -e '.winner == "both" and .fastRuling.standsA and .fastRuling.standsB' >/dev/null
pol-show n.pwd | jq -e '.fastRuling.distanceAB.linf[-1] > 0 and .fastRuling.distanceAB.linf[-1] <= .fastRuling.thresholds.linf[-1]' >/dev/null

# Two parties, each with its own proof and the same profile, exchanging transcripts: the
# profile and both kernels travel with them, and the completing move rules as the local
# run does, at the op (fault simulated) and at the step (each side sends its claimed state).
play() {  # play PREFIX FAULT: the exchange, side b answering with FAULT; ends with rc and st.json
  local pre=$1 fault=$2 i=1 n side=b proof=faulty f=$2
  pol-bisect play task.pwt honest --side a --profile prof.pwp -o ${pre}1.pwd -q
  while :; do
    n=$((i + 1))
    set +e; pol-bisect play task.pwt $proof --side $side $f --profile prof.pwp --transcript $pre$i.pwd -o $pre$n.pwd -q --json > st.json; rc=$?; set -e
    grep -q '"waiting_for"' st.json || break
    test "$rc" -eq 0
    i=$n
    if [ $side = b ]; then side=a; proof=honest; f=; else side=b; proof=faulty; f=$fault; fi
    test "$i" -lt 40
  done
  last=$pre$n.pwd
}
play t "--fault 21:3:5"
test "$rc" -eq 0 && grep -q '"winner": "A"' st.json
pol-show $last | jq -e '.complete and .formatVersion == 3 and .opIndex == 3 and .kernelB.panel == 64 and (.fastRuling.standsB | not)' >/dev/null
pol-show t2.pwd | jq -e '.profile.taskClass and .kernelA.panel == 64' >/dev/null
expect_exit 0 pol-bisect replay $last
expect_err "step 21, op 3 \(linear_forward\).*A is right.*B loses, beyond it"
play h ""
test "$rc" -eq 0 && grep -q '"winner": "A"' st.json
pol-show $last | jq -e '.complete and (.claimedA | length) == 8 and (.claimedB | length) == 8' >/dev/null
expect_exit 0 pol-bisect replay $last
expect_err "step 23 \(step level\).*A is right.*B loses, beyond it"
# A transcript ruled by another profile than this side's is refused.
pol-profile task.pwt honest -o prof2.pwp -q --factor 16
expect_exit 3 pol-bisect play task.pwt faulty --side b --profile prof2.pwp --transcript t1.pwd -o zz.pwd
expect_err "not ruled by this side's profile"
test ! -e zz.pwd

# (d) Failure paths. No profile: a usage error; a profile of another task, or none at
# that path: bad input; a two-party exchange is exact mode only.
expect_exit 2 pol-bisect task.pwt honest faulty
expect_err "pass --profile"
make_tiny_task other.pwt --mode fast --steps 32 --checkpoint-every 8 --lr 0.01
pol-train other.pwt -o otherproof -q
pol-profile other.pwt otherproof -o other.pwp -q
expect_exit 3 pol-bisect task.pwt honest faulty --profile other.pwp
expect_err "profile 'other.pwp' was made for another task"
expect_exit 3 pol-bisect task.pwt honest faulty --profile missing.pwp
expect_exit 3 pol-bisect play task.pwt faulty --side b --profile other.pwp --transcript t1.pwd -o zz.pwd
expect_err "was made for another task"
expect_exit 2 pol-bisect play task.pwt honest --side a -o zz1.pwd
expect_err "pass --profile"
make_tiny_task exact.pwt --steps 32 --checkpoint-every 8
pol-train exact.pwt -o exactproof -q
expect_exit 2 pol-bisect exact.pwt exactproof --against-replay --profile prof.pwp
expect_err "--profile is for fast-mode tasks"

# A damaged dispute file is bad input, never a ruling.
head -c 2000 d.pwd >truncated.pwd
expect_exit 3 pol-bisect replay truncated.pwd
pol-show n.pwd >n.json
pol-show other.pwp >otherprof.json
/usr/bin/env python3 - <<'PY'
import json
d, n, p = json.load(open("d.json")), json.load(open("n.json")), json.load(open("otherprof.json"))
def save(name, x): json.dump(x, open(name, "w"))
x = json.loads(json.dumps(d)); del x["profile"]; save("noprofile.json", x)
x = json.loads(json.dumps(d)); x["profile"] = p; save("otherprofile.json", x)
x = json.loads(json.dumps(d)); x["profile"]["factor"] = 0.5; save("badprofile.json", x)
x = json.loads(json.dumps(d)); x["profile"]["sources"] = ["fast threads=1 panel=%d" % i for i in range(1, 300)]
save("manysources.json", x)
x = json.loads(json.dumps(d)); del x["kernelB"]; save("nokernel.json", x)
x = json.loads(json.dumps(d)); x["kernelA"]["panel"] = 0; save("badkernel.json", x)
x = json.loads(json.dumps(d)); x["formatVersion"] = 2; save("v2.json", x)
# side B's claimed outputs replaced by side A's: they no longer match B's output hash
x = json.loads(json.dumps(d)); x["outputsB"] = x["outputsA"]; save("outputs.json", x)
x = json.loads(json.dumps(d)); x["outputsB"] = x["outputsB"][:0]; save("nooutputs.json", x)
s = json.load(open("s.json"))
x = json.loads(json.dumps(s)); x["claimedB"] = x["claimedA"]; save("claimed.json", x)
x = json.loads(json.dumps(s)); del x["claimedB"]; save("noclaimed.json", x)
PY
expect_exit 3 pol-bisect replay noprofile.json
expect_err "a fast-mode dispute without the profile its ruling used"
expect_exit 3 pol-bisect replay otherprofile.json
expect_err "its profile was made for another task"
expect_exit 3 pol-bisect replay badprofile.json
expect_err "factor must be at least 1"
expect_exit 3 pol-bisect replay manysources.json
expect_err "more than 256 CPU sources"
expect_exit 3 pol-bisect replay nokernel.json
expect_err "without the sides' declared kernels"
expect_exit 3 pol-bisect replay badkernel.json
expect_err "declared kernel is out of range"
expect_exit 3 pol-bisect replay v2.json
expect_err "without the profile its ruling used \(format version 3 carries it\)"
expect_exit 3 pol-bisect replay outputs.json
expect_err "outputsB does not match the side's output hash"
expect_exit 3 pol-bisect replay nooutputs.json
expect_err "outputsB holds 0 tensors"
expect_exit 3 pol-bisect replay claimed.json
expect_err "claimedB is not the state side B claimed after step 23"
expect_exit 3 pol-bisect replay noclaimed.json
expect_err "claimedB holds 0 tensors"
