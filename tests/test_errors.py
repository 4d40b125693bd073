"""Bad inputs raise clear Python exceptions naming the op and the offending values; nothing crashes."""
import numpy as np
import pytest

import dlcore

CASES = [
    ("broadcast", lambda: dlcore.ones(2, 3) + dlcore.ones(4), ValueError, r"add: shapes \[2, 3\] and \[4\]"),
    ("view", lambda: dlcore.ones(6).view(4, 2), ValueError, r"view: shape \[4, 2\] is invalid"),
    ("reshape -1 twice", lambda: dlcore.ones(6).reshape(-1, -1), ValueError, "only one dimension"),
    ("bad dim", lambda: dlcore.ones(2, 3).sum(5), IndexError, "dimension out of range"),
    ("repeated dim", lambda: dlcore.ones(2, 3).sum((0, 0)), ValueError, "multiple times"),
    ("index", lambda: dlcore.ones(3)[5], IndexError, "out of bounds"),
    ("too many indices", lambda: dlcore.ones(3)[0, 0], IndexError, "too many indices"),
    ("negative size", lambda: dlcore.zeros(-1), ValueError, "non-negative"),
    ("huge", lambda: dlcore.empty(2 ** 50), MemoryError, "cannot allocate"),
    ("matmul shapes", lambda: dlcore.ones(2, 3) @ dlcore.ones(4, 5), ValueError, r"matmul: shapes \[2, 3\] and \[4, 5\]"),
    ("matmul dtype", lambda: dlcore.ones(2, 3) @ dlcore.ones(3, 2, dtype=dlcore.float64), TypeError, "same dtype"),
    ("matmul 0-d", lambda: dlcore.matmul(dlcore.tensor(1.0), dlcore.ones(2)), ValueError, "at least 1 dimension"),
    ("matmul int x float", lambda: dlcore.ones(2, 2, dtype=dlcore.int64) @ dlcore.ones(2, 2), TypeError, "float32"),
    ("bad device", lambda: dlcore.ones(2, device="tpu"), ValueError, "expected 'cpu', 'cuda'"),
    ("bad dtype", lambda: dlcore.ones(2, dtype="complex64"), (TypeError, AttributeError), "complex64"),
    ("expand", lambda: dlcore.ones(3).expand(4), ValueError, "expanded size"),
    ("permute", lambda: dlcore.ones(2, 3).permute(0, 0), ValueError, "repeat"),
    ("item", lambda: dlcore.ones(2).item(), ValueError, "2 elements"),
    ("requires_grad int", lambda: dlcore.ones(2, dtype=dlcore.int64).requires_grad_(), RuntimeError, "floating point"),
    ("bitwise float", lambda: dlcore.ones(2) & dlcore.ones(2), TypeError, "floating"),
    ("bool sub", lambda: dlcore.tensor([True]) - dlcore.tensor([False]), TypeError, "bool"),
    ("int neg pow", lambda: dlcore.tensor([2]) ** -1, RuntimeError, "negative integer powers"),
    ("arange step 0", lambda: dlcore.arange(0, 5, 0), ValueError, "nonzero"),
    ("arange sign", lambda: dlcore.arange(0, 5, -1), ValueError, "inconsistent"),
    ("randint range", lambda: dlcore.randint(5, 5, (2,)), ValueError, "low < high"),
    ("rand int dtype", lambda: dlcore.rand(2, dtype=dlcore.int64), TypeError, "floating"),
    ("from_numpy object", lambda: dlcore.from_numpy(np.array(["a"])), TypeError, "not supported"),
    ("tensor object", lambda: dlcore.tensor([object()]), TypeError, "could not infer"),
    ("shape not ints", lambda: dlcore.zeros(2.5), TypeError, "ints"),
    ("too many dims", lambda: dlcore.zeros([1] * 17), ValueError, "at most 16"),
    ("add str", lambda: dlcore.ones(2) + "x", TypeError, None),
    ("cuda tensor", lambda: dlcore.ones(2, device="cuda") if not dlcore.cuda.is_available() else (_ for _ in ()).throw(RuntimeError("built without CUDA")), RuntimeError, "without CUDA|not available"),
    ("squeeze bad dim", lambda: dlcore.ones(2).squeeze(3), IndexError, "out of range"),
    ("len 0-d", lambda: len(dlcore.tensor(1.0)), TypeError, "0-d"),
    ("backward non-scalar", lambda: (dlcore.ones(3, requires_grad=True) * 2).backward(), RuntimeError, "scalar outputs"),
    ("backward no grad", lambda: dlcore.ones(3).sum().backward(), RuntimeError, "does not require grad"),
    ("inplace leaf", lambda: dlcore.ones(3, requires_grad=True).add_(1), RuntimeError, "leaf Variable"),
    ("copy_ shapes", lambda: dlcore.zeros(3).copy_(dlcore.ones(4)), ValueError, "broadcast"),
    ("numpy requires grad", lambda: dlcore.ones(2, requires_grad=True).numpy(), RuntimeError, "detach"),
    ("linear shapes", lambda: dlcore.linear(dlcore.ones(2, 3), dlcore.ones(4, 5)), ValueError, "does not match weight"),
    ("set_num_threads", lambda: dlcore.set_num_threads(0), ValueError, "positive"),
    ("isa", lambda: dlcore._C._set_cpu_isa("sse9"), ValueError, "unknown ISA"),
]


