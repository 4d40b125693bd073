"""Advanced indexing (integer and boolean index tensors, PyTorch semantics) and the index/join ops with autograd:
gather, scatter, scatter_add, index_select, index_add, index_put, masked_fill, masked_select, cat, stack, split,
chunk, unbind.

The native side (csrc/ops/index) gathers and scatters through element offsets; here each op is a ``Function``
whose backward is another index op (gather <-> scatter_add, index_select <-> index_add, index <-> index_put with
accumulation).

Advanced indexing ``x[key]``: the basic entries (slices, None) become a view ``v``; the indexed dims of ``v`` are
permuted to the front and indexed at once (``_C.index_get`` with the broadcast index tensors); as in PyTorch, the
result's index dims stay in place when the tensor-indexed dims are adjacent, else they go first. Unlike NumPy, int
indices do not count for adjacency (PyTorch applies them first, as select): x[1, :, idx] has shape (4, 3) for x of
shape (2, 4, 5).
"""
from __future__ import annotations

import builtins
import numbers

import numpy as np

from . import _C
from . import _ops
from .autograd import Function, _needs_grad, _linear_backward, _linear_pair

Tensor = _C.Tensor
_isT = isinstance
_int64 = _C.dtype.int64

__all__ = ["gather", "scatter", "scatter_add", "index_select", "index_add", "index_copy",
           "index_put", "index_fill", "masked_fill", "masked_select", "take_along_dim", "take", "cat", "concat",
           "concatenate", "stack", "hstack", "vstack", "split", "chunk", "unbind", "tensor_split"]


def _norm_dim(dim, nd, op):
    n = builtins.max(nd, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}(): dim {dim} is out of range for a tensor of {nd} dimensions")
    return dim % n


def _as_index(i, device, op="index"):
    if not _isT(i, Tensor):
        arr = np.asarray(i)
        if arr.dtype == object:
            raise IndexError(f"{op}: can't index with {type(i).__name__}")
        if arr.dtype == np.uint8 and isinstance(i, np.ndarray):  # torch: a uint8 array is a (deprecated) mask
            arr = arr.astype(np.bool_)
            _warn_uint8_mask()
        if arr.dtype != np.bool_:
            if arr.size == 0:
                arr = arr.astype(np.int64)
            elif not np.issubdtype(arr.dtype, np.integer):
                raise IndexError(f"{op}: tensors used as indices must be long, int, byte or bool tensors "
                                 f"(got {arr.dtype})")
            arr = arr.astype(np.int64)
        i = _C.from_numpy(np.require(arr, requirements="C"))
    if i.dtype == _C.dtype.uint8:  # torch: a uint8 index tensor is a (deprecated) mask, not positions
        _warn_uint8_mask()
        i = _C.ne(i, 0)
    elif i.dtype == _C.dtype.int32:
        i = _C.to(i, _int64, None, False)
    elif i.dtype not in (_int64, _C.dtype.bool):  # int8/int16, floats, complex (torch: IndexError)
        raise IndexError(f"{op}: tensors used as indices must be long, int, byte or bool tensors (got {i.dtype.name})")
    if i.device != device:
        i = _C.to(i, None, device, False)
    return i


def _warn_uint8_mask():
    import warnings
    warnings.warn("indexing with dtype uint8 is now deprecated, please use a dtype bool instead (as in torch, "
                  "the uint8 tensor is read as a mask)", UserWarning, stacklevel=4)


def _check_index(idx, op):
    if not _isT(idx, Tensor):
        raise TypeError(f"{op}(): index must be a Tensor, got {type(idx).__name__}")
    if idx.dtype != _int64:
        if idx.dtype in (_C.dtype.int32, _C.dtype.uint8):
            return _C.to(idx, _int64, None, False)
        raise TypeError(f"{op}(): expected an int64 index tensor, got {idx.dtype.name}")
    return idx


# ------------------------------------------------------------------------------------------------- gather/scatter

class _Gather(Function):
    @staticmethod
    def forward(ctx, x, dim, idx):
        ctx.save_for_backward(idx)
        ctx.shape, ctx.dim = x.shape, dim
        return _C.gather(x, dim, idx)

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_tensors
        out = _C.zeros(list(ctx.shape), g.dtype, g.device)
        _C.scatter_add_(out, ctx.dim, idx, _C.contiguous(g))
        return out, None, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        (idx,) = ctx.saved_tensors
        shape, dim = ctx.shape, ctx.dim
        return _linear_backward(g, lambda t: _Gather.backward(ctx, t)[0], lambda t: gather(t, dim, idx)), None, None


def gather(input, dim, index, *, sparse_grad=False):
    """out[i][j][k] = input[index[i][j][k]][j][k] (dim 0), ... : index has input's ndim."""
    index = _check_index(index, "gather")
    if input.ndim == 0 and index.ndim == 1:  # torch: a scalar gathers like its 1-element view
        _norm_dim(dim, 0, "gather")
        return gather(_ops.reshape(input, [1]), 0, index)
    if _needs_grad(input):
        return _Gather.apply(input, dim, index)
    return _C.gather(input, dim, index)


