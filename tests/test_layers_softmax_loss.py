"""softmax/log_softmax over any dim and the losses (cross_entropy, nll_loss, mse/l1/smooth_l1/huber,
binary_cross_entropy[_with_logits], hinge_embedding_loss, multi_margin_loss): NumPy float64 oracles, torch,
float64 gradchecks, ISA paths, non-contiguous input, bad-input catalogue."""
import math

import numpy as np
import pytest

import dlcore
import dlcore.functional as F
from dlcore.testing import assert_close, gradcheck
from conftest import requires_torch

ISAS = ["scalar", "avx2", "avx512"]


def _pin(isa):
    try:
        dlcore._C._set_cpu_isa(isa)
    except ValueError:
        pytest.skip(f"CPU lacks {isa}")


def np_log_softmax(x, d):
    m = x.max(axis=d, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=d, keepdims=True))


# ------------------------------------------------------------------------------------------------ softmax

def _assert_backward_f32_matches_f64(x, g, log):
    """(log_)softmax over dim 1: the float32 gradient (its own row loop) against the float64 one."""
    grads = []
    for dt in ("float32", "float64"):
        xd = dlcore.tensor(x.astype(dt), requires_grad=True)
        (F.log_softmax if log else F.softmax)(xd, 1).backward(dlcore.tensor(g.astype(dt)))
        grads.append(xd.grad.numpy().astype(np.float64))
    assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("shape,dim", [((7,), 0), ((3, 17), 1), ((3, 17), 0), ((2, 5, 300), 1), ((4, 3, 5), -1),
                                       ((2, 1, 3), 1), ((5, 129), -1)])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_forward(isa, shape, dim, log, float_dtype, rng):
    _pin(isa)
    x = rng.standard_normal(shape) * 5
    xd = dlcore.tensor(x.astype(float_dtype))
    ref = np_log_softmax(x.astype(float_dtype).astype(np.float64), dim)
    out = (F.log_softmax if log else F.softmax)(xd, dim)
    # float32 log_softmax: x - lse cancels, so the error is absolute, a few ulp of |x| (up to ~20 here)
    tol = dict(rtol=1e-5, atol=1e-5 if log else 1e-6) if float_dtype == "float32" else dict(rtol=1e-12, atol=1e-13)
    assert_close(out.numpy(), ref if log else np.exp(ref), **tol)


def test_softmax_stable_large_values(device):
    x = dlcore.tensor([[1000.0, 1001.0, 1002.0], [-1e4, 0.0, 1e4]], device=device)
    y = F.softmax(x, 1).cpu().numpy()
    assert np.isfinite(y).all()
    assert_close(y.sum(1), [1.0, 1.0], rtol=1e-6)
    assert np.isfinite(F.log_softmax(x, 1).cpu().numpy()).all()


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("R", [1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 100, 1000, 1003])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_row_lengths(isa, R, log, rng):
    # float32 rows of every tail length of the 8- and 16-lane paths, several rows per thread chunk (the next row's
    # max is fused into this row's scale pass), wide logits (exp of x - max down to ~-100: underflow to 0)
    _pin(isa)
    x = (rng.standard_normal((37, R)) * 20).astype(np.float32)
    ref = np_log_softmax(x.astype(np.float64), 1)
    out = (F.log_softmax if log else F.softmax)(dlcore.tensor(x), 1).numpy()
    if log:
        assert_close(out, ref, rtol=1e-5, atol=2e-5)
    else:
        assert_close(out, np.exp(ref), rtol=1e-5, atol=1e-7)
        assert_close(out.sum(1), np.ones(37), rtol=1e-5)
    # backward (the float32 row loop fuses the next row's dot into this row's pass) against float64
    _assert_backward_f32_matches_f64(x, rng.standard_normal(x.shape), log)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("log", [False, True])
def test_softmax_float32_extremes(isa, log):
    _pin(isa)
    R = 37
    x = np.zeros((8, R), np.float32)
    x[0] = np.linspace(-3e4, 3e4, R)           # huge logits: one hot
    x[1] = np.linspace(-1e-30, 1e-30, R)       # tiny logits: uniform
    x[2] = 1e4                                  # constant large row: uniform
    x[3, ::2] = -np.inf                         # masked entries give exactly 0
    x[4] = np.linspace(-200, 0, R)              # spans the exp underflow
    x[5] = -np.inf
    x[5, 20] = 3.0                              # a single unmasked entry -> 1
    x[6, 30] = np.nan                           # NaN row stays NaN
    x[7] = np.linspace(-87, -86, R)             # all near the underflow edge (shift-invariant: a normal row)
    out = (F.log_softmax if log else F.softmax)(dlcore.tensor(x), 1).numpy()
    with np.errstate(invalid="ignore"):
        ref = np_log_softmax(x.astype(np.float64), 1)
    assert np.isnan(out[6]).all()
    keep = [0, 1, 2, 3, 4, 5, 7]
    if log:
        fin = np.isfinite(ref[keep])
        # x - lse cancels: the error is absolute, a few ulp of |x| (1e-3 at 1e4)
        assert_close(out[keep][fin], ref[keep][fin], rtol=1e-5, atol=4e-3)
        assert (out[keep][~fin] == -np.inf).all()
    else:
        assert_close(out[keep], np.exp(ref[keep]), rtol=1e-5, atol=1e-7)
        assert (out[3, ::2] == 0).all() and (out[5, :20] == 0).all() and out[5, 20] == 1.0


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("hw", [(7, 9), (16, 20)])
def test_softmax_float32_over_channels(isa, log, hw, rng):
    """float32 (log_)softmax over dim 1 of NCHW (the columns loop: whole vectors of columns, the rest scalar), with
    masked (-inf) and NaN entries, forward and backward against float64."""
    _pin(isa)
    x = (rng.standard_normal((3, 40) + hw) * 8).astype(np.float32)
    x[0, :, 0, 0] = -np.inf
    x[0, 5, 0, 0] = 2.0                         # one unmasked channel -> 1
    x[1, ::3, 1, 2] = -np.inf
    x[2, 7, 3, 4] = np.nan                      # its column stays NaN
    with np.errstate(invalid="ignore"):
        ref = np_log_softmax(x.astype(np.float64), 1)
    out = (F.log_softmax if log else F.softmax)(dlcore.tensor(x), 1).numpy()
    nan = np.isnan(ref)
    assert (np.isnan(out) == nan).all()
    fin = np.isfinite(ref)
    if log:
        assert_close(out[fin], ref[fin], rtol=1e-5, atol=2e-5)
        assert (out[~fin & ~nan] == -np.inf).all()
    else:
        assert_close(out[~nan], np.exp(ref[~nan]), rtol=1e-5, atol=1e-7)
        assert out[0, 5, 0, 0] == 1.0
    # the backward on finite inputs, against float64
    _assert_backward_f32_matches_f64(np.where(np.isfinite(x), x, 0.0), rng.standard_normal(x.shape), log)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dim", [0, 1, 2])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_gradcheck(isa, dim, log, rng):
    _pin(isa)
    x = dlcore.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    gradcheck(lambda v: (F.log_softmax if log else F.softmax)(v, dim), [x])


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("log", [False, True])
def test_softmax_backward_float32_paths(isa, log, rng):
    _pin(isa)
    x = rng.standard_normal((3, 37))
    _assert_backward_f32_matches_f64(x, rng.standard_normal((3, 37)), log)


