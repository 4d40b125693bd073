"""Transformer, TransformerEncoder(Layer), TransformerDecoder(Layer): torch.nn's modules composed from
dlcore.nn.MultiheadAttention, Linear, LayerNorm and Dropout.

Parameter names, shapes and initialisation are torch's, so state dicts load both ways. torch's inference fast path
(``torch._transformer_encoder_layer_fwd`` and nested tensors) is not reproduced: ``enable_nested_tensor`` and
``mask_check`` are accepted and ignored, and every call runs the math of torch's regular path. (torch's
nested-tensor path of TransformerEncoder in eval mode under no_grad writes 0 at padded positions of the output;
dlcore computes those positions like every other one.)
"""
from __future__ import annotations

import copy
import warnings

from .. import _C
from .. import functional as F
from .container import ModuleList
from .init import xavier_uniform_
from .layers import Dropout
from .linear import Linear
from .module import Module
from .more_layers import LayerNorm, MultiheadAttention

Tensor = _C.Tensor

__all__ = ["Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer",
           "TransformerDecoderLayer"]


def _generate_square_subsequent_mask(sz, device=None, dtype=None):
    """[sz, sz] float mask: -inf above the diagonal (position i may not attend to j > i), 0 elsewhere."""
    from .._creation import full
    from .._rearrange import triu
    return triu(full((int(sz), int(sz)), float("-inf"), dtype=dtype, device=device), diagonal=1)


def _get_seq_len(src, batch_first):
    if src.ndim == 2:
        return src.shape[0]
    return src.shape[1 if batch_first else 0]


def _canonical_mask(mask, mask_name, other_type, other_name, target_type, check_other=True):
    """torch's F._canonical_mask: a bool mask (True = masked) becomes an additive float mask (-inf / 0) of
    target_type; a float mask passes through; other dtypes are refused."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        raise TypeError(f"{mask_name} must be a dlcore.Tensor or None, got {type(mask).__name__}")
    is_float = mask.dtype.is_floating_point
    if mask.dtype != _C.dtype.bool and not is_float:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported (got {mask.dtype})")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use same type for both "
                      "instead.")
    if not is_float:
        zero = _C.full([], 0.0, target_type, mask.device)
        ninf = _C.full([], float("-inf"), target_type, mask.device)
        mask = _C.where(mask, ninf, zero)
    return mask


def _none_or_dtype(t):
    if t is None:
        return None
    if isinstance(t, Tensor):
        return t.dtype
    raise RuntimeError("input to _none_or_dtype() must be None or dlcore.Tensor")


def _detect_is_causal_mask(mask, is_causal=None, size=None):
    """True when is_causal is True, or is_causal is None and mask equals the causal mask of the sequence length."""
    make_causal = is_causal is True
    if is_causal is None and mask is not None:
        sz = size if size is not None else mask.shape[-2]
        causal = _generate_square_subsequent_mask(sz, device=mask.device, dtype=mask.dtype)
        if tuple(mask.shape) == tuple(causal.shape):
            make_causal = bool(_C.eq(mask, causal).all().item())
        else:
            make_causal = False
    return make_causal


def _get_activation_fn(activation):
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


def _get_clones(module, n):
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


def _check_d_model(who, x, d_model, name):
    if not isinstance(x, Tensor):
        raise TypeError(f"nn.{who}: {name} must be a dlcore.Tensor, got {type(x).__name__}")
    if x.ndim not in (2, 3):
        raise ValueError(f"nn.{who}: expected {name} of 2 (unbatched) or 3 dims, got shape {list(x.shape)}")
    if x.shape[-1] != d_model:
        raise ValueError(f"nn.{who}: expected {name} with d_model={d_model} features (last dim), got shape "
                         f"{list(x.shape)}")


class _TransformerLayer(Module):
    """What TransformerEncoderLayer and TransformerDecoderLayer share: the feed-forward block (linear1, dropout,
    linear2, activation), norm_first, the LayerNorm and Dropout of each residual block (norm1.., dropout1..) and
    the self-attention block."""

    __constants__ = ["norm_first"]

    def _init_blocks(self, n_blocks, d_model, dim_feedforward, dropout, activation, layer_norm_eps, norm_first, bias,
                     fk):
        """The submodules after the attention ones, in torch's order; returns the activation function."""
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **fk)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **fk)
        self.norm_first = norm_first
        for i in range(1, n_blocks + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk))
        for i in range(1, n_blocks + 1):
            setattr(self, f"dropout{i}", Dropout(dropout))
        if isinstance(activation, str):
            return _get_activation_fn(activation)
        if not callable(activation):
            raise TypeError(f"nn.{type(self).__name__}: activation must be 'relu', 'gelu' or a callable, got "
                            f"{type(activation).__name__}")
        return activation

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal=False):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, is_causal=is_causal,
                           need_weights=False)[0]
        return self.dropout1(x)

    def _feed_forward(self, x):
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention then a feed-forward block, each with a residual connection and LayerNorm (after the residual,
    or before the block with norm_first=True). torch's arguments, defaults and submodule names (self_attn,
    linear1, dropout, linear2, norm1, norm2, dropout1, dropout2)."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        fk = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            **fk)
        activation = self._init_blocks(2, d_model, dim_feedforward, dropout, activation, layer_norm_eps, norm_first,
                                       bias, fk)
        from .layers import ReLU, GELU
        if activation is F.relu or isinstance(activation, ReLU):
            self.activation_relu_or_gelu = 1
        elif activation is F.gelu or isinstance(activation, GELU):
            self.activation_relu_or_gelu = 2
        else:
            self.activation_relu_or_gelu = 0
        self.activation = activation

    def __setstate__(self, state):
        super().__setstate__(state)
        if not hasattr(self, "activation"):
            self.activation = F.relu

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        _check_d_model("TransformerEncoderLayer", src, self.self_attn.embed_dim, "src")
        src_key_padding_mask = _canonical_mask(src_key_padding_mask, "src_key_padding_mask",
                                               _none_or_dtype(src_mask), "src_mask", src.dtype)
        src_mask = _canonical_mask(src_mask, "src_mask", None, "", src.dtype, check_other=False)
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal=is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal=is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _ff_block(self, x):
        return self.dropout2(self._feed_forward(x))


