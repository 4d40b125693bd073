"""The tensor functions of python/dlcore/_tensor_extra.py (reductions, structure, searching, counting, linear algebra,
in-place variants) against PyTorch CPU: forward values for float32/float64 (and integers where torch takes them),
random shapes with empty and size-1 dims, negative dims and non-contiguous inputs; gradients against torch's and by
float64 central differences; error cases naming the op and the shapes. Every test runs on each device (cpu, and
cuda: real or the SIMT emulator)."""
import numpy as np
import pytest

import dlcore
from dlcore.testing import assert_close, gradcheck

torch = pytest.importorskip("torch")


def D(a, device="cpu", grad=False):
    t = dlcore.tensor(np.asarray(a), device=device)
    if grad:
        t.requires_grad_(True)
    return t


def TT(a, grad=False):
    t = torch.from_numpy(np.array(a))
    if grad:
        t.requires_grad_(True)
    return t


def N(x):
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    return np.asarray(x.detach().cpu()) if x.requires_grad else np.asarray(x.cpu())


def same(d, t, exact=False, rtol=None, atol=None):
    """dlcore result d equals torch result t (tensors, or tuples of them); dtypes must correspond."""
    if isinstance(t, (tuple, list)):
        assert isinstance(d, (tuple, list)) and len(d) == len(t), (d, t)
        for a, b in zip(d, t):
            same(a, b, exact, rtol, atol)
        return
    assert tuple(d.shape) == tuple(t.shape), f"shape {tuple(d.shape)} != torch {tuple(t.shape)}"
    assert str(d.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (d.dtype, t.dtype)
    if exact:
        assert_close(N(d), N(t), rtol=0, atol=0, equal_nan=True)
    else:
        assert_close(N(d), N(t), rtol=rtol, atol=atol, equal_nan=True)


def rand(rng, shape, dtype="float64", nan=False):
    a = rng.standard_normal(shape).astype(dtype)
    if nan and a.size > 2:
        a.flat[rng.integers(0, a.size, builtins_max(1, a.size // 4))] = np.nan
    return a


def builtins_max(a, b):
    return a if a > b else b


def noncontig(x):
    """A non-contiguous tensor with x's values (the transpose of a contiguous copy of x.T)."""
    if x.ndim < 2:
        return x
    return x.transpose(0, 1).contiguous().transpose(0, 1)


SHAPES = [(5,), (3, 4), (2, 1, 5), (4, 0), (1, 1)]


# ------------------------------------------------------------------------------------------------- reductions

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dim", [None, 0, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_nansum_nanmean(shape, dim, keepdim, device, float_dtype, rng):
    a = rand(rng, shape, float_dtype, nan=True)
    x, t = D(a, device), TT(a)
    kw = {} if dim is None else {"dim": dim, "keepdim": keepdim}
    same(dlcore.nansum(x, **kw), torch.nansum(t, **kw))
    same(x.nanmean(**kw), t.nanmean(**kw))
    same(noncontig(x).nansum(**kw), noncontig(t).nansum(**kw))
    xi = D((a * 0 + 3).astype(np.float64).round().astype(np.int64) if not np.isnan(a).any() else
           np.arange(a.size).reshape(shape), device)
    same(dlcore.nansum(xi, **kw), torch.nansum(TT(N(xi)), **kw), exact=True)


def test_nansum_nanmean_grad(device, rng):
    a = rand(rng, (3, 4), nan=True)
    x, t = D(a, device, True), TT(a, True)
    g = rng.standard_normal(3)
    dlcore.nanmean(x, 1).backward(D(g, device))
    torch.nanmean(t, 1).backward(TT(g))
    same(x.grad, t.grad)
    with pytest.raises(TypeError, match="nanmean"):
        dlcore.nanmean(D(np.arange(3), device))


@pytest.mark.parametrize("dim", [None, 0, 1, -1])
def test_count_nonzero_aminmax(dim, device, rng):
    a = rng.integers(-1, 2, (3, 5)).astype(np.float32)
    x, t = D(a, device), TT(a)
    same(dlcore.count_nonzero(x, dim), torch.count_nonzero(t, dim), exact=True)
    same(x.count_nonzero(dim), t.count_nonzero(dim), exact=True)
    for keepdim in (False, True):
        r = dlcore.aminmax(x, dim=dim, keepdim=keepdim)
        rt = torch.aminmax(t, dim=dim, keepdim=keepdim)
        same(tuple(r), tuple(rt), exact=True)
        assert_close(N(r.min), N(rt.min), rtol=0, atol=0) and None
    with pytest.raises((RuntimeError, IndexError), match="aminmax"):
        dlcore.aminmax(D(np.zeros((0, 3)), device), dim=0)


@pytest.mark.parametrize("shape,dim", [((7,), 0), ((4, 6), 1), ((4, 6), -2), ((2, 3, 5), 1), ((1, 1), 0),
                                       ((3, 1), 1)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_median_nanmedian(shape, dim, keepdim, device, float_dtype, rng):
    a = rng.permutation(np.prod(shape)).reshape(shape).astype(float_dtype)  # distinct: unique indices
    x, t = D(a, device), TT(a)
    same(dlcore.median(x), torch.median(t), exact=True)
    same(tuple(dlcore.median(x, dim, keepdim)), tuple(torch.median(t, dim, keepdim)), exact=True)
    same(tuple(noncontig(x).median(dim, keepdim)), tuple(noncontig(t).median(dim, keepdim)), exact=True)
    # with NaN: median propagates it (index of a NaN), nanmedian skips it
    b = a.copy()
    b.flat[:: 3] = np.nan
    y, u = D(b, device), TT(b)
    v, i = dlcore.median(y, dim, keepdim)
    vt, _ = torch.median(u, dim, keepdim)
    same(v, vt, exact=True)
    assert np.isnan(np.take_along_axis(b, N(i) if keepdim else np.expand_dims(N(i), dim), dim)).reshape(-1)[
        np.isnan(N(vt)).reshape(-1)].all()
    v, i = dlcore.nanmedian(y, dim, keepdim)
    vt, it = torch.nanmedian(u, dim, keepdim)
    same(v, vt, exact=True)
    ok = ~np.isnan(N(vt))  # an all-NaN line: torch's index is whichever NaN its partial sort leaves there
    assert_close(N(i)[ok], N(it)[ok], rtol=0, atol=0)
    assert np.isnan(np.take_along_axis(b, N(i) if keepdim else np.expand_dims(N(i), dim), dim)).reshape(-1)[
        ~ok.reshape(-1)].all()
    same(y.nanmedian(), u.nanmedian(), exact=True)
    same(y.median(), u.median(), exact=True)


def test_median_ties_grad_and_errors(device, rng):
    a = rng.integers(0, 3, (4, 5)).astype(np.float64)
    x = D(a, device)
    v, i = dlcore.median(x, 1)
    same(v, torch.median(TT(a), 1).values, exact=True)
    assert_close(np.take_along_axis(a, N(i)[:, None], 1)[:, 0], N(v), rtol=0, atol=0)
    b = rng.permutation(20).reshape(4, 5).astype(np.float64)
    x, t = D(b, device, True), TT(b, True)
    g = rng.standard_normal(5)
    (dlcore.median(x, 0).values * D(g, device)).sum().backward()
    (torch.median(t, 0).values * TT(g)).sum().backward()
    same(x.grad, t.grad)
    same(dlcore.median(D(np.zeros(0), device)), torch.median(TT(np.zeros(0))))
    with pytest.raises(IndexError, match="median"):
        dlcore.median(D(np.zeros((3, 0)), device), 1)
    with pytest.raises(IndexError, match="median"):
        dlcore.median(D(np.zeros((3, 2)), device), 2)


@pytest.mark.parametrize("shape,dim", [((9,), 0), ((4, 7), 1), ((4, 7), 0), ((2, 3, 6), -1)])
def test_mode(shape, dim, device, float_dtype, rng):
    a = rng.integers(0, 4, shape).astype(float_dtype)
    for keepdim in (False, True):
        same(tuple(dlcore.mode(D(a, device), dim, keepdim)), tuple(torch.mode(TT(a), dim, keepdim)), exact=True)
    ai = a.astype(np.int64)
    same(tuple(D(ai, device).mode(dim)), tuple(TT(ai).mode(dim)), exact=True)
    x, t = D(a.astype(np.float64), device, True), TT(a.astype(np.float64), True)
    dlcore.mode(x, dim).values.sum().backward()
    torch.mode(t, dim).values.sum().backward()
    same(x.grad, t.grad)


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (None, True), (1, False), (-1, True), (0, False)])
def test_quantile(interpolation, dim, keepdim, device, float_dtype, rng):
    a = rand(rng, (4, 6), float_dtype)
    x, t = D(a, device), TT(a)
    for q in (0.0, 0.37, 0.5, 1.0):
        same(dlcore.quantile(x, q, dim, keepdim, interpolation=interpolation),
             torch.quantile(t, q, dim, keepdim, interpolation=interpolation))
    qa = np.array([0.1, 0.25, 0.5, 0.9], dtype=float_dtype)
    same(x.quantile(D(qa, device), dim, keepdim, interpolation=interpolation),
         t.quantile(TT(qa), dim, keepdim, interpolation=interpolation))
    b = a.copy()
    b[1, 2] = b[3, 0] = np.nan
    b[2, :] = np.nan
    for fn in ("quantile", "nanquantile"):
        same(getattr(dlcore, fn)(D(b, device), D(qa, device), dim, keepdim, interpolation=interpolation),
             getattr(torch, fn)(TT(b), TT(qa), dim, keepdim, interpolation=interpolation))


def test_quantile_grad_and_errors(device, rng):
    a = rand(rng, (3, 5))
    x, t = D(a, device, True), TT(a, True)
    q = np.array([0.2, 0.5, 0.85])
    g = rng.standard_normal((3, 3))
    dlcore.quantile(x, D(q, device), 1).backward(D(g, device))
    torch.quantile(t, TT(q), 1).backward(TT(g))
    same(x.grad, t.grad)
    x = D(a, device)
    with pytest.raises(ValueError, match="quantile"):
        dlcore.quantile(x, 1.5)
    with pytest.raises(ValueError, match="interpolation"):
        dlcore.quantile(x, 0.5, interpolation="cubic")
    with pytest.raises(TypeError, match="quantile"):
        dlcore.quantile(D(np.arange(3), device), 0.5)
    with pytest.raises(IndexError, match="quantile"):
        dlcore.quantile(x, 0.5, dim=2)


@pytest.mark.parametrize("shape,dim", [((9,), 0), ((3, 17), 1), ((5, 4), 0), ((2, 3, 4), -2), ((3, 0), 1),
                                       ((1,), 0)])
def test_cummax_cummin(shape, dim, device, float_dtype, rng):
    a = rng.integers(-3, 4, shape).astype(float_dtype)
    if a.size > 5:
        a.flat[[2, 5]] = np.nan
    for fn in ("cummax", "cummin"):
        same(tuple(getattr(dlcore, fn)(D(a, device), dim)), tuple(getattr(torch, fn)(TT(a), dim)), exact=True)
        same(tuple(getattr(noncontig(D(a, device)), fn)(dim)), tuple(getattr(noncontig(TT(a)), fn)(dim)),
             exact=True)
    ai = rng.integers(-3, 4, shape)
    same(tuple(dlcore.cummax(D(ai, device), dim)), tuple(torch.cummax(TT(ai), dim)), exact=True)


def test_cummax_grad(device, rng):
    a = rng.integers(-3, 4, (3, 6)).astype(np.float64)
    x, t = D(a, device, True), TT(a, True)
    g = rng.standard_normal((3, 6))
    dlcore.cummin(x, 1).values.backward(D(g, device))
    torch.cummin(t, 1).values.backward(TT(g))
    same(x.grad, t.grad)


@pytest.mark.parametrize("shape,dim", [((9,), 0), ((3, 17), 1), ((5, 4), 0), ((2, 3, 4), -1), ((3, 0), 1)])
def test_logcumsumexp(shape, dim, device, float_dtype, rng):
    a = (rng.standard_normal(shape) * 30).astype(float_dtype)
    if a.size > 4:
        a.flat[1] = -np.inf
    same(dlcore.logcumsumexp(D(a, device), dim), torch.logcumsumexp(TT(a), dim))
    same(D(a, device).logcumsumexp(dim), TT(a).logcumsumexp(dim))
    big = np.array([-1000.0, 0.0, 1000.0, 1000.0, -5.0], dtype=float_dtype)
    same(dlcore.logcumsumexp(D(big, device), 0), torch.logcumsumexp(TT(big), 0))


def test_logcumsumexp_grad(device, rng):
    a = rng.standard_normal((3, 5)) * 3
    x, t = D(a, device, True), TT(a, True)
    g = rng.standard_normal((3, 5))
    dlcore.logcumsumexp(x, 1).backward(D(g, device))
    torch.logcumsumexp(t, 1).backward(TT(g))
    same(x.grad, t.grad)
    gradcheck(lambda z: dlcore.logcumsumexp(z, 0), [D(a, device, True)])


@pytest.mark.parametrize("n", [0, 1, 2, 3])
@pytest.mark.parametrize("dim", [0, -1])
def test_diff(n, dim, device, float_dtype, rng):
    a = rand(rng, (4, 5), float_dtype)
    p = rand(rng, (4, 5), float_dtype)[:2] if dim == 0 else rand(rng, (4, 2), float_dtype)
    x, t = D(a, device), TT(a)
    same(dlcore.diff(x, n, dim), torch.diff(t, n, dim))
    same(x.diff(n, dim, prepend=D(p, device), append=D(p, device)),
         t.diff(n, dim, prepend=TT(p), append=TT(p)))
    bo = rng.integers(0, 2, (6,)).astype(bool)
    same(dlcore.diff(D(bo, device), n), torch.diff(TT(bo), n), exact=True)
    xg, tg = D(a.astype(np.float64), device, True), TT(a.astype(np.float64), True)
    if n:
        w = rng.standard_normal(torch.diff(tg, n, dim).shape)
        dlcore.diff(xg, n, dim).backward(D(w, device))
        torch.diff(tg, n, dim).backward(TT(w))
        same(xg.grad, tg.grad)
    with pytest.raises(RuntimeError, match="diff"):
        dlcore.diff(D(np.float64(1.0), device))


# ------------------------------------------------------------------------------------------------- structure

@pytest.mark.parametrize("k", [-2, 0, 1, 3])
def test_diag_family(k, device, float_dtype, rng):
    v = rand(rng, (4,), float_dtype)
    m = rand(rng, (3, 5), float_dtype)
    b = rand(rng, (2, 3), float_dtype)
    same(dlcore.diag(D(v, device), k), torch.diag(TT(v), k), exact=True)
    same(D(m, device).diag(k), TT(m).diag(k), exact=True)
    same(noncontig(D(m, device)).diag(k), noncontig(TT(m)).diag(k), exact=True)
    same(dlcore.diagflat(D(m, device), k), torch.diagflat(TT(m), k), exact=True)
    for d1, d2 in ((-2, -1), (0, 2), (2, 0), (1, -1)):
        same(dlcore.diag_embed(D(b, device), k, d1, d2), torch.diag_embed(TT(b), k, d1, d2), exact=True)
    sq = rand(rng, (4, 4), float_dtype)
    same(dlcore.trace(D(sq, device)), torch.trace(TT(sq)))
    same(D(m, device).trace(), TT(m).trace())
    same(dlcore.trace(D(np.arange(6).reshape(2, 3), device)), torch.trace(TT(np.arange(6).reshape(2, 3))),
         exact=True)
    for r, c in ((4, 3), (3, 5), (0, 2), (1, 1)):
        same(dlcore.tril_indices(r, c, k), torch.tril_indices(r, c, k), exact=True)
        same(dlcore.triu_indices(r, c, k, device=device), torch.triu_indices(r, c, k), exact=True)


def test_diag_grads(device, rng):
    b = rng.standard_normal((2, 3))
    gradcheck(lambda z: dlcore.diag_embed(z, 1, 0, 2), [D(b, device, True)])
    gradcheck(lambda z: dlcore.diag(z, -1), [D(b, device, True)])
    gradcheck(lambda z: dlcore.diag(z, 1), [D(b[0], device, True)])
    gradcheck(lambda z: dlcore.trace(z).reshape(1), [D(b, device, True)])
    with pytest.raises(RuntimeError, match="diag_embed"):
        dlcore.diag_embed(D(b, device), 0, 1, -2)
    with pytest.raises(RuntimeError, match=r"trace\(\).*\[2, 3, 1\]"):
        dlcore.trace(D(np.zeros((2, 3, 1)), device))
    with pytest.raises(RuntimeError, match="diag"):
        dlcore.diag(D(np.zeros((2, 3, 1)), device))


@pytest.mark.parametrize("k", [-1, 0, 1, 2, 3, 4, 5])
@pytest.mark.parametrize("dims", [(0, 1), (1, 0), (-1, 0), (2, 1)])
def test_rot90(k, dims, device, rng):
    a = rand(rng, (2, 3, 4))
    same(dlcore.rot90(D(a, device), k, dims), torch.rot90(TT(a), k, dims), exact=True)
    same(D(a, device).rot90(k, dims), TT(a).rot90(k, dims), exact=True)


def test_rot90_grad_and_errors(device, rng):
    a = rng.standard_normal((2, 3))
    gradcheck(lambda z: dlcore.rot90(z, 1), [D(a, device, True)])
    gradcheck(lambda z: dlcore.rot90(z, 3, [1, 0]), [D(a, device, True)])
    with pytest.raises(RuntimeError, match="rot90"):
        dlcore.rot90(D(a, device), 1, [0, 0])
    with pytest.raises(RuntimeError, match="rot90"):
        dlcore.rot90(D(a[0], device))


def test_moveaxis_ravel_atleast(device, rng):
    a = rand(rng, (2, 3, 4))
    x, t = D(a, device), TT(a)
    same(dlcore.moveaxis(x, [0, -1], [-1, 1]), torch.moveaxis(t, [0, -1], [-1, 1]), exact=True)
    same(x.moveaxis(0, 2), t.moveaxis(0, 2), exact=True)
    same(dlcore.ravel(x.transpose(0, 2)), torch.ravel(t.transpose(0, 2)), exact=True)
    same(x.permute(2, 0, 1).ravel(), t.permute(2, 0, 1).ravel(), exact=True)
    for fn in ("atleast_1d", "atleast_2d", "atleast_3d"):
        for arr in (np.float64(2.0), a[0, 0], a[0], a):
            same(getattr(dlcore, fn)(D(arr, device)), getattr(torch, fn)(TT(arr)), exact=True)
        same(getattr(dlcore, fn)(D(a[0, 0], device), D(a, device)), getattr(torch, fn)(TT(a[0, 0]), TT(a)),
             exact=True)
        same(getattr(dlcore, fn)([D(a[0], device), D(a, device)]), getattr(torch, fn)([TT(a[0]), TT(a)]),
             exact=True)


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid_cartesian_combinations(indexing, device, rng):
    a, b, c = rand(rng, (3,)), rand(rng, (2,)), rand(rng, (4,))
    same(dlcore.meshgrid(D(a, device), D(b, device), D(c, device), indexing=indexing),
         torch.meshgrid(TT(a), TT(b), TT(c), indexing=indexing), exact=True)
    same(dlcore.meshgrid([D(a, device), D(np.float64(1.5), device)], indexing=indexing),
         torch.meshgrid([TT(a), TT(np.float64(1.5))], indexing=indexing), exact=True)
    same(dlcore.cartesian_prod(D(a, device), D(b, device), D(c, device)),
         torch.cartesian_prod(TT(a), TT(b), TT(c)), exact=True)
    same(dlcore.cartesian_prod(D(a, device)), torch.cartesian_prod(TT(a)), exact=True)
    for r in (1, 2, 3, 5):
        for wr in (False, True):
            same(dlcore.combinations(D(c, device), r, wr), torch.combinations(TT(c), r, wr), exact=True)
    x, y = D(a, device, True), D(b, device, True)
    gx, gy = dlcore.meshgrid(x, y, indexing=indexing)
    (gx * 2 + gy * 3).sum().backward()
    assert_close(N(x.grad), np.full(3, 4.0)) and None
    assert_close(N(y.grad), np.full(2, 9.0)) and None
    with pytest.raises(RuntimeError, match=r"meshgrid.*\[2, 2\]"):
        dlcore.meshgrid(D(np.zeros((2, 2)), device))
    with pytest.raises(RuntimeError, match="meshgrid.*float64.*int64"):
        dlcore.meshgrid(D(a, device), D(np.arange(2), device))
    with pytest.raises(ValueError, match="indexing"):
        dlcore.meshgrid(D(a, device), indexing="ji")


def test_block_diag_kron_cross(device, float_dtype, rng):
    parts = [rand(rng, (2, 3), float_dtype), rand(rng, (1,), float_dtype).reshape(()),
             rand(rng, (4,), float_dtype), rand(rng, (0, 2), float_dtype), rand(rng, (3, 1), float_dtype)]
    same(dlcore.block_diag(*[D(p, device) for p in parts]), torch.block_diag(*[TT(p) for p in parts]), exact=True)
    for sa, sb in (((2, 3), (3, 2)), ((3,), (2, 2)), ((2, 1, 2), (3, 2)), ((), (3,))):
        a, b = rand(rng, sa, float_dtype), rand(rng, sb, float_dtype)
        same(dlcore.kron(D(a, device), D(b, device)), torch.kron(TT(a), TT(b)))
    a, b = rand(rng, (4, 3, 2), float_dtype), rand(rng, (1, 3, 2), float_dtype)
    same(dlcore.cross(D(a, device), D(b, device), dim=1), torch.cross(TT(a), TT(b), dim=1))
    same(D(a, device).cross(D(b, device), -2), TT(a).cross(TT(b), -2))
    a2, b2 = rand(rng, (2, 3), float_dtype), rand(rng, (2, 3), float_dtype)
    same(dlcore.cross(D(a2, device), D(b2, device)), torch.linalg.cross(TT(a2), TT(b2)))
    with pytest.raises(RuntimeError, match=r"cross\(\).*\[4, 3, 2\]"):
        dlcore.cross(D(a, device), D(b, device), dim=2)
    with pytest.raises(RuntimeError, match="block_diag"):
        dlcore.block_diag(D(np.zeros((1, 1, 1)), device))


def test_block_diag_kron_cross_grads(device, rng):
    a, b = rng.standard_normal((2, 2)), rng.standard_normal((3,))
    gradcheck(lambda u, v: dlcore.block_diag(u, v), [D(a, device, True), D(b, device, True)])
    gradcheck(lambda u, v: dlcore.kron(u, v), [D(a, device, True), D(b, device, True)])
    c, d = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    gradcheck(lambda u, v: dlcore.cross(u, v, dim=1), [D(c, device, True), D(d, device, True)])


def test_stack_split_family(device, rng):
    v, m, c = rand(rng, (3,)), rand(rng, (3, 2)), rand(rng, (3, 2, 2))
    same(dlcore.column_stack([D(v, device), D(m, device)]), torch.column_stack([TT(v), TT(m)]), exact=True)
    same(dlcore.row_stack([D(v[:2], device), D(m.T, device)[:, :2]]), torch.vstack([TT(v[:2]), TT(m.T)[:, :2]]),
         exact=True)
    same(dlcore.dstack([D(m, device), D(c, device)]), torch.dstack([TT(m), TT(c)]), exact=True)
    same(dlcore.dstack([D(v, device), D(v, device)]), torch.dstack([TT(v), TT(v)]), exact=True)
    a = rand(rng, (4, 6, 2))
    x, t = D(a, device), TT(a)
    for s in (2, [1, 4], [5]):
        same(dlcore.hsplit(x, s), torch.hsplit(t, s), exact=True)
        same(x.vsplit(s), t.vsplit(s), exact=True)
        same(x.dsplit(s if s != 2 else 1), t.dsplit(s if s != 2 else 1), exact=True)
    same(dlcore.hsplit(D(v, device), 3), torch.hsplit(TT(v), 3), exact=True)
    same(x.split_with_sizes([1, 2, 3], 1), t.split_with_sizes([1, 2, 3], 1), exact=True)
    same(dlcore.split_with_sizes(x, [4], 0), torch.split_with_sizes(t, [4], 0), exact=True)
    with pytest.raises(RuntimeError, match="hsplit.*6.*4"):
        dlcore.hsplit(x, 4)
    with pytest.raises(RuntimeError, match="dsplit"):
        dlcore.dsplit(D(m, device), 2)
    with pytest.raises(ValueError, match="split_with_sizes"):
        x.split_with_sizes([1, 2], 1)


@pytest.mark.parametrize("shape,dim,size,step", [((7,), 0, 3, 2), ((4, 9), 1, 4, 1), ((4, 9), -2, 2, 3),
                                                 ((5, 3), 0, 5, 1), ((6,), 0, 0, 1), ((2, 3, 4), 1, 1, 2)])
def test_unfold(shape, dim, size, step, device, float_dtype, rng):
    a = rand(rng, shape, float_dtype)
    x, t = D(a, device), TT(a)
    u = x.unfold(dim, size, step)
    same(u, t.unfold(dim, size, step), exact=True)
    same(noncontig(x).unfold(dim, size, step), noncontig(t).unfold(dim, size, step), exact=True)
    x.mul_(2)  # a view: sees its base's change
    same(u, t.unfold(dim, size, step) * 2, exact=True)
    xg, tg = D(a.astype(np.float64), device, True), TT(a.astype(np.float64), True)
    ug, utg = xg.unfold(dim, size, step), tg.unfold(dim, size, step)
    w = rng.standard_normal(tuple(utg.shape))
    (ug * D(w, device)).sum().backward()
    (utg * TT(w)).sum().backward()
    same(xg.grad, tg.grad)


def test_unfold_errors(device):
    x = D(np.zeros((3, 4)), device)
    with pytest.raises(RuntimeError, match=r"unfold.*size is 5"):
        x.unfold(1, 5, 1)
    with pytest.raises(RuntimeError, match="step"):
        x.unfold(1, 2, 0)
    same(D(np.float64(3.0), device).unfold(0, 1, 1), TT(np.float64(3.0)).unfold(0, 1, 1), exact=True)


def test_view_scatters(device, float_dtype, rng):
    a = rand(rng, (4, 5, 3), float_dtype)
    x, t = D(a, device), TT(a)
    s1 = rand(rng, (4, 3), float_dtype)
    same(dlcore.select_scatter(x, D(s1, device), 1, -2), torch.select_scatter(t, TT(s1), 1, -2), exact=True)
    s2 = rand(rng, (4, 2, 3), float_dtype)
    same(x.slice_scatter(D(s2, device), 1, 1, 5, 2), t.slice_scatter(TT(s2), 1, 1, 5, 2), exact=True)
    same(dlcore.slice_scatter(x, D(s2[:, :2], device), dim=1, end=2), torch.slice_scatter(t, TT(s2[:, :2]), dim=1,
                                                                                          end=2), exact=True)
    s3 = rand(rng, (3, 4), float_dtype)
    same(dlcore.diagonal_scatter(x, D(s3, device), 1, 0, 1), torch.diagonal_scatter(t, TT(s3), 1, 0, 1),
         exact=True)
    s4 = rand(rng, (5, 2), float_dtype)
    same(x.diagonal_scatter(D(s4, device), -1, 2, 0), t.diagonal_scatter(TT(s4), -1, 2, 0), exact=True)
    same(dlcore.narrow_copy(x, -1, 1, 2), torch.narrow_copy(t, -1, 1, 2), exact=True)
    with pytest.raises(RuntimeError, match=r"select_scatter.*\[4, 2\].*\[4, 3\]"):
        dlcore.select_scatter(x, D(np.zeros((4, 2), float_dtype), device), 1, 0)
    b, s = rng.standard_normal((3, 4)), rng.standard_normal((3, 2))
    gradcheck(lambda u, v: dlcore.slice_scatter(u, v, 1, 0, 4, 2), [D(b, device, True), D(s, device, True)])
    gradcheck(lambda u, v: dlcore.select_scatter(u, v, 0, 1), [D(b, device, True), D(s[:, 0].copy()[:1].repeat(4),
                                                                                      device, True)])
    gradcheck(lambda u, v: dlcore.diagonal_scatter(u, v, 1), [D(b, device, True), D(s[:, 0].copy(), device, True)])


def test_masked_scatter_put_take(device, float_dtype, rng):
    a = rand(rng, (3, 4), float_dtype)
    mask = rng.integers(0, 2, (3, 4)).astype(bool)
    src = rand(rng, (13,), float_dtype)
    x, t = D(a, device), TT(a)
    same(dlcore.masked_scatter(x, D(mask, device), D(src, device)), torch.masked_scatter(t, TT(mask), TT(src)),
         exact=True)
    m1 = mask[:1]
    same(x.masked_scatter(D(m1, device), D(src, device)), t.masked_scatter(TT(m1), TT(src)), exact=True)
    y, u = x.clone(), t.clone()
    y.masked_scatter_(D(mask, device), D(src, device))
    u.masked_scatter_(TT(mask), TT(src))
    same(y, u, exact=True)
    with pytest.raises(RuntimeError, match="masked_scatter"):
        dlcore.masked_scatter(x, D(np.ones((3, 4), bool), device), D(src[:5], device))
    idx = np.array([[0, -1], [5, 3]])
    v = rand(rng, (2, 2), float_dtype)
    same(dlcore.put(x, D(idx, device), D(v, device)), torch.put(t, TT(idx), TT(v)), exact=True)
    idx2 = np.array([1, 1, -12, 2])
    for acc in (False, True):
        y, u = x.clone(), t.clone()
        y.put_(D(idx2[2:] if not acc else idx2, device), D(v.reshape(-1)[2:] if not acc else v.reshape(-1),
                                                                device), acc)
        u.put_(TT(idx2[2:] if not acc else idx2), TT(v.reshape(-1)[2:] if not acc else v.reshape(-1)), acc)
        same(y, u)
    same(dlcore.take(noncontig(x), D(idx, device)), torch.take(noncontig(t), TT(idx)), exact=True)
    with pytest.raises(IndexError, match="put"):
        dlcore.put(x, D(np.array([12]), device), D(v.reshape(-1)[:1], device))
    b, s = rng.standard_normal((3, 4)), rng.standard_normal(12)
    gradcheck(lambda u, w: dlcore.masked_scatter(u, D(mask, device), w), [D(b, device, True), D(s, device, True)])
    gradcheck(lambda u, w: dlcore.put(u, D(idx2, device), w, accumulate=True),
              [D(b, device, True), D(s[:4], device, True)])


def test_index_put_fill_diagonal(device, float_dtype, rng):
    a = rand(rng, (4, 3), float_dtype)
    idx = (np.array([0, 2, 0]), np.array([1, 1, 1]))
    v = rand(rng, (3,), float_dtype)
    for acc in (False, True):
        x, t = D(a, device), TT(a)
        r = dlcore.index_put_(x, tuple(D(i, device) for i in idx), D(v, device), acc)
        torch.index_put_(t, tuple(TT(i) for i in idx), TT(v), acc)
        assert r is x
        if acc:
            same(x, t)
        same(D(a, device).index_put(tuple(D(i, device) for i in idx), D(v, device), True),
             TT(a).index_put(tuple(TT(i) for i in idx), TT(v), True))
    for shape in ((4, 3), (3, 5), (7, 3), (3, 3, 3)):
        for wrap in (False, True):
            x, t = D(np.zeros(shape, float_dtype), device), TT(np.zeros(shape, float_dtype))
            x.fill_diagonal_(2.5, wrap)
            t.fill_diagonal_(2.5, wrap)
            same(x, t, exact=True)
    with pytest.raises(RuntimeError, match="fill_diagonal_"):
        D(np.zeros((2, 3, 2)), device).fill_diagonal_(1)
    y = D(rng.standard_normal((3, 3)), device, True) * 1
    y.fill_diagonal_(0)
    y.sum().backward()


# ------------------------------------------------------------------------------------------------- searching, counting

@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_bucketize(right, device, float_dtype, rng):
    seq = np.sort(rng.integers(0, 8, 9)).astype(float_dtype)
    vals = rng.integers(-1, 10, (3, 4)).astype(float_dtype)
    vals[0, 0] = np.nan
    same(dlcore.searchsorted(D(seq, device), D(vals, device), right=right),
         torch.searchsorted(TT(seq), TT(vals), right=right), exact=True)
    side = "right" if right else "left"
    same(dlcore.searchsorted(D(seq, device), D(vals, device), side=side, out_int32=True),
         torch.searchsorted(TT(seq), TT(vals), side=side, out_int32=True), exact=True)
    bseq = np.sort(rng.standard_normal((3, 6)), axis=1).astype(float_dtype)
    bvals = rng.standard_normal((3, 5)).astype(float_dtype)
    bvals[1, :2] = bseq[1, 2:4]
    same(dlcore.searchsorted(D(bseq, device), D(bvals, device), right=right),
         torch.searchsorted(TT(bseq), TT(bvals), right=right), exact=True)
    perm = rng.permutation(9)
    unsorted = seq[perm]
    sorter = np.argsort(unsorted, kind="stable")
    same(dlcore.searchsorted(D(unsorted, device), D(vals, device), right=right, sorter=D(sorter, device)),
         torch.searchsorted(TT(unsorted), TT(vals), right=right, sorter=TT(sorter)), exact=True)
    same(dlcore.searchsorted(D(seq, device), 3.0, right=right), torch.searchsorted(TT(seq), 3.0, right=right),
         exact=True)
    same(dlcore.searchsorted(D(seq[:0], device), D(vals, device)), torch.searchsorted(TT(seq[:0]), TT(vals)),
         exact=True)
    same(dlcore.searchsorted(D(seq, device), D(vals[:0], device)), torch.searchsorted(TT(seq), TT(vals[:0])),
         exact=True)
    same(dlcore.searchsorted(D(bseq[:0], device), D(bvals[:0], device)),
         torch.searchsorted(TT(bseq[:0]), TT(bvals[:0])), exact=True)
    same(dlcore.bucketize(D(vals, device), D(seq, device), right=right),
         torch.bucketize(TT(vals), TT(seq), right=right), exact=True)
    iseq, ivals = seq.astype(np.int64), rng.integers(-1, 10, 7)
    same(dlcore.searchsorted(D(iseq, device), D(ivals, device), right=right),
         torch.searchsorted(TT(iseq), TT(ivals), right=right), exact=True)
    with pytest.raises(ValueError, match="searchsorted"):
        dlcore.searchsorted(D(seq, device), D(vals, device), right=True, side="left")
    with pytest.raises(RuntimeError, match=r"searchsorted.*\[3, 6\].*\[2, 5\]"):
        dlcore.searchsorted(D(bseq, device), D(bvals[:2], device))
    with pytest.raises(RuntimeError, match="bucketize"):
        dlcore.bucketize(D(vals, device), D(bseq, device))


def test_isin(device, rng):
    e = rng.integers(0, 10, (3, 5))
    te = rng.integers(0, 10, 6)
    for inv in (False, True):
        same(dlcore.isin(D(e, device), D(te, device), invert=inv), torch.isin(TT(e), TT(te), invert=inv),
             exact=True)
    same(dlcore.isin(D(e.astype(np.float32), device), D(te, device)), torch.isin(TT(e.astype(np.float32)),
                                                                                 TT(te)), exact=True)
    same(dlcore.isin(D(e, device), 3), torch.isin(TT(e), 3), exact=True)
    same(dlcore.isin(4, D(te, device)), torch.isin(4, TT(te)), exact=True)
    same(dlcore.isin(D(e, device), D(te[:0], device)), torch.isin(TT(e), TT(te[:0])), exact=True)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "bool"])
def test_unique(dtype, device, rng):
    a = rng.integers(0, 5, (4, 6)).astype(dtype)
    x, t = D(a, device), TT(a)
    for inv in (False, True):
        for cnt in (False, True):
            same(dlcore.unique(x, return_inverse=inv, return_counts=cnt),
                 torch.unique(t, return_inverse=inv, return_counts=cnt), exact=True)
            same(x.unique_consecutive(return_inverse=inv, return_counts=cnt),
                 t.unique_consecutive(return_inverse=inv, return_counts=cnt), exact=True)
            for dim in (0, 1, -1):
                same(dlcore.unique(x[:, :2] if dim else x[:, :1], return_inverse=inv, return_counts=cnt, dim=dim),
                     torch.unique(t[:, :2] if dim else t[:, :1], return_inverse=inv, return_counts=cnt, dim=dim),
                     exact=True)
                same(dlcore.unique_consecutive(x[:, :1], return_inverse=inv, return_counts=cnt, dim=dim),
                     torch.unique_consecutive(t[:, :1], return_inverse=inv, return_counts=cnt, dim=dim), exact=True)
    same(x.unique(sorted=False), torch.unique(t, sorted=True), exact=True)
    with pytest.raises(IndexError, match="unique"):
        dlcore.unique(x, dim=2)
    same(dlcore.unique(x[:0]), torch.unique(t[:0]), exact=True)


def test_bincount_histc_argwhere(device, float_dtype, rng):
    a = rng.integers(0, 6, 20)
    w = rand(rng, (20,), float_dtype)
    x, t = D(a, device), TT(a)
    same(dlcore.bincount(x), torch.bincount(t), exact=True)
    same(x.bincount(minlength=9), t.bincount(minlength=9), exact=True)
    same(dlcore.bincount(x, D(w, device)), torch.bincount(t, TT(w)))
    same(dlcore.bincount(D(a[:0], device), minlength=3), torch.bincount(TT(a[:0]), minlength=3), exact=True)
    with pytest.raises(RuntimeError, match="bincount"):
        dlcore.bincount(D(np.array([1, -1]), device))
    with pytest.raises(RuntimeError, match=r"bincount.*\[2, 2\]"):
        dlcore.bincount(D(np.zeros((2, 2), np.int64), device))
    h = rng.uniform(-2, 2, (5, 13)).astype(float_dtype)
    for bins, lo, hi in ((10, 0, 0), (7, -1, 1.5), (1, 0, 0), (4, 3, 5)):
        same(dlcore.histc(D(h, device), bins, lo, hi), torch.histc(TT(h), bins, lo, hi), exact=True)
    same(D(np.full(4, 2.0, float_dtype), device).histc(3), TT(np.full(4, 2.0, float_dtype)).histc(3), exact=True)
    m = rng.integers(0, 2, (3, 4))
    same(dlcore.argwhere(D(m, device)), torch.argwhere(TT(m)), exact=True)
    same(D(m, device).argwhere(), TT(m).argwhere(), exact=True)


# ------------------------------------------------------------------------------------------------- linear algebra

@pytest.mark.parametrize("p", [0.0, 1.0, 1.5, 2.0, 3.0, float("inf")])
@pytest.mark.parametrize("shapes", [((4, 3), (5, 3)), ((2, 3, 2), (1, 4, 2)), ((30, 3), (6, 3)), ((0, 3), (2, 3))])
def test_cdist(p, shapes, device, float_dtype, rng):
    a, b = rand(rng, shapes[0], float_dtype), rand(rng, shapes[1], float_dtype)
    same(dlcore.cdist(D(a, device), D(b, device), p), torch.cdist(TT(a), TT(b), p),
         rtol=1e-4 if float_dtype == "float32" else None, atol=1e-4 if float_dtype == "float32" else None)
    if p in (1.0, 2.0, 3.0, float("inf")) and shapes[0][0]:
        x, y = D(a.astype(np.float64), device, True), D(b.astype(np.float64), device, True)
        u, v = TT(a.astype(np.float64), True), TT(b.astype(np.float64), True)
        w = rng.standard_normal(torch.cdist(u, v, p).shape)
        dlcore.cdist(x, y, p).backward(D(w, device))
        torch.cdist(u, v, p).backward(TT(w))
        same(x.grad, u.grad)
        same(y.grad, v.grad)


def test_cdist_errors_and_zero_distance(device):
    a = D(np.zeros((2, 3)), device)
    with pytest.raises(RuntimeError, match=r"cdist.*X1: 3 X2: 2"):
        dlcore.cdist(a, D(np.zeros((2, 2)), device))
    with pytest.raises(RuntimeError, match="cdist"):
        dlcore.cdist(D(np.zeros(3), device), a)
    x = D(np.ones((2, 3)), device, True)
    dlcore.cdist(x, D(np.ones((2, 3)), device)).sum().backward()
    assert_close(N(x.grad), np.zeros((2, 3)))


def test_tensordot_inner_vdot(device, float_dtype, rng):
    a, b = rand(rng, (2, 3, 4), float_dtype), rand(rng, (3, 4, 5), float_dtype)
    same(dlcore.tensordot(D(a, device), D(b, device)), torch.tensordot(TT(a), TT(b)))
    same(dlcore.tensordot(D(a, device), D(b, device), dims=([1, 2], [0, 1])),
         torch.tensordot(TT(a), TT(b), dims=([1, 2], [0, 1])))
    same(dlcore.tensordot(D(a, device), D(b, device), dims=0), torch.tensordot(TT(a), TT(b), dims=0))
    c = rand(rng, (5, 4), float_dtype)
    same(dlcore.inner(D(a, device), D(c, device)), torch.inner(TT(a), TT(c)))
    same(D(c, device).inner(D(c[0], device)), TT(c).inner(TT(c[0])))
    same(dlcore.inner(D(c[0], device), D(c[1], device)), torch.inner(TT(c[0]), TT(c[1])))
    same(dlcore.inner(D(c, device), D(np.array(2.0, float_dtype), device)),
         torch.inner(TT(c), TT(np.array(2.0, float_dtype))))
    same(dlcore.vdot(D(c[0], device), D(c[1], device)), torch.vdot(TT(c[0]), TT(c[1])))
    same(D(c[0], device).ger(D(c[1], device)), TT(c[0]).ger(TT(c[1])))
    with pytest.raises(RuntimeError, match=r"tensordot.*\[2, 3, 4\]"):
        dlcore.tensordot(D(a, device), D(b, device), dims=([0], [0]))
    with pytest.raises(RuntimeError, match="inner"):
        dlcore.inner(D(a, device), D(b, device))
    gradcheck(lambda u, v: dlcore.tensordot(u, v, ([0, 2], [1, 0])),
              [D(rng.standard_normal((2, 3, 4)), device, True), D(rng.standard_normal((4, 2)), device, True)])


@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, 2.0), (0, 1.5)])
def test_addmm_family(beta, alpha, device, float_dtype, rng):
    r = lambda *s: rand(rng, s, float_dtype)  # noqa: E731
    inp, m1, m2 = r(3, 5), r(3, 4), r(4, 5)
    same(D(inp, device).addmm(D(m1, device), D(m2, device), beta=beta, alpha=alpha),
         TT(inp).addmm(TT(m1), TT(m2), beta=beta, alpha=alpha))
    v = r(4)
    same(dlcore.addmv(D(inp[:, 0].copy(), device), D(m1, device), D(v, device), beta=beta, alpha=alpha),
         torch.addmv(TT(inp[:, 0].copy()), TT(m1), TT(v), beta=beta, alpha=alpha))
    same(D(inp, device).addr(D(inp[:, 0].copy(), device), D(inp[0], device), beta=beta, alpha=alpha),
         TT(inp).addr(TT(inp[:, 0].copy()), TT(inp[0]), beta=beta, alpha=alpha))
    b1, b2, bi = r(2, 3, 4), r(2, 4, 5), r(1, 5)
    same(dlcore.baddbmm(D(bi, device), D(b1, device), D(b2, device), beta=beta, alpha=alpha),
         torch.baddbmm(TT(bi), TT(b1), TT(b2), beta=beta, alpha=alpha))
    same(D(inp, device).addbmm(D(b1, device), D(b2, device), beta=beta, alpha=alpha),
         TT(inp).addbmm(TT(b1), TT(b2), beta=beta, alpha=alpha))
    nan_in = np.full((3, 5), np.nan, float_dtype)
    if beta == 0:  # the input is ignored
        same(dlcore.addbmm(D(nan_in, device), D(b1, device), D(b2, device), beta=0),
             torch.addbmm(TT(nan_in), TT(b1), TT(b2), beta=0))
    same(dlcore.chain_matmul(D(m1, device), D(m2, device), D(r(5, 2), device)) .shape, (3, 2)) if False else None
    c = r(5, 2)
    same(dlcore.chain_matmul(D(m1, device), D(m2, device), D(c, device)),
         torch.linalg.multi_dot([TT(m1), TT(m2), TT(c)]))
    with pytest.raises(RuntimeError, match=r"addmv.*\[3, 4\].*\[5\]"):
        dlcore.addmv(D(inp[:, 0].copy(), device), D(m1, device), D(r(5), device))


