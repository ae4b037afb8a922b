# examples/lib.sh: the preamble the example scripts share; each one sources it first:
#
#   EXAMPLE=flow.sh
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# It turns on `set -euo pipefail`, keeps the terminal (or log) on file descriptor 3 for
# the command lines `run` echoes, and defines fail, section, say, run, need_programs,
# need_fashion_mnist and enter_work_dir. Not a program: run the examples themselves
# (examples/flow.sh, ...), from any directory.
set -euo pipefail
EXAMPLES=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec 3>&1

fail() { echo "${EXAMPLE:-example}: FAILED: $*" >&2; exit 1; }
if [ -t 1 ]; then
  section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  section() { printf '\n== %s\n' "$*"; }
fi
say() { echo "   $*"; }

# run CODE CMD...: echo CMD (after the prompt $RUN_PROMPT$), run it, require exit
# status CODE. The programs' notes and progress go to stderr as usual; CMD's output to
# standard output, or to the file $RUN_OUT when the example sets it.
run() {
  local want=$1; shift
  echo "${RUN_PROMPT:-}\$ $*" >&3
  set +e
  if [ -n "${RUN_OUT:-}" ]; then "$@" >"$RUN_OUT"; else "$@"; fi
  local got=$?
  set -e
  [ "$got" = "$want" ] || fail "'$*' exited $got, expected $want"
}

# need_programs PROGRAM...: BIN, when set, goes first on PATH; every PROGRAM must then be
# found.
need_programs() {
  if [ -n "${BIN:-}" ]; then
    [ -d "$BIN" ] || fail "BIN='$BIN' is not a directory"
    BIN=$(cd "$BIN" && pwd)
    export PATH="$BIN:$PATH"
  fi
  local p
  for p in "$@"; do
    command -v "$p" >/dev/null || fail "$p not found (build with 'make', then set BIN to the build directory)"
  done
}

# need_fashion_mnist [--or-tiny] FILE...: DATA, the absolute path of the directory
# FASHION_MNIST (default /usr/share/datasets/fashion-mnist, Debian's
# dataset-fashion-mnist), which must hold every FILE. With --or-tiny, the 1000-sample
# fixture tests/fixtures/tiny stands in when Fashion-MNIST is not there.
need_fashion_mnist() {
  local dir=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist} f
  if [ "$1" = --or-tiny ]; then
    shift
    [ -r "$dir/$1" ] || dir=$EXAMPLES/../tests/fixtures/tiny
  fi
  [ -d "$dir" ] || fail "no dataset directory '$dir' (install Debian's dataset-fashion-mnist: 'make deps')"
  for f in "$@"; do
    [ -r "$dir/$f" ] || fail "missing $dir/$f (install Debian's dataset-fashion-mnist: 'make deps')"
  done
  DATA=$(cd "$dir" && pwd)  # a task records the paths as given
}

# enter_work_dir NAME: changes to WORK, the directory DEMO_DIR (created if need be) or
# else a new temporary directory, removed at the end unless DEMO_KEEP=1. WHERE says
# which, for the example's first lines.
enter_work_dir() {
  if [ -n "${DEMO_DIR:-}" ]; then
    mkdir -p "$DEMO_DIR"
    WORK=$(cd "$DEMO_DIR" && pwd)
    WHERE=$WORK
  else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/proofwork-$1.XXXXXX")
    WHERE=$WORK
    if [ "${DEMO_KEEP:-0}" != 1 ]; then
      trap 'rm -rf "$WORK"' EXIT
      WHERE="$WORK (removed at the end; DEMO_KEEP=1 keeps it)"
    fi
  fi
  cd "$WORK"
}
