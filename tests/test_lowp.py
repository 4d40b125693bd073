"""float16 / bfloat16 tensors through the layer ops, modules and optimizers (dlcore/_lowp.py).

Oracle: torch in float32 on the same 16-bit values, its result rounded once to the 16-bit type (what torch's own
CPU kernels compute: float32 "opmath" inside, one rounding per op). dlcore's result must be within one 16-bit ulp of
it (plus a small absolute slack for float32 summation-order differences before the rounding). Gradients: the same
with the upstream gradient 16-bit representable, so the cast's rounding of it is exact.
"""
import numpy as np
import pytest

import dlcore
from conftest import requires_torch

torch = pytest.importorskip("torch")
pytestmark = requires_torch

DTYPES = ["bfloat16", "float16"]
ULP = {"bfloat16": 2.0 ** -7, "float16": 2.0 ** -10}  # relative spacing at the bottom of a binade


def tdt(name):
    return getattr(torch, name)


def ddt(name):
    return getattr(dlcore, name)


def rep(a, dt):
    """a's values rounded to dt (float32 numpy array of 16-bit-representable values)."""
    return torch.from_numpy(np.asarray(a, np.float32)).to(tdt(dt)).float().numpy()


def close(out, ref, dt, slack=1e-4, ulps=1.0):
    out = np.asarray(out, np.float64)
    ref = np.asarray(ref, np.float64)
    assert out.shape == ref.shape, (out.shape, ref.shape)
    tol = ulps * ULP[dt] * np.abs(ref) + slack * max(1.0, float(np.abs(ref).max(initial=0.0)))
    bad = np.abs(out - ref) > tol
    assert not bad.any(), f"{bad.sum()} of {bad.size} differ; worst {np.abs(out - ref).max()} (ref {ref[bad][:4]}, " \
                          f"got {out[bad][:4]})"


def to_np(t):
    return t.detach().float().cpu().numpy()