def test_addmm_family_grads(device, rng):
    r = lambda *s: D(rng.standard_normal(s), device, True)  # noqa: E731
    gradcheck(lambda i, a, b: dlcore.baddbmm(i, a, b, beta=0.5, alpha=2), [r(1, 3), r(2, 2, 4), r(2, 4, 3)])
    gradcheck(lambda i, a, b: dlcore.addbmm(i, a, b, beta=2), [r(2, 3), r(2, 2, 4), r(2, 4, 3)])
    gradcheck(lambda i, a, b: dlcore.addmv(i, a, b, alpha=3), [r(2), r(2, 4), r(4)])
    gradcheck(lambda i, a, b: dlcore.addr(i, a, b), [r(2, 3), r(2), r(3)])


# ------------------------------------------------------------------------------------------------- predicates, new

def test_predicates_and_constructors(device, rng):
    x = D(np.array([1.5]), device)
    assert dlcore.is_nonzero(x) is True and D(np.array([[0]]), device).is_nonzero() is False
    with pytest.raises(RuntimeError, match="more than one"):
        dlcore.is_nonzero(D(np.zeros(2), device))
    with pytest.raises(RuntimeError, match="no values"):
        dlcore.is_nonzero(D(np.zeros(0), device))
    assert dlcore.is_same_size(x, D(np.zeros(1), device)) and not x.is_same_size(D(np.zeros(2), device))
    for dt in ("float32", "int64", "int32", "uint8", "bool"):
        a = np.zeros(2, dt)
        assert D(a, device).is_signed() == TT(a).is_signed() and dlcore.is_signed(D(a, device)) == TT(a).is_signed()
    assert dlcore.is_complex(x) is False and x.is_complex() is False
    assert dlcore.positive(x) is x and x.positive() is x
    with pytest.raises(TypeError, match="positive"):
        dlcore.positive(D(np.zeros(2, bool), device))
    e = x.new()
    assert e.shape == (0,) and e.dtype == x.dtype and e.device == x.device
    assert x.new(2, 3).shape == (2, 3) and x.new(dlcore.Size([4])).shape == (4,)
    same(x.new([1, 2]), torch.tensor([1.5], dtype=torch.float64).new([1, 2]), exact=True)
    s = x.new_empty_strided((2, 3), (1, 2))
    assert s.shape == (2, 3) and s.stride() == (1, 2) and s.dtype == x.dtype
    a = rng.standard_normal((2, 3, 4))
    for size in ((3, 4), (1, 4), (2, 1, 1), (1, 1, 1), (3, 1), (2, 3, 4)):
        y, t = D(a, device, True), TT(a, True)
        same(y.sum_to_size(*size), t.sum_to_size(*size))
        w = rng.standard_normal(size)
        y.sum_to_size(size).backward(D(w, device))
        t.sum_to_size(size).backward(TT(w))
        same(y.grad, t.grad)
    with pytest.raises(RuntimeError, match="sum_to_size"):
        D(a, device).sum_to_size(2, 4)


