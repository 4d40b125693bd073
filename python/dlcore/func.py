"""dlcore.func: the commonly used part of torch.func (grad, grad_and_value, vjp, jvp, jacrev, jacfwd, hessian, vmap,
functional_call), with torch.func's signatures, argument checks and pytree handling.

How it is built (and where it differs from torch.func's implementation, not its results):

* Every derivative comes from dlcore's reverse-mode autograd (``autograd.grad``). A transform makes its
  differentiated arguments into fresh tensors that require grad (a ``detach()`` for an argument that does not
  require grad, a ``view_as`` for one that does, so regular autograd still reaches it), calls the function with grad
  mode on, and differentiates. Transforms nest (``grad(grad(f))``, ``jacfwd(jacrev(f))``, ``vmap(grad(f))``) through
  ``create_graph``: a transform records its gradient computation exactly when the function's output depends on a
  tensor that a still-running enclosing transform (or the user, through ``requires_grad``) differentiates; results
  that depend on nothing outside are returned detached, like torch.func's unwrapped tensors.
* ``jvp`` and ``jacfwd`` are computed in reverse mode too: ``jvp`` by the double-vjp trick (``u -> u^T J`` is linear,
  its gradient in ``u`` is ``J v``), ``jacfwd`` exactly like ``jacrev`` (one vector-Jacobian product per output
  element). The values are those of forward mode; the cost is that of reverse mode, and ``jvp`` needs the ops'
  double backward (an op without one raises, naming the op).
* ``vmap`` is a Python loop over the mapped dimension: each slice goes through ``func`` and the results are stacked
  along ``out_dims``. It is correct (torch's in_dims/out_dims semantics and errors), composes with the other
  transforms (per-sample gradients: ``vmap(grad(loss), in_dims=(None, 0, 0))``), but it is not batched for speed.

Pytrees: arguments and outputs may be tensors or (nested) tuples, lists, dicts and namedtuples of them.
"""
from __future__ import annotations

import functools

from . import _C
from .autograd import grad as _autograd_grad, enable_grad as _enable_grad, is_grad_enabled as _is_grad_enabled
from .autograd import no_grad as _no_grad

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap", "functional_call",
           "stack_module_state"]

_Tensor = _C.Tensor


# ------------------------------------------------------------------------------------------------- pytrees

class _TreeSpec:
    """The structure of a pytree: kind is None for a leaf, else tuple/list/dict or a namedtuple/dict subclass type;
    context is the dict keys (in order) for dicts."""

    __slots__ = ("kind", "context", "children", "num_leaves")

    def __init__(self, kind, context, children):
        self.kind = kind
        self.context = context
        self.children = children
        self.num_leaves = 1 if kind is None else sum(c.num_leaves for c in children)

    def is_leaf(self):
        return self.kind is None

    def __eq__(self, other):
        return (isinstance(other, _TreeSpec) and self.kind is other.kind and self.context == other.context
                and self.children == other.children)

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = None

    def __repr__(self):
        if self.kind is None:
            return "*"
        name = self.kind.__name__
        if self.context is not None:
            inner = ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.context, self.children))
            return f"TreeSpec({name}, {{{inner}}})"
        return f"TreeSpec({name}, [{', '.join(repr(c) for c in self.children)}])"


_LEAF = _TreeSpec(None, None, ())


def _node_kind(x):
    if isinstance(x, _Tensor):
        return None
    if isinstance(x, tuple):
        return type(x)  # tuple or a namedtuple type
    if isinstance(x, list):
        return list
    if isinstance(x, dict):
        return type(x)
    return None


def _tree_flatten(tree):
    """(leaves, spec): leaves in order (dicts in their key order)."""
    leaves = []

    def rec(x):
        kind = _node_kind(x)
        if kind is None:
            leaves.append(x)
            return _LEAF
        if isinstance(x, dict):
            keys = list(x.keys())
            return _TreeSpec(kind, keys, [rec(x[k]) for k in keys])
        return _TreeSpec(kind, None, [rec(v) for v in x])

    spec = rec(tree)
    return leaves, spec


def _tree_unflatten(leaves, spec):
    it = iter(leaves)

    def rec(s):
        if s.kind is None:
            return next(it)
        vals = [rec(c) for c in s.children]
        if s.context is not None:
            d = s.kind() if s.kind is not dict else {}
            for k, v in zip(s.context, vals):
                d[k] = v
            return d
        if s.kind is tuple or s.kind is list:
            return s.kind(vals)
        if hasattr(s.kind, "_fields"):  # namedtuple
            return s.kind(*vals)
        return s.kind(vals)

    return rec(spec)


def _broadcast_to_and_flatten(prefix, spec):
    """prefix as a prefix tree of spec: its leaves repeated over the subtrees they stand for; None if the
    structures do not match (torch.utils._pytree._broadcast_to_and_flatten)."""
    if _node_kind(prefix) is None:
        return [prefix] * spec.num_leaves
    if spec.kind is None:
        return None
    if _node_kind(prefix) is not spec.kind:
        return None
    if spec.context is not None:
        if list(prefix.keys()) != list(spec.context) and set(prefix.keys()) != set(spec.context):
            return None
        children = [prefix[k] for k in spec.context]
    else:
        if len(prefix) != len(spec.children):
            return None
        children = list(prefix)
    out = []
    for p, c in zip(children, spec.children):
        r = _broadcast_to_and_flatten(p, c)
        if r is None:
            return None
        out.extend(r)
    return out


