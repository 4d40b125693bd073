"""Folding an eval-mode BatchNorm into the preceding convolution or linear layer (torch.nn.utils.fusion):
w' = w * gamma / sqrt(running_var + eps) (per output channel), b' = (b - running_mean) * gamma / sqrt(var + eps)
+ beta."""
from __future__ import annotations

import copy

from ... import _C
from ... import _ops
from ...autograd import no_grad
from ..parameter import Parameter

Tensor = _C.Tensor

__all__ = ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights"]


def _check_tensor(who, name, t, allow_none=False):
    if t is None and allow_none:
        return
    if not isinstance(t, Tensor):
        raise TypeError(f"{who}: {name} must be a dlcore.Tensor{' or None' if allow_none else ''}, got "
                        f"{type(t).__name__}")


def _check_tensors(who, optional, **tensors):
    """_check_tensor of each keyword (None allowed for the names in optional), in order."""
    for name, t in tensors.items():
        _check_tensor(who, name, t, name in optional)


def _fused_copy(module, bn, fuse_weights, *args):
    """A deep copy of module with weight and bias replaced by fuse_weights(weight, bias, bn's statistics and affine
    parameters, *args)."""
    fused = copy.deepcopy(module)
    fused.weight, fused.bias = fuse_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var, bn.eps,
                                            bn.weight, bn.bias, *args)
    return fused


def _ones_like(t):
    return _C.full(list(t.shape), 1.0, t.dtype, t.device)


def _zeros_like(t):
    return _C.zeros(list(t.shape), t.dtype, t.device)


def fuse_conv_bn_eval(conv, bn, transpose=False):
    """A copy of conv whose weight and bias include bn's eval-mode normalisation (both modules in eval mode);
    transpose=True for a ConvTranspose (output channels in weight dim 1)."""
    if conv.training or bn.training:
        raise AssertionError("Fusion only for eval!")
    if bn.running_mean is None or bn.running_var is None:
        raise AssertionError("bn.running_mean and bn.running_var must not be None")
    return _fused_copy(conv, bn, fuse_conv_bn_weights, transpose)


def fuse_conv_bn_weights(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, transpose=False):
    """(fused weight, fused bias) as Parameters; conv_b / bn_w / bn_b may be None (0 / 1 / 0)."""
    who = "fuse_conv_bn_weights"
    _check_tensors(who, ("conv_b", "bn_w", "bn_b"), conv_w=conv_w, conv_b=conv_b, bn_rm=bn_rm, bn_rv=bn_rv,
                   bn_w=bn_w, bn_b=bn_b)
    ch = conv_w.shape[1 if transpose else 0] if conv_w.ndim >= 2 else -1
    if conv_w.ndim < 2 or ch != bn_rm.numel():
        raise RuntimeError(f"{who}: the {'input' if transpose else 'output'} channels of conv_w "
                           f"{list(conv_w.shape)} (dim {1 if transpose else 0}) must match the "
                           f"{bn_rm.numel()} BatchNorm features")
    conv_weight_dtype = conv_w.dtype
    conv_bias_dtype = conv_b.dtype if conv_b is not None else conv_weight_dtype
    with no_grad():
        if conv_b is None:
            conv_b = _zeros_like(bn_rm)
        if bn_w is None:
            bn_w = _ones_like(bn_rm)
        if bn_b is None:
            bn_b = _zeros_like(bn_rm)
        bn_var_rsqrt = _ops.rsqrt(_ops.add(bn_rv, bn_eps))
        if transpose:
            shape = [1, -1] + [1] * (conv_w.ndim - 2)
        else:
            shape = [-1, 1] + [1] * (conv_w.ndim - 2)
        fused_w = _ops.mul(conv_w, _ops.reshape(_ops.mul(bn_w, bn_var_rsqrt), shape)).to(conv_weight_dtype)
        fused_b = _ops.add(_ops.mul(_ops.mul(_ops.sub(conv_b, bn_rm), bn_var_rsqrt), bn_w), bn_b).to(conv_bias_dtype)
    return Parameter(fused_w, conv_w.requires_grad), Parameter(fused_b, conv_b.requires_grad)


def fuse_linear_bn_eval(linear, bn):
    """A copy of linear whose weight and bias include bn's eval-mode normalisation (both modules in eval mode;
    bn.num_features must be linear.out_features or 1)."""
    if linear.training or bn.training:
        raise AssertionError("Fusion only for eval!")
    if linear.out_features != bn.num_features and bn.num_features != 1:
        raise AssertionError("To fuse, linear.out_features == bn.num_features or bn.num_features == 1, got "
                             f"linear.out_features={linear.out_features} and bn.num_features={bn.num_features}")
    if bn.running_mean is None or bn.running_var is None:
        raise AssertionError("bn.running_mean and bn.running_var must not be None")
    return _fused_copy(linear, bn, fuse_linear_bn_weights)


def fuse_linear_bn_weights(linear_w, linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b):
    """(fused weight, fused bias) as Parameters; linear_b may be None."""
    who = "fuse_linear_bn_weights"
    _check_tensors(who, ("linear_b",), linear_w=linear_w, linear_b=linear_b, bn_rm=bn_rm, bn_rv=bn_rv, bn_w=bn_w,
                   bn_b=bn_b)
    if linear_w.ndim != 2 or bn_rm.numel() not in (1, linear_w.shape[0]):
        raise RuntimeError(f"{who}: linear_w {list(linear_w.shape)} must be 2-D with out_features equal to the "
                           f"{bn_rm.numel()} BatchNorm features (or BatchNorm with 1 feature)")
    linear_weight_dtype = linear_w.dtype
    linear_bias_dtype = linear_b.dtype if linear_b is not None else linear_weight_dtype
    with no_grad():
        if linear_b is None:
            linear_b = _zeros_like(bn_rm)
        bn_scale = _ops.mul(bn_w, _ops.rsqrt(_ops.add(bn_rv, bn_eps)))
        fused_w = _ops.mul(linear_w, _ops.unsqueeze(bn_scale, -1).to(linear_weight_dtype))
        fused_b = _ops.add(_ops.mul(_ops.sub(linear_b, bn_rm), bn_scale), bn_b).to(linear_bias_dtype)
    return Parameter(fused_w, linear_w.requires_grad), Parameter(fused_b, linear_b.requires_grad)
