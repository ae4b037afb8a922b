#!/usr/bin/env bash
# tests/bench/part-ledger.sh: ledger-settle's validation speed (proofwork(7), THE MARKET), run by
# `make bench` (tests/bench/run.sh). Rows on stdout, progress on stderr.
#
#   1. validation of a signed ledger (framing and checksum, canonical decoding, Ed25519
#      signature, hash chain, rules) in events/s on one thread, against a bare
#      crypto_sign_verify_detached loop in the same run (target ≥ 20,000 events/s); the
#      validator verifies signatures in batches (lib/ledger/ed25519_batch.hpp), so it
#      can outrun the bare loop;
#   1b. the bare batch verification against libsodium's single verification of the same
#      signatures: the floor of row 1's cost;
#   2. the same on all cores (signatures and decoding run in parallel, rules in order);
#   3. a 1,000,000-event ledger generated here (a market of 1000 accounts: posts, claims,
#      beacons, reveals with decoys when forced, two verdicts per task, settlements),
#      validated by `ledger-settle validate` end to end, on all cores (target < 60 s);
#   4. one append (`ledger-settle deposit`, a whole process: key, snapshot, the new
#      record's checks, fsync) to that ledger against one to a 1,000-event ledger of the
#      same market, interleaved, 7 runs each after one untimed run, median and spread
#      (target: within 2x; the append validates only what follows the ledger's snapshot,
#      proofwork-files(5), LEDGER).
#
#   BIN=build SCRATCH=$(mktemp -d) bash tests/bench/part-ledger.sh
#
# Environment: BIN (build directory), SCRATCH (an empty directory), LEDGER_EVENTS (size
# of the large ledger, default 1000000; generating it signs every event in order, about
# a minute), LEDGER_SMALL (events of the one-thread ledger, default 100000).
set -euo pipefail
: "${BIN:?set BIN to the build directory}"
: "${SCRATCH:?set SCRATCH to an empty directory}"
B=$BIN/tests/bench_ledger
L=$BIN/ledger-settle
for p in "$B" "$L"; do [ -x "$p" ] || { echo "part-ledger: $p is missing; build first" >&2; exit 4; }; done
say() { echo "part-ledger: $*" >&2; }
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }
calc() { awk "BEGIN { printf \"%s\", ($1) }" </dev/null; }
BIG=${LEDGER_EVENTS:-1000000}
SMALL=${LEDGER_SMALL:-100000}
CORES=$(nproc 2>/dev/null || echo 2)

say "generating a $SMALL-event ledger"
read -r _ n gen bytes < <("$B" generate "$SCRATCH/small" "$SMALL")
say "  $n events, $bytes bytes, signed in $gen s"
best_val=0 best_ver=0
for rep in 1 2; do
  say "one thread, run $rep: validation, then the bare verification loop"
  read -r _ vn vt < <("$B" validate "$SCRATCH/small" 1)
  read -r _ bn bt < <("$B" verify "$SMALL")
  v=$(calc "$vn / $vt"); b=$(calc "$bn / $bt")
  say "  validation $v events/s, bare verification $b signatures/s"
  best_val=$(calc "$v > $best_val ? $v : $best_val"); best_ver=$(calc "$b > $best_ver ? $b : $best_ver")
done
row "Ledger validation, 1 thread ($SMALL signed events: framing, checksum, decoding, Ed25519, chain, rules) vs a bare crypto_sign_verify_detached loop (best of 2)" \
  "$(calc "int($best_val)") events/s" "$(calc "int($best_ver)") verifications/s" "$(calc "sprintf(\"%.2f\", $best_val / $best_ver)")×" "≥ 20,000 events/s"
say "one thread: batch verification (batches of 128, 1000 signers) and libsodium's single verification of the same signatures"
best_bat=0 best_one=0
for rep in 1 2; do
  read -r _ bn bt st < <("$B" batch 16384 128 1000)
  best_bat=$(calc "$bn / $bt > $best_bat ? $bn / $bt : $best_bat"); best_one=$(calc "$bn / $st > $best_one ? $bn / $st : $best_one")
