"""The layer ops of dlcore.nn.functional: activations, softmax/log_softmax, losses, pooling, batch_norm,
local_response_norm, dropout, embedding — with torch.nn.functional's names and signatures.

Each op calls the raw kernel in ``dlcore._C`` directly when autograd does not record (``_needs_grad`` false);
otherwise it goes through a ``Function`` whose backward calls the matching backward kernel. The kernels accept any
layout (they copy non-contiguous input) and check their arguments, raising ValueError/TypeError/IndexError with
the op's name.
"""
from __future__ import annotations

import math
import numbers

from . import _C
from . import _ops
from .autograd import Function, _needs_grad, _linear_backward, _linear_pair, _recompute_vjp

Tensor = _C.Tensor
_isT = isinstance

__all__ = [
    # activations
    "relu", "relu_", "leaky_relu", "leaky_relu_", "elu", "elu_", "sigmoid", "tanh", "gelu", "softplus", "silu",
    "relu6", "hardtanh", "logsigmoid", "softsign", "mish", "tanhshrink",
    # softmax
    "softmax", "log_softmax", "softmin",
    # losses
    "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "multi_margin_loss", "hinge_embedding_loss",
    # pooling
    "max_pool2d", "max_pool2d_with_indices", "avg_pool2d", "lp_pool2d", "adaptive_avg_pool2d", "max_pool1d",
    "avg_pool1d", "adaptive_max_pool2d",
    # normalisation, dropout, embedding
    "batch_norm", "local_response_norm", "dropout", "dropout2d", "embedding",
]

# Kinds, in the order of the C++ enums (csrc/ops/activation/activation.h, csrc/ops/softmax_loss/softmax_loss.h).
(_RELU, _LEAKY, _ELU, _SIGMOID, _TANH, _GELU, _GELU_TANH, _SOFTPLUS, _HARDTANH, _SILU, _MISH, _HARDSWISH,
 _HARDSIGMOID, _THRESHOLD, _HARDSHRINK, _SOFTSHRINK, _LOGSIGMOID) = range(17)
_USES_OUTPUT = (_RELU, _SIGMOID, _TANH, _HARDTANH)
_MSE, _L1, _SMOOTH_L1, _HUBER, _BCE, _BCE_LOGITS, _HINGE = range(7)


def _check_tensor(x, op, arg="input"):
    if not _isT(x, Tensor):
        raise TypeError(f"{op}(): argument '{arg}' must be a Tensor, not {type(x).__name__}")


# ================================================================================================ activations

class _Act(Function):
    @staticmethod
    def forward(ctx, x, kind, a, b):
        y = _C.act_forward(kind, x, a, b)
        ctx.kind, ctx.a, ctx.b = kind, a, b
        ctx.save_for_backward(y if kind in _USES_OUTPUT else x)
        return y

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved_tensors
        return _C.act_backward(ctx.kind, g, s, ctx.a, ctx.b), None, None, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        """The backward with recording ops (create_graph): g * f'(s), f' written from the saved input or output."""
        (s,) = ctx.saved_tensors
        return _ops.mul(g, _act_derivative(ctx.kind, s, ctx.a, ctx.b)), None, None, None


def _act_derivative(kind, s, a, b):
    """f'(x) of the activation kind as recording ops of its saved tensor s (the output for _USES_OUTPUT kinds)."""
    o = _ops
    if kind == _RELU:
        return _C.to(_C.gt(s, 0), s.dtype, None, False)
    if kind == _LEAKY:
        return _C.add(_C.mul(_C.to(_C.le(s, 0), s.dtype, None, False), float(a) - 1.0), 1.0)
    if kind == _HARDTANH:
        return _C.to(_C.logical_and(_C.gt(s, a), _C.lt(s, b)), s.dtype, None, False)
    if kind == _SIGMOID:
        return o.mul(s, o.sub(1.0, s))
    if kind == _TANH:
        return o.sub(1.0, o.mul(s, s))
    if kind == _ELU:
        return o.where(_C.gt(s, 0), 1.0, o.mul(o.exp(s), float(a)))
    if kind == _GELU:  # Phi(x) + x phi(x)
        cdf = o.mul(o.add(o.erf(o.mul(s, 1.0 / math.sqrt(2.0))), 1.0), 0.5)
        pdf = o.mul(o.exp(o.mul(o.mul(s, s), -0.5)), 1.0 / math.sqrt(2.0 * math.pi))
        return o.add(cdf, o.mul(s, pdf))
    if kind == _GELU_TANH:
        k0, k1 = math.sqrt(2.0 / math.pi), 0.044715
        x2 = o.mul(s, s)
        t = o.tanh(o.mul(o.mul(s, o.add(o.mul(x2, k1), 1.0)), k0))
        dinner = o.mul(o.add(o.mul(x2, 3.0 * k1), 1.0), k0)
        return o.add(o.mul(o.add(t, 1.0), 0.5), o.mul(o.mul(o.mul(s, 0.5), o.sub(1.0, o.mul(t, t))), dinner))
    if kind == _SOFTPLUS:  # beta a, threshold b: sigmoid(beta x), 1 where beta x > threshold
        bx = o.mul(s, float(a))
        return o.where(_C.gt(bx, float(b)), 1.0, o.sigmoid(bx))
    if kind == _SILU:  # sig (1 + x (1 - sig))
        sg = o.sigmoid(s)
        return o.mul(sg, o.add(o.mul(s, o.sub(1.0, sg)), 1.0))
    if kind == _MISH:  # t + x sig (1 - t^2), t = tanh(softplus(x))
        t = o.tanh(softplus(s))
        return o.add(t, o.mul(o.mul(s, o.sigmoid(s)), o.sub(1.0, o.mul(t, t))))
    if kind == _HARDSWISH:  # 0 up to -3, x / 3 + 1/2 inside, 1 from 3 on (its derivative 1/3 inside)
        zero, one = _C.full([], 0.0, s.dtype, s.device), _C.full([], 1.0, s.dtype, s.device)
        return o.where(_C.le(s, -3.0), zero, o.where(_C.lt(s, 3.0), o.add(o.div(s, 3.0), 0.5), one))
    if kind == _LOGSIGMOID:  # sigmoid(-x)
        return o.sigmoid(o.neg(s))
    if kind == _THRESHOLD:  # 1 above the threshold (piecewise constant: not recorded)
        return _C.to(_C.gt(s.detach(), float(a)), s.dtype, None, False)
    if kind in (_HARDSHRINK, _SOFTSHRINK):  # 1 outside [-lambd, lambd]
        inside = _C.logical_and(_C.ge(s.detach(), -float(a)), _C.le(s.detach(), float(a)))
        return _C.to(_C.logical_not(inside), s.dtype, None, False)
    if kind == _HARDSIGMOID:  # 1/6 inside (-3, 3): piecewise constant, so not recorded (its derivative is 0)
        inside = _C.logical_and(_C.gt(s.detach(), -3.0), _C.lt(s.detach(), 3.0))
        return _C.div(_C.to(inside, s.dtype, None, False), 6.0)
    raise RuntimeError(f"activation kind {kind}: no double backward")


