"""torch.jit's eager-path helpers (dlcore.jit) and Tensor.is_contiguous(memory_format=...), against PyTorch."""
import numpy as np
import pytest

import dlcore

torch = pytest.importorskip("torch")


def test_script_and_trace_return_what_they_get():
    m = dlcore.nn.Sequential(dlcore.nn.Linear(3, 2), dlcore.nn.ReLU())
    x = dlcore.randn(4, 3)
    assert dlcore.jit.script(m) is m and dlcore.jit.trace(m, (x,)) is m
    np.testing.assert_array_equal(dlcore.jit.script(m)(x).detach().numpy(), m(x).detach().numpy())
    assert not isinstance(m, dlcore.jit.ScriptModule) and not isinstance(None, dlcore.jit.ScriptModule)
    with pytest.raises(RuntimeError, match="script"):
        dlcore.jit.script(3)


def test_model_code_written_for_torchscript_runs():
    class Block(dlcore.nn.Module):
        scale: dlcore.jit.Final[float] = 2.0

        def __init__(self):
            super().__init__()
            self.lin = dlcore.nn.Linear(2, 2)

        @dlcore.jit.unused
        def debug(self):
            return "unused"

        @dlcore.jit.ignore
        def helper(self, x):
            return x * self.scale

        def forward(self, x):
            if dlcore.jit.is_scripting() or dlcore.jit.is_tracing():
                raise AssertionError("eager code path expected")
            y = dlcore.jit.annotate(dlcore.Tensor, self.lin(x))
            fut = dlcore.jit.fork(self.helper, y)
            return dlcore.jit.wait(fut)

    b = Block()
    x = dlcore.ones(1, 2)
    np.testing.assert_allclose(b(x).detach().numpy(), (b.lin(x) * 2).detach().numpy())
    assert b.debug() == "unused"
    with pytest.raises(NotImplementedError, match="state_dict"):
        dlcore.jit.save(b, "x.pt")
    with pytest.raises(NotImplementedError, match="state_dict"):
        dlcore.jit.load("x.pt")


@pytest.mark.parametrize("make", [
    lambda L: L.zeros(2, 3, 4, 5),
    lambda L: L.zeros(2, 3, 4, 5).permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2),
    lambda L: L.zeros(2, 1, 4, 5),
    lambda L: L.zeros(2, 3, 1, 1),
    lambda L: L.zeros(2, 3, 4, 5)[:, :, ::2],
    lambda L: L.zeros(2, 3),
    lambda L: L.zeros(2, 3, 4, 5, 6),
    lambda L: L.zeros(2, 3, 4, 5, 6).permute(0, 2, 3, 4, 1).contiguous().permute(0, 4, 1, 2, 3),
    lambda L: L.zeros(3, 4).t(),
])
def test_is_contiguous_memory_formats_like_torch(make):
    t, d = make(torch), make(dlcore)
    for name in ("contiguous_format", "channels_last", "channels_last_3d", "preserve_format"):
        assert d.is_contiguous(memory_format=getattr(dlcore, name)) == t.is_contiguous(
            memory_format=getattr(torch, name)), name
    assert d.is_contiguous() == t.is_contiguous()
