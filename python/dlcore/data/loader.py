"""DataLoader, as torch.utils.data.DataLoader: batches (or single samples) of a map-style or iterable dataset,
read in the main thread, in one background thread, or in worker processes.

Signature and argument rules follow torch (sampler / batch_sampler / batch_size=None / collate_fn / drop_last /
timeout / worker_init_fn / generator / prefetch_factor / persistent_workers / multiprocessing_context /
in_order), plus three dlcore keywords:
  seed:     shuffling seed; epoch e uses the permutation drawn from Philox stream (seed, e), so runs are
            reproducible and independent of how many batches earlier epochs consumed. Without a seed (and
            without a generator), the seed is drawn once from the default generator (dlcore.manual_seed makes
            that reproducible too). With a generator and no seed, shuffling draws from the generator like torch.
  prefetch: with num_workers=0, the number of batches one background thread prepares ahead (default 0: read in
            the caller's thread, like torch's num_workers=0). Opt-in: the dataset's code then runs in that thread,
            so random draws it makes (dlcore's, NumPy's or Python's global generators: random augmentation)
            interleave with the main thread's (dropout, init) in timing order, not program order - a run is no
            longer reproducible from manual_seed alone. The sampler is always iterated in the caller's thread.
  device:   move every batch there (e.g. "cuda").

num_workers > 0 starts that many worker processes (multiprocessing, the default start method unless
multiprocessing_context says otherwise). Each gets index lists from the main process, so the batches come back
in the sampler's order (in_order=True); an IterableDataset is iterated by every worker on its own copy (shard it
with get_worker_info()). An exception in a worker is re-raised in the main process with the worker's traceback.
pin_memory / pin_memory_device are accepted for torch compatibility and do nothing (batches are in ordinary host
memory)."""
from __future__ import annotations

import itertools
import multiprocessing as python_multiprocessing
import numbers
import os
import pickle
import queue
import threading
import time
import warnings

import numpy as np

from .. import _C
from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .sampler import Sampler, SequentialSampler, RandomSampler, BatchSampler
from . import worker as _worker
from .worker import ExceptionWrapper, _IterableDatasetStopIteration, _ResumeIteration