def test_resize(device, rng):
    a = rng.standard_normal((3, 4))
    for size in ((4, 3), (2, 2), (5, 3), (12,)):
        x, t = D(a, device), TT(a).clone()
        r = x.resize_(*size)
        t.resize_(*size)
        assert r is x and x.shape == tuple(size) and x.is_contiguous()
        k = min(12, int(np.prod(size)))
        assert_close(N(x).reshape(-1)[:k], t.numpy().reshape(-1)[:k], rtol=0, atol=0)
    x = D(a, device)
    x.resize_as_(D(np.zeros((6, 2)), device))
    assert x.shape == (6, 2)
    dlcore.resize_as_(x, D(np.zeros(3), device))
    assert x.shape == (3,)
    with pytest.raises(RuntimeError, match="resize_"):
        D(a, device, True).resize_(2)


# ------------------------------------------------------------------------------------------------- in-place variants

def _inplace_cases(rng):
    a = rng.standard_normal((3, 4))
    b = rng.standard_normal((3, 4))
    return a, b, [
        ("tril_", (1,)), ("triu_", (-1,)), ("clamp_min_", (0.1,)), ("clamp_max_", (0.2,)), ("cumsum_", (1,)),
        ("cumprod_", (0,)), ("lerp_", ("B", 0.3)), ("addcmul_", ("B", "B")), ("addcdiv_", ("B", "B")),
    ]


