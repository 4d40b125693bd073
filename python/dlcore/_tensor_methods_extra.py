"""The remaining torch.Tensor methods, composed of existing dlcore ops (each runs where those run, and its gradient
is the composition's):

- in-place matrix products addmm_, addbmm_, baddbmm_, addr_ (through the in-place autograd machinery of
  ``_tensor_extra._make_inplace``);
- random: Tensor.bernoulli / Tensor.multinomial, and the in-place fills exponential_, geometric_, cauchy_,
  log_normal_ (inverse-CDF transforms of uniform draws from dlcore's Philox generator: reproducible under
  dlcore.manual_seed or a given generator);
- special functions: i0, polygamma, mvlgamma, igamma, igammac (+ in-place forms and the top-level functions), from
  dlcore.special (imported on first use);
- bitwise_left_shift / bitwise_right_shift (+ in-place, and the << >> operators) on integer tensors, with torch's
  results for shift amounts outside [0, bit width);
- index_reduce / index_reduce_ (prod, mean, amax, amin; include_self) from scatter_reduce;
- hardshrink, prelu, adjoint, as_strided_, unsafe_chunk / unsafe_split / unsafe_split_with_sizes;
- apply_ / map_ / map2_: Python callables applied element by element (CPU tensors only, as torch);
- register_post_accumulate_grad_hook, resize_/resize_as_ with torch's storage semantics, untyped_storage/storage,
  dim_order, as_subclass, the complex-number methods of a real-only library (conj, real, imag, angle, mH, ...) and
  memory-placement queries (pin_memory, is_pinned, share_memory_, is_shared: dlcore has neither pinned nor shared
  host memory).
"""
from __future__ import annotations

import numbers

import numpy as np

from . import _C
from . import _ops
from .autograd import _needs_grad, Function
from . import _math_extra
from ._indexing import index_select as _index_select
from ._creation import zeros_like as _zeros_like, ones_like as _ones_like
from ._tensor_extra import _make_inplace, _check_tensor, _norm_dim
from ._hooks import RemovableHandle as _RemovableHandle

Tensor = _C.Tensor
_int64 = _C.dtype.int64
_float64 = _C.dtype.float64

__all__ = ["i0", "polygamma", "mvlgamma", "igamma", "igammac", "bitwise_left_shift", "bitwise_right_shift",
           "index_reduce", "unsafe_chunk", "unsafe_split", "unsafe_split_with_sizes", "angle", "conj",
           "conj_physical", "resolve_conj", "resolve_neg", "is_conj", "is_neg", "real", "imag", "resize_as_"]


# ------------------------------------------------------------------------------------------------- special functions

def _special():
    from . import special
    return special


def i0(input, *, out=None):
    """The modified Bessel function of the first kind, order 0 (torch.i0)."""
    return _special().i0(input, out=out)


def polygamma(n, input, *, out=None):
    """The n-th derivative of digamma (torch.polygamma)."""
    return _special().polygamma(n, input, out=out)


def mvlgamma(input, p, *, out=None):
    """The multivariate log-gamma function of dimension p (torch.mvlgamma)."""
    return _special().multigammaln(input, p, out=out)


def igamma(input, other, *, out=None):
    """The regularized lower incomplete gamma function P(input, other) (torch.igamma)."""
    return _special().gammainc(input, other, out=out)


def igammac(input, other, *, out=None):
    """The regularized upper incomplete gamma function Q(input, other) (torch.igammac)."""
    return _special().gammaincc(input, other, out=out)


# ------------------------------------------------------------------------------------------------- bit shifts

_INT_DTYPES = (_C.dtype.uint8, _C.dtype.int8, _C.dtype.int16, _C.dtype.int32, _C.dtype.int64)