class _Scatter(Function):
    @staticmethod
    def forward(ctx, x, dim, idx, src, add):
        ctx.save_for_backward(idx)
        ctx.dim, ctx.add, ctx.src_meta = dim, add, (src.shape, src.dtype) if _isT(src, Tensor) else None
        out = _C.clone(x)
        (_C.scatter_add_ if add else _C.scatter_)(out, dim, idx, src)
        return out

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_tensors
        gx = gs = None
        if ctx.needs_input_grad[0]:
            gx = g if ctx.add else _C.scatter_(_C.clone(g), ctx.dim, idx, 0.0)
        if ctx.src_meta is not None and ctx.needs_input_grad[3]:
            gs = _C.gather(g, ctx.dim, idx)
            shape = ctx.src_meta[0]
            if tuple(gs.shape) != tuple(shape):  # src larger than index: the unused part gets zeros
                full = _C.zeros(list(shape), g.dtype, g.device)
                _C.copy_(_C.as_strided(full, list(gs.shape), list(full.stride()), 0), gs)
                gs = full
        return gx, None, None, gs, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        """The backward as recorded linear maps of g (it reads nothing else): x's part (g with the written places
        zeroed) is its own adjoint; src's (g gathered at idx) has scatter_add into zeros as its adjoint."""
        (idx,) = ctx.saved_tensors
        dim, gshape = ctx.dim, list(g.shape)
        gx = gs = None
        if ctx.needs_input_grad[0]:
            if ctx.add:
                gx = g
            else:
                mask_raw = lambda t: _C.scatter_(_C.clone(t), dim, idx, 0.0)  # noqa: E731
                gx = _linear_pair(mask_raw, mask_raw)[0](g)
        if ctx.src_meta is not None and ctx.needs_input_grad[3]:
            def gather_raw(t):
                return _Scatter.backward(_ScatterSrcCtx(ctx, idx), t)[3]

            def scatter_raw(u):  # the adjoint: u's index-shaped part added into zeros at idx
                for d in range(u.ndim):
                    u = _C.slice(u, d, 0, idx.shape[d], 1)
                out = _C.zeros(gshape, u.dtype, u.device)
                _C.scatter_add_(out, dim, idx, _C.contiguous(u))
                return out
            gs = _linear_pair(gather_raw, scatter_raw)[0](g)
        return gx, None, None, gs, None


class _ScatterSrcCtx:
    """A stand-in ctx for _Scatter.backward that asks for src's gradient only."""

    def __init__(self, ctx, idx):
        self.saved_tensors = (idx,)
        self.dim, self.add, self.src_meta = ctx.dim, ctx.add, ctx.src_meta
        self.needs_input_grad = (False, False, False, True, False)


def _src_arg(src, value, x, op):
    if src is None:
        src = value
    if src is None:
        raise TypeError(f"{op}(): missing the src (or value) argument")
    if _isT(src, Tensor):
        if src.dtype != x.dtype:
            raise TypeError(f"{op}(): expected src of dtype {x.dtype.name} (like self), got {src.dtype.name}")
        return src
    if not _isT(src, (numbers.Number, np.generic)):
        raise TypeError(f"{op}(): src must be a Tensor or a number, got {type(src).__name__}")
    return src


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """A copy of input with input[...index...] = src (out-of-place torch.scatter)."""
    if reduce is not None:
        if reduce not in ("add", "multiply"):
            raise ValueError(f"scatter(): reduce argument must be either 'add' or 'multiply', got {reduce!r}")
        index = _check_index(index, "scatter")
        src = _src_arg(src, value, input, "scatter")
        if not _isT(src, Tensor):  # a scalar value: the same number at every index position
            src = (_C.full(list(index.shape), float(src), input.dtype, input.device) if input.dtype.is_floating_point
                   else _C.full_int(list(index.shape), int(src), input.dtype, input.device))
        if reduce == "add":
            return scatter_add(input, dim, index, src)
        from ._tensor_extra import scatter_reduce
        return scatter_reduce(input, dim, index, src, "prod", include_self=True)
    index = _check_index(index, "scatter")
    src = _src_arg(src, value, input, "scatter")
    if _needs_grad(input, src):
        return _Scatter.apply(input, dim, index, src, False)
    out = _C.clone(input)
    return _C.scatter_(out, dim, index, src)


def scatter_add(input, dim, index, src):
    index = _check_index(index, "scatter_add")
    src = _src_arg(src, None, input, "scatter_add")
    if not _isT(src, Tensor):
        raise TypeError("scatter_add(): src must be a Tensor")
    if _needs_grad(input, src):
        return _Scatter.apply(input, dim, index, src, True)
    out = _C.clone(input)
    return _C.scatter_add_(out, dim, index, src)


