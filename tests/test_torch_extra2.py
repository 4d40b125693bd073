"""python/dlcore/_torch_extra2.py, the Tensor methods added at the end of _tensor_methods_extra.py and
python/dlcore/_anomaly.py against PyTorch CPU: print options (str(tensor) equal to torch's), default device,
settings, window functions, torch's top-level forms of nn.functional ops (values and float64 gradients against
torch's), sampling statistics, low-rank factorizations, lu/lu_unpack, gradient, histogramdd, view copies,
frombuffer, nonzero_static, segment_reduce; Tensor methods (post-accumulate hooks, resize_ storage semantics,
dim_order, angle, ...); anomaly mode (forward traceback, NaN in a backward names the function), gradcheck /
gradgradcheck, Variable, saved_tensors_hooks."""
import math
import warnings

import numpy as np
import pytest

import dlcore
from dlcore import autograd

torch = pytest.importorskip("torch")


def D(a, grad=False, dtype=None):
    t = dlcore.tensor(np.asarray(a))
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
    return np.asarray(x.detach().cpu().tolist() if x.dtype == dlcore.bfloat16 else x.detach().cpu())


def close(a, b, rtol=1e-6, atol=1e-8):
    np.testing.assert_allclose(N(a), N(b), rtol=rtol, atol=atol)


def compare(dfn, tfn, arrays, grad=True, rtol=1e-6, atol=1e-8, outs=None):
    """dfn(*dlcore tensors) vs tfn(*torch tensors) on the float64 arrays: outputs (a tensor or tuple) and, with grad,
    the gradients of sum(out * w) for every input."""
    req = list(grad) if isinstance(grad, (list, tuple)) else [grad] * len(arrays)
    grad = any(req)
    dx = [D(a, grad=r) for a, r in zip(arrays, req)]
    tx = [T(a, grad=r) for a, r in zip(arrays, req)]
    do, to = dfn(*dx), tfn(*tx)
    do = do if isinstance(do, (tuple, list)) else (do,)
    to = to if isinstance(to, (tuple, list)) else (to,)
    assert len(do) == len(to)
    sel = range(len(do)) if outs is None else outs
    for i in sel:
        assert tuple(do[i].shape) == tuple(to[i].shape), (i, do[i].shape, to[i].shape)
        close(do[i], to[i], rtol, atol)
    if grad:
        rng = np.random.default_rng(7)
        ws = {i: rng.standard_normal(tuple(to[i].shape)) for i in sel if to[i].dtype.is_floating_point}
        ds = sum((do[i] * D(w)).sum() for i, w in ws.items())
        ts = sum((to[i] * T(w)).sum() for i, w in ws.items())
        ds.backward()
        ts.backward()
        for a, b in zip(dx, tx):
            if b.grad is None:
                assert a.grad is None or np.allclose(N(a.grad), 0)
            else:
                close(a.grad, b.grad, rtol, atol)


rng = np.random.default_rng(0)


def R(*shape):
    return rng.standard_normal(shape)


# ================================================================================================ print options

@pytest.fixture
def reset_print():
    yield
    dlcore.set_printoptions(profile="default")
    torch.set_printoptions(profile="default")


CASES = [R(3, 4).astype(np.float32), np.arange(2000, dtype=np.float32), np.array([1e-8, 1.0], np.float32),
         np.array(3), np.arange(12).reshape(3, 4), np.array([True, False]), (R(10, 10, 10) * 100).astype(np.float32),
         np.array([np.nan, np.inf, 1.5], np.float32), np.zeros((0, 3), np.float32), np.array([1.0, 2.0]),
         np.arange(30, dtype=np.int32), R(2, 50).astype(np.float32), np.array([123456789.0, 1.0], np.float32),
         np.array(2.5, np.float32), np.zeros(0, np.int64), np.array([-0.5, 12.25], np.float32)]


@pytest.mark.parametrize("opts", [{}, dict(precision=2), dict(threshold=5), dict(edgeitems=1, threshold=10),
                                  dict(linewidth=40), dict(sci_mode=True), dict(sci_mode=False),
                                  dict(profile="short"), dict(profile="full"), dict(precision=6, linewidth=120)])
def test_printoptions_match_torch(opts, reset_print):
    dlcore.set_printoptions(**opts)
    torch.set_printoptions(**opts)
    for c in CASES:
        assert str(dlcore.tensor(c)) == str(torch.tensor(c)).replace("torch.", "dlcore."), c


def test_printoptions_suffixes_and_context(reset_print):
    x = dlcore.ones(2, requires_grad=True)
    assert str(x) == "tensor([1., 1.], requires_grad=True)"
    assert str(x * 2) == "tensor([2., 2.], grad_fn=<MulBackward>)"
    assert str(dlcore.ones(2, dtype=dlcore.float16)) == "tensor([1., 1.], dtype=dlcore.float16)"
    v = dlcore.tensor([1.12345])
    with dlcore.printoptions(precision=2):
        assert str(v) == "tensor([1.12])"
    assert str(v) == "tensor([1.1235])"
    dlcore.set_printoptions(precision=3)
    assert dlcore.get_printoptions()["precision"] == 3
    with pytest.raises(ValueError):
        dlcore.set_printoptions(profile="long")


# ================================================================================================ settings

def test_default_device_settings():
    assert dlcore.get_default_device() == dlcore.device("cpu")
    dlcore.set_default_device("cpu")
    assert dlcore.zeros(2).device.type == "cpu"
    if not dlcore.cuda.is_available():
        with pytest.raises(RuntimeError, match="cuda"):
            dlcore.set_default_device("cuda")
        assert dlcore.get_default_device().type == "cpu"
    else:
        dlcore.set_default_device("cuda")
        try:
            assert dlcore.zeros(2).device.type == "cuda"
            assert dlcore.randn(2, 3).device.type == "cuda"
            assert dlcore.arange(3).device.type == "cuda"
            assert dlcore.tensor([1.0]).device.type == "cuda"
            assert dlcore.zeros(2, device="cpu").device.type == "cpu"
            assert dlcore.zeros_like(dlcore.ones(2, device="cpu")).device.type == "cpu"
        finally:
            dlcore.set_default_device(None)
        assert dlcore.zeros(2).device.type == "cpu"


