"""Regression tests for defects a fuzzing pass against torch found in the native fast paths and their Python
wrappers (randperm's dtype limits, bincount's weight dtype, 0-d nonzero, add's alpha promotion, broadcast masks,
topk of a 0-d tensor). Each asserts torch 2.13's documented result for the case that used to go wrong."""
import numpy as np
import pytest

import dlcore


def test_randperm_rejects_dtypes_that_cannot_hold_n():
    for n, dt in ((128, dlcore.int8), (256, dlcore.uint8), (2049, dlcore.float16), (0, dlcore.int8)):
        r = dlcore.randperm(n, dtype=dt)
        assert r.dtype == dt and sorted(int(v) for v in r.tolist()) == list(range(n))
    for n, dt in ((129, dlcore.int8), (257, dlcore.uint8), (32769, dlcore.int16), (2050, dlcore.float16)):
        with pytest.raises(RuntimeError, match="randperm"):
            dlcore.randperm(n, dtype=dt)
    with pytest.raises(NotImplementedError, match="bool"):
        dlcore.randperm(4, dtype=dlcore.bool)


def test_bincount_weights_sum_in_float64_unless_float32(rng):
    x = rng.integers(0, 3, 20000)
    w = rng.standard_normal(20000)
    for dt, want in ((dlcore.float16, dlcore.float64), (dlcore.bfloat16, dlcore.float64),
                     (dlcore.int32, dlcore.float64), (dlcore.float32, dlcore.float32), (dlcore.float64, dlcore.float64)):
        out = dlcore.bincount(dlcore.tensor(x), weights=dlcore.tensor(w).to(dt))
        assert out.dtype == want, dt
    wh = dlcore.tensor(w).to(dlcore.float16)
    out = dlcore.bincount(dlcore.tensor(x), weights=wh).numpy()
    ref = np.bincount(x, weights=wh.to(dlcore.float64).numpy())
    np.testing.assert_allclose(out, ref, rtol=1e-12)  # float64 sums of the float16 values (a float16 sum drifts)


@pytest.mark.parametrize("dt", ["bfloat16", "float16", "float32", "int64", "bool"])
def test_nonzero_of_0d_tensors(dt):
    for v, hits in ((1, 1), (0, 0)):
        t = dlcore.tensor(v).to(getattr(dlcore, dt))
        assert tuple(dlcore.nonzero(t).shape) == (hits, 0)
        (idx,) = dlcore.nonzero(t, as_tuple=True)
        assert tuple(idx.shape) == (hits,) and idx.dtype == dlcore.int64
        assert tuple(dlcore.argwhere(t).shape) == (hits, 0)


def test_add_sub_alpha_keep_the_operands_result_dtype():
    f16, i64 = dlcore.ones(3, dtype=dlcore.float16), dlcore.ones(3, dtype=dlcore.int64)
    r = dlcore.add(f16, i64, alpha=0.5)
    assert r.dtype == dlcore.float16 and r.tolist() == [1.5] * 3
    assert dlcore.sub(f16, i64, alpha=0.5).dtype == dlcore.float16
    r = dlcore.add(dlcore.ones(3, dtype=dlcore.int32), dlcore.ones(3, dtype=dlcore.bool), alpha=2)
    assert r.dtype == dlcore.int32 and r.tolist() == [3] * 3
    x = dlcore.ones(3, dtype=dlcore.float16)
    x.add_(i64, alpha=0.5)
    assert x.dtype == dlcore.float16 and x.tolist() == [1.5] * 3
    # a 0-d float64 operand does not promote a float32 tensor (torch's dimension categories)
    assert dlcore.add(dlcore.ones(3), dlcore.tensor(2.0, dtype=dlcore.float64), alpha=3).dtype == dlcore.float32
    a = dlcore.ones(3, requires_grad=True)
    b = dlcore.ones(3, dtype=dlcore.float64, requires_grad=True)
    dlcore.add(a, b, alpha=2).sum().backward()
    assert a.grad.tolist() == [1.0] * 3 and b.grad.tolist() == [2.0] * 3 and b.grad.dtype == dlcore.float64


def test_masked_fill_broadcasts_out_of_place_but_not_in_place():
    m = dlcore.tensor(np.arange(24).reshape(2, 3, 4) % 3 == 0)
    out = dlcore.zeros(3, 4).masked_fill(m, 1.0)
    np.testing.assert_array_equal(out.numpy(), (np.arange(24).reshape(2, 3, 4) % 3 == 0).astype(np.float32))
    with pytest.raises(ValueError, match="broadcastable"):
        dlcore.zeros(3, 4).masked_fill_(m, 1.0)


def test_topk_of_a_0d_tensor():
    for k in (0, 1):
        v, i = dlcore.topk(dlcore.tensor(2.5), k)
        assert v.shape == () and float(v) == 2.5 and int(i) == 0


