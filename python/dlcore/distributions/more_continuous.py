"""Pareto, ContinuousBernoulli, Weibull, Kumaraswamy (the torch.distributions API; densities, moments and entropies
derived in closed form here, on dlcore's differentiable ops).

Pareto, Weibull and Kumaraswamy are TransformedDistributions of an Exponential / Uniform base as in torch (so that
sampling, expand and KL dispatch behave alike), with closed-form log_prob / cdf / icdf overrides."""
from __future__ import annotations

import math
import numbers

from . import constraints
from .distribution import ExponentialFamily, _size
from .transformed_distribution import TransformedDistribution
from .transforms import AffineTransform, ExpTransform, PowerTransform
from .univariate import Exponential, Uniform
from .utils import broadcast_all, clamp_probs, lazy_property, logits_to_probs, probs_to_logits, _uniform01

__all__ = ["Pareto", "ContinuousBernoulli", "Weibull", "Kumaraswamy"]

_EULER_GAMMA = 0.57721566490153286060


def _d():
    import dlcore
    return dlcore


class Pareto(TransformedDistribution):
    """Pareto(scale, alpha): Pareto type I, density alpha scale^alpha / x^(alpha + 1) on [scale, inf).

    X = scale * exp(E) with E ~ Exponential(alpha) (reparameterized)."""
    arg_constraints = {"alpha": constraints.positive, "scale": constraints.positive}
    has_rsample = True

    def __init__(self, scale, alpha, validate_args=None):
        self.scale, self.alpha = broadcast_all(scale, alpha)
        base_dist = Exponential(self.alpha, validate_args=False)  # alpha is checked as Pareto's parameter
        super().__init__(base_dist, [ExpTransform(), AffineTransform(loc=0, scale=self.scale)],
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Pareto, _instance)
        new.scale = self.scale.expand(tuple(batch_shape))
        new.alpha = self.alpha.expand(tuple(batch_shape))
        return super().expand(batch_shape, _instance=new)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.greater_than_eq(self.scale)

    @property
    def mean(self):
        # alpha scale / (alpha - 1), infinite for alpha <= 1
        a = self.alpha.clamp(min=1)
        return a * self.scale / (a - 1)

    @property
    def mode(self):
        return self.scale

    @property
    def variance(self):
        # scale^2 alpha / ((alpha - 1)^2 (alpha - 2)), infinite for alpha <= 2
        a = self.alpha.clamp(min=2)
        return self.scale.pow(2) * a / ((a - 1).pow(2) * (a - 2))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        # log alpha + alpha log scale - (alpha + 1) log x on x >= scale
        lp = self.alpha.log() + self.alpha * self.scale.log() - (self.alpha + 1) * value.log()
        return _d().where(value >= self.scale, lp, float("-inf"))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        # 1 - (scale / x)^alpha, 0 below scale
        return (1 - (self.scale / value).pow(self.alpha)).clamp(min=0)

    def icdf(self, value):
        # scale (1 - u)^(-1 / alpha)
        return self.scale * (-_d().log1p(-value) / self.alpha).exp()

    def entropy(self):
        # -E[log p] = -log alpha - alpha log scale + (alpha + 1)(log scale + 1 / alpha)
        return (self.scale / self.alpha).log() + (1 + self.alpha.reciprocal())


