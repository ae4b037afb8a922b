#!/usr/bin/env bash
# tests/bench/part-gpu.sh: the CUDA backend's benchmarks, run by `make bench`
# (tests/bench/run.sh) and by tests/gpu/run.sh. Rows on stdout, progress on stderr.
#
#   1. exact GEMM 4096³ vs cublasSgemm FP32 without tensor cores (bench_gpu gemm);
#   2. fast-mode training step (cuBLAS TF32 + fused element-wise kernels) vs a bare
#      loop of the same cuBLAS GEMMs, MLP 784-1024-1024-10 at batch 1024 and 128
#      (bench_gpu step); the exact step beside it;
#   3. pol-train --device cuda steps/s on the MLP at batch 128 and 1024, exact mode,
#      against pol-train on this machine's CPU (all cores), same task.
#
# Without a CUDA device (or a build without CUDA) it prints no rows and says why.
# Environment: BIN (build directory), SCRATCH (empty directory), FASHION_MNIST (the
# *-ubyte.gz files; default /usr/share/datasets/fashion-mnist; synthetic IDX files of
# the same shape when absent), GPU_STEPS (pol-train steps, default 300), CPU_STEPS
# (default 30).
set -euo pipefail
: "${BIN:?BIN must name the build directory}" "${SCRATCH:?SCRATCH must name an empty directory}"
say() { echo "part-gpu: $*" >&2; }
B="$BIN/tests/bench_gpu"
if [ ! -x "$B" ]; then say "no $B (built without CUDA): no GPU rows"; exit 0; fi
set +e
probe=$("$B" gemm 1 2>&1 >/dev/null); rc=$?
set -e
if [ "$rc" = 4 ]; then say "${probe#bench_gpu: }: no GPU rows"; exit 0; fi

say "1. exact GEMM 4096³ vs cublasSgemm (FP32, pedantic math)"
"$B" gemm 4096
say "2. fast step vs bare cuBLAS loop"
"$B" step 1024 200
"$B" step 128 400

say "3. pol-train --device cuda steps/s"
DATA=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
GPU_STEPS=${GPU_STEPS:-300} CPU_STEPS=${CPU_STEPS:-30}
if [ ! -f "$DATA/train-images-idx3-ubyte.gz" ]; then
  say "no Fashion-MNIST in $DATA: synthetic IDX files of its shape (speed does not depend on the pixels)"
  DATA="$SCRATCH/synthetic"
  mkdir -p "$DATA"
  map=$(for i in $(seq 0 255); do printf '\\%03o' $((i % 10)); done)
  { printf '\x00\x00\x08\x03\x00\x00\xea\x60\x00\x00\x00\x1c\x00\x00\x00\x1c'; head -c $((60000 * 784)) /dev/urandom; } \
    > "$DATA/train-images-idx3-ubyte"
  { printf '\x00\x00\x08\x01\x00\x00\xea\x60'; head -c 60000 /dev/urandom | tr '\000-\377' "$map"; } \
    > "$DATA/train-labels-idx1-ubyte"
  img="$DATA/train-images-idx3-ubyte" lab="$DATA/train-labels-idx1-ubyte"
else
  img="$DATA/train-images-idx3-ubyte.gz" lab="$DATA/train-labels-idx1-ubyte.gz"
fi
for batch in 128 1024; do
  for dev in cuda cpu; do
    steps=$([ $dev = cuda ] && echo "$GPU_STEPS" || echo "$CPU_STEPS")
    "$BIN/pol-task" --model mlp:784-1024-1024-10 --train-images "$img" --train-labels "$lab" --optimizer sgd \
      --lr 0.05 --momentum 0.9 --batch $batch --steps "$steps" --checkpoint-every "$steps" --seed 1 -q \
      -o "$SCRATCH/task-$dev-$batch.pwt"
    "$BIN/pol-train" "$SCRATCH/task-$dev-$batch.pwt" -o "$SCRATCH/proof-$dev-$batch" --device $dev -q --json \
      > "$SCRATCH/train-$dev-$batch.json"
    sps=$(sed -n 's/.*"steps_per_second": \([0-9.]*\).*/\1/p' "$SCRATCH/train-$dev-$batch.json")
    say "pol-train --device $dev, batch $batch: $sps steps/s"
    eval "sps_$dev=$sps"
  done
  awk -v b=$batch -v g="$sps_cuda" -v c="$sps_cpu" -v t="$(nproc)" 'BEGIN {
    printf "| pol-train --device cuda, MLP 784-1024-1024-10 batch %d, exact (steps/s) | %.1f | %.1f (pol-train on the CPU, %d threads) | %.1f× | — |\n", b, g, c, t, g / c }'
done
