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
    """softmax(q k^T scale + mask) (dropout) v: the core of both entry points; returns (output, weights before
    dropout). safe: a row whose scores are all -inf (every key masked) gets zero weights instead of NaN (torch's
    scaled_dot_product_attention; MultiheadAttention keeps the NaN)."""
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
    return _ops.matmul(wd, v), w


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
    if enable_gqa:
        raise NotImplementedError("scaled_dot_product_attention(): enable_gqa is not supported")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention(): shapes do not fit: query {list(query.shape)}, key "
                           f"{list(key.shape)}, value {list(value.shape)}")
    if is_causal and attn_mask is not None:
        raise RuntimeError("scaled_dot_product_attention(): attn_mask and is_causal cannot both be set")
    L, S = query.shape[-2], key.shape[-2]
    s = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    if is_causal:
        rows = _C.reshape(_C.arange_int(0, L, 1, _C.dtype.int64, query.device), [L, 1])
        cols = _C.reshape(_C.arange_int(0, S, 1, _C.dtype.int64, query.device), [1, S])
        attn_mask = _C.le(cols, rows)
    if attn_mask is not None and attn_mask.dtype == _C.dtype.bool:
        attn_mask = _neg_inf_mask(attn_mask, query)
    return _attend(query, key, value, attn_mask, s, dropout_p, safe=True)[0]


def multi_head_attention(query, key, value, num_heads, w_q, w_k, w_v, b_q, b_k, b_v, out_w, out_b, dropout_p,
                         training, key_padding_mask, need_weights, attn_mask, average_attn_weights, is_causal):
    """nn.MultiheadAttention's computation on batch-first [N, L, E] / [N, S, Ek] / [N, S, Ev] inputs."""
    N, L, E = query.shape
    S = key.shape[1]
    H = num_heads
    hd = E // H
    q = _ops.linear(query, w_q, b_q)
    k = _ops.linear(key, w_k, b_k)
    v = _ops.linear(value, w_v, b_v)

    def heads(t, n):  # [N, n, E] -> [N, H, n, hd]
        return _ops.transpose(_ops.reshape(t, [N, n, H, hd]), 1, 2)

    q, k, v = heads(q, L), heads(k, S), heads(v, S)
    mask = None
    if attn_mask is not None:
        m = attn_mask
        if m.dtype == _C.dtype.bool:
            m = _neg_inf_mask(_C.logical_not(m), q)  # MultiheadAttention: True = not allowed
        if m.ndim == 2:
            mask = _ops.reshape(m, [1, 1, L, S])
        elif m.ndim == 3:
            if m.shape[0] != N * H:
                raise RuntimeError(f"MultiheadAttention: a 3-D attn_mask must be [N * num_heads, L, S] = "
                                   f"[{N * H}, {L}, {S}], got {list(m.shape)}")
            mask = _ops.reshape(m, [N, H, L, S])
        else:
            raise RuntimeError(f"MultiheadAttention: attn_mask must be 2-D or 3-D, got {list(m.shape)}")
    elif is_causal:
        raise RuntimeError("MultiheadAttention: is_causal is a hint that attn_mask is the causal mask; pass the "
                           "mask too (like torch)")
    if key_padding_mask is not None:
        kp = key_padding_mask
        if list(kp.shape) != [N, S]:
            raise RuntimeError(f"MultiheadAttention: key_padding_mask must be [N, S] = [{N}, {S}], got "
                               f"{list(kp.shape)}")
        kp = _neg_inf_mask(_C.logical_not(kp), q) if kp.dtype == _C.dtype.bool else kp
        kp = _ops.reshape(kp, [N, 1, 1, S])
        mask = kp if mask is None else _ops.add(mask, kp)
    o, w = _attend(q, k, v, mask, 1.0 / math.sqrt(hd), dropout_p if training else 0.0)  # o: [N, H, L, hd]
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
    bias_k/bias_v, add_zero_attn and static_k/static_v are not supported (NotImplementedError)."""
    op = "multi_head_attention_forward"
    if bias_k is not None or bias_v is not None or add_zero_attn or static_k is not None or static_v is not None:
        raise NotImplementedError(f"{op}: bias_k/bias_v, add_zero_attn and static_k/static_v are not supported")
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
                                  average_attn_weights, is_causal)
    out = out.transpose(0, 1)
    if unbatched:
        out = out.squeeze(1)
        w = w.squeeze(0) if w is not None else None
    return out, w
