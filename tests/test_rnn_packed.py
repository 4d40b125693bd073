"""Variable-length sequences: dlcore.nn.utils.rnn (PackedSequence, pack_padded_sequence, pad_packed_sequence,
pad_sequence, pack_sequence, unpad_sequence, unpack_sequence) against torch.nn.utils.rnn, and dlcore.nn.LSTM / GRU /
RNN on a PackedSequence against torch.nn with copied weights: outputs, h_n / c_n and every gradient (input, weights,
initial states) for unsorted and sorted batches, batch_first both ways, several layers, both directions, lengths with
duplicates, of 1, all equal; a float64 gradient check; kernel calls per layer and direction = number of distinct
lengths; the bad-input catalogue. Tests taking `device` run on cpu and on cuda (emulated in CI)."""
import numpy as np
import pytest

import dlcore
from dlcore import _C
from dlcore import _nn_rnn
from dlcore.nn.utils import rnn as R
from dlcore.testing import gradcheck

torch = pytest.importorskip("torch")
TR = torch.nn.utils.rnn


def _t(a, device="cpu", grad=False, dtype="float64"):
    return dlcore.tensor(np.asarray(a, dtype=dtype), device=device, requires_grad=grad)


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def _close(a, b, tol, what):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs {b.shape}"
    err = np.abs(a - b)
    bound = tol + tol * np.abs(b)
    if not (err <= bound).all():
        i = np.unravel_index(np.argmax(err - bound), a.shape)
        raise AssertionError(f"{what}: max error {err.max():.3e}; at {list(i)}: {a[i]!r} vs {b[i]!r}")


def _loss(ts, gs, device):
    """sum_k <t_k, g_k>: one scalar, so every output gets its gradient in one backward."""
    total = None
    for t, g in zip(ts, gs):
        v = (t * _t(g, device, dtype=str(t.dtype).replace("dlcore.", ""))).sum()
        total = v if total is None else total + v
    return total


# ------------------------------------------------------------------------------------------ pack / pad

