"""Variable-length sequences for the recurrent layers, with torch.nn.utils.rnn's API: PackedSequence,
pack_padded_sequence, pad_packed_sequence, pad_sequence, pack_sequence, unpad_sequence, unpack_sequence.

A PackedSequence holds the time steps of a batch sorted by length (descending): ``data`` [sum(lengths), *] is the
rows of step 0 for every sequence, then the rows of step 1 for the sequences still active, ...;
``batch_sizes`` (an int64 CPU tensor) is the number of sequences active at each step; ``sorted_indices`` (None when
the batch was already sorted) maps the packed batch position to the original one, ``unsorted_indices`` is its inverse.

Every copy here is one differentiable ``index_select`` with row indices computed on the host from the lengths, so
gradients flow back to the padded input (or the sequences) in one gather/scatter-add each way.
dlcore.nn.LSTM / GRU / RNN accept a PackedSequence and return one (python/dlcore/_nn_rnn.py, ``packed_sequence``).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ... import _C
from ..._creation import full
from ..._indexing import cat, index_select
from ..._nn_rnn import RNNShapeError as _SeqError  # a ValueError that is also a RuntimeError (what torch raises)

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence", "pack_sequence",
           "unpad_sequence", "unpack_sequence", "invert_permutation"]

_Tensor = _C.Tensor


def _shape(t):
    return list(t.shape)


def _index(rows, device):
    """An int64 index tensor on device from a NumPy array of row numbers."""
    t = _C.from_numpy(np.ascontiguousarray(rows, dtype=np.int64))
    return t if device.type == "cpu" else _C.to(t, None, device, False)


def _host_ints(t):
    """A 1-D integer tensor's values as a NumPy int64 array (copied to the host)."""
    return np.asarray(_C.to(t, None, "cpu", False)._raw_numpy()).astype(np.int64).reshape(-1)


def invert_permutation(permutation):
    """The inverse of a permutation tensor (None for None), like torch.nn.utils.rnn.invert_permutation."""
    if permutation is None:
        return None
    p = _host_ints(permutation)
    inv = np.empty_like(p)
    inv[p] = np.arange(p.size, dtype=np.int64)
    return _index(inv, permutation.device)


_PackedSequenceBase = namedtuple("PackedSequence_", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])


class PackedSequence(_PackedSequenceBase):
    """PackedSequence(data, batch_sizes, sorted_indices=None, unsorted_indices=None): a packed batch of
    variable-length sequences (see the module docstring). Build it with pack_padded_sequence or pack_sequence."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # PackedSequence((data, batch_sizes)) as torch allows
            if not isinstance(data, (tuple, list)) or len(data) != 2:
                raise TypeError("PackedSequence: expected (data, batch_sizes) or data and batch_sizes")
            data, batch_sizes = data
        if not isinstance(data, _Tensor) or not isinstance(batch_sizes, _Tensor):
            raise TypeError(f"PackedSequence: data and batch_sizes must be Tensors, got {type(data).__name__} and "
                            f"{type(batch_sizes).__name__}")
        if batch_sizes.device.type != "cpu":
            raise ValueError("PackedSequence: batch_sizes should always be on CPU. Instances of PackedSequence should "
                             "never be created manually. They should be instantiated by functions like "
                             "pack_sequence and pack_padded_sequence in nn.utils.rnn.")
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """Moves/casts data (and the index tensors to data's device); batch_sizes stays on the CPU."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        s, u = self.sorted_indices, self.unsorted_indices
        if s is not None and s.device != data.device:
            s, u = s.to(data.device), u.to(data.device)
        return type(self)(data, self.batch_sizes, s, u)

    def cuda(self, *args, **kwargs):
        return self.to("cuda" if not args and "device" not in kwargs else (args[0] if args else kwargs["device"]))

    def cpu(self):
        return self.to("cpu")

    def double(self):
        return self.to(_C.dtype.float64)

    def float(self):
        return self.to(_C.dtype.float32)

    @property
    def is_cuda(self):
        return self.data.device.type == "cuda"


# --------------------------------------------------------------------------------------------- lengths

def _lengths_array(op, lengths):
    """lengths (a list/tuple of ints, a NumPy array or a Tensor on any device) as a 1-D NumPy int64 array."""
    if isinstance(lengths, _Tensor):
        if lengths.dim() != 1:
            raise _SeqError(f"{op}: 'lengths' argument should be a 1D int64 tensor, but got a {lengths.dim()}D "
                             f"tensor of shape {_shape(lengths)}")
        return _host_ints(lengths)
    if hasattr(lengths, "__dlpack__") and hasattr(lengths, "detach"):  # a torch tensor
        lengths = lengths.detach().cpu().numpy()
    try:
        a = np.asarray(lengths)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{op}: lengths must be a list of ints or a 1-D tensor, got {type(lengths).__name__}") from e
    if a.ndim != 1:
        raise _SeqError(f"{op}: 'lengths' argument should be 1-D, but got shape {list(a.shape)}")
    if a.size and not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)
                       or a.dtype == np.bool_):
        raise TypeError(f"{op}: lengths must be integers, got an array of {a.dtype}")
    return a.astype(np.int64)


