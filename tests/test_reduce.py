"""Reductions vs NumPy float64: dims, keepdim, odd/empty shapes, non-contiguous inputs, every ISA, threads."""
import numpy as np
import pytest

import dlcore
from dlcore import _C
from dlcore.testing import assert_close

SHAPES_DIMS = [((17,), None), ((3, 5), 0), ((3, 5), 1), ((3, 5), (0, 1)), ((2, 3, 4), 1), ((2, 3, 4), (0, 2)),
               ((2, 3, 4), -1), ((1, 7, 1), None), ((4, 0, 3), 2), ((127, 33), 0), ((5,), 0), ((), None),
               ((6, 1, 5, 2), (1, 3))]


def _t(a, device):
    return dlcore.from_numpy(np.array(a, order="C")).to(device)


@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_mean_max_min(shape, dim, keepdim, float_dtype, device, rng):
    a = rng.standard_normal(shape).astype(float_dtype)
    x = _t(a, device)
    npdim = dim if not isinstance(dim, list) else tuple(dim)
    tol = dict(rtol=2e-6, atol=1e-5) if float_dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    assert_close(dlcore.sum(x, dim, keepdim), np.sum(a.astype(np.float64), axis=npdim, keepdims=keepdim), **tol)
    if a.size:
        assert_close(x.mean(dim, keepdim), np.mean(a.astype(np.float64), axis=npdim, keepdims=keepdim), **tol)
    nonempty = all(a.shape[d] > 0 for d in (range(a.ndim) if dim is None else np.atleast_1d(dim))) and a.size
    if nonempty:
        assert_close(dlcore.amax(x, dim if dim is not None else (), keepdim),
                     np.max(a, axis=npdim, keepdims=keepdim), rtol=0, atol=0)
        assert_close(dlcore.amin(x, dim if dim is not None else (), keepdim),
                     np.min(a, axis=npdim, keepdims=keepdim), rtol=0, atol=0)


def test_reductions_on_noncontiguous(rng):
    a = rng.standard_normal((8, 9, 10)).astype(np.float32)
    x = dlcore.from_numpy(a).permute(2, 0, 1)[:, ::2]
    ref = np.transpose(a, (2, 0, 1))[:, ::2].astype(np.float64)
    assert_close(x.sum((0, 2)), ref.sum(axis=(0, 2)), rtol=2e-6, atol=1e-5)
    assert_close(x.var(1), ref.var(axis=1, ddof=1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
def test_sum_accuracy_large_rows_every_isa(isa, rng):
    if isa != "scalar" and (_C._cpu_isa_supported() == "scalar" or isa == "avx512" and _C._cpu_isa_supported() != "avx512"):
        pytest.skip(f"no {isa}")
    _C._set_cpu_isa(isa)
    a = (rng.standard_normal(1_000_003) + 3.0).astype(np.float32)
    ref = a.astype(np.float64).sum()
    for n in (1, 2):
        dlcore.set_num_threads(n)
        got = dlcore.from_numpy(a).sum().item()
        assert abs(got - ref) <= 1e-5 * abs(ref), (got, ref)
    cols = (rng.standard_normal((20000, 37)) + 1.0).astype(np.float32)
    assert_close(dlcore.from_numpy(cols).sum(0), cols.astype(np.float64).sum(0), rtol=1e-5, atol=1e-3)


def test_integer_and_bool_reductions():
    a = np.arange(12, dtype=np.int32).reshape(3, 4)
    x = dlcore.from_numpy(a)
    s = x.sum(1)
    assert s.dtype == dlcore.int64 and s.tolist() == a.sum(1).tolist()
    assert x.prod(0).tolist() == a.prod(0).tolist()
    assert x.amax().item() == 11
    b = dlcore.tensor([[True, False], [True, True]])
    assert b.all(1).tolist() == [False, True]
    assert b.any(0).tolist() == [True, True]
    assert b.sum().item() == 3
    with pytest.raises(TypeError, match="floating"):
        x.mean()


def test_argmax_argmin_and_max_dim(rng):
    a = rng.standard_normal((5, 7)).astype(np.float32)
    x = dlcore.from_numpy(a)
    assert x.argmax().item() == int(np.argmax(a))
    assert x.argmax(1).tolist() == np.argmax(a, 1).tolist()
    assert x.argmin(0, keepdim=True).shape == (1, 7)
    vals, idx = x.max(1)
    assert_close(vals, a.max(1))
    assert idx.tolist() == a.argmax(1).tolist()
    assert x.min(0).indices.tolist() == a.argmin(0).tolist()
    ties = dlcore.tensor([1.0, 3.0, 3.0, 2.0])
    assert ties.argmax().item() == 1
    nan = dlcore.tensor([1.0, float("nan"), 5.0])
    assert nan.argmax().item() == 1 and np.isnan(nan.amax().item())
    with pytest.raises(IndexError):
        dlcore.zeros(0).argmax()


def test_var_std_logsumexp_norm(rng):
    a = rng.standard_normal((6, 11)).astype(np.float64)
    x = dlcore.from_numpy(a)
    assert_close(x.var(), a.var(ddof=1))
    assert_close(x.var(1, unbiased=False), a.var(1))
    assert_close(x.std(0, correction=0), a.std(0))
    from math import log
    ref = np.log(np.exp(a).sum(1))
    assert_close(dlcore.logsumexp(x, 1), ref)
    big = dlcore.tensor([1000.0, 1000.0])
    assert abs(dlcore.logsumexp(big, 0).item() - (1000 + log(2))) < 1e-4
    ninf = dlcore.tensor([-float("inf"), -float("inf")])
    assert dlcore.logsumexp(ninf, 0).item() == -float("inf")
    assert_close(x.norm(), np.linalg.norm(a))
    assert_close(x.norm(1, dim=1), np.abs(a).sum(1))


def test_empty_reductions():
    z = dlcore.zeros(0, 3)
    assert z.sum(0).tolist() == [0.0, 0.0, 0.0]
    assert z.prod(0).tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(IndexError, match="zero-size"):
        z.amax(0)
    assert np.isnan(z.mean().item())


# ------------------------------------------------------------------------------------------------- norm/std at zero

def test_norm_gradient_at_zero_is_zero():
    a = dlcore.zeros(3, dtype=dlcore.float64, requires_grad=True)
    a.norm().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.zeros(3))
    x0 = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 3.0]])
    for p in (2, 3, 2.5):
        c = dlcore.tensor(x0, requires_grad=True)
        c.norm(p=p, dim=1).sum().backward()
        n = np.sum(np.abs(x0[1]) ** p) ** (1 / p)
        expect = np.vstack([np.zeros(3), np.sign(x0[1]) * np.abs(x0[1]) ** (p - 1) / n ** (p - 1)])
        np.testing.assert_allclose(c.grad.numpy(), expect, rtol=1e-12)


