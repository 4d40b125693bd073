"""More of PyTorch's top-level and nn.functional surface, composed of dlcore's differentiable ops (so each runs on
every device those run on, and its gradient is the composition's):

- dtype information: finfo, iinfo;
- creation: scalar_tensor, range (torch's deprecated inclusive-end arange), empty_strided;
- detach and the top-level in-place function forms torch has (abs_, exp_, sqrt_, clamp_, fill_, zero_, ...), each
  forwarding to the Tensor's in-place method (which records it for autograd);
- nn.functional: gumbel_softmax, embedding_bag, affine_grid, grid_sample;
- math: cov, corrcoef, histogram, gcd, lcm, frexp, trapezoid, trapz, cumulative_trapezoid, vander, unravel_index,
  renorm;
- top-level aliases torch has for nn.functional ops (conv1d/2d/3d, batch_norm, embedding, cosine_similarity,
  pairwise_distance, rms_norm) with torch's top-level signatures.
"""
from __future__ import annotations

import builtins
import math
import warnings
from collections import namedtuple

import numpy as np

import dlcore as _dl

from . import _C
from .autograd import Function

Tensor = _C.Tensor
_isT = isinstance

__all__ = ["finfo", "iinfo", "detach", "scalar_tensor", "range", "empty_strided",
           "cov", "corrcoef", "histogram", "gcd", "lcm", "gcd_", "lcm_", "frexp", "trapezoid", "trapz",
           "cumulative_trapezoid", "vander", "unravel_index", "renorm",
           "conv1d", "conv2d", "conv3d", "batch_norm", "embedding", "cosine_similarity", "pairwise_distance",
           "rms_norm", "celu_", "selu_", "rrelu_", "threshold_", "dropout_", "alpha_dropout_",
           "feature_alpha_dropout_", "embedding_renorm_", "addmv_"]

_F_ALL = ["gumbel_softmax", "embedding_bag", "affine_grid", "grid_sample"]


