// Per-ISA tables of the softmax and cross-entropy loops (internal to the softmax_loss family).
#pragma once
#include "ops/softmax_loss/softmax_loss.h"

namespace dlcore {

// [log][0 = float32, 1 = float64]; each entry loops over the whole [O, R, I] problem (and threads itself).
struct SoftmaxTable {
  void (*fwd[2][2])(char* y, const char* x, int64_t O, int64_t R, int64_t I) = {};
  void (*bwd[2][2])(char* gx, const char* g, const char* y, int64_t O, int64_t R, int64_t I) = {};
  // logits [N, C]; target int64 [N]; w [C] or null. Writes loss, wt, lse [N].
  void (*ce_fwd[2])(char* loss, char* wt, char* lse, const char* x, const int64_t* target, const char* w,
                    int64_t N, int64_t C, const CrossEntropyArgs& a) = {};
  void (*ce_bwd[2])(char* gx, const char* g, int64_t gstride, double scale, const char* x, const char* lse,
                    const int64_t* target, const char* w, int64_t N, int64_t C, const CrossEntropyArgs& a) = {};
  // float32 binary cross-entropy (logits = true: with logits) over elements [i0, i1) (vector ISAs only; null in the
  // scalar table). fwd: o = loss; bwd: o = dloss/dx * scale * g[i * gs] (g may be null: 1). w, pw may be null.
  void (*bce_fwd[2])(float* o, const float* x, const float* y, const float* w, const float* pw, int64_t i0,
                     int64_t i1) = {};
  void (*bce_bwd[2])(float* o, const float* g, int64_t gs, float scale, const float* x, const float* y,
                     const float* w, const float* pw, int64_t i0, int64_t i1) = {};
};

namespace scalar { void fill_softmax_table(SoftmaxTable& t); }
namespace avx2 { void fill_softmax_table(SoftmaxTable& t); }
namespace avx512 { void fill_softmax_table(SoftmaxTable& t); }

const SoftmaxTable& softmax_table();  // the active ISA's table

}  // namespace dlcore
