"""int8 and int16 (torch.int8 / torch.int16 = short): creation, casts, type promotion, wrap-around arithmetic, reductions,
sorting, indexing, serialization and the (emulated) cuda device, each against PyTorch on the same data."""
import numpy as np
import pytest

import dlcore

torch = pytest.importorskip("torch")

SMALL_INTS = ["int8", "int16"]
PEERS = ["bool", "uint8", "int8", "int16", "int32", "int64", "float32", "float64"]
# "device" is parametrized by conftest.py (cpu, and cuda when the build has it: real or emulated)


def _np(x):
    if isinstance(x, (tuple, list)):
        return [_np(v) for v in x]
    if isinstance(x, (torch.Tensor,)):
        return x.detach().cpu().numpy()
    if isinstance(x, dlcore.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def same(fn, *args, rtol=1e-6):
    """fn(lib, *args) on torch and dlcore: equal values (exact for integers) and equal dtypes."""
    want = fn(torch, *args)
    got = fn(dlcore, *args)
    if isinstance(want, (tuple, list)):
        assert len(want) == len(got)
        for w, g in zip(want, got):
            _same_one(w, g, rtol)
    else:
        _same_one(want, got, rtol)


def _same_one(w, g, rtol):
    if isinstance(w, torch.Tensor):
        assert isinstance(g, dlcore.Tensor), type(g)
        assert str(w.dtype).split(".")[1] == g.dtype.name, (w.dtype, g.dtype)
        assert tuple(w.shape) == tuple(g.shape)
        wn, gn = _np(w), _np(g)
        if wn.dtype.kind == "f":
            np.testing.assert_allclose(gn, wn, rtol=rtol, atol=1e-6)
        else:
            np.testing.assert_array_equal(gn, wn)
    else:
        assert w == g, (w, g)


def data(lib, dt, shape=(3, 5), seed=0, lo=None, hi=None, device="cpu"):
    """Deterministic data that covers the type's range (both signs, the extremes, zero)."""
    rng = np.random.default_rng(seed)
    info = np.iinfo(dt) if dt not in ("bool",) and not dt.startswith("float") else None
    if dt == "bool":
        a = rng.integers(0, 2, size=shape).astype(np.bool_)
    elif info is not None:
        lo = info.min if lo is None else lo
        hi = info.max if hi is None else hi
        a = rng.integers(lo, hi, size=shape, endpoint=True).astype(dt)
        flat = a.reshape(-1)
        if flat.size >= 3 and lo <= 0 <= hi:
            flat[0], flat[1], flat[2] = lo, hi, 0
    else:
        a = (rng.standard_normal(shape) * 50).astype(dt)
    t = lib.from_numpy(a.copy())
    return t if device == "cpu" else t.to(device)


# ------------------------------------------------------------------------------------------------- dtypes, creation


def test_dtype_objects():
    assert dlcore.short is dlcore.int16 and dlcore.int16.itemsize == 2 and dlcore.int8.itemsize == 1
    for name in SMALL_INTS:
        d, t = getattr(dlcore, name), getattr(torch, name)
        assert d.is_signed == t.is_signed and d.is_floating_point == t.is_floating_point
        assert dlcore.iinfo(d).min == torch.iinfo(t).min and dlcore.iinfo(d).max == torch.iinfo(t).max
        assert dlcore.iinfo(d).bits == torch.iinfo(t).bits
    assert dlcore.uint8.is_signed is False and dlcore.bool.is_signed is False and dlcore.float32.is_signed is True


@pytest.mark.parametrize("dt", SMALL_INTS)
def test_creation(dt):
    same(lambda L: L.tensor([[1, -2, 3], [127, -128, 0]], dtype=getattr(L, dt)))
    same(lambda L: L.zeros(2, 3, dtype=getattr(L, dt)))
    same(lambda L: L.ones(4, dtype=getattr(L, dt)))
    same(lambda L: L.full((2, 2), -7, dtype=getattr(L, dt)))
    same(lambda L: L.arange(-5, 9, 2, dtype=getattr(L, dt)))
    same(lambda L: L.empty(3, dtype=getattr(L, dt)).fill_(5))
    same(lambda L: L.eye(3, dtype=getattr(L, dt)))
    r = dlcore.randint(-10, 10, (200,), dtype=getattr(dlcore, dt))
    assert r.dtype == getattr(dlcore, dt) and int(r.min()) >= -10 and int(r.max()) < 10


@pytest.mark.parametrize("dt", SMALL_INTS)
def test_numpy_round_trip(dt):
    a = np.array([[-3, 100], [7, -100]], dtype=dt)
    for t in (dlcore.from_numpy(a), dlcore.tensor(a), dlcore.as_tensor(a)):
        assert t.dtype == getattr(dlcore, dt)
        b = t.numpy()
        assert b.dtype == np.dtype(dt)
        np.testing.assert_array_equal(b, a)
    # from_numpy shares memory, as in torch
    t = dlcore.from_numpy(a)
    a[0, 0] = 42
    assert int(t[0, 0]) == 42
    # the buffer protocol and tolist
    assert np.asarray(memoryview(dlcore.tensor(a))).dtype == np.dtype(dt)
    assert dlcore.tensor(a).tolist() == a.tolist()


# ------------------------------------------------------------------------------------------------- casts


CAST_PAIRS = [(s, d) for s in PEERS for d in PEERS if s in SMALL_INTS or d in SMALL_INTS]


@pytest.mark.parametrize("src,dst", CAST_PAIRS)
def test_casts(src, dst, device):
    if src.startswith("float"):
        # in-range values only: out-of-range float -> int is undefined in C and differs between torch's kernels
        lo, hi = (-128, 127) if dst in ("int8",) else (0, 255) if dst == "uint8" else (-30000, 30000)
        rng = np.random.default_rng(1)
        a = (rng.uniform(lo, hi, size=(4, 6))).astype(src)
        a[0, :3] = [-0.7, 0.7, -1.5] if dst != "uint8" else [0.7, 1.5, 2.5]
        same(lambda L: L.from_numpy(a.copy()).to(device).to(getattr(L, dst)).cpu() if L is dlcore else
             L.from_numpy(a.copy()).to(getattr(L, dst)))
    else:
        same(lambda L: (data(L, src, (4, 6), device=device if L is dlcore else "cpu")).to(getattr(L, dst)).cpu())


@pytest.mark.parametrize("dt", SMALL_INTS)
def test_cast_methods(dt):
    x = [[1, -2], [300, -40000]]
    small = [[1, -2], [100, -100]]
    same(lambda L: L.tensor(x).char())
    same(lambda L: L.tensor(x).short())
    same(lambda L: L.tensor(x).short().long())
    same(lambda L: L.tensor(small, dtype=getattr(L, dt)).float())
    same(lambda L: L.tensor(x).type(getattr(L, dt)))
    assert dlcore.tensor(x).type("torch.ShortTensor").dtype == dlcore.int16
    assert dlcore.tensor(x).type("torch.CharTensor").dtype == dlcore.int8


# ------------------------------------------------------------------------------------------------- arithmetic


@pytest.mark.parametrize("a_dt", SMALL_INTS)
@pytest.mark.parametrize("b_dt", PEERS)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "eq", "lt", "ge", "maximum", "minimum", "div"])
def test_binary_promotion(a_dt, b_dt, op):
    if op == "sub" and b_dt == "bool":
        b_dt = "uint8"
    same(lambda L: getattr(L, op)(data(L, a_dt, seed=2), data(L, b_dt, seed=3)))
    same(lambda L: getattr(L, op)(data(L, b_dt, seed=4), data(L, a_dt, seed=5)))


