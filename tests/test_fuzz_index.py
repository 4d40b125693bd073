"""Regression tests for defects found by fuzzing indexing / scatter / sorting / data utilities against PyTorch
(the references here are NumPy or torch, when installed)."""
import numpy as np
import pytest

import dlcore
from dlcore.utils.data import ConcatDataset, random_split


def _np(t):
    return t.detach().numpy()


def test_zero_dim_int_tensor_index_acts_like_int():
    # torch (and the result layout): a 0-d integer tensor is a select, so x[t0, :, t2, idx] is x[0, :, -2, idx]
    a = np.arange(4 * 3 * 3 * 4, dtype=np.float64).reshape(4, 3, 3, 4)
    x = dlcore.from_numpy(a.copy())
    i0, i2 = dlcore.tensor(0), dlcore.tensor(-2)
    got = x[i0, :, i2, dlcore.tensor([1])]
    want = a[0][:, -2][:, [1]]  # the ints applied first (as selects): (3, 1)
    assert tuple(got.shape) == (3, 1)
    np.testing.assert_array_equal(_np(got), want)
    # mixed with a mask and None
    b = np.arange(6.0).reshape(2, 3)
    y = dlcore.from_numpy(b.copy())
    r = y[dlcore.tensor(-2), None, dlcore.tensor([True, True, False])]
    assert tuple(r.shape) == (1, 2)
    np.testing.assert_array_equal(_np(r), b[-2][None][:, [0, 1]])
    # writes and gradients follow the same layout
    y[dlcore.tensor(0), None, dlcore.tensor([True, False, True])] = dlcore.tensor([[10.0, 20.0]], dtype=dlcore.float64)
    assert _np(y)[0].tolist() == [10.0, 1.0, 20.0]
    z = dlcore.from_numpy(a.copy()).requires_grad_()
    (z[i0, :, i2, dlcore.tensor([1])] * dlcore.from_numpy(np.arange(3.0).reshape(3, 1))).sum().backward()
    g = np.zeros_like(a)
    g[0, :, -2, 1] = np.arange(3.0)
    np.testing.assert_array_equal(_np(z.grad), g)
    with pytest.raises(IndexError):
        x[dlcore.tensor(4)]


def test_zero_dim_bool_tensor_in_index_tuple_and_setitem():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    x = dlcore.from_numpy(a.copy())
    T, F = dlcore.tensor(True), dlcore.tensor(False)
    assert tuple(x[T, 0].shape) == (1, 3, 4)
    assert tuple(x[:, F].shape) == (2, 0, 3, 4)
    r = x[dlcore.tensor([0, 1]), T]
    assert tuple(r.shape) == (2, 3, 4)  # the index dims broadcast: (2,) with (1,)
    np.testing.assert_array_equal(_np(r), a)
    x[T] = 5.0
    assert (_np(x) == 5).all()
    x[F] = 7.0
    assert (_np(x) == 5).all()
    s = dlcore.tensor(1.0)
    s[T] = 2.0
    assert s.item() == 2.0
    g = dlcore.from_numpy(a.copy()).requires_grad_()
    (g[..., T] ** 2).sum().backward()
    np.testing.assert_allclose(_np(g.grad), 2 * a)


def test_index_errors_are_index_errors():
    x = dlcore.zeros(3, 4)
    with pytest.raises(IndexError):
        x[dlcore.tensor([0.0, 1.0])]  # a float index tensor (torch: IndexError)
    with pytest.raises(IndexError):
        x[dlcore.tensor([0, 1]), dlcore.tensor([0, 1, 2])]  # index shapes that do not broadcast


