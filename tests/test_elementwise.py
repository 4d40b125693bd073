"""Elementwise ops vs NumPy: broadcasting, odd/empty shapes, non-contiguous inputs, type promotion, every ISA."""
import numpy as np
import pytest

import dlcore
from dlcore import _C
from dlcore.testing import assert_close
from conftest import requires_torch

SHAPE_PAIRS = [((), ()), ((1,), (7,)), ((3, 1), (1, 4)), ((17,), (17,)), ((2, 3, 5), (5,)), ((127,), ()),
               ((4, 1, 3), (2, 1)), ((0, 3), (3,)), ((2, 0), (1, 1)), ((5, 33, 3), (5, 33, 3))]

BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "maximum": np.maximum,
    "minimum": np.minimum,
}
CMP = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
       "ge": np.greater_equal}


def _t(a, device):
    return dlcore.from_numpy(np.array(a, order="C")).to(device)


def _noncontig(a, device):
    """The same values as a, as a non-contiguous view (a transposed copy transposed back)."""
    if a.ndim < 2:
        big = np.repeat(a[..., None], 2, axis=-1)
        return _t(big, device)[..., 0]
    return _t(np.ascontiguousarray(np.swapaxes(a, -1, -2)), device).transpose(-1, -2)


@pytest.mark.parametrize("sa,sb", SHAPE_PAIRS)
@pytest.mark.parametrize("op", list(BINARY))
def test_binary_broadcast(op, sa, sb, float_dtype, device, rng):
    a = rng.standard_normal(sa).astype(float_dtype)
    b = rng.standard_normal(sb).astype(float_dtype)
    if op == "div":
        b = np.where(np.abs(b) < 0.1, 0.5, b).astype(float_dtype)
    ref = BINARY[op](a.astype(np.float64), b.astype(np.float64))
    out = getattr(dlcore, op)(_t(a, device), _t(b, device))
    assert out.dtype.name == float_dtype
    assert_close(out, ref, rtol=1e-6 if float_dtype == "float32" else 1e-12, atol=1e-6)
    out2 = getattr(dlcore, op)(_noncontig(a, device), _noncontig(b, device))
    assert_close(out2, ref, rtol=1e-6 if float_dtype == "float32" else 1e-12, atol=1e-6)


@pytest.mark.parametrize("op", list(CMP))
def test_comparisons(op, device, rng):
    a = rng.integers(-3, 3, (4, 5)).astype(np.float32)
    b = rng.integers(-3, 3, (5,)).astype(np.float32)
    out = getattr(dlcore, op)(_t(a, device), _t(b, device))
    assert out.dtype == dlcore.bool
    np.testing.assert_array_equal(out.cpu().numpy(), CMP[op](a, b))
    np.testing.assert_array_equal(getattr(dlcore, op)(_t(a, device), 1).cpu().numpy(), CMP[op](a, 1))


@pytest.mark.parametrize("dt", ["int32", "int64", "uint8"])
def test_integer_arithmetic(dt, device, rng):
    a = rng.integers(0 if dt == "uint8" else -50, 50, (6, 7)).astype(dt)
    b = rng.integers(1, 9, (7,)).astype(dt)
    ta, tb = _t(a, device), _t(b, device)
    for op, ref in [("add", a + b), ("sub", a - b), ("mul", a * b), ("maximum", np.maximum(a, b)),
                    ("floor_divide", np.floor_divide(a, b)), ("remainder", np.remainder(a, b))]:
        out = getattr(dlcore, op)(ta, tb)
        assert out.dtype.name == dt, op
        np.testing.assert_array_equal(out.cpu().numpy(), ref, err_msg=op)
    # true division of integers gives float32
    d = ta / tb
    assert d.dtype == dlcore.float32
    assert_close(d, a / b.astype(np.float64), rtol=1e-6, atol=0)
    np.testing.assert_array_equal((ta & tb).cpu().numpy(), a & b)
    np.testing.assert_array_equal((ta ^ tb).cpu().numpy(), a ^ b)


def test_integer_division_by_zero_raises_not_crashes():
    a = dlcore.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="division by zero"):
        dlcore.floor_divide(a, dlcore.tensor([1, 0, 1]))
    with pytest.raises(RuntimeError, match="division by zero"):
        dlcore.remainder(a, 0)
    big = dlcore.tensor([-2 ** 63], dtype=dlcore.int64)
    assert dlcore.floor_divide(big, -1).tolist() == [-2 ** 63]  # wraps like torch, no SIGFPE


def test_python_float_remainder_floor_semantics():
    a = np.array([-7.5, 7.5, -3.0, 3.0, 0.5], np.float64)
    b = np.array([2.0, -2.0, 2.0, -2.0, 0.25], np.float64)
    assert_close(dlcore.remainder(_t(a, "cpu"), _t(b, "cpu")), np.remainder(a, b))
    assert_close(dlcore.floor_divide(_t(a, "cpu"), _t(b, "cpu")), np.floor_divide(a, b))


