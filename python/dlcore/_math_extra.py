"""Elementwise math beyond the foundation's: inverse trigonometric and hyperbolic functions, erfc/erfinv,
lgamma/digamma, frac, deg2rad/rad2deg, sinc, logit, signbit, nan_to_num, and the binary atan2, hypot, copysign,
fmax/fmin, xlogy, logaddexp/logaddexp2, heaviside, nextafter, with their autograd Functions, Tensor methods and
in-place variants (plus the in-place variants of the foundation's elementwise ops that torch.Tensor has).

The kernels are the elementwise family's (csrc/ops/elementwise: UnaryOp/BinaryOp, formulas in elementwise.h);
the derivatives follow PyTorch's derivatives.yaml and save only what they read.
"""
from __future__ import annotations

import math
import numbers

from . import _C, _ops
from .autograd import Function, _needs_grad
from ._ops import _unary_fn, _meta, _g_for, _D, _DiffOps, _dispatch

Tensor = _C.Tensor
_isT = isinstance

__all__ = ["asin", "acos", "atan", "sinh", "cosh", "tan", "asinh", "acosh", "atanh", "arcsin", "arccos", "arctan",
           "arcsinh", "arccosh", "arctanh", "erfc", "erfinv", "lgamma", "digamma", "frac", "deg2rad", "rad2deg",
           "sinc", "logit", "signbit", "nan_to_num", "atan2", "arctan2", "hypot", "copysign", "fmax", "fmin", "xlogy",
           "logaddexp", "logaddexp2", "heaviside", "nextafter", "sgn", "positive", "isposinf", "isneginf", "isreal",
           "float_power", "ldexp"]

_SQRT_PI = math.sqrt(math.pi)


# ------------------------------------------------------------------------------------------------- unary

def _rsqrt_of(t):
    return _D.rsqrt(t)


def _sq(x):
    return _D.mul(x, x)


asin = _unary_fn("asin", lambda x, o, g: _D.mul(g, _rsqrt_of(_D.sub(1.0, _sq(x)))), double=True)
acos = _unary_fn("acos", lambda x, o, g: _D.neg(_D.mul(g, _rsqrt_of(_D.sub(1.0, _sq(x))))), double=True)
atan = _unary_fn("atan", lambda x, o, g: _D.div(g, _D.add(_sq(x), 1.0)), double=True)
sinh = _unary_fn("sinh", lambda x, o, g: _D.mul(g, _D.cosh(x)), double=True)
cosh = _unary_fn("cosh", lambda x, o, g: _D.mul(g, _D.sinh(x)), double=True)
tan = _unary_fn("tan", lambda x, o, g: _D.mul(g, _D.add(_sq(o), 1.0)), "o", double=True)
asinh = _unary_fn("asinh", lambda x, o, g: _D.mul(g, _rsqrt_of(_D.add(_sq(x), 1.0))), double=True)
acosh = _unary_fn("acosh", lambda x, o, g: _D.mul(g, _rsqrt_of(_D.sub(_sq(x), 1.0))), double=True)
atanh = _unary_fn("atanh", lambda x, o, g: _D.div(g, _D.sub(1.0, _sq(x))), double=True)
arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh
# erfc' = -2/sqrt(pi) exp(-x^2); erfinv' = sqrt(pi)/2 exp(erfinv(x)^2) (reads the output)
erfc = _unary_fn("erfc", lambda x, o, g: _D.mul(g, _D.mul(_D.exp(_D.neg(_sq(x))), -2.0 / _SQRT_PI)), double=True)
erfinv = _unary_fn("erfinv", lambda x, o, g: _D.mul(g, _D.mul(_D.exp(_sq(o)), 0.5 * _SQRT_PI)), "o", double=True)
lgamma = _unary_fn("lgamma", lambda x, o, g: _D.mul(g, _D.digamma(x)), double=True)
digamma = _unary_fn("digamma", lambda x, o, g: _D.mul(g, _D.trigamma(x)), double=True)
frac = _unary_fn("frac", lambda x, o, g: g, "", double=True)
deg2rad = _unary_fn("deg2rad", lambda x, o, g: _D.mul(g, math.pi / 180.0), "", double=True)
rad2deg = _unary_fn("rad2deg", lambda x, o, g: _D.mul(g, 180.0 / math.pi), "", double=True)


