#!/usr/bin/env bash
# tests/bench/part-kill.sh: kill -9 at random moments (proofwork(7), TESTS AND BENCHMARKS),
# run by `make bench` (tests/bench/run.sh). Rows on stdout, progress on stderr.
#
#   1. pol-train: TRIALS runs of a KILL_STEPS-step task (checkpoints every tenth), each killed with SIGKILL at a moment
#      drawn uniformly over an uninterrupted run's time, then run again to the end: the
#      proof must equal the uninterrupted one (every checkpoint, the manifest's root and
#      losses), with no temporary file left.
#   2. ledger-settle: TRIALS appends of 200 events (one write) to a ledger, each killed at
#      a random moment, then another append: every append that finished is in the log,
#      the killed one is whole or absent (a torn tail, if the kill fell inside the
#      write, is refused and cut by `ledger-settle repair`, counted apart), the log
#      validates, no temporary file is left.
#
#   BIN=build SCRATCH=$(mktemp -d) bash tests/bench/part-kill.sh
#
# Environment: BIN (build directory), SCRATCH (an empty directory), FIXTURES (default
# tests/fixtures), KILL_TRIALS (default 20), KILL_STEPS (default 400).
set -euo pipefail
: "${BIN:?set BIN to the build directory}"
: "${SCRATCH:?set SCRATCH to an empty directory}"
HERE=$(cd "$(dirname "$0")" && pwd)
FIX=${FIXTURES:-$HERE/../fixtures}
TRIALS=${KILL_TRIALS:-20}
STEPS=${KILL_STEPS:-400}
export PATH=$BIN:$PATH
say() { echo "part-kill: $*" >&2; }
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }
fail() { echo "part-kill: FAIL: $*" >&2; exit 1; }
now() { date +%s.%N; }
# A random moment in [0, $1) seconds.
moment() { awk -v t="$1" -v r="$RANDOM$RANDOM" 'BEGIN { srand(r); printf "%.3f", rand() * t }'; }
temporaries() { find "$@" -name '*.tmp.*' | wc -l; }
cd "$SCRATCH"

# ---- pol-train ------------------------------------------------------------------------
pol-task --model mlp:784-32-10 \
  --train-images "$FIX/tiny/train-images-idx3-ubyte.gz" --train-labels "$FIX/tiny/train-labels-idx1-ubyte.gz" \
  --lr 0.05 --momentum 0.9 --batch 32 --steps "$STEPS" --checkpoint-every $((STEPS / 10)) --seed 5 -q -o kill.pwt
t0=$(now); pol-train kill.pwt -o ref -q; t1=$(now)
T=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
ref_root=$(pol-show ref/manifest.pwm | jq -r .root)
say "pol-train: an uninterrupted run takes $T s; $TRIALS trials"
killed=0 done_before=0 stale=0 mismatched=0 resumed_from=""
for i in $(seq 1 "$TRIALS"); do
  rm -rf P
  at=$(moment "$T")
  pol-train kill.pwt -o P -q & pid=$!
  sleep "$at"
  if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); else done_before=$((done_before + 1)); fi
  wait "$pid" 2>/dev/null || true
  n=$(ls P 2>/dev/null | grep -c '\.pwc$' || true)
  resumed_from="$resumed_from $n"
  pol-train kill.pwt -o P -q || fail "trial $i: the run after the kill (at $at s) failed"
  [ "$(temporaries P)" = 0 ] || { stale=$((stale + 1)); say "trial $i: temporaries left: $(find P -name '*.tmp.*')"; }
  same=1
  [ "$(pol-show P/manifest.pwm | jq -r .root)" = "$ref_root" ] || same=0
  for f in ref/*.pwc; do cmp -s "$f" "P/$(basename "$f")" || same=0; done
  [ "$(ls P)" = "$(ls ref)" ] || same=0
  [ "$(pol-show ref/manifest.pwm | jq -c .losses)" = "$(pol-show P/manifest.pwm | jq -c .losses)" ] || same=0
  [ "$same" = 1 ] || { mismatched=$((mismatched + 1)); say "trial $i: the proof differs from the uninterrupted one"; }
done
say "pol-train: checkpoints on disk when killed:$resumed_from"
row "pol-train kill -9" "$TRIALS trials ($killed killed mid-run, $done_before finished first)" \
  "roots identical: $((TRIALS - mismatched))/$TRIALS" "stale temporaries: $stale" "run ${T} s"
[ "$mismatched" = 0 ] && [ "$stale" = 0 ] || fail "pol-train: $mismatched proofs differ, $stale runs left temporaries"

# ---- ledger-settle append --------------------------------------------------------------
ledger-settle keygen op -q > /dev/null
ledger-settle init L -k op.key -q > /dev/null
count() { ledger-settle validate L --json -q | jq -r .events; }
t0=$(now); ledger-settle beacon L -k op.key --count 200 -q > /dev/null; t1=$(now)
T=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
say "ledger-settle: an append of 200 events takes $T s; $TRIALS trials"
expect=$(count)
killed=0 whole=0 absent=0 lost=0 stale=0 torn=0
for i in $(seq 1 "$TRIALS"); do
  at=$(moment "$T")
  ledger-settle beacon L -k op.key --count 200 -q > /dev/null & pid=$!
  sleep "$at"
  if kill -9 "$pid" 2>/dev/null; then k=1; killed=$((killed + 1)); else k=0; fi
  set +e; wait "$pid" 2>/dev/null; rc=$?; set -e
  [ "$k" = 1 ] || [ "$rc" = 0 ] || fail "trial $i: the append exited $rc"
  # A kill inside the write(2) can leave a torn last record: appends refuse it (exit 3)
  # and `ledger-settle repair` cuts it (proofwork-files(5), LEDGER).
  if ! ledger-settle validate L -q > /dev/null 2>err; then
    grep -q torn err || { cat err >&2; fail "trial $i: the log does not validate"; }
    ledger-settle repair L -q > /dev/null
    torn=$((torn + 1))
  fi
  # The next append goes on from what the killed one left.
  ledger-settle beacon L -k op.key --count 1 -q > /dev/null || fail "trial $i: the append after the kill failed"
  got=$(count) || fail "trial $i: the ledger does not validate"
  case $(( got - expect )) in
    201) whole=$((whole + 1)); expect=$got ;;
    1) if [ "$rc" = 0 ]; then lost=$((lost + 1)); fi; absent=$((absent + 1)); expect=$got ;;
    *) lost=$((lost + 1)); say "trial $i: $got records, expected $((expect + 1)) or $((expect + 201))"; expect=$got ;;
  esac
  [ "$(temporaries L)" = 0 ] || stale=$((stale + 1))
done
row "ledger-settle append kill -9" "$TRIALS trials ($killed killed mid-run)" \
  "killed appends whole: $whole, absent: $absent (torn, repaired: $torn); finished appends lost: $lost" "stale temporaries: $stale" "append ${T} s"
[ "$lost" = 0 ] && [ "$stale" = 0 ] || fail "ledger-settle: $lost appends lost, $stale left temporaries"
