"""The CUDA runtime layer: device tensors, host<->device copies, to()/cpu()/numpy(), DLPack, the caching allocator's
statistics, streams and error messages. Runs on the emulated device in CI and on a real one when present."""
import numpy as np
import pytest

import dlcore
from dlcore.testing import assert_close

cuda_only = pytest.mark.skipif(not dlcore.cuda.is_available(), reason="needs a cuda device (real or emulated)")


def test_without_cuda_the_errors_say_why():
    if dlcore.cuda.is_available():
        pytest.skip("this build has a cuda device")
    with pytest.raises(RuntimeError, match="without CUDA|not available"):
        dlcore.ones(2, device="cuda")
    with pytest.raises(RuntimeError, match="without CUDA|no CUDA device"):
        dlcore.cuda.synchronize()
    assert dlcore.cuda.device_count() == 0


@cuda_only
def test_device_queries():
    assert dlcore.cuda.device_count() >= 1
    name = dlcore.cuda.get_device_name()
    assert isinstance(name, str) and name
    assert dlcore.cuda.get_device_name(0) == name
    if dlcore.cuda.is_emulated():
        assert "emulator" in name and dlcore.cuda.get_arch() == "emulated"
    else:
        assert dlcore.cuda.get_arch().startswith("sm_")
    assert dlcore.cuda.current_device() == 0
    with pytest.raises(RuntimeError, match="invalid device"):
        dlcore.cuda.get_device_name(99)
    with pytest.raises(RuntimeError, match="invalid device.*99"):
        dlcore.ones(2, device="cuda:99")
    info = dlcore.info(as_dict=True)
    assert info["cuda_available"] and info["cuda_devices"] >= 1
    free, total = dlcore.cuda.mem_get_info()
    assert 0 < free <= total


@cuda_only
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "uint8", "bool", "float16"])
def test_roundtrip_copies_keep_values(dtype, rng):
    a = (rng.standard_normal((3, 17)) * 10).astype(dtype)
    t = dlcore.from_numpy(a).to("cuda")
    assert t.device.type == "cuda" and t.is_cuda and not t.is_cpu
    assert t.dtype.name == dtype
    back = t.cpu()
    assert back.device.type == "cpu"
    np.testing.assert_array_equal(back.numpy(), a)
    np.testing.assert_array_equal(t.numpy(force=True), a)
    np.testing.assert_array_equal(dlcore.tensor(a, device="cuda").cpu().numpy(), a)


@cuda_only
def test_numpy_of_a_cuda_tensor_asks_for_cpu_first():
    t = dlcore.ones(3, device="cuda")
    with pytest.raises(TypeError, match=r"cuda.*cpu\(\)"):
        t.numpy()


@cuda_only
def test_strided_and_broadcast_copies(rng):
    a = rng.standard_normal((5, 6, 7)).astype(np.float32)
    t = dlcore.from_numpy(a)
    # non-contiguous host source -> device
    tt = t.transpose(0, 2).to("cuda")
    np.testing.assert_array_equal(tt.cpu().numpy(), a.transpose(2, 1, 0))
    # non-contiguous device source -> host, and device -> device strided copy with a cast
    d = t.to("cuda")
    sl = d[1:4, ::2, 3]
    np.testing.assert_array_equal(sl.cpu().numpy(), a[1:4, ::2, 3])
    np.testing.assert_array_equal(sl.to(dlcore.float64).cpu().numpy(), a[1:4, ::2, 3].astype(np.float64))
    # broadcast (stride 0) sources
    row = dlcore.from_numpy(a[0, 0]).to("cuda")
    np.testing.assert_array_equal(row.expand(4, 7).contiguous().cpu().numpy(), np.broadcast_to(a[0, 0], (4, 7)))
    # copy into a strided device destination, from the host and from the device
    dst = dlcore.zeros((6, 5), device="cuda")
    dst.t().copy_(dlcore.from_numpy(a[:, :, 0]))
    np.testing.assert_array_equal(dst.cpu().numpy(), a[:, :, 0].T)
    dst2 = dlcore.zeros((6, 5), device="cuda")
    dst2.t().copy_(d[:, :, 0])
    np.testing.assert_array_equal(dst2.cpu().numpy(), a[:, :, 0].T)


