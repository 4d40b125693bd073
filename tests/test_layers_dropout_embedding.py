"""dropout / dropout2d (statistics, scaling, mask reuse in backward, seed reproducibility, ISA paths agree) and
embedding (gather, scatter-add backward with repeated indices, padding_idx, scale_grad_by_freq, max_norm)."""
import numpy as np
import pytest

import dlcore
import dlcore.functional as F
from dlcore.testing import assert_close, gradcheck
from conftest import requires_torch

ISAS = ["scalar", "avx2", "avx512"]


def _pin(isa):
    try:
        dlcore._C._set_cpu_isa(isa)
    except ValueError:
        pytest.skip(f"CPU lacks {isa}")


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_statistics(p, float_dtype):
    dlcore.manual_seed(0)
    n = 200_000
    x = dlcore.ones(n, dtype=getattr(dlcore, float_dtype))
    y = F.dropout(x, p).numpy()
    kept = y != 0
    frac = kept.mean()
    assert abs(frac - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)
    assert_close(y[kept], np.full(kept.sum(), 1 / (1 - p)), rtol=1e-6)
    assert abs(y.mean() - 1.0) < 6 * np.sqrt(p / (1 - p) / n)


def test_dropout_seed_reproducible_and_advances():
    x = dlcore.ones(1000)
    dlcore.manual_seed(123)
    a = F.dropout(x, 0.5).numpy()
    b = F.dropout(x, 0.5).numpy()
    dlcore.manual_seed(123)
    a2 = F.dropout(x, 0.5).numpy()
    assert (a == a2).all()
    assert not (a == b).all()


def test_dropout_isa_paths_and_threads_agree():
    x = dlcore.tensor(np.arange(1, 10_001, dtype=np.float32))
    outs = []
    for isa in ISAS:
        try:
            dlcore._C._set_cpu_isa(isa)
        except ValueError:
            continue
        for nt in (1, 2):
            dlcore.set_num_threads(nt)
            dlcore.manual_seed(7)
            outs.append(F.dropout(x, 0.3).numpy())
    for o in outs[1:]:
        assert (o == outs[0]).all()


def _philox4x32_10(blocks, seed):
    """NumPy Philox4x32-10 (Salmon et al. 2011): the 4 words of each 64-bit block counter under key seed."""
    m32 = np.uint64(0xFFFFFFFF)
    c = [blocks & m32, blocks >> np.uint64(32), np.zeros_like(blocks), np.zeros_like(blocks)]
    k0, k1 = np.uint64(seed & 0xFFFFFFFF), np.uint64(seed >> 32)
    for _ in range(10):
        p0, p1 = c[0] * np.uint64(0xD2511F53), c[2] * np.uint64(0xCD9E8D57)
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ k0, p1 & m32, (p0 >> np.uint64(32)) ^ c[3] ^ k1, p0 & m32]
        k0, k1 = (k0 + np.uint64(0x9E3779B9)) & m32, (k1 + np.uint64(0xBB67AE85)) & m32
    return np.stack(c, axis=1)  # [blocks, 4]


