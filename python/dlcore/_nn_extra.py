"""More of torch.nn.functional, composed from dlcore's kernels: padding, resizing, pixel shuffles, layer / group /
instance normalisation, one_hot, normalize, distances, kl_div and the remaining activations.

- layer_norm, group_norm and instance_norm run the batch_norm kernels (forward and backward) on a view whose
  "channels" are the groups being normalised: layer_norm's rows of the last dims ([1, rows, D]), group_norm's
  (sample, group) pairs, instance_norm's (sample, channel) pairs. Their affine parameters are applied after it.
- pad: constant mode copies into a filled tensor (backward: the slice); reflect, replicate and circular are one
  pass of _C.pad_index over per-dim source-index maps (the CPU kernel copies each row's interior as a block; the
  backward sums the borders back onto the elements they were read from).
- interpolate: nearest / nearest-exact are an index_select per spatial dim, linear / bilinear / trilinear a
  separable two-tap blend per dim, with torch's source-index rules (align_corners, scale_factor vs size).
"""
from __future__ import annotations

import math

import numpy as np

from . import _C
from . import _ops
from .autograd import Function, _needs_grad
from ._indexing import index_select
from ._rearrange import _index, _arange

Tensor = _C.Tensor
_isT = isinstance

__all__ = ["pad", "interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle",
           "pixel_unshuffle", "layer_norm", "group_norm", "instance_norm", "one_hot", "normalize",
           "cosine_similarity", "pairwise_distance", "kl_div", "hardswish", "hardsigmoid", "selu", "celu", "prelu",
           "glu", "threshold", "softshrink", "hardshrink"]


def _F():
    from . import _nn_layers
    return _nn_layers


def _check_tensor(x, op, arg="input"):
    if not _isT(x, Tensor):
        raise TypeError(f"{op}(): {arg} must be a dlcore.Tensor, got {type(x).__name__}")


# ------------------------------------------------------------------------------------------------- padding

def _pad_constant_raw(x, lo, hi, value):
    """value everywhere, x copied at offsets lo (every pad >= 0 here)."""
    shape = [s + a + b for s, a, b in zip(x.shape, lo, hi)]
    out = _C.full(shape, value, x.dtype, x.device)
    region = out
    for d, (a, s) in enumerate(zip(lo, x.shape)):
        region = _C.slice(region, d, a, a + s, 1)
    _C.copy_(region, x)
    return out


class _PadConstant(Function):
    @staticmethod
    def forward(ctx, x, lo, hi, value):
        ctx.lo, ctx.sizes = lo, list(x.shape)
        return _pad_constant_raw(x, lo, hi, value)

    @staticmethod
    def backward(ctx, g):
        for d, (a, s) in enumerate(zip(ctx.lo, ctx.sizes)):
            g = _C.slice(g, d, a, a + s, 1)
        return _C.contiguous(g), None, None, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        from .autograd import _linear_backward
        lo, sizes = ctx.lo, ctx.sizes
        hi = [n - a - s for n, a, s in zip(g.shape, lo, sizes)]

        def pad0(t):  # the adjoint of the crop: zero padding again
            return _PadConstant.apply(t, lo, hi, 0.0) if _needs_grad(t) else _pad_constant_raw(t, lo, hi, 0.0)

        return _linear_backward(g, lambda t: _PadConstant.backward(ctx, t)[0], pad0), None, None, None


def _pad_index(n, lo, hi, mode):
    """Source indices along one dim for the padded range [-lo, n + hi)."""
    i = np.arange(-lo, n + hi)
    if mode == "reflect":
        period = 2 * (n - 1)
        i = np.abs(i) % period if period else np.zeros_like(i)
        i = np.where(i >= n, period - i, i)
    elif mode == "replicate":
        i = np.clip(i, 0, n - 1)
    else:  # circular
        i = np.mod(i, n)
    return i


