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
    """Replaces each parameter's data by consecutive slices of vec, as torch does (param.data = vec[a:b].view_as(
    param).data): the parameters then share vec's storage (and take its dtype); a vector longer than the parameters
    leaves its tail unused, a shorter one raises (the view's RuntimeError)."""
    if not isinstance(vec, _C.Tensor):
        raise TypeError(f"expected a Tensor, but got: {type(vec).__name__}")
    pointer = 0
    for p in parameters:
        n = p.numel()
        p.data = vec[pointer:pointer + n].view_as(p).data
        pointer += n
