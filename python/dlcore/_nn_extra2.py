"""Still more of torch.nn.functional, composed from dlcore's existing kernels and autograd ops (no new native code):

- losses: margin_ranking_loss, triplet_margin_loss, triplet_margin_with_distance_loss, cosine_embedding_loss,
  soft_margin_loss, multilabel_soft_margin_loss, multilabel_margin_loss, poisson_nll_loss, gaussian_nll_loss and
  ctc_loss (a Function over the native CTC kernel of csrc/ops/softmax_loss/ctc_cpu.cpp: the alpha recursion
  forward, the beta recursion and torch's gradient backward);
- unfold / fold (im2col / col2im as an index_select / index_add of the padded planes with precomputed offsets);
- bilinear, pdist, channel_shuffle, rms_norm;
- dropout1d, dropout3d, alpha_dropout, feature_alpha_dropout and rrelu (masks and slopes from the default Philox
  generator, so dlcore.manual_seed makes them reproducible);
- max_unpool1d/2d/3d, the 1-d adaptive pools, lp_pool1d, the *_with_indices forms, and the in-place activation
  aliases celu_, selu_, threshold_, hardtanh_.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from . import _C
from . import _ops
from . import _nn_layers as _L
from . import _nn_extra as _X
from .autograd import Function, _needs_grad
from ._indexing import index_select, index_add, scatter
from ._rearrange import _index

Tensor = _C.Tensor
_isT = isinstance
_NEG_INF = float("-inf")

__all__ = [
    # losses
    "margin_ranking_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss", "cosine_embedding_loss",
    "soft_margin_loss", "multilabel_soft_margin_loss", "multilabel_margin_loss", "poisson_nll_loss",
    "gaussian_nll_loss", "ctc_loss",
    # im2col / col2im
    "unfold", "fold",
    # layers
    "bilinear", "pdist", "channel_shuffle", "native_channel_shuffle", "rms_norm",
    # random
    "dropout1d", "dropout3d", "alpha_dropout", "feature_alpha_dropout", "rrelu", "rrelu_",
    # pooling
    "max_unpool1d", "max_unpool2d", "max_unpool3d", "adaptive_avg_pool1d", "adaptive_max_pool1d",
    "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices", "max_pool1d_with_indices",
    "lp_pool1d",
    # in-place aliases
    "celu_", "selu_", "threshold_", "hardtanh_",
]


# ------------------------------------------------------------------------------------------------- helpers

def _check_tensor(x, op, arg="input"):
    if not _isT(x, Tensor):
        raise TypeError(f"{op}(): argument '{arg}' must be a Tensor, not {type(x).__name__}")


def _check_float(x, op, arg="input"):
    _check_tensor(x, op, arg)
    if not x.dtype.is_floating_point:
        raise TypeError(f"{op}(): expected a floating-point {arg}, got dtype {x.dtype.name}")


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    if reduction == "sum":
        return _ops.sum(loss)
    return _ops.mean(loss)


def _broadcast_shape(op, **named):
    """The broadcast shape of the named tensors, or a RuntimeError naming all their shapes."""
    shapes = [tuple(t.shape) for t in named.values()]
    try:
        return tuple(_ops.broadcast_shapes(*shapes))
    except (ValueError, RuntimeError):
        desc = ", ".join(f"{k} {list(v.shape)}" for k, v in named.items())
        raise RuntimeError(f"{op}(): the shapes do not broadcast: {desc}") from None


def _as_float_like(t, like):
    """t (a target) in like's floating dtype."""
    return t if t.dtype == like.dtype else t.to(like.dtype)


def _const(v, like):
    return _C.full([], v, like.dtype, like.device)


def _host(t):
    """A host NumPy copy of a (small) tensor."""
    return np.asarray(_C.to(t, None, "cpu", False).numpy(force=True))


# ================================================================================================ losses

def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """max(0, -target * (input1 - input2) + margin), broadcast over the three (of equal rank, like torch)."""
    op = "margin_ranking_loss"
    reduction = _L._reduction(size_average, reduce, reduction, op)
    for name, t in (("input1", input1), ("input2", input2), ("target", target)):
        _check_tensor(t, op, name)
    if not (input1.ndim == input2.ndim == target.ndim):
        raise RuntimeError(f"{op}(): all input tensors should have the same number of dimensions, but got sizes: "
                           f"input1 {list(input1.shape)}, input2 {list(input2.shape)}, target {list(target.shape)}")
    _broadcast_shape(op, input1=input1, input2=input2, target=target)
    target = _as_float_like(target, input1) if input1.dtype.is_floating_point else target
    loss = _ops.clamp(_ops.add(_ops.mul(_ops.neg(target), _ops.sub(input1, input2)), margin), min=0.0)
    return _reduce(loss, reduction)


def _check_triplet_dims(anchor, positive, negative, op):
    for name, t in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        _check_tensor(t, op, name)
    a, p, n = anchor.ndim, positive.ndim, negative.ndim
    if not (a == p == n):
        raise RuntimeError(f"{op}(): the anchor, positive, and negative tensors are expected to have the same number "
                           f"of dimensions, but got: anchor {a}D, positive {p}D, and negative {n}D inputs")


