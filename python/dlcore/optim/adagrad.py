"""Adagrad (lr_decay, initial_accumulator_value, maximize), one fused native call per group."""
from __future__ import annotations

from .. import _C
from .optimizer import Optimizer, _check_nonnegative, _refuse_capture
from .adamax import _check_unsupported

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_nonnegative(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                           initial_accumulator_value=initial_accumulator_value, eps=eps)
        _check_unsupported("Adagrad", False, differentiable)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:  # torch creates Adagrad's state at construction
            self._states(group, group["params"], count=False)

    def _states(self, group, ps, count=True):
        value = float(group["initial_accumulator_value"])
        return self._param_states(ps, lambda p: {"sum": _C.full(list(p.shape), value, p.dtype, p.device)},
                                  count=count, needs="sum")

    def step(self, closure=None):
        _refuse_capture(self)
        return super().step(closure)

    def _step_group(self, group, ps, gs):
        sts, steps = self._states(group, ps)
        (sums,) = self._gather(sts, "sum")
        self._fused_step(_C._adagrad_step, ps, gs, sums, steps, float(group["lr"]), float(group["lr_decay"]),
                         float(group["weight_decay"]), float(group["eps"]), bool(group["maximize"]))
