"""Regression tests for defects found by differential fuzzing of dlcore.optim / nn.utils / amp against torch."""
import struct

import numpy as np
import pytest

import dlcore
from dlcore import nn


def _f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


# ------------------------------------------------------------------------------------------------ optimizers

def test_adam_decoupled_weight_decay_flag():
    # torch 2.x: Adam(decoupled_weight_decay=True) is AdamW (p *= 1 - lr*wd before the Adam step)
    def run(cls, **kw):
        p = nn.Parameter(dlcore.tensor([1.0, -2.0, 3.0], dtype=dlcore.float64))
        opt = cls([p], lr=0.1, weight_decay=0.5, **kw)
        for _ in range(3):
            p.grad = dlcore.tensor([0.1, 0.2, -0.3], dtype=dlcore.float64)
            opt.step()
        return p.detach().numpy(), opt
    a, opt = run(dlcore.optim.Adam, decoupled_weight_decay=True)
    b, optw = run(dlcore.optim.AdamW)
    c, _ = run(dlcore.optim.Adam)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert opt.param_groups[0]["decoupled_weight_decay"] is True
    assert optw.param_groups[0]["decoupled_weight_decay"] is True
    # torch's reference value (AdamW, 3 steps)
    np.testing.assert_allclose(a, [0.57212503, -1.99999999, 2.85737499], rtol=1e-7)


def test_optimizer_param_group_keys_match_torch():
    p = nn.Parameter(dlcore.ones(2))
    for cls, keys in [(dlcore.optim.SGD, {"foreach", "differentiable", "fused"}),
                      (dlcore.optim.Adam, {"foreach", "differentiable", "fused", "decoupled_weight_decay",
                                           "capturable"}),
                      (dlcore.optim.Adagrad, {"foreach", "differentiable", "fused"}),
                      (dlcore.optim.RMSprop, {"foreach", "differentiable", "capturable"})]:
        assert keys <= set(cls([p], lr=0.1).param_groups[0])


def test_adam_fused_and_foreach_refused():
    with pytest.raises(RuntimeError, match="fused"):
        dlcore.optim.Adam([nn.Parameter(dlcore.ones(2))], foreach=True, fused=True)


# ------------------------------------------------------------------------------------------------ nn.utils

def test_vector_to_parameters_aliases_and_allows_longer_vector():
    ps = [nn.Parameter(dlcore.zeros(2, 2)), nn.Parameter(dlcore.zeros(3))]
    v = dlcore.arange(9.0)  # longer than the 7 parameter elements: torch leaves the tail unused
    nn.utils.vector_to_parameters(v, ps)
    assert ps[1].tolist() == [4.0, 5.0, 6.0]
    with dlcore.no_grad():
        v.mul_(2)  # torch: param.data = vec[a:b].view_as(param).data, so the parameters share vec's storage
    assert ps[0].detach().numpy().ravel().tolist() == [0.0, 2.0, 4.0, 6.0]
    assert isinstance(ps[0], nn.Parameter) and ps[0].requires_grad
    with pytest.raises(RuntimeError):  # too short: the view fails, as in torch
        nn.utils.vector_to_parameters(dlcore.arange(5.0), [nn.Parameter(dlcore.zeros(2, 3))])


# ------------------------------------------------------------------------------------------------ GradScaler

def _scaler_loop(init, dt, n=6, infs=(3,)):
    p = nn.Parameter(dlcore.tensor([1.0, -2.0, 0.5], dtype=dt))
    opt = dlcore.optim.SGD([p], lr=0.1)
    sc = dlcore.amp.GradScaler("cpu", init_scale=init, growth_factor=1.5, backoff_factor=0.3, growth_interval=2)
    scales, grads = [], []
    for i in range(n):
        loss = (p * p).sum() * (float("inf") if i in infs else 1.0)
        sc.scale(loss).backward()
        sc.unscale_(opt)
        grads.append(p.grad.numpy().copy())
        sc.step(opt)
        sc.update()
        opt.zero_grad()
        scales.append(sc.get_scale())
    return scales, grads, sc


