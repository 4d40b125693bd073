"""GEMM throughput: dlcore's packed SGEMM/DGEMM vs NumPy (OpenBLAS) and PyTorch CPU, GFLOP/s, fraction of the
measured FMA peak and ratios, at 1 and 2 threads.

    python bench/gemm.py                 # everything (square 256..4096, deep-learning shapes, DGEMM 1024)
    python bench/gemm.py --quick         # a subset (no 4096, fewer repeats)
    python bench/gemm.py --threads 1     # one thread count only

bf16 rows: dlcore.matmul on bfloat16 tensors (the AVX512-BF16 kernel where the CPU has it, else the float32 route)
against torch.mm on bfloat16 (oneDNN); NumPy has no bfloat16 ("-"). %peak is against the float32 FMA peak (a
vdpbf16ps does twice an FMA's multiply-adds, so 200% is its ceiling).

Method (DESIGN.md): every shape is first validated against a float64 NumPy product (dlcore, NumPy and torch
outputs alike); then the peers are timed on preallocated outputs (np.matmul(out=), torch.mm(out=),
dlcore._C._gemm(a, b, c)), median of several runs. Two clocks are recorded for every run: wall time, and the process's CPU time divided by
the thread count (--clock picks the one printed; default cpu). The machine is shared with other jobs: wall time
then measures the scheduler as much as the kernel (the FMA loop itself drops to a fraction of its peak), while CPU
time keeps measuring cycles spent (threads that spin while waiting are charged, threads that sleep are not).
At 1 thread the three peers share one process and are timed
interleaved (round-robin per shape). At 2 threads each peer runs in its own process (OpenBLAS's and torch's
spinning thread pools slow each other down in one process); the processes alternate over several rounds and the
median of the per-round medians is reported. The FMA peak is measured by bench/fma_peak.cpp (built here with g++).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import fmt_table, run_json  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SQUARE = [256, 512, 1024, 2048, 4096]
DL_SHAPES = [(64, 100, 2880), (64, 2880, 100), (2880, 100, 64), (64, 10, 100), (20, 36864, 25), (64, 256, 784),
             (128, 1024, 1024), (1600, 2048, 128)]
PEERS = ["dlcore", "numpy", "torch"]


def shapes(quick):
    out = [("f32", n, n, n) for n in SQUARE if not (quick and n > 2048)]
    out += [("f32", m, n, k) for m, n, k in DL_SHAPES]
    out.append(("f64", 1024, 1024, 1024))
    out += [("bf16", n, n, n) for n in (512, 1024, 2048)]
    out += [("bf16", m, n, k) for m, n, k in ((64, 2880, 100), (128, 1024, 1024), (1600, 2048, 128))]
    return out


def run_worker(script, args, threads):
    """common.run_json, but a failing worker's stderr is shown (the validation message)."""
    try:
        return run_json(script, args, threads)
    except subprocess.CalledProcessError as e:
        sys.stderr.write(e.stderr or "")
        raise SystemExit(f"worker failed: {' '.join(args[:5])}")


