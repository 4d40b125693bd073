"""torch.utils.data parity: samplers (exact against torch where deterministic, statistical where random),
default_collate/default_convert, DataLoader argument rules (torch's ValueErrors), sampler / batch_sampler /
batch_size=None, worker processes (same batches as in-process, worker_init_fn, get_worker_info, errors,
IterableDataset sharding, shutdown), ChainDataset and StackDataset."""
import collections
import multiprocessing
import os
import time

import numpy as np
import pytest

import dlcore
from dlcore.utils import data as D

torch = pytest.importorskip("torch")
TD = torch.utils.data


def as_py(x):
    """A batch (tensors of either library, nested lists/dicts) as plain Python values, for comparison."""
    if isinstance(x, (dlcore.Tensor, torch.Tensor, np.ndarray)):
        return x.tolist()
    if isinstance(x, dict):
        return {k: as_py(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(as_py(v) for v in x) if not hasattr(x, "_fields") else tuple(as_py(v) for v in x)
    return x


def dtype_name(x):
    return str(x.dtype).split(".")[-1]


def binomial_ok(count, n, p, sigmas=5.0):
    """count ~ Binomial(n, p) within `sigmas` standard deviations (plus one for discreteness)."""
    return abs(count - n * p) <= sigmas * np.sqrt(n * p * (1 - p)) + 1


class Seq(D.Dataset):
    """Map-style: sample i is (float32 [2] row, int label)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.array([i, -i], np.float32), int(i) * 10


class TorchSeq(TD.Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.array([i, -i], np.float32), int(i) * 10


# ------------------------------------------------------------------------------------------- deterministic samplers
def test_sequential_and_batch_sampler_match_torch():
    for n in (0, 1, 7, 12):
        assert list(D.SequentialSampler(range(n))) == list(TD.SequentialSampler(range(n)))
        assert len(D.SequentialSampler(range(n))) == n
        for bs in (1, 3, 5, 12, 20):
            for drop in (False, True):
                ours = D.BatchSampler(D.SequentialSampler(range(n)), bs, drop)
                ref = TD.BatchSampler(TD.SequentialSampler(range(n)), bs, drop)
                assert list(ours) == list(ref), (n, bs, drop)
                assert len(ours) == len(ref), (n, bs, drop)
    # any iterable of indices is a sampler
    assert list(D.BatchSampler([5, 3, 9, 1, 0], 2, False)) == list(TD.BatchSampler([5, 3, 9, 1, 0], 2, False))
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError) as ref:
            TD.BatchSampler(range(5), bad, False)
        with pytest.raises(ValueError, match="BatchSampler") as ours:
            D.BatchSampler(range(5), bad, False)
        assert str(ref.value) in str(ours.value)
    with pytest.raises(ValueError, match="drop_last should be a boolean value"):
        D.BatchSampler(range(5), 2, 1)


def test_distributed_sampler_no_shuffle_matches_torch():
    for n in (3, 10, 11, 16):
        for replicas in (1, 3, 4):
            for drop in (False, True):
                for rank in range(replicas):
                    ours = D.DistributedSampler(range(n), num_replicas=replicas, rank=rank, shuffle=False,
                                                drop_last=drop)
                    ref = TD.DistributedSampler(range(n), num_replicas=replicas, rank=rank, shuffle=False,
                                                drop_last=drop)
                    assert list(ours) == list(ref), (n, replicas, rank, drop)
                    assert len(ours) == len(ref) == len(list(ours))
                    assert ours.total_size == ref.total_size


def _ranks(n, replicas, epoch=0, seed=0, drop=False):
    out = []
    for r in range(replicas):
        s = D.DistributedSampler(range(n), num_replicas=replicas, rank=r, shuffle=True, seed=seed, drop_last=drop)
        s.set_epoch(epoch)
        out.append(list(s))
    return out


def test_distributed_sampler_shuffle_structure():
    for n, replicas in ((10, 3), (11, 4), (3, 4), (12, 4)):
        parts = _ranks(n, replicas)
        ref_len = len(TD.DistributedSampler(range(n), num_replicas=replicas, rank=0))
        assert all(len(p) == ref_len for p in parts)  # every rank gets the same count, like torch
        total = ref_len * replicas
        full = [None] * total  # undo the rank interleaving: full[r::R] is rank r's share
        for r, p in enumerate(parts):
            full[r:total:replicas] = p
        assert sorted(full[:n]) == list(range(n))  # a permutation of the dataset ...
        pad = total - n
        head = (full[:n] * (pad // n + 1))[:pad]
        assert full[n:] == head  # ... padded by repeating its head, like torch
        assert _ranks(n, replicas) == parts  # deterministic for a fixed seed and epoch
    a, b = _ranks(50, 2, epoch=0), _ranks(50, 2, epoch=1)
    assert a != b and sorted(sum(a, [])) == sorted(sum(b, [])) == list(range(50))
    assert _ranks(50, 2, seed=1) != a
    parts = _ranks(11, 4, drop=True)
    ref_len = len(TD.DistributedSampler(range(11), num_replicas=4, rank=0, drop_last=True))
    assert all(len(p) == ref_len for p in parts)
    flat = sum(parts, [])
    assert len(set(flat)) == len(flat) == ref_len * 4  # drop_last: no repeats


def test_distributed_sampler_errors():
    with pytest.raises(ValueError) as ref:
        TD.DistributedSampler(range(5), num_replicas=4, rank=4)
    with pytest.raises(ValueError, match="DistributedSampler") as ours:
        D.DistributedSampler(range(5), num_replicas=4, rank=4)
    assert str(ref.value) in str(ours.value)
    with pytest.raises(ValueError, match="Invalid rank -1"):
        D.DistributedSampler(range(5), num_replicas=4, rank=-1)
    with pytest.raises(RuntimeError, match="num_replicas and rank"):
        D.DistributedSampler(range(5))


# ------------------------------------------------------------------------------------------------ random samplers
def test_random_sampler_permutations_and_generator():
    n = 23
    g = dlcore.Generator().manual_seed(7)
    s = D.RandomSampler(range(n), generator=g)
    e0, e1 = list(s), list(s)
    assert sorted(e0) == sorted(e1) == list(range(n)) and e0 != e1 and len(s) == n
    assert list(D.RandomSampler(range(n), generator=dlcore.Generator().manual_seed(7))) == e0  # reproducible
    assert list(D.RandomSampler(range(n), generator=dlcore.Generator().manual_seed(8))) != e0
    # num_samples beyond len without replacement: whole permutations, then a partial one without repeats
    out = list(D.RandomSampler(range(n), num_samples=2 * n + 5, generator=g))
    assert len(out) == 2 * n + 5
    assert sorted(out[:n]) == sorted(out[n:2 * n]) == list(range(n))
    assert len(set(out[2 * n:])) == 5
    # no generator: the default one, so dlcore.manual_seed makes it reproducible
    dlcore.manual_seed(3)
    a = list(D.RandomSampler(range(n)))
    dlcore.manual_seed(3)
    assert list(D.RandomSampler(range(n))) == a and sorted(a) == list(range(n))
    for kwargs, exc in (({"replacement": 1}, TypeError), ({"num_samples": 0}, ValueError),
                        ({"num_samples": 2.5}, ValueError)):
        with pytest.raises(exc) as ref:
            TD.RandomSampler(range(n), **kwargs)
        with pytest.raises(exc, match="RandomSampler") as ours:
            D.RandomSampler(range(n), **kwargs)
        assert str(ref.value) in str(ours.value)


def test_random_sampler_with_replacement_is_uniform():
    n, k = 5, 20000
    s = D.RandomSampler(range(n), replacement=True, num_samples=k, generator=dlcore.Generator().manual_seed(1))
    out = np.array(list(s))
    assert len(s) == k and out.shape == (k,) and out.min() >= 0 and out.max() < n
    counts = np.bincount(out, minlength=n)
    assert all(binomial_ok(c, k, 1 / n) for c in counts), counts
    assert len(list(D.RandomSampler(range(n), replacement=True, num_samples=7))) == 7  # not a multiple of 32


def test_subset_random_sampler():
    idx = [10, 4, 7, 99, 3]
    g = dlcore.Generator().manual_seed(5)
    s = D.SubsetRandomSampler(idx, generator=g)
    draws = [list(s) for _ in range(200)]
    assert all(sorted(d) == sorted(idx) for d in draws) and len(s) == 5
    firsts = collections.Counter(d[0] for d in draws)
    assert set(firsts) == set(idx)  # every index comes first sometimes
    assert list(D.SubsetRandomSampler(idx, generator=dlcore.Generator().manual_seed(5))) == draws[0]


def test_weighted_random_sampler_frequencies():
    w = [1.0, 2.0, 3.0, 0.0, 4.0]
    p = np.array(w) / sum(w)
    k = 20000
    s = D.WeightedRandomSampler(w, k, generator=dlcore.Generator().manual_seed(2))
    out = np.array(list(s))
    assert len(s) == k and out.shape == (k,)
    counts = np.bincount(out, minlength=len(w))
    assert counts[3] == 0  # zero weight: never drawn
    assert all(binomial_ok(c, k, pi) for c, pi in zip(counts, p)), counts
    # without replacement: a permutation of the non-zero-weight indices; the first pick is weight-proportional
    g = dlcore.Generator().manual_seed(4)
    s = D.WeightedRandomSampler(dlcore.tensor(w), 4, replacement=False, generator=g)
    trials = 3000
    firsts = np.zeros(len(w), int)
    for _ in range(trials):
        d = list(s)
        assert sorted(d) == [0, 1, 2, 4]
        firsts[d[0]] += 1
    assert all(binomial_ok(c, trials, pi) for c, pi in zip(firsts, p)), firsts
    # second pick given the first: P(second = j | first = 4) = w_j / (sum - w_4)
    with pytest.raises(RuntimeError, match="without replacement"):
        list(D.WeightedRandomSampler(w, 5, replacement=False))
    for args in (([[1.0, 2.0]], 2), (w, 0), (w, 2.0)):
        with pytest.raises(ValueError) as ref:
            TD.WeightedRandomSampler(*args)
        with pytest.raises(ValueError, match="WeightedRandomSampler") as ours:
            D.WeightedRandomSampler(*args)
        assert str(ref.value) in str(ours.value)
    with pytest.raises(RuntimeError, match="non-negative"):
        list(D.WeightedRandomSampler([1.0, -1.0], 3))


# ---------------------------------------------------------------------------------------------------- collation
Point = collections.namedtuple("Point", ["x", "y"])


def test_default_collate_and_convert_match_torch():
    cases = [
        [0, 1, 2],
        [0.5, 1.5],
        [True, False],
        [np.float32(1.5), np.float32(2.5)],
        [np.int32(3), np.int32(4)],
        [np.arange(3, dtype=np.int64), np.arange(3, 6, dtype=np.int64)],
        [np.ones((2, 2), np.float64), np.zeros((2, 2), np.float64)],
        [np.array([1, 2], np.uint8), np.array([3, 4], np.uint8)],
        ["a", "b"],
        [{"a": 1, "b": np.float32(2.0)}, {"a": 3, "b": np.float32(4.0)}],
        [Point(1, 2.0), Point(3, 4.0)],
        [(np.zeros(2, np.float32), 1), (np.ones(2, np.float32), 2)],
        [[1, 2], [3, 4]],
    ]
    for batch in cases:
        ours, ref = D.default_collate(batch), TD.default_collate(batch)
        assert type(ours).__name__ == type(ref).__name__, (batch, ours, ref)
        assert as_py(ours) == as_py(ref), batch
        flat_o = ours.values() if isinstance(ours, dict) else ours if isinstance(ours, (list, tuple)) else [ours]
        flat_r = ref.values() if isinstance(ref, dict) else ref if isinstance(ref, (list, tuple)) else [ref]
        for o, r in zip(flat_o, flat_r):
            if isinstance(r, torch.Tensor):
                assert isinstance(o, dlcore.Tensor) and dtype_name(o) == dtype_name(r), (batch, o, r)
    t = [dlcore.tensor([1.0, 2.0]), dlcore.tensor([3.0, 4.0])]
    assert D.default_collate(t).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(RuntimeError, match="equal size"):
        D.default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate"):
        D.default_collate([object(), object()])
    for sample in (np.arange(3), (np.arange(2), 5, "s"), {"k": np.float32(1.0)}, Point(np.int64(1), 2), 7, "x"):
        ours, ref = D.default_convert(sample), TD.default_convert(sample)
        assert type(ours).__name__ == type(ref).__name__ and as_py(ours) == as_py(ref), sample


# ---------------------------------------------------------------------------------------- DataLoader: arguments
class It(D.IterableDataset):
    """0..n-1, split round-robin between DataLoader workers."""

    def __init__(self, n, with_len=True):
        self.n = n
        self.with_len = with_len

    def __iter__(self):
        wi = D.get_worker_info()
        return iter(range(self.n) if wi is None else range(wi.id, self.n, wi.num_workers))

    def __len__(self):
        if not self.with_len:
            raise TypeError("It has no len")
        return self.n


class TorchIt(TD.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        wi = TD.get_worker_info()
        return iter(range(self.n) if wi is None else range(wi.id, self.n, wi.num_workers))

    def __len__(self):
        return self.n


def test_dataloader_argument_errors_match_torch():
    ours_ds, ref_ds = Seq(6), TorchSeq(6)
    o_bs, r_bs = D.BatchSampler(range(6), 2, False), TD.BatchSampler(range(6), 2, False)
    cases = [
        dict(sampler="S", shuffle=True),
        dict(batch_sampler="B", batch_size=2),
        dict(batch_sampler="B", shuffle=True),
        dict(batch_sampler="B", sampler="S"),
        dict(batch_sampler="B", drop_last=True),
        dict(batch_size=None, drop_last=True),
        dict(num_workers=-1),
        dict(timeout=-1),
        dict(prefetch_factor=2),
        dict(persistent_workers=True),
        dict(batch_size=0),
        dict(multiprocessing_context="fork"),
    ]
    for kw in cases:
        def make(lib):
            k = dict(kw)
            if k.get("sampler") == "S":
                k["sampler"] = range(6)
            if k.get("batch_sampler") == "B":
                k["batch_sampler"] = o_bs if lib is D else r_bs
            return k
        with pytest.raises(ValueError) as ref:
            TD.DataLoader(ref_ds, **make(TD))
        with pytest.raises(ValueError, match="DataLoader") as ours:
            D.DataLoader(ours_ds, **make(D))
        assert str(ref.value) in str(ours.value), (kw, str(ref.value), str(ours.value))
    o_s, r_s = D.SequentialSampler(range(3)), TD.SequentialSampler(range(3))
    for key, o_val, r_val in (("shuffle", True, True), ("sampler", o_s, r_s), ("batch_sampler", o_bs, r_bs)):
        with pytest.raises(ValueError) as ref:
            TD.DataLoader(TorchIt(3), **{key: r_val})
        with pytest.raises(ValueError, match="DataLoader") as ours:
            D.DataLoader(It(3), **{key: o_val})
        assert str(ref.value).replace(repr(r_val), repr(o_val)) in str(ours.value)
    dl, rl = D.DataLoader(ours_ds), TD.DataLoader(ref_ds)
    for attr in ("batch_size", "sampler", "drop_last", "dataset"):
        with pytest.raises(ValueError) as ref:
            setattr(rl, attr, 3)
        with pytest.raises(ValueError) as ours:
            setattr(dl, attr, 3)
        assert str(ours.value) == str(ref.value)


def test_dataloader_len_rules_match_torch():
    configs = [dict(batch_size=4), dict(batch_size=4, drop_last=True), dict(batch_size=None), dict(batch_size=11),
               dict(batch_size=11, drop_last=True)]
    for kw in configs:
        assert len(D.DataLoader(Seq(10), **kw)) == len(TD.DataLoader(TorchSeq(10), **kw)), kw
        assert len(D.DataLoader(It(10), **kw)) == len(TD.DataLoader(TorchIt(10), **kw)), kw
    bs_o, bs_r = D.BatchSampler(range(7), 3, True), TD.BatchSampler(range(7), 3, True)
    assert len(D.DataLoader(Seq(10), batch_sampler=bs_o)) == len(TD.DataLoader(TorchSeq(10), batch_sampler=bs_r))
    with pytest.raises(TypeError):
        len(D.DataLoader(It(10, with_len=False), batch_size=2))


# ------------------------------------------------------------------------------------ DataLoader: in-process reads
def test_dataloader_batches_match_torch():
    order = [5, 3, 9, 0, 1, 8, 2]
    configs = [dict(batch_size=3), dict(batch_size=3, drop_last=True), dict(batch_size=None),
               dict(sampler=order, batch_size=2), dict(sampler=order, batch_size=None),
               dict(batch_sampler=[[1, 2], [9], [4, 0, 3]]), dict(batch_size=4, collate_fn=lambda b: b)]
    for kw in configs:
        ours = [as_py(b) for b in D.DataLoader(Seq(10), prefetch=0, **kw)]
        ref = [as_py(b) for b in TD.DataLoader(TorchSeq(10), **kw)]
        assert ours == ref, kw
        ours = list(D.DataLoader(Seq(10), **kw))  # with the prefetch thread: same batches
        assert [as_py(b) for b in ours] == ref, kw
    b = next(iter(D.DataLoader(Seq(10), batch_size=None)))  # no auto-batching: default_convert of one sample
    assert isinstance(b, list) and isinstance(b[0], dlcore.Tensor) and b[0].shape == (2,) and b[1] == 0
    x, y = next(iter(D.DataLoader(Seq(10), batch_size=4)))
    assert x.dtype == dlcore.float32 and y.dtype == dlcore.int64 and x.shape == (4, 2)
    for kw in (dict(batch_size=3), dict(batch_size=3, drop_last=True), dict(batch_size=None)):
        ours = [as_py(b) for b in D.DataLoader(It(8), **kw)]
        assert ours == [as_py(b) for b in TD.DataLoader(TorchIt(8), **kw)], kw
        assert [as_py(b) for b in D.DataLoader(It(8), prefetch=0, **kw)] == ours


def test_tensor_dataset_rows_and_batch_fast_path_match_torch():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    y = np.arange(6)
    ours = D.TensorDataset(dlcore.tensor(x), dlcore.tensor(y))
    ref = TD.TensorDataset(torch.tensor(x), torch.tensor(y))
    a, b = ours[2], ref[2]
    assert isinstance(a, tuple) and all(isinstance(t, dlcore.Tensor) for t in a)  # tensor rows, like torch
    assert as_py(a) == as_py(b) and [dtype_name(t) for t in a] == [dtype_name(t) for t in b]
    fast = list(D.DataLoader(ours, batch_size=4))  # the whole-batch get_batch read
    slow = list(D.DataLoader(ours, batch_size=4, collate_fn=lambda s: D.default_collate(s)))  # sample by sample
    want = list(TD.DataLoader(ref, batch_size=4))
    assert [as_py(f) for f in fast] == [as_py(s) for s in slow] == [as_py(w) for w in want]
    for f, s, w in zip(fast, slow, want):
        assert type(f) is type(s) is list
        assert [dtype_name(t) for t in f] == [dtype_name(t) for t in s] == [dtype_name(t) for t in w]
    r = D.TensorDataset(x, y)[1]  # NumPy in, NumPy rows out (a dlcore extension)
    assert isinstance(r[0], np.ndarray) and r[0].tolist() == [2.0, 3.0] and r[1] == 1


def test_dataloader_samplers_and_generator():
    n = 40
    w = np.zeros(n)
    w[[3, 7]] = 1.0
    dl = D.DataLoader(Seq(n), batch_size=8, sampler=D.WeightedRandomSampler(w, 16))
    labels = np.concatenate([b[1].numpy() for b in dl])
    assert len(dl) == 2 and set(labels.tolist()) <= {30, 70} and labels.size == 16
    dl = D.DataLoader(Seq(n), batch_sampler=D.BatchSampler(D.SubsetRandomSampler(range(10, 20)), 4, False))
    batches = [b[1].numpy().tolist() for b in dl]
    assert [len(b) for b in batches] == [4, 4, 2] and sorted(sum(batches, [])) == list(range(100, 200, 10))
    dist = [D.DataLoader(Seq(10), batch_size=2,
                         sampler=D.DistributedSampler(Seq(10), num_replicas=2, rank=r, shuffle=False))
            for r in range(2)]
    ref = [TD.DataLoader(TorchSeq(10), batch_size=2,
                         sampler=TD.DistributedSampler(TorchSeq(10), num_replicas=2, rank=r, shuffle=False))
           for r in range(2)]
    assert [[as_py(b) for b in d] for d in dist] == [[as_py(b) for b in d] for d in ref]
    # shuffle with a generator (and no seed): torch's semantics, the generator's stream decides the order
    def two_epochs():
        dl = D.DataLoader(Seq(n), batch_size=8, shuffle=True, generator=dlcore.Generator().manual_seed(11))
        return [[y for b in dl for y in as_py(b[1])] for _ in range(2)]

    a, b = two_epochs(), two_epochs()
    assert a == b and a[0] != a[1]  # reproducible from the generator's seed, a new order per epoch
    assert sorted(a[0]) == sorted(a[1]) == list(range(0, 10 * n, 10))
    assert isinstance(D.DataLoader(Seq(n), shuffle=True).sampler, D.RandomSampler)


def test_dataloader_timeout_in_prefetch_thread():
    class Slow(D.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            time.sleep(0.6)
            return i

    with pytest.raises(RuntimeError, match="timed out after 0.1 seconds"):
        next(iter(D.DataLoader(Slow(), batch_size=1, timeout=0.1, prefetch=2)))
    assert next(iter(D.DataLoader(Slow(), batch_size=1, timeout=0.1))).tolist() == [0]  # no thread: unused, as torch


# ------------------------------------------------------------------------------------ DataLoader: worker processes
class Tagged(D.Dataset):
    """Samples say which worker read them, with its seed and the tag worker_init_fn set on the worker's copy."""

    def __init__(self, n, fail_at=None):
        self.n = n
        self.tag = "main"
        self.fail_at = fail_at

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.fail_at:
            raise ValueError(f"sample {i} is corrupt")
        wi = D.get_worker_info()
        wid, nw, seed = (-1, 0, -1) if wi is None else (wi.id, wi.num_workers, wi.seed)
        same = wi is not None and wi.dataset is self
        return {"i": i, "x": np.full((2,), i, np.float32), "worker": wid, "nw": nw, "seed": seed,
                "tag": self.tag, "same": same, "pid": os.getpid()}


def _set_tag(worker_id):
    info = D.get_worker_info()
    info.dataset.tag = f"init{worker_id}"


def test_workers_same_batches_as_in_process():
    ds = D.TensorDataset(np.arange(46, dtype=np.float32).reshape(23, 2), np.arange(23))
    kw = dict(batch_size=4, shuffle=True, seed=3)
    ref = [as_py(b) for b in D.DataLoader(ds, prefetch=0, **kw)]
    dl = D.DataLoader(ds, num_workers=2, **kw)
    ours = [as_py(b) for b in dl]
    assert ours == ref and len(ours) == len(dl) == 6
    # a generator-driven shuffle (torch's RandomSampler(generator=...)) is also the same with workers
    runs = [[as_py(b) for b in D.DataLoader(ds, batch_size=4, shuffle=True, num_workers=w,
                                            generator=dlcore.Generator().manual_seed(5))] for w in (0, 2)]
    assert runs[0] == runs[1] and sorted(sum((b[1] for b in runs[0]), [])) == list(range(23))
    # persistent workers: the same workers serve every epoch, and epoch e is the in-process epoch e
    dl = D.DataLoader(ds, num_workers=2, persistent_workers=True, prefetch_factor=1, **kw)
    ref_dl = D.DataLoader(ds, prefetch=0, **kw)
    for _ in range(2):
        assert [as_py(b) for b in dl] == [as_py(b) for b in ref_dl]
    it = dl._iterator
    assert all(w.is_alive() for w in it._workers)
    it._shutdown_workers()
    assert not any(w.is_alive() for w in it._workers)


def test_worker_info_and_worker_init_fn():
    dl = D.DataLoader(Tagged(12), batch_size=3, num_workers=2, worker_init_fn=_set_tag,
                      generator=dlcore.Generator().manual_seed(0))
    batches = list(dl)
    assert [b["i"].tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]
    assert batches[0]["x"].dtype == dlcore.float32 and batches[0]["tag"] == ["init0"] * 3
    seeds = {}
    for b in batches:
        wid = b["worker"].tolist()
        assert len(set(wid)) == 1 and wid[0] in (0, 1)  # one batch, one worker
        assert b["nw"].tolist() == [2, 2, 2] and b["tag"] == [f"init{wid[0]}"] * 3
        assert b["same"].tolist() == [True] * 3 and b["pid"].tolist()[0] != os.getpid()
        seeds.setdefault(wid[0], set()).update(b["seed"].tolist())
    assert set(seeds) == {0, 1} and all(len(s) == 1 for s in seeds.values())
    s0, s1 = seeds[0].pop(), seeds[1].pop()
    assert s1 == s0 + 1  # seed = base_seed + worker id, like torch
    assert D.get_worker_info() is None  # in the main process


def test_worker_exception_reaches_main_process():
    dl = D.DataLoader(Tagged(8, fail_at=5), batch_size=2, num_workers=2)
    it = iter(dl)
    assert next(it)["i"].tolist() == [0, 1] and next(it)["i"].tolist() == [2, 3]
    with pytest.raises(ValueError) as e:
        next(it)
    msg = str(e.value)
    assert "in DataLoader worker process" in msg and "sample 5 is corrupt" in msg
    assert "Traceback" in msg and "__getitem__" in msg  # the worker's traceback text
    assert next(it)["i"].tolist() == [6, 7]  # the loader goes on after a bad batch, like torch
    with pytest.raises(StopIteration):
        next(it)
    assert not any(w.is_alive() for w in it._workers)  # exhausted: workers shut down

    def boom(worker_id):
        raise KeyError(f"init failed in {worker_id}")

    with pytest.raises(KeyError, match="init failed in"):
        list(D.DataLoader(Tagged(4), batch_size=2, num_workers=2, worker_init_fn=boom))


def test_iterable_dataset_sharded_by_worker():
    for kw in (dict(batch_size=3), dict(batch_size=3, drop_last=True), dict(batch_size=None)):
        ours = [as_py(b) for b in D.DataLoader(It(11), num_workers=2, **kw)]
        ref = [as_py(b) for b in TD.DataLoader(TorchIt(11), num_workers=2, **kw)]
        assert ours == ref, kw
    # each worker iterates its own copy: a dataset that does not shard itself is read once per worker (torch too)
    ours = [as_py(b) for b in D.DataLoader(D.ChainDataset([Plain(3), Plain(2)]), batch_size=2, num_workers=2)]
    ref = [as_py(b) for b in TD.DataLoader(TD.ChainDataset([TorchPlain(3), TorchPlain(2)]), batch_size=2,
                                            num_workers=2)]
    assert ours == ref and sorted(sum(ours, [])) == sorted([0, 1, 2, 0, 1] * 2)


class Plain(D.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))


class TorchPlain(TD.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))


