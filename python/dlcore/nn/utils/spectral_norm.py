"""Spectral normalisation, torch.nn.utils.spectral_norm's hook API (https://arxiv.org/abs/1802.05957):
W_SN = W / sigma(W), sigma estimated by power iteration.

spectral_norm(module, name) moves the parameter to ``<name>_orig``, registers the buffers ``<name>_u`` [h] and
``<name>_v`` [w] (W reshaped to a matrix [h, w] with ``dim`` first) and recomputes ``module.<name>`` before every
forward. In training mode each forward runs n_power_iterations steps (v = normalize(W^T u), u = normalize(W v)),
updating the buffers in place; in eval mode the stored u, v are used as they are. sigma = u . (W v)."""
from __future__ import annotations

import numpy as np

from ... import _C
from ... import _ops
from ... import functional as F
from ...autograd import no_grad
from ..parameter import Parameter

Tensor = _C.Tensor

__all__ = ["SpectralNorm", "SpectralNormLoadStateDictPreHook", "SpectralNormStateDictHook", "spectral_norm",
           "remove_spectral_norm"]


def _reshape_weight_to_matrix(weight, dim):
    w = weight
    if dim != 0:
        w = _ops.permute(w, dim, *[d for d in range(w.ndim) if d != dim])
    return _ops.reshape(w, [w.shape[0], -1])


def _normalize_into(dst, src, eps):
    """dst[...] = src / max(||src||, eps), in place (the buffers keep their identity)."""
    _C.copy_(dst, F.normalize(src, dim=0, eps=eps))
    return dst


class SpectralNorm:
    """The forward pre-hook of spectral_norm."""
    _version = 1

    def __init__(self, name="weight", n_power_iterations=1, dim=0, eps=1e-12):
        self.name = name
        self.dim = dim
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.n_power_iterations = n_power_iterations
        self.eps = eps

    def reshape_weight_to_matrix(self, weight):
        return _reshape_weight_to_matrix(weight, self.dim)

    def compute_weight(self, module, do_power_iteration):
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        weight_mat = self.reshape_weight_to_matrix(weight)
        if do_power_iteration:
            with no_grad():
                for _ in range(self.n_power_iterations):
                    _normalize_into(v, _ops.mv(_ops.t(weight_mat), u), self.eps)
                    _normalize_into(u, _ops.mv(weight_mat, v), self.eps)
                # clone, so a graph built on this forward keeps its u, v when a later forward updates the buffers
                u = u.clone()
                v = v.clone()
        sigma = _ops.dot(u, _ops.mv(weight_mat, v))
        return _ops.div(weight, sigma)

    def remove(self, module):
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        delattr(module, self.name)
        delattr(module, self.name + "_u")
        delattr(module, self.name + "_v")
        delattr(module, self.name + "_orig")
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module, do_power_iteration=module.training))

    def _solve_v_and_rescale(self, weight_mat, u, target_sigma):
        # v with u = normalize(W v) and u . W v = sigma (pseudo-inverse, float64 NumPy: loading only)
        w = _C.to(weight_mat, _C.dtype.float64, "cpu", False)._raw_numpy()
        uu = _C.to(u, _C.dtype.float64, "cpu", False)._raw_numpy()
        v = np.linalg.pinv(w.T @ w) @ w.T @ uu
        v = v * (float(target_sigma) / float(uu @ (w @ v)))
        return _C.to(_C.from_numpy(np.ascontiguousarray(v)), u.dtype, u.device, False)

    @staticmethod
    def apply(module, name, n_power_iterations, dim, eps):
        from ..module import Module
        from ..lazy import is_lazy
        if not isinstance(module, Module):
            raise TypeError(f"spectral_norm: module must be a dlcore.nn.Module, got {type(module).__name__}")
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, SpectralNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
        fn = SpectralNorm(name, n_power_iterations, dim, eps)
        if name not in module._parameters:
            # (torch raises KeyError; dlcore's ValueError kept as a base for existing callers)
            raise type("NoParameterError", (ValueError, KeyError), {})(
                f"spectral_norm: {type(module).__name__} has no parameter named '{name}'")
        weight = module._parameters[name]
        if weight is None:
            raise ValueError(f"`SpectralNorm` cannot be applied as parameter `{name}` is None")
        if is_lazy(weight):
            raise ValueError("The module passed to `SpectralNorm` can't have uninitialized parameters. Make sure to "
                             "run the dummy forward before applying spectral normalization")
        if weight.ndim < 1 or not -weight.ndim <= dim < weight.ndim:
            raise IndexError(f"spectral_norm: dim {dim} is out of range for parameter '{name}' of shape "
                             f"{list(weight.shape)}")
        fn.dim = dim % weight.ndim if dim < 0 else dim
        with no_grad():
            weight_mat = fn.reshape_weight_to_matrix(weight)
            h, w = weight_mat.shape
            u = F.normalize(weight.new_empty([h]).normal_(0, 1), dim=0, eps=fn.eps)
            v = F.normalize(weight.new_empty([w]).normal_(0, 1), dim=0, eps=fn.eps)
        delattr(module, fn.name)
        module.register_parameter(fn.name + "_orig", weight)
        setattr(module, fn.name, weight.detach())
        module.register_buffer(fn.name + "_u", u)
        module.register_buffer(fn.name + "_v", v)
        module.register_forward_pre_hook(fn)
        module._register_state_dict_hook(SpectralNormStateDictHook(fn))
        module._register_load_state_dict_pre_hook(SpectralNormLoadStateDictPreHook(fn))
        return fn


