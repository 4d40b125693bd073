"""dlcore.linalg (python/dlcore/linalg.py over the CPU kernels of csrc/ops/linalg/factor_cpu.cpp) against
torch.linalg and NumPy float64: batched and broadcast shapes, 1x1, singular and ill-conditioned matrices,
non-contiguous inputs, reconstruction invariants (Q R = A, Q^T Q = I, U S Vh = A, A V = V diag(w)), gradients
against torch's and by float64 central differences, the error catalogue, and the top-level aliases / Tensor methods.
Every test runs on each device (cpu, and cuda: the kernels then run on a host copy)."""
import math

import numpy as np
import pytest

import dlcore
import dlcore.linalg as LA
from dlcore.testing import gradcheck

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.filterwarnings("ignore:torch.*is deprecated:UserWarning")

TOL = {"float32": dict(rtol=2e-4, atol=2e-4), "float64": dict(rtol=1e-9, atol=1e-9)}


def D(a, device="cpu", grad=False, dtype=None):
    a = np.asarray(a)
    if dtype is not None:
        a = a.astype(dtype)
    t = dlcore.tensor(a, device=device)
    if grad:
        t.requires_grad_(True)
    return t


def N(x):
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    return np.asarray(x.detach().cpu())


def T(a, grad=False):
    t = torch.from_numpy(np.array(a))
    if grad:
        t.requires_grad_(True)
    return t


def close(d, ref, dtype="float64", scale=1.0, **kw):
    tol = dict(TOL[dtype])
    tol["rtol"] *= scale
    tol["atol"] *= scale
    tol.update(kw)
    got, want = N(d), N(ref) if isinstance(ref, torch.Tensor) else np.asarray(ref)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, **tol)


def rand(rng, *shape, dtype="float64"):
    return rng.standard_normal(shape).astype(dtype)


def spd(rng, *shape, dtype="float64"):
    x = rng.standard_normal(shape)
    n = shape[-1]
    return (x @ np.swapaxes(x, -1, -2) + n * np.eye(n)).astype(dtype)


def sym(rng, *shape, dtype="float64"):
    x = rng.standard_normal(shape)
    return ((x + np.swapaxes(x, -1, -2)) / 2).astype(dtype)


# ------------------------------------------------------------------------------------------------- solve, inv, det

def test_solve_vs_torch(device, float_dtype, rng):
    dt = float_dtype
    A = rand(rng, 2, 3, 4, 4, dtype=dt) + 3 * np.eye(4, dtype=dt)
    B = rand(rng, 3, 4, 2, dtype=dt)
    close(LA.solve(D(A, device), D(B, device)), torch.linalg.solve(T(A), T(B)), dt, 10)
    b = rand(rng, 4, dtype=dt)
    close(LA.solve(D(A[0, 0], device), D(b, device)), torch.linalg.solve(T(A[0, 0]), T(b)), dt, 10)
    Bv = rand(rng, 2, 3, 4, dtype=dt)  # B.shape == A.shape[:-1]: a batch of vectors
    close(LA.solve(D(A, device), D(Bv, device)), torch.linalg.solve(T(A), T(Bv)), dt, 10)
    Br = rand(rng, 5, 4, dtype=dt)
    close(LA.solve(D(A, device), D(Br, device), left=False), torch.linalg.solve(T(A), T(Br), left=False), dt, 10)
    # non-contiguous operands (a transposed A and a strided B) and 1x1
    At = D(A[0], device).transpose(-2, -1)
    Bs = D(rand(rng, 3, 4, 6, dtype=dt), device)[..., ::2]
    close(LA.solve(At, Bs), torch.linalg.solve(T(A[0]).transpose(-2, -1), T(N(Bs))), dt, 10)
    close(LA.solve(D([[2.0]], device, dtype=dt), D([[3.0]], device, dtype=dt)), np.array([[1.5]]), dt)


def test_inv_det_slogdet_vs_torch(device, float_dtype, rng):
    dt = float_dtype
    A = rand(rng, 3, 5, 5, dtype=dt)
    A[1] = A[1] + 5 * np.eye(5, dtype=dt)
    A[2, 3] = A[2, 1]  # singular
    a = D(A, device)
    close(LA.inv(D(A[:2], device)), torch.linalg.inv(T(A[:2])), dt, 20)
    close(LA.det(a), torch.linalg.det(T(A)), dt, 20, atol=1e-3 if dt == "float32" else 1e-10)
    s, l = LA.slogdet(D(A[:2], device))
    ts, tl = torch.linalg.slogdet(T(A[:2]))
    close(s, ts, dt)
    close(l, tl, dt, 10)
    s, l = LA.slogdet(D(np.zeros((2, 2), dt), device))
    assert N(s) == 0 and N(l) == -np.inf
    neg = np.diag([-1.0, 2.0]).astype(dt)
    assert np.isnan(N(dlcore.logdet(D(neg, device))))
    Sp = spd(rng, 3, 3, dtype=dt)
    close(dlcore.logdet(D(Sp, device)), torch.logdet(T(Sp)), dt, 10)
    one = D([[4.0]], device, dtype=dt)
    close(LA.det(one), np.array(4.0), dt)
    close(LA.inv(one), np.array([[0.25]]), dt)
    # an ill-conditioned but invertible matrix: A inv(A) ~ I to the expected accuracy
    H = np.array([[1.0 / (i + j + 1) for j in range(6)] for i in range(6)])  # Hilbert, cond ~ 1.5e7
    if dt == "float64":
        close(D(H) @ LA.inv(D(H, device)).cpu(), np.eye(6), dt, atol=1e-8, rtol=0)
        close(LA.inv(D(H, device)), np.linalg.inv(H), dt, rtol=1e-6, atol=1e-4)


def test_lu_factor_lu_lu_solve(device, float_dtype, rng):
    dt = float_dtype
    A = rand(rng, 2, 5, 5, dtype=dt)
    LU, piv = LA.lu_factor(D(A, device))
    tLU, tpiv = torch.linalg.lu_factor(T(A))
    close(LU, tLU, dt, 20)
    np.testing.assert_array_equal(N(piv), N(tpiv))
    assert piv.dtype == dlcore.int32
    for shape in [(5, 3), (3, 5), (1, 1)]:
        M = rand(rng, *shape, dtype=dt)
        P, L, U = LA.lu(D(M, device))
        tP, tL, tU = torch.linalg.lu(T(M))
        close(P, tP, dt)
        close(L, tL, dt, 10)
        close(U, tU, dt, 10)
    B = rand(rng, 5, 3, dtype=dt)
    for left, adjoint in [(True, False), (True, True), (False, False), (False, True)]:
        rhs = B if left else B.T.copy()
        got = LA.lu_solve(LU, piv, D(rhs, device), left=left, adjoint=adjoint)
        ref = torch.linalg.lu_solve(tLU, tpiv, T(rhs), left=left, adjoint=adjoint)
        close(got, ref, dt, 20)
    close(dlcore.lu_solve(D(B, device), LU, piv), torch.lu_solve(T(B), tLU, tpiv), dt, 20)
    Z = np.array([[[0.0, 0.0], [0.0, 0.0]], [[1.0, 2.0], [2.0, 4.0]], [[1.0, 0.0], [0.0, 1.0]]], dt)
    np.testing.assert_array_equal(N(LA.lu_factor_ex(D(Z, device)).info), N(torch.linalg.lu_factor_ex(T(Z)).info))


