// Test and benchmark hooks of the GEMM (raw kernel access; user code goes through dlcore.matmul / linear):
//   _C._gemm(a, b, c=None, alpha=1, beta=0, bias=None, bias_kind="none", relu=False, isa=None,
//            pack_a=-1, pack_b=-1, split=-1, threads=0, blocks=None) -> c
//       c = alpha * a @ b + beta * c, then + bias (bias_kind "row": bias[M], "col": bias[N]) and ReLU, on 2-D
//       strided CPU tensors a [M, K], b [K, N], c [M, N] (written in place; a new tensor when None, then beta
//       must be 0). isa pins the microkernel ("scalar", "avx2", "avx512"; clamped to what the CPU has); pack_a /
//       pack_b (0/1), split (0 none, 1 M, 2 N, 3 K) and threads force the planner's choices (-1/0: automatic);
//       blocks = (kc, mc, nc) overrides the core's cache block sizes (mc, nc rounded up to MR, NR).
//   _C._gemm_blocking(isa, dtype) -> {"MR", "NR", "KC", "MC", "NC"}   that microkernel's block sizes on this core
//   _C._batched_gemm(out, a, b, bias=None, alpha=1, beta=0, bias_kind="none", relu=False) -> out
//       the registered batched_gemm_op of the tensors' device (cpu or cuda) on 3-D a [B, M, K], b [B, K, N],
//       out [B, M, N] (any strides, batch stride 0 broadcasts a or b; out written in place).
//   CUDA builds: _C._gemm_cuda_set_allow_tf32(bool) / _gemm_cuda_get_allow_tf32()  (dlcore.backends.cuda.matmul.
//       allow_tf32); _C._gemm_cuda_set_variant(name) / _gemm_cuda_get_variant() force the float32 kernel
//       ("auto", "simt128", "simt64", "tf32"); _C._gemm_cuda_pick(M, N, K, batch) -> the heuristic's name.
#include "bindings/binder.h"
#include "bindings/py_tensor.h"
#include "core/cpu_features.h"
#include "ops/gemm/gemm_bf16.h"
#include "ops/gemm/gemm_kernel.h"
#if defined(DLCORE_WITH_CUDA)
#include "ops/gemm/gemm_cuda.h"
#endif

