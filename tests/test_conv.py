"""conv1d / conv2d: forward and all three gradients against an independent NumPy float64 reference (patch
extraction + einsum), against PyTorch where installed, float64 gradchecks on tiny sizes, every ISA path, non-contiguous
operands, PyTorch's padding forms, and the bad-input catalogue."""
import numpy as np
import pytest

import dlcore
import dlcore.functional as F
from dlcore.testing import assert_close, gradcheck

from conftest import DEVICES, requires_torch

ISAS = [i for i in ("scalar", "avx2", "avx512")
        if ["scalar", "avx2", "avx512"].index(i) <= ["scalar", "avx2", "avx512"].index(dlcore._C._cpu_isa_supported())]
# (device, cpu isa): every ISA on cpu; cuda once (the ISA pin is a CPU setting)
DEV_ISA = [("cpu", i) for i in ISAS] + [(d, "scalar") for d in DEVICES if d != "cpu"]


@pytest.fixture(autouse=True)
def _restore_conv_algorithm():
    algo = dlcore._C._conv_get_algorithm()
    yield
    dlcore._C._conv_set_algorithm(algo)


# ------------------------------------------------------------------------------------------------ NumPy reference

def _patches(xp, R, S, P, Q, stride, dil):
    """[N, C, R, S, P, Q]: the padded input pixel each tap (r, s) sees at each output position (p, q)."""
    sh, sw = stride
    dh, dw = dil
    N, C = xp.shape[:2]
    out = np.empty((N, C, R, S, P, Q), dtype=np.float64)
    for r in range(R):
        for s in range(S):
            out[:, :, r, s] = xp[:, :, r * dh: r * dh + sh * (P - 1) + 1: sh, s * dw: s * dw + sw * (Q - 1) + 1: sw]
    return out


def ref_conv2d(x, w, b, stride, pad, dil, groups, gy=None):
    """Forward (and, given gy, the gradients gx, gw, gb) of a grouped 2-D convolution in float64.
    pad = (top, bottom, left, right)."""
    x = x.astype(np.float64)
    w = w.astype(np.float64)
    N, C, H, W = x.shape
    K, Cg, R, S = w.shape
    pt, pb, pl, pr = pad
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    P = (H + pt + pb - dil[0] * (R - 1) - 1) // stride[0] + 1
    Q = (W + pl + pr - dil[1] * (S - 1) - 1) // stride[1] + 1
    pat = _patches(xp, R, S, P, Q, stride, dil)
    Kg = K // groups
    y = np.zeros((N, K, P, Q))
    for g in range(groups):
        y[:, g * Kg:(g + 1) * Kg] = np.einsum("ncrspq,kcrs->nkpq", pat[:, g * Cg:(g + 1) * Cg],
                                              w[g * Kg:(g + 1) * Kg])
    if b is not None:
        y += b.astype(np.float64)[None, :, None, None]
    if gy is None:
        return y
    gy = gy.astype(np.float64)
    gw = np.zeros_like(w)
    gpat = np.zeros_like(pat)
    for g in range(groups):
        gw[g * Kg:(g + 1) * Kg] = np.einsum("nkpq,ncrspq->kcrs", gy[:, g * Kg:(g + 1) * Kg], pat[:, g * Cg:(g + 1) * Cg])
        gpat[:, g * Cg:(g + 1) * Cg] = np.einsum("nkpq,kcrs->ncrspq", gy[:, g * Kg:(g + 1) * Kg], w[g * Kg:(g + 1) * Kg])
    gxp = np.zeros_like(xp)
    sh, sw = stride
    for r in range(R):
        for s in range(S):
            r0, s0 = r * dil[0], s * dil[1]
            gxp[:, :, r0: r0 + sh * (P - 1) + 1: sh, s0: s0 + sw * (Q - 1) + 1: sw] += gpat[:, :, r, s]
    gx = gxp[:, :, pt: pt + H, pl: pl + W]
    gb = gy.sum((0, 2, 3))
    return y, gx, gw, gb


def _pad4(padding, R, S, dil):
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        th, tw = dil[0] * (R - 1), dil[1] * (S - 1)
        return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    return (ph, ph, pw, pw)


def _t(a, dtype, grad=False, device="cpu"):
    t = dlcore.from_numpy(np.ascontiguousarray(a.astype(dtype)))
    if device != "cpu":
        t = t.to(device)
    return t.requires_grad_() if grad else t


def _np(t):
    return np.asarray(t.numpy() if hasattr(t, "numpy") else t)


