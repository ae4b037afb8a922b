#!/usr/bin/env bash
# tests/gpu/run.sh: everything the CUDA backend needs a GPU for, in one go,
# on a machine with an NVIDIA GPU (sm_90 and newer; built for sm_90 + compute_90 PTX).
# Builds, runs every GPU test and benchmark, and writes one report (Markdown).
#
#   tests/gpu/run.sh [BUILD_DIR]        (default build-gpu; the report: $OUT/gpu-report.md
#                                        when OUT is set, else BUILD_DIR/gpu-report.md)
#   PREBUILT=1 tests/gpu/run.sh DIR     skips step 1: DIR already holds the programs,
#                                        tests/unit-tests and tests/bench_gpu (built
#                                        elsewhere for sm_90, e.g. on a machine without
#                                        capnp/libsodium dev files on the GPU host)
#
# Steps (each bounded by `timeout`; the whole run is meant to fit in ~8 minutes):
#   1. configure and build (Release, -j$(nproc)) the programs, unit tests and bench_gpu;
#   2. the doctest suites "gpu" and "device": every op on the GPU vs the CPU bit for bit,
#      GEMM over odd shapes and every transpose, 20 steps of the tiny task, fast mode;
#   3. CLI: tests/cli/device_cuda.sh (GPU proof has the CPU's hashes, verifies on the CPU);
#   4. the MLP task 784-1024-1024-10 on Fashion-MNIST (or synthetic data of its shape):
#      GPU exact-mode checkpoint hashes = CPU's; the GPU proof verifies on the CPU;
#      a fast-mode GPU proof verifies on the CPU against a profile (pol-profile);
#   5. benchmarks: tests/bench/part-gpu.sh (GEMM vs cuBLAS, fast step vs cuBLAS loop,
#      pol-train steps/s at batch 128 and 1024).
# Exit status: 0 when every check passed, 1 when one failed, 4 when there is no GPU.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build-gpu}
REPORT=${OUT:-$BUILD}/gpu-report.md
mkdir -p "$BUILD" "$(dirname "$REPORT")"
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/pw-gpu.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
failures=0
say() { echo "gpu/run.sh: $*" >&2; }
section() { printf '\n## %s\n\n' "$1" >> "$REPORT"; say "$1"; }
# step NAME SECONDS CMD...: runs CMD, its output fenced in the report; counts failures.
step() {
  local name=$1 secs=$2; shift 2
  local t0=$SECONDS rc
  { echo '```'; timeout "$secs" "$@" 2>&1; rc=$?; echo '```'; } > "$SCRATCH/out" 2>&1
  rc=${rc:-$?}
  tail -c 20000 "$SCRATCH/out" >> "$REPORT"
  printf '\n%s: exit %s, %ss\n' "$name" "$rc" $((SECONDS - t0)) >> "$REPORT"
  if [ "$rc" != 0 ]; then failures=$((failures + 1)); say "$name FAILED (exit $rc)"; else say "$name ok"; fi
  return "$rc"
}

{
  echo "# proofwork GPU report"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (with local changes)')"
  echo "- host: $(hostname), $(nproc) cores"
  echo "- GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo 'nvidia-smi not found')"
  echo "- nvcc: $( (command -v nvcc >/dev/null && nvcc --version || /usr/local/cuda/bin/nvcc --version) 2>/dev/null | tail -1)"
} > "$REPORT"

section "1. Build"
if [ "${PREBUILT:-0}" = 1 ]; then
  for f in pol-task pol-train pol-verify pol-show pol-bisect pol-profile tests/unit-tests tests/bench_gpu; do
    [ -x "$BUILD/$f" ] || { echo "PREBUILT=1 but $BUILD/$f is missing" >> "$REPORT"; cat "$REPORT"; exit 1; }
  done
  echo "prebuilt: $BUILD" >> "$REPORT"
else
  step configure 300 cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release || { cat "$REPORT"; exit 1; }
  grep -q 'PW_HAVE_CUDA:INTERNAL=ON\|CMAKE_CUDA_COMPILER:' "$BUILD/CMakeCache.txt" || say "warning: CUDA not enabled in $BUILD"
  step build 420 cmake --build "$BUILD" -j"$(nproc)" --target unit-tests pol-task pol-train pol-verify pol-show \
    pol-bisect pol-profile bench_gpu || { cat "$REPORT"; exit 1; }
fi

section "2. Unit tests: suites gpu and device"
if ! "$BUILD/tests/bench_gpu" gemm 1 > /dev/null 2> "$SCRATCH/probe"; then
  echo "No usable GPU: $(cat "$SCRATCH/probe")" >> "$REPORT"
  say "no usable GPU"; cat "$REPORT"; exit 4
