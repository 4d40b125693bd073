"""Reverse-mode automatic differentiation.

The graph is made of ``Node`` objects (a tensor's ``grad_fn``). Each differentiable op is a ``Function`` with a
``forward(ctx, *args)`` and a ``backward(ctx, *grad_outputs)``, as in PyTorch; ``Function.apply`` runs the forward
without recording, then links the outputs to a new node whose edges point at the inputs' nodes (or, for leaf
tensors that require grad, at the tensors themselves, which accumulate into ``.grad``).

``backward`` walks the graph from the roots in dependency order (Kahn's algorithm over an explicit stack, so a
100k-op chain needs no recursion), sums the gradients that reach a node from several uses, and frees the saved
tensors unless ``retain_graph=True``.

Higher-order gradients (``create_graph=True``): the backward functions then run with grad mode on, so the
gradient computation is itself recorded. A Function's backward qualifies when it is written with recording ops
(``_double_backward = True``: the elementwise/reduction/view ops, whose backwards use ``_ops._D``), when it has a
``_double_backward_fn`` (a differentiable form of a fused kernel's backward: a formula, the op's adjoint for ops
linear in their input (``_linear_backward``), or a recomputation of the forward from recording ops
(``_recompute_vjp``)), or when it is a user's Function. Any other dlcore op gives its gradient tied to a
``_NoDoubleBackward`` node, which raises (naming the op) only if that gradient is differentiated again. Saved
tensors keep their history for this (``Node._saved_src``, settled by the native ``_function_apply``: inputs as
themselves, the node's own outputs by number, to avoid a reference cycle).
"""
from __future__ import annotations

import functools

from . import _C

__all__ = ["Function", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
           "inference_mode"]

_Tensor = _C.Tensor


class _GradMode:
    """The grad mode: a per-thread flag kept natively (dlcore._C._is_grad_enabled/_set_grad_enabled) so that ops
    and Function.apply read it without a Python call."""

    @property
    def enabled(self):
        return _C._is_grad_enabled()

    @enabled.setter
    def enabled(self, value):
        _C._set_grad_enabled(bool(value))


_mode = _GradMode()
_is_enabled = _C._is_grad_enabled
_set_enabled = _C._set_grad_enabled


def is_grad_enabled() -> bool:
    return _is_enabled()


class _GradModeContext:
    """Base of no_grad/enable_grad/set_grad_enabled: a context manager and a decorator."""

    _value = True

    def __enter__(self):
        self._prev = _set_enabled(self._value)
        return self

    def __exit__(self, *exc):
        _set_enabled(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradModeContext):
    """Disables gradient recording inside the block or decorated function."""

    _value = False


class enable_grad(_GradModeContext):
    """Enables gradient recording inside the block (e.g. inside a no_grad region)."""

    _value = True


inference_mode = no_grad


class set_grad_enabled(_GradModeContext):
    """set_grad_enabled(mode): as a function call it sets the mode; as a context manager it restores it after."""

    def __init__(self, mode: bool):
        self._value = bool(mode)
        self._prev = _set_enabled(self._value)

    def __enter__(self):
        return self

    def __call__(self, fn):
        mode = self._value

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = _set_enabled(mode)
            try:
                return fn(*args, **kwargs)
            finally:
                _set_enabled(prev)

        _set_enabled(self._prev)
        return wrapper


# _needs_grad(*args): True when recording is on and some argument is a tensor that requires grad (native).
_needs_grad = _C._needs_grad


# ------------------------------------------------------------------------------------------------- graph nodes

_FREED_MSG = ("Trying to backward through the graph a second time (or directly access saved tensors after they "
              "have already been freed). Saved intermediate values of the graph are freed when you call "
              ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the graph "
              "a second time or if you need to access saved tensors after calling backward.")


