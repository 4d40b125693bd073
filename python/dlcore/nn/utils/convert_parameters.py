"""parameters_to_vector / vector_to_parameters."""
from __future__ import annotations

from ... import _C
from ... import _ops
from ...autograd import no_grad


def parameters_to_vector(parameters):
    """One 1-D tensor with every parameter flattened and concatenated (differentiable)."""
    from ... import _indexing
    flat = [_ops.reshape(p, [-1]) for p in parameters]
    return _indexing.cat(flat, 0)


def vector_to_parameters(vec, parameters):
    """Copies consecutive slices of vec into the parameters (in place)."""
    if not isinstance(vec, _C.Tensor):
        raise TypeError(f"expected a Tensor, but got: {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: expected a 1-D vector, got shape {list(vec.shape)}")
    pointer = 0
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if total != vec.numel():
        raise ValueError(f"vector_to_parameters: vector has {vec.numel()} elements, the parameters {total}")
    with no_grad():
        for p in params:
            n = p.numel()
            _C.copy_(p, _C.reshape(_C.slice(vec, 0, pointer, pointer + n, 1), list(p.shape)))
            pointer += n