def test_std_gradient_of_constant_is_zero():
    b = dlcore.ones(3, dtype=dlcore.float64, requires_grad=True)
    b.std().backward()
    np.testing.assert_array_equal(b.grad.numpy(), np.zeros(3))
    x0 = np.array([[2.0, 5.0, 7.0]])
    c = dlcore.tensor(x0, requires_grad=True)
    c.std(0, correction=0).sum().backward()
    np.testing.assert_array_equal(c.grad.numpy(), np.zeros((1, 3)))
    d = dlcore.tensor(x0, requires_grad=True)
    d.std(1).sum().backward()
    m, s = x0.mean(), x0.std(ddof=1)
    np.testing.assert_allclose(d.grad.numpy(), (x0 - m) / (2 * s) * 2 / 2, rtol=1e-12)


@pytest.mark.parametrize("shape,dim", [((10 ** 6,), None), ((1000, 1000), 1), ((1000, 1000), 0), ((64, 4099), 1)])
def test_float32_sum_accuracy_on_offset_data(shape, dim, device):
    """float32 sums add in double (lanes of four floats): 10^6 values near 1000 sum to within 1e-7 relative (float
    partial sums of 64 lanes lost 4e-7, rounding biased on such data, and made var() 3x too large)."""
    rng = np.random.default_rng(0)
    a = (rng.random(shape) * 1e-3 + 1000).astype(np.float32)
    x = dlcore.tensor(a, device=device)
    exact = a.astype(np.float64).sum(axis=dim)
    got = (x.sum() if dim is None else x.sum(dim)).cpu().numpy().astype(np.float64)
    np.testing.assert_allclose(got, exact, rtol=1e-7)
    np.testing.assert_allclose(float(x.mean()), a.astype(np.float64).mean(), rtol=1e-7)
    want_var = a.astype(np.float64).var(ddof=1)
    np.testing.assert_allclose(float(x.var()), want_var, rtol=2e-2)  # (was 3.3x: 2.76e-7 vs 8.37e-8)


