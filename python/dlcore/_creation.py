"""Tensor creation: from data (tensor, as_tensor, from_numpy), filled (zeros, ones, full, empty, eye, arange,
linspace) and random (rand, randn, randint, randperm, normal) from the seedable Philox generator."""
from __future__ import annotations

import builtins
import contextvars
import numbers

import numpy as np

from . import _C
from ._out import write_out as _write_out

Tensor = _C.Tensor
_isT = isinstance

float32, float64, int64, int32, uint8, bool_ = (_C.dtype.float32, _C.dtype.float64, _C.dtype.int64,
                                                 _C.dtype.int32, _C.dtype.uint8, _C.dtype.bool)

_default_dtype = [float32]


def set_default_dtype(d):
    if d not in (float32, float64):
        raise TypeError(f"set_default_dtype: only float32 and float64 are supported, got {d!r}")
    _default_dtype[0] = d


def get_default_dtype():
    return _default_dtype[0]


def _dt(dtype):
    return _default_dtype[0] if dtype is None else (dtype if _isT(dtype, _C.dtype) else _C.dtype(_to_dtype(dtype)))


def _to_dtype(d):
    if d is float:
        return _default_dtype[0]
    if d is int:
        return int64
    if d is bool:
        return bool_
    if _isT(d, str):
        return getattr(_C.dtype, d)
    return _from_np_dtype(np.dtype(d))


def _from_np_dtype(nd):
    m = {np.dtype(np.float32): float32, np.dtype(np.float64): float64, np.dtype(np.int64): int64,
         np.dtype(np.int32): int32, np.dtype(np.uint8): uint8, np.dtype(np.bool_): bool_,
         np.dtype(np.int8): _C.dtype.int8, np.dtype(np.int16): _C.dtype.int16,
         np.dtype(np.float16): _C.dtype.float16}
    if nd in m:
        return m[nd]
    if nd.kind in "iu":
        return int64
    raise TypeError(f"dlcore does not support NumPy dtype {nd}")


def _size(size):
    if len(size) == 1 and not isinstance(size[0], numbers.Integral):
        size = size[0]
        if not isinstance(size, (tuple, list)) and not hasattr(size, "__iter__"):
            raise TypeError(f"size must be a sequence of ints, got {type(size).__name__}")
    for s in size:
        if not isinstance(s, numbers.Integral):
            raise TypeError(f"size must be a sequence of ints, got an element of type {type(s).__name__}")
    return [int(s) for s in size]


def _finish(t, requires_grad):
    if requires_grad:
        t.requires_grad = True
    return t


# ------------------------------------------------------------------------------------------------- from data

def _infer_array(data, want=None):
    """A NumPy array for nested Python data, with torch's dtype inference (floats -> default dtype). want: the
    dtype the caller converts to next; Python floats bound for float64 stay float64 (not rounded through
    float32)."""
    if _isT(data, Tensor):
        return None
    if _isT(data, np.ndarray):
        return _native_order(data)
    if _isT(data, (list, tuple)) and builtins.any(_isT(x, Tensor) for x in _flat_iter(data)):
        data = _tensors_to_lists(data)
    arr = np.asarray(data)
    if arr.dtype == object:
        raise TypeError(f"tensor(): could not infer a dtype for data of type {type(data).__name__}")
    if (not _isT(data, np.generic) and arr.size and
            ((arr.dtype == np.uint64 and int(arr.max()) > 2 ** 63 - 1) or
             (arr.dtype.kind == "f" and _isT(data, (list, tuple)) and float(np.abs(arr).max()) >= 2.0 ** 63
              and builtins.any(type(x) is int and not -2 ** 63 <= x < 2 ** 63 for x in _flat_iter(data))))):
        # (NumPy made uint64, or float64 of mixed ints: torch refuses an integer beyond the int64 range)
        raise ValueError("tensor(): Overflow when unpacking long long (an integer beyond the int64 range)")
    if (_isT(data, (list, tuple)) and arr.size and arr.dtype.kind in "biuf" and arr.dtype != np.uint64
            and builtins.all(_isT(x, (np.generic, np.ndarray)) for x in _flat_iter(data))):
        return arr  # NumPy scalars / arrays only: their own dtype, as torch (a list of np.int8 stays int8)
    if arr.dtype.kind == "f" and not _isT(data, np.generic):
        # float64 kept when bound for float64 or an integer type (16777217.0 -> int32 must not round via float32)
        keep64 = want == float64 or _default_dtype[0] != float32 or (want is not None and not want.is_floating_point)
        arr = arr.astype(np.float64 if keep64 else np.float32)
    elif arr.dtype.kind in "iu" and arr.dtype != np.uint8 and not _isT(data, np.generic):
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "biuf":
        raise TypeError(f"tensor(): unsupported data of dtype {arr.dtype}")
    return arr


