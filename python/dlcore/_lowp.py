"""16-bit floats (float16, bfloat16) through the layer kernels.

dlcore's layer kernels (GEMM on the CPU, convolution, pooling, activations, softmax and the losses, the norms,
dropout, embedding, the recurrent cells) compute in float32 or float64. torch runs these ops on float16/bfloat16
tensors as well, computing internally in float32 ("opmath") and rounding each op's result once to the 16-bit
type. The adapter here does the same at the op boundary: an op handed 16-bit floats that its kernel does not take
runs on float32 copies of them, and its floating results are rounded back to the 16-bit type. The casts are
autograd ops, so gradients flow back to 16-bit leaves in their own dtype, each rounded once, as in torch.

Only the failure path pays: a wrapped op first runs as it is (the kernels that do take 16-bit floats, like the
CUDA tensor-core GEMM, keep doing so); when it raises TypeError and one of its floating tensor arguments is a
16-bit float, it runs again on the float32 copies. Rules (torch's):
  - every floating tensor argument must have the same dtype ("expected ... to have the same dtype"), except for
    the norms, whose weights and running statistics may be float32 beside a 16-bit input (torch's mixed
    batch_norm/layer_norm/group_norm on the CPU);
  - in-place forms (``inplace=True``, ``relu_``) write the rounded result into the caller's tensor;
  - running statistics passed as 16-bit tensors (``model.to(torch.bfloat16)`` converts BatchNorm's buffers) are
    updated in place like float32 ones.
install() wraps the listed functions and replaces every reference to them in the dlcore modules and on Tensor, so
aliases (``dlcore.relu`` is ``F.relu``) and Tensor methods bound to the same function are covered.
"""
from __future__ import annotations

import functools
import inspect
import sys

from . import _C
from . import _autocast as _ac

Tensor = _C.Tensor
_LOWP = (_C.dtype.float16, _C.dtype.bfloat16)
_F32 = _C.dtype.float32

# ops whose floating arguments may mix a 16-bit input with float32 parameters/statistics
_MIXED_OK = {"batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm", "local_response_norm"}
# ops that promote floating arguments of different dtypes (torch: mse_loss(float16, float32) is a float32 loss)
_PROMOTING = {"mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy_with_logits", "kl_div",
              "cosine_similarity", "pairwise_distance", "soft_margin_loss", "poisson_nll_loss", "cross_entropy"}


def _promoted_call(fn, args, kwargs):
    """For a _PROMOTING op with floating tensor arguments of different dtypes: every floating tensor cast to their
    promoted dtype, then the op (None when the dtypes agree)."""
    ts = []
    _ac._tensors(args, ts)
    _ac._tensors(tuple(kwargs.values()), ts)
    fl = {t.dtype for t in ts if t.dtype.is_floating_point}
    if len(fl) < 2:
        return None
    dt = None
    for d in fl:
        dt = d if dt is None else _C.promote_types(dt, d)

    def cast(v):
        if isinstance(v, Tensor) and v.dtype.is_floating_point and v.dtype != dt:
            return v.to(dt)
        return v
    return fn(*[cast(a) for a in args], **{k: cast(v) for k, v in kwargs.items()})
# arguments updated in place by the op (running statistics)
_STATE_ARGS = ("running_mean", "running_var")


def _lowp_dtype(name, args, kwargs):
    """The 16-bit dtype the call runs in, or None when the call has no 16-bit float tensor. Raises TypeError
    for floating tensors of different dtypes (torch's rule; the norms' float32 parameters excepted)."""
    ts = []
    _ac._tensors(args, ts)
    _ac._tensors(tuple(kwargs.values()), ts)
    if name == "scaled_dot_product_attention":  # torch: a float32 attn_mask goes with a 16-bit query
        m = kwargs.get("attn_mask", args[3] if len(args) > 3 else None)
        if isinstance(m, Tensor) and m.dtype == _F32:
            ts = [t for t in ts if t is not m]
    low = None
    others = set()
    for t in ts:
        dt = t.dtype
        if dt in _LOWP:
            if low is not None and dt != low:
                others.add(dt)
            low = low or dt
        elif dt.is_floating_point:
            others.add(dt)
    if low is None:
        return None
    others.discard(low)
    if name in _MIXED_OK:
        others.discard(_F32)
    if others:
        names = ", ".join(sorted({low.name} | {o.name for o in others}))
        raise TypeError(f"{name}(): expected all floating tensor arguments to have the same dtype, got {names}")
    return low


