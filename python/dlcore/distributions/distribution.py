"""Distribution: the base class (torch.distributions.Distribution)."""
from __future__ import annotations

import numbers
import warnings

from .. import _C
from . import constraints
from .utils import broadcast_all, lazy_property

__all__ = ["Distribution"]


def _size(shape):
    from .._tensor import Size
    return Size(tuple(int(s) for s in shape))


def _all_true(t):
    return bool(t.all())


class Distribution:
    """Abstract base class for probability distributions (torch.distributions.Distribution).

    Subclasses set arg_constraints, support, has_rsample and implement the methods they support; parameters and
    log_prob's value are validated like torch (ValueError) when validate_args is on (default: __debug__)."""

    has_rsample = False
    has_enumerate_support = False
    _validate_args = __debug__

    @staticmethod
    def set_default_validate_args(value):
        if value not in [True, False]:
            raise ValueError("set_default_validate_args: value must be True or False")
        Distribution._validate_args = value

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape = _size(batch_shape)
        self._event_shape = _size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            try:
                arg_constraints = self.arg_constraints
            except NotImplementedError:
                arg_constraints = {}
                warnings.warn(f"{self.__class__} does not define `arg_constraints`. Please set `arg_constraints = {{}}`"
                              " or initialize the distribution with `validate_args=False` to turn off validation.")
            for param, constraint in arg_constraints.items():
                if constraints.is_dependent(constraint):
                    continue  # skip constraints that cannot be checked
                if param not in self.__dict__ and isinstance(getattr(type(self), param), lazy_property):
                    continue  # skip checking lazily-constructed args
                value = getattr(self, param)
                valid = constraint.check(value)
                if not _all_true(valid):
                    raise ValueError(
                        f"Expected parameter {param} (Tensor of shape {tuple(value.shape)}) of distribution "
                        f"{repr(self)} to satisfy the constraint {repr(constraint)}, "
                        f"but found invalid values:\n{value}")
        super().__init__()

    def expand(self, batch_shape, _instance=None):
        raise NotImplementedError

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    @property
    def arg_constraints(self):
        raise NotImplementedError

    @property
    def support(self):
        raise NotImplementedError

    @property
    def mean(self):
        raise NotImplementedError(f"{self.__class__} does not implement mean")

    @property
    def mode(self):
        raise NotImplementedError(f"{self.__class__} does not implement mode")

    @property
    def variance(self):
        raise NotImplementedError(f"{self.__class__} does not implement variance")

    @property
    def stddev(self):
        return self.variance.sqrt()

    def sample(self, sample_shape=()):
        """Draw a sample of shape sample_shape + batch_shape + event_shape, without gradient."""
        from .. import no_grad
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()):
        """A reparameterized sample (differentiable w.r.t. the parameters)."""
        raise NotImplementedError(f"{self.__class__.__name__} does not implement rsample")

    def sample_n(self, n):
        warnings.warn("sample_n will be deprecated. Use .sample((n,)) instead", UserWarning)
        return self.sample((n,))

    def log_prob(self, value):
        raise NotImplementedError

    def cdf(self, value):
        raise NotImplementedError

    def icdf(self, value):
        raise NotImplementedError

    def enumerate_support(self, expand=True):
        raise NotImplementedError

    def entropy(self):
        raise NotImplementedError

    def perplexity(self):
        return self.entropy().exp()

    def _extended_shape(self, sample_shape=()):
        if isinstance(sample_shape, int):
            sample_shape = (sample_shape,)
        return _size(tuple(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape))

    def _validate_sample(self, value):
        if not isinstance(value, _C.Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        event_dim_start = value.dim() - len(self._event_shape)
        if tuple(value.shape[event_dim_start:]) != tuple(self._event_shape):
            raise ValueError(f"The right-most size of value must match event_shape: {value.shape} vs "
                             f"{self._event_shape}.")
        actual_shape = tuple(value.shape)
        expected_shape = tuple(self._batch_shape) + tuple(self._event_shape)
        for i, j in zip(reversed(actual_shape), reversed(expected_shape)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: {_size(actual_shape)} vs "
                                 f"{_size(expected_shape)}.")
        try:
            support = self.support
        except NotImplementedError:
            warnings.warn(f"{self.__class__} does not define `support` to enable sample validation. Please "
                          "initialize the distribution with `validate_args=False` to turn off validation.")
            return
        assert support is not None
        valid = support.check(value)
        if not _all_true(valid):
            raise ValueError(
                "Expected value argument "
                f"({type(value).__name__} of shape {tuple(value.shape)}) "
                f"to be within the support ({repr(support)}) "
                f"of the distribution {repr(self)}, "
                f"but found invalid values:\n{value}")

    def _get_checked_instance(self, cls, _instance=None):
        if _instance is None and type(self).__init__ != cls.__init__:
            raise NotImplementedError(f"Subclass {self.__class__.__name__} of {cls.__name__} that defines a custom "
                                      "__init__ method must also define a custom .expand() method.")
        return self.__new__(type(self)) if _instance is None else _instance

    def _broadcast_params(self, **params):
        """Broadcast the named parameters (tensors or numbers) with broadcast_all and set them as attributes, in
        order; returns the batch shape: () when all are numbers, else the broadcast shape."""
        values = broadcast_all(*params.values())
        for name, value in zip(params, values):
            setattr(self, name, value)
        return () if all(isinstance(v, numbers.Number) for v in params.values()) else values[0].shape

    def _broadcast_probs_or_logits(self, probs, logits, **others):
        """_broadcast_params(**others, probs=probs) or (..., logits=logits), exactly one of probs / logits given;
        returns (that parameter's tensor, batch shape)."""
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        name, value = ("probs", probs) if probs is not None else ("logits", logits)
        batch_shape = self._broadcast_params(**others, **{name: value})
        return getattr(self, name), batch_shape

    def _expand_params(self, cls, batch_shape, _instance=None, params=(), param_tail=(), copy=(), dists=()):
        """The body of a parameterised distribution's expand(): a checked new instance of cls with each attribute in
        params expanded to batch_shape + param_tail (a lazy probs / logits only where computed), an `_param` alias
        re-pointed at the expanded logits (else probs) where self has one, the attributes in copy shared, the
        sub-distributions in dists expanded to batch_shape, and self's event shape and validation flag."""
        new = self._get_checked_instance(cls, _instance)
        batch_shape = _size(batch_shape)
        shape = tuple(batch_shape) + tuple(param_tail)
        for name in params:
            if name in self.__dict__ or not isinstance(getattr(type(self), name, None), lazy_property):
                setattr(new, name, getattr(self, name).expand(shape))
        if "_param" in self.__dict__:
            new._param = new.logits if "logits" in new.__dict__ else new.probs
        for name in copy:
            setattr(new, name, getattr(self, name))
        for name in dists:
            setattr(new, name, getattr(self, name).expand(batch_shape))
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def __repr__(self):
        param_names = [k for k, _ in self.arg_constraints.items() if k in self.__dict__]
        args_string = ", ".join(
            f"{p}: {self.__dict__[p] if self.__dict__[p].numel() == 1 else self.__dict__[p].shape}"
            for p in param_names)
        return self.__class__.__name__ + "(" + args_string + ")"


class _LocMeanMode:
    """Mixin: mean and mode are the location parameter (self.loc)."""

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc


class ExponentialFamily(Distribution):
    """Base of exponential-family distributions, p(x) = exp(<t(x), theta> - A(theta) + k(x)) (torch's
    ExponentialFamily): subclasses give the natural parameters theta (_natural_params), the log normalizer A
    (_log_normalizer) and E[k(x)] (_mean_carrier_measure); entropy() and the generic kl_divergence of two members of
    the same family then follow from the Bregman divergence of A, through dlcore's autograd."""

    @property
    def _natural_params(self):
        raise NotImplementedError

    def _log_normalizer(self, *natural_params):
        raise NotImplementedError

    @property
    def _mean_carrier_measure(self):
        raise NotImplementedError

    def entropy(self):
        """-E[log p] = A(theta) - <theta, grad A(theta)> - E[k(x)]."""
        from .. import autograd
        result = -self._mean_carrier_measure
        nparams = [p.detach().requires_grad_() for p in self._natural_params]
        lg_normal = self._log_normalizer(*nparams)
        gradients = autograd.grad(lg_normal.sum(), nparams, create_graph=True)
        result = result + lg_normal
        for np_, g in zip(nparams, gradients):
            result = result - (np_ * g).reshape(tuple(self._batch_shape) + (-1,)).sum(-1)
        return result