def _sinc_grad(x, o, g):
    # (pi x cos(pi x) - sin(pi x)) / (pi x^2), 0 at x == 0
    px = _D.mul(x, math.pi)
    d = _D.div(_D.sub(_D.mul(px, _D.cos(px)), _D.sin(px)), _D.mul(px, x))
    return _D.mul(g, _D.where(_D.eq(x, 0), 0.0, d))


sinc = _unary_fn("sinc", _sinc_grad, double=True)

def _trigamma_rec(x):
    from .special import _Trigamma  # (special imports this module)
    return _Trigamma.apply(x)


# recording forms of this module's kernels for the double-backward formulas (_ops._D)
for _name, _rec in {"cosh": cosh, "sinh": sinh, "digamma": digamma, "trigamma": _trigamma_rec}.items():
    setattr(_DiffOps, _name, staticmethod(_dispatch(getattr(_C, _name), _rec)))


def signbit(input):
    """True where the sign bit is set (-0.0 and NaNs with the sign bit included), as torch.signbit."""
    return _C.signbit(input)


class _Logit(Function):
    _double_backward = True  # the backward is written with _D ops: recorded under create_graph

    @staticmethod
    def forward(ctx, x, eps):
        ctx.save_for_backward(x)
        ctx.eps = eps
        return _C.logit(x, eps)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        eps = ctx.eps
        d = _D.div(g, _D.mul(x, _D.sub(1.0, x)))
        if eps is None or eps < 0:
            # torch: NaN outside [0, 1]
            out = _C.logical_or(_C.lt(x, 0), _C.gt(x, 1))
            return _D.where(out, float("nan"), d), None
        out = _C.logical_or(_C.lt(x, eps), _C.gt(x, 1.0 - eps))
        return _D.where(out, 0.0, d), None


def logit(input, eps=None):
    """log(p / (1 - p)), with p clamped to [eps, 1 - eps] when eps is given (torch.logit)."""
    if eps is not None and (isinstance(eps, bool) or not isinstance(eps, numbers.Real)):
        raise TypeError(f"logit: eps must be a number or None, not {type(eps).__name__}")
    if _needs_grad(input):
        return _Logit.apply(input, eps)
    return _C.logit(input, eps)


_FLOAT_LIMITS = {
    _C.dtype.float16: 65504.0,
    _C.dtype.bfloat16: 3.3895313892515355e38,
    _C.dtype.float32: 3.4028234663852886e38,
    _C.dtype.float64: 1.7976931348623157e308,
}


def _nan_to_num_args(dtype, nan, posinf, neginf):
    for arg, v in (("nan", nan), ("posinf", posinf), ("neginf", neginf)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Real)):
            raise TypeError(f"nan_to_num(): argument '{arg}' must be a number or None, not {type(v).__name__}")
    big = _FLOAT_LIMITS[dtype]
    nan = 0.0 if nan is None else float(nan)
    posinf = big if posinf is None else float(posinf)
    neginf = -big if neginf is None else float(neginf)
    return nan, posinf, neginf


class _NanToNum(Function):
    _double_backward = True  # (a _D op: recorded under create_graph)

    @staticmethod
    def forward(ctx, x, nan, posinf, neginf):
        ctx.save_for_backward(x)
        return _C.nan_to_num(x, nan, posinf, neginf)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return _D.where(_C.isfinite(x), g, 0.0), None, None, None


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """Replaces NaN by nan, +inf by posinf and -inf by neginf (default: the dtype's largest/lowest finite value);
    integer and bool tensors come back unchanged (a copy), as in torch."""
    if not input.dtype.is_floating_point:
        return _ops.clone(input)
    args = _nan_to_num_args(input.dtype, nan, posinf, neginf)
    if _needs_grad(input):
        return _NanToNum.apply(input, *args)
    return _C.nan_to_num(input, *args)


def sgn(input):
    """sign for real tensors (torch.sgn; a bool tensor's sign is a copy, as dlcore.sign)."""
    return _ops.sign(input)


def positive(input):
    if input.dtype == _C.dtype.bool:
        raise TypeError("positive: the `+` operator, on a bool tensor is not supported.")
    return input


def isposinf(input):
    if not input.dtype.is_floating_point:
        return _C.zeros(list(input.shape), _C.dtype.bool, input.device)
    return _C.eq(input, float("inf"))