@pytest.mark.parametrize("dt", SMALL_INTS)
def test_wraparound_and_integer_ops(dt, device):
    def mk(L, seed, **kw):
        return data(L, dt, seed=seed, device=device if L is dlcore else "cpu", **kw)

    same(lambda L: (mk(L, 0) + mk(L, 1)).cpu())
    same(lambda L: (mk(L, 0) - mk(L, 1)).cpu())
    same(lambda L: (mk(L, 0) * mk(L, 1)).cpu())
    same(lambda L: (mk(L, 0) * 3).cpu())
    same(lambda L: (mk(L, 0) + 300).cpu())  # the scalar wraps to the type first
    same(lambda L: (mk(L, 0) - 70000).cpu())
    same(lambda L: (mk(L, 0) + 2.5).cpu())  # a float scalar: float32 result
    same(lambda L: L.floor_divide(mk(L, 0), mk(L, 1, lo=1, hi=9)).cpu())
    same(lambda L: L.remainder(mk(L, 0), mk(L, 1, lo=1, hi=9)).cpu())
    same(lambda L: L.fmod(mk(L, 0), mk(L, 1, lo=-9, hi=-1)).cpu())
    same(lambda L: (mk(L, 0) / mk(L, 1, lo=1, hi=9)).cpu())
    same(lambda L: (mk(L, 0, lo=-3, hi=3) ** 2).cpu())
    same(lambda L: (-mk(L, 0)).cpu())
    same(lambda L: mk(L, 0).abs().cpu())
    same(lambda L: mk(L, 0).sign().cpu())
    same(lambda L: (~mk(L, 0)).cpu())
    same(lambda L: (mk(L, 0) & mk(L, 1)).cpu())
    same(lambda L: (mk(L, 0) | mk(L, 1)).cpu())
    same(lambda L: (mk(L, 0) ^ mk(L, 1)).cpu())
    same(lambda L: (mk(L, 0) >> 2).cpu())
    same(lambda L: (mk(L, 0) << 1).cpu())
    same(lambda L: mk(L, 0).clamp(-50, 60).cpu())
    same(lambda L: L.where(mk(L, 0) > 0, mk(L, 0), mk(L, 1)).cpu())
    same(lambda L: mk(L, 0).sqrt().cpu() if False else mk(L, 0, lo=0).float().sqrt().cpu())
    same(lambda L: L.exp(mk(L, 0, lo=-5, hi=5)).cpu())  # integer input -> float32 result
    same(lambda L: L.sigmoid(mk(L, 0, lo=-5, hi=5)).cpu())