def _tree_map(fn, tree):
    leaves, spec = _tree_flatten(tree)
    return _tree_unflatten([fn(x) for x in leaves], spec)


# ------------------------------------------------------------------------------------------------- levels

class _Level:
    """One running transform call. Its differentiated inputs carry it (attribute _LEVEL_ATTR), so that a graph walk
    can tell its own inputs, those of enclosing transforms still running (active), and those of finished ones."""

    __slots__ = ("active",)

    def __init__(self):
        self.active = True


_LEVEL_ATTR = "_dlcore_func_level"


def _make_differentiable(x, level, connect):
    if not isinstance(x, _Tensor):
        raise ValueError(f"Thing passed to transform API must be Tensor, got {type(x)}")
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"only Tensors of floating point dtype can require gradients (a transform got a tensor "
                           f"of dtype {x.dtype} and shape {list(x.shape)} to differentiate)")
    if connect and x.requires_grad:
        t = x.view_as(x)  # a new node whose gradient also flows on to x (regular autograd / enclosing transform)
    else:
        t = x.detach()
        t.requires_grad_(True)
    setattr(t, _LEVEL_ATTR, level)
    return t


def _is_outer_leaf(t, level):
    lv = getattr(t, _LEVEL_ATTR, None)
    if lv is None:
        return bool(t.requires_grad)  # a user's tensor: regular autograd differentiates it
    return lv is not level and lv.active


def _reaches_outer(t, level):
    """Whether t's graph reaches a tensor differentiated outside `level`: a user's leaf that requires grad or an
    input of a transform that is still running."""
    if not isinstance(t, _Tensor) or not t.requires_grad:
        return False
    fn = t.grad_fn
    if fn is None:
        return _is_outer_leaf(t, level)
    seen = {fn}
    stack = [fn]
    while stack:
        n = stack.pop()
        for e in n.next_functions:
            if e is None:
                continue
            child, nr = e
            if nr is None:
                if _is_outer_leaf(child, level):
                    return True
            elif child not in seen:
                seen.add(child)
                stack.append(child)
    return False


def _unwrap(t, level, outer):
    """A result as the caller sees it: kept with its graph when it depends on something differentiated outside this
    transform (and grad mode was on at the call), detached otherwise."""
    if not isinstance(t, _Tensor) or not t.requires_grad:
        return t
    if outer and _reaches_outer(t, level):
        return t
    return t.detach()


def _unwrap_tree(tree, level, outer, check_tensors=False):
    def fn(x):
        if isinstance(x, _Tensor):
            return _unwrap(x, level, outer)
        if check_tensors:
            raise RuntimeError(f"Expected tensors, got unsupported type {type(x)}")
        return x
    return _tree_map(fn, tree)


def _zeros_like(x):
    return _C.zeros(list(x.shape), x.dtype, x.device)


def _get_name(func):
    if isinstance(func, functools.partial):
        return f"functools.partial({_get_name(func.func)}, ...)"
    if hasattr(func, "__name__"):
        return func.__name__
    return repr(func)


# ------------------------------------------------------------------------------------------------- argnums

def _validate_argnum(argnum, num_args):
    if not isinstance(argnum, int) or isinstance(argnum, bool):
        raise RuntimeError(f"argnum must be int, got: {type(argnum)}")
    if 0 <= argnum < num_args:
        return argnum
    if -num_args <= argnum < 0:
        return argnum + num_args
    raise RuntimeError(f"Got argnum={argnum}, but only {num_args} positional inputs")


def _normalize_argnums(argnums, num_args):
    if isinstance(argnums, int) and not isinstance(argnums, bool):
        return _validate_argnum(argnums, num_args)
    if isinstance(argnums, tuple):
        out = tuple(_validate_argnum(a, num_args) for a in argnums)
        if len(out) == 0:
            raise RuntimeError("argnums must be non-empty")
        if len(set(out)) != len(out):
            raise RuntimeError(f"argnums elements must be unique, got {argnums}")
        return out
    raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")


def _slice_argnums(args, argnums):
    return args[argnums] if isinstance(argnums, int) else tuple(args[i] for i in argnums)


def _replace_args(args, new, argnums):
    if isinstance(argnums, int):
        return tuple(new if i == argnums else a for i, a in enumerate(args))
    return tuple(new[argnums.index(i)] if i in argnums else a for i, a in enumerate(args))


def _prepare(args, argnums, level, outer):
    """Replaces args[argnums] (pytrees of tensors) by differentiable tensors: (new_args, flat_inputs, spec)."""
    diff = _slice_argnums(args, argnums)
    flat, spec = _tree_flatten(diff)
    new_flat = [_make_differentiable(x, level, outer) for x in flat]
    return _replace_args(args, _tree_unflatten(new_flat, spec), argnums), new_flat, spec


