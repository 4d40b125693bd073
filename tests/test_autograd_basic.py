"""Autograd over the foundation's ops: float64 finite-difference checks, reused nodes, deep chains, grad()."""
import numpy as np
import pytest

import dlcore
from dlcore.testing import assert_close, gradcheck


def _x(rng, *shape, positive=False):
    a = rng.standard_normal(shape)
    if positive:
        a = np.abs(a) + 0.5
    return dlcore.from_numpy(a).requires_grad_()


UNARY = ["exp", "tanh", "sigmoid", "sin", "cos", "neg", "square", "erf", "expm1"]
POSITIVE = ["log", "sqrt", "rsqrt", "reciprocal", "log1p", "log2", "log10"]


@pytest.mark.parametrize("op", UNARY + POSITIVE + ["abs"])
def test_unary_gradcheck(op, rng):
    x = _x(rng, 3, 4, positive=op in POSITIVE)
    gradcheck(getattr(dlcore, op), [x])


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "minimum", "pow"])
def test_binary_broadcast_gradcheck(op, rng):
    a = _x(rng, 3, 1, 4, positive=op == "pow")
    b = _x(rng, 5, 1, positive=op in ("div", "pow"))
    gradcheck(getattr(dlcore, op), [a, b])
    gradcheck(lambda u: getattr(dlcore, op)(u, 1.7), [a])
    if op != "pow":
        gradcheck(lambda u: getattr(dlcore, op)(2.5, u), [b])


def test_reduction_gradchecks(rng):
    x = _x(rng, 3, 4, 5)
    gradcheck(lambda t: t.sum((0, 2)), [x])
    gradcheck(lambda t: t.mean(1, keepdim=True), [x])
    gradcheck(lambda t: t.var(2), [x])
    gradcheck(lambda t: t.std(), [x])
    gradcheck(lambda t: dlcore.logsumexp(t, 1), [x])
    gradcheck(lambda t: t.amax(1), [x])
    gradcheck(lambda t: t.max(2).values, [x])
    gradcheck(lambda t: t.prod(1), [x])
    gradcheck(lambda t: t.norm(), [x])
    z = dlcore.tensor([[1.0, 0.0, 2.0], [3.0, 4.0, 0.0]], dtype=dlcore.float64, requires_grad=True)
    gradcheck(lambda t: t.prod(1), [z])


def test_view_gradchecks(rng):
    x = _x(rng, 2, 3, 4)
    gradcheck(lambda t: t.reshape(6, 4) * 2, [x])
    gradcheck(lambda t: t.permute(2, 0, 1).contiguous(), [x])
    gradcheck(lambda t: t.transpose(0, 2)[1:, ::2], [x])
    gradcheck(lambda t: t[:, 1].unsqueeze(0).expand(3, 2, 4), [x])
    gradcheck(lambda t: t[None, ..., 0], [x])
    gradcheck(lambda t: t.flatten(1).t(), [x])
    gradcheck(lambda t: t.clamp(-0.3, 0.4), [x])
    gradcheck(lambda t: dlcore.where(t > 0, t, t * 3), [x])


def test_matmul_linear_gradchecks(rng):
    a, b = _x(rng, 2, 3, 4), _x(rng, 4, 5)
    gradcheck(dlcore.matmul, [a, b])
    v = _x(rng, 4)
    gradcheck(dlcore.matmul, [a, v])
    gradcheck(dlcore.matmul, [v, b])
    gradcheck(dlcore.matmul, [v, _x(rng, 4)])
    w, bias = _x(rng, 6, 4), _x(rng, 6)
    gradcheck(dlcore.linear, [a, w, bias])
    gradcheck(lambda m1, m2: dlcore.matmul(m1, m2), [_x(rng, 3, 1, 2, 4), _x(rng, 5, 4, 2)])


def test_reused_nodes_micrograd_style():
    a = dlcore.tensor(3.0, dtype=dlcore.float64, requires_grad=True)
    b = a + a
    c = b * b
    c.backward()
    assert a.grad.item() == pytest.approx(24.0)  # c = (2a)^2 = 4a^2 -> dc/da = 8a
    x = dlcore.tensor(2.0, dtype=dlcore.float64, requires_grad=True)
    y = x * 3
    d = y * y + y.exp()  # diamond: y used twice
    d.backward()
    assert x.grad.item() == pytest.approx(2 * 6 * 3 + np.exp(6) * 3)


def test_grad_accumulates_and_weight_tying():
    w = dlcore.ones(3, requires_grad=True)
    (w * 2).sum().backward()
    (w * 3).sum().backward()
    assert w.grad.tolist() == [5.0, 5.0, 5.0]
    w.grad = None
    x = dlcore.tensor([1.0, 2.0, 3.0])
    ((x * w).sum() + (w * w).sum()).backward()
    assert w.grad.tolist() == [3.0, 4.0, 5.0]