def test_softmax_non_contiguous_and_methods(rng):
    x = rng.standard_normal((5, 6))
    xd = dlcore.tensor(x).transpose(0, 1)
    assert_close(F.softmax(xd, 1).numpy(), np.exp(np_log_softmax(x.T, 1)), rtol=1e-12)
    assert_close(xd.softmax(0).numpy(), np.exp(np_log_softmax(x.T, 0)), rtol=1e-12)
    assert_close(xd.log_softmax(-1).numpy(), np_log_softmax(x.T, 1), rtol=1e-12)
    assert_close(dlcore.softmax(xd, 1).numpy(), np.exp(np_log_softmax(x.T, 1)), rtol=1e-12)
    assert_close(F.softmin(xd, 1).numpy(), np.exp(np_log_softmax(-x.T, 1)), rtol=1e-12)
    assert_close(F.softmax(xd, 1, dtype=dlcore.float32).numpy(), np.exp(np_log_softmax(x.T, 1)), rtol=1e-5)


def test_softmax_bad_input():
    with pytest.raises(IndexError, match="softmax"):
        F.softmax(dlcore.zeros(2, 3), 2)
    with pytest.raises(TypeError, match="softmax"):
        F.softmax(dlcore.tensor([1, 2]), 0)
    assert F.softmax(dlcore.zeros(0, 3), 1).shape == (0, 3)


# ------------------------------------------------------------------------------------------------ cross entropy

def np_ce(x, t, w=None, ignore=-100, ls=0.0, reduction="mean"):
    N, C = x.shape
    lp = np_log_softmax(x, 1)
    w = np.ones(C) if w is None else w
    loss = np.zeros(N)
    wt = np.zeros(N)
    for n in range(N):
        if t[n] == ignore:
            continue
        wt[n] = w[t[n]]
        loss[n] = -(1 - ls) * w[t[n]] * lp[n, t[n]] - ls / C * (w * lp[n]).sum()
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / wt.sum()


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ls", [0.0, 0.1])
def test_cross_entropy_forward_and_grad(isa, reduction, weighted, ls, rng):
    _pin(isa)
    N, C = 7, 5
    x = rng.standard_normal((N, C)) * 2
    t = rng.integers(0, C, N)
    t[2] = -100
    w = rng.uniform(0.5, 2, C) if weighted else None
    xd = dlcore.tensor(x, requires_grad=True)
    wd = dlcore.tensor(w) if weighted else None
    out = F.cross_entropy(xd, dlcore.tensor(t), weight=wd, reduction=reduction, label_smoothing=ls)
    assert_close(out.detach().numpy(), np_ce(x, t, w, -100, ls, reduction), rtol=1e-12, atol=1e-12)
    gradcheck(lambda v: F.cross_entropy(v, dlcore.tensor(t), weight=wd, reduction=reduction, label_smoothing=ls),
              [xd])


@pytest.mark.parametrize("isa", ISAS)
def test_cross_entropy_float32(isa, rng):
    _pin(isa)
    x = rng.standard_normal((64, 10)).astype(np.float32) * 3
    t = rng.integers(0, 10, 64)
    out = F.cross_entropy(dlcore.tensor(x), dlcore.tensor(t))
    assert out.dtype == dlcore.float32
    assert_close(out.item(), np_ce(x.astype(np.float64), t), rtol=1e-5)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("offset", [0.0, 60.0])
def test_cross_entropy_label_smoothing_float32_wide_rows(isa, offset, rng):
    """The smoothed term as W ls - (sum_c w_c x_c - W m) (one dot per row): float32 rows of 1000 classes, logits
    far from 0 (the two parts cancel more), weighted and not, against the float64 oracle."""
    _pin(isa)
    x = (rng.standard_normal((64, 1000)) * 4 + offset).astype(np.float32)
    t = rng.integers(0, 1000, 64)
    for w in (None, rng.uniform(0.5, 2, 1000).astype(np.float32)):
        out = F.cross_entropy(dlcore.tensor(x), dlcore.tensor(t), weight=None if w is None else dlcore.tensor(w),
                              reduction="none", label_smoothing=0.1)
        ref = np_ce(x.astype(np.float64), t, None if w is None else w.astype(np.float64), -100, 0.1, "none")
        assert_close(out.numpy().astype(np.float64), ref, rtol=2e-5, atol=2e-5)


