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


# ------------------------------------------------------------------------------------------------- views + in-place
# An in-place op on one alias of a storage changes the history of every other alias recorded by autograd (the base
# and its views), as in PyTorch. Expected gradients derived by hand (exact in float64).

def _leaf6():
    return dlcore.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], dtype=dlcore.float64, requires_grad=True)


_VIEW_MAKERS = {
    "t": lambda b: b.t(),
    "view": lambda b: b.view(6),
    "reshape": lambda b: b.reshape(3, 2),
    "transpose": lambda b: b.transpose(0, 1),
    "permute": lambda b: b.permute(1, 0),
    "unsqueeze": lambda b: b.unsqueeze(0),
    "squeeze": lambda b: b.unsqueeze(0).squeeze(0),
    "flatten": lambda b: b.flatten(),
    "movedim": lambda b: b.movedim(0, 1),
    "as_strided": lambda b: dlcore.as_strided(b, (2, 3), (3, 1)),
    "getitem": lambda b: b[:, :],
}


@pytest.mark.parametrize("maker", sorted(_VIEW_MAKERS))
def test_inplace_on_full_view_reaches_base(maker):
    a = _leaf6()
    b = (a * 2).reshape(2, 3)
    _VIEW_MAKERS[maker](b).mul_(3)
    np.testing.assert_array_equal(b.detach().numpy().ravel(), np.arange(1, 7) * 6.0)
    b.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.full(6, 6.0))


_PART_MAKERS = {  # views of the (2, 3) base covering the flat positions listed
    "narrow": (lambda b: b.narrow(1, 1, 2), [1, 2, 4, 5]),
    "select": (lambda b: b.select(0, 1), [3, 4, 5]),
    "diagonal": (lambda b: b.diagonal(), [0, 4]),
    "getitem": (lambda b: b[0, 1:], [1, 2]),
    "as_strided": (lambda b: dlcore.as_strided(b, (2,), (2,), 1), [1, 3]),
}


@pytest.mark.parametrize("maker", sorted(_PART_MAKERS))
def test_inplace_on_partial_view_reaches_base(maker):
    fn, pos = _PART_MAKERS[maker]
    a = _leaf6()
    b = (a * 2).reshape(2, 3)
    fn(b).mul_(3)
    expect = np.full(6, 2.0)
    expect[pos] = 6.0
    b.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), expect)


@pytest.mark.parametrize("maker", sorted(_VIEW_MAKERS))
def test_view_made_before_inplace_on_base(maker):
    a = _leaf6()
    b = (a * 2).reshape(2, 3)
    v = _VIEW_MAKERS[maker](b)
    b.mul_(3)
    v.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.full(6, 6.0))


def test_inplace_on_view_updates_sibling_view():
    a = _leaf6()
    b = (a * 1).reshape(2, 3)
    col, row = b[:, 0], b[0]
    col.mul_(3)               # b[0, 0] and b[1, 0] tripled
    (row * dlcore.tensor([1.0, 10.0, 100.0], dtype=dlcore.float64)).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [3.0, 10.0, 100.0, 0.0, 0.0, 0.0])


def test_inplace_on_expand_view_made_before():
    a = dlcore.tensor([1.0, 2.0], dtype=dlcore.float64, requires_grad=True)
    b = a * 1
    e = b.expand(3, 2)
    b.add_(b.detach())        # b = 2 a (values), e sees them and d e / d a = 1 per row
    e.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [3.0, 3.0])


def test_inplace_chain_of_views_and_setitem():
    a = _leaf6()
    b = a * 1
    v = b.view(2, 3)
    v[1] = 0.0                # zeroes b[3:]
    v.select(1, 0).mul_(5)    # b[0] *= 5 (b[3] is 0)
    (b * b).sum().backward()  # d/da of 25 a0^2 + a1^2 + a2^2
    np.testing.assert_array_equal(a.grad.numpy(), [50.0, 4.0, 6.0, 0.0, 0.0, 0.0])


def test_advanced_setitem_on_view_reaches_base():
    a = _leaf6()
    b = a * 1
    b.view(2, 3)[1, [0, 2]] = 0.0
    (b * b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [2.0, 4.0, 6.0, 0.0, 10.0, 0.0])


