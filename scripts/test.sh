#!/usr/bin/env bash
# Command (2) of the quick start: set up, then run the whole test suite.
# pytest's exit code 5 ("no tests collected") is an error here: a suite that ran nothing did not pass.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
.venv/bin/ruff check . || exit 1
.venv/bin/python -m pytest "$@"
rc=$?
if [[ $rc -eq 5 ]]; then
  echo "test: pytest collected no tests" >&2
  exit 1
fi
exit $rc
