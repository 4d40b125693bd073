"""Rearranging and combining ops built on the differentiable primitives of ``_ops`` and ``_indexing``:
repeat, tile, flip (fliplr, flipud), roll, tril, triu, repeat_interleave, lerp, addcmul, addcdiv.

Each is a composition of views, expand/reshape copies, index_select, cat and masked_fill, so it runs on every device
those run on and its gradient is the composition's (index_select's backward is a scatter-add: repeated source
elements accumulate). Arguments follow torch's signatures and error messages name the op.
"""
from __future__ import annotations

import numpy as np

from . import _C
from . import _ops
from .autograd import Function, _needs_grad
from ._indexing import index_select, cat, masked_fill, _norm_dim

Tensor = _C.Tensor
_isT = isinstance

__all__ = ["repeat", "tile", "flip", "fliplr", "flipud", "roll", "tril", "triu", "repeat_interleave", "lerp",
           "addcmul", "addcdiv"]


def _ints(args, op, what):
    """torch's *sizes convention: f(1, 2) or f((1, 2)) / f([1, 2])."""
    if len(args) == 1 and not isinstance(args[0], int):
        args = tuple(args[0])
    out = []
    for a in args:
        if _isT(a, Tensor):
            a = a.item()
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"{op}(): {what} must be ints, got {type(a).__name__}")
        out.append(int(a))
    return out


def _arange(n, device, start=0, step=1):
    return _C.arange_int(start, start + n * step, step, _C.dtype.int64, device) if n else \
        _C.empty([0], _C.dtype.int64, device)


def _index(values, device):
    """An int64 index tensor on `device` from a host sequence."""
    t = _C.from_numpy(np.ascontiguousarray(np.asarray(values, dtype=np.int64)))
    return t if t.device == device else _C.to(t, None, device, False)


# ------------------------------------------------------------------------------------------------- repeat, tile

def repeat(input, *sizes):
    """Tensor.repeat: the tensor tiled sizes[i] times along dim i (leading sizes add new dims)."""
    sizes = _ints(sizes, "repeat", "repeats")
    if len(sizes) < input.ndim:
        raise RuntimeError(f"repeat(): number of dimensions of repeat dims ({len(sizes)}) can not be smaller than "
                           f"number of dimensions of tensor ({input.ndim}); tensor shape {list(input.shape)}")
    if any(r < 0 for r in sizes):
        raise RuntimeError(f"repeat(): repeats cannot be negative, got {sizes}")
    shape = [1] * (len(sizes) - input.ndim) + list(input.shape)
    inter, big, final = [], [], []
    for r, s in zip(sizes, shape):
        inter += [1, s]
        big += [r, s]
        final.append(r * s)
    x = _ops.reshape(input, inter)
    e = _ops.expand(x, big)
    # always a new tensor (torch's repeat copies): with all repeats 1 the expanded view is already contiguous
    out = _ops.clone(e) if e.is_contiguous() else _ops.contiguous(e)
    return _ops.reshape(out, final)


def tile(input, dims):
    """torch.tile: repeat with dims padded by leading ones to the tensor's rank."""
    dims = _ints((dims,) if isinstance(dims, int) else (tuple(dims),), "tile", "dims")
    if len(dims) < input.ndim:
        dims = [1] * (input.ndim - len(dims)) + dims
    return repeat(input, dims)


# ------------------------------------------------------------------------------------------------- flip, roll

class _FlipRoll(Function):
    """flip / roll of a cpu tensor by one kernel (_C._flip_roll_cpu); the gradient is the inverse move (recorded
    under create_graph: a linear op's adjoint)."""
    _double_backward = True

    @staticmethod
    def forward(ctx, x, flips, shifts):
        ctx.flips, ctx.shifts = flips, shifts
        return _C._flip_roll_cpu(x, flips, shifts)

    @staticmethod
    def backward(ctx, g):
        return _flip_roll_fast(g, ctx.flips, [-s for s in ctx.shifts]), None, None


