"""DataLoader: batches from a dataset, shuffled per epoch from a seed, with a background prefetch thread so that
data preparation overlaps the training step.

Shuffling: epoch e uses the permutation drawn from Philox stream (seed, e), so runs are reproducible and
independent of how many batches earlier epochs consumed. Without a seed, the seed is drawn once from the default
generator (dlcore.manual_seed makes that reproducible too)."""
from __future__ import annotations

import queue
import threading

import numpy as np

from .. import _C


def _to_tensor(x):
    if isinstance(x, _C.Tensor):
        return x
    a = np.asarray(x)
    if a.dtype == np.float64:
        a = a.astype(np.float32)  # like torch's default dtype for float data
    elif a.dtype.kind in "iu" and a.dtype != np.uint8:
        a = a.astype(np.int64)
    return _C.from_numpy(np.ascontiguousarray(a))


def default_collate(samples, as_numpy=False):
    """Stacks a list of samples (tuples of arrays/numbers/tensors) into a tuple of batched tensors."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        cols = list(zip(*samples))
        out = []
        for col in cols:
            c0 = col[0]
            if isinstance(c0, _C.Tensor):
                arr = np.stack([c._raw_numpy() if c.device.type == "cpu" else np.asarray(c) for c in col])
            else:
                arr = np.stack([np.asarray(c) for c in col])
            out.append(arr)
        return tuple(out) if as_numpy else tuple(_to_tensor(a) for a in out)
    arr = np.stack([np.asarray(s) for s in samples])
    return arr if as_numpy else _to_tensor(arr)


class DataLoader:
    """Iterates over batches of a dataset.

    batch_size, shuffle, drop_last as in torch; seed: shuffling seed (epoch e uses (seed, e)); prefetch: number
    of batches prepared ahead by a background thread (0 = prepare in the caller's thread); collate_fn as in torch;
    device: move batches there (e.g. "cuda")."""

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None, prefetch=2,
                 collate_fn=None, device=None, num_workers=0, pin_memory=False, generator=None):
        if batch_size is None or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.prefetch = int(prefetch)
        self.collate_fn = collate_fn
        self.device = device
        if seed is None:
            if generator is not None:
                seed = generator.initial_seed() + generator._g.offset
            else:
                seed = int(_C.default_generator().reserve(1)) ^ int(_C.default_generator().seed)
        self.seed = int(seed)
        self.epoch = 0

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else (n + self.batch_size - 1) // self.batch_size

    def set_epoch(self, epoch):
        self.epoch = int(epoch)

    def _order(self, epoch):
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        g = _C._Generator()
        g.manual_seed((self.seed * 1000003 + epoch) & 0xFFFFFFFFFFFFFFFF)
        keys = _C.random([n], _C.dtype.float64, None, "uniform", 0.0, 1.0, 0, 1, g)._raw_numpy()
        return np.argsort(keys, kind="stable")

    def _batches(self, order):
        n = len(order)
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            yield order[start:start + self.batch_size]

    def _make(self, idx):
        ds = self.dataset
        if self.collate_fn is None and hasattr(ds, "get_batch"):
            batch = tuple(_to_tensor(x) for x in ds.get_batch(idx))
        else:
            collate = self.collate_fn or default_collate
            batch = collate([ds[int(i)] for i in idx])
        if self.device is not None and str(self.device) != "cpu":
            batch = tuple(_C.to(b, None, self.device, False) for b in batch)
        return batch

    def __iter__(self):
        order = self._order(self.epoch)
        self.epoch += 1
        if self.prefetch <= 0:
            for idx in self._batches(order):
                yield self._make(idx)
            return
        q: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()
        _END = object()

        def produce():
            try:
                for idx in self._batches(order):
                    if stop.is_set():
                        return
                    item = self._make(idx)
                    while not stop.is_set():
                        try:
                            q.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                q.put(_END)
            except BaseException as e:  # re-raised in the consumer
                q.put(e)

        t = threading.Thread(target=produce, name="dlcore-prefetch", daemon=True)
        t.start()
        try:
            while True:
                item = q.get()
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while t.is_alive():
                try:
                    q.get_nowait()
                except queue.Empty:
                    pass
                t.join(timeout=0.05)