@pytest.mark.parametrize("split", ["unbind", "chunk", "split"])
def test_inplace_on_multi_output_view_raises(split):
    a = _leaf6()
    b = (a * 2).reshape(2, 3)
    parts = {"unbind": lambda: b.unbind(0), "chunk": lambda: b.chunk(2, 0), "split": lambda: b.split(1, 0)}[split]()
    with pytest.raises(RuntimeError, match="returns multiple views"):
        parts[0].mul_(3)


def test_inplace_on_view_of_leaf_raises():
    a = _leaf6()
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        a.view(2, 3).t().mul_(2)


def test_copy_and_zero_cut_the_old_history():
    a = _leaf6()
    b = a * 2
    b.zero_()
    c = a * 2
    c.copy_(dlcore.ones(6, dtype=dlcore.float64))
    (b + c + a).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.ones(6))


def test_inplace_views_no_grad_and_plain_inplace_unchanged():
    a = _leaf6()
    b = a * 2
    b.mul_(3)                 # a non-view non-leaf: fine
    with dlcore.no_grad():
        b.view(2, 3).t().add_(1)   # not recorded: values only
    b.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.full(6, 6.0))
    np.testing.assert_array_equal(b.detach().numpy(), np.arange(1, 7) * 6.0 + 1)


def test_scalar_mul_div_save_nothing_of_the_tensor():
    a = _leaf6()
    b = a * 1
    y = b * 2 + b / 4
    b.mul_(3)                 # PyTorch allows this: neither product needs the old b
    y.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.full(6, 2.25))


_RAND_VIEWS = [lambda x: x.t(), lambda x: x[1], lambda x: x[:, 2], lambda x: x.narrow(1, 1, 2),
               lambda x: x.diagonal(), lambda x: x.reshape(-1)[::2], lambda x: x, lambda x: x.permute(1, 0)[1:],
               lambda x: x.unsqueeze(0)[0, 1:, :3], lambda x: x.as_strided((2, 2), (4, 1), 1)]
_RAND_INPLACE = [lambda v, o: v.mul_(2.0), lambda v, o: v.add_(o.sum()), lambda v, o: v.copy_(v * 3),
                 lambda v, o: v.zero_(), lambda v, o: v.__setitem__(0, o.sum()) if v.ndim else v.mul_(2.0),
                 lambda v, o: v.sub_(1.0)]


@requires_torch
def test_views_inplace_random_against_torch(rng):
    import torch
    for trial in range(40):
        x0 = rng.standard_normal((3, 4))
        picks = rng.integers(0, len(_RAND_VIEWS), 4)
        acts = rng.integers(0, len(_RAND_INPLACE), 3)
        res = []
        for lib in (torch, dlcore):
            a = lib.tensor(x0, dtype=lib.float64, requires_grad=True)
            b = a * 1.5
            views = [_RAND_VIEWS[p](b) for p in picks]
            try:
                for k, act in enumerate(acts):
                    _RAND_INPLACE[act](views[k], views[(k + 1) % 4])
                loss = (views[3] * views[3]).sum() + (b * b).sum() + views[0].sum() * views[1].sum()
                loss.backward()
            except RuntimeError:
                if lib is dlcore and res[0] is not None:
                    raise
                res.append(None)   # torch refuses (then so must dlcore)
                continue
            res.append(a.grad.numpy())
        if res[0] is None:
            assert res[1] is None, f"torch raised but dlcore did not: views {picks}, ops {acts}"
            continue
        np.testing.assert_allclose(res[1], res[0], rtol=1e-10, atol=1e-10, err_msg=f"views {picks}, ops {acts}")


