"""dlcore.backends: switches of the compute backends (torch.backends' names).

    dlcore.backends.cuda.matmul.allow_tf32 = True   # float32 matmul/linear on cuda may use TF32 tensor cores

TF32 keeps 10 mantissa bits of each float32 input (products exact, float32 accumulation): about 1e-3 relative
error per product instead of 6e-8, much faster on tensor cores. Off by default, like PyTorch >= 1.12.

dlcore.backends.cudnn and dlcore.backends.mps hold torch's names for scripts that set or query them (dlcore uses
neither cuDNN nor MPS: their is_available() is False).
"""
from . import cuda  # noqa: F401
from . import cudnn  # noqa: F401  (torch's switches; dlcore does not use cuDNN)
from . import mps  # noqa: F401  (no MPS backend: is_available() is False)
