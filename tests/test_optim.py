"""Optimizers and lr schedulers against PyTorch: parameters after 5 steps (same initial values, same gradients),
every ISA build of the fused kernels, state_dict round trips, bad input."""
import copy
import math

import numpy as np
import pytest

import dlcore
from dlcore import optim
from dlcore.optim import lr_scheduler
from conftest import requires_torch, HAVE_TORCH

if HAVE_TORCH:
    import torch
    torch.set_num_threads(1)  # the reference: its OpenMP threads only slow these small updates down

SHAPES = [(3, 5), (17,), (1,), (70000,)]  # the last one splits over threads

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1, eps=1e-6)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, maximize=True, weight_decay=0.05)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, weight_decay=0.1, amsgrad=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.2)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, alpha=0.9)),
]


def _run_pair(name, kw, dtype, rng, steps=5, device="cpu"):
    import torch
    np_dt = np.float32 if dtype == "float32" else np.float64
    inits = [rng.standard_normal(s).astype(np_dt) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(np_dt) for s in SHAPES] for _ in range(steps)]
    dps = [dlcore.nn.Parameter(dlcore.tensor(a.copy(), device=device)) for a in inits]
    tps = [torch.nn.Parameter(torch.tensor(a.copy())) for a in inits]
    dopt = getattr(optim, name)(dps, **kw)
    topt = getattr(torch.optim, name)(tps, **kw)
    for k in range(steps):
        for p, g in zip(dps, grads[k]):
            p.grad = dlcore.tensor(g, device=device)
        for p, g in zip(tps, grads[k]):
            p.grad = torch.tensor(g)
        dopt.step()
        topt.step()
    return dps, tps, dopt, topt


@requires_torch
@pytest.mark.parametrize("name,kw", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_optimizer_matches_torch(name, kw, dtype, rng, device):
    dps, tps, dopt, _ = _run_pair(name, kw, dtype, rng, device=device)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    for d, t in zip(dps, tps):
        assert d.device.type == device
        dlcore.testing.assert_close(d.detach().cpu(), t.detach().numpy(), **tol)
    for st in dopt.state.values():  # the state stays on the parameters' device
        for v in st.values():
            if isinstance(v, dlcore.Tensor):
                assert v.device.type == device


@requires_torch
@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
@pytest.mark.parametrize("name,kw", [CONFIGS[2], CONFIGS[7], CONFIGS[10], CONFIGS[12], CONFIGS[16]])
def test_every_isa(name, kw, isa, rng):
    try:
        dlcore._C._set_cpu_isa(isa)
    except ValueError:
        pytest.skip(f"this CPU has no {isa}")
    dps, tps, _, _ = _run_pair(name, kw, "float32", rng)
    for d, t in zip(dps, tps):
        dlcore.testing.assert_close(d.detach(), t.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_cpu_adam_step_without_a_gpu_driver():
    """Adam and Adagrad ask whether a CUDA graph capture is running before each step; on a CUDA build with no
    usable driver (nvcc present at install, no GPU) that question must answer False, not raise."""
    from dlcore import _C
    if hasattr(_C, "_cuda_is_capturing"):
        assert _C._cuda_is_capturing() is False
    w = dlcore.tensor(np.array([1.0, -2.0], dtype=np.float32), requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), [0.9, -1.9], rtol=1e-6)


def test_params_without_grad_are_skipped_and_frozen():
    a = dlcore.nn.Parameter(dlcore.ones(3))
    b = dlcore.nn.Parameter(dlcore.ones(3))
    opt = optim.SGD([a, b], lr=0.5, momentum=0.9)
    a.grad = dlcore.ones(3)
    opt.step()
    assert a.detach().tolist() == [0.5, 0.5, 0.5]
    assert b.detach().tolist() == [1.0, 1.0, 1.0]
    assert b not in opt.state or not opt.state[b]


def test_param_groups_and_zero_grad():
    a = dlcore.nn.Parameter(dlcore.ones(2))
    b = dlcore.nn.Parameter(dlcore.ones(2))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    a.grad = dlcore.ones(2)
    b.grad = dlcore.ones(2)
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), [0.9, 0.9], rtol=1e-6)
    np.testing.assert_allclose(b.detach().numpy(), [0.0, 0.0], atol=1e-7)
    opt.zero_grad(set_to_none=False)
    assert a.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})


