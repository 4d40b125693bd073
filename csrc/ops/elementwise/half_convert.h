// float32 <-> float16 with F16C (half_convert_avx2.cpp): only where cpu_features().f16c and the active ISA is avx2
// or higher.
#pragma once
#include <cstdint>

namespace dlcore::half_cvt {
void f32_to_f16(const float* src, uint16_t* dst, int64_t n);
void f16_to_f32(const uint16_t* src, float* dst, int64_t n);
}  // namespace dlcore::half_cvt