# ------------------------------------------------------------------------------------------------- layers

F = dlcore.nn.functional


def test_sdpa_fully_masked_rows_give_zeros_and_finite_gradients(rng):
    """scaled_dot_product_attention: a query row whose keys are all masked gets zero output (torch), and the
    gradients stay finite (the dead row's scores are zeroed before the softmax)."""
    q, k, v = (dlcore.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)
               for s in ((1, 2, 4), (1, 3, 4), (1, 3, 2)))
    for m in (dlcore.tensor([[False] * 3, [True, False, True]]),
              dlcore.tensor([[float("-inf")] * 3, [0.0, float("-inf"), 0.0]])):
        for t in (q, k, v):
            t.grad = None
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=m)
        assert o.detach().numpy()[0, 0].tolist() == [0.0, 0.0] and np.isfinite(o.detach().numpy()).all()
        o.sum().backward()
        for t in (q, k, v):
            assert np.isfinite(t.grad.numpy()).all()
        assert q.grad.numpy()[0, 0].tolist() == [0.0] * 4


def test_embedding_bag_offsets_and_all_padding():
    w = dlcore.ones(5, 3)
    for offs in ([0, -1], [0, 2, 1]):
        with pytest.raises(IndexError, match="non-decreasing"):
            F.embedding_bag(dlcore.tensor([0, 1, 2]), w, dlcore.tensor(offs))
    for mode in ("sum", "mean", "max"):
        wg = dlcore.tensor(np.arange(6.0).reshape(3, 2).astype(np.float32), requires_grad=True)
        out = F.embedding_bag(dlcore.tensor([[0, 0]]), wg, padding_idx=0, mode=mode)
        assert out.requires_grad and out.tolist() == [[0.0, 0.0]]
        out.sum().backward()
        assert wg.grad.tolist() == [[0.0, 0.0]] * 3


def test_norm_and_loss_argument_errors():
    with pytest.raises(ValueError, match="more than 1 value"):
        F.group_norm(dlcore.randn(1, 3), 3)
    with pytest.raises(ValueError, match="more than 1 value"):
        F.group_norm(dlcore.randn(1, 2, 1, 1), 2)
    assert F.group_norm(dlcore.randn(2, 4, 1), 4).shape == (2, 4, 1)  # torch's check is on N C / G times spatial
    with pytest.raises(ValueError, match="eps must be positive"):
        F.batch_norm(dlcore.ones(4, 2), None, None, training=True, eps=0.0)
    F.batch_norm(dlcore.ones(4, 2), dlcore.zeros(2), dlcore.ones(2), training=False, eps=0.0)  # eval: allowed
    with pytest.raises(RuntimeError, match="ignore_index"):
        F.cross_entropy(dlcore.zeros(2, 3), dlcore.full((2, 3), 1 / 3), ignore_index=0)
    F.cross_entropy(dlcore.zeros(2, 3), dlcore.full((2, 3), 1 / 3))  # the default ignore_index is fine
    with pytest.raises(ValueError, match="half of kernel size"):
        F.max_pool3d(dlcore.zeros(1, 1, 7, 7, 7), 3, padding=(2, 0, 0), dilation=(2, 1, 1))


def test_conv1d_backward_with_an_empty_batch():
    x = dlcore.zeros(0, 2, 5, requires_grad=True)
    w = dlcore.ones(3, 2, 3, requires_grad=True)
    F.conv1d(x, w).sum().backward()
    assert tuple(w.grad.shape) == (3, 2, 3) and not w.grad.numpy().any()
    assert tuple(x.grad.shape) == (0, 2, 5)


# ------------------------------------------------------------------------------------------------- tensor ops

def test_clamp_bounds_must_fit_the_dtype():
    x = dlcore.tensor([6, -5, 4], dtype=dlcore.int8)
    assert x.clamp(min=127).tolist() == [127] * 3 and x.clamp(min=-128).tolist() == [6, -5, 4]
    assert x.clamp(min=300.0).dtype == dlcore.float32  # a float bound promotes, as torch
    for f in (lambda: x.clamp(min=300), lambda: dlcore.clamp_min(x, -129), lambda: x.clamp(max=128),
              lambda: dlcore.tensor([1.0], dtype=dlcore.float16).clamp(max=1e10),
              lambda: dlcore.tensor([1.0]).clamp(max=1e40)):
        with pytest.raises(RuntimeError, match="without overflow"):
            f()
    assert dlcore.tensor([1.0]).clamp(max=float("inf")).tolist() == [1.0]
    t = dlcore.tensor([1.0, -2.0], requires_grad=True)
    y = t.clamp(min=float("nan"))  # torch: NaN everywhere, zero gradient
    y.sum().backward()
    assert np.isnan(y.detach().numpy()).all() and t.grad.tolist() == [0.0, 0.0]