def _triplet(dist_pos, dist_neg, dist_swap, margin, reduction):
    if dist_swap is not None:
        dist_neg = _ops.minimum(dist_neg, dist_swap)
    loss = _ops.clamp(_ops.sub(_ops.add(dist_pos, margin), dist_neg), min=0.0)
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """max(d(a, p) - d(a, n) + margin, 0) with d the pairwise p-norm distance (eps added to the difference);
    swap uses min(d(a, n), d(p, n)) as the negative distance."""
    op = "triplet_margin_loss"
    reduction = _L._reduction(size_average, reduce, reduction, op)
    if margin <= 0:
        raise ValueError(f"{op}(): margin must be greater than 0, got {margin}")
    _check_triplet_dims(anchor, positive, negative, op)
    _broadcast_shape(op, anchor=anchor, positive=positive, negative=negative)

    def d(x1, x2):
        return _X.pairwise_distance(x1, x2, p, eps)
    return _triplet(d(anchor, positive), d(anchor, negative), d(positive, negative) if swap else None, margin,
                    reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0,
                                      swap=False, reduction="mean"):
    """triplet_margin_loss with any distance function (default pairwise_distance)."""
    op = "triplet_margin_with_distance_loss"
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{op}(): {reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"{op}(): margin must be greater than 0, got {margin}")
    _check_triplet_dims(anchor, positive, negative, op)
    d = distance_function if distance_function is not None else _X.pairwise_distance
    return _triplet(d(anchor, positive), d(anchor, negative), d(positive, negative) if swap else None, margin,
                    reduction)


_COS_EPS = 1e-12  # torch's EPSILON in cosine_embedding_loss


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """1 - cos(x1, x2) where target == 1, max(0, cos(x1, x2) - margin) where target == -1, 0 elsewhere; inputs
    [N, D] with target [N], or [D] with a 0-d target."""
    op = "cosine_embedding_loss"
    reduction = _L._reduction(size_average, reduce, reduction, op)
    for name, t in (("input1", input1), ("input2", input2), ("target", target)):
        _check_tensor(t, op, name)
    td = target.ndim
    if td > 1:
        raise RuntimeError(f"{op}(): 0D or 1D target tensor expected, multi-target not supported (target shape "
                           f"{list(target.shape)})")
    if input1.ndim != td + 1 or input2.ndim != td + 1:
        raise RuntimeError(f"{op}(): {td}D target tensor expects {td + 1}D input tensors, but found inputs with "
                           f"sizes {list(input1.shape)} and {list(input2.shape)}")
    if tuple(input1.shape) != tuple(input2.shape) or (td == 1 and target.shape[0] != input1.shape[0]):
        raise RuntimeError(f"{op}(): input1 {list(input1.shape)} and input2 {list(input2.shape)} must have the same "
                           f"shape, with target {list(target.shape)} giving their batch size")
    prod = _ops.sum(_ops.mul(input1, input2), td)
    m1 = _ops.add(_ops.sum(_ops.mul(input1, input1), td), _COS_EPS)
    m2 = _ops.add(_ops.sum(_ops.mul(input2, input2), td), _COS_EPS)
    cos = _ops.div(prod, _ops.sqrt(_ops.mul(m1, m2)))
    zero = _const(0.0, cos)
    pos = _ops.where(_ops.eq(target, 1), _ops.sub(1.0, cos), zero)
    neg = _ops.where(_ops.eq(target, -1), _ops.clamp(_ops.sub(cos, margin), min=0.0), zero)
    return _reduce(_ops.add(pos, neg), reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-target * input)) (as softplus, which stays finite where exp would overflow)."""
    op = "soft_margin_loss"
    reduction = _L._reduction(size_average, reduce, reduction, op)
    _check_float(input, op)
    _check_tensor(target, op, "target")
    _broadcast_shape(op, input=input, target=target)
    z = _ops.neg(_ops.mul(input, _as_float_like(target, input)))
    return _reduce(_L.softplus(z), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-(t log sigmoid(x) + (1 - t) log sigmoid(-x)) (times weight), averaged over the class dim (the last)."""
    op = "multilabel_soft_margin_loss"
    reduction = _L._reduction(size_average, reduce, reduction, op)
    _check_float(input, op)
    _check_tensor(target, op, "target")
    if input.ndim == 0:
        raise RuntimeError(f"{op}(): expected an input of shape [N, C] or [C], got a 0-d tensor")
    _broadcast_shape(op, input=input, target=target)
    t = _as_float_like(target, input)
    loss = _ops.neg(_ops.add(_ops.mul(t, _L.logsigmoid(input)),
                             _ops.mul(_ops.sub(1.0, t),
                                      _L.logsigmoid(_ops.neg(input)))))
    if weight is not None:
        _check_tensor(weight, op, "weight")
        _broadcast_shape(op, input=input, weight=weight)
        loss = _ops.mul(loss, weight)
    C = input.shape[-1]
    loss = _ops.div(_ops.sum(loss, loss.ndim - 1), float(C))
    return _reduce(loss, reduction)


