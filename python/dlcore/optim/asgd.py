"""ASGD (averaged SGD; lambd, alpha, t0, weight_decay, maximize), one fused native call per group. As torch's
single-tensor path: each parameter keeps eta (its step size) and mu (its averaging rate) as scalars, used by this
step and then advanced from the step count; ax is the running average of the parameter."""
from __future__ import annotations

from .. import _C
from .adamax import _check_unsupported
from .nadam import _scalar_state
from .optimizer import Optimizer, _check_nonnegative, _refuse_capture

__all__ = ["ASGD"]


class ASGD(Optimizer):
    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                 maximize=False, differentiable=False, capturable=False):
        _check_nonnegative(lr=lr, weight_decay=weight_decay)
        _check_unsupported("ASGD", capturable, differentiable)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _step_group(self, group, ps, gs):
        _refuse_capture(self)
        lr, lambd, alpha, t0 = (float(group[k]) for k in ("lr", "lambd", "alpha", "t0"))
        sts, _ = self._param_states(ps, lambda p: {"eta": _scalar_state(lr), "mu": 1.0,
                                                   "ax": self._zeros_state(p)}, count=False)
        etas = [_scalar_state(st["eta"]) for st in sts]
        mus = [_scalar_state(st["mu"]) for st in sts]
        (axs,) = self._gather(sts, "ax")
        self._fused_step(_C._asgd_step, ps, gs, axs, etas, mus, lambd, float(group["weight_decay"]),
                         bool(group["maximize"]))
        for st in sts:  # advance eta and mu from the new step count (torch's formulas)
            st["step"] = s = int(st["step"]) + 1
            st["eta"] = _scalar_state(lr / ((1 + lambd * lr * s) ** alpha))
            st["mu"] = _scalar_state(1 / max(1, s - t0))
