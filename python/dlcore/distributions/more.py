"""Cauchy, Poisson, Geometric, Binomial, Dirichlet, Chi2, StudentT (torch.distributions' formulas)."""
from __future__ import annotations

import math

from . import constraints
from .distribution import Distribution, ExponentialFamily
from .univariate import Gamma, _rsample_standard_gamma, _xlogy
from .utils import (_BinaryParams, _BinaryProbsLogits, _CategoricalParams, broadcast_all, finfo, _standard_normal,
                    _uniform01)

__all__ = ["Cauchy", "Poisson", "Geometric", "Binomial", "Dirichlet", "Chi2", "StudentT", "Multinomial",
           "NegativeBinomial"]


def _d():
    import dlcore
    return dlcore


def _full(dist, ref, value):
    return _d().full(tuple(dist._extended_shape()), value, dtype=ref.dtype, device=ref.device)


class Cauchy(Distribution):
    """Cauchy(loc, scale)."""
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        batch_shape = self._broadcast_params(loc=loc, scale=scale)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Cauchy, batch_shape, _instance, params=("loc", "scale"))

    @property
    def mean(self):
        return _full(self, self.loc, float("nan"))

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return _full(self, self.loc, float("inf"))

    def rsample(self, sample_shape=()):
        d = _d()
        shape = self._extended_shape(sample_shape)
        u = _uniform01(shape, self.loc.dtype, self.loc.device)
        eps = d.tan(math.pi * (u - 0.5))
        return self.loc + eps * self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -math.log(math.pi) - self.scale.log() - (((value - self.loc) / self.scale) ** 2).log1p()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return _d().atan((value - self.loc) / self.scale) / math.pi + 0.5

    def icdf(self, value):
        return _d().tan(math.pi * (value - 0.5)) * self.scale + self.loc

    def entropy(self):
        return math.log(4 * math.pi) + self.scale.log()


def _poisson_sample(rate):
    """Poisson(rate) draws (no gradient), vectorized over rate's elements: multiplication of uniforms for rate < 10,
    Hormann's PTRS transformed rejection otherwise (the algorithms numpy uses)."""
    d = _d()
    dtype, device, shape = rate.dtype, rate.device, tuple(rate.shape)
    small = rate < 10
    out = d.zeros_like(rate)
    # small rates: count uniforms until their product drops below exp(-rate)
    enlam = d.exp(-d.where(small, rate, 0.0))
    prod = d.ones_like(rate)
    active = small & (rate > 0)
    while bool(active.any()):
        prod = prod * _uniform01(shape, dtype, device)
        step = active & (prod > enlam)
        out = out + step.to(dtype)
        active = step
    # large rates: PTRS
    lam = d.where(small, 10.0, rate)
    slam, loglam = lam.sqrt(), lam.log()
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2)
    done = small
    for _ in range(10000):
        if bool(done.all()):
            break
        u = _uniform01(shape, dtype, device) - 0.5
        v = _uniform01(shape, dtype, device)
        us = 0.5 - u.abs()
        k = ((2 * a / us + b) * u + lam + 0.43).floor()
        quick = (us >= 0.07) & (v <= vr)
        bad = (k < 0) | ((us < 0.013) & (v > us))
        ks = k.clamp(min=0)
        slow = (~bad) & (d.log(v) + d.log(invalpha) - d.log(a / (us * us) + b) <= -lam + ks * loglam
                         - d.lgamma(ks + 1))
        accept = (quick | slow) & ~done
        out = d.where(accept, k, out)
        done = done | accept
    else:
        raise RuntimeError("Poisson sampling: rejection loop did not finish (rate NaN or inf?)")
    return out


class Poisson(ExponentialFamily):
    """Poisson(rate)."""
    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate, validate_args=None):
        super().__init__(self._broadcast_params(rate=rate), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Poisson, batch_shape, _instance, params=("rate",))

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return self.rate.floor()

    @property
    def variance(self):
        return self.rate

    def sample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        with _d().no_grad():
            return _poisson_sample(self.rate.detach().expand(shape).contiguous())

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        rate, value = broadcast_all(self.rate, value)
        return _xlogy(value, rate) - rate - _d().lgamma(value + 1)

    @property
    def _natural_params(self):
        return (self.rate.log(),)

    def _log_normalizer(self, x):
        # theta = log(rate): A = rate
        return x.exp()