def _to_device(batch, device):
    """Moves every tensor inside batch (nested lists, tuples, namedtuples, dicts) to device."""
    if isinstance(batch, _C.Tensor):
        return _C.to(batch, None, device, False)
    if isinstance(batch, dict):
        out = {k: _to_device(v, device) for k, v in batch.items()}
        try:
            return type(batch)(out)
        except TypeError:
            return out
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(_to_device(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


class _InfiniteConstantSampler(Sampler):
    """The sampler of an IterableDataset: None forever (the dataset decides what comes next)."""

    def __iter__(self):
        while True:
            yield None


class _SeededRandomSampler(RandomSampler):
    """DataLoader(shuffle=True)'s sampler when no generator is given: epoch e is the permutation from Philox
    stream (seed, e) (the loader sets epoch before each pass)."""

    def __init__(self, data_source, seed):
        super().__init__(data_source)
        self.seed = int(seed)
        self.epoch = 0

    def order(self, epoch):
        n = len(self.data_source)
        g = _C._Generator()
        g.manual_seed((self.seed * 1000003 + int(epoch)) & 0xFFFFFFFFFFFFFFFF)
        keys = _C.random([n], _C.dtype.float64, None, "uniform", 0.0, 1.0, 0, 1, g)._raw_numpy()
        return np.argsort(keys, kind="stable").tolist()

    def __iter__(self):
        return iter(self.order(self.epoch))


class _Raise:
    """An exception from the prefetch thread, re-raised as is in the caller."""

    def __init__(self, exc):
        self.exc = exc


def _draw_seed(generator):
    g = None if generator is None else generator._g
    return int(_C.random([1], _C.dtype.int64, None, "integer", 0.0, 1.0, 0, 2 ** 62, g)._raw_numpy()[0])


class DataLoader:
    """Iterates over batches of a dataset (see the module docstring)."""

    __initialized = False

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True, seed=None, prefetch=0, device=None):
        if not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError("DataLoader: num_workers option should be non-negative; use num_workers=0 to disable "
                             f"multiprocessing. (got num_workers={num_workers})")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout option should be non-negative (got timeout={timeout})")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("DataLoader: prefetch_factor option could only be specified in multiprocessing."
                             "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None.")
        elif num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("DataLoader: prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        if int(prefetch) < 0:
            raise ValueError(f"DataLoader: prefetch must be >= 0 batches, got {prefetch}")
        # (timeout with neither workers nor a prefetch thread is accepted and unused, as in torch: the calling
        # thread cannot time out its own reads)

        self.dataset = dataset
        self.num_workers = int(num_workers)
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order
        self.prefetch = int(prefetch)
        self.device = device

        if isinstance(dataset, IterableDataset):
            self._iterable = True
            if shuffle not in {False, None}:
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                                 f"shuffle={shuffle}")
            if sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler option, but got "
                                 f"sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified batch_sampler option, but "
                                 f"got batch_sampler={batch_sampler}")
        else:
            self._iterable = False
            shuffle = bool(shuffle)

        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, "
                                 "sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None:
            if drop_last:
                raise ValueError("DataLoader: batch_size=None option disables auto-batching and is mutually "
                                 "exclusive with drop_last")

        self.seed = None
        if sampler is None:
            if self._iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                if seed is None and generator is not None:
                    sampler = RandomSampler(dataset, generator=generator)
                else:
                    if seed is None:
                        seed = int(_C.default_generator().reserve(1)) ^ int(_C.default_generator().seed)
                    self.seed = int(seed)
                    sampler = _SeededRandomSampler(dataset, self.seed)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            try:
                batch_sampler = BatchSampler(sampler, batch_size, drop_last)
            except ValueError as e:
                raise ValueError(f"DataLoader: {e}") from None

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self.epoch = 0
        self._IterableDataset_len_called = None
        self._iterator = None
        self.__initialized = True
        self.check_worker_number_rationality()

    # -- torch's attribute rules
    @property
    def multiprocessing_context(self):
        return self.__multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, ctx):
        if ctx is not None:
            if self.num_workers > 0:
                if isinstance(ctx, str):
                    valid = python_multiprocessing.get_all_start_methods()
                    if ctx not in valid:
                        raise ValueError(f"DataLoader: multiprocessing_context option should specify a valid start "
                                         f"method in {valid!r}, but got multiprocessing_context={ctx!r}")
                    ctx = python_multiprocessing.get_context(ctx)
                if not isinstance(ctx, python_multiprocessing.context.BaseContext):
                    raise TypeError("DataLoader: multiprocessing_context option should be a valid context object or "
                                    f"a string specifying the start method, but got multiprocessing_context={ctx}")
            else:
                raise ValueError("DataLoader: multiprocessing_context can only be used with multi-process loading "
                                 f"(num_workers > 0), but got num_workers={self.num_workers}")
        self.__multiprocessing_context = ctx

    def __setattr__(self, attr, val):
        if self.__initialized and attr in ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
                                           "persistent_workers"):
            raise ValueError(f"{attr} attribute should not be set after {type(self).__name__} is initialized")
        super().__setattr__(attr, val)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self):
        if self._iterable:
            length = self._IterableDataset_len_called = len(self.dataset)
            if self.batch_size is not None:
                length = length // self.batch_size if self.drop_last else -(-length // self.batch_size)
            return length
        return len(self._index_sampler)

    def set_epoch(self, epoch):
        """The epoch the next pass shuffles for (DataLoader(shuffle=True) without a generator); each pass
        advances it by one."""
        self.epoch = int(epoch)

    def check_worker_number_rationality(self):
        if self.num_workers <= 1:
            return
        try:
            cpus = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cpus = os.cpu_count()
        if cpus is not None and self.num_workers > cpus:
            warnings.warn(f"DataLoader: this DataLoader will create {self.num_workers} worker processes in total, "
                          f"more than the {cpus} CPUs this process may use; this might make loading slow or freeze "
                          "it. Consider fewer workers.", UserWarning, stacklevel=3)

    def _index_iter(self):
        """An iterator over the index sampler, created in the caller's thread (a shuffling epoch is fixed here)."""
        if isinstance(self.sampler, _SeededRandomSampler):
            epoch = self.epoch
            self.epoch += 1
            order = self.sampler.order(epoch)
            self.sampler.epoch = epoch
            if self._auto_collation and isinstance(self.batch_sampler, BatchSampler) \
                    and self.batch_sampler.sampler is self.sampler:
                return iter(BatchSampler(order, self.batch_sampler.batch_size, self.batch_sampler.drop_last))
            if not self._auto_collation:
                return iter(order)
        return iter(self._index_sampler)

    def _get_iterator(self):
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        self.check_worker_number_rationality()
        return _MultiProcessingIter(self)

    def __iter__(self):
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None:
                self._iterator = self._get_iterator()
            else:
                self._iterator._reset(self)
            return self._iterator
        return self._get_iterator()


