// The float64 instantiations of the CUDA recurrent layers (own file: the double-usage gate, see cuda/cuda_kernel.cuh).
#include "ops/recurrent/recurrent_kernels.cuh"

namespace dlcore::rnn_cuda {

void layer_forward_f64(RnnMode mode, const Tensor& x, const Tensor& h0, const Tensor& c0,
                       const std::vector<RnnWeights>& dirs, const Tensor& y, const Tensor& hn, const Tensor& cn,
                       std::vector<std::vector<Tensor>>& ws) {
  layer_forward<double>(mode, x, h0, c0, dirs, y, hn, cn, ws);
}

void layer_backward_f64(RnnMode mode, const Tensor& x, const Tensor& h0, const Tensor& c0,
                        const std::vector<RnnWeights>& dirs, const Tensor& y,
                        const std::vector<std::vector<Tensor>>& ws, const Tensor& dy, const Tensor& dhn,
                        const Tensor& dcn, const Tensor& dx, const Tensor& dh0, const Tensor& dc0,
                        const std::vector<RnnWeights>& grads) {
  layer_backward<double>(mode, x, h0, c0, dirs, y, ws, dy, dhn, dcn, dx, dh0, dc0, grads);
}

}  // namespace dlcore::rnn_cuda
