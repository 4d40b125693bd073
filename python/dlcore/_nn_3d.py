"""The volumetric (NCDHW) layer family with PyTorch's signatures: conv3d, conv_transpose3d, max_pool3d (with
torch's flat D*H*W indices), avg_pool3d, lp_pool3d, adaptive_avg_pool3d, adaptive_max_pool3d.

Convolution on the CPU runs the 3-D kernels of csrc/ops/conv/conv3d_cpu.cpp (_C.conv3d_cpu and its two gradients:
direct float32 kernels over a zero-padded copy of each sample, vol2col + GEMM for float64 and the shapes the
direct kernels do not suit; no copy of the input per depth tap); conv_transpose3d on the CPU is the input gradient
of that conv3d (while output_padding < stride). The cuda device, and the CPU with an older _C, use the folded form
below, built on the 2-D kernels.

Convolution (folded form): the kernel depth is folded into the channels. With x depth-padded and laid out as
xd [N, Dp, C, H, W], the depth-unfolded input U [N*Do, G, kD, C/G, H, W] (U[n, od, g, kd] = xd[n, od*sD + kd*dD,
g]) is one strided gather copy, and conv3d(x, w) = conv2d(U as [N*Do, kD*C, H, W], w as [K, kD*C/G, kH, kW]) (the
weight permuted to [K, kD, C/G, kH, kW]; groups pass through). The backward is the conv2d backward kernels plus the
transpose of the gather (kD strided add_ of depth slabs). A transposed convolution is the same pair the other way
round: one conv2d input-gradient kernel over [N*Din, C_in, H, W] gives kD output slabs per input depth, scattered
(added) to output depths id*sD + kd*dD; its input gradient is the gather followed by one conv2d.
(Measured by hand against the per-tap form (kD conv2d calls, one per depth tap, summed; autograd through them), one
thread on this shared 2-core machine, k=3 pad=1, fwd+bwd: [2,16,16^3]->32 ch 14 ms vs 19-20 ms, [1,32,12^3]->32
6-9 ms vs 9 ms, [2,4,16^3]->16 2.2 ms both (forward alone within noise, the per-tap form slightly ahead for 4
input channels); the folded form is kept.)

Pooling is separable: a 2-D pool over (H, W) with the existing kernels on an [N, C*D, H, W] view, then a
reduction over depth windows. For max pooling the depth stage scans the taps in order and a later tap wins only
if it is strictly greater (or NaN, torch's CPU rule), so the index is the first maximum in (d, h, w) scan order,
like torch; the backward scatter-adds the output gradient at those flat indices. Average pooling sums (divisor 1)
over (H, W), sums the depth taps, and divides by torch's divisor, a product of per-dimension window counts.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import _C, _ops
from . import _nn_layers as _L
from .autograd import Function, _needs_grad

Tensor = _C.Tensor

__all__ = ["conv3d", "conv_transpose3d", "max_pool3d", "max_pool3d_with_indices", "avg_pool3d", "lp_pool3d",
           "adaptive_avg_pool3d", "adaptive_max_pool3d", "adaptive_max_pool3d_with_indices"]


# ------------------------------------------------------------------------------------------------- helpers

def _dt(t):
    return str(t.dtype).replace("dlcore.", "")


def _triple(v, op, name, allow_none=False):
    """An int or a sequence of 1 or 3 ints -> a tuple of 3 ints."""
    if isinstance(v, bool):
        raise TypeError(f"{op}(): {name} must be an int or a tuple of 3 ints, got {v!r}")
    if isinstance(v, numbers.Integral):
        return (int(v),) * 3
    try:
        t = tuple(v)
    except TypeError:
        raise TypeError(f"{op}(): {name} must be an int or a tuple of 3 ints, got {type(v).__name__}") from None
    if len(t) == 1:
        t = t * 3
    ok = all((e is None and allow_none) or (isinstance(e, numbers.Integral) and not isinstance(e, bool)) for e in t)
    if len(t) != 3 or not ok:
        raise ValueError(f"{op}(): {name} must be an int or a tuple of 3 ints, got {v!r}")
    return tuple(e if e is None else int(e) for e in t)


def _check_tensor(x, op, name="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be a Tensor, not {type(x).__name__}")


def _batched(input, op):
    """[C, D, H, W] or [N, C, D, H, W] -> (the 5-D view, whether the input was batched)."""
    _check_tensor(input, op)
    if input.ndim not in (4, 5):
        raise ValueError(f"{op}(): expected a 4-D (unbatched) [C, D, H, W] or 5-D (batched) [N, C, D, H, W] input, "
                         f"got input of shape {list(input.shape)}")
    if input.ndim == 4:
        return _ops.unsqueeze(input, 0), False
    return input, True


def _unbatch(y, batched):
    return y if batched else _ops.squeeze(y, 0)


def _float_check(op, input, **others):
    if _dt(input) not in ("float32", "float64"):
        raise TypeError(f"{op}(): expected float32 or float64 tensors, got input of dtype {_dt(input)}")
    for name, t in others.items():
        if t is None:
            continue
        _check_tensor(t, op, name)
        if t.dtype != input.dtype:
            raise TypeError(f"{op}(): {name} dtype {_dt(t)} does not match the input dtype {_dt(input)}")
        if t.device != input.device:
            raise RuntimeError(f"{op}(): {name} is on {t.device}, but the input is on {input.device}")


def _in_graph(y, *tensors):
    """y (a result built without the inputs, e.g. zeros for an empty batch) tied into the autograd graph of the
    tensors that need a gradient, so backward gives them zero gradients as torch does (adds an empty sum, never
    changing y's values)."""
    for t in tensors:
        if t is not None and _needs_grad(t):
            y = _ops.add(y, _ops.sum(_ops.narrow(_ops.reshape(t, [-1]), 0, 0, 0)))
    return y


def _c(t):
    return _C.contiguous(t)


def _ncdhw_to_ndchw(x):
    return _C.permute(x, [0, 2, 1, 3, 4])


def _gather_depth(xd, n, do, g, kd, cg, h, w, sd, dd):
    """xd [N, Dp, C, H, W] (contiguous) -> U [N*Do, G*kD*Cg, H, W], U[n*Do + o, (gi, k, c)] = xd[n, o*sD + k*dD,
    gi*Cg + c]: one strided view, one copy."""
    dp = xd.shape[1]
    hw = h * w
    chw = g * cg * hw
    v = _C.as_strided(xd, [n, do, g, kd, cg, h, w], [dp * chw, sd * chw, cg * hw, dd * chw, hw, w, 1],
                      xd.storage_offset())
    return _C.reshape(_c(v), [n * do, g * kd * cg, h, w])


def _scatter_depth(dst, u, n, do, g, kd, cg, sd, dd):
    """The transpose of _gather_depth: dst [N, Dp, G*Cg, h, w] (contiguous) += the kD depth slabs of
    u [N*Do, G*kD*Cg, h', w'] (h' <= h, w' <= w: the leading block) at depths o*sD + k*dD."""
    hh, ww = u.shape[2], u.shape[3]
    uv = _C.reshape(u, [n, do, g, kd, cg, hh, ww])
    d6 = _C.reshape(dst, [n, dst.shape[1], g, cg, dst.shape[3], dst.shape[4]])
    if hh != dst.shape[3] or ww != dst.shape[4]:
        d6 = _C.slice(_C.slice(d6, 4, 0, hh, 1), 5, 0, ww, 1)
    for k in range(kd):
        a = k * dd
        _C.add_(_C.slice(d6, 1, a, a + (do - 1) * sd + 1, sd), _C.select(uv, 3, k))


# ------------------------------------------------------------------------------------------------- conv3d

class _Conv3d(Function):
    """x [N, C, D, H, W], w [K, C/G, kD, kH, kW], b [K] or None; cfg = (depth pads, 2-D pads (t, b, l, r), stride,
    dilation, groups, Do)."""

    @staticmethod
    def forward(ctx, x, w, b, cfg):
        (pdl, pdh), pad2, st, dil, groups, do = cfg
        if _cpu_kernels(x):
            y = _C.conv3d_cpu(x, w, b, list(st), [pdl, pdh, *pad2], list(dil), groups, "conv3d")
            ctx.save_for_backward(x, w)
            ctx.cfg = cfg
            ctx.cpu = True
            ctx.has_b = b is not None
            return y
        n, c, d, h, wd = x.shape
        k, cg, kd, kh, kw = w.shape
        dp = d + pdl + pdh
        if pdl or pdh:
            xd = _C.zeros([n, dp, c, h, wd], x.dtype, x.device)
            _C.copy_(_C.slice(xd, 1, pdl, pdl + d, 1), _ncdhw_to_ndchw(x))
        else:
            xd = _c(_ncdhw_to_ndchw(x))
        u = _gather_depth(xd, n, do, groups, kd, cg, h, wd, st[0], dil[0])
        del xd
        w2 = _C.reshape(_c(_C.permute(w, [0, 2, 1, 3, 4])), [k, kd * cg, kh, kw])
        y2 = _C.conv2d(u, w2, b, list(st[1:]), list(pad2), list(dil[1:]), groups, "conv3d")
        ho, wo = y2.shape[2], y2.shape[3]
        ctx.save_for_backward(u, w2, x, w)  # x, w (references, no copies): for the double backward
        ctx.cfg = cfg
        ctx.cpu = False
        ctx.dims = (n, c, d, h, wd, k, cg, kd, kh, kw, ho, wo)
        ctx.has_b = b is not None
        return _c(_C.permute(_C.reshape(y2, [n, do, k, ho, wo]), [0, 2, 1, 3, 4]))

    @staticmethod
    def backward(ctx, g):
        if ctx.cpu:
            return _Conv3d._backward_cpu(ctx, g)
        u, w2 = ctx.saved_tensors[:2]
        (pdl, pdh), pad2, st, dil, groups, do = ctx.cfg
        n, c, d, h, wd, k, cg, kd, kh, kw, ho, wo = ctx.dims
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        need_b = ctx.has_b and ctx.needs_input_grad[2]
        g2 = _C.reshape(_c(_ncdhw_to_ndchw(g)), [n * do, k, ho, wo])
        gx = gw = gb = None
        if need_x:
            gu = _C.conv2d_backward_input(g2, w2, list(u.shape), list(st[1:]), list(pad2), list(dil[1:]), groups,
                                          "conv3d")
            gxd = _C.zeros([n, d + pdl + pdh, c, h, wd], g.dtype, g.device)
            _scatter_depth(gxd, gu, n, do, groups, kd, cg, st[0], dil[0])
            gx = _c(_ncdhw_to_ndchw(_C.slice(gxd, 1, pdl, pdl + d, 1)))
        if need_w or need_b:
            gw2, gb = _C.conv2d_backward_weight(g2, u, list(w2.shape), list(st[1:]), list(pad2), list(dil[1:]),
                                                groups, need_w, need_b, "conv3d")
            if gw2 is not None:
                gw = _c(_C.permute(_C.reshape(gw2, [k, kd, cg, kh, kw]), [0, 2, 1, 3, 4]))
        return gx, gw, gb, None

    @staticmethod
    def _backward_cpu(ctx, g):
        x, w = ctx.saved_tensors
        (pdl, pdh), pad2, st, dil, groups, do = ctx.cfg
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        need_b = ctx.has_b and ctx.needs_input_grad[2]
        args = (list(st), [pdl, pdh, *pad2], list(dil), groups, "conv3d")
        g = _c(g)  # (once for both kernels: a sum's gradient arrives expanded)
        gx = gw = gb = None
        if need_x:
            gx = _C.conv3d_backward_input_cpu(g, w, list(x.shape), *args)
        if need_w or need_b:
            gw, gb = _C.conv3d_backward_weight_cpu(g, x, list(w.shape), *args[:4], need_w, need_b, "conv3d")
        return gx, gw, gb, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        """create_graph: conv3d recomputed as a sum of recorded conv2d calls (_conv3d_composite) at the saved
        inputs (the CPU path saves x, w; the folded path saves them after its u, w2) and differentiated."""
        from .autograd import _recompute_vjp
        x, w = ctx.saved_tensors[-2:]
        (pdl, pdh), pad2, st, dil, groups, _ = ctx.cfg
        pads6 = [pdl, pdh, *pad2]
        gx, gw = _recompute_vjp(lambda x, w: _conv3d_composite(x, w, pads6, st, dil, groups), (x, w), (g,))
        gb = _ops.sum(g, [0, 2, 3, 4]) if ctx.has_b and ctx.needs_input_grad[2] else None
        return gx, gw, gb, None


def _conv3d_composite(x, w, pads6, st, dil, groups):
    """conv3d(x, w) (no bias) with recording ops, for double backward: the padded input's depth taps (strided
    slices) folded into the batch, one recorded conv2d per depth tap kd with w[:, :, kd], summed.
    pads6 = (front, back, top, bottom, left, right)."""
    from ._nn_extra import pad as _pad
    from ._nn_conv import conv2d
    pdl, pdh, pt, pb, pl, pr = pads6
    xp = _pad(x, (pl, pr, pt, pb, pdl, pdh)) if any(pads6) else x
    n, c = x.shape[0], x.shape[1]
    kdn = w.shape[2]
    do = (xp.shape[2] - (dil[0] * (kdn - 1) + 1)) // st[0] + 1
    y = None
    for kd in range(kdn):
        a = kd * dil[0]
        xs = _ops._slice_op(xp, _C.slice, 2, a, a + (do - 1) * st[0] + 1, st[0])
        xs = _ops.reshape(_ops.permute(xs, [0, 2, 1, 3, 4]), [n * do, c, xs.shape[3], xs.shape[4]])
        yk = conv2d(xs, _ops.select(w, 2, kd), None, tuple(st[1:]), 0, tuple(dil[1:]), groups)
        y = yk if y is None else _ops.add(y, yk)
    return _ops.permute(_ops.reshape(y, [n, do] + list(y.shape[1:])), [0, 2, 1, 3, 4])


def _cpu_kernels(x):
    """Whether the CPU conv3d kernels (csrc/ops/conv/conv3d_cpu.cpp: no copy of the input per depth tap) run x."""
    return x.device.type == "cpu" and hasattr(_C, "conv3d_cpu")


def _conv_common_checks(op, input, weight, bias, groups):
    _check_tensor(input, op)
    _check_tensor(weight, op, "weight")
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral):
        raise TypeError(f"{op}(): groups must be an int, got {groups!r}")
    if groups <= 0:
        raise ValueError(f"{op}(): groups must be a positive integer, got {groups}")
    if input.ndim not in (4, 5):
        raise ValueError(f"{op}(): expected a 4-D (unbatched) or 5-D (batched) input, got input of shape "
                         f"{list(input.shape)}")
    _float_check(op, input, weight=weight, bias=bias)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution (cross-correlation) over input [N, C, D, H, W] (or [C, D, H, W]) with weight
    [K, C/groups, kD, kH, kW] and optional bias [K]; stride/dilation int or triple; padding int, triple, 'valid'
    or 'same' (an odd total padding puts the extra one at the end, like torch)."""
    op = "conv3d"
    _conv_common_checks(op, input, weight, bias, groups)
    if weight.ndim != 5:
        raise ValueError(f"{op}(): expected a 5-D weight [out_channels, in_channels/groups, kD, kH, kW], got weight "
                         f"of shape {list(weight.shape)}")
    st = _triple(stride, op, "stride")
    dil = _triple(dilation, op, "dilation")
    ks = tuple(weight.shape[2:])
    if any(s <= 0 for s in st) or any(e <= 0 for e in dil):
        raise ValueError(f"{op}(): stride and dilation must be positive, got stride={st}, dilation={dil}")
    if isinstance(padding, str):
        if padding == "valid":
            pads = [(0, 0)] * 3
        elif padding == "same":
            if any(s != 1 for s in st):
                raise ValueError(f"{op}(): padding='same' is not supported for strided convolutions (stride={st})")
            pads = [(e * (kk - 1) // 2, e * (kk - 1) - e * (kk - 1) // 2) for kk, e in zip(ks, dil)]
        else:
            raise ValueError(f"{op}(): invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
    else:
        p = _triple(padding, op, "padding")
        if any(e < 0 for e in p):
            raise ValueError(f"{op}(): padding must be non-negative, got {p}")
        pads = [(e, e) for e in p]
    x, batched = (input, True) if input.ndim == 5 else (_ops.unsqueeze(input, 0), False)
    c = x.shape[1]
    k = weight.shape[0]
    if weight.shape[1] * groups != c:
        raise ValueError(f"{op}(): input of shape {list(input.shape)} has {c} channels, but weight of shape "
                         f"{list(weight.shape)} with groups={groups} expects {weight.shape[1] * groups} "
                         f"(weight.shape[1] * groups)")
    if k % groups != 0:
        raise ValueError(f"{op}(): out_channels ({k}, weight's first dimension) must be divisible by groups "
                         f"({groups})")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != k):
        raise ValueError(f"{op}(): bias must be a 1-D tensor of {k} elements (out_channels), got shape "
                         f"{list(bias.shape)}")
    sizes = x.shape[2:]
    padded = [sz + a + b for sz, (a, b) in zip(sizes, pads)]
    eff = [e * (kk - 1) + 1 for kk, e in zip(ks, dil)]
    if any(pp < ee for pp, ee in zip(padded, eff)):
        raise ValueError(f"{op}(): calculated padded input size per channel: {tuple(padded)}; kernel size "
                         f"(dilated): {tuple(eff)}; kernel size can't be greater than the actual input size "
                         f"(input {list(input.shape)}, weight {list(weight.shape)})")
    out = [(pp - ee) // s + 1 for pp, ee, s in zip(padded, eff, st)]
    if x.numel() == 0 or k == 0:
        shape = [x.shape[0], k] + out
        y = _in_graph(_C.zeros(shape, input.dtype, input.device), input, weight, bias)
        if bias is not None and k:
            y = _ops.add(y, _ops.reshape(bias, [1, k, 1, 1, 1]))
        return _unbatch(y, batched)
    cfg = (pads[0], (pads[1][0], pads[1][1], pads[2][0], pads[2][1]), st, dil, groups, out[0])
    if _needs_grad(x, weight, bias):
        y = _Conv3d.apply(x, weight, bias, cfg)
    else:
        y = _Conv3d.forward(_NoCtx(), x, weight, bias, cfg)
    return _unbatch(y, batched)


class _NoCtx:
    """A stand-in ctx for running a Function's forward without recording (no grad needed)."""

    def save_for_backward(self, *t):
        pass

    def mark_non_differentiable(self, *t):
        pass


