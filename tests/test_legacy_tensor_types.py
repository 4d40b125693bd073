"""torch.FloatTensor & co. (legacy typed constructors and isinstance checks), against PyTorch."""
import numpy as np
import pytest

import dlcore

torch = pytest.importorskip("torch")

NAMES = ["FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "LongTensor", "IntTensor", "ShortTensor",
         "CharTensor", "ByteTensor", "BoolTensor"]


@pytest.mark.parametrize("name", NAMES)
def test_constructors_and_isinstance(name):
    T, D = getattr(torch, name), getattr(dlcore, name)
    for args in [(2, 3), (torch.Size([4]),), ()]:
        dargs = tuple(dlcore.Size(list(a)) if isinstance(a, torch.Size) else a for a in args)
        w, g = T(*args), D(*dargs)
        assert str(w.dtype).split(".")[1] == g.dtype.name and tuple(w.shape) == tuple(g.shape)
        assert isinstance(g, D) and g.device.type == "cpu"
    data = [[1, 0], [3, 1]]
    w, g = T(data), D(data)
    assert str(w.dtype).split(".")[1] == g.dtype.name
    np.testing.assert_array_equal(g.float().numpy(), w.float().numpy())
    others = [n for n in NAMES if n != name]
    assert not any(isinstance(g, getattr(dlcore, o)) for o in others)
    assert not isinstance(g, getattr(dlcore.cuda, name))
    assert isinstance(g.type(getattr(dlcore, others[0])), getattr(dlcore, others[0]))


def test_type_conversions_like_torch():
    for lib in (torch, dlcore):
        x = lib.tensor([1.7, -2.2])
        assert x.type(lib.LongTensor).tolist() == [1, -2]
        assert x.type("torch.IntTensor").tolist() == [1, -2]
        assert isinstance(lib.LongTensor([1, 2]), lib.LongTensor)
    with pytest.raises(TypeError, match="FloatTensor"):
        dlcore.FloatTensor(2, "a")
    with pytest.raises(RuntimeError, match="negative dimension"):
        dlcore.FloatTensor(-1)


def test_cuda_types(device):
    if device != "cuda":
        assert not isinstance(dlcore.zeros(2), dlcore.cuda.FloatTensor)
        return
    t = dlcore.cuda.FloatTensor(2, 2)
    assert t.device.type == "cuda" and t.dtype == dlcore.float32 and isinstance(t, dlcore.cuda.FloatTensor)
    assert not isinstance(t, dlcore.FloatTensor)
    assert dlcore.zeros(3).type("torch.cuda.LongTensor").device.type == "cuda"
    assert dlcore.cuda.LongTensor([1, 2]).tolist() == [1, 2]


def test_random_like_factories_accept_memory_format():
    x = dlcore.zeros(2, 3, dtype=dlcore.float64)
    for fn in (dlcore.rand_like, dlcore.randn_like):
        y = fn(x, memory_format=dlcore.preserve_format)
        assert y.shape == (2, 3) and y.dtype == dlcore.float64 and y.is_contiguous()
    r = dlcore.randint_like(x, 3, 7, memory_format=dlcore.contiguous_format)
    assert r.dtype == dlcore.float64 and 3 <= float(r.min()) and float(r.max()) < 7
