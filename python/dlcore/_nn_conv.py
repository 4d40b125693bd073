"""Convolutions with PyTorch's signatures: conv1d and conv2d (NCHW; conv1d runs as a conv2d with H = 1), and the
transposed convolutions conv_transpose1d / conv_transpose2d.

The kernels live in csrc/ops/conv (im2col + GEMM, 1x1 as plain GEMM, direct AVX2/AVX-512 kernels for few input
channels); this module parses PyTorch's argument forms (ints, tuples, "same", "valid"), handles unbatched inputs,
and adds autograd: the backward computes only the gradients that are needed (input, weight, bias).

A transposed convolution is the input gradient of a convolution (PyTorch defines it so): its forward runs the
conv2d input-gradient kernel with the roles swapped (weight [C_in, C_out/groups, kH, kW] is exactly that
convolution's weight), its input gradient is a conv2d forward, and its weight gradient is the conv2d
weight-gradient kernel with the output gradient as the convolution's input.
"""
from __future__ import annotations

from . import _C
from . import _ops
from .autograd import Function, _needs_grad

Tensor = _C.Tensor

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"]


def _pair(v, n, name, op):
    """An int or a sequence of n ints -> a tuple of n ints."""
    if isinstance(v, bool):
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}")
    if isinstance(v, int):
        return (v,) * n
    try:
        t = tuple(v)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {type(v).__name__}") from None
    if len(t) == 1 and n != 1:
        t = t * n
    if len(t) != n or not all(isinstance(i, int) and not isinstance(i, bool) for i in t):
        raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}")
    return t


