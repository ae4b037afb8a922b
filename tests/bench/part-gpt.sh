#!/usr/bin/env bash
# tests/bench/part-gpt.sh: the GPT's benchmarks (proofwork(7), TESTS AND BENCHMARKS), run
# by tests/bench/run.sh with BIN (the build directory) and SCRATCH (an empty directory).
# Markdown rows on stdout, progress on stderr.
#
# Text: the plain text of Debian's fortunes (/usr/share/games/fortunes/*, not the .dat
# and .u8 files) concatenated; its last GPT_VAL_BYTES bytes are the validation text, the
# rest the training text.
#
#   1. Training speed: tokens/s of exact-mode pol-train (steps·B·T / its seconds, which
#      include the two checkpoint writes) vs PyTorch 1.13 (tests/bench/torch_gpt.py speed)
#      on the same model, batch and context, AdamW with clipping. Ours at --threads 1
#      and 2; PyTorch at every combination of torch.set_num_threads 1/2 ×
#      OPENBLAS_NUM_THREADS 1/2, each its own process. The settings are interleaved
#      round-robin, GPT_REPEATS rounds; each setting's median and spread (min–max)
#      are printed, and the ratio of the best medians. Target ≥ 1.0× (stretch 1.3×).
#      And whether each side's final bits depend on its thread setting (ours: the root
#      must not; PyTorch's OpenBLAS settings give different parameters).
#   2. Learning: a task of GPT_LEARN_STEPS steps trained by pol-train; PyTorch trains
#      from our exported initial weights (pol-export --checkpoint 0) on our batch order
#      (pol-export --batches) with the same optimizer; both final models' validation
#      bits per byte evaluated by torch_gpt.py (the same windows), within 1 %. When
#      pol-train reports its own validation bits per byte, that is compared with the
#      PyTorch evaluation of our weights too.
#   3. Disputes and proofs on the speed runs' proof: pol-verify replay vs training
#      (≥ 0.9×); bisection rounds against the bound for an injected fault (pol-forge
#      --inject-fault, pinpointed by pol-bisect); proof bytes per checkpoint.
#
# Environment: PYTHON (default /usr/bin/python3), SKIP_TORCH=1 (leave PyTorch out),
# BENCH_LONG=1 (gpt:6-6-384-256, nanoGPT's character-level baby GPT, batch 8, instead
# of gpt:2-2-64-64, batch 16), GPT_MODEL, GPT_BATCH, GPT_STEPS (timed steps, default 30;
# 10 long), GPT_WARMUP (PyTorch's untimed steps, default 3), GPT_REPEATS (rounds, default
# 5), GPT_LEARN_STEPS (default 300, long 100; 0 leaves part 2 out), GPT_VAL_BYTES (default 65536),
# GPT_FAULT_OP (the op of the injected fault, default 1: the first op after the batch
# load), FORTUNES (default /usr/share/games/fortunes). Part 1 is 6 × GPT_REPEATS
# trainings; on 2 idle cores the default run takes a few minutes.
set -euo pipefail
: "${BIN:?}" "${SCRATCH:?}"
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/bench/lib.sh
source "$HERE/lib.sh"
PYTHON=${PYTHON:-/usr/bin/python3}
FORTUNES=${FORTUNES:-/usr/share/games/fortunes}
if [ "${BENCH_LONG:-0}" = 1 ]; then
  MODEL=${GPT_MODEL:-gpt:6-6-384-256} BATCH=${GPT_BATCH:-8} STEPS=${GPT_STEPS:-10} LEARN_STEPS=${GPT_LEARN_STEPS:-100}
else
  MODEL=${GPT_MODEL:-gpt:2-2-64-64} BATCH=${GPT_BATCH:-16} STEPS=${GPT_STEPS:-30} LEARN_STEPS=${GPT_LEARN_STEPS:-300}
fi
WARMUP=${GPT_WARMUP:-3}
REPEATS=${GPT_REPEATS:-5}
VAL_BYTES=${GPT_VAL_BYTES:-65536}
FAULT_OP=${GPT_FAULT_OP:-1}
CONTEXT=${MODEL##*-}
# The optimizer of every run: AdamW as nanoGPT trains, with clipping.
OPT=(--optimizer adamw --lr 1e-3 --beta1 0.9 --beta2 0.95 --eps 1e-8 --weight-decay 0.1 --clip 1.0)
TOKENS=$(( STEPS * BATCH * CONTEXT ))

die() { echo "part-gpt: $*" >&2; exit 4; }
say() { echo "part-gpt: $*" >&2; }
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }
for p in pol-task pol-train pol-export pol-verify pol-forge pol-bisect pol-show; do
  [ -x "$BIN/$p" ] || die "$BIN/$p is missing; build first"