# ------------------------------------------------------------------------------------------------- conv_transpose3d

def _tpad(p, o, s, full):
    """(pad_lo, pad_hi) for the 2-D kernels and the size of the leading block they compute (_nn_conv's rule:
    output_padding >= stride, allowed while < dilation, leaves rows no input reaches, which are 0)."""
    if o < s:
        return (p, p), full
    r = min(p, o)
    e = min(o - r, s - 1)
    return (p, p - r), full - (o - r - e)


class _ConvTranspose3d(Function):
    """x [N, C_in, D, H, W], w [C_in, C_out/G, kD, kH, kW], b [C_out] or None."""

    @staticmethod
    def forward(ctx, x, w, b, cfg):
        pd, pad2, st, dil, groups, (dy, hy, wy), (he, we), dbuf, _ = cfg
        ctx.cpu = cfg[-1] is not None
        if ctx.cpu:  # the input gradient of the conv3d whose output has x's shape (CPU kernels)
            args = cfg[-1]
            y = _C.conv3d_backward_input_cpu(x, w, [x.shape[0], w.shape[1] * groups, dy, hy, wy], *args)
            if b is not None:
                _C.add_(y, _C.reshape(b, [1, w.shape[1] * groups, 1, 1, 1]))
            ctx.save_for_backward(x, w)
            ctx.cfg = cfg
            ctx.has_b = b is not None
            return y
        n, cin, din, h, wd = x.shape
        _, cog, kd, kh, kw = w.shape
        cout = cog * groups
        x2 = _C.reshape(_c(_ncdhw_to_ndchw(x)), [n * din, cin, h, wd])
        w2 = _C.reshape(_c(_C.permute(w, [0, 2, 1, 3, 4])), [cin, kd * cog, kh, kw])
        z = _C.conv2d_backward_input(x2, w2, [n * din, groups * kd * cog, he, we], list(st[1:]), list(pad2),
                                     list(dil[1:]), groups, "conv_transpose3d")
        yfull = _C.zeros([n, dbuf, cout, hy, wy], x.dtype, x.device)
        _scatter_depth(yfull, z, n, din, groups, kd, cog, st[0], dil[0])
        del z
        y = _c(_ncdhw_to_ndchw(_C.slice(yfull, 1, pd, pd + dy, 1)))
        if b is not None:
            _C.add_(y, _C.reshape(b, [1, cout, 1, 1, 1]))
        ctx.save_for_backward(x2, w2)
        ctx.cfg = cfg
        ctx.dims = (n, cin, din, h, wd, cog, kd, kh, kw)
        ctx.has_b = b is not None
        return y

    @staticmethod
    def backward(ctx, g):
        if ctx.cpu:
            x, w = ctx.saved_tensors
            args = ctx.cfg[-1]
            gx = gw = gb = None
            if ctx.needs_input_grad[0]:
                gx = _C.conv3d_cpu(_c(g), w, None, *args)
            if ctx.needs_input_grad[1]:
                gw, _ = _C.conv3d_backward_weight_cpu(x, _c(g), list(w.shape), *args[:4], True, False, args[4])
            if ctx.has_b and ctx.needs_input_grad[2]:
                gb = _C.sum(g, [0, 2, 3, 4])
            return gx, gw, gb, None
        x2, w2 = ctx.saved_tensors
        pd, pad2, st, dil, groups, (dy, hy, wy), (he, we), dbuf, _ = ctx.cfg
        n, cin, din, h, wd, cog, kd, kh, kw = ctx.dims
        cout = cog * groups
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        need_b = ctx.has_b and ctx.needs_input_grad[2]
        gx = gw = gb = None
        if need_x or need_w:
            gfull = _C.zeros([n, dbuf, cout, he, we], g.dtype, g.device)
            gs = g
            if (he, we) != (hy, wy):  # the zero block of y depends on nothing (but the bias)
                gs = _C.slice(_C.slice(g, 3, 0, he, 1), 4, 0, we, 1)
            _C.copy_(_C.slice(gfull, 1, pd, pd + dy, 1), _ncdhw_to_ndchw(gs))
            gz = _gather_depth(gfull, n, din, groups, kd, cog, he, we, st[0], dil[0])
            del gfull
            if need_x:
                gx2 = _C.conv2d(gz, w2, None, list(st[1:]), list(pad2), list(dil[1:]), groups, "conv_transpose3d")
                gx = _c(_C.permute(_C.reshape(gx2, [n, din, cin, h, wd]), [0, 2, 1, 3, 4]))
            if need_w:
                gw2, _ = _C.conv2d_backward_weight(x2, gz, list(w2.shape), list(st[1:]), list(pad2), list(dil[1:]),
                                                   groups, True, False, "conv_transpose3d")
                gw = _c(_C.permute(_C.reshape(gw2, [cin, kd, cog, kh, kw]), [0, 2, 1, 3, 4]))
        if need_b:
            gb = _C.sum(g, [0, 2, 3, 4])
        return gx, gw, gb, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        """create_graph: conv_transpose3d(x, w) is the input gradient of the conv3d (same stride, padding,
        dilation, groups) whose output, cropped to x's size, has x's shape; recomputed as the recorded
        vector-Jacobian product of _conv3d_composite at x, and differentiated."""
        from .autograd import _inputs_with_history, _recompute_vjp
        cfg = ctx.cfg
        pd, pad2, st, dil, groups, out = cfg[:6]
        if ctx.cpu:
            x, w = ctx.saved_tensors
        else:  # the saved x2, w2 are reshaped copies of the inputs: their values, with the inputs' histories
            x2, w2 = ctx.saved_tensors
            n, cin, din, h, wd, cog, kd, kh, kw = ctx.dims
            xv = _C.permute(_C.reshape(x2, [n, din, cin, h, wd]), [0, 2, 1, 3, 4])
            wv = _C.permute(_C.reshape(w2, [cin, kd, cog, kh, kw]), [0, 2, 1, 3, 4])
            x, w = _inputs_with_history(ctx, (xv, wv))
        pads6 = [pd, pd, pad2[0], pad2[0], pad2[2], pad2[2]]  # (_tpad keeps the low padding as given)
        y_shape = [x.shape[0], w.shape[1] * groups] + list(out)

        def conv_cropped(z, w):
            c = _conv3d_composite(z, w, pads6, st, dil, groups)
            for d in (2, 3, 4):  # output_padding >= stride: conv3d of z has more positions than x
                if c.shape[d] != x.shape[d]:
                    c = _ops.narrow(c, d, 0, x.shape[d])
            return c

        def composite(x, w):
            z = _C.zeros(y_shape, x.dtype, x.device)
            z.requires_grad = True
            return _recompute_vjp(conv_cropped, (z, w), (x,))[0]

        gx, gw = _recompute_vjp(composite, (x, w), (g,))
        gb = _ops.sum(g, [0, 2, 3, 4]) if ctx.has_b and ctx.needs_input_grad[2] else None
        return gx, gw, gb, None


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """3-D transposed convolution over input [N, C_in, D, H, W] (or [C_in, D, H, W]) with weight
    [C_in, C_out/groups, kD, kH, kW] and optional bias [C_out]: the gradient of conv3d with respect to its input.
    Output size (D - 1) stride - 2 padding + dilation (kD - 1) + output_padding + 1 (likewise H, W)."""
    op = "conv_transpose3d"
    _conv_common_checks(op, input, weight, bias, groups)
    if weight.ndim != 5:
        raise ValueError(f"{op}(): expected a 5-D weight [in_channels, out_channels/groups, kD, kH, kW], got weight "
                         f"of shape {list(weight.shape)}")
    if isinstance(padding, str):
        raise ValueError(f"{op}(): padding must be an int or a tuple of 3 ints (no 'same'/'valid' strings for "
                         f"transposed convolutions), got {padding!r}")
    st = _triple(stride, op, "stride")
    pad = _triple(padding, op, "padding")
    opad = _triple(output_padding, op, "output_padding")
    dil = _triple(dilation, op, "dilation")
    if any(s <= 0 for s in st) or any(e <= 0 for e in dil) or any(p < 0 for p in pad):
        raise ValueError(f"{op}(): stride and dilation must be positive and padding non-negative, got stride={st}, "
                         f"dilation={dil}, padding={pad}")
    for o, s, e in zip(opad, st, dil):
        if o < 0 or (o >= s and o >= e):
            raise ValueError(f"{op}(): output padding must be smaller than either stride or dilation, got "
                             f"output_padding={opad}, stride={st}, dilation={dil}")
    x, batched = (input, True) if input.ndim == 5 else (_ops.unsqueeze(input, 0), False)
    cin, cog = weight.shape[0], weight.shape[1]
    if x.shape[1] != cin:
        raise ValueError(f"{op}(): input of shape {list(input.shape)} has {x.shape[1]} channels, but weight of shape "
                         f"{list(weight.shape)} expects {cin} input channels (its first dimension)")
    if cin % groups != 0:
        raise ValueError(f"{op}(): in_channels ({cin}, weight's first dimension) must be divisible by groups "
                         f"({groups})")
    cout = cog * groups
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != cout):
        raise ValueError(f"{op}(): bias must be a 1-D tensor of {cout} elements (out_channels), got shape "
                         f"{list(bias.shape)}")
    ks = tuple(weight.shape[2:])
    sizes = x.shape[2:]
    full = [(sz - 1) * s + e * (kk - 1) + 1 for sz, s, e, kk in zip(sizes, st, dil, ks)]
    out = [f - 2 * p + o for f, p, o in zip(full, pad, opad)]
    if any(o <= 0 for o in out):
        raise ValueError(f"{op}(): input of shape {list(input.shape)} with weight {list(weight.shape)}, stride {st}, "
                         f"padding {pad}, output_padding {opad} and dilation {dil} gives an output of size {out}: "
                         f"too small")
    if x.numel() == 0 or cout == 0:
        y = _in_graph(_C.zeros([x.shape[0], cout] + out, input.dtype, input.device), input, weight, bias)
        if bias is not None and cout:
            y = _ops.add(y, _ops.reshape(bias, [1, cout, 1, 1, 1]))
        return _unbatch(y, batched)
    (ph0, ph1), he = _tpad(pad[1], opad[1], st[1], out[1])
    (pw0, pw1), we = _tpad(pad[2], opad[2], st[2], out[2])
    dbuf = max(full[0], pad[0] + out[0])
    cpu_args = None  # (stride, padding, dilation, groups, op) of the conv3d whose input gradient this is
    if _cpu_kernels(x) and all(o < s for o, s in zip(opad, st)):
        cpu_args = (list(st), [pad[0], pad[0], pad[1], pad[1], pad[2], pad[2]], list(dil), groups, op)
    cfg = (pad[0], (ph0, ph1, pw0, pw1), st, dil, groups, tuple(out), (he, we), dbuf, cpu_args)
    if _needs_grad(x, weight, bias):
        y = _ConvTranspose3d.apply(x, weight, bias, cfg)
    else:
        y = _ConvTranspose3d.forward(_NoCtx(), x, weight, bias, cfg)
    return _unbatch(y, batched)


