"""Row reductions of a [256, 1000] float32 tensor (a classifier's logits; the dims of sum/max/argmax that a training
loop runs every step): dlcore vs PyTorch CPU.

Checks each result against NumPy float64 first, then times dlcore and torch interleaved in one process per thread
count (each thread count in its own process, every library pinned to it), median of the rounds.

    PYTHONPATH=python python bench/reduce.py [--threads 1 2] [--repeat 7]
"""
from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import interleaved, thread_table_main  # noqa: E402


def worker(repeat):
    import numpy as np
    import torch

    import dlcore
    torch.set_num_threads(int(os.environ["DLCORE_NUM_THREADS"]))
    rng = np.random.default_rng(0)
    xn = rng.standard_normal((256, 1000)).astype(np.float32)
    x, xt = dlcore.tensor(xn), torch.from_numpy(xn)
    x64 = xn.astype(np.float64)
    cases = {
        "sum(1)": (lambda: x.sum(1), lambda: xt.sum(1), x64.sum(1)),
        "mean(1)": (lambda: x.mean(1), lambda: xt.mean(1), x64.mean(1)),
        "amax(1)": (lambda: x.amax(1), lambda: xt.amax(1), x64.max(1)),
        "max(1) values+indices": (lambda: x.max(1)[1], lambda: xt.max(1)[1], np.argmax(xn, 1)),
        "argmax(1)": (lambda: x.argmax(1), lambda: xt.argmax(1), np.argmax(xn, 1)),
        "min(1) values+indices": (lambda: x.min(1)[1], lambda: xt.min(1)[1], np.argmin(xn, 1)),
        "max()": (lambda: x.max(), lambda: xt.max(), x64.max()),
    }
    res = {}
    for name, (d, t, ref) in cases.items():
        np.testing.assert_allclose(np.asarray(d().numpy(), np.float64), ref, rtol=1e-6, atol=2e-5, err_msg=name)
        np.testing.assert_allclose(np.asarray(t().numpy(), np.float64), ref, rtol=1e-5, atol=1e-4, err_msg=name)
        res[name] = interleaved({"dlcore": d, "torch": t}, repeat=repeat, min_time=0.05)
    print(json.dumps(res))


if __name__ == "__main__":
    thread_table_main(__file__, worker, "float32 [256, 1000]; us per call, median of interleaved rounds; "
                      "speedup = torch / dlcore", "us", 1e6)
