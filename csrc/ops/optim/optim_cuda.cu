// CUDA fused optimizer steps: dtype dispatch and registration for DeviceType::CUDA (kernels and the multi-tensor
// packing in optim_kernels.cuh). Gradients arrive contiguous (the binding makes them so); params and state are
// checked contiguous by the binding.
#include "ops/optim/optim_kernels.cuh"

namespace dlcore::optim_cuda {

namespace {

bool is_f64(const TensorList& params, const char* op) {
  DType d = params[0].dtype();
  DLCORE_CHECK(d == DType::Float32 || d == DType::Float64, TypeError, op, ": cuda supports float32 and float64, got ",
               dtype_name(d));
  return d == DType::Float64;
}

void sgd_cuda(const TensorList& params, const TensorList& grads, const TensorList& bufs,
              const std::vector<uint8_t>& first, const SgdArgs& a) {
  if (is_f64(params, "sgd_step")) return sgd_launch_f64(params, grads, bufs, first, a);
  sgd_launch<float>(params, grads, bufs, first, a);
}

void adam_cuda(const TensorList& params, const TensorList& grads, const TensorList& m, const TensorList& v,
               const TensorList& vmax, const std::vector<int64_t>& steps, const AdamArgs& a) {
  if (is_f64(params, "adam_step")) return adam_launch_f64(params, grads, m, v, vmax, steps, a);
  adam_launch<float>(params, grads, m, v, vmax, steps, a);
}

void adam_capturable_cuda(const TensorList& params, const TensorList& grads, const TensorList& m,
                          const TensorList& v, const TensorList& vmax, const TensorList& steps, const AdamArgs& a) {
  if (is_f64(params, "adam_step")) return adam_capturable_launch_f64(params, grads, m, v, vmax, steps, a);
  adam_capturable_launch<float>(params, grads, m, v, vmax, steps, a);
}

void adagrad_cuda(const TensorList& params, const TensorList& grads, const TensorList& sums,
                  const std::vector<int64_t>& steps, const AdagradArgs& a) {
  if (is_f64(params, "adagrad_step")) return adagrad_launch_f64(params, grads, sums, steps, a);
  adagrad_launch<float>(params, grads, sums, steps, a);
}

void rmsprop_cuda(const TensorList& params, const TensorList& grads, const TensorList& sq, const TensorList& ga,
                  const TensorList& bufs, const RmspropArgs& a) {
  if (is_f64(params, "rmsprop_step")) return rmsprop_launch_f64(params, grads, sq, ga, bufs, a);
  rmsprop_launch<float>(params, grads, sq, ga, bufs, a);
}

KernelRegistrar reg_sgd(sgd_step_op, DeviceType::CUDA, &sgd_cuda, "cuda");
KernelRegistrar reg_adam(adam_step_op, DeviceType::CUDA, &adam_cuda, "cuda");
KernelRegistrar reg_adam_capturable(adam_step_capturable_op, DeviceType::CUDA, &adam_capturable_cuda, "cuda");
KernelRegistrar reg_adagrad(adagrad_step_op, DeviceType::CUDA, &adagrad_cuda, "cuda");
KernelRegistrar reg_rmsprop(rmsprop_step_op, DeviceType::CUDA, &rmsprop_cuda, "cuda");

}  // namespace

}  // namespace dlcore::optim_cuda
