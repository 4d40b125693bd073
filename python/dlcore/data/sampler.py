"""Samplers, as torch.utils.data.sampler and torch.utils.data.distributed: iterables of dataset indices that
the DataLoader reads, one index (sampler) or one list of indices (batch sampler) at a time.

Random samplers draw from a dlcore.Generator (or the default generator, seeded by dlcore.manual_seed), so the
streams are reproducible but are not torch's bit-for-bit; deterministic samplers (Sequential, Batch, Distributed
with shuffle=False) give exactly torch's indices."""
from __future__ import annotations

import itertools
import math
import numbers

import numpy as np

from .. import _C

_CHUNK = 32  # RandomSampler(replacement=True) draws its indices this many at a time, like torch


def _is_int(x):
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _gen(generator):
    """The _C generator behind a dlcore.Generator (None: the default generator)."""
    if generator is None:
        return None
    g = getattr(generator, "_g", None)
    if g is None:
        raise TypeError(f"expected a dlcore.Generator, got {type(generator).__name__}")
    return g


def _uniform(n, generator):
    """n float64 uniforms in [0, 1) from generator (dlcore.Generator or None: the default generator)."""
    return _C.random([int(n)], _C.dtype.float64, None, "uniform", 0.0, 1.0, 0, 1, _gen(generator))._raw_numpy()


def _randperm(n, generator):
    return np.argsort(_uniform(n, generator), kind="stable").tolist()


def _randint(high, size, generator):
    return _C.random([int(size)], _C.dtype.int64, None, "integer", 0.0, 1.0, 0, int(high),
                     _gen(generator))._raw_numpy().tolist()


