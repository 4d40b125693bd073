"""Higher-order gradients (create_graph=True): gradients of gradients against torch's, in float64.

Each case builds the same function in dlcore and torch from the same numbers, takes the first gradients with
create_graph=True, forms a scalar from them (a gradient penalty, a Hessian-vector product), differentiates that,
and compares every second-order gradient with torch's.
"""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _pair(arrays, requires_grad=True):
    d = [dl.tensor(a, dtype=dl.float64, requires_grad=requires_grad) for a in arrays]
    t = [torch.tensor(a, dtype=torch.float64, requires_grad=requires_grad) for a in arrays]
    return d, t


def _np(x):
    return None if x is None else (x.detach().numpy() if hasattr(x, "detach") else x.numpy())


def _second_order(fd, ft, arrays, weights=None, rtol=1e-9, atol=1e-11):
    """Compares d/dinputs sum_i <v_i, d f / d input_i> (v fixed random) and the first gradients themselves."""
    rng = np.random.default_rng(7)
    xd, xt = _pair(arrays)
    yd, yt = fd(*xd), ft(*xt)
    gd = dl.autograd.grad(yd, xd, create_graph=True)
    gt = torch.autograd.grad(yt, xt, create_graph=True)
    for a, b in zip(gd, gt):
        np.testing.assert_allclose(_np(a), _np(b), rtol=rtol, atol=atol)
    vs = [rng.standard_normal(a.shape) for a in arrays]
    sd = sum((g * dl.tensor(v, dtype=dl.float64)).sum() for g, v in zip(gd, vs))
    st = sum((g * torch.tensor(v, dtype=torch.float64)).sum() for g, v in zip(gt, vs))
    hd = dl.autograd.grad(sd, xd, allow_unused=True)
    ht = torch.autograd.grad(st, xt, allow_unused=True)
    for i, (a, b) in enumerate(zip(hd, ht)):
        if b is None:
            assert a is None or np.allclose(_np(a), 0.0), i
            continue
        assert a is not None, f"input {i}: dlcore returned no second-order gradient"
        np.testing.assert_allclose(_np(a), _np(b), rtol=rtol, atol=atol, err_msg=f"input {i}")


R = np.random.default_rng(0)


def _r(*shape, lo=None):
    a = R.standard_normal(shape)
    return np.abs(a) + lo if lo is not None else a


@pytest.mark.parametrize("name", ["matmul_tanh", "mul_div_exp", "pow_log", "linear_sigmoid", "views_norm",
                                  "reductions", "where_clamp", "maximum", "indexing", "cat_stack", "sqrt_rsqrt"])
def test_math_second_order(name):
    cases = {
        "matmul_tanh": (lambda x, w: (x @ w).tanh().sum(), [(4, 3), (3, 5)]),
        "mul_div_exp": (lambda x, w: (x * w).exp().mean() + (x / (w * w + 1)).sum(), [(4, 3), (4, 3)]),
        "pow_log": (lambda x, w: (x.abs() + 1).log().pow(3).sum() + (x * x).pow(w.abs() + 0.5).sum(),
                    [(2, 5), (2, 5)]),
        "linear_sigmoid": (None, [(4, 3), (5, 3), (5,)]),
        "views_norm": (lambda x: x.reshape(2, 6).t().sum(0).log1p().sum() + x.norm() + x.permute(1, 0).sin().sum(),
                       [(3, 4)]),
        "reductions": (lambda x: x.logsumexp(1).sum() + x.var(0).sum() + x.std() + x.amax(1).sum(), [(4, 5)]),
        "where_clamp": (lambda x: (x.clamp(-0.5, 0.7) ** 2).sum() + (x * x * x).where(x > 0, x.cos()).sum(),
                        [(4, 5)]),
        "maximum": (lambda x, y: (x.maximum(y) ** 3).sum() + (x.max(1).values ** 2).sum(), [(4, 5), (4, 5)]),
        "indexing": (lambda x: (x[1:, ::2] ** 3).sum() + (x[[0, 2, 2]].sin()).sum() + (x[2] ** 4).sum(),
                     [(4, 5)]),
        "cat_stack": (None, [(2, 3), (4, 3)]),
        "sqrt_rsqrt": (lambda x: (x * x + 1).sqrt().sum() + (x * x + 1).rsqrt().sum() + x.erf().sum() +
                       x.sigmoid().sum(), [(3, 4)]),
    }
    fn, shapes = cases[name]
    arrays = [_r(*s) for s in shapes]
    if name == "linear_sigmoid":
        _second_order(lambda x, w, b: F.linear(x, w, b).sigmoid().pow(3).sum(),
                      lambda x, w, b: TF.linear(x, w, b).sigmoid().pow(3).sum(), arrays)
    elif name == "cat_stack":
        _second_order(lambda a, b: (dl.cat([a, b * b], 0) ** 3).sum(),
                      lambda a, b: (torch.cat([a, b * b], 0) ** 3).sum(), arrays)
    else:
        _second_order(fn, fn, arrays)