def test_grad_scaler_scale_is_float32():
    scales, grads, sc = _scaler_loop(1000.1, dlcore.float64)
    # the scale lives in float32 (torch): every value is float32-representable, growth/backoff rounded there
    s = _f32(1000.1)
    expect = []
    tracker = 0
    for i in range(6):
        if i == 3:
            s, tracker = _f32(s * 0.3), 0
        else:
            tracker += 1
            if tracker == 2:
                s, tracker = _f32(s * 1.5), 0
        expect.append(s)
    assert scales == expect
    assert sc.state_dict()["scale"] == expect[-1]
    # unscale multiplies by float32(1/scale) (torch), so a float64 gradient keeps the float32 rounding
    s0 = _f32(1000.1)
    g0 = (np.array([2.0, -4.0, 1.0]) * s0) * _f32(1.0 / s0)
    np.testing.assert_array_equal(grads[0], g0)
    assert grads[0][0] != 2.0


def test_grad_scaler_growth_stops_at_float32_max():
    p = nn.Parameter(dlcore.ones(2))
    opt = dlcore.optim.SGD([p], lr=0.0)
    sc = dlcore.amp.GradScaler("cpu", init_scale=2.0 ** 126, growth_interval=1)
    for _ in range(4):
        sc.scale(p.sum()).backward()
        sc.step(opt)
        sc.update()
        opt.zero_grad()
    assert sc.get_scale() == 2.0 ** 127  # 2**128 overflows float32: torch keeps the old scale


def test_grad_scaler_errors_match_torch():
    with pytest.raises(AssertionError):
        dlcore.amp.GradScaler("cpu", growth_factor=1.0)
    with pytest.raises(AssertionError):
        dlcore.amp.GradScaler("cpu", backoff_factor=1.0)
    p = nn.Parameter(dlcore.ones(2))
    opt = dlcore.optim.SGD([p], lr=0.1)
    sc = dlcore.amp.GradScaler("cpu", init_scale=8.0)
    assert sc.get_scale() == 8.0
    p.grad = dlcore.ones(2)
    with pytest.raises(AssertionError, match="scale"):  # step before any scale()
        sc.step(opt)
    with pytest.raises(AssertionError):
        sc.unscale_(opt)
    with pytest.raises(AssertionError):
        sc.update()
    sc.scale(dlcore.ones(1))
    with pytest.raises(AssertionError, match="No inf checks"):
        sc.update()
    p.grad = None
    with pytest.raises(AssertionError, match="No inf checks"):  # no parameter has a gradient
        sc.step(opt)
    sc2 = dlcore.amp.GradScaler("cpu")
    sc2.scale(dlcore.ones(1))
    with pytest.raises(AssertionError):
        sc2.update(dlcore.tensor([1.0, 2.0]))
    with pytest.raises(AssertionError):
        sc2.update(dlcore.tensor(4.0, requires_grad=True))
    sc2.update(1000.1)
    assert sc2.get_scale() == _f32(1000.1)


def test_grad_scaler_scale_other_iterables():
    sc = dlcore.amp.GradScaler("cpu", init_scale=4.0)
    out = sc.scale(t for t in [dlcore.ones(1), dlcore.ones(2)])  # torch: a lazy map over any iterable
    assert [t.tolist() for t in out] == [[4.0], [4.0, 4.0]]


def test_adam_betas_must_be_both_floats_or_both_tensors():
    p = nn.Parameter(dlcore.ones(2))
    with pytest.raises(ValueError, match="both floats"):
        dlcore.optim.Adam([p], betas=(0, 0.9))
    with pytest.raises(ValueError, match="both floats"):
        dlcore.optim.Adam([p], betas=(dlcore.tensor(0.9), 0.99))
    opt = dlcore.optim.Adam([p], betas=(dlcore.tensor(0.5), dlcore.tensor(0.75)))
    assert opt.param_groups[0]["betas"] == (0.5, 0.75)


