"""Module: the base class of every layer and network (PyTorch's torch.nn.Module API).

Attributes that are Parameters, Modules or registered buffers are tracked in ``_parameters``, ``_modules`` and
``_buffers`` (ordered dicts, in assignment order). They are also mirrored in the instance ``__dict__`` so that
``self.weight`` in a ``forward`` is a plain attribute read (no ``__getattr__`` fallback on the hot path).
"""
from __future__ import annotations

import warnings

import itertools
from collections import OrderedDict, namedtuple

from .. import _C
from .. import autograd as _ag
from .parameter import Parameter, Buffer
from .._hooks import RemovableHandle as _RemovableHandle, add_hook as _global_handle

Tensor = _C.Tensor

__all__ = ["Module"]


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _hook_grads(r, n, hook, what):
    """A backward hook's replacement gradients as a tuple of the expected length n."""
    r = tuple(r) if isinstance(r, (tuple, list)) else (r,)
    if len(r) != n:
        raise RuntimeError(f"{hook} returned an invalid number of {what}, got {len(r)}, but expected {n}")
    return r


# Global hooks (torch.nn.modules.module.register_module_*): run for every module, before the module's own hooks.
_global_forward_pre_hooks: "OrderedDict" = OrderedDict()
_global_forward_hooks: "OrderedDict" = OrderedDict()
_global_forward_hooks_with_kwargs: set = set()
_global_forward_hooks_always_called: set = set()
_global_backward_pre_hooks: "OrderedDict" = OrderedDict()
_global_backward_hooks: "OrderedDict" = OrderedDict()
_global_buffer_registration_hooks: "OrderedDict" = OrderedDict()
_global_module_registration_hooks: "OrderedDict" = OrderedDict()
_global_parameter_registration_hooks: "OrderedDict" = OrderedDict()




def register_module_forward_pre_hook(hook):
    """hook(module, args) -> None or new args, run before every module's forward (before its own pre-hooks)."""
    return _global_handle(_global_forward_pre_hooks, hook)


def register_module_forward_hook(hook, *, with_kwargs=False, always_call=False):
    """hook(module, args, output) (with_kwargs: hook(module, args, kwargs, output)) -> None or a new output, run
    after every module's forward, before its own forward hooks; always_call: also when forward raises."""
    h = _global_handle(_global_forward_hooks, hook)
    if with_kwargs:
        _global_forward_hooks_with_kwargs.add(h.id)
    if always_call:
        _global_forward_hooks_always_called.add(h.id)
    return h


def register_module_full_backward_pre_hook(hook):
    """hook(module, grad_output) -> None or a new grad_output, for every module (before its own)."""
    return _global_handle(_global_backward_pre_hooks, hook)


def register_module_full_backward_hook(hook):
    """hook(module, grad_input, grad_output) -> None or a new grad_input, for every module (before its own)."""
    return _global_handle(_global_backward_hooks, hook)


def register_module_backward_hook(hook):
    """Deprecated in torch in favour of register_module_full_backward_hook; here the same hook."""
    warnings.warn("register_module_backward_hook is deprecated; use register_module_full_backward_hook",
                  FutureWarning, stacklevel=2)
    return register_module_full_backward_hook(hook)


def register_module_buffer_registration_hook(hook):
    """hook(module, name, buffer) -> None or a new buffer, called by every register_buffer."""
    return _global_handle(_global_buffer_registration_hooks, hook)


def register_module_module_registration_hook(hook):
    """hook(module, name, submodule) -> None or a new submodule, called by every add_module."""
    return _global_handle(_global_module_registration_hooks, hook)


def register_module_parameter_registration_hook(hook):
    """hook(module, name, param) -> None or a new parameter, called by every register_parameter."""
    return _global_handle(_global_parameter_registration_hooks, hook)


def _hooks_of(m, store_name, global_store):
    return list(global_store.values()) + list(m.__dict__.get(store_name, {}).values())