def test_solve_triangular(device, float_dtype, rng):
    dt = float_dtype
    A = rand(rng, 2, 4, 4, dtype=dt) + 4 * np.eye(4, dtype=dt)
    B = rand(rng, 3, 1, 4, 2, dtype=dt)
    for upper in (True, False):
        for unit in (False, True):
            got = LA.solve_triangular(D(A, device), D(B, device), upper=upper, unitriangular=unit)
            ref = torch.linalg.solve_triangular(T(A), T(B), upper=upper, unitriangular=unit)
            close(got, ref, dt, 10)
            Br = rand(rng, 3, 4, dtype=dt)
            got = LA.solve_triangular(D(A, device), D(Br, device), upper=upper, left=False, unitriangular=unit)
            ref = torch.linalg.solve_triangular(T(A), T(Br), upper=upper, left=False, unitriangular=unit)
            close(got, ref, dt, 10)
    X, Ac = dlcore.triangular_solve(D(B[0, 0], device), D(A[0], device), upper=True, transpose=True)
    tX, tA = torch.triangular_solve(T(B[0, 0]), T(A[0]), upper=True, transpose=True)
    close(X, tX, dt, 10)
    close(Ac, tA, dt)


def test_large_blocked_paths(device, rng):
    """n > 64 runs the GEMM-blocked LU, Cholesky and triangular solves: residual checks against NumPy."""
    n = 150
    A = rng.standard_normal((n, n)) + 0.5 * np.eye(n)
    B = rng.standard_normal((n, 3))
    X = N(LA.solve(D(A, device), D(B, device)))
    np.testing.assert_allclose(X, np.linalg.solve(A, B), rtol=1e-8, atol=1e-8)
    S = spd(rng, n, n)
    L = N(LA.cholesky(D(S, device)))
    np.testing.assert_allclose(L, np.linalg.cholesky(S), rtol=1e-9, atol=1e-9)
    Bw = rng.standard_normal((n, 100))
    Xt = N(LA.solve_triangular(D(L, device), D(Bw, device), upper=False))
    np.testing.assert_allclose(L @ Xt, Bw, rtol=1e-9, atol=1e-9)
    Xu = N(LA.solve_triangular(D(L.T.copy(), device), D(Bw, device), upper=True))
    np.testing.assert_allclose(L.T @ Xu, Bw, rtol=1e-9, atol=1e-9)
    W = rng.standard_normal((n, 80))  # tall LU (m > n) with blocked panels
    P, Lw, U = LA.lu(D(W, device))
    np.testing.assert_allclose(N(P) @ N(Lw) @ N(U), W, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np.linalg.slogdet(A)[1], N(LA.slogdet(D(A, device))[1]), rtol=1e-10)


# ------------------------------------------------------------------------------------------------- cholesky, qr

def test_cholesky(device, float_dtype, rng):
    dt = float_dtype
    S = spd(rng, 2, 4, 4, dtype=dt)
    close(LA.cholesky(D(S, device)), torch.linalg.cholesky(T(S)), dt, 10)
    close(LA.cholesky(D(S, device), upper=True), torch.linalg.cholesky(T(S), upper=True), dt, 10)
    close(dlcore.cholesky(D(S[0], device)), torch.cholesky(T(S[0])), dt, 10)
    # only the lower (upper) triangle is read
    G = S.copy()
    G[..., 0, 3] = 99.0
    close(LA.cholesky(D(G, device)), torch.linalg.cholesky(T(S)), dt, 10)
    bad = S.copy()
    bad[1, 2, 2] = -50.0
    L, info = LA.cholesky_ex(D(bad, device))
    tL, tinfo = torch.linalg.cholesky_ex(T(bad))
    np.testing.assert_array_equal(N(info), N(tinfo))
    B = rand(rng, 4, 2, dtype=dt)
    Lt = torch.linalg.cholesky(T(S[0]))
    close(dlcore.cholesky_solve(D(B, device), D(N(Lt), device)), torch.cholesky_solve(T(B), Lt), dt, 20)
    close(dlcore.cholesky_solve(D(B, device), D(N(Lt.mT), device), upper=True),
          torch.cholesky_solve(T(B), Lt.mT.contiguous(), upper=True), dt, 20)
    close(dlcore.cholesky_inverse(D(N(Lt), device)), torch.cholesky_inverse(Lt), dt, 20)


@pytest.mark.parametrize("shape", [(5, 3), (3, 3), (3, 5), (2, 4, 2), (1, 1)])
def test_qr(device, float_dtype, rng, shape):
    dt = float_dtype
    A = rand(rng, *shape, dtype=dt)
    for mode in ("reduced", "complete", "r"):
        Q, R = LA.qr(D(A, device), mode=mode)
        tQ, tR = torch.linalg.qr(T(A), mode=mode)
        assert tuple(Q.shape) == tuple(tQ.shape) and tuple(R.shape) == tuple(tR.shape)
        close(R, tR, dt, 10)
        if mode != "r":
            close(Q, tQ, dt, 10)
            q = N(Q).astype(np.float64)
            close(q @ N(R), A, dt, 10)
            k = q.shape[-1]
            close(np.swapaxes(q, -1, -2) @ q, np.broadcast_to(np.eye(k), q.shape[:-2] + (k, k)), dt, 10)
    Q, R = dlcore.qr(D(A, device), some=False)
    close(Q, torch.linalg.qr(T(A), mode="complete")[0], dt, 10)


def test_householder_product(device, rng):
    A = rand(rng, 2, 5, 3)
    tA, tau = torch.geqrf(T(A))
    got = LA.householder_product(D(N(tA), device), D(N(tau), device))
    close(got, torch.linalg.householder_product(tA, tau), "float64", 10)


# ------------------------------------------------------------------------------------------------- eigh, svd

