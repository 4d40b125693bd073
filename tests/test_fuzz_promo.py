"""Regression tests for type-promotion / elementwise-semantics defects a fuzzing pass against torch 2.13 found:
out= of elementwise ops (cast rules, computing dtype, resize, autograd, ops that lacked out=), add/sub alpha
promotion, trunc division of uint8 by a negative scalar, integer pow with a scalar base, 16-bit nextafter, exact
ldexp, bool sign_ and unary +. Expected values are torch's (hard-coded, so torch is not needed)."""
import numpy as np
import pytest

import dlcore

T = dlcore.tensor


def _np(t):
    return t.float().numpy() if t.dtype == dlcore.bfloat16 else t.numpy()


def test_out_refuses_narrowing_cast():
    a = T([1.5, 2.5])
    for fn in (dlcore.add, dlcore.sub, dlcore.mul, dlcore.div, dlcore.atan2):
        with pytest.raises(RuntimeError, match="can't be cast"):
            fn(a, a, out=dlcore.empty(2, dtype=dlcore.int64))
    with pytest.raises(RuntimeError, match="can't be cast"):
        dlcore.add(T([1, 2]), T([1, 2]), out=dlcore.empty(2, dtype=dlcore.bool))
    with pytest.raises(RuntimeError, match="can't be cast"):
        dlcore.sqrt(T([1, 4]), out=dlcore.empty(2, dtype=dlcore.int64))


def test_out_computes_in_result_dtype_then_casts():
    # float16 division, then widened: torch's 0.66650391, not the float64 quotient
    o = dlcore.empty(1, dtype=dlcore.float64)
    dlcore.div(T([True]), T([1.5]).half(), out=o)
    assert o.numpy()[0] == np.float64(np.float16(1 / 1.5))
    # int8 shift wraps before the int64 out sees it
    o = dlcore.empty(1, dtype=dlcore.int64)
    dlcore.add(T([100], dtype=dlcore.int8), T([100], dtype=dlcore.int8), out=o)
    assert o.tolist() == [-56]
    # comparisons into a float out: 1.0 / 0.0
    o = dlcore.empty(2)
    assert dlcore.lt(T([1, 3]), 2, out=o) is o and o.tolist() == [1.0, 0.0]


def test_out_resizes_and_refuses_autograd():
    o = dlcore.empty(5)
    with pytest.warns(UserWarning):
        r = dlcore.add(dlcore.ones(3), dlcore.ones(3), out=o)
    assert r is o and tuple(o.shape) == (3,)
    x = dlcore.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="automatic differentiation"):
        dlcore.mul(x, 2, out=dlcore.empty(2))


@pytest.mark.parametrize("name,args,want", [
    ("floor_divide", (T([7, -7]), 2), [3, -4]),
    ("remainder", (T([7, -7]), 3), [1, 2]),
    ("fmod", (T([7, -7]), 3), [1, -1]),
    ("pow", (T([2, 3]), 2), [4, 9]),
    ("maximum", (T([1, 5]), T([3, 2])), [3, 5]),
    ("minimum", (T([1, 5]), T([3, 2])), [1, 2]),
    ("bitwise_and", (T([6, 5]), 3), [2, 1]),
    ("logical_or", (T([0, 2]), T([0, 0])), [0, 1]),
    ("eq", (T([1, 2]), 2), [0, 1]),
    ("neg", (T([1, -2]),), [-1, 2]),
    ("abs", (T([-1, 2]),), [1, 2]),
])
def test_ops_that_ignored_or_lacked_out(name, args, want):
    o = dlcore.empty(2, dtype=dlcore.int64)
    assert getattr(dlcore, name)(*args, out=o) is o
    assert o.tolist() == want


def test_div_rounding_mode_writes_out():
    o = dlcore.zeros(2, dtype=dlcore.int64)
    assert dlcore.div(T([7, -7]), 2, rounding_mode="floor", out=o) is o and o.tolist() == [3, -4]
    assert dlcore.div(T([7, -7]), 2, rounding_mode="trunc", out=o) is o and o.tolist() == [3, -3]


def test_add_alpha_promotion():
    # scalar input: the product is taken in the float result dtype, not wrapped in uint8
    r = dlcore.add(2.5, T([255], dtype=dlcore.uint8), alpha=2)
    assert r.dtype == dlcore.float32 and r.tolist() == [512.5]
    # bool + bool with alpha stays bool
    r = dlcore.add(T([True, False]), T([True, True]), alpha=2)
    assert r.dtype == dlcore.bool and r.tolist() == [True, True]
    assert dlcore.add(T([True, False]), T([True, True]), alpha=0).tolist() == [True, False]
    b = T([True, False])
    b.add_(T([True, True]), alpha=2)
    assert b.dtype == dlcore.bool and b.tolist() == [True, True]
    with pytest.raises(RuntimeError, match="alpha must not be a floating point"):
        dlcore.add(T([1, 2]), T([1, 1]), alpha=2.5)


def test_sub_alpha_with_bool_raises():
    for a, b in ((T([1, 2]), T([True, False])), (T([1, 2]), True), (T([True]), T([1]))):
        with pytest.raises(RuntimeError, match="Subtraction"):
            dlcore.sub(a, b, alpha=2)
    with pytest.raises(RuntimeError, match="Subtraction"):
        T([1, 2]).sub_(T([True, False]), alpha=2)