def isneginf(input):
    if not input.dtype.is_floating_point:
        return _C.zeros(list(input.shape), _C.dtype.bool, input.device)
    return _C.eq(input, float("-inf"))


def isreal(input):
    """Every element of a real tensor is real (dlcore has no complex dtypes)."""
    return _C.full(list(input.shape), 1.0, _C.dtype.bool, input.device)


# ------------------------------------------------------------------------------------------------- binary

def _as_operand(v, g, saved):
    """A binary operand for a derivative formula: the saved tensor, or the Python number as a 0-d CPU tensor of the
    gradient's dtype (a scalar operand for every device's kernel)."""
    if saved is not None:
        return saved
    if _isT(v, Tensor):
        return v
    return _C.full([], float(v), g.dtype, None)


def _binary_fn(name, grad, saves, dgrad=None):
    """A Function for a binary op whose derivatives grad(a, b, out, g, need_a, need_b) -> (ga, gb) are written with
    raw ops; saves: which of 'a', 'b', 'o' (the output) the derivatives read and the node keeps. dgrad: the same
    derivatives written with recording ops (dlcore._ops), used under create_graph (double backward)."""
    raw = getattr(_C, name)
    raw_out = getattr(_C, name + "_out")

    class _B(Function):
        @staticmethod
        def forward(ctx, a, b):
            out = raw(a, b)
            ctx.a, ctx.b = _meta(a), _meta(b)
            ctx.sa = None if _isT(a, Tensor) else a
            ctx.sb = None if _isT(b, Tensor) else b
            ctx.save_for_backward(a if "a" in saves and _isT(a, Tensor) else None,
                                  b if "b" in saves and _isT(b, Tensor) else None,
                                  out if "o" in saves else None)
            return out

        @staticmethod
        def backward(ctx, g):
            a, b, o = ctx.saved_tensors
            av = _as_operand(ctx.sa, g, a) if "a" in saves else None
            bv = _as_operand(ctx.sb, g, b) if "b" in saves else None
            need_a = ctx.a is not None and ctx.needs_input_grad[0]
            need_b = ctx.b is not None and ctx.needs_input_grad[1]
            ga, gb = grad(av, bv, o, g, need_a, need_b)
            return (_g_for(ga, ctx.a) if need_a and ga is not None else None,
                    _g_for(gb, ctx.b) if need_b and gb is not None else None)

        @staticmethod
        def _double_backward_fn(ctx, g):
            if dgrad is None:
                return NotImplemented
            a, b, o = ctx.saved_tensors  # (with their history: grad mode is on)
            av = _as_operand(ctx.sa, g, a) if "a" in saves else None
            bv = _as_operand(ctx.sb, g, b) if "b" in saves else None
            need_a = ctx.a is not None and ctx.needs_input_grad[0]
            need_b = ctx.b is not None and ctx.needs_input_grad[1]
            ga, gb = dgrad(av, bv, o, g, need_a, need_b)
            return (_g_for(ga, ctx.a) if need_a and ga is not None else None,
                    _g_for(gb, ctx.b) if need_b and gb is not None else None)

    _B.__name__ = name.capitalize() + "Backward"

    def op(input, other, *, out=None):
        if out is not None:
            # computed in the op's dtype, then cast into out (torch): the raw kernel writes out directly only when
            # out has that dtype (it would compute in out's dtype)
            rt = _C.result_type(input, other) if name in ("fmax", "fmin") else _ops._float_rt(input, other)
            return _ops._ew_out(name, out, op, (input, other), raw_out, rt if rt.is_floating_point else None)
        if _needs_grad(input, other):
            return _B.apply(input, other)
        return raw(input, other)

    op.__name__ = name
    return op


# The derivatives, each written once over an op namespace m: _C (raw kernels: the backward) or _Rec (recording
# ops: the same formula differentiable again, for create_graph). Masks and piecewise-constant factors stay raw
# (their derivative is 0 away from the kinks).

class _Rec:
    """The recording ops the derivatives use (dlcore._ops, and xlogy defined below)."""
    add, mul, where, reciprocal, neg, div, sub, exp, exp2 = (_ops.add, _ops.mul, _ops.where, _ops.reciprocal,
                                                             _ops.neg, _ops.div, _ops.sub, _ops.exp, _ops.exp2)

    @staticmethod
    def xlogy(a, b):
        return xlogy(a, b)


