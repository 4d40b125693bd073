"""A sweep of layers outside bench/layers.py's cases against PyTorch CPU, 1 thread, one process, the two peers one
after the other per case: each case is checked against torch first (max abs difference relative to the output's
scale), then timed (median of 5 calls): forward under no_grad, and forward + .sum().backward().
Usage: python bench/layer_sweep.py
"""
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import dlcore  # noqa: E402
import dlcore.functional as F  # noqa: E402
torch.set_num_threads(1); dlcore.set_num_threads(1)
rng = np.random.default_rng(0)
def t(f, n=5):
    f()
    ts=[]
    for r in range(n):
        t0=time.perf_counter(); f(); ts.append(time.perf_counter()-t0)
    return np.median(ts)*1e6
TF = torch.nn.functional
x4 = rng.standard_normal((32,64,28,28)).astype(np.float32)
x2 = rng.standard_normal((256,1000)).astype(np.float32)
xs = rng.standard_normal((64,96,27,27)).astype(np.float32)
tgt = rng.integers(0, 1000, 256)
p01 = (rng.random((256,1000))).astype(np.float32)
emb_w = rng.standard_normal((10000,128)).astype(np.float32)
idx = rng.integers(0, 10000, (64, 50))
cases = [
 ("lrn size5 [64,96,27,27]", xs, lambda m, v: m.local_response_norm(v, 5)),
 ("leaky_relu", x4, lambda m, v: m.leaky_relu(v, 0.1)),
 ("elu", x4, lambda m, v: m.elu(v)),
 ("gelu", x4, lambda m, v: m.gelu(v)),
 ("softplus", x4, lambda m, v: m.softplus(v)),
 ("sigmoid", x4, lambda m, v: m.sigmoid(v) if m is TF else m.sigmoid(v)),
 ("softmax dim1 NCHW", x4, lambda m, v: m.softmax(v, 1)),
 ("log_softmax [256,1000]", x2, lambda m, v: m.log_softmax(v, 1)),
 ("batch_norm eval-ish train NCHW", x4, lambda m, v: m.batch_norm(v, None, None, training=True)),
 ("mse_loss", x2, lambda m, v: m.mse_loss(v, v * 0.5)),
 ("bce_with_logits", x2, lambda m, v: m.binary_cross_entropy_with_logits(v, v * 0 + 0.3)),
 ("conv depthwise 3x3 [32,64,28,28]", x4, "dw"),
 ("conv depthwise 3x3/2 [32,128,28,28]", rng.standard_normal((32,128,28,28)).astype(np.float32), "dw2"),
 ("conv depthwise 5x5/2 [16,32,112,112]", rng.standard_normal((16,32,112,112)).astype(np.float32), "dw5"),
 ("conv 256->256 3x3 [16,256,13,13]", rng.standard_normal((16,256,13,13)).astype(np.float32), "a3"),
 ("conv1d k5 [32,64,784]", x4.reshape(32,64,784), "c1d"),
 ("embedding [64,50]->128", None, "emb"),
 ("cross_entropy [256,1000]", x2, "ce"),
]
for name, x, fn in cases:
    if fn == "dw":
        w = rng.standard_normal((64,1,3,3)).astype(np.float32)
        fd = lambda m, v, w=w: m.conv2d(v, (dlcore.tensor(w) if m is F else torch.tensor(w)), None, 1, 1, 1, 64)
    elif fn in ("dw2", "dw5"):
        C, k = x.shape[1], (3 if fn == "dw2" else 5)
        w = rng.standard_normal((C,1,k,k)).astype(np.float32)
        fd = lambda m, v, w=w, C=C, k=k: m.conv2d(v, (dlcore.tensor(w) if m is F else torch.tensor(w)), None, 2, k//2, 1, C)
    elif fn == "a3":
        w = (rng.standard_normal((256,256,3,3)) * 0.05).astype(np.float32)
        fd = lambda m, v, w=w: m.conv2d(v, (dlcore.tensor(w) if m is F else torch.tensor(w)), None, 1, 1)
    elif fn == "c1d":
        w = rng.standard_normal((64,64,5)).astype(np.float32)
        fd = lambda m, v, w=w: m.conv1d(v, (dlcore.tensor(w) if m is F else torch.tensor(w)), None, 1, 2)
    elif fn == "emb":
        x = emb_w
        fd = lambda m, v: m.embedding((dlcore.tensor(idx) if m is F else torch.tensor(idx)), v)
    elif fn == "ce":
        fd = lambda m, v: m.cross_entropy(v, (dlcore.tensor(tgt) if m is F else torch.tensor(tgt)))
    else:
        fd = fn
    xd = dlcore.tensor(x, requires_grad=True); xt = torch.tensor(x, requires_grad=True)
    a = fd(F, xd); b = fd(TF, xt)
    err = np.abs(a.detach().numpy() - b.detach().numpy()).max()
    assert err <= 1e-4 * max(1.0, float(np.abs(b.detach().numpy()).max())), (name, err)
    def dfb():
        xd.grad = None; fd(F, xd).sum().backward()
    def tfb():
        xt.grad = None; fd(TF, xt).sum().backward()
    with dlcore.no_grad():
        td = t(lambda: fd(F, xd))
    with torch.no_grad():
        tt = t(lambda: fd(TF, xt))
    tdb, ttb = t(dfb), t(tfb)
    print("%-34s err %.1e  fwd dl %8.0f torch %8.0f (%.2fx)   f+b dl %8.0f torch %8.0f (%.2fx)" % (name, err, td, tt, tt/td, tdb, ttb, ttb/tdb))