def test_gather_index_select_second_order():
    idx = np.array([[0, 2, 1], [3, 3, 0]])
    _second_order(lambda x: (x.gather(1, dl.tensor(idx)) ** 3).sum() +
                  (x.index_select(1, dl.tensor([1, 1, 4])).exp()).sum(),
                  lambda x: (x.gather(1, torch.tensor(idx)) ** 3).sum() +
                  (x.index_select(1, torch.tensor([1, 1, 4])).exp()).sum(), [_r(2, 5)])


@pytest.mark.parametrize("act", ["relu", "leaky_relu", "elu", "sigmoid", "tanh", "gelu", "gelu_tanh", "softplus",
                                 "hardtanh", "silu", "mish", "logsigmoid"])
def test_activation_second_order(act):
    fns = {
        "relu": (F.relu, TF.relu), "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
        "elu": (lambda x: F.elu(x, 1.3), lambda x: TF.elu(x, 1.3)), "sigmoid": (F.sigmoid, torch.sigmoid),
        "tanh": (F.tanh, torch.tanh), "gelu": (F.gelu, TF.gelu),
        "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh")),
        "softplus": (lambda x: F.softplus(x, 2.0, 3.0), lambda x: TF.softplus(x, 2.0, 3.0)),
        "hardtanh": (lambda x: F.hardtanh(x, -0.5, 0.8), lambda x: TF.hardtanh(x, -0.5, 0.8)),
        "silu": (F.silu, TF.silu), "mish": (F.mish, TF.mish), "logsigmoid": (F.logsigmoid, TF.logsigmoid),
    }
    fd, ft = fns[act]
    x = _r(4, 6) * 2
    x[np.abs(x) < 1e-3] = 0.5  # away from relu's kink
    # the activation feeds a quadratic so that its second derivative and its first both matter
    _second_order(lambda x, w: (fd(x * w) ** 2).sum(), lambda x, w: (ft(x * w) ** 2).sum(), [x, _r(4, 6)])


@pytest.mark.parametrize("log", [False, True])
def test_softmax_second_order(log):
    fd = F.log_softmax if log else F.softmax
    ft = TF.log_softmax if log else TF.softmax
    _second_order(lambda x, v: (fd(x, 1) * v).sum() ** 2, lambda x, v: (ft(x, 1) * v).sum() ** 2,
                  [_r(3, 5), _r(3, 5)])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("variant", ["plain", "weight", "ignore", "smoothing", "nll"])
def test_cross_entropy_second_order(reduction, variant):
    t = np.array([1, 0, 3, 3, 2])
    tw = np.abs(_r(4)) + 0.5
    kw = {"weight": None, "ignore_index": -100, "label_smoothing": 0.0}
    if variant == "weight":
        kw["weight"] = tw
    if variant == "ignore":
        kw["ignore_index"] = 3
    if variant == "smoothing":
        kw["label_smoothing"] = 0.2
        kw["weight"] = tw

    def mk(lib, fn):
        w = None if kw["weight"] is None else lib.tensor(kw["weight"], dtype=lib.float64)
        tt = lib.tensor(t)

        def f(x):
            if variant == "nll":
                out = fn.nll_loss(fn.log_softmax(x * x, 1), tt, reduction=reduction)
            else:
                out = fn.cross_entropy(x * x, tt, weight=w, ignore_index=kw["ignore_index"],
                                       label_smoothing=kw["label_smoothing"], reduction=reduction)
            return (out * out).sum() if reduction == "none" else out
        return f

    _second_order(mk(dl, F), mk(torch, TF), [_r(5, 4)])


