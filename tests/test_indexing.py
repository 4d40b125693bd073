"""Advanced indexing (integer and boolean arrays, get and set) against NumPy, the index/join ops against NumPy
and torch, and their gradients (float64 central differences)."""
import numpy as np
import pytest

import dlcore
from dlcore.testing import assert_close, gradcheck
from conftest import requires_torch

A = np.arange(3 * 4 * 5, dtype=np.float64).reshape(3, 4, 5)

GET_KEYS = [
    ([0, 2],),
    ([2, 0, 2, 1],),
    (np.array([-1, 0]),),
    (slice(None), [1, 3]),
    (0, slice(None), [1, 2]),
    ([0, 1], slice(None), [1, 2]),
    ([0, 1], [3, 2], [1, 4]),
    (Ellipsis, [4, 0]),
    (Ellipsis, [[4, 0], [1, 1]]),
    (None, [1], 2),
    ([[0], [2]], [1, 3]),
    (slice(1, 3), [[0, 1], [2, 3]], slice(None, None, 2)),
    ([1], slice(None), None, 3),
    (np.array([], dtype=np.int64),),
]
MASK_KEYS = [
    lambda a: (a > 30,),
    lambda a: (a[:, 0, 0] > 10,),
    lambda a: (slice(None), a[0, :, 0] % 2 == 0),
    lambda a: (a[:, :, 0] > 100,),  # empty selection
    lambda a: (Ellipsis, a[0, 0] > 1),
]


def _keys():
    return GET_KEYS + [k(A) for k in MASK_KEYS]


def _to_dl_key(key, device="cpu"):
    return tuple(dlcore.tensor(k, device=device) if isinstance(k, np.ndarray) and k.dtype == np.bool_ and k.ndim else k
                 for k in key)


def _np_ref(a, key):
    """The NumPy view PyTorch's semantics match: leading int indices applied first (as select), so they do not count
    when NumPy decides where the dims of non-adjacent index arrays go."""
    if isinstance(key, tuple):
        n = 0
        while n < len(key) and isinstance(key[n], int):
            n += 1
        if 0 < n < len(key):
            return a[key[:n]], key[n:]
    return a, key


@pytest.mark.parametrize("key", _keys(), ids=lambda k: str(k)[:40])
def test_getitem_matches_numpy(key, device):
    x = dlcore.tensor(A, device=device)
    r = x[_to_dl_key(key, device)]
    base, k = _np_ref(A, key)
    e = base[k]
    assert tuple(r.shape) == e.shape and r.device.type == device
    np.testing.assert_array_equal(r.cpu().numpy(), e)


@pytest.mark.parametrize("key", _keys(), ids=lambda k: str(k)[:40])
def test_setitem_matches_numpy(key, device, rng):
    x = dlcore.tensor(A.copy(), device=device)
    b = A.copy()
    bv, k = _np_ref(b, key)   # bv: a view of b
    shape = bv[k].shape
    v = rng.standard_normal(shape)
    x[_to_dl_key(key, device)] = dlcore.tensor(v, device=device)
    bv[k] = v
    np.testing.assert_array_equal(x.cpu().numpy(), b)
    x[_to_dl_key(key, device)] = -3.0
    bv[k] = -3.0
    np.testing.assert_array_equal(x.cpu().numpy(), b)


def test_setitem_broadcast_and_noncontiguous():
    base = dlcore.tensor(A.copy())
    x = base.transpose(0, 2)  # a non-contiguous view: writes land in base
    b = A.copy().transpose(2, 1, 0)
    x[[0, 4], 1] = dlcore.tensor([10.0, 20.0, 30.0])
    b[[0, 4], 1] = [10.0, 20.0, 30.0]
    np.testing.assert_array_equal(x.numpy(), b)
    np.testing.assert_array_equal(base.numpy(), b.transpose(2, 1, 0))


def test_int_dtypes_and_lists_of_indices():
    x = dlcore.arange(10)
    assert x[[1, 3]].tolist() == [1, 3]
    assert x[dlcore.tensor([9, 0], dtype=dlcore.int32)].tolist() == [9, 0]
    m = dlcore.arange(10) % 3 == 0
    assert x[m].tolist() == [0, 3, 6, 9]
    x[m] = 0
    assert x.tolist() == [0, 1, 2, 0, 4, 5, 0, 7, 8, 0]