def _atan2_grad(m):
    def grad(a, b, o, g, need_a, need_b):
        # torch: 1 / (a^2 + b^2) with its infinity at a = b = 0 replaced by 0, so the origin gets a zero gradient
        d = m.add(m.mul(a, a), m.mul(b, b))
        r = m.mul(g, m.where(_C.eq(d, 0), 0.0, m.reciprocal(d)))
        return (m.mul(r, b) if need_a else None), (m.neg(m.mul(r, a)) if need_b else None)
    return grad


def _hypot_grad(m):
    def grad(a, b, o, g, need_a, need_b):
        r = m.div(g, o)
        return (m.mul(r, a) if need_a else None), (m.mul(r, b) if need_b else None)
    return grad


def _copysign_grad(m):
    def grad(a, b, o, g, need_a, need_b):
        # d/da = out / a (+-1: a constant factor), 0 where a == 0; nothing flows to the sign operand
        ga = m.mul(g, _C.where(_C.eq(a, 0), 0.0, _C.div(o, a))) if need_a else None
        gb = _C.zeros(list(g.shape), g.dtype, g.device) if need_b else None
        return ga, gb
    return grad


def _fmaxmin_grad(m, is_max):
    def grad(a, b, o, g, need_a, need_b):
        # torch: the gradient goes to a where a wins (ties included) or b is NaN, else to b
        to_a = _C.logical_or(_C.ge(a, b) if is_max else _C.le(a, b), _C.isnan(b))
        ga = m.where(to_a, g, 0.0) if need_a else None
        gb = m.where(to_a, 0.0, g) if need_b else None
        return ga, gb
    return grad


def _xlogy_grad(m):
    def grad(a, b, o, g, need_a, need_b):
        ga = gb = None
        if need_a:
            ga = m.where(_C.logical_and(_C.eq(a, 0), _C.le(b, 0)), 0.0, m.xlogy(g, b))
        if need_b:
            gb = m.div(m.mul(g, a), b)
        return ga, gb
    return grad


def _logaddexp_grad(m, base2):
    def grad(a, b, o, g, need_a, need_b):
        ex = m.exp2 if base2 else m.exp
        ga = m.div(g, m.add(ex(m.sub(b, a)), 1.0)) if need_a else None
        gb = m.div(g, m.add(ex(m.sub(a, b)), 1.0)) if need_b else None
        return ga, gb
    return grad


atan2 = _binary_fn("atan2", _atan2_grad(_C), "ab", _atan2_grad(_Rec))
arctan2 = atan2
hypot = _binary_fn("hypot", _hypot_grad(_C), "abo", _hypot_grad(_Rec))
copysign = _binary_fn("copysign", _copysign_grad(_C), "ao", _copysign_grad(_Rec))
fmax = _binary_fn("fmax", _fmaxmin_grad(_C, True), "ab", _fmaxmin_grad(_Rec, True))
fmin = _binary_fn("fmin", _fmaxmin_grad(_C, False), "ab", _fmaxmin_grad(_Rec, False))
xlogy = _binary_fn("xlogy", _xlogy_grad(_C), "ab", _xlogy_grad(_Rec))
logaddexp = _binary_fn("logaddexp", _logaddexp_grad(_C, False), "ab", _logaddexp_grad(_Rec, False))
logaddexp2 = _binary_fn("logaddexp2", _logaddexp_grad(_C, True), "ab", _logaddexp_grad(_Rec, True))


def _check_heaviside(input, values):
    if _isT(input, Tensor) and _isT(values, Tensor) and input.dtype != values.dtype:
        raise RuntimeError(f"heaviside is not yet implemented for tensors with different dtypes "
                           f"({input.dtype.name} and {values.dtype.name})")


def _no_derivative(name, fn):
    """fn for an in-place op recorded by autograd: torch has no derivative for heaviside/nextafter."""
    def f(self, other):
        if _needs_grad(self, other):
            raise RuntimeError(f"{name}_: the derivative for '{name}' is not implemented")
        return fn(self, other)
    f.__name__ = name
    return f


