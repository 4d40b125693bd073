"""Adadelta (rho, eps, lr, weight_decay, maximize), one fused native call per group."""
from __future__ import annotations

from .. import _C
from .adamax import _check_unsupported
from .optimizer import Optimizer, _check_nonnegative

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        _check_nonnegative(lr=lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_nonnegative(eps=eps, weight_decay=weight_decay)
        _check_unsupported("Adadelta", capturable, differentiable)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize, capturable=capturable,
                        foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _step_group(self, group, ps, gs):
        sts, _ = self._param_states(ps, lambda p: self._zeros_states(p, "square_avg", "acc_delta"))
        sqs, accs = self._gather(sts, "square_avg", "acc_delta")
        self._fused_step(_C._adadelta_step, ps, gs, sqs, accs, float(group["lr"]), float(group["rho"]),
                         float(group["eps"]), float(group["weight_decay"]), bool(group["maximize"]))
