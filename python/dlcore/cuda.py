"""dlcore.cuda: CUDA device management (PyTorch's torch.cuda names).

Three builds: real CUDA (nvcc present at build time; a device is needed at run time), the SIMT emulator
(DLCORE_CUDA_EMU=ON: the CUDA kernels compiled for the CPU, one emulated device backed by host memory, every stream
synchronous), or none (every call that needs a device raises RuntimeError saying so).
"""
from __future__ import annotations

import contextlib

from . import _C


def _has(name):
    return hasattr(_C, name)


def is_available() -> bool:
    """True when dlcore was built with CUDA (or the emulator) and a device is present."""
    f = getattr(_C, "_cuda_is_available", None)
    return bool(f()) if f is not None else False


def is_emulated() -> bool:
    """True in the SIMT-emulator build (CUDA kernels running on the CPU)."""
    return bool(_C._build_info.get("cuda_emulated", False))


def is_built() -> bool:
    return bool(_C._build_info.get("cuda_built", False))


def device_count() -> int:
    f = getattr(_C, "_cuda_device_count", None)
    return int(f()) if f is not None else 0


def _no_cuda(what):
    if is_built():
        raise RuntimeError(f"{what}: no CUDA device is available (dlcore.cuda.is_available() is False)")
    raise RuntimeError(f"{what}: dlcore was built without CUDA (rebuild with nvcc present, "
                       f"-C cmake.define.DLCORE_CUDA=ON, or the emulator flavour DLCORE_CUDA_EMU=ON)")


def _require(what):
    if not is_available():
        _no_cuda(what)


def _index(device):
    if device is None:
        return current_device()
    if isinstance(device, int):
        return device
    d = device if isinstance(device, _C.device) else _C.device(device)
    if d.type != "cuda":
        raise ValueError(f"expected a cuda device, got {d}")
    return d.index


def current_device() -> int:
    _require("cuda.current_device")
    return int(_C._cuda_current_device())


def set_device(device) -> None:
    _require("cuda.set_device")
    _C._cuda_set_device(_index(device))


def get_device_name(device=None) -> str:
    _require("cuda.get_device_name")
    return _C._cuda_get_device_name(_index(device))


def get_arch(device=None) -> str:
    """'sm_90' on a real device, 'emulated' on the emulator."""
    _require("cuda.get_arch")
    return _C._cuda_get_arch(_index(device))


def synchronize(device=None) -> None:
    _require("cuda.synchronize")
    _C._cuda_synchronize()


def empty_cache() -> None:
    """Returns the caching allocator's free blocks to the device."""
    if is_available():
        _C._cuda_empty_cache()


def memory_stats(device=None) -> dict:
    _require("cuda.memory_stats")
    return dict(_C._cuda_memory_stats(_index(device)))


def memory_allocated(device=None) -> int:
    """Bytes held by live tensors (rounded to the allocator's size classes)."""
    return memory_stats(device)["allocated_bytes"]


def max_memory_allocated(device=None) -> int:
    return memory_stats(device)["peak_allocated_bytes"]


def memory_reserved(device=None) -> int:
    """Bytes obtained from the device: live tensors plus the cache."""
    return memory_stats(device)["reserved_bytes"]


def reset_peak_memory_stats(device=None) -> None:
    _require("cuda.reset_peak_memory_stats")
    _C._cuda_reset_peak_memory_stats(_index(device))


def mem_get_info(device=None):
    """(free, total) bytes on the device."""
    _require("cuda.mem_get_info")
    return tuple(_C._cuda_mem_get_info(_index(device)))


def manual_seed(seed) -> None:
    """Seeds the default generator (one Philox stream serves cpu and cuda)."""
    from ._creation import manual_seed as _ms
    _ms(seed)


manual_seed_all = manual_seed


class Stream:
    """A CUDA stream. dlcore launches its kernels on the current stream (see `stream()`); in the emulator every
    stream is synchronous."""

    def __init__(self, device=None, _handle=None):
        _require("cuda.Stream")
        self._owned = _handle is None
        self.handle = _C._cuda_stream_create() if _handle is None else _handle

    def synchronize(self) -> None:
        _C._cuda_stream_synchronize(self.handle)

    def query(self) -> bool:
        return bool(_C._cuda_stream_query(self.handle))

    def __eq__(self, other):
        return isinstance(other, Stream) and other.handle == self.handle

    def __hash__(self):
        return hash(self.handle)

    def __repr__(self):
        return f"<dlcore.cuda.Stream handle={self.handle:#x}>"

    def __del__(self):
        if getattr(self, "_owned", False) and self.handle:
            try:
                _C._cuda_stream_destroy(self.handle)
            except Exception:  # interpreter shutdown
                pass


def current_stream(device=None) -> Stream:
    _require("cuda.current_stream")
    return Stream(_handle=_C._cuda_current_stream())


def default_stream(device=None) -> Stream:
    _require("cuda.default_stream")
    return Stream(_handle=0)


@contextlib.contextmanager
def stream(s):
    """Makes s the current stream of this thread inside the block."""
    if s is None:
        yield
        return
    prev = _C._cuda_current_stream()
    _C._cuda_set_stream(s.handle)
    try:
        yield s
    finally:
        _C._cuda_set_stream(prev)


# ---- the SIMT emulator (emulated builds only) ----

def set_emulator_schedule(spec: str) -> None:
    """Thread order of the SIMT emulator: 'forward', 'reverse', 'random' or 'random:SEED'
    (default from DLCORE_SIMT_SCHEDULE)."""
    if not _has("_emu_set_schedule"):
        raise RuntimeError("cuda.set_emulator_schedule: this build does not use the SIMT emulator")
    _C._emu_set_schedule(spec)