class Sampler:
    """Base class: subclasses define __iter__ (yielding indices, or lists of indices for a batch sampler) and,
    when the length is known, __len__."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__}: subclasses of Sampler should implement __iter__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """Random indices into data_source: a random permutation (replacement=False; num_samples > len(data_source)
    chains several permutations), or num_samples independent uniform draws (replacement=True). generator: a
    dlcore.Generator; None draws a fresh seed from the default generator at each iteration, like torch."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean value, but got "
                            f"replacement={self.replacement}")
        if not _is_int(self.num_samples) or self.num_samples <= 0:
            raise ValueError(f"RandomSampler: num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _generator(self):
        if self.generator is not None:
            return self.generator
        from .._creation import Generator
        seed = _C.random([1], _C.dtype.int64, None, "integer", 0.0, 1.0, 0, 2 ** 62, None)._raw_numpy()[0]
        return Generator().manual_seed(int(seed))

    def __iter__(self):
        n = len(self.data_source)
        generator = self._generator()
        if self.replacement:
            for _ in range(self.num_samples // _CHUNK):
                yield from _randint(n, _CHUNK, generator)
            yield from _randint(n, self.num_samples % _CHUNK, generator)
        else:
            for _ in range(self.num_samples // n):
                yield from _randperm(n, generator)
            yield from _randperm(n, generator)[:self.num_samples % n]

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order (a new permutation at each iteration)."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        for i in _randperm(len(self.indices), self.generator):
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """num_samples indices in [0, len(weights)) drawn with probabilities proportional to weights (which need not
    sum to 1), with or without replacement, like torch.multinomial."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not _is_int(num_samples) or num_samples <= 0:
            raise ValueError(f"WeightedRandomSampler: num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"WeightedRandomSampler: replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        if isinstance(weights, _C.Tensor):
            w = _C.to(weights, _C.dtype.float64, "cpu", False)._raw_numpy().copy()
        else:
            w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"WeightedRandomSampler: weights should be a 1d sequence but given weights have shape "
                             f"{tuple(w.shape)}")
        from .._creation import tensor
        self.weights = tensor(w, dtype=_C.dtype.float64)
        self._w = w
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        w = self._w
        if not np.all(np.isfinite(w)) or (w < 0).any():
            raise RuntimeError("WeightedRandomSampler: weights must be finite and non-negative (invalid "
                               "multinomial distribution)")
        if w.sum() <= 0:
            raise RuntimeError("WeightedRandomSampler: invalid multinomial distribution (sum of probabilities <= 0)")
        if not self.replacement and self.num_samples > int(np.count_nonzero(w)):
            raise RuntimeError(f"WeightedRandomSampler: cannot sample n_sample={self.num_samples} > number of "
                               f"non-zero weights ({int(np.count_nonzero(w))}) without replacement")
        u = _uniform(self.num_samples if self.replacement else len(w), self.generator)
        if self.replacement:
            cdf = np.cumsum(w / w.sum())
            idx = np.minimum(np.searchsorted(cdf, u, side="right"), len(w) - 1)
            while True:  # rounding at the top of the cdf must not pick a zero-weight tail entry
                bad = w[idx] == 0
                if not bad.any():
                    break
                idx[bad] -= 1
        else:
            # Efraimidis-Spirakis: the k largest u^(1/w) are a draw of k items without replacement, in the order
            # successive weighted draws would pick them.
            with np.errstate(divide="ignore"):
                keys = np.where(w > 0, np.log(np.maximum(u, 1e-300)) / np.where(w > 0, w, 1.0), -np.inf)
            idx = np.argsort(-keys, kind="stable")[:self.num_samples]
        yield from idx.astype(np.int64).tolist()

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of sampler into lists of batch_size (the last one shorter unless drop_last)."""

    def __init__(self, sampler, batch_size, drop_last):
        if not _is_int(batch_size) or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def __iter__(self):
        sampler_iter = iter(self.sampler)
        if self.drop_last:
            for batch in zip(*([sampler_iter] * self.batch_size)):
                yield [*batch]
        else:
            batch = [*itertools.islice(sampler_iter, self.batch_size)]
            while batch:
                yield batch
                batch = [*itertools.islice(sampler_iter, self.batch_size)]

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size


class DistributedSampler(Sampler):
    """The share of rank `rank` among `num_replicas` processes: indices rank, rank + num_replicas, ... of the
    (shuffled with seed + epoch when shuffle) index list, padded by repeating its head so that every rank gets
    ceil(N / num_replicas) indices (or truncated to floor(N / num_replicas) each with drop_last). Call
    set_epoch(e) before each epoch for a new shuffle. dlcore has no process group, so num_replicas and rank
    must be given."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if num_replicas is None or rank is None:
            raise RuntimeError("DistributedSampler: requires distributed package to be available; dlcore has no "
                               "process group, so pass num_replicas and rank explicitly")
        if not _is_int(num_replicas) or num_replicas <= 0:
            raise ValueError(f"DistributedSampler: num_replicas should be a positive integer, got {num_replicas}")
        if not _is_int(rank) or rank >= num_replicas or rank < 0:
            raise ValueError(f"DistributedSampler: Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.epoch = 0
        self.drop_last = drop_last
        n = len(self.dataset)
        if self.drop_last and n % self.num_replicas != 0:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = shuffle
        self.seed = int(seed)

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            from .._creation import Generator
            indices = _randperm(n, Generator().manual_seed(self.seed + self.epoch))
        else:
            indices = list(range(n))
        if not self.drop_last:
            padding_size = self.total_size - len(indices)
            if padding_size <= len(indices):
                indices += indices[:padding_size]
            else:
                indices += (indices * math.ceil(padding_size / len(indices)))[:padding_size]
        else:
            indices = indices[:self.total_size]
        if len(indices) != self.total_size:
            raise RuntimeError(f"DistributedSampler: the dataset changed length ({len(indices)} indices for a "
                               f"total size of {self.total_size})")
        indices = indices[self.rank:self.total_size:self.num_replicas]
        return iter(indices)

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Sets the epoch for this sampler; with shuffle=True every rank then uses the same new ordering."""
        self.epoch = int(epoch)
