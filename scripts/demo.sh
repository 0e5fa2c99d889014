#!/usr/bin/env bash
# Command (1) of the quick start: set up, then run the whole bundle on a simulated device (root).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m devrig.demo "$@"
