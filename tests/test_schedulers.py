"""The lr schedulers added after the first set (MultiplicativeLR, ConstantLR, LinearLR, PolynomialLR,
CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR, SequentialLR, ChainedScheduler) against PyTorch: the lr (and the
cycled momentum / beta1) of two param groups over 36 steps, and a state_dict round trip half-way that continues
identically."""
import math

import pytest

import dlcore
from dlcore import optim
from dlcore.optim import lr_scheduler
from conftest import requires_torch

STEPS = 36


def _opt(O, P, T, kind):
    """Two param groups with different lrs; kind: 'sgd' (momentum 0.9), 'sgd0' (no momentum), 'adam'."""
    ps = [P(T.ones(2)), P(T.ones(3))]
    groups = [{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.05}]
    if kind == "adam":
        return O.Adam(groups, lr=0.1)
    return O.SGD(groups, lr=0.1, momentum=0.9 if kind == "sgd" else 0.0)


# name -> (optimizer kind, factory(lr_scheduler module, optimizer) -> scheduler)
CASES = {
    "MultiplicativeLR": ("sgd", lambda S, o: S.MultiplicativeLR(o, lambda e: 0.9 if e % 3 else 1.05)),
    "MultiplicativeLR-list": ("sgd", lambda S, o: S.MultiplicativeLR(o, [lambda e: 0.95, lambda e: 0.97])),
    "ConstantLR": ("sgd", lambda S, o: S.ConstantLR(o, factor=0.25, total_iters=7)),
    "LinearLR": ("sgd", lambda S, o: S.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=12)),
    "LinearLR-down": ("sgd", lambda S, o: S.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=20)),
    "PolynomialLR": ("sgd", lambda S, o: S.PolynomialLR(o, total_iters=25, power=2.0)),
    "PolynomialLR-1": ("sgd", lambda S, o: S.PolynomialLR(o, total_iters=10)),
    "WarmRestarts": ("sgd", lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=5, eta_min=0.001)),
    "WarmRestarts-mult": ("sgd", lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01)),
    "CyclicLR-triangular": ("sgd", lambda S, o: S.CyclicLR(o, base_lr=0.01, max_lr=[0.1, 0.2], step_size_up=4,
                                                          step_size_down=6)),
    "CyclicLR-triangular2": ("sgd", lambda S, o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=5,
                                                           mode="triangular2")),
    "CyclicLR-exp_range": ("sgd", lambda S, o: S.CyclicLR(o, base_lr=[0.01, 0.02], max_lr=0.1, step_size_up=3,
                                                         mode="exp_range", gamma=0.95, base_momentum=0.7,
                                                         max_momentum=[0.9, 0.95])),
    "CyclicLR-adam": ("adam", lambda S, o: S.CyclicLR(o, base_lr=0.001, max_lr=0.01, step_size_up=4)),
    "CyclicLR-nomomentum": ("sgd0", lambda S, o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4,
                                                           cycle_momentum=False)),
    "CyclicLR-scale_fn": ("sgd", lambda S, o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4,
                                                        scale_fn=lambda x: 1 / (1 + 0.1 * x),
                                                        scale_mode="iterations")),
    "OneCycleLR-cos": ("sgd", lambda S, o: S.OneCycleLR(o, max_lr=[0.5, 0.3], total_steps=STEPS + 2)),
    "OneCycleLR-linear": ("sgd", lambda S, o: S.OneCycleLR(o, max_lr=0.5, epochs=4, steps_per_epoch=10,
                                                          anneal_strategy="linear", pct_start=0.25)),
    "OneCycleLR-three_phase": ("sgd", lambda S, o: S.OneCycleLR(o, max_lr=0.5, total_steps=40, three_phase=True,
                                                               base_momentum=0.8, max_momentum=0.92)),
    "OneCycleLR-adam": ("adam", lambda S, o: S.OneCycleLR(o, max_lr=0.01, total_steps=STEPS + 1,
                                                         div_factor=10.0, final_div_factor=100.0)),
    "OneCycleLR-nomomentum": ("sgd0", lambda S, o: S.OneCycleLR(o, max_lr=0.5, total_steps=STEPS + 1,
                                                               cycle_momentum=False)),
    "SequentialLR": ("sgd", lambda S, o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=5),
                                                            S.ExponentialLR(o, gamma=0.9),
                                                            S.StepLR(o, step_size=4, gamma=0.5)],
                                                        milestones=[5, 17])),
    "SequentialLR-cos": ("sgd", lambda S, o: S.SequentialLR(o, [S.ConstantLR(o, factor=0.5, total_iters=3),
                                                                S.CosineAnnealingLR(o, T_max=20)],
                                                            milestones=[6])),
    "ChainedScheduler": ("sgd", lambda S, o: S.ChainedScheduler([S.ConstantLR(o, factor=0.2, total_iters=4),
                                                                 S.ExponentialLR(o, gamma=0.95),
                                                                 S.MultiStepLR(o, milestones=[10, 20])])),
    "ChainedScheduler-opt": ("sgd", lambda S, o: S.ChainedScheduler([S.LinearLR(o, total_iters=6),
                                                                     S.PolynomialLR(o, total_iters=30)],
                                                                    optimizer=o)),
}


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


