"""Recurrent layers (LSTM, GRU, RNN tanh/relu; sequence and cell forms): outputs and every gradient against a NumPy
float64 reference written here (forward and backpropagation through time), against torch.nn with copied weights,
float64 gradient checks on tiny sizes, every ISA path of the float32 pointwise kernels, non-contiguous inputs,
dropout between layers, and the bad-input catalogue. Tests taking `device` run on cpu and on cuda (emulated in CI);
cuda-only checks (cuda vs cpu, gradcheck on the device, poisoned outputs) are in test_cuda_recurrent.py."""
import numpy as np
import pytest

import dlcore
from dlcore import _C
from dlcore import functional as F
from dlcore.testing import gradcheck

from conftest import requires_torch

MODES = ["lstm", "gru", "rnn_tanh", "rnn_relu"]
GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}
FN = {"lstm": F.lstm, "gru": F.gru, "rnn_tanh": F.rnn_tanh, "rnn_relu": F.rnn_relu}
CELL = {"lstm": F.lstm_cell, "gru": F.gru_cell, "rnn_tanh": F.rnn_tanh_cell, "rnn_relu": F.rnn_relu_cell}


# ------------------------------------------------------------------------------------------ NumPy float64 oracle

def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_layer(mode, x, h0, c0, wih, whh, bih, bhh, reverse=False):
    """One layer, one direction. x [T, N, I]; returns y [T, N, H], hn, cn and the cache for np_layer_bwd."""
    T = x.shape[0]
    H = whh.shape[1]
    bih = np.zeros(wih.shape[0]) if bih is None else bih
    bhh = np.zeros(wih.shape[0]) if bhh is None else bhh
    order = range(T - 1, -1, -1) if reverse else range(T)
    h, c = h0, c0
    y = np.zeros(x.shape[:2] + (H,))
    steps = []
    for t in order:
        gx = x[t] @ wih.T + bih
        gh = h @ whh.T + bhh
        st = {"t": t, "h_prev": h, "c_prev": c}
        if mode == "lstm":
            g = gx + gh
            i, f, gg, o = _sig(g[:, :H]), _sig(g[:, H:2 * H]), np.tanh(g[:, 2 * H:3 * H]), _sig(g[:, 3 * H:])
            c = f * c + i * gg
            h = o * np.tanh(c)
            st.update(i=i, f=f, g=gg, o=o, c=c)
        elif mode == "gru":
            r = _sig(gx[:, :H] + gh[:, :H])
            z = _sig(gx[:, H:2 * H] + gh[:, H:2 * H])
            n = np.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
            h = (1 - z) * n + z * h
            st.update(r=r, z=z, n=n, ghn=gh[:, 2 * H:])
        else:
            pre = gx + gh
            h = np.tanh(pre) if mode == "rnn_tanh" else np.maximum(pre, 0)
            st.update(pre=pre)
        st["h"] = h
        y[t] = h
        steps.append(st)
    return y, h, c, {"mode": mode, "x": x, "wih": wih, "whh": whh, "steps": steps}


def np_layer_bwd(cache, dy, dhn, dcn):
    """Backprop through time of np_layer: returns dx, dh0, dc0, dwih, dwhh, dbih, dbhh."""
    mode, x, wih, whh = cache["mode"], cache["x"], cache["wih"], cache["whh"]
    H = whh.shape[1]
    dx = np.zeros_like(x)
    dwih, dwhh = np.zeros_like(wih), np.zeros_like(whh)
    dbih, dbhh = np.zeros(wih.shape[0]), np.zeros(wih.shape[0])
    dh = dhn.copy()
    dc = None if dcn is None else dcn.copy()
    for st in reversed(cache["steps"]):
        t = st["t"]
        dh = dh + dy[t]
        if mode == "lstm":
            i, f, g, o, c = st["i"], st["f"], st["g"], st["o"], st["c"]
            tc = np.tanh(c)
            dct = dc + dh * o * (1 - tc ** 2)
            dG = np.concatenate([dct * g * i * (1 - i), dct * st["c_prev"] * f * (1 - f), dct * i * (1 - g ** 2),
                                 dh * tc * o * (1 - o)], axis=1)
            dc = dct * f
            dgx = dgh = dG
            dh_direct = 0
        elif mode == "gru":
            r, z, n, ghn = st["r"], st["z"], st["n"], st["ghn"]
            dn = dh * (1 - z)
            dnp = dn * (1 - n ** 2)
            dr = dnp * ghn * r * (1 - r)
            dz = dh * (st["h_prev"] - n) * z * (1 - z)
            dgx = np.concatenate([dr, dz, dnp], axis=1)
            dgh = np.concatenate([dr, dz, dnp * r], axis=1)
            dh_direct = dh * z
        else:
            dpre = dh * (1 - st["h"] ** 2) if mode == "rnn_tanh" else dh * (st["pre"] > 0)
            dgx = dgh = dpre
            dh_direct = 0
        dx[t] = dgx @ wih
        dwih += dgx.T @ x[t]
        dwhh += dgh.T @ st["h_prev"]
        dbih += dgx.sum(0)
        dbhh += dgh.sum(0)
        dh = dgh @ whh + dh_direct
    return dx, dh, dc, dwih, dwhh, dbih, dbhh


