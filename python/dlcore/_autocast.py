"""Automatic mixed precision: the state and the per-op casting behind dlcore.autocast (torch.autocast).

Inside ``autocast(device_type, dtype)`` each op on tensors of that device type casts its floating inputs by the op's
policy, torch's lists for the device (torch/csrc/autograd/autocast_mode.cpp, as of torch 2.13):
  - lower precision: the GEMM-like ops (matmul, linear, conv, the recurrent cells, attention) run in the autocast
    dtype (float16 on cuda, bfloat16 on the cpu by default);
  - float32: ops that need range or precision (cuda: exp/log/pow/sum/softmax/the norms/the losses, ...; cpu: the
    losses and a few others) run in float32;
  - promote: ops with several inputs (cat, stack, addcmul, ...) run in the widest floating type among them;
  - the rest run in their inputs' dtype, as outside the region.
float64 tensors and tensors on other devices are never cast. Casts are autograd ops: the backward runs each op in
the dtype its forward ran in, and the gradients of float32 parameters come back float32. Within a region, the
lower-precision copies of leaf tensors that require grad (the parameters) are cached and reused (cache_enabled);
the cache is dropped when the outermost region exits. The state is per thread, like torch's.

dlcore's CPU kernels compute in float32 for bfloat16/float16 (dlcore/_lowp.py): autocast on the cpu gives torch's
dtypes and results (each op rounded once), not a speed-up. On cuda the GEMMs and convolutions run on the tensor-core
kernels in float16/bfloat16.
"""
from __future__ import annotations

import functools
import threading

from . import _C

Tensor = _C.Tensor
_F32 = _C.dtype.float32
_F64 = _C.dtype.float64

DEPTH = 0  # enabled regions open in any thread: the wrappers' one test when no region is open

_tls = threading.local()

_LOWER_COMMON = {"conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "prelu",
                 "addmm", "addbmm", "baddbmm", "bmm", "matmul", "mm", "linear", "scaled_dot_product_attention",
                 "__matmul__", "__rmatmul__", "lstm", "gru", "rnn_tanh", "rnn_relu"}
