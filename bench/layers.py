"""Layer kernels (max / average / global average pooling, activations, softmax, batch norm, cross-entropy,
dropout): dlcore vs PyTorch CPU, forward and forward+backward, at 1 and 2 threads (each peer in its own process),
with a plain copy of the same bytes as the memory-bandwidth floor.

    python bench/layers.py             # both thread counts
    python bench/layers.py --quick     # fewer repeats

Validation first: the dlcore worker compares every forward and backward with torch (float32) and refuses to time
a case that disagrees. Times are of the raw kernels (dlcore._C calls: forward kernel; forward + backward kernel)
and, for torch, of the functional op under no_grad (forward) and the same kernels through autograd (forward +
backward: torch has no public backward-kernel API, so its figure includes its autograd overhead; ours with
autograd is given as 'dlcore api').
"""
from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import fmt_table, interleaved, run_json  # noqa: E402

POOL = (64, 20, 24, 24)   # the lecture ConvNet's conv output
ACT = (64, 20, 24, 24)
BIG = (1 << 22,)          # 16 MiB float32, beyond the caches
GAP = (64, 512, 7, 7)      # a ResNet's global average pooling input
STEM = (8, 64, 112, 112)   # a ResNet's stem max pool (3x3, stride 2, padding 1) input
SOFTMAX = (256, 1000)
BN = (64, 20, 24, 24)
CE = (64, 10)


def _cases(np, rng, lib):
    """name -> (fwd bytes, fwd+bwd bytes, inputs)"""
    x_pool = rng.standard_normal(POOL).astype(np.float32)
    x_act = rng.standard_normal(ACT).astype(np.float32)
    x_big = rng.standard_normal(BIG).astype(np.float32)
    x_sm = rng.standard_normal(SOFTMAX).astype(np.float32)
    x_bn = rng.standard_normal(BN).astype(np.float32)
    x_ce = rng.standard_normal(CE).astype(np.float32)
    t_ce = rng.integers(0, CE[1], CE[0])
    x_gap = rng.standard_normal(GAP).astype(np.float32)
    x_stem = rng.standard_normal(STEM).astype(np.float32)
    n_pool, n_out = x_pool.size, x_pool.size // 4
    n_stem, n_stem_out = x_stem.size, x_stem.size // 4
    n_gap, n_gap_out = x_gap.size, x_gap.size // (GAP[2] * GAP[3])
    return {
        "max_pool2d 2x2 [64,20,24,24]": (4 * (n_pool + n_out), 4 * (n_pool + n_out + 2 * n_pool + n_out), x_pool),
        "max_pool2d 3x3/2 p1 [8,64,112,112]": (4 * (n_stem + n_stem_out),
                                               4 * (n_stem + n_stem_out + 2 * n_stem + n_stem_out), x_stem),
        "avg_pool2d 2x2 [64,20,24,24]": (4 * (n_pool + n_out), 4 * (n_pool + n_out + n_out + n_pool), x_pool),
        "adaptive_avg_pool2d 1 [64,512,7,7]": (4 * (n_gap + n_gap_out), 4 * (n_gap + n_gap_out + n_gap_out + n_gap),
                                               x_gap),
        "relu [64,20,24,24]": (8 * x_act.size, 8 * x_act.size + 12 * x_act.size, x_act),
        "tanh [64,20,24,24]": (8 * x_act.size, 8 * x_act.size + 12 * x_act.size, x_act),
        "relu [4M]": (8 * x_big.size, 20 * x_big.size, x_big),
        "tanh [4M]": (8 * x_big.size, 20 * x_big.size, x_big),
        "softmax [256,1000]": (8 * x_sm.size, 20 * x_sm.size, x_sm),
        "batch_norm train [64,20,24,24]": (8 * x_bn.size, 20 * x_bn.size, x_bn),
        "cross_entropy [64,10]": (4 * x_ce.size, 8 * x_ce.size, (x_ce, t_ce)),
        "dropout p=0.5 [64,20,24,24]": (8 * x_act.size, 16 * x_act.size, x_act),
    }