def test_fmod_is_exact(rng):
    a = np.concatenate([rng.standard_normal(500) * 10.0 ** rng.integers(-30, 30, 500), [-6.605, -1e-30, 5.0, -0.0]])
    for b in (1e10, 300.0, 1.0, -2.5, 1e-3):
        for dt in (np.float32, np.float64):
            got = dlcore.fmod(dlcore.tensor(a.astype(dt)), b).numpy()
            np.testing.assert_array_equal(got, np.fmod(a.astype(dt), dt(b)))
            assert (np.signbit(got) == np.signbit(np.fmod(a.astype(dt), dt(b)))).all()
    bb = dlcore.tensor(np.array([-1.734375, 7.5, -0.0078125]), dtype=dlcore.bfloat16)
    assert dlcore.fmod(bb, 8.0).to(dlcore.float64).tolist() == [-1.734375, 7.5, -0.0078125]
    assert dlcore.fmod(dlcore.tensor([-5, 3, 7, -7]), dlcore.tensor([3, -2, 4, -4])).tolist() == [-2, 1, 3, -3]
    assert dlcore.fmod(dlcore.tensor([-5, 3]), 1e10).tolist() == [-5.0, 3.0]
    with pytest.raises(RuntimeError, match="division by zero"):
        dlcore.fmod(dlcore.tensor([1]), dlcore.tensor([0]))
    x = dlcore.tensor([5.5, -7.25], requires_grad=True)
    y = dlcore.tensor([2.0, 3.0], requires_grad=True)
    dlcore.fmod(x, y).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0] and y.grad.tolist() == [-2.0, 2.0]  # -trunc(x / y)


def test_integer_dtype_argument_of_scans_and_products():
    x = dlcore.tensor([1, 2, 3], dtype=dlcore.int32)
    assert x.cumsum(0, dtype=dlcore.int32).dtype == dlcore.int32
    assert x.cumprod(0, dtype=dlcore.int32).tolist() == [1, 2, 6]
    assert x.prod(dtype=dlcore.int16).dtype == dlcore.int16 and x.nansum(dtype=dlcore.int16).dtype == dlcore.int16
    assert dlcore.tensor([1.5, 2.0]).cumsum(0, dtype=dlcore.int32).tolist() == [1, 3]
    big = dlcore.tensor([100, 100], dtype=dlcore.int8)
    assert big.cumsum(0, dtype=dlcore.int8).tolist() == [100, -56]  # torch accumulates in int8 (wraps)


def test_sign_of_zero_in_neg_and_abs():
    z = dlcore.tensor([0.0, -0.0] * 20)  # vector body and tail
    assert np.signbit((-z).numpy()).tolist() == [True, False] * 20
    assert not np.signbit(z.abs().numpy()).any()
    for dt in (dlcore.float64, dlcore.float16, dlcore.bfloat16):
        assert (1 / dlcore.tensor([-0.0], dtype=dt).abs()).tolist() == [float("inf")]
        assert (1 / -dlcore.tensor([0.0], dtype=dt)).tolist() == [float("-inf")]


def test_var_std_without_degrees_of_freedom_are_inf():
    v = dlcore.tensor([1.0, 2.0, 4.0])
    for c in (3, 4):
        assert v.var(correction=c).item() == float("inf") and v.std(dim=0, correction=c).item() == float("inf")
    assert np.isnan(dlcore.tensor([2.0]).var().item())  # one element: 0 / 0


def test_all_any_with_empty_dims_reduce_nothing():
    x = dlcore.tensor([[1, 0], [2, 3]])
    assert x.all(dim=()).tolist() == [[True, False], [True, True]]
    assert tuple(x.any(dim=(), keepdim=True).shape) == (2, 2)
    assert dlcore.tensor([[1, 0]], dtype=dlcore.uint8).all(dim=()).dtype == dlcore.uint8


# ------------------------------------------------------------------------------------------------- nn modules

def test_parameter_dict_dict_api():
    nn = dlcore.nn
    d = nn.ParameterDict({"b": nn.Parameter(dlcore.ones(2)), "a": nn.Parameter(dlcore.zeros(1))})
    assert list(d.keys()) == ["a", "b"]  # a plain dict in sorted key order (torch)
    from collections import OrderedDict
    assert list(nn.ParameterDict(OrderedDict([("z", dlcore.ones(1)), ("y", dlcore.ones(1))])).keys()) == ["z", "y"]
    d.update({"c": dlcore.zeros(3)})
    assert isinstance(d["c"], nn.Parameter) and list(d.keys()) == ["a", "b", "c"]
    assert d.pop("a").shape == (1,) and "a" not in d
    assert d.setdefault("e", dlcore.ones(4)).shape == (4,) and d.setdefault("e", dlcore.ones(9)).shape == (4,)
    k, v = d.popitem()
    assert k == "e" and v.shape == (4,)
    c = d.copy()
    assert list(c.keys()) == list(d.keys()) and c["b"] is d["b"]
    assert list(d.fromkeys(["p", "q"]).keys()) == ["p", "q"]
    assert [n for n, _ in nn.Module.named_parameters(d)] == ["b", "c"]
    d.clear()
    assert len(d) == 0 and list(d.parameters()) == []


