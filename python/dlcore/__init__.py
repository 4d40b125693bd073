"""dlcore: a deep-learning compute engine with hand-written C++ (AVX2/AVX-512) and CUDA kernels under a
PyTorch-style API (tensors, autograd, nn, optim, data).

    import dlcore
    x = dlcore.randn(64, 784)
    w = dlcore.randn(784, 10, requires_grad=True)
    loss = (x @ w).relu().sum()      # (relu comes with the layer kernels)
    loss.backward()
"""
from __future__ import annotations

from . import _C

__version__ = _C._build_info.get("version") or "0.1.0"

Tensor = _C.Tensor
dtype = _C.dtype
dtype.__repr__ = dtype.__str__ = lambda self: f"dlcore.{self.name}"
dtype.is_signed = property(lambda self: self not in (_C.dtype.bool, _C.dtype.uint8))
dtype.is_complex = property(lambda self: False)  # dlcore has no complex dtypes
device = _C.device
ShapeError = _C.ShapeError  # bad shapes/values from the kernels: a ValueError that is also a RuntimeError

bool = _C.dtype.bool  # noqa: A001  (torch.bool)
uint8 = _C.dtype.uint8
int8 = _C.dtype.int8
int16 = _C.dtype.int16
int32 = _C.dtype.int32
int64 = _C.dtype.int64
float16 = _C.dtype.float16
bfloat16 = _C.dtype.bfloat16
float32 = _C.dtype.float32
float64 = _C.dtype.float64
half = float16
float = float32  # noqa: A001
double = float64
long = int64
int = int32  # noqa: A001
short = int16

from . import autograd  # noqa: E402
from .autograd import no_grad, enable_grad, set_grad_enabled, is_grad_enabled, inference_mode  # noqa: E402
from . import _tensor  # noqa: E402,F401  (attaches the Tensor methods)
from ._tensor import Size  # noqa: E402
from ._nn_layers import relu, relu_, softmax, log_softmax  # noqa: E402,F401  (+ Tensor.relu etc.)
from ._ops import *  # noqa: E402,F401,F403
from ._ops import (add, sub, mul, div, pow, matmul, sum, mean, max, min, abs, round, all, any,  # noqa: E402,F401
                   clamp, where, exp, log, sqrt, tanh, sigmoid, reshape, transpose, permute, squeeze, unsqueeze,
                   flatten, linear)
from ._indexing import (gather, scatter, scatter_add, index_select, index_add,  # noqa: E402,F401
                        index_copy, index_put, index_fill, masked_fill, masked_select, take_along_dim, take, cat,
                        concat, concatenate, stack, hstack, vstack, split, chunk, unbind, tensor_split)
from ._creation import (tensor, as_tensor, asarray, from_numpy, from_dlpack, empty, zeros, ones, full,  # noqa: E402
                        empty_like, zeros_like, ones_like, full_like, arange, linspace, logspace, eye, rand, randn,
                        randint, rand_like, randn_like, randint_like, randperm, normal, bernoulli, multinomial,
                        manual_seed, seed, initial_seed, get_rng_state, set_rng_state, Generator,
                        set_default_dtype, get_default_dtype)
from ._rearrange import (repeat_interleave, tile, flip, fliplr, flipud, roll, tril, triu, lerp,  # noqa: E402
                         addcmul, addcdiv)
from ._einsum import einsum  # noqa: E402,F401
from ._sorting import sort, argsort, msort, topk, kthvalue, cumsum, cumprod  # noqa: E402,F401
from ._math_extra import *  # noqa: E402,F401,F403  (asin ... nan_to_num, atan2 ... nextafter; Tensor methods)
from ._tensor_extra import *  # noqa: E402,F401,F403  (nansum, median, quantile, unique, cdist, ... + Tensor methods)
from ._tensor_extra import tril_indices, triu_indices, unique  # noqa: E402,F401
from . import linalg  # noqa: E402,F401  (dlcore.linalg + top-level det, inverse, svd, ... and Tensor methods)
from . import _creation as _creation_mod  # noqa: E402
from . import cuda  # noqa: E402
from ._runtime import (get_num_threads, set_num_threads, info, is_tensor, is_floating_point, numel,  # noqa: E402
                       result_type, promote_types, can_cast)
from ._torch_extra import *  # noqa: E402,F401,F403  (finfo, iinfo, range, cov, histogram, in-place forms, ...)
from ._tensor_methods_extra import *  # noqa: E402,F401,F403  (i0, polygamma, shifts, index_reduce + Tensor methods)
from ._torch_extra2 import *  # noqa: E402,F401,F403  (printoptions, default device, windows, torch's F.* forms, ...)
from ._compat import *  # noqa: E402,F401,F403  (compile, float32 matmul precision, amp, autocast, accelerator)
from . import jit  # noqa: E402,F401  (torch.jit's eager-path helpers: script/trace return their argument)

default_generator = _creation_mod._default_generator_obj()

# float16/bfloat16 through the layer kernels (float32 copies, results rounded once) and autocast's per-op casts:
# wrappers installed on the layer ops and every reference to them (dlcore/_lowp.py, dlcore/_autocast.py)
from . import functional as _functional  # noqa: E402
from . import _lowp  # noqa: E402
_lowp.install(_functional)

for _mod in ("nn", "optim", "data", "models", "utils", "backends", "serialization"):
    pass

del _mod


def __getattr__(name):
    # Subpackages that import heavier dependencies load on first use.
    import importlib
    # (special, func, distributions: torch.special / torch.func / torch.distributions, ~40 ms of imports)
    if name in ("nn", "optim", "data", "models", "utils", "backends", "testing", "cli", "special", "func",
                "distributions"):
        return importlib.import_module(f".{name}", __name__)
    if name in ("save", "load"):
        mod = importlib.import_module(".serialization", __name__)
        return getattr(mod, name)
    raise AttributeError(f"module 'dlcore' has no attribute '{name}'")
