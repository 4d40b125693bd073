"""Top-level names that PyTorch training scripts call routinely: torch.compile,
torch.set_float32_matmul_precision / get_float32_matmul_precision, torch.amp and torch.autocast (dlcore/amp.py),
torch.accelerator (dlcore/accelerator.py), torch.distributed.is_available (dlcore/distributed.py), the
memory-format and layout names, the ``with dlcore.device(...)`` block and Tensor.is_sparse & co.

dlcore executes eagerly and has no graph compiler: compile() returns the module or function it is given, unchanged
(the same results as torch.compile, which must not change a program's meaning; no speed-up)."""
from __future__ import annotations

import threading

from . import _C
from . import accelerator  # noqa: F401  (dlcore.accelerator: torch.accelerator's queries)
from . import amp  # noqa: F401  (dlcore.amp: GradScaler, autocast)
from . import distributed  # noqa: F401  (is_available() False: no collective backend)
from .amp import autocast  # noqa: F401
from . import _autocast as _ac

__all__ = ["compile", "set_float32_matmul_precision", "get_float32_matmul_precision", "accelerator", "amp",
           "autocast", "distributed", "memory_format", "contiguous_format", "preserve_format", "channels_last",
           "channels_last_3d", "layout", "strided", "is_autocast_enabled", "set_autocast_enabled",
           "get_autocast_dtype", "set_autocast_dtype", "get_autocast_gpu_dtype", "set_autocast_gpu_dtype",
           "get_autocast_cpu_dtype", "set_autocast_cpu_dtype", "is_autocast_cpu_enabled", "set_autocast_cpu_enabled",
           "clear_autocast_cache", "is_autocast_cache_enabled", "set_autocast_cache_enabled", "cpu"]


# torch's autocast state functions (the state is per thread; dlcore/_autocast.py)
def is_autocast_enabled(device_type=None):
    return _ac.is_enabled("cuda" if device_type is None else device_type)


def set_autocast_enabled(device_type, enabled=None):
    if enabled is None:  # torch's old one-argument form: the cuda state
        device_type, enabled = "cuda", device_type
    _ac.set_enabled(device_type, enabled)


def get_autocast_dtype(device_type):
    return _ac.get_dtype(device_type)


def set_autocast_dtype(device_type, dtype):
    _ac.set_dtype(device_type, dtype)


def get_autocast_gpu_dtype():
    return _ac.get_dtype("cuda")


def set_autocast_gpu_dtype(dtype):
    _ac.set_dtype("cuda", dtype)


def get_autocast_cpu_dtype():
    return _ac.get_dtype("cpu")


def set_autocast_cpu_dtype(dtype):
    _ac.set_dtype("cpu", dtype)


def is_autocast_cpu_enabled():
    return _ac.is_enabled("cpu")


def set_autocast_cpu_enabled(enabled):
    _ac.set_enabled("cpu", enabled)


def clear_autocast_cache():
    _ac.clear_cache()


def is_autocast_cache_enabled():
    return _ac.is_cache_enabled()


def set_autocast_cache_enabled(enabled):
    for st in _ac._state().values():
        st[2] = bool(enabled)


def _make_cpu_module():
    """dlcore.cpu (torch.cpu): is_available, device_count, synchronize and cpu.amp.autocast (bfloat16 default)."""
    import sys
    import types
    mod = types.ModuleType(__name__.rsplit(".", 1)[0] + ".cpu", _make_cpu_module.__doc__)
    amp_mod = types.ModuleType(mod.__name__ + ".amp")

    class cpu_autocast(autocast):
        def __init__(self, enabled=True, dtype=None, cache_enabled=True):
            super().__init__("cpu", dtype, enabled, cache_enabled)

    cpu_autocast.__name__ = cpu_autocast.__qualname__ = "autocast"
    cpu_autocast.__module__ = amp_mod.__name__
    amp_mod.autocast = cpu_autocast
    amp_mod.GradScaler = amp.GradScaler
    mod.amp = amp_mod
    mod.is_available = lambda: True
    mod.device_count = lambda: 1
    mod.synchronize = lambda device=None: None
    mod.current_device = lambda: "cpu"
    sys.modules[mod.__name__] = mod
    sys.modules[amp_mod.__name__] = amp_mod
    return mod


cpu = _make_cpu_module()


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None,
            disable=False):
    """torch.compile's signature; dlcore runs eagerly, so the model (an nn.Module or a callable) is returned as it
    is. Used as a decorator, with or without arguments, it returns the decorated function."""
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be specified at the same time.")
    if model is None:
        return lambda fn: compile(fn, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                                  options=options, disable=disable)
    if not callable(model):
        raise RuntimeError(f"compile(): model must be an nn.Module or a callable, got {type(model).__name__}")
    return model


