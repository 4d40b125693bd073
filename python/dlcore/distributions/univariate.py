"""Normal, Bernoulli, Categorical, OneHotCategorical, Uniform, Laplace, Exponential, Gamma, Beta
(torch.distributions' formulas, on dlcore's differentiable ops)."""
from __future__ import annotations

import math

from . import constraints
from .distribution import Distribution, ExponentialFamily, _LocMeanMode
from .utils import (_BinaryParams, _CategoricalParams, broadcast_all, finfo, lazy_property, logits_to_probs,
                    probs_to_logits, _standard_normal, _uniform01)

__all__ = ["Normal", "Bernoulli", "Categorical", "OneHotCategorical", "Uniform", "Laplace", "Exponential",
           "Gamma", "Beta"]

_HALF_LOG_2PI = math.log(math.sqrt(2 * math.pi))


def _d():
    import dlcore
    return dlcore


class Normal(_LocMeanMode, ExponentialFamily):
    """Normal(loc, scale): the Gaussian with mean loc and standard deviation scale."""
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True
    _mean_carrier_measure = 0

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.stddev.pow(2)

    def __init__(self, loc, scale, validate_args=None):
        batch_shape = self._broadcast_params(loc=loc, scale=scale)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Normal, batch_shape, _instance, params=("loc", "scale"))

    def sample(self, sample_shape=()):
        d = _d()
        shape = self._extended_shape(sample_shape)
        with d.no_grad():
            return self.loc.detach() + _standard_normal(shape, self.loc.dtype, self.loc.device) * self.scale.detach()

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        eps = _standard_normal(shape, self.loc.dtype, self.loc.device)
        return self.loc + eps * self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        var = self.scale ** 2
        log_scale = self.scale.log()
        return -((value - self.loc) ** 2) / (2 * var) - log_scale - _HALF_LOG_2PI

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 * (1 + _d().erf((value - self.loc) * self.scale.reciprocal() / math.sqrt(2)))

    def icdf(self, value):
        return self.loc + self.scale * _d().erfinv(2 * value - 1) * math.sqrt(2)

    def entropy(self):
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()

    @property
    def _natural_params(self):
        return (self.loc / self.scale.pow(2), -0.5 * self.scale.pow(2).reciprocal())

    def _log_normalizer(self, x, y):
        # theta = (mu / sigma^2, -1 / (2 sigma^2)): A = mu^2 / (2 sigma^2) + log(sigma sqrt(2 pi))
        return -0.25 * x.pow(2) / y + 0.5 * _d().log(-math.pi / y)


