// Per-ISA tables of the max-pool loops (internal to the pool family).
#pragma once
#include "ops/pool/pool.h"

namespace dlcore {

// Planes [p0, p1) of a [P, H, W] -> [P, Ho, Wo] problem. [0 = float32, 1 = float64].
struct MaxPoolTable {
  void (*fwd[2])(char* out, int64_t* idx, const char* in, int64_t p0, int64_t p1, int64_t H, int64_t W, int64_t Ho,
                 int64_t Wo, const Pool2dParams& p) = {};
  void (*bwd[2])(char* gin, const char* gout, const char* in, int64_t p0, int64_t p1, int64_t H, int64_t W,
                 int64_t Ho, int64_t Wo, const Pool2dParams& p) = {};
};

namespace scalar { void fill_max_pool_table(MaxPoolTable& t); }
namespace avx2 { void fill_max_pool_table(MaxPoolTable& t); }
namespace avx512 { void fill_max_pool_table(MaxPoolTable& t); }

}  // namespace dlcore