def test_trunc_div_uint8_by_negative_scalar():
    # torch wraps -3 to uint8 253: 255 // 253 == 1, the rest 0
    r = dlcore.div(T([0, 1, 7, 255], dtype=dlcore.uint8), -3, rounding_mode="trunc")
    assert r.dtype == dlcore.uint8 and r.tolist() == [0, 0, 0, 1]


def test_pow_scalar_base_integer_exponent():
    e = T([0, 1, -1, 2, -3, 3], dtype=dlcore.int8)
    assert dlcore.pow(0, e).tolist() == [1, 0, 0, 0, 0, 0]
    assert dlcore.pow(1, e).tolist() == [1] * 6
    assert dlcore.pow(True, e).tolist() == [1] * 6
    assert dlcore.pow(-1, e).tolist() == [1, -1, -1, 1, -1, -1]
    r = (-3) ** T([0, 1, 255, 2], dtype=dlcore.uint8)  # -3 wraps to 253 in uint8
    assert r.dtype == dlcore.uint8 and r.tolist() == [1, 253, 85, 9]
    r = T([True, False]) ** np.int64(3)
    assert r.dtype == dlcore.int64 and r.tolist() == [1, 0]


def test_nextafter_16bit_with_other_dtypes():
    a = T([1.5, 0.0]).half()
    r = dlcore.nextafter(a, T([3, -1], dtype=dlcore.int32))
    want = np.nextafter(np.float16([1.5, 0.0]), np.float16([3, -1]))
    assert r.dtype == dlcore.float16 and np.array_equal(_np(r), want)
    a.nextafter_(T([3, -1]))
    assert np.array_equal(_np(a), want)
    r = dlcore.nextafter(T(0.0).half(), T(-0.0).half())  # a == b: b (-0), and 0-d stays 0-d
    assert tuple(r.shape) == () and np.signbit(_np(r))
    r = dlcore.nextafter(T(1.0).bfloat16(), T(2.0).bfloat16())
    assert tuple(r.shape) == () and float(r) == 1.0078125


def test_ldexp_exact_scaling():
    x = T([float("-inf"), 3.0, -0.0, 1.5])
    e = T([-128, 100, 255, -3], dtype=dlcore.int16)
    r16 = dlcore.ldexp(x.half(), e)
    assert r16.dtype == dlcore.float16
    np.testing.assert_array_equal(_np(r16), np.float16([-np.inf, np.inf, -0.0, 0.1875]))
    assert np.signbit(_np(r16)[2])
    r32 = dlcore.ldexp(x, e)
    np.testing.assert_array_equal(r32.numpy(), np.float32([-np.inf, 3 * 2.0 ** 100, -0.0, 0.1875]))
    # a floating exponent: 2 ** other in other's dtype (bfloat16 sqrt(2) = 1.4140625)
    r = dlcore.ldexp(T([3.0]).half(), T([0.5]).bfloat16())
    assert r.dtype == dlcore.float32 and r.tolist() == [3 * 1.4140625]


def test_bool_sign_inplace_and_unary_plus():
    b = T([True, False])
    assert b.sign_() is b and b.tolist() == [True, False]
    with pytest.raises(RuntimeError, match="bool"):
        +b
    assert (+T([1, 2])).tolist() == [1, 2]


def test_integer_tensors_rounded_to_16bit_common_dtype():
    # torch converts an integer tensor operand to the 16-bit common dtype first (numbers are read straight into the
    # float32 op math: f16 * 70000 at 0 is 0, not NaN; dlcore treats 0-d tensors as numbers there)
    a = dlcore.tensor([32767], dtype=dlcore.int16)
    b = dlcore.tensor([3.0], dtype=dlcore.float16)
    assert (a % b).tolist() == [2.0]  # 32767 -> 32768 in float16
    assert (a == dlcore.tensor([32768.0], dtype=dlcore.float16)).tolist() == [True]
    r = dlcore.tensor([-2147483648], dtype=dlcore.int32) - dlcore.tensor([float("-inf")], dtype=dlcore.float16)
    assert r.isnan().all().item()  # INT_MIN -> -inf in float16, -inf - -inf
    with pytest.raises(RuntimeError, match="bool"):
        dlcore.tensor([True]) - dlcore.tensor([1.0], dtype=dlcore.float16)


def test_shifts_with_bool_operands():
    b = dlcore.tensor([True, False])
    u = dlcore.tensor([1, 2], dtype=dlcore.uint8)
    r = b << u
    assert r.dtype == dlcore.uint8 and r.tolist() == [2, 0]
    assert (u << b).dtype == dlcore.uint8 and (u << b).tolist() == [2, 2]
    assert (b << dlcore.tensor([1, 1], dtype=dlcore.int8)).dtype == dlcore.int8
    assert (b << 2).dtype == dlcore.int64 and (b << 2).tolist() == [4, 0]
    for f in (lambda: b << b, lambda: b << True):
        with pytest.raises(NotImplementedError):
            f()
    with pytest.raises(OverflowError):
        u << 2 ** 70


def test_sdpa_float32_mask_with_16bit_query():
    q = dlcore.randn(2, 3, 4, 8).half()
    m = dlcore.randn(4, 4)
    out = dlcore.nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=m)
    assert out.dtype == dlcore.float16
    ref = dlcore.nn.functional.scaled_dot_product_attention(q.float(), q.float(), q.float(), attn_mask=m)
    np.testing.assert_allclose(out.float().numpy(), ref.numpy(), atol=4e-3)
