"""Checkpoints: dlcore.save(obj, path) / dlcore.load(path) as safetensors files.

A flat ``{name: tensor}`` dict (a module's state_dict) is stored under its own keys, so the file is an ordinary
safetensors checkpoint that PyTorch/HF tooling reads (``safetensors.torch.load_file``), and a state dict saved by
PyTorch with ``safetensors.torch.save_file`` loads here. Nested objects (``{"model": ..., "optimizer": ...}``, lists,
tuples, numbers, strings, None, bools) are stored as their tensors under dotted key paths plus a JSON skeleton of
the structure in the file's metadata (key ``dlcore``; it also keeps a state dict's key order).

torch.save/torch.load semantics kept: a tensor stored in several places loads as one object, requires_grad and
nn.Parameter come back, tensors return to the device they were saved from unless map_location (a device, a
{saved: new} dict or a callable) says otherwise; f is a path or a binary file object. The safetensors package is
used when installed; without it the same file format is written and read here.

Objects that are not tensors, containers or plain values (a whole nn.Module, an optimizer object, a custom class:
torch.save(model)'s use) are pickled instead, into a file that starts with a dlcore pickle marker. Loading such a
file runs code from it, so, as torch.load since PyTorch 2.6, dlcore.load refuses it unless weights_only=False is
passed; the safetensors checkpoints above never run code.

Writes are atomic: the file is written under a temporary name in the same directory, fsynced, then renamed over the
target (``os.replace``), so an interrupted save leaves the previous checkpoint intact.
"""
from __future__ import annotations

import json
import os
from collections import OrderedDict
import pickle
import struct
import tempfile

import numpy as np

from . import _C

Tensor = _C.Tensor

__all__ = ["save", "load"]

_META_KEY = "dlcore"
_FORMAT_VERSION = 1


# ------------------------------------------------------------------------------------------------- save

def _flatten(obj, path, tensors, seen, first=None):
    """The JSON skeleton of obj; its tensors go into `tensors` under dotted key paths. first: {id(tensor): key}
    of the tensors met so far: a tensor met again is still stored under its own key (plain safetensors readers see
    every name) but its node names the first key, so that loading gives one object for both (torch.load keeps
    such identity). A tensor's node also records a non-CPU device ("dev"), requires_grad ("rg") and whether it was
    an nn.Parameter ("param"), which load restores like torch.load."""
    if first is None:
        first = {}
    if isinstance(obj, Tensor):
        key = path or "tensor"
        if key in tensors:
            raise ValueError(f"dlcore.save: two entries map to the key '{key}'")
        tensors[key] = obj
        node = {"__T": first.setdefault(id(obj), key)}
        if obj.device.type != "cpu":
            node["dev"] = str(obj.device)
        if obj.requires_grad:
            node["rg"] = True
        if getattr(type(obj), "_is_param", False):
            node["param"] = True
        return node
    if isinstance(obj, np.ndarray):
        from ._creation import as_tensor
        return _flatten(as_tensor(obj), path, tensors, seen, first)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    if isinstance(obj, (_C.dtype,)):
        return {"__dtype": obj.name}
    if isinstance(obj, dict):
        if id(obj) in seen:
            raise ValueError(f"dlcore.save: the object at '{path}' contains itself")
        seen.add(id(obj))
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                raise _NotFlat(f"dlcore.save: dict keys must be str, int, float, bool or None; got "
                                f"{type(k).__name__} at '{path}'")
            items.append([k, _flatten(v, f"{path}.{k}" if path else str(k), tensors, seen, first)])
        seen.discard(id(obj))
        # an OrderedDict (what state_dict() returns) loads back as one, as with torch.load
        return {"__d": items, "od": 1} if isinstance(obj, OrderedDict) else {"__d": items}
    if isinstance(obj, (list, tuple)):
        if id(obj) in seen:
            raise ValueError(f"dlcore.save: the object at '{path}' contains itself")
        seen.add(id(obj))
        vals = [_flatten(v, f"{path}.{i}" if path else str(i), tensors, seen, first) for i, v in enumerate(obj)]
        seen.discard(id(obj))
        return {"__t": vals} if isinstance(obj, tuple) else {"__l": vals}
    raise _NotFlat(f"dlcore.save: can't store an object of type {type(obj).__name__} (at '{path or '<root>'}') in "
                   "a safetensors checkpoint, which holds tensors, dicts, lists, tuples, numbers, strings, bools and "
                   "None")