class Bernoulli(_BinaryParams, ExponentialFamily):
    """Bernoulli(probs=None, logits=None): 1 with probability probs (or sigmoid(logits)), else 0."""
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._param, batch_shape = self._broadcast_probs_or_logits(probs, logits)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Bernoulli, batch_shape, _instance, params=("probs", "logits"))

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        d = _d()
        mode = (self.probs >= 0.5).to(self.probs.dtype)
        return d.where(self.probs == 0.5, float("nan"), mode)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)


    def sample(self, sample_shape=()):
        d = _d()
        shape = self._extended_shape(sample_shape)
        probs = self.probs  # outside no_grad: a lazily computed probs must keep its graph for later use
        with d.no_grad():
            probs = probs.detach().expand(shape)
            return (_uniform01(shape, probs.dtype, probs.device) < probs).to(probs.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -_d().nn.functional.binary_cross_entropy_with_logits(logits, value, reduction="none")

    def entropy(self):
        return _d().nn.functional.binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")

    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, x):
        # A(logit) = log(1 + e^logit)
        return _d().nn.functional.softplus(x)

    def enumerate_support(self, expand=True):
        d = _d()
        values = d.arange(2, dtype=self._param.dtype, device=self._param.device)
        values = values.view((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = values.expand((-1,) + tuple(self._batch_shape))
        return values


class Categorical(Distribution):
    """Categorical(probs=None, logits=None): K categories over the last dim of probs/logits."""
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(constraints.real, 1)}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            if probs.dim() < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            self.probs = probs / probs.sum(-1, keepdim=True)
        else:
            if logits.dim() < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            self.logits = logits - logits.logsumexp(dim=-1, keepdim=True)
        self._param = self.probs if probs is not None else self.logits
        self._num_events = self._param.shape[-1]
        batch_shape = tuple(self._param.shape[:-1]) if self._param.dim() > 1 else ()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Categorical, batch_shape, _instance, params=("probs", "logits"),
                                   param_tail=(self._num_events,), copy=("_num_events",))

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits)

    @property
    def param_shape(self):
        return self._param.shape

    @property
    def mean(self):
        return _d().full(tuple(self._extended_shape()), float("nan"), dtype=self.probs.dtype,
                         device=self.probs.device)

    @property
    def mode(self):
        return self.probs.argmax(dim=-1)

    @property
    def variance(self):
        return _d().full(tuple(self._extended_shape()), float("nan"), dtype=self.probs.dtype,
                         device=self.probs.device)

    def sample(self, sample_shape=()):
        """Inverse-CDF sampling on dlcore's uniform draws: index = #{k : cumsum(probs)[k] <= u}."""
        d = _d()
        if isinstance(sample_shape, int):
            sample_shape = (sample_shape,)
        shape = tuple(self._extended_shape(sample_shape))
        probs = self.probs  # outside no_grad: a lazily computed probs must keep its graph for later use
        with d.no_grad():
            probs = probs.detach()
            cdf = probs.cumsum(-1)
            cdf = cdf / cdf[..., -1:]
            u = _uniform01(shape + (1,), probs.dtype, probs.device)
            idx = (cdf.expand(shape + (self._num_events,)) <= u).to(d.int64).sum(-1)
            return idx.clamp(max=self._num_events - 1)

    def log_prob(self, value):
        d = _d()
        if self._validate_args:
            self._validate_sample(value)
        value = value.long().unsqueeze(-1)
        value, log_pmf = d.broadcast_tensors(value, self.logits)
        value = value[..., :1]
        return log_pmf.gather(-1, value).squeeze(-1)

    def entropy(self):
        min_real = finfo(self.logits.dtype).min
        logits = self.logits.clamp(min=min_real)
        p_log_p = logits * self.probs
        return -p_log_p.sum(-1)

    def enumerate_support(self, expand=True):
        d = _d()
        num_events = self._num_events
        values = d.arange(num_events, dtype=d.int64, device=self._param.device)
        values = values.view((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = values.expand((-1,) + tuple(self._batch_shape))
        return values


class OneHotCategorical(_CategoricalParams, Distribution):
    """OneHotCategorical(probs=None, logits=None): a Categorical whose samples are one-hot vectors."""
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits)
        batch_shape = self._categorical.batch_shape
        event_shape = self._categorical.param_shape[-1:]
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(OneHotCategorical, batch_shape, _instance, dists=("_categorical",))

    @property
    def _param(self):
        return self._categorical._param


    @property
    def mean(self):
        return self._categorical.probs

    @property
    def mode(self):
        probs = self._categorical.probs
        mode = probs.argmax(dim=-1)
        return _d().nn.functional.one_hot(mode, num_classes=probs.shape[-1]).to(probs.dtype)

    @property
    def variance(self):
        return self._categorical.probs * (1 - self._categorical.probs)


    def sample(self, sample_shape=()):
        probs = self._categorical.probs
        num_events = self._categorical._num_events
        indices = self._categorical.sample(sample_shape)
        return _d().nn.functional.one_hot(indices, num_events).to(probs.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        indices = value.max(-1)[1]
        return self._categorical.log_prob(indices)

    def entropy(self):
        return self._categorical.entropy()

    def enumerate_support(self, expand=True):
        d = _d()
        n = self.event_shape[0]
        values = d.eye(n, dtype=self._param.dtype, device=self._param.device)
        values = values.view((n,) + (1,) * len(self.batch_shape) + (n,))
        if expand:
            values = values.expand((n,) + tuple(self.batch_shape) + (n,))
        return values


class Uniform(Distribution):
    """Uniform(low, high): uniform on the half-open interval [low, high)."""
    has_rsample = True

    @property
    def arg_constraints(self):
        return {"low": constraints.less_than(self.high), "high": constraints.greater_than(self.low)}

    @property
    def mean(self):
        return (self.high + self.low) / 2

    @property
    def mode(self):
        return float("nan") * self.high

    @property
    def stddev(self):
        return (self.high - self.low) / 12 ** 0.5

    @property
    def variance(self):
        return (self.high - self.low).pow(2) / 12

    def __init__(self, low, high, validate_args=None):
        batch_shape = self._broadcast_params(low=low, high=high)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Uniform, batch_shape, _instance, params=("low", "high"))

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.interval(self.low, self.high)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        rand = _uniform01(shape, self.low.dtype, self.low.device)
        return self.low + rand * (self.high - self.low)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        d = _d()
        lb = (self.low <= value).to(self.low.dtype)
        ub = (self.high > value).to(self.low.dtype)
        return d.log(lb * ub) - d.log(self.high - self.low)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        result = (value - self.low) / (self.high - self.low)
        return result.clamp(min=0, max=1)

    def icdf(self, value):
        return value * (self.high - self.low) + self.low

    def entropy(self):
        return _d().log(self.high - self.low)


class Laplace(_LocMeanMode, Distribution):
    """Laplace(loc, scale)."""
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    @property
    def variance(self):
        return 2 * self.scale.pow(2)

    @property
    def stddev(self):
        return (2 ** 0.5) * self.scale

    def __init__(self, loc, scale, validate_args=None):
        batch_shape = self._broadcast_params(loc=loc, scale=scale)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Laplace, batch_shape, _instance, params=("loc", "scale"))

    def rsample(self, sample_shape=()):
        d = _d()
        shape = self._extended_shape(sample_shape)
        eps = finfo(self.loc.dtype).eps
        u = _uniform01(shape, self.loc.dtype, self.loc.device) * (2 - eps) + (eps - 1)  # uniform on [eps-1, 1)
        return self.loc - self.scale * u.sign() * d.log1p(-u.abs())

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -_d().log(2 * self.scale) - (value - self.loc).abs() / self.scale

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 - 0.5 * (value - self.loc).sign() * _d().expm1(-(value - self.loc).abs() / self.scale)

    def icdf(self, value):
        term = value - 0.5
        return self.loc - self.scale * term.sign() * _d().log1p(-2 * term.abs())

    def entropy(self):
        return 1 + _d().log(2 * self.scale)