F_CASES = {
    # name: (input shapes (floats), extra builder, fn(lib, F, *tensors, **extra))
    "linear": ([(6, 20), (12, 20), (12,)], lambda lib, F, x, w, b: F.linear(x, w, b)),
    "matmul_batched": ([(2, 5, 20), (20, 7)], lambda lib, F, a, b: lib.matmul(a, b)),
    "matmul_vec": ([(20,), (20, 7)], lambda lib, F, a, b: a @ b),
    "bmm": ([(3, 4, 20), (3, 20, 5)], lambda lib, F, a, b: lib.bmm(a, b)),
    "addmm": ([(7,), (4, 20), (20, 7)], lambda lib, F, c, a, b: lib.addmm(c, a, b, beta=0.5, alpha=2.0)),
    "conv2d": ([(2, 3, 8, 8), (4, 3, 3, 3), (4,)], lambda lib, F, x, w, b: F.conv2d(x, w, b, padding=1)),
    "conv1d": ([(2, 3, 10), (4, 3, 3)], lambda lib, F, x, w: F.conv1d(x, w, stride=2)),
    "conv_transpose2d": ([(2, 3, 5, 5), (3, 4, 3, 3)], lambda lib, F, x, w: F.conv_transpose2d(x, w, stride=2)),
    "max_pool2d": ([(2, 3, 8, 8)], lambda lib, F, x: F.max_pool2d(x, 2)),
    "avg_pool2d": ([(2, 3, 8, 8)], lambda lib, F, x: F.avg_pool2d(x, 3, stride=2, padding=1)),
    "adaptive_avg_pool2d": ([(2, 3, 7, 7)], lambda lib, F, x: F.adaptive_avg_pool2d(x, 1)),
    "relu": ([(5, 9)], lambda lib, F, x: F.relu(x)),
    "leaky_relu": ([(5, 9)], lambda lib, F, x: F.leaky_relu(x, 0.1)),
    "elu": ([(5, 9)], lambda lib, F, x: F.elu(x)),
    "gelu": ([(5, 9)], lambda lib, F, x: F.gelu(x)),
    "gelu_tanh": ([(5, 9)], lambda lib, F, x: F.gelu(x, approximate="tanh")),
    "silu": ([(5, 9)], lambda lib, F, x: F.silu(x)),
    "softplus": ([(5, 9)], lambda lib, F, x: F.softplus(x)),
    "hardswish": ([(5, 9)], lambda lib, F, x: F.hardswish(x)),
    "softmax": ([(5, 9)], lambda lib, F, x: F.softmax(x, dim=1)),
    "log_softmax": ([(5, 9)], lambda lib, F, x: F.log_softmax(x, dim=-1)),
    "tensor_softmax": ([(5, 9)], lambda lib, F, x: x.softmax(0)),
    "cross_entropy": ([(6, 5)], lambda lib, F, x: F.cross_entropy(x, lib.tensor([0, 1, 4, 2, 3, 1], device=x.device))),
    "cross_entropy_smooth": ([(6, 5)], lambda lib, F, x: F.cross_entropy(x, lib.tensor([0, 1, 4, 2, 3, 1], device=x.device),
                                                                         label_smoothing=0.1, reduction="sum")),
    "nll_loss": ([(6, 5)], lambda lib, F, x: F.nll_loss(F.log_softmax(x, 1), lib.tensor([0, 1, 4, 2, 3, 1], device=x.device))),
    "mse_loss": ([(4, 6), (4, 6)], lambda lib, F, x, y: F.mse_loss(x, y)),
    "l1_loss": ([(4, 6), (4, 6)], lambda lib, F, x, y: F.l1_loss(x, y, reduction="sum")),
    "smooth_l1_loss": ([(4, 6), (4, 6)], lambda lib, F, x, y: F.smooth_l1_loss(x, y)),
    "bce_with_logits": ([(4, 6)], lambda lib, F, x: F.binary_cross_entropy_with_logits(x, (x > 0).to(x.dtype))),
    "layer_norm": ([(4, 6), (6,), (6,)], lambda lib, F, x, w, b: F.layer_norm(x, (6,), w, b)),
    "group_norm": ([(2, 4, 3, 3), (4,), (4,)], lambda lib, F, x, w, b: F.group_norm(x, 2, w, b)),
    "batch_norm_train": ([(4, 3, 5, 5), (3,), (3,)],
                         lambda lib, F, x, w, b: F.batch_norm(x, None, None, w, b, training=True)),
    "embedding": ([(10, 4)], lambda lib, F, w: F.embedding(lib.tensor([[1, 3], [3, 9]], device=w.device), w)),
}


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("case", sorted(F_CASES))
def test_layer_op_forward_backward(case, dt, device, rng):
    shapes, fn = F_CASES[case]
    arrs = [rep(rng.standard_normal(s), dt) for s in shapes]
    # dlcore in the 16-bit dtype
    xs = [dlcore.tensor(a, device=device).to(ddt(dt)).requires_grad_(True) for a in arrs]
    out = fn(dlcore, dlcore.nn.functional, *xs)
    assert out.dtype == ddt(dt), f"{case}: result dtype {out.dtype}"
    # the oracle: torch float32 on the same values, rounded once
    ts = [torch.tensor(a, requires_grad=True) for a in arrs]
    ref32 = fn(torch, torch.nn.functional, *ts)
    ref = ref32.detach().to(tdt(dt)).float().numpy()
    slack = 2e-3 if case in ("layer_norm", "group_norm", "batch_norm_train") else 1e-4
    close(to_np(out), ref, dt, slack=slack)
    # gradients: upstream g 16-bit representable; reference = float32 gradients rounded once
    g = rep(rng.standard_normal(tuple(out.shape)), dt)
    gd = dlcore.tensor(g, device=device).to(ddt(dt))
    grads = dlcore.autograd.grad(out, xs, gd, allow_unused=True)
    tgrads = torch.autograd.grad(ref32, ts, torch.tensor(g), allow_unused=True)
    for i, (gx, tg) in enumerate(zip(grads, tgrads)):
        if tg is None:
            continue
        assert gx is not None and gx.dtype == ddt(dt), f"{case}: grad {i} is {None if gx is None else gx.dtype}"
        # (a gradient through softmax-like ops cancels: judge its error against the gradient's own scale)
        close(to_np(gx), tg.to(tdt(dt)).float().numpy(), dt, slack=3e-3 if case != "linear" else 1e-4,
              ulps=2.0)


