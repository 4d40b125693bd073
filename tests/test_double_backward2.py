"""Higher-order gradients (create_graph=True), part 2: the ops whose double backward is a differentiable form of a
fused kernel's backward (piecewise activations, the binary math family, digamma, logit, nan_to_num, scatter and
index_put, as_strided, setitem, in-place ops on views, prod, cumsum, embedding with padding_idx or
scale_grad_by_freq, local_response_norm, conv3d / conv_transpose3d, max_pool3d, the recurrent cells and stacks).

Each case builds the same function in dlcore and torch (float64, same numbers), takes the first gradients with
create_graph=True, differentiates <v, first gradients> (v fixed random) and compares every second-order gradient
with torch's; the loss has a quadratic term so that ops linear in their input (scatter, as_strided) have a non-zero
second derivative through it. A few ops are also checked against central differences of their first-gradient
function (gradgradcheck), independently of torch.
"""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from dlcore.testing import gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

R = np.random.default_rng(2024)


def _r(*shape):
    return R.standard_normal(shape)


def _pos(*shape):
    return np.abs(R.standard_normal(shape)) + 0.3


def _np(t):
    return t.detach().numpy()


def _loss(lib, y, seed=11):
    """sum(y * w1) + sum(y^2 * w2) / 2 (w fixed random): its Hessian through a linear op is not zero."""
    if isinstance(y, (tuple, list)):
        return sum(_loss(lib, t, seed + i) for i, t in enumerate(y) if t is not None)
    rng = np.random.default_rng(seed)
    w1 = lib.tensor(rng.standard_normal(tuple(y.shape)), dtype=lib.float64)
    w2 = lib.tensor(rng.standard_normal(tuple(y.shape)), dtype=lib.float64)
    return (y * w1).sum() + 0.5 * (y * y * w2).sum()


def _second(lib, y, xs):
    gs = lib.autograd.grad(_loss(lib, y), xs, create_graph=True, allow_unused=True)
    rng = np.random.default_rng(5)
    s = 0
    for g in gs:
        if g is not None and g.requires_grad:
            s = s + (g * lib.tensor(rng.standard_normal(tuple(g.shape)), dtype=lib.float64)).sum()
    hs = lib.autograd.grad(s, xs, allow_unused=True)
    return gs, hs


def _compare(build, rtol=1e-8, atol=1e-10):
    """build(lib, F) -> (output, inputs): the first and second-order gradients of dlcore and torch agree."""
    res = []
    for lib, fn in ((dl, F), (torch, TF)):
        y, xs = build(lib, fn)
        res.append(_second(lib, y, xs))
    (gd, hd), (gt, ht) = res
    for i, (a, b) in enumerate(zip(gd, gt)):
        if b is None:
            continue
        np.testing.assert_allclose(_np(a), _np(b), rtol=rtol, atol=atol, err_msg=f"first order, input {i}")
    checked = 0
    for i, (a, b) in enumerate(zip(hd, ht)):
        bn = np.zeros(1) if b is None else _np(b)
        an = np.zeros(1) if a is None else _np(a)
        np.testing.assert_allclose(np.broadcast_to(an, bn.shape) if an.size == 1 else an, bn, rtol=rtol, atol=atol,
                                   err_msg=f"second order, input {i}")
        checked += b is not None and np.abs(bn).max() > 0
    assert checked, "no input has a non-zero second-order gradient: the case tests nothing"


def _leaves(lib, arrays):
    out = []
    for a in arrays:
        t = lib.tensor(a, dtype=lib.float64)
        t.requires_grad_(True)
        out.append(t)
    return out


def _case(fn, arrays, **kw):
    def build(lib, mod):
        xs = _leaves(lib, arrays)
        return fn(lib, mod, *xs), xs
    _compare(build, **kw)


# ------------------------------------------------------------------------------------------------- activations

def test_hardswish_second_order():
    x = np.array([-4.0, -2.5, -1.0, -0.2, 0.4, 1.7, 2.9, 3.5, 5.0])
    _case(lambda L, Fm, x: Fm.hardswish(x), [x])
    _case(lambda L, Fm, x, w: Fm.hardswish(x * w), [x, _r(9)])


