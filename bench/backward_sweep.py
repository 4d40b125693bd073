"""Forward + backward of everyday differentiable ops against PyTorch CPU: per case, fresh leaves, the op, then
out.sum().backward(). It finds slow backward paths that forward-only sweeps (bench/op_sweep.py) miss: a smooth_l1
backward 14x slower than torch, tan, grid_sample, interpolate and glu 2-6x slower were found this way.

Every case is validated first (output and every leaf's gradient against torch, float32 tolerances), then timed
(common.interleaved, median of interleaved rounds) with each library in its own process at the chosen thread count.
Ratio = torch / dlcore (> 1: dlcore faster).

    python bench/backward_sweep.py                           # 1 thread, every case
    python bench/backward_sweep.py --threads 1 2 --cases tan,grid,interp
"""
from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import interleaved, peer_library, peer_process_main  # noqa: E402


def arrays(np):
    rng = np.random.default_rng(0)
    m = rng.standard_normal((128, 1000)).astype(np.float32)
    return {
        "M": m, "M2": rng.standard_normal((128, 1000)).astype(np.float32),
        "IMG": rng.standard_normal((8, 16, 32, 32)).astype(np.float32),
        "POS": (np.abs(m) + 0.1).astype(np.float32),
        "UNIT": np.clip(m * 0.3, -0.9, 0.9).astype(np.float32),
        "P01": (1 / (1 + np.exp(-m))).astype(np.float32),
        "Y01": (rng.random((128, 1000)) > 0.5).astype(np.float32),
        "SEQ": rng.standard_normal((16, 32, 64)).astype(np.float32),
        "SEQ2": rng.standard_normal((16, 24, 64)).astype(np.float32),
        "V3": rng.standard_normal((4, 8, 8, 16, 16)).astype(np.float32),
        "GRID": np.clip(rng.standard_normal((8, 16, 16, 2)) * 0.5, -1, 1).astype(np.float32),
        "W1D": rng.standard_normal((32, 32, 3)).astype(np.float32),
        "WDW": rng.standard_normal((16, 1, 3, 3)).astype(np.float32),
        "WCH": rng.uniform(0.05, 0.4, 16).astype(np.float32),
        "LAB": rng.integers(0, 1000, 128),
        "GIDX": np.tile(np.arange(0, 1000, 7), (128, 1)),
    }