@requires_torch
def test_type_promotion_matches_torch():
    import torch
    dts = ["bool", "uint8", "int32", "int64", "float32", "float64"]
    scalars = [True, 2, 2.5]
    for da in dts:
        for db in dts:
            for shape_b in [(3,), ()]:
                a = dlcore.ones(3, dtype=getattr(dlcore, da))
                b = dlcore.ones(shape_b, dtype=getattr(dlcore, db))
                ta = torch.ones(3, dtype=getattr(torch, da))
                tb = torch.ones(shape_b, dtype=getattr(torch, db))
                assert (a * b).dtype.name == str((ta * tb).dtype).split(".")[1], (da, db, shape_b)
        for s in scalars:
            a = dlcore.ones(3, dtype=getattr(dlcore, da))
            ta = torch.ones(3, dtype=getattr(torch, da))
            assert (a * s).dtype.name == str((ta * s).dtype).split(".")[1], (da, s)
            if da != "bool":
                assert (a / 2).dtype.name == str((ta / 2).dtype).split(".")[1], (da, "div")


def test_scalar_operands_and_reflected(device):
    x = _t(np.array([1.0, 2.0, 4.0], np.float32), device)
    assert_close(2 - x, [1.0, 0.0, -2.0])
    assert_close(1 / x, [1.0, 0.5, 0.25])
    assert_close(x ** 2, [1.0, 4.0, 16.0])
    assert_close(2 ** x, [2.0, 4.0, 16.0])
    assert_close(-x, [-1.0, -2.0, -4.0])
    assert_close(x % 3, [1.0, 2.0, 1.0])
    assert (x * np.float32(2)).dtype == dlcore.float32


def test_inplace_ops_and_dtype_rules(device):
    x = _t(np.array([1.0, 2.0], np.float32), device)
    p = x.data_ptr()
    x += 1
    x *= dlcore.tensor([2.0, 3.0]).to(device)
    x.sub_(1, alpha=2)
    assert x.data_ptr() == p
    assert_close(x, [2.0, 7.0])
    i = dlcore.tensor([1, 2])
    with pytest.raises(TypeError, match="can't be cast"):
        i += 1.5
    i += 2
    assert i.tolist() == [3, 4]


