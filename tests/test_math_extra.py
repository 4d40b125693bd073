"""The extra elementwise math (asin ... logit, nan_to_num, atan2 ... nextafter) against torch CPU: forward on float32
and float64 including special values, every CPU ISA for the vectorised float32 paths, broadcasting and type
promotion, float64 finite-difference gradient checks, derivatives at torch's conventions, in-place forms."""
import math

import numpy as np
import pytest

import dlcore
from dlcore import _C
from dlcore.testing import assert_close, gradcheck

torch = pytest.importorskip("torch")


def _t(a, device, requires_grad=False):
    t = dlcore.from_numpy(np.array(a, order="C")).to(device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def _isas():
    best = _C._cpu_isa_supported()
    return {"scalar": ["scalar"], "avx2": ["scalar", "avx2"], "avx512": ["scalar", "avx2", "avx512"]}[best]


# name -> (sampler of valid inputs (rng, shape) -> float64 array, special values, float32 rtol, float64 rtol, atol)
def _u(lo, hi):
    return lambda rng, shape: rng.uniform(lo, hi, shape)


SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 1e-30, -1e-30, 1e30, -1e30]
UNARY = {
    "asin": (_u(-0.999, 0.999), SPECIAL, 1e-6, 1e-13, 0),
    "acos": (_u(-0.999, 0.999), SPECIAL, 1e-6, 1e-13, 0),
    "atan": (_u(-30, 30), SPECIAL + [2.4142137, 0.41421357, 1e10], 1e-6, 1e-13, 0),
    "sinh": (_u(-12, 12), SPECIAL + [88.5, 89.3, -89.3, 90.0, 0.999, 1.001], 1e-6, 1e-13, 0),
    "cosh": (_u(-12, 12), SPECIAL + [88.5, 89.3, -89.3, 90.0], 1e-6, 1e-13, 0),
    "tan": (_u(-1.5, 1.5), SPECIAL, 1e-6, 1e-13, 0),
    "asinh": (_u(-20, 20), SPECIAL, 1e-6, 1e-13, 0),
    "acosh": (_u(1.001, 30), SPECIAL, 1e-6, 1e-13, 0),
    "atanh": (_u(-0.999, 0.999), SPECIAL, 1e-6, 1e-13, 0),
    "erfc": (_u(-5, 9), SPECIAL + [9.0, -6.0], 2e-6, 1e-13, 0),
    # (float32: erfinv's conditioning near +-1 is ulp(y) / erf'(x), 1.5e-6 relative at 0.99)
    "erfinv": (_u(-0.99, 0.99), SPECIAL + [0.99, -0.99, 1e-8], 4e-6, 1e-12, 1e-30),
    "lgamma": (_u(0.01, 30), SPECIAL + [-2.5, -3.0, 3.0, 1e-8, 171.0, 1e20], 2e-6, 1e-12, 1e-6),
    "digamma": (_u(0.05, 30), SPECIAL + [-2.5, -3.0, -0.3, 10.0, 1e-8, 1e18], 4e-6, 1e-12, 1e-6),
    "frac": (_u(-10, 10), SPECIAL + [2.75, -2.75], 0, 0, 0),
    "deg2rad": (_u(-720, 720), SPECIAL, 1e-7, 1e-15, 0),
    "rad2deg": (_u(-10, 10), SPECIAL, 1e-7, 1e-15, 0),
    "sinc": (_u(-5, 5), SPECIAL + [1e-8, 3.0], 2e-6, 1e-12, 1e-7),
    "logit": (_u(0.001, 0.999), SPECIAL + [0.25, 0.75], 1e-6, 1e-13, 1e-7),
}


