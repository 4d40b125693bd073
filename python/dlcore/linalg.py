"""dlcore.linalg: torch.linalg for float32/float64 tensors.

The factorizations are hand-written CPU kernels (csrc/ops/linalg/factor_cpu.cpp: blocked LU with partial pivoting,
triangular solves, blocked Cholesky, Householder QR, Jacobi eigh and one-sided Jacobi SVD, the large updates through
dlcore's GEMM), run over the batch dims in parallel. There are no CUDA factorization kernels: for a cuda tensor the
kernel runs on a host copy and the result is copied back to the device (the rest of each op, the matrix products
of matrix_exp, the norms and the gradients, runs on the device).

Gradients follow torch's formulas (FunctionsManual.cpp): solve, inv, det/slogdet/logdet, cholesky, qr (m >= n
reduced, or square complete; wide reduced), eigh (distinct eigenvalues), svd (distinct singular values), pinv,
lstsq, matrix_exp (block-triangular trick), the norms, solve_triangular, lu (square), lu_solve (B).
"""
from __future__ import annotations

import builtins
import math
import numbers
from collections import namedtuple

import numpy as np

from . import _C
from ._out import with_out as _with_out
from . import _ops
from .autograd import Function, _needs_grad
from ._indexing import cat, stack
from ._creation import eye as _eye

Tensor = _C.Tensor
_isT = isinstance

__all__ = ["LinAlgError", "solve", "solve_ex", "inv", "inv_ex", "det", "slogdet", "cholesky", "cholesky_ex",
           "lu_factor", "lu_factor_ex", "lu", "lu_solve", "solve_triangular", "qr", "eigh", "eigvalsh", "svd",
           "svdvals", "pinv", "lstsq", "matrix_rank", "matrix_power", "matrix_exp", "norm", "vector_norm",
           "matrix_norm", "cond", "cross", "multi_dot", "vecdot", "diagonal", "householder_product", "matmul",
           "tensorinv", "tensorsolve", "vander"]


class LinAlgError(RuntimeError):
    """A linear algebra error (singular matrix, not positive-definite), as torch.linalg.LinAlgError."""


_TORCH_DTYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
                      "int64": "Long", "int32": "Int", "uint8": "Byte", "bool": "Bool",
                      "int16": "Short", "int8": "Char"}

SlogdetResult = namedtuple("slogdet", ["sign", "logabsdet"])
CholeskyExResult = namedtuple("cholesky_ex", ["L", "info"])
InvExResult = namedtuple("inv_ex", ["inverse", "info"])
SolveExResult = namedtuple("solve_ex", ["result", "info"])
LUFactorResult = namedtuple("lu_factor", ["LU", "pivots"])
LUFactorExResult = namedtuple("lu_factor_ex", ["LU", "pivots", "info"])
LUResult = namedtuple("lu", ["P", "L", "U"])
QRResult = namedtuple("qr", ["Q", "R"])
EighResult = namedtuple("eigh", ["eigenvalues", "eigenvectors"])
SVDResult = namedtuple("svd", ["U", "S", "Vh"])
LstsqResult = namedtuple("lstsq", ["solution", "residuals", "rank", "singular_values"])
TorchSVDResult = namedtuple("svd", ["U", "S", "V"])
TriangularSolveResult = namedtuple("triangular_solve", ["solution", "cloned_coefficient"])


# ------------------------------------------------------------------------------------------------- helpers

def _dname(dt):
    return _TORCH_DTYPE_NAMES.get(dt.name, dt.name)


def _check_float(A, op, name="A"):
    if not _isT(A, Tensor):
        raise TypeError(f"{op}: argument '{name}' must be a dlcore.Tensor, got {type(A).__name__}")
    if not A.dtype.is_floating_point:
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got {_dname(A.dtype)}")
    if A.dtype not in (_C.dtype.float32, _C.dtype.float64):
        raise RuntimeError(f"{op}: Low precision dtypes not supported. Got {_dname(A.dtype)}")


def _check_matrix(A, op, name="A"):
    _check_float(A, op, name)
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor {name} must have at least 2 dimensions.")


def _check_square(A, op, name="A"):
    _check_matrix(A, op, name)
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{op}: {name} must be batches of square matrices, but they are {A.shape[-2]} by "
                           f"{A.shape[-1]} matrices")


def _check_same(A, B, op, an="A", bn="B"):
    if A.dtype != B.dtype:
        raise RuntimeError(f"{op}: Expected {an} and {bn} to have the same dtype, but found {an} of type "
                           f"{_dname(A.dtype)} and {bn} of type {_dname(B.dtype)} instead")
    if A.device != B.device:
        raise RuntimeError(f"{op}: Expected all tensors to be on the same device, but found {an} on {A.device} "
                           f"and {bn} on {B.device}")


def _mT(x):
    return x.transpose(-2, -1)


def _eye_like(n, ref, batch=()):
    e = _eye(n, dtype=ref.dtype, device=ref.device)
    return e.expand(*batch, n, n) if batch else e


def _host(t):
    return t.to("cpu").numpy() if t.device.type != "cpu" else t.numpy()


def _bshape(*shapes):
    return list(_ops.broadcast_shapes(*[tuple(s) for s in shapes]))


def _batch_msg(info, B_shape, i):
    return f"(Batch element {i}): " if len(B_shape) > 0 else ""


def _first_bad(info):
    """(flat index, value) of the first nonzero info entry, or None."""
    a = _host(info).reshape(-1)
    nz = np.nonzero(a)[0]
    if nz.size == 0:
        return None
    return int(nz[0]), int(a[nz[0]])


def _tril(x, k=0):
    return x.tril(k)


def _triu(x, k=0):
    return x.triu(k)


def _scalar(v, ref):
    return _C.full([], float(v), ref.dtype, ref.device)


def _eps(dtype):
    return float(np.finfo(np.float32 if dtype == _C.dtype.float32 else np.float64).eps)


# ------------------------------------------------------------------------------------------------- LU / solve

@_with_out
def lu_factor_ex(A, *, pivot=True, check_errors=False, out=None):
    """(LU, pivots, info) of P A = L U with partial pivoting (pivots int32, 1-based, as LAPACK's getrf)."""
    _check_matrix(A, "torch.linalg.lu_factor_ex")
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    if _needs_grad(A):
        LU, piv, info = _LUFactor.apply(A)
    else:
        LU, piv, info = _C._linalg_lu_factor(A)
    if check_errors:
        bad = _first_bad(info)
        if bad is not None:
            raise LinAlgError(f"torch.linalg.lu_factor_ex: {_batch_msg(info, A.shape[:-2], bad[0])}U[{bad[1]},"
                              f"{bad[1]}] is zero and using it on lu_solve would result in a division by zero.")
    return LUFactorExResult(LU, piv, info)


@_with_out
def lu_factor(A, *, pivot=True, out=None):
    """(LU, pivots) of P A = L U; raises for an exactly singular A (as torch)."""
    _check_matrix(A, "torch.linalg.lu_factor")
    LU, piv, info = lu_factor_ex(A, pivot=pivot)
    bad = _first_bad(info)
    if bad is not None:
        raise RuntimeError(f"torch.linalg.lu_factor: {_batch_msg(info, A.shape[:-2], bad[0])}U[{bad[1]},{bad[1]}] "
                           f"is zero and using it on lu_solve would result in a division by zero. If you still want "
                           f"to perform the factorization, consider calling linalg.lu(A, pivot) or "
                           f"linalg.lu_factor_ex(A, pivot)")
    return LUFactorResult(LU, piv)


class _LUFactor(Function):
    """lu_factor's gradient (square A) through the unpacked factors: gA = P L^{-T} (tril(L^T gL, -1) + triu(gU
    U^T)) U^{-T} with gL = tril(gLU, -1), gU = triu(gLU)."""

    @staticmethod
    def forward(ctx, A):
        LU, piv, info = _C._linalg_lu_factor(A)
        ctx.save_for_backward(LU, piv)
        ctx.square = A.shape[-1] == A.shape[-2]
        ctx.mark_non_differentiable(piv, info)
        return LU, piv, info

    @staticmethod
    def backward(ctx, gLU, gp=None, gi=None):
        LU, piv = ctx.saved_tensors
        if not ctx.square:
            raise NotImplementedError("linalg.lu_factor: the derivative is implemented for square matrices only")
        P, L, U = _unpack(LU, piv)
        return _lu_backward(P, L, U, _tril(gLU, -1), _triu(gLU))


def _perm_from_pivots(piv_np, m):
    """Row permutation perm (P = I[:, perm]... as torch.lu_unpack: A = P L U) for each batch entry."""
    k = piv_np.shape[-1]
    flat = piv_np.reshape(int(np.prod(piv_np.shape[:-1])), k)
    perms = np.empty((flat.shape[0], m), dtype=np.int64)
    for b in range(flat.shape[0]):
        p = np.arange(m)
        for j in range(k):
            q = int(flat[b, j]) - 1
            p[j], p[q] = p[q], p[j]
        perms[b] = p
    return perms