def _timed_get(q, timeout, check):
    """q.get() in slices of MP_STATUS_CHECK_INTERVAL: check() (raises when the producer died) after each empty
    slice; a RuntimeError once timeout (> 0) seconds have passed."""
    start = time.monotonic()
    while True:
        wait = _worker.MP_STATUS_CHECK_INTERVAL
        if timeout > 0:
            left = timeout - (time.monotonic() - start)
            if left <= 0:
                raise RuntimeError(f"DataLoader timed out after {timeout} seconds")
            wait = min(wait, left)
        try:
            return q.get(timeout=wait)
        except queue.Empty:
            check()


class _BaseIter:
    def __init__(self, loader):
        self._dataset = loader.dataset
        self._iterable = loader._iterable
        self._IterableDataset_len_called = loader._IterableDataset_len_called
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        self._prefetch_factor = loader.prefetch_factor
        self._timeout = loader.timeout
        self._collate_fn = loader.collate_fn
        self._device = None if loader.device is None or str(loader.device) == "cpu" else loader.device
        self._in_order = loader.in_order
        self._persistent_workers = loader.persistent_workers
        self._sampler_iter = None
        self._num_yielded = 0
        # like torch, every iterator draws the workers' base seed from the loader's generator (or the default
        # one) before the sampler draws, so a generator-driven shuffle is the same with or without workers
        self._base_seed = _draw_seed(loader.generator)

    def __iter__(self):
        return self

    def _reset(self, loader, first_iter=False):
        self._sampler_iter = loader._index_iter()
        self._num_yielded = 0
        self._IterableDataset_len_called = loader._IterableDataset_len_called

    def _next_index(self):
        return next(self._sampler_iter)  # may raise StopIteration

    def _next_data(self):
        raise NotImplementedError

    def __next__(self):
        data = self._next_data()
        self._num_yielded += 1
        if self._iterable and self._IterableDataset_len_called is not None \
                and self._num_yielded > self._IterableDataset_len_called:
            warnings.warn(f"DataLoader: length of IterableDataset {self._dataset} was reported to be "
                          f"{self._IterableDataset_len_called} (when accessing len(dataloader)), but "
                          f"{self._num_yielded} samples have been fetched.", UserWarning, stacklevel=2)
        return data

    def __len__(self):
        return len(self._index_sampler)

    def __getstate__(self):
        raise NotImplementedError(f"{type(self).__name__} cannot be pickled")


