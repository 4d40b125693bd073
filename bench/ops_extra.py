"""The composed and newer ops (layer/group norm, sort/topk/cumsum, interpolate, pad, einsum, repeat): dlcore vs
PyTorch CPU, forward (and forward+backward for the norms), each peer in its own process, alternated over rounds.

    python bench/ops_extra.py                  # 1 thread, 3 rounds
    python bench/ops_extra.py --threads 1,2 --rounds 5

Validation first (in this process): every case's dlcore result is compared with torch's (values; indices for
sort/topk) and a case that disagrees stops the run. Each worker times its cases interleaved (median of 7), the
parent keeps each case's best median over the rounds and prints the ratio torch / dlcore (> 1: dlcore faster).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import fmt_table, interleaved, run_json  # noqa: E402

LN = (8192, 512)
IMG = (16, 64, 32, 32)
SORT = (256, 1000)
ATT = (8, 8, 128, 64)


def cases(lib, np):
    """name -> zero-argument callable computing the case with `lib` (dlcore or torch)."""
    rng = np.random.default_rng(0)
    F = lib.nn.functional
    t = lib.from_numpy
    x_ln = rng.standard_normal(LN).astype(np.float32)
    w_ln = rng.standard_normal(LN[-1:]).astype(np.float32)
    b_ln = rng.standard_normal(LN[-1:]).astype(np.float32)
    img = rng.standard_normal(IMG).astype(np.float32)
    srt = rng.standard_normal(SORT).astype(np.float32)
    q = rng.standard_normal(ATT).astype(np.float32)
    k = rng.standard_normal(ATT).astype(np.float32)
    X, W, B, I, S, Q, K = t(x_ln), t(w_ln), t(b_ln), t(img), t(srt), t(q), t(k)
    Xg, Wg = t(x_ln.copy()).requires_grad_(True), t(w_ln.copy()).requires_grad_(True)
    Ig = t(img.copy()).requires_grad_(True)

    def ln_fb():
        F.layer_norm(Xg, LN[-1:], Wg, None).sum().backward()

    def gn_fb():
        F.group_norm(Ig, 8).sum().backward()

    return {
        "layer_norm [8192,512] fwd": lambda: F.layer_norm(X, LN[-1:], W, B),
        "layer_norm [8192,512] f+b": ln_fb,
        "group_norm 8 [16,64,32,32] fwd": lambda: F.group_norm(I, 8),
        "group_norm 8 [16,64,32,32] f+b": gn_fb,
        "sort [256,1000] dim 1": lambda: (*lib.sort(S, 1), srt),
        "topk 5 [256,1000] dim 1": lambda: (*lib.topk(S, 5, 1), srt),
        "cumsum [256,1000] dim 1": lambda: lib.cumsum(S, 1),
        "cumsum [256,1000] dim 0": lambda: lib.cumsum(S, 0),
        "interpolate bilinear x2 [16,64,32,32]": lambda: F.interpolate(I, scale_factor=2, mode="bilinear"),
        "interpolate nearest x2 [16,64,32,32]": lambda: F.interpolate(I, scale_factor=2, mode="nearest"),
        "pad reflect 2 [16,64,32,32]": lambda: F.pad(I, (2, 2, 2, 2), mode="reflect"),
        "einsum bhqd,bhkd->bhqk [8,8,128,64]": lambda: lib.einsum("bhqd,bhkd->bhqk", Q, K),
        "repeat (1,2,1,2) [16,64,32,32]": lambda: I.repeat(1, 2, 1, 2),
    }


def validate():
    import numpy as np
    import torch
    import dlcore
    dc, tc = cases(dlcore, np), cases(torch, np)
    for name in dc:
        if "f+b" in name:
            continue
        a, b = dc[name](), tc[name]()
        if isinstance(b, tuple):  # (values, indices): same values; indices pointing at them (ties may differ:
            # dlcore's order is the stable one, torch's sort is not)
            av, ai = a[0].numpy(), a[1].numpy()
            assert np.array_equal(av, b[0].numpy()), f"{name}: values differ from torch's"
            assert np.array_equal(np.take_along_axis(a[2], ai, 1), av), f"{name}: indices do not give the values"
            a, b = a[0], b[0]
        a, b = a.numpy(), b.detach().numpy()
        assert a.shape == b.shape, f"{name}: shape {a.shape} vs torch {b.shape}"
        err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)
        assert err < 1e-4, f"{name}: differs from torch (relative {err:.2e})"
    print("validated: every case matches torch", flush=True)


def worker(framework, threads):
    import numpy as np
    if framework == "torch":
        import torch as lib
        lib.set_num_threads(threads)
    else:
        import dlcore as lib
        lib.set_num_threads(threads)
    times = interleaved(cases(lib, np), repeat=7, min_time=0.05)
    print(json.dumps({k: v * 1e6 for k, v in times.items()}))


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
                r = run_json(__file__, ["--worker", fw, "--threads", str(th)], th)
                for k, v in r.items():
                    best[fw][k] = min(best[fw].get(k, float("inf")), v)
        for k in best["dlcore"]:
            d, t = best["dlcore"][k], best["torch"][k]
            rows.append([th, k, f"{d:.0f}", f"{t:.0f}", f"{t / d:.2f}x"])
    print("float32; microseconds, best of the rounds' medians; 'vs torch' = torch time / dlcore time")
    print(fmt_table(rows, ["thr", "case", "dlcore us", "torch us", "vs torch"]))


if __name__ == "__main__":
    main()
