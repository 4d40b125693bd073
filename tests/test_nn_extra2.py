"""dlcore._nn_extra2 and dlcore.nn.more_layers2: the remaining losses (margin ranking, triplet, cosine embedding,
soft margin, multilabel, Poisson / Gaussian NLL, CTC), unfold / fold, bilinear, pdist, channel_shuffle, rms_norm,
the channel / alpha dropouts and rrelu, max_unpool, the 1-d adaptive / power pools and the in-place activation
aliases, with their modules. References: torch CPU (values and gradients, float32 and float64), NumPy float64
oracles (CTC's alpha recursion, unfold), finite differences, statistics for the random ops, bad inputs."""
import math

import numpy as np
import pytest

import dlcore
import dlcore.nn as nn
import dlcore.nn.functional as F
from dlcore.testing import assert_close, gradcheck
from conftest import requires_torch, HAVE_TORCH
from conftest import D  # noqa: E402

if HAVE_TORCH:
    import torch
    import torch.nn.functional as TF

TOL = {"float32": dict(rtol=2e-4, atol=2e-5), "float64": dict(rtol=1e-9, atol=1e-10)}


def run_both(fd, ft, args, grad_idx, device, dtype, rng, tol=None):
    """Calls fd on dlcore tensors (on device) and ft on torch tensors made from the same arrays (float arrays cast
    to dtype; other arguments passed as they are); compares the outputs, then the gradients of sum(out * g) with
    respect to the arguments at grad_idx. Returns the dlcore output."""
    tol = tol or TOL[dtype]
    dargs, targs = [], []
    for i, a in enumerate(args):
        if isinstance(a, np.ndarray):
            if a.dtype.kind == "f":
                a = a.astype(dtype)
            d, t = D(a, device), torch.tensor(a)
            if i in grad_idx:
                d.requires_grad_(True)
                t.requires_grad_(True)
            dargs.append(d)
            targs.append(t)
        else:
            dargs.append(a)
            targs.append(a)
    od, ot = fd(*dargs), ft(*targs)
    assert tuple(od.shape) == tuple(ot.shape), (tuple(od.shape), tuple(ot.shape))
    assert od.dtype.name == str(ot.dtype).replace("torch.", "")
    assert_close(od, ot.detach(), msg="forward", **tol)
    if grad_idx:
        g = rng.standard_normal(tuple(ot.shape)).astype(dtype)
        ot.backward(torch.tensor(g))
        od.backward(D(g, device))
        for i in grad_idx:
            assert_close(dargs[i].grad, targs[i].grad, msg=f"grad of argument {i}", **tol)
    return od


REDUCTIONS = ["none", "mean", "sum"]


def pm1(rng, *shape):
    return np.where(rng.uniform(size=shape) > 0.5, 1.0, -1.0)


# ================================================================================================ losses

@requires_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_ranking_loss(reduction, device, float_dtype, rng):
    x1, x2 = rng.standard_normal(7), rng.standard_normal(7)
    y = pm1(rng, 7)
    for margin in (0.0, 0.4):
        run_both(lambda a, b, t: F.margin_ranking_loss(a, b, t, margin=margin, reduction=reduction),
                 lambda a, b, t: TF.margin_ranking_loss(a, b, t, margin=margin, reduction=reduction),
                 [x1, x2, y], (0, 1), device, float_dtype, rng)
    # broadcasting (equal ranks), and the module
    run_both(lambda a, b, t: nn.MarginRankingLoss(0.2, reduction=reduction)(a, b, t),
             lambda a, b, t: torch.nn.MarginRankingLoss(0.2, reduction=reduction)(a, b, t),
             [rng.standard_normal((3, 4)), rng.standard_normal((1, 4)), pm1(rng, 3, 1)], (0, 1), device,
             float_dtype, rng)


@requires_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kw", [{}, dict(p=1, swap=True), dict(margin=2.0, eps=1e-3), dict(p=3, swap=True)])
def test_triplet_margin_loss(reduction, kw, device, float_dtype, rng):
    a, p, n = (rng.standard_normal((6, 5)) for _ in range(3))
    p[:2] = a[:2] + 0.1 * p[:2]  # some triplets with zero loss
    run_both(lambda *x: F.triplet_margin_loss(*x, reduction=reduction, **kw),
             lambda *x: TF.triplet_margin_loss(*x, reduction=reduction, **kw),
             [a, p, n], (0, 1, 2), device, float_dtype, rng)
    run_both(lambda *x: nn.TripletMarginLoss(reduction=reduction, **kw)(*x),
             lambda *x: torch.nn.TripletMarginLoss(reduction=reduction, **kw)(*x),
             [a[0], p[0], n[0]], (0, 1, 2), device, float_dtype, rng)  # unbatched


@requires_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin_with_distance_loss(reduction, swap, device, float_dtype, rng):
    a, p, n = (rng.standard_normal((5, 4)) for _ in range(3))
    run_both(lambda *x: F.triplet_margin_with_distance_loss(*x, swap=swap, reduction=reduction),
             lambda *x: TF.triplet_margin_with_distance_loss(*x, swap=swap, reduction=reduction),
             [a, p, n], (0, 1, 2), device, float_dtype, rng)

    def dd(x, y):
        return 1.0 - F.cosine_similarity(x, y)

    def dt(x, y):
        return 1.0 - TF.cosine_similarity(x, y)
    run_both(lambda *x: nn.TripletMarginWithDistanceLoss(distance_function=dd, margin=0.5, swap=swap,
                                                         reduction=reduction)(*x),
             lambda *x: torch.nn.TripletMarginWithDistanceLoss(distance_function=dt, margin=0.5, swap=swap,
                                                               reduction=reduction)(*x),
             [a, p, n], (0, 1, 2), device, float_dtype, rng)


@requires_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cosine_embedding_loss(reduction, device, float_dtype, rng):
    x1, x2 = rng.standard_normal((8, 5)), rng.standard_normal((8, 5))
    y = pm1(rng, 8)
    y[0] = 0.0  # neither 1 nor -1: loss 0
    x2[1] = 0.0  # a zero vector (the 1e-12 in the norms)
    # (the zero vector's gradient is ~1e6: float64 rounding differs from torch's in the 9th digit)
    tol = dict(rtol=1e-7, atol=1e-10) if float_dtype == "float64" else None
    for margin in (0.0, -0.3, 0.5):
        run_both(lambda a, b, t: F.cosine_embedding_loss(a, b, t, margin, reduction=reduction),
                 lambda a, b, t: TF.cosine_embedding_loss(a, b, t, margin, reduction=reduction),
                 [x1, x2, y], (0, 1), device, float_dtype, rng, tol)
    run_both(lambda a, b, t: nn.CosineEmbeddingLoss(0.1, reduction=reduction)(a, b, t),
             lambda a, b, t: torch.nn.CosineEmbeddingLoss(0.1, reduction=reduction)(a, b, t),
             [x1[0], x2[0], np.array(-1.0)], (0, 1), device, float_dtype, rng)  # unbatched, 0-d target


@requires_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_losses(reduction, device, float_dtype, rng):
    x = 3 * rng.standard_normal((4, 6))
    run_both(lambda a, t: F.soft_margin_loss(a, t, reduction=reduction),
             lambda a, t: TF.soft_margin_loss(a, t, reduction=reduction),
             [x, pm1(rng, 4, 6)], (0,), device, float_dtype, rng)
    run_both(lambda a, t: nn.SoftMarginLoss(reduction=reduction)(a, t),
             lambda a, t: torch.nn.SoftMarginLoss(reduction=reduction)(a, t),
             [x, rng.standard_normal((4, 6))], (0,), device, float_dtype, rng)
    t01 = (rng.uniform(size=(4, 6)) > 0.5).astype(np.float64)
    w = rng.uniform(0.5, 2.0, 6)
    run_both(lambda a, t: F.multilabel_soft_margin_loss(a, t, reduction=reduction),
             lambda a, t: TF.multilabel_soft_margin_loss(a, t, reduction=reduction),
             [x, t01], (0,), device, float_dtype, rng)
    run_both(lambda a, t, ww: nn.MultiLabelSoftMarginLoss(weight=ww, reduction=reduction)(a, t),
             lambda a, t, ww: torch.nn.MultiLabelSoftMarginLoss(weight=ww, reduction=reduction)(a, t),
             [x, rng.uniform(size=(4, 6)), w], (0, 1), device, float_dtype, rng)
    run_both(lambda a, t: F.multilabel_soft_margin_loss(a, t, reduction=reduction),
             lambda a, t: TF.multilabel_soft_margin_loss(a, t, reduction=reduction),
             [x[0], t01[0]], (0,), device, float_dtype, rng)


