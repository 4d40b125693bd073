"""Tensor basics: creation, dtypes, views sharing memory, contiguous, conversions, repr."""
import numpy as np
import pytest

import dlcore
from dlcore.testing import assert_close


def test_tensor_from_data_infers_dtypes():
    assert dlcore.tensor([1.0, 2.0]).dtype == dlcore.float32
    assert dlcore.tensor([1, 2]).dtype == dlcore.int64
    assert dlcore.tensor([True, False]).dtype == dlcore.bool
    assert dlcore.tensor(np.array([1.0], dtype=np.float64)).dtype == dlcore.float64
    assert dlcore.tensor(np.array([1], dtype=np.int32)).dtype == dlcore.int32
    assert dlcore.tensor(np.array([1], dtype=np.uint8)).dtype == dlcore.uint8
    assert dlcore.tensor(3.5).shape == ()
    assert dlcore.tensor([[1, 2], [3, 4]], dtype=dlcore.float64).dtype == dlcore.float64


@pytest.mark.parametrize("dt", ["bool", "uint8", "int32", "int64", "float16", "float32", "float64"])
def test_numpy_round_trip_all_dtypes(dt, rng):
    a = (rng.standard_normal((3, 5)) * 10).astype(dt)
    t = dlcore.from_numpy(a)
    assert t.dtype.name == dt
    assert t.shape == (3, 5)
    np.testing.assert_array_equal(t.numpy(), a)


def test_bfloat16_casts():
    x = dlcore.tensor([1.0, 2.5, -3.0, 1e-3, 3.14159])
    b = x.bfloat16()
    assert b.dtype == dlcore.bfloat16
    back = b.float().numpy()
    assert_close(back, x.numpy(), rtol=8e-3, atol=0)
    with pytest.raises(TypeError, match="bfloat16"):
        b.numpy()


def test_half_rounding_matches_numpy(rng):
    a = np.concatenate([rng.standard_normal(1000) * 100, [65504, 65519, 1e-8, 6e-8, 3e-5, -0.0, np.inf, -np.inf]])
    a = a.astype(np.float32)
    h = dlcore.from_numpy(a).half()
    np.testing.assert_array_equal(h.numpy(), a.astype(np.float16))
    np.testing.assert_array_equal(h.float().numpy(), a.astype(np.float16).astype(np.float32))


def test_creation_functions():
    assert_close(dlcore.zeros(2, 3), np.zeros((2, 3)))
    assert_close(dlcore.ones((2, 3)), np.ones((2, 3)))
    assert_close(dlcore.full((2, 2), 7.5), np.full((2, 2), 7.5))
    assert dlcore.full((2,), 7).dtype == dlcore.int64
    assert dlcore.empty(4, 5).shape == (4, 5)
    assert_close(dlcore.arange(5), np.arange(5))
    assert_close(dlcore.arange(1, 2, 0.25), np.arange(1, 2, 0.25))
    assert dlcore.arange(1, 2, 0.25).dtype == dlcore.float32
    assert_close(dlcore.linspace(0, 1, 5), np.linspace(0, 1, 5))
    assert_close(dlcore.eye(3), np.eye(3))
    assert_close(dlcore.eye(2, 3), np.eye(2, 3))
    x = dlcore.randn(3, 4)
    assert_close(dlcore.zeros_like(x), np.zeros((3, 4)))
    assert_close(dlcore.ones_like(x), np.ones((3, 4)))
    assert dlcore.full_like(x, 2).dtype == dlcore.float32
    assert dlcore.arange(10, 0, -3).tolist() == [10, 7, 4, 1]
    assert dlcore.arange(0).shape == (0,)


