"""Regression tests for bugs found in a review of this session's data / serialization / tensor-method code; each
compares with PyTorch (or with the safetensors package) on the case that used to go wrong."""
import io
import struct

import numpy as np
import pytest

import dlcore
from dlcore.data import DataLoader, TensorDataset


# ------------------------------------------------------------------------------------------------- serialization

def _header_len(data):
    return struct.unpack("<Q", data[:8])[0]


@pytest.mark.parametrize("prefix,lengths", [(b"\x80", range(1, 400)), (b"PK", range(6000, 7000))])
def test_load_accepts_header_whose_size_starts_like_a_pickle_or_zip(prefix, lengths):
    """A safetensors header of n bytes with n % 256 == 0x80 (pickle's first byte) or n % 65536 == 0x4B50 ("PK", a
    zip's first bytes) is a valid file; it used to be rejected as a torch.save file."""
    t = dlcore.arange(6.).reshape(2, 3)
    for n in lengths:
        buf = io.BytesIO()
        dlcore.save({"k" * n: t}, buf)
        data = buf.getvalue()
        if data.startswith(prefix):
            break
    else:
        pytest.fail("no key length gives the wanted header size")
    back = dlcore.load(io.BytesIO(data))
    np.testing.assert_array_equal(np.asarray(back["k" * n]), np.arange(6.).reshape(2, 3))


def test_load_safetensors_file_with_header_size_0x80_mod_256():
    st = pytest.importorskip("safetensors.numpy")
    for n in range(1, 400):
        data = st.save({"w" * n: np.arange(4, dtype=np.float32)})
        if data[0] == 0x80:
            break
    assert data[0] == 0x80
    back = dlcore.load(io.BytesIO(data))
    np.testing.assert_array_equal(np.asarray(back["w" * n]), np.arange(4, dtype=np.float32))


def test_load_still_names_torch_pickle_and_zip_files():
    torch = pytest.importorskip("torch")
    for kwargs in ({}, {"_use_new_zipfile_serialization": False}):
        buf = io.BytesIO()
        torch.save({"w": torch.ones(2)}, buf, **kwargs)
        with pytest.raises(dlcore.serialization.CheckpointError, match="torch.save"):
            dlcore.load(io.BytesIO(buf.getvalue()))


# ------------------------------------------------------------------------------------------------- Tensor.tolist

def test_tolist_of_tensor_requiring_grad_matches_torch():
    torch = pytest.importorskip("torch")
    v = [[1.5, -2.0], [0.25, 3.0]]
    assert dlcore.tensor(v, requires_grad=True).tolist() == torch.tensor(v, requires_grad=True).tolist()
    x = dlcore.tensor(v, requires_grad=True)
    assert (x * 2).tolist() == (torch.tensor(v, requires_grad=True) * 2).tolist()


def test_tolist_of_bfloat16_matches_torch():
    torch = pytest.importorskip("torch")
    v = [1.5, -2.0, 3.140625, 1e20]
    assert dlcore.tensor(v, dtype=dlcore.bfloat16).tolist() == torch.tensor(v, dtype=torch.bfloat16).tolist()
    assert dlcore.tensor(2.5, dtype=dlcore.bfloat16).tolist() == torch.tensor(2.5, dtype=torch.bfloat16).tolist()


# ------------------------------------------------------------------------------------------------- TensorDataset

def test_tensor_dataset_of_bfloat16_tensor_loads_like_torch():
    torch = pytest.importorskip("torch")
    x = np.arange(8, dtype=np.float32).reshape(4, 2) / 4
    tb = [b for b in torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(x, dtype=torch.bfloat16), torch.arange(4)), batch_size=3)]
    db = [b for b in DataLoader(TensorDataset(dlcore.tensor(x, dtype=dlcore.bfloat16), dlcore.arange(4)),
                                batch_size=3)]
    assert len(tb) == len(db)
    for t, d in zip(tb, db):
        assert d[0].dtype == dlcore.bfloat16
        assert d[0].float().tolist() == t[0].float().tolist()
        assert d[1].tolist() == t[1].tolist()


def test_tensor_dataset_batches_keep_requires_grad_like_torch():
    torch = pytest.importorskip("torch")
    tb = next(iter(torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.ones(4, 2, requires_grad=True)), batch_size=2)))
    db = next(iter(DataLoader(TensorDataset(dlcore.ones(4, 2, requires_grad=True)), batch_size=2)))
    assert db[0].requires_grad == tb[0].requires_grad


