"""``out=`` for the functions whose kernels allocate their result (linalg, matmul and friends): the result is
computed as usual, then written into the given tensor(s) with torch's rules for these ops:

- ``out`` must have the result's dtype ("Expected out tensor to have dtype ..."), and be on its device;
- an ``out`` of another shape is resized to the result's (with torch's UserWarning when it had elements);
- a tuple result needs a tuple (or list) of as many tensors; the tuple's type (a named tuple) is kept;
- ``out`` is returned;
- with grad mode on, an argument (or ``out``) that requires grad is an error, as in torch: out= functions are not
  differentiable.
"""
from __future__ import annotations

import functools
import warnings

from . import _C

Tensor = _C.Tensor


def _tensors(values):
    for v in values:
        if isinstance(v, Tensor):
            yield v
        elif isinstance(v, (list, tuple)):
            yield from (w for w in v if isinstance(w, Tensor))


def _write_one(out, res, op):
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}(): argument 'out' must be a Tensor, not {type(out).__name__}")
    if not isinstance(res, Tensor):
        raise TypeError(f"{op}(): this result ({type(res).__name__}) cannot be written to an out tensor")
    if out.dtype != res.dtype:
        raise RuntimeError(f"{op}(): Expected out tensor to have dtype {res.dtype}, but got {out.dtype} instead")
    if out.device != res.device:
        raise RuntimeError(f"{op}(): Expected out tensor to be on device {res.device}, but got {out.device} instead")
    if tuple(out.shape) != tuple(res.shape):
        if out.numel() != 0:
            warnings.warn(f"{op}(): an output with one or more elements was resized since it had shape "
                          f"{list(out.shape)}, which does not match the required output shape {list(res.shape)}. "
                          f"Resize it to zero elements first (t.resize_(0)) to reuse it without this warning.",
                          UserWarning, stacklevel=4)
        out.resize_(list(res.shape))
    prev = _C._is_grad_enabled()
    _C._set_grad_enabled(False)
    try:
        out.copy_(res)
    finally:
        _C._set_grad_enabled(prev)
    return out


def write_out(res, out, op):
    """Writes res (a tensor or a tuple of tensors) into out; returns out (a tuple of the same type for tuples)."""
    if isinstance(res, tuple):
        if not isinstance(out, (tuple, list)) or len(out) != len(res):
            raise TypeError(f"{op}(): argument 'out' must be a tuple of {len(res)} Tensors")
        outs = [_write_one(o, r, op) for o, r in zip(out, res)]
        return type(res)(*outs) if hasattr(res, "_fields") else tuple(outs)
    if isinstance(out, (tuple, list)):
        raise TypeError(f"{op}(): argument 'out' must be a Tensor, not {type(out).__name__}")
    return _write_one(out, res, op)


def with_out(fn=None, *, name=None):
    """Decorator: fn(*args, out=None, **kwargs) computes fn(*args, **kwargs) and writes it into out when given.
    (fn's own ``out`` parameter, if it has one, is never passed.) The op's name in messages: name, else fn's name
    without a leading ``_top_`` (the top-level torch.* spellings of linalg functions)."""
    if fn is None:
        return lambda f: with_out(f, name=name)
    op = name or (fn.__name__[5:] if fn.__name__.startswith("_top_") else fn.__name__)

    @functools.wraps(fn)
    def wrapper(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        return call_with_out(fn, op, out, *args, **kwargs)

    return wrapper


def call_with_out(fn, op, out, *args, **kwargs):
    """fn(*args, **kwargs) written into out (write_out), refused under autograd as in torch. For hot functions that
    take out= themselves and call this only when it is given (no decorator frame on every call)."""
    if _C._is_grad_enabled() and any(t.requires_grad for t in _tensors(list(args) + list(kwargs.values()) + [out])):
        raise RuntimeError(f"{op}(): functions with out=... arguments don't support automatic differentiation, "
                           f"but one of the arguments requires grad.")
    return write_out(fn(*args, **kwargs), out, op)
