"""The cuda device against the cpu device (same data) and PyTorch: the gaps a cpu-vs-cuda survey of ~420 ops found
and their fixes (nonzero as a device kernel and what builds on it; conv3d double backward on the folded cuda path;
embedding max_norm and multilabel_margin_loss without host loops), plus a parity sweep of forward, backward and
second-order gradients over the op families. Runs only where the build has a cuda device (real or emulated)."""
import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F
from conftest import DEVICES

pytestmark = pytest.mark.skipif("cuda" not in DEVICES, reason="no cuda device in this build")

CUDA = "cuda"


def T(a, dev, grad=False):
    t = dlcore.tensor(a, device=dev)
    if grad:
        t.requires_grad_(True)
    return t


def H(t):
    return np.asarray(t.detach().to("cpu").numpy())


# ------------------------------------------------------------------------------------------------- nonzero kernel

NZ_SHAPES = [(), (0,), (1,), (5,), (257,), (3, 70, 100), (2, 3, 4, 5), (1025, 3), (1, 1, 7), (4, 0, 3),
             (70000,)]


@pytest.mark.parametrize("shape", NZ_SHAPES, ids=str)
@pytest.mark.parametrize("density", [0.0, 0.3, 0.97, 1.0])
def test_nonzero_cuda_matches_numpy(rng, shape, density):
    a = (rng.random(shape) < density).astype(np.float32) * rng.standard_normal(shape).astype(np.float32)
    x = T(a, CUDA)
    got = dlcore.nonzero(x)
    assert got.device.type == "cuda" and got.dtype == dlcore.int64
    exp = np.argwhere(a)
    assert H(got).shape == exp.shape
    np.testing.assert_array_equal(H(got), exp)
    tup = dlcore.nonzero(x, as_tuple=True)
    etup = np.nonzero(a) if a.ndim else (np.zeros(int(a != 0), np.int64),)
    assert len(tup) == len(etup)
    for g, e in zip(tup, etup):
        assert g.device.type == "cuda"
        np.testing.assert_array_equal(H(g), e)


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int32", "int64", "float64", "float16"])
def test_nonzero_cuda_dtypes_and_special_values(rng, dtype):
    a = rng.integers(-2, 3, (6, 9))
    if dtype == "bool":
        a = a > 0
    a = a.astype(dtype)
    if dtype in ("float64", "float16"):
        a[0, 0], a[1, 1], a[2, 2] = np.nan, -0.0, np.inf  # NaN counts, -0.0 does not
    np.testing.assert_array_equal(H(dlcore.nonzero(T(a, CUDA))), np.argwhere(a))
    np.testing.assert_array_equal(H(dlcore.nonzero(T(a, CUDA))), H(dlcore.nonzero(T(a, "cpu"))))


def test_nonzero_cuda_strided_input(rng):
    a = rng.standard_normal((8, 10)).astype(np.float32)
    x = T(a, CUDA).transpose(0, 1)[::2]  # non-contiguous view
    np.testing.assert_array_equal(H(dlcore.nonzero(x > 0.2)), np.argwhere(a.T[::2] > 0.2))