def test_tensor_dataset_batches_read_the_current_tensor_data():
    """A batch reads the tensor as it is now (like a single sample does), not a copy taken at construction."""
    x = dlcore.zeros(4)
    ds = TensorDataset(x)
    x.data = dlcore.ones(4)
    assert ds[0][0].item() == 1.0
    batch = next(iter(DataLoader(ds, batch_size=2)))
    assert batch[0].tolist() == [1.0, 1.0]


def test_tensor_dataset_numpy_fields_and_mixed_still_batch():
    a = np.arange(10, dtype=np.float32).reshape(5, 2)
    y = dlcore.arange(5)
    out = list(DataLoader(TensorDataset(a, y), batch_size=2, shuffle=False))
    assert [b[1].tolist() for b in out] == [[0, 1], [2, 3], [4]]
    assert out[0][0].tolist() == [[0.0, 1.0], [2.0, 3.0]]


# ------------------------------------------------------------------------------------------------- pickling (what
# DataLoader workers send back)

@pytest.mark.parametrize("make", [
    lambda m: m.tensor(3.5),
    lambda m: m.tensor(7),
    lambda m: m.tensor([1.5, -2.0], dtype=m.bfloat16),
    lambda m: m.tensor(2.5, dtype=m.bfloat16),
    lambda m: m.zeros(2, 0),
    lambda m: m.arange(6.).reshape(2, 3).t(),
])
def test_pickle_round_trip_keeps_shape_and_dtype_like_torch(make):
    import pickle
    torch = pytest.importorskip("torch")
    t = pickle.loads(pickle.dumps(make(torch)))
    d = pickle.loads(pickle.dumps(make(dlcore)))
    assert tuple(d.shape) == tuple(t.shape)
    assert d.dtype.name == str(t.dtype).split(".")[-1]
    assert d.float().tolist() == t.float().tolist()


class _ScalarSamples:
    def __len__(self):
        return 3

    def __getitem__(self, i):
        return dlcore.tensor(float(i))


class _Bf16Samples:
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return dlcore.tensor([i / 4, -i], dtype=dlcore.bfloat16)


def test_worker_returns_0d_samples_unbatched_like_torch():
    torch = pytest.importorskip("torch")

    class T:
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return torch.tensor(float(i))

    tb = list(torch.utils.data.DataLoader(T(), batch_size=None, num_workers=1))
    db = list(DataLoader(_ScalarSamples(), batch_size=None, num_workers=1))
    assert [tuple(b.shape) for b in db] == [tuple(b.shape) for b in tb] == [(), (), ()]
    assert [b.item() for b in db] == [b.item() for b in tb]


def test_worker_returns_bfloat16_batches():
    db = list(DataLoader(_Bf16Samples(), batch_size=2, num_workers=1))
    assert [b.dtype for b in db] == [dlcore.bfloat16] * 2
    assert [b.float().tolist() for b in db] == [[[0.0, 0.0], [0.25, -1.0]], [[0.5, -2.0], [0.75, -3.0]]]


# ------------------------------------------------------------------------------------------------- torch.embedding_bag

@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("include_last_offset", [False, True])
def test_embedding_bag_helper_outputs_match_torch(mode, include_last_offset):
    torch = pytest.importorskip("torch")
    w = np.random.default_rng(0).standard_normal((10, 3)).astype(np.float32)
    idx = np.array([1, 2, 4, 5, 4, 3, 2, 9])
    off = np.array([0, 2, 2, 8]) if include_last_offset else np.array([0, 2, 2])
    t = torch.embedding_bag(torch.tensor(w), torch.tensor(idx), torch.tensor(off), False, mode, False, None,
                            include_last_offset)
    d = dlcore.embedding_bag(dlcore.tensor(w), dlcore.tensor(idx), dlcore.tensor(off), False, mode, False, None,
                             include_last_offset)
    np.testing.assert_allclose(np.asarray(d[0].tolist()), t[0].numpy(), rtol=1e-6, atol=1e-6)
    for a, b in zip(t[1:], d[1:]):
        assert tuple(b.shape) == tuple(a.shape)
        assert b.tolist() == a.tolist()


# ------------------------------------------------------------------------------------------------- autograd.gradcheck

