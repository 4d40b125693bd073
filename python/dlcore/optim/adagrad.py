"""Adagrad (lr_decay, initial_accumulator_value, maximize), one fused native call per group."""
from __future__ import annotations

from .. import _C
from .optimizer import Optimizer, _check_nonnegative, _closure_loss, _refuse_capture

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_nonnegative(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                           initial_accumulator_value=initial_accumulator_value, eps=eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state[p]
                st["step"] = 0
                st["sum"] = _C.full(list(p.shape), float(group["initial_accumulator_value"]), p.dtype, p.device)

    def step(self, closure=None):
        _refuse_capture(self)
        loss = _closure_loss(closure)
        state = self.state
        for group in self.param_groups:
            ps, gs = self._grads(group)
            if not ps:
                continue
            sums, steps = [], []
            for p in ps:
                st = state[p]
                if "sum" not in st:
                    st["step"] = 0
                    st["sum"] = _C.full(list(p.shape), float(group["initial_accumulator_value"]), p.dtype, p.device)
                st["step"] = s = int(st["step"]) + 1
                steps.append(s)
                sums.append(st["sum"])
            kps, back = self._kernel_params(ps)
            _C._adagrad_step(kps, gs, sums, steps, float(group["lr"]), float(group["lr_decay"]),
                             float(group["weight_decay"]), float(group["eps"]), bool(group["maximize"]))
            self._write_back(back)
        return loss