class ContinuousBernoulli(ExponentialFamily):
    """ContinuousBernoulli(probs=None, logits=None, lims=(0.499, 0.501)): density C(lambda) lambda^x
    (1 - lambda)^(1 - x) on [0, 1] (Loaiza-Ganem & Cunningham 2019), with
    C(lambda) = 2 atanh(1 - 2 lambda) / (1 - 2 lambda) = |logit(lambda)| / |2 lambda - 1|.

    For probs within lims (around 1/2, where those expressions are 0 / 0) the log normalizer, mean and variance are
    the Taylor series in (lambda - 1/2) and the cdf / icdf those of the uniform distribution."""
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501), validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            is_scalar = isinstance(probs, numbers.Number)
            (probs,) = broadcast_all(probs)
            # checked before the clamp below (the clamped probs would always pass)
            validate = self._validate_args if validate_args is None else validate_args
            if validate and not bool(constraints.unit_interval.check(probs).all()):
                raise ValueError(f"Expected parameter probs (Tensor of shape {tuple(probs.shape)}) of distribution "
                                 f"ContinuousBernoulli to satisfy the constraint {constraints.unit_interval!r}, "
                                 f"but found invalid values:\n{probs}")
            self.probs = clamp_probs(probs)
            self._param = self.probs
        else:
            is_scalar = isinstance(logits, numbers.Number)
            (self.logits,) = broadcast_all(logits)
            self._param = self.logits
        self._lims = lims
        batch_shape = () if is_scalar else self._param.shape
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(ContinuousBernoulli, batch_shape, _instance, params=("probs", "logits"),
                                   copy=("_lims",))

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return clamp_probs(logits_to_probs(self.logits, is_binary=True))

    @property
    def param_shape(self):
        return self._param.shape

    def _outside_unstable_region(self):
        return (self.probs <= self._lims[0]) | (self.probs > self._lims[1])

    def _cut_probs(self):
        # probs outside the Taylor region, else lims[0]: the exact branches stay finite (and so do their gradients)
        return _d().where(self._outside_unstable_region(), self.probs, self._lims[0])

    def _cont_bern_log_norm(self):
        """log C(lambda) = log|log(1 - lambda) - log(lambda)| - log|1 - 2 lambda|; near 1/2, with t = 1 - 2 lambda:
        log(2 atanh(t) / t) = log 2 + t^2 / 3 + 13 t^4 / 90 + O(t^6), i.e. log 2 + 4/3 x^2 + 104/45 x^4 in
        x = lambda - 1/2."""
        d = _d()
        lam = self._cut_probs()
        exact = (d.log1p(-lam) - lam.log()).abs().log() - (1 - 2 * lam).abs().log()
        x2 = (self.probs - 0.5).pow(2)
        taylor = math.log(2.0) + (4.0 / 3.0 + 104.0 / 45.0 * x2) * x2
        return d.where(self._outside_unstable_region(), exact, taylor)

    @property
    def mean(self):
        # E[x] = A'(eta) for A(eta) = log((e^eta - 1) / eta): lambda / (2 lambda - 1) + 1 / (log(1 - lambda) - log
        # lambda); series 1/2 + x / 3 + 16 x^3 / 45 in x = lambda - 1/2
        d = _d()
        lam = self._cut_probs()
        exact = lam / (2 * lam - 1) + 1 / (d.log1p(-lam) - lam.log())
        x = self.probs - 0.5
        taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * x.pow(2)) * x
        return d.where(self._outside_unstable_region(), exact, taylor)

    @property
    def mode(self):
        # the density is monotone: its maximum is at 1 for lambda > 1/2, at 0 for lambda < 1/2
        # (torch's ContinuousBernoulli has no mode)
        d = _d()
        mode = (self.probs > 0.5).to(self.probs.dtype)
        return d.where(self.probs == 0.5, float("nan"), mode)

    @property
    def variance(self):
        # A''(eta) = lambda (lambda - 1) / (1 - 2 lambda)^2 + 1 / (log(1 - lambda) - log lambda)^2;
        # series 1/12 - x^2 / 15 + 128 x^4 / 945
        d = _d()
        lam = self._cut_probs()
        exact = lam * (lam - 1) / (1 - 2 * lam).pow(2) + 1 / (d.log1p(-lam) - lam.log()).pow(2)
        x2 = (self.probs - 0.5).pow(2)
        taylor = 1.0 / 12.0 - (1.0 / 15.0 - 128.0 / 945.0 * x2) * x2
        return d.where(self._outside_unstable_region(), exact, taylor)

    @property
    def stddev(self):
        return self.variance.sqrt()

    def sample(self, sample_shape=()):
        d = _d()
        shape = self._extended_shape(sample_shape)
        probs = self.probs  # outside no_grad: a lazily computed probs must keep its graph for later use
        u = _uniform01(shape, probs.dtype, probs.device)
        with d.no_grad():
            return self.icdf(u)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        u = _uniform01(shape, self.probs.dtype, self.probs.device)
        return self.icdf(u)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        # x log lambda + (1 - x) log(1 - lambda) + log C(lambda)
        return (-_d().nn.functional.binary_cross_entropy_with_logits(logits, value, reduction="none")
                + self._cont_bern_log_norm())

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        # (lambda^x (1 - lambda)^(1 - x) + lambda - 1) / (2 lambda - 1); x in the Taylor region
        d = _d()
        lam = self._cut_probs()
        exact = (lam.pow(value) * (1 - lam).pow(1 - value) + lam - 1) / (2 * lam - 1)
        inner = d.where(self._outside_unstable_region(), exact, value)
        return d.where(value <= 0, 0.0, d.where(value >= 1, 1.0, inner))

    def icdf(self, value):
        # solving the cdf for x: (log(1 - lambda + u (2 lambda - 1)) - log(1 - lambda)) / logit(lambda)
        d = _d()
        lam = self._cut_probs()
        exact = (d.log1p(-lam + value * (2 * lam - 1)) - d.log1p(-lam)) / (lam.log() - d.log1p(-lam))
        return d.where(self._outside_unstable_region(), exact, value)

    def entropy(self):
        # -E[log p] = E[x] (log(1 - lambda) - log lambda) - log C(lambda) - log(1 - lambda)
        log_q = _d().log1p(-self.probs)
        log_p = self.probs.log()
        return self.mean * (log_q - log_p) - self._cont_bern_log_norm() - log_q

    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, x):
        """A(eta) = log((e^eta - 1) / eta); near 0 (within lims - 1/2): eta / 2 + eta^2 / 24 - eta^4 / 2880."""
        d = _d()
        outside = (x <= self._lims[0] - 0.5) | (x > self._lims[1] - 0.5)
        cut = d.where(outside, x, self._lims[0] - 0.5)
        exact = d.expm1(cut).abs().log() - cut.abs().log()
        taylor = 0.5 * x + x.pow(2) / 24.0 - x.pow(4) / 2880.0
        return d.where(outside, exact, taylor)