@requires_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_losses_random_shapes_noncontiguous(reduction, device, float_dtype, rng):
    """Random batch and class counts; the inputs are transposed views (non-contiguous)."""
    for _ in range(3):
        n, c = int(rng.integers(1, 9)), int(rng.integers(1, 7))

        def nc(shape):  # the values of an array of `shape`, as a transposed view
            a = rng.standard_normal(shape[::-1])
            return a, lambda t: t.transpose(0, 1) if t.ndim == 2 else t
        a1, v = nc((n, c))
        a2, _ = nc((n, c))
        y = pm1(rng, c, n)
        cases = [
            (F.margin_ranking_loss, TF.margin_ranking_loss, [a1, a2, y]),
            (F.soft_margin_loss, TF.soft_margin_loss, [a1, y]),
            (F.multilabel_soft_margin_loss, TF.multilabel_soft_margin_loss, [a1, (y > 0).astype(np.float64)]),
            (F.poisson_nll_loss, TF.poisson_nll_loss, [a1, np.abs(a2)]),
            (lambda a, b, vv, reduction: F.gaussian_nll_loss(a, b, vv, reduction=reduction),
             lambda a, b, vv, reduction: TF.gaussian_nll_loss(a, b, vv, reduction=reduction),
             [a1, a2, rng.uniform(0.5, 2, (c, n))]),
            (F.cosine_embedding_loss, TF.cosine_embedding_loss, [a1, a2, pm1(rng, n)]),
        ]
        for fd, ft, args in cases:
            run_both(lambda *t: fd(*[v(e) if e.ndim == 2 else e for e in t], reduction=reduction),
                     lambda *t: ft(*[v(e) if e.ndim == 2 else e for e in t], reduction=reduction),
                     args, (0,), device, float_dtype, rng)


def _mlm_reference(x, y):
    """NumPy float64 multilabel_margin_loss per sample (torch's loops)."""
    N, C = x.shape
    out = np.zeros(N)
    for n in range(N):
        labels = []
        for v in y[n]:
            if v < 0:
                break
            labels.append(v)
        is_t = np.zeros(C, bool)
        is_t[labels] = True
        for j in labels:
            for i in range(C):
                if not is_t[i]:
                    out[n] += max(0.0, 1 - (x[n, j] - x[n, i]))
    return out / C


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin_loss(reduction, device, float_dtype, rng):
    x = rng.standard_normal((5, 4))
    y = np.array([[3, 0, -1, 1], [1, 2, 3, 0], [-1, 2, 2, 2], [2, 2, -1, 0], [0, -1, -1, -1]], np.int64)
    ref = _mlm_reference(x, y)
    expect = {"none": ref, "mean": ref.mean(), "sum": ref.sum()}[reduction]
    got = F.multilabel_margin_loss(D(x, device, float_dtype), D(y, device), reduction=reduction)
    assert_close(got, np.asarray(expect), **TOL[float_dtype])
    if HAVE_TORCH:
        run_both(lambda a, t: nn.MultiLabelMarginLoss(reduction=reduction)(a, t),
                 lambda a, t: torch.nn.MultiLabelMarginLoss(reduction=reduction)(a, t),
                 [x, y], (0,), device, float_dtype, rng)
        run_both(lambda a, t: F.multilabel_margin_loss(a, t, reduction=reduction),
                 lambda a, t: TF.multilabel_margin_loss(a, t, reduction=reduction),
                 [x[0], y[0]], (0,), device, float_dtype, rng)


@requires_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input,full", [(True, False), (False, False), (True, True), (False, True)])
def test_poisson_nll_loss(reduction, log_input, full, device, float_dtype, rng):
    x = rng.standard_normal((4, 5)) if log_input else rng.uniform(0.1, 3.0, (4, 5))
    t = rng.poisson(2.0, (4, 5)).astype(np.float64)
    t[0, :3] = [0.0, 1.0, 5.0]
    run_both(lambda a, b: F.poisson_nll_loss(a, b, log_input, full, reduction=reduction),
             lambda a, b: TF.poisson_nll_loss(a, b, log_input, full, reduction=reduction),
             [x, t], (0,), device, float_dtype, rng)
    tt = rng.uniform(1.5, 4.0, (4, 5))  # the target's gradient (away from the masked region)
    run_both(lambda a, b: nn.PoissonNLLLoss(log_input, full, eps=1e-3, reduction=reduction)(a, b),
             lambda a, b: torch.nn.PoissonNLLLoss(log_input, full, eps=1e-3, reduction=reduction)(a, b),
             [x, tt], (0, 1), device, float_dtype, rng)


@requires_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("vshape", [(4, 3, 2), (4, 3), (4, 1, 2), (1, 3, 2), "float"])
def test_gaussian_nll_loss(reduction, vshape, device, float_dtype, rng):
    x, t = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 3, 2))
    for full in (False, True):
        if vshape == "float":
            run_both(lambda a, b: F.gaussian_nll_loss(a, b, 0.7, full=full, reduction=reduction),
                     lambda a, b: TF.gaussian_nll_loss(a, b, 0.7, full=full, reduction=reduction),
                     [x, t], (0, 1), device, float_dtype, rng)
            continue
        v = rng.uniform(0.2, 2.0, vshape)
        v.reshape(-1)[0] = 1e-9  # below eps: clamped (its gradient taken at eps, as torch)
        run_both(lambda a, b, vv: nn.GaussianNLLLoss(full=full, eps=1e-4, reduction=reduction)(a, b, vv),
                 lambda a, b, vv: torch.nn.GaussianNLLLoss(full=full, eps=1e-4, reduction=reduction)(a, b, vv),
                 [x, t, v], (0, 1, 2), device, float_dtype, rng)


# ------------------------------------------------------------------------------------------------- ctc_loss

def _ctc_reference(lp, target, T):
    """NumPy float64 -log p(target | lp[:T]) by the plain alpha recursion over the extended sequence."""
    ext = [0]
    for c in target:
        ext += [int(c), 0]
    S = len(ext)
    if T == 0:
        return 0.0 if len(target) == 0 else math.inf
    alpha = np.full(S, -np.inf)
    alpha[0] = lp[0, ext[0]]
    if S > 1:
        alpha[1] = lp[0, ext[1]]
    for t in range(1, T):
        new = np.full(S, -np.inf)
        for s in range(S):
            terms = [alpha[s]]
            if s >= 1:
                terms.append(alpha[s - 1])
            if s >= 2 and ext[s] != 0 and ext[s] != ext[s - 2]:
                terms.append(alpha[s - 2])
            new[s] = np.logaddexp.reduce(terms) + lp[t, ext[s]]
        alpha = new
    ends = [alpha[S - 1]] + ([alpha[S - 2]] if S > 1 else [])
    return -np.logaddexp.reduce(ends)


def _ctc_case(rng, T=9, N=4, C=5):
    x = rng.standard_normal((T, N, C))
    lp = x - np.log(np.exp(x).sum(2, keepdims=True))
    tl = np.array([3, 0, 4, 2])[:N]
    il = np.array([T, T - 2, T, 1])[:N]  # the last: too short for its target -> an infinite loss
    tg = rng.integers(1, C, (N, 5))
    tg[0, :3] = [2, 2, 3]  # a repeated label (needs a blank between)
    return x, lp, tg, il, tl