def test_state_dict_roundtrip_continues_identically(rng):
    def make():
        p = dlcore.nn.Parameter(dlcore.tensor(np.arange(6, dtype=np.float32).reshape(2, 3)))
        return p, optim.Adam([p], lr=0.1, amsgrad=True)

    grads = [dlcore.tensor(rng.standard_normal((2, 3)).astype(np.float32)) for _ in range(6)]
    p1, o1 = make()
    for g in grads[:3]:
        p1.grad = g
        o1.step()
    sd = o1.state_dict()
    assert set(sd) == {"state", "param_groups"} and sd["param_groups"][0]["params"] == [0]
    assert sd["state"][0]["step"] == 3
    p2, o2 = make()
    with dlcore.no_grad():
        p2.copy_(p1)
    o2.load_state_dict(copy.deepcopy(sd))
    for g in grads[3:]:
        p1.grad = g
        o1.step()
        p2.grad = g
        o2.step()
    np.testing.assert_array_equal(p1.detach().numpy(), p2.detach().numpy())
    # a mismatched optimizer
    p3 = dlcore.nn.Parameter(dlcore.ones(2))
    o3 = optim.Adam([p3, dlcore.nn.Parameter(dlcore.ones(1))])
    with pytest.raises(ValueError, match="doesn't match the size"):
        o3.load_state_dict(sd)


def test_bad_inputs():
    p = dlcore.nn.Parameter(dlcore.ones(3))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.Adam([p], lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(TypeError, match="iterable"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="shape"):
        dlcore._C._sgd_step([p], [dlcore.ones(4)], None, [], 0.1, 0.0, 0.0, 0.0, False, False)
    with pytest.raises(TypeError, match="dtype"):
        dlcore._C._sgd_step([p], [dlcore.ones(3, dtype=dlcore.float64)], None, [], 0.1, 0.0, 0.0, 0.0, False, False)
    with pytest.raises(TypeError, match="float32 or float64"):
        dlcore._C._sgd_step([dlcore.ones(3, dtype=dlcore.int64)], [dlcore.ones(3)], None, [], 0.1, 0, 0, 0, False,
                            False)


def test_noncontiguous_grad():
    p = dlcore.nn.Parameter(dlcore.zeros(2, 3))
    g = dlcore.tensor(np.arange(6, dtype=np.float32).reshape(3, 2)).t()
    assert not g.is_contiguous()
    p.grad = g.contiguous()  # .grad assignment keeps it; pass the strided view directly to the kernel
    dlcore._C._sgd_step([p], [g], None, [], 1.0, 0.0, 0.0, 0.0, False, False)
    np.testing.assert_array_equal(p.detach().numpy(), -np.arange(6, dtype=np.float32).reshape(3, 2).T)


@requires_torch
@pytest.mark.parametrize("name,kw", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_noncontiguous_params_match_torch(name, kw, rng):
    # Parameter(w.t()) (a tied/transposed weight) and a strided slice: the fused kernels need contiguous
    # parameters, so the optimizer steps a contiguous copy and writes it back. 6 steps, the optimizer rebuilt from
    # its state_dict after step 3, against torch.
    import torch
    a = rng.standard_normal((4, 3))
    b = rng.standard_normal(20)
    grads = [(rng.standard_normal((3, 4)), rng.standard_normal(10)) for _ in range(6)]
    dps = [dlcore.nn.Parameter(dlcore.tensor(a).t()), dlcore.nn.Parameter(dlcore.tensor(b)[1::2])]
    tps = [torch.nn.Parameter(torch.tensor(a).t()), torch.nn.Parameter(torch.tensor(b)[1::2])]
    assert not any(p.is_contiguous() for p in dps)
    dopt = getattr(optim, name)(dps, **kw)
    topt = getattr(torch.optim, name)(tps, **kw)
    for k, gk in enumerate(grads):
        if k == 3:
            sd = dopt.state_dict()
            dopt = getattr(optim, name)(dps, **kw)
            dopt.load_state_dict(sd)
        for dp, tp, g in zip(dps, tps, gk):
            dp.grad = dlcore.tensor(g)
            tp.grad = torch.tensor(g)
        dopt.step()
        topt.step()
        for dp, tp in zip(dps, tps):
            assert not dp.is_contiguous()  # still the same (strided) parameter, updated in place
            dlcore.testing.assert_close(dp.detach(), tp.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_step_bumps_version_so_saved_tensors_notice():
    p = dlcore.nn.Parameter(dlcore.ones(3))
    y = (p * p).sum()
    p.grad = dlcore.ones(3)
    optim.SGD([p], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an inplace"):
        y.backward()


def test_closure():
    p = dlcore.nn.Parameter(dlcore.tensor([2.0]))
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss) == 4.0
    assert p.item() == 1.0


# ------------------------------------------------------------------------------------------------- schedulers

SCHEDULERS = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=4, eta_min=0.01)),
    ("CosineAnnealingLR", dict(T_max=10)),
]