def _act(x, kind, a=0.0, b=0.0, op="activation"):
    _check_tensor(x, op)
    if _needs_grad(x):
        return _Act.apply(x, kind, float(a), float(b))
    return _C.act_forward(kind, x, float(a), float(b))


def _check_nograd_view(x):
    """In place without recording: raises for a view made in no_grad mode of a tensor that requires grad when grad
    mode is on (as torch; _tensor._check_nograd_view)."""
    if "_nograd_view" in x.__dict__:
        from ._tensor import _check_nograd_view
        _check_nograd_view(x)


def _act_inplace(x, kind, a=0.0, b=0.0, op="activation"):
    """In place: raw kernel without autograd; with autograd, out-of-place then copy + history rebase."""
    _check_tensor(x, op)
    if _needs_grad(x):
        from ._tensor import _inplace_with_history
        return _inplace_with_history(x, lambda src: _Act.apply(src, kind, float(a), float(b)), op)
    _check_nograd_view(x)
    if x.is_contiguous():
        return _C.act_forward_(kind, x, float(a), float(b))
    _C.copy_(x, _C.act_forward(kind, x, float(a), float(b)))
    return x


def _composite_inplace(x, fn, op):
    """In place for an activation composed of other ops (silu, mish): like _act_inplace, the result of fn on a
    clone is copied into x and x's history rebased onto it, so autograd sees the activation (and a leaf that
    requires grad raises, like torch)."""
    _check_tensor(x, op)
    if _needs_grad(x):
        from ._tensor import _inplace_with_history
        return _inplace_with_history(x, fn, op)
    _check_nograd_view(x)
    _C.copy_(x, fn(x))
    return x


def _int_relu(input, inplace):
    """relu of an integer tensor (torch allows it): max(x, 0) in the input's dtype."""
    if input.dtype == _C.dtype.uint8:
        return input if inplace else _C.clone(input)
    r = _ops.clamp(input, min=0)
    if inplace:
        _C.copy_(input, r)
        return input
    return r


def relu(input, inplace=False):
    if _ops._is_int(input):
        return _int_relu(input, inplace)
    if inplace:
        return _act_inplace(input, _RELU, op="relu_")
    return _act(input, _RELU, op="relu")


def relu_(input):
    if _ops._is_int(input):
        return _int_relu(input, True)
    return _act_inplace(input, _RELU, op="relu_")


def leaky_relu(input, negative_slope=0.01, inplace=False):
    if inplace:
        return _act_inplace(input, _LEAKY, negative_slope, op="leaky_relu_")
    return _act(input, _LEAKY, negative_slope, op="leaky_relu")


def leaky_relu_(input, negative_slope=0.01):
    return _act_inplace(input, _LEAKY, negative_slope, op="leaky_relu_")


def elu(input, alpha=1.0, inplace=False):
    if inplace:
        return _act_inplace(input, _ELU, alpha, op="elu_")
    return _act(input, _ELU, alpha, op="elu")


def elu_(input, alpha=1.0):
    return _act_inplace(input, _ELU, alpha, op="elu_")


def sigmoid(input):
    return _act(input, _SIGMOID, op="sigmoid")


def tanh(input):
    return _act(input, _TANH, op="tanh")


def gelu(input, approximate="none"):
    if approximate == "none":
        return _act(input, _GELU, op="gelu")
    if approximate == "tanh":
        return _act(input, _GELU_TANH, op="gelu")
    raise ValueError(f"gelu(): approximate must be 'none' or 'tanh', got {approximate!r}")


def softplus(input, beta=1.0, threshold=20.0):
    return _act(input, _SOFTPLUS, beta, threshold, op="softplus")


def silu(input, inplace=False):
    if inplace:
        return _act_inplace(input, _SILU, op="silu_")
    return _act(input, _SILU, op="silu")


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    # the activation kernel: gradient 0 at and beyond the limits, selected (an inf/NaN upstream gradient at a
    # clipped element gives 0), like torch's hardtanh_backward
    if min_val > max_val:
        raise ValueError(f"hardtanh(): min_val cannot be greater than max_val, got min_val {min_val} and max_val "
                         f"{max_val}")
    if inplace:
        return _act_inplace(input, _HARDTANH, min_val, max_val, op="hardtanh_")
    return _act(input, _HARDTANH, min_val, max_val, op="hardtanh")


def logsigmoid(input):
    return _act(input, _LOGSIGMOID, op="logsigmoid")


def softsign(input):
    return _ops.div(input, _ops.add(_ops.abs(input), 1.0))


def mish(input, inplace=False):
    if inplace:
        return _act_inplace(input, _MISH, op="mish_")
    return _act(input, _MISH, op="mish")


def tanhshrink(input):
    return _ops.sub(input, tanh(input))


# ================================================================================================ softmax

class _Softmax(Function):
    @staticmethod
    def forward(ctx, x, dim, log):
        y = _C.softmax_fwd(x, dim, log)
        ctx.dim, ctx.log = dim, log
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return _C.softmax_bwd(g, y, ctx.dim, ctx.log), None, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        (y,) = ctx.saved_tensors  # the output, with this node as its history
        o = _ops
        if ctx.log:  # g - softmax(x) * sum(g)
            return o.sub(g, o.mul(o.exp(y), o.sum(g, ctx.dim, True))), None, None
        return o.mul(y, o.sub(g, o.sum(o.mul(g, y), ctx.dim, True))), None, None


def _softmax_dim(x, dim, op):
    if dim is None:
        # torch's legacy implicit choice (with a deprecation warning there): 0 for 0-, 1- and 3-d inputs, else 1.
        dim = 0 if x.ndim in (0, 1, 3) else 1
    if not isinstance(dim, numbers.Integral):
        raise TypeError(f"{op}(): dim must be an int, got {type(dim).__name__}")
    return int(dim)


def _softmax_impl(input, dim, dtype, log, op):
    _check_tensor(input, op)
    if dtype is not None:
        input = input.to(dtype)
    dim = _softmax_dim(input, dim, op)
    if _needs_grad(input):
        return _Softmax.apply(input, dim, log)
    return _C.softmax_fwd(input, dim, log)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    return _softmax_impl(input, dim, dtype, False, "softmax")


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    return _softmax_impl(input, dim, dtype, True, "log_softmax")


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    return softmax(_ops.neg(input), dim)


# ================================================================================================ losses

def _reduction(size_average, reduce, reduction, op):
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "none" if not reduce else ("mean" if size_average else "sum")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{op}(): reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    return reduction


def _grad_and_scale(g, reduction, denom):
    """The per-sample gradient tensor and the scale for a loss's backward kernel."""
    if reduction == "none":
        return g, 1.0
    if reduction == "mean" and isinstance(denom, (int, float)) and denom == 0:
        return g, math.nan  # an empty input: no elements to scale (torch's mean of nothing is nan)
    return g, (1.0 / denom if reduction == "mean" else 1.0)


