"""Adam and AdamW (amsgrad, maximize), one fused native call per group."""
from __future__ import annotations

from .. import _C

Tensor = _C.Tensor
from .optimizer import Optimizer, _check_nonnegative, _refuse_capture
from .adamax import _check_unsupported

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        _check_nonnegative(lr=lr, eps=eps)
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        _check_nonnegative(weight_decay=weight_decay)
        if not ((isinstance(betas[0], float) and isinstance(betas[1], float))
                or (isinstance(betas[0], Tensor) and isinstance(betas[1], Tensor))):
            raise ValueError("betas must be either both floats or both Tensors")  # (torch's check)
        for i, b in enumerate(betas[:2]):
            if isinstance(b, Tensor) and b.numel() != 1:
                raise ValueError(f"Tensor betas[{i}] must be 1-element")
        betas = tuple(float(b.item()) if isinstance(b, Tensor) else b for b in betas)
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        _check_unsupported(type(self).__name__, False, differentiable)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable, differentiable=differentiable,
                        fused=fused, decoupled_weight_decay=bool(decoupled_weight_decay or self._decoupled))
        super().__init__(params, defaults)

    def _is_decoupled(self, group):
        # torch 2.x: Adam(decoupled_weight_decay=True) is AdamW; AdamW is always decoupled (its __setstate__)
        return bool(self._decoupled or group.get("decoupled_weight_decay", False))

    def _step_group(self, group, ps, gs):
        if group.get("capturable") and ps[0].device.type == "cuda":
            self._step_capturable(group, ps, gs)
            return
        _refuse_capture(self)
        amsgrad = group["amsgrad"]
        sts, steps = self._param_states(ps, lambda p: self._zeros_states(p, "exp_avg", "exp_avg_sq"))
        vmaxs = self._amsgrad_buffers(ps, sts) if amsgrad else None
        ms, vs = self._gather(sts, "exp_avg", "exp_avg_sq")
        b1, b2 = group["betas"]
        self._fused_step(_C._adam_step, ps, gs, ms, vs, vmaxs, steps, float(group["lr"]), float(b1), float(b2),
                         float(group["eps"]), float(group["weight_decay"]), bool(amsgrad),
                         bool(group["maximize"]), self._is_decoupled(group))

    def _amsgrad_buffers(self, ps, sts):
        """Each parameter's max_exp_avg_sq (zeros when the state has none yet)."""
        for p, st in zip(ps, sts):
            if "max_exp_avg_sq" not in st:
                st["max_exp_avg_sq"] = self._zeros_state(p)
        return [st["max_exp_avg_sq"] for st in sts]

    def _step_capturable(self, group, ps, gs):
        """capturable=True on cuda (torch's flag): each parameter's step is a 0-d device tensor, incremented on the
        device, and the kernel computes the bias corrections from it, so the step can be captured in a CUDA graph
        (state_dict() then holds the step as a tensor, as torch's does)."""
        from .. import no_grad
        amsgrad = group["amsgrad"]
        sts, _ = self._param_states(ps, lambda p: self._zeros_states(p, "exp_avg", "exp_avg_sq"), count=False)
        steps = []
        for p, st in zip(ps, sts):
            s = st["step"]
            sdt = _C.dtype.float32 if p.dtype in (_C.dtype.float16, _C.dtype.bfloat16) else p.dtype  # exact counts
            if not isinstance(s, Tensor) or s.dtype != sdt or s.device != p.device:
                s = st["step"] = _C.full([], float(s.item() if isinstance(s, Tensor) else s), sdt, p.device)
            with no_grad():
                s.add_(1)
            steps.append(s)
        vmaxs = self._amsgrad_buffers(ps, sts) if amsgrad else None
        ms, vs = self._gather(sts, "exp_avg", "exp_avg_sq")
        b1, b2 = group["betas"]
        self._fused_step(_C._adam_step_capturable, ps, gs, ms, vs, vmaxs, steps, float(group["lr"]), float(b1),
                         float(b2), float(group["eps"]), float(group["weight_decay"]), bool(amsgrad),
                         bool(group["maximize"]), self._is_decoupled(group))


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr*weight_decay before the Adam update."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, foreach=foreach,
                         capturable=capturable, differentiable=differentiable, fused=fused)