@pytest.mark.parametrize("isa", _isas())
@pytest.mark.parametrize("op", list(UNARY))
def test_unary_forward_vs_torch(op, isa, float_dtype, device, rng):
    _C._set_cpu_isa(isa)
    sample, special, rt32, rt64, atol = UNARY[op]
    x = np.concatenate([sample(rng, (3 * 37,)), np.array(special)]).astype(float_dtype)
    ref = getattr(torch, op)(torch.from_numpy(x)).numpy()
    rtol = rt32 if float_dtype == "float32" else rt64
    out = getattr(dlcore, op)(_t(x, device))
    assert out.dtype.name == float_dtype
    assert_close(out, ref, rtol=rtol, atol=atol, msg=f"{op}[{isa}]")
    # a non-contiguous view, and the Tensor method
    x2 = x[:111].reshape(3, 37)
    v = _t(np.ascontiguousarray(x2.T), device).transpose(0, 1)
    assert_close(getattr(v, op)(), getattr(torch, op)(torch.from_numpy(x2)).numpy(), rtol=rtol, atol=atol)


def _erfinv64(y):
    """float64 erfinv by torch (float64 CPU, within an ulp of float64): the reference for float32 results."""
    return torch.erfinv(torch.from_numpy(y)).numpy()


@pytest.mark.parametrize("isa", _isas())
@pytest.mark.parametrize("op", ["atan", "sinh", "cosh", "asin", "acos", "erfinv"])
def test_vectorised_float32_ulps(op, isa, rng):
    """The float32 vector formulas over a wide range and every tail length, against float64 rounded."""
    _C._set_cpu_isa(isa)
    lo, hi = {"atan": (-50, 50), "sinh": (-89, 89), "cosh": (-89, 89), "asin": (-1, 1), "acos": (-1, 1),
              "erfinv": (-0.95, 0.95)}[op]
    for n in (1, 7, 15, 16, 17, 1001):
        x = rng.uniform(lo, hi, n).astype(np.float32)
        x[: n // 3] *= 0.01  # small arguments too
        ref = (_erfinv64(x.astype(np.float64)) if op == "erfinv" else getattr(np, op)(x.astype(np.float64)))
        out = _np(getattr(dlcore, op)(_t(x, "cpu")))
        ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
        err = np.abs(out.astype(np.float64) - ref) / ulp
        assert err.max() <= 4, f"{op}[{isa}] n={n}: {err.max()} ulp at x={x[err.argmax()]}"


@pytest.mark.parametrize("isa", _isas())
@pytest.mark.parametrize("op", ["logaddexp", "logaddexp2"])
def test_logaddexp_vector_path(op, isa, rng):
    """float32 logaddexp(2): contiguous, either operand a broadcast scalar, every tail length; against float64."""
    _C._set_cpu_isa(isa)
    ref_fn = np.logaddexp if op == "logaddexp" else np.logaddexp2
    for n in (1, 5, 16, 17, 33, 1000):
        a = (rng.standard_normal(n) * 20).astype(np.float32)
        b = (rng.standard_normal(n) * 20).astype(np.float32)
        s = np.float32(rng.standard_normal() * 5)
        for x, y in [(a, b), (a, np.full(n, s, np.float32)), (np.full(n, s, np.float32), b)]:
            # (the scalar operand as a stride-0 expanded view)
            tx = _t(x, "cpu") if not np.all(x == s) else _t(np.array(s), "cpu").expand(n)
            ty = _t(y, "cpu") if not np.all(y == s) else _t(np.array(s), "cpu").expand(n)
            out = _np(getattr(dlcore, op)(tx, ty)).astype(np.float64)
            ref = ref_fn(x.astype(np.float64), y.astype(np.float64))
            # (relative to the operands' scale: the result cancels to ~0 where max ~ -log1p(...))
            err = np.abs(out - ref) / np.maximum(np.abs(ref), np.maximum(np.abs(x), np.abs(y)))
            assert err.max() <= 4e-7, f"{op}[{isa}] n={n}: rel err {err.max()}"


@pytest.mark.parametrize("isa", _isas())
def test_atan2_vector_path(isa, rng):
    """float32 atan2 on every ISA: all four quadrants, both octants, magnitudes far apart, every tail length, a
    broadcast operand, and special values mixed into vectors (those vectors take libm lane by lane)."""
    _C._set_cpu_isa(isa)
    for n in (1, 7, 16, 17, 33, 1000):
        y = (rng.standard_normal(n) * 10.0 ** rng.integers(-3, 4, n)).astype(np.float32)
        x = (rng.standard_normal(n) * 10.0 ** rng.integers(-3, 4, n)).astype(np.float32)
        for yy, xx in [(y, x), (y, np.full(n, np.float32(-2.5)))]:
            out = _np(dlcore.atan2(_t(yy, "cpu"), _t(xx, "cpu"))).astype(np.float64)
            ref = np.arctan2(yy.astype(np.float64), xx.astype(np.float64))
            ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
            err = np.abs(out - ref) / ulp
            assert err.max() <= 4, f"atan2[{isa}] n={n}: {err.max()} ulp at {yy[err.argmax()]}, {xx[err.argmax()]}"
    sp = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0], np.float32)
    y = np.concatenate([np.repeat(sp, 7), rng.standard_normal(15).astype(np.float32)])
    x = np.concatenate([np.tile(sp, 7), rng.standard_normal(15).astype(np.float32)])
    ref = torch.atan2(torch.from_numpy(y), torch.from_numpy(x)).numpy()
    out = _np(dlcore.atan2(_t(y, "cpu"), _t(x, "cpu")))
    # signed zeros must match; a NaN's sign bit is not part of the result (libm and torch differ on it)
    assert np.array_equal(np.isnan(out), np.isnan(ref))
    real = ~np.isnan(ref[:49])
    assert np.array_equal(np.signbit(out[:49])[real], np.signbit(ref[:49])[real])
    assert_close(out, ref, rtol=4e-7, atol=0)


