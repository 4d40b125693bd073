// The optimizer update loops compiled for AVX2 + FMA (per-file flags in CMakeLists.txt).
#define DLCORE_ISA_NS avx2
#include "ops/optim/optim_loops.h"