@pytest.mark.parametrize("key,err", [(([5],), IndexError), (([-4],), IndexError), (([0], [0], [0], [0]), IndexError),
                                     ((np.ones((2, 2), bool),), IndexError), ((1.5,), IndexError),
                                     (([[0, 1], [1, 2, 0]],), IndexError)])
def test_bad_keys(key, err):
    x = dlcore.zeros(3, 4, 5)
    with pytest.raises((err, ValueError)):
        x[key]


def test_bad_set_shape():
    x = dlcore.zeros(3, 4)
    with pytest.raises(ValueError, match="shape mismatch"):
        x[[0, 1]] = dlcore.ones(3, 3)


# ------------------------------------------------------------------------------------------------- gradients

@pytest.mark.parametrize("key", [([0, 0, 2],), (slice(None), [1, 3, 1]), ([0, 1], slice(None), [1, 1]),
                                 ([[0], [2]], [1, 3]), (0, [1, 2], slice(1, 4))])
def test_getitem_grad(key, rng):
    x = dlcore.tensor(rng.standard_normal((3, 4, 5)), requires_grad=True)
    gradcheck(lambda t: t[key], [x])


def test_getitem_mask_grad(rng):
    a = rng.standard_normal((3, 4))
    x = dlcore.tensor(a, requires_grad=True)
    gradcheck(lambda t: t[dlcore.tensor(a > 0)], [x])


def test_setitem_grad(rng):
    x0 = dlcore.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    v = dlcore.tensor(rng.standard_normal((2, 3)), requires_grad=True)

    def f(x0, v):
        y = x0 * 1.0
        y[[3, 1]] = v * 2.0
        return y

    gradcheck(f, [x0, v])

    def g(x0, v):  # broadcast value: the gradient sums over the broadcast dims
        y = x0 * 1.0
        y[[0, 2], 1:] = v[0, :2]
        return y

    gradcheck(g, [x0, v])


def test_index_put_accumulate_and_grad(device, rng):
    x = dlcore.zeros(5, device=device)
    x.index_put_((dlcore.tensor([0, 0, 3, 0], device=device),), dlcore.tensor([1.0, 2.0, 3.0, 4.0], device=device),
                 accumulate=True)
    assert x.tolist() == [7.0, 0.0, 0.0, 3.0, 0.0]
    a = dlcore.tensor(rng.standard_normal(5), device=device, requires_grad=True)
    v = dlcore.tensor(rng.standard_normal(4), device=device, requires_grad=True)
    i = dlcore.tensor([0, 0, 3, 0], device=device)
    gradcheck(lambda a, v: dlcore.index_put(a, (i,), v, accumulate=True), [a, v])


# ------------------------------------------------------------------------------------------------- ops vs NumPy

def test_gather_scatter_vs_numpy(device, rng):
    T = lambda v: dlcore.tensor(v, device=device)  # noqa: E731
    a = rng.standard_normal((3, 4, 5))
    idx = rng.integers(0, 4, size=(3, 2, 5))
    g = dlcore.gather(T(a), 1, T(idx))
    assert g.device.type == device
    np.testing.assert_array_equal(g.cpu().numpy(), np.take_along_axis(a, idx, 1))
    # scatter_add with duplicate indices
    src = rng.standard_normal((3, 2, 5))
    out = np.zeros((3, 4, 5))
    grid = list(np.indices(idx.shape))
    grid[1] = idx
    np.add.at(out, tuple(grid), src)
    r = dlcore.zeros(3, 4, 5, dtype=dlcore.float64, device=device).scatter_add(1, T(idx), T(src))
    assert_close(r, out, rtol=1e-12, atol=1e-12)
    # scatter (unique indices per column, so the result is defined)
    idx2 = np.stack([rng.permutation(4)[:2] for _ in range(15)]).reshape(3, 5, 2).transpose(0, 2, 1).copy()
    e = np.zeros((3, 4, 5))
    grid[1] = idx2
    e[tuple(grid)] = src
    r2 = dlcore.zeros(3, 4, 5, dtype=dlcore.float64, device=device).scatter(1, T(idx2), T(src))
    np.testing.assert_array_equal(r2.cpu().numpy(), e)
    r3 = dlcore.zeros(2, 3, device=device).scatter_(1, T([[2], [0]]), 5.0)
    assert r3.tolist() == [[0, 0, 5], [5, 0, 0]]


