"""Adafactor and Muon (torch.optim.Adafactor, torch.optim.Muon), written over dlcore tensor ops (no fused native
kernel): each step follows torch's single-tensor implementation op for op, so float32 runs round as torch's do
(up to the summation order of the norms and matmuls).

Adafactor (Shazeer & Stern 2018, torch's variant): for step t, beta2_t = 1 - t^beta2_decay, rho_t = min(lr, 1/sqrt(t)),
alpha_t = max(eps2, RMS(param)) * rho_t; decoupled weight decay param *= 1 - lr * weight_decay; a parameter of >= 2
dims keeps factored second moments over its last two dims, row_var [..., R, 1] and col_var [..., 1, C] (EMAs of the
row / column means of g^2), and estimates V = row_var @ col_var / max(mean(row_var over rows), eps1); a vector (or
scalar) keeps the full EMA `variance`. update = g / sqrt(max(V, eps1^2)), clipped by max(1, RMS(update) / d), and
param -= alpha_t * update. eps1 None means the machine epsilon of the (first) parameter's dtype, as in torch.

Muon (Keller Jordan's, torch's): for 2-D parameters only. buf = lerp(buf, g, 1 - momentum); the update is
lerp(g, buf, momentum) (nesterov) or buf, orthogonalised by ns_steps quintic Newton-Schulz iterations
X <- a X + (b G + c G^2) X with G = X X^T, on X = update / max(||update||_F, eps) (transposed when it has more rows
than columns) in bfloat16 as torch does; param *= 1 - lr * weight_decay; param -= adjusted_lr * O, adjusted_lr =
lr * sqrt(max(1, A/B)) ("original", the default) or lr * 0.2 * sqrt(max(A, B)) ("match_rms_adamw"). The bfloat16
matmuls are computed in float32 and rounded to bfloat16 once per product (torch's CPU bfloat16 GEMM accumulates
in float32 too); results agree with torch's to bfloat16 rounding.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _C
from .optimizer import Optimizer

Tensor = _C.Tensor

__all__ = ["Adafactor", "Muon"]

_EPS = {_C.dtype.float32: 1.1920928955078125e-07, _C.dtype.float64: 2.220446049250313e-16,
        _C.dtype.float16: 0.0009765625, _C.dtype.bfloat16: 0.0078125}


def _scalar(v, name, opt):
    if isinstance(v, Tensor):
        if v.numel() != 1:
            raise ValueError(f"{opt}: Tensor {name} must be 1-element")
        return float(v.item())
    return v


def _check_params(opt, group, *, two_d=False):
    for p in group["params"]:
        if p.dtype.is_complex if hasattr(p.dtype, "is_complex") else False:
            raise RuntimeError(f"{opt} does not support complex parameters")
        if not p.dtype.is_floating_point:
            raise TypeError(f"{opt}: parameters must be floating point, got dtype {p.dtype.name}")
        if two_d and p.ndim != 2:
            raise ValueError(f"Muon only supports 2D parameters whereas we found a parameter with size: "
                             f"{list(p.shape)}")


class Adafactor(Optimizer):
    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 foreach=None, maximize=False):
        lr_v = _scalar(lr, "lr", "Adafactor")
        if not 0.0 <= lr_v:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        try:
            eps1, eps2 = eps
        except (TypeError, ValueError):
            raise ValueError(f"Adafactor: eps must be a pair (eps1 or None, eps2), got {eps!r}") from None
        if eps1 is not None and not 0.0 <= eps1:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps1}")
        if not 0.0 <= eps2:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps2}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=tuple(eps), d=d, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:
            _check_params("Adafactor", group)

    def _step_group(self, group, ps, gs):
        from ..autograd import no_grad
        lr = float(_scalar(group["lr"], "lr", "Adafactor"))
        beta2_decay = float(group["beta2_decay"])
        eps1, eps2 = group["eps"]
        d = float(group["d"])
        wd = float(group["weight_decay"])
        maximize = bool(group["maximize"])

        def init(p):
            if p.ndim > 1:
                row = list(p.shape)
                row[-1] = 1
                col = list(p.shape)
                col[-2] = 1
                return {"row_var": _C.zeros(row, p.dtype, p.device), "col_var": _C.zeros(col, p.dtype, p.device)}
            return {"variance": self._zeros_state(p)}

        with no_grad():
            sts, steps = self._param_states(ps, init)
            for p, g, st, step in zip(ps, gs, sts, steps):
                if g.is_sparse if hasattr(g, "is_sparse") else False:
                    raise RuntimeError("Adafactor does not support sparse gradients")
                if tuple(g.shape) != tuple(p.shape):
                    raise RuntimeError(f"Adafactor: gradient shape {list(g.shape)} does not match the parameter's "
                                       f"{list(p.shape)}")
                grad = g.neg() if maximize else g
                if eps1 is None:  # torch sets it from the first parameter's dtype and keeps it for the group
                    eps1 = _EPS.get(p.dtype, 1.1920928955078125e-07)
                t = float(step)
                one_minus_beta2_t = t ** beta2_decay
                rho_t = min(lr, 1 / (t ** 0.5))
                numel = p.numel()
                alpha = max(eps2, p.norm(2).item() / (numel ** 0.5)) * rho_t
                if wd != 0:
                    p.mul_(1 - lr * wd)
                if grad.ndim > 1:
                    row_var, col_var = st["row_var"], st["col_var"]
                    row_mean = grad.norm(2, dim=-1, keepdim=True).square_().div_(grad.shape[-1])
                    row_var.lerp_(row_mean, one_minus_beta2_t)
                    col_mean = grad.norm(2, dim=-2, keepdim=True).square_().div_(grad.shape[-2])
                    col_var.lerp_(col_mean, one_minus_beta2_t)
                    var_estimate = row_var @ col_var
                    var_estimate.div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1))
                else:
                    variance = st["variance"]
                    variance.lerp_(grad * grad, one_minus_beta2_t)
                    var_estimate = variance.clone()
                update = var_estimate.clamp_(min=eps1 * eps1).rsqrt_()
                update.mul_(grad)
                denom = max(1.0, update.norm(2).item() / ((update.numel() ** 0.5) * d))
                p.add_(update, alpha=-alpha / denom)


def _torch_lerp(start, end, weight):
    """start.lerp(end, weight) rounded as torch's vectorised CPU kernel: fma(coeff, end - start, base) with
    (coeff, base) = (weight, start) for |weight| < 0.5 else (weight - 1, end). float32 is evaluated in float64 and
    rounded once (the fused multiply-add); float64 without the fusion. Bitwise rounding matters here: Muon's
    bfloat16 Newton-Schulz iteration turns a 1-ulp difference in the update into bfloat16-sized ones."""
    w = float(weight)
    small = abs(w) < 0.5
    if start.dtype == _C.dtype.float32:
        coeff = float(np.float32(w) if small else np.float32(w) - np.float32(1.0))
        diff = (end - start).double()
        base = (start if small else end).double()
        return (base + diff * coeff).float()
    coeff = w if small else w - 1.0
    return (start if small else end) + (end - start) * coeff


def _torch_add_scaled_(p, u, alpha):
    """p.add_(u, alpha=alpha) rounded as torch's kernel (fma(u, alpha, p)) for float32 parameters."""
    if p.dtype == _C.dtype.float32:
        a = float(np.float32(alpha))
        p.copy_((p.double() + u.double() * a).float())
    else:
        p.add_(u.to(p.dtype), alpha=alpha)


