"""Higher-order gradients (create_graph=True): dlcore vs PyTorch CPU, each peer in its own process, alternated.

    python bench/double_backward.py                 # 1 thread, 3 rounds
    python bench/double_backward.py --threads 1,2 --rounds 5

Cases (float32): a WGAN-GP gradient-penalty step on a small conv critic (the gradient of the critic w.r.t. its
input, with create_graph, then the penalty's backward into the critic's parameters), and a Hessian-vector product
of an MLP classifier's loss w.r.t. all its parameters. Validation first (float64, in this process): every case's
result is compared with torch's. Each worker times its cases interleaved (median of 7); the parent keeps each
case's best median over the rounds and prints torch / dlcore (> 1: dlcore faster).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import fmt_table, interleaved, run_json  # noqa: E402

CRITIC_X = (32, 3, 32, 32)
MLP = (128, 784, 256, 10)


def cases(lib, np, dtype_name="float32"):
    """name -> zero-argument callable returning the case's result (tensors) with `lib` (dlcore or torch)."""
    rng = np.random.default_rng(0)
    F = lib.nn.functional
    dt = getattr(lib, dtype_name)

    def param(*shape, scale=0.1):
        return lib.tensor(rng.standard_normal(shape) * scale, dtype=dt).requires_grad_(True)

    critic = [param(32, 3, 3, 3), param(32), param(64, 32, 3, 3, scale=0.05), param(64), param(1, 64 * 8 * 8,
                                                                                             scale=0.01), param(1)]
    real = lib.tensor(rng.standard_normal(CRITIC_X), dtype=dt)

    def gp_step():
        x = real.detach().requires_grad_(True)
        w1, b1, w2, b2, w3, b3 = critic
        h = F.leaky_relu(F.conv2d(x, w1, b1, padding=1), 0.2)
        h = F.avg_pool2d(F.leaky_relu(F.conv2d(h, w2, b2, stride=2, padding=1), 0.2), 2)
        out = F.linear(h.reshape(h.shape[0], -1), w3, b3)
        (gx,) = lib.autograd.grad(out.sum(), x, create_graph=True)
        pen = ((gx.reshape(gx.shape[0], -1).pow(2).sum(1) + 1e-12).sqrt() - 1).pow(2).mean()
        return lib.autograd.grad(pen, critic, allow_unused=True)  # (the last bias has no effect on it)

    n, d, h, c = MLP
    mlp = [param(h, d, scale=0.05), param(h), param(c, h), param(c)]
    xb = lib.tensor(rng.standard_normal((n, d)), dtype=dt)
    tb = lib.tensor(rng.integers(0, c, n))
    vs = [lib.tensor(rng.standard_normal(tuple(p.shape)), dtype=dt) for p in mlp]

    def hvp():
        w1, b1, w2, b2 = mlp
        loss = F.cross_entropy(F.linear(F.linear(xb, w1, b1).tanh(), w2, b2), tb)
        gs = lib.autograd.grad(loss, mlp, create_graph=True)
        dot = sum((g * v).sum() for g, v in zip(gs, vs))
        return lib.autograd.grad(dot, mlp)

    return {f"WGAN-GP penalty step critic {list(CRITIC_X)}": gp_step,
            f"Hessian-vector product MLP {n}x{d}->{h}->{c}": hvp}


def validate():
    import numpy as np
    import torch
    import dlcore
    dc, tc = cases(dlcore, np, "float64"), cases(torch, np, "float64")
    for name in dc:
        for a, b in zip(dc[name](), tc[name]()):
            if a is None or b is None:  # a parameter without second-order effect: None or zeros
                assert all(t is None or not np.any(t.detach().numpy()) for t in (a, b)), name
                continue
            a, b = a.numpy(), b.detach().numpy()
            err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)
            assert err < 1e-9, f"{name}: differs from torch (relative {err:.2e})"
    print("validated: every case matches torch (float64)", flush=True)


def worker(framework, threads):
    import numpy as np
    if framework == "torch":
        import torch as lib
    else:
        import dlcore as lib
    lib.set_num_threads(threads)
    times = interleaved(cases(lib, np), repeat=7, min_time=0.05)
    print(json.dumps({k: v * 1e3 for k, v in times.items()}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", default="1")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--worker", choices=["dlcore", "torch"])
    a = p.parse_args()
    threads = [int(x) for x in a.threads.split(",")]
    if a.worker:
        return worker(a.worker, threads[0])
    validate()
    rows = []
    for th in threads:
        best = {"dlcore": {}, "torch": {}}
        for _ in range(a.rounds):
            for fw in ("dlcore", "torch"):
                for k, v in run_json(__file__, ["--worker", fw, "--threads", str(th)], th).items():
                    best[fw][k] = min(best[fw].get(k, float("inf")), v)
        for k in best["dlcore"]:
            d, t = best["dlcore"][k], best["torch"][k]
            rows.append([th, k, f"{d:.2f}", f"{t:.2f}", f"{t / d:.2f}x"])
    print("float32; milliseconds, best of the rounds' medians; 'vs torch' = torch time / dlcore time")
    print(fmt_table(rows, ["thr", "case", "dlcore ms", "torch ms", "vs torch"]))


if __name__ == "__main__":
    main()
