"""index_select and x[idx] on contiguous cpu tensors (one memcpy per selected block, csrc/ops/index/index_cpu.cpp):
NumPy's take / fancy indexing over dtypes, dims, negative indices (x[idx] only), index arrays of any rank, long
runs split over threads, empty selections, and the errors of out-of-range indices."""
import numpy as np
import pytest

import dlcore


@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "int64", "bool", "float16"])
@pytest.mark.parametrize("threads", [1, 2])
def test_index_select_and_getitem_blocks(dtype, threads, rng):
    old = dlcore.get_num_threads()
    dlcore.set_num_threads(threads)
    try:
        x = (rng.standard_normal((300, 7, 5)) * 10).astype(dtype)
        d = dlcore.tensor(x)
        for dim in range(3):
            idx = rng.integers(0, x.shape[dim], 257)
            np.testing.assert_array_equal(d.index_select(dim, dlcore.tensor(idx)).numpy(), np.take(x, idx, axis=dim))
        np.testing.assert_array_equal(d.index_select(0, dlcore.tensor(np.zeros(0, np.int64))).numpy(),
                                      x[np.zeros(0, np.int64)])
        for key in [rng.integers(-300, 300, 1000), rng.integers(-300, 300, (13, 11)), np.array([5])]:
            np.testing.assert_array_equal(d[dlcore.tensor(key)].numpy(), x[key])
        with pytest.raises(IndexError, match="out of bounds"):
            d.index_select(0, dlcore.tensor(np.array([0, 300])))
        with pytest.raises(IndexError):
            d[dlcore.tensor(np.array([-301]))]
    finally:
        dlcore.set_num_threads(old)


# ------------------------------------------------------------------------------------------------- nonzero on the cpu

NZ_SHAPES = [(), (0,), (1,), (5,), (257,), (3, 70, 100), (2, 3, 4, 5), (1025, 3), (1, 1, 7), (4, 0, 3),
             (70000,), (300, 700), (2, 1, 40000)]


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("shape", NZ_SHAPES, ids=str)
@pytest.mark.parametrize("density", [0.0, 0.3, 0.97, 1.0])
def test_nonzero_cpu_kernel_matches_numpy(rng, shape, density, threads):
    """The cpu kernel (chunks of rows counted, then coordinates written branch-free): np.argwhere for 0- to 4-D
    shapes, empty dims, densities from none to all, chunks split at 1-3 threads (rows of one chunk end mid-row
    of hits, chunks without hits), as_tuple, where(cond)."""
    a = (rng.random(shape) < density).astype(np.float32) * rng.standard_normal(shape).astype(np.float32)
    prev = dlcore.get_num_threads()
    dlcore.set_num_threads(threads)
    try:
        x = dlcore.tensor(a)
        got = dlcore.nonzero(x)
        assert got.dtype == dlcore.int64 and got.is_contiguous()
        np.testing.assert_array_equal(got.numpy(), np.argwhere(a))
        tup = dlcore.nonzero(x, as_tuple=True)
        etup = np.nonzero(a) if a.ndim else (np.zeros(int(a != 0), np.int64),)
        assert len(tup) == len(etup)
        for g, e in zip(tup, etup):
            np.testing.assert_array_equal(g.numpy(), e)
        if a.ndim:
            for g, e in zip(dlcore.where(x != 0), np.where(a != 0)):
                np.testing.assert_array_equal(g.numpy(), e)
    finally:
        dlcore.set_num_threads(prev)


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int32", "int64", "float64", "float16", "bfloat16"])
def test_nonzero_cpu_dtypes_special_values_and_views(rng, dtype):
    a = rng.integers(-2, 3, (6, 9))
    if dtype == "bool":
        a = a > 0
    x = dlcore.tensor(a.astype(dtype if dtype != "bfloat16" else "float32"))
    if dtype == "bfloat16":
        x = x.to(dlcore.bfloat16)
    if dtype in ("float64", "float16"):
        a = a.astype(dtype)
        a[0, 0], a[1, 1], a[2, 2] = np.nan, -0.0, np.inf  # NaN counts, -0.0 does not
        x = dlcore.tensor(a)
    np.testing.assert_array_equal(dlcore.nonzero(x).numpy(), np.argwhere(a))
    b = rng.standard_normal((8, 10)).astype(np.float32)
    v = dlcore.tensor(b).transpose(0, 1)[::2]  # non-contiguous view
    np.testing.assert_array_equal(dlcore.nonzero(v > 0.2).numpy(), np.argwhere(b.T[::2] > 0.2))


