"""bfloat16 GEMM on the CPU (AVX512-BF16 kernel, gemm_bf16_avx512bf16.cpp) and its float32 route (other CPUs, or
DLCORE_ISA below avx512). Oracle: the float64 product of the bfloat16 values, rounded once to bfloat16; the result
must be within one bfloat16 ulp of it, plus a float32-accumulation slack scaled by sum |a||b|."""
import numpy as np
import pytest

import dlcore

ULP = 2.0 ** -7

ROUTES = ["native", "float32"]


def bf(a):
    """float32 array of a's values rounded to bfloat16 (round to nearest even)."""
    return dlcore.tensor(np.asarray(a, np.float32)).to(dlcore.bfloat16).float().numpy()


@pytest.fixture(params=ROUTES)
def route(request):
    if request.param == "native":
        if not dlcore._C._gemm_bf16_available():
            pytest.skip("this CPU has no AVX512-BF16 (the float32 route is tested)")
    else:
        dlcore._C._set_cpu_isa("avx2")  # (the fixture in conftest restores the ISA)
        assert not dlcore._C._gemm_bf16_available()
    return request.param


def check(out, a64, b64, bias=None, relu=False, alpha=1.0, beta=0.0, c0=None):
    ref = alpha * np.matmul(a64, b64)
    if c0 is not None and beta != 0:
        ref = ref + beta * c0
    if bias is not None:
        ref = ref + bias
    if relu:
        ref = np.maximum(ref, 0)
    mag = abs(alpha) * np.matmul(np.abs(a64), np.abs(b64)) + (abs(beta) * np.abs(c0) if c0 is not None else 0)
    ref_bf = bf(ref).astype(np.float64)
    got = out.float().numpy().astype(np.float64)
    assert out.dtype == dlcore.bfloat16
    tol = ULP * np.abs(ref_bf) + 1e-5 * mag + 1e-30
    bad = np.abs(got - ref_bf) > tol
    assert not bad.any(), f"{bad.sum()} of {bad.size} off; worst {np.abs(got - ref_bf)[bad].max()}"


SHAPES = [(1, 1, 1), (1, 7, 1), (5, 1, 3), (12, 32, 2), (13, 33, 3), (37, 70, 129), (64, 10, 100), (150, 40, 1100),
          (24, 800, 64), (3, 5, 2048), (200, 96, 31)]


@pytest.mark.parametrize("M,N,K", SHAPES)
def test_matmul_shapes(M, N, K, route, rng):
    a = bf(rng.standard_normal((M, K)))
    b = bf(rng.standard_normal((K, N)))
    out = dlcore.tensor(a).to(dlcore.bfloat16) @ dlcore.tensor(b).to(dlcore.bfloat16)
    check(out, a.astype(np.float64), b.astype(np.float64))


@pytest.mark.parametrize("ta,tb", [(False, True), (True, False), (True, True)])
def test_transposed_and_sliced_operands(ta, tb, route, rng):
    M, N, K = 29, 45, 67
    a = bf(rng.standard_normal((K, M) if ta else (M, K)))
    b = bf(rng.standard_normal((N, K) if tb else (K, N)))
    da = dlcore.tensor(a).to(dlcore.bfloat16)
    db = dlcore.tensor(b).to(dlcore.bfloat16)
    da, a = (da.t(), a.T) if ta else (da, a)
    db, b = (db.t(), b.T) if tb else (db, b)
    check(da @ db, a.astype(np.float64), b.astype(np.float64))
    # sliced (row stride larger than the row, odd column offset) and column-strided operands
    big = bf(rng.standard_normal((40, 90)))
    dbig = dlcore.tensor(big).to(dlcore.bfloat16)
    check(dbig[3:30, 1:35] @ dbig[:, ::2][1:35], big[3:30, 1:35].astype(np.float64),
          big[:, ::2][1:35].astype(np.float64))


def test_batched_broadcast_linear_addmm(route, rng):
    a = bf(rng.standard_normal((3, 1, 9, 20)))
    b = bf(rng.standard_normal((4, 20, 11)))
    out = dlcore.tensor(a).to(dlcore.bfloat16) @ dlcore.tensor(b).to(dlcore.bfloat16)
    assert tuple(out.shape) == (3, 4, 9, 11)
    check(out, a.astype(np.float64), b.astype(np.float64))
    # bmm with many small products (the per-thread batch split)
    a = bf(rng.standard_normal((16, 8, 24)))
    b = bf(rng.standard_normal((16, 24, 5)))
    check(dlcore.bmm(dlcore.tensor(a).to(dlcore.bfloat16), dlcore.tensor(b).to(dlcore.bfloat16)),
          a.astype(np.float64), b.astype(np.float64))
    # linear: bias added in float32 before the one rounding; relu fused by F.relu after (a separate op)
    x = bf(rng.standard_normal((33, 70)))
    w = bf(rng.standard_normal((50, 70)))
    bias = bf(rng.standard_normal(50))
    y = dlcore.nn.functional.linear(dlcore.tensor(x).to(dlcore.bfloat16), dlcore.tensor(w).to(dlcore.bfloat16),
                                    dlcore.tensor(bias).to(dlcore.bfloat16))
    check(y, x.astype(np.float64), w.T.astype(np.float64), bias=bias.astype(np.float64))
    # addmm: alpha, beta
    c0 = bf(rng.standard_normal((33, 50)))
    y = dlcore.addmm(dlcore.tensor(c0).to(dlcore.bfloat16), dlcore.tensor(x).to(dlcore.bfloat16),
                     dlcore.tensor(w.T.copy()).to(dlcore.bfloat16), beta=0.5, alpha=-2.0)
    check(y, x.astype(np.float64), w.T.astype(np.float64), alpha=-2.0, beta=0.5, c0=c0.astype(np.float64))