def test_default_device_factory_wrappers():
    # the wrapping machinery itself, exercised with the CPU device forced in (a CUDA-less build can't set cuda)
    from dlcore import _torch_extra2 as X
    from dlcore import _creation
    X._install_factories(False)  # (wrappers stay once a non-cpu default was set, e.g. by another test)
    assert not hasattr(dlcore.zeros, "__wrapped__")
    X._default_device.device = dlcore.device("cpu")
    X._install_factories(True)
    try:
        for name in ("zeros", "ones", "randn", "arange", "tensor", "full", "hann_window"):
            assert hasattr(getattr(dlcore, name), "__wrapped__"), name
        assert hasattr(_creation.zeros, "__wrapped__")
        assert dlcore.zeros(2, 3).shape == (2, 3) and dlcore.full((2,), 1.5).tolist() == [1.5, 1.5]
        assert dlcore.arange(3).tolist() == [0, 1, 2] and dlcore.hann_window(4).shape == (4,)
        assert dlcore.normal(dlcore.zeros(2), 1.0).shape == (2,)  # tensor parameters: not given a device
        t = dlcore.ones(2)
        assert dlcore.as_tensor(t) is t
    finally:
        X._default_device.device = None
        X._install_factories(False)
    assert not hasattr(dlcore.zeros, "__wrapped__") and not hasattr(_creation.zeros, "__wrapped__")


def test_misc_settings():
    assert not dlcore.are_deterministic_algorithms_enabled()
    dlcore.use_deterministic_algorithms(True, warn_only=True)
    assert dlcore.are_deterministic_algorithms_enabled() and dlcore.is_deterministic_algorithms_warn_only_enabled()
    dlcore.use_deterministic_algorithms(False)
    assert not dlcore.are_deterministic_algorithms_enabled()
    with pytest.raises(TypeError):
        dlcore.use_deterministic_algorithms("yes")
    assert dlcore.set_flush_denormal(False) is True
    assert dlcore.set_flush_denormal(True) is False
    n = dlcore.get_num_interop_threads()
    assert n >= 1
    dlcore.set_num_interop_threads(3)
    assert dlcore.get_num_interop_threads() == 3
    dlcore.set_num_interop_threads(n)
    with pytest.raises(RuntimeError):
        dlcore.set_num_interop_threads(0)
    assert dlcore.typename(dlcore.ones(2)) == "dlcore.FloatTensor"
    assert dlcore.typename(dlcore.ones(2, dtype=dlcore.int64)) == "dlcore.LongTensor"
    assert dlcore.typename(3) == torch.typename(3) == "int"
    assert dlcore.typename(dlcore.nn.Linear) == "dlcore.nn.Linear" or \
        dlcore.typename(dlcore.nn.Linear).endswith(".Linear")
    assert dlcore.get_device(dlcore.ones(1)) == -1 and dlcore.ones(1).get_device() == -1


def test_inference_mode():
    assert not dlcore.is_inference_mode_enabled()
    x = dlcore.ones(2, requires_grad=True)
    with dlcore.inference_mode():
        assert dlcore.is_inference_mode_enabled()
        assert not dlcore.is_grad_enabled()
        assert not (x * 2).requires_grad
        with dlcore.inference_mode(False):
            assert not dlcore.is_inference_mode_enabled()
    assert not dlcore.is_inference_mode_enabled() and dlcore.is_grad_enabled()

    @dlcore.inference_mode()
    def f(a):
        return dlcore.is_inference_mode_enabled(), (a * 2).requires_grad

    assert f(x) == (True, False)
    assert autograd.inference_mode is dlcore.inference_mode
    assert x.is_inference() is False


# ================================================================================================ windows

@pytest.mark.parametrize("name", ["hann_window", "hamming_window", "blackman_window", "bartlett_window",
                                  "kaiser_window"])
@pytest.mark.parametrize("n", [0, 1, 2, 5, 16])
@pytest.mark.parametrize("periodic", [True, False])
def test_windows(name, n, periodic):
    for dt, tdt in ((dlcore.float32, torch.float32), (dlcore.float64, torch.float64)):
        a = getattr(dlcore, name)(n, periodic, dtype=dt)
        b = getattr(torch, name)(n, periodic, dtype=tdt)
        assert a.dtype == dt and tuple(a.shape) == tuple(b.shape)
        close(a, b, rtol=1e-5, atol=1e-6)
    assert getattr(dlcore, name)(4).dtype == dlcore.get_default_dtype()
    with pytest.raises(RuntimeError, match="floating"):
        getattr(dlcore, name)(4, dtype=dlcore.int64)


def test_window_params():
    close(dlcore.hamming_window(9, False, 0.5, 0.5, dtype=dlcore.float64),
          torch.hamming_window(9, False, 0.5, 0.5, dtype=torch.float64))
    close(dlcore.kaiser_window(9, True, 5.0, dtype=dlcore.float64),
          torch.kaiser_window(9, True, 5.0, dtype=torch.float64))
    assert dlcore.hann_window(5, requires_grad=True).requires_grad


# ================================================================================================ torch's F.* forms

def test_pools_top_level():
    x = R(2, 3, 11)
    compare(lambda a: dlcore.avg_pool1d(a, 3), lambda a: torch.avg_pool1d(a, 3), [x])
    compare(lambda a: dlcore.avg_pool1d(a, 3, 2, 1, True, False), lambda a: torch.avg_pool1d(a, 3, 2, 1, True, False),
            [x])
    compare(lambda a: dlcore.max_pool1d(a, 3, 2, 1), lambda a: torch.max_pool1d(a, 3, 2, 1), [x])
    compare(lambda a: dlcore.max_pool1d_with_indices(a, 2), lambda a: torch.max_pool1d_with_indices(a, 2), [x])
    compare(lambda a: dlcore.adaptive_avg_pool1d(a, 4), lambda a: torch.adaptive_avg_pool1d(a, 4), [x])
    compare(lambda a: dlcore.adaptive_max_pool1d(a, 4), lambda a: torch.adaptive_max_pool1d(a, 4), [x])
    x2 = R(2, 3, 7, 6)
    compare(lambda a: dlcore.max_pool2d(a, 2), lambda a: torch.max_pool2d(a, 2), [x2])
    compare(lambda a: dlcore.max_pool2d(a, 3, 1, 1, 1, True), lambda a: torch.max_pool2d(a, 3, 1, 1, 1, True), [x2])
    compare(lambda a: dlcore.max_pool3d(a, 2), lambda a: torch.max_pool3d(a, 2), [R(1, 2, 4, 5, 4)])


def test_dropouts_top_level():
    x = D(np.ones((4, 6, 3)))
    assert dlcore.dropout(x, 0.5, False) is x or np.array_equal(N(dlcore.dropout(x, 0.5, False)), N(x))
    y = N(dlcore.dropout(x, 0.5, True))
    assert set(np.unique(y)) <= {0.0, 2.0}
    z = N(dlcore.feature_dropout(D(np.ones((8, 16, 5))), 0.5, True))
    per_channel = z.reshape(8, 16, 5)
    assert np.all(per_channel.min(-1) == per_channel.max(-1))  # whole channels kept or zeroed
    assert set(np.unique(z)) <= {0.0, 2.0} and 0 < (z == 0).mean() < 1
    assert np.array_equal(N(dlcore.feature_dropout(x, 0.5, False)), N(x))
    assert np.array_equal(N(dlcore.alpha_dropout(x, 0.3, False)), N(x))
    assert np.array_equal(N(dlcore.feature_alpha_dropout(x, 0.3, False)), N(x))
    with pytest.raises(ValueError):
        dlcore.feature_dropout(x, 1.5, True)