# ------------------------------------------------------------------------------------------------- cat on the cpu

@pytest.mark.parametrize("threads", [1, 2])
def test_cat_cpu_pieces_layouts_and_dtypes(rng, threads):
    """cat's cpu kernel: contiguous pieces by memcpy (whole pieces split over threads when dim is the outermost
    of size > 1, per outer row otherwise), non-contiguous or other-dtype pieces by a casting copy, empty pieces,
    promotion; against np.concatenate."""
    prev = dlcore.get_num_threads()
    dlcore.set_num_threads(threads)
    try:
        for shapes, dim in [([(300, 500), (2, 500), (700, 500)], 0), ([(4, 3, 5), (4, 0, 5), (4, 7, 5)], 1),
                            ([(6, 2), (6, 9), (6, 1)], -1), ([(1, 3, 200000), (1, 2, 200000)], 1),
                            ([(5,), (0,), (3,)], 0), ([(2, 3, 4)], 2)]:
            arrs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
            ts = [dlcore.tensor(a) for a in arrs]
            np.testing.assert_array_equal(dlcore.cat(ts, dim).numpy(), np.concatenate(arrs, dim))
            # a transposed (non-contiguous) piece and a float64 piece (promotes the result)
            if len(shapes[0]) == 2 and shapes[0][0] == 6:
                t0 = dlcore.tensor(np.ascontiguousarray(arrs[0].T)).t()
                mixed = [t0, ts[1].double(), ts[2]]
                got = dlcore.cat(mixed, dim)
                assert got.dtype == dlcore.float64
                np.testing.assert_array_equal(got.numpy(), np.concatenate([arrs[0], arrs[1].astype(np.float64),
                                                                           arrs[2]], dim))
        ints = [dlcore.tensor(np.arange(6, dtype=np.int16).reshape(2, 3)), dlcore.tensor(np.ones((2, 1), np.int16))]
        np.testing.assert_array_equal(dlcore.cat(ints, 1).numpy(),
                                      np.concatenate([np.arange(6).reshape(2, 3), np.ones((2, 1))], 1))
        assert dlcore.cat(ints, 1).dtype == dlcore.int16
    finally:
        dlcore.set_num_threads(prev)


def test_stack_and_cat_native_paths_match_numpy_and_defer_errors(rng):
    """stack / cat's native happy path against NumPy (every dim, promotion, non-contiguous pieces); the cases it
    leaves to the Python path still raise there (bad dim, mismatched shapes, non-tensors) or record autograd."""
    a = [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(3)]
    ts = [dlcore.tensor(x) for x in a]
    for d in (-3, -2, -1, 0, 1, 2):
        np.testing.assert_array_equal(dlcore.stack(ts, d).numpy(), np.stack(a, d))
    np.testing.assert_array_equal(dlcore.stack((ts[0].t(), ts[1].t().double())).numpy(),
                                  np.stack([a[0].T, a[1].T.astype(np.float64)]))
    assert dlcore.stack((ts[0], ts[1].double())).dtype == dlcore.float64
    with pytest.raises(IndexError):
        dlcore.stack(ts, 3)
    with pytest.raises(Exception, match="equal size"):
        dlcore.stack([ts[0], dlcore.zeros(4, 3)])
    with pytest.raises(TypeError, match="element 1"):
        dlcore.cat([ts[0], 3.0])
    with pytest.raises(Exception, match="sizes of tensors must match"):
        dlcore.cat([ts[0], dlcore.zeros(2, 5)], 0)
    g = dlcore.tensor(a[0], requires_grad=True)
    s = dlcore.stack([g, ts[1]], 1)
    assert s.requires_grad
    s.sum().backward()
    np.testing.assert_array_equal(g.grad.numpy(), np.ones((3, 4), np.float32))
    with dlcore.no_grad():
        assert not dlcore.cat([g, ts[1]]).requires_grad


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int8", "float16", "bool"])
def test_index_add_contiguous_rows_vs_numpy(dtype, threads, rng):
    """index_add_'s cpu rows (column blocks and outer indices over threads): np.add.at for every dim of 1- to 3-D
    tensors, repeated indices, rows narrower and wider than a column block, alpha; bool and 16-bit
    floats through the per-element path."""
    prev = dlcore.get_num_threads()
    dlcore.set_num_threads(threads)
    try:
        for shape, dim, k in [((50,), 0, 80), ((40, 3000), 0, 90), ((40, 30), 1, 70), ((6, 20, 700), 1, 33),
                              ((6, 20, 7), 2, 15), ((300, 5), 0, 1000)]:
            n = shape[dim]
            idx = rng.integers(0, n, k)
            sshape = list(shape)
            sshape[dim] = k
            if dtype == "bool":
                base, src = rng.random(shape) > 0.7, rng.random(sshape) > 0.7
            else:
                base = (rng.standard_normal(shape) * 5).astype(dtype)
                src = (rng.standard_normal(sshape) * 5).astype(dtype)
            t = dlcore.tensor(base)
            t.index_add_(dim, dlcore.tensor(idx), dlcore.tensor(src))
            ref = base.astype(np.float64) if dtype != "bool" else base.copy()
            sl = [slice(None)] * len(shape)
            for j, i in enumerate(idx % n):
                sl_dst = list(sl)
                sl_dst[dim] = i
                sl_src = list(sl)
                sl_src[dim] = j
                if dtype == "bool":
                    ref[tuple(sl_dst)] |= src[tuple(sl_src)]
                else:
                    ref[tuple(sl_dst)] += src[tuple(sl_src)].astype(np.float64)
            got = t.numpy().astype(np.float64) if dtype != "bool" else t.numpy()
            if dtype in ("float32", "float16"):
                np.testing.assert_allclose(got, ref, rtol=2e-3 if dtype == "float16" else 1e-5, atol=0.05 if dtype == "float16" else 1e-4)
            elif dtype == "int8":
                np.testing.assert_array_equal(got, ref.astype(np.int64).astype(np.int8))
            else:
                np.testing.assert_array_equal(got, ref)
    finally:
        dlcore.set_num_threads(prev)


