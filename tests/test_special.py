"""dlcore.special against torch.special (CPU) and, where torch is the less accurate of the two (erfcx, ndtr's lower
tail, log_ndtr's far-tail gradient), against float64/multi-precision oracles: values on float32 and float64 over
ranges with edge values (0, -0, +-inf, NaN, tiny and huge magnitudes), dtype promotion, out=, float64 gradients and
second derivatives against torch's, finite-difference gradient checks, and the error cases."""
import math

import numpy as np
import pytest

import dlcore
from dlcore.testing import gradcheck

torch = pytest.importorskip("torch")

S = dlcore.special
T = torch.special

EDGE = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30, 1e30, -1e30, 1.0, -1.0, 0.5, -0.5]


def _t(a, device, dtype=None, requires_grad=False):
    a = np.array(a, dtype=dtype, order="C")
    t = dlcore.from_numpy(a).to(device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _np(t):
    return t.detach().cpu().numpy()


def _check(actual, expected, rtol, atol=0.0, what=""):
    """Same NaN pattern and same infinities; |a - e| <= atol + rtol |e| elsewhere (first offenders shown)."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    assert np.array_equal(np.isnan(a), np.isnan(e)), f"{what}: NaN at {np.flatnonzero(np.isnan(a) != np.isnan(e))[:5]}"
    fin = np.isfinite(e)
    assert np.array_equal(a[~fin & ~np.isnan(e)], e[~fin & ~np.isnan(e)]), f"{what}: infinities differ"
    err = np.abs(a[fin] - e[fin])
    if np.ndim(rtol):  # a per-element tolerance (conditioning)
        rtol = np.broadcast_to(np.asarray(rtol, dtype=np.float64), e.shape)[fin]
    bad = err > atol + rtol * np.abs(e[fin])
    if bad.any():
        idx = np.flatnonzero(fin)[bad][:5]
        raise AssertionError(f"{what}: {bad.sum()} mismatches, e.g. at {idx}: got {a.ravel()[idx]}, "
                             f"expected {e.ravel()[idx]}")


def _u(lo, hi, n=240):
    return lambda rng: rng.uniform(lo, hi, n)


def _logu(lo, hi, n=60):
    return lambda rng: np.exp(rng.uniform(math.log(lo), math.log(hi), n))


# name -> (samplers, extra values, float32 rtol, float64 rtol, atol)
UNARY = {
    "expit": ([_u(-30, 30)], EDGE + [88.0, -88.0, 100.0, -100.0], 2e-6, 1e-14, 0),
    "erf": ([_u(-5, 5)], EDGE, 2e-6, 1e-14, 1e-30),
    "erfc": ([_u(-5, 9)], EDGE + [9.0, 20.0, -6.0], 4e-6, 1e-13, 0),
    "erfinv": ([_u(-0.99, 0.99)], EDGE + [0.99, -0.99, 1e-8], 4e-6, 1e-12, 1e-30),
    "exp2": ([_u(-100, 100)], EDGE + [127.0, 128.0, -149.0, 1023.0, -1074.0], 2e-6, 1e-14, 0),
    "expm1": ([_u(-20, 20), _logu(1e-12, 1e-3)], EDGE + [88.0, 1e-10, -1e-10], 2e-6, 1e-14, 0),
    "log1p": ([_u(-0.999, 30), _logu(1e-12, 1e-3)], EDGE + [-1.0, -2.0, 1e-10, -1e-10], 2e-6, 1e-14, 0),
    "gammaln": ([_u(0.01, 30)], EDGE + [-2.5, -3.0, 3.0, 1e-8, 171.0, 1e20], 4e-6, 1e-12, 1e-6),
    "digamma": ([_u(0.05, 30)], EDGE + [-2.5, -3.0, -0.3, 10.0, 1e-8, 1e18], 4e-6, 1e-12, 1e-6),
    "psi": ([_u(0.05, 30)], EDGE + [-2.5], 4e-6, 1e-12, 1e-6),
    "sinc": ([_u(-5, 5)], EDGE + [1e-8, 3.0], 2e-6, 1e-12, 1e-7),
    "entr": ([_u(-1, 10), _logu(1e-30, 1e-3)], EDGE, 2e-6, 1e-14, 0),
    "ndtr": ([_u(-5, 8)], EDGE + [-5.0, 5.0, 40.0], 4e-6, 1e-14, 0),
    "log_ndtr": ([_u(-40, 8), lambda rng: -_logu(40, 1e4)(rng)], EDGE + [-1.0, -1.0001, 30.0, -1e5, -1e10],
                 2e-6, 1e-13, 0),
    "ndtri": ([_u(0, 1), _logu(1e-300, 1e-2), lambda rng: 1.0 - _logu(1e-15, 0.1)(rng)],
              EDGE + [2.0, -0.1, 0.13533528323661269189, 1 - 0.13533528323661269189, 1e-14, 1e-200], 2e-6, 1e-14, 0),
    "i0": ([_u(-30, 30), _logu(1e-10, 700)], EDGE + [8.0, -8.0, 1e-8, 700.0], 2e-6, 4e-15, 0),
    "i0e": ([_u(-30, 30), _logu(1e-10, 1e6)], EDGE + [8.0, -8.0, 1e300], 2e-6, 4e-15, 0),
    "i1": ([_u(-30, 30), _logu(1e-10, 700)], EDGE + [8.0, -8.0, 1e-8, -700.0], 2e-6, 6e-15, 1e-300),
    "i1e": ([_u(-30, 30), _logu(1e-10, 1e6)], EDGE + [8.0, -8.0, 1e300], 2e-6, 6e-15, 1e-300),
}


def _inputs(name, rng, dtype):
    samplers, extra, *_ = UNARY[name]
    with np.errstate(over="ignore"):
        x = np.concatenate([s(rng) for s in samplers] + [np.array(extra)]).astype(dtype)
    if dtype == np.float32 and name in ("i0", "i1"):
        # torch's float32 kernel overflows exp(|x|) from 88.72 on, though I0/I1 stay finite to ~91.9
        x = x[~((np.abs(x) > 88.5) & (np.abs(x) < 92.5))]
    return x


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unary_matches_torch(name, dtype, device, rng):
    _, _, rtol32, rtol64, atol = UNARY[name]
    x = _inputs(name, rng, dtype)
    got = _np(getattr(S, name)(_t(x, device)))
    ref = getattr(T, name)(torch.from_numpy(x)).numpy()
    if name == "ndtr":
        # torch's ndtr loses the lower tail (1e-3 relative at x = -4.3 in float32, 0 at x = -8.4 in float64); ours
        # is 0.5 erfc(-x/sqrt2), checked against math.erfc in float64 (float32: the argument's rounding, x^2 eps)
        ref = np.array([0.5 * math.erfc(-float(v) / math.sqrt(2)) if not np.isnan(v) else np.nan for v in x])
    assert got.dtype == dtype
    _check(got, ref, rtol32 if dtype == np.float32 else rtol64, atol, f"special.{name} {np.dtype(dtype).name}")


def test_ndtr_lower_tail_is_accurate():
    # where torch's ndtr underflows to 0 (it subtracts from 1), ours keeps full relative accuracy
    x = np.array([-6.0, -8.375, -14.0, -20.0, -37.0])
    ref = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in x])
    # (the argument x/sqrt2 rounds: x^2 eps relative)
    _check(_np(S.ndtr(_t(x, "cpu"))), ref, 4e-13)
    # float32: the rounded argument costs x^2 eps32 relative
    _check(_np(S.ndtr(_t(x.astype(np.float32), "cpu"))), ref.astype(np.float32), 2e-6 + x * x * 1.2e-7, 1e-45)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_erfcx(dtype, device, rng):
    # torch's erfcx loses up to 3e-6 (float32) / 6e-14 (float64) relative for large negative x (exp(x^2) of a
    # rounded x^2); ours splits x^2 exactly and sums a continued fraction for x >= 2. Reference: torch's float64
    # (and mpmath below), over [-26, 1e4] plus huge, tiny and special values.
    with np.errstate(over="ignore"):
        x = np.concatenate([rng.uniform(-10, 10, 300), np.exp(rng.uniform(0, math.log(1e4), 100)),
                            -np.exp(rng.uniform(0, math.log(26), 60)), [1e30, 1e300, -30.0, 2.0, 1.9999999, 1e-30],
                            EDGE]).astype(dtype)
    got = _np(S.erfcx(_t(x, device)))
    ref = T.erfcx(torch.from_numpy(x.astype(np.float64))).numpy()
    if dtype == np.float32:
        big = ref > 3.4e38
        with np.errstate(over="ignore"):
            ref = ref.astype(np.float32).astype(np.float64)
        ref[big] = np.inf
    _check(got, ref, 1e-6 if dtype == np.float32 else 1e-13, 0, "erfcx")


def test_erfcx_against_mpmath():
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    x = np.concatenate([np.linspace(-26, 30, 113), np.geomspace(30, 1e4, 17)])
    ref = np.array([float(mp.exp(mp.mpf(v) ** 2) * mp.erfc(mp.mpf(v))) for v in x])
    _check(_np(S.erfcx(_t(x, "cpu"))), ref, 2e-15, 0, "erfcx f64 vs mpmath")
    x32 = x.astype(np.float32)
    ref32 = np.array([float(mp.exp(mp.mpf(float(v)) ** 2) * mp.erfc(mp.mpf(float(v)))) for v in x32])
    ref32[ref32 > np.finfo(np.float32).max] = np.inf
    _check(_np(S.erfcx(_t(x32, "cpu"))), ref32, 2e-7, 0, "erfcx f32 vs mpmath")


def test_log_ndtr_far_tail_float32(device):
    # float32, very negative x: the asymptotic regime (erfcx form); torch float64 as the reference
    x = -np.geomspace(1.0, 1e4, 80).astype(np.float32)
    ref = T.log_ndtr(torch.from_numpy(x.astype(np.float64))).numpy()
    _check(_np(S.log_ndtr(_t(x, device))), ref.astype(np.float32), 1e-6, 0, "log_ndtr f32")


def test_logit_eps_and_round_decimals(device, rng):
    x = np.concatenate([rng.uniform(-0.2, 1.2, 50), EDGE]).astype(np.float64)
    for eps in (None, 1e-6, 0.1):
        _check(_np(S.logit(_t(x, device), eps)), T.logit(torch.from_numpy(x), eps).numpy(), 1e-13, 0, f"logit {eps}")
    y = rng.uniform(-1000, 1000, 50)
    for d in (0, 1, 2, -1):
        _check(_np(S.round(_t(y, device), decimals=d)), T.round(torch.from_numpy(y), decimals=d).numpy(), 1e-15, 1e-12,
               f"round decimals={d}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_polygamma_and_zeta(dtype, device, rng):
    x = np.concatenate([rng.uniform(0.05, 20, 80), rng.uniform(-9.7, 0, 40), [0.0, -1.0, -2.0, np.inf, np.nan, 1e-3,
                                                                              1e4]]).astype(dtype)
    rtol = 2e-6 if dtype == np.float32 else 4e-14
    for n in range(0, 6):
        ref = T.polygamma(n, torch.from_numpy(x)).numpy()
        got = _np(S.polygamma(n, _t(x, device)))
        assert got.dtype == dtype
        with np.errstate(invalid="ignore"):
            dist = np.abs(x - np.round(x))
        keep = (dist > 1e-3) | (x > 0.5)  # poles: signs of the huge values there depend on rounding
        # near a pole (x < 0) the result's condition number is about (n + 1) |x| / dist
        cond = np.where(x < 0.5, 1.0 + (n + 1) * np.abs(x) / np.maximum(dist, 1e-3), 1.0)
        _check(got[keep], ref[keep], (rtol * cond)[keep], 1e-30, f"polygamma({n})")
    # Hurwitz zeta: two tensors (broadcast), number first or second, and Cephes' special cases
    xs = np.array([1.0, 1.5, 2.0, 3.0, 10.0, 0.5, np.nan, np.inf, 30.0, 2.0, 3.0, 4.0, 2.5, 7.0], dtype=dtype)
    qs = np.array([1.0, 2.0, 0.5, -1.0, 3.0, 1.0, 1.0, 1.0, 1e4, -2.5, -0.0, np.inf, -1.5, 1e-3], dtype=dtype)
    _check(_np(S.zeta(_t(xs, device), _t(qs, device))), T.zeta(torch.from_numpy(xs), torch.from_numpy(qs)).numpy(),
           rtol, 1e-300, "zeta")
    q2 = rng.uniform(0.1, 50, (3, 4)).astype(dtype)
    x2 = rng.uniform(1.1, 12, (4,)).astype(dtype)
    _check(_np(S.zeta(_t(x2, device), _t(q2, device))), T.zeta(torch.from_numpy(x2), torch.from_numpy(q2)).numpy(),
           rtol, 0, "zeta broadcast")
    _check(_np(S.zeta(2.0, _t(q2, device))), T.zeta(2.0, torch.from_numpy(q2)).numpy(), rtol, 0, "zeta(number, q)")
    _check(_np(S.zeta(_t(x2, device), 3.0)), T.zeta(torch.from_numpy(x2), 3.0).numpy(), rtol, 0, "zeta(x, number)")


def test_multigammaln(device, rng):
    x = rng.uniform(2.6, 30, (4, 5))
    for p in (1, 2, 3, 5):
        _check(_np(S.multigammaln(_t(x, device), p)), T.multigammaln(torch.from_numpy(x), p).numpy(), 1e-13, 0,
               f"multigammaln p={p}")
    x32 = x.astype(np.float32)
    _check(_np(S.multigammaln(_t(x32, device), 4)), T.multigammaln(torch.from_numpy(x32), 4).numpy(), 4e-6, 0)
    with pytest.raises(RuntimeError, match="greater than"):
        S.multigammaln(_t([1.0, 0.9], device), 3)
    with pytest.raises(RuntimeError, match="p has to be"):
        S.multigammaln(_t([3.0], device), 0)


@pytest.mark.parametrize("fn", ["xlogy", "xlog1py"])
def test_binary_xlogy_xlog1py(fn, device, rng):
    a = np.array([0.0, 0.0, 0.0, 1.0, 2.0, -1.5, np.nan, 3.0, 0.0, 1.0])
    b = np.array([-1.0, 0.0, np.nan, 3.0, -0.5, 0.7, 1.0, np.inf, -2.0, -1.0])
    for dt in (np.float32, np.float64):
        ref = getattr(T, fn)(torch.from_numpy(a.astype(dt)), torch.from_numpy(b.astype(dt))).numpy()
        _check(_np(getattr(S, fn)(_t(a, device, dt), _t(b, device, dt))), ref, 2e-6, 0, fn)
    x = rng.uniform(-3, 3, (3, 1))
    y = rng.uniform(0.1, 4, (4,))
    _check(_np(getattr(S, fn)(_t(x, device), _t(y, device))),
           getattr(T, fn)(torch.from_numpy(x), torch.from_numpy(y)).numpy(), 1e-14, 0, f"{fn} broadcast")
    _check(_np(getattr(S, fn)(2.0, _t(y, device))), getattr(T, fn)(2.0, torch.from_numpy(y)).numpy(), 1e-14, 0)
    _check(_np(getattr(S, fn)(_t(x, device), 0.5)), getattr(T, fn)(torch.from_numpy(x), 0.5).numpy(), 1e-14, 0)


def test_softmax_log_softmax_logsumexp(device, rng):
    x = rng.standard_normal((3, 5, 4)) * 4
    for dim in (0, 1, -1):
        _check(_np(S.softmax(_t(x, device), dim)), T.softmax(torch.from_numpy(x), dim).numpy(), 1e-13, 1e-300)
        _check(_np(S.log_softmax(_t(x, device), dim)), T.log_softmax(torch.from_numpy(x), dim).numpy(), 1e-13, 1e-14)
        for keepdim in (False, True):
            _check(_np(S.logsumexp(_t(x, device), dim, keepdim)),
                   T.logsumexp(torch.from_numpy(x), dim, keepdim).numpy(), 1e-14, 0)
    _check(_np(S.logsumexp(_t(x, device), (0, 2))), T.logsumexp(torch.from_numpy(x), (0, 2)).numpy(), 1e-14, 0)
    got = S.softmax(_t(x.astype(np.float32), device), 1, dtype=dlcore.float64)
    assert got.dtype == dlcore.float64
    _check(_np(got), T.softmax(torch.from_numpy(x.astype(np.float32)), 1, dtype=torch.float64).numpy(), 1e-14, 0)


# ------------------------------------------------------------------------------------------------- dtypes, out=

INT_OK = ["expit", "erf", "erfc", "erfcx", "erfinv", "exp2", "expm1", "log1p", "gammaln", "digamma", "psi", "sinc",
          "entr", "ndtr", "ndtri", "log_ndtr", "i0", "i0e", "i1", "i1e"]


@pytest.mark.parametrize("name", INT_OK)
def test_integer_input_promotes_like_torch(name, device):
    a = np.array([-2, -1, 0, 1, 2, 3, 9], dtype=np.int64)
    for np_dt, dl_dt in ((np.int64, None), (np.int32, None)):
        got = getattr(S, name)(_t(a.astype(np_dt), device))
        ref = getattr(T, name)(torch.from_numpy(a.astype(np_dt)))
        assert got.dtype == dlcore.float32 and ref.dtype == torch.float32
        _check(_np(got), ref.numpy(), 5e-6, 1e-30, f"{name} on ints")
    gb = getattr(S, name)(_t(np.array([True, False]), device))
    assert gb.dtype == dlcore.float32
    _check(_np(gb), getattr(T, name)(torch.tensor([True, False])).numpy(), 5e-6, 1e-30)


def test_binary_and_polygamma_integer_promotion(device):
    a = _t(np.array([0, 1, 2], dtype=np.int64), device)
    b = _t(np.array([1, 2, 3], dtype=np.int64), device)
    ta, tb = torch.tensor([0, 1, 2]), torch.tensor([1, 2, 3])
    for fn in ("xlogy", "xlog1py", "zeta"):
        got = getattr(S, fn)(a, b)
        ref = getattr(T, fn)(ta, tb)
        assert got.dtype == dlcore.float32 and ref.dtype == torch.float32
        _check(_np(got), ref.numpy(), 2e-6, 0, fn)
    got = S.xlog1py(a, 0.5)
    assert got.dtype == dlcore.float32
    got = S.polygamma(2, b)
    assert got.dtype == dlcore.float32
    _check(_np(got), T.polygamma(2, tb).numpy(), 2e-6)
    got = S.multigammaln(_t(np.array([3, 4]), device), 2)
    _check(_np(got), T.multigammaln(torch.tensor([3, 4]), 2).numpy(), 2e-6)
    assert got.dtype == dlcore.float32


@pytest.mark.parametrize("name", ["expit", "erfcx", "ndtri", "log_ndtr", "i0", "i1e", "entr", "gammaln", "ndtr"])
def test_out(name, device):
    x = np.array([0.1, 0.5, 0.9, 2.0], dtype=np.float32)
    out = dlcore.empty(4, device=device)
    r = getattr(S, name)(_t(x, device), out=out)
    assert r is out
    _check(_np(out), getattr(T, name)(torch.from_numpy(x)).numpy(), 2e-6, 0, f"{name} out=")
    out64 = dlcore.zeros(1, dtype=dlcore.float64, device=device)  # resized and cast into
    getattr(S, name)(_t(x, device), out=out64)
    assert tuple(out64.shape) == (4,) and out64.dtype == dlcore.float64
    _check(_np(out64), getattr(T, name)(torch.from_numpy(x)).numpy(), 2e-6, 0)
    with pytest.raises(RuntimeError, match="can't be cast"):
        getattr(S, name)(_t(x, device), out=dlcore.empty(4, dtype=dlcore.int64, device=device))
    xg = _t(x.astype(np.float64), device, requires_grad=True)
    with pytest.raises(RuntimeError, match="automatic differentiation"):
        getattr(S, name)(xg, out=dlcore.empty(4, dtype=dlcore.float64, device=device))


def test_out_binary_and_others(device):
    a = _t([0.0, 1.0, 2.0], device)
    b = _t([1.0, 2.0, 3.0], device)
    out = dlcore.empty(3, device=device)
    S.xlog1py(a, b, out=out)
    _check(_np(out), T.xlog1py(torch.tensor([0.0, 1, 2]), torch.tensor([1.0, 2, 3])).numpy(), 2e-6)
    S.zeta(b + 1.0, b, out=out)
    _check(_np(out), T.zeta(torch.tensor([2.0, 3, 4]), torch.tensor([1.0, 2, 3])).numpy(), 2e-6)
    S.polygamma(3, b, out=out)
    _check(_np(out), T.polygamma(3, torch.tensor([1.0, 2, 3])).numpy(), 2e-6)
    S.logsumexp(a, 0, out=out)
    assert tuple(out.shape) == ()
    _check(_np(out), T.logsumexp(torch.tensor([0.0, 1, 2]), 0).numpy(), 2e-6)


def test_errors():
    with pytest.raises(TypeError, match="special.erfcx"):
        S.erfcx(1.5)
    with pytest.raises(TypeError, match="special.i0"):
        S.i0([1.0])
    with pytest.raises(RuntimeError, match="negative n"):
        S.polygamma(-1, dlcore.ones(2))
    with pytest.raises(TypeError, match="'n' must be int"):
        S.polygamma(1.5, dlcore.ones(2))
    with pytest.raises(TypeError, match="at least one"):
        S.xlog1py(1.0, 2.0)
    with pytest.raises(TypeError, match="decimals"):
        S.round(dlcore.ones(2), decimals=1.5)
    x = dlcore.tensor([2.0, 3.0], dtype=dlcore.float64, requires_grad=True)
    with pytest.raises(NotImplementedError, match="'x'"):
        S.zeta(x, 1.5).sum().backward()


# ------------------------------------------------------------------------------------------------- gradients

GRAD_POINTS = {
    "expit": np.linspace(-6, 6, 13),
    "logit": np.linspace(0.05, 0.95, 11),
    "erf": np.linspace(-3, 3, 13),
    "erfc": np.linspace(-3, 3, 13),
    "erfcx": np.concatenate([np.linspace(-8, 8, 33), [1.99, 2.0, 2.01, 30.0, 300.0, 1e3]]),
    "erfinv": np.linspace(-0.9, 0.9, 13),
    "exp2": np.linspace(-5, 5, 11),
    "expm1": np.linspace(-5, 5, 11),
    "log1p": np.linspace(-0.9, 5, 11),
    "gammaln": np.linspace(0.1, 9, 13),
    "digamma": np.linspace(0.1, 9, 13),
    "psi": np.linspace(0.1, 9, 13),
    "sinc": np.array([-2.3, -1.1, -0.4, 0.0, 0.3, 1.5, 2.2]),
    "entr": np.array([0.0, 0.1, 0.5, 1.0, 2.0, -1.0, np.nan]),
    "ndtr": np.linspace(-8, 8, 17),
    "log_ndtr": np.concatenate([np.linspace(-30, 8, 39), [-1.0, -1.0001, -0.9999]]),
    "ndtri": np.concatenate([np.linspace(0.01, 0.99, 15), [1e-10, 1e-100, 0.135, 0.865, 1 - 1e-9]]),
    "i0": np.concatenate([np.linspace(-20, 20, 21), [0.0, 8.0, -8.0]]),
    "i0e": np.concatenate([np.linspace(-20, 20, 21), [0.0, 8.0, -8.0]]),
    "i1": np.concatenate([np.linspace(-20, 20, 21), [0.0, 8.0, -8.0]]),
    "i1e": np.concatenate([np.linspace(-20, 20, 21), [0.0, 8.0, -8.0]]),
    "round": np.linspace(-3, 3, 7) + 0.3,
}


@pytest.mark.parametrize("name", sorted(GRAD_POINTS))
def test_gradients_match_torch(name, device):
    x = GRAD_POINTS[name]
    xt = _t(x, device, requires_grad=True)
    w = np.linspace(0.5, 1.5, x.size)
    (getattr(S, name)(xt) * _t(w, device)).sum().backward()
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    (getattr(T, name)(tx) * torch.from_numpy(w)).sum().backward()
    # erfcx's derivative 2x erfcx(x) - 2/sqrt(pi) cancels for large x, amplifying the two erfcx's (different) errors
    rtol = 1e-7 if name == "erfcx" else 1e-11
    _check(_np(xt.grad), tx.grad.numpy(), rtol, 1e-300, f"d special.{name}")


def test_log_ndtr_gradient_far_tail():
    # torch's derivative exp(-(result + x^2/2)) / sqrt(2 pi) cancels for very negative x; check against mpmath
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 50
    x = -np.geomspace(30, 1e5, 12)
    xt = _t(x, "cpu", requires_grad=True)
    S.log_ndtr(xt).sum().backward()
    ref = [float(mp.npdf(mp.mpf(v)) / mp.ncdf(mp.mpf(v))) for v in x]
    _check(_np(xt.grad), ref, 1e-12, 0, "d log_ndtr far tail")


@pytest.mark.parametrize("name", ["xlogy", "xlog1py", "zeta"])
def test_binary_gradients_match_torch(name, device):
    a = np.array([0.0, 0.0, 1.0, 2.0, -1.5, 0.0, 3.0]) if name != "zeta" else np.array([2.0, 3.0, 4.5, 6.0, 2.5, 3.0,
                                                                                           11.0])
    b = np.array([-1.0, 2.0, 3.0, -0.5, 0.7, -2.0, 0.2]) if name != "zeta" else np.array([0.5, 1.0, 2.0, 7.0, 0.2,
                                                                                            30.0, 1.5])
    if name == "xlogy":
        b = b + 3.0
    needs_a = name != "zeta"
    at = _t(a, device, requires_grad=needs_a)
    bt = _t(b, device, requires_grad=True)
    getattr(S, name)(at, bt).sum().backward()
    ta = torch.from_numpy(a.copy()).requires_grad_(needs_a)
    tb = torch.from_numpy(b.copy()).requires_grad_(True)
    getattr(T, name)(ta, tb).sum().backward()
    _check(_np(bt.grad), tb.grad.numpy(), 1e-12, 0, f"d {name}/d other")
    if needs_a:
        _check(_np(at.grad), ta.grad.numpy(), 1e-12, 0, f"d {name}/d input")
    # broadcast operand and a number operand
    bt2 = _t(b[:3], device, requires_grad=True)
    getattr(S, name)(_t(a.reshape(-1, 1), device), bt2).sum().backward()
    tb2 = torch.from_numpy(b[:3].copy()).requires_grad_(True)
    getattr(T, name)(torch.from_numpy(a.reshape(-1, 1)), tb2).sum().backward()
    _check(_np(bt2.grad), tb2.grad.numpy(), 1e-12, 0, f"d {name} broadcast")


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_polygamma_gradients(n, device):
    x = np.linspace(0.3, 9, 11)
    xt = _t(x, device, requires_grad=True)
    S.polygamma(n, xt).sum().backward()
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    T.polygamma(n, tx).sum().backward()
    _check(_np(xt.grad), tx.grad.numpy(), 1e-12, 0, f"d polygamma({n})")


def test_multigammaln_gradient(device):
    x = np.linspace(2.1, 9, 9)
    xt = _t(x, device, requires_grad=True)
    S.multigammaln(xt, 3).sum().backward()
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    T.multigammaln(tx, 3).sum().backward()
    _check(_np(xt.grad), tx.grad.numpy(), 1e-12, 0)


@pytest.mark.parametrize("name", ["erfcx", "log_ndtr", "ndtri", "i0", "i0e", "i1", "i1e", "entr", "ndtr"])
def test_second_derivatives_match_torch(name):
    x = np.linspace(0.1, 0.9, 7) if name == "ndtri" else (np.linspace(0.2, 3, 7) if name == "entr"
                                                           else np.linspace(-3, 3, 7))
    xt = _t(x, "cpu", requires_grad=True)
    (g,) = dlcore.autograd.grad(getattr(S, name)(xt).sum(), xt, create_graph=True)
    g.sum().backward()
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    (tg,) = torch.autograd.grad(getattr(T, name)(tx).sum(), tx, create_graph=True)
    tg.sum().backward()
    _check(_np(xt.grad), tx.grad.numpy(), 1e-10, 1e-14, f"d2 special.{name}")


@pytest.mark.parametrize("name", ["erfcx", "log_ndtr", "ndtri", "i0", "i1", "i0e", "i1e", "entr", "ndtr"])
def test_gradcheck(name):
    x = np.array([0.05, 0.3, 0.6, 0.95]) if name in ("ndtri", "entr") else np.array([-2.5, -0.3, 0.4, 1.7, 2.3,
                                                                                      9.5])
    if name == "erfcx":
        x = np.append(x, 40.0)
    assert gradcheck(lambda t: getattr(S, name)(t), [_t(x, "cpu", requires_grad=True)])


def test_low_precision_inputs_compute_in_float32():
    x = np.array([-3.0, -0.5, 0.0, 0.5, 3.0], dtype=np.float32)
    for name in ("erfcx", "i0", "log_ndtr", "i1e"):
        got = getattr(S, name)(_t(x, "cpu").to(dlcore.float16))
        assert got.dtype == dlcore.float16
        # torch has no float16 erfcx: its float32 value of the float16-rounded input, rounded to float16
        ref = getattr(T, name)(torch.from_numpy(x).half().float()).half()
        _check(_np(got.float()), ref.float().numpy(), 1e-3, 0, f"{name} float16")


# ------------------------------------------------------------------------------------------------- Bessel J/Y/K

BESSEL = ["bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_i0", "modified_bessel_i1",
          "modified_bessel_k0", "modified_bessel_k1", "scaled_modified_bessel_k0", "scaled_modified_bessel_k1",
          "spherical_bessel_j0", "airy_ai"]


@pytest.mark.parametrize("name", BESSEL)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bessel_family_matches_torch(name, dtype, device, rng):
    x = np.concatenate([rng.uniform(-30, 30, 200), np.exp(rng.uniform(math.log(1e-8), math.log(1e4), 60)),
                        [5.0, -5.0, 2.0, 8.0, -8.0, 1e-6, 0.4999, 0.5, -2.09, 2.09, 8.3203353, 103.892, 110.0,
                         -60.0]] + [EDGE])
    if name.startswith("modified_bessel_i") and dtype == np.float32:
        x = x[np.abs(x) < 88]  # torch's float32 exp(|x|) overflows before I0/I1 do
    x = x.astype(dtype)
    got = getattr(S, name)(_t(x, device))
    assert got.dtype == (dlcore.float32 if dtype == np.float32 else dlcore.float64)
    # the reference: torch's float64 on the same (rounded) inputs; ours computes in float64 and rounds once.
    # Near the zeros of J and Y the relative error is the absolute one over a vanishing value: atol
    ref = getattr(T, name)(torch.from_numpy(x.astype(np.float64))).numpy()
    if dtype == np.float32:
        with np.errstate(over="ignore"):
            ref = ref.astype(np.float32).astype(np.float64)
        _check(_np(got), ref, 2e-7, 1e-38, name)
    else:
        _check(_np(got), ref, 1e-14, 1e-15, name)


def test_bessel_family_no_autograd_like_torch():
    x = dlcore.tensor([0.5, 1.5], dtype=dlcore.float64, requires_grad=True)
    for name in BESSEL:
        assert not getattr(S, name)(x).requires_grad
        assert not getattr(T, name)(torch.tensor([0.5, 1.5], requires_grad=True)).requires_grad


# ------------------------------------------------------------------------------------------------- polynomials

POLYS = ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w",
         "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
         "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he", "laguerre_polynomial_l",
         "legendre_polynomial_p"]


@pytest.mark.parametrize("name", POLYS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_polynomials_match_torch(name, dtype, device, rng):
    x = np.concatenate([rng.uniform(-1.5, 1.5, 120), [1.0, -1.0, 0.0, 0.5, -0.5, 2.0, -2.0, 1.0, 0.0, -1.0]])
    n = np.concatenate([rng.integers(-2, 14, 120), [3, 4, 5, 9, 10, 7, 6, 12, 11, 13]])
    x, nf = x.astype(dtype), n.astype(dtype)
    ref = getattr(T, name)(torch.from_numpy(x), torch.from_numpy(nf)).numpy()
    got = getattr(S, name)(_t(x, device), _t(nf, device))
    # float32: torch evaluates cos(n acos x) etc. in float32, so both carry ~n ulp of the O(1) scale
    scale = np.maximum(np.abs(ref), 1.0)
    _check(_np(got) / scale, ref / scale, 0, 2e-5 if dtype == np.float32 else 1e-13, name)
    # n as an integer tensor, as a number, x as a number; broadcasting
    gi = getattr(S, name)(_t(x, device), _t(n.astype(np.int64), device))
    _check(_np(gi) / scale, ref / scale, 0, 2e-5 if dtype == np.float32 else 1e-13, f"{name} int n")
    gs = getattr(S, name)(_t(x[:20], device), 5)
    rs = getattr(T, name)(torch.from_numpy(x[:20]), 5).numpy()
    _check(_np(gs), rs, 1e-4 if dtype == np.float32 else 1e-12, 1e-5 if dtype == np.float32 else 1e-12)
    gb = getattr(S, name)(_t(x[:4].reshape(4, 1), device), _t(nf[:3], device))
    rb = getattr(T, name)(torch.from_numpy(x[:4].reshape(4, 1)), torch.from_numpy(nf[:3])).numpy()
    assert tuple(gb.shape) == (4, 3)
    _check(_np(gb), rb, 1e-4 if dtype == np.float32 else 1e-12, 1e-5 if dtype == np.float32 else 1e-12)
    gx = getattr(S, name)(0.3, _t(nf[:10], device))
    _check(_np(gx), getattr(T, name)(0.3, torch.from_numpy(nf[:10])).numpy(), 1e-4 if dtype == np.float32 else 1e-12,
           1e-4)


def test_hermite_degree_limit_and_integer_promotion():
    for dt, lim in ((np.float32, 128), (np.float64, 512)):
        x = np.array([0.1, 0.1, 0.1], dtype=dt)
        n = np.array([lim, lim + 1, -3], dtype=dt)
        _check(_np(S.hermite_polynomial_he(_t(x, "cpu"), _t(n, "cpu"))),
               T.hermite_polynomial_he(torch.from_numpy(x), torch.from_numpy(n)).numpy(), 1e-3, 1e-30)
    got = S.chebyshev_polynomial_t(_t(np.array([1, 2, 3]), "cpu"), _t(np.array([2, 3, 4]), "cpu"))
    ref = T.chebyshev_polynomial_t(torch.tensor([1, 2, 3]), torch.tensor([2, 3, 4]))
    assert got.dtype == dlcore.float32 and ref.dtype == torch.float32
    _check(_np(got), ref.numpy(), 1e-6)


# ------------------------------------------------------------------------------------------------- gammainc

IG_EDGE_A = [0.0, 0.0, 1.0, 1.0, np.inf, np.inf, -1.0, 2.0, np.nan, 5.0, 3.0, np.inf, 0.0]
IG_EDGE_X = [0.0, 1.0, 0.0, np.inf, 1.0, np.inf, 1.0, -1.0, 1.0, np.nan, 1e-300, 0.0, np.inf]


@pytest.mark.parametrize("name", ["gammainc", "gammaincc"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gammainc_matches_torch(name, dtype, device, rng):
    # a < 20: torch's series / continued fraction regime (its a > 20 asymptotic expansion is good to ~1e-9 only:
    # checked against mpmath below); boundary values as torch's
    a = np.concatenate([np.exp(rng.uniform(math.log(1e-3), math.log(20), 150)), IG_EDGE_A])
    x = np.concatenate([a[:150] * np.exp(rng.uniform(-3, 3, 150)), IG_EDGE_X])
    a, x = a.astype(dtype), x.astype(dtype)
    got = getattr(S, name)(_t(a, device), _t(x, device))
    ref = getattr(T, name)(torch.from_numpy(a.astype(np.float64)), torch.from_numpy(x.astype(np.float64))).numpy()
    if dtype == np.float32:
        ref = ref.astype(np.float32).astype(np.float64)
    _check(_np(got), ref, 1e-6 if dtype == np.float32 else 1e-12, 1e-300, name)
    # torch takes two tensors only
    with pytest.raises(TypeError, match=f"special.{name}"):
        getattr(S, name)(2.5, _t(x[:20], device))
    g = getattr(S, name)(_t(a[:5].reshape(5, 1), device), _t(x[:3], device))
    assert tuple(g.shape) == (5, 3)
    rb = getattr(T, name)(torch.from_numpy(a[:5].reshape(5, 1).astype(np.float64)),
                          torch.from_numpy(x[:3].astype(np.float64))).numpy()
    _check(_np(g), rb.astype(dtype), 1e-6 if dtype == np.float32 else 1e-12, 1e-300)


def test_gammainc_against_mpmath(rng):
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    a = np.exp(rng.uniform(math.log(1e-2), math.log(1e3), 60))
    x = a * np.exp(rng.uniform(-1, 1, 60))
    p = _np(S.gammainc(_t(a, "cpu"), _t(x, "cpu")))
    q = _np(S.gammaincc(_t(a, "cpu"), _t(x, "cpu")))
    rp = [float(mp.gammainc(mp.mpf(av), 0, mp.mpf(xv), regularized=True)) for av, xv in zip(a, x)]
    rq = [float(mp.gammainc(mp.mpf(av), mp.mpf(xv), mp.inf, regularized=True)) for av, xv in zip(a, x)]
    # about a * eps relative (the prefactor x^a e^-x / Gamma(a))
    _check(p, rp, 1e-11, 1e-300, "gammainc vs mpmath")
    _check(q, rq, 1e-11, 1e-300, "gammaincc vs mpmath")


@pytest.mark.parametrize("name", ["gammainc", "gammaincc"])
def test_gammainc_gradients(name, device):
    a = np.array([0.5, 1.0, 2.5, 7.0, 15.0])
    x = np.array([0.3, 2.0, 1.5, 9.0, 12.0])
    xt = _t(x, device, requires_grad=True)
    getattr(S, name)(_t(a, device), xt).sum().backward()
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    getattr(T, name)(torch.from_numpy(a), tx).sum().backward()
    _check(_np(xt.grad), tx.grad.numpy(), 1e-12, 0, f"d {name}/dx")
    assert gradcheck(lambda t: getattr(S, name)(_t(a, device), t), [_t(x, device, requires_grad=True)])
    at = _t(a, device, requires_grad=True)
    with pytest.raises(NotImplementedError, match="'input'"):
        getattr(S, name)(at, _t(x, device)).sum().backward()


def test_gammainc_rejects_integer_tensors_like_torch():
    with pytest.raises(NotImplementedError):
        T.gammainc(torch.tensor([1, 2, 3]), torch.tensor([2, 2, 2]))
    with pytest.raises(NotImplementedError, match="special.gammainc.*int64"):
        S.gammainc(_t(np.array([1, 2, 3]), "cpu"), _t(np.array([2.0, 2.0, 2.0]), "cpu"))
    # mixed float dtypes promote
    got = S.gammaincc(_t(np.array([1.5], dtype=np.float32), "cpu"), _t(np.array([2.0]), "cpu"))
    assert got.dtype == dlcore.float64
