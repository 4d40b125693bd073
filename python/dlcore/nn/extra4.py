"""More torch.nn modules: FractionalMaxPool2d/3d (over dlcore._nn_extra4), CrossMapLRN2d (torch's legacy
cross-channel LRN), SyncBatchNorm (+ convert_sync_batchnorm), and the deprecated NLLLoss2d and Container."""
from __future__ import annotations

import warnings

import numpy as np

from .. import _C
from .. import functional as F
from .layers import _BatchNorm, NLLLoss
from .module import Module

Tensor = _C.Tensor

__all__ = ["FractionalMaxPool2d", "FractionalMaxPool3d", "CrossMapLRN2d", "SyncBatchNorm", "NLLLoss2d", "Container"]


def _tuple(v, n):
    if isinstance(v, (tuple, list)):
        return tuple(v) if len(v) != 1 else tuple(v) * n
    return (v,) * n


# ------------------------------------------------------------------------------------------------- pooling

class _FractionalMaxPoolNd(Module):
    _nsp = 2

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                 _random_samples=None):
        super().__init__()
        n = self._nsp
        name = type(self).__name__
        if isinstance(kernel_size, (tuple, list)):
            bad = not all(isinstance(k, int) and k > 0 for k in kernel_size)
        else:
            bad = not (isinstance(kernel_size, int) and kernel_size > 0)
        if bad:
            raise ValueError(f"{name}: kernel_size must be greater than 0, but got {kernel_size}")
        self.kernel_size = _tuple(kernel_size, n)
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = _tuple(output_size, n) if output_size is not None else None
        self.output_ratio = _tuple(output_ratio, n) if output_ratio is not None else None
        if output_size is None and output_ratio is None:
            raise ValueError(f"{name} requires specifying either an output size, or a pooling ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None and not all(0 < r < 1 for r in self.output_ratio):
            raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")

    def forward(self, input):
        f = F.fractional_max_pool2d if self._nsp == 2 else F.fractional_max_pool3d
        return f(input, self.kernel_size, self.output_size, self.output_ratio, self.return_indices,
                 _random_samples=self._random_samples)


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    """2-d fractional max pooling over [N, C, H, W] / [C, H, W] (F.fractional_max_pool2d); _random_samples, a
    [N, C, 2] buffer, fixes the pseudo-random window steps (else fresh samples are drawn each call)."""
    _nsp = 2


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    """3-d fractional max pooling over [N, C, T, H, W] / [C, T, H, W]; _random_samples is [N, C, 3]."""
    _nsp = 3


# ------------------------------------------------------------------------------------------------- normalisation

def _cross_map_window(channels, size):
    """[C, C] 0/1 matrix M: scale[c] = sum_j M[c, j] x[j]^2, as torch's legacy running-sum computes it. With
    pre_pad = int((size - 1) / 2 + 1), channel c sums channels [c - pre_pad + 1, c + pre_pad - 1] (clipped to
    [0, C)) and, for c >= pre_pad, channel 0 as well: torch's loop removes channel c - pre_pad only when
    c > pre_pad, so channel 0 is never removed. (For odd size and C <= pre_pad this is LocalResponseNorm's
    window; for even sizes the window is size - 1 wide.)"""
    pre_pad = int((size - 1) / 2 + 1)
    m = np.zeros((channels, channels))
    for c in range(channels):
        m[c, max(0, c - pre_pad + 1):min(channels, c + pre_pad)] = 1.0
        if c >= pre_pad:
            m[c, 0] = 1.0
    return m


class CrossMapLRN2d(Module):
    """torch.nn.CrossMapLRN2d (the legacy Lua-torch module): over a 4-D input [N, C, H, W],
        scale[n, c] = k + alpha / size * sum_{j in window(c)} x[n, j]^2,   y = x * scale^(-beta),
    with torch's channel window (see _cross_map_window). The forward equals torch's exactly (up to summation
    order); the gradient is the true derivative of this forward (autograd through the composed ops, so double
    backward works too). torch's hand-written CrossMapLRN2d backward is not the derivative of its own forward (it
    fails torch.autograd.gradcheck), so its gradients are deliberately not reproduced."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        from .. import _ops
        if not isinstance(input, Tensor):
            raise TypeError(f"CrossMapLRN2d: expected a Tensor input, got {type(input).__name__}")
        if input.dim() != 4:
            raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.dim()}D instead.")
        if not input.dtype.is_floating_point:
            raise TypeError(f"CrossMapLRN2d: expected a floating-point input, got dtype {input.dtype.name}")
        if not isinstance(self.size, int) or self.size < 1:
            raise ValueError(f"CrossMapLRN2d: size must be a positive int, got {self.size!r}")
        n, c, h, w = (int(s) for s in input.shape)
        m = _C.to(_C.from_numpy(_cross_map_window(c, self.size)), input.dtype, input.device, False)
        sq = _ops.reshape(_ops.mul(input, input), [n, c, h * w])
        summed = _ops.reshape(_ops.matmul(m, sq), [n, c, h, w])
        scale = _ops.add(_ops.mul(summed, self.alpha / self.size), self.k)
        return _ops.mul(input, _ops.pow(scale, -self.beta))

    def extra_repr(self):
        return "{size}, alpha={alpha}, beta={beta}, k={k}".format(**self.__dict__)


class SyncBatchNorm(_BatchNorm):
    """torch.nn.SyncBatchNorm. dlcore has no process groups, so this always runs as torch does when
    torch.distributed is not initialised (or the world has one process): plain batch normalisation over the whole
    local batch, for any input of at least 2 dims [N, C, *] (statistics over every dim but C). process_group is
    kept (for state and convert_sync_batchnorm) but never used."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 process_group=None, device=None, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input):
        if not isinstance(input, Tensor):
            raise TypeError(f"SyncBatchNorm: expected a Tensor input, got {type(input).__name__}")
        self._check_input_dim(input)
        if input.shape[1] == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")
        return super().forward(input)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """Every BatchNorm*d (any _BatchNorm) in the module tree replaced by a SyncBatchNorm sharing its weight,
        bias, running statistics and num_batches_tracked, with its training flag (and qconfig if present). A
        BatchNorm module given itself comes back as a new SyncBatchNorm; any other module is changed in place and
        returned."""
        module_output = module
        if isinstance(module, _BatchNorm):
            module_output = SyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                          module.track_running_stats, process_group,
                                          bias=module.bias is not None)
            if module.affine:
                from ..autograd import no_grad
                with no_grad():
                    module_output.weight = module.weight
                    module_output.bias = module.bias
            module_output.running_mean = module.running_mean
            module_output.running_var = module.running_var
            module_output.num_batches_tracked = module.num_batches_tracked
            module_output.training = module.training
            if hasattr(module, "qconfig"):
                module_output.qconfig = module.qconfig
        for name, child in module.named_children():
            module_output.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        del module
        return module_output


# ------------------------------------------------------------------------------------------------- deprecated

class NLLLoss2d(NLLLoss):
    """Deprecated alias of NLLLoss (torch warns with a FutureWarning and behaves as NLLLoss)."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
        warnings.warn("`NLLLoss2d` has been deprecated. Please use `NLLLoss` instead as a drop-in replacement and see "
                      "https://pytorch.org/docs/main/nn.html#torch.nn.NLLLoss for more details.", FutureWarning,
                      stacklevel=2)
        super().__init__(weight, size_average, ignore_index, reduce, reduction)


class Container(Module):
    """Deprecated (torch warns with a FutureWarning): a Module holding the keyword-argument modules as children."""

    def __init__(self, **kwargs):
        warnings.warn("`nn.Container` is deprecated. All of its functionality is now implemented in `nn.Module`. "
                      "Subclass that instead.", FutureWarning, stacklevel=2)
        super().__init__()
        for key, value in kwargs.items():
            self.add_module(key, value)

