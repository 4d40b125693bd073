"""dlcore.accelerator: torch.accelerator's device-agnostic queries (PyTorch >= 2.6), as in the current tutorials'

    device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"

dlcore's only accelerator is CUDA (a real device or the SIMT emulator): current_accelerator() is cuda in a build
with CUDA, None in a CPU-only build; the other functions forward to dlcore.cuda.
"""
from __future__ import annotations

from . import _C
from . import cuda as _cuda

__all__ = ["current_accelerator", "is_available", "device_count", "current_device_index", "current_device_idx",
           "set_device_index", "set_device_idx", "synchronize"]


def current_accelerator(check_available: bool = False):
    """The accelerator dlcore was built with (dlcore.device('cuda')), or None; check_available=True also
    requires a device to be present."""
    if not _cuda.is_built():
        return None
    if check_available and not _cuda.is_available():
        return None
    return _C.device("cuda")


def is_available() -> bool:
    """True when the build has an accelerator and at least one device is visible."""
    return current_accelerator(check_available=True) is not None


def device_count() -> int:
    """The number of accelerator devices (0 without one)."""
    return _cuda.device_count() if _cuda.is_built() else 0


def current_device_index() -> int:
    """The index of the current accelerator device (RuntimeError without one)."""
    return _cuda.current_device()


current_device_idx = current_device_index


def set_device_index(device) -> None:
    """Selects the current accelerator device (an index, 'cuda:i' or a device)."""
    _cuda.set_device(device)


set_device_idx = set_device_index


def synchronize(device=None) -> None:
    """Waits for the accelerator's queued work (RuntimeError without one)."""
    _cuda.synchronize(device)