def test_hardsigmoid_second_order_is_zero_inside_and_third_order_works():
    # torch has no double backward for hardsigmoid; its second derivative is 0 away from +-3, so the gradient of
    # a gradient through it comes only from the surrounding ops (here the square)
    x = dl.tensor([-4.0, -1.0, 0.5, 2.0, 4.0], dtype=dl.float64, requires_grad=True)
    (g,) = dl.autograd.grad((F.hardsigmoid(x) ** 2).sum(), x, create_graph=True)
    (h,) = dl.autograd.grad(g.sum(), x)
    xn = x.detach().numpy()
    inside = (np.abs(xn) < 3).astype(float)
    np.testing.assert_allclose(h.numpy(), 2 * (inside / 6) ** 2, rtol=1e-12, atol=1e-15)


def test_piecewise_activations_gradgradcheck():
    x = dl.tensor(np.array([-3.7, -2.2, -0.9, 0.3, 1.1, 2.6, 3.9]), dtype=dl.float64, requires_grad=True)
    assert gradgradcheck(lambda x: F.hardswish(x * 1.3), [x])
    assert gradgradcheck(lambda x: F.hardsigmoid(x) * x, [x])


# ------------------------------------------------------------------------------------------------- math

@pytest.mark.parametrize("name", ["atan2", "hypot", "fmax", "fmin", "xlogy", "logaddexp", "logaddexp2", "copysign"])
def test_binary_math_second_order(name):
    a = _pos(3, 4) if name == "xlogy" else _r(3, 4)
    b = _pos(3, 4) + 0.2 if name in ("xlogy", "hypot") else _r(3, 4)
    _case(lambda L, Fm, x, y: getattr(L, name)(x * 1.5, y), [a, b])


@pytest.mark.parametrize("name", ["atan2", "xlogy", "hypot"])
def test_binary_math_with_number_and_broadcast(name):
    a, b = _pos(3, 4), _pos(4) + 0.2
    # (a Python number for dlcore; torch's atan2/hypot take only tensors: a 0-d one there)
    num = {dl: 0.7, torch: torch.tensor(0.7, dtype=torch.float64)}
    _case(lambda L, Fm, x, y: getattr(L, name)(x, y) + getattr(L, name)(x, num[L]), [a, b])


def test_binary_math_gradgradcheck():
    a = dl.tensor(_r(2, 3), dtype=dl.float64, requires_grad=True)
    b = dl.tensor(_pos(2, 3), dtype=dl.float64, requires_grad=True)
    assert gradgradcheck(lambda a, b: dl.atan2(a, b) + dl.hypot(a, b) + dl.logaddexp(a, b * 2), [a, b])
    assert gradgradcheck(lambda a, b: dl.xlogy(b, b + a * a), [a, b])


def test_digamma_polygamma_chain():
    x = _pos(3, 4) + 0.5
    _case(lambda L, Fm, x: x.digamma(), [x])
    _case(lambda L, Fm, x: x.lgamma() * x, [x])
    _case(lambda L, Fm, x: L.special.polygamma(1, x), [x])
    # third order through lgamma -> digamma -> trigamma -> polygamma(2)
    xs = []
    for lib in (dl, torch):
        t = lib.tensor(x, dtype=lib.float64)
        t.requires_grad_(True)
        (g,) = lib.autograd.grad(t.lgamma().sum(), t, create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), t, create_graph=True)
        (k,) = lib.autograd.grad(h.sum(), t)
        xs.append(_np(k))
    np.testing.assert_allclose(xs[0], xs[1], rtol=1e-8)


def test_logit_and_nan_to_num():
    p = R.uniform(0.05, 0.95, (3, 4))
    _case(lambda L, Fm, x: L.logit(x), [p])
    _case(lambda L, Fm, x: L.logit(x, eps=0.2), [p])
    _case(lambda L, Fm, x: L.nan_to_num(x * x), [_r(3, 4)])


def test_prod_second_order_with_and_without_zeros():
    a = _r(3, 5)
    _case(lambda L, Fm, x: x.prod(1), [a])
    _case(lambda L, Fm, x: x.prod(0, keepdim=True), [a])
    _case(lambda L, Fm, x: x.prod(), [a[:2]])
    z = a.copy()
    z[0, 1] = 0.0
    z[1, 2] = z[1, 4] = 0.0
    _case(lambda L, Fm, x: x.prod(1), [z])
    x = dl.tensor(z, dtype=dl.float64, requires_grad=True)
    assert gradgradcheck(lambda x: x.prod(1), [x])


