#!/usr/bin/env bash
# dlcore's main job (the README's first command): install the Fashion-MNIST data (Debian package
# dataset-fashion-mnist), build and install dlcore in a virtual environment, and train the lecture ConvNet.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d /usr/share/datasets/fashion-mnist ] && [ -z "${DLCORE_DATA:-}" ]; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y dataset-fashion-mnist; else sudo apt-get install -y dataset-fashion-mnist; fi
fi
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# The main job trains on the CPU: compile the CUDA kernels only where a GPU is present (nvcc alone is not enough;
# building every kernel for sm_80 and sm_90 takes long on a small machine). Override with DLCORE_CUDA=ON|OFF|AUTO.
if [ -z "${DLCORE_CUDA:-}" ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then DLCORE_CUDA=AUTO; else DLCORE_CUDA=OFF; fi
fi
.venv/bin/python -m pip install -q . -C cmake.define.DLCORE_CUDA="$DLCORE_CUDA"
.venv/bin/dlcore train convnet "$@"
