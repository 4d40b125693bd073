// CUDA reductions: dtype dispatch and registration for DeviceType::CUDA (kernels in reduce_kernels.cuh).
#include "ops/reduce/reduce_kernels.cuh"

namespace dlcore::reduce_cuda {

namespace {

void reduce_cuda(ReduceOp op, const Tensor& out, const Tensor& in, int64_t O, int64_t R, int64_t I) {
  if ((op == ReduceOp::ArgMax || op == ReduceOp::ArgMin) && R == 0)
    DLCORE_THROW(IndexError, reduce_op_name(op), ": cannot reduce over an empty dimension");
  switch (in.dtype()) {
    case DType::Bool: return reduce_launch<bool>(op, out, in, O, R, I);
    case DType::UInt8: return reduce_launch<uint8_t>(op, out, in, O, R, I);
    case DType::Int8: return reduce_launch<int8_t>(op, out, in, O, R, I);
    case DType::Int16: return reduce_launch<int16_t>(op, out, in, O, R, I);
    case DType::Int32: return reduce_launch<int32_t>(op, out, in, O, R, I);
    case DType::Int64: return reduce_launch<int64_t>(op, out, in, O, R, I);
    case DType::Float32: return reduce_launch<float>(op, out, in, O, R, I);
    case DType::Float64: return reduce_launch_f64(op, out, in, O, R, I);
    default: break;
  }
  DLCORE_THROW(TypeError, reduce_op_name(op), ": not supported for dtype ", dtype_name(in.dtype()),
               " on cuda (16-bit floats are cast to float32 first)");
}

KernelRegistrar reg_reduce(reduce_op, DeviceType::CUDA, &reduce_cuda, "cuda");

}  // namespace

}  // namespace dlcore::reduce_cuda
