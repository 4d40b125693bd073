"""Recurrent modules with PyTorch's API and parameter layout: RNN, LSTM, GRU (multi-layer, bidirectional,
batch_first, dropout between layers, optional initial states) and RNNCell, LSTMCell, GRUCell.

Parameters are named like torch's (``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``,
``_reverse`` for the second direction; cells: ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``) with the same
shapes and gate order, so ``state_dict``s move between the two. Initialisation is torch's:
uniform(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) for every parameter.
The computation is dlcore.functional's lstm/gru/rnn_tanh/rnn_relu and the *_cell functions (csrc/ops/recurrent).
RNN, LSTM and GRU also take a PackedSequence (dlcore.nn.utils.rnn) and return one, with h_n/c_n taken at each
sequence's own last step and in the caller's batch order, like torch (_nn_rnn.packed_sequence).
"""
from __future__ import annotations

import math
import numbers
import warnings

from .. import _nn_rnn as _F
from .._creation import empty as _creation_empty
from . import init
from .module import Module
from .parameter import Parameter


def empty(*shape, dtype=None, device=None):
    """The parameters' storage: on device, or on the default device when None (set_default_device, ``with
    dlcore.device(...)``), like torch's modules."""
    if device is None:
        from .._torch_extra2 import get_default_device
        device = get_default_device()
    return _creation_empty(*shape, dtype=dtype, device=device)

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _check_sizes(cls, input_size, hidden_size):
    for name, v in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"{cls}: {name} must be a positive integer, got {v!r}")


class RNNBase(Module):
    """Base of RNN, LSTM and GRU. mode: 'LSTM', 'GRU', 'RNN_TANH' or 'RNN_RELU'."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        cls = type(self).__name__
        _check_sizes(cls, input_size, hidden_size)
        if not isinstance(num_layers, numbers.Integral) or isinstance(num_layers, bool) or num_layers < 1:
            raise ValueError(f"{cls}: num_layers must be a positive integer, got {num_layers!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1:
            raise ValueError(f"{cls}: dropout should be a number in range [0, 1] representing the probability of "
                             f"an element being zeroed, got {dropout!r}")
        if isinstance(proj_size, bool) or not isinstance(proj_size, numbers.Integral) or proj_size < 0:
            raise ValueError(f"{cls}: proj_size should be a non-negative integer, got {proj_size!r}")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if proj_size >= hidden_size:
            raise ValueError(f"{cls}: proj_size has to be smaller than hidden_size (got proj_size={proj_size}, "
                             f"hidden_size={hidden_size})")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}")
        self.mode = mode
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.proj_size = int(proj_size)
        D = 2 if bidirectional else 1
        G = _GATES[mode] * hidden_size
        real_h = self.proj_size or hidden_size  # the state passed on (h_t = W_hr (o * tanh(c)) with projections)
        names = []
        for layer in range(num_layers):
            in_sz = input_size if layer == 0 else real_h * D
            for d in range(D):
                sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
                shapes = [("weight_ih", [G, in_sz]), ("weight_hh", [G, real_h])]
                if bias:
                    shapes += [("bias_ih", [G]), ("bias_hh", [G])]
                if self.proj_size:
                    shapes += [("weight_hr", [self.proj_size, hidden_size])]
                for base, shape in shapes:
                    setattr(self, base + sfx, Parameter(empty(*shape, dtype=dtype, device=device)))
                    names.append(base + sfx)
        self._flat_weights_names = names
        self.reset_parameters()

    @property
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        per = (4 if self.bias else 2) + (1 if self.proj_size else 0)
        w = self._flat_weights
        return [w[i:i + per] for i in range(0, len(w), per)]

    def flatten_parameters(self):
        """No-op (torch compacts cuDNN weights here; dlcore's kernels read the parameters in place)."""

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def _fn(self):
        return {"LSTM": _F.lstm, "GRU": _F.gru, "RNN_TANH": _F.rnn_tanh, "RNN_RELU": _F.rnn_relu}[self.mode]

    def forward(self, input, hx=None):
        from .utils.rnn import PackedSequence
        if self.proj_size:
            from .._nn_lstm_proj import lstm_proj
            return lstm_proj(self, input, hx)
        if isinstance(input, PackedSequence):
            # a packed batch: a PackedSequence out; h_n/c_n at each sequence's own last step, in the caller's order
            data, batch_sizes, sorted_indices, unsorted_indices = input
            out = _F.packed_sequence(self.mode.lower(), data, batch_sizes, hx, self._flat_weights, self.bias,
                                     self.num_layers, self.dropout, self.training, self.bidirectional,
                                     sorted_indices, unsorted_indices)
            packed = PackedSequence(out[0], batch_sizes, sorted_indices, unsorted_indices)
            return (packed, (out[1], out[2])) if self.mode == "LSTM" else (packed, out[1])
        out = self._fn()(input, hx, self._flat_weights, self.bias, self.num_layers, self.dropout, self.training,
                         self.bidirectional, self.batch_first)
        if self.mode == "LSTM":
            return out[0], (out[1], out[2])
        return out[0], out[1]

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act = tanh (default) or relu.

    RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True, batch_first=False, dropout=0.0,
    bidirectional=False). forward(input, h_0=None) -> (output, h_n)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity '{nonlinearity}' (expected 'tanh' or 'relu')")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """LSTM (gates i, f, g, o as in PyTorch). forward(input, (h_0, c_0)=None) -> (output, (h_n, c_n))."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device=device, dtype=dtype)


class GRU(RNNBase):
    """GRU (gates r, z, n; b_hn inside r * (W_hn h + b_hn) as in PyTorch). forward(input, h_0=None) ->
    (output, h_n)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)


class RNNCellBase(Module):
    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        _check_sizes(type(self).__name__, input_size, hidden_size)
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.bias = bool(bias)
        G = num_chunks * hidden_size
        self.weight_ih = Parameter(empty(G, input_size, dtype=dtype, device=device))
        self.weight_hh = Parameter(empty(G, hidden_size, dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(empty(G, dtype=dtype, device=device))
            self.bias_hh = Parameter(empty(G, dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity='{self.nonlinearity}'"
        return s


class RNNCell(RNNCellBase):
    """One Elman RNN step. RNNCell(input_size, hidden_size, bias=True, nonlinearity='tanh');
    forward(input [N, I] or [I], hx=None) -> h'."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity '{nonlinearity}' (expected 'tanh' or 'relu')")
        super().__init__(input_size, hidden_size, bias, 1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        fn = _F.rnn_tanh_cell if self.nonlinearity == "tanh" else _F.rnn_relu_cell
        return fn(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class LSTMCell(RNNCellBase):
    """One LSTM step. forward(input [N, I] or [I], (h, c)=None) -> (h', c')."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        return _F.lstm_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class GRUCell(RNNCellBase):
    """One GRU step. forward(input [N, I] or [I], hx=None) -> h'."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        return _F.gru_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