@cuda_only
def test_casts_on_device_match_cpu(rng):
    a = (rng.standard_normal(50) * 300).astype(np.float32)
    d = dlcore.from_numpy(a).to("cuda")
    c = dlcore.from_numpy(a)
    for dt in [dlcore.int32, dlcore.int64, dlcore.uint8, dlcore.bool, dlcore.float16, dlcore.bfloat16,
               dlcore.float64]:
        got = d.to(dt).cpu().to(dlcore.float64).numpy()
        exp = c.to(dt).to(dlcore.float64).numpy()
        if dt == dlcore.uint8:  # out-of-range float->uint8 is undefined in C++; compare the in-range values
            m = (a >= 0) & (a < 256)
            got, exp = got[m], exp[m]
        np.testing.assert_array_equal(got, exp, err_msg=str(dt))


@cuda_only
def test_fill_zeros_full_on_device():
    assert (dlcore.zeros((3, 4), device="cuda").cpu().numpy() == 0).all()
    assert (dlcore.ones((2, 3), dtype=dlcore.int64, device="cuda").cpu().numpy() == 1).all()
    np.testing.assert_array_equal(dlcore.full((5,), 2.5, device="cuda").cpu().numpy(), np.full(5, 2.5, np.float32))
    t = dlcore.zeros((4, 4), device="cuda")
    t[:, 1].fill_(3.0)
    exp = np.zeros((4, 4), np.float32)
    exp[:, 1] = 3
    np.testing.assert_array_equal(t.cpu().numpy(), exp)


@cuda_only
def test_dlpack_reports_the_cuda_device():
    t = dlcore.arange(6, dtype=dlcore.float32).to("cuda")
    assert t.__dlpack_device__() == (2, 0)  # kDLCUDA
    u = dlcore.from_dlpack(t)  # zero-copy round trip through a capsule
    assert u.device.type == "cuda"
    u.add_(1)
    np.testing.assert_array_equal(t.cpu().numpy(), np.arange(6, dtype=np.float32) + 1)


@cuda_only
def test_caching_allocator_statistics_and_reuse():
    dlcore.cuda.synchronize()
    dlcore.cuda.empty_cache()
    base = dlcore.cuda.memory_allocated()
    dlcore.cuda.reset_peak_memory_stats()
    x = dlcore.empty(1000, device="cuda")  # 4000 bytes -> the 4096-byte class
    assert dlcore.cuda.memory_allocated() == base + 4096
    y = dlcore.empty(3 << 20, dtype=dlcore.uint8, device="cuda")  # 3 MiB -> a 4 MiB large block
    assert dlcore.cuda.memory_allocated() == base + 4096 + (4 << 20)
    peak = dlcore.cuda.max_memory_allocated()
    assert peak >= base + 4096 + (4 << 20)
    ptr = y.data_ptr() if hasattr(y, "data_ptr") else None
    del y
    assert dlcore.cuda.memory_allocated() == base + 4096
    assert dlcore.cuda.memory_reserved() >= base + 4096 + (4 << 20)  # the block is cached, not returned
    y2 = dlcore.empty(3 << 20, dtype=dlcore.uint8, device="cuda")  # reuses the cached block
    if ptr is not None:
        assert y2.data_ptr() == ptr
    assert dlcore.cuda.max_memory_allocated() == peak
    del x, y2
    dlcore.cuda.empty_cache()
    assert dlcore.cuda.memory_reserved() == dlcore.cuda.memory_allocated() == base
    stats = dlcore.cuda.memory_stats()
    assert set(stats) >= {"allocated_bytes", "peak_allocated_bytes", "reserved_bytes", "cached_bytes"}


@pytest.mark.parametrize("dev", ["cpu", pytest.param("cuda", marks=cuda_only)])
def test_cached_blocks_of_one_size_are_reused_last_freed_first(dev):
    # The block freed last is still in the caches: it is the one handed out next, whatever other blocks of its
    # size the cache holds (both allocators once cycled through all of them, a cold block on every call).
    n = 5 << 20  # large enough for the CPU allocator's cache (>= 128 KiB) and a large CUDA block
    blocks = [dlcore.empty(n, dtype=dlcore.uint8, device=dev) for _ in range(4)]
    ptrs = [b.data_ptr() for b in blocks]
    assert len(set(ptrs)) == 4
    while blocks:  # all four cached, freed in order (del of the list would free them last to first)
        blocks.pop(0)
    for _ in range(3):
        a = dlcore.empty(n, dtype=dlcore.uint8, device=dev)
        assert a.data_ptr() == ptrs[3]  # the last one freed, every time
        del a
    a = dlcore.empty(n, dtype=dlcore.uint8, device=dev)
    b = dlcore.empty(n, dtype=dlcore.uint8, device=dev)
    assert b.data_ptr() == ptrs[2]  # then the one freed before it
    del a, b


