#!/usr/bin/env bash
# Regenerates the lock files in requirements/ from pyproject.toml: one requirement set per service image
# (its extra) and one for development (every extra + test + bench), all with hashes, all resolved for every
# platform the images target (--universal) and held to the same versions (each service set is constrained by
# the development set, so the tests run exactly the versions an image ships).
#   bash scripts/lock.sh            (needs the dev venv: bash scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
uv=.venv/bin/uv
common=(--generate-hashes --universal --python-version 3.11 --no-header --quiet)
"$uv" pip compile pyproject.toml --extra all --extra test --extra bench "${common[@]}" -o requirements/dev.txt
for service in wifi-connect log-agent health; do
  "$uv" pip compile pyproject.toml --extra "$service" --constraint requirements/dev.txt "${common[@]}" \
    -o "requirements/$service.txt"
done
echo "lock: requirements/*.txt written"
