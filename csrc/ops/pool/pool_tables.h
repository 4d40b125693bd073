// Per-ISA tables of the pooling loops (internal to the pool family).
#pragma once
#include "ops/pool/pool.h"

namespace dlcore {

// Planes [p0, p1) of a [P, H, W] -> [P, Ho, Wo] problem. [0 = float32, 1 = float64].
struct PoolTable {
  void (*fwd[2])(char* out, int64_t* idx, const char* in, int64_t p0, int64_t p1, int64_t H, int64_t W, int64_t Ho,
                 int64_t Wo, const Pool2dParams& p) = {};
  void (*bwd[2])(char* gin, const char* gout, const char* in, int64_t p0, int64_t p1, int64_t H, int64_t W,
                 int64_t Ho, int64_t Wo, const Pool2dParams& p) = {};
  // average pooling (adaptive: p unused, the windows are adaptive_start/end's)
  void (*avg_fwd[2])(char* out, const char* in, int64_t p0, int64_t p1, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                     const Pool2dParams& p) = {};
  void (*avg_bwd[2])(char* gin, const char* gout, int64_t p0, int64_t p1, int64_t H, int64_t W, int64_t Ho,
                     int64_t Wo, const Pool2dParams& p) = {};
  void (*adaptive_fwd[2])(char* out, const char* in, int64_t p0, int64_t p1, int64_t H, int64_t W, int64_t Ho,
                          int64_t Wo, const Pool2dParams& p) = {};
  void (*adaptive_bwd[2])(char* gin, const char* gout, int64_t p0, int64_t p1, int64_t H, int64_t W, int64_t Ho,
                          int64_t Wo, const Pool2dParams& p) = {};
};

namespace scalar { void fill_pool_table(PoolTable& t); }
namespace avx2 { void fill_pool_table(PoolTable& t); }
namespace avx512 { void fill_pool_table(PoolTable& t); }

}  // namespace dlcore
