"""torch.nn.utils.skip_init."""
from __future__ import annotations

import inspect

__all__ = ["skip_init"]


def skip_init(module_cls, *args, **kwargs):
    """Builds module_cls(*args, **kwargs) on kwargs' device (default cpu), like torch.nn.utils.skip_init, whose
    parameter values are unspecified. dlcore has no meta device, so the module is constructed (and initialised)
    directly on the final device: the values are the regular initialisation, which is one admissible outcome.
    Refuses a non-Module class and a class whose constructor has no ``device`` argument, like torch."""
    from ..module import Module
    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    final_device = kwargs.pop("device", "cpu")
    kwargs["device"] = final_device
    return module_cls(*args, **kwargs)
