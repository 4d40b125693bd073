"""scaled_dot_product_attention and nn.MultiheadAttention (python/dlcore/_attention.py): a NumPy float64
reference, finite differences, every device, torch with copied weights, bad inputs."""
import numpy as np
import pytest

import dlcore
import dlcore.functional as F
import dlcore.nn as nn
from dlcore.testing import assert_close, gradcheck
from conftest import requires_torch, HAVE_TORCH

if HAVE_TORCH:
    import torch


def np_sdpa(q, k, v, mask=None, causal=False, scale=None):
    s = (q @ np.swapaxes(k, -1, -2)) * (1 / np.sqrt(q.shape[-1]) if scale is None else scale)
    L, S = q.shape[-2], k.shape[-2]
    if causal:
        mask = np.tril(np.ones((L, S), bool))
    if mask is not None:
        s = s + (np.where(mask, 0.0, -np.inf) if mask.dtype == bool else mask)
    s = s - s.max(-1, keepdims=True)
    e = np.exp(s)
    return (e / e.sum(-1, keepdims=True)) @ v


@pytest.mark.parametrize("kind", ["plain", "bool", "float", "causal", "scale"])
def test_sdpa(kind, device, float_dtype, rng):
    q = rng.standard_normal((2, 3, 5, 8)).astype(float_dtype)
    k = rng.standard_normal((2, 3, 7, 8)).astype(float_dtype)
    v = rng.standard_normal((2, 3, 7, 4)).astype(float_dtype)
    mask = None
    kw = {}
    if kind == "bool":
        mask = rng.random((5, 7)) > 0.3
        mask[:, 0] = True
        kw["attn_mask"] = dlcore.tensor(mask, device=device)
    elif kind == "float":
        mask = rng.standard_normal((2, 1, 5, 7)).astype(float_dtype)
        kw["attn_mask"] = dlcore.tensor(mask, device=device)
    elif kind == "causal":
        kw["is_causal"] = True
    elif kind == "scale":
        kw["scale"] = 0.3
    ref = np_sdpa(*(a.astype(np.float64) for a in (q, k, v)), mask=mask, causal=kind == "causal",
                  scale=kw.get("scale"))
    got = F.scaled_dot_product_attention(*(dlcore.tensor(a, device=device) for a in (q, k, v)), **kw)
    tol = 1e-5 if float_dtype == "float32" else 1e-12
    assert_close(got, ref, rtol=tol, atol=tol)
    if device == "cpu" and float_dtype == "float64":
        kw2 = {k_: v_ for k_, v_ in kw.items()}
        gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, **kw2),
                  [dlcore.tensor(a[:1, :1], requires_grad=True) for a in (q, k, v)])


MHA = [
    dict(batch_first=False),
    dict(batch_first=True),
    dict(batch_first=True, bias=False),
    dict(batch_first=False, kdim=6, vdim=10),
    dict(batch_first=True, unbatched=True),
    dict(batch_first=True, key_padding_mask=True),
    dict(batch_first=False, attn_mask="bool"),
    dict(batch_first=True, attn_mask="float3d", average_attn_weights=False),
    dict(batch_first=True, need_weights=False),
    dict(batch_first=True, attn_mask="causal", is_causal=True),
]


