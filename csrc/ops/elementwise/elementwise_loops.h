// The CPU inner loops of the elementwise family, compiled once per ISA: the including translation unit defines
// DLCORE_ISA_NS (scalar, avx2, avx512) and DLCORE_VLEN (1, 8, 16) and gets fill_elementwise_tables() in
// dlcore::DLCORE_ISA_NS. Contiguous rows use plain loops the compiler vectorises for the file's ISA; float32
// exp/log/tanh/sigmoid/erf/erfinv/atan/sinh/cosh/asin/acos, logaddexp(2) and atan2 use vecmath.h's explicit vector code when
// DLCORE_VLEN > 1 (the scalar build keeps libm as the reference). Everything here is inside the ISA namespace (one
// copy per ISA, no ODR clash).
#pragma once
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "ops/elementwise/elementwise_tables.h"
#if DLCORE_VLEN > 1
#include "ops/elementwise/vecmath.h"
#endif

namespace dlcore::DLCORE_ISA_NS {

template <BinaryOp OP, class T>
constexpr bool binary_supported() {
  if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) return false;
  else if constexpr (OP == BinaryOp::Div || binary_is_float_only(OP)) return std::is_floating_point_v<T>;
  else if constexpr (OP == BinaryOp::Sub || OP == BinaryOp::Pow || binary_is_int_div(OP))
    return !std::is_same_v<T, bool>;
  else if constexpr (OP == BinaryOp::LogicalAnd || OP == BinaryOp::LogicalOr || OP == BinaryOp::LogicalXor) return std::is_same_v<T, bool>;
  else if constexpr (OP == BinaryOp::BitwiseAnd || OP == BinaryOp::BitwiseOr || OP == BinaryOp::BitwiseXor)
    return !std::is_floating_point_v<T>;
  else return true;
}

#if DLCORE_VLEN > 1
template <BinaryOp OP>
constexpr bool binary_has_vec() {
#if defined(DLCORE_HAVE_VPOW)
  if (OP == BinaryOp::Pow) return true;
#endif
  return OP == BinaryOp::LogAddExp || OP == BinaryOp::LogAddExp2 || OP == BinaryOp::Atan2 || OP == BinaryOp::Hypot;
}
template <BinaryOp OP>
DLCORE_ALWAYS_INLINE vf binary_vec(vf a, vf b) {
  if constexpr (OP == BinaryOp::Atan2) return vatan2(a, b);
  else if constexpr (OP == BinaryOp::Hypot) return vhypot(a, b);
#if defined(DLCORE_HAVE_VPOW)
  else if constexpr (OP == BinaryOp::Pow) return vpowf(a, b);
#endif
  else return vlogaddexp<OP == BinaryOp::LogAddExp2>(a, b);
}
#endif

