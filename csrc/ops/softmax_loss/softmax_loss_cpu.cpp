// CPU softmax and losses: the scalar build of the softmax/cross-entropy loops, the per-ISA choice, the nll,
// pointwise and multi-margin kernels (scalar: they are cheap next to the layers that feed them), registration.
#define DLCORE_ISA_NS scalar
#define DLCORE_VLEN 1
#include "ops/softmax_loss/softmax_loops.h"

#include "core/cpu_features.h"

#include <type_traits>

namespace dlcore {

namespace {
struct AllSoftmaxTables {
  SoftmaxTable isa[kNumIsas];
  AllSoftmaxTables() {
    fill_isa_tables(isa, &scalar::fill_softmax_table, &avx2::fill_softmax_table, &avx512::fill_softmax_table);
  }
};
}  // namespace

const SoftmaxTable& softmax_table() {
  static const AllSoftmaxTables t;
  return t.isa[(int)cpu_isa()];
}

namespace {

inline int dt_index(const Tensor& t) { return t.dtype() == DType::Float64 ? 1 : 0; }
inline const char* ptr_or_null(const Tensor& t) {
  return t.defined() ? static_cast<const char*>(t.raw_data()) : nullptr;
}

void softmax_fwd_cpu(bool log, const Tensor& out, const Tensor& in, int64_t O, int64_t R, int64_t I) {
  softmax_table().fwd[log][dt_index(in)](static_cast<char*>(out.raw_data()), static_cast<const char*>(in.raw_data()),
                                         O, R, I);
}

void softmax_bwd_cpu(bool log, const Tensor& gx, const Tensor& g, const Tensor& y, int64_t O, int64_t R, int64_t I) {
  softmax_table().bwd[log][dt_index(y)](static_cast<char*>(gx.raw_data()), static_cast<const char*>(g.raw_data()),
                                        static_cast<const char*>(y.raw_data()), O, R, I);
}

void ce_fwd_cpu(const Tensor& loss, const Tensor& wt, const Tensor& lse, const Tensor& x, const Tensor& target,
                const Tensor& w, const CrossEntropyArgs& a) {
  softmax_table().ce_fwd[dt_index(x)](static_cast<char*>(loss.raw_data()), static_cast<char*>(wt.raw_data()),
                                      static_cast<char*>(lse.raw_data()), static_cast<const char*>(x.raw_data()),
                                      target.data<int64_t>(), ptr_or_null(w), x.size(0), x.size(1), a);
}

void ce_bwd_cpu(const Tensor& gx, const Tensor& g, int64_t gstride, double scale, const Tensor& x, const Tensor& lse,
                const Tensor& target, const Tensor& w, const CrossEntropyArgs& a) {
  softmax_table().ce_bwd[dt_index(x)](static_cast<char*>(gx.raw_data()), static_cast<const char*>(g.raw_data()),
                                      gstride, scale, static_cast<const char*>(x.raw_data()),
                                      static_cast<const char*>(lse.raw_data()), target.data<int64_t>(),
                                      ptr_or_null(w), x.size(0), x.size(1), a);
}

// ---- nll ----
void nll_fwd_cpu(const Tensor& loss, const Tensor& wt, const Tensor& input, const Tensor& target, const Tensor& weight,
                 int64_t ignore_index) {
  dispatch_float(input.dtype(), "nll_loss", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = input.data<T>();
    const T* w = weight.defined() ? weight.data<T>() : nullptr;
    const int64_t* t = target.data<int64_t>();
    T* l = loss.data<T>();
    T* wo = wt.data<T>();
    int64_t N = input.size(0), C = input.size(1);
    for (int64_t n = 0; n < N; ++n) {
      if (t[n] == ignore_index) {
        l[n] = 0;
        wo[n] = 0;
        continue;
      }
      T wn = w ? w[t[n]] : T(1);
      l[n] = -wn * x[n * C + t[n]];
      wo[n] = wn;
    }
  });
}

void nll_bwd_cpu(const Tensor& gx, const Tensor& grad, int64_t gstride, double scale, const Tensor& target,
                 const Tensor& weight, int64_t ignore_index) {
  dispatch_float(gx.dtype(), "nll_loss_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* o = gx.data<T>();
    const T* g = grad.data<T>();
    const T* w = weight.defined() ? weight.data<T>() : nullptr;
    const int64_t* t = target.data<int64_t>();
    int64_t N = gx.size(0), C = gx.size(1);
    std::memset(o, 0, N * C * sizeof(T));
    for (int64_t n = 0; n < N; ++n) {
      if (t[n] == ignore_index) continue;
      T wn = w ? w[t[n]] : T(1);
      o[n * C + t[n]] = -wn * g[n * gstride] * (T)scale;
    }
  });
}

