"""index_select and x[idx] on contiguous cpu tensors (one memcpy per selected block, csrc/ops/index/index_cpu.cpp):
NumPy's take / fancy indexing over dtypes, dims, negative indices (x[idx] only), index arrays of any rank, long
runs split over threads, empty selections, and the errors of out-of-range indices."""
import numpy as np
import pytest

import dlcore


@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "int64", "bool", "float16"])
@pytest.mark.parametrize("threads", [1, 2])
def test_index_select_and_getitem_blocks(dtype, threads, rng):
    old = dlcore.get_num_threads()
    dlcore.set_num_threads(threads)
    try:
        x = (rng.standard_normal((300, 7, 5)) * 10).astype(dtype)
        d = dlcore.tensor(x)
        for dim in range(3):
            idx = rng.integers(0, x.shape[dim], 257)
            np.testing.assert_array_equal(d.index_select(dim, dlcore.tensor(idx)).numpy(), np.take(x, idx, axis=dim))
        np.testing.assert_array_equal(d.index_select(0, dlcore.tensor(np.zeros(0, np.int64))).numpy(),
                                      x[np.zeros(0, np.int64)])
        for key in [rng.integers(-300, 300, 1000), rng.integers(-300, 300, (13, 11)), np.array([5])]:
            np.testing.assert_array_equal(d[dlcore.tensor(key)].numpy(), x[key])
        with pytest.raises(IndexError, match="out of bounds"):
            d.index_select(0, dlcore.tensor(np.array([0, 300])))
        with pytest.raises(IndexError):
            d[dlcore.tensor(np.array([-301]))]
    finally:
        dlcore.set_num_threads(old)
