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

void adamax_cuda(const TensorList& params, const TensorList& grads, const TensorList& m, const TensorList& u,
                 const std::vector<int64_t>& steps, const AdamaxArgs& a) {
  if (is_f64(params, "adamax_step")) return adamax_launch_f64(params, grads, m, u, steps, a);
  adamax_launch<float>(params, grads, m, u, steps, a);
}

void nadam_cuda(const TensorList& params, const TensorList& grads, const TensorList& m, const TensorList& v,
                const std::vector<int64_t>& steps, const std::vector<double>& mu_products, const NadamArgs& a) {
  if (is_f64(params, "nadam_step")) return nadam_launch_f64(params, grads, m, v, steps, mu_products, a);
  nadam_launch<float>(params, grads, m, v, steps, mu_products, a);
}

void radam_cuda(const TensorList& params, const TensorList& grads, const TensorList& m, const TensorList& v,
                const std::vector<int64_t>& steps, const RadamArgs& a) {
  if (is_f64(params, "radam_step")) return radam_launch_f64(params, grads, m, v, steps, a);
  radam_launch<float>(params, grads, m, v, steps, a);
}

void adadelta_cuda(const TensorList& params, const TensorList& grads, const TensorList& sq, const TensorList& acc,
                   const AdadeltaArgs& a) {
  if (is_f64(params, "adadelta_step")) return adadelta_launch_f64(params, grads, sq, acc, a);
  adadelta_launch<float>(params, grads, sq, acc, a);
}

void rprop_cuda(const TensorList& params, const TensorList& grads, const TensorList& prevs,
                const TensorList& step_sizes, const RpropArgs& a) {
  if (is_f64(params, "rprop_step")) return rprop_launch_f64(params, grads, prevs, step_sizes, a);
  rprop_launch<float>(params, grads, prevs, step_sizes, a);
}

void asgd_cuda(const TensorList& params, const TensorList& grads, const TensorList& axs,
               const std::vector<double>& etas, const std::vector<double>& mus, const AsgdArgs& a) {
  if (is_f64(params, "asgd_step")) return asgd_launch_f64(params, grads, axs, etas, mus, a);
  asgd_launch<float>(params, grads, axs, etas, mus, a);
}

KernelRegistrar reg_sgd(sgd_step_op, DeviceType::CUDA, &sgd_cuda, "cuda");
KernelRegistrar reg_adam(adam_step_op, DeviceType::CUDA, &adam_cuda, "cuda");
KernelRegistrar reg_adam_capturable(adam_step_capturable_op, DeviceType::CUDA, &adam_capturable_cuda, "cuda");
KernelRegistrar reg_adagrad(adagrad_step_op, DeviceType::CUDA, &adagrad_cuda, "cuda");
KernelRegistrar reg_rmsprop(rmsprop_step_op, DeviceType::CUDA, &rmsprop_cuda, "cuda");
KernelRegistrar reg_adamax(adamax_step_op, DeviceType::CUDA, &adamax_cuda, "cuda");
KernelRegistrar reg_nadam(nadam_step_op, DeviceType::CUDA, &nadam_cuda, "cuda");
KernelRegistrar reg_radam(radam_step_op, DeviceType::CUDA, &radam_cuda, "cuda");
KernelRegistrar reg_adadelta(adadelta_step_op, DeviceType::CUDA, &adadelta_cuda, "cuda");
KernelRegistrar reg_rprop(rprop_step_op, DeviceType::CUDA, &rprop_cuda, "cuda");
KernelRegistrar reg_asgd(asgd_step_op, DeviceType::CUDA, &asgd_cuda, "cuda");

}  // namespace

}  // namespace dlcore::optim_cuda
