"""Fractional max pooling (F.fractional_max_pool2d/3d, nn.FractionalMaxPool2d/3d), nn.CrossMapLRN2d,
nn.SyncBatchNorm (+ convert_sync_batchnorm), the deprecated nn.NLLLoss2d / nn.Container, and optim.Adafactor /
optim.Muon, against PyTorch CPU (outputs, indices, gradients, double backward, optimizer parameters and state after
several steps), finite differences, and bad input."""
import copy
import warnings

import numpy as np
import pytest

import dlcore
from dlcore import nn, optim
from dlcore.nn import functional as F
from dlcore.testing import gradcheck

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

DTYPES = [np.float32, np.float64]


def _t(a, grad=False):
    return torch.tensor(np.array(a), requires_grad=grad)


def _d(a, grad=False):
    return dlcore.tensor(np.array(a), requires_grad=grad)


def _np(x):
    return x.detach().numpy() if hasattr(x, "detach") else np.asarray(x)


# ============================================================================================ fractional max pool

def _fmp_case(rng, nsp, dt, batched=True, ties=False, nans=False):
    n, c = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    insz = [int(rng.integers(3, 12)) for _ in range(nsp)]
    k = [int(rng.integers(1, min(4, s - 1) + 1)) for s in insz]
    hi = 2 if nsp == 2 else 1  # torch: 2-d out + k - 1 <= in, 3-d out + k - 1 < in
    out = [int(rng.integers(1, s - kk + hi)) for s, kk in zip(insz, k)]
    x = rng.standard_normal(([n, c] if batched else [c]) + insz).astype(dt)
    if ties:
        x = np.round(x)
    if nans:
        x.reshape(-1)[rng.integers(0, x.size, 4)] = np.nan
    s = rng.random((n if batched else 1, c, nsp)).astype(dt)
    return x, k, out, s


@pytest.mark.parametrize("nsp", [2, 3])
@pytest.mark.parametrize("dt", DTYPES)
def test_fractional_max_pool_matches_torch_exactly(nsp, dt):
    """Same _random_samples -> the same outputs and indices as torch (odd sizes, unbatched, ties, NaNs)."""
    rng = np.random.default_rng(10 * nsp + (dt == np.float64))
    tf = torch.nn.functional.fractional_max_pool2d if nsp == 2 else torch.nn.functional.fractional_max_pool3d
    f = F.fractional_max_pool2d if nsp == 2 else F.fractional_max_pool3d
    for trial in range(60):
        x, k, out, s = _fmp_case(rng, nsp, dt, batched=trial % 4 != 0, ties=trial % 3 == 0, nans=trial % 7 == 0)
        yt, it = tf(_t(x), k, output_size=out, return_indices=True, _random_samples=_t(s))
        y, i = f(_d(x), k, output_size=out, return_indices=True, _random_samples=_d(s))
        assert i.dtype == dlcore.int64 and tuple(y.shape) == tuple(yt.shape) == tuple(i.shape)
        np.testing.assert_array_equal(_np(i), it.numpy(), err_msg=f"{x.shape} k={k} out={out}")
        np.testing.assert_array_equal(_np(y), yt.numpy())


def test_fractional_max_pool_output_ratio_and_forms():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 11, 9))
    s = rng.random((2, 3, 2))
    for ratio in [(0.5, 0.7), 0.6]:
        ref = torch.nn.functional.fractional_max_pool2d(_t(x), (2, 3), output_ratio=_pair(ratio),
                                                        _random_samples=_t(s))
        y = F.fractional_max_pool2d(_d(x), (2, 3), output_ratio=ratio, _random_samples=_d(s))
        np.testing.assert_array_equal(_np(y), ref.numpy())
    yi = F.fractional_max_pool2d_with_indices(_d(x), 2, output_size=4, _random_samples=_d(s))
    ti = torch.nn.functional.fractional_max_pool2d_with_indices(_t(x), 2, output_size=4, _random_samples=_t(s))
    np.testing.assert_array_equal(_np(yi[1]), ti[1].numpy())
    x3 = rng.standard_normal((2, 5, 6, 7))
    s3 = rng.random((1, 2, 3))
    y3 = F.fractional_max_pool3d_with_indices(_d(x3), (2, 1, 3), output_ratio=0.5, _random_samples=_d(s3))
    t3 = torch.nn.functional.fractional_max_pool3d_with_indices(_t(x3), (2, 1, 3), output_ratio=0.5,
                                                                 _random_samples=_t(s3))
    np.testing.assert_array_equal(_np(y3[0]), t3[0].numpy())
    np.testing.assert_array_equal(_np(y3[1]), t3[1].numpy())
    # samples with more rows than the batch: the first N rows are used
    s_big = rng.random((5, 3, 2))
    y = F.fractional_max_pool2d(_d(x), 3, output_size=(5, 4), _random_samples=_d(s_big))
    ref = torch.nn.functional.fractional_max_pool2d(_t(x), 3, output_size=(5, 4), _random_samples=_t(s_big))
    np.testing.assert_array_equal(_np(y), ref.numpy())


