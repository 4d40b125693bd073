// CTC loss on the CPU (formulas in ctc.h): the scalar build of the row kernels (reference and fallback), the
// per-ISA choice, and the per-sample recursions, one sample per task over the thread pool.
#define DLCORE_ISA_NS scalar
#define DLCORE_VLEN 1
#include "ops/softmax_loss/ctc_loops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/errors.h"
#include "core/parallel.h"

namespace dlcore {

int64_t CtcProblem::max_sp() const {
  int64_t m = 1;
  for (int64_t L : tgt_len) m = std::max(m, 2 * L + 1);
  return m;
}

namespace {

struct AllCtcTables {
  CtcRowTable isa[kNumIsas];
  AllCtcTables() {
    fill_isa_tables(isa, &scalar::fill_ctc_table, &avx2::fill_ctc_table, &avx512::fill_ctc_table);
  }
};

const CtcRowTable& ctc_table() {
  static const AllCtcTables t;
  return t.isa[(int)cpu_isa()];
}

// One sample's extended labels, skip masks (0 / -inf) and scratch rows.
template <class T>
struct Sample {
  static constexpr T ninf = -std::numeric_limits<T>::infinity();
  int64_t Tn = 0, L = 0, Sp = 1;
  std::vector<int64_t> ext;  // [Sp]
  std::vector<T> kf, kb;     // forward skip s-2 -> s, backward skip s+2 -> s
  std::vector<T> e;          // emissions of one step [Sp]

