"""The CUDA GEMM (csrc/ops/gemm/gemm_*kernels.cuh): every kernel variant on random and odd shapes, all transposes,
sliced and misaligned operands, batch broadcast, alpha/beta, bias (per row / per column), ReLU and a NaN-poisoned
write-only output, against a NumPy float64 reference; matmul/linear/autograd on cuda against the CPU.

Kernel variants are forced through the test hook dlcore._C._gemm_cuda_set_variant(name) (float32: "simt128" the
128x128x8 SIMT tile, "simt64" the 64x64x16 tile, "tf32" the mma.sync m16n8k8 kernel; "auto" = the heuristic).
float64 always runs its SIMT kernel, float16/bfloat16 the mma.sync m16n8k16 kernel. The four shared-memory layout
instantiations of the tensor-core kernel are reached through the operands' layouts (c/t: cp.async paths; s/o:
element-wise loads).

Tolerances (per element, documented in bench/README.md too): with u_in the unit roundoff of the inputs as the
kernel uses them and u_out that of the stored result,
    |out - ref| <= 8 * u_in * sqrt(K + 1) * (|alpha| (|A| @ |B|) + |beta C| + |bias|) + 2 * u_out * |ref| + tiny
float32 u_in = 2^-24; float64 2^-53; TF32 2^-11 (inputs rounded to 10 mantissa bits); float16/bfloat16 2^-24 (the
reference uses the 16-bit inputs exactly; products and float32 accumulation) with u_out = 2^-11 / 2^-8 (the final
rounding to the 16-bit output).

Runs on the emulated device in CI (keep shapes small: a launch runs whole 256-thread blocks on fibers) and on a
real GPU unchanged."""
import numpy as np
import pytest

import dlcore
from dlcore.testing import assert_close

pytestmark = pytest.mark.skipif(not dlcore.cuda.is_available(), reason="needs a cuda device (real or emulated)")

C = dlcore._C
DT = {"float32": dlcore.float32, "float64": dlcore.float64, "float16": dlcore.float16, "bfloat16": dlcore.bfloat16}
U_IN = {"float32": 2.0 ** -24, "float64": 2.0 ** -53, "tf32": 2.0 ** -11, "float16": 2.0 ** -24,
        "bfloat16": 2.0 ** -24}
U_OUT = {"float32": 2.0 ** -24, "float64": 2.0 ** -53, "tf32": 2.0 ** -24, "float16": 2.0 ** -11,
         "bfloat16": 2.0 ** -8}

# (dtype, forced float32 variant): every kernel
VARIANTS = [("float32", "simt128"), ("float32", "simt64"), ("float32", "tf32"), ("float64", "auto"),
            ("float16", "auto"), ("bfloat16", "auto")]


@pytest.fixture(params=["forward", "random:7"] if dlcore.cuda.is_emulated() else ["device"])
def schedule(request):
    """The kernel tests that matter most run under both emulator thread orders (a missing __syncthreads or
    cp.async wait shows under one of them), whatever DLCORE_SIMT_SCHEDULE the suite runs with."""
    if request.param == "device":
        yield request.param
        return
    old = dlcore.cuda.get_emulator_schedule()
    dlcore.cuda.set_emulator_schedule(request.param)
    yield request.param
    dlcore.cuda.set_emulator_schedule(old)


@pytest.fixture
def variant():
    """Restores the kernel choice and the TF32 flag after a test."""
    yield lambda name: C._gemm_cuda_set_variant(name)
    C._gemm_cuda_set_variant("auto")
    dlcore.backends.cuda.matmul.allow_tf32 = False


def to_dev(x64, dtype):
    """A cuda tensor of `dtype` holding x64 (rounded), and the float64 values it actually holds."""
    host = dlcore.from_numpy(np.ascontiguousarray(x64, dtype=np.float64 if dtype == "float64" else np.float32))
    host = host.to(DT[dtype])
    return host.to("cuda"), host.to(dlcore.float64).numpy()


