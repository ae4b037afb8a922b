#!/usr/bin/env bash
# tests/bench/part-aqsgd.sh: aqsgd-pack's benchmarks, run by tests/bench/run.sh with BIN
# (the build directory) and SCRATCH (an empty directory). Markdown rows on stdout,
# progress on stderr.
#
#   1. bench_aqsgd: pack / unpack throughput on one core (thread CPU time) in GB/s of
#      fp32, AQ-SGD with its mmapped state at 2, 3, 4, 8 bits, with the rotation
#      (tiles of 64) and per-tile scales (64 channels of a row), alone and together,
#      and direct quantization, against memcpy and zstd -1 of the same bytes, in the
#      same run;
#   2. the same through the program: aqsgd-pack --bits 4 | aqsgd-pack -d, wall time of
#      the pipe against cat, and the states of both sides compared byte for byte;
#   3. bench_aqsgd_train: the paper's claim on Fashion-MNIST. MLP 784-64-64-10 cut
#      after the first hidden layer, SGD lr 0.05 (AQSGD_SCHEDULE: cosine decay to 0 by
#      default, or const) momentum 0.9, batch 128, AQSGD_EPOCHS epochs (default 10) of
#      which the first crosses the cut uncompressed for every setting (the reference
#      implementation's --warmup-epochs 1), trained from scratch from AQSGD_SEEDS seeds
#      (default 3; the rows give the mean and each value): fp32 vs AQ-SGD 2/3/4 bits,
#      each plain and rotated by tiles of 64 (r64), at 2 bits also with a scale per 64
#      or 16 channels of a row (s64, s16) alone and with the rotation, vs direct
#      2/3/4 bits forward (and direct 2 bits rotated with per-row scales), the gradient
#      back with direct 8 bits; final train loss, test accuracy, bytes sent; and per
#      AQ-SGD setting the bytes on the wire per step and the compression ratio of the
#      real activations with and without zstd (AQSGD_SETTINGS overrides the list).
#   4. bench_aqsgd_gpt: the claim on a transformer. gpt:AQSGD_GPT_LAYERS-4-64-64 (2
#      layers by default) cut after block 1 -- the residual stream [batch·64, 64] crosses
#      the cut, a sample of AQ-SGD's state is one position of one window -- AdamW lr
#      AQSGD_GPT_LR (4e-3; cosine to a tenth, one epoch of linear warm-up), batch 16,
#      AQSGD_GPT_EPOCHS epochs (default 12, the first uncompressed) over a FIXED set of
#      1024 windows of 65 bytes of AQSGD_TEXT's first part (default: Debian's fortunes
#      file "computers", 238 KB), the last 32 KiB held out; AQSGD_GPT_SEEDS seeds
#      (default 2); fp32 vs AQ-SGD 2/3/4 bits plain and rotated by tiles of 64 with a
#      scale per row (r64s64) vs direct 2 and 3 bits (AQSGD_GPT_SETTINGS overrides the
#      list), the gradient back with direct 8 bits; validation bits per byte of the
#      final model at full precision, its ratio to fp32's (target ≤ 1.02× at 3 bits,
#      stretch at 2), and the bytes on the wire per step. About a minute a training on
#      one idle core: 9 × AQSGD_GPT_SEEDS trainings, about 10 minutes on 2 idle cores.
#
# Environment: FASHION_MNIST (default /usr/share/datasets/fashion-mnist), AQSGD_THREADS
# (GEMM threads of each training in part 3, default 1: at these sizes OpenMP's barriers
# cost more than they give, badly so on a loaded machine), AQSGD_JOBS (trainings run at
# once, default 2), AQSGD_EPOCHS (10), AQSGD_SEEDS (3), AQSGD_SCHEDULE (cosine),
# AQSGD_HIDDEN (64), AQSGD_BATCH (128), AQSGD_SETTINGS; for part 4 AQSGD_TEXT,
# AQSGD_GPT_LAYERS (2), AQSGD_GPT_EPOCHS (12), AQSGD_GPT_LR (4e-3), AQSGD_GPT_SEEDS (2),
# AQSGD_GPT_SETTINGS. Part 3 runs 17 × AQSGD_SEEDS
# trainings of AQSGD_EPOCHS epochs, about 1 to 3 s an epoch on one core: 5 to 10
# minutes on 2 idle cores.
set -euo pipefail
: "${BIN:?}" "${SCRATCH:?}"
DATA=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
THREADS=${AQSGD_THREADS:-1}
JOBS=${AQSGD_JOBS:-2}
EPOCHS=${AQSGD_EPOCHS:-10}
SEEDS=${AQSGD_SEEDS:-3}
SCHEDULE=${AQSGD_SCHEDULE:-cosine}
HIDDEN=${AQSGD_HIDDEN:-64}
BATCH=${AQSGD_BATCH:-128}
TEXT=${AQSGD_TEXT:-${FORTUNES:-/usr/share/games/fortunes}/computers}
GPT_LAYERS=${AQSGD_GPT_LAYERS:-2}
GPT_EPOCHS=${AQSGD_GPT_EPOCHS:-12}
GPT_LR=${AQSGD_GPT_LR:-4e-3}
GPT_SEEDS=${AQSGD_GPT_SEEDS:-2}
GPT_SETTINGS=${AQSGD_GPT_SETTINGS:-fp32,aq2,aq3,aq4,aq2r64s64,aq3r64s64,aq4r64s64,direct2,direct3}
SETTINGS=${AQSGD_SETTINGS:-fp32,aq2,aq3,aq4,aq2r64,aq3r64,aq4r64,aq2s64,aq2s16,aq2r64s64,aq2r64s16,aq3r64s64,aq4r64s64,direct2,direct3,direct4,direct2r64s64}
mkdir -p "$SCRATCH"
find_bench() { for d in "$BIN/tests" "$BIN"; do [ -x "$d/$1" ] && { echo "$d/$1"; return; }; done; echo "part-aqsgd: $1 not built" >&2; exit 4; }

