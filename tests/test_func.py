"""dlcore.func against torch.func: grad/grad_and_value, vjp, jvp, jacrev, jacfwd, hessian, vmap and functional_call
on small float64 problems (values, nested derivatives, pytrees, has_aux, argnums tuples, errors), plus
per-sample gradients (vmap(grad)) and a MAML-style second-order step through functional_call."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.func as dfunc
import dlcore.nn.functional as F

torch = pytest.importorskip("torch")
tfunc = torch.func


def _np(x):
    if isinstance(x, np.ndarray):
        return x
    return x.detach().cpu().numpy() if hasattr(x, "cpu") else np.asarray(x)


def _d(a, device="cpu", requires_grad=False):
    return dl.tensor(np.asarray(a, dtype=np.float64), dtype=dl.float64, device=device, requires_grad=requires_grad)


def _t(a, requires_grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=requires_grad)


def _close(a, b, rtol=1e-9, atol=1e-11):
    """Recursively compares a dlcore pytree with a torch pytree (same container types, keys and values)."""
    if isinstance(b, torch.Tensor):
        assert isinstance(a, dl.Tensor), f"expected a dlcore Tensor, got {type(a)}"
        assert tuple(a.shape) == tuple(b.shape), (tuple(a.shape), tuple(b.shape))
        np.testing.assert_allclose(_np(a), _np(b), rtol=rtol, atol=atol)
    elif isinstance(b, dict):
        assert isinstance(a, dict) and list(a.keys()) == list(b.keys()), (a, b)
        for k in b:
            _close(a[k], b[k], rtol, atol)
    elif isinstance(b, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b), (type(a), type(b))
        for x, y in zip(a, b):
            _close(x, y, rtol, atol)
    else:
        assert a == b, (a, b)


def _same_error(fd, ft, exc, match):
    """dlcore and torch both raise exc (dlcore's message matching `match`)."""
    with pytest.raises(exc, match=match):
        fd()
    with pytest.raises(exc):
        ft()


R = np.random.default_rng(0)
A3 = R.standard_normal(3)
B3 = R.standard_normal(3)
M23 = R.standard_normal((2, 3))
W33 = R.standard_normal((3, 3))


def _f2(lib):
    # lib-agnostic: only tensor methods and operators
    def f(x, y):
        return (x.sin() * y.exp()).sum() + (x * x * y).sum()
    return f


# ------------------------------------------------------------------------------------------------- grad

def test_grad_values_argnums(device):
    xd, yd = _d(A3, device), _d(B3, device)
    xt, yt = _t(A3), _t(B3)
    for argnums in (0, 1, -1, (0, 1), (1, 0)):
        gd = dfunc.grad(_f2(dl), argnums=argnums)(xd, yd)
        gt = tfunc.grad(_f2(torch), argnums=argnums)(xt, yt)
        _close(gd, gt)
    gd, vd = dfunc.grad_and_value(_f2(dl), argnums=(0, 1))(xd, yd)
    gt, vt = tfunc.grad_and_value(_f2(torch), argnums=(0, 1))(xt, yt)
    _close(gd, gt)
    _close(vd, vt)
    assert not vd.requires_grad and not gd[0].requires_grad  # plain inputs: plain results, as torch


def test_grad_unused_input_is_zero(device):
    gd = dfunc.grad(lambda x, y: (x * 2).sum(), argnums=(0, 1))(_d(A3, device), _d(M23, device))
    gt = tfunc.grad(lambda x, y: (x * 2).sum(), argnums=(0, 1))(_t(A3), _t(M23))
    _close(gd, gt)
    # a constant output: zero gradient
    _close(dfunc.grad(lambda x: dl.tensor(1.0, dtype=dl.float64, device=device))(_d(A3, device)),
           tfunc.grad(lambda x: torch.tensor(1.0, dtype=torch.float64))(_t(A3)))


def test_grad_nested(device):
    def f(lib):
        return lambda x: (x ** 3 * x.sin()).sum()
    x = np.array(0.7)
    xd, xt = _d(x, device), _t(x)
    _close(dfunc.grad(dfunc.grad(f(dl)))(xd), tfunc.grad(tfunc.grad(f(torch)))(xt))
    _close(dfunc.grad(dfunc.grad(dfunc.grad(f(dl))))(xd), tfunc.grad(tfunc.grad(tfunc.grad(f(torch))))(xt))
    # vector: the gradient of a function of the gradient (a Hessian-vector product)
    v = R.standard_normal(3)
    gd = dfunc.grad(lambda a: (dfunc.grad(f(dl))(a) * _d(v, device)).sum())(_d(A3, device))
    gt = tfunc.grad(lambda a: (tfunc.grad(f(torch))(a) * _t(v)).sum())(_t(A3))
    _close(gd, gt)
    # an inner function closing over the outer variable
    gd = dfunc.grad(lambda a: dfunc.grad(lambda b: (a.sin() * b * b).sum())(_d(B3, device)).sum())(_d(A3, device))
    gt = tfunc.grad(lambda a: tfunc.grad(lambda b: (a.sin() * b * b).sum())(_t(B3)).sum())(_t(A3))
    _close(gd, gt)
    assert not gd.requires_grad


def test_grad_has_aux_and_pytrees(device):
    def f(lib):
        def loss(p, x):
            h = (p["w"] * x).sum() + p["b"][0] * p["b"][1].sum()
            return h * h, {"h": h, "xs": [x * 2]}
        return loss
    p = {"w": A3, "b": (np.array(0.3), B3)}
    pd = {"w": _d(p["w"], device), "b": (_d(p["b"][0], device), _d(p["b"][1], device))}
    pt = {"w": _t(p["w"]), "b": (_t(p["b"][0]), _t(p["b"][1]))}
    xd, xt = _d(B3, device), _t(B3)
    gd, auxd = dfunc.grad(f(dl), has_aux=True)(pd, xd)
    gt, auxt = tfunc.grad(f(torch), has_aux=True)(pt, xt)
    _close(gd, gt)
    _close(auxd, auxt)
    assert not auxd["h"].requires_grad
    (gd, (vd, auxd)) = dfunc.grad_and_value(f(dl), argnums=(0, 1), has_aux=True)(pd, xd)
    (gt, (vt, auxt)) = tfunc.grad_and_value(f(torch), argnums=(0, 1), has_aux=True)(pt, xt)
    _close(gd, gt)
    _close(vd, vt)
    _close(auxd, auxt)
    # list arguments keep their type
    gd = dfunc.grad(lambda ws: (ws[0] * ws[1]).sum())([_d(A3, device), _d(B3, device)])
    gt = tfunc.grad(lambda ws: (ws[0] * ws[1]).sum())([_t(A3), _t(B3)])
    _close(gd, gt)


def test_grad_composes_with_regular_autograd(device):
    """Inputs that require grad, non-leaf inputs and closures over tensors that require grad: the transform's result
    keeps the graph back to them, as torch's does."""
    f = lambda lib: (lambda x, w: ((x * w).tanh() * x).sum())  # noqa: E731
    ad, at = _d(A3, device, True), _t(A3, True)
    wd, wt = _d(B3, device, True), _t(B3, True)
    # x a non-leaf (a * 2), w closed over
    gd = dfunc.grad(lambda x: f(dl)(x, wd))(ad * 2)
    gt = tfunc.grad(lambda x: f(torch)(x, wt))(at * 2)
    _close(gd, gt)
    assert gd.requires_grad and gt.requires_grad
    (gd * gd).sum().backward()
    (gt * gt).sum().backward()
    _close(ad.grad, at.grad)
    _close(wd.grad, wt.grad)
    # the input is differentiated regardless of requires_grad, and its .grad is not touched
    xd = _d(A3, device, True)
    dfunc.grad(lambda x: (x ** 2).sum())(xd)
    assert xd.grad is None


def test_grad_inside_no_grad(device):
    with dl.no_grad():
        gd = dfunc.grad(lambda x: (x ** 3).sum())(_d(A3, device, True))
    with torch.no_grad():
        gt = tfunc.grad(lambda x: (x ** 3).sum())(_t(A3, True))
    _close(gd, gt)
    assert not gd.requires_grad and not gt.requires_grad


def test_grad_errors():
    xd, xt = _d(A3), _t(A3)
    _same_error(lambda: dfunc.grad(lambda x: x * 2)(xd), lambda: tfunc.grad(lambda x: x * 2)(xt),
                RuntimeError, "Expected f\\(\\*args\\) to return a scalar Tensor, got tensor with 1 dims")
    _same_error(lambda: dfunc.grad(lambda x: 1.0)(xd), lambda: tfunc.grad(lambda x: 1.0)(xt),
                RuntimeError, "to return a Tensor, got <class 'float'>")
    _same_error(lambda: dfunc.grad(lambda x: x.sum(), has_aux=True)(xd),
                lambda: tfunc.grad(lambda x: x.sum(), has_aux=True)(xt),
                RuntimeError, "should be a tuple: \\(output, aux\\)")
    for argnums, match in ((1, "Got argnum=1, but only 1 positional inputs"), ((), "argnums must be non-empty"),
                           ((0, 0), "argnums elements must be unique"), ("a", "argnums must be int or Tuple"),
                           ((0, "a"), "argnum must be int"), (-2, "Got argnum=-2")):
        _same_error(lambda: dfunc.grad(lambda x: x.sum(), argnums=argnums)(xd),
                    lambda: tfunc.grad(lambda x: x.sum(), argnums=argnums)(xt), RuntimeError, match)
    _same_error(lambda: dfunc.grad(lambda x: x.sum())(1.0), lambda: tfunc.grad(lambda x: x.sum())(1.0),
                ValueError, "must be Tensor, got <class 'float'>")
    _same_error(lambda: dfunc.grad(lambda x: x[0].sum())((xd, 2.0)),
                lambda: tfunc.grad(lambda x: x[0].sum())((xt, 2.0)), ValueError, "must be Tensor")
    _same_error(lambda: dfunc.grad(lambda x: (x.sum(), 1.0), has_aux=True)(xd),
                lambda: tfunc.grad(lambda x: (x.sum(), 1.0), has_aux=True)(xt),
                RuntimeError, "Expected tensors, got unsupported type")


# ------------------------------------------------------------------------------------------------- vjp / jvp

def _fvec(lib):
    def f(x, y):
        return (x.sin() * y, {"s": (x * y).sum(), "m": x * x})
    return f


def test_vjp(device):
    xd, yd, xt, yt = _d(A3, device), _d(B3, device), _t(A3), _t(B3)
    od, fnd = dfunc.vjp(_fvec(dl), xd, yd)
    ot, fnt = tfunc.vjp(_fvec(torch), xt, yt)
    _close(od, ot)
    for seed in (1, 2):  # vjp_fn can be called more than once
        r = np.random.default_rng(seed)
        c = (r.standard_normal(3), {"s": np.array(r.standard_normal()), "m": r.standard_normal(3)})
        cd = (_d(c[0], device), {"s": _d(c[1]["s"], device), "m": _d(c[1]["m"], device)})
        ct = (_t(c[0]), {"s": _t(c[1]["s"]), "m": _t(c[1]["m"])})
        rd, rt = fnd(cd), fnt(ct)
        assert isinstance(rd, tuple) and len(rd) == 2
        _close(rd, rt)
    # has_aux, one primal: the result is still a tuple
    od, fnd, auxd = dfunc.vjp(lambda x: (x.exp(), x * 3), xd, has_aux=True)
    ot, fnt, auxt = tfunc.vjp(lambda x: (x.exp(), x * 3), xt, has_aux=True)
    _close((od, auxd), (ot, auxt))
    _close(fnd(_d(B3, device)), fnt(_t(B3)))
    # errors
    _, fnd = dfunc.vjp(lambda x: (x * 2, x * 3), xd)
    _, fnt = tfunc.vjp(lambda x: (x * 2, x * 3), xt)
    _same_error(lambda: fnd(_d(A3, device)), lambda: fnt(_t(A3)), RuntimeError,
                "Expected pytree structure of cotangents to be the same")
    _same_error(lambda: fnd((_d(A3, device), _d(M23, device))), lambda: fnt((_t(A3), _t(M23))), RuntimeError,
                "Mismatch in shape")
    _same_error(lambda: dfunc.vjp(lambda x: 3, xd), lambda: tfunc.vjp(lambda x: 3, xt), RuntimeError,
                "return only tensors")


def test_vjp_of_vjp(device):
    """vjp_fn inside grad: the vjp is differentiated again (second order)."""
    def outer(lib, fn):
        def g(x):
            _, vf = fn(lambda a: (a ** 3).sin(), x)
            return (vf(x * 1.0)[0] ** 2).sum()
        return g
    _close(dfunc.grad(outer(dl, dfunc.vjp))(_d(A3, device)), tfunc.grad(outer(torch, tfunc.vjp))(_t(A3)))


def test_jvp(device):
    xd, yd, xt, yt = _d(A3, device), _d(B3, device), _t(A3), _t(B3)
    vx, vy = R.standard_normal(3), R.standard_normal(3)
    rd = dfunc.jvp(_fvec(dl), (xd, yd), (_d(vx, device), _d(vy, device)))
    rt = tfunc.jvp(_fvec(torch), (xt, yt), (_t(vx), _t(vy)))
    _close(rd, rt)
    # pytree primal, has_aux, an output independent of the input (zero tangent)
    fd = lambda p: ((p["a"] * p["b"]).tanh(), p["a"] * 0 + 1)  # noqa: E731
    pd = {"a": xd, "b": yd}
    pt = {"a": xt, "b": yt}
    td = {"a": _d(vx, device), "b": _d(vy, device)}
    tt = {"a": _t(vx), "b": _t(vy)}
    rd = dfunc.jvp(lambda p: (fd(p)[0], fd(p)), (pd,), (td,), has_aux=True)
    rt = tfunc.jvp(lambda p: (fd(p)[0], fd(p)), (pt,), (tt,), has_aux=True)
    _close(rd, rt)
    rd = dfunc.jvp(lambda x: dl.ones(2, dtype=dl.float64, device=device), (xd,), (xd,))
    rt = tfunc.jvp(lambda x: torch.ones(2, dtype=torch.float64), (xt,), (xt,))
    _close(rd, rt)
    # identity
    _close(dfunc.jvp(lambda x: x, (xd,), (yd,)), tfunc.jvp(lambda x: x, (xt,), (yt,)))
    # nested: the derivative of a jvp (forward-over-reverse by hand)
    gd = dfunc.grad(lambda x: dfunc.jvp(lambda a: (a.sin() * a).sum(), (x,), (yd,))[1])(xd)
    gt = tfunc.grad(lambda x: tfunc.jvp(lambda a: (a.sin() * a).sum(), (x,), (yt,))[1])(xt)
    _close(gd, gt)


def test_jvp_errors():
    xd, xt = _d(A3), _t(A3)
    _same_error(lambda: dfunc.jvp(lambda x: x, xd, (xd,)), lambda: tfunc.jvp(lambda x: x, xt, (xt,)), RuntimeError,
                "Expected primals to be a tuple")
    _same_error(lambda: dfunc.jvp(lambda x: x, (xd,), [xd]), lambda: tfunc.jvp(lambda x: x, (xt,), [xt]),
                RuntimeError, "same python structure")
    _same_error(lambda: dfunc.jvp(lambda x: x, (xd,), (_d(M23),)), lambda: tfunc.jvp(lambda x: x, (xt,), (_t(M23),)),
                RuntimeError, "shape")
    _same_error(lambda: dfunc.jvp(lambda x: x, (), ()), lambda: tfunc.jvp(lambda x: x, (), ()), RuntimeError,
                "Expected primals to contain at least one Tensor")
    _same_error(lambda: dfunc.jvp(lambda x: 1.0, (xd,), (xd,)), lambda: tfunc.jvp(lambda x: 1.0, (xt,), (xt,)),
                RuntimeError, "return only tensors")
    _same_error(lambda: dfunc.jvp(lambda x: x, (xd,), (xd,), has_aux=True),
                lambda: tfunc.jvp(lambda x: x, (xt,), (xt,), has_aux=True), RuntimeError, "\\(output, aux\\)")


# ------------------------------------------------------------------------------------------------- jacobians

@pytest.mark.parametrize("which", ["jacrev", "jacfwd"])
def test_jacobians(device, which):
    jd, jt = getattr(dfunc, which), getattr(tfunc, which)
    xd, yd, xt, yt = _d(A3, device), _d(M23, device), _t(A3), _t(M23)

    def f(x, y):
        return (y @ x).tanh(), {"s": (x * x).sum() * y.sum()}
    _close(jd(f)(xd, yd), jt(f)(xt, yt))
    _close(jd(f, argnums=1)(xd, yd), jt(f, argnums=1)(xt, yt))
    _close(jd(f, argnums=(1, 0))(xd, yd), jt(f, argnums=(1, 0))(xt, yt))
    # pytree input, has_aux
    g = lambda p: (p[0] * p[1].exp(), p[1] * 2)  # noqa: E731
    _close(jd(g, has_aux=True)((xd, _d(B3, device))), jt(g, has_aux=True)((xt, _t(B3))))
    # a single output element, an output independent of the input
    _close(jd(lambda x: x.sum())(xd), jt(lambda x: x.sum())(xt))
    _close(jd(lambda x: yd * 1.0)(xd), jt(lambda x: yt * 1.0)(xt))


def test_jacobian_nested_and_errors(device):
    xd, xt = _d(A3, device), _t(A3)
    f = lambda x: (x.sin() * x.sum()).exp()  # noqa: E731
    _close(dfunc.jacrev(dfunc.jacrev(f))(xd), tfunc.jacrev(tfunc.jacrev(f))(xt), rtol=1e-8)
    _close(dfunc.jacfwd(dfunc.jacrev(f))(xd), tfunc.jacfwd(tfunc.jacrev(f))(xt), rtol=1e-8)
    with pytest.raises(ValueError, match="chunk_size"):
        dfunc.jacrev(f, chunk_size=0)
    _same_error(lambda: dfunc.jacrev(lambda x: 1.0)(xd), lambda: tfunc.jacrev(lambda x: 1.0)(xt), RuntimeError,
                "return only tensors")
    _same_error(lambda: dfunc.jacfwd(f, randomness="x")(xd), lambda: tfunc.jacfwd(f, randomness="x")(xt), RuntimeError,
                "randomness")
    _same_error(lambda: dfunc.jacfwd(lambda x: x * dl.rand(3, dtype=dl.float64, device=device))(xd),
                lambda: tfunc.jacfwd(lambda x: x * torch.rand(3, dtype=torch.float64))(xt), RuntimeError,
                "randomness error mode")


def test_hessian(device):
    xd, yd, xt, yt = _d(A3, device), _d(B3, device), _t(A3), _t(B3)
    f = lambda x, y: ((x.sin() * y).sum() * (x * x).sum() + (x * y * y).sum())  # noqa: E731
    _close(dfunc.hessian(f)(xd, yd), tfunc.hessian(f)(xt, yt), rtol=1e-8)
    _close(dfunc.hessian(f, argnums=(0, 1))(xd, yd), tfunc.hessian(f, argnums=(0, 1))(xt, yt), rtol=1e-8)
    # against the explicit formula of a quadratic form: H = W + W^T
    W = _d(W33, device)
    h = dfunc.hessian(lambda x: (x * (W @ x)).sum())(xd)
    np.testing.assert_allclose(_np(h), W33 + W33.T, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------------------------- vmap

def test_vmap_in_out_dims(device):
    r = np.random.default_rng(3)
    a, b = r.standard_normal((4, 3)), r.standard_normal((3, 4))
    ad, bd, at, bt = _d(a, device), _d(b, device), _t(a), _t(b)
    f = lambda x, y: x * y.sum() + y  # noqa: E731
    _close(dfunc.vmap(f)(ad, ad), tfunc.vmap(f)(at, at))
    _close(dfunc.vmap(f, in_dims=(0, 1))(ad, bd), tfunc.vmap(f, in_dims=(0, 1))(at, bt))
    _close(dfunc.vmap(f, in_dims=(-2, -1))(ad, bd), tfunc.vmap(f, in_dims=(-2, -1))(at, bt))
    _close(dfunc.vmap(f, in_dims=(0, None))(ad, ad[0]), tfunc.vmap(f, in_dims=(0, None))(at, at[0]))
    _close(dfunc.vmap(f, out_dims=1)(ad, ad), tfunc.vmap(f, out_dims=1)(at, at))
    _close(dfunc.vmap(f, out_dims=-1)(ad, ad), tfunc.vmap(f, out_dims=-1)(at, at))
    # nested per-argument in_dims, pytree outputs with a pytree of out_dims, a non-tensor argument, kwargs
    rd = dfunc.vmap(lambda p, s, scale=1.0: {"a": p["x"] * s * scale, "b": [p["y"].sum(), p["x"] * 0]},
                    in_dims=({"x": 0, "y": 1}, None), out_dims={"a": 1, "b": [0, 0]})({"x": ad, "y": bd}, 2.0,
                                                                                        scale=3.0)
    rt = tfunc.vmap(lambda p, s, scale=1.0: {"a": p["x"] * s * scale, "b": [p["y"].sum(), p["x"] * 0]},
                    in_dims=({"x": 0, "y": 1}, None), out_dims={"a": 1, "b": [0, 0]})({"x": at, "y": bt}, 2.0,
                                                                                        scale=3.0)
    _close(rd, rt)
    # out_dims None for an unbatched output; a 0-d result per slice
    od = dfunc.vmap(lambda x: (x.sum(), dl.ones(2, dtype=dl.float64, device=device)), out_dims=(0, None))(ad)
    ot = tfunc.vmap(lambda x: (x.sum(), torch.ones(2, dtype=torch.float64)), out_dims=(0, None))(at)
    _close(od, ot)
    # tuple out_dims of length 1 for a single tensor (torch's edge case)
    _close(dfunc.vmap(lambda x: x * 2, out_dims=(1,))(ad), tfunc.vmap(lambda x: x * 2, out_dims=(1,))(at))
    # nested vmap: an outer product
    _close(dfunc.vmap(dfunc.vmap(lambda u, v: u * v, in_dims=(None, 0)), in_dims=(0, None))(ad[0], bd[0]),
           tfunc.vmap(tfunc.vmap(lambda u, v: u * v, in_dims=(None, 0)), in_dims=(0, None))(at[0], bt[0]))
    # a mapped dimension of size 0
    ed, et = _d(np.zeros((0, 3)), device), _t(np.zeros((0, 3)))
    assert tuple(dfunc.vmap(lambda x: x.sum() * 2)(ed).shape) == (0,)  # (torch's batching rule fails here)
    _close(dfunc.vmap(lambda x: x * 2, out_dims=1)(ed), tfunc.vmap(lambda x: x * 2, out_dims=1)(et))


def test_vmap_errors():
    xd, xt = _d(np.arange(6.0).reshape(2, 3)), _t(np.arange(6.0).reshape(2, 3))
    yd, yt = _d(np.zeros(3)), _t(np.zeros(3))
    cases = [
        (dict(in_dims=[0]), (xd,), (xt,), "expected `in_dims` to be int or a"),
        (dict(in_dims=None), (xd,), (xt,), "expected `in_dims` to be int or a"),
        (dict(in_dims=(0,)), (xd, yd), (xt, yt), "in_dims is not compatible with the structure"),
        (dict(), (xd, yd), (xt, yt), "Expected all tensors to have the same size in the mapped dimension"),
        (dict(in_dims=(None,)), (xd,), (xt,), "Expected at least one Tensor to vmap over"),
        (dict(in_dims=(1.5,)), (xd,), (xt,), "in_dim must be either an integer dimension or None"),
        (dict(in_dims=2), (xd,), (xt,), "expected in_dim to satisfy -2 <= in_dim < 2"),
        (dict(in_dims=0), (1.0,), (1.0,), "We cannot vmap over non-Tensor arguments"),
        (dict(in_dims=0), ((xd, 1.0),), ((xt, 1.0),), "We cannot vmap over non-Tensor arguments"),
        (dict(out_dims=None), (xd,), (xt,), "can not return a BatchedTensor when out_dim is None"),
        (dict(out_dims="a"), (xd,), (xt,), "`out_dims` must be an int, None or a python collection"),
        (dict(out_dims=[0, 1]), (xd,), (xt,), None),  # single tensor output, list out_dims: incompatible
    ]
    for kw, ad, at, match in cases:
        _same_error(lambda: dfunc.vmap(lambda *a: a[0] if isinstance(a[0], dl.Tensor) else a[0][0], **kw)(*ad),
                    lambda: tfunc.vmap(lambda *a: a[0] if isinstance(a[0], torch.Tensor) else a[0][0], **kw)(*at),
                    ValueError, match)
    _same_error(lambda: dfunc.vmap(lambda x: (x, x), out_dims=[0, 1])(xd),
                lambda: tfunc.vmap(lambda x: (x, x), out_dims=[0, 1])(xt), ValueError,
                "out_dims is not compatible with the structure of `outputs`")
    _same_error(lambda: dfunc.vmap(lambda x: 1.0)(xd), lambda: tfunc.vmap(lambda x: 1.0)(xt), ValueError,
                "must only return Tensors, got type <class 'float'>")
    _same_error(lambda: dfunc.vmap(lambda: 1.0)(), lambda: tfunc.vmap(lambda: 1.0)(), ValueError, "got no inputs")
    _same_error(lambda: dfunc.vmap(lambda x: x, randomness="x"), lambda: tfunc.vmap(lambda x: x, randomness="x"),
                RuntimeError, "Only allowed values for randomness are")
    _same_error(lambda: dfunc.vmap(lambda x: x, chunk_size=0), lambda: tfunc.vmap(lambda x: x, chunk_size=0),
                ValueError, "chunk_size should be None or greater than 0")
    with pytest.raises(IndexError, match="Dimension out of range"):
        dfunc.vmap(lambda x: x, out_dims=3)(xd)
    with pytest.raises(IndexError):
        tfunc.vmap(lambda x: x, out_dims=3)(xt)


def test_vmap_randomness(device):
    x = _d(np.zeros((3, 4)), device)
    f = lambda x: x + dl.rand(4, dtype=dl.float64, device=device)  # noqa: E731
    with pytest.raises(RuntimeError, match="randomness error mode"):
        dfunc.vmap(f)(x)
    same = _np(dfunc.vmap(f, randomness="same")(x))
    assert np.array_equal(same[0], same[1]) and np.array_equal(same[0], same[2])
    diff = _np(dfunc.vmap(f, randomness="different")(x))
    assert not np.array_equal(diff[0], diff[1])
    assert np.all((diff >= 0) & (diff < 1))


def test_vmap_inside_grad(device):
    r = np.random.default_rng(5)
    a = r.standard_normal((4, 3))
    wd, wt = _d(A3, device), _t(A3)
    gd = dfunc.grad(lambda w: dfunc.vmap(lambda row: (row * w).sin().sum())(_d(a, device) * w).sum())(wd)
    gt = tfunc.grad(lambda w: tfunc.vmap(lambda row: (row * w).sin().sum())(_t(a) * w).sum())(wt)
    _close(gd, gt)


# ------------------------------------------------------------------------------------------------- per-sample grads

def _linear_pair(device, n_in=3, n_out=2, seed=11):
    r = np.random.default_rng(seed)
    w, b = r.standard_normal((n_out, n_in)), r.standard_normal(n_out)
    md = dl.nn.Linear(n_in, n_out).double().to(device)
    mt = torch.nn.Linear(n_in, n_out).double()
    with dl.no_grad():
        md.weight.copy_(_d(w, device))
        md.bias.copy_(_d(b, device))
    with torch.no_grad():
        mt.weight.copy_(_t(w))
        mt.bias.copy_(_t(b))
    return md, mt


def test_per_sample_gradients(device):
    md, mt = _linear_pair(device)
    r = np.random.default_rng(12)
    x, y = r.standard_normal((5, 3)), r.standard_normal((5, 2))

    def loss(lib, fc, mse, model):
        def f(params, xi, yi):
            out = fc(model, params, (xi.unsqueeze(0),))
            return mse(out, yi.unsqueeze(0))
        return f
    pd = {k: v.detach() for k, v in md.named_parameters()}
    pt = {k: v.detach() for k, v in mt.named_parameters()}
    gd = dfunc.vmap(dfunc.grad(loss(dl, dfunc.functional_call, F.mse_loss, md)), in_dims=(None, 0, 0))(
        pd, _d(x, device), _d(y, device))
    gt = tfunc.vmap(tfunc.grad(loss(torch, tfunc.functional_call, torch.nn.functional.mse_loss, mt)),
                    in_dims=(None, 0, 0))(pt, _t(x), _t(y))
    _close(gd, gt)
    assert tuple(gd["weight"].shape) == (5, 2, 3)
    # the per-sample gradients average to the batch gradient
    xb, yb = _d(x, device), _d(y, device)
    F.mse_loss(md(xb), yb, reduction="sum").backward()
    np.testing.assert_allclose(_np(gd["weight"]).sum(0) * 2, _np(md.weight.grad), rtol=1e-9, atol=1e-11)
    # the module's own parameters are untouched
    assert md.weight is dict(md.named_parameters())["weight"]


def test_maml_second_order(device):
    """A MAML step: the outer gradient goes through an inner gradient step taken with functional_call."""
    md, mt = _linear_pair(device, seed=21)
    r = np.random.default_rng(22)
    x, y = r.standard_normal((4, 3)), r.standard_normal((4, 2))

    def outer(fc, gradf, mse, model, xs, ys):
        def inner_loss(p):
            return mse(fc(model, p, (xs,)), ys)

        def meta_loss(p):
            g = gradf(inner_loss)(p)
            fast = {k: p[k] - 0.1 * g[k] for k in p}
            return mse(fc(model, fast, (xs * 2,)), ys)
        return meta_loss
    pd = {k: v.detach() for k, v in md.named_parameters()}
    pt = {k: v.detach() for k, v in mt.named_parameters()}
    gd = dfunc.grad(outer(dfunc.functional_call, dfunc.grad, F.mse_loss, md, _d(x, device), _d(y, device)))(pd)
    gt = tfunc.grad(outer(tfunc.functional_call, tfunc.grad, torch.nn.functional.mse_loss, mt, _t(x), _t(y)))(pt)
    _close(gd, gt)


# ------------------------------------------------------------------------------------------------- functional_call

def _seq_pair(device, seed=31):
    r = np.random.default_rng(seed)
    md = dl.nn.Sequential(dl.nn.Linear(3, 4), dl.nn.ReLU(), dl.nn.BatchNorm1d(4), dl.nn.Linear(4, 2)).double()
    md = md.to(device)
    mt = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.BatchNorm1d(4),
                             torch.nn.Linear(4, 2)).double()
    sd = {}
    for k, v in mt.state_dict().items():
        a = r.standard_normal(tuple(v.shape)) if v.dtype == torch.float64 else v.numpy()
        if k.endswith("running_var"):
            a = np.abs(a) + 0.5
        sd[k] = a
    mt.load_state_dict({k: torch.tensor(v) for k, v in sd.items()})
    md.load_state_dict({k: (_d(v, device) if v.dtype == np.float64 else dl.tensor(v, device=device))
                        for k, v in sd.items()})
    return md, mt


def _state(m):
    return {k: _np(v).copy() for k, v in list(m.named_parameters()) + list(m.named_buffers())}


@pytest.mark.parametrize("train", [False, True])
def test_functional_call_sequential(device, train):
    md, mt = _seq_pair(device)
    md.train(train)
    mt.train(train)
    before_d = _state(md)
    objs = {k: v for k, v in list(md.named_parameters()) + list(md.named_buffers())}
    r = np.random.default_rng(32)
    new = {k: r.standard_normal(v.shape) for k, v in before_d.items() if not k.endswith("num_batches_tracked")}
    new["2.running_var"] = np.abs(new["2.running_var"]) + 0.5
    x = r.standard_normal((5, 3))
    pd = {k: _d(v, device) for k, v in new.items()}
    pt = {k: _t(v) for k, v in new.items()}
    od = dfunc.functional_call(md, pd, (_d(x, device),))
    ot = tfunc.functional_call(mt, pt, (_t(x),))
    _close(od, ot)
    # the module's own tensors are back (same objects, same values; num_batches_tracked, not given, counts the
    # training call in place, as torch's)
    for k, v in list(md.named_parameters()) + list(md.named_buffers()):
        assert v is objs[k], k
        if k.endswith("num_batches_tracked"):
            assert int(_np(v)) == int(mt.state_dict()[k]) == int(before_d[k]) + train
        else:
            np.testing.assert_array_equal(_np(v), before_d[k])
    # in training mode BatchNorm updated the given running statistics in place, as torch's
    _close({k: pd[k] for k in ("2.running_mean", "2.running_var")},
           {k: pt[k] for k in ("2.running_mean", "2.running_var")})
    # parameters only (buffers from the module), as two dicts; a single tensor as args
    params_d = {k: pd[k] for k, _ in md.named_parameters()}
    params_t = {k: pt[k] for k, _ in mt.named_parameters()}
    half = len(params_d) // 2
    kd = list(params_d)
    od = dfunc.functional_call(md, ({k: params_d[k] for k in kd[:half]}, {k: params_d[k] for k in kd[half:]}),
                               _d(x, device))
    ot = tfunc.functional_call(mt, params_t, _t(x))
    _close(od, ot)
    # gradients w.r.t. the given parameters (eval mode: torch refuses BatchNorm's in-place buffer update under grad)
    md.eval()
    mt.eval()
    gd = dfunc.grad(lambda p: dfunc.functional_call(md, p, (_d(x, device),)).sum())(params_d)
    gt = tfunc.grad(lambda p: tfunc.functional_call(mt, p, (_t(x),)).sum())(params_t)
    _close(gd, gt, rtol=1e-8)


def test_functional_call_restores_after_exception(device):
    md, _ = _seq_pair(device)
    objs = dict(list(md.named_parameters()) + list(md.named_buffers()))
    before = _state(md)
    pd = {k: _d(np.ones(v.shape), device) for k, v in before.items() if not k.endswith("num_batches_tracked")}
    with pytest.raises(Exception):
        dfunc.functional_call(md, pd, (_d(np.ones((5, 7)), device),))  # wrong feature count: Linear raises
    for k, v in list(md.named_parameters()) + list(md.named_buffers()):
        assert v is objs[k], k
        np.testing.assert_array_equal(_np(v), before[k])
    assert md[0].weight is objs["0.weight"] and md[0].__dict__["weight"] is objs["0.weight"]
    # a user-raised error from inside forward, with an extra (non-parameter) key that must disappear again

    class Boom(dl.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = dl.nn.Linear(2, 2).double()

        def forward(self, x):
            assert self.extra is not None
            raise KeyError("boom")
    m = Boom().to(device)
    w = m.lin.weight
    with pytest.raises(KeyError, match="boom"):
        dfunc.functional_call(m, {"lin.weight": _d(np.zeros((2, 2)), device), "extra": _d(np.zeros(1), device)},
                              (_d(np.zeros((1, 2)), device),))
    assert m.lin.weight is w and not hasattr(m, "extra")


def test_functional_call_tied_and_strict():
    class Tied(dl.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = dl.nn.Linear(2, 2, bias=False).double()
            self.b = dl.nn.Linear(2, 2, bias=False).double()
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.b(self.a(x))

    class TiedT(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Linear(2, 2, bias=False).double()
            self.b = torch.nn.Linear(2, 2, bias=False).double()
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.b(self.a(x))
    md, mt = Tied(), TiedT()
    w0 = R.standard_normal((2, 2))
    with dl.no_grad():
        md.a.weight.copy_(_d(w0))
    with torch.no_grad():
        mt.a.weight.copy_(_t(w0))
    w = R.standard_normal((2, 2))
    x = R.standard_normal((3, 2))
    _close(dfunc.functional_call(md, {"a.weight": _d(w)}, (_d(x),)),
           tfunc.functional_call(mt, {"a.weight": _t(w)}, (_t(x),)))
    # untied: only a's weight replaced
    _close(dfunc.functional_call(md, {"a.weight": _d(w)}, (_d(x),), tie_weights=False),
           tfunc.functional_call(mt, {"a.weight": _t(w)}, (_t(x),), tie_weights=False))
    _same_error(lambda: dfunc.functional_call(md, {"a.weight": _d(w), "b.weight": _d(w)}, (_d(x),)),
                lambda: tfunc.functional_call(mt, {"a.weight": _t(w), "b.weight": _t(w)}, (_t(x),)), ValueError,
                "which are tied")
    _same_error(lambda: dfunc.functional_call(md, {"a.weight": _d(w), "zz": _d(w)}, (_d(x),), strict=True),
                lambda: tfunc.functional_call(mt, {"a.weight": _t(w), "zz": _t(w)}, (_t(x),), strict=True),
                RuntimeError, "Unexpected key\\(s\\): 'zz'")
    m2d = dl.nn.Linear(2, 2).double()
    m2t = torch.nn.Linear(2, 2).double()
    _same_error(lambda: dfunc.functional_call(m2d, {"weight": _d(w)}, (_d(x),), strict=True),
                lambda: tfunc.functional_call(m2t, {"weight": _t(w)}, (_t(x),), strict=True), RuntimeError,
                "Missing key\\(s\\): 'bias'")
    _same_error(lambda: dfunc.functional_call(m2d, ({"weight": _d(w)}, {"weight": _d(w)}), (_d(x),)),
                lambda: tfunc.functional_call(m2t, ({"weight": _t(w)}, {"weight": _t(w)}), (_t(x),)), ValueError,
                "appeared in multiple dictionaries")
    _same_error(lambda: dfunc.functional_call(m2d, 3, (_d(x),)), lambda: tfunc.functional_call(m2t, 3, (_t(x),)),
                ValueError, "Expected parameter_and_buffer_dicts to be a dict")
    # kwargs reach forward
    _close(dfunc.functional_call(m2d, {"weight": _d(w)}, (), {"input": _d(x)}),
           tfunc.functional_call(m2t, {"weight": _t(w), "bias": _t(_np(m2d.bias))}, (), {"input": _t(x)}))


def test_stack_module_state_ensemble(device):
    """Model ensembling: vmap over functional_call with stacked parameters, against torch."""
    pairs = [_linear_pair(device, seed=40 + i) for i in range(3)]
    pd, bd = dfunc.stack_module_state([m for m, _ in pairs])
    pt, bt = tfunc.stack_module_state([m for _, m in pairs])
    _close(pd, pt)
    assert pd["weight"].requires_grad and pd["weight"].grad_fn is None
    x = np.random.default_rng(41).standard_normal((5, 3))
    base_d, base_t = pairs[0]
    od = dfunc.vmap(lambda p, b, xx: dfunc.functional_call(base_d, (p, b), (xx,)), in_dims=(0, 0, None))(
        pd, bd, _d(x, device))
    ot = tfunc.vmap(lambda p, b, xx: tfunc.functional_call(base_t, (p, b), (xx,)), in_dims=(0, 0, None))(
        pt, bt, _t(x))
    _close(od, ot)
    with pytest.raises(RuntimeError, match="at least one model"):
        dfunc.stack_module_state([])
    with pytest.raises(RuntimeError, match="same class"):
        dfunc.stack_module_state([dl.nn.Linear(2, 2), dl.nn.ReLU()])


def test_functional_call_bad_keys():
    m = dl.nn.Sequential(dl.nn.Linear(2, 2).double())
    w = m[0].weight
    with pytest.raises(AttributeError, match="has no attribute `9`"):
        dfunc.functional_call(m, {"0.weight": _d(np.zeros((2, 2))), "9.weight": _d(np.zeros((2, 2)))},
                              (_d(np.zeros((1, 2))),))
    with pytest.raises(TypeError, match="child module"):
        dfunc.functional_call(m, {"0": _d(np.zeros((2, 2)))}, (_d(np.zeros((1, 2))),))
    with pytest.raises(TypeError, match="expected a Tensor"):
        dfunc.functional_call(m, {"0.weight": np.zeros((2, 2))}, (_d(np.zeros((1, 2))),))
    assert m[0].weight is w
