#!/usr/bin/env bash
# A training dispute settled by hand, as two people on two machines would do it:
#   one task (pol-task) -> an honest proof and a dishonest one (pol-forge --inject-fault)
#   -> the two-party bisection, one 'pol-bisect play' move at a time, in two separate
#   directories that exchange only the transcript file -> the referee recomputes the one
#   pinpointed op ('pol-bisect replay') -> the same dispute in one local command.
# Every step checks its exit status and its result: the pinpointed step and op must be
# the injected ones and the honest side must win. The script exits non-zero as soon as
# something does not behave as documented (man pol-bisect). About 20 s on 2 cores.
#
#   examples/dispute-by-hand.sh        # programs from $BIN, else from PATH
#
# Environment (all optional):
#   BIN            directory holding pol-task, pol-train, pol-forge, pol-bisect, pol-show
#   FASHION_MNIST  Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist,
#                  Debian's dataset-fashion-mnist)
#   DISPUTE_FAULT  the dishonest solver's fault, STEP:OP:ELEMENT as pol-forge
#                  --inject-fault takes it (default 137:3:5: in step 137, element 5 of the
#                  output of op 3, the second Linear layer's forward pass)
#   DEMO_THREADS   threads per program (default 1: this model is so small that more
#                  threads only add overhead; no result depends on it)
#   DEMO_DIR       where to write (default: a new temporary directory, removed at the
#                  end unless DEMO_KEEP=1)
EXAMPLE=dispute-by-hand.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # set -euo pipefail; fail, section, say, run, ...

FAULT=${DISPUTE_FAULT:-137:3:5}
MODEL=mlp:784-64-10   # its tape has 16 ops: see pol-forge(1), --inject-fault
STEPS=200
EVERY=25

# at DIR CODE CMD...: run (examples/lib.sh) in DIR, the command line echoed as typed there.
at() {
  local dir=$1; shift
  (cd "$dir" && RUN_PROMPT=$dir run "$@")
}
# field FILE NAME: a top-level field of a dispute, from pol-show's JSON.
field() { pol-show "$1" | sed -n "s/^  \"$2\": \"*\([^\",]*\)\"*,*.*/\1/p"; }
bytes() { du -sb "$1" | cut -f1; }

# --- programs and data --------------------------------------------------------------
need_programs pol-task pol-train pol-forge pol-bisect pol-show
need_fashion_mnist train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz
IFS=: read -r fstep fop _ <<<"$FAULT"
[[ "$FAULT" =~ ^[0-9]+:[0-9]+:[0-9]+$ ]] || fail "DISPUTE_FAULT='$FAULT' is not STEP:OP:ELEMENT"
[ "$fstep" -lt "$STEPS" ] || fail "DISPUTE_FAULT: step $fstep, the task has $STEPS steps (0 to $((STEPS - 1)))"
threads=(--threads "${DEMO_THREADS:-1}")

enter_work_dir dispute
rm -rf side-a side-b referee local-*.pwd task.pwt  # a previous run's, in a kept DEMO_DIR
mkdir side-a side-b referee
echo "proofwork dispute by hand: $(pol-bisect --version), programs from $(dirname "$(command -v pol-bisect)")"
echo "working in $WHERE"
start=$SECONDS

# --- 1. the task and two proofs -----------------------------------------------------
section "1. One task, an honest proof (side a) and a dishonest one (side b)"
at . 0 pol-task --model "$MODEL" \
  --train-images "$DATA/train-images-idx3-ubyte.gz" --train-labels "$DATA/train-labels-idx1-ubyte.gz" \
  --optimizer sgd --lr 0.05 --momentum 0.9 --batch 32 --steps "$STEPS" --checkpoint-every "$EVERY" \
  --seed 7 -q -o task.pwt
cp task.pwt side-a/ && cp task.pwt side-b/   # the task is public: both sides hold it
at side-a 0 pol-train task.pwt -o proof -q "${threads[@]}"
at side-b 0 pol-forge task.pwt -o proof -q --inject-fault "$FAULT" "${threads[@]}"
cmp -s side-a/proof/manifest.pwm side-b/proof/manifest.pwm &&
  fail "the fault $FAULT left no trace in the proof (its effect died out): choose another DISPUTE_FAULT"
proof_bytes=$(bytes side-b/proof)
ckpt_bytes=$(stat -c %s "side-b/proof/$(printf 'ckpt-%08d.pwc' "$EVERY")")
say "each proof: $(find side-a/proof -type f | wc -l) files, $proof_bytes bytes ($((STEPS / EVERY + 1)) checkpoints of about $ckpt_bytes bytes)"
say "side b trained with --inject-fault $FAULT: in step $fstep, op $fop's output was perturbed,"
say "and every checkpoint after it commits to the perturbed training"

