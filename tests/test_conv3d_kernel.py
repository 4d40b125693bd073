"""The CPU conv3d kernels (csrc/ops/conv/conv3d_cpu.cpp: the direct float32 kernel per ISA and vol2col + GEMM)
behind F.conv3d / F.conv_transpose3d, against torch CPU with copied weights: outputs and the gradients of input,
weight and bias over many shapes (odd sizes, rows that end in a partial vector, stride / padding / dilation /
groups, no bias, non-contiguous inputs), each CPU algorithm and ISA pinned in turn, on both devices (the cuda device
keeps its own path); a float64 finite-difference check; the raw kernels' argument errors."""
import numpy as np
import pytest

import dlcore
import dlcore.functional as F
from dlcore import _C
from dlcore.testing import assert_close, gradcheck

torch = pytest.importorskip("torch")
torch.set_num_threads(1)
TF = torch.nn.functional

TOL = {"float32": dict(rtol=3e-5, atol=3e-5), "float64": dict(rtol=1e-10, atol=1e-10)}

ISAS = [i for i in ("scalar", "avx2", "avx512")
        if ["scalar", "avx2", "avx512"].index(i) <= ["scalar", "avx2", "avx512"].index(_C._cpu_isa_supported())]


@pytest.fixture
def algo():
    """Restores the conv3d algorithm the test pins."""
    yield _C._conv3d_set_algorithm
    _C._conv3d_set_algorithm("auto")


def _pair(rng, shape, dtype, device, scale=1.0):
    a = (rng.standard_normal(shape) * scale).astype(dtype)
    d = dlcore.tensor(a, device=device).requires_grad_(True)
    t = torch.tensor(a).requires_grad_(True)
    return d, t