def _shift_operands(op, a, b):
    """(a, b as tensors of the result dtype, result dtype); scalars take the tensor operand's dtype, like torch."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{op}(): expected at least one dlcore.Tensor, got {type(a).__name__} and "
                        f"{type(b).__name__}")
    # torch: the operands' result type (a bool tensor with a number is int64: b << 2; with a uint8 tensor uint8);
    # bool with bool has no shift
    for v in (a, b):
        if isinstance(v, numbers.Integral) and not isinstance(v, bool) and not -2**63 <= int(v) < 2**64:
            raise OverflowError("int too big to convert")
    bool_rt = None
    if (isinstance(a, Tensor) and a.dtype == _C.dtype.bool) or (isinstance(b, Tensor) and b.dtype == _C.dtype.bool):
        if isinstance(a, (Tensor, numbers.Integral)) and isinstance(b, (Tensor, numbers.Integral)):
            bool_rt = _C.result_type(a, b)
            if bool_rt == _C.dtype.bool:
                raise NotImplementedError(f"{op}(): not implemented for 'Bool' (both operands are bool)")
    if isinstance(a, Tensor) and a.dtype == _C.dtype.bool:
        a = _C.to(a, bool_rt if bool_rt is not None else _int64, None, False)
    if isinstance(b, Tensor) and b.dtype == _C.dtype.bool:
        b = _C.to(b, bool_rt if bool_rt is not None else _int64, None, False)
    a = int(a) if isinstance(a, bool) else a
    b = int(b) if isinstance(b, bool) else b
    ref = a if isinstance(a, Tensor) else b
    for name, v in (("input", a), ("other", b)):
        if isinstance(v, Tensor):
            if v.dtype not in _INT_DTYPES:
                raise NotImplementedError(f"{op}(): not implemented for dtype {v.dtype.name} (argument '{name}'); "
                                          f"expected an integer tensor (uint8, int8, int16, int32, int64)")
        elif isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{op}(): argument '{name}' must be an integer tensor or int, got {type(v).__name__}")
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        if a.device != b.device:
            raise RuntimeError(f"{op}(): expected both tensors on the same device, got {a.device} and {b.device}")
        rt = _C.result_type(a, b)
    else:
        rt = ref.dtype

    def as_t(v):
        if isinstance(v, Tensor):
            return v if v.dtype == rt else _C.to(v, rt, None, False)
        wrapped = np.array(int(v) & 0xFFFFFFFFFFFFFFFF, dtype=np.uint64).astype(rt.to_numpy())
        # (np.require, not np.ascontiguousarray, which makes a 0-d array 1-d)
        return _C.to(_C.from_numpy(np.require(wrapped.reshape(()), requirements="C")), None, ref.device, False)

    return as_t(a), as_t(b), rt


def _pow2(k, rt, width):
    """2**k (k an int64 tensor with values in [0, width)), wrapped to rt."""
    table = np.array([(1 << i) & 0xFFFFFFFFFFFFFFFF for i in range(width)], dtype=np.uint64).astype(rt.to_numpy())
    tab = _C.to(_C.from_numpy(table), None, k.device, False)
    flat = _C.reshape(_ops.contiguous(k), [-1])
    return _C.reshape(_index_select(tab, 0, flat), list(k.shape))


def bitwise_left_shift(input, other, *, out=None):
    """input << other elementwise (integer tensors; shifts outside [0, bit width) give 0, like torch)."""
    a, b, rt = _shift_operands("bitwise_left_shift", input, other)
    width = 8 * rt.itemsize
    shape = list(_ops.broadcast_shapes(list(a.shape), list(b.shape)))
    a, b = _ops.expand(a, shape), _ops.expand(b, shape)
    b64 = b if b.dtype == _int64 else _C.to(b, _int64, None, False)
    valid = _ops.logical_and(_ops.ge(b64, 0), _ops.lt(b64, width))
    k = _ops.where(valid, b64, _zeros_like(b64))
    res = _ops.where(valid, _ops.mul(a, _pow2(k, rt, width)), _zeros_like(a))
    return _finish_out(res, out, "bitwise_left_shift")


def bitwise_right_shift(input, other, *, out=None):
    """input >> other elementwise, arithmetic for signed dtypes (integer tensors; shifts outside [0, bit width) give
    the sign fill, -1 or 0, like torch)."""
    a, b, rt = _shift_operands("bitwise_right_shift", input, other)
    width = 8 * rt.itemsize
    signed = rt != _C.dtype.uint8
    shape = list(_ops.broadcast_shapes(list(a.shape), list(b.shape)))
    a, b = _ops.expand(a, shape), _ops.expand(b, shape)
    b64 = b if b.dtype == _int64 else _C.to(b, _int64, None, False)
    top = width - 1 if signed else width  # 2**(width-1) does not fit a signed dtype: that shift is the sign fill
    valid = _ops.logical_and(_ops.ge(b64, 0), _ops.lt(b64, top))
    k = _ops.where(valid, b64, _zeros_like(b64))
    zero = _zeros_like(a)
    fill = _ops.where(_ops.lt(a, 0), _ops.sub(zero, _ones_like(a)), zero) if signed else zero
    res = _ops.where(valid, _ops.floor_divide(a, _pow2(k, rt, width)), fill)
    return _finish_out(res, out, "bitwise_right_shift")


def _finish_out(res, out, op):
    if out is None:
        return res
    _check_tensor(out, op, "out")
    if list(out.shape) != list(res.shape):
        raise RuntimeError(f"{op}(): out has shape {list(out.shape)}, expected {list(res.shape)}")
    _C.copy_(out, res if res.dtype == out.dtype else _C.to(res, out.dtype, None, False))
    return out


# ------------------------------------------------------------------------------------------------- index_reduce

_INDEX_REDUCES = ("prod", "mean", "amax", "amin")


def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """input with the slices of source reduced into it at the positions index along dim (prod, mean, amax, amin;
    include_self=False leaves the old values of the indexed slices out), as torch.index_reduce."""
    from ._tensor_extra import scatter_reduce
    op = "index_reduce"
    _check_tensor(input, op)
    _check_tensor(index, op, "index")
    _check_tensor(source, op, "source")
    if reduce not in _INDEX_REDUCES:
        raise ValueError(f"{op}(): reduce argument must be one of {', '.join(_INDEX_REDUCES)}, got {reduce!r}")
    if index.dtype not in (_C.dtype.int64, _C.dtype.int32):
        raise TypeError(f"{op}(): expected index of dtype int64 or int32, got {index.dtype.name}")
    if index.ndim > 1:
        raise IndexError(f"{op}(): index must be a vector (0-D or 1-D), got shape {list(index.shape)}")
    if source.dtype != input.dtype:
        raise TypeError(f"{op}(): expected source of dtype {input.dtype.name} (like self), got {source.dtype.name}")
    if input.device != source.device or input.device != index.device:
        raise RuntimeError(f"{op}(): expected self, index and source on one device, got {input.device}, "
                           f"{index.device} and {source.device}")
    d = _norm_dim(dim, input.ndim, op)
    n = index.numel()
    src_nd = source.ndim if source.ndim else 1
    in_nd = input.ndim if input.ndim else 1
    if src_nd != in_nd:
        raise IndexError(f"{op}(): self {list(input.shape)} and source {list(source.shape)} must have the same "
                         f"number of dimensions")
    sshape = list(source.shape) or [1]
    ishape = list(input.shape) or [1]
    if sshape[d] != n:
        raise RuntimeError(f"{op}(): number of indices ({n}) should be equal to source.size({d}) = {sshape[d]}")
    for k in range(in_nd):
        if k != d and sshape[k] != ishape[k]:
            raise RuntimeError(f"{op}(): self {list(input.shape)} and source {list(source.shape)} must match "
                               f"in every dimension but {d}")
    idx = index if index.dtype == _int64 else _C.to(index, _int64, None, False)
    view = [1] * in_nd
    view[d] = n
    idx = _ops.expand(_C.reshape(_ops.contiguous(idx), view), sshape)
    if input.ndim == 0:
        res = scatter_reduce(_ops.reshape(input, [1]), 0, idx, _ops.reshape(source, [1]), reduce,
                             include_self=include_self)
        return _ops.reshape(res, [])
    return scatter_reduce(input, d, _ops.contiguous(idx), source, reduce, include_self=include_self)


# ------------------------------------------------------------------------------------------------- random fills

def _uniform64(self, generator):
    from ._creation import _random
    return _random(list(self.shape), _float64, self.device, "uniform", 0.0, 1.0, generator)


def _fill(self, values, op):
    """Writes values (float64) into self as a constant (its old history gets no gradient, like torch)."""
    if self.dtype != values.dtype:
        values = _C.to(values, self.dtype, None, False)
    if _needs_grad(self):
        return Tensor.copy_(self, values)
    from . import _tensor as _tm
    _tm._check_nograd_view(self)
    _C.copy_(self, values)
    return self


def _need_float(self, op):
    if not self.dtype.is_floating_point:
        raise NotImplementedError(f"{op}(): not implemented for dtype {self.dtype.name}; expected a floating "
                                  f"point tensor")


def _exponential_(self, lambd=1.0, *, generator=None):
    _need_float(self, "exponential_")
    if not lambd > 0.0:
        raise RuntimeError(f"exponential_(): expects lambda > 0.0, but found lambda={lambd}")
    u = _uniform64(self, generator)
    return _fill(self, _ops.mul(_ops.log1p(_ops.neg(u)), -1.0 / float(lambd)), "exponential_")


def _geometric_(self, p, *, generator=None):
    if self.dtype == _C.dtype.bool:
        raise NotImplementedError("geometric_(): not implemented for dtype bool")
    if not 0.0 < p < 1.0:
        raise RuntimeError(f"geometric_(): expects p to be in (0, 1), but got p={p}")
    u = _uniform64(self, generator)
    # P(X = k) = (1-p)^(k-1) p, k >= 1: X = ceil(log(1-u) / log(1-p)), at least 1
    x = _ops.ceil(_ops.div(_ops.log1p(_ops.neg(u)), float(np.log1p(-float(p)))))
    return _fill(self, _ops.clamp(x, min=1.0), "geometric_")


def _cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    _need_float(self, "cauchy_")
    if not sigma > 0.0:
        raise RuntimeError(f"cauchy_(): expects sigma > 0.0, but found sigma={sigma}")
    u = _uniform64(self, generator)
    x = _ops.add(_ops.mul(_math_extra.tan(_ops.mul(_ops.sub(u, 0.5), float(np.pi))), float(sigma)), float(median))
    return _fill(self, x, "cauchy_")


def _log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    _need_float(self, "log_normal_")
    if not std > 0.0:
        raise RuntimeError(f"log_normal_(): expects std > 0.0, but found std={std}")
    from ._creation import _random
    z = _random(list(self.shape), _float64, self.device, "normal", float(mean), float(std), generator)
    return _fill(self, _ops.exp(z), "log_normal_")


def _bernoulli(self, p=None, *, generator=None):
    from ._creation import bernoulli
    return bernoulli(self, p, generator=generator)


def _multinomial(self, num_samples, replacement=False, *, generator=None):
    from ._creation import multinomial
    if self.ndim not in (1, 2):
        raise RuntimeError(f"multinomial(): prob_dist must be 1 or 2 dim, got shape {list(self.shape)}")
    if num_samples <= 0:
        raise RuntimeError(f"multinomial(): cannot sample n_sample <= 0 samples, got {num_samples}")
    if not replacement and num_samples > self.shape[-1]:
        raise RuntimeError(f"multinomial(): cannot sample n_sample ({num_samples}) > prob_dist.size(-1) "
                           f"({self.shape[-1]}) samples without replacement")
    return multinomial(self, num_samples, replacement, generator=generator)


# ------------------------------------------------------------------------------------------------- Python callables

def _host_values(t, op):
    if t.device.type != "cpu":
        raise TypeError(f"{op}(): is only implemented on CPU tensors, got a tensor on {t.device}")
    return np.array(t.detach().numpy(), copy=True)


def _write_back(self, values, op):
    from . import _tensor as _tm
    new = _C.from_numpy(np.require(values.astype(self.dtype.to_numpy()), requirements="C"))  # (0-d stays 0-d)
    _tm._check_nograd_view(self)
    _C.copy_(self, new)
    return self


def _elementwise(self, op, fn, others):
    """torch's apply_/map_/map2_: self (and the others, broadcast to self's shape, of self's dtype) on the CPU, no
    autograd (a tensor that requires grad is refused, as torch)."""
    for t in (self, *others):
        _check_tensor(t, op, "tensor")
        if t.requires_grad:
            raise RuntimeError(f"Can't call {op}() on Variable that requires grad. Use var.detach().{op}() instead.")
        if t.dtype != self.dtype:
            raise TypeError(f"{op}(): expected the tensor arguments of dtype {self.dtype.name} (like self), got "
                            f"{t.dtype.name}")
    vals = _host_values(self, op)
    arrs = []
    for o in others:
        a = _host_values(o, op)
        try:
            a = np.broadcast_to(a, vals.shape)
        except ValueError:
            raise RuntimeError(f"{op}(): tensor of shape {list(o.shape)} is not broadcastable to self "
                               f"{list(self.shape)}") from None
        arrs.append(a)
    if not callable(fn):
        raise TypeError(f"{op}(): expected a callable, got {type(fn).__name__}")
    flat = vals.reshape(-1)
    oflat = [a.reshape(-1) for a in arrs]
    is_float = self.dtype.is_floating_point
    conv = float if is_float else (bool if self.dtype == _C.dtype.bool else int)
    res = np.empty_like(flat)
    for i in range(flat.size):
        r = fn(conv(flat[i]), *[conv(a[i]) for a in oflat])
        if not isinstance(r, numbers.Number) or isinstance(r, complex):
            raise TypeError(f"{op}(): the callable must return a real number, got {type(r).__name__}")
        res[i] = r
    return _write_back(self, res.reshape(vals.shape), op)


def _apply_(self, callable):  # noqa: A002
    return _elementwise(self, "apply_", callable, ())


def _map_(self, tensor, callable):  # noqa: A002
    return _elementwise(self, "map_", callable, (tensor,))


def _map2_(self, x, y, callable):  # noqa: A002
    return _elementwise(self, "map2_", callable, (x, y))


# ------------------------------------------------------------------------------------------------- views, aliases

def _adjoint(self):
    if self.ndim < 2:
        raise RuntimeError(f"adjoint(): is only supported on matrices or batches of matrices, got a {self.ndim}-D "
                           f"tensor")
    return _ops.transpose(self, -2, -1)


def _as_strided_(self, size, stride, storage_offset=None):
    """self takes the geometry (size, stride, storage_offset) over its own storage."""
    from . import _tensor as _tm
    size, stride = [int(s) for s in size], [int(s) for s in stride]
    if len(size) != len(stride):
        raise RuntimeError(f"as_strided_(): mismatch in length of strides and shape: {size} and {stride}")
    off = self.storage_offset() if storage_offset is None else int(storage_offset)
    geom = (size, stride, off)
    probe = _C.as_strided(self, *geom)  # validates the geometry against the storage (raises, never writes)
    if _needs_grad(self):
        if self.grad_fn is None:
            raise RuntimeError("as_strided_(): a leaf Variable that requires grad is being used in an in-place "
                               "operation.")
        grp = self.__dict__.get("_view_group")
        if grp is not None:
            if grp.base() is not self or [m for m in grp.live_members() if m is not self]:
                raise RuntimeError("as_strided_(): changing the geometry in place of a tensor with live views "
                                   "recorded by autograd is not supported; use the out-of-place as_strided")
            del self.__dict__["_view_group"]
        new = _ops._AsStrided.apply(self, _ops._geometry(self), geom)
        self._set_data(new)
        self.grad_fn, self._output_nr = new.grad_fn, new._output_nr
        return self
    _tm._check_nograd_view(self)
    self._set_data(probe)
    return self


def unsafe_chunk(input, chunks, dim=0):
    """chunk (torch's unsafe_ variant differs only in skipping autograd's view checks)."""
    from ._indexing import chunk
    return chunk(input, chunks, dim)


def unsafe_split(tensor, split_size_or_sections, dim=0):
    from ._indexing import split
    return split(tensor, split_size_or_sections, dim)


def unsafe_split_with_sizes(input, split_sizes, dim=0):
    from ._tensor_extra import split_with_sizes
    return split_with_sizes(input, split_sizes, dim)


# ------------------------------------------------------------------------------------------------- attach

def _shift_op(fn, reflected=False):
    def op(self, other):
        if not isinstance(other, (Tensor, numbers.Integral)):  # (a Python bool shifts as 0 / 1, as torch)
            return NotImplemented
        return fn(other, self) if reflected else fn(self, other)
    return op


def _attach():
    from ._nn_extra import hardshrink, prelu
    from ._ops import addmm
    from ._tensor_extra import addbmm, baddbmm, addr
    T = Tensor
    methods = {
        "i0": lambda self: i0(self),
        "polygamma": lambda self, n: polygamma(n, self),
        "mvlgamma": lambda self, p: mvlgamma(self, p),
        "igamma": lambda self, other: igamma(self, other),
        "igammac": lambda self, other: igammac(self, other),
        "bitwise_left_shift": lambda self, other: bitwise_left_shift(self, other),
        "bitwise_right_shift": lambda self, other: bitwise_right_shift(self, other),
        "index_reduce": lambda self, dim, index, source, reduce, *, include_self=True: index_reduce(
            self, dim, index, source, reduce, include_self=include_self),
        "hardshrink": lambda self, lambd=0.5: hardshrink(self, lambd),
        "prelu": lambda self, weight: prelu(self, weight),
        "adjoint": _adjoint,
        "bernoulli": _bernoulli,
        "multinomial": _multinomial,
        "exponential_": _exponential_,
        "geometric_": _geometric_,
        "cauchy_": _cauchy_,
        "log_normal_": _log_normal_,
        "apply_": _apply_,
        "map_": _map_,
        "map2_": _map2_,
        "as_strided_": _as_strided_,
        "unsafe_chunk": unsafe_chunk,
        "unsafe_split": unsafe_split,
        "unsafe_split_with_sizes": unsafe_split_with_sizes,
        "__lshift__": _shift_op(bitwise_left_shift),
        "__rshift__": _shift_op(bitwise_right_shift),
        "__rlshift__": _shift_op(bitwise_left_shift, reflected=True),
        "__rrshift__": _shift_op(bitwise_right_shift, reflected=True),
    }
    for name, fn in methods.items():
        if not hasattr(T, name):
            if getattr(fn, "__name__", "") == "<lambda>":
                fn.__name__ = name
            setattr(T, name, fn)
    inplace = {
        "addmm_": lambda s, mat1, mat2, *, beta=1, alpha=1: addmm(s, mat1, mat2, beta=beta, alpha=alpha),
        "addbmm_": lambda s, batch1, batch2, *, beta=1, alpha=1: addbmm(s, batch1, batch2, beta=beta, alpha=alpha),
        "baddbmm_": lambda s, batch1, batch2, *, beta=1, alpha=1: baddbmm(s, batch1, batch2, beta=beta,
                                                                           alpha=alpha),
        "addr_": lambda s, vec1, vec2, *, beta=1, alpha=1: addr(s, vec1, vec2, beta=beta, alpha=alpha),
        "i0_": lambda s: i0(s),
        "polygamma_": lambda s, n: polygamma(n, s),
        "mvlgamma_": lambda s, p: mvlgamma(s, p),
        "igamma_": lambda s, other: igamma(s, other),
        "igammac_": lambda s, other: igammac(s, other),
        "bitwise_left_shift_": lambda s, other: bitwise_left_shift(s, other),
        "bitwise_right_shift_": lambda s, other: bitwise_right_shift(s, other),
        "index_reduce_": lambda s, dim, index, source, reduce, *, include_self=True: index_reduce(
            s, dim, index, source, reduce, include_self=include_self),
    }
    for name, fn in inplace.items():
        if not hasattr(T, name):
            setattr(T, name, _make_inplace(_checked_inplace(fn, name), name))
    if not hasattr(T, "__ilshift__"):
        T.__ilshift__ = T.bitwise_left_shift_
    if not hasattr(T, "__irshift__"):
        T.__irshift__ = T.bitwise_right_shift_
    # x &= y, |=, ^= in place (without these Python rebinds x to a new tensor and aliases do not see the change)
    for dunder, meth in (("__iand__", "bitwise_and_"), ("__ior__", "bitwise_or_"), ("__ixor__", "bitwise_xor_")):
        if not hasattr(T, dunder):
            setattr(T, dunder, getattr(T, meth))


def _checked_inplace(fn, op):
    """In-place ops write a result of self's shape: a broadcast result larger than self is an error (torch)."""
    def f(self, *args, **kwargs):
        out = fn(self, *args, **kwargs)
        if list(out.shape) != list(self.shape):
            raise RuntimeError(f"{op}(): output with shape {list(self.shape)} doesn't match the broadcast shape "
                               f"{list(out.shape)}")
        return out
    return f


