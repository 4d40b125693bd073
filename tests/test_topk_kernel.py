"""topk kernels (csrc/ops/sort): the CPU threshold scan for small k (k <= 32; sort_topk.h, every ISA: contiguous rows
and strided lines scanned across lanes), the partial sort / select for larger k, and the other devices' sort.
Values against torch.topk; indices against a NumPy stable reference (ties in index order, NaN above every number:
first when largest, last when smallest) and against torch's where the data has no ties."""
import numpy as np
import pytest

import dlcore
from dlcore.testing import gradcheck

from conftest import DEVICES, requires_torch

torch = pytest.importorskip("torch")

ISAS = [i for i in ("scalar", "avx2", "avx512")
        if ["scalar", "avx2", "avx512"].index(i) <= ["scalar", "avx2", "avx512"].index(dlcore._C._cpu_isa_supported())]
# (device, cpu isa): every ISA on cpu; the other devices once (the ISA pin is a CPU setting)
DEV_ISA = [("cpu", i) for i in ISAS] + [(d, "scalar") for d in DEVICES if d != "cpu"]


def ref_topk(a, k, dim, largest):
    """Stable (values, indices) of the first k in sort order along dim, NaN above every number."""
    if a.ndim == 0:
        v, i = ref_topk(a.reshape(1), k, 0, largest)
        return v.reshape(()), i.reshape(())
    m = np.moveaxis(a, dim, -1)
    nan = np.isnan(m) if m.dtype.kind == "f" else np.zeros(m.shape, bool)
    v = np.where(nan, 0, m).astype(np.float64 if m.dtype.kind == "f" else np.int64)  # (bool: 0 / 1)
    idx = np.broadcast_to(np.arange(m.shape[-1]), m.shape)
    keys = (idx, -v, ~nan) if largest else (idx, v, nan)
    order = np.lexsort(keys, axis=-1)[..., :k]
    vals = np.take_along_axis(m, order, -1)
    return np.moveaxis(vals, -1, dim), np.moveaxis(order, -1, dim)


def check(a, k, dim, largest, device, x=None, torch_indices=False):
    x = dlcore.tensor(a, device=device) if x is None else x
    v, i = dlcore.topk(x, k, dim, largest)
    rv, ri = ref_topk(a, k, dim, largest)
    v, i = v.cpu().numpy(), i.cpu().numpy()
    assert v.dtype == a.dtype and i.dtype == np.int64 and v.shape == rv.shape and i.shape == rv.shape
    if a.dtype != bool:  # (torch's CPU topk refuses bool; dlcore ranks False < True)
        tv, ti = torch.topk(torch.from_numpy(a), k, dim, largest)
        np.testing.assert_array_equal(v, tv.numpy())  # NaN positions must agree too
    np.testing.assert_array_equal(v, rv)
    np.testing.assert_array_equal(i, ri)
    if torch_indices and a.dtype != bool:
        np.testing.assert_array_equal(i, ti.numpy())


def data(rng, shape, dtype, kind):
    if dtype == "uint8":
        return rng.integers(0, 256 if kind == "wide" else 4, shape).astype(np.uint8)
    if dtype in ("int32", "int64"):
        hi = 1 << 30 if kind == "wide" else 4
        return rng.integers(-hi, hi, shape).astype(dtype)
    a = rng.standard_normal(shape).astype(dtype)
    if kind == "ties":
        a = np.round(a * 2)  # many equal values, +-0.0
    elif kind == "special":
        flat = a.reshape(-1)
        sel = rng.random(flat.size)
        flat[sel < 0.1] = np.nan
        flat[(sel >= 0.1) & (sel < 0.15)] = np.inf
        flat[(sel >= 0.15) & (sel < 0.2)] = -np.inf
        flat[(sel >= 0.2) & (sel < 0.25)] = -0.0
    elif kind == "ascending":  # every element beats the threshold when largest
        a = np.sort(a, axis=-1)
    elif kind == "descending":
        a = -np.sort(a, axis=-1)
    return a


