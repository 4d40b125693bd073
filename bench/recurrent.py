"""Recurrent layers: dlcore vs PyTorch CPU (torch.nn.LSTM/GRU and the cells, weights copied), forward and
forward+backward, at 1 and 2 threads.

Each case is validated first (dlcore's output and weight gradients against torch's with the same weights; the
benchmark refuses to time a case that disagrees), then timed: median of interleaved runs. At 1 thread both peers
run in one process, interleaved; at 2 threads each peer runs in its own process (the other library held to one
thread), so their thread pools never spin against each other (see DESIGN.md).

    python bench/recurrent.py                  # every case, 1 and 2 threads
    python bench/recurrent.py --threads 1      # one thread count
    python bench/recurrent.py --cases lstm_small,lstmcell
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import fmt_table, interleaved, run_json  # noqa: E402

# name: (kind, T, N, I, H)   (T = 0: a single cell step)
CASES = {
    "lstm_small": ("LSTM", 28, 64, 28, 128),
    "lstm_big": ("LSTM", 50, 32, 128, 512),
    "lstmcell": ("LSTM", 0, 64, 256, 256),
    "gru_small": ("GRU", 28, 64, 28, 128),
    "gru_big": ("GRU", 50, 32, 128, 512),
    "grucell": ("GRU", 0, 64, 256, 256),
}
GOAL = 1.3


def _setup(case):
    import numpy as np
    import torch

    import dlcore
    from dlcore import functional as F
    kind, T, N, I, H = CASES[case]
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    if T:
        tm = getattr(torch.nn, kind)(I, H)
        x_np = rng.standard_normal((T, N, I)).astype(np.float32)
    else:
        tm = getattr(torch.nn, kind + "Cell")(I, H)
        x_np = rng.standard_normal((N, I)).astype(np.float32)
    tparams = list(tm.parameters())
    dparams = [dlcore.tensor(p.detach().numpy(), requires_grad=True) for p in tparams]
    tx, dx = torch.from_numpy(x_np), dlcore.from_numpy(x_np)
    h_np = rng.standard_normal((N, H)).astype(np.float32) * 0.5
    th, dh = torch.from_numpy(h_np), dlcore.from_numpy(h_np)
    fn = {"LSTM": F.lstm, "GRU": F.gru}[kind]
    cell = {"LSTM": F.lstm_cell, "GRU": F.gru_cell}[kind]

    def d_fwd():
        if T:
            return fn(dx, None, dparams, True, 1, 0.0, False, False, False)[0]
        if kind == "LSTM":
            return cell(dx, (dh, dh), *dparams)[0]
        return cell(dx, dh, *dparams)

    def t_fwd():
        if T:
            return tm(tx)[0]
        out = tm(tx, (th, th) if kind == "LSTM" else th)
        return out[0] if kind == "LSTM" else out

    def d_step():
        for p in dparams:
            p.grad = None
        d_fwd().sum().backward()

    def t_step():
        for p in tparams:
            p.grad = None
        t_fwd().sum().backward()

    def d_nograd():
        with dlcore.no_grad():
            return d_fwd()

    def t_nograd():
        with torch.no_grad():
            return t_fwd()

    def validate():
        a = d_nograd().numpy()
        b = t_nograd().numpy()
        err = float(np.abs(a - b).max())
        assert err < 1e-4, f"{case}: output differs from torch by {err}"
        d_step()
        t_step()
        for p, q in zip(dparams, tparams):
            g, r = p.grad.numpy(), q.grad.numpy()
            e = float(np.abs(g - r).max() / (1 + np.abs(r).max()))
            assert e < 1e-4, f"{case}: gradient differs from torch by {e} (relative)"

    return {"dlcore": (d_nograd, d_step), "torch": (t_nograd, t_step)}, validate


def worker(cases, peers):
    import torch
    threads = int(os.environ["DLCORE_NUM_THREADS"])
    torch.set_num_threads(threads if "torch" in peers else 1)
    import dlcore
    if "dlcore" not in peers:
        dlcore.set_num_threads(1)
    res = {}
    for case in cases:
        fns, validate = _setup(case)
        validate()
        res[case] = {}
        for what, k in (("fwd", 0), ("fwdbwd", 1)):
            t = interleaved({p: fns[p][k] for p in peers}, repeat=7, min_time=0.1)
            res[case][what] = {p: s * 1e3 for p, s in t.items()}
    print(json.dumps(res))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--worker", action="store_true")
    ap.add_argument("--peers", default="dlcore,torch")
    a = ap.parse_args()
    cases = a.cases.split(",")
    if a.worker:
        worker(cases, a.peers.split(","))
        return
    rows = []
    met_all = True
    for th in [int(t) for t in a.threads.split(",")]:
        if th == 1:
            res = run_json(__file__, ["--worker", "--cases", a.cases], th)
        else:
            rd = run_json(__file__, ["--worker", "--cases", a.cases, "--peers", "dlcore"], th)
            rt = run_json(__file__, ["--worker", "--cases", a.cases, "--peers", "torch"], th)
            res = {c: {w: {**rd[c][w], **rt[c][w]} for w in rd[c]} for c in rd}
        for case in cases:
            kind, T, N, I, H = CASES[case]
            shape = f"T{T} N{N} {I}->{H}" if T else f"cell N{N} {I}->{H}"
            for what in ("fwd", "fwdbwd"):
                d, t = res[case][what]["dlcore"], res[case][what]["torch"]
                ok = t / d >= GOAL
                met_all &= ok
                rows.append([th, case, shape, what, f"{d:.2f}", f"{t:.2f}", f"{t / d:.2f}x", "yes" if ok else "NO"])
    print("float32, ms per call (median of 7 interleaved runs); speedup = torch / dlcore; goal >= 1.3x")
    print(fmt_table(rows, ["threads", "case", "shape", "pass", "dlcore ms", "torch ms", "speedup", "goal"]))
    print("all goals met" if met_all else "some goals not met")


if __name__ == "__main__":
    main()