UNARY_FLOAT = {
    "exp": (np.exp, (-80, 80)), "log": (np.log, (1e-3, 1e3)), "sqrt": (np.sqrt, (0, 100)),
    "tanh": (np.tanh, (-10, 10)), "sigmoid": (lambda v: 1 / (1 + np.exp(-v)), (-30, 30)),
    "abs": (np.abs, (-5, 5)), "neg": (np.negative, (-5, 5)), "floor": (np.floor, (-5, 5)),
    "ceil": (np.ceil, (-5, 5)), "round": (np.round, (-5, 5)), "trunc": (np.trunc, (-5, 5)),
    "sin": (np.sin, (-5, 5)), "cos": (np.cos, (-5, 5)), "log1p": (np.log1p, (-0.5, 5)),
    "expm1": (np.expm1, (-5, 5)), "rsqrt": (lambda v: 1 / np.sqrt(v), (0.1, 10)),
    "reciprocal": (np.reciprocal, (0.5, 5)), "sign": (np.sign, (-5, 5)), "square": (np.square, (-5, 5)),
    "log2": (np.log2, (0.1, 100)), "log10": (np.log10, (0.1, 100)), "exp2": (np.exp2, (-10, 10)),
}


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
@pytest.mark.parametrize("op", list(UNARY_FLOAT))
def test_unary_float(op, isa, float_dtype, device, rng):
    if isa == "avx512" and _C._cpu_isa_supported() != "avx512" or isa == "avx2" and _C._cpu_isa_supported() == "scalar":
        pytest.skip(f"this CPU has no {isa}")
    _C._set_cpu_isa(isa)
    fn, (lo, hi) = UNARY_FLOAT[op]
    a = rng.uniform(lo, hi, 1000 + 13).astype(float_dtype)
    ref = fn(a.astype(np.float64))
    out = getattr(dlcore, op)(_t(a, device))
    tol = 4e-7 if float_dtype == "float32" else 1e-14
    assert_close(out, ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
def test_vector_math_special_values(isa):
    if isa == "avx512" and _C._cpu_isa_supported() != "avx512":
        pytest.skip("no avx512")
    _C._set_cpu_isa(isa)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, 1e-38, -1e-38, 88.7, 89.0, -87.0, -103.0, -110.0,
                        1.0, -1.0, 3.4e38, 0.625, -0.625, 20.0, -20.0] * 2, np.float32)
    x = dlcore.from_numpy(special)
    with np.errstate(all="ignore"):
        s64 = special.astype(np.float64)
        for name, ref in [("exp", np.exp(s64)), ("log", np.log(s64)), ("tanh", np.tanh(s64)),
                          ("sigmoid", 1 / (1 + np.exp(-s64)))]:
            out = getattr(dlcore, name)(x)
            assert_close(out, ref.astype(np.float32), rtol=4e-7, atol=1e-37, msg=f"{name}[{isa}]")


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_pow_scalar_special_exponents_and_sign(isa, dt, device, rng):
    # x ** e for torch's special exponents (x*x, x*x*x, 1/x, 1/(x*x), sqrt: their own vectorised loops) and a
    # general one, on random values and the special ones (signed zeros, infinities, NaN), against NumPy float64;
    # sign on the same values (NaN -> 0 like torch, -0 -> 0).
    if isa == "avx512" and _C._cpu_isa_supported() != "avx512" or isa == "avx2" and _C._cpu_isa_supported() == "scalar":
        pytest.skip(f"this CPU has no {isa}")
    _C._set_cpu_isa(isa)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30, 1.0, -1.0, 3e10, -3e10])
    x = np.concatenate([rng.uniform(-4, 4, 1000 + 13), rng.uniform(0.01, 4, 100), special]).astype(dt)
    tol = 4e-7 if dt == "float32" else 1e-14
    with np.errstate(all="ignore"):
        for e in [2.0, 3.0, -1.0, -2.0, 0.5, 1.0, 0.0, 1.7, -0.5]:
            ref = np.power(x.astype(np.float64), float(np.array(e, dt))).astype(dt)  # (the exponent in x's dtype)
            out = (_t(x, device) ** e).cpu().numpy()
            assert (np.isnan(out) == np.isnan(ref)).all(), e
            fin = np.isfinite(ref)
            assert (out[~fin & ~np.isnan(ref)] == ref[~fin & ~np.isnan(ref)]).all(), e
            assert_close(out[fin], ref[fin], rtol=tol, atol=1e-37, msg=f"x ** {e}")  # (atol: float32 denormals)
        sg = dlcore.sign(_t(x, device))
        sg = sg.cpu().numpy()
        ref = np.nan_to_num(np.sign(x), nan=0.0)  # torch: sign(NaN) = 0 (NumPy keeps NaN)
        assert np.array_equal(sg, ref)


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
def test_log1p_expm1_accuracy_and_special_values(isa, device):
    """log1p / expm1 (vectorised for float32) relative to float64 down to tiny arguments, where log(1 + x) and
    exp(x) - 1 cancel, over their range, and at the special values (signed zeros kept, -1 -> -inf, overflow)."""
    if device == "cpu":
        if isa == "avx512" and _C._cpu_isa_supported() != "avx512" or isa == "avx2" and _C._cpu_isa_supported() == "scalar":
            pytest.skip(f"this CPU has no {isa}")
        _C._set_cpu_isa(isa)
    elif isa != "avx512":
        pytest.skip("one cuda run is enough")
    mag = np.logspace(-38, 1.5, 3000)
    for name, ref_fn, xs in (
            ("log1p", np.log1p, np.concatenate([mag, -mag[mag < 0.999], np.linspace(-0.9999, 1e4, 3001), [3e38]])),
            ("expm1", np.expm1, np.concatenate([mag, -mag, np.linspace(-110.0, 88.7, 3001), [88.72]]))):
        x = xs.astype(np.float32)
        ref = ref_fn(x.astype(np.float64))
        out = getattr(dlcore, name)(_t(x, device)).cpu().numpy().astype(np.float64)
        normal = np.abs(ref) > 1.2e-38
        rel = np.abs(out - ref)[normal] / np.abs(ref[normal])
        assert rel.max() < 3e-7, (name, isa, rel.max(), x[normal][np.argmax(rel)])
        assert np.abs(out[~normal] - ref[~normal]).max() < 1e-44, name
    special = np.array([0.0, -0.0, -1.0, np.inf, -np.inf, np.nan, -1.5, 100.0, -1e-30] * 2, np.float32)
    with np.errstate(all="ignore"):
        for name, ref_fn in (("log1p", np.log1p), ("expm1", np.expm1)):
            out = getattr(dlcore, name)(_t(special, device)).cpu().numpy()
            ref = ref_fn(special)
            np.testing.assert_array_equal(out, ref, err_msg=name)  # (NaN = NaN here)
            assert (np.signbit(out) == np.signbit(ref))[~np.isnan(ref)].all(), name


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
def test_vectorised_math_wide_ranges_and_special_values(isa, rng):
    """sin/cos/tan (Cephes' reduction up to 8192, libm beyond), log2/log10/exp2, floor/ceil/trunc/frac, atanh: float32
    against float64 over wide ranges (relative, or absolute where the value crosses zero), exact where exactness
    is expected (log2 of powers of two, exp2 of integers, the rounding ops), and at the special values."""
    if isa == "avx512" and _C._cpu_isa_supported() != "avx512" or isa == "avx2" and _C._cpu_isa_supported() == "scalar":
        pytest.skip(f"this CPU has no {isa}")
    _C._set_cpu_isa(isa)
    big = np.array([8191.9, 8192.0, 8192.5, 1e5, -3e6, 1e30, -1e38], np.float32)
    x = np.concatenate([rng.uniform(-8192, 8192, 4000), rng.uniform(-10, 10, 2000), big]).astype(np.float32)
    for name, f64 in (("sin", np.sin), ("cos", np.cos)):
        out = getattr(dlcore, name)(dlcore.from_numpy(x)).numpy().astype(np.float64)
        assert_close(out, f64(x.astype(np.float64)), rtol=4e-7, atol=3e-7, msg=f"{name}[{isa}]")
    # tan relative everywhere, next to the poles too (the reduction in double keeps r's relative accuracy)
    poles = (np.round(rng.uniform(-5000, 5000, 2000)) + 0.5) * np.pi
    tx = np.concatenate([x, poles, np.nextafter(poles.astype(np.float32), np.float32(0))]).astype(np.float32)
    out = dlcore.tan(dlcore.from_numpy(tx)).numpy().astype(np.float64)
    ref = np.tan(tx.astype(np.float64))
    assert (np.abs(out - ref) / np.abs(ref)).max() < 3e-7, f"tan[{isa}]"
    pos = np.concatenate([np.logspace(-37, 38, 3000), rng.uniform(0.5, 2.0, 1000)]).astype(np.float32)
    for name, f64 in (("log2", np.log2), ("log10", np.log10)):
        out = getattr(dlcore, name)(dlcore.from_numpy(pos)).numpy().astype(np.float64)
        assert_close(out, f64(pos.astype(np.float64)), rtol=3e-7, atol=3e-7, msg=f"{name}[{isa}]")
    p2 = np.ldexp(np.float32(1), np.arange(-149, 128)).astype(np.float32)
    assert (dlcore.log2(dlcore.from_numpy(p2)).numpy() == np.arange(-149, 128)).all()
    e = np.concatenate([rng.uniform(-149, 127.9, 3000), np.arange(-160, 140)]).astype(np.float32)
    out = dlcore.exp2(dlcore.from_numpy(e)).numpy()
    ref = np.exp2(e.astype(np.float64))
    normal = (ref > 1.2e-38) & (ref < 3.4e38)
    assert_close(out[normal].astype(np.float64), ref[normal], rtol=3e-7, atol=0, msg=f"exp2[{isa}]")
    ints = np.arange(-149, 128).astype(np.float32)
    assert (dlcore.exp2(dlcore.from_numpy(ints)).numpy() == np.ldexp(np.float32(1), np.arange(-149, 128))).all()
    r = np.concatenate([rng.uniform(-20, 20, 2000), [0.5, -0.5, 1.5, -2.5, 1e30, -1e30, 8388607.5, -0.0, 0.0]])
    r = r.astype(np.float32)
    rd = dlcore.from_numpy(r)
    for name, f in (("floor", np.floor), ("ceil", np.ceil), ("trunc", np.trunc), ("frac", lambda v: v - np.trunc(v))):
        out = getattr(dlcore, name)(rd).numpy()
        np.testing.assert_array_equal(out, f(r), err_msg=name)
        assert (np.signbit(out) == np.signbit(f(r))).all() or name == "frac", name
    a = np.concatenate([rng.uniform(-0.9999, 0.9999, 2000), np.logspace(-38, -1, 500),
                        -np.logspace(-38, -1, 500)]).astype(np.float32)
    out = dlcore.atanh(dlcore.from_numpy(a)).numpy().astype(np.float64)
    ref = np.arctanh(a.astype(np.float64))
    nz = np.abs(ref) > 1.2e-38
    assert (np.abs(out[nz] - ref[nz]) / np.abs(ref[nz])).max() < 4e-7
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 2.0, -3.0, 1e-40] * 2, np.float32)
    sd = dlcore.from_numpy(special)
    with np.errstate(all="ignore"):
        for name, f in (("sin", np.sin), ("cos", np.cos), ("tan", np.tan), ("log2", np.log2), ("log10", np.log10),
                        ("exp2", np.exp2), ("floor", np.floor), ("ceil", np.ceil), ("trunc", np.trunc),
                        ("atanh", np.arctanh)):
            out = getattr(dlcore, name)(sd).numpy()
            ref = f(special)
            assert (np.isnan(out) == np.isnan(ref)).all(), name
            fin = ~np.isnan(ref)
            assert_close(out[fin], ref[fin], rtol=4e-7, atol=1e-44, msg=f"{name}[{isa}] special")
            z = fin & (ref == 0)
            assert (np.signbit(out[z]) == np.signbit(ref[z])).all(), name


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
def test_pow_general_exponent_accuracy_and_domain(isa, rng):
    """x ** e for exponents without a special loop (the AVX-512 vector power in double): within 1 ulp of the
    float64 power over 1e-38..3e38 (overflow to inf and underflow to 0 and subnormals included), and the lanes
    outside its domain (0, -0, negatives, inf, NaN) as std::pow, mixed in one vector and in the tail."""
    if isa == "avx512" and _C._cpu_isa_supported() != "avx512" or isa == "avx2" and _C._cpu_isa_supported() == "scalar":
        pytest.skip(f"this CPU has no {isa}")
    _C._set_cpu_isa(isa)
    x = np.concatenate([np.logspace(-38, 38.5, 5001), rng.uniform(0.5, 2, 1000), [1.0, 2.0, 4.0]]).astype(np.float32)
    for e in (2.5, 0.75, -0.75, -1.75, 1.0 / 3, 7.0, -3.0, 0.1, 11.5, -40.0, 1e-3):
        with np.errstate(over="ignore"):
            ref = np.power(x.astype(np.float64), np.float64(np.float32(e)))
        out = (dlcore.from_numpy(x) ** e).numpy().astype(np.float64)
        # the same exponent as a tensor (binary pow, broadcast) and per element (a vector of exponents)
        np.testing.assert_array_equal((dlcore.from_numpy(x) ** dlcore.tensor(np.float32(e))).numpy(), out)
        ev = np.full(x.shape, e, np.float32)
        np.testing.assert_array_equal(dlcore.pow(dlcore.from_numpy(x), dlcore.from_numpy(ev)).numpy(), out)
        ok = (ref > 1.2e-38) & (ref < 3.4e38)
        rel = np.abs(out[ok] - ref[ok]) / ref[ok]
        assert rel.max() < 1.2e-7, (e, rel.max(), x[ok][np.argmax(rel)])
        assert (out[ref >= 3.5e38] == np.inf).all() and (np.abs(out[ref < 1e-46]) == 0).all(), e
        sub = (ref <= 1.2e-38) & (ref >= 1e-44)
        assert np.abs(out[sub] - ref[sub]).max(initial=0) <= 1.5e-45, e
    special = np.array([0.0, -0.0, -2.0, -0.5, np.inf, -np.inf, np.nan, 3.0, 1.0, 5e-40] * 3 + [-8.0, 2.0],
                       np.float32)
    with np.errstate(all="ignore"):
        for e in (2.5, -0.75, 3.0, -3.0, 1.0 / 3, 0.5001):
            out = (dlcore.from_numpy(special) ** e).numpy()
            ref = np.power(special, np.float32(e))
            ev = np.full(special.shape, e, np.float32)
            ev[::7] = [np.nan, np.inf, -np.inf, 0.0, -0.0][: len(ev[::7])]  # exponents outside the vector domain
            got2 = dlcore.pow(dlcore.from_numpy(special), dlcore.from_numpy(ev)).numpy()
            ref2 = np.power(special, ev)
            assert_close(got2[~np.isnan(ref2)], ref2[~np.isnan(ref2)], rtol=2e-7, atol=1e-44, msg=f"pow {e} vec")
            assert (np.isnan(got2) == np.isnan(ref2)).all()
            assert (np.isnan(out) == np.isnan(ref)).all(), e
            fin = ~np.isnan(ref)
            assert_close(out[fin], ref[fin], rtol=2e-7, atol=1e-44, msg=f"pow {e} special")
            z = fin & (ref == 0)
            assert (np.signbit(out[z]) == np.signbit(ref[z])).all(), e


