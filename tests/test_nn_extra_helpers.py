"""nn.utils.parametrizations.orthogonal and nn.AdaptiveLogSoftmaxWithLoss against torch (values, gradients),
orthogonality of the parametrized weight, and finite-difference gradient checks in float64."""
import numpy as np
import pytest

import dlcore
from dlcore import nn
from dlcore.nn.utils import parametrizations as P
from dlcore.testing import gradcheck

torch = pytest.importorskip("torch")

MAPS = ["matrix_exp", "cayley", "householder"]
SHAPES = [(4, 4), (5, 3), (3, 5)]


def _np(x):
    return x.detach().cpu().numpy()


def _linear_pair(rng, shape, device):
    w = rng.standard_normal(shape)
    m = nn.Linear(shape[1], shape[0]).double()
    m.weight = nn.Parameter(dlcore.tensor(w))
    t = torch.nn.Linear(shape[1], shape[0]).double()
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(w))
        t.bias.copy_(torch.from_numpy(_np(m.bias)))
    return m.to(device), t


def _orth_err(W):
    if W.shape[-2] < W.shape[-1]:
        W = np.swapaxes(W, -1, -2)
    return np.abs(np.swapaxes(W, -1, -2) @ W - np.eye(W.shape[-1])).max()


@pytest.mark.parametrize("orthogonal_map", MAPS)
@pytest.mark.parametrize("use_trivialization", [True, False])
def test_orthogonal_matches_torch(rng, device, orthogonal_map, use_trivialization):
    for shape in SHAPES:
        m, t = _linear_pair(rng, shape, device)
        r = P.orthogonal(m, orthogonal_map=orthogonal_map, use_trivialization=use_trivialization)
        assert r is m
        torch.nn.utils.parametrizations.orthogonal(t, orthogonal_map=orthogonal_map,
                                                    use_trivialization=use_trivialization)
        assert list(m.state_dict().keys()) == list(t.state_dict().keys())
        np.testing.assert_allclose(_np(m.parametrizations.weight.original),
                                   t.parametrizations.weight.original.detach().numpy(), atol=1e-12)
        W = _np(m.weight)
        assert _orth_err(W) < 1e-12
        np.testing.assert_allclose(W, t.weight.detach().numpy(), atol=1e-12)
        if use_trivialization and shape[0] != shape[1]:
            # base's extra columns come from randn (dlcore's and torch's generators differ): start from torch's
            tb = t.parametrizations.weight[0].base.numpy()
            b = _np(m.parametrizations.weight[0].base)
            k = min(shape)
            np.testing.assert_allclose(b[:, :k], tb[:, :k], atol=1e-12)
            assert _orth_err(b) < 1e-12
            m.parametrizations.weight[0].base = dlcore.tensor(tb, device=device)
        # a step away from the initial point (the strictly lower part is the free one; the diagonal's integer part
        # gives householder's signs): still orthogonal, same value and gradient as torch
        step = np.tril(rng.standard_normal(shape if shape[0] >= shape[1] else shape[::-1]), -1) * 0.3
        if shape[0] < shape[1]:
            step = step.T
        with dlcore.no_grad():
            m.parametrizations.weight.original.add_(dlcore.tensor(step, device=device))
        with torch.no_grad():
            t.parametrizations.weight.original.add_(torch.from_numpy(step))
        x = rng.standard_normal((2, shape[1]))
        y = m(dlcore.tensor(x, device=device))
        ty = t(torch.from_numpy(x))
        np.testing.assert_allclose(_np(y), ty.detach().numpy(), atol=1e-10)
        assert _orth_err(_np(m.weight)) < 1e-12
        (y * y).sum().backward()
        (ty * ty).sum().backward()
        np.testing.assert_allclose(_np(m.parametrizations.weight.original.grad),
                                   t.parametrizations.weight.original.grad.numpy(), atol=1e-9)