def test_optimizer_named_parameters():
    m = nn.Linear(3, 2)
    opt = dlcore.optim.SGD(m.named_parameters(), lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["weight", "bias"]
    assert all(isinstance(p, dlcore.Tensor) for p in opt.param_groups[0]["params"])
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["weight", "bias"]
    m(dlcore.ones(1, 3)).sum().backward()
    w0 = m.weight.detach().numpy().copy()
    opt.step()
    np.testing.assert_allclose(m.weight.detach().numpy(), w0 - 0.1, rtol=1e-6)
    with pytest.raises(ValueError, match="with/without names"):
        dlcore.optim.SGD([("w", m.weight), m.bias], lr=0.1)
    with pytest.raises(ValueError, match="with/without names"):
        opt.add_param_group({"params": [nn.Parameter(dlcore.ones(1))]})
    opt2 = dlcore.optim.SGD(m.parameters(), lr=0.1)
    opt2.load_state_dict(opt.state_dict())
    assert opt2.param_groups[0]["param_names"] == ["weight", "bias"]


def test_optimizer_state_dict_hooks():
    p = nn.Parameter(dlcore.ones(2))
    opt = dlcore.optim.SGD([p], lr=0.1, momentum=0.9)
    calls = []
    opt.register_state_dict_pre_hook(lambda o: calls.append("pre"))
    opt.register_state_dict_post_hook(lambda o, sd: (calls.append("post"), sd.update(extra=1))[0])
    opt.register_state_dict_pre_hook(lambda o: calls.append("pre0"), prepend=True)

    def load_pre(o, sd):
        calls.append("lpre")
        sd = dict(sd)
        sd["param_groups"] = [dict(sd["param_groups"][0], lr=0.5)]
        return sd
    opt.register_load_state_dict_pre_hook(load_pre)
    h = opt.register_load_state_dict_post_hook(lambda o: calls.append("lpost"))
    sd = opt.state_dict()
    assert sd["extra"] == 1
    opt.load_state_dict(sd)
    assert calls == ["pre0", "pre", "post", "lpre", "lpost"]
    assert opt.param_groups[0]["lr"] == 0.5
    h.remove()
    opt.load_state_dict(sd)
    assert calls[-1] == "lpre"


def test_reduce_lr_on_plateau_param_group_added_later():
    p = nn.Parameter(dlcore.zeros(1))
    opt = dlcore.optim.SGD([p], lr=1.0)
    s = dlcore.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, min_lr=0.01)
    assert isinstance(s, dlcore.optim.lr_scheduler.LRScheduler)  # as in torch
    s.step(1.0)
    opt.add_param_group({"params": [nn.Parameter(dlcore.zeros(1))], "lr": 0.5})
    s.step(2.0)
    s.step(3.0)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.01, 0.01])
    assert s.min_lrs == [0.01, 0.01]
    opt = dlcore.optim.SGD([p], lr=1.0)
    s = dlcore.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, min_lr=[0.01])
    s.step(1.0)
    opt.add_param_group({"params": [nn.Parameter(dlcore.zeros(1))], "lr": 0.5})
    with pytest.raises(RuntimeError, match="number of param groups"):
        s.step(2.0)


def test_nn_utils_stateless_functional_call():
    m = nn.Linear(2, 1)
    w = dlcore.tensor([[1.0, 2.0]])
    with pytest.warns(FutureWarning):
        y = nn.utils.stateless.functional_call(m, {"weight": w, "bias": dlcore.zeros(1)}, (dlcore.ones(1, 2),))
    assert y.tolist() == [[3.0]]


def test_norm_reparametrizations_missing_parameter_error_types():
    import warnings
    from dlcore.nn.utils import spectral_norm, weight_norm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(AttributeError, match="no parameter named 'foo'"):
            weight_norm(dlcore.nn.Linear(2, 2), name="foo")
    with pytest.raises(KeyError, match="no parameter named 'foo'"):
        spectral_norm(dlcore.nn.Linear(2, 2), name="foo")