def test_ctc_loss_matches_numpy_reference(device, float_dtype, rng):
    x, lp, tg, il, tl = _ctc_case(rng)
    ref = np.array([_ctc_reference(lp[:, n], tg[n, :tl[n]], il[n]) for n in range(len(il))])
    got = F.ctc_loss(D(lp, device, float_dtype), D(tg, device), D(il), D(tl), reduction="none")
    assert_close(got, ref, **TOL[float_dtype])
    # concatenated targets, lengths as lists, blank elsewhere (the classes relabelled)
    cat = np.concatenate([tg[n, :tl[n]] for n in range(len(tl))])
    perm = np.array([3, 0, 1, 2, 4])  # class c -> perm[c]; blank 0 -> 3
    lp2 = np.empty_like(lp)
    lp2[..., perm] = lp
    got2 = F.ctc_loss(D(lp2, device, float_dtype), D(perm[cat], device), list(il), list(tl), blank=3,
                      reduction="none")
    assert_close(got2, ref, **TOL[float_dtype])


@requires_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("zero_infinity", [False, True])
def test_ctc_loss_matches_torch(reduction, zero_infinity, device, float_dtype, rng):
    x, lp, tg, il, tl = _ctc_case(rng)
    if not zero_infinity:
        il = il.copy()
        il[3] = 6  # all finite: the gradients are compared (torch's NaN rows checked below)
    cat = np.concatenate([tg[n, :tl[n]] for n in range(len(tl))])
    for targets in (tg, cat):
        # through log_softmax (the usual use) and directly on unnormalised log_probs (torch's formula)
        run_both(lambda a, t: F.ctc_loss(F.log_softmax(a, 2), t, D(il), D(tl), reduction=reduction,
                                         zero_infinity=zero_infinity),
                 lambda a, t: TF.ctc_loss(a.log_softmax(2), t, torch.tensor(il), torch.tensor(tl),
                                          reduction=reduction, zero_infinity=zero_infinity),
                 [x, targets], (0,), device, float_dtype, rng)
    run_both(lambda a, t: nn.CTCLoss(blank=0, reduction=reduction, zero_infinity=zero_infinity)(a, t, list(il),
                                                                                                 list(tl)),
             lambda a, t: torch.nn.CTCLoss(0, reduction, zero_infinity)(a, t, tuple(il), tuple(tl)),
             [x * 0.5, tg], (0,), device, float_dtype, rng)
    # unbatched: [T, C] log_probs, 1-D targets of the target length, 0-d lengths
    run_both(lambda a, t: F.ctc_loss(a, t, D(np.array(7)), D(np.array(3)), reduction=reduction),
             lambda a, t: TF.ctc_loss(a, t, torch.tensor(7), torch.tensor(3), reduction=reduction),
             [lp[:, 0], tg[0, :3]], (0,), device, float_dtype, rng)


@requires_torch
def test_ctc_loss_infinite_loss_gradients(device, rng):
    x, lp, tg, il, tl = _ctc_case(rng)
    for zi in (False, True):
        xt = torch.tensor(x, requires_grad=True)
        lt = TF.ctc_loss(xt.log_softmax(2), torch.tensor(tg), torch.tensor(il), torch.tensor(tl), reduction="none",
                         zero_infinity=zi)
        lt.sum().backward()
        xd = D(x, device, grad=True)
        ld = F.ctc_loss(F.log_softmax(xd, 2), D(tg, device), D(il), D(tl), reduction="none", zero_infinity=zi)
        ld.sum().backward()
        assert_close(ld, lt.detach(), rtol=1e-10, atol=1e-10)
        assert (np.isinf(ld.detach().cpu().numpy()).any()) == (not zi)
        assert_close(xd.grad, xt.grad, rtol=1e-10, atol=1e-10)  # NaN rows (zero_infinity False) in the same places
        assert np.isnan(xd.grad.cpu().numpy()).any() == (not zi)


def test_ctc_loss_gradcheck(device, rng):
    x = rng.standard_normal((5, 2, 3))
    tg = np.array([[1, 1], [2, 0]])
    xd = D(x, device, grad=True)
    gradcheck(lambda a: F.ctc_loss(F.log_softmax(a, 2), D(tg, device), [5, 4], [2, 1], reduction="sum"), [xd])
    xd = D(x, device, grad=True)
    gradcheck(lambda a: F.ctc_loss(F.log_softmax(a, 2), D(tg, device), [5, 3], [2, 1], reduction="mean"), [xd])


def test_ctc_loss_empty_cases(device):
    lp = D(np.log(np.full((4, 2, 3), 1 / 3)), device)
    out = F.ctc_loss(lp, D(np.zeros((2, 0), np.int64), device), [0, 3], [0, 0], reduction="none")
    # T = 0 with an empty target: likelihood 1; 3 steps of blanks: (1/3)^3
    assert_close(out, np.array([0.0, 3 * math.log(3)]), rtol=1e-12, atol=1e-12)
    out = F.ctc_loss(lp, D(np.array([1]), device), [0, 3], [1, 0], reduction="none")
    assert math.isinf(float(out[0].item())) and abs(float(out[1].item()) - 3 * math.log(3)) < 1e-12


# ================================================================================================ unfold / fold

def _unfold_reference(x, k, d, p, s):
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    oh = (H + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (W + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    out = np.zeros((N, C, k[0], k[1], oh, ow))
    for i in range(k[0]):
        for j in range(k[1]):
            out[:, :, i, j] = xp[:, :, i * d[0]:i * d[0] + s[0] * (oh - 1) + 1:s[0],
                                 j * d[1]:j * d[1] + s[1] * (ow - 1) + 1:s[1]]
    return out.reshape(N, C * k[0] * k[1], oh * ow)


UNFOLD_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=(2, 3), stride=(1, 2)),
    dict(kernel_size=3, padding=1),
    dict(kernel_size=(3, 2), dilation=(2, 1), padding=(1, 2), stride=2),
    dict(kernel_size=1, stride=3),
]


@pytest.mark.parametrize("kw", UNFOLD_CASES, ids=[str(i) for i in range(len(UNFOLD_CASES))])
def test_unfold_fold(kw, device, float_dtype, rng):
    x = rng.standard_normal((2, 3, 7, 6)).astype(float_dtype).astype(np.float64)

    def pr(v):
        return v if isinstance(v, tuple) else (v, v)
    k, d, p, s = (pr(kw.get(n, dflt)) for n, dflt in (("kernel_size", 1), ("dilation", 1), ("padding", 0),
                                                       ("stride", 1)))
    ref = _unfold_reference(x, k, d, p, s)
    got = F.unfold(D(x, device, float_dtype), **kw)
    assert_close(got, ref, rtol=0, atol=0)
    # non-contiguous input, unbatched input, the module
    xt = D(np.ascontiguousarray(np.swapaxes(x, 2, 3)), device, float_dtype).transpose(2, 3)
    assert_close(F.unfold(xt, **kw), ref, rtol=0, atol=0)
    assert_close(nn.Unfold(**kw)(D(x[1], device, float_dtype)), ref[1], rtol=0, atol=0)
    if HAVE_TORCH:
        run_both(lambda a: F.unfold(a, **kw), lambda a: TF.unfold(a, **kw), [x], (0,), device, float_dtype, rng)
        cols = rng.standard_normal(ref.shape)
        run_both(lambda a: F.fold(a, (7, 6), **kw), lambda a: TF.fold(a, (7, 6), **kw), [cols], (0,), device,
                 float_dtype, rng)
        run_both(lambda a: nn.Fold((7, 6), **kw)(a), lambda a: torch.nn.Fold((7, 6), **kw)(a), [cols[0]], (0,),
                 device, float_dtype, rng)
    # fold is unfold's adjoint: <unfold(x), c> = <x, fold(c)>
    c = rng.standard_normal(ref.shape)
    lhs = float((ref * c).sum())
    rhs = float((x * F.fold(D(c, device), (7, 6), **kw).cpu().numpy()).sum())
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs))