def _grads_or_zeros(outputs, inputs, grad_outputs, create_graph, retain_graph=True):
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if pairs and inputs:
        gs = _autograd_grad([o for o, _ in pairs], list(inputs), [g for _, g in pairs], retain_graph=retain_graph,
                            create_graph=create_graph, allow_unused=True)
    else:
        gs = (None,) * len(inputs)
    return [_zeros_like(x) if g is None else g for g, x in zip(gs, inputs)]


def _check_grad_out_shapes(outputs, cotangents):
    for i, (o, c) in enumerate(zip(outputs, cotangents)):
        if not isinstance(c, _Tensor):
            raise RuntimeError(f"vjp_fn: expected the cotangents to be Tensors, got {type(c)} at flattened index {i}")
        if tuple(c.shape) != tuple(o.shape):
            raise RuntimeError(f"vjp_fn: Mismatch in shape: grad_output[{i}] has a shape of {list(c.shape)} and "
                               f"output[{i}] has a shape of {list(o.shape)}.")


# ------------------------------------------------------------------------------------------------- grad

def _grad_and_value_impl(func, argnums, has_aux, args, kwargs):
    argnums = _normalize_argnums(argnums, len(args))
    outer = _is_grad_enabled()
    level = _Level()
    try:
        with _enable_grad():
            new_args, flat_in, spec = _prepare(args, argnums, level, outer)
            output = func(*new_args, **kwargs)
            aux = None
            if has_aux:
                if not (isinstance(output, tuple) and len(output) == 2):
                    raise RuntimeError("grad_and_value(f)(*args): output of function f should be a tuple: "
                                       "(output, aux) if has_aux is True")
                output, aux = output
            if not isinstance(output, _Tensor):
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a Tensor, got "
                                   f"{type(output)}")
            if output.dim() != 0:
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got "
                                   f"tensor with {output.dim()} dims. Maybe you wanted to use the vjp or jacrev APIs "
                                   f"instead?")
            keep = outer and _reaches_outer(output, level)
            gs = _grads_or_zeros([output], flat_in, [_C.full([], 1.0, output.dtype, output.device)], keep)
    finally:
        level.active = False
    grads = _tree_unflatten([_unwrap(g, level, outer) for g in gs], spec)
    output = _unwrap(output, level, outer)
    if has_aux:
        return grads, (output, _unwrap_tree(aux, level, outer, check_tensors=True))
    return grads, output


def grad_and_value(func, argnums=0, has_aux=False):
    """Returns a function computing (gradient of func w.r.t. args[argnums], func's value); with has_aux=True func
    returns (scalar output, aux) and the result is (gradient, (output, aux)). argnums: an int or a tuple of ints
    (the gradient is then a tuple with one entry per argument); an argument may be a pytree of tensors."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return _grad_and_value_impl(func, argnums, has_aux, args, kwargs)

    return wrapper


def grad(func, argnums=0, has_aux=False):
    """Returns a function computing the gradient of the scalar func w.r.t. args[argnums] (torch.func.grad): the
    gradient has the structure of args[argnums] (a tuple of them for a tuple argnums); with has_aux=True func
    returns (output, aux) and the result is (gradient, aux). Arguments are differentiated whether or not they
    require grad. Nests (grad(grad(f))) and composes with vmap and regular autograd."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = _grad_and_value_impl(func, argnums, has_aux, args, kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


# ------------------------------------------------------------------------------------------------- vjp / jvp

def _assert_non_empty_tensor_output(flat, api):
    if (len(flat) == 1 and flat[0] is None) or len(flat) < 1:
        raise RuntimeError(f"{api}: Expected f to be a function that has non-empty output (got output = {flat})")
    for o in flat:
        if not isinstance(o, _Tensor):
            raise RuntimeError(f"{api}: expected f(*primals) to return only tensors, got unsupported type {type(o)}")


def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn) or, with has_aux, (output, vjp_fn, aux) (torch.func.vjp). vjp_fn(cotangents), with
    cotangents of the output's structure, returns a tuple with one vector-Jacobian product per primal (each of that
    primal's structure); it can be called several times."""
    outer = _is_grad_enabled()
    level = _Level()
    try:
        with _enable_grad():
            flat_in, in_spec = _tree_flatten(primals)
            new_flat = [_make_differentiable(x, level, outer) for x in flat_in]
            out = func(*_tree_unflatten(new_flat, in_spec))
            aux = None
            if has_aux:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise RuntimeError("vjp(f, *primals): output of function f should be a tuple: (output, aux) "
                                       "if has_aux is True")
                out, aux = out
            flat_out, out_spec = _tree_flatten(out)
            _assert_non_empty_tensor_output(flat_out, "vjp(f, *primals)")
            for o in flat_out:
                if not o.dtype.is_floating_point:
                    raise RuntimeError(f"vjp(f, ...): All outputs of f must be floating-point or complex Tensors, "
                                       f"got Tensor with dtype {o.dtype}")
    finally:
        level.active = False
    results = _tree_unflatten([_unwrap(o, level, outer) for o in flat_out], out_spec)

    def vjp_fn(cotangents, retain_graph=True, create_graph=None):
        if create_graph is None:
            create_graph = _is_grad_enabled()
        flat_ct, ct_spec = _tree_flatten(cotangents)
        if ct_spec != out_spec:
            raise RuntimeError(f"Expected pytree structure of cotangents to be the same as pytree structure of "
                               f"outputs to the function. cotangents: {ct_spec}, primal output: {out_spec}")
        _check_grad_out_shapes(flat_out, flat_ct)
        keep = bool(create_graph) and (any(_reaches_outer(o, level) for o in flat_out)
                                       or any(_reaches_outer(c, level) for c in flat_ct))
        with _enable_grad():
            gs = _grads_or_zeros(flat_out, new_flat, flat_ct, keep, retain_graph=retain_graph)
        gs = [_unwrap(g, level, bool(create_graph)) for g in gs]
        return _tree_unflatten(gs, in_spec)

    if has_aux:
        return results, vjp_fn, _unwrap_tree(aux, level, outer, check_tensors=True)
    return results, vjp_fn


