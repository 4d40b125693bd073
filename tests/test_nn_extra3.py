"""Transformer layers, weight / spectral normalisation (hook API and parametrizations), nn.utils.parametrize, conv/
linear + BatchNorm fusion, get_total_norm / clip_grads_with_norm_, skip_init, init.eye_ / dirac_ and the lazy modules,
against torch with copied weights: outputs, input and parameter gradients, buffers, state-dict key names and shapes
(both ways), plus bad inputs."""
import copy
import math
import warnings

import numpy as np
import pytest

import dlcore
from dlcore import nn
from dlcore.nn.utils import parametrize
from conftest import requires_torch, HAVE_TORCH

if HAVE_TORCH:
    import torch
    torch.set_num_threads(1)

pytestmark = [requires_torch, pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]

RTOL, ATOL = 1e-4, 2e-5


@pytest.fixture(autouse=True)
def _seed_generators(request):
    """torch's and dlcore's initialisation draws reproducible per test (the data comes from the rng fixture)."""
    import zlib
    seed = zlib.crc32(request.node.nodeid.encode()) & 0x7FFFFFFF
    if HAVE_TORCH:
        torch.manual_seed(seed)
    dlcore.manual_seed(seed)


def _np(x):
    if isinstance(x, dlcore.Tensor):
        return x.detach().cpu().numpy()
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _close(a, b, what, rtol=RTOL, atol=ATOL):
    a, b = _np(a), _np(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs torch {b.shape}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)


def _sd_t2d(t, d, device="cpu"):
    """torch module's state dict into the dlcore module (same key names and shapes, checked), moved to device."""
    tsd, dsd = t.state_dict(), d.state_dict()
    assert list(tsd) == list(dsd), f"state-dict keys differ:\n torch {list(tsd)}\n dlcore {list(dsd)}"
    for k in tsd:
        assert tuple(tsd[k].shape) == tuple(dsd[k].shape), f"{k}: {tuple(tsd[k].shape)} vs {tuple(dsd[k].shape)}"
    d.load_state_dict({k: v.detach().clone() for k, v in tsd.items()})
    return d.to(device)


def _sd_d2t(d, t):
    t.load_state_dict({k: torch.from_numpy(_np(v).copy()) for k, v in d.state_dict().items()})
    return t


def _inputs(arrays, device):
    """(dlcore tensors, torch tensors); float arrays require grad."""
    ds, ts = [], []
    for a in arrays:
        if a is None:
            ds.append(None)
            ts.append(None)
        elif a.dtype.kind == "f":
            ds.append(dlcore.tensor(a, device=device, requires_grad=True))
            ts.append(torch.tensor(a, requires_grad=True))
        else:
            ds.append(dlcore.tensor(a, device=device))
            ts.append(torch.tensor(a))
    return ds, ts


def _check_grads(d, t, dy, ty, d_in, t_in, rng, what):
    go = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    dy.backward(dlcore.tensor(go, device=dy.device))
    ty.backward(torch.tensor(go))
    for i, (a, b) in enumerate(zip(d_in, t_in)):
        if b is not None and b.grad is not None:
            assert a.grad is not None, f"{what}: input {i} got no gradient"
            _close(a.grad, b.grad, f"{what}: grad of input {i}")
    tp = dict(t.named_parameters())
    dp = dict(d.named_parameters())
    assert sorted(tp) == sorted(dp), f"{what}: parameter names {sorted(dp)} vs torch {sorted(tp)}"
    for name, p in dp.items():
        if tp[name].grad is None:
            assert p.grad is None or float(p.grad.abs().sum()) == 0, f"{what}: {name}"
        else:
            assert p.grad is not None, f"{what}: {name} got no gradient"
            _close(p.grad, tp[name].grad, f"{what}: grad of {name}")


def f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


# ================================================================================================ transformer

E, H, FF = 8, 2, 16


def _seq_shape(L, N, bf):
    return (N, L, E) if bf else (L, N, E)


def _masks(kind, L, S, N, rng):
    """(attn_mask, key_padding_mask) as NumPy arrays or None."""
    if kind == "none":
        return None, None
    if kind == "causal":
        return np.triu(np.full((L, S), -np.inf, np.float32), 1), None
    if kind == "bool":
        m = rng.random((L, S)) > 0.7
        m[:, 0] = False
        kp = rng.random((N, S)) > 0.7
        kp[:, 0] = False
        return m, kp
    if kind == "float":
        kp = rng.random((N, S)) > 0.7
        kp[:, 0] = False
        return (rng.standard_normal((L, S)) * 0.5).astype(np.float32), np.where(kp, -np.inf, 0.0).astype(np.float32)
    raise ValueError(kind)


@pytest.mark.parametrize("bf", [False, True])
@pytest.mark.parametrize("nf", [False, True])
@pytest.mark.parametrize("kind", ["none", "causal", "bool", "float"])
def test_encoder_layer_vs_torch(bf, nf, kind, device, rng):
    act = "gelu" if nf else "relu"
    t = torch.nn.TransformerEncoderLayer(E, H, FF, dropout=0.1, activation=act, batch_first=bf, norm_first=nf)
    d = nn.TransformerEncoderLayer(E, H, FF, dropout=0.1, activation=act, batch_first=bf, norm_first=nf)
    _sd_t2d(t, d, device)
    t.eval()
    d.eval()
    L, N = 5, 3
    m, kp = _masks(kind, L, L, N, rng)
    (x, dm, dkp), (tx, tm, tkp) = _inputs([f32(rng, *_seq_shape(L, N, bf)), m, kp], device)
    dy = d(x, src_mask=dm, src_key_padding_mask=dkp)
    ty = t(tx, src_mask=tm, src_key_padding_mask=tkp)
    _close(dy, ty, "encoder layer output")
    _check_grads(d, t, dy, ty, [x], [tx], rng, "encoder layer")


