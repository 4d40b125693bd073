// The small-k topk threshold scan compiled for avx2 (per-file flags in CMakeLists.txt).
#define DLCORE_ISA_NS avx2
#define DLCORE_VLEN 8
#include "ops/sort/sort_topk.h"
