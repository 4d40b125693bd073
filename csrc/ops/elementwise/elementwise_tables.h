// Per-ISA tables of the CPU elementwise inner loops (internal to the elementwise family).
#pragma once
#include "ops/elementwise/elementwise.h"

namespace dlcore {

// The inner loop over n elements of one row: ptrs[0] is the output, ptrs[1..] the inputs, strides in bytes.
using ElementwiseLoopFn = void(char** ptrs, const int64_t* strides, int64_t n, const UnaryParams* params);

struct ElementwiseTables {
  ElementwiseLoopFn* binary[kNumBinaryOps][kNumDTypes] = {};
  ElementwiseLoopFn* unary[kNumUnaryOps][kNumDTypes] = {};
};

// One per ISA translation unit (elementwise_cpu.cpp, elementwise_avx2.cpp, elementwise_avx512.cpp).
namespace scalar { void fill_elementwise_tables(ElementwiseTables& t); }
namespace avx2 { void fill_elementwise_tables(ElementwiseTables& t); }
namespace avx512 { void fill_elementwise_tables(ElementwiseTables& t); }

}  // namespace dlcore
