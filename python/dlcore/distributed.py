"""dlcore.distributed: dlcore has no multi-process (collective) backend, so is_available() is False, as in a torch
build without distributed support. Scripts guard with it (``if dist.is_available() and dist.is_initialized()``)
and then run single-process; is_initialized() is False for code that calls it directly."""
from __future__ import annotations

__all__ = ["is_available", "is_initialized"]


def is_available() -> bool:
    return False


def is_initialized() -> bool:
    return False