class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention over tgt, attention over memory, then a feed-forward block; each with a residual connection
    and LayerNorm (norm1..norm3; before the block with norm_first=True). torch's arguments and submodule names."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        fk = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=batch_first, bias=bias,
                                            **fk)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=batch_first,
                                                 bias=bias, **fk)
        self.activation = self._init_blocks(3, d_model, dim_feedforward, dropout, activation, layer_norm_eps,
                                            norm_first, bias, fk)

    def __setstate__(self, state):
        if "activation" not in state:
            state["activation"] = F.relu
        super().__setstate__(state)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        _check_d_model("TransformerDecoderLayer", tgt, self.self_attn.embed_dim, "tgt")
        _check_d_model("TransformerDecoderLayer", memory, self.self_attn.embed_dim, "memory")
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal=False):
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                is_causal=is_causal, need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        return self.dropout3(self._feed_forward(x))


class _TransformerStack(Module):
    """What TransformerEncoder and TransformerDecoder share: num_layers deep copies of a layer (``layers.0`` ...),
    an optional final ``norm``, and the causal-mask detection from the first layer's batch_first."""

    __constants__ = ["norm"]

    def _init_stack(self, layer, num_layers, norm, what):
        if not isinstance(layer, Module):
            raise TypeError(f"nn.{type(self).__name__}: {what} must be a Module, got {type(layer).__name__}")
        if int(num_layers) < 1:
            raise ValueError(f"nn.{type(self).__name__}: num_layers must be at least 1, got {num_layers}")
        self.layers = _get_clones(layer, int(num_layers))
        self.num_layers = int(num_layers)
        self.norm = norm

    def _is_causal(self, x, mask, is_causal):
        first = self.layers[0]
        batch_first = first.self_attn.batch_first if hasattr(first, "self_attn") else False
        return _detect_is_causal_mask(mask, is_causal, _get_seq_len(x, batch_first))

    def _final_norm(self, output):
        return self.norm(output) if self.norm is not None else output