@pytest.mark.parametrize("bf", [False, True])
@pytest.mark.parametrize("nf", [False, True])
@pytest.mark.parametrize("kind", ["none", "causal", "bool", "float"])
def test_decoder_layer_vs_torch(bf, nf, kind, device, rng):
    act = "relu" if nf else "gelu"
    t = torch.nn.TransformerDecoderLayer(E, H, FF, dropout=0.1, activation=act, batch_first=bf, norm_first=nf)
    d = nn.TransformerDecoderLayer(E, H, FF, dropout=0.1, activation=act, batch_first=bf, norm_first=nf)
    _sd_t2d(t, d, device)
    t.eval()
    d.eval()
    L, S, N = 4, 6, 2
    tm_, tkp_ = _masks(kind, L, L, N, rng)
    mm_, mkp_ = _masks("bool" if kind == "causal" else kind, L, S, N, rng)
    (x, mem, a, b, c, e), (tx, tmem, ta, tb, tc, te) = _inputs(
        [f32(rng, *_seq_shape(L, N, bf)), f32(rng, *_seq_shape(S, N, bf)), tm_, mm_, tkp_, mkp_], device)
    kw = dict(tgt_mask=a, memory_mask=b, tgt_key_padding_mask=c, memory_key_padding_mask=e,
              tgt_is_causal=kind == "causal")
    tkw = dict(tgt_mask=ta, memory_mask=tb, tgt_key_padding_mask=tc, memory_key_padding_mask=te,
               tgt_is_causal=kind == "causal")
    dy = d(x, mem, **kw)
    ty = t(tx, tmem, **tkw)
    _close(dy, ty, "decoder layer output")
    _check_grads(d, t, dy, ty, [x, mem], [tx, tmem], rng, "decoder layer")


@pytest.mark.parametrize("bf", [False, True])
@pytest.mark.parametrize("nf", [False, True])
def test_encoder_decoder_stacks_vs_torch(bf, nf, device, rng):
    L, S, N = 4, 5, 2
    tel = torch.nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, batch_first=bf, norm_first=nf)
    te = torch.nn.TransformerEncoder(tel, 2, norm=torch.nn.LayerNorm(E))
    de = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, batch_first=bf, norm_first=nf), 2,
                               norm=nn.LayerNorm(E))
    _sd_t2d(te, de, device)
    # train mode with dropout 0 computes the same function as eval
    mask = np.triu(np.full((S, S), -np.inf, np.float32), 1)
    kp = rng.random((N, S)) > 0.6
    kp[:, 0] = False
    (x, m, k), (tx, tm, tk) = _inputs([f32(rng, *_seq_shape(S, N, bf)), mask, kp], device)
    dy = de(x, mask=m, src_key_padding_mask=k)
    ty = te(tx, mask=tm, src_key_padding_mask=tk)
    _close(dy, ty, "encoder stack output")
    _check_grads(de, te, dy, ty, [x], [tx], rng, "encoder stack")

    tdl = torch.nn.TransformerDecoderLayer(E, H, FF, dropout=0.0, batch_first=bf, norm_first=nf, activation="gelu")
    td = torch.nn.TransformerDecoder(tdl, 2, norm=torch.nn.LayerNorm(E))
    dd = nn.TransformerDecoder(nn.TransformerDecoderLayer(E, H, FF, dropout=0.0, batch_first=bf, norm_first=nf,
                                                          activation="gelu"), 2, norm=nn.LayerNorm(E))
    _sd_t2d(td, dd, device)
    td.eval()
    dd.eval()
    tmask = nn.Transformer.generate_square_subsequent_mask(L, device=device)
    (y, mem), (ty_, tmem) = _inputs([f32(rng, *_seq_shape(L, N, bf)), f32(rng, *_seq_shape(S, N, bf))], device)
    out = dd(y, mem, tgt_mask=tmask, memory_key_padding_mask=dlcore.tensor(kp, device=device))
    tout = td(ty_, tmem, tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(L),
              memory_key_padding_mask=torch.tensor(kp))
    _close(out, tout, "decoder stack output")
    _check_grads(dd, td, out, tout, [y, mem], [ty_, tmem], rng, "decoder stack")


@pytest.mark.parametrize("bf", [False, True])
def test_transformer_vs_torch_and_back(bf, device, rng):
    kw = dict(d_model=E, nhead=H, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=FF, dropout=0.1,
              batch_first=bf)
    t = torch.nn.Transformer(**kw)
    d = nn.Transformer(**kw)
    _sd_t2d(t, d, device)
    t.eval()
    d.eval()
    S, L, N = 5, 4, 2
    skp = rng.random((N, S)) > 0.6
    skp[:, 0] = False
    arrays = [f32(rng, *_seq_shape(S, N, bf)), f32(rng, *_seq_shape(L, N, bf)),
              np.triu(np.full((L, L), -np.inf, np.float32), 1), skp, skp.copy()]
    (src, tgt, tm, sk, mk), (tsrc, ttgt, ttm, tsk, tmk) = _inputs(arrays, device)
    dy = d(src, tgt, tgt_mask=tm, src_key_padding_mask=sk, memory_key_padding_mask=mk)
    ty = t(tsrc, ttgt, tgt_mask=ttm, src_key_padding_mask=tsk, memory_key_padding_mask=tmk)
    _close(dy, ty, "transformer output")
    _check_grads(d, t, dy, ty, [src, tgt], [tsrc, ttgt], rng, "transformer")
    # and back: a fresh dlcore Transformer's weights into a fresh torch one
    d2 = nn.Transformer(**kw).to(device).eval()
    t2 = _sd_d2t(d2, torch.nn.Transformer(**kw)).eval()
    _close(d2(src, tgt, tgt_mask=tm), t2(tsrc, ttgt, tgt_mask=ttm), "transformer output, dlcore -> torch weights")


def test_transformer_init_and_keys(rng):
    d = nn.Transformer(E, H, 1, 1, FF, bias=False)
    t = torch.nn.Transformer(E, H, 1, 1, FF, bias=False)
    assert [(k, tuple(v.shape)) for k, v in d.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in t.state_dict().items()]
    # xavier_uniform_ on every matrix: bound sqrt(6 / (fan_in + fan_out))
    w = _np(d.encoder.layers[0].linear1.weight)
    assert np.abs(w).max() <= math.sqrt(6 / (E + FF)) + 1e-7
    assert np.abs(w).max() > 0.5 * math.sqrt(6 / (E + FF))
    # LayerNorms (1-D) keep their init
    np.testing.assert_array_equal(_np(d.decoder.norm.weight), np.ones(E, np.float32))
    m = nn.Transformer.generate_square_subsequent_mask(4)
    np.testing.assert_array_equal(_np(m), torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())
    m64 = nn.Transformer.generate_square_subsequent_mask(3, dtype=dlcore.float64)
    assert m64.dtype == dlcore.float64
    assert nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, FF), 3).num_layers == 3


