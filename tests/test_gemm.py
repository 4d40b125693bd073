"""GEMM: the packed BLIS-style SGEMM/DGEMM through the _C._gemm hook (every microkernel, packing path and thread
split forced in turn) and through dlcore.matmul / linear, against NumPy float64 oracles."""
import numpy as np
import pytest

import dlcore
from dlcore.testing import assert_close

ISAS = ["scalar", "avx2", "avx512"]
SUPPORTED = ISAS[: ISAS.index(dlcore._C._cpu_isa_supported()) + 1]


def tol(dtype, k):
    """|out - ref| <= atol + rtol |ref| for a K-long dot product of O(1) values (error grows ~ sqrt(K))."""
    eps = np.finfo(dtype).eps
    s = np.sqrt(max(k, 1))
    return dict(rtol=16 * eps * s, atol=16 * eps * s)


def as_dl(a):
    return dlcore.from_numpy(np.ascontiguousarray(a))


def operand(rng, rows, cols, dtype, layout, fill=None):
    """(dlcore tensor, numpy float64 copy) of a rows x cols operand laid out as 'c' (row-major), 't' (a transposed
    view of a column-major buffer) or 's' (a strided slice of a bigger buffer); random, or `fill` everywhere."""
    gen = (lambda shape: rng.standard_normal(shape)) if fill is None else (lambda shape: np.full(shape, fill))
    if layout == "c":
        a = gen((rows, cols)).astype(dtype)
        return as_dl(a), a.astype(np.float64)
    if layout == "t":
        a = gen((cols, rows)).astype(dtype)
        return as_dl(a).T, a.T.astype(np.float64)
    big = gen((2 * rows + 1, 3 * cols + 2)).astype(dtype)
    return as_dl(big)[1::2, 2::3], big[1::2, 2::3].astype(np.float64)


def reference(a, b, c, alpha, beta, bias, bias_kind, relu):
    r = alpha * (a @ b)
    if beta != 0:
        r = r + beta * c
    if bias_kind == "row":
        r = r + bias[:, None]
    elif bias_kind == "col":
        r = r + bias[None, :]
    if relu:
        r = np.maximum(r, 0)
    return r


def run_case(rng, M, N, K, dtype, isa, la="c", lb="c", lc="c", alpha=1.0, beta=0.0, bias_kind="none", relu=False,
             **force):
    a, a64 = operand(rng, M, K, dtype, la)
    b, b64 = operand(rng, K, N, dtype, lb)
    # beta == 0: C is write-only, even NaN must not leak through
    c, c64 = operand(rng, M, N, dtype, lc, fill=np.nan if beta == 0 else None)
    bias64 = rng.standard_normal(M if bias_kind == "row" else N)
    bias = as_dl(bias64.astype(dtype)) if bias_kind != "none" else None
    bias64 = bias64.astype(dtype).astype(np.float64)
    out = dlcore._C._gemm(a, b, c, alpha=alpha, beta=beta, bias=bias, bias_kind=bias_kind, relu=relu, isa=isa, **force)
    ref = reference(a64, b64, c64, alpha, beta, bias64, bias_kind, relu)
    assert out is c
    # Error bound per element, scaled by the magnitudes that enter it (a cancelling sum can end near 0 while its
    # rounding error is set by |alpha| |A| |B|): 4 eps sqrt(K) (|alpha| (|A| @ |B|) / sqrt(K) + |beta C| + |bias|) + tiny.
    eps = np.finfo(dtype).eps
    mag = abs(alpha) * (np.abs(a64) @ np.abs(b64)) / np.sqrt(max(K, 1))
    if beta != 0:
        mag = mag + abs(beta) * np.abs(c64)
    if bias_kind == "row":
        mag = mag + np.abs(bias64)[:, None]
    elif bias_kind == "col":
        mag = mag + np.abs(bias64)[None, :]
    bound = 16 * eps * np.sqrt(max(K, 1)) * (mag + 1e-3)
    assert_close(out.numpy(), ref, rtol=0.0, atol=bound, msg=f"M={M} N={N} K={K} {isa} {la}{lb}{lc} {force}")