# ------------------------------------------------------------------------------------------------- pooling shapes

def _pool_out(size, k, s, p, d, ceil_mode):
    """torch's pooling_output_shape."""
    eff = d * (k - 1) + 1
    num = size + 2 * p - eff + ((s - 1) if ceil_mode else 0)
    out = num // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool_args(input, kernel_size, stride, padding, dilation, op):
    k = _triple(kernel_size, op, "kernel_size")
    if stride is None or (not isinstance(stride, numbers.Integral) and len(tuple(stride)) == 0):
        s = k
    else:
        s = _triple(stride, op, "stride")
    p = _triple(padding, op, "padding")
    d = _triple(dilation, op, "dilation")
    if any(e <= 0 for e in k):
        raise ValueError(f"{op}(): kernel_size must be greater than zero, got {k}")
    if any(e <= 0 for e in s):
        raise ValueError(f"{op}(): stride must be greater than zero, got {s}")
    if any(e <= 0 for e in d):
        raise ValueError(f"{op}(): dilation must be greater than zero, got {d}")
    for kk, pp, dd in zip(k, p, d):
        if pp < 0 or pp > kk // 2:  # (torch checks the kernel size, not the dilated extent its message names)
            raise ValueError(f"{op}(): pad should be at most half of kernel size, but got pad={p}, "
                             f"kernel_size={k} and dilation={d}")
    return k, s, p, d


