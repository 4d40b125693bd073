"""torch.nn.utils.parametrize: express a parameter or buffer of a module as a function of other tensors.

register_parametrization(module, "weight", P) moves ``module.weight`` to ``module.parametrizations.weight.original``
(or ``original0``, ``original1``, ... when P.right_inverse returns several tensors), changes the module's class to a
generated subclass ``Parametrized<Class>`` whose ``weight`` is a property computing ``P(original)`` on every read
(once per ``cached()`` context), and whose assignment calls ``right_inverse``. State-dict keys are torch's
(``parametrizations.weight.original``)."""
from __future__ import annotations

import collections.abc
import copyreg
from contextlib import contextmanager
from copy import deepcopy

from ... import _C
from ...autograd import no_grad
from ..container import ModuleDict, ModuleList
from ..module import Module
from ..parameter import Parameter

Tensor = _C.Tensor

__all__ = ["cached", "ParametrizationList", "register_parametrization", "is_parametrized",
           "remove_parametrizations", "type_before_parametrizations", "transfer_parametrizations_and_params"]

_cache_enabled = 0
_cache = {}


@contextmanager
def cached():
    """Within this context each parametrized tensor is computed once, at its first read, and reused."""
    global _cache, _cache_enabled
    _cache_enabled += 1
    try:
        yield
    finally:
        _cache_enabled -= 1
        if not _cache_enabled:
            _cache = {}


def _register_parameter_or_buffer(module, name, x):
    if isinstance(x, Parameter):
        module.register_parameter(name, x)
    else:
        module.register_buffer(name, x)


def _maybe_set(dest, src):
    """dest takes src's data (torch's Tensor.set_): same object, src's storage, shape, dtype and device."""
    dest._set_data(src)


def _check_value(value, dtype, shape, not_tensor, wrong_dtype, wrong_shape):
    """The checks torch makes of a parametrization's output and of right_inverse's: ValueError unless value is a
    Tensor of this dtype and shape. The messages are format strings: not_tensor gets {type}, wrong_dtype and
    wrong_shape get {want} and {got}."""
    if not isinstance(value, Tensor):
        raise ValueError(not_tensor.format(type=type(value).__name__))
    if value.dtype != dtype:
        raise ValueError(wrong_dtype.format(want=dtype, got=value.dtype))
    if tuple(value.shape) != tuple(shape):
        raise ValueError(wrong_shape.format(want=list(shape), got=list(value.shape)))