def test_inplace_values_and_grads(device, rng):
    a, b, cases = _inplace_cases(rng)
    for name, args in cases:
        # values, no autograd
        x, t = D(a, device), TT(a).clone()
        dargs = [D(b, device) if s == "B" else s for s in args]
        targs = [TT(b) if s == "B" else s for s in args]
        r = getattr(x, name)(*dargs)
        getattr(t, name)(*targs)
        assert r is x
        same(x, t)
        # through autograd: a non-leaf modified in place, gradients to the leaf and the other operand
        xl, tl = D(a, device, True), TT(a, True)
        bl, ul = D(b, device, True), TT(b, True)
        y, u = xl * 1.5, tl * 1.5
        dargs = [bl if s == "B" else s for s in args]
        targs = [ul if s == "B" else s for s in args]
        getattr(y, name)(*dargs)
        getattr(u, name)(*targs)
        w = rng.standard_normal((3, 4))
        (y * D(w, device)).sum().backward()
        (u * TT(w)).sum().backward()
        same(y.detach(), u.detach())
        same(xl.grad, tl.grad)
        if "B" in args:
            same(bl.grad, ul.grad)
        with pytest.raises(RuntimeError, match="leaf"):
            getattr(D(a, device, True), name)(*[D(b, device) if s == "B" else s for s in args])
    assert dlcore.clamp_min_(D(a, device), 0.0).min().item() >= 0