@pytest.mark.parametrize("isa", ISAS)
def test_dropout_mask_is_philox_across_the_32_bit_counter_carry(isa):
    """The mask vs a NumPy Philox oracle: element i keeps iff word i % 4 of block offset + i // 4, as a 24-bit
    uniform, is >= p. The offset puts the blocks across 2^32 (the counter's low word wraps inside one 16-block
    vector of the AVX-512 generator), with a ragged end."""
    _pin(isa)
    n, p, seed, offset = 4 * 40 + 3, 0.4, 0x123456789ABCDEF0, 2**32 - 21
    g = np.linspace(1.0, 2.0, n).astype(np.float32)
    out = dlcore._C.dropout_apply(dlcore.tensor(g), p, 1, seed, offset).numpy()
    words = _philox4x32_10(np.arange(offset, offset + (n + 3) // 4, dtype=np.uint64), seed).reshape(-1)[:n]
    keep = (words >> np.uint64(8)).astype(np.float64) / 2.0**24 >= p
    assert 0 < keep.sum() < n
    assert_close(out, np.where(keep, g / np.float32(0.6), 0.0), rtol=1e-6, atol=0)


def test_random_tensors_are_the_philox_stream():
    """rand (float32: word i % 4 of block i // 4; float64: words 2(i % 2), 2(i % 2) + 1 of block i // 2) and randn
    (Box-Muller of block i // 2, cos for even i, sin for odd) vs the NumPy Philox oracle, after a first draw that
    moves the generator's offset; odd sizes leave partial blocks."""
    seed = 4242
    dlcore.manual_seed(seed)
    a = dlcore.rand(1001).numpy()
    b = dlcore.rand(7, dtype=dlcore.float64).numpy()
    c = dlcore.randn(515, dtype=dlcore.float64).numpy()
    off_b = (1001 + 3) // 4
    off_c = off_b + (7 + 1) // 2
    w = _philox4x32_10(np.arange(0, off_b, dtype=np.uint64), seed).reshape(-1)[:1001]
    np.testing.assert_array_equal(a, ((w >> np.uint64(8)).astype(np.float64) / 2.0**24).astype(np.float32))

    def u53(w0, w1):
        v = (w0 << np.uint64(21)) ^ (w1 >> np.uint64(11))
        return (v & np.uint64(2**53 - 1)).astype(np.float64) / 2.0**53

    wb = _philox4x32_10(np.arange(off_b, off_c, dtype=np.uint64), seed).reshape(-1, 2)[:7]
    np.testing.assert_array_equal(b, u53(wb[:, 0], wb[:, 1]))
    wc = _philox4x32_10(np.arange(off_c, off_c + 258, dtype=np.uint64), seed)
    r = np.sqrt(-2.0 * np.log(1.0 - u53(wc[:, 0], wc[:, 1])))
    t = 2 * np.pi * u53(wc[:, 2], wc[:, 3])
    z = np.stack([r * np.cos(t), r * np.sin(t)], axis=1).reshape(-1)[:515]
    assert_close(c, z, rtol=1e-13, atol=1e-13)


def test_dropout_backward_reuses_mask(rng, device):
    dlcore.manual_seed(5)
    x = dlcore.tensor(rng.standard_normal((7, 33)), device=device, requires_grad=True)
    y = F.dropout(x, 0.4)
    g = rng.standard_normal((7, 33))
    y.backward(dlcore.tensor(g, device=device))
    mask = (y.detach().cpu().numpy() != 0)
    assert_close(x.grad.cpu().numpy(), np.where(mask, g / 0.6, 0.0), rtol=1e-12)
    # an unrelated draw in between does not change the backward (mask from the forward's seed/offset)
    dlcore.manual_seed(5)
    x2 = dlcore.tensor(x.detach().cpu().numpy(), device=device, requires_grad=True)
    y2 = F.dropout(x2, 0.4)
    dlcore.rand(100)
    y2.backward(dlcore.tensor(g, device=device))
    assert_close(x2.grad.cpu().numpy(), x.grad.cpu().numpy())


def test_dropout_gradcheck(rng, device):
    x = dlcore.tensor(rng.standard_normal((3, 4)), device=device, requires_grad=True)

    def fn(v):
        dlcore.manual_seed(11)
        return F.dropout(v, 0.5)
    gradcheck(fn, [x])


def test_dropout_modes(rng):
    x = dlcore.tensor(rng.standard_normal(50))
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert (F.dropout(x, 1.0).numpy() == 0).all()
    xc = dlcore.tensor(x.numpy())
    dlcore.manual_seed(3)
    r = F.dropout(xc, 0.5, inplace=True)
    dlcore.manual_seed(3)
    assert r is xc and (xc.numpy() == F.dropout(x, 0.5).numpy()).all()
    nc = dlcore.tensor(rng.standard_normal((6, 4))).transpose(0, 1)
    y = F.dropout(nc, 0.5).numpy()
    assert ((y == 0) | np.isclose(y, 2 * nc.numpy())).all()


def test_dropout_inplace_autograd(rng, device):
    w = dlcore.tensor(rng.standard_normal(40), device=device, requires_grad=True)
    h = w * 1.0
    F.dropout(h, 0.5, inplace=True)
    h.sum().backward()
    kept = h.detach().cpu().numpy() != 0
    assert_close(w.grad.cpu().numpy(), np.where(kept, 2.0, 0.0))


def test_dropout2d(rng, device):
    dlcore.manual_seed(1)
    x = dlcore.tensor(rng.standard_normal((8, 16, 3, 5)) + 10, device=device, requires_grad=True)
    y = F.dropout2d(x, 0.5)
    yn = y.detach().cpu().numpy()
    planes = (yn != 0).reshape(8, 16, -1)
    assert (planes.all(-1) | ~planes.any(-1)).all()  # whole channels kept or dropped
    assert 0.2 < planes.all(-1).mean() < 0.8
    y.sum().backward()
    assert_close(x.grad.cpu().numpy(), np.where(yn != 0, 2.0, 0.0))
    with pytest.raises(ValueError, match="dropout2d"):
        F.dropout2d(dlcore.zeros(3, 4, device=device), 0.5)


def test_dropout_bad_input():
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(dlcore.zeros(3), 1.5)
    with pytest.raises(TypeError, match="float32 or float64"):
        F.dropout(dlcore.zeros(3, dtype=dlcore.int64), 0.5)


# ------------------------------------------------------------------------------------------------ embedding

def test_embedding_forward_backward(rng, device):
    V, D = 7, 5
    w0 = rng.standard_normal((V, D))
    idx = np.array([[1, 3, 1], [6, 0, 1]])
    w = dlcore.tensor(w0, device=device, requires_grad=True)
    out = F.embedding(dlcore.tensor(idx, device=device), w)
    assert tuple(out.shape) == (2, 3, D)
    assert_close(out.detach().cpu().numpy(), w0[idx])
    g = rng.standard_normal((2, 3, D))
    out.backward(dlcore.tensor(g, device=device))
    ref = np.zeros((V, D))
    np.add.at(ref, idx.reshape(-1), g.reshape(-1, D))
    assert_close(w.grad.cpu().numpy(), ref, rtol=1e-12)
    gradcheck(lambda ww: F.embedding(dlcore.tensor(idx, device=device), ww), [dlcore.tensor(w0, device=device, requires_grad=True)])


@pytest.mark.parametrize("D", [1, 3, 300])
def test_embedding_padding_and_freq(D, rng, device):
    V = 6
    w0 = rng.standard_normal((V, D)).astype(np.float32)
    idx = np.array([2, 2, 5, 0, 2, 5])
    w = dlcore.tensor(w0, device=device, requires_grad=True)
    g = rng.standard_normal((6, D)).astype(np.float32)
    F.embedding(dlcore.tensor(idx, device=device), w, padding_idx=5, scale_grad_by_freq=True).backward(dlcore.tensor(g, device=device))
    ref = np.zeros((V, D))
    cnt = np.bincount(idx, minlength=V)
    for i, v in enumerate(idx):
        if v != 5:
            ref[v] += g[i] / cnt[v]
    assert_close(w.grad.cpu().numpy(), ref, rtol=1e-5, atol=1e-6)


@requires_torch
def test_embedding_vs_torch(rng):
    import torch
    w0 = rng.standard_normal((10, 4)).astype(np.float32)
    idx = rng.integers(0, 10, (5, 3))
    wd, wt = dlcore.tensor(w0, requires_grad=True), torch.tensor(w0, requires_grad=True)
    yd = F.embedding(dlcore.tensor(idx), wd, padding_idx=-1)
    yt = torch.nn.functional.embedding(torch.tensor(idx), wt, padding_idx=-1)
    g = rng.standard_normal(yt.shape).astype(np.float32)
    yd.backward(dlcore.tensor(g))
    yt.backward(torch.tensor(g))
    assert_close(yd.detach().numpy(), yt.detach().numpy())
    assert_close(wd.grad.numpy(), wt.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_embedding_max_norm(rng, device):
    w0 = rng.standard_normal((4, 3)) * 5
    w = dlcore.tensor(w0, device=device)
    out = F.embedding(dlcore.tensor([0, 2], device=device), w, max_norm=1.0)
    n = np.linalg.norm(out.cpu().numpy(), axis=1)
    assert (n <= 1.0 + 1e-6).all()
    assert_close(w.cpu().numpy()[1], w0[1])  # untouched row


def test_embedding_bad_input():
    w = dlcore.zeros(4, 3)
    with pytest.raises(IndexError, match="embedding.*index 4 is out of range for 4"):
        F.embedding(dlcore.tensor([0, 4]), w)
    with pytest.raises(IndexError, match="out of range"):
        F.embedding(dlcore.tensor([-1]), w)
    with pytest.raises(TypeError, match="integer"):
        F.embedding(dlcore.tensor([0.0]), w)
    with pytest.raises(ValueError, match="2-D weight"):
        F.embedding(dlcore.tensor([0]), dlcore.zeros(4))
    with pytest.raises(ValueError, match="padding_idx"):
        F.embedding(dlcore.tensor([0]), w, padding_idx=9)


# ------------------------------------------------------------------------------------------------ cuda kernels
# Emulated in CI. The dropout mask and random tensors come from the same counter-based Philox words on both devices:
# the same seed gives the same elements. Fresh device memory is poisoned (NaN), so unwritten elements show.
cuda_only = pytest.mark.skipif(not dlcore.cuda.is_available(), reason="no cuda device in this build")


@cuda_only
@pytest.mark.parametrize("shape,fn", [((1,), "dropout"), ((5,), "dropout"), ((7, 33), "dropout"), ((1001,), "dropout"),
                                      ((3, 5, 2, 3), "dropout2d"), ((2, 3, 7, 1), "dropout2d")])
@pytest.mark.parametrize("p", [0.3, 0.5])
def test_cuda_dropout_mask_equals_cpu(shape, fn, p, float_dtype, rng):
    x = (rng.standard_normal(shape) + 3).astype(float_dtype)  # no zeros: a zero output means dropped
    g = rng.standard_normal(shape).astype(float_dtype)
    res = {}
    for dev in ("cpu", "cuda"):
        dlcore.manual_seed(1234)
        F.dropout(dlcore.ones(3, device=dev), 0.5)  # advance the generator: the offset matters too
        xd = dlcore.tensor(x, device=dev, requires_grad=True)
        y = getattr(F, fn)(xd, p)
        y.backward(dlcore.tensor(g, device=dev))
        assert y.device.type == dev
        res[dev] = (y.detach().cpu().numpy(), xd.grad.cpu().numpy())
    for a, e in zip(res["cuda"], res["cpu"]):
        assert not np.isnan(a).any()
        np.testing.assert_array_equal(a, e)  # the same mask and the same arithmetic: bit-identical
    if np.prod(shape) > 100:
        assert 0 < (res["cuda"][0] == 0).mean() < 1


@cuda_only
def test_cuda_dropout_inplace_and_p1(rng):
    x = rng.standard_normal(300).astype(np.float32) + 3
    dlcore.manual_seed(9)
    ref = F.dropout(dlcore.tensor(x), 0.4).numpy()
    xd = dlcore.tensor(x, device="cuda")
    dlcore.manual_seed(9)
    F.dropout(xd, 0.4, inplace=True)
    np.testing.assert_array_equal(xd.cpu().numpy(), ref)
    assert (F.dropout(dlcore.tensor(x, device="cuda"), 1.0).cpu().numpy() == 0).all()


@cuda_only
@pytest.mark.parametrize("make", [
    lambda dev: dlcore.rand(1001, device=dev),
    lambda dev: dlcore.rand(3, 7, dtype=dlcore.float64, device=dev),
    lambda dev: dlcore.randint(-5, 9, (257,), device=dev),
    lambda dev: dlcore.bernoulli(dlcore.full((130,), 0.3, device=dev)),
    lambda dev: dlcore.randn(515, device=dev),
    lambda dev: dlcore.randn(33, dtype=dlcore.float64, device=dev),
], ids=["uniform", "uniform64", "randint", "bernoulli", "normal", "normal64"])
def test_cuda_random_tensors_equal_cpu(make):
    res = {}
    for dev in ("cpu", "cuda"):
        dlcore.manual_seed(77)
        make(dev)  # a first draw moves the offset
        t = make(dev)
        assert t.device.type == dev
        res[dev] = t.cpu().numpy()
    assert res["cuda"].dtype == res["cpu"].dtype
    # Box-Muller's float64 log/cos/sin may differ in the last bit of a double on a real GPU: normals compare to
    # one double ulp; everything else is bit-identical
    if res["cpu"].dtype.kind == "f":
        assert_close(res["cuda"], res["cpu"], rtol=4e-16, atol=0)
    else:
        np.testing.assert_array_equal(res["cuda"], res["cpu"])


@cuda_only
def test_cuda_uniform_bit_identical(rng):
    dlcore.manual_seed(5)
    a = dlcore.rand(777, device="cuda").cpu().numpy()
    dlcore.manual_seed(5)
    b = dlcore.rand(777).numpy()
    np.testing.assert_array_equal(a, b)


@cuda_only
@pytest.mark.parametrize("V,D,M", [(7, 5, 6), (3, 33, 40), (50, 1, 3)])
def test_cuda_embedding_matches_cpu(V, D, M, float_dtype, rng):
    w0 = rng.standard_normal((V, D)).astype(float_dtype)
    idx = rng.integers(0, V, M)
    idx[: M // 2] = idx[0]  # many repeats of one row: the atomic scatter-add path
    g = rng.standard_normal((M, D)).astype(float_dtype)
    for pad, freq in ((-1, False), (int(idx[-1]), True)):
        res = {}
        for dev in ("cpu", "cuda"):
            w = dlcore.tensor(w0, device=dev, requires_grad=True)
            out = F.embedding(dlcore.tensor(idx, device=dev), w, padding_idx=None if pad < 0 else pad,
                              scale_grad_by_freq=freq)
            out.backward(dlcore.tensor(g, device=dev))
            res[dev] = (out.detach().cpu().numpy(), w.grad.cpu().numpy())
        np.testing.assert_array_equal(res["cuda"][0], res["cpu"][0])
        assert not np.isnan(res["cuda"][1]).any()
        tol = dict(rtol=1e-5, atol=1e-5) if float_dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
        assert_close(res["cuda"][1], res["cpu"][1], **tol)


@cuda_only
def test_cuda_embedding_bad_index():
    w = dlcore.zeros(4, 3, device="cuda")
    with pytest.raises(IndexError, match="embedding.*index 4 is out of range for 4"):
        F.embedding(dlcore.tensor([0, 4], device="cuda"), w)
    with pytest.raises(ValueError, match="device"):
        F.embedding(dlcore.tensor([0, 1]), w)
