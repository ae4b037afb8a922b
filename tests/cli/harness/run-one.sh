#!/bin/bash
# Runs one CLI test script in a fresh scratch directory with the programs on PATH.
# A test script uses `expect_exit CODE cmd...` and plain assertions; it fails on the
# first error (set -e).
set -euo pipefail
script=$1
scratch=$(mktemp -d "${TMPDIR:-/tmp}/pw-cli.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export PATH="$BIN:$PATH"
export HERE=$(cd "$(dirname "$script")" && pwd)
cd "$scratch"
source "$HERE/harness/lib.sh"
trap 'echo "FAIL: $(basename "$script") line $LINENO: $BASH_COMMAND" >&2' ERR
source "$script"
echo "ok: $(basename "$script")"