def interleaved2(fns, repeat, min_time):
    """common.interleaved with both clocks: {name: (median wall s, median cpu s / threads)} per call."""
    numbers = {}
    for name, fn in fns.items():
        fn()
        t0 = time.perf_counter()
        fn()
        numbers[name] = max(1, int(min_time / max(time.perf_counter() - t0, 1e-7)))
    runs = {name: ([], []) for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            n = numbers[name]
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(n):
                fn()
            runs[name][0].append((time.perf_counter() - t0) / n)
            runs[name][1].append((time.process_time() - c0) / n)
    return {name: (statistics.median(w), statistics.median(c)) for name, (w, c) in runs.items()}


def fma_peak(threads):
    exe = os.path.join(tempfile.gettempdir(), f"dlcore_fma_peak_{os.getuid()}")
    src = os.path.join(HERE, "fma_peak.cpp")
    if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
        subprocess.run(["g++", "-O2", "-mavx512f", "-mavx2", "-mfma", "-pthread", src, "-o", exe], check=True)
    runs = [json.loads(subprocess.run([exe, str(threads), "512", "0.2"], capture_output=True, text=True,
                                      check=True).stdout) for _ in range(3)]
    return {"wall": max(r["gflops"] for r in runs), "cpu": max(r["gflops_cpu"] for r in runs)}


# ---------------------------------------------------------------------------------------------------- worker
def worker(peers, threads, shape_list, repeat):
    import numpy as np
    import dlcore
    torch = None
    if "torch" in peers:
        import torch
        torch.set_num_threads(threads)
    dlcore.set_num_threads(threads)
    rng = np.random.default_rng(0)
    results = {}
    for dt, m, n, k in shape_list:
        npdt = np.float64 if dt == "f64" else np.float32
        a = rng.standard_normal((m, k)).astype(npdt)
        b = rng.standard_normal((k, n)).astype(npdt)
        if dt == "bf16":  # values representable in bfloat16
            a = dlcore.from_numpy(a).to(dlcore.bfloat16).float().numpy()
            b = dlcore.from_numpy(b).to(dlcore.bfloat16).float().numpy()
        ref = a.astype(np.float64) @ b.astype(np.float64)
        eps = np.finfo(npdt).eps
        # |error| of a k-long dot product in precision eps, with room for any summation order
        bound = 4 * eps * np.sqrt(k) * (np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)) + 1e-30
        if dt == "bf16":  # + the result's one rounding to bfloat16
            bound = bound + 2.0 ** -8 * np.abs(ref)
        fns = {}
        outs = {}
        if dt == "bf16":
            if "dlcore" in peers:
                da, db = dlcore.from_numpy(a).to(dlcore.bfloat16), dlcore.from_numpy(b).to(dlcore.bfloat16)
                bf_out = {}
                fns["dlcore"] = lambda: bf_out.__setitem__(0, dlcore.matmul(da, db))
                outs["dlcore"] = lambda: bf_out[0].float().numpy()
            if torch is not None:
                ta, tb = torch.from_numpy(a).bfloat16(), torch.from_numpy(b).bfloat16()
                tc = torch.zeros((m, n), dtype=torch.bfloat16)
                fns["torch"] = lambda: torch.mm(ta, tb, out=tc)
                outs["torch"] = lambda: tc.float().numpy()
        if dt != "bf16" and "dlcore" in peers:
            da, db = dlcore.from_numpy(a), dlcore.from_numpy(b)
            dc = dlcore.from_numpy(np.zeros((m, n), npdt))
            fns["dlcore"] = lambda: dlcore._C._gemm(da, db, dc)
            outs["dlcore"] = lambda: dc.numpy()
            mm_out = {}
            fns["dl.matmul"] = lambda: mm_out.__setitem__(0, dlcore.matmul(da, db))
            outs["dl.matmul"] = lambda: mm_out[0].numpy()
        if "numpy" in peers and dt != "bf16":
            nc = np.zeros((m, n), npdt)
            fns["numpy"] = lambda: np.matmul(a, b, out=nc)
            outs["numpy"] = lambda: nc
        if torch is not None and dt != "bf16":
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            tc = torch.zeros((m, n), dtype=ta.dtype)
            fns["torch"] = lambda: torch.mm(ta, tb, out=tc)
            outs["torch"] = lambda: tc.numpy()
        for name, fn in fns.items():  # validate first: refuse to time a wrong result
            fn()
            err = np.abs(outs[name]().astype(np.float64) - ref)
            if not (err <= bound).all():
                i = np.unravel_index(np.argmax(err - bound), err.shape)
                raise SystemExit(f"{name} {dt} {m}x{n}x{k}: wrong result at {i}: {outs[name]()[i]} vs {ref[i]}")
        big = 2.0 * m * n * k > 2e10
        rep = max(3, repeat // 2) if big else repeat
        t = interleaved2(fns, repeat=rep, min_time=0.0 if big else 0.05)
        results[f"{dt} {m} {n} {k}"] = {name: (w, c / threads) for name, (w, c) in t.items()}
    print(json.dumps(results))


# ---------------------------------------------------------------------------------------------------- driver
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=3, help="alternating per-peer process rounds at 2 threads")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json", help="write the raw timings here")
    ap.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        peers, threads, shp = args.worker
        worker(peers.split(","), int(threads), [tuple(s) for s in json.loads(shp)], args.repeat)
        return
    shp = shapes(args.quick)
    repeat = 5 if args.quick else args.repeat
    raw = {}
    try:
        load = open("/proc/loadavg").read().split()[:3]
    except OSError:
        load = ["?"]
    print(f"load average at start: {' '.join(load)}")
    for th in args.threads:
        peak = fma_peak(th)
        script = os.path.abspath(__file__)
        if th == 1:
            runs = [run_worker(script, ["--repeat", str(repeat), "--worker", ",".join(PEERS), "1", json.dumps(shp)], 1)]
        else:
            runs = []
            for _ in range(args.rounds):
                merged = {}
                for peer in PEERS:
                    r = run_worker(script, ["--repeat", str(repeat), "--worker", peer, str(th), json.dumps(shp)], th)
                    for key, v in r.items():
                        merged.setdefault(key, {}).update(v)
                runs.append(merged)
        ci = 1 if args.clock == "cpu" else 0
        raw[th] = {"peak_gflops": peak, "runs": runs}
        times = {key: {p: statistics.median(r[key][p][ci] for r in runs) for p in runs[0][key]} for key in runs[0]}
        wall = {key: {p: statistics.median(r[key][p][0] for r in runs) for p in runs[0][key]} for key in runs[0]}
        pk = peak[args.clock]
        rows = []
        for key, t in times.items():
            dt, m, n, k = key.split()
            fl = 2.0 * int(m) * int(n) * int(k)
            g = {p: fl / s * 1e-9 for p, s in t.items()}

            def ratio(tt, peer):
                return f"{tt[peer] / tt['dlcore']:.2f}" if peer in tt else "-"
            rows.append([dt, f"{m}x{n}x{k}", f"{g['dlcore']:.1f}",
                         f"{g['numpy']:.1f}" if "numpy" in g else "-", f"{g['torch']:.1f}",
                         f"{g['dl.matmul']:.1f}" if "dl.matmul" in g else "-",
                         f"{100 * g['dlcore'] / (pk / (2 if dt == 'f64' else 1)):.0f}%",
                         ratio(t, "numpy"), ratio(t, "torch"), ratio(wall[key], "numpy"), ratio(wall[key], "torch")])
        print(f"\n== {th} thread(s), {args.clock} clock; FMA peak {pk:.0f} GFLOP/s fp32 ({pk / 2:.0f} fp64) "
              f"[wall-clock peak now {peak['wall']:.0f}]; GFLOP/s, median ==")
        print(fmt_table(rows, ["dtype", "MxNxK", "dlcore", "numpy", "torch", "dl.matmul", "%peak", "x numpy",
                               "x torch", "x numpy(wall)", "x torch(wall)"]))
    try:
        load = open("/proc/loadavg").read().split()[:3]
        print(f"\nload average at end: {' '.join(load)}")
    except OSError:
        pass
    if args.json:
        with open(args.json, "w") as f:
            json.dump(raw, f, indent=1)


if __name__ == "__main__":
    main()