def test_random_is_seedable_and_distributed():
    dlcore.manual_seed(123)
    a = dlcore.rand(1000)
    b = dlcore.randn(1000)
    dlcore.manual_seed(123)
    a2 = dlcore.rand(1000)
    b2 = dlcore.randn(1000)
    np.testing.assert_array_equal(a.numpy(), a2.numpy())
    np.testing.assert_array_equal(b.numpy(), b2.numpy())
    big = dlcore.rand(200000).numpy()
    assert big.min() >= 0 and big.max() < 1
    assert abs(big.mean() - 0.5) < 0.01
    n = dlcore.randn(200000, dtype=dlcore.float64).numpy()
    assert abs(n.mean()) < 0.01 and abs(n.std() - 1) < 0.01
    r = dlcore.randint(3, 7, (10000,)).numpy()
    assert r.min() == 3 and r.max() == 6
    assert dlcore.randint(5, (3,)).shape == (3,)
    p = dlcore.randperm(50).numpy()
    assert sorted(p.tolist()) == list(range(50))
    g = dlcore.Generator().manual_seed(7)
    x1 = dlcore.rand(5, generator=g)
    g.manual_seed(7)
    np.testing.assert_array_equal(x1.numpy(), dlcore.rand(5, generator=g).numpy())


def test_randperm_is_uniform_and_seeded():
    """Fisher-Yates from the generator's uniforms: all 24 orders of 4 elements about equally often (chi-square
    over 12000 draws), each position of a long permutation uniform, the same seed the same permutation."""
    from itertools import permutations
    g = dlcore.Generator().manual_seed(3)
    counts = dict.fromkeys(permutations(range(4)), 0)
    for _ in range(12000):
        counts[tuple(dlcore.randperm(4, generator=g).tolist())] += 1
    exp = 12000 / 24
    chi2 = sum((c - exp) ** 2 / exp for c in counts.values())
    assert chi2 < 49.7, chi2  # 23 degrees of freedom: p = 0.001
    first = np.array([dlcore.randperm(10, generator=g).numpy()[0] for _ in range(5000)])
    assert np.abs(np.bincount(first, minlength=10) - 500).max() < 90
    big = dlcore.randperm(100000, generator=dlcore.Generator().manual_seed(9)).numpy()
    assert big.dtype == np.int64 and np.array_equal(np.sort(big), np.arange(100000))
    assert np.array_equal(big, dlcore.randperm(100000, generator=dlcore.Generator().manual_seed(9)).numpy())
    assert dlcore.randperm(0).shape == (0,) and dlcore.randperm(1).tolist() == [0]


def test_views_share_memory():
    x = dlcore.arange(24, dtype=dlcore.float32).reshape(2, 3, 4)
    v = x.view(6, 4)
    v[0, 0] = 100.0
    assert x[0, 0, 0].item() == 100.0
    t = x.transpose(0, 2)
    assert t.shape == (4, 3, 2) and not t.is_contiguous()
    assert t.data_ptr() == x.data_ptr()
    p = x.permute(2, 0, 1)
    assert_close(p, np.transpose(x.numpy(), (2, 0, 1)))
    s = x[:, 1:, ::2]
    assert s.shape == (2, 2, 2)
    assert_close(s, x.numpy()[:, 1:, ::2])
    s[0, 0, 0] = -1
    assert x.numpy()[0, 1, 0] == -1
    e = dlcore.tensor([1.0, 2.0]).unsqueeze(0).expand(3, 2)
    assert e.stride() == (0, 1)
    assert_close(e, np.broadcast_to(np.array([1.0, 2.0]), (3, 2)))
    assert x.flatten().shape == (24,)
    assert x[None, ..., None].shape == (1, 2, 3, 4, 1)
    assert x.unsqueeze(1).squeeze(1).shape == (2, 3, 4)
    assert x[1].shape == (3, 4) and x[-1, -1, -1].item() == 23


def test_contiguous_copies_only_when_needed():
    x = dlcore.randn(3, 4)
    assert x.contiguous() is x
    t = x.t()
    c = t.contiguous()
    assert c.is_contiguous() and c.data_ptr() != x.data_ptr()
    assert_close(c, x.numpy().T)
    r = t.reshape(12)  # needs a copy
    assert_close(r, x.numpy().T.reshape(12))
    with pytest.raises(RuntimeError, match="view"):
        t.view(12)


def test_to_and_casts():
    x = dlcore.tensor([1.7, -2.2, 0.0])
    assert x.to(dlcore.int64).tolist() == [1, -2, 0]
    assert x.to(dlcore.bool).tolist() == [True, True, False]
    assert x.double().dtype == dlcore.float64
    assert x.to(dlcore.float32) is x
    assert x.to("cpu") is x
    y = dlcore.tensor([1, 2], dtype=dlcore.int32)
    assert y.float().tolist() == [1.0, 2.0]