@requires_torch
def test_unfold_fold_random_configs(device, rng):
    for _ in range(6):
        k = tuple(int(v) for v in rng.integers(1, 4, 2))
        d = tuple(int(v) for v in rng.integers(1, 3, 2))
        p = tuple(int(v) for v in rng.integers(0, 3, 2))
        s = tuple(int(v) for v in rng.integers(1, 4, 2))
        H = int(rng.integers(d[0] * (k[0] - 1) + 1, 9))
        W = int(rng.integers(d[1] * (k[1] - 1) + 1, 9))
        N, C = int(rng.integers(1, 3)), int(rng.integers(1, 4))
        kw = dict(kernel_size=k, dilation=d, padding=p, stride=s)
        x = rng.standard_normal((N, C, H, W))
        cols = run_both(lambda a: F.unfold(a, **kw), lambda a: TF.unfold(a, **kw), [x], (0,), device, "float64",
                        rng)
        run_both(lambda a: F.fold(a, (H, W), **kw), lambda a: TF.fold(a, (H, W), **kw),
                 [rng.standard_normal(tuple(cols.shape))], (0,), device, "float64", rng)


def test_unfold_fold_gradcheck(device, rng):
    x = D(rng.standard_normal((1, 2, 4, 3)), device, grad=True)
    gradcheck(lambda a: F.unfold(a, 2, padding=1, stride=(2, 1)), [x])
    c = D(rng.standard_normal((1, 8, 12)), device, grad=True)
    gradcheck(lambda a: F.fold(a, (4, 3), 2, padding=1, stride=(2, 1)), [c])


# ================================================================================================ layers

@requires_torch
def test_bilinear(device, float_dtype, rng):
    x1, x2 = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 5))
    w, b = rng.standard_normal((6, 4, 5)), rng.standard_normal(6)
    run_both(F.bilinear, TF.bilinear, [x1, x2, w, b], (0, 1, 2, 3), device, float_dtype, rng)
    run_both(F.bilinear, TF.bilinear, [x1[0, 0], x2[0, 0], w], (0, 1, 2), device, float_dtype, rng)


def test_bilinear_module_init_and_gradcheck(device, rng):
    dlcore.manual_seed(3)
    m = nn.Bilinear(20, 3, 200)
    bound = 1 / math.sqrt(20)
    w = m.weight.detach().numpy()
    assert w.shape == (200, 20, 3) and m.bias.shape == (200,)
    assert np.abs(w).max() <= bound and np.abs(m.bias.detach().numpy()).max() <= bound
    # U(-b, b): mean 0, variance b^2 / 3 (12000 draws)
    assert abs(w.mean()) < 0.05 * bound and abs(w.var() / (bound ** 2 / 3) - 1) < 0.05
    assert nn.Bilinear(2, 3, 4, bias=False).bias is None
    if HAVE_TORCH:
        assert repr(m) == repr(torch.nn.Bilinear(20, 3, 200))
    x1 = D(rng.standard_normal((2, 3)), device, grad=True)
    x2 = D(rng.standard_normal((2, 2)), device, grad=True)
    wt = D(rng.standard_normal((2, 3, 2)), device, grad=True)
    bt = D(rng.standard_normal(2), device, grad=True)
    gradcheck(F.bilinear, [x1, x2, wt, bt])


@requires_torch
@pytest.mark.parametrize("p", [2, 1, 3, 0.5, float("inf"), 0])
def test_pdist(p, device, float_dtype, rng):
    x = rng.standard_normal((5, 4))
    grads = (0,) if p != 0 else ()
    run_both(lambda a: F.pdist(a, p), lambda a: TF.pdist(a, p), [x], grads, device, float_dtype, rng)
    assert tuple(F.pdist(D(x[:1], device)).shape) == (0,)


@requires_torch
def test_channel_shuffle_and_softmax2d(device, float_dtype, rng):
    for shape, g in (((2, 6, 3), 2), ((1, 6, 2, 2), 3), ((2, 4, 1, 2, 3), 4), ((3, 5, 2), 1)):
        x = rng.standard_normal(shape)
        run_both(lambda a: F.channel_shuffle(a, g), lambda a: TF.channel_shuffle(a, g), [x], (0,), device,
                 float_dtype, rng)
        run_both(lambda a: nn.ChannelShuffle(g)(a), lambda a: torch.nn.ChannelShuffle(g)(a), [x], (0,), device,
                 float_dtype, rng)
    for shape in ((2, 3, 4, 5), (3, 2, 4)):
        run_both(lambda a: nn.Softmax2d()(a), lambda a: torch.nn.Softmax2d()(a), [rng.standard_normal(shape)], (0,),
                 device, float_dtype, rng)
    assert F.native_channel_shuffle is F.channel_shuffle


@requires_torch
@pytest.mark.parametrize("ns,eps,affine", [((5,), None, True), ((3, 5), 1e-3, True), (5, None, False),
                                           ((5,), 0.5, False)])
def test_rms_norm(ns, eps, affine, device, float_dtype, rng):
    x = rng.standard_normal((2, 3, 5))
    x[0, 0] = 0.0  # an all-zero row: the eps floor
    nsl = [ns] if isinstance(ns, int) else list(ns)
    w = rng.standard_normal(nsl)
    if affine:
        run_both(lambda a, ww: F.rms_norm(a, nsl, ww, eps), lambda a, ww: TF.rms_norm(a, nsl, ww, eps), [x, w],
                 (0, 1), device, float_dtype, rng)
    else:
        run_both(lambda a: F.rms_norm(a, nsl, None, eps), lambda a: TF.rms_norm(a, nsl, None, eps), [x], (0,),
                 device, float_dtype, rng)
    m = nn.RMSNorm(ns, eps=eps, elementwise_affine=affine)
    t = torch.nn.RMSNorm(ns, eps=eps, elementwise_affine=affine)
    assert repr(m) == repr(t)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in t.named_parameters()]
    xf = x.astype(np.float32)  # the modules' float32 parameters
    assert_close(m(D(xf)), t(torch.tensor(xf)).detach(), **TOL["float32"])


# ================================================================================================ random ops

@pytest.mark.parametrize("fn,shape,plane", [("dropout1d", (6, 40, 5), 5), ("dropout1d", (50, 3), 3),
                                            ("dropout3d", (4, 12, 2, 3, 2), 12), ("dropout3d", (30, 2, 2, 3), 12)])
def test_channel_dropout(fn, shape, plane, device, float_dtype, rng):
    f = getattr(F, fn)
    x = D(rng.uniform(1.0, 2.0, shape), device, float_dtype, grad=True)
    p = 0.3
    dlcore.manual_seed(11)
    y = f(x, p)
    dlcore.manual_seed(11)
    y2 = f(x, p)
    assert_close(y, y2.detach(), rtol=0, atol=0)  # seeded: reproducible
    yn, xn = y.detach().cpu().numpy(), x.detach().cpu().numpy()
    planes = yn.reshape(-1, plane)
    kept = (planes != 0).all(1)
    assert ((planes == 0).all(1) | kept).all()  # whole channels dropped or kept
    assert abs(kept.mean() - (1 - p)) < 0.12
    assert_close(yn.reshape(-1, plane)[kept], xn.reshape(-1, plane)[kept] / (1 - p), rtol=1e-6, atol=0)
    y.backward(D(np.ones(shape), device, float_dtype))
    g = x.grad.cpu().numpy().reshape(-1, plane)
    assert_close(g, np.repeat(kept[:, None] / (1 - p), plane, 1), rtol=1e-6, atol=0)
    # evaluation and p = 0 are the identity; the module; in place
    xe = D(xn, device)
    assert f(xe, p, training=False) is xe and f(xe, 0.0) is xe
    m = getattr(nn, "Dropout" + fn[-2:])(p)
    m.eval()
    assert_close(m(xe), xn, rtol=0, atol=0)
    m.train()
    assert float((m(xe) == 0).float().mean().item()) > 0
    xi = D(xn, device)
    dlcore.manual_seed(5)
    out = f(xi, p, inplace=True)
    dlcore.manual_seed(5)
    assert out is xi and np.array_equal(xi.cpu().numpy(), f(xe, p).cpu().numpy())