def test_gather_noncontiguous_and_errors(rng):
    a = rng.standard_normal((5, 4))
    x = dlcore.tensor(a).t()  # [4, 5] strided
    idx = rng.integers(0, 5, size=(4, 3))
    np.testing.assert_array_equal(dlcore.gather(x, 1, dlcore.tensor(idx)).numpy(),
                                  np.take_along_axis(a.T, idx, 1))
    with pytest.raises(IndexError, match="out of bounds for dimension 1"):
        dlcore.gather(x, 1, dlcore.tensor([[7]]))
    with pytest.raises(IndexError, match="index -1 is out of bounds"):   # no wrapping, as in torch.gather
        dlcore.gather(x, 1, dlcore.tensor([[-1]]))
    with pytest.raises(ValueError, match="same number of dimensions"):
        dlcore.gather(x, 1, dlcore.tensor([1]))
    with pytest.raises(TypeError, match="int64"):
        dlcore.gather(x, 1, dlcore.tensor([[1.0]]))
    with pytest.raises(IndexError, match="dim"):
        dlcore.gather(x, 2, dlcore.tensor([[1]]))


def test_index_select_index_add_vs_numpy(device, rng):
    T = lambda v: dlcore.tensor(v, device=device)  # noqa: E731
    a = rng.standard_normal((3, 4, 5))
    idx = np.array([4, 0, 4, 2])
    np.testing.assert_array_equal(dlcore.index_select(T(a), 2, T(idx)).cpu().numpy(), a[:, :, idx])
    src = rng.standard_normal((3, 4, 4))
    e = a.copy()
    np.add.at(e, (slice(None), slice(None), idx), src)
    r = dlcore.index_add(T(a), 2, T(idx), T(src))
    assert_close(r, e, rtol=1e-12, atol=1e-12)
    r2 = T(a).index_add_(2, T(idx), T(src), alpha=2.0)
    e2 = a.copy()
    np.add.at(e2, (slice(None), slice(None), idx), 2 * src)
    assert_close(r2, e2, rtol=1e-12, atol=1e-12)
    with pytest.raises(IndexError):
        dlcore.index_select(T(a), 0, T([3]))


