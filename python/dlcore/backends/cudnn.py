"""dlcore.backends.cudnn: torch.backends.cudnn's names, so that training scripts that set its switches run.

dlcore does not use cuDNN (its convolutions are its own kernels), so is_available() is False and version() None,
as in a torch build without cuDNN. The switches (enabled, benchmark, deterministic, allow_tf32) are kept as plain
booleans and change no result: dlcore's kernels do not autotune (benchmark), are deterministic for a given thread
count on CPU (deterministic), and use TF32 only through dlcore.backends.cuda.matmul.allow_tf32.
"""
from __future__ import annotations

enabled = True
benchmark = False
benchmark_limit = 10
deterministic = False
allow_tf32 = True  # torch's default for cuDNN convolutions


def is_available() -> bool:
    """False: dlcore is not built on cuDNN."""
    return False


def version():
    """None: no cuDNN library is linked."""
    return None


def is_acceptable(tensor) -> bool:
    """False: no tensor is processed by cuDNN in dlcore."""
    return False
