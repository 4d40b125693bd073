"""Lazy modules (torch.nn.LazyLinear, LazyConv1d/2d/3d, LazyConvTranspose1d/2d/3d, LazyBatchNorm1d/2d/3d,
LazyInstanceNorm1d/2d/3d): the input size (in_features / in_channels / num_features) is inferred from the first
input.

Until then their parameters are UninitializedParameter (and BatchNorm's running statistics UninitializedBuffer):
empty placeholders whose ``shape`` raises. The first call (or load_state_dict with initialised tensors)
materializes them in place - same objects, so references to them stay valid - and initialises them like the
regular layer; after the first call the module's class becomes the regular one (LazyLinear -> Linear, ...), like
torch. Create optimizers after a dry run (a first forward), so they see initialised parameters; ``module.to()``
before the dry run moves the placeholders, and they materialize on that device / dtype.
"""
from __future__ import annotations

import itertools

from .. import _C
from ..autograd import no_grad
from .layers import BatchNorm1d, BatchNorm2d, Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from .linear import Linear
from .more_layers import InstanceNorm1d, InstanceNorm2d
from .layers3d import BatchNorm3d, Conv3d, ConvTranspose3d, InstanceNorm3d
from .parameter import Parameter

Tensor = _C.Tensor


def _device_or_default(device):
    """device, or the default device (dlcore.set_default_device / ``with dlcore.device(...)``) when None,
    as torch's modules place their parameters and buffers."""
    if device is not None:
        return device
    from .._torch_extra2 import get_default_device
    return get_default_device()


__all__ = ["LazyModuleMixin", "UninitializedParameter", "UninitializedBuffer", "is_lazy", "LazyLinear",
           "LazyConv1d", "LazyConv2d", "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyBatchNorm1d",
           "LazyBatchNorm2d", "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyConv3d", "LazyConvTranspose3d",
           "LazyBatchNorm3d", "LazyInstanceNorm3d"]


def _placeholder(device, dtype):
    from .._creation import get_default_dtype
    return _C.empty([0], dtype or get_default_dtype(), _device_or_default(device))