def test_item_tolist_len_iter():
    x = dlcore.tensor([[1, 2], [3, 4]])
    assert x.tolist() == [[1, 2], [3, 4]]
    assert len(x) == 2
    assert [r.tolist() for r in x] == [[1, 2], [3, 4]]
    assert dlcore.tensor(2.5).item() == 2.5
    assert float(dlcore.tensor([3.0])) == 3.0
    assert int(dlcore.tensor(7)) == 7
    with pytest.raises(ValueError, match="cannot be converted"):
        x.item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)


def test_repr_like_torch():
    assert repr(dlcore.tensor([1.0, 2.0, 3.0])) == "tensor([1., 2., 3.])"
    assert repr(dlcore.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(dlcore.tensor(3.5)) == "tensor(3.5000)"
    assert repr(dlcore.tensor([[1.5, -2.0], [3.0, 4.25]])) == "tensor([[ 1.5000, -2.0000],\n        [ 3.0000,  4.2500]])"
    assert repr(dlcore.tensor([1.0], dtype=dlcore.float64)) == "tensor([1.], dtype=dlcore.float64)"
    assert repr(dlcore.tensor([True, False])) == "tensor([ True, False])"
    assert "requires_grad=True" in repr(dlcore.ones(2, requires_grad=True))
    assert repr(dlcore.zeros(0, 3)) == "tensor([], size=(0, 3))"
    assert "..." in repr(dlcore.arange(5000))
    assert repr(dlcore.tensor([1e-5, 1.0])) == "tensor([1.0000e-05, 1.0000e+00])"


def test_size_and_shape():
    x = dlcore.zeros(2, 3)
    assert x.shape == (2, 3)
    assert repr(x.shape) == "dlcore.Size([2, 3])"
    assert x.size(1) == 3 and x.size(-1) == 3
    assert x.ndim == 2 and x.dim() == 2 and x.numel() == 6
    assert x.stride() == (3, 1)
    assert x.element_size() == 4


def test_pickle_and_deepcopy():
    import copy
    import pickle
    x = dlcore.randn(3, 4)
    y = pickle.loads(pickle.dumps(x))
    np.testing.assert_array_equal(x.numpy(), y.numpy())
    z = copy.deepcopy(x)
    assert z.data_ptr() != x.data_ptr()
    np.testing.assert_array_equal(x.numpy(), z.numpy())


def test_setitem_basic():
    x = dlcore.zeros(3, 4)
    x[1] = 5.0
    x[:, 0] = dlcore.tensor([1.0, 2.0, 3.0])
    x[2, 1:3] = dlcore.tensor([7.0, 8.0])
    ref = np.zeros((3, 4), np.float32)
    ref[1] = 5
    ref[:, 0] = [1, 2, 3]
    ref[2, 1:3] = [7, 8]
    assert_close(x, ref)


def test_huge_tensor_view_and_numel_overflow():
    with pytest.raises((ValueError, MemoryError)):
        dlcore.empty(2 ** 40, 2 ** 40)
    with pytest.raises(MemoryError):
        dlcore.empty(2 ** 45)


# ------------------------------------------------------------------------------------------------- as_strided bounds

@pytest.mark.parametrize("size,stride,offset", [
    ((2, 2), (2**62 - 2**30, 2**30), 0),   # 64-bit extent arithmetic wraps to 0
    ((2,), (2**62,), 0),
    ((3,), (2**63 - 1,), 0),
    ((2,), (1,), 2**62),
    ((2, 2), (2, 1), 0),                    # plain out of bounds: reaches element 3 of 3
])
def test_as_strided_out_of_bounds_raises(size, stride, offset):
    x = dlcore.ones(3)
    with pytest.raises(RuntimeError, match="as_strided"):
        dlcore.as_strided(x, size, stride, offset)


def test_as_strided_in_bounds_and_empty():
    x = dlcore.arange(6.0)
    np.testing.assert_array_equal(dlcore.as_strided(x, (2, 2), (3, 1), 1).numpy(), [[1.0, 2.0], [4.0, 5.0]])
    assert dlcore.as_strided(x, (0, 5), (2**62, 2**62)).shape == (0, 5)   # empty: nothing is reached
    np.testing.assert_array_equal(dlcore.as_strided(x, (3,), (0,), 5).numpy(), [5.0, 5.0, 5.0])


def test_as_strided_backward_sums_repeated_elements():
    a = dlcore.arange(6.0, dtype=dlcore.float64).requires_grad_()
    dlcore.as_strided(a, (3, 2), (1, 1)).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 2.0, 2.0, 1.0, 0.0, 0.0])
    b = dlcore.arange(4.0, dtype=dlcore.float64).requires_grad_()
    w = dlcore.arange(1.0, 7.0, dtype=dlcore.float64).reshape(3, 2)
    (dlcore.as_strided(b, (3, 2), (0, 2), 1) * w).sum().backward()   # rows all read b[1], b[3]
    np.testing.assert_array_equal(b.grad.numpy(), [0.0, 9.0, 0.0, 12.0])


