"""RAdam (rectified Adam; decoupled_weight_decay), one fused native call per group. The variance rectification is
applied once rho_t > 5, before that the step is bias-corrected momentum SGD (as torch)."""
from __future__ import annotations

from .. import _C
from .adamax import _check_betas, _check_unsupported
from .optimizer import Optimizer, _check_nonnegative, _refuse_capture

__all__ = ["RAdam"]


class RAdam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        _check_nonnegative(lr=lr, eps=eps)
        _check_betas(betas)
        _check_nonnegative(weight_decay=weight_decay)
        _check_unsupported("RAdam", capturable, differentiable)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _step_group(self, group, ps, gs):
        _refuse_capture(self)
        sts, steps = self._param_states(ps, lambda p: self._zeros_states(p, "exp_avg", "exp_avg_sq"))
        ms, vs = self._gather(sts, "exp_avg", "exp_avg_sq")
        b1, b2 = group["betas"]
        self._fused_step(_C._radam_step, ps, gs, ms, vs, steps, float(group["lr"]), float(b1), float(b2),
                         float(group["eps"]), float(group["weight_decay"]), bool(group["decoupled_weight_decay"]),
                         bool(group["maximize"]))
