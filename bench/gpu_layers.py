"""GPU layer benchmark: dlcore's CUDA kernels against PyTorch (cuDNN) on the same GPU, in one process.

Checks every result against torch first (a kernel whose output disagrees is not timed), then times with
synchronize + perf_counter around a loop of launches (median of several runs after warm-up).

Sections (another engineer may append the other layers below the conv and pooling part):
  conv      ResNet-style 3x3 pad-1 layers of bench/conv.py at batch 64: forward+backward (input and weight grads),
            TFLOP/s and the speed ratio to cuDNN in float32 (TF32 off) and to cuDNN's default (TF32 allowed).
            Goal: >= 0.70 of cuDNN.
  pool      max_pool2d (3x3/2 and 2x2/2), avg_pool2d 2x2/2, adaptive_avg_pool2d 7x7 -> 1, forward and backward:
            GB/s (minimum bytes: inputs read + outputs written) against a device copy of the same bytes measured in
            the same run. Goal: >= 0.80 of the copy bandwidth.
  alexnet   dlcore.models.alexnet() forward (eval, no_grad) at batch 128, 224x224: images/s vs the same network
            in torch with the same weights. Goal: >= 20,000 images/s and >= 0.70 of torch. Needs the CUDA
            activation, LRN, dropout and linear kernels (other branches): reported as not run when one is missing.

Usage:  python bench/gpu_layers.py [--sections conv,pool,alexnet] [--batch 64]
Exits with a message (status 0) when no real CUDA device is present (no build with CUDA, or the emulator).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "python"))

import numpy as np  # noqa: E402

from common import fmt_table  # noqa: E402

CONV_SHAPES = {  # name: (C, H, W, K), 3x3, stride 1, pad 1, no bias (bench/conv.py's resnet layers)
    "resnet56": (64, 56, 56, 64),
    "resnet28": (128, 28, 28, 128),
    "resnet14": (256, 14, 14, 256),
}


def gpu_time(fn, sync, repeat=9, min_time=0.05):
    """Median seconds per call of fn: each run launches fn n times between two synchronizations."""
    fn()
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    n = max(1, int(min_time / max(time.perf_counter() - t0, 1e-6)))
    runs = []
    for _ in range(repeat):
        sync()
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        sync()
        runs.append((time.perf_counter() - t0) / n)
    return statistics.median(runs)


def check(name, got, ref, rtol, atol):
    """Raises when got (NumPy) differs from ref beyond atol + rtol*|ref| (scaled by the reference's magnitude)."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    scale = max(1.0, float(np.abs(ref).max()) if ref.size else 1.0)
    bad = np.abs(got - ref) > atol * scale + rtol * np.abs(ref)
    if bad.any() or not np.isfinite(got).all():
        i = np.argwhere(bad | ~np.isfinite(got))[0]
        raise SystemExit(f"CHECK FAILED {name}: at {tuple(i)} got {got[tuple(i)]!r}, expected {ref[tuple(i)]!r}")


def host(t):
    return np.asarray(t.detach().to("cpu").numpy())


# ------------------------------------------------------------------------------------------------ conv

def bench_conv(dl, torch, batch, rows):
    F = dl.functional
    tf = torch.nn.functional
    dsync, tsync = dl.cuda.synchronize, torch.cuda.synchronize
    for name, (C, H, W, K) in CONV_SHAPES.items():
        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, C, H, W)).astype(np.float32)
        w = (rng.standard_normal((K, C, 3, 3)) / np.sqrt(9 * C)).astype(np.float32)
        gy = rng.standard_normal((batch, K, H, W)).astype(np.float32)
        xd = dl.from_numpy(x).to("cuda").requires_grad_()
        wd = dl.from_numpy(w).to("cuda").requires_grad_()
        gyd = dl.from_numpy(gy).to("cuda")
        xt = torch.tensor(x, device="cuda", requires_grad=True)
        wt = torch.tensor(w, device="cuda", requires_grad=True)
        gyt = torch.tensor(gy, device="cuda")

        def d_step():
            xd.grad = wd.grad = None
            F.conv2d(xd, wd, None, padding=1).backward(gyd)

        def t_step():
            xt.grad = wt.grad = None
            tf.conv2d(xt, wt, None, padding=1).backward(gyt)

        # check (float32 cuDNN, TF32 off, as the reference)
        torch.backends.cudnn.allow_tf32 = False
        d_step()
        t_step()
        with dl.no_grad():
            yd = F.conv2d(xd, wd, None, padding=1)
        check(f"conv {name} forward", host(yd), tf.conv2d(xt, wt, None, padding=1).detach().cpu().numpy(), 1e-4, 1e-4)
        check(f"conv {name} grad input", host(xd.grad), xt.grad.cpu().numpy(), 1e-4, 1e-4)
        check(f"conv {name} grad weight", host(wd.grad), wt.grad.cpu().numpy(), 1e-3, 1e-4)
        t_d = gpu_time(d_step, dsync)
        t_fp32 = gpu_time(t_step, tsync)
        torch.backends.cudnn.allow_tf32 = True
        t_tf32 = gpu_time(t_step, tsync)
        flops = 3 * 2.0 * batch * K * H * W * C * 9
        rows.append([f"conv {name} fwd+bwd (N={batch})", f"{t_d * 1e3:.3f} ms", f"{flops / t_d / 1e12:.1f} TFLOP/s",
                     f"{t_fp32 / t_d:.2f}", f"{t_tf32 / t_d:.2f}", ">= 0.70 (fp32)"])