class _BackwardHookFunction(_ag.Function):
    """Identity on the tensors it is given; its backward hands their gradients to ``cb`` (a _BackwardHook method)
    and returns what cb returns. The module's inputs go through one, its outputs through another. The results are
    copies, not views: an in-place op on a hooked module's output (``nn.ReLU(inplace=True)`` after it, where torch
    raises) then leaves the gradients right."""

    @staticmethod
    def forward(ctx, cb, *tensors):
        ctx.cb = cb
        return tuple(_C.clone(t) for t in tensors)

    @staticmethod
    def backward(ctx, *grads):
        return (None,) + tuple(ctx.cb(grads))


class _BackwardHook:
    """The full backward (pre-)hooks of one module call (torch.utils.hooks.BackwardHook): the outputs' gradients
    are recorded (after the backward pre-hooks), then the hooks see (grad_input, grad_output) when the inputs'
    gradients are known and may replace grad_input. Holds no tensor of the forward (no reference cycle)."""

    def __init__(self, module):
        self.module = module
        self.n_inputs = 0
        self.input_index = None
        self.output_index = None
        self.grad_outputs = None

    @staticmethod
    def _pack(index, values, n):
        out = [None] * n
        for i, v in zip(index, values):
            out[i] = v
        return tuple(out)

    @staticmethod
    def _wrap(values, cb):
        index = [i for i, v in enumerate(values) if isinstance(v, Tensor) and v.requires_grad]
        if not index:
            return values, None
        new = list(values)
        for i, t in zip(index, _BackwardHookFunction.apply(cb, *[values[i] for i in index])):
            new[i] = t
        return new, index

    def setup_input_hook(self, args):
        self.n_inputs = len(args)
        new, self.input_index = self._wrap(args, self._input_grads)
        return args if self.input_index is None else tuple(new)

    def setup_output_hook(self, out):
        single = isinstance(out, Tensor)
        if not single and type(out) is not tuple and not hasattr(out, "_fields"):
            return out  # a dict or other structure: torch hooks top-level tensors of a tuple only
        values = (out,) if single else tuple(out)
        self.n_outputs = len(values)
        new, self.output_index = self._wrap(values, self._output_grads)
        if self.output_index is None:
            return out
        if single:
            return new[0]
        return type(out)(*new) if hasattr(out, "_fields") else tuple(new)

    def _output_grads(self, grads):
        m = self.module
        grads = self._pack(self.output_index, grads, self.n_outputs)
        for hook in _hooks_of(m, "_backward_pre_hooks", _global_backward_pre_hooks):
            r = hook(m, grads)
            if r is not None:
                grads = _hook_grads(r, len(grads), "Backward pre hook", "grad_output")
        self.grad_outputs = grads
        if self.input_index is None:  # no input requires grad: the hooks run now, with grad_input all None
            grad_inputs = (None,) * self.n_inputs
            if m.__dict__.get("_backward_hooks") or _global_backward_hooks:
                warnings.warn("Full backward hook is firing when gradients are computed with respect to module "
                              "outputs since no inputs require gradients. See the documentation of "
                              "register_full_backward_hook for more details.", stacklevel=2)
            for hook in _hooks_of(m, "_backward_hooks", _global_backward_hooks):
                r = hook(m, grad_inputs, grads)
                if r is not None and not all(g is None for g in (r if isinstance(r, (tuple, list)) else (r,))):
                    raise RuntimeError("Backward hook for Modules where no input requires gradient should always "
                                       "return None or None for all gradients.")
            self.grad_outputs = None
        return tuple(grads[i] for i in self.output_index)

    def _input_grads(self, grads):
        m = self.module
        grad_inputs = self._pack(self.input_index, grads, self.n_inputs)
        for hook in _hooks_of(m, "_backward_hooks", _global_backward_hooks):
            r = hook(m, grad_inputs, self.grad_outputs)
            if r is not None:
                grad_inputs = _hook_grads(r, len(grad_inputs), "Backward hook", "grad_input")
        self.grad_outputs = None
        return tuple(grad_inputs[i] for i in self.input_index)


_EXTRA_STATE_KEY_SUFFIX = "_extra_state"


def _addindent(s, n):
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * n + line for line in lines[1:])


