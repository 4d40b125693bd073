// The small-k topk threshold scan compiled for avx512 (per-file flags in CMakeLists.txt).
#define DLCORE_ISA_NS avx512
#define DLCORE_VLEN 16
#include "ops/sort/sort_topk.h"
