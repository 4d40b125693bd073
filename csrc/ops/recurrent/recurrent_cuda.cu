// CUDA recurrent layers: dtype dispatch and registration of rnn_layer_forward / rnn_layer_backward for
// DeviceType::CUDA (kernels and sequence drivers in recurrent_kernels.cuh; float64 in recurrent_f64_cuda.cu).
// The bindings (recurrent_bind.cpp) validate every argument before dispatch, for both devices alike.
#include "ops/recurrent/recurrent_kernels.cuh"

namespace dlcore::rnn_cuda {

namespace {

void rnn_layer_forward_cuda(RnnMode mode, const Tensor& x, const Tensor& h0, const Tensor& c0,
                            const std::vector<RnnWeights>& dirs, const Tensor& y, const Tensor& hn, const Tensor& cn,
                            std::vector<std::vector<Tensor>>& ws, bool training) {
  (void)training;  // the workspace is always written, as on the CPU
  switch (x.dtype()) {
    case DType::Float32: return layer_forward<float>(mode, x, h0, c0, dirs, y, hn, cn, ws);
    case DType::Float64: return layer_forward_f64(mode, x, h0, c0, dirs, y, hn, cn, ws);
    default: break;
  }
  DLCORE_THROW(TypeError, "rnn_layer_forward: expected a float32 or float64 tensor, got ", dtype_name(x.dtype()));
}

void rnn_layer_backward_cuda(RnnMode mode, const Tensor& x, const Tensor& h0, const Tensor& c0,
                             const std::vector<RnnWeights>& dirs, const Tensor& y,
                             const std::vector<std::vector<Tensor>>& ws, const Tensor& dy, const Tensor& dhn,
                             const Tensor& dcn, const Tensor& dx, const Tensor& dh0, const Tensor& dc0,
                             const std::vector<RnnWeights>& grads) {
  switch (x.dtype()) {
    case DType::Float32:
      return layer_backward<float>(mode, x, h0, c0, dirs, y, ws, dy, dhn, dcn, dx, dh0, dc0, grads);
    case DType::Float64: return layer_backward_f64(mode, x, h0, c0, dirs, y, ws, dy, dhn, dcn, dx, dh0, dc0, grads);
    default: break;
  }
  DLCORE_THROW(TypeError, "rnn_layer_backward: expected a float32 or float64 tensor, got ", dtype_name(x.dtype()));
}

KernelRegistrar reg_fwd(rnn_layer_forward_op, DeviceType::CUDA, &rnn_layer_forward_cuda, "cuda");
KernelRegistrar reg_bwd(rnn_layer_backward_op, DeviceType::CUDA, &rnn_layer_backward_cuda, "cuda");

}  // namespace

}  // namespace dlcore::rnn_cuda
