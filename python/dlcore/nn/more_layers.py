"""Modules over the rest of dlcore.functional: layer / group / instance normalisation, padding, upsampling, pixel
shuffles, the remaining activations, and the losses and distances whose functions exist (torch's constructor
signatures and defaults)."""
from __future__ import annotations

from .. import _C
from .. import functional as F
from . import init
from .layers import _empty, _Loss, _softmax_dim
from .module import Module
from .parameter import Parameter


def _device_or_default(device):
    """device, or the default device (dlcore.set_default_device / ``with dlcore.device(...)``) when None,
    as torch's modules place their parameters and buffers."""
    if device is not None:
        return device
    from .._torch_extra2 import get_default_device
    return get_default_device()


__all__ = ["LayerNorm", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "ZeroPad1d", "ZeroPad2d", "ConstantPad1d",
           "ConstantPad2d", "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d",
           "CircularPad1d", "CircularPad2d", "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d",
           "PixelShuffle", "PixelUnshuffle", "PReLU", "Hardswish", "Hardsigmoid", "SELU", "CELU", "GLU", "SiLU",
           "Mish", "Hardtanh", "LogSigmoid", "Softsign", "Tanhshrink", "Softmin", "Threshold", "Softshrink",
           "Hardshrink", "SmoothL1Loss", "HuberLoss", "KLDivLoss", "CosineSimilarity", "PairwiseDistance",
           "MultiheadAttention"]


# ------------------------------------------------------------------------------------------------- normalisation

class LayerNorm(Module):
    """Normalisation over the last dims (normalized_shape) with an elementwise affine (weight 1, bias 0)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(_empty(self.normalized_shape, device, dtype))
            self.bias = Parameter(_empty(self.normalized_shape, device, dtype)) if bias else None
            if not bias:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Normalisation over groups of channels of [N, C, *] with a per-channel affine."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"nn.GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        if affine:
            self.weight = Parameter(_empty((num_channels,), device, dtype))
            self.bias = Parameter(_empty((num_channels,), device, dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class _InstanceNorm(Module):
    _spatial = 1

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, device=None,
                 dtype=None):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(_empty((num_features,), device, dtype))
            self.bias = Parameter(_empty((num_features,), device, dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            from .._creation import get_default_dtype
            dt = dtype or get_default_dtype()
            self.register_buffer("running_mean", _C.zeros([num_features], dt, _device_or_default(device)))
            self.register_buffer("running_var", _C.full([num_features], 1.0, dt, _device_or_default(device)))
            self.register_buffer("num_batches_tracked", _C.zeros([], _C.dtype.int64, _device_or_default(device)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        if affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, input):
        sp = self._spatial
        who = type(self).__name__
        if input.ndim not in (sp + 1, sp + 2):
            raise ValueError(f"nn.{who}: expected {sp + 1}D (unbatched) or {sp + 2}D (batched) input, got shape "
                             f"{list(input.shape)}")
        unbatched = input.ndim == sp + 1
        x = input.unsqueeze(0) if unbatched else input
        if x.shape[1] != self.num_features and (self.affine or self.track_running_stats):
            raise ValueError(f"nn.{who}: expected input with {self.num_features} channels (dim "
                             f"{0 if unbatched else 1}), got shape {list(input.shape)}")
        use_input_stats = self.training or not self.track_running_stats  # (num_batches_tracked stays 0: torch's)
        y = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_input_stats,
                            self.momentum if self.momentum is not None else 0.0, self.eps)
        return y.squeeze(0) if unbatched else y

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    _spatial = 1


class InstanceNorm2d(_InstanceNorm):
    _spatial = 2


# ------------------------------------------------------------------------------------------------- padding

class _PadNd(Module):
    _n = 1
    _mode = "constant"

    def __init__(self, padding, value=0.0):
        super().__init__()
        n = self._n
        if isinstance(padding, int):
            padding = (padding,) * (2 * n)
        padding = tuple(int(p) for p in padding)
        if len(padding) != 2 * n:
            raise ValueError(f"nn.{type(self).__name__}: padding must be an int or a {2 * n}-tuple, got {padding}")
        self.padding = padding
        self.value = value

    def forward(self, input):
        if self._mode == "constant":
            return F.pad(input, self.padding, "constant", self.value)
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self):
        if self._mode == "constant":  # torch's reprs
            return f"padding={self.padding}, value={self.value}"
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value):
        super().__init__(padding, value)


class _ZeroPadNd(_PadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ConstantPad1d(_ConstantPadNd):
    _n = 1


class ZeroPad1d(_ZeroPadNd):
    _n = 1


class ReflectionPad1d(_PadNd):
    _n, _mode = 1, "reflect"


class ReplicationPad1d(_PadNd):
    _n, _mode = 1, "replicate"


class CircularPad1d(_PadNd):
    _n, _mode = 1, "circular"


class ConstantPad2d(_ConstantPadNd):
    _n = 2


class ZeroPad2d(_ZeroPadNd):
    _n = 2


class ReflectionPad2d(_PadNd):
    _n, _mode = 2, "reflect"


class ReplicationPad2d(_PadNd):
    _n, _mode = 2, "replicate"


class CircularPad2d(_PadNd):
    _n, _mode = 2, "circular"


# ------------------------------------------------------------------------------------------------- resizing

class Upsample(Module):
    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.size = size
        self.scale_factor = float(scale_factor) if isinstance(scale_factor, (int, float)) else scale_factor
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        s = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return s + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(Module):
    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"


# ------------------------------------------------------------------------------------------------- activations

class PReLU(Module):
    """max(0, x) + weight * min(0, x) with a learnable weight (one, or one per channel), initialised to init."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(_empty((num_parameters,), device, dtype))
        _C.fill_(self.weight, float(init))

    def reset_parameters(self):
        _C.fill_(self.weight, float(self.init))

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