class TransformerEncoder(_TransformerStack):
    """num_layers deep copies of encoder_layer (``layers.0`` ...) and an optional final ``norm``.
    enable_nested_tensor and mask_check are accepted for torch compatibility and have no effect (dlcore has no
    nested tensors)."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        self._init_stack(encoder_layer, num_layers, norm, "encoder_layer")
        self.enable_nested_tensor = enable_nested_tensor
        self.use_nested_tensor = False
        self.mask_check = mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        if not isinstance(src, Tensor):
            raise TypeError(f"nn.TransformerEncoder: src must be a dlcore.Tensor, got {type(src).__name__}")
        src_key_padding_mask = _canonical_mask(src_key_padding_mask, "src_key_padding_mask", _none_or_dtype(mask),
                                               "mask", src.dtype)
        mask = _canonical_mask(mask, "mask", None, "", src.dtype, check_other=False)
        is_causal = self._is_causal(src, mask, is_causal)
        output = src
        for mod in self.layers:
            output = mod(output, src_mask=mask, is_causal=is_causal, src_key_padding_mask=src_key_padding_mask)
        return self._final_norm(output)


class TransformerDecoder(_TransformerStack):
    """num_layers deep copies of decoder_layer (``layers.0`` ...) and an optional final ``norm``."""

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self._init_stack(decoder_layer, num_layers, norm, "decoder_layer")

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        for name, t in (("tgt", tgt), ("memory", memory)):
            if not isinstance(t, Tensor):
                raise TypeError(f"nn.TransformerDecoder: {name} must be a dlcore.Tensor, got {type(t).__name__}")
        tgt_is_causal = self._is_causal(tgt, tgt_mask, tgt_is_causal)
        output = tgt
        for mod in self.layers:
            output = mod(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                         tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                         tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        return self._final_norm(output)


class Transformer(Module):
    """torch.nn.Transformer: an encoder (num_encoder_layers layers + LayerNorm) and a decoder (num_decoder_layers
    layers + LayerNorm), or custom_encoder / custom_decoder; every parameter of 2+ dims is xavier_uniform_
    initialised. forward(src, tgt, ...) -> decoder output, like torch."""

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_feedforward=2048,
                 dropout=0.1, activation=F.relu, custom_encoder=None, custom_decoder=None, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        fk = {"device": device, "dtype": dtype}

        def stack(stack_cls, layer_cls, num_layers):  # the layer, then the final LayerNorm (torch's order)
            layer = layer_cls(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first,
                              norm_first, bias, **fk)
            return stack_cls(layer, num_layers, LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk))

        self.encoder = (custom_encoder if custom_encoder is not None
                        else stack(TransformerEncoder, TransformerEncoderLayer, num_encoder_layers))
        self.decoder = (custom_decoder if custom_decoder is not None
                        else stack(TransformerDecoder, TransformerDecoderLayer, num_decoder_layers))
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        for name, t in (("src", src), ("tgt", tgt)):
            if not isinstance(t, Tensor):
                raise TypeError(f"nn.Transformer: {name} must be a dlcore.Tensor, got {type(t).__name__}")
        is_batched = src.ndim == 3
        if not self.batch_first and is_batched and src.shape[1] != tgt.shape[1]:
            raise RuntimeError(f"the batch number of src and tgt must be equal (nn.Transformer, batch_first=False: "
                               f"src {list(src.shape)}, tgt {list(tgt.shape)})")
        if self.batch_first and is_batched and src.shape[0] != tgt.shape[0]:
            raise RuntimeError(f"the batch number of src and tgt must be equal (nn.Transformer, batch_first=True: "
                               f"src {list(src.shape)}, tgt {list(tgt.shape)})")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(f"the feature number of src and tgt must be equal to d_model (nn.Transformer, "
                               f"d_model={self.d_model}: src {list(src.shape)}, tgt {list(tgt.shape)})")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """A [sz, sz] float mask with -inf above the diagonal and 0 elsewhere (the causal mask)."""
        return _generate_square_subsequent_mask(sz, dtype=dtype, device=device)

    def _reset_parameters(self):
        for p in self.parameters():
            if p.ndim > 1:
                xavier_uniform_(p)
