"""DataLoader worker processes, as torch.utils.data._utils.worker: the worker loop, get_worker_info(), the
fetchers that turn index lists into batches, and ExceptionWrapper that carries a worker's exception and
traceback text to the main process.

Protocol (one index queue per worker, one shared result queue):
  main -> worker: (send_idx, index) a task; _ResumeIteration() start a new epoch (persistent workers); None: exit.
  worker -> main: (send_idx, payload) where payload is the pickled batch, an ExceptionWrapper, or
  _IterableDatasetStopIteration(worker_id) when the worker's copy of an IterableDataset is exhausted; and
  (_ResumeIteration, None) acknowledging a resume.
Batches are pickled in the worker (dlcore tensors pickle through NumPy), so a batch that cannot be pickled
becomes an error in the main process instead of a silent hang."""
from __future__ import annotations

import os
import pickle
import queue
import random
import sys
import traceback
from dataclasses import dataclass

import numpy as np

MP_STATUS_CHECK_INTERVAL = 1.0  # seconds between the main process's liveness checks of its workers
_WORKER_POLL_INTERVAL = 0.2  # seconds between a worker's checks of its parent and of the done event


@dataclass(frozen=True)
class WorkerInfo:
    """What get_worker_info() returns inside a worker: id (0..num_workers-1), num_workers, seed (base_seed + id,
    used to seed random, numpy and dlcore in this worker) and dataset (this worker's copy)."""
    id: int
    num_workers: int
    seed: int
    dataset: object
    worker_method: str = "multiprocessing"


_worker_info = None


def get_worker_info():
    """The WorkerInfo of the current DataLoader worker process, or None in the main process."""
    return _worker_info


class KeyErrorMessage(str):
    """A str whose repr is itself, so a KeyError built from it prints the traceback text readably."""

    def __repr__(self):
        return self


class ExceptionWrapper:
    """An exception's type and formatted traceback, picklable, re-raised in another process with reraise()."""

    def __init__(self, exc_info=None, where="in background"):
        if exc_info is None:
            exc_info = sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        elif getattr(self.exc_type, "message", None):
            raise self.exc_type(message=msg)
        try:
            exception = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        raise exception


class _PicklableTypeWrapper(ExceptionWrapper):
    """An ExceptionWrapper whose exception class could not be pickled: re-raised as RuntimeError, the
    original class name kept in the message."""

    def __init__(self, wrapper):
        self.exc_type = RuntimeError
        self.exc_msg = wrapper.exc_msg
        self.where = f"({wrapper.exc_type.__name__}, not picklable) {wrapper.where}"


@dataclass(frozen=True)
class _IterableDatasetStopIteration:
    worker_id: int


class _ResumeIteration:
    """Sent to persistent workers at the start of a new epoch; echoed back once all earlier tasks are done."""


# ----------------------------------------------------------------------------------------------- fetchers
class _MapDatasetFetcher:
    """index (a list of indices with automatic batching, else one index) -> collated batch / converted sample.
    With the default collate_fn and a dataset that has get_batch (a dlcore extension), reads the whole batch
    in one call."""

    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        from .collate import default_collate
        self.fast = auto_collation and collate_fn is default_collate and hasattr(dataset, "get_batch")

    def fetch(self, index):
        ds = self.dataset
        if self.auto_collation:
            if self.fast:
                return _convert_get_batch(ds.get_batch(np.asarray(index, dtype=np.int64)))
            getitems = getattr(ds, "__getitems__", None)
            data = getitems(index) if callable(getitems) else [ds[i] for i in index]
        else:
            data = ds[index]
        return self.collate_fn(data)


def _convert_get_batch(items):
    """get_batch's tuple of arrays/tensors -> what default_collate gives for the per-sample path (a list of
    tensors for tuple samples)."""
    from .. import _C
    from .collate import _array_to_tensor
    conv = (lambda a: a if isinstance(a, _C.Tensor) else _array_to_tensor(a))
    if isinstance(items, (tuple, list)):
        return [conv(a) for a in items]
    return conv(items)


class _IterableDatasetFetcher:
    """Draws from one iterator over the dataset: len(index) samples per batch with automatic batching (index is
    a list of None placeholders), else one; raises StopIteration when exhausted (or, with drop_last, when the
    last batch would be short)."""

    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset_iter = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, index):
        if self.ended:
            raise StopIteration
        if self.auto_collation:
            data = []
            for _ in index:
                try:
                    data.append(next(self.dataset_iter))
                except StopIteration:
                    self.ended = True
                    break
            if len(data) == 0 or (self.drop_last and len(data) < len(index)):
                raise StopIteration
        else:
            data = next(self.dataset_iter)
        return self.collate_fn(data)


def create_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last):
    cls = _IterableDatasetFetcher if iterable else _MapDatasetFetcher
    return cls(dataset, auto_collation, collate_fn, drop_last)


# ----------------------------------------------------------------------------------------------- the worker
def _seed_worker(seed, worker_id):
    from .. import _C
    random.seed(seed)
    _C.default_generator().manual_seed(seed & 0xFFFFFFFFFFFFFFFF)
    np.random.seed([seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF, worker_id])


def _picklable(obj):
    try:
        pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        return True
    except Exception:
        return False


def _worker_loop(iterable, dataset, index_queue, data_queue, done_event, auto_collation, collate_fn, drop_last,
                 base_seed, init_fn, worker_id, num_workers):
    """The body of worker process worker_id (see the module docstring for the protocol)."""
    global _worker_info
    try:
        try:
            from .. import get_num_threads, set_num_threads
            if get_num_threads() != 1:
                set_num_threads(1)  # like torch: workers do not compete with the main process for cores
        except Exception:
            pass
        seed = base_seed + worker_id
        _seed_worker(seed, worker_id)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
        where = f"in DataLoader worker process {worker_id}"
        init_exception = None
        fetcher = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = create_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
        except Exception:
            init_exception = ExceptionWrapper(where=where)
        iteration_end = False
        parent = os.getppid()
        while os.getppid() == parent:  # exit when the main process dies without shutting us down
            try:
                r = index_queue.get(timeout=_WORKER_POLL_INTERVAL)
            except queue.Empty:
                if done_event.is_set():
                    # shut down without the final None: when the main process's iterator is collected as part
                    # of a reference cycle, the index queue's feeder thread may already be closed
                    break
                continue
            if isinstance(r, _ResumeIteration):
                data_queue.put((r, None))
                iteration_end = False
                try:
                    fetcher = create_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
                except Exception:
                    init_exception = ExceptionWrapper(where=where)
                continue
            if r is None:
                break
            if done_event.is_set() or iteration_end:
                continue
            idx, index = r
            if init_exception is not None:
                data, init_exception = init_exception, None
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    if iterable:
                        data = _IterableDatasetStopIteration(worker_id)
                        iteration_end = True
                    else:
                        data = ExceptionWrapper(where=where)
                except Exception:
                    data = ExceptionWrapper(where=where)
            if isinstance(data, (ExceptionWrapper, _IterableDatasetStopIteration)):
                payload = data if _picklable(data) else _PicklableTypeWrapper(data)
            else:
                try:
                    payload = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
                except Exception:
                    payload = ExceptionWrapper(where=f"{where} (pickling the batch for the main process)")
            data_queue.put((idx, payload))
            del data, idx, index, r, payload
    except KeyboardInterrupt:
        pass
    if done_event.is_set():
        data_queue.cancel_join_thread()
        data_queue.close()