def heaviside(input, values, *, out=None):
    """0 where input < 0, values where input == 0, 1 where input > 0 (no gradient, as torch)."""
    _check_heaviside(input, values)
    if out is not None:
        if _isT(input, Tensor) and out.dtype != input.dtype:
            raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
        return _ops._ew_out("heaviside", out, heaviside, (input, values))
    return _C.heaviside(input, values)


def nextafter(input, other, *, out=None):
    """The next floating-point value after input towards other (no gradient, as torch)."""
    if out is not None:
        return _ops._ew_out("nextafter", out, nextafter, (input, other))
    if _isT(input, Tensor) and _isT(other, Tensor):
        rt = _C.result_type(input, other)
        if rt in (_C.dtype.float16, _C.dtype.bfloat16):
            # the step is taken in the 16-bit result dtype (float16 with an integer tensor: the kernel's float32
            # step rounded back to 16 bits left the value unchanged)
            a = input if input.dtype == rt else _C.to(input, rt, None, False)
            b = other if other.dtype == rt else _C.to(other, rt, None, False)
            return _nextafter16(a, b)
    return _C.nextafter(input, other)


def _nextafter16(a, b):
    """nextafter in the 16-bit format itself (the float32 kernel's step rounded back to 16 bits gave a): on the
    bits (float16 by NumPy; bfloat16 as the upper half of a float32, one step = 2^16 there), on the host."""
    import numpy as np
    dt, dev = a.dtype, a.device
    shape = list(np.broadcast_shapes(tuple(a.shape), tuple(b.shape)))
    av = np.broadcast_to(_C.to(a, _C.dtype.float32, "cpu", False)._raw_numpy(), shape).astype(np.float32)
    bv = np.broadcast_to(_C.to(b, _C.dtype.float32, "cpu", False)._raw_numpy(), shape).astype(np.float32)
    if dt == _C.dtype.float16:
        with np.errstate(all="ignore"):  # (65504 towards inf is inf, as in torch)
            r = np.nextafter(av.astype(np.float16), bv.astype(np.float16)).astype(np.float32)
        r = np.where(av == bv, bv, r)  # (NumPy's float16 nextafter(0, -0) is 0; torch: b, -0)
    else:
        bits = av.view(np.uint32).astype(np.int64)
        up = (bv > av) == (av > 0)  # away from zero when moving outwards
        step = np.where(up, 1 << 16, -(1 << 16))
        r = (bits + step).astype(np.uint32).view(np.float32)
        tiny = np.copysign(np.float32(2.0 ** -133), bv)  # from +-0: the smallest subnormal towards b
        r = np.where(av == 0, tiny, r)
        r = np.where(av == bv, bv, r)
        r = np.where(np.isnan(av) | np.isnan(bv), np.float32(np.nan), r)
    r = np.ascontiguousarray(r, dtype=np.float32).reshape(shape)  # (ascontiguousarray makes a 0-d array 1-d)
    return _C.to(_C.from_numpy(r), dt, dev, False)


def float_power(input, exponent, *, out=None):
    """input ** exponent computed in float64 (torch.float_power)."""
    if out is not None:
        if out.dtype != _C.dtype.float64:
            raise RuntimeError(f"the output given to float_power has dtype {out.dtype.name} but the operation's "
                               f"result requires dtype float64")
        return _ops._ew_out("float_power", out, float_power, (input, exponent))
    f64 = _C.dtype.float64
    if _isT(input, Tensor) and input.dtype != f64:
        input = input.double()
    if _isT(exponent, Tensor) and exponent.dtype != f64:
        exponent = exponent.double()
    if not _isT(input, Tensor):
        input = _C.full([], float(input), f64, exponent.device)
    return _ops.pow(input, exponent)