def np_stack(mode, x, h0, c0, params, L, D, bias):
    """Multi-layer (bi)directional forward; returns out, hn, cn and caches."""
    per = 4 if bias else 2
    inp = x
    hn, cn, caches = [], [], []
    for layer in range(L):
        ys = []
        for d in range(D):
            k = layer * D + d
            p = params[k * per:(k + 1) * per]
            y, h, c, cache = np_layer(mode, inp, h0[k], None if c0 is None else c0[k], p[0], p[1],
                                      p[2] if bias else None, p[3] if bias else None, reverse=d == 1)
            ys.append(y)
            hn.append(h)
            cn.append(c)
            caches.append(cache)
        inp = np.concatenate(ys, axis=2)
    return inp, np.stack(hn), (np.stack(cn) if c0 is not None else None), caches


def np_stack_bwd(mode, caches, L, D, bias, H, dout, dhn, dcn):
    per = 4 if bias else 2
    pgrads = [None] * (L * D * per)
    dh0 = np.zeros_like(dhn)
    dc0 = np.zeros_like(dhn) if dcn is not None else None
    dy = dout
    for layer in range(L - 1, -1, -1):
        dx = 0
        for d in range(D):
            k = layer * D + d
            r = np_layer_bwd(caches[k], dy[:, :, d * H:(d + 1) * H], dhn[k], None if dcn is None else dcn[k])
            dx = dx + r[0]
            dh0[k] = r[1]
            if dcn is not None:
                dc0[k] = r[2]
            pgrads[k * per:(k + 1) * per] = list(r[3:3 + per])
        dy = dx
    return dy, dh0, dc0, pgrads


# ------------------------------------------------------------------------------------------ helpers

def _t(a, dtype="float64", grad=False, device="cpu"):
    return dlcore.tensor(np.asarray(a, dtype=dtype), device=device, requires_grad=grad)


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def _rand_params(rng, mode, I, H, L, D, bias, scale=0.5):
    G = GATES[mode] * H
    ps = []
    for layer in range(L):
        in_sz = I if layer == 0 else H * D
        for _ in range(D):
            ps += [rng.uniform(-scale, scale, (G, in_sz)), rng.uniform(-scale, scale, (G, H))]
            if bias:
                ps += [rng.uniform(-scale, scale, G), rng.uniform(-scale, scale, G)]
    return ps


def _close(a, b, tol, what):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs {b.shape}"
    err = np.abs(a - b)
    bad = err > tol * (1 + np.abs(b))
    if bad.any():
        idx = tuple(np.argwhere(bad)[0])
        raise AssertionError(f"{what}: max err {err.max():.3g}; first bad {idx}: {a[idx]} vs {b[idx]}")


def _check_vs_numpy(rng, mode, T, N, I, H, L, D, bias, batch_first, with_hx, dtype, tol, device="cpu"):
    x = rng.standard_normal((T, N, I))
    h0 = rng.standard_normal((L * D, N, H)) if with_hx else np.zeros((L * D, N, H))
    c0 = (rng.standard_normal((L * D, N, H)) if with_hx else np.zeros((L * D, N, H))) if mode == "lstm" else None
    ps = _rand_params(rng, mode, I, H, L, D, bias)
    out, hn, cn, caches = np_stack(mode, x, h0, c0, ps, L, D, bias)
    dout = rng.standard_normal(out.shape)
    dhn = rng.standard_normal(hn.shape)
    dcn = rng.standard_normal(hn.shape) if mode == "lstm" else None
    rdx, rdh0, rdc0, rpg = np_stack_bwd(mode, caches, L, D, bias, H, dout, dhn, dcn)

    xt = _t(x.transpose(1, 0, 2) if batch_first else x, dtype, True, device)
    tps = [_t(p, dtype, True, device) for p in ps]
    th0 = _t(h0, dtype, True, device)
    tc0 = _t(c0, dtype, True, device) if c0 is not None else None
    hx = ((th0, tc0) if mode == "lstm" else th0) if with_hx else None
    res = FN[mode](xt, hx, tps, bias, L, 0.0, True, D == 2, batch_first)
    o = _np(res[0])
    _close(o.transpose(1, 0, 2) if batch_first else o, out, tol, f"{mode} output")
    _close(_np(res[1]), hn, tol, f"{mode} h_n")
    if mode == "lstm":
        _close(_np(res[2]), cn, tol, "lstm c_n")
    gouts = [dout.transpose(1, 0, 2) if batch_first else dout, dhn] + ([dcn] if mode == "lstm" else [])
    for r in res:
        assert r.device == xt.device
    dlcore.autograd.backward(list(res), [_t(g, dtype, device=device) for g in gouts])
    gx = _np(xt.grad)
    _close(gx.transpose(1, 0, 2) if batch_first else gx, rdx, tol, f"{mode} grad input")
    if with_hx:
        _close(_np(th0.grad), rdh0, tol, f"{mode} grad h0")
        if mode == "lstm":
            _close(_np(tc0.grad), rdc0, tol, "lstm grad c0")
    for k, (p, r) in enumerate(zip(tps, rpg)):
        _close(_np(p.grad), r, tol, f"{mode} grad param {k}")


