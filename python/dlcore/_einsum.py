"""einsum: Einstein summation over dlcore's differentiable views, reductions and batched GEMM.

An operand's repeated subscripts become a diagonal; subscripts used by no other operand and not in the output are
summed first; two operands contract through one bmm with their subscripts grouped as (batch, kept, contracted) and
(batch, contracted, kept); more operands contract left to right. '...' stands for broadcast dims (right-aligned
across operands); without '->' the output is the ellipsis dims then the subscripts used once, in alphabetical order
(torch's rule). Size-1 dims broadcast against their subscript's size in other operands.
"""
from __future__ import annotations

import math

from . import _C
from . import _ops

Tensor = _C.Tensor
_isT = isinstance

__all__ = ["einsum"]


def _err(msg):
    return RuntimeError(f"einsum(): {msg}")


def _parse(equation, shapes):
    eq = equation.replace(" ", "")
    if eq.count("->") > 1:
        raise _err(f"more than one '->' in {equation!r}")
    if "->" in eq:
        lhs, out = eq.split("->")
        explicit = True
    else:
        lhs, out, explicit = eq, "", False
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise _err(f"{len(terms)} operand subscripts in {equation!r} for {len(shapes)} operands")
    ell_dims = 0
    parsed = []
    for t, shp in zip(terms, shapes):
        if t.count("...") > 1 or ("." in t.replace("...", "")):
            raise _err(f"invalid ellipsis in subscripts {t!r}")
        letters = t.replace("...", "")
        for c in letters:
            if not c.isalpha():
                raise _err(f"invalid subscript {c!r} in {equation!r} (only letters and '...')")
        if "..." in t:
            n = len(shp) - len(letters)
            if n < 0:
                raise _err(f"operand subscripts {t!r} have more dims than the operand's shape {list(shp)}")
            ell_dims = max(ell_dims, n)
        elif len(letters) != len(shp):
            raise _err(f"operand subscripts {t!r} do not match the operand's {len(shp)} dims (shape {list(shp)})")
        parsed.append(t)
    ell = [chr(0x2460 + k) for k in range(ell_dims)]  # placeholder symbols for the ellipsis dims, right-aligned

    def expand(t, ndim):
        if "..." not in t:
            return list(t)
        a, b = t.split("...")
        n = ndim - len(a) - len(b)
        return list(a) + ell[ell_dims - n:] + list(b)

    subs = [expand(t, len(s)) for t, s in zip(parsed, shapes)]
    if explicit:
        if out.count("...") > 1:
            raise _err(f"invalid ellipsis in the output {out!r}")
        for c in out.replace("...", ""):
            if not c.isalpha():
                raise _err(f"invalid output subscript {c!r}")
            if not any(c in s for s in subs):
                raise _err(f"output subscript {c!r} does not appear in any operand")
        if len(set(out.replace("...", ""))) != len(out.replace("...", "")):
            raise _err(f"output subscript repeated in {out!r}")
        if "..." in out:
            a, b = out.split("...")
            osubs = list(a) + ell + list(b)
        else:
            osubs = list(out)  # ellipsis dims not in the output are summed
    else:
        counts = {}
        for s in subs:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        osubs = ell + sorted(c for c, n in counts.items() if n == 1 and c not in ell)
    return subs, osubs


def _diagonalise(x, sub):
    """Repeated subscripts of one operand -> their diagonal (one dim per distinct subscript)."""
    sub = list(sub)
    while True:
        dup = next((c for c in sub if sub.count(c) > 1), None)
        if dup is None:
            return x, sub
        i = sub.index(dup)
        j = sub.index(dup, i + 1)
        if x.shape[i] != x.shape[j]:
            raise _err(f"subscript {dup!r} is repeated for dims of different sizes {x.shape[i]} and {x.shape[j]}")
        x = _ops.diagonal(x, 0, i, j)  # the diagonal goes last
        sub = [c for k, c in enumerate(sub) if k not in (i, j)] + [dup]


def _sum_out(x, sub, keep):
    """Sum over the subscripts not in keep."""
    dims = [k for k, c in enumerate(sub) if c not in keep]
    if dims:
        x = _ops.sum(x, dims)
        sub = [c for c in sub if c in keep]
    return x, sub


