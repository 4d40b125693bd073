"""nn.Module API: registration, iteration, state_dict (strict messages), train/eval, to(), apply, zero_grad,
freezing, weight tying, hooks, containers, repr; init; clip_grad; composed-module gradient checks."""
import copy
import math
import pickle

import numpy as np
import pytest

import dlcore
from dlcore import nn
from dlcore.nn import init
from dlcore.testing import gradcheck


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.act = nn.Sigmoid()
        self.fc2 = nn.Linear(3, 2, bias=False)
        self.register_buffer("steps", dlcore.zeros([], dtype=dlcore.int64))
        self.register_buffer("scratch", dlcore.zeros(2), persistent=False)
        self.scale = nn.Parameter(dlcore.ones(1))

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x))) * self.scale


def test_registration_and_iteration():
    m = Net()
    assert [n for n, _ in m.named_parameters()] == ["scale", "fc1.weight", "fc1.bias", "fc2.weight"]
    assert [n for n, _ in m.named_buffers()] == ["steps", "scratch"]
    assert [n for n, _ in m.named_children()] == ["fc1", "act", "fc2"]
    assert [n for n, _ in m.named_modules()] == ["", "fc1", "act", "fc2"]
    assert len(list(m.parameters(recurse=False))) == 1
    assert m.fc2.bias is None and "bias" in m.fc2._parameters
    assert isinstance(m.fc1.weight, nn.Parameter) and m.fc1.weight.requires_grad
    assert m.get_submodule("fc1") is m.fc1 and m.get_parameter("fc1.bias") is m.fc1.bias
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        m.nope
    with pytest.raises(TypeError, match="cannot assign 'int' as parameter"):
        m.scale = 3
    with pytest.raises(KeyError, match="contain"):
        m.register_buffer("a.b", dlcore.zeros(1))
    del m.fc2
    assert "fc2" not in dict(m.named_children())


def test_plain_tensor_attribute_is_not_a_parameter():
    m = nn.Module()
    m.t = dlcore.ones(2)
    assert list(m.parameters()) == [] and list(m.buffers()) == []


def test_state_dict_keys_and_strict_messages():
    m = Net()
    sd = m.state_dict()
    assert list(sd) == ["scale", "steps", "fc1.weight", "fc1.bias", "fc2.weight"]
    assert not sd["fc1.weight"].requires_grad
    assert sd["fc1.weight"]._is_same_storage(m.fc1.weight)  # detached, shared
    m2 = Net()
    m2.load_state_dict(sd)
    x = dlcore.randn(5, 4)
    np.testing.assert_array_equal(m(x).detach().numpy(), m2(x).detach().numpy())
    bad = dict(sd)
    del bad["fc1.bias"]
    bad["fc3.weight"] = dlcore.zeros(1)
    bad["fc2.weight"] = dlcore.zeros(2, 4)
    with pytest.raises(RuntimeError) as e:
        m2.load_state_dict(bad)
    msg = str(e.value)
    assert "Error(s) in loading state_dict for Net" in msg
    assert 'Missing key(s) in state_dict: "fc1.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "fc3.weight"' in msg
    assert ("size mismatch for fc2.weight: copying a param with shape [2, 4] from checkpoint, the shape in current "
            "model is [2, 3]") in msg
    del bad["fc2.weight"]
    r = m2.load_state_dict(bad, strict=False)
    assert r.missing_keys == ["fc1.bias", "fc2.weight"] and r.unexpected_keys == ["fc3.weight"]
    with pytest.raises(TypeError, match="dict-like"):
        m2.load_state_dict([1, 2])


def test_load_state_dict_casts_and_keeps_identity():
    m = nn.Linear(2, 2)
    w = m.weight
    m.load_state_dict({"weight": np.ones((2, 2)), "bias": dlcore.zeros(2, dtype=dlcore.float64)})
    assert m.weight is w and m.weight.dtype == dlcore.float32
    assert m.weight.detach().tolist() == [[1, 1], [1, 1]]