_NOT_TENSOR = "A parametrization must return a tensor. Got {type}."


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor (a ModuleList) and the unparametrized tensor(s) ``original`` /
    ``original0``, ``original1``, ...; calling it returns the parametrized value."""

    def __init__(self, modules, original, unsafe=False):
        if len(modules) == 0:
            raise ValueError("ParametrizationList requires one or more modules.")
        super().__init__(modules)
        self.unsafe = unsafe
        original_shape = tuple(original.shape)
        original_dtype = original.dtype
        with no_grad():
            new = original
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    try:
                        new = module.right_inverse(new)
                    except NotImplementedError:
                        pass
        if not isinstance(new, Tensor) and not isinstance(new, collections.abc.Sequence):
            raise ValueError("'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). "
                             f"Got {type(new).__name__}")
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if original.dtype != new.dtype:
                raise ValueError("When `right_inverse` outputs one tensor, it may not change the dtype.\n"
                                 f"original.dtype: {original.dtype}\nright_inverse(original).dtype: {new.dtype}")
            if original.device != new.device:
                raise ValueError("When `right_inverse` outputs one tensor, it may not change the device.\n"
                                 f"original.device: {original.device}\n"
                                 f"right_inverse(original).device: {new.device}")
            if new is not original:
                with no_grad():
                    _maybe_set(original, new)
            _register_parameter_or_buffer(self, "original", original)
        else:
            for i, originali in enumerate(new):
                if not isinstance(originali, Tensor):
                    raise ValueError("'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). "
                                     f"Got element {i} of the sequence with type {type(originali).__name__}.")
                if isinstance(original, Parameter):
                    originali = Parameter(originali.detach(), original.requires_grad)
                elif originali.dtype.is_floating_point:
                    originali.requires_grad_(original.requires_grad)
                _register_parameter_or_buffer(self, f"original{i}", originali)
        if not self.unsafe:
            _check_value(self(), original_dtype, original_shape, _NOT_TENSOR,
                         "Registering a parametrization may not change the dtype of the tensor, unless `unsafe` flag "
                         "is enabled.\nunparametrized dtype: {want}\nparametrized dtype: {got}",
                         "Registering a parametrization may not change the shape of the tensor, unless `unsafe` flag "
                         "is enabled.\nunparametrized shape: {want}\nparametrized shape: {got}")

    def right_inverse(self, value):
        """Sets the original tensor(s) so that the parametrization evaluates to ``value`` (through each
        parametrization's right_inverse, last first)."""
        with no_grad():
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    value = module.right_inverse(value)
                else:
                    raise RuntimeError(f"parametrization {type(module).__name__} does not implement right_inverse.")
            if self.is_tensor:
                if not isinstance(value, Tensor):
                    raise ValueError(f"`right_inverse` should return a tensor. Got {type(value).__name__}")
                if value.dtype != self.original.dtype:
                    raise ValueError(f"The tensor returned by `right_inverse` has dtype {value.dtype} while "
                                     f"`original` has dtype {self.original.dtype}")
                _maybe_set(self.original, value)
            else:
                if not isinstance(value, collections.abc.Sequence):
                    raise ValueError(f"'right_inverse' must return a sequence of tensors. Got {type(value).__name__}.")
                if len(value) != self.ntensors:
                    raise ValueError(f"'right_inverse' must return a sequence of tensors of length {self.ntensors}. "
                                     f"Got a sequence of length {len(value)}.")
                for i, tensor in enumerate(value):
                    original_i = getattr(self, f"original{i}")
                    if not isinstance(tensor, Tensor):
                        raise ValueError(f"'right_inverse' must return a sequence of tensors. Got element {i} of "
                                         f"type {type(tensor).__name__}.")
                    if original_i.dtype != tensor.dtype:
                        raise ValueError(f"Tensor {i} returned by `right_inverse` has dtype {tensor.dtype} while "
                                         f"`original{i}` has dtype {original_i.dtype}")
                    _maybe_set(original_i, tensor)

    def forward(self):
        if self.is_tensor:
            x = self[0](self.original)
        else:
            x = self[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        i = 1
        while str(i) in self._modules:
            x = self[i](x)
            i += 1
        return x


def _inject_new_class(module):
    """Changes module's class to a generated subclass Parametrized<Class> (the properties live on it)."""
    cls = module.__class__

    def default_deepcopy(self, memo):
        obj = memo.get(id(self), None)
        if obj is not None:
            return obj
        replica = self.__new__(self.__class__)
        memo[id(self)] = replica
        replica.__dict__ = deepcopy(self.__dict__, memo)
        for slot in copyreg._slotnames(self.__class__):
            if hasattr(self, slot):
                setattr(replica, slot, deepcopy(getattr(self, slot), memo))
        return replica

    def getstate(self):
        raise RuntimeError("Serialization of parametrized modules is only supported through state_dict() "
                           "(dlcore.nn.utils.parametrize)")

    dct = {"__getstate__": getstate}
    if not hasattr(cls, "__deepcopy__"):
        dct["__deepcopy__"] = default_deepcopy
    module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), dct)


