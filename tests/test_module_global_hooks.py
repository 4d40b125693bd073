"""Global module hooks (torch.nn.modules.module.register_module_*): order relative to the modules' own hooks,
removal, output replacement, registration hooks; the same event log as torch's where torch is installed."""
import pytest

import dlcore


def _run(lib, mmod):
    log = []
    m = lib.nn.Sequential(lib.nn.Linear(3, 2), lib.nn.ReLU())
    hs = [mmod.register_module_forward_pre_hook(lambda mod, a: log.append(("pre", type(mod).__name__))),
          mmod.register_module_forward_hook(lambda mod, a, o: log.append(("fwd", type(mod).__name__))),
          mmod.register_module_full_backward_hook(lambda mod, gi, go: log.append(("bwd", type(mod).__name__))),
          mmod.register_module_full_backward_pre_hook(lambda mod, go: log.append(("bpre", type(mod).__name__)))]
    m[0].register_forward_hook(lambda mod, a, o: log.append(("own", type(mod).__name__)))
    x = lib.ones(4, 3, requires_grad=True)
    m(x).sum().backward()
    for h in hs:
        h.remove()
    m(x)  # only the module's own hook is left
    h = mmod.register_module_forward_hook(lambda mod, a, o: o * 2)
    y = lib.nn.Linear(3, 2)
    with lib.no_grad():
        y.weight.fill_(1.0)
        y.bias.fill_(0.0)
    out = y(lib.ones(1, 3)).tolist()
    h.remove()
    hs = [mmod.register_module_parameter_registration_hook(lambda mod, n, p: log.append(("param", n))),
          mmod.register_module_buffer_registration_hook(lambda mod, n, b: log.append(("buf", n))),
          mmod.register_module_module_registration_hook(lambda mod, n, s: log.append(("mod", n)))]
    lib.nn.BatchNorm1d(2)
    lib.nn.Sequential(lib.nn.Identity())
    for h in hs:
        h.remove()
    return log, out


def test_global_module_hooks():
    from dlcore.nn.modules import module as mm
    log, out = _run(dlcore, mm)
    assert out == [[6.0, 6.0]]
    assert log[:7] == [("pre", "Sequential"), ("pre", "Linear"), ("fwd", "Linear"), ("own", "Linear"),
                       ("pre", "ReLU"), ("fwd", "ReLU"), ("fwd", "Sequential")]
    assert log[7:13] == [("bpre", "Sequential"), ("bpre", "ReLU"), ("bwd", "ReLU"), ("bpre", "Linear"),
                         ("bwd", "Linear"), ("bwd", "Sequential")]
    assert log[13] == ("own", "Linear") and ("param", "weight") in log and ("buf", "running_mean") in log
    assert ("mod", "0") in log
    torch = pytest.importorskip("torch")
    assert _run(torch, torch.nn.modules.module) == (log, out)


def test_global_forward_hook_always_call_and_replacing_registration():
    from dlcore.nn.modules import module as mm
    seen = []

    class Boom(dlcore.nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    h = mm.register_module_forward_hook(lambda mod, a, o: seen.append(o), always_call=True)
    try:
        with pytest.raises(ValueError, match="boom"):
            Boom()(dlcore.ones(1))
    finally:
        h.remove()
    assert seen == [None]
    made = []

    def replace(mod, n, p):
        if n == "bias":
            made.append(dlcore.nn.Parameter(dlcore.zeros(p.shape)))
            return made[-1]
    h = mm.register_module_parameter_registration_hook(replace)
    try:
        lin = dlcore.nn.Linear(2, 3)
    finally:
        h.remove()
    assert lin.bias is made[0] and lin._parameters["bias"] is made[0]