def _scatter_reduce_sum(input, dim, index, src):
    """scatter_reduce(reduce="sum", include_self=True): scatter_add with scatter_reduce's name in its errors (the
    other reductions: _tensor_extra.scatter_reduce)."""
    try:
        return scatter_add(input, dim, index, src)
    except (IndexError, ValueError, TypeError) as e:
        raise type(e)(str(e).replace("scatter_add_()", "scatter_reduce()").replace(
            "scatter_add()", "scatter_reduce()")) from None


def take_along_dim(input, indices, dim=None):
    if dim is None:
        return gather(_ops.reshape(input, [-1]), 0, _ops.reshape(indices, [-1]))
    return gather(input, dim, indices)


def take(input, index):
    """input viewed as 1-D, at index (negative entries count from the end, as in torch.take)."""
    index = _check_index(index, "take")
    n = input.numel()
    _check_index_bounds(index, n, 0, "take", True)
    flat = _ops.reshape(index, [-1])
    if flat.numel():
        flat = _C.where(_C.lt(flat, 0), _C.add(flat, n), flat)
    return _ops.reshape(index_select(_ops.reshape(input, [-1]), 0, flat), list(index.shape))


# ------------------------------------------------------------------------------------------------- index_select/add

class _IndexSelect(Function):
    @staticmethod
    def forward(ctx, x, dim, idx):
        ctx.save_for_backward(idx)
        ctx.shape, ctx.dim = x.shape, dim
        return _C.index_select(x, dim, idx)

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_tensors
        out = _C.zeros(list(ctx.shape), g.dtype, g.device)
        _C.index_add_(out, ctx.dim, idx, g)
        return out, None, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        (idx,) = ctx.saved_tensors
        dim = ctx.dim
        return (_linear_backward(g, lambda t: _IndexSelect.backward(ctx, t)[0], lambda t: index_select(t, dim, idx)),
                None, None)


def index_select(input, dim, index):
    index = _check_index(index, "index_select")
    if _needs_grad(input):
        return _IndexSelect.apply(input, dim, index)
    return _C.index_select(input, dim, index)


class _IndexAdd(Function):
    @staticmethod
    def forward(ctx, x, dim, idx, src, alpha):
        ctx.save_for_backward(idx)
        ctx.dim, ctx.alpha = dim, alpha
        out = _C.clone(x)
        _C.index_add_(out, dim, idx, src if alpha == 1 else _C.mul(src, alpha))
        return out

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_tensors
        gs = None
        if ctx.needs_input_grad[3]:
            gs = _C.index_select(g, ctx.dim, idx)
            if ctx.alpha != 1:
                gs = _C.mul(gs, ctx.alpha)
        return (g if ctx.needs_input_grad[0] else None), None, None, gs, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        (idx,) = ctx.saved_tensors
        gs = None
        if ctx.needs_input_grad[3]:
            gs = index_select(g, ctx.dim, idx)
            if ctx.alpha != 1:
                gs = _ops.mul(gs, ctx.alpha)
        return (g if ctx.needs_input_grad[0] else None), None, None, gs, None


def index_add(input, dim, index, source, *, alpha=1):
    index = _check_index(index, "index_add")
    if _needs_grad(input, source):
        return _IndexAdd.apply(input, dim, index, source, alpha)
    out = _C.clone(input)
    return _C.index_add_(out, dim, index, source if alpha == 1 else _C.mul(source, alpha))


def _check_index_bounds(index, size, dim, op, allow_negative):
    """Raises IndexError naming op for an index entry outside [0, size) (or [-size, size))."""
    if index.numel() == 0:
        return
    lo = -size if allow_negative else 0
    if index.device.type != "cpu":  # the range on the device (two numbers cross); the host copy only on a fault
        if _C.item(_C.amin(index, None, False)) >= lo and _C.item(_C.amax(index, None, False)) < size:
            return
    a = _C.to(index, None, "cpu", False)._raw_numpy()
    bad = (a < lo) | (a >= size)
    if bad.any():
        v = int(a[bad].flat[0])
        raise IndexError(f"{op}(): index {v} is out of bounds for dimension {dim} with size {size}")


def index_copy(input, dim, index, source):
    index = _check_index(index, "index_copy")
    d = _norm_dim(dim, input.ndim, "index_copy")
    if index.ndim > 1:
        raise IndexError(f"index_copy(): index should have dimension 1 or 0 (got {index.ndim})")
    if _isT(source, Tensor):  # torch's checks (no cast, no broadcast of source)
        if source.dtype != input.dtype:
            raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, but got (self) "
                               f"{input.dtype.name} and (source) {source.dtype.name}")
        if source.ndim and input.ndim:
            if source.ndim != input.ndim:
                raise IndexError(f"index_copy_(): When source and destination are not scalars, their "
                                 f"dimensionality must match. Source dimensionality ({source.ndim}), destination "
                                 f"dimensionality ({input.ndim})")
            if builtins.any(source.shape[k] != input.shape[k] for k in range(input.ndim) if k != d):
                raise IndexError(f"index_copy_(): Source/destination tensor must have same slice shapes. "
                                 f"Destination slice shape: {list(input.shape)} at dimension {d} and source slice "
                                 f"shape: {list(source.shape)} at dimension {d}.")
        n_src = source.shape[d] if source.ndim else 1
        if index.numel() != n_src:
            raise IndexError(f"index_copy_(): Number of indices ({index.numel()}) should be equal to "
                             f"source.size(dim) ({n_src})")
    _check_index_bounds(index, input.shape[d] if input.ndim else 1, d, "index_copy", False)
    if input.ndim == 0:  # torch: a scalar's one element is index 0 (the same on a 1-element view)
        src = _ops.reshape(source, [-1]) if _isT(source, Tensor) else source
        return _ops.reshape(index_copy(_ops.reshape(input, [1]), 0, _C.reshape(index, [-1]), src), [])
    key = (slice(None),) * d + (index,)
    out = _ops.clone(input)
    out[key] = source
    return out