def _contract(a, sa, b, sb, keep, sizes):
    """The contraction of a and b over their shared subscripts not in keep; result subscripts: batch, a's kept,
    b's kept."""
    batch = [c for c in sa if c in sb and c in keep]
    contr = [c for c in sa if c in sb and c not in keep]
    left = [c for c in sa if c not in sb]
    right = [c for c in sb if c not in sa]

    def arrange(x, s, order):
        x = _ops.permute(x, [s.index(c) for c in order]) if order != s else x
        shape = [sizes[c] for c in order]
        if list(x.shape) != shape:
            x = _ops.expand(x, shape)  # size-1 dims broadcast against the other operand
        return x

    A = arrange(a, sa, batch + left + contr)
    B = arrange(b, sb, batch + contr + right)
    nb = math.prod(sizes[c] for c in batch)
    nl = math.prod(sizes[c] for c in left)
    nc = math.prod(sizes[c] for c in contr)
    nr = math.prod(sizes[c] for c in right)
    out = _ops.matmul(_ops.reshape(A, [nb, nl, nc]), _ops.reshape(B, [nb, nc, nr]))
    return _ops.reshape(out, [sizes[c] for c in batch + left + right]), batch + left + right


def _sublist_equation(args):
    """The equation and operands of the sublist form: subscripts are ints in [0, 52) (0-25 'a'-'z', 26-51
    'A'-'Z') or Ellipsis."""
    def sub(lst):
        out = []
        for v in lst:
            if v is Ellipsis:
                out.append("...")
            elif isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 52:
                out.append(chr(ord("a") + v) if v < 26 else chr(ord("A") + v - 26))
            else:
                raise ValueError(f"einsum(): subscript in subscript list is not within the valid range [0, 52), "
                                 f"got {v!r}")
        return "".join(out)
    args = list(args)
    operands, ins = [], []
    while len(args) >= 2 and _isT(args[0], Tensor):
        operands.append(args.pop(0))
        ins.append(sub(args.pop(0)))
    if len(args) > 1 or (args and _isT(args[0], Tensor)):
        raise TypeError("einsum(): the sublist form is einsum(op1, sublist1, op2, sublist2, ..., [sublist_out])")
    eq = ",".join(ins) + ("->" + sub(args[0]) if args else "")
    return eq, tuple(operands)


def einsum(equation, *operands):
    """torch.einsum(equation, *operands) (operands also as one list, or the sublist form
    einsum(op1, sublist1, op2, sublist2, ..., [sublist_out]))."""
    if _isT(equation, Tensor):
        equation, operands = _sublist_equation((equation,) + operands)
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): the equation must be a str, got {type(equation).__name__}")
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise _err("at least one operand is needed")
    for k, t in enumerate(operands):
        if not _isT(t, Tensor):
            raise TypeError(f"einsum(): operand {k} must be a dlcore.Tensor, got {type(t).__name__}")
    subs, osubs = _parse(equation, [t.shape for t in operands])
    sizes = {}
    for t, s in zip(operands, subs):
        for c, n in zip(s, t.shape):
            if c in sizes and sizes[c] != n and n != 1 and sizes[c] != 1:
                raise _err(f"subscript {c!r} has size {n} in one operand dim but {sizes[c]} in another "
                           f"(operand shapes {[list(o.shape) for o in operands]})")
            sizes[c] = max(sizes.get(c, 1), n) if n != 0 and sizes.get(c, 1) != 0 else 0
    xs = []
    for t, s in zip(operands, subs):
        x, s = _diagonalise(t, s)
        xs.append((x, s))
    # subscripts each operand must keep: in the output or in another operand
    work = []
    for k, (x, s) in enumerate(xs):
        others = set(osubs)
        for j, (_, s2) in enumerate(xs):
            if j != k:
                others |= set(s2)
        x, s = _sum_out(x, s, others)
        work.append((x, s))
    x, s = work[0]
    for k in range(1, len(work)):
        y, sy = work[k]
        keep = set(osubs)
        for _, s2 in work[k + 1:]:
            keep |= set(s2)
        x, s = _contract(x, s, y, sy, keep, sizes)
    x, s = _sum_out(x, s, set(osubs))
    if s != osubs:
        x = _ops.permute(x, [s.index(c) for c in osubs])
    shape = [sizes[c] for c in osubs]
    if list(x.shape) != shape:
        x = _ops.expand(x, shape)
    return _ops.clone(x) if x is operands[0] else x
