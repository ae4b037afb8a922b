#!/usr/bin/env bash
# The market end to end on the ledger (man ledger-settle):
#   keys for an operator, a submitter, a solver, two verifiers and a whistleblower ->
#   a ledger and deposits -> an honest task: post, claim (pol-train), reveal of the
#   forced-error draw, verify (pol-verify, accept), settle: solver and verifier paid ->
#   a dishonest task: a proof trained with a fault (pol-forge --inject-fault), a verifier
#   that accepts it without checking, a whistleblower's dispute (pol-bisect), the ruling by
#   recomputation (pol-bisect's referee, inside ledger-settle), settle: the solver and the
#   lying verifier slashed, the whistleblower paid. Every step checks its exit status and
#   the balances it should change; the script exits non-zero as soon as one is not as
#   documented. About 30 s on 2 cores.
#
#   examples/market-flow.sh              # programs from $BIN, else from PATH
#
# Environment (all optional):
#   BIN            directory holding ledger-settle, pol-task, pol-train, pol-forge, pol-verify, pol-bisect
#   FASHION_MNIST  Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist, else
#                  the 1000-sample fixture in tests/fixtures/tiny)
#   MARKET_FAULT   the dishonest solver's fault, STEP:OP:ELEMENT (default 17:3:5)
#   MARKET_STEPS   training steps per task (default 40)
#   DEMO_DIR       where to write (default: a new temporary directory, removed at the end
#                  unless DEMO_KEEP=1)
EXAMPLE=market-flow.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # set -euo pipefail; fail, section, say, run, ...
RUN_OUT=out  # run: each command's standard output is in ./out

FAULT=${MARKET_FAULT:-17:3:5}
STEPS=${MARKET_STEPS:-40}
MODEL=mlp:784-32-10   # 16 ops per step: see pol-forge(1), --inject-fault

# balance NAME: the free balance of NAME's account in the ledger.
balance() {
  ledger-settle validate ledger --json -q | python3 -c '
import json, sys
s = json.load(sys.stdin); key = open(sys.argv[1]).read().strip()
print(next((int(a["free"]) for a in s["accounts"] if a["key"] == key), 0))' "keys/$1.pub"
}
expect_balance() {  # expect_balance NAME AMOUNT WHY
  local got; got=$(balance "$1")
  [ "$got" = "$2" ] || fail "$1 holds $got, expected $2 ($3)"
  say "$1: $got ($3)"
}

# --- programs and data --------------------------------------------------------------
need_programs ledger-settle pol-task pol-train pol-forge pol-verify pol-bisect python3
need_fashion_mnist --or-tiny train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz
[[ "$FAULT" =~ ^[0-9]+:[0-9]+:[0-9]+$ ]] || fail "MARKET_FAULT='$FAULT' is not STEP:OP:ELEMENT"

