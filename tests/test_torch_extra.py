"""python/dlcore/_torch_extra.py and nn.EmbeddingBag against PyTorch CPU: finfo/iinfo, creation helpers, the
top-level in-place forms, gumbel_softmax, embedding_bag, affine_grid, grid_sample, cov/corrcoef, histogram,
gcd/lcm, frexp, trapezoid family, vander, unravel_index, renorm and the top-level nn.functional aliases. Values and
gradients (float64) against torch's, gradients also by central differences; error cases. Device-parametrized where
the op runs on every device."""
import math
import warnings

import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F
from dlcore.testing import gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def D(a, device="cpu", grad=False, dtype=None):
    t = dlcore.tensor(np.asarray(a), device=device)
    if dtype is not None:
        t = t.to(dtype)
    if grad:
        t.requires_grad_(True)
    return t


def T(a, grad=False):
    t = torch.from_numpy(np.array(a))
    if grad:
        t.requires_grad_(True)
    return t


def N(x):
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    return np.asarray(x.detach().cpu())


def close(d, t, rtol=1e-10, atol=1e-12):
    a, b = N(d), N(t)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert str(a.dtype) == str(b.dtype), (a.dtype, b.dtype)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


# ------------------------------------------------------------------------------------------------ group 1

@pytest.mark.parametrize("name", ["float16", "bfloat16", "float32", "float64"])
def test_finfo(name):
    a, b = dlcore.finfo(getattr(dlcore, name)), torch.finfo(getattr(torch, name))
    for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(a, attr) == getattr(b, attr), attr
    assert repr(a) == repr(b)


def test_finfo_iinfo_defaults_and_errors():
    assert dlcore.finfo().dtype == "float32"
    for name in ("uint8", "int32", "int64"):
        a, b = dlcore.iinfo(getattr(dlcore, name)), torch.iinfo(getattr(torch, name))
        assert (a.bits, a.max, a.min, a.dtype) == (b.bits, b.max, b.min, b.dtype)
        assert repr(a) == repr(b)
    with pytest.raises(TypeError, match="iinfo"):
        dlcore.iinfo(dlcore.bool)
    with pytest.raises(TypeError, match="finfo"):
        dlcore.finfo(dlcore.int32)
    with pytest.raises(TypeError, match="iinfo"):
        dlcore.iinfo(dlcore.float32)


def test_range_scalar_tensor_empty_strided(device):
    for args in [(1, 4), (0, 1, 0.3), (5, -1, -2), (0.5, 2.5, 0.5)]:
        with pytest.warns(UserWarning):
            r = dlcore.range(*args, device=device)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            close(r, torch.range(*args), rtol=1e-6)
    with pytest.warns(UserWarning):
        close(dlcore.range(0, 3, dtype=dlcore.int64, device=device), torch.arange(0, 4))
    with pytest.raises(TypeError):
        dlcore.range(5)
    with pytest.raises(RuntimeError, match="step"):
        dlcore.range(0, 1, 0)
    s = dlcore.scalar_tensor(3, device=device)
    assert s.shape == () and s.dtype == dlcore.float32 and s.item() == 3.0
    s = dlcore.scalar_tensor(2.5, dtype=dlcore.float64, requires_grad=True)
    assert s.requires_grad and s.dtype == dlcore.float64
    e = dlcore.empty_strided((2, 3), (1, 2), device=device)
    assert tuple(e.shape) == (2, 3) and e.stride() == (1, 2)
    e.fill_(1.0)
    assert N(e).sum() == 6
    assert tuple(dlcore.empty_strided((0, 3), (3, 1)).shape) == (0, 3)
    with pytest.raises(RuntimeError, match="empty_strided"):
        dlcore.empty_strided((2, 3), (1,))