namespace dlcore {

namespace {

BiasKind parse_bias_kind(const std::string& s) {
  if (s == "none") return BiasKind::None;
  if (s == "row") return BiasKind::PerRow;
  if (s == "col") return BiasKind::PerCol;
  DLCORE_THROW(ValueError, "_gemm(): bias_kind must be 'none', 'row' or 'col', got '", s, "'");
}

py::object gemm_py(const PyTensor& pa, const PyTensor& pb, py::handle c_h, double alpha, double beta,
                   py::handle bias_h, const std::string& bias_kind, bool relu, py::handle isa_h, int pack_a,
                   int pack_b, int split, int threads, py::handle blocks_h) {
  const Tensor &a = pa.t, &b = pb.t;
  DLCORE_CHECK(a.dim() == 2 && b.dim() == 2, ValueError, "_gemm(): expected 2-D a and b, got ", a.describe(),
               " and ", b.describe());
  DLCORE_CHECK(a.dtype() == b.dtype() && (a.dtype() == DType::Float32 || a.dtype() == DType::Float64), TypeError,
               "_gemm(): expected float32 or float64 operands of one dtype, got ", a.describe(), " and ",
               b.describe());
  DLCORE_CHECK(a.device().type == DeviceType::CPU && b.device().type == DeviceType::CPU, RuntimeError,
               "_gemm(): CPU tensors only, got ", a.describe(), " and ", b.describe());
  const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  DLCORE_CHECK(b.size(0) == K, ValueError, "_gemm(): shapes ", a.shape().str(), " and ", b.shape().str(),
               " cannot be multiplied");
  DLCORE_CHECK(pack_a >= -1 && pack_a <= 1 && pack_b >= -1 && pack_b <= 1 && split >= -1 && split <= 3 &&
                   threads >= 0,
               ValueError, "_gemm(): pack_a/pack_b must be -1, 0 or 1, split -1..3, threads >= 0");
  py::object c_obj;
  Tensor c;
  if (c_h.is_none()) {
    DLCORE_CHECK(beta == 0.0, ValueError, "_gemm(): beta = ", beta, " needs an input c");
    c = Tensor::empty(IntList{M, N}, a.dtype(), a.device());
    c_obj = wrap(c);
  } else {
    c = as_tensor(c_h, "_gemm", "c");
    c_obj = py::reinterpret_borrow<py::object>(c_h);
    DLCORE_CHECK(c.dim() == 2 && c.size(0) == M && c.size(1) == N && c.dtype() == a.dtype() &&
                     c.device() == a.device(),
                 ValueError, "_gemm(): c must be ", dtype_name(a.dtype()), "[", M, ", ", N, "] on cpu, got ",
                 c.describe());
    DLCORE_CHECK((M <= 1 || c.stride(0) != 0) && (N <= 1 || c.stride(1) != 0), ValueError,
                 "_gemm(): c must not have zero (broadcast) strides");
  }
  BiasKind bk = parse_bias_kind(bias_kind);
  Tensor bias;
  if (bk != BiasKind::None) {
    DLCORE_CHECK(!bias_h.is_none(), ValueError, "_gemm(): bias_kind '", bias_kind, "' needs a bias");
    bias = as_tensor(bias_h, "_gemm", "bias").contiguous();
    int64_t want = bk == BiasKind::PerRow ? M : N;
    DLCORE_CHECK(bias.dim() == 1 && bias.size(0) == want && bias.dtype() == a.dtype(), ValueError,
                 "_gemm(): bias must be ", dtype_name(a.dtype()), "[", want, "], got ", bias.describe());
  }
  gemm_detail::GemmOptions opt;
  if (!isa_h.is_none()) opt.isa = (int)parse_isa(isa_h.cast<std::string>());
  opt.pack_a = pack_a;
  opt.pack_b = pack_b;
  opt.split = split;
  opt.threads = threads;
  if (!blocks_h.is_none()) {
    auto bl = blocks_h.cast<std::vector<int>>();
    DLCORE_CHECK(bl.size() == 3 && bl[0] > 0 && bl[1] > 0 && bl[2] > 0, ValueError,
                 "_gemm(): blocks must be three positive sizes (kc, mc, nc)");
    opt.kc = bl[0];
    opt.mc = bl[1];
    opt.nc = bl[2];
  }
  dispatch_float(a.dtype(), "_gemm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    GemmEpilogue<T> ep;
    ep.bias_kind = bk;
    ep.relu = relu;
    if (bk != BiasKind::None) ep.bias = bias.data<T>();
    gemm_detail::GemmCall<T> call{M, N, K, (T)alpha, a.data<T>(), a.stride(0), a.stride(1), b.data<T>(),
                                  b.stride(0), b.stride(1), (T)beta, c.data<T>(), c.stride(0), c.stride(1), ep, opt};
    py::gil_scoped_release nogil;
    gemm_detail::gemm_call<T>(call);
  });
  ++c.storage()->version;
  return c_obj;
}

py::object batched_gemm_py(py::handle out_h, const PyTensor& pa, const PyTensor& pb, py::handle bias_h, double alpha,
                           double beta, const std::string& bias_kind, bool relu) {
  const Tensor& out = as_tensor(out_h, "_batched_gemm", "out");
  const Tensor &a = pa.t, &b = pb.t;
  DLCORE_CHECK(out.dim() == 3 && a.dim() == 3 && b.dim() == 3, ValueError,
               "_batched_gemm(): expected 3-D out, a and b, got ", out.describe(), ", ", a.describe(), ", ",
               b.describe());
  const int64_t B = out.size(0), M = out.size(1), N = out.size(2), K = a.size(2);
  DLCORE_CHECK(a.size(0) == B && a.size(1) == M && b.size(0) == B && b.size(1) == K && b.size(2) == N, ValueError,
               "_batched_gemm(): shapes out ", out.shape().str(), ", a ", a.shape().str(), ", b ", b.shape().str(),
               " do not match [B, M, N], [B, M, K], [B, K, N]");
  DLCORE_CHECK(a.dtype() == out.dtype() && b.dtype() == out.dtype() && a.device() == out.device() &&
                   b.device() == out.device(),
               TypeError, "_batched_gemm(): out, a and b need one dtype and device, got ", out.describe(), ", ",
               a.describe(), ", ", b.describe());
  DLCORE_CHECK((M <= 1 || out.stride(1) != 0) && (N <= 1 || out.stride(2) != 0) && (B <= 1 || out.stride(0) != 0),
               ValueError, "_batched_gemm(): out must not have zero (broadcast) strides");
  BiasKind bk = parse_bias_kind(bias_kind);
  Tensor bias;
  if (bk != BiasKind::None) {
    DLCORE_CHECK(!bias_h.is_none(), ValueError, "_batched_gemm(): bias_kind '", bias_kind, "' needs a bias");
    bias = as_tensor(bias_h, "_batched_gemm", "bias");
    int64_t want = bk == BiasKind::PerRow ? M : N;
    DLCORE_CHECK(bias.dim() == 1 && bias.size(0) == want && bias.dtype() == out.dtype() &&
                     bias.device() == out.device(),
                 ValueError, "_batched_gemm(): bias must be ", dtype_name(out.dtype()), "[", want, "] on ",
                 out.device().str(), ", got ", bias.describe());
  }
  GemmArgs args;
  args.alpha = alpha;
  args.beta = beta;
  args.bias_kind = bk;
  args.relu = relu;
  if (out.numel() > 0) {
    py::gil_scoped_release nogil;
    batched_gemm_op.get(out.device().type)(out, a, b, bk != BiasKind::None ? &bias : nullptr, args);
  }
  ++out.storage()->version;
  return py::reinterpret_borrow<py::object>(out_h);
}

#if defined(DLCORE_WITH_CUDA)
GemmCudaVariant parse_variant(const std::string& s) {
  if (s == "auto") return GemmCudaVariant::Auto;
  if (s == "simt128") return GemmCudaVariant::Simt128;
  if (s == "simt64") return GemmCudaVariant::Simt64;
  if (s == "tf32") return GemmCudaVariant::Tf32;
  DLCORE_THROW(ValueError, "_gemm_cuda_set_variant(): expected 'auto', 'simt128', 'simt64' or 'tf32', got '", s,
               "'");
}
const char* variant_name(GemmCudaVariant v) {
  switch (v) {
    case GemmCudaVariant::Simt128: return "simt128";
    case GemmCudaVariant::Simt64: return "simt64";
    case GemmCudaVariant::Tf32: return "tf32";
    default: return "auto";
  }
}
#endif

void bind_gemm(py::module_& m) {
  m.def("_batched_gemm", &batched_gemm_py, py::arg("out"), py::arg("a"), py::arg("b"), py::arg("bias") = py::none(),
        py::arg("alpha") = 1.0, py::arg("beta") = 0.0, py::arg("bias_kind") = "none", py::arg("relu") = false);
  // whether bfloat16 matmul on the CPU runs the AVX512-BF16 kernel now (else: float32 copies, dlcore/_lowp.py)
  m.def("_gemm_bf16_available", &gemm_bf16::available);
#if defined(DLCORE_WITH_CUDA)
  m.def("_gemm_cuda_set_allow_tf32", &gemm_cuda_set_allow_tf32);
  m.def("_gemm_cuda_get_allow_tf32", &gemm_cuda_allow_tf32);
  m.def("_gemm_cuda_set_variant", [](const std::string& s) { gemm_cuda_set_variant(parse_variant(s)); });
  m.def("_gemm_cuda_get_variant", []() { return std::string(variant_name(gemm_cuda_variant())); });
  m.def("_gemm_cuda_pick", [](int64_t M, int64_t N, int64_t K, int64_t batch) {
    return std::string(variant_name(gemm_cuda_pick(M, N, K, batch)));
  });
#endif
  m.def("_gemm", &gemm_py, py::arg("a"), py::arg("b"), py::arg("c") = py::none(), py::arg("alpha") = 1.0,
        py::arg("beta") = 0.0, py::arg("bias") = py::none(), py::arg("bias_kind") = "none", py::arg("relu") = false,
        py::arg("isa") = py::none(), py::arg("pack_a") = -1, py::arg("pack_b") = -1, py::arg("split") = -1,
        py::arg("threads") = 0, py::arg("blocks") = py::none());
  m.def("_gemm_blocking", [](const std::string& isa, py::handle dtype) {
    DType dt = to_dtype(dtype, "_gemm_blocking");
    DLCORE_CHECK(dt == DType::Float32 || dt == DType::Float64, TypeError,
                 "_gemm_blocking(): float32 or float64, got ", dtype_name(dt));
    gemm_detail::GemmBlocking bl = gemm_detail::gemm_blocking(parse_isa(isa), dt == DType::Float64);
    py::dict d;
    d["MR"] = bl.MR;
    d["NR"] = bl.NR;
    d["KC"] = bl.KC;
    d["MC"] = bl.MC;
    d["NC"] = bl.NC;
    return d;
  });
}

BindingRegistrar reg("gemm", &bind_gemm);

}  // namespace

}  // namespace dlcore
