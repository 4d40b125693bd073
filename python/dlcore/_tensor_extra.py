"""The rest of PyTorch's tensor function surface, composed of the differentiable ops of ``_ops``, ``_indexing``,
``_rearrange`` and ``_sorting`` (so each runs on every device those run on, and its gradient is the composition's):

- reductions: nansum, nanmean, median, nanmedian, mode, count_nonzero, aminmax, quantile, nanquantile, cummax,
  cummin, logcumsumexp, diff;
- structure: diag, diag_embed, diagflat, trace, tril_indices, triu_indices, rot90, moveaxis, ravel, atleast_*d,
  meshgrid, cartesian_prod, combinations, block_diag, kron, cross, column_stack, row_stack, dstack, hsplit, vsplit,
  dsplit, split_with_sizes, Tensor.unfold, narrow_copy, select_scatter, slice_scatter, diagonal_scatter,
  masked_scatter, put, fill_diagonal_, isin, bucketize, searchsorted, unique, unique_consecutive, bincount, histc,
  argwhere, cdist, tensordot, inner, vdot, addmv, addr, baddbmm, addbmm, chain_matmul, is_* predicates,
  Tensor.new / new_empty_strided / sum_to_size;
- in-place variants (tril_, clamp_min_, cumsum_, t_, transpose_, squeeze_, lerp_, eq_, logical_and_, ...), recorded
  through the in-place autograd machinery of ``_tensor`` (leaf checks, version counters, view-group rebasing).

Data-dependent outputs (unique, bincount, nonzero-like) read one size on the host; everything else is vectorized
(sorts, gathers, scatters, log-step scans for cummax/cummin/logcumsumexp and the binary search of searchsorted).
"""
from __future__ import annotations

import builtins
import itertools
import math
import numbers
from collections import namedtuple

import numpy as np

from . import _C
from . import _ops
from .autograd import Function, _needs_grad
from ._indexing import gather, index_select, cat, stack, tensor_split, split, _norm_dim, _check_index
from ._sorting import cumsum, cumprod
from ._rearrange import flip, tril, triu, lerp, addcmul, addcdiv

Tensor = _C.Tensor
_isT = isinstance
_int64 = _C.dtype.int64
_bool = _C.dtype.bool

__all__ = ["nansum", "nanmean", "median", "nanmedian", "mode", "count_nonzero", "aminmax", "quantile", "nanquantile",
           "cummax", "cummin", "logcumsumexp", "diff", "diag", "diag_embed", "diagflat", "trace", "tril_indices",
           "triu_indices", "rot90", "moveaxis", "ravel", "atleast_1d", "atleast_2d", "atleast_3d", "meshgrid",
           "cartesian_prod", "combinations", "block_diag", "kron", "cross", "column_stack", "row_stack", "dstack",
           "hsplit", "vsplit", "dsplit", "split_with_sizes", "narrow_copy", "select_scatter", "slice_scatter",
           "diagonal_scatter", "masked_scatter", "put", "isin", "bucketize", "searchsorted", "unique",
           "unique_consecutive", "bincount", "histc", "argwhere", "cdist", "tensordot", "inner", "vdot", "addmv",
           "addr", "baddbmm", "addbmm", "chain_matmul", "is_nonzero", "is_same_size", "is_signed", "is_complex",
           "index_put_", "clamp_min_", "clamp_max_", "scatter_reduce"]


MedianResult = namedtuple("median", ["values", "indices"])
NanmedianResult = namedtuple("nanmedian", ["values", "indices"])
ModeResult = namedtuple("mode", ["values", "indices"])
AminmaxResult = namedtuple("aminmax", ["min", "max"])
CummaxResult = namedtuple("cummax", ["values", "indices"])
CumminResult = namedtuple("cummin", ["values", "indices"])


# ------------------------------------------------------------------------------------------------- helpers

