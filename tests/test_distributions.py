"""dlcore.distributions against torch.distributions (float64): log_prob / entropy / cdf / icdf / moments / KL values
and their gradients w.r.t. the parameters, argument and value validation (ValueError texts like torch's), shapes,
expand, enumerate_support; samples: reproducibility under dlcore.manual_seed, loose moment checks, and rsample
gradients by central differences under a fixed seed."""
import numpy as np
import pytest

import dlcore
from dlcore import distributions as D
from dlcore.testing import gradcheck

torch = pytest.importorskip("torch")
TD = torch.distributions

RTOL = 1e-10
ATOL = 1e-12


def _np(t):
    if isinstance(t, np.ndarray):
        return t
    return t.detach().cpu().numpy() if isinstance(t, dlcore.Tensor) else t.detach().numpy()


def _close(a, b, rtol=RTOL, atol=ATOL, msg=""):
    a, b = _np(a), _np(b)
    assert a.shape == b.shape, f"{msg}: shape {a.shape} vs {b.shape}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True, err_msg=msg)


def _spd(rng, n, batch=()):
    a = rng.standard_normal(batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def _onehot(idx, k):
    return np.eye(k)[idx]


def _cases(rng):
    """name -> (class name, parameter dict (NumPy float64), value in the support, extra kwargs)."""
    pos = lambda *s: rng.uniform(0.5, 2.0, s)  # noqa: E731
    low = rng.standard_normal(4)
    L = np.linalg.cholesky(_spd(rng, 3))
    gl, gs = rng.standard_normal(4), pos(4)  # (Gumbel values within a few scales: its cdf underflows beyond)
    return {
        "normal": ("Normal", {"loc": rng.standard_normal((3, 4)), "scale": pos(3, 4)}, rng.standard_normal((2, 3, 4))),
        "bernoulli_probs": ("Bernoulli", {"probs": rng.uniform(0.05, 0.95, 5)},
                            rng.integers(0, 2, (3, 5)).astype(np.float64)),
        "bernoulli_logits": ("Bernoulli", {"logits": rng.standard_normal(5) * 2},
                             rng.integers(0, 2, (3, 5)).astype(np.float64)),
        "categorical_probs": ("Categorical", {"probs": pos(3, 4)}, rng.integers(0, 4, (2, 3))),
        "categorical_logits": ("Categorical", {"logits": rng.standard_normal((3, 4))}, rng.integers(0, 4, (2, 3))),
        "onehot_probs": ("OneHotCategorical", {"probs": pos(3, 4)}, _onehot(rng.integers(0, 4, (2, 3)), 4)),
        "onehot_logits": ("OneHotCategorical", {"logits": rng.standard_normal((3, 4))},
                          _onehot(rng.integers(0, 4, (2, 3)), 4)),
        "uniform": ("Uniform", {"low": low, "high": low + pos(4)}, low + rng.uniform(0, 0.5, (2, 4))),
        "laplace": ("Laplace", {"loc": rng.standard_normal(4), "scale": pos(4)}, rng.standard_normal((2, 4))),
        "exponential": ("Exponential", {"rate": pos(4)}, rng.uniform(0.1, 3.0, (2, 4))),
        "lognormal": ("LogNormal", {"loc": rng.standard_normal(4), "scale": pos(4)}, rng.uniform(0.1, 3.0, (2, 4))),
        "gamma": ("Gamma", {"concentration": pos(4) * 2, "rate": pos(4)}, rng.uniform(0.1, 3.0, (2, 4))),
        "beta": ("Beta", {"concentration1": pos(4) * 2, "concentration0": pos(4)}, rng.uniform(0.05, 0.95, (2, 4))),
        "cauchy": ("Cauchy", {"loc": rng.standard_normal(4), "scale": pos(4)}, rng.standard_normal((2, 4)) * 3),
        "poisson": ("Poisson", {"rate": pos(4) * 3}, rng.integers(0, 8, (2, 4)).astype(np.float64)),
        "geometric_probs": ("Geometric", {"probs": rng.uniform(0.1, 0.9, 4)},
                            rng.integers(0, 6, (2, 4)).astype(np.float64)),
        "geometric_logits": ("Geometric", {"logits": rng.standard_normal(4)},
                             rng.integers(0, 6, (2, 4)).astype(np.float64)),
        "binomial_probs": ("Binomial", {"total_count": np.full(4, 7.0), "probs": rng.uniform(0.1, 0.9, 4)},
                           rng.integers(0, 8, (2, 4)).astype(np.float64)),
        "binomial_logits": ("Binomial", {"total_count": np.full(4, 5.0), "logits": rng.standard_normal(4)},
                            rng.integers(0, 6, (2, 4)).astype(np.float64)),
        "dirichlet": ("Dirichlet", {"concentration": pos(2, 4) * 2}, rng.dirichlet(np.ones(4), (3, 2))),
        "chi2": ("Chi2", {"df": pos(4) * 3}, rng.uniform(0.1, 5.0, (2, 4))),
        "studentt": ("StudentT", {"df": np.array([0.8, 1.5, 3.0, 7.0]), "loc": rng.standard_normal(4),
                                  "scale": pos(4)}, rng.standard_normal((2, 4)) * 2),
        "multinomial": ("Multinomial", {"probs": pos(3, 4)},
                        np.stack([rng.multinomial(6, np.ones(4) / 4, 3) for _ in range(2)]).astype(np.float64)),
        "negbinomial_probs": ("NegativeBinomial", {"total_count": pos(4) * 3, "probs": rng.uniform(0.1, 0.9, 4)},
                              rng.integers(0, 8, (2, 4)).astype(np.float64)),
        "negbinomial_logits": ("NegativeBinomial", {"total_count": pos(4) * 3, "logits": rng.standard_normal(4)},
                               rng.integers(0, 8, (2, 4)).astype(np.float64)),
        "halfnormal": ("HalfNormal", {"scale": pos(4)}, rng.uniform(0.1, 3.0, (2, 4))),
        "gumbel": ("Gumbel", {"loc": gl, "scale": gs}, gl + gs * rng.uniform(-1.0, 3.0, (2, 4))),
        "relaxed_onehot": ("RelaxedOneHotCategorical", {"temperature": np.array(0.7),
                                                        "logits": rng.standard_normal((3, 4))},
                           rng.dirichlet(np.ones(4), (2, 3))),
        "relaxed_bernoulli": ("RelaxedBernoulli", {"temperature": np.array(0.5), "probs": rng.uniform(0.1, 0.9, 4)},
                              rng.uniform(0.05, 0.95, (2, 4))),
        "lowrank_mvn": ("LowRankMultivariateNormal", {"loc": rng.standard_normal((2, 3)),
                                                      "cov_factor": rng.standard_normal((3, 2)),
                                                      "cov_diag": pos(2, 3)}, rng.standard_normal((4, 2, 3))),
        "mvn_scale_tril": ("MultivariateNormal", {"loc": rng.standard_normal((2, 3)), "scale_tril": L},
                           rng.standard_normal((4, 2, 3))),
        "mvn_covariance": ("MultivariateNormal", {"loc": rng.standard_normal(3),
                                                  "covariance_matrix": _spd(rng, 3, (2,))},
                           rng.standard_normal((4, 2, 3))),
        "mvn_precision": ("MultivariateNormal", {"loc": rng.standard_normal((2, 3)),
                                                 "precision_matrix": _spd(rng, 3)},
                          rng.standard_normal((4, 2, 3))),
    }


CASES = list(_cases(np.random.default_rng(0)).keys())


def _pair(cls, params, device="cpu", requires_grad=False, **kw):
    if cls == "Multinomial":
        kw = dict(kw, total_count=6)
    dp = {k: dlcore.tensor(v, dtype=dlcore.float64, device=device, requires_grad=requires_grad)
          for k, v in params.items()}
    tp = {k: torch.tensor(v, dtype=torch.float64, requires_grad=requires_grad) for k, v in params.items()}
    return getattr(D, cls)(**dp, **kw), getattr(TD, cls)(**tp, **kw), dp, tp


def _value(v, cls, device="cpu"):
    if cls == "Categorical":
        return dlcore.tensor(v, dtype=dlcore.int64, device=device), torch.tensor(v, dtype=torch.int64)
    return dlcore.tensor(v, dtype=dlcore.float64, device=device), torch.tensor(v, dtype=torch.float64)


def _both(fd, ft):
    """(dlcore result, torch result), or (None, None) when torch raises NotImplementedError (dlcore must too)."""
    try:
        expected = ft()
    except NotImplementedError:
        with pytest.raises(NotImplementedError):
            fd()
        return None, None
    return fd(), expected


@pytest.mark.parametrize("case", CASES)
def test_values_vs_torch(case, device, rng):
    cls, params, value = _cases(rng)[case]
    dd, td, _, _ = _pair(cls, params, device)
    assert tuple(dd.batch_shape) == tuple(td.batch_shape)
    assert tuple(dd.event_shape) == tuple(td.event_shape)
    assert dd.has_rsample == td.has_rsample
    vd, vt = _value(value, cls, device)
    _close(dd.log_prob(vd), td.log_prob(vt), msg=f"{case} log_prob")
    for name in ("mean", "mode", "variance", "stddev"):
        a, b = _both(lambda: getattr(dd, name), lambda: getattr(td, name))
        if b is not None:
            _close(a, b, msg=f"{case} {name}")
    a, b = _both(dd.entropy, td.entropy)
    if b is not None:  # (torch's Multinomial.entropy takes lgamma(n + 1) in float32: see test_multinomial_entropy)
        _close(a, b, rtol=1e-7 if cls == "Multinomial" else RTOL, msg=f"{case} entropy")
    a, b = _both(lambda: dd.cdf(vd), lambda: td.cdf(vt))
    if b is not None:
        _close(a, b, msg=f"{case} cdf")
    q = rng.uniform(0.02, 0.98, tuple(td.batch_shape))
    a, b = _both(lambda: dd.icdf(dlcore.tensor(q, device=device)), lambda: td.icdf(torch.tensor(q)))
    if b is not None:
        _close(a, b, msg=f"{case} icdf")


@pytest.mark.parametrize("case", CASES)
def test_gradients_vs_torch(case, rng):
    cls, params, value = _cases(rng)[case]
    dd, td, dp, tp = _pair(cls, params, requires_grad=True)
    vd, vt = _value(value, cls)
    w = rng.standard_normal(tuple(td.log_prob(vt).shape))
    loss_d = (dd.log_prob(vd) * dlcore.tensor(w)).sum()
    loss_t = (td.log_prob(vt) * torch.tensor(w)).sum()
    try:
        loss_t = loss_t + td.entropy().sum()
        loss_d = loss_d + dd.entropy().sum()
    except NotImplementedError:  # (e.g. Poisson: torch has no entropy; test_values_vs_torch checks dlcore raises)
        pass
    if cls not in ("Gamma", "Chi2"):  # d/dconcentration of the incomplete gamma: neither has it (test_gamma_cdf)
        try:
            loss_t = loss_t + td.cdf(vt).sum()
            loss_d = loss_d + dd.cdf(vd).sum()
        except NotImplementedError:
            pass
    gd = dlcore.autograd.grad(loss_d, list(dp.values()), allow_unused=True)
    gt = torch.autograd.grad(loss_t, list(tp.values()), allow_unused=True)
    for k, a, b in zip(dp, gd, gt):
        if b is None:
            assert a is None or np.all(_np(a) == 0), k
            continue
        _close(a, b, rtol=1e-9, atol=1e-11, msg=f"{case} d/d{k}")


@pytest.mark.parametrize("case", CASES)
def test_float32_vs_torch(case, rng):
    """float32 parameters: results stay float32 and agree with torch's float32 to float32 accuracy."""
    cls, params, value = _cases(rng)[case]
    kw = {"total_count": 6} if cls == "Multinomial" else {}
    dd = getattr(D, cls)(**{k: dlcore.tensor(v, dtype=dlcore.float32) for k, v in params.items()}, **kw)
    td = getattr(TD, cls)(**{k: torch.tensor(v, dtype=torch.float32) for k, v in params.items()}, **kw)
    if cls == "Categorical":
        vd, vt = _value(value, cls)
    else:
        vd, vt = dlcore.tensor(value, dtype=dlcore.float32), torch.tensor(value, dtype=torch.float32)
    lp = dd.log_prob(vd)
    assert lp.dtype == dlcore.float32
    _close(lp, td.log_prob(vt), rtol=2e-5, atol=2e-5, msg=f"{case} log_prob")
    a, b = _both(dd.entropy, td.entropy)
    if b is not None:
        assert a.dtype == dlcore.float32
        _close(a, b, rtol=2e-5, atol=2e-5, msg=f"{case} entropy")
    s = dd.sample((2,))
    assert s.dtype == (dlcore.int64 if cls == "Categorical" else dlcore.float32)


def test_number_parameters_and_scalar_batch():
    n = D.Normal(0.5, 2.0)
    assert tuple(n.batch_shape) == () and n.loc.dtype == dlcore.get_default_dtype()
    assert tuple(n.sample((3,)).shape) == (3,)
    t = TD.Normal(0.5, 2.0)
    _close(n.log_prob(dlcore.tensor([0.1, 3.0])), t.log_prob(torch.tensor([0.1, 3.0])), rtol=1e-6)
    b = D.Bernoulli(0.3)
    assert tuple(b.batch_shape) == () and tuple(b.sample((4,)).shape) == (4,)
    u = D.Uniform(0.0, 2.0)
    _close(u.entropy(), TD.Uniform(0.0, 2.0).entropy(), rtol=1e-6)


@pytest.mark.parametrize("case", CASES)
def test_sample_shapes_and_seed(case, device, rng):
    cls, params, _ = _cases(rng)[case]
    dd, td, _, _ = _pair(cls, params, device)
    param = next(iter(_pair(cls, params, device)[2].values()))
    for shape in ((), (2,), (2, 3)):
        s = dd.sample(shape)
        assert tuple(s.shape) == tuple(td.sample(shape).shape), (case, shape)
        assert s.device == param.device and s.requires_grad is False
        assert s.dtype == (dlcore.int64 if cls == "Categorical" else dlcore.float64)
    assert dd.sample(5).shape[0] == 5
    dlcore.manual_seed(123)
    s1 = _np(dd.sample((7,)))
    dlcore.manual_seed(123)
    s2 = _np(dd.sample((7,)))
    s3 = _np(dd.sample((7,)))
    np.testing.assert_array_equal(s1, s2)
    assert not np.array_equal(s2, s3)
    if dd.has_rsample:
        dlcore.manual_seed(5)
        a = _np(dd.rsample((3,)))
        dlcore.manual_seed(5)
        np.testing.assert_array_equal(a, _np(dd.sample((3,))))


def _check_moments(samples, mean, var, n, k=5.0, msg=""):
    """Sample mean within k standard errors; sample variance within k standard errors (4th moment bounded
    loosely by 3 var^2 + slack, fine for the light-tailed laws here)."""
    m = samples.mean(0)
    v = samples.var(0)
    se_m = np.sqrt(var / n)
    np.testing.assert_array_less(np.abs(m - mean), k * se_m + 1e-12, err_msg=f"{msg} mean")
    se_v = np.sqrt(6.0 * var ** 2 / n)
    np.testing.assert_array_less(np.abs(v - var), k * se_v + 1e-12, err_msg=f"{msg} var")


def test_sample_moments():
    dlcore.manual_seed(0)
    n = 20000
    loc, scale = np.array([0.3, -1.0]), np.array([0.5, 2.0])
    s = _np(D.Normal(dlcore.tensor(loc), dlcore.tensor(scale)).sample((n,)))
    _check_moments(s, loc, scale ** 2, n, msg="Normal")
    p = np.array([0.1, 0.5, 0.9])
    s = _np(D.Bernoulli(dlcore.tensor(p)).sample((n,)))
    assert set(np.unique(s)) <= {0.0, 1.0}
    _check_moments(s, p, p * (1 - p), n, msg="Bernoulli")
    lo, hi = np.array([-1.0, 2.0]), np.array([1.0, 2.5])
    s = _np(D.Uniform(dlcore.tensor(lo), dlcore.tensor(hi)).sample((n,)))
    assert np.all(s >= lo) and np.all(s < hi)
    _check_moments(s, (lo + hi) / 2, (hi - lo) ** 2 / 12, n, msg="Uniform")
    s = _np(D.Laplace(dlcore.tensor(loc), dlcore.tensor(scale)).sample((n,)))
    _check_moments(s, loc, 2 * scale ** 2, n, k=6.0, msg="Laplace")
    rate = np.array([0.5, 3.0])
    s = _np(D.Exponential(dlcore.tensor(rate)).sample((n,)))
    assert np.all(s >= 0)
    np.testing.assert_array_less(np.abs(s.mean(0) - 1 / rate), 5 * np.sqrt(1 / rate ** 2 / n))
    conc, rate = np.array([0.3, 1.0, 2.5, 10.0]), np.array([1.0, 2.0, 0.5, 3.0])
    s = _np(D.Gamma(dlcore.tensor(conc), dlcore.tensor(rate)).sample((n,)))
    assert np.all(s > 0)
    var = conc / rate ** 2
    np.testing.assert_array_less(np.abs(s.mean(0) - conc / rate), 5 * np.sqrt(var / n))
    kurt = 3 + 6 / conc  # Gamma's kurtosis: Var(s^2 - ...) = (kurt - 1) var^2
    np.testing.assert_array_less(np.abs(s.var(0) - var), 5 * np.sqrt((kurt - 1) * var ** 2 / n))
    s = _np(D.Beta(dlcore.tensor(conc), dlcore.tensor(rate)).sample((n,)))
    assert np.all(s > 0) and np.all(s < 1)
    m = conc / (conc + rate)
    _check_moments(s, m, conc * rate / ((conc + rate) ** 2 * (conc + rate + 1)), n, msg="Beta")


def test_sample_moments_more():
    dlcore.manual_seed(4)
    n = 20000
    rate = np.array([0.0, 0.7, 4.0, 9.9, 10.0, 35.0, 500.0])
    s = _np(D.Poisson(dlcore.tensor(rate)).sample((n,)))
    assert np.all(s == np.round(s)) and np.all(s >= 0) and np.all(s[:, 0] == 0)
    _check_moments(s[:, 1:], rate[1:], rate[1:], n, msg="Poisson")
    p = np.array([0.2, 0.5, 0.9])
    s = _np(D.Geometric(dlcore.tensor(p)).sample((n,)))
    assert np.all(s == np.round(s)) and np.all(s >= 0)
    np.testing.assert_array_less(np.abs(s.mean(0) - (1 / p - 1)), 5 * np.sqrt((1 / p - 1) / p / n))
    cnt = np.array([1.0, 10.0, 30.0])
    s = _np(D.Binomial(dlcore.tensor(cnt), dlcore.tensor(p)).sample((n,)))
    assert np.all(s <= cnt) and np.all(s >= 0)
    _check_moments(s, cnt * p, cnt * p * (1 - p), n, msg="Binomial")
    conc = np.array([[0.5, 1.0, 3.0], [2.0, 2.0, 2.0]])
    s = _np(D.Dirichlet(dlcore.tensor(conc)).sample((n,)))
    np.testing.assert_allclose(s.sum(-1), 1.0, rtol=1e-12)
    a0 = conc.sum(-1, keepdims=True)
    _check_moments(s, conc / a0, conc * (a0 - conc) / (a0 ** 2 * (a0 + 1)), n, msg="Dirichlet")
    df = np.array([5.0, 9.0])
    s = _np(D.StudentT(dlcore.tensor(df), dlcore.tensor([1.0, -2.0]), dlcore.tensor([0.5, 2.0])).sample((n,)))
    var = np.array([0.25, 4.0]) * df / (df - 2)
    np.testing.assert_array_less(np.abs(s.mean(0) - np.array([1.0, -2.0])), 5 * np.sqrt(var / n))
    s = _np(D.Chi2(dlcore.tensor(df)).sample((n,)))
    _check_moments(s, df, 2 * df, n, k=6.0, msg="Chi2")
    probs = np.array([0.1, 0.6, 0.3])
    s = _np(D.Multinomial(8, dlcore.tensor(probs)).sample((n,)))
    assert np.all(s.sum(-1) == 8) and np.all(s == np.round(s))
    _check_moments(s, 8 * probs, 8 * probs * (1 - probs), n, msg="Multinomial")
    r, p = np.array([2.0, 5.5]), np.array([0.3, 0.6])
    s = _np(D.NegativeBinomial(dlcore.tensor(r), dlcore.tensor(p)).sample((n,)))
    assert np.all(s == np.round(s)) and np.all(s >= 0)
    m = r * p / (1 - p)
    np.testing.assert_array_less(np.abs(s.mean(0) - m), 5 * np.sqrt(m / (1 - p) / n))
    s = _np(D.Cauchy(dlcore.tensor([1.0]), dlcore.tensor([2.0])).sample((n,)))[:, 0]
    for x, f in ((1.0, 0.5), (3.0, 0.75), (-1.0, 0.25)):  # the cdf at loc and loc +- scale
        assert abs((s <= x).mean() - f) < 5 * np.sqrt(f * (1 - f) / n)


def test_relaxed_and_gumbel_samples():
    dlcore.manual_seed(10)
    n = 20000
    probs = np.array([0.1, 0.2, 0.3, 0.4])
    s = _np(D.RelaxedOneHotCategorical(dlcore.tensor(0.5, dtype=dlcore.float64),
                                       probs=dlcore.tensor(probs)).sample((n,)))
    np.testing.assert_allclose(s.sum(-1), 1.0, rtol=1e-12)
    freq = np.bincount(s.argmax(-1), minlength=4) / n  # the Gumbel-max trick: argmax ~ Categorical(probs)
    np.testing.assert_array_less(np.abs(freq - probs), 5 * np.sqrt(probs * (1 - probs) / n))
    p = np.array([0.2, 0.7])
    s = _np(D.RelaxedBernoulli(dlcore.tensor(0.3, dtype=dlcore.float64), probs=dlcore.tensor(p)).sample((n,)))
    assert np.all((s > 0) & (s < 1))
    np.testing.assert_array_less(np.abs((s > 0.5).mean(0) - p), 5 * np.sqrt(p * (1 - p) / n))
    loc, scale = np.array([0.5, -1.0]), np.array([1.0, 2.0])
    s = _np(D.Gumbel(dlcore.tensor(loc), dlcore.tensor(scale)).sample((n,)))
    _check_moments(s, loc + 0.5772156649015329 * scale, np.pi ** 2 / 6 * scale ** 2, n, k=6.0, msg="Gumbel")
    s = _np(D.HalfNormal(dlcore.tensor(scale)).sample((n,)))
    assert np.all(s >= 0)
    _check_moments(s, scale * np.sqrt(2 / np.pi), scale ** 2 * (1 - 2 / np.pi), n, msg="HalfNormal")


def test_categorical_sample_frequencies():
    dlcore.manual_seed(1)
    n = 20000
    probs = np.array([[0.1, 0.0, 0.6, 0.3], [0.25, 0.25, 0.25, 0.25]])
    s = _np(D.Categorical(probs=dlcore.tensor(probs)).sample((n,)))
    assert s.dtype == np.int64 and s.min() >= 0 and s.max() <= 3
    for b in range(2):
        freq = np.bincount(s[:, b], minlength=4) / n
        np.testing.assert_array_less(np.abs(freq - probs[b]), 5 * np.sqrt(probs[b] * (1 - probs[b]) / n) + 1e-12)
    assert np.all(s[:, 0] != 1)  # zero-probability category never drawn
    oh = _np(D.OneHotCategorical(probs=dlcore.tensor(probs)).sample((n,)))
    assert np.all(oh.sum(-1) == 1)
    np.testing.assert_array_less(np.abs(oh.mean(0) - probs), 5 * np.sqrt(probs * (1 - probs) / n) + 1e-12)


def test_lowrank_mvn_matrices(rng):
    loc, W, Dg = rng.standard_normal((2, 4)), rng.standard_normal((4, 2)), rng.uniform(0.5, 2, (2, 4))
    dd = D.LowRankMultivariateNormal(dlcore.tensor(loc), dlcore.tensor(W), dlcore.tensor(Dg))
    td = TD.LowRankMultivariateNormal(torch.tensor(loc), torch.tensor(W), torch.tensor(Dg))
    for name in ("covariance_matrix", "precision_matrix", "scale_tril", "variance"):
        _close(getattr(dd, name), getattr(td, name), rtol=1e-9, atol=1e-12, msg=name)
    dlcore.manual_seed(3)
    s = _np(dd.sample((20000,)))
    cov = W @ W.T + np.diag(Dg[0])
    emp = np.cov(s[:, 0].T)
    se = np.sqrt((cov ** 2 + np.outer(np.diag(cov), np.diag(cov))) / 20000)
    np.testing.assert_array_less(np.abs(emp - cov), 6 * se)
    with pytest.raises(ValueError, match="cov_factor"):
        D.LowRankMultivariateNormal(dlcore.tensor(loc), dlcore.tensor(W[:3]), dlcore.tensor(Dg))


def test_mvn_sample_covariance():
    dlcore.manual_seed(2)
    rng = np.random.default_rng(3)
    cov = _spd(rng, 3)
    loc = rng.standard_normal(3)
    n = 20000
    s = _np(D.MultivariateNormal(dlcore.tensor(loc), covariance_matrix=dlcore.tensor(cov)).sample((n,)))
    sd = np.sqrt(np.diag(cov))
    np.testing.assert_array_less(np.abs(s.mean(0) - loc), 5 * sd / np.sqrt(n))
    emp = np.cov(s.T)
    se = np.sqrt((cov ** 2 + np.outer(np.diag(cov), np.diag(cov))) / n)
    np.testing.assert_array_less(np.abs(emp - cov), 6 * se)


def _seeded(fn, seed=11):
    def f(*args):
        dlcore.manual_seed(seed)
        return fn(*args)
    return f


def test_rsample_gradients_finite_differences(rng):
    def t(x):
        return dlcore.tensor(x, dtype=dlcore.float64, requires_grad=True)
    loc, scale = t(rng.standard_normal(3)), t(rng.uniform(0.5, 1.5, 3))
    gradcheck(_seeded(lambda a, b: D.Normal(a, b, validate_args=False).rsample((4,)) ** 2), [loc, scale])
    gradcheck(_seeded(lambda a, b: D.Laplace(a, b, validate_args=False).rsample((4,)).sin()), [loc, scale])
    lo = t(rng.standard_normal(3))
    hi = t(_np(lo) + 1.0 + rng.uniform(0, 1, 3))
    gradcheck(_seeded(lambda a, b: D.Uniform(a, b, validate_args=False).rsample((4,)).exp()), [lo, hi])
    gradcheck(_seeded(lambda r: D.Exponential(r, validate_args=False).rsample((4,)).sqrt()), [scale])
    L = t(np.linalg.cholesky(_spd(rng, 3)))
    gradcheck(_seeded(lambda m, l: D.MultivariateNormal(m, scale_tril=l, validate_args=False).rsample((2,)) ** 2),
              [loc, L])
    W, dg = t(rng.standard_normal((3, 2))), t(rng.uniform(0.5, 1.5, 3))
    gradcheck(_seeded(lambda m, w, g: D.LowRankMultivariateNormal(m, w, g, validate_args=False).rsample((2,))),
              [loc, W, dg])
    gradcheck(_seeded(lambda a, b: D.Cauchy(a, b, validate_args=False).rsample((3,)).atan()), [loc, scale])
    gradcheck(_seeded(lambda a, b: D.Gumbel(a, b, validate_args=False).rsample((3,))), [loc, scale])
    gradcheck(_seeded(lambda b: D.HalfNormal(b, validate_args=False).rsample((3,))), [scale])
    gradcheck(_seeded(lambda a, b: D.LogNormal(a, b, validate_args=False).rsample((3,))), [loc, scale])
    temp = t(np.array(0.8))
    gradcheck(_seeded(lambda tt, lg: D.RelaxedOneHotCategorical(tt, logits=lg, validate_args=False).rsample((2,))),
              [temp, loc])
    gradcheck(_seeded(lambda tt, lg: D.RelaxedBernoulli(tt, logits=lg, validate_args=False).rsample((2,))),
              [temp, loc])
    cov = t(_spd(rng, 3))
    gradcheck(_seeded(lambda m, c: D.MultivariateNormal(
        m, covariance_matrix=(c + c.transpose(-2, -1)) / 2, validate_args=False).rsample((2,))), [loc, cov])


def _gamma_grad_oracle(alpha, z):
    """-(dP/dalpha) / pdf with P = torch.special.gammainc (float64) differentiated by central differences."""
    a, x = torch.tensor(alpha), torch.tensor(z)
    h = 1e-5 * a
    dp = (torch.special.gammainc(a + h, x) - torch.special.gammainc(a - h, x)) / (2 * h)
    pdf = torch.exp((a - 1) * torch.log(x) - x - torch.lgamma(a))
    return (-dp / pdf).numpy()


def test_gamma_rsample_implicit_gradient(rng):
    dlcore.manual_seed(6)
    conc = np.array([0.2, 0.9, 2.5, 7.0])
    rate = np.array([1.0, 0.5, 2.0, 1.5])
    c = dlcore.tensor(np.tile(conc, (50, 1)), requires_grad=True)  # one leaf per sample: per-sample gradients
    r = dlcore.tensor(np.tile(rate, (50, 1)), requires_grad=True)
    z = D.Gamma(c, r).rsample()
    gc, gr = dlcore.autograd.grad(z.sum(), [c, r])
    z0 = _np(z) * rate  # the standard Gamma draw
    ok = z0 > 1e-6  # (the oracle's differences lose accuracy where P underflows)
    dz0 = _gamma_grad_oracle(np.tile(conc, (50, 1)), z0)
    np.testing.assert_allclose(_np(gc)[ok], (dz0 / rate)[ok], rtol=1e-5)
    np.testing.assert_allclose(_np(gc), torch._standard_gamma_grad(torch.tensor(np.tile(conc, (50, 1))),
                                                                   torch.tensor(z0)).numpy() / rate, rtol=3e-3)
    np.testing.assert_allclose(_np(gr), -_np(z) / rate, rtol=1e-12)


def test_pathwise_gradients_in_expectation():
    """d/dtheta E[f(x)] estimated from rsample gradients against the closed form (within 5 standard errors)."""
    dlcore.manual_seed(8)
    n = 20000
    a_, b_ = 2.0, 3.0
    a = dlcore.full((n,), a_, dtype=dlcore.float64, requires_grad=True)
    b = dlcore.full((n,), b_, dtype=dlcore.float64, requires_grad=True)
    x = D.Beta(a, b).rsample()
    ga, gb = (_np(g) for g in dlcore.autograd.grad(x.sum(), [a, b]))
    for g, exact in ((ga, b_ / (a_ + b_) ** 2), (gb, -a_ / (a_ + b_) ** 2)):  # d/da a/(a+b), d/db
        assert abs(g.mean() - exact) < 5 * g.std() / np.sqrt(n), (g.mean(), exact)
    conc = dlcore.tensor(np.tile([1.5, 0.7, 3.0], (n, 1)), requires_grad=True)
    x = D.Dirichlet(conc).rsample()
    g = _np(dlcore.autograd.grad(x[:, 0].sum(), [conc])[0])
    a0 = 5.2
    exact = np.array([(a0 - 1.5) / a0 ** 2, -1.5 / a0 ** 2, -1.5 / a0 ** 2])  # d E[x_0] / d conc_j
    assert np.all(np.abs(g.mean(0) - exact) < 5 * g.std(0) / np.sqrt(n)), (g.mean(0), exact)
    df = dlcore.full((n,), 6.0, dtype=dlcore.float64, requires_grad=True)
    t = D.StudentT(df, 0.0, 1.0).rsample()
    g = _np(dlcore.autograd.grad((t ** 2).sum(), [df])[0])
    exact = -2.0 / (6.0 - 2) ** 2  # d/d df of df / (df - 2)
    assert abs(g.mean() - exact) < 5 * g.std() / np.sqrt(n), (g.mean(), exact)


def test_vae_loss_gradients_vs_torch(rng):
    """Reparameterized ELBO terms: the same eps fed to both, so rsample's graph is compared exactly."""
    mu_np, ls_np = rng.standard_normal((4, 3)), rng.standard_normal((4, 3)) * 0.3
    mu, ls = (dlcore.tensor(a, requires_grad=True) for a in (mu_np, ls_np))
    mut, lst = (torch.tensor(a, requires_grad=True) for a in (mu_np, ls_np))
    q = D.Normal(mu, ls.exp())
    z = q.rsample()
    eps = (_np(z) - mu_np) / np.exp(ls_np)
    qt = TD.Normal(mut, lst.exp())
    zt = mut + torch.tensor(eps) * lst.exp()
    loss = D.kl_divergence(q, D.Normal(0.0, 1.0)).sum() + (z ** 2).sum() - q.log_prob(z).sum()
    losst = TD.kl_divergence(qt, TD.Normal(0.0, 1.0)).sum() + (zt ** 2).sum() - qt.log_prob(zt).sum()
    _close(loss, losst, rtol=1e-9)
    for a, b in zip(dlcore.autograd.grad(loss, [mu, ls]), torch.autograd.grad(losst, [mut, lst])):
        _close(a, b, rtol=1e-9, atol=1e-11)


def test_policy_gradient_categorical_vs_torch(rng):
    logits_np = rng.standard_normal((5, 4))
    adv = rng.standard_normal(5)
    lg = dlcore.tensor(logits_np, requires_grad=True)
    lgt = torch.tensor(logits_np, requires_grad=True)
    pi = D.Categorical(logits=lg)
    a = pi.sample()
    assert tuple(a.shape) == (5,) and a.dtype == dlcore.int64
    at = torch.tensor(_np(a))
    pit = TD.Categorical(logits=lgt)
    loss = -(pi.log_prob(a) * dlcore.tensor(adv)).mean() - 0.01 * pi.entropy().mean()
    losst = -(pit.log_prob(at) * torch.tensor(adv)).mean() - 0.01 * pit.entropy().mean()
    _close(loss, losst)
    _close(dlcore.autograd.grad(loss, [lg])[0], torch.autograd.grad(losst, [lgt])[0], rtol=1e-9, atol=1e-12)


def _kl_pairs(rng):
    pos = lambda *s: rng.uniform(0.5, 2.0, s)  # noqa: E731
    pr = lambda *s: rng.uniform(0.05, 0.95, s)  # noqa: E731
    low = rng.standard_normal(4)
    return {
        "normal": ("Normal", {"loc": rng.standard_normal(4), "scale": pos(4)},
                   {"loc": rng.standard_normal((2, 4)), "scale": pos(2, 4)}),
        "bernoulli": ("Bernoulli", {"probs": np.array([0.0, 1.0, 0.3, 0.7, 0.5])},
                      {"probs": np.array([0.2, 0.6, 0.0, 1.0, 0.5])}),
        "bernoulli_logits": ("Bernoulli", {"logits": rng.standard_normal(4)}, {"probs": pr(4)}),
        "categorical": ("Categorical", {"probs": np.array([[0.2, 0.0, 0.8], [0.3, 0.3, 0.4], [0.5, 0.5, 0.0]])},
                        {"probs": np.array([[0.1, 0.5, 0.4], [0.0, 0.5, 0.5], [0.2, 0.2, 0.6]])}),
        "categorical_logits": ("Categorical", {"logits": rng.standard_normal((3, 4))},
                               {"logits": rng.standard_normal((3, 4))}),
        "onehot": ("OneHotCategorical", {"logits": rng.standard_normal((3, 4))},
                   {"logits": rng.standard_normal((3, 4))}),
        "uniform": ("Uniform", {"low": low, "high": low + 1.0},
                    {"low": low - np.array([0.5, 0.0, -0.1, 0.2]), "high": low + np.array([2.0, 1.0, 1.5, 0.9])}),
        "laplace": ("Laplace", {"loc": rng.standard_normal(4), "scale": pos(4)},
                    {"loc": rng.standard_normal(4), "scale": pos(4)}),
        "exponential": ("Exponential", {"rate": pos(4)}, {"rate": pos(4)}),
        "lognormal": ("LogNormal", {"loc": rng.standard_normal(4), "scale": pos(4)},
                      {"loc": rng.standard_normal((2, 4)), "scale": pos(2, 4)}),
        "gamma": ("Gamma", {"concentration": pos(4), "rate": pos(4)}, {"concentration": pos(4), "rate": pos(4)}),
        "chi2": ("Chi2", {"df": pos(4) * 2}, {"df": pos(4) * 2}),
        "cauchy": ("Cauchy", {"loc": rng.standard_normal(4), "scale": pos(4)},
                   {"loc": rng.standard_normal(4), "scale": pos(4)}),
        "poisson": ("Poisson", {"rate": pos(4)}, {"rate": pos(4)}),
        "geometric": ("Geometric", {"probs": pr(4)}, {"logits": rng.standard_normal(4)}),
        "binomial": ("Binomial", {"total_count": np.array([5.0, 5.0, 6.0]), "probs": pr(3)},
                     {"total_count": np.array([5.0, 5.0, 5.0]), "probs": pr(3)}),
        "dirichlet": ("Dirichlet", {"concentration": pos(2, 4)}, {"concentration": pos(2, 4)}),
        "beta": ("Beta", {"concentration1": pos(4), "concentration0": pos(4)},
                 {"concentration1": pos(4), "concentration0": pos(4)}),
        "mvn": ("MultivariateNormal", {"loc": rng.standard_normal((2, 3)),
                                       "scale_tril": np.linalg.cholesky(_spd(rng, 3))},
                {"loc": rng.standard_normal(3), "covariance_matrix": _spd(rng, 3, (2,))}),
        "lowrank_mvn": ("LowRankMultivariateNormal", {"loc": rng.standard_normal((2, 3)),
                                                      "cov_factor": rng.standard_normal((3, 2)),
                                                      "cov_diag": pos(3)},
                        {"loc": rng.standard_normal(3), "cov_factor": rng.standard_normal((2, 3, 1)),
                         "cov_diag": pos(2, 3)}),
    }


KL_PAIRS = list(_kl_pairs(np.random.default_rng(0)).keys())


@pytest.mark.parametrize("pair", KL_PAIRS)
def test_kl_vs_torch(pair, device, rng):
    cls, pp, qp = _kl_pairs(rng)[pair]
    p, pt, ppd, ppt = _pair(cls, pp, device, requires_grad=True)
    q, qt, qpd, qpt = _pair(cls, qp, device, requires_grad=True)
    kl = D.kl_divergence(p, q)
    klt = TD.kl_divergence(pt, qt)
    _close(kl, klt, msg=pair)
    finite = np.isfinite(_np(klt))
    w = np.where(finite, rng.standard_normal(finite.shape), 0.0)
    ld = dlcore.where(dlcore.tensor(finite, device=device), kl, 0.0)
    lt = torch.where(torch.tensor(finite), klt, 0.0)
    ld = (ld * dlcore.tensor(w, device=device)).sum()
    lt = (lt * torch.tensor(w)).sum()
    names = list(ppd) + list(qpd)
    gd = dlcore.autograd.grad(ld, list(ppd.values()) + list(qpd.values()), allow_unused=True)
    gt = torch.autograd.grad(lt, list(ppt.values()) + list(qpt.values()), allow_unused=True)
    for k, a, b in zip(names, gd, gt):
        if b is None:
            assert a is None or np.all(_np(a) == 0), k
            continue
        _close(a, b, rtol=1e-9, atol=1e-11, msg=f"{pair} d/d{k}")


def test_independent(rng):
    loc, scale = rng.standard_normal((2, 3, 4)), rng.uniform(0.5, 2, (2, 3, 4))
    dd = D.Independent(D.Normal(dlcore.tensor(loc), dlcore.tensor(scale)), 2)
    td = TD.Independent(TD.Normal(torch.tensor(loc), torch.tensor(scale)), 2)
    assert tuple(dd.batch_shape) == (2,) and tuple(dd.event_shape) == (3, 4)
    v = rng.standard_normal((5, 2, 3, 4))
    _close(dd.log_prob(dlcore.tensor(v)), td.log_prob(torch.tensor(v)))
    _close(dd.entropy(), td.entropy())
    _close(dd.mean, td.mean)
    _close(dd.variance, td.variance)
    assert tuple(dd.sample((3,)).shape) == (3, 2, 3, 4) and dd.has_rsample
    loc2, scale2 = rng.standard_normal((2, 3, 4)), rng.uniform(0.5, 2, (2, 3, 4))
    qd = D.Independent(D.Normal(dlcore.tensor(loc2), dlcore.tensor(scale2)), 2)
    qt = TD.Independent(TD.Normal(torch.tensor(loc2), torch.tensor(scale2)), 2)
    _close(D.kl_divergence(dd, qd), TD.kl_divergence(td, qt))
    b = D.Independent(D.Bernoulli(logits=dlcore.tensor(loc)), 1)
    bt = TD.Independent(TD.Bernoulli(logits=torch.tensor(loc)), 1)
    bq = D.Independent(D.Bernoulli(logits=dlcore.tensor(loc2)), 1)
    bqt = TD.Independent(TD.Bernoulli(logits=torch.tensor(loc2)), 1)
    _close(D.kl_divergence(b, bq), TD.kl_divergence(bt, bqt))
    with pytest.raises(NotImplementedError):
        D.kl_divergence(dd, D.Independent(D.Normal(dlcore.tensor(loc2), dlcore.tensor(scale2)), 1))
    with pytest.raises(ValueError, match="reinterpreted_batch_ndims"):
        D.Independent(D.Normal(dlcore.tensor(loc), dlcore.tensor(scale)), 4)
    e = dd.expand((5, 2))
    assert tuple(e.batch_shape) == (5, 2) and tuple(e.event_shape) == (3, 4)
    _close(e.log_prob(dlcore.tensor(v)), td.expand((5, 2)).log_prob(torch.tensor(v)))


def test_transformed_distribution(rng, device):
    loc, scale = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    a, b = rng.standard_normal(3), rng.uniform(0.5, 2, 3) * np.array([1, -1, 1])

    def build(mod, tens, rg):
        base = mod.Normal(tens(loc, rg), tens(scale, rg))
        tr = [mod.transforms.AffineTransform(tens(a, rg), tens(b, rg)), mod.transforms.SigmoidTransform()]
        return mod.TransformedDistribution(base, tr)

    dt = lambda x, rg: dlcore.tensor(x, device=device, requires_grad=rg)  # noqa: E731
    tt = lambda x, rg: torch.tensor(x, requires_grad=rg)  # noqa: E731
    dd, td = build(D, dt, True), build(TD, tt, True)
    assert tuple(dd.batch_shape) == (3,) and tuple(dd.event_shape) == ()
    v = rng.uniform(0.05, 0.95, (2, 3))
    lp, lpt = dd.log_prob(dlcore.tensor(v, device=device)), td.log_prob(torch.tensor(v))
    _close(lp, lpt)
    q = rng.uniform(0.05, 0.95, 3)
    _close(dd.icdf(dlcore.tensor(q, device=device)), td.icdf(torch.tensor(q)))
    params_d = [dd.base_dist.loc, dd.base_dist.scale, dd.transforms[0].loc, dd.transforms[0].scale]
    params_t = [td.base_dist.loc, td.base_dist.scale, td.transforms[0].loc, td.transforms[0].scale]
    for g1, g2 in zip(dlcore.autograd.grad(lp.sum(), params_d), torch.autograd.grad(lpt.sum(), params_t)):
        _close(g1, g2, rtol=1e-9, atol=1e-11)
    s = dd.sample((4,))
    assert tuple(s.shape) == (4, 3) and bool(((s > 0) & (s < 1)).all())
    with pytest.raises(ValueError, match="support"):
        dd.log_prob(dlcore.tensor([0.5, 1.5, 0.5], device=device))
    # monotone increasing transforms: cdf goes through the base cdf
    ed = D.TransformedDistribution(D.Normal(dlcore.tensor(loc), dlcore.tensor(scale)), [D.transforms.ExpTransform(),
                                   D.transforms.AffineTransform(1.0, 2.0)])
    et = TD.TransformedDistribution(TD.Normal(torch.tensor(loc), torch.tensor(scale)), [TD.transforms.ExpTransform(),
                                    TD.transforms.AffineTransform(1.0, 2.0)])
    w = rng.uniform(1.5, 4.0, (2, 3))
    _close(ed.cdf(dlcore.tensor(w)), et.cdf(torch.tensor(w)))
    _close(ed.log_prob(dlcore.tensor(w)), et.log_prob(torch.tensor(w)))
    x = rng.standard_normal(5) * 0.5
    for tr_d, tr_t in ((D.transforms.TanhTransform(), TD.transforms.TanhTransform()),
                       (D.transforms.PowerTransform(2.5), TD.transforms.PowerTransform(2.5))):
        xi = np.abs(x) + 0.1 if isinstance(tr_d, D.transforms.PowerTransform) else x
        y_d, y_t = tr_d(dlcore.tensor(xi)), tr_t(torch.tensor(xi))
        _close(y_d, y_t)
        _close(tr_d.inv(y_d), xi)  # (torch's PowerTransform inverts with a float32 exponent 1/2.5: not a reference)
        _close(tr_d.log_abs_det_jacobian(dlcore.tensor(xi), y_d), tr_t.log_abs_det_jacobian(torch.tensor(xi), y_t))
    ln = D.LogNormal(dlcore.tensor(loc), dlcore.tensor(scale))
    ln2 = D.LogNormal(dlcore.tensor(loc), dlcore.tensor(scale) * 2)
    assert D.kl_divergence(ln, ln2).shape == (3,)
    with pytest.raises(NotImplementedError):
        D.kl_divergence(ed, D.TransformedDistribution(D.Normal(dlcore.tensor(loc), dlcore.tensor(scale)),
                                                      [D.transforms.ExpTransform()]))


@pytest.mark.parametrize("case", CASES)
def test_expand_all_vs_torch(case, rng):
    cls, params, value = _cases(rng)[case]
    dd, td, _, _ = _pair(cls, params)
    new_batch = (2,) + tuple(td.batch_shape)
    de, te = dd.expand(new_batch), td.expand(new_batch)
    assert type(de) is type(dd) and tuple(de.batch_shape) == tuple(te.batch_shape)
    assert tuple(de.event_shape) == tuple(te.event_shape)
    vd, vt = _value(value[:1], cls)
    _close(de.log_prob(vd), te.log_prob(vt), msg=f"{case} expanded log_prob")
    # (torch's expanded Multinomial lacks _binomial for its entropy: compare with the unexpanded one, broadcast)
    a, b = _both(de.entropy, (lambda: td.entropy().expand(new_batch)) if cls == "Multinomial" else te.entropy)
    if b is not None:
        _close(a, b, rtol=1e-7 if cls == "Multinomial" else RTOL, msg=f"{case} expanded entropy")
    assert tuple(de.sample((3,)).shape) == tuple(te.sample((3,)).shape)


def test_expand(rng):
    loc, scale = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    e = D.Normal(dlcore.tensor(loc), dlcore.tensor(scale)).expand((2, 3))
    et = TD.Normal(torch.tensor(loc), torch.tensor(scale)).expand((2, 3))
    assert tuple(e.batch_shape) == (2, 3)
    v = rng.standard_normal((4, 2, 3))
    _close(e.log_prob(dlcore.tensor(v)), et.log_prob(torch.tensor(v)))
    c = D.Categorical(logits=dlcore.tensor(rng.standard_normal(4))).expand((3,))
    assert tuple(c.batch_shape) == (3,) and tuple(c.sample((2,)).shape) == (2, 3)
    m = D.MultivariateNormal(dlcore.tensor(loc), covariance_matrix=dlcore.tensor(_spd(rng, 3))).expand((2,))
    assert tuple(m.batch_shape) == (2,) and tuple(m.covariance_matrix.shape) == (2, 3, 3)
    assert tuple(m.log_prob(dlcore.tensor(v[0])).shape) == (2,)
    b = D.Bernoulli(logits=dlcore.tensor(loc)).expand((5, 3))
    assert tuple(b.probs.shape) == (5, 3) and b._validate_args


def test_gamma_cdf(rng):
    conc = rng.uniform(0.3, 8.0, 6)
    rate = rng.uniform(0.5, 2.0, 6)
    x = rng.uniform(0.01, 12.0, (3, 6))
    xd = dlcore.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    cd = D.Gamma(dlcore.tensor(conc), dlcore.tensor(rate)).cdf(xd)
    ct = TD.Gamma(torch.tensor(conc), torch.tensor(rate)).cdf(xt)
    _close(cd, ct, rtol=1e-11)
    _close(dlcore.autograd.grad(cd.sum(), [xd])[0], torch.autograd.grad(ct.sum(), [xt])[0], rtol=1e-10)
    # in float32 too (computed in float64 internally)
    c32 = D.Gamma(dlcore.tensor(conc, dtype=dlcore.float32), 1.0).cdf(dlcore.tensor(x, dtype=dlcore.float32))
    assert c32.dtype == dlcore.float32
    _close(c32.to(dlcore.float64), TD.Gamma(torch.tensor(conc), 1.0).cdf(torch.tensor(x)), rtol=1e-5, atol=1e-7)
    conc_d = dlcore.tensor(conc, requires_grad=True)
    with pytest.raises(NotImplementedError, match="concentration"):
        D.Gamma(conc_d, 1.0).cdf(dlcore.tensor(x)).sum().backward()


def test_multinomial_entropy():
    """Against the float64 sum over all outcomes (n = 5, k = 3)."""
    from itertools import product
    from math import lgamma
    probs = np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]])
    n = 5
    ent = np.zeros(2)
    for x in product(range(n + 1), repeat=3):
        if sum(x) != n:
            continue
        x = np.array(x, dtype=np.float64)
        lp = lgamma(n + 1) - sum(lgamma(v + 1) for v in x) + (x * np.log(probs)).sum(-1)
        ent -= np.exp(lp) * lp
    _close(D.Multinomial(n, dlcore.tensor(probs)).entropy(), ent, rtol=1e-12)