_attach()


# ------------------------------------------------------------------------------------------------- torch.Tensor odds and ends
# (register_post_accumulate_grad_hook, resize_ with torch's storage semantics, storage access, the complex-number
# methods of a real-only library, memory-placement queries)

_post_acc_installed = [False]


def _install_post_accumulate():
    """Wraps the engine's leaf accumulation (dlcore.autograd._accumulate_into_leaf) once, on first use, so that
    a leaf's post-accumulate-grad hooks run after its .grad was updated."""
    if _post_acc_installed[0]:
        return
    from . import autograd
    inner = autograd._accumulate_into_leaf

    def accumulate(t, g):
        inner(t, g)
        hooks = t.__dict__.get("_post_acc_hooks")
        if hooks:
            for h in list(hooks.values()):
                h(t)

    autograd._accumulate_into_leaf = accumulate
    _post_acc_installed[0] = True


def _register_post_accumulate_grad_hook(self, hook):
    """hook(tensor) runs after the gradient of this leaf tensor has been accumulated into .grad by a backward
    (torch.Tensor.register_post_accumulate_grad_hook); returns a handle whose remove() unregisters it."""
    if not self.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    _install_post_accumulate()
    hooks = self.__dict__.setdefault("_post_acc_hooks", {})
    handle = _RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def _resize_(self, *sizes):
    """Tensor.resize_ with torch's semantics: the same shape leaves self unchanged (strides included); another shape
    makes self a contiguous tensor over its storage from its storage offset (the storage's elements in memory
    order, shared with other views while they fit); a larger size gets new storage holding the old elements first
    (the rest zeros: torch leaves them uninitialized)."""
    size = list(sizes[0]) if len(sizes) == 1 and not isinstance(sizes[0], numbers.Integral) else list(sizes)
    if any(not isinstance(s, numbers.Integral) for s in size):
        raise TypeError(f"resize_(): sizes must be integers, got {size}")
    size = [int(s) for s in size]
    if any(s < 0 for s in size):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(size)}: {size}")
    if self.requires_grad:
        raise RuntimeError("resize_(): cannot resize variables that require grad")
    if size == list(self.shape):
        return self
    n = int(np.prod(size, dtype=np.int64)) if size else 1
    strides = [1] * len(size)
    for i in range(len(size) - 2, -1, -1):
        strides[i] = strides[i + 1] * max(size[i + 1], 1)
    item = self.element_size()
    off = self.storage_offset()
    avail = self._storage_nbytes() // item - off
    if n <= avail:
        self._set_data(_C.as_strided(self, size, strides, off))
        return self
    new = _C.zeros(size, self.dtype, self.device)
    if avail > 0:
        old = _C.as_strided(self, [avail], [1], off)
        _C.copy_(_C.slice(_C.reshape(new, [-1]), 0, 0, avail, 1), old)
    self._set_data(new)
    return self