SHAPES = [((300,), 0), ((3, 257), 1), ((2, 1000), -1), ((4, 37), 1), ((5, 70, 19), 1), ((37, 40), 0),
          ((60, 3, 2), 0), ((9, 1, 33), 0), ((2, 5, 7, 3), 2)]


@pytest.mark.parametrize("dev,isa", DEV_ISA)
@pytest.mark.parametrize("shape,dim", SHAPES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_topk_floats(shape, dim, dtype, dev, isa, rng):
    dlcore._C._set_cpu_isa(isa)
    device = dev
    L = shape[dim]
    if device != "cpu" and np.prod(shape) > 3000:
        shape = tuple(min(s, 40) for s in shape)
        L = shape[dim]
    ks = sorted({1, 2, 3, 5, 10, 16, 31, 32, 33, 50, L // 2, L})
    ks = [k for k in ks if 1 <= k <= L]
    for kind in ("normal", "ties", "special", "ascending", "descending"):
        a = data(rng, shape, dtype, kind)
        for k in ks:
            for largest in (True, False):
                check(a, k, dim, largest, device, torch_indices=kind in ("normal", "ascending", "descending"))


@pytest.mark.parametrize("dev,isa", DEV_ISA)
@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8"])
@pytest.mark.parametrize("shape,dim", [((3, 301), 1), ((50, 70), 0), ((90, 2, 5), 0)])
def test_topk_ints(shape, dim, dtype, dev, isa, rng):
    dlcore._C._set_cpu_isa(isa)
    device = dev
    L = shape[dim]
    for kind in ("wide", "ties"):
        a = data(rng, shape, dtype, kind)
        for k in (1, 4, 17, 32, L // 2):
            for largest in (True, False):
                check(a, k, dim, largest, device)


@pytest.mark.parametrize("dev,isa", DEV_ISA)
def test_topk_every_k_small_rows(dev, isa, rng):
    """k = 1..L on short lines (the scan's fill, vector blocks and tails), rows and strided lines."""
    dlcore._C._set_cpu_isa(isa)
    device = dev
    for shape, dim in (((3, 40), 1), ((40, 18), 0)):
        a = data(rng, shape, "float32", "special")
        for k in range(1, shape[dim] + 1):
            for largest in (True, False):
                check(a, k, dim, largest, device)


@pytest.mark.parametrize("dev,isa", DEV_ISA)
def test_topk_sorted_lines(dev, isa, rng):
    """Ascending lines make every element enter the k-best buffer (largest): the scan gives such lines up and they
    are sorted instead; mixed with random, descending and NaN-holding lines in the same call (rows and strided)."""
    dlcore._C._set_cpu_isa(isa)
    device = dev
    L = 600 if device == "cpu" else 64
    a = np.cumsum(rng.random((L, 24)), 0).astype(np.float32)  # ascending along dim 0
    a[:, 5] = rng.standard_normal(L)
    a[:, 6] = a[::-1, 6]
    a[::7, 7] = np.nan
    a[:, 8] = np.round(a[:, 8] / 50)  # ascending with ties
    for k in (1, 5, 32):
        for largest in (True, False):
            check(a, k, 0, largest, device)
            check(np.ascontiguousarray(a.T), k, 1, largest, device)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "uint8"])
def test_topk_rows_sorted_and_rising(isa, dtype, rng):
    """Contiguous rows (cpu): a row sorted from its k-th element on is finished by a merge with the first k (which
    win ties: earlier indices); a noisy rising row keeps inserting and is finished by the buffered selection
    (cuts of a candidate buffer in index order: the tie-break), with NaN (the pair-selection branch) and with many
    ties. Each row kind in both directions, k around the buffer's limits."""
    dlcore._C._set_cpu_isa(isa)
    L = 1000 if dtype != "uint8" else 250
    rows = []
    base = np.sort(rng.standard_normal((1, L)) * 30, axis=1)[0]
    rows.append(base)                                    # strictly rising
    rows.append(base + rng.standard_normal(L) * 5)       # noisy rising: the buffered selection
    tied = np.round(base + rng.standard_normal(L) * 3)   # rising with many equal values
    rows.append(tied)
    r = base.copy()
    r[:40] = r[-40:][::-1]                               # the first k hold values equal to the sorted rest's best
    rows.append(r)
    r = base.copy()
    r[:3] = r[-1]
    rows.append(r)                                       # a tie between the buffer and the rest's best
    if dtype.startswith("float"):
        r = base + rng.standard_normal(L) * 5
        r[rng.random(L) < 0.02] = np.nan                 # NaN inside a rising row
        rows.append(r)
        r = base.copy()
        r[-1] = np.nan                                   # a NaN breaks the sorted run
        rows.append(r)
    a = np.stack(rows)
    if dtype == "uint8":
        a = np.clip(a - a.min() if np.isfinite(a).all() else np.nan_to_num(a), 0, 255).astype(np.uint8)
    else:
        a = a.astype(dtype)
    for k in (1, 5, 16, 31, 32):
        for largest in (True, False):
            for m in (a, np.ascontiguousarray(a[:, ::-1])):
                check(m, k, 1, largest, "cpu")


@pytest.mark.parametrize("dev,isa", DEV_ISA)
def test_topk_all_nan_and_all_equal(dev, isa):
    dlcore._C._set_cpu_isa(isa)
    device = dev
    for a in (np.full((3, 50), np.nan, np.float32), np.full((50, 20), 2.0, np.float64),
              np.where(np.arange(100) % 7 == 0, np.nan, 1.0).reshape(2, 50).astype(np.float32)):
        for dim in (0, 1):
            for k in sorted({1, min(5, a.shape[dim]), a.shape[dim]}):
                for largest in (True, False):
                    check(a, k, dim, largest, device)


@pytest.mark.parametrize("dev,isa", DEV_ISA)
def test_topk_non_contiguous_and_bool(dev, isa, rng):
    dlcore._C._set_cpu_isa(isa)
    device = dev
    a = rng.standard_normal((30, 64)).astype(np.float32)
    x = dlcore.tensor(a, device=device)
    check(np.ascontiguousarray(a.T), 6, 1, True, device, x=x.t(), torch_indices=True)
    check(np.ascontiguousarray(a.T), 6, 0, False, device, x=x.t(), torch_indices=True)
    check(np.ascontiguousarray(a[:, ::3]), 4, 1, True, device, x=x[:, ::3], torch_indices=True)
    b = rng.integers(0, 2, (5, 40)).astype(bool)
    for largest in (True, False):
        check(b, 3, 1, largest, device)
    s = np.array(2.5, np.float32)  # 0-d
    check(s, 1, 0, True, device)


@pytest.mark.parametrize("dev,isa", DEV_ISA)
def test_topk_float16(dev, isa, rng):
    dlcore._C._set_cpu_isa(isa)
    device = dev
    a = rng.standard_normal((4, 90)).astype(np.float16)
    v, i = dlcore.topk(dlcore.tensor(a, device=device), 7, 1)
    rv, ri = ref_topk(a, 7, 1, True)
    assert v.dtype == dlcore.float16
    np.testing.assert_array_equal(v.cpu().numpy(), rv)
    np.testing.assert_array_equal(i.cpu().numpy(), ri)


def test_topk_empty_and_threads(device, rng):
    v, i = dlcore.topk(dlcore.tensor(np.zeros((0, 5), np.float32), device=device), 3, 1)
    assert tuple(v.shape) == (0, 3) and tuple(i.shape) == (0, 3)
    v, i = dlcore.topk(dlcore.tensor(np.zeros((4, 5), np.float32), device=device), 0, 1)
    assert tuple(v.shape) == (4, 0)
    if device == "cpu":  # several threads: rows split, strided lines split into blocks of lines
        threads = dlcore.get_num_threads()
        dlcore.set_num_threads(3)
        try:
            for shape, dim in (((50, 700), 1), ((300, 600), 0), ((7, 40, 300), 1)):
                a = data(rng, shape, "float32", "special")
                check(a, 9, dim, True, device)
        finally:
            dlcore.set_num_threads(threads)


@requires_torch
def test_topk_grad_strided_lines(rng):
    a = rng.standard_normal((7, 5, 3))
    x = dlcore.tensor(a).requires_grad_(True)
    gradcheck(lambda t: dlcore.topk(t, 3, 0).values, [x])
    gradcheck(lambda t: dlcore.topk(t, 2, 1, largest=False).values, [x])


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "uint8"])
@pytest.mark.parametrize("kind", ["wide", "ties", "special", "ascending"])
def test_kthvalue_long_rows(dtype, kind, device, rng):
    """kthvalue's CPU selection on rows of 256 and more (a sampled bracket, then nth_element inside it): the k-th in
    (value, index) order with NaN last, against a stable NumPy sort and torch's values."""
    if kind in ("special", "ascending") and dtype[0] in "iu":
        kind = "wide"
    a = data(rng, (3, 700 if device == "cpu" else 260), dtype, kind)
    if kind == "ascending":
        a = a.copy()
        a[1] = a[1, ::-1]  # descending row too
    L = a.shape[1]
    for k in (1, 2, 100, L // 2, L // 2 + 1, L - 40, L - 1, L):
        v, i = dlcore.kthvalue(dlcore.tensor(a, device=device), k, 1)
        ri = ref_topk(a, k, 1, False)[1][:, k - 1]
        ref = a[np.arange(3), ri]
        np.testing.assert_array_equal(v.cpu().numpy(), ref)
        np.testing.assert_array_equal(i.cpu().numpy(), ri)
        np.testing.assert_array_equal(v.cpu().numpy(), torch.kthvalue(torch.from_numpy(a), k, 1).values.numpy())
    m = dlcore.median(dlcore.tensor(a, device=device), 1)
    np.testing.assert_array_equal(m.values.cpu().numpy(), torch.median(torch.from_numpy(a), 1).values.numpy())


def test_topk_bad_input():
    with pytest.raises(RuntimeError, match="topk"):
        dlcore.topk(dlcore.ones(3, 4), 5, 1)
    with pytest.raises(IndexError, match="topk"):
        dlcore.topk(dlcore.ones(3, 4), 1, 2)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "int16", "int32", "uint8"])
