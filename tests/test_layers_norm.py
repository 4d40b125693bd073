"""batch_norm (training/eval, running-stat update, (N, C) and (N, C, H, W)) and local_response_norm: NumPy
float64 oracles, torch, float64 gradchecks, ISA paths, non-contiguous input, bad input."""
import numpy as np
import pytest

import dlcore
import dlcore.functional as F
from dlcore.testing import assert_close, gradcheck
from conftest import requires_torch

ISAS = ["scalar", "avx2", "avx512"]


def _pin(isa):
    try:
        dlcore._C._set_cpu_isa(isa)
    except ValueError:
        pytest.skip(f"CPU lacks {isa}")


def np_bn(x, rm, rv, w, b, training, momentum, eps):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = [1, x.shape[1]] + [1] * (x.ndim - 2)
    if training:
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)
        n = x.size // x.shape[1]
        rm = (1 - momentum) * rm + momentum * mean
        rv = (1 - momentum) * rv + momentum * var * n / (n - 1)
    else:
        mean, var = rm, rv
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    if w is not None:
        y = y * w.reshape(shape)
    if b is not None:
        y = y + b.reshape(shape)
    return y, rm, rv


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("shape", [(5, 3), (4, 7, 9), (3, 2, 5, 7), (2, 3, 17, 1)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_forward(isa, shape, training, affine, float_dtype, rng):
    _pin(isa)
    C = shape[1]
    x = (rng.standard_normal(shape) * 2 + 3).astype(float_dtype)
    rm0 = rng.standard_normal(C).astype(float_dtype)
    rv0 = rng.uniform(0.5, 2, C).astype(float_dtype)
    w = rng.standard_normal(C).astype(float_dtype) if affine else None
    b = rng.standard_normal(C).astype(float_dtype) if affine else None
    rm, rv = dlcore.tensor(rm0), dlcore.tensor(rv0)
    y = F.batch_norm(dlcore.tensor(x), rm, rv, None if w is None else dlcore.tensor(w),
                     None if b is None else dlcore.tensor(b), training, 0.2, 1e-3)
    ry, rrm, rrv = np_bn(x.astype(np.float64), rm0.astype(np.float64), rv0.astype(np.float64),
                         None if w is None else w.astype(np.float64), None if b is None else b.astype(np.float64),
                         training, 0.2, 1e-3)
    tol = dict(rtol=1e-5, atol=2e-5) if float_dtype == "float32" else dict(rtol=1e-11, atol=1e-11)
    assert_close(y.numpy(), ry, **tol)
    assert_close(rm.numpy(), rrm, **tol)
    assert_close(rv.numpy(), rrv, **tol)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("shape", [(3, 4, 2), (5, 3, 7), (2, 3, 16), (4, 2, 17), (3, 5, 33), (2, 3, 1030),
                                   (3, 2, 2100), (64, 4, 24, 24), (7, 1, 40)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_float32_channel_paths(isa, shape, training, rng):
    # the float32 per-channel path (float32 lane sums shifted by a sample of the channel, flushed into float64;
    # threads over channels; C = 1 takes the general path): every row-tail length, rows longer than the flush
    # chunk, a constant channel (variance exactly 0), a channel far from 0 relative to its spread, forward and
    # backward against the float64 kernels
    _pin(isa)
    C = shape[1]
    x = rng.standard_normal(shape)
    x[:, 0] = 2.5                                        # constant channel
    if C > 1:
        x[:, 1] = 300 + rng.standard_normal(x[:, 1].shape)   # offset 300 sigma: a naive float32 sum of squares fails
    x = x.astype(np.float32).astype(np.float64)
    g = rng.standard_normal(shape)
    w0, b0 = rng.standard_normal(C), rng.standard_normal(C)
    rm0, rv0 = rng.standard_normal(C), rng.uniform(0.5, 2, C)
    res = []
    for dt in ("float32", "float64"):
        xd = dlcore.tensor(x.astype(dt), requires_grad=True)
        wd = dlcore.tensor(w0.astype(dt), requires_grad=True)
        bd = dlcore.tensor(b0.astype(dt), requires_grad=True)
        rm, rv = dlcore.tensor(rm0.astype(dt)), dlcore.tensor(rv0.astype(dt))
        y = F.batch_norm(xd, rm, rv, wd, bd, training, 0.1, 1e-5)
        y.backward(dlcore.tensor(g.astype(dt)))
        res.append([v.numpy().astype(np.float64) for v in (y.detach(), rm, rv, xd.grad, wd.grad, bd.grad)])
    ry, rrm, rrv = np_bn(x, rm0, rv0, w0, b0, training, 0.1, 1e-5)
    assert_close(res[1][0], ry, rtol=1e-9, atol=1e-9)
    names = ["y", "running_mean", "running_var", "grad x", "grad w", "grad b"]
    for name, a, e in zip(names, res[0], res[1]):
        scale = max(1.0, np.abs(e).max())
        assert_close(a, e, rtol=1e-4, atol=1e-4 * scale, msg=name)
    if training:
        assert (res[0][0][:, 0] == np.float32(b0[0])).all()   # constant channel: y = bias exactly


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("first", [1e4, -3e3, 50.0])
def test_batch_norm_float32_outlier_first_element(isa, first, rng):
    # the float32 statistics are shifted by the midrange of each channel's first elements: an outlier there must
    # not cost accuracy (the exact float64 fallback)
    _pin(isa)
    x = rng.standard_normal((16, 3, 9, 11))
    x[0, :, 0, 0] = first
    x[0, 2, 0, 0] = x[0, 2, 0, 1]              # channel 2: an ordinary first element
    x[3:, 1] = 7.0                               # channel 1: constant but for the first rows
    x = x.astype(np.float32).astype(np.float64)
    y = F.batch_norm(dlcore.tensor(x.astype(np.float32)), None, None, training=True).numpy()
    ry, _, _ = np_bn(x, np.zeros(3), np.ones(3), None, None, True, 0.1, 1e-5)
    assert_close(y, ry, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("shape", [(6, 3), (3, 2, 4, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck(isa, shape, training, rng):
    _pin(isa)
    C = shape[1]
    x = dlcore.tensor(rng.standard_normal(shape), requires_grad=True)
    w = dlcore.tensor(rng.standard_normal(C), requires_grad=True)
    b = dlcore.tensor(rng.standard_normal(C), requires_grad=True)
    rm0, rv0 = rng.standard_normal(C), rng.uniform(0.5, 2, C)
    # fresh running stats per call, so the finite differences see the same function
    gradcheck(lambda a, ww, bb: F.batch_norm(a, dlcore.tensor(rm0), dlcore.tensor(rv0), ww, bb, training, 0.1, 1e-5),
              [x, w, b])


@pytest.mark.parametrize("isa", ISAS)
def test_batch_norm_backward_float32_vs_float64(isa, rng):
    _pin(isa)
    x = rng.standard_normal((8, 5, 6, 7))
    g = rng.standard_normal(x.shape)
    out = []
    for dt in ("float32", "float64"):
        xd = dlcore.tensor(x.astype(dt), requires_grad=True)
        wd = dlcore.tensor(np.linspace(0.5, 1.5, 5).astype(dt), requires_grad=True)
        F.batch_norm(xd, None, None, wd, None, True).backward(dlcore.tensor(g.astype(dt)))
        out.append((xd.grad.numpy().astype(np.float64), wd.grad.numpy().astype(np.float64)))
    assert_close(out[0][0], out[1][0], rtol=1e-4, atol=1e-4)
    assert_close(out[0][1], out[1][1], rtol=1e-4, atol=1e-3)


@requires_torch
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_vs_torch(training, rng):
    import torch
    x = rng.standard_normal((16, 4, 5, 5)).astype(np.float32)
    w = rng.standard_normal(4).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    rm0, rv0 = rng.standard_normal(4).astype(np.float32), rng.uniform(0.5, 2, 4).astype(np.float32)
    xd, wd, bd = (dlcore.tensor(a, requires_grad=True) for a in (x, w, b))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    rmd, rvd = dlcore.tensor(rm0), dlcore.tensor(rv0)
    rmt, rvt = torch.tensor(rm0), torch.tensor(rv0)
    yd = F.batch_norm(xd, rmd, rvd, wd, bd, training, 0.1, 1e-5)
    yt = torch.nn.functional.batch_norm(xt, rmt, rvt, wt, bt, training, 0.1, 1e-5)
    g = rng.standard_normal(x.shape).astype(np.float32)
    yd.backward(dlcore.tensor(g))
    yt.backward(torch.tensor(g))
    assert_close(yd.detach().numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    assert_close(rmd.numpy(), rmt.numpy(), rtol=1e-5, atol=1e-6)
    assert_close(rvd.numpy(), rvt.numpy(), rtol=1e-5, atol=1e-6)
    for a, t in ((xd, xt), (wd, wt), (bd, bt)):
        assert_close(a.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_batch_norm_non_contiguous(device, rng):
    x = rng.standard_normal((3, 4, 5))
    xd = dlcore.tensor(x, device=device).transpose(0, 2)  # (5, 4, 3)
    y = F.batch_norm(xd, None, None, training=True)
    assert y.device.type == device
    xt = x.transpose(2, 1, 0)
    ry, _, _ = np_bn(xt, np.zeros(4), np.ones(4), None, None, True, 0.1, 1e-5)
    assert_close(y.cpu().numpy(), ry, rtol=1e-10, atol=1e-10)


def test_batch_norm_bad_input():
    x = dlcore.zeros(4, 3, 2, 2)
    with pytest.raises(ValueError, match="running_mean of shape \\[3\\]"):
        F.batch_norm(x, dlcore.zeros(4), dlcore.ones(3), training=True)
    with pytest.raises(ValueError, match="weight of shape"):
        F.batch_norm(x, None, None, dlcore.ones(2), training=True)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(dlcore.zeros(1, 3), None, None, training=True)
    with pytest.raises(ValueError, match="evaluation mode"):
        F.batch_norm(x, None, None, training=False)
    with pytest.raises(ValueError, match="\\(N, C\\)"):
        F.batch_norm(dlcore.zeros(3), None, None, training=True)
    with pytest.raises(TypeError, match="dtype"):
        F.batch_norm(x, dlcore.zeros(3, dtype=dlcore.float64), dlcore.ones(3), training=True)


# ------------------------------------------------------------------------------------------------ LRN

def np_lrn(x, size, alpha, beta, k):
    C = x.shape[1]
    sq = x ** 2
    s = np.zeros_like(x)
    for c in range(C):
        lo, hi = max(0, c - size // 2), min(C - 1, c + (size - 1) // 2)
        s[:, c] = sq[:, lo:hi + 1].sum(axis=1)
    return x / (k + alpha / size * s) ** beta


@pytest.mark.parametrize("size", [1, 2, 3, 5])
@pytest.mark.parametrize("shape", [(2, 7, 3, 4), (3, 4, 5), (1, 3, 2, 2, 2)])
def test_lrn(size, shape, rng):
    x = rng.standard_normal(shape) * 2
    xd = dlcore.tensor(x, requires_grad=True)
    y = F.local_response_norm(xd, size, alpha=0.3, beta=0.75, k=1.5)
    assert_close(y.detach().numpy(), np_lrn(x, size, 0.3, 0.75, 1.5), rtol=1e-12, atol=1e-12)
    gradcheck(lambda v: F.local_response_norm(v, size, 0.3, 0.75, 1.5), [xd])


@requires_torch
def test_lrn_vs_torch(rng):
    import torch
    x = rng.standard_normal((2, 8, 5, 5)).astype(np.float32)
    xd, xt = dlcore.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yd = F.local_response_norm(xd, 4, 1e-2, 0.75, 2.0)
    yt = torch.nn.functional.local_response_norm(xt, 4, 1e-2, 0.75, 2.0)
    assert_close(yd.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = rng.standard_normal(x.shape).astype(np.float32)
    yd.backward(dlcore.tensor(g))
    yt.backward(torch.tensor(g))
    assert_close(xd.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_lrn_bad_input():
    with pytest.raises(ValueError, match="3D or higher"):
        F.local_response_norm(dlcore.zeros(3, 4), 2)
    with pytest.raises(ValueError, match="size must be positive"):
        F.local_response_norm(dlcore.zeros(1, 3, 4), 0)


# ------------------------------------------------------------------------------------------------ cuda kernels
# Emulated in CI. Fresh device memory is poisoned (NaN): an element a kernel fails to write shows as a mismatch.
cuda_only = pytest.mark.skipif(not dlcore.cuda.is_available(), reason="no cuda device in this build")


@cuda_only
# (2, 2, 41, 37): 3034 values per channel, reduced in 3 chunks of 1012, 1012 and 1010 (partials, then a fold)
@pytest.mark.parametrize("shape", [(5, 3), (4, 7, 9), (3, 2, 5, 7), (2, 3, 17, 1), (2, 1, 300), (2, 2, 41, 37)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_cuda_batch_norm_matches_cpu(shape, training, affine, float_dtype, rng):
    C = shape[1]
    x = (rng.standard_normal(shape) * 2 + 3).astype(float_dtype)
    g = rng.standard_normal(shape).astype(float_dtype)
    rm0 = rng.standard_normal(C).astype(float_dtype)
    rv0 = rng.uniform(0.5, 2, C).astype(float_dtype)
    w = rng.standard_normal(C).astype(float_dtype)
    b = rng.standard_normal(C).astype(float_dtype)
    res = {}
    for dev in ("cpu", "cuda"):
        xd = dlcore.tensor(x, device=dev, requires_grad=True)
        wd = dlcore.tensor(w, device=dev, requires_grad=True) if affine else None
        bd = dlcore.tensor(b, device=dev, requires_grad=True) if affine else None
        rm, rv = dlcore.tensor(rm0, device=dev), dlcore.tensor(rv0, device=dev)
        y = F.batch_norm(xd, rm, rv, wd, bd, training, 0.2, 1e-3)
        y.backward(dlcore.tensor(g, device=dev))
        assert y.device.type == dev and xd.grad.device.type == dev
        res[dev] = [y.detach(), rm, rv, xd.grad] + ([wd.grad, bd.grad] if affine else [])
    tol = dict(rtol=1e-4, atol=1e-4) if float_dtype == "float32" else dict(rtol=1e-10, atol=1e-10)
    for a, e in zip(res["cuda"], res["cpu"]):
        a = a.cpu().numpy()
        assert not np.isnan(a).any(), "unwritten (poisoned) elements"
        assert_close(a, e.numpy(), **tol)
    ry, rrm, rrv = np_bn(x.astype(np.float64), rm0.astype(np.float64), rv0.astype(np.float64),
                         w.astype(np.float64) if affine else None, b.astype(np.float64) if affine else None,
                         training, 0.2, 1e-3)
    assert_close(res["cuda"][0].cpu().numpy(), ry, **tol)
    assert_close(res["cuda"][1].cpu().numpy(), rrm, **tol)
    assert_close(res["cuda"][2].cpu().numpy(), rrv, **tol)


@cuda_only
@pytest.mark.parametrize("shape", [(6, 3), (3, 2, 4, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_cuda_batch_norm_gradcheck(shape, training, rng):
    C = shape[1]
    x = dlcore.tensor(rng.standard_normal(shape), device="cuda", requires_grad=True)
    w = dlcore.tensor(rng.standard_normal(C), device="cuda", requires_grad=True)
    b = dlcore.tensor(rng.standard_normal(C), device="cuda", requires_grad=True)
    rm0, rv0 = rng.standard_normal(C), rng.uniform(0.5, 2, C)
    gradcheck(lambda a, ww, bb: F.batch_norm(a, dlcore.tensor(rm0, device="cuda"), dlcore.tensor(rv0, device="cuda"),
                                             ww, bb, training, 0.1, 1e-5), [x, w, b])


@cuda_only
def test_cuda_batch_norm_float32_large_channel_accuracy(rng):
    # one block reduces a channel of 2 * 4096 values with an offset mean (two-pass variance: no cancellation)
    x = (rng.standard_normal((2, 2, 64, 64)) * 0.5 + 100).astype(np.float32)
    y = F.batch_norm(dlcore.tensor(x, device="cuda"), None, None, training=True).cpu().numpy()
    ry, _, _ = np_bn(x.astype(np.float64), np.zeros(2), np.ones(2), None, None, True, 0.1, 1e-5)
    assert_close(y, ry, rtol=1e-3, atol=1e-3)


@cuda_only
@pytest.mark.parametrize("size", [1, 2, 5])
@pytest.mark.parametrize("shape", [(2, 7, 3, 4), (1, 3, 5)])
def test_cuda_lrn_matches_cpu(size, shape, float_dtype, rng):
    x = (rng.standard_normal(shape) * 2).astype(float_dtype)
    g = rng.standard_normal(shape).astype(float_dtype)
    res = {}
    for dev in ("cpu", "cuda"):
        xd = dlcore.tensor(x, device=dev, requires_grad=True)
        y = F.local_response_norm(xd, size, alpha=0.3, beta=0.75, k=1.5)
        y.backward(dlcore.tensor(g, device=dev))
        res[dev] = (y.detach().cpu().numpy(), xd.grad.cpu().numpy())
    tol = dict(rtol=1e-5, atol=1e-6) if float_dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    for a, e in zip(res["cuda"], res["cpu"]):
        assert not np.isnan(a).any()
        assert_close(a, e, **tol)


@cuda_only
@pytest.mark.parametrize("size", [2, 3])
def test_cuda_lrn_gradcheck(size, rng):
    xd = dlcore.tensor(rng.standard_normal((1, 5, 2, 2)) * 2, device="cuda", requires_grad=True)
    gradcheck(lambda v: F.local_response_norm(v, size, 0.3, 0.75, 1.5), [xd])
