"""CUDA-specific checks of the conv2d and pooling kernels (csrc/ops/conv/conv_kernels.cuh, pool_kernels.cuh):
shapes that cross the 64 x 64 x 8 tile edges in every dimension, the split-K weight gradient, determinism,
non-contiguous operands, unwritten outputs (the emulator poisons every device allocation with NaN), and
cuda-vs-cpu agreement. Runs on the emulated device in CI and on a real GPU when present."""
import numpy as np
import pytest

import dlcore
import dlcore.functional as F
from dlcore.testing import assert_close, gradcheck

pytestmark = pytest.mark.skipif(not dlcore.cuda.is_available(), reason="needs a CUDA device (real or emulated)")


def _dev(a, dtype, device, grad=False):
    t = dlcore.from_numpy(np.ascontiguousarray(a.astype(dtype))).to(device)
    return t.requires_grad_() if grad else t


def _host(t):
    return np.asarray(t.detach().to("cpu").numpy())


def _conv_all(device, x, w, b, gy, dtype, **kw):
    """(y, gx, gw, gb) of one conv2d on device, as NumPy."""
    xt, wt = _dev(x, dtype, device, True), _dev(w, dtype, device, True)
    bt = _dev(b, dtype, device, True) if b is not None else None
    y = F.conv2d(xt, wt, bt, **kw)
    y.backward(_dev(gy, dtype, device))
    return [_host(y), _host(xt.grad), _host(wt.grad)] + ([_host(bt.grad)] if b is not None else [])