LOWER = {
    "cuda": _LOWER_COMMON | {"addmv", "addr", "einsum", "mv", "chain_matmul", "multi_dot", "lstm_cell", "gru_cell",
                             "rnn_tanh_cell", "rnn_relu_cell"},
    "cpu": _LOWER_COMMON | {"multi_head_attention_forward"},
}
FP32 = {
    "cuda": {"acos", "asin", "cosh", "erfinv", "exp", "expm1", "log", "log10", "log2", "log1p", "reciprocal", "rsqrt",
             "sinh", "tan", "pow", "__pow__", "__rpow__", "__rtruediv__", "softplus", "layer_norm", "group_norm",
             "norm", "cosine_similarity", "poisson_nll_loss", "cosine_embedding_loss", "nll_loss",
             "hinge_embedding_loss", "kl_div", "l1_loss", "smooth_l1_loss", "huber_loss", "mse_loss",
             "margin_ranking_loss", "multilabel_margin_loss", "soft_margin_loss", "triplet_margin_loss",
             "multi_margin_loss", "binary_cross_entropy_with_logits", "dist", "pdist", "cdist", "renorm",
             "logsumexp", "prod", "softmax", "log_softmax", "softmin", "cumprod", "cumsum", "sum", "cross_entropy",
             "interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "vector_norm", "matrix_norm"},
    "cpu": {"avg_pool3d", "binary_cross_entropy", "grid_sample", "prod", "quantile", "nanquantile", "cdist",
            "trace", "cholesky", "cholesky_inverse", "cholesky_solve", "inverse", "pinverse", "max_pool3d",
            "max_unpool2d", "max_unpool3d", "adaptive_avg_pool3d", "mse_loss", "cosine_embedding_loss", "nll_loss",
            "hinge_embedding_loss", "poisson_nll_loss", "smooth_l1_loss", "cross_entropy", "l1_loss", "huber_loss",
            "margin_ranking_loss", "soft_margin_loss", "triplet_margin_loss", "multi_margin_loss", "ctc_loss",
            "kl_div", "multilabel_margin_loss", "binary_cross_entropy_with_logits", "fractional_max_pool2d",
            "fractional_max_pool3d", "adaptive_max_pool3d", "qr", "svd", "solve", "inv", "eigh", "eigvalsh",
            "svdvals", "lstsq", "matrix_rank", "cond"},
}
PROMOTE = {
    "cuda": {"addcdiv", "addcmul", "atan2", "bilinear", "cross", "dot", "index_put", "scatter_add", "tensordot",
             "cat", "stack", "grid_sample"},
    "cpu": {"stack", "cat", "index_copy"},
}
BANNED = {"cuda": {"binary_cross_entropy"}}
DEFAULT_DTYPE = {"cuda": _C.dtype.float16, "cpu": _C.dtype.bfloat16}
DEVICE_TYPES = ("cpu", "cuda")

NAMES = set().union(*LOWER.values(), *FP32.values(), *PROMOTE.values(), *BANNED.values())


def _state():
    s = getattr(_tls, "s", None)
    if s is None:
        s = _tls.s = {d: [False, DEFAULT_DTYPE[d], True] for d in DEVICE_TYPES}  # enabled, dtype, cache_enabled
        _tls.nesting = 0
        _tls.cache = {}
    return s


def is_enabled(device_type="cuda"):
    return bool(_state().get(device_type, [False])[0])


def get_dtype(device_type):
    return _state()[device_type][1]


def set_enabled(device_type, enabled):
    global DEPTH
    st = _state()[device_type]
    if bool(enabled) != st[0]:
        DEPTH += 1 if enabled else -1
    st[0] = bool(enabled)


def set_dtype(device_type, dtype):
    _state()[device_type][1] = dtype


def is_cache_enabled():
    return any(v[2] for v in _state().values())


def clear_cache():
    _state()
    _tls.cache.clear()


def enter(device_type, enabled, dtype, cache_enabled):
    """Open a region; returns what exit() restores."""
    global DEPTH
    s = _state()
    st = s[device_type]
    saved = list(st)
    if enabled and not st[0]:
        DEPTH += 1
    elif not enabled and st[0]:
        DEPTH -= 1
    s[device_type] = [bool(enabled), dtype, bool(cache_enabled)]
    _tls.nesting += 1
    return saved


def exit(device_type, saved):
    global DEPTH
    s = _state()
    if s[device_type][0] and not saved[0]:
        DEPTH -= 1
    elif not s[device_type][0] and saved[0]:
        DEPTH += 1
    s[device_type] = saved
    _tls.nesting -= 1
    if _tls.nesting == 0:
        _tls.cache.clear()


def _tensors(v, out):
    if isinstance(v, Tensor):
        out.append(v)
    elif isinstance(v, (list, tuple)):
        for e in v:
            _tensors(e, out)


def _cast_one(t, dev, dt, cache):
    if (not isinstance(t, Tensor) or t.dtype == dt or t.dtype == _F64 or not t.dtype.is_floating_point
            or t.device.type != dev):
        return t
    if cache is not None and t.requires_grad and t.is_leaf:
        hit = cache.get(id(t))
        if hit is not None and hit[0] is t and hit[1].dtype == dt:
            return hit[1]
        c = t.to(dt)
        cache[id(t)] = (t, c)
        return c
    return t.to(dt)


def _cast(v, dev, dt, cache):
    if isinstance(v, Tensor):
        return _cast_one(v, dev, dt, cache)
    if isinstance(v, list):
        return [_cast(e, dev, dt, cache) for e in v]
    if isinstance(v, tuple) and not hasattr(v, "_fields"):
        return tuple(_cast(e, dev, dt, cache) for e in v)
    return v


def _apply(name, args, kwargs):
    ts = []
    _tensors(args, ts)
    _tensors(tuple(kwargs.values()), ts)
    if not ts:
        return args, kwargs
    s = _state()
    dev = next((t.device.type for t in ts if t.dtype.is_floating_point), ts[0].device.type)
    st = s.get(dev)
    if st is None or not st[0]:
        return args, kwargs
    if name in BANNED.get(dev, ()):
        raise RuntimeError(
            f"torch.nn.functional.{name} and torch.nn.{''.join(p.title() for p in name.split('_'))}Loss are unsafe "
            f"to autocast.\nMany models use a sigmoid layer right before the binary cross entropy layer. In this "
            f"case, combine the two layers using torch.nn.functional.binary_cross_entropy_with_logits or "
            f"torch.nn.BCEWithLogitsLoss. binary_cross_entropy_with_logits and BCEWithLogits are safe to autocast.")
    if name in LOWER[dev]:
        dt, cache = st[1], (_tls.cache if st[2] else None)
    elif name in FP32[dev]:
        dt, cache = _F32, None
    elif name in PROMOTE[dev]:
        fl = [t.dtype for t in ts if t.dtype.is_floating_point]
        if len(set(fl)) <= 1:
            return args, kwargs
        dt = fl[0]
        for d in fl[1:]:
            dt = _promote(dt, d)
        return (tuple(_cast_all_on(a, dev, dt) for a in args),
                {k: _cast_all_on(v, dev, dt) for k, v in kwargs.items()})
    else:
        return args, kwargs
    return (tuple(_cast(a, dev, dt, cache) for a in args),
            {k: _cast(v, dev, dt, cache) for k, v in kwargs.items()})


def _promote(a, b):
    from ._runtime import promote_types
    return promote_types(a, b)


def wrap(fn, name):
    """fn casting its inputs by name's policy when an autocast region is open (one global test otherwise)."""
    if getattr(fn, "_amp_wrapped", False):
        return fn
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if DEPTH:
            args, kwargs = _apply(name, args, kwargs)
        return fn(*args, **kwargs)

    wrapper._amp_wrapped = True
    wrapper._lowp_wrapped = getattr(fn, "_lowp_wrapped", False)
    return wrapper


def _cast_all_on(v, dev, dt):
    """v with its floating tensors on device type dev (float64 included: promote's widest type, custom_fwd's
    cast_inputs) cast to dt."""
    if isinstance(v, Tensor):
        return v.to(dt) if v.dtype.is_floating_point and v.device.type == dev and v.dtype != dt else v
    if isinstance(v, list):
        return [_cast_all_on(e, dev, dt) for e in v]
    if isinstance(v, tuple) and not hasattr(v, "_fields"):
        return tuple(_cast_all_on(e, dev, dt) for e in v)
    return v