class Node:
    """A recorded op: the backward half of a Function, and its ctx.

    next_functions[i] is the edge for forward argument i: None (no gradient flows), (node, output_nr) for a
    non-leaf tensor, or (tensor, None) for a leaf tensor that accumulates its gradient.
    """

    _fn = None  # the Function class (set on the per-Function subclass)
    # Defaults as class attributes (a node is created per recorded op: no __init__ work on the hot path).
    next_functions = ()
    needs_input_grad = ()
    _saved = ()
    _saved_versions = ()
    _saved_src = ()
    _freed = False
    _out_meta = ()
    _retained = None
    materialize_grads = True

    # --- ctx API used by Function.forward/backward ---
    def save_for_backward(self, *tensors):
        _C._save_for_backward(self, tensors)
        if _saved_hooks_pack is not None:  # autograd.graph.saved_tensors_hooks (dlcore/_anomaly.py): pack
            _saved_hooks_pack(self, tensors)
        rec = _ckpt.rec
        if rec is not None:  # inside dlcore.utils.checkpoint: these saved tensors are dropped, then recomputed
            rec.append(self)

    @property
    def saved_tensors(self):
        if self._freed:
            raise RuntimeError(_FREED_MSG)
        if self._saved is _RECOMPUTE:
            self._ckpt_group.recompute()
        for t, v in zip(self._saved, self._saved_versions):
            if t is not None and t._version != v:
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: a tensor of shape {list(t.shape)} saved by {self.name()} is at version "
                    f"{t._version}; expected version {v} instead.")
        packed = self.__dict__.get("_packed")
        if packed is not None:  # saved_tensors_hooks: the backward gets unpack_hook(pack_hook(tensor))
            return tuple(None if p is None else p[1](p[0]) for p in packed)
        if _is_enabled() and self._saved_src:
            return self._saved_with_history()
        return self._saved

    def _saved_with_history(self):
        """The saved tensors with their autograd history (grad mode on: a backward with create_graph, whose ops
        record): an input that required grad is the input itself; an output of this node is rebuilt as an alias
        whose grad_fn is this node (kept as its number: holding it would make a reference cycle)."""
        out = []
        for t, src in zip(self._saved, self._saved_src):
            if src is None or t is None:
                out.append(t)
            elif isinstance(src, int) and not t.dtype.is_floating_point:
                out.append(t)  # a non-differentiable output (max_pool3d's indices): no history
            elif isinstance(src, int):
                a = t._alias()
                a.requires_grad = True
                a.grad_fn = self
                a._output_nr = src
                out.append(a)
            else:
                out.append(src)
        return tuple(out)

    def set_materialize_grads(self, value: bool):
        self.materialize_grads = bool(value)

    def mark_non_differentiable(self, *tensors):
        self._non_diff = set(id(t) for t in tensors)

    def mark_dirty(self, *tensors):
        """The inputs forward modified in place (and returns): they take this node's history as their new one,
        as any output does. A leaf that requires grad cannot be modified in place (torch's error)."""
        for t in tensors:
            if isinstance(t, _Tensor) and t.requires_grad and t.grad_fn is None:
                raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self):
        return f"<{self.name()} object at {id(self):#x}>"

    def _release(self):
        self._saved = ()
        self._saved_src = ()
        self._freed = True
        if getattr(self._fn, "_keeps_refs", False):  # a Function that holds more on ctx under _keep_* names
            d = self.__dict__
            for k in [k for k in d if k.startswith("_keep_")]:
                del d[k]

    def register_hook(self, hook):
        hooks = self.__dict__.setdefault("_hooks", [])
        hooks.append(hook)
        return hook


# ------------------------------------------------------------------------------------------------- checkpointing

import threading  # noqa: E402

class _CkptState(threading.local):
    rec = None  # the list the current checkpoint call records its nodes into (per thread)


_ckpt = _CkptState()
_RECOMPUTE = ("<saved tensors dropped by checkpoint: recomputed on use>",)