def test_fractional_max_pool_non_contiguous():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 3, 9, 11))
    s = rng.random((2, 3, 2))
    xd = _d(x, True)
    xt = _t(x, True)
    y = F.fractional_max_pool2d(xd.transpose(2, 3), 2, output_size=(5, 4), _random_samples=_d(s))
    yt = torch.nn.functional.fractional_max_pool2d(xt.transpose(2, 3), 2, output_size=(5, 4), _random_samples=_t(s))
    np.testing.assert_array_equal(_np(y), yt.detach().numpy())
    go = rng.standard_normal(yt.shape)
    y.backward(_d(go))
    yt.backward(_t(go))
    np.testing.assert_array_equal(_np(xd.grad), xt.grad.numpy())


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


def test_fractional_max_pool_modules():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 10, 8)).astype(np.float32)
    s = rng.random((2, 3, 2)).astype(np.float32)
    m = nn.FractionalMaxPool2d(3, output_size=(4, 5), return_indices=True, _random_samples=_d(s))
    mt = torch.nn.FractionalMaxPool2d(3, output_size=(4, 5), return_indices=True, _random_samples=_t(s))
    (y, i), (yt, it) = m(_d(x)), mt(_t(x))
    np.testing.assert_array_equal(_np(y), yt.numpy())
    np.testing.assert_array_equal(_np(i), it.numpy())
    assert "_random_samples" in dict(m.named_buffers())
    x3 = rng.standard_normal((1, 2, 7, 6, 9))
    s3 = rng.random((1, 2, 3))
    m3 = nn.FractionalMaxPool3d((2, 2, 3), output_ratio=(0.5, 0.5, 0.5), _random_samples=_d(s3))
    mt3 = torch.nn.FractionalMaxPool3d((2, 2, 3), output_ratio=(0.5, 0.5, 0.5), _random_samples=_t(s3))
    np.testing.assert_array_equal(_np(m3(_d(x3))), mt3(_t(x3)).numpy())
    for bad in [dict(kernel_size=2), dict(kernel_size=2, output_size=2, output_ratio=0.5),
                dict(kernel_size=2, output_ratio=1.5), dict(kernel_size=0, output_size=2)]:
        with pytest.raises(ValueError):
            nn.FractionalMaxPool2d(**bad)
        with pytest.raises(ValueError):
            torch.nn.FractionalMaxPool3d(**bad)
        with pytest.raises(ValueError):
            nn.FractionalMaxPool3d(**bad)


