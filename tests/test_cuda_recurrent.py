"""CUDA recurrent layers (csrc/ops/recurrent/recurrent_kernels.cuh) against the CPU op: outputs, final states and every
gradient for LSTM/GRU/RNN tanh/relu in float32 and float64 (multi-layer, bidirectional, batch_first, no bias, sizes
that cut every GEMM tile edge, the 1-element case), the raw op's workspace (the saved tensors have the same layout
and values on both devices), outputs pre-filled with NaN (every element must be written), float64 gradient checks
through whole layers on the device, saturated gates, and device-mismatch errors. Runs on the emulated device in CI
and on a real GPU when present; test_recurrent.py runs its NumPy/torch comparisons on cuda too."""
import numpy as np
import pytest

import dlcore
from dlcore import _C
from dlcore import functional as F
from dlcore.testing import gradcheck

pytestmark = pytest.mark.skipif(not dlcore.cuda.is_available(), reason="needs a cuda device (real or emulated)")

MODES = ["lstm", "gru", "rnn_tanh", "rnn_relu"]
GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}
FN = {"lstm": F.lstm, "gru": F.gru, "rnn_tanh": F.rnn_tanh, "rnn_relu": F.rnn_relu}
TOL = {"float32": 3e-5, "float64": 1e-11}


def _t(a, dtype, device, grad=False):
    return dlcore.tensor(np.asarray(a, dtype=dtype), device=device, requires_grad=grad)


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def _close(a, b, tol, what):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs {b.shape}"
    assert np.all(np.isfinite(a)), f"{what}: non-finite (unwritten?) elements at {np.argwhere(~np.isfinite(a))[:3]}"
    err = np.abs(a - b)
    bad = err > tol * (1 + np.abs(b))
    if bad.any():
        idx = tuple(np.argwhere(bad)[0])
        raise AssertionError(f"{what}: max err {err.max():.3g}; first bad {idx}: {a[idx]} vs {b[idx]}")


def _params(rng, mode, I, H, L, D, bias, scale=0.5):
    G = GATES[mode] * H
    ps = []
    for layer in range(L):
        in_sz = I if layer == 0 else H * D
        for _ in range(D):
            ps += [rng.uniform(-scale, scale, (G, in_sz)), rng.uniform(-scale, scale, (G, H))]
            if bias:
                ps += [rng.uniform(-scale, scale, G), rng.uniform(-scale, scale, G)]
    return ps


def _run(mode, device, dtype, x, h0, c0, ps, L, D, bias, bf, gouts):
    """Forward + backward on one device; returns the outputs and the gradients of x, h0, (c0), params."""
    tx = _t(x, dtype, device, True)
    th0 = _t(h0, dtype, device, True)
    tc0 = _t(c0, dtype, device, True)
    tps = [_t(p, dtype, device, True) for p in ps]
    hx = (th0, tc0) if mode == "lstm" else th0
    res = FN[mode](tx, hx, tps, bias, L, 0.0, True, D == 2, bf)
    for r in res:
        assert r.device == tx.device
    dlcore.autograd.backward(list(res), [_t(g, dtype, device) for g in gouts[:len(res)]])
    grads = [tx.grad, th0.grad] + ([tc0.grad] if mode == "lstm" else []) + [p.grad for p in tps]
    return [_np(r) for r in res], [_np(g) for g in grads]