@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_pack_pad_round_trip_vs_torch(batch_first, enforce_sorted, device, rng):
    lens = [5, 3, 3, 1] if enforce_sorted else [3, 5, 1, 3, 3]
    B, T, F = len(lens), 6, 2
    x = rng.standard_normal((B, T, F) if batch_first else (T, B, F))
    dx, tx = _t(x, device, grad=True), torch.tensor(x, requires_grad=True)
    for lengths in (lens, _t(lens, dtype="int64"), np.array(lens)):
        dp = R.pack_padded_sequence(dx, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
        tp = TR.pack_padded_sequence(tx, lens, batch_first=batch_first, enforce_sorted=enforce_sorted)
        assert isinstance(dp, R.PackedSequence) and isinstance(dp, tuple)
        _close(_np(dp.data), tp.data.detach().numpy(), 0, "packed data")
        assert dp.batch_sizes.device.type == "cpu" and str(dp.batch_sizes.dtype) == "dlcore.int64"
        assert dp.batch_sizes.tolist() == tp.batch_sizes.tolist()
        if enforce_sorted:
            assert dp.sorted_indices is None and dp.unsorted_indices is None
        else:
            assert dp.sorted_indices.tolist() == tp.sorted_indices.tolist()
            assert dp.unsorted_indices.tolist() == tp.unsorted_indices.tolist()
            assert dp.sorted_indices.device == dx.device
    dpad, dl = R.pad_packed_sequence(dp, batch_first=batch_first, padding_value=-2.5, total_length=7)
    tpad, tl = TR.pad_packed_sequence(tp, batch_first=batch_first, padding_value=-2.5, total_length=7)
    _close(_np(dpad), tpad.detach().numpy(), 0, "padded")
    assert dl.tolist() == tl.tolist() == lens and dl.device.type == "cpu"
    g = rng.standard_normal(tuple(tpad.shape))
    tpad.backward(torch.tensor(g))
    _loss([dpad], [g], device).backward()
    _close(_np(dx.grad), tx.grad.numpy(), 1e-12, "grad through pack + pad")
    # default total_length: the longest length; values only where the sequence is
    dpad2, _ = R.pad_packed_sequence(dp, batch_first=batch_first)
    x_valid = np.where((np.arange(T)[None, :] < np.array(lens)[:, None])[:, :, None] if batch_first
                       else (np.arange(T)[:, None] < np.array(lens)[None, :])[:, :, None], x, 0.0)
    ref = x_valid[:, :max(lens)] if batch_first else x_valid[:max(lens)]
    _close(_np(dpad2), ref, 0, "padded with zeros")


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence_vs_torch(batch_first, side, device, rng):
    for shapes in ([(2, 3), (0, 3), (4, 3), (4, 3)], [(3,), (1,), (2,)]):
        seqs = [rng.standard_normal(s) for s in shapes]
        ds = [_t(s, device, grad=True) for s in seqs]
        ts = [torch.tensor(s, requires_grad=True) for s in seqs]
        d = R.pad_sequence(ds, batch_first=batch_first, padding_value=1.5, padding_side=side)
        t = TR.pad_sequence(ts, batch_first=batch_first, padding_value=1.5, padding_side=side)
        _close(_np(d), t.detach().numpy(), 0, f"pad_sequence {shapes}")
        g = rng.standard_normal(tuple(t.shape))
        t.backward(torch.tensor(g))
        _loss([d], [g], device).backward()
        for a, b in zip(ds, ts):
            _close(_np(a.grad) if a.grad is not None else np.zeros(b.shape), b.grad.numpy(), 1e-12, "grad")
    ints = R.pad_sequence([_t([1, 2], device, dtype="int64"), _t([3], device, dtype="int64")], padding_value=-1)
    assert str(ints.dtype) == "dlcore.int64" and ints.cpu().numpy().tolist() == [[1, 3], [2, -1]]


def test_pack_sequence_unpack_unpad(device, rng):
    seqs = [rng.standard_normal((n, 3)) for n in (2, 4, 1, 4)]
    ds = [_t(s, device) for s in seqs]
    dp = R.pack_sequence(ds, enforce_sorted=False)
    tp = TR.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    _close(_np(dp.data), tp.data.numpy(), 0, "pack_sequence data")
    assert dp.batch_sizes.tolist() == tp.batch_sizes.tolist()
    back = R.unpack_sequence(dp)
    assert len(back) == len(seqs)
    for a, s in zip(back, seqs):
        _close(_np(a), s, 0, "unpack_sequence")
    for bf in (False, True):
        padded = R.pad_sequence(ds, batch_first=bf)
        out = R.unpad_sequence(padded, _t([2, 4, 1, 4], dtype="int64"), batch_first=bf)
        for a, s in zip(out, seqs):
            _close(_np(a), s, 0, "unpad_sequence")
    sorted_p = R.pack_sequence([ds[1], ds[3], ds[0], ds[2]])
    assert sorted_p.sorted_indices is None and sorted_p.batch_sizes.tolist() == [4, 3, 2, 2]


def test_packed_sequence_object(device, rng):
    x = _t(rng.standard_normal((3, 2, 2)), device)
    p = R.pack_padded_sequence(x, [1, 3], enforce_sorted=False)
    data, bs, si, ui = p  # a namedtuple, like torch's
    assert p._fields == ("data", "batch_sizes", "sorted_indices", "unsorted_indices")
    q = R.PackedSequence(data, bs, si)  # unsorted_indices derived from sorted_indices
    assert q.unsorted_indices.tolist() == ui.tolist() == [1, 0]
    assert R.PackedSequence((data, bs)).batch_sizes.tolist() == bs.tolist()
    f = p.float()
    assert str(f.data.dtype) == "dlcore.float32" and str(f.double().data.dtype) == "dlcore.float64"
    c = p.cpu()
    assert c.data.device.type == "cpu" and c.sorted_indices.device.type == "cpu" and not c.is_cuda
    assert p.is_cuda == (device == "cuda")
    if device == "cuda":
        with pytest.raises(ValueError, match="batch_sizes should always be on CPU"):
            R.PackedSequence(data, _t([2, 1], "cuda", dtype="int64"), si)
        moved = c.to("cuda")
        assert moved.is_cuda and moved.sorted_indices.device.type == "cuda" and moved.batch_sizes.device.type == "cpu"


def test_errors(device):
    x = _t(np.zeros((4, 3, 2)), device)
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order when `enforce_sorted` is True"):
        R.pack_padded_sequence(x, [2, 4, 1])
    with pytest.raises(ValueError, match="Length of all samples has to be greater than 0"):
        R.pack_padded_sequence(x, [4, 0, 1], enforce_sorted=False)
    with pytest.raises(ValueError, match=r"longer than the input's sequence dimension 4"):
        R.pack_padded_sequence(x, [5, 3, 1])
    with pytest.raises(ValueError, match=r"sequence dimension 3 \(input shape \[4, 3, 2\], batch_first=True\)"):
        R.pack_padded_sequence(x, [4, 3, 1, 1], batch_first=True)
    with pytest.raises(ValueError, match=r"Expected `len\(lengths\)` to be equal to batch_size, but got 2"):
        R.pack_padded_sequence(x, [4, 3])
    with pytest.raises(ValueError, match="should be 1-D"):
        R.pack_padded_sequence(x, [[4, 3, 1]])
    with pytest.raises(RuntimeError, match="Cannot pack empty tensors"):
        R.pack_padded_sequence(_t(np.zeros((0, 3, 2)), device), [1, 1, 1])
    p = R.pack_padded_sequence(x, [4, 3, 1])
    with pytest.raises(ValueError, match="Expected total_length to be at least"):
        R.pad_packed_sequence(p, total_length=3)
    with pytest.raises(RuntimeError, match="received an empty list of sequences"):
        R.pad_sequence([])
    with pytest.raises(ValueError, match="padding_side to be one of left or right"):
        R.pad_sequence([x[0]], padding_side="middle")
    with pytest.raises(ValueError, match=r"same trailing dimensions: sequence 0 has shape \[3, 2\], sequence 1 "):
        R.pad_sequence([x[0], _t(np.zeros((3, 3)), device)])
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        R.pack_sequence([x[0], x[:, 0]])
    with pytest.raises(ValueError, match="Length of all samples"):
        R.pack_sequence([x[0], x[0, :0]])
    lstm = dlcore.nn.LSTM(2, 5, num_layers=2, device=device, dtype=dlcore.float64)
    h = _t(np.zeros((2, 2, 5)), device)
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(2, 3, 5\), got \[2, 2, 5\]"):
        lstm(p, (h, h))
    with pytest.raises(ValueError, match=r"input.size\(-1\) must be equal to input_size. Expected 2, got 3"):
        lstm(R.pack_padded_sequence(_t(np.zeros((4, 3, 3)), device), [4, 3, 1]))
    with pytest.raises(TypeError, match="float32 or float64"):
        lstm(R.PackedSequence(_t([[1, 2]], device, dtype="int64"), _t([1], dtype="int64")))
    gru = dlcore.nn.GRU(2, 5, device=device, dtype=dlcore.float64)
    with pytest.raises(ValueError, match=r"batch_sizes sum to 7, but the packed data has 8 rows"):
        gru(R.PackedSequence(p.data, _t([3, 3, 1], dtype="int64")))


# ------------------------------------------------------------------------------------------ modules vs torch

def _pair(kind, I, H, L, bi, bf, device, dtype="float64"):
    kw = {}
    tkind = kind
    if kind.startswith("RNN_"):
        tkind, kw = "RNN", {"nonlinearity": kind[4:].lower()}
    tm = getattr(torch.nn, tkind)(I, H, L, batch_first=bf, bidirectional=bi, **kw)
    tm = tm.double() if dtype == "float64" else tm.float()
    dm = getattr(dlcore.nn, tkind)(I, H, L, batch_first=bf, bidirectional=bi, device=device,
                                   dtype=getattr(dlcore, dtype), **kw)
    dm.load_state_dict({k: _t(v.detach().numpy(), device, dtype=dtype) for k, v in tm.state_dict().items()})
    return tm, dm


def _run_pair(kind, tm, dm, lens, enforce, bf, with_hx, device, rng, dtype="float64"):
    I, H, L, D = tm.input_size, tm.hidden_size, tm.num_layers, 2 if tm.bidirectional else 1
    B, T = len(lens), max(lens) + 1  # one padding step more than the longest sequence
    x = rng.standard_normal((B, T, I) if bf else (T, B, I))
    st = [rng.standard_normal((L * D, B, H)) for _ in range(2)]
    tdt = torch.float64 if dtype == "float64" else torch.float32
    tx = torch.tensor(x, dtype=tdt, requires_grad=True)
    dx = _t(x, device, grad=True, dtype=dtype)
    tst = [torch.tensor(a, dtype=tdt, requires_grad=True) for a in st]
    dst = [_t(a, device, grad=True, dtype=dtype) for a in st]
    lstm = kind == "LSTM"
    targs = (((tst[0], tst[1]) if lstm else tst[0]),) if with_hx else ()
    dargs = (((dst[0], dst[1]) if lstm else dst[0]),) if with_hx else ()
    tp = TR.pack_padded_sequence(tx, lens, batch_first=bf, enforce_sorted=enforce)
    dp = R.pack_padded_sequence(dx, lens, batch_first=bf, enforce_sorted=enforce)
    tout, th = tm(tp, *targs)
    dout, dh = dm(dp, *dargs)
    assert isinstance(dout, R.PackedSequence)
    assert dout.batch_sizes.tolist() == tout.batch_sizes.tolist()
    assert (dout.sorted_indices is None) == (tout.sorted_indices is None)
    tpad, tl = TR.pad_packed_sequence(tout, batch_first=bf)
    dpad, dl = R.pad_packed_sequence(dout, batch_first=bf)
    assert dl.tolist() == tl.tolist()
    ths = list(th) if lstm else [th]
    dhs = list(dh) if lstm else [dh]
    outs = [(dpad, tpad, "output")] + list(zip(dhs, ths, ["h_n", "c_n"]))
    return dx, tx, dst, tst, outs


CASES = [  # (lengths, enforce_sorted, batch_first, layers, bidirectional, initial states)
    ([3, 5, 1, 3, 3], False, False, 2, True, True),   # unsorted, duplicates, a length 1
    ([5, 3, 3, 1], True, True, 2, True, False),       # sorted, batch_first, zero initial states
    ([4, 4, 4], False, False, 2, True, True),         # all equal: one kernel call per layer
    ([1, 2, 1, 1], False, True, 1, False, True),      # mostly length 1
    ([3], True, False, 3, False, True),               # batch of one
    ([2, 6, 4, 5, 1, 3], False, True, 1, True, True),  # every length distinct
]


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN_TANH", "RNN_RELU"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_module_packed_vs_torch(kind, case, device, rng):
    lens, enforce, bf, L, bi, with_hx = CASES[case]
    torch.manual_seed(case)
    tm, dm = _pair(kind, 3, 4, L, bi, bf, device)
    dx, tx, dst, tst, outs = _run_pair(kind, tm, dm, lens, enforce, bf, with_hx, device, rng)
    for d, t, name in outs:
        _close(_np(d), t.detach().numpy(), 1e-10, name)
    gs = [rng.standard_normal(tuple(t.shape)) for _, t, _ in outs]
    torch.autograd.backward([t for _, t, _ in outs], [torch.tensor(g) for g in gs])
    _loss([d for d, _, _ in outs], gs, device).backward()
    _close(_np(dx.grad), tx.grad.numpy(), 1e-10, "grad input")
    if with_hx:
        for a, b, name in zip(dst, tst, ["grad h0", "grad c0"] if kind == "LSTM" else ["grad h0"]):
            _close(_np(a.grad), b.grad.numpy(), 1e-10, name)
    tp = dict(tm.named_parameters())
    for n, p in dm.named_parameters():
        _close(_np(p.grad), tp[n].grad.numpy(), 1e-10, f"grad {n}")


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_module_packed_vs_torch_float32(kind, device, rng):
    torch.manual_seed(7)
    tm, dm = _pair(kind, 5, 6, 2, True, False, device, dtype="float32")
    dx, tx, dst, tst, outs = _run_pair(kind, tm, dm, [2, 5, 5, 3], False, False, True, device, rng, "float32")
    for d, t, name in outs:
        _close(_np(d), t.detach().numpy(), 1e-5, name)
    gs = [rng.standard_normal(tuple(t.shape)).astype(np.float32) for _, t, _ in outs]
    torch.autograd.backward([t for _, t, _ in outs], [torch.tensor(g) for g in gs])
    _loss([d for d, _, _ in outs], gs, device).backward()
    _close(_np(dx.grad), tx.grad.numpy(), 1e-4, "grad input")
    tp = dict(tm.named_parameters())
    for n, p in dm.named_parameters():
        _close(_np(p.grad), tp[n].grad.numpy(), 1e-4, f"grad {n}")


def test_no_grad_matches(device, rng):
    torch.manual_seed(3)
    tm, dm = _pair("LSTM", 3, 4, 2, True, False, device)
    x = _t(rng.standard_normal((5, 3, 3)), device, grad=True)
    p = R.pack_padded_sequence(x, [2, 5, 4], enforce_sorted=False)
    out, (h, c) = dm(p)
    with dlcore.no_grad():
        out2, (h2, c2) = dm(p)
    assert not out2.data.requires_grad
    for a, b in ((out.data, out2.data), (h, h2), (c, c2)):
        _close(_np(b), _np(a), 0, "no_grad")


@pytest.mark.parametrize("lens,calls", [([5, 3, 3, 1], 3), ([2, 4, 2, 4], 2), ([3, 3], 1)])
def test_kernel_calls_per_distinct_length(lens, calls, monkeypatch, device, rng):
    """The fused layer kernel runs once per run of equal batch size (per layer and direction), never per step; all
    lengths equal: one call per layer for both directions."""
    n = {"calls": 0}
    real = _C.rnn_layer_forward

    def counting(*a, **k):
        n["calls"] += 1
        return real(*a, **k)

    monkeypatch.setattr(_C, "rnn_layer_forward", counting)
    L, D = 2, 2
    gru = dlcore.nn.GRU(3, 4, L, bidirectional=True, device=device, dtype=dlcore.float64)
    x = _t(rng.standard_normal((max(lens), len(lens), 3)), device)
    gru(R.pack_padded_sequence(x, lens, enforce_sorted=False))
    assert n["calls"] == (L if calls == 1 else calls * L * D)


def test_dropout_between_layers(device, rng):
    """dropout=1 in training: the second layer sees zeros, so its output and h_n are those of a one-layer module
    (the second layer's weights) on zero input, and the first layer's h_n is unchanged by dropout."""
    torch.manual_seed(5)
    tm, dm = _pair("LSTM", 3, 4, 2, True, False, device)
    dm.dropout = 1.0
    x = _t(rng.standard_normal((4, 3, 3)), device)
    for lens in ([4, 2, 3], [4, 4, 4]):
        p = R.pack_padded_sequence(x, lens, enforce_sorted=False)
        dm.train()
        out, (h, c) = dm(p)
        dm.eval()
        _, (h_eval, c_eval) = dm(p)
        _close(_np(h)[:2], _np(h_eval)[:2], 1e-12, "layer 0 h_n")
        one = dlcore.nn.LSTM(8, 4, bidirectional=True, device=device, dtype=dlcore.float64)
        one.load_state_dict({k.replace("_l1", "_l0"): v for k, v in dm.state_dict().items() if "_l1" in k})
        zeros = R.PackedSequence(_t(np.zeros((p.data.shape[0], 8)), device), p.batch_sizes, p.sorted_indices,
                                 p.unsorted_indices)
        ref_out, (ref_h, ref_c) = one(zeros)
        _close(_np(out.data), _np(ref_out.data), 1e-12, "layer 1 output")
        _close(_np(h)[2:], _np(ref_h), 1e-12, "layer 1 h_n")
        _close(_np(c)[2:], _np(ref_c), 1e-12, "layer 1 c_n")


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh"])
def test_gradcheck_packed(mode, device, rng):
    I, H, L, D = 2, 3, 2, 2
    lens = [2, 3, 1]
    G = {"lstm": 4, "gru": 3, "rnn_tanh": 1}[mode]
    x = _t(rng.standard_normal((3, len(lens), I)), device, grad=True)
    h0 = _t(rng.standard_normal((L * D, len(lens), H)), device, grad=True)
    c0 = _t(rng.standard_normal((L * D, len(lens), H)), device, grad=True)
    ps = []
    for layer in range(L):
        for _ in range(D):
            i = I if layer == 0 else H * D
            ps += [_t(rng.uniform(-0.6, 0.6, s), device, grad=True) for s in ((G * H, i), (G * H, H), (G * H,),
                                                                              (G * H,))]

    def f(x, h0, c0, *ps):
        p = R.pack_padded_sequence(x, lens, enforce_sorted=False)
        hx = (h0, c0) if mode == "lstm" else h0
        outs = _nn_rnn.packed_sequence(mode, p.data, p.batch_sizes, hx, list(ps), True, L, 0.0, False, True,
                                       p.sorted_indices, p.unsorted_indices)
        return dlcore.cat([o.reshape(-1) for o in (R.pad_packed_sequence(
            R.PackedSequence(outs[0], p.batch_sizes, p.sorted_indices, p.unsorted_indices))[0],) + outs[1:]])

    inputs = [x, h0, c0] + ps if mode == "lstm" else [x, h0, c0.detach()] + ps
    assert gradcheck(f, inputs, atol=1e-6, rtol=1e-5)