def test_transformer_unbatched_callable_activation_and_float64(rng):
    t = torch.nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, activation=torch.nn.GELU(), dtype=torch.float64)
    d = nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, activation=nn.GELU(), dtype=dlcore.float64)
    assert d.linear1.weight.dtype == dlcore.float64
    _sd_t2d(t, d)
    x = rng.standard_normal((5, E))  # unbatched [L, E]
    _close(d(dlcore.tensor(x)), t(torch.tensor(x)), "unbatched float64 encoder layer", rtol=1e-10, atol=1e-12)
    d2 = nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, activation=dlcore.tanh)
    t2 = torch.nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, activation=torch.tanh)
    _sd_t2d(t2, d2)
    x = f32(rng, 4, 2, E)
    _close(d2(dlcore.tensor(x)), t2(torch.tensor(x)), "callable activation")


def test_transformer_dropout_training():
    d = nn.TransformerEncoderLayer(E, H, FF, dropout=0.5)
    x = dlcore.randn(6, 3, E)
    d.eval()
    a, b = d(x), d(x)
    np.testing.assert_array_equal(_np(a), _np(b))
    d.train()
    c = d(x)
    assert not np.allclose(_np(a), _np(c)), "dropout had no effect in training mode"


def test_transformer_causal_detection_and_hint(device, rng):
    from dlcore.nn.transformer import _detect_is_causal_mask
    causal = nn.Transformer.generate_square_subsequent_mask(4, device=device)
    assert _detect_is_causal_mask(causal, None, 4) is True
    assert _detect_is_causal_mask(causal, False, 4) is False
    assert _detect_is_causal_mask(dlcore.zeros(4, 4, device=device), None, 4) is False
    assert _detect_is_causal_mask(None, True) is True
    # is_causal=True without a mask: MultiheadAttention wants the mask (like torch)
    d = nn.TransformerEncoderLayer(E, H, FF).to(device)
    with pytest.raises(RuntimeError, match="is_causal"):
        d(dlcore.randn(3, 2, E, device=device), is_causal=True)
    t = torch.nn.TransformerEncoderLayer(E, H, FF)
    with pytest.raises(RuntimeError):
        t(torch.randn(3, 2, E), is_causal=True)


def test_transformer_errors(device):
    with pytest.raises(RuntimeError, match="relu/gelu"):
        nn.TransformerEncoderLayer(E, H, activation="tanh")
    with pytest.raises(RuntimeError, match="relu/gelu"):
        nn.TransformerDecoderLayer(E, H, activation="swish")
    with pytest.raises(ValueError, match="divisible"):
        nn.TransformerEncoderLayer(10, 3)
    t = nn.Transformer(E, H, 1, 1, FF).to(device)
    with pytest.raises(RuntimeError, match="batch number"):
        t(dlcore.randn(5, 2, E, device=device), dlcore.randn(4, 3, E, device=device))
    with pytest.raises(RuntimeError, match="d_model"):
        t(dlcore.randn(5, 2, E + 1, device=device), dlcore.randn(4, 2, E + 1, device=device))
    enc = nn.TransformerEncoderLayer(E, H, FF).to(device)
    with pytest.raises(AssertionError, match="only bool and floating"):
        enc(dlcore.randn(3, 2, E, device=device), src_mask=dlcore.zeros(3, 3, dtype=dlcore.int64, device=device))
    with pytest.raises(ValueError, match="d_model"):
        enc(dlcore.randn(3, 2, E + 2, device=device))
    with pytest.raises(ValueError, match="num_layers"):
        nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, FF), 0)
    with pytest.raises(TypeError, match="encoder_layer"):
        nn.TransformerEncoder("layer", 2)
    with pytest.raises(TypeError, match="src must be a dlcore.Tensor"):
        nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, FF), 1)(np.zeros((3, 2, E), np.float32))
    with pytest.raises(TypeError, match="memory must be a dlcore.Tensor"):
        nn.TransformerDecoder(nn.TransformerDecoderLayer(E, H, FF), 1)(dlcore.zeros(3, 2, E), None)
    with pytest.warns(UserWarning, match="mismatched"):
        enc(dlcore.randn(3, 2, E, device=device), src_mask=dlcore.zeros(3, 3, device=device),
            src_key_padding_mask=dlcore.zeros(2, 3, dtype=dlcore.bool, device=device))


# ================================================================================================ weight norm

@pytest.mark.parametrize("mod,dim", [("linear", 0), ("linear", 1), ("linear", None), ("conv", 0), ("conv", 2),
                                     ("conv", None)])
def test_weight_norm_hook_api_vs_torch(mod, dim, device, rng):
    mk_t = (lambda: torch.nn.Linear(5, 4)) if mod == "linear" else (lambda: torch.nn.Conv2d(3, 4, 3))
    mk_d = (lambda: nn.Linear(5, 4)) if mod == "linear" else (lambda: nn.Conv2d(3, 4, 3))
    x = f32(rng, 2, 5) if mod == "linear" else f32(rng, 2, 3, 6, 6)
    t = torch.nn.utils.weight_norm(mk_t(), dim=dim)
    with pytest.warns(FutureWarning):
        d = nn.utils.weight_norm(mk_d(), dim=dim)
    assert tuple(d.weight_g.shape) == tuple(t.weight_g.shape)
    _sd_t2d(t, d, device)
    assert "weight" not in d._parameters and isinstance(d.weight, dlcore.Tensor)
    (dx,), (tx,) = _inputs([x], device)
    dy, ty = d(dx), t(tx)
    _close(dy, ty, "weight_norm output")
    _check_grads(d, t, dy, ty, [dx], [tx], rng, "weight_norm")
    # g is initialised to ||w|| over the non-normalised dims: a fresh module computes its original weight
    fresh = mk_d()
    w0 = _np(fresh.weight).copy()
    with pytest.warns(FutureWarning):
        nn.utils.weight_norm(fresh, dim=dim)
    _close(fresh.weight, w0, "weight_norm keeps the weight", rtol=1e-5, atol=1e-6)
    nn.utils.remove_weight_norm(d)
    torch.nn.utils.remove_weight_norm(t)
    assert list(d.state_dict()) == list(t.state_dict())
    assert isinstance(d.weight, nn.Parameter)
    _close(d.weight, t.weight, "weight after remove_weight_norm")