echo "part-aqsgd: 1. pack/unpack throughput (bench_aqsgd)" >&2
"$(find_bench bench_aqsgd)" "$SCRATCH" --passes 9

echo "part-aqsgd: 2. through the program: aqsgd-pack | aqsgd-pack -d" >&2
# 64 MiB of activations: 16384 samples x 1024 channels, seen twice (the second pass drifted)
perl -e 'srand(11); my @b = map { rand(2) - 1 } 1 .. 1024;
  open(my $f, ">", $ARGV[0]) or die; binmode $f;
  for my $pass (0 .. 1) { for my $s (0 .. 16383) { my $o = ($s * 7) % 1024;
    print $f pack("f<*", map { $b[($_ + $o) % 1024] + 0.01 * $pass * (($_ * $s) % 13 - 6) } 0 .. 1023); } }' "$SCRATCH/acts.f32"
seq 0 16383 > "$SCRATCH/ids1"; cat "$SCRATCH/ids1" "$SCRATCH/ids1" > "$SCRATCH/ids"
"$BIN/aqsgd-pack" -q --wrap 1024 --batch-rows 128 --ids "$SCRATCH/ids" "$SCRATCH/acts.f32" -o "$SCRATCH/acts.aqa"
t0=$(date +%s.%N)
cat "$SCRATCH/acts.aqa" | cat > /dev/null
t_cat=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
t0=$(date +%s.%N)
"$BIN/aqsgd-pack" -q --bits 4 --state "$SCRATCH/tx" "$SCRATCH/acts.aqa" | "$BIN/aqsgd-pack" -q -d --state "$SCRATCH/rx" > /dev/null
t_pipe=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
same=differ; cmp -s "$SCRATCH/tx/state.aqs" "$SCRATCH/rx/state.aqs" && same=identical
mbytes=$(stat -c %s "$SCRATCH/acts.aqa")
awk -v mb="$mbytes" -v p="$t_pipe" -v c="$t_cat" -v s="$same" 'BEGIN {
  printf "| aqsgd-pack --bits 4 --state \\| aqsgd-pack -d --state, 2 passes over 16384 samples × 1024 channels (%.0f MB fp32, first pass at full precision), wall; states of both sides %s | %.2f s (%.2f GB/s) | %.2f s (cat \\| cat) | %.1f× | — |\n", mb / 1e6, s, p, mb / p / 1e9, c, p / c }'
rm -rf "$SCRATCH/tx" "$SCRATCH/rx" "$SCRATCH/acts.f32" "$SCRATCH/acts.aqa"

echo "part-aqsgd: 3. training through the cut (bench_aqsgd_train, $EPOCHS epochs, $SEEDS seeds, $JOBS jobs)" >&2
"$(find_bench bench_aqsgd_train)" "$DATA" "$SCRATCH" --epochs "$EPOCHS" --hidden "$HIDDEN" --batch "$BATCH" \
  --threads "$THREADS" --jobs "$JOBS" --seeds "$SEEDS" --schedule "$SCHEDULE" --warmup-epochs 1 --settings "$SETTINGS"

echo "part-aqsgd: 4. a GPT through the cut (bench_aqsgd_gpt, $GPT_EPOCHS epochs, $GPT_SEEDS seeds, $JOBS jobs)" >&2
[ -r "$TEXT" ] || { echo "part-aqsgd: the GPT's text $TEXT is missing (Debian: fortunes; or set AQSGD_TEXT)" >&2; exit 4; }
"$(find_bench bench_aqsgd_gpt)" "$TEXT" "$SCRATCH" --layers "$GPT_LAYERS" --cut 1 --heads 4 --channels 64 \
  --context 64 --batch 16 --windows 1024 --epochs "$GPT_EPOCHS" --warmup-epochs 1 --lr "$GPT_LR" --val-bytes 32768 \
  --threads "$THREADS" --jobs "$JOBS" --seeds "$GPT_SEEDS" --settings "$GPT_SETTINGS"
