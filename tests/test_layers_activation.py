"""Activations (relu, leaky_relu, elu, sigmoid, tanh, gelu, softplus, hardtanh/relu6, silu, mish, hardswish,
hardsigmoid): forward vs NumPy float64
oracles and torch, float64 gradchecks, every ISA path, non-contiguous input, in-place variants, bad input."""
import math

import numpy as np
import pytest

import dlcore
import dlcore.functional as F
from dlcore.testing import assert_close, gradcheck
from conftest import requires_torch

ISAS = ["scalar", "avx2", "avx512"]


def _erf(x):
    return np.vectorize(math.erf)(x)


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


# (name, dlcore call, NumPy oracle, torch call)
CASES = [
    ("relu", lambda x: F.relu(x), lambda x: np.maximum(x, 0), lambda t, x: t.nn.functional.relu(x)),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.1), lambda x: np.where(x > 0, x, 0.1 * x),
     lambda t, x: t.nn.functional.leaky_relu(x, 0.1)),
    ("elu", lambda x: F.elu(x, 1.3), lambda x: np.where(x > 0, x, 1.3 * np.expm1(x)),
     lambda t, x: t.nn.functional.elu(x, 1.3)),
    ("sigmoid", lambda x: F.sigmoid(x), _sig, lambda t, x: t.sigmoid(x)),
    ("tanh", lambda x: F.tanh(x), np.tanh, lambda t, x: t.tanh(x)),
    ("gelu", lambda x: F.gelu(x), lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
     lambda t, x: t.nn.functional.gelu(x)),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"),
     lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))),
     lambda t, x: t.nn.functional.gelu(x, approximate="tanh")),
    ("softplus", lambda x: F.softplus(x, 2.0, 15.0),
     lambda x: np.where(2 * x > 15, x, np.log1p(np.exp(2 * x)) / 2), lambda t, x: t.nn.functional.softplus(x, 2.0, 15.0)),
    ("silu", lambda x: F.silu(x), lambda x: x * _sig(x), lambda t, x: t.nn.functional.silu(x)),
    ("mish", lambda x: F.mish(x), lambda x: x * np.tanh(np.logaddexp(0.0, x)), lambda t, x: t.nn.functional.mish(x)),
    ("hardswish", lambda x: F.hardswish(x), lambda x: x * np.clip(x + 3, 0, 6) / 6,
     lambda t, x: t.nn.functional.hardswish(x)),
    ("hardsigmoid", lambda x: F.hardsigmoid(x), lambda x: np.clip(x + 3, 0, 6) / 6,
     lambda t, x: t.nn.functional.hardsigmoid(x)),
    ("threshold", lambda x: F.threshold(x, 0.7, -2.0), lambda x: np.where(x <= 0.7, -2.0, x),
     lambda t, x: t.nn.functional.threshold(x, 0.7, -2.0)),
    ("hardshrink", lambda x: F.hardshrink(x, 0.6), lambda x: np.where(np.abs(x) <= 0.6, 0.0, x),
     lambda t, x: t.nn.functional.hardshrink(x, 0.6)),
    ("softshrink", lambda x: F.softshrink(x, 0.6), lambda x: np.where(x > 0.6, x - 0.6, np.where(x < -0.6, x + 0.6, 0.0)),
     lambda t, x: t.nn.functional.softshrink(x, 0.6)),
    ("logsigmoid", lambda x: F.logsigmoid(x), lambda x: -np.logaddexp(0.0, -x), lambda t, x: t.nn.functional.logsigmoid(x)),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("n", [1, 3, 17, 127, 1000])
