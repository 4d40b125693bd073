"""RMSprop (momentum, centered, maximize), one fused native call per group."""
from __future__ import annotations

from .optimizer import Optimizer, _check_nonnegative, _closure_loss
from .. import _C

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check_nonnegative(lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered, weight_decay=weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = _closure_loss(closure)
        state = self.state
        for group in self.param_groups:
            ps, gs = self._grads(group)
            if not ps:
                continue
            centered = group["centered"]
            momentum = group["momentum"]
            sqs = []
            gas = [] if centered else None
            bufs = [] if momentum > 0 else None
            for p in ps:
                st = state[p]
                if not st:
                    st["step"] = 0
                    st["square_avg"] = self._zeros_state(p)
                    if momentum > 0:
                        st["momentum_buffer"] = self._zeros_state(p)
                    if centered:
                        st["grad_avg"] = self._zeros_state(p)
                st["step"] = int(st["step"]) + 1
                sqs.append(st["square_avg"])
                if centered:
                    if "grad_avg" not in st:
                        st["grad_avg"] = self._zeros_state(p)
                    gas.append(st["grad_avg"])
                if momentum > 0:
                    if "momentum_buffer" not in st:
                        st["momentum_buffer"] = self._zeros_state(p)
                    bufs.append(st["momentum_buffer"])
            kps, back = self._kernel_params(ps)
            _C._rmsprop_step(kps, gs, sqs, gas, bufs, float(group["lr"]), float(group["alpha"]), float(group["eps"]),
                             float(group["weight_decay"]), float(momentum), bool(centered), bool(group["maximize"]))
            self._write_back(back)
        return loss