def test_beta_mode_small_concentrations():
    c1 = np.array([0.5, 0.3, 0.5, 2.0, 1.0, 0.7])
    c0 = np.array([0.3, 0.5, 0.5, 0.4, 0.5, 3.0])
    _close(D.Beta(dlcore.tensor(c1), dlcore.tensor(c0)).mode, TD.Beta(torch.tensor(c1), torch.tensor(c0)).mode)


def test_enumerate_support(rng):
    p = rng.uniform(0.1, 0.9, (2, 3))
    for expand in (True, False):
        _close(D.Bernoulli(dlcore.tensor(p)).enumerate_support(expand),
               TD.Bernoulli(torch.tensor(p)).enumerate_support(expand))
        _close(D.Categorical(dlcore.tensor(p)).enumerate_support(expand),
               TD.Categorical(torch.tensor(p)).enumerate_support(expand))
        _close(D.OneHotCategorical(dlcore.tensor(p)).enumerate_support(expand),
               TD.OneHotCategorical(torch.tensor(p)).enumerate_support(expand))


def _msg_pair(fd, ft):
    with pytest.raises(ValueError) as ed:
        fd()
    with pytest.raises(ValueError) as et:
        ft()
    return str(ed.value).replace("dlcore.", "torch."), str(et.value)


