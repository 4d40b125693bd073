"""LSTM with projections (nn.LSTM(..., proj_size=P), PyTorch's LSTMP): h_t = W_hr (o_t * tanh(c_t)), so the hidden
state carried to the next step and the next layer has P < H features while the cell state keeps H.

Composed from dlcore's differentiable ops (one GEMM for every step's input projection, then per step the recurrent
GEMM, the gate nonlinearities and the projection GEMM), so autograd, double backward, every device and dtype come
from those ops. The fused recurrent kernels (csrc/ops/recurrent) do not take a projection; this path is therefore
slower than proj_size=0 for long sequences.

Padded and packed inputs share one loop: step t updates the first batch_sizes[t] rows of the state (all N when
padded). Forward in time a row whose sequence has ended keeps its last state; backward in time a row whose
sequence has not started yet still holds its initial state, so both directions are the same update.
"""
from __future__ import annotations

from . import _C
from . import _ops
from ._nn_rnn import RNNShapeError

_Tensor = _C.Tensor


def _rows(t, a, b):
    return _ops.narrow(t, 0, a, b - a)


def _direction(XW, offsets, sizes, h, c, w_hh, w_hr, reverse):
    """One direction of one layer. XW: [S, 4H] input projections (+ biases) of the S = sum(sizes) rows, step t at
    rows offsets[t] .. + sizes[t]; h [N, P], c [N, H] initial states. Returns the per-step outputs (a list, step
    order) and the final h, c."""
    import dlcore as _dl
    T = len(sizes)
    outs = [None] * T
    whh_t, whr_t = _ops.transpose(w_hh, 0, 1), _ops.transpose(w_hr, 0, 1)
    N = h.shape[0]
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        bs, o0 = sizes[t], offsets[t]
        hp = h if bs == N else _rows(h, 0, bs)
        cp = c if bs == N else _rows(c, 0, bs)
        g = _ops.add(_rows(XW, o0, o0 + bs), _ops.matmul(hp, whh_t))
        i, f, gg, o = _dl.chunk(g, 4, 1)
        cn = _ops.add(_ops.mul(_ops.sigmoid(f), cp), _ops.mul(_ops.sigmoid(i), _ops.tanh(gg)))
        hn = _ops.matmul(_ops.mul(_ops.sigmoid(o), _ops.tanh(cn)), whr_t)
        outs[t] = hn
        if bs == N:
            h, c = hn, cn
        else:  # the rows past bs keep their state (ended, or not started yet)
            h = _dl.cat([hn, _rows(h, bs, N)], 0)
            c = _dl.cat([cn, _rows(c, bs, N)], 0)
    return outs, h, c


