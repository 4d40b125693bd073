"""Optimizer: parameter groups, per-parameter state, zero_grad, state_dict/load_state_dict (torch.optim API)."""
from __future__ import annotations

import copy
import functools
import itertools
from collections import OrderedDict, defaultdict

from .. import _C
from .._hooks import add_hook as _add_hook

Tensor = _C.Tensor
_LOWP = (_C.dtype.float16, _C.dtype.bfloat16)
_F32 = _C.dtype.float32

__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook"]


_global_step_pre_hooks = OrderedDict()
_global_step_post_hooks = OrderedDict()


def register_optimizer_step_pre_hook(hook):
    """hook(optimizer, args, kwargs) -> None or (new_args, new_kwargs), before every optimizer's step()."""
    return _add_hook(_global_step_pre_hooks, hook)


def register_optimizer_step_post_hook(hook):
    """hook(optimizer, args, kwargs), after every optimizer's step()."""
    return _add_hook(_global_step_post_hooks, hook)


def _with_step_hooks(step):
    """step() running the global and the optimizer's own step pre-/post-hooks around it (torch's order: global then
    own before, own then global after). Costs one dict lookup when no hook is registered."""
    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        d = self.__dict__
        pre = d.get("_optimizer_step_pre_hooks")
        post = d.get("_optimizer_step_post_hooks")
        if not (pre or post or _global_step_pre_hooks or _global_step_post_hooks):
            return step(self, *args, **kwargs)
        for hook in list(itertools.chain(_global_step_pre_hooks.values(), (pre or {}).values())):
            r = hook(self, args, kwargs)
            if r is not None:
                if not (isinstance(r, tuple) and len(r) == 2):
                    raise RuntimeError(f"{hook} must return None or a tuple of (new_args, new_kwargs), but got {r}.")
                args, kwargs = r
        out = step(self, *args, **kwargs)
        for hook in list(itertools.chain((post or {}).values(), _global_step_post_hooks.values())):
            hook(self, args, kwargs)
        return out

    wrapper._dl_step_hooked = True
    return wrapper


class _Required:
    def __repr__(self):
        return "<required parameter>"


required = _Required()


