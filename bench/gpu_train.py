"""One Fashion-MNIST training epoch of the lecture ConvNet on the GPU: dlcore eager, dlcore with the step captured
as a CUDA graph, and PyTorch eager on the same GPU (same process).

Same architecture, same initial weights (dlcore's copied into torch), same batch size (64), same optimizer (SGD,
momentum 0.9, lr 0.02), same batch order. The whole training set is uploaded once (normalised in NumPy, permuted
once): each step reads a contiguous slice of it on the device, so the timing is forward + backward + optimizer step
without host->device transfers. The loss of every step is accumulated on the device (no host sync per step).

Check first: the first batch's loss and every gradient agree between dlcore and torch on the GPU. Then each
variant trains an epoch from the same initial weights, `--repeat` times interleaved; the epoch is timed with CUDA
events (dlcore.cuda.Event / torch.cuda.Event), and the loss must decrease (mean of the last 50 steps below the mean
of the first 50) in every variant. Reported: median epoch time, the ratio to torch eager (goal: < 1), test accuracy.

    python bench/gpu_train.py                  # convnet, 3 repeats
    python bench/gpu_train.py --models convnet,mlp --repeat 5 --limit 20000

GPU only: exits with a message when dlcore has no real CUDA device (CPU-only build or the SIMT emulator) or torch
has no CUDA.
"""
from __future__ import annotations

import argparse
import statistics
import sys

import numpy as np

BATCH, LR, MOMENTUM = 64, 0.02, 0.9


def gpu_or_exit():
    import dlcore
    if not dlcore.cuda.is_available() or dlcore.cuda.is_emulated():
        print("bench/gpu_train.py: needs a real CUDA device (dlcore.cuda.is_available() is "
              f"{dlcore.cuda.is_available()}, emulated: {dlcore.cuda.is_emulated()}); nothing measured")
        sys.exit(0)
    try:
        import torch
    except ImportError:
        print("bench/gpu_train.py: PyTorch (the reference) is not installed; nothing measured")
        sys.exit(0)
    if not torch.cuda.is_available():
        print("bench/gpu_train.py: this PyTorch has no CUDA device; nothing measured")
        sys.exit(0)


def load_data(limit=None, seed=0):
    from dlcore.data import FashionMNIST
    tr, te = FashionMNIST(train=True), FashionMNIST(train=False)
    mean, std = FashionMNIST.mean, FashionMNIST.std

    def prep(ds):
        x = (ds.images.astype(np.float32) / 255.0 - mean) / std
        return np.ascontiguousarray(x[:, None]), ds.targets.astype(np.int64)

    xtr, ytr = prep(tr)
    xte, yte = prep(te)
    if limit:
        xtr, ytr = xtr[:limit], ytr[:limit]
    perm = np.random.default_rng(seed).permutation(len(xtr))
    n = len(perm) // BATCH * BATCH  # full batches only: every step has the captured shape
    return np.ascontiguousarray(xtr[perm[:n]]), np.ascontiguousarray(ytr[perm[:n]]), xte, yte


def dlcore_model(name):
    import dlcore
    dlcore.manual_seed(0)
    return dlcore.models.get_model(name).to("cuda")


def torch_model(name, dl_model):
    """The same network in torch on the GPU, with dl_model's weights (bench/train.py's builder)."""
    import os
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import train
    return train.torch_model(name, dl_model).cuda()


def check(name, xtr, ytr):
    """The first batch's loss and all gradients agree between dlcore and torch on the GPU (copied weights)."""
    import dlcore
    import torch
    dm = dlcore_model(name)
    tm = torch_model(name, dm)
    x, y = xtr[:BATCH], ytr[:BATCH]
    dl = dlcore.nn.functional.cross_entropy(dm(dlcore.tensor(x, device="cuda")), dlcore.tensor(y, device="cuda"))
    dl.backward()
    tl = torch.nn.functional.cross_entropy(tm(torch.from_numpy(x).cuda()), torch.from_numpy(y).cuda())
    tl.backward()
    d, t = float(dl.item()), float(tl.item())
    assert abs(d - t) < 1e-4 * max(1.0, abs(t)), f"{name}: first-batch loss {d} vs torch {t}"
    tp = dict(tm.named_parameters())
    for k, p in dm.named_parameters():
        g, r = p.grad.cpu().numpy(), tp[k].grad.cpu().numpy()
        err = np.abs(g - r).max() / (np.abs(r).max() + 1e-12)
        assert err < 1e-3, f"{name}: gradient of {k} differs from torch's (relative {err:.2e})"
    return d