def test_eigh(device, float_dtype, rng):
    dt = float_dtype
    A = sym(rng, 3, 5, 5, dtype=dt)
    w, V = LA.eigh(D(A, device))
    tw, tV = torch.linalg.eigh(T(A))
    close(w, tw, dt, 20)
    v = N(V).astype(np.float64)
    close(A.astype(np.float64) @ v, v * N(w)[..., None, :], dt, 50)
    close(np.swapaxes(v, -1, -2) @ v, np.broadcast_to(np.eye(5), (3, 5, 5)), dt, 20)
    close(np.abs(v), np.abs(N(tV)), dt, 100)  # distinct eigenvalues: columns equal up to sign
    # UPLO reads one triangle of a non-symmetric input
    G = rand(rng, 4, 4, dtype=dt)
    close(LA.eigvalsh(D(G, device), UPLO="U"), torch.linalg.eigvalsh(T(G), UPLO="U"), dt, 20)
    close(LA.eigvalsh(D(G, device)), torch.linalg.eigvalsh(T(G)), dt, 20)
    # repeated eigenvalues and 1x1
    I3 = np.diag([2.0, 2.0, -1.0]).astype(dt)
    w, V = LA.eigh(D(I3, device))
    close(w, np.array([-1.0, 2.0, 2.0]), dt)
    close(LA.eigh(D([[3.0]], device, dtype=dt))[0], np.array([3.0]), dt)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (2, 6, 4), (1, 1)])
def test_svd(device, float_dtype, rng, shape):
    dt = float_dtype
    A = rand(rng, *shape, dtype=dt)
    m, n = shape[-2:]
    for full in (False, True):
        U, S, Vh = LA.svd(D(A, device), full_matrices=full)
        tU, tS, tVh = torch.linalg.svd(T(A), full_matrices=full)
        assert tuple(U.shape) == tuple(tU.shape) and tuple(Vh.shape) == tuple(tVh.shape)
        close(S, tS, dt, 10)
        u, s, vh = (N(x).astype(np.float64) for x in (U, S, Vh))
        k = s.shape[-1]
        close((u[..., :, :k] * s[..., None, :]) @ vh[..., :k, :], A, dt, 20)
        close(np.swapaxes(u, -1, -2) @ u, np.broadcast_to(np.eye(u.shape[-1]), u.shape[:-2] + (u.shape[-1],) * 2),
              dt, 20)
        close(vh @ np.swapaxes(vh, -1, -2),
              np.broadcast_to(np.eye(vh.shape[-2]), vh.shape[:-2] + (vh.shape[-2],) * 2), dt, 20)
    close(LA.svdvals(D(A, device)), torch.linalg.svdvals(T(A)), dt, 10)
    U, S, V = dlcore.svd(D(A, device))
    tU, tS, tV = torch.svd(T(A))
    close(np.abs(N(V)), np.abs(N(tV)), dt, 100)


def test_svd_rank_deficient(device, rng):
    for A in [np.zeros((4, 3)), np.outer(rng.standard_normal(4), rng.standard_normal(3)), np.zeros((2, 5))]:
        U, S, Vh = LA.svd(D(A, device), full_matrices=True)
        u, s, vh = N(U), N(S), N(Vh)
        np.testing.assert_allclose(s, np.linalg.svd(A, compute_uv=False), atol=1e-12)
        np.testing.assert_allclose(u.T @ u, np.eye(u.shape[0]), atol=1e-12)
        np.testing.assert_allclose(vh @ vh.T, np.eye(vh.shape[0]), atol=1e-12)
        k = s.shape[0]
        np.testing.assert_allclose((u[:, :k] * s) @ vh[:k], A, atol=1e-12)


# ------------------------------------------------------------------------------------------------- pinv, lstsq, rank

def test_pinv_rank_lstsq(device, float_dtype, rng):
    dt = float_dtype
    A = rand(rng, 2, 5, 3, dtype=dt)
    close(LA.pinv(D(A, device)), torch.linalg.pinv(T(A)), dt, 50)
    R1 = np.outer(rng.standard_normal(4), rng.standard_normal(3)).astype(dt)  # rank 1
    close(LA.pinv(D(R1, device)), torch.linalg.pinv(T(R1)), dt, 200)
    assert int(N(LA.matrix_rank(D(R1, device)))) == 1
    np.testing.assert_array_equal(N(LA.matrix_rank(D(A, device))), N(torch.linalg.matrix_rank(T(A))))
    np.testing.assert_array_equal(N(LA.matrix_rank(D(A, device), atol=1.0, rtol=0.0)),
                                  N(torch.linalg.matrix_rank(T(A), atol=1.0, rtol=0.0)))
    S = sym(rng, 4, 4, dtype=dt)
    close(LA.pinv(D(S, device), hermitian=True), torch.linalg.pinv(T(S), hermitian=True), dt, 50)
    close(LA.pinv(D(A, device), rtol=0.5), torch.linalg.pinv(T(A), rtol=0.5), dt, 50)
    close(dlcore.pinverse(D(A[0], device)), torch.pinverse(T(A[0])), dt, 50)
    B = rand(rng, 2, 5, 2, dtype=dt)
    sol = LA.lstsq(D(A, device), D(B, device))
    tsol = torch.linalg.lstsq(T(A), T(B))
    close(sol.solution, tsol.solution, dt, 50)
    np.testing.assert_array_equal(N(sol.rank), N(tsol.rank))
    assert sol.residuals.numel() == 0
    g = LA.lstsq(D(A, device), D(B, device), driver="gelsd")
    tg = torch.linalg.lstsq(T(A), T(B), driver="gelsd")
    close(g.residuals, tg.residuals, dt, 50)
    close(g.singular_values, tg.singular_values, dt, 50)
    W = rand(rng, 3, 5, dtype=dt)  # wide: the minimum-norm solution
    bw = rand(rng, 3, dtype=dt)
    close(LA.lstsq(D(W, device), D(bw, device)).solution, torch.linalg.lstsq(T(W), T(bw)).solution, dt, 50)


# ------------------------------------------------------------------------------------------------- power, exp

def test_matrix_power_exp(device, float_dtype, rng):
    dt = float_dtype
    A = (rand(rng, 2, 3, 3, dtype=dt) / 2 + np.eye(3, dtype=dt))
    for k in (0, 1, 2, 5, -1, -3):
        close(LA.matrix_power(D(A, device), k), torch.linalg.matrix_power(T(A), k), dt, 50)
    close(D(A, device).matrix_power(3), torch.matrix_power(T(A), 3), dt, 50)
    E = rand(rng, 3, 4, 4, dtype=dt)
    E[1] *= 10.0  # needs scaling and squaring
    E[2] *= 0.01
    close(LA.matrix_exp(D(E, device)), torch.linalg.matrix_exp(T(E)), dt, 200 if dt == "float32" else 1e4)
    close(dlcore.matrix_exp(D(np.zeros((2, 2), dt), device)), np.eye(2), dt)


