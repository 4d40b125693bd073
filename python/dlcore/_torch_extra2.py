"""Yet more of PyTorch's top-level namespace, with torch's top-level signatures (which differ from nn.functional's in
places: integer reductions, positional train flags, tuple results), composed of dlcore's differentiable ops:

- global settings: set_printoptions / get_printoptions / printoptions (dlcore.Tensor's repr, see _printing below),
  set_default_device / get_default_device (the factory functions honour it), use_deterministic_algorithms,
  set_flush_denormal, get/set_num_interop_threads, typename, is_inference_mode_enabled, anomaly mode switches;
- window functions: hann, hamming, blackman, bartlett, kaiser;
- nn.functional ops torch also exposes at top level (pools, dropouts, norms, transposed convolutions, conv_tbc,
  convolution, activations, losses with integer reductions, embedding_bag's 4-tuple, cells, grid_sampler, ...);
- sampling: poisson, binomial; low-rank: svd_lowrank, pca_lowrank; old linalg names: lu, lu_unpack (and lstsq,
  matrix_rank, solve, which raise torch's "removed" errors), frobenius_norm, nuclear_norm;
- gradient, histogramdd, vmap, fill, the *_copy view-copy variants, empty_permuted, frombuffer, nonzero_static,
  segment_reduce, get_device.
"""
from __future__ import annotations

import builtins
import contextlib
import math
import threading
import warnings
from collections import namedtuple

import numpy as np

import dlcore as _dl

from . import _C
from ._out import with_out as _with_out
from . import _anomaly
from .autograd import Function as _Function

Tensor = _C.Tensor
_isT = isinstance

__all__ = [
    "set_printoptions", "get_printoptions", "printoptions", "set_default_device", "get_default_device",
    "use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
    "is_deterministic_algorithms_warn_only_enabled", "set_flush_denormal", "get_num_interop_threads",
    "set_num_interop_threads", "typename", "is_inference_mode_enabled", "is_anomaly_enabled",
    "is_anomaly_check_nan_enabled", "set_anomaly_enabled", "inference_mode",
    "hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window",
    "avg_pool1d", "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "adaptive_avg_pool1d",
    "adaptive_max_pool1d", "dropout", "alpha_dropout", "feature_alpha_dropout", "feature_dropout", "layer_norm",
    "group_norm", "instance_norm", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "conv_tbc",
    "convolution", "celu", "selu", "rrelu", "prelu", "threshold", "hardshrink", "kl_div",
    "binary_cross_entropy_with_logits", "cosine_embedding_loss", "hinge_embedding_loss", "margin_ranking_loss",
    "triplet_margin_loss", "poisson_nll_loss", "ctc_loss", "embedding_bag", "bilinear", "pixel_shuffle",
    "pixel_unshuffle", "channel_shuffle", "pdist", "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell",
    "constant_pad_nd", "grid_sampler", "poisson", "binomial", "pca_lowrank", "svd_lowrank", "lu", "lu_unpack",
    "lstsq", "matrix_rank", "solve", "frobenius_norm", "nuclear_norm", "gradient", "histogramdd", "vmap", "fill",
    "view_copy", "permute_copy", "transpose_copy", "t_copy", "squeeze_copy", "unsqueeze_copy", "expand_copy",
    "select_copy", "slice_copy", "split_copy", "split_with_sizes_copy", "unbind_copy", "diagonal_copy",
    "detach_copy", "alias_copy", "as_strided_copy", "unfold_copy", "empty_permuted", "frombuffer",
    "nonzero_static", "segment_reduce", "get_device", "adjoint"]

is_anomaly_enabled = _anomaly.is_anomaly_enabled
is_anomaly_check_nan_enabled = _anomaly.is_anomaly_check_nan_enabled
set_anomaly_enabled = _anomaly.set_anomaly_enabled
inference_mode = _anomaly.inference_mode


def _F():
    from .nn import functional
    return functional


def _check_tensor(x, op, name="input"):
    if not _isT(x, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be a Tensor, not {type(x).__name__}")


# ================================================================================================ print options

class _PrintOptions:
    precision = 4
    threshold = 1000
    edgeitems = 3
    linewidth = 80
    sci_mode = None


PRINT_OPTS = _PrintOptions()


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    """Sets the options of dlcore.Tensor's repr (torch.set_printoptions): precision (digits after the point,
    default 4), threshold (more elements than this are summarized, default 1000), edgeitems (items kept at each
    end of a summarized dimension, default 3), linewidth (characters per line, default 80), profile ('default',
    'short', 'full') and sci_mode (True/False forces scientific notation on or off; None chooses, like torch)."""
    if profile is not None:
        presets = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80), "full": (4, math.inf, 3, 80)}
        if profile not in presets:
            raise ValueError(f"set_printoptions(): profile must be one of 'default', 'short', 'full', got "
                             f"{profile!r}")
        (PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth) = presets[profile]
    if precision is not None:
        PRINT_OPTS.precision = int(precision)
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = int(edgeitems)
    if linewidth is not None:
        PRINT_OPTS.linewidth = int(linewidth)
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions():
    """The current print options as a dict that set_printoptions(**d) accepts."""
    return {"precision": PRINT_OPTS.precision, "threshold": PRINT_OPTS.threshold,
            "edgeitems": PRINT_OPTS.edgeitems, "linewidth": PRINT_OPTS.linewidth, "sci_mode": PRINT_OPTS.sci_mode}


@contextlib.contextmanager
def printoptions(**kwargs):
    """Context manager: set_printoptions(**kwargs) inside the block, the previous options after."""
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


class _Formatter:
    """torch._tensor_str._Formatter over a NumPy array: integer mode ('1.'), fixed or scientific notation, chosen
    from the nonzero finite values, and the common width."""

    def __init__(self, a, floating):
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        p = PRINT_OPTS.precision
        flat = a.reshape(-1)
        if not floating:
            for v in flat.tolist():
                self.max_width = builtins.max(self.max_width, len(f"{v}"))
            return
        vals = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
        if vals.size == 0:
            return
        absv = np.abs(vals)
        mn, mx = absv.min(), absv.max()
        self.int_mode = bool(np.all(vals == np.ceil(vals)))
        if PRINT_OPTS.sci_mode is None:
            self.sci_mode = bool(mx / mn > 1000.0 or mx > 1.0e8 or mn < 1.0e-4)
        else:
            self.sci_mode = bool(PRINT_OPTS.sci_mode)
        for v in vals.tolist():
            if self.sci_mode:
                w = len(f"{v:.{p}e}")
            elif self.int_mode:
                w = len(f"{v:.0f}") + 1
            else:
                w = len(f"{v:.{p}f}")
            self.max_width = builtins.max(self.max_width, w)

    def format(self, v):
        p = PRINT_OPTS.precision
        if self.floating:
            if self.sci_mode:
                ret = f"{v:{self.max_width}.{p}e}"
            elif self.int_mode:
                ret = f"{v:.0f}"
                if not (math.isinf(v) or math.isnan(v)):
                    ret += "."
            else:
                ret = f"{v:.{p}f}"
        else:
            ret = f"{v}"
        return (self.max_width - len(ret)) * " " + ret


def _summarized(a):
    e = PRINT_OPTS.edgeitems
    if a.ndim == 0:
        return a
    if a.ndim == 1:
        return np.concatenate([a[:e], a[-e:]]) if a.shape[0] > 2 * e else a
    if not e:
        return a[tuple(slice(0, 0) for _ in range(a.ndim))]
    rows = list(range(e)) + list(range(a.shape[0] - e, a.shape[0])) if a.shape[0] > 2 * e else range(a.shape[0])
    return np.stack([_summarized(a[i]) for i in rows])