_JVP_STR = "jvp(f, primals, tangents)"


def _assert_non_empty_list_of_tensors(flat, api, argname):
    if len(flat) == 0:
        raise RuntimeError(f"{api}: Expected {argname} to contain at least one Tensor.")
    for x in flat:
        if not isinstance(x, _Tensor):
            raise RuntimeError(f"{api}: Expected {argname} to only contain Tensors, got {type(x)}")


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """(func(*primals), J @ tangents) or, with has_aux, (output, jvp_out, aux) (torch.func.jvp). primals is a tuple
    of arguments (pytrees of tensors), tangents a tuple of the same structure and shapes.

    Computed in reverse mode by the double-vjp trick (two backward passes, the second through the first: needs the
    ops' double backward), not with dual numbers; the values are forward mode's."""
    if not isinstance(primals, tuple):
        raise RuntimeError(f"{_JVP_STR}: Expected primals to be a tuple. E.g. it should be valid to call f(*primals).")
    flat_p, p_spec = _tree_flatten(primals)
    flat_t, t_spec = _tree_flatten(tangents)
    if p_spec != t_spec:
        raise RuntimeError(f"{_JVP_STR}: Expected primals and tangents to have the same python structure. For "
                           f"example, if primals is a tuple of 3 tensors, tangents also must be. Got primals with "
                           f"structure {p_spec} and tangents with structure {t_spec}")
    _assert_non_empty_list_of_tensors(flat_p, _JVP_STR, "primals")
    _assert_non_empty_list_of_tensors(flat_t, _JVP_STR, "tangents")
    for i, (p, t) in enumerate(zip(flat_p, flat_t)):
        if tuple(p.shape) != tuple(t.shape):
            raise RuntimeError(f"{_JVP_STR}: tangent {i} has shape {list(t.shape)} but its primal has shape "
                               f"{list(p.shape)}; they must match")
        if p.dtype != t.dtype:
            raise RuntimeError(f"{_JVP_STR}: tangent {i} has dtype {t.dtype} but its primal has dtype {p.dtype}; "
                               f"they must match")
        if p.device != t.device:
            raise RuntimeError(f"{_JVP_STR}: tangent {i} is on device {t.device} but its primal is on {p.device}; "
                               f"they must match")
    outer = _is_grad_enabled()
    level = _Level()
    try:
        with _enable_grad():
            new_flat = [_make_differentiable(x, level, outer) for x in flat_p]
            out = func(*_tree_unflatten(new_flat, p_spec))
            aux = None
            if has_aux:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise RuntimeError(f"{_JVP_STR}: output of function f should be a tuple: (output, aux) "
                                       f"if has_aux is True")
                out, aux = out
            flat_out, out_spec = _tree_flatten(out)
            _assert_non_empty_tensor_output(flat_out, _JVP_STR)
            tangents_out = _jvp_flat(flat_out, new_flat, flat_t, level, outer, strict)
    finally:
        level.active = False
    primals_out = _tree_unflatten([_unwrap(o, level, outer) for o in flat_out], out_spec)
    tangents_out = _tree_unflatten([_unwrap(t, level, outer) for t in tangents_out], out_spec)
    if has_aux:
        return primals_out, tangents_out, _unwrap_tree(aux, level, outer, check_tensors=True)
    return primals_out, tangents_out