def test_norms_top_level():
    x, w, b = R(3, 4, 5), R(5), R(5)
    compare(lambda a, c, d: dlcore.layer_norm(a, [5], c, d, 1e-5),
            lambda a, c, d: torch.layer_norm(a, [5], c, d, 1e-5), [x, w, b], rtol=1e-5, atol=1e-7)
    x, w, b = R(2, 6, 5), R(6), R(6)
    compare(lambda a, c, d: dlcore.group_norm(a, 3, c, d), lambda a, c, d: torch.group_norm(a, 3, c, d),
            [x, w, b], rtol=1e-5, atol=1e-7)
    compare(lambda a, c, d: dlcore.instance_norm(a, c, d, None, None, True, 0.1, 1e-5, False),
            lambda a, c, d: torch.instance_norm(a, c, d, None, None, True, 0.1, 1e-5, False), [x, w, b],
            rtol=1e-5, atol=1e-7)


def test_convs_top_level():
    compare(lambda a, w, b: dlcore.conv_transpose1d(a, w, b, 2, 1, 1),
            lambda a, w, b: torch.conv_transpose1d(a, w, b, 2, 1, 1), [R(2, 3, 6), R(3, 4, 3), R(4)])
    compare(lambda a, w: dlcore.conv_transpose2d(a, w, None, 1, 1), lambda a, w: torch.conv_transpose2d(a, w, None, 1, 1),
            [R(1, 2, 4, 5), R(2, 3, 3, 3)])
    compare(lambda a, w: dlcore.conv_transpose3d(a, w), lambda a, w: torch.conv_transpose3d(a, w),
            [R(1, 2, 3, 3, 3), R(2, 2, 2, 2, 2)])
    compare(lambda a, w, b: dlcore.conv_tbc(a, w, b, 1), lambda a, w, b: torch.conv_tbc(a, w, b, 1),
            [R(7, 2, 3), R(3, 3, 4), R(4)])
    for transposed in (False, True):
        w = R(3, 3, 3, 3)
        compare(lambda a, w_, b: dlcore.convolution(a, w_, b, [1, 1], [1, 1], [1, 1], transposed, [0, 0], 1),
                lambda a, w_, b: torch.convolution(a, w_, b, [1, 1], [1, 1], [1, 1], transposed, [0, 0], 1),
                [R(2, 3, 5, 5), w, R(3)])
    with pytest.raises(RuntimeError, match="conv_tbc"):
        dlcore.conv_tbc(D(R(7, 2, 3)), D(R(3, 2, 4)), D(R(4)))


def test_activations_top_level():
    x = R(4, 5)
    compare(lambda a: dlcore.celu(a, 0.7), lambda a: torch.celu(a, 0.7), [x])
    compare(dlcore.selu, torch.selu, [x])
    compare(lambda a: dlcore.rrelu(a), lambda a: torch.rrelu(a), [x])
    compare(lambda a, w: dlcore.prelu(a, w), lambda a, w: torch.prelu(a, w), [R(3, 4, 2), np.array([0.25, -0.1, 0.3, 1.0])])
    compare(lambda a: dlcore.threshold(a, 0.1, -2.0), lambda a: torch.threshold(a, 0.1, -2.0), [x])
    compare(lambda a: dlcore.hardshrink(a, 0.4), lambda a: torch.hardshrink(a, 0.4), [x])


@pytest.mark.parametrize("red", [0, 1, 2])
def test_losses_top_level(red):
    x, y = R(4, 5), R(4, 5)
    p = rng.uniform(0.1, 0.9, (4, 5))
    compare(lambda a, b: dlcore.kl_div(a, b, red), lambda a, b: torch.kl_div(a, b, red), [x, p])
    compare(lambda a, b: dlcore.kl_div(a, b, red, log_target=True),
            lambda a, b: torch.kl_div(a, b, red, log_target=True), [x, y])
    compare(lambda a, b, w, pw: dlcore.binary_cross_entropy_with_logits(a, b, w, pw, red),
            lambda a, b, w, pw: torch.binary_cross_entropy_with_logits(a, b, w, pw, red), [x, p, R(5), R(5) ** 2],
            grad=[True, True, False, False])
    t = np.sign(R(4))
    compare(lambda a, b, c: dlcore.cosine_embedding_loss(a, b, c, 0.1, red),
            lambda a, b, c: torch.cosine_embedding_loss(a, b, c, 0.1, red), [x, y, t])
    compare(lambda a, c: dlcore.hinge_embedding_loss(a, c, 0.5, red),
            lambda a, c: torch.hinge_embedding_loss(a, c, 0.5, red), [x, np.sign(R(4, 5))], grad=[True, False])
    compare(lambda a, b, c: dlcore.margin_ranking_loss(a, b, c, 0.2, red),
            lambda a, b, c: torch.margin_ranking_loss(a, b, c, 0.2, red), [R(6), R(6), np.sign(R(6))])
    compare(lambda a, b, c: dlcore.triplet_margin_loss(a, b, c, 1.0, 2, 1e-6, True, red),
            lambda a, b, c: torch.triplet_margin_loss(a, b, c, 1.0, 2, 1e-6, True, red), [x, y, R(4, 5)])
    compare(lambda a, b: dlcore.poisson_nll_loss(a, b, True, True, 1e-8, red),
            lambda a, b: torch.poisson_nll_loss(a, b, True, True, 1e-8, red), [x, np.abs(y) * 3])
    with pytest.raises(ValueError):
        dlcore.kl_div(D(x), D(p), 3)


def test_ctc_loss_top_level():
    T_, N_, C, S = 8, 2, 5, 3
    lp = np.log(rng.dirichlet(np.ones(C), size=(T_, N_)))
    tg = rng.integers(1, C, (N_, S))
    il, tl = [8, 7], [3, 2]
    for red in (0, 1, 2):
        a = D(lp, grad=True)
        b = T(lp, grad=True)
        da = dlcore.ctc_loss(a, D(tg), D(il), D(tl), 0, red)
        tb = torch.ctc_loss(b, T(tg), T(il), T(tl), 0, red)
        close(da, tb, 1e-6, 1e-8)
        da.sum().backward()
        tb.sum().backward()
        close(a.grad, b.grad, 1e-5, 1e-8)