def _index_tensor(t, op, arg):
    _check_tensor(t, op, arg)
    if t.dtype == _C.dtype.int64:
        return t
    if t.dtype.is_floating_point or t.dtype == _C.dtype.bool:
        raise TypeError(f"{op}(): expected {arg} of an integer dtype (int64), got {t.dtype.name}")
    return t.to(_C.dtype.int64)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """sum over the target classes j (the entries of target before the first -1) and the non-target classes i of
    max(0, 1 - (x[j] - x[i])), divided by C; input [N, C] or [C], target int64 of the same shape."""
    op = "multilabel_margin_loss"
    reduction = _L._reduction(size_average, reduce, reduction, op)
    _check_float(input, op)
    target = _index_tensor(target, op, "target")
    if input.ndim > 2:
        raise RuntimeError(f"{op}(): expected a [C] or [N, C] input, got shape {list(input.shape)}")
    if tuple(target.shape) != tuple(input.shape):
        raise RuntimeError(f"{op}(): inconsistent target size: {list(target.shape)} for input of size: "
                           f"{list(input.shape)}")
    one = input.ndim < 2
    x = _ops.reshape(input, [1, -1]) if one else input
    N, C = x.shape
    t = _C.reshape(_C.contiguous(target), [N, C])
    if N * C and (_C.item(_C.amin(t, [], False)) < -1 or _C.item(_C.amax(t, [], False)) >= C):
        th = _host(t)  # (the error path only)
        bad = th[(th < -1) | (th >= C)][0]
        raise IndexError(f"{op}(): target value {bad} is out of range for {C} classes (expected -1 to end the "
                         f"list, or a class in [0, {C}))")
    # On the input's device: the labels of row n are its entries before the first -1 (valid = a running product
    # of t >= 0); counts[n, c] = how often c is a label of row n (small integers: exact in any float dtype).
    valid = _C.cumprod(_C.to(_C.ge(t, 0), x.dtype, None, False), 1)
    counts = _C.zeros([N, C], x.dtype, x.device)
    if N * C:
        _C.scatter_add_(counts, 1, _C.clamp(t, 0, C - 1), valid)
    other = _C.to(_C.eq(counts, 0), x.dtype, None, False)
    w = _C.mul(_C.unsqueeze(counts, 2), _C.unsqueeze(other, 1))  # [N, j, i]
    # z[n, j, i] = 1 - x[n, j] + x[n, i]
    z = _ops.add(_ops.sub(1.0, _ops.unsqueeze(x, 2)),
                 _ops.unsqueeze(x, 1))
    loss = _ops.div(_ops.sum(_ops.mul(_L.relu(z), w), [1, 2]), float(C))
    if one:
        loss = _ops.reshape(loss, [])
    return _reduce(loss, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """exp(input) - target * input (log_input), else input - target * log(input + eps); full adds Stirling's
    term target log target - target + log(2 pi target) / 2 where target > 1."""
    op = "poisson_nll_loss"
    reduction = _L._reduction(size_average, reduce, reduction, op)
    _check_float(input, op)
    _check_tensor(target, op, "target")
    _broadcast_shape(op, input=input, target=target)
    target = _as_float_like(target, input)
    if log_input:
        loss = _ops.sub(_ops.exp(input), _ops.mul(target, input))
    else:
        loss = _ops.sub(input, _ops.mul(target, _ops.log(_ops.add(input, eps))))
    if full:
        small = _ops.le(target, 1)
        ts = _ops.where(small, _const(2.0, target), target)  # finite logs (and gradients) where masked out
        stirling = _ops.add(_ops.sub(_ops.mul(ts, _ops.log(ts)), ts),
                            _ops.mul(_ops.log(_ops.mul(ts, 2 * math.pi)), 0.5))
        loss = _ops.add(loss, _ops.where(small, _const(0.0, stirling), stirling))
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """(log(max(var, eps)) + (input - target)^2 / max(var, eps)) / 2 (+ log(2 pi) / 2 when full). var has input's
    shape, or input's shape without its last dim, or one dim of size 1 where input's differs, or is a number. As
    in torch, the clamp at eps is not differentiated (var's gradient is taken at the clamped value)."""
    op = "gaussian_nll_loss"
    _check_float(input, op)
    _check_tensor(target, op, "target")
    if isinstance(var, numbers.Real) and not _isT(var, Tensor):
        if var < 0:
            raise ValueError(f"{op}(): var has negative entry/entries")
        var = _C.full(list(input.shape), float(var), input.dtype, input.device)
    else:
        _check_tensor(var, op, "var")
        if var.numel() and _C.item(_C.amin(var, [], False)) < 0:
            raise ValueError(f"{op}(): var has negative entry/entries")
    ishape, vshape = tuple(input.shape), tuple(var.shape)
    if vshape != ishape:
        if ishape[:-1] == vshape:
            var = _ops.unsqueeze(var, -1)
        elif len(ishape) == len(vshape) and sum(v for i, v in zip(ishape, vshape) if i != v) == 1:
            pass
        else:
            raise ValueError(f"{op}(): var is of incorrect size: {list(vshape)} for input of size {list(ishape)} "
                             f"(expected the input's size, that without its last dim, or a size-1 dim where "
                             f"the input's differs)")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{op}(): {reduction} is not valid")
    _broadcast_shape(op, input=input, target=target, var=var)
    var = _as_float_like(var, input)
    raw = var.detach() if var.requires_grad else var
    shift = _C.sub(_C.clamp(raw, float(eps), None), raw)  # max(var, eps) - var, a constant
    v = _ops.add(var, shift) if _needs_grad(var) else _C.add(raw, shift)
    diff = _ops.sub(input, _as_float_like(target, input))
    loss = _ops.mul(_ops.add(_ops.log(v), _ops.div(_ops.mul(diff, diff), v)), 0.5)
    if full:
        loss = _ops.add(loss, 0.5 * math.log(2 * math.pi))
    return _reduce(loss, reduction)


# ------------------------------------------------------------------------------------------------- ctc_loss

_CTC_REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}
_CTC_SAVE_ALPHA = True  # keep the forward's alphas for the backward (False: the backward recomputes them)


