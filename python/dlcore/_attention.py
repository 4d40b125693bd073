"""Attention: scaled_dot_product_attention and the functional core of nn.MultiheadAttention, composed from
dlcore's batched GEMM, softmax and dropout kernels (torch's semantics and mask conventions)."""
from __future__ import annotations

import math

from . import _C
from . import _ops

Tensor = _C.Tensor
_isT = isinstance

__all__ = ["scaled_dot_product_attention"]


def _F():
    from . import _nn_layers
    return _nn_layers


def _neg_inf_mask(mask, like):
    """A boolean 'may attend' mask as an additive float mask (0 / -inf) of like's dtype."""
    zero = _C.full([], 0.0, like.dtype, like.device)
    ninf = _C.full([], float("-inf"), like.dtype, like.device)
    return _C.where(mask, zero, ninf)


def _attend(q, k, v, mask, scale, dropout_p, safe=False):
    """softmax(q k^T scale + mask) (dropout) v: the core of both entry points; returns (output, weights after
    dropout, as torch's MultiheadAttention returns them). safe: a row whose scores are all -inf (every key masked)
    gets zero weights instead of NaN (torch's scaled_dot_product_attention; MultiheadAttention with need_weights
    keeps the NaN)."""
    scores = _ops.mul(_ops.matmul(q, _ops.transpose(k, -2, -1)), scale)
    if mask is not None:
        scores = _ops.add(scores, mask)
    dead = None
    if safe and mask is not None:  # (the dead rows' scores zeroed first, so that no NaN enters the backward either)
        dead = _C.all(_C.eq(scores.detach(), float("-inf")), -1, True)
        scores = _ops.where(dead, _C.zeros([], scores.dtype, scores.device), scores)
    w = _F().softmax(scores, -1)
    if dead is not None:
        w = _ops.where(dead, _C.zeros([], w.dtype, w.device), w)
    wd = _F().dropout(w, dropout_p, True) if dropout_p > 0.0 else w
    return _ops.matmul(wd, v), wd


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """softmax(q k^T * scale + mask) v over [..., L, E] x [..., S, E] x [..., S, Ev]; a boolean attn_mask marks the
    positions that may be attended (True), a float one is added; is_causal masks j > i."""
    for n, t in (("query", query), ("key", key), ("value", value)):
        if not _isT(t, Tensor):
            raise TypeError(f"scaled_dot_product_attention(): {n} must be a dlcore.Tensor, got {type(t).__name__}")
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise RuntimeError(f"scaled_dot_product_attention(): expected at least 2-D query/key/value, got shapes "
                           f"{list(query.shape)}, {list(key.shape)}, {list(value.shape)}")
    if enable_gqa:  # grouped-query attention: each key/value head serves query.shape[-3] // its heads query heads
        if query.ndim < 3 or key.ndim < 3 or value.ndim < 3:
            raise RuntimeError("scaled_dot_product_attention(): enable_gqa needs query/key/value with a head "
                               f"dimension (-3), got shapes {list(query.shape)}, {list(key.shape)}, "
                               f"{list(value.shape)}")
        hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
        if hk == 0 or hv == 0 or hq % hk or hq % hv:
            raise RuntimeError(f"scaled_dot_product_attention(): number of heads in key ({hk}) and value ({hv}) "
                               f"must divide the number of heads in query ({hq}) (enable_gqa=True)")
        if hk != hq:
            key = key.repeat_interleave(hq // hk, -3)
        if hv != hq:
            value = value.repeat_interleave(hq // hv, -3)
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention(): shapes do not fit: query {list(query.shape)}, key "
                           f"{list(key.shape)}, value {list(value.shape)}")
    if is_causal and attn_mask is not None:
        raise RuntimeError("scaled_dot_product_attention(): attn_mask and is_causal cannot both be set")
    if attn_mask is not None:
        if not _isT(attn_mask, Tensor):
            raise TypeError(f"scaled_dot_product_attention(): attn_mask must be a dlcore.Tensor or None, got "
                            f"{type(attn_mask).__name__}")
        md = attn_mask.dtype
        if md != _C.dtype.bool and md != _C.dtype.float32 and md != query.dtype:  # torch's rule
            raise RuntimeError(f"scaled_dot_product_attention(): expected attn_mask dtype to be bool or float or "
                               f"to match query dtype, got attn_mask {md.name} and query {query.dtype.name}")
    L, S = query.shape[-2], key.shape[-2]
    s = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    if is_causal:
        rows = _C.reshape(_C.arange_int(0, L, 1, _C.dtype.int64, query.device), [L, 1])
        cols = _C.reshape(_C.arange_int(0, S, 1, _C.dtype.int64, query.device), [1, S])
        attn_mask = _C.le(cols, rows)
    if attn_mask is not None and attn_mask.dtype == _C.dtype.bool:
        attn_mask = _neg_inf_mask(attn_mask, query)
    return _attend(query, key, value, attn_mask, s, dropout_p, safe=True)[0]


def _mha_mask(mask, name, like):
    """torch's _canonical_mask for MultiheadAttention: a bool mask (True = not allowed) becomes an additive float
    mask (-inf / 0) of like's dtype; a float mask passes through; other dtypes are refused (AssertionError)."""
    if mask is None:
        return None
    if not _isT(mask, Tensor):
        raise TypeError(f"MultiheadAttention: {name} must be a dlcore.Tensor or None, got {type(mask).__name__}")
    if mask.dtype == _C.dtype.bool:
        return _neg_inf_mask(_C.logical_not(mask), like)
    if not mask.dtype.is_floating_point:
        raise AssertionError(f"only bool and floating types of {name} are supported (got {mask.dtype.name})")
    return mask


def _pad_last(m):
    """m with one more column of zeros at the end of its last dim (torch's pad(mask, (0, 1)))."""
    import dlcore as _dl
    z = _C.zeros(list(m.shape[:-1]) + [1], m.dtype, m.device)
    return _dl.cat([m, z], -1)


def multi_head_attention(query, key, value, num_heads, w_q, w_k, w_v, b_q, b_k, b_v, out_w, out_b, dropout_p,
                         training, key_padding_mask, need_weights, attn_mask, average_attn_weights, is_causal,
                         bias_k=None, bias_v=None, add_zero_attn=False, static_k=None, static_v=None):
    """nn.MultiheadAttention's computation on batch-first [N, L, E] / [N, S, Ek] / [N, S, Ev] inputs, following
    torch's F.multi_head_attention_forward: bias_k/bias_v [1, 1, E] appended to the projected keys/values,
    add_zero_attn appends a zero key/value per head, static_k/static_v [N * H, S', head_dim] replace the projected
    keys/values. need_weights=False runs torch's scaled_dot_product_attention path (a row with every key masked
    gives zeros, and is_causal without a key_padding_mask applies the causal mask in place of attn_mask);
    need_weights=True returns the weights after dropout, like torch."""
    import dlcore as _dl
    N, L, E = query.shape
    H = num_heads
    hd = E // H
    key_padding_mask = _mha_mask(key_padding_mask, "key_padding_mask", query)
    if is_causal and attn_mask is None:
        raise RuntimeError("MultiheadAttention: is_causal is a hint that attn_mask is the causal mask; pass the "
                           "mask too (like torch)")
    sdpa_causal = bool(is_causal) and key_padding_mask is None and not need_weights
    attn_mask = None if sdpa_causal else _mha_mask(attn_mask, "attn_mask", query)
    q = _ops.linear(query, w_q, b_q)
    k = _ops.linear(key, w_k, b_k)
    v = _ops.linear(value, w_v, b_v)
    S = key.shape[1]
    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if list(attn_mask.shape) != [L, S]:
                raise RuntimeError(f"MultiheadAttention: the shape of the 2D attn_mask is {list(attn_mask.shape)}, "
                                   f"but should be [{L}, {S}]")
        elif attn_mask.ndim == 3:
            if list(attn_mask.shape) != [N * H, L, S]:
                raise RuntimeError(f"MultiheadAttention: a 3-D attn_mask must be [N * num_heads, L, S] = "
                                   f"[{N * H}, {L}, {S}], got {list(attn_mask.shape)}")
        else:
            raise RuntimeError(f"MultiheadAttention: attn_mask must be 2-D or 3-D, got {list(attn_mask.shape)}")
    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise AssertionError("MultiheadAttention: bias cannot be added to static key/value")
        k = _dl.cat([k, _ops.expand(_ops.reshape(bias_k, [1, 1, E]), [N, 1, E])], 1)
        v = _dl.cat([v, _ops.expand(_ops.reshape(bias_v, [1, 1, E]), [N, 1, E])], 1)
        attn_mask = _pad_last(attn_mask) if attn_mask is not None else None
        key_padding_mask = _pad_last(key_padding_mask) if key_padding_mask is not None else None
    elif bias_k is not None or bias_v is not None:
        raise AssertionError("MultiheadAttention: bias_k and bias_v must be given together")

    def heads(t):  # [N, n, E] -> [N, H, n, hd]
        return _ops.transpose(_ops.reshape(t, [N, t.shape[1], H, hd]), 1, 2)

    def static(t, name):  # [N * H, n, hd] -> [N, H, n, hd]
        if t.ndim != 3 or t.shape[0] != N * H or t.shape[2] != hd:
            raise AssertionError(f"MultiheadAttention: expecting {name} of shape [{N * H}, S, {hd}], got "
                                 f"{list(t.shape)}")
        return _ops.reshape(t, [N, H, t.shape[1], hd])

    q = heads(q)
    k = heads(k) if static_k is None else static(static_k, "static_k")
    v = heads(v) if static_v is None else static(static_v, "static_v")
    if add_zero_attn:
        k = _dl.cat([k, _C.zeros([N, H, 1, hd], k.dtype, k.device)], 2)
        v = _dl.cat([v, _C.zeros([N, H, 1, hd], v.dtype, v.device)], 2)
        attn_mask = _pad_last(attn_mask) if attn_mask is not None else None
        key_padding_mask = _pad_last(key_padding_mask) if key_padding_mask is not None else None
    S = k.shape[2]
    mask = None
    if attn_mask is not None:
        mask = _ops.reshape(attn_mask, [1, 1, L, S] if attn_mask.ndim == 2 else [N, H, L, S])
    elif sdpa_causal:
        rows = _C.reshape(_C.arange_int(0, L, 1, _C.dtype.int64, q.device), [L, 1])
        cols = _C.reshape(_C.arange_int(0, S, 1, _C.dtype.int64, q.device), [1, S])
        mask = _neg_inf_mask(_C.le(cols, rows), q)
    if key_padding_mask is not None:
        kp = key_padding_mask
        if list(kp.shape) != [N, S]:
            raise RuntimeError(f"MultiheadAttention: key_padding_mask must be [N, S] = [{N}, {S}], got "
                               f"{list(kp.shape)}")
        kp = _ops.reshape(kp, [N, 1, 1, S])
        mask = kp if mask is None else _ops.add(mask, kp)
    o, w = _attend(q, k, v, mask, 1.0 / math.sqrt(hd), dropout_p if training else 0.0,
                   safe=not need_weights)  # o: [N, H, L, hd]
    o = _ops.reshape(_ops.transpose(o, 1, 2), [N, L, E])
    out = _ops.linear(o, out_w, out_b)
    if not need_weights:
        return out, None
    return out, (_ops.mean(w, 1) if average_attn_weights else w)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    """torch.nn.functional.multi_head_attention_forward on sequence-first [L, N, E] (or unbatched [L, E])
    query/key/value: (output [L, N, E], attention weights [N, L, S] averaged over heads / [N, H, L, S], or None).
    bias_k/bias_v [1, 1, E], add_zero_attn and static_k/static_v [N * num_heads, S, head_dim] as in torch."""
    op = "multi_head_attention_forward"
    if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
        raise ValueError(f"{op}: expected 2-D (unbatched) or 3-D query/key/value of one rank, got "
                         f"{list(query.shape)}, {list(key.shape)}, {list(value.shape)}")
    E = query.shape[-1]
    if E != embed_dim_to_check:
        raise ValueError(f"{op}: was expecting embedding dimension of {embed_dim_to_check}, but got {E}")
    if num_heads <= 0 or E % num_heads:
        raise ValueError(f"{op}: embed_dim {E} not divisible by num_heads {num_heads}")
    unbatched = query.ndim == 2
    if unbatched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    q, k, v = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)  # [N, L, E] (batch first)
    if use_separate_proj_weight:
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise ValueError(f"{op}: use_separate_proj_weight needs q_proj_weight, k_proj_weight and v_proj_weight")
        w_q, w_k, w_v = q_proj_weight, k_proj_weight, v_proj_weight
    else:
        if in_proj_weight is None:
            raise ValueError(f"{op}: in_proj_weight is None (use use_separate_proj_weight=True otherwise)")
        w_q, w_k, w_v = in_proj_weight[:E], in_proj_weight[E:2 * E], in_proj_weight[2 * E:]
    b = in_proj_bias
    b_q, b_k, b_v = (b[:E], b[E:2 * E], b[2 * E:]) if b is not None else (None, None, None)
    if is_causal and attn_mask is None:
        raise RuntimeError(f"{op}: need attn_mask if specifying the is_causal hint")
    out, w = multi_head_attention(q, k, v, num_heads, w_q, w_k, w_v, b_q, b_k, b_v, out_proj_weight,
                                  out_proj_bias, dropout_p, training, key_padding_mask, need_weights, attn_mask,
                                  average_attn_weights, is_causal, bias_k, bias_v, add_zero_attn, static_k, static_v)
    out = out.transpose(0, 1)
    if unbatched:
        out = out.squeeze(1)
        w = w.squeeze(0) if w is not None else None
    return out, w