# --- 2. the two-party exchange ------------------------------------------------------
section "2. pol-bisect play: two directories, only the transcript travels"
say "side-a/ and side-b/ each hold the task and only their own proof. Each move reads the"
say "transcript received, answers the pending questions from this side's own proof and"
say "computation, and writes the transcript to send back. Side b answers as its dishonest"
say "computation ran (--fault simulates the machine that trained with the fault)."
echo
# the first move: side a opens, with no transcript
at side-a 0 pol-bisect play task.pwt proof --side a -o t01.pwd -q "${threads[@]}"
move=1; from=a; to=b; sent=0; largest=0
while :; do
  cur=$(printf 't%02d.pwd' "$move")
  size=$(stat -c %s "side-$from/$cur")
  sent=$((sent + size)); [ "$size" -gt "$largest" ] && largest=$size
  # (not `pol-show | grep -q`: grep stops at the match and, under pipefail, pol-show's
  # SIGPIPE on the rest, the manifests, would read as no match)
  if [ "$(field "side-$from/$cur" complete)" = true ]; then break; fi
  [ "$move" -lt 40 ] || fail "the exchange did not end after $move moves"
  say "send $cur: side $from -> side $to, $size bytes"
  cp "side-$from/$cur" "side-$to/$cur"   # e-mail, scp, a ledger post: any channel
  next=$(printf 't%02d.pwd' $((move + 1)))
  fault=(); [ "$to" = b ] && fault=(--fault "$FAULT")
  # every move exits 0: the exchange goes on, or it ended with side a right
  at "side-$to" 0 pol-bisect play task.pwt proof --side "$to" --transcript "$cur" -o "$next" -q "${fault[@]}" "${threads[@]}"
  move=$((move + 1)); from=$to; to=$([ "$to" = a ] && echo b || echo a)
done
final=side-$from/$cur
rounds=$(pol-show "$final" | grep -c '"level":')
bound=$(field "$final" roundBound)
say "the transcript is complete after $move moves: $final, $size bytes"
say "$rounds rounds of bisection (bound ceil(log2 C) + ceil(log2 k) + ceil(log2 ops) + 2 = $bound)"
[ "$rounds" -le "$bound" ] || fail "$rounds rounds exceed the bound $bound"
say "exchanged: $move transcript files, $sent bytes in all, the largest $largest bytes;"
say "one proof is $proof_bytes bytes, one checkpoint about $ckpt_bytes: the whole exchange is" \
  "$(awk -v s="$sent" -v p="$proof_bytes" 'BEGIN { printf "%.1f", 100 * s / p }') % of a proof"
[ "$sent" -lt "$proof_bytes" ] || fail "the transcripts together are larger than a proof"

step=$(field "$final" step); op=$(field "$final" opIndex); kind=$(field "$final" opKind)
say "pinpointed: step $step, op $op ($kind); the transcript's ruling: side $(field "$final" winner) is right"
if [ "$step" != "$fstep" ] || [ "$op" != "$fop" ]; then
  fail "pinpointed step $step, op $op; the fault was injected at step $fstep, op $fop"
fi
[ "$(field "$final" winner)" = a ] || fail "the transcript does not rule for side a, the honest one"

# --- 3. the referee -----------------------------------------------------------------
section "3. pol-bisect replay: the referee recomputes the one op"
say "the last mover computed that ruling on its own machine; a referee trusts only its own"
say "recomputation. It holds the dispute file alone: the task is embedded in it, and so are the"
say "op's inputs (checked against the hashes both sides agreed on) and both sides' outputs."
say "(Only a load_batch op would need the dataset as well.)"
cp "$final" referee/dispute.pwd
at referee 0 pol-bisect replay dispute.pwd "${threads[@]}"
at referee 0 pol-bisect replay dispute.pwd --json -q "${threads[@]}" > referee/ruling.json
sed 's/^/   /' referee/ruling.json
grep -q "\"step\": $fstep, \"op\": $fop," referee/ruling.json || fail "the referee names another op"
grep -q '"right": "A"' referee/ruling.json || fail "the referee does not find side a right"

# --- 4. the same, locally -----------------------------------------------------------
section "4. The one-command form, both proofs on one machine"
say "--fault-b makes side b answer with its fault, as its own machine did above"
at . 0 pol-bisect task.pwt side-a/proof side-b/proof --fault-b "$FAULT" -o local-ab.pwd "${threads[@]}"
[ "$(field local-ab.pwd step):$(field local-ab.pwd opIndex)" = "$fstep:$fop" ] ||
  fail "the local run pinpoints another op than the exchange"
[ "$(field local-ab.pwd refereeHash)" = "$(field "$final" refereeHash)" ] ||
  fail "the local run's referee output differs from the exchange's"
say "same step, op and referee output as the exchange"
say "with the dishonest proof as A, the status says B is right (exit 1):"
at . 1 pol-bisect task.pwt side-b/proof side-a/proof --fault-a "$FAULT" -q "${threads[@]}"
say "without --fault-b, side b answers with honest computation: both compute every step alike,"
say "and the dispute ends at the checkpoint side b claimed but did not compute:"
at . 0 pol-bisect task.pwt side-a/proof side-b/proof -o local-honest-answers.pwd -q "${threads[@]}"
[ -z "$(field local-honest-answers.pwd opKind)" ] || fail "expected no op to be pinpointed"
[ "$(field local-honest-answers.pwd winner)" = a ] || fail "expected side a to be right"
say "ruling: side a, at step $(field local-honest-answers.pwd step) (no op: the file carries the agreed state before"
say "that step and its batch, and the referee recomputes the step from the file alone):"
mkdir -p referee-step && cp local-honest-answers.pwd referee-step/dispute.pwd
at referee-step 0 pol-bisect replay dispute.pwd "${threads[@]}"

section "done in $(( SECONDS - start )) s: every step behaved as documented"
