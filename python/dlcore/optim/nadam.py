"""NAdam (Adam with Nesterov momentum; momentum_decay, decoupled_weight_decay), one fused native call per group."""
from __future__ import annotations

import struct

from .. import _C
from .adamax import _check_betas, _check_unsupported
from .optimizer import Optimizer, _check_nonnegative, _refuse_capture

__all__ = ["NAdam"]


def _scalar_state(x):
    """A scalar state value (NAdam's mu_product, ASGD's eta and mu) rounded to the dtype torch keeps it in: a 0-d
    tensor of the default dtype (float32 unless the default is float64), so the updates match torch's bit for bit
    in the scalars."""
    x = float(x.item() if hasattr(x, "item") else x)
    from .. import get_default_dtype, float64
    if get_default_dtype() == float64:
        return x
    return struct.unpack("f", struct.pack("f", x))[0]


class NAdam(Optimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        _check_nonnegative(lr=lr, eps=eps)
        _check_betas(betas)
        _check_nonnegative(weight_decay=weight_decay, momentum_decay=momentum_decay)
        _check_unsupported("NAdam", capturable, differentiable)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _step_group(self, group, ps, gs):
        _refuse_capture(self)
        b1, b2 = group["betas"]
        md = float(group["momentum_decay"])
        sts, steps = self._param_states(ps, lambda p: {"mu_product": 1.0,
                                                       **self._zeros_states(p, "exp_avg", "exp_avg_sq")})
        prods = []
        for st, s in zip(sts, steps):
            # mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay)) (the kernel recomputes mu_t and mu_{t+1})
            mu = b1 * (1.0 - 0.5 * (0.96 ** (float(s) * md)))
            st["mu_product"] = prod = _scalar_state(_scalar_state(st["mu_product"]) * _scalar_state(mu))
            prods.append(prod)
        ms, vs = self._gather(sts, "exp_avg", "exp_avg_sq")
        self._fused_step(_C._nadam_step, ps, gs, ms, vs, steps, prods, float(group["lr"]), float(b1), float(b2),
                         float(group["eps"]), float(group["weight_decay"]), md,
                         bool(group["decoupled_weight_decay"]), bool(group["maximize"]))
