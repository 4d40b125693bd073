"""Sorting and scans: sort, argsort, msort, topk, kthvalue, cumsum, cumprod (the kernels of csrc/ops/sort).

sort/topk/kthvalue return (values, indices) like torch's named tuples; with autograd the values are gathered from
the input through the indices (so the gradient is a scatter into the chosen positions). Sorting is stable, NaN
ranks above every number. cumsum's gradient is the reverse cumsum of the incoming gradient; cumprod's is exact
also with zeros in the input (torch's rule: positions after a line's first zero get 0, the first zero gets the
sum over the products that skip it).
"""
from __future__ import annotations

import numbers
from collections import namedtuple

from . import _C
from . import _ops
from .autograd import Function, _needs_grad
from ._indexing import gather, _norm_dim

Tensor = _C.Tensor
_isT = isinstance

__all__ = ["sort", "argsort", "msort", "topk", "kthvalue", "cumsum", "cumprod"]

SortResult = namedtuple("sort", ["values", "indices"])
TopkResult = namedtuple("topk", ["values", "indices"])
KthvalueResult = namedtuple("kthvalue", ["values", "indices"])


def _check(x, op):
    if not _isT(x, Tensor):
        raise TypeError(f"{op}(): input must be a dlcore.Tensor, got {type(x).__name__}")


def _values(input, dim, indices, raw_values):
    """The values: the kernel's, or gathered through indices when autograd records."""
    if not _needs_grad(input):
        return raw_values
    if input.ndim == 0:
        return _ops.reshape(gather(_ops.reshape(input, [1]), 0, _C.reshape(indices, [1])), [])
    return gather(input, dim, indices)


def sort(input, dim=-1, descending=False, stable=False):
    """(values, indices) of input sorted along dim (always stable; NaN last ascending, first descending)."""
    _check(input, "sort")
    v, i = _C.sort(input, dim, bool(descending))
    return SortResult(_values(input, dim, i, v), i)


def argsort(input, dim=-1, descending=False, stable=False):
    _check(input, "argsort")
    return _C.sort(input, dim, bool(descending))[1]