def test_forward_vs_numpy(case, isa, n, float_dtype, rng):
    try:
        dlcore._C._set_cpu_isa(isa)
    except ValueError:
        pytest.skip(f"CPU lacks {isa}")
    name, fn, ref, _ = case
    x = rng.standard_normal(n) * 4
    x[0] = 30.0 if n > 1 else x[0]  # saturation
    xd = dlcore.tensor(x.astype(float_dtype))
    out = fn(xd)
    tol = dict(rtol=2e-6, atol=2e-6) if float_dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    assert out.dtype == xd.dtype and tuple(out.shape) == (n,)
    assert_close(out.numpy().astype(np.float64), ref(x.astype(float_dtype).astype(np.float64)), **tol)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_backward_float32_paths_agree_with_float64(case, isa, rng):
    try:
        dlcore._C._set_cpu_isa(isa)
    except ValueError:
        pytest.skip(f"CPU lacks {isa}")
    name, fn, _, _ = case
    x = rng.standard_normal(67) * 3
    g = rng.standard_normal(67)
    grads = []
    for dt in ("float32", "float64"):
        xd = dlcore.tensor(x.astype(dt), requires_grad=True)
        fn(xd).backward(dlcore.tensor(g.astype(dt)))
        grads.append(xd.grad.numpy().astype(np.float64))
    assert_close(grads[0], grads[1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_backward_of_reductions(case, isa, rng):
    """The gradient of sum() / mean() reaches the backward as one value broadcast (all strides 0), which the cpu
    loops read once; a gradient broadcast along one dim only (sum over dim 0) is made contiguous. Both against
    float64 with a dense gradient of the same values."""
    try:
        dlcore._C._set_cpu_isa(isa)
    except ValueError:
        pytest.skip(f"CPU lacks {isa}")
    name, fn, _, _ = case
    x = rng.standard_normal((3, 37)) * 3
    for reduce, dense in ((lambda y: y.sum(), np.ones((3, 37))), (lambda y: y.mean(), np.full((3, 37), 1 / 111)),
                          (lambda y: (y.sum(0) * dlcore.tensor(np.arange(37.0).astype(y.dtype.name))).sum(),
                           np.tile(np.arange(37.0), (3, 1)))):
        xd = dlcore.tensor(x.astype(np.float32), requires_grad=True)
        reduce(fn(xd)).backward()
        x64 = dlcore.tensor(x, requires_grad=True)
        fn(x64).backward(dlcore.tensor(dense))
        assert_close(xd.grad.numpy().astype(np.float64), x64.grad.numpy(), rtol=1e-5, atol=3e-6 * dense.max())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradcheck(case, device, rng):
    name, fn, _, _ = case
    x = rng.standard_normal((3, 5)) * 2
    x[np.abs(x) < 0.05] = 0.3  # away from the kinks
    xd = dlcore.tensor(x, device=device, requires_grad=True)
    gradcheck(fn, [xd])


@requires_torch
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_vs_torch(case, rng):
    import torch
    name, fn, _, tfn = case
    x = rng.standard_normal((4, 33)).astype(np.float32) * 3
    g = rng.standard_normal((4, 33)).astype(np.float32)
    xd = dlcore.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yd, yt = fn(xd), tfn(torch, xt)
    yd.backward(dlcore.tensor(g))
    yt.backward(torch.tensor(g))
    # float32 vector math on both sides: a few ulp, absolute where 1 + tanh(u) cancels (gelu_tanh at x ~ -5)
    assert_close(yd.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=3e-6)
    assert_close(xd.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=3e-6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_non_contiguous(case, device, rng):
    name, fn, ref, _ = case
    x = rng.standard_normal((6, 8))
    xd = dlcore.tensor(x, device=device).transpose(0, 1)[::2]
    assert not xd.is_contiguous()
    out = fn(xd)
    assert out.device.type == device
    assert_close(out.cpu().numpy(), ref(x.T[::2]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("isa", ISAS)
def test_gelu_relative_accuracy_in_the_tail(isa):
    """gelu(x) = x Phi(x) for x down to the underflow keeps its relative accuracy: Phi is not (1 + erf)/2, which
    cancels for x < 0 (a relative error of 1e-1 at x = -5). Oracle: math.erfc in float64; the gradient
    Phi + x phi as well (absolute near its zero at x = -0.75)."""
    try:
        dlcore._C._set_cpu_isa(isa)
    except ValueError:
        pytest.skip(f"CPU lacks {isa}")
    x = np.concatenate([np.linspace(-13.1, 9.0, 4001), [-1e-20, 1e-30, 0.0]]).astype(np.float32)
    x64 = x.astype(np.float64)
    cdf = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in x64])
    ref = x64 * cdf
    dref = cdf + x64 * np.exp(-0.5 * x64 * x64) / math.sqrt(2 * math.pi)
    xd = dlcore.tensor(x, requires_grad=True)
    y = F.gelu(xd)
    y.backward(dlcore.tensor(np.ones_like(x)))
    yv, gv = y.detach().numpy().astype(np.float64), xd.grad.numpy().astype(np.float64)
    normal = np.abs(ref) > 1.2e-38
    # the scalar path's erfc(-x/sqrt2) carries the rounding of x/sqrt2 (relative 2 z^2 eps at z = x/sqrt2)
    rtol = 3e-5 if isa == "scalar" else 2e-6
    rel = np.abs(yv - ref)[normal] / np.abs(ref[normal])
    assert rel.max() < rtol, (rel.max(), x[normal][np.argmax(rel)])
    assert (yv[~normal] == 0).all() or np.abs(yv[~normal]).max() < 1.2e-38
    err = np.abs(gv - dref) / np.maximum(np.abs(dref), 0.05)
    assert err.max() < rtol, (err.max(), x[np.argmax(err)])


@pytest.mark.parametrize("isa", ISAS)
def test_mish_silu_relative_accuracy(isa):
    """mish by one exponential (t = w / (w + 2), w = e^x (e^x + 2)) and silu, float32 against float64 over the
    whole range: relative error within a few ulp (absolute near the gradients' zeros), the deep negative tail
    (outputs ~1e-38) included, and the saturated side (x up to 1e4, where e^2x would overflow)."""
    try:
        dlcore._C._set_cpu_isa(isa)
    except ValueError:
        pytest.skip(f"CPU lacks {isa}")
    x = np.concatenate([np.linspace(-80.0, 30.0, 20001), [1e4, 89.0, -1e-30, 0.0, 1e-7, 1e10, 1e20, 3e38]])
    x = x.astype(np.float32)
    x64 = x.astype(np.float64)
    sp = np.logaddexp(0.0, x64)
    s = _sig(x64)
    t = np.tanh(sp)
    refs = {"mish": (x64 * t, t + x64 * s * (1 - t * t)), "silu": (x64 * s, s * (1 + x64 * (1 - s)))}
    for name, (ref, dref) in refs.items():
        xd = dlcore.tensor(x, requires_grad=True)
        y = getattr(F, name)(xd)
        y.backward(dlcore.tensor(np.ones_like(x)))
        yv, gv = y.detach().numpy().astype(np.float64), xd.grad.numpy().astype(np.float64)
        normal = np.abs(ref) > 1e-37
        rel = np.abs(yv - ref)[normal] / np.abs(ref[normal])
        assert rel.max() < 1e-6, (name, rel.max(), x[normal][np.argmax(rel)])
        assert np.abs(yv[~normal]).max() < 2e-37
        err = np.abs(gv - dref) / np.maximum(np.abs(dref), 0.05)  # (terms of ~0.5 cancel at the zero, x ~ -1.2)
        assert err.max() < 2e-6, (name, err.max(), x[np.argmax(err)])


@pytest.mark.parametrize("isa", ISAS)
def test_hard_activations_at_the_kinks_and_special_values(isa, device):
    """hardswish / hardsigmoid at -3 and 3 (torch's one-sided gradients), beyond them, at +-inf and NaN."""
    if device == "cpu":
        try:
            dlcore._C._set_cpu_isa(isa)
        except ValueError:
            pytest.skip(f"CPU lacks {isa}")
    elif isa != "avx512":
        pytest.skip("one cuda run is enough")
    x = np.array([-3.0, 3.0, -3.5, 3.5, -2.0, 2.0, 0.0, -np.inf, np.inf, np.nan] + [1.0] * 7, np.float32)
    g = np.full(x.shape, 2.0, np.float32)
    for name, fwd, dfwd in (
            ("hardswish", [-0.0, 3.0, -0.0, 3.5, -2.0 / 6, 10.0 / 6, 0.0, np.nan, np.inf, np.nan],
             [0.0, 2.0, 0.0, 2.0, 2 * (-2 / 3 + 0.5), 2 * (2 / 3 + 0.5), 1.0, 0.0, 2.0, 2.0]),
            ("hardsigmoid", [0.0, 1.0, 0.0, 1.0, 1 / 6, 5 / 6, 0.5, 0.0, 1.0, np.nan],
             [0.0, 0.0, 0.0, 0.0, 2 / 6, 2 / 6, 2 / 6, 0.0, 0.0, 0.0])):
        xd = dlcore.tensor(x, device=device, requires_grad=True)
        y = getattr(F, name)(xd)
        y.backward(dlcore.tensor(g, device=device))
        np.testing.assert_allclose(y.detach().cpu().numpy()[:10], np.float32(fwd), rtol=1e-6, atol=0, err_msg=name)
        np.testing.assert_allclose(xd.grad.cpu().numpy()[:10], np.float32(dfwd), rtol=1e-6, atol=0, err_msg=name)


def test_nan_propagates(device):
    x = dlcore.tensor([float("nan"), -1.0, 2.0], device=device)
    for fn in (F.relu, F.sigmoid, F.tanh, F.gelu, F.elu, F.softplus, lambda v: F.leaky_relu(v, 0.2), F.silu, F.mish,
               F.hardswish, F.hardsigmoid, lambda v: F.threshold(v, 0.1, 5.0), F.hardshrink, F.softshrink,
               F.logsigmoid):
        r = fn(x).cpu().numpy()
        assert np.isnan(r[0]) and not np.isnan(r[1:]).any()


def test_inplace(rng):
    x = rng.standard_normal(50)
    xd = dlcore.tensor(x)
    r = F.relu(xd, inplace=True)
    assert r is xd
    assert_close(xd.numpy(), np.maximum(x, 0))
    xd = dlcore.tensor(x)
    xd.relu_()
    assert_close(xd.numpy(), np.maximum(x, 0))
    xd = dlcore.tensor(x)
    F.leaky_relu_(xd, 0.5)
    assert_close(xd.numpy(), np.where(x > 0, x, 0.5 * x))
    xd = dlcore.tensor(x)
    F.elu(xd, inplace=True)
    assert_close(xd.numpy(), np.where(x > 0, x, np.expm1(x)))
    # non-contiguous in place
    xd = dlcore.tensor(x.reshape(5, 10)).transpose(0, 1)
    F.relu_(xd)
    assert_close(xd.numpy(), np.maximum(x.reshape(5, 10).T, 0))


def test_inplace_autograd(rng):
    x = rng.standard_normal((4, 6))
    w = dlcore.tensor(x, requires_grad=True)
    h = w * 2.0
    F.relu_(h)
    h.sum().backward()
    assert_close(w.grad.numpy(), 2.0 * (x > 0))
    with pytest.raises(RuntimeError, match="leaf"):
        F.relu_(dlcore.tensor(x, requires_grad=True))


def test_tensor_methods(rng):
    x = rng.standard_normal((3, 4))
    xd = dlcore.tensor(x)
    assert_close(xd.relu().numpy(), np.maximum(x, 0))
    assert_close(dlcore.relu(xd).numpy(), np.maximum(x, 0))


def test_composed_activations(rng):
    x = rng.standard_normal(40) * 3
    xd = dlcore.tensor(x)
    assert_close(F.silu(xd).numpy(), x * _sig(x), rtol=1e-12, atol=1e-12)
    assert_close(F.relu6(xd).numpy(), np.clip(x, 0, 6))
    assert_close(F.hardtanh(xd).numpy(), np.clip(x, -1, 1))
    assert_close(F.logsigmoid(xd).numpy(), -np.log1p(np.exp(-x)), rtol=1e-10, atol=1e-12)
    assert_close(F.softsign(xd).numpy(), x / (1 + np.abs(x)))
    assert_close(F.mish(xd).numpy(), x * np.tanh(np.log1p(np.exp(x))), rtol=1e-10, atol=1e-12)


def test_bad_input():
    with pytest.raises(TypeError, match="relu"):  # (integer tensors are allowed, as in torch: test_int8_int16.py)
        F.relu(dlcore.tensor([True, False]))
    with pytest.raises(TypeError, match="relu"):
        F.relu([1.0, 2.0])
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(dlcore.tensor([1.0]), approximate="fast")
    with pytest.raises(ValueError, match="beta"):
        F.softplus(dlcore.tensor([1.0]), beta=0)
    with pytest.raises(ValueError, match="grad_output"):
        dlcore._C.act_backward(0, dlcore.zeros(3), dlcore.zeros(4), 0.0, 0.0)


def test_empty():
    assert F.relu(dlcore.zeros(0, 3)).shape == (0, 3)


# ---- cuda (emulated in CI): the kernels against the CPU op; fresh device memory is poisoned (NaN), so an element a
# kernel fails to write shows up as a mismatch.
cuda_only = pytest.mark.skipif(not dlcore.cuda.is_available(), reason="no cuda device in this build")


@cuda_only
@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("n", [1, 33, 1000])
def test_cuda_matches_cpu_forward_backward(case, n, float_dtype, rng):
    name, fn, _, _ = case
    x = (rng.standard_normal(n) * 4).astype(float_dtype)
    g = rng.standard_normal(n).astype(float_dtype)
    res = {}
    for dev in ("cpu", "cuda"):
        xd = dlcore.tensor(x, device=dev, requires_grad=True)
        y = fn(xd)
        y.backward(dlcore.tensor(g, device=dev))
        assert y.device.type == dev and xd.grad.device.type == dev
        res[dev] = (y.detach().cpu().numpy(), xd.grad.cpu().numpy())
    tol = dict(rtol=1e-5, atol=3e-6) if float_dtype == "float32" else dict(rtol=1e-12, atol=1e-13)
    assert not np.isnan(res["cuda"][0]).any() and not np.isnan(res["cuda"][1]).any()
    assert_close(res["cuda"][0], res["cpu"][0], **tol)
    assert_close(res["cuda"][1], res["cpu"][1], **tol)


@cuda_only
def test_cuda_inplace_and_grid_stride(rng):
    # more elements than one grid-stride pass of a single block would cover; in place on the device
    x = rng.standard_normal(70000).astype(np.float32)
    xd = dlcore.tensor(x, device="cuda")
    F.relu_(xd)
    assert xd.device.type == "cuda"
    np.testing.assert_array_equal(xd.cpu().numpy(), np.maximum(x, 0))
    xd = dlcore.tensor(x, device="cuda")
    F.leaky_relu_(xd, 0.5)
    np.testing.assert_array_equal(xd.cpu().numpy(), np.where(x > 0, x, np.float32(0.5) * x))


# ------------------------------------------------------------------------------------------------ in place, composed

def _d_silu(x):
    s = _sig(x)
    return s * (1 + x * (1 - s))


def _d_mish(x):
    sp = np.log1p(np.exp(x))
    t = np.tanh(sp)
    return t + x * (1 - t * t) * _sig(x)


@pytest.mark.parametrize("name,fn,deriv", [
    ("silu", lambda h: F.silu(h, inplace=True), _d_silu),
    ("relu6", lambda h: F.relu6(h, inplace=True), lambda x: ((x > 0) & (x < 6)).astype(float)),
    ("hardtanh", lambda h: F.hardtanh(h, -1.0, 2.0, inplace=True), lambda x: ((x > -1) & (x < 2)).astype(float)),
    ("mish", lambda h: F.mish(h, inplace=True), _d_mish),
    ("nn.ReLU6", lambda h: dlcore.nn.ReLU6(inplace=True)(h), lambda x: ((x > 0) & (x < 6)).astype(float)),
])
def test_inplace_composed_autograd(name, fn, deriv):
    """The in-place forms of silu/relu6/hardtanh/mish are recorded by autograd (their gradient was the identity's)."""
    x = np.array([-2.0, -0.5, 0.5, 1.3, 3.0, 7.0])
    w = dlcore.tensor(x, requires_grad=True)
    h = w * 2.0
    r = fn(h)
    assert r is h
    h.sum().backward()
    assert_close(w.grad.numpy(), 2.0 * deriv(2.0 * x), rtol=1e-10, atol=1e-12)
    with pytest.raises(RuntimeError, match="leaf"):
        fn(dlcore.tensor(x, requires_grad=True))
    # without autograd: the input itself is overwritten
    z = dlcore.tensor(2.0 * x)
    assert fn(z) is z


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("n", [5, 17, 40])
def test_hardtanh_limits_and_clipped_gradient(isa, n, float_dtype):
    """relu6/hardtanh: gradient 0 at the limits (like relu'(0) = 0 and torch), and an inf/NaN upstream gradient at a
    clipped element gives 0 (a select, not a multiply); NaN input stays NaN. Every ISA, vector tails."""
    try:
        dlcore._C._set_cpu_isa(isa)
    except ValueError:
        pytest.skip(f"CPU lacks {isa}")
    base = np.array([-2.0, 0.0, 3.0, 6.0, 8.0, -0.0, 5.999, 1e-7, np.nan, -np.inf, np.inf])
    x = np.resize(base, n).astype(float_dtype)
    g = np.resize(np.array([1.0, 2.0, 3.0, np.nan, np.inf, -np.inf, 1.0, 1.0, 1.0, np.nan, 5.0]), n).astype(float_dtype)
    xd = dlcore.tensor(x, requires_grad=True)
    y = F.relu6(xd)
    inside = (x > 0) & (x < 6)
    ref = np.clip(x, 0, 6)
    np.testing.assert_array_equal(y.detach().numpy(), ref.astype(float_dtype))
    y.backward(dlcore.tensor(g))
    expect = np.where(inside | np.isnan(x), g, 0).astype(float_dtype)
    np.testing.assert_array_equal(xd.grad.numpy(), expect)
    xd = dlcore.tensor(x, requires_grad=True)
    F.hardtanh(xd, -1.0, 3.0).backward(dlcore.tensor(g))
    expect = np.where(((x > -1) & (x < 3)) | np.isnan(x), g, 0).astype(float_dtype)
    np.testing.assert_array_equal(xd.grad.numpy(), expect)
    with pytest.raises(ValueError, match="hardtanh"):
        F.hardtanh(xd, 2.0, 1.0)


_VIEW_INPLACE = [
    ("relu_view", lambda F_, lib, h: F_.relu(h.view(6), inplace=True), "h"),
    ("ReLU_t", lambda F_, lib, h: lib.nn.ReLU(inplace=True)(h.t()), "v"),
    ("leaky_relu_slice", lambda F_, lib, h: F_.leaky_relu(h[:, 1:], 0.1, inplace=True), "h"),
    ("hardtanh_view", lambda F_, lib, h: F_.hardtanh(h.view(6), -0.5, 2.5, inplace=True), "h"),
    ("relu6_narrow", lambda F_, lib, h: F_.relu6(h.narrow(1, 0, 2), inplace=True), "h"),
    ("elu_select", lambda F_, lib, h: F_.elu(h[1], 0.7, inplace=True), "h"),
    ("silu_t", lambda F_, lib, h: F_.silu(h.t(), inplace=True), "h"),
    ("mish_view", lambda F_, lib, h: F_.mish(h.view(3, 2), inplace=True), "v"),
    ("selu_slice", lambda F_, lib, h: F_.selu(h[:, ::2], inplace=True), "h"),
    ("celu_view", lambda F_, lib, h: F_.celu(h.view(6)[1:], 1.5, inplace=True), "h"),
    ("hardswish_t", lambda F_, lib, h: F_.hardswish(h.t(), inplace=True), "h"),
    ("relu_method", lambda F_, lib, h: h.view(6).relu_(), "h"),
    ("dropout_p0", lambda F_, lib, h: F_.dropout(h.view(6), 0.0, training=True, inplace=True), "h"),
    ("dropout_p1", lambda F_, lib, h: F_.dropout(h[0], 1.0, training=True, inplace=True), "h"),
]


@requires_torch
@pytest.mark.parametrize("name,fn,loss_on", _VIEW_INPLACE, ids=[c[0] for c in _VIEW_INPLACE])
def test_inplace_activation_on_view_with_live_base(name, fn, loss_on):
    """In-place activations/dropout on a view of a tensor with history whose base stays alive: the base and the other
    views see the op in their gradients (the generic view + in-place rebase), as in torch."""
    import torch
    x0 = np.array([[-1.0, 2.0, -3.0], [4.0, -5.0, 0.6]])
    res = []
    for lib, F_ in ((torch, torch.nn.functional), (dlcore, F)):
        x = lib.tensor(x0, dtype=lib.float64, requires_grad=True)
        h = x * 1.5
        other = h.t()[1]            # another live view of h made before the op
        r = fn(F_, lib, h)
        loss = (h * h).sum() if loss_on == "h" else (r * r).sum()
        (loss + (other * other).sum() * 3).backward()
        res.append((h.detach().numpy().copy(), x.grad.numpy().copy()))
    np.testing.assert_allclose(res[1][0], res[0][0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res[1][1], res[0][1], rtol=1e-12, atol=1e-12)