# (N, C, H, W, K, R, S, stride, padding, dilation, groups, bias)
CASES = [
    (2, 3, 9, 8, 4, 3, 3, 1, 1, 1, 1, True),          # ResNet-style 3x3 pad 1
    (2, 3, 9, 8, 4, 3, 3, 2, 1, 1, 1, False),         # stride 2
    (1, 2, 11, 10, 3, 2, 2, 3, 0, 1, 1, True),        # stride > kernel
    (2, 4, 10, 9, 6, 3, 3, 1, (2, 1), 2, 2, True),    # dilation + groups + padding pair
    (2, 6, 7, 7, 6, 3, 3, 1, 1, 1, 6, True),          # depthwise
    (2, 6, 7, 7, 12, 3, 3, 2, 1, 1, 6, False),        # depthwise multiplier 2, stride 2
    (3, 5, 6, 7, 4, 1, 1, 1, 0, 1, 1, True),          # 1x1 (plain GEMM)
    (2, 4, 6, 7, 6, 1, 1, 2, 0, 1, 2, True),          # 1x1 strided, grouped
    (3, 1, 12, 13, 5, 5, 5, 1, 0, 1, 1, True),        # lecture ConvNet layer in small (direct kernel)
    (2, 2, 10, 17, 9, 3, 4, 1, "same", 1, 1, True),   # 'same' with an even kernel (asymmetric)
    (2, 1, 17, 20, 3, 5, 3, 1, 2, 1, 1, False),       # direct kernel with padding, odd sizes
    (1, 3, 23, 21, 4, 11, 11, 4, 2, 1, 1, True),      # AlexNet conv1-style
    (2, 3, 5, 6, 2, 3, 2, (2, 1), "valid", (1, 2), 1, True),
    (1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, True),          # all ones
    (2, 3, 3, 3, 2, 3, 3, 1, 0, 1, 1, True),          # kernel == input
    (1, 2, 9, 33, 20, 5, 5, 1, 2, 1, 1, True),        # direct kernel: wide rows, channel remainders
    (2, 2, 9, 21, 8, 2, 3, 1, 1, 1, 1, True),         # direct: 12 taps = 2 full tap blocks (separate bias-grad pass)
    (1, 16, 22, 64, 4, 3, 3, 1, 1, 1, 1, True),       # several im2col row tiles
    (2, 12, 30, 70, 2, 3, 3, 1, 2, 2, 1, True),       # row tiles with dilation
    (2, 16, 7, 9, 16, 3, 3, 1, 1, 1, 1, True),        # Winograd F(2x2,3x3): odd output sizes (edge tiles)
    (1, 16, 6, 5, 20, 3, 3, 1, (0, 2), 1, 1, False),  # Winograd, unequal padding
    (3, 17, 4, 4, 16, 3, 3, 1, "same", 1, 1, True),   # Winograd, 3 samples over 2 threads
    (2, 3, 23, 37, 5, 5, 7, 2, 1, 1, 1, True),        # strided direct kernel (polyphase image), stride 2
    (1, 2, 20, 40, 9, 3, 4, 3, 2, 2, 1, True),        # strided direct: stride 3, dilation 2, even kernel width
    (2, 1, 16, 60, 3, 4, 5, 5, (1, 2), 1, 1, False),  # strided direct: stride 5, padding pair
    (1, 4, 12, 50, 10, 3, 6, (2, 4), 3, 1, 1, True),  # strided direct: unequal strides, 4 channels
    (1, 2, 15, 30, 3, 3, 3, 3, 4, (2, 1), 1, True),   # strided direct: padding wider than the kernel, dilation on H
    (3, 3, 40, 70, 10, 11, 11, 4, 2, 1, 1, True),     # AlexNet conv1-style, wide enough for the direct kernel
    (2, 3, 30, 45, 40, 5, 5, 2, 1, 1, 1, True),       # strided direct, K >= 32: channels-in-lanes weight grad (K % 16)
    (2, 2, 26, 61, 70, 3, 4, 3, 2, 2, 1, False),      # channels-in-lanes: 64 + 6 channels, dilation, odd taps
    (3, 3, 33, 47, 48, 5, 5, 2, 1, 1, 1, True),       # channels-in-lanes: odd chunks (5 rows of 23), last chunk 1 row
    (2, 32, 6, 6, 5, 4, 4, 2, 1, 1, 1, True),         # C R S = 512 floats (2 KiB rows): w copied with padded rows
    (2, 64, 6, 7, 8, 4, 4, 2, 1, 1, 2, True),         # the same per group
]


def _case_args(case):
    N, C, H, W, K, R, S, stride, padding, dil, groups, bias = case
    st = stride if isinstance(stride, tuple) else (stride, stride)
    dl = dil if isinstance(dil, tuple) else (dil, dil)
    return N, C, H, W, K, R, S, st, padding, dl, groups, bias