def msort(input):
    return sort(input, 0).values


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The k largest (smallest) elements along dim and their indices, in sort order."""
    _check(input, "topk")
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"topk(): k must be an int, got {type(k).__name__}")
    if input.ndim == 0 and k == 0:
        k = 1  # torch: a 0-d input's topk with k 0 is its one element (a 0-d value and index 0), as with k 1
    v, i = _C.topk(input, k, dim, bool(largest))
    return TopkResult(_values(input, dim, i, v), i)


def kthvalue(input, k, dim=-1, keepdim=False):
    """The k-th smallest element (k from 1) along dim and its index."""
    _check(input, "kthvalue")
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):  # (int(1.5) would silently pick k = 1)
        raise TypeError(f"kthvalue(): argument 'k' must be int, not {type(k).__name__}")
    _norm_dim(dim, input.ndim, "kthvalue")
    n = input.shape[dim] if input.ndim else 1
    if not 1 <= int(k) <= n:
        raise RuntimeError(f"kthvalue(): k ({k}) is out of range for dimension {dim} of size {n} "
                           f"(input {list(input.shape)})")
    v, i = _C.kthvalue(input, int(k), dim)  # (a selection per line on CPU; dim kept, size 1)
    if input.ndim == 0:
        return KthvalueResult(_values(input, dim, i, v), i)
    d = dim % input.ndim
    v = _values(input, d, i, v)
    if not keepdim:
        i = _C.squeeze(i, d)
        v = _ops.squeeze(v, d)
    return KthvalueResult(v, _C.contiguous(i))


class _CumSum(Function):
    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        return _C.cumsum(x, dim, False)

    @staticmethod
    def backward(ctx, g):
        return _C.cumsum(g, ctx.dim, True), None

    @staticmethod
    def _double_backward_fn(ctx, g):  # create_graph: the reverse cumsum recorded, its adjoint the cumsum
        from .autograd import _linear_pair
        d = ctx.dim
        return _linear_pair(lambda t: _C.cumsum(t, d, True), lambda u: _C.cumsum(u, d, False))[0](g), None


class _CumProd(Function):
    @staticmethod
    def forward(ctx, x, dim):
        y = _C.cumprod(x, dim, False)
        ctx.dim = dim
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        d = ctx.dim
        zero = _C.eq(x, 0)
        nz = _C.cumsum(_C.to(zero, _C.dtype.int64, None, False), d, False)
        before = _C.eq(nz, 0)                      # positions before the line's first zero
        first = _C.logical_and(zero, _C.eq(nz, 1))  # the first zero itself
        one = _C.full([], 1.0, x.dtype, x.device)
        # before the first zero: sum_{k >= i} g_k y_k / x_i
        t1 = _C.div(_C.cumsum(_C.mul(g, y), d, True), _C.where(before, x, one))
        # at the first zero z: sum_{k >= z} g_k prod_{j <= k, j != z} x_j = reverse cumsum of g * cumprod(x, x_z = 1)
        yz = _C.cumprod(_C.where(first, one, x), d, False)
        t2 = _C.cumsum(_C.mul(g, yz), d, True)
        zero_s = _C.full([], 0.0, x.dtype, x.device)
        return _C.where(before, t1, _C.where(first, t2, zero_s)), None

    @staticmethod
    def _double_backward_fn(ctx, g):
        """create_graph: the scan recomputed with recorded products (Hillis-Steele: log2(n) steps, each
        multiplying position i by i - k where i >= k; zeros need no special case) and differentiated."""
        from .autograd import _recompute_vjp
        from ._indexing import cat
        (x,) = ctx.saved_tensors[:1]
        d = ctx.dim

        def composite(t):
            n, k = (t.shape[d] if t.ndim else 1), 1
            while k < n:
                nxt = _ops.mul(_ops.narrow(t, d, k, n - k), _ops.narrow(t, d, 0, n - k))
                t = cat([_ops.narrow(t, d, 0, k), nxt], d)
                k *= 2
            return t
        return _recompute_vjp(composite, (x,), (g,))[0], None


def _scan(input, dim, dtype, fn, raw, op):
    _check(input, op)
    if dtype is not None:
        input = _ops._to(input, dtype, None)
    d = _norm_dim(dim, input.ndim, op)
    if _needs_grad(input) and input.dtype.is_floating_point:
        return fn.apply(input, d)
    out = raw(input, dim, False)
    if dtype is not None and out.dtype != input.dtype:  # an integer dtype= is the result's (the int64 scan cast back:
        out = _ops._to(out, input.dtype, None)           # the same values modulo 2^bits as torch's narrow scan)
    return out


@_ops._np_dim_kw
def cumsum(input, dim, *, dtype=None):
    """Running sums along dim (integers and bool give int64, like torch)."""
    return _scan(input, dim, dtype, _CumSum, _C.cumsum, "cumsum")


@_ops._np_dim_kw
def cumprod(input, dim, *, dtype=None):
    """Running products along dim (integers and bool give int64, like torch)."""
    return _scan(input, dim, dtype, _CumProd, _C.cumprod, "cumprod")


def _attach_tensor_methods():
    Tensor.sort = lambda self, dim=-1, descending=False, stable=False: sort(self, dim, descending, stable)
    Tensor.argsort = lambda self, dim=-1, descending=False, stable=False: argsort(self, dim, descending, stable)
    Tensor.msort = msort
    Tensor.topk = lambda self, k, dim=-1, largest=True, sorted=True: topk(self, k, dim, largest, sorted)
    Tensor.kthvalue = lambda self, k, dim=-1, keepdim=False: kthvalue(self, k, dim, keepdim)
    Tensor.cumsum = _ops._np_dim_kw(lambda self, dim, *, dtype=None: cumsum(self, dim, dtype=dtype))
    Tensor.cumprod = _ops._np_dim_kw(lambda self, dim, *, dtype=None: cumprod(self, dim, dtype=dtype))


_attach_tensor_methods()
