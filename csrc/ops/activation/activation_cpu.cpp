// CPU activations: the scalar build of the loops (reference and fallback), the per-ISA choice, threading over
// chunks, and the registration for the cpu device.
#define DLCORE_ISA_NS scalar
#define DLCORE_VLEN 1
#include "ops/activation/activation_loops.h"

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "ops/activation/layer_checks.h"

namespace dlcore {

namespace {

struct AllActTables {
  ActTable isa[kNumIsas];
  AllActTables() {
    fill_isa_tables(isa, &scalar::fill_activation_table, &avx2::fill_activation_table, &avx512::fill_activation_table);
  }
};

const ActTable& act_table() {
  static const AllActTables t;
  int i = (int)cpu_isa();
  return t.isa[i];
}

// Elements per thread chunk: enough to amortise the wake-up (~a few us) on cheap ops.
constexpr int64_t kGrain = 1 << 15;

void act_fwd_cpu(Act act, const Tensor& out, const Tensor& in, const ActParams& p) {
  int di = in.dtype() == DType::Float64 ? 1 : 0;
  auto fn = act_table().fwd[(int)act][di];
  const int64_t isz = (int64_t)in.itemsize();
  char* y = static_cast<char*>(out.raw_data());
  const char* x = static_cast<const char*>(in.raw_data());
  parallel_for(0, in.numel(), kGrain, [&](int64_t i0, int64_t i1) { fn(y + i0 * isz, x + i0 * isz, i1 - i0, p); });
}

void act_bwd_cpu(Act act, const Tensor& grad_in, const Tensor& grad_out, const Tensor& saved, const ActParams& p) {
  int di = saved.dtype() == DType::Float64 ? 1 : 0;
  auto fn = act_table().bwd[(int)act][di];
  const int64_t isz = (int64_t)saved.itemsize();
  char* gx = static_cast<char*>(grad_in.raw_data());
  const char* g = static_cast<const char*>(grad_out.raw_data());
  const char* s = static_cast<const char*>(saved.raw_data());
  // grad_out is contiguous or one value broadcast (activation_backward passes nothing else to the cpu)
  const int64_t gstep = grad_out.is_contiguous() ? isz : 0;
  parallel_for(0, saved.numel(), kGrain, [&](int64_t i0, int64_t i1) {
    fn(gx + i0 * isz, g + i0 * gstep, gstep == 0, s + i0 * isz, i1 - i0, p);
  });
}

KernelRegistrar reg_fwd(act_fwd_op, DeviceType::CPU, &act_fwd_cpu, "cpu");
KernelRegistrar reg_bwd(act_bwd_op, DeviceType::CPU, &act_bwd_cpu, "cpu");

// prelu's layout: N outer rows of C channels of S contiguous elements each (x contiguous; below 2-D, torch's rule:
// no channel dim, one channel).
struct PreluDims {
  int64_t N, C, S;
};

PreluDims prelu_check(const Tensor& x, const Tensor& w, const char* op) {
  layers::check_float(x, op, "input");
  layers::check_same_dtype(x, w, op, "input", "weight");
  layers::check_same_device(x, w, op, "input", "weight");
  DLCORE_CHECK(x.device().type == DeviceType::CPU && (x.dtype() == DType::Float32 || x.dtype() == DType::Float64),
               ValueError, op, "(): the per-channel kernel takes float32/float64 cpu tensors, got ", x.describe());
  DLCORE_CHECK(w.dim() == 1, ValueError, op, "(): expected a 1-D weight, got ", w.describe());
  const int64_t C = x.dim() >= 2 ? x.size(1) : 1;
  DLCORE_CHECK(w.size(0) == C, ValueError, op, "(): mismatch in parameter count: weight has ", w.size(0),
               " elements, the input's channel dim has ", C, " (input ", x.describe(), ")");
  const int64_t N = x.dim() >= 2 ? x.size(0) : x.numel();
  return {N, C, N * C != 0 ? x.numel() / (N * C) : 0};
}

// Rows shorter than this go through one plain loop over the elements (a call per row would cost more than it does).
constexpr int64_t kPreluRowCall = 16;

template <class T>
void prelu_fwd_cpu(T* y, const T* x, const T* w, const PreluDims& d) {
  const int64_t rows = d.N * d.C, S = d.S;
  if (S >= kPreluRowCall) {
    auto fn = act_table().fwd[(int)Act::LeakyRelu][std::is_same_v<T, double>];
    parallel_for(0, rows, std::max<int64_t>(1, kGrain / S), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        fn((char*)(y + r * S), (const char*)(x + r * S), S, ActParams{(double)w[r % d.C], 0.0});
    });
    return;
  }
  parallel_for(0, rows * S, kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const T v = x[i];
      y[i] = v > T(0) ? v : w[i / S % d.C] * v;
    }
  });
}