class _CtcLoss(Function):
    """The native kernel (csrc/ops/softmax_loss/ctc_cpu.cpp): loss and reduction forward, torch's gradient of
    log_probs backward (exp(lp) - posterior / exp(lp), times the upstream gradient)."""

    @staticmethod
    def forward(ctx, lp, targets, input_lengths, target_lengths, blank, reduction, zero_infinity):
        out, ctx.state = _C.ctc_loss(lp, targets, input_lengths, target_lengths, blank, reduction, zero_infinity,
                                     True, _CTC_SAVE_ALPHA)
        return out

    @staticmethod
    def backward(ctx, g):
        return _C.ctc_loss_backward(ctx.state, g), None, None, None, None, None, None


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """Connectionist Temporal Classification loss: -log of the total probability of the alignments of each target
    to its input. log_probs [T, N, C] (or [T, C] unbatched) holds log-probabilities (log_softmax outputs);
    targets are padded [N, S] or concatenated [sum(target_lengths)] class indices; input_lengths and target_lengths
    are N lengths (tensors or sequences; ints or 0-d tensors when unbatched). 'mean' divides each loss by its target
    length (at least 1) and averages over the batch; zero_infinity replaces infinite losses (targets that cannot be
    aligned, e.g. longer than their input) and their gradients by 0. The gradient is torch's, which assumes
    log_softmax inputs. Native kernels on both devices (csrc/ops/softmax_loss: ctc_cpu.cpp, ctc_kernels.cuh)."""
    op = "ctc_loss()"
    _check_tensor(log_probs, op, "log_probs")
    _check_tensor(targets, op, "targets")
    red = _CTC_REDUCTIONS.get(reduction) if isinstance(reduction, str) else None
    if red is None:
        raise ValueError(f"{op}: {reduction} is not a valid value for reduction (expected 'none', 'mean' or 'sum')")
    if log_probs.dtype not in (_C.dtype.float32, _C.dtype.float64):
        raise TypeError(f"{op}: expected log_probs of dtype float32 or float64, got {log_probs.dtype.name}")
    unbatched = log_probs.ndim == 2
    if unbatched:  # 1-D targets stay concatenated (of exactly target_length labels), as in torch
        log_probs = _ops.unsqueeze(log_probs, 1)
    if isinstance(blank, bool) or not isinstance(blank, numbers.Integral):
        raise TypeError(f"{op}: blank must be an int, got {type(blank).__name__}")
    zero_infinity = bool(zero_infinity)
    if _needs_grad(log_probs):  # (the kernel takes a contiguous copy of any layout)
        out = _CtcLoss.apply(log_probs, targets, input_lengths, target_lengths, int(blank), red, zero_infinity)
    else:
        out = _C.ctc_loss(log_probs, targets, input_lengths, target_lengths, int(blank), red, zero_infinity,
                          False)[0]
    if unbatched and red == 0:
        out = _ops.reshape(out, [])
    return out


# ================================================================================================ unfold / fold

def _pair_pos(v, op, name, minimum):
    p = _L._pair(v, op, name)
    if p[0] < minimum or p[1] < minimum:
        what = "greater than zero" if minimum > 0 else "non-negative"
        raise RuntimeError(f"{op}(): {name} should be {what}, but got {name} {p}")
    return p


def _im2col_index(hp, wp, k, d, s, o):
    """Offsets into a padded [hp, wp] plane, ordered (ki, kj, oy, ox): the (ki, kj) tap of block (oy, ox)."""
    ki = np.arange(k[0])[:, None, None, None]
    kj = np.arange(k[1])[None, :, None, None]
    oy = np.arange(o[0])[None, None, :, None]
    ox = np.arange(o[1])[None, None, None, :]
    return ((oy * s[0] + ki * d[0]) * wp + (ox * s[1] + kj * d[1])).reshape(-1)