def test_erf_accuracy():
    import math
    a = np.linspace(-6, 6, 4001).astype(np.float32)
    ref = np.array([math.erf(float(v)) for v in a])
    for isa in ["scalar", _C._cpu_isa_supported()]:
        _C._set_cpu_isa(isa)
        assert_close(dlcore.erf(dlcore.from_numpy(a)), ref, rtol=5e-7, atol=2e-7)


@pytest.mark.parametrize("dt", ["float32", "float64", "int64", "uint8", "bool", "float16", "int16"])
def test_where_random_masks_every_operand_layout(dt, rng):
    """where's branch-free cpu rows: random masks with values contiguous, broadcast rows/columns or scalars,
    strided (the generic loop), against np.where; masked_fill on top of it."""
    shape = (37, 301)
    c = rng.random(shape) > 0.5
    a = (rng.standard_normal(shape) * 20).astype(dt)
    b = (rng.standard_normal(shape) * 20).astype(dt)
    row = (rng.standard_normal((1, 301)) * 20).astype(dt)
    col = (rng.standard_normal((37, 1)) * 20).astype(dt)
    C, A, B = dlcore.tensor(c), dlcore.tensor(a), dlcore.tensor(b)
    for x, xn in ((A, a), (dlcore.tensor(row), row), (dlcore.tensor(col), col), (dlcore.tensor(a[0, 0]), a[0, 0])):
        for y, yn in ((B, b), (dlcore.tensor(row), row), (dlcore.tensor(b[1, 1]), b[1, 1])):
            np.testing.assert_array_equal(dlcore.where(C, x, y).numpy(), np.where(c, xn, yn))
    At = dlcore.tensor(np.ascontiguousarray(a.T)).t()  # strided
    np.testing.assert_array_equal(dlcore.where(C, At, B).numpy(), np.where(c, a, b))
    if dt != "bool":
        np.testing.assert_array_equal(A.masked_fill(C, 3).numpy(), np.where(c, np.array(3).astype(dt), a))


