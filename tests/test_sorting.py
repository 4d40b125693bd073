"""sort / argsort / topk / kthvalue / cumsum / cumprod (csrc/ops/sort, python/dlcore/_sorting.py): NumPy references
(stable order, NaN placement), exact gradients, every device (the CUDA bitonic network and scans in the emulator),
torch where installed, bad inputs."""
import numpy as np
import pytest

import dlcore
from dlcore.testing import assert_close, gradcheck
from conftest import requires_torch, HAVE_TORCH

if HAVE_TORCH:
    import torch


def T(a, device="cpu", grad=False):
    t = dlcore.tensor(np.asarray(a), device=device)
    if grad:
        t.requires_grad_(True)
    return t


def ref_order(row, descending):
    """Stable order with NaN above every number (last ascending, first descending)."""
    def key(j):
        v = row[j]
        nan = isinstance(v, (float, np.floating)) and np.isnan(v)
        if descending:
            return (0 if nan else 1, 0 if nan else -float(v), j)
        return (1 if nan else 0, 0 if nan else float(v), j)
    return sorted(range(len(row)), key=key)


def ref_sort(a, dim, descending):
    m = np.moveaxis(a, dim, -1)
    idx = np.empty(m.shape, dtype=np.int64)
    for pos in np.ndindex(*m.shape[:-1]):
        idx[pos] = ref_order(list(m[pos]), descending)
    vals = np.take_along_axis(m, idx, -1)
    return np.moveaxis(vals, -1, dim), np.moveaxis(idx, -1, dim)


def data(rng, shape, dtype, ties=True, nan=True):
    if dtype in ("int32", "int64", "uint8"):
        return rng.integers(0, 6, shape).astype(dtype)
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    a = rng.standard_normal(shape).astype(dtype)
    if ties:
        a.flat[::3] = np.round(a.flat[::3])  # repeated values
    if nan and a.size > 4:
        a.flat[1] = np.nan
        a.flat[-2] = -np.inf
        a.flat[-1] = np.inf
    return a


@pytest.mark.parametrize("shape,dim", [((7,), 0), ((3, 9), 1), ((3, 9), 0), ((2, 5, 4), 1), ((2, 3, 33), -1),
                                       ((4, 70), 1), ((1,), 0), ((3, 0), 1), ((2, 700), 1), ((1500,), 0),
                                       ((300, 2), 0)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "uint8", "bool"])
@pytest.mark.parametrize("descending", [False, True])
def test_sort(shape, dim, dtype, descending, device, rng):
    a = data(rng, shape, dtype)
    v, i = dlcore.sort(T(a, device), dim, descending=descending)
    rv, ri = ref_sort(a, dim, descending)
    assert v.dtype == T(a).dtype and i.dtype == dlcore.int64 and v.device == i.device
    assert_close(v, rv, rtol=0, atol=0, equal_nan=True)
    assert_close(i, ri, rtol=0, atol=0)
    assert_close(dlcore.argsort(T(a, device), dim, descending), ri, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "int16", "int8", "uint8", "float16"])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_radix_lines(dtype, descending, rng):
    """Lines of 256 and more (the LSD radix sort): NumPy's stable argsort on lines with many ties, -0.0 next to 0.0
    (equal: index order), infinities, NaN (above every number), extreme integers, narrow value ranges (skipped
    passes), against np.argsort(kind='stable') with the NaN rule."""
    n = 5000
    if dtype.startswith("float"):
        a = np.round(rng.standard_normal(n) * 8).astype(dtype)
        a[rng.integers(0, n, 300)] = -0.0
        a[rng.integers(0, n, 50)] = np.nan
        a[rng.integers(0, n, 20)] = np.inf
        a[rng.integers(0, n, 20)] = -np.inf
        a[:4] = [np.finfo(dtype).max, np.finfo(dtype).min, np.finfo(dtype).tiny, -np.finfo(dtype).tiny]
    else:
        info = np.iinfo(dtype)
        a = rng.integers(info.min, info.max, n, endpoint=True).astype(dtype)
        a[::7] = 3
        a[:2] = [info.min, info.max]
    for arr in (a, np.clip(a, 0, 9) if not dtype.startswith("float") else np.abs(a[:1000])):
        key = arr.astype(np.float64)
        nan = np.isnan(key)
        base = -key if descending else key
        base = np.where(nan, np.inf, base)
        # stable order by the numbers' value (-0.0 == 0.0), NaN last ascending / first descending
        order = np.lexsort((np.arange(arr.size), np.where(nan, 0, base), nan if not descending else ~nan))
        v, i = dlcore.sort(dlcore.tensor(arr), 0, descending=descending)
        np.testing.assert_array_equal(i.numpy(), order)
        np.testing.assert_array_equal(v.numpy().view(np.uint8), arr[order].view(np.uint8))  # bits: -0.0 kept