class _SingleProcessIter(_BaseIter):
    """num_workers=0: read in the caller's thread (prefetch=0) or in one background thread that keeps `prefetch`
    batches ready; the indices are drawn in the caller's thread either way."""

    def __init__(self, loader):
        super().__init__(loader)
        self._sampler_iter = loader._index_iter()
        self._prefetch = loader.prefetch
        self._thread = None
        self._fetcher = None
        self._in_q = None
        self._out_q = None
        self._ended = False
        if self._prefetch <= 0:
            self._fetcher = _worker.create_fetcher(self._iterable, self._dataset, self._auto_collation,
                                                   self._collate_fn, self._drop_last)
        else:
            self._start_thread()

    # -- background thread
    def _start_thread(self):
        self._in_q = queue.Queue()
        self._out_q = queue.Queue()
        self._stop = threading.Event()
        self._outstanding = 0
        self._sampler_done = False
        args = (self._iterable, self._dataset, self._auto_collation, self._collate_fn, self._drop_last,
                self._device, self._in_q, self._out_q, self._stop)
        self._thread = threading.Thread(target=_thread_loop, args=args, name="dlcore-prefetch", daemon=True)
        self._thread.start()
        for _ in range(self._prefetch):
            self._put_index()

    def _put_index(self):
        if self._sampler_done or self._ended:
            return
        try:
            index = self._next_index()
        except StopIteration:
            self._sampler_done = True
            return
        self._in_q.put(index)
        self._outstanding += 1

    def _get(self):
        def check():
            if not self._thread.is_alive():
                raise RuntimeError("DataLoader: the prefetch thread exited unexpectedly") from None
        return _timed_get(self._out_q, self._timeout, check)

    def _next_data(self):
        if self._thread is None:
            if self._ended:
                raise StopIteration
            try:
                index = self._next_index()
                data = self._fetcher.fetch(index)
            except StopIteration:
                self._ended = True
                raise
            return data if self._device is None else _to_device(data, self._device)
        if self._ended or self._outstanding == 0:
            self._shutdown()
            raise StopIteration
        item = self._get()
        self._outstanding -= 1
        if item is _END:
            self._ended = True
            self._shutdown()
            raise StopIteration
        if isinstance(item, _Raise):
            self._put_index()
            raise item.exc
        self._put_index()
        return item

    def _shutdown(self):
        t = self._thread
        if t is None or self._in_q is None:
            return
        self._stop.set()
        self._in_q.put(_STOP)
        t.join(timeout=5.0)
        self._in_q = None

    def __del__(self):
        try:
            self._shutdown()
        except Exception:
            pass


_END = object()
_STOP = object()


def _thread_loop(iterable, dataset, auto_collation, collate_fn, drop_last, device, in_q, out_q, stop):
    """The prefetch thread: index -> batch (moved to device), in order; _END once an IterableDataset is done."""
    try:
        fetcher = _worker.create_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
    except BaseException as e:  # noqa: BLE001 - re-raised in the caller
        fetcher, init_exc = None, e
    else:
        init_exc = None
    while not stop.is_set():
        index = in_q.get()
        if index is _STOP or stop.is_set():
            return
        if init_exc is not None:
            out_q.put(_Raise(init_exc))
            init_exc = None
            continue
        try:
            data = fetcher.fetch(index)
            if device is not None:
                data = _to_device(data, device)
        except StopIteration:
            out_q.put(_END)
            return
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller
            out_q.put(_Raise(e))
            continue
        out_q.put(data)