def _unpack(LU, piv):
    """(P, L, U) with A = P L U from getrf's packed output."""
    m, n = LU.shape[-2], LU.shape[-1]
    k = builtins.min(m, n)
    batch = list(LU.shape[:-2])
    perms = _perm_from_pivots(_host(piv), m)
    # P A = L U with the swaps applied in order: row i of L U is row perm[i] of A, so A = P L U with P[perm[i], i] = 1.
    P = np.zeros((perms.shape[0], m, m))
    for b in range(perms.shape[0]):
        P[b, perms[b], np.arange(m)] = 1.0
    Pt = _C.from_numpy(np.ascontiguousarray(P.reshape(batch + [m, m]).astype(
        np.float32 if LU.dtype == _C.dtype.float32 else np.float64)))
    if LU.device.type != "cpu":
        Pt = Pt.to(LU.device)
    L = _tril(LU.narrow(-1, 0, k), -1) + _eye(m, k, dtype=LU.dtype, device=LU.device)
    U = _triu(LU.narrow(-2, 0, k))
    return Pt, L, U


def _lu_backward(P, L, U, gL, gU):
    gA = None
    if gL is not None:
        gA = _tril(_mT(L) @ gL, -1)
    if gU is not None:
        t = _triu(gU @ _mT(U))
        gA = t if gA is None else gA + t
    gA = solve_triangular(_mT(U), gA, upper=False, left=False)
    gA = solve_triangular(_mT(L), gA, upper=True, left=True, unitriangular=True)
    return P @ gA


class _LU(Function):
    @staticmethod
    def forward(ctx, A):
        LU, piv, _ = _C._linalg_lu_factor(A)
        P, L, U = _unpack(LU, piv)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(P, L, U)
        ctx.square = A.shape[-1] == A.shape[-2]
        ctx.mark_non_differentiable(P)
        return P, L, U

    @staticmethod
    def backward(ctx, gP, gL, gU):
        P, L, U = ctx.saved_tensors
        if gL is None and gU is None:
            return None
        if not ctx.square:
            raise NotImplementedError("linalg.lu: the derivative is implemented for square matrices only")
        return _lu_backward(P, L, U, gL, gU)


@_with_out
def lu(A, *, pivot=True, out=None):
    """(P, L, U) with A = P L U (L unit lower m x k, U upper k x n)."""
    _check_matrix(A, "linalg.lu")
    if not pivot:
        raise RuntimeError("linalg.lu: LU without pivoting is not implemented on the CPU")
    if _needs_grad(A):
        return LUResult(*_LU.apply(A))
    LU, piv, _ = _C._linalg_lu_factor(A)
    return LUResult(*_unpack(LU, piv))


def _is_vector_rhs(A, B):
    return B.ndim == 1 or (B.ndim == A.ndim - 1 and list(B.shape) == list(A.shape[:-1]))


class _LUSolve(Function):
    """X = A^{-1} B (adjoint: A^{-T} B) from the LU factors; gradient for B (gB = A^{-T} G)."""

    @staticmethod
    def forward(ctx, LU, piv, B, adjoint):
        X = _C._linalg_lu_solve(LU, piv, B, adjoint)
        ctx.save_for_backward(LU, piv)
        ctx.adjoint = adjoint
        return X

    @staticmethod
    def backward(ctx, g):
        LU, piv = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            raise NotImplementedError("linalg.lu_solve: the derivative with respect to LU is not implemented "
                                      "(differentiate through linalg.solve instead)")
        return None, None, _C._linalg_lu_solve(LU, piv, g, not ctx.adjoint), None

    @staticmethod
    def _double_backward_fn(ctx, g):  # create_graph: B's gradient as a recorded linear map of g
        if ctx.needs_input_grad[0]:
            return _LUSolve.backward(ctx, g)  # (raises)
        from .autograd import _linear_pair
        LU, piv = ctx.saved_tensors
        adj = ctx.adjoint
        fwd, _ = _linear_pair(lambda t: _C._linalg_lu_solve(LU, piv, t, not adj),
                              lambda u: _C._linalg_lu_solve(LU, piv, u, adj))
        return None, None, fwd(g), None


@_with_out
def lu_solve(LU, pivots, B, *, left=True, adjoint=False, out=None):
    """X with A X = B (left=False: X A = B; adjoint: A^T) from lu_factor's output; batch dims broadcast."""
    op = "linalg.lu_solve"
    _check_square(LU, op, "LU")
    _check_matrix(B, op, "B")
    _check_same(LU, B, op, "LU", "B")
    n = LU.shape[-1]
    if left and B.shape[-2] != n:
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation AX = B "
                           f"({n}x{n} and {B.shape[-2]}x{B.shape[-1]})")
    if not left and B.shape[-1] != n:
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation XA = B "
                           f"({n}x{n} and {B.shape[-2]}x{B.shape[-1]})")
    if list(pivots.shape) != list(LU.shape[:-1]):
        raise RuntimeError(f"{op}: Expected LU.shape[:-1] and pivots.shape to be the same, but got pivots with "
                           f"shape {list(pivots.shape)} instead")
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return _mT(lu_solve(LU, pivots, _mT(B), left=True, adjoint=not adjoint))
    batch = _bshape(LU.shape[:-2], B.shape[:-2])
    LUe = LU.expand(*batch, n, n)
    pe = pivots.expand(*batch, n)
    Be = B.expand(*batch, n, B.shape[-1])
    if _needs_grad(LU, B):
        return _LUSolve.apply(LUe, pe, Be, bool(adjoint))
    return _C._linalg_lu_solve(LUe, pe, Be, bool(adjoint))


class _Solve(Function):
    """X = A^{-1} B (batch dims already broadcast). gB = A^{-T} G, gA = -gB X^T."""

    @staticmethod
    def forward(ctx, A, B, op):
        LU, piv, info = _C._linalg_lu_factor(A)
        _raise_singular(info, A, op)
        X = _C._linalg_lu_solve(LU, piv, B, False)
        ctx.save_for_backward(LU, piv, X)
        return X

    @staticmethod
    def backward(ctx, g):
        LU, piv, X = ctx.saved_tensors
        gB = _C._linalg_lu_solve(LU, piv, g, True)
        gA = -(gB @ _mT(X)) if ctx.needs_input_grad[0] else None
        return gA, gB, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        """create_graph: the same with a recorded solve against A^T (A rebuilt as P L U from the saved factors,
        with the input's history) and X's history."""
        from .autograd import _inputs_with_history
        LU, piv, X = ctx.saved_tensors
        P, L, U = _unpack(LU, piv)
        (A,) = _inputs_with_history(ctx, (P @ L @ U,))
        gB = _Solve.apply(_mT(A), g, "linalg.solve")
        gA = -(gB @ _mT(X)) if ctx.needs_input_grad[0] else None
        return gA, gB, None


def _raise_singular(info, A, op):
    bad = _first_bad(info)
    if bad is None:
        return
    pre = _batch_msg(info, A.shape[:-2], bad[0])
    if op == "linalg.inv":
        raise LinAlgError(f"linalg.inv: {pre}The diagonal element {bad[1]} is zero, the inversion could not be "
                          f"completed because the input matrix is singular.")
    raise LinAlgError(f"torch.{op}: {pre}The solver failed because the input matrix is singular.")


def _solve(A, B, op, check=True):
    """A^{-1} B for matrices, broadcasting the batch dims."""
    n = A.shape[-1]
    batch = _bshape(A.shape[:-2], B.shape[:-2])
    Ae = A.expand(*batch, n, n)
    Be = B.expand(*batch, n, B.shape[-1])
    if _needs_grad(A, B):
        return _Solve.apply(Ae, Be, op)
    LU, piv, info = _C._linalg_lu_factor(Ae)
    if check:
        _raise_singular(info, Ae, op)
    return _C._linalg_lu_solve(LU, piv, Be, False)


@_with_out
def solve(A, B, *, left=True, out=None):
    """X with A X = B (left=False: X A = B). B is a vector when B.ndim == 1 or B.shape == A.shape[:-1]; the batch
    dims broadcast. Raises LinAlgError for a singular A."""
    op = "linalg.solve"
    _check_square(A, op)
    _check_float(B, op, "B")
    _check_same(A, B, op)
    n = A.shape[-1]
    vec = _is_vector_rhs(A, B)  # as torch, also for left=False (where a vector B then fails the shape check)
    Bm = B.unsqueeze(-1) if vec else B
    if Bm.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor B must have at least 2 dimensions.")
    if left and Bm.shape[-2] != n:
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation AX = B ({n}x{n} and "
                           f"{'x'.join(str(s) for s in Bm.shape[-2:])})")
    if not left:
        if Bm.shape[-1] != n:
            raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation XA = B ({n}x{n} and "
                               f"{'x'.join(str(s) for s in Bm.shape[-2:])})")
        return _mT(_solve(_mT(A), _mT(Bm), op))
    X = _solve(A, Bm, op)
    return X.squeeze(-1) if vec else X