class Exponential(ExponentialFamily):
    """Exponential(rate)."""
    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _mean_carrier_measure = 0

    @property
    def mean(self):
        return self.rate.reciprocal()

    @property
    def mode(self):
        return _d().zeros_like(self.rate)

    @property
    def stddev(self):
        return self.rate.reciprocal()

    @property
    def variance(self):
        return self.rate.pow(-2)

    def __init__(self, rate, validate_args=None):
        super().__init__(self._broadcast_params(rate=rate), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Exponential, batch_shape, _instance, params=("rate",))

    def rsample(self, sample_shape=()):
        d = _d()
        shape = self._extended_shape(sample_shape)
        u = _uniform01(shape, self.rate.dtype, self.rate.device)
        return -d.log1p(-u) / self.rate

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self.rate.log() - self.rate * value

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 1 - _d().exp(-self.rate * value)

    def icdf(self, value):
        return -_d().log1p(-value) / self.rate

    def entropy(self):
        return 1.0 - _d().log(self.rate)

    @property
    def _natural_params(self):
        return (-self.rate,)

    def _log_normalizer(self, x):
        # theta = -rate: A = -log(rate)
        return -_d().log(-x)


def _standard_gamma(alpha, max_rounds=1000):
    """Gamma(alpha, 1) draws of alpha's shape (Marsaglia & Tsang 2000), vectorized: every round proposes for all
    elements and keeps the first acceptance of each; alpha < 1 is boosted to alpha + 1 and scaled by U^(1/alpha)."""
    d = _d()
    dtype, device = alpha.dtype, alpha.device
    small = alpha < 1
    a = d.where(small, alpha + 1, alpha)
    dd = a - 1.0 / 3.0
    c = 1.0 / (9.0 * dd).sqrt()
    out = d.zeros_like(alpha)
    shape = tuple(alpha.shape)
    done = d.zeros(shape, dtype=d.bool, device=device)
    for _ in range(max_rounds):
        x = _standard_normal(shape, dtype, device)
        v = (1 + c * x) ** 3
        u = _uniform01(shape, dtype, device)
        vpos = v > 0
        v_safe = d.where(vpos, v, 1.0)
        accept = vpos & (d.log(u) < 0.5 * x * x + dd - dd * v_safe + dd * d.log(v_safe))
        new = accept & ~done
        out = d.where(new, dd * v_safe, out)
        done = done | accept
        if bool(done.all()):
            break
    else:
        raise RuntimeError("Gamma sampling: rejection loop did not finish (concentration NaN or 0?)")
    u = _uniform01(shape, dtype, device)
    boost = d.where(small, u.pow(1.0 / alpha), 1.0)
    return out * boost