def test_detach_and_inplace_forms(device, rng):
    x = D(rng.uniform(0.5, 2.0, (3, 4)), device, grad=True)
    y = dlcore.detach(x)
    assert not y.requires_grad
    # each top-level in-place form matches torch's and records the gradient of the op it applies
    cases = [("sqrt_", ()), ("exp_", ()), ("tanh_", ()), ("sigmoid_", ()), ("neg_", ()), ("abs_", ()),
             ("clamp_", (0.8, 1.5)), ("clip_", (0.8, 1.5)), ("log_", ()), ("reciprocal_", ()), ("square_", ())]
    base = rng.uniform(0.5, 2.0, (3, 4))
    for name, args in cases:
        a = D(base, device, grad=True)
        t = T(base, grad=True)
        ya = a * 1.0
        yt = t * 1.0
        ra = getattr(dlcore, name)(ya, *args)
        getattr(torch, name)(yt, *args)
        assert ra is ya
        close(ya, yt)
        w = rng.standard_normal(base.shape)
        (ya * D(w, device)).sum().backward()
        (yt * T(w)).sum().backward()
        close(a.grad, t.grad)
    z = D(base, device)
    assert dlcore.zero_(z) is z and N(z).sum() == 0
    dlcore.fill_(z, 2.5)
    assert np.all(N(z) == 2.5)
    for name in ("abs_", "exp_", "sqrt_", "clamp_", "clip_", "fill_", "zero_", "neg_", "detach_", "celu_",
                 "selu_", "threshold_", "rrelu_", "gcd_", "lcm_", "dropout_", "alpha_dropout_", "addmv_",
                 "feature_alpha_dropout_", "embedding_renorm_"):
        assert hasattr(torch, name) and callable(getattr(dlcore, name)), name
    with pytest.raises(TypeError, match="exp_"):
        dlcore.exp_([1.0, 2.0])


def test_functional_inplace_forms(rng):
    base = rng.standard_normal((3, 4))
    for name, args in [("celu_", (0.7,)), ("selu_", ()), ("threshold_", (0.1, -2.0))]:
        a, t = D(base), T(base)
        getattr(dlcore, name)(a, *args)
        getattr(torch, name)(t, *args)
        close(a, t, rtol=1e-7)
    a, t = D(base), T(base)
    dlcore.rrelu_(a, 0.1, 0.3, False)
    torch.rrelu_(t, 0.1, 0.3, False)
    close(a, t)


def test_dropout_renorm_addmv_inplace_forms(device, rng):
    y = dlcore.ones(4000, device=device)
    assert dlcore.dropout_(y, 0.25, True) is y
    v = N(y)
    assert set(np.unique(v)) <= {0.0, np.float32(1 / 0.75)} and abs((v == 0).mean() - 0.25) < 0.03
    y = D(rng.standard_normal(5), device)
    before = N(y).copy()
    dlcore.dropout_(y, 0.5, False)
    dlcore.alpha_dropout_(y, 0.5, False)
    dlcore.feature_alpha_dropout_(y, 0.5, False)
    np.testing.assert_array_equal(N(y), before)
    z = D(rng.standard_normal(20000), device)
    dlcore.alpha_dropout_(z, 0.3, True)
    assert abs(N(z).mean()) < 0.05 and abs(N(z).std() - 1) < 0.05  # alpha dropout keeps mean 0 / variance 1
    W = rng.standard_normal((6, 3)) * 3
    a, t = D(W, device), T(W)
    assert dlcore.embedding_renorm_(a, D(np.array([0, 2, 2]), device), 1.0, 2.0) is a
    torch.embedding_renorm_(t, T(np.array([0, 2, 2])), 1.0, 2.0)
    close(a, t)
    x, M, v = rng.standard_normal(3), rng.standard_normal((3, 4)), rng.standard_normal(4)
    a, t = D(x, device), T(x)
    assert dlcore.addmv_(a, D(M, device), D(v, device), beta=0.5, alpha=2) is a
    torch.addmv_(t, T(M), T(v), beta=0.5, alpha=2)
    close(a, t)


# ------------------------------------------------------------------------------------------- gumbel_softmax

