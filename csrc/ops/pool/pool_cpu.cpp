// CPU pooling: the scalar build of the max-pool loops (reference and fallback), the per-ISA choice, the average
// and adaptive-average kernels, threading over planes, and the registration for the cpu device.
#define DLCORE_ISA_NS scalar
#define DLCORE_VLEN 1
#include "ops/pool/pool_loops.h"

#include <algorithm>

#include "core/cpu_features.h"
#include "core/parallel.h"

namespace dlcore {

namespace {

struct AllMaxPoolTables {
  MaxPoolTable isa[kNumIsas];
  AllMaxPoolTables() {
    scalar::fill_max_pool_table(isa[0]);
    avx2::fill_max_pool_table(isa[1]);
    avx512::fill_max_pool_table(isa[2]);
  }
};

const MaxPoolTable& max_pool_table() {
  static const AllMaxPoolTables t;
  return t.isa[(int)cpu_isa()];
}

inline int dt_index(const Tensor& t) { return t.dtype() == DType::Float64 ? 1 : 0; }

// Planes per thread chunk: about 32k input elements.
inline int64_t plane_grain(int64_t H, int64_t W) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(H * W, 1)); }

void max_pool_fwd_cpu(const Tensor& out, const Tensor& indices, const Tensor& in, const Pool2dParams& p) {
  int64_t P = in.size(0), H = in.size(1), W = in.size(2), Ho = out.size(1), Wo = out.size(2);
  auto fn = max_pool_table().fwd[dt_index(in)];
  char* o = static_cast<char*>(out.raw_data());
  int64_t* idx = indices.defined() ? indices.data<int64_t>() : nullptr;
  const char* x = static_cast<const char*>(in.raw_data());
  parallel_for(0, P, plane_grain(H, W), [&](int64_t p0, int64_t p1) { fn(o, idx, x, p0, p1, H, W, Ho, Wo, p); });
}

void max_pool_bwd_cpu(const Tensor& gin, const Tensor& gout, const Tensor& in, const Pool2dParams& p) {
  int64_t P = in.size(0), H = in.size(1), W = in.size(2), Ho = gout.size(1), Wo = gout.size(2);
  auto fn = max_pool_table().bwd[dt_index(in)];
  char* gi = static_cast<char*>(gin.raw_data());
  const char* go = static_cast<const char*>(gout.raw_data());
  const char* x = static_cast<const char*>(in.raw_data());
  parallel_for(0, P, plane_grain(H, W), [&](int64_t p0, int64_t p1) { fn(gi, go, x, p0, p1, H, W, Ho, Wo, p); });
}

inline AvgPoolWindow avg_window(int64_t oh, int64_t ow, int64_t H, int64_t W, const Pool2dParams& p) {
  return avg_pool_window(oh, ow, H, W, p);
}

void avg_pool_fwd_cpu(const Tensor& out, const Tensor& in, const Pool2dParams& p) {
  int64_t P = in.size(0), H = in.size(1), W = in.size(2), Ho = out.size(1), Wo = out.size(2);
  dispatch_float(in.dtype(), "avg_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = in.data<T>();
    T* y = out.data<T>();
    parallel_for(0, P, plane_grain(H, W), [&](int64_t p0, int64_t p1) {
      for (int64_t pl = p0; pl < p1; ++pl) {
        const T* plane = x + pl * H * W;
        T* op = y + pl * Ho * Wo;
        for (int64_t oh = 0; oh < Ho; ++oh)
          for (int64_t ow = 0; ow < Wo; ++ow) {
            AvgPoolWindow wd = avg_window(oh, ow, H, W, p);
            if (wd.h0 >= wd.h1 || wd.w0 >= wd.w1) {
              op[oh * Wo + ow] = 0;
              continue;
            }
            T s = 0;
            for (int64_t h = wd.h0; h < wd.h1; ++h)
              for (int64_t w = wd.w0; w < wd.w1; ++w) s += plane[h * W + w];
            op[oh * Wo + ow] = s / (T)wd.div;
          }
      }
    });
  });
}