done
row "Ed25519 batch verification, 1 thread (cofactored, batches of 128, 16384 200-byte messages by 1000 signers) vs crypto_sign_verify_detached on the same signatures (best of 2)" \
  "$(calc "int($best_bat)") signatures/s" "$(calc "int($best_one)") verifications/s" "$(calc "sprintf(\"%.2f\", $best_bat / $best_one)")×" "— (the signature part of row 1)"
read -r _ vn vt < <("$B" validate "$SCRATCH/small" "$CORES")
row "Ledger validation, $CORES threads (signatures and decoding in parallel, rules in order) vs the 1-thread bare loop" \
  "$(calc "int($vn / $vt)") events/s" "$(calc "int($best_ver)") verifications/s" "$(calc "sprintf(\"%.2f\", $vn / $vt / $best_ver)")×" "≥ 20,000 events/s"
rm -rf "$SCRATCH/small" "$SCRATCH"/small.op.*

say "generating a $BIG-event ledger (signing is sequential: each event names the previous record's hash)"
read -r _ n gen bytes < <("$B" generate "$SCRATCH/big" "$BIG")
say "  $n events, $bytes bytes, signed in $gen s"
say "ledger-settle validate on $CORES threads"
t0=$(date +%s.%N)
OMP_NUM_THREADS=$CORES "$L" validate "$SCRATCH/big" -q > "$SCRATCH/validate.out"
t1=$(date +%s.%N)
grep -q "$n events" "$SCRATCH/validate.out" || { echo "part-ledger: validate did not report $n events" >&2; exit 4; }
wall=$(calc "$t1 - $t0")
row "$n-event ledger ($(calc "sprintf(\"%.0f\", $bytes / 1048576)") MiB): ledger-settle validate, wall time, $CORES threads (bare verification of as many signatures on 1 thread: $(calc "sprintf(\"%.1f\", $n / $best_ver)") s)" \
  "$(calc "sprintf(\"%.1f\", $wall)") s" "$(calc "sprintf(\"%.1f\", $n / $best_ver)") s" "$(calc "sprintf(\"%.2f\", $wall / ($n / $best_ver))")×" "< 60 s"

say "one append: the $n-event ledger against a 1000-event one (interleaved, 7 runs each)"
"$B" generate "$SCRATCH/thousand" 1000 > /dev/null
append_ms() {  # append_ms DIR: one deposit by the ledger's operator, in milliseconds
  local t0 t1
  t0=$(date +%s%N)
  "$L" deposit "$1" -k "$1.op.key" --to "$1.op.pub" --amount 1 -q > /dev/null
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000 ))
}
append_ms "$SCRATCH/thousand" > /dev/null   # untimed: the first append writes the small ledger's snapshot
append_ms "$SCRATCH/big" > /dev/null        # (validate wrote the big one's)
small_us=() big_us=()
for rep in 1 2 3 4 5 6 7; do
  small_us+=("$(append_ms "$SCRATCH/thousand")")
  big_us+=("$(append_ms "$SCRATCH/big")")
done
stats() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { printf "%.1f %.1f %.1f", v[int((NR + 1) / 2)] / 1000, v[1] / 1000, v[NR] / 1000 }'; }
read -r sm smin smax < <(stats "${small_us[@]}")
read -r bm bmin bmax < <(stats "${big_us[@]}")
say "  1000 events: median $sm ms ($smin-$smax); $n events: median $bm ms ($bmin-$bmax)"
"$L" validate "$SCRATCH/big" -q > "$SCRATCH/validate.out"
grep -q "$((n + 8)) events" "$SCRATCH/validate.out" || { echo "part-ledger: the appends did not all land" >&2; exit 4; }
row "One append (ledger-settle deposit, whole process) to a $n-event ledger vs a 1,000-event one: median of 7 interleaved runs (range), validating only the records after the snapshot" \
  "$bm ms ($bmin–$bmax)" "$sm ms ($smin–$smax)" "$(calc "sprintf(\"%.2f\", $bm / $sm)")×" "≤ 2×"
rm -rf "$SCRATCH/big" "$SCRATCH/thousand" "$SCRATCH"/big.op.* "$SCRATCH"/thousand.op.*