def lstm_proj(m, input, hx):
    """nn.LSTM.forward for proj_size > 0 (m: the module). input [T, N, I] ([N, T, I] with batch_first), [T, I]
    unbatched, or a PackedSequence; hx (h_0 [L*D, N, P], c_0 [L*D, N, H]) or None."""
    import dlcore as _dl
    from .nn.utils.rnn import PackedSequence
    op = "LSTM"
    L, D, H, P = m.num_layers, 2 if m.bidirectional else 1, m.hidden_size, m.proj_size
    packed = isinstance(input, PackedSequence)
    if packed:
        data, batch_sizes, sorted_indices, unsorted_indices = input
        sizes = [int(b) for b in batch_sizes.tolist()]
        x = data
        N = sizes[0] if sizes else 0
        unbatched = False
    else:
        if not isinstance(input, _Tensor):
            raise TypeError(f"{op}: input must be a Tensor or a PackedSequence, not {type(input).__name__}")
        if input.dim() not in (2, 3):
            raise RNNShapeError(f"{op}: input must have 3 dimensions ([T, N, I], or [N, T, I] with batch_first) "
                                f"or 2 if unbatched, got shape {list(input.shape)}")
        unbatched = input.dim() == 2
        x = _ops.unsqueeze(input, 1) if unbatched else input
        if m.batch_first and not unbatched:
            x = _ops.transpose(x, 0, 1)
        T, N = x.shape[0], x.shape[1]
        if T == 0:
            raise RNNShapeError(f"{op}: input of shape {list(input.shape)} has an empty sequence dimension")
        sizes = [N] * T
        x = _ops.reshape(x, [T * N, x.shape[2]])
        sorted_indices = unsorted_indices = None
    if not x.dtype.is_floating_point:
        raise TypeError(f"{op}: expected a floating-point input, got {x.dtype.name}")
    if m.weight_ih_l0.dtype != x.dtype:
        raise TypeError(f"{op}: input dtype {x.dtype.name} does not match the parameters' dtype "
                        f"{m.weight_ih_l0.dtype.name}")
    if x.shape[-1] != m.input_size:
        raise RNNShapeError(f"{op}: input.size(-1) must be equal to input_size. Expected {m.input_size}, got "
                            f"{x.shape[-1]}")
    offsets, acc = [], 0
    for b in sizes:
        offsets.append(acc)
        acc += b
    # initial states, in the packed batch's (sorted) row order
    if hx is None:
        h0 = _C.zeros([L * D, N, P], x.dtype, x.device)
        c0 = _C.zeros([L * D, N, H], x.dtype, x.device)
    else:
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"{op}: hx must be a tuple (h_0, c_0)")
        h0, c0 = hx
        want_h, want_c = ([L * D, P], [L * D, H]) if unbatched else ([L * D, N, P], [L * D, N, H])
        for name, t, want in (("h_0", h0, want_h), ("c_0", c0, want_c)):
            if not isinstance(t, _Tensor):
                raise TypeError(f"{op}: {name} must be a Tensor, not {type(t).__name__}")
            if list(t.shape) != want:
                raise RNNShapeError(f"{op}: expected {name} of size {want} (proj_size={P}, hidden_size={H}), got "
                                    f"{list(t.shape)}")
            if t.dtype != x.dtype or t.device != x.device:
                raise TypeError(f"{op}: {name} is {t.dtype.name} on {t.device}, input is {x.dtype.name} on "
                                f"{x.device}")
        if unbatched:
            h0, c0 = _ops.unsqueeze(h0, 1), _ops.unsqueeze(c0, 1)
        if sorted_indices is not None:
            h0 = _dl.index_select(h0, 1, sorted_indices)
            c0 = _dl.index_select(c0, 1, sorted_indices)
    hn, cn = [], []
    layer_in = x
    for layer in range(L):
        outs_dirs = []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
            w_ih, w_hh = getattr(m, "weight_ih" + sfx), getattr(m, "weight_hh" + sfx)
            w_hr = getattr(m, "weight_hr" + sfx)
            XW = _ops.matmul(layer_in, _ops.transpose(w_ih, 0, 1))
            if m.bias:
                XW = _ops.add(XW, _ops.add(getattr(m, "bias_ih" + sfx), getattr(m, "bias_hh" + sfx)))
            k = layer * D + d
            outs, h, c = _direction(XW, offsets, sizes, _ops.select(h0, 0, k), _ops.select(c0, 0, k), w_hh, w_hr,
                                    reverse=d == 1)
            outs_dirs.append(_dl.cat(outs, 0))
            hn.append(h)
            cn.append(c)
        layer_out = outs_dirs[0] if D == 1 else _dl.cat(outs_dirs, 1)
        if m.training and m.dropout > 0 and layer < L - 1:
            from ._nn_layers import dropout
            layer_out = dropout(layer_out, m.dropout, True)
        layer_in = layer_out
    h_n, c_n = _dl.stack(hn, 0), _dl.stack(cn, 0)
    if packed:
        if unsorted_indices is not None:
            h_n = _dl.index_select(h_n, 1, unsorted_indices)
            c_n = _dl.index_select(c_n, 1, unsorted_indices)
        return PackedSequence(layer_in, batch_sizes, sorted_indices, unsorted_indices), (h_n, c_n)
    out = _ops.reshape(layer_in, [len(sizes), N, D * P])
    if unbatched:
        return _ops.squeeze(out, 1), (_ops.squeeze(h_n, 1), _ops.squeeze(c_n, 1))
    if m.batch_first:
        out = _ops.transpose(out, 0, 1)
    return out, (h_n, c_n)