done
command -v jq >/dev/null || die "jq is needed (apt-get install jq)"
# A build whose pol-task has no GPT yet gives one row saying so, not a failure of the
# whole benchmark run (and no row that could pass for a result).
if ! "$BIN/pol-task" --help 2>&1 | grep -q -- '--text'; then
  say "this build's pol-task has no GPT (no --text): the GPT benchmarks are not run"
  row "GPT benchmarks (training speed, learning, disputes)" "not run: pol-task has no GPT in this build" "—" "—" "—"
  exit 0
fi
torch_ok=yes
if [ "${SKIP_TORCH:-0}" = 1 ]; then
  torch_ok=no
elif ! "$PYTHON" -c 'import torch, numpy' 2>/dev/null; then
  die "PyTorch is not importable by $PYTHON (Debian: python3-torch python3-numpy; or SKIP_TORCH=1)"
fi
say "machine: $(machine); load average $(cut -d" " -f1-3 /proc/loadavg)"
cd "$SCRATCH"

# The text: every plain fortune file, in name order.
mapfile -t files < <(find -L "$FORTUNES" -maxdepth 1 -type f ! -name '*.*' | sort)
[ "${#files[@]}" -gt 0 ] || die "no fortune files in $FORTUNES (Debian: fortunes)"
cat "${files[@]}" >all.txt
total=$(stat -c %s all.txt)
[ "$total" -gt $(( 4 * VAL_BYTES )) ] || die "the fortunes text is $total bytes, too short"
head -c $(( total - VAL_BYTES )) all.txt >train.txt
tail -c "$VAL_BYTES" all.txt >val.txt
say "text: ${#files[@]} fortune files, $(( total - VAL_BYTES )) bytes of training text, $VAL_BYTES of validation"

# ---------------------------------------------------------------- 1. training speed
say "1. training speed: $MODEL, batch $BATCH, $STEPS steps ($TOKENS tokens), $REPEATS rounds"
"$BIN/pol-task" --model "$MODEL" --text train.txt --val-text val.txt "${OPT[@]}" --batch "$BATCH" \
  --steps "$STEPS" --checkpoint-every "$STEPS" --seed 1 -o speed.pwt -q || die "pol-task --model $MODEL failed"