def test_module_odds_and_ends():
    nn = dlcore.nn
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(dlcore.ones(2, dtype=dlcore.int64))
    assert not nn.Parameter(dlcore.ones(2, dtype=dlcore.int64), requires_grad=False).requires_grad
    s = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    t = s * 2
    assert list(t.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"] and t[0] is t[2]
    assert len(2 * s) == 4
    s *= 3
    assert len(s) == 6
    with pytest.raises(ValueError, match="Non-positive"):
        s * 0
    bn = nn.BatchNorm2d(3)
    x = dlcore.ones(0, 3, 2, 2, requires_grad=True)
    y = bn(x)
    assert tuple(y.shape) == (0, 3, 2, 2) and bn.running_mean.tolist() == [0.0] * 3
    y.sum().backward()
    assert bn.weight.grad.tolist() == [0.0] * 3 and tuple(x.grad.shape) == (0, 3, 2, 2)
    m = nn.Linear(2, 2)
    seen = []
    m.register_forward_hook(lambda mod, a, o: seen.append(o is None), always_call=True)
    with pytest.raises(Exception):
        m(dlcore.ones(3))
    m(dlcore.ones(2))
    assert seen == [True, False]
    import copy
    m.weight.grad = dlcore.ones(2, 2)
    assert copy.deepcopy(m).weight.grad is None  # torch's copy has no gradient


def test_elu_sign_of_zero_and_mish_gradient_at_infinity():
    """Found by a CPU-vs-CUDA(emulated) parity fuzz: elu keeps -0.0 (expm1, as the scalar and CUDA forms), and
    mish's gradient beyond 20 is 1 on every path (the scalar form gave inf * 0 = NaN at +inf)."""
    F = dlcore.nn.functional
    for dt in (dlcore.float32, dlcore.float64):
        x = dlcore.tensor([-0.0, 0.0] * 10, dtype=dt)
        assert np.signbit(F.elu(x).numpy()).tolist() == [True, False] * 10
        t = dlcore.tensor([float("inf"), 30.0, 25.0], dtype=dt, requires_grad=True)
        F.mish(t).sum().backward()
        assert t.grad.tolist() == [1.0, 1.0, 1.0]
    a = np.linspace(-5, 0.5, 2001).astype(np.float32)
    ref = np.where(a > 0, a, np.expm1(a.astype(np.float64)))
    assert np.abs(F.elu(dlcore.tensor(a)).numpy() - ref).max() < 1e-7  # expm1: no cancellation near 0


# ------------------------------------------------------------------------------------------------- linalg

def test_lstsq_rank_deficient_gives_the_minimum_norm_solution():
    L = dlcore.linalg
    A = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])
    B = np.array([[1.0], [2.0], [2.0]])
    ref = np.linalg.pinv(A) @ B
    for drv in (None, "gelsy", "gelsd", "gelss"):
        r = L.lstsq(dlcore.tensor(A), dlcore.tensor(B), driver=drv)
        assert_close = np.testing.assert_allclose
        assert_close(r.solution.numpy(), ref, rtol=1e-10, atol=1e-12)
        assert int(r.rank) == 1 and tuple(r.residuals.shape) == (0,)
    assert not L.lstsq(dlcore.zeros(3, 2, dtype=dlcore.float64), dlcore.tensor(B)).solution.numpy().any()
    A2 = np.array([[1.0, 0.0], [0.0, 0.1], [0.0, 0.0]])
    r = L.lstsq(dlcore.tensor(A2), dlcore.ones(3, 1, dtype=dlcore.float64), rcond=0.5, driver="gelsd")
    np.testing.assert_allclose(r.solution.numpy().ravel(), [1.0, 0.0], atol=1e-12)
    assert int(r.rank) == 1 and tuple(r.residuals.shape) == (0,)
    full = L.lstsq(dlcore.tensor(A2), dlcore.ones(3, 1, dtype=dlcore.float64), driver="gelsd")  # full rank: QR
    np.testing.assert_allclose(full.solution.numpy().ravel(), [1.0, 10.0], rtol=1e-12)
    assert tuple(full.residuals.shape) == (1,)