# ------------------------------------------------------------------------------------------------ pooling

def bench_pool(dl, torch, batch, rows):
    F = dl.functional
    tf = torch.nn.functional
    dsync = dl.cuda.synchronize
    cases = [  # name, input shape, dlcore fn, torch fn
        ("max 3x3/2", (batch, 64, 55, 55), lambda v: F.max_pool2d(v, 3, 2), lambda v: tf.max_pool2d(v, 3, 2)),
        ("max 2x2/2", (batch, 64, 112, 112), lambda v: F.max_pool2d(v, 2), lambda v: tf.max_pool2d(v, 2)),
        ("avg 2x2/2", (batch, 64, 112, 112), lambda v: F.avg_pool2d(v, 2), lambda v: tf.avg_pool2d(v, 2)),
        ("adaptive 7x7->1", (batch, 512, 7, 7), lambda v: F.adaptive_avg_pool2d(v, 1),
         lambda v: tf.adaptive_avg_pool2d(v, 1)),
    ]
    for name, shape, dfn, tfn in cases:
        rng = np.random.default_rng(1)
        x = rng.standard_normal(shape).astype(np.float32)
        xd = dl.from_numpy(x).to("cuda").requires_grad_()
        xt = torch.tensor(x, device="cuda", requires_grad=True)
        yd, yt = dfn(xd), tfn(xt)
        check(f"pool {name} forward", host(yd), yt.detach().cpu().numpy(), 1e-6, 1e-6)
        gy = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
        gyd, gyt = dl.from_numpy(gy).to("cuda"), torch.tensor(gy, device="cuda")
        yd.backward(gyd)
        yt.backward(gyt)
        check(f"pool {name} backward", host(xd.grad), xt.grad.cpu().numpy(), 1e-6, 1e-6)
        xn = xd.detach()
        # the device copy of the input's bytes: the bandwidth yardstick
        buf = dl.empty(*shape, device="cuda")
        t_copy = gpu_time(lambda: buf.copy_(xn), dsync)
        copy_bw = 2 * x.nbytes / t_copy
        with dl.no_grad():
            t_f = gpu_time(lambda: dfn(xn), dsync)
        fwd_bytes = x.nbytes + gy.nbytes
        xg = dl.from_numpy(x).to("cuda").requires_grad_()

        def bwd():
            xg.grad = None
            dfn(xg).backward(gyd)

        t_fb = gpu_time(bwd, dsync)
        bwd_bytes = fwd_bytes + x.nbytes + gy.nbytes + x.nbytes  # fwd again, then gy + x read, gx written
        with torch.no_grad():
            t_tf = gpu_time(lambda: tfn(xt.detach()), torch.cuda.synchronize)
        rows.append([f"pool {name} fwd", f"{t_f * 1e3:.3f} ms", f"{fwd_bytes / t_f / 1e9:.0f} GB/s",
                     f"{fwd_bytes / t_f / copy_bw:.2f} of copy ({copy_bw / 1e9:.0f} GB/s)", f"{t_tf / t_f:.2f}",
                     ">= 0.80 of copy"])
        rows.append([f"pool {name} fwd+bwd", f"{t_fb * 1e3:.3f} ms", f"{bwd_bytes / t_fb / 1e9:.0f} GB/s",
                     f"{bwd_bytes / t_fb / copy_bw:.2f} of copy", "", ">= 0.80 of copy"])


