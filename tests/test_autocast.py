"""autocast (torch.autocast / torch.amp): per-op dtypes and values against torch's CPU autocast, the cuda policy
(emulated device in CI) against float32 results, gradients, nesting, the weight-cast cache, custom_fwd/bwd."""
import numpy as np
import pytest

import dlcore
from conftest import requires_torch

torch = pytest.importorskip("torch")
pytestmark = requires_torch


def to_np(t):
    return t.detach().float().cpu().numpy()


def copy_weights(tm, dm):
    dm.load_state_dict({k: dlcore.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


def build(nn):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3)
            self.bn = nn.BatchNorm2d(4)
            self.fc1 = nn.Linear(4 * 3 * 3, 16)
            self.fc2 = nn.Linear(16, 5)

        def forward(self, x, F):
            h = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
            a = self.fc1(h.flatten(1))
            s = F.softmax(a, dim=1)
            return self.fc2(F.gelu(a)), a, s
    return Net()


def test_cpu_autocast_matches_torch(rng):
    """Every intermediate's dtype equals torch's under autocast('cpu', bfloat16), values within bfloat16 rounding,
    and the float32 parameters' gradients agree."""
    torch.manual_seed(0)
    tm = build(torch.nn)
    dm = build(dlcore.nn)
    copy_weights(tm, dm)
    x = rng.standard_normal((6, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 5, 6)
    res = {}
    for lib, m in ((torch, tm), (dlcore, dm)):
        xt = lib.tensor(x)
        with lib.autocast("cpu", dtype=lib.bfloat16):
            out, a, s = m(xt, lib.nn.functional)
            loss = lib.nn.functional.cross_entropy(out, lib.tensor(y))
            e = out.exp()
            c = lib.cat([out, xt[:, 0, 0, :5]], 1)
            mm = xt[:, 0] @ xt[:, 0]
        loss.backward()
        res[lib.__name__] = dict(out=out, a=a, s=s, loss=loss, e=e, c=c, mm=mm,
                                 g1=m.fc1.weight.grad, g0=m.conv.weight.grad, gb=m.bn.weight.grad)
    t, d = res["torch"], res["dlcore"]
    for k in t:
        assert str(d[k].dtype).split(".")[-1] == str(t[k].dtype).split(".")[-1], f"{k}: {d[k].dtype} vs {t[k].dtype}"
    for k in ("out", "a", "s", "e", "c", "mm"):
        np.testing.assert_allclose(to_np(d[k]), to_np(t[k]), rtol=3e-2, atol=3e-2, err_msg=k)
    assert d["loss"].item() == pytest.approx(t["loss"].item(), rel=2e-2)
    for k in ("g1", "g0", "gb"):
        assert d[k].dtype == dlcore.float32
        ref = to_np(t[k])
        np.testing.assert_allclose(to_np(d[k]), ref, rtol=5e-2, atol=5e-2 * np.abs(ref).max(), err_msg=k)


def test_cuda_policy(device, rng):
    """autocast('cuda'): GEMM-like ops in float16, exp/sum/softmax/losses in float32, cat promoted; values
    against float32 within float16 rounding. On the cpu device the cuda region changes nothing."""
    x = dlcore.tensor(rng.standard_normal((4, 8)).astype(np.float32), device=device)
    w = dlcore.tensor(rng.standard_normal((5, 8)).astype(np.float32), device=device).requires_grad_(True)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (cuda unavailable: torch's warning, region disabled)
        ctx = dlcore.autocast("cuda")
    on = device == "cuda"
    with ctx:
        y = dlcore.nn.functional.linear(x, w)
        z = x @ w.t()
        e = y.exp()
        s = y.sum()
        p = dlcore.softmax(y, 1)
        c = dlcore.cat([y, x], 1)
        h = y.relu()
        loss = dlcore.nn.functional.mse_loss(y, dlcore.zeros_like(x[:, :5]))
    low = dlcore.float16 if on else dlcore.float32
    assert (y.dtype, z.dtype, h.dtype) == (low, low, low)
    assert e.dtype == s.dtype == p.dtype == c.dtype == loss.dtype == dlcore.float32
    ref = to_np(x) @ to_np(w).T
    np.testing.assert_allclose(to_np(y), ref, rtol=2e-3, atol=2e-3 * np.abs(ref).max())
    np.testing.assert_allclose(to_np(e), np.exp(to_np(y)), rtol=1e-5)
    loss.backward()
    assert w.grad.dtype == dlcore.float32
    g = 2 * to_np(y) / y.numel()
    np.testing.assert_allclose(to_np(w.grad), g.T @ to_np(x), rtol=1e-2, atol=1e-2)
    if on:
        with pytest.raises(RuntimeError, match="unsafe to autocast"):
            with dlcore.autocast("cuda"):
                dlcore.nn.functional.binary_cross_entropy(dlcore.sigmoid(y), dlcore.ones_like(y))


def test_state_nesting_decorator_cache():
    x = dlcore.randn(3, 4)
    m = dlcore.nn.Linear(4, 2)
    assert not dlcore.is_autocast_enabled("cpu")
    with dlcore.autocast("cpu") as ac:
        assert dlcore.is_autocast_enabled("cpu") and dlcore.get_autocast_dtype("cpu") == dlcore.bfloat16
        assert ac.fast_dtype == dlcore.bfloat16
        m(x)
        m(x)
        from dlcore import _autocast
        cached = [v for v in _autocast._tls.cache.values() if v[0] is m.weight]
        assert len(cached) == 1 and cached[0][1].dtype == dlcore.bfloat16  # one cast of the weight, reused
        with dlcore.autocast("cpu", enabled=False):
            assert not dlcore.is_autocast_enabled("cpu")
            assert m(x).dtype == dlcore.float32
        with dlcore.autocast("cpu", dtype=dlcore.float16):
            assert m(x).dtype == dlcore.float16
        assert m(x).dtype == dlcore.bfloat16
        # float64 is never cast
        assert (x.double() @ x.double().t()).dtype == dlcore.float64
    assert not dlcore.is_autocast_enabled("cpu") and not _autocast._tls.cache

    @dlcore.autocast("cpu")
    def f(a):
        return m(a)
    assert f(x).dtype == dlcore.bfloat16 and m(x).dtype == dlcore.float32
    from dlcore.cpu.amp import autocast as cpu_autocast
    with cpu_autocast():
        assert m(x).dtype == dlcore.bfloat16
    with pytest.warns(UserWarning, match="not supported"):
        ctx = dlcore.autocast("cpu", dtype=dlcore.float64)
    with ctx:
        assert m(x).dtype == dlcore.float32
    with pytest.raises(RuntimeError, match="unsupported autocast device_type"):
        dlcore.autocast("tpu")


def test_custom_fwd_bwd():
    class Sq(dlcore.autograd.Function):
        @staticmethod
        @dlcore.amp.custom_fwd(device_type="cpu", cast_inputs=dlcore.float32)
        def forward(ctx, a):
            ctx.save_for_backward(a)
            assert not dlcore.is_autocast_enabled("cpu")
            return a @ a.t()

        @staticmethod
        @dlcore.amp.custom_bwd(device_type="cpu")
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return (g + g.t()) @ a

    a = dlcore.randn(3, 4, requires_grad=True)
    with dlcore.autocast("cpu"):
        b = a.to(dlcore.bfloat16)
        out = Sq.apply(b)
    assert out.dtype == dlcore.float32
    out.sum().backward()
    assert a.grad.dtype == dlcore.float32


def test_autocast_gradscaler_training(device, rng):
    """The AMP recipe (autocast + GradScaler) trains a small classifier on the device."""
    dlcore.manual_seed(0)
    m = dlcore.nn.Sequential(dlcore.nn.Linear(10, 32), dlcore.nn.ReLU(), dlcore.nn.Linear(32, 3)).to(device)
    opt = dlcore.optim.SGD(m.parameters(), lr=0.3, momentum=0.9)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scaler = dlcore.amp.GradScaler(device)
    x = dlcore.tensor(rng.standard_normal((64, 10)).astype(np.float32), device=device)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    losses = []
    for _ in range(30):
        opt.zero_grad()
        with dlcore.autocast(device, dtype=dlcore.float16 if device == "cuda" else dlcore.bfloat16):
            loss = dlcore.nn.functional.cross_entropy(m(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        losses.append(loss.item())
    assert all(p.dtype == dlcore.float32 for p in m.parameters())
    assert losses[-1] < 0.5 * losses[0], losses


# ------------------------------------------------------------------------------------------ dtype parity sweep
def _sweep_cases():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    w = rng.standard_normal((5, 6)).astype(np.float32)
    img = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    k = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    seq = rng.standard_normal((5, 2, 6)).astype(np.float32)

    def cases(L):
        F = L.nn.functional
        T = L.tensor
        xb = T(x).to(L.bfloat16)
        return {
            "linear": lambda: F.linear(T(x), T(w)),
            "matmul": lambda: T(x) @ T(w).t(),
            "mm": lambda: L.mm(T(x), T(w).t()),
            "bmm": lambda: L.bmm(T(x)[None], T(w).t()[None]),
            "addmm": lambda: L.addmm(T(x[:, :5]), T(x), T(w).t()),
            "baddbmm": lambda: L.baddbmm(T(x[:, :5])[None], T(x)[None], T(w).t()[None]),
            "conv2d": lambda: F.conv2d(T(img), T(k)),
            "conv1d": lambda: F.conv1d(T(img[:, :, 0]), T(k[:, :, 0])),
            "matmul_f64": lambda: T(x).double() @ T(w).double().t(),
            "relu": lambda: F.relu(T(x)),
            "exp_f32": lambda: T(x).exp(),
            "exp_bf16": lambda: xb.exp(),
            "softmax_bf16": lambda: F.softmax(xb, 1),
            "log_softmax_bf16": lambda: F.log_softmax(xb, 1),
            "layer_norm_bf16": lambda: F.layer_norm(xb, (6,)),
            "sum_bf16": lambda: xb.sum(),
            "mse_bf16": lambda: F.mse_loss(xb, xb),
            "ce_bf16": lambda: F.cross_entropy(xb, L.tensor([0, 1, 2, 3])),
            "nll_bf16": lambda: F.nll_loss(xb, L.tensor([0, 1, 2, 3])),
            "bce_logits_bf16": lambda: F.binary_cross_entropy_with_logits(xb, xb.sigmoid()),
            "bce_bf16": lambda: F.binary_cross_entropy(xb.sigmoid(), xb.sigmoid()),
            "cat_mixed": lambda: L.cat([xb, T(x)]),
            "stack_mixed": lambda: L.stack([xb, T(x)]),
            "add_mixed": lambda: xb + T(x),
            "pow_bf16": lambda: xb ** 2,
            "batch_norm_bf16": lambda: F.batch_norm(xb, None, None, training=True),
            "max_pool_bf16": lambda: F.max_pool2d(T(img).to(L.bfloat16), 2),
            "avg_pool3d": lambda: F.avg_pool3d(T(img)[None].to(L.bfloat16), 2),
            "interp_bf16": lambda: F.interpolate(T(img).to(L.bfloat16), scale_factor=2),
            "lstm": lambda: L.nn.LSTM(6, 4)(T(seq))[0],
            "gelu_bf16": lambda: F.gelu(xb),
            "prelu": lambda: F.prelu(T(x), T(np.array([0.25], np.float32))),
            "sdpa": lambda: F.scaled_dot_product_attention(T(seq), T(seq), T(seq)),
            "cdist": lambda: L.cdist(xb, xb),
            "norm_bf16": lambda: xb.norm(),
            "cumsum_bf16": lambda: xb.cumsum(0),
            "prod_bf16": lambda: xb.prod(),
            "group_norm_bf16": lambda: F.group_norm(T(img).to(L.bfloat16), 3),
            "embedding": lambda: F.embedding(L.tensor([1, 2]), T(x)),
            "dropout": lambda: F.dropout(T(x), 0.5),
        }
    return cases


def test_cpu_autocast_dtypes_match_torch_for_40_ops():
    """Each op's result dtype under autocast("cpu", bfloat16) equals torch's (lower-precision, float32 and promote
    lists; float64, integer and non-listed ops untouched)."""
    cases = _sweep_cases()
    got = {}
    for lib in (torch, dlcore):
        for name, f in cases(lib).items():
            with lib.autocast("cpu", dtype=lib.bfloat16):
                got.setdefault(name, []).append(str(f().dtype).split(".")[-1])
    bad = {k: v for k, v in got.items() if v[0] != v[1]}
    assert not bad, f"(torch, dlcore) dtypes differ: {bad}"
