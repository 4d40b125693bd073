"""Recurrent layers (LSTM, GRU, Elman RNN with tanh/relu) as differentiable functions: the sequence functions
``lstm``, ``gru``, ``rnn_tanh``, ``rnn_relu`` and the single-step cells ``lstm_cell``, ``gru_cell``,
``rnn_tanh_cell``, ``rnn_relu_cell``, with the signatures of PyTorch's ``torch.lstm`` / ``torch.lstm_cell`` family.
They are what ``dlcore.nn.LSTM/GRU/RNN`` and the ``*Cell`` modules call; ``packed_sequence`` is their form for a
PackedSequence (one kernel call per run of equal batch size, per layer and direction).

The kernels (csrc/ops/recurrent) run one layer (both directions) per call: the input projection of all steps in
one GEMM, per step one recurrent GEMM plus one fused pointwise pass, and backpropagation through time with the
weight gradients accumulated in whole-sequence GEMMs. Here, one autograd Function covers the whole stack of layers
(dropout masks between layers included), so a forward records a single graph node.

Parameter layout (PyTorch's): per layer and direction ``w_ih [G*H, I]``, ``w_hh [G*H, H]``, ``b_ih, b_hh [G*H]``
with gate order i, f, g, o (LSTM), r, z, n (GRU); ``params`` is the flat list in that order, layer by layer, the
reverse direction after the forward one.
"""
from __future__ import annotations

from . import _C
from .autograd import Function, _mode

__all__ = ["lstm", "gru", "rnn_tanh", "rnn_relu", "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell"]

_Tensor = _C.Tensor
_GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}


class RNNShapeError(_C.ShapeError):
    """Bad recurrent input: a ValueError (dlcore's convention) that is also a RuntimeError (what torch raises)."""


def _shape(t):
    return list(t.shape)


def _dtname(t):
    return str(t.dtype).replace("dlcore.", "")


def _needs_grad(*ts):
    if not _mode.enabled:
        return False
    return any(isinstance(t, _Tensor) and t.requires_grad for t in ts)


def _slice0(t, a, b):
    return None if t is None else _C.slice(t, 0, a, b, 1)


# --------------------------------------------------------------------------------------------- the autograd node