def test_unary_integer_inputs_and_dtypes():
    i = _t(np.array([1, 2, -3, 0], dtype=np.int64), "cpu")
    ti = torch.tensor([1, 2, -3, 0])
    for op in ["asin", "sinh", "erfc", "lgamma", "digamma", "deg2rad", "sinc", "atan"]:
        out = getattr(dlcore, op)(i)
        assert out.dtype == dlcore.float32
        assert_close(out, getattr(torch, op)(ti).numpy(), rtol=1e-6, atol=1e-6)
    with pytest.raises(TypeError, match="frac"):
        dlcore.frac(i)
    assert _np(dlcore.signbit(i)).tolist() == [False, False, True, False]
    assert dlcore.nan_to_num(i).dtype == dlcore.int64
    with pytest.raises(TypeError, match="asin_"):
        i.asin_()


def test_signbit_and_nan_to_num(float_dtype, device):
    x = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, -np.nan, 3e30, -3e30], dtype=float_dtype)
    tx = torch.from_numpy(x)
    assert _np(dlcore.signbit(_t(x, device))).tolist() == torch.signbit(tx).tolist()
    assert_close(dlcore.nan_to_num(_t(x, device)), torch.nan_to_num(tx).numpy(), rtol=0, atol=0)
    assert_close(dlcore.nan_to_num(_t(x, device), nan=1.5, posinf=7.0, neginf=-8.0),
                 torch.nan_to_num(tx, nan=1.5, posinf=7.0, neginf=-8.0).numpy(), rtol=0, atol=0)
    assert_close(_t(x, device).nan_to_num(neginf=2.0), tx.nan_to_num(neginf=2.0).numpy(), rtol=0, atol=0)
    y = _t(x, device)
    y.nan_to_num_(nan=-1.0)
    assert_close(y, torch.nan_to_num(tx, nan=-1.0).numpy(), rtol=0, atol=0)


def test_logit_eps(float_dtype, device):
    x = np.array([0.0, 1e-9, 0.2, 0.5, 0.999999, 1.0, -0.1, 1.5, np.nan], dtype=float_dtype)
    tx = torch.from_numpy(x)
    for eps in (None, 1e-6, 0.1, -1.0):
        assert_close(dlcore.logit(_t(x, device), eps), torch.logit(tx, eps).numpy(), rtol=1e-6, atol=1e-6,
                     msg=f"eps={eps}")
    y = _t(x, device)
    y.logit_(0.1)
    assert_close(y, torch.logit(tx, 0.1).numpy(), rtol=1e-6, atol=1e-6)