@pytest.mark.parametrize("dt", DTYPES)
def test_layer_ops_match_torch_in_16_bit(dt, rng):
    """Against torch's own 16-bit kernels (not only the float32 oracle): conv + pool + linear + loss."""
    arrs = [rep(rng.standard_normal(s) * 0.5, dt) for s in [(4, 2, 10, 10), (5, 2, 3, 3), (3, 5 * 4 * 4)]]
    t = [torch.tensor(a).to(tdt(dt)) for a in arrs]
    d = [dlcore.tensor(a).to(ddt(dt)) for a in arrs]

    def net(lib, F, x, w, v):
        h = F.max_pool2d(F.relu(F.conv2d(x, w, padding=0)), 2)
        return F.cross_entropy(F.linear(h.flatten(1), v), lib.tensor([0, 2, 1, 1]))

    a = net(torch, torch.nn.functional, *t).float().item()
    b = net(dlcore, dlcore.nn.functional, *d).float().item()
    assert b == pytest.approx(a, rel=4 * ULP[dt], abs=1e-3)


@pytest.mark.parametrize("dt", DTYPES)
def test_max_pool_indices_and_dropout(dt, device, rng):
    x = dlcore.tensor(rep(rng.standard_normal((2, 3, 6, 6)), dt), device=device).to(ddt(dt))
    v, i = dlcore.nn.functional.max_pool2d(x, 2, return_indices=True)
    tv, ti = torch.nn.functional.max_pool2d(torch.tensor(to_np(x)), 2, return_indices=True)
    assert v.dtype == ddt(dt) and i.dtype == dlcore.int64
    np.testing.assert_array_equal(to_np(v), tv.numpy())
    np.testing.assert_array_equal(i.cpu().numpy(), ti.numpy())
    # dropout: kept elements are x / (1 - p) rounded to the 16-bit type, the rest zero
    y = dlcore.nn.functional.dropout(x, 0.25, training=True)
    assert y.dtype == ddt(dt)
    yn, xn = to_np(y), to_np(x)
    kept = yn != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_array_equal(yn[kept], rep(xn[kept] / 0.75, dt))


@pytest.mark.parametrize("dt", DTYPES)
def test_in_place_forms_write_the_callers_tensor(dt, device, rng):
    a = rep(rng.standard_normal((4, 7)), dt)
    x = dlcore.tensor(a, device=device).to(ddt(dt))
    r = dlcore.nn.functional.relu(x, inplace=True)
    assert r is x or r.data_ptr() == x.data_ptr()
    np.testing.assert_array_equal(to_np(x), np.maximum(a, 0))
    x = dlcore.tensor(a, device=device).to(ddt(dt))
    dlcore.nn.functional.leaky_relu_(x, 0.5)
    np.testing.assert_array_equal(to_np(x), rep(np.where(a > 0, a, 0.5 * a), dt))
    x = dlcore.tensor(a, device=device).to(ddt(dt))
    dlcore.nn.functional.elu_(x)
    close(to_np(x), rep(torch.nn.functional.elu(torch.tensor(a)).numpy(), dt), dt)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("stats_dtype", ["same", "float32"])
def test_batch_norm_running_stats(dt, stats_dtype, device, rng):
    x = rep(rng.standard_normal((6, 3, 4, 4)) * 2 + 1, dt)
    sdt = ddt(dt) if stats_dtype == "same" else dlcore.float32
    rm = dlcore.zeros(3, device=device, dtype=sdt)
    rv = dlcore.ones(3, device=device, dtype=sdt)
    y = dlcore.nn.functional.batch_norm(dlcore.tensor(x, device=device).to(ddt(dt)), rm, rv, training=True,
                                        momentum=0.1)
    assert y.dtype == ddt(dt) and rm.dtype == sdt and rv.dtype == sdt
    trm, trv = torch.zeros(3), torch.ones(3)
    ty = torch.nn.functional.batch_norm(torch.tensor(x), trm, trv, training=True, momentum=0.1)
    close(to_np(y), rep(ty.numpy(), dt), dt, slack=2e-3)
    r = dt if stats_dtype == "same" else "float32"
    close(rm.cpu().float().numpy(), trm.to(tdt(r)).float().numpy(), dt, slack=1e-5)
    close(rv.cpu().float().numpy(), trv.to(tdt(r)).float().numpy(), dt, slack=1e-5)


@pytest.mark.parametrize("dt", DTYPES)
def test_mixed_dtypes_raise(dt, device):
    x = dlcore.randn(3, 4, device=device).to(ddt(dt))
    with pytest.raises(TypeError, match="linear.*same dtype.*float32"):
        dlcore.nn.functional.linear(x, dlcore.randn(5, 4, device=device))
    with pytest.raises(TypeError, match="conv2d"):
        dlcore.nn.functional.conv2d(x.reshape(1, 1, 3, 4), dlcore.randn(1, 1, 2, 2, device=device))
    # an error that is not about the 16-bit dtype stays the op's own
    with pytest.raises(Exception, match="embedding"):
        dlcore.nn.functional.embedding(dlcore.tensor([1.5], device=device).to(ddt(dt)), x)