def index_fill(input, dim, index, value):
    index = _check_index(index, "index_fill")
    d = _norm_dim(dim, input.ndim, "index_fill")
    if index.ndim > 1:
        raise IndexError(f"index_fill(): index should have dimension 1 or 0 (got {index.ndim})")
    if _isT(value, Tensor) and value.ndim != 0:
        raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                           f"{value.ndim} dimension(s).")
    _check_index_bounds(index, input.shape[d] if input.ndim else 1, d, "index_fill", True)
    if input.ndim == 0:  # torch: a scalar's one element is index 0 (or -1)
        return _ops.reshape(index_fill(_ops.reshape(input, [1]), 0, _C.reshape(index, [-1]), value), [])
    out = _ops.clone(input)
    out[(slice(None),) * d + (index,)] = value
    return out


# ------------------------------------------------------------------------------------------------- masks

def masked_fill(input, mask, value):
    if not _isT(mask, Tensor) or mask.dtype != _C.dtype.bool:
        raise TypeError("masked_fill(): expected a bool mask tensor, got "
                        + (mask.dtype.name if _isT(mask, Tensor) else type(mask).__name__))
    if mask.device != input.device:
        raise RuntimeError(f"masked_fill(): expected 'mask' on {input.device} (the device of 'input'), got "
                           f"{mask.device}")
    if _isT(value, Tensor):
        if value.ndim != 0:
            raise ValueError(f"masked_fill(): only supports a 0-dimensional value tensor, got {value.ndim} dims")
        if value.dtype != input.dtype:
            value = _ops._to(value, input.dtype, None)
    out = _ops.where(mask, value, input)  # (out of place, a larger mask broadcasts the input, as torch)
    if out.dtype != input.dtype:
        out = _ops._to(out, input.dtype, None)
    return out


def _masked_fill_inplace(input, mask, value):
    """masked_fill for Tensor.masked_fill_: the mask must broadcast to the input's own shape."""
    out = masked_fill(input, mask, value)
    if tuple(out.shape) != tuple(input.shape):
        raise ValueError(f"masked_fill_(): mask of shape {list(mask.shape)} is not broadcastable to the input's "
                         f"shape {list(input.shape)}")
    return out


_masked_fill_inplace.__name__ = "masked_fill"


def masked_select(input, mask):
    if not _isT(mask, Tensor) or mask.dtype != _C.dtype.bool:
        raise TypeError("masked_select(): expected a bool mask tensor")
    shape = _ops.broadcast_shapes(input.shape, mask.shape)
    x = _ops.expand(input, list(shape)) if tuple(input.shape) != tuple(shape) else input
    m = _C.expand(mask, list(shape)) if tuple(mask.shape) != tuple(shape) else mask
    if len(shape) == 0:  # 0-d input and mask: torch selects from the one element (a 1-D result)
        x, m = _ops.reshape(x, [1]), _C.reshape(m, [1])
    return getitem_advanced(x, m)


# ------------------------------------------------------------------------------------------------- advanced indexing

