"""The composed ops: repeat/tile/flip/roll/tril/triu/repeat_interleave/lerp/addcmul/addcdiv (dlcore._rearrange) and
pad, interpolate, pixel_shuffle, layer/group/instance norm, one_hot, normalize, distances, kl_div and the extra
activations (dlcore._nn_extra) with their modules: NumPy float64 references, finite differences, torch where
installed, bad inputs."""
import math

import numpy as np
import pytest

import dlcore
import dlcore.functional as F
import dlcore.nn as nn
from dlcore.testing import assert_close, gradcheck
from conftest import requires_torch, HAVE_TORCH

if HAVE_TORCH:
    import torch


def T(a, device="cpu", grad=False):
    t = dlcore.tensor(np.asarray(a), device=device)
    if grad:
        t.requires_grad_(True)
    return t


def grad_of(fn, x_np, g_np, device="cpu"):
    """d/dx sum(g * fn(x)) computed by dlcore (float64 on device)."""
    x = T(x_np, device, grad=True)
    y = fn(x)
    y.backward(T(g_np, device))
    return x.grad.cpu().numpy()


def noncontig(a, device="cpu"):
    """A non-contiguous dlcore view holding the values of a (a transposed copy, transposed back)."""
    return T(np.ascontiguousarray(np.swapaxes(a, 0, -1)), device).transpose(0, -1)


# ================================================================================================ rearranging

REARRANGE = [
    ("repeat", lambda x: x.repeat(2, 1, 3), lambda a: np.tile(a, (2, 1, 3))),
    ("repeat_lead", lambda x: x.repeat(2, 1, 1, 2), lambda a: np.tile(a, (2, 1, 1, 2))),
    ("tile", lambda x: dlcore.tile(x, (2,)), lambda a: np.tile(a, (2,))),
    ("flip01", lambda x: dlcore.flip(x, (0, 2)), lambda a: np.flip(a, (0, 2))),
    ("flip_neg", lambda x: x.flip(-1), lambda a: np.flip(a, -1)),
    ("fliplr", dlcore.fliplr, np.fliplr),
    ("flipud", dlcore.flipud, np.flipud),
    ("roll", lambda x: dlcore.roll(x, (1, -2), (0, 2)), lambda a: np.roll(a, (1, -2), (0, 2))),
    ("roll_big", lambda x: x.roll(7, 1), lambda a: np.roll(a, 7, 1)),
    ("roll_flat", lambda x: dlcore.roll(x, 5), lambda a: np.roll(a, 5)),
    ("tril", lambda x: dlcore.tril(x), lambda a: np.tril(a)),
    ("tril_k", lambda x: x.tril(-1), lambda a: np.tril(a, -1)),
    ("triu_k", lambda x: dlcore.triu(x, 2), lambda a: np.triu(a, 2)),
    ("triu_neg", lambda x: x.triu(-3), lambda a: np.triu(a, -3)),
    ("rinter", lambda x: x.repeat_interleave(2, dim=1), lambda a: np.repeat(a, 2, axis=1)),
    ("rinter_flat", lambda x: dlcore.repeat_interleave(x, 3), lambda a: np.repeat(a.ravel(), 3)),
    ("rinter_t", lambda x: x.repeat_interleave(dlcore.tensor([0, 2, 1]), dim=1),
     lambda a: np.repeat(a, [0, 2, 1], axis=1)),
]