void avg_pool_bwd_cpu(const Tensor& gin, const Tensor& gout, const Pool2dParams& p) {
  int64_t P = gin.size(0), H = gin.size(1), W = gin.size(2), Ho = gout.size(1), Wo = gout.size(2);
  dispatch_float(gin.dtype(), "avg_pool2d_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* gx = gin.data<T>();
    const T* g = gout.data<T>();
    parallel_for(0, P, plane_grain(H, W), [&](int64_t p0, int64_t p1) {
      for (int64_t pl = p0; pl < p1; ++pl) {
        T* gp = gx + pl * H * W;
        const T* go = g + pl * Ho * Wo;
        std::memset(gp, 0, H * W * sizeof(T));
        for (int64_t oh = 0; oh < Ho; ++oh)
          for (int64_t ow = 0; ow < Wo; ++ow) {
            AvgPoolWindow wd = avg_window(oh, ow, H, W, p);
            if (wd.h0 >= wd.h1 || wd.w0 >= wd.w1) continue;
            T v = go[oh * Wo + ow] / (T)wd.div;
            for (int64_t h = wd.h0; h < wd.h1; ++h)
              for (int64_t w = wd.w0; w < wd.w1; ++w) gp[h * W + w] += v;
          }
      }
    });
  });
}

void adaptive_fwd_cpu(const Tensor& out, const Tensor& in) {
  int64_t P = in.size(0), H = in.size(1), W = in.size(2), Ho = out.size(1), Wo = out.size(2);
  dispatch_float(in.dtype(), "adaptive_avg_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = in.data<T>();
    T* y = out.data<T>();
    parallel_for(0, P, plane_grain(H, W), [&](int64_t p0, int64_t p1) {
      for (int64_t pl = p0; pl < p1; ++pl) {
        const T* plane = x + pl * H * W;
        T* op = y + pl * Ho * Wo;
        if (Ho == 1 && Wo == 1) {  // global average pooling
          T s = 0;
          for (int64_t i = 0; i < H * W; ++i) s += plane[i];
          op[0] = s / (T)(H * W);
          continue;
        }
        for (int64_t oh = 0; oh < Ho; ++oh) {
          int64_t h0 = adaptive_start(oh, H, Ho), h1 = adaptive_end(oh, H, Ho);
          for (int64_t ow = 0; ow < Wo; ++ow) {
            int64_t w0 = adaptive_start(ow, W, Wo), w1 = adaptive_end(ow, W, Wo);
            T s = 0;
            for (int64_t h = h0; h < h1; ++h)
              for (int64_t w = w0; w < w1; ++w) s += plane[h * W + w];
            op[oh * Wo + ow] = s / (T)((h1 - h0) * (w1 - w0));
          }
        }
      }
    });
  });
}

void adaptive_bwd_cpu(const Tensor& gin, const Tensor& gout) {
  int64_t P = gin.size(0), H = gin.size(1), W = gin.size(2), Ho = gout.size(1), Wo = gout.size(2);
  dispatch_float(gin.dtype(), "adaptive_avg_pool2d_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* gx = gin.data<T>();
    const T* g = gout.data<T>();
    parallel_for(0, P, plane_grain(H, W), [&](int64_t p0, int64_t p1) {
      for (int64_t pl = p0; pl < p1; ++pl) {
        T* gp = gx + pl * H * W;
        const T* go = g + pl * Ho * Wo;
        if (Ho == 1 && Wo == 1) {
          T v = go[0] / (T)(H * W);
          for (int64_t i = 0; i < H * W; ++i) gp[i] = v;
          continue;
        }
        std::memset(gp, 0, H * W * sizeof(T));
        for (int64_t oh = 0; oh < Ho; ++oh) {
          int64_t h0 = adaptive_start(oh, H, Ho), h1 = adaptive_end(oh, H, Ho);
          for (int64_t ow = 0; ow < Wo; ++ow) {
            int64_t w0 = adaptive_start(ow, W, Wo), w1 = adaptive_end(ow, W, Wo);
            T v = go[oh * Wo + ow] / (T)((h1 - h0) * (w1 - w0));
            for (int64_t h = h0; h < h1; ++h)
              for (int64_t w = w0; w < w1; ++w) gp[h * W + w] += v;
          }
        }
      }
    });
  });
}

KernelRegistrar r1(max_pool2d_fwd_op, DeviceType::CPU, &max_pool_fwd_cpu, "cpu");
KernelRegistrar r2(max_pool2d_bwd_op, DeviceType::CPU, &max_pool_bwd_cpu, "cpu");
KernelRegistrar r3(avg_pool2d_fwd_op, DeviceType::CPU, &avg_pool_fwd_cpu, "cpu");
KernelRegistrar r4(avg_pool2d_bwd_op, DeviceType::CPU, &avg_pool_bwd_cpu, "cpu");
KernelRegistrar r5(adaptive_avg_pool2d_fwd_op, DeviceType::CPU, &adaptive_fwd_cpu, "cpu");
KernelRegistrar r6(adaptive_avg_pool2d_bwd_op, DeviceType::CPU, &adaptive_bwd_cpu, "cpu");

}  // namespace

}  // namespace dlcore