def _check_out(op, input, out):
    if any(o <= 0 for o in out):
        raise ValueError(f"{op}(): input of shape {list(input.shape)} is too small for this pooling: output size "
                         f"would be {out}")


# ------------------------------------------------------------------------------------------------- max pooling

def _depth_max(v, i2, taps, hw):
    """v, i2 [N, C, D, Ho, Wo] (values and flat h*W+w indices of the (H, W) stage); taps: lists (one per tap, the
    first tap the window's first valid depth) of a depth per output depth. A later tap wins only if strictly
    greater or NaN (torch's CPU rule): the result is the first maximum in (d, h, w) scan order."""
    from ._creation import tensor
    dev = v.device
    cur = idx = None
    for t in taps:
        ti = tensor(t, dtype=_C.dtype.int64, device=dev)
        vk = _C.index_select(v, 2, ti)
        ik = _C.index_select(i2, 2, ti)
        # (a window of padding only, possible with dilation, keeps index -1: it reads no input)
        ik = _C.where(_C.lt(ik, 0), ik, _C.add(ik, _C.reshape(_C.mul(ti, hw), [1, 1, len(t), 1, 1])))
        if cur is None:
            cur, idx = vk, ik
            continue
        better = _C.logical_or(_C.gt(vk, cur), _C.isnan(vk))
        cur = _C.where(better, vk, cur)
        idx = _C.where(better, ik, idx)
    return cur, idx


