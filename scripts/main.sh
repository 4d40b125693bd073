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
.venv/bin/python -m pip install -q .
.venv/bin/dlcore train convnet "$@"