def test_gumbel_softmax_soft_and_hard(device, rng):
    logits = rng.standard_normal((4, 5))
    g = dlcore.Generator().manual_seed(7)
    y1 = F.gumbel_softmax(D(logits, device), tau=1.0, generator=g)
    g = dlcore.Generator().manual_seed(7)
    y2 = F.gumbel_softmax(D(logits, device), tau=2.0, generator=g)
    a, b = N(y1), N(y2)
    np.testing.assert_allclose(a.sum(-1), 1, rtol=1e-6)
    # same noise: log-ratios at tau=2 are half those at tau=1
    la, lb = np.log(a), np.log(b)
    np.testing.assert_allclose(lb - lb[:, :1], (la - la[:, :1]) / 2, atol=1e-8)
    # hard: one-hot at the soft sample's argmax, with the soft sample's gradient (straight through)
    x = D(logits, device, grad=True)
    g = dlcore.Generator().manual_seed(3)
    h = F.gumbel_softmax(x, tau=0.5, hard=True, dim=0, generator=g)
    w = rng.standard_normal(logits.shape)
    (h * D(w, device)).sum().backward()
    gh = N(x.grad)
    x2 = D(logits, device, grad=True)
    g = dlcore.Generator().manual_seed(3)
    s = F.gumbel_softmax(x2, tau=0.5, hard=False, dim=0, generator=g)
    (s * D(w, device)).sum().backward()
    hv, sv = N(h), N(s)
    assert np.all(hv.sum(0) == 1) and set(np.unique(hv)) <= {0.0, 1.0}
    np.testing.assert_array_equal(hv.argmax(0), sv.argmax(0))
    np.testing.assert_allclose(gh, N(x2.grad), atol=1e-12)
    # soft gradient is softmax's at the sampled point: y (w - <w, y>) / tau
    np.testing.assert_allclose(N(x2.grad), sv * (w - (w * sv).sum(0, keepdims=True)) / 0.5, atol=1e-10)


def test_gumbel_softmax_distribution():
    # Gumbel-max: the argmax of a hard sample is distributed as softmax(logits)
    logits = np.array([0.0, 1.0, -1.0, 0.5])
    dlcore.manual_seed(11)
    h = N(F.gumbel_softmax(D(np.tile(logits, (4000, 1))), hard=True))
    freq = h.mean(0)
    p = np.exp(logits) / np.exp(logits).sum()
    assert np.all(np.abs(freq - p) < 4 * np.sqrt(p * (1 - p) / 4000) + 1e-3), (freq, p)


# -------------------------------------------------------------------------------------------- embedding_bag

EB_INPUT = np.array([1, 2, 4, 5, 4, 3, 2, 9, 0, 0])
EB_OFFS = np.array([0, 2, 2, 6])


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_vs_torch(device, rng, mode):
    W = rng.standard_normal((10, 4))
    for pad in (None, 2, -1):
        for ilo in (False, True):
            for use_psw in ((False, True) if mode == "sum" else (False,)):
                psw = rng.standard_normal(10)
                a, t = D(W, device, grad=True), T(W, grad=True)
                pa, pt = D(psw, device, grad=True), T(psw, grad=True)
                kw = dict(mode=mode, padding_idx=pad, include_last_offset=ilo)
                o = F.embedding_bag(D(EB_INPUT, device), a, D(EB_OFFS, device),
                                    per_sample_weights=pa if use_psw else None, **kw)
                to = TF.embedding_bag(T(EB_INPUT), t, T(EB_OFFS), per_sample_weights=pt if use_psw else None, **kw)
                close(o, to)
                w = rng.standard_normal(tuple(to.shape))
                (o * D(w, device)).sum().backward()
                (to * T(w)).sum().backward()
                close(a.grad, t.grad)
                if use_psw:
                    close(pa.grad, pt.grad)
    idx2 = rng.integers(0, 10, (3, 4))
    a, t = D(W, device, grad=True), T(W, grad=True)
    o = F.embedding_bag(D(idx2, device), a, mode=mode)
    to = TF.embedding_bag(T(idx2), t, mode=mode)
    close(o, to)
    o.sum().backward()
    to.sum().backward()
    close(a.grad, t.grad)


