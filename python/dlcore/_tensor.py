"""dlcore.Tensor's Python methods: operators, indexing, conversions, autograd entry points, __repr__.

The tensor class itself is the native ``dlcore._C.Tensor`` (storage, shape, strides, dtype, device and the
autograd fields); this module attaches the methods that are thin Python over the ops in ``_ops``.
"""
from __future__ import annotations

import builtins
import functools
import math
import numbers

import numpy as np

from . import _C, _ops
from . import autograd as _ag
from .autograd import Function, _needs_grad

Tensor = _C.Tensor
Tensor.__module__ = "dlcore"
_isT = isinstance
# The native accessors this module wraps.
if not hasattr(Tensor, "_raw_numpy"):
    Tensor._raw_numpy = Tensor.numpy
    Tensor._raw_shape = Tensor.shape


def _method(name=None):
    def deco(fn):
        setattr(Tensor, name or fn.__name__, fn)
        return fn
    return deco


class Size(tuple):
    """The shape of a tensor: a tuple that prints like torch.Size."""

    def __repr__(self):
        return f"dlcore.Size({list(self)})"

    def numel(self):
        return math.prod(self)

    def __getitem__(self, key):  # a slice of a Size is a Size (torch: x.shape[1:].numel())
        r = tuple.__getitem__(self, key)
        return Size(r) if isinstance(key, slice) else r

    def __add__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple(self) + tuple(other))

    def __radd__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple(other) + tuple(self))

    def __mul__(self, n):
        return Size(tuple(self) * n) if isinstance(n, int) else NotImplemented

    __rmul__ = __mul__


# ------------------------------------------------------------------------------------------------- shape & type

Tensor.size = lambda self, dim=None: Size(self.shape) if dim is None else self.shape[dim] if self.ndim else 1
Tensor.shape = property(lambda self: Size(Tensor._raw_shape.__get__(self)))


@_method()
def type(self, dtype=None):
    if dtype is None:
        return f"dlcore.{self.dtype.name}"
    if isinstance(dtype, str) and dtype.endswith("Tensor"):  # torch's legacy names: 'torch.cuda.ShortTensor'
        from ._torch_extra2 import _TYPE_NAMES
        names = {v: k for k, v in _TYPE_NAMES.items()}
        short = dtype.rsplit(".", 1)[-1]
        if short not in names:
            raise TypeError(f"type(): invalid type {dtype!r}")
        return self.to(getattr(_C.dtype, names[short]), device="cuda" if ".cuda." in dtype else "cpu")
    if hasattr(dtype, "device_type") and hasattr(dtype, "dtype"):  # dlcore.FloatTensor, dlcore.cuda.LongTensor
        return self.to(dtype.dtype, device=dtype.device_type)
    return self.to(dtype)


Tensor.is_floating_point = lambda self: self.dtype.is_floating_point
Tensor.__len__ = lambda self: self.shape[0] if self.ndim else _len_error()
Tensor.__hash__ = object.__hash__


def _len_error():
    raise TypeError("len() of a 0-d tensor")


@_method()
def __iter__(self):
    if self.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    for i in range(self.shape[0]):
        yield self[i]


@_method()
def item(self):
    return _C.item(self)


@_method()
def tolist(self):
    # (like torch: works on tensors that require grad, and on bfloat16, which NumPy lacks: its values are exact in
    # float32)
    if not self.ndim:
        return self.item()
    dt = _C.dtype.float32 if self.dtype == _C.dtype.bfloat16 else None
    return _C.Tensor._raw_numpy(_C.to(self, dt, "cpu", False)).tolist()


@_method()
def __array__(self, dtype=None, copy=None):
    a = _C.to(self, None, "cpu", False).numpy()
    if dtype is not None:
        a = a.astype(dtype, copy=False)
    if copy:
        a = a.copy()
    return a


Tensor.__array_priority__ = 1000


def __array_wrap__(self, array, context=None, return_scalar=False):
    # torch's: a NumPy ufunc applied to a tensor returns a tensor (np.sin(t) -> Tensor); bool results as uint8
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    return _C.from_numpy(np.require(array, requirements="C"))


Tensor.__array_wrap__ = __array_wrap__


def _scalar_of(self, kind):
    if self.numel() != 1:
        raise TypeError(f"only tensors with one element can be converted to Python scalars (got {self.numel()})")
    return kind(self.item())


Tensor.__float__ = lambda self: _scalar_of(self, float)
Tensor.__int__ = lambda self: _scalar_of(self, int)
Tensor.__complex__ = lambda self: _scalar_of(self, complex)


@_method()
def __index__(self):
    if self.dtype.is_floating_point or self.numel() != 1:
        raise TypeError("only integer tensors of a single element can be converted to an index")
    return int(self.item())


@_method()
def __bool__(self):
    n = self.numel()
    if n != 1:
        raise RuntimeError(f"Boolean value of Tensor with {n} elements is ambiguous")
    return bool(self.item())


@_method()
def __format__(self, spec):
    if self.ndim == 0:
        return format(self.item(), spec)
    return format(repr(self), spec)


