"""dlcore.utils: checkpoint (activation checkpointing) and data (dlcore.data under torch.utils.data's name)."""
from . import checkpoint  # noqa: F401
from . import data  # noqa: F401