def test_special_values_and_threads(route, rng):
    a = bf(rng.standard_normal((20, 40)))
    b = bf(rng.standard_normal((40, 36)))
    a[3, 5] = np.nan
    a[7, :] = 0.0
    b[:, 9] = np.inf
    out = (dlcore.tensor(a).to(dlcore.bfloat16) @ dlcore.tensor(b).to(dlcore.bfloat16)).float().numpy()
    with np.errstate(invalid="ignore"):  # (inf * 0 in the reference: NaN, as in the kernel)
        ref = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(out), np.isinf(ref))
    # the same bits at 1 and 2 threads (each output element is one thread's dot product in the same order)
    a = bf(rng.standard_normal((300, 200)))
    b = bf(rng.standard_normal((200, 260)))
    da, db = dlcore.tensor(a).to(dlcore.bfloat16), dlcore.tensor(b).to(dlcore.bfloat16)
    dlcore.set_num_threads(1)
    one = (da @ db).float().numpy()
    dlcore.set_num_threads(2)
    two = (da @ db).float().numpy()
    np.testing.assert_array_equal(one, two)
    check(da @ db, a.astype(np.float64), b.astype(np.float64))


def test_native_and_float32_routes_agree(rng):
    if not dlcore._C._gemm_bf16_available():
        pytest.skip("this CPU has no AVX512-BF16")
    a = dlcore.tensor(bf(rng.standard_normal((70, 300)))).to(dlcore.bfloat16)
    b = dlcore.tensor(bf(rng.standard_normal((300, 90)))).to(dlcore.bfloat16)
    native = (a @ b).float().numpy()
    dlcore._C._set_cpu_isa("avx2")
    f32 = (a @ b).float().numpy()
    # both round float32 sums of exact products once; their summation orders differ: at most one ulp apart
    assert np.all(np.abs(native - f32) <= ULP * np.abs(f32) + 1e-6)
    assert (native == f32).mean() > 0.9


def test_autograd_through_bf16_matmul(route, rng):
    a = dlcore.tensor(bf(rng.standard_normal((6, 10)))).to(dlcore.bfloat16).requires_grad_(True)
    b = dlcore.tensor(bf(rng.standard_normal((10, 4)))).to(dlcore.bfloat16).requires_grad_(True)
    g = bf(rng.standard_normal((6, 4)))
    (a @ b).backward(dlcore.tensor(g).to(dlcore.bfloat16))
    an, bn = a.float().detach().numpy().astype(np.float64), b.float().detach().numpy().astype(np.float64)
    check(a.grad, g.astype(np.float64), bn.T)
    check(b.grad, an.T, g.astype(np.float64))


@pytest.mark.parametrize("K", [70, 1100])
@pytest.mark.parametrize("out_layout", ["rows", "columns"])
def test_epilogue_store_paths(K, out_layout, route, rng):
    """The fused bfloat16 store (alpha, beta, bias per row/column, ReLU; one KC block or several through the
    float32 scratch) and the strided-output path, through the batched entry the layers use."""
    M, N = 27, 45
    a = bf(rng.standard_normal((1, M, K)))
    b = bf(rng.standard_normal((1, K, N)))
    c0 = bf(rng.standard_normal((M, N)))
    for kind, blen in (("col", N), ("row", M)):
        bias = bf(rng.standard_normal(blen))
        if out_layout == "rows":
            out = dlcore.tensor(c0[None]).to(dlcore.bfloat16)
        else:  # unit stride down the columns
            out = dlcore.tensor(np.ascontiguousarray(c0.T)[None]).to(dlcore.bfloat16).transpose(1, 2)
        dlcore._C._batched_gemm(out, dlcore.tensor(a).to(dlcore.bfloat16), dlcore.tensor(b).to(dlcore.bfloat16),
                                dlcore.tensor(bias).to(dlcore.bfloat16), alpha=0.75, beta=-0.5, bias_kind=kind,
                                relu=True)
        bb = bias[None, :] if kind == "col" else bias[:, None]
        check(out[0], a[0].astype(np.float64), b[0].astype(np.float64), bias=bb.astype(np.float64), relu=True,
              alpha=0.75, beta=-0.5, c0=c0.astype(np.float64))
