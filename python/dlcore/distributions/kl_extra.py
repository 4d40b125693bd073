"""More closed-form KL divergences (registered into dlcore.distributions.kl's registry on import).

Each pair is written as KL(p || q) = E_p[log p] - E_p[log q] = -H(p) - E_p[log q(x)], with the expectations under p
worked out in the comments. Where the support of p is not inside the support of q the divergence is +inf (for all
parameters, or where a parameter condition says so). The result has the broadcast batch shape of p and q; every
formula is built from dlcore ops, so gradients reach both distributions' parameters."""
from __future__ import annotations

import math

from .distribution import ExponentialFamily
from .kl import _batch_trace_XXT, register_kl
from .lowrank_multivariate_normal import (LowRankMultivariateNormal, _batch_lowrank_logdet,
                                          _batch_lowrank_mahalanobis)
from .more import Binomial, Poisson
from .more_continuous import ContinuousBernoulli, Pareto
from .multivariate_normal import MultivariateNormal, _batch_mahalanobis
from .relaxed import Gumbel, HalfNormal
from .univariate import Bernoulli, Beta, Exponential, Gamma, Laplace, Normal, Uniform
from .utils import _sum_rightmost

_EULER_GAMMA = 0.57721566490153286060
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _d():
    import dlcore
    return dlcore


def _batch_ref(p, q):
    """A tensor of p's dtype / device with the broadcast batch shape of p and q."""
    d = _d()
    shape = tuple(d.broadcast_shapes(tuple(p.batch_shape), tuple(q.batch_shape)))
    ref = next(v for v in vars(p).values() if isinstance(v, d.Tensor))
    return shape, ref


def _infinite(p, q):
    d = _d()
    shape, ref = _batch_ref(p, q)
    return d.full(shape, float("inf"), dtype=ref.dtype, device=ref.device)


def _inf_where(cond, x):
    return _d().where(cond, float("inf"), x)


# --- E_p[log q] building blocks, for q's density in terms of E_p[x], E_p[x^2], E_p[log x], ... -----------------

def _neg_cross_normal(mean, second_central, q):
    """-E_p[log N(x; mu, sigma)] = log(sigma sqrt(2 pi)) + (Var_p + (E_p x - mu)^2) / (2 sigma^2)."""
    return q.scale.log() + _HALF_LOG_2PI + (second_central + (mean - q.loc).pow(2)) / (2 * q.scale.pow(2))


def _neg_cross_exponential(mean, q):
    """-E_p[log Exp(x; r)] = -log r + r E_p[x]."""
    return -q.rate.log() + q.rate * mean


def _neg_cross_gamma(mean, mean_log, q):
    """-E_p[log Gamma(x; c, b)] = -c log b + lgamma(c) - (c - 1) E_p[log x] + b E_p[x]."""
    c, b = q.concentration, q.rate
    return -c * b.log() + _d().lgamma(c) - (c - 1) * mean_log + b * mean


def _neg_cross_gumbel(mean, log_mgf_neg, q):
    """-E_p[log Gumbel(x; mu, beta)] with z = (x - mu) / beta: log beta + E_p[z] + E_p[e^-z], where
    E_p[e^-z] = exp(mu / beta + log E_p[e^(-x / beta)]) (log_mgf_neg(t) = log E_p[e^(-t x)])."""
    mu, beta = q.loc, q.scale
    return beta.log() + (mean - mu) / beta + (mu / beta + log_mgf_neg(beta.reciprocal())).exp()


def _neg_cross_cb(mean, q):
    """-E_p[log CB(x; lambda)] = -log C(lambda) - E_p[x] logit(lambda) - log(1 - lambda)."""
    return -q._cont_bern_log_norm() - mean * q.logits - _d().log1p(-q.probs)


def _neg_cross_uniform(q):
    """-E_p[log U(x; l, h)] = log(h - l) (when p's support lies in [l, h])."""
    return (q.high - q.low).log()


