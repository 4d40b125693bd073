"""RMSprop (momentum, centered, maximize), one fused native call per group."""
from __future__ import annotations

from .optimizer import Optimizer, _check_nonnegative
from .adamax import _check_unsupported
from .. import _C

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check_nonnegative(lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        _check_unsupported("RMSprop", capturable, differentiable)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered, weight_decay=weight_decay,
                        capturable=capturable, foreach=foreach, maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _step_group(self, group, ps, gs):
        centered = group["centered"]
        momentum = group["momentum"]
        # the optional buffers: created with the state (in this order), or later if the group's flags changed
        optional = (["momentum_buffer"] if momentum > 0 else []) + (["grad_avg"] if centered else [])
        sts, _ = self._param_states(ps, lambda p: self._zeros_states(p, "square_avg", *optional))
        for p, st in zip(ps, sts):
            for name in reversed(optional):
                if name not in st:
                    st[name] = self._zeros_state(p)
        (sqs,) = self._gather(sts, "square_avg")
        gas = self._gather(sts, "grad_avg")[0] if centered else None
        bufs = self._gather(sts, "momentum_buffer")[0] if momentum > 0 else None
        self._fused_step(_C._rmsprop_step, ps, gs, sqs, gas, bufs, float(group["lr"]), float(group["alpha"]),
                         float(group["eps"]), float(group["weight_decay"]), float(momentum), bool(centered),
                         bool(group["maximize"]))
