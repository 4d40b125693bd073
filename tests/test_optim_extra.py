"""Adamax, NAdam, RAdam, Adadelta, Rprop, ASGD (fused native steps), LBFGS and torch.optim.swa_utils against
PyTorch: parameters and state after N steps from the same values and gradients (float32/float64, cpu and cuda,
every ISA build, non-contiguous parameters), state_dict round trips (ours and torch's), bad input."""
import copy

import numpy as np
import pytest

import dlcore
from dlcore import optim
from dlcore.optim import swa_utils
from conftest import requires_torch, HAVE_TORCH

if HAVE_TORCH:
    import torch
    torch.set_num_threads(1)

CONFIGS = [
    ("Adamax", dict(lr=0.01)),
    ("Adamax", dict(lr=0.02, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1)),
    ("Adamax", dict(lr=0.01, maximize=True, weight_decay=0.05)),
    ("Adamax", dict(lr=0.05, betas=(0.3, 0.99))),  # 1 - beta1 > 0.5: the other branch of torch's lerp
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.02, betas=(0.85, 0.95), momentum_decay=0.01, maximize=True, eps=1e-6)),
    ("RAdam", dict(lr=0.01)),  # beta2 = 0.999: rho_t crosses 5 at step 6 (unrectified, then rectified)
    ("RAdam", dict(lr=0.01, betas=(0.9, 0.9), weight_decay=0.1)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.02, betas=(0.4, 0.95), maximize=True, eps=1e-6)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1)),
    ("Adadelta", dict(lr=0.3, maximize=True)),
    ("Rprop", dict(lr=0.01)),
    ("Rprop", dict(lr=0.02, etas=(0.3, 1.5), step_sizes=(1e-3, 0.05))),
    ("Rprop", dict(lr=0.01, maximize=True)),
    ("ASGD", dict(lr=0.01)),
    ("ASGD", dict(lr=0.05, lambd=1e-2, alpha=0.5, t0=3, weight_decay=0.1)),  # mu != 1 from step 4 on
    ("ASGD", dict(lr=0.05, t0=1, maximize=True)),
]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)]
STEPS = 8
TOL = {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-12, atol=1e-12)}


def _shapes(device):
    # 70000 elements split over the cpu thread pool; 20000 span two blocks of the cuda kernels
    return [(3, 5), (17,), (1,), (70000,) if device == "cpu" else (20000,)]


def _data(rng, shapes, np_dt, steps):
    inits = [rng.standard_normal(s).astype(np_dt) for s in shapes]
    grads = []
    for _ in range(steps):
        gs = []
        for s in shapes:
            g = rng.standard_normal(s).astype(np_dt)
            g[rng.random(s) < 0.1] = 0  # zero gradients (Rprop's sign 0 case)
            gs.append(g)
        grads.append(gs)
    return inits, grads


def _to_np(t):
    if isinstance(t, dlcore.Tensor):
        return t.detach().cpu().numpy()
    return t.detach().numpy()


def _check_state(dopt, topt, dps, tps, tol):
    for dp, tp in zip(dps, tps):
        ds, ts = dopt.state[dp], topt.state[tp]
        assert set(ds) == set(ts)
        for k, tv in ts.items():
            dv = ds[k]
            if isinstance(dv, dlcore.Tensor):
                assert dv.device == dp.device and dv.dtype == dp.dtype
                dlcore.testing.assert_close(dv.detach().cpu(), _to_np(tv), **tol)
            else:  # step, mu_product, eta, mu: Python numbers (torch: 0-d tensors)
                assert float(dv) == float(tv.item()), k


def _run_pair(name, kw, dtype, rng, device="cpu", steps=STEPS):
    np_dt = np.float32 if dtype == "float32" else np.float64
    inits, grads = _data(rng, _shapes(device), np_dt, steps)
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
@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matches_torch(name, kw, dtype, rng, device):
    dps, tps, dopt, topt = _run_pair(name, kw, dtype, rng, device=device)
    tol = TOL[dtype]
    for d, t in zip(dps, tps):
        assert d.device.type == device
        dlcore.testing.assert_close(d.detach().cpu(), t.detach().numpy(), **tol)
    _check_state(dopt, topt, dps, tps, tol)