@pytest.mark.parametrize("orthogonal_map", MAPS)
def test_orthogonal_gradcheck(rng, orthogonal_map):
    for shape in ((3, 3), (4, 2)):
        orth = P._Orthogonal(dlcore.zeros(*shape, dtype=dlcore.float64), orthogonal_map, use_trivialization=False)
        X = dlcore.tensor(rng.standard_normal(shape), requires_grad=True)
        if orthogonal_map == "householder":  # only trunc(diagonal) = +-1 is used (no gradient)
            with dlcore.no_grad():
                X.diagonal(dim1=-2, dim2=-1).copy_(dlcore.tensor([1.5, -1.5, 1.5][:shape[1]]))
        assert gradcheck(lambda a: orth(a), [X])


def test_orthogonal_batched_and_assignment(rng, device):
    m = nn.Module()
    w = rng.standard_normal((2, 4, 3))
    m.register_parameter("w", nn.Parameter(dlcore.tensor(w, device=device)))
    t = torch.nn.Module()
    t.register_parameter("w", torch.nn.Parameter(torch.from_numpy(w)))
    P.orthogonal(m, "w")
    torch.nn.utils.parametrizations.orthogonal(t, "w")
    np.testing.assert_allclose(_np(m.w), t.w.detach().numpy(), atol=1e-12)
    assert _orth_err(_np(m.w)) < 1e-12
    # assigning an orthogonal matrix goes through right_inverse (into base)
    q = np.linalg.qr(rng.standard_normal((2, 4, 3)))[0]
    m.w = dlcore.tensor(q, device=device)
    np.testing.assert_allclose(_np(m.w), q, atol=1e-12)


def test_orthogonal_errors(device):
    m = nn.Linear(3, 3)
    with pytest.raises(ValueError, match="orthogonal_map"):
        P.orthogonal(m, orthogonal_map="qr")
    with pytest.raises(ValueError, match="no parameter or buffer"):
        P.orthogonal(m, "nope")
    with pytest.raises(ValueError, match="matrix or batch"):
        P.orthogonal(m, "bias")
    m2 = nn.Linear(3, 3).double().to(device)
    P.orthogonal(m2, orthogonal_map="cayley", use_trivialization=False)
    with pytest.raises(NotImplementedError, match="use_trivialization=False"):
        m2.weight = dlcore.eye(3, dtype=dlcore.float64, device=device)
    with pytest.raises(ValueError, match="shape"):
        m2.parametrizations.weight[0].right_inverse(dlcore.zeros(2, 3, dtype=dlcore.float64, device=device))


# ------------------------------------------------------------------------------------------------- adaptive softmax

def _asm_pair(rng, device, in_features=8, n_classes=20, cutoffs=(5, 12), div_value=2.0, head_bias=True):
    m = nn.AdaptiveLogSoftmaxWithLoss(in_features, n_classes, cutoffs, div_value=div_value, head_bias=head_bias)
    t = torch.nn.AdaptiveLogSoftmaxWithLoss(in_features, n_classes, list(cutoffs), div_value=div_value,
                                            head_bias=head_bias).double()
    m = m.double()
    assert list(m.state_dict().keys()) == list(t.state_dict().keys())
    for (k, p), (tk, tp) in zip(m.state_dict().items(), t.state_dict().items()):
        assert tuple(p.shape) == tuple(tp.shape), k
        with torch.no_grad():
            tp.copy_(torch.from_numpy(_np(p)))
    return m.to(device), t