def get_emulator_schedule() -> str:
    if not _has("_emu_get_schedule"):
        raise RuntimeError("cuda.get_emulator_schedule: this build does not use the SIMT emulator")
    return _C._emu_get_schedule()


# ---- events and graphs (torch.cuda.Event, torch.cuda.CUDAGraph, torch.cuda.graph) ----

def _handle(s):
    return (current_stream() if s is None else s).handle


class Event:
    """A CUDA event: a marker in a stream's work. record() it on a stream, then synchronize(), query() or
    elapsed_time(end) in milliseconds. In the emulator, streams are synchronous, so an event holds the host time at
    which it was recorded."""

    def __init__(self, enable_timing=False, blocking=False, interprocess=False):
        _require("cuda.Event")
        self.enable_timing = bool(enable_timing)
        self.handle = _C._cuda_event_create(self.enable_timing)

    def record(self, stream=None):
        _C._cuda_event_record(self.handle, _handle(stream))

    def wait(self, stream=None):
        """Makes future work on stream (default: the current one) wait for this event."""
        _C._cuda_stream_wait_event(_handle(stream), self.handle)

    def query(self) -> bool:
        return bool(_C._cuda_event_query(self.handle))

    def synchronize(self):
        _C._cuda_event_synchronize(self.handle)

    def elapsed_time(self, end_event) -> float:
        """Milliseconds from this event to end_event (both recorded, both created with enable_timing=True)."""
        return float(_C._cuda_event_elapsed_ms(self.handle, end_event.handle))

    def __repr__(self):
        return f"<dlcore.cuda.Event handle={self.handle:#x}>"

    def __del__(self):
        if getattr(self, "handle", 0):
            try:
                _C._cuda_event_destroy(self.handle)
            except Exception:  # interpreter shutdown
                pass


def is_current_stream_capturing() -> bool:
    """True while a CUDA graph capture is in progress (on the current stream)."""
    return is_available() and bool(_C._cuda_is_capturing())


class CUDAGraph:
    """A captured sequence of device work, replayed with one call (torch.cuda.CUDAGraph).

    The contract is torch's: the captured region must touch only device tensors whose addresses stay fixed (static
    inputs and outputs: copy new data into them before replay(), read results after it); no host<->device copies
    (.item(), .numpy(), printing) inside the region; warm up the region eagerly before capture so that lazily
    created state (optimizer buffers) exists. Tensors allocated inside the captured region come from the graph's
    private memory pool, which lives until the graph is reset or destroyed. Pools are not shared between graphs."""

    def __init__(self):
        _require("cuda.CUDAGraph")
        self._g = _C._cuda_graph_create()

    def capture_begin(self, pool=None, capture_error_mode="global"):
        if pool is not None:
            raise NotImplementedError("CUDAGraph.capture_begin: sharing a memory pool between graphs is not supported")
        _C._cuda_graph_capture_begin(self._g)

    def capture_end(self):
        _C._cuda_graph_capture_end(self._g)

    def replay(self):
        _C._cuda_graph_replay(self._g)

    def reset(self):
        """Drops the captured work and the private memory pool; the graph can be captured again."""
        _C._cuda_graph_destroy(self._g)
        self._g = _C._cuda_graph_create()

    def __del__(self):
        if getattr(self, "_g", 0):
            try:
                _C._cuda_graph_destroy(self._g)
            except Exception:  # interpreter shutdown
                pass


class graph:
    """Context manager capturing the work of its block into cuda_graph (torch.cuda.graph): synchronizes the device,
    makes a side stream current (capture cannot use the default stream), captures, and restores the stream."""

    _default_stream = None

    def __init__(self, cuda_graph, pool=None, stream=None, capture_error_mode="global"):
        if pool is not None:
            raise NotImplementedError("cuda.graph: sharing a memory pool between graphs is not supported")
        if stream is None:
            if graph._default_stream is None:
                graph._default_stream = Stream()
            stream = graph._default_stream
        self.cuda_graph = cuda_graph
        self.capture_stream = stream
        self._prev = None

    def __enter__(self):
        synchronize()
        self._prev = _C._cuda_current_stream()
        _C._cuda_set_stream(self.capture_stream.handle)
        try:
            self.cuda_graph.capture_begin()
        except BaseException:
            _C._cuda_set_stream(self._prev)
            raise

    def __exit__(self, exc_type, exc, tb):
        try:
            self.cuda_graph.capture_end()
        except Exception:
            if exc_type is None:
                raise  # else the block's own error is the one to report
        finally:
            _C._cuda_set_stream(self._prev)
        return False


# ------------------------------------------------------------------------------------------------- torch.cuda.amp

def _make_amp_module():
    """dlcore.cuda.amp (torch.cuda.amp's deprecated spellings of dlcore.amp): GradScaler and autocast with
    device 'cuda'; ``from dlcore.cuda.amp import GradScaler, autocast`` works."""
    import sys
    import types
    from . import amp as _amp

    mod = types.ModuleType(__name__ + ".amp", _make_amp_module.__doc__)

    class GradScaler(_amp.GradScaler):
        def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                     enabled=True):
            super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)

    class autocast(_amp.autocast):
        def __init__(self, enabled=True, dtype=None, cache_enabled=True):
            super().__init__("cuda", dtype, enabled, cache_enabled)

    GradScaler.__module__ = autocast.__module__ = mod.__name__
    mod.GradScaler, mod.autocast = GradScaler, autocast
    sys.modules[mod.__name__] = mod
    return mod


amp = _make_amp_module()
