"""The IDX file format of (Fashion-)MNIST (http://yann.lecun.com/exdb/mnist/), gzip-compressed or not.

Header: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64),
the number of dimensions, then each dimension as a big-endian uint32; the data follow, big-endian, row-major.
Every field is checked; a corrupt or truncated file raises IdxError naming the file and the problem."""
from __future__ import annotations

import gzip
import os

import numpy as np


class IdxError(ValueError):
    pass


_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path) -> np.ndarray:
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise IdxError(f"{path}: corrupt gzip data ({e})") from None
    if len(raw) < 4:
        raise IdxError(f"{path}: too short for an IDX header ({len(raw)} bytes)")
    if raw[0] != 0 or raw[1] != 0:
        raise IdxError(f"{path}: bad magic number {raw[:4].hex()} (an IDX file starts with two zero bytes)")
    code, ndim = raw[2], raw[3]
    if code not in _TYPES:
        raise IdxError(f"{path}: unknown IDX data type code 0x{code:02x}")
    if not 1 <= ndim <= 8:
        raise IdxError(f"{path}: implausible number of dimensions {ndim}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IdxError(f"{path}: truncated header")
    dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dt = _TYPES[code]
    expected = header + int(np.prod(dims, dtype=np.int64)) * dt.itemsize
    if len(raw) != expected:
        raise IdxError(f"{path}: size mismatch: header says shape {dims} ({expected} bytes with the header) but the "
                       f"file has {len(raw)} bytes")
    arr = np.frombuffer(raw, dtype=dt, offset=header).reshape(dims)
    return arr.astype(dt.newbyteorder("="), copy=True)


def write_idx(path, array: np.ndarray, compress: bool | None = None) -> None:
    """Writes an IDX file (gzip when the name ends in .gz or compress=True); used by tests to make fixtures."""
    array = np.asarray(array)
    code = {np.dtype(v).newbyteorder("="): k for k, v in _TYPES.items()}.get(array.dtype.newbyteorder("="))
    if code is None:
        raise IdxError(f"write_idx: unsupported dtype {array.dtype}")
    big = array.astype(_TYPES[code], copy=False)
    data = bytes([0, 0, code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape) + big.tobytes()
    path = os.fspath(path)
    if compress or (compress is None and path.endswith(".gz")):
        data = gzip.compress(data)
    with open(path, "wb") as f:
        f.write(data)