def test_weight_norm_hook_api_errors():
    with pytest.warns(FutureWarning):
        m = nn.utils.weight_norm(nn.Linear(3, 2))
    with pytest.raises(RuntimeError, match="two weight_norm"):
        nn.utils.weight_norm(m)
    with pytest.raises(ValueError, match="not found"):
        nn.utils.remove_weight_norm(m, "bias")
    with pytest.raises(ValueError, match="no parameter named"):
        nn.utils.weight_norm(nn.Linear(3, 2), "nope")
    with pytest.raises(IndexError, match="out of range"):
        nn.utils.weight_norm(nn.Linear(3, 2), dim=4)


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_parametrization_vs_torch(dim, device, rng):
    t = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(5, 3), dim=dim)
    d = nn.utils.parametrizations.weight_norm(nn.Linear(5, 3), dim=dim)
    assert type(d).__name__ == "ParametrizedLinear" and parametrize.is_parametrized(d, "weight")
    assert parametrize.type_before_parametrizations(d) is nn.Linear
    _sd_t2d(t, d, device)
    (dx,), (tx,) = _inputs([f32(rng, 4, 5)], device)
    dy, ty = d(dx), t(tx)
    _close(dy, ty, "parametrized weight_norm output")
    _check_grads(d, t, dy, ty, [dx], [tx], rng, "parametrized weight_norm")
    # a state dict of the old hook API loads into the parametrization (torch's compat hook)
    old = torch.nn.utils.weight_norm(torch.nn.Linear(5, 3), dim=dim)
    sd = {k: v.detach().clone() for k, v in old.state_dict().items()}
    d.load_state_dict(sd)
    assert set(sd) == {"bias", "weight_g", "weight_v"}, "the caller's state dict was modified"
    _close(d.parametrizations.weight.original0, old.weight_g, "original0 from weight_g")
    _close(d.weight, old.weight, "weight from the old state dict")
    parametrize.remove_parametrizations(d, "weight")
    assert type(d) is nn.Linear and not hasattr(d, "parametrizations")
    assert list(d.state_dict()) == ["weight", "bias"] or list(d.state_dict()) == ["bias", "weight"]
    _close(d.weight, old.weight, "weight after remove_parametrizations")


# ================================================================================================ spectral norm

def _spectral_pair(kind, api):
    mk = {"linear": (lambda m: m.Linear(6, 4)), "conv": (lambda m: m.Conv2d(3, 4, 3)),
          "convT": (lambda m: m.ConvTranspose2d(3, 4, 3))}[kind]
    if api == "hook":
        return torch.nn.utils.spectral_norm(mk(torch.nn), n_power_iterations=2), \
            nn.utils.spectral_norm(mk(nn), n_power_iterations=2)
    return torch.nn.utils.parametrizations.spectral_norm(mk(torch.nn), n_power_iterations=2), \
        nn.utils.parametrizations.spectral_norm(mk(nn), n_power_iterations=2)


@pytest.mark.parametrize("api", ["hook", "param"])
@pytest.mark.parametrize("kind", ["linear", "conv", "convT"])
def test_spectral_norm_vs_torch(api, kind, device, rng):
    t, d = _spectral_pair(kind, api)
    _sd_t2d(t, d, device)
    x = {"linear": (3, 6), "conv": (2, 3, 5, 5), "convT": (2, 3, 4, 4)}[kind]
    bufs = ["weight_u", "weight_v"] if api == "hook" else ["parametrizations.weight.0._u",
                                                           "parametrizations.weight.0._v"]
    for step in range(2):  # training: each forward updates u, v in place
        (dx,), (tx,) = _inputs([f32(rng, *x)], device)
        dy, ty = d(dx), t(tx)
        _close(dy, ty, f"spectral_norm output (step {step})")
        tb, db = dict(t.named_buffers()), dict(d.named_buffers())
        for b in bufs:
            _close(db[b], tb[b], f"buffer {b} (step {step})")
        _check_grads(d, t, dy, ty, [dx], [tx], rng, f"spectral_norm step {step}")
        d.zero_grad()
        t.zero_grad()
    d.eval()
    t.eval()
    before = _np(dict(d.named_buffers())[bufs[0]]).copy()
    (dx,), (tx,) = _inputs([f32(rng, *x)], device)
    _close(d(dx), t(tx), "spectral_norm eval output")
    np.testing.assert_array_equal(_np(dict(d.named_buffers())[bufs[0]]), before)  # eval: no power iteration
    # the normalised weight has spectral norm ~1 (after a few more training iterations)
    if api == "hook":
        nn.utils.remove_spectral_norm(d)
        torch.nn.utils.remove_spectral_norm(t)
    else:
        parametrize.remove_parametrizations(d, "weight")
        torch.nn.utils.parametrize.remove_parametrizations(t, "weight")
    assert list(d.state_dict()) == list(t.state_dict())
    _close(d.weight, t.weight, "weight after removing spectral_norm")


def test_spectral_norm_sigma_and_1d(rng):
    m = nn.Linear(7, 5)
    w = _np(m.weight).astype(np.float64)
    nn.utils.parametrizations.spectral_norm(m, n_power_iterations=30)
    sn = np.linalg.svd(_np(m.weight).astype(np.float64), compute_uv=False)[0]
    assert abs(sn - 1.0) < 1e-3, sn
    np.testing.assert_allclose(_np(m.weight), w / np.linalg.svd(w, compute_uv=False)[0], rtol=1e-3, atol=1e-5)
    # a 1-D tensor is just normalised
    b = nn.Linear(3, 4)
    nn.utils.parametrizations.spectral_norm(b, "bias")
    tb = torch.nn.Linear(3, 4)
    torch.nn.utils.parametrizations.spectral_norm(tb, "bias")
    _sd_t2d(tb, b)
    _close(b.bias, tb.bias, "spectral_norm of a 1-D tensor")