def _neg_cross_pareto(mean_log, q):
    """-E_p[log Pareto(x; s, a)] = -log a - a log s + (a + 1) E_p[log x] (when p's support lies in [s, inf))."""
    return -q.alpha.log() - q.alpha * q.scale.log() + (q.alpha + 1) * mean_log


def _neg_cross_beta(mean_log, mean_log1m, q):
    """-E_p[log Beta(x; a, b)] = log B(a, b) - (a - 1) E_p[log x] - (b - 1) E_p[log(1 - x)]."""
    d = _d()
    a, b = q.concentration1, q.concentration0
    log_beta = d.lgamma(a) + d.lgamma(b) - d.lgamma(a + b)
    return log_beta - (a - 1) * mean_log - (b - 1) * mean_log1m


# --- discrete ------------------------------------------------------------------------------------------------------

@register_kl(Bernoulli, Poisson)
def _kl_bernoulli_poisson(p, q):
    # log q(0) = -r, log q(1) = log r - r: KL = -H(p) - pi log r + r
    return -p.entropy() - _d().special.xlogy(p.probs, q.rate) + q.rate


@register_kl(Poisson, Bernoulli)
@register_kl(Poisson, Binomial)
def _kl_poisson_infinity(p, q):
    # Poisson's support is unbounded, q's is finite (inf for every rate, as torch, even rate 0)
    return _infinite(p, q)


# --- p = Beta: E[x] = a / (a + b), E[log x] = digamma(a) - digamma(a + b) --------------------------------------------

@register_kl(Beta, ContinuousBernoulli)
def _kl_beta_continuous_bernoulli(p, q):
    return -p.entropy() + _neg_cross_cb(p.mean, q)


@register_kl(Beta, Exponential)
def _kl_beta_exponential(p, q):
    return -p.entropy() + _neg_cross_exponential(p.mean, q)


@register_kl(Beta, Gamma)
def _kl_beta_gamma(p, q):
    d = _d()
    a, b = p.concentration1, p.concentration0
    mean_log = d.digamma(a) - d.digamma(a + b)
    return -p.entropy() + _neg_cross_gamma(p.mean, mean_log, q)


@register_kl(Beta, Normal)
def _kl_beta_normal(p, q):
    return -p.entropy() + _neg_cross_normal(p.mean, p.variance, q)


@register_kl(Beta, Uniform)
@register_kl(ContinuousBernoulli, Uniform)
def _kl_unit_interval_uniform(p, q):
    # p lives on [0, 1]: KL = -H(p) + log(h - l), inf unless l <= 0 and h >= 1
    result = -p.entropy() + _neg_cross_uniform(q)
    return _inf_where((q.low > 0) | (q.high < 1), result)


@register_kl(Beta, Pareto)
@register_kl(ContinuousBernoulli, Pareto)
def _kl_unit_interval_pareto(p, q):
    # p has mass on (0, s) for every Pareto scale s > 0
    return _infinite(p, q)


# --- p = ContinuousBernoulli: mean / variance from the distribution ------------------------------------------------

@register_kl(ContinuousBernoulli, ContinuousBernoulli)
def _kl_continuous_bernoulli_continuous_bernoulli(p, q):
    # E_p[log p - log q] = log C(lp) - log C(lq) + E_p[x] (logit lp - logit lq) + log(1 - lp) - log(1 - lq)
    d = _d()
    return (p._cont_bern_log_norm() - q._cont_bern_log_norm() + p.mean * (p.logits - q.logits)
            + d.log1p(-p.probs) - d.log1p(-q.probs))


@register_kl(ContinuousBernoulli, Exponential)
def _kl_continuous_bernoulli_exponential(p, q):
    return -p.entropy() + _neg_cross_exponential(p.mean, q)


@register_kl(ContinuousBernoulli, Normal)
def _kl_continuous_bernoulli_normal(p, q):
    return -p.entropy() + _neg_cross_normal(p.mean, p.variance, q)