def _jvp_flat(flat_out, inputs, tangents, level, outer, strict):
    """J @ tangents for each output, by the double-vjp trick (grad mode on)."""
    us = []
    for o in flat_out:
        if o.requires_grad:
            u = _zeros_like(o)
            u.requires_grad_(True)
            setattr(u, _LEVEL_ATTR, level)
            us.append(u)
        else:
            us.append(None)
    pairs = [(o, u) for o, u in zip(flat_out, us) if u is not None]
    res = [None] * len(flat_out)
    if pairs:
        gs = _autograd_grad([o for o, _ in pairs], list(inputs), [u for _, u in pairs], retain_graph=True,
                            create_graph=True, allow_unused=True)
        gt = [(g, t) for g, t in zip(gs, tangents) if g is not None and g.requires_grad]
        if gt:
            keep = outer and (any(_reaches_outer(o, level) for o in flat_out)
                              or any(_reaches_outer(t, level) for t in tangents))
            us_live = [u for u in us if u is not None]
            got = _autograd_grad([g for g, _ in gt], us_live, [t for _, t in gt], retain_graph=True,
                                 create_graph=keep, allow_unused=True)
            it = iter(got)
            res = [next(it) if u is not None else None for u in us]
    out = []
    for r, o in zip(res, flat_out):
        if r is None:
            if strict:
                raise RuntimeError("jvp(f, primals, tangents, strict=True): The output of f is independent of the "
                                   "inputs. This is not allowed with strict=True.")
            r = _zeros_like(o)
        out.append(r)
    return out


# ------------------------------------------------------------------------------------------------- jacobians

def _check_randomness(randomness):
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or 'same'. Got {randomness}")


def _rng_state():
    g = _C.default_generator()
    return (g.seed, g.offset)


def _set_rng_state(state):
    g = _C.default_generator()
    g.seed, g.offset = state


_RANDOM_ERROR = ("vmap: called random operation while in randomness error mode. Please either use the 'same' or "
                 "'different' randomness flags on vmap or perform the randomness operation out of vmap")


def _jacobian_impl(func, argnums, has_aux, args, api, randomness=None):
    vjp_api = "vjp(f, *primals)" if api == "jacrev" else _JVP_STR
    argnums = _normalize_argnums(argnums, len(args))
    outer = _is_grad_enabled()
    level = _Level()
    from ._ops import reshape
    from ._indexing import stack
    from ._creation import eye
    try:
        with _enable_grad():
            new_args, flat_in, in_spec = _prepare(args, argnums, level, outer)
            rng0 = _rng_state() if randomness == "error" else None
            out = func(*new_args)
            if rng0 is not None and _rng_state() != rng0:
                raise RuntimeError(_RANDOM_ERROR)
            aux = None
            if has_aux:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise RuntimeError(f"{vjp_api}: output of function f should be a tuple: (output, aux) "
                                       f"if has_aux is True")
                out, aux = out
            flat_out, out_spec = _tree_flatten(out)
            _assert_non_empty_tensor_output(flat_out, vjp_api)
            for o in flat_out:
                if api == "jacrev" and not (o.dtype.is_floating_point or o.dtype.is_complex):
                    raise RuntimeError(f"vjp(f, ...): All outputs of f must be floating-point or complex Tensors, "
                                       f"got Tensor with dtype {o.dtype}")
            per_out = []
            for o in flat_out:
                oshape = list(o.shape)
                n = o.numel()
                jacs = None
                if o.requires_grad and n > 0:
                    keep = outer and _reaches_outer(o, level)
                    basis = eye(n, dtype=o.dtype, device=o.device)
                    rows = [[] for _ in flat_in]
                    for k in range(n):
                        e = reshape(basis.select(0, k), oshape)
                        gs = _grads_or_zeros([o], flat_in, [e], keep)
                        for i, g in enumerate(gs):
                            rows[i].append(g)
                    jacs = [reshape(stack(r, 0), oshape + list(x.shape)) for r, x in zip(rows, flat_in)]
                else:
                    jacs = [_C.zeros(oshape + list(x.shape), x.dtype, x.device) for x in flat_in]
                if api != "jacrev":
                    # forward mode: a Jacobian is a tangent of the output, so it has the output's dtype
                    jacs = [j if j.dtype == o.dtype else j.to(o.dtype) for j in jacs]
                per_out.append(jacs)
    finally:
        level.active = False
    per_out = [_tree_unflatten([_unwrap(j, level, outer) for j in jacs], in_spec) for jacs in per_out]
    result = _tree_unflatten(per_out, out_spec)
    if has_aux:
        return result, _unwrap_tree(aux, level, outer, check_tensors=True)
    return result


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None, _preallocate_and_copy=False):
    """Returns a function computing the Jacobian of func w.r.t. args[argnums] in reverse mode (torch.func.jacrev):
    for an output leaf of shape O and an input leaf of shape I a tensor of shape O + I; the result has the output's
    structure, each leaf replaced by the input's structure (a tuple of them for a tuple argnums). One
    vector-Jacobian product per output element (chunk_size only validated)."""
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")

    @functools.wraps(func)
    def wrapper_fn(*args):
        return _jacobian_impl(func, argnums, has_aux, args, "jacrev")

    return wrapper_fn


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """Returns a function computing the Jacobian of func w.r.t. args[argnums] (torch.func.jacfwd's signature, result
    structure and values). NOTE: computed in reverse mode, exactly like jacrev (one vector-Jacobian product per
    output element), not by forward-mode dual numbers: same values, reverse mode's cost profile. randomness='error'
    raises if func draws from the default random generator, as torch does."""

    @functools.wraps(func)
    def wrapper_fn(*args):
        _check_randomness(randomness)  # at the call, as torch (its inner vmap checks it)
        return _jacobian_impl(func, argnums, has_aux, args, "jacfwd", randomness)

    return wrapper_fn


