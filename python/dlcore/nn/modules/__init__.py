"""torch.nn.modules' import paths: ``dlcore.nn.modules.module`` holds Module and the global hook registrations
(register_module_forward_hook, ...); the layer classes are those of dlcore.nn."""
from . import module  # noqa: F401
from ..module import Module  # noqa: F401