def test_masked_ops(rng):
    a = rng.standard_normal((3, 4))
    m = a > 0
    x = dlcore.tensor(a)
    np.testing.assert_array_equal(x.masked_fill(dlcore.tensor(m), 0.5).numpy(), np.where(m, 0.5, a))
    np.testing.assert_array_equal(dlcore.masked_select(x, dlcore.tensor(m)).numpy(), a[m])
    row = dlcore.tensor(m[0])  # broadcast mask
    np.testing.assert_array_equal(x.masked_fill(row, -1.0).numpy(), np.where(m[0], -1.0, a))
    y = x.clone()
    y.masked_fill_(dlcore.tensor(m), 0.0)
    np.testing.assert_array_equal(y.numpy(), np.where(m, 0.0, a))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_stack_split_chunk(dim, rng):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    x, y = dlcore.tensor(a), dlcore.tensor(b)
    np.testing.assert_array_equal(dlcore.cat([x, y], dim).numpy(), np.concatenate([a, b], dim))
    np.testing.assert_array_equal(dlcore.stack([x, y], dim).numpy(), np.stack([a, b], dim))
    parts = dlcore.split(x, 2, dim)
    for p, e in zip(parts, np.array_split(a, range(2, a.shape[dim], 2), dim)):
        np.testing.assert_array_equal(p.numpy(), e)
    assert [tuple(c.shape)[dim] for c in dlcore.chunk(x, 2, dim)] == [-(-a.shape[dim] // 2),
                                                                      a.shape[dim] - (-(-a.shape[dim] // 2))]
    sizes = [1, a.shape[dim] - 1]
    np.testing.assert_array_equal(x.split(sizes, dim)[1].numpy(), np.split(a, [1], dim)[1])


def test_cat_promotes_skips_empty_and_errors():
    r = dlcore.cat([dlcore.ones(2, dtype=dlcore.int64), dlcore.ones(1), dlcore.zeros(0)])
    assert r.dtype == dlcore.float32 and r.tolist() == [1, 1, 1]
    r = dlcore.cat([dlcore.ones(2, 3), dlcore.zeros(0)], 1)
    assert r.shape == (2, 3)
    with pytest.raises(ValueError, match="Expected size 3"):
        dlcore.cat([dlcore.ones(2, 3), dlcore.ones(2, 4)], 0)
    with pytest.raises(ValueError, match="non-empty"):
        dlcore.cat([])
    with pytest.raises(ValueError, match="equal size"):
        dlcore.stack([dlcore.ones(2), dlcore.ones(3)])
    with pytest.raises(ValueError, match="sum exactly"):
        dlcore.split(dlcore.ones(4), [1, 2])


def test_join_grads(rng):
    a = dlcore.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = dlcore.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    gradcheck(lambda a, b: dlcore.cat([a, b, a], 1), [a, b])
    c = dlcore.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    gradcheck(lambda a, c: dlcore.stack([a, c, a], 1), [a, c])
    gradcheck(lambda a: a.split([1, 2], 1)[1] * a.chunk(3, 1)[0], [a])
    gradcheck(lambda a: dlcore.unbind(a, 1)[2], [a])


def test_index_op_grads(rng):
    x = dlcore.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    idx = dlcore.tensor(rng.integers(0, 4, size=(3, 6)))
    gradcheck(lambda x: dlcore.gather(x, 1, idx), [x])
    gradcheck(lambda x: dlcore.index_select(x, 1, dlcore.tensor([3, 0, 3])), [x])
    src = dlcore.tensor(rng.standard_normal((3, 6)), requires_grad=True)
    gradcheck(lambda x, s: dlcore.scatter_add(x, 1, idx, s), [x, src])
    sidx = dlcore.tensor(np.stack([rng.permutation(4)[:3] for _ in range(3)]))
    s3 = dlcore.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    gradcheck(lambda x, s: dlcore.scatter(x, 1, sidx, s), [x, s3])
    s2 = dlcore.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    gradcheck(lambda x, s: dlcore.index_add(x, 1, dlcore.tensor([1, 1]), s, alpha=1.5), [x, s2])
    m = dlcore.tensor(rng.standard_normal((3, 4)) > 0)
    gradcheck(lambda x: x.masked_fill(m, 2.0), [x])
    gradcheck(lambda x: dlcore.masked_select(x, m), [x])


def test_inplace_scatter_records_history(rng):
    x = dlcore.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    y = x * 2.0
    y.scatter_(1, dlcore.tensor([[0], [2]]), 0.0)
    y.sum().backward()
    assert x.grad.tolist() == [[0.0, 2.0, 2.0], [2.0, 2.0, 0.0]]


@requires_torch
def test_advanced_indexing_grad_matches_torch(rng):
    import torch
    a = rng.standard_normal((4, 5, 6))
    key = (slice(None), [[0, 4], [2, 2]], [1, 5])
    x = dlcore.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    g = rng.standard_normal(a[key].shape)
    x[key].backward(dlcore.tensor(g))
    t[key].backward(torch.tensor(g))
    assert_close(x.grad, t.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_isa_independent():
    # the index kernels have no ISA variants; pinning the ISA must not change results
    x = dlcore.arange(20.0).reshape(4, 5)
    r = x[[1, 3]]
    dlcore._C._set_cpu_isa("scalar")
    np.testing.assert_array_equal(x[[1, 3]].numpy(), r.numpy())


# ------------------------------------------------------------------------------------------------- cuda kernels
cuda_only = pytest.mark.skipif(not dlcore.cuda.is_available(), reason="no cuda device in this build")


@cuda_only
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "uint8", "float16", "bool"])
def test_cuda_scatter_add_duplicates_every_dtype(dtype, rng):
    # many threads add into the same few elements (atomics; 8/16-bit types through a CAS on their 32-bit word)
    n, m = 600, 7
    idx = rng.integers(0, m, n)
    vals = (rng.integers(0, 2, n) if dtype in ("bool", "uint8") else rng.integers(-3, 4, n)).astype(dtype)
    ref = np.zeros(m, dtype)
    if dtype == "bool":
        np.logical_or.at(ref, idx, vals)
    else:
        np.add.at(ref, idx, vals)
    for dev in ("cpu", "cuda"):
        x = dlcore.tensor(np.zeros(m, dtype), device=dev)
        x.index_put_((dlcore.tensor(idx, device=dev),), dlcore.tensor(vals, device=dev), accumulate=True)
        np.testing.assert_array_equal(x.cpu().numpy(), ref)


@cuda_only
def test_cuda_gather_strided_and_errors(rng):
    a = rng.standard_normal((5, 4))
    x = dlcore.tensor(a, device="cuda").t()  # [4, 5] strided on the device
    idx = rng.integers(0, 5, size=(4, 3))
    np.testing.assert_array_equal(dlcore.gather(x, 1, dlcore.tensor(idx, device="cuda")).cpu().numpy(),
                                  np.take_along_axis(a.T, idx, 1))
    for bad in (7, -1):  # like torch, gather refuses negative indices too
        with pytest.raises(IndexError, match="out of bounds"):
            dlcore.gather(x, 1, dlcore.tensor([[bad]], device="cuda"))
    h = dlcore.tensor(rng.standard_normal((3, 4)).astype(np.float16), device="cuda")
    np.testing.assert_array_equal(h[[2, 0]].cpu().numpy(), h.cpu().numpy()[[2, 0]])


# ------------------------------------------------------------------------------------------------- int + tensor layout
# PyTorch applies int indices first (as select), so they do not make tensor indices non-adjacent (NumPy differs).

def test_int_then_nonadjacent_tensor_index_keeps_torch_layout():
    x0 = np.arange(40.0).reshape(2, 4, 5)
    idx = [0, 2, 4]
    x = dlcore.tensor(x0)
    r = x[1, :, idx]
    assert r.shape == (4, 3)
    np.testing.assert_array_equal(r.numpy(), x0[1][:, idx])
    m = np.array([True, False, True, True, False])
    np.testing.assert_array_equal(x[0, ..., dlcore.tensor(m)].numpy(), x0[0][..., m])
    np.testing.assert_array_equal(x[1, None, :, idx].numpy(), x0[1][None][:, :, idx])
    # unchanged: all-advanced adjacency and the non-adjacent tensor case
    np.testing.assert_array_equal(x[[1, 0], :, [0, 2]].numpy(), x0[[1, 0], :, [0, 2]])
    np.testing.assert_array_equal(x[:, 1, idx].numpy(), x0[:, 1, idx])


def test_int_then_nonadjacent_tensor_index_set_and_grad():
    x0 = np.arange(40.0).reshape(2, 4, 5)
    idx = [0, 2, 4]
    v0 = np.arange(12.0).reshape(4, 3)
    x = dlcore.tensor(x0)
    x[1, :, idx] = dlcore.tensor(v0)
    expect = x0.copy()
    expect[1][:, idx] = v0
    np.testing.assert_array_equal(x.numpy(), expect)
    xg = dlcore.tensor(x0, requires_grad=True)
    (xg[1, :, idx] * dlcore.tensor(v0)).sum().backward()
    g = np.zeros_like(x0)
    g[1][:, idx] = v0
    np.testing.assert_array_equal(xg.grad.numpy(), g)


@requires_torch
def test_int_and_tensor_index_layout_against_torch():
    import torch
    x0 = np.arange(2 * 4 * 5 * 3, dtype=np.float64).reshape(2, 4, 5, 3)
    keys = [(1, slice(None), [0, 2, 4]), (0, slice(None), [1, 3], 2), (slice(None), 1, slice(None), [0, 2]),
            (1, [0, 3], slice(None), 2), ([1, 0], 2, slice(None), [0, 1]), (Ellipsis, 1, [0, 2]),
            (1, None, slice(None), [0, 2]), ([[0], [1]], slice(None), 3, [0, 2])]
    for k in keys:
        a = dlcore.tensor(x0)[k].numpy()
        b = torch.tensor(x0)[k].numpy()
        assert a.shape == b.shape, (k, a.shape, b.shape)
        np.testing.assert_array_equal(a, b)