def test_gradcheck_with_scalar_output_and_0d_input_like_torch():
    torch = pytest.importorskip("torch")
    from dlcore.autograd import gradcheck, gradgradcheck
    xv = np.array([0.3, -1.2, 0.8])
    x = dlcore.tensor(xv, dtype=dlcore.float64, requires_grad=True)
    tx = torch.tensor(xv, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda a: (a * a).sum(), (x,)) is torch.autograd.gradcheck(lambda a: (a * a).sum(), (tx,))
    assert gradgradcheck(lambda a: (a.sin() * a).sum(), (x,)) is \
        torch.autograd.gradgradcheck(lambda a: (a.sin() * a).sum(), (tx,))
    s = dlcore.tensor(0.7, dtype=dlcore.float64, requires_grad=True)
    assert gradcheck(lambda a: a.exp(), (s,)) is True


def test_gradcheck_still_catches_a_wrong_scalar_gradient():
    from dlcore.autograd import Function, gradcheck

    class Wrong(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return (x * x).sum()

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x  # should be 2 g x

    x = dlcore.tensor([0.3, -1.2, 0.8], dtype=dlcore.float64, requires_grad=True)
    assert gradcheck(Wrong.apply, (x,), raise_exception=False) is False


# ------------------------------------------------------------------------------------------------- 0-d tensors in
# Tensor methods built on NumPy

def test_shift_of_0d_tensor_and_int_is_0d_like_torch():
    torch = pytest.importorskip("torch")
    for fn in ("bitwise_left_shift", "bitwise_right_shift"):
        t = getattr(torch, fn)(torch.tensor(20), 2)
        d = getattr(dlcore, fn)(dlcore.tensor(20), 2)
        assert tuple(d.shape) == tuple(t.shape) == ()
        assert d.item() == t.item()
        t = getattr(torch, fn)(3, torch.tensor(1))
        d = getattr(dlcore, fn)(3, dlcore.tensor(1))
        assert tuple(d.shape) == tuple(t.shape) and d.item() == t.item()


def test_apply_and_map_on_0d_tensor_like_torch():
    torch = pytest.importorskip("torch")
    t, d = torch.tensor(2.0), dlcore.tensor(2.0)
    t.apply_(lambda v: v * 3 + 1)
    d.apply_(lambda v: v * 3 + 1)
    assert tuple(d.shape) == () and d.item() == t.item()
    t.map_(torch.tensor(0.5), lambda a, b: a - b)
    d.map_(dlcore.tensor(0.5), lambda a, b: a - b)
    assert tuple(d.shape) == () and d.item() == t.item()


def test_parameter_on_another_device_names_the_op():
    """layer_norm / group_norm with a weight, masked_fill with a mask on another device: the error names the op
    (it named mul / where, the arithmetic inside)."""
    from conftest import DEVICES
    if "cuda" not in DEVICES:
        pytest.skip("no cuda device in this build")
    import dlcore.nn.functional as F
    x = dlcore.randn(2, 4, device="cuda")
    w = dlcore.ones(4)
    with pytest.raises(RuntimeError, match=r"layer_norm\(\): expected 'weight' on cuda:0"):
        F.layer_norm(x, (4,), w)
    with pytest.raises(RuntimeError, match=r"group_norm\(\): expected 'bias' on cuda:0"):
        F.group_norm(x.reshape(2, 4, 1), 2, None, w)
    with pytest.raises(RuntimeError, match=r"masked_fill\(\): expected 'mask' on cuda:0"):
        x.masked_fill(dlcore.zeros(2, 4, dtype=dlcore.bool), 1.0)
    assert F.layer_norm(x, (4,), w.cuda()).device == x.device


def test_default_device_is_per_thread_and_survives_another_threads_reset():
    import threading
    from conftest import DEVICES
    if "cuda" not in DEVICES:
        pytest.skip("no cuda device in this build")
    ready, reset, out = threading.Event(), threading.Event(), []

    def worker():
        dlcore.set_default_device("cuda")
        ready.set()
        reset.wait(10)
        out.append(dlcore.zeros(2).device.type)
        dlcore.set_default_device(None)

    t = threading.Thread(target=worker)
    t.start()
    ready.wait(10)
    assert dlcore.zeros(2).device.type == "cpu"  # this thread's default is still the cpu
    dlcore.set_default_device("cpu")  # a reset here must not drop the worker's default
    reset.set()
    t.join(10)
    assert out == ["cuda"]
    assert dlcore.zeros(2).device.type == "cpu"
    from dlcore import _torch_extra2
    _torch_extra2._install_factories(False)  # (test hygiene: the plain factories again)