OPTIMIZERS = {
    "SGD": lambda m, p: m.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2),
    "Adam": lambda m, p: m.Adam(p, lr=1e-2),
    "AdamW": lambda m, p: m.AdamW(p, lr=1e-2, amsgrad=True),
    "RMSprop": lambda m, p: m.RMSprop(p, lr=1e-2, momentum=0.5),
    "Adagrad": lambda m, p: m.Adagrad(p, lr=0.1),
}


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_steps_16_bit_params(name, dt, device, rng):
    """Three steps on a 16-bit parameter (with a float32 one in the same group) against the same steps computed
    in float32 from the 16-bit values, parameter and state rounded to the 16-bit type after each step."""
    p0 = rep(rng.standard_normal((5, 4)), dt)
    q0 = rng.standard_normal(3).astype(np.float32)
    p = dlcore.nn.Parameter(dlcore.tensor(p0, device=device).to(ddt(dt)))
    q = dlcore.nn.Parameter(dlcore.tensor(q0, device=device))
    opt = OPTIMIZERS[name](dlcore.optim, [p, q])
    tp = torch.nn.Parameter(torch.tensor(p0))
    tq = torch.nn.Parameter(torch.tensor(q0))
    topt = OPTIMIZERS[name](torch.optim, [tp, tq])
    for _ in range(3):
        g = rep(rng.standard_normal((5, 4)), dt)
        h = rng.standard_normal(3).astype(np.float32)
        p.grad = dlcore.tensor(g, device=device).to(ddt(dt))
        q.grad = dlcore.tensor(h, device=device)
        opt.step()
        tp.grad, tq.grad = torch.tensor(g), torch.tensor(h)
        topt.step()
        with torch.no_grad():  # the 16-bit parameter and its state are rounded once per step
            tp.copy_(tp.to(tdt(dt)).float())
            for v in topt.state[tp].values():
                if torch.is_tensor(v) and v.is_floating_point() and v.dim() > 0:
                    v.copy_(v.to(tdt(dt)).float())
    assert p.dtype == ddt(dt)
    close(to_np(p), tp.detach().numpy(), dt, slack=1e-3, ulps=2.0)
    np.testing.assert_allclose(to_np(q), tq.detach().numpy(), rtol=1e-5, atol=1e-6)
    for k, v in opt.state[p].items():
        if isinstance(v, dlcore.Tensor) and v.dim() > 0:
            assert v.dtype == ddt(dt), f"state {k} is {v.dtype}"


