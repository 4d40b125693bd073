// Per-ISA tables of the activation inner loops (internal to the activation family).
#pragma once
#include "ops/activation/activation.h"

namespace dlcore {

// [act][0 = float32, 1 = float64]; each loop handles n contiguous elements (one thread's chunk).
struct ActTable {
  void (*fwd[kNumActs][2])(char* y, const char* x, int64_t n, const ActParams& p) = {};
  // g_bcast: g is one value for all n elements
  void (*bwd[kNumActs][2])(char* gx, const char* g, bool g_bcast, const char* s, int64_t n, const ActParams& p) = {};
  // sum_i g[i] min(x[i], 0) over n contiguous elements (prelu's weight gradient), accumulated in the element type
  // per lane and returned in double
  double (*neg_dot[2])(const char* g, const char* x, int64_t n) = {};
  // glu over n contiguous elements of each half: y = a sigmoid(b); backward ga = g s, gb = g a s (1 - s)
  void (*glu_fwd[2])(char* y, const char* a, const char* b, int64_t n) = {};
  void (*glu_bwd[2])(char* ga, char* gb, const char* g, const char* a, const char* b, int64_t n) = {};
};

namespace scalar { void fill_activation_table(ActTable& t); }
namespace avx2 { void fill_activation_table(ActTable& t); }
namespace avx512 { void fill_activation_table(ActTable& t); }

}  // namespace dlcore