@cuda_only
def test_out_of_memory_message_names_the_size():
    with pytest.raises(MemoryError, match=r"cuda: .*(out of memory|cannot allocate).*TiB|GiB"):
        dlcore.empty(1 << 50, dtype=dlcore.uint8, device="cuda")
    # still usable afterwards
    assert dlcore.ones(2, device="cuda").sum().item() == 2


@cuda_only
def test_streams_and_synchronize():
    s = dlcore.cuda.Stream()
    assert s.query() in (True, False)
    with dlcore.cuda.stream(s):
        assert dlcore.cuda.current_stream() == s
        x = dlcore.ones(100, device="cuda") * 3
    s.synchronize()
    assert dlcore.cuda.current_stream() == dlcore.cuda.default_stream()
    dlcore.cuda.synchronize()
    assert x.sum().item() == 300
    assert s.query()


@cuda_only
def test_mixed_device_operands_are_rejected():
    a = dlcore.ones(3, device="cuda")
    b = dlcore.ones(3)
    with pytest.raises(RuntimeError, match="same device.*cuda:0.*cpu|same device.*cpu.*cuda:0"):
        a + b
    # a 0-d cpu tensor is a scalar operand, as in torch
    assert_close((a + dlcore.tensor(2.0)).cpu(), np.full(3, 3.0, np.float32))


@cuda_only
def test_kernel_registry_lists_cuda_kernels():
    ops = {(op, dev) for op, dev, _ in dlcore._C._kernels()}
    for op in ["copy", "fill", "binary", "unary", "where", "reduce"]:
        assert (op, "cuda") in ops, op


@cuda_only
def test_integer_division_by_zero_raises_on_device():
    a = dlcore.tensor([4, 5, 6], device="cuda")
    b = dlcore.tensor([2, 0, 3], device="cuda")
    with pytest.raises(RuntimeError, match="division by zero"):
        dlcore.floor_divide(a, b)
    np.testing.assert_array_equal(dlcore.floor_divide(a, 2).cpu().numpy(), [2, 2, 3])


@cuda_only
@pytest.mark.parametrize("shape,dim", [((1,), None), ((3, 17), 1), ((130, 5), 0), ((4, 300), -1), ((2, 3, 33), (0, 2))])
def test_reductions_on_device_match_numpy(shape, dim, rng):
    a = rng.standard_normal(shape)
    d = dlcore.from_numpy(a).to("cuda")
    ax = dim
    assert_close(d.sum(dim=dim).cpu() if dim is not None else d.sum().cpu(), np.sum(a, axis=ax), rtol=1e-10,
                 atol=1e-10)
    assert_close((d.amax(dim=dim) if dim is not None else d.max()).cpu(), np.max(a, axis=ax))
    assert_close((d.amin(dim=dim) if dim is not None else d.min()).cpu(), np.min(a, axis=ax))
    if isinstance(dim, int):
        np.testing.assert_array_equal(d.argmax(dim=dim).cpu().numpy(), np.argmax(a, axis=dim))
        np.testing.assert_array_equal(d.argmin(dim=dim).cpu().numpy(), np.argmin(a, axis=dim))
    f = d.float()
    assert_close(f.mean(dim=dim).cpu() if dim is not None else f.mean().cpu(), np.mean(a, axis=ax), rtol=1e-5,
                 atol=1e-5)


@cuda_only
def test_argmax_ties_and_nan_follow_the_cpu_rule():
    a = np.array([[1.0, 3.0, 3.0, 2.0], [np.nan, 5.0, np.nan, 1.0], [-1.0, -1.0, -1.0, -1.0]] * 40, np.float32)
    for dev in ["cpu", "cuda"]:
        t = dlcore.from_numpy(a).to(dev)
        assert t.argmax(dim=1).cpu().numpy()[:3].tolist() == [1, 0, 0]
        assert t.argmin(dim=1).cpu().numpy()[:3].tolist() == [0, 0, 0]
    big = np.zeros(1000, np.float32)
    big[[700, 900]] = 5
    assert dlcore.from_numpy(big).to("cuda").argmax().item() == 700


@cuda_only
def test_random_tensors_on_cuda_equal_cpu_for_the_same_seed():
    dlcore.manual_seed(123)
    a = dlcore.randn(5, 7)
    dlcore.cuda.manual_seed(123)
    b = dlcore.randn(5, 7, device="cuda")
    assert b.device.type == "cuda"
    np.testing.assert_array_equal(a.numpy(), b.cpu().numpy())
    u = dlcore.rand(1000, device="cuda").cpu().numpy()
    assert 0 <= u.min() and u.max() < 1