class _RNNStack(Function):
    _keeps_refs = True  # ctx._keep_* entries, dropped with the saved tensors (Node._release)
    """forward(ctx, cfg, x, h0, c0, *params) -> (output, h_n, c_n)  (c_n None unless LSTM).

    cfg: dict(mode, layers, dirs, per (params per direction), masks (dropout masks between layers or None),
    batch_first, cell (single-step form: x [N, I], h0/c0 [N, H], no output sequence)).
    """

    @staticmethod
    def forward(ctx, cfg, x, h0, c0, *params):
        ctx.set_materialize_grads(False)
        mode, L, D, per = cfg["mode"], cfg["layers"], cfg["dirs"], cfg["per"]
        masks = cfg["masks"]
        training = not isinstance(ctx, _NoCtx)  # without autograd nothing is saved for a backward
        if cfg["cell"]:
            xt = _C.unsqueeze(x, 0)
            h0t = _C.unsqueeze(h0, 0)
            c0t = None if c0 is None else _C.unsqueeze(c0, 0)
        else:
            xt = _C.transpose(x, 0, 1) if cfg["batch_first"] else x
            h0t, c0t = h0, c0
        N, H = h0t.shape[1], h0t.shape[2]
        hn = _C.empty([L * D, N, H], x.dtype, x.device)
        cn = _C.empty([L * D, N, H], x.dtype, x.device) if mode == "lstm" else None
        saved, ys = [], []
        inp = xt
        y = None
        for layer in range(L):
            lp = list(params[layer * D * per:(layer + 1) * D * per])
            h0l, c0l = _slice0(h0t, layer * D, (layer + 1) * D), _slice0(c0t, layer * D, (layer + 1) * D)
            y, _, _, ws = _C.rnn_layer_forward(mode, inp, h0l, c0l, lp, _slice0(hn, layer * D, (layer + 1) * D),
                                               _slice0(cn, layer * D, (layer + 1) * D), training)
            saved.append((inp, h0l, c0l, lp, ws))
            ys.append(y)
            if layer + 1 < L:
                inp = _C.mul(y, masks[layer]) if masks is not None else y
        # The layers' outputs through save_for_backward (history-free aliases, version-checked): the last one is the
        # returned output itself, and holding it on ctx directly made a cycle output -> grad_fn -> ctx -> output
        # through the C++ tensor object, which the garbage collector cannot see: every call that built a graph
        # leaked its saved tensors (~20 MB per lstm_big forward). The rest (inputs, parameters, fresh workspaces)
        # holds no reference back to ctx.
        if training:
            ctx.save_for_backward(*ys)
        ctx._keep_saved = saved
        ctx._keep_cfg = cfg
        ctx._keep_args = (x, h0, c0) + params  # the arguments' values, for a double backward (_double_backward_fn)
        if cfg["cell"]:
            h = _C.select(hn, 0, 0)
            return (h, _C.select(cn, 0, 0)) if mode == "lstm" else (h,)
        out = _C.transpose(y, 0, 1) if cfg["batch_first"] else y
        return (out, hn, cn) if mode == "lstm" else (out, hn)

    @staticmethod
    def backward(ctx, *grads):
        cfg = ctx._keep_cfg
        mode, L, D, per = cfg["mode"], cfg["layers"], cfg["dirs"], cfg["per"]
        saved, ys = ctx._keep_saved, ctx.saved_tensors
        masks = cfg["masks"]
        if cfg["cell"]:
            gh = grads[0]
            gc = grads[1] if mode == "lstm" else None
            gout = None
            ghn = None if gh is None else _C.unsqueeze(gh, 0)
            gcn = None if gc is None else _C.unsqueeze(gc, 0)
        else:
            gout, ghn = grads[0], grads[1]
            gcn = grads[2] if mode == "lstm" else None
            if gout is not None and cfg["batch_first"]:
                gout = _C.transpose(gout, 0, 1)
        inp0, h00 = saved[0][0], saved[0][1]
        N, H = h00.shape[1], h00.shape[2]
        dtype, dev = inp0.dtype, inp0.device
        # dh0 only when h0 needs it: without it the CPU kernel skips the first step's dh GEMM (a cell's third GEMM).
        need_dh0 = bool(ctx.needs_input_grad[2])
        dh0 = _C.empty([L * D, N, H], dtype, dev) if need_dh0 else None
        dc0 = _C.empty([L * D, N, H], dtype, dev) if mode == "lstm" else None
        pgrads = [None] * (L * D * per)
        dy = gout
        dx = None
        for layer in range(L - 1, -1, -1):
            (inp, h0l, c0l, lp, ws), y = saved[layer], ys[layer]
            need_dx = layer > 0 or ctx.needs_input_grad[1]
            dx, _, _, gl = _C.rnn_layer_backward(
                mode, inp, h0l, c0l, lp, y, ws, dy, _slice0(ghn, layer * D, (layer + 1) * D),
                _slice0(gcn, layer * D, (layer + 1) * D), need_dx, _slice0(dh0, layer * D, (layer + 1) * D),
                _slice0(dc0, layer * D, (layer + 1) * D), need_dh0)
            pgrads[layer * D * per:(layer + 1) * D * per] = gl
            if layer > 0:
                dy = _C.mul(dx, masks[layer - 1]) if masks is not None else dx
        if dx is not None:
            if cfg["cell"]:
                dx = _C.squeeze(dx, 0)
            elif cfg["batch_first"]:
                dx = _C.transpose(dx, 0, 1)
        if cfg["cell"]:
            dh0 = None if dh0 is None else _C.squeeze(dh0, 0)
            dc0 = None if dc0 is None else _C.squeeze(dc0, 0)
        return (None, dx, dh0 if (dh0 is not None and ctx.needs_input_grad[2]) else None,
                dc0 if (dc0 is not None and ctx.needs_input_grad[3]) else None, *pgrads)


    @staticmethod
    def _double_backward_fn(ctx, *grads):
        """create_graph: the stack recomputed step by step with recording ops (_stack_composite) and
        differentiated, so its gradients can be differentiated again (correctness over speed: one recorded op per
        gate and step)."""
        from .autograd import _inputs_with_history, _recompute_vjp
        cfg = ctx._keep_cfg
        args = _inputs_with_history(ctx, (None,) + ctx._keep_args)[1:]
        res = _recompute_vjp(lambda *a: _stack_composite(cfg, *a), args, grads)
        return (None, *res)