def _padding(padding, ksize, stride, dilation, op):
    """PyTorch's padding forms -> (top, bottom, left, right) for the 2-D kernel; ksize/stride/dilation are 2-D."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions "
                                 f"(stride={stride})")
            out = []
            for k, d in zip(ksize, dilation):
                total = d * (k - 1)
                out += [total // 2, total - total // 2]  # the odd one extra at the end, like PyTorch
            return tuple(out)
        raise ValueError(f"{op}: invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
    return padding


def _check_tensor(x, name, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: argument '{name}' must be a Tensor, not {type(x).__name__}")


class _Conv(Function):
    """x [N,C,H,W] (or its 1-D / unbatched forms, reshaped here as views), w [K,C/G,R,S], b [K] or None."""

    @staticmethod
    def forward(ctx, x, w, b, cfg):
        x4_shape, w4_shape, out_shape, stride, pad, dil, groups, op = cfg
        x4 = _C.reshape(x, list(x4_shape))
        w4 = _C.reshape(w, list(w4_shape))
        y = _C.conv2d(x4, w4, b, stride, pad, dil, groups, op)
        ctx.save_for_backward(x, w)  # (the inputs themselves: their history serves a double backward)
        ctx.cfg = cfg
        ctx.has_b = b is not None
        ctx.y4_shape = list(y.shape)
        return _C.reshape(y, list(out_shape)) if out_shape is not None else y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        x4_shape, w4_shape, out_shape, stride, pad, dil, groups, op = ctx.cfg
        x4 = _C.reshape(x, list(x4_shape)) if tuple(x.shape) != tuple(x4_shape) else x
        w4 = _C.reshape(w, list(w4_shape)) if tuple(w.shape) != tuple(w4_shape) else w
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        need_b = ctx.has_b and ctx.needs_input_grad[2]
        if out_shape is not None:  # (the forward's 4-D shape: -1 cannot be inferred for an empty batch)
            g = _C.reshape(g, ctx.y4_shape)
        gx = gw = gb = None
        if need_x:
            gx = _C.conv2d_backward_input(g, w4, list(x4_shape), stride, pad, dil, groups, op)
            if list(gx.shape) != list(ctx.x_shape):
                gx = _C.reshape(gx, list(ctx.x_shape))
        if need_w or need_b:
            gw, gb = _C.conv2d_backward_weight(g, x4, list(w4_shape), stride, pad, dil, groups, need_w, need_b, op)
            if gw is not None and list(gw.shape) != list(ctx.w_shape):
                gw = _C.reshape(gw, list(ctx.w_shape))
        return gx, gw, gb, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        """The backward through recording ops (create_graph): the input and weight gradients are the bilinear
        ops _ConvGradInput / _ConvGradWeight, which with conv itself form a family closed under differentiation."""
        x, w = ctx.saved_tensors
        x4_shape, w4_shape, out_shape, stride, pad, dil, groups, op = ctx.cfg
        cfg = (list(stride), list(pad), list(dil), groups, op)
        x4 = _ops.reshape(x, list(x4_shape)) if tuple(x.shape) != tuple(x4_shape) else x
        w4 = _ops.reshape(w, list(w4_shape)) if tuple(w.shape) != tuple(w4_shape) else w
        if out_shape is not None:
            g = _ops.reshape(g, [x4_shape[0], w4_shape[0], -1, g.shape[-1]])
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = _conv_grad_input(g, w4, tuple(x4_shape), cfg)
            if tuple(gx.shape) != tuple(ctx.x_shape):
                gx = _ops.reshape(gx, list(ctx.x_shape))
        if ctx.needs_input_grad[1]:
            gw = _conv_grad_weight(g, x4, tuple(w4_shape), cfg)
            if tuple(gw.shape) != tuple(ctx.w_shape):
                gw = _ops.reshape(gw, list(ctx.w_shape))
        if ctx.has_b and ctx.needs_input_grad[2]:
            gb = _ops.sum(g, [0, 2, 3])
        return gx, gw, gb, None


# The conv family for double backward: y = conv(x, w), GI(g, w) = d<g, y>/dx, GW(g, x) = d<g, y>/dw. From
# <gz, GI(g, w)> = <conv(gz, w), g> and <gv, GW(g, x)> = <conv(x, gv), g>, each one's gradients are members of
# the family again (to any order). 4-D tensors; cfg = (stride, pad, dil, groups, op).

def _conv_core(x4, w4, cfg):
    if _needs_grad(x4, w4):
        return _ConvCore.apply(x4, w4, cfg)
    stride, pad, dil, groups, op = cfg
    return _C.conv2d(x4, w4, None, stride, pad, dil, groups, op)


def _conv_grad_input(g, w4, x_shape, cfg):
    if _needs_grad(g, w4):
        return _ConvGradInput.apply(g, w4, x_shape, cfg)
    stride, pad, dil, groups, op = cfg
    return _C.conv2d_backward_input(g, w4, list(x_shape), stride, pad, dil, groups, op)


def _conv_grad_weight(g, x4, w_shape, cfg):
    if _needs_grad(g, x4):
        return _ConvGradWeight.apply(g, x4, w_shape, cfg)
    stride, pad, dil, groups, op = cfg
    return _C.conv2d_backward_weight(g, x4, list(w_shape), stride, pad, dil, groups, True, False, op)[0]


class _ConvCore(Function):
    _double_backward = True

    @staticmethod
    def forward(ctx, x4, w4, cfg):
        ctx.save_for_backward(x4, w4)
        ctx.cfg = cfg
        return _conv_core(x4, w4, cfg)

    @staticmethod
    def backward(ctx, gy):
        x4, w4 = ctx.saved_tensors
        gx = _conv_grad_input(gy, w4, tuple(x4.shape), ctx.cfg) if ctx.needs_input_grad[0] else None
        gw = _conv_grad_weight(gy, x4, tuple(w4.shape), ctx.cfg) if ctx.needs_input_grad[1] else None
        return gx, gw, None


class _ConvGradInput(Function):
    _double_backward = True

    @staticmethod
    def forward(ctx, g, w4, x_shape, cfg):
        ctx.save_for_backward(g, w4)
        ctx.cfg = cfg
        return _conv_grad_input(g, w4, x_shape, cfg)

    @staticmethod
    def backward(ctx, gz):
        g, w4 = ctx.saved_tensors
        gg = _conv_core(gz, w4, ctx.cfg) if ctx.needs_input_grad[0] else None
        gw = _conv_grad_weight(g, gz, tuple(w4.shape), ctx.cfg) if ctx.needs_input_grad[1] else None
        return gg, gw, None, None


class _ConvGradWeight(Function):
    _double_backward = True

    @staticmethod
    def forward(ctx, g, x4, w_shape, cfg):
        ctx.save_for_backward(g, x4)
        ctx.cfg = cfg
        return _conv_grad_weight(g, x4, w_shape, cfg)

    @staticmethod
    def backward(ctx, gv):
        g, x4 = ctx.saved_tensors
        gg = _conv_core(x4, gv, ctx.cfg) if ctx.needs_input_grad[0] else None
        gx = _conv_grad_input(g, gv, tuple(x4.shape), ctx.cfg) if ctx.needs_input_grad[1] else None
        return gg, gx, None, None


def _check_args(input, weight, bias, groups, nd, op, weight_dims):
    """The checks conv and conv_transpose share: tensor types, groups' type, the input's and weight's ranks."""
    _check_tensor(input, "input", op)
    _check_tensor(weight, "weight", op)
    if bias is not None:
        _check_tensor(bias, "bias", op)
    if isinstance(groups, bool) or not isinstance(groups, int):
        raise TypeError(f"{op}: groups must be an int, got {groups!r}")
    if input.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{op}: expected {nd + 1}-D (unbatched) or {nd + 2}-D (batched) input, got input of shape "
                         f"{list(input.shape)}")
    if weight.ndim != nd + 2:
        raise ValueError(f"{op}: expected a {nd + 2}-D weight [{weight_dims}, {'kL' if nd == 1 else 'kH, kW'}], "
                         f"got weight of shape {list(weight.shape)}")