def _resize_as_(self, the_template, *, memory_format=None):
    return _resize_(self, list(the_template.shape))


def resize_as_(input, the_template, *, memory_format=None):
    """torch.resize_as_: input.resize_(the_template.shape)."""
    _check_tensor(input, "resize_as_")
    _check_tensor(the_template, "resize_as_", "the_template")
    return _resize_(input, list(the_template.shape))


class _Storage:
    """The storage a tensor views (torch.UntypedStorage / TypedStorage, read-only queries): data_ptr() (the address
    of the storage's first byte, shared by all views of it), nbytes(), size() (bytes untyped, elements typed),
    element_size(), dtype (typed), device."""

    def __init__(self, t, typed):
        self._t = t
        self._typed = typed
        self.device = t.device
        if typed:
            self.dtype = t.dtype

    def data_ptr(self):
        return self._t._storage_ptr()

    def nbytes(self):
        return self._t._storage_nbytes()

    def element_size(self):
        return self._t.element_size() if self._typed else 1

    def size(self):
        return self.nbytes() // self.element_size()

    def __len__(self):
        return self.size()

    def __repr__(self):
        kind = f"TypedStorage(dtype={self._t.dtype!r}" if self._typed else "UntypedStorage("
        return f"{kind}, size={self.size()}, device={self.device})"