@pytest.mark.parametrize("loss", ["mse", "l1", "smooth_l1", "huber", "bce", "bce_logits", "bce_logits_pw"])
def test_pointwise_loss_second_order(loss):
    x = _r(3, 4)
    y = _r(3, 4)
    if loss == "bce":
        x = 1 / (1 + np.exp(-x))
        y = 1 / (1 + np.exp(-y))
    pw = np.abs(_r(4)) + 0.5

    def mk(lib, fn):
        def f(x, y):
            if loss == "mse":
                return fn.mse_loss(x * x, y) ** 2
            if loss == "l1":
                return fn.l1_loss(x * x, y, reduction="sum") ** 2
            if loss == "smooth_l1":
                return fn.smooth_l1_loss(x * x, y, beta=0.7) ** 2
            if loss == "huber":
                return fn.huber_loss(x * x, y, delta=0.6, reduction="sum") ** 2
            if loss == "bce":
                return fn.binary_cross_entropy(x, y) ** 2
            p = None if loss == "bce_logits" else lib.tensor(pw, dtype=lib.float64)
            return fn.binary_cross_entropy_with_logits(x * x, y, pos_weight=p) ** 2
        return f

    _second_order(mk(dl, F), mk(torch, TF), [x, y], rtol=1e-8)


@pytest.mark.parametrize("cfg", [dict(stride=1, padding=1), dict(stride=2, padding=0), dict(stride=1, padding=2,
                                                                                             dilation=2),
                                 dict(stride=1, padding=1, groups=2)])
