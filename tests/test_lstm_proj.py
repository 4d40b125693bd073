"""nn.LSTM(proj_size=P) (LSTM with projections) against torch.nn.LSTM with copied weights: outputs, final states and
every gradient; multi-layer, bidirectional, batch_first, initial states, unbatched and packed input; plus float64
finite-difference checks and the constructor's checks."""
import numpy as np
import pytest

import dlcore
from dlcore.testing import gradcheck

torch = pytest.importorskip("torch")


def _pair(I, H, P, L, bi, bias=True, batch_first=False, dtype=torch.float32, device="cpu"):
    torch.manual_seed(0)
    tm = torch.nn.LSTM(I, H, num_layers=L, bias=bias, batch_first=batch_first, bidirectional=bi, proj_size=P,
                       dtype=dtype)
    dm = dlcore.nn.LSTM(I, H, num_layers=L, bias=bias, batch_first=batch_first, bidirectional=bi, proj_size=P,
                        dtype=getattr(dlcore, str(dtype).split(".")[1]))
    assert [n for n, _ in tm.named_parameters()] == [n for n, _ in dm.named_parameters()]
    dm.load_state_dict({k: dlcore.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return tm, dm.to(device)


def _np(t):
    return t.detach().cpu().numpy()


@pytest.mark.parametrize("L,bi,bias,batch_first,states", [
    (1, False, True, False, False), (2, True, True, False, True), (3, False, False, True, True),
    (2, True, True, True, False)])
def test_matches_torch_with_gradients(L, bi, bias, batch_first, states, device):
    I, H, P, T, N = 5, 8, 3, 6, 4
    tm, dm = _pair(I, H, P, L, bi, bias, batch_first, device=device)
    D = 2 if bi else 1
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, T, I) if batch_first else (T, N, I)).astype(np.float32)
    h0 = rng.standard_normal((L * D, N, P)).astype(np.float32)
    c0 = rng.standard_normal((L * D, N, H)).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    dx = dlcore.tensor(x, device=device, requires_grad=True)
    if states:
        th = (torch.tensor(h0, requires_grad=True), torch.tensor(c0, requires_grad=True))
        dh = (dlcore.tensor(h0, device=device, requires_grad=True), dlcore.tensor(c0, device=device,
                                                                                    requires_grad=True))
    else:
        th = dh = None
    ty, (thn, tcn) = tm(tx, th)
    dy, (dhn, dcn) = dm(dx, dh)
    assert tuple(dy.shape) == tuple(ty.shape) and tuple(dhn.shape) == (L * D, N, P) and tuple(dcn.shape) == (
        L * D, N, H)
    for a, b in ((dy, ty), (dhn, thn), (dcn, tcn)):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-5, atol=1e-5)
    gy = rng.standard_normal(ty.shape).astype(np.float32)
    (ty * torch.tensor(gy)).sum().add((thn ** 2).sum()).add(tcn.sum()).backward()
    (dy * dlcore.tensor(gy, device=device)).sum().add((dhn ** 2).sum()).add(dcn.sum()).backward()
    np.testing.assert_allclose(_np(dx.grad), _np(tx.grad), rtol=1e-4, atol=1e-5)
    if states:
        np.testing.assert_allclose(_np(dh[0].grad), _np(th[0].grad), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(_np(dh[1].grad), _np(th[1].grad), rtol=1e-4, atol=1e-5)
    tp = dict(tm.named_parameters())
    for n, p in dm.named_parameters():
        np.testing.assert_allclose(_np(p.grad), _np(tp[n].grad), rtol=1e-4, atol=1e-5, err_msg=n)


def test_unbatched_and_packed(device):
    I, H, P = 3, 6, 2
    tm, dm = _pair(I, H, P, 2, True, device=device)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, I)).astype(np.float32)
    ty, (th, tc) = tm(torch.tensor(x))
    dy, (dh, dc) = dm(dlcore.tensor(x, device=device))
    for a, b in ((dy, ty), (dh, th), (dc, tc)):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-5, atol=1e-5)
    # packed, unsorted lengths, with initial states (given in the caller's batch order)
    lengths = [3, 5, 1, 4]
    xs = rng.standard_normal((5, 4, I)).astype(np.float32)
    h0 = rng.standard_normal((4, 4, P)).astype(np.float32)
    c0 = rng.standard_normal((4, 4, H)).astype(np.float32)
    tpk = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(xs, requires_grad=True), lengths,
                                                  enforce_sorted=False)
    dxs = dlcore.tensor(xs, device=device, requires_grad=True)
    dpk = dlcore.nn.utils.rnn.pack_padded_sequence(dxs, lengths, enforce_sorted=False)
    to, (th, tc) = tm(tpk, (torch.tensor(h0), torch.tensor(c0)))
    do, (dh, dc) = dm(dpk, (dlcore.tensor(h0, device=device), dlcore.tensor(c0, device=device)))
    tpad, _ = torch.nn.utils.rnn.pad_packed_sequence(to)
    dpad, _ = dlcore.nn.utils.rnn.pad_packed_sequence(do)
    for a, b in ((dpad, tpad), (dh, th), (dc, tc)):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-5, atol=1e-5)
    dpad.sum().backward()
    assert dxs.grad is not None and dxs.grad.shape == dxs.shape
    # padded positions get no gradient
    assert float(dxs.grad[1:, 2].abs().sum()) == 0.0


def test_gradcheck_float64():
    dlcore.manual_seed(3)
    m = dlcore.nn.LSTM(3, 4, num_layers=2, proj_size=2, bidirectional=True, dtype=dlcore.float64)
    x = dlcore.randn(3, 2, 3, dtype=dlcore.float64, requires_grad=True)
    h0 = dlcore.randn(4, 2, 2, dtype=dlcore.float64, requires_grad=True)
    c0 = dlcore.randn(4, 2, 4, dtype=dlcore.float64, requires_grad=True)
    w = m.weight_hr_l1.detach().clone().requires_grad_(True)
    assert gradcheck(lambda x, h0, c0, w: _call(m, x, h0, c0, w), (x, h0, c0, w))


def _call(m, x, h0, c0, w):
    """The loss with weight_hr_l1 replaced by w (so gradcheck perturbs a projection weight too)."""
    saved = m.weight_hr_l1
    try:
        m._parameters["weight_hr_l1"] = w
        y, (h, c) = m(x, (h0, c0))
    finally:
        m._parameters["weight_hr_l1"] = saved
    return y.sum() + (h * h).sum() + c.sum()


def test_constructor_checks_like_torch():
    for kw, exc in [(dict(proj_size=8), ValueError), (dict(proj_size=9), ValueError), (dict(proj_size=-1), ValueError)]:
        with pytest.raises(exc, match="proj_size"):
            dlcore.nn.LSTM(4, 8, **kw)
        with pytest.raises(Exception):
            torch.nn.LSTM(4, 8, **kw)
    with pytest.raises(ValueError, match="only supported for LSTM"):
        dlcore.nn.RNNBase("GRU", 4, 8, proj_size=2)
    m = dlcore.nn.LSTM(4, 8, proj_size=3)
    assert "proj_size=3" in repr(m) and m.proj_size == 3 and len(m.all_weights[0]) == 5
    with pytest.raises(RuntimeError, match=r"h_0 of size \[1, 2, 3\]"):
        m(dlcore.randn(5, 2, 4), (dlcore.zeros(1, 2, 8), dlcore.zeros(1, 2, 8)))
    with pytest.raises(RuntimeError, match="input_size"):
        m(dlcore.randn(5, 2, 3))
