"""torch.nn.utils.get_total_norm / clip_grads_with_norm_: the two halves of clip_grad_norm_ (torch 2.6+), for
computing the norm once (e.g. across several parameter groups) and scaling the gradients by it."""
from __future__ import annotations

import math

from ... import _C
from ... import _ops
from ...autograd import no_grad

Tensor = _C.Tensor

__all__ = ["get_total_norm", "clip_grads_with_norm_"]


def _as_list(tensors, who, what):
    if isinstance(tensors, Tensor):
        return [tensors]
    try:
        out = list(tensors)
    except TypeError:
        raise TypeError(f"{who}: {what} must be a dlcore.Tensor or an iterable of Tensors, got "
                        f"{type(tensors).__name__}") from None
    for i, t in enumerate(out):
        if not isinstance(t, Tensor):
            raise TypeError(f"{who}: element {i} of {what} is a {type(t).__name__}, not a dlcore.Tensor")
    return out


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of the norms of the given tensors (= the norm of all their elements as one vector), a 0-d tensor
    on the first tensor's device (0.0 for no tensors). norm_type: a p-norm, inf or -inf (max / min |x|), 0 (number
    of non-zeros). error_if_nonfinite: raise when the result is nan or inf."""
    tensors = _as_list(tensors, "get_total_norm", "tensors")
    norm_type = float(norm_type)
    if not tensors:
        return _C.zeros([], _C.dtype.float32, "cpu")
    with no_grad():
        first_device = tensors[0].device
        norms = [_ops.norm(t.detach(), norm_type) for t in tensors]
        dt = norms[0].dtype
        for n in norms[1:]:
            dt = _C.promote_types(dt, n.dtype)
        norms = [_C.to(n, dt, first_device, False) for n in norms]
        from ..._indexing import stack
        total = _ops.norm(stack(norms), norm_type)
    if error_if_nonfinite:
        v = float(total.item())
        if math.isnan(v) or math.isinf(v):
            raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                               "so it cannot be clipped. To disable this error and scale the gradients by the "
                               "non-finite norm anyway, set `error_if_nonfinite=False`")
    return total


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scales the gradients of parameters in place by min(1, max_norm / (total_norm + 1e-6)) (total_norm: e.g.
    from get_total_norm over their gradients)."""
    parameters = _as_list(parameters, "clip_grads_with_norm_", "parameters")
    grads = [p.grad for p in parameters if p.grad is not None]
    max_norm = float(max_norm)
    if not grads:
        return
    if isinstance(total_norm, Tensor):
        tn = float(total_norm.item())
    else:
        tn = float(total_norm)
    coef = max_norm / (tn + 1e-6)
    coef = coef if math.isnan(coef) else min(coef, 1.0)
    with no_grad():
        for g in grads:
            _C.mul_(g, coef)
