// Per-ISA tables of the batch-norm loops (internal to the norm family).
#pragma once
#include "ops/norm/norm.h"

namespace dlcore {

// Pointers may be null for absent optional tensors. [0 = float32, 1 = float64]. Each entry threads itself.
struct BatchNormTable {
  void (*fwd[2])(char* y, char* save_mean, char* save_invstd, const char* x, const char* w, const char* b,
                 char* running_mean, char* running_var, int64_t N, int64_t C, int64_t S, const BatchNormArgs& a) = {};
  void (*bwd[2])(char* gx, char* gw, char* gb, const char* g, const char* x, const char* w, const char* mean,
                 const char* invstd, int64_t N, int64_t C, int64_t S, bool training) = {};
  // layer_norm over rows: x, y [R, D]; w, b [D] or null; mean, rstd [R] (written by the forward).
  void (*ln_fwd[2])(char* y, char* mean, char* rstd, const char* x, const char* w, const char* b, int64_t R,
                    int64_t D, double eps) = {};
  // gx [R, D]; gw, gb [D] or null (not wanted).
  void (*ln_bwd[2])(char* gx, char* gw, char* gb, const char* g, const char* x, const char* w, const char* mean,
                    const char* rstd, int64_t R, int64_t D) = {};
};

namespace scalar { void fill_batch_norm_table(BatchNormTable& t); }
namespace avx2 { void fill_batch_norm_table(BatchNormTable& t); }
namespace avx512 { void fill_batch_norm_table(BatchNormTable& t); }

}  // namespace dlcore