def _window_taps(size, out, k, s, p, d):
    """For each tap the depth read by each output position; padding taps repeat the window's first valid depth
    (a repeat never changes the first-maximum result). The first list is the first valid depth of each window."""
    first = []
    for o in range(out):
        start = o * s - p
        ids = [start + j * d for j in range(k) if 0 <= start + j * d < size]
        first.append(ids[0] if ids else min(max(start, 0), size - 1))
    taps = [first]
    for j in range(k):
        t = []
        for o in range(out):
            i = o * s - p + j * d
            t.append(i if 0 <= i < size else first[o])
        if t != first:
            taps.append(t)
    return taps


class _MaxPool3dFn(Function):
    """Values and flat D*H*W indices from a plan (fwd(x) -> (out, idx)); the backward scatter-adds the gradient at
    the indices."""

    @staticmethod
    def forward(ctx, x, fwd):
        out, idx = fwd(x)
        ctx.save_for_backward(idx)
        ctx.shape = tuple(x.shape)
        ctx.mark_non_differentiable(idx)
        return out, idx

    @staticmethod
    def backward(ctx, g, gi=None):
        (idx,) = ctx.saved_tensors
        n, c = ctx.shape[0], ctx.shape[1]
        plane = math.prod(ctx.shape[2:])
        gx = _C.zeros([n * c, plane], g.dtype, g.device)
        per = math.prod(idx.shape[2:])  # explicit: a -1 is ambiguous when n * c == 0
        idx = _C.reshape(idx, [n * c, per])
        g = _C.reshape(g, [n * c, per])
        miss = _C.lt(idx, 0)  # a window of padding only (dilation): -inf, index -1, no input gets its gradient
        idx = _C.where(miss, _C.zeros([], idx.dtype, idx.device), idx)
        g = _C.where(miss, _C.zeros([], g.dtype, g.device), g)
        _C.scatter_add_(gx, 1, _c(idx), _c(g))
        return _C.reshape(gx, list(ctx.shape)), None

    @staticmethod
    def _double_backward_fn(ctx, g, gi=None):
        """The backward as a recorded linear map of g; its adjoint gathers a tensor of x's shape at the indices."""
        from .autograd import _linear_pair
        (idx,) = ctx.saved_tensors
        shape = ctx.shape
        nc = shape[0] * shape[1]

        def gather_raw(u):
            i2 = _C.reshape(idx, [nc, math.prod(idx.shape[2:])])
            miss = _C.lt(i2, 0)
            i2 = _C.where(miss, _C.zeros([], i2.dtype, i2.device), i2)
            v = _C.gather(_C.reshape(_c(u), [nc, math.prod(shape[2:])]), 1, _c(i2))
            return _C.reshape(_C.where(miss, _C.zeros([], v.dtype, v.device), v), list(idx.shape))

        fwd, _ = _linear_pair(lambda t: _MaxPool3dFn.backward(ctx, t)[0], gather_raw)
        return fwd(g), None


