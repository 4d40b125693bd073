"""Test helpers: assert_close with dtype-scaled tolerances and informative failures, and a float64
finite-difference gradient checker."""
from __future__ import annotations

import numpy as np

from . import _C

_DEFAULT_TOL = {  # (rtol, atol) by dtype name
    "float16": (1e-3, 1e-5),
    "bfloat16": (1.6e-2, 1e-5),
    "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7),
}


def _to_numpy(x):
    if isinstance(x, _C.Tensor):
        t = _C.to(x, None, "cpu", False)
        if t.dtype == _C.dtype.bfloat16:
            t = _C.to(t, _C.dtype.float32, None, False)
        return np.asarray(t.numpy(force=True) if hasattr(t, "numpy") else t)
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor
        return x.detach().cpu().numpy()
    return np.asarray(x)


def assert_close(actual, expected, rtol=None, atol=None, equal_nan=True, msg="", check_dtype=False):
    """|actual - expected| <= atol + rtol * |expected| elementwise; on failure, show the worst mismatches."""
    a = _to_numpy(actual)
    e = _to_numpy(expected)
    if check_dtype and isinstance(actual, _C.Tensor) and isinstance(expected, _C.Tensor):
        assert actual.dtype == expected.dtype, f"{msg} dtype {actual.dtype} != {expected.dtype}"
    if rtol is None or atol is None:
        name = actual.dtype.name if isinstance(actual, _C.Tensor) else str(a.dtype)
        r, t = _DEFAULT_TOL.get(name, (0.0, 0.0))
        rtol = r if rtol is None else rtol
        atol = t if atol is None else atol
    assert a.shape == e.shape, f"{msg} shape mismatch: actual {a.shape} vs expected {e.shape}"
    if a.size == 0:
        return
    if a.dtype == np.bool_ or e.dtype == np.bool_ or (np.issubdtype(a.dtype, np.integer)
                                                      and np.issubdtype(e.dtype, np.integer)):
        bad = a != e
    else:
        af = a.astype(np.float64)
        ef = e.astype(np.float64)
        with np.errstate(invalid="ignore"):
            diff = np.abs(af - ef)
            bad = ~(diff <= atol + rtol * np.abs(ef))
        if equal_nan:
            bad &= ~(np.isnan(af) & np.isnan(ef))
        bad &= ~((af == ef) & np.isinf(af))
    if bad.any():
        idx = np.argwhere(bad)
        n = len(idx)
        lines = [f"{msg} {n} of {a.size} elements differ (rtol={rtol}, atol={atol}); first mismatches:"]
        for i in idx[:8]:
            i = tuple(i)
            lines.append(f"  at {list(i)}: actual {a[i]!r}, expected {e[i]!r}")
        raise AssertionError("\n".join(lines))


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4, out_grad=None):
    """Compares the autograd gradient of sum(fn(*inputs) * w) (w random, fixed) with central differences.

    inputs: float64 tensors; those with requires_grad=True are checked. Returns True or raises AssertionError
    naming the input and the worst elements.
    """
    from . import autograd
    inputs = list(inputs)
    out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    rng = np.random.default_rng(1234)
    weights = [rng.standard_normal(o.shape) if out_grad is None else out_grad for o in outs]

    def scalar(*args):
        with autograd.no_grad():
            r = fn(*args)
        rs = r if isinstance(r, (tuple, list)) else (r,)
        return float(sum((_to_numpy(o).astype(np.float64) * w).sum() for o, w in zip(rs, weights)))

    for x in inputs:
        if isinstance(x, _C.Tensor) and x.requires_grad:
            x.grad = None
    # output gradients and perturbed inputs live on the device of the tensor they stand for (cpu or cuda)
    gouts = [_C.to(_C.from_numpy(np.array(w, dtype=_to_numpy(o).dtype, order="C")), None, o.device, False)
             for o, w in zip(outs, weights)]
    autograd.backward([o for o in outs], gouts)
    for k, x in enumerate(inputs):
        if not (isinstance(x, _C.Tensor) and x.requires_grad):
            continue
        assert x.dtype == _C.dtype.float64, "gradcheck needs float64 inputs"
        analytic = _to_numpy(x.grad) if x.grad is not None else np.zeros(x.shape)
        numeric = np.zeros(x.shape, dtype=np.float64)
        base = _to_numpy(x).copy()
        flat = numeric.reshape(-1)
        for i in range(base.size):
            for sgn in (+1, -1):
                pert = base.copy().reshape(-1)
                pert[i] += sgn * eps
                xp = _C.to(_C.from_numpy(pert.reshape(base.shape)), None, x.device, False)
                args = list(inputs)
                args[k] = xp
                flat[i] += sgn * scalar(*args)
            flat[i] /= 2 * eps
        try:
            assert_close(analytic, numeric, rtol=rtol, atol=atol, msg=f"gradcheck: input {k}:")
        except AssertionError as e:
            raise AssertionError(f"{e}\nanalytic:\n{analytic}\nnumeric:\n{numeric}") from None
    return True


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4):
    """Checks second derivatives: the gradient of <w, fn(*inputs)> (w random, fixed), taken with create_graph=True,
    is itself gradchecked against central differences, for the inputs with requires_grad=True (float64)."""
    from . import autograd
    inputs = list(inputs)
    want = [isinstance(x, _C.Tensor) and x.requires_grad for x in inputs]
    with autograd.no_grad():
        out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    rng = np.random.default_rng(4321)
    weights = [_C.to(_C.from_numpy(np.array(rng.standard_normal(o.shape), dtype=_to_numpy(o).dtype, order="C")),
                     None, o.device, False) for o in outs]

    def first(*args):
        with autograd.enable_grad():
            xs = []
            for a, w in zip(args, want):
                if w and not a.requires_grad:  # a perturbed copy made by gradcheck: a fresh leaf
                    a = a.detach()
                    a.requires_grad_(True)
                xs.append(a)
            r = fn(*xs)
            rs = r if isinstance(r, (tuple, list)) else (r,)
            from . import _ops
            s = None
            for o, w in zip(rs, weights):
                t = _ops.sum(_ops.mul(o, w))
                s = t if s is None else _ops.add(s, t)
            req = [x for x, w in zip(xs, want) if w]
            return autograd.grad(s, req, create_graph=True, allow_unused=True, materialize_grads=True)

    return gradcheck(first, inputs, eps=eps, atol=atol, rtol=rtol)