def _native_order(arr):
    """arr, or a copy in the machine's byte order when its dtype is byte-swapped (e.g. '>f8' on x86)."""
    if not arr.dtype.isnative:
        return arr.astype(arr.dtype.newbyteorder("="))
    return arr


def _flat_iter(data):
    for x in data:
        if _isT(x, (list, tuple)):
            yield from _flat_iter(x)
        else:
            yield x


def _tensors_to_lists(data):
    if _isT(data, Tensor):
        return data.tolist()
    if _isT(data, (list, tuple)):
        return [_tensors_to_lists(x) for x in data]
    return data


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of data (nested lists, numbers, NumPy arrays or tensors)."""
    if _isT(data, Tensor):
        t = _C.to(data, dtype if dtype is None else _dt(dtype), device, True)
        t = t._alias()
        return _finish(t, requires_grad)
    arr = _infer_array(data, None if dtype is None else _dt(dtype))
    if dtype is not None and not _isT(data, np.ndarray) and arr.size and arr.dtype.kind in "iuf":
        _check_int_range(arr, _dt(dtype))
    t = _C.from_numpy(np.array(arr, copy=True, order="C"))
    if dtype is not None or device is not None:
        t = _C.to(t, None if dtype is None else _dt(dtype), device, False)
    return _finish(t, requires_grad)


_INT_RANGE = {"uint8": np.uint8, "int8": np.int8, "int16": np.int16, "int32": np.int32}


def _check_int_range(arr, dt):
    """Python numbers bound for a narrower integer type must fit it (torch: tensor([300], dtype=torch.int8) raises;
    NumPy arrays are cast, wrapping, as in torch)."""
    if dt.name not in _INT_RANGE:
        return
    info = np.iinfo(_INT_RANGE[dt.name])
    lo, hi = float(arr.min()), float(arr.max())  # (in float64: exact for these types' bounds)
    if not (lo >= info.min and hi <= info.max):  # as torch: 127.5 overflows int8; NaN and inf too
        raise RuntimeError(f"value cannot be converted to type {dt.name} without overflow")


def as_tensor(data, dtype=None, device=None):
    """Like tensor() but shares memory with a NumPy array or tensor when dtype and device allow."""
    if _isT(data, Tensor):
        return _C.to(data, None if dtype is None else _dt(dtype), device, False)
    if _isT(data, np.ndarray):
        shareable = data.dtype.kind in "biuf" and data.dtype.isnative and all(s >= 0 for s in data.strides)
        t = from_numpy(data) if shareable else tensor(data)
        if dtype is not None or device is not None:
            t = _C.to(t, None if dtype is None else _dt(dtype), device, False)
        return t
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def from_numpy(array):
    """A tensor sharing memory with the NumPy array (no copy)."""
    if not _isT(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray, got {type(array).__name__}")
    if not array.flags.writeable:
        import warnings
        warnings.warn("from_numpy(): the given NumPy array is not writable; the tensor shares its memory and writes "
                      "through it (copy the array first if it must stay unchanged)", UserWarning, stacklevel=2)
    return _C.from_numpy(array)


def from_dlpack(obj):
    """A tensor sharing memory with any DLPack producer (NumPy, PyTorch, ...)."""
    return _C.from_dlpack(obj)


# Set by serialization.load while it unpickles a checkpoint: places each tensor as map_location says.
_pickle_place = contextvars.ContextVar("dlcore_pickle_place", default=None)


def _from_pickle(arr, dtype_name, device, requires_grad):
    # (np.require, not np.ascontiguousarray, which makes a 0-d array 1-d)
    place = _pickle_place.get()
    t = _C.to(_C.from_numpy(np.require(arr, requirements="C")), getattr(_C.dtype, dtype_name),
              "cpu" if place is not None else device, True)
    if place is not None:
        t = place(t, device)
    return _finish(t, requires_grad)


# ------------------------------------------------------------------------------------------------- filled

# layout, pin_memory, names (and memory_format for the *_like forms): torch's keywords, accepted and without effect
# here (one strided layout, no pinned memory, no named dims); any other keyword is a TypeError. out=: the result's
# dtype and device default to out's, and it is written into out (dlcore/_out.py: resized when its shape differs).

def _creation_out(make, out, dtype, device, requires_grad, op):
    if out is None:
        return _finish(make(_dt(dtype) if dtype is not None else None, device), requires_grad)
    if requires_grad:
        raise RuntimeError(f"{op}(): functions with out=... arguments don't support automatic differentiation, "
                           f"but one of the arguments requires grad.")
    res = make(_dt(dtype) if dtype is not None else out.dtype, device if device is not None else out.device)
    return _write_out(res, out, op)


def empty(*size, out=None, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False, names=None,
          memory_format=None):
    return _creation_out(lambda d, dev: _C.empty(_size(size), _dt(d), dev), out, dtype, device, requires_grad,
                         "empty")


def zeros(*size, out=None, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False, names=None):
    return _creation_out(lambda d, dev: _C.zeros(_size(size), _dt(d), dev), out, dtype, device, requires_grad,
                         "zeros")


def ones(*size, out=None, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False, names=None):
    return _creation_out(lambda d, dev: _C.full(_size(size), 1.0, _dt(d), dev), out, dtype, device, requires_grad,
                         "ones")


def _full(size, fill_value, dtype, device):
    if dtype is None:
        dtype = (bool_ if isinstance(fill_value, bool) else int64 if isinstance(fill_value, numbers.Integral)
                 else _default_dtype[0])
    dtype = _dt(dtype)
    size = [int(s) for s in size] if not isinstance(size, numbers.Integral) else [int(size)]
    if isinstance(fill_value, numbers.Integral) and not dtype.is_floating_point:
        return _C.full_int(size, int(fill_value), dtype, device)
    return _C.full(size, float(fill_value), dtype, device)


def full(size, fill_value, *, out=None, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False,
         names=None):
    return _creation_out(lambda d, dev: _full(size, fill_value, d, dev), out, dtype, device, requires_grad, "full")


def _like(t, dtype, device):
    return list(t.shape), (t.dtype if dtype is None else _dt(dtype)), (t.device if device is None else device)


def empty_like(input, *, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False,
               memory_format=None):
    s, d, dev = _like(input, dtype, device)
    return _finish(_C.empty(s, d, dev), requires_grad)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False,
               memory_format=None):
    s, d, dev = _like(input, dtype, device)
    return _finish(_C.zeros(s, d, dev), requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False,
              memory_format=None):
    s, d, dev = _like(input, dtype, device)
    return _finish(_C.full(s, 1.0, d, dev), requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False,
              memory_format=None):
    s, d, dev = _like(input, dtype, device)
    return full(s, fill_value, dtype=d, device=dev, requires_grad=requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    vals = [start, end, step]
    vals = [v.item() if _isT(v, Tensor) else v for v in vals]
    all_int = builtins.all(isinstance(v, numbers.Integral) for v in vals)
    if dtype is None:
        dtype = int64 if all_int else _default_dtype[0]
    dtype = _dt(dtype)
    if all_int:
        t = _C.arange_int(int(vals[0]), int(vals[1]), int(vals[2]), dtype, device)
    else:
        t = _C.arange(float(vals[0]), float(vals[1]), float(vals[2]), dtype, device)
    return _finish(t, requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    return _finish(_C.linspace(float(start), float(end), int(steps), _dt(dtype), device), requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    lin = _C.linspace(float(start), float(end), int(steps), float64, None)
    t = _C.pow(float(base), lin)
    return _finish(_C.to(t, _dt(dtype), device, False), requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    return _finish(_C.eye(int(n), int(n if m is None else m), _dt(dtype), device), requires_grad)


# ------------------------------------------------------------------------------------------------- random

class Generator:
    """A Philox generator with its own (seed, offset) state, like torch.Generator."""

    def __init__(self, device="cpu"):
        self._g = _C._Generator()
        self.device = _C.device(device)

    def manual_seed(self, seed):
        self._g.manual_seed(int(seed) & 0xFFFFFFFFFFFFFFFF)
        return self

    def seed(self):
        import random as _r
        s = _r.getrandbits(63)
        self._g.manual_seed(s)
        return s

    def initial_seed(self):
        return self._g.seed

    def get_state(self):
        return tensor([self._g.seed, self._g.offset], dtype=int64)

    def set_state(self, state):
        s, o = [int(v) for v in state.tolist()]
        self._g.seed, self._g.offset = s, o

    def __reduce__(self):  # pickle / deepcopy: a generator on the same device at the same (seed, offset)
        return (_rebuild_generator, (str(self.device), self._g.seed, self._g.offset))


def _rebuild_generator(device, seed, offset):
    g = Generator(device)
    g._g.seed, g._g.offset = seed, offset
    return g


# dlcore.device (a native class) pickles as its string, like torch.device (deepcopy of a module holding one, save)
import copyreg as _copyreg  # noqa: E402
_copyreg.pickle(_C.device, lambda dv: (_C.device, (str(dv),)))


def _gen(generator):
    return None if generator is None else generator._g


def manual_seed(seed):
    """Seeds the default generator (all devices: the same Philox stream serves cpu and cuda)."""
    _C.default_generator().manual_seed(int(seed) & 0xFFFFFFFFFFFFFFFF)
    import random as _r
    _r.seed(int(seed))
    return _default_generator_obj()


def _default_generator_obj():
    g = Generator.__new__(Generator)
    g._g = _C.default_generator()
    g.device = _C.device("cpu")
    return g


default_generator = None  # set in __init__ after import


def seed():
    import random as _r
    s = _r.getrandbits(63)
    _C.default_generator().manual_seed(s)
    return s


def initial_seed():
    return _C.default_generator().seed


def get_rng_state():
    g = _C.default_generator()
    return tensor([g.seed, g.offset], dtype=int64)


def set_rng_state(state):
    s, o = [int(v) for v in state.tolist()]
    g = _C.default_generator()
    g.seed, g.offset = s, o


def _random(size, dtype, device, kind, a=0.0, b=1.0, generator=None):
    return _C.random(size, dtype, device, kind, float(a), float(b), 0, 1, _gen(generator))


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform samples in [0, 1)."""
    return _finish(_random(_size(size), _dt(dtype), device, "uniform", 0.0, 1.0, generator), requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Standard normal samples."""
    return _finish(_random(_size(size), _dt(dtype), device, "normal", 0.0, 1.0, generator), requires_grad)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform integers in [low, high). randint(high, size) and randint(low, high, size) like torch."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint: expected randint(high, size) or randint(low, high, size)")
        low, high, size = 0, low, high
    elif high is None:
        raise TypeError("randint: missing 'high'")
    if isinstance(size, numbers.Integral):
        size = [size]
    t = _C.random(list(size), _dt(dtype) if dtype is not None else int64, device, "integer", 0.0, 1.0, int(low),
                  int(high), _gen(generator))
    return _finish(t, requires_grad)


def rand_like(input, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None):
    s, d, dev = _like(input, dtype, device)
    return _finish(_random(s, d, dev, "uniform"), requires_grad)


def randn_like(input, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None):
    s, d, dev = _like(input, dtype, device)
    return _finish(_random(s, d, dev, "normal"), requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, device=None, requires_grad=False, layout=None,
                 memory_format=None):
    # (layout / memory_format: torch's; dlcore tensors are dense and row-major, the values do not depend on them)
    if high is None:
        low, high = 0, low
    s, d, dev = _like(input, dtype, device)
    return randint(low, high, s, dtype=d, device=dev, requires_grad=requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of 0..n-1: Fisher-Yates on the cpu driven by n uniforms from the generator."""
    if dtype is not None:  # torch's limits: n - 1 representable (float16: n <= 2049), no bool
        dt = _dt(dtype)
        if dt == _C.dtype.bool:
            raise NotImplementedError("randperm(): not implemented for dtype bool")
        if dt == _C.dtype.float16 and n > 2049:
            raise RuntimeError(f"randperm(): n cannot be greater than 2049 for float16, got {n}")
        from ._torch_extra import iinfo
        if not dt.is_floating_point and n > 0 and n - 1 > iinfo(dt).max:
            raise RuntimeError(f"randperm(): n = {n} does not fit in {dt} (values up to n - 1 = {n - 1})")
    keys = _C.to(_C.random([int(n)], float64, None, "uniform", 0.0, 1.0, 0, 1, _gen(generator)), None, "cpu",
                 False)
    t = _C._permutation_from_uniforms(keys)
    if dtype is not None or device is not None:
        t = _C.to(t, None if dtype is None else _dt(dtype), device, False)
    return _finish(t, requires_grad)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None):
    if _isT(mean, Tensor) or _isT(std, Tensor):
        ref = mean if _isT(mean, Tensor) else std
        z = _random(list(ref.shape), ref.dtype, ref.device, "normal", 0.0, 1.0, generator)
        return _C.add(_C.mul(z, std), mean)
    return _random(list(size), _dt(dtype), device, "normal", mean, std, generator)


