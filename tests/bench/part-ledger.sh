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
#      validated by `ledger-settle validate` end to end, on all cores (target < 60 s).
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
rm -rf "$SCRATCH/small"

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
rm -rf "$SCRATCH/big"