# T, N, I, H, L, D, bias, batch_first
CONFIGS = [
    (3, 17, 17, 17, 1, 1, True, False),   # 17: every GEMM dimension cuts a 16-wide tile; G*H = 68 rows
    (4, 2, 3, 5, 2, 2, False, True),      # two layers, both directions, no bias, batch_first (x copied)
    (1, 1, 1, 1, 1, 2, True, False),      # one step, one element
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=["tile-edges", "2layer-bidir", "tiny"])
@pytest.mark.parametrize("mode", MODES)
def test_cuda_matches_cpu(mode, cfg, dtype, rng):
    T, N, I, H, L, D, bias, bf = cfg
    x = rng.standard_normal((N, T, I) if bf else (T, N, I))
    h0, c0 = rng.standard_normal((L * D, N, H)), rng.standard_normal((L * D, N, H))
    ps = _params(rng, mode, I, H, L, D, bias)
    gouts = [rng.standard_normal((N, T, D * H) if bf else (T, N, D * H)), rng.standard_normal((L * D, N, H)),
             rng.standard_normal((L * D, N, H))]
    if mode == "rnn_relu":  # keep pre-activations away from the kink: a 1-ulp difference must not flip relu'
        ps = [p * 0.5 for p in ps]
    out_c, g_c = _run(mode, "cuda", dtype, x, h0, c0, ps, L, D, bias, bf, gouts)
    out_r, g_r = _run(mode, "cpu", dtype, x, h0, c0, ps, L, D, bias, bf, gouts)
    for k, (a, b) in enumerate(zip(out_c, out_r)):
        _close(a, b, TOL[dtype], f"{mode} output {k}")
    for k, (a, b) in enumerate(zip(g_c, g_r)):
        _close(a, b, TOL[dtype] * 4, f"{mode} grad {k}")


@pytest.mark.parametrize("mode", MODES)
def test_raw_op_workspace_and_poisoned_outputs(mode, rng):
    # The raw binding on both devices: y, hn, cn and the saved workspace agree; hn/cn/dh0/dc0 are passed pre-filled
    # with NaN, so an element the kernels do not write shows. Backward with no output gradient (dy None) and no
    # grad_cn exercises the kernels' null-gradient paths; need_dx False skips dx.
    T, N, I, H, D = 3, 5, 4, 6, 2
    dt = "float64"
    x = rng.standard_normal((T, N, I))
    h0, c0 = rng.standard_normal((D, N, H)), rng.standard_normal((D, N, H))
    ps = _params(rng, mode, I, H, 1, D, True)
    dy, dhn, dcn = rng.standard_normal((T, N, D * H)), rng.standard_normal((D, N, H)), rng.standard_normal((D, N, H))
    lstm = mode == "lstm"
    res = {}
    for dev in ("cpu", "cuda"):
        def t(a):
            return _t(a, dt, dev)
        nan = np.full((D, N, H), np.nan)
        hn_out, cn_out = t(nan), (t(nan) if lstm else None)
        y, hn, cn, ws = _C.rnn_layer_forward(mode, t(x), t(h0), t(c0) if lstm else None, [t(p) for p in ps],
                                             hn_out, cn_out)
        assert hn is hn_out or _np(hn).shape == (D, N, H)
        full = _C.rnn_layer_backward(mode, t(x), t(h0), t(c0) if lstm else None, [t(p) for p in ps], y, ws, t(dy),
                                     t(dhn), t(dcn) if lstm else None, True, t(nan), t(nan) if lstm else None)
        part = _C.rnn_layer_backward(mode, t(x), t(h0), t(c0) if lstm else None, [t(p) for p in ps], y, ws, None,
                                     t(dhn), None, False)
        res[dev] = (y, hn, cn, ws, full, part)
    (yc, hnc, cnc, wsc, fc, pc), (yr, hnr, cnr, wsr, fr, pr) = res["cuda"], res["cpu"]
    tol = 1e-11
    _close(_np(yc), _np(yr), tol, "y")
    _close(_np(hnc), _np(hnr), tol, "hn")
    if lstm:
        _close(_np(cnc), _np(cnr), tol, "cn")
    assert len(wsc) == len(wsr) == D
    for d in range(D):
        assert len(wsc[d]) == len(wsr[d])
        for k, (a, b) in enumerate(zip(wsc[d], wsr[d])):
            assert str(a.device).startswith("cuda")
            _close(_np(a), _np(b), tol, f"workspace[{d}][{k}]")
    for name, a, b in (("full", fc, fr), ("partial", pc, pr)):
        assert (a[0] is None) == (b[0] is None) == (name == "partial")
        if a[0] is not None:
            _close(_np(a[0]), _np(b[0]), tol, f"{name} dx")
        _close(_np(a[1]), _np(b[1]), tol, f"{name} dh0")
        if lstm:
            _close(_np(a[2]), _np(b[2]), tol, f"{name} dc0")
        assert len(a[3]) == len(b[3]) == 4 * D
        for k, (u, v) in enumerate(zip(a[3], b[3])):
            _close(_np(u), _np(v), tol, f"{name} param grad {k}")


