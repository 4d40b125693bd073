"""Weight normalisation, torch.nn.utils.weight_norm's hook API (https://arxiv.org/abs/1602.07868):
w = g * v / ||v||, the norm taken over every dim except ``dim`` (over all of them for dim=None).

weight_norm(module, name, dim) replaces the parameter ``name`` by ``name_g`` (the magnitude, shaped like w with 1 in
every dim but ``dim``; a 0-d tensor for dim=None) and ``name_v`` (the direction, w's shape), and recomputes
``module.<name>`` (a plain tensor attribute) from them before every forward through a forward pre-hook. torch
deprecates this API in favour of dlcore.nn.utils.parametrizations.weight_norm; both are provided."""
from __future__ import annotations

import warnings

from ... import _C
from ... import _ops
from ...autograd import no_grad
from ..parameter import Parameter

Tensor = _C.Tensor

__all__ = ["WeightNorm", "weight_norm", "remove_weight_norm", "norm_except_dim"]


def norm_except_dim(v, pow=2, dim=0):
    """torch.norm_except_dim: the p-norm of v over every dim except ``dim`` (kept as size-1 dims); dim=-1 means
    the norm of the whole tensor (a 0-d tensor)."""
    if not isinstance(v, Tensor):
        raise TypeError(f"norm_except_dim(): v must be a dlcore.Tensor, got {type(v).__name__}")
    if dim == -1:
        return _ops.norm(v, pow)
    nd = v.ndim
    if not -nd <= dim < nd:
        raise IndexError(f"norm_except_dim(): dim {dim} is out of range for a tensor of shape {list(v.shape)}")
    d = dim % nd
    dims = [i for i in range(nd) if i != d]
    if not dims:  # 1-D: the norm of each element
        return _ops.abs(v) if float(pow) != 0 else _ops.ne(v, 0).to(v.dtype)
    return _ops.norm(v, pow, dims, True)


def _weight_norm(v, g, dim=0):
    """torch._weight_norm: v * (g / norm_except_dim(v, 2, dim))."""
    return _ops.mul(v, _ops.div(g, norm_except_dim(v, 2, dim)))


class WeightNorm:
    """The forward pre-hook of weight_norm (recomputes the weight from ``<name>_g`` and ``<name>_v``)."""

    def __init__(self, name, dim):
        if dim is None:
            dim = -1
        self.name = name
        self.dim = dim

    def compute_weight(self, module):
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return _weight_norm(v, g, self.dim)

    @staticmethod
    def apply(module, name, dim):
        from .. import Module
        from ..lazy import is_lazy
        if not isinstance(module, Module):
            raise TypeError(f"weight_norm: module must be a dlcore.nn.Module, got {type(module).__name__}")
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter {name}")
        if dim is None:
            dim = -1
        fn = WeightNorm(name, dim)
        if name not in module._parameters or module._parameters[name] is None:
            # (torch raises AttributeError; dlcore's ValueError kept as a base for existing callers)
            raise type("NoParameterError", (ValueError, AttributeError), {})(
                f"weight_norm: {type(module).__name__} has no parameter named '{name}'")
        weight = module._parameters[name]
        if is_lazy(weight):
            raise ValueError("The module passed to `WeightNorm` can't have uninitialized parameters. Make sure to "
                             "run the dummy forward before applying weight normalization")
        if dim != -1 and not -weight.ndim <= dim < weight.ndim:
            raise IndexError(f"weight_norm: dim {dim} is out of range for parameter '{name}' of shape "
                             f"{list(weight.shape)}")
        del module._parameters[name]
        del module.__dict__[name]
        with no_grad():
            g = norm_except_dim(weight, 2, dim)
        module.register_parameter(name + "_g", Parameter(g.detach()))
        module.register_parameter(name + "_v", Parameter(weight.detach()))
        setattr(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module):
        weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module.__dict__[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        del module.__dict__[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module, name="weight", dim=0):
    """Applies weight normalisation to parameter ``name`` of module (see the module docstring); returns module.
    Deprecated in torch in favour of dlcore.nn.utils.parametrizations.weight_norm (a FutureWarning, like torch)."""
    warnings.warn("`dlcore.nn.utils.weight_norm` is deprecated in favor of "
                  "`dlcore.nn.utils.parametrizations.weight_norm`.", FutureWarning, stacklevel=2)
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module, name="weight"):
    """Removes weight normalisation from parameter ``name``: it is a plain Parameter again holding g * v / ||v||."""
    for k, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, WeightNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[k]
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")