class _CheckpointGroup:
    """The nodes recorded inside one dlcore.utils.checkpoint call, whose saved tensors were dropped after the
    forward. The first backward that needs one reruns the function (grad mode on, the RNG state of the first run)
    and hands each node the saved tensors of its counterpart in the rerun, matched by order (a deterministic
    function records the same ops in the same order: checked)."""

    def __init__(self, fn, args, kwargs, rng, nodes):
        import weakref
        self.fn, self.args, self.kwargs, self.rng = fn, args, kwargs, rng
        self.nodes = [weakref.ref(n) for n in nodes]
        self.shapes = [tuple(None if t is None else tuple(t.shape) for t in n._saved) for n in nodes]

    def recompute(self):
        from . import _creation
        rec = []
        prev_rec = _ckpt.rec
        prev_rng = None
        if self.rng is not None:
            prev_rng = _creation.get_rng_state()
            _creation.set_rng_state(self.rng)
        _ckpt.rec = rec
        prev_mode = _set_enabled(True)
        try:
            self.fn(*self.args, **self.kwargs)
        finally:
            _set_enabled(prev_mode)
            _ckpt.rec = prev_rec
            if prev_rng is not None:
                _creation.set_rng_state(prev_rng)
        shapes = [tuple(None if t is None else tuple(t.shape) for t in n._saved) for n in rec]
        if shapes != self.shapes:
            raise RuntimeError(f"checkpoint: the recomputation of {getattr(self.fn, '__name__', self.fn)!r} saved "
                               f"different tensors than the forward ({len(shapes)} ops vs {len(self.shapes)}, or "
                               f"other shapes): the checkpointed function must be deterministic in what it computes")
        for ref, new in zip(self.nodes, rec):
            old = ref()
            if old is not None and old._saved is _RECOMPUTE:
                old._saved, old._saved_versions, old._saved_src = new._saved, new._saved_versions, new._saved_src
        self.args = self.kwargs = None  # one recomputation serves every node of the group


def _checkpoint_run(fn, args, kwargs, preserve_rng_state):
    """fn(*args, **kwargs), recorded as usual but with the saved tensors of every op inside dropped (memory:
    the activations); they are recomputed when the backward first needs them (dlcore.utils.checkpoint)."""
    from . import _creation
    rng = _creation.get_rng_state() if preserve_rng_state else None
    rec = []
    prev = _ckpt.rec
    _ckpt.rec = rec
    try:
        out = fn(*args, **kwargs)
    finally:
        _ckpt.rec = prev
    if rec:
        group = _CheckpointGroup(fn, args, kwargs, rng, rec)
        for n in rec:
            n._saved = _RECOMPUTE
            n._saved_src = ()
            n._ckpt_group = group
    return out


