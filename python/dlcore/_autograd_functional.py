"""dlcore.autograd.functional: vjp, jvp, jacobian, hessian, vhp, hvp with torch.autograd.functional's signatures.

All are built on reverse mode (autograd.grad): jacobian takes one vector-Jacobian product per output element;
jvp uses the double-vjp trick (the vjp is linear in its vector, so differentiating <vjp(u), v> in u gives J v),
hence needs the ops' double backward (create_graph), like hessian/vhp/hvp. With create_graph=False the results
carry no graph; with create_graph=True they can be differentiated again. strict=True raises when an output does
not depend on an input (where torch raises too); vectorize and strategy are accepted for compatibility (only
reverse mode, one row at a time).
"""
from __future__ import annotations

from . import _C
from .autograd import grad as _grad, enable_grad as _enable_grad

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]

_Tensor = _C.Tensor


def _as_tuple(x, arg, fn):
    if isinstance(x, _Tensor):
        return (x,), False
    if isinstance(x, (tuple, list)) and all(isinstance(t, _Tensor) for t in x):
        return tuple(x), True
    raise TypeError(f"{fn}: the {arg} must be a Tensor or a tuple of Tensors, got {type(x).__name__}")


def _prepare_inputs(inputs, create_graph):
    # Fresh leaves (torch detaches unless create_graph, when the caller's graph is kept).
    out = []
    for t in inputs:
        if create_graph and t.requires_grad:
            out.append(t.view_as(t))
        else:
            d = t.detach()
            d.requires_grad_(True)
            out.append(d)
    return tuple(out)


def _check_v(v, refs, fn, what):
    if v is None:
        if len(refs) != 1 or refs[0].numel() != 1:
            raise RuntimeError(f"{fn}: the vector v can only be None if the {what} is a single Tensor with a "
                               f"single element")
        return (_C.full(list(refs[0].shape), 1.0, refs[0].dtype, refs[0].device),)
    v, _ = _as_tuple(v, "v", fn)
    if len(v) != len(refs):
        raise RuntimeError(f"{fn}: v has {len(v)} tensors but the {what} has {len(refs)}")
    for a, b in zip(v, refs):
        if tuple(a.shape) != tuple(b.shape):
            raise RuntimeError(f"{fn}: mismatch in shape: v has a tensor of shape {list(a.shape)} where the {what} "
                               f"has shape {list(b.shape)}")
    return tuple(v)