# ------------------------------------------------------------------------------------------------- indexing

I2 = np.array([[0, 2, 1, 3], [1, 3, 0, 2]])


@pytest.mark.parametrize("kind", ["src", "value", "add"])
def test_scatter_second_order(kind):
    def f(L, Fm, x, s):
        idx = L.tensor(I2)
        if kind == "src":
            return (x * x).scatter(0, idx, s * s)
        if kind == "value":
            return (x * s).scatter(0, idx, 1.5)
        return (x * x).scatter_add(0, idx, s.sin())
    _case(f, [_r(4, 4), _r(2, 4)] if kind != "value" else [_r(4, 4), _r(4, 4)])


def test_scatter_src_larger_than_index_gradgradcheck():
    # (torch's own double backward rejects this case: its gradient for src has the index's shape)
    x = dl.tensor(_r(2, 3), dtype=dl.float64, requires_grad=True)
    s = dl.tensor(_r(3, 4), dtype=dl.float64, requires_grad=True)
    idx = dl.tensor(np.array([[0, 2], [1, 1]]))
    assert gradgradcheck(lambda x, s: dl.scatter_add(x * x, 1, idx, s * s) ** 2, [x, s])
    uniq = dl.tensor(np.array([[0, 2], [1, 0]]))  # (scatter with a repeated index keeps one write: no gradient)
    assert gradgradcheck(lambda x, s: dl.scatter(x * x, 1, uniq, s * s) ** 2, [x, s])


@pytest.mark.parametrize("kind", ["index_put", "index_put_acc", "index_copy", "index_fill", "masked_scatter", "put",
                                  "setitem_adv", "setitem_basic", "max_unpool2d"])
def test_index_put_family_second_order(kind):
    mask = np.arange(12).reshape(4, 3) % 3 == 0

    def f(L, Fm, x, v):
        if kind == "index_put":
            return (x * x).index_put((L.tensor([3, 1]),), v[:2] * v[:2])
        if kind == "index_put_acc":
            return (x * x).index_put((L.tensor([3, 1, 3]),), v * v, accumulate=True)
        if kind == "index_copy":
            return (x * x).index_copy(0, L.tensor([3, 1]), v[:2].exp())
        if kind == "index_fill":
            return (x * v).index_fill(0, L.tensor([3, 1]), 2.0)
        if kind == "masked_scatter":
            return (x * x).masked_scatter(L.tensor(mask), (v * v).reshape(-1))
        if kind == "put":
            return (x * x).put(L.tensor([0, 5, 11]), v[0] * v[0])
        if kind in ("setitem_adv", "setitem_basic"):
            y = x * x
            if kind == "setitem_adv":
                y[L.tensor([2, 0])] = v[:2] * v[:2]
            else:
                y[1:3, ::2] = (v[:2, :2] * 3).sin()
            return y
        out, idx = Fm.max_pool2d((x * v).reshape(1, 1, 4, 3), 2, return_indices=True)
        return Fm.max_unpool2d(out * out, idx, 2, output_size=(4, 3))
    _case(f, [_r(4, 3), _r(4, 3) if kind in ("index_fill", "max_unpool2d") else _r(3, 3)])


def test_as_strided_and_unfold_second_order():
    # overlapping windows: the gradient sums over repeated elements
    _case(lambda L, Fm, x: L.as_strided(x * x, (3, 3), (2, 1), 1), [_r(12)])
    _case(lambda L, Fm, x: (x * 2).unfold(0, 3, 2).exp(), [_r(10)])
    x = dl.tensor(_r(8), dtype=dl.float64, requires_grad=True)
    assert gradgradcheck(lambda x: dl.as_strided(x * x, (3, 2), (2, 3), 0), [x])


# ------------------------------------------------------------------------------------------------- nn

def test_inplace_ops_on_views_second_order():
    """An in-place op on a view rebases its base's history (CopySlices): both parts differentiate again."""
    def f(L, Fm, x, w):
        y = x * 1
        y[1:3, 1:].add_(w[:, 1:] ** 2)
        y[1:3].mul_(w)
        y[:, 0].exp_()
        return y
    _case(f, [_r(4, 3), _r(2, 3)])


