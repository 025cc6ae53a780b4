#!/usr/bin/env bash
# One command from a fresh clone to a results file: set up, build, run the
# default matrix (every available strategy x every scenario x tcp,unix).
# Extra arguments go to `muxbench run`, e.g. --quick.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node dist/harness/cli.js run "$@"
