"""Elementwise and reduction throughput: dlcore vs NumPy and PyTorch, GB/s and the ratio to a plain copy of the
same bytes, at 1 and 2 threads (each thread count in its own process).

    python bench/elementwise.py            # both thread counts
"""
from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import fmt_table, interleaved, run_json  # noqa: E402

N = 1 << 24  # 16M float32 = 64 MiB per operand


def worker():
    import numpy as np
    import torch

    import dlcore
    threads = int(os.environ["DLCORE_NUM_THREADS"])
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    a = rng.standard_normal(N).astype(np.float32)
    b = rng.standard_normal(N).astype(np.float32)
    da, db = dlcore.from_numpy(a), dlcore.from_numpy(b)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    out_d = dlcore.empty(N)
    out_t = torch.empty(N)
    out_n = np.empty(N, np.float32)
    # validate first
    from dlcore.testing import assert_close
    assert_close(da + db, a.astype(np.float64) + b)
    assert_close(da.exp(), np.exp(a.astype(np.float64)), rtol=4e-7, atol=0)
    assert_close(da.tanh(), np.tanh(a.astype(np.float64)), rtol=4e-7, atol=1e-7)
    assert abs(da.sum().item() - a.astype(np.float64).sum()) < 1e-3 * N ** 0.5
    cases = {
        # name: (bytes moved, {peer: fn})
        "copy": (8 * N, {"dlcore": lambda: dlcore._C.copy_(out_d, da), "torch": lambda: out_t.copy_(ta),
                         "numpy": lambda: np.copyto(out_n, a)}),
        "add": (12 * N, {"dlcore": lambda: dlcore._C.add_out(out_d, da, db), "torch": lambda: torch.add(ta, tb, out=out_t),
                         "numpy": lambda: np.add(a, b, out=out_n)}),
        "mul_scalar": (8 * N, {"dlcore": lambda: dlcore._C.mul_out(out_d, da, 1.5),
                               "torch": lambda: torch.mul(ta, 1.5, out=out_t), "numpy": lambda: np.multiply(a, 1.5, out=out_n)}),
        "exp": (8 * N, {"dlcore": lambda: dlcore._C.exp(da), "torch": lambda: torch.exp(ta), "numpy": lambda: np.exp(a)}),
        "tanh": (8 * N, {"dlcore": lambda: dlcore._C.tanh(da), "torch": lambda: torch.tanh(ta), "numpy": lambda: np.tanh(a)}),
        "sigmoid": (8 * N, {"dlcore": lambda: dlcore._C.sigmoid(da), "torch": lambda: torch.sigmoid(ta)}),
        "sum": (4 * N, {"dlcore": lambda: dlcore._C.sum(da, None, False), "torch": lambda: ta.sum(), "numpy": lambda: a.sum()}),
        "max": (4 * N, {"dlcore": lambda: dlcore._C.amax(da, None, False), "torch": lambda: ta.max(), "numpy": lambda: a.max()}),
    }
    res = {}
    for name, (nbytes, fns) in cases.items():
        t = interleaved(fns, repeat=5, min_time=0.1)
        res[name] = {peer: nbytes / s / 1e9 for peer, s in t.items()}
    print(json.dumps(res))


def main():
    rows = []
    results = {th: run_json(__file__, ["--worker"], th) for th in (1, 2)}
    for th, res in results.items():
        copy = res["copy"]["dlcore"]
        for name, r in res.items():
            d = r["dlcore"]
            rows.append([th, name, f"{d:.1f}", f"{r.get('torch', float('nan')):.1f}", f"{r.get('numpy', float('nan')):.1f}",
                         f"{d / r['torch']:.2f}x", f"{d / copy:.2f}"])
    print(f"float32, {N} elements; GB/s (bytes read + written / time), median of 5 interleaved runs")
    print(fmt_table(rows, ["threads", "op", "dlcore GB/s", "torch GB/s", "numpy GB/s", "vs torch", "vs copy"]))


if __name__ == "__main__":
    if "--worker" in sys.argv:
        worker()
    else:
        main()