def _vector_str(a, indent, summarize, fmt):
    e = PRINT_OPTS.edgeitems
    per_line = builtins.max(1, math.floor((PRINT_OPTS.linewidth - indent) / (fmt.max_width + 2)))
    if summarize and not e:
        data = ["..."]
    elif summarize and a.shape[0] > 2 * e:
        data = [fmt.format(v) for v in a[:e].tolist()] + [" ..."] + [fmt.format(v) for v in a[-e:].tolist()]
    else:
        data = [fmt.format(v) for v in a.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in builtins.range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _array_str(a, indent, summarize, fmt):
    if a.ndim == 0:
        return fmt.format(a.item())
    if a.ndim == 1:
        return _vector_str(a, indent, summarize, fmt)
    e = PRINT_OPTS.edgeitems
    n = a.shape[0]
    if summarize and n > 2 * e:
        parts = ([_array_str(a[i], indent + 1, summarize, fmt) for i in builtins.range(e)] + ["..."]
                 + [_array_str(a[i], indent + 1, summarize, fmt) for i in builtins.range(n - e, n)])
    else:
        parts = [_array_str(a[i], indent + 1, summarize, fmt) for i in builtins.range(n)]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _add_suffixes(s, suffixes, indent):
    out = [s]
    last = len(s) - s.rfind("\n") + 1
    for suf in suffixes:
        if last + len(suf) + 2 > PRINT_OPTS.linewidth:
            out.append(",\n" + " " * indent + suf)
            last = indent + len(suf)
        else:
            out.append(", " + suf)
            last += len(suf) + 2
    out.append(")")
    return "".join(out)


def _tensor_repr(self):
    """dlcore.Tensor's repr, torch's format and rules (torch/_tensor_str.py) under the current print options."""
    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    if self.device.type != get_default_device().type:
        suffixes.append(f"device='{self.device}'")
    a = _C.to(self, None, "cpu", False)
    if self.dtype == _C.dtype.bfloat16 or self.dtype == _C.dtype.float16:
        a = _C.to(a, _C.dtype.float32, None, False)
    arr = np.asarray(_C.Tensor._raw_numpy(a))
    default_dt = _dl.get_default_dtype()
    has_default_dtype = self.dtype in (default_dt, _C.dtype.int64, _C.dtype.bool)
    if self.numel() == 0:
        if self.ndim != 1:
            suffixes.append(f"size={tuple(self.shape)}")
        if self.dtype != default_dt:
            suffixes.append(f"dtype={self.dtype!r}")
        body = "[]"
    else:
        if not PRINT_OPTS.edgeitems:
            suffixes.append(f"size={tuple(self.shape)}")
        if not has_default_dtype:
            suffixes.append(f"dtype={self.dtype!r}")
        summarize = self.numel() > PRINT_OPTS.threshold
        floating = self.dtype.is_floating_point
        fmt = _Formatter(_summarized(arr) if summarize else arr, floating)
        body = _array_str(arr, indent, summarize, fmt)
    if self.grad_fn is not None:
        suffixes.append(f"grad_fn=<{self.grad_fn.name()}>")
    elif self.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)


Tensor.__repr__ = _tensor_repr
Tensor.__str__ = _tensor_repr


# ================================================================================================ global settings

class _DefaultDevice(threading.local):
    device = None  # None: cpu


_default_device = _DefaultDevice()

# The factory functions that take device= and create from nothing (torch's list of functions that honour the
# default device); *_like functions and Tensor.new_* follow their argument instead.
_FACTORIES = ["tensor", "as_tensor", "asarray", "empty", "zeros", "ones", "full", "arange", "linspace", "logspace",
              "eye", "rand", "randn", "randint", "randperm", "normal", "scalar_tensor", "range", "empty_strided",
              "tril_indices", "triu_indices", "hann_window", "hamming_window", "blackman_window", "bartlett_window",
              "kaiser_window", "empty_permuted"]
_originals = {}


def _with_default_device(fn):
    def wrapper(*args, **kwargs):
        if kwargs.get("device") is None and _default_device.device is not None:
            if fn.__name__ in ("as_tensor", "asarray") and args and _isT(args[0], Tensor):
                return fn(*args, **kwargs)  # an existing tensor keeps its device
            if fn.__name__ == "normal" and any(_isT(a, Tensor) for a in list(args) + list(kwargs.values())):
                return fn(*args, **kwargs)  # normal(mean_tensor, std): the parameters' device
            kwargs["device"] = _default_device.device
        return fn(*args, **kwargs)

    wrapper.__name__ = fn.__name__
    wrapper.__qualname__ = fn.__qualname__
    wrapper.__doc__ = fn.__doc__
    wrapper.__wrapped__ = fn
    return wrapper


def _install_factories(on):
    from . import _creation
    for name in _FACTORIES:
        for mod in (_dl, _creation):
            cur = getattr(mod, name, None)
            if cur is None:
                continue
            key = (mod.__name__, name)
            if on and key not in _originals:
                _originals[key] = cur
                setattr(mod, name, _with_default_device(cur))
            elif not on and key in _originals:
                setattr(mod, name, _originals.pop(key))


def set_default_device(device):
    """Sets the device the factory functions (zeros, ones, empty, full, rand, randn, arange, tensor, ...) use when
    no device is given (torch.set_default_device); None or 'cpu' restores the CPU. Per thread, like torch. The
    factories are wrapped from the first non-CPU default on (before it: no cost), and stay wrapped: a reset in one
    thread must not drop another thread's default (the wrappers read the calling thread's device)."""
    if device is None:
        dev = None
    else:
        dev = device if _isT(device, _C.device) else _C.device(str(device) if not isinstance(device, int)
                                                               else f"cuda:{device}")
        if dev.type == "cpu":
            dev = None
        else:
            _C.zeros([0], _C.dtype.float32, dev)  # raises now, naming the device, if dlcore can't place tensors there
    _default_device.device = dev
    if dev is not None:
        _install_factories(True)


def get_default_device():
    """The device factory functions use when none is given (torch.get_default_device)."""
    return _default_device.device if _default_device.device is not None else _C.device("cpu")


class _Determinism:
    enabled = False
    warn_only = False