def test_conv2d_second_order(cfg):
    groups = cfg.get("groups", 1)
    x, w, b = _r(2, 4, 7, 6), _r(3 * groups, 4 // groups, 3, 3) * 0.5, _r(3 * groups)
    _second_order(lambda x, w, b: (F.conv2d(x, w, b, **cfg) ** 2).sum(),
                  lambda x, w, b: (TF.conv2d(x, w, b, **cfg) ** 2).sum(), [x, w, b])


@pytest.mark.parametrize("cfg", [dict(stride=1, padding=1), dict(stride=2, padding=1, output_padding=1),
                                 dict(stride=2, padding=0, dilation=2, output_padding=1, groups=2)])
def test_conv_transpose2d_second_order(cfg):
    groups = cfg.get("groups", 1)
    x, w, b = _r(2, 4, 5, 4), _r(4, 3, 3, 3) * 0.5, _r(3 * groups)
    _second_order(lambda x, w, b: (F.conv_transpose2d(x, w, b, **cfg) ** 2).sum(),
                  lambda x, w, b: (TF.conv_transpose2d(x, w, b, **cfg) ** 2).sum(), [x, w, b])


def test_conv1d_second_order():
    _second_order(lambda x, w: (F.conv1d(x, w, padding=1).tanh() ** 2).sum(),
                  lambda x, w: (TF.conv1d(x, w, padding=1).tanh() ** 2).sum(), [_r(2, 3, 9), _r(4, 3, 3)])


@pytest.mark.parametrize("pool", ["max", "avg", "adaptive", "max_pad"])
def test_pool_second_order(pool):
    fd = {"max": lambda x: F.max_pool2d(x, 2), "avg": lambda x: F.avg_pool2d(x, 3, 2, 1),
          "adaptive": lambda x: F.adaptive_avg_pool2d(x, (2, 3)),
          "max_pad": lambda x: F.max_pool2d(x, 3, 2, 1)}[pool]
    ft = {"max": lambda x: TF.max_pool2d(x, 2), "avg": lambda x: TF.avg_pool2d(x, 3, 2, 1),
          "adaptive": lambda x: TF.adaptive_avg_pool2d(x, (2, 3)),
          "max_pad": lambda x: TF.max_pool2d(x, 3, 2, 1)}[pool]
    _second_order(lambda x: (fd(x * x) ** 3).sum(), lambda x: (ft(x * x) ** 3).sum(), [_r(2, 3, 6, 6)])


def test_dropout_second_order_reuses_mask():
    dl.manual_seed(3)
    x = dl.tensor(_r(50, 40), dtype=dl.float64, requires_grad=True)
    y = F.dropout(x, 0.4)
    (g,) = dl.autograd.grad((y ** 3).sum(), x, create_graph=True)
    (h,) = dl.autograd.grad(g.sum(), x)
    mask = (y.detach().numpy() != 0).astype(float) / 0.6
    xn = x.detach().numpy()
    # y = m x: d/dx sum (m x)^3 = 3 m^3 x^2; its derivative summed: 6 m^3 x
    np.testing.assert_allclose(g.detach().numpy(), 3 * mask ** 3 * xn ** 2, rtol=1e-12)
    np.testing.assert_allclose(h.numpy(), 6 * mask ** 3 * xn, rtol=1e-12)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_second_order(mode):
    _second_order(lambda x: (F.pad(x * x, (1, 2, 2, 1), mode=mode) ** 3).sum(),
                  lambda x: (TF.pad(x * x, (1, 2, 2, 1), mode=mode) ** 3).sum(), [_r(2, 3, 4, 5)])


def test_embedding_second_order():
    idx = np.array([[0, 3, 3], [2, 1, 0]])
    _second_order(lambda w: (F.embedding(dl.tensor(idx), w) ** 3).sum(),
                  lambda w: (TF.embedding(torch.tensor(idx), w) ** 3).sum(), [_r(5, 4)])


def _mlp(lib, fn, x, params, t):
    w1, b1, w2, b2 = params
    h = fn.linear(x, w1, b1).tanh()
    return fn.cross_entropy(fn.linear(h, w2, b2), t)


def test_hessian_vector_product_of_mlp_loss():
    """Hessian-vector product of a classifier's loss w.r.t. all its parameters (the double-backward trick)."""
    x, t = _r(8, 5), R.integers(0, 3, 8)
    arrays = [_r(6, 5) * 0.5, _r(6), _r(3, 6) * 0.5, _r(3)]
    vs = [_r(*a.shape) for a in arrays]
    res = []
    for lib, fn in ((dl, F), (torch, TF)):
        ps = [lib.tensor(a, dtype=lib.float64, requires_grad=True) for a in arrays]
        loss = _mlp(lib, fn, lib.tensor(x, dtype=lib.float64), ps, lib.tensor(t))
        gs = lib.autograd.grad(loss, ps, create_graph=True)
        dot = sum((g * lib.tensor(v, dtype=lib.float64)).sum() for g, v in zip(gs, vs))
        res.append([_np(h) for h in lib.autograd.grad(dot, ps)])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_gradient_penalty_convnet_backward_create_graph():
    """WGAN-GP style: penalty (|d critic / d x| - 1)^2, backpropagated into the critic's parameters through
    conv, leaky_relu, max_pool and linear; .backward(create_graph=True) first, as users write it."""
    x = _r(3, 2, 8, 8)
    arrays = [_r(4, 2, 3, 3) * 0.4, _r(4), _r(1, 36) * 0.3, _r(1)]
    res = []
    for lib, fn in ((dl, F), (torch, TF)):
        ps = [lib.tensor(a, dtype=lib.float64, requires_grad=True) for a in arrays]
        xi = lib.tensor(x, dtype=lib.float64, requires_grad=True)
        h = fn.max_pool2d(fn.leaky_relu(fn.conv2d(xi, ps[0], ps[1], padding=1), 0.2), 2)
        h = fn.avg_pool2d(h, 2, 1, 0)
        out = fn.linear(h.reshape(3, -1), ps[2], ps[3]).sum()
        out.backward(create_graph=True)
        gx = xi.grad
        assert gx.requires_grad
        pen = ((gx.reshape(3, -1) ** 2).sum(1).sqrt() - 1) ** 2
        for p in ps:
            p.grad = None
        pen.sum().backward()
        # (a bias has no second-order effect here: None or zeros, depending on how a backward is written)
        res.append([np.zeros(p.shape) if p.grad is None else _np(p.grad) for p in ps])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-11)
    assert np.abs(res[0][0]).max() > 1e-3  # the conv weight's does matter


def test_third_order():
    x = dl.tensor([0.3, -1.2, 2.0], dtype=dl.float64, requires_grad=True)
    y = (x ** 4).sum() + x.sin().sum()
    (g,) = dl.autograd.grad(y, x, create_graph=True)
    (h,) = dl.autograd.grad(g.sum(), x, create_graph=True)
    (k,) = dl.autograd.grad(h.sum(), x)
    xn = np.array([0.3, -1.2, 2.0])
    np.testing.assert_allclose(g.detach().numpy(), 4 * xn ** 3 + np.cos(xn), rtol=1e-13)
    np.testing.assert_allclose(h.detach().numpy(), 12 * xn ** 2 - np.sin(xn), rtol=1e-13)
    np.testing.assert_allclose(k.numpy(), 24 * xn - np.cos(xn), rtol=1e-13)