def _conv(input, weight, bias, stride, padding, dilation, groups, nd, op):
    _check_args(input, weight, bias, groups, nd, op, "out_channels, in_channels/groups")
    stride = _pair(stride, nd, "stride", op)
    dilation = _pair(dilation, nd, "dilation", op)
    ksize = tuple(weight.shape[2:])
    if nd == 1:
        stride, dilation, ksize = (1,) + stride, (1,) + dilation, (1,) + ksize
    pad = _padding(padding, ksize, stride, dilation, op)
    if not isinstance(pad, tuple) or len(pad) != 4:
        p = _pair(pad, nd, "padding", op)
        if nd == 1:
            p = (0,) + p
        pad = (p[0], p[0], p[1], p[1])
    batched = input.ndim == nd + 2
    xs = list(input.shape)
    if not batched:
        xs = [1] + xs
    if nd == 1:
        xs = xs[:2] + [1] + xs[2:]
    ws = list(weight.shape)
    if nd == 1:
        ws = ws[:2] + [1] + ws[2:]
    out_shape = None  # None: the conv2d output is already the answer
    if nd == 1 or not batched:
        out_shape = "infer"
    stride, dilation, pad = list(stride), list(dilation), list(pad)
    if _needs_grad(input, weight, bias):
        if out_shape is not None:
            # the output shape depends on the sizes only: compute it without running the kernel
            out_shape = _out_shape(xs, ws, stride, pad, dilation, nd, batched)
        cfg = (tuple(xs), tuple(ws), out_shape, stride, pad, dilation, groups, op)
        return _ConvFn.apply(input, weight, bias, cfg)
    y = _C.conv2d(_C.reshape(input, xs) if list(input.shape) != xs else input,
                  _C.reshape(weight, ws) if nd == 1 else weight, bias, stride, pad, dilation, groups, op)
    if out_shape is not None:
        y = _C.reshape(y, _out_shape(xs, ws, stride, pad, dilation, nd, batched, y.shape))
    return y