template <BinaryOp OP, class T>
void binary_loop(char** p, const int64_t* s, int64_t n, const UnaryParams*) {
  using Out = decltype(binary_apply<OP, T>(T(), T()));
  constexpr int64_t so = sizeof(Out), st = sizeof(T);
  Out* o = reinterpret_cast<Out*>(p[0]);
  const T* a = reinterpret_cast<const T*>(p[1]);
  const T* b = reinterpret_cast<const T*>(p[2]);
#if DLCORE_VLEN > 1
  if constexpr (std::is_same_v<T, float> && binary_has_vec<OP>()) {
    // contiguous rows with either operand possibly a broadcast scalar (stride 0)
    if (s[0] == so && (s[1] == st || s[1] == 0) && (s[2] == st || s[2] == 0)) {
      const bool ca = s[1] != 0, cb = s[2] != 0;
      int64_t i = 0;
      for (; i + kVLen <= n; i += kVLen)
        vstore(o + i, binary_vec<OP>(ca ? vload(a + i) : vsplat(*a), cb ? vload(b + i) : vsplat(*b)));
      if (i < n) {  // tail through padded vectors (every element gets the same formula)
        float ba[kVLen] = {}, bb[kVLen] = {};
        for (int64_t j = i; j < n; ++j) {
          ba[j - i] = ca ? a[j] : *a;
          bb[j - i] = cb ? b[j] : *b;
        }
        vstore(ba, binary_vec<OP>(vload(ba), vload(bb)));
        std::memcpy(o + i, ba, (n - i) * sizeof(float));
      }
      return;
    }
  }
#endif
  if constexpr (binary_is_int_div(OP) && !std::is_floating_point_v<T>) {
    // Integer division: detect zero divisors (the result is 0 there and the op raises afterwards).
    for (int64_t i = 0; i < n; ++i) {
      T bv = *reinterpret_cast<const T*>(p[2] + i * s[2]);
      if (bv == T(0)) set_int_div_by_zero_flag();
      *reinterpret_cast<Out*>(p[0] + i * s[0]) =
          binary_apply<OP, T>(*reinterpret_cast<const T*>(p[1] + i * s[1]), bv);
    }
    return;
  }
  if (s[0] == so && s[1] == st && s[2] == st) {
    for (int64_t i = 0; i < n; ++i) o[i] = binary_apply<OP, T>(a[i], b[i]);
  } else if (s[0] == so && s[1] == st && s[2] == 0) {
    const T bv = *b;
    for (int64_t i = 0; i < n; ++i) o[i] = binary_apply<OP, T>(a[i], bv);
  } else if (s[0] == so && s[1] == 0 && s[2] == st) {
    const T av = *a;
    for (int64_t i = 0; i < n; ++i) o[i] = binary_apply<OP, T>(av, b[i]);
  } else if (s[0] == so && s[1] == 0 && s[2] == 0) {  // both broadcast (sum()'s gradient times a scalar): one value
    std::fill(o, o + n, binary_apply<OP, T>(*a, *b));
  } else {
    for (int64_t i = 0; i < n; ++i)
      *reinterpret_cast<Out*>(p[0] + i * s[0]) = binary_apply<OP, T>(*reinterpret_cast<const T*>(p[1] + i * s[1]),
                                                                      *reinterpret_cast<const T*>(p[2] + i * s[2]));
  }
}

template <UnaryOp OP, class T>
constexpr bool unary_supported() {
  if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) return false;
  else if constexpr (unary_is_float_only(OP)) return std::is_floating_point_v<T>;
  else if constexpr (OP == UnaryOp::IsNan || OP == UnaryOp::IsInf || OP == UnaryOp::IsFinite ||
                     OP == UnaryOp::SignBit)
    return true;
  else if constexpr (OP == UnaryOp::NanToNum) return std::is_floating_point_v<T>;  // (integers: the caller copies)
  else if constexpr (OP == UnaryOp::LogicalNot) return std::is_same_v<T, bool>;
  else if constexpr (OP == UnaryOp::BitwiseNot) return !std::is_floating_point_v<T>;
  else return !std::is_same_v<T, bool>;
}

