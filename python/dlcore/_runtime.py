"""Runtime services: threads, build and machine information."""
from __future__ import annotations

import platform

from . import _C


def get_num_threads() -> int:
    """Threads dlcore's CPU kernels use (DLCORE_NUM_THREADS, default the cores this process may run on)."""
    return _C.get_num_threads()


def set_num_threads(n: int) -> None:
    _C.set_num_threads(int(n))


def is_tensor(obj) -> bool:
    return isinstance(obj, _C.Tensor)


def is_floating_point(t) -> bool:
    return t.dtype.is_floating_point


def numel(t) -> int:
    return t.numel()


def result_type(a, b):
    return _C.result_type(a, b)


def promote_types(a, b):
    return _C.promote_types(a, b)


def can_cast(from_, to) -> bool:
    cat = lambda d: 0 if d == _C.dtype.bool else (2 if d.is_floating_point else 1)  # noqa: E731
    return cat(from_) <= cat(to)


def info(as_dict: bool = False):
    """What this dlcore build is and what it chose on this machine: version, compiler, CPU ISA, threads, CUDA."""
    from . import cuda
    b = dict(_C._build_info)
    feats = _C._cpu_features()
    d = {
        "version": b.get("version") or "0.1.0",
        "git_revision": b.get("git_revision", ""),
        "compiler": b["compiler"],
        "build_type": b["build_type"],
        "python": platform.python_version(),
        "cpu": feats["brand"] or feats["vendor"],
        "cpu_isa_supported": _C._cpu_isa_supported(),
        "cpu_isa_active": _C._get_cpu_isa(),
        # bfloat16 matmul: the AVX512-BF16 kernel, or float32 copies (dlcore/_lowp.py)
        "cpu_bf16_gemm": "avx512_bf16" if _C._gemm_bf16_available() else "via float32",
        "threads": _C.get_num_threads(),
        "cuda_built": b["cuda_built"],
        "cuda_emulated": b["cuda_emulated"],
        "cuda_archs": b.get("cuda_archs", ""),
        "cuda_available": cuda.is_available(),
        "cuda_devices": cuda.device_count() if cuda.is_available() else 0,
    }
    if as_dict:
        return d
    lines = [f"{k:18s} {v}" for k, v in d.items()]
    return "\n".join(lines)