_det = _Determinism()


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Records whether deterministic algorithms are required (torch.use_deterministic_algorithms). dlcore's CPU
    kernels are deterministic for a given thread count (fixed reduction orders, no atomics), so setting it changes
    no CPU result."""
    if not isinstance(mode, builtins.bool):
        raise TypeError(f"use_deterministic_algorithms(): argument 'mode' must be bool, not {type(mode).__name__}")
    _det.enabled = mode
    _det.warn_only = builtins.bool(warn_only)


def are_deterministic_algorithms_enabled():
    return _det.enabled


def is_deterministic_algorithms_warn_only_enabled():
    return _det.enabled and _det.warn_only


def set_flush_denormal(mode):
    """torch.set_flush_denormal: True when flush-to-zero mode was configured. dlcore's kernels do not expose the
    CPU's FTZ/DAZ control, so turning it on is not supported (False, what torch returns on CPUs without it);
    turning it off succeeds (denormals are always kept)."""
    return not builtins.bool(mode)


_interop = [None]


def get_num_interop_threads():
    """The inter-op thread count (torch.get_num_interop_threads). dlcore runs ops one after another on the calling
    thread (parallelism is inside the kernels), so this is a recorded setting; its default is the intra-op count."""
    return _interop[0] if _interop[0] is not None else _dl.get_num_threads()


def set_num_interop_threads(num):
    if not isinstance(num, builtins.int) or isinstance(num, builtins.bool) or num <= 0:
        raise RuntimeError(f"set_num_interop_threads(): expected a positive number of threads, got {num!r}")
    _interop[0] = num


_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "bfloat16": "BFloat16Tensor", "int64": "LongTensor", "int32": "IntTensor", "uint8": "ByteTensor",
               "int16": "ShortTensor", "int8": "CharTensor",
               "bool": "BoolTensor"}


def typename(obj, /):
    """The fully qualified name of obj's type (torch.typename): 'dlcore.FloatTensor' (or 'dlcore.cuda.FloatTensor')
    for a tensor, 'module.QualName' otherwise."""
    if _isT(obj, Tensor):
        base = "dlcore.cuda." if obj.device.type == "cuda" else "dlcore."
        return base + _TYPE_NAMES[obj.dtype.name]
    module = getattr(obj, "__module__", "") or ""
    if hasattr(obj, "__qualname__"):
        qualname = obj.__qualname__
    elif hasattr(obj, "__name__"):
        qualname = obj.__name__
    else:
        module = obj.__class__.__module__ or ""
        qualname = obj.__class__.__qualname__
    if module in {"", "builtins"}:
        return qualname
    return f"{module}.{qualname}"


def is_inference_mode_enabled():
    """True inside dlcore.inference_mode() (torch.is_inference_mode_enabled). dlcore's inference mode is grad mode
    off (no separate inference tensors), so this reports whether an inference_mode block is active."""
    return _anomaly.inference_mode_depth() > 0


# ================================================================================================ windows

def _window(name, n, periodic, dtype, device, requires_grad, values):
    if not isinstance(n, builtins.int) or isinstance(n, builtins.bool):
        raise TypeError(f"{name}(): argument 'window_length' must be int, not {type(n).__name__}")
    if n < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got window_length={n}")
    dt = _dl.get_default_dtype() if dtype is None else dtype
    if not dt.is_floating_point:
        raise RuntimeError(f"{name} expects floating point dtypes, got: dlcore.{dt.name}")
    if device is None:
        device = get_default_device()
    if n == 0:
        w = np.zeros(0)
    elif n == 1:
        w = np.ones(1)
    else:
        m = n + 1 if periodic else n
        w = values(np.arange(m, dtype=np.float64), m)[:n]
    t = _dl.tensor(w, dtype=dt, device=device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False,
                pin_memory=False):
    """0.5 - 0.5 cos(2 pi k / (N - 1)) for k < window_length, N = window_length + 1 when periodic."""
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, m: 0.5 - 0.5 * np.cos(2 * np.pi * k / (m - 1)))


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None, layout=None, device=None,
                   requires_grad=False, pin_memory=False):
    """alpha - beta cos(2 pi k / (N - 1)), N = window_length + 1 when periodic."""
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, m: alpha - beta * np.cos(2 * np.pi * k / (m - 1)))


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False,
                    pin_memory=False):
    """0.42 - 0.5 cos(2 pi k / (N - 1)) + 0.08 cos(4 pi k / (N - 1)), N = window_length + 1 when periodic."""
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, m: 0.42 - 0.5 * np.cos(2 * np.pi * k / (m - 1)) + 0.08 * np.cos(4 * np.pi * k / (m - 1)))


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False,
                    pin_memory=False):
    """1 - |2k / (N - 1) - 1|, N = window_length + 1 when periodic."""
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, m: 1.0 - np.abs(2.0 * k / (m - 1) - 1.0))


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None, device=None,
                  requires_grad=False, pin_memory=False):
    """I0(beta sqrt(1 - ((k - (N-1)/2) / ((N-1)/2))^2)) / I0(beta), N = window_length + 1 when periodic."""
    def vals(k, m):
        h = (m - 1) / 2.0
        return np.i0(beta * np.sqrt(np.clip(1.0 - ((k - h) / h) ** 2, 0.0, None))) / np.i0(beta)
    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad, vals)


# ================================================================================================ nn ops, torch's forms

def _stride_or_kernel(stride, kernel_size):
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        return None
    return stride


def avg_pool1d(input, kernel_size, stride=(), padding=0, ceil_mode=False, count_include_pad=True):
    """torch.avg_pool1d (stride () or None: the kernel size)."""
    return _F().avg_pool1d(input, kernel_size, _stride_or_kernel(stride, kernel_size), padding, ceil_mode,
                           count_include_pad)


def max_pool1d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return _F().max_pool1d(input, kernel_size, _stride_or_kernel(stride, kernel_size), padding, dilation, ceil_mode)


def max_pool2d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return _F().max_pool2d(input, kernel_size, _stride_or_kernel(stride, kernel_size), padding, dilation, ceil_mode)


def max_pool3d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return _F().max_pool3d(input, kernel_size, _stride_or_kernel(stride, kernel_size), padding, dilation, ceil_mode)


def max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    """(output, indices) of a 1-D max pool."""
    return _F().max_pool1d(input, kernel_size, _stride_or_kernel(stride, kernel_size), padding, dilation, ceil_mode,
                           return_indices=True)


def adaptive_avg_pool1d(input, output_size):
    return _F().adaptive_avg_pool1d(input, output_size)


def adaptive_max_pool1d(input, output_size):
    """(output, indices), as torch's top-level form returns both."""
    return _F().adaptive_max_pool1d(input, output_size, return_indices=True)


def dropout(input, p, train):
    """torch.dropout(input, p, train)."""
    return _F().dropout(input, p, train)


def alpha_dropout(input, p, train):
    return _F().alpha_dropout(input, p, train)


def feature_alpha_dropout(input, p, train):
    return _F().feature_alpha_dropout(input, p, train)


def feature_dropout(input, p, train):
    """Zeroes whole channels (input (N, C, *): one Bernoulli(1 - p) draw per (n, c)) and scales the rest by
    1 / (1 - p) (torch.feature_dropout)."""
    _check_tensor(input, "feature_dropout")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"feature_dropout(): dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim < 2:
        raise RuntimeError(f"feature_dropout(): expected an input of at least 2 dimensions (N, C, ...), got shape "
                           f"{list(input.shape)}")
    if not train or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    shape = list(input.shape[:2]) + [1] * (input.ndim - 2)
    keep = _dl.bernoulli(_dl.full(shape, 1.0 - p, dtype=input.dtype, device=input.device))
    return input * (keep / (1.0 - p))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=True):
    return _F().layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):
    return _F().group_norm(input, num_groups, weight, bias, eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps, cudnn_enabled):
    """torch.instance_norm's argument order (weight and bias before the running statistics)."""
    return _F().instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _F().conv_transpose1d(input, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _F().conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _F().conv_transpose3d(input, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_tbc(input, weight, bias, pad=0):
    """1-D convolution over time-batch-channel input (T, B, Cin) with weight (K, Cin, Cout) and bias (Cout,), zero
    padding pad on both ends of time: the output is (T + 2 pad - K + 1, B, Cout) (torch.conv_tbc)."""
    for x, n in ((input, "input"), (weight, "weight"), (bias, "bias")):
        _check_tensor(x, "conv_tbc", n)
    if input.ndim != 3 or weight.ndim != 3 or bias.ndim != 1:
        raise RuntimeError(f"conv_tbc: expected input (T, B, C), weight (K, C, O) and bias (O,), got shapes "
                           f"{list(input.shape)}, {list(weight.shape)}, {list(bias.shape)}")
    if input.shape[2] != weight.shape[1] or bias.shape[0] != weight.shape[2]:
        raise RuntimeError(f"conv_tbc: input channels {input.shape[2]} / bias size {bias.shape[0]} do not match "
                           f"weight shape {list(weight.shape)} (K, C, O)")
    x = input.permute(1, 2, 0)
    w = weight.permute(2, 1, 0)
    y = _F().conv1d(x, w, bias, 1, pad)
    return y.permute(2, 0, 1)


def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    """torch.convolution: conv{1,2,3}d or conv_transpose{1,2,3}d chosen by weight's dimensions and transposed."""
    _check_tensor(weight, "convolution", "weight")
    nd = weight.ndim - 2
    if nd not in (1, 2, 3):
        raise RuntimeError(f"convolution: expected a 3-D, 4-D or 5-D weight, got shape {list(weight.shape)}")
    F = _F()
    if transposed:
        fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[nd - 1]
        return fn(input, weight, bias, stride, padding, output_padding, groups, dilation)
    fn = (F.conv1d, F.conv2d, F.conv3d)[nd - 1]
    return fn(input, weight, bias, stride, padding, dilation, groups)


def celu(input, alpha=1.0):
    return _F().celu(input, alpha)


def selu(input):
    return _F().selu(input)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, generator=None):
    return _F().rrelu(input, lower, upper, training, generator=generator)


def prelu(input, weight):
    return _F().prelu(input, weight)


def threshold(input, threshold, value):
    return _F().threshold(input, threshold, value)


def hardshrink(input, lambd=0.5):
    return _F().hardshrink(input, lambd)


_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}