def test_embedding_bag_gradcheck_and_freq(rng):
    W = D(rng.standard_normal((10, 3)), grad=True)
    psw = D(rng.standard_normal(10), grad=True)
    gradcheck(lambda w, p: F.embedding_bag(D(EB_INPUT), w, D(EB_OFFS), mode="sum", per_sample_weights=p),
              [W, psw])
    gradcheck(lambda w: F.embedding_bag(D(EB_INPUT), w, D(EB_OFFS), mode="mean"), [W])
    # scale_grad_by_freq (documented semantics, checked against F.embedding's): gradient of each row is divided
    # by the number of times its index occurs in the mini-batch
    a, t = D(W.detach().numpy(), grad=True), T(W.detach().numpy(), grad=True)
    F.embedding_bag(D(EB_INPUT), a, D(EB_OFFS), mode="sum", scale_grad_by_freq=True).sum().backward()
    TF.embedding(T(EB_INPUT), t, scale_grad_by_freq=True).sum().backward()
    close(a.grad, t.grad)


def test_embedding_bag_errors_and_module(device, rng):
    W = D(rng.standard_normal((10, 3)), device)
    with pytest.raises(NotImplementedError, match="per_sample_weights"):
        F.embedding_bag(D(EB_INPUT, device), W, D(EB_OFFS, device), mode="mean",
                        per_sample_weights=D(np.ones(10), device))
    with pytest.raises(ValueError, match="offsets"):
        F.embedding_bag(D(EB_INPUT, device), W)
    with pytest.raises(ValueError, match="offsets"):
        F.embedding_bag(D(EB_INPUT.reshape(2, 5), device), W, D(EB_OFFS, device))
    with pytest.raises(ValueError, match="offsets\\[0\\]"):
        F.embedding_bag(D(EB_INPUT, device), W, D(np.array([1, 3]), device))
    with pytest.raises(IndexError, match="embedding_bag"):
        F.embedding_bag(D(np.array([0, 10]), device), W, D(np.array([0]), device))
    with pytest.raises(ValueError, match="mode"):
        F.embedding_bag(D(EB_INPUT, device), W, D(EB_OFFS, device), mode="min")
    with pytest.raises(ValueError, match="max mode"):
        F.embedding_bag(D(EB_INPUT, device), W, D(EB_OFFS, device), mode="max", scale_grad_by_freq=True)
    m = dlcore.nn.EmbeddingBag(10, 3, mode="sum", padding_idx=0)
    assert np.all(N(m.weight)[0] == 0)
    tm = torch.nn.EmbeddingBag(10, 3, mode="sum", padding_idx=0)
    with torch.no_grad():
        tm.weight.copy_(torch.from_numpy(N(m.weight)))
    close(m(D(EB_INPUT), D(EB_OFFS)), tm(T(EB_INPUT), T(EB_OFFS)), rtol=1e-6, atol=1e-6)
    p = dlcore.nn.EmbeddingBag.from_pretrained(D(rng.standard_normal((10, 3))), mode="max")
    assert not p.weight.requires_grad and p(D(EB_INPUT), D(EB_OFFS)).shape == (4, 3)
    # max_norm renormalises the referenced rows in place, like torch
    w0 = rng.standard_normal((10, 3)) * 3
    a, t = D(w0), T(w0)
    close(F.embedding_bag(D(EB_INPUT), a, D(EB_OFFS), max_norm=1.0),
          TF.embedding_bag(T(EB_INPUT), t, T(EB_OFFS), max_norm=1.0), rtol=1e-6)
    close(a, t, rtol=1e-6)


# ------------------------------------------------------------------------------------ affine_grid, grid_sample

