"""Rprop (resilient backpropagation: sign-based, one step size per element; etas, step_sizes, maximize), one fused
native call per group."""
from __future__ import annotations

from .. import _C
from .adamax import _check_unsupported
from .optimizer import Optimizer, _check_nonnegative

__all__ = ["Rprop"]


class Rprop(Optimizer):
    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False, foreach=None,
                 maximize=False, differentiable=False):
        _check_nonnegative(lr=lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        _check_unsupported("Rprop", capturable, differentiable)
        defaults = dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _step_group(self, group, ps, gs):
        lr = float(group["lr"])
        sts, _ = self._param_states(ps, lambda p: {"prev": self._zeros_state(p),
                                                "step_size": _C.full(list(p.shape), lr, p.dtype, p.device)})
        prevs, sizes = self._gather(sts, "prev", "step_size")
        eta_minus, eta_plus = group["etas"]
        smin, smax = group["step_sizes"]
        self._fused_step(_C._rprop_step, ps, gs, prevs, sizes, float(eta_minus), float(eta_plus), float(smin),
                         float(smax), bool(group["maximize"]))