def epoch_dlcore(name, xs_all, ys_all, graph):
    """One epoch; returns (ms, per-step losses as a NumPy array, model)."""
    import dlcore
    F = dlcore.nn.functional
    m = dlcore_model(name)
    opt = dlcore.optim.SGD(m.parameters(), lr=LR, momentum=MOMENTUM)
    steps = xs_all.shape[0] // BATCH
    losses = dlcore.zeros(steps, device="cuda")

    def step(x, y):
        loss = F.cross_entropy(m(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    start, end = dlcore.cuda.Event(enable_timing=True), dlcore.cuda.Event(enable_timing=True)
    dlcore.cuda.synchronize()
    start.record()
    if not graph:
        for i in range(steps):
            loss = step(xs_all[i * BATCH:(i + 1) * BATCH], ys_all[i * BATCH:(i + 1) * BATCH])
            losses[i:i + 1].copy_(loss.detach().reshape(1))
    else:
        xs = xs_all[:BATCH].clone()
        ys = ys_all[:BATCH].clone()
        loss = step(xs, ys)  # warm-up: creates the momentum buffers (counted in the epoch, like any step)
        losses[0:1].copy_(loss.detach().reshape(1))
        g = dlcore.cuda.CUDAGraph()
        with dlcore.cuda.graph(g):
            static_loss = step(xs, ys)
        for i in range(1, steps):
            xs.copy_(xs_all[i * BATCH:(i + 1) * BATCH])
            ys.copy_(ys_all[i * BATCH:(i + 1) * BATCH])
            g.replay()
            losses[i:i + 1].copy_(static_loss.detach().reshape(1))
    end.record()
    end.synchronize()
    return start.elapsed_time(end), losses.cpu().numpy(), m


def epoch_torch(name, xs_all, ys_all):
    import torch
    F = torch.nn.functional
    m = torch_model(name, dlcore_model(name))
    opt = torch.optim.SGD(m.parameters(), lr=LR, momentum=MOMENTUM)
    steps = xs_all.shape[0] // BATCH
    losses = torch.zeros(steps, device="cuda")
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    start.record()
    for i in range(steps):
        loss = F.cross_entropy(m(xs_all[i * BATCH:(i + 1) * BATCH]), ys_all[i * BATCH:(i + 1) * BATCH])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses[i] = loss.detach()
    end.record()
    end.synchronize()
    return start.elapsed_time(end), losses.cpu().numpy(), m


def test_accuracy(framework, m, xte, yte):
    if framework == "torch":
        import torch as lib
        to = lambda a: lib.from_numpy(a).cuda()  # noqa: E731
    else:
        import dlcore as lib
        to = lambda a: lib.tensor(a, device="cuda")  # noqa: E731
    with lib.no_grad():
        m.eval()
        pred = np.concatenate([m(to(xte[i:i + 1000])).argmax(1).cpu().numpy() for i in range(0, len(xte), 1000)])
    return float((pred == yte).mean())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--models", default="convnet")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--limit", type=int, default=None, help="train on the first N images (default: all 60000)")
    a = p.parse_args()
    gpu_or_exit()
    import dlcore
    import torch
    from common import fmt_table

    print(f"dlcore on {dlcore.cuda.get_device_name()} ({dlcore.cuda.get_arch()}), torch {torch.__version__}")
    xtr, ytr, xte, yte = load_data(a.limit)
    dx, dy = dlcore.tensor(xtr, device="cuda"), dlcore.tensor(ytr, device="cuda")
    tx, ty = torch.from_numpy(xtr).cuda(), torch.from_numpy(ytr).cuda()
    rows = []
    for name in a.models.split(","):
        loss0 = check(name, xtr, ytr)
        print(f"{name}: first-batch loss and all gradients agree with torch on the GPU (loss {loss0:.4f})")
        times = {"dlcore eager": [], "dlcore graph": [], "torch eager": []}
        last = {}
        epoch_dlcore(name, dx, dy, graph=False)  # warm-up: lazy initialisation, caching allocator, cuDNN autotune
        epoch_torch(name, tx, ty)
        for _ in range(a.repeat):  # interleaved
            for variant in times:
                if variant == "torch eager":
                    ms, losses, m = epoch_torch(name, tx, ty)
                else:
                    ms, losses, m = epoch_dlcore(name, dx, dy, graph=variant == "dlcore graph")
                k = min(50, len(losses) // 2)
                first, final = float(losses[:k].mean()), float(losses[-k:].mean())
                assert np.isfinite(losses).all() and final < first, \
                    f"{name} {variant}: the loss did not decrease (first {k} steps {first:.4f}, last {final:.4f})"
                times[variant].append(ms)
                last[variant] = (first, final, m)
        t_ref = statistics.median(times["torch eager"])
        for variant, ts in times.items():
            first, final, m = last[variant]
            acc = test_accuracy("torch" if variant == "torch eager" else "dlcore", m, xte, yte)
            med = statistics.median(ts)
            rows.append([name, variant, len(xtr), f"{med / 1000:.3f}", f"{med / t_ref:.2f}", f"{first:.4f}",
                         f"{final:.4f}", f"{acc:.4f}"])
    print()
    print(fmt_table(rows, ["model", "variant", "images", "s/epoch (median)", "/ torch eager", "loss first 50",
                           "loss last 50", "test acc"]))


if __name__ == "__main__":
    import os
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
