"""Containers: Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict."""
from __future__ import annotations

import operator
from collections import OrderedDict

from .module import Module
from .parameter import Parameter

__all__ = ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]


def _norm_index(idx, n, who):
    idx = operator.index(idx)
    if not -n <= idx < n:
        raise IndexError(f"{who}: index {idx} is out of range (length {n})")
    return idx + n if idx < 0 else idx


class Sequential(Module):
    """Sequential(*modules) or Sequential(OrderedDict(name=module)): forward runs them in order."""

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], (OrderedDict, dict)):
            for key, module in args[0].items():
                self.add_module(key, module)
        else:
            for idx, module in enumerate(args):
                self.add_module(str(idx), module)

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self.__class__(OrderedDict(list(self._modules.items())[idx]))
        keys = list(self._modules)
        return self._modules[keys[_norm_index(idx, len(keys), "Sequential")]]

    def __setitem__(self, idx, module):
        keys = list(self._modules)
        setattr(self, keys[_norm_index(idx, len(keys), "Sequential")], module)

    def __delitem__(self, idx):
        keys = list(self._modules)
        if isinstance(idx, slice):
            for k in keys[idx]:
                delattr(self, k)
        else:
            delattr(self, keys[_norm_index(idx, len(keys), "Sequential")])
        # keep numeric names contiguous, like torch
        items = list(self._modules.items())
        if all(k.isdigit() for k, _ in items):
            for k, _ in items:
                delattr(self, k)
            for i, (_, m) in enumerate(items):
                self.add_module(str(i), m)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __add__(self, other):
        if not isinstance(other, Sequential):
            return NotImplemented
        return Sequential(*self, *other)

    def __mul__(self, other):
        """The modules repeated `other` times (the same module objects, as torch: their parameters are shared)."""
        if not isinstance(other, int) or isinstance(other, bool):
            return NotImplemented
        if other <= 0:
            raise ValueError(f"Non-positive multiplication factor {other} for Sequential")
        return Sequential(*(list(self) * other))

    __rmul__ = __mul__

    def __imul__(self, other):
        if not isinstance(other, int) or isinstance(other, bool):
            return NotImplemented
        if other <= 0:
            raise ValueError(f"Non-positive multiplication factor {other} for Sequential")
        mods = list(self)
        for _ in range(other - 1):
            self.extend(mods)
        return self

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        mods = list(self._modules.values())
        n = len(mods)
        if not -n <= index <= n:
            raise IndexError(f"Sequential.insert: index {index} is out of range (length {n})")
        mods.insert(index if index >= 0 else index + n, module)
        for k in list(self._modules):
            delattr(self, k)
        for i, m in enumerate(mods):
            self.add_module(str(i), m)
        return self

    def pop(self, idx=-1):
        m = self[idx]
        del self[idx]
        return m


class ModuleList(Module):
    """A list of modules, registered as submodules (named "0", "1", ...)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self.__class__(list(self._modules.values())[idx])
        return self._modules[str(_norm_index(idx, len(self), "ModuleList"))]

    def __setitem__(self, idx, module):
        setattr(self, str(_norm_index(idx, len(self), "ModuleList")), module)

    def __delitem__(self, idx):
        keys = list(self._modules)
        if isinstance(idx, slice):
            for k in keys[idx]:
                delattr(self, k)
        else:
            delattr(self, keys[_norm_index(idx, len(keys), "ModuleList")])
        mods = list(self._modules.values())
        for k in list(self._modules):
            delattr(self, k)
        for i, m in enumerate(mods):
            self.add_module(str(i), m)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        return ModuleList(list(self) + list(other))

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        if isinstance(modules, Module) and not isinstance(modules, (ModuleList, Sequential)):
            raise TypeError("ModuleList.extend should be called with an iterable, but got " + type(modules).__name__)
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        mods = list(self._modules.values())
        mods.insert(index, module)
        for k in list(self._modules):
            delattr(self, k)
        for i, m in enumerate(mods):
            self.add_module(str(i), m)

    def pop(self, idx=-1):
        m = self[idx]
        del self[idx]
        return m

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward(); iterate over it and call its modules")


class ModuleDict(Module):
    """An ordered dict of modules, registered as submodules under their keys."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        delattr(self, key)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def clear(self):
        for k in list(self._modules):
            delattr(self, k)

    def pop(self, key):
        v = self[key]
        del self[key]
        return v

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def update(self, modules):
        items = modules.items() if hasattr(modules, "items") else modules
        for k, m in items:
            self[k] = m

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward(); index it and call its modules")


