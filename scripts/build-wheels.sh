#!/bin/sh
# The images' wheel-building step: one wheel per locked requirement, hash-checked. pip takes PyPI's wheel where
# one exists for this platform and compiles the sdist where none does (32-bit ARM: see requirements/README.md).
#   sh scripts/build-wheels.sh requirements/<service>.txt <wheel dir>
set -eu
python -m pip wheel --no-cache-dir --require-hashes --no-deps --requirement "$1" --wheel-dir "$2"