# --- p supported on [0, inf) or R against q on a bounded / half-line support ---------------------------------------

@register_kl(Exponential, Beta)
@register_kl(Exponential, ContinuousBernoulli)
@register_kl(Exponential, Pareto)
@register_kl(Exponential, Uniform)
@register_kl(Gamma, Beta)
@register_kl(Gamma, ContinuousBernoulli)
@register_kl(Gamma, Pareto)
@register_kl(Gamma, Uniform)
@register_kl(Gumbel, Beta)
@register_kl(Gumbel, ContinuousBernoulli)
@register_kl(Gumbel, Exponential)
@register_kl(Gumbel, Gamma)
@register_kl(Gumbel, Pareto)
@register_kl(Gumbel, Uniform)
@register_kl(Laplace, Beta)
@register_kl(Laplace, ContinuousBernoulli)
@register_kl(Laplace, Exponential)
@register_kl(Laplace, Gamma)
@register_kl(Laplace, Pareto)
@register_kl(Laplace, Uniform)
@register_kl(Normal, Beta)
@register_kl(Normal, ContinuousBernoulli)
@register_kl(Normal, Exponential)
@register_kl(Normal, Gamma)
@register_kl(Normal, Pareto)
@register_kl(Normal, Uniform)
@register_kl(Pareto, Beta)
@register_kl(Pareto, ContinuousBernoulli)
@register_kl(Pareto, Uniform)
def _kl_support_not_contained(p, q):
    # p puts mass outside q's support for every choice of parameters
    return _infinite(p, q)


# --- p = Exponential(r): E[x] = 1 / r, Var = 1 / r^2, E[log x] = -gamma - log r, E[e^(-t x)] = r / (r + t) ---------

@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p, q):
    mean_log = -_EULER_GAMMA - p.rate.log()
    return -p.entropy() + _neg_cross_gamma(p.mean, mean_log, q)


@register_kl(Exponential, Gumbel)
def _kl_exponential_gumbel(p, q):
    r = p.rate
    return -p.entropy() + _neg_cross_gumbel(p.mean, lambda t: r.log() - (r + t).log(), q)


@register_kl(Exponential, Normal)
def _kl_exponential_normal(p, q):
    return -p.entropy() + _neg_cross_normal(p.mean, p.variance, q)


# --- p = Gamma(a, b): E[x] = a / b, Var = a / b^2, E[e^(-t x)] = (1 + t / b)^(-a) -----------------------------------

@register_kl(Gamma, Exponential)
def _kl_gamma_exponential(p, q):
    return -p.entropy() + _neg_cross_exponential(p.mean, q)


@register_kl(Gamma, Gumbel)
def _kl_gamma_gumbel(p, q):
    a, b = p.concentration, p.rate
    return -p.entropy() + _neg_cross_gumbel(p.mean, lambda t: -a * _d().log1p(t / b), q)


@register_kl(Gamma, Normal)
def _kl_gamma_normal(p, q):
    return -p.entropy() + _neg_cross_normal(p.mean, p.variance, q)


# --- p = Gumbel(m, s) = m + s G, G standard Gumbel: E[G] = gamma, Var = pi^2 s^2 / 6, E[e^(-t G)] = Gamma(1 + t) ---

@register_kl(Gumbel, Gumbel)
def _kl_gumbel_gumbel(p, q):
    # log E[e^(-t x)] = -t m + lgamma(1 + t s)
    m, s = p.loc, p.scale
    return -p.entropy() + _neg_cross_gumbel(p.mean, lambda t: -t * m + _d().lgamma(1 + t * s), q)


@register_kl(Gumbel, Normal)
def _kl_gumbel_normal(p, q):
    return -p.entropy() + _neg_cross_normal(p.mean, p.variance, q)


# --- HalfNormal / Laplace / Normal ---------------------------------------------------------------------------------