def ldexp(input, other, *, out=None):
    """input * 2 ** other, in torch's dtype: result_type(input, other) (0-d operands promote as for any binary op),
    the default float dtype when that is integral. An integer exponent scales exactly, as torch's ldexp kernel
    (std::ldexp): no power of two is formed on its own, so -inf * 2 ** -128 stays -inf and -0 * 2 ** 255 stays -0
    in float16/float32 (a factor that underflowed to 0 or overflowed to inf gave NaN); the product is taken in
    float64 from factors 2 ** (k/3) (k clamped to +-2100, past which every finite value over/underflows) and
    rounded once to the result dtype. A floating exponent: 2 ** other in other's dtype, times input (torch)."""
    if out is not None:
        return _ops._ew_out("ldexp", out, ldexp, (input, other))
    if not _isT(other, Tensor):
        return _ops.mul(input, 2.0 ** other)
    dt = _ops._float_rt(input, other)
    if other.dtype.is_floating_point or not (_isT(input, Tensor) and input.dtype.is_floating_point):
        # (torch: an integral input takes input * 2 ** other in the result dtype: 0 * 2 ** 255 is NaN in float32)
        if not _isT(input, Tensor) or input.dtype != dt:
            input = _ops._to(input, dt, None) if _isT(input, Tensor) else input
        return _ops.mul(input, _ops.exp2(other if other.dtype.is_floating_point else _ops._to(other, dt, None)))
    f64 = _C.dtype.float64
    k = _C.clamp(_C.to(other, _C.dtype.int64, None, False), -2100, 2100)
    k1 = _C.floor_divide(k, 3)
    k2 = _C.floor_divide(_C.sub(k, k1), 2)
    k3 = _C.sub(_C.sub(k, k1), k2)
    x = input if _isT(input, Tensor) and input.dtype == f64 else (
        _ops._to(input, f64, None) if _isT(input, Tensor) else float(input))
    for kk in (k1, k2, k3):
        x = _ops.mul(x, _C.exp2(_C.to(kk, f64, None, False)))  # (exact: |kk| <= 700)
    return x if x.dtype == dt else _ops._to(x, dt, None)


# ------------------------------------------------------------------------------------------------- Tensor methods