# ------------------------------------------------------------------------------------------------ AlexNet

def torch_alexnet(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(), nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Flatten(),
        nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(),
        nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(),
        nn.Linear(4096, 1000),
    )


def bench_alexnet(dl, torch, rows, batch=128):
    from dlcore import models
    net = models.alexnet()
    net.eval()
    tnet = torch_alexnet(torch).eval()
    with torch.no_grad():  # the same weights in both
        for pd, pt in zip(net.parameters(), tnet.parameters()):
            a = np.asarray(pd.detach().numpy())
            if a.shape != tuple(pt.shape) and a.T.shape == tuple(pt.shape):  # a linear weight stored [in, out]
                a = np.ascontiguousarray(a.T)
            pt.copy_(torch.from_numpy(a))
    tnet = tnet.cuda()
    x = np.random.default_rng(2).standard_normal((batch, 3, 224, 224)).astype(np.float32)
    xt = torch.tensor(x, device="cuda")
    try:
        net.to("cuda")
        xd = dl.from_numpy(x).to("cuda")
        with dl.no_grad():
            yd = net(xd)
    except (NotImplementedError, RuntimeError) as e:
        rows.append(["alexnet forward (N=128)", "not run", str(e).splitlines()[0][:60], "", "", ">= 20000 img/s"])
        return
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    with torch.no_grad():
        check("alexnet forward", host(yd), tnet(xt).cpu().numpy(), 1e-3, 1e-4)
        t_t32 = gpu_time(lambda: tnet(xt), torch.cuda.synchronize)
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cuda.matmul.allow_tf32 = True
        t_tf = gpu_time(lambda: tnet(xt), torch.cuda.synchronize)
    with dl.no_grad():
        t_d = gpu_time(lambda: net(xd), dl.cuda.synchronize)
    rows.append([f"alexnet forward (N={batch})", f"{t_d * 1e3:.2f} ms", f"{batch / t_d:.0f} img/s",
                 f"{t_t32 / t_d:.2f}", f"{t_tf / t_d:.2f}", ">= 20000 img/s, >= 0.70"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sections", default="conv,pool,alexnet")
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    import dlcore as dl
    if not dl.cuda.is_available() or dl.cuda.is_emulated():
        why = "the emulated device" if dl.cuda.is_available() else "no CUDA device (or a build without CUDA)"
        print(f"gpu_layers: needs a real CUDA GPU; this process has {why}. Nothing timed.")
        return 0
    try:
        import torch
    except ImportError:
        print("gpu_layers: PyTorch (the reference) is not installed. Nothing timed.")
        return 0
    if not torch.cuda.is_available():
        print("gpu_layers: this PyTorch has no CUDA; the reference (cuDNN) is needed. Nothing timed.")
        return 0
    print(f"device: {dl.cuda.get_device_name()} ({dl.cuda.get_arch()}); torch {torch.__version__}, "
          f"cuDNN {torch.backends.cudnn.version()}")
    rows = []
    sections = args.sections.split(",")
    if "conv" in sections:
        bench_conv(dl, torch, args.batch, rows)
    if "pool" in sections:
        bench_pool(dl, torch, args.batch, rows)
    if "alexnet" in sections:
        bench_alexnet(dl, torch, rows)
    print(fmt_table(rows, ["case", "dlcore", "rate", "vs cuDNN fp32 (speed ratio) | of copy bw",
                           "vs torch default (TF32 on) | vs torch", "goal"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