def pad(input, pad, mode="constant", value=None):
    """torch.nn.functional.pad: pad = (left_last, right_last, left_second_last, right_second_last, ...); negative
    pads crop. Modes: 'constant' (any dims, value default 0), 'reflect', 'replicate', 'circular' (the last 1-3 dims
    of a batched input, like torch)."""
    _check_tensor(input, "pad")
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise ValueError(f"pad(): padding length must be divisible by 2, got {len(pad)}")
    k = len(pad) // 2
    if k > input.ndim:
        raise ValueError(f"pad(): padding length {len(pad)} too large for a {input.ndim}-D input "
                         f"(shape {list(input.shape)})")
    nd = input.ndim
    lo, hi = [0] * nd, [0] * nd
    for j in range(k):
        lo[nd - 1 - j], hi[nd - 1 - j] = pad[2 * j], pad[2 * j + 1]
    for d in range(nd):
        if input.shape[d] + lo[d] + hi[d] < 0:
            raise RuntimeError(f"pad(): the padded size of dim {d} would be negative: size {input.shape[d]}, "
                               f"pads ({lo[d]}, {hi[d]})")
    if mode == "constant":
        x = input
        for d in range(nd):  # negative pads: crop first
            a, b = min(lo[d], 0), min(hi[d], 0)
            if a or b:
                x = _ops.narrow(x, d, -a, x.shape[d] + a + b)
        plo, phi = [max(a, 0) for a in lo], [max(b, 0) for b in hi]
        v = 0 if value is None else value
        if not any(plo) and not any(phi):
            return _ops.clone(x) if x is input else _ops.contiguous(x)
        if _needs_grad(x):
            return _PadConstant.apply(x, plo, phi, v)
        return _pad_constant_raw(x, plo, phi, v)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"pad(): mode {mode!r} is not supported (constant, reflect, replicate, circular)")
    if value is not None and value != 0:
        raise ValueError(f"pad(): padding mode {mode!r} doesn't take in value argument")
    if not (k + 1 <= nd <= k + 2) or k > 3:
        raise NotImplementedError(f"pad(): {mode} padding of {k} dims needs a {k + 1}-D or {k + 2}-D input, "
                                  f"got shape {list(input.shape)}")
    out = input
    for d in range(nd - k, nd):  # negative pads crop first; the positive ones then pad the cropped tensor (torch)
        a, b = min(lo[d], 0), min(hi[d], 0)
        if a or b:
            out = _ops.narrow(out, d, -a, out.shape[d] + a + b)
            lo[d], hi[d] = lo[d] - a, hi[d] - b
    cropped = out
    maps = []
    for d in range(nd - k, nd):
        n = cropped.shape[d]
        if lo[d] == 0 and hi[d] == 0:
            maps.append(list(range(n)))
            continue
        if mode == "reflect" and (lo[d] >= n or hi[d] >= n):
            raise RuntimeError(f"pad(): padding size should be less than the corresponding input dimension, but "
                               f"got: padding ({lo[d]}, {hi[d]}) at dimension {d} of input {list(input.shape)}")
        if mode == "circular" and (lo[d] > n or hi[d] > n):
            raise RuntimeError(f"pad(): padding value causes wrapping around more than once: padding "
                               f"({lo[d]}, {hi[d]}) at dimension {d} of input {list(input.shape)}")
        if n == 0:
            raise RuntimeError(f"pad(): {mode} padding of an empty dimension {d} (input {list(input.shape)})")
        maps.append(_pad_index(n, lo[d], hi[d], mode).tolist())
    if _needs_grad(cropped):
        return _PadIndex.apply(cropped, maps)
    return _C.pad_index(cropped, maps)


class _PadIndex(Function):
    """out[..., i, j] = x[..., maps[0][i], maps[1][j]] (one pass; the backward sums the reflected borders back)."""

    @staticmethod
    def forward(ctx, x, maps):
        ctx.maps, ctx.shape = maps, list(x.shape)
        return _C.pad_index(x, maps)

    @staticmethod
    def backward(ctx, g):
        return _C.pad_index_backward(g, ctx.maps, ctx.shape), None

    @staticmethod
    def _double_backward_fn(ctx, g):
        from .autograd import _linear_backward
        maps = ctx.maps
        return _linear_backward(g, lambda t: _PadIndex.backward(ctx, t)[0],
                                lambda t: _PadIndex.apply(t, maps) if _needs_grad(t) else _C.pad_index(t, maps)), None


# ------------------------------------------------------------------------------------------------- interpolate

_LINEAR = {"linear": 1, "bilinear": 2, "trilinear": 3, "bicubic": 2}