def test_add_inplace_alpha_fused_and_composed_paths(rng, device):
    """Tensor.add_(other, alpha=a): the fused cpu pass (same shape, dtype, contiguous floats) and the composed
    path (broadcast, mixed dtypes, views, other devices, autograd) give self + a * other; the version counter
    moves (a saved tensor modified in place is caught)."""
    y = rng.standard_normal((64, 33)).astype(np.float32)
    x = rng.standard_normal((64, 33)).astype(np.float32)
    for other, on in ((x, x), (x[0], x[0]), (x.astype(np.float64), x)):
        t = dlcore.tensor(y, device=device)
        v0 = t._version
        r = t.add_(dlcore.tensor(other, device=device), alpha=-0.37)
        assert r is t and t._version > v0
        assert_close(t.cpu().numpy(), y + np.float32(-0.37) * on.astype(np.float32), rtol=1e-6, atol=1e-6)
    t = dlcore.tensor(y, device=device)
    t.add_(t, alpha=2.0)  # self as other
    assert_close(t.cpu().numpy(), 3 * y, rtol=1e-6, atol=1e-6)
    w = dlcore.tensor(y, device=device, requires_grad=True)
    c = dlcore.tensor(x, device=device)
    prod = w * c  # saves c, which needs no grad: the fused pass takes c.add_
    c.add_(dlcore.tensor(y, device=device), alpha=0.5)
    with pytest.raises(RuntimeError, match="modified by an inplace|version"):
        prod.sum().backward()
    g = dlcore.tensor(y, device=device, requires_grad=True)
    z = g * 2.0
    z.add_(dlcore.tensor(x, device=device), alpha=3.0)  # recorded: d/dg = 2
    z.sum().backward()
    assert_close(g.grad.cpu().numpy(), np.full_like(y, 2.0))