@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid(device, rng, align_corners):
    th = rng.standard_normal((2, 2, 3))
    a, t = D(th, device, grad=True), T(th, grad=True)
    o = F.affine_grid(a, (2, 3, 4, 5), align_corners)
    to = TF.affine_grid(t, (2, 3, 4, 5), align_corners)
    close(o, to)
    w = rng.standard_normal(tuple(to.shape))
    (o * D(w, device)).sum().backward()
    (to * T(w)).sum().backward()
    close(a.grad, t.grad)
    th3 = rng.standard_normal((1, 3, 4))
    close(F.affine_grid(D(th3, device), (1, 1, 2, 3, 4), align_corners),
          TF.affine_grid(T(th3), (1, 1, 2, 3, 4), align_corners))
    close(F.affine_grid(D(th[:1], device), (1, 1, 1, 3), align_corners),
          TF.affine_grid(T(th[:1]), (1, 1, 1, 3), align_corners))
    with pytest.raises(ValueError, match="affine_grid"):
        F.affine_grid(D(th3, device), (1, 3, 4, 5))


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic", "trilinear", "nearest3d"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_grid_sample_vs_torch(device, rng, mode, padding_mode):
    if mode in ("trilinear", "nearest3d"):
        inp = rng.standard_normal((2, 2, 3, 4, 3))
        grid = rng.uniform(-1.4, 1.4, (2, 2, 3, 2, 3))
        mode = "bilinear" if mode == "trilinear" else "nearest"
    else:
        inp = rng.standard_normal((2, 3, 4, 5))
        grid = rng.uniform(-1.4, 1.4, (2, 3, 4, 2))
    for ac in (False, True):
        a, g = D(inp, device, grad=True), D(grid, device, grad=True)
        ta, tg = T(inp, grad=True), T(grid, grad=True)
        o = F.grid_sample(a, g, mode, padding_mode, ac)
        to = TF.grid_sample(ta, tg, mode, padding_mode, ac)
        close(o, to)
        w = rng.standard_normal(tuple(to.shape))
        (o * D(w, device)).sum().backward()
        (to * T(w)).sum().backward()
        close(a.grad, ta.grad)
        close(g.grad, tg.grad, rtol=1e-9, atol=1e-10)  # zeros for nearest, like torch
    # non-contiguous input and grid
    inp_t = np.ascontiguousarray(np.swapaxes(inp, -1, -2))
    a = D(inp_t, device).transpose(-1, -2)
    g = D(np.ascontiguousarray(grid[..., ::-1]), device).flip([-1])
    close(F.grid_sample(a, g, mode, padding_mode, True), TF.grid_sample(T(inp), T(grid), mode, padding_mode, True))
    o32 = F.grid_sample(D(inp, device, dtype=dlcore.float32), D(grid, device, dtype=dlcore.float32), mode,
                        padding_mode, False)
    to32 = TF.grid_sample(T(inp).float(), T(grid).float(), mode, padding_mode, False)
    close(o32, to32, rtol=1e-5, atol=1e-5)


def test_grid_sample_gradcheck_and_errors(rng):
    inp = D(rng.standard_normal((1, 2, 3, 4)), grad=True)
    # keep sample points away from pixel centres' kinks and reflection folds
    grid = D(rng.uniform(-0.8, 0.8, (1, 2, 3, 2)), grad=True)
    gradcheck(lambda x, g: F.grid_sample(x, g, align_corners=False), [inp, grid])
    gradcheck(lambda x, g: F.grid_sample(x, g, padding_mode="border", align_corners=True), [inp, grid])
    gradcheck(lambda x, g: F.grid_sample(x, g, mode="bicubic", padding_mode="reflection"), [inp, grid])
    gradcheck(lambda x, g: F.grid_sample(x, g), [D(rng.standard_normal((1, 1, 2, 3, 2)), grad=True),
                                                 D(rng.uniform(-0.8, 0.8, (1, 2, 1, 2, 3)), grad=True)])
    th = D(np.array([[[0.9, 0.1, 0.05], [-0.1, 0.8, 0.02]]]), grad=True)
    gradcheck(lambda x, t: F.grid_sample(x, F.affine_grid(t, (1, 2, 3, 3), False), align_corners=False), [inp, th])
    x = D(rng.standard_normal((1, 2, 3, 4)))
    with pytest.raises(ValueError, match="mode"):
        F.grid_sample(x, D(np.zeros((1, 2, 2, 2))), mode="area")
    with pytest.raises(ValueError, match="padding_mode"):
        F.grid_sample(x, D(np.zeros((1, 2, 2, 2))), padding_mode="wrap")
    with pytest.raises(RuntimeError, match="grid_sample"):
        F.grid_sample(x, D(np.zeros((2, 2, 2, 2))))
    with pytest.raises(RuntimeError, match="dtype"):
        F.grid_sample(x, D(np.zeros((1, 2, 2, 2)), dtype=dlcore.float32))
    with pytest.raises(RuntimeError, match="bicubic"):
        F.grid_sample(D(np.zeros((1, 1, 2, 2, 2))), D(np.zeros((1, 1, 1, 1, 3))), mode="bicubic")
    with pytest.raises(RuntimeError, match="grid_sample"):
        F.grid_sample(D(np.zeros((1, 1, 2, 2, 2))), D(np.zeros((1, 1, 1, 2))))