@_with_out
def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    _check_square(A, "linalg.solve_ex")
    info = _C._linalg_lu_factor(A)[2]
    if check_errors:
        _raise_singular(info, A, "linalg.solve_ex")
    with_nan = _first_bad(info) is not None
    if with_nan:
        n = A.shape[-1]
        vec = left and _is_vector_rhs(A, B)
        Bm = B.unsqueeze(-1) if vec else B
        batch = _bshape(A.shape[:-2], Bm.shape[:-2])
        Ae = A.expand(*batch, n, n)
        X = _C._linalg_lu_solve(*_C._linalg_lu_factor(Ae)[:2], Bm.expand(*batch, n, Bm.shape[-1]), False) \
            if left else _mT(_C._linalg_lu_solve(*_C._linalg_lu_factor(_mT(Ae))[:2],
                                                 _mT(Bm.expand(*batch, Bm.shape[-2], n)), False))
        return SolveExResult(X.squeeze(-1) if vec else X, info)
    return SolveExResult(solve(A, B, left=left), info)


@_with_out
def inv(A, *, out=None):
    """A^{-1} (LU with partial pivoting, then a solve against I); LinAlgError for a singular A."""
    _check_square(A, "linalg.inv")
    n = A.shape[-1]
    return _solve(A, _eye_like(n, A), "linalg.inv")


@_with_out
def inv_ex(A, *, check_errors=False, out=None):
    _check_square(A, "linalg.inv_ex")
    info = _C._linalg_lu_factor(A)[2]
    if check_errors:
        _raise_singular(info, A, "linalg.inv")
    if _first_bad(info) is None:
        return InvExResult(inv(A), info)
    LU, piv, _ = _C._linalg_lu_factor(A)
    return InvExResult(_C._linalg_lu_solve(LU, piv, _eye_like(A.shape[-1], A, list(A.shape[:-2])), False), info)


# ------------------------------------------------------------------------------------------------- determinants

def _lu_det_parts(A):
    """(diag of U, permutation sign as a tensor [...]) for square A."""
    LU, piv, _ = _C._linalg_lu_factor(A)
    d = LU.diagonal(0, -2, -1)
    p = _host(piv)
    n = A.shape[-1]
    swaps = (p != np.arange(1, n + 1)).sum(-1) if n else np.zeros(p.shape[:-1], dtype=np.int64)
    sgn = np.where(swaps % 2 == 1, -1.0, 1.0).astype(np.float32 if A.dtype == _C.dtype.float32 else np.float64)
    s = _C.from_numpy(np.array(sgn.reshape(list(A.shape[:-2])), order="C"))  # (0-d stays 0-d)
    if A.device.type != "cpu":
        s = s.to(A.device)
    return d, s


def _det_raw(A):
    d, s = _lu_det_parts(A)
    return d.prod(-1) * s


def _adjugate_T(A):
    """The transposed adjugate (the gradient of det) through the SVD, valid for singular A."""
    U, S, Vh = _svd_raw(A, False, True)
    n = A.shape[-1]
    if n == 1:
        return _C.full(list(A.shape), 1.0, A.dtype, A.device)
    # prod_{j != i} S_j without dividing by S_i.
    cols = []
    for i in range(n):
        idx = [j for j in range(n) if j != i]
        cols.append(stack([S.select(-1, j) for j in idx], -1).prod(-1))
    Sh = stack(cols, -1)
    c = _det_raw(U) * _det_raw(Vh)
    adj = (_mT(Vh) * Sh.unsqueeze(-2)) @ _mT(U) * c.unsqueeze(-1).unsqueeze(-1)
    return _mT(adj)


class _Det(Function):
    """det(A); gA = g det(A) A^{-T} (through the SVD adjugate where A is singular)."""

    @staticmethod
    def forward(ctx, A):
        det = _det_raw(A)
        ctx.save_for_backward(A, det)
        return det

    @staticmethod
    def backward(ctx, g):
        A, det = ctx.saved_tensors
        LU, piv, info = _C._linalg_lu_factor(A)
        if _first_bad(info) is None:
            n = A.shape[-1]
            invT = _mT(_C._linalg_lu_solve(LU, piv, _eye_like(n, A, list(A.shape[:-2])), False))
            return (g * det).unsqueeze(-1).unsqueeze(-1) * invT
        return g.unsqueeze(-1).unsqueeze(-1) * _adjugate_T(A)

    @staticmethod
    def _double_backward_fn(ctx, g):
        """create_graph: g det(A) A^{-T} with a recorded inverse (a singular A, whose gradient is the adjugate's,
        has no double backward)."""
        A, det = ctx.saved_tensors
        if _first_bad(_C._linalg_lu_factor(A)[2]) is not None:
            return NotImplemented
        n = A.shape[-1]
        invT = _mT(_solve(A, _eye_like(n, A, list(A.shape[:-2])), "linalg.det"))
        return (g * det).unsqueeze(-1).unsqueeze(-1) * invT


@_with_out
def det(A, *, out=None):
    """The determinant (LU with partial pivoting)."""
    _check_square(A, "linalg.det")
    if _needs_grad(A):
        return _Det.apply(A)
    return _det_raw(A)


class _Slogdet(Function):
    """(sign, log|det A|); g_logabsdet A^{-T} (sign is not differentiable)."""

    @staticmethod
    def forward(ctx, A):
        sign, lad = _slogdet_raw(A)
        ctx.save_for_backward(A)
        ctx.mark_non_differentiable(sign)
        return sign, lad

    @staticmethod
    def backward(ctx, gs, gl):
        (A,) = ctx.saved_tensors
        n = A.shape[-1]
        LU, piv, _ = _C._linalg_lu_factor(A)
        invT = _mT(_C._linalg_lu_solve(LU, piv, _eye_like(n, A, list(A.shape[:-2])), False))
        return gl.unsqueeze(-1).unsqueeze(-1) * invT

    @staticmethod
    def _double_backward_fn(ctx, gs, gl):  # create_graph: with a recorded inverse
        (A,) = ctx.saved_tensors
        n = A.shape[-1]
        invT = _mT(_solve(A, _eye_like(n, A, list(A.shape[:-2])), "linalg.slogdet"))
        return gl.unsqueeze(-1).unsqueeze(-1) * invT


def _slogdet_raw(A):
    d, s = _lu_det_parts(A)
    sign = d.sign().prod(-1) * s
    lad = d.abs().log().sum(-1)
    return sign, lad


@_with_out
def slogdet(A, *, out=None):
    """(sign, logabsdet) of det(A); sign 0 and logabsdet -inf for a singular A."""
    _check_square(A, "linalg.slogdet")
    if _needs_grad(A):
        return SlogdetResult(*_Slogdet.apply(A))
    return SlogdetResult(*_slogdet_raw(A))


def logdet(A):
    """log det(A): nan where det(A) < 0, -inf where it is 0 (as torch.logdet)."""
    _check_square(A, "linalg.logdet")
    sign, lad = slogdet(A)
    nan = _scalar(float("nan"), lad)
    return _ops.where(sign < 0, nan, lad)


# ------------------------------------------------------------------------------------------------- Cholesky

class _Cholesky(Function):
    @staticmethod
    def forward(ctx, A, upper):
        L, info = _C._linalg_cholesky(A, upper)
        ctx.save_for_backward(L)
        ctx.upper = upper
        ctx.mark_non_differentiable(info)
        return L, info

    @staticmethod
    def backward(ctx, gL, gi=None):
        (L,) = ctx.saved_tensors
        if ctx.upper:
            L, gL = _mT(L), _mT(gL)
        gA = _tril(_mT(L) @ gL)
        gA = 0.5 * (gA + _mT(_tril(gA, -1)))
        gA = _C._linalg_trsm(_mT(L), gA, True, False)  # L^{-T} gA
        gA = _mT(_C._linalg_trsm(_mT(L), _mT(gA), True, False))  # gA L^{-1} = (L^{-T} gA^T)^T
        return gA, None

    @staticmethod
    def _double_backward_fn(ctx, gL, gi=None):  # create_graph: the same with recorded triangular solves
        (L,) = ctx.saved_tensors
        if ctx.upper:
            L, gL = _mT(L), _mT(gL)
        gA = _tril(_mT(L) @ gL)
        gA = 0.5 * (gA + _mT(_tril(gA, -1)))
        gA = _SolveTriangular.apply(_mT(L), gA, True, False)
        gA = _mT(_SolveTriangular.apply(_mT(L), _mT(gA), True, False))
        return gA, None


