"""Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_)."""
from __future__ import annotations

import math

from ... import _C
from ...autograd import no_grad

Tensor = _C.Tensor


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scales the gradients in place so that their total norm (over all, as one vector) is at most max_norm.
    Returns the total norm (a 0-d tensor), computed before clipping."""
    grads = _grads(parameters)
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not grads:
        return _C.zeros([], _C.dtype.float32, "cpu")
    with no_grad():
        # the total norm as get_total_norm (torch's clip_grad_norm_: every norm type incl. 0 and -inf, each tensor's
        # norm in its dtype's accumulation (no float16 g * g overflow), the result in the promoted dtype)
        from .total_norm import get_total_norm
        total = get_total_norm(grads, norm_type)
        total_f = float(total.item())
        if error_if_nonfinite and (math.isnan(total_f) or math.isinf(total_f)):
            raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                               "so it cannot be clipped. To disable this error and scale the gradients by the "
                               "non-finite norm anyway, set `error_if_nonfinite=False`")
        coef = max_norm / (total_f + 1e-6)
        if coef < 1.0 or math.isnan(coef):
            for g in grads:
                _C.mul_(g, coef)
    return total


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamps every gradient element to [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            _C.clamp_(g, -clip_value, clip_value)