class Geometric(_BinaryProbsLogits, Distribution):
    """Geometric(probs=None, logits=None): number of failures before the first success."""
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        _, batch_shape = self._broadcast_probs_or_logits(probs, logits)
        super().__init__(batch_shape, validate_args=validate_args)
        if self._validate_args and probs is not None:
            value = self.probs
            valid = value > 0
            if not bool(valid.all()):
                invalid_value = value.detach()[~valid]
                raise ValueError("Expected parameter probs "
                                 f"({type(value).__name__} of shape {tuple(value.shape)}) "
                                 f"of distribution {repr(self)} "
                                 f"to be positive but found invalid values:\n{invalid_value}")

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Geometric, batch_shape, _instance, params=("probs", "logits"))

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return _d().zeros_like(self.probs)

    @property
    def variance(self):
        return (1.0 / self.probs - 1.0) / self.probs


    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        probs = self.probs
        tiny = finfo(probs.dtype).tiny
        with _d().no_grad():
            u = _uniform01(shape, probs.dtype, probs.device).clamp(min=tiny)
            return (u.log() / (-probs.detach()).log1p()).floor()

    def log_prob(self, value):
        d = _d()
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_all(value, self.probs)
        probs = d.where((probs == 1) & (value == 0), 0.0, probs)
        return value * (-probs).log1p() + self.probs.log()

    def entropy(self):
        bce = _d().nn.functional.binary_cross_entropy_with_logits
        return bce(self.logits, self.probs, reduction="none") / self.probs


def _clamp_by_zero(x):
    return (x.clamp(min=0) + x - x.clamp(max=0)) / 2


