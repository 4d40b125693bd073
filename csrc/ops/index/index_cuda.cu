// CUDA gather_by_offset / scatter_by_offset, index_offsets and nonzero: registration for DeviceType::CUDA (kernels in
// index_kernels.cuh). index_offsets() (index_cpu.cpp) computes and bounds-checks the offsets here, on the device.
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
      case DType::Int8: return scatter_add_launch<int8_t>(it);
      case DType::Int16: return scatter_add_launch<int16_t>(it);
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

// index_offsets on the device (contract in index.h): one fault word (8 bytes) returns to the host, and on a fault
// the offending entry (8 more).
IndexFault index_offsets_cuda(const Tensor& off, const std::vector<Tensor>& idx, const std::vector<int64_t>& sizes,
                              const std::vector<int64_t>& strides, bool allow_negative) {
  const int64_t n = off.numel();
  IndexFault f;
  if (n == 0) return f;
  DLCORE_CHECK(idx.size() <= (std::size_t)kMaxDims, ValueError, "index_offsets(): at most ", kMaxDims,
               " index tensors, got ", idx.size());
  std::vector<Tensor> c(idx.size());
  IdxOffArgs a{};
  a.K = (int)idx.size();
  for (int k = 0; k < a.K; ++k) {
    c[k] = idx[k].contiguous();
    a.p[k] = c[k].data<int64_t>();
    a.size[k] = sizes[k];
    a.stride[k] = strides[k];
  }
  const unsigned long long none = ~0ull;
  Tensor fw = Tensor::empty(IntList{1}, DType::Int64, off.device());
  fw.fill(-1);  // (all bits set: "none")
  unsigned long long* fault = reinterpret_cast<unsigned long long*>(fw.data<int64_t>());
  unsigned grid = cuda::blocks_for(n, ew_cuda::kThreads);
  auto* k = allow_negative ? &index_offsets_kernel<true> : &index_offsets_kernel<false>;
  DLCORE_LAUNCH(k, grid, ew_cuda::kThreads, 0, cuda::current_stream())(a, n, off.data<int64_t>(), fault);
  unsigned long long got = none;
  cuda::memcpy(&got, fault, sizeof got, cuda::CopyKind::DeviceToHost);
  if (got != none) {
    f.k = (int64_t)(got / (unsigned long long)n);
    f.i = (int64_t)(got % (unsigned long long)n);
    cuda::memcpy(&f.value, a.p[f.k] + f.i, sizeof f.value, cuda::CopyKind::DeviceToHost);
  }
  return f;
}

// nonzero (contract in index.h): flags as uint8 (x != 0, by the device cast to bool), count per chunk, offsets on
// the device, the count read back (the output's size), then the coordinates written.
Tensor nonzero_cuda(const Tensor& x) {
  DLCORE_CHECK(x.dim() <= kMaxDims, ValueError, "nonzero(): at most ", kMaxDims, " dimensions, got ", x.dim());
  const int nd = x.dim();
  const int64_t n = x.numel();
  if (n == 0) return Tensor::empty(IntList{0, (int64_t)nd}, DType::Int64, x.device());
  Tensor flags = x.to(DType::Bool).contiguous();
  const uint8_t* f = reinterpret_cast<const uint8_t*>(flags.raw_data());
  const int threads = kNonzeroThreads;
  // at least kNonzeroTiles tiles of `threads` flags per block (fewer offsets to scan; the write walks its tiles)
  const int nb = (int)cuda::blocks_for(n, threads * kNonzeroTiles, kNonzeroMaxBlocks);
  const int64_t chunk = (n + nb - 1) / nb;
  Tensor cnt = Tensor::empty(IntList{(int64_t)nb + 1}, DType::Int64, x.device());
  long long* c = reinterpret_cast<long long*>(cnt.data<int64_t>());
  auto* kc = &nonzero_count_kernel<kNonzeroThreads>;
  DLCORE_LAUNCH(kc, nb, threads, 0, cuda::current_stream())(f, n, chunk, c);
  auto* ks = &nonzero_scan_kernel<1>;
  DLCORE_LAUNCH(ks, 1, 1, 0, cuda::current_stream())(c, nb);
  long long total = 0;
  cuda::memcpy(&total, c + nb, sizeof total, cuda::CopyKind::DeviceToHost);
  Tensor out = Tensor::empty(IntList{(int64_t)total, (int64_t)nd}, DType::Int64, x.device());
  if (total == 0 || nd == 0) return out;
  NzShape sh{};
  sh.nd = nd;
  for (int d = 0; d < nd; ++d) sh.size[d] = x.size(d);
  auto* kw = &nonzero_write_kernel<kNonzeroThreads>;
  DLCORE_LAUNCH(kw, nb, threads, 0, cuda::current_stream())(f, n, chunk, c, sh, out.data<int64_t>());
  return out;
}

KernelRegistrar reg_io(index_offsets_op, DeviceType::CUDA, &index_offsets_cuda, "cuda");
KernelRegistrar reg_nz(nonzero_op, DeviceType::CUDA, &nonzero_cuda, "cuda");
KernelRegistrar reg_g(gather_by_offset_op, DeviceType::CUDA, &gather_by_offset_cuda, "cuda");
KernelRegistrar reg_s(scatter_by_offset_op, DeviceType::CUDA, &scatter_by_offset_cuda, "cuda");

}  // namespace

}  // namespace dlcore::index_cuda
