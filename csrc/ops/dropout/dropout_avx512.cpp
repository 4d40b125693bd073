// The dropout loop compiled for avx512 (per-file flags in CMakeLists.txt).
#define DLCORE_ISA_NS avx512
#define DLCORE_VLEN 16
#include "ops/dropout/dropout_loops.h"
#include "ops/dropout/dropout_tables.h"

namespace dlcore::avx512 {
void dropout_entry(char* y, const char* x, int64_t n, bool f64, const DropoutArgs& a) { dropout_run(y, x, n, f64, a); }
}  // namespace dlcore::avx512
