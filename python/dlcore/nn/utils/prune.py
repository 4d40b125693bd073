"""torch.nn.utils.prune: pruning of module parameters by masking.

Pruning parameter ``name`` of a module moves it to the Parameter ``name + "_orig"``, registers the buffer
``name + "_mask"`` (ones where kept, zeros where pruned; same dtype and shape as the parameter) and a forward
pre-hook (the pruning method itself) that recomputes the plain tensor attribute ``module.name = orig * mask``
before every forward, so gradients reach ``name_orig`` only through the mask. Pruning the same parameter again
combines the masks through a PruningContainer (the new method acts only on the entries / channels still kept).
``remove`` makes the pruning permanent: ``name`` is a Parameter again holding orig * mask. State-dict keys are
torch's (``weight_orig``, ``weight_mask``)."""
from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable

from ... import _C
from ... import _ops
from ...autograd import no_grad

Tensor = _C.Tensor

__all__ = ["BasePruningMethod", "PruningContainer", "Identity", "RandomUnstructured", "L1Unstructured",
           "RandomStructured", "LnStructured", "CustomFromMask", "identity", "random_unstructured",
           "l1_unstructured", "random_structured", "ln_structured", "global_unstructured", "custom_from_mask",
           "remove", "is_pruned"]


def _dl():
    import dlcore
    return dlcore


class BasePruningMethod(ABC):
    """Abstract base of the pruning methods: subclasses define PRUNING_TYPE ("unstructured", "structured" or
    "global") and compute_mask(t, default_mask). An instance is the forward pre-hook of a pruned module."""

    _tensor_name = None

    def __call__(self, module, inputs):
        setattr(module, self._tensor_name, self.apply_mask(module))

    @abstractmethod
    def compute_mask(self, t, default_mask):
        """Returns the mask for ``t`` (same shape), combined with ``default_mask`` (the mask already applied)."""

    def apply_mask(self, module):
        """orig * mask for the parameter this method prunes."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned")
        mask = getattr(module, self._tensor_name + "_mask")
        orig = getattr(module, self._tensor_name + "_orig")
        return _ops.mul(mask.to(dtype=orig.dtype), orig)

    @classmethod
    def apply(cls, module, name, *args, importance_scores=None, **kwargs):
        """Adds the forward pre-hook that prunes parameter ``name`` of module (on the fly) and the reparametrisation
        ``name_orig`` / ``name_mask``; returns the method (a PruningContainer when ``name`` was pruned before)."""
        from ..module import Module
        if not isinstance(module, Module):
            raise TypeError(f"prune: module must be a dlcore.nn.Module, got {type(module).__name__}")

        old_method = None
        found = 0
        hooks_to_remove = []
        for k, hook in module._forward_pre_hooks.items():
            if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
                old_method = hook
                hooks_to_remove.append(k)
                found += 1
        if found > 1:
            raise AssertionError(f"Avoid adding multiple pruning hooks to the same tensor {name} of module "
                                 f"{module}. Use a PruningContainer.")
        method = cls(*args, **kwargs)
        method._tensor_name = name
        if old_method is not None:
            if isinstance(old_method, PruningContainer):
                old_method.add_pruning_method(method)
                method = old_method
            else:
                container = PruningContainer(old_method)
                container.add_pruning_method(method)
                method = container

        if not hasattr(module, name) or getattr(module, name) is None:
            raise AttributeError(f"prune: {type(module).__name__} has no parameter or buffer named '{name}'")
        orig = getattr(module, name)
        if not isinstance(orig, Tensor):
            raise TypeError(f"prune: '{name}' of {type(module).__name__} is a {type(orig).__name__}, not a tensor")
        if importance_scores is not None:
            if not isinstance(importance_scores, Tensor):
                raise TypeError("prune: importance_scores must be a dlcore.Tensor, got "
                                f"{type(importance_scores).__name__}")
            if tuple(importance_scores.shape) != tuple(orig.shape):
                raise AssertionError(f"importance_scores should have the same shape as parameter {name} of "
                                     f"{module}, got {list(importance_scores.shape)} vs {list(orig.shape)}")
        else:
            importance_scores = orig

        is_container = isinstance(method, PruningContainer) and old_method is not None
        if not is_container:
            if name not in module._parameters:
                raise ValueError(f"prune: '{name}' is not a parameter of {type(module).__name__}")
            module.register_parameter(name + "_orig", orig)
            del module._parameters[name]
            module.__dict__.pop(name, None)
            default_mask = _dl().ones_like(orig)
        else:
            default_mask = getattr(module, name + "_mask").detach().clone().contiguous()
        try:
            with no_grad():
                mask = method.compute_mask(importance_scores.detach(), default_mask=default_mask)
            module.register_buffer(name + "_mask", mask)
            setattr(module, name, method.apply_mask(module))
            for k in hooks_to_remove:
                del module._forward_pre_hooks[k]
            module.register_forward_pre_hook(method)
        except Exception:
            if not is_container:
                orig = module._parameters.pop(name + "_orig")
                module.__dict__.pop(name + "_orig", None)
                module._buffers.pop(name + "_mask", None)
                module.__dict__.pop(name + "_mask", None)
                module.__dict__.pop(name, None)
                module.register_parameter(name, orig)
            elif method is old_method:  # undo the add: the old container keeps pruning as before
                method._pruning_methods = method._pruning_methods[:-1]
            raise
        return method

    def prune(self, t, default_mask=None, importance_scores=None):
        """t * compute_mask(importance_scores or t, default_mask or ones) (no module involved)."""
        if importance_scores is not None:
            if tuple(importance_scores.shape) != tuple(t.shape):
                raise AssertionError("importance_scores should have the same shape as tensor t, got "
                                     f"{list(importance_scores.shape)} vs {list(t.shape)}")
        else:
            importance_scores = t
        default_mask = default_mask if default_mask is not None else _dl().ones_like(t)
        with no_grad():
            mask = self.compute_mask(importance_scores.detach(), default_mask=default_mask)
        return _ops.mul(t, mask)

    def remove(self, module):
        """Makes the pruning permanent: ``name`` becomes the Parameter ``name_orig`` holding orig * mask, and
        ``name_orig`` / ``name_mask`` are removed."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned before pruning can be removed")
        weight = self.apply_mask(module)
        if hasattr(module, self._tensor_name):
            delattr(module, self._tensor_name)
        orig = module._parameters[self._tensor_name + "_orig"]
        orig.data = weight.detach()
        del module._parameters[self._tensor_name + "_orig"]
        module.__dict__.pop(self._tensor_name + "_orig", None)
        del module._buffers[self._tensor_name + "_mask"]
        module.__dict__.pop(self._tensor_name + "_mask", None)
        setattr(module, self._tensor_name, orig)


