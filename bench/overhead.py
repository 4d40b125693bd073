"""Python-layer overhead vs PyTorch, same process, interleaved, median: `a + b` on 1-element tensors, a
Linear(10,10) forward at batch 1, and a Linear(10,10) forward + backward + SGD step (plus its parts).

    PYTHONPATH=python python bench/overhead.py [--threads N]

Both libraries run at the same thread count (default 1: these are latency measurements of tiny ops, where
threads only add wake-up costs). Each case is validated against torch before it is timed.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402

from common import interleaved, fmt_table  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args()
    import torch
    import dlcore
    from dlcore import nn, optim
    torch.set_num_threads(args.threads)
    dlcore.set_num_threads(args.threads)

    rng = np.random.default_rng(0)
    a_np, b_np = rng.standard_normal(1).astype(np.float32), rng.standard_normal(1).astype(np.float32)
    da, db = dlcore.tensor(a_np), dlcore.tensor(b_np)
    ta, tb = torch.tensor(a_np), torch.tensor(b_np)
    assert np.allclose((da + db).numpy(), (ta + tb).numpy())

    dl = nn.Linear(10, 10)
    tl = torch.nn.Linear(10, 10)
    with torch.no_grad():
        tl.weight.copy_(torch.tensor(dl.weight.detach().numpy()))
        tl.bias.copy_(torch.tensor(dl.bias.detach().numpy()))
    x_np = rng.standard_normal((1, 10)).astype(np.float32)
    dx, tx = dlcore.tensor(x_np), torch.tensor(x_np)
    np.testing.assert_allclose(dl(dx).detach().numpy(), tl(tx).detach().numpy(), rtol=1e-5, atol=1e-6)

    dopt = optim.SGD(dl.parameters(), lr=1e-3)
    topt = torch.optim.SGD(tl.parameters(), lr=1e-3)

    def d_step():
        dopt.zero_grad()
        dl(dx).sum().backward()
        dopt.step()

    def t_step():
        topt.zero_grad()
        tl(tx).sum().backward()
        topt.step()

    # validate the training step: same parameters after 3 steps
    for _ in range(3):
        d_step()
        t_step()
    np.testing.assert_allclose(dl.weight.detach().numpy(), tl.weight.detach().numpy(), rtol=1e-5, atol=1e-6)

    def d_fb():
        dl.weight.grad = dl.bias.grad = None
        dl(dx).sum().backward()

    def t_fb():
        tl.weight.grad = tl.bias.grad = None
        tl(tx).sum().backward()

    d_fb()
    t_fb()

    cases = [
        ("a + b (1 element)", lambda: da + db, lambda: ta + tb, 1.3),
        ("Linear(10,10) fwd, batch 1", lambda: dl(dx), lambda: tl(tx), 7.2),
        ("Linear fwd+bwd", d_fb, t_fb, 69.0),
        ("SGD step (2 params)", dopt.step, topt.step, 17.0),
        ("Linear fwd+bwd+SGD step", d_step, t_step, 132.0),
    ]
    rows = []
    for name, dfn, tfn, ref in cases:
        t = interleaved({"dlcore": dfn, "torch": tfn}, repeat=args.repeat)
        d_us, t_us = t["dlcore"] * 1e6, t["torch"] * 1e6
        rows.append([name, f"{d_us:.2f}", f"{t_us:.2f}", f"{t_us / d_us:.2f}x", f"{ref}",
                     "yes" if d_us <= t_us else "no"])
    print(f"threads={args.threads}  (speedup = torch time / dlcore time; >= 1 means dlcore is no slower)")
    print(fmt_table(rows, ["case", "dlcore us", "torch us", "speedup", "torch ref us (issue)", "goal met"]))


if __name__ == "__main__":
    main()