@_with_out
def cholesky_ex(A, *, upper=False, check_errors=False, out=None):
    """(L, info): A = L L^T from A's lower triangle (upper=True: A = U^T U from the upper triangle); info[b] = k
    when the leading minor of order k is not positive-definite."""
    _check_square(A, "linalg.cholesky")
    if _needs_grad(A):
        L, info = _Cholesky.apply(A, bool(upper))
    else:
        L, info = _C._linalg_cholesky(A, bool(upper))
    if check_errors:
        _raise_not_pd(info, A)
    return CholeskyExResult(L, info)


def _raise_not_pd(info, A):
    bad = _first_bad(info)
    if bad is not None:
        raise LinAlgError(f"linalg.cholesky: {_batch_msg(info, A.shape[:-2], bad[0])}The factorization could not "
                          f"be completed because the input is not positive-definite (the leading minor of order "
                          f"{bad[1]} is not positive-definite).")


@_with_out
def cholesky(A, *, upper=False, out=None):
    """The Cholesky factor (lower, or upper with upper=True); LinAlgError when A is not positive-definite."""
    L, info = cholesky_ex(A, upper=upper)
    _raise_not_pd(info, A)
    return L


# ------------------------------------------------------------------------------------------------- triangular

class _SolveTriangular(Function):
    """X = A^{-1} B for triangular A (left). gB = A^{-T} G, gA = -gB X^T restricted to A's triangle."""

    @staticmethod
    def forward(ctx, A, B, upper, unit):
        X = _C._linalg_trsm(A, B, upper, unit)
        ctx.save_for_backward(A, X)
        ctx.upper, ctx.unit = upper, unit
        return X

    @staticmethod
    def backward(ctx, g):
        A, X = ctx.saved_tensors
        gB = _C._linalg_trsm(_mT(A), g, not ctx.upper, ctx.unit)
        gA = None
        if ctx.needs_input_grad[0]:
            gA = -(gB @ _mT(X))
            gA = _triu(gA, int(ctx.unit)) if ctx.upper else _tril(gA, -int(ctx.unit))
        return gA, gB, None, None

    @staticmethod
    def _double_backward_fn(ctx, g):  # create_graph: the same with a recorded solve (A and X with history)
        A, X = ctx.saved_tensors
        gB = _SolveTriangular.apply(_mT(A), g, not ctx.upper, ctx.unit)
        gA = None
        if ctx.needs_input_grad[0]:
            gA = -(gB @ _mT(X))
            gA = _triu(gA, int(ctx.unit)) if ctx.upper else _tril(gA, -int(ctx.unit))
        return gA, gB, None, None


@_with_out
def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    """X with A X = B (left=False: X A = B) for triangular A; only A's upper (or lower) triangle is read, and its
    diagonal is taken as ones with unitriangular=True. Batch dims broadcast."""
    op = "linalg.solve_triangular"
    _check_matrix(A, op)
    _check_matrix(B, op, "B")
    _check_same(A, B, op)
    _check_square(A, op)
    n = A.shape[-1]
    if not left:
        if B.shape[-1] != n:
            raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation XA = B ({n}x{n} and "
                               f"{B.shape[-2]}x{B.shape[-1]})")
        return _mT(solve_triangular(_mT(A), _mT(B), upper=not upper, left=True, unitriangular=unitriangular))
    if B.shape[-2] != n:
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation AX = B ({n}x{n} and "
                           f"{B.shape[-2]}x{B.shape[-1]})")
    batch = _bshape(A.shape[:-2], B.shape[:-2])
    Ae = A.expand(*batch, n, n)
    Be = B.expand(*batch, n, B.shape[-1])
    if _needs_grad(A, B):
        return _SolveTriangular.apply(Ae, Be, bool(upper), bool(unitriangular))
    return _C._linalg_trsm(Ae, Be, bool(upper), bool(unitriangular))


# ------------------------------------------------------------------------------------------------- QR

def _qr_backward_tall(gQ, gR, Q, R):
    """torch's linalg_qr_backward for m >= n: gA = [gQ + Q syminvadj(triu(gR R^T - Q^T gQ))] R^{-T}."""
    M = None
    if gR is not None:
        M = gR @ _mT(R)
    if gQ is not None:
        M = -(_mT(Q) @ gQ) if M is None else M - _mT(Q) @ gQ
    M = _triu(M)
    S = M + _mT(M)
    S = S - 0.5 * S.diagonal(0, -2, -1).diag_embed()
    gA = Q @ S
    if gQ is not None:
        gA = gA + gQ
    return solve_triangular(_mT(R), gA, upper=False, left=False)


class _QR(Function):
    _double_backward = True  # (the backward is written with recording ops)

    @staticmethod
    def forward(ctx, A, mode):
        Q, R = _C._linalg_qr(A, mode)
        ctx.set_materialize_grads(False)
        ctx.mode = mode
        ctx.mn = (A.shape[-2], A.shape[-1])
        ctx.save_for_backward(A, Q, R)
        return Q, R

    @staticmethod
    def backward(ctx, gQ, gR):
        A, Q, R = ctx.saved_tensors
        m, n = ctx.mn
        if gQ is None and gR is None:
            return None, None
        if ctx.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. "
                               "Please use linalg.qr(A, mode='reduced') if you are going to differentiate through "
                               "linalg.qr.")
        if ctx.mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and nrows > ncols.")
        if m >= n:
            return _qr_backward_tall(gQ, gR, Q, R), None
        # m < n: A = [X | Y], R = [U | V]; X = Q U is the square case, Y = Q V.
        Y = A.narrow(-1, m, n - m)
        U = R.narrow(-1, 0, m)
        gY = gX = None
        if gR is not None:
            gU = gR.narrow(-1, 0, m)
            gV = gR.narrow(-1, m, n - m)
            gY = Q @ gV
            gQ2 = Y @ _mT(gV) if gQ is None else gQ + Y @ _mT(gV)
        else:
            gU, gQ2 = None, gQ
            gY = _C.zeros(list(Y.shape), Y.dtype, Y.device)
        gX = _qr_backward_tall(gQ2, gU, Q, U)
        return cat([gX, gY], -1), None


@_with_out
def qr(A, mode="reduced", *, out=None):
    """Householder QR: (Q, R) with A = Q R; mode 'reduced' (Q m x k), 'complete' (Q m x m) or 'r' (Q empty).
    R's diagonal follows LAPACK's sign convention (as torch)."""
    _check_matrix(A, "linalg.qr")
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', "
                           f"or 'complete'")
    Q, R = _QR.apply(A, mode) if _needs_grad(A) else _C._linalg_qr(A, mode)
    if mode == "r":
        Q = _C.empty([0], A.dtype, A.device)  # torch returns an empty 1-D Q
    return QRResult(Q, R)


class _HouseholderProduct(Function):
    @staticmethod
    def forward(ctx, A, tau):
        return _C._linalg_householder_product(A, tau)

    @staticmethod
    def backward(ctx, g):
        raise NotImplementedError("linalg.householder_product: the derivative is not implemented in dlcore")


@_with_out
def householder_product(A, tau, *, out=None):
    """The first n columns of H_0 ... H_{k-1}, H_i = I - tau_i v_i v_i^T (v_i stored below A's diagonal, v_i(i) = 1),
    as LAPACK's orgqr. Not differentiable in dlcore."""
    _check_matrix(A, "torch.linalg.householder_product", "input")
    _check_float(tau, "torch.linalg.householder_product", "tau")
    if A.shape[-2] < A.shape[-1]:
        raise RuntimeError("torch.linalg.householder_product: input.shape[-2] must be greater than or equal to "
                           "input.shape[-1]")
    if tau.shape[-1] > A.shape[-1]:
        raise RuntimeError("torch.linalg.householder_product: input.shape[-1] must be greater than or equal to "
                           "tau.shape[-1]")
    if list(tau.shape[:-1]) != list(A.shape[:-2]):
        raise RuntimeError(f"torch.linalg.householder_product: Expected batch dimensions of tau to be equal to "
                           f"input.shape[:-2], but got {list(tau.shape[:-1])}")
    if _needs_grad(A, tau):
        return _HouseholderProduct.apply(A, tau)
    return _C._linalg_householder_product(A, tau)


# ------------------------------------------------------------------------------------------------- eigh

