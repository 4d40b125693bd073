// Frontend of the elementwise family: type promotion, broadcasting, input casts, output allocation, and the call
// through the registry to the device's kernel.
#include <algorithm>
#include <limits>

#include "core/parallel.h"
#include "ops/elementwise/elementwise.h"
#include "ops/gemm/gemm_bf16.h"

namespace dlcore {

const char* binary_op_name(BinaryOp op) {
  static const char* names[] = {"add", "sub", "mul", "div", "maximum", "minimum", "pow", "floor_divide",
                                "remainder", "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or",
                                "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor", "atan2", "copysign",
                                "xlogy", "hypot", "logaddexp", "logaddexp2", "nextafter", "fmax", "fmin",
                                "heaviside", "fmod"};
  static_assert(sizeof(names) / sizeof(names[0]) == kNumBinaryOps);
  return names[(int)op];
}

const char* unary_op_name(UnaryOp op) {
  static const char* names[] = {"neg", "abs", "sign", "square", "clamp", "pow", "floor", "ceil", "round", "trunc",
                                "exp", "log", "sqrt", "rsqrt", "reciprocal", "log1p", "expm1", "log2", "log10",
                                "exp2", "sin", "cos", "tanh", "sigmoid", "erf", "isnan", "isinf", "isfinite",
                                "logical_not", "bitwise_not", "nan_to_num", "asin", "acos", "atan", "sinh", "cosh",
                                "tan", "asinh", "acosh", "atanh", "erfc", "erfinv", "lgamma", "digamma", "trigamma",
                                "frac", "deg2rad", "rad2deg", "sinc", "logit", "signbit"};
  static_assert(sizeof(names) / sizeof(names[0]) == kNumUnaryOps);
  return names[(int)op];
}

namespace {

DType default_for_category(int cat) { return cat == 2 ? DType::Float32 : (cat == 1 ? DType::Int64 : DType::Bool); }

int scalar_category(const ScalarArg& s) { return s.kind == ScalarArg::Float ? 2 : (s.kind == ScalarArg::Int ? 1 : 0); }

// A device for the kernel: the non-scalar operands' device (all must agree); 0-d CPU tensors are scalars.
Device common_device(const char* op, std::initializer_list<const Tensor*> ts) {
  const Tensor* first = nullptr;
  for (const Tensor* t : ts) {
    if (t->dim() == 0 && t->device().is_cpu()) continue;
    if (!first) first = t;
    else
      DLCORE_CHECK(t->device() == first->device(), RuntimeError, op,
                   ": expected all tensors to be on the same device, but found ", first->device().str(), " and ",
                   t->device().str());
  }
  if (first) return first->device();
  for (const Tensor* t : ts)
    if (!t->device().is_cpu()) return t->device();
  return Device();
}

// The operand as the kernel wants it: expanded to shape and of dtype dt. 0-d CPU scalars stay 0-d (cast if
// needed), other tensors on a different dtype are cast (a copy).
Tensor prepare(const Tensor& t, const IntList& shape, DType dt, Device dev) {
  if (t.dim() == 0 && t.device().is_cpu()) {
    if (dev.is_cpu()) return t.to(dt).expand(shape);
    return t.to(dt);  // a scalar operand for a device kernel
  }
  Tensor x = t.dtype() == dt ? t : t.to(dt);
  if (x.shape() != shape) x = x.expand(shape);
  return x;
}

}  // namespace

DType result_type(const Tensor* a, const ScalarArg* sa, const Tensor* b, const ScalarArg* sb) {
  // PyTorch: dimensioned tensors > zero-dim tensors > Python numbers, by category (bool < int < float).
  bool have_dim = false, have_zero = false;
  DType dim_t = DType::Bool, zero_t = DType::Bool;
  int scalar_cat = -1;
  auto add_tensor = [&](const Tensor* t) {
    if (t->dim() > 0) {
      dim_t = have_dim ? promote_types(dim_t, t->dtype()) : t->dtype();
      have_dim = true;
    } else {
      zero_t = have_zero ? promote_types(zero_t, t->dtype()) : t->dtype();
      have_zero = true;
    }
  };
  if (a) add_tensor(a);
  if (b) add_tensor(b);
  if (sa) scalar_cat = std::max(scalar_cat, scalar_category(*sa));
  if (sb) scalar_cat = std::max(scalar_cat, scalar_category(*sb));
  DType r;
  if (have_dim) {
    r = dim_t;
    if (have_zero && dtype_category(zero_t) > dtype_category(r)) r = zero_t;
  } else if (have_zero) {
    r = zero_t;
  } else {
    return default_for_category(scalar_cat < 0 ? 0 : scalar_cat);
  }
  if (scalar_cat > dtype_category(r)) r = default_for_category(scalar_cat);
  return r;
}

// torch refuses a bool operand of a subtraction, tensor or number, even beside a non-bool one (tensor([True]) - 1,
// x - True).
[[noreturn]] static void bool_subtraction() {
  DLCORE_THROW(RuntimeError, "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying "
               "to invert a mask, use the `~` or `logical_not()` operator instead.");
}

Tensor scalar_operand(const ScalarArg& s, DType dtype, BinaryOp op) {
  if (op == BinaryOp::Sub && s.kind == ScalarArg::Bool) bool_subtraction();
  // torch's 16-bit float kernels: mul, div and floor_divide keep a number (float or int) in float32 (x * 0.1
  // multiplies by 0.1f, x * 70000 does not overflow float16 first, x // 1.0001 divides by 1.0001f), add and sub round
  // it to the tensor's dtype first (x + 0.3 adds bfloat16(0.3)). The op's result dtype stays the caller's.
  if ((op == BinaryOp::Mul || op == BinaryOp::Div || op == BinaryOp::FloorDiv) &&
      (dtype == DType::Float16 || dtype == DType::BFloat16) &&
      (s.kind == ScalarArg::Float || s.kind == ScalarArg::Int))
    return scalar_tensor(s, DType::Float32);
  return scalar_tensor(s, dtype);
}

Tensor scalar_tensor(const ScalarArg& s, DType dtype) {
  Tensor t = Tensor::empty(IntList{}, dtype, Device());
  double v = s.kind == ScalarArg::Float ? s.d : (double)s.i;
  if (s.kind != ScalarArg::Float && is_integral(dtype)) {
    // integers exactly (an int64 beyond 2^53 must not round through double), wrapped to the type like torch's
    // (int8 tensor + 300 adds 44)
    dispatch_dtype(dtype, "scalar", [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) *t.data<T>() = (T)(uint64_t)s.i;
    });
    return t;
  }
  t.fill(v);
  return t;
}

