"""Micrograd-style graphs: reused nodes (b = a + a; c = b * b), diamonds, deep chains, shared leaves, retain_graph,
autograd.grad, freed-graph and non-scalar errors; values checked against hand-derived gradients and torch."""
import numpy as np
import pytest

import dlcore
from dlcore import autograd
from conftest import requires_torch


def _s(v):
    return dlcore.tensor([v], dtype=dlcore.float64, requires_grad=True)


def test_reused_node():
    a = _s(3.0)
    b = a + a          # db/da = 2
    c = b * b          # dc/da = 2b * 2 = 24
    c.backward()
    assert a.grad.item() == 24.0


@requires_torch
def test_micrograd_sanity_example():
    # micrograd's test_sanity_check, written with dlcore ops
    x = _s(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x if hasattr(z, "relu") else (z * (z > 0)) + z * x
    h = (z * z).relu() if hasattr(z, "relu") else (z * z)
    y = h + q + q * x
    y.backward()
    import torch
    xt = torch.tensor([-4.0], dtype=torch.float64, requires_grad=True)
    zt = 2 * xt + 2 + xt
    qt = zt.relu() + zt * xt
    ht = (zt * zt).relu()
    yt = ht + qt + qt * xt
    yt.backward()
    assert y.item() == yt.item()
    assert x.grad.item() == xt.grad.item()


@requires_torch
def test_micrograd_more_ops():
    import torch

    def run(lib, a0, b0):
        a = lib.tensor([a0], dtype=lib.float64, requires_grad=True)
        b = lib.tensor([b0], dtype=lib.float64, requires_grad=True)
        c = a + b
        d = a * b + b ** 3
        c = c + c + 1
        c = c + 1 + c + (-a)
        d = d + d * 2 + (b + a).exp().log()
        d = d + 3 * d + (b - a).tanh()
        e = c - d
        f = e ** 2
        g = f / 2.0
        g = g + 10.0 / f
        g.backward()
        return g.item(), a.grad.item(), b.grad.item()

    got = run(dlcore, -4.0, 2.0)
    want = run(torch, -4.0, 2.0)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_diamond():
    a = _s(2.0)
    b = a * 3.0
    left = b.exp()
    right = b * b
    d = left + right
    d.backward()
    b_val = 6.0
    assert a.grad.item() == pytest.approx(3 * (np.exp(b_val) + 2 * b_val), rel=1e-12)


def test_deep_chain_100k():
    a = dlcore.tensor([1.0], requires_grad=True)
    x = a
    for _ in range(100_000):
        x = x + 1.0
    x.backward()
    assert a.grad.item() == 1.0


def test_accumulation_across_backward_calls_and_retain_graph():
    a = _s(2.0)
    y = a * a
    y.backward(retain_graph=True)
    y.backward()
    assert a.grad.item() == 8.0
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_non_scalar_backward_needs_gradient():
    a = dlcore.ones(3, requires_grad=True)
    y = a * 2
    with pytest.raises(RuntimeError, match="scalar outputs"):
        y.backward()
    y.backward(dlcore.tensor([1.0, 2.0, 3.0]))
    assert a.grad.tolist() == [2.0, 4.0, 6.0]


def test_autograd_grad_does_not_touch_dot_grad():
    a = _s(3.0)
    b = _s(4.0)
    y = a * b + a
    ga, gb = autograd.grad(y, [a, b])
    assert ga.item() == 5.0 and gb.item() == 3.0
    assert a.grad is None and b.grad is None


def test_no_grad_and_detach():
    a = _s(1.0)
    with dlcore.no_grad():
        y = a * 2
    assert not y.requires_grad
    z = (a * 2).detach()
    assert not z.requires_grad and z.grad_fn is None

    @dlcore.no_grad()
    def f(x):
        return x * 3

    assert not f(a).requires_grad


def test_shared_subexpression_many_uses():
    a = _s(1.5)
    b = a * a
    terms = [b * float(k) for k in range(1, 11)]
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    total.backward()
    assert a.grad.item() == pytest.approx(55 * 2 * 1.5)


def test_index_and_cat_in_graph():
    a = dlcore.tensor([1.0, 2.0, 3.0], dtype=dlcore.float64, requires_grad=True)
    b = dlcore.cat([a, a[[0, 0]]])          # a[0] used three times
    c = (b * b).sum()
    c.backward()
    assert a.grad.tolist() == [6.0, 4.0, 6.0]


def _graph_builders(rng):
    """Ops that build an autograd node (one of each family); each returns a fresh output of a small input."""
    import dlcore.functional as F
    import dlcore.nn as nn
    f32 = np.float32
    a = dlcore.tensor(rng.standard_normal((6, 6)).astype(f32), requires_grad=True)
    b = dlcore.tensor(rng.standard_normal((6, 6)).astype(f32), requires_grad=True)
    x4 = dlcore.tensor(rng.standard_normal((2, 3, 6, 6)).astype(f32), requires_grad=True)
    w4 = dlcore.tensor(rng.standard_normal((4, 3, 3, 3)).astype(f32), requires_grad=True)
    wt = dlcore.tensor(rng.standard_normal((3, 2, 3, 3)).astype(f32), requires_grad=True)
    seq = dlcore.tensor(rng.standard_normal((4, 2, 3)).astype(f32), requires_grad=True)
    lstm, gru = nn.LSTM(3, 4, num_layers=2, bidirectional=True), nn.GRU(3, 4, batch_first=True)
    cell = nn.LSTMCell(3, 4)
    idx = dlcore.tensor(np.array([0, 2, 3]))
    target = dlcore.tensor(np.arange(6) % 6)
    return {
        "arith": lambda: (a * b + a / (b.abs() + 1)) ** 2, "matmul": lambda: a @ b, "exp_log": lambda: (a.exp() + 1).log(),
        "reductions": lambda: (a.sum(0), a.max(1), a.mean()), "index": lambda: (a[idx], a[1:4, ::2], a[a > 0]),
        "cat_stack": lambda: (dlcore.cat([a, b]), dlcore.stack([a, b])), "where": lambda: dlcore.where(a > 0, a, b),
        "activations": lambda: (F.relu(a), F.gelu(a), F.tanh(a), F.sigmoid(a), F.elu(a), F.softplus(a)),
        "softmax_losses": lambda: (F.softmax(a, 1), F.log_softmax(a, 1), F.cross_entropy(a, target),
                                   F.mse_loss(a, b.detach()), F.binary_cross_entropy_with_logits(a, (b > 0).float())),
        "conv": lambda: F.conv2d(x4, w4, padding=1), "conv_transpose": lambda: F.conv_transpose2d(x4, wt, stride=2),
        "pools": lambda: (F.max_pool2d(x4, 2, return_indices=True), F.avg_pool2d(x4, 2), F.adaptive_avg_pool2d(x4, 1),
                          F.lp_pool2d(x4, 2, 2)),
        "norms": lambda: (F.batch_norm(x4, None, None, training=True), F.local_response_norm(x4, 2)),
        "dropout": lambda: (F.dropout(a, 0.5), F.dropout2d(x4, 0.5)), "embedding": lambda: F.embedding(idx, a),
        "lstm": lambda: lstm(seq), "gru": lambda: gru(seq), "lstm_cell": lambda: cell(seq[0]),
    }


def test_graphs_without_backward_are_freed(rng):
    # Every op's graph must be freed with its outputs when no backward runs (a node that holds its own output on
    # ctx makes a cycle through the C++ tensor that the garbage collector cannot follow: the RNN functions leaked
    # that way). Allocated CPU bytes must come back to where they were.
    import gc
    for name, build in _graph_builders(rng).items():
        out = build()  # first call: lazily created state (parameters' grads are not touched)
        del out
        gc.collect()
        before = dlcore._C._cpu_memory_stats()["allocated"]
        for _ in range(3):
            out = build()
            del out
        gc.collect()
        after = dlcore._C._cpu_memory_stats()["allocated"]
        assert after == before, f"{name}: {after - before} bytes still allocated after 3 forwards without backward"