def hessian(func, argnums=0):
    """Returns a function computing the Hessian of the scalar func w.r.t. args[argnums]: jacfwd(jacrev(func,
    argnums), argnums), as torch.func.hessian (both levels in reverse mode here, see jacfwd)."""
    return jacfwd(jacrev(func, argnums), argnums)


# ------------------------------------------------------------------------------------------------- vmap

def _check_out_dims(out_dims, func):
    leaves, _ = _tree_flatten(out_dims)
    for x in leaves:
        if x is None or (isinstance(x, int) and not isinstance(x, bool)):
            continue
        raise ValueError(f"vmap({_get_name(func)}, ..., out_dims={out_dims}): `out_dims` must be an int, None or a "
                         f"python collection of ints representing where in the outputs the vmapped dimension should "
                         f"appear.")


def _process_in_dims(func, in_dims, args):
    name = _get_name(func)
    if not (isinstance(in_dims, int) or isinstance(in_dims, tuple)):
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): expected `in_dims` to be int or a "
                         f"(potentially nested) tuple matching the structure of inputs, got: {type(in_dims)}.")
    if len(args) == 0:
        raise ValueError(f"vmap({name})(<inputs>): got no inputs. Maybe you forgot to add inputs, or you are trying "
                         f"to vmap over a function with no inputs. The latter is unsupported.")
    flat_args, args_spec = _tree_flatten(args)
    flat_in_dims = _broadcast_to_and_flatten(in_dims, args_spec)
    if flat_in_dims is None:
        _, in_spec = _tree_flatten(in_dims)
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible with the "
                         f"structure of `inputs`. in_dims has structure {in_spec} but inputs has structure "
                         f"{args_spec}.")
    for i, (arg, d) in enumerate(zip(flat_args, flat_in_dims)):
        if d is not None and (not isinstance(d, int) or isinstance(d, bool)):
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} for an input but "
                             f"in_dim must be either an integer dimension or None.")
        if d is not None and not isinstance(arg, _Tensor):
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} for an input but the "
                             f"input is of type {type(arg)}. We cannot vmap over non-Tensor arguments, please use "
                             f"None as the respective in_dim")
        if d is not None:
            nd = arg.dim()
            if d < -nd or d >= nd:
                raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} for some input, "
                                 f"but that input is a Tensor of dimensionality {nd} so expected in_dim to satisfy "
                                 f"-{nd} <= in_dim < {nd}.")
            flat_in_dims[i] = d % nd
    sizes = [arg.shape[d] for arg, d in zip(flat_args, flat_in_dims) if d is not None]
    if not sizes:
        raise ValueError("vmap: Expected at least one Tensor to vmap over")
    if any(s != sizes[0] for s in sizes):
        raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
                         f"{sizes} for the mapped dimension")
    return sizes[0], flat_in_dims, flat_args, args_spec


def _flat_out_dims(func, out_dims, output, out_spec):
    def incompatible():
        _, od_spec = _tree_flatten(out_dims)
        raise ValueError(f"vmap({_get_name(func)}, ..., out_dims={out_dims})(<inputs>): out_dims is not compatible "
                         f"with the structure of `outputs`. out_dims has structure {od_spec} but outputs has "
                         f"structure {out_spec}.")

    if isinstance(output, _Tensor):
        if isinstance(out_dims, int) or out_dims is None:
            return [out_dims]
        if isinstance(out_dims, tuple) and len(out_dims) == 1:
            return list(out_dims)
        incompatible()
    r = _broadcast_to_and_flatten(out_dims, out_spec)
    if r is None:
        incompatible()
    return r


