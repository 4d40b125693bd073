// Element types. float16/bfloat16 are storage types (casts, copies, interop; arithmetic computes in float32).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "core/common.h"
#include "core/errors.h"

namespace dlcore {

// Int8 and Int16 came later: they take the next codes so the earlier ones (serialized, and in the Python layer's
// tables) keep their values.
enum class DType : int8_t { Bool = 0, UInt8, Int32, Int64, Float16, BFloat16, Float32, Float64, Int8, Int16 };
constexpr int kNumDTypes = 10;

// 16-bit float storage types with conversions through float32 (round to nearest even).
struct Half {
  uint16_t bits;
  Half() = default;
  DLCORE_HOSTDEV explicit Half(float f) : bits(from_float(f)) {}
  DLCORE_HOSTDEV operator float() const { return to_float(bits); }
  static DLCORE_HOSTDEV float to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
      if (man == 0) {
        bits = sign;
      } else {  // subnormal: renormalise
        int e = -1;
        do { man <<= 1; ++e; } while (!(man & 0x400));
        bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
      }
    } else if (exp == 31) {
      bits = sign | 0x7f800000u | (man << 13);
    } else {
      bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  static DLCORE_HOSTDEV uint16_t from_float(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));  // inf / nan
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);                                     // overflow
    if (ax < 0x38800000u) {  // result is subnormal or zero
      if (ax < 0x33000000u) return (uint16_t)sign;
      uint32_t e = ax >> 23;
      uint32_t man = (ax & 0x7fffff) | 0x800000;
      uint32_t shift = 126 - e;  // 14 + (113 - e)
      uint32_t r = man >> shift;
      uint32_t rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
      if (rem > half || (rem == half && (r & 1))) ++r;
      return (uint16_t)(sign | r);
    }
    uint32_t r = ax - 0x38000000u;  // rebias exponent 127 -> 15
    uint32_t rounded = (r + 0xfff + ((r >> 13) & 1)) >> 13;
    return (uint16_t)(sign | rounded);
  }
};

struct BFloat16 {
  uint16_t bits;
  BFloat16() = default;
  DLCORE_HOSTDEV explicit BFloat16(float f) : bits(from_float(f)) {}
  DLCORE_HOSTDEV operator float() const { return to_float(bits); }
  static DLCORE_HOSTDEV float to_float(uint16_t b) {
    uint32_t x = (uint32_t)b << 16;
    float f;
    std::memcpy(&f, &x, 4);
    return f;
  }
  static DLCORE_HOSTDEV uint16_t from_float(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);  // quiet nan
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
  }
};

inline std::size_t itemsize(DType d) {
  switch (d) {
    case DType::Bool: case DType::UInt8: case DType::Int8: return 1;
    case DType::Int16: case DType::Float16: case DType::BFloat16: return 2;
    case DType::Int32: case DType::Float32: return 4;
    case DType::Int64: case DType::Float64: return 8;
  }
  return 0;
}

inline const char* dtype_name(DType d) {
  switch (d) {
    case DType::Bool: return "bool";
    case DType::UInt8: return "uint8";
    case DType::Int8: return "int8";
    case DType::Int16: return "int16";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::Float16: return "float16";
    case DType::BFloat16: return "bfloat16";
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
  }
  return "?";
}

inline bool is_floating(DType d) {
  return d == DType::Float16 || d == DType::BFloat16 || d == DType::Float32 || d == DType::Float64;
}
inline bool is_integral(DType d, bool include_bool = false) {
  return d == DType::UInt8 || d == DType::Int8 || d == DType::Int16 || d == DType::Int32 || d == DType::Int64 ||
         (include_bool && d == DType::Bool);
}
// 0 bool, 1 integer, 2 floating: the type-promotion category.
inline int dtype_category(DType d) { return d == DType::Bool ? 0 : (is_floating(d) ? 2 : 1); }

// PyTorch's promote_types for the dtypes dlcore has.
DType promote_types(DType a, DType b);

template <class T> struct dtype_of;
template <> struct dtype_of<bool> { static constexpr DType value = DType::Bool; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::UInt8; };
template <> struct dtype_of<int8_t> { static constexpr DType value = DType::Int8; };
template <> struct dtype_of<int16_t> { static constexpr DType value = DType::Int16; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::Int32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<Half> { static constexpr DType value = DType::Float16; };
template <> struct dtype_of<BFloat16> { static constexpr DType value = DType::BFloat16; };
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };

// The type arithmetic is done in: float32 for the 16-bit floats, the type itself otherwise.
template <class T> struct compute_type { using type = T; };
template <> struct compute_type<Half> { using type = float; };
template <> struct compute_type<BFloat16> { using type = float; };

template <class T> struct TypeTag { using type = T; };

// Calls fn(TypeTag<T>{}) for the C++ type of d. fn is a generic lambda: [&](auto tag) { using T = ...; }.
template <class Fn>
decltype(auto) dispatch_dtype(DType d, const char* op, Fn&& fn) {
  switch (d) {
    case DType::Bool: return fn(TypeTag<bool>{});
    case DType::UInt8: return fn(TypeTag<uint8_t>{});
    case DType::Int8: return fn(TypeTag<int8_t>{});
    case DType::Int16: return fn(TypeTag<int16_t>{});
    case DType::Int32: return fn(TypeTag<int32_t>{});
    case DType::Int64: return fn(TypeTag<int64_t>{});
    case DType::Float16: return fn(TypeTag<Half>{});
    case DType::BFloat16: return fn(TypeTag<BFloat16>{});
    case DType::Float32: return fn(TypeTag<float>{});
    case DType::Float64: return fn(TypeTag<double>{});
  }
  DLCORE_THROW(TypeError, op, ": unsupported dtype");
}

// The same for float32/float64 only (kernels that exist only for the two compute types).
template <class Fn>
decltype(auto) dispatch_float(DType d, const char* op, Fn&& fn) {
  switch (d) {
    case DType::Float32: return fn(TypeTag<float>{});
    case DType::Float64: return fn(TypeTag<double>{});
    default: break;
  }
  DLCORE_THROW(TypeError, op, ": expected a float32 or float64 tensor, got ", dtype_name(d));
}

}  // namespace dlcore