fi
step unit-gpu 240 "$BUILD/tests/unit-tests" -ts=gpu,device --no-intro -d

section "3. CLI: device_cuda"
step cli-device-cuda 240 env BIN="$BUILD" FIXTURES="$ROOT/tests/fixtures" OMP_NUM_THREADS="$(nproc)" \
  bash "$ROOT/tests/cli/harness/run-one.sh" "$ROOT/tests/cli/device_cuda.sh"

section "4. The MLP task: GPU vs CPU, and verification on the CPU"
mlp_checks() {
  set -e
  export PATH="$BUILD:$PATH"
  local d=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist} img lab
  if [ -f "$d/train-images-idx3-ubyte.gz" ]; then
    img=$d/train-images-idx3-ubyte.gz lab=$d/train-labels-idx1-ubyte.gz
  else
    echo "(no Fashion-MNIST: synthetic data of its shape)"
    mkdir -p "$SCRATCH/syn"
    map=$(for i in $(seq 0 255); do printf '\\%03o' $((i % 10)); done)
    { printf '\x00\x00\x08\x03\x00\x00\xea\x60\x00\x00\x00\x1c\x00\x00\x00\x1c'; head -c $((60000 * 784)) /dev/urandom; } > "$SCRATCH/syn/img"
    { printf '\x00\x00\x08\x01\x00\x00\xea\x60'; head -c 60000 /dev/urandom | tr '\000-\377' "$map"; } > "$SCRATCH/syn/lab"
    img=$SCRATCH/syn/img lab=$SCRATCH/syn/lab
  fi
  cd "$SCRATCH"
  for mode in exact fast; do
    pol-task --model mlp:784-1024-1024-10 --train-images "$img" --train-labels "$lab" --optimizer sgd --lr 0.05 \
      --momentum 0.9 --batch 128 --steps 60 --checkpoint-every 20 --seed 3 --mode $mode -q -o mlp-$mode.pwt
  done
  pol-train mlp-exact.pwt -o gpu-exact --device cuda --json
  pol-train mlp-exact.pwt -o cpu-exact --device cpu --json
  pol-show gpu-exact/manifest.pwm | grep -E '"(stateHash|root)"' > h_gpu
  pol-show cpu-exact/manifest.pwm | grep -E '"(stateHash|root)"' > h_cpu
  echo "checkpoint hashes, GPU (left) vs CPU (right):"
  paste h_gpu h_cpu
  cmp h_gpu h_cpu && echo "exact mode: GPU checkpoint hashes = CPU checkpoint hashes"
  pol-verify mlp-exact.pwt gpu-exact --device cpu && echo "the GPU exact proof verifies on the CPU"
  pol-verify mlp-exact.pwt cpu-exact --device cuda && echo "the CPU exact proof verifies on the GPU"
  pol-train mlp-fast.pwt -o gpu-fast --device cuda --json
  pol-profile mlp-fast.pwt gpu-fast -o fast.pwp --device cpu
  pol-verify mlp-fast.pwt gpu-fast --profile fast.pwp --device cpu && echo "the GPU fast proof verifies on the CPU against the profile"
  pol-profile mlp-fast.pwt gpu-fast -o fast-gpu.pwp --device cuda
  pol-verify mlp-fast.pwt gpu-fast --profile fast-gpu.pwp --device cuda && echo "the GPU fast proof verifies on the GPU against a CPU+GPU profile"
  pol-train mlp-fast.pwt -o cpu-fast --json
  pol-verify mlp-fast.pwt cpu-fast --profile fast-gpu.pwp --device cuda && echo "a CPU fast proof verifies on the GPU against the CPU+GPU profile"
}
step mlp-gpu-vs-cpu 420 bash -c "$(declare -f mlp_checks); SCRATCH='$SCRATCH' BUILD='$BUILD' mlp_checks"

section "5. Benchmarks"
mkdir -p "$SCRATCH/bench"
step bench 420 env BIN="$BUILD" SCRATCH="$SCRATCH/bench" bash "$ROOT/tests/bench/part-gpu.sh"
{
  echo
  echo "| Benchmark | proofwork | Baseline | Ratio | Target |"
  echo "|---|---|---|---|---|"
  grep '^| ' "$SCRATCH/out" || true
} >> "$REPORT"

printf '\n**%s**\n' "$([ $failures = 0 ] && echo 'all checks passed' || echo "$failures check(s) failed")" >> "$REPORT"
cat "$REPORT"
[ $failures = 0 ]
