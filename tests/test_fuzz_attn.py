"""Regression tests from fuzzing attention / transformer / embedding against torch (scaled_dot_product_attention,
nn.MultiheadAttention, F.multi_head_attention_forward, F.embedding_bag, F.one_hot)."""
import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched")

import dlcore
import dlcore.nn as dnn
import dlcore.nn.functional as DF

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional


def _d(a, rg=False):
    t = dlcore.tensor(np.array(a))
    return t.requires_grad_(True) if rg else t


def _t(a, rg=False):
    t = torch.tensor(np.array(a))
    return t.requires_grad_(True) if rg else t


def _np(x):
    return None if x is None else x.detach().numpy()


def _close(a, b, tol=1e-10):
    a, b = _np(a), _np(b)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol, equal_nan=True)


def _copy_sd(tm, dm):
    dm.load_state_dict({k: dlcore.tensor(v.detach().numpy().copy()) for k, v in tm.state_dict().items()})


@pytest.mark.parametrize("shapes,causal", [(((2, 6, 5, 8), (2, 2, 7, 8), (2, 2, 7, 4)), False),
                                           (((6, 5, 8), (3, 7, 8), (2, 7, 4)), False),
                                           (((2, 6, 5, 8), (1, 3, 5, 8), (1, 3, 5, 4)), True)])
def test_sdpa_enable_gqa_vs_torch(shapes, causal):
    rng = np.random.default_rng(0)
    arrs = [rng.standard_normal(s) for s in shapes]
    ts, ds = [_t(a, True) for a in arrs], [_d(a, True) for a in arrs]
    rt = TF.scaled_dot_product_attention(*ts, is_causal=causal, enable_gqa=True)
    rd = DF.scaled_dot_product_attention(*ds, is_causal=causal, enable_gqa=True)
    _close(rt, rd)
    g = rng.standard_normal(rt.shape)
    rt.backward(_t(g))
    rd.backward(_d(g))
    for a, b in zip(ts, ds):
        _close(a.grad, b.grad, 1e-9)


def test_sdpa_enable_gqa_bad_heads_and_int_mask_raise():
    q, k = dlcore.randn(6, 5, 8), dlcore.randn(4, 7, 8)
    with pytest.raises(RuntimeError, match="divide"):
        DF.scaled_dot_product_attention(q, k, k, enable_gqa=True)
    q = dlcore.randn(2, 5, 8)
    with pytest.raises(RuntimeError, match="attn_mask dtype"):
        DF.scaled_dot_product_attention(q, q, q, attn_mask=dlcore.zeros(5, 5, dtype=dlcore.int64))
    with pytest.raises(RuntimeError, match="attn_mask dtype"):
        DF.scaled_dot_product_attention(q, q, q, attn_mask=dlcore.zeros(5, 5, dtype=dlcore.float64))


def _mha_pair(rng, **kw):
    tm = tnn.MultiheadAttention(8, 2, **kw).double()
    with torch.no_grad():
        for p in tm.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    dm = dnn.MultiheadAttention(8, 2, **kw, dtype=dlcore.float64)
    _copy_sd(tm, dm)
    return tm.eval(), dm.eval()


def _mha_compare(tm, dm, q, k, v, grads=True, **kw):
    tq, tk, tv = _t(q, True), _t(k, True), _t(v, True)
    dq, dk, dv = _d(q, True), _d(k, True), _d(v, True)
    tkw = {n: (_t(a) if isinstance(a, np.ndarray) else a) for n, a in kw.items()}
    dkw = {n: (_d(a) if isinstance(a, np.ndarray) else a) for n, a in kw.items()}
    (ot, wt), (od, wd) = tm(tq, tk, tv, **tkw), dm(dq, dk, dv, **dkw)
    _close(ot, od)
    if wt is not None or wd is not None:
        _close(wt, wd)
    if grads:
        ot.sum().backward()
        od.sum().backward()
        for a, b in zip((tq, tk, tv), (dq, dk, dv)):
            _close(a.grad, b.grad, 1e-9)
        dp = dict(dm.named_parameters())
        for n, p in tm.named_parameters():
            _close(p.grad, dp[n].grad, 1e-9)


@pytest.mark.parametrize("cfg", [dict(add_bias_kv=True), dict(add_zero_attn=True),
                                 dict(add_bias_kv=True, add_zero_attn=True, kdim=6, vdim=5, batch_first=True)])
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_add_bias_kv_add_zero_attn_vs_torch(cfg, need_weights):
    rng = np.random.default_rng(1)
    tm, dm = _mha_pair(rng, **cfg)
    kd, vd = cfg.get("kdim", 8), cfg.get("vdim", 8)
    bf = cfg.get("batch_first", False)
    shp = (lambda n, e: (3, n, e)) if bf else (lambda n, e: (n, 3, e))
    q, k, v = rng.standard_normal(shp(4, 8)), rng.standard_normal(shp(5, kd)), rng.standard_normal(shp(5, vd))
    kpm = rng.random((3, 5)) > 0.6
    kpm[:, 0] = False
    am = rng.standard_normal((4, 5))
    _mha_compare(tm, dm, q, k, v, need_weights=need_weights, key_padding_mask=kpm, attn_mask=am)
    _mha_compare(tm, dm, q[:, 0] if not bf else q[0], k[:, 0] if not bf else k[0], v[:, 0] if not bf else v[0],
                 grads=False, need_weights=need_weights)  # unbatched