#if DLCORE_VLEN > 1
template <UnaryOp OP>
constexpr bool unary_has_vec() {
  return OP == UnaryOp::Exp || OP == UnaryOp::Log || OP == UnaryOp::Tanh || OP == UnaryOp::Sigmoid ||
         OP == UnaryOp::Erf || OP == UnaryOp::Atan || OP == UnaryOp::Sinh || OP == UnaryOp::Cosh ||
         OP == UnaryOp::Asin || OP == UnaryOp::Acos || OP == UnaryOp::Erfinv || OP == UnaryOp::Log1p ||
         OP == UnaryOp::Expm1 || OP == UnaryOp::Log2 || OP == UnaryOp::Log10 || OP == UnaryOp::Exp2 ||
         OP == UnaryOp::Floor || OP == UnaryOp::Ceil || OP == UnaryOp::Trunc || OP == UnaryOp::Frac ||
         OP == UnaryOp::Sin || OP == UnaryOp::Cos || OP == UnaryOp::Atanh || OP == UnaryOp::Tan || OP == UnaryOp::Logit;
}
template <UnaryOp OP>
DLCORE_ALWAYS_INLINE vf unary_vec(vf x, const UnaryParams& P) {
  if constexpr (OP == UnaryOp::Logit) {  // logit_of: clamped to [eps, 1 - eps] when an eps is given (NaN kept)
    if (P.has_a) {
      const vf lo = vsplat((float)P.a), hi = vsplat(1.0f - (float)P.a);
      x = vselect(x < lo, lo, vselect(x > hi, hi, x));
    }
    return vlog(x / (1.0f - x));
  } else if constexpr (OP == UnaryOp::Exp) return vexp(x);
  else if constexpr (OP == UnaryOp::Log) return vlog(x);
  else if constexpr (OP == UnaryOp::Tanh) return vtanh(x);
  else if constexpr (OP == UnaryOp::Sigmoid) return vsigmoid(x);
  else if constexpr (OP == UnaryOp::Atan) return vatan(x);
  else if constexpr (OP == UnaryOp::Sinh) return vsinh(x);
  else if constexpr (OP == UnaryOp::Cosh) return vcosh(x);
  else if constexpr (OP == UnaryOp::Asin) return vasin(x);
  else if constexpr (OP == UnaryOp::Acos) return vacos(x);
  else if constexpr (OP == UnaryOp::Erfinv) return verfinv(x);
  else if constexpr (OP == UnaryOp::Log1p) return vlog1p(x);
  else if constexpr (OP == UnaryOp::Expm1) return vexpm1(x);
  else if constexpr (OP == UnaryOp::Log2) return vlog2(x);
  else if constexpr (OP == UnaryOp::Log10) return vlog10(x);
  else if constexpr (OP == UnaryOp::Exp2) return vexp2(x);
  else if constexpr (OP == UnaryOp::Floor) return vfloor(x);
  else if constexpr (OP == UnaryOp::Ceil) return vceil(x);
  else if constexpr (OP == UnaryOp::Trunc) return vtrunc(x);
  else if constexpr (OP == UnaryOp::Frac) return x - vtrunc(x);
  else if constexpr (OP == UnaryOp::Sin) return vsincos<false>(x);
  else if constexpr (OP == UnaryOp::Cos) return vsincos<true>(x);
  else if constexpr (OP == UnaryOp::Atanh) return vatanh(x);
  else if constexpr (OP == UnaryOp::Tan) return vtan(x);
  else return verf(x);
}
#endif

