"""dlcore.nn.utils.prune against torch.nn.utils.prune: the reparametrisation (weight_orig, weight_mask, the
forward pre-hook), masks of the deterministic methods equal to torch's for the same weights, iterative pruning
through PruningContainer, global pruning, remove, and the random methods by amount and reproducibility."""
import numpy as np
import pytest

import dlcore
from dlcore import nn
from dlcore.nn.utils import prune

torch = pytest.importorskip("torch")
tprune = pytest.importorskip("torch.nn.utils.prune")


def _pair(rng, device, in_f=5, out_f=4, conv=False):
    """A dlcore module and a torch module with the same (tie-free) weights."""
    if conv:
        m = nn.Conv2d(3, 6, 3)
        t = torch.nn.Conv2d(3, 6, 3)
    else:
        m = nn.Linear(in_f, out_f)
        t = torch.nn.Linear(in_f, out_f)
    w = rng.permutation(np.prod(tuple(t.weight.shape))).reshape(tuple(t.weight.shape)).astype(np.float32)
    w = (w + 1) / w.size * rng.choice([-1.0, 1.0], size=w.shape).astype(np.float32)  # distinct magnitudes
    b = rng.standard_normal(tuple(t.bias.shape)).astype(np.float32)
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(w))
        t.bias.copy_(torch.from_numpy(b))
    m.weight = nn.Parameter(dlcore.tensor(w))
    m.bias = nn.Parameter(dlcore.tensor(b))
    return m.to(device), t


def _np(x):
    return x.detach().cpu().numpy() if hasattr(x, "cpu") else np.asarray(x)


def test_l1_unstructured_matches_torch(rng, device):
    m, t = _pair(rng, device)
    for amount in (0.3, 7):
        mm, tt = _pair(rng, device)
        r = prune.l1_unstructured(mm, "weight", amount=amount)
        assert r is mm
        tprune.l1_unstructured(tt, "weight", amount=amount)
        np.testing.assert_array_equal(_np(mm.weight_mask), tt.weight_mask.numpy())
        np.testing.assert_array_equal(_np(mm.weight), tt.weight.detach().numpy())
        assert float(_np(mm.weight_mask).sum()) == 20 - (round(0.3 * 20) if amount == 0.3 else 7)
    assert not prune.is_pruned(m)


