"""torch.nn.utils.parametrizations: weight_norm and spectral_norm as parametrizations (register_parametrization).

weight_norm: ``parametrizations.<name>.original0`` is g and ``original1`` is v (state dicts of the old hook API with
``<name>_g`` / ``<name>_v`` load too). spectral_norm: ``parametrizations.<name>.original`` is W and the
parametrization holds the buffers ``_u``, ``_v``; reading the weight in training mode runs n_power_iterations power
steps (u = normalize(W v), then v = normalize(W^T u)), in eval mode it does not.

torch's ``orthogonal`` (matrix_exp / cayley / householder maps) is not provided: dlcore has no matrix_exp,
linalg.solve, geqrf or householder_product with gradients."""
from __future__ import annotations

from ... import _C
from ... import _ops
from ... import functional as F
from ...autograd import no_grad
from ..module import Module
from . import parametrize
from .spectral_norm import _reshape_weight_to_matrix
from .weight_norm import _weight_norm, norm_except_dim

Tensor = _C.Tensor

__all__ = ["spectral_norm", "weight_norm"]


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        if dim is None:
            dim = -1
        self.dim = dim

    def forward(self, weight_g, weight_v):
        return _weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight):
        weight_g = norm_except_dim(weight, 2, self.dim)
        weight_v = weight
        return weight_g, weight_v


def weight_norm(module, name="weight", dim=0):
    """Weight normalisation as a parametrization: module.<name> = g * v / ||v|| (norm over every dim but ``dim``;
    over all for dim=None), g = ``parametrizations.<name>.original0``, v = ``original1``. Returns module."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is not None and dim != -1 and not -weight.ndim <= dim < weight.ndim:
        raise IndexError(f"weight_norm: dim {dim} is out of range for '{name}' of shape {list(weight.shape)}")
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def _weight_norm_compat_hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                 error_msgs):
        g_key = f"{prefix}{name}_g"
        v_key = f"{prefix}{name}_v"
        if g_key in state_dict and v_key in state_dict:
            original0 = state_dict.pop(g_key)
            original1 = state_dict.pop(v_key)
            state_dict[f"{prefix}parametrizations.{name}.original0"] = original0
            state_dict[f"{prefix}parametrizations.{name}.original1"] = original1

    module._register_load_state_dict_pre_hook(_weight_norm_compat_hook)
    return module


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}] but got "
                             f"{dim})")
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            with no_grad():
                weight_mat = self._reshape_weight_to_matrix(weight)
                h, w = weight_mat.shape
                u = weight_mat.new_empty([h]).normal_(0, 1)
                v = weight_mat.new_empty([w]).normal_(0, 1)
                self.register_buffer("_u", F.normalize(u, dim=0, eps=self.eps))
                self.register_buffer("_v", F.normalize(v, dim=0, eps=self.eps))
            self._power_method(weight_mat, 15)

    def _reshape_weight_to_matrix(self, weight):
        if weight.ndim <= 1:
            raise AssertionError(f"Expected weight to have more than 1 dimension, got {weight.ndim}")
        return _reshape_weight_to_matrix(weight, self.dim)

    def _power_method(self, weight_mat, n_power_iterations):
        with no_grad():
            for _ in range(n_power_iterations):
                _C.copy_(self._u, F.normalize(_ops.mv(weight_mat, self._v), dim=0, eps=self.eps))
                _C.copy_(self._v, F.normalize(_ops.mv(_ops.t(weight_mat), self._u), dim=0, eps=self.eps))

    def forward(self, weight):
        if weight.ndim == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        weight_mat = self._reshape_weight_to_matrix(weight)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        u = self._u.clone()
        v = self._v.clone()
        sigma = _ops.dot(u, _ops.mv(weight_mat, v))
        return _ops.div(weight, sigma)

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Spectral normalisation as a parametrization: module.<name> = W / sigma(W) with sigma from power iteration
    (buffers ``parametrizations.<name>.0._u`` / ``._v``); dim defaults to 0 (1 for ConvTranspose). Returns
    module."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        from ..layers import ConvTranspose1d, ConvTranspose2d
        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d)) else 0
    parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
