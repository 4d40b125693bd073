// CTC loss (Graves et al. 2006), CPU: forward (negative log-likelihood per sample) and torch's gradient.
//
// log_probs lp [T, N, C] (contiguous, float32 or float64; log-probabilities, normally log_softmax outputs);
// sample n has input length T_n <= T and a target l = (l_1 .. l_L), L = target length, labels in [0, C).
// Extended target l' = (blank, l_1, blank, l_2, ..., l_L, blank), S' = 2L + 1 positions s.
//   alpha_0(0) = lp[0, blank], alpha_0(1) = lp[0, l_1], alpha_0(s > 1) = -inf
//   alpha_t(s) = lse(alpha_{t-1}(s), alpha_{t-1}(s-1), [skip(s)] alpha_{t-1}(s-2)) + lp[t, l'_s]
//     skip(s): s >= 2, l'_s != blank and l'_s != l'_{s-2} (a repeated label needs a blank between)
//   nll_n = -lse(alpha_{T_n-1}(S'-1), alpha_{T_n-1}(S'-2));   T_n = 0: nll = 0 for L = 0, else inf
//   beta_{T_n-1}(s) = lp[T_n-1, l'_s] for s in {S'-1, S'-2}, else -inf
//   beta_t(s) = lse(beta_{t+1}(s), beta_{t+1}(s+1), [skip(s+2)] beta_{t+1}(s+2)) + lp[t, l'_s]
// Gradient (torch's, which is the gradient with respect to the logits when lp = log_softmax(logits)):
//   grad[t, n, c] = (exp(lp[t,n,c]) - sum_{s: l'_s = c} exp(alpha_t(s) + beta_t(s) + nll_n - lp[t,n,c])) * g_n
//   for t < T_n, 0 for t >= T_n; an infinite nll gives NaN rows (t < T_n), or all-zero rows with zero_infinity;
//   lp = -inf gives NaN there (torch's exp(-inf + nll + inf)).
// Everything is computed in the input dtype, like torch (lse in log space; the vectorised builds use polynomial
// exp/log accurate to a few ulp). The batch is split over the thread pool.
// CUDA (ctc_cuda.cu, kernels in ctc_kernels.cuh): one block per sample, its threads over the positions s; the
// same recursions and the per-element formulas below (shared with the scalar CPU reference).
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/common.h"
#include "core/cpu_features.h"
#include "core/registry.h"
#include "core/tensor.h"

namespace dlcore {

// The per-element formulas (T float or double), written once for the scalar CPU rows and the CUDA kernels:
//   lse3:      lse(a, b, c) + e  (-inf when all three are -inf)
//   posterior: exp(ab - e + nll), 0 where ab = a + b = -inf (unless e is -inf too: torch's NaN)
//   grad:      (exp(lp) - Q) gr, NaN where lp = -inf
template <class T>
DLCORE_HOSTDEV T ctc_lse3(T a, T b, T c, T e) {
  T m = a < b ? b : a;
  m = m < c ? c : m;
  if (m == -std::numeric_limits<T>::infinity()) return m;
  return m + std::log(std::exp(a - m) + std::exp(b - m) + std::exp(c - m)) + e;
}
template <class T>
DLCORE_HOSTDEV T ctc_posterior(T ab, T e, T nll) {
  const T ninf = -std::numeric_limits<T>::infinity();
  return ab == ninf && e != ninf ? T(0) : std::exp(ab - e + nll);
}
template <class T>
DLCORE_HOSTDEV T ctc_grad(T lp, T Q, T gr) {
  return lp == -std::numeric_limits<T>::infinity() ? std::numeric_limits<T>::quiet_NaN() : (std::exp(lp) - Q) * gr;
}

struct CtcProblem {
  int64_t T = 0, N = 0, C = 0, blank = 0;
  std::vector<int64_t> in_len, tgt_len;  // [N]
  std::vector<int64_t> tgt_off;          // [N] offset of sample n's labels in `labels`
  std::vector<int64_t> labels;           // concatenated targets (sum of tgt_len)
  int64_t max_sp() const;                // max over n of 2 L_n + 1
};

// Per-ISA row kernels (T = float or double; [0] float32, [1] float64 entries), all rows of length n:
//   lse3:      out[s] = lse(x[s], y[s], z[s] + k[s]) + e[s]      (k is 0 or -inf: the skip mask)
//   posterior: q[s] = exp(a[s] + b[s] - e[s] + nll), 0 where a[s] + b[s] = -inf
//   grad:      g[c] = (exp(lp[c]) - Q[c]) * gr, NaN where lp[c] = -inf
struct CtcRowTable {
  void (*lse3[2])(const void* x, const void* y, const void* z, const void* k, const void* e, void* out,
                  int64_t n) = {};
  void (*posterior[2])(const void* a, const void* b, const void* e, double nll, void* q, int64_t n) = {};
  void (*grad[2])(const void* lp, const void* Q, double gr, void* g, int64_t n) = {};
};
namespace scalar { void fill_ctc_table(CtcRowTable& t); }
namespace avx2 { void fill_ctc_table(CtcRowTable& t); }
namespace avx512 { void fill_ctc_table(CtcRowTable& t); }

// The kernels by device (CPU: ctc_forward / ctc_backward below; CUDA: ctc_cuda.cu). lp contiguous [T, N, C] on the
// kernel's device; the problem (lengths, labels) on the host; results on lp's device.
using CtcFwdFn = Tensor(const Tensor& lp, const CtcProblem& p, Tensor* alpha);
using CtcBwdFn = Tensor(const Tensor& lp, const CtcProblem& p, const Tensor& nll, const Tensor& alpha,
                        const Tensor& g, bool zero_infinity);
inline Op<CtcFwdFn> ctc_fwd_op{"ctc_loss"};
inline Op<CtcBwdFn> ctc_bwd_op{"ctc_loss_backward"};

// nll [N] (lp's dtype) of host contiguous lp [T, N, C]. With alpha non-null, *alpha becomes the log alphas
// [N, T, max_sp + 2] (two leading -inf columns; rows t >= T_n unset) for ctc_backward.
Tensor ctc_forward(const Tensor& lp, const CtcProblem& p, Tensor* alpha);
// grad [T, N, C] for the per-sample upstream gradient g [N] (lp's dtype). alpha: ctc_forward's, or undefined to
// recompute it here.
Tensor ctc_backward(const Tensor& lp, const CtcProblem& p, const Tensor& nll, const Tensor& alpha, const Tensor& g,
                    bool zero_infinity);

}  // namespace dlcore
