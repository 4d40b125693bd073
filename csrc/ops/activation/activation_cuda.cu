// CUDA activations: dtype dispatch and registration for DeviceType::CUDA (kernels in activation_kernels.cuh).
#include "ops/activation/activation_kernels.cuh"

namespace dlcore::act_cuda {

namespace {

const ActCudaTable& table() {
  static const ActCudaTable t = [] {
    ActCudaTable x;
    fill_act_cuda<float>(x);
    fill_act_cuda_f64(x);
    return x;
  }();
  return t;
}

inline int dt_index(const Tensor& t) { return t.dtype() == DType::Float64 ? 1 : 0; }

void act_fwd_cuda(Act act, const Tensor& out, const Tensor& in, const ActParams& p) {
  table().fwd[(int)act][dt_index(in)](out, in, p);
}

void act_bwd_cuda(Act act, const Tensor& gx, const Tensor& g, const Tensor& s, const ActParams& p) {
  table().bwd[(int)act][dt_index(s)](gx, g, s, p);
}

KernelRegistrar reg_fwd(act_fwd_op, DeviceType::CUDA, &act_fwd_cuda, "cuda");
KernelRegistrar reg_bwd(act_bwd_op, DeviceType::CUDA, &act_bwd_cuda, "cuda");

}  // namespace

}  // namespace dlcore::act_cuda