@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("dtype,pad", [("float64", None), ("float32", None), ("float32", 2)])
def test_embedding_bag_top_level(mode, dtype, pad):
    w = R(10, 3).astype(dtype)
    idx = np.array([1, 2, 4, 5, 4, 3, 2, 9])
    off = np.array([0, 4, 4, 6])
    dw, tw = D(w, grad=True), T(w, grad=True)
    do = dlcore.embedding_bag(dw, D(idx), D(off), False, mode, False, None, False, pad)
    to = torch.embedding_bag(tw, T(idx), T(off), False, mode, False, None, False, pad)
    assert len(do) == 4
    close(do[0], to[0], 1e-6, 1e-6)
    for a, b in zip(do[1:], to[1:]):
        assert tuple(a.shape) == tuple(b.shape)
        assert np.array_equal(N(a), N(b))
    do[0].sum().backward()
    to[0].sum().backward()
    close(dw.grad, tw.grad, 1e-6, 1e-6)


def test_misc_nn_top_level():
    compare(lambda a, b, w, c: dlcore.bilinear(a, b, w, c), lambda a, b, w, c: torch.bilinear(a, b, w, c),
            [R(3, 4), R(3, 2), R(5, 4, 2), R(5)])
    compare(lambda a: dlcore.pixel_shuffle(a, 2), lambda a: torch.pixel_shuffle(a, 2), [R(1, 8, 2, 3)])
    compare(lambda a: dlcore.pixel_unshuffle(a, 2), lambda a: torch.pixel_unshuffle(a, 2), [R(1, 2, 4, 6)])
    compare(lambda a: dlcore.channel_shuffle(a, 2), lambda a: torch.channel_shuffle(a, 2), [R(1, 6, 2, 2)])
    compare(lambda a: dlcore.pdist(a, 1.5), lambda a: torch.pdist(a, 1.5), [R(5, 3)])
    compare(lambda a: dlcore.constant_pad_nd(a, [1, 2, 0, 1], 3.5), lambda a: torch.constant_pad_nd(a, [1, 2, 0, 1], 3.5),
            [R(2, 3, 4)])
    compare(lambda a: dlcore.constant_pad_nd(a, [-1, 1]), lambda a: torch.constant_pad_nd(a, [-1, 1]), [R(2, 5)])
    x, h, c = R(3, 4), R(3, 5), R(3, 5)
    wih, whh, bih, bhh = R(20, 4), R(20, 5), R(20), R(20)
    compare(lambda *a: dlcore.lstm_cell(a[0], (a[1], a[2]), *a[3:]),
            lambda *a: torch.lstm_cell(a[0], (a[1], a[2]), *a[3:]), [x, h, c, wih, whh, bih, bhh])
    compare(dlcore.gru_cell, torch.gru_cell, [x, h, R(15, 4), R(15, 5), R(15), R(15)])
    compare(dlcore.rnn_tanh_cell, torch.rnn_tanh_cell, [x, h, R(5, 4), R(5, 5), R(5), R(5)])
    compare(dlcore.rnn_relu_cell, torch.rnn_relu_cell, [x, h, R(5, 4), R(5, 5), R(5), R(5)])


@pytest.mark.parametrize("interp,pad", [(0, 0), (0, 1), (1, 2), (2, 0)])
def test_grid_sampler(interp, pad):
    inp, grid = R(2, 3, 5, 6), rng.uniform(-1.1, 1.1, (2, 4, 3, 2))
    compare(lambda a, g: dlcore.grid_sampler(a, g, interp, pad, False),
            lambda a, g: torch.grid_sampler(a, g, interp, pad, False), [inp, grid], grad=(interp == 0),
            rtol=1e-5, atol=1e-7)


# ================================================================================================ sampling

def test_poisson_binomial():
    dlcore.manual_seed(3)
    rate = dlcore.tensor([0.5, 4.0, 30.0]).expand(20000, 3).contiguous()
    s = N(dlcore.poisson(rate))
    assert np.all(s == np.round(s)) and np.all(s >= 0)
    np.testing.assert_allclose(s.mean(0), [0.5, 4.0, 30.0], rtol=0.05)
    np.testing.assert_allclose(s.var(0), [0.5, 4.0, 30.0], rtol=0.1)
    g1, g2 = dlcore.Generator().manual_seed(5), dlcore.Generator().manual_seed(5)
    assert np.array_equal(N(dlcore.poisson(rate[:5], g1)), N(dlcore.poisson(rate[:5], g2)))
    with pytest.raises(RuntimeError):
        dlcore.poisson(dlcore.tensor([-1.0]))
    cnt = dlcore.tensor([10.0, 20.0]).expand(20000, 2).contiguous()
    pr = dlcore.tensor([0.3, 0.9]).expand(20000, 2).contiguous()
    b = N(dlcore.binomial(cnt, pr))
    assert np.all((b >= 0) & (b <= np.array([10, 20])))
    np.testing.assert_allclose(b.mean(0), [3.0, 18.0], rtol=0.03)
    np.testing.assert_allclose(b.var(0), [2.1, 1.8], rtol=0.1)


# ================================================================================================ linear algebra

def test_lowrank():
    dlcore.manual_seed(0)
    A = R(20, 4) @ R(4, 12)  # rank 4
    U, S, V = dlcore.svd_lowrank(D(A), q=6)
    assert tuple(U.shape) == (20, 6) and tuple(S.shape) == (6,) and tuple(V.shape) == (12, 6)
    rec = N(U) @ np.diag(N(S)) @ N(V).T
    np.testing.assert_allclose(rec, A, atol=1e-8 * np.abs(A).max() * 100)
    np.testing.assert_allclose(N(S)[:4], np.linalg.svd(A, compute_uv=False)[:4], rtol=1e-8)
    U, S, V = dlcore.svd_lowrank(D(A.T), q=5)  # the m < n branch
    np.testing.assert_allclose(N(U) @ np.diag(N(S)) @ N(V).T, A.T, atol=1e-7)
    X = R(30, 5) @ R(5, 8) + 3.0
    U, S, V = dlcore.pca_lowrank(D(X), q=5)
    Xc = X - X.mean(0)
    np.testing.assert_allclose(N(S), np.linalg.svd(Xc, compute_uv=False)[:5], rtol=1e-7)
    np.testing.assert_allclose(N(U) @ np.diag(N(S)) @ N(V).T, Xc, atol=1e-7)
    with pytest.raises(ValueError):
        dlcore.pca_lowrank(D(X), q=10)