@pytest.mark.parametrize("name,build", [
    ("normal_scale", lambda m: m.Normal(m_t(m, [0.0, 1.0]), m_t(m, [1.0, -1.0]))),
    ("normal_nan_loc", lambda m: m.Normal(m_t(m, [float("nan")]), m_t(m, [1.0]))),
    ("bernoulli_probs", lambda m: m.Bernoulli(probs=m_t(m, [0.5, 1.5]))),
    ("categorical_probs", lambda m: m.Categorical(probs=m_t(m, [0.5, -0.5, 1.0]))),
    ("uniform_order", lambda m: m.Uniform(m_t(m, [0.0, 2.0]), m_t(m, [1.0, 1.0]))),
    ("exponential_rate", lambda m: m.Exponential(m_t(m, [0.0]))),
    ("gamma_conc", lambda m: m.Gamma(m_t(m, [-1.0]), m_t(m, [1.0]))),
    ("mvn_scale_tril", lambda m: m.MultivariateNormal(m_t(m, [0.0, 0.0]), scale_tril=m_t(m, [[1.0, 0.0],
                                                                                             [0.5, -1.0]]))),
    ("mvn_cov", lambda m: m.MultivariateNormal(m_t(m, [0.0, 0.0]),
                                               covariance_matrix=m_t(m, [[1.0, 2.0], [2.0, 1.0]]))),
    ("log_prob_normal_not_tensor", lambda m: m.Normal(m_t(m, [0.0]), m_t(m, [1.0])).log_prob(0.5)),
    ("log_prob_broadcast", lambda m: m.Normal(m_t(m, [0.0, 0.0, 0.0]), m_t(m, [1.0, 1.0, 1.0])).log_prob(
        m_t(m, [0.0, 1.0]))),
    ("log_prob_event_shape", lambda m: m.MultivariateNormal(m_t(m, [0.0, 0.0]), scale_tril=m_t(
        m, [[1.0, 0.0], [0.0, 1.0]])).log_prob(m_t(m, [0.0, 1.0, 2.0]))),
    ("log_prob_bernoulli", lambda m: m.Bernoulli(probs=m_t(m, [0.5, 0.5])).log_prob(m_t(m, [1.0, 0.5]))),
    ("log_prob_exponential", lambda m: m.Exponential(m_t(m, [1.0])).log_prob(m_t(m, [-1.0]))),
    ("log_prob_uniform", lambda m: m.Uniform(m_t(m, [0.0]), m_t(m, [1.0])).log_prob(m_t(m, [1.5]))),
    ("log_prob_beta", lambda m: m.Beta(m_t(m, [2.0]), m_t(m, [2.0])).log_prob(m_t(m, [1.5]))),
    ("log_prob_categorical", lambda m: m.Categorical(logits=m_t(m, [0.0, 0.0])).log_prob(
        m_t(m, [2.0]).long())),
    ("log_prob_onehot", lambda m: m.OneHotCategorical(logits=m_t(m, [0.0, 0.0])).log_prob(m_t(m, [1.0, 1.0]))),
    ("geometric_zero", lambda m: m.Geometric(probs=m_t(m, [0.5, 0.0]))),
    ("binomial_count", lambda m: m.Binomial(m_t(m, [2.5]), probs=m_t(m, [0.5]))),
    ("binomial_value", lambda m: m.Binomial(m_t(m, [3.0]), probs=m_t(m, [0.5])).log_prob(m_t(m, [4.0]))),
    ("poisson_value", lambda m: m.Poisson(m_t(m, [1.0])).log_prob(m_t(m, [1.5]))),
    ("dirichlet_value", lambda m: m.Dirichlet(m_t(m, [1.0, 2.0])).log_prob(m_t(m, [0.5, 0.6]))),
    ("dirichlet_conc", lambda m: m.Dirichlet(m_t(m, [1.0, -2.0]))),
    ("studentt_df", lambda m: m.StudentT(m_t(m, [-1.0]))),
    ("lognormal_value", lambda m: m.LogNormal(m_t(m, [0.0]), m_t(m, [1.0])).log_prob(m_t(m, [-1.0]))),
    ("bernoulli_both", lambda m: m.Bernoulli(probs=m_t(m, [0.5]), logits=m_t(m, [0.0]))),
    ("categorical_neither", lambda m: m.Categorical()),
    ("mvn_two_params", lambda m: m.MultivariateNormal(m_t(m, [0.0]), covariance_matrix=m_t(m, [[1.0]]),
                                                      scale_tril=m_t(m, [[1.0]]))),
])
def test_validation_messages_match_torch(name, build):
    got, expected = _msg_pair(lambda: build(D), lambda: build(TD))
    assert got == expected