def _up(v, low):
    if isinstance(v, Tensor):
        return v.to(_F32) if v.dtype == low else v
    if isinstance(v, list):
        return [_up(e, low) for e in v]
    if isinstance(v, tuple) and not hasattr(v, "_fields"):
        return tuple(_up(e, low) for e in v)
    return v


def _down(v, low):
    if isinstance(v, Tensor):
        return v.to(low) if v.dtype == _F32 else v
    if isinstance(v, tuple):
        vals = [_down(e, low) for e in v]
        return type(v)(*vals) if hasattr(v, "_fields") else tuple(vals)
    if isinstance(v, list):
        return [_down(e, low) for e in v]
    return v


def wrap(fn, name=None, inplace=False, amp_name=None):
    """fn with the 16-bit fallback. inplace: the op always writes its first argument (relu_, elu_, ...). amp_name:
    also autocast's casts for that op (dlcore/_autocast.py), in the same wrapper (one Python frame per call)."""
    if getattr(fn, "_lowp_wrapped", False):
        return fn
    name = name or fn.__name__
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        sig = None
    params = list(sig.parameters) if sig is not None else []
    has_inplace = "inplace" in params
    state_names = [p for p in _STATE_ARGS if p in params]

    def bound(args, kwargs):
        try:
            return sig.bind_partial(*args, **kwargs).arguments
        except TypeError:
            return {}

    eager = name not in _NATIVE_FIRST

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if amp_name is not None and _ac.DEPTH:
            args, kwargs = _ac._apply(amp_name, args, kwargs)
        a0 = args[0] if eager and args else None
        # (element_size first: a float32 call pays ~80 ns here, the dtype comparison ~300 ns)
        if isinstance(a0, Tensor) and a0.element_size() == 2 and a0.dtype in _LOWP:
            # composite ops (layer_norm = the norm kernel + affine elementwise ops, ...) would round after every
            # piece: go to float32 at the op's boundary, so the result is rounded once
            if name in _PROMOTING:
                r = _promoted_call(wrapper, args, kwargs)
                if r is not None:
                    return r
            low = _lowp_dtype(name, args, kwargs)
            first_err = None
        else:
            try:
                return fn(*args, **kwargs)
            except TypeError as err:
                low = _lowp_dtype(name, args, kwargs)
                if low is None:
                    raise
                first_err = err
        targs = [_up(a, low) for a in args]
        tkw = {k: _up(v, low) for k, v in kwargs.items()}
        ba = bound(args, kwargs) if (has_inplace or state_names) else {}
        writes_first = inplace or (has_inplace and bool(ba.get("inplace", False)))
        try:
            out = fn(*targs, **tkw)
        except TypeError:
            if first_err is None:
                raise
            raise first_err from None
        # running statistics held in 16 bits: copy the float32 updates back
        if state_names:
            tba = bound(targs, tkw)
            for p in state_names:
                orig, new = ba.get(p), tba.get(p)
                if isinstance(orig, Tensor) and isinstance(new, Tensor) and new is not orig:
                    with _nograd():
                        orig.copy_(new)
        if writes_first and args and isinstance(args[0], Tensor) and isinstance(out, Tensor):
            args[0].copy_(out)
            return args[0]
        if kwargs.get("dtype") is not None:  # softmax(x, dim, dtype=float32): the result dtype the caller asked for
            return out
        if name in _MIXED_OK and args and isinstance(args[0], Tensor) and args[0].dtype not in _LOWP:
            return out  # a float32 input with 16-bit statistics/parameters: the input's dtype

        return _down(out, low)

    wrapper._lowp_wrapped = True
    wrapper._amp_wrapped = amp_name is not None
    wrapper.__wrapped_lowp__ = fn
    return wrapper


def _nograd():
    from .autograd import no_grad
    return no_grad()


