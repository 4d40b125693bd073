"""CUDA GEMM benchmark (GPU only): dlcore's own kernels against torch (cuBLAS) in the same process.

For each shape and mode (float32 SIMT, TF32 tensor cores, BF16 tensor cores) it first VALIDATES dlcore's result
against torch float64 on the GPU (per-element bound c * u * sqrt(K) * (|A| @ |B|) + output rounding, the tests'
formula; a failing shape is reported and not timed), then times dlcore.matmul and torch.matmul with
torch.backends.cuda.matmul.allow_tf32 set to match dlcore.backends.cuda.matmul.allow_tf32: warm-up, then the
median over `--repeat` runs of `--inner` back-to-back calls measured with torch.cuda.Event (dlcore and torch share
the device's default stream ordering through a synchronize before each run), inputs rotated over several sets so
the operands do not sit in L2. Prints TFLOP/s and dlcore / cuBLAS.

    python bench/gpu_gemm.py                    # square 1024..8192 + deep-learning shapes, all three modes
    python bench/gpu_gemm.py --quick            # a short subset
    python bench/gpu_gemm.py --modes simt --sizes 2048,4096

Goals (issue 9, H100): SIMT >= 90% of cuBLAS SGEMM at n >= 2048; TF32/BF16 mma.sync >= 60% at n >= 4096.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

import dlcore

SQUARE = [1024, 2048, 4096, 8192]
# (M, N, K): a small-batch Linear (64 x 4096 x 4096) and its weight-gradient-like transpose, a conv as GEMM
# (25088 = 32 * 28 * 28 output pixels, 64 channels, 576 = 64 * 3 * 3), a classifier layer.
DL_SHAPES = [(64, 4096, 4096), (4096, 64, 4096), (25088, 64, 576), (128, 1000, 4096)]
U = {"simt": 2.0 ** -24, "tf32": 2.0 ** -11, "bf16": 2.0 ** -24}
U_OUT = {"simt": 2.0 ** -24, "tf32": 2.0 ** -24, "bf16": 2.0 ** -8}


def die(msg):
    print(f"gpu_gemm: {msg}")
    sys.exit(0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--modes", default="simt,tf32,bf16")
    ap.add_argument("--sizes", default=",".join(map(str, SQUARE)))
    ap.add_argument("--no-dl", action="store_true", help="skip the deep-learning shapes")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--inner", type=int, default=0, help="calls per timed run (0: about 20 ms worth)")
    args = ap.parse_args()

    if not dlcore.cuda.is_available():
        die("no CUDA device (dlcore.cuda.is_available() is False); this benchmark needs a GPU")
    if dlcore.cuda.is_emulated():
        die("this dlcore build runs CUDA kernels in the CPU emulator; timings would be meaningless. "
            "Build with a real CUDA toolkit on a GPU machine.")
    try:
        import torch
    except ImportError:
        die("torch is needed as the cuBLAS reference")
    if not torch.cuda.is_available():
        die("torch sees no CUDA device")

    modes = args.modes.split(",")
    shapes = [(n, n, n) for n in map(int, args.sizes.split(","))]
    if not args.no_dl:
        shapes += DL_SHAPES
    if args.quick:
        shapes = [(1024, 1024, 1024), (2048, 2048, 2048), (64, 4096, 4096)]
    print(f"device: {dlcore.cuda.get_device_name()} ({dlcore.cuda.get_arch()}), torch {torch.__version__}")
    print(f"{'mode':5} {'M':>6} {'N':>6} {'K':>6}  {'dlcore TF/s':>11} {'cuBLAS TF/s':>11} {'ratio':>6}  check")
    for mode in modes:
        for (M, N, K) in shapes:
            run_shape(torch, mode, M, N, K, args)


def run_shape(torch, mode, M, N, K, args):
    tf32 = mode == "tf32"
    dlcore.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    dl_dtype = dlcore.bfloat16 if mode == "bf16" else dlcore.float32
    th_dtype = torch.bfloat16 if mode == "bf16" else torch.float32
    # Rotate over enough input sets to exceed a 50 MB L2 (at least 2).
    per_set = (M * K + K * N) * (2 if mode == "bf16" else 4)
    nsets = max(2, min(8, int(np.ceil(100e6 / per_set))))
    rng = np.random.default_rng(0)
    th_a, th_b, dl_a, dl_b = [], [], [], []
    for _ in range(nsets):
        a = torch.from_numpy(rng.standard_normal((M, K), dtype=np.float32)).to("cuda", th_dtype)
        b = torch.from_numpy(rng.standard_normal((K, N), dtype=np.float32)).to("cuda", th_dtype)
        th_a.append(a)
        th_b.append(b)
        # the same values in dlcore (host round trip through float32: exact for bf16 values)
        dl_a.append(dlcore.from_numpy(a.float().cpu().numpy()).to(dl_dtype).to("cuda"))
        dl_b.append(dlcore.from_numpy(b.float().cpu().numpy()).to(dl_dtype).to("cuda"))

    # ---- check against float64 on the GPU
    out = dlcore.matmul(dl_a[0], dl_b[0])
    dlcore.cuda.synchronize()
    got = torch.from_numpy(out.cpu().to(dlcore.float32).numpy()).to("cuda", torch.float64)
    a64, b64 = th_a[0].double(), th_b[0].double()
    ref = a64 @ b64
    bound = 8 * U[mode] * np.sqrt(K + 1) * (a64.abs() @ b64.abs()) + 2 * U_OUT[mode] * ref.abs() + 1e-30
    bad = (got - ref).abs() > bound
    if bool(bad.any()):
        idx = bad.nonzero()[0].tolist()
        print(f"{mode:5} {M:6} {N:6} {K:6}  FAILED check: {int(bad.sum())} elements out of bound, first at {idx}: "
              f"got {got[tuple(idx)].item():.6g} ref {ref[tuple(idx)].item():.6g}")
        return
    del got, ref, bound, bad, a64, b64

    flops = 2.0 * M * N * K
    i = [0]

    def dl_call():
        j = i[0] = (i[0] + 1) % nsets
        dlcore.matmul(dl_a[j], dl_b[j])

    def th_call():
        j = i[0] = (i[0] + 1) % nsets
        torch.matmul(th_a[j], th_b[j])

    t_dl = time_gpu(torch, dl_call, args)
    t_th = time_gpu(torch, th_call, args)
    print(f"{mode:5} {M:6} {N:6} {K:6}  {flops / t_dl / 1e12:11.2f} {flops / t_th / 1e12:11.2f} "
          f"{t_th / t_dl:6.2f}  ok")


def time_gpu(torch, fn, args):
    """Median seconds per call: CUDA events around `inner` calls, after a warm-up."""
    for _ in range(3):
        fn()
    dlcore.cuda.synchronize()
    torch.cuda.synchronize()
    inner = args.inner
    if inner <= 0:
        t0 = time.perf_counter()
        for _ in range(3):
            fn()
        dlcore.cuda.synchronize()
        torch.cuda.synchronize()
        inner = max(1, int(0.02 / max((time.perf_counter() - t0) / 3, 1e-6)))
    runs = []
    for _ in range(args.repeat):
        dlcore.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(inner):
            fn()
        end.record()
        dlcore.cuda.synchronize()
        end.synchronize()
        runs.append(start.elapsed_time(end) / 1e3 / inner)
    return statistics.median(runs)


if __name__ == "__main__":
    main()