def _out_shape(xs, ws, stride, pad, dil, nd, batched, y_shape=None):
    if y_shape is None:
        def size(n, k, s, p0, p1, d):
            return max(0, (n + p0 + p1 - d * (k - 1) - 1) // s + 1)
        y_shape = [xs[0], ws[0], size(xs[2], ws[2], stride[0], pad[0], pad[1], dil[0]),
                   size(xs[3], ws[3], stride[1], pad[2], pad[3], dil[1])]
    out = list(y_shape)
    if nd == 1:
        out = out[:2] + out[3:]
    if not batched:
        out = out[1:]
    return out


class _ConvFn(_Conv):
    @staticmethod
    def forward(ctx, x, w, b, cfg):
        ctx.x_shape = tuple(x.shape)
        ctx.w_shape = tuple(w.shape)
        return _Conv.forward(ctx, x, w, b, cfg)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution over input [N, C, L] (or [C, L]) with weight [K, C/groups, kL]; padding int, tuple,
    'valid' or 'same'."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) over input [N, C, H, W] (or [C, H, W]) with weight [K, C/groups, kH, kW]
    and optional bias [K]; stride/dilation int or pair; padding int, pair, 'valid' or 'same'."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


class _ConvTranspose(Function):
    """x [N, C_in, H, W] (4-D views of the 1-D / unbatched forms), w [C_in, C_out/G, kH, kW], b [C_out] or None;
    y [N, C_out, Ho, Wo] = the input gradient of conv2d(y-shaped input, w) at output gradient x.
    With output_padding >= stride (allowed while < dilation) the kernels compute the leading [He, We] block of y
    (yeff_hw, with a smaller bottom/right padding), and the rows/columns after it, which no input reaches, are 0."""

    @staticmethod
    def forward(ctx, x, w, b, cfg):
        x4_shape, w4_shape, y4_shape, out_shape, stride, pad, dil, groups, op, yeff_hw = cfg
        ctx.x_shape, ctx.w_shape = tuple(x.shape), tuple(w.shape)
        x4 = _C.reshape(x, list(x4_shape)) if tuple(x.shape) != x4_shape else x
        w4 = _C.reshape(w, list(w4_shape)) if tuple(w.shape) != w4_shape else w
        if tuple(yeff_hw) != tuple(y4_shape[2:]):
            ye = _C.conv2d_backward_input(x4, w4, list(y4_shape[:2]) + list(yeff_hw), stride, pad, dil, groups, op)
            y = _C.zeros(list(y4_shape), ye.dtype, ye.device)
            _C.copy_(_C.slice(_C.slice(y, 2, 0, yeff_hw[0], 1), 3, 0, yeff_hw[1], 1), ye)
        else:
            y = _C.conv2d_backward_input(x4, w4, list(y4_shape), stride, pad, dil, groups, op)
        if b is not None:
            _C.add_(y, _C.reshape(b, [1, y4_shape[1], 1, 1]))
        ctx.save_for_backward(x, w)  # (the inputs themselves: their history serves a double backward)
        ctx.cfg = cfg
        ctx.has_b = b is not None
        return _C.reshape(y, list(out_shape)) if tuple(out_shape) != tuple(y4_shape) else y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        x4_shape, w4_shape, y4_shape, out_shape, stride, pad, dil, groups, op, yeff_hw = ctx.cfg
        x4 = _C.reshape(x, list(x4_shape)) if tuple(x.shape) != tuple(x4_shape) else x
        w4 = _C.reshape(w, list(w4_shape)) if tuple(w.shape) != tuple(w4_shape) else w
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        need_b = ctx.has_b and ctx.needs_input_grad[2]
        g4 = _C.reshape(g, list(y4_shape)) if tuple(g.shape) != tuple(y4_shape) else g
        g4b = g4
        if tuple(yeff_hw) != tuple(y4_shape[2:]):  # the zero block of y depends on nothing (but the bias)
            g4 = _C.slice(_C.slice(g4, 2, 0, yeff_hw[0], 1), 3, 0, yeff_hw[1], 1)
        gx = gw = gb = None
        if need_x:
            gx = _C.conv2d(g4, w4, None, stride, pad, dil, groups, op)
            if tuple(gx.shape) != ctx.x_shape:
                gx = _C.reshape(gx, list(ctx.x_shape))
        if need_w:
            gw, _ = _C.conv2d_backward_weight(x4, g4, list(w4_shape), stride, pad, dil, groups, True, False, op)
            if tuple(gw.shape) != ctx.w_shape:
                gw = _C.reshape(gw, list(ctx.w_shape))
        if need_b:
            gb = _C.sum(g4b, [0, 2, 3])
        return gx, gw, gb, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        """The backward through recording ops (create_graph): conv for the input, the weight-gradient op for the
        weight (the conv family below, closed under differentiation)."""
        x, w = ctx.saved_tensors
        x4_shape, w4_shape, y4_shape, out_shape, stride, pad, dil, groups, op, yeff_hw = ctx.cfg
        cfg = (list(stride), list(pad), list(dil), groups, op)
        x4 = _ops.reshape(x, list(x4_shape)) if tuple(x.shape) != tuple(x4_shape) else x
        w4 = _ops.reshape(w, list(w4_shape)) if tuple(w.shape) != tuple(w4_shape) else w
        g4 = _ops.reshape(g, list(y4_shape)) if tuple(g.shape) != tuple(y4_shape) else g
        g4b = g4
        if tuple(yeff_hw) != tuple(y4_shape[2:]):
            g4 = _ops.narrow(_ops.narrow(g4, 2, 0, yeff_hw[0]), 3, 0, yeff_hw[1])
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = _conv_core(g4, w4, cfg)
            if tuple(gx.shape) != ctx.x_shape:
                gx = _ops.reshape(gx, list(ctx.x_shape))
        if ctx.needs_input_grad[1]:
            gw = _conv_grad_weight(x4, g4, tuple(w4_shape), cfg)
            if tuple(gw.shape) != ctx.w_shape:
                gw = _ops.reshape(gw, list(ctx.w_shape))
        if ctx.has_b and ctx.needs_input_grad[2]:
            gb = _ops.sum(g4b, [0, 2, 3])
        return gx, gw, gb, None


def _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, nd, op):
    _check_args(input, weight, bias, groups, nd, op, "in_channels, out_channels/groups")
    if groups <= 0:
        raise ValueError(f"{op}: groups must be a positive integer, got {groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is None:
            continue
        if t.dtype != input.dtype:
            raise TypeError(f"{op}: {name} dtype {str(t.dtype).replace('dlcore.', '')} does not match the input "
                            f"dtype {str(input.dtype).replace('dlcore.', '')}")
        if t.device != input.device:
            raise RuntimeError(f"{op}: {name} is on {t.device}, but the input is on {input.device}")
    if str(input.dtype) not in ("dlcore.float32", "dlcore.float64"):
        raise TypeError(f"{op}: expected float32 or float64 tensors, got {str(input.dtype).replace('dlcore.', '')}")
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a tuple of {nd} ints (no 'same'/'valid' strings for "
                         f"transposed convolutions), got {padding!r}")
    stride = _pair(stride, nd, "stride", op)
    pad = _pair(padding, nd, "padding", op)
    opad = _pair(output_padding, nd, "output_padding", op)
    dilation = _pair(dilation, nd, "dilation", op)
    ksize = tuple(weight.shape[2:])
    if nd == 1:
        stride, pad, opad, dilation, ksize = (1,) + stride, (0,) + pad, (0,) + opad, (1,) + dilation, (1,) + ksize
    if any(s <= 0 for s in stride) or any(d <= 0 for d in dilation) or any(p < 0 for p in pad):
        raise ValueError(f"{op}: stride and dilation must be positive and padding non-negative, got stride="
                         f"{stride[2 - nd:]}, dilation={dilation[2 - nd:]}, padding={pad[2 - nd:]}")
    for o, s, d in zip(opad, stride, dilation):
        if o < 0 or (o >= s and o >= d):
            raise ValueError(f"{op}: output padding must be smaller than either stride or dilation, got "
                             f"output_padding={opad[2 - nd:]}, stride={stride[2 - nd:]}, dilation={dilation[2 - nd:]}")
    batched = input.ndim == nd + 2
    xs = list(input.shape) if batched else [1] + list(input.shape)
    if nd == 1:
        xs = xs[:2] + [1] + xs[2:]
    ws = list(weight.shape)
    if nd == 1:
        ws = ws[:2] + [1] + ws[2:]
    cin, cout_g = ws[0], ws[1]
    if xs[1] != cin:
        raise ValueError(f"{op}: input of shape {list(input.shape)} has {xs[1]} channels, but weight of shape "
                         f"{list(weight.shape)} expects {cin} input channels (its first dimension)")
    if cin % groups != 0:
        raise ValueError(f"{op}: in_channels ({cin}, weight's first dimension) must be divisible by groups "
                         f"({groups})")
    cout = cout_g * groups
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != cout):
        raise ValueError(f"{op}: bias must be a 1-D tensor of {cout} elements (out_channels), got shape "
                         f"{list(bias.shape)}")
    ho = (xs[2] - 1) * stride[0] - 2 * pad[0] + dilation[0] * (ksize[0] - 1) + opad[0] + 1
    wo = (xs[3] - 1) * stride[1] - 2 * pad[1] + dilation[1] * (ksize[1] - 1) + opad[1] + 1
    if ho <= 0 or wo <= 0:
        size = [wo] if nd == 1 else [ho, wo]
        raise ValueError(f"{op}: input of shape {list(input.shape)} with weight {list(weight.shape)}, stride "
                         f"{stride[2 - nd:]}, padding {pad[2 - nd:]}, output_padding {opad[2 - nd:]} and dilation "
                         f"{dilation[2 - nd:]} gives an output of size {size}: too small")
    ys = [xs[0], cout, ho, wo]
    # Padding [top, bottom, left, right] of the kernels' view and the size of y they compute. output_padding < stride
    # is the kernels' own case (o extra rows at the end). Otherwise (o < dilation) the bottom padding shrinks by up
    # to o, at most stride - 1 rows are left to the kernels, and the rest of the o rows are reached by no input: 0.
    pads, yeff = [], []
    for i, full in enumerate((ho, wo)):
        p, o, s = pad[i], opad[i], stride[i]
        if o < s:
            pads += [p, p]
            yeff.append(full)
        else:
            r = min(p, o)
            e = min(o - r, s - 1)
            pads += [p, p - r]
            yeff.append(full - (o - r - e))
    out = list(ys)
    if nd == 1:
        out = out[:2] + out[3:]
    if not batched:
        out = out[1:]
    cfg = (tuple(xs), tuple(ws), tuple(ys), tuple(out), list(stride), pads, list(dilation), groups, op, tuple(yeff))
    return _ConvTranspose.apply(input, weight, bias, cfg)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-D transposed convolution over input [N, C_in, L] (or [C_in, L]) with weight [C_in, C_out/groups, kL]:
    the gradient of conv1d with respect to its input. Output length (L - 1) stride - 2 padding +
    dilation (kL - 1) + output_padding + 1."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 1,
                           "conv_transpose1d")


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution ("deconvolution") over input [N, C_in, H, W] (or [C_in, H, W]) with weight
    [C_in, C_out/groups, kH, kW] and optional bias [C_out]: the gradient of conv2d with respect to its input.
    Output size (H - 1) stride - 2 padding + dilation (kH - 1) + output_padding + 1 (likewise W)."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 2,
                           "conv_transpose2d")