def _pin_memory(self, device=None):
    """torch raises without an accelerator; with one, dlcore returns a contiguous CPU copy (dlcore has no
    page-locked host memory: is_pinned() stays False and host-device copies are synchronous)."""
    from . import cuda
    if not cuda.is_available():
        raise RuntimeError("Cannot access accelerator device when none is available.")
    if self.device.type != "cpu":
        raise RuntimeError(f"cannot pin '{self.device}' memory: only dense CPU tensors can be pinned")
    return _C.contiguous(_C.clone(self))


def _imag(self):
    raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")


class _Angle(Function):
    """The argument of a real number: 0 for x >= 0 (and +inf), pi for x < 0, nan for nan; its gradient is zero
    (torch's rule for real inputs)."""

    @staticmethod
    def forward(ctx, x):
        ctx.meta = (list(x.shape), x.dtype, x.device)
        xf = x if x.dtype.is_floating_point else _C.to(x, _C.dtype.float32, None, False)
        zero = _C.zeros([], xf.dtype, xf.device)
        pi = _C.full([], float(np.pi), xf.dtype, xf.device)
        out = _C.where(_C.lt(xf, zero), pi, zero)
        return _C.where(_C.isnan(xf), xf, out)

    @staticmethod
    def backward(ctx, g):
        shape, dtype, device = ctx.meta
        return _C.zeros(shape, dtype, device)


