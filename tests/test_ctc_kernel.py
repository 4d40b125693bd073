"""The native CTC loss kernel (csrc/ops/softmax_loss/ctc_cpu.cpp behind F.ctc_loss): forward and torch's gradient
against torch.nn.functional.ctc_loss (every reduction, padded and concatenated targets, repeated labels, blank not
0, zero_infinity with impossible alignments, -inf log-probabilities), a NumPy float64 alpha-recursion oracle,
float64 finite differences, every ISA build and thread count, the recomputing backward, and torch's error
catalogue for bad input. Devices: cpu and cuda (its own kernels, ctc_kernels.cuh)."""
import math

import numpy as np
import pytest

import dlcore
import dlcore.nn as nn
import dlcore.nn.functional as F
from dlcore import _nn_extra2
from dlcore.testing import assert_close, gradcheck
from conftest import D, DEVICES  # noqa: E402

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = {"float32": dict(rtol=2e-4, atol=2e-5), "float64": dict(rtol=1e-10, atol=1e-11)}
ISAS = ["scalar", "avx2", "avx512"]


def host(t):
    return t.detach().cpu().numpy()


def supported_isas():
    best = dlcore._C._cpu_isa_supported()
    return ISAS[:ISAS.index(best) + 1]


def make_case(rng, T=12, N=5, C=6, blank=0, S=6):
    """log_softmax inputs; targets avoid the blank; a repeated label, an empty target, a short input."""
    x = rng.standard_normal((T, N, C))
    lp = x - np.log(np.exp(x).sum(2, keepdims=True))
    labels = [c for c in range(C) if c != blank]
    tg = rng.choice(labels, (N, S))
    tl = rng.integers(1, S + 1, N)
    il = rng.integers(T // 2, T + 1, N)
    tg[0, :3] = [labels[1], labels[1], labels[2]]
    tl[0], il[0] = 3, T
    if N > 2:
        tl[1] = 0
        il[2] = T
    return x, lp, tg, il, tl


def torch_both(lp, tg, il, tl, blank, reduction, zi, dtype, g=None):
    lpt = torch.tensor(lp.astype(dtype), requires_grad=True)
    out = TF.ctc_loss(lpt, torch.tensor(tg), torch.tensor(il), torch.tensor(tl), blank=blank, reduction=reduction,
                      zero_infinity=zi)
    out.backward(torch.tensor(g) if g is not None else torch.ones_like(out))
    return out.detach().numpy(), lpt.grad.numpy()


def ours_both(lp, tg, il, tl, blank, reduction, zi, dtype, device, g=None):
    lpd = D(lp, device, dtype, grad=True)
    out = F.ctc_loss(lpd, D(tg, device), il, tl, blank=blank, reduction=reduction, zero_infinity=zi)
    out.backward(D(g, device) if g is not None else dlcore.ones_like(out))
    return host(out), host(lpd.grad)


# ------------------------------------------------------------------------------------------------- vs torch

@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("blank", [0, 3])
def test_matches_torch(reduction, zero_infinity, blank, device, float_dtype, rng):
    x, lp, tg, il, tl = make_case(rng, blank=blank)
    # padded targets (tensor lengths), concatenated targets (list lengths): the same losses
    cat = np.concatenate([tg[n, :tl[n]] for n in range(len(tl))])
    g = rng.standard_normal(len(il)).astype(float_dtype) if reduction == "none" else None
    ref_out, ref_grad = torch_both(lp, tg, il, tl, blank, reduction, zero_infinity, float_dtype, g)
    for targets, il_, tl_ in ((tg, D(il), D(tl)), (cat, list(il), list(tl)), (tg, tuple(il), tuple(tl))):
        out, grad = ours_both(lp, targets, il_, tl_, blank, reduction, zero_infinity, float_dtype, device, g)
        assert out.dtype == np.dtype(float_dtype) and out.shape == ref_out.shape
        assert_close(out, ref_out, msg="loss", **TOL[float_dtype])
        assert_close(grad, ref_grad, msg="grad", **TOL[float_dtype])


def test_through_log_softmax_and_module(device, float_dtype, rng):
    x, lp, tg, il, tl = make_case(rng, T=9, N=3, C=5)
    xt = torch.tensor(x.astype(float_dtype), requires_grad=True)
    lt = torch.nn.CTCLoss(blank=0)(xt.log_softmax(2), torch.tensor(tg), torch.tensor(il), torch.tensor(tl))
    lt.backward()
    xd = D(x, device, float_dtype, grad=True)
    ld = nn.CTCLoss(blank=0)(F.log_softmax(xd, 2), D(tg, device), D(il, device), D(tl, device))
    ld.backward()
    assert_close(ld, lt.detach(), **TOL[float_dtype])
    assert_close(xd.grad, xt.grad, **TOL[float_dtype])


def test_longer_sequences_match_torch_float64(rng):
    # the vectorised exp/log over long recursions: float64 stays within 1e-10 of torch
    T, N, C = 80, 4, 12
    x = rng.standard_normal((T, N, C)) * 3
    lp = x - np.log(np.exp(x).sum(2, keepdims=True))
    tg = rng.integers(1, C, (N, 30))
    il = np.array([80, 77, 60, 80])
    tl = np.array([30, 25, 12, 1])
    for isa in supported_isas():
        dlcore._C._set_cpu_isa(isa)
        out, grad = ours_both(lp, tg, il, tl, 0, "none", False, "float64", "cpu")
        ref_out, ref_grad = torch_both(lp, tg, il, tl, 0, "none", False, "float64")
        assert_close(out, ref_out, rtol=1e-11, atol=1e-11, msg=isa)
        assert_close(grad, ref_grad, rtol=1e-10, atol=1e-11, msg=isa)


def test_unbatched(device, float_dtype, rng):
    x, lp, tg, il, tl = make_case(rng, T=8, N=1, C=4)
    for reduction, targets in (("none", tg[0, :3]), ("mean", tg[:1]), ("sum", tg[0, :3])):
        # 1-D targets: concatenated (exactly target_length labels); [1, S]: padded
        lpt = torch.tensor(lp[:, 0].astype(float_dtype), requires_grad=True)
        lt = TF.ctc_loss(lpt, torch.tensor(targets), torch.tensor(int(il[0])), torch.tensor(int(tl[0])),
                         reduction=reduction)
        lt.backward()
        lpd = D(lp[:, 0], device, float_dtype, grad=True)
        for il_, tl_ in ((D(np.array(il[0])), D(np.array(tl[0]))), (int(il[0]), int(tl[0])), ([il[0]], [tl[0]])):
            lpd.grad = None
            ld = F.ctc_loss(lpd, D(targets, device), il_, tl_, reduction=reduction)
            ld.backward()
            assert tuple(ld.shape) == tuple(lt.shape) == ()
            assert_close(ld, lt.detach(), **TOL[float_dtype])
            assert_close(lpd.grad, lpt.grad, **TOL[float_dtype])


def test_noncontiguous_log_probs_and_int32_lengths(device, rng):
    x, lp, tg, il, tl = make_case(rng, T=7, N=3, C=5)
    base = D(np.ascontiguousarray(lp.transpose(1, 0, 2)), device, grad=True)  # [N, T, C]
    lpd = base.transpose(0, 1)
    assert not lpd.is_contiguous()
    out = F.ctc_loss(lpd, D(tg.astype(np.int32), device), D(il.astype(np.int32), device),
                     D(tl.astype(np.int32), device), reduction="sum")
    out.backward()
    ref_out, ref_grad = torch_both(lp, tg, il, tl, 0, "sum", False, "float64")
    assert_close(out, ref_out, **TOL["float64"])
    assert_close(base.grad, ref_grad.transpose(1, 0, 2), **TOL["float64"])


# ------------------------------------------------------------------------------------------------- infinities

@pytest.mark.parametrize("zero_infinity", [False, True])
def test_impossible_alignments(zero_infinity, device, float_dtype, rng):
    T, N, C = 5, 4, 4
    x = rng.standard_normal((T, N, C))
    lp = x - np.log(np.exp(x).sum(2, keepdims=True))
    tg = np.array([[1, 2, 3, 1, 2, 3], [1, 1, 1, 0, 0, 0], [2, 3, 0, 0, 0, 0], [1, 1, 2, 2, 0, 0]])
    # 6 labels in 5 steps; 1 1 1 needs 5 steps but gets 4; a possible one; 1 1 2 2 needs 6 steps
    il = np.array([5, 4, 3, 5])
    tl = np.array([6, 3, 2, 4])
    for reduction in ("none", "mean", "sum"):
        g = rng.standard_normal(N).astype(float_dtype) if reduction == "none" else None
        ref_out, ref_grad = torch_both(lp, tg, il, tl, 0, reduction, zero_infinity, float_dtype, g)
        out, grad = ours_both(lp, tg, il, tl, 0, reduction, zero_infinity, float_dtype, device, g)
        assert_close(out, ref_out, **TOL[float_dtype])  # inf in the same places (or 0 with zero_infinity)
        assert np.array_equal(np.isnan(grad), np.isnan(ref_grad))
        assert_close(np.nan_to_num(grad), np.nan_to_num(ref_grad), **TOL[float_dtype])
    if not zero_infinity:
        assert np.isinf(ours_both(lp, tg, il, tl, 0, "none", False, float_dtype, device)[0][[0, 1, 3]]).all()


def test_empty_inputs_and_targets(device, float_dtype):
    lp = np.log(np.full((4, 3, 3), 1 / 3))
    tg = np.array([[1], [1], [2]])
    il, tl = np.array([0, 0, 3]), np.array([0, 1, 0])
    for zi in (False, True):
        ref_out, ref_grad = torch_both(lp, tg, il, tl, 0, "none", zi, float_dtype)
        out, grad = ours_both(lp, tg, il, tl, 0, "none", zi, float_dtype, device)
        assert_close(out, ref_out, **TOL[float_dtype])
        assert_close(grad, ref_grad, **TOL[float_dtype])
    assert_close(out, np.array([0.0, 0.0, 3 * math.log(3)]), **TOL[float_dtype])


def test_minus_infinity_log_probs(device, rng):
    # lp = -inf (a class with probability 0): torch's formula gives NaN gradients there, and the loss is unchanged
    x, lp, tg, il, tl = make_case(rng, T=8, N=3, C=5)
    lp = lp.copy()
    lp[:, :, 4] = -np.inf
    tg[tg == 4] = 1
    ref_out, ref_grad = torch_both(lp, tg, il, tl, 0, "none", False, "float64")
    out, grad = ours_both(lp, tg, il, tl, 0, "none", False, "float64", device)
    assert_close(out, ref_out, **TOL["float64"])
    assert np.array_equal(np.isnan(grad), np.isnan(ref_grad))
    assert_close(np.nan_to_num(grad), np.nan_to_num(ref_grad), **TOL["float64"])


# ------------------------------------------------------------------------------------------------- oracles

def ctc_oracle(lp, target, blank):
    """NumPy float64 -log p(target | lp) [T, C] by the probability-space alpha recursion (no logs)."""
    ext = [blank]
    for c in target:
        ext += [int(c), blank]
    S, T = len(ext), lp.shape[0]
    if T == 0:
        return 0.0 if len(target) == 0 else math.inf
    p = np.exp(lp)
    a = np.zeros(S)
    a[0] = p[0, ext[0]]
    if S > 1:
        a[1] = p[0, ext[1]]
    for t in range(1, T):
        b = a.copy()
        b[1:] += a[:-1]
        for s in range(2, S):
            if ext[s] != blank and ext[s] != ext[s - 2]:
                b[s] += a[s - 2]
        a = b * p[t, ext]
    tot = a[-1] + (a[-2] if S > 1 else 0.0)
    return -math.log(tot) if tot > 0 else math.inf


def test_matches_numpy_oracle(device, float_dtype, rng):
    x, lp, tg, il, tl = make_case(rng, T=10, N=4, C=5, blank=2)
    ref = np.array([ctc_oracle(lp[:il[n], n], tg[n, :tl[n]], 2) for n in range(4)])
    got = F.ctc_loss(D(lp, device, float_dtype), D(tg, device), D(il), D(tl), blank=2, reduction="none")
    assert_close(got, ref, **TOL[float_dtype])


def test_gradcheck_float64(device, rng):
    # finite differences through log_softmax (torch's gradient is the logits' gradient under log_softmax)
    x = rng.standard_normal((5, 2, 3))
    tg = np.array([[1, 1], [2, 0]])
    for reduction, il in (("sum", [5, 4]), ("mean", [5, 3]), ("none", [4, 5])):
        xd = D(x, device, grad=True)
        gradcheck(lambda a: F.ctc_loss(F.log_softmax(a, 2), D(tg, device), il, [2, 1], reduction=reduction,
                                       blank=0), [xd])
    xd = D(x, device, grad=True)
    gradcheck(lambda a: F.ctc_loss(F.log_softmax(a, 2), D(np.array([0, 0, 1]), device), [5, 5], [2, 1], blank=2,
                                   reduction="sum"), [xd])


# ------------------------------------------------------------------------------------------------- paths

def test_isas_threads_and_recompute_agree(float_dtype, rng, monkeypatch):
    x, lp, tg, il, tl = make_case(rng, T=30, N=7, C=9, S=10)
    g = rng.standard_normal(7).astype(float_dtype)
    tol = dict(rtol=1e-5, atol=1e-6) if float_dtype == "float32" else dict(rtol=1e-12, atol=1e-13)
    dlcore._C._set_cpu_isa("scalar")
    ref_out, ref_grad = ours_both(lp, tg, il, tl, 0, "none", False, float_dtype, "cpu", g)
    for isa in supported_isas():
        dlcore._C._set_cpu_isa(isa)
        for threads in (1, 2):
            dlcore.set_num_threads(threads)
            for save in (True, False):
                monkeypatch.setattr(_nn_extra2, "_CTC_SAVE_ALPHA", save)
                out, grad = ours_both(lp, tg, il, tl, 0, "none", False, float_dtype, "cpu", g)
                assert_close(out, ref_out, msg=f"{isa} {threads} {save}", **tol)
                assert_close(grad, ref_grad, msg=f"{isa} {threads} {save}", **tol)


def test_no_grad_forward_and_targets_dtypes(device, rng):
    x, lp, tg, il, tl = make_case(rng, T=8, N=3, C=5)
    ref = TF.ctc_loss(torch.tensor(lp), torch.tensor(tg), torch.tensor(il), torch.tensor(tl), reduction="none")
    with dlcore.no_grad():
        out = F.ctc_loss(D(lp, device, grad=True), D(tg, device), il, tl, reduction="none")
    assert not out.requires_grad
    assert_close(out, ref.numpy(), **TOL["float64"])
    # float and int32 targets are cast to class indices, as torch does
    for tgd in (tg.astype(np.float64), tg.astype(np.int32)):
        out = F.ctc_loss(D(lp, device), D(tgd, device), il, tl, reduction="none")
        assert_close(out, ref.numpy(), **TOL["float64"])


# ------------------------------------------------------------------------------------------------- bad input

def _lp(*shape, dtype=np.float64):
    return np.log(np.full(shape, 1.0 / shape[-1], dtype))


TG = np.array([[1, 2], [1, 1]])
BAD = [
    # (name, args for both (log_probs, targets, input_lengths, target_lengths, kwargs), our error, our pattern,
    #  torch raises too)
    ("in_len_big", (_lp(6, 2, 4), TG, [7, 6], [2, 2], {}), RuntimeError, "input_lengths to have value at most 6", True),
    ("in_len_neg", (_lp(6, 2, 4), TG, [-1, 6], [1, 2], {}), RuntimeError, "input_lengths to have value at least 0",
     True),
    ("tgt_len_neg", (_lp(6, 2, 4), TG, [6, 6], [-1, 2], {}), RuntimeError, "target_lengths to have value at least 0",
     True),
    ("padded_short", (_lp(6, 2, 4), TG, [6, 6], [3, 2], {}), RuntimeError, "size at least 3 at dimension 1", True),
    ("padded_rows", (_lp(6, 2, 4), TG[:1], [6, 6], [2, 2], {}), RuntimeError, "size 2 at dimension 0", True),
    ("concat_size", (_lp(6, 2, 4), np.array([1, 2, 1]), [6, 6], [2, 2], {}), RuntimeError,
     r"size 4 at dimension 0.*sum\(target_lengths\)", True),
    ("targets_3d", (_lp(6, 2, 4), np.zeros((2, 2, 2), np.int64), [6, 6], [2, 2], {}), RuntimeError,
     "Expected 1 to 2 dimensions", True),
    ("blank_high", (_lp(6, 2, 4), TG, [6, 6], [2, 2], {"blank": 4}), RuntimeError, "blank must be in label range",
     True),
    ("blank_neg", (_lp(6, 2, 4), TG, [6, 6], [2, 2], {"blank": -1}), RuntimeError, "blank must be in label range",
     True),
    ("in_len_count", (_lp(6, 2, 4), TG, [6], [2, 2], {}), RuntimeError, "input_lengths must be of size batch_size",
     True),
    ("tgt_len_count", (_lp(6, 2, 4), TG, [6, 6], [2, 2, 2], {}), RuntimeError,
     "target_lengths must be of size batch_size", True),
    ("float_len_tensor", (_lp(6, 2, 4), TG, np.array([6.0, 6.0]), np.array([2, 2]), {}), RuntimeError,
     "input_lengths must be integral", True),
    ("float_len_list", (_lp(6, 2, 4), TG, [6.0, 6], [2, 2], {}), TypeError, "input_lengths must be a Tensor", True),
    ("lp_4d", (_lp(2, 2, 2, 2), TG, [2, 2], [1, 1], {}), RuntimeError, r"3-dimensional.*\[T, N, C\]", True),
    ("lp_1d", (_lp(6), TG, [6, 6], [2, 2], {}), RuntimeError, "3-dimensional", True),
    ("lp_empty", (_lp(0, 2, 4), TG, [0, 0], [0, 0], {}), RuntimeError, "log_probs tensor must not be empty", True),
    ("lp_empty_batch", (_lp(4, 0, 4), np.zeros((0, 2), np.int64), [], [], {}), RuntimeError,
     "log_probs tensor must not be empty", True),
    ("lp_int", (np.zeros((2, 1, 3), np.int64), np.array([[1]]), [2], [1], {}), TypeError, "float32 or float64", True),
    ("reduction", (_lp(6, 2, 4), TG, [6, 6], [2, 2], {"reduction": "avg"}), ValueError,
     "avg is not a valid value for reduction", True),
    # torch reads out of bounds here (undefined behaviour); dlcore refuses
    ("label_range", (_lp(6, 2, 4), np.array([[1, 7], [1, 1]]), [6, 6], [2, 2], {}), IndexError,
     "target 7 of batch element 0 is out of range for 4 classes", False),
    ("label_neg", (_lp(6, 2, 4), np.array([[1, -1], [1, 1]]), [6, 6], [2, 2], {}), IndexError, "out of range", False),
]


def _as(a, lib, device):
    if isinstance(a, np.ndarray):
        return D(a, device) if lib == "dlcore" else torch.tensor(a)
    return a


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_input(case, device):
    name, (lp, tg, il, tl, kw), exc, pattern, torch_raises = case
    with pytest.raises(exc, match=pattern):
        F.ctc_loss(_as(lp, "dlcore", device), _as(tg, "dlcore", device), _as(il, "dlcore", device),
                   _as(tl, "dlcore", device), **kw)
    if torch_raises:
        with pytest.raises((RuntimeError, ValueError, TypeError, NotImplementedError)):
            TF.ctc_loss(torch.tensor(lp), torch.tensor(tg), _as(il, "torch", None), _as(tl, "torch", None), **kw)


def test_bad_input_messages_name_the_op():
    with pytest.raises(RuntimeError, match=r"^ctc_loss\(\): "):
        F.ctc_loss(D(_lp(6, 2, 4)), D(TG), [7, 6], [2, 2])
    with pytest.raises(TypeError, match="log_probs"):
        F.ctc_loss(_lp(6, 2, 4), D(TG), [6, 6], [2, 2])


def test_lengths_as_numpy_arrays_and_scalars(rng):
    # NumPy arrays and their scalars as lengths (each item a new Python object: a use-after-free once corrupted
    # the heap here after a few hundred calls)
    x, lp, tg, il, tl = make_case(rng, T=6, N=3, C=4, S=3)
    ref = TF.ctc_loss(torch.tensor(lp), torch.tensor(tg), torch.tensor(il), torch.tensor(tl), reduction="none")
    lpd, tgd = D(lp), D(tg)
    for _ in range(300):
        out = F.ctc_loss(lpd, tgd, il, tl, reduction="none")
        out2 = F.ctc_loss(lpd, tgd, list(il), (int(tl[0]), np.int32(tl[1]), tl[2]), reduction="none")
    assert_close(out, ref.numpy(), **TOL["float64"])
    assert_close(out2, ref.numpy(), **TOL["float64"])


@pytest.mark.parametrize("float_dtype", ["float32", "float64"])
def test_cuda_kernel_matches_cpu_reference(float_dtype, rng, monkeypatch):
    """The CUDA kernels (csrc/ops/softmax_loss/ctc_kernels.cuh: one block per sample, threads over the positions):
    targets long enough that 2L + 1 exceeds the block (a stride loop over s), a class repeated many times (the
    per-class sums without atomics), saved and recomputed alphas, against the scalar CPU reference and torch."""
    if "cuda" not in DEVICES:
        pytest.skip("no cuda device in this build")
    T, N, C = 170, 3, 5
    x = rng.standard_normal((T, N, C))
    lp = x - np.log(np.exp(x).sum(2, keepdims=True))
    tg = np.zeros((N, 140), np.int64)
    for n in range(N):  # no label repeated back to back except a few (each needs a blank between: one more step)
        for i in range(140):
            prev = tg[n, i - 1] if i else 0
            tg[n, i] = rng.choice([c for c in range(1, C) if c != prev])
    tg[1, ::2] = 3  # class 3 at every other label
    tg[1, 1::2] = rng.choice([1, 2, 4], 70)
    tg[0, 10:13] = 2  # back-to-back repeats
    il = np.array([170, 160, 90])
    tl = np.array([140, 130, 40])  # 2L + 1 = 281 and 261 positions: more than 256 threads
    g = rng.standard_normal(N).astype(float_dtype)
    tol = dict(rtol=1e-4, atol=1e-5) if float_dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    dlcore._C._set_cpu_isa("scalar")
    ref_out, ref_grad = ours_both(lp, tg, il, tl, 0, "none", False, float_dtype, "cpu", g)
    t_out, t_grad = torch_both(lp, tg, il, tl, 0, "none", False, float_dtype, g)
    assert np.isfinite(ref_out).all()
    for save in (True, False):
        monkeypatch.setattr(_nn_extra2, "_CTC_SAVE_ALPHA", save)
        out, grad = ours_both(lp, tg, il, tl, 0, "none", False, float_dtype, "cuda", g)
        assert_close(out, ref_out, msg=f"save={save}", **tol)
        assert_close(grad, ref_grad, msg=f"save={save}", **tol)
        assert_close(out, t_out, msg=f"torch save={save}", **tol)
        assert_close(grad, t_grad, msg=f"torch save={save}", **tol)