def test_nonzero_users_on_cuda_match_torch(rng):
    torch = pytest.importorskip("torch")
    a = rng.standard_normal((50, 40)).astype(np.float32)
    m = rng.random((50, 40)) > 0.6
    v = rng.random(50) > 0.5
    x = T(a, CUDA, grad=True)
    tx = torch.tensor(a, requires_grad=True)
    outs = [dlcore.masked_select(x, T(m, CUDA)), x[T(v, CUDA)], x[T(m, CUDA)] * 2]
    touts = [torch.masked_select(tx, torch.tensor(m)), tx[torch.tensor(v)], tx[torch.tensor(m)] * 2]
    for o, to in zip(outs, touts):
        assert o.device.type == "cuda"
        np.testing.assert_allclose(H(o), to.detach().numpy(), rtol=1e-6)
    w = [rng.standard_normal(tuple(to.shape)).astype(np.float32) for to in touts]
    sum((o * T(wi, CUDA)).sum() for o, wi in zip(outs, w)).backward()
    sum((to * torch.tensor(wi)).sum() for to, wi in zip(touts, w)).backward()
    np.testing.assert_allclose(H(x.grad), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(H(dlcore.argwhere(T(a, CUDA) > 0)), torch.argwhere(torch.tensor(a) > 0).numpy())
    w3 = dlcore.where(T(a, CUDA) > 1.0)
    tw3 = torch.where(torch.tensor(a) > 1.0)
    for g, e in zip(w3, tw3):
        np.testing.assert_array_equal(H(g), e.numpy())


# ------------------------------------------------------------------------------------------------- conv3d 2nd order

@pytest.mark.parametrize("kw", [dict(padding=1), dict(stride=2, groups=2), dict(stride=(2, 1, 1), dilation=(1, 2, 1))])
def test_conv3d_double_backward_cuda_matches_cpu_and_torch(rng, kw):
    torch = pytest.importorskip("torch")
    cin = 4 if kw.get("groups") else 2
    x = rng.standard_normal((2, cin, 5, 6, 5))
    w = rng.standard_normal((4, cin // kw.get("groups", 1), 2, 3, 2))
    b = rng.standard_normal(4)
    gy_w = None
    res = {}
    for dev in ("cpu", CUDA):
        xs, ws, bs = T(x, dev, True), T(w, dev, True), T(b, dev, True)
        y = F.conv3d(xs, ws, bs, **kw)
        if gy_w is None:
            gy_w = rng.standard_normal(tuple(y.shape))
        gx, gw, gb = dlcore.autograd.grad((y * T(gy_w, dev)).sum(), (xs, ws, bs), create_graph=True)
        s = (gx * gx).sum() + (gw * gw).sum() + (gb * gb).sum() + (gx * 0.5).sum() * (gw.sum())
        res[dev] = [H(g) for g in dlcore.autograd.grad(s, (xs, ws))]  # (gb does not depend on b)
    tx, tw, tb = (torch.tensor(v, requires_grad=True) for v in (x, w, b))
    ty = torch.nn.functional.conv3d(tx, tw, tb, **kw)
    tg = torch.autograd.grad((ty * torch.tensor(gy_w)).sum(), (tx, tw, tb), create_graph=True)
    ts = (tg[0] * tg[0]).sum() + (tg[1] * tg[1]).sum() + (tg[2] * tg[2]).sum() + (tg[0] * 0.5).sum() * tg[1].sum()
    tref = [g.detach().numpy() for g in torch.autograd.grad(ts, (tx, tw))]
    for c, g, r in zip(res["cpu"], res[CUDA], tref):
        np.testing.assert_allclose(g, c, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(g, r, rtol=1e-8, atol=1e-8)


def test_conv3d_gradgradcheck_cuda(rng):
    x = T(rng.standard_normal((1, 2, 4, 4, 3)), CUDA, True)
    w = T(rng.standard_normal((2, 2, 2, 2, 2)), CUDA, True)
    assert dlcore.testing.gradgradcheck(lambda a, b: F.conv3d(a, b, padding=(1, 0, 1), stride=(2, 1, 1)), (x, w))


# ------------------------------------------------------------------------------------------------- embedding max_norm

@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0])
def test_embedding_max_norm_cuda_matches_torch(rng, norm_type):
    torch = pytest.importorskip("torch")
    w = rng.standard_normal((10, 4)).astype(np.float32) * 2
    w[3] *= 0.1  # a row under max_norm stays
    idx = np.array([[1, 3, 3], [7, 1, 9]])  # repeated rows renormalised once
    wd = T(w.copy(), CUDA)
    out = F.embedding(T(idx, CUDA), wd, max_norm=1.5, norm_type=norm_type)
    tw = torch.tensor(w.copy())
    tout = torch.nn.functional.embedding(torch.tensor(idx), tw, max_norm=1.5, norm_type=norm_type)
    np.testing.assert_allclose(H(out), tout.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(H(wd), tw.numpy(), rtol=1e-5, atol=1e-6)  # the weight is renormalised in place
    wc = T(w.copy(), "cpu")
    F.embedding(T(idx, "cpu"), wc, max_norm=1.5, norm_type=norm_type)
    np.testing.assert_allclose(H(wd), H(wc), rtol=1e-6, atol=1e-7)


def test_embedding_max_norm_cuda_bad_index():
    w = T(np.ones((5, 3), np.float32), CUDA)
    with pytest.raises(IndexError, match="out of range for 5 embeddings"):
        F.embedding(T(np.array([1, 5]), CUDA), w, max_norm=1.0)
    with pytest.raises(IndexError, match="index -1"):
        F.embedding(T(np.array([-1, 2]), CUDA), w, max_norm=1.0)


# ------------------------------------------------------------------------------------------------- multilabel margin

@pytest.mark.parametrize("reduction", ["mean", "none", "sum"])
def test_multilabel_margin_loss_cuda_matches_torch(rng, reduction):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((5, 6)).astype(np.float32)
    t = np.array([[1, 3, -1, 0, 0, 2], [0, -1, 0, 0, 0, 0], [4, 2, 1, 4, -1, 5], [2, 0, 1, 3, 4, 5],
                  [-1, 1, 2, 3, 4, 5]])  # a -1 ends the list; a repeated label; no labels; all labels
    xd = T(x, CUDA, True)
    loss = F.multilabel_margin_loss(xd, T(t, CUDA), reduction=reduction)
    tx = torch.tensor(x, requires_grad=True)
    tl = torch.nn.functional.multilabel_margin_loss(tx, torch.tensor(t), reduction=reduction)
    np.testing.assert_allclose(H(loss), tl.detach().numpy(), rtol=1e-5, atol=1e-6)
    gw = rng.standard_normal(tuple(tl.shape)).astype(np.float32)
    (loss * T(gw, CUDA)).sum().backward()
    (tl * torch.tensor(gw)).sum().backward()
    np.testing.assert_allclose(H(xd.grad), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    one = F.multilabel_margin_loss(T(x[0], CUDA), T(t[0], CUDA))
    np.testing.assert_allclose(H(one), torch.nn.functional.multilabel_margin_loss(torch.tensor(x[0]),
                                                                                   torch.tensor(t[0])).numpy(),
                               rtol=1e-5)


def test_multilabel_margin_loss_cuda_bad_target():
    with pytest.raises(IndexError, match="target value 6 is out of range for 6 classes"):
        F.multilabel_margin_loss(T(np.zeros((2, 6), np.float32), CUDA), T(np.array([[0, 6, -1, 0, 0, 0]] * 2), CUDA))


# ------------------------------------------------------------------------------------------------- parity sweep

def _rn(rng, *s):
    return rng.standard_normal(s)


SWEEP = {
    # name: (fn, input builder (rng) -> list of float64 arrays to differentiate, plus fixed extras)
    "softmax": (lambda a: F.log_softmax(a, 1) * F.softmax(a, 0), lambda r: [_rn(r, 5, 300)]),
    "layer_norm": (lambda a, w, b: F.layer_norm(a, (40,), w, b), lambda r: [_rn(r, 6, 40), _rn(r, 40), _rn(r, 40)]),
    "group_norm": (lambda a, w, b: F.group_norm(a, 2, w, b), lambda r: [_rn(r, 2, 4, 5, 3), _rn(r, 4), _rn(r, 4)]),
    "batch_norm": (lambda a, w, b: F.batch_norm(a, None, None, w, b, training=True),
                   lambda r: [_rn(r, 6, 3, 5), _rn(r, 3), _rn(r, 3)]),
    "conv2d": (lambda a, w: F.conv2d(a, w, stride=2, padding=1, groups=2), lambda r: [_rn(r, 2, 4, 7, 6),
                                                                                      _rn(r, 4, 2, 3, 3)]),
    "conv_transpose2d": (lambda a, w: F.conv_transpose2d(a, w, stride=2, padding=1),
                         lambda r: [_rn(r, 1, 3, 4, 4), _rn(r, 3, 2, 3, 3)]),
    "conv_transpose3d": (lambda a, w: F.conv_transpose3d(a, w, stride=2), lambda r: [_rn(r, 1, 2, 3, 3, 2),
                                                                                     _rn(r, 2, 2, 2, 2, 2)]),
    "max_pool2d": (lambda a: F.max_pool2d(a, 3, 2, 1), lambda r: [_rn(r, 2, 3, 7, 6)]),
    "avg_pool3d": (lambda a: F.avg_pool3d(a, 2, 2, 1), lambda r: [_rn(r, 1, 2, 4, 4, 4)]),
    "interp_bilinear": (lambda a: F.interpolate(a, size=(5, 7), mode="bilinear"), lambda r: [_rn(r, 1, 2, 3, 4)]),
    "grid_sample": (lambda a, g: F.grid_sample(a, g, align_corners=False),
                    lambda r: [_rn(r, 1, 2, 4, 5), r.uniform(-1.1, 1.1, (1, 3, 3, 2))]),
    "cross_entropy": (lambda a: F.cross_entropy(a, dlcore.tensor([1, 0, 4, 2], device=a.device), label_smoothing=0.1),
                      lambda r: [_rn(r, 4, 5)]),
    "sdpa": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
             lambda r: [_rn(r, 1, 2, 4, 3), _rn(r, 1, 2, 4, 3), _rn(r, 1, 2, 4, 3)]),
    "cumsum_cumprod": (lambda a: dlcore.cumsum(a, 1) + dlcore.cumprod(a, 1), lambda r: [_rn(r, 3, 6)]),
    "sort_topk": (lambda a: dlcore.sort(a, 1)[0] * 2 + dlcore.topk(a, 3, 1)[0].sum(), lambda r: [_rn(r, 3, 9)]),
    "median_kthvalue": (lambda a: dlcore.median(a, 1)[0] + dlcore.kthvalue(a, 2, 1)[0], lambda r: [_rn(r, 3, 7)]),
    "gather_scatter": (lambda a, s: dlcore.scatter_add(a, 1, dlcore.tensor([[0, 2], [1, 1], [3, 0]], device=a.device), s)
                       * dlcore.gather(a, 1, dlcore.tensor([[3, 3, 0, 1]] * 3, device=a.device)),
                       lambda r: [_rn(r, 3, 4), _rn(r, 3, 2)]),
    "embedding_bag": (lambda w: F.embedding_bag(dlcore.tensor([0, 2, 2, 4, 1], device=w.device), w,
                                                dlcore.tensor([0, 2, 2], device=w.device), mode="mean"),
                      lambda r: [_rn(r, 5, 3)]),
    "ctc_loss": (lambda lp: F.ctc_loss(F.log_softmax(lp, 2), dlcore.tensor([[1, 2, 2], [3, 1, 0]], device=lp.device),
                                       dlcore.tensor([6, 5], device=lp.device), dlcore.tensor([3, 2], device=lp.device)),
                 lambda r: [_rn(r, 6, 2, 4)]),
    "lstm_cell": (lambda x, h, c, wi, wh: dlcore.lstm_cell(x, (h, c), wi, wh)[0],
                  lambda r: [_rn(r, 2, 3), _rn(r, 2, 4), _rn(r, 2, 4), _rn(r, 16, 3), _rn(r, 16, 4)]),
    "elementwise": (lambda a, b: dlcore.atan2(a, b) * dlcore.erf(a) + F.gelu(b) * F.mish(a) - dlcore.logaddexp(a, b),
                    lambda r: [_rn(r, 4, 5), _rn(r, 1, 5)]),
    "reductions": (lambda a: dlcore.logsumexp(a, 1) + a.std(1) + a.amax(1) + a.norm(dim=1), lambda r: [_rn(r, 4, 6)]),
}


@pytest.mark.parametrize("name", sorted(SWEEP))
def test_cuda_matches_cpu_forward_backward_second_order(rng, name):
    fn, build = SWEEP[name]
    arrs = build(rng)
    res = {}
    for dev in ("cpu", CUDA):
        xs = [T(a, dev, True) for a in arrs]
        y = fn(*xs)
        assert y.device.type == dev
        wy = np.random.default_rng(1).standard_normal(tuple(y.shape))
        gs = dlcore.autograd.grad((y * T(wy, dev)).sum(), xs, create_graph=True, allow_unused=True)
        s = sum((g * g).sum() for g in gs if g is not None and g.requires_grad)
        g2 = dlcore.autograd.grad(s, xs, allow_unused=True) if isinstance(s, dlcore.Tensor) else [None] * len(xs)
        res[dev] = (H(y), [None if g is None else H(g) for g in gs], [None if g is None else H(g) for g in g2])
    c, g = res["cpu"], res[CUDA]
    np.testing.assert_allclose(g[0], c[0], rtol=1e-9, atol=1e-10)
    for a, b in zip(g[1] + g[2], c[1] + c[2]):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


# ------------------------------------------------------------------------------------------------- index offsets
# gather / scatter / index_select / index_add / advanced indexing compute their element offsets (and the bounds
# check) on the device: the messages name the same first bad entry as the CPU's host loop.

def _err(fn, dev):
    with pytest.raises(IndexError) as e:
        fn(dev)
    return str(e.value)


@pytest.mark.parametrize("case", ["gather", "gather_neg", "scatter_add", "index_select", "index_add",
                                  "adv_get", "adv_get_second", "adv_put", "adv_get_neg_wrap_bad", "take", "put",
                                  "index_copy", "index_fill", "scatter_reduce"])
def test_index_offsets_cuda_errors_match_cpu(case):
    x = np.arange(24, dtype=np.float32).reshape(4, 6)
    i_bad = np.array([[0, 2, 7], [1, 9, 0], [-1, 0, 0], [3, 3, 3]])

    def run(dev):
        xt = T(x, dev)
        if case == "gather":
            return dlcore.gather(xt, 1, T(i_bad[:2], dev))
        if case == "gather_neg":
            return dlcore.gather(xt, 1, T(i_bad[2:], dev))
        if case == "scatter_add":
            return dlcore.scatter_add(xt, 1, T(i_bad[:2], dev), T(np.ones((2, 3), np.float32), dev))
        if case == "index_select":
            return dlcore.index_select(xt, 0, T(np.array([0, 3, 4, 9]), dev))
        if case == "index_add":
            return dlcore.index_add(xt, 0, T(np.array([0, -1]), dev), T(np.ones((2, 6), np.float32), dev))
        if case == "adv_get":
            return xt[T(np.array([1, 4, 2]), dev)]
        if case == "adv_get_second":  # the first index is fine; the second faults at two positions
            return xt[T(np.array([1, 2, 3]), dev), T(np.array([0, 8, -7]), dev)]
        if case == "adv_put":
            xt[T(np.array([0, 5]), dev)] = 1.0
            return xt
        if case == "take":
            return dlcore.take(xt, T(np.array([3, -24, 30, -25]), dev))
        if case == "put":
            return dlcore.put(xt, T(np.array([-25, 24]), dev), T(np.ones(2, np.float32), dev))
        if case == "index_copy":
            return dlcore.index_copy(xt, 0, T(np.array([1, -1]), dev), T(np.ones((2, 6), np.float32), dev))
        if case == "index_fill":
            return dlcore.index_fill(xt, 1, T(np.array([-6, 6, 9]), dev), 0.5)
        if case == "scatter_reduce":
            return dlcore.scatter_reduce(xt, 1, T(i_bad[:2], dev), T(np.ones((2, 3), np.float32), dev), "amax")
        return xt[T(np.array([-4, -5]), dev)]  # -4 wraps; -5 does not

    msg_cpu, msg_cuda = _err(run, "cpu"), _err(run, CUDA)
    assert msg_cuda == msg_cpu
    assert "out of bounds" in msg_cuda or "out of range" in msg_cuda


def test_index_offsets_cuda_large_and_strided(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((300, 50)).astype(np.float32)
    idx = rng.integers(-300, 300, (7000,))
    j = rng.integers(0, 50, (70, 100)).T  # a transposed (non-contiguous) index
    xt, tx = T(x, CUDA), torch.tensor(x)
    np.testing.assert_array_equal(H(xt[T(idx, CUDA)]), tx[torch.tensor(idx)].numpy())
    jt = T(np.ascontiguousarray(j.T), CUDA).transpose(0, 1)
    np.testing.assert_array_equal(H(dlcore.gather(xt[:100], 1, jt)),
                                  torch.gather(tx[:100], 1, torch.tensor(j)).numpy())
    acc = dlcore.index_add(T(np.zeros((300, 50), np.float32), CUDA), 0, T(np.abs(idx) % 300, CUDA),
                           T(np.ones((7000, 50), np.float32), CUDA))
    np.testing.assert_allclose(H(acc), torch.zeros(300, 50).index_add(0, torch.tensor(np.abs(idx) % 300),
                                                                      torch.ones(7000, 50)).numpy())


# ------------------------------------------------------------------------------------------------- repeat_interleave

@pytest.mark.parametrize("counts", [[2, 0, 3, 1], [0, 0], [], [5], [0, 4, 0]], ids=str)
def test_repeat_interleave_tensor_repeats_cuda_matches_torch(rng, counts):
    torch = pytest.importorskip("torch")
    c = np.array(counts, np.int64)
    got = dlcore.repeat_interleave(T(c, CUDA))
    assert got.device.type == "cuda"
    np.testing.assert_array_equal(H(got), torch.repeat_interleave(torch.tensor(c)).numpy())
    if len(c):
        x = rng.standard_normal((len(c), 3)).astype(np.float32)
        xd = T(x, CUDA, True)
        y = xd.repeat_interleave(T(c.astype(np.int32), CUDA), dim=0)
        tx = torch.tensor(x, requires_grad=True)
        ty = tx.repeat_interleave(torch.tensor(c), dim=0)
        np.testing.assert_array_equal(H(y), ty.detach().numpy())
        if y.numel():
            w = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
            (y * T(w, CUDA)).sum().backward()
            (ty * torch.tensor(w)).sum().backward()
            np.testing.assert_allclose(H(xd.grad), tx.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_repeat_interleave_cuda_errors():
    with pytest.raises(RuntimeError, match="can not be negative"):
        dlcore.repeat_interleave(T(np.array([1, -1]), CUDA))
    with pytest.raises(RuntimeError, match="output_size 5 does not match the total repeats 6"):
        dlcore.repeat_interleave(T(np.array([2, 4]), CUDA), output_size=5)