def test_where_and_clamp(device, rng):
    a = rng.standard_normal((4, 5)).astype(np.float32)
    c = a > 0
    assert_close(dlcore.where(_t(c, device), _t(a, device), 0.0), np.where(c, a, 0.0))
    assert_close(dlcore.clamp(_t(a, device), -0.5, 0.5), np.clip(a, -0.5, 0.5))
    assert_close(_t(a, device).clamp(min=0), np.maximum(a, 0))
    nanx = dlcore.tensor([float("nan"), 1.0])
    assert np.isnan(nanx.clamp(0, 0.5).numpy()[0])


def test_logical_and_bool_ops():
    a = dlcore.tensor([True, False, True])
    b = dlcore.tensor([1.0, 1.0, 0.0])
    assert dlcore.logical_and(a, b).tolist() == [True, False, False]
    assert dlcore.logical_or(a, b).tolist() == [True, True, True]
    assert dlcore.logical_xor(a, b).tolist() == [False, True, True]
    assert (~a).tolist() == [False, True, False]
    assert dlcore.logical_not(b).tolist() == [False, False, True]
    assert (a + a).tolist() == [True, False, True]
    with pytest.raises(TypeError, match="bool"):
        a - a


def test_isnan_isinf_isfinite():
    x = dlcore.tensor([1.0, float("nan"), float("inf"), -float("inf")])
    assert dlcore.isnan(x).tolist() == [False, True, False, False]
    assert dlcore.isinf(x).tolist() == [False, False, True, True]
    assert dlcore.isfinite(x).tolist() == [True, False, False, False]


def test_half_arithmetic_computes_in_float():
    a = dlcore.tensor([1.5, 2.25]).half()
    b = (a * 2 + 1)
    assert b.dtype == dlcore.float16
    assert b.float().tolist() == [4.0, 5.5]


def test_large_threaded_elementwise(rng):
    a = rng.standard_normal((1000, 1001)).astype(np.float32)
    x = dlcore.from_numpy(a)
    for n in (1, 2):
        dlcore.set_num_threads(n)
        assert_close(dlcore.exp(x[:, ::2]), np.exp(a[:, ::2].astype(np.float64)), rtol=4e-7, atol=0)
        assert_close(x + x.t()[:1001, :1000].t() if False else x * 2 + 1, a.astype(np.float64) * 2 + 1)


# ----------------------------------------------------------------------------------------- remainder/fmod grads

def _f64(v, grad=True):
    return dlcore.tensor(np.asarray(v, dtype=np.float64), requires_grad=grad)


def test_remainder_gradients_tensor_tensor():
    a0, b0 = np.array([5.5, -3.2, 7.0]), np.array([2.0, 2.0, -3.0])
    w = np.array([1.0, 2.0, 3.0])
    a, b = _f64(a0), _f64(b0)
    r = dlcore.remainder(a, b)
    assert r.requires_grad
    np.testing.assert_allclose(r.detach().numpy(), np.remainder(a0, b0), rtol=1e-12)
    (r * dlcore.tensor(w, dtype=dlcore.float64)).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), w)
    np.testing.assert_array_equal(b.grad.numpy(), -w * np.floor(a0 / b0))


