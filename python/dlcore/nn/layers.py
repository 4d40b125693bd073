"""Layers over dlcore.functional (convolution, pooling, normalisation, dropout, activations, embedding, losses).

Each module looks its functional op up at call time, so it works as soon as the kernel family providing the op
is built; until then calling it raises a NotImplementedError naming the missing function.
"""
from __future__ import annotations

import math

from .. import _C
from .. import _ops
from .. import functional as _functional
from . import init
from .module import Module
from .parameter import Parameter


def _device_or_default(device):
    """device, or the default device (dlcore.set_default_device / ``with dlcore.device(...)``) when None,
    as torch's modules place their parameters and buffers."""
    if device is not None:
        return device
    from .._torch_extra2 import get_default_device
    return get_default_device()


__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d", "AvgPool1d",
           "AvgPool2d", "LPPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "BatchNorm1d", "BatchNorm2d", "LocalResponseNorm", "Dropout",
           "Dropout2d", "ReLU", "ReLU6", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "GELU", "Softplus", "Softmax",
           "LogSoftmax", "Embedding", "CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "BCELoss",
           "BCEWithLogitsLoss", "MultiMarginLoss", "HingeEmbeddingLoss"]


def _F(name, who):
    fn = getattr(_functional, name, None)
    if fn is None:
        raise NotImplementedError(f"nn.{who}: dlcore.functional.{name} is not available in this build "
                                  "(its kernel family has not landed yet)")
    return fn


def _empty(shape, device=None, dtype=None):
    from .._creation import get_default_dtype
    return _C.empty(list(shape), dtype or get_default_dtype(), _device_or_default(device))


def _ntuple(v, n, who, what):
    if isinstance(v, (tuple, list)):
        if len(v) != n:
            raise ValueError(f"nn.{who}: {what} must be an int or a {n}-tuple, got {v!r}")
        return tuple(int(x) for x in v)
    return (int(v),) * n


# ------------------------------------------------------------------------------------------------- convolution

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")

