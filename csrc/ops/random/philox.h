// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a counter-based generator.
// Element i of a random tensor depends only on (seed, offset, i), so CPU and CUDA kernels produce the same
// numbers for the same seed, in any thread order, and dropout can regenerate a mask instead of storing it.
#pragma once
#include <cmath>
#include <cstdint>

#include "core/common.h"

namespace dlcore {

struct Philox4 {
  uint32_t x[4];
};

DLCORE_HOSTDEV uint32_t mulhilo32(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = (uint64_t)a * (uint64_t)b;
  *hi = (uint32_t)(p >> 32);
  return (uint32_t)p;
}

// 4 random 32-bit words for counter (c0..c3) and key (k0, k1).
DLCORE_HOSTDEV Philox4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
  const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  DLCORE_UNROLL_N(10)
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo32(M0, c0, &hi0);
    uint32_t lo1 = mulhilo32(M1, c2, &hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += W0;
    k1 += W1;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// Word j (0..3) of b, selected without a dynamic array index (which would put b in local memory on a GPU).
DLCORE_HOSTDEV uint32_t philox_word(const Philox4& b, int j) {
  return j == 0 ? b.x[0] : j == 1 ? b.x[1] : j == 2 ? b.x[2] : b.x[3];
}

// The 4 words for block `counter` (a 64-bit block index) of stream (seed, subsequence).
DLCORE_HOSTDEV Philox4 philox_block(uint64_t seed, uint64_t subsequence, uint64_t counter) {
  return philox4x32_10((uint32_t)counter, (uint32_t)(counter >> 32), (uint32_t)subsequence,
                       (uint32_t)(subsequence >> 32), (uint32_t)seed, (uint32_t)(seed >> 32));
}

// Uniform in [0, 1) with 24 random bits (float) or 53 (double, from two words).
DLCORE_HOSTDEV float uniform_float(uint32_t w) { return (float)(w >> 8) * (1.0f / 16777216.0f); }
DLCORE_HOSTDEV double uniform_double(uint32_t w0, uint32_t w1) {
  uint64_t v = ((uint64_t)w0 << 21) ^ (uint64_t)(w1 >> 11);
  return (double)(v & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}
// Uniform in (0, 1], for logarithms.
DLCORE_HOSTDEV float uniform_float_open0(uint32_t w) { return ((float)(w >> 8) + 1.0f) * (1.0f / 16777216.0f); }

// The standard normal pair from two uniforms in (0, 1] and [0, 1) (Box-Muller).
DLCORE_HOSTDEV void box_muller(double u1, double u2, double* z0, double* z1) {
  double r = std::sqrt(-2.0 * std::log(u1));
  double t = 6.283185307179586 * u2;
  *z0 = r * std::cos(t);
  *z1 = r * std::sin(t);
}

// Element i of a float32 uniform tensor: block i / 4, word i % 4.
DLCORE_HOSTDEV float philox_uniform_f32(uint64_t seed, uint64_t offset, uint64_t i) {
  Philox4 b = philox_block(seed, 0, offset + i / 4);
  return uniform_float(b.x[i % 4]);
}

}  // namespace dlcore