def test_dropout3d_unusual_ranks_warn_like_torch(device):
    x = D(np.ones((6, 4, 5)), device)
    with pytest.warns(UserWarning, match="dropout3d"):
        y = F.dropout3d(x, 0.5)
    planes = y.cpu().numpy().reshape(6, 20)  # a 3-D input is unbatched [C, *]: one draw per dim-0 slice
    assert ((planes == 0).all(1) | (planes == 2).all(1)).all()
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="at least 2 dimensions"):
        F.dropout3d(D(np.array(1.0), device))


_A = 1.7580993408473766


@pytest.mark.parametrize("feature", [False, True])
def test_alpha_dropout_statistics_and_gradient(feature, device, float_dtype, rng):
    f = F.feature_alpha_dropout if feature else F.alpha_dropout
    shape = (400, 50, 4) if feature else (40000,)
    xn = rng.standard_normal(shape).astype(float_dtype).astype(np.float64)
    x = D(xn, device, float_dtype, grad=True)
    p = 0.2
    dlcore.manual_seed(7)
    y = f(x, p, training=True)
    yn = y.detach().cpu().numpy().astype(np.float64)
    a = 1 / math.sqrt((_A * _A * p + 1) * (1 - p))
    dropped_value = -_A * a * (1 - p)
    kept = ~np.isclose(yn, dropped_value, rtol=0, atol=1e-6) | np.isclose(xn * a + _A * a * p, dropped_value,
                                                                         rtol=0, atol=1e-6)
    assert_close(yn[kept], (xn * a + _A * a * p)[kept], **TOL[float_dtype])
    if feature:  # one draw per (sample, channel)
        k = kept.reshape(400 * 50, 4)
        assert (k.all(1) | ~k.any(1)).all()
    assert abs(kept.mean() - (1 - p)) < 0.02
    # zero mean and unit variance are kept
    assert abs(yn.mean()) < 0.03 and abs(yn.std() - 1) < 0.03
    y.backward(D(np.ones(shape), device, float_dtype))
    assert_close(x.grad, kept * a, **TOL[float_dtype])
    dlcore.manual_seed(7)
    assert_close(f(x.detach(), p, training=True), yn, rtol=0, atol=0)  # seeded
    # default training=False, p = 0: identity; p = 1: zeros; the modules
    xe = D(xn, device, float_dtype)
    assert f(xe) is xe and f(xe, 0.0, True) is xe
    assert_close(f(xe, 1.0, True), np.zeros(shape), rtol=0, atol=0)
    m = (nn.FeatureAlphaDropout if feature else nn.AlphaDropout)(0.5)
    m.eval()
    assert m(xe) is xe
    m.train()
    assert np.isclose(m(xe).cpu().numpy(), -_A / math.sqrt((_A * _A * 0.5 + 1) * 0.5) * 0.5, atol=1e-5).any()
    # in place (a non-leaf that records history)
    base = D(xn, device, float_dtype, grad=True)
    h = base * 1.0
    dlcore.manual_seed(7)
    r = f(h, p, training=True, inplace=True)
    assert r is h
    assert_close(h.detach(), yn, rtol=0, atol=0)
    h.sum().backward()
    assert_close(base.grad, kept * a, **TOL[float_dtype])


def test_rrelu_training(device, float_dtype, rng):
    lower, upper = 0.1, 0.4
    xn = rng.standard_normal(20000).astype(float_dtype)
    xn[0] = 0.0
    x = D(xn, device, float_dtype, grad=True)
    dlcore.manual_seed(2)
    y = F.rrelu(x, lower, upper, training=True)
    yn = y.detach().cpu().numpy()
    pos = xn > 0
    assert_close(yn[pos], xn[pos], rtol=0, atol=0)
    slopes = yn[~pos][1:] / xn[~pos][1:]
    assert slopes.min() >= lower - 1e-6 and slopes.max() <= upper + 1e-6
    assert abs(slopes.mean() - (lower + upper) / 2) < 0.005
    assert abs(slopes.var() - (upper - lower) ** 2 / 12) < 0.001  # uniform
    y.backward(D(np.ones_like(xn), device, float_dtype))
    g = x.grad.cpu().numpy()
    assert_close(g[pos], np.ones(pos.sum()), rtol=0, atol=0)
    assert_close(g[~pos][1:], slopes, **TOL[float_dtype])
    assert lower <= g[0] <= upper  # x == 0 takes a random slope (as torch)
    dlcore.manual_seed(2)
    assert_close(F.rrelu(x.detach(), lower, upper, training=True), yn, rtol=0, atol=0)
    # in place, and the module in training mode
    xi = D(xn, device, float_dtype)
    dlcore.manual_seed(2)
    assert F.rrelu_(xi, lower, upper, training=True) is xi
    assert_close(xi, yn, rtol=0, atol=0)
    m = nn.RReLU(lower, upper)
    dlcore.manual_seed(2)
    assert_close(m(D(xn, device, float_dtype)), yn, rtol=0, atol=0)
    # torch.rrelu / rrelu_ with a generator: drawn from it (reproducible by its seed, the default stream untouched);
    # it was accepted and ignored before
    dlcore.manual_seed(2)
    ga = dlcore.rrelu(x.detach(), lower, upper, True, dlcore.Generator().manual_seed(11)).cpu().numpy()
    gb = dlcore.rrelu(x.detach(), lower, upper, True, dlcore.Generator().manual_seed(11)).cpu().numpy()
    assert_close(ga, gb, rtol=0, atol=0)
    assert not np.array_equal(ga, yn)
    assert_close(F.rrelu(x.detach(), lower, upper, training=True), yn, rtol=0, atol=0)  # default stream: seed 2's
    xg = D(xn, device, float_dtype)
    dlcore.rrelu_(xg, lower, upper, True, dlcore.Generator().manual_seed(11))
    assert_close(xg, ga, rtol=0, atol=0)


@requires_torch
def test_rrelu_eval_matches_torch(device, float_dtype, rng):
    x = rng.standard_normal((4, 5))
    x[0, 0] = 0.0
    run_both(lambda a: F.rrelu(a, 0.1, 0.3), lambda a: TF.rrelu(a, 0.1, 0.3), [x], (0,), device, float_dtype, rng)
    m, t = nn.RReLU(0.2, 0.5), torch.nn.RReLU(0.2, 0.5)
    m.eval()
    t.eval()
    run_both(m, t, [x], (0,), device, float_dtype, rng)
    assert repr(m) == repr(t) and repr(nn.RReLU(inplace=True)) == repr(torch.nn.RReLU(inplace=True))
    xi = D(x, device, float_dtype)
    assert F.rrelu_(xi, 0.1, 0.3) is xi
    assert_close(xi, TF.rrelu(torch.tensor(x.astype(float_dtype)), 0.1, 0.3), **TOL[float_dtype])


# ================================================================================================ pooling