enter_work_dir market
rm -rf keys ledger honest dishonest whistle decoy ./*.pwt ./*.pwv ./*.json ./*.pwd out
echo "proofwork market flow: $(ledger-settle --version), data from $DATA, working in $WHERE"
start=$SECONDS
task() {  # task OUT SEED
  pol-task --model "$MODEL" \
    --train-images "$DATA/train-images-idx3-ubyte.gz" --train-labels "$DATA/train-labels-idx1-ubyte.gz" \
    --optimizer sgd --lr 0.05 --momentum 0.9 --batch 32 --steps "$STEPS" --checkpoint-every 10 \
    --seed "$2" -q -o "$1"
}
# The forced-error draw (man ledger-settle, FORCED ERRORS): after the operator's next
# beacon the solver opens it; one claim in ten must then also publish a deliberately
# wrong proof (a decoy) that checking verifiers reject, for a share of the jackpot.
reveal() {  # reveal TASK_ID TASK_FILE
  set +e
  ledger-settle reveal ledger -k keys/solver.key --task-id "$1" -q > out 2> reveal.err
  local rc=$?
  set -e
  if [ "$rc" = 0 ]; then say "task $1: the forced-error draw did not force an error"; return; fi
  grep -q "forces an error" reveal.err || { cat reveal.err >&2; fail "reveal of task $1 exited $rc"; }
  say "task $1: the draw FORCES an error: the solver publishes a decoy proof, verifier2 checks it"
  run 0 pol-forge "$2" -o "decoy-$1" -q --inject-fault 3:3:1
  run 0 ledger-settle reveal ledger -k keys/solver.key --task-id "$1" --decoy "decoy-$1" -q
  run 1 pol-verify "$2" "decoy-$1" -o "decoy-$1.pwv" -q
  run 0 ledger-settle verdict ledger -k keys/verifier2.key --task-id "$1" --verdict "decoy-$1.pwv" -q
  FORCED="$FORCED $1"
}
FORCED=""

# --- 1. keys, ledger, deposits ------------------------------------------------------
section "1. Keys, the ledger and deposits"
mkdir keys
for who in operator submitter solver verifier verifier2 whistleblower; do
  ledger-settle keygen "keys/$who" -q > /dev/null
  say "$who: $(cat "keys/$who.pub")"
done
run 0 ledger-settle init ledger -k keys/operator.key --note "market-flow.sh demo" -q
for who in submitter solver verifier verifier2 whistleblower; do
  run 0 ledger-settle deposit ledger -k keys/operator.key --to "keys/$who.pub" --amount 10000 -q
done

# --- 2. an honest task --------------------------------------------------------------
section "2. An honest task: post, claim, reveal, verify, settle"
task honest.pwt 11
run 0 ledger-settle post ledger -k keys/submitter.key --task honest.pwt --bounty 1000 --fee 100 \
  --claim-window 10 --verify-window 8 --challenge-window 4 -q
T1=$(cat out)
say "task $T1 posted: bounty 1000, fee 100, stakes: solver 1000, verifier 100, challenge 100; tax 50 to the jackpot"
run 0 pol-train honest.pwt -o honest -q
run 0 ledger-settle claim ledger -k keys/solver.key --task-id "$T1" --proof honest -q
run 0 ledger-settle beacon ledger -k keys/operator.key --text "drand round 1001" -q
reveal "$T1" honest.pwt
run 0 pol-verify honest.pwt honest -o honest.pwv -q
run 0 ledger-settle verdict ledger -k keys/verifier.key --task-id "$T1" --verdict honest.pwv -q
say "nobody challenges; the operator's beacons let logical time pass the windows"
run 0 ledger-settle beacon ledger -k keys/operator.key --count 12 -q
run 0 ledger-settle settle ledger -k keys/operator.key --names keys
sed 's/^/   /' out
expect_balance solver 11000 "bounty 1000 paid, stake returned"
expect_balance verifier 10100 "fee 100 paid, stake returned"
expect_balance submitter 8850 "bounty 1000, fee 100 and tax 50 spent"
run 0 ledger-settle settle ledger -k keys/operator.key --names keys
grep -q "nothing to settle" out || fail "settling again changed something"
say "settling again: nothing to settle (idempotent)"

# --- 3. a dishonest task ------------------------------------------------------------
section "3. A dishonest proof, a lying verifier, a whistleblower"
task dishonest.pwt 12
run 0 ledger-settle post ledger -k keys/submitter.key --task dishonest.pwt --bounty 1000 --fee 100 \
  --claim-window 10 --verify-window 8 --challenge-window 6 -q
T2=$(cat out)
run 0 pol-forge dishonest.pwt -o dishonest -q --inject-fault "$FAULT"
say "the solver trained with --inject-fault $FAULT and claims the bounty anyway"
run 0 ledger-settle claim ledger -k keys/solver.key --task-id "$T2" --proof dishonest -q
run 0 ledger-settle beacon ledger -k keys/operator.key --text "drand round 1002" -q
reveal "$T2" dishonest.pwt
say "the verifier replays one segment (it may miss the fault) and posts an acceptance whatever it saw"
echo "\$ pol-verify dishonest.pwt dishonest --segments 1 --json -o lazy.json -q"
pol-verify dishonest.pwt dishonest --segments 1 --json -o lazy.json -q || true
sed 's/"accepted": false/"accepted": true/' lazy.json > lazy-forged.json
run 0 ledger-settle verdict ledger -k keys/verifier.key --task-id "$T2" --verdict lazy-forged.json -q
say "the whistleblower trains the task honestly and bisects the two proofs to one op"
run 0 pol-train dishonest.pwt -o whistle -q
# --fault-b: side b answers the bisection's queries as the dishonest machine would
run 0 pol-bisect dishonest.pwt whistle dishonest --fault-b "$FAULT" -o dispute.pwd -q
run 0 ledger-settle challenge ledger -k keys/whistleblower.key --task-id "$T2" --dispute dispute.pwd -q
say "the solver signs a ruling in its own favour: refused, it disagrees with the recomputation"
run 0 ledger-settle rule ledger -k keys/whistleblower.key -q -o ruling.json --json
grep -q '"solverWrong": true' ruling.json || fail "the referee's ruling does not say the solver is wrong"
sed 's/"solverWrong": true/"solverWrong": false/' ruling.json > ruling-lie.json
run 0 ledger-settle sign ruling-lie.json -k keys/solver.key -o ruling-lie-signed.json --json -q
echo "\$ ledger-settle append ledger ruling-lie-signed.json"
set +e; ledger-settle append ledger ruling-lie-signed.json 2> lie.err; rc=$?; set -e
[ "$rc" = 1 ] && grep -q "disagrees with the recomputation" lie.err || { cat lie.err >&2; fail "a false ruling was not refused (exit $rc)"; }
sed 's/^/   /' lie.err
run 0 ledger-settle append ledger ruling.json -q
run 0 ledger-settle beacon ledger -k keys/operator.key --count 16 -q
run 0 ledger-settle settle ledger -k keys/operator.key --names keys
sed 's/^/   /' out
expect_balance solver $((11000 - 1000)) "stake 1000 slashed, no bounty"
expect_balance verifier $((10100 - 100)) "stake 100 slashed for accepting a wrong proof"
expect_balance whistleblower $((10000 + 500 + 50)) "half the solver's and the verifier's stakes"
run 0 ledger-settle validate ledger --names keys -q -o settlement.json --json
say "the whole ledger validates: signatures, chain, rules, and every ruling recomputed;"
say "settlement.json holds every account and payment${FORCED:+ (forced errors on task(s)$FORCED)}"
section "done in $(( SECONDS - start )) s: every step behaved as documented"