def _check_tensor(x, op, name="input"):
    if not _isT(x, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be a dlcore.Tensor, got {type(x).__name__}")


def _arange(n, device, start=0):
    if n <= 0:
        return _C.empty([0], _int64, device)
    return _C.arange_int(start, start + n, 1, _int64, device)


def _long(values, device):
    t = _C.from_numpy(np.ascontiguousarray(np.asarray(values, dtype=np.int64)))
    return t if t.device == _C.device(str(device)) else _C.to(t, None, device, False)


def _scalar_like(v, ref):
    """A 0-d tensor of ref's dtype and device holding v."""
    if ref.dtype.is_floating_point:
        return _C.full([], float(v), ref.dtype, ref.device)
    return _C.full_int([], int(v), ref.dtype, ref.device)


def _host_int(t):
    return int(_C.item(t))


def _last_dim_first(x, d):
    """x with dim d moved last (a view)."""
    return _ops.movedim(x, d, -1) if d != x.ndim - 1 else x


def _promote(*tensors):
    dt = tensors[0].dtype
    for t in tensors[1:]:
        dt = _C.promote_types(dt, t.dtype)
    return [t if t.dtype == dt else _ops._to(t, dt, None) for t in tensors]


# ------------------------------------------------------------------------------------------------- nan reductions

def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """The sum treating NaN as zero."""
    _check_tensor(input, "nansum")
    if dtype is not None:
        input = _ops._to(input, dtype, None)
    x = input
    if x.dtype.is_floating_point:
        x = _ops.where(_C.isnan(x), _scalar_like(0, x), x)
    return _ops.sum(x, dim, keepdim, dtype=dtype)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """The mean of the non-NaN elements (NaN where there are none)."""
    _check_tensor(input, "nanmean")
    if dtype is not None:
        input = _ops._to(input, dtype, None)
    if not input.dtype.is_floating_point:
        raise TypeError(f"nanmean(): expected a floating point input, got {input.dtype.name}")
    if input.dtype in (_C.dtype.float16, _C.dtype.bfloat16):  # the sum and count in float32, rounded once (torch)
        return _ops._to(nanmean(_ops._to(input, _C.dtype.float32, None), dim, keepdim), input.dtype, None)
    cnt = _C.sum(_C.to(_C.logical_not(_C.isnan(input)), input.dtype, None, False), _ops._dims_list(dim), keepdim)
    return _ops.div(nansum(input, dim, keepdim), cnt)


def count_nonzero(input, dim=None):
    _check_tensor(input, "count_nonzero")
    return _C.sum(_C.to(_C.ne(input, 0), _int64, None, False), _ops._dims_list(dim), False)


def aminmax(input, *, dim=None, keepdim=False):
    """(min, max) over all elements or along dim."""
    _check_tensor(input, "aminmax")
    if input.numel() == 0 and (dim is None or input.ndim == 0):
        raise RuntimeError(f"aminmax(): cannot compute aminmax over an empty input of shape {list(input.shape)}; "
                           f"specify a non-empty dim")
    if dim is None:
        lo, hi = _ops.amin(input), _ops.amax(input)
        if keepdim:
            lo, hi = _ops.reshape(lo, [1] * input.ndim), _ops.reshape(hi, [1] * input.ndim)
        return AminmaxResult(lo, hi)
    d = _norm_dim(dim, input.ndim, "aminmax")
    if input.ndim and input.shape[d] == 0:
        raise IndexError(f"aminmax(): expected dim {dim} of input {list(input.shape)} to be non-empty")
    if input.ndim == 0:
        return AminmaxResult(_ops.clone(input), _ops.clone(input))
    return AminmaxResult(_ops.amin(input, d, keepdim), _ops.amax(input, d, keepdim))


# ------------------------------------------------------------------------------------------------- median, mode

def _select_sorted(input, d, pos, keepdim):
    """(values, indices) at sorted position pos (int64, input's shape with size 1 along d) of input sorted along d;
    the values are gathered from input (differentiable)."""
    _, order = _C.sort(input, d, False)
    idx = _C.gather(order, d, pos)
    vals = gather(input, d, idx)
    if not keepdim:
        vals, idx = _ops.squeeze(vals, d), _C.squeeze(idx, d)
    return vals, idx


class _EvenlyDistribute(Function):
    """A full reduction that selects a value (median(), nanmedian()): the gradient is shared evenly by every element
    equal to it (every NaN when it is NaN), as torch's evenly_distribute_backward."""

    _double_backward = True  # g enters through _D ops (the mask is piecewise constant): recorded under create_graph

    @staticmethod
    def forward(ctx, input, value):
        ctx.save_for_backward(input, value)
        return _C.clone(value)

    @staticmethod
    def backward(ctx, g):
        x, v = ctx.saved_tensors
        mask = _C.isnan(x) if bool(_C.item(_C.isnan(v))) else _C.eq(x, v)
        m = _C.to(mask, g.dtype, None, False)
        return _ops._D.mul(m, _ops._D.div(g, _C.sum(m, None, False))), None


def _int_lowest(dt):
    """The lowest value of an integer dtype (0 for the unsigned and 8/16-bit ones, as torch's empty median)."""
    return {_C.dtype.int64: -2 ** 63, _C.dtype.int32: -2 ** 31}.get(dt, 0)


def _median_impl(input, dim, keepdim, ignore_nan, op, result):
    _check_tensor(input, op)
    if dim is None:
        x = _ops.reshape(input, [-1])
        if x.numel() == 0:
            if not x.dtype.is_floating_point:  # torch: a 0-d result of the input's dtype (its lowest value)
                return _C.full_int([], _int_lowest(x.dtype), x.dtype, x.device)
            return _ops.reshape(_ops.sum(x) * float("nan"), [])
        if _needs_grad(input):
            return _EvenlyDistribute.apply(input, _median_impl(input.detach(), None, False, ignore_nan, op, result))
        v, _ = _median_impl(x, 0, False, ignore_nan, op, result)
        return v
    if input.ndim == 0:
        _norm_dim(dim, 0, op)
        return result(_ops.clone(input), _C.full_int([], 0, _int64, input.device))
    d = _norm_dim(dim, input.ndim, op)
    n = input.shape[d]
    if n == 0:
        raise IndexError(f"{op}(): expected a non-empty dim {dim} of input {list(input.shape)}")
    if not ignore_nan and not (input.dtype.is_floating_point and _ops.any(_C.isnan(input)).item()):
        # no NaN: the lower median is the ((n - 1) // 2 + 1)-th smallest, a selection (not a sort) per line
        from ._sorting import kthvalue
        vals, idx = kthvalue(input, (n - 1) // 2 + 1, d, keepdim)
        return result(vals, idx)
    if input.dtype.is_floating_point:
        nnan = _C.sum(_C.to(_C.isnan(input), _int64, None, False), [d], True)
    else:
        shape = list(input.shape)
        shape[d] = 1
        nnan = _C.zeros(shape, _int64, input.device)
    if ignore_nan:
        m = _C.sub(n, nnan)  # the non-NaN count; all-NaN lines take position 0 (a NaN)
        pos = _C.floor_divide(_C.maximum(_C.sub(m, 1), _C.zeros([], _int64, input.device)), 2)
    else:
        # NaN sorts last: a line with NaN takes its first NaN
        pos = _C.where(_C.gt(nnan, 0), _C.sub(n, nnan), _C.full_int([], (n - 1) // 2, _int64, input.device))
    vals, idx = _select_sorted(input, d, pos, keepdim)
    return result(vals, idx)


def median(input, dim=None, keepdim=False):
    """The lower median (of all elements: a 0-d tensor; along dim: (values, indices)); NaN if a NaN is present."""
    return _median_impl(input, dim, keepdim, False, "median", MedianResult)


def nanmedian(input, dim=None, keepdim=False):
    """median ignoring NaN (NaN only where every element is NaN)."""
    return _median_impl(input, dim, keepdim, True, "nanmedian", NanmedianResult)


def mode(input, dim=-1, keepdim=False):
    """The most frequent value along dim (the smallest among equally frequent ones) and its last index."""
    _check_tensor(input, "mode")
    if input.ndim == 0:
        _norm_dim(dim, 0, "mode")
        return ModeResult(_ops.clone(input), _C.full_int([], 0, _int64, input.device))
    d = _norm_dim(dim, input.ndim, "mode")
    n = input.shape[d]
    if n == 0:
        raise IndexError(f"mode(): expected a non-empty dim {dim} of input {list(input.shape)}")
    s, order = _C.sort(input, d, False)
    dev = input.device
    shape1 = [1] * input.ndim
    shape1[d] = n
    j = _C.reshape(_arange(n, dev), shape1)
    # run starts: position 0 and every change of value; the count so far in a run is j - start + 1
    change = _C.ne(_C.slice(s, d, 1, n, 1), _C.slice(s, d, 0, n - 1, 1))
    first = _C.full_int(list(change.shape[:d]) + [1] + list(change.shape[d + 1:]), 1, _bool, dev)
    start_flag = _C.contiguous(_C.to(_cat_raw2(first, change, d), _bool, None, False))
    start = cummax(_C.where(start_flag, _C.expand(j, list(s.shape)), _C.zeros([], _int64, dev)), d).values
    count = _C.add(_C.sub(_C.expand(j, list(s.shape)), start), 1)
    best = _C.argmax(count, d, True)  # the first maximum: the smallest value among the most frequent
    idx = _C.gather(order, d, best)
    vals = gather(input, d, idx)
    if not keepdim:
        vals, idx = _ops.squeeze(vals, d), _C.squeeze(idx, d)
    return ModeResult(vals, idx)


def _cat_raw2(a, b, d):
    shape = list(a.shape)
    shape[d] = a.shape[d] + b.shape[d]
    out = _C.empty(shape, a.dtype, a.device)
    _C.copy_(_C.slice(out, d, 0, a.shape[d], 1), a)
    if b.shape[d]:
        _C.copy_(_C.slice(out, d, a.shape[d], shape[d], 1), b)
    return out


# ------------------------------------------------------------------------------------------------- quantile

_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile_impl(input, q, dim, keepdim, interpolation, ignore_nan, op):
    _check_tensor(input, op)
    if not input.dtype.is_floating_point:
        raise TypeError(f"{op}(): input tensor must be either float or double dtype, got {input.dtype.name}")
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"{op}(): interpolation must be one of {', '.join(_INTERPOLATIONS)}. Got "
                         f"'{interpolation}'")
    scalar_q = not _isT(q, Tensor)
    scalar_q_tensor = scalar_q
    if scalar_q:
        if not isinstance(q, numbers.Real):
            raise TypeError(f"{op}(): q must be a float or a Tensor, got {type(q).__name__}")
        qa = np.array([float(q)])
    else:
        if q.ndim > 1:
            raise ValueError(f"{op}(): q must be a scalar or 1D tensor, got shape {list(q.shape)}")
        if q.dtype != input.dtype:
            raise TypeError(f"{op}(): q tensor must be same dtype as the input tensor ({input.dtype.name}), got "
                            f"{q.dtype.name}")
        if q.device != input.device:
            raise RuntimeError(f"{op}(): q tensor must be on the same device as the input ({input.device}), got "
                               f"{q.device}")
        qa = _C.to(q, None, "cpu", False)._raw_numpy().reshape(-1).astype(np.float64)
        scalar_q = q.ndim == 0
    if qa.size and (np.any(qa < 0) or np.any(qa > 1) or np.any(np.isnan(qa))):
        raise ValueError(f"{op}(): q values must be in the range [0, 1], got {qa.tolist()}")
    if dim is None:
        x = _ops.reshape(input, [-1])
        d = 0
    else:
        d = _norm_dim(dim, input.ndim, op)
        x = input if input.ndim else _ops.reshape(input, [1])
    n = x.shape[d]
    if input.numel() == 0:  # as torch, also when only another dim is empty
        raise IndexError(f"{op}(): input tensor must be non-empty (got shape {list(input.shape)}"
                         + (f", dim {dim})" if dim is not None else ")"))
    x = _last_dim_first(x, d)                      # (..., n)
    rows = list(x.shape[:-1])
    dev = x.device
    sv, order = _C.sort(x, -1, False)
    nnan = _C.sum(_C.to(_C.isnan(sv), x.dtype, None, False), [-1], True)   # (..., 1)
    nq = len(qa)
    qt = _C.reshape(_C.to(_C.from_numpy(np.ascontiguousarray(qa.astype(_np_dtype(x.dtype)))), None, dev, False),
                    [nq] + [1] * (len(rows) + 1))
    if ignore_nan:
        last = _C.sub(float(n - 1), nnan)          # last valid position (-1 when all NaN)
        rank = _C.mul(qt, _C.maximum(last, _C.zeros([], x.dtype, dev)))
    else:
        rank = _C.mul(qt, float(n - 1))
        rank = _C.where(_C.gt(nnan, 0), _C.full([], float(n - 1), x.dtype, dev), rank)  # a NaN line gives NaN
    rank = _C.contiguous(_C.expand(rank, [nq] + rows + [1]))
    if interpolation == "nearest":
        rank = _C.round(rank)  # half to even, like torch
    lo = _C.to(_C.floor(rank), _int64, None, False)
    hi = _C.to(_C.ceil(rank), _int64, None, False)
    if interpolation == "lower":
        hi = lo
    elif interpolation in ("higher",):
        lo = hi
    xe = _ops.expand(_ops.unsqueeze(x, 0), [nq] + rows + [n])
    oe = _C.expand(_C.unsqueeze(order, 0), [nq] + rows + [n])
    below = gather(xe, -1, _C.gather(oe, -1, lo))
    if interpolation in ("lower", "higher", "nearest"):
        out = below
    else:
        above = gather(xe, -1, _C.gather(oe, -1, hi))
        if interpolation == "midpoint":
            frac = _C.full([], 0.5, x.dtype, dev)
        elif not scalar_q_tensor and _needs_grad(q):
            # the weight as a differentiable function of q (torch: weights = q * last_index - floor(...))
            qd = _ops.reshape(q, [nq] + [1] * (len(rows) + 1))
            if ignore_nan:
                rank_q = _ops.mul(qd, _C.maximum(last, _C.zeros([], x.dtype, dev)))
            else:
                rank_q = _ops.where(_C.gt(nnan, 0), _C.full([], float(n - 1), x.dtype, dev),
                                    _ops.mul(qd, float(n - 1)))
            frac = _ops.sub(rank_q, _C.floor(rank))
        else:
            frac = _C.sub(rank, _C.floor(rank))
        out = lerp(below, above, frac)
    out = _ops.squeeze(out, -1)                   # (nq, ...)
    if keepdim:
        if dim is None:
            out = _ops.reshape(out, [nq] + [1] * input.ndim)
        else:
            out = _ops.unsqueeze(out, d + 1) if input.ndim else out
    if scalar_q:
        out = _ops.squeeze(out, 0)
    return out


def _np_dtype(dt):
    return np.float64 if dt == _C.dtype.float64 else np.float32


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The q-th quantiles of input (all elements, or along dim); q a float or a 1-D tensor (its dim goes
    first). interpolation: linear, lower, higher, midpoint or nearest. A line with a NaN gives NaN."""
    return _quantile_impl(input, q, dim, keepdim, interpolation, False, "quantile")


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """quantile ignoring NaN (NaN only where a line is all NaN)."""
    return _quantile_impl(input, q, dim, keepdim, interpolation, True, "nanquantile")


# ------------------------------------------------------------------------------------------------- scans

def _shift(x, d, s, fill):
    """x shifted by s along d (x[j - s], fill for j < s)."""
    n = x.shape[d]
    out = _C.empty(list(x.shape), x.dtype, x.device)
    _C.fill_(_C.slice(out, d, 0, builtins.min(s, n), 1), fill)
    if s < n:
        _C.copy_(_C.slice(out, d, s, n, 1), _C.slice(x, d, 0, n - s, 1))
    return out


def _cum_extreme_raw(x, d, is_max):
    """(values, indices) of the running max/min along d by a log-step (Hillis-Steele) scan of (value, index)
    pairs: the later element wins ties and NaN wins over numbers (torch's cummax/cummin)."""
    n = x.shape[d]
    if x.device.type == "cpu" and x.dtype in (_C.dtype.float32, _C.dtype.float64, _C.dtype.int32, _int64):
        # one sequential pass per line (sort_cpu.cpp's cum_extreme_cpu); the log-step scan below for the rest
        o = math.prod(x.shape[:d])
        return _C._cum_extreme_cpu(_C.contiguous(x), o, n, x.numel() // builtins.max(o * n, 1), bool(is_max))
    shape1 = [1] * x.ndim
    shape1[d] = n
    v = _C.contiguous(x)
    i = _C.contiguous(_C.expand(_C.reshape(_arange(n, x.device), shape1), list(x.shape)))
    isf = x.dtype.is_floating_point
    s = 1
    while s < n:
        lv = _C.slice(v, d, 0, n - s, 1)
        li = _C.slice(i, d, 0, n - s, 1)
        rv = _C.slice(v, d, s, n, 1)
        ri = _C.slice(i, d, s, n, 1)
        take_r = _C.ge(rv, lv) if is_max else _C.le(rv, lv)
        if isf:
            take_r = _C.logical_or(_C.isnan(rv), _C.logical_and(_C.logical_not(_C.isnan(lv)), take_r))
        nv = _C.clone(v)
        ni = _C.clone(i)
        _C.copy_(_C.slice(nv, d, s, n, 1), _C.where(take_r, rv, lv))
        _C.copy_(_C.slice(ni, d, s, n, 1), _C.where(take_r, ri, li))
        v, i = nv, ni
        s *= 2
    return v, i


def _cum_extreme(input, dim, is_max, op, result):
    _check_tensor(input, op)
    if input.ndim == 0:
        _norm_dim(dim, 0, op)
        return result(_ops.clone(input), _C.full_int([], 0, _int64, input.device))
    d = _norm_dim(dim, input.ndim, op)
    if input.numel() == 0:
        return result(_ops.clone(input), _C.zeros(list(input.shape), _int64, input.device))
    v, i = _cum_extreme_raw(input, d, is_max)
    if _needs_grad(input):
        v = gather(input, d, i)
    return result(v, i)


def cummax(input, dim):
    """(values, indices) of the running maximum along dim."""
    return _cum_extreme(input, dim, True, "cummax", CummaxResult)


def cummin(input, dim):
    """(values, indices) of the running minimum along dim."""
    return _cum_extreme(input, dim, False, "cummin", CumminResult)


def _logaddexp_raw(a, b):
    m = _C.maximum(a, b)
    r = _C.add(m, _C.log1p(_C.exp(_C.neg(_C.abs(_C.sub(a, b))))))
    # both -inf (or both +inf): the maximum itself (avoids inf - inf)
    return _C.where(_C.logical_and(_C.isinf(m), _C.eq(a, b)), m, r)


def _logcumsumexp_raw(x, d):
    n = x.shape[d]
    v = _C.contiguous(x)
    s = 1
    while s < n:
        nv = _C.clone(v)
        _C.copy_(_C.slice(nv, d, s, n, 1), _logaddexp_raw(_C.slice(v, d, s, n, 1), _C.slice(v, d, 0, n - s, 1)))
        v = nv
        s *= 2
    return v


class _LogCumSumExp(Function):
    """out_j = log sum_{k<=j} exp(x_k). Backward (stable for any magnitude, as torch's): grad_j =
    sum_{k>=j} g_k exp(x_j - out_k), summed in log space separately over the positive and negative g."""

    @staticmethod
    def forward(ctx, x, d):
        out = _logcumsumexp_raw(x, d)
        ctx.save_for_backward(x, out)
        ctx.d = d
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        d = ctx.d
        ninf = _C.full([], float("-inf"), x.dtype, x.device)

        def rev_lcse(t):
            return _rev(_logcumsumexp_raw(_rev(t, d), d), d)

        gp = _C.where(_C.gt(g, 0), _C.sub(_C.log(_C.abs(g)), out), ninf)
        gn = _C.where(_C.lt(g, 0), _C.sub(_C.log(_C.abs(g)), out), ninf)
        return _C.sub(_C.exp(_C.add(x, rev_lcse(gp))), _C.exp(_C.add(x, rev_lcse(gn)))), None

    @staticmethod
    def _double_backward_fn(ctx, g):
        """create_graph: the scan recomputed with recorded logaddexp (Hillis-Steele: log2(n) steps, each
        combining position i with i - k where i >= k) and differentiated."""
        from .autograd import _recompute_vjp
        from ._math_extra import logaddexp
        (x,) = ctx.saved_tensors[:1]
        d = ctx.d

        def composite(t):
            n, k = t.shape[d], 1
            while k < n:
                nxt = logaddexp(_ops.narrow(t, d, k, n - k), _ops.narrow(t, d, 0, n - k))
                t = cat([_ops.narrow(t, d, 0, k), nxt], d)
                k *= 2
            return t
        return _recompute_vjp(composite, (x,), (g,))[0], None


def _rev(t, d):
    n = t.shape[d]
    return _C.index_select(t, d, _C.arange_int(n - 1, -1, -1, _int64, t.device)) if n else t


def logcumsumexp(input, dim):
    """log(cumsum(exp(input), dim)) computed stably (a log-step scan of logaddexp)."""
    _check_tensor(input, "logcumsumexp")
    if not input.dtype.is_floating_point:
        raise TypeError(f"logcumsumexp(): expected a floating point input, got {input.dtype.name}")
    if input.ndim == 0:
        _norm_dim(dim, 0, "logcumsumexp")
        return _ops.clone(input)
    d = _norm_dim(dim, input.ndim, "logcumsumexp")
    if input.numel() == 0:
        return _ops.clone(input)
    if _needs_grad(input):
        return _LogCumSumExp.apply(input, d)
    return _logcumsumexp_raw(input, d)


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along dim (bool: logical xor), after concatenating prepend/append."""
    _check_tensor(input, "diff")
    if input.ndim == 0:
        raise RuntimeError("diff(): diff expects input to be at least one-dimensional")
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"diff(): order n must be non-negative but got {n}")
    d = _norm_dim(dim, input.ndim, "diff")
    if n == 0:  # torch: the input itself (prepend/append are not applied)
        return _ops.clone(input)
    parts = []
    for name, extra in (("prepend", prepend), ("append", append)):
        if extra is None:
            parts.append(None)
            continue
        if not _isT(extra, Tensor):
            shape = list(input.shape)
            shape[d] = 1
            extra = _C.expand(_scalar_like(extra, input), shape)
        elif extra.ndim != input.ndim:
            raise RuntimeError(f"diff(): expected {name} to be the same dimension as input ({input.ndim}), but got "
                               f"shape {list(extra.shape)}")
        parts.append(extra)
    x = input
    if parts[0] is not None or parts[1] is not None:
        x = cat([t for t in (parts[0], input, parts[1]) if t is not None], d)
    for _ in range(n):
        m = x.shape[d]
        if m == 0:
            break
        a = _ops.narrow(x, d, 1, m - 1)
        b = _ops.narrow(x, d, 0, m - 1)
        x = _C.logical_xor(a, b) if x.dtype == _bool else _ops.sub(a, b)
    return x


# ------------------------------------------------------------------------------------------------- view scatters

class _ViewScatter(Function):
    """input with view(input) replaced by src (select/slice/diagonal_scatter); the gradient of input is g with the
    view's region zeroed, src's is g at the view."""

    @staticmethod
    def forward(ctx, x, src, view, args):
        ctx.view, ctx.args = view, args
        ctx.src_dtype = src.dtype
        out = _C.clone(x)
        _C.copy_(view(out, *args), src)
        return out

    @staticmethod
    def backward(ctx, g):
        gx = gs = None
        if ctx.needs_input_grad[1]:
            gs = _C.clone(ctx.view(g, *ctx.args))
            if gs.dtype != ctx.src_dtype:
                gs = _C.to(gs, ctx.src_dtype, None, False)
        if ctx.needs_input_grad[0]:
            gx = _C.clone(g)
            _C.fill_(ctx.view(gx, *ctx.args), 0)
        return gx, gs, None, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        """create_graph: src's part is the view of g (a recorded view op); input's (g with the region zeroed) a
        recorded self-adjoint linear map."""
        from .autograd import _linear_pair
        view, args = ctx.view, ctx.args
        gx = gs = None
        if ctx.needs_input_grad[1]:
            gs = _ops._to(_ops.clone(_ops._slice_op(g, view, *args)), ctx.src_dtype, None)
        if ctx.needs_input_grad[0]:
            def zero_raw(t):
                t = _C.clone(t)
                _C.fill_(view(t, *args), 0)
                return t
            gx = _linear_pair(zero_raw, zero_raw)[0](g)
        return gx, gs, None, None


def _view_scatter(input, src, view, args, op):
    _check_tensor(input, op)
    _check_tensor(src, op, "src")
    region = view(input, *args)
    if tuple(src.shape) != tuple(region.shape):
        raise RuntimeError(f"{op}(): expected src to have a size equal to the slice of self. src size = "
                           f"{list(src.shape)}, slice size = {list(region.shape)} (input {list(input.shape)})")
    if src.device != input.device:
        raise RuntimeError(f"{op}(): expected src on {input.device}, got {src.device}")
    if _needs_grad(input, src):
        return _ViewScatter.apply(input, src, view, args)
    out = _C.clone(input)
    _C.copy_(view(out, *args), src)
    return out


def _select_view(x, d, i):
    return _C.select(x, d, i)


def select_scatter(input, src, dim, index):
    """input with input.select(dim, index) replaced by src."""
    _check_tensor(input, "select_scatter")
    d = _norm_dim(dim, input.ndim, "select_scatter")
    n = input.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select_scatter(): index {index} out of range for tensor of size {list(input.shape)} at "
                         f"dimension {d}")
    return _view_scatter(input, src, _select_view, (d, index % n), "select_scatter")


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """input with input[start:end:step] along dim replaced by src."""
    _check_tensor(input, "slice_scatter")
    d = _norm_dim(dim, input.ndim, "slice_scatter")
    if step <= 0:
        raise ValueError(f"slice_scatter(): slice step must be positive, got {step}")
    a, b, _ = slice(start, end, step).indices(input.shape[d])
    return _view_scatter(input, src, _C.slice, (d, a, builtins.max(a, b), step), "slice_scatter")


def _diag_view(x, offset, d1, d2):
    return _C.diagonal(x, offset, d1, d2)


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    """input with input.diagonal(offset, dim1, dim2) replaced by src."""
    _check_tensor(input, "diagonal_scatter")
    d1 = _norm_dim(dim1, input.ndim, "diagonal_scatter")
    d2 = _norm_dim(dim2, input.ndim, "diagonal_scatter")
    if d1 == d2:
        raise RuntimeError(f"diagonal_scatter(): diagonal dimensions cannot be identical {dim1}, {dim2}")
    return _view_scatter(input, src, _diag_view, (offset, d1, d2), "diagonal_scatter")


def narrow_copy(input, dim, start, length):
    return _ops.clone(_ops.narrow(input, dim, start, length))


# ------------------------------------------------------------------------------------------------- diagonals

def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """A tensor whose diagonals (offset, over the new dims dim1, dim2) hold input's last dim."""
    _check_tensor(input, "diag_embed")
    nd = input.ndim + 1
    d1 = _norm_dim(dim1, nd, "diag_embed")
    d2 = _norm_dim(dim2, nd, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diag_embed(): diagonal dimensions cannot be identical {dim1}, {dim2}")
    if input.ndim == 0:
        raise RuntimeError("diag_embed(): input must have at least 1 dimension")
    m = input.shape[-1] + builtins.abs(offset)
    it = iter(input.shape[:-1])
    shape = [m if k in (d1, d2) else next(it) for k in range(nd)]
    z = _C.zeros(shape, input.dtype, input.device)
    return diagonal_scatter(z, input, offset, d1, d2)


def diag(input, diagonal=0):
    """1-D input: a square matrix with input on the given diagonal; 2-D input: that diagonal (a copy)."""
    _check_tensor(input, "diag")
    if input.ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if input.ndim == 2:
        return _ops.clone(_ops.diagonal(input, diagonal, 0, 1))
    raise RuntimeError(f"diag(): expected a 1-D or 2-D tensor, got shape {list(input.shape)}")


def diagflat(input, offset=0):
    _check_tensor(input, "diagflat")
    return diag_embed(_ops.reshape(input, [-1]), offset, 0, 1)


def trace(input):
    _check_tensor(input, "trace")
    if input.ndim != 2:
        raise RuntimeError(f"trace(): expected a matrix, but got tensor with dim {input.ndim} "
                           f"(shape {list(input.shape)})")
    dg = _ops.diagonal(input, 0, 0, 1)
    if not input.dtype.is_floating_point:
        return _C.sum(_C.to(dg, _int64, None, False), None, False)
    return _ops.sum(dg)


def _tri_indices(row, col, offset, dtype, device, lower, op):
    if row < 0 or col < 0:
        raise RuntimeError(f"{op}(): row and col must be non-negative, got row={row}, col={col}")
    r = np.arange(row)[:, None]
    c = np.arange(col)[None, :]
    mask = (c - r <= offset) if lower else (c - r >= offset)
    rr, cc = np.nonzero(mask)
    out = _long(np.stack([rr, cc]) if rr.size else np.zeros((2, 0), np.int64), device or "cpu")
    if dtype is not None and dtype != _int64:
        out = _C.to(out, dtype, None, False)
    return out


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The (2, N) coordinates of the lower triangle (col - row <= offset) of a row x col matrix, row-major."""
    return _tri_indices(row, col, offset, dtype, device, True, "tril_indices")


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The (2, N) coordinates of the upper triangle (col - row >= offset) of a row x col matrix, row-major."""
    return _tri_indices(row, col, offset, dtype, device, False, "triu_indices")


def fill_diagonal_(self, fill_value, wrap=False):
    """Fills the main diagonal (all dims equal for ndim > 2) in place; wrap: a tall matrix's diagonal restarts
    every ncols + 1 rows."""
    _check_tensor(self, "fill_diagonal_")
    if self.ndim < 2:
        raise RuntimeError(f"fill_diagonal_(): dimensions must larger than 1, got shape {list(self.shape)}")
    if self.ndim > 2 and len(set(self.shape)) != 1:
        raise RuntimeError(f"fill_diagonal_(): all dimensions of input must be of equal length, got "
                           f"{list(self.shape)}")
    dev = self.device
    if self.ndim > 2:
        n = self.shape[0]
        idx = (_arange(n, dev),) * self.ndim
    else:
        r, c = self.shape
        if wrap and r > c:
            pos = np.arange(0, r * c, c + 1)
        else:
            pos = np.arange(builtins.min(r, c)) * (c + 1)
        idx = (_long(pos // c if c else pos, dev), _long(pos % c if c else pos, dev))
    val = fill_value if _isT(fill_value, Tensor) else _scalar_like(fill_value, self)
    from ._indexing import index_put_ as _ip
    return _ip(self, idx, val)


# ------------------------------------------------------------------------------------------------- rearranging

def rot90(input, k=1, dims=(0, 1)):
    """input rotated by 90 degrees k times in the plane of dims (from the first towards the second axis)."""
    _check_tensor(input, "rot90")
    dims = list(dims)
    if len(dims) != 2:
        raise RuntimeError(f"rot90(): expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"rot90(): expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = _norm_dim(dims[0], input.ndim, "rot90"), _norm_dim(dims[1], input.ndim, "rot90")
    if d0 == d1:
        raise RuntimeError(f"rot90(): expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    k %= 4
    if k == 1:
        return _ops.transpose(flip(input, [d1]), d0, d1)
    if k == 2:
        return flip(input, [d0, d1])
    if k == 3:
        return _ops.transpose(flip(input, [d0]), d0, d1)
    return _ops.clone(input)


def moveaxis(input, source, destination):
    return _ops.movedim(input, source, destination)


def ravel(input):
    return _ops.reshape(_ops.contiguous(input), [-1])


def _atleast(tensors, nd, op):
    if len(tensors) == 1 and not _isT(tensors[0], Tensor):
        tensors = tuple(tensors[0])
        single = False
    else:
        single = len(tensors) == 1
    out = []
    for t in tensors:
        _check_tensor(t, op, "tensors")
        if t.ndim >= nd:
            out.append(t)
        elif nd == 1:
            out.append(_ops.reshape(t, [1]))
        elif nd == 2:
            out.append(_ops.reshape(t, [1, -1]) if t.ndim else _ops.reshape(t, [1, 1]))
        else:
            if t.ndim == 0:
                out.append(_ops.reshape(t, [1, 1, 1]))
            elif t.ndim == 1:
                out.append(_ops.reshape(t, [1, -1, 1]))
            else:
                out.append(_ops.unsqueeze(t, -1))
    return out[0] if single else tuple(out)


def atleast_1d(*tensors):
    return _atleast(tensors, 1, "atleast_1d")


def atleast_2d(*tensors):
    return _atleast(tensors, 2, "atleast_2d")


def atleast_3d(*tensors):
    return _atleast(tensors, 3, "atleast_3d")


def _tensor_list(tensors, op):
    if len(tensors) == 1 and not _isT(tensors[0], Tensor):
        tensors = tuple(tensors[0])
    for i, t in enumerate(tensors):
        if not _isT(t, Tensor):
            raise TypeError(f"{op}(): expected Tensor as element {i}, got {type(t).__name__}")
    return list(tensors)


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids (expanded views) of 0-d or 1-D tensors; indexing 'ij' (matrix) or 'xy' (Cartesian: the
    first two dims swapped)."""
    ts = _tensor_list(tensors, "meshgrid")
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid(): indexing must be 'ij' or 'xy', got {indexing!r}")
    for t in ts:
        if t.ndim > 1:
            raise RuntimeError(f"meshgrid(): expects all tensors to be 0- or 1-dimensional, got shape "
                               f"{list(t.shape)}")
    if not ts:
        return ()
    for t in ts[1:]:
        if t.dtype != ts[0].dtype or t.device != ts[0].device:
            raise RuntimeError(f"meshgrid(): expects all tensors to have the same dtype and device, got "
                               f"{ts[0].dtype.name} on {ts[0].device} and {t.dtype.name} on {t.device}")
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts = [ts[1], ts[0]] + ts[2:]
    sizes = [t.numel() for t in ts]
    out = []
    for i, t in enumerate(ts):
        shape = [1] * len(ts)
        shape[i] = sizes[i]
        out.append(_ops.expand(_ops.reshape(t, shape), sizes))
    if swap:
        out = [out[1], out[0]] + out[2:]
    return tuple(out)


def cartesian_prod(*tensors):
    ts = _tensor_list(tensors, "cartesian_prod")
    for t in ts:
        if t.ndim != 1:
            raise RuntimeError(f"cartesian_prod(): expect a 1D vector, but got shape {list(t.shape)}")
    if len(ts) == 1:
        return ts[0]
    grids = meshgrid(*ts, indexing="ij")
    return stack([_ops.reshape(_ops.contiguous(g), [-1]) for g in grids], 1)


def combinations(input, r=2, with_replacement=False):
    """The length-r combinations of the elements of a 1-D tensor (itertools order), as rows."""
    _check_tensor(input, "combinations")
    if input.ndim != 1:
        raise RuntimeError(f"combinations(): expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"combinations(): expect a non-negative number, but got {r}")
    if r == 0:
        return _C.empty([0], input.dtype, input.device)
    n = input.shape[0]
    gen = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    combos = np.array(list(gen(range(n), r)), dtype=np.int64).reshape(-1, r)
    idx = _long(combos.reshape(-1), input.device)  # (no combination: an empty selection, still in the graph)
    return _ops.reshape(index_select(input, 0, idx), [combos.shape[0], r])


def block_diag(*tensors):
    """A block-diagonal matrix of 0-, 1- or 2-D tensors (0-d as 1x1, 1-D as one row)."""
    ts = _tensor_list(tensors, "block_diag")
    if not ts:
        return _C.empty([1, 0], _C.dtype.float32, "cpu")
    mats = []
    for i, t in enumerate(ts):
        if t.ndim > 2:
            raise RuntimeError(f"block_diag(): Input tensors must have 2 or fewer dimensions. Input {i} has "
                               f"{t.ndim} dimensions (shape {list(t.shape)})")
        mats.append(_ops.reshape(t, [1, 1]) if t.ndim == 0 else _ops.reshape(t, [1, -1]) if t.ndim == 1 else t)
    mats = _promote(*mats)
    dev, dt = mats[0].device, mats[0].dtype
    total = builtins.sum(m.shape[1] for m in mats)
    rows = []
    left = 0
    for m in mats:
        r, c = m.shape
        pieces = []
        if left:
            pieces.append(_C.zeros([r, left], dt, dev))
        pieces.append(m)
        if total - left - c:
            pieces.append(_C.zeros([r, total - left - c], dt, dev))
        rows.append(cat(pieces, 1) if len(pieces) > 1 else m)
        left += c
    return cat(rows, 0) if len(rows) > 1 else _ops.clone(rows[0])


def kron(input, other):
    """The Kronecker product: out[i * other.shape + j] = input[i] * other[j] (shapes padded to the same rank)."""
    _check_tensor(input, "kron")
    _check_tensor(other, "kron", "other")
    nd = builtins.max(input.ndim, other.ndim)
    a_shape = [1] * (nd - input.ndim) + list(input.shape)
    b_shape = [1] * (nd - other.ndim) + list(other.shape)
    a = _ops.reshape(input, [s for k in a_shape for s in (k, 1)])
    b = _ops.reshape(other, [s for k in b_shape for s in (1, k)])
    return _ops.reshape(_ops.mul(a, b), [x * y for x, y in zip(a_shape, b_shape)])


def cross(input, other, dim=None):
    """The 3-vector cross product along dim (default: the first dim of size 3), broadcasting the rest."""
    _check_tensor(input, "cross")
    _check_tensor(other, "cross", "other")
    if input.ndim != other.ndim:
        raise RuntimeError(f"cross(): inputs dimensions {input.ndim} and {other.ndim} must match (shapes "
                           f"{list(input.shape)} and {list(other.shape)})")
    shape = list(_ops.broadcast_shapes(input.shape, other.shape))
    if dim is None:
        dims = [k for k, s in enumerate(shape) if s == 3]
        if not dims:
            raise RuntimeError(f"cross(): no dimension of size 3 in input (shapes {list(input.shape)} and "
                               f"{list(other.shape)})")
        d = dims[0]
    else:
        d = _norm_dim(dim, len(shape), "cross")
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"cross(): inputs dimension {d} must have length 3, got shapes {list(input.shape)} and "
                           f"{list(other.shape)}")
    a = [_ops.select(input, d, k) for k in range(3)]
    b = [_ops.select(other, d, k) for k in range(3)]
    c = [_ops.sub(_ops.mul(a[1], b[2]), _ops.mul(a[2], b[1])),
         _ops.sub(_ops.mul(a[2], b[0]), _ops.mul(a[0], b[2])),
         _ops.sub(_ops.mul(a[0], b[1]), _ops.mul(a[1], b[0]))]
    return stack(c, d)


def column_stack(tensors):
    ts = _tensor_list((tensors,), "column_stack")
    if not ts:
        raise RuntimeError("column_stack(): expects a non-empty TensorList")
    return cat([_ops.reshape(t, [-1, 1]) if t.ndim <= 1 else t for t in ts], 1)


def row_stack(tensors):
    ts = _tensor_list((tensors,), "row_stack")
    if not ts:
        raise RuntimeError("row_stack(): expects a non-empty TensorList")
    return cat([_ops.reshape(t, [1, -1]) if t.ndim <= 1 else t for t in ts], 0)


def dstack(tensors):
    ts = _tensor_list((tensors,), "dstack")
    if not ts:
        raise RuntimeError("dstack(): expects a non-empty TensorList")
    return cat(list(atleast_3d(*ts)) if len(ts) > 1 else [atleast_3d(ts[0])], 2)


def _dir_split(input, indices_or_sections, d, op, min_nd):
    _check_tensor(input, op)
    if input.ndim < min_nd:
        raise RuntimeError(f"torch.{op} requires a tensor with at least {min_nd} dimension, but got a tensor with "
                           f"{input.ndim} dimensions! (shape {list(input.shape)})")
    if isinstance(indices_or_sections, int):
        n = input.shape[d]
        if indices_or_sections == 0 or n % indices_or_sections:
            raise RuntimeError(f"torch.{op} attempted to split along dimension {d}, but the size of the dimension "
                               f"{n} is not divisible by the split_size {indices_or_sections}!")
    return tensor_split(input, indices_or_sections, d)


def hsplit(input, indices_or_sections):
    return _dir_split(input, indices_or_sections, 0 if _isT(input, Tensor) and input.ndim == 1 else 1, "hsplit", 1)


def vsplit(input, indices_or_sections):
    return _dir_split(input, indices_or_sections, 0, "vsplit", 2)


def dsplit(input, indices_or_sections):
    return _dir_split(input, indices_or_sections, 2, "dsplit", 3)


def split_with_sizes(input, split_sizes, dim=0):
    return split(input, list(split_sizes), dim)


def _unfold(self, dimension, size, step):
    """Tensor.unfold: every slice of `size` elements along `dimension`, `step` apart, as a new last dim (a strided
    view sharing self's storage)."""
    nd = self.ndim
    d = _norm_dim(dimension, nd, "unfold")
    n = self.shape[d] if nd else 1
    if step <= 0:
        raise RuntimeError(f"unfold(): step is {step} but must be > 0")
    if size < 0 or size > n:
        raise RuntimeError(f"unfold(): maximum size for tensor at dimension {d} is {n} but size is {size} "
                           f"(shape {list(self.shape)})")
    st = self.stride()[d] if nd else 1
    shape = list(self.shape)
    strides = list(self.stride())
    if nd:
        shape[d] = (n - size) // step + 1
        strides[d] = st * step
    return _ops.as_strided(self, shape + [size], strides + [st], self.storage_offset())


# ------------------------------------------------------------------------------------------------- masks / put

def masked_scatter(input, mask, source):
    """input with its mask-selected elements (mask broadcast to input, row-major order) replaced by the first
    elements of source."""
    _check_tensor(input, "masked_scatter")
    if not _isT(mask, Tensor) or mask.dtype != _bool:
        raise TypeError("masked_scatter(): expected a bool mask tensor, got "
                        + (mask.dtype.name if _isT(mask, Tensor) else type(mask).__name__))
    _check_tensor(source, "masked_scatter", "source")
    if source.dtype != input.dtype:
        raise TypeError(f"masked_scatter(): expected source of dtype {input.dtype.name} (like self), got "
                        f"{source.dtype.name}")
    shape = list(_ops.broadcast_shapes(input.shape, mask.shape))
    if not shape:  # 0-d input and mask: the same on one-element views (a 0-d bool index is not supported)
        return _ops.reshape(masked_scatter(_ops.reshape(input, [1]), _C.reshape(mask, [1]), source), [])
    x = _ops.contiguous(_ops.expand(input, shape)) if list(input.shape) != shape else input
    m = _C.expand(mask, shape) if list(mask.shape) != shape else mask
    k = _host_int(_C.sum(_C.to(m, _int64, None, False), None, False))
    if k > source.numel():
        raise RuntimeError(f"masked_scatter(): number of elements in source ({source.numel()}, shape "
                           f"{list(source.shape)}) < number of ones in mask ({k})")
    out = _ops.clone(x)
    out[m] = _ops.narrow(_ops.reshape(source, [-1]), 0, 0, k)
    return out


def put(input, index, source, accumulate=False):
    """input (as 1-D) with input[index] = source (+= with accumulate), negative indices from the end."""
    _check_tensor(input, "put")
    index = _check_index(index, "put")
    _check_tensor(source, "put", "source")
    if index.numel() != source.numel():
        raise IndexError(f"put(): expected source and index to have the same number of elements, but got "
                         f"source.numel() = {source.numel()}, index.numel() = {index.numel()}")
    if source.dtype != input.dtype:
        raise RuntimeError(f"put(): self and source expected to have the same dtype, but got self.dtype = "
                           f"{input.dtype} and source.dtype = {source.dtype}")
    n = input.numel()
    from ._indexing import _check_index_bounds, index_put
    _check_index_bounds(index, n, 0, "put", True)
    flat_i = _C.reshape(index, [-1])
    if flat_i.numel():
        flat_i = _C.where(_C.lt(flat_i, 0), _C.add(flat_i, n), flat_i)
    out = index_put(_ops.reshape(input, [-1]), (flat_i,), _ops.reshape(source, [-1]), accumulate)
    return _ops.reshape(out, list(input.shape))


# ------------------------------------------------------------------------------------------------- searching

def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    """For each value the insertion index into the last dim of sorted_sequence (1-D, or batched with the same
    leading dims as input): the first position with seq >= v (left) or seq > v (right). A vectorized binary
    search: ceil(log2(M + 1)) gather + compare steps."""
    _check_tensor(sorted_sequence, "searchsorted", "sorted_sequence")
    if side is not None:
        if side not in ("left", "right"):
            raise ValueError(f"searchsorted(): side can only be 'left' or 'right' but got '{side}'")
        if right and side == "left":
            raise ValueError("searchsorted(): side and right can't be set to opposites, got side of left while "
                             "right was True")
        right = side == "right"
    seq = sorted_sequence
    scalar = not _isT(input, Tensor)
    dev = seq.device
    if scalar:
        if not isinstance(input, numbers.Number):
            raise TypeError(f"searchsorted(): input must be a Tensor or a number, got {type(input).__name__}")
        if isinstance(input, float) and not seq.dtype.is_floating_point:
            vals = _C.full([], float(input), _C.dtype.float64, dev)
        else:
            vals = _scalar_like(input, seq)
    else:
        vals = input
        if vals.device != dev:
            raise RuntimeError(f"searchsorted(): expected sorted_sequence and input on the same device, got "
                               f"{dev} and {vals.device}")
    if seq.ndim == 0:
        raise RuntimeError("searchsorted(): boundaries tensor should be 1 dimension or the first N-1 dimensions of "
                           "boundaries tensor and input value tensor must match, but we got boundaries tensor "
                           f"{list(seq.shape)} and input value tensor {list(vals.shape)}")
    if seq.ndim > 1 and (scalar or vals.ndim != seq.ndim or tuple(vals.shape[:-1]) != tuple(seq.shape[:-1])):
        raise RuntimeError("searchsorted(): boundaries tensor should be 1 dimension or the first N-1 dimensions of "
                           "boundaries tensor and input value tensor must match, but we got boundaries tensor "
                           f"{list(seq.shape)} and input value tensor {list(vals.shape)}")
    if sorter is not None:
        sorter = _check_index(sorter, "searchsorted")
        if tuple(sorter.shape) != tuple(seq.shape):
            raise RuntimeError(f"searchsorted(): boundary and sorter must have the same size, but got boundary "
                               f"tensor {list(seq.shape)} and got sorter tensor {list(sorter.shape)}")
        seq = _C.gather(seq, -1, sorter)
    m = seq.shape[-1]
    out_shape = list(vals.shape)
    if seq.ndim == 1:
        v = _C.reshape(_C.contiguous(vals), [1, vals.numel()])
        s = _C.reshape(_C.contiguous(seq), [1, m])
    else:
        v = _C.reshape(_C.contiguous(vals), [math.prod(vals.shape[:-1]), vals.shape[-1]])
        s = _C.reshape(_C.contiguous(seq), [math.prod(seq.shape[:-1]), m])
    if dev.type == "cpu" and s.dtype == v.dtype and s.dtype not in (_C.dtype.float16, _C.dtype.bfloat16,
                                                                       _C.dtype.bool):
        out = _C.reshape(_C._searchsorted_cpu(s, v, bool(right)), out_shape)  # one binary search per value
        return _C.to(out, _C.dtype.int32, None, False) if out_int32 else out
    lo = _C.zeros(list(v.shape), _int64, dev)
    hi = _C.full_int(list(v.shape), m, _int64, dev)
    if m and v.numel():
        sc = _C.contiguous(_C.expand(s, [v.shape[0], m])) if s.shape[0] != v.shape[0] else s
        for _ in range(builtins.max(1, (m).bit_length())):
            active = _C.lt(lo, hi)
            mid = _C.floor_divide(_C.add(lo, hi), 2)
            mv = _C.gather(sc, 1, _C.minimum(mid, _C.full_int([], m - 1, _int64, dev)))
            # torch's comparisons: go right unless seq[mid] >= v (left) / seq[mid] > v (right), so NaN goes last
            go_right = _C.logical_not(_C.gt(mv, v) if right else _C.ge(mv, v))
            lo = _C.where(_C.logical_and(active, go_right), _C.add(mid, 1), lo)
            hi = _C.where(_C.logical_and(active, _C.logical_not(go_right)), mid, hi)
    out = _C.reshape(lo, out_shape)
    if out_int32:
        out = _C.to(out, _C.dtype.int32, None, False)
    return out


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket index of each value: boundaries[i-1] < v <= boundaries[i] (right=False) or
    boundaries[i-1] <= v < boundaries[i] (right=True)."""
    _check_tensor(boundaries, "bucketize", "boundaries")
    if boundaries.ndim != 1:
        raise RuntimeError(f"bucketize(): boundaries tensor must be 1 dimension, but got dim({boundaries.ndim}) "
                           f"(shape {list(boundaries.shape)})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """A bool tensor of elements' shape: True where the element occurs in test_elements (sorted + searched)."""
    if not _isT(elements, Tensor) and not _isT(test_elements, Tensor):
        raise TypeError("isin(): at least one of elements and test_elements must be a Tensor")
    ref = elements if _isT(elements, Tensor) else test_elements
    e = elements if _isT(elements, Tensor) else _scalar_like(elements, ref)
    t = test_elements if _isT(test_elements, Tensor) else _C.reshape(_scalar_like(test_elements, ref), [1])
    if e.device != t.device:
        raise RuntimeError(f"isin(): expected elements and test_elements on the same device, got {e.device} and "
                           f"{t.device}")
    dt = _C.promote_types(e.dtype, t.dtype)
    e = e if e.dtype == dt else _C.to(e, dt, None, False)
    t = t if t.dtype == dt else _C.to(t, dt, None, False)
    tf = _C.reshape(_C.contiguous(t), [-1])
    if tf.numel() == 0:
        hit = _C.zeros(list(e.shape), _bool, e.device)
    else:
        st, _ = _C.sort(tf, 0, False)
        pos = searchsorted(st, e)
        n = st.shape[0]
        found = _C.gather(st, 0, _C.reshape(_C.minimum(pos, _C.full_int([], n - 1, _int64, e.device)), [-1]))
        hit = _C.reshape(_C.eq(found, _C.reshape(_C.contiguous(e), [-1])), list(e.shape))
    return _C.logical_not(hit) if invert else hit


# ------------------------------------------------------------------------------------------------- unique, counting

def _unique_flat(x, do_sort, return_inverse, return_counts, op):
    """x 1-D: (values, inverse, counts) of its runs of equal values (after sorting when do_sort)."""
    dev = x.device
    n = x.shape[0]
    if do_sort:
        s, order = _C.sort(x, 0, False)
    else:
        s, order = x, None
    if n == 0:
        empty = _C.empty([0], _int64, dev)
        return _C.clone(s), empty, empty
    change = _C.ne(_C.slice(s, 0, 1, n, 1), _C.slice(s, 0, 0, n - 1, 1))
    start = _cat_raw2(_C.full_int([1], 1, _bool, dev), change, 0)
    starts = _ops.nonzero(start, as_tuple=True)[0]       # the host reads the number of groups here
    vals = _C.index_select(s, 0, starts)
    return (vals,) + _group_inverse_counts(start, starts, order, n, return_inverse, return_counts, dev)


def _group_inverse_counts(start, starts, order, n, return_inverse, return_counts, dev):
    """(inverse, counts) of sorted values grouped where `start` is True (starts: its positions); order maps the
    sorted positions back to the input's (None: already in input order)."""
    inv = counts = None
    if return_inverse:
        gid = _C.sub(_C.cumsum(_C.to(start, _int64, None, False), 0, False), 1)
        if order is not None:
            inv = _C.zeros([n], _int64, dev)
            _C.scatter_(inv, 0, order, gid)
        else:
            inv = gid
    if return_counts:
        ends = _cat_raw2(_C.slice(starts, 0, 1, starts.shape[0], 1), _C.full_int([1], n, _int64, dev), 0)
        counts = _C.sub(ends, starts)
    return inv, counts


def _unique_rows(x, d, do_sort, return_inverse, return_counts, op):
    """unique/unique_consecutive along dim d: slices compared whole; sorted lexicographically when do_sort."""
    dev = x.device
    xm = _C.contiguous(_ops.movedim(x, d, 0)) if d else _C.contiguous(x)
    n = xm.shape[0]
    k = math.prod(xm.shape[1:])
    rows = _C.reshape(xm, [n, k])
    order = None
    if do_sort and n:
        order = _arange(n, dev)
        # lexicographic order of the rows: stable sorts by each column, last column first
        for c in range(k - 1, -1, -1):
            col = _C.index_select(_C.select(rows, 1, c), 0, order)
            _, o = _C.sort(col, 0, False)
            order = _C.index_select(order, 0, o)
        rows = _C.index_select(rows, 0, order)
    if n == 0:
        empty = _C.empty([0], _int64, dev)
        return _C.clone(x), empty, empty
    if k:
        change = _C.any(_C.ne(_C.slice(rows, 0, 1, n, 1), _C.slice(rows, 0, 0, n - 1, 1)), [1], False)
    else:
        change = _C.zeros([n - 1], _bool, dev)
    start = _cat_raw2(_C.full_int([1], 1, _bool, dev), change, 0)
    starts = _ops.nonzero(start, as_tuple=True)[0]
    vals_rows = _C.index_select(rows, 0, starts)
    vals = _C.reshape(vals_rows, [starts.shape[0]] + list(xm.shape[1:]))
    if d:
        vals = _C.contiguous(_ops.movedim(vals, 0, d))
    return (vals,) + _group_inverse_counts(start, starts, order, n, return_inverse, return_counts, dev)


def _unique_impl(input, do_sort, return_inverse, return_counts, dim, op):
    _check_tensor(input, op)
    if dim is None:
        vals, inv, counts = _unique_flat(_C.reshape(_C.contiguous(input), [-1]), do_sort, return_inverse,
                                         return_counts, op)
        if inv is not None:
            inv = _C.reshape(inv, list(input.shape))
    else:
        d = _norm_dim(dim, input.ndim, op)
        if input.numel() == 0 and (input.shape[d] != 0 or builtins.sum(1 for v in input.shape if v == 0) > 1):
            # torch: an empty input only when dim is its one zero-sized dimension
            raise RuntimeError(f"{op}(): input of shape {list(input.shape)} has zero-sized dimensions other than dim "
                               f"{dim}, so unique cannot be applied")
        vals, inv, counts = _unique_rows(input, d, do_sort, return_inverse, return_counts, op)
    out = [vals]
    if return_inverse:
        out.append(inv)
    if return_counts:
        out.append(counts)
    return out[0] if len(out) == 1 else tuple(out)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values (ascending; sorted=False is accepted and also returns them sorted), with the inverse
    indices and counts when asked; along dim: the distinct slices."""
    return _unique_impl(input, True, return_inverse, return_counts, dim, "unique")


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapses runs of equal consecutive values (slices along dim)."""
    return _unique_impl(input, False, return_inverse, return_counts, dim, "unique_consecutive")


def bincount(input, weights=None, minlength=0):
    """Counts (or weight sums) of each non-negative integer value of a 1-D tensor."""
    _check_tensor(input, "bincount")
    if input.ndim != 1 or input.dtype.is_floating_point or input.dtype == _bool:
        raise RuntimeError(f"bincount(): only supports 1-d non-negative integral inputs, got shape "
                           f"{list(input.shape)} {input.dtype.name}")
    if minlength < 0:
        raise RuntimeError(f"bincount(): minlength should be >= 0, got {minlength}")
    dev = input.device
    idx = _C.to(input, _int64, None, False)
    n = input.shape[0]
    if n:
        lo = _host_int(_C.amin(idx, None, False))
        if lo < 0:
            raise RuntimeError(f"bincount(): input must be non-negative, got a minimum of {lo}")
        size = builtins.max(_host_int(_C.amax(idx, None, False)) + 1, minlength)
    else:
        size = minlength
    if weights is not None:
        _check_tensor(weights, "bincount", "weights")
        if tuple(weights.shape) != tuple(input.shape):
            raise RuntimeError(f"bincount(): weights should be 1-d and have the same length as input, got input "
                               f"{list(input.shape)} and weights {list(weights.shape)}")
        # torch: float32 weights sum in float32, every other dtype in (and returns) float64
        w = weights if weights.dtype in (_C.dtype.float32, _C.dtype.float64) else _ops._to(weights, _C.dtype.float64,
                                                                                          None)
        if w.device != dev:
            raise RuntimeError(f"bincount(): expected weights on {dev}, got {w.device}")
        from ._indexing import scatter_add
        return scatter_add(_C.zeros([size], w.dtype, dev), 0, idx, w)
    if dev.type == "cpu":
        return _C._bincount_cpu(_C.contiguous(idx), size)
    out = _C.zeros([size], _int64, dev)
    if n:
        _C.scatter_add_(out, 0, idx, _C.full_int([n], 1, _int64, dev))
    return out


def histc(input, bins=100, min=0, max=0):
    """A histogram of `bins` equal bins over [min, max] (the data's range when min == max); elements outside are
    ignored; the last bin includes max."""
    _check_tensor(input, "histc")
    if not input.dtype.is_floating_point:
        raise TypeError(f"histc(): expected a floating point input, got {input.dtype.name}")
    if bins <= 0:
        raise RuntimeError(f"histc(): bins must be > 0, but got {bins}")
    lo, hi = float(min), float(max)
    if lo > hi:
        raise RuntimeError(f"histc(): max must be larger than min, got min {lo} and max {hi}")
    x = _C.reshape(_C.contiguous(input), [-1])
    dev = input.device
    if lo == hi and x.numel():
        lo = float(_C.item(_C.amin(x, None, False)))
        hi = float(_C.item(_C.amax(x, None, False)))
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RuntimeError(f"histc(): range of [{lo}, {hi}] is not finite")
    out = _C.zeros([bins], input.dtype, dev)
    if x.numel() == 0:
        return out
    inside = _C.logical_and(_C.ge(x, lo), _C.le(x, hi))
    pos = _C.floor(_C.div(_C.mul(_C.sub(x, lo), float(bins)), hi - lo))
    pos = _C.to(_C.where(inside, pos, _C.zeros([], x.dtype, dev)), _int64, None, False)
    pos = _C.minimum(pos, _C.full_int([], bins - 1, _int64, dev))
    _C.scatter_add_(out, 0, pos, _C.to(inside, input.dtype, None, False))
    return out


def argwhere(input):
    return _ops.nonzero(input)


# ------------------------------------------------------------------------------------------------- linear algebra

def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """The p-norm distances between the rows of x1 (..., P, M) and x2 (..., R, M): (..., P, R); batch dims
    broadcast. p = 2 uses |a|^2 + |b|^2 - 2 a.b (a GEMM) when P or R > 25 (or compute_mode asks), else the
    differences."""
    _check_tensor(x1, "cdist", "x1")
    _check_tensor(x2, "cdist", "x2")
    if x1.ndim < 2 or x2.ndim < 2:
        raise RuntimeError(f"cdist(): only supports at least 2D tensors, X1 got: {x1.ndim}D (shape "
                           f"{list(x1.shape)}), X2 got: {x2.ndim}D (shape {list(x2.shape)})")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"cdist(): X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: "
                           f"{x2.shape[-1]} (shapes {list(x1.shape)} and {list(x2.shape)})")
    if not x1.dtype.is_floating_point or not x2.dtype.is_floating_point:
        raise TypeError(f"cdist(): only supports floating-point dtypes, X1 got: {x1.dtype.name}, X2 got: "
                        f"{x2.dtype.name}")
    if p < 0:
        raise RuntimeError(f"cdist(): only supports non-negative p values, got {p}")
    if compute_mode not in ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                            "donot_use_mm_for_euclid_dist"):
        raise ValueError(f"cdist(): {compute_mode} is not a valid value for compute_mode")
    x1, x2 = _promote(x1, x2)
    P, R = x1.shape[-2], x2.shape[-2]
    use_mm = p == 2 and (compute_mode == "use_mm_for_euclid_dist" or
                         (compute_mode == "use_mm_for_euclid_dist_if_necessary" and (P > 25 or R > 25)))
    if use_mm and _needs_grad(x1, x2) and x1.shape[:-2] == x2.shape[:-2]:
        return _CdistMM.apply(x1, x2)
    if use_mm:
        if not _needs_grad(x1, x2):
            return _cdist_mm_raw(x1, x2)
        n1 = _ops.sum(_ops.mul(x1, x1), -1, keepdim=True)                     # (..., P, 1)
        n2 = _ops.unsqueeze(_ops.sum(_ops.mul(x2, x2), -1), -2)              # (..., 1, R)
        ip = _ops.matmul(x1, _ops.transpose(x2, -1, -2))                     # (..., P, R)
        sq = _ops.clamp(_ops.sub(_ops.add(n1, n2), _ops.mul(ip, 2.0)), min=0.0)
        return _ops._root(sq, 2)
    diffs = _ops.sub(_ops.unsqueeze(x1, -2), _ops.unsqueeze(x2, -3))         # (..., P, R, M)
    if x1.shape[-1] == 0:
        return _ops.sum(diffs, -1)
    if p == 0:
        return _ops.sum(_C.to(_C.ne(diffs, 0), x1.dtype, None, False), -1)
    return _ops.norm(diffs, p, -1)


def _cdist_mm_raw(x1, x2):
    """sqrt(max(|a|^2 + |b|^2 - 2 a.b, 0)) by one GEMM (no autograd)."""
    n1 = _C.sum(_C.mul(x1, x1), [-1], True)
    n2 = _C.unsqueeze(_C.sum(_C.mul(x2, x2), [-1], False), -2)
    sq = _C.sub(_C.add(n1, n2), _C.mul(_C.matmul(x1, _C.transpose(x2, -1, -2)), 2.0))
    return _C.sqrt(_C.clamp(sq, 0.0, None))


class _CdistMM(Function):
    """cdist for p = 2 through the GEMM form, one autograd node: with G = g / d (0 where d = 0, torch's
    subgradient), dx1 = x1 * rowsum(G) - G x2 and dx2 = x2 * colsum(G) - G^T x1 (two GEMMs); the double backward
    recomputes the composed form."""

    @staticmethod
    def forward(ctx, x1, x2):
        d = _cdist_mm_raw(x1, x2)
        ctx.save_for_backward(x1, x2, d)
        return d

    @staticmethod
    def backward(ctx, g):
        x1, x2, d = ctx.saved_tensors
        zero = _C.zeros([], d.dtype, d.device)
        gd = _C.where(_C.eq(d, 0), zero, _C.div(g, d))
        g1 = g2 = None
        if ctx.needs_input_grad[0]:
            g1 = _C.sub(_C.mul(x1, _C.sum(gd, [-1], True)), _C.matmul(gd, x2))
        if ctx.needs_input_grad[1]:
            g2 = _C.sub(_C.mul(x2, _C.unsqueeze(_C.sum(gd, [-2], False), -1)),
                        _C.matmul(_C.transpose(gd, -1, -2), x1))
        return g1, g2

    @staticmethod
    def _double_backward_fn(ctx, g):
        from .autograd import _recompute_vjp
        x1, x2, _ = ctx.saved_tensors

        def composed(a, b):
            n1 = _ops.sum(_ops.mul(a, a), -1, keepdim=True)
            n2 = _ops.unsqueeze(_ops.sum(_ops.mul(b, b), -1), -2)
            ip = _ops.matmul(a, _ops.transpose(b, -1, -2))
            return _ops._root(_ops.clamp(_ops.sub(_ops.add(n1, n2), _ops.mul(ip, 2.0)), min=0.0), 2)
        return tuple(_recompute_vjp(composed, (x1, x2), (g,)))


def tensordot(a, b, dims=2, out=None):
    """Sums the products of a's last dims (or dims[0]) with b's first dims (or dims[1])."""
    _check_tensor(a, "tensordot", "a")
    _check_tensor(b, "tensordot", "b")
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot(): expects dims >= 0, but got dims={dims}")
        if dims > a.ndim or dims > b.ndim:
            raise RuntimeError(f"tensordot(): dims {dims} exceeds the dimensions of a {list(a.shape)} or b "
                               f"{list(b.shape)}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = dims
        da = [da] if isinstance(da, int) else list(da)
        db = [db] if isinstance(db, int) else list(db)
    if len(da) != len(db):
        raise RuntimeError(f"tensordot(): both dimension lists should have same length, got {da} and {db}")
    da = [_norm_dim(x, a.ndim, "tensordot") for x in da]
    db = [_norm_dim(x, b.ndim, "tensordot") for x in db]
    for x, y in zip(da, db):
        if a.shape[x] != b.shape[y]:
            raise RuntimeError(f"tensordot(): contracted dimensions need to match, but first has size {a.shape[x]} "
                               f"in dim {x} and second has size {b.shape[y]} in dim {y} (shapes {list(a.shape)} "
                               f"and {list(b.shape)})")
    fa = [k for k in range(a.ndim) if k not in da]
    fb = [k for k in range(b.ndim) if k not in db]
    K = math.prod(a.shape[k] for k in da)
    am = _ops.reshape(_ops.permute(a, fa + da), [math.prod(a.shape[k] for k in fa), K])
    bm = _ops.reshape(_ops.permute(b, db + fb), [K, math.prod(b.shape[k] for k in fb)])
    am, bm = _promote(am, bm)
    r = _ops.reshape(_ops.matmul(am, bm), [a.shape[k] for k in fa] + [b.shape[k] for k in fb])
    if out is not None:
        _C.copy_(out, r)
        return out
    return r


def inner(input, other):
    """The sum of products over the last dims (a scalar times a tensor for 0-d operands)."""
    _check_tensor(input, "inner")
    _check_tensor(other, "inner", "other")
    if input.ndim == 0 or other.ndim == 0:
        return _ops.mul(input, other)
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner(): inner() the last dimension must match on both input tensors but got shapes "
                           f"{list(input.shape)} and {list(other.shape)}")
    return tensordot(input, other, ([-1], [-1]))


def vdot(input, other):
    _check_tensor(input, "vdot")
    _check_tensor(other, "vdot", "other")
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"vdot(): 1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors "
                           f"(shapes {list(input.shape)} and {list(other.shape)})")
    if input.shape[0] != other.shape[0]:
        raise RuntimeError(f"vdot(): inconsistent tensor size, expected tensor [{input.shape[0]}] and src "
                           f"[{other.shape[0]}] to have the same number of elements")
    if input.dtype != other.dtype:
        raise RuntimeError(f"vdot(): expected both vectors to have same dtype, but found {input.dtype.name} and "
                           f"{other.dtype.name}")
    return _ops.matmul(input, other)


def _beta_alpha(input, prod, beta, alpha, op, out_shape):
    try:
        shape = _ops.broadcast_shapes(input.shape, out_shape)
    except ValueError:
        shape = None
    if shape is None or tuple(shape) != tuple(out_shape):
        raise RuntimeError(f"{op}(): the input of shape {list(input.shape)} can't be broadcast to the result's "
                           f"shape {list(out_shape)}")
    p = prod if alpha == 1 else _ops.mul(prod, alpha)
    if beta == 0:  # the input is ignored (NaN and inf in it do not propagate), as in torch
        return p
    return _ops.add(input if beta == 1 else _ops.mul(input, beta), p)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """beta * input + alpha * (mat @ vec)."""
    for name, t, nd in (("mat", mat, 2), ("vec", vec, 1)):
        _check_tensor(t, "addmv", name)
        if t.ndim != nd:
            raise RuntimeError(f"addmv(): {name} must be a {nd}-D tensor, got shape {list(t.shape)}")
    if mat.shape[1] != vec.shape[0]:
        raise RuntimeError(f"addmv(): size mismatch, got mat {list(mat.shape)} and vec {list(vec.shape)}")
    return _beta_alpha(input, _ops.matmul(mat, vec), beta, alpha, "addmv", [mat.shape[0]])


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """beta * input + alpha * outer(vec1, vec2)."""
    for name, t in (("vec1", vec1), ("vec2", vec2)):
        _check_tensor(t, "addr", name)
        if t.ndim != 1:
            raise RuntimeError(f"addr(): {name} must be a 1-D tensor, got shape {list(t.shape)}")
    return _beta_alpha(input, _ops.outer(vec1, vec2), beta, alpha, "addr", [vec1.shape[0], vec2.shape[0]])


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * (batch1 @ batch2), batched."""
    _check_tensor(batch1, "baddbmm", "batch1")
    _check_tensor(batch2, "baddbmm", "batch2")
    prod = _ops.bmm(batch1, batch2)
    return _beta_alpha(input, prod, beta, alpha, "baddbmm", list(prod.shape))


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * sum_b batch1[b] @ batch2[b]."""
    _check_tensor(batch1, "addbmm", "batch1")
    _check_tensor(batch2, "addbmm", "batch2")
    prod = _ops.sum(_ops.bmm(batch1, batch2), 0)
    return _beta_alpha(input, prod, beta, alpha, "addbmm", list(prod.shape))


def chain_matmul(*matrices):
    """The product of a chain of 2-D matrices (left to right)."""
    ms = _tensor_list(matrices, "chain_matmul")
    if not ms:
        raise RuntimeError("chain_matmul(): expects at least one matrix")
    for i, m in enumerate(ms):
        if m.ndim != 2:
            raise RuntimeError(f"chain_matmul(): tensor {i} must be 2-D, got shape {list(m.shape)}")
    if len(ms) == 1:
        return _ops.clone(ms[0])
    out = ms[0]
    for m in ms[1:]:
        if out.shape[1] != m.shape[0]:
            raise RuntimeError(f"chain_matmul(): shapes {list(out.shape)} and {list(m.shape)} cannot be "
                               f"multiplied")
        out = _ops.matmul(out, m)
    return out


# ------------------------------------------------------------------------------------------------- predicates

def is_nonzero(input):
    _check_tensor(input, "is_nonzero")
    n = input.numel()
    if n == 0:
        raise RuntimeError("is_nonzero(): Boolean value of Tensor with no values is ambiguous")
    if n > 1:
        raise RuntimeError(f"is_nonzero(): Boolean value of Tensor with more than one value is ambiguous (shape "
                           f"{list(input.shape)})")
    return bool(_C.item(input))


def is_same_size(input, other):
    return tuple(input.shape) == tuple(other.shape)


def is_signed(input):
    return input.dtype not in (_C.dtype.uint8, _bool)


def is_complex(input):
    return False


def _sum_to_size(self, *size):
    size = list(size[0]) if len(size) == 1 and not isinstance(size[0], int) else list(size)
    shape = list(self.shape)
    if len(size) > len(shape):
        raise RuntimeError(f"sum_to_size(): size {size} is not expandable to size {shape}")
    lead = len(shape) - len(size)
    for s, t in zip(size, shape[lead:]):
        if s != t and s != 1:
            raise RuntimeError(f"sum_to_size(): size {size} is not expandable to size {shape}")
    dims = list(range(lead)) + [lead + i for i, s in enumerate(size) if s == 1 and shape[lead + i] != 1]
    out = _ops.sum(self, dims, keepdim=True) if dims else self
    return _ops.reshape(out, size) if lead else out


def index_put_(input, indices, values, accumulate=False):
    from ._indexing import index_put_ as _ip
    return _ip(input, indices, values, accumulate)


def clamp_min_(input, min):
    return Tensor.clamp_min_(input, min)


def clamp_max_(input, max):
    return Tensor.clamp_max_(input, max)


# ------------------------------------------------------------------------------------------------- Tensor methods

def _new(self, *args, dtype=None, device=None, requires_grad=False):
    """Tensor.new (legacy constructor): no args -> an empty tensor; ints or a Size -> an uninitialized tensor of
    that size; data -> a tensor of it; all of self's dtype and device."""
    from . import _creation
    from ._tensor import Size
    dtype = dtype or self.dtype
    device = device or self.device
    if not args:
        t = _C.empty([0], dtype, device)
    elif builtins.all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
        t = _C.empty([int(a) for a in args], dtype, device)
    elif len(args) == 1 and isinstance(args[0], Size):
        t = _C.empty(list(args[0]), dtype, device)
    elif len(args) == 1:
        t = _creation.tensor(args[0], dtype=dtype, device=device)
    else:
        raise TypeError(f"new(): invalid arguments {args!r}")
    if requires_grad:
        t.requires_grad = True
    return t


def _new_empty_strided(self, size, stride, *, dtype=None, device=None, requires_grad=False):
    size, stride = list(size), list(stride)
    if len(size) != len(stride):
        raise RuntimeError(f"new_empty_strided(): mismatch in length of strides and shape ({size} vs {stride})")
    n = 1 + builtins.sum((s - 1) * st for s, st in zip(size, stride)) if 0 not in size else 0
    base = _C.empty([n], dtype or self.dtype, device or self.device)
    t = _C.as_strided(base, size, stride, 0)
    if requires_grad:
        t.requires_grad = True
    return t


def _cast_out(out, self, op):
    if out.dtype == self.dtype:
        return out
    from ._runtime import can_cast
    if not can_cast(out.dtype, self.dtype):
        raise TypeError(f"{op}: result type {out.dtype.name} can't be cast to the desired output type "
                        f"{self.dtype.name}")
    return _ops._to(out, self.dtype, None)


def _make_inplace(functional, op, cast=False):
    """An in-place method from an out-of-place op: with autograd, recorded through _inplace_with_history (leaf
    and view checks, the written tensor's and its aliases' histories rebased); without, computed and copied in.
    cast: the result is converted to self's dtype (comparisons write 1/0 in self's dtype, like torch)."""
    from . import _tensor as _tm

    def fix(out, self):
        if cast:
            return _C.to(out, self.dtype, None, False) if out.dtype != self.dtype else out
        return _cast_out(out, self, op)

    def method(self, *args, **kwargs):
        if _needs_grad(self, *args, *kwargs.values()):
            _tm._inplace_group(self)  # raises (leaf, views) before anything is computed or written
            out = fix(functional(_ops.clone(self) if self.requires_grad else self, *args, **kwargs), self)
            if not out.requires_grad:  # e.g. eq_: self now holds constants
                return Tensor.copy_(self, out)
            return _tm._inplace_with_history(self, lambda _src: out, op, clone=False)
        _tm._check_nograd_view(self)
        out = fix(functional(self, *args, **kwargs), self)
        _tm._check_no_internal_overlap(self, op)
        _C.copy_(self, out)
        return self

    method.__name__ = op
    return method


def _make_inplace_view(geom, op):
    """t_, transpose_, squeeze_, unsqueeze_, ...: self takes a new geometry (shape, strides) over its own storage;
    with autograd its history becomes that strided view's (as torch's in-place view ops)."""
    from . import _tensor as _tm

    def method(self, *args):
        shape, strides = geom(self, *args)
        view_geom = (shape, strides, self.storage_offset())
        if _needs_grad(self):
            if self.grad_fn is None:
                raise RuntimeError(f"{op}(): a leaf Variable that requires grad is being used in an in-place "
                                   f"operation.")
            grp = self.__dict__.get("_view_group")
            if grp is not None and grp.base() is self:
                if [m for m in grp.live_members() if m is not self]:
                    raise RuntimeError(f"{op}(): changing the shape in place of a tensor with live views of it "
                                       f"recorded by autograd is not supported; use the out-of-place "
                                       f"{op[:-1]} instead")
                del self.__dict__["_view_group"]
            new = _ops._AsStrided.apply(self, _ops._geometry(self), view_geom)
            self._set_data(new)
            self.grad_fn, self._output_nr = new.grad_fn, new._output_nr
            return self
        _tm._check_nograd_view(self)
        self._set_data(_C.as_strided(self, *view_geom))
        return self

    method.__name__ = op
    return method


def _geom_transpose(x, a, b, op="transpose_"):
    shape, strides = list(x.shape), list(x.stride())
    if x.ndim == 0:
        _norm_dim(a, 0, op)
        _norm_dim(b, 0, op)
        return shape, strides
    a, b = _norm_dim(a, x.ndim, op), _norm_dim(b, x.ndim, op)
    shape[a], shape[b] = shape[b], shape[a]
    strides[a], strides[b] = strides[b], strides[a]
    return shape, strides


def _geom_t(x):
    if x.ndim > 2:
        raise RuntimeError(f"t_(): expects a tensor with <= 2 dimensions, but self is {x.ndim}D (shape "
                           f"{list(x.shape)})")
    return _geom_transpose(x, 0, 1 if x.ndim == 2 else 0, "t_")


def _geom_squeeze(x, dim=None):
    nd = x.ndim
    if dim is None:
        drop = set(range(nd))
    else:
        drop = {_norm_dim(d, nd, "squeeze_") for d in ([dim] if isinstance(dim, int) else dim)}
    keep = [k for k in range(nd) if not (k in drop and x.shape[k] == 1)]
    return [x.shape[k] for k in keep], [x.stride()[k] for k in keep]


def _geom_unsqueeze(x, dim):
    d = _norm_dim(dim, x.ndim + 1, "unsqueeze_")
    shape, strides = list(x.shape), list(x.stride())
    st = shape[d] * strides[d] if d < x.ndim else 1
    return shape[:d] + [1] + shape[d:], strides[:d] + [st] + strides[d:]


# ------------------------------------------------------------------------------------------------- scatter_reduce

_REDUCES = ("sum", "prod", "mean", "amax", "amin")
_scatter_reduce_inplace = None


def _scatter_targets(x, d, idx):
    """The row-major flat position in x of every element of idx's shape (idx's value along d)."""
    dev = x.device
    shape = list(x.shape)
    istride = [math.prod(shape[k + 1:]) for k in range(len(shape))]
    tgt = _C.mul(idx, istride[d])
    for k, n in enumerate(idx.shape):
        if k == d:
            continue
        r = [1] * idx.ndim
        r[k] = n
        tgt = _C.add(tgt, _C.mul(_C.reshape(_arange(n, dev), r), istride[k]))
    return _C.reshape(_C.contiguous(tgt), [-1])


def _src_region(src, idx):
    """src restricted to idx's shape (the elements scatter_reduce reads)."""
    if tuple(src.shape) == tuple(idx.shape):
        return src
    return _C.as_strided(src, list(idx.shape), list(src.stride()), src.storage_offset())


def _segment_reduce(keys, vals, op):
    """For sorted keys: (unique keys, op-reduction of vals over each run of equal keys), by a segmented log-step
    scan."""
    n = keys.shape[0]
    v = _C.contiguous(vals)
    s = 1
    while s < n:
        same_seg = _C.eq(_C.slice(keys, 0, s, n, 1), _C.slice(keys, 0, 0, n - s, 1))
        nv = _C.clone(v)
        cur, prev = _C.slice(v, 0, s, n, 1), _C.slice(v, 0, 0, n - s, 1)
        _C.copy_(_C.slice(nv, 0, s, n, 1), _C.where(same_seg, op(cur, prev), cur))
        v = nv
        s *= 2
    last = _cat_raw2(_C.ne(_C.slice(keys, 0, 1, n, 1), _C.slice(keys, 0, 0, n - 1, 1)),
                     _C.full_int([1], 1, _bool, keys.device), 0)
    ends = _ops.nonzero(last, as_tuple=True)[0]
    return _C.index_select(keys, 0, ends), _C.index_select(v, 0, ends)


def _scatter_reduce_raw(x, d, idx, src, reduce, include_self):
    """(out, count) of torch.scatter_reduce without autograd; count (x's shape, x's dtype) is the number of
    values reduced into each position (self included when include_self), for mean."""
    dev = x.device
    out = _C.contiguous(_C.clone(x))
    flat = _C.reshape(out, [-1])
    tgt = _scatter_targets(x, d, idx)
    vals = _C.reshape(_C.contiguous(_src_region(src, idx)), [-1])
    if reduce in ("sum", "mean"):
        if not include_self and tgt.numel():
            _C.index_put_(flat, [tgt], _C.expand(_scalar_like(0, x), [tgt.shape[0]]), False)
        if tgt.numel():
            _C.index_add_(flat, 0, tgt, vals)
        if reduce == "sum":
            return out, None
        cnt = _C.full(list(x.shape), 1.0 if include_self else 0.0, x.dtype, dev) if x.dtype.is_floating_point \
            else _C.full_int(list(x.shape), 1 if include_self else 0, x.dtype, dev)
        if tgt.numel():
            _C.index_add_(_C.reshape(cnt, [-1]), 0, tgt, _C.expand(_scalar_like(1, x), [tgt.shape[0]]))
        safe = _C.where(_C.eq(cnt, 0), _scalar_like(1, x), cnt)
        out = _C.div(out, safe) if x.dtype.is_floating_point else _C.floor_divide(out, safe)
        return _C.where(_C.eq(cnt, 0), x, out), cnt
    if tgt.numel() == 0:
        return out, None
    op = {"prod": _C.mul, "amax": _C.maximum, "amin": _C.minimum}[reduce]
    ts, order = _C.sort(tgt, 0, False)
    keys, red = _segment_reduce(ts, _C.index_select(vals, 0, order), op)
    if include_self:
        red = op(red, _C.index_select(flat, 0, keys))
    _C.index_put_(flat, [keys], red, False)
    return out, None


class _ScatterReduce(Function):
    """torch.scatter_reduce's gradients (its derivatives.yaml formulas): sum and mean pass (divided by the
    count); amax/amin split the gradient evenly among the elements equal to the result; prod uses result / value
    with the single-zero cases computed from the product that skips the zero."""

    @staticmethod
    def forward(ctx, x, d, idx, src, reduce, include_self):
        out, cnt = _scatter_reduce_raw(x, d, idx, src, reduce, include_self)
        ctx.save_for_backward(x, idx, src, out, cnt)
        ctx.d, ctx.reduce, ctx.include_self = d, reduce, include_self
        return out

    @staticmethod
    def backward(ctx, g):
        x, idx, src, out, cnt = ctx.saved_tensors
        d, reduce, inc = ctx.d, ctx.reduce, ctx.include_self
        dev = g.device
        zero = _C.zeros([], g.dtype, dev)
        scattered = _C.zeros(list(x.shape), _bool, dev)
        _C.scatter_(scattered, d, idx, _C.contiguous(_C.expand(_C.full_int([], 1, _bool, dev), list(idx.shape))))
        sreg = _C.contiguous(_src_region(src, idx))
        if reduce == "sum":
            gx, gs = g, _C.gather(g, d, idx)
        elif reduce == "mean":
            gd = _C.div(g, _C.where(_C.eq(cnt, 0), _C.full([], 1.0, g.dtype, dev), cnt))
            gx, gs = gd, _C.gather(gd, d, idx)
        elif reduce in ("amax", "amin"):
            value = _C.gather(out, d, idx)
            # as torch: self counts among the ties even with include_self=False (its gradient is masked after)
            self_is = _C.to(_C.eq(x, out), g.dtype, None, False)
            src_is = _C.to(_C.eq(sreg, value), g.dtype, None, False)
            n = _C.clone(self_is)
            _C.scatter_add_(n, d, idx, src_is)
            gd = _C.div(g, _C.where(_C.eq(n, 0), _C.full([], 1.0, g.dtype, dev), n))
            gx, gs = _C.mul(self_is, gd), _C.mul(src_is, _C.gather(gd, d, idx))
        else:  # prod
            one = _scalar_like(1, x)
            masked_self = _C.where(_C.eq(x, 0), one, x)
            msr, _ = _scatter_reduce_raw(masked_self, d, idx, src, "prod", inc)
            gx = _C.div(_C.mul(g, msr), masked_self)
            src_zero = _C.eq(sreg, 0)
            nz = _C.zeros(list(x.shape), g.dtype, dev)
            _C.scatter_add_(nz, d, idx, _C.to(src_zero, g.dtype, None, False))
            single = _C.logical_and(src_zero, _C.eq(_C.gather(nz, d, idx), 1))
            masked_src = _C.where(single, one, sreg)
            mres, _ = _scatter_reduce_raw(x, d, idx, masked_src, "prod", inc)
            gs = _C.where(single, _C.gather(_C.mul(g, mres), d, idx),
                          _C.div(_C.gather(_C.mul(g, out), d, idx), _C.where(src_zero, one, sreg)))
        if not inc:
            gx = _C.where(scattered, zero, gx)
        if tuple(gs.shape) != tuple(src.shape):
            full = _C.zeros(list(src.shape), g.dtype, dev)
            _C.copy_(_C.as_strided(full, list(gs.shape), list(full.stride()), 0), gs)
            gs = full
        return gx, None, None, gs, None, None


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """input with the src values at index (along dim, as scatter) reduced into it: sum, prod, mean (integer:
    floored), amax or amin; include_self=False leaves the old values of the scattered positions out."""
    from ._indexing import _scatter_reduce_sum, _check_index_bounds
    if reduce == "sum" and include_self:
        return _scatter_reduce_sum(input, dim, index, src)
    if reduce not in _REDUCES:
        raise ValueError(f"scatter_reduce(): reduce argument must be one of {', '.join(_REDUCES)}, got "
                         f"{reduce!r}")
    _check_tensor(input, "scatter_reduce")
    _check_tensor(src, "scatter_reduce", "src")
    index = _check_index(index, "scatter_reduce")
    if src.dtype != input.dtype:
        raise TypeError(f"scatter_reduce(): expected src of dtype {input.dtype.name} (like self), got "
                        f"{src.dtype.name}")
    if not (index.ndim == input.ndim == src.ndim):
        raise RuntimeError(f"scatter_reduce(): index {list(index.shape)}, self {list(input.shape)} and src "
                           f"{list(src.shape)} must have the same number of dimensions")
    d = _norm_dim(dim, input.ndim, "scatter_reduce")
    for k in range(index.ndim):
        if index.shape[k] > src.shape[k] or (k != d and index.shape[k] > input.shape[k]):
            raise RuntimeError(f"scatter_reduce(): expected index {list(index.shape)} to be smaller than self "
                               f"{list(input.shape)} apart from dimension {d} and to be smaller size than src "
                               f"{list(src.shape)}")
    _check_index_bounds(index, input.shape[d] if input.ndim else 1, d, "scatter_reduce", False)
    if input.ndim == 0:
        input_, index_, src_ = (_ops.reshape(input, [1]), _C.reshape(index, [1]), _ops.reshape(src, [1]))
        return _ops.reshape(scatter_reduce(input_, 0, index_, src_, reduce, include_self=include_self), [])
    if _needs_grad(input, src) and input.dtype.is_floating_point:
        return _ScatterReduce.apply(input, d, index, src, reduce, include_self)
    return _scatter_reduce_raw(input, d, index, src, reduce, include_self)[0]


def _scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
    return _scatter_reduce_inplace(self, dim, index, src, reduce, include_self=include_self)


def _attach():
    T = Tensor
    simple = {
        "nansum": nansum, "nanmean": nanmean, "median": median, "nanmedian": nanmedian, "mode": mode,
        "count_nonzero": count_nonzero, "quantile": quantile, "nanquantile": nanquantile, "cummax": cummax,
        "cummin": cummin, "logcumsumexp": logcumsumexp, "diff": diff, "diag": diag, "diag_embed": diag_embed,
        "diagflat": diagflat, "trace": trace, "rot90": rot90, "moveaxis": moveaxis, "ravel": ravel, "kron": kron,
        "cross": cross, "hsplit": hsplit, "vsplit": vsplit, "dsplit": dsplit, "split_with_sizes": split_with_sizes,
        "narrow_copy": narrow_copy, "select_scatter": select_scatter, "slice_scatter": slice_scatter,
        "diagonal_scatter": diagonal_scatter, "masked_scatter": masked_scatter, "put": put,
        "unique": unique, "unique_consecutive": unique_consecutive, "bincount": bincount,
        "histc": histc, "argwhere": argwhere, "inner": inner, "vdot": vdot, "addmv": addmv,
        "addr": addr, "baddbmm": baddbmm, "addbmm": addbmm, "is_nonzero": is_nonzero, "is_same_size": is_same_size,
        "is_signed": is_signed, "is_complex": is_complex, "fill_diagonal_": fill_diagonal_,
    }
    for name, fn in simple.items():
        if not hasattr(T, name) or name in ("inner",):
            setattr(T, name, fn)
    T.aminmax = lambda self, *, dim=None, keepdim=False: aminmax(self, dim=dim, keepdim=keepdim)
    T.addmm = lambda self, mat1, mat2, *, beta=1, alpha=1: _ops.addmm(self, mat1, mat2, beta=beta, alpha=alpha)
    T.ger = _ops.outer
    T.unfold = _unfold
    T.new = _new
    T.new_empty_strided = _new_empty_strided
    # (resize_ / resize_as_: _tensor_methods_extra.py, torch's storage semantics)
    T.sum_to_size = _sum_to_size

    # in-place variants of out-of-place ops
    inplace = {
        "tril_": tril, "triu_": triu, "cumsum_": lambda s, dim, *, dtype=None: cumsum(s, dim, dtype=dtype),
        "cumprod_": lambda s, dim, *, dtype=None: cumprod(s, dim, dtype=dtype),
        "clamp_min_": lambda s, min: _ops.clamp(s, min=min), "clamp_max_": lambda s, max: _ops.clamp(s, max=max),
        "lerp_": lerp, "addcmul_": addcmul, "addcdiv_": addcdiv,
        "put_": put, "masked_scatter_": masked_scatter, "logical_and_": None, "logical_or_": None,
        "logical_xor_": None, "logical_not_": None,
    }
    for name in ("logical_and", "logical_or", "logical_xor", "logical_not"):
        inplace[name + "_"] = None
    for name, fn in inplace.items():
        if hasattr(T, name):
            continue
        if fn is None:
            setattr(T, name, _make_inplace(getattr(_ops, name[:-1]), name, cast=True))
        else:
            setattr(T, name, _make_inplace(fn, name))
    for name in ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not"):
        if not hasattr(T, name + "_") and hasattr(_ops, name):
            setattr(T, name + "_", _make_inplace(getattr(_ops, name), name + "_"))
    for alias, base in (("eq", "eq"), ("ne", "ne"), ("lt", "lt"), ("le", "le"), ("gt", "gt"), ("ge", "ge"),
                        ("greater", "gt"), ("greater_equal", "ge"), ("less", "lt"), ("less_equal", "le"),
                        ("not_equal", "ne")):
        if not hasattr(T, alias + "_"):
            setattr(T, alias + "_", _make_inplace(getattr(_ops, base), alias + "_", cast=True))
    global _scatter_reduce_inplace
    _scatter_reduce_inplace = _make_inplace(scatter_reduce, "scatter_reduce_")
    T.scatter_reduce = scatter_reduce
    if not hasattr(T, "scatter_reduce_"):
        T.scatter_reduce_ = _scatter_reduce_
    views = {"t_": _geom_t, "transpose_": _geom_transpose, "squeeze_": _geom_squeeze,
             "unsqueeze_": _geom_unsqueeze}
    for name, geom in views.items():
        if not hasattr(T, name):
            setattr(T, name, _make_inplace_view(geom, name))
    for alias in ("swapaxes_", "swapdims_"):
        if not hasattr(T, alias):
            setattr(T, alias, T.transpose_)


_attach()