def _index_target(target, op):
    _check_tensor(target, op, "target")
    dt = target.dtype
    if dt == _C.dtype.int64:
        return target
    if dt in (_C.dtype.int32, _C.dtype.uint8):
        return target.to(_C.dtype.int64)
    raise TypeError(f"{op}(): expected target of dtype int64 (class indices), got {dt.name}")


def _flatten_classes(input, target, op):
    """(N, C, d1..) input and (N, d1..) target -> [M, C] and [M]; returns also the per-sample shape."""
    if input.ndim == 1:
        # one unbatched sample: a 0-d target, or (as torch accepts) a 1-D target of one element; the loss is 0-d
        if not (target.ndim == 0 or (target.ndim == 1 and target.shape[0] == 1)):
            raise ValueError(f"{op}(): for an input of shape {list(input.shape)} (one sample) expected a 0-d target "
                             f"or one of shape [1], got shape {list(target.shape)}")
        return _ops.unsqueeze(input, 0), _ops.reshape(target, [1]), ()
    if input.ndim == 2:
        return input, target, tuple(target.shape)
    if input.ndim < 1:
        raise ValueError(f"{op}(): expected input of shape [N, C] or [N, C, d1, ...], got {list(input.shape)}")
    N, C = input.shape[0], input.shape[1]
    expect = (N,) + tuple(input.shape[2:])
    if tuple(target.shape) != expect:
        raise ValueError(f"{op}(): expected target of shape {list(expect)} for input {list(input.shape)}, got "
                         f"{list(target.shape)}")
    x2 = _ops.reshape(_ops.movedim(input, 1, -1), [-1, C])
    return x2, _ops.reshape(target, [-1]), expect


class _CrossEntropy(Function):
    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, label_smoothing, reduction, nll):
        if nll:
            loss, wt = _C.nll_loss_fwd(x, target, weight, ignore_index)
            lse = None
        else:
            loss, wt, lse = _C.cross_entropy_fwd(x, target, weight, ignore_index, label_smoothing)
        ctx.args = (ignore_index, label_smoothing, reduction, nll)
        # mean: divided by the summed sample weights on the device (no host read, so it can be graph-captured);
        # all targets ignored -> 0 / 0 = NaN like PyTorch
        ctx.denom = _C.sum(wt) if reduction == "mean" else None
        ctx.save_for_backward(x, target, weight, lse)
        if reduction == "none":
            return loss
        s = _C.sum(loss)
        return _C.div(s, ctx.denom) if reduction == "mean" else s

    @staticmethod
    def backward(ctx, g):
        x, target, weight, lse = ctx.saved_tensors
        ignore_index, ls, reduction, nll = ctx.args
        scale = 1.0
        if reduction == "mean":
            g = _C.div(g, ctx.denom)  # a one-element tensor, read by the kernel with stride 0
        if nll:
            gx = _C.nll_loss_bwd(g, scale, x, target, weight, ignore_index)
        else:
            gx = _C.cross_entropy_bwd(g, scale, x, lse, target, weight, ignore_index, ls)
        return gx, None, None, None, None, None, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        x, target, weight, _ = ctx.saved_tensors
        ignore_index, ls, reduction, nll = ctx.args
        denom = ctx.denom

        def composite(x):
            M, C = x.shape
            logp = x if nll else log_softmax(x, 1)
            valid = _C.ne(target, ignore_index)
            tc = _C.where(valid, target, 0)
            onehot = _C.to(_C.logical_and(_C.eq(_C.unsqueeze(_C.arange_int(0, C, 1, "int64", x.device), 0),
                                                _C.unsqueeze(tc, 1)), _C.unsqueeze(valid, 1)), x.dtype, None, False)
            wt = _C.to(valid, x.dtype, None, False)
            if weight is not None:
                wt = _C.mul(wt, _C.index_select(weight, 0, tc))
            per = _ops.mul(_ops.neg(_ops.sum(_ops.mul(logp, onehot), 1)), wt)
            if ls > 0:
                lw = logp if weight is None else _ops.mul(logp, _C.unsqueeze(weight, 0))
                smooth = _ops.mul(_ops.sum(lw, 1), _C.mul(_C.to(valid, x.dtype, None, False), -1.0 / C))
                per = _ops.add(_ops.mul(per, 1.0 - ls), _ops.mul(smooth, ls))
            if reduction == "none":
                return per
            tot = _ops.sum(per)
            return _ops.div(tot, denom) if reduction == "mean" else tot

        return (_recompute_vjp(composite, (x,), (g,))[0],) + (None,) * 6


def _class_loss(input, target, weight, ignore_index, label_smoothing, reduction, nll, op):
    _check_tensor(input, op)
    target = _index_target(target, op)
    x2, t1, per_shape = _flatten_classes(input, target, op)
    if weight is not None:
        _check_tensor(weight, op, "weight")
    args = (x2, t1, weight, int(ignore_index), float(label_smoothing), reduction, nll)
    if _needs_grad(input):
        out = _CrossEntropy.apply(*args)
    else:
        out = _CrossEntropy.forward(_Ctx(), *args)
    if reduction == "none" and tuple(out.shape) != per_shape:
        out = _ops.reshape(out, list(per_shape))
    return out


class _Ctx:
    """A throwaway ctx for calling a Function's forward without recording."""

    def save_for_backward(self, *tensors):
        pass

    def mark_non_differentiable(self, *tensors):
        pass


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    reduction = _reduction(size_average, reduce, reduction, "cross_entropy")
    _check_tensor(input, "cross_entropy")
    _check_tensor(target, "cross_entropy", "target")
    if target.dtype.is_floating_point:
        if ignore_index != -100:
            raise RuntimeError(f"cross_entropy(): ignore_index is not supported for floating point (class "
                               f"probability) targets, got ignore_index={ignore_index}")
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing)
    return _class_loss(input, target, weight, ignore_index, label_smoothing, reduction, False, "cross_entropy")


def _cross_entropy_probs(input, target, weight, reduction, label_smoothing):
    """Class-probability targets (same shape as input): -sum_c w_c t_c log_softmax(x)_c, composed."""
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"cross_entropy(): probability targets must have the input's shape {list(input.shape)}, "
                         f"got {list(target.shape)}")
    cdim = 0 if input.ndim == 1 else 1
    C = input.shape[cdim]
    if label_smoothing > 0:
        target = _ops.add(_ops.mul(target, 1.0 - label_smoothing), label_smoothing / C)
    lp = log_softmax(input, cdim)
    t = _ops.mul(lp, target)
    if weight is not None:
        shape = [1] * input.ndim
        shape[cdim] = C
        t = _ops.mul(t, _ops.reshape(weight, shape))
    loss = _ops.neg(_ops.sum(t, cdim))
    if reduction == "none":
        return loss
    if reduction == "sum":
        return _ops.sum(loss)
    n = loss.numel() if loss.ndim else 1
    return _ops.div(_ops.sum(loss), float(n))


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction, "nll_loss")
    return _class_loss(input, target, weight, ignore_index, 0.0, reduction, True, "nll_loss")