# ------------------------------------------------------------------------------------------------- norms

def test_norms(device, float_dtype, rng):
    dt = float_dtype
    x = rand(rng, 3, 4, 5, dtype=dt)
    x[0, 0, 0] = 0.0
    for ord in (2, 1, 0, math.inf, -math.inf, 3.5, 0.5, -1):
        for dim, keepdim in ((None, False), (1, True), ((0, 2), False)):
            got = LA.vector_norm(D(x, device), ord, dim, keepdim)
            ref = torch.linalg.vector_norm(T(x), ord, dim, keepdim)
            close(got, ref, dt, 10)
    M = rand(rng, 2, 4, 3, dtype=dt)
    for ord in ("fro", "nuc", math.inf, -math.inf, 1, -1, 2, -2):
        close(LA.matrix_norm(D(M, device), ord), torch.linalg.matrix_norm(T(M), ord), dt, 10)
        close(LA.matrix_norm(D(M, device), ord, dim=(0, 2), keepdim=True),
              torch.linalg.matrix_norm(T(M), ord, dim=(0, 2), keepdim=True), dt, 10)
    close(LA.norm(D(M, device)), torch.linalg.norm(T(M)), dt)
    close(LA.norm(D(M[0], device), 2), torch.linalg.norm(T(M[0]), 2), dt, 10)
    close(LA.norm(D(M, device), 3, dim=1), torch.linalg.norm(T(M), 3, dim=1), dt, 10)
    Sq = rand(rng, 3, 3, dtype=dt) + 2 * np.eye(3, dtype=dt)
    for p in (None, 2, -2, 1, "fro", math.inf):
        close(LA.cond(D(Sq, device), p), torch.linalg.cond(T(Sq), p), dt, 50)


def test_small_ops(device, rng):
    a, b = rand(rng, 4, 3), rand(rng, 4, 3)
    close(LA.cross(D(a, device), D(b, device)), torch.linalg.cross(T(a), T(b)))
    close(LA.vecdot(D(a, device), D(b, device)), torch.linalg.vecdot(T(a), T(b)))
    ms = [rand(rng, 5), rand(rng, 5, 2), rand(rng, 2, 6), rand(rng, 6, 3)]
    close(LA.multi_dot([D(m, device) for m in ms]), torch.linalg.multi_dot([T(m) for m in ms]))


def test_tensorinv_tensorsolve_vander(device, rng):
    A = rand(rng, 4, 6, 8, 3) + np.eye(24).reshape(4, 6, 8, 3) * 5
    close(LA.tensorinv(D(A, device), ind=2), torch.linalg.tensorinv(T(A), ind=2), "float64", 100)
    A2 = rand(rng, 2, 3, 6) + np.eye(6).reshape(2, 3, 6) * 4
    B = rand(rng, 2, 3)
    close(LA.tensorsolve(D(A2, device), D(B, device)), torch.linalg.tensorsolve(T(A2), T(B)), "float64", 100)
    A3 = np.moveaxis(A2, 2, 0).copy()
    close(LA.tensorsolve(D(A3, device), D(B, device), dims=(0,)), torch.linalg.tensorsolve(T(A3), T(B), dims=(0,)),
          "float64", 100)
    x = np.array([[0.0, 1.5, -2.0], [1.0, 2.0, 3.0]])
    close(LA.vander(D(x, device)), torch.linalg.vander(T(x)))
    close(LA.vander(D(x, device), N=5), torch.linalg.vander(T(x), N=5))
    _grads_vs_torch(lambda a: (LA.vander(a, N=4) ** 2).sum(), lambda a: (torch.linalg.vander(a, N=4) ** 2).sum(),
                    [x], device)
    close(LA.matmul(D(x, device), D(x.T.copy(), device)), x @ x.T)


def test_diagonal(device, rng):
    x = rand(rng, 2, 3, 4)
    close(LA.diagonal(D(x, device), offset=1), torch.linalg.diagonal(T(x), offset=1))
    close(LA.diagonal(D(x, device), dim1=0, dim2=2), torch.linalg.diagonal(T(x), dim1=0, dim2=2))


def test_tensor_methods(device, rng):
    A = rand(rng, 3, 3) + 3 * np.eye(3)
    a, t = D(A, device), T(A)
    close(a.det(), t.det())
    close(a.inverse(), t.inverse())
    close(a.slogdet()[1], t.slogdet()[1])
    close(a.logdet(), t.logdet())
    S = spd(rng, 3, 3)
    close(D(S, device).cholesky(), T(S).cholesky())
    close(a.pinverse(), t.pinverse(), rtol=1e-8)
    close(a.matrix_exp(), t.matrix_exp(), rtol=1e-8)
    close(a.qr()[1], t.qr()[1])
    close(a.svd()[1], t.svd()[1])
    close(dlcore.det(a), torch.det(t))
    close(dlcore.inverse(a), torch.inverse(t))


def test_noncontiguous_dtypes_and_ex(device, float_dtype, rng):
    dt = float_dtype
    S = spd(rng, 4, 4, dtype=dt)
    big = np.zeros((4, 8), dt)
    big[:, ::2] = S
    s_nc = D(big, device)[:, ::2]  # strided columns
    A = rand(rng, 3, 5, dtype=dt)
    a_t = D(A.T.copy(), device).mT  # a transposed view
    assert not s_nc.is_contiguous() and not a_t.is_contiguous()
    close(LA.cholesky(s_nc), torch.linalg.cholesky(T(S)), dt, 10)
    close(LA.eigvalsh(s_nc), torch.linalg.eigvalsh(T(S)), dt, 50)
    close(LA.svdvals(a_t), torch.linalg.svdvals(T(A)), dt, 10)
    close(LA.qr(a_t).R, torch.linalg.qr(T(A)).R, dt, 10)
    close(LA.det(s_nc), torch.linalg.det(T(S)), dt, 50)
    for out in (LA.inv(s_nc), LA.svd(a_t).U, LA.eigh(s_nc).eigenvectors, LA.qr(a_t).Q, LA.matrix_exp(s_nc / 10)):
        assert out.dtype == getattr(dlcore, dt) and out.device == s_nc.device
    bad = np.stack([S, -S])
    L, info = LA.cholesky_ex(D(bad, device))
    np.testing.assert_array_equal(N(info), N(torch.linalg.cholesky_ex(T(bad)).info))
    Z = np.stack([S, np.zeros_like(S)])
    inv_, info = LA.inv_ex(D(Z, device))
    np.testing.assert_array_equal(N(info), N(torch.linalg.inv_ex(T(Z)).info))
    close(inv_[0], torch.linalg.inv(T(S)), dt, 10)
    b = rand(rng, 4, dtype=dt)
    r, info = LA.solve_ex(D(S, device), D(b, device))
    close(r, torch.linalg.solve(T(S), T(b)), dt, 10)
    assert int(N(info)) == 0