@requires_torch
def test_copy_from_same_shape_source_keeps_its_gradient():
    """dst.copy_(src) with src of dst's shape and dtype: dst gets a node passing the gradient to src (torch's
    CopyBackwards), also with a live view of dst and for a destination without history (buffer.copy_(param))."""
    import torch

    def _g(t):  # torch's CopyBackwards gives the overwritten history zeros, dlcore none
        return np.zeros(3) if t.grad is None else t.grad.numpy().copy()
    w0, x0 = [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]
    res = []
    for lib in (torch, dlcore):
        w = lib.tensor(w0, dtype=lib.float64, requires_grad=True)
        x = lib.tensor(x0, dtype=lib.float64, requires_grad=True)
        b = x * 2
        b.copy_(w)
        assert b.grad_fn is not None
        (b * b).sum().backward()
        g1 = (_g(w), _g(x))
        w.grad = x.grad = None
        b = x * 2
        v = b[1:]
        b.copy_(w)
        (v * v * 3).sum().backward()
        g2 = (_g(w), _g(x))
        w.grad = x.grad = None
        b = x * 2
        b[:2].copy_(w[1:])          # a view of the destination is overwritten by a view of the source
        (b * b).sum().backward()
        g3 = (_g(w), _g(x))
        w.grad = None
        buf = lib.zeros(3, dtype=lib.float64)
        buf.copy_(w)
        (buf * 3).sum().backward()
        res.append((g1, g2, g3, _g(w), buf.requires_grad))
    t, d = res
    for a, b in zip(t[:3], d[:3]):
        for ga, gb in zip(a, b):
            np.testing.assert_array_equal(gb, ga)
    np.testing.assert_array_equal(d[3], t[3])
    np.testing.assert_array_equal(d[3], [3.0, 3.0, 3.0])
    assert d[4] and t[4]


def test_many_live_views_compact_the_group_amortised(monkeypatch):
    """With thousands of live views of one tensor, the view group's member list is compacted only when it has
    doubled (not on every view made: that was quadratic), and unbind/split register their outputs at once; the
    views' histories are still regenerated by an in-place op on the base."""
    from dlcore import _ops
    calls = [0]
    orig = _ops._ViewGroup.live_members

    def counting(self):
        calls[0] += 1
        return orig(self)
    monkeypatch.setattr(_ops._ViewGroup, "live_members", counting)
    a = dlcore.tensor(np.arange(8000.0).reshape(4000, 2), dtype=dlcore.float64, requires_grad=True)
    b = a * 1
    rows = [b[i] for i in range(4000)]
    assert calls[0] <= 12, calls[0]
    calls[0] = 0
    parts = b.unbind(0) + b.split(3, 0) + b.chunk(7, 0) + b.tensor_split([5, 2], 0)
    assert calls[0] <= 6, calls[0]
    assert all(p._multi_view for p in parts)
    b.mul_(3)
    (rows[7].sum() + parts[9].sum() * 10 + parts[-1][0, 1] * 100).backward()
    expect = np.zeros((4000, 2))
    expect[7] += 3
    expect[9] += 30
    expect[2, 1] += 300           # tensor_split([5, 2]): the last piece is b[2:]
    np.testing.assert_array_equal(a.grad.numpy(), expect)
    with pytest.raises(RuntimeError, match="returns multiple views"):
        parts[3].mul_(2)


@requires_torch
def test_tensor_split_with_decreasing_indices_like_torch():
    import torch
    for ind in ([3, 1], [0, 5], [1, 1, 4], [4, 2, 3]):
        ref = [t.tolist() for t in torch.arange(5.0).tensor_split(ind)]
        assert [t.tolist() for t in dlcore.arange(5.0).tensor_split(ind)] == ref
        x = dlcore.arange(5.0, requires_grad=True)
        assert [t.detach().tolist() for t in (x * 1).tensor_split(ind)] == ref


@requires_torch
def test_mul_div_save_an_operand_only_for_the_other_ones_gradient():
    """b * mask and b / const_tensor (mask, const without grad) save nothing of b: modifying b in place afterwards
    is fine (as in torch); with both operands requiring grad the saved operand is still checked."""
    import torch
    m0 = [1.0, 2.0, 4.0]
    ops = [lambda b, m: b * m, lambda b, m: m * b, lambda b, m: b / m, lambda b, m: m / (b + 5)]
    for k, op in enumerate(ops):
        res = []
        for lib in (torch, dlcore):
            x = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
            m = lib.tensor(m0, dtype=lib.float64)
            b = x * 1
            y = op(b, m)
            b.add_(1)
            try:
                y.sum().backward()
                res.append(x.grad.numpy().copy())
            except RuntimeError:
                res.append(None)
        if res[0] is None:
            assert res[1] is None, k
        else:
            np.testing.assert_allclose(res[1], res[0], rtol=1e-14, err_msg=str(k))
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    w = dlcore.tensor([3.0, 4.0], requires_grad=True)
    for op in (lambda b: b * w, lambda b: b / w, lambda b: w / b):
        b = x * 1
        y = op(b)
        b.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace"):
            y.sum().backward()