class Binomial(_BinaryParams, Distribution):
    """Binomial(total_count=1, probs=None, logits=None)."""
    arg_constraints = {"total_count": constraints.nonnegative_integer, "probs": constraints.unit_interval,
                       "logits": constraints.real}
    has_enumerate_support = True

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        self._param, _ = self._broadcast_probs_or_logits(probs, logits, total_count=total_count)
        self.total_count = self.total_count.to(self._param.dtype)
        super().__init__(self._param.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Binomial, batch_shape, _instance, params=("total_count", "probs", "logits"))

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def mode(self):
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)


    def sample(self, sample_shape=(), max_total_count=100000):
        """Sum of total_count Bernoulli draws per element (memory grows with max(total_count))."""
        d = _d()
        shape = tuple(self._extended_shape(sample_shape))
        probs = self.probs
        with d.no_grad():
            n_max = int(self.total_count.max()) if self.total_count.numel() else 0
            if n_max > max_total_count:
                raise NotImplementedError(f"Binomial.sample: total_count up to {max_total_count} is supported, got "
                                          f"{n_max}")
            p = probs.detach().expand(shape).unsqueeze(-1)
            n = self.total_count.detach().expand(shape).unsqueeze(-1)
            u = _uniform01(shape + (max(n_max, 1),), p.dtype, p.device)
            k = d.arange(max(n_max, 1), dtype=p.dtype, device=p.device)
            hits = (u < p) & (k < n)
            return hits.to(p.dtype).sum(-1)

    def log_prob(self, value):
        d = _d()
        if self._validate_args:
            self._validate_sample(value)
        log_factorial_n = d.lgamma(self.total_count + 1)
        log_factorial_k = d.lgamma(value + 1)
        log_factorial_nmk = d.lgamma(self.total_count - value + 1)
        normalize_term = (self.total_count * _clamp_by_zero(self.logits)
                          + self.total_count * d.log1p(d.exp(-self.logits.abs())) - log_factorial_n)
        return value * self.logits - log_factorial_k - log_factorial_nmk - normalize_term

    def entropy(self):
        total_count = int(self.total_count.max())
        if not float(self.total_count.min()) == total_count:
            raise NotImplementedError("Inhomogeneous total count not supported by `entropy`.")
        log_prob = self.log_prob(self.enumerate_support(False))
        return -(log_prob.exp() * log_prob).sum(0)

    def enumerate_support(self, expand=True):
        total_count = int(self.total_count.max())
        if not float(self.total_count.min()) == total_count:
            raise NotImplementedError("Inhomogeneous total count not supported by `enumerate_support`.")
        values = _d().arange(1 + total_count, dtype=self._param.dtype, device=self._param.device)
        values = values.view((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = values.expand((-1,) + tuple(self._batch_shape))
        return values


class Dirichlet(ExponentialFamily):
    """Dirichlet(concentration): on the simplex over the last dim."""
    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        super().__init__(concentration.shape[:-1], concentration.shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Dirichlet, batch_shape, _instance, params=("concentration",),
                                   param_tail=self.event_shape)

    def rsample(self, sample_shape=()):
        """Normalized Gamma samples, differentiable through their implicit gradients (unbiased pathwise gradient;
        per-sample values differ from torch's _dirichlet_grad)."""
        shape = tuple(self._extended_shape(sample_shape))
        g = _rsample_standard_gamma(self.concentration.expand(shape))
        fi = finfo(g.dtype)
        return (g / g.sum(-1, keepdim=True)).clamp(min=fi.tiny, max=1 - fi.eps)

    def log_prob(self, value):
        d = _d()
        if self._validate_args:
            self._validate_sample(value)
        return (_xlogy(self.concentration - 1.0, value).sum(-1) + d.lgamma(self.concentration.sum(-1))
                - d.lgamma(self.concentration).sum(-1))

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        # torch: the all-below-one rows take the argmax of NaNs, i.e. the first vertex
        d = _d()
        cm1 = (self.concentration - 1).clamp(min=0.0)
        mode = cm1 / cm1.sum(-1, keepdim=True)
        mask = (self.concentration < 1).all(-1, keepdim=True)
        first = d.zeros_like(mode)
        first = d.where(d.arange(mode.shape[-1], device=mode.device) == 0, 1.0, first)
        return d.where(mask, first, mode)

    @property
    def variance(self):
        con0 = self.concentration.sum(-1, keepdim=True)
        return self.concentration * (con0 - self.concentration) / (con0.pow(2) * (con0 + 1))

    def entropy(self):
        d = _d()
        k = self.concentration.shape[-1]
        a0 = self.concentration.sum(-1)
        return (d.lgamma(self.concentration).sum(-1) - d.lgamma(a0) - (k - a0) * d.digamma(a0)
                - ((self.concentration - 1.0) * d.digamma(self.concentration)).sum(-1))

    @property
    def _natural_params(self):
        return (self.concentration,)

    def _log_normalizer(self, x):
        # log of the multivariate Beta function (natural parameters shifted by 1)
        d = _d()
        return d.lgamma(x).sum(-1) - d.lgamma(x.sum(-1))


class Chi2(Gamma):
    """Chi2(df) = Gamma(df / 2, 1 / 2)."""
    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, validate_args=None):
        super().__init__(0.5 * df, 0.5, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Chi2, _instance)
        return super().expand(batch_shape, new)

    @property
    def df(self):
        return self.concentration * 2


class StudentT(Distribution):
    """StudentT(df, loc=0., scale=1.)."""
    arg_constraints = {"df": constraints.positive, "loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale)
        self._chi2 = Chi2(self.df)  # (as torch: validates df first, with Chi2's message)
        super().__init__(self.df.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(StudentT, batch_shape, _instance, params=("df", "loc", "scale"),
                                   dists=("_chi2",))

    @property
    def mean(self):
        return _d().where(self.df <= 1, float("nan"), self.loc)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        d = _d()
        df_safe = d.where(self.df > 2, self.df, 3.0)
        v = self.scale.pow(2) * df_safe / (df_safe - 2)
        v = d.where(self.df > 2, v, d.where(self.df > 1, float("inf"), float("nan")))
        return v

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        x = _standard_normal(shape, self.df.dtype, self.df.device)
        z = self._chi2.rsample(sample_shape)
        y = x * (z / self.df).rsqrt()
        return self.loc + self.scale * y

    def log_prob(self, value):
        d = _d()
        if self._validate_args:
            self._validate_sample(value)
        y = (value - self.loc) / self.scale
        Z = (self.scale.log() + 0.5 * self.df.log() + 0.5 * math.log(math.pi) + d.lgamma(0.5 * self.df)
             - d.lgamma(0.5 * (self.df + 1.0)))
        return -0.5 * (self.df + 1.0) * d.log1p(y ** 2.0 / self.df) - Z

    def entropy(self):
        d = _d()
        lbeta = d.lgamma(0.5 * self.df) + math.lgamma(0.5) - d.lgamma(0.5 * (self.df + 1))
        return (self.scale.log()
                + 0.5 * (self.df + 1) * (d.digamma(0.5 * (self.df + 1)) - d.digamma(0.5 * self.df))
                + 0.5 * self.df.log() + lbeta)


class Multinomial(_CategoricalParams, Distribution):
    """Multinomial(total_count=1, probs=None, logits=None): counts of total_count Categorical draws (total_count
    a Python int, shared by the batch)."""
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        from .univariate import Categorical
        if not isinstance(total_count, int):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits)
        self._binomial = Binomial(total_count=total_count, probs=self.probs)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._expand_params(Multinomial, batch_shape, _instance, copy=("total_count",), dists=("_categorical",))
        new._binomial = Binomial(total_count=self.total_count, probs=new._categorical.probs, validate_args=False)
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return constraints.multinomial(self.total_count)

    @property
    def mean(self):
        return self.probs * self.total_count

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)


    def sample(self, sample_shape=()):
        d = _d()
        if isinstance(sample_shape, int):
            sample_shape = (sample_shape,)
        sample_shape = tuple(sample_shape)
        probs = self.probs
        with d.no_grad():
            k = self._categorical._num_events
            samples = self._categorical.sample((self.total_count,) + sample_shape)  # [n, S, B]
            onehot = d.nn.functional.one_hot(samples, k).to(probs.dtype)  # [n, S, B, k]
            return onehot.sum(0) if self.total_count > 0 else d.zeros(tuple(self._extended_shape(sample_shape)),
                                                                        dtype=probs.dtype, device=probs.device)

    def entropy(self):
        d = _d()
        n = d.tensor(float(self.total_count), dtype=self.probs.dtype, device=self.probs.device)
        cat_entropy = self._categorical.entropy()
        term1 = n * cat_entropy - d.lgamma(n + 1)
        support = self._binomial.enumerate_support(expand=False)[1:]
        binomial_probs = self._binomial.log_prob(support).exp()
        weights = d.lgamma(support + 1)
        term2 = (binomial_probs * weights).sum(0).sum(-1)
        return term1 + term2

    def log_prob(self, value):
        d = _d()
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        log_factorial_n = d.lgamma(value.sum(-1) + 1)
        log_factorial_xs = d.lgamma(value + 1).sum(-1)
        logits = d.where((value == 0) & (logits == float("-inf")), 0.0, logits)
        log_powers = (logits * value).sum(-1)
        return log_factorial_n - log_factorial_xs + log_powers


class NegativeBinomial(_BinaryParams, Distribution):
    """NegativeBinomial(total_count, probs=None, logits=None): the number of successes (probability probs) before
    total_count failures, as torch defines it."""
    arg_constraints = {"total_count": constraints.greater_than_eq(0), "probs": constraints.half_open_interval(0.0, 1.0),
                       "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        self._param, _ = self._broadcast_probs_or_logits(probs, logits, total_count=total_count)
        self.total_count = self.total_count.to(self._param.dtype)
        super().__init__(self._param.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(NegativeBinomial, batch_shape, _instance, params=("total_count", "probs", "logits"))

    @property
    def mean(self):
        return self.total_count * self.logits.exp()

    @property
    def mode(self):
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self):
        return self.mean / _d().sigmoid(-self.logits)


    @property
    def _gamma(self):
        return Gamma(concentration=self.total_count, rate=(-self.logits).exp(), validate_args=False)

    def sample(self, sample_shape=()):
        gamma = self._gamma
        with _d().no_grad():
            rate = gamma.sample(sample_shape)
            return _poisson_sample(rate.contiguous())

    def log_prob(self, value):
        d = _d()
        if self._validate_args:
            self._validate_sample(value)
        logsigmoid = d.nn.functional.logsigmoid
        log_unnormalized_prob = self.total_count * logsigmoid(-self.logits) + value * logsigmoid(self.logits)
        log_normalization = (-d.lgamma(self.total_count + value) + d.lgamma(1.0 + value)
                             + d.lgamma(self.total_count))
        log_normalization = d.where(self.total_count + value == 0.0, 0.0, log_normalization)
        return log_unnormalized_prob - log_normalization