class _MultiProcessingIter(_BaseIter):
    """num_workers > 0: worker processes fetch the index lists the main process sends them (at most
    prefetch_factor * num_workers outstanding), and the results are put back into the sampler's order."""

    def __init__(self, loader):
        super().__init__(loader)
        self._shutdown = True  # until the workers exist
        self._worker_init_fn = loader.worker_init_fn
        ctx = loader.multiprocessing_context or python_multiprocessing.get_context()
        self._worker_result_queue = ctx.Queue()
        self._workers_done_event = ctx.Event()
        self._index_queues = []
        self._workers = []
        for i in range(self._num_workers):
            index_queue = ctx.Queue()
            index_queue.cancel_join_thread()
            w = ctx.Process(target=_worker._worker_loop, name=f"dlcore-data-worker-{i}",
                            args=(self._iterable, self._dataset, index_queue, self._worker_result_queue,
                                  self._workers_done_event, self._auto_collation, self._collate_fn,
                                  self._drop_last, self._base_seed, self._worker_init_fn, i, self._num_workers))
            w.daemon = True
            w.start()
            self._index_queues.append(index_queue)
            self._workers.append(w)
        self._shutdown = False
        self._reset(loader, first_iter=True)

    def _reset(self, loader, first_iter=False):
        super()._reset(loader, first_iter)
        self._send_idx = 0
        self._rcvd_idx = 0
        self._task_info = {}
        self._tasks_outstanding = 0
        self._workers_status = [True] * self._num_workers
        self._worker_queue_idx_cycle = itertools.cycle(range(self._num_workers))
        if not first_iter:  # persistent workers: start a new epoch, dropping what the last one left behind
            for q in self._index_queues:
                q.put(_ResumeIteration())
            pending = self._num_workers
            while pending > 0:
                idx, _ = self._get_data()
                if isinstance(idx, _ResumeIteration):
                    pending -= 1
        for _ in range(max(1, self._prefetch_factor * self._num_workers)):
            self._try_put_index()

    def _try_put_index(self):
        if self._tasks_outstanding >= max(1, self._prefetch_factor * self._num_workers):
            return
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):
            worker_queue_idx = next(self._worker_queue_idx_cycle)
            if self._workers_status[worker_queue_idx]:
                break
        else:
            return  # every worker's iterable is exhausted
        self._index_queues[worker_queue_idx].put((self._send_idx, index))
        self._task_info[self._send_idx] = (worker_queue_idx,)
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _get_data(self):
        """The next (idx, payload) from any worker; checks that the workers are alive while waiting and
        enforces the timeout."""
        def check():
            failed = [w for w in self._workers if not w.is_alive()]
            if failed:
                pids = ", ".join(str(w.pid) for w in failed)
                codes = ", ".join(str(w.exitcode) for w in failed)
                self._shutdown_workers()
                raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly (exit code(s) "
                                   f"{codes})") from None
        return _timed_get(self._worker_result_queue, self._timeout, check)

    def _next_data(self):
        while True:
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info is not None:
                    worker_id = info[0]
                    if len(info) == 2 or self._workers_status[worker_id]:
                        break
                    del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
            else:
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration
            if len(self._task_info[self._rcvd_idx]) == 2:
                data = self._task_info.pop(self._rcvd_idx)[1]
                self._rcvd_idx += 1
                return self._process_data(data)
            if self._shutdown:
                raise StopIteration
            idx, data = self._get_data()
            if isinstance(idx, _ResumeIteration):
                continue
            self._tasks_outstanding -= 1
            if isinstance(data, _IterableDatasetStopIteration):
                if self._persistent_workers:
                    self._workers_status[data.worker_id] = False
                else:
                    self._mark_worker_as_unavailable(data.worker_id)
                self._try_put_index()
                continue
            if idx != self._rcvd_idx:
                if not self._in_order:
                    del self._task_info[idx]
                    return self._process_data(data)
                self._task_info[idx] += (data,)
            else:
                del self._task_info[idx]
                self._rcvd_idx += 1
                return self._process_data(data)

    def _process_data(self, payload):
        self._try_put_index()
        if isinstance(payload, ExceptionWrapper):
            payload.reraise()
        data = pickle.loads(payload)
        return data if self._device is None else _to_device(data, self._device)

    def _mark_worker_as_unavailable(self, worker_id, shutdown=False):
        q = self._index_queues[worker_id]
        q.put(None)
        self._workers_status[worker_id] = False

    def _shutdown_workers(self):
        if self._shutdown:
            return
        self._shutdown = True
        try:
            self._workers_done_event.set()
            for worker_id in range(len(self._workers)):
                if self._persistent_workers or self._workers_status[worker_id]:
                    self._mark_worker_as_unavailable(worker_id, shutdown=True)
            deadline = time.monotonic() + 5.0
            for w in self._workers:
                w.join(timeout=max(0.0, deadline - time.monotonic()))
            for q in self._index_queues:
                q.cancel_join_thread()
                q.close()
        finally:
            for w in self._workers:
                if w.is_alive():
                    w.terminate()
                    w.join(timeout=1.0)
            self._worker_result_queue.cancel_join_thread()
            self._worker_result_queue.close()

    def __del__(self):
        try:
            self._shutdown_workers()
        except Exception:
            pass
