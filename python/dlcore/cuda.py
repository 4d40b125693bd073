"""dlcore.cuda: CUDA device management. Without a CUDA build (or the SIMT-emulator build) nothing is available."""
from __future__ import annotations

from . import _C


def is_available() -> bool:
    """True when dlcore was built with CUDA (or the emulator) and a device is present."""
    f = getattr(_C, "_cuda_is_available", None)
    return bool(f()) if f is not None else False


def is_emulated() -> bool:
    return bool(_C._build_info.get("cuda_emulated", False))


def device_count() -> int:
    f = getattr(_C, "_cuda_device_count", None)
    return int(f()) if f is not None else 0


def _no_cuda(what):
    raise RuntimeError(f"{what}: dlcore was built without CUDA (rebuild with nvcc present, "
                       f"-C cmake.define.DLCORE_CUDA=ON, or the emulator flavour DLCORE_CUDA_EMU=ON)")


def synchronize(device=None) -> None:
    f = getattr(_C, "_cuda_synchronize", None)
    if f is None:
        _no_cuda("cuda.synchronize")
    f()


def manual_seed(seed) -> None:
    from ._creation import manual_seed as _ms
    _ms(seed)


manual_seed_all = manual_seed