def test_create_graph_retains_graph_and_plain_backward_records_nothing():
    x = dl.tensor([1.0, 2.0], dtype=dl.float64, requires_grad=True)
    y = (x ** 3).sum()
    (g,) = dl.autograd.grad(y, x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    (g2,) = dl.autograd.grad(y, x)  # the graph was retained
    np.testing.assert_allclose(g2.numpy(), [3.0, 12.0])
    assert not g2.requires_grad
    z = (x ** 3).sum()
    z.backward()
    assert not x.grad.requires_grad


def _cube(wrong=False):
    """A user Function x^3 whose backward is written with ordinary ops (wrong: one factor detached, so its
    second derivative misses a term)."""
    class Cube(dl.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * (x.detach() if wrong else x) * x
    return Cube


def test_user_function_backward_is_differentiated():
    Cube = _cube()
    x = dl.tensor([0.5, -2.0], dtype=dl.float64, requires_grad=True)
    (g,) = dl.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    (h,) = dl.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), [3.0, -12.0])


def test_saved_output_history():
    """exp saves its output: the double backward must flow through that output back to the input."""
    x = dl.tensor([0.1, 0.7], dtype=dl.float64, requires_grad=True)
    (g,) = dl.autograd.grad(x.exp().sum(), x, create_graph=True)
    (h,) = dl.autograd.grad((g * g).sum(), x)
    np.testing.assert_allclose(h.numpy(), 2 * np.exp(2 * np.array([0.1, 0.7])), rtol=1e-13)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_second_order(training):
    rm, rv = _r(3), np.abs(_r(3)) + 0.5

    def mk(lib, fn):
        def f(x, w, b):
            m = lib.tensor(rm, dtype=lib.float64)
            v = lib.tensor(rv, dtype=lib.float64)
            return (fn.batch_norm(x * x, m, v, w, b, training=training) ** 3).sum()
        return f

    _second_order(mk(dl, F), mk(torch, TF), [_r(4, 3, 2, 2), _r(3), _r(3)], rtol=1e-8)
    _second_order(lambda x: (F.batch_norm(x, None, None, training=True) ** 3).sum(),
                  lambda x: (TF.batch_norm(x, None, None, training=True) ** 3).sum(), [_r(5, 3)], rtol=1e-8)


def test_layer_norm_second_order():
    _second_order(lambda x, w, b: (F.layer_norm(x * x, [2, 3], w, b) ** 3).sum(),
                  lambda x, w, b: (TF.layer_norm(x * x, [2, 3], w, b) ** 3).sum(), [_r(4, 2, 3), _r(2, 3), _r(2, 3)],
                  rtol=1e-8)


def test_op_without_double_backward_raises_on_second_order_only():
    x = dl.tensor(_r(4, 5), dtype=dl.float64, requires_grad=True)
    t = np.array([1, 0, 4, 2])
    y = F.multi_margin_loss(x * x, dl.tensor(t), reduction="none")
    (g,) = dl.autograd.grad((y ** 2).sum(), x, create_graph=True)
    xt = torch.tensor(x.detach().numpy(), requires_grad=True)
    (gt,) = torch.autograd.grad((TF.multi_margin_loss(xt * xt, torch.tensor(t), reduction="none") ** 2).sum(), xt)
    np.testing.assert_allclose(g.detach().numpy(), gt.numpy(), rtol=1e-9, atol=1e-12)  # first order is right
    with pytest.raises(RuntimeError, match="MultiMarginBackward: double backward.*not implemented"):
        dl.autograd.grad(g.sum(), x)


# ------------------------------------------------------------------------------------------ autograd.functional