class ParameterList(Module):
    """A list of Parameters, registered under "0", "1", ..."""

    def __init__(self, values=None):
        super().__init__()
        if values is not None:
            for v in values:
                self.append(v)

    def __getitem__(self, idx):
        if isinstance(idx, slice):  # a new ParameterList of the same Parameter objects, like torch
            return self.__class__(list(self._parameters.values())[idx])
        return self._parameters[str(_norm_index(idx, len(self), "ParameterList"))]

    def __setitem__(self, idx, p):
        self.register_parameter(str(_norm_index(idx, len(self), "ParameterList")), _as_param(p))

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def append(self, p):
        self.register_parameter(str(len(self)), _as_param(p))
        return self

    def extend(self, ps):
        for p in ps:
            self.append(p)
        return self

    def extra_repr(self):
        return _params_repr(self._parameters)


class ParameterDict(Module):
    """An ordered dict of Parameters."""

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def update(self, parameters):
        """Adds (or replaces) parameters from a mapping or an iterable of (key, value) pairs; a plain dict is taken
        in sorted key order, an OrderedDict or ParameterDict in its own (torch)."""
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            items = list(parameters.items())
        elif hasattr(parameters, "items") and hasattr(parameters, "keys"):
            items = sorted(parameters.items(), key=lambda kv: kv[0])
        else:
            items = []
            for j, kv in enumerate(parameters):
                if not isinstance(kv, (tuple, list)) or len(kv) != 2:
                    raise ValueError(f"ParameterDict.update(): element #{j} of the iterable should be a (key, value) "
                                     f"pair, got {type(kv).__name__}")
                items.append(tuple(kv))
        for k, p in items:
            self[k] = p

    def pop(self, key):
        v = self._parameters[key]
        del self[key]
        return v

    def popitem(self):
        k = next(reversed(list(self._parameters.keys())))
        return k, self.pop(k)

    def clear(self):
        for k in list(self._parameters.keys()):
            del self[k]

    def setdefault(self, key, default=None):
        if key not in self._parameters:
            self[key] = default
        return self._parameters[key]

    def copy(self):
        return ParameterDict(OrderedDict(self._parameters.items()))

    def fromkeys(self, keys, default=None):
        return ParameterDict(OrderedDict((k, default) for k in keys))

    def __or__(self, other):
        out = self.copy()
        out.update(other)
        return out

    def __ror__(self, other):
        out = ParameterDict(other)
        out.update(self)
        return out

    def __ior__(self, other):
        self.update(other)
        return self

    def __getitem__(self, key):
        return self._parameters[key]

    def __setitem__(self, key, p):
        self.register_parameter(key, _as_param(p))

    def __delitem__(self, key):
        delattr(self, key)

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters)

    def __contains__(self, key):
        return key in self._parameters

    def keys(self):
        return self._parameters.keys()

    def items(self):
        return self._parameters.items()

    def values(self):
        return self._parameters.values()

    def get(self, key, default=None):
        return self._parameters.get(key, default)

    def extra_repr(self):
        return _params_repr(self._parameters)


def _params_repr(params):
    """torch's lines for ParameterList/ParameterDict: "(key): Parameter containing: [dtype of size AxB]" (plus the
    device when it is not the CPU)."""
    lines = []
    for k, p in params.items():
        if p is None:
            lines.append(f"({k}): None")
            continue
        dev = "" if p.device.type == "cpu" else f" ({p.device})"
        lines.append(f"({k}): Parameter containing: [{p.dtype!r} of size {'x'.join(map(str, p.shape))}{dev}]")
    return "\n".join(lines)


def _as_param(p):
    return p if isinstance(p, Parameter) or p is None else Parameter(p)