def _stack_composite(cfg, x, h0, c0, *params):
    """What _RNNStack.forward computes, written with recording ops (dlcore._ops): per layer and direction, the
    input projection of all steps at once, then per step the recurrent projection and the gates (PyTorch's
    formulas and gate order)."""
    from . import _ops as o
    from ._indexing import cat, stack
    mode, L, D, per = cfg["mode"], cfg["layers"], cfg["dirs"], cfg["per"]
    masks = cfg["masks"]
    if cfg["cell"]:
        xt, h0t = o.unsqueeze(x, 0), o.unsqueeze(h0, 0)
        c0t = None if c0 is None else o.unsqueeze(c0, 0)
    else:
        xt = o.transpose(x, 0, 1) if cfg["batch_first"] else x
        h0t, c0t = h0, c0
    T, H = xt.shape[0], h0t.shape[2]
    inp, y = xt, None
    hns, cns = [], []
    for layer in range(L):
        ys_dir = []
        for d in range(D):
            k = layer * D + d
            p = params[k * per:(k + 1) * per]
            w_ih, w_hh = p[0], p[1]
            b_ih, b_hh = (p[2], p[3]) if per == 4 else (None, None)
            h = o.select(h0t, 0, k)
            c = o.select(c0t, 0, k) if mode == "lstm" else None
            xp = o.linear(inp, w_ih, b_ih)  # [T, N, G*H]
            ys = [None] * T
            for t in (range(T) if d == 0 else range(T - 1, -1, -1)):
                xg = o.select(xp, 0, t)
                hg = o.linear(h, w_hh, b_hh)
                if mode == "lstm":
                    gates = o.add(xg, hg)
                    i = o.sigmoid(o.narrow(gates, 1, 0, H))
                    f = o.sigmoid(o.narrow(gates, 1, H, H))
                    g = o.tanh(o.narrow(gates, 1, 2 * H, H))
                    og = o.sigmoid(o.narrow(gates, 1, 3 * H, H))
                    c = o.add(o.mul(f, c), o.mul(i, g))
                    h = o.mul(og, o.tanh(c))
                elif mode == "gru":
                    r = o.sigmoid(o.add(o.narrow(xg, 1, 0, H), o.narrow(hg, 1, 0, H)))
                    z = o.sigmoid(o.add(o.narrow(xg, 1, H, H), o.narrow(hg, 1, H, H)))
                    n = o.tanh(o.add(o.narrow(xg, 1, 2 * H, H), o.mul(r, o.narrow(hg, 1, 2 * H, H))))
                    h = o.add(n, o.mul(z, o.sub(h, n)))  # (1 - z) n + z h
                else:
                    a = o.add(xg, hg)
                    h = o.tanh(a) if mode == "rnn_tanh" else o.where(_C.gt(a, 0), a, 0.0)
                ys[t] = h
            ys_dir.append(stack(ys, 0))
            hns.append(h)
            cns.append(c)
        y = ys_dir[0] if D == 1 else cat(ys_dir, 2)
        if layer + 1 < L and masks is not None:
            inp = o.mul(y, masks[layer])
        else:
            inp = y
    if cfg["cell"]:
        return (hns[0], cns[0]) if mode == "lstm" else (hns[0],)
    hn = stack(hns, 0)
    out = o.transpose(y, 0, 1) if cfg["batch_first"] else y
    return (out, hn, stack(cns, 0)) if mode == "lstm" else (out, hn)


class _EmptyBatch(Function):
    _keeps_refs = True  # ctx._keep_* entries, dropped with the saved tensors (Node._release)
    _double_backward = True  # (constant zero gradients)
    """An empty batch (N = 0): empty outputs and states of the right shapes, as torch returns, without calling the
    kernels. forward(ctx, shapes, x, h0, c0, *params); the backward gives zero gradients (empty ones for the input
    and the states, zeros for the parameters, like torch)."""

    @staticmethod
    def forward(ctx, shapes, x, h0, c0, *params):
        ctx._keep_meta = [None if t is None else (list(t.shape), t.dtype, t.device) for t in (x, h0, c0, *params)]
        return tuple(_C.zeros(list(s), x.dtype, x.device) for s in shapes)

    @staticmethod
    def backward(ctx, *grads):
        return (None, *[_C.zeros(*m) if (m is not None and need) else None
                        for m, need in zip(ctx._keep_meta, ctx.needs_input_grad[1:])])


def _empty_batch(shapes, x, h0, c0, params):
    if _needs_grad(x, h0, c0, *params):
        return _EmptyBatch.apply(shapes, x, h0, c0, *params)
    return _EmptyBatch.forward(_NoCtx(), shapes, x, h0, c0, *params)


# --------------------------------------------------------------------------------------------- validation

def _check_params(op, mode, params, L, D, per, input_size, H, dtype, device):
    # Fast path (every call of a cell in a Python loop pays it): raw shape tuples, no messages built; any mismatch
    # goes to the full check below, which raises with the message.
    G = _GATES[mode]
    if len(params) == L * D * per:
        GH, step = G * H, D * per
        for i, p in enumerate(params):
            if not isinstance(p, _Tensor):
                break
            k = (i % step) % per
            expect = ((GH, input_size if i < step else H * D), (GH, H), (GH,), (GH,))[k]
            if p._raw_shape != expect or p.dtype != dtype or p.device != device:
                break
        else:
            return
    _check_params_full(op, mode, params, L, D, per, input_size, H, dtype, device)