def _flip_roll_fast(x, flips, shifts):
    """The cpu kernel, recorded when x requires grad (also in a double backward)."""
    if _needs_grad(x):
        return _FlipRoll.apply(x, flips, shifts)
    return _C._flip_roll_cpu(x, flips, shifts)


def _cpu_fast(input):
    return input.device.type == "cpu" and input.ndim > 0


def flip(input, dims):
    """The elements in reverse order along each dim of dims (a copy, like torch.flip)."""
    dims = _ints((dims,) if isinstance(dims, int) else (tuple(dims),), "flip", "dims")
    wrapped = [_norm_dim(d, input.ndim, "flip") for d in dims]
    if len(set(wrapped)) != len(wrapped):
        raise RuntimeError(f"flip(): dims has duplicates: {dims}")
    if _cpu_fast(input):
        return _flip_roll_fast(input, wrapped, [0] * input.ndim)
    out = input
    for d in wrapped:
        n = input.shape[d] if input.ndim else 1
        if input.ndim == 0 or n <= 1:
            continue
        out = index_select(out, d, _arange(n, input.device, n - 1, -1))
    if out is input:
        out = _ops.clone(input)
    return out


def fliplr(input):
    if input.ndim < 2:
        raise RuntimeError(f"fliplr(): input must be >= 2-d, got shape {list(input.shape)}")
    return flip(input, [1])


def flipud(input):
    if input.ndim < 1:
        raise RuntimeError(f"flipud(): input must be >= 1-d, got shape {list(input.shape)}")
    return flip(input, [0])


def roll(input, shifts, dims=None):
    """Elements shifted along dims (those moved past the end re-enter at the start); dims None: the flattened
    tensor, shape kept."""
    shifts = _ints((shifts,) if isinstance(shifts, int) else (tuple(shifts),), "roll", "shifts")
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"roll(): shifts must be a single int when dims is None, got {shifts}")
        return _ops.reshape(roll(_ops.flatten(input), shifts, [0]), list(input.shape))
    dims = _ints((dims,) if isinstance(dims, int) else (tuple(dims),), "roll", "dims")
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll(): shifts and dimensions must align. shifts: {len(shifts)}, dims: {len(dims)}")
    if _cpu_fast(input):
        total = [0] * input.ndim
        for s, d in zip(shifts, dims):
            total[_norm_dim(d, input.ndim, "roll")] += s
        return _flip_roll_fast(input, [], total)
    out = input
    for s, d in zip(shifts, dims):
        d = _norm_dim(d, input.ndim, "roll")
        n = input.shape[d] if input.ndim else 1
        if n == 0 or input.ndim == 0:
            continue
        s %= n
        if s:
            out = cat([_ops.narrow(out, d, n - s, s), _ops.narrow(out, d, 0, n - s)], d)
    if out is input:
        out = _ops.clone(input)
    return out


# ------------------------------------------------------------------------------------------------- tril, triu

def _triangle(input, diagonal, upper, op):
    if input.ndim < 2:
        raise RuntimeError(f"{op}(): input tensor must have at least 2 dimensions, got shape {list(input.shape)}")
    if not isinstance(diagonal, (int, np.integer)) or isinstance(diagonal, bool):
        raise TypeError(f"{op}(): diagonal must be an int, got {type(diagonal).__name__}")
    if input.device.type == "cpu":
        return _triangle_fast(input, int(diagonal), upper)
    r, c = input.shape[-2], input.shape[-1]
    dev = input.device
    rows = _C.reshape(_arange(r, dev), [r, 1])
    cols = _C.reshape(_arange(c, dev), [1, c])
    off = _C.sub(cols, rows)
    # the zeroed part: below the diagonal for triu, above it for tril
    drop = _C.lt(off, int(diagonal)) if upper else _C.gt(off, int(diagonal))
    return masked_fill(input, drop, 0)