# ------------------------------------------------------------------------------------------------- byte order

@pytest.mark.parametrize("dt", [">f8", ">f4", ">i8", ">i4"])
def test_tensor_and_as_tensor_convert_byte_swapped_arrays(dt):
    a = np.arange(6, dtype=dt).reshape(2, 3)
    for make in (dlcore.tensor, dlcore.as_tensor):
        t = make(a)
        np.testing.assert_array_equal(t.numpy(), np.arange(6).reshape(2, 3))
        assert t.dtype == getattr(dlcore, np.dtype(dt).newbyteorder("=").name)


def test_from_numpy_rejects_byte_swapped_arrays():
    with pytest.raises(ValueError, match="byte order"):
        dlcore.from_numpy(np.arange(3, dtype=">f8"))
    np.testing.assert_array_equal(dlcore.from_numpy(np.arange(3, dtype="<f8")).numpy(), [0.0, 1.0, 2.0])


def test_tensor_from_python_floats_keeps_float64(device):
    # Python floats bound for float64 are not rounded through the float32 default dtype (torch keeps them exact).
    for data in (1 / 3, [1 / 3, 0.1], [[1e-300, 2 / 7]]):
        t = dlcore.tensor(data, dtype=dlcore.float64, device=device)
        np.testing.assert_array_equal(t.cpu().numpy(), np.asarray(data, dtype=np.float64))
    assert dlcore.tensor([1 / 3]).dtype == dlcore.float32


def test_numpy_array_as_shape_many_times():
    """A NumPy array (a sequence whose items are new objects) as a shape: its items were read through dangling
    handles and the heap broke after a few hundred calls (a segfault)."""
    x = dlcore.arange(6.0)
    for _ in range(2000):
        y = x.reshape(np.array([2, 3]))
        z = dlcore.zeros(np.array([3, 2], dtype=np.int32))
    assert tuple(y.shape) == (2, 3) and tuple(z.shape) == (3, 2)
    np.testing.assert_array_equal(y.numpy(), np.arange(6.0).reshape(2, 3))


def test_linspace_logspace_one_step_is_start():
    """torch: linspace(a, b, 1) is [a] (dlcore returned [b]); logspace likewise base**a."""
    assert dlcore.linspace(0, 1, 1).tolist() == [0.0]
    assert dlcore.linspace(-3.5, 7, 1, dtype=dlcore.float64).tolist() == [-3.5]
    assert dlcore.logspace(2, 5, 1).tolist() == [100.0]
    assert_close(dlcore.linspace(0, 1, 5), np.linspace(0, 1, 5))
    assert dlcore.linspace(1, 2, 0).shape == (0,)


@pytest.mark.parametrize("dt", ["float32", "float64", "int64", "bool", "float16", "bfloat16", "uint8"])
def test_eye_and_fill_every_dtype(dt):
    """eye built in its dtype (ones on a strided diagonal view), fill_/zero_/full by memset or a stored block copied
    along: exact values (signed zeros kept) for long rows (several 4 KiB blocks and a ragged end) and strided views."""
    d = getattr(dlcore, dt)
    for n, m in [(3, 3), (2, 5), (5, 2), (0, 3), (1, 1), (70, 3000)]:
        e = dlcore.eye(n, m, dtype=d)
        assert e.dtype == d and tuple(e.shape) == (n, m)
        np.testing.assert_array_equal(e.float().numpy(), np.eye(n, m, dtype=np.float32))
    x = dlcore.empty(3, 5001, dtype=d)
    for v in (1, 0) if dt in ("bool", "uint8") else (2.5 if dt.startswith(("float", "bfloat")) else 7, 0, -3):
        x.fill_(v)
        np.testing.assert_array_equal(x.float().numpy(), np.full((3, 5001), float(v), np.float32))
        np.testing.assert_array_equal(dlcore.full((1234, 7), v, dtype=d).float().numpy(), np.full((1234, 7), float(v)))
    if dt.startswith("float"):
        x.fill_(-0.0)
        assert np.signbit(x.float().numpy()).all()
        x.zero_()
        assert not np.signbit(x.float().numpy()).any() and (x.float().numpy() == 0).all()
    y = dlcore.zeros(40, 50, dtype=d)
    y.t()[::3].fill_(1)  # strided view: the element loop
    ref = np.zeros((40, 50), np.float32)
    ref.T[::3] = 1
    np.testing.assert_array_equal(y.float().numpy(), ref)