  void setup(const CtcProblem& p, int64_t n) {
    Tn = p.in_len[n];
    L = p.tgt_len[n];
    Sp = 2 * L + 1;
    ext.assign(Sp, p.blank);
    const int64_t* lab = p.labels.data() + p.tgt_off[n];
    for (int64_t i = 0; i < L; ++i) ext[2 * i + 1] = lab[i];
    kf.assign(Sp, ninf);
    kb.assign(Sp, ninf);
    for (int64_t s = 2; s < Sp; ++s)
      if (ext[s] != p.blank && ext[s] != ext[s - 2]) kf[s] = T(0);
    for (int64_t s = 0; s + 2 < Sp; ++s) kb[s] = kf[s + 2];
    e.resize(Sp);
  }
  void gather(const T* lp, const CtcProblem& p, int64_t n, int64_t t) {
    const T* row = lp + (t * p.N + n) * p.C;
    for (int64_t s = 0; s < Sp; ++s) e[s] = row[ext[s]];
  }
};

// Alpha rows of sample n into A (row t at A + t * ld, two leading -inf columns) when store, else two rolling rows
// in A; returns the nll.
template <class T>
T alpha_sample(const CtcRowTable& tab, const T* lp, const CtcProblem& p, int64_t n, Sample<T>& S, T* A, int64_t ld,
               bool store) {
  constexpr T ninf = Sample<T>::ninf;
  const int di = sizeof(T) == 8 ? 1 : 0;
  if (S.Tn == 0) return S.L == 0 ? T(0) : std::numeric_limits<T>::infinity();
  T* cur = A;
  std::fill(cur, cur + S.Sp + 2, ninf);
  const T* row0 = lp + n * p.C;
  cur[2] = row0[p.blank];
  if (S.L > 0) cur[3] = row0[S.ext[1]];
  for (int64_t t = 1; t < S.Tn; ++t) {
    T* prev = cur;
    cur = store ? A + t * ld : A + (t & 1) * ld;
    cur[0] = cur[1] = ninf;
    S.gather(lp, p, n, t);
    tab.lse3[di](prev + 2, prev + 1, prev, S.kf.data(), S.e.data(), cur + 2, S.Sp);
  }
  T l1 = cur[2 + S.Sp - 1], l2 = S.L > 0 ? cur[2 + S.Sp - 2] : ninf;
  T m = std::max(l1, l2);
  m = m == ninf ? T(0) : m;
  return -(std::log(std::exp(l1 - m) + std::exp(l2 - m)) + m);
}

template <class T>
void forward_impl(const Tensor& lp_t, const CtcProblem& p, Tensor& nll_t, Tensor* alpha) {
  const CtcRowTable& tab = ctc_table();
  const T* lp = lp_t.data<T>();
  T* nll = nll_t.data<T>();
  const int64_t ld = p.max_sp() + 2;
  T* A = nullptr;
  if (alpha) {
    *alpha = Tensor::empty(IntList{p.N, std::max<int64_t>(p.T, 1), ld}, lp_t.dtype());
    A = alpha->data<T>();
  }
  parallel_for(0, p.N, 1, [&](int64_t lo, int64_t hi) {
    Sample<T> S;
    std::vector<T> roll(alpha ? 0 : 2 * ld);
    for (int64_t n = lo; n < hi; ++n) {
      S.setup(p, n);
      T* An = alpha ? A + n * std::max<int64_t>(p.T, 1) * ld : roll.data();
      nll[n] = alpha_sample<T>(tab, lp, p, n, S, An, ld, alpha != nullptr);
    }
  });
}

template <class T>
void backward_impl(const Tensor& lp_t, const CtcProblem& p, const Tensor& nll_t, const Tensor& alpha_t,
                   const Tensor& g_t, bool zero_infinity, Tensor& grad_t) {
  constexpr T ninf = Sample<T>::ninf;
  const CtcRowTable& tab = ctc_table();
  const int di = sizeof(T) == 8 ? 1 : 0;
  const T* lp = lp_t.data<T>();
  const T* nll = nll_t.data<T>();
  const T* g = g_t.data<T>();
  T* grad = grad_t.data<T>();
  const int64_t ld = p.max_sp() + 2, N = p.N, C = p.C, Tm = std::max<int64_t>(p.T, 1);
  const T* A = alpha_t.defined() ? alpha_t.data<T>() : nullptr;
  parallel_for(0, N, 1, [&](int64_t lo, int64_t hi) {
    Sample<T> S;
    std::vector<T> own;  // recomputed alphas (no saved ones)
    std::vector<T> b0(ld), b1(ld), q(ld), Q(C);
    for (int64_t n = lo; n < hi; ++n) {
      S.setup(p, n);
      const T nl = nll[n];
      const T gr = g[n];
      int64_t t_fill = S.Tn;  // rows [t_fill, T) get zeros
      if (nl == std::numeric_limits<T>::infinity()) {
        if (zero_infinity) {
          t_fill = 0;
        } else {  // torch: exp(lp) - exp(-inf + inf - lp) = NaN
          for (int64_t t = 0; t < S.Tn; ++t)
            std::fill(grad + (t * N + n) * C, grad + (t * N + n + 1) * C, std::numeric_limits<T>::quiet_NaN());
        }
      } else if (S.Tn > 0) {
        const T* An = A ? A + n * Tm * ld : nullptr;
        if (!An) {
          own.resize(S.Tn * ld);
          alpha_sample<T>(tab, lp, p, n, S, own.data(), ld, true);
          An = own.data();
        }
        T* nb = b0.data();  // beta_{t+1}, two trailing -inf columns
        T* cb = b1.data();
        for (int64_t t = S.Tn - 1; t >= 0; --t) {
          S.gather(lp, p, n, t);
          if (t == S.Tn - 1) {
            std::fill(cb, cb + S.Sp + 2, ninf);
            cb[S.Sp - 1] = S.e[S.Sp - 1];
            if (S.Sp > 1) cb[S.Sp - 2] = S.e[S.Sp - 2];
          } else {
            tab.lse3[di](nb, nb + 1, nb + 2, S.kb.data(), S.e.data(), cb, S.Sp);
            cb[S.Sp] = cb[S.Sp + 1] = ninf;
          }
          tab.posterior[di](An + t * ld + 2, cb, S.e.data(), (double)nl, q.data(), S.Sp);
          std::fill(Q.begin(), Q.end(), T(0));
          for (int64_t s = 0; s < S.Sp; ++s) Q[S.ext[s]] += q[s];
          tab.grad[di](lp + (t * N + n) * C, Q.data(), (double)gr, grad + (t * N + n) * C, C);
          std::swap(nb, cb);
        }
      }
      for (int64_t t = t_fill; t < p.T; ++t) std::fill(grad + (t * N + n) * C, grad + (t * N + n + 1) * C, T(0));
    }
  });
}

void check_host(const Tensor& lp, const CtcProblem& p) {
  DLCORE_CHECK(lp.device().is_cpu() && lp.is_contiguous() && lp.dim() == 3 &&
                   (lp.dtype() == DType::Float32 || lp.dtype() == DType::Float64),
               RuntimeError, "ctc_loss: internal: expected a contiguous host float tensor [T, N, C], got ",
               lp.describe());
  DLCORE_CHECK(lp.size(0) == p.T && lp.size(1) == p.N && lp.size(2) == p.C, RuntimeError,
               "ctc_loss: internal: log_probs ", lp.shape().str(), " does not match the problem");
}

}  // namespace

Tensor ctc_forward(const Tensor& lp, const CtcProblem& p, Tensor* alpha) {
  check_host(lp, p);
  Tensor nll = Tensor::empty(IntList{p.N}, lp.dtype());
  if (lp.dtype() == DType::Float32) forward_impl<float>(lp, p, nll, alpha);
  else forward_impl<double>(lp, p, nll, alpha);
  return nll;
}

Tensor ctc_backward(const Tensor& lp, const CtcProblem& p, const Tensor& nll, const Tensor& alpha, const Tensor& g,
                    bool zero_infinity) {
  check_host(lp, p);
  Tensor grad = Tensor::empty(lp.shape(), lp.dtype());
  if (lp.dtype() == DType::Float32) backward_impl<float>(lp, p, nll, alpha, g, zero_infinity, grad);
  else backward_impl<double>(lp, p, nll, alpha, g, zero_infinity, grad);
  return grad;
}

}  // namespace dlcore

namespace dlcore {
namespace {
KernelRegistrar ctc_r1(ctc_fwd_op, DeviceType::CPU, &ctc_forward, "cpu");
KernelRegistrar ctc_r2(ctc_bwd_op, DeviceType::CPU, &ctc_backward, "cpu");
}  // namespace
}  // namespace dlcore