def _run(rng, dtype, device, n, c, k, sp, ks, st, pad, dil, g, bias=True, what="conv3d", x_fn=None):
    ks3 = (ks,) * 3 if isinstance(ks, int) else ks
    dx, tx = _pair(rng, (n, c) + sp, dtype, device)
    dw, tw = _pair(rng, (k, c // g) + ks3, dtype, device, 0.3)
    db, tb = _pair(rng, (k,), dtype, device) if bias else (None, None)
    xin_d, xin_t = (dx, tx) if x_fn is None else (x_fn(dx), x_fn(tx))
    ty = TF.conv3d(xin_t, tw, tb, st, pad, dil, g)
    dy = F.conv3d(xin_d, dw, db, st, pad, dil, g)
    tol = TOL[dtype]
    assert list(dy.shape) == list(ty.shape), f"{what}: shape {list(dy.shape)} vs torch {list(ty.shape)}"
    assert_close(dy, ty.detach().numpy(), msg=what, **tol)
    go = rng.standard_normal(tuple(ty.shape)).astype(dtype)
    ty.backward(torch.tensor(go))
    dy.backward(dlcore.tensor(go, device=device))
    pairs = [("input", dx, tx), ("weight", dw, tw)] + ([("bias", db, tb)] if bias else [])
    for name, d, t in pairs:
        assert d.grad is not None, f"{what}: no gradient for the {name}"
        scale = max(1.0, float(np.abs(t.grad.numpy()).max()))
        assert_close(d.grad, t.grad.numpy(), msg=f"{what}: {name} gradient", rtol=tol["rtol"],
                     atol=tol["atol"] * scale)


CASES = [
    # N, C, K, (D, H, W), kernel, stride, padding, dilation, groups, bias
    (2, 4, 8, (5, 6, 16), 3, 1, 1, 1, 1, True),             # rows of whole 8 / 16-lane vectors
    (1, 3, 5, (4, 5, 17), 3, 1, 1, 1, 1, True),             # a partial last vector per row
    (2, 2, 3, (3, 4, 33), (1, 2, 3), 1, (0, 1, 1), 1, 1, False),
    (1, 5, 9, (6, 7, 12), (3, 1, 2), 1, (1, 0, 1), (2, 1, 2), 1, True),   # dilation, even kernel width
    (2, 4, 6, (7, 6, 9), 3, 2, 1, 1, 2, True),              # stride 2 (GEMM path), groups
    (1, 3, 4, (5, 8, 20), (2, 3, 3), (2, 1, 1), (1, 1, 0), 1, 1, True),   # depth stride, unit width stride
    (1, 6, 6, (4, 5, 18), 3, (1, 2, 1), (1, 1, 1), (1, 1, 2), 3, True),   # height stride, groups
    (2, 3, 4, (3, 3, 3), 1, 1, 0, 1, 1, True),              # 1x1x1 (one GEMM on the input)
    (3, 4, 6, (3, 2, 5), 1, 1, 0, 1, 2, False),             # 1x1x1, groups
    (1, 4, 4, (3, 4, 5), 1, (1, 2, 1), (1, 0, 1), 1, 1, True),  # 1x1x1 with stride and padding (not pointwise)
    (1, 4, 4, (6, 6, 6), 2, (3, 2, 3), 0, 1, 4, False),     # depthwise-like, strides > 1
    (1, 2, 3, (5, 4, 8), (3, 2, 2), 1, "same", 1, 1, True),  # 'same' with even kernels: asymmetric padding
    (1, 2, 4, (4, 5, 24), 3, 1, 2, 1, 1, True),             # padding 2 > what the flipped form allows? (= 2)
    (1, 2, 4, (4, 5, 10), 3, 1, (3, 1, 3), 1, 1, True),     # padding beyond the kernel's extent (GEMM input grad)
    (3, 1, 2, (2, 9, 15), (2, 4, 5), 1, (1, 2, 2), 1, 1, True),
    # the weight gradient's channels-in-lanes kernel: 16 channels per group, 12 (zero lanes), 48 (3 vectors)
    (1, 8, 32, (3, 4, 16), 3, 1, 1, 1, 2, True),
    (2, 3, 12, (3, 5, 16), 3, 1, 1, 1, 1, True),
    (1, 2, 48, (3, 4, 9), (2, 3, 3), (1, 2, 1), (0, 1, 1), (1, 1, 2), 1, True),
    # weight-gradient tap blocks per (kernel depth, row) that skip padding rows: 18 taps per (t, r), 24 strided
    (1, 6, 16, (4, 5, 16), 3, 1, 1, 1, 1, True),
    (2, 8, 16, (5, 6, 20), 3, (2, 1, 1), (2, 1, 1), (2, 1, 1), 1, True),
    # width strides on the direct kernels (rows split into stride phases): 16 and 8 output columns
    (1, 3, 8, (4, 5, 31), 3, (1, 1, 2), 1, 1, 1, True),
    (1, 2, 16, (3, 4, 50), 2, (2, 1, 3), (1, 0, 0), (1, 1, 2), 1, True),
    (2, 4, 16, (4, 6, 16), 3, 2, 1, 1, 2, False),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_conv3d_kernels_vs_torch(case, device, float_dtype, rng, algo):
    n, c, k, sp, ks, st, pad, dil, g, bias = CASES[case]
    for alg in ("auto", "gemm") if device == "cpu" else ("auto",):  # (the algorithm is a CPU setting)
        algo(alg)
        _run(rng, float_dtype, device, n, c, k, sp, ks, st, pad, dil, g, bias, f"conv3d case {case} {alg}")


@pytest.mark.parametrize("isa", ISAS)
def test_conv3d_each_isa(isa, rng):
    """The direct kernel of each ISA (AVX-512 falls back to the AVX2 kernel's 8 lanes for 8-column rows) and the
    scalar GEMM path."""
    _C._set_cpu_isa(isa)
    for case in (0, 1, 3, 6):
        n, c, k, sp, ks, st, pad, dil, g, bias = CASES[case]
        _run(rng, "float32", "cpu", n, c, k, sp, ks, st, pad, dil, g, bias, f"conv3d {isa} case {case}")
    _run(rng, "float32", "cpu", 1, 3, 4, (3, 4, 8), 3, 1, 1, 1, 1, True, f"conv3d {isa} 8 columns")


def test_conv3d_bench_shapes_small(rng):
    """Scaled-down forms of the benchmarked layers (channels and sizes as there, batch 1)."""
    _run(rng, "float32", "cpu", 1, 16, 32, (6, 16, 16), 3, 1, 1, 1, 1, True, "conv3d [1,16,6,16,16]->32")
    _run(rng, "float32", "cpu", 1, 3, 16, (4, 8, 64), 3, 1, 1, 1, 1, True, "conv3d video stem")


def test_conv3d_threads(rng):
    """Batch split over threads (N >= threads) and rows split over threads (N = 1)."""
    dlcore.set_num_threads(2)
    for alg in ("auto", "gemm"):
        _C._conv3d_set_algorithm(alg)
        try:
            _run(rng, "float32", "cpu", 3, 4, 5, (4, 5, 17), 3, 1, 1, 1, 1, True, f"conv3d 2 threads {alg}")
            _run(rng, "float64", "cpu", 1, 4, 6, (5, 4, 9), 3, (2, 1, 1), 1, 1, 2, True, f"conv3d 2 threads N=1 {alg}")
            _run(rng, "float32", "cpu", 1, 6, 16, (5, 6, 16), 3, 1, 1, 1, 1, True, f"conv3d 2 threads N=1 f32 {alg}")
        finally:
            _C._conv3d_set_algorithm("auto")


def test_conv3d_noncontiguous_input(device, float_dtype, rng):
    _run(rng, float_dtype, device, 2, 3, 4, (6, 5, 7), 3, 1, 1, 1, 1, True, "conv3d permuted input",
         x_fn=lambda t: t.permute(0, 1, 2, 4, 3))
    _run(rng, float_dtype, device, 2, 4, 4, (5, 6, 9), 2, 1, 0, 1, 2, False, "conv3d strided-view input",
         x_fn=lambda t: t[:, :, ::2, 1:, ::2])


def test_conv3d_partial_grads(rng):
    """Only the weight needs a gradient; only the input; the bias alone."""
    x = rng.standard_normal((2, 3, 4, 5, 6)).astype(np.float32)
    w = (rng.standard_normal((4, 3, 3, 3, 3)) * 0.3).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    go = rng.standard_normal((2, 4, 4, 5, 6)).astype(np.float32)
    tx, tw, tb = (torch.tensor(a).requires_grad_(True) for a in (x, w, b))
    TF.conv3d(tx, tw, tb, 1, 1).backward(torch.tensor(go))
    for need in ((True, False, False), (False, True, False), (False, False, True)):
        dx, dw, db = (dlcore.tensor(a).requires_grad_(r) for a, r in zip((x, w, b), need))
        F.conv3d(dx, dw, db, 1, 1).backward(dlcore.tensor(go))
        for d, t, r in zip((dx, dw, db), (tx, tw, tb), need):
            if r:
                assert_close(d.grad, t.grad.numpy(), rtol=3e-5, atol=1e-4)
            else:
                assert d.grad is None


CT_CASES = [
    # N, Cin, Cout, (D, H, W), kernel, stride, padding, output_padding, groups, dilation
    (2, 4, 6, (3, 4, 17), 3, 1, 1, 0, 1, 1),       # the direct kernel (flipped correlation)
    (1, 4, 6, (3, 4, 5), 3, 2, 1, 1, 2, 1),        # strided, output padding, groups (GEMM)
    (1, 3, 2, (4, 3, 5), (2, 3, 2), (1, 2, 2), (0, 1, 1), (0, 1, 0), 1, (2, 1, 1)),
    (1, 2, 2, (3, 3, 4), 2, 1, 0, (0, 0, 1), 1, 2),  # output_padding >= stride (allowed by dilation: old path)
]


@pytest.mark.parametrize("case", range(len(CT_CASES)))
def test_conv_transpose3d_vs_torch(case, device, float_dtype, rng):
    n, ci, co, sp, ks, st, pad, opad, g, dil = CT_CASES[case]
    ks3 = (ks,) * 3 if isinstance(ks, int) else ks
    dx, tx = _pair(rng, (n, ci) + sp, float_dtype, device)
    dw, tw = _pair(rng, (ci, co // g) + ks3, float_dtype, device, 0.3)
    db, tb = _pair(rng, (co,), float_dtype, device)
    ty = TF.conv_transpose3d(tx, tw, tb, st, pad, opad, g, dil)
    dy = F.conv_transpose3d(dx, dw, db, st, pad, opad, g, dil)
    tol = TOL[float_dtype]
    assert list(dy.shape) == list(ty.shape)
    assert_close(dy, ty.detach().numpy(), msg=f"conv_transpose3d case {case}", **tol)
    go = rng.standard_normal(tuple(ty.shape)).astype(float_dtype)
    ty.backward(torch.tensor(go))
    dy.backward(dlcore.tensor(go, device=device))
    for name, d, t in (("input", dx, tx), ("weight", dw, tw), ("bias", db, tb)):
        scale = max(1.0, float(np.abs(t.grad.numpy()).max()))
        assert_close(d.grad, t.grad.numpy(), msg=f"conv_transpose3d case {case} {name} gradient",
                     rtol=tol["rtol"], atol=tol["atol"] * scale)


@pytest.mark.parametrize("alg", ["auto", "gemm"])
def test_conv3d_gradcheck_float64(alg, algo):
    algo(alg)
    rng = np.random.default_rng(5)
    x = dlcore.tensor(rng.standard_normal((1, 2, 3, 4, 5)), requires_grad=True)
    w = dlcore.tensor(rng.standard_normal((4, 1, 2, 3, 2)), requires_grad=True)
    b = dlcore.tensor(rng.standard_normal((4,)), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv3d(x, w, b, (1, 2, 1), (1, 1, 0), (2, 1, 1), 2), [x, w, b])
    assert gradcheck(lambda x, w, b: F.conv3d(x, w, b, 1, 1), [x, dlcore.tensor(
        rng.standard_normal((3, 2, 3, 3, 3)), requires_grad=True), dlcore.tensor(rng.standard_normal(3),
                                                                                 requires_grad=True)])


def test_conv3d_raw_kernel_errors():
    x = dlcore.zeros([1, 2, 3, 4, 5])
    w = dlcore.zeros([3, 2, 2, 2, 2])
    args = ([1, 1, 1], [0] * 6, [1, 1, 1], 1)
    assert list(_C.conv3d_cpu(x, w, None, *args).shape) == [1, 3, 2, 3, 4]
    with pytest.raises(ValueError, match="conv3d.*5-D input"):
        _C.conv3d_cpu(dlcore.zeros([2, 3, 4, 5]), w, None, *args)
    with pytest.raises(ValueError, match="conv3d.*input channels"):
        _C.conv3d_cpu(dlcore.zeros([1, 3, 3, 4, 5]), w, None, *args)
    with pytest.raises(TypeError, match="conv3d.*dtype"):
        _C.conv3d_cpu(x, dlcore.zeros([3, 2, 2, 2, 2], dtype=dlcore.float64), None, *args)
    with pytest.raises(ValueError, match="conv3d.*padding must have 6"):
        _C.conv3d_cpu(x, w, None, [1, 1, 1], [0, 0, 0], [1, 1, 1], 1)
    with pytest.raises(ValueError, match="conv3d.*larger than the padded input"):
        _C.conv3d_cpu(x, dlcore.zeros([3, 2, 4, 2, 2]), None, *args)
    with pytest.raises(ValueError, match="conv3d.*bias"):
        _C.conv3d_cpu(x, w, dlcore.zeros([2]), *args)
    with pytest.raises(ValueError, match="conv3d.*grad_output shape"):
        _C.conv3d_backward_input_cpu(dlcore.zeros([1, 3, 2, 3, 3]), w, [1, 2, 3, 4, 5], *args)
    with pytest.raises(ValueError, match="conv3d.*grad_output shape"):
        _C.conv3d_backward_weight_cpu(dlcore.zeros([1, 3, 2, 3, 3]), x, [3, 2, 2, 2, 2], *args)
    with pytest.raises(TypeError, match="conv3d.*float32 or float64"):
        _C.conv3d_cpu(dlcore.zeros([1, 2, 3, 4, 5], dtype=dlcore.int64), w, None, *args)
    with pytest.raises(ValueError, match="_conv3d_set_algorithm"):
        _C._conv3d_set_algorithm("winograd")
