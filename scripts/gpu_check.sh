#!/usr/bin/env bash
# One-shot check of the CUDA backend on a real GPU (written for the lent H200: 16 cores, nvcc 13, python3 with
# numpy/pytest/pybind11/torch, compute-sanitizer; nothing is downloaded). About 5 minutes. Logs go to $OUT
# (default ./gpu_check_out):
#   build.log       the real CUDA build (-DDLCORE_CUDA=ON -DDLCORE_CUDA_ARCHS=90)
#   device.log      nvidia-smi, the device as dlcore sees it
#   tests.log       the CUDA tests on the real device: emulator self-tests (barriers, shuffles, votes, atomics,
#                   dynamic smem, cp.async, and mma/ldmatrix against a scalar reference = the emulated fragment
#                   layouts checked against hardware), the runtime tests, and the op tests over cpu+cuda
#   mma_hw.npz      raw mma/ldmatrix outputs of the hardware for fixed inputs; compare with the emulator here:
#                   python scripts/gpu_mma_dump.py --compare mma_hw.npz  (in an emulated build)
#   sanitizer.log   compute-sanitizer memcheck and racecheck over the self-test kernels and a few ops
# Usage: bash scripts/gpu_check.sh   (run from anywhere; exit status 0 when every step passed)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu_check_out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
JOBS=${JOBS:-$(nproc)}
status=0
step() { echo "=== $* ($(date -u +%T))" | tee -a "$OUT/summary.log"; }

step "device"
{ nvidia-smi || true; command -v nvcc && nvcc --version; $PY -c "import numpy, pytest, pybind11; print('python ok')"; } \
  > "$OUT/device.log" 2>&1

step "build (real CUDA, sm_90)"
PKG=$PWD/build/gpu/pkg
rm -rf "$PKG" && mkdir -p "$PKG"
cp -r python/dlcore "$PKG/" && rm -f "$PKG"/dlcore/_C*.so
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
if timeout 420 cmake -S . -B build/gpu -G Ninja -DDLCORE_CUDA=ON -DDLCORE_CUDA_ARCHS=90 -DCMAKE_BUILD_TYPE=Release \
     -DCMAKE_CUDA_COMPILER="$NVCC" -DPython_EXECUTABLE="$(command -v $PY)" -DDLCORE_OUTPUT_DIR="$PKG/dlcore" \
     > "$OUT/build.log" 2>&1 && timeout 420 cmake --build build/gpu -j"$JOBS" >> "$OUT/build.log" 2>&1; then
  echo "build ok" | tee -a "$OUT/summary.log"
else
  echo "BUILD FAILED (see build.log)" | tee -a "$OUT/summary.log"; tail -40 "$OUT/build.log"; exit 1
fi
export PYTHONPATH=$PKG
$PY -c "import dlcore; print(dlcore.info(as_dict=True)); print(dlcore.cuda.get_device_name(), dlcore.cuda.get_arch())" \
  >> "$OUT/device.log" 2>&1 || status=1
tail -3 "$OUT/device.log" | tee -a "$OUT/summary.log"

step "CUDA tests on the device"
cd tests
timeout 300 $PY -m pytest -q -p no:cacheprovider --durations=10 test_emu_selftest.py test_cuda_runtime.py \
  test_elementwise.py test_reduce.py test_tensor.py test_interop.py > "$OUT/tests.log" 2>&1 || status=1
tail -3 "$OUT/tests.log" | tee -a "$OUT/summary.log"
cd ..

step "hardware mma/ldmatrix dump"
timeout 60 $PY scripts/gpu_mma_dump.py --save "$OUT/mma_hw.npz" >> "$OUT/summary.log" 2>&1 || status=1

step "compute-sanitizer"
CS=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
if [ -n "$CS" ]; then
  cd tests
  for tool in memcheck racecheck; do
    echo "--- $tool" >> "$OUT/sanitizer.log"
    timeout 240 "$CS" --tool "$tool" --error-exitcode 9 $PY -m pytest -q -p no:cacheprovider -x \
      test_emu_selftest.py "test_cuda_runtime.py::test_reductions_on_device_match_numpy" \
      "test_cuda_runtime.py::test_strided_and_broadcast_copies" >> "$OUT/sanitizer.log" 2>&1
    rc=$?
    echo "$tool exit $rc" | tee -a "$OUT/summary.log"
    [ $rc -eq 0 ] || status=1
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$OUT/sanitizer.log" | tail -1 | tee -a "$OUT/summary.log"
  done
  cd ..
else
  echo "compute-sanitizer not found: skipped" | tee -a "$OUT/summary.log"
fi

step "done: status $status"
exit $status