@pytest.mark.parametrize("isa", SUPPORTED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_random_shapes_every_isa(isa, dtype, rng):
    sizes = [1, 2, 3, 5, 7, 12, 13, 16, 17, 31, 33, 64, 100, 129]
    for _ in range(40):
        M, N, K = (int(rng.choice(sizes)) for _ in range(3))
        run_case(rng, M, N, K, dtype, isa, la=rng.choice(list("cts")), lb=rng.choice(list("cts")),
                 lc=rng.choice(list("cts")), alpha=float(rng.choice([1.0, 0.5, -2.0])),
                 beta=float(rng.choice([0.0, 1.0, -0.5])), bias_kind=str(rng.choice(["none", "row", "col"])),
                 relu=bool(rng.integers(2)))


@pytest.mark.parametrize("isa", SUPPORTED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("M,N,K", [(1, 1, 1), (1, 37, 19), (37, 1, 19), (17, 19, 1), (64, 10, 100), (3, 5, 600),
                                   (20, 300, 25), (130, 70, 9)])
def test_edge_shapes(isa, dtype, M, N, K, rng):
    run_case(rng, M, N, K, dtype, isa, beta=0.5, bias_kind="col", relu=True)
    run_case(rng, M, N, K, dtype, isa, la="t", lb="t", lc="t", bias_kind="row")


@pytest.mark.parametrize("isa", SUPPORTED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_aliasing_strides_auto_plan(isa, dtype, rng):
    """A with rows (or columns) a multiple of 1 KiB apart and a narrow N: the planner now reads it unpacked (the
    recurrent cells' and per-step GEMMs' shape); ragged M and N, alpha/beta, bias, one and two threads."""
    K = 1024 // np.dtype(dtype).itemsize  # the row (or column) stride of a contiguous A: exactly 1 KiB
    for M, N, la in [(77, 28, "c"), (50, 64, "c"), (37, 31, "t"), (25, 129, "c")]:
        for threads in (1, 2):
            Ka = K if la == "c" else 19
            Ma = M if la == "c" else K  # column-major: M = the column stride
            run_case(rng, Ma, N, Ka, dtype, isa, la=la, alpha=0.5, beta=1.0, bias_kind="row", threads=threads)


@pytest.mark.parametrize("isa", SUPPORTED)
@pytest.mark.parametrize("pack_a", [0, 1])
@pytest.mark.parametrize("pack_b", [0, 1])
@pytest.mark.parametrize("split", [0, 1, 2, 3])
def test_forced_paths(isa, pack_a, pack_b, split, rng):
    """Every packing choice and thread split (K split sums partial products) on ragged shapes."""
    for M, N, K, lb in [(37, 45, 70, "c"), (5, 130, 33, "c"), (29, 7, 301, "t")]:
        pb = 1 if lb != "c" else pack_b  # an unpacked B needs unit stride along N
        run_case(rng, M, N, K, np.float32, isa, lb=lb, beta=-1.0, bias_kind="row", relu=True, pack_a=pack_a,
                 pack_b=pb, split=split, threads=2)
        run_case(rng, M, N, K, np.float64, isa, lb=lb, alpha=2.0, bias_kind="col", pack_a=pack_a, pack_b=pb,
                 split=split, threads=2)


@pytest.mark.parametrize("isa", SUPPORTED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("pack_a", [-1, 0, 1])
def test_small_blocks_many_block_edges(isa, dtype, pack_a, rng):
    """Block sizes forced small (blocks=(kc, mc, nc)) so moderate shapes cross many KC, MC and NC boundaries:
    balanced KC/NC blocks, ragged last blocks, beta and the epilogue only on the first / last KC block."""
    for M, N, K, la, blocks in [(50, 200, 70, "c", (16, 24, 64)), (37, 131, 45, "t", (7, 12, 40)),
                                (61, 97, 33, "s", (32, 1, 1)), (29, 300, 130, "c", (48, 60, 96))]:
        run_case(rng, M, N, K, dtype, isa, la=la, alpha=-0.5, beta=1.5, bias_kind="col", relu=True, pack_a=pack_a,
                 blocks=blocks)


@pytest.mark.parametrize("isa", SUPPORTED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_aliasing_rows_wide_n(isa, dtype, rng):
    """A row-major A whose rows are 1 KiB or 4 KiB apart with a wide N (read in place or packed, by the L1's
    ways): the planner's choice and both forced A paths agree with the oracle."""
    for K in (1024 // np.dtype(dtype).itemsize, 4096 // np.dtype(dtype).itemsize):
        for pack_a in (-1, 0, 1):
            run_case(rng, 30, 200, K, dtype, isa, beta=1.0, bias_kind="row", pack_a=pack_a, threads=1)


def test_blocks_option_checked():
    a = dlcore.zeros((3, 4))
    with pytest.raises(ValueError, match="blocks must be three positive"):
        dlcore._C._gemm(a, dlcore.zeros((4, 2)), blocks=(0, 4, 4))
    with pytest.raises(ValueError, match="pack_a/pack_b must be"):
        dlcore._C._gemm(a, dlcore.zeros((4, 2)), pack_a=2)


@pytest.mark.parametrize("isa", SUPPORTED)
def test_k_zero_scales_c(isa, rng):
    for beta in [0.0, 2.0]:
        c0 = rng.standard_normal((4, 6)).astype(np.float32)
        c = as_dl(c0.copy() if beta else np.full((4, 6), np.nan, np.float32))
        bias = rng.standard_normal(6).astype(np.float32)
        a = dlcore.zeros((4, 0))
        b = dlcore.zeros((0, 6))
        dlcore._C._gemm(a, b, c, beta=beta, bias=as_dl(bias), bias_kind="col", relu=True, isa=isa)
        assert_close(c.numpy(), np.maximum(beta * c0.astype(np.float64) * (beta != 0) + bias, 0), rtol=1e-6,
                     atol=1e-6)


@pytest.mark.parametrize("isa", SUPPORTED)
def test_large_k_several_kc_blocks_small_n(isa, rng):
    # An A read in place with one or a few B micro-panels runs with a larger KC (gemm_driver.h kc_for): these K
    # still cut into several KC blocks (beta 1 with the epilogue on the last), at N of one, two and four panels.
    for M, N, K in [(13, 20, 7000), (9, 40, 5000), (14, 100, 2900)]:
        run_case(rng, M, N, K, np.float32, isa, beta=1.0, bias_kind="row", relu=True)


@pytest.mark.parametrize("pack_b", [0, 1])
def test_narrow_n_edge_as_dot_products(pack_b, rng):
    # AVX-512 float: an N edge of 1..8 columns with A read in place along k runs as dot products along k
    # (gemm_simd.h edge_dot: 4 rows x 4 columns or 2 x 8 per group, a k tail under a mask, a reduction tree, then
    # the tile's alpha/beta/bias/ReLU store). Every edge width beside 0, 1 and 2 full 32-column panels; M edges of
    # the row groups; K with and without a tail and over several KC blocks; A strided (s) takes the tile path.
    for e in range(1, 9):
        for panels in (0, 1, 2):
            N = 32 * panels + e
            M = int(rng.choice([1, 3, 5, 13, 26]))
            K = int(rng.choice([1, 15, 16, 17, 100, 3000]))
            run_case(rng, M, N, K, np.float32, "avx512" if "avx512" in SUPPORTED else SUPPORTED[-1],
                     la=str(rng.choice(["c", "c", "s"])), lc=str(rng.choice(["c", "c", "s"])),
                     alpha=float(rng.choice([1.0, -2.0])), beta=float(rng.choice([0.0, 1.0, -0.5])),
                     bias_kind=str(rng.choice(["none", "row", "col"])), relu=bool(rng.integers(2)), pack_a=0,
                     pack_b=pack_b)


def test_large_k_and_relu_nan(rng):
    # ReLU keeps NaN (like torch.relu); beta = 0 with NaN in C does not produce NaN.
    a = as_dl(np.array([[np.nan, 1.0]], np.float32))
    b = as_dl(np.ones((2, 2), np.float32))
    out = dlcore._C._gemm(a, b, relu=True)
    assert np.isnan(out.numpy()).all()


@pytest.mark.parametrize("isa", SUPPORTED)
def test_large_random_vector_invariant(isa, rng):
    """C t == A (B t) for a random vector t: checks a big product in O(n^2) (BLIS's check)."""
    M, N, K = (300, 257, 700) if isa != "scalar" else (130, 97, 300)
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    c = dlcore._C._gemm(as_dl(a), as_dl(b), isa=isa).numpy().astype(np.float64)
    t = rng.standard_normal(N)
    lhs = c @ t
    rhs = a.astype(np.float64) @ (b.astype(np.float64) @ t)
    scale = np.sqrt(K * N)
    assert np.abs(lhs - rhs).max() <= 64 * np.finfo(np.float32).eps * scale * np.sqrt(K), np.abs(lhs - rhs).max()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_batched_broadcast(dtype, device, rng):
    def dev(a):
        return as_dl(a).to(device)

    cases = [((2, 3, 5, 7), (7, 4)), ((3, 1, 6, 8), (4, 8, 5)), ((9,), (2, 9, 3)), ((2, 4, 9), (9,)), ((6,), (6,)),
             ((5, 17, 33), (5, 33, 12))]
    for sa, sb in cases:
        a = rng.standard_normal(sa).astype(dtype)
        b = rng.standard_normal(sb).astype(dtype)
        out = dlcore.matmul(dev(a), dev(b))
        assert out.device.type == device
        assert_close(out.cpu().numpy(), np.matmul(a.astype(np.float64), b.astype(np.float64)), **tol(dtype, sa[-1]))
    # transposed batched operands go through strides
    a = rng.standard_normal((4, 7, 5)).astype(dtype)
    b = rng.standard_normal((4, 7, 6)).astype(dtype)
    out = dlcore.matmul(dev(a).transpose(1, 2), dev(b))
    assert_close(out.cpu().numpy(), np.matmul(a.transpose(0, 2, 1).astype(np.float64), b), **tol(dtype, 7))


@pytest.mark.parametrize("isa", SUPPORTED)
def test_linear_fused_bias_relu(isa, device, rng):
    dlcore._C._set_cpu_isa(isa)
    x = rng.standard_normal((64, 100)).astype(np.float32)
    w = rng.standard_normal((10, 100)).astype(np.float32)
    bias = rng.standard_normal(10).astype(np.float32)
    out = dlcore._C.linear(as_dl(x).to(device), as_dl(w).to(device), as_dl(bias).to(device), True)
    ref = np.maximum(x.astype(np.float64) @ w.T.astype(np.float64) + bias, 0)
    assert_close(out.cpu().numpy(), ref, **tol(np.float32, 100))


def test_threads_and_bad_input(rng):
    dlcore.set_num_threads(1)
    run_case(rng, 70, 90, 50, np.float32, None, beta=1.0)
    dlcore.set_num_threads(2)
    run_case(rng, 70, 90, 50, np.float32, None, beta=1.0)
    a = dlcore.zeros((3, 4))
    with pytest.raises(ValueError, match="cannot be multiplied"):
        dlcore._C._gemm(a, dlcore.zeros((5, 2)))
    with pytest.raises(TypeError, match="float32 or float64"):
        dlcore._C._gemm(a, dlcore.zeros((4, 2), dtype=dlcore.float64))
    with pytest.raises(ValueError, match="needs an input c"):
        dlcore._C._gemm(a, dlcore.zeros((4, 2)), beta=1.0)
    with pytest.raises(ValueError, match="bias must be"):
        dlcore._C._gemm(a, dlcore.zeros((4, 2)), bias=dlcore.zeros(3), bias_kind="col")
    with pytest.raises(ValueError, match="unknown ISA"):
        dlcore._C._gemm(a, dlcore.zeros((4, 2)), isa="sse9")


def test_blocking_tables():
    for isa in ISAS:
        for dt in ["float32", "float64"]:
            bl = dlcore._C._gemm_blocking(isa, dt)
            assert bl["MC"] % bl["MR"] == 0 and bl["NC"] % bl["NR"] == 0 and bl["KC"] > 0
    f = dlcore._C._cpu_features()
    assert 16384 <= f["l1d"] <= 262144 and 262144 <= f["l2"] <= 8388608 and 2 <= f["l1d_ways"] <= 32