def test_remainder_gradients_scalar_operands_and_operator():
    a0 = np.array([5.5, -3.2, 7.0])
    a, b = _f64(a0), _f64([2.0, 4.0, -3.0])
    ((a % 2.0) + (7.0 % b)).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.ones(3))
    np.testing.assert_array_equal(b.grad.numpy(), -np.floor(7.0 / np.array([2.0, 4.0, -3.0])))


def test_fmod_values_and_gradients():
    a0, b0 = np.array([5.5, -3.2, 7.0, -7.0]), np.array([2.0, 2.0, -3.0, -3.0])
    a, b = _f64(a0), _f64(b0)
    r = dlcore.fmod(a, b)
    np.testing.assert_allclose(r.detach().numpy(), np.fmod(a0, b0), rtol=1e-12)
    r.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.ones(4))
    np.testing.assert_array_equal(b.grad.numpy(), -np.trunc(a0 / b0))
    i = dlcore.fmod(dlcore.tensor([-7, 7, -7, 6]), dlcore.tensor([3, -3, -3, 3]))
    assert i.dtype == dlcore.int64
    np.testing.assert_array_equal(i.numpy(), np.fmod([-7, 7, -7, 6], [3, -3, -3, 3]))


# ------------------------------------------------------------------------------------------------- zero gradients

@pytest.mark.parametrize("name", ["sign", "floor", "ceil", "trunc", "round"])
def test_piecewise_constant_backward_is_zeros_not_g_times_zero(name):
    x = _f64([0.0, 1.5, -2.5])
    getattr(dlcore, name)(x).backward(dlcore.tensor([np.inf, np.nan, -np.inf], dtype=dlcore.float64))
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(3))


def test_clamp_backward_is_zero_outside_with_inf_grad():
    x = _f64([-2.0, 0.5, 3.0])
    dlcore.clamp(x, -1.0, 1.0).backward(dlcore.tensor([np.inf, 2.0, np.nan], dtype=dlcore.float64))
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 2.0, 0.0])


def test_lp_pool_zero_window_gradient_is_finite():
    import dlcore.nn.functional as F
    x = dlcore.tensor(np.array([0.0, 0.0, 1.0, 1.0]).reshape(1, 1, 1, 4), requires_grad=True)
    F.lp_pool2d(x, 2, (1, 2)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy().ravel(), [0.0, 0.0, 2 ** -0.5, 2 ** -0.5], rtol=1e-12)


# ------------------------------------------------------------------------------------------------- int promotion

def test_clamp_int_tensor_with_float_bounds_promotes():
    a = dlcore.tensor([-7, 1, 7])
    r = a.clamp(0.5, 3.5)
    assert r.dtype == dlcore.float32
    np.testing.assert_array_equal(r.numpy(), [0.5, 1.0, 3.5])
    r = a.clamp(max=2.5)
    assert r.dtype == dlcore.float32
    np.testing.assert_array_equal(r.numpy(), [-7.0, 1.0, 2.5])
    r = a.clamp(0, 3)
    assert r.dtype == dlcore.int64
    np.testing.assert_array_equal(r.numpy(), [0, 1, 3])


def test_div_trunc_of_integers_stays_integer():
    a0, b0 = np.array([-7, 7, -6, 6, 0, -1]), np.array([-2, -2, 4, -4, 3, 5])
    r = dlcore.div(dlcore.tensor(a0), dlcore.tensor(b0), rounding_mode="trunc")
    assert r.dtype == dlcore.int64
    np.testing.assert_array_equal(r.numpy(), np.trunc(a0 / b0).astype(np.int64))
    r = dlcore.div(dlcore.tensor(a0), 2, rounding_mode="trunc")
    assert r.dtype == dlcore.int64
    np.testing.assert_array_equal(r.numpy(), np.trunc(a0 / 2).astype(np.int64))
    r = dlcore.div(7, dlcore.tensor([-2, 3]), rounding_mode="trunc")
    np.testing.assert_array_equal(r.numpy(), [-3, 2])
    f = dlcore.div(dlcore.tensor([-7.0, 7.0]), 2, rounding_mode="trunc")
    assert f.dtype == dlcore.float32
    np.testing.assert_array_equal(f.numpy(), [-3.0, 3.0])


