// CPU normalisation: the scalar build of the batch-norm loops (reference and fallback), the per-ISA choice,
// local response normalisation, and the registration for the cpu device.
#define DLCORE_ISA_NS scalar
#define DLCORE_VLEN 1
#include "ops/elementwise/elementwise.h"
#include "ops/norm/norm_loops.h"

#include "core/cpu_features.h"

namespace dlcore {

namespace {

struct AllBnTables {
  BatchNormTable isa[kNumIsas];
  AllBnTables() {
    fill_isa_tables(isa, &scalar::fill_batch_norm_table, &avx2::fill_batch_norm_table, &avx512::fill_batch_norm_table);
  }
};

const BatchNormTable& bn_table() {
  static const AllBnTables t;
  return t.isa[(int)cpu_isa()];
}

inline int dt_index(const Tensor& t) { return t.dtype() == DType::Float64 ? 1 : 0; }
inline char* ptr(const Tensor& t) { return t.defined() ? static_cast<char*>(t.raw_data()) : nullptr; }

void bn_fwd_cpu(const Tensor& y, const Tensor& sm, const Tensor& si, const Tensor& x, const Tensor& w, const Tensor& b,
                const Tensor& rm, const Tensor& rv, const BatchNormArgs& a) {
  bn_table().fwd[dt_index(x)](ptr(y), ptr(sm), ptr(si), ptr(x), ptr(w), ptr(b), ptr(rm), ptr(rv), x.size(0),
                              x.size(1), x.size(2), a);
}

void bn_bwd_cpu(const Tensor& gx, const Tensor& gw, const Tensor& gb, const Tensor& g, const Tensor& x,
                const Tensor& w, const Tensor& mean, const Tensor& invstd, bool training) {
  bn_table().bwd[dt_index(x)](ptr(gx), ptr(gw), ptr(gb), ptr(g), ptr(x), ptr(w), ptr(mean), ptr(invstd), x.size(0),
                              x.size(1), x.size(2), training);
}

// scale[c, s] for one sample (x: [C, S]) into sc ([C, S]).
template <class T>
void lrn_scale(T* sc, const T* x, int64_t C, int64_t S, const LrnArgs& a) {
  const int64_t lo = a.size / 2, hi = (a.size - 1) / 2;
  const T coef = (T)(a.alpha / (double)a.size);
  for (int64_t c = 0; c < C; ++c) {
    T* o = sc + c * S;
    for (int64_t s = 0; s < S; ++s) o[s] = 0;
    for (int64_t j = std::max<int64_t>(0, c - lo); j <= std::min<int64_t>(C - 1, c + hi); ++j) {
      const T* xr = x + j * S;
      for (int64_t s = 0; s < S; ++s) o[s] += xr[s] * xr[s];
    }
    for (int64_t s = 0; s < S; ++s) o[s] = lrn_scale_of<T>(o[s], (T)a.k, coef);
  }
}

void lrn_fwd_cpu(const Tensor& y, const Tensor& x, const LrnArgs& a) {
  int64_t N = x.size(0), C = x.size(1), S = x.size(2);
  dispatch_float(x.dtype(), "local_response_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    parallel_for(0, N, 1, [&](int64_t n0, int64_t n1) {
      std::vector<T> sc(C * S);
      for (int64_t n = n0; n < n1; ++n) {
        const T* xn = xp + n * C * S;
        T* yn = yp + n * C * S;
        lrn_scale(sc.data(), xn, C, S, a);
        pow_scalar_contiguous_cpu(sc.data(), sc.data(), (T)-a.beta, C * S);  // (a per-element std::pow: 4x slower)
        for (int64_t i = 0; i < C * S; ++i) yn[i] = xn[i] * sc[i];
      }
    });
  });
}

void lrn_bwd_cpu(const Tensor& gx, const Tensor& g, const Tensor& x, const LrnArgs& a) {
  int64_t N = x.size(0), C = x.size(1), S = x.size(2);
  dispatch_float(x.dtype(), "local_response_norm_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = x.data<T>();
    const T* gp = g.data<T>();
    T* op = gx.data<T>();
    const int64_t lo = a.size / 2, hi = (a.size - 1) / 2;
    const T coef = (T)(2.0 * a.alpha * a.beta / (double)a.size);
    parallel_for(0, N, 1, [&](int64_t n0, int64_t n1) {
      std::vector<T> sc(C * S), t(C * S);
      for (int64_t n = n0; n < n1; ++n) {
        const T* xn = xp + n * C * S;
        const T* gn = gp + n * C * S;
        T* on = op + n * C * S;
        lrn_scale(sc.data(), xn, C, S, a);
        pow_scalar_contiguous_cpu(t.data(), sc.data(), (T)(-a.beta - 1), C * S);
        for (int64_t i = 0; i < C * S; ++i) {
          sc[i] *= t[i];  // scale^-beta
          t[i] *= gn[i] * xn[i];
        }
        // channel c collects t_j for the j whose window contains c: j in [c - hi, c + lo]
        for (int64_t c = 0; c < C; ++c) {
          T* o = on + c * S;
          for (int64_t s = 0; s < S; ++s) o[s] = 0;
          for (int64_t j = std::max<int64_t>(0, c - hi); j <= std::min<int64_t>(C - 1, c + lo); ++j)
            for (int64_t s = 0; s < S; ++s) o[s] += t[j * S + s];
          for (int64_t s = 0; s < S; ++s) {
            int64_t i = c * S + s;
            o[s] = gn[i] * sc[i] - coef * xn[i] * o[s];
          }
        }
      }
    });
  });
}

void ln_fwd_cpu(const Tensor& y, const Tensor& mean, const Tensor& rstd, const Tensor& x, const Tensor& w,
                const Tensor& b, double eps) {
  bn_table().ln_fwd[dt_index(x)](ptr(y), ptr(mean), ptr(rstd), ptr(x), ptr(w), ptr(b), mean.size(0),
                                 x.numel() / std::max<int64_t>(mean.size(0), 1), eps);
}

void ln_bwd_cpu(const Tensor& gx, const Tensor& gw, const Tensor& gb, const Tensor& g, const Tensor& x,
                const Tensor& w, const Tensor& mean, const Tensor& rstd) {
  bn_table().ln_bwd[dt_index(x)](ptr(gx), ptr(gw), ptr(gb), ptr(g), ptr(x), ptr(w), ptr(mean), ptr(rstd),
                                 mean.size(0), x.numel() / std::max<int64_t>(mean.size(0), 1));
}

KernelRegistrar r1(batch_norm_fwd_op, DeviceType::CPU, &bn_fwd_cpu, "cpu");
KernelRegistrar r5(layer_norm_fwd_op, DeviceType::CPU, &ln_fwd_cpu, "cpu");
KernelRegistrar r6(layer_norm_bwd_op, DeviceType::CPU, &ln_bwd_cpu, "cpu");
KernelRegistrar r2(batch_norm_bwd_op, DeviceType::CPU, &bn_bwd_cpu, "cpu");
KernelRegistrar r3(lrn_fwd_op, DeviceType::CPU, &lrn_fwd_cpu, "cpu");
KernelRegistrar r4(lrn_bwd_op, DeviceType::CPU, &lrn_bwd_cpu, "cpu");

}  // namespace

}  // namespace dlcore