@_method()
def numpy(self, *, force=False):
    if self.requires_grad and not force:
        raise RuntimeError("numpy: can't call numpy() on a tensor that requires grad; use tensor.detach().numpy()")
    if force:
        self = _C.to(self, None, "cpu", False)
    return _C.Tensor._raw_numpy(self)


# ------------------------------------------------------------------------------------------------- conversion

def _parse_to_args(args, kwargs):
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to(): unexpected keyword arguments {list(kwargs)}")
    for a in args:
        if _isT(a, Tensor):
            dtype, device = a.dtype, a.device
        elif _isT(a, _C.dtype) or a in (float, int, bool):
            dtype = _C.dtype.float32 if a is float else _C.dtype.int64 if a is int else (
                _C.dtype.bool if a is bool else a)
        elif _isT(a, (str, _C.device)):
            device = a
        elif a is None:
            continue
        else:
            raise TypeError(f"to(): expected a dtype, device or tensor, got {a!r}")
    return dtype, device, copy


@_method()
def to(self, *args, **kwargs):
    dtype, device, copy = _parse_to_args(args, dict(kwargs))
    return _ops._to(self, dtype, device, copy)


Tensor.cpu = lambda self: _ops._to(self, None, "cpu")
Tensor.cuda = lambda self, device=None, non_blocking=False: _ops._to(
    self, None, "cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device))
Tensor.float = lambda self: _ops._to(self, _C.dtype.float32, None)
Tensor.double = lambda self: _ops._to(self, _C.dtype.float64, None)
Tensor.half = lambda self: _ops._to(self, _C.dtype.float16, None)
Tensor.bfloat16 = lambda self: _ops._to(self, _C.dtype.bfloat16, None)
Tensor.long = lambda self: _ops._to(self, _C.dtype.int64, None)
Tensor.int = lambda self: _ops._to(self, _C.dtype.int32, None)
Tensor.bool = lambda self: _ops._to(self, _C.dtype.bool, None)
Tensor.byte = lambda self: _ops._to(self, _C.dtype.uint8, None)
Tensor.char = lambda self: _ops._to(self, _C.dtype.int8, None)
Tensor.short = lambda self: _ops._to(self, _C.dtype.int16, None)
Tensor.type_as = lambda self, other: _ops._to(self, other.dtype, None)


# ------------------------------------------------------------------------------------------------- autograd

@_method()
def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    _ag.backward(self, gradient, retain_graph, create_graph, inputs)


@_method()
def detach(self):
    return self._alias()


@_method()
def detach_(self):
    d = self.__dict__
    grp = d.get("_view_group")
    if (grp is not None and grp.base() is not self) or "_nograd_view" in d:
        # as torch: a view's history is tied to its base's (an in-place op on an alias would re-attach it)
        raise RuntimeError("Can't detach views in-place. Use detach() instead.")
    self.grad_fn = None
    self.requires_grad = False
    return self


@_method()
def requires_grad_(self, requires_grad=True):
    self.requires_grad = requires_grad
    return self


@_method()
def retain_grad(self):
    if not self.requires_grad:
        raise RuntimeError("retain_grad: can't retain_grad on a tensor that has requires_grad=False")
    _ag._retain_grad(self)


Tensor.retains_grad = property(lambda self: self._retains_grad if self.grad_fn is not None else False)


@_method()
def register_hook(self, hook):
    """hook(grad) -> grad or None, called when the gradient w.r.t. this tensor is computed."""
    if not self.requires_grad:
        raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't require gradient")
    if self.grad_fn is None:
        hooks = self.__dict__.setdefault("_grad_hooks", [])
    else:  # applied by the engine to the gradient of this output before its node runs
        hooks = self.grad_fn.__dict__.setdefault("_pre_hooks", {}).setdefault(self._output_nr, [])
    hooks.append(hook)

    class _Handle:
        def remove(_self):
            if hook in hooks:
                hooks.remove(hook)

    return _Handle()


def _data_get(self):
    return self._alias()


def _data_set(self, value):
    if not _isT(value, Tensor):
        raise TypeError("data: assigned value must be a Tensor")
    self._set_data(value)


Tensor.data = property(_data_get, _data_set)


# ------------------------------------------------------------------------------------------------- operators

def _binary(op, rop=None):
    def fwd(self, other):
        if not _isT(other, (Tensor, numbers.Number, np.generic)):
            return NotImplemented
        return op(self, other)

    def rev(self, other):
        if not _isT(other, (Tensor, numbers.Number, np.generic)):
            return NotImplemented
        return op(other, self)

    return fwd, rev


for _name, _fn in [("add", _ops.add), ("sub", _ops.sub), ("mul", _ops.mul), ("truediv", _ops.div),
                   ("floordiv", _ops.floor_divide), ("mod", _ops.remainder), ("pow", _ops.pow),
                   ("and", _ops.bitwise_and), ("or", _ops.bitwise_or), ("xor", _ops.bitwise_xor)]:
    _f, _r = _binary(_fn)
    setattr(Tensor, f"__{_name}__", _f)
    setattr(Tensor, f"__r{_name}__", _r)


def _rpow(self, other):
    if not _isT(other, (Tensor, numbers.Number, np.generic)):
        return NotImplemented
    if not _isT(other, Tensor):
        other = _C.full([], float(other) if isinstance(other, float) else other, _C.result_type(other, self),
                        self.device) if False else _full_like_scalar(other, self)
    return _ops.pow(other, self)


def _full_like_scalar(v, ref):
    dt = _C.result_type(ref, v)
    if isinstance(v, bool) or isinstance(v, numbers.Integral):
        v = int(v)
        if dt == _C.dtype.uint8 and -(1 << 63) <= v < 0:
            v &= 0xFF  # torch wraps a negative scalar into an unsigned tensor's dtype: (-3) ** uint8 is 253 ** uint8
        return _C.full_int([], v, dt, ref.device)
    return _C.full([], float(v), dt, ref.device)


Tensor.__rpow__ = _rpow
Tensor.__matmul__ = lambda self, other: _ops.matmul(self, other) if _isT(other, Tensor) else NotImplemented
Tensor.__rmatmul__ = lambda self, other: _ops.matmul(other, self) if _isT(other, Tensor) else NotImplemented
Tensor.__neg__ = lambda self: _ops.neg(self)


def _pos(self):
    if self.dtype == _C.dtype.bool:  # (torch: RuntimeError, as torch.positive)
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return self


Tensor.__pos__ = _pos
Tensor.__abs__ = lambda self: _ops.abs(self)
Tensor.__invert__ = lambda self: _C.bitwise_not(self)
for _name, _fn in [("eq", _C.eq), ("ne", _C.ne), ("lt", _C.lt), ("le", _C.le), ("gt", _C.gt), ("ge", _C.ge)]:
    setattr(Tensor, f"__{_name}__", (lambda f: lambda self, other: f(self, other)
                                     if _isT(other, (Tensor, numbers.Number, np.generic)) else NotImplemented)(_fn))


# in-place operators and methods

def _inplace(raw_inplace, functional):
    """An in-place method: raw when no autograd is involved, else out-of-place + copy + history rebase."""
    op_name = getattr(functional, "__name__", "")
    op_name = op_name + "_" if op_name.isidentifier() else "in-place op"

    def method(self, *args, **kwargs):
        if _needs_grad(self, *args):
            grp = _inplace_group(self)
            _check_no_internal_overlap(self, op_name)
            prev = _ops.clone(self) if self.requires_grad else self
            out = functional(prev, *args, **kwargs)
            if out.dtype != self.dtype:
                raise TypeError(f"in-place op: result type {out.dtype.name} can't be cast to the desired output "
                                f"type {self.dtype.name}")
            _C.copy_(self, out)
            _rebase_inplace(self, out, grp)
            return self
        if "_nograd_view" in self.__dict__:
            _check_nograd_view(self)
        if kwargs:
            out = functional(self, *args, **kwargs)
            _check_cast_back(out, self, op_name)
            _C.copy_(self, out)
            return self
        return raw_inplace(self, *args)

    return method


def _check_cast_back(out, t, op):
    """torch's rule for writing a result into t: no float -> integer/bool or integer -> bool narrowing of kind."""
    if out.dtype != t.dtype:
        from ._runtime import can_cast
        if not can_cast(out.dtype, t.dtype):
            raise TypeError(f"{op}: result type {out.dtype.name} can't be cast to the desired output type "
                            f"{t.dtype.name}")


def _check_no_internal_overlap(t, op):
    if t._has_internal_overlap():
        raise RuntimeError(f"{op}: unsupported operation: more than one element of the written-to tensor refers to a "
                           f"single memory location (shape {list(t.shape)}, strides {list(t.stride())}). Please "
                           f"clone() the tensor before performing the operation.")


_NOGRAD_VIEW_MSG = (
    "A view was created in no_grad mode and is being modified inplace with grad mode enabled. Given that this use "
    "case is ambiguous and error-prone, it is forbidden. You can clarify your code by moving both the view and the "
    "inplace either both inside the no_grad block (if you don't want the inplace to be tracked) or both outside (if "
    "you want the inplace to be tracked).")

_UNTRACKED_VIEW_MSG = (
    "in-place operation recorded by autograd on a view of a larger tensor that does not require grad (e.g. "
    "buf[:, 0].copy_(h) or buf[1:].add_(h) with buf = zeros(...) and h requiring grad): dlcore does not track views "
    "of tensors that do not require grad, so the base would silently miss the gradient history. Write through the "
    "base instead (buf[:, 0] = h records the history on buf) or build the result out of place (stack / cat).")


def _check_nograd_view(t):
    """Raises (as torch) for an in-place op with grad mode on targeting a view made with grad mode off of a tensor
    that requires grad (dlcore._ops._plain_view marks them)."""
    if "_nograd_view" in t.__dict__ and _ag.is_grad_enabled():
        raise RuntimeError(_NOGRAD_VIEW_MSG)


def _inplace_group(t):
    """Checks that t may be modified in place while autograd records; returns t's view group when other live
    aliases made by recorded view ops must have their history rebased too (else None)."""
    if t.requires_grad and t.grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    d = t.__dict__
    grp = d.get("_view_group")
    if grp is None:
        _check_nograd_view(t)
        if not t.requires_grad and (t.storage_offset() != 0 or t.nbytes < t._storage_nbytes()):
            raise RuntimeError(_UNTRACKED_VIEW_MSG)
        return None
    if grp.fn is None and grp.base is not None:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")
    if d.get("_multi_view"):
        raise RuntimeError("in-place modification of a view created by a function that returns multiple views "
                           "(unbind, split, chunk) is not allowed while autograd records; clone the output "
                           "(e.g. y = x.unbind(0)[i].clone()) before modifying it in place")
    others = [m for m in grp.live_members() if m is not t and m.grad_fn is not None]
    if not others:
        # No other live alias depends on the group's history: t simply becomes a tensor of its own.
        del d["_view_group"]
        return None
    return grp


def _rebase_inplace(t, out, grp):
    """t's values were just overwritten by out's (same shape and dtype; out carries the new history): t takes
    out's history; with a view group, the base's history becomes 'old base with t's region replaced by out'
    (_CopySlices) and every other live alias's history is regenerated as a strided view of the new base."""
    retained = t.grad_fn is not None and getattr(t, "_retains_grad", False)
    if retained:  # retain_grad() follows the tensor: its .grad is the gradient of the new value (torch)
        r = t.grad_fn._retained
        if r is not None:
            r.pop(t._output_nr, None)
    t.requires_grad = True
    t.grad_fn = out.grad_fn
    t._output_nr = out._output_nr
    if retained:
        _ag._retain_grad(t)
    if grp is None:
        return
    geom = _ops._geometry(t)
    base = grp.base()
    if base is t or (geom == grp.geom and base is None):
        grp.fn, grp.nr = out.grad_fn, out._output_nr
    else:
        old = _C.as_strided(t, *grp.geom)
        old.requires_grad = True
        old.grad_fn = grp.fn
        old._output_nr = grp.nr
        new = _ops._CopySlices.apply(old, out, grp.geom, geom)
        grp.fn, grp.nr = new.grad_fn, new._output_nr
    new_base = None
    for m in grp.live_members():
        if m is t:
            continue
        if m is base:
            m.grad_fn, m._output_nr = grp.fn, grp.nr
            continue
        if new_base is None:
            new_base = _C.as_strided(t, *grp.geom)
            new_base.requires_grad = True
            new_base.grad_fn = grp.fn
            new_base._output_nr = grp.nr
        v = _ops._AsStrided.apply(new_base, grp.geom, _ops._geometry(m))
        m.grad_fn, m._output_nr = v.grad_fn, v._output_nr


def _inplace_with_history(t, compute, op="in-place op", clone=True):
    """An in-place op on t recorded by autograd, for ops computed out of place: compute(src) gives the result
    (with its history) from src, a clone of t when t records history (so what compute saves is not overwritten),
    else t itself (clone=False: compute ignores its argument); the result is written into t and t's history (and, through its view group, its base's and the
    other live aliases') rebased onto it. Raises before anything is written when the op is not allowed."""
    grp = _inplace_group(t)
    _check_no_internal_overlap(t, op)
    out = compute(_ops.clone(t) if clone and t.requires_grad else t)
    if out.dtype != t.dtype:
        raise TypeError(f"{op}: result type {out.dtype.name} can't be cast to the desired output type {t.dtype.name}")
    _C.copy_(t, out)
    if not out.requires_grad:
        return t
    _rebase_inplace(t, out, grp)
    return t


for _name, _raw, _fn in [("add_", _C.add_, _ops.add), ("sub_", _C.sub_, _ops.sub), ("mul_", _C.mul_, _ops.mul),
                         ("div_", _C.div_, _ops.div), ("pow_", None, _ops.pow),
                         ("floor_divide_", _C.floor_divide_, _ops.floor_divide),
                         ("remainder_", _C.remainder_, _ops.remainder)]:
    if _raw is None:
        def _raw(self, other, _f=_fn, _n=_name):
            out = _f(self, other)
            _check_cast_back(out, self, _n)  # e.g. int.pow_(0.5): torch raises
            _C.copy_(self, out)
            return self
    setattr(Tensor, _name, _inplace(_raw, _fn))


def _add_inplace_alpha(self, other, *, alpha=1):
    if alpha != 1:
        # one fused pass when nothing needs autograd (same shape/dtype contiguous cpu floats); else mul then add_
        if (_isT(other, Tensor) and not _needs_grad(self, other) and "_nograd_view" not in self.__dict__
                and isinstance(alpha, (int, float)) and _C._add_scaled_(self, other, float(alpha))):
            return self
        other = _ops._scaled(self, other, alpha)
    return Tensor._add_plain(self, other)


Tensor._add_plain = Tensor.add_
Tensor.add_ = _add_inplace_alpha
Tensor._sub_plain = Tensor.sub_
Tensor.sub_ = lambda self, other, *, alpha=1: Tensor._sub_plain(self, _ops._scaled(self, other, alpha, sub=True) if alpha != 1 else other)
Tensor.__iadd__ = lambda self, other: Tensor._add_plain(self, other)
Tensor.__isub__ = lambda self, other: Tensor._sub_plain(self, other)
Tensor.__imul__ = lambda self, other: Tensor.mul_(self, other)
Tensor.__itruediv__ = lambda self, other: Tensor.div_(self, other)
Tensor.__ifloordiv__ = lambda self, other: Tensor.floor_divide_(self, other)
Tensor.__imod__ = lambda self, other: Tensor.remainder_(self, other)
Tensor.__ipow__ = lambda self, other: Tensor.pow_(self, other)

for _name in ["exp", "log", "sqrt", "rsqrt", "abs", "sign", "square", "reciprocal", "log1p", "expm1", "log2",
              "log10", "exp2", "sin", "cos", "tanh", "sigmoid", "erf", "floor", "ceil", "trunc", "neg"]:
    _fn = getattr(_ops, _name)
    setattr(Tensor, _name, (lambda f: lambda self: f(self))(_fn))
    setattr(Tensor, _name + "_", _inplace(getattr(_C, _name + "_"), _fn))
Tensor.sign_ = _inplace(lambda self, _r=_C.sign_: self if self.dtype == _C.dtype.bool else _r(self), _ops.sign)
Tensor.negative = Tensor.neg
Tensor.absolute = Tensor.abs
Tensor.round = lambda self, decimals=0: _ops.round(self, decimals)
Tensor.round_ = _inplace(lambda self, decimals=0: _C.round_(self) if decimals == 0 else
                         _C.copy_(self, _ops.round(self, decimals)) or self,
                         lambda self, decimals=0: _ops.round(self, decimals))
Tensor.clamp = lambda self, min=None, max=None: _ops.clamp(self, min, max)
Tensor.clip = Tensor.clamp
Tensor.clamp_min = lambda self, min: _ops.clamp(self, min=min)
Tensor.clamp_max = lambda self, max: _ops.clamp(self, max=max)


def _clamp_raw(self, min=None, max=None):
    if (_isT(min, Tensor) or _isT(max, Tensor)
            or (not self.dtype.is_floating_point and (isinstance(min, float) or isinstance(max, float)))):
        out = _ops.clamp(self, min, max)
        _check_cast_back(out, self, "clamp_")  # an integer tensor clamped in place to float bounds: torch raises
        _C.copy_(self, out)
        return self
    return _C.clamp_(self, min, max)


Tensor.clamp_ = _inplace(_clamp_raw, _ops.clamp)
Tensor.clip_ = Tensor.clamp_

for _name in ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "floor_divide", "remainder", "eq", "ne",
              "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and",
              "bitwise_or", "bitwise_xor", "bitwise_not", "isnan", "isinf", "isfinite", "allclose", "isclose",
              "equal", "where", "sum", "mean", "var", "std", "amax", "amin", "max", "min", "argmax", "argmin",
              "prod", "any", "all", "logsumexp", "norm", "dist", "reshape", "view", "flatten", "unflatten",
              "squeeze", "unsqueeze", "permute", "transpose", "swapaxes", "swapdims", "t", "movedim", "expand",
              "broadcast_to", "select", "narrow", "diagonal", "as_strided", "contiguous", "clone", "matmul", "mm",
              "bmm", "mv", "dot", "outer", "var_mean", "std_mean", "rsub", "multiply", "subtract", "divide",
              "true_divide", "greater", "greater_equal", "less", "less_equal", "not_equal", "nonzero"]:
    if hasattr(_ops, _name):
        setattr(Tensor, _name, getattr(_ops, _name))
