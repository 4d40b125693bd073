#!/usr/bin/env bash
# dlcore's test command (the README's second command; .ci/run calls it).
# Fresh machine -> a virtual environment with dlcore built in its test flavour (the CPU kernels plus every CUDA
# kernel compiled through the SIMT emulator, so the "cuda" device is tested without a GPU), then the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q ".[test]" -C cmake.define.DLCORE_CUDA_EMU=ON -C build-dir=build/test
cd tests  # import the installed package, not the source tree
# The emulator's thread order for the whole run: random (a missing __syncthreads shows under forward or random
# order; test_emu_selftest.py also runs forward explicitly). Override with DLCORE_SIMT_SCHEDULE=forward etc.
export DLCORE_SIMT_SCHEDULE=${DLCORE_SIMT_SCHEDULE:-random:1}
../.venv/bin/python -m pytest -q -n 2 --durations=15 -p no:cacheprovider "$@" .
