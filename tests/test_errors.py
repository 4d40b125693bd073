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
    ("matmul int", lambda: dlcore.ones(2, 2, dtype=dlcore.int64) @ dlcore.ones(2, 2, dtype=dlcore.int64), TypeError, "float32"),
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
    c = b.exp()
    b.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.sum().backward()
