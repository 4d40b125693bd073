"""NumPy and DLPack interop: zero-copy both ways (proved by writing through one side and reading the other)."""
import numpy as np
import pytest

import dlcore
from conftest import requires_torch


def test_from_numpy_shares_memory():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = dlcore.from_numpy(a)
    a[0, 0] = 42
    assert t[0, 0].item() == 42
    t[1, 2] = -1
    assert a[1, 2] == -1
    s = dlcore.from_numpy(a[:, ::2])  # strided view: still shared
    assert s.stride() == (3, 2)
    a[1, 2] = 9
    assert s[1, 1].item() == 9


def test_numpy_view_shares_memory_and_keeps_tensor_alive():
    t = dlcore.arange(10, dtype=dlcore.float64)
    a = t.numpy()
    t[3] = 100
    assert a[3] == 100
    del t
    import gc
    gc.collect()
    assert a.sum() == sum(range(10)) - 3 + 100


def test_buffer_protocol_and_array():
    t = dlcore.tensor([[1, 2], [3, 4]], dtype=dlcore.int32)
    m = memoryview(t)
    assert m.format == "i" and m.shape == (2, 2)
    a = np.asarray(t)
    t[0, 0] = 7
    assert a[0, 0] == 7
    assert np.array(dlcore.tensor([True, False])).dtype == np.bool_


def test_negative_stride_numpy_rejected():
    with pytest.raises(ValueError, match="negative strides"):
        dlcore.from_numpy(np.arange(5.0)[::-1])


def test_dlpack_numpy_both_ways():
    t = dlcore.arange(12, dtype=dlcore.float32).reshape(3, 4)
    a = np.from_dlpack(t)
    t[0, 1] = 55
    assert a[0, 1] == 55
    b = np.arange(8, dtype=np.int64).reshape(2, 4)
    u = dlcore.from_dlpack(b)
    b[1, 3] = -7
    assert u[1, 3].item() == -7
    assert u.dtype == dlcore.int64
    tt = t.t()
    a2 = np.from_dlpack(tt)  # non-contiguous export keeps strides
    assert a2.strides == (4, 16)
    np.testing.assert_array_equal(a2, t.numpy().T)


@requires_torch
def test_dlpack_torch_both_ways():
    import torch
    x = torch.arange(10, dtype=torch.float32)
    d = dlcore.from_dlpack(x)
    x[2] = 99
    assert d[2].item() == 99
    d[3] = -5
    assert x[3].item() == -5
    y = dlcore.randn(4, 5)
    ty = torch.from_dlpack(y)
    y[0, 0] = 123
    assert ty[0, 0].item() == 123
    assert ty.data_ptr() == y.data_ptr()
    tb = torch.from_dlpack(dlcore.tensor([True, False]))
    assert tb.dtype == torch.bool and tb.tolist() == [True, False]
    bf = torch.tensor([1.5, 2.0], dtype=torch.bfloat16)
    db = dlcore.from_dlpack(bf)
    assert db.dtype == dlcore.bfloat16 and db.float().tolist() == [1.5, 2.0]
    assert dlcore.from_dlpack(torch.arange(6).reshape(2, 3).t()).tolist() == [[0, 3], [1, 4], [2, 5]]


def test_dlpack_capsule_consumed_once():
    t = dlcore.ones(3)
    cap = t.__dlpack__()
    dlcore.from_dlpack(cap)
    with pytest.raises(ValueError, match="consumed|used"):
        dlcore.from_dlpack(cap)
    assert t.__dlpack_device__() == (1, 0)