@requires_torch
def test_setitem_into_internally_overlapping_view_raises_like_torch():
    """Basic-index __setitem__ checks the written-to view for internal overlap (an expanded dim), with or without
    autograd, as torch; writes whose view has no repeated element still work."""
    import torch
    keys = [Ellipsis, slice(None), 0, (slice(None), 0), (slice(1, None), 1)]
    for lib in (torch, dlcore):
        for k in keys:
            for grad in (False, True):
                x = lib.tensor([[1.0], [2.0], [3.0]], dtype=lib.float64, requires_grad=grad)
                e = (x * 1).expand(3, 2)
                overlap = not isinstance(k, tuple)
                if overlap:
                    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
                        e[k] = 7.0
                else:
                    e[k] = 7.0
    e = dlcore.zeros(3, 1).expand(3, 2)
    e[:, 1] = dlcore.tensor([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(e.numpy(), [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])


@requires_torch
def test_views_made_in_no_grad_mode_refuse_inplace_with_grad_mode_on():
    """A view made under no_grad of a tensor that requires grad, modified in place with grad mode on, raises like
    torch (its base's history would miss the op); inside no_grad both stay allowed."""
    import torch
    makers = [lambda b: b[1:2], lambda b: b.view(3), lambda b: b.view(3, 1).t()[0], lambda b: b.unsqueeze(0)[0],
              lambda b: b.unsqueeze(1).unbind(1)[0], lambda b: b.split(2)[1], lambda b: b.as_strided((2,), (1,), 1)]
    ops = [lambda v, w: v.mul_(w), lambda v, w: v.mul_(2.0), lambda v, w: v.add_(1), lambda v, w: v.copy_(v * w),
           lambda v, w: v.zero_(), lambda v, w: v.__setitem__(0, 5.0), lambda v, w: v.relu_()]
    for lib in (torch, dlcore):
        for mk in makers:
            for k, op in enumerate(ops):
                x = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
                w = lib.tensor([10.0], dtype=lib.float64, requires_grad=True)
                b = x * 2
                with lib.no_grad():
                    v = mk(b)
                    vv = v.view(-1) if k == 0 else v   # a view of such a view is one too
                with pytest.raises(RuntimeError, match="created in no_grad mode"):
                    op(vv, w)
                with lib.no_grad():
                    op(v, w)
                b.sum().backward()
                np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])