class UninitializedTensorMixin:
    """The shared behaviour of UninitializedParameter and UninitializedBuffer."""

    __slots__ = ()
    cls_to_become = None
    _lazy_placeholder = True  # Module._apply keeps such a buffer's identity (it stays a placeholder)

    def materialize(self, shape, device=None, dtype=None):
        """Gives the placeholder storage of ``shape`` (on its device / dtype unless given; values unspecified)
        and turns it into a regular Parameter / Tensor (the same object)."""
        if device is None:
            device = Tensor.device.__get__(self)
        if dtype is None:
            dtype = Tensor.dtype.__get__(self)
        shape = [int(s) for s in shape]
        if any(s < 0 for s in shape):
            raise ValueError(f"{type(self).__name__}.materialize: negative size in shape {shape}")
        self._set_data(_C.empty(shape, dtype, device))
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise RuntimeError("Can't access the shape of an uninitialized parameter or buffer. This error usually happens "
                           "in `load_state_dict` when trying to load an uninitialized parameter into an initialized "
                           "one. Call `forward` to initialize the parameters before accessing their attributes.")

    def share_memory_(self):
        raise RuntimeError("Can't share memory on an uninitialized parameter or buffer. Call `forward` to initialize "
                           "the parameters before calling `module.share_memory()`.")

    def __repr__(self):
        return f"<{self.__class__.__name__}>"

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        return (_rebuild_uninitialized, (type(self), self.requires_grad, Tensor.device.__get__(self).type,
                                         Tensor.dtype.__get__(self)))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        new = type(self)(self.requires_grad, Tensor.device.__get__(self), Tensor.dtype.__get__(self))
        memo[id(self)] = new
        return new


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A Parameter whose shape is not known yet (see the module docstring); becomes a Parameter on
    materialize()."""

    cls_to_become = Parameter

    def __init__(self, requires_grad=True, device=None, dtype=None):
        Parameter.__init__(self, _placeholder(device, dtype), requires_grad=requires_grad)


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """A buffer whose shape is not known yet; becomes a plain dlcore.Tensor on materialize()."""

    __slots__ = ()
    cls_to_become = Tensor

    def __init__(self, requires_grad=False, device=None, dtype=None):
        Tensor.__init__(self, _placeholder(device, dtype))
        if requires_grad:
            self.requires_grad_(True)


def _rebuild_uninitialized(cls, requires_grad, device, dtype):
    return cls(requires_grad, device, dtype)


def is_lazy(param):
    """Whether param is an UninitializedParameter or UninitializedBuffer."""
    return isinstance(param, UninitializedTensorMixin)


class LazyModuleMixin:
    """Mixin of modules whose parameters are materialized at the first call: subclasses implement
    ``initialize_parameters(*args, **kwargs)`` and set ``cls_to_become`` (the class the module turns into after the
    first call; None keeps the class)."""

    cls_to_become = None

    def __call__(self, *args, **kwargs):
        if not self.__dict__.get("_lazy_initialized", False):
            self._infer_parameters(self, args, kwargs)
        if isinstance(self, LazyModuleMixin):
            return super(LazyModuleMixin, self).__call__(*args, **kwargs)
        return type(self).__call__(self, *args, **kwargs)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if (is_lazy(param) or keep_vars) else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if (is_lazy(buf) or keep_vars) else buf.detach()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # materialize placeholders from initialised checkpoint tensors (torch's _lazy_load_hook); a placeholder
        # loaded from a placeholder stays one
        still_lazy = set()
        for name, param in itertools.chain(self._parameters.items(), self._buffers.items()):
            key = prefix + name
            if key in state_dict and param is not None and is_lazy(param):
                value = state_dict[key]
                if is_lazy(value):
                    still_lazy.add(name)
                else:
                    with no_grad():
                        param.materialize(tuple(value.shape))
        if not still_lazy:
            return super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                                 unexpected_keys, error_msgs)
        d = self.__dict__
        saved_p, saved_b = list(d["_parameters"].items()), list(d["_buffers"].items())
        for name in still_lazy:
            d["_parameters"].pop(name, None)
            d["_buffers"].pop(name, None)
        try:
            skip = {prefix + n for n in still_lazy}
            view = {k: v for k, v in state_dict.items() if k not in skip}
            super()._load_from_state_dict(view, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                          error_msgs)
        finally:
            for store, saved in (("_parameters", saved_p), ("_buffers", saved_b)):
                cur = dict(d[store])
                d[store].clear()
                for k, v in saved:
                    d[store][k] = v if k in still_lazy else cur.get(k, v)

    def initialize_parameters(self, *args, **kwargs):
        """Materializes and initialises the parameters from the first input (subclasses)."""
        raise NotImplementedError(f"initialize_parameters is not implemented for {self.__class__.__name__}")

    def has_uninitialized_params(self):
        """Whether any parameter or buffer is still a placeholder."""
        for p in itertools.chain(self._parameters.values(), self._buffers.values()):
            if is_lazy(p):
                return True
        return False

    def _infer_parameters(self, module, args, kwargs=None):
        kwargs = kwargs if kwargs else {}
        module.initialize_parameters(*args, **kwargs)
        if module.has_uninitialized_params():
            raise RuntimeError(f"module {self._get_name()} has not been fully initialized")
        module.__dict__["_lazy_initialized"] = True
        if module.cls_to_become is not None:
            module.__dict__.pop("_lazy_initialized", None)
            module.__class__ = module.cls_to_become

    def _replicate_for_data_parallel(self):
        raise RuntimeError("Modules with uninitialized parameters can't be used with `DataParallel`. Run a dummy "
                           "forward pass to correctly initialize the modules")


def _first_input(who, args, kwargs):
    if args:
        x = args[0]
    elif "input" in kwargs:
        x = kwargs["input"]
    else:
        raise TypeError(f"nn.{who}: the first call needs the input tensor (to infer the input size)")
    if not isinstance(x, Tensor):
        raise TypeError(f"nn.{who}: expected a dlcore.Tensor input, got {type(x).__name__}")
    return x


class LazyLinear(LazyModuleMixin, Linear):
    """Linear with in_features inferred from input.shape[-1] at the first call (then a Linear)."""

    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        super().__init__(0, 0, False)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_features = out_features
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, *args, **kwargs):
        input = _first_input("LazyLinear", args, kwargs)
        if self.has_uninitialized_params():
            if input.ndim < 1:
                raise ValueError(f"nn.LazyLinear: expected an input with at least 1 dim, got shape "
                                 f"{list(input.shape)}")
            with no_grad():
                self.in_features = input.shape[-1]
                self.weight.materialize((self.out_features, self.in_features))
                if self.bias is not None:
                    self.bias.materialize((self.out_features,))
                self.reset_parameters()
        elif self.in_features == 0:  # materialized by load_state_dict
            self.in_features = self.weight.shape[-1]


class _LazyConvXdMixin(LazyModuleMixin):
    _n = 1

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def _get_in_channels(self, input):
        nd = self._n + 1
        if input.ndim not in (nd, nd + 1):
            raise RuntimeError(f"Expected {nd}D (unbatched) or {nd + 1}D (batched) input to "
                               f"{self.__class__.__name__}, but got input of size: {list(input.shape)}")
        return input.shape[1] if input.ndim == nd + 1 else input.shape[0]

    def initialize_parameters(self, *args, **kwargs):
        input = _first_input(type(self).__name__, args, kwargs)
        if self.has_uninitialized_params():
            self.in_channels = self._get_in_channels(input)
            if self.in_channels % self.groups != 0:
                raise ValueError(f"nn.{type(self).__name__}: in_channels ({self.in_channels}, inferred from the input "
                                 f"of shape {list(input.shape)}) must be divisible by groups ({self.groups})")
            with no_grad():
                if self.transposed:
                    self.weight.materialize((self.in_channels, self.out_channels // self.groups, *self.kernel_size))
                else:
                    self.weight.materialize((self.out_channels, self.in_channels // self.groups, *self.kernel_size))
                if self.bias is not None:
                    self.bias.materialize((self.out_channels,))
                self.reset_parameters()
        elif self.in_channels == 0:  # materialized by load_state_dict
            w = self.weight.shape
            self.in_channels = w[0] if self.transposed else w[1] * self.groups

    def _lazy_init(self, out_channels, bias, device, dtype):
        if out_channels % self.groups != 0:
            raise ValueError(f"nn.{type(self).__name__}: out_channels ({out_channels}) must be divisible by groups "
                             f"({self.groups})")
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_channels = out_channels
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)


class _LazyConvNd(_LazyConvXdMixin):
    """LazyConv1d/2d/3d: ConvNd's arguments without in_channels."""

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False, padding_mode, device, dtype)
        self._lazy_init(out_channels, bias, device, dtype)