class _PwLoss(Function):
    @staticmethod
    def forward(ctx, x, y, w, pw, kind, a, reduction):
        per = _C.pw_loss_fwd(kind, x, y, w, pw, a)
        ctx.args = (kind, a, reduction, per.numel())
        ctx.save_for_backward(x, y, w, pw)
        if reduction == "none":
            return per
        s = _C.sum(per)
        return _C.div(s, float(per.numel())) if reduction == "mean" else s

    @staticmethod
    def backward(ctx, g):
        x, y, w, pw = ctx.saved_tensors
        kind, a, reduction, n = ctx.args
        if reduction == "none":
            grad, scale = g, 1.0
        else:
            # the upstream scalar stays a one-element device tensor (read with stride 0): no host sync
            grad, scale = g, ((1.0 / n if n else math.nan) if reduction == "mean" else 1.0)  # n = 0: empty
        gx = gy = None
        if ctx.needs_input_grad[0] or ctx.needs_input_grad[1]:
            gx = _C.pw_loss_bwd(kind, grad, scale, x, y, w, pw, a)
        if ctx.needs_input_grad[1]:
            gy = _target_grad(kind, gx, grad, scale, x, y, w, pw)
        return (gx if ctx.needs_input_grad[0] else None), gy, None, None, None, None, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        x, y, w, pw = ctx.saved_tensors
        kind, a, reduction, n = ctx.args
        gx, gy = _recompute_vjp(lambda x, y: _pw_composite(kind, x, y, w, pw, a, reduction, n), (x, y), (g,))
        return gx, gy, None, None, None, None, None


def _pw_composite(kind, x, y, w, pw, a, reduction, n):
    """The pointwise losses as recording ops (the kernel's formulas, softmax_loss.h pw_loss_fwd)."""
    o = _ops
    if kind in (_MSE, _L1, _SMOOTH_L1, _HUBER):
        d = o.sub(x, y)
        ad = o.abs(d)
        if kind == _MSE:
            per = o.mul(d, d)
        elif kind == _L1:
            per = ad
        elif kind == _SMOOTH_L1:
            per = o.where(_C.lt(ad, a), o.mul(o.mul(d, d), 0.5 / a), o.sub(ad, 0.5 * a))
        else:
            per = o.where(_C.le(ad, a), o.mul(o.mul(d, d), 0.5), o.mul(o.sub(ad, 0.5 * a), a))
    elif kind == _BCE:
        lx = o.clamp(o.log(x), min=-100.0)
        l1x = o.clamp(o.log1p(o.neg(x)), min=-100.0)
        per = o.neg(o.add(o.mul(y, lx), o.mul(o.sub(1.0, y), l1x)))
        if w is not None:
            per = o.mul(per, w)
    elif kind == _BCE_LOGITS:
        lw = 1.0 if pw is None else o.add(o.mul(o.sub(pw, 1.0), y), 1.0)
        per = o.add(o.mul(o.sub(1.0, y), x), o.mul(softplus(o.neg(x)), lw))
        if w is not None:
            per = o.mul(per, w)
    else:  # hinge embedding: (y != 1) max(a - x, 0) + (y != -1) x
        per = o.add(o.mul(relu(o.sub(a, x)), _C.to(_C.ne(y, 1), x.dtype, None, False)),
                    o.mul(x, _C.to(_C.ne(y, -1), x.dtype, None, False)))
    if reduction == "none":
        return per
    tot = o.sum(per)
    return o.div(tot, float(n)) if reduction == "mean" else tot


def _target_grad(kind, gx, grad, scale, x, y, w, pw):
    """d loss / d target: -d/dx for the difference losses; written out for the binary cross-entropies."""
    if kind in (_MSE, _L1, _SMOOTH_L1, _HUBER):
        return _C.neg(gx)
    g = _C.mul(grad, scale) if grad is not None else scale
    if kind == _BCE:  # w (log(1 - x) - log(x)), logs clamped at -100 like the forward
        d = _C.sub(_C.clamp(_C.log1p(_C.neg(x)), -100.0, None), _C.clamp(_C.log(x), -100.0, None))
    elif kind == _BCE_LOGITS:  # w (-x + (pw - 1) softplus(-x))
        d = _C.neg(x)
        if pw is not None:
            d = _C.add(d, _C.mul(_C.sub(pw, 1.0), _C.act_forward(_SOFTPLUS, _C.neg(x), 1.0, 20.0)))
    else:
        raise NotImplementedError("hinge_embedding_loss(): the derivative for 'target' is not implemented")
    if w is not None:
        d = _C.mul(d, w)
    return _C.mul(d, g)


def _expand_to(t, x, op, arg):
    if t is None:
        return None
    _check_tensor(t, op, arg)
    if tuple(t.shape) == tuple(x.shape):
        return t
    try:
        return _ops.expand(t, list(x.shape)).contiguous()
    except (ValueError, RuntimeError):
        raise ValueError(f"{op}(): {arg} of shape {list(t.shape)} does not broadcast to the input's shape "
                         f"{list(x.shape)}") from None


def _pw_loss(input, target, kind, a, reduction, op, weight=None, pos_weight=None):
    _check_tensor(input, op)
    _check_tensor(target, op, "target")
    if tuple(target.shape) != tuple(input.shape):
        try:
            shape = _ops.broadcast_shapes(tuple(input.shape), tuple(target.shape))
        except (ValueError, RuntimeError):
            shape = None
        if kind in (_BCE, _BCE_LOGITS) or shape is None:
            raise _C.ShapeError(f"{op}(): target size {list(target.shape)} must be the same as input size "
                             f"{list(input.shape)}")
        input = _ops.expand(input, list(shape))
        target = _ops.expand(target, list(shape))
    if (kind in (_MSE, _L1, _SMOOTH_L1) and input.dtype.is_floating_point and target.dtype.is_floating_point
            and target.dtype != input.dtype):  # torch computes these in the promoted dtype (float32 vs float64)
        dt = _C.promote_types(input.dtype, target.dtype)
        if dt != input.dtype:
            input = input.to(dt)
    if target.dtype != input.dtype and input.dtype.is_floating_point:
        target = target.to(input.dtype)
    w = _expand_to(weight, input, op, "weight")
    pw = None
    if pos_weight is not None:
        _check_tensor(pos_weight, op, "pos_weight")
        pw = _expand_to(pos_weight, input, op, "pos_weight")
    args = (input, target, w, pw, kind, float(a), reduction)
    if _needs_grad(input, target):
        return _PwLoss.apply(*args)
    return _PwLoss.forward(_Ctx(), *args)


