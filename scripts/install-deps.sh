#!/bin/sh
# Installs proofwork's dependencies from Debian's packages (proofwork(7), DEPENDENCIES).
#   scripts/install-deps.sh [build|demo|bench|fuzz|all]   install what is missing (default: build)
#   scripts/install-deps.sh --check [GROUP]          exit 1 if anything is missing, install nothing
# build: compile and `make test` (with Fashion-MNIST: tests/cli/roots_pinned_bench.sh pins
# the benchmark task's root; with librsvg2-bin: pol-plot's PNG output and tests/cli/plot.sh; with openmpi-bin,
# libopenmpi-dev, slurm-wlm and munge: data-parallel pol-train, tests/cli/mpi_*.sh and the single-node Slurm
# that tests/cli/slurm_example.sh starts); demo: + fortunes (the GPT's text); bench: the demo's + OpenBLAS and
# PyTorch (the competitors), and PyTorch for regenerating the reference fixtures.
set -eu
check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
group=${1:-build}

# The tests (make test) also run python3 (standard library only), jq, man, and perl, od,
# dd, cmp, awk, script and flock from Debian's essential and required packages (perl-base,
# coreutils, diffutils, mawk, bsdutils, util-linux), named here so a check finds them.
build="cmake make g++ pkg-config capnproto libcapnp-dev libcli11-dev doctest-dev libzstd-dev libsodium-dev zlib1g-dev python3 jq man-db librsvg2-bin perl-base coreutils diffutils mawk bsdutils util-linux dataset-fashion-mnist openmpi-bin libopenmpi-dev slurm-wlm munge"
demo="fortunes"
bench="libopenblas-dev python3-torch python3-numpy"
# fuzz: make fuzz (clang's libFuzzer and sanitizer runtimes, clang's OpenMP).
fuzz="clang libclang-rt-14-dev libomp-dev"
case "$group" in
  build) want="$build" ;;
  demo) want="$build $demo" ;;
  bench) want="$build $demo $bench" ;;
  fuzz) want="$build $fuzz" ;;
  all) want="$build $demo $bench $fuzz" ;;
  *) echo "install-deps.sh: unknown group '$group' (build, demo, bench, fuzz, all)" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$check" = 1 ]; then
  echo "missing:$missing" >&2
  exit 1
fi
echo "install-deps.sh: installing$missing" >&2
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $missing