def test_aliases_and_methods():
    for alias, name in [("arcsin", "asin"), ("arccos", "acos"), ("arctan", "atan"), ("arcsinh", "asinh"),
                        ("arccosh", "acosh"), ("arctanh", "atanh"), ("arctan2", "atan2")]:
        assert getattr(dlcore, alias) is getattr(dlcore, name)
        assert getattr(dlcore.Tensor, alias) is getattr(dlcore.Tensor, name)
        assert getattr(dlcore.Tensor, alias + "_") is getattr(dlcore.Tensor, name + "_")
    x = dlcore.tensor([0.25, -0.5])
    assert_close(x.arcsin(), np.arcsin([0.25, -0.5]), rtol=1e-6, atol=0)


# ------------------------------------------------------------------------------------------------- binary

BINARY = ["atan2", "hypot", "copysign", "fmax", "fmin", "xlogy", "logaddexp", "logaddexp2", "heaviside",
          "nextafter"]
BSPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 2.5, -3.0, 1e-30, 1e30]


@pytest.mark.parametrize("op", BINARY)
def test_binary_forward_vs_torch(op, float_dtype, device, rng):
    a = rng.standard_normal((3, 1)) * 3
    b = rng.standard_normal((1, 4)) * 3
    if op == "xlogy":
        b = np.abs(b)
    a, b = a.astype(float_dtype), b.astype(float_dtype)
    rtol = 2e-6 if float_dtype == "float32" else 1e-13
    fn, tfn = getattr(dlcore, op), getattr(torch, op)
    ref = tfn(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    out = fn(_t(a, device), _t(b, device))
    assert out.dtype.name == float_dtype and tuple(out.shape) == (3, 4)
    assert_close(out, ref, rtol=rtol, atol=0)
    # every pair of special values
    sa = np.repeat(np.array(BSPECIAL), len(BSPECIAL)).astype(float_dtype)
    sb = np.tile(np.array(BSPECIAL), len(BSPECIAL)).astype(float_dtype)
    ref = tfn(torch.from_numpy(sa), torch.from_numpy(sb)).numpy()
    # (atol: results that cancel to ~0, e.g. logaddexp2(-1, -1), within an ulp of the operands; FMA contraction
    # differs between builds)
    atol = 1e-7 if float_dtype == "float32" else 1e-15
    assert_close(fn(_t(sa, device), _t(sb, device)), ref, rtol=rtol, atol=atol, msg=f"{op} special values")
    # a 0-d operand, and the method form
    s = np.array(1.5, dtype=float_dtype)
    ref = tfn(torch.from_numpy(a), torch.from_numpy(s)).numpy()
    assert_close(getattr(_t(a, device), op)(_t(s, device)), ref, rtol=rtol, atol=0)


def test_binary_type_promotion(device):
    i = np.array([1, -2, 0, 3], dtype=np.int64)
    f = np.array([0.5, 2.0, -1.0, 0.0], dtype=np.float32)
    d = np.array([0.5, 2.0, -1.0, 0.0], dtype=np.float64)
    ti, tf, td = torch.from_numpy(i), torch.from_numpy(f), torch.from_numpy(d)
    for op in ["atan2", "copysign", "xlogy"]:  # integers computed in float32
        out = getattr(dlcore, op)(_t(i, device), _t(i, device))
        ref = getattr(torch, op)(ti, ti)
        assert out.dtype == dlcore.float32
        assert_close(out, ref.numpy(), rtol=1e-6, atol=0)
    for op in BINARY:
        if op == "heaviside":
            continue
        for (x, tx), (y, ty) in [((i, ti), (f, tf)), ((f, tf), (d, td)), ((d, td), (i, ti))]:
            out = getattr(dlcore, op)(_t(x, device), _t(y, device))
            ref = getattr(torch, op)(tx, ty)
            assert out.dtype.name == str(ref.dtype).split(".")[1], (op, x.dtype, y.dtype)
            assert_close(out, ref.numpy(), rtol=1e-6, atol=1e-7)
    for op in ["fmax", "fmin", "heaviside"]:  # integers stay integers
        out = getattr(dlcore, op)(_t(i, device), _t(i[::-1].copy(), device))
        ref = getattr(torch, op)(ti, ti.flip(0))
        assert out.dtype == dlcore.int64 and _np(out).tolist() == ref.tolist()
    for op in ["hypot", "logaddexp", "logaddexp2", "nextafter"]:  # floating only, as torch
        with pytest.raises(TypeError, match=op):
            getattr(dlcore, op)(_t(i, device), _t(i, device))
    with pytest.raises(RuntimeError, match="heaviside"):
        dlcore.heaviside(_t(f, device), _t(d, device))
    # Python numbers
    assert_close(dlcore.xlogy(_t(f, device), 2.0), torch.xlogy(tf, 2.0).numpy(), rtol=1e-6, atol=0)
    assert_close(dlcore.copysign(_t(f, device), -1), torch.copysign(tf, -1).numpy(), rtol=0, atol=0)


def test_binary_out_and_errors(device):
    a = _t(np.array([1.0, 2.0, 3.0]), device)
    b = _t(np.array([[1.0], [0.5]]), device)
    out = _t(np.zeros((2, 3)), device)
    r = dlcore.atan2(a, b, out=out)
    assert r is out
    assert_close(out, np.arctan2(np.array([1.0, 2.0, 3.0]), np.array([[1.0], [0.5]])), rtol=1e-13, atol=0)
    with pytest.raises(ValueError, match="atan2"):
        dlcore.atan2(a, _t(np.ones(4), device))


# ------------------------------------------------------------------------------------------------- gradients

GRAD_DOMAINS = {
    "asin": (-0.9, 0.9), "acos": (-0.9, 0.9), "atan": (-3, 3), "sinh": (-3, 3), "cosh": (-3, 3),
    "tan": (-1.2, 1.2), "asinh": (-3, 3), "acosh": (1.1, 4), "atanh": (-0.9, 0.9), "erfc": (-2, 2),
    "erfinv": (-0.95, 0.95), "lgamma": (0.2, 6), "digamma": (0.2, 6), "frac": (0.1, 0.9), "deg2rad": (-5, 5),
    "rad2deg": (-5, 5), "sinc": (-2.5, 2.5), "logit": (0.05, 0.95), "nan_to_num": (-3, 3),
}


@pytest.mark.parametrize("op", list(GRAD_DOMAINS))
def test_unary_gradcheck(op, device, rng):
    lo, hi = GRAD_DOMAINS[op]
    x = rng.uniform(lo, hi, (2, 5))
    if op == "frac":
        x += rng.integers(-3, 3, x.shape)
    xt = _t(x, device, requires_grad=True)
    gradcheck(getattr(dlcore, op), [xt])
    xt.grad = None
    # the same derivative as torch
    tx = torch.from_numpy(x).requires_grad_(True)
    getattr(torch, op)(tx).sum().backward()
    out = getattr(dlcore, op)(xt)
    out.sum().backward()
    assert_close(xt.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_digamma_negative_gradcheck(device):
    x = _t(np.array([-2.6, -1.3, -0.7, 0.4]), device, requires_grad=True)
    gradcheck(dlcore.digamma, [x])
    gradcheck(dlcore.lgamma, [x])


@pytest.mark.parametrize("op", ["atan2", "hypot", "copysign", "fmax", "fmin", "xlogy", "logaddexp", "logaddexp2"])
def test_binary_gradcheck(op, device, rng):
    a = rng.uniform(-2, 2, (3, 1))
    b = rng.uniform(-2, 2, (1, 4))
    a = np.where(np.abs(a) < 0.2, 0.7, a)
    if op == "xlogy":
        b = np.abs(b) + 0.2
    if op in ("fmax", "fmin"):
        b = b + 0.05  # away from ties
    at, bt = _t(a, device, True), _t(b, device, True)
    gradcheck(getattr(dlcore, op), [at, bt])
    at.grad = bt.grad = None
    ta = torch.from_numpy(a).requires_grad_(True)
    tb = torch.from_numpy(b).requires_grad_(True)
    getattr(torch, op)(ta, tb).sum().backward()
    getattr(dlcore, op)(at, bt).sum().backward()
    assert_close(at.grad, ta.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert_close(bt.grad, tb.grad.numpy(), rtol=1e-10, atol=1e-12)
    # a Python number as the other operand
    at.grad = None
    ta.grad = None
    getattr(torch, op)(ta, torch.tensor(0.75, dtype=torch.float64)).sum().backward()
    getattr(dlcore, op)(at, 0.75).sum().backward()
    assert_close(at.grad, ta.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_gradient_conventions_vs_torch(device):
    """Ties and NaN (fmax/fmin), x == 0 (xlogy, copysign), eps clamping (logit), non-finite (nan_to_num)."""
    cases = [
        ("fmax", [1.0, 2.0, np.nan, 3.0, np.nan], [1.0, np.nan, 2.0, 4.0, np.nan]),
        ("fmin", [1.0, 2.0, np.nan, 3.0, np.nan], [1.0, np.nan, 2.0, 4.0, np.nan]),
        ("xlogy", [0.0, 0.0, 1.0, 2.0], [0.0, -1.0, 0.0, 3.0]),
        ("copysign", [0.0, -0.0, 1.0, -2.0], [-1.0, 1.0, -0.0, 3.0]),
        ("atan2", [0.0, 1.0, -1.0], [1.0, 0.0, -2.0]),
    ]
    for op, a, b in cases:
        a, b = np.array(a), np.array(b)
        at, bt = _t(a, device, True), _t(b, device, True)
        ta, tb = torch.from_numpy(a).requires_grad_(True), torch.from_numpy(b).requires_grad_(True)
        getattr(torch, op)(ta, tb).sum().backward()
        getattr(dlcore, op)(at, bt).sum().backward()
        assert_close(at.grad, ta.grad.numpy(), rtol=1e-12, atol=0, msg=op)
        assert_close(bt.grad, tb.grad.numpy(), rtol=1e-12, atol=0, msg=op)
    x = np.array([0.01, 0.2, 0.5, 0.95, -0.5, 1.5])
    for eps in (None, 0.1):
        xt, tx = _t(x, device, True), torch.from_numpy(x).requires_grad_(True)
        torch.logit(tx, eps).sum().backward()
        dlcore.logit(xt, eps).sum().backward()
        assert_close(xt.grad, tx.grad.numpy(), rtol=1e-12, atol=0, msg=f"logit eps={eps}")
    x = np.array([1.0, np.nan, np.inf, -np.inf, -2.0])
    xt, tx = _t(x, device, True), torch.from_numpy(x).requires_grad_(True)
    torch.nan_to_num(tx).sum().backward()
    dlcore.nan_to_num(xt).sum().backward()
    assert_close(xt.grad, tx.grad.numpy(), rtol=0, atol=0)
    x = np.array([0.0, 0.5, -1.5])
    xt, tx = _t(x, device, True), torch.from_numpy(x).requires_grad_(True)
    torch.sinc(tx).sum().backward()
    dlcore.sinc(xt).sum().backward()
    assert_close(xt.grad, tx.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_saved_tensors_are_what_the_derivative_reads(device):
    """tan and erfinv keep their output (their input may change in place afterwards); sinh keeps its input."""
    for op in ["tan", "erfinv"]:
        x = _t(np.array([0.1, 0.3]), device, True)
        y = x * 1.0
        out = getattr(dlcore, op)(y)
        y.add_(1.0)
        out.sum().backward()
        tx = torch.tensor([0.1, 0.3], dtype=torch.float64, requires_grad=True)
        getattr(torch, op)(tx * 1.0).sum().backward()
        assert_close(x.grad, tx.grad.numpy(), rtol=1e-12, atol=0)
    x = _t(np.array([0.1, 0.3]), device, True)
    y = x * 1.0
    out = dlcore.sinh(y)
    y.add_(1.0)
    with pytest.raises(RuntimeError):
        out.sum().backward()


# ------------------------------------------------------------------------------------------------- in place

@pytest.mark.parametrize("op", ["asin", "acos", "atan", "sinh", "cosh", "tan", "asinh", "atanh", "erfc", "erfinv",
                                "lgamma", "digamma", "frac", "deg2rad", "rad2deg", "sinc"])
def test_unary_inplace(op, device, rng):
    x = rng.uniform(0.1, 0.9, (2, 3))
    t = _t(x, device)
    v0 = t._version
    r = getattr(t, op + "_")()
    assert r is t and t._version > v0
    assert_close(t, getattr(torch, op)(torch.from_numpy(x)).numpy(), rtol=1e-12, atol=1e-15)
    # recorded by autograd: the gradient flows through the in-place op as through the out-of-place one
    xt = _t(x, device, True)
    y = xt * 0.5
    getattr(y, op + "_")()
    y.sum().backward()
    tx = torch.from_numpy(x).requires_grad_(True)
    getattr(torch, op)(tx * 0.5).sum().backward()  # (torch records no derivative for some in-place forms)
    assert_close(xt.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    leaf = _t(x, device, True)
    with pytest.raises(RuntimeError, match="leaf"):
        getattr(leaf, op + "_")()


@pytest.mark.parametrize("op", ["atan2", "hypot", "copysign", "xlogy", "heaviside", "nextafter"])
def test_binary_inplace(op, device, rng):
    a = rng.uniform(0.1, 2, (2, 3))
    b = rng.uniform(0.1, 2, (1, 3))
    t = _t(a, device)
    getattr(t, op + "_")(_t(b, device))
    assert_close(t, getattr(torch, op)(torch.from_numpy(a), torch.from_numpy(b)).numpy(), rtol=1e-13, atol=0)
    if op in ("heaviside", "nextafter"):  # no derivative (torch raises at backward; dlcore at the op)
        y = _t(a, device, True) * 1.0
        with pytest.raises(RuntimeError, match=op):
            getattr(y, op + "_")(_t(b, device))
        return
    at, bt = _t(a, device, True), _t(b, device, True)
    y = at * 1.0
    getattr(y, op + "_")(bt)
    y.sum().backward()
    ta, tb = torch.from_numpy(a).requires_grad_(True), torch.from_numpy(b).requires_grad_(True)
    ty = ta * 1.0
    getattr(ty, op + "_")(tb)
    ty.sum().backward()
    assert_close(at.grad, ta.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert_close(bt.grad, tb.grad.numpy(), rtol=1e-10, atol=1e-12)
    i = _t(np.array([1, 2, 3]), device)
    if op in ("atan2", "copysign", "xlogy"):
        with pytest.raises(TypeError):
            getattr(i, op + "_")(_t(np.array([1, 1, 1]), device))


def test_inplace_forms_of_foundation_ops(device, rng):
    a = rng.standard_normal((2, 3))
    b = rng.standard_normal((2, 3))
    b[0, 0] = a[0, 0]
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    for name in ["eq_", "ne_", "lt_", "le_", "gt_", "ge_", "greater_", "greater_equal_", "less_", "less_equal_",
                 "not_equal_", "fmod_", "divide_", "multiply_",
                 "subtract_", "true_divide_", "copysign_", "ldexp_"]:
        t = _t(a, device)
        other = _t(b, device) if name != "ldexp_" else _t(np.array([1, -2, 3]), device)
        tother = tb if name != "ldexp_" else torch.tensor([1, -2, 3])
        getattr(t, name)(other)
        ref = getattr(ta.clone(), name)(tother)
        assert_close(t, ref.numpy(), rtol=1e-13, atol=0, msg=name)
    for name in ["absolute_", "negative_", "fix_", "sgn_"]:
        t = _t(a, device)
        getattr(t, name)()
        assert_close(t, getattr(ta.clone(), name)().numpy(), rtol=0, atol=0, msg=name)
    ia, ib = np.array([5, 3, -4]), np.array([3, 6, 2])
    for name in ["bitwise_and_", "bitwise_or_", "bitwise_xor_"]:
        t = _t(ia, device)
        getattr(t, name)(_t(ib, device))
        assert _np(t).tolist() == getattr(torch.from_numpy(ia.copy()), name)(torch.from_numpy(ib)).tolist()
    t = _t(ia, device)
    t.bitwise_not_()
    assert _np(t).tolist() == (~ia).tolist()
    # a comparison in place under autograd: the new values carry a zero gradient, as in torch
    x = _t(a, device, True)
    y = x * 1.0
    y.gt_(0.0)
    (y * 3.0).sum().backward()
    assert_close(x.grad, np.zeros_like(a), rtol=0, atol=0)


def test_small_composites(device):
    x = np.array([-np.inf, -1.0, 0.0, np.inf, np.nan])
    tx = torch.from_numpy(x)
    t = _t(x, device)
    assert _np(dlcore.isposinf(t)).tolist() == torch.isposinf(tx).tolist()
    assert _np(t.isneginf()).tolist() == torch.isneginf(tx).tolist()
    assert _np(dlcore.isreal(t)).tolist() == torch.isreal(tx).tolist()
    assert dlcore.positive(t) is t
    # (sgn is dlcore.sign, which keeps NaN as NumPy does; torch.sign/sgn give 0 there)
    assert_close(dlcore.sgn(t)[:4], torch.sgn(tx).numpy()[:4], rtol=0, atol=0)
    f = np.array([1.5, 2.0, 3.0], dtype=np.float32)
    e = np.array([2, -1, 0])
    out = dlcore.float_power(_t(f, device), _t(e, device))
    assert out.dtype == dlcore.float64
    assert_close(out, torch.float_power(torch.from_numpy(f), torch.from_numpy(e)).numpy(), rtol=1e-15, atol=0)
    assert_close(dlcore.ldexp(_t(f, device), _t(e, device)),
                 torch.ldexp(torch.from_numpy(f), torch.from_numpy(e)).numpy(), rtol=0, atol=0)
    with pytest.raises(RuntimeError, match="float_power_"):
        _t(f, device).float_power_(2.0)


# ------------------------------------------------------------------------------------------------- fuzz regressions

def test_atan2_grad_at_origin_is_zero_like_torch(device):
    # torch's atan2_backward replaces 1 / (a^2 + b^2) = inf at a = b = 0 by 0: the origin gets a zero gradient
    a = np.array([0.0, 0.0, -0.0, 1.0, 2.0])
    b = np.array([0.0, -0.0, 0.0, 0.0, -3.0])
    da, db = _t(a, device, True), _t(b, device, True)
    dlcore.atan2(da, db).sum().backward()
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    torch.atan2(ta, tb).sum().backward()
    assert_close(_np(da.grad), ta.grad.numpy(), rtol=1e-12, atol=0)
    assert_close(_np(db.grad), tb.grad.numpy(), rtol=1e-12, atol=0)
    assert np.all(np.isfinite(_np(da.grad))) and np.all(np.isfinite(_np(db.grad)))


@pytest.mark.filterwarnings("ignore:An output with one or more elements was resized")  # (inside torch.ldexp)
@pytest.mark.parametrize("da,db", [("float64", "int64"), ("float32", "int64"), ("int64", "int64"),
                                   ("float64", "float32"), ("int32", "float64")])
@pytest.mark.parametrize("zero_d", [False, True])
def test_ldexp_result_dtype_like_torch(da, db, zero_d, device):
    # torch: result_type(input, other) (a 0-d input promotes like any 0-d operand), the default float if integral
    a = np.array(1.5 if da.startswith("float") else 3).astype(da) if zero_d else np.array([1.5, -2.0, 3.0]).astype(da)
    b = np.array([1, -2, 3]).astype(db)
    got = dlcore.ldexp(_t(a, device), _t(b, device))
    want = torch.ldexp(torch.from_numpy(np.array(a)), torch.from_numpy(b))
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    assert_close(_np(got), want.numpy(), rtol=1e-6, atol=0)


def test_sgn_of_bool_is_a_copy_like_torch(device):
    x = _t(np.array([True, False, True]), device)
    got = dlcore.sgn(x)
    assert got.dtype == dlcore.bool and got is not x
    np.testing.assert_array_equal(_np(got), torch.sgn(torch.tensor([True, False, True])).numpy())
    np.testing.assert_array_equal(_np(x.sgn()), [True, False, True])
    assert x.sgn_() is x