@requires_torch
def test_max_unpool(device, float_dtype, rng):
    # 1-d, 2-d and 3-d, indices from torch's max pools; default and explicit output sizes
    x1 = rng.standard_normal((2, 3, 9))
    v, i = TF.max_pool1d(torch.tensor(x1), 3, 2, 1, return_indices=True)
    for osz in (None, [10], [2, 3, 9]):
        run_both(lambda a, ix: F.max_unpool1d(a, ix, 3, 2, 1, osz), lambda a, ix: TF.max_unpool1d(a, ix, 3, 2, 1, osz),
                 [v.numpy(), i.numpy()], (0,), device, float_dtype, rng)
    x2 = rng.standard_normal((2, 2, 6, 8))
    v, i = TF.max_pool2d(torch.tensor(x2), 2, return_indices=True)
    for osz in (None, (7, 9)):
        run_both(lambda a, ix: F.max_unpool2d(a, ix, 2, output_size=osz),
                 lambda a, ix: TF.max_unpool2d(a, ix, 2, output_size=osz), [v.numpy(), i.numpy()], (0,), device,
                 float_dtype, rng)
    run_both(lambda a, ix: nn.MaxUnpool2d(2)(a, ix), lambda a, ix: torch.nn.MaxUnpool2d(2)(a, ix),
             [v[0].numpy(), i[0].numpy()], (0,), device, float_dtype, rng)  # unbatched
    x3 = rng.standard_normal((1, 2, 4, 4, 5))
    v, i = TF.max_pool3d(torch.tensor(x3), 2, return_indices=True)
    run_both(lambda a, ix: nn.MaxUnpool3d(2)(a, ix, (4, 4, 5)), lambda a, ix: torch.nn.MaxUnpool3d(2)(a, ix, (4, 4, 5)),
             [v.numpy(), i.numpy()], (0,), device, float_dtype, rng)
    # round trip with dlcore's own max_pool2d indices
    x2 = rng.standard_normal((2, 2, 6, 7))
    xd = D(x2, device, float_dtype)
    pv, pi = F.max_pool2d(xd, 2, return_indices=True)
    up = nn.MaxUnpool2d(2)(pv, pi, output_size=xd.shape)
    assert_close(up, TF.max_unpool2d(*TF.max_pool2d(torch.tensor(x2.astype(float_dtype)), 2, return_indices=True), 2,
                                     output_size=(6, 7)), rtol=0, atol=0)
    assert repr(nn.MaxUnpool1d(3, 2, 1)) == repr(torch.nn.MaxUnpool1d(3, 2, 1))


@requires_torch
def test_1d_pools(device, float_dtype, rng):
    x = rng.standard_normal((2, 3, 11))
    for o in (1, 4, 11, (5,)):
        run_both(lambda a: F.adaptive_avg_pool1d(a, o), lambda a: TF.adaptive_avg_pool1d(a, o), [x], (0,), device,
                 float_dtype, rng)
        run_both(lambda a: nn.AdaptiveMaxPool1d(o)(a), lambda a: torch.nn.AdaptiveMaxPool1d(o)(a), [x], (0,), device,
                 float_dtype, rng)
        dv, di = F.adaptive_max_pool1d(D(x, device, float_dtype), o, return_indices=True)
        tv, ti = TF.adaptive_max_pool1d(torch.tensor(x.astype(float_dtype)), o, return_indices=True)
        assert_close(dv, tv, rtol=0, atol=0)
        assert_close(di, ti, rtol=0, atol=0)
    run_both(lambda a: nn.AdaptiveAvgPool1d(3)(a), lambda a: torch.nn.AdaptiveAvgPool1d(3)(a), [x[0]], (0,), device,
             float_dtype, rng)  # unbatched
    dv, di = F.adaptive_max_pool1d_with_indices(D(x, device, float_dtype), 3)
    tv, ti = TF.adaptive_max_pool1d_with_indices(torch.tensor(x.astype(float_dtype)), 3)
    assert_close(di, ti, rtol=0, atol=0)
    dv, di = F.max_pool1d_with_indices(D(x, device, float_dtype), 3, 2)
    tv, ti = TF.max_pool1d_with_indices(torch.tensor(x.astype(float_dtype)), 3, 2)
    assert_close(dv, tv, rtol=0, atol=0)
    assert_close(di, ti, rtol=0, atol=0)
    x2 = rng.standard_normal((2, 2, 5, 7))
    dv, di = F.adaptive_max_pool2d_with_indices(D(x2, device, float_dtype), (2, 3))
    tv, ti = TF.adaptive_max_pool2d_with_indices(torch.tensor(x2.astype(float_dtype)), (2, 3))
    assert_close(dv, tv, rtol=0, atol=0)
    assert_close(di, ti, rtol=0, atol=0)
    assert tuple(F.adaptive_avg_pool1d(D(x, device), 0).shape) == (2, 3, 0)
    for p, k, s, cm in ((2, 3, None, False), (1.5, 2, 3, True), (float("inf"), 3, 1, False)):
        xx = np.abs(x) + 0.1 if p == 1.5 else x
        run_both(lambda a: F.lp_pool1d(a, p, k, s, cm), lambda a: TF.lp_pool1d(a, p, k, s, cm), [xx], (0,), device,
                 float_dtype, rng)
        run_both(lambda a: nn.LPPool1d(p, k, s, cm)(a), lambda a: torch.nn.LPPool1d(p, k, s, cm)(a), [xx[0]], (0,),
                 device, float_dtype, rng)


# ================================================================================================ in-place aliases

@requires_torch
@pytest.mark.parametrize("name,args", [("celu_", (0.7,)), ("selu_", ()), ("threshold_", (0.1, -2.0)),
                                       ("hardtanh_", (-0.5, 0.8))])
def test_inplace_aliases(name, args, device, float_dtype, rng):
    x = rng.standard_normal((3, 4))
    xd = D(x, device, float_dtype)
    out = getattr(F, name)(xd, *args)
    ref = getattr(TF, name)(torch.tensor(x.astype(float_dtype)), *args)
    assert out is xd
    assert_close(xd, ref, **TOL[float_dtype])
    # on a non-leaf recording history: the gradient is the activation's
    base = D(x, device, float_dtype, grad=True)
    h = base * 2.0
    getattr(F, name)(h, *args)
    h.backward(D(np.ones(x.shape), device, float_dtype))
    tb = torch.tensor(x.astype(float_dtype), requires_grad=True)
    th = tb * 2.0
    getattr(TF, name)(th, *args)
    th.backward(torch.ones(x.shape, dtype=getattr(torch, float_dtype)))
    # (torch's celu backward rounds 1 / alpha to float32: dlcore's exp(x / alpha) is exact)
    tol = dict(rtol=1e-7, atol=1e-10) if name == "celu_" and float_dtype == "float64" else TOL[float_dtype]
    assert_close(base.grad, tb.grad, **tol)


# ================================================================================================ bad inputs

def _t(*shape, dtype="float64"):
    return dlcore.tensor(np.ones(shape, dtype=dtype))


def _i(a):
    return dlcore.tensor(np.asarray(a, np.int64))