@pytest.mark.parametrize("dt", SMALL_INTS)
def test_in_place_keeps_dtype(dt):
    def f(L):
        x = data(L, dt, seed=0)
        x += 5
        x *= data(L, dt, seed=1)
        x.add_(data(L, "uint8" if dt == "int16" else "int8", seed=2))
        x.masked_fill_(x < 0, 3)
        return x

    same(f)
    with pytest.raises((RuntimeError, TypeError)):  # int8 += float tensor cannot cast in place, as in torch
        x = data(dlcore, dt)
        x += dlcore.ones(3, 5)


# ------------------------------------------------------------------------------------------------- reductions


@pytest.mark.parametrize("dt", SMALL_INTS)
def test_reductions(dt, device):
    def mk(L, **kw):
        return data(L, dt, (6, 7), seed=4, device=device if L is dlcore else "cpu", **kw)

    same(lambda L: mk(L).sum())
    same(lambda L: mk(L).sum(0).cpu())
    same(lambda L: mk(L).sum(1, keepdim=True).cpu())
    same(lambda L: mk(L).sum(dtype=getattr(L, dt)))
    same(lambda L: mk(L, lo=-2, hi=2).prod(1).cpu())
    same(lambda L: mk(L).max())
    same(lambda L: mk(L).min(0)[0].cpu())
    same(lambda L: mk(L).amax(1).cpu())
    same(lambda L: mk(L).argmax(1).cpu())
    same(lambda L: mk(L).argmin())
    same(lambda L: mk(L).cumsum(1).cpu())
    same(lambda L: mk(L).float().mean())
    same(lambda L: mk(L).any())
    same(lambda L: (mk(L) > 0).all(1).cpu())
    same(lambda L: L.count_nonzero(mk(L)))
    with pytest.raises((RuntimeError, TypeError)):  # torch: mean of an integer tensor is an error
        mk(dlcore).mean()


@pytest.mark.parametrize("dt", SMALL_INTS)
def test_sort_topk_unique(dt, device):
    def mk(L):
        return data(L, dt, (4, 40), seed=7, lo=-20, hi=20, device=device if L is dlcore else "cpu")

    same(lambda L: mk(L).sort(dim=1, stable=True)[0].cpu())
    same(lambda L: mk(L).sort(dim=1, descending=True, stable=True)[1].cpu())
    same(lambda L: mk(L).argsort(dim=0, stable=True).cpu())
    same(lambda L: mk(L).topk(5, 1)[0].cpu())
    same(lambda L: mk(L).topk(3, 1, largest=False)[0].cpu())
    same(lambda L: mk(L).cpu().kthvalue(7, 1)[0])
    same(lambda L: L.unique(mk(L).cpu()))
    same(lambda L: mk(L).cpu().median())


# ------------------------------------------------------------------------------------------------- shapes, indexing