def m_t(mod, data):
    if mod is D:
        return dlcore.tensor(data, dtype=dlcore.float32)
    return torch.tensor(data, dtype=torch.float32)


def test_validate_args_off():
    n = D.Normal(dlcore.tensor([0.0]), dlcore.tensor([-1.0]), validate_args=False)
    assert np.isnan(_np(n.log_prob(dlcore.tensor([0.0])))).all()
    e = D.Exponential(dlcore.tensor([1.0]), validate_args=False)
    _close(e.log_prob(dlcore.tensor([-1.0])), TD.Exponential(torch.tensor([1.0]), validate_args=False).log_prob(
        torch.tensor([-1.0])))


def test_kl_registry_dispatch():
    class MyNormal(D.Normal):
        pass

    p = MyNormal(dlcore.tensor([0.0]), dlcore.tensor([1.0]))
    q = D.Normal(dlcore.tensor([1.0]), dlcore.tensor([2.0]))
    expected = TD.kl_divergence(TD.Normal(torch.tensor([0.0]), torch.tensor([1.0])),
                                TD.Normal(torch.tensor([1.0]), torch.tensor([2.0])))
    _close(D.kl_divergence(p, q), expected, rtol=1e-6)  # falls back to Normal-Normal

    @D.register_kl(MyNormal, D.Normal)
    def _kl_mine(p, q):
        return p.loc * 0 + 42.0

    try:
        assert float(D.kl_divergence(p, q)) == 42.0
        _close(D.kl_divergence(q, q), dlcore.tensor([0.0]))
    finally:
        from dlcore.distributions import kl as _kl
        del _kl._KL_REGISTRY[MyNormal, D.Normal]
        _kl._KL_MEMOIZE.clear()
    with pytest.raises(NotImplementedError, match="Normal.*Bernoulli"):
        D.kl_divergence(q, D.Bernoulli(dlcore.tensor([0.5])))
    with pytest.raises(TypeError):
        D.register_kl(int, D.Normal)