# --------------------------------------------------------------------------------------------------- group 3

def test_cov_corrcoef(device, rng):
    X = rng.standard_normal((3, 6))
    fw = rng.integers(0, 4, 6)
    aw = rng.uniform(0.1, 1, 6)
    close(dlcore.cov(D(X, device)), torch.cov(T(X)))
    close(dlcore.cov(D(X, device), correction=0), torch.cov(T(X), correction=0))
    close(dlcore.cov(D(X, device), fweights=D(fw, device)), torch.cov(T(X), fweights=T(fw)))
    close(dlcore.cov(D(X, device), aweights=D(aw, device)), torch.cov(T(X), aweights=T(aw)))
    close(dlcore.cov(D(X, device), correction=2, fweights=D(fw, device), aweights=D(aw, device)),
          torch.cov(T(X), correction=2, fweights=T(fw), aweights=T(aw)))
    close(dlcore.cov(D(X[0], device)), torch.cov(T(X[0])))
    close(dlcore.cov(D(fw, device)), torch.cov(T(fw)), rtol=1e-6)
    close(dlcore.corrcoef(D(X, device)), torch.corrcoef(T(X)))
    close(dlcore.corrcoef(D(X[0], device)), torch.corrcoef(T(X[0])))
    a, t = D(X, device, grad=True), T(X, grad=True)
    dlcore.corrcoef(a).sum().backward()
    torch.corrcoef(t).sum().backward()
    close(a.grad, t.grad, rtol=1e-8, atol=1e-10)
    gradcheck(lambda x: dlcore.cov(x, aweights=D(aw)), [D(X, grad=True)])
    with pytest.raises(ValueError, match="cov"):
        dlcore.cov(D(np.zeros((2, 2, 2)), device))
    with pytest.raises(ValueError, match="fweights"):
        dlcore.cov(D(X, device), fweights=D(fw[:4], device))


def test_histogram(device, rng):
    x = rng.standard_normal(50)
    wt = x ** 2
    for bins in (5, 1):
        for kw in ({}, dict(range=(-1.0, 1.0)), dict(density=True)):
            h, e = dlcore.histogram(D(x, device), bins, **kw)
            th, te = torch.histogram(T(x), bins, **kw)
            close(h, th)
            close(e, te)
        h, e = dlcore.histogram(D(x, device), bins, weight=D(wt, device), density=True)
        th, te = torch.histogram(T(x), bins, weight=T(wt), density=True)
        close(h, th)
    edges = np.array([-1.0, 0.0, 0.5, 2.0])
    r = dlcore.histogram(D(x, device), D(edges, device))
    tr = torch.histogram(T(x), T(edges))
    close(r.hist, tr.hist)
    close(r.bin_edges, tr.bin_edges)
    h, e = dlcore.histogram(D(np.array([2.0, 2.0], np.float32), device), 3)
    th, te = torch.histogram(torch.tensor([2.0, 2.0]), 3)
    close(h, th)
    close(e, te)
    with pytest.raises(RuntimeError, match="histogram"):
        dlcore.histogram(D(np.array([1, 2]), device), 3)