def _check_tensor(x, op, name="input"):
    if not _isT(x, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be a Tensor, not {type(x).__name__}")


# ------------------------------------------------------------------------------------------------ finfo / iinfo

def _resolution(eps):
    return 10.0 ** -int(-math.log10(eps))


class finfo:
    """Machine limits of a floating dtype (torch.finfo): bits, eps, max, min, tiny (= smallest_normal), resolution,
    dtype (the dtype's name). With no argument, the default dtype."""

    def __init__(self, type=None):  # noqa: A002  (torch's argument name)
        dt = _dl.get_default_dtype() if type is None else type
        if not _isT(dt, _C.dtype):
            raise TypeError(f"finfo(): expected a dlcore.dtype, got {builtins.type(dt).__name__}")
        if not dt.is_floating_point:
            raise TypeError(f"finfo() requires a floating point input type, got dlcore.{dt.name}. "
                            "Use dlcore.iinfo to handle integer types")
        if dt == _C.dtype.bfloat16:
            bits, mant, max_exp = 16, 7, 127
            eps = 2.0 ** -mant
            mx = (2.0 - eps) * 2.0 ** max_exp
            tiny = 2.0 ** -126
        else:
            nf = np.finfo({_C.dtype.float16: np.float16, _C.dtype.float32: np.float32,
                           _C.dtype.float64: np.float64}[dt])
            bits, eps, mx, tiny = int(nf.bits), float(nf.eps), float(nf.max), float(nf.smallest_normal)
        self.bits = bits
        self.eps = eps
        self.max = mx
        self.min = -mx
        self.tiny = tiny
        self.smallest_normal = tiny
        self.resolution = _resolution(eps)
        self.dtype = dt.name

    def __eq__(self, other):
        return _isT(other, finfo) and other.dtype == self.dtype

    def __hash__(self):
        return hash(("finfo", self.dtype))

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """Machine limits of an integer dtype (torch.iinfo): bits, max, min, dtype (the dtype's name)."""

    def __init__(self, type):  # noqa: A002
        if not _isT(type, _C.dtype):
            raise TypeError(f"iinfo(): expected a dlcore.dtype, got {builtins.type(type).__name__}")
        if type == _C.dtype.bool:
            raise TypeError("dlcore.bool is not supported by dlcore.iinfo")
        if type.is_floating_point:
            raise TypeError(f"iinfo() requires an integer input type, got dlcore.{type.name}. "
                            "Use dlcore.finfo to handle floating types")
        ni = np.iinfo({_C.dtype.uint8: np.uint8, _C.dtype.int8: np.int8, _C.dtype.int16: np.int16,
                       _C.dtype.int32: np.int32, _C.dtype.int64: np.int64}[type])
        self.bits = int(ni.bits)
        self.max = int(ni.max)
        self.min = int(ni.min)
        self.dtype = type.name

    def __eq__(self, other):
        return _isT(other, iinfo) and other.dtype == self.dtype

    def __hash__(self):
        return hash(("iinfo", self.dtype))

    def __repr__(self):
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"


# --------------------------------------------------------------------------------------------- creation, detach

def detach(input):
    """A tensor sharing input's data, cut from the autograd graph (torch.detach)."""
    _check_tensor(input, "detach")
    return input.detach()


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    """A 0-d tensor holding the number s, of the default floating dtype unless dtype is given."""
    if _isT(s, Tensor):
        if s.numel() != 1:
            raise RuntimeError(f"scalar_tensor(): expected a number, got a tensor of shape {list(s.shape)}")
        s = s.item()
    if not _isT(s, (builtins.bool, builtins.int, builtins.float, np.number, np.bool_)):
        raise TypeError(f"scalar_tensor(): argument 's' must be a number, not {type(s).__name__}")
    dt = _dl.get_default_dtype() if dtype is None else dtype
    return _dl.full((), s, dtype=dt, device=device, requires_grad=requires_grad)


def range(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False, layout=None, out=None):  # noqa: A001
    """torch.range (deprecated there in favour of arange): the values start, start+step, ... up to and including
    end, floor((end - start) / step) + 1 of them, of the default floating dtype unless dtype is given."""
    if end is None:
        raise TypeError('range() missing 1 required positional arguments: "end"')
    if out is not None:
        raise TypeError("range(): out= is not supported by dlcore")
    vals = []
    for name, v in (("start", start), ("end", end), ("step", step)):
        if _isT(v, Tensor):
            v = v.item()
        if not _isT(v, (builtins.int, builtins.float, np.number)) or _isT(v, builtins.bool):
            raise TypeError(f"range(): argument '{name}' must be a number, not {type(v).__name__}")
        vals.append(float(v))
    a, b, s = vals
    if s == 0:
        raise RuntimeError("range(): step must be nonzero")
    if not (math.isfinite(a) and math.isfinite(b)):
        raise RuntimeError(f"range(): unsupported range: {a} -> {b}")
    if (s > 0 and b < a) or (s < 0 and b > a):
        raise RuntimeError("range(): upper bound and larger bound inconsistent with step sign")
    n = int(math.floor((b - a) / s)) + 1
    warnings.warn("dlcore.range is deprecated and will be removed in a future release because its behavior is "
                  "inconsistent with Python's range builtin. Instead, use dlcore.arange, which produces values in "
                  "[start, end).", UserWarning, stacklevel=2)
    dt = _dl.get_default_dtype() if dtype is None else dtype
    idx = _dl.arange(n, dtype=_dl.float64, device=device)
    res = (idx * s + a).to(dt)
    if requires_grad:
        res.requires_grad_(True)
    return res


def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    """An uninitialised tensor of the given size and strides (torch.empty_strided)."""
    size = [int(v) for v in size]
    stride = [int(v) for v in stride]
    if len(size) != len(stride):
        raise RuntimeError(f"empty_strided(): mismatch in length of strides and shape: size {size}, stride {stride}")
    if any(v < 0 for v in size):
        raise RuntimeError(f"empty_strided(): negative dimension in size {size}")
    if any(v < 0 for v in stride):
        raise RuntimeError(f"empty_strided(): negative strides are not supported, got {stride}")
    extent = 1 if all(v > 0 for v in size) else 0
    if extent:
        extent += builtins.sum((n - 1) * s for n, s in zip(size, stride))
    base = _dl.empty(extent, dtype=dtype, device=device)
    res = _dl.as_strided(base, size, stride, 0)
    if requires_grad:
        res = res.detach().requires_grad_(True)
    return res


# ------------------------------------------------------------------------------------- top-level in-place forms

_INPLACE_METHODS = ["abs_", "acos_", "acosh_", "arccos_", "arccosh_", "arcsin_", "arcsinh_", "arctan_", "arctanh_",
                    "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_", "clip_", "cos_", "cosh_", "deg2rad_",
                    "detach_", "erf_", "erfc_", "exp2_", "exp_", "expm1_", "fill_", "fix_", "floor_", "frac_",
                    "ldexp_", "log10_", "log1p_", "log2_", "log_", "logit_", "nan_to_num_", "neg_", "negative_",
                    "rad2deg_", "reciprocal_", "round_", "rsqrt_", "sigmoid_", "sin_", "sinc_", "sinh_", "sqrt_",
                    "square_", "tan_", "tanh_", "trunc_", "xlogy_", "zero_"]


def _make_inplace(name):
    def fn(input, *args, **kwargs):
        _check_tensor(input, name)
        return getattr(input, name)(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"dlcore.{name}(input, ...) is input.{name}(...): torch's top-level in-place form."
    return fn


for _n in _INPLACE_METHODS:
    if hasattr(Tensor, _n):
        globals()[_n] = _make_inplace(_n)
        __all__.append(_n)
del _n


def _F():
    from . import functional
    return functional


def celu_(input, alpha=1.0):
    return _F().celu(input, alpha, inplace=True)


def selu_(input):
    return _F().selu(input, inplace=True)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False, generator=None):
    return _F().rrelu(input, lower, upper, training, inplace=True, generator=generator)


def threshold_(input, threshold, value):
    return _F().threshold(input, threshold, value, inplace=True)


def dropout_(input, p, train):
    """torch.dropout_(input, p, train): F.dropout in place."""
    return _F().dropout(input, p, train, inplace=True)


def alpha_dropout_(input, p, train):
    """torch.alpha_dropout_(input, p, train): F.alpha_dropout in place."""
    return _F().alpha_dropout(input, p, train, inplace=True)


def feature_alpha_dropout_(input, p, train):
    """torch.feature_alpha_dropout_(input, p, train): F.feature_alpha_dropout in place."""
    return _F().feature_alpha_dropout(input, p, train, inplace=True)


def embedding_renorm_(input, indices, max_norm, norm_type):
    """torch.embedding_renorm_(weight, indices, max_norm, norm_type): rescales, in place and unrecorded, the rows of
    the weight referenced by indices whose norm_type-norm exceeds max_norm to that norm; returns the weight."""
    _check_tensor(input, "embedding_renorm_")
    _check_tensor(indices, "embedding_renorm_", "indices")
    if input.dim() != 2:
        raise RuntimeError(f"embedding_renorm_(): expected a 2-D weight, got shape {list(input.shape)}")
    from ._nn_layers import _embedding_renorm_
    _embedding_renorm_(input, indices, float(max_norm), float(norm_type))
    return input


def addmv_(input, mat, vec, *, beta=1, alpha=1):
    """torch.addmv_: input = beta * input + alpha * (mat @ vec), in place."""
    _check_tensor(input, "addmv_")
    res = _dl.addmv(input, mat, vec, beta=beta, alpha=alpha)
    if list(res.shape) != list(input.shape):
        raise RuntimeError(f"addmv_(): the result of shape {list(res.shape)} does not fit input of shape "
                           f"{list(input.shape)}")
    return input.copy_(res)


# ------------------------------------------------------------------------------------------- gumbel_softmax

def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1, *, generator=None):
    """Samples from the Gumbel-softmax distribution: softmax((logits + g) / tau) along dim with g ~ Gumbel(0, 1)
    drawn from dlcore's generator (or `generator`). hard=True returns the one-hot of the argmax, with the soft
    sample's gradient (straight-through estimator: y_hard - y_soft.detach() + y_soft)."""
    _check_tensor(logits, "gumbel_softmax", "logits")
    if not logits.dtype.is_floating_point:
        raise TypeError(f"gumbel_softmax(): expected floating point logits, got {logits.dtype.name}")
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    u = _dl.rand(*logits.shape, generator=generator, dtype=logits.dtype, device=logits.device)
    # Exponential(1) sample e = -log(1 - u) (u in [0, 1)), kept away from 0; Gumbel = -log(e).
    tiny = finfo(logits.dtype).tiny
    e = (-_dl.log1p(-u)).clamp(min=tiny)
    gumbels = -_dl.log(e)
    y_soft = _dl.softmax((logits + gumbels) / tau, dim)
    if not hard:
        return y_soft
    index = y_soft.detach().argmax(dim, keepdim=True) if logits.dim() else None
    if index is None:
        y_hard = _dl.ones_like(y_soft)
    else:
        y_hard = _dl.zeros_like(y_soft).scatter(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


# -------------------------------------------------------------------------------------------- embedding_bag

def _bag_layout(input, offsets, include_last_offset, op):
    """(flat indices, bag id per index, number of bags), dropping indices that belong to no bag."""
    dev = input.device
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError(f"{op}(): if input is 2D, then offsets has to be None, as input is treated is a "
                             "mini-batch of fixed length sequences. However, found offsets of type Tensor")
        b, n = input.shape
        flat = input.reshape(-1)
        bag = _dl.arange(b, dtype=_dl.int64, device=dev).repeat_interleave(n) if b * n else \
            _dl.zeros(0, dtype=_dl.int64, device=dev)
        return flat, bag, b
    if input.dim() != 1:
        raise ValueError(f"{op}(): input has to be 1D or 2D Tensor, but got Tensor of dimension {input.dim()}")
    if offsets is None:
        raise ValueError(f"{op}(): offsets has to be a 1D Tensor but got None")
    _check_tensor(offsets, op, "offsets")
    if offsets.dim() != 1:
        raise ValueError(f"{op}(): offsets has to be a 1D Tensor, got shape {list(offsets.shape)}")
    if offsets.dtype not in (_dl.int64, _dl.int32):
        raise TypeError(f"{op}(): offsets must be int32 or int64, got {offsets.dtype.name}")
    offsets = offsets.to(_dl.int64)
    nb = offsets.shape[0] - (1 if include_last_offset else 0)
    if nb < 0:
        raise ValueError(f"{op}(): include_last_offset needs at least one offset")
    n = input.shape[0]
    if offsets.shape[0]:
        if int(offsets[0].item()) != 0:
            raise ValueError(f"{op}(): offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to "
                             f"start from position 0. However, got {int(offsets[0].item())}")
        if int(offsets[-1].item()) > n:
            raise ValueError(f"{op}(): offsets[-1] can not be greater than input's length ({n}), "
                             f"but got offsets[-1] of {int(offsets[-1].item())}")
        if offsets.shape[0] > 1 and builtins.bool((offsets[1:] < offsets[:-1]).any().item()):
            raise IndexError(f"{op}(): offsets must be non-decreasing (each bag starts where the previous one "
                             f"ends or later), got {offsets.tolist() if offsets.shape[0] <= 16 else 'a decrease'}")
    if n == 0 or nb == 0:
        return input[:0], _dl.zeros(0, dtype=_dl.int64, device=dev), nb
    # torch's rule, also with include_last_offset: bag i spans [offsets[i], offsets[i + 1]) and the last bag runs
    # to the end of input (the trailing offset is not used as a bound).
    starts = offsets[:nb]
    pos = _dl.arange(n, dtype=_dl.int64, device=dev)
    bag = _dl.searchsorted(starts, pos, right=True) - 1
    return input, bag, nb


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Sums, averages or takes the max of bags of embeddings (torch.nn.functional.embedding_bag) without building
    the intermediate (bags, indices, dim) tensor in the graph: rows are gathered with index_select and reduced per
    bag with index_add (sum/mean) or scatter_reduce amax (max), so weight's gradient is the composition's."""
    op = "embedding_bag"
    _check_tensor(input, op)
    _check_tensor(weight, op, "weight")
    if input.dtype not in (_dl.int64, _dl.int32):
        raise TypeError(f"{op}(): expected input of dtype int32 or int64, got {input.dtype.name}")
    if weight.dim() != 2:
        raise ValueError(f"{op}(): weight has to be a 2D Tensor, but got Tensor of dimension {weight.dim()}")
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"{op}(): mode has to be one of sum, mean or max, got {mode!r}")
    if scale_grad_by_freq and mode == "max":
        raise ValueError(f"{op}(): max mode does not support scaling the gradient by the frequency")
    if sparse:
        raise NotImplementedError(f"{op}(): sparse gradients are not supported by dlcore (use sparse=False)")
    if input.device != weight.device:
        raise RuntimeError(f"{op}(): input is on {input.device} but weight is on {weight.device}")
    num, dim = weight.shape
    if padding_idx is not None:
        if padding_idx > 0:
            if padding_idx >= num:
                raise ValueError(f"{op}(): padding_idx must be within num_embeddings ({num}), got {padding_idx}")
        elif padding_idx < 0:
            if padding_idx < -num:
                raise ValueError(f"{op}(): padding_idx must be within num_embeddings ({num}), got {padding_idx}")
            padding_idx = num + padding_idx
    if per_sample_weights is not None:
        _check_tensor(per_sample_weights, op, "per_sample_weights")
        if mode != "sum":
            raise NotImplementedError(f"{op}(): per_sample_weights was not None. per_sample_weights is only "
                                      f"supported for mode='sum' (got mode='{mode}'). Please open a feature request "
                                      "on GitHub.")
        if list(per_sample_weights.shape) != list(input.shape):
            raise ValueError(f"{op}(): per_sample_weights of shape {list(per_sample_weights.shape)} must have the "
                             f"same shape as input {list(input.shape)}")
    flat, bag, nb = _bag_layout(input, offsets, include_last_offset, op)
    psw = None
    if per_sample_weights is not None:
        psw = per_sample_weights.reshape(-1)
        if input.dim() == 1 and flat.shape[0] != input.shape[0]:
            psw = psw[:flat.shape[0]]
    flat = flat.to(_dl.int64)
    if flat.numel():
        lo, hi = int(flat.min().item()), int(flat.max().item())
        if lo < 0 or hi >= num:
            raise IndexError(f"{op}(): index out of range in self: indices must be in [0, {num}), got "
                             f"{lo if lo < 0 else hi}")
    if max_norm is not None and flat.numel():  # (before dropping padding_idx: torch renorms its row too)
        from ._nn_layers import _embedding_renorm_
        _embedding_renorm_(weight, flat, float(max_norm), float(norm_type))
    if padding_idx is not None and flat.numel():
        keep = flat != padding_idx
        if not builtins.bool(keep.all().item()):
            sel = keep.nonzero().reshape(-1)
            flat, bag = flat.index_select(0, sel), bag.index_select(0, sel)
            if psw is not None:
                psw = psw.index_select(0, sel)
    rows = weight.index_select(0, flat)
    if scale_grad_by_freq and mode != "max" and flat.numel():
        cnt = _dl.zeros(num, dtype=weight.dtype, device=weight.device).index_add(
            0, flat, _dl.ones(flat.shape[0], dtype=weight.dtype, device=weight.device))
        s = (1.0 / cnt.index_select(0, flat)).unsqueeze(1)
        rows = rows * s + (rows - rows * s).detach()  # value rows, gradient scaled by 1 / frequency
    out = _dl.zeros(nb, dim, dtype=weight.dtype, device=weight.device)
    if mode == "max":
        if flat.numel():
            idx = bag.unsqueeze(1).expand(flat.shape[0], dim)
            out = out.scatter_reduce(0, idx, rows, "amax", include_self=False)
        elif rows.requires_grad:  # no index left (all padding, empty bags): zeros that still carry the graph
            out = out + rows.sum() * 0
        return out
    if psw is not None:
        rows = rows * psw.to(weight.dtype).unsqueeze(1)
    if flat.numel():
        out = out.index_add(0, bag, rows)
    elif rows.requires_grad:  # (torch: zero gradients for the weight, not an output without a graph)
        out = out + rows.sum() * 0
    if mode == "mean":
        cnt = _dl.zeros(nb, dtype=weight.dtype, device=weight.device)
        if flat.numel():
            cnt = cnt.index_add(0, bag, _dl.ones(flat.shape[0], dtype=weight.dtype, device=weight.device))
        out = out / cnt.clamp(min=1).unsqueeze(1)
    return out


# ------------------------------------------------------------------------------------ affine_grid / grid_sample

def _base_coords(n, align_corners, dtype, device):
    if n <= 1:
        return _dl.zeros(builtins.max(n, 1), dtype=dtype, device=device)[:n]
    v = _dl.linspace(-1.0, 1.0, n, dtype=dtype, device=device)
    return v if align_corners else v * ((n - 1) / n)


def affine_grid(theta, size, align_corners=None):
    """The sampling grid of an affine transform (torch.nn.functional.affine_grid): theta (N, 2, 3) with size
    (N, C, H, W) gives (N, H, W, 2); theta (N, 3, 4) with size (N, C, D, H, W) gives (N, D, H, W, 3)."""
    op = "affine_grid"
    _check_tensor(theta, op, "theta")
    if align_corners is None:
        align_corners = False
    if not theta.dtype.is_floating_point:
        raise ValueError(f"{op}(): expected theta to have floating point type, but got {theta.dtype.name}")
    size = [int(s) for s in size]
    if len(size) == 4:
        if theta.dim() != 3 or list(theta.shape[1:]) != [2, 3]:
            raise ValueError(f"{op}(): expected a batch of 2D affine matrices of shape Nx2x3 for size {size}. "
                             f"Got {list(theta.shape)}.")
        spatial = size[2:]
    elif len(size) == 5:
        if theta.dim() != 3 or list(theta.shape[1:]) != [3, 4]:
            raise ValueError(f"{op}(): expected a batch of 3D affine matrices of shape Nx3x4 for size {size}. "
                             f"Got {list(theta.shape)}.")
        spatial = size[2:]
    else:
        raise NotImplementedError(f"{op}(): only 4D and 5D sizes are supported, got size {size}")
    if min(size) <= 0:
        raise ValueError(f"{op}(): expected non-zero, positive output size, got {size}")
    if theta.shape[0] != size[0]:
        raise ValueError(f"{op}(): expected theta's batch {theta.shape[0]} to match size[0] {size[0]}")
    dt, dev = theta.dtype, theta.device
    axes = [_base_coords(n, align_corners, dt, dev) for n in spatial]   # (D,) H, W
    coords = _dl.meshgrid(*axes, indexing="ij")                         # each spatial-shaped
    cols = [c.reshape(-1) for c in reversed(coords)]                      # x, y (, z)
    cols.append(_dl.ones(cols[0].shape[0], dtype=dt, device=dev))
    base = _dl.stack(cols, 1)                                            # (P, k+1)
    grid = _dl.matmul(base.unsqueeze(0), theta.transpose(1, 2))          # (N, P, k)
    return grid.reshape(size[0], *spatial, len(spatial))


def _unnormalize(coord, size, align_corners):
    if align_corners:
        return (coord + 1) / 2 * (size - 1)
    return ((coord + 1) * size - 1) / 2


def _reflect(coord, twice_low, twice_high):
    if twice_low == twice_high:
        return coord * 0
    mn = twice_low / 2
    span = (twice_high - twice_low) / 2
    c = (coord - mn).abs()
    extra = _dl.fmod(c, span)
    flips = _dl.floor(c / span).detach()
    even = _dl.fmod(flips, 2) == 0
    return _dl.where(even, extra + mn, span - extra + mn)


def _source_index(coord, size, padding_mode, align_corners):
    c = _unnormalize(coord, size, align_corners)
    if padding_mode == "border":
        c = c.clamp(0, size - 1)
    elif padding_mode == "reflection":
        if align_corners:
            c = _reflect(c, 0, 2 * (size - 1))
        else:
            c = _reflect(c, -1, 2 * size - 1)
        c = c.clamp(0, size - 1)
    return c


def _gather_nd(flat, idx, sizes, c):
    """flat (N, C, prod(sizes)); idx: integer positions (N, L), one per spatial dim in the order of sizes
    (outermost first) -> values (N, C, L), zero where any position is out of bounds."""
    valid = None
    lin = None
    for i, n in zip(idx, sizes):
        ok = (i >= 0) & (i < n)
        valid = ok if valid is None else valid & ok
        ic = i.clamp(0, n - 1)
        lin = ic if lin is None else lin * n + ic
    nb, l = lin.shape
    vals = flat.gather(2, lin.unsqueeze(1).expand(nb, c, l))
    return vals * valid.unsqueeze(1).to(flat.dtype)


def _pad_tap(coord, size, padding_mode, align_corners):
    """Integer tap positions (float) mapped by the padding mode (torch's compute_coordinates), as int64."""
    if padding_mode == "border":
        coord = coord.clamp(0, size - 1)
    elif padding_mode == "reflection":
        coord = _reflect(coord, 0, 2 * (size - 1)) if align_corners else _reflect(coord, -1, 2 * size - 1)
        coord = coord.clamp(0, size - 1)
    return coord.to(_dl.int64)


def _cubic_coeffs(t):
    a = -0.75
    x1 = t + 1
    c0 = ((a * x1 - 5 * a) * x1 + 8 * a) * x1 - 4 * a
    c1 = ((a + 2) * t - (a + 3)) * t * t + 1
    x2 = 1 - t
    c2 = ((a + 2) * x2 - (a + 3)) * x2 * x2 + 1
    x3 = x2 + 1
    c3 = ((a * x3 - 5 * a) * x3 + 8 * a) * x3 - 4 * a
    return [c0, c1, c2, c3]


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Samples input (N, C, H, W) at the normalised locations grid (N, Ho, Wo, 2) (x then y in [-1, 1]), giving
    (N, C, Ho, Wo); or input (N, C, D, H, W) at grid (N, Do, Ho, Wo, 3) (x, y, z), giving (N, C, Do, Ho, Wo)
    (torch.nn.functional.grid_sample). mode bilinear|nearest|bicubic (bicubic 4-D only, like torch), padding_mode
    zeros|border|reflection. Gradients flow to input (through the gathers) and, for bilinear/bicubic, to grid."""
    op = "grid_sample"
    _check_tensor(input, op)
    _check_tensor(grid, op, "grid")
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"{op}(): expected mode to be 'bilinear', 'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"{op}(): expected padding_mode to be 'zeros', 'border', or 'reflection', "
                         f"but got: '{padding_mode}'")
    if align_corners is None:
        align_corners = False
    nd = input.dim() - 2
    if nd not in (2, 3) or grid.dim() != input.dim() or grid.shape[-1] != nd or grid.shape[0] != input.shape[0]:
        raise RuntimeError(f"{op}(): expected 4D input (N, C, H, W) with grid (N, H_out, W_out, 2), or 5D input "
                           f"(N, C, D, H, W) with grid (N, D_out, H_out, W_out, 3), with the same batch size, but "
                           f"got input {list(input.shape)} and grid {list(grid.shape)}")
    if mode == "bicubic" and nd == 3:
        raise RuntimeError(f"{op}(): bicubic interpolation only supports 4D input")
    if input.dtype != grid.dtype:
        raise RuntimeError(f"{op}(): expected input and grid to have the same dtype, but got "
                           f"{input.dtype.name} and {grid.dtype.name}")
    if not input.dtype.is_floating_point:
        raise TypeError(f"{op}(): expected floating point input, got {input.dtype.name}")
    if input.device != grid.device:
        raise RuntimeError(f"{op}(): input is on {input.device} but grid is on {grid.device}")
    if any(v == 0 for v in input.shape[2:]):
        raise RuntimeError(f"{op}(): expected input to have non-empty spatial dimensions, got {list(input.shape)}")
    if (nd == 2 and mode != "bicubic" and input.device.type == "cpu"
            and input.dtype in (_C.dtype.float32, _C.dtype.float64)):
        args = (mode == "nearest", _GRID_PAD[padding_mode], builtins.bool(align_corners))
        if _dl.is_grad_enabled() and (input.requires_grad or grid.requires_grad):
            return _GridSample2d.apply(input, grid, *args)
        return _C._grid_sample2d(input, grid, *args)
    return _grid_sample_composed(input, grid, mode, padding_mode, align_corners)


_GRID_PAD = {"zeros": 0, "border": 1, "reflection": 2}


class _GridSample2d(Function):
    """grid_sample of a 4-D input, bilinear or nearest, on the cpu: one native pass forward, one for each gradient
    (input and grid); the double backward through the composed form."""

    @staticmethod
    def forward(ctx, x, grid, nearest, padding, align):
        ctx.save_for_backward(x, grid)
        ctx.args = (nearest, padding, align)
        return _C._grid_sample2d(x, grid, nearest, padding, align)

    @staticmethod
    def backward(ctx, g):
        x, grid = ctx.saved_tensors
        gx, gg = _C._grid_sample2d_backward(g, x, grid, *ctx.args, builtins.bool(ctx.needs_input_grad[0]),
                                            builtins.bool(ctx.needs_input_grad[1]))
        return gx, gg, None, None, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        from .autograd import _recompute_vjp
        x, grid = ctx.saved_tensors
        nearest, padding, align = ctx.args
        mode = "nearest" if nearest else "bilinear"
        pad = {v: k for k, v in _GRID_PAD.items()}[padding]
        gx, gg = _recompute_vjp(lambda a, b: _grid_sample_composed(a, b, mode, pad, align), (x, grid), (g,))
        return gx, gg, None, None, None


def _grid_sample_composed(input, grid, mode, padding_mode, align_corners):
    """grid_sample by tensor ops (every mode, 4-D and 5-D inputs, any device; differentiable to any order)."""
    nd = input.dim() - 2
    n, c = input.shape[0], input.shape[1]
    sizes = list(input.shape[2:])                   # (D,) H, W: outermost first
    out_sp = list(grid.shape[1:-1])
    npts = 1
    for v in out_sp:
        npts *= v
    g = grid.reshape(n, npts, nd)
    flat = input.reshape(n, c, -1)
    # grid's last axis is x, y(, z): innermost spatial dim first
    gc = [g[:, :, nd - 1 - k] for k in builtins.range(nd)]   # aligned with sizes (outermost first)
    if mode == "bicubic":
        h, w = sizes
        ix = _unnormalize(gc[1], w, align_corners)
        iy = _unnormalize(gc[0], h, align_corners)
        x0 = _dl.floor(ix.detach())
        y0 = _dl.floor(iy.detach())
        cx = _cubic_coeffs(ix - x0)
        cy = _cubic_coeffs(iy - y0)
        xs = [_pad_tap(x0 + (k - 1), w, padding_mode, align_corners) for k in builtins.range(4)]
        ys = [_pad_tap(y0 + (k - 1), h, padding_mode, align_corners) for k in builtins.range(4)]
        out = None
        for i in builtins.range(4):
            row = None
            for j in builtins.range(4):
                term = _gather_nd(flat, [ys[i], xs[j]], sizes, c) * cx[j].unsqueeze(1)
                row = term if row is None else row + term
            term = row * cy[i].unsqueeze(1)
            out = term if out is None else out + term
        return out.reshape(n, c, *out_sp)
    src = [_source_index(gc[k], sizes[k], padding_mode, align_corners) for k in builtins.range(nd)]
    if mode == "nearest":
        idx = [_dl.round(v.detach()).to(_dl.int64) for v in src]
        out = _gather_nd(flat, idx, sizes, c)
        if grid.requires_grad and _dl.is_grad_enabled():
            # torch gives grid a zero gradient in nearest mode: keep grid in the graph with weight 0
            # (non-finite grid entries routed around so 0 * inf cannot make a nan)
            fin = _dl.where(_dl.isfinite(g), g, _dl.zeros((), dtype=g.dtype, device=g.device))
            out = out + (fin * 0).sum()
        return out.reshape(n, c, *out_sp)
    lo = [_dl.floor(v.detach()) for v in src]
    w_hi = [v - f for v, f in zip(src, lo)]          # weight of the upper neighbour along each dim
    w_lo = [(f + 1) - v for v, f in zip(src, lo)]
    i_lo = [f.to(_dl.int64) for f in lo]
    out = None
    for corner in builtins.range(2 ** nd):
        bits = [(corner >> (nd - 1 - k)) & 1 for k in builtins.range(nd)]
        idx = [i_lo[k] + bits[k] for k in builtins.range(nd)]
        wt = None
        for k in builtins.range(nd):
            f = w_hi[k] if bits[k] else w_lo[k]
            wt = f if wt is None else wt * f
        term = _gather_nd(flat, idx, sizes, c) * wt.unsqueeze(1)
        out = term if out is None else out + term
    return out.reshape(n, c, *out_sp)


# ----------------------------------------------------------------------------------------------- statistics

def _float_of(x):
    return x if x.dtype.is_floating_point else x.to(_dl.get_default_dtype())


def cov(input, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the variables in the rows of input (V, O) (or of the one variable of a 1-D input,
    giving a 0-d tensor), with optional integer frequency weights and floating observation weights per column."""
    op = "cov"
    _check_tensor(input, op)
    if input.dim() > 2:
        raise ValueError(f"{op}(): expected input to have two or fewer dimensions but got an input with "
                         f"{input.dim()} dimensions")
    x = input.reshape(1, -1) if input.dim() < 2 else input
    x = _float_of(x)
    nobs = x.shape[1]
    w = None
    if fweights is not None:
        _check_tensor(fweights, op, "fweights")
        if fweights.dim() > 1 or fweights.numel() != nobs:
            raise ValueError(f"{op}(): expected fweights to have one dimension and {nobs} elements but got "
                             f"shape {list(fweights.shape)}")
        if fweights.dtype.is_floating_point:
            raise TypeError(f"{op}(): expected fweights to have integral dtype but got {fweights.dtype.name}")
        if nobs and builtins.bool((fweights < 0).any().item()):
            raise ValueError(f"{op}(): fweights cannot be negative")
        w = fweights.reshape(-1).to(x.dtype)
    if aweights is not None:
        _check_tensor(aweights, op, "aweights")
        if aweights.dim() > 1 or aweights.numel() != nobs:
            raise ValueError(f"{op}(): expected aweights to have one dimension and {nobs} elements but got "
                             f"shape {list(aweights.shape)}")
        if not aweights.dtype.is_floating_point:
            raise TypeError(f"{op}(): expected aweights to have floating point dtype but got {aweights.dtype.name}")
        if nobs and builtins.bool((aweights < 0).any().item()):
            raise ValueError(f"{op}(): aweights cannot be negative")
        aw = aweights.reshape(-1).to(x.dtype)
        w = aw if w is None else w * aw
    if w is None:
        w_sum = float(nobs)
        avg = x.mean(1) if nobs else x.sum(1) / 0.0
        norm = w_sum - correction
    else:
        w_sum = w.sum()
        avg = (x * w).sum(1) / w_sum
        if aweights is None:
            norm = w_sum - correction
        else:
            norm = w_sum - correction * (w * aw).sum() / w_sum
    if _isT(norm, Tensor):
        bad = builtins.bool((norm <= 0).item())
        if bad:
            warnings.warn("cov(): degrees of freedom is <= 0", RuntimeWarning, stacklevel=2)
            norm = norm.clamp(min=0)
    elif norm <= 0:
        warnings.warn("cov(): degrees of freedom is <= 0", RuntimeWarning, stacklevel=2)
        norm = 0.0
    xm = x - avg.unsqueeze(1)
    xw = xm if w is None else xm * w
    c = _dl.matmul(xw, xm.transpose(0, 1)) / norm
    return c.reshape(()) if input.dim() < 2 else c


def corrcoef(input):
    """Pearson correlation coefficients of the variables in the rows of input (torch.corrcoef), clipped to
    [-1, 1]."""
    _check_tensor(input, "corrcoef")
    if input.dim() > 2:
        raise ValueError(f"corrcoef(): expected input to have two or fewer dimensions but got an input with "
                         f"{input.dim()} dimensions")
    c = cov(input)
    if c.dim() == 0:
        return c / c
    d = _dl.diagonal(c)
    sd = _dl.sqrt(d)
    c = c / sd.unsqueeze(1)
    c = c / sd.unsqueeze(0)
    return c.clamp(-1, 1)


HistogramResult = namedtuple("histogram", ["hist", "bin_edges"])


def histogram(input, bins=100, *, range=None, weight=None, density=False, out=None):  # noqa: A002
    """Histogram of input (torch.histogram): bins an int (equal-width bins over `range`, default the data's min and
    max) or a 1-D tensor of increasing edges. Returns (hist, bin_edges); the last bin includes its right edge."""
    op = "histogram"
    _check_tensor(input, op)
    if out is not None:
        raise TypeError(f"{op}(): out= is not supported by dlcore")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"{op}(): input tensor and bins tensors should have the same dtype, and be floating "
                           f"point, got input of dtype {input.dtype.name}")
    dt, dev = input.dtype, input.device
    x = input.detach().reshape(-1)
    if _isT(bins, Tensor):
        if bins.dim() != 1:
            raise RuntimeError(f"{op}(): bins tensor should have one dimension, but got {bins.dim()} dimensions")
        if bins.dtype != dt:
            raise RuntimeError(f"{op}(): input tensor and bins tensors should have the same dtype, but got input "
                               f"{dt.name} and bins {bins.dtype.name}")
        if bins.numel() < 1:
            raise RuntimeError(f"{op}(): bins tensor should have at least 1 element, but got {bins.numel()}")
        if range is not None:
            raise TypeError(f"{op}(): range cannot be given together with a bins tensor")
        edges = bins.detach().to(device=dev)
    else:
        if _isT(bins, builtins.bool) or not _isT(bins, (builtins.int, np.integer)):
            raise TypeError(f"{op}(): bins must be an int or a 1-D Tensor, got {type(bins).__name__}")
        nb = int(bins)
        if nb <= 0:
            raise RuntimeError(f"{op}(): bins must be > 0, but got {nb} for dimension 0")
        if range is not None:
            lo, hi = float(range[0]), float(range[1])
        elif x.numel():
            lo, hi = float(x.min().item()), float(x.max().item())
        else:
            lo, hi = 0.0, 0.0
        if lo > hi:
            raise RuntimeError(f"{op}(): max must be larger than min, but got min {lo} max {hi}")
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise RuntimeError(f"{op}(): range of [{lo}, {hi}] is not finite")
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = _dl.linspace(lo, hi, nb + 1, dtype=_dl.float64, device=dev).to(dt)
    nbins = edges.shape[0] - 1
    hist = _dl.zeros(builtins.max(nbins, 0), dtype=dt, device=dev)
    if weight is not None:
        _check_tensor(weight, op, "weight")
        if list(weight.shape) != list(input.shape):
            raise RuntimeError(f"{op}(): if weight tensor is provided it should have the same shape as the input "
                               f"tensor, got input {list(input.shape)} and weight {list(weight.shape)}")
        if weight.dtype != dt:
            raise RuntimeError(f"{op}(): weight of dtype {weight.dtype.name} must match input's {dt.name}")
    if nbins > 0 and x.numel():
        first, last = edges[0], edges[-1]
        inside = (x >= first) & (x <= last)
        pos = _dl.searchsorted(edges, x, right=True) - 1
        pos = pos.clamp(0, nbins - 1)
        vals = inside.to(dt) if weight is None else inside.to(dt) * weight.detach().reshape(-1)
        hist = hist.scatter_add(0, pos, vals)
    if density and nbins > 0:
        widths = edges[1:] - edges[:-1]
        hist = hist / (hist.sum() * widths)
    return HistogramResult(hist, edges)


# --------------------------------------------------------------------------------------------- integer math

def _check_int_pair(a, b, op):
    if not _isT(a, Tensor) and not _isT(b, Tensor):
        raise TypeError(f"{op}(): expected at least one Tensor argument")
    ref = a if _isT(a, Tensor) else b
    if not _isT(a, Tensor):
        a = _dl.full((), a, dtype=ref.dtype, device=ref.device)
    if not _isT(b, Tensor):
        b = _dl.full((), b, dtype=ref.dtype, device=ref.device)
    for t in (a, b):
        if t.dtype.is_floating_point or t.dtype == _dl.bool:
            raise RuntimeError(f"{op}(): expected integer tensors, got {a.dtype.name} and {b.dtype.name}")
    if a.device != b.device:
        raise RuntimeError(f"{op}(): expected tensors on the same device, got {a.device} and {b.device}")
    dt = _dl.promote_types(a.dtype, b.dtype)
    a, b = _dl.broadcast_tensors(a.to(dt), b.to(dt))
    return a, b


def _gcd_raw(a, b):
    a, b = a.abs(), b.abs()
    if a.numel() == 0:
        return a.clone()
    zero = _dl.zeros((), dtype=a.dtype, device=a.device)
    one = _dl.ones((), dtype=a.dtype, device=a.device)
    while builtins.bool((b != 0).any().item()):
        nz = b != 0
        r = _dl.remainder(a, _dl.where(nz, b, one))
        a, b = _dl.where(nz, b, a), _dl.where(nz, r, zero)
    return a


def gcd(input, other):
    """Elementwise greatest common divisor of integer tensors (non-negative; gcd(0, 0) = 0)."""
    a, b = _check_int_pair(input, other, "gcd")
    return _gcd_raw(a, b)


def lcm(input, other):
    """Elementwise least common multiple of integer tensors (non-negative; 0 where either is 0)."""
    a, b = _check_int_pair(input, other, "lcm")
    g = _gcd_raw(a, b)
    safe = _dl.where(g == 0, _dl.ones((), dtype=g.dtype, device=g.device), g)
    res = (_dl.div(a, safe, rounding_mode="trunc") * b).abs()
    return _dl.where(g == 0, _dl.zeros((), dtype=g.dtype, device=g.device), res)


def gcd_(input, other):
    _check_tensor(input, "gcd_")
    return input.copy_(gcd(input, other))


def lcm_(input, other):
    _check_tensor(input, "lcm_")
    return input.copy_(lcm(input, other))


FrexpResult = namedtuple("frexp", ["mantissa", "exponent"])


def frexp(input, *, out=None):
    """Decomposes input into mantissa in (-1, -0.5] U [0.5, 1) and an int32 exponent with
    input = mantissa * 2 ** exponent (0, inf and nan give mantissa input and exponent 0)."""
    _check_tensor(input, "frexp")
    if out is not None:
        raise TypeError("frexp(): out= is not supported by dlcore")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"frexp(): only supports floating-point dtypes, got {input.dtype.name}")
    x = input.detach().to(_dl.float64)
    ax = x.abs()
    finite_nz = _dl.isfinite(x) & (ax > 0)
    safe = _dl.where(finite_nz, ax, _dl.ones((), dtype=_dl.float64, device=x.device))
    e = _dl.floor(_dl.log2(safe)) + 1
    m = x / _dl.pow(2.0, e)
    # log2 can be off by one next to powers of two: renormalise into [0.5, 1).
    am = m.abs()
    big = am >= 1
    m, e = _dl.where(big, m / 2, m), _dl.where(big, e + 1, e)
    small = (m.abs() < 0.5) & finite_nz
    m, e = _dl.where(small, m * 2, m), _dl.where(small, e - 1, e)
    m = _dl.where(finite_nz, m, x)
    e = _dl.where(finite_nz, e, _dl.zeros((), dtype=_dl.float64, device=x.device))
    return FrexpResult(m.to(input.dtype), e.to(_dl.int32))