class Weibull(TransformedDistribution):
    """Weibull(scale, concentration): density (k / s) (x / s)^(k - 1) exp(-(x / s)^k) on x > 0.

    X = scale * E^(1 / concentration) with E ~ Exponential(1) (reparameterized)."""
    arg_constraints = {"scale": constraints.positive, "concentration": constraints.positive}
    support = constraints.positive

    def __init__(self, scale, concentration, validate_args=None):
        d = _d()
        self.scale, self.concentration = broadcast_all(scale, concentration)
        self.concentration_reciprocal = self.concentration.reciprocal()
        base_dist = Exponential(d.ones_like(self.scale), validate_args=False)
        transforms = [PowerTransform(exponent=self.concentration_reciprocal), AffineTransform(loc=0, scale=self.scale)]
        super().__init__(base_dist, transforms, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Weibull, _instance)
        batch_shape = tuple(_size(batch_shape))
        new.scale = self.scale.expand(batch_shape)
        new.concentration = self.concentration.expand(batch_shape)
        new.concentration_reciprocal = new.concentration.reciprocal()
        transforms = [PowerTransform(exponent=new.concentration_reciprocal), AffineTransform(loc=0, scale=new.scale)]
        TransformedDistribution.__init__(new, self.base_dist.expand(batch_shape), transforms, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        # s Gamma(1 + 1/k)
        return self.scale * _d().lgamma(1 + self.concentration_reciprocal).exp()

    @property
    def mode(self):
        # s ((k - 1) / k)^(1/k) (the expression torch evaluates for every k)
        return self.scale * ((self.concentration - 1) / self.concentration).pow(self.concentration_reciprocal)

    @property
    def variance(self):
        # s^2 (Gamma(1 + 2/k) - Gamma(1 + 1/k)^2)
        d = _d()
        return self.scale.pow(2) * (d.lgamma(1 + 2 * self.concentration_reciprocal).exp()
                                    - (2 * d.lgamma(1 + self.concentration_reciprocal)).exp())

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        # log k - log s + (k - 1) log(x / s) - (x / s)^k
        z = value / self.scale
        return (self.concentration.log() - self.scale.log() + (self.concentration - 1) * z.log()
                - z.pow(self.concentration))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        # 1 - exp(-(x / s)^k)
        return -_d().expm1(-(value / self.scale).pow(self.concentration))

    def icdf(self, value):
        # s (-log(1 - u))^(1/k)
        return self.scale * (-_d().log1p(-value)).pow(self.concentration_reciprocal)

    def entropy(self):
        # E[(x/s)^k] = 1 and E[log(x/s)] = -gamma / k give gamma (1 - 1/k) + log(s / k) + 1
        return (_EULER_GAMMA * (1 - self.concentration_reciprocal)
                + (self.scale * self.concentration_reciprocal).log() + 1)


def _kumaraswamy_moment(a, b, n):
    # E[X^n] = b B(1 + n / a, b)
    d = _d()
    t = 1 + n / a
    return b * (d.lgamma(t) + d.lgamma(b) - d.lgamma(t + b)).exp()


class Kumaraswamy(TransformedDistribution):
    """Kumaraswamy(concentration1, concentration0): density a b x^(a - 1) (1 - x^a)^(b - 1) on (0, 1), for
    a = concentration1, b = concentration0.

    X = (1 - U^(1/b))^(1/a) with U ~ Uniform(0, 1) (reparameterized)."""
    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        d = _d()
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        base_dist = Uniform(d.full_like(self.concentration0, 0), d.full_like(self.concentration0, 1),
                            validate_args=False)
        transforms = [PowerTransform(exponent=self.concentration0.reciprocal()), AffineTransform(loc=1.0, scale=-1.0),
                      PowerTransform(exponent=self.concentration1.reciprocal())]
        super().__init__(base_dist, transforms, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Kumaraswamy, _instance)
        new.concentration1 = self.concentration1.expand(tuple(batch_shape))
        new.concentration0 = self.concentration0.expand(tuple(batch_shape))
        return super().expand(batch_shape, _instance=new)

    @property
    def mean(self):
        return _kumaraswamy_moment(self.concentration1, self.concentration0, 1)

    @property
    def mode(self):
        # ((a - 1) / (a b - 1))^(1/a) for a >= 1, b >= 1 (not both 1); NaN otherwise.
        # (torch 2.x evaluates a different expression, NaN for most parameters)
        d = _d()
        a, b = self.concentration1, self.concentration0
        ok = (a >= 1) & (b >= 1) & ((a > 1) | (b > 1))
        a_s, b_s = d.where(ok, a, 2.0), d.where(ok, b, 2.0)
        mode = ((a_s - 1).log() - (a_s * b_s - 1).log()).div(a_s).exp()
        return d.where(ok, mode, float("nan"))

    @property
    def variance(self):
        return _kumaraswamy_moment(self.concentration1, self.concentration0, 2) - self.mean.pow(2)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        # log a + log b + (a - 1) log x + (b - 1) log(1 - x^a)
        d = _d()
        a, b = self.concentration1, self.concentration0
        return a.log() + b.log() + (a - 1) * value.log() + (b - 1) * d.log1p(-value.pow(a))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        # 1 - (1 - x^a)^b
        d = _d()
        x = value.clamp(min=0, max=1)
        return -d.expm1(self.concentration0 * d.log1p(-x.pow(self.concentration1)))

    def icdf(self, value):
        # (1 - (1 - u)^(1/b))^(1/a)
        d = _d()
        inner = -d.expm1(d.log1p(-value) / self.concentration0)
        return inner.pow(self.concentration1.reciprocal())

    def entropy(self):
        # with y = x^a ~ Beta(1, b): E[log x] = -H_b / a (H_b = digamma(b + 1) + gamma, the harmonic number) and
        # E[log(1 - y)] = -1/b, so -E[log p] = (1 - 1/b) + (1 - 1/a) H_b - log a - log b
        d = _d()
        a, b = self.concentration1, self.concentration0
        h_b = d.digamma(b + 1) + _EULER_GAMMA
        return (1 - b.reciprocal()) + (1 - a.reciprocal()) * h_b - a.log() - b.log()