# ------------------------------------------------------------------------------------------ vs the NumPy oracle

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cfg", [
    # T, N, I, H, L, D, bias, batch_first, with_hx
    (5, 3, 4, 6, 1, 1, True, False, True),
    (4, 2, 3, 5, 2, 2, True, True, True),
    (3, 1, 7, 17, 2, 1, False, False, False),
    (1, 3, 2, 3, 1, 2, True, False, True),   # sequence length 1
])
def test_vs_numpy_float64(mode, cfg, device, rng):
    _check_vs_numpy(rng, mode, *cfg, dtype="float64", tol=1e-10, device=device)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("T", [1, 2, 3])
@pytest.mark.parametrize("with_hx", [False, True])
def test_short_sequences_weight_paths(mode, T, with_hx, rng):
    # T < 3 uses W_hh in place (H = 128 doubles: rows 1 KiB apart, so the GEMM packs it), T >= 3 padded copies;
    # without hx no gradient of h0 is wanted and the first step's dh GEMM is skipped (T = 1: no dh GEMM at all).
    _check_vs_numpy(rng, mode, T, 3, 5, 128, 1, 2, True, False, with_hx, dtype="float64", tol=1e-10)


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
@pytest.mark.parametrize("mode", MODES)
def test_vs_numpy_float32_each_isa(mode, isa, rng):
    sup = _C._cpu_isa_supported()
    if isa == "avx512" and sup != "avx512" or isa == "avx2" and sup == "scalar":
        pytest.skip(f"this CPU has no {isa}")
    _C._set_cpu_isa(isa)
    # H = 19: full vectors plus a tail on both ISAs; bidirectional two layers.
    _check_vs_numpy(rng, mode, 6, 5, 7, 19, 2, 2, True, False, True, dtype="float32", tol=2e-4)
    # N = 11, H = 21 (and 4H = 84): the SIMD transposes' 8 x 8 blocks plus ragged rows and columns on both sides.
    _check_vs_numpy(rng, mode, 4, 11, 9, 21, 1, 2, True, True, True, dtype="float32", tol=2e-4)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("mode", MODES)
def test_sequence_threads_own_hidden_slices(mode, threads, rng):
    """H >= 32 with 2 threads: the forward runs one parallel region per sequence, each thread owning a slice of the
    hidden units (its rows of every gate block), a barrier per step; H = 40 splits 20 + 20 (a vector and a tail). The backward likewise
    (its pointwise pass, a barrier, its rows of the dh GEMM).
    Float32 and float64, both directions, two layers, vs the NumPy oracle; 1 thread runs the one-GEMM-per-step path."""
    before = dlcore.get_num_threads()
    dlcore.set_num_threads(threads)
    try:
        _check_vs_numpy(rng, mode, 7, 5, 6, 40, 2, 2, True, False, True, dtype="float32", tol=2e-4)
        _check_vs_numpy(rng, mode, 5, 3, 4, 33, 1, 1, False, True, False, dtype="float64", tol=1e-10)
    finally:
        dlcore.set_num_threads(before)


@pytest.mark.parametrize("mode", MODES)
def test_cells_vs_numpy(mode, device, rng):
    N, I, H = 3, 5, 7
    x = rng.standard_normal((N, I))
    h = rng.standard_normal((N, H))
    c = rng.standard_normal((N, H))
    wih, whh = rng.uniform(-.5, .5, (GATES[mode] * H, I)), rng.uniform(-.5, .5, (GATES[mode] * H, H))
    bih, bhh = rng.uniform(-.5, .5, GATES[mode] * H), rng.uniform(-.5, .5, GATES[mode] * H)
    y, hn, cn, cache = np_layer(mode, x[None], h, c if mode == "lstm" else None, wih, whh, bih, bhh)
    dh = rng.standard_normal((N, H))
    dc = rng.standard_normal((N, H)) if mode == "lstm" else None
    rdx, rdh, rdc, rdwih, rdwhh, rdbih, rdbhh = np_layer_bwd(cache, np.zeros((1, N, H)), dh, dc)
    tx, th, tc = (_t(a, grad=True, device=device) for a in (x, h, c))
    tw = [_t(a, grad=True, device=device) for a in (wih, whh, bih, bhh)]
    out = CELL[mode](tx, (th, tc) if mode == "lstm" else th, *tw)
    if mode == "lstm":
        _close(_np(out[0]), hn, 1e-12, "h'")
        _close(_np(out[1]), cn, 1e-12, "c'")
        dlcore.autograd.backward(list(out), [_t(dh, device=device), _t(dc, device=device)])
        _close(_np(tc.grad), rdc, 1e-12, "grad c")
    else:
        _close(_np(out), hn, 1e-12, "h'")
        out.backward(_t(dh, device=device))
    _close(_np(tx.grad), rdx[0], 1e-12, "grad input")
    _close(_np(th.grad), rdh, 1e-12, "grad h")
    for p, r in zip(tw, (rdwih, rdwhh, rdbih, rdbhh)):
        _close(_np(p.grad), r, 1e-12, "grad param")