def _run_max(x, fwd, return_indices, batched):
    if _needs_grad(x):
        out, idx = _MaxPool3dFn.apply(x, fwd)
    else:
        out, idx = fwd(x)
    out, idx = _unbatch(out, batched), _unbatch(idx, batched)
    return (out, idx) if return_indices else out


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max pooling over [N, C, D, H, W] (or [C, D, H, W]); indices (return_indices=True) are flat positions
    d*H*W + h*W + w in each input volume, like torch (max_unpool3d takes them)."""
    op = "max_pool3d"
    x, batched = _batched(input, op)
    k, s, p, d = _pool_args(input, kernel_size, stride, padding, dilation, op)
    n, c, dd, h, w = x.shape
    out = [_pool_out(sz, kk, ss, pp, di, bool(ceil_mode)) for sz, kk, ss, pp, di in zip((dd, h, w), k, s, p, d)]
    _check_out(op, input, out)

    if x.device.type == "cpu" and x.dtype in (_C.dtype.float32, _C.dtype.float64) and max(k) <= 64:
        def fwd_cpu(xx):  # one native pass (the composition below: 2-D pooling, then per-depth selects)
            v, i = _C._max_pool3d_cpu(xx, list(k), list(s), list(p), list(d), list(out))
            return v, i
        return _run_max(x, fwd_cpu, return_indices, batched)

    def fwd(xx):
        x4 = _C.reshape(xx, [n, c * dd, h, w])
        v, i2 = _C.max_pool2d_fwd(x4, k[1:], s[1:], p[1:], d[1:], bool(ceil_mode), True)
        v = _C.reshape(v, [n, c, dd, out[1], out[2]])
        i2 = _C.reshape(i2, [n, c, dd, out[1], out[2]])
        cur, idx = _depth_max(v, i2, _window_taps(dd, out[0], k[0], s[0], p[0], d[0]), h * w)
        # a depth window of padding only (possible with dilation) reads no input: -inf and index -1, as torch's
        # value (the taps above fill it with a valid depth)
        empty = [o for o in range(out[0])
                 if not any(0 <= o * s[0] - p[0] + j * d[0] < dd for j in range(k[0]))]
        if empty:
            from ._creation import tensor
            m = _C.reshape(tensor([o in empty for o in range(out[0])], dtype=_C.dtype.bool, device=xx.device),
                           [1, 1, out[0], 1, 1])
            cur = _C.where(m, _C.full([], float("-inf"), cur.dtype, cur.device), cur)
            idx = _C.where(m, _C.full_int([], -1, idx.dtype, idx.device), idx)
        return cur, idx

    return _run_max(x, fwd, return_indices, batched)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def _adaptive_size(output_size, sizes, op):
    if isinstance(output_size, numbers.Integral) and not isinstance(output_size, bool):
        o = (int(output_size),) * 3
    else:
        o = _triple(output_size, op, "output_size", allow_none=True)
    o = tuple(sz if e is None else e for e, sz in zip(o, sizes))
    if any(e < 0 for e in o):
        raise ValueError(f"{op}(): output_size must be non-negative, got {o}")
    return o


def _adaptive_windows(size, out):
    return [((i * size) // out, -((-(i + 1) * size) // out)) for i in range(out)]


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Adaptive max pooling over [N, C, D, H, W] (or [C, D, H, W]): windows [floor(i D / Do), ceil((i+1) D / Do))
    per dim; indices flat d*H*W + h*W + w like torch."""
    op = "adaptive_max_pool3d"
    x, batched = _batched(input, op)
    n, c, dd, h, w = x.shape
    o = _adaptive_size(output_size, (dd, h, w), op)
    if any(e <= 0 for e in o):
        raise ValueError(f"{op}(): output_size must be positive, got {o}")
    if any(sz == 0 for sz in (dd, h, w)):
        raise ValueError(f"{op}(): expected non-empty spatial dims, got input of shape {list(input.shape)}")
    win = _adaptive_windows(dd, o[0])
    kmax = max(b - a for a, b in win)
    taps = [[min(a + j, b - 1) for a, b in win] for j in range(kmax)]

    def fwd(xx):
        x4 = _C.reshape(xx, [n, c * dd, h, w])
        v, i2 = _L.adaptive_max_pool2d(x4, (o[1], o[2]), True)
        v = _C.reshape(v, [n, c, dd, o[1], o[2]])
        i2 = _C.reshape(i2, [n, c, dd, o[1], o[2]])
        return _depth_max(v, i2, taps, h * w)

    return _run_max(x, fwd, return_indices, batched)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):
    return adaptive_max_pool3d(input, output_size, True)