def worker_dlcore(repeat):
    import numpy as np
    import torch

    import dlcore
    import dlcore.functional as F
    from dlcore.testing import assert_close
    C = dlcore._C
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    cases = _cases(np, rng, "dlcore")
    res = {}
    k2, s2, p0, d1 = (2, 2), (2, 2), (0, 0), (1, 1)
    TANH, RELU = 4, 0

    def validate(dfn, tfn, x, rtol=1e-5, atol=1e-5):
        xd = dlcore.tensor(x, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        yd, yt = dfn(xd), tfn(xt)
        g = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
        yd.backward(dlcore.tensor(g))
        yt.backward(torch.tensor(g))
        assert_close(yd.detach().numpy(), yt.detach().numpy(), rtol=rtol, atol=atol, msg="forward")
        assert_close(xd.grad.numpy(), xt.grad.numpy(), rtol=rtol, atol=atol, msg="backward")

    def with_fresh_grad(x, step):
        """The autograd path on a leaf whose .grad is reset before each call, like torch's f+b below (otherwise the
        timing includes accumulating into the previous call's gradient)."""
        v = dlcore.tensor(x, requires_grad=True)

        def run():
            v.grad = None
            step(v)
        return run

    tf = torch.nn.functional
    for name, (fb, fbb, x) in cases.items():
        if name.startswith("max_pool"):
            kk, ss, pp = ((3, 3), (2, 2), (1, 1)) if "3x3" in name else (k2, s2, p0)
            validate(lambda v: F.max_pool2d(v, kk, ss, pp), lambda v: tf.max_pool2d(v, kk, ss, pp), x)
            xd = dlcore.tensor(x)
            y = C.max_pool2d_fwd(xd, kk, ss, pp, d1, False, False)[0]
            g = dlcore.tensor(rng.standard_normal(tuple(y.shape)).astype(np.float32))
            fwd = lambda: C.max_pool2d_fwd(xd, kk, ss, pp, d1, False, False)  # noqa: E731
            both = lambda: (C.max_pool2d_fwd(xd, kk, ss, pp, d1, False, False),  # noqa: E731
                            C.max_pool2d_bwd(g, xd, kk, ss, pp, d1, False))
            api = with_fresh_grad(x, lambda v: F.max_pool2d(v, kk, ss, pp).backward(g))
        elif name.startswith("avg_pool"):
            validate(lambda v: F.avg_pool2d(v, 2), lambda v: tf.avg_pool2d(v, 2), x)
            xd = dlcore.tensor(x)
            y = C.avg_pool2d_fwd(xd, k2, s2, p0, False, True, 0)
            g = dlcore.tensor(rng.standard_normal(tuple(y.shape)).astype(np.float32))
            fwd = lambda: C.avg_pool2d_fwd(xd, k2, s2, p0, False, True, 0)  # noqa: E731
            both = lambda: (C.avg_pool2d_fwd(xd, k2, s2, p0, False, True, 0),  # noqa: E731
                            C.avg_pool2d_bwd(g, xd, k2, s2, p0, False, True, 0))
            api = with_fresh_grad(x, lambda v: F.avg_pool2d(v, 2).backward(g))
        elif name.startswith("adaptive"):
            validate(lambda v: F.adaptive_avg_pool2d(v, 1), lambda v: tf.adaptive_avg_pool2d(v, 1), x)
            xd = dlcore.tensor(x)
            y = C.adaptive_avg_pool2d_fwd(xd, 1, 1)
            g = dlcore.tensor(rng.standard_normal(tuple(y.shape)).astype(np.float32))
            fwd = lambda: C.adaptive_avg_pool2d_fwd(xd, 1, 1)  # noqa: E731
            both = lambda: (C.adaptive_avg_pool2d_fwd(xd, 1, 1), C.adaptive_avg_pool2d_bwd(g, xd))  # noqa: E731
            api = with_fresh_grad(x, lambda v: F.adaptive_avg_pool2d(v, 1).backward(g))
        elif name.startswith(("relu", "tanh")):
            kind = RELU if name.startswith("relu") else TANH
            dfn = F.relu if kind == RELU else F.tanh
            validate(dfn, torch.relu if kind == RELU else torch.tanh, x[:100000] if x.size > 100000 else x)
            xd = dlcore.tensor(x)
            g = dlcore.tensor(rng.standard_normal(x.shape).astype(np.float32))
            y = C.act_forward(kind, xd, 0.0, 0.0)
            fwd = lambda kind=kind, xd=xd: C.act_forward(kind, xd, 0.0, 0.0)  # noqa: E731
            both = lambda kind=kind, xd=xd, g=g, y=y: (C.act_forward(kind, xd, 0.0, 0.0),  # noqa: E731
                                                      C.act_backward(kind, g, y, 0.0, 0.0))
            api = with_fresh_grad(x, lambda v, dfn=dfn, g=g: dfn(v).backward(g))
        elif name.startswith("softmax"):
            validate(lambda v: F.softmax(v, 1), lambda v: torch.softmax(v, 1), x, atol=1e-7)
            xd = dlcore.tensor(x)
            g = dlcore.tensor(rng.standard_normal(x.shape).astype(np.float32))
            y = C.softmax_fwd(xd, 1, False)
            fwd = lambda: C.softmax_fwd(xd, 1, False)  # noqa: E731
            both = lambda: (C.softmax_fwd(xd, 1, False), C.softmax_bwd(g, y, 1, False))  # noqa: E731
            api = with_fresh_grad(x, lambda v: F.softmax(v, 1).backward(g))
        elif name.startswith("batch_norm"):
            validate(lambda v: F.batch_norm(v, None, None, training=True),
                     lambda v: tf.batch_norm(v, None, None, training=True), x, rtol=1e-4, atol=1e-4)
            xd = dlcore.tensor(x)
            g = dlcore.tensor(rng.standard_normal(x.shape).astype(np.float32))
            y, mean, invstd = C.batch_norm_fwd(xd, None, None, None, None, True, 0.1, 1e-5)
            fwd = lambda: C.batch_norm_fwd(xd, None, None, None, None, True, 0.1, 1e-5)  # noqa: E731
            both = lambda: (C.batch_norm_fwd(xd, None, None, None, None, True, 0.1, 1e-5),  # noqa: E731
                            C.batch_norm_bwd(g, xd, None, mean, invstd, True, True, False, False))
            api = with_fresh_grad(x, lambda v: F.batch_norm(v, None, None, training=True).backward(g))
        elif name.startswith("cross_entropy"):
            xx, t = x
            td = dlcore.tensor(t)
            xd = dlcore.tensor(xx, requires_grad=True)
            xt = torch.tensor(xx, requires_grad=True)
            ld, lt = F.cross_entropy(xd, td), tf.cross_entropy(xt, torch.tensor(t))
            ld.backward()
            lt.backward()
            assert_close(ld.item(), lt.item(), rtol=1e-5)
            assert_close(xd.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-7)
            xd = dlcore.tensor(xx)
            one = dlcore.tensor(np.float32(1.0))
            loss, wt, lse = C.cross_entropy_fwd(xd, td, None, -100, 0.0)
            fwd = lambda: C.cross_entropy_fwd(xd, td, None, -100, 0.0)  # noqa: E731
            both = lambda: (C.cross_entropy_fwd(xd, td, None, -100, 0.0),  # noqa: E731
                            C.cross_entropy_bwd(one, 1.0 / 64, xd, lse, td, None, -100, 0.0))
            api = with_fresh_grad(xx, lambda v: F.cross_entropy(v, td).backward())
        else:  # dropout: statistics instead of a torch comparison (different generators)
            xd = dlcore.tensor(x)
            y = F.dropout(xd, 0.5).numpy()
            frac = (y != 0).mean()
            assert abs(frac - 0.5) < 0.01, frac
            g = dlcore.tensor(rng.standard_normal(x.shape).astype(np.float32))
            fwd = lambda: C.dropout_fwd(xd, 0.5, 1)  # noqa: E731
            both = lambda: (C.dropout_fwd(xd, 0.5, 1), C.dropout_apply(g, 0.5, 1, 0, 0))  # noqa: E731
            api = with_fresh_grad(x, lambda v: F.dropout(v, 0.5).backward(g))
        # the floor: a copy moving the same bytes (read n/2 + write n/2). The source is written first: a never
        # written buffer reads the kernel's shared zero page, which stays in L1 and made an unreal floor.
        src_f = dlcore.tensor(rng.standard_normal(fb // 8).astype(np.float32))
        dst_f = dlcore.tensor(np.ones(fb // 8, np.float32))
        src_b = dlcore.tensor(rng.standard_normal(fbb // 8).astype(np.float32))
        dst_b = dlcore.tensor(np.ones(fbb // 8, np.float32))
        t = interleaved({"fwd": fwd, "both": both, "api": api,
                         "copy_fwd": lambda: C.copy_(dst_f, src_f), "copy_both": lambda: C.copy_(dst_b, src_b)},
                        repeat=repeat, min_time=0.05)
        res[name] = t
    print(json.dumps(res))


def worker_torch(repeat):
    import numpy as np
    import torch
    torch.set_num_threads(int(os.environ["DLCORE_NUM_THREADS"]))
    tf = torch.nn.functional
    rng = np.random.default_rng(0)
    cases = _cases(np, rng, "torch")
    res = {}
    for name, (fb, fbb, x) in cases.items():
        if name.startswith("cross_entropy"):
            xx, t = x
            tt = torch.tensor(t)
            xt = torch.tensor(xx)
            op = lambda v: tf.cross_entropy(v, tt)  # noqa: E731
            x = xx
        elif name.startswith("max_pool"):
            kk, ss, pp = ((3, 3), (2, 2), (1, 1)) if "3x3" in name else (2, 2, 0)
            op = lambda v, kk=kk, ss=ss, pp=pp: tf.max_pool2d(v, kk, ss, pp)  # noqa: E731
        elif name.startswith("avg_pool"):
            op = lambda v: tf.avg_pool2d(v, 2)  # noqa: E731
        elif name.startswith("adaptive"):
            op = lambda v: tf.adaptive_avg_pool2d(v, 1)  # noqa: E731
        elif name.startswith("relu"):
            op = torch.relu
        elif name.startswith("tanh"):
            op = torch.tanh
        elif name.startswith("softmax"):
            op = lambda v: torch.softmax(v, 1)  # noqa: E731
        elif name.startswith("batch_norm"):
            op = lambda v: tf.batch_norm(v, None, None, training=True)  # noqa: E731
        else:
            op = lambda v: tf.dropout(v, 0.5)  # noqa: E731
        xt = torch.tensor(x)
        xg = torch.tensor(x, requires_grad=True)
        g = torch.tensor(rng.standard_normal(tuple(op(xt).shape)).astype(np.float32))

        def fwd():
            with torch.no_grad():
                op(xt)

        def both():
            xg.grad = None
            op(xg).backward(g)
        res[name] = interleaved({"fwd": fwd, "both": both}, repeat=repeat, min_time=0.05)
    print(json.dumps(res))


def main():
    repeat = 3 if "--quick" in sys.argv else 7
    rows = []
    summary = []
    for th in (1, 2):
        d = run_json(__file__, ["--worker", "dlcore", str(repeat)], th)
        t = run_json(__file__, ["--worker", "torch", str(repeat)], th)
        for name in d:
            r, q = d[name], t[name]
            us = lambda s: f"{s * 1e6:.0f}"  # noqa: E731
            rows.append([th, name, us(r["fwd"]), us(q["fwd"]), f"{q['fwd'] / r['fwd']:.1f}x",
                         f"{r['fwd'] / r['copy_fwd']:.2f}", us(r["both"]), us(r["api"]), us(q["both"]),
                         f"{q['both'] / r['both']:.1f}x", f"{r['both'] / r['copy_both']:.2f}"])
            summary.append((th, name, r["fwd"] / r["copy_fwd"], r["both"] / r["copy_both"], q["fwd"] / r["fwd"],
                            q["both"] / r["both"]))
    print("float32; times in microseconds, median of interleaved runs; 'x copy' = time / time of a plain copy "
          "moving the same bytes (goal <= 1.5); 'vs torch' = torch time / dlcore time")
    print(fmt_table(rows, ["thr", "case", "fwd us", "torch fwd", "vs torch", "x copy", "f+b us", "api f+b",
                           "torch f+b", "vs torch", "x copy"]))


if __name__ == "__main__":
    if "--worker" in sys.argv:
        i = sys.argv.index("--worker")
        peer, repeat = sys.argv[i + 1], int(sys.argv[i + 2])
        worker_dlcore(repeat) if peer == "dlcore" else worker_torch(repeat)
    else:
        main()