@pytest.mark.parametrize("name,fn,ref", REARRANGE, ids=[r[0] for r in REARRANGE])
def test_rearrange_forward_and_grad(name, fn, ref, device, float_dtype, rng):
    a = rng.standard_normal((2, 3, 5)).astype(float_dtype)
    for x in (T(a, device), noncontig(a, device)):
        y = fn(x)
        assert y.device == x.device and y.dtype == x.dtype
        assert_close(y, ref(a), rtol=0, atol=0)
    # gradient: the adjoint of the copy (NumPy: scatter-add of g through the reference applied to indices)
    idx = np.arange(1, a.size + 1).reshape(a.shape)  # 0 marks the zeros tril/triu put in
    src = ref(idx).ravel() - 1
    g = rng.standard_normal(ref(idx).shape)
    expect = np.zeros(a.size)
    np.add.at(expect, src[src >= 0], g.ravel()[src >= 0])
    got = grad_of(fn, a.astype(np.float64), g, device)
    assert_close(got, expect.reshape(a.shape), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dt", ["float32", "float64", "uint8", "int16", "int64", "bool", "float16"])
def test_flip_roll_triangle_kernels_every_layout(dt, rng):
    """The cpu kernels of flip / roll / tril / triu (one copy with per-dim index maps; rows kept, zeroed or copied
    in pieces) against NumPy for every element size, 1- to 4-D shapes with size-1 and empty dims, every subset of
    flipped dims, rolls of any sign and size (several on one dim add up), and diagonals beyond the matrix."""
    import itertools
    for shape in [(7,), (3, 1, 5), (2, 3, 4, 6), (4, 0, 3), (1, 9), (5, 33)]:
        a = (rng.standard_normal(shape) * 50).astype(dt) if dt != "bool" else rng.random(shape) > 0.5
        x = dlcore.from_numpy(np.ascontiguousarray(a))
        nd = len(shape)
        for r in range(nd + 1):
            for dims in itertools.combinations(range(nd), r):
                assert np.array_equal(dlcore.flip(x, dims).numpy(), np.flip(a, dims)), (shape, dims)
        for d in range(nd):
            for sh in (1, -1, 3, -7, 40):
                assert np.array_equal(dlcore.roll(x, sh, d).numpy(), np.roll(a, sh, d)), (shape, d, sh)
        if nd >= 2:
            assert np.array_equal(dlcore.roll(x, (2, 3, -1), (0, -1, 0)).numpy(), np.roll(a, (2, 3, -1), (0, -1, 0)))
            for k in (-40, -2, -1, 0, 1, 3, 40):
                assert np.array_equal(dlcore.tril(x, k).numpy(), np.tril(a, k)), (shape, k)
                assert np.array_equal(dlcore.triu(x, k).numpy(), np.triu(a, k)), (shape, k)
        assert np.array_equal(dlcore.roll(x, 5).numpy(), np.roll(a, 5))


def test_rearrange_int_and_bool(device):
    a = np.arange(12).reshape(3, 4)
    assert_close(dlcore.tril(T(a, device)), np.tril(a), rtol=0, atol=0, check_dtype=True)
    b = a % 3 == 0
    assert dlcore.triu(T(b, device)).dtype == dlcore.bool
    assert_close(dlcore.triu(T(b, device)), np.triu(b), rtol=0, atol=0)
    assert_close(T(a, device).repeat(2, 2), np.tile(a, (2, 2)), rtol=0, atol=0, check_dtype=True)
    assert_close(dlcore.flip(T(a, device), [0]), a[::-1], rtol=0, atol=0, check_dtype=True)
    assert_close(dlcore.repeat_interleave(T([2, 0, 1], device)), [0, 0, 2], rtol=0, atol=0)


def test_rearrange_edges():
    x = dlcore.tensor(3.0)
    assert dlcore.flip(x, []).item() == 3.0
    assert list(x.repeat(2, 3).shape) == [2, 3]
    assert list(dlcore.zeros(2, 0).repeat(2, 2).shape) == [4, 0]
    assert list(dlcore.ones(2, 3).repeat(0, 1).shape) == [0, 3]
    y = dlcore.tensor([1.0, 2.0])
    z = dlcore.roll(y, 0)
    z.add_(1)
    assert y.numpy().tolist() == [1.0, 2.0]  # a copy, like torch
    assert_close(dlcore.lerp(T([0.0, 2.0]), T([4.0, 6.0]), 0.25), [1.0, 3.0])
    assert_close(dlcore.addcmul(T([1.0]), T([2.0]), T([3.0]), value=0.5), [4.0])
    assert_close(T([1.0]).addcdiv(T([2.0]), T([4.0]), value=2), [2.0])


def test_lerp_addcmul_grads():
    a = np.array([0.3, -1.2, 2.0])
    gradcheck(lambda x, y, w: dlcore.lerp(x, y, w), [T(a, grad=True), T(a[::-1].copy(), grad=True),
                                                     T([0.2, 0.5, 0.9], grad=True)])
    gradcheck(lambda x, y, z: dlcore.addcdiv(x, y, z, value=0.7), [T(a, grad=True), T(a + 1, grad=True),
                                                                   T([1.5, 2.0, -3.0], grad=True)])
    gradcheck(lambda x, y, z: x.addcmul(y, z, value=-2), [T(a, grad=True), T(a + 1, grad=True),
                                                         T([1.5, 2.0, -3.0], grad=True)])


@pytest.mark.parametrize("call,msg", [
    (lambda: dlcore.ones(2, 3).repeat(2), "can not be smaller"),
    (lambda: dlcore.ones(2, 3).repeat(-1, 1), "negative"),
    (lambda: dlcore.flip(dlcore.ones(2, 3), [0, 0]), "duplicates"),
    (lambda: dlcore.flip(dlcore.ones(2, 3), [2]), "out of range"),
    (lambda: dlcore.roll(dlcore.ones(2, 3), (1, 2), (0,)), "align"),
    (lambda: dlcore.roll(dlcore.ones(2, 3), (1, 2)), "single"),
    (lambda: dlcore.tril(dlcore.ones(3)), "at least 2"),
    (lambda: dlcore.triu(dlcore.ones(2, 2), 0.5), "diagonal"),
    (lambda: dlcore.ones(3).repeat_interleave(dlcore.tensor([1, 2])), "same size"),
    (lambda: dlcore.ones(3).repeat_interleave(-1), "negative"),
    (lambda: dlcore.repeat_interleave(dlcore.tensor([1, -1])), "negative"),
    (lambda: dlcore.fliplr(dlcore.ones(3)), ">= 2-d"),
])
def test_rearrange_bad_input(call, msg):
    with pytest.raises((RuntimeError, IndexError, TypeError), match=msg):
        call()


# ================================================================================================ padding

def np_pad(a, pad, mode, value=0.0):
    nd = a.ndim
    k = len(pad) // 2
    widths = [(0, 0)] * nd
    for j in range(k):
        widths[nd - 1 - j] = (pad[2 * j], pad[2 * j + 1])
    crop = [slice(None)] * nd
    for d, (lo, hi) in enumerate(widths):
        crop[d] = slice(-lo if lo < 0 else 0, a.shape[d] + hi if hi < 0 else a.shape[d])
    a = a[tuple(crop)]
    widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    npmode = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    return np.pad(a, widths, npmode, **({"constant_values": value} if mode == "constant" else {}))


PADS = [
    ("constant", (1, 2), (2, 3, 4)),
    ("constant", (1, 0, 2, 1, 1, 1), (2, 3, 4)),
    ("constant", (-1, 2, 0, -2), (2, 3, 5, 4)),
    ("constant", (2, 2, 1, 1), (3, 4)),
    ("reflect", (2, 1), (2, 3, 5)),
    ("reflect", (1, 2, 2, 0), (2, 3, 4, 5)),
    ("replicate", (3, 1), (2, 3, 4)),
    ("replicate", (1, 2, 3, 4), (1, 2, 3, 3)),
    ("circular", (2, 3), (2, 2, 5)),
    ("circular", (1, 1, 2, 0), (2, 1, 3, 4)),
    ("reflect", (1, 1, 2, 1, 1, 2), (2, 3, 4, 5, 4)),
    ("replicate", (2, 1, 1, 0, 0, 2), (1, 3, 2, 4)),
    ("circular", (1, 2, 0, 1, 2, 1), (2, 3, 3, 4)),
    ("reflect", (-1, 2, 3, -2), (2, 3, 6, 5)),
    ("reflect", (3, 3, 3, 3), (4, 8, 20, 20)),  # enough rows to split over threads
    ("replicate", (0, 0, 2, 2), (2, 3, 4, 5)),  # the last dim unpadded: one block per row
]


@pytest.mark.parametrize("mode,pad,shape", PADS)
def test_pad(mode, pad, shape, device, float_dtype, rng):
    a = rng.standard_normal(shape).astype(float_dtype)
    kw = {"value": 1.5} if mode == "constant" else {}
    ref = np_pad(a, pad, mode, **kw)
    for x in (T(a, device), noncontig(a, device)):
        assert_close(F.pad(x, pad, mode, **kw), ref, rtol=0, atol=0)
    idx = np.arange(a.size).reshape(shape).astype(np.float64)
    src = np_pad(idx, pad, mode, value=-1).astype(np.int64)
    g = rng.standard_normal(src.shape)
    expect = np.zeros(a.size)
    keep = src.ravel() >= 0
    np.add.at(expect, src.ravel()[keep], g.ravel()[keep])
    got = grad_of(lambda x: F.pad(x, pad, mode, **kw), a.astype(np.float64), g, device)
    assert_close(got, expect.reshape(shape), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("call,exc,msg", [
    (lambda: F.pad(dlcore.ones(2, 3), (1,)), ValueError, "divisible by 2"),
    (lambda: F.pad(dlcore.ones(3), (1, 1, 1, 1)), ValueError, "too large"),
    (lambda: F.pad(dlcore.ones(1, 2, 3), (3, 0), "reflect"), RuntimeError, "less than"),
    (lambda: F.pad(dlcore.ones(1, 2, 3), (4, 0), "circular"), RuntimeError, "more than once"),
    (lambda: F.pad(dlcore.ones(3), (1, 1), "reflect"), NotImplementedError, "2-D or 3-D"),
    (lambda: F.pad(dlcore.ones(1, 3), (1, 1), "bogus"), NotImplementedError, "bogus"),
    (lambda: F.pad(dlcore.ones(1, 3), (1, 1), "reflect", 2.0), ValueError, "value"),
    (lambda: F.pad(dlcore.ones(1, 3), (-2, -2)), RuntimeError, "negative"),
])
def test_pad_bad_input(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


@requires_torch
@pytest.mark.parametrize("mode,pad,shape", [p for p in PADS if len(p[1]) in (2, 4) and len(p[2]) <= len(p[1]) // 2 + 2])
def test_pad_module_vs_torch(mode, pad, shape, rng):
    a = rng.standard_normal(shape).astype(np.float32)
    if len(pad) == 2:
        mods = {"constant": ("ConstantPad1d", (pad, 1.5)), "reflect": ("ReflectionPad1d", (pad,)),
                "replicate": ("ReplicationPad1d", (pad,)), "circular": ("CircularPad1d", (pad,))}
    elif len(pad) == 4:
        mods = {"constant": ("ConstantPad2d", (pad, 1.5)), "reflect": ("ReflectionPad2d", (pad,)),
                "replicate": ("ReplicationPad2d", (pad,)), "circular": ("CircularPad2d", (pad,))}
    name, args = mods[mode]
    got = getattr(nn, name)(*args)(T(a))
    ref = getattr(torch.nn, name)(*args)(torch.from_numpy(a))
    assert_close(got, ref.numpy(), rtol=0, atol=0)


# ================================================================================================ interpolate

def np_linear_weights(n, m, align, scale=None):
    """Source taps and weights along one dim, from the formulas of torch's documentation (float64)."""
    o = np.arange(m, dtype=np.float64)
    if align:
        src = o * ((n - 1) / (m - 1) if m > 1 else 0.0)
    else:
        s = 1.0 / scale if scale else n / m
        src = np.maximum((o + 0.5) * s - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(int), n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    return i0, i1, src - i0


def np_resize(a, sizes, mode, align=False, scales=None):
    out = a
    for j, m in enumerate(sizes):
        d = 2 + j
        n = a.shape[d]
        sc = scales[j] if scales else None
        if mode in ("nearest", "nearest-exact"):
            s = np.float32(1.0 / sc) if sc else np.float32(n) / np.float32(m)
            o = np.arange(m, dtype=np.float32)
            src = np.floor((o + np.float32(0.5)) * s) if mode == "nearest-exact" else np.floor(o * s)
            out = np.take(out, np.minimum(src.astype(int), n - 1), axis=d)
        else:
            i0, i1, l1 = np_linear_weights(n, m, align, sc)
            shape = [1] * a.ndim
            shape[d] = m
            out = np.take(out, i0, axis=d) * (1 - l1).reshape(shape) + np.take(out, i1, axis=d) * l1.reshape(shape)
    return out


INTERP = [
    ((2, 3, 5), {"size": 9}, "nearest", None),
    ((2, 3, 6), {"size": 4}, "nearest", None),
    ((1, 2, 4, 5), {"scale_factor": 2}, "nearest", None),
    ((1, 2, 5, 7), {"size": (3, 11)}, "nearest-exact", None),
    ((2, 3, 5), {"size": 8}, "linear", False),
    ((2, 3, 5), {"size": 8}, "linear", True),
    ((1, 2, 4, 5), {"scale_factor": 2}, "bilinear", False),
    ((1, 2, 4, 5), {"size": (7, 3)}, "bilinear", True),
    ((1, 2, 6, 6), {"scale_factor": 0.5}, "bilinear", False),
    ((1, 1, 3, 4, 5), {"size": (5, 4, 3)}, "trilinear", False),
    ((1, 1, 2, 3, 2), {"scale_factor": 2}, "nearest", None),
]


@pytest.mark.parametrize("shape,kw,mode,align", INTERP)
def test_interpolate(shape, kw, mode, align, device, float_dtype, rng):
    a = rng.standard_normal(shape).astype(float_dtype)
    sp = len(shape) - 2
    if "size" in kw:
        sizes = [kw["size"]] * sp if isinstance(kw["size"], int) else list(kw["size"])
        scales = None
    else:
        sizes = [int(math.floor(n * kw["scale_factor"])) for n in shape[2:]]
        scales = [kw["scale_factor"]] * sp
    ref = np_resize(a.astype(np.float64), sizes, mode, bool(align), scales)
    got = F.interpolate(T(a, device), mode=mode, align_corners=align, **kw)
    assert list(got.shape) == list(ref.shape)
    assert_close(got, ref, rtol=1e-5 if float_dtype == "float32" else 1e-12, atol=1e-6)
    if float_dtype == "float64" and device == "cpu":
        gradcheck(lambda x: F.interpolate(x, mode=mode, align_corners=align, **kw), [T(a, grad=True)])


@requires_torch
@pytest.mark.parametrize("shape,kw,mode,align", INTERP + [
    ((1, 2, 5, 5), {"scale_factor": 1.7}, "nearest", None),
    ((1, 2, 5, 5), {"scale_factor": 1.7}, "bilinear", False),
    ((1, 2, 7, 3), {"scale_factor": (0.6, 2.5)}, "bilinear", False),
    ((1, 2, 8, 8), {"size": (3, 5)}, "area", None),
])
def test_interpolate_vs_torch(shape, kw, mode, align, rng):
    a = rng.standard_normal(shape).astype(np.float32)
    x = T(a, grad=True)
    tx = torch.from_numpy(a).requires_grad_(True)
    y = F.interpolate(x, mode=mode, align_corners=align, **kw)
    ty = torch.nn.functional.interpolate(tx, mode=mode, align_corners=align, **kw)
    assert_close(y, ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    y.backward(T(g))
    ty.backward(torch.from_numpy(g))
    assert_close(x.grad, tx.grad.numpy(), rtol=1e-5, atol=1e-5)
    up = nn.Upsample(mode=mode, align_corners=align, **kw)(T(a))
    assert_close(up, ty.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode,kw", [("nearest", {"scale_factor": 2}), ("nearest-exact", {"size": (5, 3)}),
                                     ("bilinear", {"scale_factor": 2, "align_corners": False}),
                                     ("bilinear", {"size": (3, 7), "align_corners": True})])
def test_interpolate_cpu_kernels_double_backward(mode, kw, rng):
    """The cpu kernels of interpolate (nearest: one index-map gather; linear: one two-tap pass per dim) are linear
    maps: second derivatives through their recorded backward (gradgradcheck), and a larger case against torch."""
    from dlcore.testing import gradgradcheck
    x = T(rng.standard_normal((2, 3, 4, 5)), grad=True)
    assert gradgradcheck(lambda t: F.interpolate(t, mode=mode, **kw) ** 2, [x])
    if HAVE_TORCH:
        a = rng.standard_normal((3, 5, 17, 23)).astype(np.float32)
        tx = torch.from_numpy(a).requires_grad_(True)
        ty = torch.nn.functional.interpolate(tx, mode=mode, **kw)
        g = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
        ty.backward(torch.from_numpy(g))
        xd = T(a, grad=True)
        yd = F.interpolate(xd, mode=mode, **kw)
        yd.backward(T(g))
        # (torch interpolates along W first, these kernels along H first: rounding-level differences)
        assert_close(yd, ty.detach().numpy(), rtol=1e-5, atol=1e-5)
        assert_close(xd.grad, tx.grad.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("call,exc,msg", [
    (lambda: F.interpolate(dlcore.ones(2, 3), size=4), ValueError, "3-D, 4-D or 5-D"),
    (lambda: F.interpolate(dlcore.ones(1, 1, 3), size=4, mode="bilinear"), NotImplementedError, "4-D input"),
    (lambda: F.interpolate(dlcore.ones(1, 1, 3), size=4, align_corners=True), ValueError, "align_corners"),
    (lambda: F.interpolate(dlcore.ones(1, 1, 3)), ValueError, "exactly one"),
    (lambda: F.interpolate(dlcore.ones(1, 1, 3, 3), size=(2, 2, 2)), ValueError, "2 elements"),
    (lambda: F.interpolate(dlcore.ones(1, 1, 3), size=2, mode="bicubic"), NotImplementedError, "bicubic"),
    (lambda: F.interpolate(dlcore.ones(1, 1, 3), scale_factor=0.2), ValueError, "positive"),
])
def test_interpolate_bad_input(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


def test_pixel_shuffle(device, rng):
    a = rng.standard_normal((2, 12, 3, 4))
    r = 2
    ref = a.reshape(2, 3, r, r, 3, 4).transpose(0, 1, 4, 2, 5, 3).reshape(2, 3, 6, 8)
    y = F.pixel_shuffle(T(a, device), r)
    assert_close(y, ref, rtol=0, atol=0)
    assert_close(F.pixel_unshuffle(y, r), a, rtol=0, atol=0)
    assert_close(nn.PixelUnshuffle(2)(nn.PixelShuffle(2)(T(a, device))), a, rtol=0, atol=0)
    with pytest.raises(RuntimeError, match="divisible"):
        F.pixel_shuffle(dlcore.ones(1, 3, 2, 2), 2)
    with pytest.raises(RuntimeError, match="divisible"):
        F.pixel_unshuffle(dlcore.ones(1, 3, 3, 2), 2)


# ================================================================================================ normalisation

def np_norm_groups(a, groups_shape, eps):
    """Normalise a reshaped to groups_shape over its last axis (biased variance), float64."""
    g = a.reshape(groups_shape).astype(np.float64)
    mu = g.mean(-1, keepdims=True)
    var = ((g - mu) ** 2).mean(-1, keepdims=True)
    return ((g - mu) / np.sqrt(var + eps)).reshape(a.shape)


@pytest.mark.parametrize("shape,ns", [((4, 7), (7,)), ((2, 3, 16), (16,)), ((2, 3, 4, 5), (4, 5)),
                                      ((3, 33), (33,)), ((5, 1), (1,))])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm(shape, ns, affine, device, float_dtype, rng):
    a = (rng.standard_normal(shape) * 3 + 1).astype(float_dtype)
    w = rng.standard_normal(ns).astype(float_dtype) if affine else None
    b = rng.standard_normal(ns).astype(float_dtype) if affine else None
    d = int(np.prod(ns))
    ref = np_norm_groups(a, (-1, d), 1e-5)
    if affine:
        ref = ref * w + b
    got = F.layer_norm(noncontig(a, device), ns, T(w, device) if affine else None, T(b, device) if affine else None)
    assert_close(got, ref, rtol=1e-4 if float_dtype == "float32" else 1e-10, atol=1e-5)
    if float_dtype == "float64" and device == "cpu":
        ins = [T(a, grad=True)] + ([T(w, grad=True), T(b, grad=True)] if affine else [])
        gradcheck(lambda x, *p: F.layer_norm(x, ns, *p), ins)


@pytest.mark.parametrize("shape,groups", [((2, 6, 5), 3), ((2, 4, 3, 3), 2), ((3, 4, 2, 2), 4), ((2, 3, 7), 1)])
def test_group_norm(shape, groups, device, float_dtype, rng):
    a = (rng.standard_normal(shape) * 2 - 1).astype(float_dtype)
    c = shape[1]
    w = rng.standard_normal(c).astype(float_dtype)
    b = rng.standard_normal(c).astype(float_dtype)
    cs = [1, c] + [1] * (len(shape) - 2)
    ref = np_norm_groups(a, (shape[0], groups, -1), 1e-5) * w.reshape(cs) + b.reshape(cs)
    got = F.group_norm(T(a, device), groups, T(w, device), T(b, device))
    assert_close(got, ref, rtol=1e-4 if float_dtype == "float32" else 1e-10, atol=1e-5)
    if float_dtype == "float64" and device == "cpu":
        gradcheck(lambda x, ww, bb: F.group_norm(x, groups, ww, bb), [T(a, grad=True), T(w, grad=True),
                                                                     T(b, grad=True)])


def test_instance_norm_running_stats(device, rng):
    a = rng.standard_normal((3, 4, 5, 6)) * 2 + 0.5
    rm = rng.standard_normal(4)
    rv = rng.uniform(0.5, 2.0, 4)
    trm, trv = T(rm, device), T(rv, device)
    y = F.instance_norm(T(a, device), trm, trv, momentum=0.2, eps=1e-5)
    assert_close(y, np_norm_groups(a, (3, 4, -1), 1e-5), rtol=1e-10, atol=1e-10)
    g = a.reshape(3, 4, -1)
    mean_b = g.mean(-1).mean(0)
    var_b = g.var(-1, ddof=1).mean(0)
    assert_close(trm, 0.8 * rm + 0.2 * mean_b, rtol=1e-10, atol=1e-12)
    assert_close(trv, 0.8 * rv + 0.2 * var_b, rtol=1e-10, atol=1e-12)
    y2 = F.instance_norm(T(a, device), trm, trv, use_input_stats=False)
    ref2 = (a - trm.cpu().numpy().reshape(1, 4, 1, 1)) / np.sqrt(trv.cpu().numpy().reshape(1, 4, 1, 1) + 1e-5)
    assert_close(y2, ref2, rtol=1e-10, atol=1e-10)


def test_norm_bad_input():
    with pytest.raises(RuntimeError, match="normalized_shape"):
        F.layer_norm(dlcore.ones(2, 3), (4,))
    with pytest.raises(RuntimeError, match="weight of shape"):
        F.layer_norm(dlcore.ones(2, 3), (3,), dlcore.ones(4))
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(dlcore.ones(2, 6, 3), 4)
    with pytest.raises(ValueError, match="divisible by num_groups"):
        nn.GroupNorm(4, 6)
    with pytest.raises(RuntimeError, match="at least 3-D"):
        F.instance_norm(dlcore.ones(2, 3))
    with pytest.raises(ValueError, match="more than 1 spatial"):
        F.instance_norm(dlcore.ones(2, 3, 1))
    with pytest.raises(ValueError, match="channels"):
        nn.InstanceNorm1d(4, affine=True)(dlcore.ones(2, 3, 5))


@requires_torch
def test_norm_modules_vs_torch(rng):
    a = rng.standard_normal((4, 6, 5, 3)).astype(np.float32)
    cases = [(nn.LayerNorm((5, 3)), torch.nn.LayerNorm((5, 3))),
             (nn.LayerNorm(3, elementwise_affine=False), torch.nn.LayerNorm(3, elementwise_affine=False)),
             (nn.LayerNorm(3, bias=False), torch.nn.LayerNorm(3, bias=False)),
             (nn.GroupNorm(3, 6), torch.nn.GroupNorm(3, 6)),
             (nn.InstanceNorm2d(6, affine=True, track_running_stats=True),
              torch.nn.InstanceNorm2d(6, affine=True, track_running_stats=True))]
    for m, tm in cases:
        for p in tm.parameters():
            with torch.no_grad():
                p.copy_(torch.randn(p.shape))
        m.load_state_dict({k: dlcore.from_numpy(v.detach().numpy().copy()) for k, v in tm.state_dict().items()})
        assert [k for k, _ in m.named_parameters()] == [k for k, _ in tm.named_parameters()]
        x = T(a, grad=True)
        tx = torch.from_numpy(a).requires_grad_(True)
        y, ty = m(x), tm(tx)
        assert_close(y, ty.detach().numpy(), rtol=1e-4, atol=1e-5)
        g = rng.standard_normal(a.shape).astype(np.float32)
        y.backward(T(g))
        ty.backward(torch.from_numpy(g))
        assert_close(x.grad, tx.grad.numpy(), rtol=1e-3, atol=1e-4)
        tp = dict(tm.named_parameters())
        for k, p in m.named_parameters():
            assert_close(p.grad, tp[k].grad.numpy(), rtol=1e-3, atol=1e-4)
        for k, v in tm.state_dict().items():
            assert_close(m.state_dict()[k], v.numpy(), rtol=1e-5, atol=1e-6)
        m.eval()
        tm.eval()
        assert_close(m(T(a)), tm(torch.from_numpy(a)).detach().numpy(), rtol=1e-4, atol=1e-5)


# ================================================================================================ one_hot, normalize, distances

def test_one_hot(device):
    idx = np.array([[0, 3], [2, 1]])
    got = F.one_hot(T(idx, device))
    assert got.dtype == dlcore.int64
    assert_close(got, np.eye(4, dtype=np.int64)[idx], rtol=0, atol=0)
    assert list(F.one_hot(T(idx, device), 6).shape) == [2, 2, 6]
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        F.one_hot(T(idx), 3)
    with pytest.raises(RuntimeError, match="non-negative"):
        F.one_hot(T([-1, 0]))
    with pytest.raises(RuntimeError, match="int64"):
        F.one_hot(T([0.0, 1.0]))
    with pytest.raises(RuntimeError, match="empty"):
        F.one_hot(dlcore.zeros(0, dtype=dlcore.int64))


def test_normalize_and_distances(device, rng):
    a = rng.standard_normal((4, 5))
    b = rng.standard_normal((4, 5))
    a[1] = 0.0
    n = np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    assert_close(F.normalize(T(a, device)), a / n, rtol=1e-12, atol=1e-12)
    n1 = np.maximum(np.abs(a).sum(0, keepdims=True), 1e-12)
    assert_close(F.normalize(T(a, device), p=1, dim=0), a / n1, rtol=1e-12, atol=1e-12)
    cs = (a * b).sum(1) / (np.maximum(np.linalg.norm(a, axis=1), 1e-8) * np.maximum(np.linalg.norm(b, axis=1), 1e-8))
    assert_close(F.cosine_similarity(T(a, device), T(b, device)), cs, rtol=1e-12, atol=1e-12)
    assert_close(nn.CosineSimilarity(dim=1)(T(a, device), T(b, device)), cs, rtol=1e-12, atol=1e-12)
    pd = np.linalg.norm(a - b + 1e-6, axis=-1)
    assert_close(F.pairwise_distance(T(a, device), T(b, device)), pd, rtol=1e-12, atol=1e-12)
    assert_close(nn.PairwiseDistance(p=1, keepdim=True)(T(a, device), T(b, device)),
                 np.abs(a - b + 1e-6).sum(-1, keepdims=True), rtol=1e-12, atol=1e-12)
    a[1] = rng.standard_normal(5)
    gradcheck(lambda x: F.normalize(x, dim=1), [T(a, grad=True)])
    gradcheck(lambda x, y: F.cosine_similarity(x, y, dim=0), [T(a, grad=True), T(b, grad=True)])


@pytest.mark.parametrize("reduction", ["none", "sum", "mean", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target, device, rng):
    logp = np.log(rng.dirichlet(np.ones(5), size=3))
    q = rng.dirichlet(np.ones(5), size=3)
    q[0, 2] = 0.0
    tgt = np.log(np.where(q > 0, q, 1.0)) if log_target else q
    pointwise = np.where(q > 0, q * (np.log(np.where(q > 0, q, 1.0)) - logp), 0.0)
    if log_target:
        pointwise = np.exp(tgt) * (tgt - logp)
    ref = {"none": pointwise, "sum": pointwise.sum(), "mean": pointwise.mean(),
           "batchmean": pointwise.sum() / 3}[reduction]
    got = F.kl_div(T(logp, device), T(tgt, device), reduction=reduction, log_target=log_target)
    assert_close(got, ref, rtol=1e-12, atol=1e-12)
    assert_close(nn.KLDivLoss(reduction=reduction, log_target=log_target)(T(logp, device), T(tgt, device)), ref,
                 rtol=1e-12, atol=1e-12)
    x = T(logp, device, grad=True)
    F.kl_div(x, T(tgt, device), reduction="sum", log_target=log_target).backward()
    assert_close(x.grad, -(np.exp(tgt) if log_target else q), rtol=1e-12, atol=1e-12)
    assert np.isfinite(x.grad.cpu().numpy()).all()


# ================================================================================================ activations

SELU_A, SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
ACTS = [
    ("hardswish", lambda x: F.hardswish(x), lambda a: a * np.clip(a + 3, 0, 6) / 6,
     lambda a: np.where(a <= -3, 0.0, np.where(a < 3, a / 3 + 0.5, 1.0))),
    ("hardsigmoid", lambda x: F.hardsigmoid(x), lambda a: np.clip(a + 3, 0, 6) / 6,
     lambda a: np.where((a > -3) & (a < 3), 1 / 6, 0.0)),
    ("selu", lambda x: F.selu(x), lambda a: SELU_S * np.where(a > 0, a, SELU_A * np.expm1(a)),
     lambda a: SELU_S * np.where(a > 0, 1.0, SELU_A * np.exp(a))),
    ("celu", lambda x: F.celu(x, 0.7), lambda a: np.where(a > 0, a, 0.7 * np.expm1(a / 0.7)),
     lambda a: np.where(a > 0, 1.0, np.exp(a / 0.7))),
    ("threshold", lambda x: F.threshold(x, 0.5, -2.0), lambda a: np.where(a <= 0.5, -2.0, a),
     lambda a: np.where(a <= 0.5, 0.0, 1.0)),
    ("softshrink", lambda x: F.softshrink(x, 0.5), lambda a: np.where(np.abs(a) <= 0.5, 0.0, a - 0.5 * np.sign(a)),
     lambda a: np.where(np.abs(a) <= 0.5, 0.0, 1.0)),
    ("hardshrink", lambda x: F.hardshrink(x, 0.5), lambda a: np.where(np.abs(a) <= 0.5, 0.0, a),
     lambda a: np.where(np.abs(a) <= 0.5, 0.0, 1.0)),
]


@pytest.mark.parametrize("name,fn,ref,dref", ACTS, ids=[a[0] for a in ACTS])
def test_extra_activations(name, fn, ref, dref, device, float_dtype, rng):
    # kinks included exactly: -3, 3, 0, +-0.5; and infinities
    a = np.concatenate([rng.standard_normal(40) * 4, [-3.0, 3.0, 0.0, 0.5, -0.5, 1e4, -1e4]]).astype(float_dtype)
    tol = 1e-6 if float_dtype == "float32" else 1e-13
    with np.errstate(over="ignore"):  # np.where evaluates both branches
        assert_close(fn(T(a, device)), ref(a.astype(np.float64)), rtol=tol, atol=tol)
        g = rng.standard_normal(a.shape)
        got = grad_of(fn, a.astype(np.float64), g, device)
        assert_close(got, g * dref(a.astype(np.float64)), rtol=1e-12, atol=1e-12)
    inf = np.array([np.inf, -np.inf, np.nan], dtype=float_dtype)
    with np.errstate(all="ignore"):
        assert_close(fn(T(inf, device)), ref(inf.astype(np.float64)), rtol=tol, atol=0, equal_nan=True)


@requires_torch
@pytest.mark.parametrize("name", ["hardswish", "hardsigmoid", "selu", "celu", "softshrink", "hardshrink", "glu",
                                  "threshold", "prelu"])
def test_extra_activation_modules_vs_torch(name, rng):
    a = np.concatenate([rng.standard_normal(38) * 4, [-3.0, 3.0, 0.0, 0.5, -0.5, 1.0]]).astype(np.float32)
    a = a.reshape(2, 2, 11)
    mods = {"hardswish": ("Hardswish", ()), "hardsigmoid": ("Hardsigmoid", ()), "selu": ("SELU", ()),
            "celu": ("CELU", (0.7,)), "softshrink": ("Softshrink", (0.5,)), "hardshrink": ("Hardshrink", (0.5,)),
            "glu": ("GLU", (1,)), "threshold": ("Threshold", (0.5, -2.0)), "prelu": ("PReLU", (2,))}
    cls, args = mods[name]
    m, tm = getattr(nn, cls)(*args), getattr(torch.nn, cls)(*args)
    if name == "prelu":
        with torch.no_grad():
            tm.weight.copy_(torch.tensor([0.1, -0.3]))
        m.load_state_dict({"weight": dlcore.tensor([0.1, -0.3])})
    x = T(a, grad=True)
    tx = torch.from_numpy(a).requires_grad_(True)
    y, ty = m(x), tm(tx)
    assert_close(y, ty.detach().numpy(), rtol=1e-6, atol=1e-6)
    g = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    y.backward(T(g))
    ty.backward(torch.from_numpy(g))
    assert_close(x.grad, tx.grad.numpy(), rtol=1e-6, atol=1e-6)
    if name == "prelu":
        assert_close(m.weight.grad, tm.weight.grad.numpy(), rtol=1e-5, atol=1e-5)
    assert repr(m).startswith(cls)


def test_inplace_activations_keep_history(rng):
    a = rng.standard_normal(10)
    for fn in (lambda x: F.hardswish(x, inplace=True), lambda x: F.selu(x, inplace=True),
               lambda x: F.threshold(x, 0.1, 5.0, inplace=True)):
        w = T(a, grad=True)
        x = w * 1.0
        y = fn(x)
        assert y is x
        y.sum().backward()
        w2 = T(a, grad=True)
        fn_ref = fn(w2 * 1.0)
        assert w.grad is not None
    x = T(a)
    F.hardsigmoid(x, inplace=True)
    assert_close(x, np.clip(a + 3, 0, 6) / 6)


def test_prelu_and_glu_grads(rng):
    a = rng.standard_normal((3, 2, 4))
    a[np.abs(a) < 0.05] = 0.3  # away from the kink for finite differences
    gradcheck(lambda x, w: F.prelu(x, w), [T(a, grad=True), T([0.2, -0.4], grad=True)])
    gradcheck(lambda x, w: F.prelu(x, w), [T(a, grad=True), T([0.25], grad=True)])
    gradcheck(lambda x: F.glu(x, dim=-1), [T(a, grad=True)])
    from dlcore.testing import gradgradcheck
    assert gradgradcheck(lambda x: F.glu(x, dim=1), [T(a, grad=True)])
    with pytest.raises(RuntimeError, match="even"):
        F.glu(dlcore.ones(2, 3))
    with pytest.raises(RuntimeError, match="parameter count"):
        F.prelu(dlcore.ones(2, 3), dlcore.ones(2))
    with pytest.raises(RuntimeError, match="greater or equal"):
        F.softshrink(dlcore.ones(2), -1.0)


@requires_torch
def test_simple_modules_vs_torch(rng):
    a = rng.standard_normal((3, 5)).astype(np.float32) * 3
    for cls, args in [("SiLU", ()), ("Mish", ()), ("Hardtanh", (-0.5, 2.0)), ("LogSigmoid", ()),
                      ("Softsign", ()), ("Tanhshrink", ()), ("Softmin", (1,))]:
        got = getattr(nn, cls)(*args)(T(a))
        ref = getattr(torch.nn, cls)(*args)(torch.from_numpy(a))
        assert_close(got, ref.numpy(), rtol=1e-5, atol=1e-6)
    t = rng.standard_normal((3, 5)).astype(np.float32)
    for cls, kw in [("SmoothL1Loss", {"beta": 0.5}), ("HuberLoss", {"delta": 0.7})]:
        got = getattr(nn, cls)(**kw)(T(a), T(t))
        ref = getattr(torch.nn, cls)(**kw)(torch.from_numpy(a), torch.from_numpy(t))
        assert_close(got, ref.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="missing argument"):
        nn.Threshold(0.5)


@pytest.mark.parametrize("with_w,with_b", [(True, False), (False, True)])
def test_layer_norm_kernel_partial_affine(with_w, with_b, float_dtype, rng):
    """The cpu kernel's weight-only / bias-only branches and their gradients (float64 finite differences)."""
    a = (rng.standard_normal((6, 37)) * 2 + 3).astype(float_dtype)
    w = rng.standard_normal(37).astype(float_dtype)
    b = rng.standard_normal(37).astype(float_dtype)
    ref = np_norm_groups(a, (-1, 37), 1e-5) * (w if with_w else 1.0) + (b if with_b else 0.0)
    got = F.layer_norm(T(a), (37,), T(w) if with_w else None, T(b) if with_b else None)
    assert_close(got, ref, rtol=1e-4 if float_dtype == "float32" else 1e-10, atol=1e-5)
    if float_dtype == "float64":
        p = [T(w, grad=True)] if with_w else [T(b, grad=True)]
        fn = (lambda x, ww: F.layer_norm(x, (37,), ww, None)) if with_w else \
            (lambda x, bb: F.layer_norm(x, (37,), None, bb))
        gradcheck(fn, [T(a, grad=True)] + p)


def test_fuzz_regressions(rng):
    """Cases a fuzzing pass against torch found: cosine_similarity of a size-1 (broadcast) operand; circular pad
    with mixed negative and positive pads; float64 linear interpolation precision; nearest with a non-integer
    scale that keeps the size; softshrink of NaN."""
    a = rng.standard_normal((2, 4))
    b = rng.standard_normal((2, 1))
    bb = np.broadcast_to(b, a.shape)
    ref = (a * bb).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(bb, axis=1))
    assert_close(F.cosine_similarity(T(a), T(b)), ref, rtol=1e-12, atol=1e-12)
    x = T(np.arange(5.0).reshape(1, 1, 5))
    for pad, ref in [((-2, 1), [2, 3, 4, 2]), ((1, -2), [2, 0, 1, 2]), ((2, -1), [2, 3, 0, 1, 2, 3])]:
        assert_close(F.pad(x, pad, "circular")[0, 0], np.array(ref, float), rtol=0, atol=0)
    v = np.array([[[0.1, 0.7, -0.4, 2.0]]])
    got = F.interpolate(T(v), size=7, mode="linear")
    assert_close(got, np_resize(v, [7], "linear"), rtol=1e-14, atol=1e-15)
    assert_close(F.interpolate(T(np.arange(3.0).reshape(1, 1, 3)), scale_factor=1.3, mode="nearest")[0, 0],
                 [0.0, 0.0, 1.0], rtol=0, atol=0)
    assert_close(F.interpolate(T(v), scale_factor=1.1, mode="linear"), v, rtol=0, atol=0)  # size kept: a copy
    assert np.isnan(F.softshrink(T([np.nan, 1.0])).numpy()[0])
    with pytest.raises(IndexError, match="kthvalue"):
        dlcore.kthvalue(dlcore.ones(2, 3), 1, 4)
    with pytest.raises(TypeError, match="topk"):
        dlcore.topk(dlcore.ones(5), 1.5)
    with pytest.raises(RuntimeError, match="einsum"):
        dlcore.einsum("i->j->k", dlcore.ones(3))


@requires_torch
def test_instance_norm_momentum_none_like_torch(rng):
    import torch
    a = rng.standard_normal((2, 3, 5)).astype(np.float32)
    m = dlcore.nn.InstanceNorm1d(3, momentum=None, track_running_stats=True)
    t = torch.nn.InstanceNorm1d(3, momentum=None, track_running_stats=True)
    m(dlcore.tensor(a))
    t(torch.from_numpy(a))
    np.testing.assert_allclose(m.running_mean.numpy(), t.running_mean.numpy(), atol=1e-7)
    np.testing.assert_allclose(m.running_var.numpy(), t.running_var.numpy(), atol=1e-7)


def test_hstack_of_scalars_is_atleast_1d(device):
    xs = [dlcore.tensor(float(v), device=device) for v in (1, 2, 3)]
    np.testing.assert_array_equal(dlcore.hstack(xs).cpu().numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(dlcore.vstack(xs).cpu().numpy(), [[1.0], [2.0], [3.0]])


@requires_torch
def test_pad_module_reprs_like_torch():
    import torch
    for name, args in (("ZeroPad2d", (1,)), ("ConstantPad2d", (1, 0.5)), ("ReflectionPad1d", ((1, 2),)),
                       ("ZeroPad1d", ((1, 2),)), ("ConstantPad3d", (2, 1.0))):
        assert repr(getattr(nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))


def test_prelu_one_weight_kernel_path_grads(rng):
    """prelu with one weight on the cpu runs leaky_relu's kernel (slope = the weight): gradcheck of input and weight,
    gradgradcheck, and the per-channel path agreeing with it on the same values."""
    from dlcore.testing import gradgradcheck
    x = dlcore.tensor(rng.standard_normal((3, 4, 5)) * 2, requires_grad=True)
    w = dlcore.tensor([0.3], dtype=dlcore.float64, requires_grad=True)
    gradcheck(lambda a, b: F.prelu(a, b), [x, w])
    assert gradgradcheck(lambda a, b: F.prelu(a, b), [x, w])
    w4 = dlcore.tensor([0.3] * 4, dtype=dlcore.float64)
    assert_close(F.prelu(x, w).detach().numpy(), F.prelu(x, w4).detach().numpy(), rtol=0, atol=0)
    xf = dlcore.tensor(rng.standard_normal(50).astype(np.float32))
    assert_close(F.prelu(xf, dlcore.tensor([-0.7])).numpy(), np.where(xf.numpy() > 0, xf.numpy(), np.float32(-0.7) * xf.numpy()),
                 rtol=0, atol=0)


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(6, 3), (5, 4, 7), (3, 5, 6, 6), (2, 3, 40), (0, 3, 4), (3, 2, 0)])
def test_prelu_per_channel_kernel(dt, shape, rng):
    """prelu with one weight per channel on the cpu (rows of 16+ elements by leaky_relu's kernels, shorter ones by
    a plain loop) against float64 NumPy: the output, dx and dw = sum over the channel of g min(x, 0); a NaN input
    propagates into its output, dx stays finite, dw of its channel is NaN (torch's rule)."""
    x = rng.standard_normal(shape).astype(dt)
    g = rng.standard_normal(shape).astype(dt)
    w = rng.standard_normal(shape[1]).astype(dt)
    if x.size:
        x.reshape(-1)[-1] = np.nan
    X, W = dlcore.tensor(x, requires_grad=True), dlcore.tensor(w, requires_grad=True)
    y = F.prelu(X, W)
    y.backward(dlcore.tensor(g))
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    wb = w.astype(np.float64).reshape([-1] + [1] * (len(shape) - 2))
    tol = dict(rtol=1e-6, atol=1e-6) if dt == "float32" else dict(rtol=1e-13, atol=1e-13)
    assert_close(y.detach().numpy(), np.where(x64 > 0, x64, wb * x64), **tol)
    assert_close(X.grad.numpy(), np.where(x64 > 0, g64, wb * g64), **tol)
    dw = (g64 * np.where(x64 > 0, 0.0, x64)).sum(axis=tuple(d for d in range(len(shape)) if d != 1))
    assert_close(W.grad.numpy(), dw, **(dict(rtol=1e-5, atol=1e-5) if dt == "float32" else tol))
    if x.size:
        assert np.isnan(W.grad.numpy()[-1]) and not np.isnan(W.grad.numpy()[:-1]).any()
    with dlcore.no_grad():
        assert_close(F.prelu(dlcore.tensor(x), dlcore.tensor(w)).numpy(), y.detach().numpy(), rtol=0, atol=0)


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("shape,dim", [((3, 8), -1), ((4, 6, 5), 1), ((2, 4, 3, 38), -1), ((6,), 0), ((2, 0, 4), 2),
                                       ((2, 34, 3), 1)])
def test_glu_cpu_kernel(dt, shape, dim, rng):
    """glu's cpu kernels (a sigmoid(b) and its backward in one pass each, halves of any dim, vector body and tail)
    against float64 NumPy."""
    x = rng.standard_normal(shape).astype(dt) * 3
    h = shape[dim] // 2
    a, b = np.split(x.astype(np.float64), 2, axis=dim)
    g = rng.standard_normal(a.shape).astype(dt)
    X = dlcore.tensor(x, requires_grad=True)
    y = F.glu(X, dim)
    y.backward(dlcore.tensor(g))
    s = 1 / (1 + np.exp(-b))
    tol = dict(rtol=2e-6, atol=2e-6) if dt == "float32" else dict(rtol=1e-13, atol=1e-13)
    assert_close(y.detach().numpy(), a * s, **tol)
    assert_close(X.grad.numpy(), np.concatenate([g * s, g * a * s * (1 - s)], axis=dim), **tol)
    assert h * 2 == shape[dim]


def test_prelu_per_channel_grads_and_errors(rng):
    from dlcore.testing import gradgradcheck
    a = rng.standard_normal((2, 3, 4, 5))
    a[np.abs(a) < 0.05] = 0.3  # away from the kink for finite differences
    for shape in ((2, 3, 4, 5), (2, 3, 20)):  # a plain-loop and a row-kernel layout
        x = dlcore.tensor(a.reshape(shape), requires_grad=True)
        w = dlcore.tensor([0.2, -0.4, 1.3], dtype=dlcore.float64, requires_grad=True)
        gradcheck(lambda p, q: F.prelu(p, q), [x, w])
        assert gradgradcheck(lambda p, q: F.prelu(p, q), [x, w])
    # only one of the two gradients wanted
    x = dlcore.tensor(a, requires_grad=True)
    w = dlcore.tensor([0.2, -0.4, 1.3], dtype=dlcore.float64)
    F.prelu(x, w).sum().backward()
    assert_close(x.grad.numpy(), np.where(a > 0, 1.0, np.array([0.2, -0.4, 1.3]).reshape(3, 1, 1)), rtol=0, atol=0)
    with pytest.raises(RuntimeError, match="parameter count"):
        F.prelu(dlcore.ones(4), dlcore.ones(4))  # below 2-D there is one channel (torch)
    with pytest.raises(TypeError, match="prelu"):
        dlcore._C.prelu_channels(dlcore.ones(2, 3), dlcore.ones(3, dtype=dlcore.float64))
    with pytest.raises(ValueError, match="parameter count"):
        dlcore._C.prelu_channels(dlcore.ones(2, 3), dlcore.ones(2))


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_addcmul_addcdiv_lerp_fused_cpu_pass(dt, rng):
    """The one-pass cpu kernel of addcmul / addcdiv / lerp (same shape and dtype, contiguous, no autograd) against
    float64 NumPy: torch's operation order, lerp exact at weights 0 and 1 and two-sided around 0.5; broadcast,
    mixed dtypes and autograd still take the composed path with the same values."""
    a, b, c = (rng.standard_normal((37, 41)).astype(dt) for _ in range(3))
    c = c + np.sign(c) * 0.5  # away from 0 for the division
    A, B, Cc = dlcore.tensor(a), dlcore.tensor(b), dlcore.tensor(c)
    tol = dict(rtol=2e-6, atol=2e-6) if dt == "float32" else dict(rtol=1e-14, atol=1e-14)
    a64, b64, c64 = a.astype(np.float64), b.astype(np.float64), c.astype(np.float64)
    assert_close(dlcore.addcmul(A, B, Cc, value=-0.7).numpy(), a64 - 0.7 * b64 * c64, **tol)
    assert_close(dlcore.addcdiv(A, B, Cc, value=2.5).numpy(), a64 + 2.5 * b64 / c64, **tol)
    for w in (0.0, 0.3, 0.5, 0.8, 1.0, -0.4, 1.7):
        got = dlcore.lerp(A, B, w).numpy()
        assert_close(got, a64 + w * (b64 - a64), **tol)
        if w == 0.0:
            np.testing.assert_array_equal(got, a)
        if w == 1.0:
            np.testing.assert_array_equal(got, b)
    # the composed paths: a broadcast operand, and autograd
    assert_close(dlcore.addcmul(A, B[0], Cc, value=0.5).numpy(), a64 + 0.5 * b64[0] * c64, **tol)
    Ag = dlcore.tensor(a, requires_grad=True)
    r = dlcore.addcmul(Ag, B, Cc, value=2.0)
    assert r.requires_grad
    r.sum().backward()
    np.testing.assert_array_equal(Ag.grad.numpy(), np.ones_like(a))


@pytest.mark.parametrize("dt", ["float32", "float64", "int16", "uint8"])
@pytest.mark.parametrize("shape,r", [((2, 8, 3, 5), 2), ((3, 2, 9, 4, 4), 3), ((18, 2, 3), 3), ((1, 4, 1, 1), 2)])
def test_pixel_shuffle_cpu_kernel(dt, shape, r, rng):
    """pixel_shuffle / pixel_unshuffle's cpu copies against the definition (NumPy reshape + transpose), every item
    size, leading batch dims; unshuffle inverts shuffle; gradients through both (double backward too)."""
    x = (rng.standard_normal(shape) * 50).astype(dt)
    *b, c, h, w = shape
    ref = x.reshape(*b, c // (r * r), r, r, h, w)
    nb = len(b)
    ref = ref.transpose(*range(nb), nb, nb + 3, nb + 1, nb + 4, nb + 2).reshape(*b, c // (r * r), h * r, w * r)
    y = F.pixel_shuffle(dlcore.tensor(x), r)
    np.testing.assert_array_equal(y.numpy(), ref)
    np.testing.assert_array_equal(F.pixel_unshuffle(y, r).numpy(), x)
    if dt == "float64":
        from dlcore.testing import gradgradcheck
        t = dlcore.tensor(x[..., :2, :2] / 50, requires_grad=True)
        gradcheck(lambda v: F.pixel_shuffle(v, r) ** 2, [t])
        assert gradgradcheck(lambda v: F.pixel_unshuffle(F.pixel_shuffle(v, r), r) ** 2, [t])