@pytest.mark.parametrize("k", [1, 3, 9])
@pytest.mark.parametrize("largest", [True, False])
def test_topk_and_kthvalue(k, largest, device, float_dtype, rng):
    a = data(rng, (4, 9), float_dtype)
    v, i = T(a, device).topk(k, dim=1, largest=largest)
    rv, ri = ref_sort(a, 1, largest)
    assert_close(v, rv[:, :k], rtol=0, atol=0, equal_nan=True)
    assert_close(i, ri[:, :k], rtol=0, atol=0)
    kv, ki = dlcore.kthvalue(T(a, device), k, dim=1)
    sv, si = ref_sort(a, 1, False)
    assert_close(kv, sv[:, k - 1], rtol=0, atol=0, equal_nan=True)
    assert_close(ki, si[:, k - 1], rtol=0, atol=0)
    kv2, ki2 = T(a, device).kthvalue(k, 0, keepdim=True) if k <= 4 else (None, None)
    if kv2 is not None:
        sv0, si0 = ref_sort(a, 0, False)
        assert list(kv2.shape) == [1, 9]
        assert_close(ki2, si0[k - 1:k], rtol=0, atol=0)


def test_sort_non_contiguous_and_half(device, rng):
    a = rng.standard_normal((5, 6)).astype(np.float32)
    x = T(a.T.copy(), device).t()  # non-contiguous view with a's values
    v, i = dlcore.sort(x, 1)
    assert_close(v, np.sort(a, 1), rtol=0, atol=0)
    assert_close(i, np.argsort(a, 1, kind="stable"), rtol=0, atol=0)
    h = T(a, device).half()
    vh, ih = dlcore.sort(h, 0, descending=True)
    assert vh.dtype == dlcore.float16
    ah = a.astype(np.float16)
    assert_close(vh, -np.sort(-ah, 0), rtol=0, atol=0)
    s = dlcore.tensor(2.5, device=device)
    vs, is_ = dlcore.sort(s)
    assert vs.item() == 2.5 and is_.item() == 0 and vs.ndim == 0


def test_sort_grads(rng):
    a = rng.standard_normal((3, 5))
    x = T(a, grad=True)
    v, i = dlcore.sort(x, 1, descending=True)
    g = rng.standard_normal((3, 5))
    v.backward(T(g))
    expect = np.zeros_like(a)
    np.put_along_axis(expect, i.numpy(), g, 1)
    assert_close(x.grad, expect, rtol=0, atol=0)
    gradcheck(lambda t: t.topk(2, dim=0).values, [T(a, grad=True)])
    gradcheck(lambda t: dlcore.kthvalue(t, 2, 1)[0], [T(a, grad=True)])
    gradcheck(lambda t: t.sort(0)[0], [T(a, grad=True)])


@pytest.mark.parametrize("shape,dim", [((7,), 0), ((3, 9), 1), ((3, 9), 0), ((2, 5, 4), 1), ((4, 1, 6), 1),
                                       ((2, 0, 3), 1), ((), 0)])
def test_cumsum_cumprod(shape, dim, device, float_dtype, rng):
    a = rng.uniform(0.5, 1.5, shape).astype(float_dtype) * rng.choice([-1, 1], shape)
    tol = 1e-5 if float_dtype == "float32" else 1e-12
    d = dim if a.ndim else None
    ref_s = np.cumsum(a.astype(np.float64), axis=d).reshape(a.shape)
    ref_p = np.cumprod(a.astype(np.float64), axis=d).reshape(a.shape)
    x = T(a, device)
    assert_close(dlcore.cumsum(x, dim), ref_s, rtol=tol, atol=tol)
    assert_close(x.cumprod(dim), ref_p, rtol=tol, atol=tol)
    # gradients: reverse cumsum of g; cumprod's analytic sum (all nonzero here)
    g = rng.standard_normal(shape)
    xs = T(a.astype(np.float64), device, grad=True)
    dlcore.cumsum(xs, dim).backward(T(g, device))
    flip = (lambda z: np.flip(z, d)) if a.ndim else (lambda z: z)
    assert_close(xs.grad, flip(np.cumsum(flip(g), axis=d)).reshape(a.shape), rtol=1e-12, atol=1e-12)


def brute_cumprod_grad(x, g):
    """d/dx_i sum_k g_k prod_{j <= k} x_j for one line, by direct products (zeros handled exactly)."""
    n = len(x)
    out = np.zeros(n)
    for i in range(n):
        for k in range(i, n):
            out[i] += g[k] * np.prod([x[j] for j in range(k + 1) if j != i])
    return out