def test_gcd_lcm(device, rng):
    a = rng.integers(-60, 60, 30)
    b = rng.integers(-60, 60, 30)
    a[:3] = [0, 0, 7]
    b[:3] = [0, 5, 0]
    close(dlcore.gcd(D(a, device), D(b, device)), torch.gcd(T(a), T(b)))
    close(dlcore.lcm(D(a, device), D(b, device)), torch.lcm(T(a), T(b)))
    a32 = a.astype(np.int32).reshape(5, 6)
    close(dlcore.gcd(D(a32, device), D(b[:6].astype(np.int32), device)),
          torch.gcd(T(a32), T(b[:6].astype(np.int32))))
    x = D(a, device)
    dlcore.gcd_(x, D(b, device))
    close(x, torch.gcd(T(a), T(b)))
    with pytest.raises(RuntimeError, match="gcd"):
        dlcore.gcd(D(np.array([1.0]), device), D(np.array([2.0]), device))


def test_frexp(device):
    v = np.array([0.0, 1.0, -1.0, 0.5, 3.0, -7.25, np.inf, -np.inf, np.nan, 1e300, 1024.0, 0.75, 1e-40, 1e-310,
                  2.0 ** -1074, np.nextafter(1.0, 0), np.nextafter(2.0, 3)])
    for dt, tdt in ((dlcore.float32, torch.float32), (dlcore.float64, torch.float64)):
        m, e = dlcore.frexp(D(v, device, dtype=dt))
        tm, te = torch.frexp(T(v).to(tdt))
        close(m, tm, rtol=0, atol=0)
        close(e, te, rtol=0, atol=0)
    with pytest.raises(RuntimeError, match="frexp"):
        dlcore.frexp(D(np.array([1, 2]), device))


def test_trapezoid_family(device, rng):
    y = rng.standard_normal((3, 5))
    x1 = np.sort(rng.standard_normal(5))
    x2 = np.sort(rng.standard_normal((3, 5)), 1)
    for fn in ("trapezoid", "cumulative_trapezoid"):
        df, tf = getattr(dlcore, fn), getattr(torch, fn)
        close(df(D(y, device)), tf(T(y)))
        close(df(D(y, device), dx=0.3, dim=0), tf(T(y), dx=0.3, dim=0))
        close(df(D(y, device), D(x1, device)), tf(T(y), T(x1)))
        close(df(D(y, device), D(x2, device)), tf(T(y), T(x2)))
        close(df(D(y[:, :1], device)), tf(T(y[:, :1])))
        a, t = D(y, device, grad=True), T(y, grad=True)
        xa, xt = D(x2, device, grad=True), T(x2, grad=True)
        df(a, xa, dim=-1).sum().backward()
        tf(t, xt, dim=-1).sum().backward()
        close(a.grad, t.grad)
        close(xa.grad, xt.grad)
    close(dlcore.trapz(D(y, device), D(x1, device)), torch.trapz(T(y), T(x1)))
    close(dlcore.trapezoid(D(np.array([1, 2, 4]), device)), torch.trapezoid(T(np.array([1, 2, 4]))), rtol=1e-6)
    with pytest.raises(RuntimeError, match="trapezoid"):
        dlcore.trapezoid(D(y, device), D(x1[:4], device))
    with pytest.raises(TypeError, match="trapezoid"):
        dlcore.trapezoid(D(y, device), 0.5)