@requires_torch
@pytest.mark.parametrize("name,kw", SCHEDULERS)
def test_scheduler_matches_torch(name, kw):
    import torch
    dp = dlcore.nn.Parameter(dlcore.ones(1))
    tp = torch.nn.Parameter(torch.ones(1))
    dopt = optim.SGD([dp], lr=0.5)
    topt = torch.optim.SGD([tp], lr=0.5)
    ds = getattr(lr_scheduler, name)(dopt, **kw)
    ts = getattr(torch.optim.lr_scheduler, name)(topt, **kw)
    for _ in range(13):
        dopt.step()
        topt.step()
        ds.step()
        ts.step()
        assert math.isclose(ds.get_last_lr()[0], ts.get_last_lr()[0], rel_tol=1e-12, abs_tol=1e-15)
        assert math.isclose(dopt.param_groups[0]["lr"], topt.param_groups[0]["lr"], rel_tol=1e-12, abs_tol=1e-15)


@requires_torch
def test_lambda_lr_matches_torch():
    import torch
    f = lambda e: 0.95 ** e + 0.01 * e  # noqa: E731
    dopt = optim.SGD([dlcore.nn.Parameter(dlcore.ones(1))], lr=0.3)
    topt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.3)
    ds, ts = lr_scheduler.LambdaLR(dopt, f), torch.optim.lr_scheduler.LambdaLR(topt, f)
    for _ in range(7):
        ds.step()
        ts.step()
        assert math.isclose(ds.get_last_lr()[0], ts.get_last_lr()[0], rel_tol=1e-12)


@requires_torch
@pytest.mark.parametrize("kw", [dict(), dict(mode="max", factor=0.5, patience=1, cooldown=1),
                                dict(threshold_mode="abs", threshold=0.1, patience=0, min_lr=0.01)])
def test_reduce_on_plateau_matches_torch(kw):
    import torch
    dopt = optim.SGD([dlcore.nn.Parameter(dlcore.ones(1))], lr=0.5)
    topt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.5)
    ds = lr_scheduler.ReduceLROnPlateau(dopt, **kw)
    ts = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.89, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 2.0, 0.1]
    for m in metrics:
        ds.step(m)
        ts.step(m)
        assert math.isclose(dopt.param_groups[0]["lr"], topt.param_groups[0]["lr"], rel_tol=1e-12)


def test_scheduler_state_dict():
    opt = optim.SGD([dlcore.nn.Parameter(dlcore.ones(1))], lr=1.0)
    s = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(3):
        s.step()
    sd = s.state_dict()
    opt2 = optim.SGD([dlcore.nn.Parameter(dlcore.ones(1))], lr=1.0)
    s2 = lr_scheduler.StepLR(opt2, step_size=2, gamma=0.5)
    s2.load_state_dict(sd)
    assert s2.last_epoch == 3 and s2.get_last_lr() == s.get_last_lr()