def cases():
    """name -> (array names of the leaves (float32 ones get requires_grad), fn(lib, F, A, *leaves) -> output)."""
    c = {}
    for a in ("relu", "gelu", "sigmoid", "tanh", "silu", "mish", "softplus", "elu", "hardswish", "logsigmoid"):
        c[a] = (["M"], lambda L, F, A, x, a=a: getattr(F, a)(x))
    c["glu"] = (["M"], lambda L, F, A, x: F.glu(x, -1))
    c["prelu per-channel"] = (["IMG", "WCH"], lambda L, F, A, x, w: F.prelu(x, w))
    c["softmax"] = (["M"], lambda L, F, A, x: F.softmax(x, -1))
    c["log_softmax"] = (["M"], lambda L, F, A, x: F.log_softmax(x, -1))
    for u, arr in (("exp", "M"), ("log", "POS"), ("sqrt", "POS"), ("sin", "M"), ("tan", "M"), ("erf", "M"),
                   ("atan", "M"), ("logit", "P01"), ("neg", "M"), ("abs", "M")):
        c[u] = ([arr], lambda L, F, A, x, u=u: getattr(L, u)(x))
    c["pow 2.5"] = (["POS"], lambda L, F, A, x: x ** 2.5)
    c["hypot"] = (["M", "M2"], lambda L, F, A, x, y: L.hypot(x, y))
    c["atan2"] = (["M", "M2"], lambda L, F, A, x, y: L.atan2(x, y))
    c["mul"] = (["M", "M2"], lambda L, F, A, x, y: x * y)
    c["x * 2"] = (["M"], lambda L, F, A, x: x * 2.0)
    c["where"] = (["M", "M2"], lambda L, F, A, x, y: L.where(x > 0, x, y))
    c["addcmul"] = (["M", "M2", "M"], lambda L, F, A, x, y, z: L.addcmul(x, y, z, value=0.5))
    c["sum(1)"] = (["M"], lambda L, F, A, x: x.sum(1))
    c["std(1)"] = (["M"], lambda L, F, A, x: x.std(1))
    c["logsumexp(1)"] = (["M"], lambda L, F, A, x: L.logsumexp(x, 1))
    c["cumsum(1)"] = (["M"], lambda L, F, A, x: L.cumsum(x, 1))
    c["cat"] = (["M", "M2"], lambda L, F, A, x, y: L.cat([x, y], 1))
    c["stack"] = (["M", "M2"], lambda L, F, A, x, y: L.stack([x, y]))
    c["flip"] = (["M"], lambda L, F, A, x: x.flip(1))
    c["permute NCHW->NHWC"] = (["IMG"], lambda L, F, A, x: x.permute(0, 2, 3, 1).contiguous())
    c["gather"] = (["M"], lambda L, F, A, x: L.gather(x, 1, L.tensor(A["GIDX"])))
    c["x[idx]"] = (["M"], lambda L, F, A, x: x[L.tensor(A["LAB"] % 128)])
    c["pad const"] = (["IMG"], lambda L, F, A, x: F.pad(x, (2, 2, 2, 2)))
    c["pad reflect"] = (["IMG"], lambda L, F, A, x: F.pad(x, (2, 2, 2, 2), mode="reflect"))
    c["layer_norm"] = (["M"], lambda L, F, A, x: F.layer_norm(x, (1000,)))
    c["group_norm"] = (["IMG"], lambda L, F, A, x: F.group_norm(x, 4))
    c["batch_norm"] = (["IMG"], lambda L, F, A, x: F.batch_norm(x, None, None, training=True))
    c["max_pool2d 2"] = (["IMG"], lambda L, F, A, x: F.max_pool2d(x, 2))
    c["max_pool2d 8/8"] = (["IMG"], lambda L, F, A, x: F.max_pool2d(x, 8))
    c["avg_pool2d 2"] = (["IMG"], lambda L, F, A, x: F.avg_pool2d(x, 2))
    c["max_pool3d 2"] = (["V3"], lambda L, F, A, x: F.max_pool3d(x, 2))
    c["adaptive_avg 5"] = (["IMG"], lambda L, F, A, x: F.adaptive_avg_pool2d(x, 5))
    c["interpolate nearest x2"] = (["IMG"], lambda L, F, A, x: F.interpolate(x, scale_factor=2))
    c["interpolate bilinear x2"] = (["IMG"], lambda L, F, A, x: F.interpolate(x, scale_factor=2, mode="bilinear",
                                                                          align_corners=False))
    c["grid_sample bilinear"] = (["IMG", "GRID"], lambda L, F, A, x, g: F.grid_sample(x, g, align_corners=False))
    c["pixel_shuffle"] = (["IMG"], lambda L, F, A, x: F.pixel_shuffle(x, 2))
    c["conv1d"] = (["SEQ", "W1D"], lambda L, F, A, x, w: F.conv1d(x, w, padding=1))
    c["conv2d depthwise"] = (["IMG", "WDW"], lambda L, F, A, x, w: F.conv2d(x, w, padding=1, groups=16))
    c["mse_loss"] = (["M", "M2"], lambda L, F, A, x, y: F.mse_loss(x, y))
    c["smooth_l1_loss"] = (["M", "M2"], lambda L, F, A, x, y: F.smooth_l1_loss(x, y))
    c["huber_loss"] = (["M", "M2"], lambda L, F, A, x, y: F.huber_loss(x, y))
    c["bce_with_logits"] = (["M", "Y01"], lambda L, F, A, x, y: F.binary_cross_entropy_with_logits(x, y))
    c["cross_entropy"] = (["M"], lambda L, F, A, x: F.cross_entropy(x, L.tensor(A["LAB"])))
    c["kl_div"] = (["M", "P01"], lambda L, F, A, x, y: F.kl_div(x, y, reduction="batchmean"))
    c["cosine_similarity"] = (["M", "M2"], lambda L, F, A, x, y: F.cosine_similarity(x, y))
    c["cdist"] = (["SEQ", "SEQ2"], lambda L, F, A, x, y: L.cdist(x, y))
    c["dropout p=0 (train)"] = (["M"], lambda L, F, A, x: F.dropout(x, 0.0))
    return c


def _leaves(lib, np, A, names):
    return [lib.tensor(A[n].copy(), requires_grad=True) if A[n].dtype == np.float32 else lib.tensor(A[n])
            for n in names]


def _step(lib, F, A, fn, leaves):
    def run():
        for t in leaves:
            if t.requires_grad:
                t.grad = None
        out = fn(lib, F, A, *leaves)
        out.sum().backward()
        return out
    return run


def validate(only):
    import numpy as np
    import torch
    import dlcore
    A = arrays(np)
    for name, (names, fn) in cases().items():
        if only and not any(o in name for o in only):
            continue
        res = {}
        for lib in (dlcore, torch):
            F = lib.nn.functional
            leaves = _leaves(lib, np, A, names)
            out = _step(lib, F, A, fn, leaves)()
            res[lib.__name__] = [out.detach().numpy()] + [t.grad.numpy() for t in leaves if t.requires_grad]
        for a, b in zip(res["dlcore"], res["torch"]):
            scale = max(1.0, float(np.abs(b).max()))
            err = float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())
            assert a.shape == b.shape and err <= 1e-4 * scale, (name, a.shape, b.shape, err)


def worker(lib_name, repeat, only):
    import numpy as np
    lib = peer_library(lib_name)
    A = arrays(np)
    res = {}
    for name, (names, fn) in cases().items():
        if only and not any(o in name for o in only):
            continue
        step = _step(lib, lib.nn.functional, A, fn, _leaves(lib, np, A, names))
        res[name] = interleaved({"t": step}, repeat=repeat, min_time=0.05)["t"]
    print(json.dumps(res))


def main():
    peer_process_main(__file__, worker, validate,
                      "float32 forward + backward (out.sum().backward()); microseconds per step, median of interleaved "
                      "rounds, each library in its own process; ratio = torch / dlcore", repeat=5)


if __name__ == "__main__":
    main()