def test_sign_of_bool_is_a_copy_like_torch(device):
    b = dlcore.tensor([True, False, True], device=device)
    for out in (dlcore.sign(b), b.sign()):
        assert out.dtype == dlcore.bool and out.cpu().numpy().tolist() == [True, False, True]
        assert out.data_ptr() != b.data_ptr()


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
def test_clamp_bounds_nan_and_long_runs(dtype, rng):
    """clamp with both, only the lower or only the upper bound, crossed bounds (hi wins, as torch), NaN kept,
    infinities, over runs longer than a vector (the vectorised loop) and their tails: equal to NumPy's where."""
    n = 1037
    if dtype.startswith("float"):
        a = (rng.standard_normal(n) * 2).astype(dtype)
        a[[3, 500, n - 1]] = np.nan
        a[[7, 8]] = [np.inf, -np.inf]
    else:
        a = rng.integers(-50, 50, n).astype(dtype)
    x = dlcore.tensor(a)
    for lo, hi in [(-0.5, 1.5), (None, 0.25), (-1.0, None), (2.0, -2.0)]:
        if not dtype.startswith("float"):
            lo, hi = (None if lo is None else int(lo * 10)), (None if hi is None else int(hi * 10))
        ref = a.copy()
        if lo is not None:
            ref = np.where(ref < lo, np.array(lo, dtype), ref)
        if hi is not None:
            ref = np.where(ref > hi, np.array(hi, dtype), ref)
        np.testing.assert_array_equal(x.clamp(lo, hi).numpy(), ref)
        y = dlcore.tensor(a)
        y.clamp_(lo, hi)
        np.testing.assert_array_equal(y.numpy(), ref)


@pytest.mark.parametrize("n", [12, 16, 37])
def test_broadcast_negative_zero_keeps_its_sign(n):
    """A broadcast -0.0 operand reaches the vector loops as a splat that must keep the sign of zero (0 + -0.0 is
    +0.0): pow(-0.0, odd) and atan2(-0.0, negative) depend on it, at every length (vector body and tail)."""
    with np.errstate(divide="ignore"):
        e = np.array([-1.0, 3.0, -3.0, 2.0, 0.5] * 8, np.float32)[:n]
        got = dlcore.pow(-0.0, dlcore.tensor(e)).numpy()
        ref = np.power(np.float32(-0.0), e)
        np.testing.assert_array_equal(got, ref)
        assert (np.signbit(got) == np.signbit(ref)).all()
        got = dlcore.pow(dlcore.tensor(-0.0).expand(n), dlcore.tensor(e)).numpy()
        assert (np.signbit(got) == np.signbit(ref)).all()
    x = -np.abs(np.linspace(0.5, 3, n)).astype(np.float32)
    got = dlcore.atan2(dlcore.tensor(-0.0).expand(n), dlcore.tensor(x)).numpy()
    np.testing.assert_array_equal(got, np.arctan2(np.float32(-0.0), x))


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
def test_vector_hypot_and_logit(isa, rng):
    """hypot (in double, one rounding) and logit (clamped by eps when given) on the vector paths against float64
    NumPy: huge and tiny operands (no overflow or underflow), infinities over NaN, the clamp, NaN kept."""
    if isa == "avx512" and _C._cpu_isa_supported() != "avx512" or isa == "avx2" and _C._cpu_isa_supported() == "scalar":
        pytest.skip(f"this CPU has no {isa}")
    _C._set_cpu_isa(isa)
    a = np.concatenate([rng.standard_normal(3000) * 10.0 ** rng.integers(-40, 39, 3000),
                        [3e38, -3e38, 1e-45, 0.0, -0.0, np.inf, -np.inf, np.nan, np.inf, np.nan, 5.0]])
    b = np.concatenate([rng.standard_normal(3000) * 10.0 ** rng.integers(-40, 39, 3000),
                        [3e38, 3e38, 1e-45, -0.0, 0.0, np.nan, 2.0, np.inf, -np.inf, 1.0, np.nan]])
    a, b = a.astype(np.float32), b.astype(np.float32)
    with np.errstate(all="ignore"):
        got = dlcore.hypot(dlcore.from_numpy(a), dlcore.from_numpy(b)).numpy()
        ref = np.hypot(a.astype(np.float64), b.astype(np.float64)).astype(np.float32)  # (finite: correctly rounded)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    fin = ~np.isnan(ref)
    assert_close(got[fin].astype(np.float64), ref[fin].astype(np.float64), rtol=1.2e-7, atol=0, msg=f"hypot[{isa}]")
    p = np.concatenate([rng.uniform(0, 1, 3000), np.logspace(-38, -1, 300), 1 - np.logspace(-7, -1, 300),
                        [0.0, 1.0, np.nan, -0.5, 1.5]]).astype(np.float32)
    pd = dlcore.from_numpy(p)
    with np.errstate(all="ignore"):
        p64 = p.astype(np.float64)
        for eps in (None, 1e-6, 0.2):
            got = dlcore.logit(pd, eps).numpy().astype(np.float64)
            q = p64 if eps is None else np.where(np.isnan(p64), p64, np.clip(p64, np.float32(eps),
                                                                               np.float32(1) - np.float32(eps)))
            ref = np.log(q / (1 - q))
            np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
            fin = np.isfinite(ref)
            np.testing.assert_array_equal(got[~fin & ~np.isnan(ref)], ref[~fin & ~np.isnan(ref)])
            # x / (1 - x) is rounded to float32 first (as torch does): a relative 1e-7 there, then log's own error
            assert_close(got[fin], ref[fin], rtol=2e-6, atol=3e-7, msg=f"logit eps={eps} [{isa}]")