def _to_dlcore_tensor(value, key):
    """A state-dict value as a dlcore tensor: dlcore tensors as they are; NumPy arrays and torch tensors (through
    NumPy, without importing torch) converted. Anything else (a Python number, a list) is refused like torch does."""
    if isinstance(value, Tensor):
        return value
    import numpy as np
    arr = value
    if hasattr(value, "detach") and hasattr(value, "numpy") and hasattr(value, "cpu"):  # a torch tensor
        arr = value.detach().cpu().numpy()
    if not isinstance(arr, np.ndarray) or arr.dtype == object:
        raise TypeError(f'While copying the parameter named "{key}", expected dlcore.Tensor or Tensor-like object '
                        f"from checkpoint but received {type(value)}")
    return _C.from_numpy(np.require(arr, requirements="C"))


class Module:
    """Base class for all neural network modules. Subclasses define ``forward`` and assign submodules and
    parameters as attributes in ``__init__`` (after calling ``super().__init__()``)."""

    training: bool
    _version = 1
    call_super_init = False

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_hooks_with_kwargs"] = set()
        d["_forward_pre_hooks_with_kwargs"] = set()
        d["_backward_hooks"] = OrderedDict()
        d["_backward_pre_hooks"] = OrderedDict()
        d["_state_dict_hooks"] = OrderedDict()
        d["_load_state_dict_pre_hooks"] = OrderedDict()

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    # --------------------------------------------------------------------------------------------- calling

    def __call__(self, *args, **kwargs):
        d = self.__dict__
        if not d["_forward_pre_hooks"] and not d["_forward_hooks"] and not d.get("_backward_hooks") \
                and not d.get("_backward_pre_hooks") and not _global_forward_pre_hooks and not _global_forward_hooks \
                and not _global_backward_hooks and not _global_backward_pre_hooks:
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args, kwargs):
        d = self.__dict__
        for hook in list(_global_forward_pre_hooks.values()):
            r = hook(self, args)
            if r is not None:
                args = r if isinstance(r, tuple) else (r,)
        pre_kw = d.get("_forward_pre_hooks_with_kwargs", ())
        for hid, hook in list(self._forward_pre_hooks.items()):
            if hid in pre_kw:
                r = hook(self, args, kwargs)
                if r is not None:
                    if not (isinstance(r, tuple) and len(r) == 2):
                        raise RuntimeError(f"forward pre-hook must return None or a tuple of (new_args, new_kwargs), "
                                           f"but got {r}.")
                    args, kwargs = r
                continue
            r = hook(self, args)
            if r is not None:
                args = r if isinstance(r, tuple) else (r,)
        bw = None
        if (d.get("_backward_hooks") or d.get("_backward_pre_hooks") or _global_backward_hooks
                or _global_backward_pre_hooks) and _ag.is_grad_enabled():
            bw = _BackwardHook(self)
            args = bw.setup_input_hook(args)
        fwd_kw = d.get("_forward_hooks_with_kwargs", ())
        if _global_forward_hooks_with_kwargs:
            fwd_kw = set(fwd_kw) | _global_forward_hooks_with_kwargs
        fwd_hooks = list(_global_forward_hooks.items()) + list(self._forward_hooks.items())
        try:
            out = self.forward(*args, **kwargs)
        except Exception:
            always = set(d.get("_forward_hooks_always_called", ())) | _global_forward_hooks_always_called
            for hid, hook in fwd_hooks:  # always_call hooks see output None, then re-raise
                if hid in always:
                    try:
                        hook(self, args, kwargs, None) if hid in fwd_kw else hook(self, args, None)
                    except Exception:
                        warnings.warn("forward hook with always_call=True raised an exception that was silenced "
                                      "(the forward's exception is raised)", RuntimeWarning, stacklevel=2)
            raise
        for hid, hook in fwd_hooks:
            r = hook(self, args, kwargs, out) if hid in fwd_kw else hook(self, args, out)
            if r is not None:
                out = r
        if bw is not None:
            out = bw.setup_output_hook(out)
        return out

    def _add_hook(self, store_name, hook, prepend=False, kw_set=None):
        d = self.__dict__
        store = d.get(store_name)
        if store is None:  # a module unpickled from before the store existed
            store = d[store_name] = OrderedDict()
        h = _RemovableHandle(store)
        store[h.id] = hook
        if prepend:
            store.move_to_end(h.id, last=False)
        if kw_set is not None:
            s = d.get(kw_set)
            if s is None:
                s = d[kw_set] = set()
            s.add(h.id)
        return h

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """hook(module, args) -> None or modified args, run before forward. with_kwargs: hook(module, args, kwargs)
        -> None or (new_args, new_kwargs). prepend: run before the hooks already registered."""
        return self._add_hook("_forward_pre_hooks", hook, prepend,
                              "_forward_pre_hooks_with_kwargs" if with_kwargs else None)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        """hook(module, args, output) -> None or modified output, run after forward. with_kwargs:
        hook(module, args, kwargs, output). prepend: run before the hooks already registered. always_call: also run
        (with output None) when forward raises."""
        h = self._add_hook("_forward_hooks", hook, prepend, "_forward_hooks_with_kwargs" if with_kwargs else None)
        if always_call:
            self.__dict__.setdefault("_forward_hooks_always_called", set()).add(h.id)
        return h

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """hook(module, grad_output) -> None or a new grad_output tuple, run when the gradients with respect to the
        module's outputs are computed, before the gradients with respect to its inputs."""
        return self._add_hook("_backward_pre_hooks", hook, prepend)

    def compile(self, *args, **kwargs):
        """torch's Module.compile (compiles __call__ in place with torch.compile's arguments). dlcore runs eagerly
        (see dlcore.compile): the arguments are checked and the module is left as it is."""
        from .. import _compat
        _compat.compile(self, *args, **kwargs)

    def register_full_backward_hook(self, hook, prepend=False):
        """hook(module, grad_input, grad_output) -> None or a new grad_input tuple, run when the gradients with
        respect to the module's (positional tensor) inputs are computed. grad_input holds one entry per positional
        argument (None where it is not a tensor requiring grad); grad_output one per output."""
        return self._add_hook("_backward_hooks", hook, prepend)

    # --------------------------------------------------------------------------------------------- registration

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._remove_from(name, keep="_parameters")
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                "(dlcore.nn.Parameter or None expected)")
            self.register_parameter(name, None)
            return
        if isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._remove_from(name, keep="_modules")
            d["_modules"][name] = value
            d[name] = value
            return
        modules = d.get("_modules")
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module '{name}' "
                                "(dlcore.nn.Module or None expected)")
            modules[name] = None
            d[name] = None
            return
        if isinstance(value, Buffer):
            if params is None:
                raise AttributeError("cannot assign buffers before Module.__init__() call")
            self._remove_from(name, keep="_buffers")
            self.register_buffer(name, value._alias(), persistent=value.persistent)
            return
        buffers = d.get("_buffers")
        if buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                "(dlcore.Tensor or None expected)")
            buffers[name] = value
            d[name] = value
            return
        object.__setattr__(self, name, value)

    def _remove_from(self, name, keep):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store != keep and name in d[store]:
                del d[store][name]
                d["_non_persistent_buffers_set"].discard(name)
        if keep != "_buffers":
            d["_non_persistent_buffers_set"].discard(name)

    def __getattr__(self, name):
        # Only reached when normal lookup fails (registered members are mirrored in __dict__).
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            s = d.get(store)
            if s is not None and name in s:
                return s[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        d = self.__dict__
        found = False
        for store in ("_parameters", "_buffers", "_modules"):
            if name in d.get(store, ()):
                del d[store][name]
                found = True
        d.get("_non_persistent_buffers_set", set()).discard(name)
        if name in d:
            del d[name]
            found = True
        if not found:
            object.__delattr__(self, name)

    def __setstate__(self, state):
        self.__dict__.update(state)

    def register_parameter(self, name: str, param):
        """Adds a parameter (or None) under ``name``."""
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        _check_name(name, "parameter")
        if name in d and name not in d["_parameters"] and (name in d["_buffers"] or name in d["_modules"]):
            raise KeyError(f"attribute '{name}' already exists")
        if isinstance(getattr(type(self), name, None), property):  # e.g. a parametrized tensor (nn.utils.parametrize)
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                            "(dlcore.nn.Parameter or None required)")
        if param is not None and param.grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be created "
                             "explicitly; to express '{name}' as a function of another Tensor, compute the value in "
                             "the forward() method.")
        for hook in list(_global_parameter_registration_hooks.values()):
            r = hook(self, name, param)
            if r is not None:
                param = r
        d["_parameters"][name] = param
        d[name] = param

    def register_buffer(self, name: str, tensor, persistent: bool = True):
        """Adds a buffer (saved in the state dict when persistent; moved by ``to``; not a parameter)."""
        d = self.__dict__
        if "_buffers" not in d:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        _check_name(name, "buffer")
        if (name in d and name not in d["_buffers"]) or isinstance(getattr(type(self), name, None), property):
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            "(dlcore.Tensor or None required)")
        for hook in list(_global_buffer_registration_hooks.values()):
            r = hook(self, name, tensor)
            if r is not None:
                tensor = r
        d["_buffers"][name] = tensor
        d[name] = tensor
        if persistent:
            d["_non_persistent_buffers_set"].discard(name)
        else:
            d["_non_persistent_buffers_set"].add(name)

    def add_module(self, name: str, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        _check_name(name, "module")
        d = self.__dict__
        if name in d and name not in d["_modules"]:
            raise KeyError(f"attribute '{name}' already exists")
        for hook in list(_global_module_registration_hooks.values()):
            r = hook(self, name, module)
            if r is not None:
                module = r
        d["_modules"][name] = module
        d[name] = module

    register_module = add_module

    def get_submodule(self, target: str):
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            if item not in mod._modules:
                raise AttributeError(f"{type(mod).__name__} has no attribute `{item}`")
            mod = mod._modules[item]
        return mod

    def get_parameter(self, target: str):
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._parameters:
            raise AttributeError(f"{type(mod).__name__} has no parameter `{name}`")
        return mod._parameters[name]

    def get_buffer(self, target: str):
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._buffers:
            raise AttributeError(f"{type(mod).__name__} has no buffer `{name}`")
        return mod._buffers[name]

    # --------------------------------------------------------------------------------------------- iteration

    def _named_members(self, get_members, prefix="", recurse=True, remove_duplicate=True):
        memo = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for module_prefix, module in modules:
            for k, v in get_members(module):
                if v is None or (remove_duplicate and id(v) in memo):
                    continue
                if remove_duplicate:
                    memo.add(id(v))
                yield (module_prefix + ("." if module_prefix else "") + k, v)

    def parameters(self, recurse: bool = True):
        """The parameters (each once, even when shared by several submodules)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        yield from self._named_members(lambda m: m._parameters.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        yield from self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_children(self):
        memo = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in memo:
                memo.add(id(m))
                yield name, m

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """(name, module) for this module and every descendant, depth first (iterative: no recursion limit)."""
        if memo is None:
            memo = set()
        stack = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if remove_duplicate:
                if id(m) in memo:
                    continue
                memo.add(id(m))
            yield name, m
            kids = [(name + ("." if name else "") + k, c) for k, c in m._modules.items() if c is not None]
            stack.extend(reversed(kids))

    # --------------------------------------------------------------------------------------------- modes

    def train(self, mode: bool = True):
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True):
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                g = p.grad
                if g.grad_fn is not None:
                    g = g.detach()
                    p.grad = g
                _C.fill_(g, 0)

    # --------------------------------------------------------------------------------------------- transforms

    def apply(self, fn):
        """Calls fn(m) on every submodule (children first) and on self; returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _apply(self, fn):
        """Replaces the data of every parameter, gradient and buffer by fn(tensor), keeping Parameter identity."""
        for m in self.modules():
            for k, p in m._parameters.items():
                if p is None:
                    continue
                with _ag.no_grad():
                    new = fn(p)
                if new is not p:
                    p._set_data(new)
                if p.grad is not None:
                    g = fn(p.grad)
                    if g is not p.grad:
                        p.grad = None
                        p.grad = g
            for k, b in m._buffers.items():
                if b is not None:
                    nb = fn(b)
                    if nb is not b and getattr(b, "_lazy_placeholder", False):  # a lazy module's placeholder buffer
                        b._set_data(nb)  # stays the (uninitialised) same object, on the new device / dtype
                        nb = b
                    m._buffers[k] = nb
                    m.__dict__[k] = nb
        return self

    def to(self, *args, **kwargs):
        """to(device), to(dtype), to(tensor), to(device, dtype): floating-point parameters and buffers get the
        dtype, all get the device."""
        from .._tensor import _parse_to_args
        dtype, device, _ = _parse_to_args(args, dict(kwargs))
        if dtype is not None and not dtype.is_floating_point:
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got desired dtype={dtype!r}")

        def convert(t):
            dt = dtype if (dtype is not None and t.dtype.is_floating_point) else None
            if dt is None and device is None:
                return t
            if (dt is None or dt == t.dtype) and (device is None or _C.device(device) == t.device):
                return t
            return _C.to(t, dt, device, False)

        return self._apply(convert)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device))

    def float(self):
        return self.to(_C.dtype.float32)

    def double(self):
        return self.to(_C.dtype.float64)

    def half(self):
        return self.to(_C.dtype.float16)

    def bfloat16(self):
        return self.to(_C.dtype.bfloat16)

    def type(self, dst_type):
        return self.to(dst_type)

    def share_memory(self):
        return self

    # --------------------------------------------------------------------------------------------- state dict

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()
        if type(self).get_extra_state is not Module.get_extra_state:
            destination[prefix + _EXTRA_STATE_KEY_SUFFIX] = self.get_extra_state()

    def get_extra_state(self):
        """The module's extra (non-tensor) state for state_dict, under the key ``_extra_state``: override it together
        with set_extra_state (torch's protocol; any picklable value)."""
        raise RuntimeError("Reached a code path in Module.get_extra_state() that should never be called. Please file "
                           "an issue if you see this.")

    def set_extra_state(self, state):
        """Restores what get_extra_state returned (called by load_state_dict when the class overrides it)."""
        raise RuntimeError("Reached a code path in Module.set_extra_state() that should never be called. Please file "
                           "an issue if you see this.")

    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        """An OrderedDict name -> tensor of the parameters and persistent buffers (detached, sharing storage)."""
        if args:  # torch's deprecated positional form state_dict(destination, prefix, keep_vars)
            destination = args[0]
            if len(args) > 1:
                prefix = args[1]
            if len(args) > 2:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
        stack = [(prefix, self)]
        while stack:
            pre, m = stack.pop()
            m._save_to_state_dict(destination, pre, keep_vars)
            for hook in m._state_dict_hooks.values():
                r = hook(m, destination, pre, {})
                if r is not None:
                    destination = r
            stack.extend(reversed([(pre + k + ".", c) for k, c in m._modules.items() if c is not None]))
        return destination

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        """Copies this module's own parameters and persistent buffers from state_dict (keys with ``prefix``); with
        local_metadata["assign_to_params_buffers"] the module takes the state-dict tensors instead (torch's
        load_state_dict(assign=True))."""
        for hook in self._load_state_dict_pre_hooks.values():
            hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)
        assign = bool(local_metadata.get("assign_to_params_buffers", False))
        persistent = {k: v for k, v in self._buffers.items() if k not in self._non_persistent_buffers_set}
        local = list(itertools.chain(self._parameters.items(), persistent.items()))
        for name, param in local:
            key = prefix + name
            if param is None:
                continue
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            try:
                value = _to_dlcore_tensor(state_dict[key], key)
            except TypeError as e:
                error_msgs.append(str(e))
                continue
            if tuple(value.shape) != tuple(param.shape):
                error_msgs.append(f"size mismatch for {key}: copying a param with shape {list(value.shape)} from "
                                  f"checkpoint, the shape in current model is {list(param.shape)}.")
                continue
            if assign:
                # the module takes the given tensor (its dtype, device and storage); a parameter stays a Parameter
                # with the old one's requires_grad
                if isinstance(param, Parameter):
                    if isinstance(value, Parameter):
                        value.requires_grad_(param.requires_grad)
                    else:
                        value = Parameter(value, requires_grad=param.requires_grad)
                setattr(self, name, value)
                continue
            if value.dtype.is_floating_point != param.dtype.is_floating_point and value.dtype != param.dtype:
                if param.dtype == _C.dtype.bool or value.dtype == _C.dtype.bool:
                    error_msgs.append(f"dtype mismatch for {key}: checkpoint has {value.dtype.name}, the model "
                                      f"has {param.dtype.name}.")
                    continue
            try:
                with _ag.no_grad():
                    if value.device != param.device or value.dtype != param.dtype:
                        value = _C.to(value, param.dtype, param.device, False)
                    _C.copy_(param, value)
            except Exception as e:  # noqa: BLE001
                error_msgs.append(f'While copying the parameter named "{key}", whose dimensions in the model are '
                                  f"{list(param.shape)} and whose dimensions in the checkpoint are "
                                  f"{list(value.shape)}, an exception occurred : {e}.")
        extra_key = prefix + _EXTRA_STATE_KEY_SUFFIX
        has_extra = type(self).set_extra_state is not Module.set_extra_state
        if has_extra:
            if extra_key in state_dict:
                self.set_extra_state(state_dict[extra_key])
            elif strict:
                missing_keys.append(extra_key)
        if strict:
            own = set(self._parameters) | set(persistent)
            if has_extra:
                own.add(_EXTRA_STATE_KEY_SUFFIX)
            for key in state_dict.keys():
                if not key.startswith(prefix):
                    continue
                rest = key[len(prefix):]
                head = rest.split(".", 1)[0]
                if "." not in rest:
                    if rest not in own:
                        unexpected_keys.append(key)
                elif head not in self._modules or self._modules[head] is None:
                    if head not in own:
                        unexpected_keys.append(key)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copies parameters and buffers from state_dict into this module (in place).

        strict: every key must match (missing and unexpected keys raise a RuntimeError listing them); shape
        mismatches always raise. assign: instead of copying, the module's parameters and buffers become the
        state-dict tensors (parameters wrapped as Parameter, keeping the old requires_grad), so their dtype and
        device are the state dict's and the storage is shared. Returns (missing_keys, unexpected_keys)."""
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict).__name__}.")
        state_dict = OrderedDict((k, state_dict[k]) for k in state_dict.keys())  # load pre-hooks may edit their copy
        missing, unexpected, errors = [], [], []
        stack = [("", self)]
        while stack:
            pre, m = stack.pop()
            m._load_from_state_dict(state_dict, pre, {"assign_to_params_buffers": bool(assign)}, True, missing,
                                    unexpected, errors)
            stack.extend(reversed([(pre + k + ".", c) for k, c in m._modules.items() if c is not None]))
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected)))
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in missing)))
        if errors:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                type(self).__name__, "\n\t".join(errors)))
        return _IncompatibleKeys(missing, unexpected)

    def register_state_dict_pre_hook(self, hook):
        raise NotImplementedError("register_state_dict_pre_hook is not supported by dlcore")

    def _register_state_dict_hook(self, hook):
        h = _RemovableHandle(self._state_dict_hooks)
        self._state_dict_hooks[h.id] = hook
        return h

    def _register_load_state_dict_pre_hook(self, hook, with_module=False):
        h = _RemovableHandle(self._load_state_dict_pre_hooks)
        self._load_state_dict_pre_hooks[h.id] = (lambda *a: hook(self, *a)) if with_module else hook
        return h

    # --------------------------------------------------------------------------------------------- repr

    def extra_repr(self) -> str:
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = []
        for key, module in self._modules.items():
            mod_str = _addindent(repr(module), 2)
            child_lines.append("(" + key + "): " + mod_str)
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def __dir__(self):
        attrs = set(dir(type(self))) | set(self.__dict__)
        return sorted(a for a in attrs if not a[0].isdigit())


def _check_name(name, kind):
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
    if name == "":
        raise KeyError(f'{kind} name can\'t be empty string ""')
    if "." in name:
        raise KeyError(f'{kind} name can\'t contain "."')