def _attach():
    from ._tensor import _inplace

    def method(fn):
        return lambda self, *args, **kwargs: fn(self, *args, **kwargs)

    def raw_unary(name):
        f = getattr(_C, name + "_")
        return lambda self: f(self)

    unary = {"asin": asin, "acos": acos, "atan": atan, "sinh": sinh, "cosh": cosh, "tan": tan, "asinh": asinh,
             "acosh": acosh, "atanh": atanh, "erfc": erfc, "erfinv": erfinv, "lgamma": lgamma, "digamma": digamma,
             "frac": frac, "deg2rad": deg2rad, "rad2deg": rad2deg, "sinc": sinc}
    for name, fn in unary.items():
        setattr(Tensor, name, method(fn))
        setattr(Tensor, name + "_", _inplace(raw_unary(name), fn))
    for alias, name in [("arcsin", "asin"), ("arccos", "acos"), ("arctan", "atan"), ("arcsinh", "asinh"),
                        ("arccosh", "acosh"), ("arctanh", "atanh")]:
        setattr(Tensor, alias, getattr(Tensor, name))
        setattr(Tensor, alias + "_", getattr(Tensor, name + "_"))
    Tensor.signbit = method(signbit)
    Tensor.logit = lambda self, eps=None: logit(self, eps)
    Tensor.logit_ = _inplace(lambda self, eps=None: _C.logit_(self, eps), logit)

    def nan_to_num_raw(self, nan=0.0, posinf=None, neginf=None):
        if not self.dtype.is_floating_point:
            return self
        return _C.nan_to_num_(self, *_nan_to_num_args(self.dtype, nan, posinf, neginf))

    Tensor.nan_to_num = lambda self, nan=0.0, posinf=None, neginf=None: nan_to_num(self, nan, posinf, neginf)
    Tensor.nan_to_num_ = _inplace(nan_to_num_raw, nan_to_num)

    binary = {"atan2": atan2, "hypot": hypot, "copysign": copysign, "xlogy": xlogy, "heaviside": heaviside,
              "nextafter": nextafter}
    for name, fn in binary.items():
        setattr(Tensor, name, method(fn))
        raw = getattr(_C, name + "_")
        if name == "heaviside":
            def raw(self, values, _r=raw):
                _check_heaviside(self, values)
                return _r(self, values)
        if name == "nextafter":
            raw = lambda self, other: _copy_back(self, nextafter(self, other))  # noqa: E731 (16-bit steps)
        if name in ("heaviside", "nextafter"):
            fn = _no_derivative(name, fn)
        setattr(Tensor, name + "_", _inplace(raw, fn))
    Tensor.arctan2 = Tensor.atan2
    Tensor.arctan2_ = Tensor.atan2_
    for name, fn in {"fmax": fmax, "fmin": fmin, "logaddexp": logaddexp, "logaddexp2": logaddexp2}.items():
        setattr(Tensor, name, method(fn))  # (no in-place form in torch)

    # the foundation's ops: methods and in-place forms torch.Tensor has
    Tensor.absolute_ = Tensor.abs_
    Tensor.negative_ = Tensor.neg_
    Tensor.fix = Tensor.trunc
    Tensor.fix_ = Tensor.trunc_
    Tensor.sgn = method(sgn)
    sign_ = Tensor.sign_

    def sgn_(self):
        return self if self.dtype == _C.dtype.bool else sign_(self)  # a bool tensor is its own sign
    Tensor.sgn_ = sgn_
    Tensor.positive = method(positive)
    Tensor.isposinf = method(isposinf)
    Tensor.isneginf = method(isneginf)
    Tensor.isreal = method(isreal)
    Tensor.fmod = method(_ops.fmod)
    Tensor.fmod_ = _inplace(lambda self, other: _copy_back(self, _ops.fmod(self, other)), _ops.fmod)
    Tensor.divide_ = Tensor.div_
    Tensor.true_divide_ = Tensor.div_
    Tensor.multiply_ = Tensor.mul_
    Tensor.subtract_ = Tensor.sub_
    Tensor.float_power = method(float_power)

    def float_power_(self, exponent):
        if self.dtype != _C.dtype.float64:
            raise RuntimeError(f"float_power_: the base given to float_power_ has dtype {self.dtype.name} but the "
                               f"operation's result requires dtype float64")
        return Tensor.pow_(self, exponent.double() if _isT(exponent, Tensor) else exponent)

    Tensor.float_power_ = float_power_
    Tensor.ldexp = method(ldexp)
    Tensor.ldexp_ = _inplace(lambda self, other: _copy_back(self, ldexp(self, other)), ldexp)

    # comparisons, logical and bitwise ops in place: the result cast to self's dtype; with autograd recording, the
    # new values carry a zero gradient (torch's EqBackward etc.)
    # (logical_and_ ... logical_not_, clamp_min_/clamp_max_, lerp_/addcmul_/addcdiv_: _tensor_extra.py)
    for name in ["eq", "ne", "lt", "le", "gt", "ge", "bitwise_and", "bitwise_or", "bitwise_xor"]:
        setattr(Tensor, name + "_", _inplace(getattr(_C, name + "_"), _nondiff_cast(getattr(_C, name))))
    Tensor.bitwise_not_ = _inplace(_C.bitwise_not_, _C.bitwise_not)  # (integer and bool tensors: no autograd)
    for alias, name in [("greater_", "gt_"), ("greater_equal_", "ge_"), ("less_", "lt_"), ("less_equal_", "le_"),
                        ("not_equal_", "ne_")]:
        setattr(Tensor, alias, getattr(Tensor, name))


def _copy_back(self, value):
    """self = value for an in-place op computed out of place; the result dtype must be castable to self's."""
    from ._runtime import can_cast
    if value.dtype != self.dtype and not can_cast(value.dtype, self.dtype):
        raise TypeError(f"in-place op: result type {value.dtype.name} can't be cast to the desired output type "
                        f"{self.dtype.name}")
    _C.copy_(self, value)
    return self


class _NonDiffCast(Function):
    """A non-differentiable op's result cast to its first operand's dtype, recorded with a zero gradient."""

    _double_backward = True  # (constant zero gradients)

    @staticmethod
    def forward(ctx, x, other, fn):
        ctx.x = _meta(x)
        ctx.o = _meta(other)
        r = fn(x) if other is None else fn(x, other)
        return _C.to(r, x.dtype, None, False)

    @staticmethod
    def backward(ctx, g):
        zx = _C.zeros(list(ctx.x[0]), ctx.x[1], g.device)
        zo = None if ctx.o is None else _C.zeros(list(ctx.o[0]), ctx.o[1], g.device)
        return zx, zo, None


def _nondiff_cast(fn):
    def f(self, other=None):
        if _needs_grad(self, other):
            return _NonDiffCast.apply(self, other, fn)
        r = fn(self) if other is None else fn(self, other)
        return _C.to(r, self.dtype, None, False)
    f.__name__ = getattr(fn, "__name__", "op")
    return f


_attach()