# (N, C, H, W, K, R, S, kwargs): each crosses a tile edge somewhere
EDGE_CASES = [
    (2, 2, 9, 9, 70, 3, 3, dict(padding=1)),                      # K = 70: two output-channel tiles, M = 162
    (2, 9, 6, 7, 5, 3, 3, dict(stride=2, padding=1)),             # CgRS = 81: two weight-grad column tiles
    (1, 66, 5, 5, 3, 1, 1, dict()),                               # 1x1, Cg = 66: two input-grad column tiles
    (3, 6, 7, 9, 8, 1, 1, dict(groups=2)),                        # 1x1 grouped: per-group GEMMs over images
    (2, 130, 3, 5, 70, 1, 1, dict()),                             # 1x1 through the GEMM, K and C past a tile
    (2, 4, 7, 9, 6, 1, 1, dict(padding=1)),                       # 1x1 padded: the implicit-GEMM path
    (2, 3, 20, 20, 5, 3, 3, dict(padding=1)),                     # N*P*Q = 800: split-K weight gradient (4 splits)
    (2, 4, 13, 11, 6, 3, 2, dict(stride=(2, 3), padding=(1, 0), dilation=(2, 1), groups=2)),
    (3, 6, 7, 5, 6, 3, 3, dict(padding=1, groups=6)),             # depthwise
    (1, 1, 1, 1, 1, 1, 1, dict()),                                # one element
    (1, 3, 17, 15, 4, 7, 5, dict(stride=3, padding=(3, 2))),      # odd sizes, taps wider than the stride
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", EDGE_CASES, ids=lambda c: "x".join(map(str, c[:7])))
def test_conv_cuda_matches_cpu(case, dtype, rng):
    N, C, H, W, K, R, S, kw = case
    g = kw.get("groups", 1)
    x, w, b = rng.standard_normal((N, C, H, W)), rng.standard_normal((K, C // g, R, S)), rng.standard_normal(K)
    y_shape = F.conv2d(_dev(x, dtype, "cpu"), _dev(w, dtype, "cpu"), None, **kw).shape
    gy = rng.standard_normal(y_shape)
    ref = _conv_all("cpu", x, w, b, gy, dtype, **kw)
    got = _conv_all("cuda", x, w, b, gy, dtype, **kw)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == "float32" else dict(rtol=1e-11, atol=1e-11)
    for name, a, e in zip(("forward", "grad input", "grad weight", "grad bias"), got, ref):
        assert np.isfinite(a).all(), f"{name}: unwritten (NaN-poisoned) elements"
        assert_close(a, e, **tol, msg=name)


@pytest.mark.parametrize("tile", ["64x64", "128x64", "64x128", "128x128"])
def test_conv_cuda_every_tile_configuration(tile, monkeypatch, rng):
    """Each float32 block tile pinned in turn, on a shape with partial tiles of 128 in every GEMM dimension:
    forward M = 143, Kg = 130; input grad M = 143, Cg = 15; weight grad Kg = 130, CgRS = 135."""
    monkeypatch.setenv("DLCORE_CONV_CUDA_TILE", tile)
    x, w, b = rng.standard_normal((1, 15, 13, 11)), rng.standard_normal((130, 15, 3, 3)), rng.standard_normal(130)
    gy = rng.standard_normal((1, 130, 13, 11))
    ref = _conv_all("cpu", x, w, b, gy, "float32", padding=1)
    got = _conv_all("cuda", x, w, b, gy, "float32", padding=1)
    for name, a, e in zip(("forward", "grad input", "grad weight", "grad bias"), got, ref):
        assert np.isfinite(a).all(), f"{name}: unwritten (NaN-poisoned) elements"
        assert_close(a, e, rtol=1e-4, atol=1e-4, msg=f"{tile} {name}")


def test_conv_cuda_bad_tile_setting(monkeypatch):
    monkeypatch.setenv("DLCORE_CONV_CUDA_TILE", "32x32")
    x = dlcore.zeros(1, 1, 3, 3, device="cuda")
    with pytest.raises(ValueError, match="DLCORE_CONV_CUDA_TILE"):
        F.conv2d(x, dlcore.zeros(1, 1, 3, 3, device="cuda"))  # 3x3: the implicit-GEMM path reads the setting


def test_conv_cuda_deterministic(rng):
    """Forward and both gradients are bit-identical from run to run (the split-K sums run in a fixed order)."""
    x, w, b = rng.standard_normal((2, 3, 20, 20)), rng.standard_normal((5, 3, 3, 3)), rng.standard_normal(5)
    gy = rng.standard_normal((2, 5, 20, 20))
    r1 = _conv_all("cuda", x, w, b, gy, "float32", padding=1)
    r2 = _conv_all("cuda", x, w, b, gy, "float32", padding=1)
    for a, e in zip(r1, r2):
        assert np.array_equal(a, e)


def test_conv_cuda_non_contiguous(rng):
    """Permuted (channels-last storage) input and a sliced weight: the front-end makes them contiguous."""
    x = rng.standard_normal((2, 7, 9, 4))                    # stored NHWC, used as NCHW [2, 4, 7, 9]
    w = rng.standard_normal((3, 4, 3, 6))                    # [..., ::2] -> [3, 4, 3, 3]
    xc = _dev(x, "float64", "cuda").permute(0, 3, 1, 2)
    wc = _dev(w, "float64", "cuda")[..., ::2]
    assert not xc.is_contiguous() and not wc.is_contiguous()
    y = F.conv2d(xc, wc, None, stride=2, padding=1)
    ref = F.conv2d(_dev(x.transpose(0, 3, 1, 2), "float64", "cpu"), _dev(w[..., ::2], "float64", "cpu"), None,
                   stride=2, padding=1)
    assert_close(_host(y), _host(ref), rtol=1e-12, atol=1e-12)


def test_conv_cuda_gradcheck_split_k(rng):
    """float64 central differences through the split-K weight gradient (N*P*Q = 576 > 512: 3 splits)."""
    x = _dev(rng.standard_normal((1, 1, 24, 24)), "float64", "cuda")
    w = _dev(rng.standard_normal((2, 1, 2, 2)), "float64", "cuda", True)
    gradcheck(lambda w: F.conv2d(x, w, padding=(0, 1)), [w])


# (shape, kernel, stride, padding, dilation, ceil)
POOL_CASES = [
    ((2, 3, 13, 13), 3, 2, 0, 1, False),     # AlexNet's overlapping 3x3 / 2
    ((1, 2, 9, 10), 3, 1, 1, 1, False),      # every element in up to 9 windows
    ((1, 2, 11, 9), (3, 2), (2, 1), (1, 1), (2, 3), True),
    ((1, 1, 1, 1), 1, 1, 0, 1, False),
    ((2, 2, 7, 33), 2, 2, 0, 1, True),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_pool_cuda_matches_cpu_exactly(case, dtype, rng):
    """Values, indices and gradients equal the CPU's bit for bit: same window scans, same summation order."""
    shape, k, s, p, d, ceil = case
    x = rng.standard_normal(shape)
    x[0, 0, 0, 0] = x.max()  # a tie with another element of the plane, when the plane has more than one
    fns = {
        "max": lambda v: F.max_pool2d(v, k, s, p, d, ceil, return_indices=True),
        "avg": lambda v: F.avg_pool2d(v, k, s, p, ceil, False),
        "avg_div": lambda v: F.avg_pool2d(v, k, s, p, ceil, True, 3),
        "adaptive": lambda v: F.adaptive_avg_pool2d(v, (max(1, shape[2] // 2), max(1, shape[3] - 2))),
        "adaptive_up": lambda v: F.adaptive_avg_pool2d(v, (shape[2] + 2, shape[3] + 1)),
    }
    for name, fn in fns.items():
        res = {}
        for device in ("cpu", "cuda"):
            xt = _dev(x, dtype, device, True)
            out = fn(xt)
            y, idx = out if isinstance(out, tuple) else (out, None)
            gy = np.random.default_rng(7).standard_normal(y.shape)
            y.backward(_dev(gy, dtype, device))
            res[device] = [_host(y), _host(xt.grad)] + ([_host(idx)] if idx is not None else [])
        for a, e in zip(res["cuda"], res["cpu"]):
            assert np.isfinite(a).all(), f"{name}: unwritten (NaN-poisoned) elements"
            assert np.array_equal(a, e), f"{name}: cuda differs from cpu"


def test_pool_cuda_gradcheck(rng):
    x = _dev(rng.permutation(2 * 7 * 8).reshape(1, 2, 7, 8) * 0.1, "float64", "cuda", True)  # distinct: no ties
    gradcheck(lambda v: F.max_pool2d(v, 3, 2, 1, dilation=(1, 2)), [x], eps=1e-4)
    gradcheck(lambda v: F.avg_pool2d(v, 3, 2, 1, True, False), [x])
    gradcheck(lambda v: F.adaptive_avg_pool2d(v, (3, 5)), [x])