@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal_halfnormal(p, q):
    # both densities are twice the N(0, s) density on [0, inf); the ratio is even, so this is KL(N(0, s1), N(0, s2))
    # = log(s2 / s1) + s1^2 / (2 s2^2) - 1/2
    ratio = (p.scale / q.scale).pow(2)
    return 0.5 * (ratio - 1 - ratio.log())


@register_kl(Laplace, Normal)
def _kl_laplace_normal(p, q):
    # Laplace(m, b): E[x] = m, Var = 2 b^2
    return -p.entropy() + _neg_cross_normal(p.loc, p.variance, q)


@register_kl(Normal, Gumbel)
def _kl_normal_gumbel(p, q):
    # N(m, s): log E[e^(-t x)] = -t m + t^2 s^2 / 2
    m, s = p.loc, p.scale
    return -p.entropy() + _neg_cross_gumbel(m, lambda t: -t * m + 0.5 * (t * s).pow(2), q)


@register_kl(Normal, Laplace)
def _kl_normal_laplace(p, q):
    # -E_p[log Laplace(x; mu, b)] = log(2 b) + E_p|x - mu| / b, and for x ~ N(m, s), d = m - mu (folded normal):
    # E|x - mu| = s sqrt(2 / pi) exp(-d^2 / (2 s^2)) + d erf(d / (s sqrt 2))
    d = _d()
    s, delta = p.scale, p.loc - q.loc
    abs_mean = (s * math.sqrt(2 / math.pi) * (-delta.pow(2) / (2 * s.pow(2))).exp()
                + delta * d.erf(delta / (s * math.sqrt(2))))
    return -p.entropy() + (2 * q.scale).log() + abs_mean / q.scale


# --- p = Pareto(s, a): E[log x] = log s + 1 / a, E[x] = a s / (a - 1) (a > 1), Var = s^2 a / ((a-1)^2 (a-2)) (a > 2)

def _pareto_mean_log(p):
    return p.scale.log() + p.alpha.reciprocal()


def _safe_alpha(p, min_alpha):
    # alpha where the moment is finite, else a harmless stand-in (the result there is replaced by inf): keeps
    # NaN / inf out of the untaken branch and its gradient
    return _d().where(p.alpha > min_alpha, p.alpha, min_alpha + 1.0)


@register_kl(Pareto, Exponential)
def _kl_pareto_exponential(p, q):
    a = _safe_alpha(p, 1.0)
    mean = a * p.scale / (a - 1)
    return _inf_where(p.alpha <= 1, -p.entropy() + _neg_cross_exponential(mean, q))


@register_kl(Pareto, Gamma)
def _kl_pareto_gamma(p, q):
    a = _safe_alpha(p, 1.0)
    mean = a * p.scale / (a - 1)
    return _inf_where(p.alpha <= 1, -p.entropy() + _neg_cross_gamma(mean, _pareto_mean_log(p), q))


@register_kl(Pareto, Normal)
def _kl_pareto_normal(p, q):
    a = _safe_alpha(p, 2.0)
    mean = a * p.scale / (a - 1)
    var = p.scale.pow(2) * a / ((a - 1).pow(2) * (a - 2))
    return _inf_where(p.alpha <= 2, -p.entropy() + _neg_cross_normal(mean, var, q))


@register_kl(Pareto, Pareto)
def _kl_pareto_pareto(p, q):
    # finite iff p's support [s_p, inf) lies in [s_q, inf)
    result = -p.entropy() + _neg_cross_pareto(_pareto_mean_log(p), q)
    return _inf_where(p.scale < q.scale, result)


# --- p = Uniform(l, h): E[x] = (l + h) / 2, Var = (h - l)^2 / 12, E[log x] = (h log h - l log l) / (h - l) - 1 (for
# l >= 0), E[e^(-t x)] = (e^(-t l) - e^(-t h)) / (t (h - l)) ----------------------------------------------------------