def _cubic_weights(t):
    """torch's get_cubic_upsample_coefficients (Keys' cubic convolution, A = -0.75): the weights of the taps at
    floor(src) - 1 .. floor(src) + 2 for the fractional offsets t (float64 arrays)."""
    A = -0.75

    def near(x):  # |x| <= 1
        return ((A + 2) * x - (A + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A

    return [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]


def _scale_for(in_size, out_size, scale, align_corners, linear, ft=np.float32):
    """torch's source-index scale, in its accumulation type (float32 for nearest and float32 data, float64 for
    float64 data)."""
    if linear and align_corners:
        return (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    if scale is not None and scale > 0:
        return ft(1.0 / scale)
    return ft(in_size) / ft(out_size)


def _aa_matrix(n, m, scale_factor, align_corners, cubic):
    """torch's anti-aliased resampling weights from n input to m output samples ([m, n], float64, rows summing to
    1): a triangle (bilinear) or Keys a = -0.5 cubic (bicubic) filter centred at scale * (i + 0.5), widened by the
    scale when downsampling (support = taps / 2 * scale), clipped to the input and renormalised."""
    if align_corners:
        scale = (n - 1) / (m - 1) if m > 1 else 0.0
    else:
        scale = 1.0 / scale_factor if scale_factor is not None and scale_factor > 0 else n / m
    taps = 4 if cubic else 2
    support = taps * 0.5 * scale if scale >= 1.0 else taps * 0.5
    inv = 1.0 / scale if scale >= 1.0 else 1.0

    def filt(x):
        x = abs(x)
        if not cubic:
            return np.maximum(0.0, 1.0 - x)
        a = -0.5
        return np.where(x < 1.0, ((a + 2) * x - (a + 3)) * x * x + 1,
                        np.where(x < 2.0, (((x - 5) * x + 8) * x - 4) * a, 0.0))

    w = np.zeros((m, n))
    for i in range(m):
        center = scale * (i + 0.5)
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), n)
        if hi <= lo:
            continue
        k = filt((np.arange(lo, hi) - center + 0.5) * inv)
        tot = k.sum()
        w[i, lo:hi] = k / tot if tot != 0 else 0.0
    return w


class _LerpDim(Function):
    """out[.., j, ..] = w0[j] x[.., i0[j], ..] + w1[j] x[.., i1[j], ..] along dim d (cpu float32/float64): one linear
    dim of interpolate. The backward scatters the weighted gradient rows back; linear, so its double backward is
    the forward again."""

    @staticmethod
    def forward(ctx, x, d, i0, i1, w0, w1):
        ctx.args = (d, x.shape[d], i0, i1, w0, w1)
        return _C._lerp_dim(x, d, i0, i1, w0, w1)

    @staticmethod
    def backward(ctx, g):
        d, n, i0, i1, w0, w1 = ctx.args
        return (_C._lerp_dim_backward(g, d, n, i0, i1, w0, w1),) + (None,) * 5

    @staticmethod
    def _double_backward_fn(ctx, g):
        from .autograd import _linear_backward
        d, n, i0, i1, w0, w1 = ctx.args
        return (_linear_backward(g, lambda t: _C._lerp_dim_backward(t, d, n, i0, i1, w0, w1),
                                 lambda t: _LerpDim.apply(t, d, i0, i1, w0, w1) if _needs_grad(t)
                                 else _C._lerp_dim(t, d, i0, i1, w0, w1)),) + (None,) * 5


def _nearest_map(n, m, scale, mode):
    """The source index of each of the m outputs of a nearest / nearest-exact dim of n inputs (torch's float32
    arithmetic), as a list."""
    s = _scale_for(n, m, scale, False, False)
    o = np.arange(m, dtype=np.float32)
    src = np.floor((o + np.float32(0.5)) * s if mode == "nearest-exact" else o * s)
    return np.minimum(src.astype(np.int64), n - 1).tolist()


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """torch.nn.functional.interpolate for [N, C, *spatial] inputs with 1-3 spatial dims: modes 'nearest',
    'nearest-exact', 'linear' (1-D), 'bilinear' (2-D), 'bicubic' (2-D; 4 taps per dim, clamped at the borders, as
    torch), 'trilinear' (3-D), 'area' (adaptive average pooling); antialias=True for bilinear/bicubic (2-D)."""
    _check_tensor(input, "interpolate")
    sp = input.ndim - 2
    if sp < 1 or sp > 3:
        raise ValueError(f"interpolate(): expected a 3-D, 4-D or 5-D input [N, C, *spatial], got shape "
                         f"{list(input.shape)}")
    if antialias and (mode not in ("bilinear", "bicubic") or sp != 2):
        raise ValueError("interpolate(): the anti-alias option is restricted to bilinear and bicubic modes and "
                         f"requires a 4-D tensor as input, got mode {mode!r} and shape {list(input.shape)}")
    if mode not in ("nearest", "nearest-exact", "area") and mode not in _LINEAR:
        raise NotImplementedError(f"interpolate(): unknown mode {mode!r}")
    linear = mode in _LINEAR
    if linear and not input.dtype.is_floating_point:  # (the weights would be cast to the integer dtype: zeros)
        raise NotImplementedError(f"interpolate(): mode {mode!r} needs a floating-point input, got "
                                  f"{input.dtype.name} (convert with .float() and round back)")
    if linear and _LINEAR[mode] != sp:
        raise NotImplementedError(f"interpolate(): mode {mode!r} needs a {_LINEAR[mode] + 2}-D input, got shape "
                                  f"{list(input.shape)}")
    if not linear and align_corners is not None:
        raise ValueError("interpolate(): align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    align_corners = bool(align_corners)
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate(): exactly one of size or scale_factor must be given")
    in_sizes = list(input.shape[2:])
    if size is not None:
        sizes = [int(size)] * sp if isinstance(size, (int, np.integer)) else [int(s) for s in size]
        if len(sizes) != sp:
            raise ValueError(f"interpolate(): size {size} must have {sp} elements for input {list(input.shape)}")
        scales = [None] * sp
    else:
        scales = [float(scale_factor)] * sp if not isinstance(scale_factor, (tuple, list)) \
            else [float(s) for s in scale_factor]
        if len(scales) != sp:
            raise ValueError(f"interpolate(): scale_factor {scale_factor} must have {sp} elements for input "
                             f"{list(input.shape)}")
        sizes = [int(math.floor(n * s)) for n, s in zip(in_sizes, scales)]
        if recompute_scale_factor:
            scales = [None] * sp
    if any(s <= 0 for s in sizes):
        raise ValueError(f"interpolate(): output size {sizes} must be positive (input {list(input.shape)})")
    if any(n <= 0 for n in in_sizes):
        raise ValueError(f"interpolate(): input spatial size {in_sizes} must be positive")
    if antialias:  # separable resampling filters, one dense [out, in] matrix per spatial dim
        hw = [_aa_matrix(n, m, sc, align_corners, mode == "bicubic") for n, m, sc in zip(in_sizes, sizes, scales)]
        wh, ww = (_C.to(_C.from_numpy(w), input.dtype, input.device, False) for w in hw)
        return _ops.matmul(_ops.matmul(wh, input), _ops.transpose(ww, 0, 1))
    if mode == "area":
        if sp != 2:
            if sp == 1:
                x = _ops.unsqueeze(input, 2)
                return _ops.squeeze(_F().adaptive_avg_pool2d(x, (1, sizes[0])), 2)
            raise NotImplementedError("interpolate(): mode 'area' supports 1-D and 2-D inputs")
        return _F().adaptive_avg_pool2d(input, tuple(sizes))
    out = input
    dev = input.device
    if not linear and (input.dtype in (_C.dtype.float32, _C.dtype.float64) or not _needs_grad(input)):
        # nearest: one gather through the index maps of every spatial dim (pad's kernels; its backward sums the
        # repeated sources back), instead of an index_select per dim
        maps = [_nearest_map(n, m, sc, mode) for n, m, sc in zip(in_sizes, sizes, scales)]
        return _PadIndex.apply(input, maps) if _needs_grad(input) else _C.pad_index(input, maps)
    for j in range(sp):
        d = 2 + j
        n, m = in_sizes[j], sizes[j]
        if not linear:  # (no shortcut for m == n: a given scale_factor still maps the indices, as in torch)
            out = index_select(out, d, _index(np.asarray(_nearest_map(n, m, scales[j], mode), np.int64), dev))
            continue
        ft = np.float64 if input.dtype == _C.dtype.float64 else np.float32
        shape = [1] * input.ndim
        shape[d] = m

        def weight(w):
            return _C.to(_C.reshape(_C.from_numpy(np.asarray(w, dtype=np.float64)), shape), input.dtype, dev, False)

        if mode == "bicubic":  # (no shortcut for m == n either: the source indices still use the scale)
            scale = ft(_scale_for(n, m, scales[j], align_corners, True, ft))
            o = np.arange(m, dtype=ft)
            src = o * scale if align_corners else (o + ft(0.5)) * scale - ft(0.5)  # not clamped at 0 (cubic)
            i0 = np.floor(src).astype(np.int64)
            acc = None
            for k, w in enumerate(_cubic_weights((src - i0).astype(np.float64))):
                tap = index_select(out, d, _index(np.clip(i0 - 1 + k, 0, n - 1), dev))
                acc = _ops.mul(tap, weight(w)) if acc is None else _ops.add(acc, _ops.mul(tap, weight(w)))
            out = acc
            continue
        if m == n:  # torch copies a linear dim whose size does not change, whatever the scale
            continue
        scale = _scale_for(n, m, scales[j], align_corners, True, ft)
        o = np.arange(m, dtype=np.float64)
        src = o * scale if align_corners else np.maximum((o + 0.5) * scale - 0.5, 0.0)
        i0 = np.minimum(np.floor(src).astype(np.int64), n - 1)
        i1 = np.minimum(i0 + 1, n - 1)
        l1 = src - i0
        if out.device.type == "cpu" and out.dtype in (_C.dtype.float32, _C.dtype.float64):
            # one native pass: w0 x[i0] + w1 x[i1] along the dim (the weights rounded to the dtype as below)
            args = (d, i0.tolist(), i1.tolist(), (1.0 - l1).tolist(), l1.tolist())
            out = _LerpDim.apply(out, *args) if _needs_grad(out) else _C._lerp_dim(out, *args)
            continue
        w1 = weight(l1)
        w0 = weight(1.0 - l1)
        a = index_select(out, d, _index(i0, dev))
        b = index_select(out, d, _index(i1, dev))
        out = _ops.add(_ops.mul(a, w0), _ops.mul(b, w1))
    return out if out is not input else _ops.clone(input)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


class _PixelShuffle(Function):
    """pixel_shuffle / pixel_unshuffle on the cpu as one native copy each way (the backward of one is the other)."""

    @staticmethod
    def forward(ctx, x, r, inverse):
        ctx.r, ctx.inverse = r, inverse
        return _C._pixel_shuffle_cpu(x, r, inverse)

    @staticmethod
    def backward(ctx, g):
        return _C._pixel_shuffle_cpu(g, ctx.r, not ctx.inverse), None, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        from .autograd import _linear_backward
        r, inv = ctx.r, ctx.inverse
        return _linear_backward(g, lambda t: _C._pixel_shuffle_cpu(t, r, not inv),
                                lambda t: _shuffle_cpu(t, r, inv)), None, None


def _shuffle_cpu(x, r, inverse):
    return _PixelShuffle.apply(x, r, inverse) if _needs_grad(x) else _C._pixel_shuffle_cpu(x, r, inverse)


def pixel_shuffle(input, upscale_factor):
    """[*, C r^2, H, W] -> [*, C, H r, W r]."""
    _check_tensor(input, "pixel_shuffle")
    r = int(upscale_factor)
    if input.ndim < 3 or r <= 0 or input.shape[-3] % (r * r):
        raise RuntimeError(f"pixel_shuffle(): expected an input of at least 3 dims whose channel dim (-3) is "
                           f"divisible by upscale_factor^2 = {r * r}, got shape {list(input.shape)}")
    if input.device.type == "cpu":
        return _shuffle_cpu(input, r, False)
    *b, c, h, w = input.shape
    x = _ops.reshape(input, b + [c // (r * r), r, r, h, w])
    nb = len(b)
    x = _ops.permute(x, list(range(nb)) + [nb, nb + 3, nb + 1, nb + 4, nb + 2])
    x = _ops.clone(x) if x.is_contiguous() else _ops.contiguous(x)  # always a new tensor, like torch (r = 1)
    return _ops.reshape(x, b + [c // (r * r), h * r, w * r])


def pixel_unshuffle(input, downscale_factor):
    """[*, C, H r, W r] -> [*, C r^2, H, W]."""
    _check_tensor(input, "pixel_unshuffle")
    r = int(downscale_factor)
    if input.ndim < 3 or r <= 0 or input.shape[-2] % r or input.shape[-1] % r:
        raise RuntimeError(f"pixel_unshuffle(): expected an input of at least 3 dims whose height and width are "
                           f"divisible by downscale_factor = {r}, got shape {list(input.shape)}")
    if input.device.type == "cpu":
        return _shuffle_cpu(input, r, True)
    *b, c, h, w = input.shape
    x = _ops.reshape(input, b + [c, h // r, r, w // r, r])
    nb = len(b)
    x = _ops.permute(x, list(range(nb)) + [nb, nb + 2, nb + 4, nb + 1, nb + 3])
    x = _ops.clone(x) if x.is_contiguous() else _ops.contiguous(x)  # always a new tensor, like torch (r = 1)
    return _ops.reshape(x, b + [c * r * r, h // r, w // r])


# ------------------------------------------------------------------------------------------------- normalisation

def _normalize_rows(x, rows, per, eps):
    """x normalised over consecutive groups of `per` elements (rows of them; biased variance) by the batch_norm
    kernels in training mode on a [1, rows, per] view; a group of one element gives 0."""
    if x.numel() == 0:
        return _ops.mul(x, 0)
    if per == 1:  # x - mean = 0
        return _ops.mul(_ops.sub(x, x), 1.0)
    y = _F().batch_norm(_ops.reshape(x, [1, rows, per]), None, None, None, None, True, 0.0, eps)
    return _ops.reshape(y, list(x.shape))


class _LayerNormCpu(Function):
    """The cpu layer_norm kernels (one pass for the statistics, one for the output; the backward in one pass plus
    the weight/bias column sums)."""

    @staticmethod
    def forward(ctx, x, d, w, b, eps):
        y, mean, rstd = _C.layer_norm_fwd(x, d, w, b, eps)
        ctx.d, ctx.has_w, ctx.has_b, ctx.eps = d, w is not None, b is not None, eps
        ctx.pshape = list((w if w is not None else b).shape) if (w is not None or b is not None) else None
        ctx.save_for_backward(x, w, mean, rstd)
        return y

    @staticmethod
    def backward(ctx, g):
        x, w, mean, rstd = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx, gw, gb = _C.layer_norm_bwd(g, x, ctx.d, w, mean, rstd, bool(need[0]), bool(ctx.has_w and need[2]),
                                       bool(ctx.has_b and need[3]))
        # (the kernel's parameter gradients are flat [d]: the parameters' own shape, so that they add up with
        # gradients from other uses of the parameters)
        if gw is not None and list(gw.shape) != ctx.pshape:
            gw = _C.reshape(gw, ctx.pshape)
        if gb is not None and list(gb.shape) != ctx.pshape:
            gb = _C.reshape(gb, ctx.pshape)
        return gx, None, gw, gb, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        from .autograd import _recompute_vjp
        x, w, _, _ = ctx.saved_tensors
        d, eps = ctx.d, ctx.eps

        def composite(x, w):  # the statistics recomputed with recording ops, over rows of d elements
            x2 = _ops.reshape(x, [-1, d])
            xc = _ops.sub(x2, _ops.mean(x2, [1], True))
            y = _ops.mul(xc, _ops.rsqrt(_ops.add(_ops.mean(_ops.mul(xc, xc), [1], True), eps)))
            y = _ops.reshape(y, list(x.shape))
            return y if w is None else _ops.mul(y, w)

        gx, gw = _recompute_vjp(composite, (x, w), (g,))
        gb = None
        if ctx.has_b and ctx.needs_input_grad[3]:
            gb = _ops.reshape(_ops.sum(_ops.reshape(g, [-1, d]), [0]), ctx.pshape)
        return gx, None, gw, gb, None


def _ln_kernel_ok(x, params):
    if x.device.type != "cpu" or x.dtype not in (_C.dtype.float32, _C.dtype.float64):
        return False
    return all(p is None or (p.device.type == "cpu" and p.dtype == x.dtype) for p in params)


def _check_same_device(op, input, **params):
    """A parameter on another device than input raises naming the op (the arithmetic inside would name mul/add)."""
    for name, p in params.items():
        if p is not None and p.device != input.device:
            raise RuntimeError(f"{op}(): expected '{name}' on {input.device} (the device of 'input'), got {p.device}")


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias over the last len(normalized_shape) dims: the cpu layer_norm
    kernels for float32/float64, elsewhere the batch_norm kernels on a [1, rows, D] view and the affine after."""
    _check_tensor(input, "layer_norm")
    ns = [int(normalized_shape)] if isinstance(normalized_shape, (int, np.integer)) else \
        [int(s) for s in normalized_shape]
    k = len(ns)
    if k == 0 or input.ndim < k or list(input.shape[input.ndim - k:]) != ns:
        raise RuntimeError(f"layer_norm(): given normalized_shape={ns}, expected input with shape [*, "
                           f"{', '.join(map(str, ns))}], but got input of size {list(input.shape)}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and list(p.shape) != ns:
            raise RuntimeError(f"layer_norm(): expected {name} of shape {ns}, got {list(p.shape)}")
    _check_same_device("layer_norm", input, weight=weight, bias=bias)
    d = math.prod(ns)
    r = input.numel() // d if d else 0
    if r and d and _ln_kernel_ok(input, (weight, bias)):
        if _needs_grad(input, weight, bias):
            return _LayerNormCpu.apply(input, d, weight, bias, float(eps))
        return _C.layer_norm_fwd(input, d, weight, bias, float(eps))[0]
    y = _normalize_rows(input, r, d, eps)
    if weight is not None:
        y = _ops.mul(y, weight)
    if bias is not None:
        y = _ops.add(y, bias)
    return y


def _channel_view(p, ndim):
    return _ops.reshape(p, [p.shape[0]] + [1] * (ndim - 2))


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalisation over each (sample, group of C / num_groups channels) of [N, C, *], then a per-channel
    affine."""
    _check_tensor(input, "group_norm")
    if input.ndim < 2:
        raise RuntimeError(f"group_norm(): expected at least 2-D input [N, C, *], got shape {list(input.shape)}")
    n, c = input.shape[0], input.shape[1]
    g = int(num_groups)
    if g <= 0 or c % g:
        raise RuntimeError(f"group_norm(): expected number of channels in input ({c}) to be divisible by "
                           f"num_groups ({num_groups}); input shape {list(input.shape)}")
    if n * c // g * math.prod(input.shape[2:]) == 1:  # torch's check (on N C / G times the spatial size)
        raise ValueError(f"group_norm(): expected more than 1 value per channel when training, got input size "
                         f"{list(input.shape)} with {g} groups")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and list(p.shape) != [c]:
            raise RuntimeError(f"group_norm(): expected {name} of shape [{c}], got {list(p.shape)}")
    _check_same_device("group_norm", input, weight=weight, bias=bias)
    per = input.numel() // max(n * g, 1)
    y = _normalize_rows(input, n * g, per, eps)
    if weight is not None:
        y = _ops.mul(y, _channel_view(weight, input.ndim))
    if bias is not None:
        y = _ops.add(y, _channel_view(bias, input.ndim))
    return y


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalisation over each (sample, channel) of [N, C, *]; with use_input_stats False the running statistics
    are used (as batch_norm in evaluation), else they are updated with the batch's mean of the per-instance
    statistics."""
    _check_tensor(input, "instance_norm")
    if input.ndim < 3:
        raise RuntimeError(f"instance_norm(): expected at least 3-D input [N, C, *], got shape "
                           f"{list(input.shape)}")
    n, c = input.shape[0], input.shape[1]
    for name, p in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if p is not None and list(p.shape) != [c]:
            raise RuntimeError(f"instance_norm(): expected {name} of shape [{c}], got {list(p.shape)}")
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError("instance_norm(): running_mean and running_var are needed when use_input_stats is "
                               "False")
        return _F().batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    per = input.numel() // max(n * c, 1)
    if per <= 1:
        raise ValueError(f"instance_norm(): expected more than 1 spatial element when training, got input size "
                         f"{list(input.shape)}")
    x2 = _ops.reshape(input, [1, n * c, per])
    rm = rv = None
    if running_mean is not None:
        rm = _C.contiguous(_C.expand(_C.unsqueeze(running_mean, 0), [n, c]))
        rm = _C.reshape(_C.clone(rm), [n * c])
    if running_var is not None:
        rv = _C.reshape(_C.clone(_C.contiguous(_C.expand(_C.unsqueeze(running_var, 0), [n, c]))), [n * c])
    y = _F().batch_norm(x2, rm, rv, None, None, True, momentum, eps)
    if rm is not None:
        _C.copy_(running_mean, _C.mean(_C.reshape(rm, [n, c]), [0], False))
    if rv is not None:
        _C.copy_(running_var, _C.mean(_C.reshape(rv, [n, c]), [0], False))
    y = _ops.reshape(y, list(input.shape))
    if weight is not None:
        y = _ops.mul(y, _channel_view(weight, input.ndim))
    if bias is not None:
        y = _ops.add(y, _channel_view(bias, input.ndim))
    return y


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p along dim, eps)."""
    _check_tensor(input, "normalize")
    if out is not None:
        raise NotImplementedError("normalize(): out= is not supported")
    denom = _ops.clamp(_ops.norm(input, p, dim, True), min=eps)
    return _ops.div(input, denom)


def one_hot(tensor, num_classes=-1):
    """[*] int64 class indices -> [*, num_classes] int64 with a 1 at each index."""
    _check_tensor(tensor, "one_hot", "tensor")
    if tensor.dtype != _C.dtype.int64:
        raise RuntimeError(f"one_hot(): is only applicable to index tensors of type int64, got "
                           f"{tensor.dtype.name}")
    if tensor.numel() == 0 and int(num_classes) <= 0:  # (torch refuses num_classes 0 / negative here too)
        raise RuntimeError("one_hot(): can not infer the total number of classes from an empty tensor (pass "
                           f"num_classes > 0, got {num_classes})")
    if num_classes == -1:
        num_classes = int(_C.amax(tensor, [], False).item()) + 1
    num_classes = int(num_classes)
    if tensor.numel():
        lo, hi = int(_C.amin(tensor, [], False).item()), int(_C.amax(tensor, [], False).item())
        if lo < 0:
            raise RuntimeError(f"one_hot(): class values must be non-negative, got {lo}")
        if hi >= num_classes:
            raise RuntimeError(f"one_hot(): class values must be smaller than num_classes ({num_classes}), "
                               f"got {hi}")
    # zeros, then a 1 scattered at each index along the new last dim (the comparison of every element with every
    # class and its bool -> int64 conversion cost 3x torch's one_hot on [512] x 256 classes)
    idx = _C.unsqueeze(tensor, -1)
    out = _C.zeros(list(tensor.shape) + [num_classes], _C.dtype.int64, tensor.device)
    if tensor.numel():
        _C.scatter_(out, -1, idx, _C.full_int(list(idx.shape), 1, _C.dtype.int64, tensor.device))
    return out


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 * x2, dim) / (max(||x1||, eps) * max(||x2||, eps))."""
    _check_tensor(x1, "cosine_similarity", "x1")
    _check_tensor(x2, "cosine_similarity", "x2")
    try:
        x1, x2 = _ops.broadcast_tensors(x1, x2)  # norms of the broadcast operands (a size-1 dim counts n times)
    except Exception:
        raise RuntimeError(f"cosine_similarity(): x1 {list(x1.shape)} and x2 {list(x2.shape)} do not broadcast") \
            from None
    n1 = _ops.clamp(_ops.norm(x1, 2, dim, True), min=eps)
    n2 = _ops.clamp(_ops.norm(x2, 2, dim, True), min=eps)
    return _ops.sum(_ops.mul(_ops.div(x1, n1), _ops.div(x2, n2)), dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p along the last dim."""
    _check_tensor(x1, "pairwise_distance", "x1")
    _check_tensor(x2, "pairwise_distance", "x2")
    d = _ops.add(_ops.sub(x1, x2), eps)
    return _ops.norm(d, p, -1, keepdim)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Pointwise target * (log target - input) (input holds log-probabilities; target too when log_target), with
    0 where target is 0; reductions none, sum, mean (over elements) and batchmean (sum / batch size)."""
    _check_tensor(input, "kl_div")
    _check_tensor(target, "kl_div", "target")
    if reduction not in ("none", "mean", "sum", "batchmean") and size_average is None and reduce is None:
        raise ValueError(f"kl_div(): reduction must be 'none', 'batchmean', 'sum' or 'mean', got {reduction!r}")
    reduction = _F()._reduction(size_average, reduce, reduction, "kl_div") if reduction != "batchmean" \
        else reduction
    if log_target:
        loss = _ops.mul(_ops.exp(target), _ops.sub(target, input))
    else:
        # xlogy(t, t) - t * input: 0 * log 0 taken as 0 (and no NaN gradient through log at t = 0)
        zero = _ops.eq(target, 0)
        safe = _ops.where(zero, _const(1.0, target), target)
        loss = _ops.sub(_ops.mul(target, _ops.log(safe)), _ops.mul(target, input))
    if reduction == "none":
        return loss
    if reduction == "sum":
        return _ops.sum(loss)
    if reduction == "batchmean":
        return _ops.div(_ops.sum(loss), input.shape[0] if input.ndim else 1)
    if reduction == "mean":
        return _ops.mean(loss)
    raise ValueError(f"kl_div(): {reduction} is not a valid value for reduction")


# ------------------------------------------------------------------------------------------------- activations

def _const(v, like):
    """A 0-d tensor of like's dtype and device (broadcasts in where; unlike like * 0 + v it is finite for inf)."""
    return _C.full([], v, like.dtype, like.device)


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6; gradient 0 up to -3, x / 3 + 1/2 on (-3, 3), 1 from 3 on (torch's). One kernel of
    the activation family (csrc/ops/activation)."""
    L = _F()
    if inplace:
        return L._act_inplace(input, L._HARDSWISH, op="hardswish_")
    return L._act(input, L._HARDSWISH, op="hardswish")


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6; gradient 1/6 on (-3, 3), else 0 (one activation kernel as hardswish)."""
    L = _F()
    if inplace:
        return L._act_inplace(input, L._HARDSIGMOID, op="hardsigmoid_")
    return L._act(input, L._HARDSIGMOID, op="hardsigmoid")


def _src(input, inplace):
    """The operand of an in-place op that records history: a clone, so its saved tensors are not overwritten."""
    return _ops.clone(input) if inplace and _needs_grad(input) else input


def _inplace(x, out, inplace):
    """out written into x when inplace (x then carries out's history, as the in-place activations do)."""
    if not inplace:
        return out
    from ._tensor import _inplace_with_history, _check_nograd_view
    if _needs_grad(x) or out.requires_grad:
        # out was computed from a clone of x (_src): x's history is rebased onto it, through x's view group
        return _inplace_with_history(x, lambda src: out, "in-place activation", clone=False)
    _check_nograd_view(x)
    _C.copy_(x, out)
    return x


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalising constants."""
    _check_tensor(input, "selu")
    return _inplace(input, _ops.mul(_F().elu(_src(input, inplace), _SELU_ALPHA), _SELU_SCALE), inplace)


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    _check_tensor(input, "celu")
    if alpha == 0:
        raise ValueError("celu(): alpha must not be 0")
    return _inplace(input, _ops.mul(_F().elu(_ops.div(input, alpha), 1.0), alpha), inplace)


def prelu(input, weight):
    """x if x > 0 else weight * x, weight one value or one per channel (dim 1)."""
    _check_tensor(input, "prelu")
    _check_tensor(weight, "prelu", "weight")
    k = weight.numel()
    if weight.ndim > 1:
        raise RuntimeError(f"prelu(): weight must be 0-D or 1-D, got shape {list(weight.shape)}")
    if k != 1:
        c = input.shape[1] if input.ndim >= 2 else 1  # torch: below 2-D there is no channel dim (one channel)
        if k != c:
            raise RuntimeError(f"prelu(): mismatch in parameter count: weight has {k} elements, the input's "
                               f"channel dim has {c} (input shape {list(input.shape)})")
    kernel = (input.device.type == "cpu" and weight.device.type == "cpu" and weight.dtype == input.dtype
              and input.dtype in (_C.dtype.float32, _C.dtype.float64))
    if k != 1:
        if kernel:  # one weight per channel on the cpu: leaky_relu's kernel row by row, the channel's weight as slope
            if _needs_grad(input, weight):
                return _PReluC.apply(input, weight)
            return _C.prelu_channels(input, weight)
        w = _prelu_weight(weight, input.ndim)
    else:
        if kernel:
            # one weight on the cpu: leaky_relu's kernel with the weight as the slope (one pass instead of three)
            if _needs_grad(input, weight):
                return _PRelu1.apply(input, weight)
            return _C.act_forward(_F()._LEAKY, input, float(_C.item(weight)), 0.0)
        w = _ops.reshape(weight, [])
    return _ops.where(_ops.gt(input, 0), input, _ops.mul(w, input))


class _PRelu1(Function):
    """prelu with one weight on the cpu: y = leaky_relu(x, w) by the activation kernel; dx by its backward kernel
    (g where x > 0, else w g), dw = sum(g min(x, 0)). The double backward is the composed form's."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        ctx.slope = float(_C.item(w))
        return _C.act_forward(_F()._LEAKY, x, ctx.slope, 0.0)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        gx = _C.act_backward(_F()._LEAKY, g, x, ctx.slope, 0.0) if ctx.needs_input_grad[0] else None
        gw = None
        if ctx.needs_input_grad[1]:
            gw = _C.reshape(_C.sum(_C.mul(g, _C.clamp(x, None, 0.0)), None, False), list(w.shape))
        return gx, gw

    @staticmethod
    def _double_backward_fn(ctx, g):
        x, w = ctx.saved_tensors
        neg = _C.le(x.detach(), 0)
        gx = _ops.where(neg, _ops.mul(g, _ops.reshape(w, [])), g)
        gw = _ops.reshape(_ops.sum(_ops.where(neg, _ops.mul(g, x), _const(0.0, x))), list(w.shape))
        return gx, gw


def _prelu_weight(weight, ndim):
    """The per-channel weight [C] shaped to broadcast against an input of rank ndim >= 2 (channels along dim 1)."""
    return _ops.reshape(weight, [weight.numel()] + [1] * (ndim - 2))


class _PReluC(Function):
    """prelu with one weight per channel on the cpu (float32/float64): y and dx by leaky_relu's kernels with the
    channel's weight as the slope, dw[c] = sum over the channel of g min(x, 0), in one native call each. The double
    backward is the composed form's."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return _C.prelu_channels(x, w)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        return _C.prelu_channels_backward(g, x, w, ctx.needs_input_grad[0], ctx.needs_input_grad[1])

    @staticmethod
    def _double_backward_fn(ctx, g):
        x, w = ctx.saved_tensors
        neg = _C.le(x.detach(), 0)
        gx = _ops.where(neg, _ops.mul(g, _prelu_weight(w, x.ndim)), g)
        gw = _ops.sum(_ops.where(neg, _ops.mul(g, x), _const(0.0, x)), [d for d in range(x.ndim) if d != 1])
        return gx, gw


def glu(input, dim=-1):
    """a * sigmoid(b) for a, b the two halves of input along dim."""
    _check_tensor(input, "glu")
    if input.ndim == 0:
        raise RuntimeError("glu(): does not support scalars because halving size must be even")
    n = input.shape[dim]
    if n % 2:
        raise RuntimeError(f"glu(): halving dimension must be even, but dimension {dim} is size {n}")
    if input.device.type == "cpu" and input.dtype in (_C.dtype.float32, _C.dtype.float64):
        return _Glu.apply(input, dim) if _needs_grad(input) else _C.glu_cpu(input, dim)
    return _glu_composed(input, dim)


def _glu_composed(input, dim):
    n = input.shape[dim]
    a = _ops.narrow(input, dim, 0, n // 2)
    b = _ops.narrow(input, dim, n // 2, n // 2)
    return _ops.mul(a, _ops.sigmoid(b))


class _Glu(Function):
    """glu on the cpu: a sigmoid(b) in one pass, the backward (g s, g a s (1 - s)) in one; the double backward
    through the composed form."""

    @staticmethod
    def forward(ctx, x, dim):
        ctx.save_for_backward(x)
        ctx.dim = dim
        return _C.glu_cpu(x, dim)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return _C.glu_backward_cpu(g, x, ctx.dim), None

    @staticmethod
    def _double_backward_fn(ctx, g):
        from .autograd import _recompute_vjp
        (x,) = ctx.saved_tensors
        return _recompute_vjp(lambda t: _glu_composed(t, ctx.dim), (x,), (g,))[0], None


def threshold(input, threshold, value, inplace=False):
    """value where x <= threshold, else x (one activation kernel for floating tensors)."""
    _check_tensor(input, "threshold")
    if input.dtype.is_floating_point:  # (the activation kernels; other dtypes composed)
        L = _F()
        if inplace:
            return L._act_inplace(input, L._THRESHOLD, threshold, value, op="threshold_")
        return L._act(input, L._THRESHOLD, threshold, value, op="threshold")
    x = _src(input, inplace)
    return _inplace(input, _ops.where(_ops.le(x, threshold), _const(value, x), x), inplace)


def softshrink(input, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, else 0 (NaN passes through)."""
    _check_tensor(input, "softshrink")
    if lambd < 0:
        raise RuntimeError(f"softshrink(): lambda must be greater or equal to 0, but found to be {lambd}")
    if input.dtype.is_floating_point:
        return _F()._act(input, _F()._SOFTSHRINK, lambd, op="softshrink")
    inside = _C.logical_and(_C.ge(input, -lambd), _C.le(input, lambd))  # false for NaN: it passes through
    return _ops.where(inside, _const(0.0, input), _ops.sub(input, _ops.mul(_ops.sign(input), lambd)))


def hardshrink(input, lambd=0.5):
    """0 on [-lambd, lambd], else x."""
    _check_tensor(input, "hardshrink")
    if input.dtype.is_floating_point:
        return _F()._act(input, _F()._HARDSHRINK, lambd, op="hardshrink")
    inside = _C.logical_and(_C.ge(input, -lambd), _C.le(input, lambd))
    return _ops.where(inside, _const(0.0, input), input)