class _NewDimIndex:
    """A 0-d bool index entry: the view gets a new dim of size 1 there, indexed by `index` ([0] or empty)."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


class _Plan:
    """A parsed advanced index of a tensor of shape `shape`: the basic entries, the indexed dims of the view and
    their (broadcast) index tensors, and the permutations."""

    __slots__ = ("entries", "adv_pos", "idx", "perm", "out_perm", "bshape", "vp_shape")

    def __init__(self, x, key):
        if not isinstance(key, tuple):
            key = (key,)
        dev = x.device
        items = []
        for k in key:
            if k is None or k is Ellipsis or isinstance(k, slice):
                items.append(k)
            elif isinstance(k, bool):
                raise IndexError("indexing with a Python bool is not supported; use a bool tensor")
            elif isinstance(k, (int, np.integer)):
                items.append(int(k))
            elif _isT(k, Tensor) or isinstance(k, (list, tuple, np.ndarray, range)):
                k = _as_index(list(k) if isinstance(k, range) else k, dev)
                # torch: a 0-d integer tensor indexes like an int (a select: its dim never counts as an indexed
                # dim when placing the result's index dims, x[t0, :, idx] like x[0, :, idx])
                items.append(int(_C.item(k)) if k.ndim == 0 and k.dtype == _int64 else k)
            else:
                raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or bool tensors are "
                                 f"valid indices (got {type(k).__name__})")
        consumed = builtins.sum(0 if (k is None or k is Ellipsis) else (k.ndim if _isT(k, Tensor) and
                                                                          k.dtype == _C.dtype.bool else 1)
                                for k in items)
        if consumed > x.ndim:
            raise IndexError(f"too many indices for tensor of dimension {x.ndim}")
        if builtins.sum(1 for k in items if k is Ellipsis) > 1:
            raise IndexError("an index can only have a single ellipsis ('...')")
        full = []
        for k in items:
            if k is Ellipsis:
                full.extend([slice(None)] * (x.ndim - consumed))
            else:
                full.append(k)
        if Ellipsis not in items:
            full.extend([slice(None)] * (x.ndim - consumed))
        # bool tensors -> one int64 tensor per dim they cover; ints -> 0-d tensors (advanced, as in NumPy)
        entries = []
        int_entries = set()
        d = 0
        for k in full:
            if k is None:
                entries.append(None)
            elif isinstance(k, slice):
                entries.append(k)
                d += 1
            elif isinstance(k, int):
                n = x.shape[d]
                if not -n <= k < n:
                    raise IndexError(f"index {k} is out of bounds for dimension {d} with size {n}")
                entries.append(_C.full_int([], k, _int64, dev))
                int_entries.add(len(entries) - 1)
                d += 1
            elif k.dtype == _C.dtype.bool:
                want = tuple(x.shape[d:d + k.ndim])
                if tuple(k.shape) != want:
                    raise IndexError(f"The shape of the mask {list(k.shape)} at index {d} does not match the shape "
                                     f"of the indexed tensor {list(want)}")
                if k.ndim == 0:  # torch: a new dim of size 1 (True) or 0 (False), indexed like a 1-D mask
                    entries.append(_NewDimIndex(_C.zeros([1 if bool(_C.item(k)) else 0], _int64, dev)))
                    continue
                entries.extend(_ops.nonzero(k, as_tuple=True))
                d += k.ndim
            else:
                entries.append(k)
                d += 1
        self.entries = entries
        # dims of the basic view v
        # tpos: the positions of the tensor indices once the int indices have removed their dims (PyTorch applies
        # ints first, as select; their dims never count when deciding where the indexed dims go)
        adv_pos, idx, vd, tpos, kept = [], [], 0, [], 0
        for e, k in enumerate(entries):
            if k is None or isinstance(k, slice):
                vd += 1
                kept += 1
            else:
                adv_pos.append(vd)
                idx.append(k.index if isinstance(k, _NewDimIndex) else k)
                vd += 1
                if e not in int_entries:
                    tpos.append(kept)
                    kept += 1
        try:
            bshape = _ops.broadcast_shapes(*[i.shape for i in idx])
        except (ValueError, RuntimeError):
            raise IndexError("shape mismatch: indexing tensors could not be broadcast together with shapes "
                             + ", ".join(str(list(i.shape)) for i in idx)) from None
        self.idx = [i if tuple(i.shape) == tuple(bshape) else _C.contiguous(_C.expand(i, list(bshape))) for i in idx]
        self.adv_pos = adv_pos
        self.bshape = tuple(bshape)
        rest = [p for p in range(vd) if p not in adv_pos]
        self.perm = adv_pos + rest
        nb = len(bshape)
        p0 = tpos[0] if tpos else 0
        adjacent = tpos == list(range(p0, p0 + len(tpos)))
        if adjacent and p0 > 0:
            nr = vd - len(adv_pos)
            self.out_perm = list(range(nb, nb + p0)) + list(range(nb)) + list(range(nb + p0, nb + nr))
        else:
            self.out_perm = None

    def view(self, t):
        """The basic view of t (slices and None applied; indexed dims whole), indexed dims moved to the front."""
        d = 0
        for k in self.entries:
            if k is None or isinstance(k, _NewDimIndex):
                t = _C.unsqueeze(t, d)
            elif isinstance(k, slice):
                start, stop, step = k.indices(t.shape[d])
                if step <= 0:
                    raise ValueError("step must be greater than zero (negative steps are not supported)")
                t = _C.slice(t, d, start, builtins.max(stop, start), step)
            d += 1
        if self.perm != list(range(len(self.perm))):
            t = _C.permute(t, self.perm)
        return t

    def to_out(self, r):
        """[B..., R...] -> the result layout."""
        return r if self.out_perm is None else _C.permute(r, self.out_perm)

    def from_out(self, r):
        """The result layout -> [B..., R...]."""
        if self.out_perm is None:
            return r
        inv = [0] * len(self.out_perm)
        for i, p in enumerate(self.out_perm):
            inv[p] = i
        return _C.permute(r, inv)


class _IndexGet(Function):
    @staticmethod
    def forward(ctx, x, plan):
        ctx.plan = plan
        ctx.shape = x.shape
        return plan.to_out(_C.index_get(plan.view(x), plan.idx))

    @staticmethod
    def backward(ctx, g):
        plan = ctx.plan
        out = _C.zeros(list(ctx.shape), g.dtype, g.device)
        _C.index_put_(plan.view(out), plan.idx, plan.from_out(g), True)
        return out, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        plan = ctx.plan
        return _linear_backward(g, lambda t: _IndexGet.backward(ctx, t)[0],
                                lambda t: _IndexGet.apply(t, plan) if _needs_grad(t) else
                                plan.to_out(_C.index_get(plan.view(t), plan.idx))), None


def getitem_advanced(x, key):
    plan = _Plan(x, key)
    if _needs_grad(x):
        return _IndexGet.apply(x, plan)
    return plan.to_out(_C.index_get(plan.view(x), plan.idx))


class _IndexPut(Function):
    """x[plan] (=|+=) v, recorded after the write: x's gradient passes except at overwritten places; v's is the
    gradient at the indexed places, summed back to v's shape."""

    @staticmethod
    def forward(ctx, x, v, plan, accumulate, out_shape):
        ctx.plan, ctx.acc, ctx.out_shape = plan, accumulate, out_shape
        ctx.v_meta = (v.shape, v.dtype) if _isT(v, Tensor) else None
        return x

    @staticmethod
    def backward(ctx, g):
        plan = ctx.plan
        gx = g
        if not ctx.acc:
            gx = _C.clone(g)
            vp = plan.view(gx)
            zshape = list(plan.bshape) + list(vp.shape[len(plan.idx):])
            _C.index_put_(vp, plan.idx, _C.expand(_C.zeros([], g.dtype, g.device), zshape), False)
        gv = None
        if ctx.v_meta is not None and ctx.needs_input_grad[1]:
            region = plan.to_out(_C.index_get(plan.view(g), plan.idx))
            gv = _ops._g_for(region, ctx.v_meta)
        return gx, gv, None, None, None

    @staticmethod
    def _double_backward_fn(ctx, g):
        """The backward with recording ops: x's part (g zeroed at the written places, self-adjoint) and v's (the
        indexed region of g: advanced indexing, which records)."""
        plan = ctx.plan
        gx = g
        if not ctx.acc:
            def zero_raw(t):
                t = _C.clone(t)
                vp = plan.view(t)
                zshape = list(plan.bshape) + list(vp.shape[len(plan.idx):])
                _C.index_put_(vp, plan.idx, _C.expand(_C.zeros([], t.dtype, t.device), zshape), False)
                return t
            gx = _linear_pair(zero_raw, zero_raw)[0](g)
        gv = None
        if ctx.v_meta is not None and ctx.needs_input_grad[1]:
            region = _IndexGet.apply(g, plan) if _needs_grad(g) else plan.to_out(_C.index_get(plan.view(g), plan.idx))
            gv = _ops._g_for(region, ctx.v_meta)
        return gx, gv, None, None, None