// dx (gx not null) and dw (gw not null) by channels: each thread owns whole channels, so dw needs no merging.
template <class T>
void prelu_bwd_cpu(T* gx, T* gw, const T* g, const T* x, const T* w, const PreluDims& d) {
  const int64_t N = d.N, C = d.C, S = d.S, CS = d.C * d.S;
  const ActTable& tab = act_table();
  auto bwd = tab.bwd[(int)Act::LeakyRelu][std::is_same_v<T, double>];
  auto dot = tab.neg_dot[std::is_same_v<T, double>];
  parallel_for(0, C, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, N * S)), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double acc = 0;
      const T wc = w[c];
      for (int64_t n = 0; n < N; ++n) {
        const int64_t o = n * CS + c * S;
        if (S >= kPreluRowCall) {
          if (gx) bwd((char*)(gx + o), (const char*)(g + o), false, (const char*)(x + o), S, ActParams{(double)wc, 0.0});
          if (gw) acc += dot((const char*)(g + o), (const char*)(x + o), S);
        } else {
          for (int64_t s = 0; s < S; ++s) {
            const T xv = x[o + s], gv = g[o + s];
            if (gx) gx[o + s] = xv > T(0) ? gv : gv * wc;
            if (gw) acc += (double)(gv * (xv > T(0) ? T(0) : xv));
          }
        }
      }
      if (gw) gw[c] = (T)acc;
    }
  });
}

}  // namespace

namespace {
// glu's layout: O outer blocks, each the half a then the half b of HI contiguous elements.
struct GluDims {
  int64_t O, HI;
};
GluDims glu_check(const Tensor& x, int64_t& dim, const char* op) {
  layers::check_float(x, op, "input");
  DLCORE_CHECK(x.device().type == DeviceType::CPU && (x.dtype() == DType::Float32 || x.dtype() == DType::Float64),
               ValueError, op, "(): the cpu kernel takes float32/float64 cpu tensors, got ", x.describe());
  DLCORE_CHECK(x.dim() >= 1 && dim >= -x.dim() && dim < x.dim(), ValueError, op, "(): dim ", dim,
               " out of range for ", x.describe());
  if (dim < 0) dim += x.dim();
  DLCORE_CHECK(x.size(dim) % 2 == 0, ValueError, op, "(): halving dimension must be even, but dimension ", dim,
               " is size ", x.size(dim));
  int64_t O = 1, I = 1;
  for (int64_t d = 0; d < dim; ++d) O *= x.size(d);
  for (int64_t d = dim + 1; d < x.dim(); ++d) I *= x.size(d);
  return {O, x.size(dim) / 2 * I};
}
}  // namespace

