#include "core/dtype.h"

namespace dlcore {

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  // Order of "width" inside each category, and the cross-category rules of PyTorch.
  int ca = dtype_category(a), cb = dtype_category(b);
  if (ca != cb) {
    DType hi = ca > cb ? a : b;
    return hi;  // bool < integer < floating: the higher category's type wins
  }
  if (ca == 1) {  // integers: the wider; uint8 with int8 gives int16 (the smallest type holding both)
    if ((a == DType::UInt8 && b == DType::Int8) || (a == DType::Int8 && b == DType::UInt8)) return DType::Int16;
    auto rank = [](DType d) {
      switch (d) {
        case DType::UInt8: case DType::Int8: return 0;
        case DType::Int16: return 1;
        case DType::Int32: return 2;
        default: return 3;
      }
    };
    return rank(a) >= rank(b) ? a : b;
  }
  // floating: float16 with bfloat16 -> float32, otherwise the wider
  if ((a == DType::Float16 && b == DType::BFloat16) || (a == DType::BFloat16 && b == DType::Float16))
    return DType::Float32;
  auto rank = [](DType d) { return d == DType::Float64 ? 3 : d == DType::Float32 ? 2 : 1; };
  return rank(a) >= rank(b) ? a : b;
}

}  // namespace dlcore
