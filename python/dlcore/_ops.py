"""The foundation's differentiable ops: elementwise math, reductions, views, matmul.

Each public function checks whether autograd must record (``_needs_grad``); if not it calls the raw kernel in
``dlcore._C`` directly, otherwise it goes through a ``Function`` whose backward is written here. Gradients of
broadcast operands are summed back to the operand's shape (``_unbroadcast``).
"""
from __future__ import annotations

import builtins
import math
import weakref

import numpy as np

from . import _C
from ._out import call_with_out as _call_with_out
from .autograd import Function, _needs_grad, _mode, _linear_backward, _linear_pair

Tensor = _C.Tensor
_isT = isinstance


# ------------------------------------------------------------------------------------------------- helpers

def _shape(x):
    return x.shape if _isT(x, Tensor) else ()


def _unbroadcast(g, shape):
    """Sums g (of a broadcast shape) down to `shape`."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    dims = list(range(lead))
    for i, s in enumerate(shape):
        if s == 1 and g.shape[lead + i] != 1:
            dims.append(lead + i)
    if dims:
        g = _D.sum(g, dims, True)
    if lead:
        g = _D.reshape(g, list(shape))
    elif g.shape != shape:
        g = _D.reshape(g, list(shape))
    return g


def _grad_dtype(g, x):
    """The gradient for operand x (cast to its dtype, or None for a non-tensor)."""
    if not _isT(x, Tensor):
        return None
    if g.dtype != x.dtype:
        g = _D.to(g, x.dtype, None, False)
    return _unbroadcast(g, x.shape)


def _dims_list(dim):
    if dim is None:
        return None
    if isinstance(dim, int):
        return [dim]
    return list(dim)


# ------------------------------------------------------------------------------------------------- binary

class _Add(Function):
    _double_backward = True  # the backward records (_D ops): differentiable again
    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = _meta(a), _meta(b)
        return _C.add(a, b)

    @staticmethod
    def backward(ctx, g):
        return _g_for(g, ctx.a), _g_for(g, ctx.b)


class _Sub(Function):
    _double_backward = True  # the backward records (_D ops): differentiable again
    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = _meta(a), _meta(b)
        return _C.sub(a, b)

    @staticmethod
    def backward(ctx, g):
        gb = _g_for(g, ctx.b)
        return _g_for(g, ctx.a), (None if gb is None else _D.neg(gb))


class _Mul(Function):
    _double_backward = True  # the backward records (_D ops): differentiable again
    @staticmethod
    def forward(ctx, a, b):
        # An operand is saved only when the other one is a tensor that requires grad (whose gradient needs it):
        # x * 2 and x * mask save nothing of x, so modifying x in place afterwards is fine, as in PyTorch.
        ta, tb = _isT(a, Tensor), _isT(b, Tensor)
        ctx.save_for_backward(a if ta and tb and b.requires_grad else None,
                              b if ta and tb and a.requires_grad else None)
        ctx.sa = a if not _isT(a, Tensor) else None
        ctx.sb = b if not _isT(b, Tensor) else None
        ctx.a, ctx.b = _meta(a), _meta(b)
        return _C.mul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = _g_for(_D.mul(g, b if b is not None else ctx.sb), ctx.a)
        if ctx.needs_input_grad[1]:
            gb = _g_for(_D.mul(g, a if a is not None else ctx.sa), ctx.b)
        return ga, gb


class _Div(Function):
    _double_backward = True  # the backward records (_D ops): differentiable again
    @staticmethod
    def forward(ctx, a, b):
        # a is needed only for b's gradient: a / 2 and a / const_tensor save nothing of a (PyTorch's rule); b is
        # needed by both gradients
        tb = _isT(b, Tensor)
        ctx.save_for_backward(a if _isT(a, Tensor) and tb and b.requires_grad else None, b if tb else None)
        ctx.sa = a if not _isT(a, Tensor) else None
        ctx.sb = b if not _isT(b, Tensor) else None
        ctx.a, ctx.b = _meta(a), _meta(b)
        return _C.div(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        bv = b if b is not None else ctx.sb
        av = a if a is not None else ctx.sa
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = _g_for(_D.div(g, bv), ctx.a)
        if ctx.needs_input_grad[1]:
            # d(a/b)/db = -a / b^2
            gb = _g_for(_D.neg(_D.div(_D.mul(g, av), _D.mul(bv, bv))), ctx.b)
        return ga, gb


class _Pow(Function):
    _double_backward = True  # the backward records (_D ops): differentiable again
    @staticmethod
    def forward(ctx, a, b):
        out = _C.pow(a, b)
        ctx.save_for_backward(a if _isT(a, Tensor) else None, b if _isT(b, Tensor) else None, out)
        ctx.sa = a if not _isT(a, Tensor) else None
        ctx.sb = b if not _isT(b, Tensor) else None
        ctx.a, ctx.b = _meta(a), _meta(b)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        av = a if a is not None else ctx.sa
        bv = b if b is not None else ctx.sb
        ga = gb = None
        if ctx.needs_input_grad[0]:
            # b * a^(b-1), with 0 where b == 0 (torch's convention)
            d = _D.mul(bv, _D.pow(av, _D.sub(bv, 1)))
            if _isT(bv, Tensor):
                d = _D.where(_D.eq(bv, 0), 0.0, d)
            elif bv == 0:
                d = _D.mul(d, 0.0)
            ga = _g_for(_D.mul(g, d), ctx.a)
        if ctx.needs_input_grad[1]:
            # a^b * log(a), 0 where a == 0 and b >= 0
            la = _D.log(av) if _isT(av, Tensor) else math.log(av) if av > 0 else float("nan")
            d = _D.mul(out, la)
            if _isT(av, Tensor):
                d = _D.where(_D.logical_and(_D.eq(av, 0), _D.ge(bv, 0)), 0.0, d)
            gb = _g_for(_D.mul(g, d), ctx.b)
        return ga, gb


class _PowScalar(Function):
    _double_backward = True  # the backward records (_D ops): differentiable again
    @staticmethod
    def forward(ctx, a, e):
        ctx.save_for_backward(a)
        ctx.e = e
        return _C.pow_scalar(a, e)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        e = ctx.e
        if e == 0:
            return _D.mul(g, 0.0), None
        if e == 1:
            return g, None
        if e == 2:
            return _D.mul(g, _D.mul(a, 2.0)), None
        return _D.mul(g, _D.mul(_D.pow_scalar(a, e - 1), float(e))), None


class _MaxMin(Function):
    _double_backward = True  # the backward records (_D ops): differentiable again
    """maximum/minimum: the gradient goes to the selected operand; ties split it evenly (like torch)."""

    @staticmethod
    def forward(ctx, a, b, is_max):
        ctx.save_for_backward(a if _isT(a, Tensor) else None, b if _isT(b, Tensor) else None)
        ctx.sa = a if not _isT(a, Tensor) else None
        ctx.sb = b if not _isT(b, Tensor) else None
        ctx.a, ctx.b = _meta(a), _meta(b)
        return _C.maximum(a, b) if is_max else _C.minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        av = a if a is not None else ctx.sa
        bv = b if b is not None else ctx.sb
        is_max = ctx._fn_is_max
        first = _D.gt(av, bv) if is_max else _D.lt(av, bv)
        tie = _D.eq(av, bv)
        wa = _D.add(_D.to(first, g.dtype, None, False), _D.mul(_D.to(tie, g.dtype, None, False), 0.5))
        ga = _g_for(_D.mul(g, wa), ctx.a) if ctx.needs_input_grad[0] else None
        gb = _g_for(_D.mul(g, _D.sub(1.0, wa)), ctx.b) if ctx.needs_input_grad[1] else None
        return ga, gb, None


def _meta(x):
    """What a binary backward needs of an operand: its shape and dtype, or None for a number."""
    return (x.shape, x.dtype) if _isT(x, Tensor) else None


def _g_for(g, meta):
    if meta is None:
        return None
    shape, dtype = meta
    if g.dtype != dtype:
        g = _D.to(g, dtype, None, False)
    return _unbroadcast(g, shape)


def _float_rt(a, b):
    """result_type(a, b) of an op that computes in floating point: the default float dtype for integral operands."""
    dt = _C.result_type(a, b)
    if dt.is_floating_point:
        return dt
    from ._creation import get_default_dtype
    return get_default_dtype()


def _ew_out(op, out, fn, args, raw_out=None, rt=None):
    """out= for an elementwise op, as torch's TensorIterator: the op computes in its own result dtype and out takes
    the result cast to out's dtype, which may not narrow the kind (float -> integer, anything -> bool from a
    non-bool result: RuntimeError); an out of another shape is resized (a UserWarning when it had elements); with
    grad mode on, no argument may require grad. raw_out(out, *args): the kernel writing straight into out, used
    when rt (the op's result dtype, when the caller knows it cheaply) is out's dtype."""
    if not _isT(out, Tensor):
        raise TypeError(f"{op}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if _C._is_grad_enabled() and (out.requires_grad or builtins.any(_isT(a, Tensor) and a.requires_grad
                                                                    for a in args)):
        raise RuntimeError(f"{op}(): functions with out=... arguments don't support automatic differentiation, but "
                           f"one of the arguments requires grad.")
    if raw_out is not None and rt is not None and rt == out.dtype:
        try:
            return raw_out(out, *args)
        except _C.ShapeError:
            pass  # out of another shape: resized below, as torch
    res = fn(*args)
    if res.dtype != out.dtype:
        from ._runtime import can_cast
        if not can_cast(res.dtype, out.dtype):
            raise RuntimeError(f"{op}(): result type {res.dtype.name} can't be cast to the desired output type "
                               f"{out.dtype.name}")
    if tuple(out.shape) != tuple(res.shape):
        if out.numel() != 0:
            import warnings
            warnings.warn(f"{op}(): an output with one or more elements was resized since it had shape "
                          f"{list(out.shape)}, which does not match the required output shape {list(res.shape)}.",
                          UserWarning, stacklevel=3)
        out.resize_(list(res.shape))
    _C.copy_(out, res)
    return out


_SUB_BOOL_MSG = ("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert a "
                 "mask, use the `~` or `logical_not()` operator instead.")


def _is_bool_operand(v):
    return v.__class__ is bool or isinstance(v, np.bool_) or (_isT(v, Tensor) and v.dtype == _C.dtype.bool)


def _scaled(input, other, alpha, sub=False):
    """alpha * other for add/sub: other is first brought to the result dtype of (input, other), as torch types the
    sum by its two operands only (float16 + 0.5 * int64 stays float16; int32 + 2 * bool stays int32; 2.5 + 2 * uint8
    is float32, not a wrapped uint8 product); a bool sum keeps bool (alpha acts as a bool); a float alpha with an
    integral result and sub with a bool operand raise, as torch."""
    if sub and (_is_bool_operand(input) or _is_bool_operand(other)):
        raise RuntimeError(_SUB_BOOL_MSG)
    if not (_isT(input, Tensor) or _isT(other, Tensor)):
        return other * alpha
    rt = _C.result_type(input, other)
    if not rt.is_floating_point and not rt.is_complex and isinstance(alpha, (float, np.floating)):
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating point number.")
    if rt == _C.dtype.bool:
        if not _isT(other, Tensor):
            return builtins.bool(other) and builtins.bool(alpha)
        return mul(other, builtins.bool(alpha))
    if not _isT(other, Tensor):
        return other * alpha
    if other.dtype != rt:
        other = _to(other, rt, None)
    return mul(other, alpha)


def add(input, other, *, alpha=1, out=None):
    if alpha != 1:
        other = _scaled(input, other, alpha)
    if out is not None:
        return _ew_out("add", out, add, (input, other), _C.add_out, _C.result_type(input, other))
    if _needs_grad(input, other):
        return _Add.apply(input, other)
    return _C.add(input, other)


def sub(input, other, *, alpha=1, out=None):
    if alpha != 1:
        other = _scaled(input, other, alpha, sub=True)
    if out is not None:
        return _ew_out("sub", out, sub, (input, other), _C.sub_out, _C.result_type(input, other))
    if _needs_grad(input, other):
        return _Sub.apply(input, other)
    return _C.sub(input, other)


def rsub(input, other, *, alpha=1):
    return sub(other, input, alpha=alpha)


def mul(input, other, *, out=None):
    if out is not None:
        return _ew_out("mul", out, mul, (input, other), _C.mul_out, _C.result_type(input, other))
    if _needs_grad(input, other):
        return _Mul.apply(input, other)
    return _C.mul(input, other)


def div(input, other, *, rounding_mode=None, out=None):
    if out is not None and rounding_mode is not None:
        return _ew_out("div", out, lambda a, b: div(a, b, rounding_mode=rounding_mode), (input, other))
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode == "trunc":
        rt = _C.result_type(input, other)
        if rt == _C.dtype.uint8:
            return _C.floor_divide(input, other)  # (unsigned: a negative scalar wraps, as torch; floor == trunc)
        if not rt.is_floating_point:
            return _int_trunc_div(input, other)
        return trunc(div(input, other))
    if rounding_mode is not None:
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
    if out is not None:
        return _ew_out("div", out, div, (input, other), _C.div_out, _float_rt(input, other))
    if _needs_grad(input, other):
        if not _isT(input, Tensor) and input.__class__ is not bool:
            # number / tensor as torch's __rtruediv__: reciprocal(other) * number, whose backward reads the saved
            # reciprocal (its output), not other: an in-place change of other afterwards is no error
            return mul(reciprocal(other), input)
        return _Div.apply(input, other)
    return _C.div(input, other)


def _int_trunc_div(a, b):
    """Integer division rounded toward zero (stays integer, like torch): the floored quotient, plus one where the
    division is inexact and the operands' signs differ."""
    q = _C.floor_divide(a, b)
    r = _C.remainder(a, b)
    neg_a = _C.lt(a, 0) if _isT(a, Tensor) else _C.full([], float(a < 0), _C.dtype.bool, b.device)
    neg_b = _C.lt(b, 0) if _isT(b, Tensor) else _C.full([], float(b < 0), _C.dtype.bool, a.device)
    fix = _C.logical_and(_C.ne(r, 0), _C.ne(neg_a, neg_b))
    return _C.add(q, _C.to(fix, q.dtype, None, False))


true_divide = divide = div
multiply = mul
subtract = sub


def pow(input, exponent, *, out=None):
    if out is not None:
        return _ew_out("pow", out, pow, (input, exponent))
    if not _isT(exponent, Tensor):
        if not _isT(input, Tensor):
            raise TypeError("pow: at least one argument must be a Tensor")
        if input.dtype == _C.dtype.bool and isinstance(exponent, (int, np.integer, np.bool_)):
            # torch: bool ** True/False stays bool (b, or all True); bool ** int (NumPy's too) is int64
            if isinstance(exponent, (bool, np.bool_)):
                return _C.clone(input) if exponent else _C.full(list(input.shape), 1, input.dtype, input.device)
            input = _C.to(input, _C.dtype.int64, None, False)
        if _needs_grad(input):
            return _PowScalar.apply(input, exponent)
        return _C.pow_scalar(input, exponent)
    if (not _isT(input, Tensor) and not _needs_grad(exponent)
            and (_is_int_dtype(exponent.dtype) or exponent.dtype == _C.dtype.bool)):
        # number ** integer tensor: the number as a 0-d tensor of the result dtype (wrapped like torch's scalar), so
        # negative integer exponents take the integer path below (1 ** -1 == 1, 0 ** -1 == 0, as torch)
        from ._tensor import _full_like_scalar
        input = _full_like_scalar(input, exponent)
    if _needs_grad(input, exponent):
        return _Pow.apply(input, exponent)
    if (_isT(input, Tensor) and (_is_int_dtype(input.dtype) or input.dtype == _C.dtype.bool)
            and _is_int_dtype(exponent.dtype)
            and bool(_C.item(_C.any(_C.lt(exponent, 0), None, False)))):
        # integer base ** negative integer tensor exponent, as torch: 1 for base 1, +-1 for base -1 (by the
        # exponent's parity), 0 otherwise; non-negative exponents as usual
        if input.dtype == _C.dtype.bool:
            input = _C.to(input, _C.promote_types(input.dtype, exponent.dtype), None, False)
        neg = _C.lt(exponent, 0)
        zero = _C.zeros([], exponent.dtype, exponent.device)
        pos = _C.pow(input, _C.where(neg, zero, exponent))
        unit = _C.pow(input, _C.remainder(exponent, 2))  # base**(0 or 1): the value for base +-1
        negval = _C.where(_C.eq(_C.abs(input), 1), unit, _C.zeros([], pos.dtype, pos.device))
        return _C.where(neg, _C.to(negval, pos.dtype, None, False), pos)
    return _C.pow(input, exponent)


def _is_int_dtype(dt):
    return not dt.is_floating_point and not dt.is_complex and dt != _C.dtype.bool


def _maxmin(a, b, is_max):
    if _needs_grad(a, b):
        cls = _Maximum if is_max else _Minimum
        return cls.apply(a, b, is_max)
    return _C.maximum(a, b) if is_max else _C.minimum(a, b)


class _Maximum(_MaxMin):
    pass


class _Minimum(_MaxMin):
    pass


_Maximum._node_class()._fn_is_max = True
_Minimum._node_class()._fn_is_max = False


def maximum(input, other, *, out=None):
    if out is not None:
        return _ew_out("maximum", out, maximum, (input, other))
    return _maxmin(input, other, True)


def minimum(input, other, *, out=None):
    if out is not None:
        return _ew_out("minimum", out, minimum, (input, other))
    return _maxmin(input, other, False)


def floor_divide(input, other, *, out=None):
    if out is not None:
        return _ew_out("floor_divide", out, floor_divide, (input, other))
    return _C.floor_divide(input, other)


class _Remainder(Function):
    _double_backward = True  # the backward records (_D ops): differentiable again
    """remainder(a, b) = a - b * floor(a / b) (fmod: trunc instead of floor): d/da = 1, d/db = -floor(a / b)
    (-trunc(a / b)), as in PyTorch."""

    @staticmethod
    def forward(ctx, a, b, fmod):
        ctx.a, ctx.b = _meta(a), _meta(b)
        ctx.fmod = fmod
        ctx.save_for_backward(a if _isT(a, Tensor) else None, b if _isT(b, Tensor) else None)
        ctx.sa = a if not _isT(a, Tensor) else None
        return _C.fmod(a, b) if fmod else _C.remainder(a, b)

    @staticmethod
    def backward(ctx, g):
        gb = None
        if ctx.b is not None and ctx.needs_input_grad[1]:
            a, b = ctx.saved_tensors
            q = _D.div(a if a is not None else ctx.sa, b)
            q = _D.trunc(q) if ctx.fmod else _D.floor(q)
            gb = _g_for(_D.neg(_D.mul(g, q)), ctx.b)
        return _g_for(g, ctx.a), gb, None


def remainder(input, other, *, out=None):
    if out is not None:
        return _ew_out("remainder", out, remainder, (input, other))
    if _needs_grad(input, other):
        return _Remainder.apply(input, other, False)
    return _C.remainder(input, other)


def fmod(input, other, *, out=None):
    """The C-style remainder of input / other (the result has the sign of input); PyTorch's torch.fmod."""
    if out is not None:
        return _ew_out("fmod", out, fmod, (input, other))
    if _needs_grad(input, other):
        return _Remainder.apply(input, other, True)
    return _C.fmod(input, other)  # (exact: std::fmod; was the floored remainder corrected back, which rounded)


# comparisons and logical ops: no gradient
def eq(input, other, *, out=None):
    if out is not None:
        return _ew_out("eq", out, _C.eq, (input, other))
    return _C.eq(input, other)


def ne(input, other, *, out=None):
    if out is not None:
        return _ew_out("ne", out, _C.ne, (input, other))
    return _C.ne(input, other)


def lt(input, other, *, out=None):
    if out is not None:
        return _ew_out("lt", out, _C.lt, (input, other))
    return _C.lt(input, other)


def le(input, other, *, out=None):
    if out is not None:
        return _ew_out("le", out, _C.le, (input, other))
    return _C.le(input, other)


def gt(input, other, *, out=None):
    if out is not None:
        return _ew_out("gt", out, _C.gt, (input, other))
    return _C.gt(input, other)


def ge(input, other, *, out=None):
    if out is not None:
        return _ew_out("ge", out, _C.ge, (input, other))
    return _C.ge(input, other)


greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def equal(input, other) -> bool:
    """True when both tensors have the same shape and elements."""
    if tuple(input.shape) != tuple(other.shape):
        return False
    return bool(_C.item(_C.all(_C.eq(input, other), None, False)))


def logical_and(input, other, *, out=None):
    if out is not None:
        return _ew_out("logical_and", out, _C.logical_and, (input, other))
    return _C.logical_and(input, other)


def logical_or(input, other, *, out=None):
    if out is not None:
        return _ew_out("logical_or", out, _C.logical_or, (input, other))
    return _C.logical_or(input, other)


def logical_xor(input, other, *, out=None):
    if out is not None:
        return _ew_out("logical_xor", out, _C.logical_xor, (input, other))
    return _C.logical_xor(input, other)


def logical_not(input, *, out=None):
    if out is not None:
        return _ew_out("logical_not", out, _C.logical_not, (input,))
    return _C.logical_not(input)


def bitwise_and(input, other, *, out=None):
    if out is not None:
        return _ew_out("bitwise_and", out, _C.bitwise_and, (input, other))
    return _C.bitwise_and(input, other)


def bitwise_or(input, other, *, out=None):
    if out is not None:
        return _ew_out("bitwise_or", out, _C.bitwise_or, (input, other))
    return _C.bitwise_or(input, other)


def bitwise_xor(input, other, *, out=None):
    if out is not None:
        return _ew_out("bitwise_xor", out, _C.bitwise_xor, (input, other))
    return _C.bitwise_xor(input, other)


def bitwise_not(input, *, out=None):
    if out is not None:
        return _ew_out("bitwise_not", out, _C.bitwise_not, (input,))
    return _C.bitwise_not(input)


def isnan(input):
    return _C.isnan(input)


def isinf(input):
    return _C.isinf(input)


def isfinite(input):
    return _C.isfinite(input)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return bool(_C.item(_C.all(isclose(input, other, rtol, atol, equal_nan), None, False)))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    a = _C.to(input, _C.dtype.float64, None, False) if input.dtype != _C.dtype.float64 else input
    b = _C.to(other, _C.dtype.float64, None, False) if _isT(other, Tensor) else other
    diff = _C.abs(_C.sub(a, b))
    tol = _C.add(_C.mul(_C.abs(b) if _isT(b, Tensor) else builtins.abs(b), rtol), atol)
    # torch: a finite difference within tolerance, or exact equality (inf == inf); inf vs -inf is not close
    close = _C.logical_or(_C.logical_and(_C.le(diff, tol), _C.isfinite(diff)), _C.eq(a, b))
    if equal_nan:
        close = _C.logical_or(close, _C.logical_and(_C.isnan(a), _C.isnan(b) if _isT(b, Tensor) else math.isnan(b)))
    return close


# ------------------------------------------------------------------------------------------------- unary

def _unary_fn(name, grad, saves="x", double=False):
    """A Function for a unary op whose derivative grad(x, out, g) is written with raw ops. saves: what the
    derivative reads and the node keeps, as torch does ("x" the input, "o" the output, "" neither: the derivative
    then reads only g); an in-place change to anything else (e.g. the input of exp) does not invalidate the node.
    double: grad is written with _D ops, so create_graph records it (double backward); otherwise a second
    derivative through this op raises."""

    class _U(Function):
        _double_backward = double  # grad written with _D ops (recording under create_graph)

        @staticmethod
        def forward(ctx, x):
            out = getattr(_C, name)(x)
            if saves == "o":
                ctx.save_for_backward(out)
            elif saves == "x":
                ctx.save_for_backward(x)
            return out

        @staticmethod
        def backward(ctx, g):
            if saves == "o":
                return grad(None, ctx.saved_tensors[0], g)
            if saves == "x":
                return grad(ctx.saved_tensors[0], None, g)
            return grad(None, None, g)

    _U.__name__ = name.capitalize() + "Backward"
    raw = getattr(_C, name)

    def op(input, *, out=None):
        if out is not None:
            return _ew_out(name, out, op, (input,))
        if _needs_grad(input):
            return _U.apply(input)
        return raw(input)

    op.__name__ = name
    return op


def _zero_grad(x, o, g):
    """The gradient of a piecewise-constant op: zeros (not g * 0, which is NaN where g is inf or NaN)."""
    return _C.zeros(list(g.shape), g.dtype, g.device)


neg = _unary_fn("neg", lambda x, o, g: _D.neg(g), "", double=True)
negative = neg
exp = _unary_fn("exp", lambda x, o, g: _D.mul(g, o), "o", double=True)
log = _unary_fn("log", lambda x, o, g: _D.div(g, x), double=True)
sqrt = _unary_fn("sqrt", lambda x, o, g: _D.div(g, _D.mul(o, 2.0)), "o", double=True)
rsqrt = _unary_fn("rsqrt", lambda x, o, g: _D.mul(g, _D.mul(_D.pow_scalar(o, 3), -0.5)), "o", double=True)
abs = _unary_fn("abs", lambda x, o, g: _D.mul(g, _D.sign(x)), double=True)
absolute = abs
_sign = _unary_fn("sign", _zero_grad, "", double=True)


def sign(input, *, out=None):
    """-1, 0 or 1 (NaN -> 0, like torch); a bool tensor is its own sign (a copy, like torch)."""
    if out is not None:
        return _ew_out("sign", out, sign, (input,))
    if _isT(input, Tensor) and input.dtype == _C.dtype.bool:
        return _C.clone(input)
    return _sign(input)


_square = _unary_fn("square", lambda x, o, g: _D.mul(g, _D.mul(x, 2.0)), double=True)


def square(input, *, out=None):
    """input * input; a bool tensor squares as int64 (pow(bool, 2) in torch's promotion)."""
    if out is not None:
        return _ew_out("square", out, square, (input,))
    if _isT(input, Tensor) and input.dtype == _C.dtype.bool:
        input = _C.to(input, _C.dtype.int64, None, False)
    return _square(input)


reciprocal = _unary_fn("reciprocal", lambda x, o, g: _D.neg(_D.mul(g, _D.mul(o, o))), "o", double=True)
log1p = _unary_fn("log1p", lambda x, o, g: _D.div(g, _D.add(x, 1.0)), double=True)
expm1 = _unary_fn("expm1", lambda x, o, g: _D.mul(g, _D.add(o, 1.0)), "o", double=True)
log2 = _unary_fn("log2", lambda x, o, g: _D.div(g, _D.mul(x, math.log(2.0))), double=True)
log10 = _unary_fn("log10", lambda x, o, g: _D.div(g, _D.mul(x, math.log(10.0))), double=True)
exp2 = _unary_fn("exp2", lambda x, o, g: _D.mul(g, _D.mul(o, math.log(2.0))), "o", double=True)
sin = _unary_fn("sin", lambda x, o, g: _D.mul(g, _D.cos(x)), double=True)
cos = _unary_fn("cos", lambda x, o, g: _D.neg(_D.mul(g, _D.sin(x))), double=True)
tanh = _unary_fn("tanh", lambda x, o, g: _D.mul(g, _D.sub(1.0, _D.mul(o, o))), "o", double=True)
sigmoid = _unary_fn("sigmoid", lambda x, o, g: _D.mul(g, _D.mul(o, _D.sub(1.0, o))), "o", double=True)
erf = _unary_fn("erf", lambda x, o, g: _D.mul(g, _D.mul(_D.exp(_D.neg(_D.mul(x, x))), 2.0 / math.sqrt(math.pi))), double=True)
floor = _unary_fn("floor", _zero_grad, "", double=True)
ceil = _unary_fn("ceil", _zero_grad, "", double=True)
trunc = _unary_fn("trunc", _zero_grad, "", double=True)
fix = trunc


def round(input, decimals=0, *, out=None):
    if out is not None:
        return _ew_out("round", out, lambda x: round(x, decimals), (input,))
    if decimals:
        s = 10.0 ** decimals
        return div(_round0(mul(input, s)), s)
    return _round0(input)


_round0 = _unary_fn("round", _zero_grad, "", double=True)


class _Clamp(Function):
    _double_backward = True  # the backward records (_D ops): differentiable again
    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return _C.clamp(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        mask = None
        if ctx.lo is not None:
            mask = _D.ge(x, ctx.lo)
        if ctx.hi is not None:
            m2 = _D.le(x, ctx.hi)
            mask = m2 if mask is None else _D.logical_and(mask, m2)
        return _D.where(mask, g, _D.zeros([], g.dtype, g.device)), None, None


def clamp(input, min=None, max=None):
    if _isT(min, Tensor) or _isT(max, Tensor):
        out = input
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    if min is None and max is None:
        raise ValueError("clamp: at least one of 'min' or 'max' must not be None")
    if not input.dtype.is_floating_point:
        # an integer tensor with a float bound is promoted like torch (clamp(int, 0.5) is float32)
        for bound in (min, max):
            if bound is not None and _C.result_type(input, bound) != input.dtype:
                input = _C.to(input, _C.result_type(input, bound), None, False)
    for bound in (min, max):  # torch: a bound the dtype cannot hold raises (it was cast, wrapping for integers)
        if bound is not None:
            _check_scalar_fits(bound, input.dtype, "clamp")
            if bound != bound and input.dtype.is_floating_point:  # a NaN bound: NaN everywhere, zero gradient
                return add(mul(input, 0.0), math.nan)
    if _needs_grad(input):
        return _Clamp.apply(input, min, max)
    return _C.clamp(input, min, max)


clip = clamp

_FLOAT_MAX = {"float16": 65504.0, "bfloat16": 3.3895313892515355e38, "float32": 3.4028234663852886e38}


def _check_scalar_fits(v, dt, op):
    """A Python number used as a value of dtype dt must be representable (finite values within the range; inf and
    NaN are fine for floating dtypes), as torch checks scalar arguments."""
    if isinstance(v, bool) or dt == _C.dtype.bool:
        return
    if dt.is_floating_point:
        lim = _FLOAT_MAX.get(dt.name)
        if lim is not None and math.isfinite(v) and builtins.abs(v) > lim:
            raise RuntimeError(f"{op}(): value {v} cannot be converted to type {dt.name} without overflow")
        return
    from ._torch_extra import iinfo
    info = iinfo(dt)
    if not (info.min <= v <= info.max):
        raise RuntimeError(f"{op}(): value {v} cannot be converted to type {dt.name} without overflow")


def clamp_min(input, min):
    return clamp(input, min=min)


def clamp_max(input, max):
    return clamp(input, max=max)


class _Where(Function):
    _double_backward = True  # the backward records (_D ops): differentiable again
    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_for_backward(cond)
        ctx.a, ctx.b = _meta(a), _meta(b)
        return _C.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors
        zero = 0.0
        ga = _g_for(_D.where(cond, g, zero), ctx.a) if ctx.needs_input_grad[1] else None
        gb = _g_for(_D.where(cond, zero, g), ctx.b) if ctx.needs_input_grad[2] else None
        return None, ga, gb


def where(condition, input=None, other=None):
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    if condition.dtype != _C.dtype.bool:
        if condition.dtype != _C.dtype.uint8:  # (uint8: still accepted by torch, deprecated)
            raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype "
                               f"{condition.dtype}")
        condition = _C.to(condition, _C.dtype.bool, None, False)
    if _needs_grad(input, other):
        return _Where.apply(condition, input, other)
    return _C.where(condition, input, other)


def nonzero(input, *, as_tuple=False):
    """Indices of the non-zero elements by the kernel of the input's device (on a GPU only the count returns to the
    host); a 0-d input: one (or no) hit with no coordinates, like torch."""
    dev = input.device
    if input.ndim > 0:
        idx = _C._nonzero_device(input)  # int64 [count, ndim], row-major order
        if not as_tuple:
            return idx
        return tuple(_C.contiguous(_C.select(idx, 1, d)) for d in range(input.ndim))
    hits = 1 if _C.item(_C.ne(input, 0)) else 0
    if as_tuple:
        return (_C.zeros([hits], _C.dtype.int64, dev),)
    return _C.zeros([hits, 0], _C.dtype.int64, dev)


# ------------------------------------------------------------------------------------------------- reductions

def _reduced_grad(g, shape, dims, keepdim):
    """Expands the gradient of a reduction (over dims, keepdim or not) back to the input shape."""
    nd = len(shape)
    if not keepdim and nd > 0:
        dl = list(range(nd)) if dims is None else sorted(d % nd for d in dims)
        for d in dl:
            g = _D.unsqueeze(g, d)
    return _D.expand(g, list(shape))


class _Sum(Function):
    _double_backward = True  # the backward records (_D ops): differentiable again
    @staticmethod
    def forward(ctx, x, dim, keepdim):
        ctx.shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        return _C.sum(x, dim, keepdim)

    @staticmethod
    def backward(ctx, g):
        return _reduced_grad(g, ctx.shape, ctx.dim, ctx.keepdim), None, None


class _Mean(Function):
    _double_backward = True  # the backward records (_D ops): differentiable again
    @staticmethod
    def forward(ctx, x, dim, keepdim):
        ctx.shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        out = _C.mean(x, dim, keepdim)
        ctx.count = builtins.max(x.numel(), 1) // builtins.max(out.numel(), 1) if x.numel() else 1
        return out

    @staticmethod
    def backward(ctx, g):
        return _D.div(_reduced_grad(g, ctx.shape, ctx.dim, ctx.keepdim), float(ctx.count)), None, None


def sum(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    dim = _dims_list(dim)
    if _needs_grad(input):
        return _Sum.apply(input, dim, keepdim)
    out = _C.sum(input, dim, keepdim)
    if dtype is not None and out.dtype != input.dtype:
        # an integer dtype asked for: torch accumulates in it (wrapping); the int64 sum cast to it is the same value
        out = _C.to(out, input.dtype, None, False)
    return out


def mean(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    dim = _dims_list(dim)
    if _needs_grad(input):
        return _Mean.apply(input, dim, keepdim)
    return _C.mean(input, dim, keepdim)


def _correction(unbiased, correction):
    if correction is not None:
        return float(correction)
    if unbiased is None:
        return 1.0
    return 1.0 if unbiased else 0.0


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if isinstance(dim, bool):  # var(x, False): the positional unbiased flag of old torch
        unbiased, dim = dim, None
    c = _correction(unbiased, correction)
    dim = _dims_list(dim)
    if _needs_grad(input):
        m = mean(input, dim, keepdim=True)
        d = sub(input, m)
        # a 0-d input takes dim 0 / -1 as itself (one element), like torch
        n = input.numel() if dim is None or input.ndim == 0 else math.prod(input.shape[i] for i in dim)
        return div(sum(mul(d, d), dim, keepdim), builtins.max(n - c, 0))
    return _C.var(input, dim, c, keepdim)


class _Root(Function):
    _double_backward = True  # the backward records (_D ops): differentiable again
    """s ** (1 / p) for s >= 0 (a norm or a standard deviation from its p-th power), whose gradient is 0 where s is
    0 (PyTorch's subgradient for norm and std there, instead of inf * 0 = NaN)."""

    @staticmethod
    def forward(ctx, s, p):
        out = _C.sqrt(s) if p == 2 else _C.pow_scalar(s, 1.0 / p)
        ctx.save_for_backward(s, out)
        ctx.p = p
        return out

    @staticmethod
    def backward(ctx, g):
        s, out = ctx.saved_tensors
        # d s^(1/p) / ds = out / (p s)
        d = _D.div(_D.mul(g, out), _D.mul(s, float(ctx.p)))
        return _D.where(_D.eq(s, 0), _D.zeros([], d.dtype, d.device), d), None


def _root(s, p):
    if _needs_grad(s):
        return _Root.apply(s, p)
    return _C.sqrt(s) if p == 2 else _C.pow_scalar(s, 1.0 / p)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _root(var(input, dim, unbiased, keepdim, correction=correction), 2)


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return var(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return std(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


class _AMaxMin(Function):
    _double_backward = True  # the backward records (_D ops): differentiable again
    """amax/amin: the gradient is split evenly among the elements equal to the extreme value (like torch)."""

    @staticmethod
    def forward(ctx, x, dim, keepdim, is_max):
        out = _C.amax(x, dim, keepdim) if is_max else _C.amin(x, dim, keepdim)
        ctx.save_for_backward(x, out)
        ctx.dim, ctx.keepdim = dim, keepdim
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        o = _reduced_grad(out, x.shape, ctx.dim, ctx.keepdim)
        mask = _D.to(_D.eq(x, o), g.dtype, None, False)
        count = _D.sum(mask, ctx.dim, True)
        gg = _reduced_grad(g, x.shape, ctx.dim, ctx.keepdim)
        return _D.div(_D.mul(gg, mask), count), None, None, None


def amax(input, dim=(), keepdim=False):
    dim = _dims_list(dim) or None
    if _needs_grad(input):
        return _AMaxMin.apply(input, dim, keepdim, True)
    return _C.amax(input, dim, keepdim)


def amin(input, dim=(), keepdim=False):
    dim = _dims_list(dim) or None
    if _needs_grad(input):
        return _AMaxMin.apply(input, dim, keepdim, False)
    return _C.amin(input, dim, keepdim)


class _IndexReduce(Function):
    """Values of max/min along a dim: the gradient goes to the returned index (like torch)."""

    @staticmethod
    def forward(ctx, x, dim, keepdim, is_max):
        idx = _C.argmax(x, dim, True) if is_max else _C.argmin(x, dim, True)
        vals = _gather_raw(x, dim, idx)
        ctx.save_for_backward(idx)
        ctx.shape, ctx.dim, ctx.keepdim, ctx.dtype, ctx.device = x.shape, dim, keepdim, x.dtype, x.device
        if not keepdim:
            vals = _C.squeeze(vals, dim)
        return vals

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_tensors
        if not ctx.keepdim:
            g = _C.unsqueeze(g, ctx.dim)
        out = _C.zeros(list(ctx.shape), g.dtype, g.device)
        _scatter_add_raw(out, ctx.dim, idx, g)
        return out, None, None, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        (idx,) = ctx.saved_tensors
        dim, keepdim = ctx.dim, ctx.keepdim

        def pick(t):
            from ._indexing import gather
            v = gather(t, dim, idx)
            return v if keepdim else squeeze(v, dim)

        return _linear_backward(g, lambda t: _IndexReduce.backward(ctx, t)[0], pick), None, None, None


def _gather_raw(x, dim, idx):
    """x gathered along dim at idx (same rank, idx size 1 along dim): a host fallback until gather lands."""
    g = getattr(_C, "gather", None)
    if g is not None:
        return g(x, dim, idx)
    import numpy as np
    xa = _C.to(x, None, "cpu", False)._raw_numpy()
    ia = _C.to(idx, None, "cpu", False)._raw_numpy()
    return _C.to(_C.from_numpy(np.ascontiguousarray(np.take_along_axis(xa, ia, dim % x.ndim))), None, x.device, False)


def _scatter_add_raw(out, dim, idx, src):
    s = getattr(_C, "scatter_add_", None)
    if s is not None:
        s(out, dim, idx, src)
        return
    import numpy as np
    o = out._raw_numpy()
    ia = _C.to(idx, None, "cpu", False)._raw_numpy()
    sa = _C.to(src, None, "cpu", False)._raw_numpy()
    d = dim % out.ndim
    grid = list(np.indices(ia.shape))
    grid[d] = ia
    np.add.at(o, tuple(grid), sa)


class _MaxMinOut(tuple):
    """The (values, indices) result of max/min over a dim, like torch.return_types.max."""

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]


def _maxmin_reduce(input, dim, keepdim, other, is_max):
    if other is not None and _isT(other, Tensor):
        return maximum(input, other) if is_max else minimum(input, other)
    if dim is None:
        return amax(input) if is_max else amin(input)
    if input.ndim == 0:
        if not -1 <= dim <= 0:
            raise IndexError(f"{'max' if is_max else 'min'}(): dimension out of range (expected to be in range of "
                             f"[-1, 0], but got {dim})")
        return _MaxMinOut((clone(input), _C.full_int([], 0, _C.dtype.int64, input.device)))
    idx = _C.argmax(input, dim, keepdim) if is_max else _C.argmin(input, dim, keepdim)
    if _needs_grad(input):
        vals = _IndexReduce.apply(input, dim, keepdim, is_max)
    else:
        vals = _gather_raw(input, dim, idx if keepdim else _C.unsqueeze(idx, dim))
        if not keepdim:
            vals = _C.squeeze(vals, dim)
    return _MaxMinOut((vals, idx))


def max(input, dim=None, keepdim=False, *, other=None):
    if _isT(dim, Tensor):
        return maximum(input, dim)
    return _maxmin_reduce(input, dim, keepdim, other, True)


def min(input, dim=None, keepdim=False, *, other=None):
    if _isT(dim, Tensor):
        return minimum(input, dim)
    return _maxmin_reduce(input, dim, keepdim, other, False)


def argmax(input, dim=None, keepdim=False):
    return _C.argmax(input, dim, keepdim)


def argmin(input, dim=None, keepdim=False):
    return _C.argmin(input, dim, keepdim)


class _Prod(Function):
    @staticmethod
    def forward(ctx, x, dim, keepdim):
        out = _C.prod(x, dim, keepdim)
        ctx.save_for_backward(x, out)
        ctx.dim, ctx.keepdim = dim, keepdim
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        # prod / x where x != 0; for zeros, the product of the others (computed directly)
        o = _reduced_grad(out, x.shape, ctx.dim, ctx.keepdim)
        gg = _reduced_grad(g, x.shape, ctx.dim, ctx.keepdim)
        zero = _C.eq(x, 0)
        if not bool(_C.item(_C.any(zero, None, False))):
            return _C.mul(gg, _C.div(o, x)), None, None
        import numpy as np
        xa = _C.to(x, _C.dtype.float64, "cpu", False)._raw_numpy()
        dims = tuple(range(x.ndim)) if ctx.dim is None else tuple(d % x.ndim for d in ctx.dim)
        res = np.empty_like(xa)
        it = np.nditer(xa, flags=["multi_index"])
        for _ in it:
            mi = it.multi_index
            sl = tuple(slice(None) if i in dims else mi[i] for i in range(x.ndim))
            block = xa[sl].copy()
            pos = tuple(mi[i] for i in dims)
            block[pos] = 1.0
            res[mi] = block.prod()
        r = _C.to(_C.from_numpy(res), x.dtype, x.device, False)
        return _C.mul(gg, r), None, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        """create_graph: the product recomputed as a tree of recorded multiplications (log2(n) levels, any zeros
        included) and differentiated."""
        from .autograd import _recompute_vjp
        (x,) = ctx.saved_tensors[:1]
        dims, keepdim = ctx.dim, ctx.keepdim
        return (_recompute_vjp(lambda t: _prod_composite(t, dims, keepdim), (x,), (g,))[0], None, None)


def _prod_composite(x, dims, keepdim):
    """prod(x, dims, keepdim) with recording ops: the reduced dims moved last and flattened, then halved by
    pairwise products (an odd element carried over)."""
    nd = x.ndim
    red = list(range(nd)) if dims is None else sorted(d % builtins.max(nd, 1) for d in dims)
    red = [d for d in red if d < nd]
    kept = [d for d in range(nd) if d not in red]
    t = permute(x, kept + red) if nd else x
    kshape = [x.shape[d] for d in kept]
    t = reshape(t, kshape + [math.prod(x.shape[d] for d in red)])
    while t.shape[-1] > 1:
        n = t.shape[-1]
        h = n // 2
        p = mul(narrow(t, -1, 0, h), narrow(t, -1, h, h))
        t = _cat_last(p, narrow(t, -1, n - 1, 1)) if n % 2 else p
    if t.shape[-1] == 0:  # an empty product: 1
        t = add(sum(t, [-1], True), 1.0)
    out = reshape(t, kshape)
    if keepdim:
        out = reshape(out, [1 if d in red else x.shape[d] for d in range(nd)])
    return out


def _cat_last(a, b):
    from ._indexing import cat
    return cat([a, b], -1)


def prod(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    dim = _dims_list(dim)
    if _needs_grad(input):
        return _Prod.apply(input, dim, keepdim)
    out = _C.prod(input, dim, keepdim)
    if dtype is not None and out.dtype != input.dtype:  # an integer dtype= is the result's (torch)
        out = _C.to(out, input.dtype, None, False)
    return out


def any(input, dim=None, keepdim=False):
    # dim=(): no dim reduced, each element tested on its own (torch; sum(dim=()) reduces all, any/all do not)
    r = _C.ne(input, 0) if dim is not None and not isinstance(dim, int) and len(dim) == 0 else \
        _C.any(input, _dims_list(dim), keepdim)
    return _C.to(r, _C.dtype.uint8, None, False) if input.dtype == _C.dtype.uint8 else r  # torch: uint8 stays uint8


def all(input, dim=None, keepdim=False):
    r = _C.ne(input, 0) if dim is not None and not isinstance(dim, int) and len(dim) == 0 else \
        _C.all(input, _dims_list(dim), keepdim)
    return _C.to(r, _C.dtype.uint8, None, False) if input.dtype == _C.dtype.uint8 else r


class _LogSumExp(Function):
    _double_backward = True  # the backward records (_D ops): differentiable again
    @staticmethod
    def forward(ctx, x, dim, keepdim):
        out = _C.logsumexp(x, dim, keepdim)
        ctx.save_for_backward(x, out)
        ctx.dim, ctx.keepdim = dim, keepdim
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        o = _reduced_grad(out, x.shape, ctx.dim, ctx.keepdim)
        gg = _reduced_grad(g, x.shape, ctx.dim, ctx.keepdim)
        return _D.mul(gg, _D.exp(_D.sub(x, o))), None, None


def logsumexp(input, dim=None, keepdim=False):
    dim = _dims_list(dim)
    if _needs_grad(input):
        return _LogSumExp.apply(input, dim, keepdim)
    return _C.logsumexp(input, dim, keepdim)


def _norm2_trailing(x, dim, keepdim):
    """The 2-norm over the trailing dims (all of them when dim is None) of a contiguous float32 cpu tensor without
    grad, by the fused sum of squares (no squared temporary: [256,1000].norm(dim=1), 1 thread, 36-43 -> 15 us;
    torch 17-18); None for every other case."""
    if (x.dtype != _C.dtype.float32 or x.device.type != "cpu" or x.ndim == 0 or x.numel() == 0
            or not x.is_contiguous() or _needs_grad(x)):
        return None
    nd = x.ndim
    if dim is None:
        dims = list(builtins.range(nd))
    else:
        dims = sorted({(d + nd if d < 0 else d) for d in ([dim] if isinstance(dim, int) else list(dim))})
        if not dims or builtins.any(not 0 <= d < nd for d in dims):
            return None
    k = nd - dims[0]
    if dims != list(builtins.range(nd - k, nd)):
        return None
    lead = list(x.shape[:nd - k])
    rows = math.prod(lead)
    r = _C.sqrt(_C._sumsq_rows(_C.reshape(x, [rows, x.numel() // rows])))
    shape = lead + [1] * k if keepdim else lead
    return _C.reshape(r, shape)


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    if input.dtype in (_C.dtype.bfloat16, _C.dtype.float16):  # torch: float32 arithmetic, one rounding at the end
        return _to(norm(_to(input, _C.dtype.float32, None), p, dim, keepdim), input.dtype, None)
    if p in ("fro", 2, 2.0):
        fused = _norm2_trailing(input, dim, keepdim)
        if fused is not None:
            return fused
        return _root(sum(mul(input, input), dim, keepdim), 2)
    if isinstance(p, str) and p == "nuc":  # torch.norm(A, 'nuc'): the nuclear norm over two dims (all, if 2-D)
        from . import linalg as _linalg
        return _linalg.matrix_norm(input, "nuc", dim=(-2, -1) if dim is None else tuple(dim), keepdim=keepdim)
    if p in (1, 1.0):
        return sum(abs(input), dim, keepdim)
    if p == float("inf"):
        return amax(abs(input), dim if dim is not None else (), keepdim)
    if p == float("-inf"):
        return amin(abs(input), dim if dim is not None else (), keepdim)
    if p == 0:
        if _needs_grad(input):  # differentiable (a zero gradient), like torch
            from . import linalg as _linalg
            return _linalg.vector_norm(input, 0, dim, keepdim)
        return sum(_C.to(_C.ne(input, 0), input.dtype, None, False), dim, keepdim)
    return _root(sum(pow(abs(input), p), dim, keepdim), p)


def dist(input, other, p=2):
    return norm(sub(input, other), p)


# ------------------------------------------------------------------------------------------------- views

class _View(Function):
    _double_backward = True  # the backward records (_D ops): differentiable again
    """reshape/view/flatten/squeeze/unsqueeze: the gradient is reshaped back."""

    @staticmethod
    def forward(ctx, x, fn, *args):
        ctx.shape = x.shape
        return fn(x, *args)

    @staticmethod
    def backward(ctx, g):
        return (_D.reshape(g, list(ctx.shape)), None) + (None,) * 8


def _view_op(x, fn, *args):
    if _needs_grad(x):
        return _mark_view(x, _View.apply(x, fn, *args))
    return _plain_view(x, fn(x, *args))


def _shape_args(shape):
    if len(shape) == 1 and not isinstance(shape[0], int):
        return list(shape[0])
    return list(shape)


def reshape(input, *shape):
    return _view_op(input, _C.reshape, _shape_args(shape))


def view(input, *shape):
    if len(shape) == 1 and isinstance(shape[0], _C.dtype):
        return _view_dtype(input, shape[0])
    return _view_op(input, _C.view, _shape_args(shape))


def _view_dtype(x, dt):
    """x's bytes as dtype dt, sharing memory (torch's view(dtype)): a different item size scales the last dim,
    which must then have stride 1 (the other strides and the offset divisible by the ratio when the item grows).
    Any dtype (bfloat16 included) on any device; not differentiable across dtypes, as in torch for integer views."""
    if dt == x.dtype:
        return _view_op(x, _C.view, list(x.shape))
    return _C._view_dtype(x, dt)


def flatten(input, start_dim=0, end_dim=-1):
    nd = input.ndim
    n = builtins.max(nd, 1)
    for d in (start_dim, end_dim):
        if not -n <= d < n:
            raise IndexError(f"flatten: dimension out of range (expected to be in range of [{-n}, {n - 1}], but got "
                             f"{d})")
    if nd == 0:
        return reshape(input, [1])
    s = start_dim % nd
    e = end_dim % nd
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} cannot come after end_dim {end_dim}")
    shape = list(input.shape[:s]) + [math.prod(input.shape[s:e + 1])] + list(input.shape[e + 1:])
    return reshape(input, shape)


def unflatten(input, dim, sizes):
    nd = input.ndim
    d = dim % nd
    sizes = [int(v) for v in sizes]
    if sizes.count(-1) == 1:  # inferred from the size of dim d (not from the numel: that is ambiguous when 0)
        known = math.prod(v for v in sizes if v != -1)
        if known == 0 or input.shape[d] % known:
            raise RuntimeError(f"unflatten: sizes {sizes} don't multiply up to the size of dim {dim} "
                               f"({input.shape[d]}) in the input tensor {list(input.shape)}")
        sizes[sizes.index(-1)] = input.shape[d] // known
    if math.prod(sizes) != input.shape[d] or builtins.any(v < 0 for v in sizes):
        raise RuntimeError(f"unflatten: sizes {sizes} don't multiply up to the size of dim {dim} "
                           f"({input.shape[d]}) in the input tensor {list(input.shape)}")
    shape = list(input.shape[:d]) + sizes + list(input.shape[d + 1:])
    return reshape(input, shape)


def squeeze(input, dim=None):
    return _view_op(input, _C.squeeze, dim)


def unsqueeze(input, dim):
    return _view_op(input, _C.unsqueeze, dim)


class _Permute(Function):
    _double_backward = True  # the backward records (_D ops): differentiable again
    @staticmethod
    def forward(ctx, x, dims):
        nd = x.ndim
        ctx.inv = [0] * nd
        for i, d in enumerate(dims):
            ctx.inv[d % nd] = i
        return _C.permute(x, dims)

    @staticmethod
    def backward(ctx, g):
        return _D.permute(g, ctx.inv), None


def permute(input, *dims, **kwargs):
    if kwargs:  # permute(x, dims=(...)), as torch
        if set(kwargs) != {"dims"} or dims:
            raise TypeError(f"permute() got unexpected arguments {sorted(kwargs)} (expected *dims or dims=)")
        dims = (kwargs["dims"],)
    dims = _shape_args(dims)
    if _needs_grad(input):
        return _mark_view(input, _Permute.apply(input, dims))
    return _plain_view(input, _C.permute(input, dims))


class _Transpose(Function):
    _double_backward = True  # the backward records (_D ops): differentiable again
    @staticmethod
    def forward(ctx, x, a, b):
        ctx.a, ctx.b = a, b
        return _C.transpose(x, a, b)

    @staticmethod
    def backward(ctx, g):
        return _D.transpose(g, ctx.a, ctx.b), None, None


def transpose(input, dim0, dim1):
    if _needs_grad(input):
        return _mark_view(input, _Transpose.apply(input, dim0, dim1))
    return _plain_view(input, _C.transpose(input, dim0, dim1))


swapaxes = swapdims = transpose


def t(input):
    if input.ndim > 2:
        raise ValueError(f"t: expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    if input.ndim < 2:
        return input
    return transpose(input, 0, 1)


def movedim(input, source, destination):
    nd = input.ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    src = [s % nd for s in src]
    dst = [d % nd for d in dst]
    order = [None] * nd
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter([i for i in range(nd) if i not in src])
    order = [o if o is not None else next(rest) for o in order]
    return permute(input, order)


class _Expand(Function):
    _double_backward = True  # the backward records (_D ops): differentiable again
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return _C.expand(x, shape)

    @staticmethod
    def backward(ctx, g):
        return _unbroadcast(g, ctx.shape), None


def expand(input, *shape, size=None):
    if size is not None:  # x.expand(size=(...)), as torch
        if shape:
            raise TypeError("expand() got both positional sizes and size=")
        shape = (size,)
    shape = _shape_args(shape)
    if _needs_grad(input):
        return _mark_view(input, _Expand.apply(input, shape))
    return _plain_view(input, _C.expand(input, shape))


def broadcast_to(input, *shape):
    """broadcast_to(x, shape) or, as a method, x.broadcast_to(d0, d1, ...) (torch takes both)."""
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = shape[0]
    return expand(input, list(shape))


def broadcast_shapes(*shapes):
    out = []
    for s in shapes:
        s = [s] if isinstance(s, int) else list(s)
        n = builtins.max(len(out), len(s))
        a = [1] * (n - len(out)) + out
        b = [1] * (n - len(s)) + s
        r = []
        for x, y in zip(a, b):
            if x != y and x != 1 and y != 1:
                raise ValueError(f"broadcast_shapes: shapes {shapes} are not broadcastable")
            r.append(y if x == 1 else x)
        out = r
    from ._tensor import Size
    return Size(out)


def broadcast_tensors(*tensors):
    shape = broadcast_shapes(*[t.shape for t in tensors])
    return tuple(expand(t, list(shape)) for t in tensors)


class _Slice(Function):
    """A strided view (basic indexing); the gradient is written into zeros at the view's place."""

    @staticmethod
    def forward(ctx, x, fn, *args):
        ctx.shape, ctx.dtype, ctx.device = x.shape, x.dtype, x.device
        ctx.fn, ctx.args = fn, args
        return fn(x, *args)

    @staticmethod
    def backward(ctx, g):
        out = _C.zeros(list(ctx.shape), g.dtype, g.device)
        _C.copy_(ctx.fn(out, *ctx.args), g)
        return (out, None) + (None,) * len(ctx.args)

    @staticmethod
    def _double_backward_fn(ctx, g):
        fn, args = ctx.fn, ctx.args
        gx = _linear_backward(g, lambda t: _Slice.backward(ctx, t)[0], lambda t: _slice_op(t, fn, *args))
        return (gx, None) + (None,) * len(args)


def _slice_op(x, fn, *args):
    if _needs_grad(x):
        return _mark_view(x, _Slice.apply(x, fn, *args))
    return _plain_view(x, fn(x, *args))


def select(input, dim, index):
    return _slice_op(input, _C.select, dim, index)


def narrow(input, dim, start, length):
    n = input.shape[dim]
    if start < 0:
        start += n
    if start < 0 or length < 0 or start + length > n:
        raise IndexError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({n})")
    return _slice_op(input, _C.slice, dim, start, start + length, 1)


def diagonal(input, offset=0, dim1=0, dim2=1):
    return _slice_op(input, _C.diagonal, offset, dim1, dim2)


def as_strided(input, size, stride, storage_offset=None):
    if _needs_grad(input):
        if storage_offset is None:
            storage_offset = input.storage_offset()
        return _mark_view(input, _AsStrided.apply(input, _geometry(input), (list(size), list(stride),
                                                                           int(storage_offset))))
    return _plain_view(input, _C.as_strided(input, list(size), list(stride), storage_offset))



# ------------------------------------------------------------------------------------------------- view tracking
#
# Views made while autograd records share their input's storage. An in-place op on one alias must change the
# history of every other alias (PyTorch's view + in-place semantics): the tensors made by recorded view ops are
# kept in a _ViewGroup with the history of their base (the first non-view tensor), and an in-place op on a member
# rebases the base's history through _CopySlices and regenerates every live member's history as a strided view of
# the new base (_tensor._rebase_inplace).

def _geometry(t):
    return (list(t.shape), list(t.stride()), t.storage_offset())


def _last_elem(shape, strides, off):
    if 0 in shape:
        return off
    return off + builtins.sum((n - 1) * st for n, st in zip(shape, strides))


def _maybe_overlapping(shape, strides):
    """False when the elements of (shape, strides) are certainly distinct (a cheap sufficient test)."""
    dims = sorted((st, sz) for sz, st in zip(shape, strides) if sz > 1)
    span = 1
    for st, sz in dims:
        if st < span:
            return True
        span = st * (sz - 1) + span
    return False


def _strided_to_base(g, base_geom, view_geom):
    """The gradient for a tensor of base_geom from g, the gradient of its strided view view_geom (same storage):
    g scattered (summed where the view repeats an element) into zeros at the view's place."""
    bshape, bstrides, boff = base_geom
    vshape, vstrides, voff = view_geom

    lo = builtins.min(boff, voff)
    span = builtins.max(_last_elem(bshape, bstrides, boff), _last_elem(vshape, vstrides, voff)) - lo + 1
    buf = _C.zeros([span], g.dtype, g.device)
    if g.numel():
        if _maybe_overlapping(vshape, vstrides):
            idx = _C.as_strided(_C.arange_int(0, span, 1, "int64", g.device), vshape, vstrides, voff - lo)
            _C.scatter_add_(buf, 0, _C.reshape(_C.contiguous(idx), [-1]), _C.reshape(_C.contiguous(g), [-1]))
        else:
            _C.copy_(_C.as_strided(buf, vshape, vstrides, voff - lo), g)
    return _C.contiguous(_C.as_strided(buf, bshape, bstrides, boff - lo))


class _AsStrided(Function):
    """A strided view of the input's storage (as_strided, and the regenerated history of a view after an in-place
    op on another alias); the gradient adds up over repeated elements."""

    @staticmethod
    def forward(ctx, x, base_geom, view_geom):
        ctx.base_geom, ctx.view_geom = base_geom, view_geom
        shape, strides, off = view_geom
        return _C.as_strided(x, shape, strides, off)

    @staticmethod
    def backward(ctx, g):
        return _strided_to_base(g, ctx.base_geom, ctx.view_geom), None, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        """The backward as a recorded linear map of g; its adjoint reads the view out of a base-shaped tensor."""
        base_geom, view_geom = ctx.base_geom, ctx.view_geom
        fwd, _ = _linear_pair(lambda t: _strided_to_base(t, base_geom, view_geom),
                              lambda u: _base_to_strided(u, base_geom, view_geom))
        return fwd(g), None, None


def _base_to_strided(u, base_geom, view_geom):
    """The adjoint of _strided_to_base: u (a tensor of the base's shape) laid out with the base's geometry in a
    buffer covering both, read back with the view's geometry (places outside the base read 0)."""
    bshape, bstrides, boff = base_geom
    vshape, vstrides, voff = view_geom
    lo = builtins.min(boff, voff)
    span = builtins.max(_last_elem(bshape, bstrides, boff), _last_elem(vshape, vstrides, voff)) - lo + 1
    buf = _C.zeros([span], u.dtype, u.device)
    _C.copy_(_C.as_strided(buf, bshape, bstrides, boff - lo), u)
    return _C.contiguous(_C.as_strided(buf, vshape, vstrides, voff - lo))


class _CopySlices(Function):
    """The base after an in-place op on one of its views: the view's region comes from `src` (the op's result),
    the rest from the old base."""

    @staticmethod
    def forward(ctx, base, src, base_geom, view_geom):
        ctx.base_geom, ctx.view_geom = base_geom, view_geom
        return base._alias()

    @staticmethod
    def backward(ctx, g):
        bshape, bstrides, boff = ctx.base_geom
        vshape, vstrides, voff = ctx.view_geom
        lo = builtins.min(boff, voff)
        hi = builtins.max(_last_elem(bshape, bstrides, boff), _last_elem(vshape, vstrides, voff))
        buf = _C.zeros([hi - lo + 1], g.dtype, g.device)
        breg = _C.as_strided(buf, bshape, bstrides, boff - lo)
        _C.copy_(breg, g)
        vreg = _C.as_strided(buf, vshape, vstrides, voff - lo)
        gsrc = _C.clone(vreg)
        _C.fill_(vreg, 0)
        return _C.clone(breg), gsrc, None, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        """The backward as recorded linear maps of g: the base's part (g with the view's region zeroed) is its own
        adjoint; the source's (the region read out) has the region written into zeros as its adjoint."""
        base_geom, view_geom = ctx.base_geom, ctx.view_geom
        zero_region = lambda t: _CopySlices.backward(ctx, t)[0]  # noqa: E731
        gbase = _linear_pair(zero_region, zero_region)[0](g)
        gsrc = _linear_pair(lambda t: _base_to_strided(t, base_geom, view_geom),
                            lambda u: _strided_to_base(u, base_geom, view_geom))[0](g)
        return gbase, gsrc, None, None


class _ViewGroup:
    __slots__ = ("geom", "fn", "nr", "base", "members", "compact_at", "__weakref__")

    def live_members(self):
        """The live aliases; the weak references to dead ones are dropped."""
        live, refs = [], []
        for r in self.members:
            m = r()
            if m is not None:
                live.append(m)
                refs.append(r)
        self.members = refs
        # the next compaction in _mark_view once the list has doubled: amortised O(1) per view made, even with many
        # views alive at once (a list of rows b[i])
        self.compact_at = builtins.max(64, 2 * len(refs))
        return live


def _group_of(x):
    """x's view group (made, with x as its base, when x has none yet)."""
    d = x.__dict__
    grp = d.get("_view_group")
    if grp is None:
        grp = _ViewGroup()
        grp.geom = _geometry(x)
        grp.fn, grp.nr = x.grad_fn, x._output_nr
        grp.base = weakref.ref(x)
        grp.members = [grp.base]
        grp.compact_at = 64
        d["_view_group"] = grp
    elif len(grp.members) >= grp.compact_at:
        grp.live_members()
    return grp


def _slices_multi(x, fn, argss):
    """The views fn(x, *args) for each args in argss, as the outputs of one function returning several views
    (unbind, split, chunk): recorded like _slice_op's, registered in x's view group at once and marked so that an
    in-place op on one of them raises under autograd (their history is still regenerated after an in-place op on
    x or another alias)."""
    if not _needs_grad(x):
        return [_plain_view(x, fn(x, *args)) for args in argss]
    apply = _Slice.apply
    outs = [apply(x, fn, *args) for args in argss]
    grp = _group_of(x)
    ref = weakref.ref
    grp.members.extend([ref(o) for o in outs])
    for o in outs:
        od = o.__dict__
        od["_view_group"] = grp
        od["_multi_view"] = True
    if len(grp.members) >= grp.compact_at:
        grp.live_members()
    return outs


def _plain_view(x, out):
    """out, a view of x made without recording; when x requires grad (grad mode is off) or is itself such a view,
    out is marked: an in-place op on it with grad mode on raises, as in torch ("A view was created in no_grad
    mode ..."), since its base's history would not see the op."""
    if (x.requires_grad or "_nograd_view" in x.__dict__) and out._is_same_storage(x):
        out.__dict__["_nograd_view"] = True
    return out


def _mark_view(x, out, multi=False):
    """Records that out (made from x by a recorded view op) aliases x's storage."""
    if not out._is_same_storage(x):  # reshape copied
        return out
    grp = _group_of(x)
    grp.members.append(weakref.ref(out))
    od = out.__dict__
    od["_view_group"] = grp
    if multi:
        od["_multi_view"] = True
    return out


class _Identity(Function):
    _double_backward = True  # the backward records (_D ops): differentiable again
    """contiguous/clone: same values, gradient passes through."""

    @staticmethod
    def forward(ctx, x, fn):
        return fn(x)

    @staticmethod
    def backward(ctx, g):
        return g, None


def contiguous(input, memory_format=None):
    if input.is_contiguous():
        return input
    if _needs_grad(input):
        return _Identity.apply(input, _C.contiguous)
    return _C.contiguous(input)


def clone(input, *, memory_format=None):
    if _needs_grad(input):
        return _Identity.apply(input, _C.clone)
    return _C.clone(input)


class _To(Function):
    _double_backward = True  # the backward records (_D ops): differentiable again
    @staticmethod
    def forward(ctx, x, dtype, device):
        ctx.dtype, ctx.device = x.dtype, x.device
        return _C.to(x, dtype, device, False)

    @staticmethod
    def backward(ctx, g):
        return _D.to(g, ctx.dtype, ctx.device, False), None, None


def _to(input, dtype, device, copy=False):
    if _needs_grad(input) and (dtype is None or dtype.is_floating_point):
        if (dtype is None or dtype == input.dtype) and (device is None or _C.device(device) == input.device):
            return clone(input) if copy else input
        return _To.apply(input, dtype, device)
    return _C.to(input, dtype, device, copy)


# ------------------------------------------------------------------------------------------------- linear algebra

class _Matmul(Function):
    _double_backward = True  # the backward records (_D ops): differentiable again
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _C.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = gb = None
        a2 = _D.unsqueeze(a, 0) if a.ndim == 1 else a
        b2 = _D.unsqueeze(b, 1) if b.ndim == 1 else b
        batch = broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        g2 = _D.reshape(g, list(batch) + [a2.shape[-2], b2.shape[-1]])
        if ctx.needs_input_grad[0]:
            ga = _D.matmul(g2, _D.transpose(b2, -1, -2))
            if a.ndim == 1:
                ga = _D.squeeze(ga, -2)
            ga = _unbroadcast(ga, a.shape)
        if ctx.needs_input_grad[1]:
            gb = _D.matmul(_D.transpose(a2, -1, -2), g2)
            if b.ndim == 1:
                gb = _D.squeeze(gb, -1)
            gb = _unbroadcast(gb, b.shape)
        return ga, gb


def _int_matmul(input, other, op):
    """matmul of two integer tensors (torch computes these on the CPU): exact int64 products and sums on the host,
    wrapped to the operands' dtype like torch's integer GEMM (int8 @ int8 is int8, modulo 256)."""
    if input.dtype != other.dtype:
        raise RuntimeError(f"{op}: expected both operands to have the same dtype, but got {input.dtype.name} and "
                           f"{other.dtype.name}")
    a = _C.to(input, _C.dtype.int64, _C.device("cpu"), False).numpy()
    b = _C.to(other, _C.dtype.int64, _C.device("cpu"), False).numpy()
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"{op}: both arguments need at least 1 dimension, got {a.ndim}-D and {b.ndim}-D")
    try:
        r = np.matmul(a, b)
    except ValueError:
        raise RuntimeError(f"{op}: shapes {list(input.shape)} and {list(other.shape)} cannot be multiplied") from None
    r = _C.from_numpy(np.array(r, order="C"))  # (ascontiguousarray would make a 0-d result 1-d)
    return _C.to(r, input.dtype, input.device, False)


def _is_int(t):
    return isinstance(t, Tensor) and t.dtype != _C.dtype.bool and not t.dtype.is_floating_point


def matmul(input, other, *, out=None):
    if out is not None:
        return _call_with_out(matmul, "matmul", out, input, other)
    if _is_int(input) and _is_int(other):
        return _int_matmul(input, other, "matmul")
    if _needs_grad(input, other):
        return _Matmul.apply(input, other)
    return _C.matmul(input, other)


# The unwrapped matmul for mv and dot, which are not autocast ops on the cpu (torch keeps them in float32): held in
# a tuple, where _lowp.install's rebinding of module names to the wrapped ops does not reach it.
_MATMUL_PLAIN = (matmul,)


def mm(input, mat2, *, out=None):
    if out is not None:
        return _call_with_out(mm, "mm", out, input, mat2)
    if input.ndim != 2 or mat2.ndim != 2:
        raise ValueError(f"mm: expected 2-D tensors, got {input.ndim}-D and {mat2.ndim}-D")
    return matmul(input, mat2)


def bmm(input, mat2, *, out=None):
    if out is not None:
        return _call_with_out(bmm, "bmm", out, input, mat2)
    if input.ndim != 3 or mat2.ndim != 3:
        raise ValueError(f"bmm: expected 3-D tensors, got {input.ndim}-D and {mat2.ndim}-D")
    if input.shape[0] != mat2.shape[0]:
        raise ValueError(f"bmm: batch sizes differ: {input.shape[0]} and {mat2.shape[0]}")
    return matmul(input, mat2)


def mv(input, vec, *, out=None):
    if out is not None:
        return _call_with_out(mv, "mv", out, input, vec)
    return _MATMUL_PLAIN[0](input, vec)


def dot(input, other, *, out=None):
    if out is not None:
        return _call_with_out(dot, "dot", out, input, other)
    if input.ndim != 1 or other.ndim != 1:
        raise ValueError(f"dot: expected 1-D tensors, got {input.ndim}-D and {other.ndim}-D")
    return _MATMUL_PLAIN[0](input, other)


inner = dot


def outer(input, vec2):
    for name, v in (("self", input), ("vec2", vec2)):
        if v.ndim != 1:
            raise RuntimeError(f"outer: expected 1-D argument {name}, but got {v.ndim}-D (shape {list(v.shape)})")
    return mul(unsqueeze(input, 1), unsqueeze(vec2, 0))


ger = outer


class _Linear(Function):
    _double_backward = True  # the backward records (_D ops): differentiable again
    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        ctx.has_b = b is not None
        return _C.linear(x, w, b)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        gx = gw = gb = None
        # (the leading size spelled out: -1 is ambiguous when out_features or in_features is 0)
        g2 = _D.reshape(g, [math.prod(g.shape[:-1]), g.shape[-1]])
        if ctx.needs_input_grad[0]:
            gx = _D.reshape(_D.matmul(g2, w), list(x.shape))
        if ctx.needs_input_grad[1]:
            x2 = _D.reshape(x, [math.prod(x.shape[:-1]), x.shape[-1]])
            gw = _D.matmul(_D.transpose(g2, 0, 1), x2)
        if ctx.has_b and ctx.needs_input_grad[2]:
            gb = _D.sum(g2, [0], False)
        return gx, gw, gb


def linear(input, weight, bias=None):
    if bias is None and _isT(weight, Tensor) and weight.ndim == 1:  # torch: input @ weight, the last dim dropped
        return matmul(input, weight)
    if _needs_grad(input, weight, bias):
        return _Linear.apply(input, weight, bias)
    return _C.linear(input, weight, bias)


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    if out is not None:
        return _call_with_out(addmm, "addmm", out, input, mat1, mat2, beta=beta, alpha=alpha)
    if _needs_grad(input, mat1, mat2):
        return add(mul(input, beta) if beta != 1 else input, mul(matmul(mat1, mat2), alpha) if alpha != 1
                   else matmul(mat1, mat2))
    return _C.addmm(input, mat1, mat2, float(beta), float(alpha))


# ------------------------------------------------------------------------------------------------- double backward

def _dispatch(raw, rec):
    """raw (the kernel) unless grad mode is on and an argument requires grad, then rec (the recording op with the
    same signature): a plain backward pays one native check per op."""
    def op(*args):
        if _needs_grad(*args):
            return rec(*args)
        return raw(*args)
    op.__name__ = getattr(raw, "__name__", "op")
    return op


class _DiffOps:
    """dlcore._C's kernel signatures for the ops the backward functions above are written with, recorded when grad
    mode is on and an operand requires grad: with ``create_graph=True`` (grad mode on during backward) their
    gradients are then themselves differentiable. In a plain backward (grad mode off) each is its raw kernel after
    one check. The ops without a gradient (comparisons, masks, constants, rounding) are the raw kernels; any other
    name is an error, so that a backward cannot silently use an unrecorded differentiable kernel."""

    _NO_GRAD = frozenset(["eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_not", "isnan",
                          "isfinite", "isinf", "zeros", "full", "empty", "sign", "floor", "ceil", "trunc", "round",
                          "item", "any", "all", "arange_int"])

    def __getattr__(self, name):
        if name in _DiffOps._NO_GRAD:
            return getattr(_C, name)
        raise AttributeError(f"_ops._D.{name}: no recording form of this kernel (add one to _DiffOps)")


_D = _DiffOps()
for _name, _rec in {"add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "neg": neg, "exp": exp, "log": log,
                    "sin": sin, "cos": cos, "sqrt": sqrt, "rsqrt": rsqrt, "reciprocal": reciprocal, "tanh": tanh,
                    "sigmoid": sigmoid, "erf": erf, "sum": sum, "mean": mean,
                    "expand": expand, "reshape": reshape, "unsqueeze": unsqueeze, "squeeze": squeeze,
                    "permute": permute, "transpose": transpose, "matmul": matmul, "clone": clone,
                    "contiguous": contiguous, "where": where}.items():
    setattr(_DiffOps, _name, staticmethod(_dispatch(getattr(_C, _name), _rec)))
_DiffOps.pow_scalar = staticmethod(_dispatch(_C.pow_scalar, pow))
_DiffOps.to = staticmethod(_dispatch(_C.to, _to))


# ------------------------------------------------------------------------------------------------- NumPy keyword aliases

def _np_dim_kw(fn):
    """fn also taking NumPy's axis= for dim= and keepdims= for keepdim=, as torch's argument parser does."""
    def f(*args, **kwargs):
        if kwargs:
            for alias, name in (("axis", "dim"), ("keepdims", "keepdim")):
                if alias in kwargs:
                    if name in kwargs:
                        raise TypeError(f"{fn.__name__}() got both {name}= and its alias {alias}=")
                    kwargs[name] = kwargs.pop(alias)
        return fn(*args, **kwargs)
    f.__name__, f.__qualname__, f.__doc__, f.__wrapped__ = fn.__name__, fn.__qualname__, fn.__doc__, fn
    return f


for _name in ["sum", "mean", "prod", "amax", "amin", "max", "min", "argmax", "argmin", "std", "var", "any", "all",
              "logsumexp", "var_mean", "std_mean"]:
    globals()[_name] = _np_dim_kw(globals()[_name])
