"""Everyday tensor ops against PyTorch CPU, one op at a time: activations beyond bench/layers.py, unary math,
indexing and rearranging, creation, in-place updates. Each peer runs in its own process at the chosen thread count;
every case is validated against torch first (values within a float32 tolerance, or equal for index results), then
timed by common.interleaved (median of interleaved rounds). Ratio = torch time / dlcore time (> 1: dlcore faster).

    python bench/op_sweep.py                       # 1 thread, every case
    python bench/op_sweep.py --threads 1 2 --cases silu,pow,flip
"""
from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import interleaved, peer_library, peer_process_main  # noqa: E402

SHAPE = (256, 1000)
IMG = (32, 64, 28, 28)


def cases(lib, np):
    """name -> (zero-argument callable, 'close' | 'equal' | 'sorted' | None: how the results are compared)."""
    rng = np.random.default_rng(0)
    t = lib.from_numpy
    F = lib.nn.functional
    A = rng.standard_normal(SHAPE).astype(np.float32)
    B = rng.standard_normal(SHAPE).astype(np.float32)
    X = rng.standard_normal(IMG).astype(np.float32)
    a, b, x = t(A), t(B), t(X)
    pos = t(np.abs(A) + 0.05)
    unit = t(np.clip(A * 0.3, -0.95, 0.95))
    m = t(A > 0)
    idx = t(rng.integers(0, SHAPE[0], SHAPE[0]).astype(np.int64))
    col = t(rng.standard_normal((SHAPE[0], 1)).astype(np.float32))
    lrn = t(rng.standard_normal((16, 96, 27, 27)).astype(np.float32))
    out = {}
    for name in ("silu", "mish", "hardswish", "hardsigmoid", "softplus", "gelu", "elu"):
        f = getattr(F, name)
        out[f"{name} [256,1000]"] = (lambda f=f: f(a), "close")
        out[f"{name} [32,64,28,28]"] = (lambda f=f: f(x), "close")
    out["silu f+b [32,64,28,28]"] = (None, None)  # filled below (needs a fresh leaf per call)
    for name, arg in (("log1p", pos), ("expm1", a), ("log2", pos), ("log10", pos), ("exp2", a), ("sin", a),
                      ("cos", a), ("atanh", unit), ("floor", a), ("trunc", a), ("frac", a)):
        out[f"{name} [256,1000]"] = (lambda n=name, v=arg: getattr(lib, n)(v), "close")
    out["pow 2.5 [256,1000]"] = (lambda: pos ** 2.5, "close")
    out["pow(x, y) [256,1000]"] = (lambda: lib.pow(pos, b), "close")
    out["local_response_norm 5 [16,96,27,27]"] = (lambda: F.local_response_norm(lrn, 5), "close")
    out["where [256,1000]"] = (lambda: lib.where(m, a, b), "equal")
    out["masked_fill [256,1000]"] = (lambda: a.masked_fill(m, 0.0), "equal")
    out["flip(1) [256,1000]"] = (lambda: a.flip(1), "equal")
    out["roll(3, 1) [256,1000]"] = (lambda: a.roll(3, 1), "equal")
    out["tril [256,1000]"] = (lambda: a.tril(), "equal")
    out["cat dim 0 2x[256,1000]"] = (lambda: lib.cat([a, b], 0), "equal")
    out["cat dim 1 2x[256,1000]"] = (lambda: lib.cat([a, b], 1), "equal")
    out["stack 2x[256,1000]"] = (lambda: lib.stack([a, b]), "equal")
    out["nonzero [256,1000]"] = (lambda: lib.nonzero(m), "equal")
    out["index_add_ 256 rows [256,1000]"] = (lambda: lib.zeros(*SHAPE).index_add_(0, idx, a), "close")
    out["sum(0) [256,1000]"] = (lambda: a.sum(0), "close")
    out["mean(1) [32,64,28,28]"] = (lambda: x.mean(1), "close")
    out["add_(y, alpha) [256,1000]"] = (lambda: a.clone().add_(b, alpha=-0.1), "close")
    out["full [256,1000]"] = (lambda: lib.full(SHAPE, 3.0), "equal")
    out["eye 1000"] = (lambda: lib.eye(1000), "equal")
    out["randperm 100000"] = (lambda: lib.randperm(100000), "sorted")
    v1 = t(rng.standard_normal(100000).astype(np.float32))
    i1 = t(rng.integers(0, 1000, 100000).astype(np.int64))
    seq = t(np.sort(rng.standard_normal(1000).astype(np.float32)))
    out["sort 100000 float32"] = (lambda: lib.sort(v1), "equal")
    out["sort(1) [256,1000]"] = (lambda: lib.sort(a, 1), "equal")
    out["argsort 100000 int64"] = (lambda: lib.argsort(i1, stable=True), "equal")
    out["unique 100000 int64"] = (lambda: lib.unique(i1), "equal")
    out["topk 500 [256,1000]"] = (lambda: lib.topk(a, 500, 1), "equal")
    out["searchsorted [1000] x 100000"] = (lambda: lib.searchsorted(seq, v1), "equal")
    out["mode(1) [256,1000] rounded"] = (lambda: (a * 3).round().mode(1), None)
    out["bincount 100000"] = (lambda: lib.bincount(i1), "equal")
    y01 = t((rng.random(SHAPE) > 0.5).astype(np.float32))
    lab = t(rng.integers(0, SHAPE[1], SHAPE[0]).astype(np.int64))
    out["smooth_l1_loss [256,1000]"] = (lambda: F.smooth_l1_loss(a, b), "close")
    out["huber_loss [256,1000]"] = (lambda: F.huber_loss(a, b), "close")
    out["cross_entropy smoothing 0.1 [256,1000]"] = (lambda: F.cross_entropy(a, lab, label_smoothing=0.1), "close")
    out["logsigmoid [256,1000]"] = (lambda: F.logsigmoid(a), "close")
    out["hardshrink [256,1000]"] = (lambda: F.hardshrink(a), "equal")
    out["threshold [256,1000]"] = (lambda: F.threshold(a, 0.1, 20.0), "equal")
    out["bce_with_logits [256,1000]"] = (lambda: F.binary_cross_entropy_with_logits(a, y01), "close")
    out["expand(col).contiguous() [256,1000]"] = (lambda: col.expand(*SHAPE).contiguous(), "equal")
    xs = t(X.copy()).requires_grad_(True)
    gs = t(np.ones(IMG, np.float32))

    def silu_fb():
        xs.grad = None
        F.silu(xs).backward(gs)
        return xs.grad
    out["silu f+b [32,64,28,28]"] = (silu_fb, "close")
    wc = t(rng.uniform(0.05, 0.4, IMG[1]).astype(np.float32))
    out["prelu per-channel [32,64,28,28]"] = (lambda: F.prelu(x, wc), "close")
    wg = t(rng.uniform(0.05, 0.4, IMG[1]).astype(np.float32)).requires_grad_(True)

    def prelu_fb():
        xs.grad = wg.grad = None
        F.prelu(xs, wg).backward(gs)
        return wg.grad
    out["prelu per-channel f+b (dx, dw) [32,64,28,28]"] = (prelu_fb, "close")
    return out