def test_local_response_norm_second_order():
    _case(lambda L, Fm, x: Fm.local_response_norm(x, 3, alpha=0.3, beta=0.75, k=1.5), [_r(2, 5, 3, 2)])
    _case(lambda L, Fm, x: Fm.local_response_norm(x, 2, alpha=0.5), [_r(2, 4, 5)])
    x = dl.tensor(_r(1, 4, 2, 2), dtype=dl.float64, requires_grad=True)
    assert gradgradcheck(lambda x: F.local_response_norm(x, 3, alpha=0.5), [x])


@pytest.mark.parametrize("cfg", [dict(padding=1), dict(stride=2, padding=(0, 1, 1)), dict(dilation=2, groups=2)])
def test_conv3d_second_order(cfg):
    g = cfg.get("groups", 1)
    _case(lambda L, Fm, x, w, b: Fm.conv3d(x, w, b, **cfg),
          [_r(2, 2 * g, 5, 5, 4), _r(3 * g, 2, 2, 3, 2) * 0.5, _r(3 * g)])


@pytest.mark.parametrize("cfg", [dict(stride=2), dict(stride=2, padding=1, output_padding=1), dict(groups=2),
                                 dict(output_padding=1, dilation=2),  # output_padding >= stride: the other path
                                 dict(stride=(1, 2, 1), padding=(1, 0, 0), output_padding=(1, 1, 0), dilation=(2, 1, 1))])
def test_conv_transpose3d_second_order(cfg):
    _case(lambda L, Fm, x, w, b: Fm.conv_transpose3d(x, w, b, **cfg),
          [_r(1, 4, 3, 3, 2), _r(4, 2, 2, 3, 2) * 0.5, _r(2 * cfg.get("groups", 1))])


def test_max_pool3d_second_order():
    _case(lambda L, Fm, x: Fm.max_pool3d(x * x, 2), [_r(1, 2, 4, 4, 4)])
    _case(lambda L, Fm, x: Fm.max_pool3d(x, 3, 2, 1), [_r(1, 2, 5, 4, 5)])
    _case(lambda L, Fm, x: Fm.adaptive_max_pool3d(x, 2), [_r(1, 2, 5, 4, 3)])


# ------------------------------------------------------------------------------------------------- recurrent

H = 3


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
def test_recurrent_cells_functional_second_order(cell):
    g = {"lstm": 4, "gru": 3}.get(cell, 1)
    rng = np.random.default_rng(17)  # (its own numbers: relu units must be active for a second derivative)
    arrays = [rng.standard_normal(s) for s in [(2, 4), (2, H), (2, H), (g * H, 4), (g * H, H), (g * H,), (g * H,)]]
    arrays[3:5] = [a * 0.6 for a in arrays[3:5]]
    arrays[5] = arrays[5] + 0.5

    def f(L, Fm, x, h, c, wi, wh, bi, bh):
        fn = getattr(Fm if L is dl else torch, cell + "_cell")
        if cell == "lstm":
            return fn(x, (h, c), wi, wh, bi, bh)
        return fn(x, h, wi, wh, bi, bh) + c * 0  # (c unused)
    _case(f, arrays)


def _module_case(make, x_shape, out=lambda o: o, hx=None):
    """nn module with torch's parameters: the input and every parameter are the differentiated tensors."""
    tm = make(torch.nn).double()
    sd = {k: v.detach().numpy().copy() for k, v in tm.state_dict().items()}
    xa = _r(*x_shape)

    def build(lib, fn):
        if lib is torch:
            m = tm
        else:
            m = make(dl.nn).double()
            m.load_state_dict({k: dl.tensor(v, dtype=dl.float64) for k, v in sd.items()})
        (x,) = _leaves(lib, [xa])
        y = m(x) if hx is None else m(x, hx(lib))
        return out(y), [x] + list(m.parameters())
    _compare(build)


@pytest.mark.parametrize("kind", ["LSTMCell", "GRUCell", "RNNCell"])
def test_recurrent_cell_modules_second_order(kind):
    _module_case(lambda nn: getattr(nn, kind)(4, H), (2, 4), out=lambda o: o if kind != "LSTMCell" else o[0] + o[1])


@pytest.mark.parametrize("cfg", [("LSTM", dict()), ("LSTM", dict(num_layers=2, bidirectional=True)),
                                 ("GRU", dict(batch_first=True)), ("GRU", dict(num_layers=2, bias=False)),
                                 ("RNN", dict(nonlinearity="relu", bidirectional=True)), ("RNN", dict())])
