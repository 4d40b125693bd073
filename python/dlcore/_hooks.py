"""The handle every register_*_hook returns (torch.utils.hooks.RemovableHandle): remove() unregisters the hook; also
a context manager that removes it on exit. Dependency-free, so that the low-level modules (nn.module, optim, the
Tensor methods) can share it."""
from __future__ import annotations

import itertools


class RemovableHandle:
    _next_id = itertools.count()

    def __init__(self, hooks_dict):
        self.hooks_dict_ref = hooks_dict
        self.id = next(RemovableHandle._next_id)

    def remove(self):
        self.hooks_dict_ref.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def add_hook(store, hook):
    """Registers hook in the dict store under a new handle's id; returns the handle."""
    h = RemovableHandle(store)
    store[h.id] = hook
    return h
