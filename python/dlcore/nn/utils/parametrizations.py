"""torch.nn.utils.parametrizations: weight_norm and spectral_norm as parametrizations (register_parametrization).

weight_norm: ``parametrizations.<name>.original0`` is g and ``original1`` is v (state dicts of the old hook API with
``<name>_g`` / ``<name>_v`` load too). spectral_norm: ``parametrizations.<name>.original`` is W and the
parametrization holds the buffers ``_u``, ``_v``; reading the weight in training mode runs n_power_iterations power
steps (u = normalize(W v), then v = normalize(W^T u)), in eval mode it does not.

orthogonal: ``module.<name>`` = an orthogonal matrix from the free parameter ``parametrizations.<name>.original``
through matrix_exp / cayley / householder maps (torch's algorithm; the Householder product is written from
differentiable ops so gradients flow), with the dynamic trivialization's ``base`` buffer by default."""
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

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


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


# ------------------------------------------------------------------------------------------------- orthogonal

def _is_orthogonal(Q):
    from ... import allclose, eye, finfo
    n, k = Q.shape[-2], Q.shape[-1]
    Id = eye(k, dtype=Q.dtype, device=Q.device)
    eps = 10.0 * n * finfo(Q.dtype).eps
    return allclose(Q.mT @ Q, Id, atol=eps)


def _make_orthogonal(A):
    """The Q of A = QR with R's diagonal made positive (torch: householder_product(geqrf(A)) * sgn(diag R))."""
    from ... import linalg
    Q, R = linalg.qr(A)
    return _ops.mul(Q, _ops.sign(R.diagonal(dim1=-2, dim2=-1)).unsqueeze(-2))


def _householder_product(A, tau):
    """linalg.householder_product(A, tau) for a tall A (..., n, k) whose strictly lower part holds the reflectors,
    written from differentiable ops: H_0 H_1 ... H_{k-1} applied to the first k columns of the identity,
    H_i = I - tau_i v_i v_i^T, v_i = e_i + A[..., :, i] (A is strictly lower triangular here)."""
    from ... import eye
    n, k = A.shape[-2], A.shape[-1]
    Id = eye(n, dtype=A.dtype, device=A.device)
    Q = Id.narrow(-1, 0, k).expand(*A.shape[:-2], n, k)
    for i in reversed(range(k)):
        v = _ops.add(A.narrow(-1, i, 1), Id.narrow(-1, i, 1))  # (..., n, 1)
        t = tau.narrow(-1, i, 1).unsqueeze(-1)  # (..., 1, 1)
        Q = _ops.sub(Q, _ops.mul(t, v @ (v.mT @ Q)))
    return Q


def _geqrf(A):
    """LAPACK's geqrf (dlarfg's conventions) of a tall A (..., n, k) in float64 on the host: the reflectors below
    the diagonal, R on and above it, and tau. Used by right_inverse only (no gradient)."""
    import numpy as np
    from ... import tensor
    a = A.detach().cpu().numpy().astype(np.float64).copy()
    n, k = a.shape[-2], a.shape[-1]
    flat = a.reshape(-1, n, k)
    taus = np.zeros((flat.shape[0], k))
    for b in range(flat.shape[0]):
        M = flat[b]
        for j in range(min(n, k)):
            alpha = M[j, j]
            xnorm = np.linalg.norm(M[j + 1:, j])
            if xnorm == 0.0:
                continue  # tau = 0, H = I
            beta = -np.copysign(np.hypot(alpha, xnorm), alpha)
            taus[b, j] = (beta - alpha) / beta
            M[j + 1:, j] /= (alpha - beta)
            M[j, j] = beta
            v = np.concatenate([[1.0], M[j + 1:, j]])
            M[j:, j + 1:] -= taus[b, j] * np.outer(v, v @ M[j:, j + 1:])
    out = tensor(flat.reshape(a.shape), dtype=A.dtype, device=A.device)
    tau = tensor(taus.reshape(a.shape[:-2] + (k,)), dtype=A.dtype, device=A.device)
    return out, tau


_ORTH_MAPS = ("matrix_exp", "cayley", "householder")