def operand(rng, B, rows, cols, dtype, layout, fill=None):
    """[B, rows, cols] cuda operand and its float64 values. layout: 'c' contiguous, 't' a transposed view of a
    contiguous buffer, 's' a strided slice (no unit stride), 'o' contiguous at a 1-element offset (not 16-byte
    aligned), 'p' / 'u' row-major / transposed with a padded leading dimension (16-byte aligned rows for any
    shape), 'b' batch-broadcast (batch stride 0)."""
    gen = (lambda s: rng.standard_normal(s)) if fill is None else (lambda s: np.full(s, fill))
    if layout == "c":
        t, v = to_dev(gen((B, rows, cols)), dtype)
        return t, v
    if layout == "t":
        t, v = to_dev(gen((B, cols, rows)), dtype)
        return t.transpose(1, 2), v.transpose(0, 2, 1)
    if layout in "pu":  # row-major / transposed with a padded (16-byte multiple) leading dimension: odd shapes
        inner, outer = (cols, rows) if layout == "p" else (rows, cols)  # on the vectorised (cp.async) paths
        pad = (inner + 7) // 8 * 8 + 8
        t, v = to_dev(gen((B, outer, pad)), dtype)
        t, v = t[:, :, :inner], v[:, :, :inner]
        return (t, v) if layout == "p" else (t.transpose(1, 2), v.transpose(0, 2, 1))
    if layout == "s":
        t, v = to_dev(gen((B, 2 * rows + 1, 2 * cols + 1)), dtype)
        return t[:, 1::2, 1::2], v[:, 1::2, 1::2]
    if layout == "o":
        t, v = to_dev(gen(B * rows * cols + 1), dtype)
        return t[1:].view(B, rows, cols), v[1:].reshape(B, rows, cols)
    assert layout == "b"
    t, v = to_dev(gen((1, rows, cols)), dtype)
    return t.expand(B, rows, cols), np.broadcast_to(v, (B, rows, cols))


def run_case(rng, dtype, M, N, K, la="c", lb="c", lc="c", B=1, alpha=1.0, beta=0.0, bias_kind="none", relu=False,
             tf32=False):
    a, a64 = operand(rng, B, M, K, dtype, la)
    b, b64 = operand(rng, B, K, N, dtype, lb)
    # beta == 0: out is write-only; NaN poison catches both reads of it and elements never written
    c, c64 = operand(rng, B, M, N, dtype, lc, fill=np.nan if beta == 0 else None)
    bias = bias64 = None
    if bias_kind != "none":
        bias, bias64 = to_dev(rng.standard_normal(M if bias_kind == "row" else N), dtype)
    out = C._batched_gemm(c, a, b, bias, alpha, beta, bias_kind, relu)
    assert out is c
    ref = alpha * np.matmul(a64, b64)
    mag = abs(alpha) * np.matmul(np.abs(a64), np.abs(b64))
    if beta != 0:
        ref = ref + beta * c64
        mag = mag + abs(beta) * np.abs(c64)
    if bias_kind != "none":
        bb = bias64[None, :, None] if bias_kind == "row" else bias64[None, None, :]
        ref = ref + bb
        mag = mag + np.abs(bb)
    if relu:
        ref = np.maximum(ref, 0)
    kind = "tf32" if tf32 else dtype
    bound = 8 * U_IN[kind] * np.sqrt(K + 1) * mag + 2 * U_OUT[kind] * np.abs(ref) + 1e-30
    got = out.cpu().to(dlcore.float64).numpy()
    assert_close(got, ref, rtol=0.0, atol=bound,
                 msg=f"{dtype}{' tf32' if tf32 else ''} B={B} M={M} N={N} K={K} layouts {la}{lb}{lc} "
                     f"alpha={alpha} beta={beta} bias={bias_kind} relu={relu}")


@pytest.mark.parametrize("dtype,name", VARIANTS)
def test_variant_odd_shapes_all_transposes(dtype, name, variant, schedule, rng):
    variant(name)
    tf32 = name == "tf32"
    # tiny, odd and just-over-a-tile shapes; all four transpose combinations on each, dense (c/t: mostly the
    # element-wise paths at odd sizes) and padded (p/u: the 16-byte / cp.async paths with partial chunks)
    shapes = [(1, 1, 1), (3, 17, 5), (17, 3, 65), (65, 130, 17), (130, 65, 3)]
    for (M, N, K) in shapes:
        for la, lb in [(x, y) for x in "ct" for y in "ct"] + [(x, y) for x in "pu" for y in "pu"]:
                run_case(rng, dtype, M, N, K, la, lb, tf32=tf32)


@pytest.mark.parametrize("dtype,name", VARIANTS)
def test_variant_random_cases(dtype, name, variant, rng):
    # random shapes (up to two tiles each way, K up to 5 slices), layouts, batch and epilogue
    variant(name)
    for _ in range(10):
        M, N = (int(x) for x in rng.integers(1, 200, 2))
        K = int(rng.integers(0, 160))
        la, lb = (str(x) for x in rng.choice(list("ctpusob"), 2))
        lc = str(rng.choice(list("ctpso")))
        beta = float(rng.choice([0.0, 0.0, 1.0, -0.3]))
        run_case(rng, dtype, M, N, K, la, lb, lc, B=int(rng.integers(1, 3)), alpha=float(rng.choice([1.0, 0.7])),
                 beta=beta, bias_kind=str(rng.choice(["none", "row", "col"])), relu=bool(rng.integers(0, 2)),
                 tf32=name == "tf32")