def test_recurrent_stacks_second_order(cfg):
    kind, kw = cfg
    shape = (2, 4, 3) if kw.get("batch_first") else (4, 2, 3)
    _module_case(lambda nn: getattr(nn, kind)(3, H, **kw), shape,
                 out=lambda o: (o[0], o[1][0] if kind == "LSTM" else o[1]))


def test_lstm_with_initial_state_requiring_grad():
    D = 2
    h0, c0 = _r(D, 2, H), _r(D, 2, H)

    def build(lib, fn):
        torch.manual_seed(0)
        tm = torch.nn.LSTM(3, H, bidirectional=True).double()
        sd = {k: v.detach().numpy().copy() for k, v in tm.state_dict().items()}
        if lib is torch:
            m = tm
        else:
            m = dl.nn.LSTM(3, H, bidirectional=True).double()
            m.load_state_dict({k: dl.tensor(v, dtype=dl.float64) for k, v in sd.items()})
        x, h, c = _leaves(lib, [np.linspace(-1, 1, 30).reshape(5, 2, 3), h0, c0])
        out, (hn, cn) = m(x * x, (h.tanh(), c))  # non-leaf inputs: their history takes the second order on
        return (out, hn, cn), [x, h, c] + list(m.parameters())
    _compare(build)


def test_packed_lstm_second_order():
    from dlcore.nn.utils.rnn import pack_padded_sequence as dpack
    from torch.nn.utils.rnn import pack_padded_sequence as tpack
    torch.manual_seed(1)
    tm = torch.nn.LSTM(3, H).double()
    sd = {k: v.detach().numpy().copy() for k, v in tm.state_dict().items()}
    xa = _r(4, 3, 3)

    def build(lib, fn):
        if lib is torch:
            m, pack = tm, tpack
        else:
            m, pack = dl.nn.LSTM(3, H).double(), dpack
            m.load_state_dict({k: dl.tensor(v, dtype=dl.float64) for k, v in sd.items()})
        (x,) = _leaves(lib, [xa])
        out, (hn, cn) = m(pack(x, lib.tensor([4, 3, 2]), enforce_sorted=True))
        return (out.data, hn), [x] + list(m.parameters())
    _compare(build)


def test_lstm_cell_gradgradcheck():
    ps = [dl.tensor(a, dtype=dl.float64, requires_grad=True)
          for a in (_r(2, 3), _r(2, 2), _r(2, 2), _r(8, 3) * 0.5, _r(8, 2) * 0.5)]
    assert gradgradcheck(lambda x, h, c, wi, wh: F.lstm_cell(x, (h, c), wi, wh), ps)
    qs = [dl.tensor(a, dtype=dl.float64, requires_grad=True) for a in (_r(3, 2, 2), _r(6, 2) * 0.5, _r(6, 2) * 0.5)]
    assert gradgradcheck(lambda x, wi, wh: F.gru(x, dl.zeros(1, 2, 2, dtype=dl.float64), [wi, wh], False)[0], qs)


def test_first_order_unchanged_by_the_double_backward_forms():
    """A plain backward (no create_graph) still gives the kernel's gradient, recording nothing."""
    x = dl.tensor(_r(3, 2, 3), dtype=dl.float64, requires_grad=True)
    m = dl.nn.GRU(3, H).double()
    out, hn = m(x)
    out.sum().backward()
    assert not x.grad.requires_grad and all(not p.grad.requires_grad for p in m.parameters())
    y = dl.atan2(x, x * 2 + 3).sum() + F.hardswish(x).sum() + x.prod()
    (g,) = dl.autograd.grad(y, x)
    assert g.grad_fn is None and not g.requires_grad