def _both(fn_name, f, arrays, *extra, **kw):
    from dlcore.autograd import functional as DAF
    import torch.autograd.functional as TAF
    xd = tuple(dl.tensor(a, dtype=dl.float64) for a in arrays)
    xt = tuple(torch.tensor(a, dtype=torch.float64) for a in arrays)
    ed = tuple(dl.tensor(e, dtype=dl.float64) for e in extra)
    et = tuple(torch.tensor(e, dtype=torch.float64) for e in extra)
    if len(arrays) == 1:
        xd, xt = xd[0], xt[0]
    if len(extra) == 1:
        ed, et = ed[0], et[0]
    args_d = (f, xd) + ((ed,) if extra else ())
    args_t = (f, xt) + ((et,) if extra else ())
    return getattr(DAF, fn_name)(*args_d, **kw), getattr(TAF, fn_name)(*args_t, **kw)


def _assert_nested(a, b, rtol=1e-10):
    if isinstance(b, (tuple, list)):
        assert isinstance(a, (tuple, list)) and len(a) == len(b)
        for x, y in zip(a, b):
            _assert_nested(x, y, rtol)
        return
    np.testing.assert_allclose(_np(a), _np(b), rtol=rtol, atol=1e-12)


def test_functional_jacobian_and_hessian():
    a, b = _r(3, 4), _r(4)

    def f(x, y):
        return (x * y).tanh().sum(1), (x ** 2).sum()

    def g(x, y):
        return ((x * y).sin() ** 2).sum() + (y ** 3).sum()

    _assert_nested(*_both("jacobian", f, [a, b]))
    _assert_nested(*_both("jacobian", lambda x: x.exp() * x.sum(), [b]))
    _assert_nested(*_both("hessian", g, [a, b]))
    _assert_nested(*_both("hessian", lambda x: (x.sigmoid() ** 2).sum(), [b]))


def test_functional_products():
    a, v3, v34 = _r(3, 4), _r(3), _r(3, 4)

    def g(x):
        return ((x * x).sum(1).exp() / 10).sum()

    _assert_nested(*_both("vjp", lambda x: (x * x).sum(1), [a], v3))
    _assert_nested(*_both("jvp", lambda x: (x * x).sum(1).exp(), [a], v34))
    _assert_nested(*_both("hvp", g, [a], v34))
    _assert_nested(*_both("vhp", g, [a], v34))


def test_functional_strict_and_errors():
    from dlcore.autograd.functional import jacobian, hessian, vjp
    x = dl.tensor(_r(3), dtype=dl.float64)
    y = dl.tensor(_r(2), dtype=dl.float64)
    with pytest.raises(RuntimeError, match="independent of input 1"):
        jacobian(lambda a, b: a * 2, (x, y), strict=True)
    j = jacobian(lambda a, b: a * 2, (x, y))
    assert np.all(j[1].numpy() == 0) and tuple(j[1].shape) == (3, 2)
    with pytest.raises(RuntimeError, match="single element"):
        hessian(lambda a: a * 2, x)
    with pytest.raises(RuntimeError, match="v can only be None"):
        vjp(lambda a: a * 2, x)
    with pytest.raises(TypeError, match="inputs must be a Tensor"):
        jacobian(lambda a: a, [1.0, 2.0])


def test_gradgradcheck_finite_differences():
    from dlcore.testing import gradgradcheck
    x = dl.tensor(_r(2, 2, 5, 5), dtype=dl.float64, requires_grad=True)
    w = dl.tensor(_r(3, 2, 3, 3) * 0.5, dtype=dl.float64, requires_grad=True)
    assert gradgradcheck(lambda x, w: F.softplus(F.conv2d(x, w, padding=1)).tanh(), [x, w])
    a = dl.tensor(_r(3, 4), dtype=dl.float64, requires_grad=True)
    assert gradgradcheck(lambda a: F.log_softmax(a * a, 1) + a.exp().pow(1.5), [a])
    with pytest.raises(AssertionError):  # a wrong second derivative is caught
        gradgradcheck(lambda a: _cube(wrong=True).apply(a), [a])