class _LazyConvTransposeNd(_LazyConvXdMixin):
    """LazyConvTranspose1d/2d/3d: ConvTransposeNd's arguments without in_channels."""

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1, bias=True,
                 dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, output_padding, groups, False, dilation, padding_mode,
                         device, dtype)
        self._lazy_init(out_channels, bias, device, dtype)


class LazyConv1d(_LazyConvNd, Conv1d):
    """Conv1d with in_channels inferred from the input at the first call (then a Conv1d)."""

    cls_to_become = Conv1d
    _n = 1


class LazyConv2d(_LazyConvNd, Conv2d):
    """Conv2d with in_channels inferred from the input at the first call (then a Conv2d)."""

    cls_to_become = Conv2d
    _n = 2


class LazyConvTranspose1d(_LazyConvTransposeNd, ConvTranspose1d):
    """ConvTranspose1d with in_channels inferred from the input at the first call (then a ConvTranspose1d)."""

    cls_to_become = ConvTranspose1d
    _n = 1


class LazyConvTranspose2d(_LazyConvTransposeNd, ConvTranspose2d):
    """ConvTranspose2d with in_channels inferred from the input at the first call (then a ConvTranspose2d)."""

    cls_to_become = ConvTranspose2d
    _n = 2


class LazyConv3d(_LazyConvNd, Conv3d):
    """Conv3d with in_channels inferred from the input at the first call (then a Conv3d)."""

    cls_to_become = Conv3d
    _n = 3


class LazyConvTranspose3d(_LazyConvTransposeNd, ConvTranspose3d):
    """ConvTranspose3d with in_channels inferred from the input at the first call (then a ConvTranspose3d)."""

    cls_to_become = ConvTranspose3d
    _n = 3