@requires_torch
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_cross_entropy_vs_torch(reduction, rng):
    import torch
    x = rng.standard_normal((6, 4, 3)).astype(np.float32)
    t = rng.integers(0, 4, (6, 3))
    t[0, 0] = 1
    w = rng.uniform(0.5, 2, 4).astype(np.float32)
    xd = dlcore.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yd = F.cross_entropy(xd, dlcore.tensor(t), dlcore.tensor(w), ignore_index=1, reduction=reduction,
                         label_smoothing=0.05)
    yt = torch.nn.functional.cross_entropy(xt, torch.tensor(t), torch.tensor(w), ignore_index=1,
                                           reduction=reduction, label_smoothing=0.05)
    assert_close(yd.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = rng.standard_normal(yt.shape).astype(np.float32)
    yd.backward(dlcore.tensor(g))
    yt.backward(torch.tensor(g))
    assert_close(xd.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)


@requires_torch
def test_cross_entropy_prob_targets_vs_torch(rng):
    import torch
    x = rng.standard_normal((5, 4))
    p = rng.uniform(size=(5, 4))
    p /= p.sum(1, keepdims=True)
    yd = F.cross_entropy(dlcore.tensor(x), dlcore.tensor(p), label_smoothing=0.1)
    yt = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(p), label_smoothing=0.1)
    assert_close(yd.item(), yt.item(), rtol=1e-10)


def test_cross_entropy_single_sample_and_int32_target(rng):
    x = rng.standard_normal(6)
    out = F.cross_entropy(dlcore.tensor(x), dlcore.tensor(np.int64(2)))
    assert_close(out.item(), -np_log_softmax(x[None], 1)[0, 2], rtol=1e-12)
    x2 = rng.standard_normal((3, 6))
    t = np.array([1, 0, 5], dtype=np.int32)
    assert_close(F.cross_entropy(dlcore.tensor(x2), dlcore.tensor(t)).item(), np_ce(x2, t), rtol=1e-12)


def test_cross_entropy_non_contiguous(rng):
    x = rng.standard_normal((5, 8))
    t = rng.integers(0, 5, 8)
    xd = dlcore.tensor(x).transpose(0, 1)
    assert_close(F.cross_entropy(xd, dlcore.tensor(t)).item(), np_ce(x.T, t), rtol=1e-12)


