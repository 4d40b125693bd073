"""Datasets, as torch.utils.data: the map-style Dataset protocol (getitem, usually len), IterableDataset (iter),
TensorDataset, Subset, ConcatDataset, ChainDataset, StackDataset, random_split.

A map-style dataset may offer __getitems__(indices) -> list of samples (torch's batched read), and, a dlcore
extension, get_batch(indices) -> tuple of arrays/tensors for a whole batch at once; the loader uses get_batch
with the default collate_fn (one fancy-indexing call instead of one Python call per sample)."""
from __future__ import annotations

import bisect
import math

import numpy as np


class Dataset:
    """A map-style dataset: subclasses define __getitem__ and usually __len__ (like torch, there is no default
    __len__: len() of a dataset without one raises TypeError). d1 + d2 is ConcatDataset([d1, d2])."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__}: subclasses of Dataset should implement __getitem__.")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset that is a stream of samples: subclasses define __iter__. With DataLoader(num_workers > 0) each
    worker process iterates its own copy of the dataset; shard the stream with get_worker_info() (id,
    num_workers) inside __iter__ or in worker_init_fn, or every worker yields every sample.
    d1 + d2 is ChainDataset([d1, d2])."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__}: subclasses of IterableDataset should implement "
                                  "__iter__.")

    def __add__(self, other):
        return ChainDataset([self, other])


def _as_array(x):
    from .. import _C
    if isinstance(x, _C.Tensor):
        if x.dtype == _C.dtype.bfloat16:  # NumPy has no bfloat16 (the field's batches index the tensor itself)
            return None
        return x._raw_numpy() if x.device.type == "cpu" else _C.to(x, None, "cpu", False)._raw_numpy()
    return np.asarray(x)


class TensorDataset(Dataset):
    """Samples are the i-th rows of the given tensors/arrays (all with the same first dimension): tensor rows for
    tensors (like torch), NumPy rows for arrays. transform (a dlcore.data.transforms callable, NumPy in and out)
    applies to the first field's rows."""

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
        return len(self.tensors[0])

    def __getitem__(self, index):
        from .. import _C
        items = tuple(t[index] if isinstance(t, _C.Tensor) else a[index] for t, a in zip(self.tensors, self.arrays))
        if self.transform is not None:
            items = (self.transform(self.arrays[0][index]),) + items[1:]
        return items

    def get_batch(self, indices):
        # tensor fields are indexed as tensors (like the stacked rows torch's collate gives: the tensor's current
        # data, device and dtype, recorded by autograd when it requires grad); array fields as arrays
        from .. import _C
        idx = np.ascontiguousarray(indices, dtype=np.int64)
        items = []
        for t, a in zip(self.tensors, self.arrays):
            if isinstance(t, _C.Tensor):
                it = _C.from_numpy(idx)
                items.append(t[it if t.device.type == "cpu" else _C.to(it, None, t.device, False)])
            else:
                items.append(a[idx])
        items = tuple(items)
        if self.transform is not None:
            items = (self.arrays[0][idx],) + items[1:]
            t = self.transform
            x = t.batch(items[0]) if hasattr(t, "batch") else np.stack([t(v) for v in items[0]])
            items = (x,) + items[1:]
        return items


class Subset(Dataset):
    """The samples of dataset at the given indices."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[int(self.indices[i]) for i in index]]
        return self.dataset[int(self.indices[index])]

    def __getitems__(self, indices):
        idx = [int(self.indices[i]) for i in indices]
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__(idx)
        return [self.dataset[i] for i in idx]

    @property
    def get_batch(self):
        """The wrapped dataset's get_batch on the mapped indices; absent (hasattr is False) when the wrapped
        dataset has none, so that the loader falls back to per-sample reads and the collate_fn."""
        inner = getattr(self.dataset, "get_batch", None)
        if inner is None:
            raise AttributeError(f"Subset of {type(self.dataset).__name__} has no get_batch")
        return lambda indices: inner(self.indices[np.asarray(indices, dtype=np.int64)])


class ConcatDataset(Dataset):
    """The concatenation of map-style datasets (index i of the result is index i - cumulative_sizes[k-1] of
    dataset k)."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset (use ChainDataset)")
        self.cumulative = np.cumsum([len(d) for d in self.datasets]).tolist()

    @property
    def cumulative_sizes(self):
        return self.cumulative

    def __len__(self):
        return self.cumulative[-1] if self.cumulative else 0

    def __getitem__(self, index):
        i = index
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"ConcatDataset: index {i} out of range for length {len(self)}")
        d = bisect.bisect_right(self.cumulative, index)
        start = self.cumulative[d - 1] if d else 0
        return self.datasets[d][index - start]


class ChainDataset(IterableDataset):
    """Iterates the given IterableDatasets one after another (on the fly); len is the sum of their lengths."""

    def __init__(self, datasets):
        self.datasets = datasets

    def _check(self, d):
        if not isinstance(d, IterableDataset):
            raise TypeError(f"ChainDataset only supports IterableDataset, got {type(d).__name__}")

    def __iter__(self):
        for d in self.datasets:
            self._check(d)
            yield from d

    def __len__(self):
        total = 0
        for d in self.datasets:
            self._check(d)
            total += len(d)
        return total


class StackDataset(Dataset):
    """Samples of several same-length datasets side by side: StackDataset(a, b)[i] == (a[i], b[i]) and
    StackDataset(x=a, y=b)[i] == {"x": a[i], "y": b[i]}."""

    def __init__(self, *args, **kwargs):
        if args:
            if kwargs:
                raise ValueError("StackDataset: supported either tuple- (via args) or dict- (via kwargs) like "
                                 "input/output, but both types are given.")
            datasets = args
        elif kwargs:
            datasets = kwargs
        else:
            raise ValueError("StackDataset: at least one dataset should be passed")
        values = list(datasets.values()) if isinstance(datasets, dict) else list(datasets)
        lengths = [len(d) for d in values]
        if any(n != lengths[0] for n in lengths):
            raise ValueError(f"StackDataset: size mismatch between datasets ({lengths})")
        self._length = lengths[0]
        self.datasets = datasets

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def _column(self, dataset, indices):
        if callable(getattr(dataset, "__getitems__", None)):
            items = dataset.__getitems__(indices)
            if len(items) != len(indices):
                raise ValueError(f"StackDataset: nested dataset's output size mismatch. Expected {len(indices)}, "
                                 f"got {len(items)}")
            return items
        return [dataset[i] for i in indices]

    def __getitems__(self, indices):
        if isinstance(self.datasets, dict):
            cols = {k: self._column(d, indices) for k, d in self.datasets.items()}
            return [{k: cols[k][j] for k in cols} for j in range(len(indices))]
        cols = [self._column(d, indices) for d in self.datasets]
        return [tuple(c[j] for c in cols) for j in range(len(indices))]

    def __len__(self):
        return self._length


def random_split(dataset, lengths, generator=None):
    """Splits into non-overlapping subsets of the given lengths (ints, or fractions summing to 1), shuffled by
    the generator (dlcore.Generator or an int seed; the default generator otherwise)."""
    n = len(dataset)
    if all(isinstance(x, float) for x in lengths) and math.isclose(sum(lengths), 1.0) and sum(lengths) <= 1:
        for i, f in enumerate(lengths):  # (torch: fractions out of [0, 1] would give negative lengths)
            if not 0 <= f <= 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1 (got {f})")
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
