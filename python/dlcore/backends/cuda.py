"""dlcore.backends.cuda: the CUDA backend's switches (see dlcore.backends)."""
from __future__ import annotations

from .. import _C


class _MatmulSettings:
    """dlcore.backends.cuda.matmul: allow_tf32 (bool, default False) lets float32 GEMMs on cuda (matmul, @,
    linear, addmm and the layers built on them) use TF32 tensor cores. In a build without CUDA the flag is kept and
    has no effect."""

    def __init__(self):
        self._allow_tf32 = False

    @property
    def allow_tf32(self) -> bool:
        f = getattr(_C, "_gemm_cuda_get_allow_tf32", None)
        return bool(f()) if f is not None else self._allow_tf32

    @allow_tf32.setter
    def allow_tf32(self, value) -> None:
        if not isinstance(value, bool):
            raise TypeError(f"dlcore.backends.cuda.matmul.allow_tf32 must be a bool, got {type(value).__name__}")
        self._allow_tf32 = value
        f = getattr(_C, "_gemm_cuda_set_allow_tf32", None)
        if f is not None:
            f(value)

    def __repr__(self):
        return f"dlcore.backends.cuda.matmul(allow_tf32={self.allow_tf32})"


matmul = _MatmulSettings()


def is_built() -> bool:
    """True when dlcore was built with CUDA (real or emulated)."""
    return bool(_C._build_info.get("cuda_built", False))
