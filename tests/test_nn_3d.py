"""The volumetric (NCDHW) family: conv3d / conv_transpose3d (functional and modules, padding modes, lazy forms),
max/avg/lp/adaptive 3-D pooling (values, torch's flat D*H*W indices, gradients), BatchNorm3d, InstanceNorm3d and
the 3-D padding layers, against torch CPU (copied weights; outputs and gradients of input, weight and bias) in
float32 and float64, a float64 finite-difference check of the convolutions, and the bad-input catalogue."""
import numpy as np
import pytest

import dlcore
import dlcore.functional as F
import dlcore.nn as nn
from conftest import requires_torch
from dlcore.testing import assert_close, gradcheck

torch = pytest.importorskip("torch")
torch.set_num_threads(1)
TF = torch.nn.functional
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # torch warns of padding="same" with even kernels

TOL = {"float32": dict(rtol=2e-5, atol=2e-5), "float64": dict(rtol=1e-10, atol=1e-10)}


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "cpu") and not isinstance(t, dlcore.Tensor) else \
        np.asarray(dlcore.Tensor.numpy(t.detach().to("cpu")))


def _pair(rng, shape, dtype, device, grad=True, ints=False):
    """A (dlcore, torch) pair of tensors with the same data; ints draws small integers (forces max ties)."""
    a = rng.integers(-2, 3, size=shape) if ints else rng.standard_normal(shape)
    a = a.astype(dtype)
    d = dlcore.tensor(a, device=device)
    t = torch.tensor(a)
    if grad:
        d.requires_grad_(True)
        t.requires_grad_(True)
    return d, t


def _check(dy, ty, dtype, what, grads=(), rng=None):
    """Compares outputs, then backprops the same random output gradient through both and compares the gradients of
    the (dlcore, torch) pairs in grads."""
    tol = TOL[dtype]
    assert list(dy.shape) == list(ty.shape), f"{what}: shape {list(dy.shape)} vs torch {list(ty.shape)}"
    assert_close(dy, ty.detach().numpy(), msg=what, **tol)
    if grads:
        go = rng.standard_normal(tuple(ty.shape)).astype(dtype)
        ty.backward(torch.tensor(go))
        dy.backward(dlcore.tensor(go, device=dy.device))
        for i, (d, t) in enumerate(grads):
            assert d.grad is not None, f"{what}: no gradient for operand {i}"
            assert_close(d.grad, t.grad.numpy(), msg=f"{what} grad {i}", **tol)


# ------------------------------------------------------------------------------------------------- conv3d

CONV_CASES = [
    # N, C, K, (D, H, W), kernel, stride, padding, dilation, groups
    (2, 4, 6, (5, 6, 7), (3, 2, 3), 1, 1, 1, 2),
    (1, 3, 2, (7, 5, 6), (2, 3, 2), (2, 1, 3), (1, 0, 2), (2, 1, 1), 1),
    (2, 2, 4, (4, 4, 5), 3, 1, "same", (2, 1, 1), 2),
    (1, 2, 3, (5, 4, 3), (2, 2, 1), 1, "same", 1, 1),    # even kernel: the extra padding at the end
    (1, 3, 3, (6, 5, 5), 2, 3, 0, 1, 3),                 # stride > kernel, depthwise
    (2, 2, 2, (3, 3, 3), 1, 1, "valid", 1, 1),
]