def _blocks(op, size, k, d, p, s):
    o = [(size[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2)]
    if o[0] < 1 or o[1] < 1:
        raise RuntimeError(f"{op}(): given spatial size {tuple(size)}, kernel_size={k}, dilation={d}, padding={p}, "
                           f"the calculated shape of the array of sliding blocks is ({o[0]}, {o[1]}), but its "
                           f"components must be at least one")
    return o


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: [N, C, H, W] (or [C, H, W]) -> [N, C * kh * kw, L], column l holding block l's (c, ki, kj) values,
    the blocks in row-major order (torch.nn.functional.unfold)."""
    op = "unfold"
    _check_tensor(input, op)
    if input.ndim not in (3, 4):
        raise RuntimeError(f"{op}(): expected a 3-D [C, H, W] or 4-D [N, C, H, W] input, got shape "
                           f"{list(input.shape)}")
    k = _pair_pos(kernel_size, op, "kernel_size", 1)
    d = _pair_pos(dilation, op, "dilation", 1)
    p = _pair_pos(padding, op, "padding", 0)
    s = _pair_pos(stride, op, "stride", 1)
    batched = input.ndim == 4
    x = input if batched else _ops.unsqueeze(input, 0)
    N, C, H, W = x.shape
    o = _blocks(op, (H, W), k, d, p, s)
    if p[0] or p[1]:
        x = _X.pad(x, (p[1], p[1], p[0], p[0]))
    hp, wp = H + 2 * p[0], W + 2 * p[1]
    idx = _index(_im2col_index(hp, wp, k, d, s, o), x.device)
    cols = index_select(_ops.reshape(x, [N, C, hp * wp]), 2, idx)
    out = _ops.reshape(cols, [N, C * k[0] * k[1], o[0] * o[1]])
    return out if batched else _ops.squeeze(out, 0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im, the adjoint of unfold: [N, C * kh * kw, L] (or unbatched [C * kh * kw, L]) -> [N, C, H, W], the
    values of overlapping blocks summed (torch.nn.functional.fold)."""
    op = "fold"
    _check_tensor(input, op)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"{op}(): expected a 2-D (unbatched) or 3-D (batched) input, got shape "
                           f"{list(input.shape)}")
    size = _pair_pos(output_size, op, "output_size", 1)
    k = _pair_pos(kernel_size, op, "kernel_size", 1)
    d = _pair_pos(dilation, op, "dilation", 1)
    p = _pair_pos(padding, op, "padding", 0)
    s = _pair_pos(stride, op, "stride", 1)
    batched = input.ndim == 3
    x = input if batched else _ops.unsqueeze(input, 0)
    N, CK, L = x.shape
    K = k[0] * k[1]
    if CK % K:
        raise RuntimeError(f"{op}(): expected size of input's dimension 1 to be divisible by the product of "
                           f"kernel_size, but got input.size(1)={CK} and kernel_size={k}")
    o = _blocks(op, size, k, d, p, s)
    if L != o[0] * o[1]:
        raise RuntimeError(f"{op}(): given output_size={size}, kernel_size={k}, dilation={d}, padding={p}, "
                           f"stride={s}, expected size of input's dimension 2 to match the calculated number of "
                           f"sliding blocks {o[0]} * {o[1]} = {o[0] * o[1]}, but got input.size(2)={L}")
    C = CK // K
    hp, wp = size[0] + 2 * p[0], size[1] + 2 * p[1]
    idx = _index(_im2col_index(hp, wp, k, d, s, o), x.device)
    src = _ops.reshape(x, [N, C, K * L])
    zeros = _C.zeros([N, C, hp * wp], x.dtype, x.device)
    if _needs_grad(src):
        out = index_add(zeros, 2, idx, src)
    else:
        out = _C.index_add_(zeros, 2, idx, _C.contiguous(src))
    out = _ops.reshape(out, [N, C, hp, wp])
    if p[0] or p[1]:
        out = _ops.contiguous(_ops.narrow(_ops.narrow(out, 2, p[0], size[0]), 3, p[1], size[1]))
    return out if batched else _ops.squeeze(out, 0)


# ================================================================================================ layers

def bilinear(input1, input2, weight, bias=None):
    """y[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o]."""
    op = "bilinear"
    _check_tensor(input1, op, "input1")
    _check_tensor(input2, op, "input2")
    _check_tensor(weight, op, "weight")
    if weight.ndim != 3:
        raise RuntimeError(f"{op}(): expected a 3-D weight [out, in1, in2], got shape {list(weight.shape)}")
    if input1.ndim != input2.ndim or input1.ndim == 0:
        raise RuntimeError(f"{op}(): input dimensions do not match: got {input1.ndim} and {input2.ndim} (shapes "
                           f"{list(input1.shape)} and {list(input2.shape)})")
    for i in range(input1.ndim - 1):
        if input1.shape[i] != input2.shape[i]:
            raise RuntimeError(f"{op}(): input batch dimensions do not match at dim {i}: got {input1.shape[i]} and "
                               f"{input2.shape[i]}")
    out_f, in1, in2 = weight.shape
    if input1.shape[-1] != in1:
        raise RuntimeError(f"{op}(): input1 size does not match weight size: got {input1.shape[-1]} but expected "
                           f"{in1}")
    if input2.shape[-1] != in2:
        raise RuntimeError(f"{op}(): input2 size does not match weight size: got {input2.shape[-1]} but expected "
                           f"{in2}")
    if bias is not None:
        _check_tensor(bias, op, "bias")
        if bias.ndim != 1 or bias.shape[0] != out_f:
            raise RuntimeError(f"{op}(): bias size does not match weight size: got {list(bias.shape)} but expected "
                               f"[{out_f}]")
    lead = list(input1.shape[:-1])
    x1 = _ops.reshape(input1, [-1, in1])
    x2 = _ops.reshape(input2, [-1, in2])
    w = _ops.reshape(_ops.permute(weight, [1, 0, 2]), [in1, out_f * in2])
    t = _ops.reshape(_ops.matmul(x1, w), [-1, out_f, in2])          # [M, out, in2]
    y = _ops.sum(_ops.mul(t, _ops.unsqueeze(x2, 1)), 2)             # [M, out]
    if bias is not None:
        y = _ops.add(y, bias)
    return _ops.reshape(y, lead + [out_f])