_PRECISIONS = ("highest", "high", "medium")
_precision = ["highest"]


def set_float32_matmul_precision(precision):
    """'highest' (float32 GEMMs in full float32), 'high' or 'medium' (float32 GEMMs on cuda may use TF32 tensor
    cores). Sets dlcore.backends.cuda.matmul.allow_tf32 accordingly, as torch does; CPU results never change."""
    if precision not in _PRECISIONS:
        raise RuntimeError(f"set_float32_matmul_precision(): invalid precision {precision!r}, expected one of "
                           f"{', '.join(_PRECISIONS)}")
    from .backends import cuda as _cuda
    _cuda.matmul.allow_tf32 = precision != "highest"
    _precision[0] = precision


def get_float32_matmul_precision():
    """The precision last set by set_float32_matmul_precision ('highest' by default); 'high' when TF32 was
    allowed through dlcore.backends.cuda.matmul.allow_tf32 directly."""
    from .backends import cuda as _cuda
    if _precision[0] == "highest" and _cuda.matmul.allow_tf32:
        return "high"
    if _precision[0] != "highest" and not _cuda.matmul.allow_tf32:
        return "highest"
    return _precision[0]


# ------------------------------------------------------------------------------------------------- with device:

_device_stack = threading.local()


def _device_enter(self):
    """``with dlcore.device('cuda'):`` makes it the default device of the factory functions and of the modules
    built inside the block (torch's device context manager); the previous default comes back on exit. Per thread,
    nestable."""
    from ._torch_extra2 import get_default_device, set_default_device
    stack = _device_stack.__dict__.setdefault("stack", [])
    prev = get_default_device()
    set_default_device(self)
    stack.append(prev)
    return self


def _device_exit(self, exc_type, exc, tb):
    from ._torch_extra2 import set_default_device
    set_default_device(_device_stack.stack.pop())
    return False


_C.device.__enter__ = _device_enter
_C.device.__exit__ = _device_exit


# ------------------------------------------------------------------------------------------------- layouts

class _NamedConstant:
    """A module-level singleton known by its name (torch.memory_format / torch.layout values)."""

    __slots__ = ("_name",)

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"dlcore.{self._name}"

    def __reduce__(self):  # pickles (and copies) as the module-level singleton
        return self._name

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


class memory_format(_NamedConstant):
    """torch.memory_format: the element order asked of to() / contiguous() / clone() / zeros_like() & co. dlcore
    stores the tensors it creates in row-major (contiguous_format) order: asking for channels_last gives the same
    values in that order (a layout changes speed, never a result). Copied code such as
    ``torch.zeros_like(p, memory_format=torch.preserve_format)`` therefore runs unchanged."""

    __slots__ = ()


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")


class layout(_NamedConstant):
    """torch.layout: dlcore tensors are dense and strided (Tensor.layout is dlcore.strided); there are no sparse
    layouts."""

    __slots__ = ()


strided = layout("strided")

# What code written for torch asks of a tensor before taking a path dlcore does not have (sparse gradients in
# optimizers copied from torch 1.x, quantized or meta tensors): dlcore's tensors are dense, strided, real.
_C.Tensor.layout = property(lambda self: strided, doc="dlcore.strided: every dlcore tensor is dense and strided")
for _name in ("is_sparse", "is_sparse_csr", "is_quantized", "is_meta", "is_nested", "is_mkldnn", "is_mps",
              "is_xpu"):
    setattr(_C.Tensor, _name, property(lambda self: False, doc=f"False: dlcore has no such tensors ({_name[3:]})"))
del _name


# ------------------------------------------------------------------------------------------------- Tensor(...)

_tensor_init = _C.Tensor.__init__


def _legacy_tensor_init(self, *args, device=None, **kwargs):
    """torch's legacy constructor, still common in custom layers (``nn.Parameter(torch.Tensor(out, in))``):
    Tensor(*sizes) and Tensor(Size) -> an uninitialised tensor of the default dtype; Tensor(sequence or array) ->
    its data in the default dtype; Tensor() -> an empty one; Tensor(tensor) -> an alias of it (as before). device=
    as torch's; the default device otherwise."""
    if kwargs:
        raise TypeError(f"Tensor(): unexpected keyword argument(s) {sorted(kwargs)}; the legacy constructor takes "
                        f"sizes or data and device= only (use dlcore.empty / dlcore.tensor for a dtype)")
    if len(args) == 1 and isinstance(args[0], _C.Tensor):
        src = args[0]
        return _tensor_init(self, src if device is None else src.to(device))
    from ._creation import get_default_dtype
    from ._torch_extra2 import get_default_device
    _tensor_init(self, _legacy_new("Tensor", get_default_dtype(),
                                   device if device is not None else get_default_device(), args))