# ops whose kernels may take 16-bit floats themselves (the CUDA tensor-core GEMM and convolutions through it):
# tried as they are first; every other wrapped op with a 16-bit first argument goes to float32 at once
_NATIVE_FIRST = {"matmul", "mm", "bmm", "addmm", "baddbmm", "addbmm", "addmv", "mv", "dot", "vdot", "inner", "outer",
                 "ger", "tensordot", "einsum", "chain_matmul", "linear", "bilinear", "conv1d", "conv2d", "conv3d",
                 "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"}

# torch.nn.functional's ops that run layer kernels; the rest of F works on 16-bit floats already or has no
# floating input, and wrapping those is harmless (the wrapper acts only when the op raises TypeError).
_PRODUCTS = ("matmul", "mm", "bmm", "addmm", "baddbmm", "addbmm", "addmv", "mv", "dot", "vdot", "inner", "outer",
             "ger", "tensordot", "einsum", "chain_matmul", "cdist", "conv1d", "conv2d", "conv3d",
             "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "linear", "bilinear", "relu", "relu_",
             "softmax", "log_softmax", "dropout", "batch_norm", "layer_norm", "group_norm", "instance_norm",
             "embedding", "prelu", "rrelu", "selu", "celu", "threshold", "alpha_dropout", "feature_alpha_dropout",
             "hardshrink", "softshrink", "pdist", "cosine_similarity", "pairwise_distance", "kl_div",
             "binary_cross_entropy_with_logits", "hinge_embedding_loss", "margin_ranking_loss", "poisson_nll_loss",
             "cosine_embedding_loss", "triplet_margin_loss", "lstm_cell", "gru_cell", "rnn_tanh_cell",
             "rnn_relu_cell", "lstm", "gru", "rnn_tanh", "rnn_relu", "native_layer_norm", "native_batch_norm",
             "rms_norm")
_SKIP = {"one_hot", "pad", "fold", "unfold", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle",
         "native_channel_shuffle", "affine_grid"}


_ORIGINALS: dict = {}  # id(original) -> (original, wrapped)


def install(functional=None):
    """Wrap the layer ops (the products above at dlcore's top level; with functional, every callable of
    dlcore.nn.functional too) and point every reference to them in dlcore's modules and on Tensor at the wrapped
    ones. dlcore's __init__ calls it without functional (nn loads lazily); nn.functional calls it with itself."""
    import dlcore

    from . import _autocast

    def add(obj, name, lowp=True):
        if obj is None or not callable(obj) or isinstance(obj, type):
            return
        if getattr(obj, "_lowp_wrapped", False) or getattr(obj, "_amp_wrapped", False):
            return
        if lowp and not (inspect.isfunction(obj) or inspect.isbuiltin(obj)):
            return
        if id(obj) not in _ORIGINALS:
            inplace = name.endswith("_") and not name.endswith("__")
            base = name.rstrip("_") if inplace else name
            amp = name if name in _autocast.NAMES else base if base in _autocast.NAMES else None
            if lowp:
                w = wrap(obj, base, inplace=inplace, amp_name=amp)
            else:
                w = _autocast.wrap(obj, amp) if amp is not None else obj
            if w is not obj:
                _ORIGINALS[id(obj)] = (obj, w)

    for n in _PRODUCTS:
        add(dlcore.__dict__.get(n), n)
    if functional is not None:
        for n in dir(functional):
            if not n.startswith("_") and n not in _SKIP:
                add(getattr(functional, n), n)
    # autocast-only ops (exp, sum, cat, ...): dlcore's functions and Tensor's methods of those names
    for n in _autocast.NAMES:
        add(dlcore.__dict__.get(n), n, lowp=False)
        add(Tensor.__dict__.get(n), n, lowp=False)

    def fix(ns):
        for k, v in list(ns.items()):
            hit = _ORIGINALS.get(id(v))
            if hit is not None and hit[0] is v:
                ns[k] = hit[1]

    for mname, mod in list(sys.modules.items()):
        if (mname == "dlcore" or mname.startswith("dlcore.")) and mname != __name__ and mod is not None:
            d = getattr(mod, "__dict__", None)
            if isinstance(d, dict):
                fix(d)
    for k, v in list(Tensor.__dict__.items()):
        hit = _ORIGINALS.get(id(v))
        if hit is not None and hit[0] is v:
            setattr(Tensor, k, hit[1])