def _reduction(r, op):
    if isinstance(r, str) and r in ("none", "mean", "sum"):
        return r
    if r not in _REDUCTIONS:
        raise ValueError(f"{op}(): reduction must be 0 (none), 1 (mean) or 2 (sum), got {r!r}")
    return _REDUCTIONS[r]


def _reduce(x, red):
    if red == "mean":
        return x.mean()
    if red == "sum":
        return x.sum()
    return x


def kl_div(input, target, reduction=1, *, log_target=False):
    """torch.kl_div: target * (log target - input) (exp(target) * (target - input) with log_target), reduced by
    the integer reduction (0 none, 1 mean over all elements, 2 sum)."""
    red = _reduction(reduction, "kl_div")
    return _reduce(_F().kl_div(input, target, reduction="none", log_target=log_target), red)


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=1):
    return _F().binary_cross_entropy_with_logits(input, target, weight, reduction=_reduction(
        reduction, "binary_cross_entropy_with_logits"), pos_weight=pos_weight)


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=1):
    return _F().cosine_embedding_loss(input1, input2, target, margin,
                                      reduction=_reduction(reduction, "cosine_embedding_loss"))


def hinge_embedding_loss(input, target, margin=1.0, reduction=1):
    return _F().hinge_embedding_loss(input, target, margin, reduction=_reduction(reduction, "hinge_embedding_loss"))


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=1):
    return _F().margin_ranking_loss(input1, input2, target, margin,
                                    reduction=_reduction(reduction, "margin_ranking_loss"))


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, reduction=1):
    return _F().triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                    reduction=_reduction(reduction, "triplet_margin_loss"))


def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    """torch.poisson_nll_loss: every argument positional, reduction an integer."""
    return _F().poisson_nll_loss(input, target, log_input, full, eps=eps,
                                 reduction=_reduction(reduction, "poisson_nll_loss"))


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction=1, zero_infinity=False):
    return _F().ctc_loss(log_probs, targets, input_lengths, target_lengths, blank,
                         _reduction(reduction, "ctc_loss"), zero_infinity)


_EMB_MODES = {0: "sum", 1: "mean", 2: "max"}


def embedding_bag(weight, input, offsets, scale_grad_by_freq=False, mode=0, sparse=False, per_sample_weights=None,
                  include_last_offset=False, padding_idx=None):
    """torch.embedding_bag (weight first, mode 0 sum / 1 mean / 2 max): (output, offset2bag, bag_size,
    max_indices) with torch's conventions for the three helper tensors: offset2bag (the bag of each index) is
    empty in sum mode; bag_size counts each bag's indices (zeros in sum mode); max_indices holds, in max mode, the
    index whose row gave each maximum (0 for empty bags), and is bag_size otherwise."""
    if mode not in _EMB_MODES:
        raise ValueError(f"embedding_bag(): mode must be 0 (sum), 1 (mean) or 2 (max), got {mode!r}")
    _check_tensor(input, "embedding_bag")
    m = _EMB_MODES[mode]
    out = _F().embedding_bag(input, weight, offsets, None, 2, scale_grad_by_freq, m, sparse, per_sample_weights,
                             include_last_offset, padding_idx)
    dev = weight.device
    idx = np.asarray(_C.Tensor._raw_numpy(_C.to(_C.contiguous(input), None, "cpu", False))).astype(np.int64)
    if input.ndim == 2:
        B, L = idx.shape
        starts = np.arange(B) * L
        idx = idx.reshape(-1)
    else:
        starts = np.asarray(_C.Tensor._raw_numpy(_C.to(_C.contiguous(offsets), None, "cpu", False))).astype(np.int64)
        if include_last_offset:
            starts = starts[:-1]
    B = len(starts)
    ends = np.append(starts[1:], len(idx)) if B else np.zeros(0, np.int64)
    off2bag = np.zeros(len(idx), np.int64)
    size = np.zeros(B, np.int64)
    for b in builtins.range(B):
        off2bag[starts[b]:ends[b]] = b
        seg = idx[starts[b]:ends[b]]
        size[b] = int(np.sum(seg != padding_idx)) if padding_idx is not None else len(seg)

    def T(a):
        return _dl.tensor(a, dtype=_C.dtype.int64, device=dev)

    if m == "sum":
        # torch's fast path (float32/16/bf16 weight, no padding_idx) leaves offset2bag empty
        fast = weight.dtype in (_C.dtype.float32, _C.dtype.float16, _C.dtype.bfloat16) and padding_idx is None
        nb = B + 1 if input.ndim == 1 and include_last_offset else B  # (torch: one per offset given)
        return (out, T(np.zeros(0, np.int64) if fast else off2bag), T(np.zeros(nb, np.int64)),
                T(np.zeros(nb, np.int64)))
    if m == "mean":
        return out, T(off2bag), T(size), T(size.copy())
    w = np.asarray(_C.Tensor._raw_numpy(_C.to(_C.contiguous(_C.to(weight, _C.dtype.float64, None, False)), None,
                                               "cpu", False)))
    maxi = np.zeros((B, w.shape[1]), np.int64)
    for b in builtins.range(B):
        seg = idx[starts[b]:ends[b]]
        if padding_idx is not None:
            seg = seg[seg != padding_idx]
        if len(seg):
            maxi[b] = seg[np.argmax(w[seg], axis=0)]
    return out, T(off2bag), T(size), T(maxi)


def bilinear(input1, input2, weight, bias=None):
    return _F().bilinear(input1, input2, weight, bias)


def pixel_shuffle(input, upscale_factor):
    return _F().pixel_shuffle(input, upscale_factor)


def pixel_unshuffle(input, downscale_factor):
    return _F().pixel_unshuffle(input, downscale_factor)


def channel_shuffle(input, groups):
    return _F().channel_shuffle(input, groups)


def pdist(input, p=2):
    return _F().pdist(input, p)


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """(h', c') of one LSTM step; hx = (h, c)."""
    return _F().lstm_cell(input, hx, w_ih, w_hh, b_ih, b_hh)


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return _F().gru_cell(input, hx, w_ih, w_hh, b_ih, b_hh)


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return _F().rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih, b_hh)


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return _F().rnn_relu_cell(input, hx, w_ih, w_hh, b_ih, b_hh)


def constant_pad_nd(input, pad, value=0):
    """Pads with the constant value; pad lists (before, after) pairs from the last dimension backwards (negative
    amounts crop), like torch.constant_pad_nd."""
    return _F().pad(input, list(pad), "constant", value)


_GRID_MODES = {0: "bilinear", 1: "nearest", 2: "bicubic"}
_GRID_PADDING = {0: "zeros", 1: "border", 2: "reflection"}


def grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners):
    """torch.grid_sampler: F.grid_sample with integer modes (interpolation 0 bilinear, 1 nearest, 2 bicubic;
    padding 0 zeros, 1 border, 2 reflection) and align_corners required."""
    if interpolation_mode not in _GRID_MODES:
        raise ValueError(f"grid_sampler(): interpolation_mode must be 0, 1 or 2, got {interpolation_mode!r}")
    if padding_mode not in _GRID_PADDING:
        raise ValueError(f"grid_sampler(): padding_mode must be 0, 1 or 2, got {padding_mode!r}")
    return _F().grid_sample(input, grid, _GRID_MODES[interpolation_mode], _GRID_PADDING[padding_mode],
                            builtins.bool(align_corners))


# ================================================================================================ sampling

@contextlib.contextmanager
def _using_generator(generator):
    """Runs the block on generator's stream: the default RNG takes its state, and hands the advanced state back."""
    if generator is None:
        yield
        return
    saved = _dl.get_rng_state()
    _dl.set_rng_state(generator.get_state())
    try:
        yield
    finally:
        generator.set_state(_dl.get_rng_state())
        _dl.set_rng_state(saved)


def poisson(input, generator=None):
    """Draws from Poisson(rate) for each element rate of input (torch.poisson); rates must be non-negative. The
    result has input's dtype and no gradient."""
    _check_tensor(input, "poisson")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"poisson(): expected a floating point rate tensor, got dlcore.{input.dtype.name}")
    from .distributions.more import _poisson_sample
    with _dl.no_grad():
        if input.numel() and builtins.bool((input < 0).any()):
            raise RuntimeError("poisson(): invalid Poisson rate, expected rate to be non-negative")
        with _using_generator(generator):
            return _poisson_sample(input.detach().contiguous())


def binomial(count, prob, generator=None):
    """Draws from Binomial(count, prob) elementwise (torch.binomial); count and prob broadcast; float result."""
    _check_tensor(count, "binomial", "count")
    _check_tensor(prob, "binomial", "prob")
    if not prob.dtype.is_floating_point:
        raise RuntimeError(f"binomial(): expected a floating point prob tensor, got dlcore.{prob.dtype.name}")
    from .distributions import Binomial
    with _dl.no_grad():
        with _using_generator(generator):
            return Binomial(total_count=count.to(prob.dtype), probs=prob, validate_args=False).sample()


# ================================================================================================ linear algebra

def _approximate_basis(A, q, niter, M):
    """Q (m, q) with orthonormal columns whose range approximates A's (Halko et al. 2009, algorithm 4.4), as in
    torch._lowrank.get_approximate_basis."""
    n = A.shape[-1]
    R = _dl.randn(*A.shape[:-2], n, q, dtype=A.dtype, device=A.device)
    X = A @ R
    if M is not None:
        X = X - M @ R
    Q = _dl.linalg.qr(X).Q
    for _ in builtins.range(niter):
        Y = A.mT @ Q
        if M is not None:
            Y = Y - M.mT @ Q
        Q = _dl.linalg.qr(Y).Q
        X = A @ Q
        if M is not None:
            X = X - M @ Q
        Q = _dl.linalg.qr(X).Q
    return Q


def svd_lowrank(A, q=6, niter=2, M=None):
    """(U, S, V) of a rank-q approximation of A - M by randomized subspace iteration (torch.svd_lowrank): A ~
    U diag(S) V^T. Differentiable through the composed ops (QR, SVD, matmul)."""
    _check_tensor(A, "svd_lowrank", "A")
    q = 6 if q is None else q
    m, n = A.shape[-2:]
    if M is not None:
        M = M.expand(*A.shape)
    if m < n:
        At = A.mT
        Mt = None if M is None else M.mT
        Q = _approximate_basis(At, q, niter, Mt)
        B = (Q.mT @ At) if Mt is None else Q.mT @ (At - Mt)
        U, S, Vh = _dl.linalg.svd(B, full_matrices=False)
        V = Q @ U
        return Vh.mT, S, V
    Q = _approximate_basis(A, q, niter, M)
    B = (Q.mT @ A) if M is None else Q.mT @ (A - M)
    U, S, Vh = _dl.linalg.svd(B, full_matrices=False)
    return Q @ U, S, Vh.mT


def pca_lowrank(A, q=None, center=True, niter=2):
    """(U, S, V) of a PCA of A (rows are observations): svd_lowrank of A minus its column means when center, with
    q = min(6, m, n) by default (torch.pca_lowrank)."""
    _check_tensor(A, "pca_lowrank", "A")
    m, n = A.shape[-2:]
    if q is None:
        q = builtins.min(6, m, n)
    elif not (q >= 0 and q <= builtins.min(m, n)):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than min(m, n)={builtins.min(m, n)}")
    if niter < 0:
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if not center:
        return svd_lowrank(A, q, niter=niter)
    c = A.mean(dim=-2, keepdim=True)
    return svd_lowrank(A - c, q, niter=niter)


@_with_out
def lu(A, pivot=True, get_infos=False, out=None):
    """(LU, pivots) (+ infos, zeros for a successful factorization) of A: the old name of linalg.lu_factor."""
    LU, piv = _dl.linalg.lu_factor(A, pivot=pivot)
    if get_infos:
        return LU, piv, _dl.zeros(tuple(A.shape[:-2]), dtype=_C.dtype.int32, device=A.device)
    return LU, piv


@_with_out
def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True, *, out=None):
    """(P, L, U) from a packed LU factorization (torch.lu_unpack): A = P @ L @ U with L unit lower-triangular
    (m, k), U upper-triangular (k, n), k = min(m, n), and P the permutation of the 1-based row swaps in LU_pivots.
    Parts not asked for are empty tensors. L and U are differentiable in LU_data."""
    _check_tensor(LU_data, "lu_unpack", "LU_data")
    _check_tensor(LU_pivots, "lu_unpack", "LU_pivots")
    if LU_data.ndim < 2:
        raise RuntimeError(f"lu_unpack: LU_data must have at least 2 dimensions, got shape {list(LU_data.shape)}")
    m, n = LU_data.shape[-2:]
    k = builtins.min(m, n)
    batch = tuple(LU_data.shape[:-2])
    empty = _dl.empty(0, dtype=LU_data.dtype, device=LU_data.device)
    if unpack_data:
        L = _dl.tril(LU_data, -1)[..., :, :k] + _dl.eye(m, k, dtype=LU_data.dtype, device=LU_data.device)
        U = _dl.triu(LU_data)[..., :k, :]
    else:
        L = U = empty
    if unpack_pivots:
        if tuple(LU_pivots.shape) != batch + (k,):
            raise RuntimeError(f"lu_unpack: LU_pivots must have shape {list(batch + (k,))}, got "
                               f"{list(LU_pivots.shape)}")
        piv = np.asarray(_C.Tensor._raw_numpy(_C.to(_C.contiguous(LU_pivots), None, "cpu", False))).astype(np.int64)
        piv = piv.reshape(-1, k)
        Ps = np.zeros((piv.shape[0], m, m))
        for b in builtins.range(piv.shape[0]):
            perm = np.arange(m)
            for i in builtins.range(k):
                j = piv[b, i] - 1
                if not 0 <= j < m:
                    raise RuntimeError(f"lu_unpack: pivot {piv[b, i]} is out of range [1, {m}]")
                perm[i], perm[j] = perm[j], perm[i]
            Ps[b][perm, np.arange(m)] = 1.0
        P = _dl.tensor(Ps.reshape(batch + (m, m)), dtype=LU_data.dtype, device=LU_data.device)
    else:
        P = empty
    return P, L, U