def test_index_put_requires_matching_dtype():
    x = dlcore.zeros(3)
    with pytest.raises(RuntimeError, match="dtypes match"):
        x.index_put_((dlcore.tensor([0]),), dlcore.tensor([1.0], dtype=dlcore.float64))
    with pytest.raises(RuntimeError, match="dtypes match"):
        dlcore.index_put(x, (dlcore.tensor([0]),), dlcore.tensor([1]), accumulate=True)
    # x[i] = v still casts (as torch's setitem)
    x[dlcore.tensor([0])] = dlcore.tensor([1.0], dtype=dlcore.float64)
    assert x.tolist() == [1.0, 0.0, 0.0]
    y = dlcore.zeros(3).index_put_((dlcore.tensor([1, 1]),), dlcore.tensor([1.0, 2.0]), accumulate=True)
    assert y.tolist() == [0.0, 3.0, 0.0]


def test_random_split_fractions_edge_cases():
    assert [len(s) for s in random_split(list(range(0)), [0.5, 0.5])] == [0, 0]  # torch: empty subsets
    assert [len(s) for s in random_split(list(range(11)), [0.3, 0.3, 0.4])] == [4, 3, 4]
    with pytest.raises(ValueError, match="between 0 and 1"):
        random_split(list(range(5)), [1.5, -0.5])  # was two subsets of lengths 5 and 0 (the second slice empty)


def test_concat_dataset_negative_index_error_names_the_index():
    d = ConcatDataset([list(range(3)), list(range(4))])
    assert d[-1] == 3
    with pytest.raises(IndexError, match="-8"):
        d[-8]


def test_index_copy_checks_like_torch():
    x = dlcore.zeros(3, 4)
    with pytest.raises(RuntimeError, match="same dtype"):
        dlcore.index_copy(x, 0, dlcore.tensor([0]), dlcore.ones(1, 4, dtype=dlcore.float64))  # was cast silently
    with pytest.raises(IndexError, match="dimensionality must match"):
        dlcore.index_copy(x, 0, dlcore.tensor(1), dlcore.ones(4))  # was broadcast silently
    with pytest.raises(IndexError, match="Number of indices"):
        dlcore.index_copy(x, 0, dlcore.tensor([0, 1]), dlcore.ones(3, 4))
    with pytest.raises(IndexError, match="slice shapes"):
        dlcore.index_copy(x, 0, dlcore.tensor([0]), dlcore.ones(1, 1))
    r = dlcore.index_copy(x, 1, dlcore.tensor([3, 0]), dlcore.from_numpy(np.arange(6, dtype=np.float32).reshape(3, 2)))
    want = np.zeros((3, 4), np.float32)
    want[:, [3, 0]] = np.arange(6).reshape(3, 2)
    np.testing.assert_array_equal(_np(r), want)


def test_index_copy_fill_and_gather_on_zero_dim_input():
    s = dlcore.tensor(5.0)
    assert dlcore.index_copy(s, 0, dlcore.tensor([0]), dlcore.tensor([1.0])).item() == 1.0
    assert tuple(dlcore.index_copy(s, 0, dlcore.tensor([0]), dlcore.tensor([1.0])).shape) == ()
    assert dlcore.index_fill(s, 0, dlcore.tensor([-1]), 2.0).item() == 2.0
    g = dlcore.gather(s, 0, dlcore.tensor([0, 0]))
    assert g.tolist() == [5.0, 5.0]
    with pytest.raises(RuntimeError, match="0-dimensional value"):
        dlcore.index_fill(dlcore.zeros(3, 4), 0, dlcore.tensor([0]), dlcore.tensor([1.0]))
    w = dlcore.tensor(2.0, requires_grad=True)
    dlcore.gather(w, 0, dlcore.tensor([0, 0, 0])).sum().backward()
    assert w.grad.item() == 3.0


def test_kthvalue_rejects_non_integer_k():
    x = dlcore.tensor([3.0, 1.0, 2.0])
    with pytest.raises(TypeError):
        dlcore.kthvalue(x, 1.5)  # was int(1.5) = 1, silently
    assert dlcore.kthvalue(x, np.int64(2)).values.item() == 2.0
