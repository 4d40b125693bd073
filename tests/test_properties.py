"""Hypothesis property tests: broadcasting, elementwise results and reductions agree with NumPy on random shapes
(including size-1, empty and odd dims) and random non-contiguous views."""
import numpy as np
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import dlcore
from dlcore.testing import assert_close

settings.register_profile("dlcore", max_examples=60, deadline=None)
settings.load_profile("dlcore")

shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6)
finite = st.floats(-1e3, 1e3, width=32, allow_nan=False)


@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=0, max_side=5),
       st.sampled_from(["add", "sub", "mul", "maximum", "minimum"]), st.integers(0, 2 ** 31))
def test_broadcast_binary_matches_numpy(bshapes, op, seed):
    rng = np.random.default_rng(seed)
    sa, sb = bshapes.input_shapes
    a = rng.standard_normal(sa).astype(np.float32)
    b = rng.standard_normal(sb).astype(np.float32)
    out = getattr(dlcore, op)(dlcore.tensor(a), dlcore.tensor(b))
    ref = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "maximum": np.maximum,
           "minimum": np.minimum}[op](a.astype(np.float64), b.astype(np.float64))
    assert out.shape == bshapes.result_shape
    assert_close(out, ref, rtol=1e-6, atol=1e-6)


@given(hnp.arrays(np.float32, shapes, elements=finite), st.data())
def test_reductions_match_numpy(a, data):
    x = dlcore.tensor(a)
    if a.ndim:
        dims = data.draw(st.lists(st.integers(0, a.ndim - 1), unique=True, max_size=a.ndim))
    else:
        dims = []
    keep = data.draw(st.booleans())
    axis = tuple(dims) if dims else None
    ref = a.astype(np.float64).sum(axis=axis, keepdims=keep)
    got = x.sum(dims if dims else None, keepdim=keep)
    assert_close(got, ref, rtol=1e-5, atol=1e-3)


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=6),
                  elements=st.floats(-10, 10)), st.data())
def test_noncontiguous_views_elementwise(a, data):
    """Random permutation + step slicing: the view's values and exp() agree with NumPy's."""
    perm = data.draw(st.permutations(range(a.ndim)))
    steps = [data.draw(st.integers(1, 3)) for _ in range(a.ndim)]
    x = dlcore.tensor(a).permute(*perm)
    ref = np.transpose(a, perm)
    sl = tuple(slice(None, None, s) for s in steps)
    x = x[sl]
    ref = ref[sl]
    assert_close(x, ref, rtol=0, atol=0)
    assert_close(x.exp(), np.exp(ref), rtol=1e-13, atol=0)
    assert_close(x.contiguous(), ref, rtol=0, atol=0)
    assert_close(x.reshape(-1), ref.reshape(-1), rtol=0, atol=0)


@given(st.lists(st.integers(0, 5), min_size=1, max_size=4), st.data())
def test_reshape_view_round_trip(shape, data):
    n = int(np.prod(shape))
    x = dlcore.arange(n).reshape(shape)
    perm = data.draw(st.permutations(range(len(shape))))
    y = x.permute(*perm)
    np.testing.assert_array_equal(y.reshape(-1).numpy(), np.arange(n).reshape(shape).transpose(perm).reshape(-1))