// ---- pointwise losses ----
// fn(std::integral_constant<PwLoss, K>) for the runtime kind k: the loops below see a constant kind, so the
// formula's switch folds away and the compiler vectorises them (a per-element switch did not: mse's backward ran
// at ~0.3 ns per element less than the memory allowed, 0.67x torch with the autograd sum).
template <class F>
void with_pw_kind(PwLoss k, const F& fn) {
  switch (k) {
    case PwLoss::Mse: return fn(std::integral_constant<PwLoss, PwLoss::Mse>{});
    case PwLoss::L1: return fn(std::integral_constant<PwLoss, PwLoss::L1>{});
    case PwLoss::SmoothL1: return fn(std::integral_constant<PwLoss, PwLoss::SmoothL1>{});
    case PwLoss::Huber: return fn(std::integral_constant<PwLoss, PwLoss::Huber>{});
    case PwLoss::Bce: return fn(std::integral_constant<PwLoss, PwLoss::Bce>{});
    case PwLoss::BceLogits: return fn(std::integral_constant<PwLoss, PwLoss::BceLogits>{});
    default: return fn(std::integral_constant<PwLoss, PwLoss::HingeEmbedding>{});
  }
}

void pw_fwd_cpu(PwLoss k, const Tensor& out, const Tensor& x, const Tensor& y, const Tensor& w, const Tensor& pw,
                const PwLossParams& p) {
  dispatch_float(x.dtype(), pw_loss_name(k), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* o = out.data<T>();
    const T* xp = x.data<T>();
    const T* yp = y.data<T>();
    const T* wp = w.defined() ? w.data<T>() : nullptr;
    const T* pwp = pw.defined() ? pw.data<T>() : nullptr;
    const T a = (T)p.a;
    const bool bce = k == PwLoss::Bce || k == PwLoss::BceLogits;
    auto* vec = bce && std::is_same_v<T, float> ? softmax_table().bce_fwd[k == PwLoss::BceLogits] : nullptr;
    parallel_for(0, x.numel(), 1 << 14, [&](int64_t i0, int64_t i1) {
      if constexpr (std::is_same_v<T, float>)
        if (vec) return vec(o, xp, yp, wp, pwp, i0, i1);
      with_pw_kind(k, [&](auto kind) {
        constexpr PwLoss K = decltype(kind)::value;
        const T av = a;  // (a local copy: the stores through o cannot alias it, so it stays in a register)
        if (!wp && !pwp)
          for (int64_t i = i0; i < i1; ++i) o[i] = pw_loss_fwd<T>(K, xp[i], yp[i], T(1), T(1), av);
        else
          for (int64_t i = i0; i < i1; ++i)
            o[i] = pw_loss_fwd<T>(K, xp[i], yp[i], wp ? wp[i] : T(1), pwp ? pwp[i] : T(1), a);
      });
    });
  });
}

void pw_bwd_cpu(PwLoss k, const Tensor& gx, const Tensor& grad, int64_t gs, double scale, const Tensor& x, const Tensor& y,
                const Tensor& w, const Tensor& pw, const PwLossParams& p) {
  dispatch_float(x.dtype(), pw_loss_name(k), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* o = gx.data<T>();
    const T* g = grad.defined() ? grad.data<T>() : nullptr;
    const T* xp = x.data<T>();
    const T* yp = y.data<T>();
    const T* wp = w.defined() ? w.data<T>() : nullptr;
    const T* pwp = pw.defined() ? pw.data<T>() : nullptr;
    const T a = (T)p.a, s = (T)scale;
    const bool bce = k == PwLoss::Bce || k == PwLoss::BceLogits;
    auto* vec = bce && std::is_same_v<T, float> ? softmax_table().bce_bwd[k == PwLoss::BceLogits] : nullptr;
    parallel_for(0, x.numel(), 1 << 14, [&](int64_t i0, int64_t i1) {
      if constexpr (std::is_same_v<T, float>)
        if (vec) return vec(o, g, gs, s, xp, yp, wp, pwp, i0, i1);
      with_pw_kind(k, [&](auto kind) {
        constexpr PwLoss K = decltype(kind)::value;
        if (!wp && !pwp && !(g && gs)) {  // the common case: no weights, a reduced loss's one gradient value
          const T gsc = s * (g ? g[0] : T(1)), av = a;
          for (int64_t i = i0; i < i1; ++i) o[i] = pw_loss_bwd<T>(K, xp[i], yp[i], T(1), T(1), av) * gsc;
          return;
        }
        for (int64_t i = i0; i < i1; ++i) {
          T d = pw_loss_bwd<T>(K, xp[i], yp[i], wp ? wp[i] : T(1), pwp ? pwp[i] : T(1), a);
          o[i] = d * s * (g ? g[i * gs] : T(1));
        }
      });
    });
  });
}