def _bf16_mm(a, b):
    """a @ b of bfloat16 matrices as torch's CPU bfloat16 GEMM: products summed in float32, rounded once."""
    return (a.float() @ b.float()).bfloat16()


def _bf16_addmm(c, a, b, beta, alpha):
    """torch.addmm(c, a, b, beta=beta, alpha=alpha) in bfloat16: beta * c + alpha * (a @ b) in float32, rounded."""
    return (c.float() * beta + (a.float() @ b.float()) * alpha).bfloat16()


def _zeropower_via_newtonschulz(grad, ns_coefficients, ns_steps, eps):
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if grad.ndim != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = (float(v) for v in ns_coefficients)
    x = grad.bfloat16()
    tall = grad.shape[0] > grad.shape[1]
    if tall:
        x = x.T
    # the norm summed in float32 and rounded to bfloat16 once, the clamp and the division rounded to bfloat16 (as
    # torch's bfloat16 kernels compute them)
    n = x.float().norm().bfloat16().float().clamp(min=eps).bfloat16()
    x = (x.float() / n.float()).bfloat16()
    for _ in range(int(ns_steps)):
        gram = _bf16_mm(x, x.T)
        gram_update = _bf16_addmm(gram, gram, gram, b, c)
        x = _bf16_addmm(x, gram_update, x, a, 1.0)
    if tall:
        x = x.T
    return x


def _adjust_lr(lr, adjust_lr_fn, shape):
    a, b = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        ratio = math.sqrt(max(1, a / b))
    elif adjust_lr_fn == "match_rms_adamw":
        ratio = 0.2 * math.sqrt(max(a, b))
    else:
        ratio = 1.0
    return lr * ratio


class Muon(Optimizer):
    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None):
        lr_v = _scalar(lr, "lr", "Muon")
        if not 0.0 <= lr_v:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ("original", "match_rms_adamw"):
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn)
        super().__init__(params, defaults)
        for group in self.param_groups:
            _check_params("Muon", group, two_d=True)

    def _step_group(self, group, ps, gs):
        from ..autograd import no_grad
        lr = float(_scalar(group["lr"], "lr", "Muon"))
        wd = float(group["weight_decay"])
        momentum = float(group["momentum"])
        with no_grad():
            for p, g in zip(ps, gs):
                if g.ndim != 2:
                    raise ValueError(f"Muon: param gradient must be a 2D matrix, got shape {list(g.shape)}")
                st = self.state[p]
                if "momentum_buffer" not in st:
                    st["momentum_buffer"] = _C.zeros(list(g.shape), g.dtype, g.device)
                buf = st["momentum_buffer"]
                buf.copy_(_torch_lerp(buf, g, 1 - momentum))
                update = _torch_lerp(g, buf, momentum) if group["nesterov"] else buf
                update = _zeropower_via_newtonschulz(update, group["ns_coefficients"], group["ns_steps"],
                                                     float(group["eps"]))
                adjusted_lr = _adjust_lr(lr, group["adjust_lr_fn"], p.shape)
                p.mul_(1 - lr * wd)
                _torch_add_scaled_(p, update, -adjusted_lr)