def _put(x, key, value, accumulate):
    from ._tensor import _inplace_group, _rebase_inplace, _check_nograd_view
    plan = _Plan(x, key)
    vp = plan.view(x)
    rest = list(vp.shape[len(plan.idx):])
    bshape = list(plan.bshape)
    out_shape = list(plan.to_out(_C.empty(bshape + rest, x.dtype, "cpu")).shape) if plan.out_perm else bshape + rest
    if _isT(value, Tensor):
        v = value
        if v.device != x.device:
            v = _C.to(v, None, x.device, False)
        if v.dtype != x.dtype:
            v = _C.to(v, x.dtype, None, False)
        while v.ndim > len(out_shape) and v.shape[0] == 1:
            v = _C.squeeze(v, 0)
        try:
            v = _C.expand(v, out_shape)
        except Exception:  # noqa: BLE001
            raise ValueError(f"shape mismatch: value tensor of shape {list(value.shape)} cannot be broadcast to "
                             f"indexing result of shape {out_shape}") from None
    else:
        if not isinstance(value, (numbers.Number, np.generic)):
            raise TypeError(f"can't assign a {type(value).__name__} to a tensor")
        v = _C.expand(_C.full([], value, x.dtype, x.device) if x.dtype.is_floating_point
                      else _C.full_int([], int(value), x.dtype, x.device), out_shape)
    record = _needs_grad(x, value)
    if record:
        grp = _inplace_group(x)
    else:
        _check_nograd_view(x)
    _C.index_put_(vp, plan.idx, plan.from_out(v), accumulate)
    if record:
        alias = x._alias()
        if x.requires_grad:
            alias.requires_grad = True
            alias.grad_fn = x.grad_fn
            alias._output_nr = x._output_nr
        out = _IndexPut.apply(alias, value if _isT(value, Tensor) else None, plan, accumulate, out_shape)
        _rebase_inplace(x, out, grp)
    return x


def setitem_advanced(x, key, value):
    _put(x, key, value, False)


