"""CUDA recurrent layers: dlcore's LSTM/GRU on the GPU vs torch.nn.LSTM/GRU on the same GPU (cuDNN), forward and
forward+backward, float32, one process.

Each case is validated first: torch's module and dlcore's functional layer get the same weights and input; the output,
h_n and every weight gradient must agree (the benchmark refuses to time a case that disagrees). Then both are timed,
interleaved: median of --runs runs after --warmup, each run bracketed by a device synchronize (dlcore.cuda has no
events yet) and timed with perf_counter. fwd = forward under no_grad; fwdbwd = training forward +
backward of out.sum() with the parameter grads reset.

GPU only: exits cleanly with a message when dlcore has no real CUDA device (CPU build or the emulator).

    python bench/gpu_recurrent.py                          # LSTM and GRU, batch 64, seq 50, hidden 128/256/512
    python bench/gpu_recurrent.py --kinds LSTM --hidden 256 --runs 50
    python bench/gpu_recurrent.py --no-tf32                # cuDNN without TF32 tensor cores (pure float32)
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))


def _gpu_or_exit():
    import dlcore
    if not dlcore.cuda.is_available():
        print("gpu_recurrent: no CUDA device in this dlcore build (CPU-only build or no GPU); nothing to time.")
        sys.exit(0)
    if dlcore.cuda.is_emulated():
        print("gpu_recurrent: the CUDA device is the SIMT emulator (a test tool, not a GPU); nothing to time.")
        sys.exit(0)
    try:
        import torch
    except ImportError:
        print("gpu_recurrent: PyTorch (the reference) is not installed; nothing to compare against.")
        sys.exit(0)
    if not torch.cuda.is_available():
        print("gpu_recurrent: this PyTorch has no CUDA; nothing to compare against.")
        sys.exit(0)
    return dlcore, torch


def _close(what, a, b, tol):
    import numpy as np
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    err = np.abs(a - b) / (1.0 + np.abs(b))
    if not np.all(np.isfinite(a)) or err.max() > tol:
        i = np.unravel_index(int(np.nanargmax(np.where(np.isfinite(err), err, np.inf))), err.shape)
        raise SystemExit(f"gpu_recurrent: {what} disagrees with torch (max rel err {err.max():.3g} at {i}: "
                         f"{a[i]} vs {b[i]}); refusing to time")


def _case(dlcore, torch, kind, T, N, I, H, warmup, runs):
    import numpy as np
    from dlcore import functional as F
    torch.manual_seed(0)
    tm = getattr(torch.nn, kind)(I, H).cuda()
    fn = {"LSTM": F.lstm, "GRU": F.gru}[kind]
    tparams = list(tm.parameters())
    dparams = [dlcore.tensor(p.detach().cpu().numpy(), device="cuda", requires_grad=True) for p in tparams]
    x_np = np.random.default_rng(0).standard_normal((T, N, I)).astype(np.float32)
    tx = torch.from_numpy(x_np).cuda()
    dx = dlcore.tensor(x_np, device="cuda")

    def t_fwd():
        with torch.no_grad():
            return tm(tx)[0]

    def d_fwd():
        with dlcore.no_grad():
            return fn(dx, None, dparams, True, 1, 0.0, False, False, False)[0]

    def t_fwdbwd():
        for p in tparams:
            p.grad = None
        out = tm(tx)[0]
        out.sum().backward()
        return out

    def d_fwdbwd():
        for p in dparams:
            p.grad = None
        out = fn(dx, None, dparams, True, 1, 0.0, True, False, False)[0]
        out.sum().backward()
        return out

    # validate: outputs and weight gradients (float32; cuDNN may use TF32, hence the loose tolerance)
    tol = 2e-2 if torch.backends.cudnn.allow_tf32 else 1e-3
    _close(f"{kind} H={H} output", d_fwdbwd().detach().cpu().numpy(), t_fwdbwd().detach().cpu().numpy(), tol)
    for p, q in zip(dparams, tparams):
        _close(f"{kind} H={H} weight grad", p.grad.cpu().numpy(), q.grad.cpu().numpy(), tol)

    def timed(f, sync):
        sync()
        t0 = time.perf_counter()
        f()
        sync()
        return (time.perf_counter() - t0) * 1e3

    rows = []
    for name, df, tf in (("fwd", d_fwd, t_fwd), ("fwdbwd", d_fwdbwd, t_fwdbwd)):
        for _ in range(warmup):
            df()
            tf()
        dt, tt = [], []
        for _ in range(runs):  # interleaved
            dt.append(timed(df, dlcore.cuda.synchronize))
            tt.append(timed(tf, torch.cuda.synchronize))
        rows.append((name, statistics.median(dt), statistics.median(tt)))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kinds", default="LSTM,GRU")
    ap.add_argument("--hidden", default="128,256,512")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seq", type=int, default=50)
    ap.add_argument("--input", type=int, default=0, help="input size (0: equal to the hidden size)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--no-tf32", action="store_true", help="torch.backends.cudnn.allow_tf32 = False")
    args = ap.parse_args()
    dlcore, torch = _gpu_or_exit()
    if args.no_tf32:
        torch.backends.cudnn.allow_tf32 = False
    print(f"device: {dlcore.cuda.get_device_name()} | torch {torch.__version__}, cuDNN "
          f"{torch.backends.cudnn.version()}, cudnn.allow_tf32={torch.backends.cudnn.allow_tf32} | "
          f"median of {args.runs} runs after {args.warmup} warm-up")
    print(f"{'case (float32)':<28} {'pass':<7} {'dlcore ms':>10} {'torch ms':>10} {'speedup':>8} {'goal >=1x':>9}")
    for kind in args.kinds.split(","):
        for H in (int(h) for h in args.hidden.split(",")):
            I = args.input or H
            rows = _case(dlcore, torch, kind, args.seq, args.batch, I, H, args.warmup, args.runs)
            for k, (name, d, t) in enumerate(rows):
                label = f"{kind} T{args.seq} N{args.batch} {I}->{H}" if k == 0 else ""
                goal = ("yes" if t / d >= 1.0 else "no") if (name == "fwdbwd" and kind == "LSTM") else ""
                print(f"{label:<28} {name:<7} {d:>10.3f} {t:>10.3f} {t / d:>7.2f}x {goal:>9}")


if __name__ == "__main__":
    main()