def test_edge_shapes(device):
    f64 = dlcore.float64
    z = lambda *s: dlcore.zeros(*s, dtype=f64, device=device)  # noqa: E731
    tz = lambda *s: torch.zeros(*s, dtype=torch.float64)  # noqa: E731
    assert tuple(LA.solve(z(0, 3, 3), z(0, 3, 2)).shape) == (0, 3, 2)
    assert tuple(LA.det(z(0, 0)).shape) == () and float(N(LA.det(z(0, 0)))) == 1.0
    for fn, tfn, arg in [(LA.svd, torch.linalg.svd, (0, 3)), (LA.qr, torch.linalg.qr, (0, 3)),
                         (LA.eigh, torch.linalg.eigh, (0, 0)), (LA.lu, torch.linalg.lu, (0, 3))]:
        got, ref = fn(z(*arg)), tfn(tz(*arg))
        assert [tuple(g.shape) for g in got] == [tuple(r.shape) for r in ref]
    assert tuple(LA.pinv(z(0, 3)).shape) == (3, 0)
    inf = LA.cond(D(np.diag([1.0, 0.0]), device))
    assert float(N(inf)) == np.inf or float(N(inf)) > 1e15
    S = sym(np.random.default_rng(3), 4, 4)
    w, _ = np.linalg.eigh(S)
    np.testing.assert_array_equal(N(LA.matrix_rank(D(S, device), hermitian=True)),
                                  N(torch.linalg.matrix_rank(T(S), hermitian=True)))
    x32 = np.arange(6.0, dtype=np.float32).reshape(2, 3) / 7
    got = LA.vector_norm(D(x32, device), dtype=dlcore.float64)
    assert got.dtype == dlcore.float64
    close(got, torch.linalg.vector_norm(T(x32), dtype=torch.float64))
    with pytest.raises(RuntimeError, match="should be convertible without narrowing"):
        LA.vector_norm(D(x32.astype(np.float64), device), dtype=dlcore.float32)


# ------------------------------------------------------------------------------------------------- gradients

def _grads_vs_torch(fn_d, fn_t, arrays, device, rtol=1e-7, atol=1e-8):
    """fn_d(*dlcore tensors) and fn_t(*torch tensors) return one scalar; compare the gradients of every input."""
    xs = [D(a, device, grad=True) for a in arrays]
    ts = [T(a, grad=True) for a in arrays]
    fn_d(*xs).backward()
    fn_t(*ts).backward()
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(N(x.grad), N(t.grad), rtol=rtol, atol=atol)


def _w(rng, *shape):
    return rng.standard_normal(shape)


def test_grad_solve_inv_det(device, rng):
    A = rand(rng, 2, 3, 3) + 2 * np.eye(3)
    B = rand(rng, 3, 2)
    W = _w(rng, 2, 3, 2)
    _grads_vs_torch(lambda a, b: (LA.solve(a, b) * D(W, device)).sum(),
                    lambda a, b: (torch.linalg.solve(a, b) * T(W)).sum(), [A, B], device)
    Br, Wr = rand(rng, 4, 3), _w(rng, 2, 4, 3)
    _grads_vs_torch(lambda a, b: (LA.solve(a, b, left=False) * D(Wr, device)).sum(),
                    lambda a, b: (torch.linalg.solve(a, b, left=False) * T(Wr)).sum(), [A, Br], device)
    Wi = _w(rng, 2, 3, 3)
    _grads_vs_torch(lambda a: (LA.inv(a) * D(Wi, device)).sum(), lambda a: (torch.linalg.inv(a) * T(Wi)).sum(),
                    [A], device)
    _grads_vs_torch(lambda a: (LA.det(a) * D([1.0, -2.0], device)).sum(),
                    lambda a: (torch.linalg.det(a) * T([1.0, -2.0])).sum(), [A], device)
    _grads_vs_torch(lambda a: LA.slogdet(a)[1].sum(), lambda a: torch.linalg.slogdet(a)[1].sum(), [A], device)
    Sg = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.5, 1.0, -1.0]])  # singular: the gradient is the adjugate
    # (torch returns 0 here; the derivative of det is the cofactor matrix, nonzero for a rank n-1 matrix)
    sg = D(Sg, device, grad=True)
    LA.det(sg).backward()
    cof = np.array([[np.linalg.det(np.delete(np.delete(Sg, i, 0), j, 1)) * (-1) ** (i + j) for j in range(3)]
                    for i in range(3)])
    np.testing.assert_allclose(N(sg.grad), cof, rtol=1e-9, atol=1e-9)
    assert gradcheck(lambda a: LA.det(a), [D(Sg, device, grad=True)])
    z1 = D([[[0.0]], [[2.0]]], device, grad=True)  # 1x1, one singular: d det / dA = 1
    LA.det(z1).sum().backward()
    np.testing.assert_array_equal(N(z1.grad), np.ones((2, 1, 1)))
    S = spd(rng, 3, 3)
    _grads_vs_torch(lambda a: dlcore.logdet(a), lambda a: torch.logdet(a), [S], device)
    assert gradcheck(lambda a, b: LA.solve(a, b), [D(A, device, grad=True), D(B, device, grad=True)])
    assert gradcheck(lambda a: LA.det(a), [D(A, device, grad=True)])


