"""Helpers shared by the distributions (torch.distributions.utils)."""
from __future__ import annotations

import numbers

from .. import _C

__all__ = ["broadcast_all", "clamp_probs", "lazy_property", "logits_to_probs", "probs_to_logits", "finfo"]


class _FInfo:
    def __init__(self, eps, tiny, max_):
        self.eps, self.tiny, self.max, self.min = eps, tiny, max_, -max_


_FINFO = {
    "float64": _FInfo(2.220446049250313e-16, 2.2250738585072014e-308, 1.7976931348623157e308),
    "float32": _FInfo(1.1920928955078125e-07, 1.1754943508222875e-38, 3.4028234663852886e38),
    "float16": _FInfo(0.0009765625, 6.103515625e-05, 65504.0),
    "bfloat16": _FInfo(0.0078125, 1.1754943508222875e-38, 3.3895313892515355e38),
}


def finfo(dtype):
    """eps / tiny / max / min of a floating dtype (torch.finfo's fields used by the distributions)."""
    try:
        return _FINFO[dtype.name]
    except KeyError:
        raise TypeError(f"distributions: finfo needs a floating dtype, got {dtype}") from None


def _is_tensor(x):
    return isinstance(x, _C.Tensor)


def broadcast_all(*values):
    """Broadcast tensors and numbers to one shape; numbers become tensors of the first tensor's dtype/device (or the
    default dtype), as torch.distributions.utils.broadcast_all."""
    from .. import tensor, get_default_dtype, broadcast_tensors
    if not all(_is_tensor(v) or isinstance(v, numbers.Number) for v in values):
        raise ValueError("Input arguments must all be instances of numbers.Number, dlcore.Tensor or objects "
                         "implementing __torch_function__.")
    if not all(_is_tensor(v) for v in values):
        ref = next((v for v in values if _is_tensor(v)), None)
        dtype = ref.dtype if ref is not None else get_default_dtype()
        device = ref.device if ref is not None else None
        values = [v if _is_tensor(v) else tensor(float(v), dtype=dtype, device=device) for v in values]
    return tuple(broadcast_tensors(*values))


def _sum_rightmost(value, dim):
    """Sum out the dim rightmost dimensions of value."""
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[:-dim]) + (-1,)).sum(-1)


def clamp_probs(probs):
    eps = finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def logits_to_probs(logits, is_binary=False):
    from .. import sigmoid, softmax
    if is_binary:
        return sigmoid(logits)
    return softmax(logits, dim=-1)


def probs_to_logits(probs, is_binary=False):
    from .. import log, log1p
    ps_clamped = clamp_probs(probs)
    if is_binary:
        return log(ps_clamped) - log1p(-ps_clamped)
    return log(ps_clamped)


class lazy_property:
    """A property computed on first access and cached in the instance __dict__ (torch's lazy_property)."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__
        self.__name__ = wrapped.__name__

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return self
        value = self.wrapped(instance)
        instance.__dict__[self.wrapped.__name__] = value
        return value


def _standard_normal(shape, dtype, device, generator=None):
    from .. import randn, no_grad
    with no_grad():
        return randn(tuple(shape), generator=generator, dtype=dtype, device=device)


def _uniform01(shape, dtype, device, generator=None):
    from .. import rand, no_grad
    with no_grad():
        return rand(tuple(shape), generator=generator, dtype=dtype, device=device)


class _BinaryProbsLogits:
    """Mixin: probs and logits of a binary (sigmoid) parameterisation, each derived lazily from the other."""

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)


class _BinaryParams(_BinaryProbsLogits):
    """_BinaryProbsLogits with param_shape, the shape of the given parameter (self._param)."""

    @property
    def param_shape(self):
        return self._param.shape


class _CategoricalParams:
    """Mixin: probs, logits and param_shape of a distribution built on a Categorical (self._categorical)."""

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def param_shape(self):
        return self._categorical.param_shape