def test_workers_shut_down_when_iterator_is_deleted():
    dl = D.DataLoader(Tagged(40), batch_size=2, num_workers=2)
    it = iter(dl)
    next(it)
    workers = list(it._workers)
    assert all(w.is_alive() for w in workers)
    del it
    deadline = time.monotonic() + 10
    while any(w.is_alive() for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(w.is_alive() for w in workers)
    assert not [p for p in multiprocessing.active_children() if p in workers]


def test_workers_shut_down_when_iterator_dies_in_a_reference_cycle():
    # collected by the cycle collector, the iterator's queues may be finalized before its __del__ runs
    import gc
    it = iter(D.DataLoader(Tagged(40), batch_size=2, num_workers=2, in_order=False))
    got = next(it)["i"].tolist()
    assert got in ([0, 1], [2, 3])  # in_order=False: whichever batch is ready first
    workers = list(it._workers)
    holder = {"it": it}
    holder["self"] = holder
    del it, holder
    gc.collect()
    deadline = time.monotonic() + 10
    while any(w.is_alive() for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(w.is_alive() for w in workers)
    assert all(w.exitcode == 0 for w in workers)  # they exited by themselves, not by terminate()


def test_worker_timeout():
    class Slow(D.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            time.sleep(0.5)
            return i

    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.1 seconds"):
        next(iter(D.DataLoader(Slow(), batch_size=1, num_workers=1, timeout=0.1)))


def test_worker_that_dies_is_reported():
    class Dies(D.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            if D.get_worker_info() is not None and i == 2:
                time.sleep(0.3)  # let the earlier batch leave the queue's feeder thread first
                os._exit(3)
            return i

    it = iter(D.DataLoader(Dies(), batch_size=2, num_workers=1))
    assert next(it).tolist() == [0, 1]
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpectedly"):
        next(it)


# ---------------------------------------------------------------------------------------------- chain and stack
def test_chain_dataset_matches_torch():
    ours = D.ChainDataset([It(3), It(4)])
    ref = TD.ChainDataset([TorchIt(3), TorchIt(4)])
    assert list(ours) == list(ref) and len(ours) == len(ref) == 7
    assert list(It(2) + It(3)) == [0, 1, 0, 1, 2] and isinstance(It(2) + It(3), D.ChainDataset)
    with pytest.raises(TypeError, match="ChainDataset only supports IterableDataset"):
        list(D.ChainDataset([It(2), Seq(3)]))
    cat = Seq(3) + Seq(2)
    assert isinstance(cat, D.ConcatDataset) and len(cat) == 5 and cat[4][1] == 10
    assert cat.cumulative_sizes == TD.ConcatDataset([TorchSeq(3), TorchSeq(2)]).cumulative_sizes
    with pytest.raises(TypeError, match="IterableDataset"):
        D.ConcatDataset([It(3)])


def test_stack_dataset_matches_torch():
    a, b = [1, 2, 3], ["x", "y", "z"]
    assert D.StackDataset(a, b)[1] == TD.StackDataset(a, b)[1] == (2, "y")
    assert D.StackDataset(n=a, s=b)[2] == TD.StackDataset(n=a, s=b)[2] == {"n": 3, "s": "z"}
    assert len(D.StackDataset(a, b)) == 3
    o = D.StackDataset(x=Seq(5), y=list(range(5)))
    r = TD.StackDataset(x=TorchSeq(5), y=list(range(5)))
    assert as_py(o.__getitems__([4, 0])) == as_py([o[4], o[0]]) == as_py([r[4], r[0]])
    kw = dict(batch_size=2)
    assert [as_py(x) for x in D.DataLoader(o, prefetch=0, **kw)] == [as_py(x) for x in TD.DataLoader(r, **kw)]
    for args, kwargs in (((a, b[:2]), {}), ((a,), {"s": b}), ((), {})):
        with pytest.raises(ValueError):
            TD.StackDataset(*args, **kwargs)
        with pytest.raises(ValueError, match="StackDataset"):
            D.StackDataset(*args, **kwargs)