def test_linalg_argument_checks():
    L = dlcore.linalg
    x = dlcore.arange(12.0).reshape(3, 4)
    assert L.vector_norm(x, dim=()).shape == () and L.vector_norm(x, dim=(), keepdim=True).shape == (1, 1)
    with pytest.raises(RuntimeError, match="length 1 or 2"):
        L.norm(x, dim=())
    with pytest.raises(RuntimeError, match="greater than 1"):
        L.vander(dlcore.tensor([1.0, 2.0]), N=1)
    with pytest.raises(L.LinAlgError, match="singular"):
        dlcore.cholesky_inverse(dlcore.zeros(2, 2))
    nan = dlcore.tensor([[float("nan"), 1.0], [1.0, 2.0]])
    for f in (L.svdvals, L.matrix_rank, L.pinv, L.cond, lambda a: L.matrix_norm(a, ord=2)):
        with pytest.raises(L.LinAlgError, match="non-finite"):
            f(nan)
    assert np.isfinite(L.svdvals(dlcore.tensor([[float("inf"), 1.0], [1.0, 2.0]])).numpy()).sum() >= 0  # inf: no raise


# ------------------------------------------------------------------------------------------------- data, interop

def test_default_collate_infers_from_every_number():
    from dlcore.utils.data import default_collate
    r = default_collate([1, 2.5])
    assert r.dtype == dlcore.float32 and r.tolist() == [1.0, 2.5]  # (was truncated to int64 [1, 2])
    assert default_collate([True, 2.5]).tolist() == [1.0, 2.5]
    assert default_collate([2.5, 1]).dtype == dlcore.float64
    assert default_collate([True, 1]).dtype == dlcore.int64 and default_collate([1, 2]).dtype == dlcore.int64
    assert default_collate([True, False]).dtype == dlcore.bool


def test_tensor_inference_of_numpy_elements_and_big_ints():
    with pytest.raises(ValueError, match="Overflow"):
        dlcore.tensor([2 ** 63])
    with pytest.raises(ValueError, match="Overflow"):
        dlcore.tensor([[1, 2 ** 63]])
    assert dlcore.tensor([2 ** 63 - 1, -2 ** 63]).tolist() == [2 ** 63 - 1, -2 ** 63]
    assert dlcore.tensor([np.float64(1.5)]).dtype == dlcore.float64
    assert dlcore.tensor([np.int8(1), np.int8(2)]).dtype == dlcore.int8
    assert dlcore.tensor([np.array([1, 2], dtype=np.int8)] * 2).dtype == dlcore.int8
    assert dlcore.tensor([np.float16(1)]).dtype == dlcore.float16
    assert dlcore.tensor([1.5]).dtype == dlcore.float32 and dlcore.tensor([np.int64(3), 4]).dtype == dlcore.int64


def test_device_and_generator_pickle_and_readonly_warning():
    import copy
    import io
    import pickle
    import warnings
    d = dlcore.device("cpu")
    assert str(pickle.loads(pickle.dumps(d))) == "cpu" and str(copy.deepcopy(d)) == "cpu"
    g = dlcore.Generator().manual_seed(5)
    dlcore.rand(3, generator=g)
    g2 = pickle.loads(pickle.dumps(g))
    assert dlcore.rand(3, generator=g).tolist() == dlcore.rand(3, generator=g2).tolist()
    m = dlcore.nn.Linear(2, 2)
    m.where = d
    copy.deepcopy(m)
    buf = io.BytesIO()
    dlcore.save({"device": d}, buf)
    buf.seek(0)
    assert str(dlcore.load(buf, weights_only=False)["device"]) == "cpu"
    ro = np.ones(3)
    ro.flags.writeable = False
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        dlcore.from_numpy(ro)
    assert any("not writable" in str(x.message) for x in w)


# ------------------------------------------------------------------------------------------------- 16-bit