def test_reparametrisation_state_dict_and_hook(rng, device):
    m, t = _pair(rng, device)
    prune.l1_unstructured(m, "weight", amount=0.5)
    tprune.l1_unstructured(t, "weight", amount=0.5)
    assert list(m.state_dict().keys()) == list(t.state_dict().keys())
    assert sorted(n for n, _ in m.named_parameters()) == ["bias", "weight_orig"]
    assert [n for n, _ in m.named_buffers()] == ["weight_mask"]
    assert isinstance(m.weight_orig, nn.Parameter) and not isinstance(m.weight, nn.Parameter)
    assert prune.is_pruned(m) and prune.is_pruned(nn.Sequential(m))
    # the hook recomputes weight from weight_orig before each forward
    with dlcore.no_grad():
        m.weight_orig.add_(1.0)
    with torch.no_grad():
        t.weight_orig.add_(1.0)
    x = rng.standard_normal((3, 5)).astype(np.float32)
    y = m(dlcore.tensor(x, device=device))
    ty = t(torch.from_numpy(x))
    np.testing.assert_allclose(_np(y), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(_np(m.weight), t.weight.detach().numpy())
    # a pruned module loads a pruned module's state dict (mask included) and a deep copy prunes on its own
    import copy
    m2, _ = _pair(rng, device)
    prune.random_unstructured(m2, "weight", amount=3)
    m2.load_state_dict(m.state_dict())
    c = copy.deepcopy(m)
    y2 = m2(dlcore.tensor(x, device=device))
    np.testing.assert_allclose(_np(y2), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    with dlcore.no_grad():
        c.weight_mask.zero_()
    np.testing.assert_allclose(_np(c(dlcore.tensor(x, device=device))), np.broadcast_to(_np(c.bias), (3, 4)))
    np.testing.assert_allclose(_np(m(dlcore.tensor(x, device=device))), ty.detach().numpy(), rtol=1e-5, atol=1e-5)


def test_gradient_flows_through_mask(rng, device):
    m, t = _pair(rng, device)
    prune.l1_unstructured(m, "weight", amount=0.4)
    tprune.l1_unstructured(t, "weight", amount=0.4)
    x = rng.standard_normal((3, 5)).astype(np.float32)
    (m(dlcore.tensor(x, device=device)) ** 2).sum().backward()
    (t(torch.from_numpy(x)) ** 2).sum().backward()
    g = _np(m.weight_orig.grad)
    np.testing.assert_allclose(g, t.weight_orig.grad.numpy(), rtol=1e-4, atol=1e-5)
    assert np.all(g[_np(m.weight_mask) == 0] == 0)
    assert m.weight_mask.grad is None


def test_ln_structured_matches_torch(rng, device):
    for n, dim in ((2, 0), (1, 1), (float("inf"), -1), (-2, 0), (1, 2)):
        m, t = _pair(rng, device, conv=True)
        prune.ln_structured(m, "weight", amount=0.34, n=n, dim=dim)
        tprune.ln_structured(t, "weight", amount=0.34, n=n, dim=dim)
        np.testing.assert_array_equal(_np(m.weight_mask), t.weight_mask.numpy())


def test_importance_scores_and_custom_mask(rng, device):
    m, t = _pair(rng, device)
    s = rng.standard_normal((4, 5)).astype(np.float32)
    prune.l1_unstructured(m, "weight", amount=6, importance_scores=dlcore.tensor(s, device=device))
    tprune.l1_unstructured(t, "weight", amount=6, importance_scores=torch.from_numpy(s))
    np.testing.assert_array_equal(_np(m.weight_mask), t.weight_mask.numpy())
    m2, t2 = _pair(rng, device)
    mask = (rng.random((4, 5)) > 0.5).astype(np.float32)
    prune.custom_from_mask(m2, "weight", dlcore.tensor(mask, device=device))
    tprune.custom_from_mask(t2, "weight", torch.from_numpy(mask))
    np.testing.assert_array_equal(_np(m2.weight), t2.weight.detach().numpy())
    with pytest.raises(AssertionError, match="importance_scores"):
        prune.l1_unstructured(m2, "bias", amount=1, importance_scores=dlcore.zeros(3, device=device))


def test_iterative_pruning_container(rng, device):
    m, t = _pair(rng, device, conv=True)
    steps = [("l1", dict(amount=0.3)), ("ln", dict(amount=2, n=2, dim=0)), ("l1", dict(amount=5)),
             ("ln", dict(amount=0.34, n=1, dim=1))]
    for kind, kw in steps:
        if kind == "l1":
            prune.l1_unstructured(m, "weight", **kw)
            tprune.l1_unstructured(t, "weight", **kw)
        else:
            prune.ln_structured(m, "weight", **kw)
            tprune.ln_structured(t, "weight", **kw)
        np.testing.assert_array_equal(_np(m.weight_mask), t.weight_mask.numpy())
    hooks = [h for h in m._forward_pre_hooks.values() if isinstance(h, prune.BasePruningMethod)]
    assert len(hooks) == 1 and isinstance(hooks[0], prune.PruningContainer) and len(hooks[0]) == 4
    assert [type(h).__name__ for h in hooks[0]] == ["L1Unstructured", "LnStructured", "L1Unstructured",
                                                   "LnStructured"]
    prune.remove(m, "weight")
    tprune.remove(t, "weight")
    assert isinstance(m.weight, nn.Parameter) and not prune.is_pruned(m)
    assert list(m.state_dict().keys()) == list(t.state_dict().keys())
    np.testing.assert_array_equal(_np(m.weight), t.weight.detach().numpy())
    with pytest.raises(ValueError, match="has to be pruned"):
        prune.remove(m, "weight")


def test_global_unstructured_matches_torch(rng, device):
    m1, t1 = _pair(rng, device)
    m2, t2 = _pair(rng, device, conv=True)
    prune.random_unstructured(m1, "weight", amount=3)  # an existing mask is taken into account
    tprune.custom_from_mask(t1, "weight", torch.from_numpy(_np(m1.weight_mask)))
    params = [(m1, "weight"), (m2, "weight"), (m2, "bias")]
    tparams = [(t1, "weight"), (t2, "weight"), (t2, "bias")]
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=0.4)
    tprune.global_unstructured(tparams, pruning_method=tprune.L1Unstructured, amount=0.4)
    for (m, n), (t, _) in zip(params, tparams):
        np.testing.assert_array_equal(_np(getattr(m, n + "_mask")), getattr(t, n + "_mask").numpy())
    with pytest.raises(TypeError, match="unstructured"):
        prune.global_unstructured(params, pruning_method=prune.RandomStructured, amount=1)


def test_random_methods_amount_and_seed(rng, device):
    masks = []
    for _ in range(2):
        dlcore.manual_seed(123)
        m, _t = _pair(rng, device, conv=True)
        prune.random_unstructured(m, "weight", amount=0.25)
        mu = _np(m.weight_mask)
        assert mu.sum() == mu.size - round(0.25 * mu.size)
        prune.random_structured(m, "weight", amount=2, dim=0)
        ms = _np(m.weight_mask)
        kept = (ms.reshape(6, -1).sum(1) > 0)
        assert kept.sum() <= 4
        # the structured step removes 2 whole channels among those still alive, keeping the earlier zeros
        assert np.all(ms <= mu)
        zero_ch = np.where(~kept)[0]
        assert np.all(ms[zero_ch] == 0)
        masks.append((mu, ms))
    np.testing.assert_array_equal(masks[0][0], masks[1][0])
    np.testing.assert_array_equal(masks[0][1], masks[1][1])


def test_identity_prune_method_and_errors(rng, device):
    m, t = _pair(rng, device)
    prune.identity(m, "bias")
    np.testing.assert_array_equal(_np(m.bias_mask), np.ones(4, np.float32))
    w = dlcore.tensor(rng.standard_normal((4, 4)).astype(np.float32), device=device)
    out = prune.L1Unstructured(amount=4).prune(w)
    tout = tprune.L1Unstructured(amount=4).prune(torch.from_numpy(_np(w)))
    np.testing.assert_array_equal(_np(out), tout.numpy())
    with pytest.raises(ValueError, match="amount"):
        prune.L1Unstructured(amount=1.5)
    with pytest.raises(ValueError, match="amount"):
        prune.L1Unstructured(amount=-1)
    with pytest.raises(TypeError, match="amount"):
        prune.L1Unstructured(amount="a")
    m2, _ = _pair(rng, device)
    with pytest.raises(ValueError, match="should be smaller"):
        prune.l1_unstructured(m2, "weight", amount=21)
    # a failed pruning leaves the module untouched
    assert isinstance(m2.weight, nn.Parameter) and "weight_orig" not in m2._parameters
    assert "weight_mask" not in m2._buffers
    with pytest.raises(ValueError, match="multidimensional"):
        prune.ln_structured(m2, "bias", amount=1, n=2, dim=0)
    with pytest.raises(IndexError, match="Invalid index"):
        prune.ln_structured(m2, "weight", amount=1, n=2, dim=2)
    assert isinstance(m2.weight, nn.Parameter)