def pdist(input, p=2):
    """The p-norm distances between the rows of input [N, M], for the pairs i < j in row-major order
    ([N (N - 1) / 2])."""
    op = "pdist"
    _check_tensor(input, op)
    if input.ndim != 2:
        raise RuntimeError(f"{op}(): only supports 2D tensors, got: {input.ndim}D (shape {list(input.shape)})")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"{op}(): only supports floating-point dtypes, got {input.dtype.name}")
    if p < 0:
        raise RuntimeError(f"{op}(): only supports non-negative p values, got {p}")
    n = input.shape[0]
    i, j = np.triu_indices(n, 1)
    if i.size == 0:
        return _ops.mul(_ops.narrow(_ops.reshape(input, [-1]), 0, 0, 0), 1.0)  # [0], still in the graph
    a = index_select(input, 0, _index(i, input.device))
    b = index_select(input, 0, _index(j, input.device))
    if input.shape[1] == 0:  # rows with no features are at distance 0 (for every p, as torch)
        return _ops.sum(_ops.sub(a, b), 1)
    return _ops.norm(_ops.sub(a, b), p, 1)


def channel_shuffle(input, groups):
    """[N, C, *] -> the channels regrouped: (g, C / g) transposed to (C / g, g)."""
    op = "channel_shuffle"
    _check_tensor(input, op)
    if input.ndim <= 2:
        raise RuntimeError(f"{op}(): expects input with > 2 dims, but got input with sizes {list(input.shape)}")
    g = int(groups)
    if g <= 0:
        raise RuntimeError(f"{op}(): number of groups to divide channels in must be positive, got {g}")
    N, C = input.shape[0], input.shape[1]
    if C % g:
        raise RuntimeError(f"{op}(): number of channels must be divisible by groups. Got {C} channels and {g} "
                           f"groups.")
    rest = list(input.shape[2:])
    x = _ops.transpose(_ops.reshape(input, [N, g, C // g] + rest), 1, 2)
    x = _ops.clone(x) if x.is_contiguous() else _ops.contiguous(x)  # always a new tensor, like torch
    return _ops.reshape(x, [N, C] + rest)


native_channel_shuffle = channel_shuffle

_EPS = {"float64": float(np.finfo(np.float64).eps), "float32": float(np.finfo(np.float32).eps),
        "float16": float(np.finfo(np.float16).eps), "bfloat16": 0.0078125}


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2 over the last len(normalized_shape) dims) + eps) * weight; eps None is the dtype's machine
    epsilon (torch.finfo(dtype).eps)."""
    op = "rms_norm"
    _check_float(input, op)
    ns = [int(normalized_shape)] if isinstance(normalized_shape, numbers.Integral) else \
        [int(v) for v in normalized_shape]
    k = len(ns)
    if k == 0 or input.ndim < k or list(input.shape[input.ndim - k:]) != ns:
        raise RuntimeError(f"{op}(): given normalized_shape={ns}, expected input with shape [*, "
                           f"{', '.join(map(str, ns))}], but got input of size {list(input.shape)}")
    if weight is not None:
        _check_tensor(weight, op, "weight")
        if list(weight.shape) != ns:
            raise RuntimeError(f"{op}(): expected weight to be of same shape as normalized_shape, but got weight of "
                               f"shape {list(weight.shape)} and normalized_shape = {ns}")
    if eps is None:
        eps = _EPS.get(input.dtype.name, float(np.finfo(np.float32).eps))
    dims = list(range(input.ndim - k, input.ndim))
    ms = _ops.mean(_ops.mul(input, input), dims, True)
    y = _ops.mul(input, _ops.rsqrt(_ops.add(ms, float(eps))))
    if weight is not None:
        y = _ops.mul(y, weight)
    return y


# ================================================================================================ random

def _feature_group(x, op, batched_ndim):
    """Elements per mask draw of a feature dropout: the dims after the channel dim (dim 1 of a batched input of
    batched_ndim dims, dim 0 of any other)."""
    shape = list(x.shape)
    rest = shape[2:] if x.ndim == batched_ndim else shape[1:]
    return max(1, math.prod(rest))


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of [N, C, L] or [C, L] (one draw per channel), scaling the rest by 1 / (1 - p)."""
    op = "dropout1d"
    _check_tensor(input, op)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}(): dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"{op}(): expected a 2-D or 3-D input, but received a {input.ndim}-D input (shape "
                           f"{list(input.shape)}); dropout1d drops channels of inputs with 1 spatial dimension, a "
                           f"channel dimension and an optional batch dimension")
    return _L._dropout_impl(input, p, training, inplace, lambda x: max(1, x.shape[-1]), op)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of [N, C, D, H, W] or [C, D, H, W] (one draw per channel)."""
    op = "dropout3d"
    _check_tensor(input, op)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}(): dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (4, 5):
        warnings.warn(f"dropout3d: received a {input.ndim}-D input to dropout3d, which is deprecated and will result "
                      f"in an error in a future release (torch's behaviour: it is taken as unbatched, dim 0 the "
                      f"channels). Use dropout instead", stacklevel=2)
        if input.ndim == 0 and training and p > 0:  # (torch returns early without a check when it drops nothing)
            raise RuntimeError(f"{op}(): feature dropout requires at least 2 dimensions in the input, got a 0-d "
                               f"tensor")
    return _L._dropout_impl(input, p, training, inplace, lambda x: _feature_group(x, op, 5), op)


_ALPHA = 1.7580993408473766  # -SELU's negative saturation value, scale * alpha


def _alpha_dropout_impl(input, p, training, inplace, feature, op):
    _check_tensor(input, op)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}(): dropout probability has to be between 0 and 1, but got {p}")
    if p == 0 or not training or input.numel() == 0:  # (torch returns before checking the rank)
        return input
    if feature and input.ndim < 2:
        raise RuntimeError(f"{op}(): feature dropout requires at least 2 dimensions in the input, got shape "
                           f"{list(input.shape)}")
    if not input.dtype.is_floating_point:
        raise TypeError(f"{op}(): expected a floating-point input, got {input.dtype.name}")
    if p == 1:  # torch: input * 0
        def fn(x):
            return _ops.mul(x, 0.0)
    else:
        shape = list(input.shape)
        mshape = shape[:2] + [1] * (len(shape) - 2) if feature else shape
        groups = math.prod(mshape)
        ones = _C.full([groups], 1.0, input.dtype, input.device)
        keep = _C.to(_C.ne(_C.dropout_fwd(ones, float(p), 1)[0], 0.0), input.dtype, None, False)
        keep = _C.reshape(keep, mshape)
        a = 1.0 / math.sqrt((_ALPHA * _ALPHA * p + 1) * (1 - p))
        ka = _C.mul(keep, a)
        b = _C.add(_C.mul(_C.sub(keep, 1.0), _ALPHA * a), _ALPHA * a * p)  # kept: alpha a p; dropped: -alpha a (1-p)

        def fn(x):
            return _ops.add(_ops.mul(x, ka), b)
    if inplace:
        return _L._composite_inplace(input, fn, op + "_")
    return fn(input)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout for SELU networks: dropped elements are set to SELU's negative saturation -alpha', then everything
    is scaled and shifted (a, b) so that zero-mean unit-variance inputs keep their mean and variance."""
    return _alpha_dropout_impl(input, p, training, inplace, False, "alpha_dropout")


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """alpha_dropout with one draw per channel (dim 1) of [N, C, *]."""
    return _alpha_dropout_impl(input, p, training, inplace, True, "feature_alpha_dropout")