@pytest.mark.filterwarnings("ignore:torch.lu is deprecated")
@pytest.mark.parametrize("shape", [(4, 4), (2, 5, 3), (3, 3, 5)])
def test_lu_and_unpack(shape):
    A = R(*shape)
    LU, piv = dlcore.lu(D(A))
    tLU, tpiv = torch.lu(T(A))
    close(LU, tLU, 1e-10, 1e-12)
    assert np.array_equal(N(piv), N(tpiv))
    P, L, U = dlcore.lu_unpack(LU, piv)
    tP, tL, tU = torch.lu_unpack(tLU, tpiv)
    for a, b in ((P, tP), (L, tL), (U, tU)):
        assert tuple(a.shape) == tuple(b.shape)
        close(a, b, 1e-10, 1e-12)
    np.testing.assert_allclose(N(P) @ N(L) @ N(U), A, atol=1e-10)
    _, _, info = dlcore.lu(D(A), get_infos=True)
    assert tuple(info.shape) == shape[:-2] and not N(info).any()
    P2, L2, U2 = dlcore.lu_unpack(LU, piv, unpack_data=False)
    assert L2.numel() == 0 and U2.numel() == 0 and np.array_equal(N(P2), N(P))
    # L and U are differentiable in LU_data
    compare(lambda x: dlcore.lu_unpack(x, piv)[1:], lambda x: torch.lu_unpack(x, tpiv)[1:], [N(tLU)])


def test_removed_linalg_names():
    for name in ("lstsq", "solve"):
        with pytest.raises(RuntimeError, match="removed"):
            getattr(dlcore, name)(D(R(3, 3)), D(R(3, 3)))
    with pytest.raises(RuntimeError, match="removed"):
        dlcore.matrix_rank(D(R(3, 3)))


@pytest.mark.filterwarnings("ignore:at::")
def test_frobenius_nuclear():
    x = R(3, 4, 5)
    compare(lambda a: dlcore.frobenius_norm(a, (1, 2)), lambda a: torch.frobenius_norm(a, (1, 2)), [x])
    compare(lambda a: dlcore.frobenius_norm(a, [0], True), lambda a: torch.frobenius_norm(a, [0], True), [x])
    compare(lambda a: dlcore.nuclear_norm(a), lambda a: torch.nuclear_norm(a), [R(4, 3)], rtol=1e-5)
    compare(lambda a: dlcore.nuclear_norm(a, True), lambda a: torch.nuclear_norm(a, True), [R(4, 3)], rtol=1e-5)
    compare(lambda a: dlcore.nuclear_norm(a, (0, 2)), lambda a: torch.nuclear_norm(a, (0, 2)), [x], rtol=1e-5)


# ================================================================================================ gradient, histogramdd

@pytest.mark.parametrize("edge", [1, 2])
def test_gradient(edge):
    x = R(5, 6)
    for kw in ({}, {"spacing": 2.0}, {"spacing": [0.5, 3.0]}, {"dim": 1}, {"dim": [0]}, {"spacing": 1.5, "dim": 0}):
        compare(lambda a: dlcore.gradient(a, edge_order=edge, **kw), lambda a: torch.gradient(a, edge_order=edge, **kw),
                [x])
    c0, c1 = np.cumsum(rng.uniform(0.5, 2, 5)), np.cumsum(rng.uniform(0.5, 2, 6))
    compare(lambda a: dlcore.gradient(a, spacing=[D(c0), D(c1)], edge_order=edge),
            lambda a: torch.gradient(a, spacing=[T(c0), T(c1)], edge_order=edge), [x])
    with pytest.raises(RuntimeError):
        dlcore.gradient(D(R(2)), edge_order=2)


def test_histogramdd():
    pts = R(200, 2)
    w = rng.uniform(0, 1, 200)
    for kw in ({"bins": 4}, {"bins": [3, 5], "range": [-1.0, 1.0, -2.0, 2.0]}, {"bins": 3, "density": True}):
        a = dlcore.histogramdd(D(pts), **kw)
        b = torch.histogramdd(T(pts), **kw)
        close(a.hist, b.hist, 1e-10, 1e-12)
        for e1, e2 in zip(a.bin_edges, b.bin_edges):
            close(e1, e2, 1e-12, 1e-12)
    a = dlcore.histogramdd(D(pts), bins=[D(np.array([-3.0, 0.0, 3.0])), D(np.array([-1.0, 1.0]))], weight=D(w))
    b = torch.histogramdd(T(pts), bins=[T(np.array([-3.0, 0.0, 3.0])), T(np.array([-1.0, 1.0]))], weight=T(w))
    close(a.hist, b.hist, 1e-10, 1e-12)


def test_vmap_fill():
    f = dlcore.vmap(lambda v: (v * v).sum())
    close(f(D(R(4, 3) * 0 + 1.0)), torch.full((4,), 3.0, dtype=torch.float64))
    compare(lambda a: dlcore.fill(a, 2.5), lambda a: torch.fill(a, 2.5), [R(2, 3)])
    compare(lambda a, v: dlcore.fill(a, v), lambda a, v: torch.fill(a, v), [R(2, 3), np.array(1.5)])
    with pytest.raises(RuntimeError):
        dlcore.fill(D(R(2)), D(R(2)))


# ================================================================================================ copies, creation

def test_view_copies():
    x = R(2, 3, 4)
    cases = [("view_copy", ([4, 6],)), ("permute_copy", ([2, 0, 1],)), ("transpose_copy", (0, 2)),
             ("squeeze_copy", ()), ("unsqueeze_copy", (1,)), ("select_copy", (1, 2)), ("slice_copy", (2, 1, 4, 2)),
             ("diagonal_copy", (0, 1, 2)), ("detach_copy", ()), ("alias_copy", ()),
             ("as_strided_copy", ([3, 2], [1, 3], 1)), ("unfold_copy", (2, 2, 1))]
    for name, args in cases:
        compare(lambda a: getattr(dlcore, name)(a, *args), lambda a: getattr(torch, name)(a, *args), [x],
                grad=name != "detach_copy")
    compare(lambda a: dlcore.t_copy(a), lambda a: torch.t_copy(a), [R(3, 4)])
    compare(lambda a: dlcore.expand_copy(a, [3, 2, 4]), lambda a: torch.expand_copy(a, [3, 2, 4]), [R(2, 1)])
    compare(lambda a: tuple(dlcore.split_copy(a, 2, 2)), lambda a: tuple(torch.split_copy(a, 2, 2)), [x])
    compare(lambda a: tuple(dlcore.split_with_sizes_copy(a, [1, 3], 2)),
            lambda a: tuple(torch.split_with_sizes_copy(a, [1, 3], 2)), [x])
    compare(lambda a: dlcore.unbind_copy(a, 1), lambda a: torch.unbind_copy(a, 1), [x])
    src = D(x)
    c = dlcore.permute_copy(src, [2, 0, 1])
    c.fill_(0.0)
    assert N(src).any()  # a copy, not a view


