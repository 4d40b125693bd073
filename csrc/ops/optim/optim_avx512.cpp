// The optimizer update loops compiled for AVX-512 (per-file flags in CMakeLists.txt).
#define DLCORE_ISA_NS avx512
#include "ops/optim/optim_loops.h"