def index_put_(input, indices, values, accumulate=False):
    """input[indices] = values (or += with accumulate=True, duplicates summed), in place."""
    if not isinstance(indices, (tuple, list)):
        raise TypeError("index_put_(): indices must be a tuple of tensors")
    if _isT(values, Tensor) and values.dtype != input.dtype:  # torch: no cast here (x[i] = v does cast)
        raise RuntimeError(f"index_put_(): Index put requires the source and destination dtypes match, got "
                           f"{input.dtype.name} for the destination and {values.dtype.name} for the source.")
    return _put(input, tuple(indices), values, accumulate)


def index_put(input, indices, values, accumulate=False):
    return index_put_(_ops.clone(input), indices, values, accumulate)


# ------------------------------------------------------------------------------------------------- join/split

class _Cat(Function):
    @staticmethod
    def forward(ctx, dim, sizes, metas, *tensors):
        ctx.dim, ctx.sizes, ctx.metas = dim, sizes, metas
        return _cat_raw(tensors, dim)

    @staticmethod
    def backward(ctx, g):
        grads = [None, None, None]
        start = 0
        for n, m in zip(ctx.sizes, ctx.metas):
            piece = _C.slice(g, ctx.dim, start, start + n, 1)
            if piece.dtype != m[1]:
                piece = _C.to(piece, m[1], None, False)
            grads.append(piece)
            start += n
        return tuple(grads)

    @staticmethod
    def _double_backward_fn(ctx, g):
        grads = [None, None, None]
        start = 0
        for n, m in zip(ctx.sizes, ctx.metas):
            piece = _ops.narrow(g, ctx.dim, start, n)
            if piece.dtype != m[1]:
                piece = _ops._to(piece, m[1], None)
            grads.append(piece)
            start += n
        return tuple(grads)


def _cat_raw(tensors, dim):
    ref = tensors[0]
    dt = ref.dtype
    for t in tensors[1:]:
        if t.dtype != dt:
            dt = _C.promote_types(dt, t.dtype)
    if ref.device.type == "cpu":
        return _C._cat_cpu(tensors, dim, dt)
    shape = list(ref.shape)
    shape[dim] = builtins.sum(t.shape[dim] for t in tensors)
    out = _C.empty(shape, dt, ref.device)
    start = 0
    for t in tensors:
        n = t.shape[dim]
        if n:
            _C.copy_(_C.slice(out, dim, start, start + n, 1), t)
        start += n
    return out


def cat(tensors, dim=0, *, out=None):
    """Concatenates tensors (same shape except along dim) along dim; 1-D empty tensors are skipped (torch)."""
    if out is None:
        r = _C._cat_fast_cpu(tensors, dim)  # the native happy path on the cpu; None: the checks below
        if r is not None:
            return r
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        tensors = list(tensors) if not isinstance(tensors, Tensor) else None
        if tensors is None:
            raise TypeError("cat(): argument 'tensors' must be a sequence of Tensors, not Tensor")
    if len(tensors) == 0:
        raise ValueError("cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not _isT(t, Tensor):
            raise TypeError(f"cat(): expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
    keep = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)]
    dt_all = tensors[0].dtype  # the result's dtype: promoted over every input, the skipped ones too (torch)
    for t in tensors[1:]:
        if t.dtype != dt_all:
            dt_all = _C.promote_types(dt_all, t.dtype)
    if not keep:
        r = _C.clone(tensors[0])
        return r if r.dtype == dt_all else _C.to(r, dt_all, None, False)
    ref = keep[0]
    if ref.ndim == 0:
        raise ValueError("cat(): zero-dimensional tensor (at position 0) cannot be concatenated")
    d = _norm_dim(dim, ref.ndim, "cat")
    for i, t in enumerate(keep):
        if t.ndim != ref.ndim:
            raise ValueError(f"cat(): tensors must have same number of dimensions: got {ref.ndim} and {t.ndim}")
        if t.device != ref.device:
            raise RuntimeError(f"cat(): expected all tensors to be on the same device, got {ref.device} and "
                               f"{t.device}")
        for k in range(ref.ndim):
            if k != d and t.shape[k] != ref.shape[k]:
                raise _C.ShapeError(f"cat(): sizes of tensors must match except in dimension {d}. Expected size "
                                 f"{ref.shape[k]} but got size {t.shape[k]} for tensor number {i} in the list.")
    if _needs_grad(*keep):
        r = _Cat.apply(d, tuple(t.shape[d] for t in keep), tuple((t.shape, t.dtype) for t in keep), *keep)
    else:
        r = _cat_raw(keep, d)
    if r.dtype != dt_all:
        r = _ops._to(r, dt_all, None)
    if out is not None:
        _C.copy_(out, r)
        return out
    return r


concat = cat
concatenate = cat