def test_vander_unravel_renorm(device, rng):
    xv = rng.standard_normal(4)
    for n in (None, 0, 1, 2, 6):
        for inc in (False, True):
            close(dlcore.vander(D(xv, device), n, inc), torch.vander(T(xv), n, inc))
    close(dlcore.vander(D(np.array([1, 2, 3]), device)), torch.vander(T(np.array([1, 2, 3]))))
    gradcheck(lambda x: dlcore.vander(x, 4), [D(xv, grad=True)])
    ii = rng.integers(-60, 60, (2, 3))
    for a, b in zip(dlcore.unravel_index(D(ii, device), (3, 4, 5)), torch.unravel_index(T(ii), (3, 4, 5))):
        close(a, b)
    for a, b in zip(dlcore.unravel_index(7, (3, 4)), torch.unravel_index(torch.tensor(7), (3, 4))):
        close(a, b)
    with pytest.raises(ValueError, match="unravel_index"):
        dlcore.unravel_index(D(np.array([60]), device), (3, 4, 5))
    Z = rng.standard_normal((3, 4, 2))
    for p in (1, 2, 3, math.inf):
        for d in (0, -1):
            a, t = D(Z, device, grad=True), T(Z, grad=True)
            o, to = dlcore.renorm(a, p, d, 1.5), torch.renorm(t, p, d, 1.5)
            close(o, to)
            w = rng.standard_normal(Z.shape)
            (o * D(w, device)).sum().backward()
            (to * T(w)).sum().backward()
            close(a.grad, t.grad)
    with pytest.raises(RuntimeError, match="renorm"):
        dlcore.renorm(D(Z, device), 0, 0, 1.0)
    # Tensor methods torch has
    a, t = D(Z, device, grad=True), T(Z, grad=True)
    ya, yt = a * 1, t * 1
    assert ya.renorm_(2, 1, 1.0) is ya
    yt.renorm_(2, 1, 1.0)
    close(ya, yt)
    ya.sum().backward()
    yt.sum().backward()
    close(a.grad, t.grad)
    close(D(Z, device).renorm(1, 0, 0.5), T(Z).renorm(1, 0, 0.5))
    iv = np.array([4, 6, 0, -9])
    close(D(iv, device).gcd(D(iv[::-1].copy(), device)), T(iv).gcd(T(iv[::-1].copy())))
    close(D(iv, device).lcm(D(iv[::-1].copy(), device)), T(iv).lcm(T(iv[::-1].copy())))
    close(D(Z[0], device).cov(), T(Z[0]).cov())
    close(D(Z[0], device).corrcoef(), T(Z[0]).corrcoef())
    close(D(Z, device).frexp().mantissa, T(Z).frexp().mantissa)
    close(D(Z, device).histogram(4).hist, T(Z).histogram(4).hist)


def test_top_level_aliases(rng):
    x = rng.standard_normal((2, 3, 5, 5))
    w = rng.standard_normal((4, 3, 3, 3))
    close(dlcore.conv2d(D(x), D(w), None, 1, 1), torch.conv2d(T(x), T(w), None, 1, 1), rtol=1e-9, atol=1e-10)
    close(dlcore.conv1d(D(x[:, :, 0]), D(w[:, :, 0]), stride=2), torch.conv1d(T(x[:, :, 0]), T(w[:, :, 0]), stride=2),
          rtol=1e-9, atol=1e-10)
    x3 = rng.standard_normal((1, 2, 3, 4, 4))
    w3 = rng.standard_normal((2, 2, 2, 2, 2))
    close(dlcore.conv3d(D(x3), D(w3)), torch.conv3d(T(x3), T(w3)), rtol=1e-9, atol=1e-10)
    g, b = rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    close(dlcore.batch_norm(D(x), D(g), D(b), D(rm), D(rv), False, 0.1, 1e-5, False),
          torch.batch_norm(T(x), T(g), T(b), T(rm), T(rv), False, 0.1, 1e-5, False))
    E = rng.standard_normal((6, 3))
    idx = np.array([[0, 5], [2, 2]])
    close(dlcore.embedding(D(E), D(idx)), torch.embedding(T(E), T(idx)))
    a, c = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    close(dlcore.cosine_similarity(D(a), D(c)), torch.cosine_similarity(T(a), T(c)))
    close(dlcore.pairwise_distance(D(a), D(c), 3.0), torch.pairwise_distance(T(a), T(c), 3.0))
    close(dlcore.rms_norm(D(a), (3,), eps=1e-6), torch.rms_norm(T(a), (3,), eps=1e-6))


def test_grid_sample_cpu_kernel_gradgrad():
    from dlcore.testing import gradcheck, gradgradcheck
    rng = np.random.default_rng(3)
    x = dlcore.tensor(rng.standard_normal((2, 3, 4, 5)), requires_grad=True)
    g = dlcore.tensor(rng.uniform(-0.9, 0.9, (2, 3, 2, 2)), requires_grad=True)
    for pad in ("zeros", "border", "reflection"):
        f = lambda a, b, pad=pad: dlcore.nn.functional.grid_sample(a, b, padding_mode=pad, align_corners=False)
        assert gradcheck(f, [x, g])
        assert gradgradcheck(f, [x, g])