def _check_params_full(op, mode, params, L, D, per, input_size, H, dtype, device):
    G = _GATES[mode]
    if len(params) != L * D * per:
        raise RNNShapeError(f"{op}: expected {L * D * per} parameter tensors ({L} layer(s) x {D} direction(s) x "
                            f"{per}), got {len(params)}")
    for i, p in enumerate(params):
        if not isinstance(p, _Tensor):
            raise TypeError(f"{op}: parameter {i} must be a Tensor, not {type(p).__name__}")
        layer, k = divmod(i, D * per)
        k = k % per
        in_sz = input_size if layer == 0 else H * D
        expect = [[G * H, in_sz], [G * H, H], [G * H], [G * H]][k]
        name = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"][k]
        if _shape(p) != expect:
            raise RNNShapeError(f"{op}: {name} of layer {layer} has shape {_shape(p)}, expected {expect}"
                                + (f" (input size {in_sz})" if k == 0 else f" (hidden size {H})"))
        if p.dtype != dtype:
            raise TypeError(f"{op}: {name} of layer {layer} has dtype {_dtname(p)}, but the input has dtype "
                            f"{str(dtype).replace('dlcore.', '')}")
        if p.device != device:
            raise RuntimeError(f"{op}: {name} of layer {layer} is on {p.device}, but the input is on {device}")


