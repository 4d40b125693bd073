"""The KL pairs and distributions added to close the gap with torch.distributions.kl: every registered pair's
value against torch (float64, random and broadcast parameter batches), independent Monte Carlo / quadrature checks
that need no torch, finite-difference gradient checks, the generic exponential-family (Bregman) KL, and Pareto /
ContinuousBernoulli / Weibull / Kumaraswamy against torch."""
import math

import numpy as np
import pytest

import dlcore
from dlcore import distributions as D
from dlcore.distributions import kl as _kl
from dlcore.distributions import kl_extra as _kl_extra

RTOL = 1e-6
ATOL = 1e-9


def _np(t):
    if isinstance(t, np.ndarray):
        return t
    return t.detach().cpu().numpy() if isinstance(t, dlcore.Tensor) else t.detach().numpy()


def _close(a, b, rtol=RTOL, atol=ATOL, msg=""):
    a, b = _np(a), _np(b)
    assert a.shape == b.shape, f"{msg}: shape {a.shape} vs {b.shape}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True, err_msg=msg)


def _torch():
    return pytest.importorskip("torch")


# ---------------------------------------------------------------------------------------------------------------
# parameter makers: NumPy float64 parameter dicts of a given batch shape

def _u(rng, lo, hi, shape):
    return rng.uniform(lo, hi, shape)


PARAMS = {
    "Bernoulli": lambda r, s: {"probs": _u(r, 0.05, 0.95, s)},
    "Poisson": lambda r, s: {"rate": _u(r, 0.3, 3.0, s)},
    "Binomial": lambda r, s: {"total_count": np.full(s, 5.0), "probs": _u(r, 0.1, 0.9, s)},
    "Beta": lambda r, s: {"concentration1": _u(r, 0.5, 3.0, s), "concentration0": _u(r, 0.5, 3.0, s)},
    "ContinuousBernoulli": lambda r, s: {"probs": _cb_probs(r, s)},
    "Exponential": lambda r, s: {"rate": _u(r, 0.5, 2.0, s)},
    "Gamma": lambda r, s: {"concentration": _u(r, 0.5, 3.0, s), "rate": _u(r, 0.5, 2.0, s)},
    "Gumbel": lambda r, s: {"loc": r.standard_normal(s), "scale": _u(r, 0.5, 2.0, s)},
    "HalfNormal": lambda r, s: {"scale": _u(r, 0.5, 2.0, s)},
    "Laplace": lambda r, s: {"loc": r.standard_normal(s), "scale": _u(r, 0.5, 2.0, s)},
    "Normal": lambda r, s: {"loc": r.standard_normal(s), "scale": _u(r, 0.5, 2.0, s)},
    "Pareto": lambda r, s: {"scale": _u(r, 0.3, 1.5, s), "alpha": _u(r, 0.5, 4.0, s)},
    "Uniform": lambda r, s: _uniform_params(r, s, -0.3, 1.0),
}


def _cb_probs(rng, shape):
    p = rng.uniform(0.05, 0.95, shape)
    flat = p.reshape(-1)
    if flat.size > 1:
        flat[0] = 0.5 + rng.uniform(-8e-4, 8e-4)  # inside the Taylor region lims=(0.499, 0.501)
    return p


def _uniform_params(rng, shape, lo, hi):
    low = rng.uniform(lo, hi, shape)
    return {"low": low, "high": low + rng.uniform(0.1, 1.0, shape)}


# parameter ranges that make each pair's conditionally infinite / finite cases both appear
OVERRIDES = {
    ("Uniform", "Beta"): ({"Uniform": lambda r, s: _uniform_params(r, s, -0.2, 0.6)}),
    ("Uniform", "ContinuousBernoulli"): ({"Uniform": lambda r, s: _uniform_params(r, s, -0.2, 0.6)}),
    ("Uniform", "Pareto"): ({"Uniform": lambda r, s: _uniform_params(r, s, 0.0, 2.0)}),
    ("Pareto", "Pareto"): ({"Pareto": lambda r, s: {"scale": _u(r, 0.3, 1.5, s), "alpha": _u(r, 0.5, 4.0, s)}}),
    ("Beta", "Uniform"): ({"Uniform": lambda r, s: {"low": _u(r, -0.5, 0.1, s), "high": _u(r, 0.9, 1.5, s)}}),
    ("ContinuousBernoulli", "Uniform"): ({"Uniform": lambda r, s: {"low": _u(r, -0.5, 0.1, s),
                                                                     "high": _u(r, 0.9, 1.5, s)}}),
}