def test_cross_entropy_bad_input():
    x = dlcore.zeros(4, 3)
    with pytest.raises(IndexError, match="cross_entropy.*target 3 is out of bounds for 3 classes"):
        F.cross_entropy(x, dlcore.tensor([0, 1, 2, 3]))
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(x, dlcore.tensor([0, 1, 2, -1]))
    with pytest.raises(ValueError, match="target of shape"):
        F.cross_entropy(x, dlcore.tensor([0, 1]))
    with pytest.raises(ValueError, match="weight of shape"):
        F.cross_entropy(x, dlcore.tensor([0, 1, 2, 0]), weight=dlcore.ones(4))
    with pytest.raises(TypeError, match="int64"):
        F.cross_entropy(x, dlcore.tensor([True, False, True, True]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, dlcore.tensor([0, 1, 2, 0]), reduction="avg")
    with pytest.raises(TypeError, match="dtype"):
        F.cross_entropy(x, dlcore.tensor([0, 1, 2, 0]), weight=dlcore.ones(3, dtype=dlcore.float64))


def test_cross_entropy_all_ignored_is_nan(device):
    out = F.cross_entropy(dlcore.zeros(2, 3, device=device), dlcore.tensor([-100, -100], device=device))
    assert np.isnan(out.item())


# ------------------------------------------------------------------------------------------------ nll

@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_nll_loss(reduction, rng, device):
    x = np_log_softmax(rng.standard_normal((6, 4)), 1)
    t = rng.integers(0, 4, 6)
    t[1] = 2
    w = rng.uniform(0.5, 2, 4)
    xd = dlcore.tensor(x, device=device, requires_grad=True)
    out = F.nll_loss(xd, dlcore.tensor(t, device=device), dlcore.tensor(w, device=device), ignore_index=2, reduction=reduction)
    wt = np.where(t == 2, 0.0, w[t])
    loss = -wt * x[np.arange(6), t]
    ref = loss if reduction == "none" else (loss.sum() if reduction == "sum" else loss.sum() / wt.sum())
    assert_close(out.detach().cpu().numpy(), ref, rtol=1e-12)
    gradcheck(lambda v: F.nll_loss(v, dlcore.tensor(t, device=device), dlcore.tensor(w, device=device), ignore_index=2, reduction=reduction), [xd])


def test_nll_composes_with_log_softmax(rng):
    x = rng.standard_normal((5, 7))
    t = rng.integers(0, 7, 5)
    a = F.nll_loss(F.log_softmax(dlcore.tensor(x), 1), dlcore.tensor(t)).item()
    assert_close(a, np_ce(x, t), rtol=1e-12)


# ------------------------------------------------------------------------------------------------ pointwise losses

def _sp(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


PW = [
    ("mse", lambda x, y, **k: F.mse_loss(x, y, **k), lambda x, y: (x - y) ** 2),
    ("l1", lambda x, y, **k: F.l1_loss(x, y, **k), lambda x, y: np.abs(x - y)),
    ("smooth_l1", lambda x, y, **k: F.smooth_l1_loss(x, y, beta=0.7, **k),
     lambda x, y: np.where(np.abs(x - y) < 0.7, 0.5 * (x - y) ** 2 / 0.7, np.abs(x - y) - 0.35)),
    ("huber", lambda x, y, **k: F.huber_loss(x, y, delta=0.7, **k),
     lambda x, y: np.where(np.abs(x - y) <= 0.7, 0.5 * (x - y) ** 2, 0.7 * (np.abs(x - y) - 0.35))),
    ("bce", lambda x, y, **k: F.binary_cross_entropy(F.sigmoid(x), y, **k),
     lambda x, y: -(y * np.log(1 / (1 + np.exp(-x))) + (1 - y) * np.log(1 - 1 / (1 + np.exp(-x))))),
    ("bce_logits", lambda x, y, **k: F.binary_cross_entropy_with_logits(x, y, **k),
     lambda x, y: (1 - y) * x + _sp(-x)),
]


@pytest.mark.parametrize("case", PW, ids=[c[0] for c in PW])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_pointwise_losses(case, reduction, rng, device):
    name, fn, ref = case
    x = rng.standard_normal((3, 5)) * 2
    y = rng.uniform(0, 1, (3, 5)) if name.startswith("bce") else rng.standard_normal((3, 5))
    x[np.abs(x - y) < 0.05] += 0.2
    xd = dlcore.tensor(x, device=device, requires_grad=True)
    yd = dlcore.tensor(y, device=device, requires_grad=True)
    out = fn(xd, yd, reduction=reduction)
    r = ref(x, y)
    r = r if reduction == "none" else (r.sum() if reduction == "sum" else r.mean())
    assert_close(out.detach().cpu().numpy(), r, rtol=1e-10, atol=1e-12)
    gradcheck(lambda a, b: fn(a, b, reduction=reduction), [xd, yd])


def test_bce_weight_and_pos_weight(rng, device):
    x = rng.standard_normal((4, 3))
    y = rng.uniform(0, 1, (4, 3))
    w = rng.uniform(0.5, 2, (1, 3))
    pw = rng.uniform(0.5, 3, 3)
    xd = dlcore.tensor(x, device=device, requires_grad=True)
    out = F.binary_cross_entropy_with_logits(xd, dlcore.tensor(y, device=device), dlcore.tensor(w, device=device), pos_weight=dlcore.tensor(pw, device=device))
    lw = 1 + (pw - 1) * y
    ref = (w * ((1 - y) * x + lw * _sp(-x))).mean()
    assert_close(out.item(), ref, rtol=1e-12)
    gradcheck(lambda v: F.binary_cross_entropy_with_logits(v, dlcore.tensor(y, device=device), dlcore.tensor(w, device=device),
                                                           pos_weight=dlcore.tensor(pw, device=device)), [xd])
    p = 1 / (1 + np.exp(-x))
    pd = dlcore.tensor(p, device=device, requires_grad=True)
    out = F.binary_cross_entropy(pd, dlcore.tensor(y, device=device), dlcore.tensor(w, device=device), reduction="sum")
    assert_close(out.item(), (-w * (y * np.log(p) + (1 - y) * np.log(1 - p))).sum(), rtol=1e-12)
    gradcheck(lambda v: F.binary_cross_entropy(v, dlcore.tensor(y, device=device), dlcore.tensor(w, device=device)), [pd])


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("n", [7, 16, 53, 1000])
def test_bce_float32_every_isa(isa, n, rng):
    """The float32 binary cross-entropy loops (vectorised on AVX2/AVX-512, with a padded tail) against float64
    references: loss and gradient, with weight and pos_weight or without, extreme logits and probabilities."""
    _pin(isa)
    x = (rng.standard_normal(n) * 4).astype(np.float32)
    x[:5] = [-200.0, 200.0, 0.0, 30.0, -3.0]
    y = rng.uniform(0, 1, n).astype(np.float32)
    y[:5] = [1.0, 0.0, 1.0, 1.0, 0.0]
    w = rng.uniform(0.5, 2, n).astype(np.float32)
    pw = rng.uniform(0.5, 3, n).astype(np.float32)
    g = rng.standard_normal(n).astype(np.float32)
    xd64, yd64, wd64, pw64, g64 = (a.astype(np.float64) for a in (x, y, w, pw, g))
    for weights in (False, True):
        ww, pp = (wd64, pw64) if weights else (1.0, 1.0)
        lw = 1 + (pp - 1) * yd64
        ref = ww * ((1 - yd64) * xd64 + lw * np.logaddexp(0, -xd64))
        rgrad = g64 * ww * ((1 - yd64) - lw / (1 + np.exp(xd64)))
        xd = dlcore.tensor(x, requires_grad=True)
        kw = dict(weight=dlcore.tensor(w), pos_weight=dlcore.tensor(pw)) if weights else {}
        out = F.binary_cross_entropy_with_logits(xd, dlcore.tensor(y), reduction="none", **kw)
        assert_close(out.detach().numpy(), ref, rtol=2e-6, atol=1e-6)
        tiny = np.abs(ref) < 1e-6  # (x = 30, y = 1: log1p(e^-30) = 9e-14, relative accuracy)
        assert_close(out.detach().numpy()[tiny], ref[tiny], rtol=1e-5, atol=0)
        out.backward(dlcore.tensor(g))
        assert_close(xd.grad.numpy(), rgrad, rtol=2e-6, atol=1e-6)
        xd.grad = None
        m = F.binary_cross_entropy_with_logits(xd, dlcore.tensor(y), reduction="mean", **kw)
        m.backward()
        assert_close(m.item(), ref.mean(), rtol=1e-5)
        assert_close(xd.grad.numpy(), rgrad / g64 / n, rtol=2e-6, atol=1e-8)
    # probabilities, including 0 and 1 (logs clamped at -100) and tiny ones (log1p accuracy)
    p = (1 / (1 + np.exp(-x.astype(np.float64)))).astype(np.float32)
    p[:5] = [0.0, 1.0, 1e-30, 1e-9, 1e-9]
    p64 = p.astype(np.float64)
    with np.errstate(divide="ignore"):
        ref = -wd64 * (y * np.maximum(np.log(p64), -100) + (1 - yd64) * np.maximum(np.log1p(-p64), -100))
    rgrad = g64 * wd64 * (p64 - yd64) / np.maximum((1 - p64) * p64, 1e-12)
    pd = dlcore.tensor(p, requires_grad=True)
    out = F.binary_cross_entropy(pd, dlcore.tensor(y), dlcore.tensor(w), reduction="none")
    assert_close(out.detach().numpy(), ref, rtol=2e-6, atol=1e-6)
    tiny = np.abs(ref) < 1e-6  # (p = 1e-9 with y = 0: -log1p(-1e-9), relative accuracy)
    assert_close(out.detach().numpy()[tiny], ref[tiny], rtol=1e-5, atol=0)
    out.backward(dlcore.tensor(g))
    assert_close(pd.grad.numpy(), rgrad, rtol=2e-5, atol=1e-6)


def test_bce_with_logits_stable(device):
    x = dlcore.tensor([-200.0, 200.0, 0.0], device=device)
    y = dlcore.tensor([1.0, 0.0, 0.5], device=device)
    out = F.binary_cross_entropy_with_logits(x, y, reduction="none").cpu().numpy()
    assert_close(out, [200.0, 200.0, np.log(2)], rtol=1e-12)
    # binary_cross_entropy clamps its logs at -100, like torch
    out = F.binary_cross_entropy(dlcore.tensor([0.0, 1.0], device=device), dlcore.tensor([1.0, 0.0], device=device), reduction="none").cpu().numpy()
    assert_close(out, [100.0, 100.0])


def test_hinge_embedding(rng, device):
    x = rng.standard_normal(9) * 2
    y = np.where(rng.uniform(size=9) > 0.5, 1.0, -1.0)
    x[np.abs(1.5 - x) < 0.05] += 0.2
    xd = dlcore.tensor(x, device=device, requires_grad=True)
    out = F.hinge_embedding_loss(xd, dlcore.tensor(y, device=device), margin=1.5, reduction="none")
    assert_close(out.detach().cpu().numpy(), np.where(y == 1, x, np.maximum(0, 1.5 - x)))
    gradcheck(lambda v: F.hinge_embedding_loss(v, dlcore.tensor(y, device=device), margin=1.5), [xd])


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_multi_margin(p, reduction, rng, device):
    N, C = 5, 4
    x = rng.standard_normal((N, C))
    t = rng.integers(0, C, N)
    w = rng.uniform(0.5, 2, C)
    xd = dlcore.tensor(x, device=device, requires_grad=True)
    out = F.multi_margin_loss(xd, dlcore.tensor(t, device=device), p=p, margin=0.8, weight=dlcore.tensor(w, device=device), reduction=reduction)
    ref = np.zeros(N)
    for n in range(N):
        for i in range(C):
            if i != t[n]:
                ref[n] += w[t[n]] * max(0.0, 0.8 - x[n, t[n]] + x[n, i]) ** p / C
    r = ref if reduction == "none" else (ref.sum() if reduction == "sum" else ref.mean())
    assert_close(out.detach().cpu().numpy(), r, rtol=1e-12)
    gradcheck(lambda v: F.multi_margin_loss(v, dlcore.tensor(t, device=device), p=p, margin=0.8, weight=dlcore.tensor(w, device=device),
                                            reduction=reduction), [xd])


@requires_torch
def test_losses_vs_torch(rng):
    import torch
    tf = torch.nn.functional
    x = rng.standard_normal((4, 6)).astype(np.float32)
    y = rng.uniform(0, 1, (4, 6)).astype(np.float32)
    t = rng.integers(0, 6, 4)
    pairs = [
        (F.mse_loss(dlcore.tensor(x), dlcore.tensor(y)), tf.mse_loss(torch.tensor(x), torch.tensor(y))),
        (F.smooth_l1_loss(dlcore.tensor(x), dlcore.tensor(y), beta=0.5),
         tf.smooth_l1_loss(torch.tensor(x), torch.tensor(y), beta=0.5)),
        (F.binary_cross_entropy_with_logits(dlcore.tensor(x), dlcore.tensor(y)),
         tf.binary_cross_entropy_with_logits(torch.tensor(x), torch.tensor(y))),
        (F.multi_margin_loss(dlcore.tensor(x), dlcore.tensor(t), p=2),
         tf.multi_margin_loss(torch.tensor(x), torch.tensor(t), p=2)),
        (F.hinge_embedding_loss(dlcore.tensor(x), dlcore.tensor(np.sign(y - 0.5))),
         tf.hinge_embedding_loss(torch.tensor(x), torch.tensor(np.sign(y - 0.5)))),
    ]
    for a, b in pairs:
        assert_close(a.item(), b.item(), rtol=1e-5)


def test_loss_bad_input():
    with pytest.raises(ValueError, match="mse_loss"):
        F.mse_loss(dlcore.zeros(3), dlcore.zeros(4))
    with pytest.raises(ValueError, match="binary_cross_entropy.*target size"):
        F.binary_cross_entropy(dlcore.zeros(3), dlcore.zeros(1))
    with pytest.raises(ValueError, match="p == 1"):
        F.multi_margin_loss(dlcore.zeros(2, 3), dlcore.tensor([0, 1]), p=3)
    with pytest.raises(IndexError, match="multi_margin_loss.*out of bounds"):
        F.multi_margin_loss(dlcore.zeros(2, 3), dlcore.tensor([0, 3]))
    with pytest.raises(IndexError, match="nll_loss"):
        F.nll_loss(dlcore.zeros(2, 3), dlcore.tensor([0, 7]))


# ------------------------------------------------------------------------------------------------ cuda kernels
# Emulated in CI. Fresh device memory is poisoned (NaN), so an element a kernel fails to write shows as a mismatch.
# Row lengths 1, 31, 33 take the warp-per-row kernels, 1025 the block-per-row ones (kWarpRowMax = 1024).
cuda_only = pytest.mark.skipif(not dlcore.cuda.is_available(), reason="no cuda device in this build")


def _both(fn, arrays, grad_shape_fn=None, seed=0):
    """fn(*tensors) on cpu and on cuda (float64 arrays given; dtype kept); returns {dev: (out, grads)}."""
    res = {}
    g = None
    for dev in ("cpu", "cuda"):
        ts = [dlcore.tensor(a, device=dev, requires_grad=a.dtype.kind == "f") for a in arrays]
        out = fn(*ts)
        if g is None:
            g = np.random.default_rng(seed).standard_normal(tuple(out.shape)).astype(arrays[0].dtype)
        out.backward(dlcore.tensor(g, device=dev))
        assert out.device.type == dev
        res[dev] = (out.detach().cpu().numpy(), [t.grad.cpu().numpy() for t in ts if t.requires_grad])
    return res


def _assert_agree(res, rtol, atol):
    c, g = res["cuda"], res["cpu"]
    assert not np.isnan(c[0]).any(), "unwritten (poisoned) output elements"
    assert_close(c[0], g[0], rtol=rtol, atol=atol)
    for a, b in zip(c[1], g[1]):
        assert not np.isnan(a).any(), "unwritten (poisoned) gradient elements"
        assert_close(a, b, rtol=rtol, atol=atol)


@cuda_only
@pytest.mark.parametrize("shape,dim", [((3, 1), 1), ((3, 31), 1), ((5, 33), -1), ((2, 1025), 1), ((2, 5, 3), 1),
                                       ((4, 3), 0), ((1, 2, 1), 2)])
@pytest.mark.parametrize("log", [False, True])
def test_cuda_softmax_matches_cpu(shape, dim, log, float_dtype, rng):
    x = (rng.standard_normal(shape) * 5).astype(float_dtype)
    res = _both(lambda v: (F.log_softmax if log else F.softmax)(v, dim), [x])
    tol = (1e-5, 2e-6) if float_dtype == "float32" else (1e-12, 1e-13)
    _assert_agree(res, *tol)
    ref = np_log_softmax(x.astype(np.float64), dim)
    assert_close(res["cuda"][0], ref if log else np.exp(ref), rtol=tol[0], atol=10 * tol[1])


@cuda_only
def test_cuda_softmax_non_contiguous_and_extremes():
    x = np.array([[1000.0, 1001.0, 1002.0], [-1e4, 0.0, 1e4], [-np.inf, 0.0, 1.0]])
    xd = dlcore.tensor(x.T.copy(), device="cuda").transpose(0, 1)  # (3, 3) non-contiguous view on the device
    assert not xd.is_contiguous()
    y = F.softmax(xd, 1).cpu().numpy()
    assert_close(y, np.exp(np_log_softmax(x, 1)), rtol=1e-12, atol=1e-300)
    assert_close(F.log_softmax(xd, 1).cpu().numpy()[:2], np_log_softmax(x, 1)[:2], rtol=1e-12)


@cuda_only
@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("log", [False, True])
def test_cuda_softmax_gradcheck(dim, log, rng):
    x = dlcore.tensor(rng.standard_normal((2, 3, 4)), device="cuda", requires_grad=True)
    gradcheck(lambda v: (F.log_softmax if log else F.softmax)(v, dim), [x])


@cuda_only
@pytest.mark.parametrize("N,C", [(7, 5), (3, 33), (2, 1025)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ls", [0.0, 0.1])
def test_cuda_cross_entropy_matches_cpu(N, C, weighted, ls, float_dtype, rng):
    x = (rng.standard_normal((N, C)) * 2).astype(float_dtype)
    t = rng.integers(0, C, N)
    t[1] = -100
    w = rng.uniform(0.5, 2, C).astype(float_dtype) if weighted else None
    for reduction in ("none", "mean"):
        def fn(v, tt):
            wd = None if w is None else dlcore.tensor(w, device=v.device)
            return F.cross_entropy(v, tt, weight=wd, reduction=reduction, label_smoothing=ls)
        res = _both(fn, [x, t])
        tol = (2e-5, 2e-6) if float_dtype == "float32" else (1e-12, 1e-13)
        _assert_agree(res, *tol)
        if float_dtype == "float64":
            assert_close(res["cuda"][0], np_ce(x, t, w, -100, ls, reduction), rtol=1e-12, atol=1e-12)


@cuda_only
def test_cuda_cross_entropy_gradcheck(rng):
    N, C = 4, 6
    x = dlcore.tensor(rng.standard_normal((N, C)), device="cuda", requires_grad=True)
    t = dlcore.tensor(np.array([1, -100, 5, 0]), device="cuda")
    w = dlcore.tensor(rng.uniform(0.5, 2, C), device="cuda")
    gradcheck(lambda v: F.cross_entropy(v, t, weight=w, label_smoothing=0.2), [x])
    gradcheck(lambda v: F.cross_entropy(v, t, reduction="sum"), [x])


@cuda_only
def test_cuda_cross_entropy_bad_target():
    x = dlcore.zeros(3, 4, device="cuda")
    with pytest.raises(IndexError, match="cross_entropy.*out of bounds"):
        F.cross_entropy(x, dlcore.tensor([0, 4, 1], device="cuda"))
    with pytest.raises(ValueError, match="device"):
        F.cross_entropy(x, dlcore.tensor([0, 1, 1]))


@cuda_only
@pytest.mark.parametrize("C", [4, 1030])
def test_cuda_multi_margin_and_nll_match_cpu(C, rng):
    N = 3
    x = rng.standard_normal((N, C)) * 0.3
    t = rng.integers(0, C, N)
    w = rng.uniform(0.5, 2, C)
    for p in (1, 2):
        res = _both(lambda v, tt: F.multi_margin_loss(v, tt, p=p, margin=0.8,
                                                      weight=dlcore.tensor(w, device=v.device), reduction="none"),
                    [x, t])
        _assert_agree(res, 1e-12, 1e-13)
    res = _both(lambda v, tt: F.nll_loss(v, tt, dlcore.tensor(w, device=v.device), ignore_index=int(t[0]),
                                         reduction="sum"), [x, t])
    _assert_agree(res, 1e-12, 1e-13)


@cuda_only
@pytest.mark.parametrize("case", PW, ids=[c[0] for c in PW])
def test_cuda_pointwise_losses_float32_match_cpu(case, rng):
    name, fn, _ = case
    x = (rng.standard_normal((5, 67)) * 2).astype(np.float32)
    y = (rng.uniform(0, 1, (5, 67)) if name.startswith("bce") else rng.standard_normal((5, 67))).astype(np.float32)
    res = _both(lambda a, b: fn(a, b, reduction="none"), [x, y])
    _assert_agree(res, 1e-5, 1e-6)


@cuda_only
def test_cuda_cross_entropy_non_contiguous_logits(rng):
    x = rng.standard_normal((6, 4))
    t = rng.integers(0, 6, 4)
    xd = dlcore.tensor(x, device="cuda", requires_grad=True)
    out = F.cross_entropy(xd.t(), dlcore.tensor(t, device="cuda"), reduction="sum")  # [4, 6] strided view
    assert_close(out.item(), np_ce(x.T, t, reduction="sum"), rtol=1e-12)
    out.backward()
    p = np.exp(np_log_softmax(x.T, 1))
    p[np.arange(4), t] -= 1
    assert_close(xd.grad.cpu().numpy(), p.T, rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------------------------------------ fuzz findings

def _ref_log_softmax64(x, d):
    """float64 log_softmax with the shift first (exact enough for float32 data of any magnitude)."""
    x = x.astype(np.float64)
    m = x.max(axis=d, keepdims=True)
    return (x - m) - np.log(np.exp(x - m).sum(axis=d, keepdims=True))


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("R", [3, 20, 37])
def test_log_softmax_large_logits_keep_precision(isa, R, rng):
    """(x - max) - log sum exp, not x - (max + log sum exp): the latter loses log 2 in the rounding of max + log sum
    at |max| ~ 1e4 (-0.69336) and all of it at 1e30. Rows (I == 1, short and vector rows) and columns (I > 1)."""
    _pin(isa)
    for c in (1e4, 1e6, 1e30):
        x = (rng.standard_normal((5, R)) * 3).astype(np.float32)
        x[:, 0] = c
        x[:, 1] = c  # two equal top logits: log_softmax -log 2 for both
        x[:, 2] = -c
        ref = _ref_log_softmax64(x, 1)
        out = F.log_softmax(dlcore.tensor(x), 1).numpy()
        assert_close(out, ref, rtol=1e-6, atol=2e-6, msg=f"rows c={c}")
        outc = F.log_softmax(dlcore.tensor(np.ascontiguousarray(x.T)), 0).numpy().T
        assert_close(outc, ref, rtol=1e-6, atol=2e-6, msg=f"columns c={c}")
        x3 = np.ascontiguousarray(np.broadcast_to(x.T[None, :, :, None], (2, R, 5, 20)))  # over dim 1, I = 100
        out3 = F.log_softmax(dlcore.tensor(x3), 1).numpy()
        assert_close(out3, _ref_log_softmax64(x3, 1), rtol=1e-6, atol=2e-6, msg=f"I > 1 c={c}")


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("C", [3, 40])
def test_cross_entropy_large_logits(isa, C, rng):
    """cross_entropy's loss and gradient at logits up to 1e30 in float32 against float64: softmax [c, c, -c] is
    [1/2, 1/2, 0] whatever c (the gradient was [1, 1, -1] at 1e30)."""
    _pin(isa)
    for c in (1e4, 1e30):
        x = (rng.standard_normal((4, C)) * 3).astype(np.float32)
        x[:, 0] = c
        x[:, 1] = c
        x[:, 2] = -c
        t = np.array([0, 1, 2, 1])
        xd = dlcore.tensor(x, requires_grad=True)
        loss = F.cross_entropy(xd, dlcore.tensor(t), reduction="sum")
        loss.backward()
        lp = _ref_log_softmax64(x, 1)
        ref_loss = -lp[np.arange(4), t].sum()
        assert_close(loss.item(), ref_loss, rtol=1e-6, atol=1e-5)
        gref = np.exp(lp)
        gref[np.arange(4), t] -= 1
        assert_close(xd.grad.numpy(), gref, rtol=1e-5, atol=1e-6)
        # probability targets go through log_softmax
        p = np.zeros_like(x)
        p[:, :2] = 0.5
        assert_close(F.cross_entropy(dlcore.tensor(x), dlcore.tensor(p)).item(), math.log(2), rtol=1e-6)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
                                  "binary_cross_entropy_with_logits", "hinge_embedding_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("shape", [(1, 1), (1,)])
def test_pointwise_loss_one_element_backward(name, reduction, shape, device):
    """A one-element input ([1, 1] or [1]) with a reduced loss: the 0-d upstream gradient is the scalar (it raised
    'expected grad of shape [1, 1]')."""
    x = np.full(shape, 0.3)
    y = np.full(shape, 1.0 if name == "hinge_embedding_loss" else 0.8)
    xd = dlcore.tensor(x, device=device, requires_grad=True)
    out = getattr(F, name)(xd, dlcore.tensor(y, device=device), reduction=reduction)
    out.backward()
    d = {"mse_loss": 2 * (0.3 - 0.8), "l1_loss": -1.0, "smooth_l1_loss": 0.3 - 0.8, "huber_loss": 0.3 - 0.8,
         "binary_cross_entropy": (0.3 - 0.8) / (0.3 * 0.7),
         "binary_cross_entropy_with_logits": 1 / (1 + math.exp(-0.3)) - 0.8, "hinge_embedding_loss": 1.0}[name]
    assert xd.grad.shape == shape
    assert_close(xd.grad.cpu().numpy(), np.full(shape, d), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(3,), (2, 5), (2, 3, 4)])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_loss_weights_like_torch_2_13(shape, reduction, rng):
    """mse_loss/l1_loss: weight of the input's shape, 'mean' = sum(w l) / sum(w); huber_loss: weight applied (it was
    ignored), 'mean' = mean(w l). Gradients to input and weight by float64 gradcheck."""
    x, y, w = rng.standard_normal(shape), rng.standard_normal(shape) * 2, rng.uniform(0.1, 3, shape)
    d = x - y
    per = {"mse_loss": d * d, "l1_loss": np.abs(d),
           "huber_loss": np.where(np.abs(d) <= 0.7, 0.5 * d * d, 0.7 * (np.abs(d) - 0.35))}
    for name, lo in per.items():
        kw = {"delta": 0.7} if name == "huber_loss" else {}
        out = getattr(F, name)(dlcore.tensor(x), dlcore.tensor(y), reduction=reduction, weight=dlcore.tensor(w), **kw)
        wl = w * lo
        ref = {"none": wl, "sum": wl.sum(),
               "mean": wl.mean() if name == "huber_loss" else wl.sum() / w.sum()}[reduction]
        assert_close(out.numpy(), ref, rtol=1e-12, atol=1e-12, msg=name)
        gradcheck(lambda a, b: getattr(F, name)(a, dlcore.tensor(y), reduction=reduction, weight=b, **kw),
                  [dlcore.tensor(x, requires_grad=True), dlcore.tensor(w, requires_grad=True)])
        with pytest.raises(ValueError, match=name):
            getattr(F, name)(dlcore.tensor(x), dlcore.tensor(y), weight=dlcore.tensor(w.reshape(-1)[:1]), **kw)


@requires_torch
def test_loss_weights_vs_torch(rng):
    import torch
    x, y, w = rng.standard_normal((4, 3)), rng.standard_normal((4, 3)), rng.uniform(0.1, 3, (4, 3))
    for name in ("mse_loss", "l1_loss", "huber_loss"):
        for reduction in ("none", "mean", "sum"):
            ref = getattr(torch.nn.functional, name)(torch.tensor(x), torch.tensor(y), weight=torch.tensor(w),
                                                     reduction=reduction).numpy()
            out = getattr(F, name)(dlcore.tensor(x), dlcore.tensor(y), weight=dlcore.tensor(w), reduction=reduction)
            assert_close(out.numpy(), ref, rtol=1e-12, atol=1e-12, msg=f"{name} {reduction}")


@pytest.mark.parametrize("bad", [1.5, -0.5, float("nan"), -1e-30, 1.0000001])
def test_bce_input_outside_0_1_raises(bad, float_dtype):
    x = np.array([0.2, bad, 0.7]).astype(float_dtype)
    with pytest.raises(RuntimeError, match="binary_cross_entropy.*between 0 and 1"):
        F.binary_cross_entropy(dlcore.tensor(x), dlcore.tensor(np.array([0.0, 1.0, 1.0]).astype(float_dtype)))
    # the limits themselves are fine
    ok = np.array([0.0, 1.0, 0.5]).astype(float_dtype)
    assert np.isfinite(F.binary_cross_entropy(dlcore.tensor(ok), dlcore.tensor(ok)).item())


def test_unbatched_class_loss_with_one_element_target(rng):
    """[C] input with a 0-d or [1] target (torch accepts both; the loss is 0-d for every reduction)."""
    x = rng.standard_normal(5)
    ref = -_ref_log_softmax64(x, 0)[3]
    for t in (np.array(3), np.array([3])):
        for reduction in ("none", "mean", "sum"):
            out = F.cross_entropy(dlcore.tensor(x), dlcore.tensor(t), reduction=reduction)
            assert out.shape == ()
            assert_close(out.item(), ref, rtol=1e-12)
            out = F.nll_loss(dlcore.tensor(x), dlcore.tensor(t), reduction=reduction)
            assert out.shape == () and out.item() == -x[3]
    xd = dlcore.tensor(x, requires_grad=True)
    F.cross_entropy(xd, dlcore.tensor(np.array([3]))).backward()
    g = np.exp(_ref_log_softmax64(x, 0))
    g[3] -= 1
    assert_close(xd.grad.numpy(), g, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="nll_loss"):
        F.nll_loss(dlcore.tensor(x), dlcore.tensor(np.array([3, 1])))