@requires_torch
@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
@pytest.mark.parametrize("name,kw", [CONFIGS[i] for i in (1, 6, 9, 13, 16, 19)], ids=lambda v: str(v))
def test_every_isa(name, kw, isa, rng):
    try:
        dlcore._C._set_cpu_isa(isa)
    except ValueError:
        pytest.skip(f"this CPU has no {isa}")
    dps, tps, _, _ = _run_pair(name, kw, "float32", rng)
    for d, t in zip(dps, tps):
        dlcore.testing.assert_close(d.detach(), t.detach().numpy(), **TOL["float32"])


@requires_torch
@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_noncontiguous_params_and_reload_match_torch(name, kw, rng, device):
    # Parameter(w.t()) and a strided slice (stepped as contiguous copies and written back); the optimizer is rebuilt
    # from its state_dict after step 3 and must go on exactly as torch's.
    a = rng.standard_normal((4, 3))
    b = rng.standard_normal(20)
    grads = [(rng.standard_normal((3, 4)), rng.standard_normal(10)) for _ in range(6)]
    dps = [dlcore.nn.Parameter(dlcore.tensor(a, device=device).t()),
           dlcore.nn.Parameter(dlcore.tensor(b, device=device)[1::2])]
    tps = [torch.nn.Parameter(torch.tensor(a).t()), torch.nn.Parameter(torch.tensor(b)[1::2])]
    assert not any(p.is_contiguous() for p in dps)
    dopt = getattr(optim, name)(dps, **kw)
    topt = getattr(torch.optim, name)(tps, **kw)
    for k, gk in enumerate(grads):
        if k == 3:
            sd = dopt.state_dict()
            dopt = getattr(optim, name)(dps, **kw)
            dopt.load_state_dict(copy.deepcopy(sd))
        for dp, tp, g in zip(dps, tps, gk):
            dp.grad = dlcore.tensor(g, device=device)
            tp.grad = torch.tensor(g)
        dopt.step()
        topt.step()
        for dp, tp in zip(dps, tps):
            assert not dp.is_contiguous()
            dlcore.testing.assert_close(dp.detach().cpu(), tp.detach().numpy(), **TOL["float64"])
    _check_state(dopt, topt, dps, tps, TOL["float64"])


@requires_torch
@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_state_dict_roundtrip_and_torch_compat(name, kw, rng):
    inits, grads = _data(rng, [(2, 3), (5,)], np.float64, 6)

    def make():
        ps = [dlcore.nn.Parameter(dlcore.tensor(a.copy())) for a in inits]
        return ps, getattr(optim, name)(ps, **kw)

    tps = [torch.nn.Parameter(torch.tensor(a.copy())) for a in inits]
    topt = getattr(torch.optim, name)(tps, **kw)
    p1, o1 = make()
    for gk in grads[:3]:
        for p, tp, g in zip(p1, tps, gk):
            p.grad = dlcore.tensor(g)
            tp.grad = torch.tensor(g)
        o1.step()
        topt.step()
    sd = o1.state_dict()
    tsd = topt.state_dict()
    # torch's layout: same state names per parameter and same hyper-parameter names per group
    assert set(sd["state"]) == set(tsd["state"]) == {0, 1}
    for i in (0, 1):
        assert set(sd["state"][i]) == set(tsd["state"][i])
        assert int(sd["state"][i]["step"]) == 3
    assert set(sd["param_groups"][0]) == set(tsd["param_groups"][0])
    # ours into a fresh optimizer, and torch's into another: both continue exactly as the original
    p2, o2 = make()
    p3, o3 = make()
    with dlcore.no_grad():
        for a, b, c in zip(p1, p2, p3):
            b.copy_(a)
            c.copy_(a)
    o2.load_state_dict(copy.deepcopy(sd))
    o3.load_state_dict(copy.deepcopy(tsd))
    for gk in grads[3:]:
        for ps in (p1, p2, p3):
            for p, g in zip(ps, gk):
                p.grad = dlcore.tensor(g)
        for tp, g in zip(tps, gk):
            tp.grad = torch.tensor(g)
        o1.step()
        o2.step()
        o3.step()
        topt.step()
    for a, b, c, t in zip(p1, p2, p3, tps):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
        dlcore.testing.assert_close(c.detach(), t.detach().numpy(), **TOL["float64"])
        dlcore.testing.assert_close(a.detach(), t.detach().numpy(), **TOL["float64"])