@pytest.mark.parametrize("dt", ["float32", "int32", "float64", "int16", "uint8", "bool"])
def test_contiguous_of_transposed_views(dt, rng):
    """.contiguous() / copies of views whose last dim is strided and another dim has stride 1 (batches of 2-D
    transposes on the cpu for 4-byte dtypes) against NumPy: permutes of 2-5 dims, ragged sizes, offsets, a
    negative stride elsewhere, size-1 dims, and a copy_ into an existing tensor."""
    import dlcore
    a = (rng.standard_normal((5, 17, 9, 33)) * 100).astype(dt)
    t = dlcore.tensor(a)
    for perm in ((0, 2, 3, 1), (0, 3, 1, 2), (3, 2, 1, 0), (1, 0, 3, 2), (0, 1, 3, 2), (2, 0, 3, 1)):
        np.testing.assert_array_equal(t.permute(*perm).contiguous().numpy(), np.ascontiguousarray(a.transpose(perm)))
    np.testing.assert_array_equal(t[1:4, 2:15, ::2, 3:30].permute(0, 3, 1, 2).contiguous().numpy(),
                                  np.ascontiguousarray(a[1:4, 2:15, ::2, 3:30].transpose(0, 3, 1, 2)))
    np.testing.assert_array_equal(t.flip(0).permute(0, 2, 3, 1).contiguous().numpy(),
                                  np.ascontiguousarray(a[::-1].transpose(0, 2, 3, 1)))
    m = dlcore.tensor(a[0, :, 0, :])
    np.testing.assert_array_equal(m.t().contiguous().numpy(), np.ascontiguousarray(a[0, :, 0, :].T))
    b = dlcore.tensor(a[:, :1])  # a size-1 dim with stride 1 next to the real one
    np.testing.assert_array_equal(b.permute(0, 1, 3, 2).contiguous().numpy(), np.ascontiguousarray(a[:, :1].transpose(0, 1, 3, 2)))
    out = dlcore.zeros(33, 9, dtype=getattr(dlcore, dt))
    out.copy_(dlcore.tensor(a[2, 3]).t())
    np.testing.assert_array_equal(out.numpy(), a[2, 3].T)
    sq = dlcore.tensor(a[0, :9, :9, 0].copy())
    sq.copy_(sq.t())  # overlapping source and destination: the general path
    np.testing.assert_array_equal(sq.numpy(), a[0, :9, :9, 0].T)


def test_large_transposed_copy_streams(rng):
    """A transposed copy of 16 MiB or more takes the non-temporal-store path (whole 16 x 16 blocks, masked edges):
    ragged sizes on both sides, a sliced source at an odd offset, and int32 bit patterns kept exactly."""
    import dlcore
    a = rng.standard_normal((2053, 2061)).astype(np.float32)
    t = dlcore.tensor(a)
    np.testing.assert_array_equal(t.t().contiguous().numpy(), np.ascontiguousarray(a.T))
    np.testing.assert_array_equal(t[3:, 1:].t().contiguous().numpy(), np.ascontiguousarray(a[3:, 1:].T))
    bits = rng.integers(-2**31, 2**31 - 1, size=(4, 1031, 1029), dtype=np.int32)
    np.testing.assert_array_equal(dlcore.tensor(bits).permute(0, 2, 1).contiguous().numpy(),
                                  np.ascontiguousarray(bits.transpose(0, 2, 1)))