class SpectralNormLoadStateDictPreHook:
    """Accepts state dicts written before torch's spectral_norm version 1 (a stored ``<name>`` and no
    ``<name>_v``): v is solved from W_orig, u and sigma. Current ones (``_orig``, ``_u``, ``_v``) pass."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        fn = self.fn
        version = local_metadata.get("spectral_norm", {}).get(fn.name + ".version", None)
        if version is None or version < 1:
            weight_key = prefix + fn.name
            if (version is None and all(weight_key + s in state_dict for s in ("_orig", "_u", "_v"))
                    and weight_key not in state_dict):
                return
            has_missing_keys = False
            for suffix in ("_orig", "", "_u"):
                key = weight_key + suffix
                if key not in state_dict:
                    has_missing_keys = True
                    if strict:
                        missing_keys.append(key)
            if has_missing_keys:
                return
            from ..module import _to_dlcore_tensor
            with no_grad():
                weight_orig = _to_dlcore_tensor(state_dict[weight_key + "_orig"], weight_key + "_orig")
                weight = _to_dlcore_tensor(state_dict.pop(weight_key), weight_key)
                sigma = _ops.mean(_ops.div(weight_orig, weight)).item()
                weight_mat = fn.reshape_weight_to_matrix(weight_orig)
                u = _to_dlcore_tensor(state_dict[weight_key + "_u"], weight_key + "_u")
                state_dict[weight_key + "_v"] = fn._solve_v_and_rescale(weight_mat, u, sigma)


class SpectralNormStateDictHook:
    """Records the spectral_norm version in the state dict's metadata (torch's convention)."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, module, state_dict, prefix, local_metadata):
        if "spectral_norm" not in local_metadata:
            local_metadata["spectral_norm"] = {}
        key = self.fn.name + ".version"
        if key in local_metadata["spectral_norm"]:
            raise RuntimeError(f"Unexpected key in metadata['spectral_norm']: {key}")
        local_metadata["spectral_norm"][key] = self.fn._version


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Applies spectral normalisation to parameter ``name`` of module; dim defaults to 0 (1 for ConvTranspose).
    Returns module."""
    if dim is None:
        from ..layers import ConvTranspose1d, ConvTranspose2d
        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d)) else 0
    SpectralNorm.apply(module, name, n_power_iterations, dim, eps)
    return module


def remove_spectral_norm(module, name="weight"):
    """Removes spectral normalisation from parameter ``name``: a plain Parameter again, holding W_orig / sigma
    (sigma from the stored u, v)."""
    for k, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, SpectralNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[k]
            break
    else:
        raise ValueError(f"spectral_norm of '{name}' not found in {module}")
    for k, hook in list(module._state_dict_hooks.items()):
        if isinstance(hook, SpectralNormStateDictHook) and hook.fn.name == name:
            del module._state_dict_hooks[k]
            break
    for k, hook in list(module._load_state_dict_pre_hooks.items()):
        if isinstance(hook, SpectralNormLoadStateDictPreHook) and hook.fn.name == name:
            del module._load_state_dict_pre_hooks[k]
            break
    return module