def test_topk_tail_lower_bound(isa, dtype, rng):
    """The scan's lower bound from a row's last 4k elements (from the start for k >= 16; for smaller k once a row
    has used half its insertion budget) and the finish of a given-up row from the bound's candidates: values equal
    to the bound in the prefix must still win ties by index; a tail whose k-th is the type's extreme (-inf, the
    smallest integer) gives no bound; a tail holding NaN gives none either."""
    dlcore._C._set_cpu_isa(isa)
    info = np.iinfo(dtype) if dtype[0] in "iu" else None
    L = 600
    rows = []
    rise = np.linspace(0, 100, L)
    rows.append(np.round(rise + rng.standard_normal(L) * 4))            # rising, many ties (bound = a tied value)
    r = np.round(rise + rng.standard_normal(L) * 4)
    r[:50] = r[-1]                                                      # prefix values equal to the row's best
    rows.append(r)
    r = rng.standard_normal(L) * 10
    r[-200:] = r[-200:].min() - 1 if info is None else r.min()          # a flat tail: bound = its (tied) value
    rows.append(np.round(r))
    rows.append(np.round(rng.standard_normal(L) * 20))                  # random rows with ties
    a = np.stack(rows)
    if info is not None:
        lo, hi = max(info.min, -100), min(info.max, 100)
        a = np.clip(a, lo, hi)
        a[2, -200:] = info.min if dtype != "uint8" else 0               # the tail at the type's smallest value
        a = a.astype(dtype)
    else:
        a = a.astype(dtype)
        b = a.copy()
        b[:, -150:] = -np.inf                                           # the tail's k-th is -inf: no bound
        c = a.copy()
        c[:, -7] = np.nan                                               # NaN in the tail: no bound
        a = np.concatenate([a, b, c])
    for k in (2, 5, 16, 24, 32):
        for largest in (True, False):
            for m in (a, np.ascontiguousarray(a[:, ::-1]), np.ascontiguousarray(-a) if dtype[0] != "u" else a):
                check(m, k, 1, largest, "cpu")