@requires_torch
@pytest.mark.parametrize("cfg", MHA, ids=[str(i) for i in range(len(MHA))])
def test_multihead_attention_vs_torch(cfg, rng):
    cfg = dict(cfg)
    E, H, N, L, S = 16, 4, 3, 5, 7
    unbatched = cfg.pop("unbatched", False)
    kpm = cfg.pop("key_padding_mask", False)
    am = cfg.pop("attn_mask", None)
    need_weights = cfg.pop("need_weights", True)
    avg = cfg.pop("average_attn_weights", True)
    is_causal = cfg.pop("is_causal", False)
    m = nn.MultiheadAttention(E, H, **cfg)
    tm = torch.nn.MultiheadAttention(E, H, **cfg)
    assert list(m.state_dict()) == list(tm.state_dict())
    sd = {k: torch.from_numpy(rng.standard_normal(tuple(v.shape)).astype(np.float32)) for k, v in tm.state_dict().items()}
    tm.load_state_dict(sd)
    m.load_state_dict({k: dlcore.from_numpy(v.numpy().copy()) for k, v in sd.items()})
    kd, vd = cfg.get("kdim", E), cfg.get("vdim", E)
    bf = cfg.get("batch_first", False)

    def shape(n, d):
        if unbatched:
            return (n, d)
        return (N, n, d) if bf else (n, N, d)
    arrs = [rng.standard_normal(shape(L, E)), rng.standard_normal(shape(S, kd)), rng.standard_normal(shape(S, vd))]
    arrs = [a.astype(np.float32) for a in arrs]
    kw, tkw = {"need_weights": need_weights, "average_attn_weights": avg}, {}
    if kpm:
        p = rng.random((N, S)) > 0.7
        p[:, 0] = False
        kw["key_padding_mask"], tkw["key_padding_mask"] = dlcore.tensor(p), torch.from_numpy(p)
    if am == "bool":
        a = rng.random((L, S)) > 0.7
        a[:, 0] = False
        kw["attn_mask"], tkw["attn_mask"] = dlcore.tensor(a), torch.from_numpy(a)
    elif am == "float3d":
        a = rng.standard_normal((N * H, L, S)).astype(np.float32)
        kw["attn_mask"], tkw["attn_mask"] = dlcore.tensor(a), torch.from_numpy(a)
    elif am == "causal":
        a = np.triu(np.ones((L, S), bool), 1)
        kw["attn_mask"], tkw["attn_mask"] = dlcore.tensor(a), torch.from_numpy(a)
        kw["is_causal"] = tkw["is_causal"] = is_causal
    xs = [dlcore.tensor(a, requires_grad=True) for a in arrs]
    txs = [torch.from_numpy(a).requires_grad_(True) for a in arrs]
    o, w = m(*xs, **kw)
    to, tw = tm(*txs, need_weights=need_weights, average_attn_weights=avg, **tkw)
    assert_close(o, to.detach().numpy(), rtol=1e-4, atol=1e-5)
    if need_weights:
        assert_close(w, tw.detach().numpy(), rtol=1e-4, atol=1e-6)
    else:
        assert w is None and tw is None
    g = rng.standard_normal(tuple(to.shape)).astype(np.float32)
    o.backward(dlcore.tensor(g))
    to.backward(torch.from_numpy(g))
    for x, tx in zip(xs, txs):
        assert_close(x.grad, tx.grad.numpy(), rtol=1e-3, atol=1e-4)
    tp = dict(tm.named_parameters())
    for k, p in m.named_parameters():
        assert_close(p.grad, tp[k].grad.numpy(), rtol=1e-3, atol=1e-4)


def test_multihead_attention_device_and_bad_input(device, rng):
    m = nn.MultiheadAttention(8, 2, batch_first=True)
    x = rng.standard_normal((2, 3, 8)).astype(np.float32)
    ref, _ = m(dlcore.tensor(x), dlcore.tensor(x), dlcore.tensor(x))
    m.to(device)
    out, w = m(*[dlcore.tensor(x, device=device)] * 3)
    assert_close(out, ref.detach().cpu().numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="feature sizes"):
        m(*[dlcore.ones(2, 3, 7, device=device)] * 3)
    with pytest.raises(RuntimeError, match="is_causal"):
        m(*[dlcore.tensor(x, device=device)] * 3, is_causal=True)
    with pytest.raises(RuntimeError, match="key_padding_mask"):
        m(*[dlcore.tensor(x, device=device)] * 3, key_padding_mask=dlcore.zeros(2, 4, dtype=dlcore.bool,
                                                                               device=device))
    with pytest.raises(RuntimeError, match="cannot both"):
        F.scaled_dot_product_attention(*[dlcore.ones(1, 2, 4)] * 3, attn_mask=dlcore.ones(2, 2), is_causal=True)
    with pytest.raises(RuntimeError, match="do not fit"):
        F.scaled_dot_product_attention(dlcore.ones(1, 2, 4), dlcore.ones(1, 3, 5), dlcore.ones(1, 3, 4))