@pytest.mark.parametrize("dev_isa", DEV_ISA, ids=lambda d: "-".join(d))
@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c[:7])) + f"-s{c[7]}-p{c[8]}-d{c[9]}-g{c[10]}")
def test_conv2d_forward_and_grads_vs_numpy(case, dev_isa, float_dtype, rng):
    device, isa = dev_isa
    dlcore._C._set_cpu_isa(isa)
    N, C, H, W, K, R, S, st, padding, dl, groups, bias = _case_args(case)
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((K, C // groups, R, S))
    b = rng.standard_normal(K) if bias else None
    pad = _pad4(padding, R, S, dl)
    xt, wt = _t(x, float_dtype, True, device), _t(w, float_dtype, True, device)
    bt = _t(b, float_dtype, True, device) if bias else None
    y = F.conv2d(xt, wt, bt, stride=st, padding=padding, dilation=dl, groups=groups)
    assert y.device.type == device
    gy = rng.standard_normal(y.shape)
    ry, rgx, rgw, rgb = ref_conv2d(x, w, b, st, pad, dl, groups, gy)
    tol = dict(rtol=1e-4, atol=1e-4) if float_dtype == "float32" else dict(rtol=1e-10, atol=1e-10)
    assert_close(y, ry, **tol, msg="forward")
    y.backward(_t(gy, float_dtype, device=device))
    assert_close(xt.grad, rgx, **tol, msg="grad input")
    assert_close(wt.grad, rgw, **tol, msg="grad weight")
    if bias:
        assert_close(bt.grad, rgb, **tol, msg="grad bias")


@requires_torch
@pytest.mark.parametrize("case", CASES[:13], ids=lambda c: "x".join(map(str, c[:7])))
def test_conv2d_vs_torch(case, device, rng):
    import torch
    N, C, H, W, K, R, S, st, padding, dl, groups, bias = _case_args(case)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = rng.standard_normal((K, C // groups, R, S)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32) if bias else None
    xt, wt = _t(x, "float32", True, device), _t(w, "float32", True, device)
    bt = _t(b, "float32", True, device) if bias else None
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True) if bias else None
    y = F.conv2d(xt, wt, bt, st, padding, dl, groups)
    ty = torch.nn.functional.conv2d(tx, tw, tb, st, padding, dl, groups)
    assert_close(y, ty, rtol=1e-4, atol=1e-4)
    gy = rng.standard_normal(ty.shape).astype(np.float32)
    y.backward(_t(gy, "float32", device=device))
    ty.backward(torch.tensor(gy))
    assert_close(xt.grad, tx.grad, rtol=1e-4, atol=1e-4)
    assert_close(wt.grad, tw.grad, rtol=1e-4, atol=2e-4)
    if bias:
        assert_close(bt.grad, tb.grad, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(dilation=2, padding=(1, 2)),
                                dict(groups=2, padding="same"), dict(stride=(1, 2), padding=(0, 1), groups=2)])
def test_conv2d_gradcheck(kw, device, rng):
    g = kw.get("groups", 1)
    x = _t(rng.standard_normal((2, 2, 4, 5)), "float64", True, device)
    w = _t(rng.standard_normal((2, 2 // g, 3, 2)), "float64", True, device)
    b = _t(rng.standard_normal(2), "float64", True, device)
    gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kw), [x, w, b])


def _check_float32_case(case, rng, msg=""):
    """A float32 forward + backward (input, weight, bias grads) of one CASES entry vs the float64 reference."""
    N, C, H, W, K, R, S, st, padding, dl, groups, bias = _case_args(case)
    x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((K, C // groups, R, S))
    b = rng.standard_normal(K) if bias else None
    xt, wt = _t(x, "float32", True), _t(w, "float32", True)
    bt = _t(b, "float32", True) if bias else None
    y = F.conv2d(xt, wt, bt, st, padding, dl, groups)
    gy = rng.standard_normal(y.shape)
    ry, rgx, rgw, rgb = ref_conv2d(x, w, b, st, _pad4(padding, R, S, dl), dl, groups, gy)
    y.backward(_t(gy, "float32"))
    for a, e in ((y, ry), (xt.grad, rgx), (wt.grad, rgw)) + (((bt.grad, rgb),) if bias else ()):
        assert_close(a, e, rtol=1e-4, atol=2e-4, msg=msg)


@pytest.mark.parametrize("algo", ["im2col", "direct", "winograd"])
@pytest.mark.parametrize("case", [c for c in CASES if c[2] * c[3] < 1000], ids=lambda c: "x".join(map(str, c[:7])))
def test_pinned_algorithms(case, algo, rng):
    """Every algorithm pinned in turn (a pinned algorithm that does not apply falls back to im2col)."""
    dlcore._C._conv_set_algorithm(algo)
    _check_float32_case(case, rng)


@pytest.mark.skipif("avx512" not in ISAS,
                    reason="the CPU has no AVX-512")
@pytest.mark.parametrize("vl", [8, 16])
def test_direct_avx512_both_vector_widths(vl, rng):
    """The AVX-512 build's direct kernels with 256-bit vectors (Zen 4's choice) and 512-bit ones (full-width FMA
    cores): each runs the direct-kernel cases here, whichever this CPU would pick."""
    dlcore._C._conv_set_algorithm("direct")
    dlcore._C._set_cpu_isa("avx512")
    before = dlcore._C._conv_direct_avx512_vl()
    dlcore._C._conv_direct_avx512_vl(vl)
    try:
        for case in CASES:
            if case[10] == 1 and case[1] <= 4 and case[2] * case[3] < 3000:  # groups 1, few channels: direct
                _check_float32_case(case, rng, msg=f"vl={vl} case={case}")
    finally:
        dlcore._C._conv_direct_avx512_vl(before)
    with pytest.raises(ValueError, match="vector width must be 8 or 16"):
        dlcore._C._conv_direct_avx512_vl(4)


DEPTHWISE_CASES = [  # groups == C: the per-plane depthwise kernels (N, C, H, W, K, R, S, st, pad, dil, G, bias)
    (2, 5, 9, 70, 5, 3, 3, 1, 1, 1, 5, True),          # rows of 70: 4 whole vectors and a masked tail
    (2, 3, 12, 33, 6, 3, 3, 1, 1, 1, 3, False),        # multiplier 2: input grad summed over two outputs
    (1, 4, 15, 21, 4, 5, 3, 1, (2, 1), 2, 4, True),    # dilation 2, unequal padding
    (1, 3, 10, 18, 3, 4, 4, 1, "same", 1, 3, True),    # even kernel, asymmetric 'same' padding
    (2, 2, 8, 40, 4, 3, 5, 1, 0, 1, 2, True),          # no padding ('valid')
    (1, 2, 6, 20, 2, 3, 3, 1, 3, 1, 2, False),         # padding beyond the kernel: input grad falls back
    (2, 4, 13, 37, 4, 3, 3, 2, 1, 1, 4, True),          # stride 2 (phase planes), odd sizes
    (1, 3, 20, 70, 6, 5, 5, 2, 2, 1, 3, False),        # 5x5 stride 2, multiplier 2, rows of 35: 2 vectors + tail
    (1, 2, 17, 50, 2, 3, 3, 3, 1, 1, 2, True),          # stride 3
    (1, 2, 19, 90, 2, 3, 4, (2, 5), (1, 2), (2, 1), 2, True),  # unequal strides (5: the generic split), dilation
    (1, 2, 9, 9, 2, 2, 2, 2, 0, 1, 2, False),           # stride = kernel (no overlap), 'valid'
    (2, 3, 7, 3, 3, 1, 2, (1, 4), (2, 0), 1, 3, True),  # stride beyond the width: phases wholly in the padding
    (1, 2, 11, 12, 4, 3, 3, 2, 3, 1, 2, False),         # stride 2, padding beyond the kernel
]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("case", DEPTHWISE_CASES, ids=lambda c: "x".join(map(str, c[:7])))
def test_depthwise_float32_every_isa(isa, case, rng):
    """Depthwise layers through the per-plane kernels (AVX2/AVX-512; the scalar ISA takes im2col): output, input,
    weight and bias gradients against the float64 reference."""
    dlcore._C._set_cpu_isa(isa)
    _check_float32_case(case, rng, msg=f"isa={isa} case={case}")


@pytest.mark.parametrize("isa", [i for i in ISAS if i != "scalar"])
def test_direct_row_layout_for_big_images(isa, rng):
    """Stride-1 direct kernels keep the row layout where the shifted copies (S per channel) would be too big: a
    300-row image with a 1x16 kernel (5.5 MB of copies; rows of 288 = 18 whole vectors). Both AVX-512 widths."""
    dlcore._C._conv_set_algorithm("direct")
    dlcore._C._set_cpu_isa(isa)
    widths = [8, 16] if isa == "avx512" else [None]
    before = dlcore._C._conv_direct_avx512_vl() if isa == "avx512" else None
    try:
        for vl in widths:
            if vl:
                dlcore._C._conv_direct_avx512_vl(vl)
            _check_float32_case((1, 1, 300, 303, 3, 1, 16, 1, 0, 1, 1, True), rng, msg=f"isa={isa} vl={vl}")
            _check_float32_case((1, 1, 300, 301, 2, 1, 16, 1, (0, 1), 1, 1, False), rng, msg=f"isa={isa} vl={vl}")
    finally:
        if before:
            dlcore._C._conv_direct_avx512_vl(before)


# Winograd-only cases: many tiles per plane (rows of 16+ tiles: full and remainder vectors of the transforms),
# odd/even output sizes, padding 0, 1, 2 and unequal, several samples per chunk (4x4 planes), K != C.
WINOGRAD_CASES = [
    (2, 32, 23, 19, 40, 3, 3, 1, 1, 1, 1, False),
    (1, 16, 36, 40, 16, 3, 3, 1, (2, 0), 1, 1, False),
    (5, 24, 4, 4, 16, 3, 3, 1, 1, 1, 1, False),
    (2, 16, 34, 35, 17, 3, 3, 1, 0, 1, 1, False),
    (1, 20, 9, 38, 32, 3, 3, 1, 2, 1, 1, False),
]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_winograd_vs_numpy(dtype, isa, rng):
    """The Winograd kernels of every ISA build (the transforms are vectorised per ISA) vs the float64 reference."""
    dlcore._C._conv_set_algorithm("winograd")
    dlcore._C._set_cpu_isa(isa)
    for case in [c for c in CASES if c[5] == 3 and c[6] == 3 and c[7] == 1 and c[9] == 1 and c[10] == 1] + \
            WINOGRAD_CASES:
        N, C, H, W, K, R, S, st, padding, dl, groups, bias = _case_args(case)
        x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((K, C, R, S))
        xt, wt = _t(x, dtype, True), _t(w, dtype, True)
        y = F.conv2d(xt, wt, None, st, padding, dl, groups)
        gy = rng.standard_normal(y.shape)
        ry, rgx, rgw, _ = ref_conv2d(x, w, None, st, _pad4(padding, R, S, dl), dl, groups, gy)
        y.backward(_t(gy, dtype))
        tol = dict(rtol=1e-4, atol=2e-4) if dtype == "float32" else dict(rtol=1e-10, atol=1e-10)
        for a, e in ((y, ry), (xt.grad, rgx), (wt.grad, rgw)):
            assert_close(a, e, **tol, msg=str(case))


def test_winograd_gradcheck(rng):
    dlcore._C._conv_set_algorithm("winograd")
    x = _t(rng.standard_normal((1, 16, 3, 4)), "float64", True)
    w = _t(rng.standard_normal((16, 16, 3, 3)) * 0.1, "float64", True)
    gradcheck(lambda x: F.conv2d(x, w, padding=1), [x])
    # (the weight gradient is checked against the float64 NumPy reference at 1e-10 in test_winograd_vs_numpy)


def test_conv1d_gradcheck(device, rng):
    x = _t(rng.standard_normal((2, 2, 9)), "float64", True, device)
    w = _t(rng.standard_normal((3, 2, 3)), "float64", True, device)
    b = _t(rng.standard_normal(3), "float64", True, device)
    gradcheck(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2), [x, w, b])


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=2), dict(padding="same", dilation=2),
                                dict(groups=3, padding=1), dict(padding="valid", stride=3)])
def test_conv1d_vs_numpy(kw, float_dtype, device, rng):
    groups = kw.get("groups", 1)
    x = rng.standard_normal((3, 6, 17))
    w = rng.standard_normal((9, 6 // groups, 4))
    b = rng.standard_normal(9)
    xt, wt, bt = (_t(a, float_dtype, True, device) for a in (x, w, b))
    y = F.conv1d(xt, wt, bt, **kw)
    stride, dil, padding = kw.get("stride", 1), kw.get("dilation", 1), kw.get("padding", 0)
    pad = _pad4(padding, 1, 4, (1, dil))
    pad = (0, 0, pad[2], pad[3]) if isinstance(padding, str) else (0, 0, padding, padding)
    gy = rng.standard_normal(y.shape)
    ry, rgx, rgw, rgb = ref_conv2d(x[:, :, None], w[:, :, None], b, (1, stride), pad, (1, dil), groups, gy[:, :, None])
    tol = dict(rtol=1e-4, atol=1e-4) if float_dtype == "float32" else dict(rtol=1e-10, atol=1e-10)
    assert y.shape == ry[:, :, 0].shape
    assert_close(y, ry[:, :, 0], **tol)
    y.backward(_t(gy, float_dtype, device=device))
    assert_close(xt.grad, rgx[:, :, 0], **tol)
    assert_close(wt.grad, rgw[:, :, 0], **tol)
    assert_close(bt.grad, rgb, **tol)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("threads", [1, 2])
def test_single_output_row_takes_padded_input_rows(isa, threads, rng):
    """Layers with one output row and unit column stride (conv1d, or a 2-D layer whose kernel covers the padded
    height) give the GEMM the padded input rows as its B operand (gemm_rows, no im2col copy), and conv1d's input
    gradient the padded gy rows (as a correlation with the regrouped weight). Batch 1 at 2 threads:
    the GEMM splits itself over threads (columns, rows or the reduction), which offsets the rows; top/bottom padding
    rows point at zeros; dilation and both paddings; float32 and float64."""
    dlcore._C._set_cpu_isa(isa)
    before = dlcore.get_num_threads()
    dlcore.set_num_threads(threads)
    try:
        for dtype in ("float32", "float64"):
            tol = dict(rtol=1e-4, atol=2e-4) if dtype == "float32" else dict(rtol=1e-10, atol=1e-10)
            for (N, C, H, W, K, R, S, st, pad, dil) in [
                    (1, 8, 1, 300, 40, 1, 5, 1, (0, 2), (1, 1)),      # conv1d, long row: column split
                    (1, 1024, 1, 24, 2, 1, 5, 1, (0, 2), (1, 1)),     # K = C S = 5120, tiny M, N: reduction split
                    (2, 5, 3, 50, 7, 3, 4, (2, 1), (1, 3), (2, 2)),  # 2-D, P = 1, padding rows, dilation
                    (1, 3, 4, 33, 4, 4, 3, 1, (0, 0), (1, 3)),       # 2-D valid, P = 1
                    (2, 3, 1, 30, 4, 1, 3, 1, (0, 4), (1, 1)),       # conv1d, padding beyond the kernel: Q > W
                    (2, 4, 1, 41, 5, 1, 4, 1, (0, 1), (1, 3))]:       # conv1d, dilation 3, padding < extent
                x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((K, C, R, S))
                b = rng.standard_normal(K)
                xt, wt, bt = (_t(a, dtype, True) for a in (x, w, b))
                y = F.conv2d(xt, wt, bt, st, pad, dil)
                assert y.shape[2] == 1
                gy = rng.standard_normal(y.shape)
                pad4 = (pad[0], pad[0], pad[1], pad[1])
                ry, rgx, rgw, rgb = ref_conv2d(x, w, b, st if isinstance(st, tuple) else (st, st), pad4, dil, 1, gy)
                assert_close(y, ry, **tol)
                y.backward(_t(gy, dtype))
                assert_close(xt.grad, rgx, **tol)
                assert_close(wt.grad, rgw, **tol)
    finally:
        dlcore.set_num_threads(before)


@requires_torch
def test_conv1d_vs_torch(rng):
    import torch
    x = rng.standard_normal((2, 4, 20)).astype(np.float32)
    w = rng.standard_normal((6, 2, 5)).astype(np.float32)
    y = F.conv1d(_t(x, "float32"), _t(w, "float32"), None, 2, 3, 1, 2)
    ty = torch.nn.functional.conv1d(torch.tensor(x), torch.tensor(w), None, 2, 3, 1, 2)
    assert_close(y, ty, rtol=1e-4, atol=1e-4)
    y = F.conv1d(_t(x[0], "float32"), _t(w, "float32"), padding="same", groups=2)  # unbatched
    ty = torch.nn.functional.conv1d(torch.tensor(x[0]), torch.tensor(w), padding="same", groups=2)
    assert_close(y, ty, rtol=1e-4, atol=1e-4)


def test_unbatched_conv2d(rng):
    x = rng.standard_normal((3, 8, 7))
    w = rng.standard_normal((2, 3, 3, 3))
    xt = _t(x, "float64", True)
    y = F.conv2d(xt, _t(w, "float64"), padding=1)
    assert y.shape == (2, 8, 7)
    assert_close(y, ref_conv2d(x[None], w, None, (1, 1), (1, 1, 1, 1), (1, 1), 1)[0], rtol=1e-10, atol=1e-10)
    gradcheck(lambda x: F.conv2d(x, _t(w, "float64"), padding=1), [_t(x[:, :4, :3], "float64", True)])


@pytest.mark.parametrize("dev_isa", DEV_ISA, ids=lambda d: "-".join(d))
def test_non_contiguous_operands(dev_isa, rng):
    device, isa = dev_isa
    dlcore._C._set_cpu_isa(isa)
    x = rng.standard_normal((2, 9, 3, 14))        # permuted to [2, 3, 9, 14] below
    w = rng.standard_normal((5, 3, 3, 6))[..., ::2]  # strided last dim: [5, 3, 3, 3]
    xt = dlcore.from_numpy(x).to(device).permute(0, 2, 1, 3)
    wt = dlcore.from_numpy(np.ascontiguousarray(rng.standard_normal((5, 3, 3, 6)))).to(device)[..., ::2]
    w = _np(wt.contiguous().to("cpu"))
    assert not xt.is_contiguous() and not wt.is_contiguous()
    xt.requires_grad_()
    wt.requires_grad_()
    y = F.conv2d(xt, wt, None, padding=1, stride=(2, 1))
    xn = x.transpose(0, 2, 1, 3)
    gy = rng.standard_normal(y.shape)
    ry, rgx, rgw, _ = ref_conv2d(xn, w, None, (2, 1), (1, 1, 1, 1), (1, 1), 1, gy)
    assert_close(y, ry, rtol=1e-10, atol=1e-10)
    # a non-contiguous upstream gradient too
    gyt = dlcore.from_numpy(np.ascontiguousarray(gy.transpose(0, 1, 3, 2))).to(device).transpose(2, 3)
    y.backward(gyt)
    assert_close(xt.grad, rgx, rtol=1e-10, atol=1e-10)
    assert_close(wt.grad, rgw, rtol=1e-10, atol=1e-10)


def test_only_needed_grads(device, rng):
    # the lecture ConvNet's first layer: the input needs no gradient
    x = _t(rng.standard_normal((4, 1, 12, 12)), "float32", device=device)
    w = _t(rng.standard_normal((3, 1, 5, 5)), "float32", True, device)
    b = _t(rng.standard_normal(3), "float32", device=device)
    y = F.conv2d(x, w, b)
    y.sum().backward()
    assert x.grad is None and b.grad is None and w.grad is not None
    ref = ref_conv2d(_np(x.to("cpu")), _np(w.detach().to("cpu")), None, (1, 1), (0, 0, 0, 0), (1, 1), 1,
                     np.ones(y.shape))[2]
    assert_close(w.grad, ref, rtol=1e-4, atol=1e-4)
    with dlcore.no_grad():
        y2 = F.conv2d(x, w, b)
    assert not y2.requires_grad
    assert_close(y2, y.detach())


def test_threads_agree(rng):
    x = _t(rng.standard_normal((5, 3, 10, 11)), "float32", True)
    w = _t(rng.standard_normal((4, 3, 3, 3)), "float32", True)
    results = []
    for n in (1, 2):
        dlcore.set_num_threads(n)
        x.grad = w.grad = None
        y = F.conv2d(x, w, padding=1)
        y.sum().backward()
        results.append((np.asarray(y.detach().numpy()), np.asarray(x.grad.numpy()), np.asarray(w.grad.numpy())))
    for a, b in zip(*results):
        assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_zero_batch_and_empty(device, rng):
    x = _t(np.zeros((0, 3, 5, 5)), "float32", device=device)
    w = _t(rng.standard_normal((2, 3, 3, 3)), "float32", device=device)
    assert F.conv2d(x, w).shape == (0, 2, 3, 3)


# ------------------------------------------------------------------------------------------------ bad inputs

def _bad(exc, match, fn):
    with pytest.raises(exc, match=match):
        fn()


def test_bad_inputs():
    x = dlcore.from_numpy(np.zeros((2, 3, 8, 8), np.float32))
    w = dlcore.from_numpy(np.zeros((4, 3, 3, 3), np.float32))
    _bad(ValueError, r"conv2d.*4-D.*\[2, 3\]", lambda: F.conv2d(dlcore.from_numpy(np.zeros((2, 3), np.float32)), w))
    _bad(ValueError, r"conv2d.*weight.*\[4, 3, 3\]", lambda: F.conv2d(x, w[:, :, 0]))
    _bad(ValueError, r"conv2d.*weight shape \[4, 2, 3, 3\] expects 2 input channels.*has 3",
         lambda: F.conv2d(x, dlcore.from_numpy(np.zeros((4, 2, 3, 3), np.float32))))
    _bad(ValueError, r"conv2d.*in_channels \(3\) must be divisible by groups \(2\)", lambda: F.conv2d(x, w, groups=2))
    _bad(ValueError, r"conv2d.*out_channels \(4\) must be divisible by groups \(3\)",
         lambda: F.conv2d(x, dlcore.from_numpy(np.zeros((4, 1, 3, 3), np.float32)), groups=3))
    _bad(ValueError, r"conv2d.*kernel size \(9, 9\).*larger than the padded input \(8, 8\)",
         lambda: F.conv2d(x, dlcore.from_numpy(np.zeros((4, 3, 9, 9), np.float32))))
    _bad(ValueError, r"conv2d.*padding must be non-negative", lambda: F.conv2d(x, w, padding=-1))
    _bad(ValueError, r"conv2d.*stride must be positive", lambda: F.conv2d(x, w, stride=0))
    _bad(ValueError, r"conv2d.*dilation must be positive", lambda: F.conv2d(x, w, dilation=(1, 0)))
    _bad(ValueError, r"conv2d.*groups must be a positive", lambda: F.conv2d(x, w, groups=0))
    _bad(ValueError, r"conv2d.*invalid padding string 'full'", lambda: F.conv2d(x, w, padding="full"))
    _bad(ValueError, r"conv2d.*'same' is not supported for strided", lambda: F.conv2d(x, w, stride=2, padding="same"))
    _bad(ValueError, r"conv2d.*stride must be an int or a tuple of 2", lambda: F.conv2d(x, w, stride=(1, 2, 3)))
    _bad(TypeError, r"conv2d.*weight dtype float64 does not match the input dtype float32",
         lambda: F.conv2d(x, w.double()))
    _bad(TypeError, r"conv2d.*bias dtype float64",
         lambda: F.conv2d(x, w, dlcore.from_numpy(np.zeros(4))))
    _bad(ValueError, r"conv2d.*bias shape \[3\] does not match out_channels \[4\]",
         lambda: F.conv2d(x, w, dlcore.from_numpy(np.zeros(3, np.float32))))
    _bad(TypeError, r"conv2d.*float32 or float64", lambda: F.conv2d(x.to(dlcore.int32), w.to(dlcore.int32)))
    _bad(TypeError, r"conv2d.*'input' must be a Tensor", lambda: F.conv2d(np.zeros((2, 3, 8, 8)), w))
    _bad(TypeError, r"conv2d.*groups must be an int", lambda: F.conv2d(x, w, groups=1.5))
    x1 = dlcore.from_numpy(np.zeros((2, 3, 8), np.float32))
    _bad(ValueError, r"conv1d.*2-D \(unbatched\) or 3-D", lambda: F.conv1d(x, w))
    _bad(ValueError, r"conv1d.*3-D weight", lambda: F.conv1d(x1, w))
    _bad(ValueError, r"conv1d.*larger than the padded input",
         lambda: F.conv1d(x1, dlcore.from_numpy(np.zeros((4, 3, 9), np.float32))))


@pytest.mark.skipif(not dlcore.cuda.is_available(), reason="needs a CUDA device (real or emulated)")
def test_device_mismatch():
    x = dlcore.from_numpy(np.zeros((2, 3, 8, 8), np.float32))
    w = dlcore.from_numpy(np.zeros((4, 3, 3, 3), np.float32)).to("cuda")
    with pytest.raises(RuntimeError, match="conv2d.*device"):
        F.conv2d(x, w)
    wt = dlcore.from_numpy(np.zeros((3, 4, 3, 3), np.float32)).to("cuda")
    with pytest.raises(RuntimeError, match="conv_transpose2d: weight is on cuda.*, but the input is on cpu"):
        F.conv_transpose2d(x, wt)
    with pytest.raises(RuntimeError, match="conv_transpose2d: bias is on cpu, but the input is on cuda"):
        F.conv_transpose2d(x.to("cuda"), wt, dlcore.from_numpy(np.zeros(4, np.float32)))


# ---------------------------------------------------------------------------------------- transposed convolution

def ref_conv_transpose2d(x, w, b, stride, pad, opad, dil, groups):
    """float64 scatter form: each input pixel adds its channel's kernels, weighted by it, into the output at
    stride spacing (then the padding is cropped off)."""
    x, w = x.astype(np.float64), w.astype(np.float64)
    N, Ci, H, W = x.shape
    _, Cog, R, S = w.shape
    Cig = Ci // groups
    Hb = (H - 1) * stride[0] + dil[0] * (R - 1) + 1 + opad[0]
    Wb = (W - 1) * stride[1] + dil[1] * (S - 1) + 1 + opad[1]
    buf = np.zeros((N, Cog * groups, Hb, Wb))
    for ci in range(Ci):
        g = ci // Cig
        for r in range(R):
            for q in range(S):
                r0, q0 = r * dil[0], q * dil[1]
                buf[:, g * Cog:(g + 1) * Cog, r0: r0 + (H - 1) * stride[0] + 1: stride[0],
                    q0: q0 + (W - 1) * stride[1] + 1: stride[1]] += x[:, ci, None] * w[ci, :, r, q][None, :, None, None]
    y = buf[:, :, pad[0]: Hb - pad[0], pad[1]: Wb - pad[1]]
    if b is not None:
        y = y + b.astype(np.float64)[None, :, None, None]
    return y


# (N, C_in, H, W, C_out, R, S, stride, padding, output_padding, dilation, groups, bias)
TCASES = [
    (2, 3, 4, 5, 4, 3, 3, (2, 2), (1, 1), (1, 1), (1, 1), 1, True),    # x2 upsampling, 3x3 s2 p1 op1
    (1, 4, 3, 3, 6, 4, 4, (2, 2), (1, 1), (0, 0), (1, 1), 2, False),   # DCGAN's 4x4 s2 p1, grouped
    (2, 2, 5, 4, 3, 3, 2, (1, 2), (0, 1), (0, 1), (2, 1), 1, True),    # dilation, unequal strides and paddings
    (1, 3, 1, 1, 2, 5, 5, (1, 1), (0, 0), (0, 0), (1, 1), 1, True),    # a 1x1 input to a 5x5 output (DCGAN's first)
    (2, 4, 3, 4, 4, 3, 3, (3, 3), (2, 2), (2, 2), (1, 1), 4, True),    # depthwise, stride 3, output padding 2
    (2, 6, 4, 4, 3, 1, 1, (2, 2), (0, 0), (1, 0), (1, 1), 3, False),   # 1x1 kernel, stride 2, groups
    (3, 5, 6, 7, 2, 2, 3, (1, 1), (1, 0), (0, 0), (1, 3), 1, True),    # stride 1: a 'full' convolution
]


def _tcase_id(c):
    return "x".join(map(str, c[:7])) + f"-s{c[7][0]}{c[7][1]}-p{c[8][0]}{c[8][1]}-o{c[9][0]}{c[9][1]}-g{c[11]}"


@pytest.mark.parametrize("dev_isa", DEV_ISA, ids=lambda d: "-".join(d))
@pytest.mark.parametrize("case", TCASES, ids=_tcase_id)
def test_conv_transpose2d_vs_numpy(case, dev_isa, float_dtype, rng):
    device, isa = dev_isa
    dlcore._C._set_cpu_isa(isa)
    N, Ci, H, W, Co, R, S, st, pad, opad, dl, groups, bias = case
    x = rng.standard_normal((N, Ci, H, W))
    w = rng.standard_normal((Ci, Co // groups, R, S))
    b = rng.standard_normal(Co) if bias else None
    xt, wt = _t(x, float_dtype, True, device), _t(w, float_dtype, True, device)
    bt = _t(b, float_dtype, True, device) if bias else None
    y = F.conv_transpose2d(xt, wt, bt, st, pad, opad, groups, dl)
    ry = ref_conv_transpose2d(x, w, b, st, pad, opad, dl, groups)
    assert y.device.type == device and tuple(y.shape) == ry.shape
    tol = dict(rtol=1e-4, atol=1e-4) if float_dtype == "float32" else dict(rtol=1e-10, atol=1e-10)
    assert_close(y, ry, **tol, msg="forward")
    gy = rng.standard_normal(ry.shape)
    y.backward(_t(gy, float_dtype, device=device))
    # the transposed convolution's gradients are the convolution's forward (input) and weight gradient (weight)
    # of gy: the float64 conv2d reference of this file, not dlcore's kernels
    pad4 = (pad[0], pad[0], pad[1], pad[1])
    assert_close(xt.grad, ref_conv2d(gy, w, None, st, pad4, dl, groups), **tol, msg="grad input")
    assert_close(wt.grad, ref_conv2d(gy, w, None, st, pad4, dl, groups, gy=x)[2], **tol, msg="grad weight")
    if bias:
        assert_close(bt.grad, gy.sum((0, 2, 3)), **tol, msg="grad bias")


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, output_padding=1), dict(dilation=2, groups=2),
                                dict(stride=(1, 2), padding=(1, 0), output_padding=(0, 1))])
def test_conv_transpose2d_gradcheck(kw, device, rng):
    g = kw.get("groups", 1)
    x = _t(rng.standard_normal((2, 2, 3, 4)), "float64", True, device)
    w = _t(rng.standard_normal((2, 4 // g, 3, 2)), "float64", True, device)
    b = _t(rng.standard_normal(4), "float64", True, device)
    gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), [x, w, b])


def test_conv_transpose1d_and_unbatched(device, rng):
    x = rng.standard_normal((2, 3, 7))
    w = rng.standard_normal((3, 2, 4))
    b = rng.standard_normal(2)
    xt, wt, bt = (_t(a, "float64", True, device) for a in (x, w, b))
    y = F.conv_transpose1d(xt, wt, bt, stride=2, padding=1, output_padding=1, dilation=1)
    ry = ref_conv_transpose2d(x[:, :, None], w[:, :, None], b, (1, 2), (0, 1), (0, 1), (1, 1), 1)[:, :, 0]
    assert tuple(y.shape) == ry.shape == (2, 2, 15)
    assert_close(y, ry, rtol=1e-10, atol=1e-10)
    gradcheck(lambda x, w, b: F.conv_transpose1d(x, w, b, 2, 1, 1), [xt, wt, bt])
    # unbatched [C, L] and [C, H, W]: the batched result's first sample
    assert_close(F.conv_transpose1d(_t(x[0], "float64", device=device), wt.detach(), bt.detach(), 2, 1, 1),
                 ry[0], rtol=1e-10, atol=1e-10)
    x2 = rng.standard_normal((3, 4, 5))
    w2 = rng.standard_normal((3, 2, 3, 3))
    y2 = F.conv_transpose2d(_t(x2, "float64", device=device), _t(w2, "float64", device=device), stride=2)
    assert_close(y2, ref_conv_transpose2d(x2[None], w2, None, (2, 2), (0, 0), (0, 0), (1, 1), 1)[0],
                 rtol=1e-10, atol=1e-10)


def test_conv_transpose_non_contiguous(device, rng):
    x = rng.standard_normal((2, 5, 3, 6))  # used as its [2, 3, 5, 6] permuted view
    w = rng.standard_normal((6, 3, 2, 3))  # every other input channel: a strided view
    xt = _t(x, "float64", device=device).permute(0, 2, 1, 3)
    wt = _t(w, "float64", device=device)[::2]
    y = F.conv_transpose2d(xt, wt, stride=(2, 1), padding=(0, 1), dilation=(1, 2))
    ref = ref_conv_transpose2d(x.transpose(0, 2, 1, 3), w[::2], None, (2, 1), (0, 1), (0, 0), (1, 2), 1)
    assert_close(y, ref, rtol=1e-10, atol=1e-10)


@requires_torch
@pytest.mark.parametrize("case", TCASES, ids=_tcase_id)
def test_conv_transpose2d_vs_torch(case, rng):
    import torch
    N, Ci, H, W, Co, R, S, st, pad, opad, dl, groups, bias = case
    x = rng.standard_normal((N, Ci, H, W)).astype(np.float32)
    w = rng.standard_normal((Ci, Co // groups, R, S)).astype(np.float32)
    b = rng.standard_normal(Co).astype(np.float32) if bias else None
    xt, wt = _t(x, "float32", True), _t(w, "float32", True)
    bt = _t(b, "float32", True) if bias else None
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True) if bias else None
    y = F.conv_transpose2d(xt, wt, bt, st, pad, opad, groups, dl)
    ty = torch.nn.functional.conv_transpose2d(tx, tw, tb, st, pad, opad, groups, dl)
    assert_close(y, ty, rtol=1e-4, atol=1e-4)
    gy = rng.standard_normal(ty.shape).astype(np.float32)
    y.backward(_t(gy, "float32"))
    ty.backward(torch.tensor(gy))
    assert_close(xt.grad, tx.grad, rtol=1e-4, atol=1e-4)
    assert_close(wt.grad, tw.grad, rtol=1e-4, atol=2e-4)
    if bias:
        assert_close(bt.grad, tb.grad, rtol=1e-4, atol=1e-4)


@requires_torch
def test_conv_transpose_modules_vs_torch(rng):
    import torch
    import dlcore.nn as nn
    m = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    tm = torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    assert tuple(m.weight.shape) == tuple(tm.weight.shape) == (4, 3, 3, 3)
    # PyTorch's init: kaiming_uniform(a=sqrt(5)) over fan_in = weight.size(1) * kernel area -> bound 1/sqrt(27)
    bound = 1 / np.sqrt(27)
    assert np.abs(m.weight.detach().numpy()).max() <= bound and np.abs(m.weight.detach().numpy()).max() > 0.8 * bound
    assert np.abs(m.bias.detach().numpy()).max() <= bound
    m.load_state_dict({k: dlcore.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    x = rng.standard_normal((2, 4, 5, 6)).astype(np.float32)
    assert_close(m(dlcore.tensor(x)), tm(torch.tensor(x)), rtol=1e-5, atol=1e-5)
    # output_size picks the output padding, as in PyTorch
    for size in ([9, 11], [10, 12], [2, 6, 9, 12]):
        assert_close(m(dlcore.tensor(x), output_size=size), tm(torch.tensor(x), output_size=size), rtol=1e-5,
                     atol=1e-5)
    with pytest.raises(ValueError, match=r"ConvTranspose2d: requested an output size of \[12, 12\].*9 to 10"):
        m(dlcore.tensor(x), output_size=[12, 12])
    m1 = nn.ConvTranspose1d(3, 2, 4, stride=2, bias=False)
    tm1 = torch.nn.ConvTranspose1d(3, 2, 4, stride=2, bias=False)
    m1.load_state_dict({"weight": dlcore.tensor(tm1.weight.detach().numpy())})
    x1 = rng.standard_normal((2, 3, 7)).astype(np.float32)
    assert_close(m1(dlcore.tensor(x1)), tm1(torch.tensor(x1)), rtol=1e-5, atol=1e-5)
    assert "output_padding=(1, 1)" in repr(m)


def test_conv_transpose_bad_inputs():
    x = dlcore.from_numpy(np.zeros((2, 4, 5, 5), np.float32))
    w = dlcore.from_numpy(np.zeros((4, 3, 3, 3), np.float32))
    ct = F.conv_transpose2d
    _bad(ValueError, r"conv_transpose2d.*has 3 channels.*expects 4 input channels",
         lambda: ct(dlcore.from_numpy(np.zeros((2, 3, 5, 5), np.float32)), w))
    _bad(ValueError, r"conv_transpose2d: output padding must be smaller than either stride or dilation",
         lambda: ct(x, w, stride=2, output_padding=2))
    _bad(ValueError, r"conv_transpose2d: in_channels \(4.*divisible by groups \(3\)", lambda: ct(x, w, groups=3))
    _bad(ValueError, r"conv_transpose2d.*output of size \[-1, -1\]: too small", lambda: ct(x, w, padding=4))
    _bad(ValueError, r"conv_transpose2d: padding must be an int.*'same'", lambda: ct(x, w, padding="same"))
    _bad(ValueError, r"conv_transpose2d: bias must be a 1-D tensor of 3 elements",
         lambda: ct(x, w, dlcore.from_numpy(np.zeros(4, np.float32))))
    _bad(ValueError, r"conv_transpose2d.*4-D weight", lambda: ct(x, w[0]))
    _bad(ValueError, r"conv_transpose2d.*3-D \(unbatched\) or 4-D", lambda: ct(x[0, 0], w))
    _bad(TypeError, r"conv_transpose2d: weight dtype float64 does not match the input dtype float32",
         lambda: ct(x, w.double()))
    _bad(TypeError, r"conv_transpose2d: expected float32 or float64", lambda: ct(x.to(dlcore.int32), w.to(dlcore.int32)))
    _bad(ValueError, r"conv_transpose2d: stride and dilation must be positive", lambda: ct(x, w, stride=0))
    _bad(TypeError, r"conv_transpose1d.*'input' must be a Tensor", lambda: F.conv_transpose1d([1.0], w))
    import dlcore.nn as nn
    _bad(ValueError, r"ConvTranspose2d: output_padding .* must be smaller", lambda: nn.ConvTranspose2d(2, 2, 3,
                                                                                                      output_padding=1))
    _bad(ValueError, r"ConvTranspose2d: padding must be an int", lambda: nn.ConvTranspose2d(2, 2, 3, padding="same"))


# (N, C_in, H, W, C_out, R, S, stride, padding, output_padding, dilation, groups, bias): output_padding >= stride but
# < dilation (torch accepts it; the rows past the last one any input reaches are 0, plus the bias)
OPAD_CASES = [
    (1, 1, 1, 5, 1, 1, 2, (1, 1), (0, 0), (0, 1), (1, 2), 1, False),   # the fuzz repro (1-D shape as 2-D)
    (2, 2, 3, 4, 3, 2, 3, (1, 1), (1, 1), (1, 1), (2, 2), 1, True),    # padding absorbs the output padding
    (1, 2, 3, 3, 2, 2, 2, (2, 1), (0, 1), (2, 2), (3, 3), 1, True),    # zero rows appended past the reach
    (2, 4, 2, 3, 4, 3, 2, (1, 2), (1, 0), (2, 3), (3, 4), 2, True),    # part padding, part zero rows; groups
]


@pytest.mark.parametrize("case", OPAD_CASES, ids=_tcase_id)
def test_conv_transpose_output_padding_at_least_stride(case, rng):
    N, Ci, H, W, Co, R, S, st, pad, opad, dl, groups, bias = case
    x = rng.standard_normal((N, Ci, H, W))
    w = rng.standard_normal((Ci, Co // groups, R, S))
    b = rng.standard_normal(Co) if bias else None
    y = F.conv_transpose2d(dlcore.tensor(x), dlcore.tensor(w), dlcore.tensor(b) if bias else None, st, pad, opad,
                           groups, dl)
    ry = ref_conv_transpose2d(x, w, b, st, pad, opad, dl, groups)
    assert tuple(y.shape) == ry.shape
    assert_close(y, ry, rtol=1e-12, atol=1e-12)
    xt, wt = dlcore.tensor(x, requires_grad=True), dlcore.tensor(w, requires_grad=True)
    bt = dlcore.tensor(b, requires_grad=True) if bias else None
    gradcheck(lambda *a: F.conv_transpose2d(a[0], a[1], a[2] if bias else None, st, pad, opad, groups, dl),
              [xt, wt] + ([bt] if bias else []))
    if H == 1:  # the same through conv_transpose1d
        y1 = F.conv_transpose1d(dlcore.tensor(x[:, :, 0]), dlcore.tensor(w[:, :, 0]), None, st[1], pad[1], opad[1],
                                groups, dl[1])
        assert_close(y1, ry[:, :, 0], rtol=1e-12, atol=1e-12)


@requires_torch
@pytest.mark.parametrize("case", OPAD_CASES, ids=_tcase_id)
def test_conv_transpose_output_padding_at_least_stride_vs_torch(case, rng):
    import torch
    N, Ci, H, W, Co, R, S, st, pad, opad, dl, groups, bias = case
    x = rng.standard_normal((N, Ci, H, W))
    w = rng.standard_normal((Ci, Co // groups, R, S))
    b = rng.standard_normal(Co) if bias else None
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True) if bias else None
    ty = torch.nn.functional.conv_transpose2d(tx, tw, tb, st, pad, opad, groups, dl)
    gy = rng.standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(gy))
    xt, wt = dlcore.tensor(x, requires_grad=True), dlcore.tensor(w, requires_grad=True)
    bt = dlcore.tensor(b, requires_grad=True) if bias else None
    y = F.conv_transpose2d(xt, wt, bt, st, pad, opad, groups, dl)
    y.backward(dlcore.tensor(gy))
    assert_close(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert_close(xt.grad, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert_close(wt.grad, tw.grad.numpy(), rtol=1e-12, atol=1e-12)
    if bias:
        assert_close(bt.grad, tb.grad.numpy(), rtol=1e-12, atol=1e-12)