def lstsq(input, A, *, out=None):
    raise RuntimeError("This function was deprecated since version 1.9 and is now removed. `torch.lstsq` is "
                       "deprecated in favor of `torch.linalg.lstsq`.\n`torch.linalg.lstsq` has reversed arguments "
                       "and does not return the QR decomposition in the returned tuple (although it returns other "
                       "information about the problem).\n\nTo get the QR decomposition consider using "
                       "`torch.linalg.qr`.\n\nThe returned solution in `torch.lstsq` stored the residuals of the "
                       "solution in the last m - n columns of the returned value whenever m > n. In torch.linalg."
                       "lstsq, the residuals are in the field 'residuals' of the returned named tuple.\n\nThe unpacking"
                       " of the solution, as in\nX, _ = torch.lstsq(B, A).solution[:A.size(1)]\nshould be replaced "
                       "with:\nX = torch.linalg.lstsq(A, B).solution\n(dlcore: dlcore.linalg.lstsq)")


def matrix_rank(input, tol=None, symmetric=False, *, out=None):
    raise RuntimeError("This function was deprecated since version 1.9 and is now removed.\nPlease use the "
                       "`torch.linalg.matrix_rank` function instead. The parameter 'symmetric' was renamed in "
                       "`torch.linalg.matrix_rank()` to 'hermitian'. (dlcore: dlcore.linalg.matrix_rank)")


def solve(input, A, *, out=None):
    raise RuntimeError("This function was deprecated since version 1.9 and is now removed. `torch.solve` is "
                       "deprecated in favor of `torch.linalg.solve`. `torch.linalg.solve` has its arguments reversed "
                       "and does not return the LU factorization.\n\nTo get the LU factorization see `torch.lu`, "
                       "which can be used with `torch.lu_solve` or `torch.lu_unpack`.\nX = torch.solve(B, A)."
                       "solution should be replaced with:\nX = torch.linalg.solve(A, B) (dlcore: "
                       "dlcore.linalg.solve)")


@_with_out
def frobenius_norm(input, dim=(), keepdim=False, *, out=None):
    """sqrt(sum(input ** 2)) over dim (all dimensions when dim is empty) (torch.frobenius_norm)."""
    _check_tensor(input, "frobenius_norm")
    dims = [dim] if isinstance(dim, builtins.int) else list(dim)
    if len(dims) > 2:
        raise RuntimeError(f"frobenius_norm: expected at most 2 dims, got {dims}")
    if not dims:
        dims = list(builtins.range(input.ndim))
    return _dl.linalg.vector_norm(input, 2, dim=tuple(dims), keepdim=keepdim)


@_with_out
def nuclear_norm(input, dim=None, keepdim=False, *, out=None):
    """The sum of the singular values of input (2-D) or over the two dims given (torch.nuclear_norm; the second
    positional argument is keepdim when it is a bool)."""
    _check_tensor(input, "nuclear_norm")
    if isinstance(dim, builtins.bool):
        dim, keepdim = None, dim
    if dim is None:
        if input.ndim != 2:
            raise RuntimeError(f"nuclear_norm: expected a 2-D tensor, got shape {list(input.shape)}")
        dim = (0, 1)
    return _dl.linalg.matrix_norm(input, "nuc", dim=tuple(dim), keepdim=keepdim)


# ================================================================================================ gradient, histogramdd

def _slice(x, dim, start, stop):
    n = x.shape[dim]
    start = start + n if start < 0 else start
    stop = n if stop is None else (stop + n if stop < 0 else stop)
    return x.narrow(dim, start, stop - start)


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """Estimates the derivative of the function sampled by input along each dim (torch.gradient), with central
    differences inside and one-sided differences of order edge_order (1 or 2) at the ends. spacing: a number (the
    same step on every dim), a list of numbers (one per dim) or a list of 1-D coordinate tensors. Returns a tuple,
    one tensor per dim. Differentiable in input."""
    _check_tensor(input, "gradient")
    if dim is None:
        dims = list(builtins.range(input.ndim))
    elif isinstance(dim, builtins.int):
        dims = [dim]
    else:
        dims = list(dim)
    dims = [d + input.ndim if d < 0 else d for d in dims]
    if edge_order not in (1, 2):
        raise RuntimeError(f"torch.gradient only supports edge_order=1 and edge_order=2, got {edge_order}")
    if isinstance(spacing, (builtins.int, builtins.float)) or (_isT(spacing, Tensor) and spacing.ndim == 0):
        spacings = [float(spacing)] * len(dims)
    else:
        spacings = list(spacing)
        if len(spacings) == 1 and len(dims) > 1 and not _isT(spacings[0], Tensor):
            spacings = spacings * len(dims)
        if len(spacings) != len(dims):
            raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or it's spacing and "
                               f"dim arguments to have the same length, but got a spacing argument of length "
                               f"{len(spacings)} and a dim argument of length {len(dims)}.")
    if not input.dtype.is_floating_point:
        input = input.to(_dl.get_default_dtype())
    outs = []
    for d, h in zip(dims, spacings):
        n = input.shape[d]
        if n < edge_order + 1:
            raise RuntimeError(f"torch.gradient expected each dimension size to be at least edge_order+1")
        if _isT(h, Tensor) and h.ndim == 1:
            if h.shape[0] != n:
                raise RuntimeError(f"torch.gradient expected each tensor to be on the same device and of size "
                                   f"{n} along dim {d}, got {h.shape[0]}")
            coords = np.asarray(_C.Tensor._raw_numpy(_C.to(_C.to(_C.contiguous(h), _C.dtype.float64, None, False),
                                                            None, "cpu", False)))
            outs.append(_gradient_coords(input, d, coords, edge_order))
            continue
        h = float(h.item()) if _isT(h, Tensor) else float(h)
        inner = (_slice(input, d, 2, None) - _slice(input, d, 0, -2)) / (2.0 * h)
        if edge_order == 1:
            first = (_slice(input, d, 1, 2) - _slice(input, d, 0, 1)) / h
            last = (_slice(input, d, -1, None) - _slice(input, d, -2, -1)) / h
        else:
            first = (-1.5 * _slice(input, d, 0, 1) + 2.0 * _slice(input, d, 1, 2) - 0.5 * _slice(input, d, 2, 3)) / h
            last = (0.5 * _slice(input, d, -3, -2) - 2.0 * _slice(input, d, -2, -1) + 1.5 * _slice(input, d, -1, None)
                    ) / h
        outs.append(_dl.cat([first, inner, last], d))
    return tuple(outs)


def _coef(values, shape_d, d, ndim, like):
    shape = [1] * ndim
    shape[d] = shape_d
    return _dl.tensor(np.asarray(values).reshape(shape), dtype=like.dtype, device=like.device)


def _gradient_coords(f, d, x, edge_order):
    """Second-order accurate central differences on the non-uniform grid x (numpy.gradient's formulas)."""
    nd = f.ndim
    dx = np.diff(x)
    dx1, dx2 = dx[:-1], dx[1:]
    a = -dx2 / (dx1 * (dx1 + dx2))
    b = (dx2 - dx1) / (dx1 * dx2)
    c = dx1 / (dx2 * (dx1 + dx2))
    m = len(x) - 2
    inner = (_coef(a, m, d, nd, f) * _slice(f, d, 0, -2) + _coef(b, m, d, nd, f) * _slice(f, d, 1, -1)
             + _coef(c, m, d, nd, f) * _slice(f, d, 2, None))
    if edge_order == 1:
        first = (_slice(f, d, 1, 2) - _slice(f, d, 0, 1)) / float(dx[0])
        last = (_slice(f, d, -1, None) - _slice(f, d, -2, -1)) / float(dx[-1])
    else:
        d1, d2 = dx[0], dx[1]
        a0, b0, c0 = -(2.0 * d1 + d2) / (d1 * (d1 + d2)), (d1 + d2) / (d1 * d2), -d1 / (d2 * (d1 + d2))
        first = a0 * _slice(f, d, 0, 1) + b0 * _slice(f, d, 1, 2) + c0 * _slice(f, d, 2, 3)
        d1, d2 = dx[-2], dx[-1]
        a1, b1, c1 = d2 / (d1 * (d1 + d2)), -(d2 + d1) / (d1 * d2), (2.0 * d2 + d1) / (d2 * (d1 + d2))
        last = a1 * _slice(f, d, -3, -2) + b1 * _slice(f, d, -2, -1) + c1 * _slice(f, d, -1, None)
    return _dl.cat([first, inner, last], d)


