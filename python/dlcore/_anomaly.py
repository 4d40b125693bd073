"""torch.autograd's debugging and checking surface for dlcore.autograd:

- anomaly detection (``detect_anomaly``, ``set_detect_anomaly``, ``is_anomaly_enabled``, ``set_anomaly_enabled``):
  while on, every recorded op keeps the stack of its forward call (``node.metadata["traceback_"]``); when a backward
  function raises, or (check_nan) returns a gradient holding NaN, the forward stack of the op is issued as a
  UserWarning ("Error detected in MulBackward. Traceback of forward call that caused the error: ...") and, for NaN,
  RuntimeError("Function 'MulBackward' returned nan values in its 0th output.") is raised, as in torch;
- ``gradcheck`` / ``gradgradcheck`` with torch.autograd's signatures: the full Jacobian of every differentiable
  output w.r.t. every input that requires grad, by central differences against autograd (one backward per output
  element); True, or GradcheckError (a RuntimeError) / False with raise_exception=False;
- ``Variable`` (the legacy wrapper: returns a tensor), ``autograd.function`` (Function, FunctionCtx,
  once_differentiable), ``autograd.graph`` (saved_tensors_hooks, save_on_cpu, disable_saved_tensors_hooks).

How it hooks into dlcore/autograd.py: anomaly mode swaps ``autograd._function_apply`` (what Function.apply calls)
for a recording wrapper and sets ``autograd._anomaly_run`` (the engine calls it instead of the backward while set);
saved-tensor hooks set ``autograd._saved_hooks_pack`` (called by ctx.save_for_backward) and unpack in
``ctx.saved_tensors``. With everything off these cost one global lookup per op.

Limits (said, not hidden): saved-tensor hooks see what an op saves through ctx.save_for_backward (user Functions and
most dlcore ops); operands some dlcore ops keep as ctx attributes are not packed, and the saved originals stay
referenced besides the packed form (the hooks see and transform the tensors; they do not free memory).
"""
from __future__ import annotations

import contextlib
import functools
import threading
import traceback
import types
import warnings

import numpy as np

from . import _C
from . import autograd as _ag

_Tensor = _C.Tensor

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled",
           "set_anomaly_enabled", "gradcheck", "gradgradcheck", "GradcheckError", "Variable"]


# ------------------------------------------------------------------------------------------------- anomaly mode

class _AnomalyState:
    enabled = False
    check_nan = True


_state = _AnomalyState()
_plain_apply = _ag._function_apply


def is_anomaly_enabled() -> bool:
    """True while anomaly detection is on (torch.is_anomaly_enabled)."""
    return _state.enabled


def is_anomaly_check_nan_enabled() -> bool:
    """True while anomaly detection also checks the backward's gradients for NaN."""
    return _state.enabled and _state.check_nan


def _traced_apply(cls, nc, args, kwargs):
    """Function.apply in anomaly mode: the forward's call stack is kept on the node it records."""
    out = _plain_apply(cls, nc, args, kwargs)
    if _C._is_grad_enabled():
        outs = out if isinstance(out, (tuple, list)) else (out,)
        for o in outs:
            if isinstance(o, _Tensor) and o.grad_fn is not None and type(o.grad_fn) is nc:
                node = o.grad_fn
                if "metadata" not in node.__dict__:
                    node.metadata = {"traceback_": traceback.extract_stack()[:-2]}
                break
    return out


def _forward_trace_warning(node):
    md = node.__dict__.get("metadata")
    stack = md.get("traceback_") if md else None
    if stack is None:
        warnings.warn(f"Error detected in {node.name()}. No forward pass information available. Enable detect "
                      f"anomaly during forward pass for more information.", stacklevel=3)
        return
    text = "".join(traceback.format_list(stack))
    warnings.warn(f"Error detected in {node.name()}. Traceback of forward call that caused the error:\n{text}",
                  stacklevel=3)