@pytest.mark.parametrize("dt", SMALL_INTS)
def test_indexing_and_layout(dt, device):
    def mk(L, seed=0):
        return data(L, dt, (4, 6), seed=seed, device=device if L is dlcore else "cpu")

    idx = [3, 0, 0, 2]
    same(lambda L: mk(L)[1:, ::2].cpu())
    same(lambda L: mk(L).t().contiguous().cpu())
    same(lambda L: mk(L)[L.tensor(idx).to(device if L is dlcore else "cpu")].cpu())
    same(lambda L: mk(L)[mk(L) > 0].cpu())
    same(lambda L: L.gather(mk(L), 1, L.tensor([[0, 5], [1, 1], [2, 0], [5, 4]]).to(
        device if L is dlcore else "cpu")).cpu())
    same(lambda L: L.index_select(mk(L), 0, L.tensor(idx).to(device if L is dlcore else "cpu")).cpu())
    same(lambda L: L.cat([mk(L), mk(L, 1)], 0).cpu())
    same(lambda L: L.stack([mk(L), mk(L, 1)], 2).cpu())
    same(lambda L: mk(L).flip(1).cpu())
    same(lambda L: mk(L).roll(2, 1).cpu())
    same(lambda L: mk(L).repeat(2, 1).cpu())
    same(lambda L: mk(L).reshape(3, 8).cpu())

    def scat(L):
        x = L.zeros(4, 6, dtype=getattr(L, dt))
        if L is dlcore:
            x = x.to(device)
        src = mk(L)
        i = L.tensor([[0, 1, 2, 3, 0, 1]] * 4)
        if L is dlcore:
            i = i.to(device)
        return x.scatter_add(0, i, src).cpu()

    same(scat)

    def setitem(L):
        x = mk(L)
        x[1] = 7
        x[:, 2] = mk(L, 1)[:, 3]
        return x.cpu()

    same(setitem)


def test_int8_int16_index_tensors_like_torch():
    x = dlcore.arange(10)
    for dt in SMALL_INTS:
        i = dlcore.tensor([1, 3], dtype=getattr(dlcore, dt))
        ti = torch.tensor([1, 3], dtype=getattr(torch, dt))
        try:
            want = torch.arange(10)[ti].numpy()
        except IndexError:
            with pytest.raises(IndexError, match="indices"):
                x[i]
        else:
            np.testing.assert_array_equal(x[i].numpy(), want)


# ------------------------------------------------------------------------------------------------- persistence, misc


@pytest.mark.parametrize("dt", SMALL_INTS)
def test_save_load(tmp_path, dt):
    t = data(dlcore, dt, (5, 3), seed=9)
    p = tmp_path / "t.pt"
    dlcore.save({"t": t}, str(p))
    back = dlcore.load(str(p))["t"]
    assert back.dtype == t.dtype
    np.testing.assert_array_equal(back.numpy(), t.numpy())


@pytest.mark.parametrize("dt", SMALL_INTS)
def test_printing(dt):
    t = dlcore.tensor([1, -2, 3], dtype=getattr(dlcore, dt))
    assert repr(t) == repr(torch.tensor([1, -2, 3], dtype=getattr(torch, dt))).replace("torch.", "dlcore.")


@pytest.mark.parametrize("dt", SMALL_INTS)
def test_dataloader_collates_small_ints(dt):
    from dlcore.utils.data import DataLoader
    a = np.arange(12, dtype=dt).reshape(6, 2)
    batches = list(DataLoader(list(a), batch_size=3))
    assert batches[0].dtype == getattr(dlcore, dt)
    np.testing.assert_array_equal(batches[1].numpy(), a[3:])


def test_float_ops_reject_or_promote_like_torch():
    x = dlcore.tensor([1, 2], dtype=dlcore.int8)
    with pytest.raises((RuntimeError, TypeError)):
        x.requires_grad_(True)  # only floating tensors can require gradients
    # integer-only ops name the op and the dtype
    with pytest.raises((RuntimeError, TypeError, NotImplementedError), match="bitwise|float"):
        dlcore.bitwise_and(dlcore.tensor([1.0]), x)


@pytest.mark.parametrize("dt", SMALL_INTS)
def test_dlpack_with_torch(dt):
    t = data(dlcore, dt, (3, 4), seed=11)
    tt = torch.from_dlpack(t)
    assert tt.dtype == getattr(torch, dt)
    np.testing.assert_array_equal(tt.numpy(), t.numpy())
    back = dlcore.from_dlpack(torch.tensor([[-5, 6]], dtype=getattr(torch, dt)))
    assert back.dtype == getattr(dlcore, dt) and back.tolist() == [[-5, 6]]