def _simple(name, fn, doc, *params):
    """A parameter-free activation module calling F.<fn>(input, *its attributes)."""
    names = [p[0] for p in params]
    defaults = [p[1] for p in params]

    def __init__(self, *args, **kwargs):
        Module.__init__(self)
        vals = dict(zip(names, defaults))
        for n, a in zip(names, args):
            vals[n] = a
        for k, v in kwargs.items():
            if k not in vals:
                raise TypeError(f"nn.{name}: unexpected argument {k!r}")
            vals[k] = v
        for n in names:
            if vals[n] is _REQUIRED:
                raise TypeError(f"nn.{name}: missing argument {n!r}")
            setattr(self, n, vals[n])

    def forward(self, input):
        return getattr(F, fn)(input, *[getattr(self, n) for n in names])

    def extra_repr(self):
        return ", ".join(f"{n}={getattr(self, n)}" for n in names if n != "inplace" or getattr(self, n))

    return type(name, (Module,), {"__init__": __init__, "forward": forward, "extra_repr": extra_repr,
                                  "__doc__": doc, "__module__": __name__})


_REQUIRED = object()

Hardswish = _simple("Hardswish", "hardswish", "x * relu6(x + 3) / 6", ("inplace", False))
Hardsigmoid = _simple("Hardsigmoid", "hardsigmoid", "relu6(x + 3) / 6", ("inplace", False))
SELU = _simple("SELU", "selu", "scale * elu(x, alpha) (self-normalising constants)", ("inplace", False))
CELU = _simple("CELU", "celu", "max(0, x) + min(0, alpha (exp(x / alpha) - 1))", ("alpha", 1.0),
               ("inplace", False))
GLU = _simple("GLU", "glu", "a * sigmoid(b), the halves of the input along dim", ("dim", -1))
SiLU = _simple("SiLU", "silu", "x * sigmoid(x)", ("inplace", False))
Mish = _simple("Mish", "mish", "x * tanh(softplus(x))", ("inplace", False))
Hardtanh = _simple("Hardtanh", "hardtanh", "clamp(x, min_val, max_val)", ("min_val", -1.0), ("max_val", 1.0),
                   ("inplace", False))
LogSigmoid = _simple("LogSigmoid", "logsigmoid", "log(sigmoid(x))")
Softsign = _simple("Softsign", "softsign", "x / (1 + |x|)")
Tanhshrink = _simple("Tanhshrink", "tanhshrink", "x - tanh(x)")
Threshold = _simple("Threshold", "threshold", "value where x <= threshold, else x", ("threshold", _REQUIRED),
                    ("value", _REQUIRED), ("inplace", False))