class PruningContainer(BasePruningMethod):
    """A sequence of pruning methods of one parameter (iterative pruning): compute_mask applies the last method
    to the part of the tensor the earlier ones kept and combines its mask with theirs."""

    def __init__(self, *args):
        self._pruning_methods = ()
        if len(args) == 1:
            self._tensor_name = args[0]._tensor_name
            self.add_pruning_method(args[0])
        else:
            for method in args:
                self.add_pruning_method(method)

    def add_pruning_method(self, method):
        """Appends a pruning method of the same parameter."""
        if not isinstance(method, BasePruningMethod) and method is not None:
            raise TypeError(f"{type(method)} is not a BasePruningMethod subclass")
        elif method is not None and self._tensor_name != method._tensor_name:
            raise ValueError("Can only add pruning methods acting on the parameter named "
                             f"'{self._tensor_name}' to PruningContainer {self}. Found '{method._tensor_name}'")
        self._pruning_methods += (method,)

    def __len__(self):
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, idx):
        return self._pruning_methods[idx]

    def compute_mask(self, t, default_mask):
        """The last method's mask computed on the unpruned part of t (entries for "unstructured", channels along
        the method's dim for "structured", everything for "global"), written into default_mask."""
        method = self._pruning_methods[-1]
        mask = default_mask
        new_mask = mask.to(dtype=t.dtype).clone()
        if method.PRUNING_TYPE == "unstructured":
            slc = _ops.eq(mask, 1)
        elif method.PRUNING_TYPE == "structured":
            if not hasattr(method, "dim"):
                raise AttributeError('Pruning methods of PRUNING_TYPE "structured" need to have the attribute '
                                     "`dim` defined.")
            n_dims = t.dim()
            dim = method.dim
            if dim < 0:
                dim = n_dims + dim
            if dim < 0:
                raise IndexError(f"Index is out of bounds for tensor with dimensions {n_dims}")
            keep_channel = _ops.ne(_ops.sum(mask, [d for d in range(n_dims) if d != dim]), 0)
            slc = [slice(None)] * n_dims
            slc[dim] = keep_channel
            slc = tuple(slc)
        elif method.PRUNING_TYPE == "global":
            slc = tuple([slice(None)] * len(t.shape))
        else:
            raise ValueError(f"Unrecognized PRUNING_TYPE {method.PRUNING_TYPE}")
        partial_mask = method.compute_mask(t[slc], default_mask=mask[slc])
        new_mask[slc] = partial_mask.to(dtype=new_mask.dtype)
        return new_mask


class Identity(BasePruningMethod):
    """Prunes nothing (the mask is all ones)."""

    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t, default_mask):
        return default_mask

    @classmethod
    def apply(cls, module, name):
        return super().apply(module, name)