@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_conv3d_vs_torch(case, device, float_dtype, rng):
    n, c, k, sp, ks, st, pad, dil, g = CONV_CASES[case]
    ks3 = (ks,) * 3 if isinstance(ks, int) else ks
    dx, tx = _pair(rng, (n, c) + sp, float_dtype, device)
    dw, tw = _pair(rng, (k, c // g) + ks3, float_dtype, device)
    db, tb = _pair(rng, (k,), float_dtype, device)
    ty = TF.conv3d(tx, tw, tb, st, pad, dil, g)
    dy = F.conv3d(dx, dw, db, st, pad, dil, g)
    _check(dy, ty, float_dtype, f"conv3d case {case}", [(dx, tx), (dw, tw), (db, tb)], rng)


def test_conv3d_noncontiguous_unbatched_nobias(device, float_dtype, rng):
    a = rng.standard_normal((3, 2, 6, 5, 4)).astype(float_dtype)      # permuted below to [2, 3, 4, 5, 6]
    w = rng.standard_normal((4, 3, 2, 3, 2)).astype(float_dtype)
    dx = dlcore.tensor(a, device=device).permute(1, 0, 4, 3, 2)
    tx = torch.tensor(a).permute(1, 0, 4, 3, 2)
    assert not dx.is_contiguous()
    dw, tw = _pair(rng, w.shape, float_dtype, device)
    dy = F.conv3d(dx, dw, None, 1, (1, 0, 1))
    ty = TF.conv3d(tx, tw, None, 1, (1, 0, 1))
    _check(dy, ty, float_dtype, "conv3d non-contiguous", [(dw, tw)], rng)
    # unbatched [C, D, H, W] input, stepped (non-contiguous) view
    du, tu = _pair(rng, (3, 7, 5, 6), float_dtype, device)
    dy = F.conv3d(du[:, ::2], dw, None, (1, 2, 1), 1)
    ty = TF.conv3d(tu[:, ::2], tw, None, (1, 2, 1), 1)
    _check(dy, ty, float_dtype, "conv3d unbatched", [(du, tu), (dw, tw)], rng)


def test_conv3d_no_grad_path(device, rng):
    dx, tx = _pair(rng, (2, 3, 4, 5, 4), "float32", device, grad=False)
    dw, tw = _pair(rng, (4, 3, 2, 2, 2), "float32", device, grad=False)
    dy = F.conv3d(dx, dw, None, 2, 1)
    assert dy.grad_fn is None and not dy.requires_grad
    assert_close(dy, TF.conv3d(tx, tw, None, 2, 1).numpy(), **TOL["float32"])


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv3d_module_padding_modes(mode, device, float_dtype, rng):
    torch.manual_seed(0)
    for pad, ks in ((1, (3, 2, 3)), ((2, 1, 0), 3), ("same", (2, 3, 2))):
        t = torch.nn.Conv3d(2, 4, ks, padding=pad, padding_mode=mode, groups=2).to(getattr(torch, float_dtype))
        d = nn.Conv3d(2, 4, ks, padding=pad, padding_mode=mode, groups=2, dtype=getattr(dlcore, float_dtype))
        d.load_state_dict({k: dlcore.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
        d.to(device)
        dx, tx = _pair(rng, (2, 2, 4, 5, 4), float_dtype, device)
        _check(d(dx), t(tx), float_dtype, f"Conv3d {mode} {pad}",
               [(dx, tx), (d.weight, t.weight), (d.bias, t.bias)], rng)
        assert repr(d) == repr(t)


def test_conv3d_gradcheck():
    rng = np.random.default_rng(3)
    x = dlcore.tensor(rng.standard_normal((1, 2, 4, 3, 4)), requires_grad=True)
    w = dlcore.tensor(rng.standard_normal((2, 1, 2, 2, 3)), requires_grad=True)
    b = dlcore.tensor(rng.standard_normal((2,)), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv3d(x, w, b, (2, 1, 1), (1, 0, 1), (1, 2, 1), 2), [x, w, b])
    wt = dlcore.tensor(rng.standard_normal((2, 2, 2, 2, 3)), requires_grad=True)
    bt = dlcore.tensor(rng.standard_normal((4,)), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv_transpose3d(x, w, b, (2, 1, 2), (1, 0, 1), (1, 0, 1), 2, (1, 2, 1)),
                     [x, wt, bt])


# ------------------------------------------------------------------------------------------------- conv_transpose3d

CONVT_CASES = [
    # N, C_in, C_out, (D, H, W), kernel, stride, padding, output_padding, groups, dilation
    (2, 4, 6, (3, 4, 3), (3, 2, 3), 2, 1, 1, 2, 1),
    (1, 3, 3, (4, 3, 3), (2, 3, 2), (2, 1, 3), (1, 0, 2), (1, 0, 2), 1, 1),
    (1, 2, 2, (3, 3, 2), 2, 1, 0, 1, 1, 2),                # output_padding >= stride (< dilation)
    (2, 2, 4, (2, 3, 3), (1, 2, 2), (3, 2, 1), 0, (2, 1, 0), 2, 1),
]


@pytest.mark.parametrize("case", range(len(CONVT_CASES)))
def test_conv_transpose3d_vs_torch(case, device, float_dtype, rng):
    n, ci, co, sp, ks, st, pad, opad, g, dil = CONVT_CASES[case]
    ks3 = (ks,) * 3 if isinstance(ks, int) else ks
    dx, tx = _pair(rng, (n, ci) + sp, float_dtype, device)
    dw, tw = _pair(rng, (ci, co // g) + ks3, float_dtype, device)
    db, tb = _pair(rng, (co,), float_dtype, device)
    ty = TF.conv_transpose3d(tx, tw, tb, st, pad, opad, g, dil)
    dy = F.conv_transpose3d(dx, dw, db, st, pad, opad, g, dil)
    _check(dy, ty, float_dtype, f"conv_transpose3d case {case}", [(dx, tx), (dw, tw), (db, tb)], rng)


def test_conv_transpose3d_module_output_size_unbatched(device, float_dtype, rng):
    torch.manual_seed(1)
    t = torch.nn.ConvTranspose3d(3, 2, (2, 3, 2), stride=(2, 2, 3), padding=(0, 1, 1)).to(getattr(torch, float_dtype))
    d = nn.ConvTranspose3d(3, 2, (2, 3, 2), stride=(2, 2, 3), padding=(0, 1, 1), dtype=getattr(dlcore, float_dtype))
    d.load_state_dict({k: dlcore.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    d.to(device)
    dx, tx = _pair(rng, (3, 3, 2, 3), float_dtype, device)   # unbatched
    _check(d(dx, output_size=[7, 4, 8]), t(tx, output_size=[7, 4, 8]), float_dtype, "ConvTranspose3d output_size",
           [(dx, tx), (d.weight, t.weight), (d.bias, t.bias)], rng)
    assert repr(d) == repr(t)
    with pytest.raises(ValueError, match="output size"):
        d(dx, output_size=[9, 4, 8])


# ------------------------------------------------------------------------------------------------- pooling

MAXPOOL_CASES = [
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(2, 3, 2), stride=(3, 1, 2), padding=(1, 1, 0), dilation=(2, 1, 2), ceil_mode=True),
    dict(kernel_size=2, stride=3, ceil_mode=True),                      # stride > kernel
    dict(kernel_size=(1, 2, 3), stride=1, dilation=(1, 2, 1)),
]


@pytest.mark.parametrize("case", range(len(MAXPOOL_CASES)))
def test_max_pool3d_vs_torch(case, device, float_dtype, rng):
    args = MAXPOOL_CASES[case]
    dx, tx = _pair(rng, (2, 3, 7, 6, 5), float_dtype, device, ints=True)   # many ties: the first max wins
    ty, ti = TF.max_pool3d(tx, return_indices=True, **args)
    dy, di = F.max_pool3d(dx, return_indices=True, **args)
    assert di.dtype == dlcore.int64
    np.testing.assert_array_equal(_np(di), ti.numpy())
    _check(dy, ty, float_dtype, f"max_pool3d case {case}", [(dx, tx)], rng)
    # the module, without indices, and max_unpool3d taking the indices back
    m = nn.MaxPool3d(**args)
    assert_close(m(dx), ty.detach().numpy(), **TOL[float_dtype])
    if not args.get("dilation") and not args.get("ceil_mode"):
        k, s, p = args["kernel_size"], args.get("stride"), args.get("padding", 0)
        un = F.max_unpool3d(dy.detach(), di, k, s, p, output_size=list(tx.shape[2:]))
        assert_close(un, TF.max_unpool3d(ty.detach(), ti, k, s, p, output_size=list(tx.shape[2:])).numpy())


def test_max_pool3d_noncontiguous_unbatched(device, rng):
    a = rng.standard_normal((5, 6, 3, 4)).astype("float32")
    dx = dlcore.tensor(a, device=device).permute(2, 3, 0, 1)     # [3, 4, 5, 6] unbatched, non-contiguous
    tx = torch.tensor(a).permute(2, 3, 0, 1)
    dx.requires_grad_(True)
    tx.requires_grad_(True)
    ty, ti = TF.max_pool3d(tx, 2, 1, 1, return_indices=True)
    dy, di = F.max_pool3d(dx, 2, 1, 1, return_indices=True)
    np.testing.assert_array_equal(_np(di), ti.numpy())
    _check(dy, ty, "float32", "max_pool3d unbatched", [(dx, tx)], rng)


def test_max_pool3d_nan_like_torch(device, rng):
    """A NaN wins its window (torch CPU: the last NaN in (d, h, w) scan order gives the index)."""
    a = rng.integers(-2, 3, size=(2, 2, 5, 6, 5)).astype("float32")
    a[rng.random(a.shape) < 0.15] = np.nan
    ty, ti = TF.max_pool3d(torch.tensor(a), (2, 3, 2), (1, 2, 1), (1, 1, 0), return_indices=True)
    dy, di = F.max_pool3d(dlcore.tensor(a, device=device), (2, 3, 2), (1, 2, 1), (1, 1, 0), return_indices=True)
    np.testing.assert_array_equal(_np(di), ti.numpy())
    assert_close(dy, ty.numpy(), equal_nan=True)


AVGPOOL_CASES = [
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(2, 3, 2), stride=(3, 1, 2), padding=(1, 1, 0), ceil_mode=True, count_include_pad=False),
    dict(kernel_size=(2, 3, 2), stride=(3, 1, 2), padding=(1, 1, 0), ceil_mode=True, count_include_pad=True),
    dict(kernel_size=2, stride=3, ceil_mode=True, divisor_override=3),
    dict(kernel_size=(3, 1, 2), stride=(1, 2, 1), padding=(1, 0, 1), count_include_pad=False),
]


@pytest.mark.parametrize("case", range(len(AVGPOOL_CASES)))
def test_avg_pool3d_vs_torch(case, device, float_dtype, rng):
    args = AVGPOOL_CASES[case]
    dx, tx = _pair(rng, (2, 3, 7, 6, 5), float_dtype, device)
    _check(F.avg_pool3d(dx, **args), TF.avg_pool3d(tx, **args), float_dtype, f"avg_pool3d case {case}", [(dx, tx)],
           rng)
    assert_close(nn.AvgPool3d(**args)(dx), TF.avg_pool3d(tx, **args).detach().numpy(), **TOL[float_dtype])


@pytest.mark.parametrize("p", [2.0, 1.5])
def test_lp_pool3d_vs_torch(p, device, float_dtype, rng):
    dx, tx = _pair(rng, (2, 2, 5, 6, 5), float_dtype, device)
    if p != 2.0:  # fractional powers of negatives are NaN in both; keep the data positive
        dx, tx = dx.detach().abs().requires_grad_(True), tx.detach().abs().requires_grad_(True)
    _check(F.lp_pool3d(dx, p, (2, 3, 2), (1, 2, 2), True), TF.lp_pool3d(tx, p, (2, 3, 2), (1, 2, 2), True),
           float_dtype, "lp_pool3d", [(dx, tx)], rng)
    assert_close(nn.LPPool3d(p, 2)(dx), torch.nn.LPPool3d(p, 2)(tx).detach().numpy(), **TOL[float_dtype])


@pytest.mark.parametrize("osize", [(3, 2, 4), (2, None, 3), 1, (4, 6, 5)])
def test_adaptive_pool3d_vs_torch(osize, device, float_dtype, rng):
    dx, tx = _pair(rng, (2, 3, 7, 6, 5), float_dtype, device)
    _check(F.adaptive_avg_pool3d(dx, osize), TF.adaptive_avg_pool3d(tx, osize), float_dtype, "adaptive_avg_pool3d",
           [(dx, tx)], rng)
    dx, tx = _pair(rng, (2, 3, 7, 6, 5), float_dtype, device, ints=True)
    ty, ti = TF.adaptive_max_pool3d(tx, osize, True)
    dy, di = F.adaptive_max_pool3d(dx, osize, True)
    np.testing.assert_array_equal(_np(di), ti.numpy())
    _check(dy, ty, float_dtype, "adaptive_max_pool3d", [(dx, tx)], rng)
    assert_close(nn.AdaptiveMaxPool3d(osize)(dx), ty.detach().numpy(), **TOL[float_dtype])
    assert_close(nn.AdaptiveAvgPool3d(osize)(dx), TF.adaptive_avg_pool3d(tx, osize).detach().numpy(),
                 **TOL[float_dtype])


# ------------------------------------------------------------------------------------------------- norms and pads

def test_batchnorm3d_vs_torch(device, float_dtype, rng):
    t = torch.nn.BatchNorm3d(3, momentum=0.3).to(getattr(torch, float_dtype))
    d = nn.BatchNorm3d(3, momentum=0.3, dtype=getattr(dlcore, float_dtype)).to(device)
    with torch.no_grad():
        t.weight.copy_(torch.tensor(rng.standard_normal(3)))
        t.bias.copy_(torch.tensor(rng.standard_normal(3)))
    d.load_state_dict({k: dlcore.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    d.to(device)
    for _ in range(2):
        dx, tx = _pair(rng, (2, 3, 3, 4, 5), float_dtype, device)
        _check(d(dx), t(tx), float_dtype, "BatchNorm3d train", [(dx, tx), (d.weight, t.weight), (d.bias, t.bias)],
               rng)
    for k in ("running_mean", "running_var", "num_batches_tracked"):
        assert_close(getattr(d, k), getattr(t, k).numpy(), msg=k, **TOL[float_dtype])
    d.eval()
    t.eval()
    dx, tx = _pair(rng, (2, 3, 3, 4, 5), float_dtype, device)
    _check(d(dx), t(tx), float_dtype, "BatchNorm3d eval", [(dx, tx)], rng)
    with pytest.raises(ValueError, match="5D"):
        d(dlcore.zeros(2, 3, 4, 5, device=device, dtype=getattr(dlcore, float_dtype)))


@pytest.mark.parametrize("affine,track", [(False, False), (True, True)])
def test_instancenorm3d_vs_torch(affine, track, device, float_dtype, rng):
    t = torch.nn.InstanceNorm3d(3, affine=affine, track_running_stats=track).to(getattr(torch, float_dtype))
    d = nn.InstanceNorm3d(3, affine=affine, track_running_stats=track, dtype=getattr(dlcore, float_dtype))
    d.to(device)
    dx, tx = _pair(rng, (2, 3, 3, 4, 5), float_dtype, device)
    grads = [(dx, tx)] + ([(d.weight, t.weight), (d.bias, t.bias)] if affine else [])
    _check(d(dx), t(tx), float_dtype, "InstanceNorm3d", grads, rng)
    du, tu = _pair(rng, (3, 2, 4, 3), float_dtype, device)        # unbatched
    _check(d(du), t(tu), float_dtype, "InstanceNorm3d unbatched", [(du, tu)], rng)
    if track:
        assert_close(d.running_mean, t.running_mean.numpy(), **TOL[float_dtype])
        assert_close(d.running_var, t.running_var.numpy(), **TOL[float_dtype])


@pytest.mark.parametrize("name,args", [("ConstantPad3d", ((1, 2, 0, 1, 2, 1), 1.5)), ("ZeroPad3d", (1,)),
                                       ("ReflectionPad3d", ((1, 2, 0, 1, 2, 1),)), ("ReplicationPad3d", (2,)),
                                       ("CircularPad3d", ((1, 2, 0, 1, 2, 1),))])
def test_pad3d_modules_vs_torch(name, args, device, float_dtype, rng):
    d, t = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    dx, tx = _pair(rng, (2, 2, 3, 4, 5), float_dtype, device)
    _check(d(dx), t(tx), float_dtype, name, [(dx, tx)], rng)
    du, tu = _pair(rng, (2, 3, 4, 5), float_dtype, device)           # unbatched
    _check(d(du), t(tu), float_dtype, name + " unbatched", [(du, tu)], rng)


# ------------------------------------------------------------------------------------------------- lazy modules

def test_lazy_3d_modules(device, rng):
    x = dlcore.tensor(rng.standard_normal((2, 3, 4, 5, 4)).astype("float32"), device=device)
    for lazy, cls, wshape in ((nn.LazyConv3d(4, (2, 3, 2), padding=1), nn.Conv3d, [4, 3, 2, 3, 2]),
                              (nn.LazyConvTranspose3d(4, 2, stride=2), nn.ConvTranspose3d, [3, 4, 2, 2, 2]),
                              (nn.LazyBatchNorm3d(), nn.BatchNorm3d, [3]),
                              (nn.LazyInstanceNorm3d(), nn.InstanceNorm3d, [3])):
        lazy.to(device)
        y = lazy(x)
        assert type(lazy) is cls
        assert list(lazy.weight.shape) == wshape
        y.sum().backward()
        assert lazy.weight.grad is not None and list(lazy.weight.grad.shape) == wshape
    with pytest.raises(RuntimeError, match="5D"):
        nn.LazyConv3d(4, 2)(dlcore.zeros(3, 4, 5))


# ------------------------------------------------------------------------------------------------- errors

def test_errors():
    x = dlcore.zeros(1, 2, 3, 4, 4)
    w = dlcore.zeros(3, 2, 2, 2, 2)
    with pytest.raises(ValueError, match=r"conv3d.*4-D \(unbatched\) or 5-D.*\[2, 3, 4\]"):
        F.conv3d(dlcore.zeros(2, 3, 4), w)
    with pytest.raises(ValueError, match=r"conv3d.*5-D weight.*\[3, 2, 2, 2\]"):
        F.conv3d(x, dlcore.zeros(3, 2, 2, 2))
    with pytest.raises(ValueError, match=r"conv3d.*2 channels.*\[3, 4, 2, 2, 2\]"):
        F.conv3d(x, dlcore.zeros(3, 4, 2, 2, 2))
    with pytest.raises(ValueError, match=r"conv3d.*\(3, 4, 4\).*\(4, 2, 2\).*kernel size can't be greater"):
        F.conv3d(x, dlcore.zeros(3, 2, 4, 2, 2))
    with pytest.raises(ValueError, match=r"conv3d.*divisible by groups"):
        F.conv3d(x, dlcore.zeros(3, 1, 2, 2, 2), groups=2)
    with pytest.raises(ValueError, match=r"conv3d.*bias.*3 elements"):
        F.conv3d(x, w, dlcore.zeros(2))
    with pytest.raises(TypeError, match=r"conv3d.*weight dtype float64.*float32"):
        F.conv3d(x, dlcore.zeros(3, 2, 2, 2, 2, dtype=dlcore.float64))
    with pytest.raises(ValueError, match=r"conv3d.*'same' is not supported for strided"):
        F.conv3d(x, w, padding="same", stride=2)
    with pytest.raises(ValueError, match=r"conv3d.*invalid padding string"):
        F.conv3d(x, w, padding="full")
    with pytest.raises(ValueError, match=r"conv3d.*stride.*3 ints"):
        F.conv3d(x, w, stride=(1, 2))
    with pytest.raises(TypeError, match=r"conv3d.*'input' must be a Tensor"):
        F.conv3d(np.zeros((1, 2, 3, 4, 4)), w)
    with pytest.raises(ValueError, match=r"conv_transpose3d.*2 channels.*expects 3"):
        F.conv_transpose3d(x, dlcore.zeros(3, 2, 2, 2, 2))
    with pytest.raises(ValueError, match=r"conv_transpose3d.*output padding must be smaller"):
        F.conv_transpose3d(x, dlcore.zeros(2, 2, 2, 2, 2), stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"conv_transpose3d.*too small"):
        F.conv_transpose3d(dlcore.zeros(1, 2, 1, 1, 1), dlcore.zeros(2, 2, 1, 1, 1), padding=1)
    with pytest.raises(ValueError, match=r"conv_transpose3d.*no 'same'"):
        F.conv_transpose3d(x, dlcore.zeros(2, 2, 2, 2, 2), padding="same")
    with pytest.raises(ValueError, match=r"max_pool3d.*5-D.*\[3, 4, 4\]"):
        F.max_pool3d(dlcore.zeros(3, 4, 4), 2)
    with pytest.raises(ValueError, match=r"max_pool3d.*pad should be at most half"):
        F.max_pool3d(x, 2, padding=2)
    with pytest.raises(ValueError, match=r"avg_pool3d.*too small"):
        F.avg_pool3d(x, (4, 2, 2))
    with pytest.raises(ValueError, match=r"avg_pool3d.*divisor_override"):
        F.avg_pool3d(x, 2, divisor_override=0)
    with pytest.raises(ValueError, match=r"adaptive_max_pool3d.*positive"):
        F.adaptive_max_pool3d(x, (0, 1, 1))
    with pytest.raises(ValueError, match=r"adaptive_avg_pool3d.*output_size"):
        F.adaptive_avg_pool3d(x, (1, 2))
    with pytest.raises(ValueError, match=r"Conv3d.*padding_mode"):
        nn.Conv3d(2, 2, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match=r"ConvTranspose3d.*padding_mode"):
        nn.ConvTranspose3d(2, 2, 3, padding_mode="reflect")


# ------------------------------------------------------------------------------------------------- fuzz regressions

def test_empty_batch_results_stay_in_the_graph(device):
    # an empty batch: torch's outputs still require grad and backward gives zero gradients (weight, bias, input)
    rng = np.random.default_rng(0)
    x, tx = _pair(rng, (0, 2, 3, 3, 3), np.float64, device)
    w, tw = _pair(rng, (4, 2, 2, 2, 2), np.float64, device)
    b, tb = _pair(rng, (4,), np.float64, device)
    wt, twt = _pair(rng, (2, 4, 2, 2, 2), np.float64, device)
    for fd, ft, args, targs in (
            (F.conv3d, TF.conv3d, (x, w, b), (tx, tw, tb)),
            (F.conv_transpose3d, TF.conv_transpose3d, (x, wt, b), (tx, twt, tb)),
            (lambda a: F.adaptive_avg_pool3d(a, (2, 1, 2)), lambda a: TF.adaptive_avg_pool3d(a, (2, 1, 2)),
             (x,), (tx,)),
            (lambda a: F.max_pool3d(a, 2), lambda a: TF.max_pool3d(a, 2), (x,), (tx,)),
            (lambda a: F.adaptive_max_pool3d(a, 2), lambda a: TF.adaptive_max_pool3d(a, 2), (x,), (tx,))):
        for a in args + targs:
            a.grad = None
        dy, ty = fd(*args), ft(*targs)
        assert tuple(dy.shape) == tuple(ty.shape) and dy.requires_grad == ty.requires_grad
        dy.sum().backward()
        ty.sum().backward()
        for a, ta in zip(args, targs):
            if ta.grad is not None:
                assert a.grad is not None
                np.testing.assert_array_equal(_np(a.grad), ta.grad.numpy())


def test_max_pool3d_window_of_padding_only(device):
    # with dilation a window can hold only padding: its output is -inf (as torch) and it reads no input, so the
    # backward gives every finite output's gradient to exactly one input element (torch's own backward corrupts
    # memory on this input, so the check is this invariant, not torch)
    x = dlcore.tensor(np.arange(6.0).reshape(1, 2, 1, 3), device=device).requires_grad_(True)
    y, idx = F.max_pool3d(x, (1, 3, 2), None, (0, 1, 0), (1, 2, 1), True, return_indices=True)
    ty = TF.max_pool3d(torch.arange(6.0, dtype=torch.float64).reshape(1, 2, 1, 3), (1, 3, 2), None, (0, 1, 0),
                       (1, 2, 1), True)
    np.testing.assert_array_equal(_np(y), ty.numpy())
    yv = _np(y)
    assert np.isinf(yv).any() and np.all(_np(idx)[np.isinf(yv)] == -1)
    finite = dlcore.tensor(np.isfinite(yv).astype(np.float64), device=device)
    (dlcore.where(finite > 0, y, dlcore.zeros_like(y)) * finite).sum().backward()
    assert float(_np(x.grad).sum()) == float(np.isfinite(yv).sum())


def test_adaptive_avg_pool3d_depth_windows_keep_infinities(device):
    # each depth window is averaged on its own: an infinity in another window must not leak in as 0 * inf = NaN
    a = np.random.default_rng(1).standard_normal((1, 1, 5, 2, 2))
    a[0, 0, 0, 1, 0] = -np.inf
    a[0, 0, 4, 0, 1] = np.nan
    got = F.adaptive_avg_pool3d(dlcore.tensor(a, device=device), (4, None, 2))
    want = TF.adaptive_avg_pool3d(torch.from_numpy(a), (4, None, 2))
    np.testing.assert_allclose(_np(got), want.numpy(), rtol=1e-12, equal_nan=True)


def test_avg_pool3d_input_smaller_than_kernel_raises_like_torch():
    x = dlcore.zeros(1, 1, 2, 1, 1)
    with pytest.raises(RuntimeError):
        TF.avg_pool3d(torch.zeros(1, 1, 2, 1, 1), (1, 2, 2), 1, (0, 1, 1), ceil_mode=True)
    with pytest.raises(ValueError, match=r"avg_pool3d.*smaller than kernel"):
        F.avg_pool3d(x, (1, 2, 2), 1, (0, 1, 1), ceil_mode=True)
    with pytest.raises(ValueError, match=r"lp_pool3d|avg_pool3d"):
        F.lp_pool3d(dlcore.zeros(0, 1, 2, 1, 1), 2.0, (2, 1, 2), ceil_mode=True)


def test_max_pool3d_depth_window_of_padding_only(device):
    # a depth window that holds only padding (dilation 2 over a depth of 1) is -inf, as torch, not a value read
    # from a depth outside the window
    x = np.random.default_rng(2).standard_normal((1, 2, 1, 2, 1))
    dx = dlcore.tensor(x, device=device).requires_grad_(True)
    y, idx = F.max_pool3d(dx, (2, 3, 3), (2, 1, 1), (1, 1, 1), (2, 1, 1), False, return_indices=True)
    ty = TF.max_pool3d(torch.from_numpy(x), (2, 3, 3), (2, 1, 1), (1, 1, 1), (2, 1, 1), False)
    np.testing.assert_array_equal(_np(y), ty.numpy())
    assert np.all(_np(idx) == -1)
    y.sum().backward()
    np.testing.assert_array_equal(_np(dx.grad), np.zeros_like(x))


@requires_torch
def test_max_pool3d_cpu_kernel_vs_torch():
    """The native 3-D max pooling (four outputs' scans interleaved in the interior, one at the borders) against
    torch on random windows (stride, padding, dilation, ceil_mode), with NaNs, ties and all -inf volumes: values
    and indices (windows of padding only excepted: torch invents an index there)."""
    import torch
    rng = np.random.default_rng(5)
    for trial in range(120):
        n, c = rng.integers(1, 3), rng.integers(1, 3)
        d, h, w = rng.integers(1, 9), rng.integers(1, 9), rng.integers(1, 14)
        k = tuple(int(v) for v in rng.integers(1, 4, 3))
        s = tuple(int(v) for v in rng.integers(1, 4, 3))
        dl = tuple(int(v) for v in rng.integers(1, 3, 3))
        p = tuple(int(rng.integers(0, kk // 2 + 1)) for kk in k)
        cm = bool(rng.integers(0, 2))
        x = rng.standard_normal((n, c, d, h, w)).astype((np.float32, np.float64)[trial % 2])
        if trial % 5 == 0:
            x.flat[rng.integers(0, x.size)] = np.nan
        if trial % 7 == 0:
            x[...] = np.round(x)
        if trial % 11 == 0:
            x[...] = -np.inf
        try:
            tv, ti = torch.nn.functional.max_pool3d(torch.tensor(x), k, s, p, dl, cm, True)
        except RuntimeError:
            continue
        v, i = F.max_pool3d(dlcore.tensor(x), k, s, p, dl, cm, True)
        np.testing.assert_array_equal(v.numpy(), tv.numpy())
        ok = i.numpy() >= 0
        np.testing.assert_array_equal(i.numpy()[ok], ti.numpy()[ok])
