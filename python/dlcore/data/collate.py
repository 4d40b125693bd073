"""Collation, as torch.utils.data._utils.collate: default_collate (a list of samples -> one batch) and
default_convert (one sample -> tensors, used when automatic batching is off).

Type mapping (the same as torch's):
  Tensor -> stacked Tensor (batch dimension first); NumPy array -> Tensor (dtype kept); NumPy scalar -> Tensor;
  float -> float64 Tensor; int -> int64 Tensor; bool -> bool Tensor; str/bytes -> list, unchanged;
  Mapping -> same mapping of collated values; namedtuple -> namedtuple of collated fields;
  tuple -> *list* of collated columns (torch's backward-compatible choice); other sequences -> same type.
dlcore has no uint16/uint32/uint64 tensors: integer arrays of those dtypes become int64 tensors."""
from __future__ import annotations

import collections.abc
import copy
import re

import numpy as np

from .. import _C

_np_str_obj_array_pattern = re.compile(r"[SaUO]")

default_collate_err_msg_format = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
)

_DLCORE_NP_DTYPES = {np.dtype(t) for t in (np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64, np.float16,
                                            np.float32, np.float64)}


def _array_to_tensor(a, who="default_collate"):
    """A NumPy array (or scalar) as a dlcore CPU tensor with the same dtype (like torch.as_tensor)."""
    a = np.asarray(a)
    if a.dtype not in _DLCORE_NP_DTYPES:
        if a.dtype.kind in "iu":
            a = a.astype(np.int64)
        elif _np_str_obj_array_pattern.search(a.dtype.str) is not None:
            raise TypeError(default_collate_err_msg_format.format(a.dtype))
        else:
            raise TypeError(f"{who}: NumPy dtype {a.dtype} has no dlcore tensor dtype (dlcore has bool, uint8, "
                            "int8, int16, int32, int64, float16, float32, float64)")
    if not a.flags.c_contiguous:  # (np.ascontiguousarray would turn a 0-d array into 1-d)
        a = a.copy(order="C")
    return _C.from_numpy(a)


def _is_tensor(x):
    return isinstance(x, _C.Tensor)


def collate_tensor_fn(batch, *, collate_fn_map=None):
    elem = batch[0]
    shape = tuple(elem.shape)
    for i, b in enumerate(batch):
        if tuple(b.shape) != shape:
            raise RuntimeError(f"default_collate: stack expects each tensor to be equal size, but got {list(shape)} "
                               f"at entry 0 and {list(b.shape)} at entry {i}")
    from .. import stack
    return stack(list(batch), 0)


def collate_numpy_array_fn(batch, *, collate_fn_map=None):
    elem = batch[0]
    if _np_str_obj_array_pattern.search(elem.dtype.str) is not None:
        raise TypeError(default_collate_err_msg_format.format(elem.dtype))
    shape = elem.shape
    for i, b in enumerate(batch):
        if b.shape != shape:
            raise RuntimeError(f"default_collate: stack expects each array to be equal size, but got {list(shape)} "
                               f"at entry 0 and {list(b.shape)} at entry {i}")
    return _array_to_tensor(np.stack(batch))  # one copy, then one tensor (torch: as_tensor each, then stack)


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None):
    return _array_to_tensor(np.asarray(batch))


def collate_float_fn(batch, *, collate_fn_map=None):
    return _C.from_numpy(np.asarray(batch, dtype=np.float64))


def collate_int_fn(batch, *, collate_fn_map=None):
    """An int (or bool) first element: torch.tensor(batch)'s inference over every element (a later float makes the
    batch float32, not truncated ints; bools alone stay bool)."""
    if all(isinstance(b, bool) for b in batch):
        return _C.from_numpy(np.asarray(batch, dtype=np.bool_))
    if all(isinstance(b, int) for b in batch):
        return _C.from_numpy(np.asarray(batch, dtype=np.int64))
    from .._creation import tensor
    return tensor(list(batch))


def collate_str_fn(batch, *, collate_fn_map=None):
    return batch


default_collate_fn_map = {
    _C.Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def collate(batch, *, collate_fn_map=None):
    """General collate: dispatches on the type of batch[0] through collate_fn_map (type -> fn(batch, *,
    collate_fn_map)), recursing into mappings, namedtuples and sequences, like torch's collate."""
    if len(batch) == 0:
        raise ValueError("default_collate: the batch is empty")
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for collate_type in collate_fn_map:
            if isinstance(elem, collate_type):
                return collate_fn_map[collate_type](batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)
                clone.update({key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map) for key in elem})
                return clone
            return elem_type({key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map) for key in elem})
        except TypeError:
            return {key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(collate(samples, collate_fn_map=collate_fn_map) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        it = iter(batch)
        elem_size = len(next(it))
        if not all(len(e) == elem_size for e in it):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch))
        if isinstance(elem, tuple):
            return [collate(samples, collate_fn_map=collate_fn_map) for samples in transposed]
        try:
            if isinstance(elem, collections.abc.MutableSequence):
                clone = copy.copy(elem)
                for i, samples in enumerate(transposed):
                    clone[i] = collate(samples, collate_fn_map=collate_fn_map)
                return clone
            return elem_type([collate(samples, collate_fn_map=collate_fn_map) for samples in transposed])
        except TypeError:
            return [collate(samples, collate_fn_map=collate_fn_map) for samples in transposed]
    raise TypeError(default_collate_err_msg_format.format(elem_type))


def default_collate(batch):
    """Puts each data field of a list of samples into a tensor with a leading batch dimension (see the module
    docstring for the type mapping). default_collate([(x0, y0), (x1, y1)]) == [stack([x0, x1]), tensor([y0, y1])]."""
    return collate(batch, collate_fn_map=default_collate_fn_map)


def default_convert(data):
    """Converts NumPy arrays/scalars inside one sample to tensors (recursing into mappings, namedtuples and
    sequences; tuples become lists, like torch); everything else is returned unchanged."""
    elem_type = type(data)
    if _is_tensor(data):
        return data
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "bytes_", "string_"):
        if isinstance(data, np.ndarray) and _np_str_obj_array_pattern.search(data.dtype.str) is not None:
            return data
        return _array_to_tensor(data, "default_convert")
    if isinstance(data, collections.abc.Mapping):
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = copy.copy(data)
                clone.update({key: default_convert(data[key]) for key in data})
                return clone
            return elem_type({key: default_convert(data[key]) for key in data})
        except TypeError:
            return {key: default_convert(data[key]) for key in data}
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            if isinstance(data, collections.abc.MutableSequence):
                clone = copy.copy(data)
                for i, d in enumerate(data):
                    clone[i] = default_convert(d)
                return clone
            return elem_type([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data