def _new_pairs():
    """The pairs this change registered (all of torch's pairs not among dlcore's original 18)."""
    return sorted({(a.__name__, b.__name__) for (a, b), f in _kl._KL_REGISTRY.items()
                   if f.__module__ == _kl_extra.__name__} - {("ExponentialFamily", "ExponentialFamily")})


NEW_PAIRS = _new_pairs()
SIMPLE_PAIRS = [pq for pq in NEW_PAIRS if "MultivariateNormal" not in pq[0] + pq[1]]


def test_registry_matches_torch():
    torch = _torch()
    ours = {(a.__name__, b.__name__) for a, b in _kl._KL_REGISTRY}
    theirs = {(a.__name__, b.__name__) for a, b in torch.distributions.kl._KL_REGISTRY}
    assert theirs <= ours, sorted(theirs - ours)
    assert len(NEW_PAIRS) == 68


def _make(name, params, lib, requires_grad=False):
    if lib == "dlcore":
        ps = {k: dlcore.tensor(v, dtype=dlcore.float64, requires_grad=requires_grad) for k, v in params.items()}
        return getattr(D, name)(**ps), ps
    torch = _torch()
    ps = {k: torch.tensor(v, dtype=torch.float64, requires_grad=requires_grad) for k, v in params.items()}
    return getattr(torch.distributions, name)(**ps), ps


def _params(rng, pair, which, shape):
    name = pair[which]
    maker = OVERRIDES.get(pair, {}).get(name, PARAMS[name])
    return maker(rng, shape)


SHAPES = [((5,), (5,)), ((3, 4), (4,)), ((4,), (2, 4)), ((2, 1, 3), (4, 1))]


@pytest.mark.parametrize("pair", SIMPLE_PAIRS, ids=["-".join(p) for p in SIMPLE_PAIRS])
def test_kl_vs_torch(pair, rng):
    torch = _torch()
    n_inf = n_fin = 0
    for p_shape, q_shape in SHAPES:
        pp, qp = _params(rng, pair, 0, p_shape), _params(rng, pair, 1, q_shape)
        kl_d = D.kl_divergence(_make(pair[0], pp, "dlcore")[0], _make(pair[1], qp, "dlcore")[0])
        shape = np.broadcast_shapes(p_shape, q_shape)
        # torch's reference from distributions expanded to the common batch shape (some of torch's pairs index
        # with masks that do not broadcast)
        kl_t = torch.distributions.kl_divergence(_make(pair[0], pp, "torch")[0].expand(shape),
                                                 _make(pair[1], qp, "torch")[0].expand(shape))
        expected = _np(kl_t)
        assert tuple(kl_d.shape) == shape
        _close(kl_d, expected, msg=f"{pair} {p_shape} {q_shape}")
        isinf = np.isinf(expected)
        n_inf, n_fin = n_inf + isinf.sum(), n_fin + (~isinf).sum()
    assert n_fin + n_inf > 0


def test_kl_scalar_parameters():
    torch = _torch()
    p, q = D.Pareto(1.0, 3.0), D.Normal(2.0, 1.5)
    _close(D.kl_divergence(p, q), torch.distributions.kl_divergence(torch.distributions.Pareto(1.0, 3.0),
                                                                    torch.distributions.Normal(2.0, 1.5)))
    assert tuple(D.kl_divergence(D.Normal(0.0, 1.0), D.Exponential(1.0)).shape) == ()
    assert math.isinf(float(D.kl_divergence(D.Normal(0.0, 1.0), D.Exponential(1.0))))