def test_fractional_max_pool_default_samples():
    """Without _random_samples the windows come from dlcore's generator: reproducible under manual_seed, every
    output is the input at its index, each index lies in a window of the right size at a valid start."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4, 13, 10))
    dlcore.manual_seed(7)
    y1, i1 = F.fractional_max_pool2d(_d(x), 3, output_size=(5, 4), return_indices=True)
    dlcore.manual_seed(7)
    y2, i2 = F.fractional_max_pool2d(_d(x), 3, output_size=(5, 4), return_indices=True)
    np.testing.assert_array_equal(_np(i1), _np(i2))
    idx = _np(i1)
    flat = x.reshape(3, 4, -1)
    np.testing.assert_array_equal(_np(y1), np.take_along_axis(flat, idx.reshape(3, 4, -1), 2).reshape(idx.shape))
    rows, cols = idx // 10, idx % 10
    # the last window starts at in - k; rows (cols) are non-decreasing along the output rows (cols) per plane
    assert rows[..., -1, :].min() >= 13 - 3 and cols[..., :, -1].min() >= 10 - 3
    assert (rows.max() < 13) and (cols.max() < 10)
    # different draws give different windows somewhere (24 planes)
    y3, i3 = F.fractional_max_pool2d(_d(x), 3, output_size=(5, 4), return_indices=True)
    assert not np.array_equal(_np(i3), idx)


@pytest.mark.parametrize("nsp", [2, 3])
def test_fractional_max_pool_backward_vs_torch(nsp):
    """The gradient is scattered (added) to the argmax positions: overlapping windows sharing a max add up."""
    rng = np.random.default_rng(6 + nsp)
    tf = torch.nn.functional.fractional_max_pool2d if nsp == 2 else torch.nn.functional.fractional_max_pool3d
    f = F.fractional_max_pool2d if nsp == 2 else F.fractional_max_pool3d
    for dt in DTYPES:
        for trial in range(8):
            x, k, out, s = _fmp_case(rng, nsp, dt, batched=trial % 3 != 0, ties=trial % 2 == 0)
            go = rng.standard_normal(tf(_t(x), k, output_size=out, _random_samples=_t(s)).shape).astype(dt)
            xt = _t(x, True)
            tf(xt, k, output_size=out, _random_samples=_t(s)).backward(_t(go))
            xd = _d(x, True)
            f(xd, k, output_size=out, _random_samples=_d(s)).backward(_d(go))
            np.testing.assert_allclose(_np(xd.grad), xt.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_fractional_max_pool_gradcheck_and_double_backward():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 2, 7, 6))
    s = _d(rng.random((2, 2, 2)))
    gradcheck(lambda a: F.fractional_max_pool2d(a, 2, output_size=(4, 4), _random_samples=s), [_d(x, True)])
    x3 = rng.standard_normal((1, 2, 5, 5, 6))
    s3 = _d(rng.random((1, 2, 3)))
    gradcheck(lambda a: F.fractional_max_pool3d(a, (2, 2, 3), output_size=(3, 2, 3), _random_samples=s3),
              [_d(x3, True)])
    # double backward: d/d(grad_output) <v, d y/d x . grad_output> against torch
    go = rng.standard_normal((2, 2, 4, 4))
    v = rng.standard_normal(x.shape)
    xd, god = _d(x, True), _d(go, True)
    gx, = dlcore.autograd.grad(F.fractional_max_pool2d(xd, 2, output_size=(4, 4), _random_samples=s), xd, god,
                               create_graph=True)
    ggo, = dlcore.autograd.grad((gx * _d(v)).sum(), god)
    xt, got = _t(x, True), _t(go, True)
    gxt, = torch.autograd.grad(torch.nn.functional.fractional_max_pool2d(xt, 2, output_size=(4, 4),
                                                                        _random_samples=_t(_np(s))),
                               xt, got, create_graph=True)
    ggot, = torch.autograd.grad((gxt * _t(v)).sum(), got)
    np.testing.assert_allclose(_np(ggo), ggot.numpy(), rtol=1e-12, atol=1e-12)


def test_fractional_max_pool_empty():
    s = _d(np.random.default_rng(0).random((2, 3, 2)).astype(np.float32))
    y, i = F.fractional_max_pool2d(dlcore.zeros(0, 3, 5, 5), 2, output_size=(3, 3), return_indices=True)
    assert tuple(y.shape) == (0, 3, 3, 3) and tuple(i.shape) == (0, 3, 3, 3)
    y = F.fractional_max_pool2d(dlcore.randn(2, 3, 5, 5), 2, output_size=(0, 3), _random_samples=s)
    assert tuple(y.shape) == tuple(torch.nn.functional.fractional_max_pool2d(
        torch.randn(2, 3, 5, 5), 2, output_size=(0, 3)).shape)


def test_fractional_max_pool_errors():
    x = dlcore.randn(2, 3, 7, 6)
    cases = [
        (lambda: F.fractional_max_pool2d(x, 2), ValueError, "output_size or an output_ratio"),
        (lambda: F.fractional_max_pool2d(x, 3, output_size=(6, 4)), RuntimeError, "pool height 3 too large"),
        (lambda: F.fractional_max_pool3d(dlcore.randn(1, 1, 5, 6, 7), 1, output_size=(5, 6, 7)), RuntimeError,
         "too large"),
        (lambda: F.fractional_max_pool2d(x[0, 0], 2, output_size=2), RuntimeError, "Expected 3D or 4D"),
        (lambda: F.fractional_max_pool2d(dlcore.randn(2, 0, 5, 5), 2, output_size=2), RuntimeError, "non-zero"),
        (lambda: F.fractional_max_pool2d(x, (2, 2, 2), output_size=2), RuntimeError, "kernel_size"),
        (lambda: F.fractional_max_pool2d(x, 0, output_size=2), ValueError, "kernel_size"),
        (lambda: F.fractional_max_pool2d(x.long(), 2, output_size=2), TypeError, "float32 or float64"),
        (lambda: F.fractional_max_pool2d(x, 2, output_size=2, _random_samples=dlcore.rand(2, 3, 2).double()),
         RuntimeError, "same dtype"),
        (lambda: F.fractional_max_pool2d(x, 2, output_size=2, _random_samples=dlcore.rand(1, 3, 2)), RuntimeError,
         "size(0)"),
        (lambda: F.fractional_max_pool2d(x, 2, output_size=2, _random_samples=dlcore.rand(2, 4, 2)), RuntimeError,
         "size(1)"),
        (lambda: F.fractional_max_pool2d(x, 2, output_size=2, _random_samples=dlcore.rand(2, 3, 3)), RuntimeError,
         "size(2)"),
        (lambda: F.fractional_max_pool2d(x, 2, output_size=2, _random_samples=dlcore.rand(2, 3)), RuntimeError,
         "3 dimensions"),
        (lambda: F.fractional_max_pool2d(x, 2, output_size=2, _random_samples=dlcore.full((2, 3, 2), float("nan"))),
         RuntimeError, "finite"),
        (lambda: F.fractional_max_pool2d("x", 2, output_size=2), TypeError, "Tensor"),
    ]
    for fn, exc, text in cases:
        with pytest.raises(exc, match=None) as info:
            fn()
        assert text in str(info.value), str(info.value)


# ============================================================================================ CrossMapLRN2d

def _torch_cross_map_ref(x, size, alpha, beta, k):
    """torch's legacy running-sum forward written with differentiable torch ops (float64)."""
    c = x.shape[1]
    sq = x * x
    pre_pad = int((size - 1) / 2 + 1)
    scales = [sum(sq[:, j] for j in range(min(pre_pad, c)))]
    for ch in range(1, c):
        cur = scales[-1]
        if ch < c - pre_pad + 1:
            cur = cur + sq[:, ch + pre_pad - 1]
        if ch > pre_pad:
            cur = cur - sq[:, ch - pre_pad]
        scales.append(cur)
    scale = torch.stack(scales, 1) * (alpha / size) + k
    return x * scale ** (-beta)