def _batch_sizes(sorted_lengths):
    """batch_sizes[t] = number of sorted lengths > t."""
    T = int(sorted_lengths[0])
    return (sorted_lengths[None, :] > np.arange(T)[:, None]).sum(axis=1).astype(np.int64)


# --------------------------------------------------------------------------------------------- packing

def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Packs a padded batch input [T, B, *] ([B, T, *] with batch_first) of sequences of the given lengths.
    enforce_sorted=True requires lengths in decreasing order (sorted_indices is then None); otherwise the batch is
    sorted here (stable, descending) and the permutation kept in sorted_indices / unsorted_indices."""
    op = "pack_padded_sequence"
    _check_padded(op, "input", input, _SeqError, " ([T, B, *] or [B, T, *] with batch_first)")
    if input.numel() == 0:
        raise _SeqError(f"{op}: Cannot pack empty tensors (input shape {_shape(input)}).")
    lens = _lengths_array(op, lengths)
    shape = _shape(input)
    B, T = (shape[0], shape[1]) if batch_first else (shape[1], shape[0])
    if lens.size != B:
        raise _SeqError(f"{op}: Expected `len(lengths)` to be equal to batch_size, but got {lens.size} "
                         f"(batch_size={B}, input shape {shape}, batch_first={bool(batch_first)})")
    if (lens <= 0).any():
        raise _SeqError(f"{op}: Length of all samples has to be greater than 0, but found an element in 'lengths' "
                         f"that is <= 0 (lengths {lens.tolist()})")
    if lens.max() > T:
        raise _SeqError(f"{op}: lengths {lens.tolist()} has a length {int(lens.max())} longer than the input's "
                         f"sequence dimension {T} (input shape {shape}, batch_first={bool(batch_first)})")
    if enforce_sorted:
        if (np.diff(lens) > 0).any():
            raise _SeqError(f"{op}: `lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                             f"True (got {lens.tolist()}). You can pass `enforce_sorted=False` to "
                             "pack_padded_sequence and/or pack_sequence to sidestep this requirement.")
        order = np.arange(B, dtype=np.int64)
        sorted_indices = None
    else:
        order = np.argsort(-lens, kind="stable").astype(np.int64)
        sorted_indices = _index(order, input.device)
    slens = lens[order]
    bs = _batch_sizes(slens)
    # packed row r = (step t, sorted position j), t-major: rows of the padded input as [T*B] or [B*T] rows
    tt, jj = np.nonzero(slens[None, :] > np.arange(int(slens[0]))[:, None])
    b = order[jj]
    rows = b * T + tt if batch_first else tt * B + b
    flat = input.reshape([B * T] + shape[2:])
    data = index_select(flat, 0, _index(rows, input.device))
    return PackedSequence(data, _C.from_numpy(bs), sorted_indices, invert_permutation(sorted_indices))


def _packed_parts(op, sequence):
    if not isinstance(sequence, PackedSequence):
        if isinstance(sequence, tuple) and len(sequence) == 4:
            sequence = PackedSequence(*sequence)
        else:
            raise TypeError(f"{op}: expected a PackedSequence, got {type(sequence).__name__}")
    bs = _host_ints(sequence.batch_sizes)
    if bs.size == 0 or (bs <= 0).any() or (np.diff(bs) > 0).any():
        raise _SeqError(f"{op}: batch_sizes {bs.tolist()} must be positive and non-increasing")
    if int(bs.sum()) != sequence.data.shape[0]:
        raise _SeqError(f"{op}: batch_sizes sum to {int(bs.sum())}, but data has {sequence.data.shape[0]} rows "
                         f"(shape {_shape(sequence.data)})")
    return sequence, bs


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Inverse of pack_padded_sequence: returns (padded [T, B, *] ([B, T, *] with batch_first), lengths) with the
    batch in its original order, positions past each length filled with padding_value, T = total_length or the
    longest length. lengths is an int64 CPU tensor."""
    op = "pad_packed_sequence"
    sequence, bs = _packed_parts(op, sequence)
    data = sequence.data
    T, B = bs.size, int(bs[0])
    if total_length is not None:
        import operator
        try:
            total_length = operator.index(total_length)  # an int, as torch requires (not a float)
        except TypeError:
            raise TypeError(f"{op}: total_length must be an int, not {type(total_length).__name__}") from None
        if total_length < T:
            raise ValueError("Expected total_length to be at least the length of the longest sequence in input, but "
                             f"got total_length={total_length} and max sequence length being {T}")
        T_out = int(total_length)
    else:
        T_out = T
    slens = (bs[None, :] > np.arange(B)[:, None]).sum(axis=1)  # sorted position j -> length
    offsets = np.concatenate([[0], np.cumsum(bs)[:-1]])
    S = data.shape[0]
    j_of_b = (_host_ints(sequence.unsorted_indices) if sequence.unsorted_indices is not None
              else np.arange(B, dtype=np.int64))
    t = np.arange(T_out)[:, None]
    rows = np.where(t < slens[j_of_b][None, :], offsets[np.minimum(t, T - 1)] + j_of_b[None, :], S)  # [T_out, B]
    if batch_first:
        rows = rows.T
    rest = _shape(data)[1:]
    ext = cat([data, full([1] + rest, padding_value, dtype=data.dtype, device=data.device)], 0)
    padded = index_select(ext, 0, _index(rows.reshape(-1), data.device)).reshape(list(rows.shape) + rest)
    return padded, _C.from_numpy(np.ascontiguousarray(slens[j_of_b], dtype=np.int64))