def test_cat_promotes_over_skipped_empty_tensors_and_tril_extreme_diagonals(rng):
    """torch promotes cat's dtype over every input, the skipped 1-D empty ones too (both the native and the Python
    path); tril/triu with diagonals far beyond the matrix (no overflow in the row arithmetic)."""
    a = dlcore.ones(2, 3)
    e64 = dlcore.tensor(np.zeros(0, np.float64))
    assert dlcore.cat([a, e64]).dtype == dlcore.float64
    np.testing.assert_array_equal(dlcore.cat([a, e64]).numpy(), np.ones((2, 3)))
    g = dlcore.ones(2, 3, requires_grad=True)  # the Python path (autograd)
    r = dlcore.cat([g, e64])
    assert r.dtype == dlcore.float64 and r.requires_grad
    r.sum().backward()
    np.testing.assert_array_equal(g.grad.numpy(), np.ones((2, 3), np.float32))
    assert dlcore.cat([e64]).dtype == dlcore.float64
    x = rng.standard_normal((4, 5)).astype(np.float32)
    for k in (2 ** 63 - 1, -(2 ** 63), 2 ** 40, -(2 ** 40)):
        np.testing.assert_array_equal(dlcore.tril(dlcore.tensor(x), k).numpy(), np.tril(x, max(min(k, 10), -10)))
        np.testing.assert_array_equal(dlcore.triu(dlcore.tensor(x), k).numpy(), np.triu(x, max(min(k, 10), -10)))


@pytest.mark.parametrize("threads", [1, 2])
def test_bincount_cpu_counts(rng, threads):
    """bincount's cpu counting (per-thread counts summed when the counts are small next to the data) against
    np.bincount: values spread or concentrated, minlength beyond the maximum, empty input, int32 input."""
    prev = dlcore.get_num_threads()
    dlcore.set_num_threads(threads)
    try:
        for x, ml in ((rng.integers(0, 50, 300000), 0), (rng.integers(0, 5000, 1000), 7000), (np.zeros(0, np.int64), 4),
                      (np.full(200000, 3), 0), (rng.integers(0, 100, 70000).astype(np.int32), 2)):
            got = dlcore.bincount(dlcore.tensor(x), minlength=ml)
            assert got.dtype == dlcore.int64
            np.testing.assert_array_equal(got.numpy(), np.bincount(x, minlength=ml))
    finally:
        dlcore.set_num_threads(prev)