@pytest.mark.parametrize("dt", DTYPES)
def test_cross_map_lrn2d_forward_vs_torch(dt):
    rng = np.random.default_rng(11)
    for c, size in [(7, 3), (8, 5), (3, 5), (6, 4), (9, 2), (5, 1), (1, 3), (17, 5)]:
        x = rng.standard_normal((2, c, 3, 4)).astype(dt)
        ref = torch.nn.CrossMapLRN2d(size, alpha=0.5, beta=0.75, k=1.5)(_t(x))
        y = nn.CrossMapLRN2d(size, alpha=0.5, beta=0.75, k=1.5)(_d(x))
        tol = 2e-6 if dt == np.float32 else 1e-13
        np.testing.assert_allclose(_np(y), ref.detach().numpy(), rtol=tol, atol=tol)
    x = rng.standard_normal((2, 5, 3, 3)).astype(dt)  # defaults
    np.testing.assert_allclose(_np(nn.CrossMapLRN2d(3)(_d(x))), torch.nn.CrossMapLRN2d(3)(_t(x)).detach().numpy(),
                               rtol=1e-6, atol=1e-6)
    assert repr(nn.CrossMapLRN2d(3)) == repr(torch.nn.CrossMapLRN2d(3))


def test_cross_map_lrn2d_gradients():
    """The true gradient of torch's forward (autograd through the running-sum reference, finite differences); torch's
    own hand-written backward is not that derivative (it fails torch's gradcheck), so it is not the reference."""
    rng = np.random.default_rng(12)
    for c, size in [(7, 3), (6, 4), (3, 5)]:
        x = rng.standard_normal((2, c, 2, 3))
        go = rng.standard_normal(x.shape)
        xt = _t(x, True)
        _torch_cross_map_ref(xt, size, 0.5, 0.75, 1.0).backward(_t(go))
        xd = _d(x, True)
        nn.CrossMapLRN2d(size, 0.5, 0.75, 1.0)(xd).backward(_d(go))
        np.testing.assert_allclose(_np(xd.grad), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    m = nn.CrossMapLRN2d(3, 0.3, 0.6, 2.0)
    gradcheck(m, [_d(rng.standard_normal((1, 5, 2, 2)), True)])
    # double backward vs torch through the reference
    x = rng.standard_normal((1, 4, 2, 2))
    xd, xt = _d(x, True), _t(x, True)
    g, = dlcore.autograd.grad(m(xd).sum(), xd, create_graph=True)
    gg, = dlcore.autograd.grad((g * g).sum(), xd)
    gt, = torch.autograd.grad(_torch_cross_map_ref(xt, 3, 0.3, 0.6, 2.0).sum(), xt, create_graph=True)
    ggt, = torch.autograd.grad((gt * gt).sum(), xt)
    np.testing.assert_allclose(_np(gg), ggt.numpy(), rtol=1e-10, atol=1e-12)


def test_cross_map_lrn2d_errors():
    with pytest.raises(ValueError, match="Expected input to be 4D, got 3D"):
        nn.CrossMapLRN2d(3)(dlcore.randn(2, 3, 4))
    with pytest.raises(ValueError, match="Expected input to be 4D"):
        torch.nn.CrossMapLRN2d(3)(torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match="size"):
        nn.CrossMapLRN2d(0)(dlcore.randn(1, 3, 2, 2))


# ============================================================================================ SyncBatchNorm

@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 3, 4, 5), (2, 3, 2, 3, 4)])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_sync_batch_norm_single_process_vs_torch(shape, momentum):
    rng = np.random.default_rng(13)
    m = nn.SyncBatchNorm(3, momentum=momentum)
    mt = torch.nn.SyncBatchNorm(3, momentum=momentum)
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    with torch.no_grad():
        mt.weight.copy_(_t(w.astype(np.float32)))
        mt.bias.copy_(_t(b.astype(np.float32)))
    m.load_state_dict({k: _d(v.numpy()) for k, v in mt.state_dict().items()})
    for step in range(3):
        x = rng.standard_normal(shape).astype(np.float32) * 2 + 1
        xd, xt = _d(x, True), _t(x, True)
        y, yt = m(xd), mt(xt)
        np.testing.assert_allclose(_np(y), yt.detach().numpy(), rtol=1e-5, atol=1e-5)
        go = rng.standard_normal(shape).astype(np.float32)
        y.backward(_d(go))
        yt.backward(_t(go))
        np.testing.assert_allclose(_np(xd.grad), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(_np(m.weight.grad), mt.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(_np(getattr(m, name)), getattr(mt, name).numpy(), rtol=1e-5, atol=1e-6)
    assert int(m.num_batches_tracked.item()) == int(mt.num_batches_tracked.item()) == 3
    m.eval()
    mt.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(_np(m(_d(x))), mt(_t(x)).detach().numpy(), rtol=1e-5, atol=1e-5)
    assert repr(m) == repr(mt)


def test_sync_batch_norm_errors_and_options():
    with pytest.raises(ValueError, match="expected at least 2D input"):
        nn.SyncBatchNorm(3)(dlcore.randn(3))
    with pytest.raises(ValueError, match="non-zero"):
        nn.SyncBatchNorm(0)(dlcore.randn(2, 0, 3))
    m = nn.SyncBatchNorm(4, affine=False, track_running_stats=False, process_group="pg")
    assert m.weight is None and m.running_mean is None and m.process_group == "pg"
    x = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
    ref = torch.nn.SyncBatchNorm(4, affine=False, track_running_stats=False)(_t(x))
    np.testing.assert_allclose(_np(m(_d(x))), ref.numpy(), rtol=1e-5, atol=1e-5)
    m = nn.SyncBatchNorm(4, bias=False, dtype=dlcore.float64)
    assert m.bias is None and m.weight.dtype == dlcore.float64


def test_convert_sync_batchnorm():
    net = nn.Sequential(nn.Conv2d(1, 3, 1), nn.BatchNorm2d(3),
                        nn.Sequential(nn.BatchNorm1d(4, affine=False, track_running_stats=False), nn.ReLU()),
                        nn.BatchNorm3d(2, momentum=0.3, eps=1e-3, bias=False))
    net[1].eval()
    with dlcore.no_grad():
        net[1].running_mean.copy_(dlcore.tensor([1.0, 2.0, 3.0]))
    w1, rm1, nbt1 = net[1].weight, net[1].running_mean, net[1].num_batches_tracked
    out = nn.SyncBatchNorm.convert_sync_batchnorm(net, process_group="g")
    nett = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 1), torch.nn.BatchNorm2d(3),
                               torch.nn.Sequential(torch.nn.BatchNorm1d(4, affine=False, track_running_stats=False),
                                                   torch.nn.ReLU()),
                               torch.nn.BatchNorm3d(2, momentum=0.3, eps=1e-3, bias=False))
    nett[1].eval()
    outt = torch.nn.SyncBatchNorm.convert_sync_batchnorm(nett)
    assert out is net and repr(out) == repr(outt)
    assert isinstance(out[1], nn.SyncBatchNorm) and isinstance(out[2][0], nn.SyncBatchNorm)
    assert isinstance(out[3], nn.SyncBatchNorm) and isinstance(out[0], nn.Conv2d)
    assert out[1].weight is w1 and out[1].running_mean is rm1 and out[1].num_batches_tracked is nbt1
    assert out[1].training is False and out[3].training is True and out[1].process_group == "g"
    np.testing.assert_array_equal(_np(out[1].running_mean), [1.0, 2.0, 3.0])
    assert out[3].bias is None and out[3].eps == 1e-3 and out[3].momentum == 0.3
    assert sorted(dict(out.named_parameters())) == sorted(dict(outt.named_parameters()))
    assert sorted(dict(out.named_buffers())) == sorted(dict(outt.named_buffers()))
    # a bare BatchNorm comes back as a new SyncBatchNorm
    bn = nn.BatchNorm1d(5)
    sbn = nn.SyncBatchNorm.convert_sync_batchnorm(bn)
    assert type(sbn) is nn.SyncBatchNorm and sbn is not bn and sbn.weight is bn.weight