Tensor glu_cpu(const Tensor& x_in, int64_t dim) {
  const GluDims d = glu_check(x_in, dim, "glu");
  Tensor x = x_in.contiguous();
  IntList shape = x.shape();
  shape[dim] /= 2;
  Tensor y = Tensor::empty(shape, x.dtype(), x.device());
  if (y.numel() == 0) return y;
  const int di = x.dtype() == DType::Float64, isz = (int)x.itemsize();
  auto fn = act_table().glu_fwd[di];
  const char* xp = static_cast<const char*>(x.raw_data());
  char* yp = static_cast<char*>(y.raw_data());
  const int64_t HI = d.HI;
  parallel_for(0, d.O * HI, kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1;) {  // chunks of one block
      const int64_t o = i / HI, k = i % HI, n = std::min(i1 - i, HI - k);
      fn(yp + (o * HI + k) * isz, xp + (2 * o * HI + k) * isz, xp + ((2 * o + 1) * HI + k) * isz, n);
      i += n;
    }
  });
  return y;
}

Tensor glu_backward_cpu(const Tensor& g_in, const Tensor& x_in, int64_t dim) {
  const GluDims d = glu_check(x_in, dim, "glu_backward");
  Tensor x = x_in.contiguous();
  IntList shape = x.shape();
  shape[dim] /= 2;
  DLCORE_CHECK(g_in.shape() == shape && g_in.dtype() == x.dtype() && g_in.device() == x.device(), ValueError,
               "glu_backward(): grad_output ", g_in.describe(), " does not match the output of ", x.describe());
  Tensor g = g_in.contiguous();
  Tensor gx = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (gx.numel() == 0) return gx;
  const int di = x.dtype() == DType::Float64, isz = (int)x.itemsize();
  auto fn = act_table().glu_bwd[di];
  const char* xp = static_cast<const char*>(x.raw_data());
  const char* gp = static_cast<const char*>(g.raw_data());
  char* op = static_cast<char*>(gx.raw_data());
  const int64_t HI = d.HI;
  parallel_for(0, d.O * HI, kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1;) {
      const int64_t o = i / HI, k = i % HI, n = std::min(i1 - i, HI - k);
      const int64_t ao = (2 * o * HI + k) * isz, bo = ((2 * o + 1) * HI + k) * isz;
      fn(op + ao, op + bo, gp + (o * HI + k) * isz, xp + ao, xp + bo, n);
      i += n;
    }
  });
  return gx;
}

Tensor prelu_channels(const Tensor& x_in, const Tensor& w_in) {
  const PreluDims d = prelu_check(x_in, w_in, "prelu");
  Tensor x = x_in.contiguous(), w = w_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (y.numel()) {
    if (x.dtype() == DType::Float64) prelu_fwd_cpu<double>(y.data<double>(), x.data<double>(), w.data<double>(), d);
    else prelu_fwd_cpu<float>(y.data<float>(), x.data<float>(), w.data<float>(), d);
  }
  return y;
}

std::pair<Tensor, Tensor> prelu_channels_backward(const Tensor& g_in, const Tensor& x_in, const Tensor& w_in,
                                                  bool need_gx, bool need_gw) {
  const PreluDims d = prelu_check(x_in, w_in, "prelu_backward");
  layers::check_like(x_in, g_in, "prelu_backward", "input", "grad_output");
  Tensor x = x_in.contiguous(), w = w_in.contiguous(), g = g_in.contiguous();
  Tensor gx = need_gx ? Tensor::empty(x.shape(), x.dtype(), x.device()) : Tensor();
  Tensor gw = need_gw ? Tensor::zeros(w.shape(), w.dtype(), w.device()) : Tensor();
  if (x.numel() && (need_gx || need_gw)) {
    if (x.dtype() == DType::Float64)
      prelu_bwd_cpu<double>(need_gx ? gx.data<double>() : nullptr, need_gw ? gw.data<double>() : nullptr,
                            g.data<double>(), x.data<double>(), w.data<double>(), d);
    else
      prelu_bwd_cpu<float>(need_gx ? gx.data<float>() : nullptr, need_gw ? gw.data<float>() : nullptr,
                           g.data<float>(), x.data<float>(), w.data<float>(), d);
  }
  return {gx, gw};
}

}  // namespace dlcore