class Function:
    """Base class of differentiable ops: subclass with static forward(ctx, *args) and backward(ctx, *grads).

    backward returns one gradient per forward argument (None for non-tensor or non-differentiable ones).
    Tensors the backward needs go through ctx.save_for_backward. Never hold an output (or a list containing one) on
    ctx directly: the output's grad_fn is ctx, and that cycle runs through the C++ tensor object, which the garbage
    collector cannot follow, so a graph that is never backpropagated is never freed (the RNN functions leaked so).
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError

    @classmethod
    def _node_class(cls):
        nc = cls.__dict__.get("_node_cls")
        if nc is None:
            name = cls.__name__.lstrip("_")
            if not name.endswith("Backward"):
                name = name + "Backward"
            nc = type(name, (Node,), {"_fn": cls})
            cls._node_cls = nc
        return nc

    @classmethod
    def apply(cls, *args, **kwargs):
        """Runs forward(ctx, *args) with grad mode off; when grad mode is on and an argument requires grad, links
        the outputs to a new node (ctx) whose edges point at the inputs' nodes or leaf tensors (native:
        dlcore._C._function_apply)."""
        nc = cls.__dict__.get("_node_cls") or cls._node_class()
        return _function_apply(cls, nc, args, kwargs)


_function_apply = _C._function_apply
_anomaly_run = None  # set by anomaly mode (dlcore/_anomaly.py)
_saved_hooks_pack = None  # set while saved_tensors_hooks are active (dlcore/_anomaly.py)


# ------------------------------------------------------------------------------------------------- the engine

def _zeros_like_meta(meta):
    shape, dtype, device = meta
    return _C.zeros(list(shape), dtype, device)


def _accumulate(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if _is_enabled() and (a.requires_grad or b.requires_grad):  # create_graph: the sum is part of the new graph
        from . import _ops
        return _ops.add(a, b)
    return _C.add(a, b)


def _run_backward(roots, root_grads, retain_graph, capture=None, accumulate_leaves=True, create_graph=False,
                  stop=None):
    """Runs the graph from (tensor, grad) pairs. capture: {key: None} keys (node, nr) or ('leaf', id) to collect
    instead of (or besides) accumulating into leaves. Returns the captured dict. Backward functions and hooks run
    with grad mode off (no graph of the gradient computation is recorded), or, with create_graph, on: the
    gradients are then functions of the graph's tensors that can be differentiated again (see _call_backward).
    stop: nodes the walk does not enter (their incoming gradients are captured, not propagated)."""
    prev = _set_enabled(bool(create_graph))
    try:
        return _run_backward_impl(roots, root_grads, retain_graph, capture, accumulate_leaves, bool(create_graph),
                                  stop)
    finally:
        _set_enabled(prev)


class _NoDoubleBackward(Function):
    """Stands for a gradient computed by a backward that is not itself differentiable (create_graph=True through an
    op without a double backward): the value is right; differentiating it again raises, naming the op."""

    @staticmethod
    def forward(ctx, name, value, *deps):
        ctx.op = name
        return value._alias()

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError(f"{ctx.op}: double backward (a gradient of a gradient, create_graph=True) is not "
                           f"implemented for this op in dlcore")


class _LinearBackward(Function):
    """z = raw(g): the backward of an op that is linear in its input (pooling, dropout's mask, embedding's gather),
    recorded under create_graph. Its own gradient is the op's forward (``adjoint``, a recording op) applied to
    the incoming gradient, so it can be differentiated again to any order."""

    _double_backward = True

    @staticmethod
    def forward(ctx, g, raw, adjoint):
        ctx.adjoint = adjoint
        return raw(g)

    @staticmethod
    def backward(ctx, gg):
        return ctx.adjoint(gg), None, None


def _linear_backward(g, raw, adjoint):
    """raw(g), recorded as a _LinearBackward with the given adjoint when grad mode is on and g requires grad."""
    if _needs_grad(g):
        return _LinearBackward.apply(g, raw, adjoint)
    return raw(g)


def _linear_pair(raw, raw_adjoint):
    """The recording forms (fwd, adj) of a linear map raw and its adjoint raw_adjoint (both unrecorded kernels of
    one tensor): each is recorded as a _LinearBackward whose gradient is the other, so a backward written with them
    (scatter's, as_strided's) can be differentiated to any order. A self-adjoint map passes raw twice."""
    def fwd(t):
        return _linear_backward(t, raw, adj)

    def adj(u):
        return _linear_backward(u, raw_adjoint, fwd)

    return fwd, adj


def _inputs_with_history(node, values):
    """The forward arguments of node as tensors carrying their autograd history, for a double backward that
    recomputes the op (_recompute_vjp) when the forward did not save them: values[i] is argument i's value (or
    None); where node's edge i leads to a leaf, the leaf itself; to a non-leaf, an alias of values[i] whose
    grad_fn is that node; with no edge, values[i] as is."""
    out = []
    edges = node.next_functions
    for i, v in enumerate(values):
        e = edges[i] if i < len(edges) else None
        if v is None or e is None:
            out.append(v)
        elif e[1] is None:
            out.append(e[0])
        else:
            a = v._alias()
            a.requires_grad = True
            a.grad_fn = e[0]
            a._output_nr = e[1]
            out.append(a)
    return tuple(out)


def _recompute_vjp(fwd, inputs, grad_outputs):
    """The gradients of fwd(*inputs) (recomputed with recording ops) with respect to inputs at grad_outputs, as
    recorded tensors: the double backward of a fused kernel through a composite of differentiable ops. The walk
    stops at the inputs' own histories (partial derivatives of this op only). None for an input that does not
    require grad."""
    prev = _set_enabled(True)
    try:
        outs = fwd(*inputs)
    finally:
        _set_enabled(prev)
    outs = outs if isinstance(outs, tuple) else (outs,)
    roots = [(o, g) for o, g in zip(outs, grad_outputs) if g is not None and o.requires_grad]
    keys, need, stop = [], [], set()
    for i, t in enumerate(inputs):
        if isinstance(t, _Tensor) and t.requires_grad:
            k = ("leaf", id(t)) if t.grad_fn is None else (t.grad_fn, t._output_nr)
            if k in keys:  # one tensor passed twice (an LSTM's h0 as c0): its whole gradient goes to the first
                continue
            need.append(i)
            keys.append(k)
            if t.grad_fn is not None:
                stop.add(t.grad_fn)
    res = [None] * len(inputs)
    if not roots or not need:
        return res
    got = _run_backward([o for o, _ in roots], [g for _, g in roots], True, capture=dict.fromkeys(keys),
                        accumulate_leaves=False, create_graph=True, stop=stop)
    for i, k in zip(need, keys):
        res[i] = got.get(k)
    return res


def _is_internal(fn_cls):
    return fn_cls.__module__.startswith("dlcore.")


def _call_backward(node, grads, create_graph):
    """node's backward on grads. With create_graph (grad mode on), three kinds of function:
    - a user Function, or a dlcore one whose backward is written with recording ops (``_double_backward = True``):
      called as is, its gradient ops are recorded;
    - a dlcore Function with a ``_double_backward_fn(ctx, *grads)``: that differentiable form is called instead;
    - any other dlcore Function (a fused backward kernel): the backward runs unrecorded, and each gradient that
      depends on a tensor requiring grad is tied to them through _NoDoubleBackward (differentiating it raises)."""
    fn = node._fn
    if not create_graph or not _is_internal(fn) or getattr(fn, "_double_backward", False):
        return fn.backward(node, *grads)
    dbl = getattr(fn, "_double_backward_fn", None)
    if dbl is not None:
        out = dbl(node, *grads)
        if out is not NotImplemented:
            return out
    deps = [g for g in grads if g is not None and g.requires_grad]
    if node._saved is _RECOMPUTE:
        node._ckpt_group.recompute()
    if node._saved_src and not node._freed:
        deps += [t for t in node._saved_with_history() if t is not None and t.requires_grad]
    prev = _set_enabled(False)
    try:
        out = fn.backward(node, *grads)
    finally:
        _set_enabled(prev)
    if not deps:
        return out
    single = not isinstance(out, tuple)
    outs = (out,) if single else out
    name = node.name()
    wrapped = tuple(_NoDoubleBackward.apply(name, g, *deps) if isinstance(g, _Tensor) and
                    g.dtype.is_floating_point else g for g in outs)
    return wrapped[0] if single else wrapped


def _run_backward_impl(roots, root_grads, retain_graph, capture, accumulate_leaves, create_graph=False, stop=None):
    # Seed the gradient buffers.
    buffers = {}
    leaf_grads = {}
    leaf_tensors = {}
    start = []
    for t, g in zip(roots, root_grads):
        fn = t.grad_fn
        if fn is None:
            if t.requires_grad:
                key = id(t)
                leaf_grads[key] = _accumulate(leaf_grads.get(key), g)
                leaf_tensors[key] = t
            continue
        buf = buffers.get(fn)
        if buf is None:
            buf = buffers[fn] = [None] * max(1, len(fn._out_meta))
        buf[t._output_nr] = _accumulate(buf[t._output_nr], g)
        start.append(fn)
    # Count, for each node, how many edges from nodes of this graph lead to it.
    deps = {}
    seen = set()
    start = list(dict.fromkeys(start))  # two roots from one node (an LSTM's output and h_n): walk its edges once
    stack = list(start)
    for n in start:
        seen.add(n)
    while stack:
        n = stack.pop()
        for e in n.next_functions:
            if e is None:
                continue
            child = e[0]
            if e[1] is None:
                continue  # leaf tensor
            if stop is not None and child in stop:
                continue  # not entered: its incoming gradient is captured where the edge is followed
            deps[child] = deps.get(child, 0) + 1
            if child not in seen:
                seen.add(child)
                stack.append(child)
    ready = [n for n in start if deps.get(n, 0) == 0]
    captured = {} if capture is not None else None
    while ready:
        node = ready.pop()
        grads = buffers.pop(node, None) or [None] * max(1, len(node._out_meta))
        if node._freed:
            raise RuntimeError(_FREED_MSG)
        pre = node.__dict__.get("_pre_hooks")
        if pre:
            for nr, hs in pre.items():
                for h in hs:
                    if grads[nr] is not None:
                        r = h(grads[nr])
                        if r is not None:
                            grads[nr] = r
        if captured is not None:
            for nr in range(len(grads)):
                if (node, nr) in capture:
                    captured[(node, nr)] = grads[nr]
        if node._retained:
            for nr, t in node._retained.items():
                tensor = t()
                if tensor is not None and grads[nr] is not None:
                    tensor.grad = grads[nr] if tensor.grad is None else _C.add(tensor.grad, grads[nr])
        hooks = node.__dict__.get("_hooks")
        if node.materialize_grads and (grads[0] is None or len(grads) > 1):
            grads = [g if g is not None else (_zeros_like_meta(m) if m is not None else None)
                     for g, m in zip(grads, node._out_meta)]
        if _anomaly_run is not None:  # anomaly mode (dlcore/_anomaly.py): forward traceback on error, NaN check
            in_grads = _anomaly_run(node, grads, create_graph)
        else:
            in_grads = _call_backward(node, grads, True) if create_graph else node._fn.backward(node, *grads)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        if hooks:
            for h in hooks:
                r = h(in_grads, tuple(grads))
                if r is not None:
                    in_grads = tuple(r)
        if not retain_graph:
            node._release()
        edges = node.next_functions
        if len(in_grads) < len(edges):
            raise RuntimeError(f"function {node.name()} returned {len(in_grads)} gradients, expected {len(edges)}")
        for e, g in zip(edges, in_grads):
            if e is None:
                continue
            child, nr = e
            if nr is None:  # a leaf tensor
                if g is not None:
                    key = id(child)
                    leaf_grads[key] = _accumulate(leaf_grads.get(key), g)
                    leaf_tensors[key] = child
                continue
            if stop is not None and child in stop:
                if g is not None:
                    captured[(child, nr)] = _accumulate(captured.get((child, nr)), g)
                continue
            if g is not None:
                buf = buffers.get(child)
                if buf is None:
                    buf = buffers[child] = [None] * max(1, len(child._out_meta))
                buf[nr] = _accumulate(buf[nr], g)
            deps[child] -= 1
            if deps[child] == 0:
                ready.append(child)
    for key, g in leaf_grads.items():
        t = leaf_tensors[key]
        if captured is not None and ("leaf", key) in capture:
            captured[("leaf", key)] = g
        if accumulate_leaves and g is not None:
            _accumulate_into_leaf(t, g)
    return captured


def _accumulate_into_leaf(t, g):
    hooks = t.__dict__.get("_grad_hooks") if hasattr(t, "__dict__") else None
    if hooks:
        for h in hooks:
            r = h(g)
            if r is not None:
                g = r
    if g.requires_grad or (t.grad is not None and t.grad.requires_grad):
        # create_graph: .grad keeps the gradient's graph (ops that record)
        from . import _ops
        if tuple(g.shape) != tuple(t.shape):
            g = _ops.reshape(g, list(t.shape)) if g.numel() == t.numel() else _ops.expand(g, list(t.shape))
        if g.dtype != t.dtype:
            g = _ops._to(g, t.dtype, None)
        cur = t.grad
        t.grad = _ops.clone(g) if cur is None else _ops.add(cur, g)
        return
    if tuple(g.shape) != tuple(t.shape):
        g = _C.reshape(g, list(t.shape)) if g.numel() == t.numel() else _C.contiguous(_C.expand(g, list(t.shape)))
    if g.dtype != t.dtype:
        g = _C.to(g, t.dtype, None, False)
    cur = t.grad
    if cur is None:
        # Own the gradient: never alias a tensor the caller (or the graph) still holds.
        t.grad = _C.clone(g) if (g._is_same_storage(t) or not g.is_contiguous()) else g
    else:
        t.grad = _C.add(cur, g)


def _check_and_default_grads(tensors, grads, who):
    out = []
    for t, g in zip(tensors, grads):
        if g is None:
            if t.numel() != 1:
                raise RuntimeError(f"{who}: grad can be implicitly created only for scalar outputs "
                                   f"(got an output of shape {list(t.shape)}); pass a gradient")
            g = _C.full(list(t.shape), 1.0, t.dtype, t.device)
        else:
            if not isinstance(g, _Tensor):
                g = _C.full(list(t.shape), float(g), t.dtype, t.device)
            if tuple(g.shape) != tuple(t.shape):
                raise RuntimeError(f"{who}: mismatch in shape: grad_output has shape {list(g.shape)} and output "
                                   f"has shape {list(t.shape)}")
        out.append(g)
    return out


_create_graph_warned = False


def _warn_create_graph_cycle():
    """torch's warning (once per process) for backward(create_graph=True): .grad then holds a graph that refers back
    to the parameter."""
    global _create_graph_warned
    if not _create_graph_warned:
        _create_graph_warned = True
        import warnings
        warnings.warn("Using backward() with create_graph=True will create a reference cycle between the parameter "
                      "and its gradient which can cause a memory leak. We recommend using autograd.grad when "
                      "creating the graph to avoid this. If you have to use this function, make sure to reset the "
                      ".grad fields of your parameters to None after use to break the cycle and avoid the leak.",
                      UserWarning, stacklevel=3)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Computes the gradients of tensors w.r.t. graph leaves and accumulates them into the leaves' .grad.
    create_graph=True records the gradient computation, so .grad can be differentiated again (retain_graph then
    defaults to True)."""
    if retain_graph is None:
        retain_graph = create_graph
    if create_graph:
        _warn_create_graph_cycle()
    if isinstance(tensors, _Tensor):
        tensors = [tensors]
    tensors = list(tensors)
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    elif isinstance(grad_tensors, _Tensor):
        grad_tensors = [grad_tensors]
    for t in tensors:
        if not t.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    grads = _check_and_default_grads(tensors, grad_tensors, "backward")
    if inputs is not None:
        inputs = [inputs] if isinstance(inputs, _Tensor) else list(inputs)
        cap = {("leaf", id(t)) if t.grad_fn is None else (t.grad_fn, t._output_nr): None for t in inputs}
        got = _run_backward(tensors, grads, bool(retain_graph), capture=cap, accumulate_leaves=False,
                            create_graph=create_graph)
        for t in inputs:
            key = ("leaf", id(t)) if t.grad_fn is None else (t.grad_fn, t._output_nr)
            g = got.get(key)
            if g is not None:
                _accumulate_into_leaf(t, g)
        return
    _run_backward(tensors, grads, bool(retain_graph), create_graph=create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Returns the gradients of outputs w.r.t. inputs (a tuple), without touching any .grad. create_graph=True
    records the gradient computation, so the results can be differentiated again (retain_graph then defaults to
    True). only_inputs is accepted and ignored (deprecated in torch too). is_grads_batched: the first dimension of
    every grad_output is a batch of seeds; each result gets that batch dimension (one backward per seed here,
    where torch vectorises with vmap)."""
    if not only_inputs:
        import warnings
        warnings.warn("only_inputs argument is deprecated and is ignored now (defaults to True). To accumulate "
                      "gradient for other parts of the graph, please use torch.autograd.backward.", stacklevel=2)
    if retain_graph is None:
        retain_graph = create_graph
    if is_grads_batched:
        return _grad_batched(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused,
                             materialize_grads)
    single = isinstance(outputs, _Tensor)
    outputs = [outputs] if single else list(outputs)
    inputs = [inputs] if isinstance(inputs, _Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, _Tensor):
        grad_outputs = [grad_outputs]
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("autograd.grad: one of the differentiated tensors does not require grad")
    for t in outputs:
        if not t.requires_grad:
            raise RuntimeError("autograd.grad: element 0 of tensors does not require grad and does not have a grad_fn")
    grads = _check_and_default_grads(outputs, grad_outputs, "autograd.grad")
    keys = [("leaf", id(t)) if t.grad_fn is None else (t.grad_fn, t._output_nr) for t in inputs]
    # An input that is also an output gets that output's seed gradient directly.
    got = _run_backward(outputs, grads, bool(retain_graph), capture=dict.fromkeys(keys), accumulate_leaves=False,
                        create_graph=create_graph)
    result = []
    for t, k in zip(inputs, keys):
        g = got.get(k)
        if g is None:
            for o, og in zip(outputs, grads):
                if o is t:
                    g = og
        if g is None:
            if not (allow_unused or materialize_grads):
                raise RuntimeError("autograd.grad: one of the differentiated tensors appears to not have been used "
                                   "in the graph; set allow_unused=True if this is the desired behavior")
            if materialize_grads:
                g = _C.zeros(list(t.shape), t.dtype, t.device)
        result.append(g)
    return tuple(result)


def _grad_batched(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused, materialize_grads):
    single_in = isinstance(inputs, _Tensor)
    outs = [outputs] if isinstance(outputs, _Tensor) else list(outputs)
    gos = [grad_outputs] if isinstance(grad_outputs, _Tensor) else list(grad_outputs or [])
    if len(gos) != len(outs) or any(not isinstance(g, _Tensor) for g in gos):
        raise RuntimeError("autograd.grad: is_grads_batched=True needs one grad_output tensor per output")
    n = None
    for o, g in zip(outs, gos):
        if g.dim() != o.dim() + 1 or tuple(g.shape[1:]) != tuple(o.shape):
            raise RuntimeError(f"autograd.grad: with is_grads_batched=True each grad_output must have shape "
                               f"(B, *output.shape); got {tuple(g.shape)} for an output of shape {tuple(o.shape)}")
        if n is None:
            n = g.shape[0]
        elif g.shape[0] != n:
            raise RuntimeError(f"autograd.grad: is_grads_batched=True with batch sizes {n} and {g.shape[0]}")
    per = [grad(outs, inputs, [g[i] for g in gos], retain_graph=True if i + 1 < n else retain_graph,
                create_graph=create_graph, allow_unused=allow_unused, materialize_grads=materialize_grads)
           for i in range(n)]
    from ._indexing import stack
    n_in = 1 if single_in else len(list(inputs))
    result = []
    for j in range(n_in):
        col = [p[j] for p in per]
        result.append(None if any(c is None for c in col) else stack(col, 0))
    return tuple(result)


def _retain_grad(t):
    import weakref
    if t.grad_fn is None:
        return
    fn = t.grad_fn
    if fn._retained is None:
        fn._retained = {}
    fn._retained[t._output_nr] = weakref.ref(t)
    t._retains_grad = True


# dlcore.autograd.functional (jacobian, hessian, vjp, jvp, vhp, hvp); importable as a submodule too
from . import _autograd_functional as functional  # noqa: E402
import sys as _sys  # noqa: E402

_sys.modules[__name__ + ".functional"] = functional
