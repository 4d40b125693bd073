"""The remaining torch.Tensor methods of _tensor_methods_extra, against torch CPU (values, gradients, errors) and,
for the random fills, against their distributions' moments."""
import math

import numpy as np
import pytest

import dlcore

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.filterwarnings("ignore:index_reduce\\(\\) is in beta")


def _dl(a, device, dtype=None, requires_grad=False):
    t = dlcore.tensor(np.asarray(a), device=device)
    if dtype is not None:
        t = t.to(dtype)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _np(t):
    return t.detach().cpu().numpy()


def _close(got, want, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(_np(got), want.detach().numpy(), rtol=rtol, atol=atol)


# ------------------------------------------------------------------------------------------------- in-place matmuls

@pytest.mark.parametrize("op", ["addmm_", "addbmm_", "baddbmm_", "addr_"])
def test_inplace_matmuls_values_and_grads(op, device, rng):
    shapes = {"addmm_": ((3, 4), (3, 5), (5, 4)), "addbmm_": ((3, 4), (2, 3, 5), (2, 5, 4)),
              "baddbmm_": ((2, 3, 4), (2, 3, 5), (2, 5, 4)), "addr_": ((3, 4), (3,), (4,))}[op]
    arrs = [rng.standard_normal(s) for s in shapes]
    # values, no autograd
    x = _dl(arrs[0], device)
    res = getattr(x, op)(_dl(arrs[1], device), _dl(arrs[2], device), beta=0.5, alpha=-2.0)
    assert res is x
    tx = torch.tensor(arrs[0])
    getattr(tx, op)(torch.tensor(arrs[1]), torch.tensor(arrs[2]), beta=0.5, alpha=-2.0)
    _close(x, tx)
    # autograd through a non-leaf written in place
    leaves = [_dl(a, device, requires_grad=True) for a in arrs]
    y = leaves[0] * 1.5
    getattr(y, op)(leaves[1], leaves[2], beta=2.0, alpha=0.5)
    (y * y).sum().backward()
    tl = [torch.tensor(a, requires_grad=True) for a in arrs]
    ty = tl[0] * 1.5
    getattr(ty, op)(tl[1], tl[2], beta=2.0, alpha=0.5)
    (ty * ty).sum().backward()
    for a, b in zip(leaves, tl):
        _close(a.grad, b.grad, rtol=1e-9, atol=1e-10)


def test_inplace_matmul_errors(device):
    x = dlcore.zeros(1, 4, dtype=dlcore.float64, device=device)
    with pytest.raises(RuntimeError, match="addmm_"):
        x.addmm_(dlcore.ones(3, 2, dtype=dlcore.float64, device=device),
                 dlcore.ones(2, 4, dtype=dlcore.float64, device=device))
    leaf = dlcore.zeros(3, 4, dtype=dlcore.float64, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        leaf.addr_(dlcore.ones(3, dtype=dlcore.float64, device=device),
                   dlcore.ones(4, dtype=dlcore.float64, device=device))


# ------------------------------------------------------------------------------------------------- special functions

def test_special_methods_vs_torch(device, rng):
    x = rng.uniform(1.6, 6.0, (3, 5))
    o = rng.uniform(0.2, 8.0, (3, 5))
    d, t = _dl(x, device), torch.tensor(x)
    _close(d.i0(), t.i0(), rtol=1e-12)
    _close(dlcore.i0(d), torch.i0(t), rtol=1e-12)
    for n in (0, 1, 3):
        _close(d.polygamma(n), t.polygamma(n), rtol=1e-9)
        _close(dlcore.polygamma(n, d), torch.polygamma(n, t), rtol=1e-9)
    _close(d.mvlgamma(3), t.mvlgamma(3), rtol=1e-12)
    _close(dlcore.mvlgamma(d, p=2), torch.mvlgamma(t, p=2), rtol=1e-12)
    do, to = _dl(o, device), torch.tensor(o)
    _close(d.igamma(do), t.igamma(to), rtol=1e-9, atol=1e-14)
    _close(d.igammac(do), t.igammac(to), rtol=1e-9, atol=1e-14)
    _close(dlcore.igamma(d, do), torch.igamma(t, to), rtol=1e-9, atol=1e-14)
    _close(dlcore.igammac(d, do), torch.igammac(t, to), rtol=1e-9, atol=1e-14)
    # in-place forms
    for name, args, targs in (("i0_", (), ()), ("polygamma_", (2,), (2,)), ("mvlgamma_", (2,), (2,)),
                              ("igamma_", (do,), (to,)), ("igammac_", (do,), (to,))):
        a, b = _dl(x, device), torch.tensor(x)
        assert getattr(a, name)(*args) is a
        getattr(b, name)(*targs)
        _close(a, b, rtol=1e-9, atol=1e-14)


def test_special_methods_grads_vs_torch(device, rng):
    x = rng.uniform(1.6, 4.0, (4,))
    o = rng.uniform(0.5, 5.0, (4,))
    for fn in (lambda v, w: v.i0(), lambda v, w: v.polygamma(1), lambda v, w: v.mvlgamma(2),
               lambda v, w: w.igamma(v), lambda v, w: w.igammac(v)):
        a = _dl(x, device, requires_grad=True)
        ta = torch.tensor(x, requires_grad=True)
        fn(a, _dl(o, device)).sum().backward()
        fn(ta, torch.tensor(o)).sum().backward()
        _close(a.grad, ta.grad, rtol=1e-7, atol=1e-12)


# ------------------------------------------------------------------------------------------------- shifts

@pytest.mark.parametrize("dtype", ["uint8", "int32", "int64"])
def test_shifts_vs_torch(dtype, device, rng):
    width = {"uint8": 8, "int32": 32, "int64": 64}[dtype]
    lo = 0 if dtype == "uint8" else -1000
    a = rng.integers(lo, 1000 if dtype != "uint8" else 256, (4, 6)).astype(dtype)
    a[0, :3] = np.iinfo(dtype).max, np.iinfo(dtype).min, 1
    b = rng.integers(0 if dtype == "uint8" else -3, width + 4, (4, 6)).astype(dtype)
    b[1, :4] = 0, width - 1, width, width + 1
    da, db = _dl(a, device), _dl(b, device)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    assert str(da.bitwise_left_shift(db).dtype) == "dlcore." + dtype
    np.testing.assert_array_equal(_np(da.bitwise_left_shift(db)), (ta << tb).numpy())
    np.testing.assert_array_equal(_np(da.bitwise_right_shift(db)), (ta >> tb).numpy())
    np.testing.assert_array_equal(_np(da << db), (ta << tb).numpy())
    np.testing.assert_array_equal(_np(da >> db), (ta >> tb).numpy())
    np.testing.assert_array_equal(_np(dlcore.bitwise_left_shift(da, db)), torch.bitwise_left_shift(ta, tb).numpy())
    np.testing.assert_array_equal(_np(dlcore.bitwise_right_shift(da, db)),
                                  torch.bitwise_right_shift(ta, tb).numpy())
    for s in (0, 1, 3, width - 1, width, width + 5):
        np.testing.assert_array_equal(_np(da << s), (ta << s).numpy())
        np.testing.assert_array_equal(_np(da >> s), (ta >> s).numpy())
    # broadcasting and reflected scalars
    np.testing.assert_array_equal(_np(da >> db[:1]), (ta >> tb[:1]).numpy())
    np.testing.assert_array_equal(_np(3 << db), (3 << tb).numpy())
    np.testing.assert_array_equal(_np(100 >> db), (100 >> tb).numpy())
    # in place
    x, tx = _dl(a, device), torch.from_numpy(a.copy())
    assert x.bitwise_left_shift_(db) is x
    tx.bitwise_left_shift_(tb)
    np.testing.assert_array_equal(_np(x), tx.numpy())
    x >>= 2
    tx >>= 2
    np.testing.assert_array_equal(_np(x), tx.numpy())
    x <<= db
    tx <<= tb
    np.testing.assert_array_equal(_np(x), tx.numpy())


def test_shift_promotion_and_errors(device):
    a32 = dlcore.tensor([3, -8], dtype=dlcore.int32, device=device)
    b64 = dlcore.tensor([33, 40], device=device)
    want = torch.tensor([3, -8], dtype=torch.int32) << torch.tensor([33, 40])
    got = a32 << b64
    assert got.dtype == dlcore.int64
    np.testing.assert_array_equal(_np(got), want.numpy())
    np.testing.assert_array_equal(_np(a32 >> 40), (torch.tensor([3, -8], dtype=torch.int32) >> 40).numpy())
    with pytest.raises(NotImplementedError, match="bitwise_left_shift"):
        dlcore.ones(2, device=device) << 1
    with pytest.raises(NotImplementedError, match="bitwise_right_shift"):
        a32.bitwise_right_shift(dlcore.ones(2, device=device))
    with pytest.raises(TypeError):
        a32 << 1.5


# ------------------------------------------------------------------------------------------------- index_reduce

@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_index_reduce_vs_torch(reduce, include_self, device, rng):
    for dim, shape, sshape in ((0, (4, 3), (5, 3)), (1, (2, 4, 3), (2, 5, 3)), (-1, (3, 4), (3, 5))):
        x = rng.standard_normal(shape)
        src = rng.standard_normal(sshape)
        idx = np.array([0, 2, 0, 3, 2])
        got = _dl(x, device).index_reduce(dim, _dl(idx, device), _dl(src, device), reduce, include_self=include_self)
        want = torch.tensor(x).index_reduce(dim, torch.tensor(idx), torch.tensor(src), reduce,
                                            include_self=include_self)
        _close(got, want, rtol=1e-12, atol=1e-14)
        # integers (mean floors, like torch)
        xi = rng.integers(-9, 10, shape)
        si = rng.integers(-9, 10, sshape)
        got = dlcore.index_reduce(_dl(xi, device), dim, _dl(idx, device), _dl(si, device), reduce,
                                  include_self=include_self)
        want = torch.index_reduce(torch.tensor(xi), dim, torch.tensor(idx), torch.tensor(si), reduce,
                                  include_self=include_self)
        np.testing.assert_array_equal(_np(got), want.numpy())
        # in place
        d = _dl(x, device)
        assert d.index_reduce_(dim, _dl(idx, device), _dl(src, device), reduce, include_self=include_self) is d
        t = torch.tensor(x)
        t.index_reduce_(dim, torch.tensor(idx), torch.tensor(src), reduce, include_self=include_self)
        _close(d, t, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
def test_index_reduce_grads_vs_torch(reduce, device, rng):
    x = rng.standard_normal((4, 3))
    src = rng.standard_normal((5, 3))
    idx = np.array([0, 2, 0, 3, 2])
    for include_self in (True, False):
        a, s = _dl(x, device, requires_grad=True), _dl(src, device, requires_grad=True)
        ta, ts = torch.tensor(x, requires_grad=True), torch.tensor(src, requires_grad=True)
        w = rng.standard_normal((4, 3))
        (a.index_reduce(0, _dl(idx, device), s, reduce, include_self=include_self) * _dl(w, device)).sum().backward()
        (ta.index_reduce(0, torch.tensor(idx), ts, reduce, include_self=include_self) * torch.tensor(w)).sum() \
            .backward()
        _close(a.grad, ta.grad, rtol=1e-10, atol=1e-12)
        _close(s.grad, ts.grad, rtol=1e-10, atol=1e-12)


def test_index_reduce_errors(device):
    x = dlcore.zeros(4, 3, dtype=dlcore.float64, device=device)
    idx = dlcore.tensor([0, 1], device=device)
    with pytest.raises(ValueError, match="index_reduce"):
        x.index_reduce(0, idx, dlcore.ones(2, 3, dtype=dlcore.float64, device=device), "sum")
    with pytest.raises(RuntimeError, match="number of indices"):
        x.index_reduce(0, idx, dlcore.ones(3, 3, dtype=dlcore.float64, device=device), "amax")
    with pytest.raises(RuntimeError, match="index_reduce"):
        x.index_reduce(0, idx, dlcore.ones(2, 4, dtype=dlcore.float64, device=device), "amax")
    with pytest.raises(TypeError, match="index_reduce"):
        x.index_reduce(0, idx, dlcore.ones(2, 3, device=device), "amax")
    with pytest.raises(IndexError):
        x.index_reduce(0, dlcore.tensor([0, 7], device=device), dlcore.ones(2, 3, dtype=dlcore.float64,
                                                                            device=device), "amax")


# ------------------------------------------------------------------------------------------------- random fills

N = 20000


def test_exponential_(device):
    dlcore.manual_seed(7)
    x = dlcore.empty(N, dtype=dlcore.float64, device=device)
    assert x.exponential_(2.5) is x
    v = _np(x)
    assert v.min() >= 0
    assert abs(v.mean() - 1 / 2.5) < 0.02
    assert abs(v.std() - 1 / 2.5) < 0.02
    assert abs(np.median(v) - math.log(2) / 2.5) < 0.02
    dlcore.manual_seed(7)
    y = dlcore.empty(N, dtype=dlcore.float64, device=device).exponential_(2.5)
    np.testing.assert_array_equal(_np(y), v)
    g = dlcore.Generator().manual_seed(3)
    z1 = dlcore.empty(50, device=device).exponential_(generator=g)
    g.manual_seed(3)
    z2 = dlcore.empty(50, device=device).exponential_(generator=g)
    np.testing.assert_array_equal(_np(z1), _np(z2))
    with pytest.raises(RuntimeError, match="exponential_"):
        x.exponential_(0.0)
    with pytest.raises(NotImplementedError, match="exponential_"):
        dlcore.zeros(3, dtype=dlcore.int64, device=device).exponential_()


@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_geometric_(dtype, device):
    dlcore.manual_seed(11)
    p = 0.3
    x = dlcore.empty(N, dtype=getattr(dlcore, dtype), device=device).geometric_(p)
    v = _np(x).astype(np.float64)
    assert v.min() >= 1 and np.all(v == np.round(v))
    assert abs(v.mean() - 1 / p) < 0.08
    assert abs(v.var() - (1 - p) / p ** 2) < 0.6
    assert abs((v == 1).mean() - p) < 0.015
    assert abs((v == 2).mean() - p * (1 - p)) < 0.015
    with pytest.raises(RuntimeError, match="geometric_"):
        x.geometric_(1.0)


def test_cauchy_(device):
    dlcore.manual_seed(5)
    x = dlcore.empty(N, dtype=dlcore.float64, device=device).cauchy_(median=1.5, sigma=0.5)
    v = _np(x)
    q25, q50, q75 = np.quantile(v, [0.25, 0.5, 0.75])
    assert abs(q50 - 1.5) < 0.03
    assert abs((q75 - q25) - 2 * 0.5) < 0.05  # interquartile range of Cauchy = 2 sigma
    with pytest.raises(RuntimeError, match="cauchy_"):
        x.cauchy_(sigma=-1.0)


def test_log_normal_(device):
    dlcore.manual_seed(9)
    x = dlcore.empty(N, dtype=dlcore.float64, device=device).log_normal_(0.5, 0.25)
    v = _np(x)
    assert v.min() > 0
    assert abs(np.log(v).mean() - 0.5) < 0.01
    assert abs(np.log(v).std() - 0.25) < 0.01
    assert abs(v.mean() - math.exp(0.5 + 0.25 ** 2 / 2)) < 0.02
    with pytest.raises(RuntimeError, match="log_normal_"):
        x.log_normal_(std=0.0)


def test_random_fill_autograd(device):
    leaf = dlcore.zeros(3, dtype=dlcore.float64, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        leaf.exponential_()
    a = dlcore.ones(3, dtype=dlcore.float64, device=device, requires_grad=True)
    y = a * 2.0
    y.cauchy_()
    (y * a).sum().backward()
    # y was overwritten by constants: a's gradient is y's new values (d(y*a)/da), none through the old y = 2a
    np.testing.assert_allclose(_np(a.grad), _np(y.detach()), rtol=1e-12)
    with dlcore.no_grad():
        leaf.log_normal_()
    assert _np(leaf).min() > 0


def test_bernoulli_multinomial_methods(device):
    dlcore.manual_seed(1)
    p = dlcore.full((N,), 0.3, dtype=dlcore.float64, device=device)
    s = p.bernoulli()
    v = _np(s)
    assert set(np.unique(v)) <= {0.0, 1.0} and abs(v.mean() - 0.3) < 0.015
    assert abs(_np(p.bernoulli(0.8)).mean() - 0.8) < 0.015
    dlcore.manual_seed(1)
    np.testing.assert_array_equal(_np(p.bernoulli()), v)
    w = dlcore.tensor([[1.0, 3.0, 0.0, 4.0]], dtype=dlcore.float64, device=device)
    dlcore.manual_seed(2)
    m = w.multinomial(4000, replacement=True)
    assert m.shape == (1, 4000) and m.dtype == dlcore.int64
    freq = np.bincount(_np(m)[0], minlength=4) / 4000
    np.testing.assert_allclose(freq, [0.125, 0.375, 0.0, 0.5], atol=0.03)
    nr = w[0].multinomial(3)
    assert sorted(_np(nr).tolist()) == [0, 1, 3]
    with pytest.raises(RuntimeError, match="multinomial"):
        w.multinomial(5)


# ------------------------------------------------------------------------------------------------- nn methods, views

def test_hardshrink_prelu_adjoint_vs_torch(device, rng):
    x = rng.standard_normal((2, 3, 4))
    d, t = _dl(x, device, requires_grad=True), torch.tensor(x, requires_grad=True)
    _close(d.hardshrink(), t.hardshrink())
    _close(d.hardshrink(0.9), t.hardshrink(0.9))
    w = rng.uniform(0.1, 0.5, (3,))
    dw, tw = _dl(w, device, requires_grad=True), torch.tensor(w, requires_grad=True)
    _close(d.prelu(dw), t.prelu(tw))
    (d.prelu(dw) * d.hardshrink(0.3)).sum().backward()
    (t.prelu(tw) * t.hardshrink(0.3)).sum().backward()
    _close(d.grad, t.grad)
    _close(dw.grad, tw.grad)
    _close(d.adjoint(), t.adjoint())
    assert d.adjoint().shape == (2, 4, 3)
    with pytest.raises(RuntimeError, match="adjoint"):
        _dl(x[0, 0], device).adjoint()


def test_unsafe_splits_vs_torch(device, rng):
    x = rng.standard_normal((7, 4))
    d, t = _dl(x, device), torch.tensor(x)
    for got, want in ((d.unsafe_chunk(3), t.unsafe_chunk(3)), (d.unsafe_chunk(2, dim=1), t.unsafe_chunk(2, dim=1)),
                      (d.unsafe_split(3), t.unsafe_split(3)),
                      (dlcore.unsafe_split(d, 3, 1), torch.unsafe_split(t, 3, 1)),
                      (d.unsafe_split_with_sizes([2, 5]), t.unsafe_split_with_sizes([2, 5])),
                      (dlcore.unsafe_chunk(d, 4), torch.unsafe_chunk(t, 4))):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            _close(g, w)


def test_as_strided_inplace_vs_torch(device):
    d = dlcore.arange(12.0, dtype=dlcore.float64, device=device)
    t = torch.arange(12.0, dtype=torch.float64)
    assert d.as_strided_([3, 2], [2, 3], 1) is d
    t.as_strided_([3, 2], [2, 3], 1)
    _close(d, t)
    assert d.stride() == t.stride() and d.storage_offset() == t.storage_offset()
    d.as_strided_([2, 2], [1, 2])
    t.as_strided_([2, 2], [1, 2])
    _close(d, t)
    with pytest.raises(RuntimeError):
        d.as_strided_([5, 5], [5, 1], 0)  # past the end of the 12-element storage
    # autograd: an in-place geometry change of a non-leaf
    a = dlcore.arange(6.0, dtype=dlcore.float64, device=device).requires_grad_(True)
    ta = torch.arange(6.0, dtype=torch.float64, requires_grad=True)
    y, ty = a * 2.0, ta * 2.0
    y.as_strided_([2, 2], [1, 2], 1)
    ty.as_strided_([2, 2], [1, 2], 1)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    _close(a.grad, ta.grad)


# ------------------------------------------------------------------------------------------------- Python callables

def test_apply_map_vs_torch(rng):
    x = rng.standard_normal((3, 4))
    o = rng.standard_normal((4,))
    p = rng.standard_normal((3, 1))
    d, t = dlcore.tensor(x), torch.tensor(x)
    assert d.apply_(lambda v: v * v + 1) is d
    t.apply_(lambda v: v * v + 1)
    _close(d, t)
    d.map_(dlcore.tensor(o), lambda a, b: a - 2 * b)
    t.map_(torch.tensor(o), lambda a, b: a - 2 * b)
    _close(d, t)
    d.map2_(dlcore.tensor(o), dlcore.tensor(p), lambda a, b, c: a * b + c)
    t.map2_(torch.tensor(o), torch.tensor(p), lambda a, b, c: a * b + c)
    _close(d, t)
    di, ti = dlcore.tensor([1, 2, 3]), torch.tensor([1, 2, 3])
    di.apply_(lambda v: v // 2 + 7)
    ti.apply_(lambda v: v // 2 + 7)
    np.testing.assert_array_equal(_np(di), ti.numpy())
    with pytest.raises(RuntimeError, match="map_"):
        d.map_(dlcore.ones(5, dtype=dlcore.float64), lambda a, b: a)
    with pytest.raises(TypeError, match="map_"):
        d.map_(dlcore.ones(4, dtype=dlcore.int64), lambda a, b: a)
    with pytest.raises(TypeError, match="apply_"):
        d.apply_(lambda v: "x")
    with pytest.raises(RuntimeError, match="requires grad"):
        dlcore.ones(3, dtype=dlcore.float64, requires_grad=True).apply_(lambda v: v)
    with pytest.raises(RuntimeError, match="requires grad"):
        d.map2_(d, dlcore.ones(3, 4, dtype=dlcore.float64, requires_grad=True), lambda a, b, c: a)
    np.testing.assert_array_equal(_np(dlcore.tensor([1, 2]).apply_(lambda v: v + 0.7)),
                                  torch.tensor([1, 2]).apply_(lambda v: v + 0.7).numpy())


@pytest.mark.skipif(not dlcore.cuda.is_available(), reason="needs a cuda device (real or emulated)")
def test_apply_cpu_only():
    with pytest.raises(TypeError, match="CPU"):
        dlcore.ones(3, device="cuda").apply_(lambda v: v)


def test_inplace_bitwise_operators_modify_in_place():
    x = dlcore.tensor([6, 5, 3], dtype=dlcore.int64)
    alias = x
    x &= 3
    assert x is alias and x.tolist() == [2, 1, 3]
    x |= 8
    assert x is alias and x.tolist() == [10, 9, 11]
    x ^= 1
    assert x is alias and x.tolist() == [11, 8, 10]
    b = dlcore.tensor([True, False])
    b &= dlcore.tensor([True, True])
    assert b.tolist() == [True, False]