def angle(input, *, out=None):
    """The elementwise argument (torch.angle) of a real tensor: pi where negative, 0 elsewhere, nan for nan;
    integer inputs give float32 (the default dtype); gradient zero."""
    _check_tensor(input, "angle")
    if input.dtype == _C.dtype.bool:  # torch: zeros of the default dtype
        input = _C.to(input, _C.dtype.int64, None, False)
    res = _Angle.apply(input)
    if not input.dtype.is_floating_point:
        from ._creation import get_default_dtype
        res = _C.to(res, get_default_dtype(), None, False)
    return _finish_out(res, out, "angle")


def _dim_order(self, *, ambiguity_check=False):
    """The dimensions from outermost to innermost in memory (torch.Tensor.dim_order): sorted by stride, largest
    first, ties in dimension order."""
    st = self.stride()
    order = sorted(range(self.ndim), key=lambda i: -st[i])
    if ambiguity_check:
        seen = {}
        for i in range(self.ndim):
            if self.shape[i] == 1 or st[i] in seen:
                raise RuntimeError("The tensor does not have unique dim order, or cannot map to exact one of the "
                                   "given memory formats.")
            seen[st[i]] = i
    return tuple(order)


def _as_subclass(self, cls):
    """A tensor of the Tensor subclass cls sharing self's data (torch.Tensor.as_subclass); no autograd link."""
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError(f"as_subclass(): cls must be a subclass of dlcore.Tensor, got {cls!r}")
    return cls(self._alias())