def _weighted(per, input, weight, reduction, mean_over_weight, op):
    """torch 2.13's weighted pointwise losses: weight of the input's shape multiplies the per-element loss; 'mean'
    divides by sum(weight) (mse_loss, l1_loss) or by the number of elements (huber_loss)."""
    _check_tensor(weight, op, "weight")
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError(f"{op}(): weight must have the input's shape {list(input.shape)}, got "
                         f"{list(weight.shape)}")
    out = _ops.mul(per, weight)
    if reduction == "none":
        return out
    if reduction == "sum":
        return _ops.sum(out)
    return _ops.div(_ops.sum(out), _ops.sum(weight)) if mean_over_weight else _ops.mean(out)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _reduction(size_average, reduce, reduction, "mse_loss")
    if weight is not None:
        per = _pw_loss(input, target, _MSE, 1.0, "none", "mse_loss")
        return _weighted(per, input, weight, reduction, True, "mse_loss")
    return _pw_loss(input, target, _MSE, 1.0, reduction, "mse_loss")


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _reduction(size_average, reduce, reduction, "l1_loss")
    if weight is not None:
        per = _pw_loss(input, target, _L1, 1.0, "none", "l1_loss")
        return _weighted(per, input, weight, reduction, True, "l1_loss")
    return _pw_loss(input, target, _L1, 1.0, reduction, "l1_loss")


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    reduction = _reduction(size_average, reduce, reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss(): beta must be non-negative, got {beta}")
    if beta == 0:
        return _pw_loss(input, target, _L1, 1.0, reduction, "smooth_l1_loss")
    return _pw_loss(input, target, _SMOOTH_L1, beta, reduction, "smooth_l1_loss")


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    reduction = _reduction(None, None, reduction, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss(): delta must be positive, got {delta}")
    if weight is not None:  # torch 2.13: 'mean' is the mean of the weighted losses (not divided by sum(weight))
        per = _pw_loss(input, target, _HUBER, delta, "none", "huber_loss")
        return _weighted(per, input, weight, reduction, False, "huber_loss")
    return _pw_loss(input, target, _HUBER, delta, reduction, "huber_loss")


def _check_probabilities(x, op):
    """torch's check that every input of binary_cross_entropy is in [0, 1] (NaN fails it), with one reduction:
    max(-x, x - 1) <= 0 exactly when 0 <= x <= 1 (both differences are exact or round away from 0 across it)."""
    if x.numel() == 0:
        return
    worst = _C.item(_C.amax(_C.maximum(_C.neg(x), _C.sub(x, 1.0))))
    if not worst <= 0:
        raise RuntimeError(f"{op}(): all elements of input should be between 0 and 1 (input of shape "
                           f"{list(x.shape)} has {'NaN' if worst != worst else 'a value outside'})")


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction, "binary_cross_entropy")
    _check_tensor(input, "binary_cross_entropy")
    if input.dtype.is_floating_point:
        _check_probabilities(input, "binary_cross_entropy")
    return _pw_loss(input, target, _BCE, 1.0, reduction, "binary_cross_entropy", weight=weight)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    reduction = _reduction(size_average, reduce, reduction, "binary_cross_entropy_with_logits")
    return _pw_loss(input, target, _BCE_LOGITS, 1.0, reduction, "binary_cross_entropy_with_logits", weight=weight,
                    pos_weight=pos_weight)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction, "hinge_embedding_loss")
    return _pw_loss(input, target, _HINGE, margin, reduction, "hinge_embedding_loss")


class _MultiMargin(Function):
    @staticmethod
    def forward(ctx, x, target, p, margin, weight, reduction):
        loss = _C.multi_margin_loss_fwd(x, target, p, margin, weight)
        ctx.args = (p, margin, reduction, loss.numel())
        ctx.save_for_backward(x, target, weight)
        if reduction == "none":
            return loss
        s = _C.sum(loss)
        return _C.div(s, float(loss.numel())) if reduction == "mean" else s

    @staticmethod
    def backward(ctx, g):
        x, target, weight = ctx.saved_tensors
        p, margin, reduction, n = ctx.args
        g, scale = _grad_and_scale(g, reduction, n)
        return _C.multi_margin_loss_bwd(g, scale, x, target, p, margin, weight), None, None, None, None, None


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction, "multi_margin_loss")
    _check_tensor(input, "multi_margin_loss")
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss(): only p == 1 and p == 2 are supported, got {p}")
    target = _index_target(target, "multi_margin_loss")
    one = input.ndim == 1
    if one:
        input = _ops.unsqueeze(input, 0)
        target = _ops.reshape(target, [1])
    if input.ndim != 2:
        raise ValueError(f"multi_margin_loss(): expected input of shape [N, C] or [C], got {list(input.shape)}")
    args = (input, target, int(p), float(margin), weight, reduction)
    out = _MultiMargin.apply(*args) if _needs_grad(input) else _MultiMargin.forward(_Ctx(), *args)
    if one and reduction == "none":
        out = _ops.reshape(out, [])
    return out


# ================================================================================================ pooling

def _pair(v, op, name):
    if isinstance(v, numbers.Integral):
        return (int(v), int(v))
    try:
        t = tuple(int(e) for e in v)
    except TypeError:
        raise TypeError(f"{op}(): {name} must be an int or a pair of ints, got {type(v).__name__}") from None
    if len(t) == 1:
        return (t[0], t[0])
    if len(t) != 2:
        raise ValueError(f"{op}(): {name} must be an int or a pair of ints, got {v!r}")
    return t


class _MaxPool2d(Function):
    @staticmethod
    def forward(ctx, x, k, s, p, d, ceil_mode, return_indices):
        # Windows of 16+ elements keep the forward's argmax for the backward (a scatter): recomputing it there
        # cost a second full scan (k8/s8 on [8,16,32,32]: f+b 229 -> ~150 us); small windows recompute (their
        # specialised kernels rescan faster than indices are stored and read).
        keep = x.device.type == "cpu" and k[0] * k[1] >= 16
        out, idx = _C.max_pool2d_fwd(x, k, s, p, d, ceil_mode, return_indices or keep)
        ctx.args = (k, s, p, d, ceil_mode)
        ctx.save_for_backward(x)
        ctx.idx = idx if keep else None
        if return_indices:
            ctx.mark_non_differentiable(idx)
            return out, idx
        return out

    @staticmethod
    def backward(ctx, g, *rest):
        (x,) = ctx.saved_tensors
        if ctx.idx is not None and ctx.idx.numel() and g.numel():
            idx = ctx.idx
            nc = math.prod(x.shape[:-2])
            gx = _C.zeros([nc, x.shape[-2] * x.shape[-1]], g.dtype, g.device)
            i2 = _C.reshape(idx, [nc, -1])
            ok = _C.ge(i2, 0)  # (a window of padding only: index -1, no input gets its gradient)
            _C.scatter_add_(gx, 1, _C.where(ok, i2, _C.zeros([], i2.dtype, i2.device)),
                            _C.where(ok, _C.reshape(_C.contiguous(g), [nc, -1]), _C.zeros([], g.dtype, g.device)))
            return (_C.reshape(gx, list(x.shape)),) + (None,) * 6
        return _C.max_pool2d_bwd(g, x, *ctx.args), None, None, None, None, None, None

    @staticmethod
    def _double_backward_fn(ctx, g, *rest):
        # linear in g (the windows' winners do not move with x): its adjoint gathers at the winners
        x = ctx._saved[0]
        args = ctx.args
        _, idx = _C.max_pool2d_fwd(x, *args, True)
        N, C = (x.shape[0], x.shape[1]) if x.ndim == 4 else (1, x.shape[0])
        flat_idx = _C.reshape(idx, [N, C, -1])

        def gather_winners(t):
            from ._indexing import gather
            v = gather(_ops.reshape(t, [N, C, -1]), 2, flat_idx)
            return _ops.reshape(v, list(idx.shape))

        return (_linear_backward(g, lambda t: _C.max_pool2d_bwd(t, x, *args), gather_winners),) + (None,) * 6


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    op = "max_pool2d"
    _check_tensor(input, op)
    k = _pair(kernel_size, op, "kernel_size")
    s = k if stride is None or (not isinstance(stride, numbers.Integral) and len(stride) == 0) \
        else _pair(stride, op, "stride")
    p = _pair(padding, op, "padding")
    d = _pair(dilation, op, "dilation")
    args = (input, k, s, p, d, bool(ceil_mode), bool(return_indices))
    if _needs_grad(input):
        return _MaxPool2d.apply(*args)
    out, idx = _C.max_pool2d_fwd(input, k, s, p, d, bool(ceil_mode), bool(return_indices))
    return (out, idx) if return_indices else out


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