def test_spectral_norm_errors_and_old_state_dict(rng):
    with pytest.raises(ValueError, match="n_power_iterations"):
        nn.utils.spectral_norm(nn.Linear(3, 2), n_power_iterations=0)
    with pytest.raises(ValueError, match="n_power_iterations"):
        nn.utils.parametrizations.spectral_norm(nn.Linear(3, 2), n_power_iterations=0)
    with pytest.raises(IndexError, match="out of range"):
        nn.utils.parametrizations.spectral_norm(nn.Linear(3, 2), dim=2)
    with pytest.raises(ValueError, match="no parameter or buffer"):
        nn.utils.parametrizations.spectral_norm(nn.Linear(3, 2), "nope")
    m = nn.utils.spectral_norm(nn.Linear(3, 2))
    with pytest.raises(RuntimeError, match="two spectral_norm"):
        nn.utils.spectral_norm(m)
    with pytest.raises(ValueError, match="not found"):
        nn.utils.remove_spectral_norm(nn.Linear(3, 2))
    # a pre-version-1 state dict (weight_orig, weight, weight_u; no weight_v): v is solved for
    t = torch.nn.utils.spectral_norm(torch.nn.Linear(4, 3))
    t(torch.randn(2, 4))
    sd = {k: v.detach().clone() for k, v in t.state_dict().items()}
    sd_old = {k: v for k, v in sd.items() if k != "weight_v"}
    sd_old["weight"] = t.weight.detach().clone()
    d = nn.utils.spectral_norm(nn.Linear(4, 3))
    d.load_state_dict(sd_old)
    d.eval()
    t.eval()
    x = f32(rng, 2, 4)
    _close(d(dlcore.tensor(x)), t(torch.tensor(x)), "spectral_norm from a version-0 state dict")


# ================================================================================================ parametrize

class _Symmetric(nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).transpose(0, 1)

    def right_inverse(self, a):
        return a.triu()


class _Scale(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x * self.s

    def right_inverse(self, y):
        return y / self.s


if HAVE_TORCH:
    class _TSymmetric(torch.nn.Module):
        def forward(self, x):
            return x.triu() + x.triu(1).transpose(0, 1)

        def right_inverse(self, a):
            return a.triu()

    class _TScale(torch.nn.Module):
        def __init__(self, s):
            super().__init__()
            self.s = s

        def forward(self, x):
            return x * self.s

        def right_inverse(self, y):
            return y / self.s


def test_parametrize_vs_torch(device, rng):
    t = torch.nn.Linear(4, 4)
    d = nn.Linear(4, 4)
    _sd_t2d(t, d)
    torch.nn.utils.parametrize.register_parametrization(t, "weight", _TSymmetric())
    parametrize.register_parametrization(d, "weight", _Symmetric())
    torch.nn.utils.parametrize.register_parametrization(t, "weight", _TScale(2.0))
    sc = _Scale(2.0)
    parametrize.register_parametrization(d, "weight", sc)
    assert [(k, tuple(v.shape)) for k, v in d.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in t.state_dict().items()]
    assert list(d.state_dict()) == ["bias", "parametrizations.weight.original"]
    _sd_t2d(t, d, device)
    w = _np(d.weight)
    np.testing.assert_allclose(w, w.T)
    _close(d.weight, t.weight, "parametrized weight")
    (dx,), (tx,) = _inputs([f32(rng, 3, 4)], device)
    dy, ty = d(dx), t(tx)
    _close(dy, ty, "parametrized output")
    _check_grads(d, t, dy, ty, [dx], [tx], rng, "parametrized")
    # assignment goes through right_inverse (last parametrization first)
    a = f32(rng, 4, 4)
    a = a + a.T
    d.weight = dlcore.tensor(a, device=device)
    with torch.no_grad():
        t.weight = torch.tensor(a)
    _close(d.parametrizations.weight.original, t.parametrizations.weight.original, "original after assignment")
    _close(d.weight, a, "weight after assignment", rtol=1e-5, atol=1e-5)
    # cached(): the parametrization runs once
    sc.calls = 0
    with parametrize.cached():
        d(dx)
        d(dx)
        w1 = d.weight
        assert d.weight is w1
    assert sc.calls == 1
    d(dx)
    assert sc.calls == 2
    # deepcopy and .to keep working
    d2 = copy.deepcopy(d)
    assert type(d2) is type(d) and d2.parametrizations.weight.original is not d.parametrizations.weight.original
    _close(d2(dx), d(dx), "deepcopy of a parametrized module")
    # a Parameter can not replace the property
    with pytest.raises(KeyError, match="already exists"):
        d.weight = nn.Parameter(dlcore.zeros(4, 4, device=device))
    # removal
    parametrize.remove_parametrizations(d, "weight", leave_parametrized=True)
    torch.nn.utils.parametrize.remove_parametrizations(t, "weight", leave_parametrized=True)
    assert type(d) is nn.Linear and isinstance(d.weight, nn.Parameter)
    _close(d.weight, t.weight, "weight left parametrized")
    assert sorted(d.state_dict()) == sorted(t.state_dict())


def test_parametrize_leave_original_buffers_and_errors(device):
    m = nn.Linear(3, 3).to(device)
    orig = _np(m.weight).copy()
    parametrize.register_parametrization(m, "weight", _Symmetric())
    parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)
    np.testing.assert_allclose(_np(m.weight), np.triu(orig))  # original = right_inverse(w) = triu(w)
    # a buffer
    bn = nn.BatchNorm1d(3).to(device)
    parametrize.register_parametrization(bn, "running_var", _Scale(3.0))
    assert "parametrizations.running_var.original" in bn.state_dict()
    np.testing.assert_allclose(_np(bn.running_var), np.ones(3))
    np.testing.assert_allclose(_np(bn.parametrizations.running_var.original), np.ones(3) / 3)
    parametrize.remove_parametrizations(bn, "running_var")
    assert "running_var" in bn._buffers and type(bn) is nn.BatchNorm1d
    m = nn.Linear(3, 2)

    class Grow(nn.Module):
        def forward(self, x):
            return dlcore.cat([x, x], 0)

    with pytest.raises(ValueError, match="may not change the shape"):
        parametrize.register_parametrization(m, "weight", Grow())
    parametrize.register_parametrization(m, "weight", Grow(), unsafe=True)
    assert tuple(m.weight.shape) == (4, 3)
    with pytest.raises(ValueError, match="does not have a parameter"):
        parametrize.register_parametrization(nn.Linear(2, 2), "nope", _Symmetric())
    with pytest.raises(ValueError, match="does not have a parametrization"):
        parametrize.remove_parametrizations(nn.Linear(2, 2), "weight")
    with pytest.raises(TypeError, match="must be a dlcore.nn.Module"):
        parametrize.register_parametrization(nn.Linear(2, 2), "weight", lambda x: x)
    m = nn.Linear(2, 2)
    parametrize.register_parametrization(m, "weight", _Symmetric())
    with pytest.raises(RuntimeError, match="Serialization"):
        import pickle
        pickle.dumps(m)


