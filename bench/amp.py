"""Mixed precision on the CPU: one training step of an MLP (784-1024-1024-10, batch 256, SGD) in float32 and under
autocast("cpu", bfloat16), dlcore vs torch, milliseconds per step.

Check first: with copied weights, the first step's loss under autocast must agree between the two within bfloat16
rounding (and in float32 within float32 rounding). Then the four (library, mode) steps are timed interleaved,
median of several runs, at 1 thread in one process; at 2 threads each library runs in its own process (DESIGN.md's
rule for thread pools).

    python bench/amp.py                  # 1 and 2 threads
    python bench/amp.py --threads 1
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import fmt_table, interleaved, run_json  # noqa: E402

SIZES = (784, 1024, 1024, 10)
BATCH = 256


def build(lib, state=None):
    nn = lib.nn
    m = nn.Sequential(nn.Linear(SIZES[0], SIZES[1]), nn.ReLU(), nn.Linear(SIZES[1], SIZES[2]), nn.ReLU(),
                      nn.Linear(SIZES[2], SIZES[3]))
    if state is not None:
        m.load_state_dict({k: lib.tensor(v) for k, v in state.items()})
    return m


def make_step(lib, model, x, y, amp):
    opt = lib.optim.SGD(model.parameters(), lr=0.01)
    F = lib.nn.functional

    def step():
        opt.zero_grad()
        if amp:
            with lib.autocast("cpu", dtype=lib.bfloat16):
                loss = F.cross_entropy(model(x), y)
        else:
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def worker(libs, threads, repeat):
    import dlcore
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], BATCH)
    state = {k: v.numpy() for k, v in build(dlcore).state_dict().items()}
    mods = {"dlcore": dlcore}
    if "torch" in libs:
        import torch
        torch.set_num_threads(threads)
        mods["torch"] = torch
    dlcore.set_num_threads(threads)
    fns, first = {}, {}
    for name in libs:
        lib = mods[name]
        for amp in (False, True):
            step = make_step(lib, build(lib, state), lib.tensor(x), lib.tensor(y), amp)
            first[(name, amp)] = float(step().float().item())  # the check: the first step's loss
            fns[f"{name} {'bf16' if amp else 'f32'}"] = step
    t = interleaved(fns, repeat=repeat, min_time=0.2)
    print(json.dumps({"times": t, "first": {f"{k[0]} {k[1]}": v for k, v in first.items()}}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker[0].split(","), int(args.worker[1]), args.repeat)
        return
    rows = []
    for th in args.threads:
        if th == 1:
            res = run_json(os.path.abspath(__file__), ["--repeat", str(args.repeat), "--worker", "dlcore,torch", "1"],
                           1)
            times, first = res["times"], res["first"]
        else:
            times, first = {}, {}
            for lib in ("dlcore", "torch"):
                r = run_json(os.path.abspath(__file__), ["--repeat", str(args.repeat), "--worker", lib, str(th)], th)
                times.update(r["times"])
                first.update(r["first"])
        # the check (first-step losses with the same weights and data)
        for amp, tol in (("False", 1e-4), ("True", 3e-2)):
            a, b = first[f"dlcore {amp}"], first[f"torch {amp}"]
            if not abs(a - b) <= tol * max(1.0, abs(b)):
                raise SystemExit(f"first-step loss differs (autocast={amp}): dlcore {a} vs torch {b}")
        for mode in ("f32", "bf16"):
            d, t = times[f"dlcore {mode}"], times[f"torch {mode}"]
            rows.append([th, mode, f"{d * 1e3:.2f}", f"{t * 1e3:.2f}", f"{t / d:.2f}x"])
        rows.append([th, "bf16 speed-up", f"{times['dlcore f32'] / times['dlcore bf16']:.2f}x",
                     f"{times['torch f32'] / times['torch bf16']:.2f}x", ""])
    print(f"MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, SGD step (forward, backward, update); ms per step")
    print(fmt_table(rows, ["threads", "mode", "dlcore ms", "torch ms", "torch/dlcore"]))


if __name__ == "__main__":
    main()