@requires_torch
@pytest.mark.parametrize("name,kw", [CONFIGS[i] for i in (1, 5, 9, 12, 15, 19)], ids=lambda v: str(v))
def test_parameters_at_different_steps_match_torch(name, kw, rng, device):
    # one group whose parameters got gradients in different steps: per-parameter step counts, mu_products, etas
    # and mus within one fused call (the cuda launcher splits the group by them)
    inits, grads = _data(rng, [(4,), (3, 2), (5,)], np.float64, 7)
    dps = [dlcore.nn.Parameter(dlcore.tensor(a.copy(), device=device)) for a in inits]
    tps = [torch.nn.Parameter(torch.tensor(a.copy())) for a in inits]
    dopt = getattr(optim, name)(dps, **kw)
    topt = getattr(torch.optim, name)(tps, **kw)
    for k, gk in enumerate(grads):
        for i, (dp, tp, g) in enumerate(zip(dps, tps, gk)):
            has = i == 0 or (i == 1 and k % 2 == 0) or (i == 2 and k >= 4)
            dp.grad = dlcore.tensor(g, device=device) if has else None
            tp.grad = torch.tensor(g) if has else None
        dopt.step()
        topt.step()
    for dp, tp in zip(dps, tps):
        dlcore.testing.assert_close(dp.detach().cpu(), tp.detach().numpy(), **TOL["float64"])
    _check_state(dopt, topt, dps, tps, TOL["float64"])


def test_params_without_grad_are_skipped():
    for name in ("Adamax", "NAdam", "RAdam", "Adadelta", "Rprop", "ASGD"):
        a = dlcore.nn.Parameter(dlcore.ones(3))
        b = dlcore.nn.Parameter(dlcore.ones(3))
        opt = getattr(optim, name)([a, b])
        a.grad = dlcore.ones(3)
        opt.step()
        assert (a.detach().numpy() < 1).all(), name
        assert b.detach().tolist() == [1.0, 1.0, 1.0]
        assert not opt.state.get(b)