void check_fill_range(const ScalarArg& s, DType dtype) {
  if (!is_integral(dtype) || s.kind == ScalarArg::Bool) return;
  dispatch_dtype(dtype, "fill", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      constexpr double lo = (double)std::numeric_limits<T>::min(), hi = (double)std::numeric_limits<T>::max();
      bool ok;
      if (s.kind == ScalarArg::Int)
        ok = std::is_same_v<T, int64_t> ||
             (s.i >= (int64_t)std::numeric_limits<T>::min() && s.i <= (int64_t)std::numeric_limits<T>::max());
      else
        ok = s.d >= lo && s.d <= hi;  // as torch: 127.5 overflows int8 (NaN and inf too)
      DLCORE_CHECK(ok, RuntimeError, "value cannot be converted to type ", dtype_name(dtype), " without overflow");
    }
  });
}

// 16-bit floats compute in float32. Contiguous CPU operands go in chunks that stay in L2 (each converted to float32,
// computed, rounded back) instead of through full-size float32 temporaries.
// fn(start, len, chunk tensors...) does one chunk; the chunk tensors are per thread.
static constexpr int64_t kLowpChunk = 65536;

static bool is_16bit(DType d) { return d == DType::Float16 || d == DType::BFloat16; }

static Tensor flat_range(const Tensor& t, int64_t start, int64_t len) {
  return t.as_strided(IntList{len}, IntList{1}, t.offset() + start);
}

template <class F>
void lowp_chunks(int64_t n, int nbuf, const F& fn) {
  parallel_for(0, (n + kLowpChunk - 1) / kLowpChunk, 1, [&](int64_t c0, int64_t c1) {
    Tensor buf[3];
    for (int i = 0; i < nbuf; ++i) buf[i] = Tensor::empty(IntList{kLowpChunk}, DType::Float32, Device());
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t s = c * kLowpChunk, len = std::min(kLowpChunk, n - s);
      Tensor v[3];
      for (int i = 0; i < nbuf; ++i) v[i] = flat_range(buf[i], 0, len);
      fn(s, len, v);
    }
  });
}

static void check_binary_dtypes(BinaryOp op, DType compute) {
  const char* name = binary_op_name(op);
  if (op == BinaryOp::Sub && compute == DType::Bool)
    DLCORE_THROW(TypeError, "sub: subtraction of bool tensors is not supported; use logical_xor or ~ instead");
  if (binary_is_bitwise(op))
    DLCORE_CHECK(!is_floating(compute), TypeError, name, ": not supported for floating-point dtype ",
                 dtype_name(compute));
}