BAD = [
    ("mrl_rank", lambda: F.margin_ranking_loss(_t(3), _t(3), _t(1, 3)), RuntimeError, "same number of dimensions"),
    ("mrl_bcast", lambda: F.margin_ranking_loss(_t(3), _t(2), _t(3)), RuntimeError, "do not broadcast"),
    ("mrl_red", lambda: F.margin_ranking_loss(_t(3), _t(3), _t(3), reduction="avg"), ValueError, "reduction"),
    ("tml_margin", lambda: F.triplet_margin_loss(_t(2, 3), _t(2, 3), _t(2, 3), margin=0), ValueError, "margin"),
    ("tml_dims", lambda: F.triplet_margin_loss(_t(3), _t(2, 3), _t(2, 3)), RuntimeError, r"anchor 1D, positive 2D"),
    ("tmdl_red", lambda: F.triplet_margin_with_distance_loss(_t(2, 3), _t(2, 3), _t(2, 3), reduction="x"),
     ValueError, "reduction"),
    ("tmdl_mod", lambda: nn.TripletMarginWithDistanceLoss(margin=-1.0), ValueError, "margin"),
    ("cel_multi", lambda: F.cosine_embedding_loss(_t(2, 3), _t(2, 3), _t(2, 3)), RuntimeError, "multi-target"),
    ("cel_dims", lambda: F.cosine_embedding_loss(_t(2, 3), _t(2, 3), _t()), RuntimeError, "0D target tensor"),
    ("cel_shape", lambda: F.cosine_embedding_loss(_t(2, 3), _t(2, 4), _t(2)), RuntimeError, "same shape"),
    ("sml_bcast", lambda: F.soft_margin_loss(_t(2, 3), _t(4)), RuntimeError, r"input \[2, 3\], target \[4\]"),
    ("sml_int", lambda: F.soft_margin_loss(_t(2, dtype="int64"), _t(2)), TypeError, "floating-point"),
    ("mlm_range", lambda: F.multilabel_margin_loss(_t(2, 3), _i([[0, 5, -1], [1, -1, 0]])), IndexError,
     "out of range"),
    ("mlm_shape", lambda: F.multilabel_margin_loss(_t(2, 3), _i([[0, 1], [1, -1]])), RuntimeError,
     "inconsistent target size"),
    ("mlm_float", lambda: F.multilabel_margin_loss(_t(2, 3), _t(2, 3)), TypeError, "integer"),
    ("mlm_3d", lambda: F.multilabel_margin_loss(_t(2, 2, 3), _i(np.zeros((2, 2, 3)))), RuntimeError, r"\[N, C\]"),
    ("pnll_red", lambda: F.poisson_nll_loss(_t(2), _t(2), reduction="foo"), ValueError, "reduction"),
    ("gnll_size", lambda: F.gaussian_nll_loss(_t(2, 3), _t(2, 3), _t(3, 3)), ValueError, "incorrect size"),
    ("gnll_neg", lambda: F.gaussian_nll_loss(_t(2, 3), _t(2, 3), -_t(2, 3)), ValueError, "negative"),
    ("gnll_negf", lambda: F.gaussian_nll_loss(_t(2, 3), _t(2, 3), -1.0), ValueError, "negative"),
    ("gnll_two", lambda: F.gaussian_nll_loss(_t(2, 3, 4), _t(2, 3, 4), _t(1, 3, 1)), ValueError, "incorrect size"),
    ("gnll_red", lambda: F.gaussian_nll_loss(_t(2), _t(2), _t(2), reduction="x"), ValueError, "not valid"),
    ("ctc_T", lambda: F.ctc_loss(_t(6, 2, 4), _i([[1, 2], [1, 1]]), [7, 6], [2, 2]), RuntimeError, "at most 6"),
    ("ctc_S", lambda: F.ctc_loss(_t(6, 2, 4), _i([[1, 2], [1, 1]]), [6, 6], [3, 2]), RuntimeError,
     "target_lengths"),
    ("ctc_blank", lambda: F.ctc_loss(_t(6, 2, 4), _i([[1, 2], [1, 1]]), [6, 6], [2, 2], blank=4), RuntimeError,
     "blank"),
    ("ctc_label", lambda: F.ctc_loss(_t(6, 2, 4), _i([[1, 7], [1, 1]]), [6, 6], [2, 2]), IndexError,
     "out of range"),
    ("ctc_neg", lambda: F.ctc_loss(_t(6, 2, 4), _i([[1, 2], [1, 1]]), [6, 6], [-1, 2]), RuntimeError, "at least 0"),
    ("ctc_neg_in", lambda: F.ctc_loss(_t(6, 2, 4), _i([[1, 2], [1, 1]]), [-1, 6], [1, 2]), RuntimeError,
     "at least 0"),
    ("ctc_nlen", lambda: F.ctc_loss(_t(6, 2, 4), _i([[1, 2], [1, 1]]), [6], [2, 2]), RuntimeError, "batch_size"),
    ("ctc_concat", lambda: F.ctc_loss(_t(6, 2, 4), _i([1, 2, 1]), [6, 6], [2, 2]), RuntimeError,
     "sum\\(target_lengths\\)"),
    ("ctc_float_len", lambda: F.ctc_loss(_t(6, 2, 4), _i([[1, 2], [1, 1]]), _t(2), _i([2, 2])), RuntimeError,
     "integral"),
    ("ctc_4d", lambda: F.ctc_loss(_t(2, 2, 2, 2), _i([[1, 1], [1, 2]]), [2, 2], [1, 1]), RuntimeError,
     r"\[T, N, C\]"),
    ("ctc_int", lambda: F.ctc_loss(_t(2, 1, 3, dtype="int64"), _i([[1]]), [2], [1]), TypeError, "float32"),
    ("ctc_red", lambda: F.ctc_loss(_t(2, 1, 3), _i([[1]]), [2], [1], reduction="avg"), ValueError, "reduction"),
    ("unfold_2d", lambda: F.unfold(_t(5, 6), 2), RuntimeError, "3-D"),
    ("unfold_big", lambda: F.unfold(_t(1, 1, 5, 6), 7), RuntimeError, "at least one"),
    ("unfold_stride", lambda: F.unfold(_t(1, 1, 5, 6), 2, stride=0), RuntimeError, "stride"),
    ("unfold_pad", lambda: F.unfold(_t(1, 1, 5, 6), 2, padding=-1), RuntimeError, "padding"),
    ("unfold_k", lambda: F.unfold(_t(1, 1, 5, 6), (1, 2, 3)), ValueError, "kernel_size"),
    ("fold_L", lambda: F.fold(_t(2, 12, 21), (5, 6), 2), RuntimeError, "sliding blocks 4 \\* 5 = 20"),
    ("fold_C", lambda: F.fold(_t(2, 13, 20), (5, 6), 2), RuntimeError, "divisible"),
    ("fold_4d", lambda: F.fold(_t(1, 2, 12, 20), (5, 6), 2), RuntimeError, "2-D"),
    ("bil_in2", lambda: F.bilinear(_t(2, 3), _t(2, 4), _t(5, 3, 5)), RuntimeError, "input2 size"),
    ("bil_in1", lambda: F.bilinear(_t(2, 2), _t(2, 4), _t(5, 3, 4)), RuntimeError, "input1 size"),
    ("bil_batch", lambda: F.bilinear(_t(2, 3), _t(3, 4), _t(5, 3, 4)), RuntimeError, "batch dimensions"),
    ("bil_bias", lambda: F.bilinear(_t(2, 3), _t(2, 4), _t(5, 3, 4), _t(4)), RuntimeError, "bias size"),
    ("bil_w", lambda: F.bilinear(_t(2, 3), _t(2, 4), _t(3, 4)), RuntimeError, "3-D weight"),
    ("bil_rank", lambda: F.bilinear(_t(1, 2, 3), _t(2, 4), _t(5, 3, 4)), RuntimeError, "dimensions do not match"),
    ("pdist_3d", lambda: F.pdist(_t(2, 3, 4)), RuntimeError, "2D"),
    ("pdist_p", lambda: F.pdist(_t(3, 4), -1), RuntimeError, "non-negative"),
    ("pdist_int", lambda: F.pdist(_t(3, 4, dtype="int64")), RuntimeError, "floating-point"),
    ("chsh_2d", lambda: F.channel_shuffle(_t(4, 6), 2), RuntimeError, "> 2 dims"),
    ("chsh_div", lambda: F.channel_shuffle(_t(1, 6, 2), 4), RuntimeError, "divisible"),
    ("chsh_g0", lambda: F.channel_shuffle(_t(1, 6, 2), 0), RuntimeError, "positive"),
    ("sm2d", lambda: nn.Softmax2d()(_t(2, 3)), ValueError, "3D or 4D"),
    ("rms_shape", lambda: F.rms_norm(_t(2, 3), [4]), RuntimeError, "normalized_shape"),
    ("rms_w", lambda: F.rms_norm(_t(2, 3), [3], _t(4)), RuntimeError, "weight"),
    ("d1d_4d", lambda: F.dropout1d(_t(2, 2, 2, 2)), RuntimeError, "2-D or 3-D"),
    ("d1d_p", lambda: F.dropout1d(_t(2, 2), 1.5), ValueError, "between 0 and 1"),
    ("d3d_p", lambda: F.dropout3d(_t(2, 2, 2, 2), -0.1), ValueError, "between 0 and 1"),
    ("ad_p", lambda: F.alpha_dropout(_t(3), 2.0, True), ValueError, "between 0 and 1"),
    ("fad_1d", lambda: F.feature_alpha_dropout(_t(5), 0.5, True), RuntimeError, "at least 2 dimensions"),
    ("drop_mod_p", lambda: nn.AlphaDropout(1.2), ValueError, "between 0 and 1"),
    ("rrelu_bounds", lambda: F.rrelu(_t(3), 0.5, 0.2, training=True), RuntimeError, "upper bound"),
    ("rrelu_mod", lambda: nn.RReLU(0.5, 0.2)(_t(3)), RuntimeError, "upper bound"),
    ("rrelu_int", lambda: F.rrelu(_t(3, dtype="int64"), training=True), TypeError, "floating-point"),
    ("unpool_oob", lambda: F.max_unpool2d(_t(1, 1, 2, 2), _i([[[[0, 1], [2, 40]]]]), 2), RuntimeError,
     "invalid max index: 40"),
    ("unpool_neg", lambda: F.max_unpool2d(_t(1, 1, 2, 2), _i([[[[0, 1], [2, -1]]]]), 2), RuntimeError,
     "invalid max index: -1"),
    ("unpool_shape", lambda: F.max_unpool2d(_t(1, 1, 2, 2), _i([[[[0, 1, 2]]]]), 2), RuntimeError,
     "indices of the input's shape"),
    ("unpool_dims", lambda: F.max_unpool2d(_t(2, 2), _i([[0, 1], [2, 3]]), 2), RuntimeError, "3d or 4d"),
    ("unpool_osize", lambda: F.max_unpool2d(_t(1, 1, 2, 2), _i([[[[0, 1], [2, 3]]]]), 2, output_size=(9, 9)),
     ValueError, "invalid output_size"),
    ("unpool_olen", lambda: F.max_unpool2d(_t(1, 1, 2, 2), _i([[[[0, 1], [2, 3]]]]), 2, output_size=(4, 4, 4)),
     ValueError, "2 or 4 elements"),
    ("unpool_fidx", lambda: F.max_unpool1d(_t(1, 1, 2), _t(1, 1, 2), 2), TypeError, "integer"),
    ("aap1d_4d", lambda: F.adaptive_avg_pool1d(_t(2, 3, 2, 5), 3), RuntimeError, "2-D"),
    ("amp1d_tuple", lambda: F.adaptive_max_pool1d(_t(2, 5), (3, 2)), ValueError, "1-tuple"),
    ("amp1d_neg", lambda: F.adaptive_max_pool1d(_t(2, 5), -1), ValueError, "non-negative"),
    ("lp1d_4d", lambda: F.lp_pool1d(_t(1, 2, 3, 4), 2, 2), RuntimeError, "2-D"),
    ("type_input", lambda: F.unfold(np.ones((1, 1, 3, 3)), 2), TypeError, "Tensor"),
]


