"""torch.utils.hooks' RemovableHandle under its torch name."""
from .._hooks import RemovableHandle  # noqa: F401