def _check_uplo(UPLO):
    if UPLO not in ("L", "U", "l", "u"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return UPLO in ("U", "u")


class _Eigh(Function):
    """torch's hermitian eigen backward: gA = V (skew(V^T gV)/2 / E + diag(gL)) V^T, E_ij = L_j - L_i."""

    _double_backward = True  # (the backward is written with recording ops)

    @staticmethod
    def forward(ctx, A, upper):
        L, V = _C._linalg_eigh(A, upper, True)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(L, V)
        return L, V

    @staticmethod
    def backward(ctx, gL, gV):
        L, V = ctx.saved_tensors
        n = L.shape[-1]
        if gL is None and gV is None:
            return None, None
        if gV is not None:
            VhgV = _mT(V) @ gV
            VhgV = 0.5 * (VhgV - _mT(VhgV))
            E = L.unsqueeze(-2) - L.unsqueeze(-1)
            E = E + _eye_like(n, E)
            R = VhgV / E
            R = R - R.diagonal(0, -2, -1).diag_embed()
            if gL is not None:
                R = R + gL.diag_embed()
        else:
            R = gL.diag_embed()
        return V @ R @ _mT(V), None


@_with_out
def eigh(A, UPLO="L", *, out=None):
    """(eigenvalues ascending, eigenvectors as columns) of the symmetric A, reading its lower (UPLO='L') or upper
    triangle. Cyclic Jacobi in float64 (float32 inputs are rounded back)."""
    _check_square(A, "linalg.eigh")
    upper = _check_uplo(UPLO)
    if _needs_grad(A):
        return EighResult(*_Eigh.apply(A, upper))
    return EighResult(*_C._linalg_eigh(A, upper, True))


@_with_out
def eigvalsh(A, UPLO="L", *, out=None):
    _check_square(A, "linalg.eigvalsh")
    upper = _check_uplo(UPLO)
    if _needs_grad(A):
        return _Eigh.apply(A, upper)[0]
    return _C._linalg_eigh(A, upper, False)[0]


# ------------------------------------------------------------------------------------------------- SVD

def _svd_backward(gU, gS, gVh, U, S, Vh):
    m, n = U.shape[-2], Vh.shape[-1]
    if gU is None and gVh is None:
        if gS is None:
            return None
        return U @ (gS.unsqueeze(-1) * Vh) if m >= n else (U * gS.unsqueeze(-2)) @ Vh
    k = S.shape[-1]
    UhgU = VhgV = None
    if gU is not None:
        t = _mT(U) @ gU
        UhgU = t - _mT(t)
    if gVh is not None:
        t = Vh @ _mT(gVh)
        VhgV = t - _mT(t)
    S2 = S * S
    E = S2.unsqueeze(-2) - S2.unsqueeze(-1)
    E = E + _eye_like(k, E)
    if UhgU is not None and VhgV is not None:
        gA = (UhgU * S.unsqueeze(-2) + S.unsqueeze(-1) * VhgV) / E
    elif UhgU is not None:
        gA = (UhgU / E) * S.unsqueeze(-2)
    else:
        gA = S.unsqueeze(-1) * (VhgV / E)
    if gS is not None:
        gA = gA + gS.diag_embed()
    if m > n and gU is not None:
        gA = U @ gA
        gUSinv = gU / S.unsqueeze(-2)
        gA = gA + gUSinv - U @ (_mT(U) @ gUSinv)
        gA = gA @ Vh
    elif m < n and gVh is not None:
        gA = gA @ Vh
        SinvgVh = gVh / S.unsqueeze(-1)
        gA = gA + SinvgVh - (SinvgVh @ _mT(Vh)) @ Vh
        gA = U @ gA
    else:
        gA = U @ (gA @ Vh) if m >= n else (U @ gA) @ Vh
    return gA


def _svd_raw(A, full_matrices, compute_uv):
    """The SVD kernel, after torch's check: a NaN in A raises LinAlgError (the iteration cannot converge; the
    rank of such a matrix came out 0)."""
    if A.numel() and builtins.bool(_C.any(_C.isnan(A), None, False).item()):
        raise LinAlgError("linalg.svd: The algorithm failed to converge because the input matrix contained "
                          "non-finite values.")
    return _C._linalg_svd(A, full_matrices, compute_uv)


class _SVD(Function):
    _double_backward = True  # (the backward is written with recording ops)

    @staticmethod
    def forward(ctx, A, full_matrices):
        U, S, Vh = _svd_raw(A, full_matrices, True)
        ctx.set_materialize_grads(False)
        ctx.full = full_matrices
        ctx.save_for_backward(U, S, Vh)
        return U, S, Vh

    @staticmethod
    def backward(ctx, gU, gS, gVh):
        U, S, Vh = ctx.saved_tensors
        if ctx.full:
            k = S.shape[-1]
            U, Vh = U.narrow(-1, 0, k), Vh.narrow(-2, 0, k)
            gU = gU.narrow(-1, 0, k) if gU is not None else None
            gVh = gVh.narrow(-2, 0, k) if gVh is not None else None
        return _svd_backward(gU, gS, gVh, U, S, Vh), None


class _SVDVals(Function):
    @staticmethod
    def forward(ctx, A):
        U, S, Vh = _svd_raw(A, False, True)
        ctx.save_for_backward(U, S, Vh)
        return S

    @staticmethod
    def backward(ctx, gS):
        U, S, Vh = ctx.saved_tensors
        return _svd_backward(None, gS, None, U, S, Vh)

    @staticmethod
    def _double_backward_fn(ctx, gS):
        """create_graph: the singular values recomputed through the recorded svd (A rebuilt as U S Vh, with the
        input's history) and differentiated."""
        from .autograd import _inputs_with_history, _recompute_vjp
        U, S, Vh = ctx.saved_tensors
        (A,) = _inputs_with_history(ctx, ((U * S.unsqueeze(-2)) @ Vh,))
        return _recompute_vjp(lambda a: _SVD.apply(a, False)[1], (A,), (gS,))[0]


@_with_out
def svd(A, full_matrices=True, *, driver=None, out=None):
    """(U, S, Vh) with A = U diag(S) Vh, S descending (one-sided Jacobi in float64). full_matrices=True gives
    U m x m and Vh n x n."""
    _check_matrix(A, "linalg.svd")
    if _needs_grad(A):
        return SVDResult(*_SVD.apply(A, bool(full_matrices)))
    return SVDResult(*_svd_raw(A, bool(full_matrices), True))


@_with_out
def svdvals(A, *, driver=None, out=None):
    _check_matrix(A, "linalg.svdvals")
    if _needs_grad(A):
        return _SVDVals.apply(A)
    return _svd_raw(A, False, False)[1]


# ------------------------------------------------------------------------------------------------- pinv, rank

def _tol(S, atol, rtol, m, n, op):
    """The cut-off max(atol, rtol * S_max) per matrix (shape [..., 1]) with torch's defaults: rtol = eps * max(m, n)
    unless atol > 0 is given (then rtol = 0)."""
    if rtol is None:
        atol_pos = atol is not None and (_isT(atol, Tensor) or atol > 0)
        rtol = 0.0 if atol_pos else _eps(S.dtype) * builtins.max(m, n)
    if atol is None:
        atol = 0.0
    smax = S.amax(-1, keepdim=True) if S.shape[-1] > 0 else _C.zeros(list(S.shape[:-1]) + [1], S.dtype, S.device)
    at = atol.unsqueeze(-1) if _isT(atol, Tensor) else _scalar(atol, S)
    rt = rtol.unsqueeze(-1) if _isT(rtol, Tensor) else _scalar(rtol, S)
    thr = rt * smax
    return _ops.where(at > thr, at, thr)


class _Pinv(Function):
    _double_backward = True  # (the backward is written with recording ops)

    @staticmethod
    def forward(ctx, A, atol, rtol, hermitian):
        P = _pinv_raw(A, atol, rtol, hermitian)
        ctx.save_for_backward(A, P)
        return P

    @staticmethod
    def backward(ctx, g):
        A, P = ctx.saved_tensors
        m, n = A.shape[-2], A.shape[-1]
        Ph, gh = _mT(P), _mT(g)
        if m <= n:
            K = gh @ P
            KPh = K @ Ph
            gA = -_mT(P @ K) + KPh - (A @ P) @ KPh + (Ph @ P) @ (gh - K @ A)
        else:
            K = P @ gh
            PhK = Ph @ K
            gA = -_mT(K @ P) + ((gh - A @ K) @ P) @ Ph + PhK - (PhK @ P) @ A
        return gA, None, None, None


def _pinv_raw(A, atol, rtol, hermitian):
    m, n = A.shape[-2], A.shape[-1]
    if hermitian:
        L, V = _C._linalg_eigh(A, False, True)
        tol = _tol(L.abs(), atol, rtol, m, n, "linalg.pinv")
        Linv = _ops.where(L.abs() > tol, L.reciprocal(), _scalar(0, L))
        return (V * Linv.unsqueeze(-2)) @ _mT(V)
    U, S, Vh = _svd_raw(A, False, True)
    tol = _tol(S, atol, rtol, m, n, "linalg.pinv")
    Sinv = _ops.where(S > tol, S.reciprocal(), _scalar(0, S))
    return (_mT(Vh) * Sinv.unsqueeze(-2)) @ _mT(U)


@_with_out
def pinv(A, rcond=None, hermitian=False, *, atol=None, rtol=None, out=None):
    """The Moore-Penrose pseudo-inverse through the SVD (or eigh with hermitian=True): singular values <=
    max(atol, rtol * S_max) are dropped (default rtol = eps * max(m, n)); rcond is the older name of rtol."""
    _check_matrix(A, "linalg.pinv")
    if rcond is not None:
        if rtol is not None:
            raise RuntimeError("linalg.pinv: rcond and rtol cannot be given together")
        rtol = rcond
    if _needs_grad(A):
        return _Pinv.apply(A, atol, rtol, bool(hermitian))
    return _pinv_raw(A, atol, rtol, bool(hermitian))


@_with_out
def matrix_rank(A, tol=None, hermitian=False, *, atol=None, rtol=None, out=None):
    """The number of singular values > max(atol, rtol * S_max) (int64)."""
    _check_matrix(A, "linalg.matrix_rank")
    if tol is not None:
        atol, rtol = tol, 0.0
    m, n = A.shape[-2], A.shape[-1]
    if hermitian:
        S = _C._linalg_eigh(A, False, False)[0].abs()
    else:
        S = _svd_raw(A, False, False)[1]
    t = _tol(S, atol, rtol, m, n, "linalg.matrix_rank")
    return (S > t).sum(-1)


def lstsq(A, B, rcond=None, *, driver=None):
    """Least squares: the X minimising ||A X - B|| (the minimum-norm solution for a wide full-rank A), through
    Householder QR (differentiable). Outputs as torch's drivers: residuals ||A X - B||^2 for m > n with 'gels',
    'gelsd' and 'gelss' (empty for the default 'gelsy'), rank for all but 'gels', singular values for 'gelsd' and
    'gelss'. A rank-deficient A (below rcond) gets the minimum-norm solution by the pseudo-inverse, except with
    'gels' (full rank assumed, as LAPACK's gels: inf/nan)."""
    op = "torch.linalg.lstsq"
    _check_matrix(A, op, "input")
    _check_float(B, op, "b")
    _check_same(A, B, "torch.linalg.lstsq", "input", "b")
    if driver not in (None, "gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(f"torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)")
    m, n = A.shape[-2], A.shape[-1]
    if not (0 <= A.ndim - B.ndim <= 1):
        raise RuntimeError("torch.linalg.lstsq: input.dim() must be greater or equal to other.dim() and "
                           "(input.dim() - other.dim()) <= 1")
    vec = B.ndim == A.ndim - 1
    Bm = B.unsqueeze(-1) if vec else B
    if Bm.shape[-2] != m:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-2), got {m} and "
                           f"{Bm.shape[-2]}")
    batch = _bshape(A.shape[:-2], Bm.shape[:-2])
    Ae = A.expand(*batch, m, n)
    Be = Bm.expand(*batch, m, Bm.shape[-1])
    drv = driver or "gelsy"
    rank = matrix_rank(Ae, rtol=rcond) if drv != "gels" else _C.empty([0], _C.dtype.int64, A.device)
    # The rank-revealing drivers (gelsy, gelsd, gelss) give the minimum-norm solution of a rank-deficient A, its
    # singular values below rcond * s_max dropped (rcond None: eps * max(m, n), torch's default): pinv(A) B. A full
    # rank A (every batch element) keeps the QR route.
    deficient = drv != "gels" and rank.numel() and builtins.bool((rank < min(m, n)).any().item())
    if deficient:
        X = pinv(Ae, rtol=rcond) @ Be
    elif m >= n:
        Q, R = qr(Ae)
        X = solve_triangular(R, _mT(Q) @ Be, upper=True)
    else:
        Q, R = qr(_mT(Ae))  # A^T = Q R: X = Q R^{-T} B
        X = Q @ solve_triangular(_mT(R), Be, upper=False)
    empty = _C.empty([0], A.dtype, A.device)
    if m > n and drv != "gelsy" and not deficient:  # (torch: no residuals when the rank is below n)
        res = ((Ae @ X - Be) ** 2).sum(-2)
    else:
        res = empty
    sv = svdvals(Ae) if drv in ("gelsd", "gelss") else empty
    if vec:
        X = X.squeeze(-1)  # (residuals keep their trailing 1, as torch's)
    return LstsqResult(X, res, rank, sv)