class Optimizer:
    """Base class: subclasses implement step() over self.param_groups using self.state[param]."""

    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            "but got " + type(params).__name__)
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for g in param_groups:
            self.add_param_group(g)
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        cls = type(self)
        if not getattr(cls.step, "_dl_step_hooked", False):  # (once per class, as torch patches step)
            cls.step = _with_step_hooks(cls.step)

    def register_step_pre_hook(self, hook):
        """hook(optimizer, args, kwargs) -> None or (new_args, new_kwargs), run before this optimizer's step()."""
        return _add_hook(self.__dict__.setdefault("_optimizer_step_pre_hooks", OrderedDict()), hook)

    def register_step_post_hook(self, hook):
        """hook(optimizer, args, kwargs), run after this optimizer's step()."""
        return _add_hook(self.__dict__.setdefault("_optimizer_step_post_hooks", OrderedDict()), hook)

    def _add_dict_hook(self, attr, hook, prepend):
        store = self.__dict__.setdefault(attr, OrderedDict())
        h = _add_hook(store, hook)
        if prepend:
            store.move_to_end(h.id, last=False)
        return h

    def _dict_hooks(self, attr):
        return list(self.__dict__.get(attr, {}).values())

    def register_state_dict_pre_hook(self, hook, prepend=False):
        """hook(optimizer) -> None, run before state_dict() builds the dict."""
        return self._add_dict_hook("_optimizer_state_dict_pre_hooks", hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        """hook(optimizer, state_dict) -> state_dict or None (None: the dict, possibly modified in place)."""
        return self._add_dict_hook("_optimizer_state_dict_post_hooks", hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        """hook(optimizer, state_dict) -> state_dict or None, run on a shallow copy before loading it."""
        return self._add_dict_hook("_optimizer_load_state_dict_pre_hooks", hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        """hook(optimizer) -> None, run after load_state_dict()."""
        return self._add_dict_hook("_optimizer_load_state_dict_post_hooks", hook, prepend)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __repr__(self):
        s = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}"
            for key in sorted(group):
                if key != "params":
                    s += f"\n    {key}: {group[key]}"
        return s + "\n)"

    def add_param_group(self, param_group):
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering of "
                            "tensors in sets will change between runs. Please use a list instead.")
        else:
            param_group["params"] = list(params)
        # torch 2.6+: params may be (name, tensor) pairs (model.named_parameters()); the names are kept in the
        # group's "param_names" (and so in state_dict())
        names = [p[0] for p in param_group["params"] if isinstance(p, tuple)]
        if names:
            if len(names) != len(param_group["params"]):
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
            param_group["params"] = [p[1] for p in param_group["params"]]
            param_group["param_names"] = names
        for p in param_group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + type(p).__name__)
            if p.grad_fn is not None and not getattr(p, "retains_grad", False):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            param_group.setdefault(name, default)
        params = param_group["params"]
        if len(params) != len(set(id(p) for p in params)):
            import warnings
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will "
                          "cause an error", stacklevel=3)
        seen = set()
        for g in self.param_groups:
            seen.update(id(p) for p in g["params"])
            if ("param_names" in param_group) != ("param_names" in g):
                raise ValueError("all optimizer param groups should be with/without names. cannot add param group "
                                 + ("with names" if "param_names" in param_group else "without names")
                                 + " to the optimizer")
        if any(id(p) in seen for p in param_group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none: bool = True):
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if g.grad_fn is not None:
                        g = g.detach()
                        p.grad = g
                    _C.fill_(g, 0)

    def step(self, closure=None):
        """Subclasses override step(), or define _step_group(group, params, grads): step() then evaluates the
        closure (under enable_grad) and calls it for each parameter group with at least one gradient (the
        parameters without one are left out), and returns the closure's loss."""
        step_group = getattr(self, "_step_group", None)
        if step_group is None:
            raise NotImplementedError
        loss = _closure_loss(closure)
        for group, ps, gs in self._each_group():
            step_group(group, ps, gs)
        return loss

    # --------------------------------------------------------------------------------------------- state dict

    def state_dict(self):
        """{"state": {index: {name: tensor or number}}, "param_groups": [{hyper-parameters, "params": [index]}]};
        parameters are numbered in group order."""
        for hook in self._dict_hooks("_optimizer_state_dict_pre_hooks"):
            hook(self)
        mapping = {}
        start = 0
        groups = []
        for g in self.param_groups:
            ids = list(range(start, start + len(g["params"])))
            for p, i in zip(g["params"], ids):
                mapping.setdefault(id(p), i)
            start += len(ids)
            packed = {k: v for k, v in g.items() if k != "params"}
            packed["params"] = ids
            groups.append(packed)
        state = {}
        for g in self.param_groups:
            for p in g["params"]:
                st = self.state.get(p)
                if st:
                    state[mapping[id(p)]] = dict(st)
        sd = {"state": state, "param_groups": groups}
        for hook in self._dict_hooks("_optimizer_state_dict_post_hooks"):
            r = hook(self, sd)
            if r is not None:
                sd = r
        return sd

    def load_state_dict(self, state_dict):
        state_dict = copy.copy(state_dict)
        for hook in self._dict_hooks("_optimizer_load_state_dict_pre_hooks"):
            r = hook(self, state_dict)
            if r is not None:
                state_dict = r
        groups = self.param_groups
        saved_groups = state_dict["param_groups"]
        if len(groups) != len(saved_groups):
            raise ValueError(f"loaded state dict has {len(saved_groups)} parameter groups, the optimizer has "
                             f"{len(groups)}")
        for i, (g, sg) in enumerate(zip(groups, saved_groups)):
            if len(g["params"]) != len(sg["params"]):
                raise ValueError(f"loaded state dict contains a parameter group ({i}) with {len(sg['params'])} "
                                 f"parameters that doesn't match the size of optimizer's group "
                                 f"({len(g['params'])})")
        id_map = {}
        for g, sg in zip(groups, saved_groups):
            for old, p in zip(sg["params"], g["params"]):
                id_map[old] = p
                id_map[str(old)] = p  # keys may come back as strings from a serialized file
        new_state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            key = k if k in id_map else (int(k) if isinstance(k, str) and k.isdigit() else k)
            if key not in id_map:
                raise ValueError(f"loaded optimizer state refers to parameter {k!r}, which is not in any group")
            p = id_map[key]
            new_state[p] = {name: self._cast_state(p, name, val) for name, val in v.items()}
        self.state = new_state
        new_groups = []
        for g, sg in zip(groups, saved_groups):
            ng = {k: (tuple(v) if isinstance(v, list) and k in ("betas",) else v) for k, v in sg.items()}
            ng["params"] = g["params"]
            if "param_names" in g and "param_names" not in ng:
                ng["param_names"] = g["param_names"]
            new_groups.append(ng)
        self.param_groups = new_groups
        for hook in self._dict_hooks("_optimizer_load_state_dict_post_hooks"):
            hook(self)

    @staticmethod
    def _cast_state(p, name, val):
        if isinstance(val, Tensor):
            if name == "step":
                return int(val.item())
            if val.dtype.is_floating_point:
                return _C.to(val, p.dtype, p.device, True)
            return _C.clone(val)
        if hasattr(val, "detach") and hasattr(val, "numpy"):  # a torch tensor
            import numpy as np
            arr = np.require(val.detach().cpu().numpy(), requirements="C")  # (ascontiguousarray makes 0-d 1-d)
            if name == "step":
                return int(arr.item())
            return _C.to(_C.from_numpy(arr), p.dtype, p.device, True)
        return val

    # --------------------------------------------------------------------------------------------- helpers
    # A fused optimizer's _step_group(group, ps, gs) is: sts, steps = self._param_states(ps, init); gather the
    # state tensors (_gather); self._fused_step(_C._xxx_step, ps, gs, ...).

    def _each_group(self):
        """(group, params, grads) for each parameter group with at least one gradient (parameters without one are
        left out)."""
        for group in self.param_groups:
            ps, gs = self._grads(group)
            if ps:
                yield group, ps, gs

    def _param_states(self, ps, init, *, count=True, needs=None):
        """(states, steps): self.state[p] for each p in ps, and its "step" as it stood after p was counted. A
        parameter without state (or, with `needs`, without that entry) is given {"step": 0} and then the entries of
        init(p) (a dict, in the order the state dict keeps them); with count, its "step" (an int) is then
        incremented."""
        states, steps = [], []
        for p in ps:
            st = self.state[p]
            fresh = not st if needs is None else needs not in st
            if fresh:
                st["step"] = 0
                st.update(init(p))
            if count:
                st["step"] = int(st["step"]) + 1
            states.append(st)
            steps.append(st["step"])
        return states, steps

    @staticmethod
    def _gather(states, *names):
        """One list per name: [st[name] for st in states]."""
        return tuple([st[name] for st in states] for name in names)

    def _zeros_states(self, p, *names):
        """{name: zeros like p} for each name (an init for _param_states)."""
        return {name: self._zeros_state(p) for name in names}

    def _fused_step(self, kernel, ps, gs, *args):
        """kernel(params, grads, *args) on the parameters as the fused kernels take them (_kernel_params), the
        non-contiguous ones written back afterwards."""
        if any(p.dtype in _LOWP or g.dtype in _LOWP for p, g in zip(ps, gs)):
            self._fused_step_lowp(kernel, ps, gs, args)
            return
        kps, back = self._kernel_params(ps)
        kernel(kps, gs, *args)
        self._write_back(back)

    @staticmethod
    def _fused_step_lowp(kernel, ps, gs, args):
        """The fused kernels compute in float32/float64. float16/bfloat16 parameters (model.half(),
        model.to(bfloat16)) are stepped as torch steps them: their gradients and state (kept in the parameter's
        dtype, as torch keeps it) are read into float32, the update computed there, and the parameter and the state
        rounded back once per step."""
        from ..autograd import no_grad
        back = []

        def up(t, keep):
            if not isinstance(t, Tensor) or t.dtype not in _LOWP:
                return t
            c = _C.contiguous(_C.to(t, _F32, t.device, True))
            if keep:
                back.append((t, c))
            return c

        def up_arg(a):
            if isinstance(a, (list, tuple)) and a and all(isinstance(t, Tensor) for t in a):
                return [up(t, True) for t in a]
            return a

        with no_grad():
            kps = [up(p, True) for p in ps]
            kps, nc_back = Optimizer._kernel_params(kps)
            kgs = [up(g, False) for g in gs]
            kernel(kps, kgs, *[up_arg(a) for a in args])
            Optimizer._write_back(nc_back)
            for orig, c in back:
                _C.copy_(orig, c)

    @staticmethod
    def _grads(group):
        ps, gs = [], []
        for p in group["params"]:
            g = p.grad
            if g is not None:
                ps.append(p)
                gs.append(g)
        return ps, gs

    @staticmethod
    def _kernel_params(ps):
        """The parameters as the fused kernels take them (contiguous): a non-contiguous parameter (e.g.
        Parameter(w.t())) is stepped as a contiguous copy, written back by _write_back after the kernel call. Its
        state tensors are contiguous in the parameter's logical shape, like every other parameter's."""
        if all(p.is_contiguous() for p in ps):
            return ps, None
        out, back = [], []
        for p in ps:
            if p.is_contiguous():
                out.append(p)
            else:
                c = _C.contiguous(p)
                out.append(c)
                back.append((p, c))
        return out, back

    @staticmethod
    def _write_back(back):
        if back:
            from ..autograd import no_grad
            with no_grad():
                for p, c in back:
                    _C.copy_(p, c)

    def _zeros_state(self, p):
        return _C.zeros(list(p.shape), p.dtype, p.device)


def _check_nonnegative(**values):
    """torch's hyper-parameter checks: each value must be >= 0 (messages as torch words them)."""
    for name, v in values.items():
        if not 0.0 <= v:
            label = {"lr": "learning rate", "eps": "epsilon value"}.get(name, f"{name} value")
            raise ValueError(f"Invalid {label}: {v}")


def _capturing():
    f = getattr(_C, "_cuda_is_capturing", None)
    return f is not None and bool(f())


def _refuse_capture(opt):
    """Optimizers whose update depends on the step count (Adam's bias corrections, Adagrad's lr decay) compute it
    on the host: a CUDA graph would freeze the step number of the capture, so capturing their step() is refused."""
    if _capturing():
        raise RuntimeError(f"{type(opt).__name__}.step(): CUDA graph capture of this optimizer's step is not "
                           f"supported (its update depends on the step number, which the graph would freeze); "
                           f"capture the forward and backward only and call step() after replay(), or use SGD, "
                           f"RMSprop, or Adam/AdamW with capturable=True inside the graph")


def _closure_loss(closure):
    if closure is None:
        return None
    from ..autograd import enable_grad
    with enable_grad():
        return closure()