class _Triangle(Function):
    """tril / triu of a cpu tensor by one kernel (_C._triangle_cpu); the gradient is the same triangle of g
    (recorded under create_graph)."""
    _double_backward = True

    @staticmethod
    def forward(ctx, x, diagonal, upper):
        ctx.diagonal, ctx.upper = diagonal, upper
        return _C._triangle_cpu(x, diagonal, upper)

    @staticmethod
    def backward(ctx, g):
        return _triangle_fast(g, ctx.diagonal, ctx.upper), None, None


def _triangle_fast(x, diagonal, upper):
    if _needs_grad(x):
        return _Triangle.apply(x, diagonal, upper)
    return _C._triangle_cpu(x, diagonal, upper)


def tril(input, diagonal=0):
    """The lower triangle (j - i <= diagonal) of the last two dims; the rest zero."""
    return _triangle(input, diagonal, False, "tril")


def triu(input, diagonal=0):
    """The upper triangle (j - i >= diagonal) of the last two dims; the rest zero."""
    return _triangle(input, diagonal, True, "triu")


# ------------------------------------------------------------------------------------------------- repeat_interleave

def _repeat_index_device(counts, op_size):
    """[0]*c[0] + [1]*c[1] + ... for a 1-D int tensor c on a non-CPU device, built there: the positions 0..total-1
    looked up in the running sums (searchsorted, right). Only the smallest count and the total cross to the host.
    op_size: output_size to check, or None."""
    from ._creation import arange
    from ._tensor_extra import searchsorted
    c = counts if counts.dtype == _C.dtype.int64 else _C.to(counts, _C.dtype.int64, None, False)
    if c.shape[0] == 0:
        total = 0
    else:
        if _C.item(_C.amin(c, None, False)) < 0:
            raise RuntimeError("repeat_interleave(): repeats can not be negative")
        cum = _C.cumsum(c, 0)
        total = int(_C.item(_C.select(cum, 0, c.shape[0] - 1)))
    if op_size is not None and total != op_size:
        raise RuntimeError(f"repeat_interleave(): output_size {op_size} does not match the total repeats {total}")
    if total == 0:
        return _C.zeros([0], _C.dtype.int64, counts.device)
    return searchsorted(cum, arange(total, dtype=_C.dtype.int64, device=counts.device), right=True)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Each element repeated along dim (input flattened when dim is None); repeats an int or a 1-D int tensor
    (one count per element along dim, or a single one). repeat_interleave(counts) alone gives the indices
    [0]*counts[0] + [1]*counts[1] + ..."""
    if repeats is None:
        counts = input
        if counts.ndim != 1 or counts.dtype not in (_C.dtype.int64, _C.dtype.int32):
            raise RuntimeError(f"repeat_interleave(): repeats must be a 1-D integer tensor, got shape "
                               f"{list(counts.shape)} {counts.dtype.name}")
        if counts.device.type != "cpu":
            return _repeat_index_device(counts, output_size)
        c = _C.to(counts, None, "cpu", False).numpy().astype(np.int64)
        if (c < 0).any():
            raise RuntimeError("repeat_interleave(): repeats can not be negative")
        out = _index(np.repeat(np.arange(len(c)), c), counts.device)
        if output_size is not None and out.shape[0] != output_size:
            raise RuntimeError(f"repeat_interleave(): output_size {output_size} does not match the total "
                               f"repeats {out.shape[0]}")
        return out
    if dim is None:
        input = _ops.flatten(input)
        dim = 0
    d = _norm_dim(dim, input.ndim, "repeat_interleave")
    x = input if input.ndim else _ops.reshape(input, [1])
    n = x.shape[d]
    if _isT(repeats, Tensor):
        if repeats.ndim == 0 or repeats.numel() == 1:
            repeats = int(repeats.item())
        else:
            if repeats.ndim != 1 or repeats.shape[0] != n:
                raise RuntimeError(f"repeat_interleave(): repeats must have the same size as input along dim {d}: "
                                   f"repeats shape {list(repeats.shape)}, input shape {list(x.shape)}")
            if repeats.dtype not in (_C.dtype.int64, _C.dtype.int32):
                raise RuntimeError(f"repeat_interleave(): repeats must be an integer tensor, got "
                                   f"{repeats.dtype.name}")
            if x.device.type != "cpu":
                return index_select(x, d, _repeat_index_device(_C.to(repeats, None, x.device, False),
                                                               output_size))
            c = _C.to(repeats, None, "cpu", False).numpy().astype(np.int64)
            if (c < 0).any():
                raise RuntimeError("repeat_interleave(): repeats can not be negative")
            if output_size is not None and int(c.sum()) != output_size:
                raise RuntimeError(f"repeat_interleave(): output_size {output_size} does not match the total "
                                   f"repeats {int(c.sum())}")
            return index_select(x, d, _index(np.repeat(np.arange(n), c), x.device))
    if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)):
        raise TypeError(f"repeat_interleave(): repeats must be an int or a tensor, got {type(repeats).__name__}")
    r = int(repeats)
    if r < 0:
        raise RuntimeError("repeat_interleave(): repeats can not be negative")
    if output_size is not None and n * r != output_size:
        raise RuntimeError(f"repeat_interleave(): output_size {output_size} does not match the total repeats {n * r}")
    shape = list(x.shape)
    xe = _ops.expand(_ops.unsqueeze(x, d + 1), shape[:d + 1] + [r] + shape[d + 1:])
    xe = _ops.clone(xe) if xe.is_contiguous() else _ops.contiguous(xe)  # always a copy, like torch (r = 1)
    return _ops.reshape(xe, shape[:d] + [n * r] + shape[d + 1:])


# ------------------------------------------------------------------------------------------------- lerp, addcmul, addcdiv

def _lerp_raw(a, b, w):
    diff = _C.sub(b, a)
    if not _isT(w, Tensor):
        w = float(w)
        return _C.add(a, _C.mul(diff, w)) if abs(w) < 0.5 else _C.sub(b, _C.mul(diff, 1.0 - w))
    return _C.where(_C.lt(_C.abs(w), 0.5), _C.add(a, _C.mul(diff, w)), _C.sub(b, _C.mul(diff, _C.sub(1.0, w))))


class _Lerp(Function):
    """d/da = 1 - w, d/db = w, d/dw = b - a, written directly: the composed form (both branches and a where)
    turns an infinite b - a in the unselected branch into NaN gradients. The backward's _D ops are recorded under
    create_graph (double backward)."""

    _double_backward = True

    @staticmethod
    def forward(ctx, a, b, w):
        ctx.metas = (_ops._meta(a), _ops._meta(b), _ops._meta(w))
        ctx.save_for_backward(a, b, w if _isT(w, Tensor) else None)
        ctx.w = None if _isT(w, Tensor) else float(w)
        return _lerp_raw(a, b, w)

    @staticmethod
    def backward(ctx, g):
        a, b, wt = ctx.saved_tensors
        w = wt if wt is not None else ctx.w
        ma, mb, mw = ctx.metas
        D = _ops._D
        omw = D.sub(1.0, w) if wt is not None else 1.0 - w
        ga = _ops._g_for(D.mul(g, omw), ma) if ctx.needs_input_grad[0] else None
        gb = _ops._g_for(D.mul(g, w), mb) if ctx.needs_input_grad[1] else None
        gw = (_ops._g_for(D.mul(g, D.sub(b, a)), mw) if wt is not None and ctx.needs_input_grad[2] else None)
        return ga, gb, gw


def _fused3(kind, a, b, c, s):
    """The one-pass cpu kernel (same shape, dtype and contiguous floats, nothing needing autograd), else None."""
    if (_isT(a, Tensor) and _isT(b, Tensor) and (c is None or _isT(c, Tensor)) and isinstance(s, (int, float))
            and not isinstance(s, bool) and not _needs_grad(a, b, c) and a.device.type == "cpu"):
        return _C._fused_ternary_cpu(kind, a, b, c, float(s))
    return None


def lerp(input, end, weight):
    """input + weight * (end - input) where |weight| < 0.5, else end - (end - input) * (1 - weight): torch's
    two-sided form, exact at weight 0 and 1."""
    r = _fused3(2, input, end, None, weight)
    if r is not None:
        return r
    if _needs_grad(input, end, weight):
        return _Lerp.apply(input, end, weight)
    return _lerp_raw(input, end, weight)


def _lowp3(fn, input, tensor1, tensor2, value):
    """16-bit float operands (none wider): fn in float32, rounded once to their result dtype (torch computes the
    product / quotient in float32: rounding it to 16 bits first overflowed, 65504 * -2 * 0.5)."""
    ts = [t for t in (input, tensor1, tensor2) if _isT(t, Tensor)]
    if not ts or not any(t.dtype in (_C.dtype.float16, _C.dtype.bfloat16) for t in ts):
        return None
    dt = ts[0].dtype
    for t in ts[1:]:
        dt = _C.promote_types(dt, t.dtype)
    if dt not in (_C.dtype.float16, _C.dtype.bfloat16):
        return None
    up = [_ops._to(t, _C.dtype.float32, None) if _isT(t, Tensor) else t for t in (input, tensor1, tensor2)]
    return _ops._to(fn(*up, value=value), dt, None)


def _addc(kind, fn, input, tensor1, tensor2, value):
    """input + value * (tensor1 op tensor2), op mul (kind 0) or div (1): the fused cpu pass, the 16-bit route, or
    the composed ops."""
    r = _fused3(kind, input, tensor1, tensor2, value)
    if r is None:
        r = _lowp3(fn, input, tensor1, tensor2, value)
    if r is not None:
        return r
    p = (_ops.mul if kind == 0 else _ops.div)(tensor1, tensor2)
    return _ops.add(input, p if value == 1 else _ops.mul(p, value))


def addcmul(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 * tensor2."""
    return _addc(0, addcmul, input, tensor1, tensor2, value)


