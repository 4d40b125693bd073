// Per-ISA entry points of the dropout loop (internal to the dropout family).
#pragma once
#include "ops/dropout/dropout.h"

namespace dlcore {
namespace scalar { void dropout_entry(char* y, const char* x, int64_t n, bool f64, const DropoutArgs& a); }
namespace avx2 { void dropout_entry(char* y, const char* x, int64_t n, bool f64, const DropoutArgs& a); }
namespace avx512 { void dropout_entry(char* y, const char* x, int64_t n, bool f64, const DropoutArgs& a); }
}  // namespace dlcore