# ================================================================================================ fusion

@pytest.mark.parametrize("kind", ["conv1d", "conv2d", "convT2d", "linear"])
@pytest.mark.parametrize("bias", [True, False])
def test_fusion_vs_torch(kind, bias, device, rng):
    C = 4
    if kind == "conv1d":
        t, d = torch.nn.Conv1d(3, C, 3, bias=bias), nn.Conv1d(3, C, 3, bias=bias)
        tb, db, x = torch.nn.BatchNorm1d(C), nn.BatchNorm1d(C), f32(rng, 2, 3, 7)
    elif kind == "conv2d":
        t, d = torch.nn.Conv2d(3, C, 3, bias=bias), nn.Conv2d(3, C, 3, bias=bias)
        tb, db, x = torch.nn.BatchNorm2d(C), nn.BatchNorm2d(C), f32(rng, 2, 3, 5, 5)
    elif kind == "convT2d":
        t, d = torch.nn.ConvTranspose2d(3, C, 3, bias=bias), nn.ConvTranspose2d(3, C, 3, bias=bias)
        tb, db, x = torch.nn.BatchNorm2d(C), nn.BatchNorm2d(C), f32(rng, 2, 3, 4, 4)
    else:
        t, d = torch.nn.Linear(5, C, bias=bias), nn.Linear(5, C, bias=bias)
        tb, db, x = torch.nn.BatchNorm1d(C), nn.BatchNorm1d(C), f32(rng, 3, 5)
    with torch.no_grad():
        tb.running_mean.copy_(torch.randn(C))
        tb.running_var.copy_(torch.rand(C) + 0.5)
        tb.weight.copy_(torch.randn(C))
        tb.bias.copy_(torch.randn(C))
    _sd_t2d(t, d, device)
    _sd_t2d(tb, db, device)
    for m in (t, d, tb, db):
        m.eval()
    if kind == "linear":
        tf, df = torch.nn.utils.fuse_linear_bn_eval(t, tb), nn.utils.fuse_linear_bn_eval(d, db)
    else:
        tr = kind == "convT2d"
        tf, df = torch.nn.utils.fuse_conv_bn_eval(t, tb, transpose=tr), nn.utils.fuse_conv_bn_eval(d, db, transpose=tr)
    assert df is not d and type(df) is type(d)
    _close(df.weight, tf.weight, "fused weight")
    _close(df.bias, tf.bias, "fused bias")
    assert df.bias.requires_grad == tf.bias.requires_grad
    xd = dlcore.tensor(x, device=device)
    _close(df(xd), db(d(xd)), "fused module == conv/linear then BatchNorm", rtol=1e-4, atol=1e-4)
    with pytest.raises(AssertionError, match="eval"):
        (nn.utils.fuse_linear_bn_eval if kind == "linear" else nn.utils.fuse_conv_bn_eval)(d.train(), db)


def test_fusion_weights_none_and_errors(rng):
    w = f32(rng, 4, 3, 3, 3)
    rm, rv = f32(rng, 4), np.abs(f32(rng, 4)) + 0.5
    tw, tb_ = torch.nn.utils.fuse_conv_bn_weights(torch.tensor(w), None, torch.tensor(rm), torch.tensor(rv), 1e-3,
                                                  None, None)
    dw, db = nn.utils.fuse_conv_bn_weights(dlcore.tensor(w), None, dlcore.tensor(rm), dlcore.tensor(rv), 1e-3,
                                           None, None)
    assert isinstance(dw, nn.Parameter) and isinstance(db, nn.Parameter)
    _close(dw, tw, "fused conv weight (no affine)")
    _close(db, tb_, "fused conv bias (no affine)")
    with pytest.raises(RuntimeError, match="channels"):
        nn.utils.fuse_conv_bn_weights(dlcore.tensor(w), None, dlcore.zeros(5), dlcore.ones(5), 1e-5, None, None)
    with pytest.raises(TypeError, match="bn_rm"):
        nn.utils.fuse_linear_bn_weights(dlcore.zeros(4, 3), None, None, dlcore.ones(4), 1e-5, dlcore.ones(4),
                                        dlcore.zeros(4))
    with pytest.raises(AssertionError, match="out_features"):
        nn.utils.fuse_linear_bn_eval(nn.Linear(3, 4).eval(), nn.BatchNorm1d(5).eval())
    with pytest.raises(AssertionError, match="running_mean"):
        nn.utils.fuse_conv_bn_eval(nn.Conv2d(2, 3, 1).eval(), nn.BatchNorm2d(3, track_running_stats=False).eval())


# ================================================================================================ norms, init

@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, math.inf, -math.inf, 0.0])
def test_get_total_norm_and_clip_vs_torch(p, device, rng):
    arrs = [f32(rng, 3, 4), f32(rng, 5), f32(rng, 2, 2, 2)]
    arrs[1][2] = 0.0
    dn = nn.utils.get_total_norm([dlcore.tensor(a, device=device) for a in arrs], p)
    tn = torch.nn.utils.get_total_norm([torch.tensor(a) for a in arrs], p)
    assert dn.ndim == 0 and dn.device == dlcore.device(device)
    _close(dn, tn, f"get_total_norm p={p}", rtol=1e-5, atol=1e-6)
    dps = [nn.Parameter(dlcore.zeros(*a.shape, device=device)) for a in arrs]
    tps = [torch.nn.Parameter(torch.zeros(*a.shape)) for a in arrs]
    for a, dp, tp in zip(arrs, dps, tps):
        dp.grad = dlcore.tensor(a, device=device)
        tp.grad = torch.tensor(a)
    nn.utils.clip_grads_with_norm_(dps, 0.5, dn)
    torch.nn.utils.clip_grads_with_norm_(tps, 0.5, tn)
    for dp, tp in zip(dps, tps):
        _close(dp.grad, tp.grad, f"clipped grad p={p}", rtol=1e-5, atol=1e-6)