@pytest.mark.parametrize("dtype,name", VARIANTS)
def test_variant_sliced_misaligned_epilogue(dtype, name, variant, rng):
    variant(name)
    tf32 = name == "tf32"
    # non-contiguous and misaligned operands and outputs (the scalar / element-wise load paths), alpha/beta,
    # bias of both kinds, ReLU, a transposed output
    run_case(rng, dtype, 33, 20, 19, "s", "o", "c", alpha=-0.5, beta=0.75, bias_kind="row", tf32=tf32)
    run_case(rng, dtype, 20, 33, 40, "o", "s", "t", alpha=2.0, bias_kind="col", relu=True, tf32=tf32)
    run_case(rng, dtype, 7, 9, 128, "t", "s", "s", beta=-1.0, relu=True, tf32=tf32)


@pytest.mark.parametrize("dtype,name", VARIANTS)
def test_variant_batched_broadcast(dtype, name, variant, rng):
    variant(name)
    tf32 = name == "tf32"
    run_case(rng, dtype, 9, 13, 21, "b", "c", "c", B=3, bias_kind="col", tf32=tf32)
    run_case(rng, dtype, 5, 12, 8, "t", "b", "c", B=4, alpha=1.5, beta=0.5, tf32=tf32)


@pytest.mark.parametrize("name", ["simt128", "simt64", "tf32"])
def test_float32_full_tile_vector_paths(name, variant, schedule, rng):
    # 128 x 128 x 64: whole tiles, 16-byte loads and stores on every operand layout
    variant(name)
    for la, lb in [("c", "c"), ("t", "t")]:
        run_case(rng, "float32", 128, 128, 64, la, lb, beta=0.5, tf32=name == "tf32")


def test_bf16_full_tile_pipeline(schedule, rng):
    # K = 96: three pipeline stages in flight, full tiles on both cp.async layouts
    run_case(rng, "bfloat16", 128, 128, 96, "c", "t", bias_kind="row", relu=True)
    run_case(rng, "float16", 128, 128, 96, "t", "c", alpha=0.5, beta=2.0)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_k_zero_gives_beta_c_plus_bias(dtype, rng):
    run_case(rng, dtype, 5, 6, 0, beta=0.5, bias_kind="col")
    run_case(rng, dtype, 5, 6, 0, bias_kind="row", relu=True)


def test_nan_inputs_propagate_through_relu(rng):
    a = np.ones((1, 4, 3))
    a[0, 1, 2] = np.nan
    ta, _ = to_dev(a, "float32")
    tb, _ = to_dev(-np.ones((1, 3, 5)), "float32")
    out = dlcore.empty(1, 4, 5, device="cuda")
    C._batched_gemm(out, ta, tb, None, 1.0, 0.0, "none", True)
    got = out.cpu().numpy()
    assert np.isnan(got[0, 1]).all() and (got[0, [0, 2, 3]] == 0).all()


def test_allow_tf32_flag_reaches_the_kernel(variant):
    assert dlcore.backends.cuda.matmul.allow_tf32 is False  # off by default, like torch
    # 1 + 2^-15 is exact in float32 and rounds to 1 in TF32 (10 mantissa bits)
    a = dlcore.tensor([[1.0 + 2.0 ** -15]], device="cuda")
    b = dlcore.tensor([[1.0]], device="cuda")
    assert float((a @ b).cpu().numpy()[0, 0]) == 1.0 + 2.0 ** -15
    dlcore.backends.cuda.matmul.allow_tf32 = True
    assert C._gemm_cuda_get_allow_tf32() is True
    assert float((a @ b).cpu().numpy()[0, 0]) == 1.0
    with pytest.raises(TypeError):
        dlcore.backends.cuda.matmul.allow_tf32 = 1


def test_heuristic_and_variant_hook(variant):
    assert C._gemm_cuda_pick(4096, 4096, 4096, 1) == "simt128"
    assert C._gemm_cuda_pick(64, 4096, 4096, 1) == "simt64"
    assert C._gemm_cuda_pick(128, 1000, 4096, 1) == "simt64"
    assert C._gemm_cuda_pick(256, 256, 256, 32) == "simt128"
    dlcore.backends.cuda.matmul.allow_tf32 = True
    assert C._gemm_cuda_pick(64, 64, 64, 1) == "tf32"
    variant("simt64")
    assert C._gemm_cuda_get_variant() == "simt64"
    with pytest.raises(ValueError):
        C._gemm_cuda_set_variant("wgmma")