def _gammainc_raw(a, x, iters=300):
    """Regularized lower incomplete gamma P(a, x) elementwise, without gradient: the power series for x < a + 1,
    else 1 - Q(a, x) by Lentz's continued fraction (Numerical Recipes' gser/gcf, run a fixed number of rounds)."""
    d = _d()
    with d.no_grad():
        a, x = d.broadcast_tensors(a, x)
        out_dtype = a.dtype
        a, x = a.to(d.float64), x.to(d.float64)  # computed in float64, rounded to the input dtype
        tiny = 1e-300
        use_series = x < a + 1
        xs = d.where(use_series, x, 0.0)
        xc = d.where(use_series, a + 2, x)
        # series: sum_n x^n / (a (a+1) ... (a+n))
        term = 1.0 / a
        total = term
        ap = a
        for _ in range(iters):
            ap = ap + 1
            term = term * xs / ap
            total = total + term
        p_series = total * d.exp(-xs + a * d.log(xs) - d.lgamma(a))
        # continued fraction for Q
        b = xc + 1 - a
        c = d.full_like(xc, 1.0 / tiny)
        dd = 1.0 / b
        h = dd
        for i in range(1, iters + 1):
            an = -i * (i - a)
            b = b + 2
            dd = an * dd + b
            dd = d.where(dd.abs() < tiny, tiny, dd)
            c = b + an / c
            c = d.where(c.abs() < tiny, tiny, c)
            dd = 1.0 / dd
            h = h * dd * c
        q_cf = d.exp(-xc + a * d.log(xc) - d.lgamma(a)) * h
        return d.where(use_series, p_series, 1.0 - q_cf).to(out_dtype)


def _gammainc_function():
    from ..autograd import Function

    class _GammaInc(Function):
        @staticmethod
        def forward(ctx, a, x):
            ctx.save_for_backward(a, x)
            return _gammainc_raw(a, x)

        @staticmethod
        def backward(ctx, g):
            d = _d()
            a, x = ctx.saved_tensors
            if ctx.needs_input_grad[0]:
                raise NotImplementedError("Gamma.cdf: the derivative with respect to concentration is not "
                                          "implemented (as torch's igamma)")
            gx = None
            if ctx.needs_input_grad[1]:
                gx = g * d.exp(-x + (a - 1) * d.log(x) - d.lgamma(a))
            return None, gx

    return _GammaInc


_GAMMAINC = []


def _gammainc(a, x):
    if not _GAMMAINC:
        _GAMMAINC.append(_gammainc_function())
    a, x = _d().broadcast_tensors(a, x)
    return _GAMMAINC[0].apply(a, x)


def _standard_gamma_grad(alpha, z):
    """dz/dalpha of a Gamma(alpha, 1) sample z at fixed CDF value (implicit reparameterization):
    -(dP/dalpha)(alpha, z) / pdf(z; alpha), dP/dalpha by central differences of P in float64; for z -> 0 the
    leading term of P's series, -z (log z - digamma(alpha + 1)) / alpha."""
    d = _d()
    with d.no_grad():
        dtype = alpha.dtype
        a, x = alpha.to(d.float64), z.to(d.float64)
        h = 1e-5 * a.clamp(min=1e-3)
        dp = (_gammainc_raw(a + h, x) - _gammainc_raw(a - h, x)) / (2 * h)
        log_pdf = (a - 1) * d.log(x) - x - d.lgamma(a)
        numeric = -dp / d.exp(log_pdf)
        small = -x * (d.log(x) - d.digamma(a + 1)) / a
        return d.where(x < 1e-8, small, numeric).to(dtype)


def _gamma_rsample_function():
    from ..autograd import Function

    class _GammaRSample(Function):
        @staticmethod
        def forward(ctx, alpha):
            z = _standard_gamma(alpha).clamp(min=finfo(alpha.dtype).tiny)
            ctx.save_for_backward(alpha, z)
            return z

        @staticmethod
        def backward(ctx, g):
            alpha, z = ctx.saved_tensors
            return g * _standard_gamma_grad(alpha, z)

    return _GammaRSample


_GAMMA_RSAMPLE = []


def _rsample_standard_gamma(alpha):
    """Gamma(alpha, 1) samples carrying the implicit reparameterization gradient to alpha."""
    if not _GAMMA_RSAMPLE:
        _GAMMA_RSAMPLE.append(_gamma_rsample_function())
    return _GAMMA_RSAMPLE[0].apply(alpha.contiguous())