def _to_numpy(t, key, dtypes):
    t = _C.to(t, None, "cpu", False) if t.device.type != "cpu" else t
    if t.dtype == _C.dtype.bfloat16:
        # NumPy has no bfloat16: store the raw 16-bit pattern (the top half of the float32 bits) as BF16.
        f = np.require(_C.to(t, _C.dtype.float32, None, False)._raw_numpy(), requirements="C")
        dtypes[key] = "BF16"
        # (np.asarray: for a 0-d tensor the shift gives a NumPy scalar, which safetensors can't write)
        return np.asarray((f.view(np.uint32) >> 16).astype(np.uint16))
    return np.require(t._raw_numpy(), requirements="C")


_NP_TO_ST = {np.dtype(np.bool_): "BOOL", np.dtype(np.uint8): "U8", np.dtype(np.int8): "I8", np.dtype(np.int16): "I16",
             np.dtype(np.int32): "I32", np.dtype(np.int64): "I64", np.dtype(np.float16): "F16",
             np.dtype(np.float32): "F32", np.dtype(np.float64): "F64", np.dtype(np.uint16): "U16",
             np.dtype(np.uint32): "U32", np.dtype(np.uint64): "U64"}


def _st_save(arrays, meta):
    """The bytes of a safetensors file holding arrays (name -> C-contiguous array) and the str metadata: the
    safetensors package's writer when it is installed, else the format written here (an 8-byte little-endian
    header size, the JSON header padded with spaces to a multiple of 8, then the little-endian data of each tensor
    in turn; tensors ordered by decreasing alignment, then name, as safetensors does)."""
    try:
        from safetensors.numpy import save as st_save
    except ImportError:
        st_save = None
    if st_save is not None:
        return st_save(arrays, metadata=meta)
    order = sorted(arrays, key=lambda k: (-arrays[k].dtype.itemsize, k))
    header = {"__metadata__": dict(meta)} if meta else {}
    offset = 0
    chunks = []
    for k in order:
        a = np.require(arrays[k], requirements="C")  # (not ascontiguousarray: it makes 0-d arrays 1-d)
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        b = a.tobytes()
        header[k] = {"dtype": _NP_TO_ST[np.dtype(a.dtype.newbyteorder("="))], "shape": list(a.shape),
                     "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        chunks.append(b)
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    return struct.pack("<Q", len(hb)) + hb + b"".join(chunks)


class _NotFlat(TypeError):
    """An object the safetensors checkpoint cannot hold (save() pickles the whole object instead)."""


# The first bytes of a pickled checkpoint (a safetensors file starts with its 8-byte little-endian header size,
# which these bytes can never be: they would claim a header of ~5e18 bytes).
_PICKLE_MAGIC = b"DLCOREPICKLE\n"


def save(obj, f, *, metadata=None, **kwargs):
    """Saves obj (a state dict, or nested dicts/lists of tensors and simple values) to the safetensors file f;
    any other object (a whole model: torch.save(model)) is pickled, and dlcore.load reads it back only with
    weights_only=False.

    metadata: optional {str: str} added to the safetensors header. Extra keyword arguments of torch.save
    (pickle_module, _use_new_zipfile_serialization, ...) are accepted and ignored."""
    tensors = {}
    try:
        skeleton = _flatten(obj, "", tensors, set(), {})
    except _NotFlat:
        if metadata:
            raise ValueError("dlcore.save: metadata= is stored in safetensors checkpoints only, and this object "
                             "needs a pickled one (it holds objects other than tensors and containers)") from None
        data = _PICKLE_MAGIC + pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        if hasattr(f, "write"):
            f.write(data)
        else:
            _atomic_write(os.fspath(f), data)
        return
    if "__metadata__" in tensors:
        raise ValueError("dlcore.save: the key '__metadata__' is reserved by the safetensors format (it names the "
                         "file's metadata); rename that entry")
    dtypes = {}
    arrays = {k: _to_numpy(t, k, dtypes) for k, t in tensors.items()}
    meta = {"format": "pt"}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("dlcore.save: metadata must be a dict of str to str")
            meta[k] = v
    meta[_META_KEY] = json.dumps({"version": _FORMAT_VERSION, "skeleton": skeleton}, allow_nan=True)
    data = _st_save(arrays, meta)
    if dtypes:
        data = _patch_dtypes(data, dtypes)
    if hasattr(f, "write"):
        f.write(data)
        return
    _atomic_write(os.fspath(f), data)


def _patch_dtypes(data, dtypes):
    """Marks the given tensors as BF16 in the header (they were written as their uint16 bit patterns)."""
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    for k, dt in dtypes.items():
        header[k]["dtype"] = dt
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    return struct.pack("<Q", len(hb)) + hb + data[8 + n:]


def _atomic_write(path, data):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename durable
        dfd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


# ------------------------------------------------------------------------------------------------- load

_ST_DTYPES = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "I32": np.int32, "I64": np.int64,
              "F16": np.float16, "F32": np.float32, "F64": np.float64, "BF16": np.uint16, "U16": np.uint16,
              "U32": np.uint32, "U64": np.uint64}