class _ConvNd(Module):
    _n = 2
    _fn = "conv2d"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        who = type(self).__name__
        n = self._n
        if groups <= 0:
            raise ValueError(f"nn.{who}: groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError(f"nn.{who}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups != 0:
            raise ValueError(f"nn.{who}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"nn.{who}: padding_mode must be one of {list(_PADDING_MODES)}, got {padding_mode!r}")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"nn.{who}: invalid padding string {padding!r}, should be one of "
                                 "{'valid', 'same'}")
            if padding == "same" and any(s != 1 for s in _ntuple(stride, n, who, "stride")):
                raise ValueError(f"nn.{who}: padding='same' is not supported for strided convolutions")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _ntuple(kernel_size, n, who, "kernel_size")
        self.stride = _ntuple(stride, n, who, "stride")
        self.padding = padding if isinstance(padding, str) else _ntuple(padding, n, who, "padding")
        self.dilation = _ntuple(dilation, n, who, "dilation")
        self.groups = groups
        self.padding_mode = padding_mode
        self.transposed = False
        self.output_padding = (0,) * n
        self.weight = Parameter(_empty(self._weight_shape(in_channels, out_channels, groups), device, dtype))
        if bias:
            self.bias = Parameter(_empty((out_channels,), device, dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _weight_shape(self, in_channels, out_channels, groups):
        return (out_channels, in_channels // groups) + self.kernel_size

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _reversed_padding_repeated_twice(self):
        """F.pad's (last_lo, last_hi, ..., first_lo, first_hi) for padding_mode != 'zeros' (torch's; 'same' puts
        the odd one at the end)."""
        if self.padding == "valid":
            return [0] * (2 * self._n)
        if self.padding == "same":
            out = []
            for d, k in zip(reversed(self.dilation), reversed(self.kernel_size)):
                total = d * (k - 1)
                out += [total // 2, total - total // 2]
            return out
        out = []
        for p in reversed(self.padding):
            out += [p, p]
        return out

    def forward(self, input):
        conv = _F(self._fn, type(self).__name__)
        if self.padding_mode != "zeros":  # torch's _conv_forward: pad with the mode, then convolve unpadded
            x = _F("pad", type(self).__name__)(input, self._reversed_padding_repeated_twice(), mode=self.padding_mode)
            return conv(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        pad = self.padding
        if pad == "valid":
            pad = (0,) * self._n
        elif pad == "same" and not any((d * (k - 1)) % 2 for d, k in zip(self.dilation, self.kernel_size)):
            pad = tuple(d * (k - 1) // 2 for d, k in zip(self.dilation, self.kernel_size))
        # (an even effective kernel with 'same' stays a string: the functional pads it asymmetrically, as torch)
        return conv(input, self.weight, self.bias, self.stride, pad, self.dilation, self.groups)

    def extra_repr(self):
        s = "{in_channels}, {out_channels}, kernel_size={kernel_size}, stride={stride}"
        if self.padding != (0,) * len(self.kernel_size):
            s += ", padding={padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += ", dilation={dilation}"
        if self.groups != 1:
            s += ", groups={groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += ", padding_mode={padding_mode}"
        return s.format(**self.__dict__)


class Conv1d(_ConvNd):
    """1-D convolution over [N, C_in, L]: weight [C_out, C_in/groups, K] (PyTorch's default init)."""
    _n = 1
    _fn = "conv1d"


class Conv2d(_ConvNd):
    """2-D convolution over [N, C_in, H, W]: weight [C_out, C_in/groups, KH, KW] (PyTorch's default init)."""
    _n = 2
    _fn = "conv2d"


class _ConvTransposeNd(_ConvNd):
    """Transposed convolution: weight [C_in, C_out/groups, *kernel] (PyTorch's layout and default init)."""
    _fn = "conv_transpose2d"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        who = type(self).__name__
        if isinstance(padding, str):
            raise ValueError(f"nn.{who}: padding must be an int or a tuple (no 'same'/'valid' strings for "
                             "transposed convolutions)")
        if padding_mode != "zeros":
            raise ValueError(f"nn.{who}: only 'zeros' padding_mode is supported for transposed convolutions")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)
        n = self._n
        self.output_padding = _ntuple(output_padding, n, who, "output_padding")
        for o, st, d in zip(self.output_padding, self.stride, self.dilation):
            if o < 0 or (o >= st and o >= d):
                raise ValueError(f"nn.{who}: output_padding {self.output_padding} must be smaller than either "
                                 f"stride {self.stride} or dilation {self.dilation}")
        self.transposed = True

    def _weight_shape(self, in_channels, out_channels, groups):
        # PyTorch's layout; reset_parameters' fan_in (weight dimension 1 x kernel) is then PyTorch's too
        return (in_channels, out_channels // groups) + self.kernel_size

    def _output_padding(self, input, output_size):
        if output_size is None:
            return self.output_padding
        who = type(self).__name__
        n = self._n
        size = list(output_size)
        if len(size) == n + 2 or (len(size) == n + 1 and input.ndim == n + 1):
            size = size[-n:]
        if len(size) != n:
            raise ValueError(f"nn.{who}: output_size must have {n} or {n + 2} elements (got {len(size)})")
        spatial = list(input.shape[-n:])
        pad = []
        for i in range(n):
            lo = ((spatial[i] - 1) * self.stride[i] - 2 * self.padding[i] +
                  self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            hi = lo + self.stride[i] - 1  # torch's range (output_padding < stride), even where dilation > stride
            if not lo <= size[i] <= hi:
                raise ValueError(f"nn.{who}: requested an output size of {list(output_size)}, but valid sizes "
                                 f"range from {lo} to {hi} (for an input of {list(input.shape)})")
            pad.append(size[i] - lo)
        return tuple(pad)

    def forward(self, input, output_size=None):
        opad = self._output_padding(input, output_size)
        return _F(self._fn, type(self).__name__)(input, self.weight, self.bias, self.stride, self.padding, opad,
                                                  self.groups, self.dilation)

    def extra_repr(self):
        s = super().extra_repr()
        if self.output_padding != (0,) * self._n:
            s += f", output_padding={self.output_padding}"
        return s


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution over [N, C_in, L]: weight [C_in, C_out/groups, K] (PyTorch's default init)."""
    _n = 1
    _fn = "conv_transpose1d"


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution over [N, C_in, H, W]: weight [C_in, C_out/groups, KH, KW] (PyTorch's default
    init); forward(input, output_size=None) like PyTorch's."""
    _n = 2
    _fn = "conv_transpose2d"


# ------------------------------------------------------------------------------------------------- pooling

class _MaxPoolNd(Module):
    _fn = "max_pool2d"

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return _F(self._fn, type(self).__name__)(input, self.kernel_size, self.stride, self.padding, self.dilation,
                                                  ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self):
        return ("kernel_size={kernel_size}, stride={stride}, padding={padding}, dilation={dilation}, "
                "ceil_mode={ceil_mode}").format(**self.__dict__)


class MaxPool1d(_MaxPoolNd):
    _fn = "max_pool1d"


class MaxPool2d(_MaxPoolNd):
    _fn = "max_pool2d"


class _AvgPoolNd(Module):
    _fn = "avg_pool2d"

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        f = _F(self._fn, type(self).__name__)
        if self.divisor_override is not None:
            return f(input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                     self.divisor_override)
        return f(input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self):
        return "kernel_size={kernel_size}, stride={stride}, padding={padding}".format(**self.__dict__)


class AvgPool1d(_AvgPoolNd):
    _fn = "avg_pool1d"

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        def single(v):  # torch's _single: AvgPool1d keeps 1-tuples (its attributes and repr)
            return tuple(v) if isinstance(v, (tuple, list)) else (v,)
        super().__init__(single(kernel_size), single(stride if stride is not None else kernel_size),
                         single(padding), ceil_mode, count_include_pad)


class AvgPool2d(_AvgPoolNd):
    _fn = "avg_pool2d"


class _LPPoolNd(Module):
    """Power-average pooling: (sum over the window of x^p)^(1/p), by functional._fn."""

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return _F(self._fn, type(self).__name__)(input, float(self.norm_type), self.kernel_size, self.stride,
                                                 self.ceil_mode)

    def extra_repr(self):
        return "norm_type={norm_type}, kernel_size={kernel_size}, stride={stride}, ceil_mode={ceil_mode}".format(
            **self.__dict__)


class LPPool2d(_LPPoolNd):
    """Power-average pooling: (sum over the window of x^p)^(1/p)."""
    _fn = "lp_pool2d"


class _AdaptiveAvgPoolNd(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return _F(self._fn, type(self).__name__)(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    _fn = "adaptive_avg_pool2d"


class _AdaptiveMaxPoolNd(Module):
    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input):
        return _F(self._fn, type(self).__name__)(input, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    _fn = "adaptive_max_pool2d"


# ------------------------------------------------------------------------------------------------- normalisation

class _BatchNorm(Module):
    _expected_dims = (2, 3)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(_empty((num_features,), device, dtype))
            if bias:
                self.bias = Parameter(_empty((num_features,), device, dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", _C.zeros([num_features], dtype or _default_dtype(),
                                                          _device_or_default(device)))
            self.register_buffer("running_var", _C.ones_like(self.running_mean) if hasattr(_C, "ones_like")
                                 else _C.full([num_features], 1.0, self.running_mean.dtype, self.running_mean.device))
            self.register_buffer("num_batches_tracked", _C.zeros([], _C.dtype.int64, _device_or_default(device)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            _C.fill_(self.running_mean, 0)
            _C.fill_(self.running_var, 1)
            _C.fill_(self.num_batches_tracked, 0)

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, input):
        if input.ndim not in self._expected_dims:
            exp = " or ".join(f"{d}D" for d in self._expected_dims)
            raise ValueError(f"nn.{type(self).__name__}: expected {exp} input (got {input.ndim}D input)")

    def forward(self, input):
        self._check_input_dim(input)
        if input.shape[1] != self.num_features:
            raise _C.ShapeError(f"nn.{type(self).__name__}: expected input with {self.num_features} channels (dim 1), "
                             f"got shape {list(input.shape)}")
        if self.momentum is None:
            factor = 0.0
        else:
            factor = self.momentum
        if self.training and self.track_running_stats:
            nbt = self.num_batches_tracked
            if nbt is not None:
                _C.add_(nbt, 1)
                if self.momentum is None:
                    factor = 1.0 / float(nbt.item())
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        rm = self.running_mean if not self.training or self.track_running_stats else None
        rv = self.running_var if not self.training or self.track_running_stats else None
        return _F("batch_norm", type(self).__name__)(input, rm, rv, self.weight, self.bias, bn_training, factor,
                                                      self.eps)

    def extra_repr(self):
        return ("{num_features}, eps={eps}, momentum={momentum}, affine={affine}, bias={use_bias}, "
                "track_running_stats={track_running_stats}").format(**self.__dict__, use_bias=self.bias is not None)


def _default_dtype():
    from .._creation import get_default_dtype
    return get_default_dtype()


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over [N, C] or [N, C, L] (statistics per channel C)."""
    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over [N, C, H, W] (statistics per channel C)."""
    _expected_dims = (4,)


class LocalResponseNorm(Module):
    """b_c = a_c / (k + alpha/n * sum_{c' in window(c)} a_c'^2)^beta across channels (AlexNet)."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        return _F("local_response_norm", "LocalResponseNorm")(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return "{size}, alpha={alpha}, beta={beta}, k={k}".format(**self.__dict__)


# ------------------------------------------------------------------------------------------------- dropout

class Dropout(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return _F("dropout", "Dropout")(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    def forward(self, input):
        return _F("dropout2d", "Dropout2d")(input, self.p, self.training, self.inplace)


# ------------------------------------------------------------------------------------------------- activations

class ReLU(Module):
    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return _F("relu", "ReLU")(input, inplace=self.inplace) if self.inplace else _F("relu", "ReLU")(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class ReLU6(ReLU):
    def forward(self, input):
        f = getattr(_functional, "relu6", None)
        if f is not None:
            return f(input, self.inplace)
        return _ops.clamp(input, 0.0, 6.0)


class LeakyReLU(Module):
    def __init__(self, negative_slope=1e-2, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return _F("leaky_relu", "LeakyReLU")(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):
        return _F("elu", "ELU")(input, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Sigmoid(Module):
    def forward(self, input):
        f = getattr(_functional, "sigmoid", None) or _ops.sigmoid
        return f(input)


class Tanh(Module):
    def forward(self, input):
        f = getattr(_functional, "tanh", None) or _ops.tanh
        return f(input)


class GELU(Module):
    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"nn.GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):
        f = _F("gelu", "GELU")
        return f(input, approximate=self.approximate) if self.approximate != "none" else f(input)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input):
        return _F("softplus", "Softplus")(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


def _softmax_dim(ndim):
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        dim = self.dim if self.dim is not None else _softmax_dim(input.ndim)
        return _F("softmax", "Softmax")(input, dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        dim = self.dim if self.dim is not None else _softmax_dim(input.ndim)
        return _F("log_softmax", "LogSoftmax")(input, dim)

    def extra_repr(self):
        return f"dim={self.dim}"


# ------------------------------------------------------------------------------------------------- embedding

class Embedding(Module):
    """A lookup table [num_embeddings, embedding_dim], initialised N(0, 1) (the padding_idx row zero)."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, device=None, dtype=None):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        if padding_idx is not None:
            if padding_idx > 0:
                if padding_idx >= num_embeddings:
                    raise ValueError("nn.Embedding: padding_idx must be within num_embeddings")
            elif padding_idx < 0:
                if padding_idx < -num_embeddings:
                    raise ValueError("nn.Embedding: padding_idx must be within num_embeddings")
                padding_idx = num_embeddings + padding_idx
        if sparse:
            raise NotImplementedError("nn.Embedding: sparse gradients are not supported by dlcore")
        self.padding_idx = padding_idx
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        if _weight is None:
            self.weight = Parameter(_empty((num_embeddings, embedding_dim), device, dtype), requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if list(_weight.shape) != [num_embeddings, embedding_dim]:
                raise ValueError("nn.Embedding: shape of weight does not match num_embeddings and embedding_dim")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            from ..autograd import no_grad
            with no_grad():
                _C.fill_(_C.select(self.weight, 0, self.padding_idx), 0)

    def forward(self, input):
        return _F("embedding", "Embedding")(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                                            self.scale_grad_by_freq, self.sparse)

    def extra_repr(self):
        s = "{num_embeddings}, {embedding_dim}"
        if self.padding_idx is not None:
            s += ", padding_idx={padding_idx}"
        if self.max_norm is not None:
            s += ", max_norm={max_norm}"
        return s.format(**self.__dict__)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, sparse=False):
        if embeddings.ndim != 2:
            raise ValueError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = embeddings.shape
        return cls(rows, cols, _weight=embeddings, _freeze=freeze, padding_idx=padding_idx, max_norm=max_norm,
                   norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


# ------------------------------------------------------------------------------------------------- losses

def _reduction(size_average, reduce, reduction):
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        reduction = _reduction(size_average, reduce, reduction)
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"{reduction} is not a valid value for reduction")
        self.reduction = reduction

    def extra_repr(self):
        return ""


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                 label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return _F("cross_entropy", "CrossEntropyLoss")(input, target, weight=self.weight,
                                                       ignore_index=self.ignore_index, reduction=self.reduction,
                                                       label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return _F("nll_loss", "NLLLoss")(input, target, weight=self.weight, ignore_index=self.ignore_index,
                                         reduction=self.reduction)


class MSELoss(_Loss):
    def forward(self, input, target):
        return _F("mse_loss", "MSELoss")(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    def forward(self, input, target):
        return _F("l1_loss", "L1Loss")(input, target, reduction=self.reduction)


class BCELoss(_WeightedLoss):
    def forward(self, input, target):
        return _F("binary_cross_entropy", "BCELoss")(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return _F("binary_cross_entropy_with_logits", "BCEWithLogitsLoss")(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight)


class MultiMarginLoss(_WeightedLoss):
    def __init__(self, p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError("only p == 1 and p == 2 supported")
        if weight is not None and weight.ndim != 1:
            raise ValueError(f"MultiMarginLoss: expected weight to be a 1D tensor, got {weight.ndim}D")
        self.p = p
        self.margin = margin

    def forward(self, input, target):
        return _F("multi_margin_loss", "MultiMarginLoss")(input, target, p=self.p, margin=self.margin,
                                                          weight=self.weight, reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    def __init__(self, margin=1.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input, target):
        return _F("hinge_embedding_loss", "HingeEmbeddingLoss")(input, target, margin=self.margin,
                                                                reduction=self.reduction)