def _close(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert math.isclose(float(x), float(y), rel_tol=1e-12, abs_tol=1e-15), (a, b)


def _dl_pair(kind, make):
    o = _opt(optim, dlcore.nn.Parameter, dlcore, kind)
    return o, make(lr_scheduler, o)


@requires_torch
@pytest.mark.parametrize("name", list(CASES))
def test_lr_and_momentum_sequence_matches_torch(name):
    import torch
    kind, make = CASES[name]
    dopt, ds = _dl_pair(kind, make)
    topt = _opt(torch.optim, torch.nn.Parameter, torch, kind)
    ts = make(torch.optim.lr_scheduler, topt)
    _close(ds.get_last_lr(), ts.get_last_lr())
    _close([g["lr"] for g in dopt.param_groups], [g["lr"] for g in topt.param_groups])
    for _ in range(STEPS):
        dopt.step()
        topt.step()
        ds.step()
        ts.step()
        _close(ds.get_last_lr(), ts.get_last_lr())
        _close([g["lr"] for g in dopt.param_groups], [g["lr"] for g in topt.param_groups])
        _close(_momenta(dopt), _momenta(topt))


@pytest.mark.parametrize("name", list(CASES))
def test_state_dict_round_trip_continues_identically(name):
    kind, make = CASES[name]
    opt, s = _dl_pair(kind, make)
    for _ in range(STEPS // 2):
        opt.step()
        s.step()
    osd, ssd = opt.state_dict(), s.state_dict()
    opt2, s2 = _dl_pair(kind, make)
    opt2.load_state_dict(osd)
    s2.load_state_dict(ssd)
    _close(s2.get_last_lr(), s.get_last_lr())
    for _ in range(STEPS - STEPS // 2):
        opt.step()
        s.step()
        opt2.step()
        s2.step()
        _close(s2.get_last_lr(), s.get_last_lr())
        _close([g["lr"] for g in opt2.param_groups], [g["lr"] for g in opt.param_groups])
        _close(_momenta(opt2), _momenta(opt))


@requires_torch
@pytest.mark.parametrize("T_mult", [1, 2])
def test_warm_restarts_fractional_epochs_match_torch(T_mult):
    import torch
    dopt = _opt(optim, dlcore.nn.Parameter, dlcore, "sgd")
    topt = _opt(torch.optim, torch.nn.Parameter, torch, "sgd")
    ds = lr_scheduler.CosineAnnealingWarmRestarts(dopt, T_0=4, T_mult=T_mult, eta_min=0.002)
    ts = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(topt, T_0=4, T_mult=T_mult, eta_min=0.002)
    for i in range(40):
        epoch = i * 0.35
        ds.step(epoch)
        ts.step(epoch)
        _close(ds.get_last_lr(), ts.get_last_lr())
        assert ds.last_epoch == ts.last_epoch and math.isclose(ds.T_i, ts.T_i)


def test_new_scheduler_errors():
    o = _opt(optim, dlcore.nn.Parameter, dlcore, "sgd")
    with pytest.raises(ValueError, match="T_0"):
        lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=0)
    with pytest.raises(ValueError, match="total_steps OR"):
        lr_scheduler.OneCycleLR(o, max_lr=0.1)
    with pytest.raises(ValueError, match="same length"):
        lr_scheduler.OneCycleLR(o, max_lr=[0.1], total_steps=5)
    s = lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=2)
    s.step()
    s.step()
    with pytest.raises(ValueError, match="Tried to step 3 times"):
        s.step()
    o2 = _opt(optim, dlcore.nn.Parameter, dlcore, "sgd")
    with pytest.raises(ValueError, match="milestones"):
        lr_scheduler.SequentialLR(o2, [lr_scheduler.ConstantLR(o2)], milestones=[3])
    with pytest.raises(ValueError, match="same optimizer"):
        lr_scheduler.ChainedScheduler([lr_scheduler.ConstantLR(o2), lr_scheduler.ConstantLR(o)])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        lr_scheduler.SequentialLR(o2, [lr_scheduler.ConstantLR(o2), lr_scheduler.ReduceLROnPlateau(o2)], [2])
    with pytest.raises(ValueError, match="momentum or beta1"):
        lr_scheduler.CyclicLR(optim.Adagrad([dlcore.nn.Parameter(dlcore.ones(1))]), base_lr=0.1, max_lr=1.0)