def _uniform_mean_log(low, high):
    # integral of log x over [l, h] is [x log x - x]_l^h
    xlogy = _d().special.xlogy
    return (xlogy(high, high) - xlogy(low, low)) / (high - low) - 1


def _clamped(p, lo=None, hi=None):
    # p's bounds clamped into q's support (used only where the result is finite; keeps NaN out of the untaken
    # branch and its gradient)
    low, high = p.low, p.high
    if lo is not None:
        low, high = low.clamp(min=lo), high.clamp(min=lo)
    if hi is not None:
        low, high = low.clamp(max=hi), high.clamp(max=hi)
    return low, high


@register_kl(Uniform, Beta)
def _kl_uniform_beta(p, q):
    low, high = _clamped(p, 0.0, 1.0)
    # E[log(1 - x)]: 1 - x is uniform on [1 - h, 1 - l]
    mean_log1m = _uniform_mean_log(1 - high, 1 - low)
    result = -p.entropy() + _neg_cross_beta(_uniform_mean_log(low, high), mean_log1m, q)
    return _inf_where((p.low < 0) | (p.high > 1), result)


@register_kl(Uniform, ContinuousBernoulli)
def _kl_uniform_continuous_bernoulli(p, q):
    result = -p.entropy() + _neg_cross_cb(p.mean, q)
    return _inf_where((p.low < 0) | (p.high > 1), result)


@register_kl(Uniform, Exponential)
def _kl_uniform_exponential(p, q):
    result = -p.entropy() + _neg_cross_exponential(p.mean, q)
    return _inf_where(p.low < 0, result)


@register_kl(Uniform, Gamma)
def _kl_uniform_gamma(p, q):
    low, high = _clamped(p, 0.0)
    result = -p.entropy() + _neg_cross_gamma(p.mean, _uniform_mean_log(low, high), q)
    return _inf_where(p.low < 0, result)


@register_kl(Uniform, Gumbel)
def _kl_uniform_gumbel(p, q):
    low, high = p.low, p.high

    def log_mgf_neg(t):
        # log((e^(-t l) - e^(-t h)) / (t (h - l))) = -t l + log(-expm1(-t (h - l))) - log(t (h - l))
        w = high - low
        return -t * low + (-_d().expm1(-t * w)).log() - (t * w).log()

    return -p.entropy() + _neg_cross_gumbel(p.mean, log_mgf_neg, q)


@register_kl(Uniform, Normal)
def _kl_uniform_normal(p, q):
    return -p.entropy() + _neg_cross_normal(p.mean, p.variance, q)


@register_kl(Uniform, Pareto)
def _kl_uniform_pareto(p, q):
    # finite iff l >= s (then l > 0 and E[log x] is finite)
    low, high = p.low, p.high
    ok = low >= q.scale
    d = _d()
    low_s = d.where(ok, low, 1.0)
    high_s = d.where(ok, high, 2.0)
    result = -p.entropy() + _neg_cross_pareto(_uniform_mean_log(low_s, high_s), q)
    return _inf_where(~ok, result)


# --- multivariate normals: KL = (log|Sq| - log|Sp| + tr(Sq^-1 Sp) + (mq - mp)^T Sq^-1 (mq - mp) - n) / 2 ----------

def _check_event_shapes(p, q, what):
    if p.event_shape != q.event_shape:
        raise ValueError(f"KL-divergence between {what} with different event shapes cannot be computed")


