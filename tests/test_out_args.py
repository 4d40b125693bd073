"""out= on the functions whose kernels allocate their result (linalg, matmul and friends, dlcore/_out.py): the
result written into the given tensor(s), returned, resized from any shape (warning when it had elements), tuples
kept as their named-tuple type, dtype mismatch and autograd refused as in torch; and a source audit that no public
function accepts ``out`` and ignores it (47 did: ``dlcore.linalg.inv(A, out=B)`` returned a new tensor and left B
untouched)."""
import ast
import pathlib
import warnings

import numpy as np
import pytest

import dlcore
from conftest import DEVICES, requires_torch

PKG = pathlib.Path(dlcore.__file__).parent
# functions that raise unconditionally (torch's removed spellings): out= has nothing to write
RAISING = {("_torch_extra2.py", "lstsq"), ("_torch_extra2.py", "matrix_rank"), ("_torch_extra2.py", "solve")}


def test_no_function_ignores_out():
    bad = []
    for f in sorted(PKG.rglob("*.py")):
        tree = ast.parse(f.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            if "out" not in [a.arg for a in node.args.args + node.args.kwonlyargs]:
                continue
            used = any(isinstance(n, ast.Name) and n.id == "out" and isinstance(n.ctx, ast.Load)
                       for n in ast.walk(node))
            wrapped = any(isinstance(d, ast.Name) and d.id == "_with_out" for d in node.decorator_list)
            if not (used or wrapped or (f.name, node.name) in RAISING):
                bad.append(f"{f.name}:{node.lineno} {node.name}")
    assert not bad, "functions that accept out= and ignore it: " + ", ".join(bad)


def _spd(rng, n=4, batch=()):
    a = rng.standard_normal(batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def _cases(rng):
    A = _spd(rng)
    B = rng.standard_normal((4, 3))
    L = np.linalg.cholesky(A)
    M = rng.standard_normal((4, 4))
    v = rng.standard_normal(4)
    t = dlcore.tensor
    return [
        ("matmul", dlcore.matmul, (t(M), t(B))),
        ("mm", dlcore.mm, (t(M), t(M))),
        ("bmm", dlcore.bmm, (t(M[None]), t(B[None]))),
        ("mv", dlcore.mv, (t(M), t(v))),
        ("dot", dlcore.dot, (t(v), t(v))),
        ("addmm", dlcore.addmm, (t(B), t(M), t(B))),
        ("linalg.matmul", dlcore.linalg.matmul, (t(M), t(B))),
        ("linalg.inv", dlcore.linalg.inv, (t(A),)),
        ("linalg.det", dlcore.linalg.det, (t(A),)),
        ("linalg.solve", dlcore.linalg.solve, (t(A), t(B))),
        ("linalg.cholesky", dlcore.linalg.cholesky, (t(A),)),
        ("linalg.solve_triangular", lambda a, b, **k: dlcore.linalg.solve_triangular(a, b, upper=False, **k),
         (t(L), t(B))),
        ("linalg.svdvals", dlcore.linalg.svdvals, (t(M),)),
        ("linalg.eigvalsh", dlcore.linalg.eigvalsh, (t(A),)),
        ("linalg.pinv", dlcore.linalg.pinv, (t(M),)),
        ("linalg.matrix_power", lambda a, **k: dlcore.linalg.matrix_power(a, 3, **k), (t(M),)),
        ("linalg.vector_norm", dlcore.linalg.vector_norm, (t(M),)),
        ("linalg.matrix_norm", dlcore.linalg.matrix_norm, (t(M),)),
        ("linalg.norm", dlcore.linalg.norm, (t(M),)),
        ("linalg.cross", dlcore.linalg.cross, (t(M[:, :3]), t(B[:, :3]))),
        ("linalg.multi_dot", lambda *a, **k: dlcore.linalg.multi_dot(list(a), **k), (t(M), t(M), t(B))),
        ("cholesky_inverse", dlcore.cholesky_inverse, (t(L),)),
        ("cholesky_solve", dlcore.cholesky_solve, (t(B), t(L))),
        ("inverse", dlcore.inverse, (t(A),)),
    ]


def _tuple_cases(rng):
    A = _spd(rng)
    M = rng.standard_normal((5, 3))
    t = dlcore.tensor
    return [
        ("linalg.qr", dlcore.linalg.qr, (t(M),), 2),
        ("linalg.slogdet", dlcore.linalg.slogdet, (t(A),), 2),
        ("linalg.eigh", dlcore.linalg.eigh, (t(A),), 2),
        ("linalg.svd", lambda a, **k: dlcore.linalg.svd(a, full_matrices=False, **k), (t(M),), 3),
        ("linalg.lu_factor", dlcore.linalg.lu_factor, (t(A),), 2),
        ("svd", dlcore.svd, (t(M),), 3),
        ("qr", dlcore.qr, (t(M),), 2),
    ]


@pytest.mark.parametrize("i", range(24))
def test_out_tensor_written_and_returned(i, rng):
    name, fn, args = _cases(rng)[i]
    ref = fn(*args)
    out = dlcore.empty(0, dtype=ref.dtype)
    got = fn(*args, out=out)
    assert got is out, name
    assert tuple(out.shape) == tuple(ref.shape), name
    np.testing.assert_array_equal(out.numpy(), ref.numpy(), err_msg=name)
    # an out of the right shape is written in place (same storage), one of another shape resized with a warning
    same = dlcore.full(tuple(ref.shape), 7.0, dtype=ref.dtype)
    ptr = same.data_ptr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fn(*args, out=same)
    assert same.data_ptr() == ptr
    np.testing.assert_array_equal(same.numpy(), ref.numpy(), err_msg=name)
    wrong = dlcore.zeros(ref.numel() + 3, dtype=ref.dtype)
    with pytest.warns(UserWarning, match="resized"):
        fn(*args, out=wrong)
    np.testing.assert_array_equal(wrong.numpy(), ref.numpy(), err_msg=name)


@pytest.mark.parametrize("i", range(7))
def test_out_tuple_written_and_returned(i, rng):
    name, fn, args, n = _tuple_cases(rng)[i]
    ref = fn(*args)
    outs = tuple(dlcore.empty(0, dtype=r.dtype) for r in ref)
    got = fn(*args, out=outs)
    assert type(got) is type(ref) and len(got) == n, name
    for g, o, r in zip(got, outs, ref):
        assert g is o
        np.testing.assert_array_equal(o.numpy(), r.numpy(), err_msg=name)
    with pytest.raises(TypeError, match="tuple"):
        fn(*args, out=outs[0])


def test_out_refusals(rng):
    a = dlcore.tensor(_spd(rng).astype(np.float32))
    with pytest.raises(RuntimeError, match="dtype"):
        dlcore.linalg.inv(a, out=dlcore.empty(0, dtype=dlcore.float64))
    with pytest.raises(RuntimeError, match="dtype"):
        dlcore.matmul(a, a, out=dlcore.empty(0, dtype=dlcore.float64))
    with pytest.raises(TypeError, match="out"):
        dlcore.matmul(a, a, out=np.zeros((4, 4), np.float32))
    g = dlcore.tensor(_spd(rng).astype(np.float32), requires_grad=True)
    with pytest.raises(RuntimeError, match="automatic differentiation"):
        dlcore.linalg.inv(g, out=dlcore.empty(0))
    with pytest.raises(RuntimeError, match="automatic differentiation"):
        dlcore.matmul(a, a, out=dlcore.empty(0, requires_grad=True))
    with dlcore.no_grad():  # allowed without grad mode, as in torch
        r = dlcore.linalg.inv(g, out=dlcore.empty(0))
    np.testing.assert_allclose(r.numpy() @ g.detach().numpy(), np.eye(4), atol=1e-5)


@requires_torch
def test_out_matches_torch(rng):
    import torch
    A = _spd(rng)
    M = rng.standard_normal((4, 4))
    for name, d_args, t_args in [("linalg.inv", (A,), (A,)), ("matmul", (M, M), (M, M)), ("linalg.det", (A,), (A,))]:
        dfn = dlcore.linalg.inv if name == "linalg.inv" else dlcore.linalg.det if name == "linalg.det" else dlcore.matmul
        tfn = torch.linalg.inv if name == "linalg.inv" else torch.linalg.det if name == "linalg.det" else torch.matmul
        d_out, t_out = dlcore.empty(0, dtype=dlcore.float64), torch.empty(0, dtype=torch.float64)
        dfn(*[dlcore.tensor(x) for x in d_args], out=d_out)
        tfn(*[torch.from_numpy(x) for x in t_args], out=t_out)
        np.testing.assert_allclose(d_out.numpy(), t_out.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
        with pytest.raises(RuntimeError):
            tfn(*[torch.from_numpy(x) for x in t_args], out=torch.empty(0, dtype=torch.float32))
        with pytest.raises(RuntimeError):
            dfn(*[dlcore.tensor(x) for x in d_args], out=dlcore.empty(0, dtype=dlcore.float32))


def test_out_on_device(device, rng):
    M = rng.standard_normal((4, 4)).astype(np.float32)
    a = dlcore.tensor(M, device=device)
    out = dlcore.empty(0, device=device)
    assert dlcore.matmul(a, a, out=out) is out and out.device == a.device
    np.testing.assert_allclose(out.to("cpu").numpy(), M @ M, rtol=1e-5, atol=1e-5)
    other = "cpu" if device != "cpu" else ("cuda" if "cuda" in DEVICES else None)
    if other is not None:
        with pytest.raises(RuntimeError, match="device"):
            dlcore.matmul(a, a, out=dlcore.empty(0, device=other))


def test_creation_out_and_keywords():
    """zeros/ones/empty/full(out=...): written into out with out's dtype and device by default (torch), returned;
    a misspelt keyword is a TypeError (they were swallowed by **kwargs, out= included)."""
    o = dlcore.empty(0, dtype=dlcore.int64)
    assert dlcore.zeros(2, 3, out=o) is o and o.dtype == dlcore.int64 and tuple(o.shape) == (2, 3)
    assert (o.numpy() == 0).all()
    f = dlcore.empty(0)
    assert dlcore.full((4,), 2.5, out=f) is f
    np.testing.assert_array_equal(f.numpy(), np.full(4, 2.5, np.float32))
    f2 = dlcore.empty(0, dtype=dlcore.float64)
    np.testing.assert_array_equal(dlcore.ones(2, 2, out=f2).numpy(), np.ones((2, 2)))
    assert dlcore.empty(5, out=dlcore.empty(0)).shape == (5,)
    with pytest.raises(RuntimeError, match="dtype"):
        dlcore.zeros(2, dtype=dlcore.float64, out=dlcore.empty(0))
    with pytest.raises(TypeError, match="dtyp"):
        dlcore.zeros(2, dtyp=dlcore.float64)
    with pytest.raises(TypeError):
        dlcore.full_like(dlcore.zeros(2), 1.0, out=dlcore.empty(0))
    assert dlcore.zeros(2, layout=None, pin_memory=False).shape == (2,)  # torch's keywords without effect here