# ============================================================================================ deprecated aliases

def test_nllloss2d_and_container():
    rng = np.random.default_rng(14)
    x = rng.standard_normal((2, 4, 3, 3)).astype(np.float32)
    tgt = rng.integers(0, 4, (2, 3, 3))
    tgt[0, 0, 0] = 2
    w = rng.random(4).astype(np.float32)
    with pytest.warns(FutureWarning, match="NLLLoss2d"):
        m = nn.NLLLoss2d(weight=_d(w), ignore_index=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mt = torch.nn.NLLLoss2d(weight=_t(w), ignore_index=2)
    assert isinstance(m, nn.NLLLoss)
    np.testing.assert_allclose(_np(m(_d(x), dlcore.tensor(tgt))), mt(_t(x), torch.tensor(tgt)).numpy(), rtol=1e-5)
    with pytest.warns(FutureWarning, match="Container"):
        c = nn.Container(a=nn.Linear(2, 3), b=nn.ReLU())
    assert list(dict(c.named_children())) == ["a", "b"] and len(list(c.parameters())) == 2


# ============================================================================================ Adafactor / Muon

def _run_pair(tcls, dcls, kw, shapes, dt, steps=6, rng=None, groups=None):
    rng = rng or np.random.default_rng(0)
    kw = dict(kw)
    gscale = kw.pop("gscale", 1.0)
    init = [rng.standard_normal(s).astype(dt) for s in shapes]
    grads = [[(rng.standard_normal(s) * gscale).astype(dt) for s in shapes] for _ in range(steps)]
    tp = [_t(a, True) for a in init]
    dp = [_d(a, True) for a in init]
    if groups is None:
        ot, od = tcls(tp, **kw), dcls(dp, **kw)
    else:
        ot = tcls([dict(params=[tp[i] for i in g], **gk) for g, gk in groups], **kw)
        od = dcls([dict(params=[dp[i] for i in g], **gk) for g, gk in groups], **kw)
    for gs in grads:
        for p, g in zip(tp, gs):
            p.grad = _t(g)
        for p, g in zip(dp, gs):
            p.grad = _d(g)
        ot.step()
        od.step()
    return tp, dp, ot, od, init


ADAFACTOR = [dict(), dict(weight_decay=0.1), dict(maximize=True, lr=0.05), dict(eps=(1e-20, 1e-3), d=1.5,
                                                                                  beta2_decay=-0.5),
             dict(lr=0.5, eps=(1e-3, 0.1)),
             dict(eps=(0.5, 1e-3), gscale=0.65)]  # both eps1 clamps (row-mean and variance) active on some entries


@pytest.mark.parametrize("kw", ADAFACTOR)
@pytest.mark.parametrize("dt", DTYPES)
def test_adafactor_vs_torch(kw, dt):
    shapes = [(5,), (4, 6), (2, 3, 5), (2, 2, 3, 4), (), (1, 7)]
    tp, dp, ot, od, init = _run_pair(torch.optim.Adafactor, optim.Adafactor, kw, shapes, dt)
    tol = 1e-6 if dt == np.float32 else 1e-14
    for a, b, i in zip(tp, dp, init):
        assert not np.allclose(a.detach().numpy(), i)  # the parameters moved
        np.testing.assert_allclose(_np(b), a.detach().numpy(), rtol=tol, atol=tol)
    for a, b in zip(tp, dp):
        st, sd = ot.state[a], od.state[b]
        assert int(st["step"].item()) == int(sd["step"]) == 6
        for key in ("row_var", "col_var", "variance"):
            assert (key in st) == (key in sd)
            if key in st:
                np.testing.assert_allclose(_np(sd[key]), st[key].numpy(), rtol=tol * 10, atol=tol)


def test_adafactor_groups_state_dict_and_errors():
    rng = np.random.default_rng(15)
    groups = [([0, 1], dict(lr=0.02)), ([2], dict(lr=0.005, weight_decay=0.2))]
    tp, dp, ot, od, _ = _run_pair(torch.optim.Adafactor, optim.Adafactor, {}, [(3, 4), (6,), (2, 3, 3)],
                                  np.float64, steps=4, rng=rng, groups=groups)
    for a, b in zip(tp, dp):
        np.testing.assert_allclose(_np(b), a.detach().numpy(), rtol=1e-13, atol=1e-14)
    # round trip: a fresh optimizer loaded from the state dict continues exactly as the original
    sd = copy.deepcopy(od.state_dict())
    clones = [_d(_np(p), True) for p in dp]
    od2 = optim.Adafactor([dict(params=[clones[0], clones[1]], lr=0.02), dict(params=[clones[2]], lr=0.005,
                                                                              weight_decay=0.2)])
    od2.load_state_dict(sd)
    # torch's state dict loads too (its step is a tensor)
    od3 = optim.Adafactor([dict(params=[_d(_np(p), True) for p in dp[:2]]), dict(params=[_d(_np(dp[2]), True)])])
    od3.load_state_dict(ot.state_dict())
    assert od3.param_groups[1]["weight_decay"] == 0.2 and int(od3.state[od3.param_groups[0]["params"][0]]["step"]) == 4
    for _ in range(2):
        gs = [rng.standard_normal(p.shape) for p in dp]
        for p, q, r, g in zip(dp, clones, od3.param_groups[0]["params"] + od3.param_groups[1]["params"], gs):
            p.grad, q.grad, r.grad = _d(g), _d(g), _d(g)
        od.step()
        od2.step()
        od3.step()
    for p, q, r in zip(dp, clones, od3.param_groups[0]["params"] + od3.param_groups[1]["params"]):
        np.testing.assert_array_equal(_np(p), _np(q))
        np.testing.assert_allclose(_np(r), _np(p), rtol=1e-13, atol=1e-14)
    # closure
    w = _d(np.ones((2, 2)), True)
    o = optim.Adafactor([w])
    loss = o.step(lambda: (w * w).sum().backward() or (w * w).sum())
    assert float(loss.item()) == 4.0
    p = [_d(np.ones(2), True)]
    for bad, text in [(dict(lr=-1.0), "Learning rate"), (dict(beta2_decay=0.5), "beta2_decay"),
                      (dict(eps=(-1.0, 1e-3)), "epsilon1"), (dict(eps=(None, -1.0)), "epsilon2"),
                      (dict(d=0.5), "Clipping threshold"), (dict(weight_decay=-1.0), "weight_decay")]:
        with pytest.raises(ValueError, match=text):
            optim.Adafactor(p, **bad)
        with pytest.raises(ValueError, match=text):
            torch.optim.Adafactor([torch.ones(2, requires_grad=True)], **bad)


MUON = [dict(), dict(nesterov=False, lr=0.02), dict(adjust_lr_fn="match_rms_adamw", weight_decay=0.0),
        dict(ns_steps=3, momentum=0.5, lr=0.1, adjust_lr_fn="original"), dict(ns_coefficients=(2.0, -1.5, 0.5),
                                                                              eps=1e-3)]


@pytest.mark.parametrize("kw", MUON)
@pytest.mark.parametrize("dt", DTYPES)
def test_muon_vs_torch(kw, dt):
    """torch's bfloat16 Newton-Schulz reproduced: float32 parameters equal torch's bit for bit here, float64 to a
    few ulps."""
    shapes = [(5, 7), (8, 3), (4, 4), (1, 6)]
    tp, dp, ot, od, init = _run_pair(torch.optim.Muon, optim.Muon, kw, shapes, dt,
                                     rng=np.random.default_rng(16))
    for a, b, i in zip(tp, dp, init):
        moved = np.abs(a.detach().numpy() - i).max()
        assert moved > 1e-4
        # the bound is far below one bfloat16 ulp of the update (2^-8 relative), so a deviating rounding fails it
        np.testing.assert_allclose(_np(b), a.detach().numpy(), rtol=0, atol=1e-6 * moved)
    for a, b in zip(tp, dp):
        np.testing.assert_allclose(_np(od.state[b]["momentum_buffer"]), ot.state[a]["momentum_buffer"].numpy(),
                                   rtol=1e-6, atol=1e-7)


def test_muon_state_dict_and_errors():
    rng = np.random.default_rng(17)
    tp, dp, ot, od, _ = _run_pair(torch.optim.Muon, optim.Muon, dict(lr=0.02), [(4, 6)], np.float32, steps=3,
                                  rng=rng)
    q = _d(_np(dp[0]), True)
    od2 = optim.Muon([q], lr=0.02)
    od2.load_state_dict(copy.deepcopy(od.state_dict()))
    g = rng.standard_normal((4, 6)).astype(np.float32)
    dp[0].grad, q.grad, tp[0].grad = _d(g), _d(g), _t(g)
    od.step()
    od2.step()
    ot.step()
    np.testing.assert_array_equal(_np(q), _np(dp[0]))
    np.testing.assert_allclose(_np(q), tp[0].detach().numpy(), rtol=0, atol=1e-7)
    for bad_shape in [(3,), (2, 3, 4)]:
        with pytest.raises(ValueError, match="Muon only supports 2D parameters"):
            optim.Muon([_d(np.ones(bad_shape), True)])
    p = [_d(np.ones((2, 2)), True)]
    for bad, text in [(dict(lr=-1.0), "Learning rate"), (dict(momentum=-0.1), "momentum"),
                      (dict(weight_decay=-1.0), "weight decay"), (dict(adjust_lr_fn="nope"), "not supported")]:
        with pytest.raises(ValueError, match=text):
            optim.Muon(p, **bad)
    o = optim.Muon(p, ns_steps=100)
    p[0].grad = _d(np.ones((2, 2)))
    with pytest.raises(ValueError, match="less than 100"):
        o.step()
