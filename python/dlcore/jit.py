"""dlcore.jit: the parts of torch.jit that model code uses while running eagerly.

dlcore has no TorchScript: script() and trace() return the module or function they are given (the results are
those of eager execution, which is what a scripted or traced module computes), and the decorators (ignore, unused,
export, interface) return what they decorate. Model code written for torch (torchvision's, for instance) calls
is_scripting() / is_tracing() / annotate() on its eager path; those work as on an eager torch run. Saving or
loading TorchScript archives (jit.save / jit.load / jit.freeze of a real ScriptModule) is not possible here and
raises NotImplementedError: save the module's state_dict instead."""
from __future__ import annotations

import typing

__all__ = ["script", "trace", "trace_module", "ignore", "unused", "export", "interface", "is_scripting",
           "is_tracing", "annotate", "Final", "Attribute", "fork", "wait", "save", "load", "freeze",
           "optimize_for_inference", "ScriptModule", "ScriptFunction", "Future"]

Final = typing.Final


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """Returns obj unchanged (eager execution; no TorchScript compilation)."""
    if not callable(obj) and not isinstance(obj, type):
        raise RuntimeError(f"jit.script(): expected an nn.Module, a function or a class, got {type(obj).__name__}")
    return obj


def trace(func, example_inputs=None, optimize=None, check_trace=True, check_inputs=None, check_tolerance=1e-5,
          strict=True, _force_outplace=False, _module_class=None, _compilation_unit=None,
          example_kwarg_inputs=None, _store_inputs=True):
    """Returns func unchanged (it computes what the trace would); example inputs are not needed."""
    if not callable(func):
        raise RuntimeError(f"jit.trace(): expected an nn.Module or a function, got {type(func).__name__}")
    return func


def trace_module(mod, inputs, **kwargs):
    return trace(mod)


def _identity_decorator(fn=None, **kwargs):
    if fn is None:
        return lambda f: f
    return fn


ignore = unused = export = interface = _identity_decorator


def is_scripting():
    """False: dlcore code always runs eagerly."""
    return False


def is_tracing():
    """False: dlcore code always runs eagerly."""
    return False


def annotate(the_type, the_value):
    return the_value


class Attribute:
    """torch.jit.Attribute(value, type): in eager code, the value itself."""

    def __new__(cls, value, type=None):  # noqa: A002
        return value


class Future:
    """The result of jit.fork: wait() returns it (the call ran when fork was called)."""

    def __init__(self, value):
        self._value = value

    def wait(self):
        return self._value

    def done(self):
        return True


def fork(func, *args, **kwargs):
    """Runs func(*args, **kwargs) now (eager, on the calling thread) and returns a Future holding its result."""
    return Future(func(*args, **kwargs))


def wait(future):
    return future.wait()


class ScriptModule:
    """No object is ever a ScriptModule here (script() returns the module itself): isinstance checks are False."""


class ScriptFunction:
    """No object is ever a ScriptFunction here."""


def _no_torchscript(name):
    def fn(*args, **kwargs):
        raise NotImplementedError(f"jit.{name}(): dlcore has no TorchScript archives or graphs; save and load the "
                                  f"module's state_dict (dlcore.save(model.state_dict(), path)) instead")
    fn.__name__ = name
    return fn


save = _no_torchscript("save")
load = _no_torchscript("load")
freeze = _no_torchscript("freeze")
optimize_for_inference = _no_torchscript("optimize_for_inference")
