#!/usr/bin/env bash
# dlcore's test command (the README's second command; .ci/run calls it).
# Fresh machine -> a virtual environment with dlcore built in its test flavour (the CPU kernels plus every CUDA
# kernel compiled through the SIMT emulator, so the "cuda" device is tested without a GPU), then the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q ".[test]" -C cmake.define.DLCORE_CUDA=OFF -C build-dir=build/test  # the SIMT-emulator flavour (DLCORE_CUDA_EMU=ON) returns with csrc/cuda/emu
cd tests  # import the installed package, not the source tree
../.venv/bin/python -m pytest -q -n 2 --durations=15 -p no:cacheprovider "$@" .