def test_empty_permuted_frombuffer_nonzero_static():
    e = dlcore.empty_permuted((2, 3, 4), (0, 2, 1))
    t = torch.empty_permuted((2, 3, 4), (0, 2, 1))
    assert tuple(e.shape) == (2, 3, 4) and e.stride() == t.stride()
    with pytest.raises(RuntimeError):
        dlcore.empty_permuted((2, 3), (0, 0))
    buf = bytearray(np.arange(6, dtype=np.float32).tobytes())
    a = dlcore.frombuffer(buf, dtype=dlcore.float32, count=4, offset=4)
    b = torch.frombuffer(bytearray(buf), dtype=torch.float32, count=4, offset=4)
    close(a, b)
    a[0] = 42.0
    assert np.frombuffer(buf, np.float32)[1] == 42.0  # shares the buffer's memory
    ro = np.arange(3, dtype=np.int64).tobytes()  # bytes: read-only, shared with a warning as in torch
    with pytest.warns(UserWarning, match="not writable"):
        r = dlcore.frombuffer(ro, dtype=dlcore.int64)
    assert r.dtype == dlcore.int64 and r.tolist() == [0, 1, 2]
    with pytest.raises(ValueError):
        dlcore.frombuffer(bytearray(7), dtype=dlcore.float32)
    with pytest.raises(ValueError):
        dlcore.frombuffer(bytearray(8), dtype=dlcore.float32, count=3)
    x = np.array([[0, 1, 0], [2, 0, 3]])
    for size in (0, 2, 3, 5):
        a = dlcore.nonzero_static(D(x), size=size)
        b = torch.nonzero_static(T(x), size=size)
        assert np.array_equal(N(a), N(b)) and a.dtype == dlcore.int64
        assert np.array_equal(N(D(x).nonzero_static(size=size, fill_value=7)),
                              N(T(x).nonzero_static(size=size, fill_value=7)))


@pytest.mark.parametrize("red", ["sum", "mean", "max", "min", "prod"])
def test_segment_reduce(red):
    x = R(6, 3)
    lengths = np.array([2, 0, 4])
    compare(lambda a: dlcore.segment_reduce(a, red, lengths=D(lengths)),
            lambda a: torch.segment_reduce(a, red, lengths=T(lengths)), [x])
    compare(lambda a: dlcore.segment_reduce(a, red, offsets=D(np.array([0, 1, 1, 6])), initial=2.0),
            lambda a: torch.segment_reduce(a, red, offsets=T(np.array([0, 1, 1, 6])), initial=2.0), [x])
    ln2 = np.array([[1, 2], [0, 3], [3, 0], [2, 1], [1, 2], [3, 0]])
    compare(lambda a: dlcore.segment_reduce(a, red, lengths=D(ln2), axis=1),
            lambda a: torch.segment_reduce(a, red, lengths=T(ln2), axis=1), [x])
    compare(lambda a: dlcore.segment_reduce(a, red, lengths=D(ln2), axis=1, initial=-1.0),
            lambda a: torch.segment_reduce(a, red, lengths=T(ln2), axis=1, initial=-1.0), [x])
    with pytest.raises(RuntimeError):
        dlcore.segment_reduce(D(x), red, lengths=D(np.array([1, 1])))


# ================================================================================================ Tensor methods

