"""einsum (python/dlcore/_einsum.py) against numpy.einsum in float64: products, contractions, batch dims,
diagonals and traces, ellipsis, implicit output, broadcasting of size-1 dims, three operands; gradients by finite
differences; every device; bad equations."""
import numpy as np
import pytest

import dlcore
from dlcore.testing import assert_close, gradcheck

CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bij,bkj->bik", [(2, 3, 4), (2, 5, 4)]),
    ("i,i->", [(6,), (6,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij->ji", [(3, 4)]),
    ("ij->", [(3, 4)]),
    ("ii->i", [(4, 4)]),
    ("ii", [(4, 4)]),
    ("iij->j", [(3, 3, 2)]),
    ("bii->b", [(2, 3, 3)]),
    ("ij,ij->i", [(3, 4), (3, 4)]),
    ("ijk,ikl->jl", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk->...ik", [(2, 3, 4, 5), (3, 5, 2)]),
    ("...i,...i", [(2, 3, 4), (4,)]),
    ("b...,b...->b", [(2, 3, 4), (2, 3, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("i,j,k->ijk", [(2,), (3,), (2,)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("ij,kj->ik", [(1, 4), (5, 4)]),
    ("ij,jk->ik", [(3, 1), (1, 5)]),
    ("bij,jk->bik", [(1, 3, 4), (4, 2)]),
    ("ijk->kji", [(2, 3, 4)]),
    ("ij,j->i", [(3, 4), (4,)]),
    ("i,i,i->i", [(5,), (5,), (5,)]),
]


@pytest.mark.parametrize("eq,shapes", CASES, ids=[c[0] for c in CASES])
def test_einsum_vs_numpy(eq, shapes, device, float_dtype, rng):
    arrs = [rng.standard_normal(s).astype(float_dtype) for s in shapes]
    got = dlcore.einsum(eq, *[dlcore.tensor(a, device=device) for a in arrs])
    a64 = [a.astype(np.float64) for a in arrs]
    if eq == "b...,b...->b":  # torch sums ellipsis dims missing from the output; NumPy refuses the equation
        ref = np.einsum("b...,b...->b...", *a64).reshape(len(a64[0]), -1).sum(1)
    else:
        ref = np.einsum(eq, *a64)
    assert list(got.shape) == list(np.shape(ref))
    tol = 1e-5 if float_dtype == "float32" else 1e-12
    assert_close(got, ref, rtol=tol, atol=tol)
    assert_close(dlcore.einsum(eq, [dlcore.tensor(a, device=device) for a in arrs]), ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("eq,shapes", [c for c in CASES if c[0] in ("bij,bkj->bik", "ii->i", "...ij,...jk->...ik",
                                                                     "ij,jk,kl->il", "ij,kj->ik", "b...,b...->b",
                                                                     "iij->j")])
def test_einsum_grad(eq, shapes, rng):
    ins = [dlcore.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    gradcheck(lambda *xs: dlcore.einsum(eq, *xs), ins)


@pytest.mark.parametrize("eq,shapes,msg", [
    ("ij,jk->ik", [(3, 4), (5, 6)], "size"),
    ("ij->k", [(3, 4)], "does not appear"),
    ("ij", [(3, 4, 5)], "do not match"),
    ("ij,jk", [(3, 4)], "operand subscripts"),
    ("i1->i", [(3, 4)], "invalid subscript"),
    ("ii->i", [(3, 4)], "has size 4 in one"),
    ("ij->ii", [(3, 3)], "repeated"),
])
def test_einsum_bad(eq, shapes, msg):
    with pytest.raises(RuntimeError, match=msg):
        dlcore.einsum(eq, *[dlcore.ones(*s) for s in shapes])
