"""GPU benchmark of dlcore's CUDA pointwise/normalization layers against torch on the same GPU and against a device
copy (the bandwidth ceiling): relu, softmax (short, medium and long rows), batch_norm (training), dropout and
cross_entropy, forward and backward where it matters.

    PYTHONPATH=python python bench/gpu_pointwise.py [--quick]

Needs a real GPU (dlcore built with CUDA). Exits cleanly with a message on a build without CUDA or on the SIMT
emulator. Each case is checked against torch (or, for dropout, against its own invariants) before it is timed;
times are medians of many runs after warm-up, bracketed by device synchronisation (dlcore.cuda has no events yet).
GB/s counts the minimum bytes the op must move (each input read once, each output written once); "% copy" divides
by the bandwidth of a device-to-device copy of the same size measured in the same run. Goal (issue 10): >= 80%.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

import dlcore
import dlcore.functional as F


def _sync():
    dlcore.cuda.synchronize()


def median_time(fn, sync, warmup=3, repeat=21, min_time=0.01):
    """Median seconds per call: each sample loops enough calls to last about min_time, bracketed by sync()."""
    for _ in range(warmup):
        fn()
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    number = max(1, int(min_time / max(time.perf_counter() - t0, 1e-7)))
    runs = []
    for _ in range(repeat):
        sync()
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        sync()
        runs.append((time.perf_counter() - t0) / number)
    return statistics.median(runs)


def check(name, a, b, rtol, atol):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    bad = ~(np.abs(a - b) <= atol + rtol * np.abs(b))
    if bad.any():
        i = np.argwhere(bad)[0]
        raise SystemExit(f"{name}: result differs from torch at {tuple(i)}: {a[tuple(i)]} vs {b[tuple(i)]} "
                         f"({bad.sum()} of {bad.size} elements); not timing it")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes")
    args = ap.parse_args()
    if not dlcore.cuda.is_available():
        print("gpu_pointwise: no CUDA device (dlcore.cuda.is_available() is False); nothing to measure")
        return 0
    if dlcore.cuda.is_emulated():
        print("gpu_pointwise: this is the SIMT-emulator build (kernels run on the CPU); timings would be meaningless")
        return 0
    try:
        import torch
        tf = torch.nn.functional
        have_torch = torch.cuda.is_available()
    except ImportError:
        have_torch = False
    if not have_torch:
        print("gpu_pointwise: torch with CUDA is not available; dlcore figures only")

    def tsync():
        _sync()
        if have_torch:
            torch.cuda.synchronize()

    rng = np.random.default_rng(0)
    scale = 4 if args.quick else 1
    print(f"device: {dlcore.cuda.get_device_name()}, dlcore {dlcore.__version__}")

    def dev(a):
        return dlcore.tensor(a, device="cuda")

    def tdev(a):
        return torch.tensor(a, device="cuda")

    rows = []

    def record(name, nbytes, t_dl, t_torch, t_copy_same):
        gbs = nbytes / t_dl / 1e9
        copy_gbs = nbytes / t_copy_same / 1e9 if t_copy_same else float("nan")
        rows.append((name, t_dl * 1e6, gbs, 100 * gbs / copy_gbs,
                     (t_torch / t_dl) if t_torch else float("nan")))

    # the copy ceiling: a device-to-device copy of n float32 (read n, write n)
    copy_cache = {}

    def copy_time(n):
        if n not in copy_cache:
            src = dev(np.ones(n, np.float32))
            dst = dlcore.empty(n, device="cuda")
            copy_cache[n] = median_time(lambda: dlcore._C.copy_(dst, src), _sync)
        return copy_cache[n]

    # ---- relu forward / backward
    n = (64 << 20) // scale
    x = rng.standard_normal(n).astype(np.float32)
    xd = dev(x)
    check("relu", F.relu(xd).cpu().numpy(), np.maximum(x, 0), 0, 0)
    t_tr = None
    if have_torch:
        xt = tdev(x)
        t_tr = median_time(lambda: torch.relu(xt), tsync)
    record(f"relu fwd [{n}]", 8 * n, median_time(lambda: F.relu(xd), _sync), t_tr, copy_time(n))
    gd = dev(np.ones(n, np.float32))
    yd = F.relu(xd)
    bwd = lambda: dlcore._C.act_backward(0, gd, yd, 0.0, 0.0)  # noqa: E731  (relu backward from the output)
    record(f"relu bwd [{n}]", 12 * n, median_time(bwd, _sync), None, copy_time(n) * 1.5)

    # ---- softmax over the last dim: short (warp per row), medium, long (block per row)
    for N, R in ((65536 // scale, 128), (8192 // scale, 1024), (256 // scale, 32768)):
        x = (rng.standard_normal((N, R)) * 3).astype(np.float32)
        xd = dev(x)
        out = F.softmax(xd, 1).cpu().numpy()
        t_tr = None
        if have_torch:
            xt = tdev(x)
            check(f"softmax {N}x{R}", out, torch.softmax(xt, 1).cpu().numpy(), 1e-5, 1e-7)
            t_tr = median_time(lambda: torch.softmax(xt, 1), tsync)
        record(f"softmax fwd [{N}, {R}]", 8 * N * R, median_time(lambda: F.softmax(xd, 1), _sync), t_tr,
               copy_time(N * R))
        if have_torch:
            xl = tdev(x).requires_grad_()
            yl = torch.log_softmax(xl, 1)
            gt = torch.ones_like(yl)
            t_tr = median_time(lambda: torch.autograd.grad(yl, xl, gt, retain_graph=True), tsync)
        y = F.log_softmax(xd, 1)
        g = dev(np.ones((N, R), np.float32))
        bw = lambda: dlcore._C.softmax_bwd(g, y, 1, True)  # noqa: E731
        record(f"log_softmax bwd [{N}, {R}]", 12 * N * R, median_time(bw, _sync), t_tr, copy_time(N * R) * 1.5)

    # ---- batch_norm training forward (NCHW)
    shape = (64 // scale, 64, 56, 56)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal(64).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    xd, wd, bd = dev(x), dev(w), dev(b)
    rm, rv = dlcore.zeros(64, device="cuda"), dlcore.ones(64, device="cuda")
    y = F.batch_norm(xd, rm, rv, wd, bd, True, 0.1, 1e-5).cpu().numpy()
    t_tr = None
    nel = int(np.prod(shape))
    if have_torch:
        xt, wt, bt = tdev(x), tdev(w), tdev(b)
        rmt, rvt = torch.zeros(64, device="cuda"), torch.ones(64, device="cuda")
        check("batch_norm", y, tf.batch_norm(xt, rmt, rvt, wt, bt, True, 0.1, 1e-5).cpu().numpy(), 1e-3, 1e-4)
        t_tr = median_time(lambda: tf.batch_norm(xt, rmt, rvt, wt, bt, True, 0.1, 1e-5), tsync)
    record(f"batch_norm train fwd {list(shape)}", 8 * nel,
           median_time(lambda: F.batch_norm(xd, rm, rv, wd, bd, True, 0.1, 1e-5), _sync), t_tr, copy_time(nel))

    # ---- dropout forward (p = 0.5): checked by its invariants (torch's mask differs)
    n = (64 << 20) // scale
    xd = dev(np.ones(n, np.float32))
    yv = F.dropout(xd, 0.5).cpu().numpy()
    kept = yv != 0
    if not (abs(kept.mean() - 0.5) < 0.01 and np.all(yv[kept] == 2.0)):
        raise SystemExit("dropout: wrong keep fraction or scale; not timing it")
    t_tr = None
    if have_torch:
        xt = torch.ones(n, device="cuda")
        t_tr = median_time(lambda: tf.dropout(xt, 0.5), tsync)
    record(f"dropout fwd [{n}]", 8 * n, median_time(lambda: F.dropout(xd, 0.5), _sync), t_tr, copy_time(n))

    # ---- cross_entropy forward (mean) on logits [N, C]
    N, C = 8192 // scale, 1000
    x = rng.standard_normal((N, C)).astype(np.float32)
    t = rng.integers(0, C, N)
    xd, td = dev(x), dlcore.tensor(t, device="cuda")
    l_dl = F.cross_entropy(xd, td).item()
    t_tr = None
    if have_torch:
        xt, tt = tdev(x), torch.tensor(t, device="cuda")
        check("cross_entropy", l_dl, tf.cross_entropy(xt, tt).item(), 1e-5, 1e-6)
        t_tr = median_time(lambda: tf.cross_entropy(xt, tt), tsync)
    record(f"cross_entropy fwd [{N}, {C}]", 4 * N * C, median_time(lambda: F.cross_entropy(xd, td), _sync), t_tr,
           copy_time(N * C) / 2)

    print(f"\n{'case':40s} {'us':>10s} {'GB/s':>9s} {'% copy':>8s} {'x torch':>8s}")
    for name, us, gbs, pct, xt in rows:
        print(f"{name:40s} {us:10.1f} {gbs:9.1f} {pct:7.0f}% {xt:8.2f}")
    print("\n% copy: GB/s over a device copy of the same bytes in this run (goal >= 80%); "
          "x torch: torch time / dlcore time (> 1: dlcore faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