def test_total_norm_edge_cases():
    z = nn.utils.get_total_norm([])
    assert float(z.item()) == 0.0
    assert abs(float(nn.utils.get_total_norm(dlcore.tensor([3.0, 4.0])).item()) - 5.0) < 1e-6
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.get_total_norm([dlcore.tensor([1.0, float("inf")])], error_if_nonfinite=True)
    with pytest.raises(TypeError, match="get_total_norm"):
        nn.utils.get_total_norm([1.0, 2.0])
    p = nn.Parameter(dlcore.ones(3))
    p.grad = dlcore.full((3,), 2.0)
    nn.utils.clip_grads_with_norm_(p, 100.0, nn.utils.get_total_norm([p.grad]))  # coefficient capped at 1
    np.testing.assert_array_equal(_np(p.grad), np.full(3, 2.0, np.float32))
    nn.utils.clip_grads_with_norm_([nn.Parameter(dlcore.ones(2))], 1.0, 5.0)  # no grads: nothing to do


def test_skip_init(device):
    m = nn.utils.skip_init(nn.Linear, 5, 3, device=device)
    assert type(m) is nn.Linear and tuple(m.weight.shape) == (3, 5) and m.weight.device == dlcore.device(device)
    assert m(dlcore.ones(2, 5, device=device)).shape == (2, 3)
    c = nn.utils.skip_init(nn.Conv2d, 2, 4, kernel_size=3, bias=False)
    assert tuple(c.weight.shape) == (4, 2, 3, 3) and c.bias is None and c.weight.device == dlcore.device("cpu")
    with pytest.raises(RuntimeError, match="Expected a Module"):
        nn.utils.skip_init(int, 3)
    with pytest.raises(RuntimeError, match="'device' arg"):
        nn.utils.skip_init(nn.ReLU)


def test_init_eye_dirac_vs_torch():
    for shape in [(3, 5), (4, 2), (3, 3)]:
        a, b = dlcore.empty(*shape), torch.empty(*shape)
        nn.init.eye_(a)
        torch.nn.init.eye_(b)
        np.testing.assert_array_equal(_np(a), b.numpy())
    for shape, groups in [((4, 2, 3), 1), ((6, 3, 3, 3), 2), ((4, 4, 2, 3, 3), 1), ((2, 5, 3, 3), 1)]:
        a, b = dlcore.empty(*shape), torch.empty(*shape)
        nn.init.dirac_(a, groups)
        torch.nn.init.dirac_(b, groups)
        np.testing.assert_array_equal(_np(a), b.numpy())
    assert nn.init.eye is nn.init.eye_ and nn.init.dirac is nn.init.dirac_
    with pytest.raises(ValueError, match="2 dimensions"):
        nn.init.eye_(dlcore.empty(2, 2, 2))
    with pytest.raises(ValueError, match="3, 4, or 5"):
        nn.init.dirac_(dlcore.empty(2, 2))
    # the dirac kernel makes a convolution the identity (same padding)
    conv = nn.Conv2d(3, 3, 3, padding=1, bias=False)
    nn.init.dirac_(conv.weight)
    x = dlcore.randn(1, 3, 4, 4)
    np.testing.assert_allclose(_np(conv(x)), _np(x), atol=1e-6)


# ================================================================================================ lazy modules

LAZY = [
    ("LazyLinear", (5,), {}, "Linear", (3, 4)),
    ("LazyLinear", (2,), {"bias": False}, "Linear", (2, 3, 6)),
    ("LazyConv1d", (4, 3), {"padding": 1}, "Conv1d", (2, 3, 7)),
    ("LazyConv2d", (4, 3), {"stride": 2, "groups": 2}, "Conv2d", (2, 6, 7, 7)),
    ("LazyConv2d", (2, 3), {"bias": False}, "Conv2d", (3, 5, 5)),
    ("LazyConvTranspose1d", (3, 3), {"stride": 2}, "ConvTranspose1d", (2, 4, 5)),
    ("LazyConvTranspose2d", (4, 2), {"groups": 2, "output_padding": 1, "stride": 2}, "ConvTranspose2d", (1, 2, 3, 3)),
    ("LazyBatchNorm1d", (), {}, "BatchNorm1d", (4, 3)),
    ("LazyBatchNorm1d", (), {"affine": False}, "BatchNorm1d", (4, 3, 5)),
    ("LazyBatchNorm2d", (), {"momentum": 0.3}, "BatchNorm2d", (2, 3, 4, 4)),
    ("LazyBatchNorm2d", (), {"track_running_stats": False, "bias": False}, "BatchNorm2d", (2, 3, 4, 4)),
    ("LazyInstanceNorm1d", (), {}, "InstanceNorm1d", (2, 3, 6)),
    ("LazyInstanceNorm2d", (), {"affine": False}, "InstanceNorm2d", (2, 3, 4, 4)),
    ("LazyInstanceNorm2d", (), {"track_running_stats": False, "bias": False}, "InstanceNorm2d", (2, 3, 4, 4)),
    ("LazyBatchNorm1d", (), {"affine": False, "track_running_stats": False}, "BatchNorm1d", (5, 3)),
    ("LazyInstanceNorm1d", (), {"affine": False, "track_running_stats": False}, "InstanceNorm1d", (3, 6)),
]