def test_second_order_on_device(device):
    """The MLP Hessian-vector product and a conv gradient penalty on each device (cpu, and cuda where built)."""
    x, t = _r(6, 5), R.integers(0, 3, 6)
    arrays = [_r(4, 5) * 0.5, _r(4), _r(3, 4) * 0.5, _r(3)]
    vs = [_r(*a.shape) for a in arrays]
    xa, wa = _r(2, 2, 6, 6), _r(3, 2, 3, 3)
    res = []
    for dev in ("cpu", device):
        ps = [dl.tensor(a, dtype=dl.float64, device=dev, requires_grad=True) for a in arrays]
        loss = _mlp(dl, F, dl.tensor(x, dtype=dl.float64, device=dev), ps, dl.tensor(t, device=dev))
        gs = dl.autograd.grad(loss, ps, create_graph=True)
        dot = sum((g * dl.tensor(v, dtype=dl.float64, device=dev)).sum() for g, v in zip(gs, vs))
        res.append([h.cpu().numpy() for h in dl.autograd.grad(dot, ps)])
        xi = dl.tensor(xa, dtype=dl.float32, device=dev, requires_grad=True)
        w = dl.tensor(wa, dtype=dl.float32, device=dev, requires_grad=True)
        (gx,) = dl.autograd.grad(F.max_pool2d(F.relu(F.conv2d(xi, w, padding=1)), 2).sum(), xi, create_graph=True)
        (gw,) = dl.autograd.grad((gx * gx).sum(), w)
        res.append([gw.cpu().numpy()])
    for a, b in zip(res[0] + res[1], res[2] + res[3]):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)


def test_layer_norm_parameter_gradients_keep_their_shape():
    """(first order) a multi-dim layer_norm weight used again elsewhere: the kernel's flat [d] gradient used to
    fail to add up with the other use's [2, 3] one."""
    x, w = _r(4, 2, 3), _r(2, 3)
    res = []
    for lib, fn in ((dl, F), (torch, TF)):
        xx = lib.tensor(x, dtype=lib.float64, requires_grad=True)
        ww = lib.tensor(w, dtype=lib.float64, requires_grad=True)
        bb = lib.tensor(w[::-1].copy(), dtype=lib.float64, requires_grad=True)
        ((fn.layer_norm(xx, [2, 3], ww, bb) * ww).sum() + (bb * bb).sum()).backward()
        res.append([_np(t.grad) for t in (xx, ww, bb)])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", ["asin", "acos", "atan", "sinh", "cosh", "tan", "asinh", "acosh", "atanh", "erfc",
                                  "erfinv", "lgamma", "sinc", "deg2rad", "expm1", "log2", "reciprocal", "rsqrt"])
def test_unary_math_second_order(name):
    x = R.uniform(0.1, 0.8, (3, 4))
    if name == "acosh":
        x = x + 1.2
    if name in ("lgamma", "reciprocal", "rsqrt"):
        x = x + 0.5
    _second_order(lambda x: (getattr(x, name)() ** 2).sum(), lambda x: (getattr(x, name)() ** 2).sum(), [x],
                  rtol=1e-8)


def test_binary_math_op_second_order_raises_clearly():
    """ops whose backward is not written for double backward (here scatter_reduce's prod and amax) raise on the
    second order (atan2, digamma, ...: test_double_backward2.py)."""
    x = dl.tensor(_r(3) + 2, dtype=dl.float64, requires_grad=True)
    idx = dl.tensor([0, 1, 0])
    for f in (lambda x: (x * 2).scatter_reduce(0, idx, x * x, "prod"),
              lambda x: (x * 2).scatter_reduce(0, idx, x * x, "amax")):
        (g,) = dl.autograd.grad(f(x).sum(), x, create_graph=True)
        with pytest.raises(RuntimeError, match="double backward"):
            dl.autograd.grad(g.sum(), x)


@pytest.mark.parametrize("out_f,in_f", [(0, 8), (5, 0)])
def test_linear_with_zero_features_backward(out_f, in_f):
    """(first order) F.linear with out_features or in_features 0: the backward's reshape used -1 with a 0 size"""
    x = dl.tensor(_r(3, 2, in_f), dtype=dl.float64, requires_grad=True)
    w = dl.tensor(_r(out_f, in_f), dtype=dl.float64, requires_grad=True)
    b = dl.tensor(_r(out_f), dtype=dl.float64, requires_grad=True)
    (F.linear(x, w, b).sum() + x.sum()).backward()
    assert tuple(x.grad.shape) == (3, 2, in_f) and tuple(w.grad.shape) == (out_f, in_f)
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((3, 2, in_f)))  # only x.sum() reaches x
    np.testing.assert_array_equal(b.grad.numpy(), np.full(out_f, 6.0))
