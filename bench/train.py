"""One Fashion-MNIST training epoch of the lecture ConvNet and the MLP: dlcore vs PyTorch CPU eager.

Same architecture, same initial weights (copied from dlcore's model into torch's), same batch size (64), same
optimizer (SGD, momentum 0.9, lr 0.02), same batch order. The data are the real Fashion-MNIST training images
(normalised once, up front, in NumPy) and both frameworks get each batch from the same NumPy arrays, so the timing
is the framework's forward + backward + optimizer step (+ the batch's conversion to a tensor).

Check first: before timing, the loss and every gradient of one batch must agree between the two (copied weights).
Then each (framework, threads) pair runs in its own process (trap 1 of DESIGN.md: torch's OpenMP and other pools
must not spin against each other), interleaved over repeats; the median epoch time is reported with the ratio
dlcore / torch (the issue's goal: <= 0.7) and the test accuracy each reached.

    python bench/train.py                       # convnet and mlp, 1 and 2 threads, 1 repeat each
    python bench/train.py --models convnet --threads 1 --repeat 3 --limit 20000
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import fmt_table, run_json  # noqa: E402

BATCH, LR, MOMENTUM = 64, 0.02, 0.9


def load_data(limit=None):
    from dlcore.data import FashionMNIST
    tr = FashionMNIST(train=True)
    te = FashionMNIST(train=False)
    mean, std = FashionMNIST.mean, FashionMNIST.std

    def prep(ds):
        x = (ds.images.astype(np.float32) / 255.0 - mean) / std
        return np.ascontiguousarray(x[:, None]), ds.targets.astype(np.int64)

    xtr, ytr = prep(tr)
    xte, yte = prep(te)
    if limit:
        xtr, ytr = xtr[:limit], ytr[:limit]
    return xtr, ytr, xte, yte


def dlcore_model(name):
    import dlcore
    dlcore.manual_seed(0)
    return dlcore.models.get_model(name)


def torch_model(name, dl_model):
    import torch
    from torch import nn
    if name == "convnet":
        m = nn.Sequential(nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(20 * 12 * 12, 100),
                          nn.ReLU(), nn.Linear(100, 10))
    elif name == "mlp":
        m = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                          nn.Linear(128, 10))
    else:
        raise ValueError(name)
    sd = {k: torch.from_numpy(np.array(v.detach().cpu().numpy())) for k, v in dl_model.state_dict().items()}
    m.load_state_dict(sd)
    return m


def check(name):
    """Loss and all gradients of one batch agree (copied weights)."""
    import dlcore
    import torch
    xtr, ytr, _, _ = load_data(limit=BATCH)
    dm = dlcore_model(name)
    tm = torch_model(name, dm)
    x, y = xtr[:BATCH], ytr[:BATCH]
    dl = dlcore.nn.functional.cross_entropy(dm(dlcore.from_numpy(x)), dlcore.from_numpy(y))
    dl.backward()
    tl = torch.nn.functional.cross_entropy(tm(torch.from_numpy(x)), torch.from_numpy(y))
    tl.backward()
    assert abs(float(dl.item()) - float(tl.item())) < 1e-4 * max(1.0, abs(float(tl.item()))), (dl.item(), tl.item())
    tp = dict(tm.named_parameters())
    for k, p in dm.named_parameters():
        g, r = p.grad.numpy(), tp[k].grad.numpy()
        err = np.abs(g - r).max() / (np.abs(r).max() + 1e-12)
        assert err < 1e-3, f"{name}: gradient of {k} differs from torch's (relative {err:.2e})"
    return float(dl.item())


def run_epoch(framework, name, xtr, ytr, xte, yte, seed=0):
    """One epoch of SGD-momentum over a fixed batch order, then test accuracy; the same code for both peers."""
    if framework == "dlcore":
        import dlcore as lib
        m = dlcore_model(name)
    else:
        import torch as lib
        m = torch_model(name, dlcore_model(name))
    F = lib.nn.functional
    opt = lib.optim.SGD(m.parameters(), lr=LR, momentum=MOMENTUM)
    perm = np.random.default_rng(seed).permutation(len(xtr))
    t0 = time.perf_counter()
    for i in range(0, len(perm) - BATCH + 1, BATCH):
        idx = perm[i:i + BATCH]
        x, y = lib.from_numpy(xtr[idx]), lib.from_numpy(ytr[idx])
        loss = F.cross_entropy(m(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    dt = time.perf_counter() - t0
    with lib.no_grad():
        m.eval()
        pred = np.concatenate([m(lib.from_numpy(xte[i:i + 1000])).argmax(1).numpy()
                               for i in range(0, len(xte), 1000)])
    return dt, float((pred == yte).mean())


def worker(a):
    if a.framework == "torch":
        import torch
        torch.set_num_threads(a.threads)
    import dlcore
    dlcore.set_num_threads(a.threads)
    xtr, ytr, xte, yte = load_data(a.limit)
    dt, acc = run_epoch(a.framework, a.model, xtr, ytr, xte, yte)
    print(json.dumps({"seconds": dt, "test_acc": acc, "images": len(xtr)}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--models", default="convnet,mlp")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--limit", type=int, default=None, help="train on the first N images (default: all 60000)")
    p.add_argument("--worker", action="store_true")
    p.add_argument("--framework")
    p.add_argument("--model")
    a, _ = p.parse_known_args()
    if a.worker:
        a.threads = int(a.threads)
        return worker(a)
    rows = []
    for name in a.models.split(","):
        loss = check(name)
        print(f"{name}: first-batch loss and all gradients agree with torch (loss {loss:.4f})")
        for th in [int(t) for t in a.threads.split(",")]:
            res = {"dlcore": [], "torch": []}
            for _ in range(a.repeat):  # interleaved: dlcore, torch, dlcore, torch, ...
                for fw in ("dlcore", "torch"):
                    args = ["--worker", "--framework", fw, "--model", name, "--threads", str(th)]
                    if a.limit:
                        args += ["--limit", str(a.limit)]
                    res[fw].append(run_json(os.path.abspath(__file__), args, th))
            d = statistics.median(r["seconds"] for r in res["dlcore"])
            t = statistics.median(r["seconds"] for r in res["torch"])
            rows.append([name, th, res["dlcore"][0]["images"], f"{d:.2f}", f"{t:.2f}", f"{d / t:.2f}",
                         f"{res['dlcore'][-1]['test_acc']:.4f}", f"{res['torch'][-1]['test_acc']:.4f}"])
            print(fmt_table(rows[-1:], ["model", "threads", "images", "dlcore s", "torch s", "dlcore/torch",
                                        "dlcore acc", "torch acc"]), flush=True)
    print()
    print(fmt_table(rows, ["model", "threads", "images", "dlcore s/epoch", "torch s/epoch", "dlcore/torch",
                           "dlcore test acc", "torch test acc"]))


if __name__ == "__main__":
    main()