def test_inplace_with_history_into_view_of_untracked_base_raises():
    """buf[:, 0].copy_(h * 2) with buf = zeros(...) (no history): dlcore does not track views of tensors that do not
    require grad, so the in-place op that would record history on the view raises instead of silently leaving buf
    without gradient (torch rebases buf); writing through the base (setitem) and untracked in-place ops work."""
    h = dlcore.tensor([1.0, 2.0, 3.0], dtype=dlcore.float64, requires_grad=True)
    for op in (lambda v: v.copy_(h * 2), lambda v: v.add_(h), lambda v: v.mul_(h), lambda v: v.fill_(h.sum()),
               lambda v: F_relu_inplace_on(v, h)):
        buf = dlcore.zeros(3, 2, dtype=dlcore.float64)
        for view in (buf[:, 0], buf[:, 1], buf[1:].view(-1), buf.view(-1)[::2]):
            with pytest.raises(RuntimeError, match="view of a larger tensor that does not require grad"):
                op(view)
        np.testing.assert_array_equal(buf.numpy(), np.zeros((3, 2)))
    buf = dlcore.zeros(3, 2, dtype=dlcore.float64)
    buf[:, 0] = h * 2                       # through the base: recorded on buf
    buf[:, 1] += 1.0                        # untracked in-place op on a view: values only
    out = dlcore.zeros(4, 3, dtype=dlcore.float64)
    out[:, :2] = buf.t().repeat(2, 1)[:4, :2] * 0 + 1
    buf[:, 1].mul_(3.0)
    (buf * dlcore.tensor([1.0, 5.0], dtype=dlcore.float64)).sum().backward()
    np.testing.assert_array_equal(h.grad.numpy(), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(buf.detach().numpy()[:, 1], [3.0, 3.0, 3.0])
    # a whole tensor without history (not a view) still takes the history of the op
    z = dlcore.zeros(3, dtype=dlcore.float64)
    z.add_(h)
    assert z.requires_grad
    # optimizer-style and running-statistics updates under no_grad stay allowed
    p = dlcore.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    with dlcore.no_grad():
        p[0].mul_(2.0)
        p.view(-1)[1:].add_(1.0)
    np.testing.assert_array_equal(p.detach().numpy(), [[2.0, 5.0], [4.0, 5.0]])


def F_relu_inplace_on(v, h):
    v.copy_(v)      # untracked: allowed
    import dlcore.functional as F
    F.relu(v.add_(h), inplace=True)


@requires_torch
def test_detach_inplace_on_view_raises_like_torch():
    import torch
    for lib in (torch, dlcore):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        b = x * 2
        v = b[:2]
        with pytest.raises(RuntimeError, match="Can't detach views in-place"):
            v.detach_()
        with lib.no_grad():
            u = x[1:]
        with pytest.raises(RuntimeError, match="Can't detach views in-place"):
            u.detach_()
        b.detach_()                  # the base itself: fine
        assert not b.requires_grad and b.grad_fn is None
        c = v.detach()               # out of place: fine
        assert not c.requires_grad


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid", "sqrt", "rsqrt", "reciprocal", "expm1", "exp2"])
def test_unary_ops_save_their_output_not_their_input(name):
    """Like torch: the derivative of exp/tanh/... reads the output, so changing the input in place afterwards
    leaves the gradient valid, while changing the output in place invalidates it."""
    a = np.array([0.3, 0.7, 1.9])
    expect = {"exp": np.exp(a), "tanh": 1 - np.tanh(a) ** 2, "sigmoid": np.exp(-a) / (1 + np.exp(-a)) ** 2,
              "sqrt": 0.5 / np.sqrt(a), "rsqrt": -0.5 * a ** -1.5, "reciprocal": -1 / a ** 2, "expm1": np.exp(a),
              "exp2": np.log(2) * 2 ** a}[name]
    src = dlcore.tensor(a, requires_grad=True)
    b = src * 1.0
    y = getattr(b, name)()
    b.add_(1.0)  # the input changes after the op: its node kept the output
    y.sum().backward()
    np.testing.assert_allclose(src.grad.numpy(), expect, rtol=1e-12)
    w = getattr(dlcore.tensor(a, requires_grad=True) * 1.0, name)()
    w.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        w.sum().backward()


def test_backward_with_several_roots_from_one_node(device):
    # out, h_n and c_n come from the one LSTM node: its edges must be counted once, or the input (behind a
    # reshape) never becomes ready and silently gets no gradient.
    dlcore.manual_seed(0)
    m = dlcore.nn.LSTM(3, 4).to(device).double()
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((5, 2, 3))
    gs = [rng.standard_normal(s) for s in ((5, 2, 4), (1, 2, 4), (1, 2, 4))]
    grads = []
    for several in (True, False):
        x = dlcore.tensor(x0.reshape(10, 3), device=device, requires_grad=True)
        out, (h, c) = m(x.reshape(5, 2, 3))
        g = [dlcore.tensor(a, device=device) for a in gs]
        if several:
            dlcore.autograd.backward([out, h, c], g)
        else:
            ((out * g[0]).sum() + (h * g[1]).sum() + (c * g[2]).sum()).backward()
        assert x.grad is not None
        grads.append(x.grad.cpu().numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12, atol=1e-12)