histogramdd_return_type = namedtuple("histogramdd", ["hist", "bin_edges"])


def histogramdd(input, bins, *, range=None, weight=None, density=False):  # noqa: A002
    """A D-dimensional histogram of the points in input (..., D) (torch.histogramdd): bins an int (per dim), a list
    of ints, or a list of D 1-D tensors of edges; range (min0, max0, min1, max1, ...) for int bins (default the
    data's range per dim). Returns (hist, bin_edges) in input's floating dtype (no gradient)."""
    _check_tensor(input, "histogramdd")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"torch.histogramdd: input tensor and bins tensors should have the same dtype, and a "
                           f"floating one, got dlcore.{input.dtype.name}")
    D = input.shape[-1]
    pts = np.asarray(_C.Tensor._raw_numpy(_C.to(_C.contiguous(_C.to(input, _C.dtype.float64, None, False)), None,
                                                 "cpu", False))).reshape(-1, D)
    if isinstance(bins, builtins.int):
        bins = [bins] * D
    bins = list(bins)
    if len(bins) != D:
        raise RuntimeError(f"torch.histogramdd: expected {D} sequences of bin edges for each of the {D} dimensions "
                           f"of the input, got {len(bins)}")
    edges = []
    for i, b in enumerate(bins):
        if _isT(b, Tensor):
            edges.append(b.to(input.dtype))
            continue
        if range is not None:
            lo, hi = float(range[2 * i]), float(range[2 * i + 1])
        elif pts.shape[0]:
            lo, hi = float(pts[:, i].min()), float(pts[:, i].max())
        else:
            lo, hi = 0.0, 0.0
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5  # torch/numpy: an empty range is widened to [lo - .5, hi + .5]
        edges.append(_dl.linspace(lo, hi, int(b) + 1, dtype=input.dtype, device=input.device))
    e64 = [np.asarray(_C.Tensor._raw_numpy(_C.to(_C.contiguous(_C.to(e, _C.dtype.float64, None, False)), None, "cpu",
                                                  False))) for e in edges]
    w = None
    if weight is not None:
        w = np.asarray(_C.Tensor._raw_numpy(_C.to(_C.contiguous(_C.to(weight, _C.dtype.float64, None, False)), None,
                                                   "cpu", False))).reshape(-1)
    hist, _ = np.histogramdd(pts, bins=e64, weights=w, density=density)
    return histogramdd_return_type(_dl.tensor(hist, dtype=input.dtype, device=input.device), tuple(edges))


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """torch.vmap: dlcore.func.vmap (a loop over the mapped dimension; see there)."""
    from .func import vmap as _vmap
    return _vmap(func, in_dims, out_dims, randomness, chunk_size=chunk_size)


# ================================================================================================ copies and creation

class _Fill(_Function):
    """out = value everywhere in input's shape: no gradient to input (zeros, as torch), the sum of the output's
    gradient to a 0-d tensor value."""

    @staticmethod
    def forward(ctx, input, value):
        ctx.meta = (list(input.shape), input.dtype, input.device)
        ctx.value_dtype = value.dtype if _isT(value, Tensor) else None
        v = _C.to(value, input.dtype, None, False) if _isT(value, Tensor) else value
        if _isT(v, Tensor):
            return _C.contiguous(_C.expand(v, list(input.shape)))
        return _C.full(list(input.shape), v, input.dtype, input.device)

    @staticmethod
    def backward(ctx, g):
        shape, dtype, device = ctx.meta
        gv = None
        if ctx.value_dtype is not None and ctx.needs_input_grad[1]:
            gv = _C.to(g.sum(), ctx.value_dtype, None, False)
        return _C.zeros(shape, dtype, device), gv


def fill(input, value):
    """A new tensor of input's shape, dtype and device filled with value (a number or a 0-d tensor, whose gradient
    is the sum of the result's; input's gradient is zero) (torch.fill)."""
    _check_tensor(input, "fill")
    if _isT(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"fill only supports 0-dimension value tensor but got tensor with {value.ndim} "
                               f"dimensions.")
        if value.device != input.device:
            value = value.to(input.device)
    return _Fill.apply(input, value)


def view_copy(input, size):
    """input.view(size) (or .view(dtype)) as a new tensor."""
    if isinstance(size, _C.dtype):
        return input.view(size).clone()
    return input.view(*size).clone() if isinstance(size, (tuple, list)) else input.view(size).clone()


def permute_copy(input, dims):
    return input.permute(*dims).clone()


def transpose_copy(input, dim0, dim1):
    return input.transpose(dim0, dim1).clone()


def t_copy(input):
    return input.t().clone()


def squeeze_copy(input, dim=None):
    return (input.squeeze() if dim is None else input.squeeze(dim)).clone()


def unsqueeze_copy(input, dim):
    return input.unsqueeze(dim).clone()


def expand_copy(input, size, *, implicit=False):
    return input.expand(*size).clone()


def select_copy(input, dim, index):
    return input.select(dim, index).clone()


def slice_copy(input, dim=0, start=None, end=None, step=1):
    """input[..., start:end:step, ...] along dim, as a new tensor."""
    key = [builtins.slice(None)] * input.ndim
    key[dim] = builtins.slice(start, end, step)
    return input[tuple(key)].clone()


def split_copy(input, split_size, dim=0):
    return [t.clone() for t in _dl.split(input, split_size, dim)]


def split_with_sizes_copy(input, split_sizes, dim=0):
    return [t.clone() for t in _dl.split(input, list(split_sizes), dim)]


def unbind_copy(input, dim=0):
    return tuple(t.clone() for t in _dl.unbind(input, dim))


def diagonal_copy(input, offset=0, dim1=0, dim2=1):
    return _dl.diagonal(input, offset, dim1, dim2).clone()


def detach_copy(input):
    return input.detach().clone()


def alias_copy(input):
    return input.clone()


def as_strided_copy(input, size, stride, storage_offset=None):
    return _dl.as_strided(input, size, stride, storage_offset).clone()


def unfold_copy(input, dimension, size, step):
    return input.unfold(dimension, size, step).clone()


def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None, requires_grad=False,
                   pin_memory=False):
    """An uninitialised tensor of logical shape size whose memory is laid out in the dimension order
    physical_layout (outermost first) (torch.empty_permuted): empty(size permuted).permute(inverse)."""
    size = list(size)
    perm = list(physical_layout)
    if sorted(perm) != list(builtins.range(len(size))):
        raise RuntimeError(f"empty_permuted: physical_layout {perm} is not a permutation of the {len(size)} "
                           f"dimensions of size {size}")
    strides = [0] * len(size)
    acc = 1
    for d in reversed(perm):
        strides[d] = acc
        acc *= builtins.max(size[d], 1)
    return _dl.empty_strided(size, strides, dtype=dtype, device=device, requires_grad=requires_grad)