def _same_value(a, b):
    if isinstance(a, _Tensor) and isinstance(b, _Tensor):
        if tuple(a.shape) != tuple(b.shape) or a.dtype != b.dtype:
            return False
        a, b = a.detach(), b.detach()
        if a.dtype.is_floating_point or a.dtype.is_complex:
            # NaN-aware: a slice-independent NaN output is the same value in every slice
            return bool(((a == b) | (a.isnan() & b.isnan())).all())
        from ._ops import equal
        return bool(equal(a, b))
    if isinstance(a, _Tensor) or isinstance(b, _Tensor):
        return False
    try:
        return bool(a == b)
    except Exception:
        return a is b


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """Returns a function mapping func over a dimension of its inputs (torch.func.vmap's signature, in_dims/out_dims
    semantics and errors).

    NOTE: implemented as a LOOP over the mapped dimension: each slice of the mapped inputs goes through func, and
    the results are stacked along out_dims. The results are those of torch's vmap (and it composes with grad, vjp,
    jacrev... e.g. per-sample gradients vmap(grad(loss), in_dims=(None, 0, 0))), but it is not batched: it costs one
    call of func per slice. Consequences of the loop:
      * an output with out_dim None must be the same in every slice (checked: otherwise the torch error for
        returning a batched tensor is raised);
      * randomness='error' raises when func draws from the default generator; 'same' replays the generator state
        for every slice; 'different' lets the slices draw independently;
      * chunk_size is validated and otherwise ignored (no memory benefit to chunking a loop);
      * for a mapped dimension of size 0, func runs once on zero-filled slices to learn the outputs' shapes.

    in_dims: an int (every positional argument mapped over that dim), None (not mapped) or a tuple with one entry
    per positional argument, each an int/None or a pytree prefix of that argument. Keyword arguments are not mapped.
    """
    _check_randomness(randomness)
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        _check_out_dims(out_dims, func)
        batch, flat_in_dims, flat_args, args_spec = _process_in_dims(func, in_dims, args)
        name = _get_name(func)
        outs = []
        spec0 = None
        rng0 = _rng_state()
        n_calls = batch if batch > 0 else 1
        # an unmapped tensor is shared by every slice: an in-place write to it would be a batched result written
        # into an unbatched tensor (torch raises); the loop would instead accumulate the slices into it silently
        unmapped = [(a, a._version) for a, d in zip(flat_args, flat_in_dims)
                    if d is None and isinstance(a, _Tensor)]
        for b in range(n_calls):
            if randomness == "same" or batch == 0:
                _set_rng_state(rng0)
            before = _rng_state()
            sliced = []
            for arg, d in zip(flat_args, flat_in_dims):
                if d is None:
                    sliced.append(arg)
                elif batch > 0:
                    sliced.append(arg.select(d, b))
                else:
                    shape = list(arg.shape)
                    del shape[d]
                    sliced.append(_C.zeros(shape, arg.dtype, arg.device))
            out = func(*_tree_unflatten(sliced, args_spec), **kwargs)
            if randomness == "error" and _rng_state() != before:
                raise RuntimeError(_RANDOM_ERROR)
            if batch > 0:
                for a, v in unmapped:
                    if a._version != v:
                        raise RuntimeError(
                            f"vmap({name}, ...): vmap: {name} wrote in place into an input that is not mapped "
                            f"(in_dim None, shape {list(a.shape)}); the result would be batched but the tensor is "
                            f"not. Map that input too, or clone it before writing to it")
            flat_out, spec = _tree_flatten(out)
            if spec0 is None:
                spec0 = spec
                first = out
            elif spec != spec0:
                raise ValueError(f"vmap({name}, ...): `{name}` returned outputs of different structures for "
                                 f"different slices ({spec0} and {spec}); they must be the same")
            outs.append(flat_out)
        if batch == 0:
            _set_rng_state(rng0)
        flat_od = _flat_out_dims(func, out_dims, first, spec0)
        from ._indexing import stack
        results = []
        for j, od in enumerate(flat_od):
            vals = [o[j] for o in outs]
            if od is None:
                if batch > 0 and any(not _same_value(vals[0], v) for v in vals[1:]):
                    raise ValueError(f"vmap({name}, ...): `{name}` can not return a BatchedTensor when out_dim is "
                                     f"None")
                results.append(vals[0])
                continue
            if not isinstance(vals[0], _Tensor):
                raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type {type(vals[0])}. "
                                 f"Did you mean to set out_dims= to None for output?")
            nd = vals[0].dim() + 1
            if od < -nd or od >= nd:
                raise IndexError(f"vmap({name}, ..., out_dims={out_dims}): Dimension out of range (expected to be "
                                 f"in range of [{-nd}, {nd - 1}], but got {od})")
            od = od % nd
            if batch == 0:
                shape = list(vals[0].shape)
                shape.insert(od, 0)
                results.append(_C.zeros(shape, vals[0].dtype, vals[0].device))
            else:
                results.append(stack(vals, od))
        return _tree_unflatten(results, spec0)

    return wrapped


# ------------------------------------------------------------------------------------------------- functional_call

_MISSING = object()


def _named_tensors(module):
    """name -> tensor for every parameter and buffer, tied ones under each of their names."""
    out = {}
    for prefix, mod in module.named_modules(remove_duplicate=False):
        for store in ("_parameters", "_buffers"):
            for k, v in mod.__dict__[store].items():
                if v is not None:
                    out[f"{prefix}.{k}" if prefix else k] = v
    return out


def _untie(module, params):
    by_id = {}
    for name, t in _named_tensors(module).items():
        by_id.setdefault(id(t), set()).add(name)
    tied = {}
    for names in by_id.values():
        if len(names) > 1:
            for n in names:
                tied[n] = names
    given_tied = [n for n in params if n in tied]
    for n in given_tied:
        names = tied[n]
        given = [m for m in names if m in params]
        if len(given) > 1 and len({id(params[m]) for m in given}) != 1:
            raise ValueError(f"functional_call got multiple values for keys {sorted(names)}, which are tied. "
                             f"Consider using tie_weights=False")
    out = dict(params)
    for n in given_tied:
        for m in tied[n]:
            out[m] = params[n]
    return out


def _resolve(module, name):
    if name == "":
        raise KeyError('functional_call: tensor name must not be ""')
    *path, attr = name.split(".")
    mod = module
    for i, p in enumerate(path):
        sub = mod.__dict__.get("_modules", {}).get(p, _MISSING)
        if sub is _MISSING or sub is None:
            raise AttributeError(f"functional_call: {mod._get_name()} has no attribute `{p}` (resolving "
                                 f"{'.'.join(path[:i + 1])!r} for key {name!r})")
        mod = sub
    if attr in mod.__dict__.get("_modules", {}):
        raise TypeError(f"functional_call: cannot assign a Tensor as child module {name!r} (key {name!r} names a "
                        f"submodule, not a parameter or buffer)")
    return mod, attr


