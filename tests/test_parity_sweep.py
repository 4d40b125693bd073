"""Regression tests for discrepancies found by a dlcore-vs-PyTorch differential sweep of everyday tensor ops and
torch.nn.functional calls. Each test compares dlcore against torch (CPU) on the case that used to differ."""
import math

import numpy as np
import pytest

import dlcore

torch = pytest.importorskip("torch")


def _pair(a, dtype=None):
    a = np.asarray(a) if dtype is None else np.asarray(a, dtype=dtype)
    return dlcore.tensor(a), torch.tensor(a)


def _same(d, t, rtol=1e-6, atol=1e-8):
    """dlcore result d equals torch result t: shape, dtype name and values (NaN == NaN)."""
    assert tuple(d.shape) == tuple(t.shape), (d.shape, t.shape)
    assert str(d.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (d.dtype, t.dtype)
    dn, tn = d.detach().numpy(), t.detach().numpy()
    if tn.dtype.kind == "f":
        np.testing.assert_allclose(dn, tn, rtol=rtol, atol=atol, equal_nan=True)
    else:
        np.testing.assert_array_equal(dn, tn)


# ------------------------------------------------------------------------------------------------- comparisons

def test_isclose_opposite_infinities_are_not_close():
    a = [math.inf, -math.inf, math.inf, 1.0, math.nan]
    b = [math.inf, math.inf, 1.0, 1.0 + 1e-9, math.nan]
    (da, ta), (db, tb) = _pair(a), _pair(b)
    _same(dlcore.isclose(da, db), torch.isclose(ta, tb))
    _same(dlcore.isclose(da, db, equal_nan=True), torch.isclose(ta, tb, equal_nan=True))
    ia, ib = _pair([-math.inf]), _pair([math.inf])
    assert dlcore.allclose(ia[0], ib[0]) is False and torch.allclose(ia[1], ib[1]) is False
    assert dlcore.allclose(*(_pair([math.inf, 1.0])[0],) * 2) is True


# ------------------------------------------------------------------------------------------------- reductions

def test_norm_nuc_and_p0_gradient():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 5))
    d, t = _pair(a)
    _same(dlcore.norm(d.t(), "nuc"), torch.norm(t.t(), "nuc"))
    _same(dlcore.norm(d, p="nuc", dim=(0, 1), keepdim=True), torch.norm(t, p="nuc", dim=(0, 1), keepdim=True))
    # p=0 counts nonzeros and is differentiable (zero gradient), as in torch
    a[1, 2] = 0.0
    dx = dlcore.tensor(a, requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    dn, tn = dlcore.norm(dx, 0, dim=1), torch.norm(tx, 0, dim=1)
    _same(dn, tn)
    dn.sum().backward()
    tn.sum().backward()
    assert tx.grad is None  # torch: an undefined (all-zero) gradient
    np.testing.assert_array_equal(dx.grad.numpy(), np.zeros_like(a))


@pytest.mark.parametrize("fn", ["std", "var"])
def test_std_var_of_0d_tensor_with_dim_and_grad(fn):
    for corr in (0, 1):
        dx = dlcore.tensor(2.5, dtype=dlcore.float64, requires_grad=True)
        tx = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
        dr = getattr(dlcore, fn)(dx, dim=-1, correction=corr, keepdim=True)
        tr = getattr(torch, fn)(tx, dim=-1, correction=corr, keepdim=True)
        _same(dr, tr)


@pytest.mark.parametrize("dt", ["int64", "int32", "int16", "uint8", "int8"])
def test_median_of_empty_integer_tensor_keeps_dtype(dt):
    d, t = _pair(np.zeros(0, dtype=dt))
    _same(dlcore.median(d), torch.median(t))
    _same(dlcore.nanmedian(d), torch.nanmedian(t))


@pytest.mark.parametrize("name, kw", [("sum", {}), ("mean", {}), ("amax", {}), ("std", {}), ("logsumexp", {}),
                                      ("prod", {}), ("any", {}), ("argmax", {})])
def test_numpy_axis_and_keepdims_aliases(name, kw):
    a = np.random.default_rng(1).standard_normal((3, 4))
    d, t = _pair(a)
    if name == "any":
        d, t = d > 0, t > 0
    _same(getattr(dlcore, name)(d, axis=1, keepdims=True), getattr(torch, name)(t, axis=1, keepdims=True))
    _same(getattr(d, name)(axis=0), getattr(t, name)(axis=0))
    with pytest.raises(TypeError):
        getattr(dlcore, name)(d, dim=0, axis=1)


def test_axis_alias_for_max_and_cumsum():
    a = np.random.default_rng(2).standard_normal((3, 4))
    d, t = _pair(a)
    dm, tm = dlcore.max(d, axis=1), torch.max(t, axis=1)
    _same(dm.values, tm.values)
    _same(dm.indices, tm.indices)
    _same(d.cumsum(axis=1), t.cumsum(axis=1))
    _same(dlcore.cumprod(d, axis=0), torch.cumprod(t, axis=0))


# ------------------------------------------------------------------------------------------------- arithmetic

def test_integer_pow_with_negative_tensor_exponent():
    base = [-7, -6, -1, 0, 1, 5, 7, -1, 1, 2, -1]
    exp = [2, -2, 3, -3, 2, -4, 3, -2, -5, -1, -3]
    (db, tb), (de, te) = _pair(base), _pair(exp)
    _same(dlcore.pow(db, de), torch.pow(tb, te))
    _same(db ** de, tb ** te)
    d32, t32 = _pair(base, np.int32)
    _same(dlcore.pow(d32, de), torch.pow(t32, te))  # int32 ** int64 -> int64
    with pytest.raises((RuntimeError, ValueError)):
        dlcore.pow(db, -1)  # a negative Python int exponent still raises, like torch
    bb, tbb = _pair([True, False, True])
    for edt in (np.int64, np.int8):
        de8, te8 = _pair([-1, 2, 0], edt)
        _same(dlcore.pow(bb, de8), torch.pow(tbb, te8))  # bool base promotes to the exponent's integer dtype


def test_square_and_angle_of_bool():
    d, t = _pair([True, False, True])
    _same(dlcore.square(d), torch.square(t))
    _same(d.square(), t.square())
    _same(dlcore.angle(d), torch.angle(t))


# ------------------------------------------------------------------------------------------------- indexing / scatter

def test_masked_select_0d():
    for v, m in [(1.5, True), (1.5, False)]:
        (dv, tv), (dm, tm) = _pair(v), _pair(m)
        _same(dlcore.masked_select(dv, dm), torch.masked_select(tv, tm))


@pytest.mark.parametrize("reduce", ["add", "multiply"])
def test_scatter_with_reduce(reduce):
    rng = np.random.default_rng(3)
    base = rng.standard_normal((4, 5))
    src = rng.standard_normal((3, 5))
    idx = np.array([[0, 1, 2, 0, 3], [1, 1, 0, 3, 2], [3, 0, 0, 1, 1]])
    (db, tb), (ds, ts), (di, ti) = _pair(base), _pair(src), _pair(idx)
    _same(dlcore.scatter(db, 0, di, ds, reduce=reduce), torch.scatter(tb, 0, ti, ts, reduce=reduce))
    _same(dlcore.scatter(db, 0, di, 2.5, reduce=reduce), torch.scatter(tb, 0, ti, 2.5, reduce=reduce))
    _same(db.scatter(1, di[:, :2] % 5, ds, reduce=reduce), tb.scatter(1, ti[:, :2] % 5, ts, reduce=reduce))
    ib, it = _pair(np.arange(20).reshape(4, 5))
    _same(dlcore.scatter(ib, 0, di, 3, reduce=reduce), torch.scatter(it, 0, ti, 3, reduce=reduce))
    with pytest.raises((ValueError, RuntimeError)):
        dlcore.scatter(db, 0, di, ds, reduce="max")


# ------------------------------------------------------------------------------------------------- shape ops

def test_split_sizes_must_be_non_negative():
    d, t = _pair(np.zeros((0, 3)))
    with pytest.raises(RuntimeError):
        t.split([1, -1], 0)
    with pytest.raises((ValueError, RuntimeError)):
        d.split([1, -1], 0)


def test_chunk_of_empty_dim_gives_chunks_pieces():
    for shape, chunks, dim in [((0, 4, 5), 3, 0), ((0, 4, 5), 2, 0), ((0,), 3, 0), ((2, 0), 4, 1)]:
        d, t = _pair(np.zeros(shape, np.float32))
        dc, tc = dlcore.chunk(d, chunks, dim), torch.chunk(t, chunks, dim)
        assert len(dc) == len(tc)
        for a, b in zip(dc, tc):
            _same(a, b)


def test_unflatten_infers_minus_one_from_the_dim():
    d, t = _pair(np.zeros((0, 4, 5), np.float32))
    _same(d.unflatten(1, (2, -1)), t.unflatten(1, (2, -1)))
    _same(dlcore.unflatten(d, -1, (-1, 5)), torch.unflatten(t, -1, (-1, 5)))
    d2, t2 = _pair(np.arange(24.0).reshape(2, 12))
    _same(d2.unflatten(1, (3, -1, 2)), t2.unflatten(1, (3, -1, 2)))
    with pytest.raises((RuntimeError, ValueError)):
        d2.unflatten(1, (5, -1))
    with pytest.raises((RuntimeError, ValueError)):
        d2.unflatten(1, (3, 5))


def test_keyword_forms_of_shape_methods():
    a = np.random.default_rng(4).standard_normal((3, 4, 5))
    d, t = _pair(a)
    _same(d.permute(dims=(2, 0, 1)), t.permute(dims=(2, 0, 1)))
    _same(dlcore.permute(d, dims=[1, 2, 0]), torch.permute(t, dims=[1, 2, 0]))
    _same(d[:1].expand(size=(3, 4, 5)), t[:1].expand(size=(3, 4, 5)))
    _same(d.flip(dims=(0, 2)), t.flip(dims=(0, 2)))
    _same(d.tile(dims=(2, 1, 1)), t.tile(dims=(2, 1, 1)))
    for a_, b_ in zip(d.split(split_size=2, dim=1), t.split(split_size=2, dim=1)):
        _same(a_, b_)
    with pytest.raises(TypeError):
        d.permute(0, 1, 2, dims=(0, 1, 2))


def test_einsum_sublist_form():
    rng = np.random.default_rng(5)
    (da, ta), (db, tb) = _pair(rng.standard_normal((2, 3))), _pair(rng.standard_normal((3, 4)))
    _same(dlcore.einsum(da, [0, 1], db, [1, 2], [0, 2]), torch.einsum(ta, [0, 1], tb, [1, 2], [0, 2]))
    _same(dlcore.einsum(da, [0, 1], db, [1, 2]), torch.einsum(ta, [0, 1], tb, [1, 2]))
    _same(dlcore.einsum(da, [Ellipsis, 27]), torch.einsum(ta, [Ellipsis, 27]))
    _same(dlcore.einsum(da, [0, 1], [1]), torch.einsum(ta, [0, 1], [1]))


# ------------------------------------------------------------------------------------------------- functional

def test_linear_with_1d_weight():
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((2, 3, 4)), rng.standard_normal(4)
    dx, dw = dlcore.tensor(x, requires_grad=True), dlcore.tensor(w, requires_grad=True)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    dy, ty = dlcore.nn.functional.linear(dx, dw), torch.nn.functional.linear(tx, tw)
    _same(dy, ty)
    dy.sum().backward()
    ty.sum().backward()
    _same(dx.grad, tx.grad)
    _same(dw.grad, tw.grad)


@pytest.mark.parametrize("fn", ["mse_loss", "l1_loss", "smooth_l1_loss"])
def test_pointwise_loss_promotes_float32_input_with_float64_target(fn):
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((3, 4))
    dx, tx = dlcore.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    for red in ("mean", "none"):
        dl = getattr(dlcore.nn.functional, fn)(dx, dlcore.tensor(y), reduction=red)
        tl = getattr(torch.nn.functional, fn)(tx, torch.tensor(y), reduction=red)
        _same(dl, tl, rtol=1e-6)
    dl.sum().backward()
    tl.sum().backward()
    _same(dx.grad, tx.grad, rtol=1e-5)


def _mha_inputs(rng, L=3, S=4, N=2, E=4, unbatched=False):
    q = rng.standard_normal((L, E) if unbatched else (L, N, E))
    kv = rng.standard_normal((S, E) if unbatched else (S, N, E))
    return q, kv, rng.standard_normal((3 * E, E)), rng.standard_normal(3 * E), rng.standard_normal((E, E)), \
        rng.standard_normal(E)


@pytest.mark.parametrize("case", ["plain", "masks", "per_head", "unbatched", "separate", "no_weights"])
def test_multi_head_attention_forward(case):
    rng = np.random.default_rng(8)
    q, kv, w_in, b_in, w_out, b_out = _mha_inputs(rng, unbatched=case == "unbatched")
    E, H = 4, 2
    kw = {}
    if case == "masks":
        kw = dict(attn_mask=np.triu(np.ones((3, 4), bool), 2),
                  key_padding_mask=np.array([[False, False, False, True], [False, True, False, False]]))
    res = []
    for lib in (dlcore, torch):
        tq = lib.tensor(q, requires_grad=True)
        tkv = lib.tensor(kv, requires_grad=True)
        tw = lib.tensor(w_in, requires_grad=True)
        args = dict(training=False, need_weights=case != "no_weights", average_attn_weights=case != "per_head")
        args.update({k: lib.tensor(v) for k, v in kw.items()})
        if case == "separate":
            args.update(use_separate_proj_weight=True, q_proj_weight=tw[:E], k_proj_weight=tw[E:2 * E],
                        v_proj_weight=tw[2 * E:])
        out, w = lib.nn.functional.multi_head_attention_forward(
            tq, tkv, tkv, E, H, None if case == "separate" else tw, lib.tensor(b_in), None, None, False, 0.0,
            lib.tensor(w_out), lib.tensor(b_out), **args)
        (out.sum() + (w * w).sum() if w is not None else out.sum()).backward()
        res.append((out, w, tq.grad, tkv.grad, tw.grad))
    for a, b in zip(*res):
        if b is None:
            assert a is None
        else:
            _same(a, b, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("name", ["repeat", "tile", "repeat_interleave", "pixel_shuffle", "pixel_unshuffle",
                                  "channel_shuffle", "channel_shuffle_g4"])
def test_copying_ops_never_alias_their_input(name):
    """torch's repeat/tile/repeat_interleave/pixel_(un)shuffle/channel_shuffle always return new memory, also
    when the factor is 1 (writing to the result must not change the input)."""
    calls = {
        "repeat": lambda L, x: x.repeat(1, 1, 1, 1),
        "tile": lambda L, x: L.tile(x, (1,)),
        "repeat_interleave": lambda L, x: L.repeat_interleave(x, 1, dim=1),
        "pixel_shuffle": lambda L, x: L.nn.functional.pixel_shuffle(x, 1),
        "pixel_unshuffle": lambda L, x: L.nn.functional.pixel_unshuffle(x, 1),
        "channel_shuffle": lambda L, x: L.nn.functional.channel_shuffle(x, 1),
        "channel_shuffle_g4": lambda L, x: L.nn.functional.channel_shuffle(x, 4),
    }
    a = np.arange(12.0).reshape(1, 4, 1, 3)
    res = []
    for lib in (dlcore, torch):
        x = lib.tensor(a)
        y = calls[name](lib, x)
        y.mul_(0)
        res.append((x, y))
    _same(res[0][0], res[1][0])
    _same(res[0][1], res[1][1])
    assert res[0][0].numpy().sum() == a.sum()


def test_top_level_adjoint():
    a = np.random.default_rng(9).standard_normal((2, 3, 4))
    d, t = _pair(a)
    _same(dlcore.adjoint(d), torch.adjoint(t))
    with pytest.raises(RuntimeError):
        dlcore.adjoint(dlcore.zeros(3))


@pytest.mark.parametrize("fn", ["mse_loss", "l1_loss", "smooth_l1_loss", "binary_cross_entropy_with_logits",
                                "multi_margin_loss"])
def test_mean_loss_of_empty_batch_backward(fn):
    """reduction='mean' over no elements: nan, and backward gives an empty gradient (it raised
    ZeroDivisionError)."""
    res = []
    for lib in (dlcore, torch):
        x = lib.zeros(0, 4, dtype=lib.float64, requires_grad=True)
        other = lib.zeros(0, dtype=lib.int64) if fn == "multi_margin_loss" else lib.zeros(0, 4, dtype=lib.float64)
        loss = getattr(lib.nn.functional, fn)(x, other)
        loss.backward()
        res.append((loss, x.grad))
    assert math.isnan(res[0][0].item())
    if fn != "multi_margin_loss":  # torch's mean here is nan too (its multi_margin_loss returns garbage)
        assert math.isnan(res[1][0].item())
    _same(res[0][1], res[1][1])


def test_fmod_by_infinity_keeps_the_dividend():
    sv = [0.0, -0.0, 1.0, -1.0, 2.5, -2.5, math.inf, -math.inf, math.nan]
    a, b = np.repeat(sv, len(sv)), np.tile(sv, len(sv))
    for da, db in [(np.float64, np.float64), (np.float32, np.float64), (np.float32, np.float32)]:
        (xa, ta), (xb, tb) = _pair(a, da), _pair(b, db)
        _same(dlcore.fmod(xa, xb), torch.fmod(ta, tb))
    for s in (math.inf, -math.inf):
        xa, ta = _pair(a)
        _same(dlcore.fmod(xa, s), torch.fmod(ta, s))
    x = dlcore.tensor([1.0, -2.0], requires_grad=True)
    tx = torch.tensor([1.0, -2.0], requires_grad=True)
    y, ty = dlcore.fmod(x, dlcore.tensor([-math.inf, math.inf])), torch.fmod(tx, torch.tensor([-math.inf, math.inf]))
    _same(y, ty)
    y.sum().backward()
    ty.sum().backward()
    _same(x.grad, tx.grad)


@pytest.mark.parametrize("expr", ["x.clamp_(0.5, 2.5)", "x.clamp_(min=L.tensor(1.5))", "x.pow_(0.5)",
                                  "x.clip_(max=0.5)"])
def test_integer_inplace_with_float_result_raises(expr):
    for L in (torch, dlcore):
        x = L.tensor([1, 2, 3])
        with pytest.raises((RuntimeError, TypeError)):
            eval(expr, {"L": L, "x": x})
        assert x.tolist() == [1, 2, 3]  # nothing written


def test_inplace_ops_that_stay_allowed_on_integers():
    for expr in ["x.clamp_(0, 2)", "x.clamp_(max=L.tensor([1, 1, 5]))", "x.pow_(2)", "x.add_(1)"]:
        vals = []
        for L in (torch, dlcore):
            x = L.tensor([1, 2, 3])
            eval(expr, {"L": L, "x": x})
            vals.append(x.tolist())
        assert vals[0] == vals[1], expr


def test_round_inplace_with_decimals():
    a = np.array([1.26, -2.55, 12.5, 0.049])
    for dec in (0, 1, 2, -1):
        d, t = _pair(a)
        d.round_(decimals=dec)
        t.round_(decimals=dec)
        _same(d, t)
    dx = dlcore.tensor(a, requires_grad=True) * 1
    tx = torch.tensor(a, requires_grad=True) * 1
    _same(dx.round_(decimals=1), tx.round_(decimals=1))


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("shape, kw", [((20, 17), {"size": (7, 5)}), ((9, 8), {"size": (20, 3)}),
                                       ((16, 12), {"scale_factor": (0.3, 1.7)}), ((7, 9), {"size": (1, 1)}),
                                       ((16, 16), {"scale_factor": 0.45, "recompute_scale_factor": True})])
def test_interpolate_antialias(mode, align_corners, shape, kw):
    a = np.random.default_rng(10).standard_normal((2, 3) + shape)
    dx = dlcore.tensor(a, requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    dy = dlcore.nn.functional.interpolate(dx, mode=mode, align_corners=align_corners, antialias=True, **kw)
    ty = torch.nn.functional.interpolate(tx, mode=mode, align_corners=align_corners, antialias=True, **kw)
    _same(dy, ty, rtol=1e-9, atol=1e-12)
    g = np.random.default_rng(11).standard_normal(tuple(ty.shape))
    dy.backward(dlcore.tensor(g))
    ty.backward(torch.tensor(g))
    _same(dx.grad, tx.grad, rtol=1e-9, atol=1e-12)
    f32 = dlcore.nn.functional.interpolate(dlcore.tensor(a.astype(np.float32)), mode=mode,
                                           align_corners=align_corners, antialias=True, **kw)
    _same(f32, ty.detach().float(), rtol=1e-4, atol=1e-5)


def test_interpolate_antialias_other_modes_raise():
    for mode, shape in [("linear", (1, 2, 9)), ("nearest", (1, 2, 9, 9)), ("trilinear", (1, 1, 4, 4, 4))]:
        with pytest.raises(ValueError):
            torch.nn.functional.interpolate(torch.zeros(shape), size=2, mode=mode, antialias=True)
        with pytest.raises(ValueError):
            dlcore.nn.functional.interpolate(dlcore.zeros(*shape), size=2, mode=mode, antialias=True)


@pytest.mark.filterwarnings("ignore:Using a non-tuple sequence")
@pytest.mark.parametrize("key", ["[[0, 1], [1, 2]]", "[0, slice(None)]", "[[0, 2], slice(1, 3)]", "[None, 1]",
                                 "[Ellipsis, [0, 3]]", "[L.tensor([0, 1]), 2]", "range(2)", "(0, range(1, 3))",
                                 "[[0, 1]] * 40", "[[0, 2]]"])
def test_list_index_read_like_torch(key):
    """A short list holding a sequence/slice/tensor/None/Ellipsis indexes like a tuple (torch's legacy NumPy rule);
    a range is a list of ints."""
    a = np.arange(60.0).reshape(3, 4, 5)
    res = []
    for L in (dlcore, torch):
        x = L.tensor(a)
        k = eval(key, {"L": L})
        y = x[k]
        z = x.clone()
        z[eval(key, {"L": L})] = -1.0
        res.append((y, z))
    _same(res[0][0], res[1][0])
    _same(res[0][1], res[1][1])


def test_list_index_as_tuple_warns_like_torch():
    x = dlcore.zeros(3, 4)
    with pytest.warns(UserWarning, match="non-tuple sequence"):
        x[[[0, 1], [1, 2]]]


@pytest.mark.filterwarnings("ignore:indexing with dtype")
def test_uint8_index_tensor_is_a_mask():
    a = np.arange(12.0).reshape(3, 4)
    res = []
    for L in (dlcore, torch):
        x = L.tensor(a)
        m = L.tensor([1, 0, 1], dtype=L.uint8)
        res.append((x[m], x[:, L.tensor([1, 0, 1, 1], dtype=L.uint8)], x[np.array([0, 1, 1], np.uint8)]))
    for a_, b_ in zip(*res):
        _same(a_, b_)
    with pytest.warns(UserWarning, match="uint8"):
        dlcore.zeros(3)[dlcore.tensor([1, 0, 1], dtype=dlcore.uint8)]


def test_subtraction_with_a_bool_tensor_raises_like_torch():
    t = dlcore.tensor([True, False])
    for f in (lambda: t - 1, lambda: 1 - t, lambda: t - dlcore.tensor([1, 2]), lambda: dlcore.tensor([1, 2]) - t,
              lambda: t - 1.5, lambda: dlcore.sub(t, 1), lambda: t.sub(1), lambda: dlcore.tensor([1, 2]) - True,
              lambda: False - dlcore.tensor([1.0])):
        with pytest.raises(RuntimeError, match="with a bool tensor is not supported"):
            f()
    assert (t + 1).tolist() == [2, 1] and ((t * 1) - 1).tolist() == [0, -1]
