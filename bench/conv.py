"""Convolution benchmark: validates dlcore against PyTorch CPU, then times forward and forward+backward.

Shapes (issue 4): the lecture ConvNet's conv (weight grad only: its input is the data), ResNet-style 3x3 pad-1 layers
(with input grad), AlexNet conv1 (weight grad only: first layer). fwd+bwd runs the autograd path of each library
(dlcore.functional.conv2d / torch.nn.functional.conv2d, then .backward) with the gradients reset every call.
Two DCGAN-style layers outside the issue's goals, on request (--shapes dcgan_down,dcgan_up): a 4x4 stride-2
convolution and the transposed convolution that undoes it (conv_transpose2d; weight [C_in, C_out, 4, 4]).

At 1 thread both peers run in one process, interleaved; at 2 threads each peer runs in its own process (OpenBLAS/
OpenMP spin-wait traps, DESIGN.md). Usage:
    python bench/conv.py                 # validate, then 1 and 2 threads, every shape
    python bench/conv.py --threads 1 --shapes lecture,resnet14
"""
from __future__ import annotations

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "python"))

import numpy as np  # noqa: E402

from common import fmt_table, interleaved, run_json  # noqa: E402

# name: (x shape, w shape, stride, padding, bias, input grad, torch 1-thread fwd+bwd ms quoted in the issue)
# (a ninth element True: a transposed convolution, w [C_in, C_out, R, S])
SHAPES = {
    "lecture": ((64, 1, 28, 28), (20, 1, 5, 5), 1, 0, True, False, 2.6),
    "resnet56": ((32, 64, 56, 56), (64, 64, 3, 3), 1, 1, False, True, 272),
    "resnet28": ((32, 128, 28, 28), (128, 128, 3, 3), 1, 1, False, True, 243),
    "resnet14": ((32, 256, 14, 14), (256, 256, 3, 3), 1, 1, False, True, 209),
    "alexnet1": ((16, 3, 224, 224), (64, 3, 11, 11), 4, 2, True, False, 46),
}
ISSUE_SHAPES = list(SHAPES)
SHAPES.update({
    "dcgan_down": ((64, 64, 16, 16), (128, 64, 4, 4), 2, 1, True, True, None),
    "dcgan_up": ((64, 128, 8, 8), (128, 64, 4, 4), 2, 1, True, True, None, True),
})
GOALS = {"lecture": 2.0}  # speed-up over torch fwd+bwd; 1.0 for the others (none for the DCGAN layers)


def _transposed(name):
    return len(SHAPES[name]) > 7 and SHAPES[name][7]


def _op(lib, name):
    """The library's functional op for the shape: conv2d, or conv_transpose2d."""
    if lib == "dlcore":
        import dlcore.functional as F
        return F.conv_transpose2d if _transposed(name) else F.conv2d
    import torch
    return torch.nn.functional.conv_transpose2d if _transposed(name) else torch.nn.functional.conv2d


def _flops(name):
    xs, ws, st, pd, _, ig = SHAPES[name][:6]
    N, C, H, W = xs
    K, _, R, S = ws
    P = (H + 2 * pd - R) // st + 1
    Q = (W + 2 * pd - S) // st + 1
    fwd = 2.0 * N * K * P * Q * C * R * S
    if _transposed(name):  # the convolution it transposes: output [N, C_out, Ho, Wo] -> input [N, C_in, H, W]
        fwd = 2.0 * N * C * H * W * ws[1] * R * S
    return fwd, fwd * (3 if ig else 2)


def _data(name, n=None):
    xs, ws, st, pd, bias, ig = SHAPES[name][:6]
    rng = np.random.default_rng(0)
    if n is not None:
        xs = (n,) + tuple(xs[1:])
    x = rng.standard_normal(xs).astype(np.float32)
    w = (rng.standard_normal(ws) / np.sqrt(np.prod(ws[1:]))).astype(np.float32)
    b = rng.standard_normal(ws[1] if _transposed(name) else ws[0]).astype(np.float32) if bias else None
    return x, w, b


def _dlcore_fns(name, n=None):
    import dlcore
    xs, ws, st, pd, bias, ig = SHAPES[name][:6]
    conv = _op("dlcore", name)
    x, w, b = _data(name, n)
    xt = dlcore.from_numpy(x)
    wt = dlcore.from_numpy(w).requires_grad_()
    bt = dlcore.from_numpy(b).requires_grad_() if bias else None
    if ig:
        xt.requires_grad_()
    with dlcore.no_grad():
        gy = dlcore.from_numpy(np.ones(tuple(conv(xt, wt, bt, st, pd).shape), np.float32))

    def fwd():
        with dlcore.no_grad():
            return conv(xt, wt, bt, st, pd)

    def fwdbwd():
        xt.grad = wt.grad = None
        if bt is not None:
            bt.grad = None
        y = conv(xt, wt, bt, st, pd)
        y.backward(gy)
        return y, xt.grad, wt.grad, (bt.grad if bt is not None else None)
    return fwd, fwdbwd