def test_inplace_on_view_rebases_base(device, rng):
    a = rng.standard_normal((3, 4))
    x, t = D(a, device, True), TT(a, True)
    y, u = x * 2, t * 2
    y[1:].clamp_min_(0.5)
    u[1:].clamp_min_(0.5)
    y[:, 1:3].tril_()
    u[:, 1:3].tril_()
    same(y.detach(), u.detach())
    (y * y).sum().backward()
    (u * u).sum().backward()
    same(x.grad, t.grad)


def test_inplace_comparisons_logical_bitwise(device, rng):
    a = rng.integers(-2, 3, (3, 4)).astype(np.float32)
    b = rng.integers(-2, 3, (3, 4)).astype(np.float32)
    for name in ("eq_", "ne_", "lt_", "le_", "gt_", "ge_", "greater_", "greater_equal_", "less_", "less_equal_",
                 "not_equal_", "logical_and_", "logical_or_", "logical_xor_"):
        x, t = D(a, device), TT(a).clone()
        assert getattr(x, name)(D(b, device)) is x
        getattr(t, name)(TT(b))
        same(x, t, exact=True)
        x, t = D(a, device), TT(a).clone()
        getattr(x, name)(1.0) if not name.startswith("logical") else getattr(x, name)(D(b[0], device))
        getattr(t, name)(1.0) if not name.startswith("logical") else getattr(t, name)(TT(b[0]))
        same(x, t, exact=True)
    x, t = D(a, device), TT(a).clone()
    x.logical_not_()
    t.logical_not_()
    same(x, t, exact=True)
    ia, ib = rng.integers(0, 8, (5,)), rng.integers(0, 8, (5,))
    for name in ("bitwise_and_", "bitwise_or_", "bitwise_xor_"):
        x, t = D(ia, device), TT(ia).clone()
        getattr(x, name)(D(ib, device))
        getattr(t, name)(TT(ib))
        same(x, t, exact=True)
    x, t = D(ia, device), TT(ia).clone()
    x.bitwise_not_()
    t.bitwise_not_()
    same(x, t, exact=True)
    # a comparison overwrites a recorded tensor: no gradient flows to its old history
    xl = D(a.astype(np.float64), device, True)
    y = xl * 3
    y.gt_(0)
    (y * 2 + xl).sum().backward()
    assert_close(N(xl.grad), np.ones((3, 4)))
    with pytest.raises(TypeError, match="lerp_"):
        D(ia, device).lerp_(D(ib.astype(np.float32), device), 0.5)


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_scatter_reduce(reduce, include_self, dtype, device, rng):
    a = rng.integers(-3, 4, (3, 5)).astype(dtype)
    src = rng.integers(-3, 4, (4, 6)).astype(dtype)
    idx = rng.integers(0, 3, (2, 4))  # smaller than src: only src's leading (2, 4) block is read
    for dim in (0, -2):
        same(dlcore.scatter_reduce(D(a, device), dim, D(idx, device), D(src, device), reduce,
                                   include_self=include_self),
             torch.scatter_reduce(TT(a), dim, TT(idx), TT(src), reduce, include_self=include_self), exact=True)
    idx1 = rng.integers(0, 5, (3, 2))
    x, t = D(a, device), TT(a).clone()
    assert x.scatter_reduce_(1, D(idx1, device), D(src, device), reduce, include_self=include_self) is x
    t.scatter_reduce_(1, TT(idx1), TT(src), reduce, include_self=include_self)
    same(x, t, exact=True)


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_grad(reduce, include_self, device, rng):
    a = rng.integers(-2, 3, (3, 4)).astype(np.float64)  # ties and zeros: the special cases of amax and prod
    src = rng.integers(-2, 3, (3, 4)).astype(np.float64)
    idx = rng.integers(0, 3, (3, 4))
    x, t = D(a, device, True), TT(a, True)
    y, u = D(src, device, True), TT(src, True)
    w = rng.standard_normal((3, 4))
    (dlcore.scatter_reduce(x, 0, D(idx, device), y, reduce, include_self=include_self) * D(w, device)).sum() \
        .backward()
    (torch.scatter_reduce(t, 0, TT(idx), u, reduce, include_self=include_self) * TT(w)).sum().backward()
    same(x.grad, t.grad)
    same(y.grad, u.grad)
    if reduce in ("sum", "mean", "prod"):  # src larger than index (torch's own backward rejects that for sum)
        b = rng.standard_normal((3, 4)) + 3
        gradcheck(lambda p, q: dlcore.scatter_reduce(p, 1, D(idx, device), q, reduce, include_self=include_self),
                  [D(b, device, True), D(rng.standard_normal((3, 5)) + 3, device, True)])
    # in place on a recorded tensor
    x = D(a, device, True)
    z = x * 1
    z.scatter_reduce_(0, D(idx, device), y.detach(), reduce, include_self=include_self)
    z.sum().backward()
    with pytest.raises(ValueError, match="scatter_reduce"):
        dlcore.scatter_reduce(D(a, device), 0, D(idx, device), D(src, device), "max")
    with pytest.raises(IndexError, match=r"scatter_reduce\(\): index 7 is out of bounds"):
        dlcore.scatter_reduce(D(a, device), 0, D(np.full((1, 1), 7), device), D(src, device), reduce,
                              include_self=False)