def _xlogy(x, y):
    return _d().special.xlogy(x, y)


class Gamma(ExponentialFamily):
    """Gamma(concentration, rate). log_prob / entropy / moments only: sampling is not implemented."""
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate.pow(2)

    def __init__(self, concentration, rate, validate_args=None):
        batch_shape = self._broadcast_params(concentration=concentration, rate=rate)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Gamma, batch_shape, _instance, params=("concentration", "rate"))

    def rsample(self, sample_shape=()):
        """Marsaglia-Tsang rejection sampling on dlcore's normal/uniform draws; the gradient to concentration is
        the implicit reparameterization one (as torch), the one to rate flows through value / rate."""
        shape = tuple(self._extended_shape(sample_shape))
        value = _rsample_standard_gamma(self.concentration.expand(shape)) / self.rate.expand(shape)
        return value.clamp(min=finfo(value.dtype).tiny)

    def log_prob(self, value):
        d = _d()
        if self._validate_args:
            self._validate_sample(value)
        return (_xlogy(self.concentration, self.rate) + _xlogy(self.concentration - 1, value)
                - self.rate * value - d.lgamma(self.concentration))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return _gammainc(self.concentration, self.rate * value)

    def entropy(self):
        d = _d()
        return (self.concentration - d.log(self.rate) + d.lgamma(self.concentration)
                + (1.0 - self.concentration) * d.digamma(self.concentration))

    @property
    def _natural_params(self):
        return (self.concentration - 1, -self.rate)

    def _log_normalizer(self, x, y):
        # theta = (alpha - 1, -beta): A = lgamma(alpha) - alpha log(beta)
        d = _d()
        return d.lgamma(x + 1) + (x + 1) * d.log(-y.reciprocal())


class Beta(ExponentialFamily):
    """Beta(concentration1, concentration0). log_prob / entropy / moments only: sampling is not implemented."""
    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        batch_shape = self._broadcast_params(_concentration1=concentration1, _concentration0=concentration0)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Beta, batch_shape, _instance, params=("_concentration1", "_concentration0"))

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        # torch: Dirichlet([c1, c0]).mode[..., 0]; when both concentrations are < 1 (density unbounded at 0 and at
        # 1) torch takes the argmax of [nan, nan], i.e. the first vertex: the mode is 1
        d = _d()
        c1m = (self.concentration1 - 1).clamp(min=0.0)
        c0m = (self.concentration0 - 1).clamp(min=0.0)
        mode = c1m / (c1m + c0m)
        both_small = (self.concentration1 < 1) & (self.concentration0 < 1)
        return d.where(both_small, 1.0, mode)

    @property
    def concentration1(self):
        return self._concentration1

    @property
    def concentration0(self):
        return self._concentration0

    @property
    def variance(self):
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape=()):
        """X / (X + Y) for X ~ Gamma(concentration1), Y ~ Gamma(concentration0), differentiable through the Gamma
        samples' implicit gradients (an unbiased pathwise gradient; torch differentiates the Beta CDF instead, so
        per-sample gradients differ while their expectations agree)."""
        shape = tuple(self._extended_shape(sample_shape))
        x = _rsample_standard_gamma(self.concentration1.expand(shape))
        y = _rsample_standard_gamma(self.concentration0.expand(shape))
        fi = finfo(x.dtype)
        return (x / (x + y)).clamp(min=fi.tiny, max=1 - fi.eps)

    def log_prob(self, value):
        d = _d()
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration1, self.concentration0
        # Dirichlet([a, b]).log_prob([x, 1 - x]) as torch computes it
        return ((_xlogy(a - 1.0, value) + _xlogy(b - 1.0, 1 - value))
                + d.lgamma(a + b) - (d.lgamma(a) + d.lgamma(b)))

    def entropy(self):
        d = _d()
        a, b = self.concentration1, self.concentration0
        a0 = a + b
        return ((d.lgamma(a) + d.lgamma(b)) - d.lgamma(a0) - (2 - a0) * d.digamma(a0)
                - ((a - 1.0) * d.digamma(a) + (b - 1.0) * d.digamma(b)))

    @property
    def _natural_params(self):
        return (self.concentration1, self.concentration0)

    def _log_normalizer(self, x, y):
        # log B(x, y) (the natural parameters are shifted by 1, which leaves Bregman divergences unchanged)
        d = _d()
        return d.lgamma(x) + d.lgamma(y) - d.lgamma(x + y)