# ------------------------------------------------------------------------------------------------ integrals

def _norm_dim(dim, nd, op):
    if not -builtins.max(nd, 1) <= dim < builtins.max(nd, 1):
        raise IndexError(f"{op}(): dimension out of range (expected to be in range of "
                         f"[{-builtins.max(nd, 1)}, {builtins.max(nd, 1) - 1}], but got {dim})")
    return dim % builtins.max(nd, 1)


def _trap_parts(y, x, dx, dim, op):
    _check_tensor(y, op, "y")
    if y.dim() == 0:
        raise IndexError(f"{op}(): dimension specified as {dim} but tensor has no dimensions")
    d = _norm_dim(dim, y.dim(), op)
    n = y.shape[d]
    if x is not None and dx is not None:
        raise TypeError(f"{op}(): give either x or dx, not both")
    if x is not None and not _isT(x, Tensor):
        raise TypeError(f"{op}(): x must be a Tensor (pass a scalar spacing as dx=), got {type(x).__name__}")
    y = _float_of(y)
    if n == 0:
        return y, d, None, 0
    left = y.narrow(d, 0, n - 1)
    right = y.narrow(d, 1, n - 1)
    avg = (left + right) / 2
    if x is None:
        return avg, d, 1.0 if dx is None else float(dx), n
    if x.dim() == 1:
        if x.shape[0] != n:
            raise RuntimeError(f"{op}(): there must be one `x` value for each sample point, got x of length "
                               f"{x.shape[0]} and y of size {n} along dimension {d}")
        shape = [1] * y.dim()
        shape[d] = n - 1
        dxs = (x[1:] - x[:-1]).reshape(shape)
    else:
        dd = d - y.dim() + x.dim() if x.dim() < y.dim() else d
        if dd < 0 or x.shape[dd] != n:
            raise RuntimeError(f"{op}(): x of shape {list(x.shape)} does not match y of shape {list(y.shape)} "
                               f"along dimension {d}")
        dxs = x.narrow(dd, 1, n - 1) - x.narrow(dd, 0, n - 1)
    return avg, d, dxs, n


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The trapezoidal rule along dim: sum((y[i] + y[i+1]) / 2 * (x[i+1] - x[i])), with spacing dx (default 1)
    when x is not given."""
    avg, d, step, n = _trap_parts(y, x, dx, dim, "trapezoid")
    if n == 0:
        return avg.sum(d)
    return (avg * step).sum(d)


def trapz(y, x=None, *, dx=None, dim=-1):
    """Alias of trapezoid."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The running trapezoidal integral along dim (one element fewer than y along dim)."""
    avg, d, step, n = _trap_parts(y, x, dx, dim, "cumulative_trapezoid")
    if n == 0:
        return avg
    return _dl.cumsum(avg * step, d)


