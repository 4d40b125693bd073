"""Parameter: a Tensor subclass that a Module registers as a learnable parameter when assigned as an attribute."""
from __future__ import annotations

from .. import _C

Tensor = _C.Tensor


class Parameter(Tensor):
    """A tensor that is a module parameter: ``requires_grad=True`` by default, listed by ``Module.parameters()``.

    ``Parameter(data)`` shares ``data``'s storage (no copy) and has no autograd history.
    """

    _is_param = True

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = _C.empty([0], _C.dtype.float32, "cpu")
        elif not isinstance(data, Tensor):
            from .._creation import as_tensor
            data = as_tensor(data)
        if requires_grad and not data.dtype.is_floating_point:
            raise RuntimeError(f"Parameter(): only tensors of floating point dtype can require gradients, got "
                               f"{data.dtype.name} (pass requires_grad=False for an integer parameter)")
        Tensor.__init__(self, data)
        if requires_grad:
            self.requires_grad = True

    def __repr__(self):
        return "Parameter containing:\n" + Tensor.__repr__(self)

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (_C.Tensor.__reduce_ex__(self, protocol), self.requires_grad))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        new = Parameter(_C.clone(self), requires_grad=self.requires_grad)  # (torch: the copy has no .grad)
        memo[id(self)] = new
        return new


def _rebuild_parameter(reduced, requires_grad):
    fn, args = reduced
    return Parameter(fn(*args).detach(), requires_grad=requires_grad)


class Buffer(Tensor):
    """Marks a tensor to be registered as a buffer when assigned to a Module attribute (``persistent`` into the
    state dict)."""

    def __init__(self, data, *, persistent=True):
        Tensor.__init__(self, data)
        self.persistent = persistent