def _rrelu_check(input, lower, upper, op):
    _check_tensor(input, op)
    if lower > upper:
        raise RuntimeError(f"{op}(): lower bound should be less than or equal to the upper bound, got lower={lower} "
                           f"and upper={upper}")
    if not input.dtype.is_floating_point:
        raise TypeError(f"{op}(): expected a floating-point input, got {input.dtype.name}")


def _rrelu_train(x, lower, upper, generator=None):
    """x * a with a ~ U(lower, upper) drawn per element where x <= 0 (1 elsewhere; from generator, a
    dlcore.Generator, or the default one); the gradient is a."""
    g = None if generator is None else generator._g
    u = _C.random(list(x.shape), x.dtype, x.device, "uniform", float(lower), float(upper), 0, 1, g)
    noise = _C.where(_C.le(x, 0.0), u, 1.0)
    return _ops.mul(x, noise)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False, *, generator=None):
    """Randomized leaky ReLU: in training the negative slopes are drawn uniformly from [lower, upper] per element
    (from generator, else the default generator); in evaluation the slope is (lower + upper) / 2. (generator:
    torch.rrelu's argument; torch.nn.functional.rrelu has none.)"""
    op = "rrelu"
    _rrelu_check(input, lower, upper, op)
    if not training:
        return _L.leaky_relu(input, (lower + upper) / 2, inplace)
    if inplace:
        return _L._composite_inplace(input, lambda x: _rrelu_train(x, lower, upper, generator), "rrelu_")
    return _rrelu_train(input, lower, upper, generator)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, True)


# ================================================================================================ pooling

def _ntuple(v, n, op, name):
    if isinstance(v, numbers.Integral):
        return (int(v),) * n
    try:
        t = tuple(int(e) for e in v)
    except TypeError:
        raise TypeError(f"{op}(): {name} must be an int or a tuple of {n} ints, got {type(v).__name__}") from None
    if len(t) == 1:
        return t * n
    if len(t) != n:
        raise ValueError(f"{op}(): {name} must be an int or a tuple of {n} ints, got {v!r}")
    return t


