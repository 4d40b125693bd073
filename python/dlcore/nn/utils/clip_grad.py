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
        if norm_type == math.inf:
            norms = [_C.amax(_C.abs(g), None, False) for g in grads]
            total = norms[0] if len(norms) == 1 else _C.amax(_C.stack(norms, 0), None, False) \
                if hasattr(_C, "stack") else _max_of(norms)
        else:
            parts = [_C.sum(_C.pow_scalar(_C.abs(_C.to(g, _C.dtype.float64, None, False)), norm_type), None, False)
                     if norm_type != 2.0 else _C.sum(_C.mul(g, g), None, False) for g in grads]
            acc = 0.0
            for p in parts:
                acc += float(p.item())
            total_f = acc ** (1.0 / norm_type)
            total = _C.full([], total_f, grads[0].dtype, grads[0].device)
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


def _max_of(norms):
    best = norms[0]
    for n in norms[1:]:
        best = _C.maximum(best, n)
    return best


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamps every gradient element to [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            _C.clamp_(g, -clip_value, clip_value)