void binary_into(BinaryOp op, const Tensor& out, const Tensor& a_in, const Tensor& b_in, DType compute) {
  const char* name = binary_op_name(op);
  // A 16-bit compute dtype: an integer or bool tensor operand is first rounded to it, as torch converts operands to
  // the common dtype (int16 32767 % float16 3 is 32768 % 3 = 2; int32 INT_MIN - float16 -inf is -inf - -inf = NaN).
  // 0-d operands (Python numbers come as those) are not: torch reads a cpu number straight into the float32 op math
  auto to_lowp = [&](const Tensor& t) {
    return is_16bit(compute) && !is_floating(t.dtype()) && t.dim() > 0 ? t.to(compute) : t;
  };
  const Tensor a = to_lowp(a_in), b = to_lowp(b_in);
  check_binary_dtypes(op, compute);
  if (op == BinaryOp::Sub && (a_in.dtype() == DType::Bool || b_in.dtype() == DType::Bool)) bool_subtraction();
  Device dev = common_device(name, {&out, &a, &b});
  IntList shape = broadcast_shapes(a.shape(), b.shape(), name);
  DLCORE_CHECK(shape == out.shape(), ValueError, name, ": output with shape ", out.shape().str(),
               " doesn't match the broadcast shape ", shape.str());
  if (out.numel() == 0) return;
  DType in_dt = binary_is_logical(op) ? DType::Bool : compute;
  if (in_dt == DType::Float16 || in_dt == DType::BFloat16) in_dt = DType::Float32;  // 16-bit floats compute in fp32
  DType out_dt = (binary_is_comparison(op) || binary_is_logical(op)) ? DType::Bool : in_dt;
  // 16-bit floats before prepare(): the chunked and fused paths convert piece by piece, not whole operands
  if (dev.is_cpu() && is_16bit(compute) && out.dtype() == compute && out_dt == DType::Float32 &&
      out.is_contiguous() && out.numel() > kLowpChunk) {
    auto chunkable = [&](const Tensor& t) {
      return (t.is_contiguous() && t.shape() == shape) || t.numel() == 1;
    };
    // bfloat16 add/sub/mul/div (a bfloat16 tensor with a bfloat16 tensor of its shape, or with a number, kept in
    // float32 as torch keeps it): one fused AVX-512 pass (load, float32 op, round, store)
    const bool arith = op == BinaryOp::Add || op == BinaryOp::Sub || op == BinaryOp::Mul || op == BinaryOp::Div;
    const bool b_full = b.dtype() == DType::BFloat16 && b.is_contiguous() && b.shape() == shape;
    if (arith && compute == DType::BFloat16 && a.dtype() == DType::BFloat16 && a.is_contiguous() &&
        a.shape() == shape && (b_full || b.numel() == 1) && gemm_bf16::available()) {
      const float sv = b_full ? 0.0f : (float)b.to(DType::Float64).contiguous().data<double>()[0];
      const auto* pa = reinterpret_cast<const uint16_t*>(a.data<BFloat16>());
      const auto* pb = b_full ? reinterpret_cast<const uint16_t*>(b.data<BFloat16>()) : nullptr;
      auto* po = reinterpret_cast<uint16_t*>(out.data<BFloat16>());
      parallel_for(0, out.numel(), kLowpChunk, [&](int64_t i0, int64_t i1) {
        gemm_bf16::bf16_arith((int)op, pa + i0, pb ? pb + i0 : nullptr, sv, po + i0, i1 - i0);
      });
      return;
    }
    if (chunkable(a) && chunkable(b)) {
      auto piece = [&](const Tensor& t, int64_t s, int64_t len, Tensor& buf) {
        if (t.numel() == 1) return t.to(DType::Float32).reshape(IntList{1}).expand(IntList{len});
        buf.copy_from(flat_range(t, s, len));
        return buf;
      };
      lowp_chunks(out.numel(), 3, [&](int64_t s, int64_t len, Tensor* v) {
        Tensor ca = piece(a, s, len, v[0]), cb = piece(b, s, len, v[1]);
        binary_op.get(dev.type)(op, v[2], ca, cb);
        flat_range(out, s, len).copy_from(v[2]);
      });
      return;
    }
  }
  Tensor pa = prepare(a, shape, in_dt, dev), pb = prepare(b, shape, in_dt, dev);
  if (op == BinaryOp::Pow && !is_floating(in_dt) && in_dt != DType::Bool) {
    // integer powers: negative exponents have no integer result
    Tensor neg = binary(BinaryOp::Lt, pb, scalar_tensor(ScalarArg{ScalarArg::Int, 0, 0}, in_dt), in_dt);
    Tensor nc = neg.to(Device()).contiguous();
    const bool* p = nc.data<bool>();
    for (int64_t i = 0; i < nc.numel(); ++i)
      DLCORE_CHECK(!p[i], RuntimeError, "pow: integers to negative integer powers are not allowed");
  }
  // Write directly when the output has the kernel's dtype and does not partially overlap an input.
  if (out.dtype() == out_dt) {
    binary_op.get(dev.type)(op, out, pa, pb);
  } else {
    Tensor tmp = Tensor::empty(shape, out_dt, dev);
    binary_op.get(dev.type)(op, tmp, pa, pb);
    const_cast<Tensor&>(out).copy_from(tmp);
  }
  if (binary_is_int_div(op) && !is_floating(in_dt) && take_int_div_by_zero_flag())
    DLCORE_THROW(RuntimeError, name, ": integer division by zero");
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b, DType compute) {
  const char* name = binary_op_name(op);
  check_binary_dtypes(op, compute);
  Device dev = common_device(name, {&a, &b});
  IntList shape = broadcast_shapes(a.shape(), b.shape(), name);
  DType out_dt = (binary_is_comparison(op) || binary_is_logical(op)) ? DType::Bool : compute;
  Tensor out = Tensor::empty(shape, out_dt, dev);
  binary_into(op, out, a, b, compute);
  return out;
}

