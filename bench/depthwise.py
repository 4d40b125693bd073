"""Depthwise conv2d (groups == channels) vs PyTorch CPU, 1 thread, one process: each case is checked against torch
first (forward), then timed (median of 7 calls): forward under no_grad, and forward + backward with input and weight
gradients (a random output gradient).
Usage: python bench/depthwise.py
"""
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import dlcore  # noqa: E402
import dlcore.functional as F  # noqa: E402

torch.set_num_threads(1)
dlcore.set_num_threads(1)
rng = np.random.default_rng(0)


def t(f, n=7):
    f()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return np.median(ts) * 1e3


# (N, C, H, stride, kernel)
for (N, C, H, st, k) in [(32, 64, 56, 2, 3), (32, 128, 28, 2, 3), (32, 64, 56, 1, 3), (16, 32, 112, 2, 5)]:
    x = rng.standard_normal((N, C, H, H)).astype(np.float32)
    w = rng.standard_normal((C, 1, k, k)).astype(np.float32)
    xd, wd = dlcore.tensor(x, requires_grad=True), dlcore.tensor(w, requires_grad=True)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    yd = F.conv2d(xd, wd, None, st, k // 2, 1, C)
    yt = torch.nn.functional.conv2d(xt, wt, None, st, k // 2, 1, C)
    err = np.abs(yd.detach().numpy() - yt.detach().numpy()).max()
    assert err < 1e-3, err
    g = rng.standard_normal(tuple(yd.shape)).astype(np.float32)
    gd, gt = dlcore.tensor(g), torch.tensor(g)
    fd = t(lambda: F.conv2d(xd.detach(), wd.detach(), None, st, k // 2, 1, C))
    ft = t(lambda: torch.nn.functional.conv2d(xt.detach(), wt.detach(), None, st, k // 2, 1, C))
    bd = t(lambda: F.conv2d(xd, wd, None, st, k // 2, 1, C).backward(gd))
    bt = t(lambda: torch.nn.functional.conv2d(xt, wt, None, st, k // 2, 1, C).backward(gt))
    print(f"depthwise {k}x{k}/{st} [{N},{C},{H},{H}]  err {err:.1e}  fwd dl {fd:.2f} torch {ft:.2f} ms ({ft / fd:.2f}x)"
          f"  f+b dl {bd:.2f} torch {bt:.2f} ms ({bt / bd:.2f}x)")