def _check_padded(op, name, t, error, layouts=""):
    """t (argument `name` of op) is a Tensor of at least 2 dims (time and batch); else TypeError / error."""
    if not isinstance(t, _Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, not {type(t).__name__}")
    if t.dim() < 2:
        raise error(f"{op}: {name} must have at least 2 dimensions{layouts}, got shape {_shape(t)}")


def _check_sequences(op, sequences):
    if isinstance(sequences, _Tensor):
        sequences = list(sequences)
    sequences = list(sequences)
    if not sequences:
        raise _SeqError(f"{op}: received an empty list of sequences")
    ref = sequences[0]
    for i, s in enumerate(sequences):
        if not isinstance(s, _Tensor):
            raise TypeError(f"{op}: sequence {i} must be a Tensor, not {type(s).__name__}")
        if s.dim() < 1:
            raise ValueError(f"{op}: sequence {i} must have at least 1 dimension (time), got a 0-d tensor")
        if _shape(s)[1:] != _shape(ref)[1:]:
            raise _SeqError(f"{op}: all sequences must have the same trailing dimensions: sequence 0 has shape "
                             f"{_shape(ref)}, sequence {i} has shape {_shape(s)}")
        if s.dtype != ref.dtype:
            raise TypeError(f"{op}: all sequences must have the same dtype: sequence 0 is {ref.dtype}, sequence {i} "
                            f"is {s.dtype}")
        if s.device != ref.device:
            raise RuntimeError(f"{op}: all sequences must be on the same device: sequence 0 is on {ref.device}, "
                               f"sequence {i} is on {s.device}")
    return sequences


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stacks sequences [L_i, *] into [T, B, *] ([B, T, *] with batch_first), T = max L_i, filling with
    padding_value on the right (default) or the left."""
    op = "pad_sequence"
    if padding_side not in ("left", "right"):
        raise _SeqError(f"{op}: Expected padding_side to be one of left or right, but got {padding_side}.")
    sequences = _check_sequences(op, sequences)
    ref = sequences[0]
    lens = np.array([s.shape[0] for s in sequences], dtype=np.int64)
    B, T = len(sequences), int(lens.max())
    rest = _shape(ref)[1:]
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    S = int(lens.sum())
    t = np.arange(T)[:, None]
    lead = (T - lens)[None, :] if padding_side == "left" else np.zeros((1, B), dtype=np.int64)
    k = t - lead  # position inside sequence b of padded step t
    rows = np.where((k >= 0) & (k < lens[None, :]), starts[None, :] + k, S)  # [T, B]
    if batch_first:
        rows = rows.T
    parts = [s for s in sequences if s.shape[0] > 0]
    parts.append(full([1] + rest, padding_value, dtype=ref.dtype, device=ref.device))
    ext = cat(parts, 0) if len(parts) > 1 else parts[0]
    return index_select(ext, 0, _index(rows.reshape(-1), ref.device)).reshape(list(rows.shape) + rest)


def pack_sequence(sequences, enforce_sorted=True):
    """Packs a list of sequences [L_i, *] (sorted by decreasing length unless enforce_sorted=False)."""
    sequences = _check_sequences("pack_sequence", sequences)
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Inverse of pad_sequence: the list of sequences padded_sequences[:lengths[i], i] (batch_first: [i, :len])."""
    op = "unpad_sequence"
    _check_padded(op, "padded_sequences", padded_sequences, ValueError)
    lens = _lengths_array(op, lengths)
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    B, T = x.shape[0], x.shape[1]
    if lens.size != B:
        raise _SeqError(f"{op}: got {lens.size} lengths for a batch of {B} (shape {_shape(padded_sequences)})")
    if (lens < 0).any() or (lens > T).any():
        raise _SeqError(f"{op}: lengths {lens.tolist()} must lie in [0, {T}] (shape {_shape(padded_sequences)})")
    return [x[i, :int(n)] for i, n in enumerate(lens)]


def unpack_sequence(packed_sequences):
    """Inverse of pack_sequence: the list of sequences in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
