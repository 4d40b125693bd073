// The CTC row kernels compiled for avx2 (per-file flags in CMakeLists.txt).
#define DLCORE_ISA_NS avx2
#define DLCORE_VLEN 8
#include "ops/softmax_loss/ctc_loops.h"
