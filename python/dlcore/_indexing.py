"""Advanced indexing (integer and boolean index tensors) for Tensor.__getitem__/__setitem__."""
from __future__ import annotations


def getitem_advanced(x, key):
    raise NotImplementedError("indexing with integer/boolean tensors or lists is not implemented yet "
                              "(only ints, slices, None and Ellipsis)")


def setitem_advanced(x, key, value):
    raise NotImplementedError("assignment through integer/boolean tensor indices is not implemented yet "
                              "(only ints, slices, None and Ellipsis)")