def bernoulli(input, p=None, *, generator=None):
    """Samples 1 with probability input (elementwise), 0 otherwise."""
    if p is not None:
        return _random(list(input.shape), input.dtype, input.device, "bernoulli", p, 0.0, generator)
    u = _random(list(input.shape), input.dtype if input.dtype.is_floating_point else float32, input.device,
                "uniform", 0.0, 1.0, generator)
    return _C.to(_C.lt(u, input), input.dtype, None, False)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Samples category indices from each row's (unnormalised) probabilities (computed on the host)."""
    probs = _C.to(input, float64, "cpu", False)._raw_numpy()
    one = probs.ndim == 1
    probs = np.atleast_2d(probs)
    u = _C.to(_random([probs.shape[0], num_samples], float64, None, "uniform", 0.0, 1.0, generator), None, "cpu",
              False)._raw_numpy()
    out = np.empty((probs.shape[0], num_samples), np.int64)
    for r in range(probs.shape[0]):
        p = probs[r].copy()
        if (p < 0).any() or p.sum() <= 0:
            raise RuntimeError("multinomial: probabilities must be non-negative with a positive sum")
        for k in range(num_samples):
            c = np.cumsum(p / p.sum())
            idx = int(np.searchsorted(c, u[r, k], side="right"))
            idx = builtins.min(idx, len(p) - 1)
            out[r, k] = idx
            if not replacement:
                p[idx] = 0
                if p.sum() <= 0 and k + 1 < num_samples:
                    raise RuntimeError("multinomial: cannot sample n_sample > prob_dist.size(-1) without replacement")
    res = _C.from_numpy(out[0] if one else out)
    return _C.to(res, None, input.device, False)