# ------------------------------------------------------------------------------------------------- average pooling

def _counts(size, out, k, s, p, include_pad):
    """torch's avg_pool divisor factor per output position of one dim."""
    r = []
    for o in range(out):
        start = o * s - p
        end = min(start + k, size + p)
        pool = end - start
        a, b = max(start, 0), min(end, size)
        r.append(pool if include_pad else b - a)
    return r


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Average pooling over [N, C, D, H, W] (or [C, D, H, W]) with torch's divisor rules (count_include_pad,
    divisor_override, ceil_mode windows clipped to the padded input)."""
    op = "avg_pool3d"
    x, batched = _batched(input, op)
    k, s, p, _ = _pool_args(input, kernel_size, stride, padding, 1, op)
    if divisor_override is not None and (isinstance(divisor_override, bool) or int(divisor_override) <= 0):
        raise ValueError(f"{op}(): divisor_override must be a positive int, got {divisor_override!r}")
    n, c, dd, h, w = x.shape
    if any(sz < kk for sz, kk in zip((dd, h, w), k)):  # torch checks this whatever the padding
        raise ValueError(f"{op}(): input image of shape {list(input.shape)} is too small: smaller than kernel "
                         f"size {k}")
    out = [_pool_out(sz, kk, ss, pp, 1, bool(ceil_mode)) for sz, kk, ss, pp in zip((dd, h, w), k, s, p)]
    _check_out(op, input, out)
    if _dt(input) not in ("float32", "float64"):
        raise TypeError(f"{op}(): expected a float32 or float64 input, got {_dt(input)}")
    sums = _L.avg_pool2d(_ops.reshape(x, [n, c * dd, h, w]), k[1:], s[1:], p[1:], bool(ceil_mode), True, 1)
    sums = _ops.reshape(sums, [n, c, dd, out[1], out[2]])
    need = (out[0] - 1) * s[0] + k[0]
    hi = max(0, need - dd - p[0])
    if p[0] or hi:
        from ._nn_extra import pad as _pad
        sums = _pad(sums, (0, 0, 0, 0, p[0], hi))
    acc = None
    for j in range(k[0]):
        sl = sums[:, :, j:j + (out[0] - 1) * s[0] + 1:s[0]]
        acc = sl if acc is None else _ops.add(acc, sl)
    if divisor_override is not None:
        y = _ops.div(acc, float(int(divisor_override)))
    else:
        from ._creation import tensor
        cd, ch, cw = (_counts(sz, o, kk, ss, pp, bool(count_include_pad))
                      for sz, o, kk, ss, pp in zip((dd, h, w), out, k, s, p))
        div = [[[a * b * e for e in cw] for b in ch] for a in cd]
        y = _ops.div(acc, tensor(np.array(div, dtype=np.float64), dtype=input.dtype, device=input.device))
    return _unbatch(y, batched)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over the window of x^p)^(1/p), as torch: avg_pool3d(x^p) * kD * kH * kW, then ^(1/p); norm_type inf is
    max-abs pooling (like lp_pool2d here)."""
    op = "lp_pool3d"
    _check_tensor(input, op)
    k = _triple(kernel_size, op, "kernel_size")
    p = float(norm_type)
    if p == 0:
        raise ValueError(f"{op}(): norm_type must be nonzero")
    if math.isinf(p):
        a = _ops.abs(input)
        if p > 0:
            return max_pool3d(a, k, stride, 0, 1, ceil_mode)
        return _ops.neg(max_pool3d(_ops.neg(a), k, stride, 0, 1, ceil_mode))
    xp = _ops.pow(input, p) if p != 2 else _ops.mul(input, input)
    out = avg_pool3d(xp, k, stride, 0, ceil_mode)
    out = _ops.mul(_ops.sub(_L.relu(out), _L.relu(_ops.neg(out))), float(k[0] * k[1] * k[2]))
    return _ops.pow(out, 1.0 / p)