def stack(tensors, dim=0, *, out=None):
    if out is None:
        r = _C._stack_fast_cpu(tensors, dim)  # the native happy path on the cpu; None: the checks below
        if r is not None:
            return r
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack(): expects a non-empty TensorList")
    ref = tensors[0]
    for i, t in enumerate(tensors):
        if not _isT(t, Tensor):
            raise TypeError(f"stack(): expected Tensor as element {i}, got {type(t).__name__}")
        if tuple(t.shape) != tuple(ref.shape):
            raise _C.ShapeError(f"stack(): stack expects each tensor to be equal size, but got {list(ref.shape)} at "
                             f"entry 0 and {list(t.shape)} at entry {i}")
    d = _norm_dim(dim, ref.ndim + 1, "stack")
    if out is None and _needs_grad(*tensors) and all(t.device == ref.device for t in tensors):
        return _Stack.apply(d, tuple(t.dtype for t in tensors), *tensors)
    return cat([_ops.unsqueeze(t, d) for t in tensors], d, out=out)


class _Stack(Function):
    """stack with autograd as one node (was an unsqueeze node per input and a cat): the backward hands each input
    its slice of the gradient."""

    @staticmethod
    def forward(ctx, d, dtypes, *tensors):
        ctx.d, ctx.dtypes = d, dtypes
        return _cat_raw([_C.unsqueeze(t, d) for t in tensors], d)

    @staticmethod
    def backward(ctx, g):
        grads = [None, None]
        for i, dt in enumerate(ctx.dtypes):
            piece = _C.select(g, ctx.d, i)
            grads.append(piece if piece.dtype == dt else _C.to(piece, dt, None, False))
        return tuple(grads)

    @staticmethod
    def _double_backward_fn(ctx, g):
        grads = [None, None]
        for i, dt in enumerate(ctx.dtypes):
            piece = _ops.select(g, ctx.d, i)
            grads.append(piece if piece.dtype == dt else _ops._to(piece, dt, None))
        return tuple(grads)


def hstack(tensors):
    tensors = [t if t.ndim else _ops.reshape(t, [1]) for t in tensors]  # atleast_1d, like torch
    if not tensors:
        raise ValueError("hstack(): expects a non-empty list of tensors")
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    return cat([t if t.ndim >= 2 else _ops.reshape(t, [1, -1]) for t in tensors], 0)


def split(tensor, split_size_or_sections=None, dim=0, *, split_size=None):
    """Views of consecutive pieces along dim: of split_size each (the last may be smaller), or of the given
    sizes (Tensor.split's keyword is split_size)."""
    if split_size is not None:
        if split_size_or_sections is not None:
            raise TypeError("split() got both split_size_or_sections and split_size")
        split_size_or_sections = split_size
    if split_size_or_sections is None:
        raise TypeError("split() missing the split_size_or_sections argument")
    d = _norm_dim(dim, tensor.ndim, "split")
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int(s) for s in split_size_or_sections]
        if builtins.any(s < 0 for s in sizes):
            raise ValueError(f"split_with_sizes expects split_sizes have only non-negative entries, but got "
                             f"split_sizes={sizes}")
        if builtins.sum(sizes) != n:
            raise ValueError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at "
                             f"dimension {d}), but got split_sizes={sizes}")
    else:
        s = int(split_size_or_sections)
        if s <= 0 and not (s == 0 and n == 0):
            raise ValueError(f"split(): split_size must be positive, got {s}")
        sizes = [builtins.min(s, n - i) for i in range(0, n, s)] if n else [0]
    return _narrow_pieces(tensor, d, sizes)


def _narrow_pieces(x, d, sizes=None, bounds=None):
    """The consecutive pieces of the given sizes along dim d (or x[a:b] along d for the consecutive (a, b) of
    bounds), as views (split, chunk, tensor_split)."""
    if bounds is None:
        bounds = [0]
        for s in sizes:
            bounds.append(bounds[-1] + s)
    argss = [(d, a, builtins.max(a, b), 1) for a, b in zip(bounds[:-1], bounds[1:])]
    return tuple(_ops._slices_multi(x, _C.slice, argss))


def chunk(input, chunks, dim=0):
    if chunks <= 0:
        raise ValueError(f"chunk(): chunks must be positive, got {chunks}")
    d = _norm_dim(dim, input.ndim, "chunk")
    n = input.shape[d]
    size = -(-n // chunks) if n else 0
    if size == 0:
        return _narrow_pieces(input, d, [0] * chunks)  # an empty dim: `chunks` empty pieces, as torch
    return split(input, size, d)


def tensor_split(input, indices_or_sections, dim=0):
    d = _norm_dim(dim, input.ndim, "tensor_split")
    n = input.shape[d]
    if isinstance(indices_or_sections, int):
        k = indices_or_sections
        q, r = divmod(n, k)
        sizes = [q + 1] * r + [q] * (k - r)
    else:
        bounds = [0] + [builtins.min(builtins.max(int(i), 0), n) for i in indices_or_sections] + [n]
        return _narrow_pieces(input, d, bounds=bounds)
    return _narrow_pieces(input, d, sizes)


def unbind(input, dim=0):
    d = _norm_dim(dim, input.ndim, "unbind")
    return tuple(_ops._slices_multi(input, _C.select, [(d, i) for i in range(input.shape[d])]))