class _AvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, k, s, p, ceil_mode, count_include_pad, divisor):
        ctx.args = (k, s, p, ceil_mode, count_include_pad, divisor)
        ctx.save_for_backward(x)
        return _C.avg_pool2d_fwd(x, k, s, p, ceil_mode, count_include_pad, divisor)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return _C.avg_pool2d_bwd(g, x, *ctx.args), None, None, None, None, None, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        x, args = ctx._saved[0], ctx.args
        gx = _linear_backward(g, lambda t: _C.avg_pool2d_bwd(t, x, *args),
                              lambda t: _AvgPool2d.apply(t, *args) if _needs_grad(t) else _C.avg_pool2d_fwd(t, *args))
        return (gx,) + (None,) * 6


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    op = "avg_pool2d"
    _check_tensor(input, op)
    k = _pair(kernel_size, op, "kernel_size")
    s = k if stride is None or (not isinstance(stride, numbers.Integral) and len(stride) == 0) \
        else _pair(stride, op, "stride")
    p = _pair(padding, op, "padding")
    if divisor_override is not None and int(divisor_override) <= 0:
        raise ValueError(f"avg_pool2d(): divisor_override must be positive, got {divisor_override}")
    div = 0 if divisor_override is None else int(divisor_override)
    args = (input, k, s, p, bool(ceil_mode), bool(count_include_pad), div)
    if _needs_grad(input):
        return _AvgPool2d.apply(*args)
    return _C.avg_pool2d_fwd(*args)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over the window of x^p)^(1/p), as torch: avg_pool2d(x^p) * kh * kw, then ^(1/p). norm_type inf is
    max-abs pooling and -inf min-abs pooling (torch's max_pool2d of |x| and -max_pool2d(-|x|))."""
    op = "lp_pool2d"
    _check_tensor(input, op)
    kh, kw = _pair(kernel_size, op, "kernel_size")
    p = float(norm_type)
    if p == 0:
        raise ValueError("lp_pool2d(): norm_type must be nonzero")
    if math.isinf(p):
        a = _ops.abs(input)
        if p > 0:
            return max_pool2d(a, (kh, kw), stride, 0, 1, ceil_mode)
        return _ops.neg(max_pool2d(_ops.neg(a), (kh, kw), stride, 0, 1, ceil_mode))
    xp = _ops.pow(input, p) if p != 2 else _ops.mul(input, input)
    out = avg_pool2d(xp, (kh, kw), stride, 0, ceil_mode)
    # torch's sign(out) * relu(|out|) is out itself, with gradient 1 where out != 0 and 0 where out == 0; written as
    # relu(out) - relu(-out), whose backward selects (relu's), so the infinite derivative of ^(1/p) at an all-zero
    # window gives gradient 0 there (as torch) instead of 0 * inf = NaN
    out = _ops.mul(_ops.sub(relu(out), relu(_ops.neg(out))), float(kh * kw))
    return _ops.pow(out, 1.0 / p)


class _AdaptiveAvg(Function):
    @staticmethod
    def forward(ctx, x, oh, ow):
        ctx.save_for_backward(x)
        return _C.adaptive_avg_pool2d_fwd(x, oh, ow)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return _C.adaptive_avg_pool2d_bwd(g, x), None, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        x = ctx._saved[0]
        oh, ow = g.shape[-2], g.shape[-1]
        gx = _linear_backward(g, lambda t: _C.adaptive_avg_pool2d_bwd(t, x),
                              lambda t: adaptive_avg_pool2d(t, (oh, ow)))
        return gx, None, None


def adaptive_avg_pool2d(input, output_size):
    op = "adaptive_avg_pool2d"
    _check_tensor(input, op)
    if isinstance(output_size, numbers.Integral):
        oh = ow = int(output_size)
    else:
        sz = tuple(output_size)
        if len(sz) != 2:
            raise ValueError(f"{op}(): output_size must be an int or a pair, got {output_size!r}")
        oh = input.shape[-2] if sz[0] is None else int(sz[0])
        ow = input.shape[-1] if sz[1] is None else int(sz[1])
    if _needs_grad(input):
        return _AdaptiveAvg.apply(input, oh, ow)
    return _C.adaptive_avg_pool2d_fwd(input, oh, ow)


def _single(v, op, name):
    if isinstance(v, numbers.Integral):
        return int(v)
    t = tuple(v)
    if len(t) != 1:
        raise ValueError(f"{op}(): {name} must be an int or a 1-tuple, got {v!r}")
    return int(t[0])


def _as_2d_1(input, op):
    """(N, C, L) or (C, L) -> the same with a unit H dim at -2."""
    _check_tensor(input, op)
    if input.ndim not in (2, 3):
        raise ValueError(f"{op}(): expected a 2-D [C, L] or 3-D [N, C, L] input, got shape {list(input.shape)}")
    return _ops.unsqueeze(input, -2)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """max_pool2d over a (.., 1, L) view: the same kernels; indices are positions along L."""
    op = "max_pool1d"
    x = _as_2d_1(input, op)
    k = _single(kernel_size, op, "kernel_size")
    s = k if stride is None or (not isinstance(stride, numbers.Integral) and len(stride) == 0) \
        else _single(stride, op, "stride")
    r = max_pool2d(x, (1, k), (1, s), (0, _single(padding, op, "padding")), (1, _single(dilation, op, "dilation")),
                   ceil_mode, return_indices)
    if return_indices:
        return _ops.squeeze(r[0], -2), _ops.squeeze(r[1], -2)
    return _ops.squeeze(r, -2)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    op = "avg_pool1d"
    x = _as_2d_1(input, op)
    k = _single(kernel_size, op, "kernel_size")
    s = k if stride is None or (not isinstance(stride, numbers.Integral) and len(stride) == 0) \
        else _single(stride, op, "stride")
    return _ops.squeeze(avg_pool2d(x, (1, k), (1, s), (0, _single(padding, op, "padding")), ceil_mode,
                                   count_include_pad), -2)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Adaptive max pooling: windows [floor(i L / Lo), ceil((i + 1) L / Lo)). When the output divides the input
    this is max_pool2d with kernel = stride = L / Lo (the kernels); otherwise each output cell is a max_pool2d over
    its window (slow, but the kernel's rules: the first maximum takes the gradient and gives the index, a NaN wins),
    and the indices are flat positions h * W + w in the input plane, like torch."""
    op = "adaptive_max_pool2d"
    _check_tensor(input, op)
    if input.ndim not in (3, 4):
        raise ValueError(f"{op}(): expected a 3-D or 4-D input, got shape {list(input.shape)}")
    H, W = input.shape[-2], input.shape[-1]
    if isinstance(output_size, numbers.Integral):
        oh = ow = int(output_size)
    else:
        try:
            sz = tuple(output_size)
        except TypeError:
            raise TypeError(f"{op}(): output_size must be an int or a pair, got {type(output_size).__name__}") \
                from None
        if len(sz) != 2:
            raise ValueError(f"{op}(): output_size must be an int or a pair (H, W) for input of shape "
                             f"{list(input.shape)}, got {output_size!r}")
        oh, ow = sz
        oh = H if oh is None else int(oh)
        ow = W if ow is None else int(ow)
    if oh <= 0 or ow <= 0:
        raise ValueError(f"{op}(): output_size must be positive, got ({oh}, {ow})")
    if H % oh == 0 and W % ow == 0:
        return max_pool2d(input, (H // oh, W // ow), (H // oh, W // ow), 0, 1, False, return_indices)
    from ._indexing import stack
    rows, irows = [], []
    for i in range(oh):
        h0, h1 = (i * H) // oh, -((-(i + 1) * H) // oh)
        cells, icells = [], []
        for j in range(ow):
            w0, w1 = (j * W) // ow, -((-(j + 1) * W) // ow)
            kw = w1 - w0
            r = max_pool2d(input[..., h0:h1, w0:w1], (h1 - h0, kw), (h1 - h0, kw), 0, 1, False, return_indices)
            if return_indices:
                v, ix = r
                # window-local h * kw + w -> (h0 + h) * W + (w0 + w)
                ix = _ops.add(_ops.add(_ops.mul(_ops.floor_divide(ix, kw), W), _ops.remainder(ix, kw)), h0 * W + w0)
                icells.append(_ops.squeeze(_ops.squeeze(ix, -1), -1))
            else:
                v = r
            cells.append(_ops.squeeze(_ops.squeeze(v, -1), -1))
        rows.append(stack(cells, -1))
        if return_indices:
            irows.append(stack(icells, -1))
    out = stack(rows, -2)
    return (out, stack(irows, -2)) if return_indices else out


# ================================================================================================ normalisation

class _BatchNorm(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
        y, mean, invstd = _C.batch_norm_fwd(x, weight, bias, running_mean, running_var, training, momentum, eps)
        ctx.training, ctx.eps = training, eps
        ctx.save_for_backward(x, weight, mean, invstd)
        return y

    @staticmethod
    def backward(ctx, g):
        x, weight, mean, invstd = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx, gw, gb = _C.batch_norm_bwd(g, x, weight, mean, invstd, ctx.training, need[0], need[1], need[2])
        return gx, gw, gb, None, None, None, None, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        x, weight, mean, invstd = ctx.saved_tensors
        dims = [0] + list(range(2, x.ndim))
        view = [1, x.shape[1]] + [1] * (x.ndim - 2)
        training, eps = ctx.training, ctx.eps

        def composite(x, w):
            if training:  # the batch statistics, recomputed with recording ops
                xc = _ops.sub(x, _ops.mean(x, dims, True))
                y = _ops.mul(xc, _ops.rsqrt(_ops.add(_ops.mean(_ops.mul(xc, xc), dims, True), eps)))
            else:
                y = _ops.mul(_ops.sub(x, _C.reshape(mean, view)), _C.reshape(invstd, view))
            return y if w is None else _ops.mul(y, _ops.reshape(w, view))

        gx, gw = _recompute_vjp(composite, (x, weight), (g,))
        gb = _ops.sum(g, dims) if ctx.needs_input_grad[2] else None
        return gx, gw, gb, None, None, None, None, None


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-05):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over (N, C) or (N, C, ...) input, per channel C.

    training=True normalises with the batch statistics and updates running_mean/running_var in place
    (momentum, unbiased variance, like torch); training=False uses the running statistics.
    """
    op = "batch_norm"
    _check_tensor(input, op)
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None:
            _check_tensor(t, op, name)
    if momentum is None:
        momentum = 0.0
    if training and not eps > 0:
        raise ValueError(f"batch_norm(): eps must be positive during training, but got {eps}")
    if training and input.ndim >= 2 and input.shape[0] == 0:
        # an empty batch (torch): an empty output, the running statistics untouched, zero parameter gradients
        out = _ops.mul(input, 1.0)
        for p in (weight, bias):
            if p is not None and _needs_grad(p):
                out = _ops.add(out, _ops.mul(_ops.sum(p), 0.0))
        return out
    args = (input, weight, bias, running_mean, running_var, bool(training), float(momentum), float(eps))
    if _needs_grad(input, weight, bias):
        return _BatchNorm.apply(*args)
    return _C.batch_norm_fwd(*args)[0]


class _Lrn(Function):
    @staticmethod
    def forward(ctx, x, size, alpha, beta, k):
        ctx.args = (size, alpha, beta, k)
        ctx.save_for_backward(x)
        return _C.lrn_fwd(x, size, alpha, beta, k)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return _C.lrn_bwd(g, x, *ctx.args), None, None, None, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        (x,) = ctx.saved_tensors
        args = ctx.args
        return (_recompute_vjp(lambda t: _lrn_composite(t, *args), (x,), (g,))[0],) + (None,) * 4


def _lrn_composite(x, size, alpha, beta, k):
    """local_response_norm with recording ops (its double backward): the window sums of x^2 over channels
    [c - size//2, c + (size-1)//2] as shifted slices of the zero-padded squares."""
    from ._indexing import cat
    sq = _ops.mul(x, x)
    c = x.shape[1]
    parts = []
    for n in (size // 2, None, (size - 1) // 2):
        if n is None:
            parts.append(sq)
        elif n:
            parts.append(_C.zeros([x.shape[0], n] + list(x.shape[2:]), x.dtype, x.device))
    padded = cat(parts, 1)
    s = None
    for j in range(size):
        piece = _ops.narrow(padded, 1, j, c)
        s = piece if s is None else _ops.add(s, piece)
    return _ops.div(x, _ops.pow(_ops.add(_ops.mul(s, alpha / size), k), beta))


def local_response_norm(input, size, alpha=0.0001, beta=0.75, k=1.0):
    """Normalisation across channels (AlexNet): x / (k + alpha/size * sum of x^2 over `size` neighbouring
    channels)^beta, the window [c - size//2, c + (size-1)//2] like torch."""
    _check_tensor(input, "local_response_norm")
    args = (input, int(size), float(alpha), float(beta), float(k))
    if _needs_grad(input):
        return _Lrn.apply(*args)
    return _C.lrn_fwd(*args)


# ================================================================================================ dropout

class _Dropout(Function):
    @staticmethod
    def forward(ctx, x, p, group):
        out, seed, offset = _C.dropout_fwd(x, p, group)
        ctx.args = (p, group, seed, offset)
        return out

    @staticmethod
    def backward(ctx, g):
        return _C.dropout_apply(g, *ctx.args), None, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        args = ctx.args

        def mask(t):  # the same mask again: the op is its own adjoint
            return _linear_backward(t, lambda u: _C.dropout_apply(u, *args), mask)

        return mask(g), None, None


def _dropout_impl(input, p, training, inplace, group_of, op):
    _check_tensor(input, op)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}(): dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    group = group_of(input)
    if inplace:
        if _needs_grad(input):
            from ._tensor import _inplace_with_history
            return _inplace_with_history(input, lambda src: _Dropout.apply(src, float(p), group), op + "_")
        _check_nograd_view(input)
        if input.is_contiguous():
            return _C.dropout_fwd_(input, float(p), group)[0]
        _C.copy_(input, _C.dropout_fwd(input, float(p), group)[0])
        return input
    if _needs_grad(input):
        return _Dropout.apply(input, float(p), group)
    return _C.dropout_fwd(input, float(p), group)[0]


def dropout(input, p=0.5, training=True, inplace=False):
    """Zeroes each element with probability p and scales the rest by 1/(1-p). The mask comes from the Philox
    stream of the default generator (dlcore.manual_seed makes it reproducible) and is regenerated, not stored,
    for the backward."""
    return _dropout_impl(input, p, training, inplace, lambda x: 1, "dropout")


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels: input (N, C, H, W) or (C, H, W); one draw per (n, c) plane."""
    def plane(x):
        if x.ndim not in (3, 4):
            raise ValueError(f"dropout2d(): expected a 3-D or 4-D input, got shape {list(x.shape)}")
        return max(1, x.shape[-1] * x.shape[-2])
    return _dropout_impl(input, p, training, inplace, plane, "dropout2d")


# ================================================================================================ embedding

class _Embedding(Function):
    @staticmethod
    def forward(ctx, idx, weight, padding_idx, scale_grad_by_freq):
        ctx.args = (weight.shape[0], padding_idx, scale_grad_by_freq)
        ctx.save_for_backward(idx)
        return _C.embedding_fwd(weight, idx)

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_tensors
        return None, _C.embedding_bwd(g, idx, *ctx.args), None, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        (idx,) = ctx.saved_tensors
        args = ctx.args
        if args[1] < 0 and not args[2]:
            gw = _linear_backward(g, lambda t: _C.embedding_bwd(t, idx, *args), lambda t: embedding(idx, t))
            return None, gw, None, None
        # padding_idx / scale_grad_by_freq: the gradient of this gradient gathers the rows at idx, 0 at padding_idx;
        # like torch (embedding_dense_double_backward), without the 1 / count of scale_grad_by_freq: the embedding's
        # own backward applies that scale again on the way to the weight
        pad = args[1]
        flat = _C.reshape(_C.contiguous(idx), [-1])
        f = _C.full([flat.shape[0]], 1.0, g.dtype, g.device)
        if pad >= 0:
            f = _C.where(_C.eq(flat, pad), _C.zeros([], g.dtype, g.device), f)
        f = _C.reshape(f, list(idx.shape) + [1])
        fwd, _ = _linear_pair(lambda t: _C.embedding_bwd(t, idx, *args),
                              lambda u: _C.mul(_C.embedding_fwd(u, idx), f))
        return None, fwd(g), None, None


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """weight[input]: rows of weight [num_embeddings, embedding_dim] gathered by the int64 indices in input.
    The backward scatter-adds (repeated indices sum); padding_idx's row gets zero gradient."""
    op = "embedding"
    _check_tensor(input, op)
    _check_tensor(weight, op, "weight")
    if sparse:
        raise NotImplementedError("embedding(): sparse gradients are not supported by dlcore")
    if input.dtype != _C.dtype.int64:
        if input.dtype.is_floating_point or input.dtype == _C.dtype.bool:
            raise TypeError(f"embedding(): expected indices of an integer dtype (int64), got {input.dtype.name}")
        input = input.to(_C.dtype.int64)
    if weight.ndim != 2:
        raise ValueError(f"embedding(): expected a 2-D weight [num_embeddings, embedding_dim], got shape "
                         f"{list(weight.shape)}")
    V = weight.shape[0]
    if padding_idx is not None:
        padding_idx = int(padding_idx)
        if not -V <= padding_idx < V:
            raise ValueError(f"embedding(): padding_idx {padding_idx} must be within num_embeddings ({V})")
        if padding_idx < 0:
            padding_idx += V
    pad = -1 if padding_idx is None else padding_idx
    if max_norm is not None:
        _embedding_renorm_(weight, input, float(max_norm), float(norm_type))
    if _needs_grad(weight):
        return _Embedding.apply(input, weight, pad, bool(scale_grad_by_freq))
    return _C.embedding_fwd(weight, input)


def _embedding_renorm_(weight, input, max_norm, norm_type):
    """Rescales (in place, without recording) the rows of weight referenced by input whose norm exceeds max_norm
    to norm max_norm (torch's embedding_renorm_)."""
    from .autograd import no_grad
    with no_grad():
        # On the weight's device, all rows at once (only the index range crosses to the host). A row referenced
        # twice is gathered twice and written back twice with the same value.
        idx = _C.reshape(_C.contiguous(input), [-1])
        if idx.dtype != _C.dtype.int64:
            idx = _C.to(idx, _C.dtype.int64, None, False)
        if idx.shape[0] == 0:
            return
        lo, hi = int(_C.item(_C.amin(idx, [], False))), int(_C.item(_C.amax(idx, [], False)))
        if lo < 0 or hi >= weight.shape[0]:
            raise IndexError(f"embedding(): index {lo if lo < 0 else hi} is out of range for {weight.shape[0]} "
                             "embeddings")
        rows = _C.index_select(weight, 0, idx)  # [M, D] copies
        n = _ops.norm(rows, norm_type, 1, True)  # [M, 1]
        scale = _C.where(_C.gt(n, max_norm), _C.mul(_C.reciprocal(_C.add(n, 1e-7)), max_norm),
                         _C.add(_C.zeros([], n.dtype, n.device), 1.0))
        _C.index_put_(weight, [idx], _C.mul(rows, scale), False)

def _attach_tensor_methods():
    """Tensor methods torch has for these ops (sigmoid/tanh are the foundation's)."""
    T = Tensor
    T.relu = lambda self: relu(self)
    T.relu_ = lambda self: relu_(self)
    T.softmax = lambda self, dim=None, dtype=None: softmax(self, dim, dtype=dtype)
    T.log_softmax = lambda self, dim=None, dtype=None: log_softmax(self, dim, dtype=dtype)


_attach_tensor_methods()
__all__ = [n for n in __all__ if n in globals()]