# ------------------------------------------------------------------------------------------------- powers, exp

@_with_out
def matrix_power(A, n, *, out=None):
    """A^n by repeated squaring; n < 0 uses inv(A); n = 0 gives I (batched)."""
    _check_square(A, "linalg.matrix_power")
    if not isinstance(n, numbers.Integral):
        raise TypeError(f"linalg.matrix_power: n must be an integer, got {type(n).__name__}")
    n = int(n)
    if n == 0:
        return _eye_like(A.shape[-1], A, list(A.shape[:-2])).clone()
    if n < 0:
        A = inv(A)
        n = -n
    result = None
    base = A
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return result


_PADE13 = [64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800., 129060195264000.,
           10559470521600., 670442572800., 33522128640., 1323241920., 40840800., 960960., 16380., 182., 1.]
_THETA13 = 5.371920351148152


def _matrix_exp_raw(A):
    """exp(A): scaling and squaring with the [13/13] Pade approximant (Higham 2005), one scaling per matrix."""
    n = A.shape[-1]
    batch = list(A.shape[:-2])
    norms = (_host(A.abs().sum(-2).amax(-1)).reshape(-1).astype(np.float64) if n
             else np.zeros(math.prod(batch)))
    norms = np.where(np.isfinite(norms), norms, 0.0)  # inf/nan entries: no scaling (the result is inf/nan anyway)
    s = np.maximum(0, np.ceil(np.log2(np.maximum(norms, 1e-300) / _THETA13))).astype(np.int64)
    smax = int(s.max()) if s.size else 0
    scale = np.ldexp(1.0, -s).reshape(batch + [1, 1])
    st = _C.from_numpy(np.ascontiguousarray(scale.astype(np.float32 if A.dtype == _C.dtype.float32
                                                           else np.float64)))
    if A.device.type != "cpu":
        st = st.to(A.device)
    X = A * st
    b = _PADE13
    I = _eye_like(n, A)
    X2 = X @ X
    X4 = X2 @ X2
    X6 = X4 @ X2
    U = X @ (X6 @ (b[13] * X6 + b[11] * X4 + b[9] * X2) + b[7] * X6 + b[5] * X4 + b[3] * X2 + b[1] * I)
    V = X6 @ (b[12] * X6 + b[10] * X4 + b[8] * X2) + b[6] * X6 + b[4] * X4 + b[2] * X2 + b[0] * I
    R = _solve(V - U, V + U, "linalg.matrix_exp", check=False)
    for step in range(smax):
        mask = (s > step).reshape(batch + [1, 1])
        R2 = R @ R
        if mask.all():
            R = R2
        else:
            mt = _C.from_numpy(np.ascontiguousarray(mask))
            if A.device.type != "cpu":
                mt = mt.to(A.device)
            R = _ops.where(mt, R2, R)
    return R


class _MatrixExp(Function):
    """exp(A); gA = exp([[A^T, G], [0, A^T]])[:n, n:] (the block-triangular identity of the Frechet derivative)."""

    @staticmethod
    def forward(ctx, A):
        ctx.save_for_backward(A)
        return _matrix_exp_raw(A)

    @staticmethod
    def backward(ctx, g):
        (A,) = ctx.saved_tensors
        n = A.shape[-1]
        At = _mT(A)
        Z = _C.zeros(list(A.shape), A.dtype, A.device)
        M = cat([cat([At, g], -1), cat([Z, At], -1)], -2)
        return _matrix_exp_raw(M).narrow(-2, 0, n).narrow(-1, n, n)

    @staticmethod
    def _double_backward_fn(ctx, g):  # create_graph: the same block identity through the recorded matrix_exp
        (A,) = ctx.saved_tensors
        n = A.shape[-1]
        At = _mT(A)
        Z = _C.zeros(list(A.shape), A.dtype, A.device)
        M = cat([cat([At, g], -1), cat([Z, At], -1)], -2)
        return _MatrixExp.apply(M).narrow(-2, 0, n).narrow(-1, n, n)


def matrix_exp(A):
    """The matrix exponential (scaling and squaring with Pade 13)."""
    _check_square(A, "linalg.matrix_exp")
    if _needs_grad(A):
        return _MatrixExp.apply(A)
    return _matrix_exp_raw(A)


# ------------------------------------------------------------------------------------------------- norms