def _grads(outputs, inputs, grad_outputs, create_graph, strict, fn, zeros_for_unused=True):
    outs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not outs:
        gs = (None,) * len(inputs)
    else:
        gs = _grad([o for o, _ in outs], list(inputs), [g for _, g in outs], create_graph=create_graph,
                   retain_graph=True, allow_unused=True)
    res = []
    for i, (g, x) in enumerate(zip(gs, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(f"{fn}: the output of the user-provided function is independent of input {i}; "
                                   f"this is not allowed in strict mode")
            g = _C.zeros(list(x.shape), x.dtype, x.device) if zeros_for_unused else None
        elif not create_graph:
            g = g.detach()
        res.append(g)
    return tuple(res)


def _fix_outputs(outputs, create_graph):
    return tuple(o if create_graph else o.detach() for o in outputs)


def _call(func, inputs, fn):
    with _enable_grad():
        out = func(*inputs)
    outs, is_tuple = _as_tuple(out, "output of the user-provided function", fn)
    return outs, is_tuple


def _second(gs, vs, targets, create_graph, strict, fn, what):
    """The gradients of <gs, vs> (gs recorded first gradients) with respect to targets: zeros (or an error in
    strict mode) where independent, detached unless create_graph."""
    pairs = [(g, vv) for g, vv in zip(gs, vs) if g is not None and g.requires_grad]
    if pairs:
        got = _grad([g for g, _ in pairs], list(targets), [vv for _, vv in pairs], create_graph=create_graph,
                    retain_graph=True, allow_unused=True)
    else:
        got = (None,) * len(targets)
    res = []
    for i, (r, t) in enumerate(zip(got, targets)):
        if r is None:
            if strict:
                raise RuntimeError(f"{fn}: {what} {i} is independent of the inputs' gradients; this is not allowed "
                                   f"in strict mode")
            r = _C.zeros(list(t.shape), t.dtype, t.device)
        elif not create_graph:
            r = r.detach()
        res.append(r)
    return res


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product at inputs."""
    inputs, in_tuple = _as_tuple(inputs, "inputs", "vjp")
    xs = _prepare_inputs(inputs, create_graph)
    outs, out_tuple = _call(func, xs, "vjp")
    v = _check_v(v, outs, "vjp", "output of the user-provided function")
    g = _grads(outs, xs, v, create_graph, strict, "vjp")
    outs = _fix_outputs(outs, create_graph)
    return (outs if out_tuple else outs[0]), (g if in_tuple else g[0])


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product, by the double-vjp trick."""
    inputs, in_tuple = _as_tuple(inputs, "inputs", "jvp")
    xs = _prepare_inputs(inputs, create_graph)
    v = _check_v(v, xs, "jvp", "input")
    outs, out_tuple = _call(func, xs, "jvp")
    # u -> u^T J is linear; its gradient in u at any u is J v
    us = []
    for o in outs:
        u = _C.zeros(list(o.shape), o.dtype, o.device)
        u.requires_grad_(True)
        us.append(u)
    with _enable_grad():
        gs = _grads(outs, xs, us, True, strict, "jvp", zeros_for_unused=False)
        res = _second(gs, v, us, create_graph, strict, "jvp", "output")
    outs = _fix_outputs(outs, create_graph)
    return (outs if out_tuple else outs[0]), (tuple(res) if out_tuple else res[0])


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of func at inputs: for one output and one input a tensor of shape output.shape + input.shape;
    a tuple (per output) of tuples (per input) in general, as torch."""
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(f"jacobian: strategy must be 'reverse-mode' or 'forward-mode', got {strategy!r}")
    inputs, in_tuple = _as_tuple(inputs, "inputs", "jacobian")
    xs = _prepare_inputs(inputs, create_graph)
    outs, out_tuple = _call(func, xs, "jacobian")
    from . import _ops
    from ._indexing import stack
    jac = []
    for o in outs:
        rows = [[] for _ in xs]
        n = o.numel()
        for k in range(n):
            e = _C.zeros([n], o.dtype, o.device)
            _C.fill_(_C.slice(e, 0, k, k + 1, 1), 1.0)
            if o.requires_grad:
                with _enable_grad():
                    gs = _grad([o], list(xs), [_C.reshape(e, list(o.shape))], create_graph=create_graph,
                               retain_graph=True, allow_unused=True)
            else:
                gs = (None,) * len(xs)
            for i, (g, x) in enumerate(zip(gs, xs)):
                if g is None:
                    if strict:
                        raise RuntimeError(f"jacobian: output {len(jac)} of the user-provided function is "
                                           f"independent of input {i}; this is not allowed in strict mode")
                    g = _C.zeros(list(x.shape), x.dtype, x.device)
                elif not create_graph:
                    g = g.detach()
                rows[i].append(g)
        per_in = []
        for i, x in enumerate(xs):
            if n == 0:
                j = _C.zeros(list(o.shape) + list(x.shape), x.dtype, x.device)
            else:
                j = _ops.reshape(stack(rows[i], 0), list(o.shape) + list(x.shape))
            per_in.append(j)
        jac.append(tuple(per_in) if in_tuple else per_in[0])
    return tuple(jac) if out_tuple else jac[0]


def _scalar_func(func, fn):
    def f(*xs):
        out = func(*xs)
        outs, is_tuple = _as_tuple(out, "output of the user-provided function", fn)
        if is_tuple and len(outs) != 1:
            raise RuntimeError(f"{fn}: the function given to {fn} should return a single Tensor")
        o = outs[0]
        if o.numel() != 1:
            raise RuntimeError(f"{fn}: the Tensor returned by the function given to {fn} should contain a single "
                               f"element (got shape {list(o.shape)})")
        return o
    return f


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar func at inputs: shape input.shape + input.shape for one input; a tuple of tuples
    (block [i][j] of shape inputs[i].shape + inputs[j].shape) for several."""
    inputs_t, in_tuple = _as_tuple(inputs, "inputs", "hessian")
    f = _scalar_func(func, "hessian")

    def grad_fn(*xs):
        with _enable_grad():
            out = f(*xs)
            return _grads((out,), xs, (_C.full(list(out.shape), 1.0, out.dtype, out.device),), True, strict, "hessian")

    res = jacobian(grad_fn, inputs_t, create_graph=create_graph, strict=strict)
    if not in_tuple:
        return res[0][0]
    return res


def _hv(func, inputs, v, create_graph, strict, fn, transpose):
    inputs, in_tuple = _as_tuple(inputs, "inputs", fn)
    xs = _prepare_inputs(inputs, create_graph)
    v = _check_v(v, xs, fn, "input")
    f = _scalar_func(func, fn)
    with _enable_grad():
        out = f(*xs)
        gs = _grads((out,), xs, (_C.full(list(out.shape), 1.0, out.dtype, out.device),), True, strict, fn,
                    zeros_for_unused=False)
        res = _second(gs, v, xs, create_graph, strict, fn, "input")
    out = out if create_graph else out.detach()
    return out, (tuple(res) if in_tuple else res[0])


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H) for a scalar func."""
    return _hv(func, inputs, v, create_graph, strict, "vhp", True)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v) for a scalar func (H is symmetric for twice continuously differentiable functions, so
    this equals vhp; computed the same way)."""
    return _hv(func, inputs, v, create_graph, strict, "hvp", False)