def test_matmul_linear_on_cuda_match_cpu(rng):
    a = rng.standard_normal((2, 3, 17, 9)).astype(np.float32)
    b = rng.standard_normal((3, 9, 5)).astype(np.float32)
    da, db = dlcore.from_numpy(a), dlcore.from_numpy(b)
    assert_close((da.to("cuda") @ db.to("cuda")).cpu().numpy(), (da @ db).numpy(), rtol=1e-5, atol=1e-5)
    x = rng.standard_normal((6, 20)).astype(np.float32)
    w = rng.standard_normal((7, 20)).astype(np.float32)
    bias = rng.standard_normal(7).astype(np.float32)
    dx, dw, dbias = (dlcore.from_numpy(t) for t in (x, w, bias))
    out = C.linear(dx.to("cuda"), dw.to("cuda"), dbias.to("cuda"), True)
    assert_close(out.cpu().numpy(), C.linear(dx, dw, dbias, True).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_matmul_on_cuda_and_cpu(dtype, rng):
    a, a64 = to_dev(rng.standard_normal((4, 10, 24)), dtype)
    b, b64 = to_dev(rng.standard_normal((24, 6)), dtype)
    out = a @ b
    assert out.dtype == DT[dtype] and out.device.type == "cuda"
    ref = a64 @ b64
    bound = 8 * U_IN[dtype] * 5 * (np.abs(a64) @ np.abs(b64)) + 2 * U_OUT[dtype] * np.abs(ref)
    assert_close(out.cpu().to(dlcore.float64).numpy(), ref, rtol=0.0, atol=bound)
    # on the CPU too (bfloat16: the AVX512-BF16 kernel where present; else float32 copies, one rounding)
    out_cpu = a.cpu() @ b.cpu()
    assert out_cpu.dtype == DT[dtype] and out_cpu.device.type == "cpu"
    assert_close(out_cpu.to(dlcore.float64).numpy(), ref, rtol=0.0, atol=bound)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_autograd_matmul_cuda_vs_cpu(dtype, rng):
    npd = np.float32 if dtype == "float32" else np.float64
    a = rng.standard_normal((3, 7, 11)).astype(npd)
    b = rng.standard_normal((11, 5)).astype(npd)
    g = rng.standard_normal((3, 7, 5)).astype(npd)
    grads = {}
    for dev in ("cpu", "cuda"):
        ta = dlcore.from_numpy(a).to(dev).requires_grad_()
        tb = dlcore.from_numpy(b).to(dev).requires_grad_()
        ((ta @ tb) * dlcore.from_numpy(g).to(dev)).sum().backward()
        grads[dev] = (ta.grad.cpu().numpy(), tb.grad.cpu().numpy())
    t = 1e-4 if dtype == "float32" else 1e-12
    for x, y in zip(grads["cuda"], grads["cpu"]):
        assert_close(x, y, rtol=t, atol=t)


def test_raw_hook_rejects_bad_input():
    a = dlcore.zeros(1, 2, 3, device="cuda")
    b = dlcore.zeros(1, 4, 5, device="cuda")
    out = dlcore.zeros(1, 2, 5, device="cuda")
    with pytest.raises(ValueError, match="do not match"):
        C._batched_gemm(out, a, b)
    with pytest.raises(ValueError, match="needs a bias"):
        C._batched_gemm(out, a, dlcore.zeros(1, 3, 5, device="cuda"), None, 1.0, 0.0, "col")


@pytest.mark.parametrize("dtype,name", VARIANTS)
def test_stores_stay_inside_the_output(dtype, name, variant, rng):
    # out is an interior window of a sentinel-filled buffer with 16-byte aligned rows (the vector-store path of
    # the SIMT kernel); every element outside the window must keep the sentinel, every one inside be written
    variant(name)
    B, M, N, K = 2, 37, 70, 9
    W = 88
    a, a64 = operand(rng, B, M, K, dtype, "p")
    b, b64 = operand(rng, B, K, N, dtype, "p")
    buf, _ = to_dev(np.full((B, M + 2, W), 7.0), dtype)
    out = buf[:, 1:M + 1, 8:8 + N]
    C._batched_gemm(out, a, b, None, 1.0, 0.0, "none", False)
    got = buf.cpu().to(dlcore.float64).numpy()
    inside = np.zeros(got.shape, bool)
    inside[:, 1:M + 1, 8:8 + N] = True
    assert (got[~inside] == 7.0).all()
    ref = np.matmul(a64, b64)
    kind = "tf32" if name == "tf32" else dtype
    bound = 8 * U_IN[kind] * np.sqrt(K + 1) * np.matmul(np.abs(a64), np.abs(b64)) + 2 * U_OUT[kind] * np.abs(ref)
    assert_close(got[:, 1:M + 1, 8:8 + N], ref, rtol=0.0, atol=bound)
