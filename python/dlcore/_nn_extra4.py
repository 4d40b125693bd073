"""Fractional max pooling (torch.nn.functional.fractional_max_pool2d / fractional_max_pool3d and their
*_with_indices forms), composed from dlcore's existing kernels and autograd ops (no new native code).

Shapes: input [N, C, *in] or [C, *in] (in = (H, W) or (T, H, W)); output and indices [N, C, *out] (or [C, *out]);
_random_samples [>=N, C, nsp] (nsp = 2 or 3) of the input's dtype, uniform in [0, 1).

Algorithm (Graham's fractional max pooling, as torch's CPU kernel computes it): for each plane and each spatial
dimension with sample u, input size n, window k and output size m,
    alpha = (n - k) / (m - 1),  start[i] = int((i + u) * alpha) - int(u * alpha)  (i < m - 1),  start[m - 1] = n - k,
the arithmetic done in the input's dtype (float32 rounds as float32). Sample columns: 2-d [W, H], 3-d [T, H, W].
Output[i] = max over the window [start[i], start[i] + k) of each dimension; indices are flat positions in the plane
(h * W + w, or t * H * W + h * W + w). Ties go to the first position in row-major window order; a window holding a
NaN gives its last NaN (torch's `val > max || isnan(val)` scan).

Implementation: the window starts are computed on the host (NumPy, in the input's dtype), a table of the flat
positions of every window element [B, P, K] is gathered from the input without autograd, the selected positions
are found by argmax (+ the NaN rule), and the output is one differentiable gather of the input at those positions:
its backward scatters (adds) the gradient to the argmax positions, and its double backward is a gather again.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import _C

Tensor = _C.Tensor

__all__ = ["fractional_max_pool2d", "fractional_max_pool3d", "fractional_max_pool2d_with_indices",
           "fractional_max_pool3d_with_indices"]


def _tuple(v, n, op, name, kind=int):
    """v as an n-tuple (a single number repeated); a clear error otherwise."""
    if isinstance(v, Tensor):
        v = v.tolist()
    if isinstance(v, numbers.Number) and not isinstance(v, bool):
        return (kind(v),) * n
    try:
        t = tuple(v)
    except TypeError:
        raise TypeError(f"{op}(): {name} must be a number or a tuple of {n} numbers, got {type(v).__name__}") \
            from None
    if len(t) == 1:
        t = t * n
    if len(t) != n:
        raise RuntimeError(f"{op}: {name} must either be a single Int or tuple of Ints (got {v!r}, expected {n} "
                           f"values)")
    out = []
    for e in t:
        if not isinstance(e, numbers.Number) or isinstance(e, bool):
            raise TypeError(f"{op}(): {name} must hold numbers, got {type(e).__name__}")
        out.append(kind(e))
    return tuple(out)


def _intervals(samples, n, k, m, np_dtype, op):
    """Window starts [B, m] for one spatial dimension (torch's generate_intervals, in np_dtype arithmetic)."""
    b = samples.shape[0]
    seq = np.empty((b, m), dtype=np.int64)
    if m > 1:
        alpha = np_dtype(n - k) / np_dtype(m - 1)
        u = samples.astype(np_dtype)[:, None]
        i = np.arange(m - 1).astype(np_dtype)[None, :]
        with np.errstate(invalid="ignore", over="ignore"):
            a = ((i + u) * alpha).astype(np.float64)
            c = (u * alpha).astype(np.float64)
        if not (np.isfinite(a).all() and np.isfinite(c).all()):
            raise RuntimeError(f"{op}(): _random_samples must be finite")
        seq[:, :m - 1] = np.trunc(a).astype(np.int64) - np.trunc(c).astype(np.int64)
    if m > 0:
        seq[:, m - 1] = n - k
    return seq


def _fractional_max_pool(input, kernel_size, output_size, output_ratio, random_samples, nsp):
    op = f"fractional_max_pool{nsp}d"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be a Tensor, not {type(input).__name__}")
    if input.ndim not in (nsp + 1, nsp + 2):
        raise RuntimeError(f"{op}(): Expected {nsp + 1}D or {nsp + 2}D tensor, but got: {list(input.shape)}")
    if input.dtype not in (_C.dtype.float32, _C.dtype.float64):
        raise TypeError(f"{op}(): expected a float32 or float64 input, got dtype {input.dtype.name}")
    first = 1 if input.ndim == nsp + 2 else 0
    for d in range(first, input.ndim):
        if input.shape[d] <= 0:
            raise RuntimeError(f"{op}(): Expected input to have non-zero size for non-batch dimensions, but got "
                               f"{list(input.shape)} with dimension {d} being empty.")
    k = _tuple(kernel_size, nsp, op, "kernel_size")
    if any(v <= 0 for v in k):
        raise ValueError(f"{op}(): kernel_size must be greater than 0, but got {k}")
    insz = [int(s) for s in input.shape[-nsp:]]
    if output_size is None and output_ratio is None:
        raise ValueError(f"{op} requires specifying either an output_size or an output_ratio")
    if output_size is None:
        ratio = _tuple(output_ratio, nsp, op, "output_ratio", float)
        out = [int(insz[i] * ratio[i]) for i in range(nsp)]
    else:
        out = list(_tuple(output_size, nsp, op, "output_size"))
    names = ["height", "width"] if nsp == 2 else ["time", "height", "width"]
    for i in range(nsp):
        if out[i] < 0:
            raise RuntimeError(f"{op}(): output_size must be non-negative, got {tuple(out)}")
        # torch's checks: 2-d out + k - 1 <= in, 3-d out + k - 1 < in (strict)
        if out[i] + k[i] - 1 > insz[i] - (1 if nsp == 3 else 0):
            raise RuntimeError(f"{op}(): pool {names[i]} {k[i]} too large relative to input {names[i]} {insz[i]} "
                               f"(output {names[i]} {out[i]})")
    nbatch = int(input.shape[0]) if first else 1
    channels = int(input.shape[first])
    if random_samples is None:
        from ._creation import rand
        random_samples = rand(nbatch, channels, nsp, dtype=input.dtype, device=input.device)
    else:
        if not isinstance(random_samples, Tensor):
            raise TypeError(f"{op}(): _random_samples must be a Tensor, not {type(random_samples).__name__}")
        if random_samples.dtype != input.dtype:
            raise RuntimeError(f"{op}(): Expect _random_samples to have the same dtype as input (got "
                               f"{random_samples.dtype.name} and {input.dtype.name})")
        if random_samples.ndim != 3:
            raise RuntimeError(f"{op}(): Expect _random_samples to have 3 dimensions, got {random_samples.ndim}")
        rs = list(random_samples.shape)
        if rs[0] < nbatch:
            raise RuntimeError(f"{op}(): Expect _random_samples.size(0) no less than input batch size ({rs[0]} < "
                               f"{nbatch})")
        if rs[1] != channels:
            raise RuntimeError(f"{op}(): Expect _random_samples.size(1) equals to input channel size ({rs[1]} != "
                               f"{channels})")
        if rs[2] != nsp:
            raise RuntimeError(f"{op}(): Expect _random_samples.size(2) equals to {nsp}; got {rs[2]}.")
    lead = list(input.shape[:-nsp])
    b = nbatch * channels
    plane = math.prod(out)
    lin = math.prod(insz)
    if b == 0 or plane == 0:
        from . import _ops
        empty_idx = _C.zeros(lead + out, _C.dtype.int64, input.device)
        y = _ops.reshape(_ops.mul(_ops.narrow(_ops.reshape(input, [-1]), 0, 0, 0), 1.0), lead + out)
        return y, empty_idx

    np_dtype = np.float32 if input.dtype == _C.dtype.float32 else np.float64
    host = np.asarray(_C.to(random_samples.detach(), None, "cpu", False).numpy(force=True))
    host = host[:nbatch].reshape(b, nsp)
    # sample column of each spatial dimension (torch: 2-d [W, H], 3-d [T, H, W])
    col = [1, 0] if nsp == 2 else [0, 1, 2]
    seqs = [_intervals(host[:, col[i]], insz[i], k[i], out[i], np_dtype, op) for i in range(nsp)]
    for i in range(nsp):
        if seqs[i].min() < 0 or seqs[i].max() + k[i] > insz[i]:
            raise RuntimeError(f"{op}(): _random_samples give pooling windows outside the input (expected samples "
                               f"in [0, 1))")
    # flat positions: the start of every window [b, *out] and the offsets inside a window [*k]
    strides = [math.prod(insz[i + 1:]) for i in range(nsp)]
    base = np.zeros([b] + out, dtype=np.int64)
    offs = np.zeros(k, dtype=np.int64)
    for i in range(nsp):
        shape = [b] + [1] * nsp
        shape[1 + i] = out[i]
        base = base + (seqs[i] * strides[i]).reshape(shape)
        kshape = [1] * nsp
        kshape[i] = k[i]
        offs = offs + (np.arange(k[i], dtype=np.int64) * strides[i]).reshape(kshape)
    kk = offs.size
    table = (base.reshape(b, plane, 1) + offs.reshape(1, 1, kk)).reshape(b, plane * kk)

    from . import _ops
    from ._indexing import gather
    tbl = _C.to(_C.from_numpy(np.ascontiguousarray(table)), None, input.device, False)
    x2 = _ops.reshape(input, [b, lin])
    xd = _C.contiguous(x2.detach())
    vals = _ops.reshape(_C.gather(xd, 1, tbl), [b, plane, kk])
    sel = _ops.argmax(vals, dim=2)
    nan = _ops.isnan(vals)
    if bool(_ops.any(nan).item()):  # torch's scan: a window with NaNs gives its last NaN
        from ._rearrange import flip
        rev = _ops.argmax(_C.to(flip(nan, [2]), _C.dtype.int32, None, False), dim=2)
        last = _ops.sub(kk - 1, rev)
        sel = _ops.where(_ops.any(nan, dim=2), last, sel)
    tbl3 = _ops.reshape(tbl, [b, plane, kk])
    idx = _ops.reshape(_C.gather(tbl3, 2, _C.contiguous(_ops.reshape(sel, [b, plane, 1]))), [b, plane])
    idx = _C.contiguous(idx)
    y = gather(x2, 1, idx)
    return _ops.reshape(y, lead + out), _ops.reshape(idx, lead + out)


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """(output, indices) of 2-d fractional max pooling over [N, C, H, W] or [C, H, W] (see the module doc)."""
    return _fractional_max_pool(input, kernel_size, output_size, output_ratio, _random_samples, 2)


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """2-d fractional max pooling (Graham 2014): kernel_size windows at pseudo-random steps chosen so that the
    output has output_size (or floor(input size * output_ratio)); returns (output, indices) with return_indices."""
    y, idx = _fractional_max_pool(input, kernel_size, output_size, output_ratio, _random_samples, 2)
    return (y, idx) if return_indices else y


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """(output, indices) of 3-d fractional max pooling over [N, C, T, H, W] or [C, T, H, W]."""
    return _fractional_max_pool(input, kernel_size, output_size, output_ratio, _random_samples, 3)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """3-d fractional max pooling; returns (output, indices) with return_indices."""
    y, idx = _fractional_max_pool(input, kernel_size, output_size, output_ratio, _random_samples, 3)
    return (y, idx) if return_indices else y