@pytest.mark.parametrize("name,fn,exc,pattern", CASES, ids=[c[0] for c in CASES])
def test_bad_input(name, fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()


def test_backward_twice_through_freed_graph():
    x = dlcore.ones(3, requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    z = (x.exp() * 2).sum()
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 6 * np.e), rtol=1e-6)  # 2e, then 2e twice


def test_saved_tensor_modified_inplace_is_detected():
    a = dlcore.ones(3, requires_grad=True)
    b = a * 2
    c = b.sin()  # sin's derivative reads its input (exp would keep its output: no error, as in torch)
    b.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.sum().backward()


# ------------------------------------------------------------------------------------------------- fuzz findings

_X23 = lambda: dlcore.arange(6.0).reshape(2, 3)  # noqa: E731

FUZZ_CASES = [
    ("as_strided overflow", lambda: dlcore.as_strided(dlcore.ones(3), (2, 2), (2 ** 62 - 2 ** 30, 2 ** 30)),
     RuntimeError, r"as_strided: sizes \[2, 2\], strides \[4611686017353646080, 1073741824\] and storage offset 0"),
    ("expanded add_", lambda: dlcore.zeros(2).unsqueeze(0).expand(3, 2).add_(1), RuntimeError,
     "more than one element of the written-to tensor"),
    ("expanded copy_", lambda: dlcore.zeros(2).expand(3, 2).copy_(dlcore.ones(3, 2)), RuntimeError,
     "copy_: unsupported operation"),
    ("overlapping as_strided mul_", lambda: dlcore.as_strided(dlcore.zeros(6), (3, 2), (1, 1)).mul_(2), RuntimeError,
     "single memory location"),
    ("expanded index_put_", lambda: dlcore.zeros(2).expand(3, 2).index_put_((dlcore.tensor([0, 0]),),
                                                                            dlcore.ones(2), accumulate=True),
     RuntimeError, "index_put_: unsupported operation"),
    ("flatten start 2", lambda: dlcore.ones(2, 3).flatten(2), IndexError, r"flatten: dimension out of range"),
    ("flatten 5", lambda: dlcore.ones(2, 3).flatten(5), IndexError, r"\[-2, 1\], but got 5"),
    ("flatten -3", lambda: dlcore.ones(2, 3).flatten(-3), IndexError, "but got -3"),
    ("outer 2-D", lambda: dlcore.outer(dlcore.ones(2, 2), dlcore.ones(2)), RuntimeError, "outer: expected 1-D"),
    ("index_select -1", lambda: _X23().index_select(1, dlcore.tensor([-1])), IndexError,
     r"index_select\(\): index -1 is out of bounds for dimension 1 with size 3"),
    ("gather -1", lambda: _X23().gather(1, dlcore.tensor([[0, -1]])), IndexError,
     r"gather\(\): index -1 is out of bounds for dimension 1"),
    ("gather 3 dim 1", lambda: _X23().gather(1, dlcore.tensor([[0, 3]])), IndexError,
     r"gather\(\): index 3 is out of bounds for dimension 1 with size 3"),
    ("scatter -1", lambda: _X23().scatter(0, dlcore.tensor([[-1, 0, 0]]), dlcore.ones(1, 3)), IndexError,
     r"scatter_\(\): index -1 is out of bounds for dimension 0"),
    ("index_add -1", lambda: _X23().index_add(0, dlcore.tensor([-1]), dlcore.ones(1, 3)), IndexError,
     r"index_add_\(\): index -1 is out of bounds for dimension 0"),
    ("index_fill 7", lambda: _X23().index_fill(1, dlcore.tensor([7]), 1.0), IndexError,
     r"index_fill\(\): index 7 is out of bounds for dimension 1 with size 3"),
    ("index_copy -1", lambda: _X23().index_copy(1, dlcore.tensor([-1]), dlcore.ones(2, 1)), IndexError,
     r"index_copy\(\): index -1 is out of bounds for dimension 1 with size 3"),
    ("scatter_reduce 5", lambda: _X23().scatter_reduce(0, dlcore.tensor([[5, 0, 0]]), dlcore.ones(1, 3), "sum"),
     IndexError, r"scatter_reduce\(\): index 5 is out of bounds for dimension 0 with size 2"),
    ("from_numpy big-endian", lambda: dlcore.from_numpy(np.arange(3, dtype=">f8")), ValueError, "byte order"),
    ("argmax empty no dim", lambda: dlcore.zeros(0).argmax(), IndexError, "argmax: expected a non-empty"),
    ("max over zero-size dim", lambda: dlcore.zeros(2, 0).max(1), IndexError, "zero-size dimension 1"),
]