def test_create_graph_gradient_of_kernel_path_still_raises_where_not_implemented():
    """An op without a double backward (scatter_reduce's mean here) still gives the right first gradient under
    create_graph and raises, naming the op, only when that gradient is differentiated."""
    x = dl.tensor(_r(4, 3), dtype=dl.float64, requires_grad=True)
    idx = np.array([[0, 2, 1], [3, 3, 0]])
    (g,) = dl.autograd.grad((x.scatter_reduce(0, dl.tensor(idx), x[:2] * x[:2], "mean") ** 2).sum(), x,
                            create_graph=True)
    xt = torch.tensor(x.detach().numpy(), requires_grad=True)
    (gt,) = torch.autograd.grad((xt.scatter_reduce(0, torch.tensor(idx), xt[:2] * xt[:2], "mean") ** 2).sum(), xt)
    np.testing.assert_allclose(_np(g), gt.numpy(), rtol=1e-10)
    with pytest.raises(RuntimeError, match="ScatterReduceBackward: double backward.*not implemented"):
        dl.autograd.grad(g.sum(), x)


def test_cumsum_second_order():
    _case(lambda L, Fm, x: (x * x).cumsum(1), [_r(3, 5)])
    _case(lambda L, Fm, x: x.cumsum(0).sin(), [_r(4, 2)])


@pytest.mark.parametrize("kw", [dict(padding_idx=4), dict(scale_grad_by_freq=True),
                                dict(padding_idx=0, scale_grad_by_freq=True)])
def test_embedding_padding_and_scale_second_order(kw):
    idx = np.array([[0, 4, 4], [1, 2, 0]])
    _case(lambda L, Fm, w: Fm.embedding(L.tensor(idx), w * w, **kw), [_r(5, 3)])
    # and against central differences of the first-gradient function (independent of torch)
    w = dl.tensor(_r(5, 3), dtype=dl.float64, requires_grad=True)
    assert gradgradcheck(lambda w: F.embedding(dl.tensor(idx), w, **kw) ** 2, [w])


def test_lstm_same_tensor_as_h0_and_c0():
    """One tensor passed as both h0 and c0: its second-order gradient gets both uses once (not twice)."""
    def build(lib, fn):
        torch.manual_seed(3)
        tm = torch.nn.LSTMCell(3, 2).double()
        sd = {k: v.detach().numpy().copy() for k, v in tm.state_dict().items()}
        if lib is torch:
            m = tm
        else:
            m = dl.nn.LSTMCell(3, 2).double()
            m.load_state_dict({k: dl.tensor(v, dtype=dl.float64) for k, v in sd.items()})
        x, h = _leaves(lib, [np.linspace(-1, 1, 6).reshape(2, 3), np.linspace(-1, 0.5, 4).reshape(2, 2)])
        return m(x, (h, h)), [x, h]
    _compare(build)


def test_lstm_stack_with_dropout_between_layers_gradgradcheck():
    """Training-mode dropout between layers: the composite reuses the forward's masks (the seed is fixed so that
    every evaluation of the function draws the same masks)."""
    rng = np.random.default_rng(9)
    x = dl.tensor(rng.standard_normal((3, 2, 2)), dtype=dl.float64, requires_grad=True)
    params = [dl.tensor(rng.standard_normal(s) * 0.7, dtype=dl.float64) for s in [(8, 2), (8, 2), (8,), (8,)] * 2]
    params[4].requires_grad_(True)  # layer 1's input weights

    def f(x, w):
        dl.manual_seed(0)
        ps = params[:4] + [w] + params[5:]
        out, hn, cn = F.lstm(x, None, ps, True, 2, 0.5, True, False, False)
        return out, cn
    assert gradgradcheck(f, [x, params[4]])


def test_setitem_with_broadcast_values_second_order():
    def f(L, Fm, x, v, s):
        y = x * x
        y[L.tensor([2, 0])] = v * v  # [3] broadcast over two rows
        y[1:3, 1] = s.exp()  # 0-d over a column
        return y
    _case(f, [_r(4, 3), _r(3), np.array(0.3)])


def test_attention_and_transformer_layer_second_order_vs_torch_math_backend():
    """(torch's fused CPU attention has no double backward: its math backend is the reference)"""
    attention = pytest.importorskip("torch.nn.attention")
    rng = np.random.default_rng(4)
    with attention.sdpa_kernel(attention.SDPBackend.MATH):
        _case(lambda L, Fm, q, k, v: Fm.scaled_dot_product_attention(q, k, v, scale=0.3, is_causal=True),
              [rng.standard_normal((1, 2, 3, 4)) for _ in range(3)])
        _module_case(lambda nn: nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, batch_first=True), (2, 3, 4))


# ------------------------------------------------------------------------------------------------- scans, lerp