static DType unary_compute_dtype(UnaryOp op, DType in) {
  if (op == UnaryOp::LogicalNot) return DType::Bool;
  if (in == DType::Float16 || in == DType::BFloat16) return DType::Float32;
  if (unary_is_float_only(op) && !is_floating(in)) return DType::Float32;  // exp(int) -> float32, like torch
  return in;
}

static DType unary_out_dtype(UnaryOp op, DType in) {
  if (unary_out_is_bool(op)) return DType::Bool;
  if (unary_is_float_only(op) && !is_floating(in)) return DType::Float32;
  return in;
}

void unary_into(UnaryOp op, const Tensor& out, const Tensor& x, const UnaryParams& p) {
  const char* name = unary_op_name(op);
  Device dev = common_device(name, {&out, &x});
  DLCORE_CHECK(out.shape() == x.shape(), ValueError, name, ": output shape ", out.shape().str(),
               " doesn't match input shape ", x.shape().str());
  if (out.numel() == 0) return;
  DType cdt = unary_compute_dtype(op, x.dtype());
  if (op == UnaryOp::BitwiseNot)
    DLCORE_CHECK(!is_floating(cdt), TypeError, "bitwise_not: not supported for floating-point dtype ",
                 dtype_name(x.dtype()));
  if ((op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Sign || op == UnaryOp::Square) &&
      cdt == DType::Bool)
    DLCORE_THROW(TypeError, name, ": not supported for bool tensors");
  if (op == UnaryOp::Frac && !is_floating(x.dtype()))
    DLCORE_THROW(TypeError, "frac: not supported for dtype ", dtype_name(x.dtype()), " (floating point only)");
  if (op == UnaryOp::PowScalar && !is_floating(cdt) && p.a < 0)
    DLCORE_THROW(RuntimeError, "pow: integers to negative integer powers are not allowed");
  DType kdt = unary_out_is_bool(op) ? DType::Bool : cdt;
  if (dev.is_cpu() && is_16bit(x.dtype()) && out.dtype() == x.dtype() && kdt == DType::Float32 && x.is_contiguous() &&
      out.is_contiguous() && out.numel() > kLowpChunk) {
    lowp_chunks(out.numel(), 2, [&](int64_t s, int64_t len, Tensor* v) {
      v[0].copy_from(flat_range(x, s, len));
      unary_op.get(dev.type)(op, v[1], v[0], p);
      flat_range(out, s, len).copy_from(v[1]);
    });
    return;
  }
  Tensor px = x.dtype() == cdt ? x : x.to(cdt);
  if (out.dtype() == kdt) {
    unary_op.get(dev.type)(op, out, px, p);
  } else {
    Tensor tmp = Tensor::empty(x.shape(), kdt, dev);
    unary_op.get(dev.type)(op, tmp, px, p);
    const_cast<Tensor&>(out).copy_from(tmp);
  }
}

Tensor unary(UnaryOp op, const Tensor& x, const UnaryParams& p) {
  Tensor out = Tensor::empty(x.shape(), unary_out_dtype(op, x.dtype()), x.device());
  unary_into(op, out, x, p);
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  Device dev = common_device("where", {&cond, &a, &b});
  IntList shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  DType dt = result_type(&a, nullptr, &b, nullptr);
  Tensor out = Tensor::empty(shape, dt, dev);
  if (out.numel() == 0) return out;
  Tensor pc = prepare(cond, shape, DType::Bool, dev);
  where_op.get(dev.type)(out, pc, prepare(a, shape, dt, dev), prepare(b, shape, dt, dev));
  return out;
}

}  // namespace dlcore