@pytest.mark.parametrize("name,args", [("t_", ()), ("transpose_", (0, -1)), ("swapaxes_", (1, 0)),
                                       ("swapdims_", (0, 1)), ("squeeze_", ()), ("squeeze_", (1,)),
                                       ("unsqueeze_", (0,)), ("unsqueeze_", (-1,)), ("unsqueeze_", (1,))])
def test_inplace_view_ops(name, args, device, rng):
    a = rng.standard_normal((3, 1, 4)) if name.startswith("squeeze") else rng.standard_normal((3, 4))
    x, t = D(a, device), TT(a).clone()
    r = getattr(x, name)(*args)
    getattr(t, name)(*args)
    assert r is x
    same(x, t, exact=True)
    assert x.stride() == t.stride()
    # storage shared with a view taken before
    x2 = D(a, device)
    v = x2[:]
    getattr(x2, name)(*args)
    v.mul_(2)
    same(x2, getattr(TT(a).clone(), name)(*args) * 2, exact=True)
    # autograd: the history of a non-leaf follows its new geometry
    xl, tl = D(a, device, True), TT(a, True)
    y, u = xl * 2, tl * 2
    getattr(y, name)(*args)
    getattr(u, name)(*args)
    w = rng.standard_normal(tuple(u.shape))
    (y * D(w, device)).sum().backward()
    (u * TT(w)).sum().backward()
    same(xl.grad, tl.grad)
    with pytest.raises(RuntimeError, match="leaf"):
        getattr(D(a, device, True), name)(*args)
    if name == "t_":
        with pytest.raises(RuntimeError, match=r"t_\(\).*3D"):
            D(np.zeros((2, 2, 2)), device).t_()