@pytest.mark.parametrize("mode,D", [("lstm", 1), ("gru", 1), ("rnn_tanh", 2)])
def test_gradcheck_on_cuda(mode, D, rng):
    # float64 central differences through a whole layer run on the device (the inputs live on cpu for gradcheck's
    # perturbations and move to cuda inside f, the outputs back to cpu: the gradients flow through both copies).
    T, N, I, H = 3, 2, 3, 4
    xa, h0a, c0a = rng.standard_normal((T, N, I)), rng.standard_normal((D, N, H)), rng.standard_normal((D, N, H))
    x, h0, c0 = (_t(a, "float64", "cpu", True) for a in (xa, h0a, c0a))
    ps = [_t(p, "float64", "cpu", True) for p in _params(rng, mode, I, H, 1, D, True)]

    def f(x, h0, c0, *ps):
        cu = [a.to("cuda") for a in (x, h0, c0) + ps]
        hx = (cu[1], cu[2]) if mode == "lstm" else cu[1]
        out = FN[mode](cu[0], hx, cu[3:], True, 1, 0.0, True, D == 2, False)
        assert str(out[0].device).startswith("cuda")
        return tuple(o.to("cpu") for o in out)  # gradcheck's output weights are cpu tensors

    assert gradcheck(f, [x, h0, c0] + ps, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_saturated_gates_float32(mode, rng):
    # Pre-activations of |x| ~ 1e3 and ~0: float32 on the device stays finite and matches float64 on the cpu.
    T, N, I, H = 3, 17, 2, 5
    x = rng.standard_normal((T, N, I)) * np.array([1e-6, 1.0])[None, None, :]
    x[:, :8] *= 300.0
    ps = _params(rng, mode, I, H, 1, 1, True, scale=3.0)
    out32 = FN[mode](_t(x, "float32", "cuda"), None, [_t(p, "float32", "cuda") for p in ps], True, 1, 0.0, False,
                     False, False)
    out64 = FN[mode](_t(x, "float64", "cpu"), None, [_t(p, "float64", "cpu") for p in ps], True, 1, 0.0, False,
                     False, False)
    for a, b in zip(out32, out64):
        _close(_np(a), _np(b), 1e-5, f"{mode} saturated")


def test_device_mismatch_errors(rng):
    x = _t(rng.standard_normal((2, 2, 3)), "float32", "cuda")
    h = _t(np.zeros((1, 2, 4)), "float32", "cuda")
    ps_cpu = [_t(p, "float32", "cpu") for p in _params(rng, "gru", 3, 4, 1, 1, True)]
    with pytest.raises(RuntimeError, match="weight_ih is on cpu, but the input is on cuda"):
        _C.rnn_layer_forward("gru", x, h, None, ps_cpu)
    with pytest.raises(RuntimeError, match="h0 is on cpu, but the input is on cuda"):
        _C.rnn_layer_forward("gru", x, _t(np.zeros((1, 2, 4)), "float32", "cpu"), None, ps_cpu)
    with pytest.raises(RuntimeError, match="is on cpu, but the input is on cuda"):
        F.gru(x, None, ps_cpu, True, 1, 0.0, False, False, False)
