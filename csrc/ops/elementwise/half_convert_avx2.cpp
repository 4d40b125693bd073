// float32 <-> float16 conversions with F16C (vcvtps2ph / vcvtph2ps: IEEE round to nearest even, denormals, inf and
// NaN as the hardware converts them), 8 lanes at a time. Compiled with the AVX2 flags (-mf16c); the copy kernel
// calls them only where cpuid reports F16C and the active ISA is avx2 or higher (elementwise_cpu.cpp), so a pinned
// DLCORE_ISA=scalar keeps the portable conversion of core/dtype.h in use and tested.
#include "core/dtype.h"
#include "core/x86_intrin.h"
#include "ops/elementwise/half_convert.h"

namespace dlcore::half_cvt {

void f32_to_f16(const float* src, uint16_t* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128((__m128i*)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) dst[i] = Half(src[i]).bits;
}

void f16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(src + i))));
  for (; i < n; ++i) dst[i] = Half::to_float(src[i]);
}

}  // namespace dlcore::half_cvt
