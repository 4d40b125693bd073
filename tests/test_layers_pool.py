"""max_pool2d, avg_pool2d, lp_pool2d, adaptive_avg_pool2d: NumPy float64 oracles (written here), torch, float64
gradchecks (max-pool away from ties), every ISA (the 2x2 AVX path included), non-contiguous input, bad input."""
import math

import numpy as np
import pytest

import dlcore
import dlcore.functional as F
from dlcore.testing import assert_close, gradcheck
from conftest import DEVICES, requires_torch

ISAS = ["scalar", "avx2", "avx512"]
# (device, cpu isa): every ISA on cpu; cuda once (the ISA pin is a CPU setting)
DEV_ISA = [("cpu", i) for i in ISAS] + [(d, "scalar") for d in DEVICES if d != "cpu"]
DEV_ISA_IDS = ["-".join(d) for d in DEV_ISA]


def _host(t):
    """A tensor's values as a NumPy array, from any device."""
    return t.detach().to("cpu").numpy()


def _pin(isa):
    try:
        dlcore._C._set_cpu_isa(isa)
    except ValueError:
        pytest.skip(f"CPU lacks {isa}")


def out_size(L, k, s, p, d, ceil):
    num = L + 2 * p - d * (k - 1) - 1
    o = (-(-num // s) if ceil else num // s) + 1
    if ceil and (o - 1) * s >= L + p:
        o -= 1
    return o


def np_max_pool(x, k, s, p, d, ceil):
    N, C, H, W = x.shape
    Ho, Wo = out_size(H, k[0], s[0], p[0], d[0], ceil), out_size(W, k[1], s[1], p[1], d[1], ceil)
    out = np.full((N, C, Ho, Wo), -np.inf)
    idx = np.zeros((N, C, Ho, Wo), dtype=np.int64)
    for oh in range(Ho):
        for ow in range(Wo):
            best = None
            for i in range(k[0]):
                h = oh * s[0] - p[0] + i * d[0]
                if not 0 <= h < H:
                    continue
                for j in range(k[1]):
                    w = ow * s[1] - p[1] + j * d[1]
                    if not 0 <= w < W:
                        continue
                    v = x[:, :, h, w]
                    if best is None:
                        out[:, :, oh, ow] = v
                        idx[:, :, oh, ow] = h * W + w
                        best = True
                    else:
                        take = (v > out[:, :, oh, ow]) | np.isnan(v)  # torch's scan rule
                        out[:, :, oh, ow] = np.where(take, v, out[:, :, oh, ow])
                        idx[:, :, oh, ow] = np.where(take, h * W + w, idx[:, :, oh, ow])
    return out, idx


def np_avg_pool(x, k, s, p, ceil, cip, div):
    N, C, H, W = x.shape
    Ho, Wo = out_size(H, k[0], s[0], p[0], 1, ceil), out_size(W, k[1], s[1], p[1], 1, ceil)
    out = np.zeros((N, C, Ho, Wo))
    for oh in range(Ho):
        for ow in range(Wo):
            h0, w0 = oh * s[0] - p[0], ow * s[1] - p[1]
            h1, w1 = min(h0 + k[0], H + p[0]), min(w0 + k[1], W + p[1])
            size = (h1 - h0) * (w1 - w0)
            h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, H), min(w1, W)
            if h0 >= h1 or w0 >= w1:
                continue
            dv = div if div else (size if cip else (h1 - h0) * (w1 - w0))
            out[:, :, oh, ow] = x[:, :, h0:h1, w0:w1].sum(axis=(2, 3)) / dv
    return out


MAX_CASES = [  # (shape, kernel, stride, padding, dilation, ceil)
    ((2, 3, 8, 8), (2, 2), (2, 2), (0, 0), (1, 1), False),
    ((2, 3, 24, 24), (2, 2), (2, 2), (0, 0), (1, 1), False),     # the AVX fast path, full vectors
    ((1, 2, 9, 37), (2, 2), (2, 2), (0, 0), (1, 1), False),      # odd sizes: tails and a leftover row/column
    ((1, 2, 9, 37), (2, 2), (2, 2), (0, 0), (1, 1), True),
    ((2, 2, 7, 9), (3, 3), (2, 2), (1, 1), (1, 1), False),
    ((2, 2, 7, 9), (3, 2), (1, 2), (1, 0), (1, 1), True),
    ((1, 3, 11, 10), (3, 3), (2, 3), (1, 1), (2, 2), False),     # dilation
    ((1, 1, 5, 5), (2, 2), (3, 3), (0, 0), (1, 1), False),       # stride > kernel
    ((3, 6, 6), (2, 2), (2, 2), (0, 0), (1, 1), False),          # 3-d input
]


@pytest.mark.parametrize("dev_isa", DEV_ISA, ids=DEV_ISA_IDS)
@pytest.mark.parametrize("case", MAX_CASES)
def test_max_pool_forward_indices_backward(dev_isa, case, float_dtype, rng):
    device, isa = dev_isa
    _pin(isa)
    shape, k, s, p, d, ceil = case
    x = rng.standard_normal(shape).astype(float_dtype)
    x4 = x if x.ndim == 4 else x[None]
    ref, ridx = np_max_pool(x4.astype(np.float64), k, s, p, d, ceil)
    if x.ndim == 3:
        ref, ridx = ref[0], ridx[0]
    xd = dlcore.tensor(x, device=device, requires_grad=True)
    out, idx = F.max_pool2d(xd, k, s, p, d, ceil, return_indices=True)
    assert out.dtype == xd.dtype and out.device.type == device and idx.device.type == device
    assert_close(_host(out), ref, rtol=0, atol=0)
    assert (_host(idx) == ridx).all()
    assert_close(_host(F.max_pool2d(xd.detach(), k, s, p, d, ceil)), ref, rtol=0, atol=0)
    g = rng.standard_normal(ref.shape).astype(float_dtype)
    out.backward(dlcore.tensor(g, device=device))
    gref = np.zeros(x4.shape).reshape(x4.shape[0] * x4.shape[1], -1)
    gi = g.reshape(gref.shape[0], -1)
    ii = ridx.reshape(gref.shape[0], -1)
    for pl in range(gref.shape[0]):
        np.add.at(gref[pl], ii[pl], gi[pl])
    assert_close(_host(xd.grad), gref.reshape(x.shape), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dev_isa", DEV_ISA, ids=DEV_ISA_IDS)
def test_max_pool_gradcheck(dev_isa, rng):
    device, isa = dev_isa
    _pin(isa)
    x = rng.permutation(2 * 2 * 6 * 7).reshape(2, 2, 6, 7).astype(np.float64) * 0.1  # distinct: no ties
    gradcheck(lambda v: F.max_pool2d(v, 2), [dlcore.tensor(x, device=device, requires_grad=True)], eps=1e-4)
    gradcheck(lambda v: F.max_pool2d(v, 3, 2, 1, ceil_mode=True), [dlcore.tensor(x, device=device, requires_grad=True)],
              eps=1e-4)


@pytest.mark.parametrize("dev_isa", DEV_ISA, ids=DEV_ISA_IDS)
def test_max_pool_nan_and_ties(dev_isa):
    device, isa = dev_isa
    _pin(isa)
    x = np.zeros((1, 1, 2, 32), dtype=np.float32)  # all ties: the first element wins
    x[0, 0, 1, 5] = np.nan
    xd = dlcore.tensor(x, device=device, requires_grad=True)
    out, idx = F.max_pool2d(xd, 2, return_indices=True)
    assert np.isnan(_host(out)[0, 0, 0, 2])
    assert _host(idx)[0, 0, 0, 2] == 32 + 5
    assert _host(idx)[0, 0, 0, 0] == 0
    out.sum().backward()
    g = _host(xd.grad)[0, 0]
    assert g[1, 5] == 1 and g[0, 0] == 1 and g[0, 1] == 0 and g.sum() == 16


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
@pytest.mark.parametrize("W", [2, 3, 9, 15, 16, 17, 24, 31, 32, 33, 48, 65, 81])
def test_max_pool_2x2_values_widths_and_nans(isa, W, rng):
    # the value-only 2x2 fast paths (8-lane shuffle scan; AVX-512 masked 16-output steps) over row widths that
    # hit every mask, with NaNs at each window position and an odd leftover row
    _pin(isa)
    x = rng.standard_normal((2, 3, 7, W)).astype(np.float32)
    for pos, (h, w) in enumerate([(0, 0), (0, 1), (1, 0), (3, 3), (4, 6), (5, 1)]):
        if w < W:
            x[pos % 2, pos % 3, h, w] = np.nan
    x[1, 2, 2:4, :4] = 0.0          # ties
    x[1, 2, 2, 1] = -0.0
    Ho, Wo = 3, W // 2
    ref = x[:, :, :2 * Ho, :2 * Wo].reshape(2, 3, Ho, 2, Wo, 2).max(axis=(3, 5))  # NaN anywhere -> NaN
    out = F.max_pool2d(dlcore.tensor(x), 2).numpy()
    assert out.shape == ref.shape
    assert (np.isnan(out) == np.isnan(ref)).all()
    assert_close(out, ref, rtol=0, atol=0)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("W", [5, 16, 33, 48])
def test_max_pool_2x2_backward_ties_signed_zeros_inf(isa, W, rng):
    """The 2x2 backward routes g to the scan's winner (the first of equal elements, in row-major window order) in
    windows of ties, of zeros of either sign and of -inf only, with and without a NaN elsewhere in the vector."""
    _pin(isa)
    x = rng.standard_normal((2, 2, 6, W)).astype(np.float32)
    x[0, 0, :2, :] = 0.0                                  # all ties
    x[0, 0, 0, ::3] = -0.0                                # zeros of both signs
    x[0, 1, 2:4, :] = -np.inf                             # -inf only windows
    x[1, 0, 4:6, :] = np.round(x[1, 0, 4:6, :])           # integer ties
    x[1, 1, 0, 1] = np.nan                                # a NaN: its vector takes the exact scan
    ref, ridx = np_max_pool(x.astype(np.float64), (2, 2), (2, 2), (0, 0), (1, 1), False)
    xd = dlcore.tensor(x, requires_grad=True)
    out = F.max_pool2d(xd, 2)
    g = rng.standard_normal(ref.shape).astype(np.float32)
    out.backward(dlcore.tensor(g))
    H = x.shape[2]
    gref = np.zeros((4, H * W))
    for pl in range(4):
        np.add.at(gref[pl], ridx.reshape(4, -1)[pl], g.reshape(4, -1)[pl])
    assert_close(xd.grad.numpy(), gref.reshape(x.shape), rtol=0, atol=0)
    o = _host(out)
    assert (np.isnan(o) == np.isnan(ref)).all()
    assert_close(o, ref, rtol=0, atol=0)  # (not the sign of a zero maximum: the value-only 2x2 forward takes the
    # vertical max first, so with zeros of both signs it may return +0 where the row-major scan returns -0)


WIDE_MAX_CASES = [  # rows of several vectors (and a rerun last one) through the float32 vector scan
    ((2, 3, 13, 70), (3, 3), (2, 2), (1, 1), (1, 1), False),    # ResNet stem pool: stride 2, odd padding
    ((2, 3, 13, 70), (3, 3), (2, 2), (0, 0), (1, 1), True),     # AlexNet pool: no padding, ceil_mode overhang
    ((1, 2, 9, 75), (3, 4), (1, 2), (1, 2), (1, 1), False),     # stride 2, even padding
    ((1, 2, 10, 69), (3, 3), (1, 1), (1, 1), (1, 1), False),    # stride 1 with padding
    ((1, 2, 12, 80), (2, 5), (3, 3), (1, 2), (2, 2), True),     # stride 3 (generic phase split), dilation
    ((1, 2, 6, 200), (1, 7), (1, 4), (0, 3), (1, 1), False),    # stride 4, wide window row
]


K3S2_CASES = [  # windows 3 wide at column stride 2 (the AVX-512 vertical-then-permute forward), widths around vectors
    ((1, 2, 9, 112), (3, 3), (2, 2), (1, 1), (1, 1), False),    # the ResNet stem pool
    ((1, 2, 7, 33), (3, 3), (2, 2), (0, 0), (1, 1), True),      # AlexNet: no padding, ceil_mode overhang
    ((2, 1, 6, 5), (1, 3), (1, 2), (0, 1), (1, 1), False),      # one window row, a row narrower than a vector
    ((1, 2, 11, 47), (4, 3), (3, 2), (2, 1), (2, 1), True),     # taller window, row stride 3, row dilation
    ((1, 1, 5, 16), (2, 3), (1, 2), (1, 0), (1, 1), False),     # even window height, row padding only
    ((1, 1, 4, 64), (3, 3), (2, 2), (1, 1), (1, 1), True),      # Wo 33: a vector and one lane
    ((2, 3, 8, 40), (3, 3), (2, 2), (0, 0), (1, 1), False),     # padding 0: the third column from the next block
]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("case", K3S2_CASES)
def test_max_pool_k3s2_values_signed_zeros_nans(isa, case, rng):
    """The value-only forward of 3-wide, stride-2 windows: bit-equal to the NumPy row-major scan (first of equal
    elements kept, so the sign of a zero maximum too) with NaN rows, rows of zeros of both signs, infinities and
    ties, and the same bits as the indices forward."""
    _pin(isa)
    shape, k, s, p, d, ceil = case
    x = rng.standard_normal(shape).astype(np.float32)
    H, W = shape[2:]
    x[0, 0] = -1.0
    x[0, 0, H // 2 - 1: H // 2 + 1] = rng.choice(np.float32([-1.0, -0.0, 0.0]), (2, W))  # zeros of both signs
    if H > 2:
        x[0, 0, H - 1, W // 2] = 0.0
    x[-1, -1, H - 1, W - 1] = np.nan
    x[-1, -1, 0, :3] = np.inf
    x[-1, 0, 1, 1::2] = 0.25                                      # ties
    ref, _ = np_max_pool(x.astype(np.float64), k, s, p, d, ceil)
    o = F.max_pool2d(dlcore.tensor(x), k, s, p, d, ceil).numpy()
    oi, _ = F.max_pool2d(dlcore.tensor(x), k, s, p, d, ceil, return_indices=True)
    assert (np.isnan(o) == np.isnan(ref)).all()
    assert_close(o, ref, rtol=0, atol=0)
    assert (np.signbit(o) == np.signbit(ref)).all()
    assert (o.view(np.int32) == oi.numpy().view(np.int32)).all()
    # the backward (the AVX-512 row kernel where a row has no NaN, -0 or -inf): the float32 scatter of g in output
    # order onto the scan's argmax, bit for bit; ties between neighbouring windows' shared columns included
    x[-1, 0, :, 2::4] = 3.0
    ref, ridx = np_max_pool(x.astype(np.float64), k, s, p, d, ceil)
    g = rng.standard_normal(ref.shape).astype(np.float32)
    xd = dlcore.tensor(x, requires_grad=True)
    F.max_pool2d(xd, k, s, p, d, ceil).backward(dlcore.tensor(g))
    planes = shape[0] * shape[1]
    gref = np.zeros((planes, H * W), np.float32)
    for pl in range(planes):
        np.add.at(gref[pl], ridx.reshape(planes, -1)[pl], g.reshape(planes, -1)[pl])
    assert (xd.grad.numpy().reshape(planes, -1) == gref).all()


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("case", WIDE_MAX_CASES)
def test_max_pool_vector_scan_values_indices_nans(isa, case, rng):
    """The float32 row scan (every window shape): values, argmax and gradient vs the NumPy scan, with NaNs, ties and
    windows whose every valid element is -inf (the argmax must be the first valid element, not the padding)."""
    _pin(isa)
    shape, k, s, p, d, ceil = case
    x = rng.standard_normal(shape).astype(np.float32)
    H, W = shape[2:]
    x[0, 0, :3, :9] = -np.inf                   # top-left corner: padded windows over -inf only
    x[0, 1, 2:4, 20:30] = 0.5                   # ties
    for j, (h, w) in enumerate([(0, 0), (1, 17), (H - 1, W - 1), (H // 2, 33), (3, 34)]):
        x[0, (j + 1) % shape[1], h, w] = np.nan
    c = shape[1] - 1
    x[-1, c, H - 5:, 40:48] = -1.0              # windows whose maximum is a zero of either sign (the first wins)
    x[-1, c, H - 4, 41], x[-1, c, H - 4, 42], x[-1, c, H - 3, 44], x[-1, c, H - 3, 45] = -0.0, 0.0, 0.0, -0.0
    x[-1, c, H - 2, 60], x[-1, c, H - 2, 61] = np.inf, -np.inf   # inf - inf in a window sum (no NaN in the data)
    x[-1, c, 1, 66] = np.inf
    ref, ridx = np_max_pool(x.astype(np.float64), k, s, p, d, ceil)
    xd = dlcore.tensor(x, requires_grad=True)
    out, idx = F.max_pool2d(xd, k, s, p, d, ceil, return_indices=True)
    o = _host(out)
    assert (np.isnan(o) == np.isnan(ref)).all()
    assert_close(o, ref, rtol=0, atol=0)
    assert (_host(idx) == ridx).all()
    o2 = F.max_pool2d(dlcore.tensor(x), k, s, p, d, ceil).numpy()   # the value-only forward
    assert (np.isnan(o2) == np.isnan(ref)).all()
    assert_close(o2, ref, rtol=0, atol=0)
    assert (np.signbit(o2) == np.signbit(ref)).all() and (np.signbit(o) == np.signbit(ref)).all()
    g = rng.standard_normal(ref.shape).astype(np.float32)
    out.backward(dlcore.tensor(g))
    gref = np.zeros((shape[0] * shape[1], H * W))
    for pl in range(gref.shape[0]):
        np.add.at(gref[pl], ridx.reshape(gref.shape[0], -1)[pl], g.reshape(gref.shape[0], -1)[pl])
    assert_close(xd.grad.numpy(), gref.reshape(shape), rtol=1e-6, atol=1e-6)


@requires_torch
@pytest.mark.parametrize("case", MAX_CASES[:7])
def test_max_pool_vs_torch(case, device, rng):
    import torch
    shape, k, s, p, d, ceil = case
    x = rng.standard_normal(shape).astype(np.float32)
    xd = dlcore.tensor(x, device=device, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yd = F.max_pool2d(xd, k, s, p, d, ceil)
    yt = torch.nn.functional.max_pool2d(xt, k, s, p, d, ceil)
    assert_close(_host(yd), yt.detach().numpy(), rtol=0, atol=0)
    g = rng.standard_normal(yt.shape).astype(np.float32)
    yd.backward(dlcore.tensor(g, device=device))
    yt.backward(torch.tensor(g))
    assert_close(_host(xd.grad), xt.grad.numpy(), rtol=1e-6, atol=1e-6)


AVG_CASES = [  # (shape, kernel, stride, padding, ceil, count_include_pad, divisor_override)
    ((2, 3, 8, 8), (2, 2), (2, 2), (0, 0), False, True, None),
    ((1, 2, 7, 9), (3, 3), (2, 2), (1, 1), False, True, None),
    ((1, 2, 7, 9), (3, 3), (2, 2), (1, 1), True, False, None),
    ((1, 2, 7, 9), (3, 2), (2, 1), (1, 1), True, True, None),
    ((1, 2, 5, 6), (2, 3), (1, 2), (0, 1), False, True, 4),
    ((2, 5, 5), (2, 2), (3, 3), (0, 0), True, True, None),
]


@pytest.mark.parametrize("case", AVG_CASES)
def test_avg_pool(case, device, rng):
    shape, k, s, p, ceil, cip, div = case
    x = rng.standard_normal(shape)
    x4 = x if x.ndim == 4 else x[None]
    ref = np_avg_pool(x4, k, s, p, ceil, cip, div)
    ref = ref if x.ndim == 4 else ref[0]
    xd = dlcore.tensor(x, device=device, requires_grad=True)
    out = F.avg_pool2d(xd, k, s, p, ceil, cip, div)
    assert out.device.type == device
    assert_close(_host(out), ref, rtol=1e-12, atol=1e-12)
    gradcheck(lambda v: F.avg_pool2d(v, k, s, p, ceil, cip, div), [xd])


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("W", [2, 3, 15, 24, 33, 65])
@pytest.mark.parametrize("div", [None, 3, 8])
def test_avg_pool_float32_2x2_and_separable(isa, W, div, rng):
    # float32 through the per-ISA average loops: the AVX-512 2x2 plane kernels (every mask width, odd leftover row
    # and column, divisor 4 by a product, 3 by a division) and the separable loops (3x3 / stride 2 / padding 1,
    # without count_include_pad, and global average pooling), forward and backward against float64 references.
    _pin(isa)
    x = rng.standard_normal((2, 3, 7, W)).astype(np.float32)
    for k, s, p, cip in [((2, 2), (2, 2), (0, 0), True), ((3, 3), (2, 2), (1, 1), False)]:
        if W < k[1] - 2 * p[1]:
            continue
        ref = np_avg_pool(x.astype(np.float64), k, s, p, False, cip, div)
        xd = dlcore.tensor(x, requires_grad=True)
        out = F.avg_pool2d(xd, k, s, p, False, cip, div)
        assert_close(out.detach().numpy(), ref, rtol=1e-6, atol=1e-6)
        g = rng.standard_normal(ref.shape)
        out.backward(dlcore.tensor(g.astype(np.float32)))
        # the adjoint of the average: d/dx sum(g * avg(x)) by the same reference applied to unit inputs
        gref = np.zeros(x.shape)
        base = np_avg_pool(np.zeros(x.shape), k, s, p, False, cip, div)
        eye = np.zeros(x.shape)
        for h in range(x.shape[2]):
            for w in range(x.shape[3]):
                eye[:, :, h, w] = 1.0
                gref[:, :, h, w] = ((np_avg_pool(eye, k, s, p, False, cip, div) - base) * g).sum(axis=(2, 3))
                eye[:, :, h, w] = 0.0
        assert_close(xd.grad.numpy(), gref, rtol=1e-5, atol=1e-6)
    xd = dlcore.tensor(x, requires_grad=True)
    out = F.adaptive_avg_pool2d(xd, 1)
    assert_close(out.detach().numpy(), x.astype(np.float64).mean(axis=(2, 3), keepdims=True), rtol=1e-6, atol=1e-6)
    out.backward(dlcore.ones(out.shape))
    assert_close(xd.grad.numpy(), np.full(x.shape, 1.0 / (7 * W)), rtol=1e-6)


@requires_torch
@pytest.mark.parametrize("case", AVG_CASES[:5])
def test_avg_pool_vs_torch(case, device, rng):
    import torch
    shape, k, s, p, ceil, cip, div = case
    x = rng.standard_normal(shape).astype(np.float32)
    a = _host(F.avg_pool2d(dlcore.tensor(x, device=device), k, s, p, ceil, cip, div))
    b = torch.nn.functional.avg_pool2d(torch.tensor(x), k, s, p, ceil, cip, div).numpy()
    assert_close(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("p", [2.0, 3.0, 1.5])
def test_lp_pool(p, device, rng):
    x = rng.uniform(0.2, 2.0, (1, 2, 6, 5))
    xd = dlcore.tensor(x, requires_grad=True, device=device)
    out = F.lp_pool2d(xd, p, 2, 2)
    ref = np.zeros((1, 2, 3, 2))
    for i in range(3):
        for j in range(2):
            ref[:, :, i, j] = (x[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2] ** p).sum(axis=(2, 3)) ** (1 / p)
    assert_close(_host(out.detach()), ref, rtol=1e-10)
    gradcheck(lambda v: F.lp_pool2d(v, p, (2, 2)), [xd])


@pytest.mark.parametrize("osz", [1, (1, 1), 3, (2, 4), (5, 7), (None, 2)])
def test_adaptive_avg_pool(osz, device, rng):
    x = rng.standard_normal((2, 3, 5, 7))
    xd = dlcore.tensor(x, device=device, requires_grad=True)
    out = F.adaptive_avg_pool2d(xd, osz)
    assert out.device.type == device
    oh, ow = (osz, osz) if isinstance(osz, int) else (5 if osz[0] is None else osz[0], osz[1])
    ref = np.zeros((2, 3, oh, ow))
    for i in range(oh):
        h0, h1 = (i * 5) // oh, -((-(i + 1) * 5) // oh)
        for j in range(ow):
            w0, w1 = (j * 7) // ow, -((-(j + 1) * 7) // ow)
            ref[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    assert_close(_host(out), ref, rtol=1e-12, atol=1e-12)
    gradcheck(lambda v: F.adaptive_avg_pool2d(v, osz), [xd])


@pytest.mark.parametrize("shape", [(2, 17, 7, 7), (1, 35, 3, 5), (3, 16, 4, 4), (1, 48, 1, 1), (2, 21, 9, 11),
                                   (1, 19, 2, 8)], ids=str)
def test_global_avg_pool_every_isa_same_bits(shape, rng):
    """Global average pooling (the AVX-512 loop sums 16 planes at once) gives the scalar loop's bits on every ISA,
    for plane counts that leave remainders and planes shorter, equal to and longer than 16 values; matches float64."""
    x = rng.standard_normal(shape).astype(np.float32)
    x.reshape(-1)[::37] = -0.0
    x[0, 1] = np.float32(3e38)  # a plane whose sum overflows to inf
    x[0, 2, 0, 0] = np.nan
    res = {}
    for isa in ISAS:
        _pin(isa)
        res[isa] = _host(F.adaptive_avg_pool2d(dlcore.tensor(x), 1))
    for isa in ISAS[1:]:
        np.testing.assert_array_equal(res[isa], res["scalar"], err_msg=isa)
    ref = x.astype(np.float64).mean(axis=(2, 3), keepdims=True)
    ok = np.isfinite(ref) & (np.abs(ref) < 1e37)
    assert_close(res["scalar"][ok], ref[ok], rtol=1e-5, atol=1e-6)
    assert np.isnan(res["scalar"][0, 2]).all()
    assert np.isinf(res["scalar"][0, 1]).all() == (shape[2] * shape[3] > 1)


@requires_torch
def test_adaptive_vs_torch(device, rng):
    import torch
    x = rng.standard_normal((2, 3, 13, 11)).astype(np.float32)
    for osz in [(4, 3), 1, (6, 11)]:
        a = _host(F.adaptive_avg_pool2d(dlcore.tensor(x, device=device), osz))
        b = torch.nn.functional.adaptive_avg_pool2d(torch.tensor(x), osz).numpy()
        assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_non_contiguous(device, rng):
    x = rng.standard_normal((2, 3, 8, 6))
    xd = dlcore.tensor(x, device=device).transpose(2, 3)
    assert not xd.is_contiguous()
    xt = np.ascontiguousarray(x.transpose(0, 1, 3, 2))
    assert_close(_host(F.max_pool2d(xd, 2)), np_max_pool(xt, (2, 2), (2, 2), (0, 0), (1, 1), False)[0])
    assert_close(_host(F.avg_pool2d(xd, 2)), np_avg_pool(xt, (2, 2), (2, 2), (0, 0), False, True, None))


def test_pool_bad_input():
    x = dlcore.zeros(1, 1, 4, 4)
    with pytest.raises(ValueError, match="max_pool2d.*3-D.*4-D"):
        F.max_pool2d(dlcore.zeros(4, 4), 2)
    with pytest.raises(ValueError, match="padding should be at most half"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="larger than the padded input"):
        F.max_pool2d(x, 5)
    with pytest.raises(ValueError, match="stride must be positive"):
        F.avg_pool2d(x, 2, 0)
    with pytest.raises(ValueError, match="kernel_size must be positive"):
        F.max_pool2d(x, 0)
    with pytest.raises(ValueError, match="pair"):
        F.max_pool2d(x, (2, 2, 2))
    with pytest.raises(TypeError, match="float32 or float64"):
        F.max_pool2d(dlcore.zeros(1, 1, 4, 4, dtype=dlcore.int64), 2)
    with pytest.raises(ValueError, match="divisor_override"):
        F.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(ValueError, match="output_size must be positive"):
        F.adaptive_avg_pool2d(x, 0)
    with pytest.raises(ValueError, match="grad_output"):
        dlcore._C.max_pool2d_bwd(dlcore.zeros(1, 1, 3, 3), x, (2, 2), (2, 2), (0, 0), (1, 1), False)


@requires_torch
def test_pool1d_and_adaptive_max_vs_torch(device, rng):
    import torch
    tf = torch.nn.functional
    x = rng.standard_normal((2, 3, 11)).astype(np.float32)
    xd, xt = dlcore.tensor(x, device=device, requires_grad=True), torch.tensor(x, requires_grad=True)
    yd, id_ = F.max_pool1d(xd, 3, 2, 1, return_indices=True)
    yt, it = tf.max_pool1d(xt, 3, 2, 1, return_indices=True)
    assert_close(_host(yd), yt.detach().numpy())
    assert (_host(id_) == it.numpy()).all()
    assert_close(_host(F.avg_pool1d(xd, 3, 2, 1, True, False)),
                 tf.avg_pool1d(xt, 3, 2, 1, True, False).detach().numpy(), rtol=1e-6)
    x4 = rng.standard_normal((2, 3, 8, 7)).astype(np.float32)
    for osz in [(4, 7), (3, 5), 1]:
        xd = dlcore.tensor(x4, device=device, requires_grad=True)
        xt = torch.tensor(x4, requires_grad=True)
        yd, yt = F.adaptive_max_pool2d(xd, osz), tf.adaptive_max_pool2d(xt, osz)
        assert_close(_host(yd), yt.detach().numpy())
        yd.sum().backward()
        yt.sum().backward()
        assert_close(_host(xd.grad), xt.grad.numpy())


# ------------------------------------------------------------------------------------------------ fuzz findings

def test_adaptive_max_pool_non_dividing_ties_nan_indices():
    """Output sizes that do not divide the input: a tie sends the whole gradient to the first maximum (not shared),
    a NaN takes its window's gradient (not the whole window NaN), and return_indices works (flat h * W + w)."""
    x = np.array([1.0, 1.0, 1.0, 0.0, 2.0]).reshape(1, 1, 1, 5)  # windows [0, 3) and [2, 5)
    xd = dlcore.tensor(x, requires_grad=True)
    y, idx = F.adaptive_max_pool2d(xd, (1, 2), return_indices=True)
    y.sum().backward()
    assert_close(y.detach().numpy().ravel(), [1.0, 2.0])
    assert idx.numpy().ravel().tolist() == [0, 4]
    assert xd.grad.numpy().ravel().tolist() == [1.0, 0.0, 0.0, 0.0, 1.0]
    x = np.array([1.0, np.nan, 3.0, 2.0]).reshape(1, 1, 1, 4)  # windows [0, 2), [1, 3), [2, 4)
    xd = dlcore.tensor(x, requires_grad=True)
    y, idx = F.adaptive_max_pool2d(xd, (1, 3), return_indices=True)
    y.sum().backward()
    assert idx.numpy().ravel().tolist() == [1, 1, 2]
    assert xd.grad.numpy().ravel().tolist() == [0.0, 2.0, 1.0, 0.0]
    # 2-D windows: indices are positions in the H x W plane
    x = np.arange(35.0)[::-1].reshape(1, 1, 5, 7).copy()
    y, idx = F.adaptive_max_pool2d(dlcore.tensor(x), (3, 2), return_indices=True)
    hs = [(0, 2), (1, 4), (3, 5)]
    ws = [(0, 4), (3, 7)]
    ref_i = [[h0 * 7 + w0 for (w0, _) in ws] for (h0, _) in hs]
    assert idx.numpy()[0, 0].tolist() == ref_i
    assert_close(y.numpy()[0, 0], x.ravel()[np.array(ref_i)])


def test_adaptive_max_pool_output_size_error_names_op():
    x = dlcore.tensor(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="adaptive_max_pool2d"):
        F.adaptive_max_pool2d(x, (2, 2, 2))


@requires_torch
@pytest.mark.parametrize("osz", [(3, 5), (5, 3), (4, 4)])
def test_adaptive_max_pool_non_dividing_vs_torch(osz, rng):
    import torch
    tf = torch.nn.functional
    x = rng.integers(0, 3, (2, 3, 7, 6)).astype(np.float64)  # many ties
    x[0, 0, 1, 2] = np.nan
    x[1, 2, 5, 5] = np.nan
    xd, xt = dlcore.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yd, id_ = F.adaptive_max_pool2d(xd, osz, return_indices=True)
    yt, it = tf.adaptive_max_pool2d(xt, osz, return_indices=True)
    np.testing.assert_array_equal(yd.detach().numpy(), yt.detach().numpy())
    np.testing.assert_array_equal(id_.numpy(), it.numpy())
    g = rng.standard_normal(tuple(yt.shape))
    yd.backward(dlcore.tensor(g))
    yt.backward(torch.tensor(g))
    assert_close(xd.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_lp_pool_inf_norms_and_zero_windows():
    """norm_type inf is max-abs pooling, -inf min-abs pooling (they returned all 1s); an all-zero window has
    gradient 0 (it was NaN)."""
    x = (np.arange(16.0) - 5).reshape(1, 1, 4, 4)
    assert F.lp_pool2d(dlcore.tensor(x), float("inf"), 2).numpy().ravel().tolist() == [5.0, 3.0, 8.0, 10.0]
    assert F.lp_pool2d(dlcore.tensor(x), float("-inf"), 2).numpy().ravel().tolist() == [0.0, 1.0, 3.0, 5.0]
    xd = dlcore.tensor(np.array([0.0, 0.0, 1.0, 1.0]).reshape(1, 1, 1, 4), requires_grad=True)
    y = F.lp_pool2d(xd, 2.0, (1, 2))
    y.sum().backward()
    assert_close(y.detach().numpy().ravel(), [0.0, math.sqrt(2)])
    assert_close(xd.grad.numpy().ravel(), [0.0, 0.0, 1 / math.sqrt(2), 1 / math.sqrt(2)])


@requires_torch
@pytest.mark.parametrize("p", [float("inf"), float("-inf")])
def test_lp_pool_inf_vs_torch(p, rng):
    import torch
    x = rng.standard_normal((2, 3, 6, 5))
    xd, xt = dlcore.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yd = F.lp_pool2d(xd, p, (2, 3), stride=(2, 1))
    yt = torch.nn.functional.lp_pool2d(xt, p, (2, 3), stride=(2, 1))
    assert_close(yd.detach().numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(tuple(yt.shape))
    yd.backward(dlcore.tensor(g))
    yt.backward(torch.tensor(g))
    assert_close(xd.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-12)
