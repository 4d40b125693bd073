"""SGD with momentum, dampening, Nesterov, weight decay and maximize (one fused native call per group)."""
from __future__ import annotations

from .. import _C
from .optimizer import Optimizer, required
from .adamax import _check_unsupported

__all__ = ["SGD"]


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        if lr is not required and lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        _check_unsupported("SGD", False, differentiable)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        super().__init__(params, defaults)

    def _step_group(self, group, ps, gs):
        momentum = group["momentum"]
        bufs = first = None
        if momentum != 0:  # SGD keeps no step count: a missing buffer is filled by the kernel from the gradient
            bufs, first = [], []
            for p in ps:
                st = self.state[p]
                first.append(st.get("momentum_buffer") is None)
                if first[-1]:
                    st["momentum_buffer"] = _C.empty(list(p.shape), p.dtype, p.device)
                bufs.append(st["momentum_buffer"])
        self._fused_step(_C._sgd_step, ps, gs, bufs, first or [], float(group["lr"]), float(momentum),
                         float(group["dampening"]), float(group["weight_decay"]), bool(group["nesterov"]),
                         bool(group["maximize"]))
