#include <algorithm>

#include "ops/gemm/gemm.h"
#include "ops/gemm/gemm_bf16.h"
#include "ops/linalg/linalg.h"

namespace dlcore {

static void check_operands(const char* op, const Tensor& a, const Tensor& b) {
  DLCORE_CHECK(a.dtype() == b.dtype(), TypeError, op, ": expected both operands to have the same dtype, got ",
               dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  // float16/bfloat16: the CUDA GEMM (tensor cores, float32 accumulation), and bfloat16 on a CPU with AVX512-BF16
  // (gemm_bf16_avx512bf16.cpp). Elsewhere the TypeError sends Python's 16-bit route (dlcore/_lowp.py) to float32.
  const bool half_on_cuda = a.device().is_cuda() && (a.dtype() == DType::Float16 || a.dtype() == DType::BFloat16);
  const bool bf16_on_cpu = a.device().is_cpu() && a.dtype() == DType::BFloat16 && gemm_bf16::available();
  DLCORE_CHECK(a.dtype() == DType::Float32 || a.dtype() == DType::Float64 || half_on_cuda || bf16_on_cpu, TypeError,
               op, ": only float32 and float64 are supported (float16/bfloat16 on cuda, bfloat16 on a CPU with "
               "AVX512-BF16), got ", dtype_name(a.dtype()), " (cast with .float())");
  DLCORE_CHECK(a.device() == b.device(), RuntimeError, op, ": expected both operands on the same device, got ",
               a.device().str(), " and ", b.device().str());
}

// The 3-D [B, r, c] view of t expanded to batch shape `batch` (a copy only when the batch dims cannot be merged).
static Tensor as_batched(const Tensor& t, const IntList& batch, int64_t B) {
  IntList full = batch;
  full.push_back(t.size(t.dim() - 2));
  full.push_back(t.size(t.dim() - 1));
  Tensor e = t.expand(full);
  // Merge the batch dims when the strides allow (including all-zero broadcast strides).
  bool mergeable = true;
  for (int i = 0; i + 1 < batch.size(); ++i)
    if (e.stride(i) != e.stride(i + 1) * e.size(i + 1) && e.size(i) != 1 && e.size(i + 1) != 1) mergeable = false;
  if (mergeable) {
    int64_t bstride = 0;
    for (int i = batch.size() - 1; i >= 0; --i)
      if (e.size(i) != 1) {
        bstride = e.stride(i);
        break;
      }
    int n = e.dim();
    return e.as_strided(IntList{B, e.size(n - 2), e.size(n - 1)}, IntList{bstride, e.stride(n - 2), e.stride(n - 1)},
                        e.offset());
  }
  return e.contiguous().view(IntList{B, e.size(e.dim() - 2), e.size(e.dim() - 1)});
}

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  check_operands("matmul", a_in, b_in);
  DLCORE_CHECK(a_in.dim() >= 1 && b_in.dim() >= 1, ValueError,
               "matmul: both arguments need at least 1 dimension, got shapes ", a_in.shape().str(), " and ",
               b_in.shape().str());
  Tensor a = a_in.dim() == 1 ? a_in.unsqueeze(0) : a_in;
  Tensor b = b_in.dim() == 1 ? b_in.unsqueeze(1) : b_in;
  int64_t M = a.size(a.dim() - 2), K = a.size(a.dim() - 1), K2 = b.size(b.dim() - 2), N = b.size(b.dim() - 1);
  DLCORE_CHECK(K == K2, ValueError, "matmul: shapes ", a_in.shape().str(), " and ", b_in.shape().str(),
               " cannot be multiplied (", K, " != ", K2, ")");
  IntList ba(a.shape().data(), a.dim() - 2), bb(b.shape().data(), b.dim() - 2);
  IntList batch = broadcast_shapes(ba, bb, "matmul");
  int64_t B = numel_of(batch);
  IntList out_shape = batch;
  if (a_in.dim() > 1) out_shape.push_back(M);
  if (b_in.dim() > 1) out_shape.push_back(N);
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  if (out.numel() == 0) return out;
  Tensor o3 = out.view(IntList{B, M, N});
  if (K == 0) {
    out.fill(0.0);
    return out;
  }
  GemmArgs args;
  batched_gemm_op.get(a.device().type)(o3, as_batched(a, batch, B), as_batched(b, batch, B), nullptr, args);
  return out;
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor* bias, bool relu) {
  check_operands("linear", x, w);
  DLCORE_CHECK(w.dim() == 2, ValueError, "linear: weight must be 2-D [out_features, in_features], got shape ",
               w.shape().str());
  DLCORE_CHECK(x.dim() >= 1 && x.size(x.dim() - 1) == w.size(1), ValueError, "linear: input shape ",
               x.shape().str(), " does not match weight shape ", w.shape().str(), " (expected last dim ", w.size(1),
               ")");
  int64_t out_f = w.size(0), in_f = w.size(1);
  if (bias) {
    DLCORE_CHECK(bias->dim() == 1 && bias->size(0) == out_f, ValueError, "linear: bias shape ", bias->shape().str(),
                 " does not match out_features ", out_f);
    DLCORE_CHECK(bias->dtype() == x.dtype() && bias->device() == x.device(), TypeError,
                 "linear: bias must have the input's dtype and device (", x.describe(), "), got ", bias->describe());
  }
  IntList out_shape = x.shape();
  out_shape[out_shape.size() - 1] = out_f;
  int64_t rows = x.numel() / std::max<int64_t>(in_f, 1);
  if (in_f == 0) rows = numel_of(IntList(x.shape().data(), x.dim() - 1));
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  if (out.numel() == 0) return out;
  Tensor x2 = x.reshape(IntList{rows, in_f});
  Tensor o3 = out.view(IntList{1, rows, out_f});
  Tensor a3 = x2.unsqueeze(0);
  Tensor b3 = w.transpose(0, 1).unsqueeze(0);  // [1, in, out] as strides: no copy
  GemmArgs args;
  args.relu = relu;
  if (bias) args.bias_kind = BiasKind::PerCol;
  if (in_f == 0) {
    out.fill(0.0);
    if (bias) out.copy_from(*bias);
    return out;
  }
  batched_gemm_op.get(x.device().type)(o3, a3, b3, bias, args);
  return out;
}

Tensor addmm(const Tensor& c, const Tensor& a, const Tensor& b, double beta, double alpha) {
  check_operands("addmm", a, b);
  DLCORE_CHECK(a.dim() == 2 && b.dim() == 2, ValueError, "addmm: expected 2-D matrices, got ", a.shape().str(),
               " and ", b.shape().str());
  DLCORE_CHECK(a.size(1) == b.size(0), ValueError, "addmm: shapes ", a.shape().str(), " and ", b.shape().str(),
               " cannot be multiplied");
  Tensor out = Tensor::empty(IntList{a.size(0), b.size(1)}, a.dtype(), a.device());
  out.copy_from(c.to(a.dtype()));
  if (out.numel() == 0) return out;
  GemmArgs args;
  args.alpha = alpha;
  args.beta = beta;
  batched_gemm_op.get(a.device().type)(out.unsqueeze(0), a.unsqueeze(0), b.unsqueeze(0), nullptr, args);
  return out;
}

}  // namespace dlcore
