"""dlcore.utils.checkpoint: the same gradients as without it (float64, vs the plain run and vs torch), with the
activations dropped after the forward and recomputed once in the backward; dropout draws the same masks."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn as nn
import dlcore.nn.functional as F
from dlcore.utils.checkpoint import checkpoint, checkpoint_sequential
from dlcore.autograd import _RECOMPUTE

R = np.random.default_rng(0)


def _block_params(dev="cpu"):
    return [dl.tensor(R.standard_normal(s) * 0.3, dtype=dl.float64, device=dev, requires_grad=True)
            for s in [(4, 2, 3, 3), (4,), (4, 4, 3, 3), (4,)]]


def _block(x, w1, b1, w2, b2, p=0.0):
    h = F.relu(F.conv2d(x, w1, b1, padding=1))
    h = F.dropout(h, p) if p else h
    return F.max_pool2d(F.tanh(F.conv2d(h, w2, b2, padding=1)), 2)


@pytest.mark.parametrize("p", [0.0, 0.3])
def test_checkpoint_matches_plain_gradients(device, p):
    ps = _block_params(device)
    xa = R.standard_normal((3, 2, 8, 8))
    res = []
    for use in (False, True):
        for t in ps:
            t.grad = None
        x = dl.tensor(xa, dtype=dl.float64, device=device, requires_grad=True)
        dl.manual_seed(11)
        y = checkpoint(_block, x, *ps, p=p, use_reentrant=False) if use else _block(x, *ps, p=p)
        (y * y).sum().backward()
        res.append([y.detach().cpu().numpy(), x.grad.cpu().numpy()] + [t.grad.cpu().numpy() for t in ps])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_activations_are_dropped_and_recomputed_once():
    calls = []

    def f(x, w):
        calls.append(1)
        return (x @ w).tanh().exp()

    x = dl.tensor(R.standard_normal((5, 4)), dtype=dl.float64, requires_grad=True)
    w = dl.tensor(R.standard_normal((4, 3)), dtype=dl.float64, requires_grad=True)
    y = checkpoint(f, x, w)
    node = y.grad_fn
    assert node._saved is _RECOMPUTE  # exp's saved output is gone after the forward
    assert len(calls) == 1
    gx, gw = dl.autograd.grad(y.sum(), [x, w])  # autograd.grad works (non-reentrant semantics)
    assert len(calls) == 2
    xt, wt = x.detach().numpy(), w.detach().numpy()
    e = np.exp(np.tanh(xt @ wt))
    d = e * (1 - np.tanh(xt @ wt) ** 2)
    np.testing.assert_allclose(gx.numpy(), d @ wt.T, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(gw.numpy(), xt.T @ d, rtol=1e-10, atol=1e-14)


def test_checkpoint_vs_torch_and_double_backward():
    torch = pytest.importorskip("torch")
    import torch.utils.checkpoint as tcp
    xa, wa = R.standard_normal((4, 3)), R.standard_normal((3, 3))
    out = []
    for lib, fn, ck in ((dl, F, checkpoint), (torch, torch.nn.functional, tcp.checkpoint)):
        x = lib.tensor(xa, dtype=lib.float64, requires_grad=True)
        w = lib.tensor(wa, dtype=lib.float64, requires_grad=True)
        y = ck(lambda x, w: fn.softplus(x @ w).pow(2), x, w, use_reentrant=False)
        (gx,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        (hw,) = lib.autograd.grad((gx * gx).sum(), w)
        out.append([gx.detach().numpy(), hw.numpy()])
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_checkpoint_sequential_and_modules():
    dl.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 2))
    x = dl.tensor(R.standard_normal((5, 6)).astype(np.float32))
    ref = model(x)
    ref.sum().backward()
    g_ref = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    y = checkpoint_sequential(model, 2, x, use_reentrant=False)
    np.testing.assert_allclose(y.detach().numpy(), ref.detach().numpy(), rtol=1e-6)
    y.sum().backward()
    for p, g in zip(model.parameters(), g_ref):
        np.testing.assert_allclose(p.grad.numpy(), g, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="segments"):
        checkpoint_sequential(model, 0, x)


def test_nondeterministic_function_is_detected_and_no_grad_passthrough():
    state = {"n": 2}

    def f(x):
        state["n"] += 1
        y = x
        for _ in range(state["n"]):
            y = y.exp()
        return y

    x = dl.tensor([0.1, 0.2], dtype=dl.float64, requires_grad=True)
    y = checkpoint(f, x)
    with pytest.raises(RuntimeError, match="deterministic"):
        y.sum().backward()
    with dl.no_grad():
        z = checkpoint(lambda t: t * 2, x)
    assert not z.requires_grad


def test_utils_data_names():
    from dlcore.utils.data import DataLoader, TensorDataset
    ds = TensorDataset(dl.arange(6.0).reshape(3, 2), dl.tensor([0, 1, 2]))
    batches = list(DataLoader(ds, batch_size=2))
    assert len(batches) == 2 and tuple(batches[0][0].shape) == (2, 2)