Tensor.where = lambda self, condition, other: _ops.where(condition, self, other)


def _contains(self, element):
    """`element in t`: any element equal to it (a number or a tensor broadcast against t), like torch."""
    if isinstance(element, (Tensor, numbers.Number)):
        return bool(_C.item(_C.any(_C.eq(self, element), None, False)))
    raise RuntimeError(f"Tensor.__contains__ only supports Tensor or scalar, but you passed in a "
                       f"{builtins.type(element).__name__}")


Tensor.__contains__ = _contains
Tensor.view_as = lambda self, other: _ops.view(self, list(other.shape))
Tensor.reshape_as = lambda self, other: _ops.reshape(self, list(other.shape))
Tensor.expand_as = lambda self, other: _ops.expand(self, list(other.shape))
Tensor.T = property(lambda self: _ops.permute(self, list(range(self.ndim))[::-1]))
Tensor.mT = property(lambda self: _ops.transpose(self, -2, -1))
Tensor.ndimension = lambda self: self.ndim
Tensor.nelement = Tensor.numel
Tensor.new_tensor = lambda self, data, dtype=None, device=None, requires_grad=False: _new_from(
    self, "tensor", data, dtype=dtype, device=device, requires_grad=requires_grad)


def _new_from(self, kind, *args, dtype=None, device=None, requires_grad=False):
    from . import _creation
    fn = getattr(_creation, kind)
    return fn(*args, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


Tensor.new_zeros = lambda self, *size, dtype=None, device=None, requires_grad=False: _new_from(
    self, "zeros", *size, dtype=dtype, device=device, requires_grad=requires_grad)
Tensor.new_ones = lambda self, *size, dtype=None, device=None, requires_grad=False: _new_from(
    self, "ones", *size, dtype=dtype, device=device, requires_grad=requires_grad)
Tensor.new_empty = lambda self, *size, dtype=None, device=None, requires_grad=False: _new_from(
    self, "empty", *size, dtype=dtype, device=device, requires_grad=requires_grad)
Tensor.new_full = lambda self, size, fill_value, dtype=None, device=None, requires_grad=False: _new_from(
    self, "full", size, fill_value, dtype=dtype, device=device, requires_grad=requires_grad)


@_method()
def zero_(self):
    return Tensor.fill_(self, 0)


@_method()
def fill_(self, value):
    if _needs_grad(self, value):
        src = value if _isT(value, Tensor) else _C.full([], float(value), self.dtype, self.device)
        return Tensor.copy_(self, src)
    _check_nograd_view(self)
    _C.fill_(self, value)
    return self


@_method()
def copy_(self, src, non_blocking=False):
    if not _isT(src, Tensor):
        raise TypeError(f"copy_: expected a Tensor source, got {builtins.type(src).__name__}")
    if _needs_grad(self, src):
        grp = _inplace_group(self)
        out = _ops._to(_ops.expand(src, list(self.shape)) if src.shape != self.shape else src, self.dtype,
                       self.device)
        _C.copy_(self, out)
        if grp is None and self.grad_fn is not None:
            # torch's CopyBackwards: the old history stays an input of the new node and gets zeros (a.grad is
            # zeros, not None, after b = a * 2; b.copy_(s)), src gets the gradient
            old = self._alias()
            old.requires_grad = True
            old.grad_fn, old._output_nr = self.grad_fn, self._output_nr
            out = _CopyInto.apply(old, out)
        elif out is src and src.requires_grad:
            # same shape, dtype and device: self gets a node of its own whose gradient passes to src (CopyBackwards)
            out = _ops._Identity.apply(src, _alias_of)
        if not out.requires_grad:
            # self now holds constants: no gradient reaches its old history through the overwritten values
            old = self._alias()
            old.requires_grad = True
            old.grad_fn, old._output_nr = self.grad_fn, self._output_nr
            out = _Overwritten.apply(old, out)
        _rebase_inplace(self, out, grp)
        return self
    _check_nograd_view(self)
    _C.copy_(self, src)
    return self


def _alias_of(t):
    return t._alias()


class _CopyInto(Function):
    """copy_ over a tensor with history: the old value's gradient is zero, the source's is the gradient."""

    @staticmethod
    def forward(ctx, old, new):
        ctx.shape, ctx.dtype = list(old.shape), old.dtype
        return new._alias()

    @staticmethod
    def backward(ctx, g):
        return _C.zeros(ctx.shape, ctx.dtype, g.device), g


class _Overwritten(Function):
    """A tensor whose values were replaced by constants: no gradient flows to its old history."""

    @staticmethod
    def forward(ctx, old, new):
        return new._alias()

    @staticmethod
    def backward(ctx, g):
        return None, None


def _fill_sampled(self, values):
    """Writes sampled values into self in place. While autograd records and self requires grad this is a recorded
    copy_ (a leaf raises like torch: 'a leaf Variable that requires grad is being used in an in-place operation';
    a non-leaf's old history gets no gradient); otherwise a plain copy."""
    if _needs_grad(self):
        return Tensor.copy_(self, values)
    _check_nograd_view(self)
    _C.copy_(self, values)
    return self


@_method()
def uniform_(self, a=0.0, b=1.0, *, generator=None):
    from . import _creation
    if a > b:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={a} > to={b}")
    return _fill_sampled(self, _creation._random(list(self.shape), self.dtype, self.device, "uniform", a, b,
                                                 generator))


@_method()
def normal_(self, mean=0.0, std=1.0, *, generator=None):
    from . import _creation
    if std < 0:
        raise RuntimeError(f"normal_ expects std >= 0.0, but found std {std}")
    return _fill_sampled(self, _creation._random(list(self.shape), self.dtype, self.device, "normal", mean, std,
                                                 generator))


@_method()
def bernoulli_(self, p=0.5, *, generator=None):
    from . import _creation
    return _fill_sampled(self, _creation._random(list(self.shape), self.dtype, self.device, "bernoulli", p, 0.0,
                                                 generator))


@_method()
def random_(self, low=0, high=None, *, generator=None):
    from . import _creation
    if high is None:
        low, high = 0, low if low else 2 ** 24
    return _fill_sampled(self, _creation.randint(low, high, list(self.shape), dtype=self.dtype, device=self.device,
                                                 generator=generator))


# ------------------------------------------------------------------------------------------------- indexing

def _is_basic(key):
    return key is None or key is Ellipsis or isinstance(key, (int, slice, np.integer)) and not isinstance(key, bool)


def _expand_key(key, ndim):
    """Normalises a basic index (ints, slices, None, Ellipsis) to a full list of per-dim entries."""
    if not isinstance(key, tuple):
        key = (key,)
    n_consumed = builtins.sum(1 for k in key if k is not None and k is not Ellipsis)
    if n_consumed > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    out = []
    seen_ellipsis = False
    for k in key:
        if k is Ellipsis:
            if seen_ellipsis:
                raise IndexError("an index can only have a single ellipsis ('...')")
            seen_ellipsis = True
            out.extend([slice(None)] * (ndim - n_consumed))
        else:
            out.append(k)
    if not seen_ellipsis:
        out.extend([slice(None)] * (ndim - n_consumed))
    return out


def _basic_index(x, key):
    """A view of x for a basic index, made of _C view primitives (no autograd)."""
    entries = _expand_key(key, x.ndim)
    d = 0
    for k in entries:
        if k is None:
            x = _C.unsqueeze(x, d)
            d += 1
        elif isinstance(k, slice):
            n = x.shape[d]
            start, stop, step = k.indices(n)
            if step <= 0:
                raise ValueError("step must be greater than zero (negative steps are not supported; use flip)")
            x = _C.slice(x, d, start, builtins.max(stop, start), step)
            d += 1
        else:
            i = int(k)
            n = x.shape[d]
            if i < -n or i >= n:
                raise IndexError(f"index {i} is out of bounds for dimension {d} with size {n}")
            x = _C.select(x, d, i)
    return x


def _all_basic(key):
    if isinstance(key, tuple):
        return builtins.all(_is_basic(k) for k in key)
    return _is_basic(key)


def _torch_key(key):
    """torch's (and old NumPy's) reading of a list index: a short list holding a sequence, slice, tensor, None or
    Ellipsis is a tuple of indices (x[[[0, 1], [1, 2]]] is x[[0, 1], [1, 2]]); a range is a list of ints."""
    if builtins.type(key) is list:
        if len(key) < 32 and builtins.any(k is None or k is Ellipsis or isinstance(k, (list, tuple, range, slice))
                                          or _isT(k, Tensor) for k in key):
            import warnings
            warnings.warn("Using a non-tuple sequence for multidimensional indexing is deprecated (as in torch); use "
                          "x[tuple(seq)] instead of x[seq]", UserWarning, stacklevel=3)
            return tuple(key)
    elif builtins.type(key) is range:
        return list(key)
    return key


@_method()
def __getitem__(self, key):
    if key is True or key is False or (isinstance(key, Tensor) and key.ndim == 0 and key.dtype == _C.dtype.bool):
        # torch: a scalar bool index adds a leading dim of size 1 (True) or 0 (False)
        keep = key if key is True or key is False else bool(_C.item(key))
        return self[None] if keep else self[None][:0]
    key = _torch_key(key)
    if _all_basic(key):
        if _needs_grad(self):
            return _ops._mark_view(self, _ops._Slice.apply(self, _basic_index, key))
        return _ops._plain_view(self, _basic_index(self, key))
    from . import _indexing
    return _indexing.getitem_advanced(self, key)


class _SetItemBasic(Function):
    """x[key] = v (in place) recorded for autograd: x's gradient has the written region zeroed, v's is the region."""

    @staticmethod
    def forward(ctx, x, v, key):
        ctx.key = key
        ctx.v_meta = (v.shape, v.dtype) if _isT(v, Tensor) else None
        return x

    @staticmethod
    def backward(ctx, g):
        gx = _C.clone(g)
        region = _basic_index(gx, ctx.key)
        gv = None
        if ctx.v_meta is not None:
            gv = _ops._g_for(_C.clone(region), ctx.v_meta)
        _C.fill_(region, 0)
        return gx, gv, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        """The backward with recording ops (create_graph): x's part (g with the region zeroed, self-adjoint) and
        v's (the region of g: basic indexing, which records)."""
        key = ctx.key

        def zero_raw(t):
            t = _C.clone(t)
            _C.fill_(_basic_index(t, key), 0)
            return t
        gx = _ag._linear_pair(zero_raw, zero_raw)[0](g)
        gv = None
        if ctx.v_meta is not None:
            gv = _ops._g_for(_ops.clone(_ops._slice_op(g, _basic_index, key)), ctx.v_meta)
        return gx, gv, None


@_method()
def __setitem__(self, key, value):
    key = _torch_key(key)
    if not _all_basic(key):
        from . import _indexing
        return _indexing.setitem_advanced(self, key, value)
    view = _basic_index(self, key)
    _check_no_internal_overlap(view, "__setitem__")  # e.g. x.expand(3, 2)[0] = v (torch raises, grad or not)
    record = _needs_grad(self, value)
    if record:
        grp = _inplace_group(self)  # raises before anything is written
    else:
        _check_nograd_view(self)
    if _isT(value, Tensor):
        src = value
        if src.device != self.device:
            src = _C.to(src, None, self.device, False)
        if src.shape != view.shape:
            src = _C.expand(src, list(view.shape)) if src.ndim <= view.ndim else _C.reshape(src, list(view.shape))
        _C.copy_(view, src)
    else:
        _C.fill_(view, value)
    if record:
        # Rebase: the new history of self is "old history with a region overwritten by value".
        alias = self._alias()
        if self.requires_grad:
            alias.requires_grad = True
            alias.grad_fn = self.grad_fn
            alias._output_nr = self._output_nr
        out = _SetItemBasic.apply(alias, value, key)
        _rebase_inplace(self, out, grp)


# (repr and str: _torch_extra2.py, torch's formatter with set_printoptions)


def _reduce_ex(self, protocol):
    from . import _creation
    dt = _C.dtype.float32 if self.dtype == _C.dtype.bfloat16 else None  # (NumPy has no bfloat16; float32 is exact)
    return (_creation._from_pickle, (_C.Tensor._raw_numpy(_C.to(self, dt, "cpu", False)).copy(), self.dtype.name,
                                     str(self.device), self.requires_grad))


Tensor.__reduce_ex__ = _reduce_ex
Tensor.__deepcopy__ = lambda self, memo: _deepcopy(self, memo)


def _deepcopy(self, memo):
    if id(self) in memo:
        return memo[id(self)]
    new = _C.clone(self)
    if builtins.type(self) is not Tensor:
        new = builtins.type(self)(new, requires_grad=self.requires_grad) if hasattr(builtins.type(self),
                                                                                    "_is_param") else new
    else:
        new.requires_grad = self.requires_grad
    if self.grad is not None:
        new.grad = _C.clone(self.grad)
    memo[id(self)] = new
    return new


# ------------------------------------------------------------------------------------------------- index/join methods

def _attach_index_methods():
    from . import _indexing as _ix

    for name in ["gather", "scatter", "scatter_add", "index_select", "index_add", "index_copy",
                 "index_fill", "index_put", "masked_fill", "masked_select", "take_along_dim", "take", "split",
                 "chunk", "unbind", "tensor_split"]:
        setattr(Tensor, name, getattr(_ix, name))
    Tensor.index_put_ = _ix.index_put_

    def _scatter_raw(self, dim, index, src=None, *, value=None, reduce=None):
        if reduce is not None:
            _C.copy_(self, _ix.scatter(self, dim, index, src, value=value, reduce=reduce))
            return self
        return _C.scatter_(self, dim, _ix._check_index(index, "scatter_"), src if src is not None else value)

    def _scatter_add_raw(self, dim, index, src):
        return _C.scatter_add_(self, dim, _ix._check_index(index, "scatter_add_"), src)

    def _index_add_raw(self, dim, index, source, *, alpha=1):
        return _C.index_add_(self, dim, _ix._check_index(index, "index_add_"),
                             source if alpha == 1 else _C.mul(source, alpha))

    def _masked_fill_raw(self, mask, value):
        _C.copy_(self, _ix._masked_fill_inplace(self, mask, value))
        return self

    def _copy_raw(fn):
        def raw(self, *args, **kwargs):
            _C.copy_(self, fn(self, *args, **kwargs))
            return self
        return raw

    def _span(t):
        lo = hi = 0
        for n, st in zip(t.shape, t.stride()):
            lo += min(0, (n - 1) * st)
            hi += max(0, (n - 1) * st)
        p, isz = t.data_ptr(), t.element_size()
        return p + lo * isz, p + (hi + 1) * isz

    def _no_overlap(method, key):
        # torch's assert_no_overlap: a source sharing memory with the written tensor is refused (the kernels read
        # the source while they write: index_add_ of x[0:3] into x[1:4] would add already-updated values)
        def checked(self, dim, index, *args, **kwargs):
            src = args[0] if args else kwargs.get(key)
            if (isinstance(src, Tensor) and src.numel() and self.numel() and src._is_same_storage(self)):
                (a0, a1), (b0, b1) = _span(self), _span(src)
                if a0 < b1 and b0 < a1:
                    raise RuntimeError("unsupported operation: some elements of the input tensor and the written-to "
                                       "tensor refer to a single memory location. Please clone() the tensor before "
                                       "performing the operation.")
            return method(self, dim, index, *args, **kwargs)
        functools.update_wrapper(checked, method)
        return checked

    Tensor.scatter_ = _no_overlap(_inplace(_scatter_raw, _ix.scatter), "src")
    Tensor.scatter_add_ = _no_overlap(_inplace(_scatter_add_raw, _ix.scatter_add), "src")
    Tensor.index_add_ = _no_overlap(_inplace(_index_add_raw, _ix.index_add), "source")
    Tensor.masked_fill_ = _inplace(_masked_fill_raw, _ix._masked_fill_inplace)
    Tensor.index_copy_ = _no_overlap(_inplace(_copy_raw(_ix.index_copy), _ix.index_copy), "source")
    Tensor.index_fill_ = _inplace(_copy_raw(_ix.index_fill), _ix.index_fill)


_attach_index_methods()


# Native operator slots for + - * / (csrc/bindings/fastpath_bind.cpp): the kernel directly when nothing records,
# the differentiable ops above when autograd must record.
_C._install_fast_binary_ops(Tensor, {"add": _ops.add, "sub": _ops.sub, "mul": _ops.mul, "div": _ops.div})