def _anomaly_run(node, grads, create_graph):
    """The engine's call of node's backward in anomaly mode: on an error the forward stack is issued as a warning
    before the error propagates; with check_nan, a gradient holding NaN raises, naming the function and output."""
    try:
        if create_graph:
            out = _ag._call_backward(node, grads, True)
        else:
            out = node._fn.backward(node, *grads)
    except Exception:
        _forward_trace_warning(node)
        raise
    if _state.check_nan:
        outs = out if isinstance(out, tuple) else (out,)
        for i, g in enumerate(outs):
            if isinstance(g, _Tensor) and g.dtype.is_floating_point and g.numel() and \
                    bool(_C.any(_C.isnan(g)).item()):
                _forward_trace_warning(node)
                raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")
    return out


def set_anomaly_enabled(enabled: bool, check_nan: bool = True):
    """Turns anomaly detection on or off (torch.set_anomaly_enabled)."""
    enabled = bool(enabled)
    if enabled and not _state.enabled:
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and should only be "
                      "enabled for debugging.", stacklevel=2)
    _state.enabled = enabled
    _state.check_nan = bool(check_nan)
    _ag._function_apply = _traced_apply if enabled else _plain_apply
    _ag._anomaly_run = _anomaly_run if enabled else None


class detect_anomaly:
    """Context manager (and decorator) that turns anomaly detection on for its block (torch.autograd.detect_anomaly):
    forward ops record their call stack; a backward that fails, or returns NaN (check_nan=True), reports the forward
    stack of the op that caused it, and a NaN gradient raises RuntimeError naming the function."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = bool(check_nan)
        self._prev = None

    def __enter__(self):
        self._prev = (_state.enabled, _state.check_nan)
        set_anomaly_enabled(True, self.check_nan)
        return self

    def __exit__(self, *exc):
        set_anomaly_enabled(*self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(self.check_nan):
                return fn(*args, **kwargs)
        return wrapper


class set_detect_anomaly:
    """set_detect_anomaly(mode, check_nan=True): sets anomaly detection on or off at once; as a context manager it
    restores the previous setting on exit (torch.autograd.set_detect_anomaly)."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self._prev = (_state.enabled, _state.check_nan)
        set_anomaly_enabled(mode, check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        set_anomaly_enabled(*self._prev)
        return False


# ------------------------------------------------------------------------------------------------- inference mode

class _InferenceDepth(threading.local):
    depth = 0


_inference = _InferenceDepth()


def inference_mode_depth():
    return _inference.depth


class inference_mode:
    """inference_mode(mode=True): a context manager and decorator that turns gradient recording off in its block
    (torch.inference_mode). In dlcore it is no_grad plus the flag torch.is_inference_mode_enabled() reports: dlcore
    has no separate inference tensors (tensors made inside are ordinary tensors; Tensor.is_inference() is False)."""

    def __init__(self, mode=True):
        self.mode = bool(mode)

    def __enter__(self):
        self._prev_grad = _C._is_grad_enabled()
        self._prev_depth = _inference.depth
        if self.mode:
            _C._set_grad_enabled(False)
            _inference.depth += 1
        else:
            _inference.depth = 0
        return self

    def __exit__(self, *exc):
        _C._set_grad_enabled(self._prev_grad)
        _inference.depth = self._prev_depth
        return False

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return fn(*args, **kwargs)
        return wrapper

    def clone(self):
        return inference_mode(self.mode)


# ------------------------------------------------------------------------------------------------- gradcheck

class GradcheckError(RuntimeError):
    """Raised by gradcheck/gradgradcheck when the analytical and numerical gradients differ (torch's class)."""


def _as_tuple(x):
    if isinstance(x, tuple):
        return x
    if isinstance(x, list):
        return tuple(x)
    return (x,)


def _numpy64(t):
    a = _C.Tensor._raw_numpy(_C.to(_C.contiguous(t), None, "cpu", False))
    return np.array(a, dtype=np.float64)


def _from_numpy_like(arr, like):
    """arr (float64) as a tensor of like's dtype on like's device. (np.require, not np.ascontiguousarray, which
    makes a 0-d array 1-d.)"""
    return _C.to(_C.from_numpy(np.require(arr, np.float64, "C")), like.dtype, like.device, False)


def _diff_outputs(out):
    return [o for o in _as_tuple(out) if isinstance(o, _Tensor) and o.dtype.is_floating_point]


def _numerical_jacobians(func, inputs, idx, eps, nout):
    """J[i][j]: (numel of output j, numel of input idx[i]) by central differences, inputs perturbed as copies."""
    jac = []
    for i in idx:
        x = inputs[i]
        base = _numpy64(x)
        per_out = None
        flat = base.reshape(-1)
        for k in range(flat.size):
            vals = []
            for sgn in (1.0, -1.0):
                p = flat.copy()
                p[k] += sgn * eps
                xs = list(inputs)
                xs[i] = _from_numpy_like(p.reshape(base.shape), x)
                with _ag.no_grad():
                    outs = _diff_outputs(func(*xs))
                vals.append([_numpy64(o).reshape(-1) for o in outs])
            d = [(a - b) / (2 * eps) for a, b in zip(vals[0], vals[1])]
            if per_out is None:
                per_out = [np.zeros((dd.size, flat.size)) for dd in d]
            for j, dd in enumerate(d):
                per_out[j][:, k] = dd
        if per_out is None:
            per_out = [np.zeros((0, 0)) for _ in range(nout)]
        jac.append(per_out)
    return jac


def _analytical_jacobians(outs, inputs, idx):
    jac = [[np.zeros((o.numel(), inputs[i].numel())) for o in outs] for i in idx]
    req = [inputs[i] for i in idx]
    for j, o in enumerate(outs):
        if not o.requires_grad:
            continue
        for r in range(o.numel()):
            go = np.zeros(o.numel())
            go[r] = 1.0
            gs = _ag.grad([o], req, [_from_numpy_like(go.reshape(tuple(o.shape)), o)], retain_graph=True,
                          allow_unused=True)
            for a, g in enumerate(gs):
                if g is not None:
                    jac[a][j][r, :] = _numpy64(g).reshape(-1)
    return jac


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, nondet_tol=0.0,
              check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
              check_batched_forward_grad=False, check_forward_ad=False, check_backward_ad=True, fast_mode=False,
              masked=None):
    """Checks the gradients of func at inputs (torch.autograd.gradcheck): for every floating input that requires
    grad and every floating output, the Jacobian from autograd against central differences with step eps, elementwise
    |analytical - numerical| <= atol + rtol * |numerical|. Returns True; on a mismatch raises GradcheckError naming
    the output and input (or returns False with raise_exception=False). Inputs should be float64 (a warning
    otherwise, like torch). Forward-mode and batched checks are not available in dlcore (their flags must be
    False)."""
    if check_forward_ad or check_batched_grad or check_batched_forward_grad:
        raise ValueError("gradcheck: dlcore has no forward-mode AD or vmap-batched gradients; pass "
                         "check_forward_ad=False, check_batched_grad=False, check_batched_forward_grad=False")
    inputs = _as_tuple(inputs)
    idx = [i for i, x in enumerate(inputs) if isinstance(x, _Tensor) and x.requires_grad]
    if not idx:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of the them "
                         "have requires_grad=True.")
    for i in idx:
        if inputs[i].dtype != _C.dtype.float64:
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating point. This check "
                          f"will likely fail if all the inputs are not of double precision floating point.",
                          stacklevel=2)

    def fail(msg):
        if raise_exception:
            raise GradcheckError(msg)
        return False

    with _ag.enable_grad():
        outs = _diff_outputs(func(*inputs))
    if not check_backward_ad:
        return True
    ana = _analytical_jacobians(outs, inputs, idx)
    num = _numerical_jacobians(func, inputs, idx, eps, len(outs))
    for a, i in enumerate(idx):
        for j in range(len(outs)):
            A, N = ana[a][j], num[a][j]
            if A.shape != N.shape:
                return fail(f"Jacobian shape mismatch for output {j} with respect to input {i}: "
                            f"analytical {A.shape}, numerical {N.shape}")
            if not np.all(np.abs(A - N) <= atol + rtol * np.abs(N)):
                return fail(f"Jacobian mismatch for output {j} with respect to input {i},\n"
                            f"numerical:{N}\nanalytical:{A}\n")
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0,
                  check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
                  check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False, masked=False):
    """Checks second derivatives (torch.autograd.gradgradcheck): gradcheck of the function
    (inputs, grad_outputs) -> autograd.grad(func(inputs), inputs, grad_outputs, create_graph=True), with random
    grad_outputs (requiring grad) when none are given."""
    if check_fwd_over_rev or check_batched_grad:
        raise ValueError("gradgradcheck: dlcore has no forward-mode AD or vmap-batched gradients")
    inputs = _as_tuple(inputs)
    with _ag.no_grad():
        outs = _diff_outputs(func(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = []
        for o in outs:
            g = _from_numpy_like(rng.standard_normal(tuple(o.shape)), o)
            g.requires_grad = True
            grad_outputs.append(g)
    grad_outputs = _as_tuple(grad_outputs)
    n_in = len(inputs)
    idx = [i for i, x in enumerate(inputs) if isinstance(x, _Tensor) and x.requires_grad]

    def new_func(*args):
        xs, gos = args[:n_in], args[n_in:]
        xs = list(xs)
        for i in idx:
            if not xs[i].requires_grad:  # a perturbed copy: make it a fresh leaf
                xs[i] = xs[i].detach()
                xs[i].requires_grad = True
        with _ag.enable_grad():
            os_ = _diff_outputs(func(*xs))
            pairs = [(o, g) for o, g in zip(os_, gos) if o.requires_grad]
            res = _ag.grad([o for o, _ in pairs], [xs[i] for i in idx], [g for _, g in pairs], create_graph=True,
                           allow_unused=True, materialize_grads=True)
        return tuple(res)

    return gradcheck(new_func, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)


# ------------------------------------------------------------------------------------------------- Variable

class _VariableMeta(type):
    def __instancecheck__(cls, other):
        return isinstance(other, _Tensor)


class Variable(metaclass=_VariableMeta):
    """The legacy torch.autograd.Variable: Variable(tensor, requires_grad=False) returns the tensor itself (with
    requires_grad set when asked); isinstance(t, Variable) is True for every tensor, as in torch."""

    def __new__(cls, data=None, requires_grad=False, volatile=False):
        if data is None:
            from ._creation import tensor
            return tensor([])
        if not isinstance(data, _Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        if requires_grad:
            data.requires_grad_(True)
        return data


# ------------------------------------------------------------------------------------------------- saved tensor hooks

class _HookStack(threading.local):
    def __init__(self):
        self.stack = []
        self.disabled = None  # an error message while saved_tensors hooks are disabled


_hooks = _HookStack()


def _pack(ctx, tensors):
    """Called by ctx.save_for_backward while a saved_tensors_hooks context is active (this thread)."""
    st = _hooks.stack
    if not st:
        return
    pack, unpack = st[-1]
    ctx._packed = tuple(None if t is None else (pack(t), unpack) for t in tensors)


_active_threads = [0]  # saved_tensors_hooks contexts open in any thread: autograd calls _pack only while > 0
_lock = threading.Lock()


class saved_tensors_hooks:
    """Context manager that sets pack_hook / unpack_hook for the tensors ops save for backward
    (torch.autograd.graph.saved_tensors_hooks): pack_hook(tensor) runs when a tensor is saved (ctx.save_for_backward)
    and its result is stored; unpack_hook(packed) runs when the backward reads it (ctx.saved_tensors) and must return
    a tensor with the original's value. Inner contexts take precedence; hooks are per thread."""

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        if _hooks.disabled is not None:
            raise RuntimeError(_hooks.disabled)
        _hooks.stack.append((self.pack_hook, self.unpack_hook))
        with _lock:
            _active_threads[0] += 1
            _ag._saved_hooks_pack = _pack
        return self

    def __exit__(self, *exc):
        _hooks.stack.pop()
        with _lock:
            _active_threads[0] -= 1
            if _active_threads[0] == 0:
                _ag._saved_hooks_pack = None
        return False


class save_on_cpu(saved_tensors_hooks):
    """saved_tensors_hooks that keep saved tensors on the CPU and move them back to their device for the backward
    (torch.autograd.graph.save_on_cpu). pin_memory has no effect (dlcore has no pinned host memory)."""

    def __init__(self, pin_memory=False, device_type="cuda"):
        def pack(t):
            return (t.device, _C.to(t, None, "cpu", False) if t.device.type != "cpu" else t)

        def unpack(p):
            dev, t = p
            return _C.to(t, None, dev, False) if dev.type != "cpu" else t

        super().__init__(pack, unpack)


@contextlib.contextmanager
def disable_saved_tensors_hooks(error_message):
    """Inside the block, entering saved_tensors_hooks raises RuntimeError(error_message)."""
    prev = _hooks.disabled
    _hooks.disabled = str(error_message)
    try:
        yield
    finally:
        _hooks.disabled = prev


# ------------------------------------------------------------------------------------------------- submodules

def once_differentiable(fn):
    """Decorator for a Function's backward that is not itself differentiable (torch.autograd.function
    .once_differentiable): the backward runs with grad mode off, so a create_graph=True pass gets gradients without
    history."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with _ag.no_grad():
            return fn(ctx, *args)

    return wrapper


def _make_submodules():
    import sys
    function = types.ModuleType("dlcore.autograd.function",
                                "torch.autograd.function: Function, FunctionCtx (the ctx object a Function's forward "
                                "and backward receive: dlcore's Node) and once_differentiable.")
    function.Function = _ag.Function
    function.FunctionCtx = _ag.Node
    function.BackwardCFunction = _ag.Node
    function.once_differentiable = once_differentiable
    graph = types.ModuleType("dlcore.autograd.graph",
                             "torch.autograd.graph: saved_tensors_hooks, save_on_cpu, disable_saved_tensors_hooks, "
                             "Node (the class of grad_fn objects).")
    graph.saved_tensors_hooks = saved_tensors_hooks
    graph.save_on_cpu = save_on_cpu
    graph.disable_saved_tensors_hooks = disable_saved_tensors_hooks
    graph.Node = _ag.Node
    anomaly_mode = types.ModuleType("dlcore.autograd.anomaly_mode", "detect_anomaly, set_detect_anomaly")
    anomaly_mode.detect_anomaly = detect_anomaly
    anomaly_mode.set_detect_anomaly = set_detect_anomaly
    for name, mod in (("function", function), ("graph", graph), ("anomaly_mode", anomaly_mode)):
        setattr(_ag, name, mod)
        sys.modules[f"dlcore.autograd.{name}"] = mod
    for name in ("detect_anomaly", "set_detect_anomaly", "gradcheck", "gradgradcheck", "Variable",
                 "GradcheckError", "inference_mode"):
        setattr(_ag, name, globals()[name])
    gc = types.ModuleType("dlcore.autograd.gradcheck", "gradcheck, gradgradcheck, GradcheckError")
    gc.gradcheck, gc.gradgradcheck, gc.GradcheckError = gradcheck, gradgradcheck, GradcheckError
    sys.modules["dlcore.autograd.gradcheck"] = gc


_make_submodules()
