"""Adamax (Adam with the infinity norm), one fused native call per group."""
from __future__ import annotations

from .. import _C
from .optimizer import Optimizer, _check_nonnegative, _refuse_capture

__all__ = ["Adamax"]


def _check_unsupported(name, capturable, differentiable):
    """torch's capturable/differentiable flags: accepted (and kept in the param groups, as torch keeps them) when
    False; the fused native step is neither differentiable nor graph-capturable, so True is refused."""
    if differentiable:
        raise ValueError(f"{name}: differentiable=True is not supported (the fused native step is not recorded by "
                         "autograd)")
    if capturable:
        raise ValueError(f"{name}: capturable=True is not supported (the step's scalars are computed on the host; "
                         "only Adam/AdamW support capture)")


def _check_betas(betas):
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")


class Adamax(Optimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        _check_nonnegative(lr=lr, eps=eps)
        _check_betas(betas)
        _check_nonnegative(weight_decay=weight_decay)
        _check_unsupported("Adamax", capturable, differentiable)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _step_group(self, group, ps, gs):
        _refuse_capture(self)
        sts, steps = self._param_states(ps, lambda p: self._zeros_states(p, "exp_avg", "exp_inf"))
        ms, us = self._gather(sts, "exp_avg", "exp_inf")
        b1, b2 = group["betas"]
        self._fused_step(_C._adamax_step, ps, gs, ms, us, steps, float(group["lr"]), float(b1), float(b2),
                         float(group["eps"]), float(group["weight_decay"]), bool(group["maximize"]))