@pytest.mark.parametrize("name,fn,exc,pattern", FUZZ_CASES, ids=[c[0] for c in FUZZ_CASES])
def test_fuzz_bad_input(name, fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()


def test_negative_index_still_wraps_where_torch_wraps():
    x = _X23()
    np.testing.assert_array_equal(dlcore.take(x, dlcore.tensor([-1, 0])).numpy(), [5.0, 0.0])
    np.testing.assert_array_equal(x.index_fill(1, dlcore.tensor([-1]), 9.0).numpy(), [[0, 1, 9], [3, 4, 9]])
    np.testing.assert_array_equal(x[:, dlcore.tensor([-1])].numpy(), [[2.0], [5.0]])


def test_inplace_on_expanded_is_not_applied_twice():
    a = dlcore.zeros(2)
    with pytest.raises(RuntimeError):
        a.unsqueeze(0).expand(3, 2).add_(1)
    np.testing.assert_array_equal(a.numpy(), [0.0, 0.0])
    a.expand(3, 2).fill_(4.0)     # fill_ writes one value: allowed, as in PyTorch
    np.testing.assert_array_equal(a.numpy(), [4.0, 4.0])


def test_reductions_with_zero_size_other_dims_and_0d():
    x = dlcore.zeros(2, 0, 3)
    v, i = dlcore.max(x, 0)
    assert v.shape == (0, 3) and i.shape == (0, 3) and i.dtype == dlcore.int64
    assert dlcore.argmax(x, 2).shape == (2, 0)
    assert dlcore.argmin(x, 0, keepdim=True).shape == (1, 0, 3)
    r = dlcore.logsumexp(x, 1)
    assert r.shape == (2, 3) and np.all(r.numpy() == -np.inf)
    assert dlcore.logsumexp(dlcore.zeros(0), 0).item() == -np.inf
    t = dlcore.tensor(3.0)
    v, i = t.max(0)
    assert v.item() == 3.0 and i.item() == 0 and v.shape == () and i.shape == ()
    v, i = t.min(-1)
    assert v.item() == 3.0 and i.item() == 0
    with pytest.raises(IndexError):
        t.max(1)
    assert tuple(dlcore.nonzero(t).shape) == (1, 0)
    assert tuple(dlcore.nonzero(dlcore.tensor(0.0)).shape) == (0, 0)
    (nz,) = dlcore.nonzero(t, as_tuple=True)
    assert nz.tolist() == [0]


def test_inplace_on_expanded_with_autograd_names_the_op():
    a = dlcore.ones(2, requires_grad=True)
    b = (a * 1).unsqueeze(0).expand(3, 2)
    with pytest.raises(RuntimeError, match="mul_: unsupported operation"):
        b.mul_(2)


def test_setitem_on_leaf_raises_before_writing():
    a = dlcore.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        a[0] = 5.0
    np.testing.assert_array_equal(a.detach().numpy(), [0.0, 0.0, 0.0])


def test_kernel_value_errors_are_also_runtime_errors_like_torch():
    """torch raises RuntimeError for bad shapes; dlcore's kernels raise dlcore.ShapeError, which is both a
    ValueError (the project's convention) and a RuntimeError (so torch-style `except RuntimeError` works)."""
    torch = pytest.importorskip("torch")
    cases = [lambda L: L.ones(2, 3) @ L.ones(4, 5), lambda L: L.ones(2, 3) + L.ones(4, 5),
             lambda L: L.ones(6).view(4), lambda L: L.ones(2, 3).expand(4, 3),
             lambda L: L.cat([L.ones(2, 3), L.ones(2, 4)]), lambda L: L.stack([L.ones(2), L.ones(3)]),
             lambda L: L.nn.functional.mse_loss(L.ones(2, 3), L.ones(3, 2)),
             lambda L: L.nn.BatchNorm2d(3)(L.ones(2, 4, 5, 5)),
             lambda L: L.nn.functional.linear(L.ones(2, 3), L.ones(4, 5))]
    for case in cases:
        with pytest.raises(RuntimeError):
            case(torch)
        with pytest.raises(RuntimeError) as info:
            case(dlcore)
        assert isinstance(info.value, ValueError) and isinstance(info.value, dlcore.ShapeError)
    assert issubclass(dlcore.ShapeError, ValueError) and issubclass(dlcore.ShapeError, RuntimeError)