def test_deep_chain_no_recursion_limit():
    x = dlcore.tensor(1.0, dtype=dlcore.float64, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1e-6
    y.backward()
    assert x.grad.item() == 1.0


def test_no_grad_enable_grad_and_decorator():
    x = dlcore.ones(2, requires_grad=True)
    with dlcore.no_grad():
        y = x * 2
        assert not y.requires_grad
        with dlcore.enable_grad():
            assert (x * 2).requires_grad

    @dlcore.no_grad()
    def f(t):
        return t * 3

    assert not f(x).requires_grad
    assert (x * 2).requires_grad
    dlcore.set_grad_enabled(False)
    assert not (x * 2).requires_grad
    dlcore.set_grad_enabled(True)


def test_detach_and_requires_grad_():
    x = dlcore.ones(2, requires_grad=True)
    y = (x * 2).detach()
    assert not y.requires_grad and y.grad_fn is None
    assert y.data_ptr() != x.data_ptr()
    z = x * 2
    assert z.grad_fn is not None and not z.is_leaf and x.is_leaf
    with pytest.raises(RuntimeError, match="leaf"):
        z.requires_grad_(False)


def test_autograd_grad_function():
    x = dlcore.tensor([1.0, 2.0], dtype=dlcore.float64, requires_grad=True)
    y = (x ** 3).sum()
    (g,) = dlcore.autograd.grad(y, x)
    assert_close(g, [3.0, 12.0])
    assert x.grad is None
    h = x * 2
    z = (h * h).sum()
    (gh,) = dlcore.autograd.grad(z, h)
    assert_close(gh, [4.0, 8.0])
    u = dlcore.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="not have been used"):
        dlcore.autograd.grad((x * 2).sum(), u)
    assert dlcore.autograd.grad((x * 2).sum(), [x, u], allow_unused=True)[1] is None


def test_retain_grad_and_hooks():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    seen = []
    y.register_hook(lambda g: seen.append(g.tolist()))
    x.register_hook(lambda g: g * 10)
    (y * y).sum().backward()
    assert y.grad.tolist() == [6.0, 12.0]
    assert seen == [[6.0, 12.0]]
    assert x.grad.tolist() == [180.0, 360.0]


def test_setitem_autograd():
    x = dlcore.tensor([1.0, 2.0, 3.0, 4.0], dtype=dlcore.float64, requires_grad=True)
    v = dlcore.tensor([10.0], dtype=dlcore.float64, requires_grad=True)
    y = x * 1
    y[1:3] = v * 2
    (y * dlcore.tensor([1.0, 2.0, 3.0, 4.0], dtype=dlcore.float64)).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 0.0, 4.0]
    assert v.grad.tolist() == [10.0]


def test_inplace_on_nonleaf_rebases_history():
    x = dlcore.tensor([1.0, 2.0], dtype=dlcore.float64, requires_grad=True)
    y = x * 2
    y.mul_(x)  # y = 2x * x
    y.add_(1)
    y.sum().backward()
    assert x.grad.tolist() == [4.0, 8.0]


def test_custom_function():
    class Cube(dlcore.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            ctx.save_for_backward(t)
            return t * t * t

        @staticmethod
        def backward(ctx, g):
            (t,) = ctx.saved_tensors
            return g * 3 * t * t

    x = dlcore.tensor([2.0], requires_grad=True)
    y = Cube.apply(x)
    assert y.grad_fn.name() == "CubeBackward"
    y.backward()
    assert x.grad.tolist() == [12.0]


def test_random_fills_refuse_leaf_requiring_grad():
    """uniform_/normal_/bernoulli_/random_ on a leaf that requires grad raise like torch (outside no_grad); under
    no_grad they fill; on a non-leaf they record (the old history gets a zero gradient, as in torch)."""
    import dlcore
    for m in ("uniform_", "normal_", "bernoulli_", "random_"):
        w = dlcore.zeros(4, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            getattr(w, m)()
        with dlcore.no_grad():
            getattr(w, m)()
        assert w.requires_grad and w.grad_fn is None
    w = dlcore.zeros(1000, requires_grad=True)
    with dlcore.no_grad():
        w.uniform_(2.0, 3.0)
    assert 2.0 <= float(w.min()) and float(w.max()) < 3.0
    x = dlcore.ones(3, requires_grad=True)
    y = x * 2
    y.normal_()
    assert y.grad_fn is not None
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(3, np.float32))


def test_backward_create_graph_warns_once():
    import warnings
    import dlcore
    from dlcore import autograd
    autograd._create_graph_warned = False
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        for _ in range(2):
            w = dlcore.ones(3, requires_grad=True)
            (w * w).sum().backward(create_graph=True)
        w = dlcore.ones(3, requires_grad=True)
        dlcore.autograd.grad((w * w).sum(), w, create_graph=True)
    msgs = [str(x.message) for x in ws if "reference cycle" in str(x.message)]
    assert len(msgs) == 1 and "create_graph=True" in msgs[0]
