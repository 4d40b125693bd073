// CPU activations: the scalar build of the loops (reference and fallback), the per-ISA choice, threading over
// chunks, and the registration for the cpu device.
#define DLCORE_ISA_NS scalar
#define DLCORE_VLEN 1
#include "ops/activation/activation_loops.h"

#include "core/cpu_features.h"
#include "core/parallel.h"

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

}  // namespace

}  // namespace dlcore