def _spd(rng, n, batch=()):
    a = rng.standard_normal(batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


@pytest.mark.parametrize("batches", [((), ()), ((2,), (2,)), ((3, 1), (2,))])
def test_kl_lowrank_mvn_vs_torch(batches, rng):
    torch = _torch()
    TD = torch.distributions
    n, m = 4, 2
    bl, bm = batches
    lr = {"loc": rng.standard_normal(bl + (n,)), "cov_factor": rng.standard_normal(bl + (n, m)),
          "cov_diag": rng.uniform(0.5, 2.0, bl + (n,))}
    mv = {"loc": rng.standard_normal(bm + (n,)), "scale_tril": np.linalg.cholesky(_spd(rng, n, bm))}
    lr_d, _ = _make("LowRankMultivariateNormal", lr, "dlcore")
    mv_d, _ = _make("MultivariateNormal", mv, "dlcore")
    lr_t, _ = _make("LowRankMultivariateNormal", lr, "torch")
    mv_t, _ = _make("MultivariateNormal", mv, "torch")
    _close(D.kl_divergence(lr_d, mv_d), TD.kl_divergence(lr_t, mv_t))
    _close(D.kl_divergence(mv_d, lr_d), TD.kl_divergence(mv_t, lr_t))
    # an equal covariance written both ways: KL 0
    cov = _np(lr_d.covariance_matrix)
    same = D.MultivariateNormal(lr_d.loc, scale_tril=dlcore.tensor(np.linalg.cholesky(cov)))
    _close(D.kl_divergence(lr_d, same), np.zeros(bl), atol=1e-10)
    _close(D.kl_divergence(same, lr_d), np.zeros(bl), atol=1e-10)
    with pytest.raises(ValueError):
        D.kl_divergence(lr_d, D.MultivariateNormal(dlcore.zeros(3, dtype=dlcore.float64),
                                                   scale_tril=dlcore.eye(3, dtype=dlcore.float64)))


# ---------------------------------------------------------------------------------------------------------------
# independent checks (no torch): Monte Carlo E_p[log p - log q] and quadrature

MC_CASES = [
    (D.Gamma, {"concentration": [0.8, 2.5], "rate": [1.5, 0.7]}, D.Normal, {"loc": [0.5, 2.0], "scale": [1.2, 2.0]}),
    (D.Exponential, {"rate": [0.7, 2.0]}, D.Gumbel, {"loc": [0.3, -0.5], "scale": [1.5, 0.8]}),
    (D.Normal, {"loc": [0.2, -1.0], "scale": [0.8, 1.5]}, D.Laplace, {"loc": [0.0, 0.5], "scale": [1.0, 0.7]}),
    (D.Gumbel, {"loc": [0.2, -1.0], "scale": [0.8, 1.5]}, D.Gumbel, {"loc": [0.0, 0.5], "scale": [1.0, 0.7]}),
    (D.Pareto, {"scale": [1.0, 0.8], "alpha": [3.0, 4.5]}, D.Pareto, {"scale": [0.7, 0.5], "alpha": [1.5, 2.0]}),
    (D.Uniform, {"low": [0.2, 0.5], "high": [0.9, 0.6]}, D.Beta, {"concentration1": [2.0, 0.7],
                                                                    "concentration0": [1.5, 3.0]}),
    (D.Beta, {"concentration1": [2.0, 0.7], "concentration0": [1.5, 3.0]}, D.ContinuousBernoulli,
     {"probs": [0.2, 0.8]}),
    (D.Laplace, {"loc": [0.2, -1.0], "scale": [0.8, 1.5]}, D.Normal, {"loc": [0.0, 0.5], "scale": [1.0, 0.7]}),
]


@pytest.mark.parametrize("case", range(len(MC_CASES)))
def test_kl_monte_carlo(case):
    pc, pp, qc, qp = MC_CASES[case]
    p = pc(**{k: dlcore.tensor(v, dtype=dlcore.float64) for k, v in pp.items()})
    q = qc(**{k: dlcore.tensor(v, dtype=dlcore.float64) for k, v in qp.items()})
    dlcore.manual_seed(1234 + case)
    n = 100000
    x = p.sample((n,))
    diff = _np(p.log_prob(x) - q.log_prob(x))
    est, se = diff.mean(0), diff.std(0) / math.sqrt(n)
    exact = _np(D.kl_divergence(p, q))
    assert np.all(np.abs(est - exact) < 5 * se + 1e-12), (est, exact, se)


def _trapezoid(f, x):
    return ((f[..., 1:] + f[..., :-1]) * np.diff(x) / 2).sum(-1)


def test_kl_quadrature():
    """KL by trapezoidal quadrature of p (log p - log q) on fine grids, for pairs with a bounded / light-tailed p."""
    grid01 = np.linspace(0.0, 1.0, 200001)
    cases = [
        (D.ContinuousBernoulli(dlcore.tensor([0.2, 0.5004, 0.9], dtype=dlcore.float64)),
         D.ContinuousBernoulli(dlcore.tensor([0.7, 0.3, 0.5], dtype=dlcore.float64)), grid01),
        (D.ContinuousBernoulli(dlcore.tensor([0.2, 0.5004, 0.9], dtype=dlcore.float64)),
         D.Exponential(dlcore.tensor([0.5, 1.0, 3.0], dtype=dlcore.float64)), grid01),
        (D.ContinuousBernoulli(logits=dlcore.tensor([-2.0, 0.0, 1.5], dtype=dlcore.float64)),
         D.Normal(dlcore.tensor([0.5, 0.0, 1.0], dtype=dlcore.float64),
                  dlcore.tensor([0.3, 1.0, 2.0], dtype=dlcore.float64)), grid01),
        (D.Uniform(dlcore.tensor([0.5, -1.0, 2.0], dtype=dlcore.float64),
                   dlcore.tensor([1.5, 3.0, 2.5], dtype=dlcore.float64)),
         D.Gumbel(dlcore.tensor([0.0, 1.0, -1.0], dtype=dlcore.float64),
                  dlcore.tensor([1.0, 2.0, 0.5], dtype=dlcore.float64)), None),
        (D.Normal(dlcore.tensor([0.5, -1.0, 2.0], dtype=dlcore.float64),
                  dlcore.tensor([1.0, 0.5, 2.0], dtype=dlcore.float64)),
         D.Gumbel(dlcore.tensor([0.0, 1.0, -1.0], dtype=dlcore.float64),
                  dlcore.tensor([1.0, 2.0, 1.5], dtype=dlcore.float64)), np.linspace(-20, 20, 200001)),
    ]
    for p, q, grid in cases:
        if grid is None:  # uniform p: integrate over each element's own interval
            lo, hi = _np(p.low), _np(p.high)
            grid_b = lo[:, None] + (hi - lo)[:, None] * np.linspace(0, 1, 20001)
            # p's density is 1 / (h - l) on [l, h] (its log_prob is -inf at h itself)
            xs = dlcore.tensor(grid_b.T.copy())
            f = -np.log(hi - lo)[:, None] - _np(q.log_prob(xs).transpose(0, 1))
            val = np.array([_trapezoid(f[i], grid_b[i]) for i in range(3)]) / (hi - lo)
        else:
            xs = dlcore.tensor(grid[:, None].repeat(3, 1).copy())
            lp = p.log_prob(xs)
            f = _np((lp.exp() * (lp - q.log_prob(xs))).transpose(0, 1))
            val = _trapezoid(f, grid)
        _close(D.kl_divergence(p, q), val, rtol=1e-6, atol=1e-7, msg=f"{type(p).__name__}-{type(q).__name__}")


# ---------------------------------------------------------------------------------------------------------------
# gradients: autograd against central differences (float64)

GRAD_CASES = [
    ("Pareto", {"scale": [0.8, 1.2], "alpha": [2.5, 3.5]}, "Normal", {"loc": [1.0, 0.0], "scale": [1.5, 0.7]}),
    ("Exponential", {"rate": [0.7, 2.0]}, "Gumbel", {"loc": [0.3, -0.5], "scale": [1.5, 0.8]}),
    ("Normal", {"loc": [0.2, -1.0], "scale": [0.8, 1.5]}, "Laplace", {"loc": [0.0, 0.5], "scale": [1.0, 0.7]}),
    ("Uniform", {"low": [0.2, 0.5], "high": [0.9, 0.6]}, "Beta", {"concentration1": [2.0, 0.7],
                                                                    "concentration0": [1.5, 3.0]}),
    ("ContinuousBernoulli", {"probs": [0.2, 0.7]}, "ContinuousBernoulli", {"probs": [0.6, 0.1]}),
]


def _num_grad(fn, arrays, name, eps=1e-6):
    base = {k: np.array(v, dtype=np.float64) for k, v in arrays.items()}
    g = np.zeros_like(base[name])
    for i in range(g.size):
        for sgn in (1, -1):
            a = {k: v.copy() for k, v in base.items()}
            a[name].reshape(-1)[i] += sgn * eps
            g.reshape(-1)[i] += sgn * fn(a) / (2 * eps)
    return g


@pytest.mark.parametrize("case", range(len(GRAD_CASES)))
def test_kl_gradients(case):
    pn, pp, qn, qp = GRAD_CASES[case]
    arrays = {("p", k): v for k, v in pp.items()}
    arrays.update({("q", k): v for k, v in qp.items()})

    def value(arr):
        p = getattr(D, pn)(**{k: dlcore.tensor(arr["p", k]) for k in pp})
        q = getattr(D, qn)(**{k: dlcore.tensor(arr["q", k]) for k in qp})
        return float(D.kl_divergence(p, q).sum())

    tensors = {key: dlcore.tensor(np.array(v, dtype=np.float64), requires_grad=True) for key, v in arrays.items()}
    p = getattr(D, pn)(**{k: tensors["p", k] for k in pp})
    q = getattr(D, qn)(**{k: tensors["q", k] for k in qp})
    D.kl_divergence(p, q).sum().backward()
    for key, t in tensors.items():
        assert t.grad is not None, key
        _close(t.grad, _num_grad(value, arrays, key), rtol=1e-6, atol=1e-7, msg=f"d/d{key}")


def test_kl_lowrank_mvn_gradcheck(rng):
    from dlcore.testing import gradcheck
    n, m = 3, 2
    loc1 = dlcore.tensor(rng.standard_normal(n), requires_grad=True)
    W = dlcore.tensor(rng.standard_normal((n, m)), requires_grad=True)
    Dg = dlcore.tensor(rng.uniform(0.5, 2.0, n), requires_grad=True)
    loc2 = dlcore.tensor(rng.standard_normal(n), requires_grad=True)
    L = dlcore.tensor(np.linalg.cholesky(_spd(rng, n)), requires_grad=True)

    def fwd(a, w, dg, b, lt):
        return D.kl_divergence(D.LowRankMultivariateNormal(a, w, dg), D.MultivariateNormal(b, scale_tril=lt.tril()))

    def rev(a, w, dg, b, lt):
        return D.kl_divergence(D.MultivariateNormal(b, scale_tril=lt.tril()), D.LowRankMultivariateNormal(a, w, dg))

    assert gradcheck(fwd, (loc1, W, Dg, loc2, L))
    assert gradcheck(rev, (loc1, W, Dg, loc2, L))


# ---------------------------------------------------------------------------------------------------------------
# the generic exponential-family KL (Bregman divergence of the log normalizer)

EXPFAM = [
    ("Normal", {"loc": [0.2, -1.0], "scale": [0.8, 1.5]}, {"loc": [0.0, 0.5], "scale": [1.0, 0.7]}),
    ("Bernoulli", {"probs": [0.2, 0.7]}, {"probs": [0.6, 0.1]}),
    ("Exponential", {"rate": [0.7, 2.0]}, {"rate": [1.5, 0.3]}),
    ("Gamma", {"concentration": [0.8, 2.5], "rate": [1.5, 0.7]}, {"concentration": [2.0, 1.1], "rate": [0.5, 2.0]}),
    ("Beta", {"concentration1": [2.0, 0.7], "concentration0": [1.5, 3.0]},
     {"concentration1": [0.9, 2.2], "concentration0": [1.1, 0.6]}),
    ("Poisson", {"rate": [0.7, 4.0]}, {"rate": [1.5, 2.5]}),
    ("Dirichlet", {"concentration": [[2.0, 0.7, 1.0], [1.5, 3.0, 0.5]]},
     {"concentration": [[0.9, 2.2, 1.3], [1.1, 0.6, 2.0]]}),
    ("ContinuousBernoulli", {"probs": [0.2, 0.7]}, {"probs": [0.6, 0.1]}),
]


@pytest.mark.parametrize("case", EXPFAM, ids=[c[0] for c in EXPFAM])
def test_kl_expfamily_bregman(case):
    name, pp, qp = case
    tp = {k: dlcore.tensor(v, dtype=dlcore.float64, requires_grad=True) for k, v in pp.items()}
    tq = {k: dlcore.tensor(v, dtype=dlcore.float64, requires_grad=True) for k, v in qp.items()}
    p, q = getattr(D, name)(**tp), getattr(D, name)(**tq)
    generic = _kl_extra._kl_expfamily_expfamily(p, q)
    closed = D.kl_divergence(p, q)  # the specific closed form
    _close(generic, closed, rtol=1e-9, atol=1e-12, msg=name)
    # gradients reach both distributions' parameters and agree with the closed form's
    g1 = dlcore.autograd.grad(generic.sum(), list(tp.values()) + list(tq.values()))
    g2 = dlcore.autograd.grad(D.kl_divergence(getattr(D, name)(**tp), getattr(D, name)(**tq)).sum(),
                              list(tp.values()) + list(tq.values()))
    for a, b in zip(g1, g2):
        _close(a, b, rtol=1e-8, atol=1e-10, msg=name)


def test_kl_expfamily_dispatch_and_entropy():
    class NatNormal(D.ExponentialFamily):
        """A Normal known only through its natural parameters: kl_divergence falls back to the Bregman form."""
        arg_constraints = {}
        _mean_carrier_measure = 0

        def __init__(self, loc, scale):
            self.loc, self.scale = loc, scale
            super().__init__(loc.shape, validate_args=False)

        @property
        def _natural_params(self):
            return (self.loc / self.scale.pow(2), -0.5 * self.scale.pow(-2))

        def _log_normalizer(self, x, y):
            return -0.25 * x.pow(2) / y + 0.5 * (-math.pi / y).log()

    a = [dlcore.tensor(v, dtype=dlcore.float64) for v in ([0.2, -1.0], [0.8, 1.5], [0.0, 0.5], [1.0, 0.7])]
    kl = D.kl_divergence(NatNormal(a[0], a[1]), NatNormal(a[2], a[3]))
    _close(kl, D.kl_divergence(D.Normal(a[0], a[1]), D.Normal(a[2], a[3])), rtol=1e-10)
    # the Bregman entropy of the base class
    _close(NatNormal(a[0], a[1]).entropy(), D.Normal(a[0], a[1]).entropy(), rtol=1e-10)
    cb = D.ContinuousBernoulli(dlcore.tensor([0.2, 0.7, 0.5002], dtype=dlcore.float64))
    _close(D.ExponentialFamily.entropy(cb), cb.entropy(), rtol=1e-8)
    with pytest.raises(NotImplementedError):
        _kl_extra._kl_expfamily_expfamily(D.Normal(a[0], a[1]), D.Exponential(a[1]))
    with pytest.raises(NotImplementedError):
        D.kl_divergence(NatNormal(a[0], a[1]), D.Normal(a[0], a[1]))


def test_kl_expfamily_vs_torch():
    torch = _torch()
    p, q = D.Gamma(dlcore.tensor([0.8, 2.5]), dlcore.tensor([1.5, 0.7])), D.Gamma(dlcore.tensor([2.0, 1.1]),
                                                                                    dlcore.tensor([0.5, 2.0]))
    pt = torch.distributions.Gamma(torch.tensor([0.8, 2.5]), torch.tensor([1.5, 0.7]))
    qt = torch.distributions.Gamma(torch.tensor([2.0, 1.1]), torch.tensor([0.5, 2.0]))
    _close(_kl_extra._kl_expfamily_expfamily(p, q), torch.distributions.kl._kl_expfamily_expfamily(pt, qt), rtol=1e-5)


# ---------------------------------------------------------------------------------------------------------------
# the new distributions against torch

def _new_dist_cases(rng):
    s, a = rng.uniform(0.5, 2.0, 6), rng.uniform(0.5, 4.0, 6)
    a[:2] = [0.8, 1.5]  # Pareto: mean infinite, variance infinite
    cb = rng.uniform(0.05, 0.95, (2, 6))
    cb[0, :3] = [0.4995, 0.5, 0.5008]  # Taylor region
    return {
        "pareto": ("Pareto", {"scale": s, "alpha": a}, s + rng.uniform(0.0, 3.0, (3, 6))),
        "weibull": ("Weibull", {"scale": s, "concentration": a}, rng.uniform(0.05, 3.0, (3, 6))),
        "kumaraswamy": ("Kumaraswamy", {"concentration1": s * 1.5, "concentration0": a},
                        rng.uniform(0.02, 0.98, (3, 6))),
        "cb_probs": ("ContinuousBernoulli", {"probs": cb}, rng.uniform(0.0, 1.0, (3, 2, 6))),
        "cb_logits": ("ContinuousBernoulli", {"logits": np.log(cb / (1 - cb))}, rng.uniform(0.0, 1.0, (3, 2, 6))),
    }


NEW_DISTS = list(_new_dist_cases(np.random.default_rng(0)))


@pytest.mark.parametrize("case", NEW_DISTS)
def test_new_distributions_vs_torch(case, rng):
    torch = _torch()
    name, params, value = _new_dist_cases(rng)[case]
    dd, dp = _make(name, params, "dlcore", requires_grad=True)
    td, tp = _make(name, params, "torch", requires_grad=True)
    assert tuple(dd.batch_shape) == tuple(td.batch_shape) and tuple(dd.event_shape) == tuple(td.event_shape)
    assert dd.has_rsample == td.has_rsample
    vd, vt = dlcore.tensor(value), torch.tensor(value)
    u = rng.uniform(0.02, 0.98, value.shape)
    ud, ut = dlcore.tensor(u), torch.tensor(u)
    checks = [("log_prob", dd.log_prob(vd), td.log_prob(vt)), ("cdf", dd.cdf(vd), td.cdf(vt)),
              ("icdf", dd.icdf(ud), td.icdf(ut)), ("entropy", dd.entropy(), td.entropy()),
              ("mean", dd.mean, td.mean), ("variance", dd.variance, td.variance), ("stddev", dd.stddev, td.stddev)]
    if name != "Kumaraswamy" and name != "ContinuousBernoulli":  # (see test_kumaraswamy_mode; torch has no CB mode)
        checks.append(("mode", dd.mode, td.mode))
    for what, a, b in checks:
        _close(a, b, rtol=1e-9, atol=1e-12, msg=f"{case} {what}")
    # parameter gradients of log_prob + cdf + entropy
    loss_d = dd.log_prob(vd).sum() + dd.cdf(vd).sum() + dd.entropy().sum()
    loss_t = td.log_prob(vt).sum() + td.cdf(vt).sum() + td.entropy().sum()
    gd = dlcore.autograd.grad(loss_d, list(dp.values()))
    gt = torch.autograd.grad(loss_t, list(tp.values()))
    for k, a, b in zip(dp, gd, gt):
        _close(a, b, rtol=1e-7, atol=1e-10, msg=f"{case} grad {k}")
    # expand / sample shapes
    e = dd.expand((4,) + tuple(dd.batch_shape))
    assert tuple(e.batch_shape) == (4,) + tuple(dd.batch_shape)
    _close(e.log_prob(vd[:1]), td.expand((4,) + tuple(td.batch_shape)).log_prob(vt[:1]), rtol=1e-9)
    assert tuple(dd.sample((2,)).shape) == (2,) + tuple(dd.batch_shape)
    r = dd.rsample((3,))
    assert tuple(r.shape) == (3,) + tuple(dd.batch_shape) and r.requires_grad
    assert bool(dd.support.check(dd.sample((50,))).all())


def test_new_distributions_sampling_moments():
    dlcore.manual_seed(7)
    n = 200000
    for dist, ok in [(D.Pareto(dlcore.tensor([1.0, 0.5]), dlcore.tensor([5.0, 6.0])), True),
                     (D.Weibull(dlcore.tensor([1.0, 2.0]), dlcore.tensor([0.8, 3.0])), True),
                     (D.Kumaraswamy(dlcore.tensor([0.7, 3.0]), dlcore.tensor([2.0, 0.6])), True),
                     (D.ContinuousBernoulli(dlcore.tensor([0.1, 0.5002, 0.8])), True)]:
        x = _np(dist.sample((n,)))
        mean, var = _np(dist.mean), _np(dist.variance)
        assert np.all(np.abs(x.mean(0) - mean) < 5 * np.sqrt(var / n)), (type(dist).__name__, x.mean(0), mean)
        assert np.allclose(x.var(0), var, rtol=0.05), (type(dist).__name__, x.var(0), var)


def test_rsample_gradients_flow():
    # d/dtheta E[f(X)] by the reparameterized samples against the analytic derivative of the mean
    dlcore.manual_seed(3)
    n = 200000
    alpha = dlcore.tensor([4.0], requires_grad=True)
    scale = dlcore.tensor([1.5], requires_grad=True)
    D.Pareto(scale, alpha).rsample((n,)).mean().backward()
    # E = a s / (a - 1): dE/da = -s / (a - 1)^2, dE/ds = a / (a - 1)
    assert abs(float(alpha.grad) + 1.5 / 9) < 0.02 and abs(float(scale.grad) - 4 / 3) < 0.02
    probs = dlcore.tensor([0.25], requires_grad=True)
    cb = D.ContinuousBernoulli(probs)
    cb.rsample((n,)).mean().backward()
    g_mean, = dlcore.autograd.grad(D.ContinuousBernoulli(probs).mean.sum(), [probs])
    assert abs(float(probs.grad) - float(g_mean)) < 0.02


def test_kumaraswamy_mode():
    a = dlcore.tensor([2.0, 3.0, 0.5, 1.0, 1.0])
    b = dlcore.tensor([3.0, 1.0, 2.0, 2.0, 1.0])
    mode = _np(D.Kumaraswamy(a, b).mode)
    a_, b_ = _np(a)[:4], _np(b)[:4]
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = ((a_ - 1) / (a_ * b_ - 1)) ** (1 / a_)
    expected[2] = np.nan
    _close(mode[:4], expected, rtol=1e-6)
    assert np.isnan(mode[4])
    # the mode maximizes the density
    k = D.Kumaraswamy(dlcore.tensor([2.0]), dlcore.tensor([3.0]))
    grid = np.linspace(0.01, 0.99, 981)[:, None]
    lp = _np(k.log_prob(dlcore.tensor(grid)))[:, 0]
    assert abs(grid[lp.argmax(), 0] - mode[0]) < 2e-3


def test_new_distributions_validation():
    with pytest.raises(ValueError, match="alpha"):
        D.Pareto(dlcore.tensor([1.0]), dlcore.tensor([-1.0]), validate_args=True)
    with pytest.raises(ValueError, match="scale"):
        D.Weibull(dlcore.tensor([0.0]), dlcore.tensor([1.0]), validate_args=True)
    with pytest.raises(ValueError, match="concentration0"):
        D.Kumaraswamy(dlcore.tensor([1.0]), dlcore.tensor([-2.0]), validate_args=True)
    with pytest.raises(ValueError, match="probs"):
        D.ContinuousBernoulli(dlcore.tensor([1.5]), validate_args=True)
    with pytest.raises(ValueError):
        D.ContinuousBernoulli(dlcore.tensor([0.3]), dlcore.tensor([0.1]))
    p = D.Pareto(dlcore.tensor([1.0]), dlcore.tensor([2.0]), validate_args=True)
    with pytest.raises(ValueError, match="support"):
        p.log_prob(dlcore.tensor([0.5]))
    with pytest.raises(ValueError, match="support"):
        D.ContinuousBernoulli(dlcore.tensor([0.3]), validate_args=True).log_prob(dlcore.tensor([1.2]))
    with pytest.raises(ValueError, match="support"):
        D.Kumaraswamy(dlcore.tensor([1.0]), dlcore.tensor([2.0]), validate_args=True).log_prob(dlcore.tensor([-0.1]))
    # off: no checks, and the density is 0 outside the Pareto support
    q = D.Pareto(dlcore.tensor([1.0]), dlcore.tensor([2.0]), validate_args=False)
    assert float(q.log_prob(dlcore.tensor([0.5]))) == float("-inf")
    assert float(q.cdf(dlcore.tensor([0.5]))) == 0.0
    assert D.ContinuousBernoulli(0.3).batch_shape == () and D.Pareto(1.0, 2.0).batch_shape == ()
    assert isinstance(D.Pareto(1.0, 2.0), D.TransformedDistribution)