def test_mha_need_weights_false_fully_masked_row_is_zero():
    # torch runs scaled_dot_product_attention when need_weights=False: a query whose keys are all padded gets
    # zero attention (output = out_proj.bias), not NaN (NaN stays for need_weights=True, like torch)
    rng = np.random.default_rng(2)
    tm, dm = _mha_pair(rng)
    q, k = rng.standard_normal((4, 3, 8)), rng.standard_normal((5, 3, 8))
    kpm = np.zeros((3, 5), bool)
    kpm[0] = True
    _mha_compare(tm, dm, q, k, k, need_weights=False, key_padding_mask=kpm)
    od, _ = dm(_d(q), _d(k), _d(k), key_padding_mask=_d(kpm), need_weights=False)
    assert np.isfinite(od.detach().numpy()).all()
    _mha_compare(tm, dm, q, k, k, grads=False, need_weights=True, key_padding_mask=kpm)


def test_mha_is_causal_need_weights_false_uses_causal_mask():
    rng = np.random.default_rng(3)
    tm, dm = _mha_pair(rng)
    x = rng.standard_normal((5, 3, 8))
    am = rng.standard_normal((5, 5))  # not the causal mask: torch's SDPA path applies is_causal instead
    _mha_compare(tm, dm, x, x, x, need_weights=False, attn_mask=am, is_causal=True)


def test_mha_int_masks_raise():
    m = dnn.MultiheadAttention(8, 2)
    x = dlcore.randn(4, 3, 8)
    with pytest.raises(AssertionError, match="attn_mask"):
        m(x, x, x, attn_mask=dlcore.zeros(4, 4, dtype=dlcore.int64))
    with pytest.raises(AssertionError, match="key_padding_mask"):
        m(x, x, x, key_padding_mask=dlcore.zeros(3, 4, dtype=dlcore.int64))


def test_mha_train_dropout_returns_dropped_weights():
    dlcore.manual_seed(0)
    m = dnn.MultiheadAttention(8, 2, dropout=0.5, batch_first=True).train()
    x = dlcore.randn(8, 16, 8)
    out, w = m(x, x, x, average_attn_weights=False)
    w = w.detach().numpy()
    frac = (w == 0).mean()
    assert 0.4 < frac < 0.6  # torch returns the weights after dropout
    m.eval()
    _, w0 = m(x, x, x, average_attn_weights=False)
    w0 = w0.detach().numpy()
    kept = w != 0
    np.testing.assert_allclose(w[kept], 2 * w0[kept], rtol=1e-5)


def test_multi_head_attention_forward_static_kv_vs_torch():
    rng = np.random.default_rng(4)
    E, H, N, L = 8, 2, 3, 4
    q, k = rng.standard_normal((L, N, E)), rng.standard_normal((5, N, E))
    ipw, ipb = rng.standard_normal((3 * E, E)), rng.standard_normal(3 * E)
    ow, ob = rng.standard_normal((E, E)), rng.standard_normal(E)
    sk, sv = rng.standard_normal((N * H, 6, E // H)), rng.standard_normal((N * H, 6, E // H))
    for za in (False, True):
        rt = TF.multi_head_attention_forward(_t(q), _t(k), _t(k), E, H, _t(ipw), _t(ipb), None, None, za, 0.0, _t(ow),
                                             _t(ob), training=False, static_k=_t(sk), static_v=_t(sv))
        rd = DF.multi_head_attention_forward(_d(q), _d(k), _d(k), E, H, _d(ipw), _d(ipb), None, None, za, 0.0, _d(ow),
                                             _d(ob), training=False, static_k=_d(sk), static_v=_d(sv))
        _close(rt[0], rd[0])
        _close(rt[1], rd[1])
    with pytest.raises(AssertionError):
        bk = _d(rng.standard_normal((1, 1, E)))
        DF.multi_head_attention_forward(_d(q), _d(k), _d(k), E, H, _d(ipw), _d(ipb), bk, bk, False, 0.0, _d(ow),
                                        _d(ob), training=False, static_k=_d(sk), static_v=_d(sv))


def test_embedding_bag_max_norm_renorms_padding_row():
    w = np.arange(30.).reshape(10, 3) / 3
    idx, off = np.array([1, 2, 5, 7]), np.array([0, 1])
    tw, dw = _t(w), _d(w)
    rt = TF.embedding_bag(_t(idx), tw, _t(off), max_norm=1.0, padding_idx=2, mode="sum")
    rd = DF.embedding_bag(_d(idx), dw, _d(off), max_norm=1.0, padding_idx=2, mode="sum")
    _close(rt, rd)
    _close(tw, dw)  # torch renorms the padding row too
    assert abs(np.linalg.norm(dw.numpy()[2]) - 1.0) < 1e-6


def test_one_hot_empty_with_nonpositive_num_classes_raises():
    e = dlcore.zeros(0, dtype=dlcore.int64)
    for nc in (0, -1, -2):
        with pytest.raises(RuntimeError):
            DF.one_hot(e, nc)
    assert list(DF.one_hot(e, 3).shape) == [0, 3]


def test_transformer_encoder_layer_fully_padded_sequence_vs_torch():
    rng = np.random.default_rng(5)
    tl = tnn.TransformerEncoderLayer(8, 2, 16, 0.0, dtype=torch.float64)
    dl = dnn.TransformerEncoderLayer(8, 2, 16, 0.0, dtype=dlcore.float64)
    _copy_sd(tl, dl)
    x = rng.standard_normal((5, 3, 8))
    kp = np.zeros((3, 5), bool)
    kp[1] = True  # every key of sequence 1 padded: torch's SDPA path gives finite outputs
    xt, xd = _t(x, True), _d(x, True)
    rt, rd = tl(xt, src_key_padding_mask=_t(kp)), dl(xd, src_key_padding_mask=_d(kp))
    _close(rt, rd)
    rt.sum().backward()
    rd.sum().backward()
    _close(xt.grad, xd.grad, 1e-9)