# ------------------------------------------------------------------------------------------------- fuzz regressions

def test_masked_scatter_0d(device):
    for m in (True, False):
        x = np.array(1.5)
        got = dlcore.masked_scatter(D(x, device), D(np.array(m), device), D(np.array([7.0, 8.0]), device))
        want = torch.masked_scatter(TT(x), torch.tensor(m), TT(np.array([7.0, 8.0])))
        assert tuple(got.shape) == ()
        same(got, want, exact=True)


@pytest.mark.parametrize("shape,dim", [((0, 0, 1), 0), ((0, 1, 4), -1), ((2, 0), 0), ((0, 3), 0), ((3, 0), 1)])
def test_unique_dim_empty_inputs_like_torch(shape, dim, device):
    x = np.zeros(shape, dtype=np.int64)
    for fd, ft in ((dlcore.unique, torch.unique), (dlcore.unique_consecutive, torch.unique_consecutive)):
        try:
            want = ft(torch.from_numpy(x), return_inverse=True, return_counts=True, dim=dim)
        except RuntimeError:
            with pytest.raises(RuntimeError, match="unique"):
                fd(D(x, device), return_inverse=True, return_counts=True, dim=dim)
            continue
        same(fd(D(x, device), return_inverse=True, return_counts=True, dim=dim), want, exact=True)