def _np(r):
    if isinstance(r, (tuple, list)):
        r = r[0]
    return r.detach().numpy() if hasattr(r, "detach") else r.numpy()


def worker(lib_name, repeat, only):
    import numpy as np
    lib = peer_library(lib_name)
    cs = cases(lib, np)
    res = {}
    for name, (fn, _) in cs.items():
        if only and not any(o in name for o in only):
            continue
        res[name] = interleaved({"t": fn}, repeat=repeat, min_time=0.05)["t"]
    print(json.dumps(res))


def validate(only):
    import numpy as np
    import torch
    import dlcore
    cd, ct = cases(dlcore, np), cases(torch, np)
    for name, (fn, how) in cd.items():
        if only and not any(o in name for o in only):
            continue
        rd, rt = _np(fn()), _np(ct[name][0]())
        assert rd.shape == rt.shape, (name, rd.shape, rt.shape)
        if how == "equal":
            assert np.array_equal(rd, rt), name
        elif how == "sorted":
            assert np.array_equal(np.sort(rd), np.sort(rt)), name
        else:
            scale = max(1.0, float(np.abs(rt).max()))
            err = float(np.abs(rd.astype(np.float64) - rt.astype(np.float64)).max())
            assert err <= 2e-5 * scale, (name, err)


def main():
    peer_process_main(__file__, worker, validate,
                      "float32; microseconds per call, median of interleaved rounds, each library in its own process; "
                      "ratio = torch / dlcore", repeat=7)


if __name__ == "__main__":
    main()