def _inject_property(module, tensor_name):
    if hasattr(module, tensor_name):
        raise AssertionError(f"Module already has an attribute named '{tensor_name}'")

    def get_cached_parametrization(parametrization):
        key = (id(module), tensor_name)
        tensor = _cache.get(key)
        if tensor is None:
            tensor = parametrization()
            _cache[key] = tensor
        return tensor

    def get_parametrized(self):
        parametrization = self.parametrizations[tensor_name]
        if _cache_enabled:
            return get_cached_parametrization(parametrization)
        return parametrization()

    def set_original(self, value):
        self.parametrizations[tensor_name].right_inverse(value)

    setattr(module.__class__, tensor_name, property(get_parametrized, set_original))


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """Parametrizes module.<tensor_name> (a parameter or buffer) by the Module ``parametrization``: reading it
    returns parametrization(original); a second registration on the same name chains (applied after the first).
    unsafe=True allows a parametrization that changes the shape or dtype. Returns module."""
    if not isinstance(module, Module):
        raise TypeError(f"register_parametrization: module must be a dlcore.nn.Module, got {type(module).__name__}")
    if not isinstance(parametrization, Module):
        raise TypeError("register_parametrization: parametrization must be a dlcore.nn.Module, got "
                        f"{type(parametrization).__name__}")
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        if not unsafe:
            y = getattr(module, tensor_name)
            x = parametrization(y)
            m = f"module.{tensor_name}"  # a parameter or buffer name: no braces for str.format below
            _check_value(x, y.dtype, y.shape, _NOT_TENSOR,
                         "Registering a parametrization may not change the dtype of the tensor, unless the `unsafe` "
                         f"flag is enabled.\n{m}.dtype: {{want}}\nparametrization({m}).dtype: {{got}}",
                         "Registering a parametrization may not change the shape of the tensor, unless the `unsafe` "
                         f"flag is enabled.\n{m}.shape: {{want}}\nparametrization({m}).shape: {{got}}")
            if hasattr(parametrization, "right_inverse"):
                try:
                    z = parametrization.right_inverse(x)
                except NotImplementedError:
                    pass
                else:
                    _check_value(z, y.dtype, y.shape, "parametrization.right_inverse must return a tensor. Got: {type}",
                                 "The tensor returned by parametrization.right_inverse must have the same dtype as "
                                 f"{m}, unless the `unsafe` flag is enabled.\n{m}.dtype: {{want}}\n"
                                 "returned dtype: {got}",
                                 "The tensor returned by parametrization.right_inverse must have the same shape as "
                                 f"{m}, unless the `unsafe` flag is enabled.\n{m}.shape: {{want}}\n"
                                 "returned shape: {got}")
        module.parametrizations[tensor_name].append(parametrization)
        module.parametrizations[tensor_name].unsafe |= unsafe
    elif tensor_name in module._buffers or tensor_name in module._parameters:
        original = getattr(module, tensor_name)
        if original is None:
            raise ValueError(f"register_parametrization: module.{tensor_name} is None; there is nothing to "
                             "parametrize")
        parametrizations = ParametrizationList([parametrization], original, unsafe=unsafe)
        delattr(module, tensor_name)
        if not is_parametrized(module):
            _inject_new_class(module)
            module.parametrizations = ModuleDict()
        _inject_property(module, tensor_name)
        module.parametrizations[tensor_name] = parametrizations
    else:
        raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a parametrized element with "
                         f"name '{tensor_name}'")
    return module


def is_parametrized(module, tensor_name=None):
    """Whether module has any parametrization (tensor_name None) or one on tensor_name."""
    parametrizations = module.__dict__.get("parametrizations", None)
    if parametrizations is None or not isinstance(parametrizations, ModuleDict):
        return False
    if tensor_name is None:
        return len(parametrizations) > 0
    return tensor_name in parametrizations


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Removes the parametrizations on module.<tensor_name>: it becomes a parameter (or buffer) again, holding
    the parametrized value (leave_parametrized=True, the default) or the original tensor. When the last
    parametrization goes the module gets its original class back."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    parametrizations = module.parametrizations[tensor_name]
    if parametrizations.is_tensor:
        original = parametrizations.original
        if leave_parametrized:
            with no_grad():
                t = getattr(module, tensor_name)
                _maybe_set(original, t.detach())
    else:
        if not leave_parametrized:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is parametrized "
                             "in terms of a sequence of tensors.")
        t = getattr(module, tensor_name)
        original = Parameter(t.detach()) if t.requires_grad else t.detach()
    delattr(module.__class__, tensor_name)
    del module.parametrizations[tensor_name]
    _register_parameter_or_buffer(module, tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = module.__class__.__bases__[0]
    return module


def type_before_parametrizations(module):
    """The module's class before parametrizations were registered."""
    if is_parametrized(module):
        return module.__class__.__bases__[0]
    return type(module)


def transfer_parametrizations_and_params(from_module, to_module, tensor_name=None):
    """Registers from_module's parametrizations (all, or those of tensor_name) on to_module, sharing the original
    tensors."""
    if is_parametrized(from_module):
        names = list(from_module.parametrizations) if tensor_name is None else [tensor_name]
        for name in names:
            if not hasattr(to_module, name):
                setattr(to_module, name, Parameter(getattr(from_module, name).detach()))
            for fn in from_module.parametrizations[name]:
                register_parametrization(to_module, name, fn)
            src = from_module.parametrizations[name]
            dst = to_module.parametrizations[name]
            if "original" in src._parameters or "original" in src._buffers:
                dst.original = src.original
            else:
                i = 0
                while hasattr(src, f"original{i}"):
                    setattr(dst, f"original{i}", getattr(src, f"original{i}"))
                    i += 1
    return to_module