template <UnaryOp OP, class T>
void unary_loop(char** p, const int64_t* s, int64_t n, const UnaryParams* prm) {
  using Out = decltype(unary_apply<OP, T>(T(), *prm));
  const UnaryParams P = *prm;
  if (s[0] == (int64_t)sizeof(Out) && s[1] == (int64_t)sizeof(T)) {
    Out* o = reinterpret_cast<Out*>(p[0]);
    const T* x = reinterpret_cast<const T*>(p[1]);
#if DLCORE_VLEN > 1
    if constexpr (std::is_same_v<T, float> && unary_has_vec<OP>()) {
      int64_t i = 0;
      for (; i + kVLen <= n; i += kVLen) vstore(o + i, unary_vec<OP>(vload(x + i), P));
      if (i < n) {  // tail through a padded vector, so every element gets the same formula
        float buf[kVLen] = {};
        std::memcpy(buf, x + i, (n - i) * sizeof(float));
        vstore(buf, unary_vec<OP>(vload(buf), P));
        std::memcpy(o + i, buf, (n - i) * sizeof(float));
      }
      return;
    }
#endif
    if constexpr (OP == UnaryOp::Clamp && std::is_same_v<Out, T>) {
      // unary_apply's clamp with the bounds' presence hoisted out of the loop: x < lo ? lo : x keeps a NaN x (the
      // compare is false) without its own test, so the loops vectorise (vmaxps(lo, x) / vminps(hi, x) for floats).
      // [256,1000] float32 clamp(-0.5, 0.5), 1 thread: 159 -> 21 us (torch 22).
      const T lo = (T)P.a, hi = (T)P.b;
      if (P.has_a && P.has_b) {
        for (int64_t i = 0; i < n; ++i) {
          const T r = x[i] < lo ? lo : x[i];
          o[i] = r > hi ? hi : r;
        }
      } else if (P.has_a) {
        for (int64_t i = 0; i < n; ++i) o[i] = x[i] < lo ? lo : x[i];
      } else {
        for (int64_t i = 0; i < n; ++i) o[i] = x[i] > hi ? hi : x[i];
      }
      return;
    }
    if constexpr (OP == UnaryOp::PowScalar && std::is_floating_point_v<T>) {
      // pow_scalar's special exponents as loops of their own with the exponent a constant (its tests fold away and
      // the loop vectorises; with the exponent a variable they stay per element)
      const T e = (T)P.a;
      auto run = [&](auto ec) {
        for (int64_t i = 0; i < n; ++i) o[i] = pow_scalar(x[i], (T)decltype(ec)::value);
      };
      if (e == T(2)) return run(std::integral_constant<int, 2>{});
      if (e == T(3)) return run(std::integral_constant<int, 3>{});
      if (e == T(-1)) return run(std::integral_constant<int, -1>{});
      if (e == T(-2)) return run(std::integral_constant<int, -2>{});
      if (e == T(0.5)) {
        for (int64_t i = 0; i < n; ++i) o[i] = pow_scalar(x[i], T(0.5));
        return;
      }
#if defined(DLCORE_HAVE_VPOW)
      // any other finite exponent (not 0 or 1, which pow_scalar keeps exact): the vector power (vecmath.h)
      if constexpr (std::is_same_v<T, float>) {
        if (e == e && e != T(0) && e != T(1) && std::fabs(e) < T(1e30)) {
          int64_t i = 0;
          for (; i + kVLen <= n; i += kVLen) vstore(o + i, vpowf(vload(x + i), e));
          if (i < n) {  // tail through a padded vector: every element gets the same formula
            float buf[kVLen];
            for (int l = 0; l < kVLen; ++l) buf[l] = 1.0f;
            std::memcpy(buf, x + i, (n - i) * sizeof(float));
            vstore(buf, vpowf(vload(buf), e));
            std::memcpy(o + i, buf, (n - i) * sizeof(float));
          }
          return;
        }
      }
#endif
    }
    for (int64_t i = 0; i < n; ++i) o[i] = unary_apply<OP, T>(x[i], P);
  } else if (s[0] == (int64_t)sizeof(Out) && s[1] == 0) {
    // one value broadcast (e.g. the ones of sum()'s gradient through neg in a backward): computed once, then a fill
    // (the strided loop below recomputed it per element, 0.25 ns each: half of a small backward)
    std::fill(reinterpret_cast<Out*>(p[0]), reinterpret_cast<Out*>(p[0]) + n,
              unary_apply<OP, T>(*reinterpret_cast<const T*>(p[1]), P));
  } else {
    for (int64_t i = 0; i < n; ++i)
      *reinterpret_cast<Out*>(p[0] + i * s[0]) = unary_apply<OP, T>(*reinterpret_cast<const T*>(p[1] + i * s[1]), P);
  }
}

template <class T, int OPI>
void fill_binary_for_type(ElementwiseTables& t) {
  if constexpr (OPI < kNumBinaryOps) {
    constexpr BinaryOp OP = (BinaryOp)OPI;
    if constexpr (binary_supported<OP, T>()) t.binary[OPI][(int)dtype_of<T>::value] = &binary_loop<OP, T>;
    fill_binary_for_type<T, OPI + 1>(t);
  }
}

template <class T, int OPI>
void fill_unary_for_type(ElementwiseTables& t) {
  if constexpr (OPI < kNumUnaryOps) {
    constexpr UnaryOp OP = (UnaryOp)OPI;
    if constexpr (unary_supported<OP, T>()) t.unary[OPI][(int)dtype_of<T>::value] = &unary_loop<OP, T>;
    fill_unary_for_type<T, OPI + 1>(t);
  }
}

template <class T>
void fill_for_type(ElementwiseTables& t) {
  fill_binary_for_type<T, 0>(t);
  fill_unary_for_type<T, 0>(t);
}

void fill_elementwise_tables(ElementwiseTables& t) {
  fill_for_type<bool>(t);
  fill_for_type<uint8_t>(t);
#if DLCORE_VLEN == 1
  // int8/int16: the portable loops only (the compiler's SSE2 vectorization); the AVX2/AVX-512 tables fall back to
  // these entries. They are rare dtypes here, and each ISA copy of every op's loop costs build time.
  fill_for_type<int8_t>(t);
  fill_for_type<int16_t>(t);
#endif
  fill_for_type<int32_t>(t);
  fill_for_type<int64_t>(t);
  fill_for_type<float>(t);
  fill_for_type<double>(t);
}

}  // namespace dlcore::DLCORE_ISA_NS