def _check_state(op, name, t, expect, dtype, device):
    if isinstance(t, _Tensor) and t._raw_shape == tuple(expect) and t.dtype == dtype and t.device == device:
        return  # (the fast path; the checks below raise with the message)
    if not isinstance(t, _Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, not {type(t).__name__}")
    if _shape(t) != list(expect):
        raise RNNShapeError(f"{op}: Expected {name} size {tuple(expect)}, got {_shape(t)}")
    if t.dtype != dtype:
        raise TypeError(f"{op}: {name} has dtype {_dtname(t)}, but the input has dtype "
                        f"{str(dtype).replace('dlcore.', '')}")
    if t.device != device:
        raise RuntimeError(f"{op}: {name} is on {t.device}, but the input is on {device}")


def _dropout_masks(L, D, T, N, H, p, dtype, device):
    from ._creation import rand
    keep = 1.0 - p
    masks = []
    for _ in range(L - 1):
        if keep <= 0.0:
            masks.append(_C.zeros([T, N, D * H], dtype, device))
            continue
        m = _C.to(_C.lt(rand(T, N, D * H, dtype=dtype, device=device), keep), dtype, None, False)
        masks.append(_C.mul(m, 1.0 / keep))
    return masks



def _split_hx(op, mode, hx):
    """(h0, c0) from the hx argument: LSTM takes a (h_0, c_0) pair, the others one tensor (c0 None)."""
    if mode != "lstm":
        return hx, None
    if hx is None:
        return None, None
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        raise TypeError(f"{op}: hx must be a tuple (h_0, c_0)")
    return hx[0], hx[1]


def _sequence(op, mode, input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
    if not isinstance(input, _Tensor):
        raise TypeError(f"{op}: input must be a Tensor, not {type(input).__name__}")
    if not input.dtype.is_floating_point or str(input.dtype) not in ("dlcore.float32", "dlcore.float64"):
        raise TypeError(f"{op}: expected a float32 or float64 input, got {_dtname(input)}")
    if input.dim() not in (2, 3):
        raise RNNShapeError(f"{op}: input must have 3 dimensions ([T, N, I], or [N, T, I] with batch_first) or 2 if "
                            f"unbatched, got shape {_shape(input)}")
    L, D = int(num_layers), 2 if bidirectional else 1
    if L < 1:
        raise ValueError(f"{op}: num_layers must be at least 1, got {num_layers}")
    if not (0.0 <= float(dropout) <= 1.0):
        raise ValueError(f"{op}: dropout must be in [0, 1], got {dropout}")
    per = 4 if has_biases else 2
    params = list(params)
    if len(params) < 2:
        raise RNNShapeError(f"{op}: expected at least the two weights of layer 0, got {len(params)} parameters")
    H = params[1].shape[-1] if isinstance(params[1], _Tensor) and params[1].dim() == 2 else -1
    unbatched = input.dim() == 2
    from ._ops import unsqueeze, squeeze
    if unbatched:
        input = unsqueeze(input, 1)
        batch_first_eff = False
    else:
        batch_first_eff = bool(batch_first)
    T, N = (input.shape[1], input.shape[0]) if batch_first_eff else (input.shape[0], input.shape[1])
    I = input.shape[2]
    if T == 0:
        raise RNNShapeError(f"{op}: input of shape {_shape(input)} has an empty sequence dimension (expected sequence "
                            "length to be larger than 0)")
    _check_params(op, mode, params, L, D, per, params[0].shape[-1] if params[0].dim() == 2 else I, H,
                  input.dtype, input.device)
    if I != params[0].shape[1]:
        raise RNNShapeError(f"{op}: input.size(-1) must be equal to input_size. Expected {params[0].shape[1]}, "
                            f"got {I}")
    state_shape = [L * D, N, H]
    h0, c0 = _split_hx(op, mode, hx)
    if unbatched:
        if h0 is not None:
            _check_state(op, "hidden[0]" if mode == "lstm" else "hidden", h0, [L * D, H], input.dtype, input.device)
            h0 = unsqueeze(h0, 1)
        if c0 is not None:
            _check_state(op, "hidden[1]", c0, [L * D, H], input.dtype, input.device)
            c0 = unsqueeze(c0, 1)
    else:
        if h0 is not None:
            _check_state(op, "hidden[0]" if mode == "lstm" else "hidden", h0, state_shape, input.dtype, input.device)
        if c0 is not None:
            _check_state(op, "hidden[1]", c0, state_shape, input.dtype, input.device)
    if h0 is None:
        h0 = _C.zeros(state_shape, input.dtype, input.device)
    if mode == "lstm" and c0 is None:
        c0 = _C.zeros(state_shape, input.dtype, input.device)
    if N == 0:  # an empty batch: empty output and states (torch's behaviour); the kernels are not called
        out_shape = [N, T, D * H] if batch_first_eff else [T, N, D * H]
        return _empty_batch([out_shape, state_shape] + ([state_shape] if mode == "lstm" else []), input, h0, c0,
                            params)
    p = float(dropout)
    masks = _dropout_masks(L, D, T, N, H, p, input.dtype, input.device) if (train and p > 0 and L > 1) else None
    cfg = {"mode": mode, "layers": L, "dirs": D, "per": per, "masks": masks, "batch_first": batch_first_eff,
           "cell": False}
    if _needs_grad(input, h0, c0, *params):
        outs = _RNNStack.apply(cfg, input, h0, c0, *params)
    else:
        outs = _RNNStack.forward(_NoCtx(), cfg, input, h0, c0, *params)
    if unbatched:
        outs = tuple(squeeze(o, 1) for o in outs)
    return outs


class _NoCtx:
    """Stand-in ctx for calls without autograd (nothing is kept)."""

    needs_input_grad = ()

    def set_materialize_grads(self, v):
        pass

    def __setattr__(self, k, v):
        pass


# --------------------------------------------------------------------------------------------- sequence functions

def lstm(input, hx, params, has_biases=True, num_layers=1, dropout=0.0, train=False, bidirectional=False,
         batch_first=False):
    """LSTM over a sequence (torch.lstm's signature). input [T, N, I] ([N, T, I] with batch_first; [T, I] unbatched),
    hx = (h_0, c_0) each [L*D, N, H] or None (zeros). Returns (output [T, N, D*H], h_n, c_n)."""
    return _sequence("lstm", "lstm", input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
                     batch_first)


def gru(input, hx, params, has_biases=True, num_layers=1, dropout=0.0, train=False, bidirectional=False,
        batch_first=False):
    """GRU over a sequence (torch.gru's signature). Returns (output, h_n)."""
    return _sequence("gru", "gru", input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
                     batch_first)


def rnn_tanh(input, hx, params, has_biases=True, num_layers=1, dropout=0.0, train=False, bidirectional=False,
             batch_first=False):
    """Elman RNN with tanh over a sequence (torch.rnn_tanh's signature). Returns (output, h_n)."""
    return _sequence("rnn_tanh", "rnn_tanh", input, hx, params, has_biases, num_layers, dropout, train,
                     bidirectional, batch_first)


def rnn_relu(input, hx, params, has_biases=True, num_layers=1, dropout=0.0, train=False, bidirectional=False,
             batch_first=False):
    """Elman RNN with relu over a sequence (torch.rnn_relu's signature). Returns (output, h_n)."""
    return _sequence("rnn_relu", "rnn_relu", input, hx, params, has_biases, num_layers, dropout, train,
                     bidirectional, batch_first)


# --------------------------------------------------------------------------------------------- packed sequences

def _segments(bs):
    """Runs of equal batch size in batch_sizes: [(t0, t1, b)], and the packed row offset of every step."""
    segs, offsets, o, t0 = [], [], 0, 0
    for t, b in enumerate(bs):
        offsets.append(o)
        o += b
        if t + 1 == len(bs) or bs[t + 1] != b:
            segs.append((t0, t + 1, b))
            t0 = t + 1
    offsets.append(o)
    return segs, offsets


def _reverse_rows(segs, offsets):
    """The packed-row permutation that reverses time inside every segment (an involution)."""
    import numpy as np
    rows = np.arange(offsets[-1], dtype=np.int64)
    for t0, t1, b in segs:
        blk = rows[offsets[t0]:offsets[t1]].reshape(t1 - t0, b)
        rows[offsets[t0]:offsets[t1]] = blk[::-1].reshape(-1).copy()
    return _C.from_numpy(rows)


def _one_direction(mode, x, h0, c0, lp):
    """One layer, one direction, over x [T, b, I] from h0 (c0) [1, b, H]: the fused kernel through _RNNStack, so
    gradients reach x, h0, c0 and the parameters. Returns (y [T, b, H], h_n, c_n | None)."""
    cfg = {"mode": mode, "layers": 1, "dirs": 1, "per": len(lp), "masks": None, "batch_first": False,
           "cell": False}
    if _needs_grad(x, h0, c0, *lp):
        outs = _RNNStack.apply(cfg, x, h0, c0, *lp)
    else:
        outs = _RNNStack.forward(_NoCtx(), cfg, x, h0, c0, *lp)
    return outs[0], outs[1], (outs[2] if mode == "lstm" else None)


def _packed_layer(mode, X, h0, c0, lp, segs, offsets, reverse, rev_rows):
    """One direction of one layer over packed rows X [S, I] (batch sorted by length, descending): one kernel call
    per run of equal batch size. Forward: segments in time order, the state carried over and cut to the sequences
    still active (the rows that end at a boundary keep their state for h_n). Reverse: segments from the last one,
    time reversed inside each (rev_rows), sequences joining at a boundary start from their rows of h0.
    Returns (Y [S, H] in packed order, h_n [1, B, H], c_n | None)."""
    from ._indexing import cat, index_select
    from ._ops import narrow, reshape
    I = X.shape[1]
    H = h0.shape[2]
    lstm = mode == "lstm"
    Xs = index_select(X, 0, rev_rows) if reverse else X
    ys = [None] * len(segs)
    if not reverse:
        h, c = h0, c0
        done_h, done_c = [], []
        for k, (t0, t1, b) in enumerate(segs):
            n = h.shape[1]
            if n > b:  # sequences n-1 .. b ended with the previous segment
                done_h.append(narrow(h, 1, b, n - b))
                h = narrow(h, 1, 0, b)
                if lstm:
                    done_c.append(narrow(c, 1, b, n - b))
                    c = narrow(c, 1, 0, b)
            xs = reshape(narrow(Xs, 0, offsets[t0], offsets[t1] - offsets[t0]), [t1 - t0, b, I])
            y, h, c = _one_direction(mode, xs, h, c, lp)
            ys[k] = reshape(y, [(t1 - t0) * b, H])
        hn = cat([h] + done_h[::-1], 1) if done_h else h
        cn = (cat([c] + done_c[::-1], 1) if done_c else c) if lstm else None
    else:
        h = c = None
        for k in range(len(segs) - 1, -1, -1):
            t0, t1, b = segs[k]
            n = 0 if h is None else h.shape[1]
            if n < b:  # sequences n .. b-1 start here (at their last step) from their initial state
                h = narrow(h0, 1, 0, b) if h is None else cat([h, narrow(h0, 1, n, b - n)], 1)
                if lstm:
                    c = narrow(c0, 1, 0, b) if c is None else cat([c, narrow(c0, 1, n, b - n)], 1)
            xs = reshape(narrow(Xs, 0, offsets[t0], offsets[t1] - offsets[t0]), [t1 - t0, b, I])
            y, h, c = _one_direction(mode, xs, h, c, lp)
            ys[k] = reshape(y, [(t1 - t0) * b, H])
        hn, cn = h, c
    Y = cat(ys, 0) if len(ys) > 1 else ys[0]
    if reverse:
        Y = index_select(Y, 0, rev_rows)
    return Y, hn, cn


def _batch_sizes_list(op, batch_sizes, S):
    import numpy as np
    if isinstance(batch_sizes, _Tensor):
        if batch_sizes.dim() != 1:
            raise RNNShapeError(f"{op}: batch_sizes must be 1-D, got shape {_shape(batch_sizes)}")
        bs = np.asarray(_C.to(batch_sizes, None, "cpu", False)._raw_numpy()).astype(np.int64)
    else:
        bs = np.asarray(batch_sizes, dtype=np.int64).reshape(-1)
    if bs.size == 0 or (bs <= 0).any() or (np.diff(bs) > 0).any():
        raise RNNShapeError(f"{op}: batch_sizes {bs.tolist()} must be positive and non-increasing (a PackedSequence "
                            "from pack_padded_sequence or pack_sequence)")
    if int(bs.sum()) != S:
        raise RNNShapeError(f"{op}: batch_sizes sum to {int(bs.sum())}, but the packed data has {S} rows")
    return [int(b) for b in bs]


def packed_sequence(mode, data, batch_sizes, hx, params, has_biases=True, num_layers=1, dropout=0.0, train=False,
                    bidirectional=False, sorted_indices=None, unsorted_indices=None):
    """A recurrent stack over a packed batch (what torch.lstm(data, batch_sizes, ...) computes, plus torch.nn's
    hidden-state permutation). mode: lstm | gru | rnn_tanh | rnn_relu. data [S, I] rows of a PackedSequence,
    batch_sizes its CPU int64 batch sizes; hx (h_0, c_0) for lstm, h_0 otherwise, [L*D, B, H] in the caller's
    batch order (permuted here by sorted_indices), or None for zeros. Returns (output data [S, D*H], h_n[, c_n]) with
    h_n/c_n taken at each sequence's own last step (first step for the reverse direction) and permuted back by
    unsorted_indices. Kernel calls per layer and direction: the number of distinct lengths."""
    op = {"lstm": "LSTM", "gru": "GRU", "rnn_tanh": "RNN", "rnn_relu": "RNN"}[mode]
    from ._indexing import cat, index_select
    from ._ops import narrow, reshape
    if not isinstance(data, _Tensor):
        raise TypeError(f"{op}: packed data must be a Tensor, not {type(data).__name__}")
    if str(data.dtype) not in ("dlcore.float32", "dlcore.float64"):
        raise TypeError(f"{op}: expected a float32 or float64 input, got {_dtname(data)}")
    if data.dim() != 2:
        raise RNNShapeError(f"{op}: packed input data must have 2 dimensions [sum(lengths), input_size], got shape "
                            f"{_shape(data)}")
    bs = _batch_sizes_list(op, batch_sizes, data.shape[0])
    L, D = int(num_layers), 2 if bidirectional else 1
    per = 4 if has_biases else 2
    params = list(params)
    if len(params) < 2:
        raise RNNShapeError(f"{op}: expected at least the two weights of layer 0, got {len(params)} parameters")
    H = params[1].shape[-1] if isinstance(params[1], _Tensor) and params[1].dim() == 2 else -1
    I = data.shape[1]
    _check_params(op, mode, params, L, D, per, params[0].shape[-1] if params[0].dim() == 2 else I, H, data.dtype,
                  data.device)
    if I != params[0].shape[1]:
        raise RNNShapeError(f"{op}: input.size(-1) must be equal to input_size. Expected {params[0].shape[1]}, "
                            f"got {I}")
    B = bs[0]
    state_shape = [L * D, B, H]
    h0, c0 = _split_hx(op, mode, hx)
    if h0 is not None:
        _check_state(op, "hidden[0]" if mode == "lstm" else "hidden", h0, state_shape, data.dtype, data.device)
    if c0 is not None:
        _check_state(op, "hidden[1]", c0, state_shape, data.dtype, data.device)
    if sorted_indices is not None:  # the caller's batch order -> the packed (sorted) order
        h0 = None if h0 is None else index_select(h0, 1, sorted_indices)
        c0 = None if c0 is None else index_select(c0, 1, sorted_indices)
    if h0 is None:
        h0 = _C.zeros(state_shape, data.dtype, data.device)
    if mode == "lstm" and c0 is None:
        c0 = _C.zeros(state_shape, data.dtype, data.device)
    p = float(dropout)
    if not (0.0 <= p <= 1.0):
        raise ValueError(f"{op}: dropout must be in [0, 1], got {dropout}")
    drop = train and p > 0 and L > 1
    segs, offsets = _segments(bs)
    T = len(bs)
    if len(segs) == 1:
        # every sequence has the same length: the packed rows are the [T, B, I] batch, one call for the stack
        masks = _dropout_masks(L, D, T, B, H, p, data.dtype, data.device) if drop else None
        cfg = {"mode": mode, "layers": L, "dirs": D, "per": per, "masks": masks, "batch_first": False,
               "cell": False}
        x3 = reshape(data, [T, B, I])
        if _needs_grad(data, h0, c0, *params):
            outs = _RNNStack.apply(cfg, x3, h0, c0, *params)
        else:
            outs = _RNNStack.forward(_NoCtx(), cfg, x3, h0, c0, *params)
        out, hn = reshape(outs[0], [T * B, D * H]), outs[1]
        cn = outs[2] if mode == "lstm" else None
    else:
        rev_rows = _reverse_rows(segs, offsets) if D == 2 else None
        if rev_rows is not None and data.device.type != "cpu":
            rev_rows = _C.to(rev_rows, None, data.device, False)
        X = data
        hns, cns = [], []
        for layer in range(L):
            outs_l = []
            for d in range(D):
                k = layer * D + d
                lp = params[k * per:(k + 1) * per]
                Y, hn_k, cn_k = _packed_layer(mode, X, narrow(h0, 0, k, 1),
                                              narrow(c0, 0, k, 1) if mode == "lstm" else None, lp, segs, offsets,
                                              d == 1, rev_rows)
                outs_l.append(Y)
                hns.append(hn_k)
                cns.append(cn_k)
            X = cat(outs_l, 1) if D == 2 else outs_l[0]
            if drop and layer + 1 < L:
                mask = _dropout_masks(2, D, X.shape[0], 1, H, p, data.dtype, data.device)[0]
                X = X * reshape(mask, [X.shape[0], D * H])
        out = X
        hn = cat(hns, 0) if len(hns) > 1 else hns[0]
        cn = (cat(cns, 0) if len(cns) > 1 else cns[0]) if mode == "lstm" else None
    if unsorted_indices is not None:  # back to the caller's batch order
        hn = index_select(hn, 1, unsorted_indices)
        cn = None if cn is None else index_select(cn, 1, unsorted_indices)
    return (out, hn, cn) if mode == "lstm" else (out, hn)


# --------------------------------------------------------------------------------------------- cells

def _cell(op, mode, input, hx, w_ih, w_hh, b_ih, b_hh):
    if not isinstance(input, _Tensor):
        raise TypeError(f"{op}: input must be a Tensor, not {type(input).__name__}")
    if str(input.dtype) not in ("dlcore.float32", "dlcore.float64"):
        raise TypeError(f"{op}: expected a float32 or float64 input, got {_dtname(input)}")
    if input.dim() not in (1, 2):
        raise RNNShapeError(f"{op}: Expected input to be 1D or 2D, got {input.dim()}D instead (shape "
                            f"{_shape(input)})")
    for name, w in (("weight_ih", w_ih), ("weight_hh", w_hh)):
        if not isinstance(w, _Tensor) or w.dim() != 2:
            raise RNNShapeError(f"{op}: {name} must be a 2-D Tensor")
    H = w_hh.shape[1]
    has_bias = b_ih is not None or b_hh is not None
    if has_bias and (b_ih is None or b_hh is None):
        raise ValueError(f"{op}: pass both b_ih and b_hh, or neither")
    params = [w_ih, w_hh] + ([b_ih, b_hh] if has_bias else [])
    unbatched = input.dim() == 1
    x = input
    from ._ops import unsqueeze, squeeze
    if unbatched:
        x = unsqueeze(x, 0)
    N, I = x.shape
    _check_params(op, mode, params, 1, 1, len(params), w_ih.shape[1], H, x.dtype, x.device)
    if I != w_ih.shape[1]:
        raise RNNShapeError(f"{op}: input has inconsistent input_size: got {I} expected {w_ih.shape[1]}")
    if mode == "lstm":
        if hx is None:
            h0 = c0 = None
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{op}: hx must be a tuple (h, c)")
            h0, c0 = hx
    else:
        h0, c0 = hx, None
    sshape = [H] if unbatched else [N, H]
    if h0 is not None:
        _check_state(op, "hx" if mode != "lstm" else "hx[0]", h0, sshape, x.dtype, x.device)
        if unbatched:
            h0 = unsqueeze(h0, 0)
    else:
        h0 = _C.zeros([N, H], x.dtype, x.device)
    if mode == "lstm":
        if c0 is not None:
            _check_state(op, "hx[1]", c0, sshape, x.dtype, x.device)
            if unbatched:
                c0 = unsqueeze(c0, 0)
        else:
            c0 = _C.zeros([N, H], x.dtype, x.device)
    if N == 0:  # an empty batch: empty states (torch's behaviour); the kernels are not called
        outs = _empty_batch([[0, H]] * (2 if mode == "lstm" else 1), x, h0, c0, params)
        return outs if mode == "lstm" else outs[0]
    cfg = {"mode": mode, "layers": 1, "dirs": 1, "per": len(params), "masks": None, "batch_first": False,
           "cell": True}
    if _needs_grad(x, h0, c0, *params):
        outs = _RNNStack.apply(cfg, x, h0, c0, *params)
    else:
        outs = _RNNStack.forward(_NoCtx(), cfg, x, h0, c0, *params)
    if unbatched:
        outs = tuple(squeeze(o, 0) for o in outs)
    return outs if mode == "lstm" else outs[0]


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step: input [N, I] (or [I]), hx = (h, c) each [N, H] or None. Returns (h', c')."""
    return _cell("lstm_cell", "lstm", input, hx, w_ih, w_hh, b_ih, b_hh)


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step: input [N, I] (or [I]), hx [N, H] or None. Returns h'."""
    return _cell("gru_cell", "gru", input, hx, w_ih, w_hh, b_ih, b_hh)


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman RNN step with tanh. Returns h'."""
    return _cell("rnn_tanh_cell", "rnn_tanh", input, hx, w_ih, w_hh, b_ih, b_hh)


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman RNN step with relu. Returns h'."""
    return _cell("rnn_relu_cell", "rnn_relu", input, hx, w_ih, w_hh, b_ih, b_hh)
