"""Shared benchmark helpers: timing with medians, interleaving peers, the FMA peak, running a peer in its own
process with a chosen thread count."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time


def timeit(fn, repeat=7, number=None, min_time=0.05):
    """Median seconds per call of fn over `repeat` runs (each run loops enough calls to last min_time)."""
    fn()
    if number is None:
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        number = max(1, int(min_time / max(dt, 1e-7)))
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - t0) / number)
    return statistics.median(runs)


def interleaved(fns: dict, repeat=7, min_time=0.05):
    """Times several callables round-robin (each round runs every peer once), returns {name: median seconds}."""
    numbers = {}
    for name, fn in fns.items():
        fn()
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        numbers[name] = max(1, int(min_time / max(dt, 1e-7)))
    runs = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            n = numbers[name]
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            runs[name].append((time.perf_counter() - t0) / n)
    return {name: statistics.median(v) for name, v in runs.items()}


def set_threads(n: int):
    """Environment for a subprocess that runs every library at n threads."""
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "DLCORE_NUM_THREADS"):
        env[k] = str(n)
    return env


def run_json(script: str, args: list, threads: int) -> dict:
    """Runs `python script args` with every library at `threads` threads; returns the JSON it prints last."""
    out = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, env=set_threads(threads),
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def fmt_table(rows, headers):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(str(h).rjust(w) for h, w in zip(headers, widths))
    out = [line, "-" * len(line)]
    for r in rows:
        out.append("  ".join(str(c).rjust(w) for c, w in zip(r, widths)))
    return "\n".join(out)


def thread_table_main(script: str, worker, title: str, unit: str, scale: float, argv=None):
    """The driver of a two-peer (dlcore, torch) benchmark: --threads / --repeat options, the worker (worker(repeat),
    printing {case: {"dlcore": s, "torch": s}} as JSON) run in its own process per thread count, and a table of
    the medians in `unit` (seconds times scale) with torch / dlcore."""
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        worker(a.repeat)
        return
    rows = []
    for th in a.threads:
        r = run_json(script, ["--worker", "--repeat", str(a.repeat)], th)
        for name, t in r.items():
            rows.append([th, name, f"{t['dlcore'] * scale:.1f}", f"{t['torch'] * scale:.1f}",
                         f"{t['torch'] / t['dlcore']:.2f}x"])
    print(title)
    print(fmt_table(rows, ["threads", "case", f"dlcore {unit}", f"torch {unit}", "speedup"]))


def peer_process_main(script: str, worker, validate, title: str, repeat: int = 7, argv=None):
    """The driver of a case sweep with each library in its own process: --threads / --repeat / --cases options;
    validate(only) first (in this process), then per thread count worker(lib, repeat, only) run as
    `script --worker lib repeat [--cases ...]` for dlcore and for torch (each printing {case: seconds} as JSON),
    and a table in microseconds with torch / dlcore. (bench/op_sweep.py, bench/backward_sweep.py.)"""
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, nargs="*", default=[1])
    ap.add_argument("--repeat", type=int, default=repeat)
    ap.add_argument("--cases", default="")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    only = [c for c in a.cases.split(",") if c]
    if a.worker:
        worker(a.worker[0], int(a.worker[1]), only)
        return
    validate(only)
    rows = []
    extra = ["--cases", a.cases] if a.cases else []
    for th in a.threads:
        d = run_json(script, ["--worker", "dlcore", str(a.repeat), *extra], th)
        tt = run_json(script, ["--worker", "torch", str(a.repeat), *extra], th)
        for name in d:
            rows.append([th, name, f"{d[name] * 1e6:.1f}", f"{tt[name] * 1e6:.1f}", f"{tt[name] / d[name]:.2f}x"])
    print(title)
    print(fmt_table(rows, ["threads", "case", "dlcore us", "torch us", "vs torch"]))


def peer_library(lib_name: str):
    """In a peer_process_main worker: the library to time ("dlcore" or "torch"), both held to the process's thread
    count (DLCORE_NUM_THREADS, set by run_json)."""
    import torch
    threads = int(os.environ["DLCORE_NUM_THREADS"])
    torch.set_num_threads(threads)
    if lib_name != "dlcore":
        return torch
    import dlcore
    dlcore.set_num_threads(threads)
    return dlcore
