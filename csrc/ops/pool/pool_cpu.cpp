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

struct AllPoolTables {
  PoolTable isa[kNumIsas];
  AllPoolTables() {
    fill_isa_tables(isa, &scalar::fill_pool_table, &avx2::fill_pool_table, &avx512::fill_pool_table);
  }
};

const PoolTable& pool_table() {
  static const AllPoolTables t;
  return t.isa[(int)cpu_isa()];
}

inline int dt_index(const Tensor& t) { return t.dtype() == DType::Float64 ? 1 : 0; }

// Planes per thread chunk: about 32k input elements.
inline int64_t plane_grain(int64_t H, int64_t W) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(H * W, 1)); }

void max_pool_fwd_cpu(const Tensor& out, const Tensor& indices, const Tensor& in, const Pool2dParams& p) {
  int64_t P = in.size(0), H = in.size(1), W = in.size(2), Ho = out.size(1), Wo = out.size(2);
  auto fn = pool_table().fwd[dt_index(in)];
  char* o = static_cast<char*>(out.raw_data());
  int64_t* idx = indices.defined() ? indices.data<int64_t>() : nullptr;
  const char* x = static_cast<const char*>(in.raw_data());
  parallel_for(0, P, plane_grain(H, W), [&](int64_t p0, int64_t p1) { fn(o, idx, x, p0, p1, H, W, Ho, Wo, p); });
}

void max_pool_bwd_cpu(const Tensor& gin, const Tensor& gout, const Tensor& in, const Pool2dParams& p) {
  int64_t P = in.size(0), H = in.size(1), W = in.size(2), Ho = gout.size(1), Wo = gout.size(2);
  auto fn = pool_table().bwd[dt_index(in)];
  char* gi = static_cast<char*>(gin.raw_data());
  const char* go = static_cast<const char*>(gout.raw_data());
  const char* x = static_cast<const char*>(in.raw_data());
  parallel_for(0, P, plane_grain(H, W), [&](int64_t p0, int64_t p1) { fn(gi, go, x, p0, p1, H, W, Ho, Wo, p); });
}

// Average and adaptive-average pooling: the per-ISA loops of pool_loops.h, planes split over threads.
template <class Fn>
void run_planes(Fn fn, char* out, const char* in, int64_t P, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                const Pool2dParams& p) {
  parallel_for(0, P, plane_grain(H, W), [&](int64_t p0, int64_t p1) { fn(out, in, p0, p1, H, W, Ho, Wo, p); });
}

void avg_pool_fwd_cpu(const Tensor& out, const Tensor& in, const Pool2dParams& p) {
  run_planes(pool_table().avg_fwd[dt_index(in)], static_cast<char*>(out.raw_data()),
             static_cast<const char*>(in.raw_data()), in.size(0), in.size(1), in.size(2), out.size(1), out.size(2), p);
}

void avg_pool_bwd_cpu(const Tensor& gin, const Tensor& gout, const Pool2dParams& p) {
  run_planes(pool_table().avg_bwd[dt_index(gin)], static_cast<char*>(gin.raw_data()),
             static_cast<const char*>(gout.raw_data()), gin.size(0), gin.size(1), gin.size(2), gout.size(1),
             gout.size(2), p);
}

void adaptive_fwd_cpu(const Tensor& out, const Tensor& in) {
  run_planes(pool_table().adaptive_fwd[dt_index(in)], static_cast<char*>(out.raw_data()),
             static_cast<const char*>(in.raw_data()), in.size(0), in.size(1), in.size(2), out.size(1), out.size(2),
             Pool2dParams{});
}

void adaptive_bwd_cpu(const Tensor& gin, const Tensor& gout) {
  run_planes(pool_table().adaptive_bwd[dt_index(gin)], static_cast<char*>(gin.raw_data()),
             static_cast<const char*>(gout.raw_data()), gin.size(0), gin.size(1), gin.size(2), gout.size(1),
             gout.size(2), Pool2dParams{});
}

KernelRegistrar r1(max_pool2d_fwd_op, DeviceType::CPU, &max_pool_fwd_cpu, "cpu");
KernelRegistrar r2(max_pool2d_bwd_op, DeviceType::CPU, &max_pool_bwd_cpu, "cpu");
KernelRegistrar r3(avg_pool2d_fwd_op, DeviceType::CPU, &avg_pool_fwd_cpu, "cpu");
KernelRegistrar r4(avg_pool2d_bwd_op, DeviceType::CPU, &avg_pool_bwd_cpu, "cpu");
KernelRegistrar r5(adaptive_avg_pool2d_fwd_op, DeviceType::CPU, &adaptive_fwd_cpu, "cpu");
KernelRegistrar r6(adaptive_avg_pool2d_bwd_op, DeviceType::CPU, &adaptive_bwd_cpu, "cpu");

}  // namespace

}  // namespace dlcore
