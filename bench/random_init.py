"""Random tensors and the initializers built on them: dlcore vs PyTorch CPU, float32.

Checks first (each generator's mean and standard deviation against the distribution's, on the timed sizes), then
times dlcore and torch interleaved in one process per thread count (each thread count in its own process, every
library pinned to it), median of the rounds.

    PYTHONPATH=python python bench/random_init.py [--threads 1 2] [--repeat 7]
"""
from __future__ import annotations

import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import interleaved, thread_table_main  # noqa: E402

N = 10_000_000
W = (4096, 4096)


def worker(repeat):
    import numpy as np
    import torch

    import dlcore
    torch.set_num_threads(int(os.environ["DLCORE_NUM_THREADS"]))
    dw, tw = dlcore.empty(*W), torch.empty(*W)
    bound = 1.0 / math.sqrt(W[1])  # kaiming_uniform_ with a = sqrt(5) (nn.Linear's init): U(-1/sqrt(fan_in), ...)
    cases = {
        "rand 1e7": (lambda: dlcore.rand(N), lambda: torch.rand(N), 0.5, math.sqrt(1 / 12)),
        "randn 1e7": (lambda: dlcore.randn(N), lambda: torch.randn(N), 0.0, 1.0),
        "kaiming_uniform_ 4096^2": (lambda: dlcore.nn.init.kaiming_uniform_(dw, a=math.sqrt(5)),
                                    lambda: torch.nn.init.kaiming_uniform_(tw, a=math.sqrt(5)), 0.0,
                                    bound / math.sqrt(3)),
        "normal_ 4096^2 (0, 0.02)": (lambda: dlcore.nn.init.normal_(dw, 0.0, 0.02),
                                     lambda: torch.nn.init.normal_(tw, 0.0, 0.02), 0.0, 0.02),
    }
    res = {}
    for name, (d, t, mean, std) in cases.items():
        for lib, fn in (("dlcore", d), ("torch", t)):
            v = fn()
            a = v.numpy() if lib == "dlcore" else v.detach().numpy()
            n = a.size
            assert abs(a.mean() - mean) < 6 * std / math.sqrt(n), (name, lib, a.mean())
            assert abs(a.std() - std) < 0.002 * std, (name, lib, a.std())
        t_ = interleaved({"dlcore": d, "torch": t}, repeat=repeat, min_time=0.1)
        res[name] = t_
    print(json.dumps(res))


if __name__ == "__main__":
    thread_table_main(__file__, worker, "float32; ms per call, median of interleaved rounds; speedup = torch / dlcore",
                      "ms", 1e3)