def test_constraints():
    c = D.constraints
    x = dlcore.tensor([-1.0, 0.0, 0.5, 1.0, 2.0])
    assert _np(c.positive.check(x)).tolist() == [False, False, True, True, True]
    assert _np(c.unit_interval.check(x)).tolist() == [False, True, True, True, False]
    assert _np(c.interval(0.0, 1.0).check(x)).tolist() == _np(c.unit_interval.check(x)).tolist()
    assert _np(c.half_open_interval(0.0, 1.0).check(x)).tolist() == [False, True, True, False, False]
    assert _np(c.boolean.check(x)).tolist() == [False, True, False, True, False]
    assert _np(c.simplex.check(dlcore.tensor([[0.2, 0.8], [0.5, 0.6]]))).tolist() == [True, False]
    assert _np(c.independent(c.real, 1).check(dlcore.tensor([[0.0, float("nan")], [1.0, 2.0]]))).tolist() == \
        [False, True]
    assert repr(c.positive) == repr(TD.constraints.positive)
    assert repr(c.unit_interval) == repr(TD.constraints.unit_interval)
    assert c.is_dependent(D.Uniform(0.0, 1.0).arg_constraints["low"]) is False
    assert c.is_dependent(D.Categorical.support)
    assert repr(D.Uniform(0.0, 1.0).support) == repr(TD.Uniform(0.0, 1.0).support)