def _dims(dim, nd, op):
    if dim is None:
        return list(range(nd))
    if isinstance(dim, numbers.Integral):
        dim = [dim]
    out = []
    for d in dim:
        if not -builtins.max(nd, 1) <= d < builtins.max(nd, 1):
            raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-builtins.max(nd, 1)}, "
                             f"{builtins.max(nd, 1) - 1}], but got {d})")
        out.append(d % builtins.max(nd, 1))
    if len(set(out)) != len(out):
        raise RuntimeError(f"{op}: dim {list(dim)} appears multiple times in the list of dims")
    return out


def _vnorm_raw(x, ord, dims):
    if x.dtype in (_C.dtype.bfloat16, _C.dtype.float16):  # torch: float32 arithmetic, one rounding at the end
        return _vnorm_raw(x.float(), ord, dims).to(x.dtype)
    a = x.abs()
    if ord == math.inf:
        return a.amax(dims, keepdim=True)
    if ord == -math.inf:
        return a.amin(dims, keepdim=True)
    if ord == 0:
        return (x != 0).to(x.dtype).sum(dims, keepdim=True)
    if ord == 1:
        return a.sum(dims, keepdim=True)
    if ord == 2:
        return (x * x).sum(dims, keepdim=True).sqrt()
    return (a ** ord).sum(dims, keepdim=True) ** (1.0 / ord)


class _VectorNorm(Function):
    """torch's norm_backward (subgradient 0 at a zero vector, ties of the inf-norms sharing the gradient)."""

    @staticmethod
    def forward(ctx, x, ord, dims, keepdim):
        nk = _vnorm_raw(x, ord, dims)
        ctx.save_for_backward(x, nk)
        ctx.ord, ctx.dims, ctx.keepdim = ord, dims, keepdim
        return nk if keepdim else _squeeze_dims(nk, dims)

    @staticmethod
    def backward(ctx, g):
        x, nk = ctx.saved_tensors
        p = ctx.ord
        if not ctx.keepdim:
            for d in sorted(ctx.dims):
                g = g.unsqueeze(d)
        zero = _scalar(0, x)
        if p == 0:
            return x * 0, None, None, None
        if p == 1:
            return x.sign() * g, None, None, None
        if p in (math.inf, -math.inf):
            a = x.abs()
            mask = ((a == nk) | a.isnan()).to(x.dtype)
            return x.sign() * ((g / mask.sum(ctx.dims, keepdim=True)) * mask), None, None, None
        if p < 1:
            xs = _ops.where(x == 0, zero, x.sign() * x.abs() ** (p - 1))
            return xs * g * nk ** (1 - p), None, None, None
        if p < 2:
            xs = x.sign() * x.abs() ** (p - 1)
        elif p == 2:
            xs = x
        else:
            xs = x * x.abs() ** (p - 2)
        sv = _ops.where(nk == 0, zero, g / (nk if p == 2 else nk ** (p - 1)))
        return xs * sv, None, None, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        """create_graph: the norm recomputed with recording ops (dlcore._ops.norm: the same subgradients) and
        differentiated."""
        from .autograd import _recompute_vjp
        x = ctx.saved_tensors[0]
        p, dims, keepdim = ctx.ord, list(ctx.dims), ctx.keepdim
        if p == 0:
            return _C.zeros(list(x.shape), x.dtype, x.device), None, None, None
        return _recompute_vjp(lambda t: _ops.norm(t, p, dims, keepdim), (x,), (g,))[0], None, None, None


def _squeeze_dims(t, dims):
    for d in sorted(dims, reverse=True):
        t = t.squeeze(d)
    return t


@_with_out
def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    """The vector ord-norm of x over dim (all dims by default): inf, -inf, 0 (count of nonzeros), any real p."""
    op = "linalg.vector_norm"
    if not _isT(x, Tensor):
        raise TypeError(f"{op}: argument 'x' must be a dlcore.Tensor, got {type(x).__name__}")
    if isinstance(ord, str) or not isinstance(ord, numbers.Real):
        raise TypeError(f"linalg_vector_norm(): argument 'ord' must be Number, not {type(ord).__name__}")
    if dtype is not None:
        if x.dtype.is_floating_point and _C.promote_types(x.dtype, dtype) != dtype:
            raise RuntimeError(f"{op}: the dtype of the input ({_dname(x.dtype)}) should be convertible without "
                               f"narrowing to the specified dtype ({_dname(dtype)})")
        x = x.to(dtype)
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got {_dname(x.dtype)}")
    ord = float(ord)
    if dim is not None and not isinstance(dim, numbers.Integral) and len(dim) == 0:
        dim = None  # torch: dim=() reduces every dim (as None), keepdim then keeps them all as size 1
    dims = _dims(dim, x.ndim, op)
    if x.ndim == 0:
        return vector_norm(x.reshape(1), ord, 0, False).reshape([])
    if (ord < 0 or ord == math.inf) and any(x.shape[d] == 0 for d in dims):  # torch: only an empty reduced dim
        raise RuntimeError(f"{op}: Expected a non-empty tensor for ord {ord} along the reduced dims")
    if _needs_grad(x):
        return _VectorNorm.apply(x, ord, dims, bool(keepdim))
    nk = _vnorm_raw(x, ord, dims)
    return nk if keepdim else _squeeze_dims(nk, dims)


@_with_out
def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    """The matrix norm over the two dims: 'fro', 'nuc', inf, -inf, 1, -1, 2, -2."""
    op = "linalg.matrix_norm"
    _check_tensor_any(A, op)
    if dtype is not None:
        A = A.to(dtype)
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        raise RuntimeError(f"{op}: dim must be a 2-tuple. Got {dim}")
    d0, d1 = _dims(dim, A.ndim, op)
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord == "nuc" or ord in (2, -2):
        _check_float(A, op)
        Am = _ops.movedim(A, (d0, d1), (-2, -1))
        S = svdvals(Am)
        if ord == "nuc":
            r = S.sum(-1)
        elif S.shape[-1] == 0:  # an empty matrix: torch gives 0 for the 2-norm and raises for -2
            if ord == -2:
                raise RuntimeError(f"{op}: Expected a non-empty matrix for ord -2, got shape {list(A.shape)}")
            r = _C.zeros(list(S.shape[:-1]), S.dtype, S.device)
        elif ord == 2:
            r = S.amax(-1)
        else:
            r = S.amin(-1)
        if keepdim:
            for d in sorted((d0, d1)):
                r = r.unsqueeze(d)
        return r
    if ord in (1, -1, math.inf, -math.inf):
        if ord in (math.inf, -math.inf):
            d0, d1 = d1, d0
        s = A.abs().sum(d0, keepdim=True)
        if s.shape[d1] == 0:  # no columns (rows for inf) to take the max of: torch gives 0, and raises for the min
            if ord < 0:
                raise RuntimeError(f"{op}: Expected a non-empty dim {dim[1 if ord == -1 else 0]} of A (shape "
                                   f"{list(A.shape)}) for ord {ord}")
            shape = list(s.shape)
            shape[d1] = 1
            r = _C.zeros(shape, s.dtype, s.device)
        else:
            r = s.amax(d1, keepdim=True) if ord > 0 else s.amin(d1, keepdim=True)
        return r if keepdim else _squeeze_dims(r, [d0, d1])
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def _check_tensor_any(A, op):
    if not _isT(A, Tensor):
        raise TypeError(f"{op}: argument 'A' must be a dlcore.Tensor, got {type(A).__name__}")
    if not A.dtype.is_floating_point:
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got {_dname(A.dtype)}")


@_with_out
def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):
    """torch.linalg.norm: a matrix norm when ord is a string or dim has two entries (or A is 2-D with ord given),
    otherwise a vector norm (the 2-norm of the flattened A when ord and dim are None)."""
    op = "linalg.norm"
    _check_tensor_any(A, op)
    if isinstance(dim, numbers.Integral):
        dim = (dim,)
    if dim is not None:
        if len(dim) not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got {list(dim)}")
        if len(dim) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
        return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.ndim == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    if A.ndim == 1:
        if isinstance(ord, str):
            raise RuntimeError(f"linalg.norm: Order {ord} not supported for vectors.")
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got "
                       f"{A.ndim}D.")


@_with_out
def cond(A, p=None, *, out=None):
    """The condition number in the p-norm (default 2: S_max / S_min through the SVD; others ||A||_p ||A^-1||_p)."""
    _check_matrix(A, "linalg.cond")
    if p is None or p in (2, -2):
        if min(A.shape[-2:]) == 0:  # torch: 0 for an empty matrix
            return _C.zeros(list(A.shape[:-2]), A.dtype, A.device)
        S = svdvals(A)
        r = S.amax(-1) / S.amin(-1)
        return r.reciprocal() if p == -2 else r
    if p not in ("fro", "nuc", 1, -1, math.inf, -math.inf):
        raise RuntimeError(f"linalg.cond got an invalid norm type: {p}")
    _check_square(A, "linalg.cond")
    if A.shape[-1] == 0:
        return _C.zeros(list(A.shape[:-2]), A.dtype, A.device)
    return matrix_norm(A, p) * matrix_norm(inv(A), p)