def test_16bit_reductions_scalars_losses_autocast():
    for dt in (dlcore.float16, dlcore.bfloat16):
        x = dlcore.ones(2, 40000, dtype=dt)
        assert x.mean().item() == 1.0 and x.mean(1).tolist() == [1.0, 1.0] and x.var(1).tolist() == [0.0, 0.0]
        assert x.nanmean().item() == 1.0
        assert dlcore.full((30000,), 0.1, dtype=dt).std().item() == 0.0
    h = dlcore.tensor([0.0, 1.0, 3.0, float("inf")], dtype=dlcore.float16)
    assert (h * 70000).tolist() == [0.0, float("inf"), float("inf"), float("inf")]  # (0 * inf was NaN)
    assert (h / 70000).tolist()[1] == pytest.approx(1.4305e-05, rel=1e-3)
    assert (dlcore.tensor([3.0], dtype=dlcore.bfloat16) * 257).tolist() == [772.0]
    assert (dlcore.tensor([1.0, 3.0], dtype=dlcore.float16) // 1.0001).tolist() == [0.0, 2.0]
    F = dlcore.nn.functional
    assert F.mse_loss(dlcore.randn(4, 5).half(), dlcore.randn(4, 5)).dtype == dlcore.float32  # promoted (torch)
    x = dlcore.tensor([65504.0], dtype=dlcore.float16)
    assert dlcore.addcdiv(x, x, dlcore.tensor([-0.5], dtype=dlcore.float16), value=0.5).tolist() == [0.0]
    assert dlcore.addcmul(x, x, dlcore.tensor([-2.0], dtype=dlcore.float16), value=0.5).tolist() == [0.0]
    with dlcore.autocast("cpu", dtype=dlcore.bfloat16):
        assert dlcore.mv(dlcore.randn(4, 7), dlcore.randn(7)).dtype == dlcore.float32  # not an autocast op on cpu
        assert dlcore.dot(dlcore.randn(7), dlcore.randn(7)).dtype == dlcore.float32
        assert dlcore.matmul(dlcore.randn(4, 7), dlcore.randn(7)).dtype == dlcore.bfloat16


# ------------------------------------------------------------------------------------------------- autograd

def test_retain_grad_follows_in_place_ops_and_number_over_tensor():
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    a = x * 2
    a.retain_grad()
    a.mul_(3)
    (a ** 2).sum().backward()
    assert a.grad.tolist() == [12.0, 24.0] and x.grad.tolist() == [72.0, 144.0]  # d/da of the new a (torch)
    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    a = x * 1
    y = 2.0 / a  # reciprocal(a) * 2: saves its output, so an in-place change of a is no error (torch)
    a.add_(1)
    y.sum().backward()
    assert x.grad.tolist() == [-2.0, -0.5]


def test_function_mark_dirty():
    class AddOne(dlcore.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    x = dlcore.tensor([1.0, 2.0], requires_grad=True)
    y = AddOne.apply(x * 1)
    (y * y).sum().backward()
    assert x.grad.tolist() == [4.0, 6.0]


def test_nextafter_in_16_bit_formats():
    a = [1.0, 0.0, float("inf"), 1.0, -0.0, -3.0]
    b = [2.0, 1.0, 0.0, 0.0, -1.0, -4.0]
    h = dlcore.nextafter(dlcore.tensor(a, dtype=dlcore.float16), dlcore.tensor(b, dtype=dlcore.float16))
    assert h.dtype == dlcore.float16
    assert h.float().tolist() == [1.0009765625, 2.0 ** -24, 65504.0, 0.99951171875, -(2.0 ** -24), -3.001953125]
    r = dlcore.nextafter(dlcore.tensor(a, dtype=dlcore.bfloat16), dlcore.tensor(b, dtype=dlcore.bfloat16))
    assert r.float().tolist() == [1.0078125, 2.0 ** -133, 3.3895313892515355e38, 0.99609375, -(2.0 ** -133), -3.015625]


def test_relu_gradient_passes_at_nan():
    for dt in (dlcore.float32, dlcore.float64, dlcore.bfloat16):
        x = dlcore.tensor([float("nan"), 1.0, -1.0, 0.0] * 5, dtype=dt, requires_grad=True)
        dlcore.nn.functional.relu(x).sum().backward()
        assert x.grad.float().tolist()[:4] == [1.0, 1.0, 0.0, 0.0]  # torch's threshold_backward


# ------------------------------------------------------------------------------------------------- Tensor API

def test_contains_size_broadcast_to_and_view_dtype():
    x = dlcore.arange(12.0).reshape(3, 4)
    assert (1.0 in x) and (100 not in x) and (x[0] in x) and (dlcore.tensor(5.0) in x)
    with pytest.raises(RuntimeError, match="__contains__"):
        "a" in x
    s = dlcore.ones(2, 3, 4).shape
    assert isinstance(s[1:], dlcore.Size) and s[1:].numel() == 12 and isinstance(s + (5,), dlcore.Size)
    assert isinstance(dlcore.broadcast_shapes((2, 1), (3,)), dlcore.Size)
    assert dlcore.ones(2).broadcast_to(3, 2).shape == (3, 2) and dlcore.ones(2).broadcast_to((3, 2)).shape == (3, 2)
    a = np.array([[1.0, -2.0, 0.5, 3.0], [0.0, 1.0, 2.0, 3.0]], np.float32)
    t = dlcore.tensor(a)
    for dt, npdt in ((dlcore.int32, np.int32), (dlcore.int16, np.int16), (dlcore.float64, np.float64),
                     (dlcore.uint8, np.uint8)):
        v = t.view(dt)
        np.testing.assert_array_equal(v.numpy(), a.view(npdt))
    w = t.view(dlcore.int32)
    w[0, 0] = 0  # shares memory
    assert t[0, 0].item() == 0.0
    with pytest.raises(RuntimeError, match="stride"):
        t.t().view(dlcore.int16)
    # bfloat16 both ways (the bits of 1.0 are 0x3f80), offsets and the torch checks of a growing item size
    b = dlcore.ones(4, dtype=dlcore.bfloat16)
    assert b.view(dlcore.int16).tolist() == [0x3F80] * 4
    assert dlcore.tensor([0x3F80, 0x4000], dtype=dlcore.int16).view(dlcore.bfloat16).tolist() == [1.0, 2.0]
    assert t.view(dlcore.bfloat16).shape == (2, 8) and t.view(dlcore.bfloat16).float()[0, 3].item() == -2.0
    with pytest.raises(RuntimeError, match="divisible"):
        t[:, 1:].view(dlcore.float64)
    with pytest.raises(RuntimeError, match="storage_offset"):
        t[:, 1:3].view(dlcore.float64)
    with pytest.raises(RuntimeError, match="dim"):
        dlcore.tensor(1.0).view(dlcore.int16)
    v = t[:, 2:].view(dlcore.float64)
    assert v.shape == (2, 1) and v.storage_offset() == 1


# ------------------------------------------------------------------------------------------------- nn.utils, nn.init

def test_clip_grad_norm_every_norm_type_and_16_bit():
    clip = dlcore.nn.utils.clip_grad_norm_
    p = dlcore.nn.Parameter(dlcore.zeros(3))
    p.grad = dlcore.tensor([1.0, 0.0, 2.0])
    # torch: the 0-"norm" of the per-tensor norms (counts): 1 here; the grads scaled by 1 / (1 + 1e-6)
    assert clip([p], 1.0, norm_type=0).item() == 1.0  # (was ZeroDivisionError)
    np.testing.assert_allclose(p.grad.numpy(), [1.0, 0.0, 2.0], rtol=1e-5)
    p.grad = dlcore.tensor([3.0, -0.5, 2.0])
    assert clip([p], 10.0, norm_type=-float("inf")).item() == 0.5  # the smallest |g| (was 1)
    h = dlcore.nn.Parameter(dlcore.zeros(2, dtype=dlcore.float16))
    h.grad = dlcore.tensor([300.0, 400.0], dtype=dlcore.float16)
    t = clip([h], 1.0)
    assert t.dtype == dlcore.float16 and t.item() == 500.0  # (300^2 overflowed float16: inf, grads zeroed)
    np.testing.assert_allclose(h.grad.float().numpy(), [0.6, 0.8], rtol=2e-3)
    a, b = dlcore.nn.Parameter(dlcore.zeros(2)), dlcore.nn.Parameter(dlcore.zeros(2, dtype=dlcore.float64))
    a.grad, b.grad = dlcore.ones(2), dlcore.ones(2, dtype=dlcore.float64)
    assert clip([a, b], 10.0).dtype == dlcore.float64


def test_init_argument_checks():
    init = dlcore.nn.init
    t = dlcore.empty(3)
    with pytest.raises(RuntimeError, match="range"):
        init.uniform_(t, 1, 0)
    with pytest.raises(RuntimeError, match="std"):
        init.normal_(t, std=-1)
    with pytest.raises(RuntimeError, match="a <= b"):
        init.trunc_normal_(t, a=1, b=-1)
    init.uniform_(t, 1, 1)
    assert t.tolist() == [1.0] * 3


def test_bool_tensor_pow_and_shifts():
    b = dlcore.tensor([True, False])
    r = b ** 2
    assert r.dtype == dlcore.int64 and r.tolist() == [1, 0]
    assert b.pow(True).dtype == dlcore.bool and b.pow(True).tolist() == [True, False]
    assert b.pow(False).tolist() == [True, True]
    for v, want in ((b << 2, [4, 0]), (b >> 1, [0, 0]), (2 << b, [4, 2])):
        assert v.dtype == dlcore.int64 and v.tolist() == want
    assert (dlcore.tensor([1, 2]) << True).tolist() == [2, 4] and (dlcore.tensor([1, 2]) >> True).tolist() == [0, 1]


def test_scalar_bool_index():
    x = dlcore.arange(6.0).reshape(2, 3)
    for k, n in ((True, 1), (False, 0), (dlcore.tensor(True), 1), (dlcore.tensor(False), 0)):
        assert tuple(x[k].shape) == (n, 2, 3)
    np.testing.assert_array_equal(x[True].numpy()[0], x.numpy())


def test_func_transforms_edge_cases():
    from dlcore.func import jacfwd, jacrev, vmap
    # an unbatched NaN output with out_dims=None is the same value in every slice
    out = vmap(lambda a: dlcore.tensor(float("nan")), out_dims=None)(dlcore.ones(3))
    assert out.isnan().item()
    # an in-place write into an unmapped input would batch it: torch raises, the loop must not accumulate
    b = dlcore.zeros(2)

    def f(a, c):
        c.add_(a)
        return a
    with pytest.raises(RuntimeError, match="in place"):
        vmap(f, in_dims=(0, None))(dlcore.ones(3, 2), b)
    # jacrev of a non-float output raises like torch's vjp; jacfwd gives zeros of the output's dtype
    x = dlcore.ones(3, dtype=dlcore.float64)
    with pytest.raises(RuntimeError, match="floating-point"):
        jacrev(lambda a: a > 0)(x)
    j = jacfwd(lambda a: a > 0)(x)
    assert j.dtype == dlcore.bool and tuple(j.shape) == (3, 3) and not j.any().item()
    jf, jr = jacfwd(lambda a: a.float() * 2)(x), jacrev(lambda a: a.float() * 2)(x)
    assert jf.dtype == dlcore.float32 and jr.dtype == dlcore.float64
    np.testing.assert_array_equal(jf.numpy(), 2 * np.eye(3))


def test_inplace_index_ops_refuse_overlapping_sources():
    # torch's assert_no_overlap: the kernels would read values they already wrote (index_add_ of x[0:3] into
    # x[1:4] gave [0, 1, 3, 6, ...])
    x = dlcore.arange(6.0)
    i = dlcore.tensor([1, 2, 3])
    for f in (lambda: x.index_add_(0, i, x[0:3]), lambda: x.scatter_(0, i, x[0:3]),
              lambda: x.scatter_add_(0, i, x[3:6]), lambda: x.index_copy_(0, i, src_view(x)),
              lambda: x.scatter_(0, dlcore.arange(6), src=x)):
        with pytest.raises(RuntimeError, match="single memory location"):
            f()
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    x[:3].index_add_(0, dlcore.tensor([1, 2]), x[3:5])  # disjoint parts of one storage: allowed
    assert x.tolist() == [0.0, 4.0, 6.0, 3.0, 4.0, 5.0]


def src_view(x):
    return x[0:3]


def test_where_condition_dtype_and_put_dtype():
    x = dlcore.zeros(3)
    with pytest.raises(RuntimeError, match="boolean"):
        dlcore.where(dlcore.tensor([1.0, 0.0, 2.0]), x, 1.0)
    assert dlcore.where(dlcore.tensor([1, 0, 2], dtype=dlcore.uint8), x, 1.0).tolist() == [0.0, 1.0, 0.0]
    with pytest.raises(RuntimeError, match="same dtype"):
        x.put_(dlcore.tensor([0]), dlcore.tensor([1.0], dtype=dlcore.float64))
    with pytest.raises(IndexError, match="same number"):
        x.put_(dlcore.tensor([0, 1]), dlcore.tensor([1.0]))


def test_numpy_ufuncs_on_tensors_return_tensors():
    # torch's __array_wrap__: np.sin(t) is a Tensor; bool results come back as uint8
    t = dlcore.tensor([1.0, -2.0])
    r = np.sin(t)
    assert isinstance(r, dlcore.Tensor) and r.dtype == dlcore.float32
    np.testing.assert_allclose(r.numpy(), np.sin(np.array([1.0, -2.0], np.float32)), rtol=1e-6)
    g = np.greater(t, 0)
    assert isinstance(g, dlcore.Tensor) and g.dtype == dlcore.uint8 and g.tolist() == [1, 0]
    m = np.maximum(t, np.zeros(2))
    assert isinstance(m, dlcore.Tensor) and m.dtype == dlcore.float64 and m.tolist() == [1.0, 0.0]
    s = np.sqrt(dlcore.tensor(4.0))
    assert isinstance(s, dlcore.Tensor) and s.ndim == 0 and s.item() == 2.0
    assert isinstance(np.asarray(t), np.ndarray)


def test_copy_over_history_gives_zero_gradients_to_the_old_value():
    # torch's CopyBackwards keeps the old history as an input with a zero gradient: a.grad is zeros, not None
    a = dlcore.ones(3, requires_grad=True)
    s = dlcore.ones(3, requires_grad=True)
    b = a * 2
    b.copy_(s * 3)
    b.sum().backward()
    assert a.grad is not None and a.grad.tolist() == [0.0, 0.0, 0.0] and s.grad.tolist() == [3.0, 3.0, 3.0]
    a = dlcore.ones(3, requires_grad=True)
    b = a * 2
    b.copy_(dlcore.zeros(3))  # a constant source
    (b * 5).sum().backward()
    assert a.grad.tolist() == [0.0, 0.0, 0.0]
    a = dlcore.ones(3, requires_grad=True)
    b = a * 2
    b[1:].copy_(dlcore.zeros(2))  # through a view: the region's gradient is zero, the rest passes
    b.sum().backward()
    assert a.grad.tolist() == [2.0, 0.0, 0.0]