@register_kl(LowRankMultivariateNormal, MultivariateNormal)
def _kl_lowrankmultivariatenormal_multivariatenormal(p, q):
    # Sp = W W^T + diag(D), Sq = L L^T: tr(Sq^-1 Sp) = ||L^-1 W||_F^2 + ||L^-1 diag(sqrt D)||_F^2
    d = _d()
    _check_event_shapes(p, q, "a Low Rank Multivariate Normal and a Multivariate Normal")
    n = p.event_shape[0]
    L = q._unbroadcasted_scale_tril
    W, D = p._unbroadcasted_cov_factor, p._unbroadcasted_cov_diag
    logdet_q = 2 * L.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    logdet_p = _batch_lowrank_logdet(W, D, p._capacitance_tril)
    batch = tuple(d.broadcast_shapes(tuple(L.shape[:-2]), tuple(W.shape[:-2]), tuple(D.shape[:-1])))
    Lb = L.expand(batch + (n, n))
    L_inv = d.linalg.solve_triangular(Lb, d.eye(n, dtype=L.dtype, device=L.device).expand(batch + (n, n)),
                                      upper=False)
    trace = _batch_trace_XXT(L_inv @ W) + _batch_trace_XXT(L_inv * D.sqrt().unsqueeze(-2))
    maha = _batch_mahalanobis(L, q.loc - p.loc)
    return 0.5 * (logdet_q - logdet_p + trace + maha - n)


@register_kl(MultivariateNormal, LowRankMultivariateNormal)
def _kl_multivariatenormal_lowrankmultivariatenormal(p, q):
    # Sp = L L^T, Sq = W W^T + diag(D) with Sq^-1 = D^-1 - D^-1 W C^-1 W^T D^-1 (Woodbury, C = I + W^T D^-1 W
    # = Lc Lc^T): tr(Sq^-1 Sp) = ||D^-1/2 L||_F^2 - ||Lc^-1 W^T D^-1 L||_F^2
    d = _d()
    _check_event_shapes(p, q, "a Multivariate Normal and a Low Rank Multivariate Normal")
    n = p.event_shape[0]
    L = p._unbroadcasted_scale_tril
    W, D, C = q._unbroadcasted_cov_factor, q._unbroadcasted_cov_diag, q._capacitance_tril
    logdet_p = 2 * L.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    logdet_q = _batch_lowrank_logdet(W, D, C)
    Wt_Dinv = W.transpose(-2, -1) / D.unsqueeze(-2)
    m = W.shape[-1]
    batch = tuple(d.broadcast_shapes(tuple(C.shape[:-2]), tuple(Wt_Dinv.shape[:-2]), tuple(L.shape[:-2])))
    A = d.linalg.solve_triangular(C.expand(batch + (m, m)), (Wt_Dinv @ L).expand(batch + (m, n)), upper=False)
    trace = _batch_trace_XXT(L * D.rsqrt().unsqueeze(-1)) - _batch_trace_XXT(A)
    maha = _batch_lowrank_mahalanobis(W, D, q.loc - p.loc, C)
    return 0.5 * (logdet_q - logdet_p + trace + maha - n)


# --- generic exponential family ------------------------------------------------------------------------------------

@register_kl(ExponentialFamily, ExponentialFamily)
def _kl_expfamily_expfamily(p, q):
    """Bregman divergence of the log normalizer A: KL(p || q) = A(tq) - A(tp) - <tq - tp, grad A(tp)> for natural
    parameters tp, tq of the same family. grad A(tp) is taken with create_graph, so the result stays differentiable
    in both p's and q's parameters (p's natural parameters are used as they are where they carry a graph)."""
    from .. import autograd
    if type(p) is not type(q):
        raise NotImplementedError(f"No KL(p || q) is implemented for p type {type(p).__name__} and q type "
                                  f"{type(q).__name__} (the cross KL-divergence between different exponential "
                                  "families cannot be computed using Bregman divergences)")
    p_nparams = [t if t.requires_grad else t.detach().requires_grad_() for t in p._natural_params]
    q_nparams = q._natural_params
    lg_normal = p._log_normalizer(*p_nparams)
    gradients = autograd.grad(lg_normal.sum(), p_nparams, create_graph=True)
    result = q._log_normalizer(*q_nparams) - lg_normal
    for pnp, qnp, g in zip(p_nparams, q_nparams, gradients):
        term = (qnp - pnp) * g
        result = result - _sum_rightmost(term, len(q.event_shape))
    return result