@pytest.mark.parametrize("line", [[2.0, 3.0, -1.5, 0.5], [2.0, 0.0, 3.0, 4.0], [0.0, 2.0, 0.0, 3.0],
                                  [1.5, 2.0, 3.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
def test_cumprod_grad_with_zeros(line, device, rng):
    a = np.array([line, line[::-1]])
    g = rng.standard_normal(a.shape)
    x = T(a, device, grad=True)
    dlcore.cumprod(x, 1).backward(T(g, device))
    expect = np.stack([brute_cumprod_grad(a[r], g[r]) for r in range(2)])
    assert_close(x.grad, expect, rtol=1e-12, atol=1e-12)


def test_cum_dtypes(device):
    a = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int32)
    s = dlcore.cumsum(T(a, device), 1)
    assert s.dtype == dlcore.int64
    assert_close(s, np.cumsum(a, 1), rtol=0, atol=0)
    assert dlcore.cumprod(T(a > 2, device), 0).dtype == dlcore.int64
    assert dlcore.cumsum(T(a, device), 0, dtype=dlcore.float64).dtype == dlcore.float64
    big = np.full(20000, 0.1, dtype=np.float32)  # accumulated in double on the CPU: torch's CPU rule
    if device == "cpu":
        assert abs(dlcore.cumsum(T(big), 0)[-1].item() - 2000.0) < 1e-3


@requires_torch
def test_vs_torch(rng):
    a = rng.standard_normal((6, 40)).astype(np.float32)
    for fn in (lambda m, x: m.sort(x, 1, descending=True), lambda m, x: m.topk(x, 5, 0, largest=False),
               lambda m, x: m.kthvalue(x, 7, 1)):
        v, i = fn(dlcore, T(a))
        tv, ti = fn(torch, torch.from_numpy(a))
        assert_close(v, tv.numpy(), rtol=0, atol=0)
        assert_close(i, ti.numpy(), rtol=0, atol=0)
    x = T(a, grad=True)
    tx = torch.from_numpy(a).requires_grad_(True)
    (dlcore.cumprod(x, 1).sum() + dlcore.cumsum(x, 0).pow(2).sum()).backward()
    (torch.cumprod(tx, 1).sum() + torch.cumsum(tx, 0).pow(2).sum()).backward()
    assert_close(x.grad, tx.grad.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("call,exc,msg", [
    (lambda: dlcore.sort(dlcore.ones(2, 3), 2), IndexError, "out of range"),
    (lambda: dlcore.topk(dlcore.ones(2, 3), 4), RuntimeError, "out of range"),
    (lambda: dlcore.topk(dlcore.ones(2, 3), -1), RuntimeError, "out of range"),
    (lambda: dlcore.kthvalue(dlcore.ones(2, 3), 0), RuntimeError, "out of range"),
    (lambda: dlcore.cumsum(dlcore.ones(2, 3), 3), IndexError, "out of range"),
    (lambda: dlcore.cumprod(dlcore.ones(2, 3), -3), IndexError, "out of range"),
    (lambda: dlcore.sort([1, 2]), TypeError, "Tensor"),
])
def test_bad_input(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


@pytest.mark.parametrize("k", [1, 4, 40, 70])
def test_topk_heap_and_select_paths(k, device, rng):
    """Rows of 70: k <= 4 takes the heap (partial sort), larger k the select-then-sort path."""
    a = data(rng, (3, 70), "float32")
    for largest in (True, False):
        v, i = dlcore.topk(T(a, device), k, 1, largest)
        rv, ri = ref_sort(a, 1, largest)
        assert_close(v, rv[:, :k], rtol=0, atol=0, equal_nan=True)
        assert_close(i, ri[:, :k], rtol=0, atol=0)


def test_kthvalue_selection_with_nans_and_ties(device, rng):
    # kthvalue selects (no sort) on CPU: the k-th in (value, index) order with NaNs last, so past the numbers it
    # is the (k - numbers)-th NaN; the values against a NumPy sort, the indices pointing at them
    for _ in range(40):
        a = rng.integers(-3, 3, (4, 9)).astype(np.float64)
        a[rng.random(a.shape) < 0.3] = np.nan
        for k in (1, 3, 5, 9):
            v, i = dlcore.kthvalue(T(a, device), k, 1)
            ref = np.sort(a, 1)[:, k - 1]
            np.testing.assert_array_equal(v.cpu().numpy(), ref)
            np.testing.assert_array_equal(np.take_along_axis(a, i.cpu().numpy()[:, None], 1)[:, 0], ref)
            nums = (~np.isnan(a)).sum(1)
            for r in range(4):  # ties: the smallest index among equal values (the stable order)
                if k <= nums[r]:
                    assert i[r].item() == np.argsort(a[r], kind="stable")[k - 1]