def addcdiv(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 / tensor2."""
    return _addc(1, addcdiv, input, tensor1, tensor2, value)


def _dims_arg(dims, kw, op):
    """The dims of x.flip(*dims) / x.tile(*dims): positional ints, one sequence, or the keyword dims=."""
    if kw:
        if set(kw) != {"dims"} or dims:
            raise TypeError(f"{op}() got unexpected arguments {sorted(kw)} (expected *dims or dims=)")
        dims = (kw["dims"],)
    return dims[0] if len(dims) == 1 and not isinstance(dims[0], int) else list(dims)


def _attach_tensor_methods():
    Tensor.repeat = lambda self, *sizes: repeat(self, *sizes)
    Tensor.tile = lambda self, *dims, **kw: tile(self, _dims_arg(dims, kw, "tile"))
    Tensor.flip = lambda self, *dims, **kw: flip(self, _dims_arg(dims, kw, "flip"))
    Tensor.fliplr = fliplr
    Tensor.flipud = flipud
    Tensor.roll = lambda self, shifts, dims=None: roll(self, shifts, dims)
    Tensor.tril = lambda self, diagonal=0: tril(self, diagonal)
    Tensor.triu = lambda self, diagonal=0: triu(self, diagonal)
    Tensor.repeat_interleave = lambda self, repeats=None, dim=None, *, output_size=None: repeat_interleave(
        self, repeats, dim, output_size=output_size)
    Tensor.lerp = lambda self, end, weight: lerp(self, end, weight)
    Tensor.addcmul = lambda self, tensor1, tensor2, *, value=1: addcmul(self, tensor1, tensor2, value=value)
    Tensor.addcdiv = lambda self, tensor1, tensor2, *, value=1: addcdiv(self, tensor1, tensor2, value=value)


_attach_tensor_methods()
