"""torch.nn.modules.module: Module and the global module hooks (defined in dlcore.nn.module)."""
from ..module import (Module, register_module_backward_hook, register_module_buffer_registration_hook,  # noqa: F401
                      register_module_forward_hook, register_module_forward_pre_hook,
                      register_module_full_backward_hook, register_module_full_backward_pre_hook,
                      register_module_module_registration_hook, register_module_parameter_registration_hook)