Softshrink = _simple("Softshrink", "softshrink", "soft thresholding by lambd", ("lambd", 0.5))
Hardshrink = _simple("Hardshrink", "hardshrink", "0 on [-lambd, lambd], else x", ("lambd", 0.5))


class Softmin(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmin(input, self.dim if self.dim is not None else _softmax_dim(input.ndim))

    def extra_repr(self):
        return f"dim={self.dim}"


# ------------------------------------------------------------------------------------------------- losses, distances

class SmoothL1Loss(_Loss):
    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(Module):
    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__()
        if reduction != "batchmean":
            from .._nn_layers import _reduction
            reduction = _reduction(size_average, reduce, reduction, "nn.KLDivLoss")
        self.reduction = reduction
        self.log_target = log_target

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class CosineSimilarity(Module):
    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


# ------------------------------------------------------------------------------------------------- attention

class MultiheadAttention(Module):
    """torch.nn.MultiheadAttention: parameters in_proj_weight [3E, E] / in_proj_bias (or q/k/v_proj_weight when
    kdim/vdim differ from embed_dim) and out_proj; forward(query, key, value, key_padding_mask, need_weights,
    attn_mask, average_attn_weights, is_causal) -> (output, weights averaged over heads or per head, or None)."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(f"nn.MultiheadAttention: embed_dim ({embed_dim}) must be divisible by num_heads "
                             f"({num_heads})")
        from .linear import Linear
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self.head_dim = embed_dim // num_heads
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(_empty((3 * embed_dim, embed_dim), device, dtype))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(_empty((embed_dim, embed_dim), device, dtype))
            self.k_proj_weight = Parameter(_empty((embed_dim, self.kdim), device, dtype))
            self.v_proj_weight = Parameter(_empty((embed_dim, self.vdim), device, dtype))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(_empty((3 * embed_dim,), device, dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        if add_bias_kv:  # [1, 1, E] key/value appended to every sequence (torch's bias_k / bias_v)
            self.bias_k = Parameter(_empty((1, 1, embed_dim), device, dtype))
            self.bias_v = Parameter(_empty((1, 1, embed_dim), device, dtype))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if getattr(self, "bias_k", None) is not None:
            init.xavier_normal_(self.bias_k)
        if getattr(self, "bias_v", None) is not None:
            init.xavier_normal_(self.bias_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        from .._attention import multi_head_attention
        E = self.embed_dim
        unbatched = query.ndim == 2
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"nn.MultiheadAttention: expected 2-D (unbatched) or 3-D query/key/value of one rank, "
                             f"got {list(query.shape)}, {list(key.shape)}, {list(value.shape)}")
        if query.shape[-1] != E or key.shape[-1] != self.kdim or value.shape[-1] != self.vdim:
            raise ValueError(f"nn.MultiheadAttention: expected feature sizes {E}, {self.kdim}, {self.vdim} for "
                             f"query/key/value, got {list(query.shape)}, {list(key.shape)}, {list(value.shape)}")
        if unbatched:
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif not self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        if self._qkv_same_embed_dim:
            w_q, w_k, w_v = self.in_proj_weight[:E], self.in_proj_weight[E:2 * E], self.in_proj_weight[2 * E:]
        else:
            w_q, w_k, w_v = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        b = self.in_proj_bias
        b_q, b_k, b_v = (b[:E], b[E:2 * E], b[2 * E:]) if b is not None else (None, None, None)
        out, w = multi_head_attention(query, key, value, self.num_heads, w_q, w_k, w_v, b_q, b_k, b_v,
                                      self.out_proj.weight, self.out_proj.bias, self.dropout, self.training,
                                      key_padding_mask, need_weights, attn_mask, average_attn_weights, is_causal,
                                      getattr(self, "bias_k", None), getattr(self, "bias_v", None),
                                      getattr(self, "add_zero_attn", False))
        if unbatched:
            out = out.squeeze(0)
            w = w.squeeze(0) if w is not None else None
        elif not self.batch_first:
            out = out.transpose(0, 1)
        return out, w

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"