def adaptive_avg_pool3d(input, output_size):
    """Adaptive average pooling over [N, C, D, H, W] (or [C, D, H, W]): windows [floor(i D / Do),
    ceil((i+1) D / Do)) per dim (None keeps a dim's size)."""
    op = "adaptive_avg_pool3d"
    x, batched = _batched(input, op)
    n, c, dd, h, w = x.shape
    o = _adaptive_size(output_size, (dd, h, w), op)
    if _dt(input) not in ("float32", "float64"):
        raise TypeError(f"{op}(): expected a float32 or float64 input, got {_dt(input)}")
    if any(e == 0 for e in o) or x.numel() == 0:
        if any(sz == 0 for sz in (dd, h, w)) and all(e > 0 for e in o):
            raise ValueError(f"{op}(): expected non-empty spatial dims, got input of shape {list(input.shape)}")
        return _unbatch(_in_graph(_C.zeros([n, c] + list(o), input.dtype, input.device), input), batched)
    v = _L.adaptive_avg_pool2d(_ops.reshape(x, [n, c * dd, h, w]), (o[1], o[2]))
    v = _ops.reshape(v, [n, c, dd, o[1] * o[2]])
    if o[0] != dd:
        # the mean of each depth window (summed slices, not a matmul with a 0/1 weight matrix: 0 * inf would turn
        # an infinity outside the window into NaN)
        means = [_ops.div(_ops.sum(_ops.narrow(v, 2, s0, s1 - s0), 2, True), float(s1 - s0))
                 for s0, s1 in _adaptive_windows(dd, o[0])]
        from ._indexing import cat
        v = cat(means, 2) if len(means) > 1 else means[0]
    return _unbatch(_ops.reshape(v, [n, c] + list(o)), batched)