def test_grad_triangular_cholesky_qr(device, rng):
    A = rand(rng, 2, 3, 3) + 3 * np.eye(3)
    B = rand(rng, 3, 2)
    W = _w(rng, 2, 3, 2)
    for upper in (True, False):
        for unit in (True, False):
            _grads_vs_torch(
                lambda a, b: (LA.solve_triangular(a, b, upper=upper, unitriangular=unit) * D(W, device)).sum(),
                lambda a, b: (torch.linalg.solve_triangular(a, b, upper=upper, unitriangular=unit) * T(W)).sum(),
                [A, B], device)
    S = spd(rng, 2, 3, 3)
    Wc = np.tril(_w(rng, 2, 3, 3))
    for upper in (False, True):
        Wu = np.swapaxes(Wc, -1, -2) if upper else Wc
        _grads_vs_torch(lambda a: (LA.cholesky(a, upper=upper) * D(Wu, device)).sum(),
                        lambda a: (torch.linalg.cholesky(a, upper=upper) * T(Wu)).sum(), [S], device)
    assert gradcheck(lambda a: LA.cholesky(a + a.mT), [D(S, device, grad=True)])
    for shape in [(5, 3), (3, 3), (3, 5)]:
        M = rand(rng, *shape)
        k = min(shape)
        Wq, Wr = _w(rng, shape[0], k), _w(rng, k, shape[1])
        _grads_vs_torch(lambda a: (LA.qr(a)[0] * D(Wq, device)).sum() + (LA.qr(a)[1] * D(Wr, device)).sum(),
                        lambda a: (torch.linalg.qr(a)[0] * T(Wq)).sum() + (torch.linalg.qr(a)[1] * T(Wr)).sum(),
                        [M], device)
    assert gradcheck(lambda a: LA.qr(a), [D(rand(rng, 4, 3), device, grad=True)])


def test_grad_eigh_svd(device, rng):
    A = sym(rng, 2, 4, 4)
    Ww, Wv = _w(rng, 2, 4), _w(rng, 2, 4, 4)
    # sign-invariant losses (eigenvectors / singular vectors are defined up to sign)
    _grads_vs_torch(lambda a: (LA.eigh(a)[0] * D(Ww, device)).sum() + (LA.eigh(a)[1] ** 2 * D(Wv, device)).sum(),
                    lambda a: (torch.linalg.eigh(a)[0] * T(Ww)).sum() + (torch.linalg.eigh(a)[1] ** 2 * T(Wv)).sum(),
                    [A], device, rtol=1e-6, atol=1e-7)
    assert gradcheck(lambda a: LA.eigvalsh(a + a.mT), [D(A, device, grad=True)])
    assert gradcheck(lambda a: LA.eigh(a + a.mT)[1] ** 2, [D(A, device, grad=True)])
    for shape in [(5, 3), (3, 5), (3, 3)]:
        M = rand(rng, *shape)
        m, n = shape
        k = min(shape)
        Wu, Ws, Wvh = _w(rng, m, k), _w(rng, k), _w(rng, k, n)

        def f_d(a):
            U, S, Vh = LA.svd(a, full_matrices=False)
            return (U ** 2 * D(Wu, device)).sum() + (S * D(Ws, device)).sum() + (Vh ** 2 * D(Wvh, device)).sum()

        def f_t(a):
            U, S, Vh = torch.linalg.svd(a, full_matrices=False)
            return (U ** 2 * T(Wu)).sum() + (S * T(Ws)).sum() + (Vh ** 2 * T(Wvh)).sum()

        _grads_vs_torch(f_d, f_t, [M], device, rtol=1e-6, atol=1e-7)
        assert gradcheck(lambda a: LA.svdvals(a), [D(M, device, grad=True)])
        assert gradcheck(lambda a: (lambda r: (r[0].narrow(-1, 0, k) ** 2, r[1], r[2].narrow(-2, 0, k) ** 2))(
            LA.svd(a, full_matrices=True)), [D(M, device, grad=True)])


def test_grad_pinv_lstsq_exp_norms(device, rng):
    for shape in [(4, 3), (3, 4)]:
        M = rand(rng, *shape)
        Wp = _w(rng, shape[1], shape[0])
        _grads_vs_torch(lambda a: (LA.pinv(a) * D(Wp, device)).sum(), lambda a: (torch.linalg.pinv(a) * T(Wp)).sum(),
                        [M], device, rtol=1e-6, atol=1e-8)
        assert gradcheck(lambda a: LA.pinv(a), [D(M, device, grad=True)])
    A, B = rand(rng, 5, 3), rand(rng, 5, 2)
    _grads_vs_torch(lambda a, b: (LA.lstsq(a, b).solution ** 2).sum(),
                    lambda a, b: (torch.linalg.lstsq(a, b).solution ** 2).sum(), [A, B], device, rtol=1e-6)
    E = rand(rng, 2, 3, 3)
    We = _w(rng, 2, 3, 3)
    _grads_vs_torch(lambda a: (LA.matrix_exp(a) * D(We, device)).sum(),
                    lambda a: (torch.linalg.matrix_exp(a) * T(We)).sum(), [E * 3], device, rtol=1e-6, atol=1e-8)
    assert gradcheck(lambda a: LA.matrix_exp(a), [D(E, device, grad=True)])
    x = rand(rng, 3, 4)
    x[0, 1] = 0.0
    for ord in (2, 1, 3, 0.5, math.inf, -math.inf):
        _grads_vs_torch(lambda a: (LA.vector_norm(a, ord, dim=1) * D([1.0, 2.0, -1.0], device)).sum(),
                        lambda a: (torch.linalg.vector_norm(a, ord, dim=1) * T([1.0, 2.0, -1.0])).sum(),
                        [x], device)
    _grads_vs_torch(lambda a: LA.vector_norm(a * 0), lambda a: torch.linalg.vector_norm(a * 0), [x], device)
    for ord in ("fro", "nuc", 2, -2, 1, math.inf):
        _grads_vs_torch(lambda a: LA.matrix_norm(a, ord), lambda a: torch.linalg.matrix_norm(a, ord), [x], device,
                        rtol=1e-6)
    assert gradcheck(lambda a: LA.matrix_norm(a, "nuc"), [D(x, device, grad=True)])
    P = rand(rng, 3, 3) + 2 * np.eye(3)
    _grads_vs_torch(lambda a: LA.matrix_power(a, -2).sum(), lambda a: torch.linalg.matrix_power(a, -2).sum(), [P],
                    device)


def test_grad_lu(device, rng):
    A = rand(rng, 2, 3, 3)
    Wl, Wu = _w(rng, 2, 3, 3), _w(rng, 2, 3, 3)
    _grads_vs_torch(lambda a: (LA.lu(a)[1] * D(Wl, device)).sum() + (LA.lu(a)[2] * D(Wu, device)).sum(),
                    lambda a: (torch.linalg.lu(a)[1] * T(Wl)).sum() + (torch.linalg.lu(a)[2] * T(Wu)).sum(), [A],
                    device)
    _grads_vs_torch(lambda a: (LA.lu_factor(a)[0] * D(Wl, device)).sum(),
                    lambda a: (torch.linalg.lu_factor(a)[0] * T(Wl)).sum(), [A], device)
    LU, piv = torch.linalg.lu_factor(T(A))
    B = rand(rng, 2, 3, 2)
    _grads_vs_torch(lambda b: (LA.lu_solve(D(N(LU), device), D(N(piv), device), b) ** 2).sum(),
                    lambda b: (torch.linalg.lu_solve(LU, piv, b) ** 2).sum(), [B], device)