def test_cumprod_logcumsumexp_second_order():
    z = np.array([[1.5, 0.0, -2.0, 0.7, 0.0], [0.3, -1.2, 0.8, 2.0, 1.1]])
    _case(lambda L, Fm, x: x.cumprod(-1), [z])  # zeros, one or two per row
    _case(lambda L, Fm, x: (x * x).cumprod(0), [_r(5, 3)])
    _case(lambda L, Fm, x: x.logcumsumexp(1), [_r(3, 7) * 3])
    x = dl.tensor(z, dtype=dl.float64, requires_grad=True)
    assert gradgradcheck(lambda x: x.cumprod(1), [x])


def test_lerp_second_order():
    _case(lambda L, Fm, a, b, w: L.lerp(a * a, b, w * w), [_r(3, 4), _r(3, 4), _r(3, 4) * 0.5])
    _case(lambda L, Fm, a, b: L.lerp(a * a, b * a, 0.3), [_r(3, 4), _r(4)])
    _case(lambda L, Fm, x: L.quantile(x * x, 0.3, dim=1), [_r(3, 5)])


@pytest.mark.parametrize("op", ["diag_embed", "diagonal_scatter", "select_scatter", "slice_scatter", "median"])
def test_view_scatters_and_median_second_order(op):
    def f(L, Fm, x, s):
        if op == "diag_embed":
            return L.diag_embed(s * s)
        if op == "diagonal_scatter":
            return L.diagonal_scatter(x * x, s * s)
        if op == "select_scatter":
            return L.select_scatter(x * x, s.exp(), 0, 1)
        if op == "slice_scatter":
            return L.slice_scatter(x * x, (s * s)[:2].reshape(2, 1).expand(2, 3), 0, 1, 3)
        return (x * s).median() ** 2
    _case(f, [_r(3, 3), _r(3)])


# ------------------------------------------------------------------------------------------------- linalg

def _spd(n, seed):
    a = np.random.default_rng(seed).standard_normal((n, n))
    return a @ a.T + n * np.eye(n)


@pytest.mark.parametrize("op", ["det", "slogdet", "inv", "solve", "solve_vec", "cholesky", "cholesky_upper",
                                "solve_triangular", "qr", "eigh", "svdvals", "svd", "pinv", "matrix_exp", "lstsq",
                                "lu_solve_B"])
def test_linalg_second_order(op):
    def f(L, Fm, a, b):
        la = L.linalg
        if op == "det":
            return la.det(a)
        if op == "slogdet":
            return la.slogdet(a)[1]
        if op == "inv":
            return la.inv(a)
        if op == "solve":
            return la.solve(a, b)
        if op == "solve_vec":
            return la.solve(a, b[:, 0])
        if op in ("cholesky", "cholesky_upper"):
            return la.cholesky(a @ a.mT + 3 * L.eye(3, dtype=L.float64), upper=op == "cholesky_upper")
        if op == "solve_triangular":
            return la.solve_triangular(a.triu() + 3 * L.eye(3, dtype=L.float64), b, upper=True)
        if op == "qr":
            q, r = la.qr(a)
            return q.sum() + (r * r).sum()
        if op == "eigh":
            w, v = la.eigh(a @ a.mT)
            return w.sum() + (v.abs() * b[:, :1]).sum()
        if op == "svdvals":
            return la.svdvals(a)
        if op == "svd":
            u, s, vh = la.svd(a, full_matrices=False)
            return s.sum() + (u.abs() * b[:, :1]).sum()
        if op == "pinv":
            return la.pinv(a[:, :2])
        if op == "matrix_exp":
            return la.matrix_exp(a * 0.3)
        if op == "lstsq":
            return la.lstsq(a, b).solution
        lu, piv = la.lu_factor(a.detach())
        return la.lu_solve(lu, piv, b * b)
    a = _spd(3, 1) if op in ("det", "slogdet", "inv", "solve", "solve_vec", "lu_solve_B") else _r(3, 3)
    _case(f, [a, _r(3, 2)], rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("ord", [1, 2, 3, 1.5, float("inf"), -float("inf")])
def test_vector_norm_second_order(ord):
    _case(lambda L, Fm, x: L.linalg.vector_norm(x, ord, dim=1), [_r(3, 4)])
    _case(lambda L, Fm, x: L.linalg.norm(x * x), [_r(3, 4)])