# ------------------------------------------------------------------------------------------------ structure

def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of the 1-D x: column j is x ** (N - 1 - j) (x ** j when increasing)."""
    _check_tensor(x, "vander", "x")
    if x.dim() != 1:
        raise RuntimeError(f"vander(): x must be a one-dimensional tensor, got shape {list(x.shape)}")
    n = x.shape[0] if N is None else int(N)
    if n < 0:
        raise RuntimeError(f"vander(): N must be non-negative, got {n}")
    if x.dtype == _dl.bool:
        x = x.to(_dl.int64)
    elif not x.dtype.is_floating_point and x.dtype != _dl.int64:
        x = x.to(_dl.int64)
    m = x.shape[0]
    if n == 0:
        return _dl.zeros(m, 0, dtype=x.dtype, device=x.device)
    cols = [_dl.ones(m, 1, dtype=x.dtype, device=x.device)]
    if n > 1:
        cols.append(_dl.cumprod(x.unsqueeze(1).expand(m, n - 1), 1))
    res = _dl.cat(cols, 1)
    return res if increasing else _dl.flip(res, [1])


def unravel_index(indices, shape):
    """Converts flat indices into a tuple of coordinate tensors for an array of the given shape (C order)."""
    op = "unravel_index"
    if not _isT(indices, Tensor):
        if _isT(indices, builtins.bool) or not _isT(indices, (builtins.int, np.integer, list, tuple)):
            raise TypeError(f"{op}(): expected 'indices' to be an integer tensor, got {type(indices).__name__}")
        indices = _dl.tensor(indices, dtype=_dl.int64)
    if indices.dtype.is_floating_point or indices.dtype == _dl.bool:
        raise TypeError(f"{op}(): expected 'indices' to be an integer tensor, but got {indices.dtype.name}")
    if _isT(shape, (builtins.int, np.integer)):
        shape = (int(shape),)
    shape = [int(s) for s in shape]
    if any(s < 0 for s in shape):
        raise ValueError(f"{op}(): 'shape' cannot have negative values, but got {tuple(shape)}")
    numel = 1
    for s in shape:
        numel *= s
    idx = indices.to(_dl.int64)
    if idx.numel():
        lo, hi = int(idx.min().item()), int(idx.max().item())
        if lo < -numel or hi >= numel:
            raise ValueError(f"{op}(): 'indices' must be in range [{-numel}, {numel - 1}] for shape "
                             f"{tuple(shape)}")
        idx = _dl.remainder(idx, numel) if lo < 0 else idx
    coords = []
    for s in reversed(shape):
        coords.append(_dl.remainder(idx, s))
        idx = _dl.div(idx, s, rounding_mode="floor")
    return tuple(reversed(coords))


def renorm(input, p, dim, maxnorm):
    """Rescales each slice input.select(dim, i) whose p-norm exceeds maxnorm to p-norm maxnorm
    (torch.renorm; the scale is maxnorm / (norm + 1e-7))."""
    op = "renorm"
    _check_tensor(input, op)
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"{op}(): expected a floating point input, got {input.dtype.name}")
    if p <= 0:
        raise RuntimeError(f"{op}(): non-positive-norm not supported, got p={p}")
    if maxnorm < 0:
        raise RuntimeError(f"{op}(): expected maxnorm to be >= 0 but got {maxnorm}")
    if input.dim() <= 1:
        raise RuntimeError(f"{op}(): input needs at least 2 dimensions, got {input.dim()} dimensions")
    d = _norm_dim(dim, input.dim(), op)
    red = [i for i in builtins.range(input.dim()) if i != d]
    if math.isinf(p):
        norm = input.abs().amax(red, keepdim=True)
    elif p == 1:
        norm = input.abs().sum(red, keepdim=True)
    else:
        norm = input.abs().pow(p).sum(red, keepdim=True).pow(1.0 / p)
    factor = _dl.where(norm > maxnorm, maxnorm / (norm + 1e-7), _dl.ones((), dtype=input.dtype,
                                                                           device=input.device))
    return input * factor


# ------------------------------------------------------------------------- top-level aliases of nn.functional

def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _F().conv1d(input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _F().conv2d(input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _F().conv3d(input, weight, bias, stride, padding, dilation, groups)


def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled=True):
    """torch.batch_norm's argument order (weight, bias before the running statistics)."""
    return _F().batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def embedding(weight, input, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """torch.embedding's argument order (weight first; padding_idx -1 means none)."""
    return _F().embedding(input, weight, None if padding_idx is None or padding_idx < 0 else padding_idx, None,
                          2.0, scale_grad_by_freq, sparse)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    return _F().cosine_similarity(x1, x2, dim, eps)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    return _F().pairwise_distance(x1, x2, p, eps, keepdim)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    return _F().rms_norm(input, normalized_shape, weight, eps)


# -------------------------------------------------------------------------------------------- Tensor methods

def _renorm_(self, p, dim, maxnorm):
    # renorm reads self (saved for its backward), so it works on a clone before writing back in place
    return self.copy_(renorm(self.clone(), p, dim, maxnorm))


def _attach_tensor_methods():
    """Tensor methods torch has for these functions; methods already present are left as they are."""
    methods = {
        "renorm": lambda self, p, dim, maxnorm: renorm(self, p, dim, maxnorm),
        "renorm_": _renorm_,
        "gcd": lambda self, other: gcd(self, other),
        "gcd_": lambda self, other: gcd_(self, other),
        "lcm": lambda self, other: lcm(self, other),
        "lcm_": lambda self, other: lcm_(self, other),
        "frexp": lambda self: frexp(self),
        "histogram": lambda self, bins, *, range=None, weight=None, density=False: histogram(  # noqa: A002
            self, bins, range=range, weight=weight, density=density),
        "cov": lambda self, *, correction=1, fweights=None, aweights=None: cov(
            self, correction=correction, fweights=fweights, aweights=aweights),
        "corrcoef": lambda self: corrcoef(self),
        "addmv_": lambda self, mat, vec, *, beta=1, alpha=1: addmv_(self, mat, vec, beta=beta, alpha=alpha),
    }
    for name, fn in methods.items():
        if not hasattr(Tensor, name):
            setattr(Tensor, name, fn)


_attach_tensor_methods()