@pytest.mark.parametrize("cfg", [dict(), dict(cutoffs=(3,), head_bias=False), dict(cutoffs=(4, 9, 15), div_value=2.0)])
def test_adaptive_forward_loss_and_grads(rng, device, cfg):
    m, t = _asm_pair(rng, device, **cfg)
    x = rng.standard_normal((11, 8))
    tgt = rng.integers(0, 20, 11)
    tgt[:3] = [0, 19, cfg.get("cutoffs", (5,))[0]]  # shortlist, last class, first tail class
    xi = dlcore.tensor(x, device=device, requires_grad=True)
    out, loss = m(xi, dlcore.tensor(tgt, device=device))
    txi = torch.from_numpy(x).requires_grad_(True)
    tout, tloss = t(txi, torch.from_numpy(tgt))
    np.testing.assert_allclose(_np(out), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(float(_np(loss)), tloss.item(), rtol=1e-10)
    loss.backward()
    tloss.backward()
    np.testing.assert_allclose(_np(xi.grad), txi.grad.numpy(), rtol=1e-9, atol=1e-12)
    for (k, p), (_, tp) in zip(m.named_parameters(), t.named_parameters()):
        np.testing.assert_allclose(_np(p.grad), tp.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=k)
    # log_prob: torch's value, rows sum to one, and it agrees with forward's output at the targets
    lp = m.log_prob(dlcore.tensor(x, device=device))
    np.testing.assert_allclose(_np(lp), t.log_prob(torch.from_numpy(x)).detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.exp(_np(lp)).sum(1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(_np(lp)[np.arange(11), tgt], _np(out), rtol=1e-10, atol=1e-12)


def test_adaptive_predict_and_unbatched(rng, device):
    m, t = _asm_pair(rng, device)
    for scale in (0.1, 3.0):  # mixes of rows predicted in and outside the shortlist
        x = rng.standard_normal((16, 8)) * scale
        with dlcore.no_grad():
            p = m.predict(dlcore.tensor(x, device=device))
        tp = t.predict(torch.from_numpy(x))
        np.testing.assert_array_equal(_np(p), tp.numpy())
        np.testing.assert_array_equal(_np(p), _np(m.log_prob(dlcore.tensor(x, device=device))).argmax(1))
    # all rows outside the shortlist, and all inside
    with dlcore.no_grad():
        m.head.bias.copy_(dlcore.tensor([-50.0] * 5 + [50.0, 0.0], device=device))
    with torch.no_grad():
        t.head.bias.copy_(torch.tensor([-50.0] * 5 + [50.0, 0.0]))
    x = rng.standard_normal((4, 8))
    np.testing.assert_array_equal(_np(m.predict(dlcore.tensor(x, device=device))), t.predict(torch.from_numpy(x)))
    with dlcore.no_grad():
        m.head.bias.copy_(dlcore.tensor([50.0] + [0.0] * 6, device=device))
    assert np.all(_np(m.predict(dlcore.tensor(x, device=device))) == 0)
    # an unbatched input (1-D input, 0-d target)
    x1 = rng.standard_normal(8)
    out, loss = m(dlcore.tensor(x1, device=device), dlcore.tensor(13, device=device))
    with torch.no_grad():
        t.head.bias.copy_(torch.from_numpy(_np(m.head.bias)))
    tout, tloss = t(torch.from_numpy(x1), torch.tensor(13))
    assert tuple(out.shape) == () and tuple(loss.shape) == ()
    np.testing.assert_allclose(float(_np(out)), tout.item(), rtol=1e-10)


def test_adaptive_gradcheck(rng):
    m = nn.AdaptiveLogSoftmaxWithLoss(6, 10, [3, 6], div_value=2.0, head_bias=True).double()
    x = dlcore.tensor(rng.standard_normal((5, 6)), requires_grad=True)
    tgt = dlcore.tensor([0, 4, 9, 2, 7])
    assert gradcheck(lambda a: m(a, tgt).output, [x])


def test_adaptive_errors(device):
    with pytest.raises(ValueError, match="cutoffs"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 10, [])
    for bad in ([5, 3], [0, 4], [4, 10], [4, 4], [2.5]):
        with pytest.raises(ValueError, match="cutoffs"):
            nn.AdaptiveLogSoftmaxWithLoss(8, 10, bad)
    m = nn.AdaptiveLogSoftmaxWithLoss(8, 10, [4]).to(device)
    x = dlcore.zeros(3, 8, device=device)
    with pytest.raises(RuntimeError, match="same size in the batch"):
        m(x, dlcore.tensor([0, 1], device=device))
    with pytest.raises(RuntimeError, match="Target values should be in"):
        m(x, dlcore.tensor([0, 1, 10], device=device))
    with pytest.raises(RuntimeError, match="multi-target"):
        m(x, dlcore.zeros(3, 2, dtype=dlcore.int64, device=device))
    with pytest.raises(RuntimeError, match="0D target tensor expects 1D"):
        m(x, dlcore.tensor(1, device=device))
    with pytest.raises(RuntimeError, match="in_features"):
        m(dlcore.zeros(3, 5, device=device), dlcore.tensor([0, 1, 2], device=device))
