"""Data: IDX reader on generated and corrupt files, Fashion-MNIST checks, loader determinism and prefetch,
random_split, transforms."""
import gzip
import os

import numpy as np
import pytest

import dlcore
from dlcore import data as D
from dlcore.data.idx import write_idx


@pytest.fixture
def fake_mnist(tmp_path, rng):
    imgs = rng.integers(0, 256, (50, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 50, dtype=np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", imgs)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", imgs[:20])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels[:20])
    return tmp_path, imgs, labels


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, rng, dtype, gz):
    a = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    p = tmp_path / ("x.idx.gz" if gz else "x.idx")
    write_idx(p, a)
    b = D.read_idx(p)
    assert b.dtype == a.dtype and b.shape == a.shape
    np.testing.assert_array_equal(a, b)


def test_idx_corrupt_files(tmp_path):
    good = bytes([0, 0, 8, 1]) + (3).to_bytes(4, "big") + b"abc"
    cases = {
        "magic": (b"\x01\x00\x08\x01" + good[4:], "magic"),
        "type": (bytes([0, 0, 0x55, 1]) + good[4:], "type code"),
        "truncated": (good[:-1], "size mismatch"),
        "extra": (good + b"x", "size mismatch"),
        "short": (b"\x00\x00", "too short"),
        "header": (bytes([0, 0, 8, 3]) + b"\x00\x00", "truncated header"),
        "gzip": (b"\x1f\x8b" + b"garbage" * 3, "gzip"),
    }
    for name, (data, msg) in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(D.IdxError, match=msg):
            D.read_idx(p)
    p = tmp_path / "ok"
    p.write_bytes(good)
    assert D.read_idx(p).tolist() == [97, 98, 99]


def test_fashion_mnist_from_directory(fake_mnist):
    d, imgs, labels = fake_mnist
    ds = D.FashionMNIST(root=str(d), train=True)
    assert len(ds) == 50
    x, y = ds[3]
    assert x.shape == (1, 28, 28) and y == labels[3]
    np.testing.assert_allclose(x[0], imgs[3] / 255.0, rtol=1e-6)
    test = D.FashionMNIST(root=str(d), train=False)
    assert len(test) == 20