def test_closure_and_version_bump():
    p = dlcore.nn.Parameter(dlcore.tensor([2.0]))
    opt = optim.Adamax([p], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    assert float(opt.step(closure)) == 4.0
    # Adamax's first step moves by lr (m/u = 1 after bias correction, eps aside)
    np.testing.assert_allclose(p.item(), 1.5, rtol=1e-6)
    y = (p * p).sum()
    p.grad = dlcore.ones(1)
    optim.NAdam([p]).step()
    with pytest.raises(RuntimeError, match="modified by an inplace"):
        y.backward()


@pytest.mark.parametrize("make,match", [
    (lambda p: optim.Adamax([p], lr=-1), "Invalid learning rate: -1"),
    (lambda p: optim.Adamax([p], eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (lambda p: optim.Adamax([p], betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
    (lambda p: optim.NAdam([p], betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (lambda p: optim.NAdam([p], momentum_decay=-1), "Invalid momentum_decay value: -1"),
    (lambda p: optim.NAdam([p], weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    (lambda p: optim.RAdam([p], lr=-0.1), "Invalid learning rate: -0.1"),
    (lambda p: optim.RAdam([p], weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda p: optim.Adadelta([p], rho=1.5), "Invalid rho value: 1.5"),
    (lambda p: optim.Adadelta([p], eps=-1), "Invalid epsilon value: -1"),
    (lambda p: optim.Rprop([p], etas=(1.1, 1.2)), "Invalid eta values: 1.1, 1.2"),
    (lambda p: optim.Rprop([p], lr=-1), "Invalid learning rate: -1"),
    (lambda p: optim.ASGD([p], lr=-1), "Invalid learning rate: -1"),
    (lambda p: optim.ASGD([p], weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda p: optim.LBFGS([p], lr=-1), "Invalid learning rate: -1"),
    (lambda p: optim.NAdam([p], differentiable=True), "differentiable=True is not supported"),
    (lambda p: optim.RAdam([p], capturable=True), "capturable=True is not supported"),
    # (these five accepted differentiable=True, RMSprop also capturable=True, and ignored them)
    (lambda p: optim.SGD([p], lr=0.1, differentiable=True), "SGD: differentiable=True is not supported"),
    (lambda p: optim.Adam([p], differentiable=True), "Adam: differentiable=True is not supported"),
    (lambda p: optim.AdamW([p], differentiable=True), "AdamW: differentiable=True is not supported"),
    (lambda p: optim.Adagrad([p], differentiable=True), "Adagrad: differentiable=True is not supported"),
    (lambda p: optim.RMSprop([p], differentiable=True), "RMSprop: differentiable=True is not supported"),
    (lambda p: optim.RMSprop([p], capturable=True), "RMSprop: capturable=True is not supported"),
])
def test_bad_hyperparameters(make, match):
    p = dlcore.nn.Parameter(dlcore.ones(3))
    with pytest.raises(ValueError, match=match):
        make(p)


@requires_torch
def test_bad_hyperparameter_messages_are_torchs():
    cases = [("Adamax", dict(lr=-1)), ("NAdam", dict(momentum_decay=-1)), ("Adadelta", dict(rho=1.5)),
             ("Rprop", dict(etas=(1.1, 1.2))), ("RAdam", dict(betas=(0.9, 1.0))), ("ASGD", dict(weight_decay=-1))]
    for name, kw in cases:
        with pytest.raises(ValueError) as te:
            getattr(torch.optim, name)([torch.nn.Parameter(torch.ones(3))], **kw)
        with pytest.raises(ValueError) as de:
            getattr(optim, name)([dlcore.nn.Parameter(dlcore.ones(3))], **kw)
        assert str(de.value) == str(te.value)


def test_kernel_bad_input():
    p = dlcore.nn.Parameter(dlcore.ones(3))
    z = dlcore.zeros(3)
    with pytest.raises(ValueError, match=r"adamax_step\(\): grads\[0\] has shape \[4\]"):
        dlcore._C._adamax_step([p], [dlcore.ones(4)], [z], [dlcore.zeros(3)], [1], 0.1, 0.9, 0.99, 1e-8, 0.0, False)
    with pytest.raises(ValueError, match="step numbers start at 1"):
        dlcore._C._radam_step([p], [z], [dlcore.zeros(3)], [dlcore.zeros(3)], [0], 0.1, 0.9, 0.99, 1e-8, 0.0, False,
                              False)
    with pytest.raises(ValueError, match="'mu_products' has 0 entries"):
        dlcore._C._nadam_step([p], [z], [dlcore.zeros(3)], [dlcore.zeros(3)], [1], [], 0.1, 0.9, 0.99, 1e-8, 0.0,
                              4e-3, False, False)
    with pytest.raises(TypeError, match=r"rprop_step\(\): step_sizes\[0\] has dtype float64"):
        dlcore._C._rprop_step([p], [z], [dlcore.zeros(3)], [dlcore.zeros(3, dtype=dlcore.float64)], 0.5, 1.2, 1e-6,
                              50.0, False)
    with pytest.raises(ValueError, match="shares memory with its parameter"):
        dlcore._C._asgd_step([p], [z], [p], [0.1], [1.0], 1e-4, 0.0, False)
    with pytest.raises(TypeError, match="float32 or float64"):
        dlcore._C._adadelta_step([dlcore.ones(3, dtype=dlcore.int64)], [z], [z], [z], 1.0, 0.9, 1e-6, 0.0, False)


# --------------------------------------------------------------------------------------------------- LBFGS

def _rosenbrock_run(lib, x0s, steps, **kw):
    """Two parameters (ours: the second non-contiguous) holding the variables of a chained Rosenbrock function."""
    if lib == "torch":
        # torch's LBFGS views each gradient flat, which fails for a strided parameter: the same values, contiguous
        ps = [torch.nn.Parameter(torch.tensor(x0s[0])), torch.nn.Parameter(torch.tensor(x0s[1].T.copy()))]
        opt = torch.optim.LBFGS(ps, **kw)
        cat = torch.cat
    else:
        ps = [dlcore.nn.Parameter(dlcore.tensor(x0s[0])), dlcore.nn.Parameter(dlcore.tensor(x0s[1]).t())]
        opt = optim.LBFGS(ps, **kw)
        cat = dlcore.cat

    def closure():
        opt.zero_grad()
        x = cat([ps[0], ps[1].reshape(-1)], 0)
        a, b = x[:-1], x[1:]
        loss = (100 * (b - a * a) ** 2 + (1 - a) ** 2).sum()
        loss.backward()
        return loss

    iterates, losses = [], []
    for _ in range(steps):
        losses.append(float(opt.step(closure).detach()))
        iterates.append(np.concatenate([_to_np(p).reshape(-1) for p in ps]))
    return np.array(iterates), losses, opt


@requires_torch
@pytest.mark.parametrize("kw", [
    dict(lr=0.1),
    dict(lr=1, line_search_fn="strong_wolfe"),
    dict(lr=0.5, max_iter=7, history_size=3, line_search_fn="strong_wolfe"),
    dict(lr=0.2, max_iter=5, max_eval=8, history_size=2, tolerance_change=1e-5),
], ids=["fixed", "wolfe", "wolfe-short-history", "fixed-limits"])
def test_lbfgs_rosenbrock_matches_torch(kw, rng):
    x0s = [np.array([-1.5, 2.0, -0.5]), np.array([[1.2, 0.3], [0.8, -0.7]])]
    ti, tl, topt = _rosenbrock_run("torch", x0s, 3, **kw)
    di, dl, dopt = _rosenbrock_run("dlcore", x0s, 3, **kw)
    np.testing.assert_allclose(di, ti, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(dl, tl, rtol=1e-9, atol=1e-10)
    tst = topt.state[topt.param_groups[0]["params"][0]]
    dst = dopt.state[dopt.param_groups[0]["params"][0]]
    assert dst["func_evals"] == tst["func_evals"] and dst["n_iter"] == tst["n_iter"]
    assert len(dst["old_dirs"]) == len(tst["old_dirs"])
    dlcore.testing.assert_close(dst["d"], tst["d"].numpy(), rtol=1e-8, atol=1e-10)
    assert di[-1].tolist() != ti[0].tolist()  # it moved


@requires_torch
def test_lbfgs_loads_torch_state_dict():
    x0s = [np.array([-1.5, 2.0, -0.5]), np.array([[1.2, 0.3], [0.8, -0.7]])]
    kw = dict(lr=0.5, max_iter=4, history_size=3, line_search_fn="strong_wolfe")
    ti, _, topt = _rosenbrock_run("torch", x0s, 2, **kw)
    x1 = [ti[-1][:3], ti[-1][3:].reshape(2, 2).T]  # torch's iterate, in our layout (second parameter transposed)
    di, _, dopt = _rosenbrock_run("dlcore", [x1[0], np.ascontiguousarray(x1[1])], 0, **kw)
    dopt.load_state_dict(copy.deepcopy(topt.state_dict()))
    tps, dps = topt.param_groups[0]["params"], dopt.param_groups[0]["params"]

    def closure_for(opt, ps, cat):
        def closure():
            opt.zero_grad()
            x = cat([ps[0], ps[1].reshape(-1)], 0)
            loss = (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
            loss.backward()
            return loss
        return closure

    topt.step(closure_for(topt, tps, torch.cat))
    dopt.step(closure_for(dopt, dps, dlcore.cat))
    for dp, tp in zip(dps, tps):
        np.testing.assert_allclose(_to_np(dp), _to_np(tp), rtol=1e-9, atol=1e-10)


@requires_torch
def test_lbfgs_float32_first_step():
    # float32: the losses themselves round differently (reduction order), so compare the first step only
    x0s = [np.array([-1.5, 2.0, -0.5], np.float32), np.array([[1.2, 0.3], [0.8, -0.7]], np.float32)]
    for kw in (dict(lr=0.1, max_iter=5), dict(lr=1, max_iter=5, line_search_fn="strong_wolfe")):
        ti, _, _ = _rosenbrock_run("torch", x0s, 1, **kw)
        di, _, _ = _rosenbrock_run("dlcore", x0s, 1, **kw)
        assert di.dtype == np.float32
        np.testing.assert_allclose(di, ti, rtol=1e-4, atol=1e-5)


def test_lbfgs_state_dict_roundtrip_and_errors(rng):
    def make():
        p = dlcore.nn.Parameter(dlcore.tensor(np.array([-1.2, 1.0, 0.5])))
        opt = optim.LBFGS([p], lr=0.5, max_iter=4, history_size=3, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = (100 * (p[1:] - p[:-1] ** 2) ** 2 + (1 - p[:-1]) ** 2).sum()
            loss.backward()
            return loss
        return p, opt, closure

    p1, o1, c1 = make()
    o1.step(c1)
    o1.step(c1)
    sd = copy.deepcopy(o1.state_dict())
    assert {"func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad",
            "prev_loss"} <= set(sd["state"][0])
    p2, o2, c2 = make()
    with dlcore.no_grad():
        p2.copy_(p1)
    o2.load_state_dict(sd)
    o1.step(c1)
    o2.step(c2)
    np.testing.assert_array_equal(p1.detach().numpy(), p2.detach().numpy())
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [dlcore.nn.Parameter(dlcore.ones(1))]},
                     {"params": [dlcore.nn.Parameter(dlcore.ones(1))]}])
    bad = optim.LBFGS([p1], line_search_fn="armijo")
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        bad.step(c1)
    with pytest.raises(TypeError):
        o1.step()


def test_lbfgs_converges_on_quadratic(device):
    # a convex quadratic: L-BFGS with the strong Wolfe search reaches the solution of A x = b
    rng = np.random.default_rng(0)
    m = rng.standard_normal((6, 6))
    A = m @ m.T + 6 * np.eye(6)
    b = rng.standard_normal(6)
    x = dlcore.nn.Parameter(dlcore.zeros(6, dtype=dlcore.float64, device=device))
    At, bt = dlcore.tensor(A, device=device), dlcore.tensor(b, device=device)
    opt = optim.LBFGS([x], line_search_fn="strong_wolfe", max_iter=50, tolerance_grad=1e-12,
                      tolerance_change=1e-14)

    def closure():
        opt.zero_grad()
        loss = 0.5 * (x * (At @ x)).sum() - (bt * x).sum()
        loss.backward()
        return loss

    opt.step(closure)
    np.testing.assert_allclose(x.detach().cpu().numpy(), np.linalg.solve(A, b), rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------------------------------- swa_utils

def _pair_models(rng):
    d = dlcore.nn.Sequential(dlcore.nn.Linear(4, 3), dlcore.nn.BatchNorm1d(3), dlcore.nn.Linear(3, 2))
    t = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.Linear(3, 2)).double()
    d = d.double()
    _randomize(d, t, rng)
    return d, t


def _randomize(d, t, rng):
    with dlcore.no_grad(), torch.no_grad():
        for (name, dp), (_, tp) in zip(d.named_parameters(), t.named_parameters()):
            v = rng.standard_normal(tuple(tp.shape))
            dp.copy_(dlcore.tensor(v))
            tp.copy_(torch.tensor(v))
        for (name, db), (_, tb) in zip(d.named_buffers(), t.named_buffers()):
            if tb.dtype.is_floating_point:
                v = rng.random(tuple(tb.shape)) + 0.5
                db.copy_(dlcore.tensor(v))
                tb.copy_(torch.tensor(v))
            else:
                k = int(rng.integers(1, 9))
                db.copy_(dlcore.tensor(np.array(k, dtype=np.int64)))
                tb.fill_(k)


def _compare_models(dm, tm, tol=1e-12):
    for (n1, a), (n2, b) in zip(dm.state_dict().items(), tm.state_dict().items()):
        assert n1 == n2
        np.testing.assert_allclose(_to_np(a), _to_np(b), rtol=tol, atol=tol, err_msg=n1)


@requires_torch
@pytest.mark.parametrize("fns", ["swa", "ema", "ema-multi", "swa-multi", "custom"])
@pytest.mark.parametrize("use_buffers", [False, True])
def test_averaged_model_matches_torch(fns, use_buffers, rng):
    dmodel, tmodel = _pair_models(rng)
    kwd, kwt = {}, {}
    if fns == "ema":
        kwd["avg_fn"], kwt["avg_fn"] = swa_utils.get_ema_avg_fn(0.9), torch.optim.swa_utils.get_ema_avg_fn(0.9)
    elif fns == "ema-multi":
        kwd["multi_avg_fn"] = swa_utils.get_ema_multi_avg_fn(0.8)
        kwt["multi_avg_fn"] = torch.optim.swa_utils.get_ema_multi_avg_fn(0.8)
    elif fns == "swa-multi":
        kwd["multi_avg_fn"] = swa_utils.get_swa_multi_avg_fn()
        kwt["multi_avg_fn"] = torch.optim.swa_utils.get_swa_multi_avg_fn()
    elif fns == "custom":
        kwd["avg_fn"] = kwt["avg_fn"] = lambda avg, cur, n: 0.25 * avg + 0.75 * cur
    dav = swa_utils.AveragedModel(dmodel, use_buffers=use_buffers, **kwd)
    tav = torch.optim.swa_utils.AveragedModel(tmodel, use_buffers=use_buffers, **kwt)
    if fns == "swa-multi" and use_buffers:
        # the integer buffer (num_batches_tracked) reaches torch's refused integer addcdiv: both raise
        for av, m in ((dav, dmodel), (tav, tmodel)):
            av.update_parameters(m)
            with pytest.raises(RuntimeError, match="Integer division with addcdiv"):
                av.update_parameters(m)
        return
    for _ in range(4):
        _randomize(dmodel, tmodel, rng)
        dav.update_parameters(dmodel)
        tav.update_parameters(tmodel)
        _compare_models(dav, tav)
    assert int(dav.n_averaged.item()) == 4
    x = rng.standard_normal((5, 4))
    dav.eval()
    tav.eval()
    np.testing.assert_allclose(_to_np(dav(dlcore.tensor(x))), _to_np(tav(torch.tensor(x))), rtol=1e-6, atol=1e-8)
    # the averaged copy is independent of the model
    assert all(a is not b for a, b in zip(dav.module.parameters(), dmodel.parameters()))


def test_averaged_model_device_and_errors(device):
    m = dlcore.nn.Linear(3, 2)
    av = swa_utils.AveragedModel(m, device=device)
    assert all(p.device.type == device for p in av.parameters())
    av.update_parameters(m)
    np.testing.assert_array_equal(av.module.weight.detach().cpu().numpy(), m.weight.detach().numpy())
    with dlcore.no_grad():
        m.weight.mul_(3.0)
    av.update_parameters(m)  # mean of w and 3w
    np.testing.assert_allclose(av.module.weight.detach().cpu().numpy(), m.weight.detach().numpy() * 2 / 3,
                               rtol=1e-6)
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(m, avg_fn=swa_utils.get_swa_avg_fn(),
                                multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    with pytest.raises(ValueError, match="Invalid decay value 1.5"):
        swa_utils.get_ema_avg_fn(1.5)
    with pytest.raises(ValueError, match="Invalid decay value -0.1"):
        swa_utils.get_ema_multi_avg_fn(-0.1)


@requires_torch
def test_update_bn_matches_torch(rng):
    dmodel, tmodel = _pair_models(rng)
    batches = [rng.standard_normal((6, 4)) for _ in range(3)]
    dloader = [(dlcore.tensor(b), 0) for b in batches]
    tloader = [(torch.tensor(b), 0) for b in batches]
    dmodel.eval()
    tmodel.eval()
    dbn, tbn = dmodel[1], tmodel[1]
    dbn.momentum = tbn.momentum = 0.3
    swa_utils.update_bn(dloader, dmodel)
    torch.optim.swa_utils.update_bn(tloader, tmodel)
    _compare_models(dmodel, tmodel, tol=1e-10)
    assert not dmodel.training and dbn.momentum == 0.3
    # plain tensors as batches, and a model without BatchNorm (a no-op)
    swa_utils.update_bn([dlcore.tensor(b) for b in batches], dmodel)
    _compare_models(dmodel, tmodel, tol=1e-10)
    lin = dlcore.nn.Linear(4, 2)
    w = lin.weight.detach().numpy().copy()
    swa_utils.update_bn(dloader, lin)
    np.testing.assert_array_equal(lin.weight.detach().numpy(), w)


@requires_torch
@pytest.mark.parametrize("kw", [dict(swa_lr=0.05), dict(swa_lr=[0.05, 0.2], anneal_epochs=3, anneal_strategy="linear"),
                                dict(swa_lr=0.01, anneal_epochs=0), dict(swa_lr=0.3, anneal_epochs=4)])
def test_swalr_matches_torch(kw):
    dps = [dlcore.nn.Parameter(dlcore.ones(2)), dlcore.nn.Parameter(dlcore.ones(2))]
    tps = [torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))]
    dopt = optim.SGD([{"params": [dps[0]]}, {"params": [dps[1]], "lr": 0.5}], lr=0.1)
    topt = torch.optim.SGD([{"params": [tps[0]]}, {"params": [tps[1]], "lr": 0.5}], lr=0.1)
    dsch = swa_utils.SWALR(dopt, **kw)
    tsch = torch.optim.swa_utils.SWALR(topt, **kw)
    for k in range(12):
        assert [g["lr"] for g in dopt.param_groups] == pytest.approx([g["lr"] for g in topt.param_groups],
                                                                      rel=1e-12, abs=1e-15)
        assert dsch.get_last_lr() == pytest.approx(tsch.get_last_lr(), rel=1e-12, abs=1e-15)
        if k == 5:  # rebuild from the state dict mid-anneal
            sd = dsch.state_dict()
            assert "optimizer" not in sd and "anneal_func" not in sd
            other = "cos" if kw.get("anneal_strategy") == "linear" else "linear"
            dsch = swa_utils.SWALR(dopt, **{**kw, "anneal_strategy": other})  # a no-op at its first step
            dsch.load_state_dict(sd)
        dopt.step()
        topt.step()
        dsch.step()
        tsch.step()


def test_swalr_errors():
    opt = optim.SGD([dlcore.nn.Parameter(dlcore.ones(1))], lr=0.1)
    with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear', instead got exp"):
        swa_utils.SWALR(opt, swa_lr=0.1, anneal_strategy="exp")
    with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0, got -1"):
        swa_utils.SWALR(opt, swa_lr=0.1, anneal_epochs=-1)
    with pytest.raises(ValueError, match="swa_lr must have the same length"):
        swa_utils.SWALR(opt, swa_lr=[0.1, 0.2])
