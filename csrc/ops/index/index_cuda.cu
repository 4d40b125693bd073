// CUDA gather_by_offset / scatter_by_offset: registration for DeviceType::CUDA (kernels in index_kernels.cuh). The
// offsets are computed and bounds-checked on the host by index_offsets() (index_cpu.cpp) before dispatch.
#include "ops/index/index_kernels.cuh"

namespace dlcore::index_cuda {

namespace {

void gather_by_offset_cuda(const Tensor& out, const Tensor& src, const Tensor& off) {
  DLCORE_CHECK(out.shape() == src.shape() && out.shape() == off.shape(), ValueError,
               "gather_by_offset(): shapes differ: ", out.shape().str(), ", ", src.shape().str(), ", ",
               off.shape().str());
  DLCORE_CHECK(out.dtype() == src.dtype(), TypeError, "gather_by_offset(): dtypes differ");
  ew_cuda::Iter it = ew_cuda::make_iter({&out, &src, &off});
  switch (out.itemsize()) {
    case 1: ew_cuda::launch_strided<3>(it, GatherF<uint8_t>{}); break;
    case 2: ew_cuda::launch_strided<3>(it, GatherF<uint16_t>{}); break;
    case 4: ew_cuda::launch_strided<3>(it, GatherF<uint32_t>{}); break;
    default: ew_cuda::launch_strided<3>(it, GatherF<uint64_t>{}); break;
  }
}

void scatter_by_offset_cuda(const Tensor& dst, const Tensor& off, const Tensor& values, bool accumulate) {
  DLCORE_CHECK(dst.shape() == off.shape() && dst.shape() == values.shape(), ValueError,
               "scatter_by_offset(): shapes differ: ", dst.shape().str(), ", ", off.shape().str(), ", ",
               values.shape().str());
  DLCORE_CHECK(dst.dtype() == values.dtype(), TypeError, "scatter_by_offset(): dtypes differ");
  ew_cuda::Iter it = ew_cuda::make_iter({&dst, &off, &values});
  if (accumulate) {
    switch (dst.dtype()) {
      case DType::Bool: return scatter_add_launch<bool>(it);
      case DType::UInt8: return scatter_add_launch<uint8_t>(it);
      case DType::Int32: return scatter_add_launch<int32_t>(it);
      case DType::Int64: return scatter_add_launch<int64_t>(it);
      case DType::Float16: return scatter_add_launch<Half>(it);
      case DType::BFloat16: return scatter_add_launch<BFloat16>(it);
      case DType::Float32: return scatter_add_launch<float>(it);
      case DType::Float64: return scatter_add_launch_f64(it);
      default: break;
    }
    DLCORE_THROW(TypeError, "scatter_add: not supported for dtype ", dtype_name(dst.dtype()), " on cuda");
  }
  switch (dst.itemsize()) {  // last write wins, as on the CPU (see index_kernels.cuh)
    case 1: scatter_last_launch<uint8_t>(it, dst); break;
    case 2: scatter_last_launch<uint16_t>(it, dst); break;
    case 4: scatter_last_launch<uint32_t>(it, dst); break;
    default: scatter_last_launch<uint64_t>(it, dst); break;
  }
}

KernelRegistrar reg_g(gather_by_offset_op, DeviceType::CUDA, &gather_by_offset_cuda, "cuda");
KernelRegistrar reg_s(scatter_by_offset_op, DeviceType::CUDA, &scatter_by_offset_cuda, "cuda");

}  // namespace

}  // namespace dlcore::index_cuda