@pytest.mark.parametrize("name,args,kw,target,xshape", LAZY)
def test_lazy_vs_torch(name, args, kw, target, xshape, device, rng):
    t = getattr(torch.nn, name)(*args, **kw)
    d = getattr(nn, name)(*args, **kw)
    # before the dry run: the same (uninitialised) keys, placeholders
    assert list(d.state_dict()) == list(t.state_dict())
    assert d.has_uninitialized_params() == t.has_uninitialized_params() == (len(d.state_dict()) > 0)
    for k, v in d.named_parameters():
        assert isinstance(v, nn.UninitializedParameter), k
        with pytest.raises(RuntimeError, match="uninitialized"):
            v.shape
    d.to(device)
    x = f32(rng, *xshape)
    d(dlcore.tensor(x, device=device))
    t(torch.tensor(x))
    assert type(d) is getattr(nn, target) and type(t) is getattr(torch.nn, target)
    assert not any(nn.lazy.is_lazy(v) for v in list(d.parameters()) + list(d.buffers()))
    for p in d.parameters():
        assert type(p) is nn.Parameter and p.requires_grad and p.device == dlcore.device(device)
    for attr in ("in_features", "in_channels", "num_features"):
        if hasattr(t, attr):
            # (torch leaves num_features 0 when nothing was lazy; dlcore infers it from the input)
            want = getattr(t, attr) or xshape[1 if len(xshape) > 2 or name.endswith("BatchNorm1d") else 0]
            assert getattr(d, attr) == want, attr
    # the same keys and shapes as torch's materialized module; then the same function
    d.train()
    t.train()
    _sd_t2d(t, d, device)
    (dx,), (tx,) = _inputs([f32(rng, *xshape)], device)
    dy, ty = d(dx), t(tx)
    _close(dy, ty, f"{name} output")
    if ty.requires_grad:
        _check_grads(d, t, dy, ty, [dx], [tx], rng, name)
    tb = dict(t.named_buffers())
    for k, b in d.named_buffers():
        _close(b, tb[k], f"{name} buffer {k}")


@pytest.mark.parametrize("name,args,kw,target,xshape", LAZY[:1] + LAZY[3:4] + LAZY[7:8] + LAZY[11:12])
def test_lazy_initialisation_stats_and_load(name, args, kw, target, xshape, rng):
    d = getattr(nn, name)(*args, **kw)
    d(dlcore.tensor(f32(rng, *xshape)))
    ref = getattr(nn, target)
    if target in ("Linear", "Conv2d"):
        fan_in = int(np.prod(d.weight.shape[1:]))
        w = _np(d.weight)
        assert np.abs(w).max() <= 1 / math.sqrt(fan_in) + 1e-7  # kaiming_uniform(a=sqrt(5)) bound
        assert w.std() > 0.2 / math.sqrt(fan_in)
    else:
        if d.affine:
            np.testing.assert_array_equal(_np(d.weight), np.ones(d.num_features, np.float32))
    assert type(d) is ref
    # load_state_dict from torch's materialized module materializes a fresh lazy one (no forward needed)
    t = getattr(torch.nn, name)(*args, **kw)
    t(torch.tensor(f32(rng, *xshape)))
    d2 = getattr(nn, name)(*args, **kw)
    d2.load_state_dict({k: v.detach().clone() for k, v in t.state_dict().items()})
    assert not d2.has_uninitialized_params()
    for k, v in d2.state_dict().items():
        _close(v, t.state_dict()[k], f"{k} loaded into a lazy module")
    x = f32(rng, *xshape)
    d2.eval()
    t.eval()
    _close(d2(dlcore.tensor(x)), t(torch.tensor(x)), "lazy module loaded from torch")
    assert type(d2) is ref
    for attr in ("in_features", "in_channels", "num_features"):
        if hasattr(d, attr):
            assert getattr(d2, attr) == getattr(d, attr), attr


def test_lazy_misc(device, rng):
    # an uninitialised state dict into an uninitialised module keeps the placeholders
    a, b = nn.LazyLinear(3), nn.LazyLinear(3)
    r = b.load_state_dict(a.state_dict())
    assert r.missing_keys == [] and r.unexpected_keys == []
    assert b.has_uninitialized_params() and list(b._parameters) == ["weight", "bias"]
    # placeholders follow .to() (dtype and device) and materialize there
    m = nn.LazyLinear(2).to(device).double()
    assert isinstance(m.weight, nn.UninitializedParameter)
    m(dlcore.randn(4, 3, dtype=dlcore.float64, device=device))
    assert m.weight.dtype == dlcore.float64 and m.weight.device == dlcore.device(device)
    bn = nn.LazyBatchNorm1d(device=device)
    bn.to(dlcore.float64)
    assert nn.lazy.is_lazy(bn.running_mean)
    bn(dlcore.randn(4, 3, dtype=dlcore.float64, device=device))
    assert bn.running_mean.dtype == dlcore.float64 and type(bn.running_mean) is dlcore.Tensor
    # the parameter objects survive materialisation (references held before the dry run see the data)
    lin = nn.LazyLinear(2)
    w = lin.weight
    lin(dlcore.randn(1, 4))
    assert lin.weight is w and tuple(w.shape) == (2, 4)
    # an optimizer created after the dry run trains it
    opt = dlcore.optim.SGD(lin.parameters(), lr=0.1)
    before = _np(lin.weight).copy()
    lin(dlcore.randn(3, 4)).sum().backward()
    opt.step()
    assert not np.allclose(before, _np(lin.weight))
    # copies
    c = copy.deepcopy(nn.LazyConv2d(3, 3))
    assert isinstance(c.weight, nn.UninitializedParameter) and type(c).__name__ == "LazyConv2d"
    assert repr(nn.LazyLinear(3).weight) == "<UninitializedParameter>"
    # keyword input
    k = nn.LazyLinear(2)
    assert k(input=dlcore.randn(5, 7)).shape == (5, 2)


def test_lazy_errors():
    with pytest.raises(RuntimeError, match="Expected 3D \\(unbatched\\) or 4D"):
        nn.LazyConv2d(4, 3)(dlcore.randn(2, 3, 5, 5, 1))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.LazyConv2d(4, 3, groups=2)(dlcore.randn(1, 3, 5, 5))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.LazyConv1d(3, 3, groups=2)
    with pytest.raises(ValueError, match="expected 2D or 3D"):
        nn.LazyBatchNorm1d()(dlcore.randn(2, 3, 4, 5))
    with pytest.raises(TypeError, match="input"):
        nn.LazyLinear(3)()
    m = nn.LazyLinear(3)
    with pytest.raises(ValueError, match="uninitialized parameters"):
        nn.utils.spectral_norm(m)
    with pytest.raises(ValueError, match="uninitialized parameters"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nn.utils.weight_norm(m)
    # a shape mismatch after materialisation is the regular layer's error
    m(dlcore.randn(2, 4))
    with pytest.raises(Exception):
        m(dlcore.randn(2, 5))
