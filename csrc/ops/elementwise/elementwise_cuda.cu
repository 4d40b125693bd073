// CUDA launchers of the elementwise family and their registration for DeviceType::CUDA: copy (with casts, strides,
// broadcasting, and host<->device transfers), fill, where, binary and unary ops.
#include <cstring>

#include "core/core_ops.h"
#include "ops/elementwise/elementwise_kernels.cuh"

namespace dlcore::ew_cuda {

namespace {

template <class D, class... Ss>
void add_copy_row(CopyTable& t) {
  ((t.copy[(int)dtype_of<D>::value][(int)dtype_of<Ss>::value] = &copy_launch<D, Ss>), ...);
}
template <class... Ts>
void add_copy_all(CopyTable& t) {
  (add_copy_row<Ts, Ts...>(t), ...);
  ((t.fill[(int)dtype_of<Ts>::value] = &fill_launch<Ts>), ...);
  ((t.where[(int)dtype_of<Ts>::value] = &where_launch<Ts>), ...);
}

}  // namespace

void fill_copy_table_main(CopyTable& t) { add_copy_all<bool, uint8_t, int8_t, int16_t, int32_t, int64_t, Half, BFloat16, float>(t); }

namespace {

struct Tables {
  CopyTable copy;
  BinaryTable binary;
  UnaryTable unary;
  Tables() {
    fill_copy_table_main(copy);
    fill_copy_table_f64(copy);
    fill_binary_table_main(binary);
    fill_binary_table_f64(binary);
    fill_unary_table_main(unary);
    fill_unary_table_f64(unary);
  }
};
const Tables& tables() {
  static const Tables t;
  return t;
}

bool is_cpu_scalar(const Tensor& t) { return t.dim() == 0 && t.device().is_cpu(); }

// A copy of the host scalar's value in the kernel's dtype, as raw bytes.
struct ScalarBytes {
  alignas(8) unsigned char b[8] = {};
};
ScalarBytes scalar_bytes(const Tensor& t) {
  ScalarBytes s;
  if (is_cpu_scalar(t)) std::memcpy(s.b, t.raw_data(), t.itemsize());
  return s;
}

void device_copy(const Tensor& dst, const Tensor& src) {
  CopyLaunchFn* fn = tables().copy.copy[(int)dst.dtype()][(int)src.dtype()];
  DLCORE_CHECK(fn, TypeError, "copy: no cuda kernel for ", dtype_name(src.dtype()), " -> ", dtype_name(dst.dtype()));
  fn(make_iter({&dst, &src}));
}

// Whether t's elements are exactly its storage bytes from raw_data() on, in row-major order.
bool dense_rowmajor(const Tensor& t) { return t.is_contiguous(); }

void copy_cuda(const Tensor& dst, const Tensor& src) {
  bool dc = dst.device().is_cuda(), sc = src.device().is_cuda();
  if (dc && sc) {
    if (dst.device() != src.device()) {  // between two devices: through the host
      copy_cuda(dst, src.to(Device()));
      return;
    }
    if (dst.dtype() == src.dtype() && dense_rowmajor(dst) && dense_rowmajor(src)) {
      cuda::memcpy(dst.raw_data(), src.raw_data(), dst.nbytes(), cuda::CopyKind::DeviceToDevice);
      return;
    }
    device_copy(dst, src);
    return;
  }
  if (dc) {  // host -> device: make the host side a dense copy of dst's dtype, transfer, scatter on the device
    Tensor h = src;
    if (h.dtype() != dst.dtype() || !dense_rowmajor(h)) {
      h = Tensor::empty(dst.shape(), dst.dtype(), Device());
      h.copy_from(src);
    }
    if (dense_rowmajor(dst)) {
      cuda::memcpy(dst.raw_data(), h.raw_data(), dst.nbytes(), cuda::CopyKind::HostToDevice);
    } else {
      Tensor d = Tensor::empty(dst.shape(), dst.dtype(), dst.device());
      cuda::memcpy(d.raw_data(), h.raw_data(), d.nbytes(), cuda::CopyKind::HostToDevice);
      device_copy(dst, d);
    }
    return;
  }
  // device -> host: a dense device copy of src, transfer, then cast/scatter on the host
  Tensor s = dense_rowmajor(src) ? src : src.contiguous();
  if (dst.dtype() == s.dtype() && dense_rowmajor(dst)) {
    cuda::memcpy(dst.raw_data(), s.raw_data(), dst.nbytes(), cuda::CopyKind::DeviceToHost);
    return;
  }
  Tensor h = Tensor::empty(s.shape(), s.dtype(), Device());
  cuda::memcpy(h.raw_data(), s.raw_data(), h.nbytes(), cuda::CopyKind::DeviceToHost);
  const_cast<Tensor&>(dst).copy_from(h);
}

void fill_cuda(const Tensor& dst, double value) {
  FillLaunchFn* fn = tables().copy.fill[(int)dst.dtype()];
  DLCORE_CHECK(fn, TypeError, "fill: no cuda kernel for ", dtype_name(dst.dtype()));
  fn(make_iter({&dst}), value);
}

void where_cuda(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b) {
  WhereLaunchFn* fn = tables().copy.where[(int)out.dtype()];
  DLCORE_CHECK(fn, TypeError, "where: no cuda kernel for ", dtype_name(out.dtype()));
  Tensor c = is_cpu_scalar(cond) ? cond.to(out.device()).expand(out.shape()) : cond;
  int mask = (is_cpu_scalar(a) ? 1 : 0) | (is_cpu_scalar(b) ? 2 : 0);
  ScalarBytes sa = scalar_bytes(a), sb = scalar_bytes(b);
  fn(make_iter({&out, &c, &a, &b}), sa.b, sb.b, mask);
}

void binary_cuda(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  BinaryLaunchFn* fn = tables().binary.fn[(int)op][(int)a.dtype()];
  DLCORE_CHECK(fn, TypeError, binary_op_name(op), ": not supported for dtype ", dtype_name(a.dtype()), " on cuda");
  int mask = (is_cpu_scalar(a) ? 1 : 0) | (is_cpu_scalar(b) ? 2 : 0);
  ScalarBytes sa = scalar_bytes(a), sb = scalar_bytes(b);
  bool int_div = binary_is_int_div(op) && !is_floating(a.dtype());
  Tensor flag;
  int* div0 = nullptr;
  if (int_div) {
    flag = Tensor::zeros(IntList{1}, DType::Int32, out.device());
    div0 = flag.data<int32_t>();
  }
  fn(make_iter({&out, &a, &b}), sa.b, sb.b, mask, div0);
  if (int_div) {
    int32_t h = 0;
    cuda::memcpy(&h, div0, sizeof h, cuda::CopyKind::DeviceToHost);
    if (h) set_int_div_by_zero_flag();
  }
}

void unary_cuda(UnaryOp op, const Tensor& out, const Tensor& x, const UnaryParams& p) {
  UnaryLaunchFn* fn = tables().unary.fn[(int)op][(int)x.dtype()];
  DLCORE_CHECK(fn, TypeError, unary_op_name(op), ": not supported for dtype ", dtype_name(x.dtype()), " on cuda");
  Tensor xx = is_cpu_scalar(x) ? x.to(out.device()) : x;
  fn(make_iter({&out, &xx}), p);
}

KernelRegistrar reg_copy(copy_op, DeviceType::CUDA, &copy_cuda, "cuda");
KernelRegistrar reg_fill(fill_op, DeviceType::CUDA, &fill_cuda, "cuda");
KernelRegistrar reg_where(where_op, DeviceType::CUDA, &where_cuda, "cuda");
KernelRegistrar reg_binary(binary_op, DeviceType::CUDA, &binary_cuda, "cuda");
KernelRegistrar reg_unary(unary_op, DeviceType::CUDA, &unary_cuda, "cuda");

}  // namespace

}  // namespace dlcore::ew_cuda