// ---- multi-margin ----
void mm_fwd_cpu(const Tensor& loss, const Tensor& input, const Tensor& target, int p, double margin,
                const Tensor& weight) {
  dispatch_float(input.dtype(), "multi_margin_loss", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = input.data<T>();
    const T* w = weight.defined() ? weight.data<T>() : nullptr;
    const int64_t* t = target.data<int64_t>();
    T* l = loss.data<T>();
    int64_t N = input.size(0), C = input.size(1);
    for (int64_t n = 0; n < N; ++n) {
      const T* xr = x + n * C;
      int64_t tn = t[n];
      T s = 0;
      for (int64_t c = 0; c < C; ++c) {
        if (c == tn) continue;
        T z = (T)margin - xr[tn] + xr[c];
        if (z > 0) s += p == 1 ? z : z * z;
      }
      l[n] = s * (w ? w[tn] : T(1)) / (T)C;
    }
  });
}

void mm_bwd_cpu(const Tensor& gx, const Tensor& grad, int64_t gstride, double scale, const Tensor& input,
                const Tensor& target, int p, double margin, const Tensor& weight) {
  dispatch_float(input.dtype(), "multi_margin_loss_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = input.data<T>();
    const T* g = grad.data<T>();
    const T* w = weight.defined() ? weight.data<T>() : nullptr;
    const int64_t* t = target.data<int64_t>();
    T* o = gx.data<T>();
    int64_t N = input.size(0), C = input.size(1);
    for (int64_t n = 0; n < N; ++n) {
      const T* xr = x + n * C;
      T* orow = o + n * C;
      int64_t tn = t[n];
      T gn = g[n * gstride] * (T)scale * (w ? w[tn] : T(1)) / (T)C;
      T gt = 0;
      for (int64_t c = 0; c < C; ++c) {
        orow[c] = 0;
        if (c == tn) continue;
        T z = (T)margin - xr[tn] + xr[c];
        if (z > 0) {
          T d = (p == 1 ? T(1) : T(2) * z) * gn;
          orow[c] = d;
          gt -= d;
        }
      }
      orow[tn] = gt;
    }
  });
}

KernelRegistrar r1(softmax_fwd_op, DeviceType::CPU, &softmax_fwd_cpu, "cpu");
KernelRegistrar r2(softmax_bwd_op, DeviceType::CPU, &softmax_bwd_cpu, "cpu");
KernelRegistrar r3(cross_entropy_fwd_op, DeviceType::CPU, &ce_fwd_cpu, "cpu");
KernelRegistrar r4(cross_entropy_bwd_op, DeviceType::CPU, &ce_bwd_cpu, "cpu");
KernelRegistrar r5(nll_fwd_op, DeviceType::CPU, &nll_fwd_cpu, "cpu");
KernelRegistrar r6(nll_bwd_op, DeviceType::CPU, &nll_bwd_cpu, "cpu");
KernelRegistrar r7(pw_loss_fwd_op, DeviceType::CPU, &pw_fwd_cpu, "cpu");
KernelRegistrar r8(pw_loss_bwd_op, DeviceType::CPU, &pw_bwd_cpu, "cpu");
KernelRegistrar r9(multi_margin_fwd_op, DeviceType::CPU, &mm_fwd_cpu, "cpu");
KernelRegistrar r10(multi_margin_bwd_op, DeviceType::CPU, &mm_bwd_cpu, "cpu");

}  // namespace

}  // namespace dlcore