class _LazyNormBase(LazyModuleMixin):
    """num_features inferred from input.shape[1] (shape[0] for an unbatched InstanceNorm input)."""

    def _lazy_init(self, affine, track_running_stats, bias, device, dtype):
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = UninitializedParameter(device=device, dtype=dtype)
            if bias:
                self.bias = UninitializedParameter(device=device, dtype=dtype)
        if track_running_stats:
            self.running_mean = UninitializedBuffer(device=device, dtype=dtype)
            self.running_var = UninitializedBuffer(device=device, dtype=dtype)
            self.num_batches_tracked = _C.zeros([], _C.dtype.int64, _device_or_default(device))

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()

    def _num_features_of(self, input):
        return input.shape[1]

    def initialize_parameters(self, *args, **kwargs):
        input = _first_input(type(self).__name__, args, kwargs)
        if self.has_uninitialized_params():
            self._check_lazy_input(input)
            self.num_features = self._num_features_of(input)
            n = (self.num_features,)
            with no_grad():
                if self.affine:
                    self.weight.materialize(n)
                    if self.bias is not None:
                        self.bias.materialize(n)
                if self.track_running_stats:
                    self.running_mean.materialize(n)
                    self.running_var.materialize(n)
                self.reset_parameters()
        elif self.num_features == 0:  # materialized by load_state_dict, or nothing to materialize
            t = self.weight if self.weight is not None else self.running_mean
            if t is not None:
                self.num_features = t.shape[0]
            else:
                self._check_lazy_input(input)
                self.num_features = self._num_features_of(input)


class _LazyBatchNorm(_LazyNormBase):
    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None, dtype=None, *,
                 bias=True):
        super().__init__(0, eps, momentum, False, False, device, dtype, bias=False)
        self._lazy_init(affine, track_running_stats, bias, device, dtype)

    def _check_lazy_input(self, input):
        self._check_input_dim(input)


class LazyBatchNorm1d(_LazyBatchNorm, BatchNorm1d):
    """BatchNorm1d with num_features inferred from input.shape[1] at the first call (then a BatchNorm1d)."""

    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyBatchNorm, BatchNorm2d):
    """BatchNorm2d with num_features inferred from input.shape[1] at the first call (then a BatchNorm2d)."""

    cls_to_become = BatchNorm2d


class _LazyInstanceNorm(_LazyNormBase):
    # torch's LazyInstanceNorm defaults: affine=True, track_running_stats=True (unlike InstanceNorm's)
    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None, dtype=None, *,
                 bias=True):
        super().__init__(0, eps, momentum, False, False, device, dtype)
        self._lazy_init(affine, track_running_stats, bias, device, dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.num_features != 0:
            from . import init
            if self.track_running_stats:
                _C.fill_(self.running_mean, 0)
                _C.fill_(self.running_var, 1)
                _C.fill_(self.num_batches_tracked, 0)
            if self.affine:
                init.ones_(self.weight)
                if self.bias is not None:
                    init.zeros_(self.bias)

    def _check_lazy_input(self, input):
        sp = self._spatial
        if input.ndim not in (sp + 1, sp + 2):
            raise ValueError(f"nn.{type(self).__name__}: expected {sp + 1}D (unbatched) or {sp + 2}D (batched) input, "
                             f"got shape {list(input.shape)}")

    def _num_features_of(self, input):
        return input.shape[1] if input.ndim == self._spatial + 2 else input.shape[0]


class LazyInstanceNorm1d(_LazyInstanceNorm, InstanceNorm1d):
    """InstanceNorm1d with num_features inferred from the input at the first call (then an InstanceNorm1d)."""

    cls_to_become = InstanceNorm1d


class LazyInstanceNorm2d(_LazyInstanceNorm, InstanceNorm2d):
    """InstanceNorm2d with num_features inferred from the input at the first call (then an InstanceNorm2d)."""

    cls_to_become = InstanceNorm2d


class LazyBatchNorm3d(_LazyBatchNorm, BatchNorm3d):
    """BatchNorm3d with num_features inferred from input.shape[1] at the first call (then a BatchNorm3d)."""

    cls_to_become = BatchNorm3d


class LazyInstanceNorm3d(_LazyInstanceNorm, InstanceNorm3d):
    """InstanceNorm3d with num_features inferred from the input at the first call (then an InstanceNorm3d)."""

    cls_to_become = InstanceNorm3d