class RandomUnstructured(BasePruningMethod):
    """Prunes ``amount`` entries (an int: that many; a float in [0, 1]: that fraction, rounded) chosen at random."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount):
        _validate_pruning_amount_init(amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        tensor_size = t.nelement()
        nparams_toprune = _compute_nparams_toprune(self.amount, tensor_size)
        _validate_pruning_amount(nparams_toprune, tensor_size)
        mask = default_mask.clone().contiguous()
        if nparams_toprune != 0:
            prob = _dl().rand_like(t)
            topk = _dl().topk(prob.reshape(-1), k=nparams_toprune)
            mask.view(-1)[topk.indices] = 0
        return mask

    @classmethod
    def apply(cls, module, name, amount):
        return super().apply(module, name, amount=amount)


class L1Unstructured(BasePruningMethod):
    """Prunes the ``amount`` entries of smallest absolute value (of importance_scores when given)."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount):
        _validate_pruning_amount_init(amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        tensor_size = t.nelement()
        nparams_toprune = _compute_nparams_toprune(self.amount, tensor_size)
        _validate_pruning_amount(nparams_toprune, tensor_size)
        mask = default_mask.clone().contiguous()
        if nparams_toprune != 0:
            topk = _dl().topk(_ops.abs(t).reshape(-1), k=nparams_toprune, largest=False)
            mask.view(-1)[topk.indices] = 0
        return mask

    @classmethod
    def apply(cls, module, name, amount, importance_scores=None):
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


class RandomStructured(BasePruningMethod):
    """Prunes ``amount`` whole channels along ``dim`` chosen at random (tensors of 2 or more dims)."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount, dim=-1):
        _validate_pruning_amount_init(amount)
        self.amount = amount
        self.dim = dim

    def compute_mask(self, t, default_mask):
        _validate_structured_pruning(t)
        _validate_pruning_dim(t, self.dim)
        tensor_size = t.shape[self.dim]
        nparams_toprune = _compute_nparams_toprune(self.amount, tensor_size)
        _validate_pruning_amount(nparams_toprune, tensor_size)
        if nparams_toprune == 0:
            return default_mask
        dl = _dl()
        prob = dl.rand(tensor_size)
        threshold = dl.kthvalue(prob, k=nparams_toprune).values
        channel_mask = _ops.gt(prob, threshold).to(device=t.device)
        mask = dl.zeros_like(t)
        slc = [slice(None)] * len(t.shape)
        slc[self.dim] = channel_mask
        mask[tuple(slc)] = 1
        return _ops.mul(mask, default_mask.to(dtype=mask.dtype))

    @classmethod
    def apply(cls, module, name, amount, dim=-1):
        return super().apply(module, name, amount=amount, dim=dim)


class LnStructured(BasePruningMethod):
    """Prunes the ``amount`` channels along ``dim`` of smallest L``n`` norm (n: an int, float, inf, -inf or
    'fro', as for dlcore.norm)."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount, n, dim=-1):
        _validate_pruning_amount_init(amount)
        self.amount = amount
        self.n = n
        self.dim = dim

    def compute_mask(self, t, default_mask):
        _validate_structured_pruning(t)
        _validate_pruning_dim(t, self.dim)
        tensor_size = t.shape[self.dim]
        nparams_toprune = _compute_nparams_toprune(self.amount, tensor_size)
        nparams_tokeep = tensor_size - nparams_toprune
        _validate_pruning_amount(nparams_toprune, tensor_size)
        if nparams_toprune == 0:
            return default_mask
        dl = _dl()
        norm = _compute_norm(t, self.n, self.dim)
        topk = dl.topk(norm, k=nparams_tokeep, largest=True)
        mask = dl.zeros_like(t)
        slc = [slice(None)] * len(t.shape)
        slc[self.dim] = topk.indices
        mask[tuple(slc)] = 1
        return _ops.mul(mask, default_mask.to(dtype=mask.dtype))

    @classmethod
    def apply(cls, module, name, amount, n, dim, importance_scores=None):
        return super().apply(module, name, amount=amount, n=n, dim=dim, importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    """Prunes with a given mask (zeros are pruned)."""

    PRUNING_TYPE = "global"

    def __init__(self, mask):
        if not isinstance(mask, Tensor):
            raise TypeError(f"CustomFromMask: mask must be a dlcore.Tensor, got {type(mask).__name__}")
        self.mask = mask

    def compute_mask(self, t, default_mask):
        if tuple(default_mask.shape) != tuple(self.mask.shape):
            raise AssertionError(f"default_mask shape {list(default_mask.shape)} must match self.mask shape "
                                 f"{list(self.mask.shape)}")
        return _ops.mul(default_mask, self.mask.to(dtype=default_mask.dtype, device=default_mask.device))

    @classmethod
    def apply(cls, module, name, mask):
        return super().apply(module, name, mask=mask)


def identity(module, name):
    """Applies the Identity pruning to parameter ``name`` (a mask of ones); returns module."""
    Identity.apply(module, name)
    return module


def random_unstructured(module, name, amount):
    """Prunes ``amount`` random entries of parameter ``name``; returns module."""
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module, name, amount, importance_scores=None):
    """Prunes the ``amount`` entries of parameter ``name`` of smallest |importance_scores| (default: the
    parameter); returns module."""
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module, name, amount, dim):
    """Prunes ``amount`` random channels along ``dim`` of parameter ``name``; returns module."""
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module, name, amount, n, dim, importance_scores=None):
    """Prunes the ``amount`` channels along ``dim`` of parameter ``name`` of smallest Ln norm; returns module."""
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs):
    """Prunes the (module, name) pairs in ``parameters`` together: ``pruning_method`` (an "unstructured" method
    class, e.g. L1Unstructured, constructed with **kwargs) acts on all of them concatenated, and each parameter gets
    its slice of the resulting mask through custom_from_mask."""
    from .convert_parameters import parameters_to_vector
    if not isinstance(parameters, Iterable):
        raise TypeError("global_unstructured(): parameters is not an Iterable")
    parameters = list(parameters)
    importance_scores = importance_scores if importance_scores is not None else {}
    if not isinstance(importance_scores, dict):
        raise TypeError("global_unstructured(): importance_scores must be of type dict")
    dl = _dl()
    with no_grad():
        relevant_importance_scores = parameters_to_vector(
            [importance_scores.get((module, name), getattr(module, name)).detach() for module, name in parameters])
        default_mask = parameters_to_vector(
            [getattr(module, name + "_mask", None) if hasattr(module, name + "_mask")
             else dl.ones_like(getattr(module, name)) for module, name in parameters])
    container = PruningContainer()
    container._tensor_name = "temp"
    method = pruning_method(**kwargs)
    method._tensor_name = "temp"
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError('Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. Found method '
                        f"{pruning_method} of type {method.PRUNING_TYPE}")
    container.add_pruning_method(method)
    with no_grad():
        final_mask = container.compute_mask(relevant_importance_scores, default_mask)
    pointer = 0
    for module, name in parameters:
        param = getattr(module, name)
        num_param = param.numel()
        param_mask = final_mask[pointer:pointer + num_param].reshape(param.shape)
        custom_from_mask(module, name, mask=param_mask)
        pointer += num_param