ours_cfgs=(1 2)
torch_cfgs=(1:1 1:2 2:1 2:2)  # set_num_threads:OPENBLAS_NUM_THREADS
declare -A got
for rep in $(seq "$REPEATS"); do
  for t in "${ours_cfgs[@]}"; do
    rm -rf "proof-$t"
    "$BIN/pol-train" speed.pwt -o "proof-$t" --threads "$t" --json -q >"ours-$t.json" || die "pol-train failed"
    tps=$(calc "$TOKENS / $(json "ours-$t.json" .seconds)")
    got[ours-$t]="${got[ours-$t]:-} $tps"
    say "round $rep: pol-train --threads $t: $(fmt "$tps" %.0f) tokens/s, root $(json "ours-$t.json" .root)"
  done
  [ "$torch_ok" = yes ] || continue
  for c in "${torch_cfgs[@]}"; do
    OPENBLAS_NUM_THREADS=${c#*:} "$PYTHON" "$HERE/torch_gpt.py" speed --model "$MODEL" --batch "$BATCH" \
      --text train.txt --steps "$STEPS" --warmup "$WARMUP" --threads "${c%%:*}" "${OPT[@]}" >"torch-$c.json" ||
      die "torch_gpt.py failed"
    tps=$(json "torch-$c.json" .tokens_per_second)
    got[torch-$c]="${got[torch-$c]:-} $tps"
    say "round $rep: PyTorch set_num_threads(${c%%:*}), OPENBLAS_NUM_THREADS=${c#*:}: $(fmt "$tps" %.0f) tokens/s"
  done
done
roots=$(for t in "${ours_cfgs[@]}"; do json "ours-$t.json" .root; done | sort -u | wc -l)
[ "$roots" = 1 ] || die "pol-train's root depends on its thread count"
# best SIDE CFGS: the setting with the highest median, as "CFG MEDIAN MIN MAX".
best() {
  local side=$1 c s b=""
  shift
  for c in "$@"; do
    # shellcheck disable=SC2086
    s=$(stats ${got[$side-$c]})
    if [ -z "$b" ] || faster "${s%% *}" "$(echo "$b" | cut -d' ' -f2)"; then b="$c $s"; fi
  done
  echo "$b"
}
spread() { echo "$(fmt "$1" %.0f) ($(fmt "$2" %.0f)–$(fmt "$3" %.0f))"; }
what="$MODEL, batch $BATCH, context $CONTEXT, AdamW + clipping, $STEPS steps, median (min–max) of $REPEATS interleaved rounds"
for t in "${ours_cfgs[@]}"; do
  # shellcheck disable=SC2086
  read -r m lo hi <<<"$(stats ${got[ours-$t]})"
  row "GPT training tokens/s: pol-train --threads $t ($what)" "$(spread "$m" "$lo" "$hi")" "—" "—" "—"
done
read -r ob om olo ohi <<<"$(best ours "${ours_cfgs[@]}")"
if [ "$torch_ok" = yes ]; then
  for c in "${torch_cfgs[@]}"; do
    # shellcheck disable=SC2086
    read -r m lo hi <<<"$(stats ${got[torch-$c]})"
    row "GPT training tokens/s: PyTorch set_num_threads(${c%%:*}), OPENBLAS_NUM_THREADS=${c#*:} ($what)" "—" \
      "$(spread "$m" "$lo" "$hi")" "—" "—"
  done
  # Both sides' final bits under every thread setting (same seed, batches and steps on
  # each side): ours the root, PyTorch the SHA-256 of its final parameters.
  th=$(for c in "${torch_cfgs[@]}"; do json "torch-$c.json" .params_sha256; done | sort -u | wc -l)
  row "GPT: final parameters the same bits under every thread setting ($MODEL, $STEPS steps)" \
    "yes (${#ours_cfgs[@]} settings, one root)" \
    "$([ "$th" = 1 ] && echo yes || echo "no: $th different results from ${#torch_cfgs[@]} settings")" "—" "—"
  read -r tb tm tlo thi <<<"$(best torch "${torch_cfgs[@]}")"
  row "GPT training tokens/s, best vs best: pol-train --threads $ob vs PyTorch set_num_threads(${tb%%:*}), OPENBLAS_NUM_THREADS=${tb#*:} ($MODEL, batch $BATCH)" \
    "$(spread "$om" "$olo" "$ohi")" "$(spread "$tm" "$tlo" "$thi")" "$(fmt "$(calc "$om / $tm")" %.2f)×" "≥ 1.0× (stretch 1.3×)"
fi

# ---------------------------------------------------------------- 2. learning
if [ "$LEARN_STEPS" -gt 0 ] && [ "$torch_ok" = yes ]; then
  say "2. learning: $LEARN_STEPS steps of $MODEL, batch $BATCH; bits per byte on $VAL_BYTES validation bytes"
  "$BIN/pol-task" --model "$MODEL" --text train.txt --val-text val.txt "${OPT[@]}" --batch "$BATCH" \
    --steps "$LEARN_STEPS" --checkpoint-every "$LEARN_STEPS" --seed 2 -o learn.pwt -q || die "pol-task failed"
  "$BIN/pol-train" learn.pwt -o learn-proof --threads "$ob" --json -q >learn.json || die "pol-train failed"
  "$BIN/pol-export" learn-proof --checkpoint 0 -o init.safetensors -q || die "pol-export --checkpoint 0 failed"
  "$BIN/pol-export" learn-proof --checkpoint -1 -o final.safetensors -q || die "pol-export --checkpoint -1 failed"
  "$BIN/pol-export" learn-proof --batches -o batches.txt -q || die "pol-export --batches failed"
  [ "$(grep -vc '^#' batches.txt)" = "$LEARN_STEPS" ] || die "pol-export --batches did not give $LEARN_STEPS steps"
  OPENBLAS_NUM_THREADS=2 "$PYTHON" "$HERE/torch_gpt.py" learn --model "$MODEL" --batch "$BATCH" --weights init.safetensors \
    --batches batches.txt --text train.txt --val-text val.txt "${OPT[@]}" >torch-learn.json || die "torch_gpt.py learn failed"
  OPENBLAS_NUM_THREADS=2 "$PYTHON" "$HERE/torch_gpt.py" eval --model "$MODEL" --weights final.safetensors \
    --val-text val.txt >ours-eval.json || die "torch_gpt.py eval failed"
  ob_bpb=$(json ours-eval.json .val_bits_per_byte)
  tb_bpb=$(json torch-learn.json .val_bits_per_byte)
  say "validation bits/byte after $LEARN_STEPS steps: ours $ob_bpb, PyTorch $tb_bpb (from $(json torch-learn.json .initial_val_bits_per_byte) at step 0)"
  row "GPT learning: validation bits/byte after $LEARN_STEPS steps ($MODEL, batch $BATCH, AdamW; PyTorch from our initial weights on our batches; both evaluated by PyTorch on the same $(json ours-eval.json .val_windows) windows)" \
    "$(fmt "$ob_bpb" %.4f)" "$(fmt "$tb_bpb" %.4f)" "$(fmt "$(calc "$ob_bpb / $tb_bpb")" %.4f)×" "within 1 %"
  awk -v a="$ob_bpb" -v b="$tb_bpb" 'BEGIN { d = a / b - 1; exit !(d > 0.01 || d < -0.01) }' &&
    say "WARNING: our bits/byte differ from PyTorch's by more than 1 %"
  own=$(jq -r '.val_bits_per_byte // .validation_bits_per_byte // empty' learn.json)
  if [ -n "$own" ]; then
    row "GPT learning: pol-train's own validation bits/byte vs PyTorch's evaluation of the same weights" \
      "$(fmt "$own" %.4f)" "$(fmt "$ob_bpb" %.4f)" "$(fmt "$(calc "$own / $ob_bpb")" %.5f)×" "within 1 %"
  else
    say "pol-train --json reports no validation bits per byte; its evaluation was not compared"
  fi
fi

# ---------------------------------------------------------------- 3. disputes and proofs
say "3. pol-verify, pol-bisect and proof size on the speed runs' proof ($STEPS steps, --threads $ob)"
proof=proof-$ob
"$BIN/pol-verify" speed.pwt "$proof" --threads "$ob" --json -o verdict.json -q || die "pol-verify rejected an honest GPT proof"
replay=$(json verdict.json .replaySeconds)
train_s=$(json "ours-$ob.json" .seconds)
row "GPT verification: pol-verify replay tokens/s vs pol-train tokens/s ($MODEL, $STEPS steps, --threads $ob; one run each)" \
  "$(fmt "$(calc "$TOKENS / $replay")" %.0f)" "$(fmt "$(calc "$TOKENS / $train_s")" %.0f) (training)" \
  "$(fmt "$(calc "$train_s / $replay")" %.2f)×" "≥ 0.9×"
fstep=$(( STEPS / 2 ))
fault=$fstep:$FAULT_OP:3
"$BIN/pol-forge" speed.pwt -o dishonest --threads "$ob" --inject-fault "$fault" -q || die "pol-forge --inject-fault $fault failed"
! cmp -s "$proof/manifest.pwm" dishonest/manifest.pwm || die "the fault $fault left the proof unchanged"
"$BIN/pol-bisect" speed.pwt "$proof" dishonest --fault-b "$fault" -o dispute.pwd -f --threads "$ob" -q ||
  die "pol-bisect did not rule for the honest side (fault $fault)"
"$BIN/pol-show" dispute.pwd >dispute.json
[ "$(json dispute.json '"\(.step):\(.opIndex):\(.winner)"')" = "$fstep:$FAULT_OP:a" ] ||
  die "pol-bisect pinpointed $(json dispute.json '"step \(.step), op \(.opIndex), winner \(.winner)"'), not step $fstep, op $FAULT_OP"
nr=$(json dispute.json '.rounds | length')
bound=$(json dispute.json .roundBound)
row "GPT dispute: bisection rounds vs the bound, a fault injected at step $fstep, op $FAULT_OP ($(json dispute.json .opKind)) of a $STEPS-step $MODEL proof" \
  "$nr" "$bound" "$(fmt "$(calc "$nr / $bound")" %.2f)×" "≤ bound"
[ "$nr" -le "$bound" ] || say "WARNING: $nr bisection rounds, over the bound $bound"
nck=$(find "$proof" -name 'ckpt-*.pwc' | wc -l)
bytes=$(du -b -s "$proof" | cut -f1)
# Parameters: wte V·C, wpe T·C, per layer 12·C² + 13·C (ln_1, c_attn, c_proj, ln_2, c_fc,
# mlp.c_proj), ln_f 2·C; AdamW keeps two moments beside each.
params=$(echo "${MODEL#gpt:}" | awk -F- '{ L = $1; C = $3; T = $4; print 256 * C + T * C + L * (12 * C * C + 13 * C) + 2 * C }')
row "GPT proof bytes per checkpoint ($MODEL, $params parameters, with AdamW's two moments; whole proof dir / $nck checkpoints, step 0's moments zero)" \
  "$(fmt "$(calc "$bytes / $nck / 1e6")" %.3f) MB" "$(fmt "$(calc "12 * $params / 1e6")" %.3f) MB raw (4 B × 3 × params)" \
  "$(fmt "$(calc "$bytes / $nck / (12 * $params)")" %.3f)×" "—"
rm -rf dishonest proof-* learn-proof