def _torch_fns(name, n=None):
    import torch
    xs, ws, st, pd, bias, ig = SHAPES[name][:6]
    conv = _op("torch", name)
    x, w, b = _data(name, n)
    xt = torch.tensor(x, requires_grad=ig)
    wt = torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True) if bias else None
    with torch.no_grad():
        gy = torch.ones_like(conv(xt, wt, bt, st, pd))

    def fwd():
        with torch.no_grad():
            return conv(xt, wt, bt, st, pd)

    def fwdbwd():
        xt.grad = wt.grad = None
        if bt is not None:
            bt.grad = None
        y = conv(xt, wt, bt, st, pd)
        y.backward(gy)
        return y, xt.grad, wt.grad, (bt.grad if bt is not None else None)
    return fwd, fwdbwd


def validate(names):
    """dlcore vs torch on each shape (batch cut to 4 to stay quick); raises on a mismatch."""
    from dlcore.testing import assert_close
    for name in names:
        _, dfb = _dlcore_fns(name, 4)
        _, tfb = _torch_fns(name, 4)
        for what, a, e in zip(("output", "grad input", "grad weight", "grad bias"), dfb(), tfb()):
            if e is None:
                assert a is None, f"{name}: {what} should be None"
                continue
            scale = float(np.abs(e.detach().numpy()).max()) + 1e-6
            assert_close(a, e, rtol=1e-4, atol=1e-4 * scale, msg=f"{name} {what}:")
        print(f"validated {name}: output and grads match torch", file=sys.stderr)


def worker(lib, names, repeat):
    """Times `lib` ('dlcore', 'torch' or 'both' interleaved) in this process; prints JSON {name: {peer_fwd: s}}."""
    out = {}
    for name in names:
        fns = {}
        if lib in ("dlcore", "both"):
            f, fb = _dlcore_fns(name)
            fns["dlcore_fwd"], fns["dlcore_fwdbwd"] = f, fb
        if lib in ("torch", "both"):
            import torch
            torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
            f, fb = _torch_fns(name)
            fns["torch_fwd"], fns["torch_fwdbwd"] = f, fb
        out[name] = interleaved(fns, repeat=repeat, min_time=0.05)
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--shapes", default=",".join(ISSUE_SHAPES))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--worker", choices=["dlcore", "torch", "both"])
    ap.add_argument("--no-validate", action="store_true")
    a = ap.parse_args()
    names = a.shapes.split(",")
    if a.worker:
        worker(a.worker, names, a.repeat)
        return
    if not a.no_validate:
        validate(names)
    script = os.path.abspath(__file__)
    rows = []
    for nt in [int(t) for t in a.threads.split(",")]:
        common = ["--shapes", a.shapes, "--repeat", str(a.repeat)]
        if nt == 1:
            res = run_json(script, ["--worker", "both", *common], 1)
        else:
            d = run_json(script, ["--worker", "dlcore", *common], nt)
            t = run_json(script, ["--worker", "torch", *common], nt)
            res = {n: {**d[n], **t[n]} for n in names}
        for n in names:
            r = res[n]
            ffl, bfl = _flops(n)
            goal = GOALS.get(n, 1.0) if n in ISSUE_SHAPES else None
            sp_f = r["torch_fwd"] / r["dlcore_fwd"]
            sp_b = r["torch_fwdbwd"] / r["dlcore_fwdbwd"]
            rows.append([n, nt, f"{r['dlcore_fwd'] * 1e3:.2f}", f"{r['torch_fwd'] * 1e3:.2f}", f"{sp_f:.2f}x",
                         f"{r['dlcore_fwdbwd'] * 1e3:.2f}", f"{r['torch_fwdbwd'] * 1e3:.2f}", f"{sp_b:.2f}x",
                         f"{bfl / r['dlcore_fwdbwd'] / 1e9:.0f}",
                         "-" if goal is None else f">={goal:g}x " + ("met" if sp_b >= goal else "NOT met")])
    print(fmt_table(rows, ["shape", "thr", "dl fwd ms", "torch fwd ms", "fwd x", "dl f+b ms", "torch f+b ms",
                           "f+b x", "dl GFLOP/s", "goal (f+b)"]))


if __name__ == "__main__":
    main()