def test_post_accumulate_grad_hook():
    x = dlcore.ones(3, requires_grad=True)
    seen = []
    h = x.register_post_accumulate_grad_hook(lambda t: seen.append(N(t.grad).copy()))
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    assert len(seen) == 2 and np.allclose(seen[0], 2) and np.allclose(seen[1], 5)
    h.remove()
    (x * 1).sum().backward()
    assert len(seen) == 2
    with pytest.raises(RuntimeError, match="non-leaf"):
        (x * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(RuntimeError):
        dlcore.ones(2).register_post_accumulate_grad_hook(lambda t: None)


def test_resize_storage_semantics():
    makers = [lambda m: m.arange(6.).reshape(2, 3).t(), lambda m: m.arange(12.).reshape(3, 4)[:, ::2],
              lambda m: m.arange(12.).reshape(3, 4)[1:]]
    for mk in makers:
        for shp in [(2, 3), (6,), (3, 2), (4,), (2, 2)]:
            a, b = mk(dlcore), mk(torch)
            a.resize_(*shp)
            b.resize_(*shp)
            assert tuple(a.shape) == tuple(b.shape) and a.stride() == b.stride()
            close(a, b)
        a, b = mk(dlcore), mk(torch)
        avail = a.untyped_storage().nbytes() // 4 - a.storage_offset()  # the old storage's elements from the offset
        assert avail == b.untyped_storage().nbytes() // 4 - b.storage_offset()
        a.resize_(20)
        b.resize_(20)
        assert tuple(a.shape) == (20,)
        close(a[:avail], b[:avail])  # kept in memory order; the rest is uninitialized in torch
    x = dlcore.arange(6.)
    v = x[2:]
    v.resize_(2, 2)
    v.fill_(0.0)
    assert N(x).tolist() == [0, 1, 0, 0, 0, 0]  # still a view of x's storage, as in torch
    y = dlcore.zeros(2, 3)
    y.resize_as_(dlcore.ones(3, 2))
    assert tuple(y.shape) == (3, 2)
    with pytest.raises(RuntimeError):
        dlcore.ones(2, requires_grad=True).resize_(3)


def test_dim_order_and_storage():
    for mk in [lambda m: m.empty(2, 1, 3).permute(2, 0, 1), lambda m: m.empty(2, 1, 3), lambda m: m.empty(3, 1).t(),
               lambda m: m.empty(2, 3, 4).transpose(0, 2)]:
        assert mk(dlcore).dim_order() == mk(torch).dim_order()
    x = dlcore.ones(2, 3)
    assert x[1].untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
    assert x.untyped_storage().nbytes() == 24 and x.storage().size() == 6
    assert x.const_data_ptr() == x.data_ptr()
    assert x.output_nr == 0 and (x * 2).output_nr == 0


def test_real_only_methods():
    x = D(R(3, 4))
    for name in ("conj", "conj_physical", "resolve_conj", "resolve_neg"):
        assert getattr(x, name)() is x and getattr(dlcore, name)(x) is x
    assert x.real is x and dlcore.real(x) is x
    assert not x.is_conj() and not x.is_neg() and not dlcore.is_conj(x)
    with pytest.raises(RuntimeError, match="non-complex"):
        x.imag
    with pytest.raises(RuntimeError, match="non-complex"):
        dlcore.imag(x)
    close(x.mH, T(N(x)).mH)
    close(x.H, T(N(x)).H)
    a = np.array([-1.0, 0.0, 2.0, np.nan, -np.inf, np.inf])
    compare(dlcore.angle, torch.angle, [a])
    assert dlcore.angle(dlcore.tensor([-1, 2])).dtype == dlcore.float32
    close(dlcore.angle(dlcore.tensor([-1, 2])), torch.angle(torch.tensor([-1, 2])))
    assert x.share_memory_() is x and not x.is_pinned()
    if not dlcore.cuda.is_available():
        with pytest.raises(RuntimeError, match="accelerator"):
            x.pin_memory()

    class Sub(dlcore.Tensor):
        pass

    s = x.as_subclass(Sub)
    assert type(s) is Sub and np.array_equal(N(s), N(x))
    with pytest.raises(TypeError):
        x.as_subclass(int)


# ================================================================================================ autograd

def test_anomaly_nan_names_function():
    x = dlcore.tensor([0.0, 1.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with autograd.detect_anomaly():
            assert dlcore.is_anomaly_enabled() and dlcore.is_anomaly_check_nan_enabled()
            y = (x.sqrt() / x).sum()  # forward line recorded
            with pytest.raises(RuntimeError, match=r"Function 'DivBackward' returned nan values in its 1th output"):
                y.backward()
    assert not dlcore.is_anomaly_enabled()
    msgs = [str(m.message) for m in w]
    assert any("Anomaly Detection has been enabled" in m for m in msgs)
    trace = [m for m in msgs if m.startswith("Error detected in DivBackward")]
    assert trace and "y = (x.sqrt() / x).sum()" in trace[0]
    # without anomaly mode the NaN passes silently
    x.grad = None
    (x.sqrt() / x).sum().backward()
    assert np.isnan(N(x.grad)).any()
    # check_nan=False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with autograd.detect_anomaly(check_nan=False):
            (x.sqrt() / x).sum().backward()


def test_anomaly_error_in_backward_reports_forward():
    class Bad(autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            raise ValueError("boom")

    x = dlcore.ones(2, requires_grad=True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with autograd.set_detect_anomaly(True):
            y = Bad.apply(x)
            with pytest.raises(ValueError, match="boom"):
                y.sum().backward()
    assert any("Error detected in BadBackward" in str(m.message) and "Bad.apply(x)" in str(m.message) for m in w)
    assert not dlcore.is_anomaly_enabled()

    @autograd.detect_anomaly()
    def f():
        return dlcore.is_anomaly_enabled()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert f() is True
        dlcore.set_anomaly_enabled(True)
        assert dlcore.is_anomaly_enabled()
        dlcore.set_anomaly_enabled(False)
    assert not dlcore.is_anomaly_enabled()


def test_anomaly_matches_torch_message():
    x = T(np.array([0.0, 1.0]), grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.autograd.detect_anomaly():
            with pytest.raises(RuntimeError) as te:
                (x.sqrt() / x).sum().backward()
        y = D(np.array([0.0, 1.0]), grad=True)
        with autograd.detect_anomaly():
            with pytest.raises(RuntimeError) as de:
                (y.sqrt() / y).sum().backward()
    assert str(de.value) == str(te.value).replace("DivBackward0", "DivBackward")


def test_gradcheck_api():
    x = dlcore.randn(3, dtype=dlcore.float64, requires_grad=True)
    y = dlcore.randn(3, dtype=dlcore.float64, requires_grad=True)
    assert autograd.gradcheck(lambda a, b: (a * b.sin(), a.exp()), (x, y)) is True
    assert autograd.gradcheck(lambda a: a.tanh(), x) is True
    assert autograd.gradgradcheck(lambda a, b: (a * a * b).sin(), (x, y)) is True

    class Wrong(autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * a

        @staticmethod
        def backward(ctx, g):
            return g  # should be 2 a g

    with pytest.raises(autograd.GradcheckError, match="Jacobian mismatch"):
        autograd.gradcheck(Wrong.apply, (x,))
    assert isinstance(autograd.GradcheckError("x"), RuntimeError)
    assert autograd.gradcheck(Wrong.apply, (x,), raise_exception=False) is False
    with pytest.raises(ValueError):
        autograd.gradcheck(lambda a: a, (dlcore.ones(2, dtype=dlcore.float64),))
    from dlcore.autograd.gradcheck import gradcheck as gc2
    assert gc2 is autograd.gradcheck


def test_variable_and_function_module():
    t = dlcore.ones(2)
    v = autograd.Variable(t, requires_grad=True)
    assert v is t and v.requires_grad and isinstance(t, autograd.Variable)
    from dlcore.autograd.function import FunctionCtx, once_differentiable, Function
    assert Function is autograd.Function

    class Sq(Function):
        @staticmethod
        def forward(ctx, a):
            assert isinstance(ctx, FunctionCtx)
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return 2 * a * g

    x = D(np.array([1.0, 3.0]), grad=True)
    (gx,) = autograd.grad(Sq.apply(x).sum(), x, create_graph=True)
    assert N(gx).tolist() == [2.0, 6.0] and not gx.requires_grad


def test_saved_tensors_hooks():
    events = []

    def pack(t):
        events.append(("pack", tuple(t.shape)))
        return N(t).copy()  # stored as a NumPy array

    def unpack(p):
        events.append(("unpack", p.shape))
        return dlcore.tensor(p)

    class Mulc(autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            return g * b, g * a

    a, b = D(R(3), grad=True), D(R(3), grad=True)
    with autograd.graph.saved_tensors_hooks(pack, unpack):
        y = Mulc.apply(a, b)
    assert [e[0] for e in events] == ["pack", "pack"]
    y.sum().backward()
    assert [e[0] for e in events] == ["pack", "pack", "unpack", "unpack"]
    close(a.grad, b)
    close(b.grad, a)
    # torch packs the same number of tensors for x * x (self and other)
    calls = {"d": 0, "t": 0}
    x, tx = D(R(3), grad=True), T(R(3), grad=True)
    with autograd.graph.saved_tensors_hooks(lambda t: calls.__setitem__("d", calls["d"] + 1) or t, lambda p: p):
        (x * x).sum().backward()
    with torch.autograd.graph.saved_tensors_hooks(lambda t: calls.__setitem__("t", calls["t"] + 1) or t, lambda p: p):
        (tx * tx).sum().backward()
    assert calls["d"] == calls["t"] == 2
    # the unpacked value is what the backward uses
    z = D(np.array([2.0]), grad=True)
    with autograd.graph.saved_tensors_hooks(lambda t: t, lambda p: p * 10):
        w = Mulc.apply(z, D(np.array([3.0])))
    w.backward()
    assert N(z.grad).tolist() == [30.0]
    with autograd.graph.save_on_cpu():
        q = (z * z).sum()
    q.backward()
    with autograd.graph.disable_saved_tensors_hooks("no hooks here"):
        with pytest.raises(RuntimeError, match="no hooks here"):
            with autograd.graph.saved_tensors_hooks(pack, unpack):
                pass
    assert autograd._saved_hooks_pack is None


# ================================================================================================ save / load

def test_save_load_torch_semantics(tmp_path):
    import io
    w = dlcore.ones(2)
    p = dlcore.nn.Parameter(dlcore.zeros(3))
    g = dlcore.ones(2, requires_grad=True)
    obj = {"a": w, "b": [w, p], "g": g, "t": (1, "x", None), "bf": dlcore.tensor(1.5).to(dlcore.bfloat16),
           "i": dlcore.arange(3), "m": dlcore.tensor([True, False])}
    tw, tp, tg = torch.ones(2), torch.nn.Parameter(torch.zeros(3)), torch.ones(2, requires_grad=True)
    tobj = {"a": tw, "b": [tw, tp], "g": tg}
    tbuf = io.BytesIO()
    torch.save(tobj, tbuf)
    tbuf.seek(0)
    tr = torch.load(tbuf)
    for target in (tmp_path / "ck.safetensors", io.BytesIO()):
        dlcore.save(obj, target)
        if hasattr(target, "seek"):
            target.seek(0)
        r = dlcore.load(target)
        # the same properties torch.load gives
        assert (r["a"] is r["b"][0]) == (tr["a"] is tr["b"][0]) is True
        assert type(r["b"][1]).__name__ == type(tr["b"][1]).__name__ == "Parameter"
        assert r["b"][1].requires_grad == tr["b"][1].requires_grad is True
        assert r["g"].requires_grad == tr["g"].requires_grad is True and r["g"].grad_fn is None
        assert r["t"] == (1, "x", None)
        assert r["bf"].dtype == dlcore.bfloat16 and tuple(r["bf"].shape) == () and r["bf"].float().item() == 1.5
        assert r["i"].dtype == dlcore.int64 and r["i"].tolist() == [0, 1, 2]
        assert r["m"].tolist() == [True, False]
    buf = io.BytesIO()
    dlcore.save(w, buf)  # a bare tensor
    buf.seek(0)
    assert dlcore.load(buf).tolist() == [1.0, 1.0]
    path = tmp_path / "m.safetensors"
    dlcore.save({"x": dlcore.ones(2)}, path)
    assert dlcore.load(path, map_location={"cpu": "cpu"})["x"].tolist() == [1.0, 1.0]
    seen = []
    r = dlcore.load(path, map_location=lambda t, loc: seen.append(loc) or t * 2)
    assert seen == ["cpu"] and r["x"].tolist() == [2.0, 2.0]
    assert dlcore.load(path, map_location=dlcore.device("cpu"))["x"].device.type == "cpu"
    with pytest.raises(TypeError, match="map_location"):
        dlcore.load(path, map_location=3)


def test_load_cuda_saved_tensor_without_cuda(tmp_path):
    import json
    from dlcore import serialization as S
    skel = {"version": 1, "skeleton": {"__d": [["w", {"__T": "w", "dev": "cuda:0"}]]}}
    data = S._st_save({"w": np.ones(2, np.float32)}, {"format": "pt", "dlcore": json.dumps(skel)})
    path = tmp_path / "c.safetensors"
    path.write_bytes(data)
    if not dlcore.cuda.is_available():
        with pytest.raises(RuntimeError, match="map_location"):
            dlcore.load(path)
    else:
        assert dlcore.load(path)["w"].device.type == "cuda"
    assert dlcore.load(path, map_location="cpu")["w"].device.type == "cpu"
    assert dlcore.load(path, map_location={"cuda:0": "cpu"})["w"].tolist() == [1.0, 1.0]


def test_safetensors_format_without_the_package(tmp_path, monkeypatch):
    # dlcore writes and reads the safetensors format itself when the package is missing; the files it writes so
    # are read by the safetensors package, and it reads the package's files
    import sys
    st = pytest.importorskip("safetensors.numpy")
    arrays = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "i": np.array([1, -2], np.int64),
              "b": np.array([True, False]), "h": np.array(1.5, np.float16), "d": np.ones((0, 2))}
    state = {k: dlcore.from_numpy(v.copy()) for k, v in arrays.items()}
    state["bf"] = dlcore.tensor([1.5, -2.0]).to(dlcore.bfloat16)
    ours = tmp_path / "ours.safetensors"
    theirs = tmp_path / "theirs.safetensors"
    st.save_file(arrays, str(theirs), metadata={"k": "v"})
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "safetensors.numpy", None)  # import fails: the fallback runs
        dlcore.save(state, ours, metadata={"k": "v"})
        plain = tmp_path / "plain.safetensors"  # without the bf16 entry (NumPy can't read bf16)
        dlcore.save({k: state[k] for k in arrays}, plain, metadata={"k": "v"})
        back = dlcore.load(ours)
        other = dlcore.load(theirs)
    for k, v in arrays.items():
        assert np.array_equal(N(back[k]), v) and tuple(back[k].shape) == v.shape, k
        assert np.array_equal(N(other[k]), v), k
    assert back["bf"].dtype == dlcore.bfloat16 and back["bf"].float().tolist() == [1.5, -2.0]
    got = st.load_file(str(plain))  # the package reads our file
    for k, v in arrays.items():
        assert got[k].dtype == v.dtype and np.array_equal(got[k], v), k
    from safetensors import safe_open
    with safe_open(str(plain), "np") as f:
        assert f.metadata()["k"] == "v" and "dlcore" in f.metadata()


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("pad", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align", [False, True])
def test_grid_sample_cpu_kernel_vs_torch(mode, pad, align):
    """The cpu kernel of 4-D grid_sample (bilinear / nearest, every padding mode) against torch: output, input
    gradient and grid gradient, float32 and float64, grids reaching outside [-1, 1] (finite)."""
    rng = np.random.default_rng(7)
    for trial in range(6):
        n, c, h, w = rng.integers(1, 4), rng.integers(1, 5), rng.integers(1, 9), rng.integers(1, 9)
        ho, wo = rng.integers(1, 7), rng.integers(1, 7)
        dt = (np.float32, np.float64)[trial % 2]
        x = rng.standard_normal((n, c, h, w)).astype(dt)
        g = (rng.standard_normal((n, ho, wo, 2)) * (0.7, 1.6, 4.0)[trial % 3]).astype(dt)
        go = rng.standard_normal((n, c, ho, wo)).astype(dt)
        tx, tg = torch.tensor(x, requires_grad=True), torch.tensor(g, requires_grad=True)
        ty = torch.nn.functional.grid_sample(tx, tg, mode=mode, padding_mode=pad, align_corners=align)
        ty.backward(torch.tensor(go))
        dx, dg = dlcore.tensor(x, requires_grad=True), dlcore.tensor(g, requires_grad=True)
        dy = dlcore.nn.functional.grid_sample(dx, dg, mode=mode, padding_mode=pad, align_corners=align)
        dy.backward(dlcore.tensor(go))
        tol = 2e-5 if dt == np.float32 else 1e-12
        for a, b in ((dy.detach().numpy(), ty.detach().numpy()), (dx.grad.numpy(), tx.grad.numpy()),
                     (dg.grad.numpy(), tg.grad.numpy())):
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol * (1 + np.abs(b).max()))