def test_mixture_same_family(rng, device):
    w, loc, sc = rng.uniform(0.5, 2, (2, 3)), rng.standard_normal((2, 3, 4)), rng.uniform(0.5, 2, (2, 3, 4))
    dt = lambda x: dlcore.tensor(x, device=device, requires_grad=True)  # noqa: E731
    tt = lambda x: torch.tensor(x, requires_grad=True)  # noqa: E731
    pd_, pt_ = [dt(x) for x in (w, loc, sc)], [tt(x) for x in (w, loc, sc)]
    m = D.MixtureSameFamily(D.Categorical(probs=pd_[0]), D.Independent(D.Normal(pd_[1], pd_[2]), 1))
    mt = TD.MixtureSameFamily(TD.Categorical(probs=pt_[0]), TD.Independent(TD.Normal(pt_[1], pt_[2]), 1))
    assert tuple(m.batch_shape) == (2,) and tuple(m.event_shape) == (4,)
    v = rng.standard_normal((5, 2, 4))
    lp, lpt = m.log_prob(dlcore.tensor(v, device=device)), mt.log_prob(torch.tensor(v))
    _close(lp, lpt)
    _close(m.mean, mt.mean)
    _close(m.variance, mt.variance)
    for a, b in zip(dlcore.autograd.grad(lp.sum(), pd_), torch.autograd.grad(lpt.sum(), pt_)):
        _close(a, b, rtol=1e-9, atol=1e-11)
    assert tuple(m.sample((7,)).shape) == (7, 2, 4)
    # univariate components: cdf, and the moments of samples
    u = D.MixtureSameFamily(D.Categorical(probs=dlcore.tensor([0.3, 0.7], device=device)),
                            D.Normal(dlcore.tensor([-2.0, 1.0], device=device),
                                     dlcore.tensor([0.5, 1.0], device=device)))
    ut = TD.MixtureSameFamily(TD.Categorical(probs=torch.tensor([0.3, 0.7])),
                              TD.Normal(torch.tensor([-2.0, 1.0]), torch.tensor([0.5, 1.0])))
    x = rng.standard_normal(6)
    _close(u.cdf(dlcore.tensor(x, dtype=dlcore.float32, device=device)),
           ut.cdf(torch.tensor(x, dtype=torch.float32)), rtol=1e-6, atol=1e-7)
    dlcore.manual_seed(9)
    n = 20000
    s = _np(u.sample((n,))).astype(np.float64)
    mean, var = float(_np(u.mean)), float(_np(u.variance))
    assert abs(s.mean() - mean) < 5 * np.sqrt(var / n)
    assert abs(s.var() - var) < 5 * np.sqrt(np.mean((s - mean) ** 4) / n)
    with pytest.raises(ValueError, match="does not"):
        D.MixtureSameFamily(D.Categorical(probs=dlcore.tensor([0.5, 0.5])), D.Normal(dlcore.zeros(3), dlcore.ones(3)))


def test_default_validate_args():
    try:
        D.Distribution.set_default_validate_args(False)
        D.Normal(dlcore.tensor([0.0]), dlcore.tensor([-1.0]))  # no check
        with pytest.raises(ValueError):
            D.Normal(dlcore.tensor([0.0]), dlcore.tensor([-1.0]), validate_args=True)
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError, match="scale"):
        D.Normal(dlcore.tensor([0.0]), dlcore.tensor([-1.0]))
    with pytest.raises(ValueError):
        D.Distribution.set_default_validate_args(2)