def test_float32_sums_with_infinities_and_nan(device):
    a = np.array([[1.0, np.inf, 2.0, 3.0], [-np.inf, 1.0, np.inf, 0.0], [1.0, np.nan, 2.0, 0.5],
                  [-np.inf, -1.0, 5.0, 2.0]], dtype=np.float32)
    x = dlcore.tensor(a, device=device)
    np.testing.assert_array_equal(x.sum(1).cpu().numpy(), a.sum(1))
    np.testing.assert_array_equal(x.sum(0).cpu().numpy(), a.sum(0))
    big = np.full((3, 5000), 1.0, np.float32)
    big[0, 17] = np.inf
    big[1, 4000] = -np.inf
    big[2, 3] = np.nan
    y = dlcore.tensor(big, device=device)
    np.testing.assert_array_equal(y.sum(1).cpu().numpy(), [np.inf, -np.inf, np.nan])
    np.testing.assert_array_equal(dlcore.tensor(big.T.copy(), device=device).sum(0).cpu().numpy(),
                                  [np.inf, -np.inf, np.nan])


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
@pytest.mark.parametrize("n", [1, 5, 16, 17, 63, 64, 65, 200, 1000])
def test_float32_row_max_min_argmax_every_isa(isa, n, rng):
    """float32 max/min/argmax/argmin over contiguous rows (the AVX-512 row kernels: vmaxps/vminps, NaN flagged by
    compares, the first index of the extreme by one compare per vector) against NumPy: the first index of ties,
    NaN winning with its first index, infinities, and rows of one repeated value."""
    try:
        dlcore._C._set_cpu_isa(isa)
    except ValueError:
        pytest.skip(f"CPU lacks {isa}")
    x = rng.standard_normal((7, n)).astype(np.float32)
    x[1] = 0.5                                          # all equal: index 0
    x[2, n // 2] = np.inf
    x[3, n // 3] = -np.inf
    x[4, n - 1] = np.nan                                # NaN in the ragged tail / last element
    x[5, n // 2] = np.nan                               # NaN in the middle, another after it
    x[5, n - 1] = np.nan
    if n > 3:
        x[6, 1] = x[6, n - 2] = x[6].max() + 1.0        # a tie for the maximum: the first wins
        x[6, 2] = x[6, n - 1] = x[6].min() - 1.0        # and for the minimum
    d = dlcore.tensor(x)
    np.testing.assert_array_equal(d.argmax(1).numpy(), np.argmax(x, 1))
    np.testing.assert_array_equal(d.argmin(1).numpy(), np.argmin(x, 1))
    np.testing.assert_array_equal(d.amax(1).numpy(), np.max(x, 1))   # (NaN rows: NaN; assert_array_equal: equal)
    np.testing.assert_array_equal(d.amin(1).numpy(), np.min(x, 1))
    vals, idx = d.max(1)
    np.testing.assert_array_equal(vals.numpy(), np.max(x, 1))
    np.testing.assert_array_equal(idx.numpy(), np.argmax(x, 1))
    assert np.isnan(d[5].max().item()) and d[2].max().item() == np.inf


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
@pytest.mark.parametrize("n", [1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 1000, 4099])
def test_float32_row_sums_every_isa(isa, n, rng):
    """float32 sums over contiguous rows (the AVX-512 row kernel: groups of four floats added pairwise, widened to
    double) against float64, near the float64 result (offset data, where float accumulation drifts)."""
    try:
        dlcore._C._set_cpu_isa(isa)
    except ValueError:
        pytest.skip(f"CPU lacks {isa}")
    x = (rng.standard_normal((9, n)) + 100.0).astype(np.float32)
    ref = x.astype(np.float64).sum(1)
    got = dlcore.tensor(x).sum(1).numpy().astype(np.float64)
    assert np.all(np.abs(got - ref) <= 2 * np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)), (got - ref)
    np.testing.assert_allclose(dlcore.tensor(x).mean(1).numpy(), ref / n, rtol=2e-7)


@pytest.mark.parametrize("threads", [1, 2])
def test_norm2_fused_trailing_dims(threads, rng):
    """The 2-norm over trailing dims of a contiguous float32 cpu tensor (the fused sum of squares, _C._sumsq_rows)
    against float64, keepdim, a whole long tensor (split over threads), and the cases that keep the composed path
    (other dims, non-contiguous, float64, grad) giving the same values."""
    old = dlcore.get_num_threads()
    dlcore.set_num_threads(threads)
    try:
        x = (rng.standard_normal((6, 7, 129)) + 3.0).astype(np.float32)
        x64 = x.astype(np.float64)
        d = dlcore.tensor(x)
        for dim, kd in [(None, False), (2, False), (-1, True), ((1, 2), False), ((2, 1), True), (1, False),
                        (0, True), ((0, 2), False)]:
            ax = None if dim is None else dim
            ref = np.sqrt((x64 ** 2).sum(axis=ax, keepdims=kd))
            got = d.norm(dim=dim, keepdim=kd)
            assert tuple(got.shape) == ref.shape, (dim, kd)
            np.testing.assert_allclose(got.numpy(), ref, rtol=2e-7, err_msg=str((dim, kd)))
        np.testing.assert_allclose(dlcore.tensor(x).transpose(0, 2).norm(dim=-1).numpy(),
                                   np.sqrt((x64.transpose(2, 1, 0) ** 2).sum(-1)), rtol=2e-7)
        big = (rng.standard_normal(300_001) + 2.0).astype(np.float32)
        np.testing.assert_allclose(dlcore.tensor(big).norm().item(), np.sqrt((big.astype(np.float64) ** 2).sum()),
                                   rtol=1e-7)
        g = dlcore.tensor(x, requires_grad=True)
        g.norm(dim=2).sum().backward()
        np.testing.assert_allclose(g.grad.numpy(), x64 / np.sqrt((x64 ** 2).sum(2, keepdims=True)), rtol=1e-5)
    finally:
        dlcore.set_num_threads(old)