def test_load_state_dict_assign_takes_the_tensors():
    # assign=True (torch's semantics): the module's parameters/buffers become the given tensors: their dtype, their
    # storage; parameters are wrapped as Parameter with the old requires_grad
    m = Net()
    m.fc2.weight.requires_grad_(False)
    sd = {k: v.to(dlcore.float64) if v.dtype.is_floating_point else v + 3 for k, v in m.state_dict().items()}
    old_w = m.fc1.weight
    r = m.load_state_dict(sd, assign=True)
    assert not r.missing_keys and not r.unexpected_keys
    for name in ("fc1.weight", "fc1.bias", "fc2.weight", "scale"):
        p = m.get_parameter(name)
        assert isinstance(p, nn.Parameter) and p.dtype == dlcore.float64, name
        assert p._is_same_storage(sd[name]), name
    assert m.fc1.weight is not old_w and m.fc1.weight.requires_grad and not m.fc2.weight.requires_grad
    assert [n for n, _ in m.named_parameters()] == ["scale", "fc1.weight", "fc1.bias", "fc2.weight"]
    assert m.steps is sd["steps"] and m.steps.item() == 3  # a buffer is the tensor itself
    with dlcore.no_grad():
        sd["fc1.weight"].fill_(5.0)
    assert m.fc1.weight.detach().numpy()[0].tolist() == [5.0] * 4
    # still checked: shapes, missing keys
    with pytest.raises(RuntimeError, match="size mismatch for fc2.weight"):
        Net().load_state_dict({**sd, "fc2.weight": dlcore.zeros(2, 4)}, assign=True)
    with pytest.raises(RuntimeError, match='Missing key.*"scale"'):
        Net().load_state_dict({k: v for k, v in sd.items() if k != "scale"}, assign=True)
    # a Parameter in the state dict is used as it is (requires_grad set to the old parameter's)
    lin = nn.Linear(2, 2)
    p = nn.Parameter(dlcore.ones(2, 2), requires_grad=False)
    lin.load_state_dict({"weight": p, "bias": dlcore.zeros(2)}, assign=True)
    assert lin.weight is p and p.requires_grad
    # without assign the values are still copied into the existing float32 parameters
    lin2 = nn.Linear(2, 2)
    w = lin2.weight
    lin2.load_state_dict({"weight": dlcore.ones(2, 2, dtype=dlcore.float64), "bias": dlcore.zeros(2)})
    assert lin2.weight is w and w.dtype == dlcore.float32


def test_load_state_dict_refuses_non_tensor_values():
    for bad in (3.0, 2, [[1.0, 2.0], [3.0, 4.0]], "w"):
        m = nn.Linear(2, 2)
        with pytest.raises(RuntimeError) as e:
            m.load_state_dict({"weight": bad, "bias": dlcore.ones(2)})
        assert ('While copying the parameter named "weight", expected dlcore.Tensor or Tensor-like object from '
                f"checkpoint but received {type(bad)}") in str(e.value)
        assert "size mismatch" not in str(e.value)
    m = Net()  # also for a 0-d buffer, which a number used to fill silently
    with pytest.raises(RuntimeError, match="received <class 'int'>"):
        m.load_state_dict({**m.state_dict(), "steps": 7})
    assert m.steps.item() == 0


def test_train_eval_and_mode_propagation():
    m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(0.5)))
    assert m.training and m[1][0].training
    assert m.eval() is m
    assert not m.training and not m[1][0].training
    m.train()
    assert m[1][0].training
    with pytest.raises(ValueError):
        m.train("yes")


def test_to_dtype_keeps_parameter_identity_and_moves_buffers():
    m = Net()
    p = m.fc1.weight
    m.fc1.weight.grad = dlcore.ones(3, 4)
    m.double()
    assert m.fc1.weight is p and p.dtype == dlcore.float64 and p.grad.dtype == dlcore.float64
    assert m.steps.dtype == dlcore.int64  # integer buffers keep their dtype
    assert m(dlcore.randn(2, 4, dtype=dlcore.float64)).dtype == dlcore.float64
    m.to(dlcore.float32)
    assert p.dtype == dlcore.float32
    with pytest.raises(TypeError, match="floating point"):
        m.to(dlcore.int64)
    m.to("cpu")


def test_apply_and_zero_grad():
    m = Net()
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "Sigmoid", "Linear", "Net"]
    m.apply(lambda mod: init.zeros_(mod.weight) if isinstance(mod, nn.Linear) else None)
    assert m.fc1.weight.detach().abs().sum().item() == 0
    m(dlcore.randn(2, 4)).sum().backward()
    assert m.fc1.bias.grad is not None
    m.zero_grad(set_to_none=False)
    assert m.fc1.bias.grad.abs().sum().item() == 0
    m.zero_grad()
    assert m.fc1.bias.grad is None


def test_freezing_keeps_earlier_layers_fixed():
    enc = nn.Linear(4, 3)
    head = nn.Linear(3, 2)
    model = nn.Sequential(enc, nn.Sigmoid(), head)
    enc.requires_grad_(False)
    opt = dlcore.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    w0 = enc.weight.detach().clone()
    h0 = head.weight.detach().clone()
    for _ in range(3):
        opt.zero_grad()
        model(dlcore.randn(8, 4)).pow(2).sum().backward()
        opt.step()
    assert enc.weight.grad is None
    np.testing.assert_array_equal(enc.weight.detach().numpy(), w0.numpy())
    assert not np.array_equal(head.weight.detach().numpy(), h0.numpy())