def test_misc_paths(device, rng):
    A = rand(rng, 4, 3)
    Z = np.stack([np.eye(3), np.zeros((3, 3))])
    b = rand(rng, 3, 2)
    r, info = LA.solve_ex(D(Z, device), D(b, device))
    tr, tinfo = torch.linalg.solve_ex(T(Z), T(b))
    np.testing.assert_array_equal(N(info), N(tinfo))
    close(r[0], tr[0])
    with pytest.raises(LA.LinAlgError, match=r"\(Batch element 1\): U\[1,1\] is zero"):
        LA.lu_factor_ex(D(Z, device), check_errors=True)
    close(LA.inv_ex(D(Z[0], device)).inverse, np.eye(3))
    np.testing.assert_array_equal(N(LA.matrix_rank(D(A, device), tol=0.5)), N(torch.linalg.matrix_rank(T(A), tol=0.5)))
    close(LA.pinv(D(A, device), rcond=0.3), torch.linalg.pinv(T(A), rcond=0.3), scale=100)
    bv = rand(rng, 4)
    got, ref = LA.lstsq(D(A, device), D(bv, device), driver="gelss"), torch.linalg.lstsq(T(A), T(bv), driver="gelss")
    close(got.solution, ref.solution, scale=100)
    close(got.residuals, ref.residuals, scale=100)
    U, S, V = dlcore.svd(D(A, device), compute_uv=False)
    tU, tS, tV = torch.svd(T(A), compute_uv=False)
    close(U, tU)
    close(S, tS, scale=10)
    close(V, tV)
    Lw = np.linalg.cholesky(spd(rng, 3, 3))
    close(dlcore.cholesky_inverse(D(Lw.T.copy(), device), upper=True),
          torch.cholesky_inverse(T(Lw.T.copy()), upper=True), scale=100)
    close(LA.vector_norm(D(np.array(-3.0), device), 1), np.array(3.0))
    M = rand(rng, 2, 3, 4)
    close(LA.norm(D(M, device), dim=(0, 2)), torch.linalg.norm(T(M), dim=(0, 2)))
    close(LA.norm(D(M[0, 0], device), 3), torch.linalg.norm(T(M[0, 0]), 3))
    ms = [rand(rng, 3, 4), rand(rng, 4, 2), rand(rng, 2)]
    close(LA.multi_dot([D(m, device) for m in ms]), torch.linalg.multi_dot([T(m) for m in ms]))
    with pytest.raises(RuntimeError, match="invalid norm type"):
        LA.cond(D(np.eye(2), device), 3)
    with pytest.raises(RuntimeError, match="multi_dot"):
        LA.multi_dot([D(ms[0], device), D(ms[0], device)])
    with pytest.raises(RuntimeError, match="lstsq: input.size"):
        LA.lstsq(D(A, device), D(rand(rng, 3, 1), device))
    a = D(rand(rng, 4, 3), device, grad=True)
    tau = D(np.zeros(3), device)
    with pytest.raises(NotImplementedError, match="householder_product"):
        LA.householder_product(a, tau).sum().backward()
    with pytest.raises(RuntimeError, match="mode='complete' and nrows > ncols"):
        LA.qr(a, mode="complete")[0].sum().backward()