def _swap(mod, attr, value):
    """Puts value as mod's parameter/buffer/attribute `attr` (_MISSING: removes it); returns what was there."""
    d = mod.__dict__
    for store in ("_parameters", "_buffers"):
        s = d[store]
        if attr in s:
            old = s[attr]
            s[attr] = value
            d[attr] = value
            return old
    old = d.get(attr, _MISSING)
    if value is _MISSING:
        d.pop(attr, None)
    else:
        d[attr] = value
    return old


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True, strict=False):
    """Calls module(*args, **kwargs) with its parameters and buffers replaced by the given tensors (keys: dotted
    names as in named_parameters()/named_buffers()), restoring the module's own afterwards, also when the call
    raises (torch.func.functional_call). Several dicts may be given (a list/tuple; a key may appear in only one).
    tie_weights=True: a tensor given for one of several tied names (one Parameter registered twice) replaces it
    under all of them. strict=True: every parameter and buffer must be given, and nothing else. Keys that are not
    parameters or buffers are set as plain attributes for the call. In-place updates during the call (BatchNorm's
    running statistics in training mode) go to the given tensors."""
    from .nn.module import Module
    if not isinstance(module, Module):
        raise TypeError(f"functional_call: expected a dlcore.nn.Module, got {type(module)}")
    if isinstance(parameter_and_buffer_dicts, dict):
        params = parameter_and_buffer_dicts
    elif isinstance(parameter_and_buffer_dicts, (list, tuple)):
        if not all(isinstance(d, dict) for d in parameter_and_buffer_dicts):
            raise ValueError("Expected all elements of parameter_and_buffer_dicts to be dictionaries")
        counts = {}
        for d in parameter_and_buffer_dicts:
            for k in d:
                counts[k] = counts.get(k, 0) + 1
        repeated = [k for k, n in counts.items() if n > 1]
        if repeated:
            raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of functional call is ambiguous")
        params = {k: v for d in parameter_and_buffer_dicts for k, v in d.items()}
    else:
        raise ValueError(f"Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of dicts, but got "
                         f"{type(parameter_and_buffer_dicts)}")
    for k, v in params.items():
        if not isinstance(v, _Tensor):
            raise TypeError(f"functional_call: the value for key {k!r} is a {type(v).__name__}, expected a Tensor")
    if kwargs is None:
        kwargs = {}
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    untied = _untie(module, params) if tie_weights else dict(params)
    if strict:
        own = _named_tensors(module)
        missing = [k for k in own if k not in untied]
        unexpected = [k for k in untied if k not in own]
        msgs = []
        if unexpected:
            msgs.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
        if missing:
            msgs.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
        if msgs:
            raise RuntimeError("Error(s) in reparametrizing for {}:\n\t{}".format(module._get_name(),
                                                                                 "\n\t".join(msgs)))
    targets = [(k, *_resolve(module, k)) for k in untied]  # resolve every path before changing anything
    saved = []
    try:
        for k, mod, attr in targets:
            saved.append((k, mod, attr, _swap(mod, attr, untied[k])))
        return module(*args, **kwargs)
    finally:
        current = {}
        for k, mod, attr, old in reversed(saved):
            current[k] = _swap(mod, attr, old)
        # a module that reassigned a parameter/buffer during the call: the given dict sees the new tensor (torch)
        for k in list(params.keys()):
            if k in current and current[k] is not _MISSING and current[k] is not params[k]:
                if isinstance(parameter_and_buffer_dicts, dict):
                    parameter_and_buffer_dicts[k] = current[k]


def stack_module_state(models):
    """(params, buffers): each model's parameters and buffers stacked along a new leading dimension, by name
    (torch.func.stack_module_state), for vmap over functional_call (model ensembling). Stacked parameters are new
    leaves that require grad when the models' do."""
    from ._indexing import stack
    models = list(models)
    if len(models) == 0:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not (all(m.training for m in models) or all(not m.training for m in models)):
        raise RuntimeError("stack_module_state: Expected all models to have the same training/eval mode.")
    if not all(type(m) is type(models[0]) for m in models):
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")

    def leaf(tensors, name):
        rg = [t.requires_grad for t in tensors]
        if any(rg) and not all(rg):
            raise RuntimeError(f"Expected {name} from each model to have the same .requires_grad")
        with _no_grad():
            r = stack(list(tensors), 0)
        if all(rg):
            r = r.detach()
            r.requires_grad_(True)
        return r

    all_params = [dict(m.named_parameters()) for m in models]
    all_buffers = [dict(m.named_buffers()) for m in models]
    params = {k: leaf([p[k] for p in all_params], k) for k in all_params[0]}
    buffers = {k: leaf([b[k] for b in all_buffers], k) for k in all_buffers[0]}
    return params, buffers