def custom_from_mask(module, name, mask):
    """Prunes parameter ``name`` with the given mask (zeros are pruned); returns module."""
    CustomFromMask.apply(module, name, mask)
    return module


def remove(module, name):
    """Makes the pruning of parameter ``name`` permanent (see BasePruningMethod.remove); returns module."""
    for k, hook in module._forward_pre_hooks.items():
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            del module._forward_pre_hooks[k]
            return module
    raise ValueError(f"Parameter '{name}' of module {module} has to be pruned before pruning can be removed")


def is_pruned(module):
    """True when module or one of its submodules has a pruning forward pre-hook."""
    for _, submodule in module.named_modules():
        for hook in submodule._forward_pre_hooks.values():
            if isinstance(hook, BasePruningMethod):
                return True
    return False


def _validate_pruning_amount_init(amount):
    if not isinstance(amount, numbers.Real) or isinstance(amount, bool):
        raise TypeError(f"Invalid type for amount: {amount}. Must be int or float.")
    if (isinstance(amount, numbers.Integral) and amount < 0) or (
            not isinstance(amount, numbers.Integral) and (float(amount) > 1.0 or float(amount) < 0.0)):
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a non-negative integer")


def _validate_pruning_amount(amount, tensor_size):
    if isinstance(amount, numbers.Integral) and amount > tensor_size:
        raise ValueError(f"amount={amount} should be smaller than the number of parameters to prune={tensor_size}")


def _validate_structured_pruning(t):
    shape = t.shape
    if len(shape) <= 1:
        raise ValueError("Structured pruning can only be applied to multidimensional tensors. Found tensor of shape "
                         f"{list(shape)} with {len(shape)} dims")


def _compute_nparams_toprune(amount, tensor_size):
    if isinstance(amount, numbers.Integral):
        return amount
    return round(amount * tensor_size)


def _validate_pruning_dim(t, dim):
    if dim >= t.dim():
        raise IndexError(f"Invalid index {dim} for tensor of size {list(t.shape)}")


def _compute_norm(t, n, dim):
    dims = list(range(t.dim()))
    if dim < 0:
        dim = dims[dim]
    dims.remove(dim)
    return _dl().norm(t, p=n, dim=dims)