@pytest.mark.parametrize("name,fn,exc,match", BAD, ids=[b[0] for b in BAD])
def test_bad_inputs(name, fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()


def test_registries():
    for name in ["margin_ranking_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss",
                 "cosine_embedding_loss", "soft_margin_loss", "multilabel_soft_margin_loss", "multilabel_margin_loss",
                 "poisson_nll_loss", "gaussian_nll_loss", "ctc_loss", "unfold", "fold", "bilinear", "dropout1d",
                 "dropout3d", "alpha_dropout", "feature_alpha_dropout", "rrelu", "rrelu_", "max_unpool1d",
                 "max_unpool2d", "max_unpool3d", "channel_shuffle", "rms_norm", "adaptive_avg_pool1d",
                 "adaptive_max_pool1d", "lp_pool1d", "pdist", "celu_", "selu_", "threshold_", "hardtanh_"]:
        assert callable(getattr(dlcore.nn.functional, name)), name
    for name in ["MarginRankingLoss", "TripletMarginLoss", "TripletMarginWithDistanceLoss", "CosineEmbeddingLoss",
                 "SoftMarginLoss", "MultiLabelSoftMarginLoss", "MultiLabelMarginLoss", "PoissonNLLLoss",
                 "GaussianNLLLoss", "CTCLoss", "Unfold", "Fold", "Bilinear", "Dropout1d", "Dropout3d", "AlphaDropout",
                 "FeatureAlphaDropout", "RReLU", "MaxUnpool1d", "MaxUnpool2d", "ChannelShuffle", "Softmax2d",
                 "RMSNorm", "AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "LPPool1d"]:
        assert issubclass(getattr(dlcore.nn, name), nn.Module), name


@requires_torch
def test_module_reprs_match_torch():
    for name, args, kw in [("CTCLoss", (), dict(blank=2, zero_infinity=True)), ("Unfold", ((2, 3),), dict(padding=1)),
                           ("Fold", ((4, 5), 2), dict(stride=2)), ("ChannelShuffle", (3,), {}),
                           ("Dropout1d", (0.2,), {}), ("Dropout3d", (0.3,), dict(inplace=True)),
                           ("AlphaDropout", (0.1,), {}), ("FeatureAlphaDropout", (0.4,), {}),
                           ("AdaptiveAvgPool1d", (3,), {}), ("AdaptiveMaxPool1d", (2,), {}),
                           ("LPPool1d", (2, 3), {}), ("Softmax2d", (), {}), ("MarginRankingLoss", (0.3,), {}),
                           ("GaussianNLLLoss", (), dict(full=True)), ("MultiLabelMarginLoss", (), {}),
                           ("MaxUnpool2d", (2,), {})]:
        assert repr(getattr(nn, name)(*args, **kw)) == repr(getattr(torch.nn, name)(*args, **kw)), name


# ------------------------------------------------------------------------------------------------- fuzz regressions

@requires_torch
@pytest.mark.parametrize("p", [0.0, 1.0, 2.0, 3.0, math.inf])
def test_pdist_rows_without_features(p, device):
    import torch
    got = F.pdist(D(np.zeros((3, 0)), device), p)
    want = torch.pdist(torch.zeros(3, 0, dtype=torch.float64), p)
    np.testing.assert_array_equal(np.asarray(got.cpu()), want.numpy())


@requires_torch
def test_feature_dropouts_return_low_rank_inputs_when_they_drop_nothing(device):
    # torch returns early (p == 0, eval, or an empty input) before checking the rank
    x = D(np.array(1.5), device)
    with pytest.warns(UserWarning):
        assert F.dropout3d(x, 0.5, training=False) is x
    with pytest.warns(UserWarning):
        assert F.dropout3d(x, 0.0, training=True) is x
    v = D(np.array([1.0, 2.0]), device)
    assert F.feature_alpha_dropout(v, 0.5, training=False) is v
    assert F.feature_alpha_dropout(v, 0.0, training=True) is v
    with pytest.raises(RuntimeError, match="feature_alpha_dropout.*2 dimensions"):
        F.feature_alpha_dropout(v, 0.5, training=True)


@requires_torch
@pytest.mark.parametrize("nd", [1, 2])
def test_max_unpool_to_an_empty_output(nd, device):
    import torch
    shape = (1, 2) + (1,) * (nd - 1) + (2,)
    x = np.random.default_rng(0).standard_normal(shape)
    tx = torch.from_numpy(x)
    ty, ti = getattr(torch.nn.functional, f"max_pool{nd}d")(tx, 2, 3, 1, return_indices=True)
    want = getattr(torch.nn.functional, f"max_unpool{nd}d")(ty, ti, 2, 3, 1)
    got = getattr(F, f"max_unpool{nd}d")(D(ty.numpy(), device), D(ti.numpy(), device), 2, 3, 1)
    assert tuple(got.shape) == tuple(want.shape) and got.numel() == 0