@pytest.mark.parametrize("dt", DTYPES)
def test_model_to_16_bit_trains_like_torch(dt, rng):
    """A ConvNet with BatchNorm and an LSTM head, model.to(dtype) in both libraries, 4 SGD steps: the losses
    follow torch's 16-bit run (both round per op; their roundings differ, so the tolerance is a few ulps)."""
    def build(nn):
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(1, 4, 3)
                self.bn = nn.BatchNorm2d(4)
                self.lstm = nn.LSTM(4 * 3, 8, batch_first=True)
                self.fc = nn.Linear(8, 5)

            def forward(self, x):
                h = nn.functional.max_pool2d(nn.functional.relu(self.bn(self.conv(x))), 2)  # [N, 4, 3, 3]
                s = h.permute(0, 2, 1, 3).reshape(x.shape[0], 3, 12)
                o, _ = self.lstm(s)
                return self.fc(o[:, -1])
        return Net()

    tm = build(torch.nn)
    dm = build(dlcore.nn)
    dm.load_state_dict({k: dlcore.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    tm.to(tdt(dt))
    dm.to(ddt(dt))
    topt = torch.optim.SGD(tm.parameters(), lr=0.05)
    dopt = dlcore.optim.SGD(dm.parameters(), lr=0.05)
    x = rep(rng.standard_normal((6, 1, 8, 8)), dt)
    y = rng.integers(0, 5, 6)
    tl, dl = [], []
    for _ in range(4):
        for m, opt, lib, out in ((tm, topt, torch, tl), (dm, dopt, dlcore, dl)):
            opt.zero_grad()
            loss = lib.nn.functional.cross_entropy(m(lib.tensor(x).to(getattr(lib, dt))), lib.tensor(y))
            loss.backward()
            opt.step()
            out.append(float(loss.float().item()))
    assert all(isinstance(v, float) for v in dl)
    np.testing.assert_allclose(dl, tl, rtol=8 * ULP[dt], atol=2e-2 if dt == "bfloat16" else 3e-3)
    assert dm.bn.running_mean.dtype == ddt(dt)
    for p in dm.parameters():
        assert p.dtype == ddt(dt) and p.grad.dtype == ddt(dt)


@pytest.mark.parametrize("dt", DTYPES)
def test_requested_result_dtype_is_kept(dt, rng):
    """softmax/log_softmax(dtype=...) on a 16-bit input return the dtype asked for, as torch does."""
    a = rep(rng.standard_normal((3, 7)), dt)
    x = dlcore.tensor(a).to(ddt(dt))
    for name in ("softmax", "log_softmax"):
        for want in ("float32", "float64"):
            y = getattr(dlcore.nn.functional, name)(x, 1, dtype=ddt(want))
            ref = getattr(torch.nn.functional, name)(torch.tensor(a).to(tdt(dt)), 1, dtype=tdt(want))
            assert y.dtype == ddt(want)
            np.testing.assert_allclose(y.numpy(), ref.numpy(), rtol=1e-6, atol=1e-6)
    assert x.softmax(0, dtype=dlcore.float32).dtype == dlcore.float32


@pytest.mark.parametrize("dt", DTYPES)
def test_16_bit_arithmetic_bit_equal_to_torch(dt, rng):
    """Elementwise arithmetic on 16-bit tensors large enough for the chunked and fused paths, and torch's rule for
    numbers (mul/div keep a float number in float32, add/sub round it to the dtype first): the same bits as torch."""
    a = rep(rng.standard_normal((300, 700)), dt)
    b = rep(rng.standard_normal((300, 700)), dt)
    x, y = dlcore.tensor(a).to(ddt(dt)), dlcore.tensor(b).to(ddt(dt))
    tx, ty = torch.tensor(a).to(tdt(dt)), torch.tensor(b).to(tdt(dt))
    ops = [lambda p, q: p + q, lambda p, q: p - q, lambda p, q: p * q, lambda p, q: p / q, lambda p, q: p * 0.1,
           lambda p, q: p / 7.3, lambda p, q: p + 0.3, lambda p, q: 3.3 - p, lambda p, q: 0.7 * p,
           lambda p, q: p.mul(0.1), lambda p, q: p * 3, lambda p, q: p[:, :9] + q[:, :9], lambda p, q: p.exp(),
           lambda p, q: p.tanh(), lambda p, q: p.clamp(0.1, 0.7), lambda p, q: p.abs().sqrt()]
    for i, f in enumerate(ops):
        got, ref = f(x, y), f(tx, ty)
        assert got.dtype == ddt(dt)
        np.testing.assert_array_equal(got.float().numpy(), ref.float().numpy(), err_msg=f"op {i}")
    z = x.clone()
    z += y
    tz = tx.clone()
    tz += ty
    np.testing.assert_array_equal(z.float().numpy(), tz.float().numpy())


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
@pytest.mark.parametrize("dt", DTYPES)
def test_casts_equal_torch_on_every_isa(dt, isa, rng):
    """float32 <-> 16-bit casts (F16C / AVX-512 where the ISA runs them, the portable conversion under scalar):
    torch's bits for normal, subnormal, overflowing and special values."""
    if isa == "avx512" and dlcore._C._cpu_isa_supported() != "avx512":
        pytest.skip("no AVX-512 here")
    if isa == "avx2" and dlcore._C._cpu_isa_supported() == "scalar":
        pytest.skip("no AVX2 here")
    dlcore._C._set_cpu_isa(isa)
    v = np.concatenate([rng.standard_normal(1000) * 10.0 ** rng.integers(-9, 6, 1000),
                        [np.nan, np.inf, -np.inf, 0.0, -0.0, 65504, 65520, 7e4, 1e-8, 6e-8, 1.00048828125,
                         3.3895314e38, 1e-39, -2.5e-39]]).astype(np.float32)
    got = dlcore.tensor(v).to(ddt(dt)).to(dlcore.float32).numpy()
    ref = torch.tensor(v).to(tdt(dt)).float().numpy()
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(np.signbit(got[~np.isnan(got)]), np.signbit(ref[~np.isnan(ref)]))
