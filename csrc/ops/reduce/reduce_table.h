// Per-ISA tables of the CPU reduction kernels (internal to the reduce family).
#pragma once
#include "ops/reduce/reduce.h"

namespace dlcore {

using ReduceLoopFn = void(const char* in, char* out, int64_t O, int64_t R, int64_t I);
struct ReduceTable {
  ReduceLoopFn* fn[kNumReduceOps][kNumDTypes] = {};
  // sum of x[i]^2 over a contiguous float32 run, accumulated in double (the fused 2-norm of sumsq_rows)
  double (*sumsq_row_f32)(const float* x, int64_t n) = nullptr;
};
namespace scalar { void fill_reduce_table(ReduceTable& t); }
namespace avx2 { void fill_reduce_table(ReduceTable& t); }
namespace avx512 { void fill_reduce_table(ReduceTable& t); }

}  // namespace dlcore
