// The CTC row kernels compiled for avx512 (per-file flags in CMakeLists.txt).
#define DLCORE_ISA_NS avx512
#define DLCORE_VLEN 16
#include "ops/softmax_loss/ctc_loops.h"