_NP_OF = {"float32": np.float32, "float64": np.float64, "float16": np.float16, "int64": np.int64,
          "int32": np.int32, "uint8": np.uint8, "bool": np.bool_, "int16": np.int16, "int8": np.int8}


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    """A 1-D tensor viewing the memory of an object implementing the buffer protocol (torch.frombuffer): count
    elements of dtype (all when -1) from byte offset. It shares the buffer's memory (writes are seen both ways);
    a read-only buffer gives a tensor that must not be written, as in torch."""
    if not isinstance(dtype, _C.dtype):
        raise TypeError(f"frombuffer(): argument 'dtype' must be dlcore.dtype, not {type(dtype).__name__}")
    if dtype.name not in _NP_OF:
        raise TypeError(f"frombuffer(): dlcore.{dtype.name} can't be read from a buffer (NumPy has no such type)")
    mv = memoryview(buffer)
    nbytes = mv.nbytes
    item = np.dtype(_NP_OF[dtype.name]).itemsize
    if nbytes <= 0:
        raise ValueError("both buffer length (0) and count (-1) must not be 0")
    if not 0 <= offset < nbytes:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than buffer length "
                         f"({nbytes} bytes) minus 1")
    if count == 0 or (count < 0 and (nbytes - offset) % item != 0):
        raise ValueError(f"buffer length ({nbytes - offset} bytes) after offset ({offset} bytes) must be a multiple "
                         f"of element size ({item})" if count < 0 else "both buffer length and count must not be 0")
    if count > 0 and count * item > nbytes - offset:
        raise ValueError(f"requested buffer length ({count} * {item} bytes) after offset ({offset} bytes) must not "
                         f"be greater than actual buffer length ({nbytes} bytes)")
    arr = np.frombuffer(mv.cast("B") if mv.format != "B" or mv.ndim != 1 else mv, dtype=_NP_OF[dtype.name],
                        count=count, offset=offset)
    if not arr.flags.writeable:
        warnings.warn("The given buffer is not writable, and dlcore does not support non-writable tensors. This "
                      "means you can write to the underlying (supposedly non-writable) buffer using the tensor. You "
                      "may want to copy the buffer to protect its data or make it writable before converting it to "
                      "a tensor.", UserWarning, stacklevel=2)
    t = _dl.from_numpy(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def nonzero_static(input, *, size, fill_value=-1):
    """The indices of the nonzero elements (as nonzero: (n, ndim) int64), cut or padded with fill_value to exactly
    size rows (torch.nonzero_static)."""
    _check_tensor(input, "nonzero_static")
    if not isinstance(size, builtins.int) or size < 0:
        raise RuntimeError(f"nonzero_static: 'size' must be a non-negative integer, got {size!r}")
    nz = _dl.nonzero(input)
    n = nz.shape[0]
    if n >= size:
        return nz[:size].contiguous()
    pad = _dl.full((size - n, input.ndim), fill_value, dtype=_C.dtype.int64, device=input.device)
    return _dl.cat([nz, pad], 0)


_SEG_INIT = {"sum": 0.0, "prod": 1.0, "max": -math.inf, "min": math.inf, "mean": math.nan}


def _host_ints(t):
    return np.asarray(_C.Tensor._raw_numpy(_C.to(_C.contiguous(t), None, "cpu", False))).astype(np.int64)


def segment_reduce(data, reduce, *, lengths=None, indices=None, offsets=None, axis=0, unsafe=False, initial=None):
    """Reduces consecutive segments of data along axis (torch.segment_reduce): segment i covers lengths[..., i]
    elements (or offsets[..., i]:offsets[..., i+1]); lengths/offsets have data's leading dimensions up to axis
    (lengths.shape == data.shape[:axis] + (S,)). reduce is 'sum', 'mean', 'max', 'min' or 'prod'; initial joins
    every segment's reduction (mean: (initial + sum) / count); an empty segment gives initial, or without it the
    reduction's identity (0, 1, -inf, inf; nan for mean). Differentiable in data (through scatter_reduce)."""
    _check_tensor(data, "segment_reduce", "data")
    if reduce not in _SEG_INIT:
        raise RuntimeError(f"segment_reduce: reduction {reduce!r} is not supported (sum, mean, max, min, prod)")
    if indices is not None:
        raise RuntimeError("segment_reduce(): indices based reduction is not supported yet.")
    if (lengths is None) == (offsets is None):
        raise RuntimeError("segment_reduce(): Either lengths or offsets must be defined (and not both).")
    axis = axis + data.ndim if axis < 0 else axis
    if lengths is not None:
        ln = _host_ints(lengths)
        which = "lengths"
    else:
        of = _host_ints(offsets)
        ln = np.diff(of, axis=-1) if of.ndim else of
        which = "offsets"
    if ln.ndim != axis + 1:
        raise RuntimeError(f"segment_reduce(): Expected axis to be the last dimension of {which} but got {axis}.")
    if tuple(ln.shape[:-1]) != tuple(data.shape[:axis]):
        raise RuntimeError(f"segment_reduce(): {which} of shape {list(ln.shape)} must match data's leading "
                           f"dimensions {list(data.shape[:axis])}")
    if not unsafe and (np.any(ln < 0) or np.any(ln.sum(-1) != data.shape[axis])):
        raise RuntimeError(f"segment_reduce(): the segment lengths {ln.tolist()} must be non-negative and sum to "
                           f"data.size({axis}) = {data.shape[axis]}")
    if axis == 0:
        return _segment_reduce_1d(data, reduce, ln, initial)
    lead = list(data.shape[:axis])
    flat = data.reshape(-1, *data.shape[axis:])
    lnf = ln.reshape(-1, ln.shape[-1])
    outs = [_segment_reduce_1d(flat[i], reduce, lnf[i], initial) for i in builtins.range(flat.shape[0])]
    out = _dl.stack(outs, 0)
    return out.reshape(*lead, *out.shape[1:])


def _segment_reduce_1d(x, reduce, ln, initial):
    S = len(ln)
    seg = np.repeat(np.arange(S), ln)
    idx = _dl.tensor(seg.reshape([len(seg)] + [1] * (x.ndim - 1)), dtype=_C.dtype.int64, device=x.device)
    idx = idx.expand(*x.shape)
    ident = _SEG_INIT[reduce]
    red = {"sum": "sum", "mean": "sum", "max": "amax", "min": "amin", "prod": "prod"}[reduce]
    base = _dl.full((S,) + tuple(x.shape[1:]), 0.0 if reduce == "mean" else ident, dtype=x.dtype, device=x.device)
    out = _dl.scatter_reduce(base, 0, idx, x, red, include_self=False)
    bshape = [S] + [1] * (x.ndim - 1)
    empty = _dl.tensor((ln == 0).reshape(bshape), device=x.device)
    if reduce == "mean":
        cnt = _dl.tensor(np.maximum(ln, 1).reshape(bshape).astype(np.float64), dtype=x.dtype, device=x.device)
        out = ((out + float(initial)) if initial is not None else out) / cnt
    elif initial is not None:
        init = _dl.full_like(out, float(initial))
        out = {"sum": lambda: out + float(initial), "prod": lambda: out * float(initial),
               "max": lambda: _dl.maximum(out, init), "min": lambda: _dl.minimum(out, init)}[reduce]()
    if builtins.bool(np.any(ln == 0)):
        fillv = ident if initial is None else float(initial)
        out = _dl.where(empty, _dl.full_like(out, fillv), out)
    return out


def get_device(input):
    """The device index of a tensor: -1 for the CPU (torch.get_device)."""
    _check_tensor(input, "get_device")
    if input.device.type == "cpu":
        return -1
    return input.device.index if input.device.index is not None else 0


def adjoint(input):
    """torch.adjoint: the last two dims transposed (a view; conjugation is a no-op for real tensors)."""
    _check_tensor(input, "adjoint")
    return input.adjoint()