@pytest.mark.parametrize("dt", SMALL_INTS + ["uint8", "int32"])
def test_out_of_range_fill_is_an_error_like_torch(dt):
    big = int(np.iinfo(dt).max) + 1
    for lib in (torch, dlcore):
        d = getattr(lib, dt)
        with pytest.raises(RuntimeError, match="without overflow"):
            lib.full((2,), big, dtype=d)
        with pytest.raises(RuntimeError, match="without overflow"):
            lib.zeros(2, dtype=d).fill_(big)
        with pytest.raises(RuntimeError, match="without overflow"):
            lib.tensor([1, big], dtype=d)
        with pytest.raises(RuntimeError, match="without overflow"):
            lib.full((2,), float(big), dtype=d)
        for v in (float(np.iinfo(dt).max) + 0.5, float(np.iinfo(dt).min) - 0.5, float("nan"), float("inf")):
            with pytest.raises(RuntimeError, match="without overflow"):
                lib.zeros(2, dtype=d).fill_(v)
            with pytest.raises(RuntimeError, match="without overflow"):
                lib.tensor([v], dtype=d)
    # in range (and float values that truncate into it) are fine; arithmetic with a big scalar wraps instead
    same(lambda L: L.full((2,), int(np.iinfo(dt).min), dtype=getattr(L, dt)))
    same(lambda L: L.zeros(2, dtype=getattr(L, dt)).fill_(float(np.iinfo(dt).max) - 0.5))
    same(lambda L: L.tensor([float(np.iinfo(dt).min) + 0.5], dtype=getattr(L, dt)))
    same(lambda L: L.ones(2, dtype=getattr(L, dt)) + big)


def test_python_floats_to_int_types_do_not_round_through_float32():
    same(lambda L: L.tensor([16777217.0, -16777219.0], dtype=L.int32))
    same(lambda L: L.tensor([[2.0**40 + 1.0]], dtype=L.int64))


@pytest.mark.parametrize("dt", SMALL_INTS + ["uint8", "int32", "int64"])
def test_integer_matmul_and_relu_like_torch(dt, device):
    """torch computes integer matmul (wrapping in the dtype) and relu on integer tensors; so does dlcore."""
    def mk(L, shape, seed):
        return data(L, dt, shape, seed=seed, lo=0 if dt == "uint8" else -60, hi=60,
                    device=device if L is dlcore else "cpu")

    same(lambda L: (mk(L, (3, 5), 0) @ mk(L, (5, 4), 1)).cpu())
    same(lambda L: L.matmul(mk(L, (2, 1, 3, 5), 2), mk(L, (4, 5, 2), 3)).cpu())  # batch broadcast
    same(lambda L: L.matmul(mk(L, (5,), 4), mk(L, (5, 3), 5)).cpu())
    same(lambda L: L.mv(mk(L, (3, 5), 6), mk(L, (5,), 7)).cpu())
    same(lambda L: L.dot(mk(L, (5,), 8), mk(L, (5,), 9)).cpu())
    same(lambda L: L.bmm(mk(L, (2, 3, 5), 10), mk(L, (2, 5, 2), 11)).cpu())
    same(lambda L: L.tensordot(mk(L, (3, 4, 5), 12), mk(L, (4, 5, 2), 13), dims=2).cpu())
    same(lambda L: L.nn.functional.relu(mk(L, (4, 6), 14)).cpu())
    same(lambda L: L.relu(mk(L, (4, 6), 15)).cpu())

    def inplace(L):
        x = mk(L, (4, 6), 16)
        y = L.relu_(x)
        assert y is x
        return x.cpu()

    same(inplace)
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        mk(dlcore, (3, 5), 0) @ mk(dlcore, (4, 5), 1)
    other = "int64" if dt != "int64" else "int32"
    with pytest.raises(RuntimeError, match="same dtype"):
        mk(dlcore, (3, 5), 0) @ data(dlcore, other, (5, 2), device=device)


def test_uint8_all_any_and_histogram_default_bins():
    same(lambda L: L.all(L.tensor([[1, 2], [0, 3]], dtype=L.uint8)))
    same(lambda L: L.any(L.tensor([[1, 2], [0, 3]], dtype=L.uint8), 1))
    same(lambda L: L.histogram(L.tensor([0.5, 1.0, 3.0, 2.5, -1.0]))[0])