class CheckpointError(RuntimeError):
    """A file that is not a readable safetensors checkpoint (corrupt, truncated or of another format)."""


def _read_header(data, path):
    if len(data) < 8:
        raise CheckpointError(f"dlcore.load: '{path}' is not a safetensors file: it has only {len(data)} bytes "
                              "(truncated or empty)")
    n = struct.unpack("<Q", data[:8])[0]
    # (a torch.save file starts with "PK" (zip) or 0x80 (pickle); so may a valid safetensors file, whose first
    # bytes are its header size: the format is named only when the file does not read as safetensors)
    torch_file = data[:2] == b"PK" or data[:1] == b"\x80"
    torch_msg = (f"dlcore.load: '{path}' looks like a PyTorch pickle/zip file (torch.save); dlcore reads "
                 "safetensors files: convert it with safetensors.torch.save_file(state_dict, path)")
    if n > len(data) - 8 or n > 100_000_000:
        if torch_file:
            raise CheckpointError(torch_msg)
        raise CheckpointError(f"dlcore.load: '{path}' is not a valid safetensors file: its header claims "
                              f"{n} bytes but the file has {len(data)} (truncated or corrupt)")
    try:
        header = json.loads(bytes(data[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        if torch_file:
            raise CheckpointError(torch_msg) from None
        raise CheckpointError(f"dlcore.load: '{path}' is not a valid safetensors file: the header is not JSON "
                              f"({e})") from None
    if not isinstance(header, dict):
        if torch_file:
            raise CheckpointError(torch_msg)
        raise CheckpointError(f"dlcore.load: '{path}' is not a valid safetensors file: bad header")
    body = len(data) - 8 - n
    for k, info in header.items():
        if k == "__metadata__":
            continue
        try:
            dt = info["dtype"]
            shape = [int(s) for s in info["shape"]]
            lo, hi = (int(x) for x in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"dlcore.load: '{path}': the header entry for '{k}' is malformed") from None
        if dt not in _ST_DTYPES:
            raise CheckpointError(f"dlcore.load: '{path}': tensor '{k}' has dtype {dt}, which dlcore can't read")
        need = int(np.prod(shape, dtype=np.int64)) * np.dtype(_ST_DTYPES[dt]).itemsize
        if not (0 <= lo <= hi <= body) or hi - lo != need:
            raise CheckpointError(f"dlcore.load: '{path}': tensor '{k}' (shape {shape}, {dt}) lies outside the "
                                  f"file or has the wrong size (truncated or corrupt file)")
    return n, header


def _tensor_from(arr, dt, device):
    from ._creation import from_numpy
    if dt == "BF16":
        f = np.asarray(np.asarray(arr).astype(np.uint32) << 16).view(np.float32)  # (asarray: 0-d stays 0-d)
        t = _C.to(from_numpy(np.require(f, requirements="C")), _C.dtype.bfloat16, None, False)
    elif arr.dtype in (np.uint16, np.uint32, np.uint64):
        t = from_numpy(arr.astype(np.int64))
    else:
        t = from_numpy(np.require(arr, requirements="C"))
    return t


def _place(t, location, map_location):
    """The tensor t (read on the CPU) moved as torch.load would: map_location None keeps the saved location; a
    device or string sends every tensor there; a dict maps saved location strings to new ones (others keep
    theirs); a callable(tensor, location) returns the tensor to use (None: the saved location)."""
    if callable(map_location) and not isinstance(map_location, (str, _C.device)):
        r = map_location(t, location)
        if r is not None:
            return r
        target = location
    elif isinstance(map_location, dict):
        target = map_location.get(location, location)
    elif map_location is None:
        target = location
    else:
        target = map_location
    target = str(target)
    if target.startswith("cuda"):
        from . import cuda
        if not cuda.is_available():
            raise RuntimeError("Attempting to deserialize object on a CUDA device but dlcore.cuda.is_available() is "
                               "False. If you are running on a CPU-only machine, please use dlcore.load with "
                               "map_location='cpu' to map your storages to the CPU.")
    if target != "cpu":
        t = _C.to(t, None, target, False)
    return t


def _rebuild(node, tensors, path, map_location=None, made=None):
    if made is None:
        made = {}
    if isinstance(node, dict):
        if "__T" in node:
            key = node["__T"]
            if key not in tensors:
                raise CheckpointError(f"dlcore.load: '{path}': the tensor '{key}' named in the metadata is missing")
            if key in made:  # the same tensor saved in several places: one object, as torch.load gives
                return made[key]
            t = _place(tensors[key], node.get("dev", "cpu"), map_location)
            if node.get("param"):
                from .nn import Parameter
                t = Parameter(t, requires_grad=bool(node.get("rg", False)))
            elif node.get("rg"):
                t.requires_grad_(True)
            made[key] = t
            return t
        if "__d" in node:
            d = {k: _rebuild(v, tensors, path, map_location, made) for k, v in node["__d"]}
            return OrderedDict(d) if node.get("od") else d
        if "__l" in node:
            return [_rebuild(v, tensors, path, map_location, made) for v in node["__l"]]
        if "__t" in node:
            return tuple(_rebuild(v, tensors, path, map_location, made) for v in node["__t"])
        if "__dtype" in node:
            return getattr(_C.dtype, node["__dtype"])
        raise CheckpointError(f"dlcore.load: '{path}': unrecognised metadata node {list(node)}")
    return node


def _load_pickled(payload, path, map_location, weights_only):
    if weights_only is not False:
        raise CheckpointError(
            f"dlcore.load: '{path}' is a pickled checkpoint (dlcore.save of an object other than tensors and "
            "containers, e.g. a whole model); unpickling runs code from the file, so it is loaded only with "
            "weights_only=False. Do that only for a file from a source you trust, or save model.state_dict() "
            "instead (a safetensors checkpoint).")
    from . import _creation
    token = _creation._pickle_place.set(lambda t, location: _place(t, location, map_location))
    try:
        return pickle.loads(payload)
    finally:
        _creation._pickle_place.reset(token)


def load(f, map_location=None, *, weights_only=None, **kwargs):
    """Loads what dlcore.save wrote (the same nested structure, a tensor saved in several places as one object,
    requires_grad and nn.Parameter restored), or the {name: tensor} dict of any safetensors file (e.g. one PyTorch
    wrote with safetensors.torch.save_file). f: a path or a readable binary file object. map_location (torch.load's):
    None puts each tensor on the device it was saved from (an error if that is CUDA and none is available); a
    device or string puts every tensor there; a dict maps saved locations to new ones ({'cuda:0': 'cpu'}); a
    callable(tensor, location) returns the tensor to use."""
    if hasattr(f, "read"):
        data = f.read()
        path = getattr(f, "name", "<file object>")
    else:
        path = os.fspath(f)
        with open(path, "rb") as fh:
            data = fh.read()
    if not (map_location is None or isinstance(map_location, (str, _C.device, dict)) or callable(map_location)):
        raise TypeError(f"dlcore.load: map_location must be None, a device, a string, a dict or a callable, got "
                        f"{type(map_location).__name__}")
    if data[:len(_PICKLE_MAGIC)] == _PICKLE_MAGIC:
        return _load_pickled(data[len(_PICKLE_MAGIC):], path, map_location, weights_only)
    n, header = _read_header(data, path)
    meta = header.get("__metadata__") or {}
    base = 8 + n
    buf = memoryview(data)
    keys = sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0])
    arrays = None
    try:
        from safetensors.numpy import load as st_load
    except ImportError:  # the header was validated above: read the tensors from it (the path BF16 takes too)
        st_load = None
    if st_load is not None and not any(header[k]["dtype"] == "BF16" for k in keys):
        try:
            arrays = st_load(bytes(data))
        except Exception as e:  # noqa: BLE001  (safetensors raises its own error type)
            raise CheckpointError(f"dlcore.load: '{path}' is not a valid safetensors file: {e}") from None
    tensors = {}
    for k in keys:  # in file order, like safetensors' own loaders
        info = header[k]
        if arrays is not None:
            arr = arrays[k]
        else:  # NumPy has no bfloat16: read the raw 16-bit patterns
            lo, hi = info["data_offsets"]
            arr = np.frombuffer(buf[base + lo:base + hi], dtype=np.dtype(_ST_DTYPES[info["dtype"]]).newbyteorder("<"))
            arr = arr.reshape(info["shape"]).copy()
        tensors[k] = _tensor_from(arr, info["dtype"], None)
    if _META_KEY in meta:
        try:
            doc = json.loads(meta[_META_KEY])
            skeleton = doc["skeleton"]
        except (ValueError, KeyError, TypeError):
            raise CheckpointError(f"dlcore.load: '{path}': the dlcore metadata is corrupt") from None
        return _rebuild(skeleton, tensors, path, map_location)
    return {k: _place(t, "cpu", map_location) for k, t in tensors.items()}