def _legacy_new(name, dtype, dev, args):
    """The legacy constructors' tensor: sizes (ints or a Size) -> uninitialised; a sequence, array or tensor -> its
    data in dtype; nothing -> an empty 1-D tensor."""
    from ._creation import tensor
    is_int = [isinstance(a, int) and not isinstance(a, bool) for a in args]
    if not args:
        return _C.empty([0], dtype, dev)
    if all(is_int):
        if any(a < 0 for a in args):
            raise RuntimeError(f"{name}(): negative dimension in sizes {list(args)}")
        return _C.empty(list(args), dtype, dev)
    if len(args) == 1 and type(args[0]).__name__ == "Size" and isinstance(args[0], tuple):
        return _C.empty([int(n) for n in args[0]], dtype, dev)
    if len(args) == 1 and isinstance(args[0], _C.Tensor):
        return _C.to(args[0], dtype, dev, True)
    if len(args) == 1 and not isinstance(args[0], (int, float, bool, complex, str)):
        return tensor(args[0], dtype=dtype, device=dev)
    raise TypeError(f"{name}(): expected sizes (ints), a Size, a sequence or a tensor, got "
                    f"({', '.join(type(a).__name__ for a in args)})")


_C.Tensor.__init__ = _legacy_tensor_init


# ------------------------------------------------------------------------------------------------- typed classes

class _LegacyTensorType(type):
    """torch.FloatTensor & co. (and torch.cuda.FloatTensor & co.): FloatTensor(2, 3) makes an uninitialised
    float32 tensor, LongTensor([1, 2]) an int64 one from data, and isinstance(t, FloatTensor) asks for a float32
    tensor on that device type (older code and many tutorials use them)."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, _C.Tensor) and obj.dtype == cls.dtype and obj.device.type == cls.device_type

    def __call__(cls, *args, device=None):
        if device is not None and _C.device(device).type != cls.device_type:
            raise RuntimeError(f"{cls.__qualname__}(): legacy constructor expects device type {cls.device_type} "
                               f"but device type {_C.device(device).type} was passed")
        dev = device if device is not None else cls.device_type
        return _legacy_new(cls.__qualname__, cls.dtype, dev, args)

    def __repr__(cls):
        return f"<class 'dlcore.{cls.__qualname__}'>"


_LEGACY_NAMES = {"FloatTensor": "float32", "DoubleTensor": "float64", "HalfTensor": "float16",
                 "BFloat16Tensor": "bfloat16", "LongTensor": "int64", "IntTensor": "int32", "ShortTensor": "int16",
                 "CharTensor": "int8", "ByteTensor": "uint8", "BoolTensor": "bool"}


def _legacy_types(device_type, prefix):
    return {n: _LegacyTensorType(n, (), {"dtype": getattr(_C.dtype, d), "device_type": device_type,
                                         "__qualname__": prefix + n, "__module__": "dlcore"})
            for n, d in _LEGACY_NAMES.items()}


globals().update(_legacy_types("cpu", ""))
__all__ += list(_LEGACY_NAMES)
_cuda_legacy = _legacy_types("cuda", "cuda.")


def _install_cuda_legacy():
    from . import cuda as _cuda_mod
    for _n, _c in _cuda_legacy.items():
        setattr(_cuda_mod, _n, _c)


_install_cuda_legacy()


# ------------------------------------------------------------------------------------------------- is_contiguous

_raw_is_contiguous = _C.Tensor.is_contiguous


def _is_contiguous(self, memory_format=None):
    """Tensor.is_contiguous(memory_format=contiguous_format): row-major order; channels_last asks whether a 4-D
    tensor's strides are those of NHWC order (channels_last_3d: NDHWC for 5-D), size-1 dimensions' strides ignored,
    as torch does (dlcore creates row-major tensors; a permuted view can have channels-last strides)."""
    if memory_format is None or memory_format is contiguous_format or memory_format is preserve_format:
        return _raw_is_contiguous(self)
    if memory_format is channels_last or memory_format is channels_last_3d:
        nd = 4 if memory_format is channels_last else 5
        if self.dim() != nd:
            return False
        sizes, strides = list(self.shape), self.stride()
        expected = 1
        for d in [1] + list(range(nd - 1, 1, -1)) + [0]:  # C fastest, then W, H (, D), then N
            if sizes[d] != 1 and strides[d] != expected:
                return False
            expected *= sizes[d]
        return True
    raise TypeError(f"is_contiguous(): memory_format must be a dlcore.memory_format, got {memory_format!r}")


_C.Tensor.is_contiguous = _is_contiguous