def _nonzero_static(self, *, size, fill_value=-1):
    from ._torch_extra2 import nonzero_static
    return nonzero_static(self, size=size, fill_value=fill_value)


def _get_device(self):
    return -1 if self.device.type == "cpu" else (self.device.index or 0)


def _attach_torch_odds():
    T = Tensor
    T.resize_ = _resize_  # replaces _tensor_extra's version: torch's storage semantics (see _resize_)
    T.resize_as_ = _resize_as_
    methods = {
        "register_post_accumulate_grad_hook": _register_post_accumulate_grad_hook,
        "is_inference": lambda self: False,
        "get_device": _get_device,
        "nonzero_static": _nonzero_static,
        "pin_memory": _pin_memory,
        "is_pinned": lambda self, device=None: False,
        "share_memory_": lambda self: self,
        "is_shared": lambda self: False,
        "untyped_storage": lambda self: _Storage(self, False),
        "storage": lambda self: _Storage(self, True),
        "as_subclass": _as_subclass,
        "is_conj": lambda self: False,
        "is_neg": lambda self: False,
        "resolve_conj": lambda self: self,
        "resolve_neg": lambda self: self,
        "conj": lambda self: self,
        "conj_physical": lambda self: self,
        "angle": lambda self: angle(self),
        "dim_order": _dim_order,
        "const_data_ptr": lambda self: self.data_ptr(),
    }
    for name, fn in methods.items():
        if not hasattr(T, name):
            if getattr(fn, "__name__", "") == "<lambda>":
                fn.__name__ = name
            setattr(T, name, fn)
    props = {
        "output_nr": lambda self: self._output_nr if self.grad_fn is not None else 0,
        "mH": lambda self: self.mT,
        "H": lambda self: self.mT if self.ndim == 2 else _bad_H(self),
        "real": lambda self: self,
        "imag": _imag,
    }
    for name, fn in props.items():
        if not hasattr(T, name):
            setattr(T, name, property(fn))


def _bad_H(self):
    raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got {self.ndim}-D tensor.")


def conj(input):
    """input itself (dlcore tensors are real)."""
    _check_tensor(input, "conj")
    return input


def conj_physical(input, *, out=None):
    _check_tensor(input, "conj_physical")
    return input if out is None else _finish_out(input, out, "conj_physical")


def resolve_conj(input):
    _check_tensor(input, "resolve_conj")
    return input


def resolve_neg(input):
    _check_tensor(input, "resolve_neg")
    return input


def is_conj(input):
    _check_tensor(input, "is_conj")
    return False


def is_neg(input):
    _check_tensor(input, "is_neg")
    return False


def real(input):
    """input itself for a real tensor (torch.real)."""
    _check_tensor(input, "real")
    return input


def imag(input):
    _check_tensor(input, "imag")
    return _imag(input)


_attach_torch_odds()