@pytest.mark.parametrize("interpolation", ["linear", "midpoint"])
def test_quantile_with_infinities_uses_torchs_lerp(interpolation, device):
    # torch interpolates with lerp (a + w (b - a) below w = 0.5, b - (b - a)(1 - w) above), so an infinite
    # neighbour gives NaN where the naive formula would give inf
    inf = np.inf
    cases = [[1.0, inf], [inf, inf], [-inf, inf], [1.0, inf, inf], [1.0, 2.0, inf], [-inf, 1.0], [1.0, 2.0, 3.0]]
    for v in cases:
        for q in (0.0, 0.25, 0.5, 0.75, 0.9, 1.0):
            for fd, ft in ((dlcore.quantile, torch.quantile), (dlcore.nanquantile, torch.nanquantile)):
                got = fd(D(np.array(v), device), q, interpolation=interpolation)
                want = ft(TT(np.array(v)), q, interpolation=interpolation)
                np.testing.assert_allclose(N(got), N(want), rtol=1e-12, equal_nan=True, err_msg=f"{v} q={q}")


def test_quantile_gradient_reaches_q(device):
    # torch's quantile is differentiable with respect to a tensor q (linear interpolation: d/dq = (b - a)(n - 1))
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 5))
    x[1, 2] = np.nan
    q = np.array([0.1, 0.45, 0.93])  # (no integer rank: a kink of the interpolation)
    for fd, ft in ((dlcore.quantile, torch.quantile), (dlcore.nanquantile, torch.nanquantile)):
        dx, dq = D(x, device, grad=True), D(q, device, grad=True)
        tx, tq = TT(x, grad=True), TT(q, grad=True)
        w = rng.standard_normal((3, 3))
        (fd(dx, dq, dim=1) * D(w, device)).nansum().backward()
        (ft(tx, tq, dim=1) * TT(w)).nansum().backward()
        np.testing.assert_allclose(N(dq.grad), N(tq.grad), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(N(dx.grad), N(tx.grad), rtol=1e-10, atol=1e-12)
    gradcheck(lambda qq: dlcore.quantile(D(x[0], device), qq), (D(q, device, grad=True),))


@pytest.mark.parametrize("values", [[1.0, 2.0, 1.0, 3.0], [2.0, 2.0, 2.0], [np.nan, 1.0, np.nan], [5.0],
                                    [[1.0, 4.0], [1.0, 0.5]]])
def test_full_median_gradient_is_evenly_distributed_like_torch(values, device):
    # median() / nanmedian() without dim: torch's evenly_distribute_backward shares the gradient between every
    # element equal to the result (every NaN when it is NaN)
    x = np.array(values)
    for fd, ft in ((dlcore.median, torch.median), (dlcore.nanmedian, torch.nanmedian)):
        dx, tx = D(x, device, grad=True), TT(x, grad=True)
        (fd(dx) * 3.0).backward()
        (ft(tx) * 3.0).backward()
        np.testing.assert_allclose(N(dx.grad), N(tx.grad), rtol=1e-12, atol=0)


@pytest.mark.parametrize("n,r,wr", [(1, 2, False), (0, 3, False), (2, 3, False), (0, 1, True)])
def test_combinations_without_any_stays_in_the_graph(n, r, wr, device):
    x = np.arange(1.0, n + 1.0)
    dx, tx = D(x, device, grad=True), TT(x, grad=True)
    got, want = dlcore.combinations(dx, r, wr), torch.combinations(tx, r, wr)
    assert tuple(got.shape) == tuple(want.shape) and got.requires_grad == want.requires_grad
    got.sum().backward()
    want.sum().backward()
    np.testing.assert_array_equal(N(dx.grad), N(tx.grad))


@pytest.mark.parametrize("dtype", ["int64", "int32", "float32", "uint8"])
def test_searchsorted_cpu_kernel_large_and_integer(dtype, rng):
    """The cpu binary search (one per value, split over threads) against NumPy on long sequences with runs of
    equal values, both sides, a batch of sequences, values beyond both ends."""
    hi = 200 if dtype == "uint8" else 10 ** 6
    seq = np.sort(rng.integers(0, hi, 3000)).astype(dtype)
    vals = rng.integers(0, hi, 50000).astype(dtype)
    vals[:3] = [seq[0], seq[-1], seq[1500]]
    for side in ("left", "right"):
        got = dlcore.searchsorted(dlcore.tensor(seq), dlcore.tensor(vals), side=side).numpy()
        np.testing.assert_array_equal(got, np.searchsorted(seq, vals, side=side))
    bseq = np.sort(rng.integers(0, hi, (4, 300)), axis=1).astype(dtype)
    bvals = rng.integers(0, hi, (4, 7000)).astype(dtype)
    got = dlcore.searchsorted(dlcore.tensor(bseq), dlcore.tensor(bvals), right=True).numpy()
    np.testing.assert_array_equal(got, np.stack([np.searchsorted(bseq[i], bvals[i], side="right") for i in range(4)]))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "uint8", "int16"])
def test_cummax_cummin_cpu_kernel_long_lines(dtype, rng):
    """cummax/cummin's sequential cpu kernel (float32/64, int32/64; the others the log-step scan) against torch on
    long lines with many ties and NaNs, along the last and a middle dim."""
    a = rng.integers(0, 6, (3, 700, 5)).astype(dtype)
    if dtype.startswith("float"):
        a[rng.random(a.shape) < 0.01] = np.nan
    for dim in (1, 2, 0):
        for fn in ("cummax", "cummin"):
            same(tuple(getattr(dlcore, fn)(D(a, "cpu"), dim)), tuple(getattr(torch, fn)(TT(a), dim)), exact=True)


def test_cdist_gemm_form_one_node(rng):
    """cdist p=2 through the GEMM form as one autograd node (dx1 = x1 rowsum(G) - G x2, dx2 = x2 colsum(G) - G^T x1,
    G = g / d, 0 where d = 0): values and gradients vs float64 NumPy, batched, a zero distance, double backward."""
    from dlcore.testing import gradcheck, gradgradcheck
    a = rng.standard_normal((2, 30, 5))
    b = rng.standard_normal((2, 27, 5))
    b[:, 0] = a[:, 0]  # a zero distance: torch's subgradient 0
    x1, x2 = dlcore.tensor(a, requires_grad=True), dlcore.tensor(b, requires_grad=True)
    d = dlcore.cdist(x1, x2)
    diff = a[:, :, None, :] - b[:, None, :, :]
    ref = np.sqrt((diff ** 2).sum(-1))
    assert_close(d.detach().numpy(), ref, rtol=1e-6, atol=1e-6)
    g = rng.standard_normal(ref.shape)
    d.backward(dlcore.tensor(g))
    gd = np.where(ref == 0, 0.0, g / np.where(ref == 0, 1.0, ref))
    assert_close(x1.grad.numpy(), (gd[..., None] * diff).sum(2), rtol=1e-6, atol=1e-6)
    assert_close(x2.grad.numpy(), -(gd[..., None] * diff).sum(1), rtol=1e-6, atol=1e-6)
    p, q = (dlcore.tensor(rng.standard_normal(s), requires_grad=True) for s in ((30, 3), (28, 3)))
    assert gradcheck(lambda u, v: dlcore.cdist(u, v), [p, q])
    assert gradgradcheck(lambda u, v: dlcore.cdist(u, v), [p, q])