def test_fashion_mnist_mismatch_and_missing(tmp_path, rng):
    write_idx(tmp_path / "train-images-idx3-ubyte", rng.integers(0, 256, (5, 28, 28), dtype=np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", rng.integers(0, 10, 4, dtype=np.uint8))
    with pytest.raises(D.IdxError, match="5 images but 4 labels"):
        D.FashionMNIST(root=str(tmp_path))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([1, 2, 3, 4, 12], np.uint8))
    with pytest.raises(D.IdxError, match="out of range"):
        D.FashionMNIST(root=str(tmp_path))
    empty = tmp_path / "empty"
    empty.mkdir()
    old = os.environ.pop("DLCORE_DATA", None)
    try:
        with pytest.raises(FileNotFoundError, match="apt-get install dataset-mnist"):
            D.MNIST(root=str(empty))
    finally:
        if old is not None:
            os.environ["DLCORE_DATA"] = old
    with pytest.raises(RuntimeError, match="never downloads"):
        D.FashionMNIST(root=str(tmp_path), download=True)


def test_loader_batches_shuffle_and_determinism():
    x = np.arange(103, dtype=np.float32).reshape(103, 1)
    y = np.arange(103)
    ds = D.TensorDataset(x, y)
    dl = D.DataLoader(ds, batch_size=10, shuffle=True, seed=5)
    assert len(dl) == 11
    e0 = [b[1].tolist() for b in dl]
    e1 = [b[1].tolist() for b in dl]
    assert sorted(sum(e0, [])) == list(range(103))
    assert e0 != e1  # a new order per epoch
    dl2 = D.DataLoader(ds, batch_size=10, shuffle=True, seed=5, prefetch=0)
    assert [b[1].tolist() for b in dl2] == e0  # same seed: same order, with or without the prefetch thread
    assert [b[1].tolist() for b in dl2] == e1
    dl3 = D.DataLoader(ds, batch_size=10, drop_last=True)
    batches = list(dl3)
    assert len(batches) == len(dl3) == 10 and batches[0][1].tolist() == list(range(10))
    assert batches[0][0].dtype == dlcore.float32 and batches[0][1].dtype == dlcore.int64


def test_loader_per_sample_collate_and_errors():
    class Squares(D.Dataset):
        def __len__(self):
            return 7

        def __getitem__(self, i):
            if i == 5:
                raise KeyError("boom")
            return np.full((2,), i * i, np.float32), i

    dl = D.DataLoader(Squares(), batch_size=3)
    it = iter(dl)
    x, y = next(it)
    assert x.tolist() == [[0, 0], [1, 1], [4, 4]] and y.tolist() == [0, 1, 2]
    with pytest.raises(KeyError, match="boom"):  # errors in the prefetch thread reach the caller
        next(it)
    with pytest.raises(ValueError, match="batch_size"):
        D.DataLoader(Squares(), batch_size=0)


def test_random_split_is_a_partition():
    ds = D.TensorDataset(np.arange(100))
    a, b = D.random_split(ds, [80, 20], generator=3)
    ia = [int(a[i][0]) for i in range(len(a))]
    ib = [int(b[i][0]) for i in range(len(b))]
    assert len(ia) == 80 and len(ib) == 20 and sorted(ia + ib) == list(range(100))
    a2, _ = D.random_split(ds, [0.8, 0.2], generator=3)
    assert [int(a2[i][0]) for i in range(80)] == ia
    with pytest.raises(ValueError, match="sum of lengths"):
        D.random_split(ds, [50, 20])


def test_transforms(rng):
    T = D.transforms
    imgs = rng.integers(0, 256, (6, 8, 8), dtype=np.uint8)
    x = T.ToTensor().batch(imgs)
    assert x.shape == (6, 1, 8, 8) and x.dtype == np.float32 and x.max() <= 1.0
    n = T.Normalize([0.5], [0.25]).batch(x)
    np.testing.assert_allclose(n, (x - 0.5) / 0.25, rtol=1e-6)
    f = T.RandomHorizontalFlip(p=1.0, seed=0).batch(x)
    np.testing.assert_array_equal(f, x[..., ::-1])
    c = T.RandomCrop(8, padding=2, seed=1).batch(x)
    assert c.shape == x.shape
    # every crop is a translated copy: its non-padding pixels appear in the source image
    for i in range(6):
        nz = c[i][c[i] > 0]
        assert np.isin(nz, x[i]).all()
    one = T.Compose([T.ToTensor(), T.Normalize([0.5], [0.25])])(imgs[0])
    np.testing.assert_allclose(one, n[0], rtol=1e-6)
    with pytest.raises(ValueError, match="larger than the padded"):
        T.RandomCrop(20).batch(x)


@pytest.mark.skipif(not os.path.isdir("/usr/share/datasets/fashion-mnist") and not os.environ.get("DLCORE_DATA"),
                    reason="Fashion-MNIST (dataset-fashion-mnist) is not installed")
def test_real_fashion_mnist_files():
    ds = D.FashionMNIST(train=False)
    assert len(ds) == 10000 and ds.images.shape == (10000, 28, 28)
    counts = np.bincount(ds.targets, minlength=10)
    assert counts.tolist() == [1000] * 10


def test_default_loader_keeps_random_draws_in_program_order():
    """num_workers=0 (default prefetch 0) reads in the caller's thread like torch: a dataset drawing from dlcore's
    global generator and a training loop drawing between batches give the same values in every run."""
    class Noisy(D.Dataset):
        def __len__(self):
            return 40

        def __getitem__(self, i):
            return dlcore.rand(3)

    def run():
        dlcore.manual_seed(7)
        out = []
        for b in D.DataLoader(Noisy(), batch_size=4):
            out.append(b.sum().item())
            out.append(dlcore.rand(1).item())  # e.g. dropout in the model
        return out

    assert run() == run()
    assert D.DataLoader(Noisy()).prefetch == 0