def _max_unpool(input, indices, kernel_size, stride, padding, output_size, nsp, op):
    _check_tensor(input, op)
    indices = _index_tensor(indices, op, "indices")
    if input.ndim not in (nsp + 1, nsp + 2):
        raise RuntimeError(f"{op}(): input should be a {nsp + 1}d or {nsp + 2}d tensor, but got a tensor with "
                           f"{input.ndim} dimensions (shape {list(input.shape)})")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"{op}(): expected indices of the input's shape {list(input.shape)}, but got indices of "
                           f"shape {list(indices.shape)}")
    k = _ntuple(kernel_size, nsp, op, "kernel_size")
    s = k if stride is None else _ntuple(stride, nsp, op, "stride")
    p = _ntuple(padding, nsp, op, "padding")
    insz = list(input.shape[-nsp:])
    default = [(insz[i] - 1) * s[i] + k[i] - 2 * p[i] for i in range(nsp)]
    if output_size is None:
        out = default
    else:
        out = [int(v) for v in (output_size if not isinstance(output_size, numbers.Integral) else [output_size])]
        if len(out) == nsp + 2:
            out = out[2:]
        if len(out) != nsp:
            raise ValueError(f"{op}(): output_size should be a sequence containing {nsp} or {nsp + 2} elements, but "
                             f"it has a length of '{len(out)}'")
        for i in range(nsp):
            lo, hi = default[i] - s[i], default[i] + s[i]
            if not lo < out[i] < hi:
                raise ValueError(f'{op}(): invalid output_size "{tuple(out)}" (dim {i} must be between {lo} and '
                                 f'{hi})')
    for i in range(nsp):
        if out[i] < 0:
            raise ValueError(f"{op}(): output_size must contain non-negative spatial dimensions, but got "
                             f"output_size[{i}]={out[i]}")
    lead = list(input.shape[:-nsp])
    plane = math.prod(out)
    b = math.prod(lead)
    lin = math.prod(insz)
    if plane == 0 or b == 0:  # an empty output: torch returns it without reading the indices
        return _ops.reshape(_ops.mul(_ops.narrow(_ops.reshape(input, [-1]), 0, 0, 0), 1.0), lead + out)
    if indices.numel():
        lo = _C.item(_C.amin(indices, [], False))
        hi = _C.item(_C.amax(indices, [], False))
        if lo < 0 or hi >= plane:
            bad = lo if lo < 0 else hi
            raise RuntimeError(f"{op}(): found an invalid max index: {bad} (output volumes are of size "
                               f"{'x'.join(map(str, out))})")
    x2 = _ops.reshape(input, [b, lin])
    i2 = _C.contiguous(_C.reshape(indices, [b, lin]))
    zeros = _C.zeros([b, plane], input.dtype, input.device)
    if _needs_grad(x2):
        y = scatter(zeros, 1, i2, x2)
    else:
        y = _C.scatter_(zeros, 1, i2, _C.contiguous(x2))
    return _ops.reshape(y, lead + out)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool1d: input values put at their indices in a zero [N, C, L_out] tensor
    (L_out = (L - 1) stride + kernel - 2 padding unless output_size is given)."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 1, "max_unpool1d")


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool2d: input values put at their flat indices (h * W_out + w) in a zero
    [N, C, H_out, W_out] tensor."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 2, "max_unpool2d")


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of a 3-d max pooling: flat indices (d * H * W + h * W + w) in a zero
    [N, C, D_out, H_out, W_out] tensor."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 3, "max_unpool3d")


def _out1(output_size, op):
    if isinstance(output_size, numbers.Integral):
        v = int(output_size)
    else:
        try:
            t = tuple(output_size)
        except TypeError:
            raise TypeError(f"{op}(): output_size must be an int or a 1-tuple, got {type(output_size).__name__}") \
                from None
        if len(t) != 1 or not isinstance(t[0], numbers.Integral):
            raise ValueError(f"{op}(): output_size must be an int or a 1-tuple of an int, got {output_size!r}")
        v = int(t[0])
    if v < 0:
        raise ValueError(f"{op}(): output_size must be non-negative, got {v}")
    return v


def _as_1d_pool_input(input, op):
    _check_tensor(input, op)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"{op}(): expected a 2-D [C, L] or 3-D [N, C, L] input, got shape {list(input.shape)}")
    if input.shape[-1] == 0:
        raise RuntimeError(f"{op}(): expected a non-empty last dimension, got input of shape {list(input.shape)}")


def adaptive_avg_pool1d(input, output_size):
    """Averages over the windows [floor(i L / Lo), ceil((i + 1) L / Lo)) of the last dim: adaptive_avg_pool2d on a
    [.., 1, L] view."""
    op = "adaptive_avg_pool1d"
    _as_1d_pool_input(input, op)
    o = _out1(output_size, op)
    if o == 0:
        return _C.zeros(list(input.shape[:-1]) + [0], input.dtype, input.device)
    return _ops.squeeze(_L.adaptive_avg_pool2d(_ops.unsqueeze(input, -2), (1, o)), -2)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    """(values, indices): maxima over the adaptive windows of the last dim, indices positions along it."""
    op = "adaptive_max_pool1d"
    _as_1d_pool_input(input, op)
    o = _out1(output_size, op)
    if o == 0:
        shape = list(input.shape[:-1]) + [0]
        return _C.zeros(shape, input.dtype, input.device), _C.zeros(shape, _C.dtype.int64, input.device)
    v, i = _L.adaptive_max_pool2d(_ops.unsqueeze(input, -2), (1, o), True)
    return _ops.squeeze(v, -2), _ops.squeeze(i, -2)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    if return_indices:
        return adaptive_max_pool1d_with_indices(input, output_size, True)
    op = "adaptive_max_pool1d"
    _as_1d_pool_input(input, op)
    o = _out1(output_size, op)
    if o == 0:
        return _C.zeros(list(input.shape[:-1]) + [0], input.dtype, input.device)
    return _ops.squeeze(_L.adaptive_max_pool2d(_ops.unsqueeze(input, -2), (1, o)), -2)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):
    return _L.adaptive_max_pool2d(input, output_size, True)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    return _L.max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over the window of x^p)^(1/p) along the last dim (lp_pool2d on a [.., 1, L] view)."""
    op = "lp_pool1d"
    _check_tensor(input, op)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"{op}(): expected a 2-D [C, L] or 3-D [N, C, L] input, got shape {list(input.shape)}")
    k = _L._single(kernel_size, op, "kernel_size")
    s = None if stride is None else (1, _L._single(stride, op, "stride"))
    y = _L.lp_pool2d(_ops.unsqueeze(input, -2), norm_type, (1, k), s, ceil_mode)
    return _ops.squeeze(y, -2)


# ================================================================================================ in-place aliases

def celu_(input, alpha=1.0):
    return _X.celu(input, alpha, inplace=True)


def selu_(input):
    return _X.selu(input, inplace=True)


def threshold_(input, threshold, value):
    return _X.threshold(input, threshold, value, inplace=True)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return _L.hardtanh(input, min_val, max_val, inplace=True)
