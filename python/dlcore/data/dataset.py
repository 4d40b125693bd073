"""Datasets: the map-style Dataset protocol (len + getitem), TensorDataset, Subset, ConcatDataset, random_split.

A dataset may also offer get_batch(indices) -> tuple of arrays/tensors for a whole batch at once; the loader uses
it when present (one fancy-indexing call instead of one Python call per sample)."""
from __future__ import annotations

import bisect
import math

import numpy as np


class Dataset:
    def __getitem__(self, index):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError

    def __add__(self, other):
        return ConcatDataset([self, other])


def _as_array(x):
    from .. import _C
    if isinstance(x, _C.Tensor):
        return x._raw_numpy() if x.device.type == "cpu" else _C.to(x, None, "cpu", False)._raw_numpy()
    return np.asarray(x)


class TensorDataset(Dataset):
    """Samples are the i-th rows of the given tensors/arrays (all with the same first dimension)."""

    def __init__(self, *tensors, transform=None):
        if not tensors:
            raise ValueError("TensorDataset: at least one tensor is required")
        n = len(tensors[0])
        for t in tensors:
            if len(t) != n:
                raise ValueError(f"TensorDataset: size mismatch between tensors ({[len(t) for t in tensors]})")
        self.tensors = tensors
        self.arrays = tuple(_as_array(t) for t in tensors)
        self.transform = transform

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        items = tuple(a[index] for a in self.arrays)
        if self.transform is not None:
            items = (self.transform(items[0]),) + items[1:]
        return items

    def get_batch(self, indices):
        items = tuple(a[indices] for a in self.arrays)
        if self.transform is not None:
            t = self.transform
            x = t.batch(items[0]) if hasattr(t, "batch") else np.stack([t(v) for v in items[0]])
            items = (x,) + items[1:]
        return items


class Subset(Dataset):
    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[int(self.indices[index])]

    def get_batch(self, indices):
        idx = self.indices[np.asarray(indices)]
        if hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(idx)
        from .loader import default_collate
        return default_collate([self.dataset[int(i)] for i in idx], as_numpy=True)


class ConcatDataset(Dataset):
    def __init__(self, datasets):
        self.datasets = list(datasets)
        self.cumulative = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self):
        return self.cumulative[-1] if self.cumulative else 0

    def __getitem__(self, index):
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"ConcatDataset: index {index} out of range for length {len(self)}")
        d = bisect.bisect_right(self.cumulative, index)
        start = self.cumulative[d - 1] if d else 0
        return self.datasets[d][index - start]


def random_split(dataset, lengths, generator=None):
    """Splits into non-overlapping subsets of the given lengths (ints, or fractions summing to 1), shuffled by
    the generator (dlcore.Generator or an int seed; the default generator otherwise)."""
    n = len(dataset)
    if all(isinstance(x, float) for x in lengths) and math.isclose(sum(lengths), 1.0) and n:
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of lengths {sum(lengths)} does not equal the dataset length {n}")
    from .. import _creation
    if isinstance(generator, int):
        generator = _creation.Generator().manual_seed(generator)
    perm = _creation.randperm(n, generator=generator)._raw_numpy()
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[start:start + length]))
        start += length
    return out
