"""The volumetric (NCDHW) modules over dlcore.functional's 3-D ops (python/dlcore/_nn_3d.py): Conv3d (with
padding_mode zeros / reflect / replicate / circular), ConvTranspose3d, MaxPool3d, AvgPool3d, LPPool3d,
AdaptiveAvgPool3d, AdaptiveMaxPool3d, BatchNorm3d, InstanceNorm3d and the 3-D padding layers."""
from __future__ import annotations

from .. import functional as F
from .layers import (_AvgPoolNd, _BatchNorm, _ConvNd, _ConvTransposeNd, _MaxPoolNd, AdaptiveAvgPool2d,
                     AdaptiveMaxPool2d, LPPool2d)
from .more_layers import _InstanceNorm, _PadNd, _ConstantPadNd, _ZeroPadNd

__all__ = ["Conv3d", "ConvTranspose3d", "MaxPool3d", "AvgPool3d", "LPPool3d", "AdaptiveAvgPool3d",
           "AdaptiveMaxPool3d", "BatchNorm3d", "InstanceNorm3d", "ConstantPad3d", "ZeroPad3d", "ReflectionPad3d",
           "ReplicationPad3d", "CircularPad3d"]


class Conv3d(_ConvNd):
    """3-D convolution over [N, C_in, D, H, W] (or [C_in, D, H, W]): weight [C_out, C_in/groups, kD, kH, kW]
    (PyTorch's default init); padding int, triple, 'same' or 'valid'; padding_mode 'zeros', 'reflect',
    'replicate' or 'circular'."""
    _n = 3
    _fn = "conv3d"

    # (padding_mode, its F.pad and the extra_repr live in _ConvNd, shared with Conv1d and Conv2d)


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution over [N, C_in, D, H, W]: weight [C_in, C_out/groups, kD, kH, kW] (PyTorch's
    default init); forward(input, output_size=None) like PyTorch's."""
    _n = 3
    _fn = "conv_transpose3d"


class MaxPool3d(_MaxPoolNd):
    """Max pooling over [N, C, D, H, W]; return_indices gives torch's flat D*H*W indices (for MaxUnpool3d)."""
    _fn = "max_pool3d"


class AvgPool3d(_AvgPoolNd):
    """Average pooling over [N, C, D, H, W] (count_include_pad, divisor_override, ceil_mode like torch)."""
    _fn = "avg_pool3d"


class LPPool3d(LPPool2d):
    """Power-average pooling over [N, C, D, H, W]: (sum over the window of x^p)^(1/p)."""

    def forward(self, input):
        return F.lp_pool3d(input, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode)


class AdaptiveAvgPool3d(AdaptiveAvgPool2d):
    def forward(self, input):
        return F.adaptive_avg_pool3d(input, self.output_size)


class AdaptiveMaxPool3d(AdaptiveMaxPool2d):
    def forward(self, input):
        return F.adaptive_max_pool3d(input, self.output_size, self.return_indices)


class BatchNorm3d(_BatchNorm):
    """Batch normalisation over [N, C, D, H, W] (statistics per channel C)."""
    _expected_dims = (5,)


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation over [N, C, D, H, W] (or [C, D, H, W])."""
    _spatial = 3


class ConstantPad3d(_ConstantPadNd):
    _n = 3


class ZeroPad3d(_ZeroPadNd):
    _n = 3


class ReflectionPad3d(_PadNd):
    _n, _mode = 3, "reflect"


class ReplicationPad3d(_PadNd):
    _n, _mode = 3, "replicate"


class CircularPad3d(_PadNd):
    _n, _mode = 3, "circular"