def test_weight_tying_gets_summed_gradient():
    emb = nn.Linear(3, 3, bias=False)
    dec = nn.Linear(3, 3, bias=False)
    dec.weight = emb.weight
    m = nn.Sequential(emb, dec)
    assert len(list(m.parameters())) == 1
    assert list(m.state_dict()) == ["0.weight", "1.weight"]
    x = dlcore.randn(2, 3, dtype=dlcore.float32)
    m(x).sum().backward()
    w = emb.weight.detach().numpy().astype(np.float64)
    xn = x.numpy().astype(np.float64)
    # y = (x W^T) W^T: dy/dW = sum over uses
    g_out = np.ones((2, 3))
    h = xn @ w.T
    expect = g_out.T @ h + (g_out @ w).T @ xn
    np.testing.assert_allclose(emb.weight.grad.numpy(), expect, rtol=1e-5, atol=1e-5)


def test_forward_hooks():
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: calls.append("pre"))
    h2 = m.register_forward_hook(lambda mod, args, out: out * 0)
    y = m(dlcore.ones(1, 2))
    assert calls == ["pre"] and y.abs().sum().item() == 0
    h1.remove()
    h2.remove()
    assert m(dlcore.ones(1, 2)).abs().sum().item() > 0 or True
    assert calls == ["pre"]


def test_containers():
    s = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(s) == 3 and isinstance(s[-1], nn.Linear) and isinstance(s[0:2], nn.Sequential)
    s.append(nn.Identity())
    assert len(s) == 4
    del s[1]
    assert [n for n, _ in s.named_children()] == ["0", "1", "2"]
    from collections import OrderedDict
    named = nn.Sequential(OrderedDict(a=nn.Linear(1, 1), b=nn.Identity()))
    assert named.a is named[0]
    ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    ml.append(nn.Linear(1, 2))
    ml.insert(0, nn.Identity())
    assert len(ml) == 5 and isinstance(ml[0], nn.Identity)
    assert len(list(ml.parameters())) == 8
    md = nn.ModuleDict({"x": nn.Linear(1, 1)})
    md["y"] = nn.Identity()
    assert list(md.keys()) == ["x", "y"] and "x" in md
    pl = nn.ParameterList([nn.Parameter(dlcore.ones(1)), dlcore.zeros(2)])
    assert isinstance(pl[1], nn.Parameter) and len(list(pl.parameters())) == 2
    pd = nn.ParameterDict({"a": nn.Parameter(dlcore.ones(1))})
    assert "a" in pd and len(list(pd.parameters())) == 1
    with pytest.raises(IndexError):
        s[10]


def test_parameter_containers_repr_get_and_slicing():
    pd = nn.ParameterDict({"a": nn.Parameter(dlcore.ones(2, 3)), "b": dlcore.zeros(3, dtype=dlcore.float64)})
    assert repr(pd) == ("ParameterDict(\n"
                        "  (a): Parameter containing: [dlcore.float32 of size 2x3]\n"
                        "  (b): Parameter containing: [dlcore.float64 of size 3]\n"
                        ")")
    assert repr(nn.ParameterDict({"w": nn.Parameter(dlcore.ones(3))})) == \
        "ParameterDict((w): Parameter containing: [dlcore.float32 of size 3])"
    assert repr(nn.ParameterDict()) == "ParameterDict()"
    assert pd.get("a") is pd["a"] and pd.get("zz") is None and pd.get("zz", 5) == 5
    pl = nn.ParameterList([dlcore.ones(2), dlcore.ones(3), dlcore.ones(4)])
    assert repr(pl).splitlines()[1] == "  (0): Parameter containing: [dlcore.float32 of size 2]"
    for sl in (slice(0, 1), slice(None, None, 2), slice(None, None, -1), slice(5, 9)):
        sub = pl[sl]
        assert isinstance(sub, nn.ParameterList)
        expect = list(pl)[sl]
        assert len(sub) == len(expect) and all(a is b for a, b in zip(sub, expect))
        assert [n for n, _ in sub.named_parameters()] == [str(i) for i in range(len(expect))]


def test_repr_matches_torch_style():
    m = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2, bias=False))
    assert repr(m) == ("Sequential(\n"
                       "  (0): Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"
                       "  (1): ReLU()\n"
                       "  (2): Flatten(start_dim=1, end_dim=-1)\n"
                       "  (3): Linear(in_features=8, out_features=2, bias=False)\n"
                       ")")
    assert repr(nn.BatchNorm2d(4)) == "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"
    assert repr(nn.Parameter(dlcore.ones(1))).startswith("Parameter containing:\ntensor([1.]")