def test_grad_partial_outputs(device, rng):
    """Gradients through some outputs of eigh / svd only, and both outputs of one eigh call."""
    A = sym(rng, 4, 4)
    Ww, Wv = _w(rng, 4), _w(rng, 4, 4)
    _grads_vs_torch(lambda a: (lambda w, v: (w * D(Ww, device)).sum() + (v ** 2 * D(Wv, device)).sum())(*LA.eigh(a)),
                    lambda a: (lambda w, v: (w * T(Ww)).sum() + (v ** 2 * T(Wv)).sum())(*torch.linalg.eigh(a)),
                    [A], device, rtol=1e-6, atol=1e-7)
    for shape in [(5, 3), (3, 5)]:
        M = rand(rng, *shape)
        k = min(shape)
        Wu, Wvh = _w(rng, shape[0], k), _w(rng, k, shape[1])
        _grads_vs_torch(lambda a: (LA.svd(a, full_matrices=False)[0] ** 2 * D(Wu, device)).sum(),
                        lambda a: (torch.linalg.svd(a, full_matrices=False)[0] ** 2 * T(Wu)).sum(), [M], device,
                        rtol=1e-6, atol=1e-7)
        _grads_vs_torch(lambda a: (LA.svd(a, full_matrices=False)[2] ** 2 * D(Wvh, device)).sum(),
                        lambda a: (torch.linalg.svd(a, full_matrices=False)[2] ** 2 * T(Wvh)).sum(), [M], device,
                        rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------------------------------------- errors

def test_errors(device):
    z = D(np.zeros((2, 2)), device)
    with pytest.raises(LA.LinAlgError, match=r"linalg.solve: The solver failed because the input matrix is singular"):
        LA.solve(z, D(np.ones((2, 1)), device))
    with pytest.raises(RuntimeError, match=r"\(Batch element 1\): The solver failed"):
        LA.solve(D(np.stack([np.eye(2), np.zeros((2, 2))]), device), D(np.ones((2, 1)), device))
    with pytest.raises(LA.LinAlgError, match=r"linalg.inv: The diagonal element 1 is zero, the inversion could not "
                                               r"be completed because the input matrix is singular."):
        LA.inv(z)
    with pytest.raises(RuntimeError, match=r"linalg.inv: A must be batches of square matrices, but they are 2 by 3 "
                                           r"matrices"):
        LA.inv(D(np.ones((2, 3)), device))
    with pytest.raises(RuntimeError, match=r"linalg.inv: The input tensor A must have at least 2 dimensions."):
        LA.inv(D(np.ones(3), device))
    with pytest.raises(RuntimeError, match=r"Expected a floating point or complex tensor as input. Got Long"):
        LA.det(D(np.ones((2, 2), dtype=np.int64), device))
    msg = (r"linalg.cholesky: The factorization could not be completed because the input is not positive-definite "
           r"\(the leading minor of order 2 is not positive-definite\).")
    with pytest.raises(LA.LinAlgError, match=msg):
        LA.cholesky(D(np.diag([1.0, -1.0, 1.0]), device))
    with pytest.raises(RuntimeError, match=r"\(Batch element 1\): The factorization could not be completed"):
        LA.cholesky(D(np.stack([np.eye(2), -np.eye(2)]), device))
    with pytest.raises(RuntimeError, match=r"Incompatible shapes of A and B for the equation AX = B \(3x3 and 2x1\)"):
        LA.solve(D(np.eye(3), device), D(np.ones((2, 1)), device))
    with pytest.raises(RuntimeError, match=r"Expected A and B to have the same dtype"):
        LA.solve(D(np.eye(3), device), D(np.ones((3, 1), np.float32), device))
    with pytest.raises(RuntimeError, match=r"qr received unrecognized mode 'x'"):
        LA.qr(D(np.eye(2), device), mode="x")
    with pytest.raises(RuntimeError, match=r"Expected UPLO argument to be 'L' or 'U', but got X"):
        LA.eigh(D(np.eye(2), device), UPLO="X")
    with pytest.raises(RuntimeError, match=r"torch.linalg.lu_factor: U\[1,1\] is zero"):
        LA.lu_factor(z)
    with pytest.raises(RuntimeError, match=r"linalg.matrix_norm: Order 3 not supported."):
        LA.matrix_norm(D(np.eye(2), device), 3)
    with pytest.raises(RuntimeError, match=r"If dim is not specified but ord is, the input must be 1D or 2D"):
        LA.norm(D(np.ones((2, 2, 2)), device), 2)
    with pytest.raises(TypeError, match=r"argument 'ord' must be Number"):
        LA.vector_norm(D(np.ones(2), device), "fro")
    a = D(np.random.default_rng(0).standard_normal((3, 3)), device, grad=True)
    with pytest.raises(RuntimeError, match=r"depends on Q, which is not computed when mode='r'"):
        LA.qr(a, mode="r")[1].sum().backward()
    with pytest.raises(RuntimeError, match=r"lu_solve: Expected LU.shape\[:-1\] and pivots.shape to be the same"):
        LA.lu_solve(D(np.eye(3), device), D(np.ones(2, np.int32), device), D(np.ones((3, 1)), device))


# ------------------------------------------------------------------------------------------------- fuzz regressions

@pytest.mark.parametrize("ord", [math.inf, -math.inf, -1, 0, 2, 0.5])
@pytest.mark.parametrize("shape,dim", [((2, 0, 2, 4), (-2, -1)), ((0, 3, 0, 1), -3), ((2, 0), 1), ((2, 0), 0),
                                       ((0,), None), ((3, 0), None)])
def test_vector_norm_empty_inputs_like_torch(ord, shape, dim, device):
    # torch refuses ord < 0 and ord = inf only when a reduced dim is empty, not when another dim is
    x = np.zeros(shape)
    try:
        want = torch.linalg.vector_norm(T(x), ord, dim=dim)
    except RuntimeError:
        with pytest.raises(RuntimeError, match="vector_norm"):
            LA.vector_norm(D(x, device), ord, dim=dim)
        return
    got = LA.vector_norm(D(x, device), ord, dim=dim)
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_array_equal(N(got), N(want))


@pytest.mark.parametrize("ord", [1, -1, math.inf, -math.inf, 2, -2, "fro", "nuc"])
@pytest.mark.parametrize("shape", [(3, 0), (0, 3), (0, 0), (2, 0, 3), (2, 3, 0)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_matrix_norm_and_cond_of_empty_matrices_like_torch(ord, shape, keepdim, device):
    x = np.zeros(shape)
    try:
        want = torch.linalg.matrix_norm(T(x), ord, keepdim=keepdim)
    except (RuntimeError, IndexError):  # (torch: IndexError from amin)
        with pytest.raises(RuntimeError, match="matrix_norm"):
            LA.matrix_norm(D(x, device), ord, keepdim=keepdim)
    else:
        got = LA.matrix_norm(D(x, device), ord, keepdim=keepdim)
        assert tuple(got.shape) == tuple(want.shape)
        np.testing.assert_array_equal(N(got), N(want))
    if shape[-1] == shape[-2] or ord in (2, -2):
        want = torch.linalg.cond(T(x), ord if ord in (1, -1, math.inf, -math.inf, "fro", "nuc", -2) else None)
        got = LA.cond(D(x, device), ord if ord in (1, -1, math.inf, -math.inf, "fro", "nuc", -2) else None)
        assert tuple(got.shape) == tuple(want.shape)
        np.testing.assert_array_equal(N(got), N(want))


@pytest.mark.parametrize("shape", [(1, 3, 0, 0), (0, 3, 0, 0), (0, 2, 2), (2, 0, 0)])
def test_matrix_exp_empty_batches(shape, device):
    got = LA.matrix_exp(D(np.zeros(shape), device))
    want = torch.linalg.matrix_exp(T(np.zeros(shape)))
    assert tuple(got.shape) == tuple(want.shape)


def test_svd_of_rank_deficient_matrix_keeps_u_orthonormal(device):
    # two equal rows: the smallest singular value is rounding noise (~1e-16 relative); its U column must still be
    # a unit vector orthogonal to the others, not noise divided by noise
    rng = np.random.default_rng(5)
    a = rng.standard_normal((4, 4))
    a[3] = a[1]
    for m in (a, a.T, np.vstack([a, a[:2]])):
        U, S, Vh = dlcore.linalg.svd(dlcore.tensor(m, device=device), full_matrices=False)
        U, S, Vh = U.cpu().numpy(), S.cpu().numpy(), Vh.cpu().numpy()
        np.testing.assert_allclose(U.T @ U, np.eye(U.shape[1]), atol=1e-12)
        np.testing.assert_allclose(Vh @ Vh.T, np.eye(Vh.shape[0]), atol=1e-12)
        np.testing.assert_allclose((U * S) @ Vh, m, atol=1e-12)


def test_half_precision_norms_round_once_like_torch():
    """bfloat16 / float16 norms are computed in float32 and rounded once (torch's opmath); squaring and summing in
    the narrow dtype rounded twice (a bf16 norm of 0.45577 came out 0.45703 instead of torch's 0.45508)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    for _ in range(40):
        a = (rng.standard_normal(tuple(rng.integers(1, 40, 2))) * 0.01).astype(np.float32)
        for dt, tdt in ((dlcore.bfloat16, torch.bfloat16), (dlcore.float16, torch.float16)):
            t, d = torch.from_numpy(a).to(tdt), dlcore.tensor(a).to(dt)
            for p in (2, 1, 3):
                assert float(d.norm(p)) == t.norm(p).item()
                assert float(dlcore.linalg.vector_norm(d, p)) == torch.linalg.vector_norm(t, p).item()
