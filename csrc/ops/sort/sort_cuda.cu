// CUDA sort and scans: launchers and registration for DeviceType::CUDA (kernels in sort_kernels.cuh; float64 in
// sort_f64_cuda.cu).
#include "ops/sort/sort_kernels.cuh"

namespace dlcore::sort_cuda {

void sort_launch_f64(const Tensor& values, const Tensor& indices, const Tensor& x, bool descending);
void scan_launch_f64(const Tensor& out, const Tensor& x, bool prod, bool reverse);

namespace {

void sort_cuda(const Tensor& values, const Tensor& indices, const Tensor& x, bool descending) {
  switch (x.dtype()) {
    case DType::Float32: return sort_launch<float>(values, indices, x, descending);
    case DType::Float64: return sort_launch_f64(values, indices, x, descending);
    case DType::Int32: return sort_launch<int32_t>(values, indices, x, descending);
    case DType::Int64: return sort_launch<int64_t>(values, indices, x, descending);
    case DType::UInt8: return sort_launch<uint8_t>(values, indices, x, descending);
    case DType::Int8: return sort_launch<int8_t>(values, indices, x, descending);
    case DType::Int16: return sort_launch<int16_t>(values, indices, x, descending);
    default: DLCORE_THROW(TypeError, "sort(): unsupported dtype ", dtype_name(x.dtype()), " on cuda");
  }
}

void scan_cuda(const Tensor& out, const Tensor& x, bool prod, bool reverse) {
  switch (x.dtype()) {
    case DType::Float32: return scan_launch<float>(out, x, prod, reverse);
    case DType::Float64: return scan_launch_f64(out, x, prod, reverse);
    case DType::Int64: return scan_launch<int64_t>(out, x, prod, reverse);
    default: DLCORE_THROW(TypeError, "cumsum(): unsupported dtype ", dtype_name(x.dtype()), " on cuda");
  }
}

KernelRegistrar r1(sort_op, DeviceType::CUDA, &sort_cuda, "cuda");
KernelRegistrar r2(scan_op, DeviceType::CUDA, &scan_cuda, "cuda");

}  // namespace

}  // namespace dlcore::sort_cuda