def test_deepcopy_and_pickle():
    m = Net()
    m2 = copy.deepcopy(m)
    assert m2.fc1.weight is not m.fc1.weight and isinstance(m2.fc1.weight, nn.Parameter)
    np.testing.assert_array_equal(m2.fc1.weight.detach().numpy(), m.fc1.weight.detach().numpy())
    assert m2.fc1.weight is m2._modules["fc1"]._parameters["weight"]
    m3 = pickle.loads(pickle.dumps(m))
    x = dlcore.randn(2, 4)
    np.testing.assert_array_equal(m3(x).detach().numpy(), m(x).detach().numpy())


def test_default_init_bounds():
    lin = nn.Linear(50, 7)
    b = 1 / math.sqrt(50)
    assert lin.weight.detach().abs().max().item() <= b and lin.bias.detach().abs().max().item() <= b
    assert lin.weight.detach().std().item() == pytest.approx(b / math.sqrt(3), rel=0.2)
    conv = nn.Conv2d(3, 16, 5)
    b = 1 / math.sqrt(3 * 25)
    assert conv.weight.detach().abs().max().item() <= b
    bn = nn.BatchNorm1d(4)
    assert bn.weight.detach().tolist() == [1] * 4 and bn.running_var.tolist() == [1] * 4
    emb = nn.Embedding(10, 3, padding_idx=2)
    assert emb.weight.detach()[2].tolist() == [0, 0, 0]


def test_init_functions():
    w = dlcore.empty(200, 100)
    init.xavier_uniform_(w)
    a = math.sqrt(6 / 300)
    assert w.abs().max().item() <= a
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert w.std().item() == pytest.approx(math.sqrt(2 / 200), rel=0.05)
    init.orthogonal_(w, gain=2.0)
    wn = w.numpy().astype(np.float64)
    np.testing.assert_allclose(wn.T @ wn, 4 * np.eye(100), atol=1e-4)
    init.trunc_normal_(w, std=1.0, a=-0.5, b=0.5)
    assert w.abs().max().item() <= 0.5
    init.constant_(w, 0.25)
    assert w.mean().item() == 0.25
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    with pytest.raises(ValueError, match="fewer than 2"):
        init.xavier_uniform_(dlcore.empty(3))
    p = nn.Parameter(dlcore.empty(3, 3))
    init.normal_(p)  # a leaf that requires grad: init runs without recording
    assert p.grad_fn is None


def test_clip_grad_norm_and_value():
    import torch
    rng = np.random.default_rng(0)
    gs = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    for norm_type in (2.0, 1.0, float("inf")):
        dps = [nn.Parameter(dlcore.zeros(*g.shape, dtype=dlcore.float64)) for g in gs]
        tps = [torch.nn.Parameter(torch.zeros(*g.shape, dtype=torch.float64)) for g in gs]
        for p, tp, g in zip(dps, tps, gs):
            p.grad = dlcore.tensor(g)
            tp.grad = torch.tensor(g)
        n = nn.utils.clip_grad_norm_(dps, 1.5, norm_type)
        tn = torch.nn.utils.clip_grad_norm_(tps, 1.5, norm_type)
        assert float(n) == pytest.approx(float(tn), rel=1e-12)
        for p, tp in zip(dps, tps):
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12)
    p = nn.Parameter(dlcore.zeros(3))
    p.grad = dlcore.tensor([-3.0, 0.5, 2.0])
    nn.utils.clip_grad_value_([p], 1.0)
    assert p.grad.tolist() == [-1.0, 0.5, 1.0]
    v = nn.utils.parameters_to_vector(Net().parameters())
    assert v.shape == (1 + 12 + 3 + 6,)
    m = Net()
    nn.utils.vector_to_parameters(dlcore.arange(22.0), m.parameters())
    assert m.scale.item() == 0.0 and m.fc2.weight.detach().numpy().ravel().tolist() == list(range(16, 22))


def test_composed_modules_gradcheck():
    m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), nn.Sigmoid()).double()
    x = dlcore.randn(2, 3, dtype=dlcore.float64, requires_grad=True)
    params = list(m.parameters())

    def f(x, *ps):
        with dlcore.no_grad():
            for p, v in zip(params, ps):
                p.copy_(v)
        return m(x)

    # check the input gradient through the stack, then each parameter's
    gradcheck(lambda x: m(x), [x])
    w = m[0].weight
    gradcheck(lambda w_: dlcore.nn.functional.linear(x.detach(), w_, m[0].bias.detach()).tanh(), [w.detach().clone().requires_grad_()])


def test_module_without_init_call():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(dlcore.ones(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Bad()


def test_missing_kernel_message_or_works():
    # modules call dlcore.functional at run time: either the op exists, or the error names it
    m = nn.ReLU()
    try:
        y = m(dlcore.tensor([-1.0, 2.0]))
    except NotImplementedError as e:
        assert "dlcore.functional.relu" in str(e)
    else:
        assert y.tolist() == [0.0, 2.0]