class _Orthogonal(Module):
    def __init__(self, weight, orthogonal_map, *, use_trivialization=True):
        super().__init__()
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X):
        from ... import cat, eye, linalg
        n, k = X.shape[-2], X.shape[-1]
        transposed = n < k
        if transposed:
            X = X.mT
            n, k = k, n
        if self.orthogonal_map in ("matrix_exp", "cayley"):
            X = X.tril()
            if n != k:
                X = cat([X, X.new_zeros(n, n - k).expand(*X.shape[:-2], -1, -1)], dim=-1)
            A = _ops.sub(X, X.mT)
            if self.orthogonal_map == "matrix_exp":
                Q = linalg.matrix_exp(A)
            else:
                Id = eye(n, dtype=A.dtype, device=A.device)
                Q = linalg.solve(_ops.sub(Id, _ops.mul(A, 0.5)), _ops.add(Id, _ops.mul(A, 0.5)))
            if n != k:
                Q = Q.narrow(-1, 0, k)
        else:
            A = X.tril(-1)
            tau = _ops.div(2.0, _ops.add(_ops.sum(_ops.mul(A, A), [-2]), 1.0))
            Q = _householder_product(A, tau)
            Q = _ops.mul(Q, _ops.trunc(X.diagonal(dim1=-2, dim2=-1).detach()).unsqueeze(-2))
        if "base" in self._buffers:
            Q = self.base @ Q
        if transposed:
            Q = Q.mT
        return Q

    def right_inverse(self, Q):
        from ... import cat, randn, zeros_like
        with no_grad():
            if tuple(Q.shape) != tuple(self.shape):
                raise ValueError(f"Expected a matrix or batch of matrices of shape {list(self.shape)}. "
                                 f"Got a tensor of shape {list(Q.shape)}.")
            Q_init = Q
            n, k = Q.shape[-2], Q.shape[-1]
            transpose = n < k
            if transpose:
                Q = Q.mT
                n, k = k, n
            if "base" not in self._buffers:
                if self.orthogonal_map in ("cayley", "matrix_exp"):
                    raise NotImplementedError("It is not possible to assign to the matrix exponential or the "
                                              "Cayley parametrizations when use_trivialization=False.")
                A, tau = _geqrf(Q)
                d = _ops.sign(A.diagonal(dim1=-2, dim2=-1))
                d = _ops.where(_ops.eq(tau, 0.0), _ops.neg(d), d)
                A.diagonal(dim1=-2, dim2=-1).copy_(d)
                return A.mT if transpose else A
            if n == k:
                Q = _make_orthogonal(Q) if not _is_orthogonal(Q) else Q.clone()
            else:
                N = randn(*(tuple(Q.shape[:-2]) + (n, n - k)), dtype=Q.dtype, device=Q.device)
                Q = _make_orthogonal(cat([Q, N], dim=-1))
            self.base = Q
            neg_Id = zeros_like(Q_init)
            neg_Id.diagonal(dim1=-2, dim2=-1).fill_(-1.0)
            return neg_Id


def orthogonal(module, name="weight", orthogonal_map=None, *, use_trivialization=True):
    """Constrains the matrix (or batch of matrices) ``module.<name>`` to be orthogonal (orthonormal columns, or rows
    when wide), as torch.nn.utils.parametrizations.orthogonal. orthogonal_map: "matrix_exp" (default for square),
    "cayley" or "householder" (default otherwise). use_trivialization=True keeps the registered weight as
    ``parametrizations.<name>.0.base`` and starts the free parameter at the point mapping to it (dynamic
    trivialization); False parametrizes directly. Returns module."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.ndim < 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of {weight.ndim} dimensions.")
    if not weight.dtype.is_floating_point:
        raise ValueError(f"orthogonal: '{name}' must be a floating tensor, got {weight.dtype}")
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.shape[-2] == weight.shape[-1] else "householder"
    if orthogonal_map not in _ORTH_MAPS:
        raise ValueError('orthogonal_map has to be one of "matrix_exp", "cayley", "householder". '
                         f"Got: {orthogonal_map}")
    orth = _Orthogonal(weight, orthogonal_map, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module