# ------------------------------------------------------------------------------------------ gradient checks

@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_sequence(mode, rng):
    T, N, I, H, L, D = 3, 2, 3, 4, 2, 2
    for seed in range(100):
        # relu: draw until every pre-activation is at least 1e-2 away from the kink at 0 (central differences with
        # eps = 1e-6 then never cross it)
        r = np.random.default_rng(seed) if mode == "rnn_relu" else rng
        xa, h0a, c0a = r.standard_normal((N, T, I)), r.standard_normal((L * D, N, H)), r.standard_normal((L * D, N, H))
        pa = _rand_params(r, mode, I, H, L, D, True)
        if mode != "rnn_relu":
            break
        _, _, _, caches = np_stack(mode, xa.transpose(1, 0, 2), h0a, None, pa, L, D, True)
        if min(np.abs(st["pre"]).min() for c in caches for st in c["steps"]) > 1e-2:
            break
    x, h0, c0 = _t(xa, grad=True), _t(h0a, grad=True), _t(c0a, grad=True)
    ps = [_t(p, grad=True) for p in pa]

    def f(x, h0, c0, *ps):
        hx = (h0, c0) if mode == "lstm" else h0
        return FN[mode](x, hx, list(ps), True, L, 0.0, True, True, True)

    assert gradcheck(f, [x, h0, c0] + ps, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_cell(mode, rng):
    N, I, H = 2, 3, 4
    x = _t(rng.standard_normal((N, I)), grad=True)
    h = _t(rng.standard_normal((N, H)), grad=True)
    c = _t(rng.standard_normal((N, H)), grad=True)
    G = GATES[mode] * H
    ws = [_t(rng.uniform(-.5, .5, s), grad=True) for s in ((G, I), (G, H), (G,), (G,))]

    def f(x, h, c, *ws):
        return CELL[mode](x, (h, c) if mode == "lstm" else h, *ws)

    assert gradcheck(f, [x, h, c] + ws, atol=1e-6, rtol=1e-5)


# ------------------------------------------------------------------------------------------ layouts

@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_noncontiguous_inputs(mode, device, rng):
    T, N, I, H = 4, 3, 5, 6
    big = rng.standard_normal((T, 2 * N, I + 3))
    x_nc = _t(big, device=device)[:, ::2, 1:I + 1]   # strided rows and columns
    x_c = _t(np.ascontiguousarray(big[:, ::2, 1:I + 1]), device=device)
    ps = _rand_params(rng, mode, I, H, 1, 1, True)
    wbig = np.ascontiguousarray(ps[0].T)
    ps_nc = [_t(wbig, device=device).t()] + [_t(p, device=device) for p in ps[1:]]   # a transposed weight
    ps_c = [_t(p, device=device) for p in ps]
    a = FN[mode](x_nc, None, ps_nc, True, 1, 0.0, False, False, False)
    b = FN[mode](x_c, None, ps_c, True, 1, 0.0, False, False, False)
    _close(_np(a[0]), _np(b[0]), 1e-12, "output")
    # batch of one, batch_first view
    x1 = _t(rng.standard_normal((1, T, I)), device=device)
    a = FN[mode](x1, None, ps_c, True, 1, 0.0, False, False, True)
    b = FN[mode](_t(_np(x1).transpose(1, 0, 2).copy(), device=device), None, ps_c, True, 1, 0.0, False, False, False)
    _close(_np(a[0]).transpose(1, 0, 2), _np(b[0]), 1e-12, "batch of one")


def test_unbatched(device, rng):
    T, I, H = 4, 3, 5
    ps = [_t(p, device=device) for p in _rand_params(rng, "gru", I, H, 1, 1, True)]
    x = rng.standard_normal((T, I))
    a = F.gru(_t(x, device=device), None, ps, True, 1, 0.0, False, False, False)
    b = F.gru(_t(x[:, None, :], device=device), None, ps, True, 1, 0.0, False, False, False)
    assert list(a[0].shape) == [T, H] and list(a[1].shape) == [1, H]
    _close(_np(a[0]), _np(b[0])[:, 0], 1e-12, "unbatched")
    hc = F.lstm_cell(_t(rng.standard_normal(I), device=device), None,
                     *[_t(p, device=device) for p in _rand_params(rng, "lstm", I, H, 1, 1, True)])
    assert list(hc[0].shape) == [H] and list(hc[1].shape) == [H]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("T", [1, 2, 5])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_no_grad_path_matches(mode, T, dtype, device, rng):
    # Without autograd the CPU forward saves nothing for a backward (no GRU gate states; LSTM c in two ping-pong
    # slots): outputs and final states must be bit-identical to the training forward's, both directions.
    ps = [_t(p, dtype, grad=True, device=device) for p in _rand_params(rng, mode, 3, 9, 2, 2, True)]
    x = _t(rng.standard_normal((T, 11, 3)), dtype, device=device)
    a = FN[mode](x, None, ps, True, 2, 0.0, False, True, False)
    with dlcore.no_grad():
        b = FN[mode](x, None, ps, True, 2, 0.0, False, True, False)
    assert a[0].requires_grad and not b[0].requires_grad
    for u, v in zip(a, b):
        _close(_np(u), _np(v), 0, "no_grad")


# ------------------------------------------------------------------------------------------ dropout

def test_dropout_between_layers(device, rng):
    T, N, I, H, L = 4, 3, 2, 5, 2
    ps = [_t(p, grad=True, device=device) for p in _rand_params(rng, "gru", I, H, L, 1, True)]
    x = _t(rng.standard_normal((T, N, I)), grad=True, device=device)
    # p = 1 drops the whole first-layer output: layer 1 then sees zeros, as if run on a zero input.
    out, hn = F.gru(x, None, ps, True, L, 1.0, True, False, False)
    ref, _ = F.gru(_t(np.zeros((T, N, H)), device=device), None, ps[4:], True, 1, 0.0, False, False, False)
    _close(_np(out), _np(ref), 1e-12, "dropout p=1")
    (out * 1.0).sum().backward()
    assert np.all(_np(x.grad) == 0) and np.all(_np(ps[0].grad) == 0)
    # not training: no dropout
    a = F.gru(x, None, ps, True, L, 0.5, False, False, False)
    b = F.gru(x, None, ps, True, L, 0.0, False, False, False)
    _close(_np(a[0]), _np(b[0]), 0, "eval ignores dropout")
    # training with p = 0.5: the same seed gives the same masks; the gradient matches the NumPy composition
    dlcore.manual_seed(7)
    o1 = F.gru(x, None, ps, True, L, 0.5, True, False, False)[0]
    dlcore.manual_seed(7)
    o2 = F.gru(x, None, ps, True, L, 0.5, True, False, False)[0]
    _close(_np(o1), _np(o2), 0, "seeded dropout")
    assert not np.allclose(_np(o1), _np(a[0]))


# ------------------------------------------------------------------------------------------ vs torch

def _torch_module(torch, mode, I, H, L, bi, bf, bias):
    if mode == "lstm":
        return torch.nn.LSTM(I, H, L, bias=bias, batch_first=bf, bidirectional=bi)
    if mode == "gru":
        return torch.nn.GRU(I, H, L, bias=bias, batch_first=bf, bidirectional=bi)
    return torch.nn.RNN(I, H, L, nonlinearity=mode[4:], bias=bias, batch_first=bf, bidirectional=bi)


@requires_torch
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("L,bi,bf,hx", [(1, False, False, False), (2, True, True, True), (3, False, True, True)])
def test_functional_vs_torch(mode, L, bi, bf, hx, device, rng):
    import torch
    torch.manual_seed(0)
    T, N, I, H = 5, 3, 4, 7
    D = 2 if bi else 1
    tm = _torch_module(torch, mode, I, H, L, bi, bf, True).double()
    x = torch.tensor(rng.standard_normal((N, T, I) if bf else (T, N, I)), requires_grad=True)
    h0 = torch.tensor(rng.standard_normal((L * D, N, H)), requires_grad=True)
    c0 = torch.tensor(rng.standard_normal((L * D, N, H)), requires_grad=True)
    thx = ((h0, c0) if mode == "lstm" else h0) if hx else None
    o, st = tm(x, thx)
    touts = [o] + (list(st) if mode == "lstm" else [st])
    ps = [_t(p.detach().numpy(), grad=True, device=device) for p in tm._flat_weights]
    dx, dh0, dc0 = (_t(a.detach().numpy(), grad=True, device=device) for a in (x, h0, c0))
    dhx = ((dh0, dc0) if mode == "lstm" else dh0) if hx else None
    res = FN[mode](dx, dhx, ps, True, L, 0.0, True, bi, bf)
    gs = [rng.standard_normal(tuple(a.shape)) for a in touts]
    torch.autograd.backward(touts, [torch.tensor(g) for g in gs])
    dlcore.autograd.backward(list(res), [_t(g, device=device) for g in gs])
    for a, b in zip(res, touts):
        _close(_np(a), b.detach().numpy(), 1e-10, "output")
    _close(_np(dx.grad), x.grad.numpy(), 1e-10, "grad input")
    if hx:
        _close(_np(dh0.grad), h0.grad.numpy(), 1e-10, "grad h0")
        if mode == "lstm":
            _close(_np(dc0.grad), c0.grad.numpy(), 1e-10, "grad c0")
    for p, q in zip(ps, tm._flat_weights):
        _close(_np(p.grad), q.grad.numpy(), 1e-10, "grad param")


@requires_torch
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_modules_vs_torch_float32(kind, device, rng):
    import torch
    import dlcore.nn as nn
    torch.manual_seed(1)
    T, N, I, H, L = 6, 4, 5, 8, 2
    kw = {"nonlinearity": "relu"} if kind == "RNN" else {}
    tm = getattr(torch.nn, kind)(I, H, L, batch_first=True, bidirectional=True, **kw)
    dm = getattr(nn, kind)(I, H, L, batch_first=True, bidirectional=True, **kw)
    assert [n for n, _ in dm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    dm.load_state_dict({k: _t(v.detach().numpy(), "float32") for k, v in tm.state_dict().items()})
    dm.to(device)
    x = rng.standard_normal((N, T, I)).astype(np.float32)
    to, ts = tm(torch.tensor(x))
    do, ds = dm(_t(x, "float32", device=device))
    _close(_np(do), to.detach().numpy(), 1e-5, "output")
    if kind == "LSTM":
        _close(_np(ds[0]), ts[0].detach().numpy(), 1e-5, "h_n")
        _close(_np(ds[1]), ts[1].detach().numpy(), 1e-5, "c_n")
    else:
        _close(_np(ds), ts.detach().numpy(), 1e-5, "h_n")
    to.sum().backward()
    (do * 1.0).sum().backward()
    tp = dict(tm.named_parameters())
    for n, p in dm.named_parameters():
        _close(_np(p.grad), tp[n].grad.numpy(), 1e-4, f"grad {n}")


@requires_torch
@pytest.mark.parametrize("kind", ["LSTMCell", "GRUCell", "RNNCell"])
def test_cell_modules_vs_torch(kind, device, rng):
    import torch
    import dlcore.nn as nn
    N, I, H = 3, 5, 6
    tm = getattr(torch.nn, kind)(I, H).double()
    dm = getattr(nn, kind)(I, H).double()
    dm.load_state_dict({k: _t(v.detach().numpy()) for k, v in tm.state_dict().items()})
    dm.to(device)
    x, h, c = (rng.standard_normal(s) for s in ((N, I), (N, H), (N, H)))

    def d(a):
        return _t(a, device=device)

    if kind == "LSTMCell":
        th, tc = tm(torch.tensor(x), (torch.tensor(h), torch.tensor(c)))
        dh, dc = dm(d(x), (d(h), d(c)))
        _close(_np(dh), th.detach().numpy(), 1e-12, "h'")
        _close(_np(dc), tc.detach().numpy(), 1e-12, "c'")
        out_t, out_d = th + 2 * tc, dh + dc * 2.0
    else:
        out_t, out_d = tm(torch.tensor(x), torch.tensor(h)), dm(d(x), d(h))
        _close(_np(out_d), out_t.detach().numpy(), 1e-12, "h'")
    out_t.sum().backward()
    out_d.sum().backward()
    tp = dict(tm.named_parameters())
    for n, p in dm.named_parameters():
        _close(_np(p.grad), tp[n].grad.numpy(), 1e-12, f"grad {n}")
    # default state (None) is zeros
    z = dm(d(x))
    zeros = d(np.zeros((N, H)))
    ref = dm(d(x), (zeros, zeros)) if kind == "LSTMCell" else dm(d(x), zeros)
    _close(_np(z[0] if kind == "LSTMCell" else z), _np(ref[0] if kind == "LSTMCell" else ref), 0, "default state")


def test_module_api():
    import dlcore.nn as nn
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    names = [n for n, _ in m.named_parameters()]
    assert names[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l0_reverse"]
    assert list(m.weight_ih_l1.shape) == [16, 8] and list(m.weight_hh_l0_reverse.shape) == [16, 4]
    bound = 1 / np.sqrt(4)
    for p in m.parameters():
        a = _np(p)
        assert np.all(np.abs(a) <= bound) and a.std() > 0
    assert "bidirectional=True" in repr(m)
    g = nn.GRU(3, 4, bias=False)
    assert [n for n, _ in g.named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]
    c = nn.GRUCell(3, 4, bias=False)
    assert c.bias_ih is None and len(list(c.parameters())) == 2
    with pytest.raises(ValueError):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError):
        nn.LSTM(3, 0)


# ------------------------------------------------------------------------------------------ bad input

def _ps(mode, I=3, H=4, L=1, D=1, dtype="float32"):
    return [_t(p, dtype) for p in _rand_params(np.random.default_rng(0), mode, I, H, L, D, True)]


@pytest.mark.parametrize("mode", MODES)
def test_bad_input_size(mode):
    x = _t(np.zeros((5, 2, 6)), "float32")
    with pytest.raises(ValueError, match=r"input.size\(-1\) must be equal to input_size. Expected 3, got 6"):
        FN[mode](x, None, _ps(mode), True, 1, 0.0, False, False, False)


@pytest.mark.parametrize("mode", MODES)
def test_bad_hidden_shape(mode):
    x = _t(np.zeros((5, 2, 3)), "float32")
    h = _t(np.zeros((1, 3, 4)), "float32")
    c = _t(np.zeros((1, 2, 4)), "float32")
    hx = (h, c) if mode == "lstm" else h
    with pytest.raises(RuntimeError, match=r"Expected hidden(\[0\])? size \(1, 2, 4\), got \[1, 3, 4\]"):
        FN[mode](x, hx, _ps(mode), True, 1, 0.0, False, False, False)
    if mode == "lstm":
        with pytest.raises(ValueError, match=r"hidden\[1\] size \(1, 2, 4\), got \[1, 2, 5\]"):
            F.lstm(x, (c, _t(np.zeros((1, 2, 5)), "float32")), _ps(mode), True, 1, 0.0, False, False, False)


def test_bad_input_catalogue():
    ps = _ps("lstm")
    x = _t(np.zeros((5, 2, 3)), "float32")
    with pytest.raises(ValueError, match="3 dimensions"):
        F.lstm(_t(np.zeros((5, 2, 3, 1)), "float32"), None, ps, True, 1, 0.0, False, False, False)
    with pytest.raises(TypeError, match="float64"):
        F.lstm(_t(np.zeros((5, 2, 3))), None, ps, True, 1, 0.0, False, False, False)
    with pytest.raises(TypeError, match="float32 or float64"):
        F.lstm(dlcore.tensor(np.zeros((5, 2, 3), np.int64)), None, ps, True, 1, 0.0, False, False, False)
    with pytest.raises(ValueError, match="expected 8 parameter tensors"):
        F.lstm(x, None, ps, True, 2, 0.0, False, False, False)
    with pytest.raises(ValueError, match=r"weight_hh of layer 0 has shape \[12, 4\], expected \[16, 4\]"):
        F.lstm(x, None, [ps[0], _t(np.zeros((12, 4)), "float32")] + ps[2:], True, 1, 0.0, False, False, False)
    with pytest.raises(ValueError, match="empty"):
        F.lstm(_t(np.zeros((0, 2, 3)), "float32"), None, ps, True, 1, 0.0, False, False, False)
    with pytest.raises(TypeError, match=r"hx must be a tuple"):
        F.lstm(x, _t(np.zeros((1, 2, 4)), "float32"), ps, True, 1, 0.0, False, False, False)
    with pytest.raises(TypeError, match="hidden has dtype float64"):
        F.gru(x, _t(np.zeros((1, 2, 4))), _ps("gru"), True, 1, 0.0, False, False, False)
    # cells
    with pytest.raises(ValueError, match="inconsistent input_size: got 6 expected 3"):
        F.gru_cell(_t(np.zeros((2, 6)), "float32"), None, *_ps("gru"))
    with pytest.raises(ValueError, match=r"Expected hx size \(2, 4\), got \[2, 5\]"):
        F.rnn_tanh_cell(_t(np.zeros((2, 3)), "float32"), _t(np.zeros((2, 5)), "float32"), *_ps("rnn_tanh"))
    with pytest.raises(ValueError, match="1D or 2D"):
        F.lstm_cell(x, None, *_ps("lstm"))


def test_raw_binding_rejects_bad_arguments():
    # The kernels validate too: nothing reachable from Python may crash.
    x = _t(np.zeros((2, 2, 3)), "float32")
    h = _t(np.zeros((1, 2, 4)), "float32")
    ps = _ps("gru")
    with pytest.raises(ValueError, match="unknown mode"):
        _C.rnn_layer_forward("lstmx", x, h, None, ps)
    with pytest.raises(ValueError, match="lstm needs c0"):
        _C.rnn_layer_forward("lstm", x, h, None, _ps("lstm"))
    with pytest.raises(ValueError, match="expected 2 or 4 parameters"):
        _C.rnn_layer_forward("gru", x, h, None, ps[:3])
    with pytest.raises(ValueError, match="weight_ih has shape"):
        _C.rnn_layer_forward("rnn_tanh", x, h, None, ps)
    y, hn, cn, ws = _C.rnn_layer_forward("gru", x, h, None, ps)
    with pytest.raises(ValueError, match="workspace"):
        _C.rnn_layer_backward("gru", x, h, None, ps, y, [], None, None, None, True)


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_saturated_gates_each_isa(mode, isa, rng):
    # Pre-activations far beyond the sigmoid/tanh clamps (|x| ~ 1e3) and near 0: the float32 fast gate math must
    # stay finite and match float64.
    sup = _C._cpu_isa_supported()
    if isa == "avx512" and sup != "avx512" or isa == "avx2" and sup == "scalar":
        pytest.skip(f"this CPU has no {isa}")
    _C._set_cpu_isa(isa)
    T, N, I, H = 3, 17, 2, 5
    x = rng.standard_normal((T, N, I)) * np.array([1e-6, 1.0])[None, None, :]
    x[:, :8] *= 300.0
    ps = _rand_params(rng, mode, I, H, 1, 1, True, scale=3.0)
    out32 = FN[mode](_t(x, "float32"), None, [_t(p, "float32") for p in ps], True, 1, 0.0, False, False, False)
    out64 = FN[mode](_t(x), None, [_t(p) for p in ps], True, 1, 0.0, False, False, False)
    for a, b in zip(out32, out64):
        assert np.all(np.isfinite(_np(a)))
        _close(_np(a), _np(b), 1e-5, f"{mode} saturated")


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh"])
def test_graph_without_backward_frees_its_saved_tensors(mode, rng):
    # The sequence function's forward saves its output for the backward. Held on ctx directly, the output (whose
    # grad_fn is that ctx) made a reference cycle through the C++ tensor object, invisible to the garbage
    # collector: every forward that built a graph and was not backpropagated leaked all its saved tensors.
    import gc
    G = {"lstm": 4, "gru": 3, "rnn_tanh": 1}[mode]
    I, H = 6, 8
    params = [dlcore.from_numpy(rng.standard_normal(s).astype(np.float32)).requires_grad_()
              for inp in (I, I, 2 * H, 2 * H)  # 2 layers x 2 directions
              for s in [(G * H, inp), (G * H, H), (G * H,), (G * H,)]]
    x = dlcore.from_numpy(rng.standard_normal((5, 3, I)).astype(np.float32))
    fn = getattr(F, mode)

    def allocated():
        gc.collect()
        return _C._cpu_memory_stats()["allocated"]

    def run(backward):
        out = fn(x, None, params, True, 2, 0.0, True, True, False)[0]
        if backward:
            out.sum().backward()
            for p in params:
                p.grad = None

    for backward in (False, True):
        run(backward)  # first call: any lazily created state
        before = allocated()
        for _ in range(3):
            run(backward)
        assert allocated() == before, f"{mode} (backward={backward}) leaked {allocated() - before} bytes in 3 calls"


@requires_torch
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("L,bi,bf,hx", [(1, False, False, False), (2, True, True, True), (3, False, True, False)])
def test_empty_batch_like_torch(kind, L, bi, bf, hx):
    # N = 0: empty output and states of torch's shapes (no kernel call); a backward through them works and gives
    # empty input/state gradients and zero parameter gradients, as torch's does.
    import torch
    D = 2 if bi else 1
    tm = getattr(torch.nn, kind)(3, 4, num_layers=L, bidirectional=bi, batch_first=bf)
    dm = getattr(dlcore.nn, kind)(3, 4, num_layers=L, bidirectional=bi, batch_first=bf)
    xs = (0, 5, 3) if bf else (5, 0, 3)
    tx, dx = torch.zeros(xs, requires_grad=True), dlcore.zeros(*xs, requires_grad=True)
    targs, dargs = [tx], [dx]
    if hx:
        th = [torch.zeros(L * D, 0, 4, requires_grad=True) for _ in range(2 if kind == "LSTM" else 1)]
        dh = [dlcore.zeros(L * D, 0, 4, requires_grad=True) for _ in th]
        targs.append(tuple(th) if kind == "LSTM" else th[0])
        dargs.append(tuple(dh) if kind == "LSTM" else dh[0])
    to, tst = tm(*targs)
    do, dst = dm(*dargs)
    tst = list(tst) if kind == "LSTM" else [tst]
    dst = list(dst) if kind == "LSTM" else [dst]
    assert tuple(do.shape) == tuple(to.shape) and do.dtype == dlcore.float32
    assert [tuple(s.shape) for s in dst] == [tuple(s.shape) for s in tst]
    assert do.requires_grad == to.requires_grad
    sum(o.sum() for o in [do] + dst).backward()
    sum(o.sum() for o in [to] + tst).backward()
    assert tuple(dx.grad.shape) == tuple(tx.grad.shape)
    if hx:
        assert all(tuple(a.grad.shape) == tuple(b.grad.shape) for a, b in zip(dh, th))
    for (n, p), (tn, tp) in zip(dm.named_parameters(), tm.named_parameters()):
        assert n == tn and p.grad is not None and tuple(p.grad.shape) == tuple(tp.grad.shape)
        assert not np.any(_np(p.grad))
    with dlcore.no_grad():  # and without autograd
        o = dm(dlcore.zeros(*xs))[0]
    assert tuple(o.shape) == tuple(to.shape) and not o.requires_grad


@pytest.mark.parametrize("kind", ["LSTMCell", "GRUCell", "RNNCell"])
def test_empty_batch_cells(kind):
    m = getattr(dlcore.nn, kind)(3, 4)
    out = m(dlcore.zeros(0, 3))
    outs = list(out) if kind == "LSTMCell" else [out]
    assert all(tuple(o.shape) == (0, 4) for o in outs)
    sum(o.sum() for o in outs).backward()
    assert tuple(m.weight_hh.grad.shape) == (16 if kind == "LSTMCell" else 12 if kind == "GRUCell" else 4, 4)
    with pytest.raises(ValueError, match=r"Expected hx(\[0\])? size \(0, 4\), got \[1, 4\]"):
        m(dlcore.zeros(0, 3), (dlcore.zeros(1, 4),) * 2 if kind == "LSTMCell" else dlcore.zeros(1, 4))


def test_empty_batch_still_checks_hidden_and_empty_sequence_still_raises():
    with pytest.raises(ValueError, match=r"Expected hidden size \(1, 0, 4\), got \[1, 1, 4\]"):
        dlcore.nn.GRU(3, 4, batch_first=True)(dlcore.zeros(0, 5, 3), dlcore.zeros(1, 1, 4))
    with pytest.raises(ValueError, match="empty sequence"):
        dlcore.nn.LSTM(3, 4)(dlcore.zeros(0, 2, 3))