# ------------------------------------------------------------------------------------------------- small ops

@_with_out
def cross(input, other, *, dim=-1, out=None):
    """The 3-vector cross product along dim (default -1), broadcasting the other dims."""
    from ._tensor_extra import cross as _cross
    return _cross(input, other, dim=dim)


@_with_out
def vecdot(x, y, *, dim=-1, out=None):
    """sum(x * y, dim) (real tensors) with broadcasting."""
    if x.dtype != y.dtype:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found x of type "
                           f"{_dname(x.dtype)} and y of type {_dname(y.dtype)} instead")
    return (x * y).sum(dim)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    return A.diagonal(offset, dim1, dim2)


@_with_out
def multi_dot(tensors, *, out=None):
    """The product of a chain of matrices (the first and last may be 1-D), multiplied in the cheapest order."""
    ts = list(tensors)
    if len(ts) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(ts)}")
    for i, t in enumerate(ts):
        lo = 1 if i in (0, len(ts) - 1) else 2
        if not (lo <= t.ndim <= 2):
            raise RuntimeError(f"multi_dot(): tensor {i} must be {'1D or 2D' if lo == 1 else '2D'} but got "
                               f"{t.ndim}D")
    first_vec, last_vec = ts[0].ndim == 1, ts[-1].ndim == 1
    if first_vec:
        ts[0] = ts[0].unsqueeze(0)
    if last_vec:
        ts[-1] = ts[-1].unsqueeze(-1)
    for i in range(len(ts) - 1):
        if ts[i].shape[-1] != ts[i + 1].shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes {list(ts[i].shape)} and "
                               f"{list(ts[i + 1].shape)} cannot be multiplied")
    dims = [ts[0].shape[0]] + [t.shape[1] for t in ts]
    k = len(ts)
    cost = [[0] * k for _ in range(k)]
    split = [[0] * k for _ in range(k)]
    for ln in range(1, k):
        for i in range(k - ln):
            j = i + ln
            cost[i][j] = math.inf
            for s in range(i, j):
                c = cost[i][s] + cost[s + 1][j] + dims[i] * dims[s + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, s

    def prod(i, j):
        if i == j:
            return ts[i]
        s = split[i][j]
        return prod(i, s) @ prod(s + 1, j)

    r = prod(0, k - 1)
    if first_vec:
        r = r.squeeze(0)
    if last_vec:
        r = r.squeeze(-1)
    return r


@_with_out
def matmul(input, other, *, out=None):
    """Alias of dlcore.matmul."""
    return _ops.matmul(input, other)


@_with_out
def tensorinv(A, ind=2, *, out=None):
    """The inverse of A for tensordot over its first ind dims: inv(A.reshape(prod(shape[:ind]), -1)) reshaped to
    shape[ind:] + shape[:ind]."""
    _check_float(A, "linalg.tensorinv")
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    out_shape = list(A.shape[ind:]) + list(A.shape[:ind])
    rows = int(np.prod(A.shape[:ind]))
    cols = int(np.prod(A.shape[ind:]))
    if rows != cols:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {cols} != {rows}")
    return inv(A.reshape(rows, cols)).reshape(out_shape)


@_with_out
def tensorsolve(A, B, dims=None, *, out=None):
    """X with tensordot(A, X, X.ndim) = B (dims: dims of A moved to the end first)."""
    _check_float(A, "linalg.tensorsolve")
    _check_float(B, "linalg.tensorsolve", "B")
    if dims is not None:
        dims = [d % A.ndim for d in dims]
        keep = [d for d in range(A.ndim) if d not in dims]
        A = A.permute(*(keep + dims))
    x_shape = list(A.shape[B.ndim:])
    rows = int(np.prod(B.shape))
    cols = int(np.prod(x_shape))
    if list(A.shape[:B.ndim]) != list(B.shape) or rows != cols:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
                           f"prod(self.shape[:other.ndim]), but got {cols} != {rows}")
    return solve(A.reshape(rows, cols), B.reshape(rows)).reshape(x_shape)


def vander(x, *, N=None):
    """The Vandermonde matrix with columns x^0, x^1, ..., x^(N-1) (N defaults to x.shape[-1])."""
    if not _isT(x, Tensor):
        raise TypeError(f"linalg.vander: argument 'x' must be a dlcore.Tensor, got {type(x).__name__}")
    if x.ndim < 1:
        raise RuntimeError("linalg.vander: x must have at least one dimension")
    n = x.shape[-1] if N is None else int(N)
    if n <= 1:  # (torch: N = 1, or a length-1 x without N, is an error too)
        raise RuntimeError(f"linalg.vander: N must be greater than 1, got {n}")
    from ._sorting import cumprod
    ones = _C.full(list(x.shape) + [1], 1.0, x.dtype, x.device)
    if n == 1:
        return ones
    xs = x.unsqueeze(-1).expand(*x.shape, n - 1)
    return cumprod(cat([ones, xs], -1), -1)


# ------------------------------------------------------------------------------------------------- top level

@_with_out
def _top_svd(input, some=True, compute_uv=True, *, out=None):
    """torch.svd: (U, S, V) with V (not Vh); some=False gives the complete U and V; compute_uv=False returns
    zero-filled U (m x m) and V (n x n) as torch."""
    _check_matrix(input, "svd")
    if not compute_uv:
        S = svdvals(input)
        m, n = input.shape[-2], input.shape[-1]
        b = list(input.shape[:-2])
        return TorchSVDResult(_C.zeros(b + [m, m], input.dtype, input.device), S,
                              _C.zeros(b + [n, n], input.dtype, input.device))
    U, S, Vh = svd(input, full_matrices=not some)
    return TorchSVDResult(U, S, _mT(Vh))


@_with_out
def _top_qr(input, some=True, *, out=None):
    return qr(input, "reduced" if some else "complete")


@_with_out
def cholesky_solve(B, L, upper=False, *, out=None):
    """X with A X = B for A = L L^T (upper: A = U^T U) from the Cholesky factor."""
    op = "cholesky_solve"
    _check_matrix(B, op, "input")
    _check_matrix(L, op, "input2")
    _check_same(B, L, op, "input", "input2")
    if upper:
        Y = solve_triangular(_mT(L), B, upper=False)
        return solve_triangular(L, Y, upper=True)
    Y = solve_triangular(L, B, upper=False)
    return solve_triangular(_mT(L), Y, upper=True)


@_with_out
def cholesky_inverse(L, upper=False, *, out=None):
    """A^{-1} for A = L L^T (upper: U^T U)."""
    _check_square(L, "cholesky_inverse", "input")
    if L.numel() and builtins.bool(_C.any(_C.eq(_C.diagonal(L, 0, -2, -1), 0), None, False).item()):
        raise LinAlgError("cholesky_inverse: a diagonal element of the factor is zero, the inversion could not be "
                          "completed because the input matrix is singular")
    return cholesky_solve(_eye_like(L.shape[-1], L, list(L.shape[:-2])), L, upper)


@_with_out
def _top_cholesky(input, upper=False, *, out=None):
    return cholesky(input, upper=upper)


def pinverse(input, rcond=1e-15):
    return pinv(input, rtol=rcond)


@_with_out
def _top_lu_solve(b, LU_data, LU_pivots, *, out=None):
    return lu_solve(LU_data, LU_pivots, b)


@_with_out
def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False, *, out=None):
    """torch.triangular_solve: (X, A.clone()) with op(A) X = b, op = transpose if requested."""
    M = _mT(A) if transpose else A
    X = solve_triangular(M, b, upper=(not upper) if transpose else upper, unitriangular=unitriangular)
    return TriangularSolveResult(X, A.clone())


def _install():
    """Top-level functions (dlcore.det, dlcore.inverse, ...) and Tensor methods, as torch has them."""
    import dlcore
    top = {
        "det": det, "inverse": inv, "logdet": logdet, "slogdet": slogdet, "cholesky": _top_cholesky,
        "cholesky_solve": cholesky_solve, "cholesky_inverse": cholesky_inverse, "pinverse": pinverse,
        "matrix_power": matrix_power, "matrix_exp": matrix_exp, "svd": _top_svd, "qr": _top_qr,
        "lu_solve": _top_lu_solve, "triangular_solve": triangular_solve,
    }
    for name, fn in top.items():
        if not hasattr(dlcore, name):
            setattr(dlcore, name, fn)
    methods = dict(top)
    methods.pop("lu_solve")
    methods["lu_solve"] = lambda self, LU_data, LU_pivots: lu_solve(LU_data, LU_pivots, self)
    methods["pinverse"] = lambda self, rcond=1e-15: pinverse(self, rcond)
    for name, fn in methods.items():
        if not hasattr(Tensor, name):
            setattr(Tensor, name, fn)


_install()
